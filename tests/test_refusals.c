/*
 * Every refusal of the core API: NULL pointers, zero and overflowing sizes,
 * unsupported activation/loss pairs, invalid targets and hyperparameters,
 * and calls made in the wrong order. Each must return its documented status.
 */
#include "test_util.h"

#include <limits.h>

/* The NOMEM test asks for an impossible allocation; under AddressSanitizer
 * that must return NULL (as malloc does) rather than abort. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* 3 inputs, tanh 4, then the given output layer. */
static mlp_net *small_net(mlp_loss loss, size_t n_out, mlp_activation out_act)
{
    const size_t widths[] = {4, n_out};
    const mlp_activation acts[] = {MLP_TANH, out_act};
    return make_net(3, loss, 1, 2, widths, acts);
}

static const float X3[2 * 3] = {0.1f, -0.2f, 0.3f, 0.5f, 0.4f, -0.6f};

/* ---- Construction ---- */

static void test_create_refuses_bad_arguments(void **state)
{
    (void)state;
    mlp_net *net = NULL;
    assert_int_equal(mlp_net_create(NULL, 3, MLP_MSE, 1), MLP_ERR_ARG);
    assert_int_equal(mlp_net_create(&net, 0, MLP_MSE, 1), MLP_ERR_ARG);
    assert_int_equal(mlp_net_create(&net, 3, (mlp_loss)99, 1), MLP_ERR_ARG);
    assert_int_equal(mlp_net_create(&net, 3, (mlp_loss)3, 1), MLP_ERR_ARG);
    assert_int_equal(mlp_net_create(&net, SIZE_MAX / 2, MLP_MSE, 1), MLP_ERR_SHAPE);
    assert_int_equal(mlp_net_create(&net, (size_t)INT_MAX + 1, MLP_MSE, 1),
                     MLP_ERR_SHAPE);
    assert_null(net);
}

static void test_add_dense_refuses_bad_arguments(void **state)
{
    (void)state;
    mlp_net *net = make_net(3, MLP_MSE, 1, 0, NULL, NULL);
    assert_int_equal(mlp_net_add_dense(NULL, 4, MLP_TANH), MLP_ERR_ARG);
    assert_int_equal(mlp_net_add_dense(net, 0, MLP_TANH), MLP_ERR_ARG);
    assert_int_equal(mlp_net_add_dense(net, 4, (mlp_activation)99), MLP_ERR_ARG);
    assert_int_equal(mlp_net_add_dense(net, 4, (mlp_activation)6), MLP_ERR_ARG);
    assert_int_equal(mlp_net_add_dense(net, SIZE_MAX / 2, MLP_TANH), MLP_ERR_SHAPE);
    assert_int_equal(mlp_net_add_dense(net, (size_t)INT_MAX + 1, MLP_TANH),
                     MLP_ERR_SHAPE);
    assert_int_equal(mlp_net_layers(net), 0);
    assert_int_equal(mlp_net_param_count(net), 0);
    mlp_net_free(net);
}

/* An INT_MAX x INT_MAX layer cannot be allocated (or, where size_t is 32
 * bits, not even counted); the network is left empty and usable. */
static void test_add_dense_refuses_impossible_layer(void **state)
{
    (void)state;
    mlp_net *net = make_net(INT_MAX, MLP_MSE, 1, 0, NULL, NULL);
    mlp_status status = mlp_net_add_dense(net, INT_MAX, MLP_IDENTITY);
    assert_true(status == MLP_ERR_NOMEM || status == MLP_ERR_SHAPE);
    assert_int_equal(mlp_net_layers(net), 0);
    assert_int_equal(mlp_net_param_count(net), 0);
    assert_int_equal(mlp_net_outputs(net), 0);
    mlp_net_free(net);
}

static void test_softmax_needs_cross_entropy(void **state)
{
    (void)state;
    mlp_net *mse = make_net(3, MLP_MSE, 1, 0, NULL, NULL);
    mlp_net *bce = make_net(3, MLP_BCE, 1, 0, NULL, NULL);
    assert_int_equal(mlp_net_add_dense(mse, 4, MLP_SOFTMAX), MLP_ERR_ARG);
    assert_int_equal(mlp_net_add_dense(bce, 4, MLP_SOFTMAX), MLP_ERR_ARG);
    assert_int_equal(mlp_net_layers(mse), 0);
    assert_int_equal(mlp_net_layers(bce), 0);
    mlp_net_free(mse);
    mlp_net_free(bce);
}

static void test_no_layer_after_softmax(void **state)
{
    (void)state;
    mlp_net *net = make_net(3, MLP_CROSS_ENTROPY, 1, 1, (const size_t[]){4},
                            (const mlp_activation[]){MLP_SOFTMAX});
    assert_int_equal(mlp_net_add_dense(net, 2, MLP_SOFTMAX), MLP_ERR_ARG);
    assert_int_equal(mlp_net_add_dense(net, 2, MLP_IDENTITY), MLP_ERR_ARG);
    assert_int_equal(mlp_net_layers(net), 1);
    mlp_net_free(net);
}

/* ---- Output activation and loss pairs checked at forward ---- */

static void expect_forward_refused(mlp_net *net, mlp_status expected)
{
    const float *out = NULL;
    float predicted[2 * 4], work[64];
    assert_int_equal(mlp_forward(net, X3, 2, &out), expected);
    assert_null(out);
    assert_int_equal(mlp_predict(net, X3, 2, predicted), expected);
    assert_int_equal(mlp_infer(net, X3, 2, predicted, work, 64), expected);
}

static void test_forward_refuses_unmatched_output(void **state)
{
    (void)state;
    const mlp_activation not_sigmoid[] = {MLP_IDENTITY, MLP_TANH, MLP_RELU,
                                          MLP_LEAKY_RELU};
    for (size_t k = 0; k < 4; k++) {
        mlp_net *bce = small_net(MLP_BCE, 1, not_sigmoid[k]);
        expect_forward_refused(bce, MLP_ERR_ARG);
        mlp_net_free(bce);
    }
    mlp_net *ce = small_net(MLP_CROSS_ENTROPY, 2, MLP_SIGMOID);
    expect_forward_refused(ce, MLP_ERR_ARG);
    mlp_net_free(ce);
    mlp_net *ce_hidden = make_net(3, MLP_CROSS_ENTROPY, 1, 1, (const size_t[]){4},
                                  (const mlp_activation[]){MLP_IDENTITY});
    expect_forward_refused(ce_hidden, MLP_ERR_ARG);
    mlp_net_free(ce_hidden);
}

static void test_forward_refuses_empty_network(void **state)
{
    (void)state;
    mlp_net *net = make_net(3, MLP_MSE, 1, 0, NULL, NULL);
    expect_forward_refused(net, MLP_ERR_ARG);
    mlp_net_free(net);
}

static void test_forward_refuses_bad_batches(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    const float *out;
    float X[2 * 3], predicted[2 * 2], work[64];
    memcpy(X, X3, sizeof X);
    assert_int_equal(mlp_forward(net, X, 0, &out), MLP_ERR_ARG);
    assert_int_equal(mlp_predict(net, X, 0, predicted), MLP_ERR_ARG);
    assert_int_equal(mlp_infer(net, X, 0, predicted, work, 64), MLP_ERR_ARG);
    /* m is checked before X is read, so a short X is safe here */
    assert_int_equal(mlp_forward(net, X, SIZE_MAX / 2, &out), MLP_ERR_SHAPE);
    assert_int_equal(mlp_forward(net, X, (size_t)INT_MAX + 1, &out), MLP_ERR_SHAPE);
    assert_int_equal(mlp_infer(net, X, SIZE_MAX / 2, predicted, work, 64), MLP_ERR_SHAPE);
    X[4] = NAN;
    assert_int_equal(mlp_forward(net, X, 2, &out), MLP_ERR_ARG);
    assert_int_equal(mlp_infer(net, X, 2, predicted, work, 64), MLP_ERR_ARG);
    X[4] = -INFINITY;
    assert_int_equal(mlp_forward(net, X, 2, &out), MLP_ERR_ARG);
    mlp_net_free(net);
}

/* ---- Targets ---- */

static void expect_targets_refused(mlp_net *net, const float *Y)
{
    const float *out;
    float loss = 123.0f;
    assert_int_equal(mlp_forward(net, X3, 2, &out), MLP_OK);
    assert_int_equal(mlp_loss_value(net, Y, &loss), MLP_ERR_ARG);
    assert_int_equal(mlp_backward(net, Y, &loss), MLP_ERR_ARG);
    assert_true(loss == 123.0f);
}

static void test_backward_refuses_non_finite_targets(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    expect_targets_refused(net, (const float[]){0, 1, NAN, 0});
    expect_targets_refused(net, (const float[]){0, 1, 0, INFINITY});
    expect_targets_refused(net, (const float[]){-INFINITY, 1, 0, 0});
    mlp_net_free(net);
}

static void test_backward_refuses_bce_targets_outside_unit_interval(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_BCE, 2, MLP_SIGMOID);
    expect_targets_refused(net, (const float[]){0, 1, 1.5f, 0});
    expect_targets_refused(net, (const float[]){0, -0.01f, 1, 0});
    expect_targets_refused(net, (const float[]){0, 1, NAN, 0});
    mlp_net_free(net);
}

static void test_backward_refuses_bad_cross_entropy_rows(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_CROSS_ENTROPY, 2, MLP_SOFTMAX);
    expect_targets_refused(net, (const float[]){1, 0, 0.25f, 0.25f});
    expect_targets_refused(net, (const float[]){1, 0, 1.5f, -0.5f});
    expect_targets_refused(net, (const float[]){1, 0, 0, 1.01f});
    expect_targets_refused(net, (const float[]){1, 0, 0, NAN});
    /* within the 1e-3 tolerance of a sum of 1 */
    const float *out;
    assert_int_equal(mlp_forward(net, X3, 2, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, (const float[]){1, 0, 0.3f, 0.7005f}, NULL),
                     MLP_OK);
    mlp_net_free(net);
}

/* The same row-sum check on every width that loss.c compiles apart (2 to
 * 4 classes) and one beyond: the second row sums to 1.01, then to 1.0005. */
static void test_cross_entropy_rows_checked_on_every_width(void **state)
{
    (void)state;
    for (size_t n = 2; n <= 5; n++) {
        mlp_net *net = small_net(MLP_CROSS_ENTROPY, n, MLP_SOFTMAX);
        float Y[2 * 5] = {0};
        Y[0] = 1.0f;
        Y[n] = 0.5f;
        Y[2 * n - 1] = 0.51f;
        expect_targets_refused(net, Y);
        Y[2 * n - 1] = 0.5005f;
        const float *out;
        assert_int_equal(mlp_forward(net, X3, 2, &out), MLP_OK);
        assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);
        mlp_net_free(net);
    }
}

/* ---- Calls in the wrong order ---- */

static void test_backward_before_forward_is_state_error(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    const float Y[4] = {0};
    const float *view;
    float loss, norm;
    assert_int_equal(mlp_backward(net, Y, &loss), MLP_ERR_STATE);
    assert_int_equal(mlp_loss_value(net, Y, &loss), MLP_ERR_STATE);
    assert_int_equal(mlp_layer_cache(net, 0, &view, NULL, NULL, NULL), MLP_ERR_STATE);
    assert_int_equal(mlp_layer_grads(net, 0, &view, NULL), MLP_ERR_STATE);
    assert_int_equal(mlp_layer_grad_norm(net, 0, &norm), MLP_ERR_STATE);
    assert_int_equal(mlp_clip_grad_norm(net, 1.0f, &norm), MLP_ERR_STATE);
    mlp_net_free(net);
}

static void test_add_dense_discards_cache_and_grads(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_TANH);
    const float Y2[4] = {0}, Y3[6] = {0};
    const float *out, *view;
    assert_int_equal(mlp_forward(net, X3, 2, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, Y2, NULL), MLP_OK);
    assert_int_equal(mlp_net_add_dense(net, 3, MLP_IDENTITY), MLP_OK);
    assert_int_equal(mlp_backward(net, Y3, NULL), MLP_ERR_STATE);
    assert_int_equal(mlp_layer_cache(net, 0, &view, NULL, NULL, NULL), MLP_ERR_STATE);
    assert_int_equal(mlp_layer_grads(net, 0, &view, NULL), MLP_ERR_STATE);
    mlp_net_free(net);
}

/* mlp_train_batch checks X and Y before anything changes: a bad target
 * leaves the cached batch, the gradients and the parameters as they were. */
static void test_train_batch_bad_target_changes_nothing(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_BCE, 1, MLP_SIGMOID);
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.9f, 0.0f), MLP_OK);
    const float Y[2] = {1.0f, 0.0f}, bad_Y[1] = {2.0f}; /* BCE targets are in [0, 1] */
    assert_int_equal(mlp_train_batch(net, opt, X3, Y, 2, NULL), MLP_OK);
    const float *Z, *dW;
    size_t m;
    assert_int_equal(mlp_layer_cache(net, 0, &Z, NULL, NULL, &m), MLP_OK);
    assert_int_equal(mlp_layer_grads(net, 0, &dW, NULL), MLP_OK);
    float Z_before[2 * 4], dW_before[4 * 3], params_before[64];
    memcpy(Z_before, Z, sizeof Z_before);
    memcpy(dW_before, dW, sizeof dW_before);
    size_t n_params = mlp_net_param_count(net);
    assert_true(n_params <= 64);
    float *W;
    assert_int_equal(mlp_layer_params(net, 0, &W, NULL, NULL, NULL), MLP_OK);
    memcpy(params_before, W, n_params * sizeof *W); /* the block is contiguous */

    assert_int_equal(mlp_train_batch(net, opt, X3 + 3, bad_Y, 1, NULL), MLP_ERR_ARG);
    size_t m_after;
    assert_int_equal(mlp_layer_cache(net, 0, &Z, NULL, NULL, &m_after), MLP_OK);
    assert_int_equal(m_after, m);
    assert_memory_equal(Z, Z_before, sizeof Z_before);
    assert_memory_equal(dW, dW_before, sizeof dW_before);
    assert_memory_equal(W, params_before, n_params * sizeof *W);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

static void test_step_without_backward_is_state_error(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    mlp_optimizer *opt;
    const float *out;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.0f, 0.0f), MLP_OK);
    assert_int_equal(mlp_optimizer_step(opt, net), MLP_ERR_STATE);
    assert_int_equal(mlp_forward(net, X3, 2, &out), MLP_OK);
    assert_int_equal(mlp_optimizer_step(opt, net), MLP_ERR_STATE);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

static void test_step_after_net_grew_is_shape_error(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    mlp_optimizer *opt;
    const float *out;
    const float Y[2 * 3] = {0};
    assert_int_equal(mlp_adam_create(&opt, net, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f), MLP_OK);
    assert_int_equal(mlp_net_add_dense(net, 3, MLP_IDENTITY), MLP_OK);
    assert_int_equal(mlp_forward(net, X3, 2, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);
    float *params = snapshot_params(net);
    assert_int_equal(mlp_optimizer_step(opt, net), MLP_ERR_SHAPE);
    assert_int_equal(mlp_train_batch(net, opt, X3, Y, 2, NULL), MLP_ERR_SHAPE);
    expect_params_equal(net, params);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* ---- NULL pointers ---- */

static void test_getters_accept_null(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_BCE, 1, MLP_SIGMOID);
    mlp_loss loss;
    mlp_activation act;
    assert_int_equal(mlp_net_layers(NULL), 0);
    assert_int_equal(mlp_net_inputs(NULL), 0);
    assert_int_equal(mlp_net_outputs(NULL), 0);
    assert_int_equal(mlp_net_param_count(NULL), 0);
    assert_int_equal(mlp_net_loss(NULL, &loss), MLP_ERR_ARG);
    assert_int_equal(mlp_net_loss(net, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_net_loss(net, &loss), MLP_OK);
    assert_int_equal(loss, MLP_BCE);
    assert_int_equal(mlp_layer_activation(NULL, 0, &act), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_activation(net, 0, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_activation(net, 2, &act), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_activation(net, 1, &act), MLP_OK);
    assert_int_equal(act, MLP_SIGMOID);
    assert_int_equal(mlp_infer_workspace_size(NULL, 4), 0);
    assert_int_equal(mlp_infer_workspace_size(net, 0), 0);
    assert_int_equal(mlp_infer_workspace_size(net, SIZE_MAX / 2), 0);
    assert_true(mlp_optimizer_lr(NULL) == 0.0f);
    mlp_net_free(NULL);
    mlp_optimizer_free(NULL);
    mlp_net_free(net);
}

static void test_layer_views_refuse_null_and_range(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    const float *view;
    float *W, norm;
    assert_int_equal(mlp_layer_params(NULL, 0, &W, NULL, NULL, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_params(net, 2, &W, NULL, NULL, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_params(net, 1, NULL, NULL, NULL, NULL), MLP_OK);
    const float *W_view, *b_view;
    float *b;
    size_t n_out, n_in, n_out_view, n_in_view;
    assert_int_equal(mlp_layer_params_const(NULL, 0, &W_view, NULL, NULL, NULL),
                     MLP_ERR_ARG);
    assert_int_equal(mlp_layer_params_const(net, 2, &W_view, NULL, NULL, NULL),
                     MLP_ERR_ARG);
    assert_int_equal(mlp_layer_params_const(net, 1, NULL, NULL, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_layer_params(net, 1, &W, &b, &n_out, &n_in), MLP_OK);
    assert_int_equal(
        mlp_layer_params_const(net, 1, &W_view, &b_view, &n_out_view, &n_in_view),
        MLP_OK);
    assert_ptr_equal(W_view, W);
    assert_ptr_equal(b_view, b);
    assert_int_equal(n_out_view, n_out);
    assert_int_equal(n_in_view, n_in);
    assert_int_equal(mlp_layer_grads(NULL, 0, &view, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_grads(net, 2, &view, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_cache(NULL, 0, &view, NULL, NULL, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_cache(net, 2, &view, NULL, NULL, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_grad_norm(NULL, 0, &norm), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_grad_norm(net, 0, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_grad_norm(net, 2, &norm), MLP_ERR_ARG);
    assert_int_equal(mlp_clip_grad_norm(NULL, 1.0f, &norm), MLP_ERR_ARG);
    mlp_net_free(net);
}

/* mlp_layer_set_params checks everything before it copies anything: a
 * NaN or infinity in W or in b, wherever it sits, leaves every parameter
 * of the network as it was. */
static void test_set_params_refuses_null_range_and_non_finite(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    float W[4 * 3] = {0}, b[4] = {0};
    float *before = snapshot_params(net);
    assert_int_equal(mlp_layer_set_params(NULL, 0, W, b), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_set_params(net, 2, W, b), MLP_ERR_ARG);
    assert_int_equal(mlp_layer_set_params(net, 0, NULL, NULL), MLP_ERR_ARG);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t v = 0; v < 3; v++) {
        for (size_t k = 0; k < 4 * 3; k++) {
            W[k] = bad[v];
            assert_int_equal(mlp_layer_set_params(net, 0, W, b), MLP_ERR_ARG);
            assert_int_equal(mlp_layer_set_params(net, 0, W, NULL), MLP_ERR_ARG);
            W[k] = 0.0f;
        }
        for (size_t j = 0; j < 4; j++) {
            b[j] = bad[v];
            assert_int_equal(mlp_layer_set_params(net, 0, W, b), MLP_ERR_ARG);
            assert_int_equal(mlp_layer_set_params(net, 0, NULL, b), MLP_ERR_ARG);
            b[j] = 0.0f;
        }
    }
    expect_params_equal(net, before);
    mlp_net_free(net);
}

static void test_passes_refuse_null(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    const float Y[4] = {0};
    const float *out;
    float loss, predicted[4], work[64];
    assert_int_equal(mlp_forward(NULL, X3, 2, &out), MLP_ERR_ARG);
    assert_int_equal(mlp_forward(net, NULL, 2, &out), MLP_ERR_ARG);
    assert_int_equal(mlp_forward(net, X3, 2, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_predict(NULL, X3, 2, predicted), MLP_ERR_ARG);
    assert_int_equal(mlp_predict(net, NULL, 2, predicted), MLP_ERR_ARG);
    assert_int_equal(mlp_predict(net, X3, 2, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_infer(NULL, X3, 2, predicted, work, 64), MLP_ERR_ARG);
    assert_int_equal(mlp_infer(net, NULL, 2, predicted, work, 64), MLP_ERR_ARG);
    assert_int_equal(mlp_infer(net, X3, 2, NULL, work, 64), MLP_ERR_ARG);
    assert_int_equal(mlp_infer(net, X3, 2, predicted, NULL, 64), MLP_ERR_ARG);
    assert_int_equal(mlp_forward(net, X3, 2, &out), MLP_OK);
    assert_int_equal(mlp_backward(NULL, Y, &loss), MLP_ERR_ARG);
    assert_int_equal(mlp_backward(net, NULL, &loss), MLP_ERR_ARG);
    assert_int_equal(mlp_loss_value(NULL, Y, &loss), MLP_ERR_ARG);
    assert_int_equal(mlp_loss_value(net, NULL, &loss), MLP_ERR_ARG);
    /* the loss output is optional */
    assert_int_equal(mlp_loss_value(net, Y, NULL), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);
    assert_int_equal(mlp_clip_grad_norm(net, 1.0f, NULL), MLP_OK);
    mlp_net_free(net);
}

static void test_optimizers_refuse_null(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    mlp_optimizer *opt;
    const float Y[4] = {0};
    assert_int_equal(mlp_sgd_create(NULL, net, 0.1f, 0.0f, 0.0f), MLP_ERR_ARG);
    assert_int_equal(mlp_sgd_create(&opt, NULL, 0.1f, 0.0f, 0.0f), MLP_ERR_ARG);
    assert_int_equal(mlp_adam_create(NULL, net, 0.1f, 0.9f, 0.999f, 1e-8f, 0),
                     MLP_ERR_ARG);
    assert_int_equal(mlp_adam_create(&opt, NULL, 0.1f, 0.9f, 0.999f, 1e-8f, 0),
                     MLP_ERR_ARG);
    assert_int_equal(mlp_adamw_create(NULL, net, 0.1f, 0.9f, 0.999f, 1e-8f, 0),
                     MLP_ERR_ARG);
    assert_int_equal(mlp_adamw_create(&opt, NULL, 0.1f, 0.9f, 0.999f, 1e-8f, 0),
                     MLP_ERR_ARG);
    assert_int_equal(mlp_sgd_set_nesterov(NULL, 1), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_set_lr(NULL, 0.1f), MLP_ERR_ARG);
    assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.0f, 0.0f), MLP_OK);
    assert_int_equal(mlp_optimizer_step(NULL, net), MLP_ERR_ARG);
    assert_int_equal(mlp_optimizer_step(opt, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_train_batch(NULL, opt, X3, Y, 2, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_train_batch(net, NULL, X3, Y, 2, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_train_batch(net, opt, NULL, Y, 2, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_train_batch(net, opt, X3, NULL, 2, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_train_batch(net, opt, X3, Y, 0, NULL), MLP_ERR_ARG);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* ---- Optimizer hyperparameters ---- */

static void test_sgd_refuses_bad_hyperparameters(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    mlp_net *empty = make_net(3, MLP_MSE, 1, 0, NULL, NULL);
    mlp_optimizer *opt = NULL;
    const float bad_lr[] = {0.0f, -0.1f, NAN, INFINITY};
    for (size_t k = 0; k < 4; k++)
        assert_int_equal(mlp_sgd_create(&opt, net, bad_lr[k], 0.0f, 0.0f), MLP_ERR_ARG);
    const float bad_momentum[] = {1.0f, -0.1f, 1.5f, NAN};
    for (size_t k = 0; k < 4; k++)
        assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, bad_momentum[k], 0.0f),
                         MLP_ERR_ARG);
    const float bad_decay[] = {-0.1f, NAN, INFINITY};
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.9f, bad_decay[k]),
                         MLP_ERR_ARG);
    assert_int_equal(mlp_sgd_create(&opt, empty, 0.1f, 0.9f, 0.0f), MLP_ERR_ARG);
    assert_null(opt);
    mlp_net_free(empty);
    mlp_net_free(net);
}

static void test_adam_refuses_bad_hyperparameters(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    mlp_net *empty = make_net(3, MLP_MSE, 1, 0, NULL, NULL);
    mlp_optimizer *opt = NULL;
    for (int w = 0; w < 2; w++) {
        mlp_status (*create)(mlp_optimizer **, const mlp_net *, float, float, float,
                             float, float) = w ? mlp_adamw_create : mlp_adam_create;
        assert_int_equal(create(&opt, net, 0.0f, 0.9f, 0.999f, 1e-8f, 0), MLP_ERR_ARG);
        assert_int_equal(create(&opt, net, NAN, 0.9f, 0.999f, 1e-8f, 0), MLP_ERR_ARG);
        assert_int_equal(create(&opt, net, 0.1f, 1.0f, 0.999f, 1e-8f, 0), MLP_ERR_ARG);
        assert_int_equal(create(&opt, net, 0.1f, -0.1f, 0.999f, 1e-8f, 0), MLP_ERR_ARG);
        assert_int_equal(create(&opt, net, 0.1f, NAN, 0.999f, 1e-8f, 0), MLP_ERR_ARG);
        assert_int_equal(create(&opt, net, 0.1f, 0.9f, 1.0f, 1e-8f, 0), MLP_ERR_ARG);
        assert_int_equal(create(&opt, net, 0.1f, 0.9f, -0.5f, 1e-8f, 0), MLP_ERR_ARG);
        assert_int_equal(create(&opt, net, 0.1f, 0.9f, 0.999f, 0.0f, 0), MLP_ERR_ARG);
        assert_int_equal(create(&opt, net, 0.1f, 0.9f, 0.999f, -1e-8f, 0), MLP_ERR_ARG);
        assert_int_equal(create(&opt, net, 0.1f, 0.9f, 0.999f, NAN, 0), MLP_ERR_ARG);
        assert_int_equal(create(&opt, net, 0.1f, 0.9f, 0.999f, 1e-8f, -0.1f),
                         MLP_ERR_ARG);
        assert_int_equal(create(&opt, net, 0.1f, 0.9f, 0.999f, 1e-8f, NAN), MLP_ERR_ARG);
        assert_int_equal(create(&opt, empty, 0.1f, 0.9f, 0.999f, 1e-8f, 0), MLP_ERR_ARG);
    }
    assert_null(opt);
    mlp_net_free(empty);
    mlp_net_free(net);
}

static void test_nesterov_needs_sgd_with_momentum(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    mlp_optimizer *plain, *adam, *momentum;
    assert_int_equal(mlp_sgd_create(&plain, net, 0.1f, 0.0f, 0.0f), MLP_OK);
    assert_int_equal(mlp_adam_create(&adam, net, 0.1f, 0.9f, 0.999f, 1e-8f, 0), MLP_OK);
    assert_int_equal(mlp_sgd_create(&momentum, net, 0.1f, 0.9f, 0.0f), MLP_OK);
    assert_int_equal(mlp_sgd_set_nesterov(plain, 1), MLP_ERR_ARG);
    assert_int_equal(mlp_sgd_set_nesterov(adam, 1), MLP_ERR_ARG);
    assert_int_equal(mlp_sgd_set_nesterov(momentum, 1), MLP_OK);
    assert_int_equal(mlp_sgd_set_nesterov(momentum, 0), MLP_OK);
    mlp_optimizer_free(plain);
    mlp_optimizer_free(adam);
    mlp_optimizer_free(momentum);
    mlp_net_free(net);
}

static void test_set_lr_refuses_bad_rates(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.25f, 0.0f, 0.0f), MLP_OK);
    assert_true(mlp_optimizer_lr(opt) == 0.25f);
    const float bad_lr[] = {0.0f, -1.0f, NAN, INFINITY};
    for (size_t k = 0; k < 4; k++)
        assert_int_equal(mlp_optimizer_set_lr(opt, bad_lr[k]), MLP_ERR_ARG);
    assert_true(mlp_optimizer_lr(opt) == 0.25f);
    assert_int_equal(mlp_optimizer_set_lr(opt, 0.5f), MLP_OK);
    assert_true(mlp_optimizer_lr(opt) == 0.5f);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

static void test_clip_refuses_bad_max_norm(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE, 2, MLP_IDENTITY);
    const float Y[4] = {1, 2, 3, 4};
    const float *out;
    float total;
    assert_int_equal(mlp_forward(net, X3, 2, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);
    float *grads = snapshot_grads(net);
    const float bad[] = {0.0f, -1.0f, NAN, INFINITY};
    for (size_t k = 0; k < 4; k++)
        assert_int_equal(mlp_clip_grad_norm(net, bad[k], &total), MLP_ERR_ARG);
    expect_grads_equal(net, grads);
    mlp_net_free(net);
}

/* ---- Status texts ---- */

static void test_strerror_texts_are_distinct(void **state)
{
    (void)state;
    const char *texts[MLP_ERR_NUMERIC + 1];
    for (int s = MLP_OK; s <= MLP_ERR_NUMERIC; s++) {
        texts[s] = mlp_strerror((mlp_status)s);
        assert_non_null(texts[s]);
        assert_true(strlen(texts[s]) > 0);
        assert_string_not_equal(texts[s], "unknown status");
        for (int t = 0; t < s; t++)
            assert_string_not_equal(texts[s], texts[t]);
    }
    assert_string_equal(mlp_strerror((mlp_status)99), "unknown status");
    assert_string_equal(mlp_strerror((mlp_status)(MLP_ERR_NUMERIC + 1)),
                        "unknown status");
}

static void test_version_and_threads(void **state)
{
    (void)state;
    assert_string_equal(mlp_version(), "0.1.0");
    assert_int_equal(MLP_VERSION_MAJOR, 0);
    assert_int_equal(mlp_set_threads(0), MLP_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_refuses_bad_arguments),
        cmocka_unit_test(test_add_dense_refuses_bad_arguments),
        cmocka_unit_test(test_add_dense_refuses_impossible_layer),
        cmocka_unit_test(test_softmax_needs_cross_entropy),
        cmocka_unit_test(test_no_layer_after_softmax),
        cmocka_unit_test(test_forward_refuses_unmatched_output),
        cmocka_unit_test(test_forward_refuses_empty_network),
        cmocka_unit_test(test_forward_refuses_bad_batches),
        cmocka_unit_test(test_backward_refuses_non_finite_targets),
        cmocka_unit_test(test_backward_refuses_bce_targets_outside_unit_interval),
        cmocka_unit_test(test_backward_refuses_bad_cross_entropy_rows),
        cmocka_unit_test(test_cross_entropy_rows_checked_on_every_width),
        cmocka_unit_test(test_backward_before_forward_is_state_error),
        cmocka_unit_test(test_add_dense_discards_cache_and_grads),
        cmocka_unit_test(test_step_without_backward_is_state_error),
        cmocka_unit_test(test_step_after_net_grew_is_shape_error),
        cmocka_unit_test(test_train_batch_bad_target_changes_nothing),
        cmocka_unit_test(test_getters_accept_null),
        cmocka_unit_test(test_layer_views_refuse_null_and_range),
        cmocka_unit_test(test_set_params_refuses_null_range_and_non_finite),
        cmocka_unit_test(test_passes_refuse_null),
        cmocka_unit_test(test_optimizers_refuse_null),
        cmocka_unit_test(test_sgd_refuses_bad_hyperparameters),
        cmocka_unit_test(test_adam_refuses_bad_hyperparameters),
        cmocka_unit_test(test_nesterov_needs_sgd_with_momentum),
        cmocka_unit_test(test_set_lr_refuses_bad_rates),
        cmocka_unit_test(test_clip_refuses_bad_max_norm),
        cmocka_unit_test(test_strerror_texts_are_distinct),
        cmocka_unit_test(test_version_and_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
