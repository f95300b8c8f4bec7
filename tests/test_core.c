/*
 * Core behaviour of networks: the worked example of SPEC.md number by number,
 * seeded initialization, batches of changing size, inference with a caller
 * workspace, training, gradient norms and clipping, and the rule that a
 * failed call leaves the network as it was.
 */
#include "internal.h"
#include "test_util.h"

/* ---- SPEC.md worked example: 2-2-1, sigmoid everywhere, MSE ---- */

static mlp_net *worked_example_net(void)
{
    const size_t widths[] = {2, 1};
    const mlp_activation acts[] = {MLP_SIGMOID, MLP_SIGMOID};
    mlp_net *net = make_net(2, MLP_MSE, 1, 2, widths, acts);
    const float W1[] = {0.1f, 0.3f, 0.2f, 0.4f}, b1[] = {0.1f, -0.1f};
    const float W2[] = {0.7f, -1.2f}, b2[] = {0.05f};
    assert_int_equal(mlp_layer_set_params(net, 0, W1, b1), MLP_OK);
    assert_int_equal(mlp_layer_set_params(net, 1, W2, b2), MLP_OK);
    return net;
}

static void expect_values(const float *actual, const double *expected, size_t count,
                          const char *what)
{
    for (size_t k = 0; k < count; k++)
        check_close(actual[k], expected[k], 1e-5, what);
}

static void test_worked_example_forward(void **state)
{
    (void)state;
    mlp_net *net = worked_example_net();
    const float x[] = {1.0f, 0.5f};
    const float *out, *Z, *A, *delta = x;
    size_t m;
    assert_int_equal(mlp_forward(net, x, 1, &out), MLP_OK);
    assert_int_equal(mlp_layer_cache(net, 0, &Z, &A, &delta, &m), MLP_OK);
    assert_int_equal(m, 1);
    assert_null(delta); /* no backward pass yet */
    expect_values(Z, (const double[]){0.35, 0.30}, 2, "z1");
    expect_values(A, (const double[]){0.586618, 0.574443}, 2, "a1");
    assert_int_equal(mlp_layer_cache(net, 1, &Z, &A, NULL, NULL), MLP_OK);
    expect_values(Z, (const double[]){-0.228699}, 1, "z2");
    expect_values(A, (const double[]){0.443073}, 1, "a2");
    assert_ptr_equal(out, A);
    mlp_net_free(net);
}

static void test_worked_example_backward(void **state)
{
    (void)state;
    mlp_net *net = worked_example_net();
    const float x[] = {1.0f, 0.5f}, y[] = {0.8f};
    const float *out, *delta, *dW, *db;
    float C;
    assert_int_equal(mlp_forward(net, x, 1, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, y, &C), MLP_OK);
    check_close(C, 0.063698, 1e-5, "C");

    assert_int_equal(mlp_layer_cache(net, 1, NULL, NULL, &delta, NULL), MLP_OK);
    assert_non_null(delta);
    expect_values(delta, (const double[]){-0.088075}, 1, "delta2");
    assert_int_equal(mlp_layer_grads(net, 1, &dW, &db), MLP_OK);
    expect_values(dW, (const double[]){-0.051666, -0.050594}, 2, "dW2");
    expect_values(db, (const double[]){-0.088075}, 1, "db2");

    assert_int_equal(mlp_layer_cache(net, 0, NULL, NULL, &delta, NULL), MLP_OK);
    expect_values(delta, (const double[]){-0.014951, 0.025837}, 2, "delta1");
    assert_int_equal(mlp_layer_grads(net, 0, &dW, &db), MLP_OK);
    expect_values(dW, (const double[]){-0.014951, -0.007475, 0.025837, 0.012918}, 4,
                  "dW1");
    expect_values(db, (const double[]){-0.014951, 0.025837}, 2, "db1");

    /* A new forward pass, of the same size, makes the deltas stale: hidden. */
    assert_int_equal(mlp_forward(net, x, 1, &out), MLP_OK);
    for (size_t l = 0; l < 2; l++) {
        assert_int_equal(mlp_layer_cache(net, l, NULL, NULL, &delta, NULL), MLP_OK);
        assert_null(delta);
    }
    mlp_net_free(net);
}

/* ---- Seeds and initialization ---- */

static mlp_net *seeded_net(uint64_t seed)
{
    const size_t widths[] = {8, 6, 3};
    const mlp_activation acts[] = {MLP_RELU, MLP_TANH, MLP_SIGMOID};
    return make_net(5, MLP_MSE, seed, 3, widths, acts);
}

/* 50 momentum SGD steps on a fixed random problem. */
static void train_steps(mlp_net *net, size_t steps)
{
    float X[10 * 5], Y[10 * 3];
    test_rng rng = {7};
    test_fill_uniform(&rng, X, 50, -1, 1);
    test_fill_uniform(&rng, Y, 30, 0, 1);
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.9f, 0.01f), MLP_OK);
    for (size_t s = 0; s < steps; s++)
        assert_int_equal(mlp_train_batch(net, opt, X, Y, 10, NULL), MLP_OK);
    mlp_optimizer_free(opt);
}

static void test_same_seed_gives_identical_weights(void **state)
{
    (void)state;
    mlp_net *a = seeded_net(42), *b = seeded_net(42);
    size_t n = mlp_net_param_count(a);
    float *pa = snapshot_params(a), *pb = snapshot_params(b);
    assert_memory_equal(pa, pb, n * sizeof *pa);
    free(pa);
    free(pb);
    train_steps(a, 50);
    train_steps(b, 50);
    pa = snapshot_params(a);
    pb = snapshot_params(b);
    assert_memory_equal(pa, pb, n * sizeof *pa);
    free(pa);
    free(pb);
    mlp_net_free(a);
    mlp_net_free(b);
}

static void test_different_seed_gives_different_weights(void **state)
{
    (void)state;
    mlp_net *a = seeded_net(42), *b = seeded_net(43);
    float *pa = snapshot_params(a), *pb = snapshot_params(b);
    assert_memory_not_equal(pa, pb, mlp_net_param_count(a) * sizeof *pa);
    free(pa);
    free(pb);
    mlp_net_free(a);
    mlp_net_free(b);
}

/* mlp_layer_set_params copies W and b bit for bit (signed zeros,
 * subnormals and FLT_MAX included), keeps the part given as NULL and every
 * other layer, and takes views of the same layer as its source. */
static void test_set_params_copies_exactly(void **state)
{
    (void)state;
    const size_t widths[] = {3, 2};
    const mlp_activation acts[] = {MLP_TANH, MLP_IDENTITY};
    mlp_net *net = make_net(2, MLP_MSE, 5, 2, widths, acts);
    const size_t n = mlp_net_param_count(net);
    const float W[] = {-0.0f, FLT_MAX, -FLT_MIN / 8.0f, 1.5f, 0.0f, -2.25f};
    const float b[] = {0.125f, -0.0f, -FLT_MAX};
    float *expected = snapshot_params(net); /* layer 0's W leads the block, b follows */
    assert_int_equal(mlp_layer_set_params(net, 0, NULL, b), MLP_OK);
    memcpy(expected + 6, b, sizeof b);
    float *now = snapshot_params(net);
    assert_memory_equal(now, expected, n * sizeof *now);
    free(now);
    assert_int_equal(mlp_layer_set_params(net, 0, W, NULL), MLP_OK);
    memcpy(expected, W, sizeof W);
    now = snapshot_params(net);
    assert_memory_equal(now, expected, n * sizeof *now);
    free(now);
    const float *W_view, *b_view;
    assert_int_equal(mlp_layer_params_const(net, 0, &W_view, &b_view, NULL, NULL),
                     MLP_OK);
    assert_int_equal(mlp_layer_set_params(net, 0, W_view, b_view), MLP_OK);
    expect_params_equal(net, expected);
    mlp_net_free(net);
}

static void expect_zero_biases(mlp_net *net, size_t layer)
{
    float *b;
    size_t n_out;
    assert_int_equal(mlp_layer_params(net, layer, NULL, &b, &n_out, NULL), MLP_OK);
    for (size_t j = 0; j < n_out; j++)
        assert_true(b[j] == 0.0f);
}

/* Every weight within the Glorot limit, and the largest close to it (so the
 * draw is not degenerate). */
static void expect_glorot(mlp_net *net, size_t layer)
{
    float *W;
    size_t n_out, n_in;
    assert_int_equal(mlp_layer_params(net, layer, &W, NULL, &n_out, &n_in), MLP_OK);
    double limit = sqrt(6.0 / (double)(n_in + n_out)), largest = 0.0, sum = 0.0;
    for (size_t k = 0; k < n_out * n_in; k++) {
        assert_true(fabs(W[k]) <= limit * (1.0 + 1e-6));
        largest = fmax(largest, fabs(W[k]));
        sum += W[k];
    }
    assert_true(largest > 0.9 * limit);
    check_close(sum / (double)(n_out * n_in), 0.0, 0.1 * limit, "Glorot mean");
    expect_zero_biases(net, layer);
}

static void test_glorot_uniform_initialization(void **state)
{
    (void)state;
    const size_t widths[] = {40, 30, 20};
    const mlp_activation acts[] = {MLP_SIGMOID, MLP_TANH, MLP_IDENTITY};
    mlp_net *net = make_net(50, MLP_MSE, 3, 3, widths, acts);
    for (size_t l = 0; l < 3; l++)
        expect_glorot(net, l);
    mlp_net_free(net);
    mlp_net *ce = make_net(50, MLP_CROSS_ENTROPY, 3, 1, (const size_t[]){40},
                           (const mlp_activation[]){MLP_SOFTMAX});
    expect_glorot(ce, 0);
    mlp_net_free(ce);
}

/* He normal as PyTorch's kaiming_normal_: std sqrt(2 / ((1 + a^2) n_in)),
 * a the leaky slope (0 for ReLU). A million weights pin the std to 0.25%
 * (its standard error is 0.07%), which tells a = 0.01 from a = 0.1. */
static void expect_he_normal(mlp_activation act)
{
    enum { WIDTH = 1000 };
    mlp_net *net = make_net(WIDTH, MLP_MSE, 11, 1, (const size_t[]){WIDTH},
                            (const mlp_activation[]){act});
    float *W;
    assert_int_equal(mlp_layer_params(net, 0, &W, NULL, NULL, NULL), MLP_OK);
    double sum = 0.0, sum_sq = 0.0;
    const size_t count = (size_t)WIDTH * WIDTH;
    for (size_t k = 0; k < count; k++) {
        sum += W[k];
        sum_sq += (double)W[k] * W[k];
    }
    double mean = sum / count, std = sqrt(sum_sq / count - mean * mean);
    double a = act == MLP_LEAKY_RELU ? 0.01 : 0.0;
    double expected = sqrt(2.0 / ((1.0 + a * a) * WIDTH));
    check_close(mean, 0.0, 0.005 * expected, "He mean");
    check_rel(std, expected, 0.0025, 0.0, "He std");
    expect_zero_biases(net, 0);
    mlp_net_free(net);
}

static void test_he_normal_initialization(void **state)
{
    (void)state;
    expect_he_normal(MLP_RELU);
    expect_he_normal(MLP_LEAKY_RELU);
}

/* The generator is xoshiro256** seeded by splitmix64, as published: the
 * reference outputs from state {1, 2, 3, 4}, and splitmix64's from 0 (a
 * changed stream would silently change every seeded model and the README's
 * figures). The normal draw is Box-Muller on 1 - u1 and u2. */
static void test_rng_matches_reference(void **state)
{
    (void)state;
    mlp_rng rng = {{1, 2, 3, 4}};
    const uint64_t expected[] = {11520u,
                                 0u,
                                 1509978240u,
                                 1215971899390074240u,
                                 1216172134540287360u,
                                 607988272756665600u};
    for (size_t k = 0; k < sizeof expected / sizeof expected[0]; k++)
        assert_true(mlp_rng_next(&rng) == expected[k]);
    mlp_rng_seed(&rng, 0);
    const uint64_t seeded[] = {0xe220a8397b1dcdafu, 0x6e789e6aa1b965f4u,
                               0x06c45d188009454fu, 0xf88bb8a8724c81ecu};
    assert_memory_equal(rng.s, seeded, sizeof seeded);

    mlp_rng draw = {{1, 2, 3, 4}}; /* first outputs 11520 and 0 */
    double u1 = (double)(11520u >> 11) * 0x1.0p-53, u2 = 0.0;
    double normal = sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
    assert_true(mlp_rng_normal(&draw) == normal);
}

/* ---- Batches of changing size, predict and infer ---- */

static mlp_net *batch_net(void)
{
    const size_t widths[] = {6, 5, 3};
    const mlp_activation acts[] = {MLP_TANH, MLP_LEAKY_RELU, MLP_SIGMOID};
    return make_net(4, MLP_MSE, 5, 3, widths, acts);
}

static void test_changing_batch_size_matches_single_rows(void **state)
{
    (void)state;
    mlp_net *net = batch_net();
    const size_t sizes[] = {7, 3, 11, 1};
    float X[22 * 4], single[3];
    test_rng rng = {3};
    test_fill_uniform(&rng, X, 22 * 4, -2, 2);
    const float *out;
    size_t row = 0;
    for (size_t s = 0; s < 4; s++) {
        float batch[11 * 3];
        assert_int_equal(mlp_forward(net, X + row * 4, sizes[s], &out), MLP_OK);
        memcpy(batch, out, sizes[s] * 3 * sizeof *batch);
        for (size_t i = 0; i < sizes[s]; i++) {
            assert_int_equal(mlp_predict(net, X + (row + i) * 4, 1, single), MLP_OK);
            for (size_t j = 0; j < 3; j++)
                check_rel(batch[i * 3 + j], single[j], 1e-6, 1e-6, "batch row vs single");
        }
        row += sizes[s];
    }
    mlp_net_free(net);
}

/* With one row every layer of batch_net takes the tiny-layer path in
 * mlp_predict; with nine, the matrix core. mlp_infer must agree bit for bit
 * with both. */
static void test_infer_matches_predict(void **state)
{
    (void)state;
    mlp_net *net = batch_net();
    float X[9 * 4], predicted[9 * 3], inferred[9 * 3];
    test_rng rng = {4};
    test_fill_uniform(&rng, X, 9 * 4, -2, 2);
    const size_t ms[] = {1, 9};
    for (size_t k = 0; k < 2; k++) {
        size_t m = ms[k];
        size_t work_len = mlp_infer_workspace_size(net, m);
        assert_int_equal(work_len, 2 * m * 6);
        float *work = malloc(work_len * sizeof *work);
        assert_non_null(work);
        assert_int_equal(mlp_predict(net, X, m, predicted), MLP_OK);
        assert_int_equal(mlp_infer(net, X, m, inferred, work, work_len), MLP_OK);
        assert_memory_equal(predicted, inferred, m * 3 * sizeof *predicted);
        free(work);
    }
    mlp_net_free(net);
}

/* Layers that take the tiny path and layers that do not, in turn: at one
 * row 2 -> 4, 32 -> 2, 2 -> 2 and 40 -> 1 are tiny and 4 -> 32 and 2 -> 40
 * are not; at two rows only 2 -> 4 and 2 -> 2 are. mlp_infer keeps each
 * tiny layer's A out of the buffer its A_prev is in, so it must agree bit
 * for bit with mlp_predict, also when out is X itself. */
static void test_infer_mixes_tiny_and_general_layers(void **state)
{
    (void)state;
    const size_t widths[] = {4, 32, 2, 2, 40, 1};
    const mlp_activation acts[] = {MLP_RELU, MLP_TANH,     MLP_LEAKY_RELU,
                                   MLP_RELU, MLP_IDENTITY, MLP_SIGMOID};
    mlp_net *net = make_net(2, MLP_MSE, 8, 6, widths, acts);
    float X[3 * 2], predicted[3], inferred[3], in_place[3 * 2], work[2 * 3 * 40];
    test_rng rng = {5};
    test_fill_uniform(&rng, X, 3 * 2, -2, 2);
    for (size_t m = 1; m <= 3; m++) {
        size_t work_len = mlp_infer_workspace_size(net, m);
        assert_int_equal(work_len, 2 * m * 40);
        assert_int_equal(mlp_predict(net, X, m, predicted), MLP_OK);
        assert_int_equal(mlp_infer(net, X, m, inferred, work, work_len), MLP_OK);
        assert_memory_equal(predicted, inferred, m * sizeof *predicted);
        memcpy(in_place, X, sizeof X);
        assert_int_equal(mlp_infer(net, in_place, m, in_place, work, work_len), MLP_OK);
        assert_memory_equal(predicted, in_place, m * sizeof *predicted);
    }
    mlp_net_free(net);
}

static void test_infer_leaves_cache_alone(void **state)
{
    (void)state;
    mlp_net *net = batch_net();
    float X[2 * 4] = {0.1f, 0.2f, 0.3f, 0.4f, -1, -2, -3, -4}, out[2 * 3],
                work[2 * 2 * 6];
    const float *A, *before;
    size_t m;
    assert_int_equal(mlp_forward(net, X, 1, &before), MLP_OK);
    float saved[3];
    memcpy(saved, before, sizeof saved);
    assert_int_equal(mlp_infer(net, X + 4, 1, out, work, 12), MLP_OK);
    assert_int_equal(mlp_layer_cache(net, 2, NULL, &A, NULL, &m), MLP_OK);
    assert_int_equal(m, 1);
    assert_memory_equal(A, saved, sizeof saved);
    assert_memory_not_equal(out, saved, sizeof saved);
    mlp_net_free(net);
}

static void test_infer_refuses_small_workspace(void **state)
{
    (void)state;
    mlp_net *net = batch_net();
    float X[3 * 4] = {0}, out[3 * 3], work[2 * 3 * 6];
    size_t needed = mlp_infer_workspace_size(net, 3);
    assert_int_equal(needed, 36);
    assert_int_equal(mlp_infer(net, X, 3, out, work, needed - 1), MLP_ERR_SHAPE);
    assert_int_equal(mlp_infer(net, X, 3, out, work, 0), MLP_ERR_SHAPE);
    assert_int_equal(mlp_infer(net, X, 3, out, work, needed), MLP_OK);
    mlp_net_free(net);
}

/* ---- Training, gradient norms and clipping ---- */

/* A smooth regression problem: y = sin(x0) + x1 x2 / 2. */
static void regression_data(float *X, float *Y, size_t n)
{
    test_rng rng = {9};
    test_fill_uniform(&rng, X, n * 3, -1, 1);
    for (size_t i = 0; i < n; i++)
        Y[i] = sinf(X[i * 3]) + 0.5f * X[i * 3 + 1] * X[i * 3 + 2];
}

static mlp_net *regression_net(void)
{
    const size_t widths[] = {16, 8, 1};
    const mlp_activation acts[] = {MLP_TANH, MLP_RELU, MLP_IDENTITY};
    return make_net(3, MLP_MSE, 21, 3, widths, acts);
}

static void test_train_batch_reduces_loss(void **state)
{
    (void)state;
    mlp_net *net = regression_net();
    float X[32 * 3], Y[32], first, loss;
    regression_data(X, Y, 32);
    mlp_optimizer *opt;
    assert_int_equal(mlp_adam_create(&opt, net, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f),
                     MLP_OK);
    assert_int_equal(mlp_train_batch(net, opt, X, Y, 32, &first), MLP_OK);
    for (int s = 0; s < 300; s++)
        assert_int_equal(mlp_train_batch(net, opt, X, Y, 32, &loss), MLP_OK);
    assert_true(loss < 0.1f * first);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* The global norm of every dW and db, from the public views. */
static double grads_norm(mlp_net *net, size_t first, size_t last)
{
    double sum = 0.0;
    for (size_t l = first; l <= last; l++) {
        const float *dW, *db;
        size_t n_out, n_in;
        assert_int_equal(mlp_layer_params(net, l, NULL, NULL, &n_out, &n_in), MLP_OK);
        assert_int_equal(mlp_layer_grads(net, l, &dW, &db), MLP_OK);
        for (size_t k = 0; k < n_out * n_in; k++)
            sum += (double)dW[k] * dW[k];
        for (size_t j = 0; j < n_out; j++)
            sum += (double)db[j] * db[j];
    }
    return sqrt(sum);
}

static mlp_net *net_with_grads(float *X, float *Y)
{
    mlp_net *net = regression_net();
    const float *out;
    regression_data(X, Y, 8);
    assert_int_equal(mlp_forward(net, X, 8, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);
    return net;
}

static void test_layer_grad_norm_matches_grads(void **state)
{
    (void)state;
    float X[8 * 3], Y[8], norm;
    mlp_net *net = net_with_grads(X, Y);
    for (size_t l = 0; l < 3; l++) {
        assert_int_equal(mlp_layer_grad_norm(net, l, &norm), MLP_OK);
        double expected = grads_norm(net, l, l);
        assert_true(expected > 0.0);
        check_rel(norm, expected, 1e-6, 0.0, "layer grad norm");
    }
    mlp_net_free(net);
}

static void test_clip_grad_norm_scales_to_max_norm(void **state)
{
    (void)state;
    float X[8 * 3], Y[8], total;
    mlp_net *net = net_with_grads(X, Y);
    double before = grads_norm(net, 0, 2);
    float max_norm = (float)(before / 4.0);
    assert_int_equal(mlp_clip_grad_norm(net, max_norm, &total), MLP_OK);
    check_rel(total, before, 1e-6, 0.0, "norm before clipping");
    check_rel(grads_norm(net, 0, 2), max_norm, 1e-5, 0.0, "norm after clipping");
    mlp_net_free(net);
}

static void test_clip_grad_norm_leaves_small_grads_alone(void **state)
{
    (void)state;
    float X[8 * 3], Y[8], total;
    mlp_net *net = net_with_grads(X, Y);
    float *grads = snapshot_grads(net);
    double before = grads_norm(net, 0, 2);
    assert_int_equal(mlp_clip_grad_norm(net, (float)(2.0 * before), &total), MLP_OK);
    check_rel(total, before, 1e-6, 0.0, "norm reported");
    assert_int_equal(mlp_clip_grad_norm(net, (float)(2.0 * before), NULL), MLP_OK);
    expect_grads_equal(net, grads);
    mlp_net_free(net);
}

/* An n_in -> 1 identity unit at W = 0, b = 0 after one MSE backward pass on
 * the sample (x, y): dW = -y x and db = -y, gradients chosen exactly. */
static mlp_net *zero_unit_with_grads(size_t n_in, const float *x, float y)
{
    mlp_net *net = make_net(n_in, MLP_MSE, 1, 1, (const size_t[]){1},
                            (const mlp_activation[]){MLP_IDENTITY});
    float *W, *b;
    assert_int_equal(mlp_layer_params(net, 0, &W, &b, NULL, NULL), MLP_OK);
    memset(W, 0, n_in * sizeof *W);
    b[0] = 0.0f;
    const float *out;
    assert_int_equal(mlp_forward(net, x, 1, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, &y, NULL), MLP_OK);
    return net;
}

/* Finite gradients whose norm, summed in double, is beyond FLT_MAX: the
 * reported norm rounds to infinity, and the gradients are still clipped.
 * Inputs of 3e19 with target -1e19 give dW = 3e38 four times and db = 1e19:
 * norm about 6e38. */
static void test_clip_grad_norm_beyond_float_range(void **state)
{
    (void)state;
    const float X[4] = {3e19f, 3e19f, 3e19f, 3e19f};
    mlp_net *net = zero_unit_with_grads(4, X, -1e19f);
    double before = grads_norm(net, 0, 0);
    assert_true(isfinite(before) && before > FLT_MAX);
    float total = 0.0f;
    assert_int_equal(mlp_clip_grad_norm(net, 1.0f, &total), MLP_OK);
    assert_true(isinf(total));
    check_rel(grads_norm(net, 0, 0), 1.0, 1e-6, 0.0, "norm after clipping");
    mlp_net_free(net);
}

/* At norm == max_norm exactly the gradients are left alone ("exceeds"):
 * x = 0.75 with target -4 gives dW = 3 and db = 4, a norm of exactly 5. */
static void test_clip_grad_norm_at_max_norm_leaves_grads(void **state)
{
    (void)state;
    const float x = 0.75f, y = -4.0f;
    mlp_net *net = zero_unit_with_grads(1, &x, y);
    float total = 0.0f;
    assert_int_equal(mlp_clip_grad_norm(net, 5.0f, &total), MLP_OK);
    assert_true(total == 5.0f);
    const float *dW, *db;
    assert_int_equal(mlp_layer_grads(net, 0, &dW, &db), MLP_OK);
    assert_true(dW[0] == 3.0f && db[0] == 4.0f);
    assert_int_equal(mlp_clip_grad_norm(net, 4.999999f, &total), MLP_OK);
    assert_true(dW[0] < 3.0f && db[0] < 4.0f); /* just below: scaled */
    /* the scale is PyTorch's max_norm / (norm + 1e-6), rounded to float */
    mlp_net_free(net);
    net = zero_unit_with_grads(1, &x, y);
    assert_int_equal(mlp_layer_grads(net, 0, &dW, &db), MLP_OK);
    assert_int_equal(mlp_clip_grad_norm(net, 1.0f, &total), MLP_OK);
    const float scale = (float)(1.0 / (5.0 + 1e-6));
    assert_true(dW[0] == 3.0f * scale && db[0] == 4.0f * scale);
    assert_true(scale != 0.2f);
    mlp_net_free(net);
}

/* The overflow check of size products is exact: a product of exactly
 * SIZE_MAX fits, one more does not. */
static void test_mul_overflows_is_exact(void **state)
{
    (void)state;
    size_t product = 0;
    const size_t half = (size_t)1 << (sizeof(size_t) * 4); /* 2^32 on 64-bit */
    assert_false(mlp_mul_overflows(half + 1, half - 1, &product));
    assert_true(product == SIZE_MAX);
    assert_true(mlp_mul_overflows(half, half, &product));
    assert_false(mlp_mul_overflows(SIZE_MAX, 1, &product));
    assert_true(product == SIZE_MAX);
    assert_true(mlp_mul_overflows(SIZE_MAX, 2, &product));
    assert_false(mlp_mul_overflows(0, SIZE_MAX, &product));
    assert_true(product == 0);
}

/* ---- A failed call leaves the network as it was ---- */

static void expect_add_dense_refused(mlp_net *net, size_t n_outputs, mlp_activation act,
                                     mlp_status expected)
{
    float *params = snapshot_params(net), *grads = snapshot_grads(net);
    size_t layers = mlp_net_layers(net), count = mlp_net_param_count(net);
    assert_int_equal(mlp_net_add_dense(net, n_outputs, act), expected);
    assert_int_equal(mlp_net_layers(net), layers);
    assert_int_equal(mlp_net_param_count(net), count);
    expect_params_equal(net, params);
    expect_grads_equal(net, grads);
}

static void test_failed_add_dense_changes_nothing(void **state)
{
    (void)state;
    float X[8 * 3], Y[8];
    mlp_net *net = net_with_grads(X, Y);
    expect_add_dense_refused(net, 0, MLP_TANH, MLP_ERR_ARG);
    expect_add_dense_refused(net, 4, MLP_SOFTMAX, MLP_ERR_ARG);
    expect_add_dense_refused(net, 4, (mlp_activation)99, MLP_ERR_ARG);
    expect_add_dense_refused(net, SIZE_MAX / 2, MLP_TANH, MLP_ERR_SHAPE);
    /* the cached batch survives too: backward still works */
    assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);
    mlp_net_free(net);
}

static void test_failed_forward_keeps_cache(void **state)
{
    (void)state;
    float X[8 * 3], Y[8], bad[8 * 3];
    mlp_net *net = net_with_grads(X, Y);
    const float *Z, *out, *Z_after;
    size_t m;
    assert_int_equal(mlp_layer_cache(net, 1, &Z, NULL, NULL, NULL), MLP_OK);
    float saved[8 * 8];
    memcpy(saved, Z, sizeof saved);
    float *params = snapshot_params(net);
    memcpy(bad, X, sizeof bad);
    bad[5] = NAN;
    assert_int_equal(mlp_forward(net, bad, 8, &out), MLP_ERR_ARG);
    bad[5] = INFINITY;
    assert_int_equal(mlp_forward(net, bad, 8, &out), MLP_ERR_ARG);
    assert_int_equal(mlp_forward(net, X, SIZE_MAX / 2, &out), MLP_ERR_SHAPE);
    assert_int_equal(mlp_forward(net, X, 0, &out), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_cache(net, 1, &Z_after, NULL, NULL, &m), MLP_OK);
    assert_int_equal(m, 8);
    assert_memory_equal(Z_after, saved, sizeof saved);
    expect_params_equal(net, params);
    mlp_net_free(net);
}

static void test_failed_backward_keeps_grads(void **state)
{
    (void)state;
    float X[8 * 3], Y[8], bad[8];
    mlp_net *net = net_with_grads(X, Y);
    float *params = snapshot_params(net), *grads = snapshot_grads(net);
    memcpy(bad, Y, sizeof bad);
    bad[3] = NAN;
    assert_int_equal(mlp_backward(net, bad, NULL), MLP_ERR_ARG);
    bad[3] = -INFINITY;
    assert_int_equal(mlp_backward(net, bad, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_backward(net, NULL, NULL), MLP_ERR_ARG);
    expect_grads_equal(net, grads);
    expect_params_equal(net, params);
    mlp_net_free(net);
}

/* An infinite output makes the loss infinite: backward
 * reports MLP_ERR_NUMERIC, keeps the old gradients, and training takes no
 * step. */
static void test_infinite_loss_keeps_grads_and_params(void **state)
{
    (void)state;
    float X[8 * 3], Y[8], loss = 0.0f;
    mlp_net *net = net_with_grads(X, Y);
    float *b;
    assert_int_equal(mlp_layer_params(net, 2, NULL, &b, NULL, NULL), MLP_OK);
    b[0] = INFINITY;
    float *params = snapshot_params(net), *grads = snapshot_grads(net);
    const float *out;
    assert_int_equal(mlp_forward(net, X, 8, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, &loss), MLP_ERR_NUMERIC);
    assert_int_equal(mlp_loss_value(net, Y, &loss), MLP_ERR_NUMERIC);
    expect_grads_equal(net, grads);
    grads = snapshot_grads(net);
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.0f, 0.0f), MLP_OK);
    assert_int_equal(mlp_train_batch(net, opt, X, Y, 8, &loss), MLP_ERR_NUMERIC);
    expect_params_equal(net, params);
    expect_grads_equal(net, grads); /* not even db^(L), made with the loss */
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* Copies the deltas of the three layers of net_with_grads's network (8
 * rows, widths at most 16) into out. */
static void copy_deltas(mlp_net *net, float out[3][8 * 16])
{
    for (size_t l = 0; l < 3; l++) {
        const float *delta;
        size_t m, n_out;
        assert_int_equal(mlp_layer_cache(net, l, NULL, NULL, &delta, &m), MLP_OK);
        assert_int_equal(mlp_layer_params(net, l, NULL, NULL, &n_out, NULL), MLP_OK);
        assert_non_null(delta);
        memset(out[l], 0, sizeof out[l]);
        memcpy(out[l], delta, m * n_out * sizeof(float));
    }
}

/* A second mlp_backward on the same batch whose loss is not a float (finite
 * targets near FLT_MAX) is refused and leaves the deltas the first one made,
 * which mlp_layer_cache shows, as well as the gradients. */
static void test_second_backward_refused_keeps_deltas(void **state)
{
    (void)state;
    float X[8 * 3], Y[8], huge[8], before[3][8 * 16], after[3][8 * 16];
    mlp_net *net = net_with_grads(X, Y);
    float *grads = snapshot_grads(net);
    copy_deltas(net, before);
    for (size_t i = 0; i < 8; i++)
        huge[i] = (i % 2 ? -3e38f : 3e38f);
    assert_int_equal(mlp_backward(net, huge, NULL), MLP_ERR_NUMERIC);
    copy_deltas(net, after);
    assert_memory_equal(before, after, sizeof before);
    expect_grads_equal(net, grads);
    mlp_net_free(net);
}

/* ---- mlp_train_batch is mlp_forward, mlp_backward, mlp_optimizer_step ---- */

/* One step both ways on two nets with the same seed: the loss reported and
 * every parameter after the step are bit for bit the same. */
static void expect_train_batch_matches_calls(mlp_loss loss, mlp_activation out_act,
                                             size_t m)
{
    const size_t n_in = 2, n_out = 3;
    const size_t widths[] = {4, n_out};
    const mlp_activation acts[] = {MLP_TANH, out_act};
    mlp_net *a = make_net(n_in, loss, 11, 2, widths, acts);
    mlp_net *b = make_net(n_in, loss, 11, 2, widths, acts);
    float X[9 * 2], Y[9 * 3];
    test_rng rng = {5};
    test_fill_uniform(&rng, X, m * n_in, -2, 2);
    test_fill_uniform(&rng, Y, m * n_out, 0.05, 0.95);
    if (loss == MLP_CROSS_ENTROPY) /* rows of Y are distributions */
        for (size_t i = 0; i < m; i++) {
            float *y = Y + i * n_out;
            float sum = y[0] + y[1];
            y[0] /= sum;
            y[1] /= sum;
            y[2] = 0.0f;
        }
    mlp_optimizer *opt_a, *opt_b;
    assert_int_equal(mlp_sgd_create(&opt_a, a, 0.1f, 0.9f, 0.0f), MLP_OK);
    assert_int_equal(mlp_sgd_create(&opt_b, b, 0.1f, 0.9f, 0.0f), MLP_OK);
    float loss_a = NAN, loss_b = NAN;
    const float *out;
    for (int step = 0; step < 3; step++) {
        assert_int_equal(mlp_train_batch(a, opt_a, X, Y, m, &loss_a), MLP_OK);
        assert_int_equal(mlp_forward(b, X, m, &out), MLP_OK);
        assert_int_equal(mlp_backward(b, Y, &loss_b), MLP_OK);
        assert_int_equal(mlp_optimizer_step(opt_b, b), MLP_OK);
        assert_true(isfinite(loss_a));
        assert_memory_equal(&loss_a, &loss_b, sizeof loss_a);
    }
    float *pa = snapshot_params(a), *pb = snapshot_params(b);
    assert_memory_equal(pa, pb, mlp_net_param_count(a) * sizeof *pa);
    free(pa);
    free(pb);
    mlp_optimizer_free(opt_a);
    mlp_optimizer_free(opt_b);
    mlp_net_free(a);
    mlp_net_free(b);
}

/* Every accepted output/loss pair, one row (the tiny path) and nine. */
static void test_train_batch_matches_separate_calls(void **state)
{
    (void)state;
    static const struct {
        mlp_loss loss;
        mlp_activation act;
    } pairs[] = {{MLP_MSE, MLP_IDENTITY},
                 {MLP_MSE, MLP_SIGMOID},
                 {MLP_MSE, MLP_TANH},
                 {MLP_MSE, MLP_RELU},
                 {MLP_MSE, MLP_LEAKY_RELU},
                 {MLP_BCE, MLP_SIGMOID},
                 {MLP_CROSS_ENTROPY, MLP_SOFTMAX}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        expect_train_batch_matches_calls(pairs[k].loss, pairs[k].act, 1);
        expect_train_batch_matches_calls(pairs[k].loss, pairs[k].act, 9);
    }
}

/* ---- db is the column sums of delta, in every layer ---- */

/* After a backward pass, each layer's db holds the column sums of its delta,
 * summed from the first row down, bit for bit: db is made where delta is
 * made (the loss pass for the output layer, narrow or wide; the g' pass or
 * the tiny loop for the others), not read back from it. */
static void expect_db_column_sums(size_t n_out, size_t m)
{
    const size_t widths[] = {9, n_out};
    const mlp_activation acts[] = {MLP_TANH, MLP_IDENTITY};
    mlp_net *net = make_net(3, MLP_MSE, 17, 2, widths, acts);
    float X[7 * 3], Y[7 * 20];
    test_rng rng = {9};
    test_fill_uniform(&rng, X, m * 3, -1, 1);
    test_fill_uniform(&rng, Y, m * n_out, -1, 1);
    const float *out;
    assert_int_equal(mlp_forward(net, X, m, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);
    for (size_t l = 0; l < 2; l++) {
        const float *delta, *db;
        size_t rows, n = widths[l];
        assert_int_equal(mlp_layer_cache(net, l, NULL, NULL, &delta, &rows), MLP_OK);
        assert_int_equal(mlp_layer_grads(net, l, NULL, &db), MLP_OK);
        assert_int_equal(rows, m);
        for (size_t j = 0; j < n; j++) {
            float sum = delta[j];
            for (size_t i = 1; i < m; i++)
                sum += delta[i * n + j];
            assert_memory_equal(&sum, &db[j], sizeof sum);
        }
    }
    mlp_net_free(net);
}

/* Outputs of 3 and 20 (the loss pass sums narrow outputs column by column,
 * wide ones row by row), one row (the tiny path) and seven. */
static void test_db_is_column_sums_of_delta(void **state)
{
    (void)state;
    expect_db_column_sums(3, 1);
    expect_db_column_sums(3, 7);
    expect_db_column_sums(20, 1);
    expect_db_column_sums(20, 7);
}

/* ---- saturated outputs: SPEC.md's logs that cannot produce -inf ---- */

/* One dense layer 1 -> n with the given weights W, no bias, on input x:
 * mlp_loss_value's status against y, the loss in *value. */
static mlp_status output_loss(mlp_loss loss, mlp_activation act, const float *W, size_t n,
                              float x, const float *y, float *value)
{
    mlp_net *net = NULL;
    assert_int_equal(mlp_net_create(&net, 1, loss, 1), MLP_OK);
    assert_int_equal(mlp_net_add_dense(net, n, act), MLP_OK);
    float *w, *b;
    assert_int_equal(mlp_layer_params(net, 0, &w, &b, NULL, NULL), MLP_OK);
    memcpy(w, W, n * sizeof *w);
    memset(b, 0, n * sizeof *b);
    const float *out;
    assert_int_equal(mlp_forward(net, &x, 1, &out), MLP_OK);
    mlp_status status = mlp_loss_value(net, y, value);
    mlp_net_free(net);
    return status;
}

/* The same on x = 1, where the logits are the weights: the loss, which
 * must be a finite float. */
static float saturated_loss(mlp_loss loss, mlp_activation act, const float *W, size_t n,
                            const float *y)
{
    float value = NAN;
    assert_int_equal(output_loss(loss, act, W, n, 1.0f, y, &value), MLP_OK);
    return value;
}

/* Outputs that round to 0 or 1 still give the exact, finite loss: softmax
 * with logits 100, 0, -100 (the last probability underflows to 0), and a
 * sigmoid at 100 (rounds to 1). */
static void test_saturated_outputs_keep_exact_loss(void **state)
{
    (void)state;
    const float logits[3] = {100.0f, 0.0f, -100.0f};
    const float last[3] = {0, 0, 1}, middle[3] = {0, 1, 0}, first[3] = {1, 0, 0};
    assert_float_equal(saturated_loss(MLP_CROSS_ENTROPY, MLP_SOFTMAX, logits, 3, last),
                       200.0f, 1e-3f);
    assert_float_equal(saturated_loss(MLP_CROSS_ENTROPY, MLP_SOFTMAX, logits, 3, middle),
                       100.0f, 1e-3f);
    assert_float_equal(saturated_loss(MLP_CROSS_ENTROPY, MLP_SOFTMAX, logits, 3, first),
                       0.0f, 1e-6f);
    const float z = 100.0f, zero = 0.0f, one = 1.0f;
    assert_float_equal(saturated_loss(MLP_BCE, MLP_SIGMOID, &z, 1, &zero), 100.0f, 1e-3f);
    assert_float_equal(saturated_loss(MLP_BCE, MLP_SIGMOID, &z, 1, &one), 0.0f, 1e-6f);
}

/* Logits that overflowed to infinity (3e38 times an input of 10) still give
 * the exact loss where the target agrees with the saturated output, since
 * a term whose target weight is zero contributes nothing; elsewhere the
 * loss is infinite and refused. */
static void test_overflowed_logits_keep_exact_loss(void **state)
{
    (void)state;
    const float up = 3e38f, down = -3e38f, zero = 0.0f, one = 1.0f, half = 0.5f;
    float value = NAN;
    assert_int_equal(output_loss(MLP_BCE, MLP_SIGMOID, &up, 1, 10.0f, &one, &value),
                     MLP_OK);
    assert_true(value == 0.0f);
    assert_int_equal(output_loss(MLP_BCE, MLP_SIGMOID, &up, 1, 10.0f, &zero, &value),
                     MLP_ERR_NUMERIC);
    assert_int_equal(output_loss(MLP_BCE, MLP_SIGMOID, &up, 1, 10.0f, &half, &value),
                     MLP_ERR_NUMERIC);
    value = NAN;
    assert_int_equal(output_loss(MLP_BCE, MLP_SIGMOID, &down, 1, 10.0f, &zero, &value),
                     MLP_OK);
    assert_true(value == 0.0f);
    assert_int_equal(output_loss(MLP_BCE, MLP_SIGMOID, &down, 1, 10.0f, &one, &value),
                     MLP_ERR_NUMERIC);
    /* softmax: a class at -infinity has probability 0 */
    const float W[2] = {0.0f, down}, first_class[2] = {1, 0}, second_class[2] = {0, 1};
    value = NAN;
    assert_int_equal(
        output_loss(MLP_CROSS_ENTROPY, MLP_SOFTMAX, W, 2, 10.0f, first_class, &value),
        MLP_OK);
    assert_true(value == 0.0f);
    assert_int_equal(
        output_loss(MLP_CROSS_ENTROPY, MLP_SOFTMAX, W, 2, 10.0f, second_class, &value),
        MLP_ERR_NUMERIC);
}

/* Cross-entropy's loss against the log-sum-exp formula in double on every
 * width that loss.c compiles apart (2 to 4 classes) and one beyond, with
 * the top logit first, in the middle and last, and a spread target. */
static void test_cross_entropy_loss_on_every_width(void **state)
{
    (void)state;
    for (size_t n = 2; n <= 5; n++)
        for (size_t top = 0; top < n; top += n / 2) {
            float logits[5], y[5] = {0};
            double log_sum = 0.0;
            for (size_t j = 0; j < n; j++) {
                logits[j] = j == top ? 2.0f : -0.7f * (float)j;
                log_sum += exp((double)logits[j]);
            }
            log_sum = log(log_sum);
            y[0] = 0.25f;
            y[n - 1] += 0.75f;
            double want = 0.0;
            for (size_t j = 0; j < n; j++)
                want -= y[j] * ((double)logits[j] - log_sum);
            check_rel(saturated_loss(MLP_CROSS_ENTROPY, MLP_SOFTMAX, logits, n, y), want,
                      1e-6, 0.0, "cross-entropy loss");
        }
}

/* BCE's loss is the same to 1e-14 whichever way its outputs go: fewer than
 * 8 take glibc's exp and log1p, 8 and more the library's vector loop
 * (loss.c), in blocks of 64. The mean over 77 outputs against the mean of
 * the means of its eleven groups of 7, on logits from -40 to 40 and a few
 * far beyond, with targets 0, 1 and between. */
static void test_bce_loss_same_on_both_paths(void **state)
{
    (void)state;
    enum { group = 7, count = 11 * group };
    float Z[count], Y[count], A[count] = {0};
    test_rng rng = {23};
    test_fill_uniform(&rng, Z, count, -40, 40);
    test_fill_uniform(&rng, Y, count, 0, 1);
    for (size_t k = 0; k < count; k += 3)
        Y[k] = (float)(k % 2); /* hard targets too */
    Z[5] = 100.0f, Z[12] = -300.0f, Z[40] = 750.0f, Z[41] = -1e30f;
    Y[41] = 0.0f; /* a logit far beyond: only its zero-weight term is huge */
    double whole = mlp_loss_compute(MLP_BCE, MLP_SIGMOID, Z, A, Y, count, 1);
    double groups = 0.0;
    for (size_t g = 0; g < count / group; g++)
        groups += mlp_loss_compute(MLP_BCE, MLP_SIGMOID, Z + g * group, A, Y + g * group,
                                   group, 1);
    groups /= count / group;
    assert_true(isfinite(whole) && whole > 0.0);
    check_rel(whole, groups, 1e-14, 0.0, "BCE on the vector and glibc paths");
}

/* Cross-entropy's loss to float precision at both extremes: huge tied
 * logits (z_j - log-sum-exp would cancel to 0 in double beyond about 1e16;
 * the loss is ln 2), and confident rows whose loss, log(1 + e^-z), lies
 * below float's resolution near 1 (where a_top rounds to 1). */
static void test_cross_entropy_loss_is_accurate_at_extremes(void **state)
{
    (void)state;
    const float first[2] = {1, 0};
    const float huge[] = {1e10f, 1e16f, 1e30f, 3e38f};
    for (size_t k = 0; k < sizeof huge / sizeof huge[0]; k++) {
        const float tied[2] = {huge[k], huge[k]};
        check_rel(saturated_loss(MLP_CROSS_ENTROPY, MLP_SOFTMAX, tied, 2, first),
                  log(2.0), 1e-6, 0.0, "loss of tied huge logits");
    }
    const float confident[] = {10, 17, 20, 40, 80};
    for (size_t k = 0; k < sizeof confident / sizeof confident[0]; k++) {
        const float logits[2] = {confident[k], 0};
        check_rel(saturated_loss(MLP_CROSS_ENTROPY, MLP_SOFTMAX, logits, 2, first),
                  log1p(exp(-(double)confident[k])), 1e-5, 0.0,
                  "loss of a confident row");
    }
    /* and in between, with a target spread over two classes */
    const float logits[3] = {0, 1, 2}, spread[3] = {0.25f, 0.75f, 0};
    double log_sum = log(1 + exp(1.0) + exp(2.0));
    check_rel(saturated_loss(MLP_CROSS_ENTROPY, MLP_SOFTMAX, logits, 3, spread),
              0.25 * log_sum + 0.75 * (log_sum - 1), 1e-6, 0.0,
              "loss of a spread target");
}

/* ---- the blocks start on cache lines ---- */

static bool on_cache_line(const void *p)
{
    return (uintptr_t)p % 64 == 0;
}

/* mlp_alloc gives 64-byte aligned blocks for every size, and NULL where
 * rounding up to whole lines would overflow. */
static void test_alloc_is_cache_line_aligned(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 4, 63, 64, 65, 1000, 100000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        void *p = mlp_alloc(sizes[k]);
        assert_non_null(p);
        assert_true(on_cache_line(p));
        memset(p, 0xab, sizes[k]); /* the whole size is usable (ASan checks) */
        mlp_dealloc(p);
    }
    assert_null(mlp_alloc(SIZE_MAX));
    assert_null(mlp_alloc(SIZE_MAX - 62));
}

/* The parameter, gradient and batch blocks that the optimizer and the
 * activation passes stream through start on cache lines. */
static void test_network_blocks_are_aligned(void **state)
{
    (void)state;
    const size_t widths[] = {5, 3};
    const mlp_activation acts[] = {MLP_RELU, MLP_IDENTITY};
    mlp_net *net = make_net(3, MLP_MSE, 1, 2, widths, acts);
    const float X[2 * 3] = {1, 2, 3, 4, 5, 6}, Y[2 * 3] = {0};
    const float *out, *dW, *Z;
    float *W;
    assert_int_equal(mlp_forward(net, X, 2, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);
    assert_int_equal(mlp_layer_params(net, 0, &W, NULL, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_layer_grads(net, 0, &dW, NULL), MLP_OK);
    assert_int_equal(mlp_layer_cache(net, 0, &Z, NULL, NULL, NULL), MLP_OK);
    assert_true(on_cache_line(W));
    assert_true(on_cache_line(dW));
    assert_true(on_cache_line(Z));
    mlp_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example_forward),
        cmocka_unit_test(test_worked_example_backward),
        cmocka_unit_test(test_same_seed_gives_identical_weights),
        cmocka_unit_test(test_different_seed_gives_different_weights),
        cmocka_unit_test(test_set_params_copies_exactly),
        cmocka_unit_test(test_glorot_uniform_initialization),
        cmocka_unit_test(test_he_normal_initialization),
        cmocka_unit_test(test_rng_matches_reference),
        cmocka_unit_test(test_changing_batch_size_matches_single_rows),
        cmocka_unit_test(test_infer_matches_predict),
        cmocka_unit_test(test_infer_mixes_tiny_and_general_layers),
        cmocka_unit_test(test_infer_leaves_cache_alone),
        cmocka_unit_test(test_infer_refuses_small_workspace),
        cmocka_unit_test(test_train_batch_reduces_loss),
        cmocka_unit_test(test_layer_grad_norm_matches_grads),
        cmocka_unit_test(test_clip_grad_norm_scales_to_max_norm),
        cmocka_unit_test(test_clip_grad_norm_leaves_small_grads_alone),
        cmocka_unit_test(test_clip_grad_norm_beyond_float_range),
        cmocka_unit_test(test_clip_grad_norm_at_max_norm_leaves_grads),
        cmocka_unit_test(test_mul_overflows_is_exact),
        cmocka_unit_test(test_failed_add_dense_changes_nothing),
        cmocka_unit_test(test_failed_forward_keeps_cache),
        cmocka_unit_test(test_failed_backward_keeps_grads),
        cmocka_unit_test(test_infinite_loss_keeps_grads_and_params),
        cmocka_unit_test(test_second_backward_refused_keeps_deltas),
        cmocka_unit_test(test_train_batch_matches_separate_calls),
        cmocka_unit_test(test_saturated_outputs_keep_exact_loss),
        cmocka_unit_test(test_overflowed_logits_keep_exact_loss),
        cmocka_unit_test(test_cross_entropy_loss_on_every_width),
        cmocka_unit_test(test_bce_loss_same_on_both_paths),
        cmocka_unit_test(test_cross_entropy_loss_is_accurate_at_extremes),
        cmocka_unit_test(test_db_is_column_sums_of_delta),
        cmocka_unit_test(test_alloc_is_cache_line_aligned),
        cmocka_unit_test(test_network_blocks_are_aligned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
