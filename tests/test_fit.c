/*
 * The training loop, schedules and evaluation: schedules against their
 * formulas, mlp_fit against the same steps taken by hand (order, partial
 * batch, shuffling, clipping), reproducibility, early stopping, validation
 * reports against mlp_evaluate, mlp_evaluate against whole-batch metrics,
 * every refusal, rollback on numeric failure, allocation (fixed count and
 * every failure), and XOR learned end to end.
 *
 * mlp_alloc is wrapped at link time (-Wl,--wrap=mlp_alloc) so the tests
 * can count the library's allocations and make any one of them fail.
 */
#include "alloc_counter.h"
#include "internal.h"
#include "test_util.h"

/* ---- allocation wrapping ---- */

/* ---- data and networks ---- */

enum { N_IN = 3, N_HIDDEN = 5, N_OUT = 2 };

/* A 3-5-2 tanh/identity MSE network. */
static mlp_net *regression_net(uint64_t seed)
{
    return make_net(N_IN, MLP_MSE, seed, 2, (const size_t[]){N_HIDDEN, N_OUT},
                    (const mlp_activation[]){MLP_TANH, MLP_IDENTITY});
}

/* n rows of inputs in [-1, 1) and targets that are a smooth function of
 * them, so training has something to learn. */
static void regression_data(size_t n, uint64_t seed, float *X, float *Y)
{
    test_rng rng = {seed};
    test_fill_uniform(&rng, X, n * N_IN, -1.0, 1.0);
    for (size_t i = 0; i < n; i++) {
        const float *x = X + i * N_IN;
        Y[i * N_OUT] = 0.5f * x[0] - x[1] * x[2];
        Y[i * N_OUT + 1] = sinf(x[0] + x[2]);
    }
}

static mlp_optimizer *sgd(mlp_net *net, float lr)
{
    mlp_optimizer *opt = NULL;
    assert_int_equal(mlp_sgd_create(&opt, net, lr, 0.0f, 0.0f), MLP_OK);
    return opt;
}

static mlp_optimizer *adam(mlp_net *net, float lr)
{
    mlp_optimizer *opt = NULL;
    assert_int_equal(mlp_adam_create(&opt, net, lr, 0.9f, 0.999f, 1e-8f, 0.0f), MLP_OK);
    return opt;
}

static bool params_all_finite(mlp_net *net)
{
    float *p = snapshot_params(net);
    bool finite = true;
    for (size_t k = 0; k < mlp_net_param_count(net); k++)
        finite = finite && isfinite(p[k]);
    free(p);
    return finite;
}

/* Fit options without shuffling, for comparisons with steps by hand. */
static mlp_fit_options plain_options(size_t epochs, size_t batch_size)
{
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = epochs;
    o.batch_size = batch_size;
    o.shuffle = 0;
    return o;
}

/* ---- callbacks ---- */

enum { MAX_EPOCHS = 64 };

/* Every report, and when to stop. */
typedef struct recorder {
    size_t calls;
    size_t stop_at; /* returns 1 at this epoch; SIZE_MAX never */
    mlp_epoch_info info[MAX_EPOCHS];
} recorder;

static int record(const mlp_epoch_info *info, void *user)
{
    recorder *r = user;
    if (r->calls < MAX_EPOCHS)
        r->info[r->calls] = *info;
    r->calls++;
    return info->epoch == r->stop_at;
}

static mlp_fit_options recorded_options(size_t epochs, size_t batch_size, recorder *r)
{
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = epochs;
    o.batch_size = batch_size;
    o.callback = record;
    o.user = r;
    r->calls = 0;
    r->stop_at = SIZE_MAX;
    return o;
}

/* ------------------------------------------------------------------------ */
/* Schedules                                                                 */
/* ------------------------------------------------------------------------ */

static float schedule_at(const mlp_schedule *s, size_t epoch)
{
    float lr = -1.0f;
    assert_int_equal(mlp_schedule_lr(s, epoch, &lr), MLP_OK);
    return lr;
}

static void test_schedule_constant(void **state)
{
    (void)state;
    mlp_schedule s = {.kind = MLP_SCHEDULE_CONSTANT, .base_lr = 0.03f};
    assert_true(schedule_at(&s, 0) == 0.03f);
    assert_true(schedule_at(&s, 7) == 0.03f);
    assert_true(schedule_at(&s, SIZE_MAX) == 0.03f);
}

static void test_schedule_step_decays_at_step_size(void **state)
{
    (void)state;
    mlp_schedule s = {
        .kind = MLP_SCHEDULE_STEP, .base_lr = 0.1f, .step_size = 3, .gamma = 0.5f};
    const double base = 0.1f;
    const size_t epochs[] = {0, 1, 2, 3, 4, 5, 6, 9, 20};
    const double factor[] = {
        1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.125, 0.5 * 0.5 * 0.5 * 0.5 * 0.5 * 0.5};
    for (size_t k = 0; k < sizeof epochs / sizeof *epochs; k++)
        assert_true(schedule_at(&s, epochs[k]) == (float)(base * factor[k]));
}

static void test_schedule_cosine_endpoints_and_midpoint(void **state)
{
    (void)state;
    mlp_schedule s = {
        .kind = MLP_SCHEDULE_COSINE, .base_lr = 0.1f, .t_max = 10, .min_lr = 0.001f};
    assert_true(schedule_at(&s, 0) == 0.1f);
    check_rel(schedule_at(&s, 5), (0.1 + 0.001) / 2.0, 1e-6, 0.0, "cosine midpoint");
    double quarter =
        0.001 + (0.1 - 0.001) * (1.0 + cos(3.14159265358979 * 2.0 / 10.0)) / 2.0;
    check_rel(schedule_at(&s, 2), quarter, 1e-6, 0.0, "cosine epoch 2");
    assert_true(schedule_at(&s, 9) > 0.001f);
    assert_true(schedule_at(&s, 10) == 0.001f);
    assert_true(schedule_at(&s, 11) == 0.001f);
    assert_true(schedule_at(&s, 1000) == 0.001f);
}

/* Fails unless the schedule is refused and *lr left alone. */
static void expect_schedule_refused(const mlp_schedule *s, size_t epoch, const char *what)
{
    float lr = 42.0f;
    if (mlp_schedule_lr(s, epoch, &lr) != MLP_ERR_ARG)
        fail_msg("schedule accepted: %s", what);
    assert_true(lr == 42.0f);
}

static void test_schedule_refusals(void **state)
{
    (void)state;
    const mlp_schedule step = {
        .kind = MLP_SCHEDULE_STEP, .base_lr = 0.1f, .step_size = 2, .gamma = 0.5f};
    const mlp_schedule cosine = {
        .kind = MLP_SCHEDULE_COSINE, .base_lr = 0.1f, .t_max = 4, .min_lr = 0.01f};
    float lr;
    assert_int_equal(mlp_schedule_lr(NULL, 0, &lr), MLP_ERR_ARG);
    assert_int_equal(mlp_schedule_lr(&step, 0, NULL), MLP_ERR_ARG);
    mlp_schedule s = step;
    s.kind = (mlp_schedule_kind)99;
    expect_schedule_refused(&s, 0, "unknown kind");
    s = step;
    s.step_size = 0;
    expect_schedule_refused(&s, 0, "step_size 0");
    s = step;
    s.gamma = 0.0f;
    expect_schedule_refused(&s, 0, "gamma 0");
    s = step;
    s.gamma = NAN;
    expect_schedule_refused(&s, 0, "gamma NaN");
    s = step;
    s.base_lr = 0.0f;
    expect_schedule_refused(&s, 0, "base_lr 0");
    s = step;
    s.base_lr = INFINITY;
    expect_schedule_refused(&s, 0, "base_lr inf");
    s = step;
    s.gamma = 1e-10f;
    expect_schedule_refused(&s, 40, "decay underflows to 0");
    s = step;
    s.gamma = 1e10f;
    expect_schedule_refused(&s, 40, "growth overflows");
    s = cosine;
    s.t_max = 0;
    expect_schedule_refused(&s, 0, "t_max 0");
    s = cosine;
    s.min_lr = 0.0f;
    expect_schedule_refused(&s, 0, "min_lr 0");
    s = cosine;
    s.min_lr = -0.01f;
    expect_schedule_refused(&s, 0, "min_lr negative");
}

/* ------------------------------------------------------------------------ */
/* The loop against steps by hand                                           */
/* ------------------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    mlp_fit_options o = mlp_fit_defaults();
    assert_int_equal(o.epochs, 10);
    assert_int_equal(o.batch_size, 32);
    assert_int_equal(o.shuffle_seed, 1);
    assert_true(o.shuffle != 0);
    assert_null(o.X_val);
    assert_null(o.Y_val);
    assert_int_equal(o.n_val, 0);
    assert_int_equal(o.metric, MLP_METRIC_NONE);
    assert_null(o.schedule);
    assert_true(o.clip_norm == 0.0f);
    assert_null(o.callback);
}

/* n = 5 with batches of 4: the fit is the step on rows 0-3 followed by the
 * step on row 4 alone, bit for bit, and its train loss is the size-weighted
 * mean of the two batch losses. */
static void test_last_partial_batch_is_used(void **state)
{
    (void)state;
    float X[5 * N_IN], Y[5 * N_OUT];
    regression_data(5, 11, X, Y);

    mlp_net *by_hand = regression_net(3);
    mlp_optimizer *opt_hand = sgd(by_hand, 0.1f);
    float loss_a, loss_b;
    assert_int_equal(mlp_train_batch(by_hand, opt_hand, X, Y, 4, &loss_a), MLP_OK);
    assert_int_equal(
        mlp_train_batch(by_hand, opt_hand, X + 4 * N_IN, Y + 4 * N_OUT, 1, &loss_b),
        MLP_OK);

    mlp_net *net = regression_net(3);
    mlp_optimizer *opt = sgd(net, 0.1f);
    recorder r;
    mlp_fit_options o = recorded_options(1, 4, &r);
    o.shuffle = 0;
    assert_int_equal(mlp_fit(net, opt, X, Y, 5, &o), MLP_OK);
    expect_params_equal(net, snapshot_params(by_hand));
    assert_int_equal(r.calls, 1);
    check_rel(r.info[0].train_loss, (4.0 * loss_a + loss_b) / 5.0, 1e-12, 0.0,
              "train loss");
    assert_true(isnan(r.info[0].val_loss));
    assert_true(isnan(r.info[0].val_metric));
    assert_true(r.info[0].learning_rate == 0.1f);
    assert_true(r.info[0].elapsed_s >= 0.0);
    assert_true(r.info[0].samples_per_s > 0.0);

    /* without the fifth row the result differs */
    mlp_net *four = regression_net(3);
    mlp_optimizer *opt_four = sgd(four, 0.1f);
    assert_int_equal(mlp_fit(four, opt_four, X, Y, 4, &o), MLP_OK);
    float *p4 = snapshot_params(four), *p5 = snapshot_params(net);
    assert_memory_not_equal(p4, p5, mlp_net_param_count(net) * sizeof *p4);
    free(p4);
    free(p5);
    mlp_optimizer_free(opt_four);
    mlp_net_free(four);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
    mlp_optimizer_free(opt_hand);
    mlp_net_free(by_hand);
}

/* With shuffling, each epoch's order is mlp_permutation seeded by the next
 * draw of a generator seeded once with shuffle_seed. */
static void test_shuffle_order_matches_by_hand(void **state)
{
    (void)state;
    enum { N = 7, BATCH = 3, EPOCHS = 3 };
    float X[N * N_IN], Y[N * N_OUT], Xb[BATCH * N_IN], Yb[BATCH * N_OUT];
    regression_data(N, 12, X, Y);

    mlp_net *by_hand = regression_net(4);
    mlp_optimizer *opt_hand = adam(by_hand, 0.01f);
    mlp_rng rng;
    mlp_rng_seed(&rng, 77);
    size_t perm[N];
    for (size_t e = 0; e < EPOCHS; e++) {
        assert_int_equal(mlp_permutation(perm, N, mlp_rng_next(&rng)), MLP_OK);
        for (size_t start = 0; start < N; start += BATCH) {
            size_t m = N - start < BATCH ? N - start : BATCH;
            assert_int_equal(mlp_rows_gather(X, N, N_IN, perm + start, m, Xb), MLP_OK);
            assert_int_equal(mlp_rows_gather(Y, N, N_OUT, perm + start, m, Yb), MLP_OK);
            assert_int_equal(mlp_train_batch(by_hand, opt_hand, Xb, Yb, m, NULL), MLP_OK);
        }
    }

    mlp_net *net = regression_net(4);
    mlp_optimizer *opt = adam(net, 0.01f);
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = EPOCHS;
    o.batch_size = BATCH;
    o.shuffle_seed = 77;
    assert_int_equal(mlp_fit(net, opt, X, Y, N, &o), MLP_OK);
    expect_params_equal(net, snapshot_params(by_hand));
    /* the last batch was gathered into a buffer the fit has freed: the
     * cached batch is gone, so backward cannot read it */
    assert_int_equal(mlp_backward(net, Y, NULL), MLP_ERR_STATE);
    assert_int_equal(mlp_layer_cache(net, 0, NULL, NULL, NULL, NULL), MLP_ERR_STATE);
    const float *dW;
    assert_int_equal(mlp_layer_grads(net, 0, &dW, NULL), MLP_OK);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
    mlp_optimizer_free(opt_hand);
    mlp_net_free(by_hand);
}

/* Trains a fresh network (seed 5) and returns its parameters. */
static float *fit_fresh(const float *X, const float *Y, size_t n, uint64_t shuffle_seed)
{
    mlp_net *net = regression_net(5);
    mlp_optimizer *opt = adam(net, 0.01f);
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = 4;
    o.batch_size = 8;
    o.shuffle_seed = shuffle_seed;
    assert_int_equal(mlp_fit(net, opt, X, Y, n, &o), MLP_OK);
    float *p = snapshot_params(net);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
    return p;
}

static void test_fit_is_reproducible(void **state)
{
    (void)state;
    enum { N = 50 };
    float X[N * N_IN], Y[N * N_OUT];
    regression_data(N, 13, X, Y);
    const size_t bytes = (N_HIDDEN * (N_IN + 1) + N_OUT * (N_HIDDEN + 1)) * sizeof(float);
    float *a = fit_fresh(X, Y, N, 9), *b = fit_fresh(X, Y, N, 9),
          *c = fit_fresh(X, Y, N, 10);
    assert_memory_equal(a, b, bytes);
    assert_memory_not_equal(a, c, bytes);
    free(a);
    free(b);
    free(c);
}

/* One full-batch step with clipping: equal to forward, backward, clip and
 * step by hand, and with SGD at rate 1 the update's norm is the clip norm. */
static void test_clipping_bounds_the_update(void **state)
{
    (void)state;
    enum { N = 16 };
    const float clip = 0.01f;
    float X[N * N_IN], Y[N * N_OUT];
    regression_data(N, 14, X, Y);

    mlp_net *by_hand = regression_net(6);
    mlp_optimizer *opt_hand = sgd(by_hand, 1.0f);
    const float *out;
    float norm;
    assert_int_equal(mlp_forward(by_hand, X, N, &out), MLP_OK);
    assert_int_equal(mlp_backward(by_hand, Y, NULL), MLP_OK);
    assert_int_equal(mlp_clip_grad_norm(by_hand, clip, &norm), MLP_OK);
    assert_true(norm > 10.0f * clip); /* clipping is active */
    assert_int_equal(mlp_optimizer_step(opt_hand, by_hand), MLP_OK);

    mlp_net *net = regression_net(6);
    mlp_optimizer *opt = sgd(net, 1.0f);
    float *before = snapshot_params(net);
    mlp_fit_options o = plain_options(1, N);
    o.clip_norm = clip;
    assert_int_equal(mlp_fit(net, opt, X, Y, N, &o), MLP_OK);
    float *after = snapshot_params(net);
    double sum = 0.0;
    for (size_t k = 0; k < mlp_net_param_count(net); k++)
        sum += ((double)after[k] - before[k]) * ((double)after[k] - before[k]);
    check_rel(sqrt(sum), clip, 1e-3, 0.0, "update norm");
    free(before);
    free(after);
    expect_params_equal(net, snapshot_params(by_hand));
    mlp_optimizer_free(opt);
    mlp_net_free(net);
    mlp_optimizer_free(opt_hand);
    mlp_net_free(by_hand);
}

/* The schedule sets the rate of every epoch, and the optimizer keeps the
 * last one. */
static void test_schedule_drives_the_rate(void **state)
{
    (void)state;
    enum { N = 10 };
    float X[N * N_IN], Y[N * N_OUT];
    regression_data(N, 15, X, Y);
    mlp_net *net = regression_net(7);
    mlp_optimizer *opt = sgd(net, 0.5f);
    mlp_schedule s = {
        .kind = MLP_SCHEDULE_STEP, .base_lr = 0.05f, .step_size = 2, .gamma = 0.1f};
    recorder r;
    mlp_fit_options o = recorded_options(5, 4, &r);
    o.schedule = &s;
    assert_int_equal(mlp_fit(net, opt, X, Y, N, &o), MLP_OK);
    assert_int_equal(r.calls, 5);
    for (size_t e = 0; e < 5; e++) {
        assert_int_equal(r.info[e].epoch, e);
        assert_true(r.info[e].learning_rate == schedule_at(&s, e));
    }
    assert_true(mlp_optimizer_lr(opt) == schedule_at(&s, 4));
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

static void test_callback_stops_training(void **state)
{
    (void)state;
    enum { N = 10 };
    float X[N * N_IN], Y[N * N_OUT];
    regression_data(N, 16, X, Y);
    mlp_net *net = regression_net(8);
    mlp_optimizer *opt = sgd(net, 0.05f);
    recorder r;
    mlp_fit_options o = recorded_options(10, 4, &r);
    r.stop_at = 2;
    assert_int_equal(mlp_fit(net, opt, X, Y, N, &o), MLP_OK);
    assert_int_equal(r.calls, 3);
    for (size_t e = 0; e < 3; e++) {
        assert_int_equal(r.info[e].epoch, e);
        assert_true(e == 0 || r.info[e].elapsed_s >= r.info[e - 1].elapsed_s);
    }
    /* the same three epochs without a callback give the same network */
    mlp_net *three = regression_net(8);
    mlp_optimizer *opt_three = sgd(three, 0.05f);
    o.epochs = 3;
    o.callback = NULL;
    assert_int_equal(mlp_fit(three, opt_three, X, Y, N, &o), MLP_OK);
    expect_params_equal(net, snapshot_params(three));
    mlp_optimizer_free(opt_three);
    mlp_net_free(three);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* Every metric reported after the last epoch is what mlp_evaluate gives
 * on the final network; the training loss goes down. */
static void test_validation_reports_match_evaluate(void **state)
{
    (void)state;
    enum { N = 40, N_VAL = 13 };
    float X[N * N_IN], Y[N * N_OUT], Xv[N_VAL * N_IN], Yv[N_VAL * N_OUT];
    regression_data(N, 17, X, Y);
    regression_data(N_VAL, 18, Xv, Yv);
    const mlp_metric metrics[] = {MLP_METRIC_NONE, MLP_METRIC_ACCURACY, MLP_METRIC_MSE,
                                  MLP_METRIC_R2};
    for (size_t k = 0; k < 4; k++) {
        mlp_net *net = regression_net(9);
        mlp_optimizer *opt = adam(net, 0.01f);
        recorder r;
        mlp_fit_options o = recorded_options(6, 8, &r);
        o.X_val = Xv;
        o.Y_val = Yv;
        o.n_val = N_VAL;
        o.metric = metrics[k];
        assert_int_equal(mlp_fit(net, opt, X, Y, N, &o), MLP_OK);
        assert_int_equal(r.calls, 6);
        double loss, metric;
        assert_int_equal(mlp_evaluate(net, Xv, Yv, N_VAL, metrics[k], &loss, &metric),
                         MLP_OK);
        assert_true(r.info[5].val_loss == loss);
        if (metrics[k] == MLP_METRIC_NONE)
            assert_true(isnan(r.info[5].val_metric) && isnan(metric));
        else
            assert_true(r.info[5].val_metric == metric);
        assert_true(r.info[5].train_loss < r.info[0].train_loss);
        mlp_optimizer_free(opt);
        mlp_net_free(net);
    }
}

/* ------------------------------------------------------------------------ */
/* mlp_evaluate                                                              */
/* ------------------------------------------------------------------------ */

/* Chunked evaluation (the network's capacity is 3 rows, so 10 rows take
 * four chunks) against one whole-batch forward pass and the data.c
 * metrics. */
static void test_evaluate_matches_whole_batch(void **state)
{
    (void)state;
    enum { N = 10 };
    float X[N * N_IN], Y[N * N_OUT], P[N * N_OUT];
    regression_data(N, 19, X, Y);
    mlp_net *whole = regression_net(10);
    const float *out;
    float whole_loss;
    assert_int_equal(mlp_forward(whole, X, N, &out), MLP_OK);
    memcpy(P, out, sizeof P);
    assert_int_equal(mlp_loss_value(whole, Y, &whole_loss), MLP_OK);

    mlp_net *net = regression_net(10);
    assert_int_equal(mlp_forward(net, X, 3, &out), MLP_OK);
    double loss, value, expected;
    assert_int_equal(mlp_evaluate(net, X, Y, N, MLP_METRIC_MSE, &loss, &value), MLP_OK);
    check_rel(loss, whole_loss, 1e-6, 0.0, "loss");
    assert_int_equal(mlp_mse(P, Y, N, N_OUT, &expected), MLP_OK);
    check_rel(value, expected, 1e-6, 0.0, "mse");
    assert_int_equal(mlp_evaluate(net, X, Y, N, MLP_METRIC_R2, NULL, &value), MLP_OK);
    assert_int_equal(mlp_r2(P, Y, N, N_OUT, &expected), MLP_OK);
    check_rel(value, expected, 1e-6, 1e-9, "r2");
    assert_int_equal(mlp_evaluate(net, X, Y, N, MLP_METRIC_ACCURACY, NULL, &value),
                     MLP_OK);
    assert_int_equal(mlp_accuracy(P, Y, N, N_OUT, &expected), MLP_OK);
    assert_true(value == expected);
    assert_int_equal(mlp_evaluate(net, X, Y, N, MLP_METRIC_NONE, &loss, &value), MLP_OK);
    assert_true(isnan(value));
    mlp_net_free(net);
    mlp_net_free(whole);
}

/* Accuracy of a softmax classifier against its arg max, counted by hand,
 * on a fresh network (default chunks). */
static void test_evaluate_accuracy_of_classifier(void **state)
{
    (void)state;
    enum { N = 30, K = 3 };
    float X[N * N_IN], Y[N * K] = {0};
    test_rng rng = {20};
    test_fill_uniform(&rng, X, N * N_IN, -2.0, 2.0);
    for (size_t i = 0; i < N; i++)
        Y[i * K + i % K] = 1.0f;
    mlp_net *net = make_net(N_IN, MLP_CROSS_ENTROPY, 11, 1, (const size_t[]){K},
                            (const mlp_activation[]){MLP_SOFTMAX});
    double accuracy;
    assert_int_equal(mlp_evaluate(net, X, Y, N, MLP_METRIC_ACCURACY, NULL, &accuracy),
                     MLP_OK);
    float P[N * K];
    assert_int_equal(mlp_predict(net, X, N, P), MLP_OK);
    size_t correct = 0;
    for (size_t i = 0; i < N; i++) {
        size_t best = 0;
        for (size_t j = 1; j < K; j++)
            best = P[i * K + j] > P[i * K + best] ? j : best;
        correct += best == i % K;
    }
    assert_true(accuracy == (double)correct / N);
    mlp_net_free(net);
}

static void test_evaluate_refusals(void **state)
{
    (void)state;
    enum { N = 6 };
    float X[N * N_IN], Y[N * N_OUT];
    regression_data(N, 21, X, Y);
    mlp_net *net = regression_net(12);
    double loss = 42.0, value = 42.0;
    assert_int_equal(mlp_evaluate(NULL, X, Y, N, MLP_METRIC_MSE, &loss, &value),
                     MLP_ERR_ARG);
    assert_int_equal(mlp_evaluate(net, NULL, Y, N, MLP_METRIC_MSE, &loss, &value),
                     MLP_ERR_ARG);
    assert_int_equal(mlp_evaluate(net, X, NULL, N, MLP_METRIC_MSE, &loss, &value),
                     MLP_ERR_ARG);
    assert_int_equal(mlp_evaluate(net, X, Y, 0, MLP_METRIC_MSE, &loss, &value),
                     MLP_ERR_ARG);
    assert_int_equal(mlp_evaluate(net, X, Y, N, (mlp_metric)77, &loss, &value),
                     MLP_ERR_ARG);
    X[4] = NAN;
    assert_int_equal(mlp_evaluate(net, X, Y, N, MLP_METRIC_MSE, &loss, &value),
                     MLP_ERR_ARG);
    /* checked before any forward pass: the network has no cached batch */
    assert_int_equal(mlp_layer_cache(net, 0, NULL, NULL, NULL, NULL), MLP_ERR_STATE);
    X[4] = 0.0f;
    for (size_t i = 0; i < N; i++)
        Y[i * N_OUT + 1] = 2.0f; /* a constant column has no R2 */
    assert_int_equal(mlp_evaluate(net, X, Y, N, MLP_METRIC_R2, &loss, &value),
                     MLP_ERR_NUMERIC);
    assert_true(loss == 42.0 && value == 42.0);
    mlp_net *empty = NULL;
    assert_int_equal(mlp_net_create(&empty, N_IN, MLP_MSE, 1), MLP_OK);
    assert_int_equal(mlp_evaluate(empty, X, Y, N, MLP_METRIC_MSE, &loss, &value),
                     MLP_ERR_ARG);
    mlp_net_free(empty);
    mlp_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Refusals and failures                                                     */
/* ------------------------------------------------------------------------ */

/* Fails unless mlp_fit returns expected and leaves the parameters as they
 * were. */
static void expect_fit_refused(mlp_net *net, mlp_optimizer *opt, const float *X,
                               const float *Y, size_t n, const mlp_fit_options *o,
                               mlp_status expected, const char *what)
{
    float *before = snapshot_params(net);
    unsigned char opt_before[4096], opt_after[4096];
    size_t opt_size = 0, written;
    if (opt)
        assert_int_equal(
            mlp_optimizer_save_buffer(opt, opt_before, sizeof opt_before, &opt_size),
            MLP_OK);
    mlp_status status = mlp_fit(net, opt, X, Y, n, o);
    if (status != expected)
        fail_msg("%s: got %s, expected %s", what, mlp_strerror(status),
                 mlp_strerror(expected));
    expect_params_equal(net, before);
    if (opt) { /* the optimizer too: settings, learning rate, state */
        assert_int_equal(
            mlp_optimizer_save_buffer(opt, opt_after, sizeof opt_after, &written),
            MLP_OK);
        assert_int_equal(written, opt_size);
        assert_memory_equal(opt_before, opt_after, opt_size);
    }
}

static void test_fit_refusals(void **state)
{
    (void)state;
    enum { N = 8 };
    float X[N * N_IN], Y[N * N_OUT];
    regression_data(N, 22, X, Y);
    mlp_net *net = regression_net(13);
    mlp_optimizer *opt = sgd(net, 0.1f);
    const mlp_fit_options good = plain_options(2, 4);
    mlp_fit_options o = good;
    assert_int_equal(mlp_fit(NULL, opt, X, Y, N, &o), MLP_ERR_ARG);
    expect_fit_refused(net, NULL, X, Y, N, &o, MLP_ERR_ARG, "opt NULL");
    expect_fit_refused(net, opt, NULL, Y, N, &o, MLP_ERR_ARG, "X NULL");
    expect_fit_refused(net, opt, X, NULL, N, &o, MLP_ERR_ARG, "Y NULL");
    expect_fit_refused(net, opt, X, Y, 0, &o, MLP_ERR_ARG, "n 0");
    o.epochs = 0;
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG, "epochs 0");
    o = good;
    o.batch_size = 0;
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG, "batch 0");
    o = good;
    o.metric = (mlp_metric)9;
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG, "unknown metric");
    o = good;
    o.clip_norm = -1.0f;
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG, "negative clip");
    o.clip_norm = NAN;
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG, "NaN clip");
    o = good;
    o.n_val = 3;
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG, "n_val without arrays");
    o.X_val = X;
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG, "n_val without Y_val");
    o.Y_val = Y;
    o.n_val = 0;
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG, "arrays with n_val 0");
    o = good;
    mlp_schedule bad = {.kind = MLP_SCHEDULE_STEP, .base_lr = 0.1f, .step_size = 0};
    o.schedule = &bad;
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG, "bad schedule");
    mlp_schedule late = {
        .kind = MLP_SCHEDULE_STEP, .base_lr = 1e-30f, .step_size = 1, .gamma = 1e-3f};
    o.schedule = &late;
    o.epochs = 10; /* the rate underflows at a late epoch */
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG, "schedule underflows late");
    /* up to the epoch before the first that underflows, the call runs */
    size_t first_bad = 0;
    float rate;
    while (mlp_schedule_lr(&late, first_bad, &rate) == MLP_OK)
        first_bad++;
    assert_true(first_bad > 1);
    o.epochs = first_bad + 1;
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG, "one epoch too many");
    o.epochs = first_bad;
    assert_int_equal(mlp_fit(net, opt, X, Y, N, &o), MLP_OK);
    o = good;
    X[7 * N_IN - 1] = INFINITY; /* in the last batch */
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG, "non-finite input");
    X[7 * N_IN - 1] = 0.5f;
    float Y_val[N * N_OUT];
    memcpy(Y_val, Y, sizeof Y_val);
    o.X_val = X;
    o.Y_val = Y_val;
    o.n_val = N;
    Y_val[N * N_OUT - 1] = NAN;
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_ARG,
                       "non-finite validation target");
    o.metric = MLP_METRIC_R2;
    for (size_t i = 0; i < N; i++)
        Y_val[i * N_OUT] = 1.0f; /* a constant column has no R2 */
    Y_val[N * N_OUT - 1] = 0.0f;
    expect_fit_refused(net, opt, X, Y, N, &o, MLP_ERR_NUMERIC, "R2 of constant targets");

    mlp_net *other = make_net(N_IN, MLP_MSE, 1, 1, (const size_t[]){N_OUT},
                              (const mlp_activation[]){MLP_IDENTITY});
    mlp_optimizer *other_opt = sgd(other, 0.1f);
    o = good;
    expect_fit_refused(net, other_opt, X, Y, N, &o, MLP_ERR_SHAPE,
                       "optimizer of another net");
    /* refused before the schedule sets the learning rate */
    const mlp_schedule constant = {.kind = MLP_SCHEDULE_CONSTANT, .base_lr = 0.5f};
    o.schedule = &constant;
    expect_fit_refused(net, other_opt, X, Y, N, &o, MLP_ERR_SHAPE,
                       "optimizer of another net, with a schedule");
    mlp_optimizer_free(other_opt);
    mlp_net_free(other);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

static void test_fit_refuses_bad_bce_target_and_untrainable_net(void **state)
{
    (void)state;
    const float X[4 * 2] = {0, 0, 0, 1, 1, 0, 1, 1};
    const float Y[4] = {0, 1, 1.5f, 0};
    mlp_net *net = make_net(2, MLP_BCE, 1, 1, (const size_t[]){1},
                            (const mlp_activation[]){MLP_SIGMOID});
    mlp_optimizer *opt = sgd(net, 0.1f);
    mlp_fit_options o = plain_options(1, 4);
    expect_fit_refused(net, opt, X, Y, 4, &o, MLP_ERR_ARG, "BCE target 1.5");
    mlp_net *wrong = make_net(2, MLP_BCE, 1, 1, (const size_t[]){1},
                              (const mlp_activation[]){MLP_IDENTITY});
    expect_fit_refused(wrong, opt, X, Y, 4, &o, MLP_ERR_ARG, "identity output with BCE");
    mlp_net_free(wrong);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* A 2-1 linear regression trained full-batch with far too large a rate:
 * each step multiplies the error by about -1000, so a few steps are good
 * before the loss (or the parameters) stop being finite. */
static mlp_net *diverging_run(size_t epochs, bool validate, mlp_status *status)
{
    enum { N = 8 };
    float X[N * 2], Y[N];
    test_rng rng = {23};
    test_fill_uniform(&rng, X, N * 2, -1.0, 1.0);
    for (size_t i = 0; i < N; i++)
        Y[i] = X[2 * i] - 2.0f * X[2 * i + 1];
    mlp_net *net = make_net(2, MLP_MSE, 14, 1, (const size_t[]){1},
                            (const mlp_activation[]){MLP_IDENTITY});
    mlp_optimizer *opt = sgd(net, 1000.0f);
    mlp_fit_options o = plain_options(epochs, N);
    if (validate) {
        o.X_val = X;
        o.Y_val = Y;
        o.n_val = N;
        o.metric = MLP_METRIC_MSE;
    }
    *status = mlp_fit(net, opt, X, Y, N, &o);
    mlp_optimizer_free(opt);
    return net;
}

/* Whether the network's parameters are finite and its loss on the
 * diverging run's data is too: a good step's result. */
static bool net_is_good(mlp_net *net)
{
    enum { N = 8 };
    float X[N * 2], Y[N];
    test_rng rng = {23};
    test_fill_uniform(&rng, X, N * 2, -1.0, 1.0);
    for (size_t i = 0; i < N; i++)
        Y[i] = X[2 * i] - 2.0f * X[2 * i + 1];
    double loss;
    return params_all_finite(net) &&
           mlp_evaluate(net, X, Y, N, MLP_METRIC_NONE, &loss, NULL) == MLP_OK;
}

/* Training that diverges stops with MLP_ERR_NUMERIC and keeps exactly the
 * parameters of the longest fresh run whose steps were all good. */
static void test_numeric_failure_keeps_last_good_step(void **state)
{
    (void)state;
    mlp_status status;
    mlp_net *failed = diverging_run(100, false, &status);
    assert_int_equal(status, MLP_ERR_NUMERIC);
    assert_true(params_all_finite(failed));

    size_t good_epochs = 0;
    for (size_t e = 1; e < 100; e++) {
        mlp_net *ref = diverging_run(e, false, &status);
        bool good = status == MLP_OK && net_is_good(ref);
        mlp_net_free(ref);
        if (!good)
            break;
        good_epochs = e;
    }
    assert_true(good_epochs >= 2); /* the rollback is not to the start */
    mlp_net *ref = diverging_run(good_epochs, false, &status);
    assert_int_equal(status, MLP_OK);
    expect_params_equal(failed, snapshot_params(ref));
    /* with a validation set the bad step is caught by the validation loss,
     * with the same result */
    mlp_net *validated = diverging_run(100, true, &status);
    assert_int_equal(status, MLP_ERR_NUMERIC);
    expect_params_equal(validated, snapshot_params(ref));
    mlp_net_free(validated);
    mlp_net_free(ref);
    mlp_net_free(failed);
}

/* A step whose update overflows float (lr 1e38 times a gradient of 50)
 * from a finite loss changes nothing, even as the last step: the optimizer
 * refuses it whole. */
static void test_step_to_infinite_params_is_refused(void **state)
{
    (void)state;
    const float x[1] = {10.0f}, y[1] = {0.0f};
    mlp_net *net = make_net(1, MLP_MSE, 1, 1, (const size_t[]){1},
                            (const mlp_activation[]){MLP_IDENTITY});
    assert_int_equal(
        mlp_layer_set_params(net, 0, (const float[]){0.5f}, (const float[]){0.0f}),
        MLP_OK);
    mlp_optimizer *opt = sgd(net, 1e38f);
    recorder r;
    mlp_fit_options o = recorded_options(1, 1, &r);
    float *before = snapshot_params(net);
    assert_int_equal(mlp_fit(net, opt, x, y, 1, &o), MLP_ERR_NUMERIC);
    expect_params_equal(net, before);
    assert_int_equal(r.calls, 0);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* ------------------------------------------------------------------------ */
/* Allocation                                                                */
/* ------------------------------------------------------------------------ */

/* The allocations of one fit with shuffling and an R2 validation set, on a
 * network that has already run a batch of batch_size rows. */
static size_t fit_allocations(size_t epochs)
{
    enum { N = 20, N_VAL = 7 };
    float X[N * N_IN], Y[N * N_OUT];
    regression_data(N, 24, X, Y);
    mlp_net *net = regression_net(15);
    mlp_optimizer *opt = adam(net, 0.01f);
    const float *out;
    assert_int_equal(mlp_forward(net, X, 6, &out), MLP_OK);
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 6;
    o.X_val = X;
    o.Y_val = Y;
    o.n_val = N_VAL;
    o.metric = MLP_METRIC_R2;
    o.clip_norm = 1.0f;
    alloc_count = 0;
    assert_int_equal(mlp_fit(net, opt, X, Y, N, &o), MLP_OK);
    size_t count = alloc_count;
    mlp_optimizer_free(opt);
    mlp_net_free(net);
    return count;
}

/* No allocation per step or per epoch: one epoch allocates what ten do. */
static void test_fit_allocates_only_at_start(void **state)
{
    (void)state;
    size_t one = fit_allocations(1), ten = fit_allocations(10);
    assert_true(one > 0);
    assert_int_equal(one, ten);
}

/* Making each allocation of a fit fail in turn gives MLP_ERR_NOMEM, leaves
 * the parameters unchanged and (under ASan) leaks nothing. */
static void test_fit_allocation_failures(void **state)
{
    (void)state;
    enum { N = 12 };
    float X[N * N_IN], Y[N * N_OUT];
    regression_data(N, 25, X, Y);
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = 2;
    o.batch_size = 5;
    o.X_val = X;
    o.Y_val = Y;
    o.n_val = N;
    o.metric = MLP_METRIC_R2;
    for (size_t fail = 0;; fail++) {
        assert_true(fail < 100);
        mlp_net *net = regression_net(16);
        mlp_optimizer *opt = adam(net, 0.01f);
        float *before = snapshot_params(net);
        alloc_count = 0;
        alloc_fail_at = fail;
        mlp_status status = mlp_fit(net, opt, X, Y, N, &o);
        alloc_fail_at = SIZE_MAX;
        bool done = status == MLP_OK; /* every allocation has failed once */
        if (done) {
            assert_true(fail > 0);
            free(before);
        } else {
            assert_int_equal(status, MLP_ERR_NOMEM);
            expect_params_equal(net, before);
        }
        mlp_optimizer_free(opt);
        mlp_net_free(net);
        if (done)
            break;
    }
}

/* ------------------------------------------------------------------------ */
/* End to end                                                                */
/* ------------------------------------------------------------------------ */

static void test_fit_learns_xor(void **state)
{
    (void)state;
    const float X[4 * 2] = {0, 0, 0, 1, 1, 0, 1, 1};
    const float Y[4] = {0, 1, 1, 0};
    mlp_net *net = make_net(2, MLP_BCE, 1, 2, (const size_t[]){4, 1},
                            (const mlp_activation[]){MLP_TANH, MLP_SIGMOID});
    mlp_optimizer *opt = adam(net, 0.05f);
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = 500;
    o.batch_size = 4;
    assert_int_equal(mlp_fit(net, opt, X, Y, 4, &o), MLP_OK);
    double loss, accuracy;
    assert_int_equal(mlp_evaluate(net, X, Y, 4, MLP_METRIC_ACCURACY, &loss, &accuracy),
                     MLP_OK);
    assert_true(accuracy == 1.0);
    assert_true(loss < 0.1);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_constant),
        cmocka_unit_test(test_schedule_step_decays_at_step_size),
        cmocka_unit_test(test_schedule_cosine_endpoints_and_midpoint),
        cmocka_unit_test(test_schedule_refusals),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_last_partial_batch_is_used),
        cmocka_unit_test(test_shuffle_order_matches_by_hand),
        cmocka_unit_test(test_fit_is_reproducible),
        cmocka_unit_test(test_clipping_bounds_the_update),
        cmocka_unit_test(test_schedule_drives_the_rate),
        cmocka_unit_test(test_callback_stops_training),
        cmocka_unit_test(test_validation_reports_match_evaluate),
        cmocka_unit_test(test_evaluate_matches_whole_batch),
        cmocka_unit_test(test_evaluate_accuracy_of_classifier),
        cmocka_unit_test(test_evaluate_refusals),
        cmocka_unit_test(test_fit_refusals),
        cmocka_unit_test(test_fit_refuses_bad_bce_target_and_untrainable_net),
        cmocka_unit_test(test_numeric_failure_keeps_last_good_step),
        cmocka_unit_test(test_step_to_infinite_params_is_refused),
        cmocka_unit_test(test_fit_allocates_only_at_start),
        cmocka_unit_test(test_fit_allocation_failures),
        cmocka_unit_test(test_fit_learns_xor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
