/*
 * Allocation-failure injection: the library allocates only through
 * mlp_alloc (src/alloc_raw.c), which this test wraps at link time
 * (-Wl,--wrap=mlp_alloc,--wrap=mlp_dealloc). One scenario creates, grows,
 * trains, saves and loads a network and an optimizer, reads a CSV file,
 * fits (resuming at a later epoch) and evaluates;
 * it is run once for every n, with the n-th allocation failing, until a run
 * reaches no n-th allocation. For every n the call that met the failure
 * must return MLP_ERR_NOMEM, change nothing (parameters compared byte for
 * byte, files compared, outputs untouched), leave its objects usable, and
 * every block must be freed at the end (live-block count, and LSan in the
 * asan preset).
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include "internal.h"
#include "test_util.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

/* ---- allocation wrapping ---- */
void *__real_mlp_alloc(size_t n_bytes);
void *__wrap_mlp_alloc(size_t n_bytes);
void __real_mlp_dealloc(void *p);
void __wrap_mlp_dealloc(void *p);

static size_t alloc_count;              /* calls of mlp_alloc in this run */
static size_t alloc_fail_at = SIZE_MAX; /* the index of the call to fail */
static size_t alloc_failures;           /* calls failed in this run (0 or 1) */
static long live_blocks;                /* blocks allocated and not yet freed */

void *__wrap_mlp_alloc(size_t n_bytes)
{
    if (alloc_count++ == alloc_fail_at) {
        alloc_failures++;
        return NULL;
    }
    void *p = __real_mlp_alloc(n_bytes);
    if (p)
        live_blocks++;
    return p;
}

void __wrap_mlp_dealloc(void *p)
{
    if (p)
        live_blocks--;
    __real_mlp_dealloc(p);
}

/* Starts a run whose n-th allocation fails (SIZE_MAX: none). */
static void arm(size_t n)
{
    alloc_count = 0;
    alloc_failures = 0;
    alloc_fail_at = n;
}

static void disarm(void)
{
    alloc_fail_at = SIZE_MAX;
}

/* ---- data ---- */

enum { N_IN = 3, N_OUT = 2, N_ROWS = 40, N_VAL = 8, M_SMALL = 4, M_MID = 16, M_BIG = 32 };

typedef struct fixture {
    char dir[64];
    char model_path[96];
    char opt_path[96];
    char csv_path[96];
    float data[N_ROWS * (N_IN + N_OUT)]; /* the CSV's content */
    float X[N_ROWS * N_IN];
    float Y[N_ROWS * N_OUT];
} fixture;

static fixture fx;

static const char old_model[] = "not a model: the content before a save";

/* Writes the CSV of N_ROWS rows (inputs then targets) and remembers it. */
static void write_csv(void)
{
    test_rng rng = {42};
    for (size_t i = 0; i < N_ROWS; i++) {
        float *x = fx.X + i * N_IN, *y = fx.Y + i * N_OUT;
        test_fill_uniform(&rng, x, N_IN, -1.0, 1.0);
        y[0] = 0.5f * x[0] - x[1] * x[2];
        y[1] = sinf(x[0] + x[2]);
        memcpy(fx.data + i * (N_IN + N_OUT), x, sizeof(float) * N_IN);
        memcpy(fx.data + i * (N_IN + N_OUT) + N_IN, y, sizeof(float) * N_OUT);
    }
    FILE *f = fopen(fx.csv_path, "w");
    assert_non_null(f);
    fprintf(f, "a,b,c,y0,y1\n");
    for (size_t i = 0; i < N_ROWS; i++)
        for (size_t j = 0; j < N_IN + N_OUT; j++)
            fprintf(f, "%.9g%c", (double)fx.data[i * (N_IN + N_OUT) + j],
                    j + 1 < N_IN + N_OUT ? ',' : '\n');
    assert_int_equal(fclose(f), 0);
}

static void write_old_model(void)
{
    FILE *f = fopen(fx.model_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(old_model, 1, sizeof old_model, f), sizeof old_model);
    assert_int_equal(fclose(f), 0);
}

/* The file at path holds exactly old_model. */
static void expect_old_model(void)
{
    char buf[sizeof old_model + 8];
    FILE *f = fopen(fx.model_path, "rb");
    assert_non_null(f);
    size_t got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(got, sizeof old_model);
    assert_memory_equal(buf, old_model, sizeof old_model);
}

/* The scratch folder holds only the CSV and the saved files, no temporary
 * file: count entries in all. */
static void expect_no_stray_files(size_t count)
{
    DIR *d = opendir(fx.dir);
    assert_non_null(d);
    size_t entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            entries++;
    closedir(d);
    assert_int_equal(entries, count);
}

static int setup(void **state)
{
    (void)state;
    strcpy(fx.dir, "/tmp/mlp_alloc_fail_XXXXXX");
    if (!mkdtemp(fx.dir))
        return -1;
    snprintf(fx.model_path, sizeof fx.model_path, "%s/model.mlp", fx.dir);
    snprintf(fx.opt_path, sizeof fx.opt_path, "%s/model.mlpopt", fx.dir);
    snprintf(fx.csv_path, sizeof fx.csv_path, "%s/data.csv", fx.dir);
    write_csv();
    return mlp_set_threads(1) == MLP_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    unlink(fx.model_path);
    unlink(fx.opt_path);
    unlink(fx.csv_path);
    return rmdir(fx.dir);
}

/* ---- the scenario ---- */

/* Everything a run owns, freed at the end whatever happened. */
typedef struct run {
    mlp_net *net;
    mlp_optimizer *adam;
    mlp_optimizer *sgd;
    mlp_net *from_buffer;
    mlp_net *from_file;
    mlp_optimizer *opt_from_buffer;
    mlp_optimizer *opt_from_file;
    float *csv;
    unsigned char *saved;
} run;

/* What a failed call must look like: exactly the injected failure, reported
 * as MLP_ERR_NOMEM. A call that succeeded must not have met the failure
 * (a swallowed failure). Returns whether the call failed. */
static bool failed(mlp_status status, size_t failures_before, const char *call)
{
    if (status == MLP_OK) {
        if (alloc_failures != failures_before)
            fail_msg("%s returned MLP_OK after allocation %zu failed", call,
                     alloc_fail_at);
        return false;
    }
    if (status != MLP_ERR_NOMEM || alloc_failures != 1)
        fail_msg("%s: status %d (%s) with %zu injected failures at allocation %zu", call,
                 (int)status, mlp_strerror(status), alloc_failures, alloc_fail_at);
    return true;
}

/* Fails unless a and b have the same parameters byte for byte. */
static void expect_same_params(mlp_net *a, mlp_net *b)
{
    assert_int_equal(mlp_net_param_count(a), mlp_net_param_count(b));
    float *pa = snapshot_params(a);
    float *pb = snapshot_params(b);
    assert_memory_equal(pa, pb, mlp_net_param_count(a) * sizeof *pa);
    free(pa);
    free(pb);
}

/* After a failure, with injection off: a trainable network still runs a
 * forward and backward pass, and an optimizer still steps it. */
static void expect_usable(mlp_net *net, mlp_optimizer *opt)
{
    if (!net || mlp_net_outputs(net) != N_OUT)
        return;
    const float *out;
    assert_int_equal(mlp_forward(net, fx.X, M_SMALL, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, fx.Y, NULL), MLP_OK);
    if (opt)
        assert_int_equal(mlp_optimizer_step(opt, net), MLP_OK);
}

static void run_free(run *r)
{
    mlp_optimizer_free(r->adam);
    mlp_optimizer_free(r->sgd);
    mlp_net_free(r->net);
    mlp_net_free(r->from_buffer);
    mlp_net_free(r->from_file);
    mlp_optimizer_free(r->opt_from_buffer);
    mlp_optimizer_free(r->opt_from_file);
    mlp_array_free(r->csv);
    free(r->saved);
}

/* Creation and growth: each failed add_dense leaves the layers as they were. */
static bool build(run *r)
{
    size_t f = alloc_failures;
    if (failed(mlp_net_create(&r->net, N_IN, MLP_MSE, 7), f, "mlp_net_create")) {
        assert_null(r->net);
        return false;
    }
    const size_t widths[] = {8, 6, N_OUT};
    const mlp_activation acts[] = {MLP_TANH, MLP_RELU, MLP_IDENTITY};
    for (size_t l = 0; l < 3; l++) {
        size_t params = mlp_net_param_count(r->net);
        float *before = snapshot_params(r->net);
        if (failed(mlp_net_add_dense(r->net, widths[l], acts[l]), f,
                   "mlp_net_add_dense")) {
            assert_int_equal(mlp_net_layers(r->net), l);
            assert_int_equal(mlp_net_param_count(r->net), params);
            expect_params_equal(r->net, before);
            return false;
        }
        free(before);
    }
    return true;
}

static bool make_optimizers(run *r)
{
    size_t f = alloc_failures;
    if (failed(mlp_adam_create(&r->adam, r->net, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f), f,
               "mlp_adam_create")) {
        assert_null(r->adam);
        return false;
    }
    if (failed(mlp_sgd_create(&r->sgd, r->net, 0.05f, 0.9f, 1e-4f), f,
               "mlp_sgd_create")) {
        assert_null(r->sgd);
        return false;
    }
    return true;
}

/* Forward passes that grow the caches, then training steps, then a larger
 * batch. A failure leaves parameters (and gradients, once there) as they
 * were. */
static bool train(run *r)
{
    size_t f = alloc_failures;
    const float *out;
    const size_t ms[] = {M_SMALL, M_MID};
    for (size_t k = 0; k < 2; k++) {
        float *before = snapshot_params(r->net);
        if (failed(mlp_forward(r->net, fx.X, ms[k], &out), f, "mlp_forward")) {
            expect_params_equal(r->net, before);
            return false;
        }
        free(before);
    }
    assert_int_equal(mlp_backward(r->net, fx.Y, NULL), MLP_OK);
    assert_int_equal(mlp_optimizer_step(r->adam, r->net), MLP_OK);
    for (int step = 0; step < 3; step++)
        assert_int_equal(mlp_train_batch(r->net, r->sgd, fx.X, fx.Y, M_MID, NULL),
                         MLP_OK);
    assert_int_equal(alloc_failures,
                     f); /* steps on a known batch size allocate nothing */

    float *params = snapshot_params(r->net);
    float *grads = snapshot_grads(r->net);
    if (failed(mlp_train_batch(r->net, r->adam, fx.X, fx.Y, M_BIG, NULL), f,
               "mlp_train_batch (larger batch)")) {
        expect_params_equal(r->net, params);
        expect_grads_equal(r->net, grads);
        return false;
    }
    free(params);
    free(grads);
    return true;
}

/* Saving to a buffer and a file and loading both back: a failed save
 * leaves the old file and no temporary file, a failed load sets nothing. */
static bool save_and_load(run *r)
{
    size_t f = alloc_failures, size, written;
    assert_int_equal(mlp_net_saved_size(r->net, &size), MLP_OK);
    r->saved = malloc(size);
    assert_non_null(r->saved);
    assert_int_equal(mlp_net_save_buffer(r->net, r->saved, size, &written), MLP_OK);
    assert_int_equal(written, size);

    if (failed(mlp_net_load_buffer(&r->from_buffer, r->saved, size), f,
               "mlp_net_load_buffer")) {
        assert_null(r->from_buffer);
        return false;
    }
    expect_same_params(r->net, r->from_buffer);

    write_old_model();
    if (failed(mlp_net_save(r->net, fx.model_path), f, "mlp_net_save")) {
        expect_old_model();
        expect_no_stray_files(2);
        return false;
    }
    expect_no_stray_files(2);
    if (failed(mlp_net_load(&r->from_file, fx.model_path), f, "mlp_net_load")) {
        assert_null(r->from_file);
        return false;
    }
    expect_same_params(r->net, r->from_file);
    return true;
}

/* The same for the Adam optimizer's state: a loaded copy saves back to the
 * same bytes. */
static bool save_and_load_optimizer(run *r)
{
    size_t f = alloc_failures, size, written;
    assert_int_equal(mlp_optimizer_saved_size(r->adam, &size), MLP_OK);
    unsigned char *bytes = malloc(size), *again = malloc(size);
    assert_true(bytes && again);
    assert_int_equal(mlp_optimizer_save_buffer(r->adam, bytes, size, &written), MLP_OK);
    bool ok = !failed(mlp_optimizer_load_buffer(&r->opt_from_buffer, r->net, bytes, size),
                      f, "mlp_optimizer_load_buffer");
    if (ok) {
        assert_int_equal(
            mlp_optimizer_save_buffer(r->opt_from_buffer, again, size, &written), MLP_OK);
        assert_memory_equal(again, bytes, size);
        ok = !failed(mlp_optimizer_save(r->adam, fx.opt_path), f, "mlp_optimizer_save");
        expect_no_stray_files(ok ? 3 : 2);
    }
    if (ok)
        ok = !failed(mlp_optimizer_load(&r->opt_from_file, r->net, fx.opt_path), f,
                     "mlp_optimizer_load");
    if (!ok) {
        assert_null(r->opt_from_file);
        assert_true(r->opt_from_buffer || f != alloc_failures);
    }
    free(bytes);
    free(again);
    return ok;
}

static bool read_csv(run *r)
{
    size_t f = alloc_failures, rows = 0, cols = 0;
    mlp_csv_error err;
    if (failed(mlp_csv_read(fx.csv_path, &r->csv, &rows, &cols, &err), f,
               "mlp_csv_read")) {
        assert_null(r->csv);
        assert_int_equal(rows, 0);
        assert_true(strlen(err.message) > 0);
        return false;
    }
    assert_int_equal(rows, N_ROWS);
    assert_int_equal(cols, N_IN + N_OUT);
    assert_memory_equal(r->csv, fx.data, sizeof fx.data);
    return true;
}

/* mlp_fit with shuffling, validation, clipping and a schedule, then
 * mlp_evaluate: a failure other than MLP_ERR_NUMERIC changes nothing. */
static bool fit_and_evaluate(run *r)
{
    size_t f = alloc_failures;
    mlp_schedule schedule = {
        .kind = MLP_SCHEDULE_COSINE, .base_lr = 0.01f, .t_max = 3, .min_lr = 0.001f};
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = 3;
    o.first_epoch = 1200; /* a skip long enough to take the matrix powers */
    o.batch_size = 8;
    o.X_val = fx.X + (N_ROWS - N_VAL) * N_IN;
    o.Y_val = fx.Y + (N_ROWS - N_VAL) * N_OUT;
    o.n_val = N_VAL;
    o.metric = MLP_METRIC_R2;
    o.clip_norm = 1.0f;
    o.schedule = &schedule;
    float *before = snapshot_params(r->net);
    if (failed(mlp_fit(r->net, r->adam, fx.X, fx.Y, N_ROWS - N_VAL, &o), f, "mlp_fit")) {
        expect_params_equal(r->net, before);
        return false;
    }
    free(before);

    double loss = -1.0, metric = -1.0;
    before = snapshot_params(r->from_file);
    if (failed(
            mlp_evaluate(r->from_file, fx.X, fx.Y, N_ROWS, MLP_METRIC_R2, &loss, &metric),
            f, "mlp_evaluate")) {
        assert_true(loss == -1.0 && metric == -1.0);
        expect_params_equal(r->from_file, before);
        return false;
    }
    free(before);
    assert_true(isfinite(loss) && isfinite(metric));
    return true;
}

/* Inference from a caller's workspace allocates nothing and agrees with
 * mlp_predict. */
static void infer(run *r)
{
    size_t f = alloc_failures;
    size_t len = mlp_infer_workspace_size(r->net, M_BIG);
    float *work = malloc(len * sizeof *work);
    float out[M_BIG * N_OUT], ref[M_BIG * N_OUT];
    assert_non_null(work);
    assert_int_equal(mlp_infer(r->net, fx.X, M_BIG, out, work, len), MLP_OK);
    assert_int_equal(mlp_predict(r->net, fx.X, M_BIG, ref), MLP_OK);
    assert_memory_equal(out, ref, sizeof out);
    assert_int_equal(alloc_failures, f);
    free(work);
}

/* One run of the whole scenario; returns how many allocations it made. */
static size_t run_scenario(size_t fail_at)
{
    run r = {0};
    live_blocks = 0;
    unlink(fx.opt_path); /* the folder holds the CSV and the model until saved */
    arm(fail_at);
    bool ok = build(&r) && make_optimizers(&r) && train(&r) && save_and_load(&r) &&
              save_and_load_optimizer(&r) && read_csv(&r) && fit_and_evaluate(&r);
    if (ok)
        infer(&r);
    size_t made = alloc_count;
    disarm();
    if (!ok) {
        expect_usable(r.net, r.adam ? r.adam : r.sgd);
        expect_usable(r.from_buffer, NULL);
        expect_usable(r.from_file, NULL);
    }
    run_free(&r);
    if (live_blocks != 0)
        fail_msg("%ld blocks leaked with allocation %zu failing", live_blocks, fail_at);
    return made;
}

/* Every allocation of the scenario, failed in turn. */
static void test_every_allocation_failure(void **state)
{
    (void)state;
    size_t total = run_scenario(SIZE_MAX);
    assert_int_equal(alloc_failures, 0);
    assert_true(total >= 15); /* create, layers, optimizers, caches, files, CSV, fit */
    print_message("%zu allocations in the scenario, each failed in turn\n", total);
    for (size_t n = 0; n < total; n++) {
        run_scenario(n);
        if (alloc_failures != 1)
            fail_msg("allocation %zu of %zu was never reached", n, total);
    }
    /* past the last allocation, nothing fails */
    run_scenario(total);
    assert_int_equal(alloc_failures, 0);
}

/* A large CSV makes mlp_csv_read grow its buffers several times; every one
 * of those allocations is failed in turn too. */
static void test_csv_growth_failures(void **state)
{
    (void)state;
    char path[112];
    snprintf(path, sizeof path, "%s/big.csv", fx.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "a,b,c,d\n");
    for (int i = 0; i < 3000; i++)
        fprintf(f, "%d,%d.5,-%d,1e-3\n", i, i, i);
    assert_int_equal(fclose(f), 0);

    size_t total = SIZE_MAX;
    for (size_t n = 0; n <= total; n++) {
        float *data = NULL;
        size_t rows = 0, cols = 0;
        live_blocks = 0;
        arm(n);
        mlp_status status = mlp_csv_read(path, &data, &rows, &cols, NULL);
        if (alloc_failures == 0) {
            assert_int_equal(status, MLP_OK);
            assert_int_equal(rows, 3000);
            assert_int_equal(cols, 4);
            total = n; /* the run that reached no failure: done */
        } else {
            assert_int_equal(status, MLP_ERR_NOMEM);
            assert_null(data);
        }
        disarm();
        mlp_array_free(data);
        assert_int_equal(live_blocks, 0);
    }
    assert_true(total >= 4);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_failure),
        cmocka_unit_test(test_csv_growth_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
