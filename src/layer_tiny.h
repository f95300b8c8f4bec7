/*
 * The tiny path of a dense layer (layer.c explains the two paths): one fused
 * loop nest per pass, for layers where passes, calls and loop set-ups cost
 * more than the arithmetic. The loops are compiled once for each input width
 * n_in of 1 to 4, so the innermost loops become straight-line code, and
 * those that apply g or g' once for each activation.
 *
 * A header of inline functions because it has two users: network.c inlines
 * the kernels into its loops over the layers, so that a tiny network's step
 * (an XOR net trained one sample at a time) makes no call per layer and pass
 * (87 fewer instructions of 1,137 per step, 7-9% less time), and
 * layer_tiny.c exports them as mlp_dense_*_tiny for the tests and the
 * benchmark's sweeps, which run them beside the general path. Both copies
 * are the same source compiled with the same flags.
 */
#ifndef MLP_LAYER_TINY_H
#define MLP_LAYER_TINY_H

#include "internal.h"

/* Z = A_prev W^T + 1 b^T and A = g(Z), one entry at a time. */
static inline void tiny_forward_k(float *restrict Z, float *restrict A,
                                  const float *restrict A_prev, const float *restrict W,
                                  const float *restrict b, size_t m, size_t K,
                                  size_t n_out, mlp_activation act)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n_out; j++) {
            const float *a = A_prev + i * K, *w = W + j * K;
            float sum = 0.0f;
            for (size_t k = 0; k < K; k++)
                sum += a[k] * w[k];
            float z = sum + b[j];
            Z[i * n_out + j] = z;
            A[i * n_out + j] = mlp_activation_value(act, z);
        }
}

/* The forward kernel compiled for input widths 1 to 4, act as given. */
static MLP_ALWAYS_INLINE void tiny_forward_width(float *Z, float *A, const float *A_prev,
                                                 const float *W, const float *b, size_t m,
                                                 size_t n_in, size_t n_out,
                                                 mlp_activation act)
{
    switch (n_in) {
    case 1:
        tiny_forward_k(Z, A, A_prev, W, b, m, 1, n_out, act);
        break;
    case 2:
        tiny_forward_k(Z, A, A_prev, W, b, m, 2, n_out, act);
        break;
    case 3:
        tiny_forward_k(Z, A, A_prev, W, b, m, 3, n_out, act);
        break;
    case 4:
        tiny_forward_k(Z, A, A_prev, W, b, m, 4, n_out, act);
        break;
    default:
        tiny_forward_k(Z, A, A_prev, W, b, m, n_in, n_out, act);
        break;
    }
}

/* Z = A_prev W^T + 1 b^T, A = g(Z): the kernel compiled once per
 * activation as well, so no copy decides g per entry. */
static MLP_ALWAYS_INLINE void mlp_tiny_forward(float *Z, float *A, const float *A_prev,
                                               const float *W, const float *b, size_t m,
                                               size_t n_in, size_t n_out,
                                               mlp_activation act)
{
    switch (act) {
    case MLP_SIGMOID:
        tiny_forward_width(Z, A, A_prev, W, b, m, n_in, n_out, MLP_SIGMOID);
        break;
    case MLP_TANH:
        tiny_forward_width(Z, A, A_prev, W, b, m, n_in, n_out, MLP_TANH);
        break;
    case MLP_RELU:
        tiny_forward_width(Z, A, A_prev, W, b, m, n_in, n_out, MLP_RELU);
        break;
    case MLP_LEAKY_RELU:
        tiny_forward_width(Z, A, A_prev, W, b, m, n_in, n_out, MLP_LEAKY_RELU);
        break;
    case MLP_IDENTITY:
    case MLP_SOFTMAX: /* never here: softmax takes the general path */
        tiny_forward_width(Z, A, A_prev, W, b, m, n_in, n_out, MLP_IDENTITY);
        break;
    }
}

/* dW = delta^T A_prev, row after row of the batch, the first row writing
 * it. */
static inline void tiny_backward_params_k(float *restrict dW, const float *restrict delta,
                                          const float *restrict A_prev, size_t m,
                                          size_t K, size_t n_out)
{
    for (size_t j = 0; j < n_out; j++)
        for (size_t k = 0; k < K; k++)
            dW[j * K + k] = delta[j] * A_prev[k];
    for (size_t i = 1; i < m; i++)
        for (size_t j = 0; j < n_out; j++) {
            const float d = delta[i * n_out + j];
            for (size_t k = 0; k < K; k++)
                dW[j * K + k] += d * A_prev[i * K + k];
        }
}

/* dW = delta^T A_prev, compiled for input widths 1 to 4. */
static MLP_ALWAYS_INLINE void mlp_tiny_backward_params(float *dW, const float *delta,
                                                       const float *A_prev, size_t m,
                                                       size_t n_in, size_t n_out)
{
    switch (n_in) {
    case 1:
        tiny_backward_params_k(dW, delta, A_prev, m, 1, n_out);
        break;
    case 2:
        tiny_backward_params_k(dW, delta, A_prev, m, 2, n_out);
        break;
    case 3:
        tiny_backward_params_k(dW, delta, A_prev, m, 3, n_out);
        break;
    case 4:
        tiny_backward_params_k(dW, delta, A_prev, m, 4, n_out);
        break;
    default:
        tiny_backward_params_k(dW, delta, A_prev, m, n_in, n_out);
        break;
    }
}

/* One row of delta_prev = (delta W) (.) g'(Z_prev): the sum over j of
 * d(j) times row j of W, the first term writing it. */
static inline void tiny_input_row(float *restrict c, const float *restrict d,
                                  const float *restrict W, const float *restrict z_prev,
                                  const float *restrict a_prev, mlp_activation act_prev,
                                  size_t K, size_t n_out)
{
    for (size_t k = 0; k < K; k++)
        c[k] = d[0] * W[k];
    for (size_t j = 1; j < n_out; j++)
        for (size_t k = 0; k < K; k++)
            c[k] += d[j] * W[j * K + k];
    for (size_t k = 0; k < K; k++)
        c[k] = mlp_activation_backprop(act_prev, z_prev[k], a_prev[k], c[k]);
}

/* delta_prev row by row, and db_prev = its column sums as each row is
 * made, the first row writing them. */
static inline void
tiny_backward_input_k(float *restrict delta_prev, float *restrict db_prev,
                      const float *restrict delta, const float *restrict W,
                      const float *restrict Z_prev, const float *restrict A_prev,
                      mlp_activation act_prev, size_t m, size_t K, size_t n_out)
{
    tiny_input_row(delta_prev, delta, W, Z_prev, A_prev, act_prev, K, n_out);
    for (size_t k = 0; k < K; k++)
        db_prev[k] = delta_prev[k];
    for (size_t i = 1; i < m; i++) {
        float *c = delta_prev + i * K;
        tiny_input_row(c, delta + i * n_out, W, Z_prev + i * K, A_prev + i * K, act_prev,
                       K, n_out);
        for (size_t k = 0; k < K; k++)
            db_prev[k] += c[k];
    }
}

/* The input-delta kernel compiled for input widths 1 to 4. */
static MLP_ALWAYS_INLINE void
tiny_backward_input_width(float *delta_prev, float *db_prev, const float *delta,
                          const float *W, const float *Z_prev, const float *A_prev,
                          mlp_activation act_prev, size_t m, size_t n_in, size_t n_out)
{
    switch (n_in) {
    case 1:
        tiny_backward_input_k(delta_prev, db_prev, delta, W, Z_prev, A_prev, act_prev, m,
                              1, n_out);
        break;
    case 2:
        tiny_backward_input_k(delta_prev, db_prev, delta, W, Z_prev, A_prev, act_prev, m,
                              2, n_out);
        break;
    case 3:
        tiny_backward_input_k(delta_prev, db_prev, delta, W, Z_prev, A_prev, act_prev, m,
                              3, n_out);
        break;
    case 4:
        tiny_backward_input_k(delta_prev, db_prev, delta, W, Z_prev, A_prev, act_prev, m,
                              4, n_out);
        break;
    default:
        tiny_backward_input_k(delta_prev, db_prev, delta, W, Z_prev, A_prev, act_prev, m,
                              n_in, n_out);
        break;
    }
}

/* delta_prev = (delta W) (.) g'(Z_prev) and db_prev, compiled once per
 * activation of the previous layer as well. */
static MLP_ALWAYS_INLINE void
mlp_tiny_backward_input(float *delta_prev, float *db_prev, const float *delta,
                        const float *W, const float *Z_prev, const float *A_prev,
                        mlp_activation act_prev, size_t m, size_t n_in, size_t n_out)
{
    switch (act_prev) {
    case MLP_SIGMOID:
        tiny_backward_input_width(delta_prev, db_prev, delta, W, Z_prev, A_prev,
                                  MLP_SIGMOID, m, n_in, n_out);
        break;
    case MLP_TANH:
        tiny_backward_input_width(delta_prev, db_prev, delta, W, Z_prev, A_prev, MLP_TANH,
                                  m, n_in, n_out);
        break;
    case MLP_RELU:
        tiny_backward_input_width(delta_prev, db_prev, delta, W, Z_prev, A_prev, MLP_RELU,
                                  m, n_in, n_out);
        break;
    case MLP_LEAKY_RELU:
        tiny_backward_input_width(delta_prev, db_prev, delta, W, Z_prev, A_prev,
                                  MLP_LEAKY_RELU, m, n_in, n_out);
        break;
    case MLP_IDENTITY:
    case MLP_SOFTMAX: /* never a hidden layer */
        tiny_backward_input_width(delta_prev, db_prev, delta, W, Z_prev, A_prev,
                                  MLP_IDENTITY, m, n_in, n_out);
        break;
    }
}

#endif
