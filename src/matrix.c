/*
 * The matrix core: every matrix product in libmlp goes through mlp_gemm, a
 * row-major wrapper that sends small products to plain loops and the rest to
 * cblas_sgemm.
 */
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>

/* Products of at most this many multiply-adds (M * N * K) run as plain
 * loops. One cblas_sgemm call costs 80-150 ns before it computes anything
 * (argument checks, a mutex, a buffer from its pool); the loops, compiled for
 * plain x86-64 (SSE2), beat it up to about 8 x 8 x 8 and lose 1.3-2x by
 * 10 x 10 x 10 on the benchmark machine (AMD EPYC Zen 3, OpenBLAS 0.3.21),
 * measured with `mlp_bench --gemm-sweep` (bench/README.md). Batch-1 products
 * (M or K of 1) stay faster as loops well beyond this, but one simple limit
 * is kept. */
static const size_t small_gemm_limit = 512;

size_t mlp_gemm_max_dim(void)
{
    return (size_t)INT_MAX;
}

size_t mlp_gemm_small_limit(void)
{
    return small_gemm_limit;
}

/* alpha s + beta c, not reading c when beta is 0 (BLAS semantics: whatever
 * C held, NaN included, is ignored). */
static float combine(float alpha, float sum, float beta, float c)
{
    return beta == 0.0f ? alpha * sum : alpha * sum + beta * c;
}

/* C = alpha A B^T + beta C: each entry is a dot product of two contiguous
 * rows, A M x K and B N x K. Four columns at a time give four independent
 * sums, each still added in the order k = 0..K-1. */
static void small_nt(size_t M, size_t N, size_t K, float alpha, const float *restrict A,
                     const float *restrict B, float beta, float *restrict C)
{
    for (size_t i = 0; i < M; i++) {
        const float *a = A + i * K;
        float *c = C + i * N;
        size_t j = 0;
        for (; j + 4 <= N; j += 4) {
            const float *b = B + j * K;
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            for (size_t k = 0; k < K; k++) {
                s0 += a[k] * b[k];
                s1 += a[k] * b[K + k];
                s2 += a[k] * b[2 * K + k];
                s3 += a[k] * b[3 * K + k];
            }
            c[j] = combine(alpha, s0, beta, c[j]);
            c[j + 1] = combine(alpha, s1, beta, c[j + 1]);
            c[j + 2] = combine(alpha, s2, beta, c[j + 2]);
            c[j + 3] = combine(alpha, s3, beta, c[j + 3]);
        }
        for (; j < N; j++) {
            const float *b = B + j * K;
            float sum = 0.0f;
            for (size_t k = 0; k < K; k++)
                sum += a[k] * b[k];
            c[j] = combine(alpha, sum, beta, c[j]);
        }
    }
}

/* C <- beta C, with beta 0 writing zeros without reading C (BLAS semantics:
 * whatever C held, NaN included, is ignored). */
static void scale_c(size_t count, float beta, float *restrict C)
{
    if (beta == 1.0f)
        return;
    for (size_t k = 0; k < count; k++)
        C[k] = beta == 0.0f ? 0.0f : beta * C[k];
}

/* C += alpha op(A) B as K rank-one updates, so the inner loop runs along
 * contiguous rows of B and C. op(A)(i, k) is A[i * K + k] (A is M x K) or,
 * transposed, A[k * M + i] (A is K x M). */
static void small_xn(bool trans_A, size_t M, size_t N, size_t K, float alpha,
                     const float *restrict A, const float *restrict B, float beta,
                     float *restrict C)
{
    scale_c(M * N, beta, C);
    for (size_t i = 0; i < M; i++) {
        float *c = C + i * N;
        for (size_t k = 0; k < K; k++) {
            const float a = alpha * (trans_A ? A[k * M + i] : A[i * K + k]);
            const float *b = B + k * N;
            for (size_t j = 0; j < N; j++)
                c[j] += a * b[j];
        }
    }
}

/* C = alpha A^T B^T + beta C, A K x M and B N x K; unused by the library's
 * layers, here so every case is covered. */
static void small_tt(size_t M, size_t N, size_t K, float alpha, const float *restrict A,
                     const float *restrict B, float beta, float *restrict C)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            float sum = 0.0f;
            for (size_t k = 0; k < K; k++)
                sum += A[k * M + i] * B[j * K + k];
            C[i * N + j] = combine(alpha, sum, beta, C[i * N + j]);
        }
}

void mlp_gemm_small(bool trans_A, bool trans_B, size_t M, size_t N, size_t K, float alpha,
                    const float *A, const float *B, float beta, float *C)
{
    if (!trans_B)
        small_xn(trans_A, M, N, K, alpha, A, B, beta, C);
    else if (!trans_A)
        small_nt(M, N, K, alpha, A, B, beta, C);
    else
        small_tt(M, N, K, alpha, A, B, beta, C);
}

void mlp_gemm_blas(bool trans_A, bool trans_B, size_t M, size_t N, size_t K, float alpha,
                   const float *A, const float *B, float beta, float *C)
{
    int lda = (int)(trans_A ? M : K);
    int ldb = (int)(trans_B ? K : N);
    cblas_sgemm(CblasRowMajor, trans_A ? CblasTrans : CblasNoTrans,
                trans_B ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A,
                lda, B, ldb, beta, C, (int)N);
}

/* Whether M * N * K is at most the small limit, without overflowing. */
static bool is_small(size_t M, size_t N, size_t K)
{
    size_t limit = small_gemm_limit;
    return M <= limit && N <= limit && K <= limit && M * N <= limit && M * N * K <= limit;
}

/* C = alpha op(A) op(B) + beta C with row-major, contiguous operands, so the
 * leading dimensions follow from the shapes and callers never pass them. */
void mlp_gemm(bool trans_A, bool trans_B, size_t M, size_t N, size_t K, float alpha,
              const float *A, const float *B, float beta, float *C)
{
    if (is_small(M, N, K))
        mlp_gemm_small(trans_A, trans_B, M, N, K, alpha, A, B, beta, C);
    else
        mlp_gemm_blas(trans_A, trans_B, M, N, K, alpha, A, B, beta, C);
}

mlp_status mlp_set_threads(size_t n)
{
    if (n == 0)
        return MLP_ERR_ARG;
    openblas_set_num_threads(n > (size_t)INT_MAX ? INT_MAX : (int)n);
    return MLP_OK;
}

bool mlp_all_finite(const float *x, size_t count)
{
    for (size_t k = 0; k < count; k++)
        if (!isfinite(x[k]))
            return false;
    return true;
}

bool mlp_positive_finite(float x)
{
    return isfinite(x) && x > 0.0f;
}
