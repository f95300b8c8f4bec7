/*
 * Activations g and their derivatives g', as in the table of SPEC.md. The
 * per-entry formulas are mlp_activation_value and mlp_activation_backprop in
 * internal.h; here they are applied to whole batch matrices, each loop
 * compiled for one constant activation so that it vectorizes.
 */
#include "internal.h"

bool mlp_activation_valid(mlp_activation act)
{
    switch (act) {
    case MLP_IDENTITY:
    case MLP_SIGMOID:
    case MLP_TANH:
    case MLP_RELU:
    case MLP_LEAKY_RELU:
    case MLP_SOFTMAX:
        return true;
    }
    return false;
}

/* Softmax of one row, subtracting the row maximum so that no exponential
 * overflows. Every argument is then <= 0, the domain of the library's own
 * exponential, whose loop vectorizes where one of expf calls does not; it
 * gives exactly 1 at the maximum, as cross-entropy's loss needs (loss.c).
 * The sum stays in double, in order. */
static void softmax_row(const float *restrict z, float *restrict a, size_t n)
{
    float max = z[0];
    for (size_t j = 1; j < n; j++)
        max = z[j] > max ? z[j] : max;
    for (size_t j = 0; j < n; j++)
        a[j] = mlp_exp_nonpositive(z[j] - max);
    double sum = 0.0;
    for (size_t j = 0; j < n; j++)
        sum += a[j];
    float inv = (float)(1.0 / sum);
    for (size_t j = 0; j < n; j++)
        a[j] *= inv;
}

static void softmax_forward(const float *restrict b, float *restrict Z, float *restrict A,
                            size_t m, size_t n)
{
    for (size_t i = 0; i < m; i++) {
        float *z = Z + i * n;
        for (size_t j = 0; j < n; j++)
            z[j] += b[j];
        softmax_row(z, A + i * n, n);
    }
}

/* z <- z + b and a = g(z), row by row; inlined with a constant act. */
static inline void forward_rows(mlp_activation act, const float *restrict b,
                                float *restrict Z, float *restrict A, size_t m, size_t n)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float z = Z[i * n + j] + b[j];
            Z[i * n + j] = z;
            A[i * n + j] = mlp_activation_value(act, z);
        }
}

/* mlp_activation_forward for each vector width (MLP_VECTOR_CLONES: clones
 * are static, a wrapper exports them, as clang 14 links no other way). */
static MLP_VECTOR_CLONES void forward_pass(mlp_activation act, const float *b, float *Z,
                                           float *A, size_t m, size_t n)
{
    switch (act) {
    case MLP_IDENTITY:
        forward_rows(MLP_IDENTITY, b, Z, A, m, n);
        break;
    case MLP_SIGMOID:
        forward_rows(MLP_SIGMOID, b, Z, A, m, n);
        break;
    case MLP_TANH:
        forward_rows(MLP_TANH, b, Z, A, m, n);
        break;
    case MLP_RELU:
        forward_rows(MLP_RELU, b, Z, A, m, n);
        break;
    case MLP_LEAKY_RELU:
        forward_rows(MLP_LEAKY_RELU, b, Z, A, m, n);
        break;
    case MLP_SOFTMAX:
        softmax_forward(b, Z, A, m, n);
        break;
    }
}

/* delta <- delta (.) g'(Z) and db = the column sums of the result, row
 * after row (the first row writes db); inlined with a constant act. */
static inline void backward_rows(mlp_activation act, const float *restrict Z,
                                 const float *restrict A, float *restrict delta,
                                 float *restrict db, size_t m, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        delta[j] = mlp_activation_backprop(act, Z[j], A[j], delta[j]);
        db[j] = delta[j];
    }
    for (size_t i = 1; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            const size_t k = i * n + j;
            delta[k] = mlp_activation_backprop(act, Z[k], A[k], delta[k]);
            db[j] += delta[k];
        }
}

/* mlp_activation_backward for each vector width. */
static MLP_VECTOR_CLONES void backward_pass(mlp_activation act, const float *Z,
                                            const float *A, float *delta, float *db,
                                            size_t m, size_t n)
{
    switch (act) {
    case MLP_IDENTITY:
    case MLP_SOFTMAX: /* only reached fused with cross-entropy, never here */
        backward_rows(MLP_IDENTITY, Z, A, delta, db, m, n);
        break;
    case MLP_SIGMOID:
        backward_rows(MLP_SIGMOID, Z, A, delta, db, m, n);
        break;
    case MLP_TANH:
        backward_rows(MLP_TANH, Z, A, delta, db, m, n);
        break;
    case MLP_RELU:
        backward_rows(MLP_RELU, Z, A, delta, db, m, n);
        break;
    case MLP_LEAKY_RELU:
        backward_rows(MLP_LEAKY_RELU, Z, A, delta, db, m, n);
        break;
    }
}

void mlp_activation_forward(mlp_activation act, const float *b, float *Z, float *A,
                            size_t m, size_t n)
{
    forward_pass(act, b, Z, A, m, n);
}

void mlp_activation_backward(mlp_activation act, const float *Z, const float *A,
                             float *delta, float *db, size_t m, size_t n)
{
    backward_pass(act, Z, A, delta, db, m, n);
}
