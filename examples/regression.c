/*
 * Regression: a 1-16-16-1 tanh network fits y = sin(x) on [-pi, pi].
 * Trains with Adam and a cosine learning-rate schedule, prints progress and
 * a short table of x, target and prediction on a test grid; exits non-zero
 * unless the mean squared error on that grid is below 1e-3.
 *
 * Usage: regression [--save FILE]
 */
#include <mlp.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_TRAIN 256
#define N_TEST  100

static const double PI = 3.14159265358979323846;

/* Reports a failed call; returns 1 so that callers can `return fail(...)`. */
static int fail(const char *what, mlp_status status)
{
    fprintf(stderr, "regression: %s: %s\n", what, mlp_strerror(status));
    return 1;
}

/* n points of y = sin(x) spaced evenly on [-pi, pi], shifted by offset
 * spacings (0.5 puts the test grid between the training points). */
static void make_grid(float *x, float *y, size_t n, double offset)
{
    for (size_t i = 0; i < n; i++) {
        double xi = -PI + 2.0 * PI * ((double)i + offset) / (double)(n - 1 + 2 * offset);
        x[i] = (float)xi;
        y[i] = (float)sin(xi);
    }
}

/* Prints the training loss (half the MSE) and the test MSE every 50 epochs. */
static int progress(const mlp_epoch_info *info, void *user)
{
    (void)user;
    if ((info->epoch + 1) % 50 == 0)
        printf("epoch %4zu  lr %.5f  train loss %.6f  test mse %.6f\n", info->epoch + 1,
               info->learning_rate, info->train_loss, info->val_metric);
    return 0;
}

/* Builds and trains the network, then prints the table and checks the MSE. */
static int run(mlp_net *net, mlp_optimizer **opt, const char *save_path)
{
    static float x[N_TRAIN], y[N_TRAIN], x_test[N_TEST], y_test[N_TEST], pred[N_TEST];
    mlp_status st;

    make_grid(x, y, N_TRAIN, 0.0);
    make_grid(x_test, y_test, N_TEST, 0.5);
    if ((st = mlp_net_add_dense(net, 16, MLP_TANH)) != MLP_OK ||
        (st = mlp_net_add_dense(net, 16, MLP_TANH)) != MLP_OK ||
        (st = mlp_net_add_dense(net, 1, MLP_IDENTITY)) != MLP_OK)
        return fail("mlp_net_add_dense", st);
    if ((st = mlp_adam_create(opt, net, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f)) != MLP_OK)
        return fail("mlp_adam_create", st);

    mlp_schedule cosine = {
        .kind = MLP_SCHEDULE_COSINE, .base_lr = 0.01f, .t_max = 300, .min_lr = 1e-4f};
    mlp_fit_options options = mlp_fit_defaults();
    options.epochs = 300;
    options.batch_size = 32;
    options.X_val = x_test;
    options.Y_val = y_test;
    options.n_val = N_TEST;
    options.metric = MLP_METRIC_MSE;
    options.schedule = &cosine;
    options.callback = progress;
    if ((st = mlp_fit(net, *opt, x, y, N_TRAIN, &options)) != MLP_OK)
        return fail("mlp_fit", st);

    double mse;
    if ((st = mlp_predict(net, x_test, N_TEST, pred)) != MLP_OK)
        return fail("mlp_predict", st);
    if ((st = mlp_mse(pred, y_test, N_TEST, 1, &mse)) != MLP_OK)
        return fail("mlp_mse", st);
    printf("\n      x    sin(x)  prediction\n");
    for (size_t i = 0; i < N_TEST; i += 11)
        printf("%7.3f  %8.5f  %8.5f\n", x_test[i], y_test[i], pred[i]);
    printf("\ntest MSE %.3g over %d points\n", mse, N_TEST);

    if (save_path != NULL && (st = mlp_net_save(net, save_path)) != MLP_OK)
        return fail("mlp_net_save", st);
    if (!(mse < 1e-3)) {
        fprintf(stderr, "regression: test MSE %.3g is not below 1e-3\n", mse);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *save_path = NULL;
    if (argc == 3 && strcmp(argv[1], "--save") == 0) {
        save_path = argv[2];
    } else if (argc != 1) {
        fprintf(stderr, "usage: %s [--save FILE]\n", argv[0]);
        return 2;
    }

    mlp_net *net = NULL;
    mlp_optimizer *opt = NULL;
    mlp_status st = mlp_net_create(&net, 1, MLP_MSE, 7);
    if (st != MLP_OK)
        return fail("mlp_net_create", st);
    int rc = run(net, &opt, save_path);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
    return rc;
}
