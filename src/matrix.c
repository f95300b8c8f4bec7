/*
 * The matrix core: every matrix product in libmlp goes through mlp_gemm, a
 * row-major wrapper around cblas_sgemm.
 */
#include "internal.h"

#include <cblas.h>
#include <limits.h>

size_t mlp_gemm_max_dim(void)
{
    return (size_t)INT_MAX;
}

/* C = alpha op(A) op(B) + beta C with row-major, contiguous operands, so the
 * leading dimensions follow from the shapes and callers never pass them. */
void mlp_gemm(bool trans_A, bool trans_B, size_t M, size_t N, size_t K, float alpha,
              const float *A, const float *B, float beta, float *C)
{
    int lda = (int)(trans_A ? M : K);
    int ldb = (int)(trans_B ? K : N);
    cblas_sgemm(CblasRowMajor, trans_A ? CblasTrans : CblasNoTrans,
                trans_B ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, lda, B,
                ldb, beta, C, (int)N);
}

mlp_status mlp_set_threads(size_t n)
{
    if (n == 0)
        return MLP_ERR_ARG;
    openblas_set_num_threads(n > (size_t)INT_MAX ? INT_MAX : (int)n);
    return MLP_OK;
}
