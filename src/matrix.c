/*
 * The matrix core: every matrix product in libmlp goes through mlp_matmul,
 * which computes one of the three products a dense layer needs on row-major
 * matrices and sends small ones to plain loops, those with a vector operand
 * or a few rows (a batch of a few samples, a layer of one output) to
 * matrix-vector code, the rest to cblas_sgemm.
 */
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

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

/* Rows of C per cblas_sgemm call for A^T B, the product that makes dW.
 * OpenBLAS packs a K x (rows of C) panel of it into a buffer whose pages
 * stay resident for the life of the process: for dW, K is the batch and the
 * rows are the layer's outputs, so at a batch of 256 a 1024-unit layer
 * packs 1 MiB there, more than any other product of the step. Blocks of
 * 384 rows hold that panel to 384 KiB, and the large benchmark peaks about
 * 0.6 MiB lower at no measurable cost in time (bench/README.md, Memory).
 * 384 = 2^7 x 3 is a multiple of the 12 columns of the micro-kernel that
 * OpenBLAS runs on the benchmark machine (blocks of 12, 24, 48 or 192 rows
 * give one call's bits; 8, 16, 128 or 256 do not) and of every power of
 * two up to 128, so with one OpenBLAS thread each entry is the same
 * products summed in the same order, the bits of one call. With more
 * threads the bits already depend on how OpenBLAS splits each call, which
 * depends on its shape and on the thread count; there blocks move the last
 * bits as threads do. */
static const size_t gemm_block_rows = 384;

/* C = op(A) op(B) by cblas_sgemm, rows i0 to i0 + rows - 1 of C. */
static void gemm_rows(mlp_product op, size_t i0, size_t rows, size_t M, size_t N,
                      size_t K, const float *A, const float *B, float *C)
{
    bool trans_A = op == MLP_A_TB, trans_B = op == MLP_AB_T;
    int lda = (int)(trans_A ? M : K);
    int ldb = (int)(trans_B ? K : N);
    const float *A_rows = trans_A ? A + i0 : A + i0 * K;
    cblas_sgemm(CblasRowMajor, trans_A ? CblasTrans : CblasNoTrans,
                trans_B ? CblasTrans : CblasNoTrans, (int)rows, (int)N, (int)K, 1.0f,
                A_rows, lda, B, ldb, 0.0f, C + i0 * N, (int)N);
}

void mlp_matmul_blas(mlp_product op, size_t M, size_t N, size_t K, const float *A,
                     const float *B, float *C)
{
    size_t block = op == MLP_A_TB ? gemm_block_rows : M;
    for (size_t i0 = 0; i0 < M; i0 += block)
        gemm_rows(op, i0, M - i0 < block ? M - i0 : block, M, N, K, A, B, C);
}

/* C = a b^T, a column of M times a row of N: what every product is when
 * K = 1 (then A and B are each one contiguous vector, whichever product).
 * Each entry is one rounded product, the bits cblas_sgemm gives; the loop
 * writes C once, where cblas_sgemm zeroes it and packs both vectors
 * first. */
static MLP_VECTOR_CLONES void outer_product(size_t M, size_t N, const float *restrict a,
                                            const float *restrict b, float *restrict C)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++)
            C[i * N + j] = a[i] * b[j];
}

/* The matrix-vector products are the library's own loops, not
 * cblas_sgemv: OpenBLAS spreads a large sgemv over its threads, and with
 * two threads the other core then holds half of W, so the optimizer's
 * writes to W that follow wait for that core's copies to be invalidated.
 * One sample per step on the large benchmark network took 1.8-2.2 ms with
 * two OpenBLAS threads against 0.9-1.2 ms with one (bench/README.md, "One
 * sample per step with two threads"); these loops run on the calling
 * thread alone. */

/* Eight floats as one value (the vector extension of GCC and clang): the
 * loops below keep them in one 256-bit register in the AVX2 and AVX-512
 * copies and in two SSE registers in the baseline copy, and add and
 * multiply lane by lane, so every copy computes the same sums in the same
 * order. */
typedef float lanes8 __attribute__((vector_size(32)));
typedef float lanes4 __attribute__((vector_size(16)));

/* The sum of the eight lanes, in a fixed order: lane l + lane l + 4, then
 * (0 + 2) + (1 + 3) of those. */
static MLP_ALWAYS_INLINE float lane_sum(const lanes8 *v)
{
    lanes4 low, high;
    memcpy(&low, v, sizeof low);
    memcpy(&high, (const char *)v + sizeof low, sizeof high);
    lanes4 q = low + high;
    return (q[0] + q[2]) + (q[1] + q[3]);
}

/* Rows of y = X x: each dot product of a row of X with x is summed in
 * eight lanes (entry k in lane k mod 8, each lane in order of k), then by
 * lane_sum, then the last cols mod 8 entries in order. R rows at once (1 or
 * 4, constant once inlined) keep R sums in flight and load each piece of x
 * once for all R. */
static MLP_ALWAYS_INLINE void dot_rows(size_t R, size_t cols, const float *restrict X,
                                       const float *restrict x, float *restrict y)
{
    lanes8 acc[4] = {{0.0f}};
    size_t k = 0;
    for (; cols - k >= 8; k += 8) {
        lanes8 xk, Xk;
        memcpy(&xk, x + k, sizeof xk);
        for (size_t r = 0; r < R; r++) {
            memcpy(&Xk, X + r * cols + k, sizeof Xk);
            acc[r] += Xk * xk;
        }
    }
    for (size_t r = 0; r < R; r++) {
        float sum = lane_sum(&acc[r]);
        for (size_t t = k; t < cols; t++)
            sum += X[r * cols + t] * x[t];
        y[r] = sum;
    }
}

/* y = X x for X rows x cols (row-major): four rows of X at a time, then
 * the rest one by one, with the same bits either way. As fast as
 * OpenBLAS's single-threaded sgemv on the benchmark's layers, up to 1.7x
 * as fast on small ones (bench/README.md). */
static MLP_VECTOR_CLONES void matvec(size_t rows, size_t cols, const float *restrict X,
                                     const float *restrict x, float *restrict y)
{
    size_t i = 0;
    for (; rows - i >= 4; i += 4)
        dot_rows(4, cols, X + i * cols, x, y + i);
    for (; i < rows; i++)
        dot_rows(1, cols, X + i * cols, x, y + i);
}

/* y = X^T x for X rows x cols (row-major): the sum over r of x(r) times
 * row r of X, in order of r, the first row writing y, as the plain loops
 * sum A B (so a product gives the same bits on either side of the loops'
 * limit); four rows per pass over y add their terms in the same order as
 * one row per pass would. */
static MLP_VECTOR_CLONES void matvec_t(size_t rows, size_t cols, const float *restrict X,
                                       const float *restrict x, float *restrict y)
{
    for (size_t c = 0; c < cols; c++)
        y[c] = x[0] * X[c];
    size_t r = 1;
    for (; rows - r >= 4; r += 4) {
        const float *X0 = X + r * cols;
        for (size_t c = 0; c < cols; c++) {
            float sum = y[c];
            sum += x[r] * X0[c];
            sum += x[r + 1] * X0[cols + c];
            sum += x[r + 2] * X0[2 * cols + c];
            sum += x[r + 3] * X0[3 * cols + c];
            y[c] = sum;
        }
    }
    for (; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            y[c] += x[r] * X[r * cols + c];
}

/* Up to this depth K, A^T B (dW at a batch of two to four samples) takes
 * a_tb_shallow below rather than cblas_sgemm: one pass that writes C,
 * where cblas_sgemm zeroes C and packs both operands first, 1.1-2x as fast
 * on the benchmark's layers with one thread (`mlp_bench --gemm-sweep`),
 * and on the calling thread, so that with two OpenBLAS threads dW is not
 * left half in the other core's cache for the optimizer to fetch (the
 * matrix-vector loops above say why that matters). From depth 5 the sum
 * over k no longer fits that one pass as well, and cblas_sgemm is ahead. */
enum { shallow_depth = 4 };

/* C = A^T B for K = 2 to shallow_depth: row i of C is A(0, i) B_0 + ... +
 * A(K-1, i) B_(K-1), the rows of B added in order, in one pass over C. The
 * plain loops add them in the same order, so the two give the same bits. */
static inline void a_tb_shallow_k(size_t M, size_t N, size_t K, const float *restrict A,
                                  const float *restrict B, float *restrict C)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            float sum = A[i] * B[j];
            for (size_t k = 1; k < K; k++)
                sum += A[k * M + i] * B[k * N + j];
            C[i * N + j] = sum;
        }
}

/* a_tb_shallow_k compiled with K constant, so that the sum over k unrolls
 * and the loop along a row of C vectorizes. */
static MLP_VECTOR_CLONES void a_tb_shallow(size_t M, size_t N, size_t K,
                                           const float *restrict A,
                                           const float *restrict B, float *restrict C)
{
    _Static_assert(shallow_depth == 4, "a_tb_shallow is compiled for K = 2 to 4");
    switch (K) {
    case 2:
        a_tb_shallow_k(M, N, 2, A, B, C);
        break;
    case 3:
        a_tb_shallow_k(M, N, 3, A, B, C);
        break;
    default:
        a_tb_shallow_k(M, N, shallow_depth, A, B, C);
        break;
    }
}

/* The products with a vector operand, or a few of them: K = 1 is an outer
 * product, N = 1 makes C one column (one matrix-vector product), A^T B of
 * depth 2 to 4 is a_tb_shallow, and otherwise each row of C is one:
 * c_i = B a_i for A B^T, B^T a_i for A B, which needs A's rows contiguous
 * (A^T B only when M = 1). Every vector read is contiguous: A and B are
 * vectors when K = 1, B's one column when N = 1. */
void mlp_matmul_vector(mlp_product op, size_t M, size_t N, size_t K, const float *A,
                       const float *B, float *C)
{
    if (K == 1) {
        outer_product(M, N, A, B, C);
        return;
    }
    if (N == 1) {
        /* A^T b for A^T B, whose A is K x M; A b for the others */
        if (op == MLP_A_TB)
            matvec_t(K, M, A, B, C);
        else
            matvec(M, K, A, B, C);
        return;
    }
    if (op == MLP_A_TB && M > 1) {
        a_tb_shallow(M, N, K, A, B, C);
        return;
    }
    for (size_t i = 0; i < M; i++) {
        if (op == MLP_AB_T)
            matvec(N, K, B, A + i * K, C + i * N);   /* c_i = B a_i */
        else                                         /* A B, or A^T B with M = 1 */
            matvec_t(K, N, B, A + i * K, C + i * N); /* c_i = B^T a_i */
    }
}

bool mlp_matmul_vector_fits(mlp_product op, size_t M, size_t N, size_t K)
{
    return K == 1 || N == 1 || op != MLP_A_TB || M == 1 || K <= shallow_depth;
}

/* Up to how many rows of C the matrix-vector path beats cblas_sgemm,
 * which packs B before it multiplies: one matrix-vector product per row
 * reads B once a row, and from four rows (A B) or eight (A B^T) the
 * packing pays for itself on the benchmark's layers (`mlp_bench
 * --gemm-sweep`, bench/README.md). A^T B's rows are not contiguous in A. */
static size_t vector_rows(mlp_product op)
{
    switch (op) {
    case MLP_AB_T:
        return 7;
    case MLP_AB:
        return 3;
    case MLP_A_TB:
        return 1;
    }
    return 0;
}

/* Whether M * N * K is at most the product's limit, without overflowing:
 * the factors and M * N are checked first, so no product exceeds 2^28. */
static bool within_loop_limit(mlp_product op, size_t M, size_t N, size_t K)
{
    const size_t limit = loop_limit(op, K);
    return M <= limit && N <= limit && K <= limit && M * N <= limit && M * N * K <= limit;
}

/* A product with a vector operand is one pass over its matrix, which
 * cblas_sgemm makes two or three (it zeroes C and packs the matrix before
 * it multiplies: 2-7x the time of the matrix-vector path at a batch of one
 * sample on the benchmark's layers, bench/README.md), and a few rows are
 * still cheaper as one such pass each. Small products stay in the loops,
 * whose limits were measured against cblas_sgemm. */
mlp_matmul_path mlp_matmul_choose(mlp_product op, size_t M, size_t N, size_t K)
{
    if (within_loop_limit(op, M, N, K))
        return MLP_PATH_LOOPS;
    if (K == 1 || N == 1 || M <= vector_rows(op) ||
        (op == MLP_A_TB && K <= shallow_depth))
        return MLP_PATH_VECTOR;
    return MLP_PATH_GEMM;
}

void mlp_matmul(mlp_product op, size_t M, size_t N, size_t K, const float *A,
                const float *B, float *C)
{
    switch (mlp_matmul_choose(op, M, N, K)) {
    case MLP_PATH_LOOPS:
        mlp_matmul_loops(op, M, N, K, A, B, C);
        break;
    case MLP_PATH_VECTOR:
        mlp_matmul_vector(op, M, N, K, A, B, C);
        break;
    case MLP_PATH_GEMM:
        mlp_matmul_blas(op, M, N, K, A, B, C);
        break;
    }
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

/* Compiled for each vector width, as every batch's check reads its input
 * through it. */
static MLP_VECTOR_CLONES float max_abs(const float *x, size_t count)
{
    return mlp_max_abs_loop(x, count);
}

/* A few values, such as one sample's inputs, are read here: the call
 * through the clones' dispatch would cost a one-sample xor step 1-2 ns. */
float mlp_max_abs(const float *x, size_t count)
{
    return count <= 16 ? mlp_max_abs_loop(x, count) : max_abs(x, count);
}

bool mlp_positive_finite(float x)
{
    return isfinite(x) && x > 0.0f;
}
