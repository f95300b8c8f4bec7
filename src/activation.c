/*
 * Activations g and their derivatives g', as in the table of SPEC.md. Each
 * function is one pass over a batch matrix, with the switch outside the
 * loop so the loops vectorize.
 */
#include "internal.h"

#include <math.h>

static const float leaky_slope = 0.01f;

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

/* 1/(1+e^-z) written so that e^x never overflows: for z < 0 use
 * e^z/(1+e^z). */
static float sigmoid(float z)
{
    if (z >= 0.0f)
        return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

/* Softmax of one row, subtracting the row maximum so expf cannot overflow. */
static void softmax_row(const float *z, float *a, size_t n)
{
    float max = z[0];
    for (size_t j = 1; j < n; j++)
        max = z[j] > max ? z[j] : max;
    double sum = 0.0;
    for (size_t j = 0; j < n; j++) {
        a[j] = expf(z[j] - max);
        sum += a[j];
    }
    float inv = (float)(1.0 / sum);
    for (size_t j = 0; j < n; j++)
        a[j] *= inv;
}

/* Each forward kernel below adds the bias and applies g in one pass:
 * z <- z + b, a = g(z), row by row. */

static void identity_forward(const float *restrict b, float *restrict Z,
                             float *restrict A, size_t m, size_t n)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float z = Z[i * n + j] + b[j];
            Z[i * n + j] = z;
            A[i * n + j] = z;
        }
}

static void sigmoid_forward(const float *restrict b, float *restrict Z, float *restrict A,
                            size_t m, size_t n)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float z = Z[i * n + j] + b[j];
            Z[i * n + j] = z;
            A[i * n + j] = sigmoid(z);
        }
}

static void tanh_forward(const float *restrict b, float *restrict Z, float *restrict A,
                         size_t m, size_t n)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float z = Z[i * n + j] + b[j];
            Z[i * n + j] = z;
            A[i * n + j] = tanhf(z);
        }
}

static void relu_forward(const float *restrict b, float *restrict Z, float *restrict A,
                         size_t m, size_t n)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float z = Z[i * n + j] + b[j];
            Z[i * n + j] = z;
            A[i * n + j] = z > 0.0f ? z : 0.0f;
        }
}

static void leaky_relu_forward(const float *restrict b, float *restrict Z,
                               float *restrict A, size_t m, size_t n)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float z = Z[i * n + j] + b[j];
            Z[i * n + j] = z;
            A[i * n + j] = z > 0.0f ? z : leaky_slope * z;
        }
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

void mlp_activation_forward(mlp_activation act, const float *b, float *Z, float *A,
                            size_t m, size_t n)
{
    switch (act) {
    case MLP_IDENTITY:
        identity_forward(b, Z, A, m, n);
        break;
    case MLP_SIGMOID:
        sigmoid_forward(b, Z, A, m, n);
        break;
    case MLP_TANH:
        tanh_forward(b, Z, A, m, n);
        break;
    case MLP_RELU:
        relu_forward(b, Z, A, m, n);
        break;
    case MLP_LEAKY_RELU:
        leaky_relu_forward(b, Z, A, m, n);
        break;
    case MLP_SOFTMAX:
        softmax_forward(b, Z, A, m, n);
        break;
    }
}

void mlp_activation_backward(mlp_activation act, const float *Z, const float *A,
                             float *delta, size_t m, size_t n)
{
    size_t count = m * n;
    const float *restrict z = Z;
    const float *restrict a = A;
    float *restrict d = delta;
    switch (act) {
    case MLP_IDENTITY:
    case MLP_SOFTMAX: /* only reached fused with cross-entropy, never here */
        break;
    case MLP_SIGMOID:
        for (size_t k = 0; k < count; k++)
            d[k] *= a[k] * (1.0f - a[k]);
        break;
    case MLP_TANH:
        for (size_t k = 0; k < count; k++)
            d[k] *= 1.0f - a[k] * a[k];
        break;
    case MLP_RELU:
        for (size_t k = 0; k < count; k++)
            d[k] = z[k] > 0.0f ? d[k] : 0.0f;
        break;
    case MLP_LEAKY_RELU:
        for (size_t k = 0; k < count; k++)
            d[k] = z[k] > 0.0f ? d[k] : leaky_slope * d[k];
        break;
    }
}
