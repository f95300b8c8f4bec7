/*
 * One dense layer's forward and backward pass in the batch layout of
 * SPEC.md. Every buffer is an argument, as in llm.c, so each function reads
 * like the line of math it implements.
 *
 * Two paths compute the same sums in the same order. Most layers take the
 * matrix core (mlp_matmul) and then one pass for the bias and g, or for g'
 * and db, the column sums of the delta that pass makes. Tiny layers,
 * such as those of an XOR net trained one sample at a time, do everything in
 * one loop nest instead: there the passes, calls and loop set-ups cost more
 * than the arithmetic (layer_tiny.h, which network.c inlines; layer_tiny.c
 * exports the same kernels for the tests and the benchmark).
 */
#include "internal.h"

/* ---- the general path: the matrix core, then one pass for b and g ---- */

float mlp_dense_forward_general(float *Z, float *A, const float *A_prev, const float *W,
                                const float *b, size_t m, size_t n_in, size_t n_out,
                                mlp_activation act)
{
    /* Z = A_prev W^T: (m x n_in)(n_in x n_out) */
    mlp_matmul(MLP_AB_T, m, n_out, n_in, A_prev, W, Z);
    /* Z += 1 b^T and A = g(Z) in the same pass */
    return mlp_activation_forward(act, b, Z, A, m, n_out);
}

void mlp_dense_backward_params_general(float *dW, const float *delta, const float *A_prev,
                                       size_t m, size_t n_in, size_t n_out)
{
    /* dW = delta^T A_prev: (n_out x m)(m x n_in) */
    mlp_matmul(MLP_A_TB, n_out, n_in, m, delta, A_prev, dW);
}

float mlp_dense_backward_input_general(float *delta_prev, float *db_prev,
                                       const float *delta, const float *W,
                                       const float *Z_prev, const float *A_prev,
                                       mlp_activation act_prev, size_t m, size_t n_in,
                                       size_t n_out)
{
    /* delta_prev = delta W: (m x n_out)(n_out x n_in) */
    mlp_matmul(MLP_AB, m, n_in, n_out, delta, W, delta_prev);
    /* (.) g'(Z_prev), and db_prev = its column sums in the same pass */
    return mlp_activation_backward(act_prev, Z_prev, A_prev, delta_prev, db_prev, m,
                                   n_in);
}
