/*
 * The activations' own exponential, sigmoid and tanh (internal.h), which
 * libmlp computes without libm so that its loops vectorize: accuracy against
 * double-precision libm over sweeps of inputs, the special values, the
 * library's vectorized passes against the per-entry formulas bit for bit,
 * the softmax pass that uses the same exponential, and BCE's
 * log(1 + e^-x), in double and also without libm.
 */
#include "internal.h"
#include "test_util.h"

/* The distance from got to want in units of the float spacing at want
 * (subnormal spacing below FLT_MIN). */
static double ulps(float got, double want)
{
    float w = fabsf((float)want);
    double spacing = (double)nextafterf(w, INFINITY) - (double)w;
    return fabs((double)got - want) / spacing;
}

/* The float with these bits: the sweeps step through bit patterns, so that
 * every binade is covered alike. */
static float float_at(uint32_t bits)
{
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* Folds one comparison into *worst, the largest error in ulps where want is
 * a normal float; below that, the error must be at most one subnormal
 * spacing. */
static void add_error(float got, double want, double *worst)
{
    if (want >= FLT_MIN)
        *worst = fmax(*worst, ulps(got, want));
    else
        assert_true(fabs((double)got - want) <= 0x1p-149);
}

static uint32_t bits_of(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

/* e^y within 1.1 ulp wherever it is a normal float, and within one
 * subnormal spacing below that. */
static void test_exp_accuracy(void **state)
{
    (void)state;
    double worst = 0.0;
    for (uint32_t b = 0; b <= bits_of(110.0f); b += 1009) {
        float y = -float_at(b);
        add_error(mlp_exp_nonpositive(y), exp((double)y), &worst);
    }
    assert_true(worst <= 1.1);
    assert_true(worst > 0.0); /* the sweep compared something */
    assert_true(mlp_exp_nonpositive(0.0f) == 1.0f);
    assert_true(mlp_exp_nonpositive(-0.0f) == 1.0f);
    assert_true(mlp_exp_nonpositive(-INFINITY) == 0.0f);
    assert_true(mlp_exp_nonpositive(-1e30f) == 0.0f);
    assert_true(isnan(mlp_exp_nonpositive(NAN)));
}

/* tanh correctly rounded on [-12, 12] (libm's tanh in double, rounded to
 * float), odd to the bit, 1 beyond, and -0, the infinities and NaN as tanh
 * has them. */
static void test_tanh_accuracy(void **state)
{
    (void)state;
    for (uint32_t b = 0; b <= bits_of(12.0f); b += 1013) {
        float z = float_at(b);
        assert_true(mlp_tanh(z) == (float)tanh((double)z));
        assert_true(mlp_tanh(-z) == -mlp_tanh(z));
    }
    assert_true(mlp_tanh(9.5f) == 1.0f && mlp_tanh(1e30f) == 1.0f);
    assert_true(mlp_tanh(INFINITY) == 1.0f && mlp_tanh(-INFINITY) == -1.0f);
    assert_true(mlp_tanh(-0.0f) == 0.0f && signbit(mlp_tanh(-0.0f)));
    assert_true(mlp_tanh(1e-30f) == 1e-30f);
    assert_true(isnan(mlp_tanh(NAN)));
}

/* The sigmoid within 3 ulp on [-110, 110] (the formula's own two
 * roundings on top of e^-|z|), exactly 1/2 at 0, 0 and 1 at the
 * infinities, NaN for NaN. */
static void test_sigmoid_accuracy(void **state)
{
    (void)state;
    double worst = 0.0;
    for (uint32_t b = 0; b <= bits_of(110.0f); b += 1009)
        for (int sign = -1; sign <= 1; sign += 2) {
            float z = (float)sign * float_at(b);
            add_error(mlp_sigmoid(z), 1.0 / (1.0 + exp(-(double)z)), &worst);
        }
    assert_true(worst <= 3.0);
    assert_true(mlp_sigmoid(0.0f) == 0.5f);
    assert_true(mlp_sigmoid(INFINITY) == 1.0f && mlp_sigmoid(-INFINITY) == 0.0f);
    assert_true(isnan(mlp_sigmoid(NAN)));
}

/* Leaky ReLU keeps NaN, and its derivative selects, so an infinite delta
 * is never multiplied by 0. */
static void test_leaky_relu_values(void **state)
{
    (void)state;
    assert_true(mlp_activation_value(MLP_LEAKY_RELU, 2.0f) == 2.0f);
    assert_true(mlp_activation_value(MLP_LEAKY_RELU, -2.0f) == mlp_leaky_slope * -2.0f);
    assert_true(isnan(mlp_activation_value(MLP_LEAKY_RELU, NAN)));
    assert_true(mlp_activation_backprop(MLP_LEAKY_RELU, 1.0f, 1.0f, INFINITY) ==
                INFINITY);
    assert_true(mlp_activation_backprop(MLP_LEAKY_RELU, -1.0f, -0.01f, 3.0f) ==
                mlp_leaky_slope * 3.0f);
    /* At z = 0 exactly (zero inputs and zero biases at initialization),
     * SPEC.md's g'(z): 1 only for z > 0, so the slope for leaky ReLU and 0
     * for ReLU, at either sign of zero. */
    for (int sign = 0; sign < 2; sign++) {
        const float zero = sign ? -0.0f : 0.0f;
        assert_true(mlp_activation_backprop(MLP_LEAKY_RELU, zero, zero, 3.0f) ==
                    mlp_leaky_slope * 3.0f);
        assert_true(mlp_activation_backprop(MLP_RELU, zero, 0.0f, 3.0f) == 0.0f);
    }
}

/* The largest |x| of count floats, by the plain definition. */
static float largest_entry(const float *x, size_t count)
{
    float largest = 0.0f;
    for (size_t k = 0; k < count; k++)
        largest = fabsf(x[k]) > largest ? fabsf(x[k]) : largest;
    return largest;
}

/* BCE's log(1 + e^-x) in double (mlp_softplus_tail) within 4 ulp of the
 * long double value, where its exponential is a normal double (x <= 708,
 * every float there, sampled through its bit patterns); 0 beyond, and at
 * infinity; NaN for NaN. */
static void test_softplus_tail_accuracy(void **state)
{
    (void)state;
    double worst = 0.0;
    for (uint32_t b = 0; b <= bits_of(708.0f); b += 997) {
        double x = float_at(b);
        long double want = log1pl(expl(-(long double)x));
        double error = (double)fabsl((mlp_softplus_tail(x) - want) / want);
        worst = fmax(worst, error / DBL_EPSILON);
    }
    assert_true(worst <= 4.0);
    assert_true(worst > 0.0); /* the sweep compared something */
    const double beyond[] = {708.0001, 709.0, 745.2, 1e6, 3e38, INFINITY};
    for (size_t k = 0; k < sizeof beyond / sizeof beyond[0]; k++)
        assert_true(mlp_softplus_tail(beyond[k]) == 0.0);
    assert_true(isnan(mlp_softplus_tail(NAN)));
}

/* The library's vectorized passes (mlp_activation_forward / _backward)
 * give the bits of the per-entry formulas, for every element-wise
 * activation, on rows long enough for vector loops and their remainders,
 * and return the largest |A| and |delta|: 3 rows of 37 and of 150, and
 * columns of 37 and of 5 rows (one output, which the forward pass takes
 * down the column from 16 rows on). */
static void test_passes_match_formulas(void **state)
{
    (void)state;
    enum { n_max = 150, size_max = 3 * n_max };
    static const struct {
        size_t m, n;
    } shapes[] = {{3, 37}, {3, n_max}, {37, 1}, {5, 1}};
    static const mlp_activation acts[] = {MLP_IDENTITY, MLP_SIGMOID, MLP_TANH, MLP_RELU,
                                          MLP_LEAKY_RELU};
    float b[n_max], Z[size_max], Z0[size_max], A[size_max];
    float delta[size_max], delta0[size_max], db[n_max];
    test_rng rng = {17};
    for (size_t w = 0; w < sizeof shapes / sizeof shapes[0]; w++) {
        const size_t m = shapes[w].m, n = shapes[w].n;
        test_fill_uniform(&rng, b, n, -1, 1);
        test_fill_uniform(&rng, Z0, m * n, -12, 12);
        test_fill_uniform(&rng, delta0, m * n, -2, 2);
        for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
            memcpy(Z, Z0, m * n * sizeof *Z);
            float A_max = mlp_activation_forward(acts[k], b, Z, A, m, n);
            memcpy(delta, delta0, m * n * sizeof *delta);
            float delta_max = mlp_activation_backward(acts[k], Z, A, delta, db, m, n);
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < n; j++) {
                    size_t e = i * n + j;
                    float z = Z0[e] + b[j];
                    float a = mlp_activation_value(acts[k], z);
                    assert_true(bits_of(Z[e]) == bits_of(z));
                    assert_true(bits_of(A[e]) == bits_of(a));
                    assert_true(bits_of(delta[e]) == bits_of(mlp_activation_backprop(
                                                         acts[k], z, a, delta0[e])));
                }
            assert_true(A_max == largest_entry(A, m * n));
            assert_true(delta_max == largest_entry(delta, m * n));
        }
    }
}

/* The softmax pass within 3 ulp of the double-precision softmax of the
 * same float differences z_j - max (1.1 ulp from the exponential, one
 * rounding each for 1/sum and the product; rounding the difference itself
 * costs more, with any exponential), on rows short and long, over logits
 * wide enough apart for entries far below the largest. The largest entry
 * of each row is exactly the float 1/sum (its exponential is exactly 1),
 * which cross-entropy's loss relies on, and every entry has the bits of
 * that formula, e^(z_j - max) times the float 1/sum, on each width,
 * those of 2 to 4 classes that the pass compiles apart included. */
static void test_softmax_accuracy(void **state)
{
    (void)state;
    enum { m = 4, n_max = 37 };
    static const size_t widths[] = {1, 2, 3, 4, 10, n_max};
    float b[n_max], Z[m * n_max], A[m * n_max];
    test_rng rng = {23};
    double worst = 0.0;
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        const size_t n = widths[w];
        test_fill_uniform(&rng, Z, m * n, -40, 40);
        test_fill_uniform(&rng, b, n, -1, 1);
        assert_true(mlp_activation_forward(MLP_SOFTMAX, b, Z, A, m, n) ==
                    largest_entry(A, m * n));
        for (size_t i = 0; i < m; i++) {
            const float *z = Z + i * n, *a = A + i * n;
            size_t top = 0;
            for (size_t j = 1; j < n; j++)
                top = z[j] > z[top] ? j : top;
            double sum = 0.0, sum_float_exps = 0.0;
            for (size_t j = 0; j < n; j++) {
                sum += exp((double)(z[j] - z[top]));
                sum_float_exps += mlp_exp_nonpositive(z[j] - z[top]);
            }
            const float inv = (float)(1.0 / sum_float_exps);
            for (size_t j = 0; j < n; j++) {
                add_error(a[j], exp((double)(z[j] - z[top])) / sum, &worst);
                float formula = mlp_exp_nonpositive(z[j] - z[top]) * inv;
                assert_true(bits_of(a[j]) == bits_of(formula));
            }
            assert_true(a[top] == inv);
        }
    }
    assert_true(worst <= 3.0);
    assert_true(worst > 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_accuracy),
        cmocka_unit_test(test_tanh_accuracy),
        cmocka_unit_test(test_sigmoid_accuracy),
        cmocka_unit_test(test_leaky_relu_values),
        cmocka_unit_test(test_softplus_tail_accuracy),
        cmocka_unit_test(test_passes_match_formulas),
        cmocka_unit_test(test_softmax_accuracy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
