/*
 * The two thread-safety promises of mlp.h, exercised with pthreads and run
 * under ThreadSanitizer by .ci/tsan.sh:
 * - separate networks and optimizers trained on separate threads at once
 *   give, bit for bit, what the same training gives on one thread;
 * - one trained network serves mlp_infer (each thread with its own
 *   workspace) and the other const functions (mlp_net_save_buffer, the
 *   getters) from several threads at once, with results equal to
 *   single-threaded mlp_predict.
 *
 * mlp_set_threads(1) keeps OpenBLAS from starting its own worker threads:
 * OpenBLAS is not built with TSan instrumentation, so the hand-off between
 * its workers (its own spin-waits and atomics) would be invisible to TSan and
 * could be reported as races in memory that libmlp owns. With one BLAS
 * thread every product runs on the calling thread, and TSan sees every
 * access libmlp makes. The batches are sized so that all three matrix
 * paths (plain loops, matrix-vector and cblas_sgemm) run.
 */
#include "test_util.h"

#include <pthread.h>
#include <stdbool.h>

enum {
    N_THREADS = 4,
    N_IN = 8,
    N_HIDDEN = 16,
    N_OUT = 3,
    N_ROWS = 96,
    BATCH = 32, /* 32 x 16 x 8 multiply-adds: above the plain-loop limit */
    STEPS = 30,
    INFER_ROUNDS = 20
};

static float data_X[N_ROWS * N_IN];
static float data_Y[N_ROWS * N_OUT]; /* one-hot rows for cross-entropy */

static void make_data(void)
{
    test_rng rng = {2024};
    test_fill_uniform(&rng, data_X, sizeof data_X / sizeof data_X[0], -1.0, 1.0);
    for (size_t i = 0; i < N_ROWS; i++)
        for (size_t j = 0; j < N_OUT; j++)
            data_Y[i * N_OUT + j] = j == i % N_OUT ? 1.0f : 0.0f;
}

/* A 8-16-16-3 softmax classifier whose seed depends on the worker. */
static mlp_net *classifier(uint64_t seed)
{
    mlp_net *net = NULL;
    if (mlp_net_create(&net, N_IN, MLP_CROSS_ENTROPY, seed) != MLP_OK)
        return NULL;
    if (mlp_net_add_dense(net, N_HIDDEN, MLP_RELU) != MLP_OK ||
        mlp_net_add_dense(net, N_HIDDEN, MLP_TANH) != MLP_OK ||
        mlp_net_add_dense(net, N_OUT, MLP_SOFTMAX) != MLP_OK) {
        mlp_net_free(net);
        return NULL;
    }
    return net;
}

/* ---- separate networks on separate threads ---- */

typedef struct train_job {
    uint64_t seed;
    mlp_net *net; /* result, owned by the caller afterwards */
    bool ok;
} train_job;

/* Trains a network of its own: mini-batch steps with Adam, then mlp_fit
 * with SGD, then SGD one sample at a time, so every path runs concurrently
 * with other workers. Uses no
 * CMocka assertion: those are not thread-safe, the main thread checks. */
static void *train_worker(void *arg)
{
    train_job *job = arg;
    mlp_net *net = classifier(job->seed);
    mlp_optimizer *adam = NULL, *sgd = NULL;
    bool ok = net &&
              mlp_adam_create(&adam, net, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f) == MLP_OK &&
              mlp_sgd_create(&sgd, net, 0.05f, 0.9f, 1e-4f) == MLP_OK;
    for (size_t step = 0; ok && step < STEPS; step++) {
        size_t first = (step * BATCH) % N_ROWS;
        ok = mlp_train_batch(net, adam, data_X + first * N_IN, data_Y + first * N_OUT,
                             BATCH, NULL) == MLP_OK;
    }
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = 3;
    o.batch_size = BATCH;
    o.shuffle_seed = job->seed;
    ok = ok && mlp_fit(net, sgd, data_X, data_Y, N_ROWS, &o) == MLP_OK;
    /* one sample at a time: the backward product of the 16-16 layer
     * (1 x 16 x 16) takes the matrix-vector path */
    for (size_t row = 0; ok && row < N_ROWS; row++)
        ok = mlp_train_batch(net, sgd, data_X + row * N_IN, data_Y + row * N_OUT, 1,
                             NULL) == MLP_OK;
    mlp_optimizer_free(adam);
    mlp_optimizer_free(sgd);
    job->net = net;
    job->ok = ok;
    return NULL;
}

static void test_separate_networks_on_separate_threads(void **state)
{
    (void)state;
    train_job jobs[N_THREADS];
    pthread_t threads[N_THREADS];
    for (size_t t = 0; t < N_THREADS; t++) {
        jobs[t] = (train_job){.seed = 100 + t % 2}; /* pairs share a seed */
        assert_int_equal(pthread_create(&threads[t], NULL, train_worker, &jobs[t]), 0);
    }
    for (size_t t = 0; t < N_THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);

    for (size_t t = 0; t < N_THREADS; t++) {
        assert_true(jobs[t].ok);
        /* the same training on this thread, alone, gives the same bits */
        train_job alone = {.seed = jobs[t].seed};
        train_worker(&alone);
        assert_true(alone.ok);
        float *expected = snapshot_params(alone.net);
        expect_params_equal(jobs[t].net, expected);
        mlp_net_free(alone.net);
    }
    for (size_t t = 0; t < N_THREADS; t++)
        mlp_net_free(jobs[t].net);
}

/* ---- one network, many readers ---- */

typedef struct infer_job {
    const mlp_net *net;
    size_t first, m; /* rows of data_X this worker runs */
    float out[N_ROWS * N_OUT];
    unsigned char *saved; /* mlp_net_save_buffer's bytes */
    size_t saved_len;
    bool ok;
} infer_job;

/* Runs its rows through mlp_infer again and again with its own workspace
 * (the last result is kept), and reads the network through the other
 * const functions meanwhile. */
static void *infer_worker(void *arg)
{
    infer_job *job = arg;
    size_t len = mlp_infer_workspace_size(job->net, job->m);
    float *work = malloc(len * sizeof *work);
    size_t size = 0, written = 0;
    bool ok = work && mlp_net_saved_size(job->net, &size) == MLP_OK;
    job->saved = ok ? malloc(size) : NULL;
    ok = ok && job->saved;
    for (size_t round = 0; ok && round < INFER_ROUNDS; round++) {
        ok = mlp_infer(job->net, data_X + job->first * N_IN, job->m, job->out, work,
                       len) == MLP_OK &&
             mlp_net_save_buffer(job->net, job->saved, size, &written) == MLP_OK &&
             written == size && mlp_net_outputs(job->net) == N_OUT &&
             mlp_net_param_count(job->net) > 0;
        mlp_activation act;
        ok =
            ok && mlp_layer_activation(job->net, 2, &act) == MLP_OK && act == MLP_SOFTMAX;
    }
    job->saved_len = size;
    free(work);
    job->ok = ok;
    return NULL;
}

static void test_concurrent_inference_on_one_network(void **state)
{
    (void)state;
    /* a trained network */
    mlp_net *net = classifier(7);
    assert_non_null(net);
    mlp_optimizer *opt = NULL;
    assert_int_equal(mlp_adam_create(&opt, net, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f),
                     MLP_OK);
    mlp_fit_options o = mlp_fit_defaults();
    o.epochs = 5;
    o.batch_size = BATCH;
    assert_int_equal(mlp_fit(net, opt, data_X, data_Y, N_ROWS, &o), MLP_OK);
    mlp_optimizer_free(opt);

    /* every worker runs some rows in a batch of its own size: one worker
     * takes them all at once, the others a part each */
    static infer_job jobs[N_THREADS];
    static float expected[N_THREADS][N_ROWS * N_OUT];
    const size_t firsts[N_THREADS] = {0, 0, 32, 90};
    const size_t ms[N_THREADS] = {N_ROWS, 32, 64, 6};
    /* the single-threaded answers, batch by batch (the batch size can
     * choose the matrix path, so each is compared with its own) */
    for (size_t t = 0; t < N_THREADS; t++)
        assert_int_equal(mlp_predict(net, data_X + firsts[t] * N_IN, ms[t], expected[t]),
                         MLP_OK);
    size_t size, written;
    assert_int_equal(mlp_net_saved_size(net, &size), MLP_OK);
    unsigned char *saved = malloc(size);
    assert_non_null(saved);
    assert_int_equal(mlp_net_save_buffer(net, saved, size, &written), MLP_OK);
    float *params = snapshot_params(net);

    pthread_t threads[N_THREADS];
    for (size_t t = 0; t < N_THREADS; t++) {
        jobs[t] = (infer_job){.net = net, .first = firsts[t], .m = ms[t]};
        assert_int_equal(pthread_create(&threads[t], NULL, infer_worker, &jobs[t]), 0);
    }
    for (size_t t = 0; t < N_THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);

    for (size_t t = 0; t < N_THREADS; t++) {
        assert_true(jobs[t].ok);
        assert_memory_equal(jobs[t].out, expected[t], jobs[t].m * N_OUT * sizeof(float));
        assert_int_equal(jobs[t].saved_len, size);
        assert_memory_equal(jobs[t].saved, saved, size);
        free(jobs[t].saved);
    }
    expect_params_equal(net, params); /* readers changed nothing */
    free(saved);
    mlp_net_free(net);
}

static int setup(void **state)
{
    (void)state;
    make_data();
    return mlp_set_threads(1) == MLP_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_separate_networks_on_separate_threads),
        cmocka_unit_test(test_concurrent_inference_on_one_network),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
