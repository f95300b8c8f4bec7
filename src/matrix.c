/*
 * The matrix core: every matrix product in libmlp goes through mlp_matmul,
 * which computes one of the three products a dense layer needs on row-major
 * matrices and sends small ones to plain loops, the rest to cblas_sgemm.
 */
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>

/* Products of at most this many multiply-adds (M * N * K) run as plain
 * loops, one limit per product. One cblas_sgemm call costs 30-150 ns before
 * it computes anything (argument checks, a mutex, a buffer from its pool);
 * the loops, compiled for plain x86-64 (SSE2), beat it up to the limits below
 * and lose beyond them, as measured with `mlp_bench --gemm-sweep` on the
 * benchmark machine (AMD EPYC, OpenBLAS 0.3.21; bench/README.md). C = A B is
 * the product OpenBLAS starts fastest, so its loops stop earliest. C = A B^T
 * with rows of one or two (the forward product of a layer with one or two
 * inputs) is mostly packing for BLAS, and its loops, compiled for those
 * widths, stay ahead far longer. */
static size_t loop_limit(mlp_product op, size_t K)
{
    switch (op) {
    case MLP_AB_T:
        return K <= 2 ? 4096 : 256;
    case MLP_A_TB:
        return 512;
    case MLP_AB:
        return 64;
    }
    return 0;
}

/* C = A B^T: each entry is the dot product of two contiguous rows, summed in
 * the order k = 0..K-1. */
static inline void loops_ab_t_k(size_t M, size_t N, size_t K, const float *restrict A,
                                const float *restrict B, float *restrict C)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            const float *a = A + i * K, *b = B + j * K;
            float sum = 0.0f;
            for (size_t k = 0; k < K; k++)
                sum += a[k] * b[k];
            C[i * N + j] = sum;
        }
}

/* loops_ab_t_k compiled with K constant for rows of 1 to 4 (the forward
 * product of a layer with that many inputs): a loop over so short a row
 * costs more than its arithmetic, 3-10x the time (bench/README.md). */
static void loops_ab_t(size_t M, size_t N, size_t K, const float *A, const float *B,
                       float *C)
{
    switch (K) {
    case 1:
        loops_ab_t_k(M, N, 1, A, B, C);
        break;
    case 2:
        loops_ab_t_k(M, N, 2, A, B, C);
        break;
    case 3:
        loops_ab_t_k(M, N, 3, A, B, C);
        break;
    case 4:
        loops_ab_t_k(M, N, 4, A, B, C);
        break;
    default:
        loops_ab_t_k(M, N, K, A, B, C);
        break;
    }
}

/* C = A^T B as K rank-one updates, one per row k of A and B, so the inner
 * loop runs along contiguous rows of B and C. The first update writes C, so
 * nothing needs zeroing first. */
static inline void loops_a_tb_n(size_t M, size_t N, size_t K, const float *restrict A,
                                const float *restrict B, float *restrict C)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++)
            C[i * N + j] = A[i] * B[j];
    for (size_t k = 1; k < K; k++)
        for (size_t i = 0; i < M; i++) {
            const float a = A[k * M + i];
            for (size_t j = 0; j < N; j++)
                C[i * N + j] += a * B[k * N + j];
        }
}

/* loops_a_tb_n compiled with N constant for rows of 1 to 4 (dW of a layer
 * with that many inputs), where the inner loop is too short to pay for. */
static void loops_a_tb(size_t M, size_t N, size_t K, const float *A, const float *B,
                       float *C)
{
    switch (N) {
    case 1:
        loops_a_tb_n(M, 1, K, A, B, C);
        break;
    case 2:
        loops_a_tb_n(M, 2, K, A, B, C);
        break;
    case 3:
        loops_a_tb_n(M, 3, K, A, B, C);
        break;
    case 4:
        loops_a_tb_n(M, 4, K, A, B, C);
        break;
    default:
        loops_a_tb_n(M, N, K, A, B, C);
        break;
    }
}

/* C = A B row by row: row i of C is the sum over k of A(i, k) times row k of
 * B, the first term writing it. */
static inline void loops_ab_n(size_t M, size_t N, size_t K, const float *restrict A,
                              const float *restrict B, float *restrict C)
{
    for (size_t i = 0; i < M; i++) {
        const float *a = A + i * K;
        float *c = C + i * N;
        for (size_t j = 0; j < N; j++)
            c[j] = a[0] * B[j];
        for (size_t k = 1; k < K; k++)
            for (size_t j = 0; j < N; j++)
                c[j] += a[k] * B[k * N + j];
    }
}

/* loops_ab_n compiled with N constant for rows of 1 to 4 (the backward
 * product into a layer with that many inputs). */
static void loops_ab(size_t M, size_t N, size_t K, const float *A, const float *B,
                     float *C)
{
    switch (N) {
    case 1:
        loops_ab_n(M, 1, K, A, B, C);
        break;
    case 2:
        loops_ab_n(M, 2, K, A, B, C);
        break;
    case 3:
        loops_ab_n(M, 3, K, A, B, C);
        break;
    case 4:
        loops_ab_n(M, 4, K, A, B, C);
        break;
    default:
        loops_ab_n(M, N, K, A, B, C);
        break;
    }
}

void mlp_matmul_loops(mlp_product op, size_t M, size_t N, size_t K, const float *A,
                      const float *B, float *C)
{
    switch (op) {
    case MLP_AB_T:
        loops_ab_t(M, N, K, A, B, C);
        break;
    case MLP_A_TB:
        loops_a_tb(M, N, K, A, B, C);
        break;
    case MLP_AB:
        loops_ab(M, N, K, A, B, C);
        break;
    }
}

void mlp_matmul_blas(mlp_product op, size_t M, size_t N, size_t K, const float *A,
                     const float *B, float *C)
{
    bool trans_A = op == MLP_A_TB, trans_B = op == MLP_AB_T;
    int lda = (int)(trans_A ? M : K);
    int ldb = (int)(trans_B ? K : N);
    cblas_sgemm(CblasRowMajor, trans_A ? CblasTrans : CblasNoTrans,
                trans_B ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, A, lda,
                B, ldb, 0.0f, C, (int)N);
}

/* Whether M * N * K is at most the product's limit, without overflowing:
 * the factors and M * N are checked first, so no product exceeds 2^28. */
bool mlp_matmul_uses_loops(mlp_product op, size_t M, size_t N, size_t K)
{
    const size_t limit = loop_limit(op, K);
    return M <= limit && N <= limit && K <= limit && M * N <= limit && M * N * K <= limit;
}

void mlp_matmul(mlp_product op, size_t M, size_t N, size_t K, const float *A,
                const float *B, float *C)
{
    if (mlp_matmul_uses_loops(op, M, N, K))
        mlp_matmul_loops(op, M, N, K, A, B, C);
    else
        mlp_matmul_blas(op, M, N, K, A, B, C);
}

mlp_status mlp_set_threads(size_t n)
{
    if (n == 0)
        return MLP_ERR_ARG;
    openblas_set_num_threads(n > (size_t)INT_MAX ? INT_MAX : (int)n);
    return MLP_OK;
}

/* Every batch is checked, so whole blocks are tested with no exit inside
 * one (their fixed-length loop vectorizes; a bad value still ends the scan
 * at the end of its block), and the rest, all of a small batch, one value
 * at a time. */
bool mlp_all_finite(const float *x, size_t count)
{
    enum { block = 256 };
    size_t k = 0;
    for (; count - k >= block; k += block) {
        int bad = 0;
        for (size_t j = 0; j < block; j++)
            bad |= mlp_not_finite(x[k + j]);
        if (bad)
            return false;
    }
    for (; k < count; k++)
        if (mlp_not_finite(x[k]))
            return false;
    return true;
}

bool mlp_positive_finite(float x)
{
    return isfinite(x) && x > 0.0f;
}
