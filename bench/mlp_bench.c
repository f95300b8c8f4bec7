/*
 * mlp_bench: training throughput of libmlp next to the limit it cannot beat,
 * measured in the same process (see bench/README.md).
 *
 * - xor (2-4-1, batch 1): the limit is the same training step written by
 *   hand as straight-line C (hand_xor_step below).
 * - digits-size and large: the limit is the GEMM-only step, the cblas_sgemm
 *   calls of one training step with exactly the library's shapes, on buffers
 *   of the same sizes, with the same thread count.
 *
 * Library and limit are timed in alternating rounds and the fastest round of
 * each is kept, so that drift on a noisy machine hits both alike. The heap
 * allocations the library makes per step are counted by wrapping mlp_alloc at
 * link time (-Wl,--wrap=mlp_alloc), and peak memory is read with getrusage.
 */
#define _POSIX_C_SOURCE 200809L

#include "mlp.h"
#include "internal.h" /* the matrix and layer paths, for --gemm-sweep and --layer-sweep */

#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- allocation counting: ld --wrap routes the library's calls here ---- */

static size_t alloc_calls;

void *__real_mlp_alloc(size_t n_bytes);
void *__wrap_mlp_alloc(size_t n_bytes);

/* Counts every allocation the library makes, then makes it. */
void *__wrap_mlp_alloc(size_t n_bytes)
{
    alloc_calls++;
    return __real_mlp_alloc(n_bytes);
}

/* ---- workloads ---- */

enum { max_widths = 8 };

typedef struct workload {
    const char *name;
    size_t n_widths;           /* input width included */
    size_t widths[max_widths]; /* n_0, n_1, ..., n_L */
    mlp_activation hidden, output;
    mlp_loss loss;
    bool hand_limit; /* xor: the limit is the hand-written step, not the GEMMs */
    bool adam;       /* --adam: Adam instead of momentum SGD */
    size_t batch;
    size_t iters, warmup; /* default steps per timed round, warm-up steps */
} workload;

/* Hidden layers are ReLU unless --hidden says otherwise. */
static const workload workloads[] = {
    {.name = "xor",
     .n_widths = 3,
     .widths = {2, 4, 1},
     .hidden = MLP_RELU,
     .output = MLP_SIGMOID,
     .loss = MLP_MSE,
     .hand_limit = true,
     .batch = 1,
     .iters = 400000,
     .warmup = 20000},
    {.name = "digits-size",
     .n_widths = 4,
     .widths = {64, 128, 64, 10},
     .hidden = MLP_RELU,
     .output = MLP_SOFTMAX,
     .loss = MLP_CROSS_ENTROPY,
     .batch = 32,
     .iters = 4000,
     .warmup = 200},
    {.name = "large",
     .n_widths = 4,
     .widths = {784, 1024, 1024, 10},
     .hidden = MLP_RELU,
     .output = MLP_SOFTMAX,
     .loss = MLP_CROSS_ENTROPY,
     .batch = 256,
     .iters = 20,
     .warmup = 3},
};
enum { n_workloads = sizeof workloads / sizeof workloads[0] };

static const float learning_rate = 0.01f, momentum = 0.9f;
static const float adam_learning_rate = 1e-3f; /* --adam, with PyTorch's betas */

typedef enum { OUT_TABLE, OUT_CSV, OUT_JSON } out_format;

typedef struct options {
    size_t threads;
    size_t iters, warmup, rounds; /* 0: the workload's default */
    size_t batch;                 /* 0: the workload's own */
    const char *only;             /* NULL: every workload */
    const char *net;              /* --net: a workload of these widths instead */
    const char *hidden;           /* --hidden: NULL keeps ReLU */
    const char *loss;             /* --loss for --net: NULL is cross-entropy */
    bool adam;                    /* --adam */
    out_format format;
    bool no_limit;
    bool gemm_sweep;
    bool layer_sweep;
    bool infer_sweep;
} options;

typedef struct result {
    const workload *w;
    size_t threads;
    double lib_s, limit_s; /* fastest round, seconds per step */
    double allocs_per_step;
    size_t setup_allocs;   /* network, optimizer and first step: proves the count works */
    double peak_mib;       /* ru_maxrss after the library's steps */
    double base_mib;       /* resident before the network was created */
    double analytic_mib;   /* weights, grads, velocity, Z, A, delta */
    double max_param_diff; /* xor: library vs hand-written, after all steps */
    double called_s;       /* xor: the hand-written step as a called function */
} result;

/* ---- small helpers ---- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Resident memory now, from /proc/self/statm (Linux). */
static double rss_now_mib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

/* Peak resident memory of the process so far. */
static double rss_peak_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* kilobytes on Linux */
}

static void die(const char *what, mlp_status status)
{
    fprintf(stderr, "mlp_bench: %s: %s\n", what, mlp_strerror(status));
    exit(1);
}

static void *xmalloc(size_t n_bytes)
{
    void *p = malloc(n_bytes ? n_bytes : 1);
    if (!p) {
        fprintf(stderr, "mlp_bench: out of memory\n");
        exit(1);
    }
    return p;
}

/* A fixed pseudo-random sequence (xorshift), so every run times the same data. */
static float next_uniform(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return (float)(x >> 8) / 16777216.0f * 2.0f - 1.0f;
}

static float *random_floats(size_t count, float scale, uint32_t seed)
{
    float *p = xmalloc(count * sizeof *p);
    for (size_t k = 0; k < count; k++)
        p[k] = scale * next_uniform(&seed);
    return p;
}

/* Weights W only (no biases): the FLOP count is 6 x weights x samples. */
static size_t weight_count(const workload *w)
{
    size_t count = 0;
    for (size_t l = 1; l < w->n_widths; l++)
        count += w->widths[l - 1] * w->widths[l];
    return count;
}

/* The least memory training can live in: parameters, gradients and the
 * momentum buffer (3 x params) plus Z, A and delta of every layer for the
 * batch. */
static double analytic_mib(const workload *w)
{
    size_t params = 0, cache = 0;
    for (size_t l = 1; l < w->n_widths; l++) {
        params += w->widths[l - 1] * w->widths[l] + w->widths[l];
        cache += 3 * w->batch * w->widths[l];
    }
    size_t state = w->adam ? 2 : 1; /* Adam's two moments, or the momentum */
    return (double)(((2 + state) * params + cache) * sizeof(float)) / (1024.0 * 1024.0);
}

static mlp_net *build_net(const workload *w)
{
    mlp_net *net;
    mlp_status status = mlp_net_create(&net, w->widths[0], w->loss, 42);
    for (size_t l = 1; status == MLP_OK && l < w->n_widths; l++) {
        mlp_activation act = l + 1 == w->n_widths ? w->output : w->hidden;
        status = mlp_net_add_dense(net, w->widths[l], act);
    }
    if (status != MLP_OK)
        die("building the network", status);
    return net;
}

/* ---- the training data: xor's four points in turn, else one batch ---- */

typedef struct dataset {
    size_t n_batches;
    float *X, *Y;
} dataset;

/* xor: the four points, one per batch. Others: one batch of random inputs
 * and targets the loss accepts (one-hot rows for cross-entropy, zeros and
 * ones for BCE, values in [-1, 1) for MSE), used by every step: the time of
 * a step does not depend on the values, and a second batch would only add
 * its size to the peak memory measured from outside. */
static dataset make_data(const workload *w)
{
    size_t n_in = w->widths[0], n_out = w->widths[w->n_widths - 1];
    dataset d = {.n_batches = w->batch == 1 ? 4 : 1};
    if (w->hand_limit) {
        static const float xs[] = {0, 0, 0, 1, 1, 0, 1, 1}, ys[] = {0, 1, 1, 0};
        d.X = xmalloc(sizeof xs);
        d.Y = xmalloc(sizeof ys);
        memcpy(d.X, xs, sizeof xs);
        memcpy(d.Y, ys, sizeof ys);
        return d;
    }
    size_t rows = d.n_batches * w->batch;
    d.X = random_floats(rows * n_in, 1.0f, 12345u);
    if (w->loss == MLP_MSE) {
        d.Y = random_floats(rows * n_out, 1.0f, 54321u);
        return d;
    }
    d.Y = xmalloc(rows * n_out * sizeof *d.Y);
    memset(d.Y, 0, rows * n_out * sizeof *d.Y);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < n_out; j++)
            if (w->loss == MLP_CROSS_ENTROPY ? j == (i * 7) % n_out
                                             : (i * 7 + j) % 3 == 0)
                d.Y[i * n_out + j] = 1.0f;
    return d;
}

static void train_steps(mlp_net *net, mlp_optimizer *opt, const workload *w,
                        const dataset *d, size_t first, size_t steps)
{
    size_t n_in = w->widths[0], n_out = w->widths[w->n_widths - 1];
    for (size_t s = first; s < first + steps; s++) {
        size_t b = s % d->n_batches;
        mlp_status status = mlp_train_batch(net, opt, d->X + b * w->batch * n_in,
                                            d->Y + b * w->batch * n_out, w->batch, NULL);
        if (status != MLP_OK)
            die("mlp_train_batch", status);
    }
}

/* ---- the xor limit: the same step written by hand ---- */

typedef struct hand_xor {
    float W1[4][2], b1[4], W2[4], b2;
    float vW1[4][2], vb1[4], vW2[4], vb2;
    bool first;
} hand_xor;

static float momentum_update(float *p, float *v, float g, bool first)
{
    *v = first ? g : momentum * *v + g;
    *p -= learning_rate * *v;
    return *p;
}

/* One 2-4-1 ReLU/sigmoid MSE step with momentum SGD on one sample: forward,
 * loss, backward and update, with every size a constant. Returns the loss.
 * Always inlined into the limit's timing loop, where GCC keeps the state
 * in registers from one step to the next: the strictest form of the step,
 * whichever callers the file has. */
static inline __attribute__((always_inline)) float hand_xor_step(hand_xor *h,
                                                                 const float *x, float y)
{
    float z1[4], a1[4], d1[4];
    float z2 = 0.0f;
    for (int j = 0; j < 4; j++) {
        z1[j] = h->W1[j][0] * x[0] + h->W1[j][1] * x[1] + h->b1[j];
        a1[j] = z1[j] > 0.0f ? z1[j] : 0.0f;
        z2 += h->W2[j] * a1[j];
    }
    float a2 = mlp_sigmoid(z2 + h->b2); /* the library's, so both sides round alike */
    double diff = (double)a2 - y;
    float d2 = (a2 - y) * (a2 * (1.0f - a2));
    for (int j = 0; j < 4; j++)
        d1[j] = z1[j] > 0.0f ? d2 * h->W2[j] : 0.0f;
    for (int j = 0; j < 4; j++) {
        momentum_update(&h->W1[j][0], &h->vW1[j][0], d1[j] * x[0], h->first);
        momentum_update(&h->W1[j][1], &h->vW1[j][1], d1[j] * x[1], h->first);
        momentum_update(&h->b1[j], &h->vb1[j], d1[j], h->first);
        momentum_update(&h->W2[j], &h->vW2[j], d2 * a1[j], h->first);
    }
    momentum_update(&h->b2, &h->vb2, d2, h->first);
    h->first = false;
    return (float)(0.5 * diff * diff);
}

static void hand_xor_init(hand_xor *h, const mlp_net *net)
{
    const float *W, *b;
    memset(h, 0, sizeof *h);
    h->first = true;
    mlp_layer_params_const(net, 0, &W, &b, NULL, NULL);
    memcpy(h->W1, W, sizeof h->W1);
    memcpy(h->b1, b, sizeof h->b1);
    mlp_layer_params_const(net, 1, &W, &b, NULL, NULL);
    memcpy(h->W2, W, sizeof h->W2);
    h->b2 = b[0];
}

/* volatile sink so the compiler keeps every hand-written step */
static volatile float loss_sink;

static void hand_xor_steps(hand_xor *h, const dataset *d, size_t first, size_t steps)
{
    float sum = 0.0f;
    for (size_t s = first; s < first + steps; s++) {
        size_t b = s % d->n_batches;
        sum += hand_xor_step(h, d->X + 2 * b, d->Y[b]);
    }
    loss_sink = sum;
}

/* The same step behind a call, its state in memory from one step to the
 * next, as a library's state must be. Inlined into its timing loop (the
 * limit above), GCC keeps the 34 weights and velocities in registers
 * across steps instead; this second figure is printed beside the ratio,
 * not used as the limit (bench/README.md, "xor"). */
static __attribute__((noinline)) float hand_xor_step_called(hand_xor *h, const float *x,
                                                            float y)
{
    return hand_xor_step(h, x, y);
}

static void hand_xor_called_steps(hand_xor *h, const dataset *d, size_t first,
                                  size_t steps)
{
    float sum = 0.0f;
    for (size_t s = first; s < first + steps; s++) {
        size_t b = s % d->n_batches;
        sum += hand_xor_step_called(h, d->X + 2 * b, d->Y[b]);
    }
    loss_sink = sum;
}

/* The largest |library - hand-written| parameter difference. */
static double hand_xor_diff(const hand_xor *h, const mlp_net *net)
{
    const float *W, *b;
    double diff = 0.0;
    mlp_layer_params_const(net, 0, &W, &b, NULL, NULL);
    for (int k = 0; k < 8; k++)
        diff = fmax(diff, fabs(W[k] - (&h->W1[0][0])[k]));
    for (int j = 0; j < 4; j++)
        diff = fmax(diff, fabs(b[j] - h->b1[j]));
    mlp_layer_params_const(net, 1, &W, &b, NULL, NULL);
    for (int j = 0; j < 4; j++)
        diff = fmax(diff, fabs(W[j] - h->W2[j]));
    return fmax(diff, fabs(b[0] - h->b2));
}

/* ---- the GEMM-only limit ---- */

typedef struct gemm_limit {
    const workload *w;
    float *A[max_widths];  /* A[l]: input of layer l, m x n_(l) */
    float *W[max_widths];  /* W[l]: n_(l+1) x n_(l) */
    float *Z[max_widths];  /* m x n_(l+1) */
    float *D[max_widths];  /* delta, m x n_(l+1) */
    float *dW[max_widths]; /* n_(l+1) x n_(l) */
} gemm_limit;

static gemm_limit gemm_limit_create(const workload *w)
{
    gemm_limit g = {.w = w};
    size_t m = w->batch;
    for (size_t l = 0; l + 1 < w->n_widths; l++) {
        size_t n_in = w->widths[l], n_out = w->widths[l + 1];
        float scale = 1.0f / sqrtf((float)n_in);
        g.A[l] = random_floats(m * n_in, 1.0f, 7u + (uint32_t)l);
        g.W[l] = random_floats(n_out * n_in, scale, 99u + (uint32_t)l);
        g.Z[l] = random_floats(m * n_out, 1.0f, 3u);
        g.D[l] = random_floats(m * n_out, 0.01f, 5u + (uint32_t)l);
        g.dW[l] = random_floats(n_out * n_in, 1.0f, 11u);
    }
    return g;
}

static void gemm_limit_free(gemm_limit *g)
{
    for (size_t l = 0; l + 1 < g->w->n_widths; l++) {
        free(g->A[l]);
        free(g->W[l]);
        free(g->Z[l]);
        free(g->D[l]);
        free(g->dW[l]);
    }
}

/* Exactly the products of one training step, with the library's shapes and
 * transposes: Z = A W^T per layer, then from the top dW = D^T A and, for
 * every layer but the first, D_prev = D W. */
static void gemm_limit_step(const gemm_limit *g)
{
    const workload *w = g->w;
    int m = (int)w->batch;
    size_t L = w->n_widths - 1;
    for (size_t l = 0; l < L; l++) {
        int n_in = (int)w->widths[l], n_out = (int)w->widths[l + 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n_out, n_in, 1.0f,
                    g->A[l], n_in, g->W[l], n_in, 0.0f, g->Z[l], n_out);
    }
    for (size_t l = L; l-- > 0;) {
        int n_in = (int)w->widths[l], n_out = (int)w->widths[l + 1];
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, m, 1.0f,
                    g->D[l], n_out, g->A[l], n_in, 0.0f, g->dW[l], n_in);
        if (l > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n_in, n_out, 1.0f,
                        g->D[l], n_out, g->W[l], n_in, 0.0f, g->D[l - 1], n_in);
    }
}

/* ---- one workload ---- */

static size_t pick(size_t option, size_t fallback)
{
    return option ? option : fallback;
}

static result run_workload(const workload *w, const options *o)
{
    result r = {.w = w, .threads = o->threads, .analytic_mib = analytic_mib(w)};
    size_t iters = pick(o->iters, w->iters), warmup = pick(o->warmup, w->warmup);
    size_t rounds = pick(o->rounds, 5);
    bool is_xor = w->hand_limit;
    dataset d = make_data(w);
    /* The limit's buffers exist, and one limit step has made OpenBLAS touch
     * its own buffers, before the baseline is read: the memory that appears
     * after it is the library's. Nothing is freed before the network is
     * built either, so glibc's mmap threshold stays where it was. */
    gemm_limit g = {0};
    if (!is_xor && !o->no_limit) {
        g = gemm_limit_create(w);
        gemm_limit_step(&g);
    }
    r.base_mib = rss_now_mib();

    size_t allocs_at_start = alloc_calls;
    mlp_net *net = build_net(w);
    mlp_optimizer *opt;
    mlp_status status =
        w->adam
            ? mlp_adam_create(&opt, net, adam_learning_rate, 0.9f, 0.999f, 1e-8f, 0.0f)
            : mlp_sgd_create(&opt, net, learning_rate, momentum, 0.0f);
    if (status != MLP_OK)
        die("creating the optimizer", status);
    hand_xor h, h_called;
    if (is_xor) {
        hand_xor_init(&h, net);
        hand_xor_init(&h_called, net);
    }

    train_steps(net, opt, w, &d, 0, warmup);
    if (is_xor) {
        hand_xor_steps(&h, &d, 0, warmup);
        hand_xor_called_steps(&h_called, &d, 0, warmup);
    }
    size_t step = warmup, allocs_before = alloc_calls;
    r.setup_allocs = allocs_before - allocs_at_start;

    r.lib_s = r.limit_s = r.called_s = INFINITY;
    for (size_t round = 0; round < rounds; round++) {
        double t0 = now_s();
        train_steps(net, opt, w, &d, step, iters);
        double t1 = now_s();
        r.lib_s = fmin(r.lib_s, (t1 - t0) / (double)iters);
        if (round == 0)
            r.peak_mib = rss_peak_mib(); /* the library has all its memory by now */
        if (o->no_limit) {
            step += iters;
            continue;
        }
        t0 = now_s();
        if (is_xor)
            hand_xor_steps(&h, &d, step, iters);
        else
            for (size_t s = 0; s < iters; s++)
                gemm_limit_step(&g);
        t1 = now_s();
        r.limit_s = fmin(r.limit_s, (t1 - t0) / (double)iters);
        if (is_xor) {
            t0 = now_s();
            hand_xor_called_steps(&h_called, &d, step, iters);
            r.called_s = fmin(r.called_s, (now_s() - t0) / (double)iters);
        }
        step += iters;
    }
    if (o->no_limit)
        r.limit_s = NAN; /* printed as nan, or null in JSON */
    if (!is_xor || o->no_limit)
        r.called_s = NAN;
    r.allocs_per_step = (double)(alloc_calls - allocs_before) / (double)(step - warmup);
    r.max_param_diff = is_xor && !o->no_limit ? hand_xor_diff(&h, net) : NAN;

    if (g.w)
        gemm_limit_free(&g);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
    free(d.X);
    free(d.Y);
    return r;
}

/* ---- output ---- */

typedef struct figures {
    double lib_sps, limit_sps, lib_gflops, limit_gflops, ratio, us_per_step;
} figures;

static figures figures_of(const result *r)
{
    double flop_per_sample = 6.0 * (double)weight_count(r->w);
    double m = (double)r->w->batch;
    figures f = {.lib_sps = m / r->lib_s, .limit_sps = m / r->limit_s};
    f.lib_gflops = f.lib_sps * flop_per_sample * 1e-9;
    f.limit_gflops = f.limit_sps * flop_per_sample * 1e-9;
    f.ratio = r->limit_s / r->lib_s;
    f.us_per_step = r->lib_s * 1e6;
    return f;
}

/* The memory the network added. statm and ru_maxrss count a few pages
 * differently, so a network smaller than that difference reads as 0, not
 * as a small negative figure. */
static double net_mib(const result *r)
{
    double net = r->peak_mib - r->base_mib;
    return net > 0.0 ? net : 0.0;
}

static const char *limit_name(const result *r)
{
    return r->w->hand_limit ? "hand-written C" : "GEMM only";
}

static void print_table_header(void)
{
    printf("%-12s %3s %5s %12s %8s %12s %8s %6s %10s %12s %9s %9s %9s %9s\n", "workload",
           "thr", "batch", "samples/s", "GFLOP/s", "limit/s", "GFLOP/s", "ratio",
           "us/step", "allocs/step", "peak MiB", "base MiB", "net MiB", "min MiB");
}

static void print_table_row(const result *r)
{
    figures f = figures_of(r);
    printf(
        "%-12s %3zu %5zu %12.0f %8.2f %12.0f %8.2f %6.3f %10.3f %12.3f %9.1f %9.1f %9.1f "
        "%9.1f\n",
        r->w->name, r->threads, r->w->batch, f.lib_sps, f.lib_gflops, f.limit_sps,
        f.limit_gflops, f.ratio, f.us_per_step, r->allocs_per_step, r->peak_mib,
        r->base_mib, net_mib(r), r->analytic_mib);
}

static void print_table_notes(const result *results, size_t n)
{
    printf("\nlimits: xor = the same step as hand-written straight-line C; others = "
           "the step's cblas_sgemm calls alone.\n");
    printf("ratio = limit time / library time (1.0 = as fast as the limit). "
           "GFLOP/s counts 6 x weights x samples.\n");
    printf("net MiB = peak RSS after the library's steps minus RSS before the network; "
           "min MiB = params + grads + velocity + Z, A, delta.\n");
    printf("peak MiB includes the limit's own buffers unless --no-limit: use that to "
           "measure the library's memory from outside the process.\n");
    for (size_t k = 0; k < n; k++)
        printf("%s: %zu allocations while creating the network and optimizer and warming "
               "up (counted by --wrap=mlp_alloc)\n",
               results[k].w->name, results[k].setup_allocs);
    for (size_t k = 0; k < n; k++)
        if (!isnan(results[k].max_param_diff))
            printf("xor: largest |library - hand-written| parameter difference after all "
                   "steps: %.3g\n",
                   results[k].max_param_diff);
    for (size_t k = 0; k < n; k++)
        if (!isnan(results[k].called_s))
            printf("xor: the hand-written step as a called function, its state in memory "
                   "between steps: %.1f ns (the limit: %.1f ns, inlined into its loop); "
                   "library / called step: ratio %.3f\n",
                   results[k].called_s * 1e9, results[k].limit_s * 1e9,
                   results[k].called_s / results[k].lib_s);
}

static void print_csv(const result *results, size_t n)
{
    printf("workload,threads,batch,limit,samples_per_s,gflops,limit_samples_per_s,"
           "limit_gflops,ratio,us_per_step,allocs_per_step,setup_allocs,peak_rss_mib,"
           "base_rss_mib,"
           "net_rss_mib,analytic_min_mib,xor_called_ratio\n");
    for (size_t k = 0; k < n; k++) {
        const result *r = &results[k];
        figures f = figures_of(r);
        printf("%s,%zu,%zu,%s,%.1f,%.3f,%.1f,%.3f,%.4f,%.3f,%.3f,%zu,%.2f,%.2f,%.2f,%.2f,"
               "%.4f\n",
               r->w->name, r->threads, r->w->batch, limit_name(r), f.lib_sps,
               f.lib_gflops, f.limit_sps, f.limit_gflops, f.ratio, f.us_per_step,
               r->allocs_per_step, r->setup_allocs, r->peak_mib, r->base_mib, net_mib(r),
               r->analytic_mib, r->called_s / r->lib_s);
    }
}

/* JSON has no NaN or infinity: those print as null. */
static void print_json_number(const char *key, double value, const char *after)
{
    if (isfinite(value))
        printf("\"%s\": %.6g%s", key, value, after);
    else
        printf("\"%s\": null%s", key, after);
}

static void print_json(const result *results, size_t n)
{
    printf("[\n");
    for (size_t k = 0; k < n; k++) {
        const result *r = &results[k];
        figures f = figures_of(r);
        printf("  {\"workload\": \"%s\", \"threads\": %zu, \"batch\": %zu, \"limit\": "
               "\"%s\", ",
               r->w->name, r->threads, r->w->batch, limit_name(r));
        print_json_number("samples_per_s", f.lib_sps, ", ");
        print_json_number("gflops", f.lib_gflops, ", ");
        print_json_number("limit_samples_per_s", f.limit_sps, ", ");
        print_json_number("limit_gflops", f.limit_gflops, ", ");
        print_json_number("ratio", f.ratio, ", ");
        print_json_number("us_per_step", f.us_per_step, ", ");
        print_json_number("setup_allocs", (double)r->setup_allocs, ", ");
        print_json_number("allocs_per_step", r->allocs_per_step, ", ");
        print_json_number("peak_rss_mib", r->peak_mib, ", ");
        print_json_number("base_rss_mib", r->base_mib, ", ");
        print_json_number("net_rss_mib", net_mib(r), ", ");
        print_json_number("analytic_min_mib", r->analytic_mib, ", ");
        print_json_number("xor_max_param_diff", r->max_param_diff, ", ");
        print_json_number("xor_called_ratio", r->called_s / r->lib_s, "");
        printf("}%s\n", k + 1 < n ? "," : "");
    }
    printf("]\n");
}

/* ---- --gemm-sweep: mlp_matmul's three paths side by side, to place its limits ---- */

typedef void matmul_fn(mlp_product, size_t, size_t, size_t, const float *, const float *,
                       float *);

/* Nanoseconds per call, the fastest of 5 runs of enough calls for ~5 ms. */
static double time_matmul(matmul_fn *f, mlp_product op, size_t M, size_t N, size_t K,
                          const float *A, const float *B, float *C)
{
    size_t reps = 20000000 / (M * N * K + 200) + 1;
    double best = INFINITY;
    for (int run = 0; run < 5; run++) {
        double t0 = now_s();
        for (size_t r = 0; r < reps; r++)
            f(op, M, N, K, A, B, C);
        best = fmin(best, (now_s() - t0) / (double)reps);
    }
    return best * 1e9;
}

static const char *product_name(mlp_product op)
{
    return op == MLP_AB_T ? "AB^T" : op == MLP_A_TB ? "A^TB" : "AB";
}

static const char *path_name(mlp_matmul_path path)
{
    return path == MLP_PATH_LOOPS ? "loops" : path == MLP_PATH_VECTOR ? "vector" : "gemm";
}

static void sweep_one(const char *what, mlp_product op, size_t M, size_t N, size_t K)
{
    float *A = random_floats(M * K, 1.0f, 1u), *B = random_floats(K * N, 1.0f, 2u);
    float *C = random_floats(M * N, 1.0f, 3u);
    double loops = time_matmul(mlp_matmul_loops, op, M, N, K, A, B, C);
    double vector = mlp_matmul_vector_fits(op, M, N, K)
                        ? time_matmul(mlp_matmul_vector, op, M, N, K, A, B, C)
                        : NAN; /* A^T B's rows are not contiguous */
    double blas = time_matmul(mlp_matmul_blas, op, M, N, K, A, B, C);
    printf("%-16s %-4s %5zu %5zu %5zu %9zu %10.1f %10.1f %10.1f %s\n", what,
           product_name(op), M, N, K, M * N * K, loops, vector, blas,
           path_name(mlp_matmul_choose(op, M, N, K)));
    free(A);
    free(B);
    free(C);
}

/* The three products of one layer at batch m. */
static void sweep_layer(const char *what, size_t m, size_t n_in, size_t n_out, bool first)
{
    sweep_one(what, MLP_AB_T, m, n_out, n_in);
    sweep_one(what, MLP_A_TB, n_out, n_in, m);
    if (!first)
        sweep_one(what, MLP_AB, m, n_in, n_out);
}

/* The three products of every layer of every workload, then cubes. */
static void gemm_sweep(void)
{
    printf("%-16s %-4s %5s %5s %5s %9s %10s %10s %10s %s\n", "shape", "op", "M", "N", "K",
           "M*N*K", "loops ns", "vector ns", "gemm ns", "mlp_matmul uses");
    for (size_t k = 0; k < n_workloads; k++) {
        const workload *w = &workloads[k];
        for (size_t l = 0; l + 1 < w->n_widths; l++) {
            size_t n_in = w->widths[l], n_out = w->widths[l + 1];
            if (w->batch * n_in * n_out <= 4000000) /* else far above any threshold */
                sweep_layer(w->name, w->batch, n_in, n_out, l == 0);
        }
        /* batches of a few samples, where the matrix-vector path competes */
        for (size_t m = 1; m <= 8 && w->batch > 1; m++) {
            char name[32];
            snprintf(name, sizeof name, "%s/%zu", w->name, m);
            for (size_t l = 0; l + 1 < w->n_widths; l++)
                sweep_layer(name, m, w->widths[l], w->widths[l + 1], l == 0);
        }
    }
    static const size_t sides[] = {2, 4, 5, 6, 7, 8, 10, 12, 16};
    for (size_t k = 0; k < sizeof sides / sizeof sides[0]; k++) {
        size_t n = sides[k];
        sweep_one("cube", MLP_AB_T, n, n, n);
        sweep_one("cube", MLP_A_TB, n, n, n);
        sweep_one("cube", MLP_AB, n, n, n);
    }
    static const size_t widths[] = {8, 16, 24, 32, 64};
    for (size_t k = 0; k < sizeof widths / sizeof widths[0]; k++) {
        size_t n = widths[k];
        sweep_one("batch 1", MLP_AB_T, 1, n, n);
        sweep_one("batch 1", MLP_A_TB, n, n, 1);
        sweep_one("batch 1", MLP_AB, 1, n, n);
    }
    /* the three products of layers with 1-4 inputs (m, n_in, n_out) */
    static const size_t narrow[][3] = {{32, 1, 16}, {32, 1, 64}, {256, 1, 64},
                                       {32, 2, 16}, {32, 2, 64}, {128, 2, 64},
                                       {32, 3, 16}, {32, 4, 16}, {32, 4, 64}};
    for (size_t k = 0; k < sizeof narrow / sizeof narrow[0]; k++) {
        size_t m = narrow[k][0], n_in = narrow[k][1], n_out = narrow[k][2];
        sweep_layer("narrow layer", m, n_in, n_out, false);
    }
}

/* ---- --layer-sweep: where the tiny-layer path stops beating the other ---- */

typedef struct layer_buffers {
    size_t m, n_in, n_out;
    float *A_prev, *W, *b, *Z, *A, *dW, *delta, *delta_prev, *db_prev;
} layer_buffers;

/* One layer's three passes (ReLU), by the tiny path or the general one. */
static void layer_passes(const layer_buffers *L, bool tiny)
{
    size_t m = L->m, n_in = L->n_in, n_out = L->n_out;
    if (tiny) {
        mlp_dense_forward_tiny(L->Z, L->A, L->A_prev, L->W, L->b, m, n_in, n_out,
                               MLP_RELU);
        mlp_dense_backward_params_tiny(L->dW, L->delta, L->A_prev, m, n_in, n_out);
        mlp_dense_backward_input_tiny(L->delta_prev, L->db_prev, L->delta, L->W,
                                      L->A_prev, L->A_prev, MLP_RELU, m, n_in, n_out);
    } else {
        mlp_dense_forward_general(L->Z, L->A, L->A_prev, L->W, L->b, m, n_in, n_out,
                                  MLP_RELU);
        mlp_dense_backward_params_general(L->dW, L->delta, L->A_prev, m, n_in, n_out);
        mlp_dense_backward_input_general(L->delta_prev, L->db_prev, L->delta, L->W,
                                         L->A_prev, L->A_prev, MLP_RELU, m, n_in, n_out);
    }
}

/* Nanoseconds per layer_passes call, the fastest of 5 runs of ~5 ms. */
static double time_layer(const layer_buffers *L, bool tiny)
{
    size_t reps = 10000000 / (L->m * L->n_in * L->n_out + 100) + 1;
    double best = INFINITY;
    for (int run = 0; run < 5; run++) {
        double t0 = now_s();
        for (size_t r = 0; r < reps; r++)
            layer_passes(L, tiny);
        best = fmin(best, (now_s() - t0) / (double)reps);
    }
    return best * 1e9;
}

static void layer_sweep_one(size_t m, size_t n_in, size_t n_out)
{
    layer_buffers L = {
        .m = m,
        .n_in = n_in,
        .n_out = n_out,
        .A_prev = random_floats(m * n_in, 1.0f, 1u),
        .W = random_floats(n_out * n_in, 1.0f, 2u),
        .b = random_floats(n_out, 1.0f, 3u),
        .Z = random_floats(m * n_out, 1.0f, 4u),
        .A = random_floats(m * n_out, 1.0f, 5u),
        .dW = random_floats(n_out * n_in, 1.0f, 6u),
        .db_prev = random_floats(n_in, 1.0f, 7u),
        .delta = random_floats(m * n_out, 1.0f, 8u),
        .delta_prev = random_floats(m * n_in, 1.0f, 9u),
    };
    double tiny = time_layer(&L, true), general = time_layer(&L, false);
    printf("%5zu %5zu %5zu %9zu %10.1f %10.1f %7.2f %s\n", m, n_in, n_out,
           m * n_in * n_out, tiny, general, general / tiny,
           mlp_dense_is_tiny(m, n_in, n_out) ? "tiny" : "general");
    float *buffers[] = {L.A_prev, L.W,     L.b,          L.Z,      L.A,
                        L.dW,     L.delta, L.delta_prev, L.db_prev};
    for (size_t k = 0; k < sizeof buffers / sizeof buffers[0]; k++)
        free(buffers[k]);
}

/* A layer's forward and both backward passes by each path, on shapes
 * around the limit. */
static void layer_sweep(void)
{
    printf("%5s %5s %5s %9s %10s %10s %7s %s\n", "m", "n_in", "n_out", "m*in*out",
           "tiny ns", "general ns", "speedup", "libmlp uses");
    static const size_t shapes[][3] = {
        {1, 2, 4},   {1, 4, 1},   {1, 4, 4},  {1, 8, 8},   {1, 8, 16},  {1, 16, 16},
        {1, 32, 32}, {2, 4, 4},   {4, 4, 4},  {2, 8, 8},   {4, 8, 8},   {8, 8, 8},
        {16, 2, 4},  {32, 2, 4},  {8, 4, 4},  {16, 4, 4},  {4, 16, 16}, {1, 2, 64},
        {8, 2, 16},  {16, 2, 16}, {64, 1, 8}, {32, 2, 32},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        layer_sweep_one(shapes[k][0], shapes[k][1], shapes[k][2]);
}

/* ---- --infer-sweep: inference, mlp_infer beside mlp_predict ---- */

/* Nanoseconds per call of mlp_infer (with its caller's workspace) or of
 * mlp_predict (the network's own cache), the fastest of 5 runs. */
static double time_inference(mlp_net *net, bool infer, const float *X, size_t m,
                             float *out, float *work, size_t work_len, size_t reps)
{
    double best = INFINITY;
    for (int run = 0; run < 5; run++) {
        double t0 = now_s();
        for (size_t r = 0; r < reps; r++) {
            mlp_status status = infer ? mlp_infer(net, X, m, out, work, work_len)
                                      : mlp_predict(net, X, m, out);
            if (status != MLP_OK)
                die(infer ? "mlp_infer" : "mlp_predict", status);
        }
        best = fmin(best, (now_s() - t0) / (double)reps);
    }
    return best * 1e9;
}

/* One workload's network at batch m, iters calls per run (0: about 2e8
 * FLOP per run). */
static void infer_sweep_one(const workload *w, size_t m, size_t iters)
{
    mlp_net *net = build_net(w);
    size_t n_in = w->widths[0], n_out = w->widths[w->n_widths - 1];
    float *X = random_floats(m * n_in, 1.0f, 12345u);
    float *out = xmalloc(m * n_out * sizeof *out);
    size_t work_len = mlp_infer_workspace_size(net, m);
    float *work = xmalloc(work_len * sizeof *work);
    double flop = 2.0 * (double)weight_count(w) * (double)m;
    size_t reps = iters ? iters : (size_t)fmin(fmax(2e8 / flop, 10.0), 2000000.0);
    double infer = time_inference(net, true, X, m, out, work, work_len, reps);
    double predict = time_inference(net, false, X, m, out, work, work_len, reps);
    printf("%-16s %5zu %12.1f %12.1f %12.1f %12.1f\n", w->name, m, infer, predict,
           infer / (double)m, predict / (double)m);
    free(work);
    free(out);
    free(X);
    mlp_net_free(net);
}

/* Each chosen workload's network at one row and at its batch. */
static void infer_sweep(const workload *chosen, size_t n, size_t iters)
{
    printf("%-16s %5s %12s %12s %12s %12s\n", "network", "m", "infer ns", "predict ns",
           "infer ns/row", "predict/row");
    for (size_t k = 0; k < n; k++) {
        infer_sweep_one(&chosen[k], 1, iters);
        if (chosen[k].batch > 1)
            infer_sweep_one(&chosen[k], chosen[k].batch, iters);
    }
}

/* ---- command line ---- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: mlp_bench [--threads N] [--iters N] [--warmup N] [--rounds N]\n"
            "                 [--workload xor|digits-size|large] [--csv | --json] "
            "[--no-limit]\n"
            "  --threads N   OpenBLAS threads for the library and the limit (default 1)\n"
            "  --iters N     training steps per timed round (default per workload:\n"
            "                xor 400000, digits-size 4000, large 20)\n"
            "  --warmup N    untimed steps first (default: xor 20000, digits-size 200, "
            "large 3)\n"
            "  --rounds N    timed rounds, library and limit alternating; the fastest\n"
            "                round of each counts (default 5)\n"
            "  --workload W  run only W (default: all, smallest first)\n"
            "  --batch N     rows per step for digits-size and large (xor stays at 1)\n"
            "  --net N0-N1-..-NL  instead of the workloads, a network of these widths\n"
            "                (2 to 8 of them; batch 32 unless --batch) against its\n"
            "                GEMM-only limit\n"
            "  --loss L      output of --net: ce (softmax + cross-entropy, the\n"
            "                default; 2 outputs at least), bce (sigmoid + binary\n"
            "                cross-entropy) or mse (identity + mean squared error)\n"
            "  --hidden A    hidden activation of digits-size, large and --net:\n"
            "                relu (default), leaky-relu, tanh, sigmoid or identity\n"
            "  --adam        train digits-size, large and --net with Adam (lr 1e-3,\n"
            "                betas 0.9 and 0.999) instead of momentum SGD\n"
            "  --no-limit    time the library only and allocate no limit buffers, so "
            "that\n"
            "                memory measured from outside is the library's plus the\n"
            "                process baseline (OpenBLAS is then not warmed first)\n"
            "  --gemm-sweep  time mlp_matmul's paths (plain loops, matrix-vector,\n"
            "                cblas_sgemm) on the workloads' shapes, also at batch 1,\n"
            "                and small cubes, to place its limits\n"
            "  --layer-sweep time a layer's three passes by the tiny path and by the\n"
            "                matrix core, to place the tiny-layer limit\n"
            "  --infer-sweep time inference instead of training: mlp_infer and\n"
            "                mlp_predict on each workload's network (or --net's), at\n"
            "                one row and at its batch (--iters: calls per run)\n");
}

static size_t parse_count(const char *flag, const char *text)
{
    char *end;
    long long value = text ? strtoll(text, &end, 10) : 0;
    if (!text || *end != '\0' || value <= 0) {
        fprintf(stderr, "mlp_bench: %s needs a positive integer\n", flag);
        exit(2);
    }
    return (size_t)value;
}

static options parse_options(int argc, char **argv)
{
    options o = {.threads = 1, .format = OUT_TABLE};
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k], *next = k + 1 < argc ? argv[k + 1] : NULL;
        if (strcmp(arg, "--threads") == 0)
            o.threads = parse_count(arg, next), k++;
        else if (strcmp(arg, "--iters") == 0)
            o.iters = parse_count(arg, next), k++;
        else if (strcmp(arg, "--warmup") == 0)
            o.warmup = parse_count(arg, next), k++;
        else if (strcmp(arg, "--rounds") == 0)
            o.rounds = parse_count(arg, next), k++;
        else if (strcmp(arg, "--batch") == 0)
            o.batch = parse_count(arg, next), k++;
        else if (strcmp(arg, "--workload") == 0 && next)
            o.only = next, k++;
        else if (strcmp(arg, "--net") == 0 && next)
            o.net = next, k++;
        else if (strcmp(arg, "--hidden") == 0 && next)
            o.hidden = next, k++;
        else if (strcmp(arg, "--loss") == 0 && next)
            o.loss = next, k++;
        else if (strcmp(arg, "--adam") == 0)
            o.adam = true;
        else if (strcmp(arg, "--csv") == 0)
            o.format = OUT_CSV;
        else if (strcmp(arg, "--json") == 0)
            o.format = OUT_JSON;
        else if (strcmp(arg, "--no-limit") == 0)
            o.no_limit = true;
        else if (strcmp(arg, "--gemm-sweep") == 0)
            o.gemm_sweep = true;
        else if (strcmp(arg, "--layer-sweep") == 0)
            o.layer_sweep = true;
        else if (strcmp(arg, "--infer-sweep") == 0)
            o.infer_sweep = true;
        else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            exit(2);
        }
    }
    return o;
}

/* --loss: the output layer and loss of a --net network. */
static void parse_loss(const char *name, workload *w)
{
    if (!name || strcmp(name, "ce") == 0)
        w->output = MLP_SOFTMAX, w->loss = MLP_CROSS_ENTROPY;
    else if (strcmp(name, "bce") == 0)
        w->output = MLP_SIGMOID, w->loss = MLP_BCE;
    else if (strcmp(name, "mse") == 0)
        w->output = MLP_IDENTITY, w->loss = MLP_MSE;
    else {
        fprintf(stderr, "mlp_bench: unknown loss '%s' (ce, bce or mse)\n", name);
        exit(2);
    }
}

/* --net 64-256-10: a network of those widths, with the output and loss that
 * --loss names, timed against its GEMM-only limit, with about 1e10 FLOP per
 * timed round. */
static workload custom_workload(const char *spec, size_t batch, const char *loss)
{
    workload w = {.name = spec, .hidden = MLP_RELU, .batch = batch ? batch : 32};
    parse_loss(loss, &w);
    const char *p = spec;
    bool ok = true;
    while (ok && *p) {
        char *end;
        long long width = strtoll(p, &end, 10);
        ok = end != p && width > 0 && width <= 1000000 && w.n_widths < max_widths &&
             (*end == '\0' || (*end == '-' && end[1] != '\0'));
        if (ok)
            w.widths[w.n_widths++] = (size_t)width;
        p = *end == '-' ? end + 1 : end;
    }
    size_t min_outputs = w.loss == MLP_CROSS_ENTROPY ? 2 : 1;
    if (!ok || w.n_widths < 2 || w.widths[w.n_widths - 1] < min_outputs) {
        fprintf(stderr,
                "mlp_bench: --net wants 2 to %d widths such as 64-256-10, "
                "with at least %zu output%s\n",
                max_widths, min_outputs, min_outputs > 1 ? "s" : "");
        exit(2);
    }
    double flop = 6.0 * (double)weight_count(&w) * (double)w.batch;
    w.iters = (size_t)fmin(fmax(1e10 / flop, 10.0), 400000.0);
    w.warmup = w.iters / 20 + 1;
    return w;
}

static mlp_activation parse_hidden(const char *name)
{
    static const struct {
        const char *name;
        mlp_activation act;
    } known[] = {{"relu", MLP_RELU},
                 {"leaky-relu", MLP_LEAKY_RELU},
                 {"tanh", MLP_TANH},
                 {"sigmoid", MLP_SIGMOID},
                 {"identity", MLP_IDENTITY}};
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (strcmp(name, known[k].name) == 0)
            return known[k].act;
    fprintf(stderr, "mlp_bench: unknown hidden activation '%s'\n", name);
    exit(2);
}

/* The workloads to run, as copies that --batch, --hidden, --adam, --net and
 * --loss shape. xor keeps batch 1, ReLU and SGD: its limit is written for
 * exactly that step. A changed workload is named after what changed, as in
 * large/tanh, large/tanh/adam or 30-16-1/bce. */
static size_t choose_workloads(const options *o, workload *chosen, char names[][80])
{
    size_t n = 0;
    if (o->loss && !o->net) {
        fprintf(stderr, "mlp_bench: --loss goes with --net\n");
        exit(2);
    }
    if (o->net)
        chosen[n++] = custom_workload(o->net, o->batch, o->loss);
    for (size_t k = 0; !o->net && k < n_workloads; k++)
        if (!o->only || strcmp(o->only, workloads[k].name) == 0) {
            chosen[n] = workloads[k];
            if (o->batch && !chosen[n].hand_limit)
                chosen[n].batch = o->batch;
            n++;
        }
    if (n == 0) {
        fprintf(stderr, "mlp_bench: unknown workload '%s'\n", o->only);
        exit(2);
    }
    mlp_activation hidden = o->hidden ? parse_hidden(o->hidden) : MLP_RELU;
    for (size_t k = 0; (o->hidden || o->adam || o->loss) && k < n; k++)
        if (!chosen[k].hand_limit) {
            chosen[k].hidden = hidden;
            chosen[k].adam = o->adam;
            snprintf(names[k], sizeof names[k], "%.50s%s%.12s%s%.4s%s", chosen[k].name,
                     o->hidden ? "/" : "", o->hidden ? o->hidden : "", o->loss ? "/" : "",
                     o->loss ? o->loss : "", o->adam ? "/adam" : "");
            chosen[k].name = names[k];
        }
    return n;
}

int main(int argc, char **argv)
{
    options o = parse_options(argc, argv);
    mlp_status status = mlp_set_threads(o.threads);
    if (status != MLP_OK)
        die("mlp_set_threads", status);

    if (o.gemm_sweep) {
        gemm_sweep();
        return 0;
    }
    if (o.layer_sweep) {
        layer_sweep();
        return 0;
    }
    workload chosen[n_workloads];
    char names[n_workloads][80];
    size_t n = choose_workloads(&o, chosen, names);
    if (o.infer_sweep) {
        infer_sweep(chosen, n, o.iters);
        return 0;
    }
    result results[n_workloads];
    for (size_t k = 0; k < n; k++)
        results[k] = run_workload(&chosen[k], &o);
    if (o.format == OUT_CSV)
        print_csv(results, n);
    else if (o.format == OUT_JSON)
        print_json(results, n);
    else {
        print_table_header();
        for (size_t k = 0; k < n; k++)
            print_table_row(&results[k]);
        print_table_notes(results, n);
    }
    return 0;
}
