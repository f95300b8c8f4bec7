/*
 * One dense layer's forward and backward pass in the batch layout of
 * SPEC.md. Every buffer is an argument, as in llm.c, so each function reads
 * like the line of math it implements.
 */
#include "internal.h"

void mlp_dense_forward(float *Z, float *A, const float *A_prev, const float *W,
                       const float *b, size_t m, size_t n_in, size_t n_out,
                       mlp_activation act)
{
    /* Z = A_prev W^T: (m x n_in)(n_in x n_out) */
    mlp_matmul(MLP_AB_T, m, n_out, n_in, A_prev, W, Z);
    /* Z += 1 b^T and A = g(Z) in the same pass */
    mlp_activation_forward(act, b, Z, A, m, n_out);
}

void mlp_dense_backward_params(float *dW, float *db, const float *delta,
                               const float *A_prev, size_t m, size_t n_in, size_t n_out)
{
    /* dW = delta^T A_prev: (n_out x m)(m x n_in) */
    mlp_matmul(MLP_A_TB, n_out, n_in, m, delta, A_prev, dW);
    /* db = column sums of delta, started from the first row (m >= 1) rather
     * than from zeros: one pass fewer, the same sums */
    const float *restrict d = delta;
    float *restrict acc = db;
    for (size_t j = 0; j < n_out; j++)
        acc[j] = d[j];
    for (size_t i = 1; i < m; i++)
        for (size_t j = 0; j < n_out; j++)
            acc[j] += d[i * n_out + j];
}

void mlp_dense_backward_input(float *delta_prev, const float *delta, const float *W,
                              const float *Z_prev, const float *A_prev,
                              mlp_activation act_prev, size_t m, size_t n_in,
                              size_t n_out)
{
    /* delta_prev = delta W: (m x n_out)(n_out x n_in) */
    mlp_matmul(MLP_AB, m, n_in, n_out, delta, W, delta_prev);
    /* (.) g'(Z_prev) */
    mlp_activation_backward(act_prev, Z_prev, A_prev, delta_prev, m, n_in);
}
