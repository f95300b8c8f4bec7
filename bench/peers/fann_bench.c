/*
 * FANN 2.2 on mlp_bench's three workloads, for the comparison in
 * bench/peers/README.md. Built only with -DMLP_BENCH_PEERS=ON (needs
 * Debian's libfann-dev).
 *
 * FANN trains one sample at a time (fann_train: incremental training with
 * momentum); its batch mode is a whole epoch, not a mini-batch. So every
 * workload here is timed per sample-update, and the numbers compare with
 * libmlp's batch-1 xor directly and with its mini-batch workloads as "what
 * a FANN user gets on this network". FANN 2.2 has neither ReLU nor
 * softmax: the hidden layers use FANN_LINEAR_PIECE (ReLU clipped at 1,
 * the same cost) and the outputs FANN_SIGMOID with FANN's linear (squared)
 * error. Learning rate 0.01, momentum 0.9, as in mlp_bench.
 *
 * The data are mlp_bench's: the four XOR points in turn, or one batch of
 * inputs in [-1, 1) (the same xorshift) with one-hot targets, row i of
 * class (i * 7) % n_out. Timing is mlp_bench's: warm-up, then rounds, the
 * fastest counting; GFLOP/s counts 6 x weights x samples.
 *
 * --net 4-16-3 --loss ce|bce|mse --batch 64 trains the network that
 * mlp_bench --net builds, as far as FANN can: for ce and bce sigmoid
 * outputs with squared error on mlp_bench's targets (one-hot rows, or 1
 * where (7 i + j) % 3 == 0), for mse linear outputs on targets in [-1, 1)
 * (xorshift seed 54321). The batch sets only how many rows the data has.
 */
#define _POSIX_C_SOURCE 200809L

#include <floatfann.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { max_widths = 8 };

typedef struct workload {
    const char *name;
    unsigned n_widths;
    unsigned widths[max_widths];
    unsigned batch; /* rows per batch in mlp_bench: the data is 1 batch */
    size_t samples; /* sample-updates per timed round */
    size_t warmup;  /* untimed sample-updates first */
    char loss;      /* the targets: 'c' one-hot rows (cross-entropy), 'b' zeros
                       and ones (BCE, and xor's four points), 'm' values in
                       [-1, 1) (MSE, with linear outputs) */
} workload;

static const workload workloads[] = {
    {"xor", 3, {2, 4, 1}, 1, 400000, 20000, 'b'},
    {"digits-size", 4, {64, 128, 64, 10}, 32, 20000, 2000, 'c'},
    {"large", 4, {784, 1024, 1024, 10}, 256, 300, 20, 'c'},
};
enum { n_workloads = sizeof workloads / sizeof workloads[0] };

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "fann_bench: out of memory\n");
        exit(1);
    }
    return p;
}

/* mlp_bench's generator: a 32-bit xorshift mapped to [-1, 1). */
static float next_uniform(uint32_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return (float)(*state / 2147483648.0 - 1.0);
}

typedef struct dataset {
    size_t rows;
    fann_type *X, *Y;
} dataset;

static dataset make_data(const workload *w)
{
    unsigned n_in = w->widths[0], n_out = w->widths[w->n_widths - 1];
    dataset d;
    if (w->batch == 1) {
        static const fann_type xs[] = {0, 0, 0, 1, 1, 0, 1, 1}, ys[] = {0, 1, 1, 0};
        d.rows = 4;
        d.X = xmalloc(sizeof xs);
        d.Y = xmalloc(sizeof ys);
        memcpy(d.X, xs, sizeof xs);
        memcpy(d.Y, ys, sizeof ys);
        return d;
    }
    d.rows = (size_t)w->batch;
    d.X = xmalloc(d.rows * n_in * sizeof *d.X);
    d.Y = xmalloc(d.rows * n_out * sizeof *d.Y);
    uint32_t seed = 12345u;
    for (size_t k = 0; k < d.rows * n_in; k++)
        d.X[k] = next_uniform(&seed);
    if (w->loss == 'm') {
        seed = 54321u;
        for (size_t k = 0; k < d.rows * n_out; k++)
            d.Y[k] = next_uniform(&seed);
        return d;
    }
    for (size_t i = 0; i < d.rows; i++)
        for (size_t j = 0; j < n_out; j++)
            d.Y[i * n_out + j] =
                (w->loss == 'c' ? j == (i * 7) % n_out : (i * 7 + j) % 3 == 0) ? 1.0f
                                                                               : 0.0f;
    return d;
}

static struct fann *make_net(const workload *w)
{
    struct fann *ann = fann_create_standard_array(w->n_widths, w->widths);
    if (!ann) {
        fprintf(stderr, "fann_bench: fann_create_standard_array failed\n");
        exit(1);
    }
    fann_set_activation_function_hidden(ann, FANN_LINEAR_PIECE);
    fann_set_activation_function_output(ann, w->loss == 'm' ? FANN_LINEAR : FANN_SIGMOID);
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    fann_set_training_algorithm(ann, FANN_TRAIN_INCREMENTAL);
    fann_set_learning_rate(ann, 0.01f);
    fann_set_learning_momentum(ann, 0.9f);
    return ann;
}

static void train(struct fann *ann, const workload *w, const dataset *d, size_t first,
                  size_t count)
{
    unsigned n_in = w->widths[0], n_out = w->widths[w->n_widths - 1];
    for (size_t s = first; s < first + count; s++) {
        size_t i = s % d->rows;
        fann_train(ann, d->X + i * n_in, d->Y + i * n_out);
    }
}

static void run(const workload *w, size_t samples, int rounds, int csv)
{
    dataset d = make_data(w);
    struct fann *ann = make_net(w);
    train(ann, w, &d, 0, w->warmup);
    double best = INFINITY;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        train(ann, w, &d, w->warmup + (size_t)r * samples, samples);
        best = fmin(best, (now_s() - t0) / (double)samples);
    }
    double weights = 0.0;
    for (unsigned l = 1; l < w->n_widths; l++)
        weights += (double)w->widths[l - 1] * w->widths[l];
    double sps = 1.0 / best;
    if (csv)
        printf("%s,1,1,%.0f,%.4f,%.4f,%.1f\n", w->name, sps, 6.0 * weights * sps / 1e9,
               best * 1e6, best * 1e9);
    else
        printf("%-12s %3d %5d %12.0f %8.2f %10.3f %10.1f\n", w->name, 1, 1, sps,
               6.0 * weights * sps / 1e9, best * 1e6, best * 1e9);
    fann_destroy(ann);
    free(d.X);
    free(d.Y);
}

/* --net 4-16-3 with --loss and --batch: a workload of those widths, named
 * as mlp_bench names it (4-16-3, or 4-16-3/ce when --loss is given), with
 * about 2e9 FLOP per timed round. */
static int net_workload(workload *w, const char *spec, const char *named_loss,
                        unsigned batch)
{
    static char name[80];
    const char *loss = named_loss ? named_loss : "ce";
    if (strcmp(loss, "ce") != 0 && strcmp(loss, "bce") != 0 && strcmp(loss, "mse") != 0)
        return 0;
    *w = (workload){.name = name, .batch = batch ? batch : 32, .loss = loss[0]};
    for (const char *p = spec; *p;) {
        char *end;
        long width = strtol(p, &end, 10);
        if (end == p || width <= 0 || width > 1000000 || w->n_widths == max_widths ||
            (*end != '\0' && (*end != '-' || end[1] == '\0')))
            return 0;
        w->widths[w->n_widths++] = (unsigned)width;
        p = *end == '-' ? end + 1 : end;
    }
    if (w->n_widths < 2 || w->widths[w->n_widths - 1] < (w->loss == 'c' ? 2u : 1u))
        return 0;
    double weights = 0.0;
    for (unsigned l = 1; l < w->n_widths; l++)
        weights += (double)w->widths[l - 1] * w->widths[l];
    w->samples = (size_t)fmin(fmax(2e9 / (6.0 * weights), 100.0), 400000.0);
    w->warmup = w->samples / 20 + 1;
    snprintf(name, sizeof name, "%.60s%s%.4s", spec, named_loss ? "/" : "",
             named_loss ? named_loss : "");
    return 1;
}

static void usage(FILE *to)
{
    fprintf(to,
            "usage: fann_bench [--workload xor|digits-size|large] [--samples N] "
            "[--rounds N] [--csv]\n"
            "       fann_bench --net N0-N1-..-NL [--loss ce|bce|mse] [--batch N] ...\n"
            "  --samples N  sample-updates per timed round (default per workload:\n"
            "               xor 400000, digits-size 20000, large 300); --iters N\n"
            "               is the same, as in mlp_bench and torch_bench.py, since\n"
            "               a FANN step is one sample\n"
            "  --rounds N   timed rounds, the fastest counts (default 5)\n"
            "  --net W      the network mlp_bench --net W builds, as far as FANN\n"
            "               can (see the top of fann_bench.c), with --loss (default\n"
            "               ce) and --batch (rows of data, default 32)\n");
}

int main(int argc, char **argv)
{
    const char *only = NULL, *net = NULL, *loss = NULL;
    unsigned batch = 0;
    size_t samples = 0;
    int rounds = 5, csv = 0;
    for (int k = 1; k < argc; k++) {
        const char *next = k + 1 < argc ? argv[k + 1] : NULL;
        if (strcmp(argv[k], "--workload") == 0 && next)
            only = next, k++;
        else if ((strcmp(argv[k], "--samples") == 0 || strcmp(argv[k], "--iters") == 0) &&
                 next && atoll(next) > 0)
            samples = (size_t)atoll(next), k++;
        else if (strcmp(argv[k], "--rounds") == 0 && next && atoi(next) > 0)
            rounds = atoi(next), k++;
        else if (strcmp(argv[k], "--net") == 0 && next)
            net = next, k++;
        else if (strcmp(argv[k], "--loss") == 0 && next)
            loss = next, k++;
        else if (strcmp(argv[k], "--batch") == 0 && next && atoi(next) > 0)
            batch = (unsigned)atoi(next), k++;
        else if (strcmp(argv[k], "--csv") == 0)
            csv = 1;
        else {
            usage(strcmp(argv[k], "--help") == 0 ? stdout : stderr);
            return strcmp(argv[k], "--help") == 0 ? 0 : 2;
        }
    }
    workload custom;
    if (net && (only || !net_workload(&custom, net, loss, batch))) {
        fprintf(stderr,
                "fann_bench: --net wants 2 to %d widths such as 64-256-10 and "
                "--loss ce, bce or mse, and no --workload\n",
                max_widths);
        return 2;
    }
    if (!net && (loss || batch)) {
        fprintf(stderr, "fann_bench: --loss and --batch go with --net\n");
        return 2;
    }
    if (csv)
        printf("workload,threads,batch,samples_per_s,gflops,us_per_step,ns_per_sample\n");
    else
        printf("FANN 2.2 (float), per-sample updates, 1 thread\n"
               "%-12s %3s %5s %12s %8s %10s %10s\n",
               "workload", "thr", "batch", "samples/s", "GFLOP/s", "us/step",
               "ns/sample");
    if (net) {
        run(&custom, samples ? samples : custom.samples, rounds, csv);
        return 0;
    }
    int ran = 0;
    for (size_t k = 0; k < n_workloads; k++)
        if (!only || strcmp(only, workloads[k].name) == 0) {
            run(&workloads[k], samples ? samples : workloads[k].samples, rounds, csv);
            ran = 1;
        }
    if (!ran) {
        fprintf(stderr, "fann_bench: unknown workload '%s'\n", only);
        return 2;
    }
    return 0;
}
