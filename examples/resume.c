/*
 * Stopping and resuming training: the 1-16-16-1 tanh network of
 * examples/regression.c fits y = sin(x) for 200 epochs (Adam, cosine
 * schedule, shuffled mini-batches), once without stopping, and once as two
 * runs: the first saves a checkpoint (model and optimizer files) from the
 * mlp_fit callback after epoch 100 and stops, the second loads both files
 * and goes on from first_epoch 100. Prints the test MSE of both and exits
 * non-zero unless their parameters are identical, bit for bit.
 *
 * Usage: resume [CHECKPOINT_PREFIX]   (default "resume-checkpoint"; writes
 * PREFIX.mlp and PREFIX.mlpopt)
 */
#include <mlp.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_TRAIN    256
#define N_TEST     100
#define EPOCHS     200
#define STOP_AFTER 100

static const double PI = 3.14159265358979323846;

static float x[N_TRAIN], y[N_TRAIN], x_test[N_TEST], y_test[N_TEST];

/* Reports a failed call; returns 1 so that callers can `return fail(...)`. */
static int fail(const char *what, mlp_status status)
{
    fprintf(stderr, "resume: %s: %s\n", what, mlp_strerror(status));
    return 1;
}

/* n points of y = sin(x) on [-pi, pi], shifted by offset spacings. */
static void make_grid(float *xs, float *ys, size_t n, double offset)
{
    for (size_t i = 0; i < n; i++) {
        double xi = -PI + 2.0 * PI * ((double)i + offset) / (double)(n - 1 + 2 * offset);
        xs[i] = (float)xi;
        ys[i] = (float)sin(xi);
    }
}

/* A fresh network and optimizer: both runs start from the same seed. */
static mlp_status make_model(mlp_net **net, mlp_optimizer **opt)
{
    mlp_status st = mlp_net_create(net, 1, MLP_MSE, 7);
    if (st == MLP_OK)
        st = mlp_net_add_dense(*net, 16, MLP_TANH);
    if (st == MLP_OK)
        st = mlp_net_add_dense(*net, 16, MLP_TANH);
    if (st == MLP_OK)
        st = mlp_net_add_dense(*net, 1, MLP_IDENTITY);
    if (st == MLP_OK)
        st = mlp_adam_create(opt, *net, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f);
    return st;
}

/* The same options for every call; only epochs and first_epoch change. */
static mlp_fit_options fit_options(const mlp_schedule *schedule)
{
    mlp_fit_options o = mlp_fit_defaults();
    o.batch_size = 32;
    o.shuffle_seed = 11;
    o.schedule = schedule;
    return o;
}

/* What the first run's callback needs to take its checkpoint. */
typedef struct checkpoint {
    const mlp_net *net;
    const mlp_optimizer *opt;
    char model_path[256], opt_path[256];
    mlp_status status;
} checkpoint;

/* After epoch STOP_AFTER (numbered from 1), save both halves and stop, as
 * a job would that must give its machine back. */
static int save_and_stop(const mlp_epoch_info *info, void *user)
{
    checkpoint *c = user;
    if (info->epoch + 1 < STOP_AFTER)
        return 0;
    c->status = mlp_net_save(c->net, c->model_path);
    if (c->status == MLP_OK)
        c->status = mlp_optimizer_save(c->opt, c->opt_path);
    printf("stopped after epoch %zu: saved %s and %s\n", info->epoch + 1, c->model_path,
           c->opt_path);
    return 1;
}

static double test_mse(mlp_net *net)
{
    float pred[N_TEST];
    double mse = NAN;
    if (mlp_predict(net, x_test, N_TEST, pred) == MLP_OK)
        mlp_mse(pred, y_test, N_TEST, 1, &mse);
    return mse;
}

/* Whether two networks of the same shape hold the same parameter bits. */
static int same_params(const mlp_net *a, const mlp_net *b)
{
    for (size_t l = 0; l < mlp_net_layers(a); l++) {
        const float *Wa, *ba, *Wb, *bb;
        size_t n_out, n_in;
        mlp_layer_params_const(a, l, &Wa, &ba, &n_out, &n_in);
        mlp_layer_params_const(b, l, &Wb, &bb, NULL, NULL);
        if (memcmp(Wa, Wb, n_out * n_in * sizeof *Wa) != 0 ||
            memcmp(ba, bb, n_out * sizeof *ba) != 0)
            return 0;
    }
    return 1;
}

/* Trains without stopping into *whole, and with a stop and a resume from
 * files into *resumed. */
static int train_both(const char *prefix, mlp_net *nets[3], mlp_optimizer *opts[3])
{
    const mlp_schedule cosine = {
        .kind = MLP_SCHEDULE_COSINE, .base_lr = 0.01f, .t_max = EPOCHS, .min_lr = 1e-4f};
    mlp_fit_options o = fit_options(&cosine);
    mlp_status st;

    o.epochs = EPOCHS;
    if ((st = make_model(&nets[0], &opts[0])) != MLP_OK ||
        (st = mlp_fit(nets[0], opts[0], x, y, N_TRAIN, &o)) != MLP_OK)
        return fail("training without a stop", st);

    checkpoint c = {.status = MLP_OK};
    snprintf(c.model_path, sizeof c.model_path, "%s.mlp", prefix);
    snprintf(c.opt_path, sizeof c.opt_path, "%s.mlpopt", prefix);
    if ((st = make_model(&nets[1], &opts[1])) != MLP_OK)
        return fail("make_model", st);
    c.net = nets[1];
    c.opt = opts[1];
    o.callback = save_and_stop;
    o.user = &c;
    if ((st = mlp_fit(nets[1], opts[1], x, y, N_TRAIN, &o)) != MLP_OK)
        return fail("the first run", st);
    if (c.status != MLP_OK)
        return fail("saving the checkpoint", c.status);

    /* The second run knows nothing but the two files and the epoch. */
    if ((st = mlp_net_load(&nets[2], c.model_path)) != MLP_OK ||
        (st = mlp_optimizer_load(&opts[2], nets[2], c.opt_path)) != MLP_OK)
        return fail("loading the checkpoint", st);
    o = fit_options(&cosine);
    o.first_epoch = STOP_AFTER;
    o.epochs = EPOCHS - STOP_AFTER;
    if ((st = mlp_fit(nets[2], opts[2], x, y, N_TRAIN, &o)) != MLP_OK)
        return fail("the resumed run", st);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2) {
        fprintf(stderr, "usage: %s [CHECKPOINT_PREFIX]\n", argv[0]);
        return 2;
    }
    make_grid(x, y, N_TRAIN, 0.0);
    make_grid(x_test, y_test, N_TEST, 0.5);
    mlp_net *nets[3] = {NULL, NULL, NULL};
    mlp_optimizer *opts[3] = {NULL, NULL, NULL};
    int rc = train_both(argc == 2 ? argv[1] : "resume-checkpoint", nets, opts);
    if (rc == 0) {
        int same = same_params(nets[0], nets[2]);
        printf("test MSE after %d epochs: %.6g without a stop, %.6g stopped and "
               "resumed\nparameters identical bit for bit: %s\n",
               EPOCHS, test_mse(nets[0]), test_mse(nets[2]), same ? "yes" : "NO");
        rc = same ? 0 : 1;
    }
    for (int k = 0; k < 3; k++) {
        mlp_optimizer_free(opts[k]);
        mlp_net_free(nets[k]);
    }
    return rc;
}
