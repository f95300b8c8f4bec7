/*
 * Gradient checks. The library's dW and db are compared with central
 * differences of an independent double-precision reference: a forward pass
 * and loss written here in straight loops from SPEC.md, using the library's
 * float weights copied to double. Every accepted output activation/loss pair
 * is checked, with every hidden activation, on networks with at least two
 * hidden layers, with batches of m = 1 (the tiny-layer path) and m = 5 (the
 * matrix core), and on wider networks whose products take the matrix core's
 * matrix-vector path (batches of one and three, an output of one). The
 * library's Z, A and loss are compared with the reference forward pass too.
 * A classic float check that perturbs the library's own parameters
 * completes it.
 */
#include "internal.h" /* mlp_dense_is_tiny, mlp_matmul_choose: which path runs */
#include "test_util.h"

enum { MAX_LAYERS = 4, MAX_WIDTH = 110, BATCH = 5, MAX_PARAMS = 2500 };

/* The architecture, and the reference's copy of every parameter in the
 * library's layout: W^(1), b^(1), W^(2), b^(2), ... */
typedef struct ref_net {
    size_t n_layers;
    size_t width[MAX_LAYERS + 1]; /* width[0] = n_0 */
    mlp_activation act[MAX_LAYERS];
    mlp_loss loss;
    size_t n_params;
    double theta[MAX_PARAMS];
} ref_net;

/* The reference's batch matrices, m x n_l each, row-major. */
typedef struct ref_cache {
    double Z[MAX_LAYERS][BATCH * MAX_WIDTH];
    double A[MAX_LAYERS][BATCH * MAX_WIDTH];
} ref_cache;

static double ref_g(mlp_activation act, double z)
{
    switch (act) {
    case MLP_SIGMOID:
        return 1.0 / (1.0 + exp(-z));
    case MLP_TANH:
        return tanh(z);
    case MLP_RELU:
        return z > 0.0 ? z : 0.0;
    case MLP_LEAKY_RELU:
        return z > 0.0 ? z : 0.01 * z;
    default:
        return z;
    }
}

/* a_j = e^(z_j - max) / sum_k e^(z_k - max) for one row. */
static void ref_softmax(const double *z, double *a, size_t n)
{
    double max = z[0], sum = 0.0;
    for (size_t j = 1; j < n; j++)
        max = fmax(max, z[j]);
    for (size_t j = 0; j < n; j++)
        sum += exp(z[j] - max);
    for (size_t j = 0; j < n; j++)
        a[j] = exp(z[j] - max) / sum;
}

/* z^(l) = W^(l) a^(l-1) + b^(l), a^(l) = g_l(z^(l)), sample by sample. */
static void ref_forward(const ref_net *net, const float *X, size_t m, ref_cache *c)
{
    const double *theta = net->theta;
    for (size_t l = 0; l < net->n_layers; l++) {
        size_t n_in = net->width[l], n_out = net->width[l + 1];
        const double *W = theta, *b = theta + n_out * n_in;
        for (size_t i = 0; i < m; i++) {
            double *z = c->Z[l] + i * n_out, *a = c->A[l] + i * n_out;
            for (size_t j = 0; j < n_out; j++) {
                double sum = b[j];
                for (size_t k = 0; k < n_in; k++) {
                    double a_prev = l == 0 ? X[i * n_in + k] : c->A[l - 1][i * n_in + k];
                    sum += W[j * n_in + k] * a_prev;
                }
                z[j] = sum;
                a[j] = ref_g(net->act[l], sum);
            }
            if (net->act[l] == MLP_SOFTMAX)
                ref_softmax(z, a, n_out);
        }
        theta += n_out * n_in + n_out;
    }
}

/* The batch-mean losses of SPEC.md, written from their definitions. */
static double ref_loss(const ref_net *net, const float *X, const float *Y, size_t m)
{
    static ref_cache c;
    ref_forward(net, X, m, &c);
    size_t L = net->n_layers, n = net->width[L];
    const double *A = c.A[L - 1];
    double sum = 0.0;
    for (size_t k = 0; k < m * n; k++) {
        double a = A[k], y = Y[k];
        if (net->loss == MLP_MSE)
            sum += 0.5 * (a - y) * (a - y);
        else if (net->loss == MLP_BCE)
            sum -= y * log(a) + (1.0 - y) * log(1.0 - a);
        else
            sum -= y * log(a);
    }
    return sum / (double)m;
}

/* Builds the library network and the reference's copy of it. */
static mlp_net *build_pair(ref_net *ref, mlp_loss loss, size_t n_layers,
                           const size_t *width, const mlp_activation *acts, uint64_t seed)
{
    mlp_net *net = make_net(width[0], loss, seed, n_layers, width + 1, acts);
    *ref = (ref_net){.n_layers = n_layers, .loss = loss};
    memcpy(ref->width, width, (n_layers + 1) * sizeof *width);
    memcpy(ref->act, acts, n_layers * sizeof *acts);
    float *params = snapshot_params(net);
    ref->n_params = mlp_net_param_count(net);
    assert_true(ref->n_params <= MAX_PARAMS);
    for (size_t k = 0; k < ref->n_params; k++)
        ref->theta[k] = params[k];
    free(params);
    return net;
}

/* Small random biases, so that the bias gradients are not taken only at
 * zero; the reference gets the same values. */
static void randomize_biases(mlp_net *net, ref_net *ref, test_rng *rng)
{
    size_t offset = 0;
    for (size_t l = 0; l < ref->n_layers; l++) {
        float *b;
        size_t n_out, n_in;
        assert_int_equal(mlp_layer_params(net, l, NULL, &b, &n_out, &n_in), MLP_OK);
        offset += n_out * n_in;
        for (size_t j = 0; j < n_out; j++) {
            b[j] = (float)test_uniform(rng, -0.3, 0.3);
            ref->theta[offset + j] = b[j];
        }
        offset += n_out;
    }
}

/* Whether any ReLU-family pre-activation is within 1e-3 of the kink, where
 * a central difference would straddle it. */
static int near_kink(const ref_net *ref, const float *X, size_t m)
{
    static ref_cache c;
    ref_forward(ref, X, m, &c);
    for (size_t l = 0; l < ref->n_layers; l++) {
        if (ref->act[l] != MLP_RELU && ref->act[l] != MLP_LEAKY_RELU)
            continue;
        for (size_t k = 0; k < m * ref->width[l + 1]; k++)
            if (fabs(c.Z[l][k]) < 1e-3)
                return 1;
    }
    return 0;
}

/* Targets in each loss's domain: any real for MSE, [0,1] for BCE, rows of
 * a distribution for cross-entropy. */
static void make_targets(test_rng *rng, mlp_loss loss, float *Y, size_t m, size_t n)
{
    for (size_t i = 0; i < m; i++) {
        float *y = Y + i * n;
        double sum = 0.0;
        for (size_t j = 0; j < n; j++) {
            y[j] = (float)test_uniform(rng, loss == MLP_MSE ? -1.0 : 0.0, 1.0);
            sum += y[j];
        }
        for (size_t j = 0; loss == MLP_CROSS_ENTROPY && j < n; j++)
            y[j] = (float)(y[j] / sum);
    }
}

/* The library's Z, A and loss against the reference forward pass. */
static void compare_forward(mlp_net *net, const ref_net *ref, const float *X,
                            const float *Y, size_t m, float loss)
{
    static ref_cache c;
    ref_forward(ref, X, m, &c);
    for (size_t l = 0; l < ref->n_layers; l++) {
        const float *Z, *A;
        assert_int_equal(mlp_layer_cache(net, l, &Z, &A, NULL, NULL), MLP_OK);
        for (size_t k = 0; k < m * ref->width[l + 1]; k++) {
            check_rel(Z[k], c.Z[l][k], 1e-5, 1e-5, "Z against reference");
            check_rel(A[k], c.A[l][k], 1e-5, 1e-5, "A against reference");
        }
    }
    check_rel(loss, ref_loss(ref, X, Y, m), 1e-5, 1e-6, "loss against reference");
}

/* Central differences of the reference loss, in double, for every
 * parameter, against the library's float dW and db. Float rounding leaves
 * errors near 1e-7 here; a missing 1/m, a wrong derivative or a swapped
 * index is far outside the tolerance of 1e-4 relative plus 1e-6. */
static void compare_gradients(mlp_net *net, ref_net *ref, const float *X, const float *Y,
                              size_t m)
{
    const double h = 1e-6;
    float *grads = snapshot_grads(net);
    double largest = 0.0;
    for (size_t k = 0; k < ref->n_params; k++) {
        double saved = ref->theta[k];
        ref->theta[k] = saved + h;
        double plus = ref_loss(ref, X, Y, m);
        ref->theta[k] = saved - h;
        double minus = ref_loss(ref, X, Y, m);
        ref->theta[k] = saved;
        double numeric = (plus - minus) / (2.0 * h);
        check_rel(grads[k], numeric, 1e-4, 1e-6, "gradient against central difference");
        largest = fmax(largest, fabs(numeric));
    }
    assert_true(largest > 1e-3); /* the check compared something non-trivial */
    free(grads);
}

/* One network and batch size: random inputs away from ReLU kinks, a forward
 * and backward pass, then the forward and gradient comparisons. */
static void check_network_batch(mlp_loss loss, const mlp_activation *acts,
                                size_t n_layers, const size_t *width, size_t m,
                                uint64_t seed)
{
    ref_net ref;
    mlp_net *net = build_pair(&ref, loss, n_layers, width, acts, seed);
    test_rng rng = {seed};
    randomize_biases(net, &ref, &rng);
    float X[BATCH * MAX_WIDTH], Y[BATCH * MAX_WIDTH], C;
    size_t n_out = width[n_layers];
    int tries = 0;
    do {
        test_fill_uniform(&rng, X, m * width[0], -1.5, 1.5);
        assert_true(++tries < 1000);
    } while (near_kink(&ref, X, m));
    make_targets(&rng, loss, Y, m, n_out);

    const float *out;
    assert_int_equal(mlp_forward(net, X, m, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, &C), MLP_OK);
    compare_forward(net, &ref, X, Y, m, C);
    compare_gradients(net, &ref, X, Y, m);
    mlp_net_free(net);
}

/* Each network twice: with one row, where every layer takes the tiny path
 * of layer.c, and with BATCH rows, where every layer takes the matrix core. */
static void check_network(mlp_loss loss, const mlp_activation *acts, size_t n_layers,
                          uint64_t seed)
{
    static const size_t widths[][MAX_LAYERS + 1] = {{4, 5, 6, 3}, {3, 6, 4, 5, 3}};
    const size_t *width = widths[n_layers - 3];
    for (size_t l = 0; l < n_layers; l++) {
        assert_true(mlp_dense_is_tiny(1, width[l], width[l + 1]));
        assert_false(mlp_dense_is_tiny(BATCH, width[l], width[l + 1]));
    }
    check_network_batch(loss, acts, n_layers, width, 1, seed);
    check_network_batch(loss, acts, n_layers, width, BATCH, seed);
}

/* Two hidden stacks that between them use every hidden activation; the
 * second is three layers deep. */
static void check_output_pair(mlp_loss loss, mlp_activation output, uint64_t seed)
{
    const mlp_activation first[] = {MLP_TANH, MLP_RELU, output};
    const mlp_activation second[] = {MLP_LEAKY_RELU, MLP_SIGMOID, MLP_IDENTITY, output};
    check_network(loss, first, 3, seed);
    check_network(loss, second, 4, seed + 1);
}

static void test_gradients_mse_identity(void **state)
{
    (void)state;
    check_output_pair(MLP_MSE, MLP_IDENTITY, 100);
}

static void test_gradients_mse_sigmoid(void **state)
{
    (void)state;
    check_output_pair(MLP_MSE, MLP_SIGMOID, 200);
}

static void test_gradients_mse_tanh(void **state)
{
    (void)state;
    check_output_pair(MLP_MSE, MLP_TANH, 300);
}

static void test_gradients_mse_relu(void **state)
{
    (void)state;
    check_output_pair(MLP_MSE, MLP_RELU, 400);
}

static void test_gradients_mse_leaky_relu(void **state)
{
    (void)state;
    check_output_pair(MLP_MSE, MLP_LEAKY_RELU, 500);
}

static void test_gradients_bce_sigmoid(void **state)
{
    (void)state;
    check_output_pair(MLP_BCE, MLP_SIGMOID, 600);
}

static void test_gradients_cross_entropy_softmax(void **state)
{
    (void)state;
    check_output_pair(MLP_CROSS_ENTROPY, MLP_SOFTMAX, 700);
}

/* Layers too wide for the tiny path and for the matrix core's loops, whose
 * products take its matrix-vector path. A batch of one sample: every hidden
 * layer's three products are matrix-vector ones (Z = A_prev W^T, the outer
 * product dW, delta_prev = delta W); a batch of three: Z and delta_prev row
 * by row. One output at m = 5: the output layer's Z is one column, its dW
 * one row and its delta_prev an outer product. */
static void test_gradients_matrix_vector_path(void **state)
{
    (void)state;
    const size_t one_sample[] = {20, 30, 30, 3};
    const mlp_activation one_sample_acts[] = {MLP_RELU, MLP_TANH, MLP_SOFTMAX};
    assert_int_equal(mlp_matmul_choose(MLP_AB_T, 1, 30, 20), MLP_PATH_VECTOR);
    assert_int_equal(mlp_matmul_choose(MLP_A_TB, 30, 20, 1), MLP_PATH_VECTOR);
    assert_int_equal(mlp_matmul_choose(MLP_AB, 1, 30, 30), MLP_PATH_VECTOR);
    assert_false(mlp_dense_is_tiny(1, 20, 30));
    check_network_batch(MLP_CROSS_ENTROPY, one_sample_acts, 3, one_sample, 1, 800);
    /* three samples: Z and delta_prev one matrix-vector product per row */
    assert_int_equal(mlp_matmul_choose(MLP_AB_T, 3, 30, 20), MLP_PATH_VECTOR);
    assert_int_equal(mlp_matmul_choose(MLP_AB, 3, 30, 30), MLP_PATH_VECTOR);
    check_network_batch(MLP_CROSS_ENTROPY, one_sample_acts, 3, one_sample, 3, 802);

    const size_t one_output[] = {20, 110, 1};
    const mlp_activation one_output_acts[] = {MLP_LEAKY_RELU, MLP_IDENTITY};
    assert_int_equal(mlp_matmul_choose(MLP_AB_T, BATCH, 1, 110), MLP_PATH_VECTOR);
    assert_int_equal(mlp_matmul_choose(MLP_A_TB, 1, 110, BATCH), MLP_PATH_VECTOR);
    assert_int_equal(mlp_matmul_choose(MLP_AB, BATCH, 110, 1), MLP_PATH_VECTOR);
    check_network_batch(MLP_MSE, one_output_acts, 2, one_output, BATCH, 801);
}

/* ---- The classic float check on the library's own parameters ---- */

/* The loss of the library's forward pass at the current parameters. */
static double library_loss(mlp_net *net, const float *X, const float *Y, size_t m)
{
    const float *out;
    float loss;
    assert_int_equal(mlp_forward(net, X, m, &out), MLP_OK);
    assert_int_equal(mlp_loss_value(net, Y, &loss), MLP_OK);
    return loss;
}

/* Perturbs every parameter of net by +-h through mlp_layer_params and
 * compares (C(p+h) - C(p-h)) / 2h with dW and db to the 1e-2 relative
 * error SPEC.md expects of float with h near 1e-3. C comes back as a float,
 * rounded by up to about 6e-8, so differences carry noise of about 5e-5:
 * gradients below 2e-2 are compared to within 1e-2 of 2e-2. */
static void float_check(mlp_net *net, const float *X, const float *Y, size_t m)
{
    const float h = 1e-3f;
    const float *out;
    assert_int_equal(mlp_forward(net, X, m, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);
    float *grads = snapshot_grads(net);
    double largest = 0.0;
    size_t k = 0;
    for (size_t l = 0; l < mlp_net_layers(net); l++) {
        float *W, *b;
        size_t n_out, n_in;
        assert_int_equal(mlp_layer_params(net, l, &W, &b, &n_out, &n_in), MLP_OK);
        for (size_t p = 0; p < n_out * n_in + n_out; p++, k++) {
            float *theta = p < n_out * n_in ? W + p : b + (p - n_out * n_in);
            float saved = *theta;
            *theta = saved + h;
            double plus = library_loss(net, X, Y, m);
            *theta = saved - h;
            double minus = library_loss(net, X, Y, m);
            *theta = saved;
            double numeric = (plus - minus) / (2.0 * h);
            double scale = fmax(fmax(fabs(numeric), fabs(grads[k])), 2e-2);
            if (fabs(grads[k] - numeric) / scale > 1e-2)
                fail_msg("parameter %zu: backprop %.7g, float difference %.7g", k,
                         grads[k], numeric);
            largest = fmax(largest, fabs(numeric));
        }
    }
    assert_true(largest > 0.1); /* some gradients were checked relatively */
    free(grads);
}

static void test_float_central_differences_smooth_network(void **state)
{
    (void)state;
    const size_t widths[] = {6, 5, 3};
    const mlp_activation acts[] = {MLP_TANH, MLP_SIGMOID, MLP_SOFTMAX};
    mlp_net *net = make_net(4, MLP_CROSS_ENTROPY, 77, 3, widths, acts);
    float X[BATCH * 4], Y[BATCH * 3];
    test_rng rng = {77};
    test_fill_uniform(&rng, X, BATCH * 4, -1, 1);
    make_targets(&rng, MLP_CROSS_ENTROPY, Y, BATCH, 3);
    float_check(net, X, Y, BATCH);
    mlp_net_free(net);
}

static void test_float_central_differences_bce(void **state)
{
    (void)state;
    const size_t widths[] = {5, 4, 2};
    const mlp_activation acts[] = {MLP_SIGMOID, MLP_TANH, MLP_SIGMOID};
    mlp_net *net = make_net(3, MLP_BCE, 78, 3, widths, acts);
    float X[BATCH * 3], Y[BATCH * 2] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
    test_rng rng = {78};
    test_fill_uniform(&rng, X, BATCH * 3, -2, 2);
    float_check(net, X, Y, BATCH);
    mlp_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_mse_identity),
        cmocka_unit_test(test_gradients_mse_sigmoid),
        cmocka_unit_test(test_gradients_mse_tanh),
        cmocka_unit_test(test_gradients_mse_relu),
        cmocka_unit_test(test_gradients_mse_leaky_relu),
        cmocka_unit_test(test_gradients_bce_sigmoid),
        cmocka_unit_test(test_gradients_cross_entropy_softmax),
        cmocka_unit_test(test_gradients_matrix_vector_path),
        cmocka_unit_test(test_float_central_differences_smooth_network),
        cmocka_unit_test(test_float_central_differences_bce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
