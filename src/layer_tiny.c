/*
 * The tiny path of a dense layer (layer_tiny.h) as functions, for the tests,
 * which run it beside the general path on the same inputs, and for the
 * benchmark's --layer-sweep. The library itself does not call them:
 * network.c inlines the same kernels into its loops over the layers. In
 * their own object file, so that a program that does not call them does not
 * link their code (about 50 KB: each kernel compiled per input width and
 * activation).
 */
#include "internal.h"
#include "layer_tiny.h"

void mlp_dense_forward_tiny(float *Z, float *A, const float *A_prev, const float *W,
                            const float *b, size_t m, size_t n_in, size_t n_out,
                            mlp_activation act)
{
    mlp_tiny_forward(Z, A, A_prev, W, b, m, n_in, n_out, act);
}

void mlp_dense_backward_params_tiny(float *dW, const float *delta, const float *A_prev,
                                    size_t m, size_t n_in, size_t n_out)
{
    mlp_tiny_backward_params(dW, delta, A_prev, m, n_in, n_out);
}

void mlp_dense_backward_input_tiny(float *delta_prev, float *db_prev, const float *delta,
                                   const float *W, const float *Z_prev,
                                   const float *A_prev, mlp_activation act_prev, size_t m,
                                   size_t n_in, size_t n_out)
{
    mlp_tiny_backward_input(delta_prev, db_prev, delta, W, Z_prev, A_prev, act_prev, m,
                            n_in, n_out);
}
