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
 * than the arithmetic. Their loops are compiled once for each input width
 * n_in of 1 to 4, so the innermost loops become straight-line code, and
 * those that apply g or g' once for each activation.
 */
#include "internal.h"

/* ---- the tiny path: each kernel is inlined with K = n_in constant ---- */

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

/* Compiled once per activation as well, so no copy decides g per entry. */
void mlp_dense_forward_tiny(float *Z, float *A, const float *A_prev, const float *W,
                            const float *b, size_t m, size_t n_in, size_t n_out,
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

void mlp_dense_backward_params_tiny(float *dW, const float *delta, const float *A_prev,
                                    size_t m, size_t n_in, size_t n_out)
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
static inline void tiny_backward_input_width(float *delta_prev, float *db_prev,
                                             const float *delta, const float *W,
                                             const float *Z_prev, const float *A_prev,
                                             mlp_activation act_prev, size_t m,
                                             size_t n_in, size_t n_out)
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

/* Compiled once per activation of the previous layer as well. */
void mlp_dense_backward_input_tiny(float *delta_prev, float *db_prev, const float *delta,
                                   const float *W, const float *Z_prev,
                                   const float *A_prev, mlp_activation act_prev, size_t m,
                                   size_t n_in, size_t n_out)
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

/* ---- the other path: the matrix core, then one pass for b and g ---- */

void mlp_dense_forward_general(float *Z, float *A, const float *A_prev, const float *W,
                               const float *b, size_t m, size_t n_in, size_t n_out,
                               mlp_activation act)
{
    /* Z = A_prev W^T: (m x n_in)(n_in x n_out) */
    mlp_matmul(MLP_AB_T, m, n_out, n_in, A_prev, W, Z);
    /* Z += 1 b^T and A = g(Z) in the same pass */
    mlp_activation_forward(act, b, Z, A, m, n_out);
}

void mlp_dense_backward_params_general(float *dW, const float *delta, const float *A_prev,
                                       size_t m, size_t n_in, size_t n_out)
{
    /* dW = delta^T A_prev: (n_out x m)(m x n_in) */
    mlp_matmul(MLP_A_TB, n_out, n_in, m, delta, A_prev, dW);
}

void mlp_dense_backward_input_general(float *delta_prev, float *db_prev,
                                      const float *delta, const float *W,
                                      const float *Z_prev, const float *A_prev,
                                      mlp_activation act_prev, size_t m, size_t n_in,
                                      size_t n_out)
{
    /* delta_prev = delta W: (m x n_out)(n_out x n_in) */
    mlp_matmul(MLP_AB, m, n_in, n_out, delta, W, delta_prev);
    /* (.) g'(Z_prev), and db_prev = its column sums in the same pass */
    mlp_activation_backward(act_prev, Z_prev, A_prev, delta_prev, db_prev, m, n_in);
}
