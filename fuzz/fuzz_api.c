/*
 * libFuzzer target: a sequence of public API calls read from the input.
 * The first bytes choose a network (up to 16 inputs, up to 4 layers of up
 * to 16 units, any activation, any loss, zero sizes included); every
 * following byte picks an operation (forward, backward, optimizer create
 * and step, train_batch, predict, infer, save/load of the network and the
 * optimizer, clipping, fit, evaluate, growing the network, writing a
 * parameter through its views, setting a layer's parameters, folding a
 * standardization into the first layer...) whose arguments (batch sizes
 * up to 8, float values from ordinary to NaN, infinity and 1e38) come from
 * the bytes after it.
 *
 * Besides the sanitizers, every call is checked against the header's
 * promises: statuses are valid; a call that fails leaves the parameters
 * byte for byte as they were, but for mlp_fit's MLP_ERR_NUMERIC, which
 * keeps the steps before the bad one; a call that computes new parameters
 * (training, a standardization fold) leaves finite ones finite; mlp_infer
 * gives mlp_predict's bits; a saved network loads back to the same bytes.
 * A broken promise aborts, which libFuzzer reports as a crash.
 */
#include "mlp.h"

#include <float.h>
#include <stdio.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_UNITS = 16, MAX_LAYERS = 4, MAX_M = 8, MAX_N = 8 };

/* ---- reading the input ---- */

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

/* The next byte, or 0 once the input is used up. */
static uint8_t next_byte(reader *r)
{
    if (r->left == 0)
        return 0;
    r->left--;
    return *r->p++;
}

/* A value in [0, n). */
static size_t next_below(reader *r, size_t n)
{
    return next_byte(r) % n;
}

/* Mostly ordinary values in [-4, 4); one byte in 16 picks an extreme one. */
static float next_float(reader *r)
{
    static const float special[] = {0.0f,      1.0f,    -1.0f,  1e30f,   -1e30f, 1e38f,
                                    -FLT_MAX,  FLT_MAX, 1e-40f, -1e-45f, NAN,    INFINITY,
                                    -INFINITY, 3.0f,    1e-8f,  2.0f};
    uint8_t b = next_byte(r);
    if (b >= 240)
        return special[next_below(r, sizeof special / sizeof special[0])];
    return ((float)b - 120.0f) / 30.0f;
}

static void fill(reader *r, float *x, size_t count)
{
    for (size_t k = 0; k < count; k++)
        x[k] = next_float(r);
}

/* Targets that are mostly valid for the loss (one-hot rows), sometimes
 * arbitrary. */
static void fill_targets(reader *r, float *y, size_t m, size_t n)
{
    if (next_below(r, 4) == 0) {
        fill(r, y, m * n);
        return;
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            y[i * n + j] = n > 0 && j == (i + 1) % n ? 1.0f : 0.0f;
}

/* ---- the session ---- */

typedef struct session {
    mlp_net *net;
    mlp_optimizer *opt;
    float X[MAX_M * MAX_UNITS];
    float Y[MAX_M * MAX_UNITS];
    size_t m; /* rows of the last successful forward, 0 if none */
} session;

static void check_status(mlp_status s)
{
    if (s < MLP_OK || s > MLP_ERR_NUMERIC || !mlp_strerror(s) || !mlp_strerror(s)[0])
        abort();
}

/* A copy of every parameter, layer by layer (malloc'd; NULL when empty),
 * through read-only views, which leave the network as op_poke's writable
 * ones do not. */
static float *snapshot(const mlp_net *net, size_t *count)
{
    *count = mlp_net_param_count(net);
    float *copy = malloc((*count + 1) * sizeof *copy), *p = copy;
    if (!copy)
        abort();
    for (size_t l = 0; l < mlp_net_layers(net); l++) {
        const float *W, *b;
        size_t n_out, n_in;
        if (mlp_layer_params_const(net, l, &W, &b, &n_out, &n_in) != MLP_OK)
            abort();
        memcpy(p, W, n_out * n_in * sizeof *p);
        p += n_out * n_in;
        memcpy(p, b, n_out * sizeof *p);
        p += n_out;
    }
    return copy;
}

static bool same_params(const mlp_net *net, const float *before, size_t count)
{
    size_t now_count;
    float *now = snapshot(net, &now_count);
    bool same = now_count == count && memcmp(now, before, count * sizeof *now) == 0;
    free(now);
    return same;
}

static bool params_finite(const mlp_net *net)
{
    size_t count;
    float *p = snapshot(net, &count);
    bool finite = true;
    for (size_t k = 0; k < count; k++)
        finite = finite && isfinite(p[k]);
    free(p);
    return finite;
}

/* Builds the network from the first bytes; refusals are fine, they are
 * checked by the operation loop's rules like any other call. */
static void build(session *s, reader *r)
{
    size_t n_in = next_below(r, MAX_UNITS + 1); /* 0 must be refused */
    mlp_loss loss = (mlp_loss)next_below(r, 4); /* 3 is not a loss */
    mlp_status st = mlp_net_create(&s->net, n_in, loss, next_byte(r));
    check_status(st);
    if (st != MLP_OK) {
        if (s->net)
            abort();
        st = mlp_net_create(&s->net, 1 + n_in % MAX_UNITS, MLP_MSE, 0);
        if (st != MLP_OK)
            abort();
    }
    size_t layers = 1 + next_below(r, MAX_LAYERS);
    for (size_t l = 0; l < layers; l++) {
        size_t width = next_below(r, MAX_UNITS + 1);
        check_status(mlp_net_add_dense(s->net, width, (mlp_activation)next_below(r, 7)));
    }
}

/* The operations; each returns its status for the rules in run_op. */
static mlp_status op_forward(session *s, reader *r)
{
    size_t m = next_below(r, MAX_M + 1);
    fill(r, s->X, m * mlp_net_inputs(s->net));
    const float *out = NULL;
    mlp_status st = mlp_forward(s->net, s->X, m, &out);
    if (st == MLP_OK) {
        s->m = m;
        if (!out)
            abort();
    }
    return st;
}

static mlp_status op_backward(session *s, reader *r)
{
    fill_targets(r, s->Y, s->m ? s->m : 1, mlp_net_outputs(s->net));
    float loss;
    return next_below(r, 2) ? mlp_backward(s->net, s->Y, &loss)
                            : mlp_loss_value(s->net, s->Y, &loss);
}

static mlp_status op_optimizer(session *s, reader *r)
{
    mlp_optimizer *opt = NULL;
    float lr = next_below(r, 8) ? 0.01f * (1 + next_below(r, 10)) : next_float(r);
    float wd = next_below(r, 4) ? 0.0f : next_float(r);
    mlp_status st;
    switch (next_below(r, 4)) {
    case 0:
        st = mlp_sgd_create(&opt, s->net, lr, next_below(r, 2) ? 0.9f : 0.0f, wd);
        if (st == MLP_OK && next_below(r, 2))
            check_status(mlp_sgd_set_nesterov(opt, 1));
        break;
    case 1:
    case 2: { /* usual settings, or any (out-of-range ones must be refused) */
        const bool usual = next_below(r, 2);
        const float b1 = usual ? 0.9f : next_float(r);
        const float b2 = usual ? 0.999f : next_float(r);
        const float eps = usual ? 1e-8f : next_float(r);
        st = next_below(r, 2) ? mlp_adam_create(&opt, s->net, lr, b1, b2, eps, wd)
                              : mlp_adamw_create(&opt, s->net, lr, b1, b2, eps, wd);
        break;
    }
    default:
        st = mlp_sgd_create(&opt, s->net, lr, next_float(r), next_float(r));
    }
    if (st == MLP_OK) {
        mlp_optimizer_free(s->opt);
        s->opt = opt;
    } else if (opt) {
        abort();
    }
    return st;
}

static mlp_status op_step(session *s, reader *r)
{
    if (next_below(r, 4) == 0)
        check_status(
            mlp_clip_grad_norm(s->net, next_below(r, 2) ? 1.0f : next_float(r), NULL));
    return mlp_optimizer_step(s->opt, s->net);
}

static mlp_status op_train_batch(session *s, reader *r)
{
    size_t m = next_below(r, MAX_M + 1);
    fill(r, s->X, m * mlp_net_inputs(s->net));
    fill_targets(r, s->Y, m, mlp_net_outputs(s->net));
    float loss;
    mlp_status st = mlp_train_batch(s->net, s->opt, s->X, s->Y, m, &loss);
    s->m = 0; /* the cached batch is unknown after a partial failure */
    return st;
}

/* mlp_infer and mlp_predict on the same rows agree bit for bit. */
static mlp_status op_predict_infer(session *s, reader *r)
{
    size_t m = next_below(r, MAX_M + 1), n_out = mlp_net_outputs(s->net);
    fill(r, s->X, m * mlp_net_inputs(s->net));
    float out_infer[MAX_M * MAX_UNITS], out_predict[MAX_M * MAX_UNITS];
    size_t work_len = mlp_infer_workspace_size(s->net, m);
    float *work = malloc((work_len + 1) * sizeof *work);
    if (!work)
        abort();
    size_t given = next_below(r, 8) ? work_len : work_len / 2;
    mlp_status si = mlp_infer(s->net, s->X, m, out_infer, work, given);
    free(work);
    mlp_status sp = mlp_predict(s->net, s->X, m, out_predict);
    s->m = sp == MLP_OK ? m : s->m;
    check_status(si);
    if (si == MLP_OK &&
        (sp != MLP_OK || memcmp(out_infer, out_predict, m * n_out * sizeof(float)) != 0))
        abort();
    return sp;
}

/* The optimizer's state through a buffer: the loaded copy saves to the
 * same bytes and replaces the session's optimizer, so that later steps run
 * on restored state. A state for another parameter count (the network grew
 * since the optimizer was made) is refused as MLP_ERR_SHAPE. */
static void reload_optimizer(session *s)
{
    size_t size = 0, written = 0;
    if (mlp_optimizer_saved_size(s->opt, &size) != MLP_OK)
        abort();
    unsigned char *buf = malloc(size), *again = malloc(size);
    if (!buf || !again)
        abort();
    mlp_optimizer *loaded = NULL;
    if (mlp_optimizer_save_buffer(s->opt, buf, size, &written) != MLP_OK ||
        written != size)
        abort();
    mlp_status st = mlp_optimizer_load_buffer(&loaded, s->net, buf, size);
    if (st == MLP_OK) {
        if (mlp_optimizer_save_buffer(loaded, again, size, &written) != MLP_OK ||
            memcmp(buf, again, size) != 0)
            abort();
        mlp_optimizer_free(s->opt);
        s->opt = loaded;
    } else if ((st != MLP_ERR_SHAPE && st != MLP_ERR_NOMEM) || loaded) {
        abort();
    }
    free(buf);
    free(again);
}

/* Saves to a buffer and loads it back: same bytes, same parameters; the
 * optimizer too. */
static mlp_status op_save_load(session *s, reader *r)
{
    size_t size = 0, written = 0;
    mlp_status st = mlp_net_saved_size(s->net, &size);
    if (st != MLP_OK)
        return st;
    size_t cap = next_below(r, 8) ? size : size / 2;
    unsigned char *buf = malloc(size + 1), *again = malloc(size + 1);
    if (!buf || !again)
        abort();
    st = mlp_net_save_buffer(s->net, buf, cap, &written);
    if (st == MLP_OK) {
        mlp_net *loaded = NULL;
        size_t count;
        float *params = snapshot(s->net, &count);
        if (written != size || mlp_net_load_buffer(&loaded, buf, size) != MLP_OK ||
            !same_params(loaded, params, count) ||
            mlp_net_save_buffer(loaded, again, size, &written) != MLP_OK ||
            memcmp(buf, again, size) != 0)
            abort();
        free(params);
        mlp_net_free(loaded);
    }
    free(buf);
    free(again);
    if (st == MLP_OK && s->opt)
        reload_optimizer(s);
    return st;
}

static mlp_status op_fit(session *s, reader *r)
{
    size_t n = next_below(r, MAX_N + 1);
    fill(r, s->X, n * mlp_net_inputs(s->net));
    fill_targets(r, s->Y, n, mlp_net_outputs(s->net));
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = 1 + next_below(r, 3);
    o.batch_size = next_below(r, 5);
    o.shuffle = next_below(r, 2);
    /* epochs already done: a skip by stepping, by matrix powers, or one
     * that overflows with epochs */
    o.first_epoch =
        next_below(r, 4) ? 600 * next_below(r, 4) : SIZE_MAX - next_below(r, 3);
    o.clip_norm = next_below(r, 2) ? 0.0f : 1.0f;
    o.metric = (mlp_metric)next_below(r, 4);
    if (next_below(r, 2) && n > 1) {
        o.X_val = s->X;
        o.Y_val = s->Y;
        o.n_val = n / 2;
    }
    s->m = 0;
    return mlp_fit(s->net, s->opt, s->X, s->Y, n, &o);
}

static mlp_status op_evaluate(session *s, reader *r)
{
    size_t n = next_below(r, MAX_N + 1);
    fill(r, s->X, n * mlp_net_inputs(s->net));
    fill_targets(r, s->Y, n, mlp_net_outputs(s->net));
    double loss, metric;
    s->m = 0;
    return mlp_evaluate(s->net, s->X, s->Y, n, (mlp_metric)next_below(r, 5), &loss,
                        &metric);
}

static mlp_status op_grow(session *s, reader *r)
{
    size_t width = next_below(r, MAX_UNITS + 1);
    if (mlp_net_layers(s->net) >= MAX_LAYERS + 2)
        return MLP_OK;
    mlp_status st = mlp_net_add_dense(s->net, width, (mlp_activation)next_below(r, 7));
    if (st == MLP_OK)
        s->m = 0;
    return st;
}

/* Getters over every layer, in range and one past it. */
static mlp_status op_inspect(session *s, reader *r)
{
    size_t layer = next_below(r, MAX_LAYERS + 3);
    const float *Z, *A, *delta, *dW, *db, *W, *b;
    size_t m;
    float norm;
    mlp_activation act;
    check_status(mlp_layer_cache(s->net, layer, &Z, &A, &delta, &m));
    check_status(mlp_layer_grads(s->net, layer, &dW, &db));
    check_status(mlp_layer_grad_norm(s->net, layer, &norm));
    check_status(mlp_layer_activation(s->net, layer, &act));
    check_status(mlp_layer_params_const(s->net, layer, &W, &b, NULL, NULL));
    return mlp_layer_params(s->net, layer, NULL, NULL, NULL, NULL);
}

/* Writes a value, extreme ones included, into a parameter through the
 * writable views, as a caller may between steps: the steps after it must
 * still refuse what they cannot take. */
static mlp_status op_poke(session *s, reader *r)
{
    size_t layer = next_below(r, MAX_LAYERS + 1), n_out, n_in;
    float *W, *b;
    mlp_status st = mlp_layer_params(s->net, layer, &W, &b, &n_out, &n_in);
    if (st != MLP_OK)
        return st;
    size_t k = next_below(r, MAX_UNITS * MAX_UNITS + MAX_UNITS) % (n_out * n_in + n_out);
    float value = next_float(r);
    if (k < n_out * n_in)
        W[k] = value;
    else
        b[k - n_out * n_in] = value;
    return MLP_OK;
}

/* Sets a layer's W, b, both or neither (refused) to fuzzed values,
 * extreme ones included, through mlp_layer_set_params: a refusal must
 * change nothing (run_op's rule), and a call that succeeds must leave
 * exactly the values given. */
static mlp_status op_set(session *s, reader *r)
{
    size_t layer = next_below(r, MAX_LAYERS + 3), n_out = 0, n_in = 0;
    float W[MAX_UNITS * MAX_UNITS], b[MAX_UNITS];
    const float *W_now, *b_now;
    if (mlp_layer_params_const(s->net, layer, NULL, NULL, &n_out, &n_in) == MLP_OK) {
        fill(r, W, n_out * n_in);
        fill(r, b, n_out);
    }
    size_t parts = next_below(r, 4); /* bit 0: W, bit 1: b */
    const float *W_set = parts & 1 ? W : NULL, *b_set = parts & 2 ? b : NULL;
    mlp_status st = mlp_layer_set_params(s->net, layer, W_set, b_set);
    if (st != MLP_OK)
        return st;
    if (mlp_layer_params_const(s->net, layer, &W_now, &b_now, NULL, NULL) != MLP_OK ||
        (W_set && memcmp(W_now, W, n_out * n_in * sizeof *W) != 0) ||
        (b_set && memcmp(b_now, b, n_out * sizeof *b) != 0))
        abort();
    return st;
}

static mlp_status op_set_lr(session *s, reader *r)
{
    return mlp_optimizer_set_lr(s->opt, next_float(r));
}

/* Folds a standardization into the first layer, as a caller does before
 * saving; the deviations are mostly usable, sometimes anything (zero,
 * negative, subnormal, NaN). */
static mlp_status op_fold(session *s, reader *r)
{
    size_t n = mlp_net_inputs(s->net);
    float mean[MAX_UNITS], std[MAX_UNITS];
    fill(r, mean, n);
    for (size_t k = 0; k < n; k++)
        std[k] =
            next_below(r, 8) ? 0.25f * (float)(1 + next_below(r, 16)) : next_float(r);
    return mlp_standardize_fold(s->net, mean, std);
}

typedef mlp_status (*operation)(session *, reader *);

static const operation operations[] = {
    op_forward,       op_backward,  op_optimizer, op_step,     op_train_batch,
    op_predict_infer, op_save_load, op_fit,       op_evaluate, op_grow,
    op_inspect,       op_set_lr,    op_poke,      op_set,      op_fold};

static const char *const operation_names[] = {
    "forward",     "backward/loss_value", "optimizer_create", "step",
    "train_batch", "predict+infer",       "save+load",        "fit",
    "evaluate",    "add_dense",           "inspect",          "set_lr",
    "poke",        "set_params",          "standardize_fold"};

/* Reports a broken promise (libFuzzer then saves the input) and aborts. */
static void fail(const char *why, size_t op, mlp_status st)
{
    fprintf(stderr, "fuzz_api: %s after %s (status %s)\n", why, operation_names[op],
            mlp_strerror(st));
    abort();
}

/* Operations that compute new parameters: finite ones must stay finite,
 * whatever the status (a refusal changes nothing; mlp_fit's MLP_ERR_NUMERIC
 * puts back the last good step). */
static bool computes_params(operation op)
{
    return op == op_step || op == op_train_batch || op == op_fit || op == op_fold;
}

/* Only mlp_fit may fail and still have changed the parameters: with
 * MLP_ERR_NUMERIC it keeps the steps before the bad one. */
static bool may_change_on_failure(operation op, mlp_status st)
{
    return op == op_fit && st == MLP_ERR_NUMERIC;
}

/* Runs one operation and checks the rules of the file comment. */
static void run_op(session *s, reader *r)
{
    size_t index = next_below(r, sizeof operations / sizeof operations[0]);
    operation op = operations[index];
    size_t count;
    float *before = snapshot(s->net, &count);
    bool was_finite = params_finite(s->net);
    mlp_status st = op(s, r);
    check_status(st);
    if (getenv("MLP_FUZZ_TRACE"))
        fprintf(stderr, "fuzz_api: %s -> %s\n", operation_names[index], mlp_strerror(st));
    if (st != MLP_OK && !may_change_on_failure(op, st) &&
        !same_params(s->net, before, count))
        fail("a failed call changed the parameters", index, st);
    if (computes_params(op) && was_finite && !params_finite(s->net))
        fail("a call left a non-finite parameter", index, st);
    free(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    session s = {0};
    build(&s, &r);
    for (int ops = 0; r.left > 0 && ops < 64; ops++)
        run_op(&s, &r);
    mlp_optimizer_free(s.opt);
    mlp_net_free(s.net);
    return 0;
}
