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

/* z <- z + b for each row, and the row's largest z written over its
 * entries of A: the shift that softmax's exponential pass subtracts. */
static MLP_ALWAYS_INLINE void softmax_shift_rows(const float *restrict b,
                                                 float *restrict Z, float *restrict A,
                                                 size_t m, size_t n)
{
    for (size_t i = 0; i < m; i++) {
        float *z = Z + i * n, *a = A + i * n;
        for (size_t j = 0; j < n; j++)
            z[j] += b[j];
        float max = z[0];
        for (size_t j = 1; j < n; j++)
            max = z[j] > max ? z[j] : max;
        for (size_t j = 0; j < n; j++)
            a[j] = max;
    }
}

/* Each row of exponentials divided by its sum, summed in double, in order. */
static MLP_ALWAYS_INLINE void softmax_scale_rows(float *restrict A, size_t m, size_t n)
{
    for (size_t i = 0; i < m; i++) {
        float *a = A + i * n;
        double sum = 0.0;
        for (size_t j = 0; j < n; j++)
            sum += a[j];
        float inv = (float)(1.0 / sum);
        for (size_t j = 0; j < n; j++)
            a[j] *= inv;
    }
}

/* Softmax of each row, subtracting the row's maximum so that no
 * exponential overflows. Every argument is then <= 0, the domain of the
 * library's own exponential, which vectorizes where expf calls do not; it
 * gives exactly 1 at the maximum, as cross-entropy's loss needs (loss.c).
 * Output layers are often narrow (a few classes), where loops over one row
 * are mostly set-up: so the exponentials run as one pass over all m x n
 * entries, after each row's maximum has been written over its entries of
 * A as the shift that pass subtracts. Each row's sum stays in double, in
 * order. Rows of 2, 3 or 4 classes get their row loops compiled for that
 * width, where a run-time width of 3 is mostly loop set-up (1.05-1.1x on
 * such networks' steps, 17 KB of code). Returns the largest |a|, read as
 * forward_rows reads it. Inlined into each vector width's copy of the
 * forward pass. */
static MLP_ALWAYS_INLINE float softmax_forward(const float *restrict b, float *restrict Z,
                                               float *restrict A, size_t m, size_t n)
{
    if (n == 2)
        softmax_shift_rows(b, Z, A, m, 2);
    else if (n == 3)
        softmax_shift_rows(b, Z, A, m, 3);
    else if (n == 4)
        softmax_shift_rows(b, Z, A, m, 4);
    else
        softmax_shift_rows(b, Z, A, m, n);
    for (size_t k = 0; k < m * n; k++)
        A[k] = mlp_exp_nonpositive(Z[k] - A[k]);
    if (n == 2)
        softmax_scale_rows(A, m, 2);
    else if (n == 3)
        softmax_scale_rows(A, m, 3);
    else if (n == 4)
        softmax_scale_rows(A, m, 4);
    else
        softmax_scale_rows(A, m, n);
    return mlp_max_abs_loop(A, m * n);
}

/* z <- z + b and a = g(z), row by row, returning the largest |a|; inlined
 * with a constant act. The largest |a| is found by a read of A after the
 * pass, not in its loop: there, with rows of a few tens of entries, each
 * row would end in a reduction across the vector's lanes that costs more
 * than the row, and on wide rows the read costs no measurable time. */
static MLP_ALWAYS_INLINE float forward_rows(mlp_activation act, const float *restrict b,
                                            float *restrict Z, float *restrict A,
                                            size_t m, size_t n)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float z = Z[i * n + j] + b[j];
            Z[i * n + j] = z;
            A[i * n + j] = mlp_activation_value(act, z);
        }
    return mlp_max_abs_loop(A, m * n);
}

/* forward_rows, with n = 1 a constant where the layer has one output and
 * 16 rows or more: the loop down the column then runs in vectors, where a
 * loop per one-entry row runs g one row at a time (a column of 256: sigmoid
 * 1,140 ns against 125, identity 285 against 38). Below 16 rows (one
 * AVX-512 vector of floats) whole training steps measured 1-5% slower with
 * it, though the pass alone was faster, so they keep the row loop. Used for
 * the outputs of a binary classifier (sigmoid) and of a regression
 * (identity); for every activation it would cost 20 KB of code instead of 8. */
static inline float forward_block(mlp_activation act, const float *restrict b,
                                  float *restrict Z, float *restrict A, size_t m,
                                  size_t n)
{
    if (n == 1 && m >= 16)
        return forward_rows(act, b, Z, A, m, 1);
    return forward_rows(act, b, Z, A, m, n);
}

/* mlp_activation_forward for each vector width (MLP_VECTOR_CLONES: clones
 * are static, a wrapper exports them, as clang 14 links no other way). */
static MLP_VECTOR_CLONES float forward_pass(mlp_activation act, const float *b, float *Z,
                                            float *A, size_t m, size_t n)
{
    switch (act) {
    case MLP_IDENTITY:
        return forward_block(MLP_IDENTITY, b, Z, A, m, n);
    case MLP_SIGMOID:
        return forward_block(MLP_SIGMOID, b, Z, A, m, n);
    case MLP_TANH:
        return forward_rows(MLP_TANH, b, Z, A, m, n);
    case MLP_RELU:
        return forward_rows(MLP_RELU, b, Z, A, m, n);
    case MLP_LEAKY_RELU:
        return forward_rows(MLP_LEAKY_RELU, b, Z, A, m, n);
    case MLP_SOFTMAX:
        return softmax_forward(b, Z, A, m, n);
    }
    return INFINITY; /* not reached: act was checked when the layer was added */
}

/* delta <- delta (.) g'(Z) and db = the column sums of the result, row
 * after row (the first row writes db), returning the largest |delta|, read
 * after the pass as forward_rows reads A; inlined with a constant act. */
static inline float backward_rows(mlp_activation act, const float *restrict Z,
                                  const float *restrict A, float *restrict delta,
                                  float *restrict db, size_t m, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        float d = mlp_activation_backprop(act, Z[j], A[j], delta[j]);
        delta[j] = d;
        db[j] = d;
    }
    for (size_t i = 1; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            const size_t k = i * n + j;
            float d = mlp_activation_backprop(act, Z[k], A[k], delta[k]);
            delta[k] = d;
            db[j] += d;
        }
    return mlp_max_abs_loop(delta, m * n);
}

/* mlp_activation_backward for each vector width. */
static MLP_VECTOR_CLONES float backward_pass(mlp_activation act, const float *Z,
                                             const float *A, float *delta, float *db,
                                             size_t m, size_t n)
{
    switch (act) {
    case MLP_IDENTITY:
    case MLP_SOFTMAX: /* only reached fused with cross-entropy, never here */
        return backward_rows(MLP_IDENTITY, Z, A, delta, db, m, n);
    case MLP_SIGMOID:
        return backward_rows(MLP_SIGMOID, Z, A, delta, db, m, n);
    case MLP_TANH:
        return backward_rows(MLP_TANH, Z, A, delta, db, m, n);
    case MLP_RELU:
        return backward_rows(MLP_RELU, Z, A, delta, db, m, n);
    case MLP_LEAKY_RELU:
        return backward_rows(MLP_LEAKY_RELU, Z, A, delta, db, m, n);
    }
    return INFINITY; /* not reached */
}

float mlp_activation_forward(mlp_activation act, const float *b, float *Z, float *A,
                             size_t m, size_t n)
{
    return forward_pass(act, b, Z, A, m, n);
}

float mlp_activation_backward(mlp_activation act, const float *Z, const float *A,
                              float *delta, float *db, size_t m, size_t n)
{
    return backward_pass(act, Z, A, delta, db, m, n);
}
