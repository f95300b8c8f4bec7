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
 * benchmark machine (AMD EPYC Zen 3, OpenBLAS 0.3.21; bench/README.md). C = A B
 * is the product OpenBLAS starts fastest, so its loops stop earliest. */
static size_t loop_limit(mlp_product op)
{
    switch (op) {
    case MLP_AB_T:
        return 256;
    case MLP_A_TB:
        return 512;
    case MLP_AB:
        return 64;
    }
    return 0;
}

size_t mlp_matmul_loop_limit(mlp_product op)
{
    return loop_limit(op);
}

/* C = A B^T: each entry is the dot product of two contiguous rows, summed in
 * the order k = 0..K-1. */
static void loops_ab_t(size_t M, size_t N, size_t K, const float *restrict A,
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

/* C = A^T B as K rank-one updates, one per row k of A and B, so the inner
 * loop runs along contiguous rows of B and C. The first update writes C, so
 * nothing needs zeroing first. */
static void loops_a_tb(size_t M, size_t N, size_t K, const float *restrict A,
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

/* C = A B row by row: row i of C is the sum over k of A(i, k) times row k of
 * B, the first term writing it. */
static void loops_ab(size_t M, size_t N, size_t K, const float *restrict A,
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

/* Whether M * N * K is at most the limit, without overflowing: each factor
 * is checked first, so the product stays below 2^27. */
static bool is_small(size_t M, size_t N, size_t K, size_t limit)
{
    return M <= limit && N <= limit && K <= limit && M * N * K <= limit;
}

void mlp_matmul(mlp_product op, size_t M, size_t N, size_t K, const float *A,
                const float *B, float *C)
{
    if (is_small(M, N, K, loop_limit(op)))
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
