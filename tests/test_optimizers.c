/*
 * Optimizer steps against values computed by hand with PyTorch's formulas
 * (torch.optim.SGD, Adam, AdamW). Every case uses a 1-1 identity network
 * with MSE, W = 0.5, b = 0.25, one sample x = 2, y = 1, so that
 *   z = W x + b,  r = z - y,  dW = r x = 2 r,  db = r
 * and each step can be followed on paper.
 */
#include "test_util.h"

#include <stdbool.h>

static const float x_one[] = {2.0f}, y_one[] = {1.0f};

static mlp_net *one_one_net(void)
{
    mlp_net *net = make_net(1, MLP_MSE, 1, 1, (const size_t[]){1},
                            (const mlp_activation[]){MLP_IDENTITY});
    float *W, *b;
    assert_int_equal(mlp_layer_params(net, 0, &W, &b, NULL, NULL), MLP_OK);
    W[0] = 0.5f;
    b[0] = 0.25f;
    return net;
}

/* Forward, backward and one optimizer step, then W and b against the hand
 * values. */
static void step_and_expect(mlp_net *net, mlp_optimizer *opt, double W_expected,
                            double b_expected, const char *what)
{
    const float *out;
    float *W, *b;
    assert_int_equal(mlp_forward(net, x_one, 1, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, y_one, NULL), MLP_OK);
    assert_int_equal(mlp_optimizer_step(opt, net), MLP_OK);
    assert_int_equal(mlp_layer_params(net, 0, &W, &b, NULL, NULL), MLP_OK);
    check_close(W[0], W_expected, 1e-6, what);
    check_close(b[0], b_expected, 1e-6, what);
}

/* lr 0.1, momentum 0.9, weight decay 0.1 (biases decayed too).
 * Step 1: r = 1.25 - 1 = 0.25, dW = 0.5, db = 0.25.
 *   g_W = 0.5 + 0.1*0.5 = 0.55, g_b = 0.25 + 0.1*0.25 = 0.275; v = g.
 *   W = 0.5 - 0.1*0.55 = 0.445, b = 0.25 - 0.1*0.275 = 0.2225.
 * Step 2: z = 0.89 + 0.2225 = 1.1125, r = 0.1125, dW = 0.225, db = 0.1125.
 *   g_W = 0.225 + 0.0445 = 0.2695, g_b = 0.1125 + 0.02225 = 0.13475.
 *   v_W = 0.9*0.55 + 0.2695 = 0.7645, v_b = 0.9*0.275 + 0.13475 = 0.38225.
 *   W = 0.445 - 0.07645 = 0.36855, b = 0.2225 - 0.038225 = 0.184275. */
static void test_sgd_momentum_weight_decay_two_steps(void **state)
{
    (void)state;
    mlp_net *net = one_one_net();
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.9f, 0.1f), MLP_OK);
    step_and_expect(net, opt, 0.445, 0.2225, "momentum step 1");
    step_and_expect(net, opt, 0.36855, 0.184275, "momentum step 2");
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* lr 0.1, momentum 0, no decay: W = 0.5 - 0.1*0.5 = 0.45,
 * b = 0.25 - 0.1*0.25 = 0.225. */
static void test_plain_sgd_one_step(void **state)
{
    (void)state;
    mlp_net *net = one_one_net();
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.0f, 0.0f), MLP_OK);
    step_and_expect(net, opt, 0.45, 0.225, "plain SGD");
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* On a larger network, plain SGD is exactly p <- p - lr dp in float. */
static void test_plain_sgd_is_exact_update(void **state)
{
    (void)state;
    const size_t widths[] = {5, 4, 2};
    const mlp_activation acts[] = {MLP_TANH, MLP_RELU, MLP_SIGMOID};
    mlp_net *net = make_net(3, MLP_BCE, 8, 3, widths, acts);
    float X[6 * 3], Y[6 * 2];
    test_rng rng = {12};
    test_fill_uniform(&rng, X, 18, -1, 1);
    test_fill_uniform(&rng, Y, 12, 0, 1);
    const float *out;
    assert_int_equal(mlp_forward(net, X, 6, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);
    float *params = snapshot_params(net), *grads = snapshot_grads(net);
    const float lr = 0.3f;
    size_t n = mlp_net_param_count(net);
    for (size_t k = 0; k < n; k++)
        params[k] = params[k] - lr * grads[k];
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, lr, 0.0f, 0.0f), MLP_OK);
    assert_int_equal(mlp_optimizer_step(opt, net), MLP_OK);
    expect_params_equal(net, params);
    free(grads);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* lr 0.1, momentum 0.9, Nesterov, no decay; the step is g + mu v.
 * Step 1: dW = 0.5, db = 0.25; v = g.
 *   W = 0.5 - 0.1*(0.5 + 0.45) = 0.405, b = 0.25 - 0.1*(0.25 + 0.225) = 0.2025.
 * Step 2: z = 0.81 + 0.2025 = 1.0125, r = 0.0125, dW = 0.025, db = 0.0125.
 *   v_W = 0.45 + 0.025 = 0.475, v_b = 0.225 + 0.0125 = 0.2375.
 *   W = 0.405 - 0.1*(0.025 + 0.4275) = 0.35975,
 *   b = 0.2025 - 0.1*(0.0125 + 0.21375) = 0.179875. */
static void test_nesterov_two_steps(void **state)
{
    (void)state;
    mlp_net *net = one_one_net();
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.9f, 0.0f), MLP_OK);
    assert_int_equal(mlp_sgd_set_nesterov(opt, 1), MLP_OK);
    step_and_expect(net, opt, 0.405, 0.2025, "Nesterov step 1");
    step_and_expect(net, opt, 0.35975, 0.179875, "Nesterov step 2");
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* Adam, lr 0.1, betas (0.9, 0.999), eps 1e-8, weight decay 0.1 added to g.
 * Step 1: g_W = 0.5 + 0.05 = 0.55, g_b = 0.25 + 0.025 = 0.275.
 *   m = 0.1 g, v = 0.001 g^2; m/(1-0.9) = g, sqrt(v/(1-0.999)) = |g|,
 *   so the step is lr g/(|g| + eps) = 0.1 (to 2e-9):
 *   W = 0.4, b = 0.15.
 * Step 2: z = 0.8 + 0.15 = 0.95, r = -0.05, dW = -0.1, db = -0.05.
 *   g_W = -0.1 + 0.04 = -0.06, g_b = -0.05 + 0.015 = -0.035.
 *   m_W = 0.9*0.055 - 0.006 = 0.0435,
 *   v_W = 0.999*0.0003025 + 0.001*0.0036 = 0.0003057975,
 *   W = 0.4 - 0.1*(0.0435/0.19)/sqrt(0.0003057975/0.001999) = 0.341463725.
 *   m_b = 0.9*0.0275 - 0.0035 = 0.02125,
 *   v_b = 0.999*0.000075625 + 0.001*0.001225 = 0.000076774375,
 *   b = 0.15 - 0.1*(0.02125/0.19)/sqrt(0.000076774375/0.001999) = 0.092930568. */
static void test_adam_two_steps(void **state)
{
    (void)state;
    mlp_net *net = one_one_net();
    mlp_optimizer *opt;
    assert_int_equal(mlp_adam_create(&opt, net, 0.1f, 0.9f, 0.999f, 1e-8f, 0.1f), MLP_OK);
    step_and_expect(net, opt, 0.4, 0.15, "Adam step 1");
    step_and_expect(net, opt, 0.341463725, 0.092930568, "Adam step 2");
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* AdamW, lr 0.1, betas (0.9, 0.999), eps 1e-8, decoupled weight decay 0.1:
 * p <- p (1 - lr wd) = 0.99 p, then the Adam step on the plain gradient.
 * Step 1: dW = 0.5, db = 0.25; the Adam step is 0.1:
 *   W = 0.495 - 0.1 = 0.395, b = 0.2475 - 0.1 = 0.1475.
 * Step 2: z = 0.79 + 0.1475 = 0.9375, r = -0.0625, dW = -0.125, db = -0.0625.
 *   m_W = 0.045 - 0.0125 = 0.0325, v_W = 0.00024975 + 0.000015625 = 0.000265375,
 *   W = 0.99*0.395 - 0.1*(0.0325/0.19)/sqrt(0.000265375/0.001999) = 0.344103183.
 *   m_b = 0.0225 - 0.00625 = 0.01625,
 *   v_b = 0.999*0.0000625 + 0.001*0.00390625 = 0.00006634375,
 *   b = 0.99*0.1475 - 0.1*(0.01625/0.19)/sqrt(0.00006634375/0.001999)
 *     = 0.099078187. */
static void test_adamw_two_steps(void **state)
{
    (void)state;
    mlp_net *net = one_one_net();
    mlp_optimizer *opt;
    assert_int_equal(mlp_adamw_create(&opt, net, 0.1f, 0.9f, 0.999f, 1e-8f, 0.1f),
                     MLP_OK);
    step_and_expect(net, opt, 0.395, 0.1475, "AdamW step 1");
    step_and_expect(net, opt, 0.344103183, 0.099078187, "AdamW step 2");
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* A new learning rate applies from the next step: plain SGD with lr 0.1
 * set to 0.2 gives W = 0.5 - 0.2*0.5 = 0.4, b = 0.25 - 0.2*0.25 = 0.2. */
static void test_set_lr_applies_to_next_step(void **state)
{
    (void)state;
    mlp_net *net = one_one_net();
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.0f, 0.0f), MLP_OK);
    assert_int_equal(mlp_optimizer_set_lr(opt, 0.2f), MLP_OK);
    step_and_expect(net, opt, 0.4, 0.2, "SGD with new lr");
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* ---- the bound that lets SGD skip its exact check (256+ parameters) ---- */

/* A 16-16-4 ReLU/identity network: 340 parameters, enough for SGD without
 * weight decay to check its steps by the bound of sgd_step_bounded. */
static mlp_net *bounded_net(void)
{
    return make_net(16, MLP_MSE, 5, 2, (const size_t[]){16, 4},
                    (const mlp_activation[]){MLP_RELU, MLP_IDENTITY});
}

/* The optimizers of test_bounded_steps_are_exact_updates, and their
 * formulas written out as the library must compute them, in float. */
enum { HAND_SGD, HAND_NESTEROV, HAND_ADAM, HAND_ADAMW, HAND_KINDS };
static const float hand_lr = 0.05f, hand_wd = 0.01f, hand_mu = 0.9f;
static const float hand_b1 = 0.9f, hand_b2 = 0.999f, hand_eps = 1e-8f;

static mlp_optimizer *hand_optimizer(mlp_net *net, int kind)
{
    mlp_optimizer *opt = NULL;
    if (kind == HAND_SGD || kind == HAND_NESTEROV) {
        assert_int_equal(mlp_sgd_create(&opt, net, hand_lr, hand_mu, hand_wd), MLP_OK);
        assert_int_equal(mlp_sgd_set_nesterov(opt, kind == HAND_NESTEROV), MLP_OK);
    } else if (kind == HAND_ADAM) {
        assert_int_equal(
            mlp_adam_create(&opt, net, hand_lr, hand_b1, hand_b2, hand_eps, hand_wd),
            MLP_OK);
    } else {
        assert_int_equal(
            mlp_adamw_create(&opt, net, hand_lr, hand_b1, hand_b2, hand_eps, hand_wd),
            MLP_OK);
    }
    return opt;
}

/* Step t (1, 2, ...) of the optimizer on p with gradients g and state m1,
 * m2 (zero at first): PyTorch's formulas, as src/optimizer.c writes them. */
static void hand_step(int kind, int t, float *p, const float *g, float *m1, float *m2,
                      size_t n)
{
    float step_size = (float)(hand_lr / (1.0 - pow(hand_b1, t)));
    float sqrt_bc2 = (float)sqrt(1.0 - pow(hand_b2, t));
    float decay = kind == HAND_ADAMW ? 1.0f - hand_lr * hand_wd : 1.0f;
    float coupled_wd = kind == HAND_ADAMW ? 0.0f : hand_wd;
    for (size_t k = 0; k < n; k++) {
        float grad = g[k] + coupled_wd * p[k];
        if (kind == HAND_SGD || kind == HAND_NESTEROV) {
            m1[k] = hand_mu * m1[k] + grad;
            p[k] =
                p[k] - hand_lr * (kind == HAND_NESTEROV ? grad + hand_mu * m1[k] : m1[k]);
        } else {
            m1[k] = hand_b1 * m1[k] + (1.0f - hand_b1) * grad;
            m2[k] = hand_b2 * m2[k] + (1.0f - hand_b2) * grad * grad;
            p[k] =
                p[k] * decay - step_size * m1[k] / (sqrtf(m2[k]) / sqrt_bc2 + hand_eps);
        }
    }
}

/* On a network big enough for the bound, four steps of momentum SGD (with
 * and without Nesterov, with weight decay), Adam and AdamW equal their
 * formulas bit for bit, taken as mlp_forward, mlp_backward and
 * mlp_optimizer_step or as mlp_train_batch: the bound changes which check
 * runs, never the update, and the update passes that keep the bound's
 * maxima give the same values as those that do not. */
static void expect_bounded_steps_exact(bool through_train_batch)
{
    float X[3 * 16], Y[3 * 4];
    test_rng rng = {21};
    test_fill_uniform(&rng, X, 48, -1, 1);
    test_fill_uniform(&rng, Y, 12, -1, 1);
    for (int kind = 0; kind < HAND_KINDS; kind++) {
        mlp_net *net = bounded_net();
        size_t n = mlp_net_param_count(net);
        float *m1 = calloc(n, sizeof *m1), *m2 = calloc(n, sizeof *m2);
        assert_true(m1 && m2);
        mlp_optimizer *opt = hand_optimizer(net, kind);
        for (int t = 1; t <= 4; t++) {
            float *p = snapshot_params(net);
            if (through_train_batch) {
                assert_int_equal(mlp_train_batch(net, opt, X, Y, 3, NULL), MLP_OK);
            } else {
                const float *out;
                assert_int_equal(mlp_forward(net, X, 3, &out), MLP_OK);
                assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);
                assert_int_equal(mlp_optimizer_step(opt, net), MLP_OK);
            }
            float *g = snapshot_grads(net); /* a step leaves the gradients */
            hand_step(kind, t, p, g, m1, m2, n);
            expect_params_equal(net, p);
            free(g);
        }
        free(m1);
        free(m2);
        mlp_optimizer_free(opt);
        mlp_net_free(net);
    }
}

static void test_bounded_steps_are_exact_updates(void **state)
{
    (void)state;
    expect_bounded_steps_exact(false);
}

/* One 255-input identity unit with W = 0, b = 0 and every input s: the
 * output is 0 and, for target t and one sample, dW = -t s and db = -t. */
static mlp_net *wide_unit(void)
{
    mlp_net *net = make_net(255, MLP_MSE, 1, 1, (const size_t[]){1},
                            (const mlp_activation[]){MLP_IDENTITY});
    float *W, *b;
    assert_int_equal(mlp_layer_params(net, 0, &W, &b, NULL, NULL), MLP_OK);
    memset(W, 0, 255 * sizeof *W);
    b[0] = 0.0f;
    return net;
}

/* One step of the wide unit on one sample whose 255 inputs are all x, with
 * target y: MLP_OK or the status expected, which for a refusal must leave
 * every parameter as it was. */
static void wide_step(mlp_net *net, mlp_optimizer *opt, float x, float y,
                      mlp_status expected)
{
    float X[255];
    for (int k = 0; k < 255; k++)
        X[k] = x;
    float *before = snapshot_params(net);
    assert_int_equal(mlp_train_batch(net, opt, X, &y, 1, NULL), expected);
    if (expected != MLP_OK)
        expect_params_equal(net, before);
    else
        free(before);
}

/* The bound must use the velocity the earlier steps left. Step 1 has
 * gradients of 1e37 and lr 1e-30: too big for the bound, so the exact
 * check passes it, and v = 1e37. Step 2 has gradients near 2.6e9 and lr
 * 1e10: small enough for the bound if v were forgotten, but p would move by
 * lr (0.9 v + g), about 9e46, past FLT_MAX. It must be refused. */
static void test_bound_counts_the_velocity(void **state)
{
    (void)state;
    mlp_net *net = wide_unit();
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 1e-30f, 0.9f, 0.0f), MLP_OK);
    wide_step(net, opt, 1e19f, 1e18f, MLP_OK);
    float *W;
    assert_int_equal(mlp_layer_params(net, 0, &W, NULL, NULL, NULL), MLP_OK);
    check_close(W[0], 1e7, 1.0, "W after the step with gradients of 1e37");
    assert_int_equal(mlp_optimizer_set_lr(opt, 1e10f), MLP_OK);
    wide_step(net, opt, 1.0f, 0.0f, MLP_ERR_NUMERIC);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* The bound must look at v itself, not only at the move lr v: with lr
 * 1e-30 and inputs of 3e38 (target -1, so the loss stays 0.5), step 1
 * leaves v = 3e38; with the weights set back to 0, step 2's v = 0.9 v + g
 * is 5.7e38, past FLT_MAX, while p would move by only 5.7e8. */
static void test_bound_counts_the_velocity_itself(void **state)
{
    (void)state;
    mlp_net *net = wide_unit();
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 1e-30f, 0.9f, 0.0f), MLP_OK);
    wide_step(net, opt, 3e38f, -1.0f, MLP_OK);
    float *W, *b;
    assert_int_equal(mlp_layer_params(net, 0, &W, &b, NULL, NULL), MLP_OK);
    memset(W, 0, 255 * sizeof *W);
    b[0] = 0.0f;
    wide_step(net, opt, 3e38f, -1.0f, MLP_ERR_NUMERIC);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* Small gradients with a learning rate of 1e38: v stays near 10, but p
 * would move by about 1e39, past FLT_MAX. The bound must look at the move,
 * not only at v. */
static void test_bound_counts_the_learning_rate(void **state)
{
    (void)state;
    mlp_net *net = wide_unit();
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 1e38f, 0.9f, 0.0f), MLP_OK);
    wide_step(net, opt, 1.0f, 10.0f, MLP_ERR_NUMERIC);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* AdamW with lr 6 and weight decay 1 multiplies p by 1 - 6 = -5 before it
 * moves it, so a weight of 1e38 would become -5e38, past FLT_MAX, however
 * small the gradients. The bound must count max|p| times the decay. */
static void test_bound_counts_the_decay(void **state)
{
    (void)state;
    mlp_net *net = wide_unit();
    float *W;
    assert_int_equal(mlp_layer_params(net, 0, &W, NULL, NULL, NULL), MLP_OK);
    W[0] = 1e38f;
    mlp_optimizer *opt;
    assert_int_equal(mlp_adamw_create(&opt, net, 6.0f, 0.9f, 0.999f, 1e-8f, 1.0f),
                     MLP_OK);
    wide_step(net, opt, 0.0f, 0.0f, MLP_ERR_NUMERIC);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* The same for Adam's first moment m. With beta2 0 and eps 1e-20, step 1
 * (gradients of 1e18, lr 1e-20) leaves m = -1e17 on the weights and moves
 * them to 1e-20. Step 2 has gradients of 1e-20 at most and lr 100; then
 * v = g^2 underflows to 0 on the weights, the denominator is eps, and p
 * would move by 100 / (1 - 0.9^2) * 9e16 / 1e-20, past FLT_MAX. Had the
 * bound forgotten m it would have vouched for a move below 60. */
static void test_bound_counts_adams_first_moment(void **state)
{
    (void)state;
    mlp_net *net = wide_unit();
    mlp_optimizer *opt;
    assert_int_equal(mlp_adam_create(&opt, net, 1e-20f, 0.9f, 0.0f, 1e-20f, 0.0f),
                     MLP_OK);
    wide_step(net, opt, 1e18f, 1.0f, MLP_OK);
    float *W;
    assert_int_equal(mlp_layer_params(net, 0, &W, NULL, NULL, NULL), MLP_OK);
    check_close(W[0], 1e-20, 1e-26, "W after the step with gradients of 1e18");
    assert_int_equal(mlp_optimizer_set_lr(opt, 100.0f), MLP_OK);
    wide_step(net, opt, 1e-10f, 0.0f, MLP_ERR_NUMERIC);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* The bound must cover the update's numerator lr/(1-b1^t) m, which the
 * update computes before it divides: with eps 1e10 and lr 1e23, gradients
 * of 1e16 make m 1e16 and the quotient lr m / (sqrt(v)/sqrt(1-b2) + eps)
 * about 1e23, finite, but lr m is 1e39, past FLT_MAX, so the update's
 * arithmetic gives infinity. The step must be refused like any other that
 * would, parameters and optimizer state (moments, step count) unchanged;
 * a bound that looked only at the quotient (below 2^100) once let it
 * through, on the 256 parameters that use the bound. */
static void test_bound_counts_adams_numerator(void **state)
{
    (void)state;
    mlp_net *net = wide_unit();
    mlp_optimizer *opt;
    assert_int_equal(mlp_adam_create(&opt, net, 1e23f, 0.0f, 0.999f, 1e10f, 0.0f),
                     MLP_OK);
    size_t size, written;
    assert_int_equal(mlp_optimizer_saved_size(opt, &size), MLP_OK);
    unsigned char *state_before = malloc(size), *state_after = malloc(size);
    assert_non_null(state_before);
    assert_non_null(state_after);
    assert_int_equal(mlp_optimizer_save_buffer(opt, state_before, size, &written),
                     MLP_OK);
    wide_step(net, opt, 1.0f, -1e16f, MLP_ERR_NUMERIC);
    assert_int_equal(mlp_optimizer_save_buffer(opt, state_after, size, &written), MLP_OK);
    assert_memory_equal(state_before, state_after, size);
    free(state_before);
    free(state_after);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* The bound must cover Adam's second moment: with beta1 0, gradients of
 * 1e30 keep m = 1e30 (under 2^100) and, with lr 1e-30, the move small, but
 * v = (1 - beta2) g^2 = 1e57 overflows float. */
static void test_bound_counts_adams_second_moment(void **state)
{
    (void)state;
    mlp_net *net = wide_unit();
    mlp_optimizer *opt;
    assert_int_equal(mlp_adam_create(&opt, net, 1e-30f, 0.0f, 0.999f, 1e-8f, 0.0f),
                     MLP_OK);
    wide_step(net, opt, 1e30f, -1.0f, MLP_ERR_NUMERIC);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* A NaN the caller wrote into a parameter is refused on a network big
 * enough for the bound, as by the exact check: here a hidden bias whose
 * ReLU hides it from the loss, so only the optimizer can see it. */
static void test_bound_refuses_a_nan_parameter(void **state)
{
    (void)state;
    float X[2 * 16], Y[2 * 4];
    test_rng rng = {3};
    test_fill_uniform(&rng, X, 32, -1, 1);
    test_fill_uniform(&rng, Y, 8, -1, 1);
    mlp_net *net = bounded_net();
    float *b;
    assert_int_equal(mlp_layer_params(net, 0, NULL, &b, NULL, NULL), MLP_OK);
    b[3] = NAN;
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.9f, 0.0f), MLP_OK);
    const float *out;
    float loss;
    assert_int_equal(mlp_forward(net, X, 2, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, &loss), MLP_OK);
    assert_true(isfinite(loss));
    float *before = snapshot_params(net);
    assert_int_equal(mlp_optimizer_step(opt, net), MLP_ERR_NUMERIC);
    expect_params_equal(net, before);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* ---- the bound from what the network already knows ---- */

/* After an update pass the network knows its largest |p|, and after a
 * backward pass of mlp_train_batch a bound on its gradients from the
 * largest |delta| and |A| (src/network.c), so that a step can be vouched
 * for without reading p and g. These tests train through mlp_train_batch
 * and read the parameters with mlp_layer_params_const, so that path is the
 * one taken, and each builds a step that the path must refuse. */

/* The same through mlp_train_batch: from the second step on, the update
 * is vouched for from the known maxima, and it still gives the formulas'
 * bits, step after step. */
static void test_known_maxima_steps_are_exact_updates(void **state)
{
    (void)state;
    expect_bounded_steps_exact(true);
}

/* mlp_train_batch, which must refuse the step and leave every parameter
 * as it was; then frees opt and net, with which each refusal test ends. */
static void expect_step_refused_then_free(mlp_net *net, mlp_optimizer *opt,
                                          const float *X, const float *Y, size_t m)
{
    float *before = snapshot_params(net);
    assert_int_equal(mlp_train_batch(net, opt, X, Y, m, NULL), MLP_ERR_NUMERIC);
    expect_params_equal(net, before);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* With SGD without momentum on X and Y (m rows): a first step with lr
 * 1e-30 passes, then one with lr 1e20 must be refused
 * (expect_step_refused_then_free). */
static void expect_huge_lr_refused_then_free(mlp_net *net, const float *X, const float *Y,
                                             size_t m)
{
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 1e-30f, 0.0f, 0.0f), MLP_OK);
    assert_int_equal(mlp_train_batch(net, opt, X, Y, m, NULL), MLP_OK);
    assert_int_equal(mlp_optimizer_set_lr(opt, 1e20f), MLP_OK);
    expect_step_refused_then_free(net, opt, X, Y, m);
}

/* steps calls of mlp_train_batch, each of which must succeed. */
static void train_steps(mlp_net *net, mlp_optimizer *opt, const float *X, const float *Y,
                        size_t m, int steps)
{
    for (int t = 0; t < steps; t++)
        assert_int_equal(mlp_train_batch(net, opt, X, Y, m, NULL), MLP_OK);
}

/* A 64-4 softmax network with cross-entropy: 260 parameters, enough for
 * the bound. */
static mlp_net *softmax_64_4(void)
{
    return make_net(64, MLP_CROSS_ENTROPY, 7, 1, (const size_t[]){4},
                    (const mlp_activation[]){MLP_SOFTMAX});
}

/* One-hot targets for m rows of k classes, row i of class i mod k: on
 * equal rows, which saturate the softmax at one class, some row misses. */
static void cycling_targets(float *Y, size_t m, size_t k)
{
    memset(Y, 0, m * k * sizeof *Y);
    for (size_t i = 0; i < m; i++)
        Y[i * k + i % k] = 1.0f;
}

/* The largest |p| an update pass leaves must be that of the new p. SGD
 * and AdamW with lr 6 and weight decay 1 multiply p by -5 every step; with
 * inputs of 0 the weights get no gradient and the softmax outputs' loss
 * stays finite, so p grows 5-fold a step until a step would take it past
 * FLT_MAX, after some 50 steps. That step must be refused, with every
 * parameter still finite. */
static void test_known_params_max_follows_the_updates(void **state)
{
    (void)state;
    float X[2 * 64] = {0}, Y[2 * 4];
    cycling_targets(Y, 2, 4);
    for (int adam = 0; adam <= 1; adam++) {
        mlp_net *net = softmax_64_4();
        mlp_optimizer *opt;
        assert_int_equal(
            adam ? mlp_adamw_create(&opt, net, 6.0f, 0.9f, 0.999f, 1e-8f, 1.0f)
                 : mlp_sgd_create(&opt, net, 6.0f, 0.0f, 1.0f),
            MLP_OK);
        mlp_status status = MLP_OK;
        int steps = 0;
        while (status == MLP_OK && steps < 200) {
            float *before = snapshot_params(net);
            status = mlp_train_batch(net, opt, X, Y, 2, NULL);
            steps++;
            if (status == MLP_OK)
                free(before);
            else
                expect_params_equal(net, before);
        }
        assert_int_equal(status, MLP_ERR_NUMERIC);
        assert_true(steps > 40);
        float *p = snapshot_params(net);
        for (size_t k = 0; k < mlp_net_param_count(net); k++)
            assert_true(isfinite(p[k]));
        free(p);
        mlp_optimizer_free(opt);
        mlp_net_free(net);
    }
}

/* How expect_written_weight_seen writes the weight. */
typedef enum { THROUGH_VIEW, THROUGH_SETTER, THROUGH_FOLD } weight_write;

/* A write to p that no update pass sees must make the bound read p again.
 * Three steps, each leaving its largest |p|, then a weight whose input is
 * always 0 is set to 3e38, through views taken before the steps, through
 * mlp_layer_set_params, or by folding a standardization whose std for that
 * input is |w| / 3e38 (mlp_standardize_fold; the weight is set to 8 before
 * the steps, so that this std is a normal float). Forward and backward stay
 * finite, but weight decay 2 makes its g 6e38, past FLT_MAX, which a bound
 * trusting the last update's largest |p| would not see. */
static void expect_written_weight_seen(weight_write how)
{
    float X[2 * 16], Y[2 * 4];
    test_rng rng = {23};
    test_fill_uniform(&rng, X, 32, -1, 1);
    test_fill_uniform(&rng, Y, 8, -1, 1);
    X[5] = X[16 + 5] = 0.0f;
    mlp_net *net = bounded_net();
    float *W_view = NULL;
    if (how == THROUGH_VIEW)
        assert_int_equal(mlp_layer_params(net, 0, &W_view, NULL, NULL, NULL), MLP_OK);
    if (how == THROUGH_FOLD) {
        float *W = snapshot_params(net);
        W[5] = 8.0f;
        assert_int_equal(mlp_layer_set_params(net, 0, W, NULL), MLP_OK);
        free(W);
    }
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.01f, 0.9f, 2.0f), MLP_OK);
    train_steps(net, opt, X, Y, 2, 3);
    float *W = snapshot_params(net); /* layer 0's W leads the block */
    if (how == THROUGH_SETTER) {
        W[5] = 3e38f; /* unit 0, input 5 */
        assert_int_equal(mlp_layer_set_params(net, 0, W, NULL), MLP_OK);
    } else if (how == THROUGH_FOLD) {
        float mean[16] = {0}, std[16];
        for (size_t k = 0; k < 16; k++)
            std[k] = 1.0f;
        std[5] = fabsf(W[5]) / 3e38f;
        assert_int_equal(mlp_standardize_fold(net, mean, std), MLP_OK);
    } else {
        W_view[5] = 3e38f;
    }
    free(W);
    expect_step_refused_then_free(net, opt, X, Y, 2);
}

static void test_bound_reads_params_written_through_views(void **state)
{
    (void)state;
    expect_written_weight_seen(THROUGH_VIEW);
}

static void test_bound_reads_params_set_by_the_setter(void **state)
{
    (void)state;
    expect_written_weight_seen(THROUGH_SETTER);
}

static void test_bound_reads_params_folded_into(void **state)
{
    (void)state;
    expect_written_weight_seen(THROUGH_FOLD);
}

/* The gradient bound must count the inputs: a 64-4 softmax network (260
 * parameters) takes two ordinary steps, then a batch of inputs of 1e30
 * with lr 1e10. The loss stays finite, but the weights would move by about
 * 1e40; from |delta| alone (at most 1) the bound would vouch for it. */
static void test_gradient_bound_counts_the_inputs(void **state)
{
    (void)state;
    float X[2 * 64], Y[2 * 4];
    test_rng rng = {24};
    test_fill_uniform(&rng, X, 128, -1, 1);
    cycling_targets(Y, 2, 4);
    mlp_net *net = softmax_64_4();
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.01f, 0.9f, 0.0f), MLP_OK);
    train_steps(net, opt, X, Y, 2, 2);
    for (int k = 0; k < 128; k++)
        X[k] = 1e30f;
    assert_int_equal(mlp_optimizer_set_lr(opt, 1e10f), MLP_OK);
    expect_step_refused_then_free(net, opt, X, Y, 2);
}

/* net with the weights of layer `layer` set to w in even rows (units) and
 * -w in odd ones, so that no two units agree, through mlp_layer_set_params,
 * which leaves no writable views behind. Returns net. */
static mlp_net *with_weights(mlp_net *net, size_t layer, float w)
{
    size_t n_out, n_in;
    assert_int_equal(mlp_layer_params_const(net, layer, NULL, NULL, &n_out, &n_in),
                     MLP_OK);
    float *W = malloc(n_out * n_in * sizeof *W);
    assert_non_null(W);
    for (size_t j = 0; j < n_out; j++)
        for (size_t k = 0; k < n_in; k++)
            W[j * n_in + k] = j % 2 ? -w : w;
    assert_int_equal(mlp_layer_set_params(net, layer, W, NULL), MLP_OK);
    free(W);
    return net;
}

/* And the output layer's delta, which softmax with cross-entropy keeps
 * below 1 but MSE does not: on a 64-4 identity network (260 parameters),
 * targets of 1e18 make it about 1e18 while the loss, about 1e36, stays
 * finite, and lr 1e22 would move the biases by about 1e40. The inputs are
 * then 0, so that only db shows it: its bound must not scale with them. */
static void test_gradient_bound_counts_the_output_delta(void **state)
{
    (void)state;
    float X[2 * 64], Y[2 * 4];
    test_rng rng = {26};
    test_fill_uniform(&rng, X, 128, -1, 1);
    test_fill_uniform(&rng, Y, 8, -1, 1);
    mlp_net *net = make_net(64, MLP_MSE, 7, 1, (const size_t[]){4},
                            (const mlp_activation[]){MLP_IDENTITY});
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.01f, 0.9f, 0.0f), MLP_OK);
    train_steps(net, opt, X, Y, 2, 2);
    memset(X, 0, sizeof X);
    for (int k = 0; k < 8; k++)
        Y[k] = 1e18f;
    assert_int_equal(mlp_optimizer_set_lr(opt, 1e22f), MLP_OK);
    expect_step_refused_then_free(net, opt, X, Y, 2);
}

/* A 64-4-2 network (270 parameters) at batch 2, where the 4-2 softmax
 * layer takes the tiny path backward (4 x 2 x 2 <= 64) and the first layer
 * the general one, with weights of +-1e20 in layer `huge`, must refuse
 * the step with lr 1e20 (expect_huge_lr_refused_then_free). The two rows
 * are equal and their classes differ, so one misses. */
static void expect_tiny_output_step_refused(size_t huge)
{
    float X[2 * 64], Y[2 * 2];
    test_rng rng = {27};
    test_fill_uniform(&rng, X, 64, -1, 1);
    memcpy(X + 64, X, 64 * sizeof *X);
    cycling_targets(Y, 2, 2);
    mlp_net *net =
        with_weights(make_net(64, MLP_CROSS_ENTROPY, 7, 2, (const size_t[]){4, 2},
                              (const mlp_activation[]){MLP_IDENTITY, MLP_SOFTMAX}),
                     huge, 1e20f);
    expect_huge_lr_refused_then_free(net, X, Y, 2);
}

/* A tiny layer's gradients are read, not bounded: first weights of 1e20
 * make the hidden units, and so the output layer's dW, about 1e20, while
 * the first layer's own gradients stay small. */
static void test_gradient_bound_reads_a_tiny_layers_gradients(void **state)
{
    (void)state;
    expect_tiny_output_step_refused(0);
}

/* Its bias gradients too: in a 64-4-2 ReLU/identity MSE network at batch
 * 2, inputs of 0 leave every hidden unit at 0, so every weight gradient is
 * 0, while targets of 1e18 make the output layer's db about 1e18 (the loss,
 * about 1e36, stays finite) and lr 1e22 would move those biases by 1e40. */
static void test_gradient_bound_reads_a_tiny_layers_biases(void **state)
{
    (void)state;
    float X[2 * 64] = {0}, Y[2 * 2] = {0};
    mlp_net *net = make_net(64, MLP_MSE, 7, 2, (const size_t[]){4, 2},
                            (const mlp_activation[]){MLP_RELU, MLP_IDENTITY});
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.01f, 0.9f, 0.0f), MLP_OK);
    assert_int_equal(mlp_train_batch(net, opt, X, Y, 2, NULL), MLP_OK);
    for (int k = 0; k < 4; k++)
        Y[k] = 1e18f;
    assert_int_equal(mlp_optimizer_set_lr(opt, 1e22f), MLP_OK);
    expect_step_refused_then_free(net, opt, X, Y, 2);
}

/* And the delta that a tiny layer's backward pass hands down: output
 * weights of 1e20 keep the output layer's own gradients below 1 but make
 * the first layer's delta, and so its dW, about 1e20. */
static void test_gradient_bound_counts_a_tiny_layers_delta(void **state)
{
    (void)state;
    expect_tiny_output_step_refused(1);
}

/* A network of 3 inputs, 4 units with activation act and 64 softmax
 * outputs (336 parameters), whose weights in layer `huge` are 1e20 and
 * -1e20. */
static mlp_net *net_with_huge_weights(mlp_activation act, size_t huge)
{
    return with_weights(make_net(3, MLP_CROSS_ENTROPY, 9, 2, (const size_t[]){4, 64},
                                 (const mlp_activation[]){act, MLP_SOFTMAX}),
                        huge, 1e20f);
}

/* On a network from net_with_huge_weights at batch 8, where every layer
 * takes the general path, with inputs of 1, lr 1e20 would move some
 * parameters past FLT_MAX (expect_huge_lr_refused_then_free). */
static void expect_general_step_refused(size_t huge)
{
    float X[8 * 3], Y[8 * 64];
    for (int k = 0; k < 24; k++)
        X[k] = 1.0f;
    cycling_targets(Y, 8, 64);
    mlp_net *net = net_with_huge_weights(MLP_IDENTITY, huge);
    expect_huge_lr_refused_then_free(net, X, Y, 8);
}

/* And the delta of a hidden layer on the general path, which the pass that
 * makes it also measures: output weights of 1e20 keep the output layer's
 * dW small, since the hidden units stay small, but make the hidden
 * layer's delta, and so its dW and db, about 1e20. */
static void test_gradient_bound_counts_a_hidden_layers_delta(void **state)
{
    (void)state;
    expect_general_step_refused(1);
}

/* The gradient bound must count the hidden activations, not only the
 * inputs: with first weights of 1e20 and inputs of 1, the hidden units are
 * about 3e20, and so are the output layer's dW. */
static void test_gradient_bound_counts_hidden_activations(void **state)
{
    (void)state;
    expect_general_step_refused(0);
}

/* The same when the hidden layer takes the tiny path at the new batch size:
 * its largest |A| must come from this batch, not from the last batch that
 * took the general path. Step 1 (batch 8, general path) has inputs of 0, so
 * the hidden units are 0; step 2 (batch 1, tiny path: 3 x 4 x 1 <= 64) has
 * inputs of 1, so they are 3e20. */
static void test_gradient_bound_counts_tiny_layer_activations(void **state)
{
    (void)state;
    float X[8 * 3] = {0}, Y[8 * 64];
    cycling_targets(Y, 8, 64);
    mlp_net *net = net_with_huge_weights(MLP_RELU, 0);
    mlp_optimizer *opt;
    assert_int_equal(mlp_sgd_create(&opt, net, 1e-30f, 0.9f, 0.0f), MLP_OK);
    assert_int_equal(mlp_train_batch(net, opt, X, Y, 8, NULL), MLP_OK);
    for (int k = 0; k < 3; k++)
        X[k] = 1.0f;
    assert_int_equal(mlp_optimizer_set_lr(opt, 1e20f), MLP_OK);
    expect_step_refused_then_free(net, opt, X, Y, 1);
}

/* Nothing can know that X stays as it was until mlp_backward reads it
 * again (the header asks for it, but the step must hold even when a caller
 * breaks that): after mlp_forward, or after mlp_train_batch (a second
 * backward pass on its batch), inputs changed to 1e30 make dW about 1e30
 * while the loss, from the cached outputs, stays small, and lr 1e10 would
 * move the weights past FLT_MAX. */
static void test_bound_does_not_trust_inputs_after_forward(void **state)
{
    (void)state;
    for (int after_train = 0; after_train <= 1; after_train++) {
        float X[2 * 64], Y[2 * 4];
        test_rng rng = {25};
        test_fill_uniform(&rng, X, 128, -1, 1);
        cycling_targets(Y, 2, 4);
        mlp_net *net = softmax_64_4();
        mlp_optimizer *opt;
        assert_int_equal(mlp_sgd_create(&opt, net, 0.01f, 0.9f, 0.0f), MLP_OK);
        train_steps(net, opt, X, Y, 2, 2);
        const float *out;
        if (!after_train)
            assert_int_equal(mlp_forward(net, X, 2, &out), MLP_OK);
        for (int k = 0; k < 128; k++)
            X[k] = 1e30f;
        float loss;
        assert_int_equal(mlp_backward(net, Y, &loss), MLP_OK);
        assert_true(loss < 100.0f);
        assert_int_equal(mlp_optimizer_set_lr(opt, 1e10f), MLP_OK);
        float *before = snapshot_params(net);
        assert_int_equal(mlp_optimizer_step(opt, net), MLP_ERR_NUMERIC);
        expect_params_equal(net, before);
        mlp_optimizer_free(opt);
        mlp_net_free(net);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_momentum_weight_decay_two_steps),
        cmocka_unit_test(test_plain_sgd_one_step),
        cmocka_unit_test(test_plain_sgd_is_exact_update),
        cmocka_unit_test(test_nesterov_two_steps),
        cmocka_unit_test(test_adam_two_steps),
        cmocka_unit_test(test_adamw_two_steps),
        cmocka_unit_test(test_set_lr_applies_to_next_step),
        cmocka_unit_test(test_bounded_steps_are_exact_updates),
        cmocka_unit_test(test_bound_counts_the_velocity),
        cmocka_unit_test(test_bound_counts_the_velocity_itself),
        cmocka_unit_test(test_bound_counts_the_learning_rate),
        cmocka_unit_test(test_bound_counts_the_decay),
        cmocka_unit_test(test_bound_counts_adams_first_moment),
        cmocka_unit_test(test_bound_counts_adams_numerator),
        cmocka_unit_test(test_bound_counts_adams_second_moment),
        cmocka_unit_test(test_bound_refuses_a_nan_parameter),
        cmocka_unit_test(test_known_maxima_steps_are_exact_updates),
        cmocka_unit_test(test_known_params_max_follows_the_updates),
        cmocka_unit_test(test_bound_reads_params_written_through_views),
        cmocka_unit_test(test_bound_reads_params_set_by_the_setter),
        cmocka_unit_test(test_bound_reads_params_folded_into),
        cmocka_unit_test(test_gradient_bound_counts_the_inputs),
        cmocka_unit_test(test_gradient_bound_counts_the_output_delta),
        cmocka_unit_test(test_gradient_bound_reads_a_tiny_layers_gradients),
        cmocka_unit_test(test_gradient_bound_reads_a_tiny_layers_biases),
        cmocka_unit_test(test_gradient_bound_counts_a_tiny_layers_delta),
        cmocka_unit_test(test_gradient_bound_counts_a_hidden_layers_delta),
        cmocka_unit_test(test_gradient_bound_counts_hidden_activations),
        cmocka_unit_test(test_gradient_bound_counts_tiny_layer_activations),
        cmocka_unit_test(test_bound_does_not_trust_inputs_after_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
