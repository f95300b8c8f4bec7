/*
 * Hostile and absurd input through the public API: sizes whose products
 * overflow, zero sizes, a layer too large to allocate, empty batches, NaN
 * and infinity, targets outside the loss's domain, model files that claim
 * huge dimensions, unwritable paths and directories where files belong.
 * Each must give its documented status with a non-empty mlp_strerror text,
 * and leave the network exactly as it was. Then extreme but valid data
 * (values of 1e30, constant columns, all-zero rows), which must train or
 * report MLP_ERR_NUMERIC, and never leave a non-finite parameter.
 *
 * The billion-unit layer asks malloc for hundreds of gigabytes; under
 * AddressSanitizer this test needs allocator_may_return_null=1 (set by
 * tests/CMakeLists.txt and the sanitizer presets) so that malloc returns
 * NULL instead of aborting.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include "test_util.h"

#include <dirent.h>
#include <float.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Fails unless status is want and its text is a real description. */
static void expect_status(mlp_status status, mlp_status want)
{
    if (status != want)
        fail_msg("status %d (%s), expected %d (%s)", (int)status, mlp_strerror(status),
                 (int)want, mlp_strerror(want));
    const char *text = mlp_strerror(status);
    assert_non_null(text);
    assert_true(strlen(text) > 0);
    assert_string_not_equal(text, "unknown status");
}

enum { N_IN = 3, N_OUT = 2, M = 8 };

/* A 3-4-2 network for the given loss with a matching output layer. */
static mlp_net *small_net(mlp_loss loss)
{
    mlp_activation out = loss == MLP_MSE   ? MLP_IDENTITY
                         : loss == MLP_BCE ? MLP_SIGMOID
                                           : MLP_SOFTMAX;
    return make_net(N_IN, loss, 3, 2, (const size_t[]){4, N_OUT},
                    (const mlp_activation[]){MLP_TANH, out});
}

/* M rows of inputs in [-1, 1) and targets valid for every loss: one-hot
 * rows, which are in [0, 1] and sum to 1. */
static void valid_batch(float *X, float *Y)
{
    test_rng rng = {11};
    test_fill_uniform(&rng, X, M * N_IN, -1.0, 1.0);
    for (size_t i = 0; i < M; i++) {
        Y[i * N_OUT] = (float)(i % 2);
        Y[i * N_OUT + 1] = (float)(1 - i % 2);
    }
}

static bool all_finite(const float *x, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!isfinite(x[k]))
            return false;
    return true;
}

static bool params_finite(mlp_net *net)
{
    float *p = snapshot_params(net);
    bool finite = all_finite(p, mlp_net_param_count(net));
    free(p);
    return finite;
}

/* ---- sizes ---- */

static void test_zero_and_overflowing_sizes(void **state)
{
    (void)state;
    mlp_net *net = NULL;
    expect_status(mlp_net_create(&net, 0, MLP_MSE, 1), MLP_ERR_ARG);
    expect_status(mlp_net_create(&net, SIZE_MAX, MLP_MSE, 1), MLP_ERR_SHAPE);
    assert_null(net);

    net = small_net(MLP_MSE);
    float *before = snapshot_params(net);
    expect_status(mlp_net_add_dense(net, 0, MLP_TANH), MLP_ERR_ARG);
    expect_status(mlp_net_add_dense(net, SIZE_MAX, MLP_TANH), MLP_ERR_SHAPE);
    expect_status(mlp_net_add_dense(net, (size_t)INT_MAX + 1, MLP_TANH), MLP_ERR_SHAPE);
    assert_int_equal(mlp_net_layers(net), 2);

    /* a batch whose row count exceeds what can be multiplied: refused
     * before a single row is read (X holds one row) */
    float X[N_IN] = {0}, out[N_OUT], work[16];
    const float *A;
    expect_status(mlp_forward(net, X, SIZE_MAX, &A), MLP_ERR_SHAPE);
    expect_status(mlp_forward(net, X, SIZE_MAX / N_IN + 1, &A), MLP_ERR_SHAPE);
    expect_status(mlp_predict(net, X, SIZE_MAX, out), MLP_ERR_SHAPE);
    expect_status(mlp_infer(net, X, SIZE_MAX, out, work, SIZE_MAX), MLP_ERR_SHAPE);
    assert_int_equal(mlp_infer_workspace_size(net, SIZE_MAX), 0);
    assert_int_equal(mlp_infer_workspace_size(net, SIZE_MAX / 4), 0);
    expect_status(mlp_infer(net, X, 1, out, work, 1),
                  MLP_ERR_SHAPE); /* workspace short */
    expect_params_equal(net, before);
    mlp_net_free(net);
}

/* Data functions with row x column products that overflow size_t must say
 * so before they touch the (one-element) arrays. */
static void test_data_size_overflow(void **state)
{
    (void)state;
    float a[1] = {0.5f}, b[1] = {0.5f}, mean[1], std[1];
    size_t idx[2] = {0, 0};
    double r;
    const size_t big = SIZE_MAX / 2 + 1;
    expect_status(mlp_columns_copy(a, big, 2, 0, 1, b), MLP_ERR_SHAPE);
    expect_status(mlp_rows_gather(a, 1, big, idx, 2, b), MLP_ERR_SHAPE);
    expect_status(mlp_standardize_fit(a, big, 2, mean, std), MLP_ERR_SHAPE);
    expect_status(mlp_one_hot(a, big, 2, b), MLP_ERR_SHAPE);
    expect_status(mlp_accuracy(a, b, big, 2, &r), MLP_ERR_SHAPE);
    expect_status(mlp_mse(a, b, big, 2, &r), MLP_ERR_SHAPE);
    expect_status(mlp_r2(a, b, big, 2, &r), MLP_ERR_SHAPE);
    expect_status(mlp_columns_copy(a, 0, 1, 0, 1, b), MLP_ERR_ARG);
    expect_status(mlp_one_hot(a, 1, 0, b), MLP_ERR_ARG);
}

/* A layer of a billion units after 100000 inputs needs 4e14 bytes, more
 * than a 64-bit address space holds, whatever the overcommit policy: the
 * allocation fails, the network is unchanged and can still grow and run. */
static void test_billion_unit_layer(void **state)
{
    (void)state;
    enum { WIDE = 100000 };
    mlp_net *net = NULL;
    assert_int_equal(mlp_net_create(&net, WIDE, MLP_MSE, 1), MLP_OK);
    expect_status(mlp_net_add_dense(net, 1000000000, MLP_RELU), MLP_ERR_NOMEM);
    expect_status(mlp_net_add_dense(net, (size_t)INT_MAX, MLP_RELU), MLP_ERR_NOMEM);
    assert_int_equal(mlp_net_layers(net), 0);
    assert_int_equal(mlp_net_param_count(net), 0);

    assert_int_equal(mlp_net_add_dense(net, 1, MLP_IDENTITY), MLP_OK);
    float *X = calloc(2 * WIDE, sizeof *X), Y[2] = {1.0f, -1.0f};
    assert_non_null(X);
    const float *A;
    assert_int_equal(mlp_forward(net, X, 2, &A), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);
    free(X);
    mlp_net_free(net);
}

/* ---- batches and values ---- */

static void test_zero_batches(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE);
    mlp_optimizer *opt = NULL;
    assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.0f, 0.0f), MLP_OK);
    float X[M * N_IN], Y[M * N_OUT], out[M * N_OUT], work[64];
    valid_batch(X, Y);
    float *before = snapshot_params(net);
    const float *A;
    double loss;
    expect_status(mlp_forward(net, X, 0, &A), MLP_ERR_ARG);
    expect_status(mlp_predict(net, X, 0, out), MLP_ERR_ARG);
    expect_status(mlp_infer(net, X, 0, out, work, 64), MLP_ERR_ARG);
    expect_status(mlp_train_batch(net, opt, X, Y, 0, NULL), MLP_ERR_ARG);
    expect_status(mlp_backward(net, Y, NULL), MLP_ERR_STATE); /* no forward yet */
    expect_status(mlp_evaluate(net, X, Y, 0, MLP_METRIC_NONE, &loss, NULL), MLP_ERR_ARG);
    mlp_fit_options o = mlp_fit_defaults();
    expect_status(mlp_fit(net, opt, X, Y, 0, &o), MLP_ERR_ARG);
    o.batch_size = 0;
    expect_status(mlp_fit(net, opt, X, Y, M, &o), MLP_ERR_ARG);
    o = mlp_fit_defaults();
    o.epochs = 0;
    expect_status(mlp_fit(net, opt, X, Y, M, &o), MLP_ERR_ARG);
    assert_int_equal(mlp_infer_workspace_size(net, 0), 0);
    expect_params_equal(net, before);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* One bad value anywhere in X or Y: refused, parameters and gradients
 * unchanged, the caller's output untouched. */
static void test_nan_and_infinity(void **state)
{
    (void)state;
    const float bad[] = {NAN, INFINITY, -INFINITY};
    mlp_net *net = small_net(MLP_MSE);
    mlp_optimizer *opt = NULL;
    assert_int_equal(mlp_adam_create(&opt, net, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f),
                     MLP_OK);
    float X[M * N_IN], Y[M * N_OUT], out[M * N_OUT], work[256];
    valid_batch(X, Y);
    assert_int_equal(mlp_train_batch(net, opt, X, Y, M, NULL), MLP_OK);
    mlp_fit_options o = mlp_fit_defaults();
    o.batch_size = 4;
    for (size_t v = 0; v < 3; v++) {
        for (size_t at = 0; at < M * N_IN; at += 5) {
            float *params = snapshot_params(net), *grads = snapshot_grads(net);
            float saved = X[at];
            X[at] = bad[v];
            const float *A;
            double loss;
            expect_status(mlp_forward(net, X, M, &A), MLP_ERR_ARG);
            expect_status(mlp_train_batch(net, opt, X, Y, M, NULL), MLP_ERR_ARG);
            memset(out, 0x7f, sizeof out);
            expect_status(mlp_predict(net, X, M, out), MLP_ERR_ARG);
            expect_status(mlp_infer(net, X, M, out, work, 256), MLP_ERR_ARG);
            assert_true(out[0] == out[M * N_OUT - 1] && out[0] > 1e38f);
            expect_status(mlp_fit(net, opt, X, Y, M, &o), MLP_ERR_ARG);
            expect_status(mlp_evaluate(net, X, Y, M, MLP_METRIC_MSE, &loss, NULL),
                          MLP_ERR_ARG);
            X[at] = saved;
            expect_params_equal(net, params);
            expect_grads_equal(net, grads);
        }
        for (size_t at = 0; at < M * N_OUT; at += 3) {
            float *params = snapshot_params(net), *grads = snapshot_grads(net);
            float saved = Y[at];
            Y[at] = bad[v];
            const float *A;
            float loss = 123.0f;
            assert_int_equal(mlp_forward(net, X, M, &A), MLP_OK);
            expect_status(mlp_backward(net, Y, &loss), MLP_ERR_ARG);
            expect_status(mlp_loss_value(net, Y, &loss), MLP_ERR_ARG);
            assert_true(loss == 123.0f);
            expect_status(mlp_train_batch(net, opt, X, Y, M, NULL), MLP_ERR_ARG);
            expect_status(mlp_fit(net, opt, X, Y, M, &o), MLP_ERR_ARG);
            Y[at] = saved;
            expect_params_equal(net, params);
            expect_grads_equal(net, grads);
        }
    }
    mlp_optimizer_free(opt);
    mlp_net_free(net);
}

/* Targets outside the loss's domain: BCE outside [0,1], cross-entropy rows
 * with a negative entry or a sum other than 1. */
static void test_targets_outside_domain(void **state)
{
    (void)state;
    const mlp_loss losses[] = {MLP_BCE, MLP_CROSS_ENTROPY};
    for (size_t k = 0; k < 2; k++) {
        mlp_net *net = small_net(losses[k]);
        mlp_optimizer *opt = NULL;
        assert_int_equal(mlp_sgd_create(&opt, net, 0.1f, 0.5f, 0.0f), MLP_OK);
        float X[M * N_IN], Y[M * N_OUT];
        valid_batch(X, Y);
        mlp_fit_options o = mlp_fit_defaults();
        const float *A;
        float *before = snapshot_params(net);
        const float bad_bce[][2] = {{1.5f, 0.0f}, {-0.01f, 1.0f}, {2.0f, -1.0f}};
        const float bad_ce[][2] = {
            {0.5f, 0.4f}, {1.5f, -0.5f}, {1.0f, 1.0f}, {0.0f, 0.0f}};
        size_t cases = losses[k] == MLP_BCE ? 3 : 4;
        for (size_t c = 0; c < cases; c++) {
            const float *row = losses[k] == MLP_BCE ? bad_bce[c] : bad_ce[c];
            float saved[2] = {Y[6], Y[7]};
            Y[6] = row[0];
            Y[7] = row[1];
            assert_int_equal(mlp_forward(net, X, M, &A), MLP_OK);
            expect_status(mlp_backward(net, Y, NULL), MLP_ERR_ARG);
            expect_status(mlp_loss_value(net, Y, NULL), MLP_ERR_ARG);
            expect_status(mlp_train_batch(net, opt, X, Y, M, NULL), MLP_ERR_ARG);
            expect_status(mlp_fit(net, opt, X, Y, M, &o), MLP_ERR_ARG);
            double loss;
            expect_status(mlp_evaluate(net, X, Y, M, MLP_METRIC_ACCURACY, &loss, NULL),
                          MLP_ERR_ARG);
            Y[6] = saved[0];
            Y[7] = saved[1];
        }
        expect_params_equal(net, before);
        /* the valid targets still train */
        assert_int_equal(mlp_train_batch(net, opt, X, Y, M, NULL), MLP_OK);
        mlp_optimizer_free(opt);
        mlp_net_free(net);
    }
}

/* ---- model files ---- */

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int k = 0; k < bytes; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

static void reseal(unsigned char *bytes, size_t len)
{
    put_le(bytes + len - 4, test_crc32(bytes, len - 4), 4);
}

/* Headers claiming huge sizes (correct checksum, real magic): refused as
 * MLP_ERR_FORMAT from memory and from a file, nothing written to *out. */
static void test_model_claiming_huge_dims(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_MSE);
    size_t len, written;
    assert_int_equal(mlp_net_saved_size(net, &len), MLP_OK);
    unsigned char *good = malloc(len), *bytes = malloc(len);
    assert_non_null(good);
    assert_non_null(bytes);
    assert_int_equal(mlp_net_save_buffer(net, good, len, &written), MLP_OK);
    mlp_net *loaded = NULL;
    assert_int_equal(mlp_net_load_buffer(&loaded, good, len), MLP_OK);
    mlp_net_free(loaded);

    struct {
        size_t offset;
        uint64_t value;
    } edits[] = {
        {16, (uint64_t)1 << 40},   /* n_inputs */
        {16, (uint64_t)INT_MAX},   /* n_inputs, allowed width but wrong size */
        {16, UINT64_MAX},          /* n_inputs */
        {24, (uint64_t)1 << 60},   /* n_layers */
        {24, UINT64_MAX / 12 + 1}, /* n_layers times the entry size overflows */
        {32, (uint64_t)1 << 33},   /* first layer width */
        {32, (uint64_t)INT_MAX},   /* first layer width */
        {44, UINT64_MAX},          /* last layer width */
        {44, (uint64_t)1 << 31},   /* last layer width */
    };
    char dir[] = "/tmp/mlp_hostile_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/huge.mlp", dir);
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        memcpy(bytes, good, len);
        put_le(bytes + edits[e].offset, edits[e].value, 8);
        reseal(bytes, len);
        loaded = NULL;
        expect_status(mlp_net_load_buffer(&loaded, bytes, len), MLP_ERR_FORMAT);
        assert_null(loaded);
        test_write_file(path, bytes, len);
        expect_status(mlp_net_load(&loaded, path), MLP_ERR_FORMAT);
        assert_null(loaded);
    }
    /* lengths that lie: the buffer is shorter or longer than the header */
    expect_status(mlp_net_load_buffer(&loaded, good, len - 1), MLP_ERR_FORMAT);
    expect_status(mlp_net_load_buffer(&loaded, good, 0), MLP_ERR_FORMAT);
    expect_status(mlp_net_load_buffer(&loaded, good, 3), MLP_ERR_FORMAT);
    assert_null(loaded);
    unlink(path);
    rmdir(dir);
    free(good);
    free(bytes);
    mlp_net_free(net);
}

/* Paths that cannot be written or read, and directories where files
 * belong: MLP_ERR_IO, no file left behind, the directory intact. */
static void test_unwritable_paths_and_directories(void **state)
{
    (void)state;
    mlp_net *net = small_net(MLP_BCE);
    float *before = snapshot_params(net);
    char dir[] = "/tmp/mlp_hostile_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[64], missing[96], file[64];
    snprintf(sub, sizeof sub, "%s/folder", dir);
    snprintf(missing, sizeof missing, "%s/no/such/folder/model.mlp", dir);
    snprintf(file, sizeof file, "%s/file", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    test_write_file(file, "x", 1);

    expect_status(mlp_net_save(net, missing), MLP_ERR_IO);
    expect_status(mlp_net_save(net, sub), MLP_ERR_IO); /* a directory */
    expect_status(mlp_net_save(net, ""), MLP_ERR_IO);
    char under_file[96];
    snprintf(under_file, sizeof under_file, "%s/model.mlp", file); /* file as a folder */
    expect_status(mlp_net_save(net, under_file), MLP_ERR_IO);

    mlp_net *loaded = NULL;
    expect_status(mlp_net_load(&loaded, sub), MLP_ERR_IO);
    expect_status(mlp_net_load(&loaded, missing), MLP_ERR_IO);
    expect_status(mlp_net_load(&loaded, "/dev/null"), MLP_ERR_IO);
    expect_status(mlp_net_load(&loaded, file), MLP_ERR_FORMAT); /* 1 byte */
    assert_null(loaded);

    float *data = NULL;
    size_t rows = 0, cols = 0;
    mlp_csv_error err;
    expect_status(mlp_csv_read(sub, &data, &rows, &cols, &err), MLP_ERR_IO);
    assert_true(strlen(err.message) > 0);
    expect_status(mlp_csv_read(missing, &data, &rows, &cols, &err), MLP_ERR_IO);
    assert_true(strlen(err.message) > 0);
    assert_null(data);

    /* nothing was left behind: the folder holds the subfolder and the file */
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    assert_int_equal(entries, 2);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    expect_params_equal(net, before);
    unlink(file);
    rmdir(sub);
    rmdir(dir);
    mlp_net_free(net);
}

/* Every status has its own non-empty text; an unknown value has one too. */
static void test_strerror_texts(void **state)
{
    (void)state;
    for (int s = MLP_OK; s <= MLP_ERR_NUMERIC; s++) {
        const char *text = mlp_strerror((mlp_status)s);
        assert_non_null(text);
        assert_true(strlen(text) > 0);
        assert_string_not_equal(text, "unknown status");
        for (int t = MLP_OK; t < s; t++)
            assert_string_not_equal(text, mlp_strerror((mlp_status)t));
    }
    assert_true(strlen(mlp_strerror((mlp_status)-1)) > 0);
    assert_true(strlen(mlp_strerror((mlp_status)1000)) > 0);
}

/* ---- numerical robustness ---- */

enum { N_ROWS = 32 };

/* Datasets of valid but extreme values for an N_IN input network. */
typedef enum { DATA_HUGE, DATA_MIXED_HUGE, DATA_CONSTANT_ZERO } extreme_kind;

static void extreme_data(extreme_kind kind, float *X, float *Y)
{
    test_rng rng = {5};
    test_fill_uniform(&rng, X, N_ROWS * N_IN, -1.0, 1.0);
    for (size_t i = 0; i < N_ROWS; i++) {
        float *x = X + i * N_IN;
        if (kind == DATA_HUGE)
            for (size_t j = 0; j < N_IN; j++)
                x[j] = (i + j) % 2 ? 1e30f : -1e30f;
        if (kind == DATA_MIXED_HUGE && i % 3 == 0)
            x[i % N_IN] = i % 2 ? 1e30f : -FLT_MAX;
        if (kind == DATA_CONSTANT_ZERO) {
            x[1] = 3.0f;    /* a constant column */
            if (i % 4 == 0) /* all-zero rows */
                memset(x, 0, N_IN * sizeof *x);
        }
        Y[i * N_OUT] = (float)(i % 2);
        Y[i * N_OUT + 1] = (float)(1 - i % 2);
    }
}

static mlp_optimizer *make_opt(mlp_net *net, int kind)
{
    mlp_optimizer *opt = NULL;
    if (kind == 0)
        assert_int_equal(mlp_sgd_create(&opt, net, 0.01f, 0.9f, 0.0f), MLP_OK);
    else if (kind == 1)
        assert_int_equal(mlp_adam_create(&opt, net, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f),
                         MLP_OK);
    else
        assert_int_equal(mlp_adamw_create(&opt, net, 0.01f, 0.9f, 0.999f, 1e-8f, 0.01f),
                         MLP_OK);
    return opt;
}

/* Training step by step with mlp_train_batch: every step either succeeds
 * or is MLP_ERR_NUMERIC without a change, and the parameters stay finite.
 * Returns whether every step succeeded. */
static bool train_steps(mlp_net *net, mlp_optimizer *opt, const float *X, const float *Y)
{
    bool all_ok = true;
    for (int step = 0; step < 40; step++) {
        const float *x = X + (size_t)(step % 4) * 8 * N_IN;
        const float *y = Y + (size_t)(step % 4) * 8 * N_OUT;
        float *before = snapshot_params(net);
        float loss;
        mlp_status status = mlp_train_batch(net, opt, x, y, 8, &loss);
        if (status != MLP_OK && status != MLP_ERR_NUMERIC)
            fail_msg("step %d: status %s", step, mlp_strerror(status));
        if (status == MLP_ERR_NUMERIC) {
            all_ok = false;
            expect_params_equal(net, before);
        } else {
            free(before);
            assert_true(isfinite(loss));
        }
        if (!params_finite(net))
            fail_msg("step %d left a non-finite parameter (status %s)", step,
                     mlp_strerror(status));
    }
    return all_ok;
}

/* The same data through mlp_fit: MLP_OK or MLP_ERR_NUMERIC, finite
 * parameters either way. */
static mlp_status fit_all(mlp_net *net, mlp_optimizer *opt, const float *X,
                          const float *Y)
{
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = 10;
    o.batch_size = 8;
    mlp_status status = mlp_fit(net, opt, X, Y, N_ROWS, &o);
    if (status != MLP_OK && status != MLP_ERR_NUMERIC)
        fail_msg("mlp_fit: status %s", mlp_strerror(status));
    assert_true(params_finite(net));
    return status;
}

/* Every loss with every optimizer on every extreme dataset. */
static void test_extreme_values_train_or_report(void **state)
{
    (void)state;
    const mlp_loss losses[] = {MLP_MSE, MLP_BCE, MLP_CROSS_ENTROPY};
    const mlp_activation hidden[] = {MLP_TANH, MLP_RELU, MLP_SIGMOID, MLP_LEAKY_RELU,
                                     MLP_IDENTITY};
    float X[N_ROWS * N_IN], Y[N_ROWS * N_OUT];
    for (int kind = DATA_HUGE; kind <= DATA_CONSTANT_ZERO; kind++) {
        extreme_data((extreme_kind)kind, X, Y);
        for (size_t l = 0; l < 3; l++)
            for (size_t h = 0; h < 5; h++)
                for (int o = 0; o < 3; o++) {
                    mlp_activation out = losses[l] == MLP_MSE   ? MLP_IDENTITY
                                         : losses[l] == MLP_BCE ? MLP_SIGMOID
                                                                : MLP_SOFTMAX;
                    mlp_net *net =
                        make_net(N_IN, losses[l], 9, 3, (const size_t[]){6, 5, N_OUT},
                                 (const mlp_activation[]){hidden[h], hidden[h], out});
                    mlp_optimizer *opt = make_opt(net, o);
                    bool ok = train_steps(net, opt, X, Y);
                    /* well-scaled data must simply train */
                    if (kind == DATA_CONSTANT_ZERO && !ok)
                        fail_msg("constant/zero data failed to train (loss %d, act %d, "
                                 "opt %d)",
                                 (int)losses[l], (int)hidden[h], o);
                    mlp_optimizer_free(opt);
                    mlp_net_free(net);

                    net = make_net(N_IN, losses[l], 9, 3, (const size_t[]){6, 5, N_OUT},
                                   (const mlp_activation[]){hidden[h], hidden[h], out});
                    opt = make_opt(net, o);
                    mlp_status status = fit_all(net, opt, X, Y);
                    if (kind == DATA_CONSTANT_ZERO)
                        assert_int_equal(status, MLP_OK);
                    mlp_optimizer_free(opt);
                    mlp_net_free(net);
                }
    }
}

/* A loss that is finite while a gradient overflows: one input of 1e30 with
 * a tiny weight gives an output of 1e18, a loss of 5e35 and dC/dW of 1e48,
 * infinite in float. A step on it would make the parameters infinite or
 * NaN, so training must report MLP_ERR_NUMERIC instead and change nothing,
 * through mlp_train_batch and through mlp_backward + mlp_optimizer_step. */
static void test_gradient_overflow_is_numeric(void **state)
{
    (void)state;
    const float X[] = {1e30f, 1.0f, -1e30f, 1.0f}, Y[] = {0.0f, 1.0f};
    for (int o = 0; o < 3; o++) {
        mlp_net *net = NULL;
        assert_int_equal(mlp_net_create(&net, 2, MLP_MSE, 1), MLP_OK);
        assert_int_equal(mlp_net_add_dense(net, 1, MLP_IDENTITY), MLP_OK);
        float *W;
        assert_int_equal(mlp_layer_params(net, 0, &W, NULL, NULL, NULL), MLP_OK);
        W[0] = 1e-12f;
        W[1] = 0.5f;
        mlp_optimizer *opt = make_opt(net, o);
        float *before = snapshot_params(net);
        expect_status(mlp_train_batch(net, opt, X, Y, 2, NULL), MLP_ERR_NUMERIC);
        expect_params_equal(net, before);

        before = snapshot_params(net);
        const float *A;
        assert_int_equal(mlp_forward(net, X, 2, &A), MLP_OK);
        mlp_status status = mlp_backward(net, Y, NULL);
        if (status == MLP_OK)
            status = mlp_optimizer_step(opt, net);
        expect_status(status, MLP_ERR_NUMERIC);
        expect_params_equal(net, before);
        mlp_optimizer_free(opt);
        mlp_net_free(net);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zero_and_overflowing_sizes),
        cmocka_unit_test(test_data_size_overflow),
        cmocka_unit_test(test_billion_unit_layer),
        cmocka_unit_test(test_zero_batches),
        cmocka_unit_test(test_nan_and_infinity),
        cmocka_unit_test(test_targets_outside_domain),
        cmocka_unit_test(test_model_claiming_huge_dims),
        cmocka_unit_test(test_unwritable_paths_and_directories),
        cmocka_unit_test(test_strerror_texts),
        cmocka_unit_test(test_extreme_values_train_or_report),
        cmocka_unit_test(test_gradient_overflow_is_numeric),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
