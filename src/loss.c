/*
 * Losses and the output layer's delta (SPEC.md, "Losses"). Every loss is a
 * mean over the m rows of the batch, so the 1/m appears once, here, and the
 * gradients of every layer are those of the batch-mean loss C.
 */
#include "internal.h"

#include <math.h>

/* Tolerance on the row sums of cross-entropy targets. */
static const double ce_row_sum_tolerance = 1e-3;

bool mlp_loss_valid(mlp_loss loss)
{
    return loss == MLP_MSE || loss == MLP_BCE || loss == MLP_CROSS_ENTROPY;
}

/* Whether lo <= y <= hi for all count entries, NaN failing both tests:
 * one pass with no exit and no branch, which vectorizes. */
static bool entries_within(const float *Y, size_t count, float lo, float hi)
{
    int bad = 0;
    for (size_t k = 0; k < count; k++)
        bad |= !(Y[k] >= lo) | !(Y[k] <= hi);
    return !bad;
}

/* A row's sum in double, in four running sums so that a wide row does not
 * wait on each addition in turn; it is only held against a tolerance, so
 * the order does not matter. */
static MLP_ALWAYS_INLINE double row_sum(const float *y, size_t n)
{
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    size_t j = 0;
    for (; j + 4 <= n; j += 4)
        for (size_t q = 0; q < 4; q++)
            s[q] += y[j + q];
    for (; j < n; j++)
        s[0] += y[j];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* Whether every row of Y sums to 1 within the tolerance. */
static MLP_ALWAYS_INLINE bool rows_sum_to_one(const float *Y, size_t m, size_t n)
{
    for (size_t i = 0; i < m; i++)
        if (fabs(row_sum(Y + i * n, n) - 1.0) > ce_row_sum_tolerance)
            return false;
    return true;
}

/* rows_sum_to_one with the width a constant for 2 to 4 classes, as
 * cross_entropy_sum below. */
static bool rows_are_distributions(const float *Y, size_t m, size_t n)
{
    switch (n) {
    case 2:
        return rows_sum_to_one(Y, m, 2);
    case 3:
        return rows_sum_to_one(Y, m, 3);
    case 4:
        return rows_sum_to_one(Y, m, 4);
    default:
        return rows_sum_to_one(Y, m, n);
    }
}

mlp_status mlp_loss_check_targets(mlp_loss loss, const float *Y, size_t m, size_t n)
{
    if (loss == MLP_MSE) /* any finite target */
        return mlp_all_finite(Y, m * n) ? MLP_OK : MLP_ERR_ARG;
    if (!entries_within(Y, m * n, 0.0f, loss == MLP_BCE ? 1.0f : FLT_MAX))
        return MLP_ERR_ARG;
    if (loss == MLP_CROSS_ENTROPY && !rows_are_distributions(Y, m, n))
        return MLP_ERR_ARG;
    return MLP_OK;
}

/* BCE from the logits: -log a = softplus(-z) and -log(1-a) = softplus(z),
 * with softplus(u) = max(u, 0) + log(1 + e^-|u|), finite even where a
 * rounds to 0 or 1. A term whose weight (y or 1 - y) is zero contributes
 * nothing, even where z overflowed to infinity. */
static inline double bce_term(double y, double z, double tail)
{
    double on = y != 0.0 ? y * ((z < 0.0 ? -z : 0.0) + tail) : 0.0;
    double off = y != 1.0 ? (1.0 - y) * ((z > 0.0 ? z : 0.0) + tail) : 0.0;
    return on + off;
}

/* Below a vector of 8 doubles the outputs take glibc's exp and log1p, one
 * at a time: one vector of mlp_softplus_tail takes about 45 ns, one glibc
 * pair 10 (a batch of one sample with one output, a tiny network's step). */
enum { bce_vector_min = 8, bce_block = 64 };

static double bce_sum_libm(const float *Z, const float *Y, size_t count)
{
    double sum = 0.0;
    for (size_t k = 0; k < count; k++)
        sum += bce_term(Y[k], Z[k], log1p(exp(-fabs((double)Z[k]))));
    return sum;
}

/* From 8 outputs on, the terms are made in blocks of bce_block, in a loop
 * that runs in vectors (mlp_softplus_tail has no call), then added in
 * order in double. */
static MLP_VECTOR_CLONES double bce_sum_vector(const float *Z, const float *Y,
                                               size_t count)
{
    double sum = 0.0, term[bce_block];
    for (size_t first = 0; first < count; first += bce_block) {
        size_t n = count - first < bce_block ? count - first : bce_block;
        const float *z = Z + first, *y = Y + first;
        for (size_t k = 0; k < n; k++)
            term[k] = bce_term(y[k], z[k], mlp_softplus_tail(fabs((double)z[k])));
        for (size_t k = 0; k < n; k++)
            sum += term[k];
    }
    return sum;
}

/* The choice outside the vector-width copies, so that a small batch does
 * not pay for the call through their dispatch. */
static double bce_sum(const float *Z, const float *Y, size_t count)
{
    return count < bce_vector_min ? bce_sum_libm(Z, Y, count)
                                  : bce_sum_vector(Z, Y, count);
}

/* Cross-entropy from the logits: log a_j = (z_j - z_top) - log S, where
 * z_top is the row's largest z and S = sum_k e^(z_k - z_top) the softmax's
 * denominator. Taking z_j - z_top first keeps huge tied logits from
 * cancelling. log S comes from the softmax's own outputs, one log per row
 * instead of n exponentials: it made a_top = 1/S (its exponential is
 * exactly 1 at the maximum), so log S = -log a_top; and when the row is
 * confident (a_top > 1/2), -log1p(-r) with r = the sum of the other a_k,
 * which keeps a loss below float's resolution near 1 (e^-20, say) exact
 * to a few roundings where a_top itself rounds to 1. A zero target
 * contributes nothing, even against a -inf log. */
static MLP_ALWAYS_INLINE double cross_entropy_rows(const float *Z, const float *A,
                                                   const float *Y, size_t m, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < m; i++) {
        const float *z = Z + i * n, *a = A + i * n, *y = Y + i * n;
        size_t top = 0;
        float z_top = z[0];
        for (size_t j = 1; j < n; j++)
            if (z[j] > z_top) {
                z_top = z[j];
                top = j;
            }
        double rest = 0.0; /* in order, the top entry left out */
        for (size_t j = 0; j < top; j++)
            rest += a[j];
        for (size_t j = top + 1; j < n; j++)
            rest += a[j];
        double log_S = rest < 0.5 ? -log1p(-rest) : -log((double)a[top]);
        for (size_t j = 0; j < n; j++)
            if (y[j] != 0.0f)
                sum -= y[j] * (((double)z[j] - z_top) - log_S);
    }
    return sum;
}

/* cross_entropy_rows with the width a constant for 2 to 4 classes, where a
 * run-time width makes each row's short loops mostly set-up. */
static double cross_entropy_sum(const float *Z, const float *A, const float *Y, size_t m,
                                size_t n)
{
    switch (n) {
    case 2:
        return cross_entropy_rows(Z, A, Y, m, 2);
    case 3:
        return cross_entropy_rows(Z, A, Y, m, 3);
    case 4:
        return cross_entropy_rows(Z, A, Y, m, 4);
    default:
        return cross_entropy_rows(Z, A, Y, m, n);
    }
}

static double squared_error_sum(const float *A, const float *Y, size_t count)
{
    double sum = 0.0;
    for (size_t k = 0; k < count; k++) {
        double d = (double)A[k] - Y[k];
        sum += 0.5 * d * d;
    }
    return sum;
}

/* sum / m, the division skipped for a one-sample batch, where it is exact
 * and costs a one-sample step on a tiny network about 2 ns. */
static double batch_mean(double sum, size_t m)
{
    return m == 1 ? sum : sum / (double)m;
}

double mlp_loss_compute(mlp_loss loss, mlp_activation output_act, const float *Z,
                        const float *A, const float *Y, size_t m, size_t n)
{
    (void)output_act; /* accepted pairs fix it: BCE is sigmoid, CE softmax */
    switch (loss) {
    case MLP_MSE:
        return batch_mean(squared_error_sum(A, Y, m * n), m);
    case MLP_BCE:
        return batch_mean(bce_sum(Z, Y, m * n), m);
    case MLP_CROSS_ENTROPY:
        return batch_mean(cross_entropy_sum(Z, A, Y, m, n), m);
    }
    return NAN;
}

/* One entry of Delta^(L) for the accepted pairs: sigmoid + BCE and
 * softmax + cross-entropy collapse to (a - y)/m; MSE is dC/da = (a - y)/m
 * followed by the general rule (.) g'(z). */
static inline float delta_entry(bool mse, mlp_activation output_act, float z, float a,
                                float y, float inv_m)
{
    const float d = (a - y) * inv_m;
    return mse ? mlp_activation_backprop(output_act, z, a, d) : d;
}

/* Delta^(L), inlined with mse constant. For MSE, returns the sum of
 * (a - y)^2 / 2 in the order squared_error_sum takes, so that C comes from
 * this pass too: a training step on a tiny network has no pass to spare. */
static inline double output_pass(bool mse, mlp_activation output_act,
                                 const float *restrict Z, const float *restrict A,
                                 const float *restrict Y, size_t m, size_t n,
                                 float *restrict delta)
{
    const float inv_m = m == 1 ? 1.0f : 1.0f / (float)m; /* as batch_mean */
    double squares = 0.0;
    for (size_t k = 0; k < m * n; k++) {
        delta[k] = delta_entry(mse, output_act, Z[k], A[k], Y[k], inv_m);
        if (mse) {
            double diff = (double)A[k] - Y[k];
            squares += 0.5 * diff * diff;
        }
    }
    return squares;
}

/* db = the column sums of delta (m x n), each from its first row down.
 * Output layers are mostly narrow: up to 16 columns (a row in one cache
 * line) the sums go column by column, in registers; row by row, the first
 * row would be a copy that the compiler makes a call to memcpy of, which
 * costs a one-sample step 3 ns. Wider ones go row by row, as vectors. */
static inline void column_sums(const float *restrict delta, float *restrict db, size_t m,
                               size_t n)
{
    if (n <= 16) {
        for (size_t j = 0; j < n; j++) {
            float sum = delta[j];
            for (size_t i = 1; i < m; i++)
                sum += delta[i * n + j];
            db[j] = sum;
        }
        return;
    }
    for (size_t j = 0; j < n; j++)
        db[j] = delta[j];
    for (size_t i = 1; i < m; i++)
        for (size_t j = 0; j < n; j++)
            db[j] += delta[i * n + j];
}

/* db^(L) is written only once C is known to be a finite float: a training
 * step refused for its loss must leave every gradient as it was, and
 * Delta^(L) alone is scratch until the backward pass completes. */
double mlp_loss_delta(mlp_loss loss, mlp_activation output_act, const float *Z,
                      const float *A, const float *Y, size_t m, size_t n, float *delta,
                      float *db)
{
    double C;
    if (loss == MLP_MSE) {
        C = batch_mean(output_pass(true, output_act, Z, A, Y, m, n, delta), m);
    } else {
        output_pass(false, output_act, Z, A, Y, m, n, delta);
        C = mlp_loss_compute(loss, output_act, Z, A, Y, m, n);
    }
    if (mlp_loss_is_finite(C))
        column_sums(delta, db, m, n);
    return C;
}
