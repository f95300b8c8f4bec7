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

/* Softmax of each row, subtracting the row's maximum so that no
 * exponential overflows. Every argument is then <= 0, the domain of the
 * library's own exponential, which vectorizes where expf calls do not; it
 * gives exactly 1 at the maximum, as cross-entropy's loss needs (loss.c).
 * Output layers are often narrow (a few classes), where loops over one row
 * are mostly set-up: so the exponentials run as one pass over all m x n
 * entries, after each row's maximum has been written over its entries of
 * A as the shift that pass subtracts. Each row's sum stays in double, in
 * order. Returns the largest |a|. Inlined into each vector width's copy of
 * the forward pass. */
static MLP_ALWAYS_INLINE float softmax_forward(const float *restrict b, float *restrict Z,
                                               float *restrict A, size_t m, size_t n)
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
    for (size_t k = 0; k < m * n; k++)
        A[k] = mlp_exp_nonpositive(Z[k] - A[k]);
    int32_t a_bits = 0;
    for (size_t i = 0; i < m; i++) {
        float *a = A + i * n;
        double sum = 0.0;
        for (size_t j = 0; j < n; j++)
            sum += a[j];
        float inv = (float)(1.0 / sum);
        for (size_t j = 0; j < n; j++) {
            a[j] *= inv;
            a_bits = mlp_max_bits(a_bits, mlp_abs_bits(a[j]));
        }
    }
    return mlp_from_abs_bits(a_bits);
}

/* Rows narrower than this find their largest |entry| in a pass of its own
 * over the whole matrix. Folded into each row's loop, as for wider rows,
 * it ends every row with a reduction across the vector's lanes, which
 * costs a narrow row more than its entries do. */
static const size_t narrow_row = 128;

/* z <- z + b and a = g(z), row by row, tracking the largest |a| when
 * asked to; inlined with a constant act and track, so that each variant
 * is its own loop. */
static MLP_ALWAYS_INLINE float forward_rows_k(mlp_activation act, bool track,
                                              const float *restrict b, float *restrict Z,
                                              float *restrict A, size_t m, size_t n)
{
    int32_t a_bits = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            float z = Z[i * n + j] + b[j];
            float a = mlp_activation_value(act, z);
            Z[i * n + j] = z;
            A[i * n + j] = a;
            if (track)
                a_bits = mlp_max_bits(a_bits, mlp_abs_bits(a));
        }
    return mlp_from_abs_bits(a_bits);
}

/* z <- z + b and a = g(z), returning the largest |a|; inlined with a
 * constant act. */
static inline float forward_rows(mlp_activation act, const float *restrict b,
                                 float *restrict Z, float *restrict A, size_t m, size_t n)
{
    if (n >= narrow_row)
        return forward_rows_k(act, true, b, Z, A, m, n);
    forward_rows_k(act, false, b, Z, A, m, n);
    return mlp_max_abs_loop(A, m * n);
}

/* mlp_activation_forward for each vector width (MLP_VECTOR_CLONES: clones
 * are static, a wrapper exports them, as clang 14 links no other way). */
static MLP_VECTOR_CLONES float forward_pass(mlp_activation act, const float *b, float *Z,
                                            float *A, size_t m, size_t n)
{
    switch (act) {
    case MLP_IDENTITY:
        return forward_rows(MLP_IDENTITY, b, Z, A, m, n);
    case MLP_SIGMOID:
        return forward_rows(MLP_SIGMOID, b, Z, A, m, n);
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
 * after row (the first row writes db), tracking the largest |delta| when
 * asked to; inlined with a constant act and track. */
static MLP_ALWAYS_INLINE float backward_rows_k(mlp_activation act, bool track,
                                               const float *restrict Z,
                                               const float *restrict A,
                                               float *restrict delta, float *restrict db,
                                               size_t m, size_t n)
{
    int32_t d_bits = 0;
    for (size_t j = 0; j < n; j++) {
        float d = mlp_activation_backprop(act, Z[j], A[j], delta[j]);
        delta[j] = d;
        db[j] = d;
        if (track)
            d_bits = mlp_max_bits(d_bits, mlp_abs_bits(d));
    }
    for (size_t i = 1; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            const size_t k = i * n + j;
            float d = mlp_activation_backprop(act, Z[k], A[k], delta[k]);
            delta[k] = d;
            db[j] += d;
            if (track)
                d_bits = mlp_max_bits(d_bits, mlp_abs_bits(d));
        }
    return mlp_from_abs_bits(d_bits);
}

/* delta <- delta (.) g'(Z) and db, returning the largest |delta|; inlined
 * with a constant act. */
static inline float backward_rows(mlp_activation act, const float *restrict Z,
                                  const float *restrict A, float *restrict delta,
                                  float *restrict db, size_t m, size_t n)
{
    if (n >= narrow_row)
        return backward_rows_k(act, true, Z, A, delta, db, m, n);
    backward_rows_k(act, false, Z, A, delta, db, m, n);
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
