/*
 * Diabetes: regression of disease progression one year after baseline
 * (data/diabetes.csv: 442 patients, 10 raw features, target 25..346).
 *
 * A fixed seeded shuffle splits the rows into 60% training, 20% validation
 * and 20% test. Features and target are standardized with the mean and
 * standard deviation of the training rows only. A 10-16-1 network (tanh
 * hidden layer, identity output, MSE) is trained with Adam and L2 weight
 * decay 0.01; early stopping watches the validation loss and keeps the
 * best parameters seen (a copy in memory, through mlp_net_save_buffer).
 * The test rows are used once, at the end: RMSE in the target's units and
 * R^2, next to the R^2 of the best constant prediction (the training mean).
 * Exits non-zero unless the test R^2 is above 0.3.
 *
 * With --save FILE the standardization of the features is folded into the
 * first layer and that of the target into the output layer before saving,
 * so the saved model maps raw CSV rows to the target in its own units:
 * `predict FILE data/diabetes.csv` needs no preprocessing.
 *
 * Usage: diabetes DIABETES.csv [--save FILE]
 */
#include <mlp.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_FEATURES = 10, N_HIDDEN = 16, MAX_EPOCHS = 1000, PATIENCE = 50 };
static const uint64_t SPLIT_SEED = 7, INIT_SEED = 42, SHUFFLE_SEED = 1;

/* Every buffer the example allocates, so that one function frees them all. */
typedef struct diabetes {
    float *csv;       /* rows x cols as read */
    float *X, *X_raw; /* rows x 10, shuffled; X is standardized */
    float *y, *y_raw; /* rows x 1, shuffled; y is standardized */
    float *pred;      /* n_test predictions */
    size_t *perm;     /* the split's row order */
    float mean[N_FEATURES], std[N_FEATURES], y_mean, y_std;
    size_t rows, cols, n_train, n_val, n_test;
    mlp_net *net;
    mlp_optimizer *opt;
} diabetes;

/* What the early-stopping callback keeps: the best validation loss so far
 * and the network's saved form at that epoch. */
typedef struct early_stop {
    const mlp_net *net;
    unsigned char *best;
    size_t cap, best_epoch;
    double best_loss;
    mlp_status status;
} early_stop;

/* Reports a failed call; returns 1 so that callers can `return fail(...)`. */
static int fail(const char *what, mlp_status status)
{
    fprintf(stderr, "diabetes: %s: %s\n", what, mlp_strerror(status));
    return 1;
}

/* Prints progress now and then, keeps a copy of the best network, and stops
 * training after PATIENCE epochs without a better validation loss. */
static int early_stopping(const mlp_epoch_info *info, void *user)
{
    early_stop *es = user;
    if (info->val_loss < es->best_loss) {
        size_t written;
        es->status = mlp_net_save_buffer(es->net, es->best, es->cap, &written);
        if (es->status != MLP_OK)
            return 1;
        es->best_loss = info->val_loss;
        es->best_epoch = info->epoch;
    }
    if (info->epoch % 25 == 0)
        printf("epoch %4zu  loss %.4f  val loss %.4f  val R^2 %.3f\n", info->epoch + 1,
               info->train_loss, info->val_loss, info->val_metric);
    return info->epoch - es->best_epoch >= PATIENCE;
}

/* Reads the CSV file; the error message names the line and column of a bad
 * value. */
static int load(diabetes *d, const char *path)
{
    mlp_csv_error err = {0};
    mlp_status st = mlp_csv_read(path, &d->csv, &d->rows, &d->cols, &err);
    if (st == MLP_ERR_FORMAT) {
        fprintf(stderr, "diabetes: %s: %s\n", path, err.message);
        return 1;
    }
    if (st != MLP_OK)
        return fail(path, st);
    if (d->cols != N_FEATURES + 1 || d->rows < 10) {
        fprintf(stderr, "diabetes: %s: expected 10 feature columns and a target\n", path);
        return 1;
    }
    return 0;
}

/* Shuffles the rows with a fixed seed into features and target: the first
 * n_train rows train, the next n_val validate, the rest test. Standardizes
 * features and target with the training rows' statistics. */
static int prepare(diabetes *d)
{
    size_t n = d->rows;
    float *shuffled = malloc(n * d->cols * sizeof *shuffled);
    d->perm = malloc(n * sizeof *d->perm);
    d->X = malloc(n * N_FEATURES * sizeof *d->X);
    d->X_raw = malloc(n * N_FEATURES * sizeof *d->X_raw);
    d->y = malloc(n * sizeof *d->y);
    d->y_raw = malloc(n * sizeof *d->y_raw);
    if (!shuffled || !d->perm || !d->X || !d->X_raw || !d->y || !d->y_raw) {
        free(shuffled);
        return fail("malloc", MLP_ERR_NOMEM);
    }
    d->n_test = n / 5;
    d->n_val = n / 5;
    d->n_train = n - d->n_test - d->n_val;

    mlp_status st;
    if ((st = mlp_permutation(d->perm, n, SPLIT_SEED)) != MLP_OK ||
        (st = mlp_rows_gather(d->csv, n, d->cols, d->perm, n, shuffled)) != MLP_OK ||
        (st = mlp_columns_copy(shuffled, n, d->cols, 0, N_FEATURES, d->X_raw)) !=
            MLP_OK ||
        (st = mlp_columns_copy(shuffled, n, d->cols, N_FEATURES, 1, d->y_raw)) !=
            MLP_OK) {
        free(shuffled);
        return fail("preparing the data", st);
    }
    free(shuffled);
    memcpy(d->X, d->X_raw, n * N_FEATURES * sizeof *d->X);
    memcpy(d->y, d->y_raw, n * sizeof *d->y);
    if ((st = mlp_standardize_fit(d->X, d->n_train, N_FEATURES, d->mean, d->std)) !=
            MLP_OK ||
        (st = mlp_standardize_apply(d->X, n, N_FEATURES, d->mean, d->std)) != MLP_OK ||
        (st = mlp_standardize_fit(d->y, d->n_train, 1, &d->y_mean, &d->y_std)) !=
            MLP_OK ||
        (st = mlp_standardize_apply(d->y, n, 1, &d->y_mean, &d->y_std)) != MLP_OK)
        return fail("standardizing", st);
    printf("%zu rows: %zu train, %zu validation, %zu test\n", n, d->n_train, d->n_val,
           d->n_test);
    return 0;
}

/* Builds the 10-16-1 network and trains it with early stopping, then
 * replaces it with the best network seen. */
static int train(diabetes *d)
{
    mlp_status st;
    if ((st = mlp_net_create(&d->net, N_FEATURES, MLP_MSE, INIT_SEED)) != MLP_OK ||
        (st = mlp_net_add_dense(d->net, N_HIDDEN, MLP_TANH)) != MLP_OK ||
        (st = mlp_net_add_dense(d->net, 1, MLP_IDENTITY)) != MLP_OK)
        return fail("building the network", st);
    if ((st = mlp_adam_create(&d->opt, d->net, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f)) !=
        MLP_OK)
        return fail("mlp_adam_create", st);

    early_stop es = {.net = d->net, .best_loss = INFINITY, .status = MLP_OK};
    if ((st = mlp_net_saved_size(d->net, &es.cap)) != MLP_OK)
        return fail("mlp_net_saved_size", st);
    if ((es.best = malloc(es.cap)) == NULL)
        return fail("malloc", MLP_ERR_NOMEM);

    mlp_fit_options options = mlp_fit_defaults();
    options.epochs = MAX_EPOCHS;
    options.batch_size = 32;
    options.shuffle_seed = SHUFFLE_SEED;
    options.X_val = d->X + d->n_train * N_FEATURES;
    options.Y_val = d->y + d->n_train;
    options.n_val = d->n_val;
    options.metric = MLP_METRIC_R2;
    options.callback = early_stopping;
    options.user = &es;
    st = mlp_fit(d->net, d->opt, d->X, d->y, d->n_train, &options);
    if (st == MLP_OK)
        st = es.status;
    if (st == MLP_OK) {
        mlp_net_free(d->net);
        d->net = NULL;
        st = mlp_net_load_buffer(&d->net, es.best, es.cap);
    }
    free(es.best);
    if (st != MLP_OK)
        return fail("training", st);
    printf("best validation loss %.4f at epoch %zu\n", es.best_loss, es.best_epoch + 1);
    return 0;
}

/* Predicts the test rows once, in the target's units, and reports RMSE and
 * R^2 beside those of the constant prediction; *r2 receives the test R^2. */
static int test(diabetes *d, double *r2)
{
    size_t first = d->n_train + d->n_val;
    const float *y_test = d->y_raw + first;
    double mse, r2_const, mse_const;
    mlp_status st;
    d->pred = malloc(d->n_test * sizeof *d->pred);
    if (d->pred == NULL)
        return fail("malloc", MLP_ERR_NOMEM);

    /* The constant prediction: the training mean, in the target's units. */
    for (size_t i = 0; i < d->n_test; i++)
        d->pred[i] = d->y_mean;
    if ((st = mlp_mse(d->pred, y_test, d->n_test, 1, &mse_const)) != MLP_OK ||
        (st = mlp_r2(d->pred, y_test, d->n_test, 1, &r2_const)) != MLP_OK)
        return fail("scoring the constant prediction", st);

    if ((st = mlp_predict(d->net, d->X + first * N_FEATURES, d->n_test, d->pred)) !=
        MLP_OK)
        return fail("mlp_predict", st);
    for (size_t i = 0; i < d->n_test; i++)
        d->pred[i] = d->pred[i] * d->y_std + d->y_mean;
    if ((st = mlp_mse(d->pred, y_test, d->n_test, 1, &mse)) != MLP_OK ||
        (st = mlp_r2(d->pred, y_test, d->n_test, 1, r2)) != MLP_OK)
        return fail("scoring the network", st);

    char heading[64], constant[64];
    snprintf(heading, sizeof heading, "%zu test rows", d->n_test);
    snprintf(constant, sizeof constant, "constant %.1f (train mean)", d->y_mean);
    printf("\n%-28s %7s %7s\n", heading, "RMSE", "R^2");
    printf("  %-26s %7.2f %7.3f\n", "network", sqrt(mse), *r2);
    printf("  %-26s %7.2f %7.3f\n", constant, sqrt(mse_const), r2_const);
    return 0;
}

/* Folds the standardizations into the network, so that it maps raw features
 * to the target in its units: the features' into the first layer
 * (mlp_standardize_fold: W' = W / std column by column, b' = b - W' mean),
 * the target's into the identity output layer, W' = y_std W and
 * b' = y_std b + y_mean. */
static int fold_standardization(diabetes *d)
{
    float *W, *b;
    size_t n_out, n_in, last = mlp_net_layers(d->net) - 1;
    mlp_status st = mlp_standardize_fold(d->net, d->mean, d->std);
    if (st != MLP_OK)
        return fail("mlp_standardize_fold", st);
    if ((st = mlp_layer_params(d->net, last, &W, &b, &n_out, &n_in)) != MLP_OK)
        return fail("mlp_layer_params", st);
    for (size_t i = 0; i < n_out * n_in; i++)
        W[i] *= d->y_std;
    for (size_t j = 0; j < n_out; j++)
        b[j] = b[j] * d->y_std + d->y_mean;
    return 0;
}

/* Folds the standardizations in, checks the folded network on raw test
 * rows, and saves it. */
static int save(diabetes *d, const char *path)
{
    size_t first = d->n_train + d->n_val;
    double r2;
    mlp_status st;
    if (fold_standardization(d) != 0)
        return 1;
    if ((st = mlp_predict(d->net, d->X_raw + first * N_FEATURES, d->n_test, d->pred)) !=
            MLP_OK ||
        (st = mlp_r2(d->pred, d->y_raw + first, d->n_test, 1, &r2)) != MLP_OK)
        return fail("testing the folded network", st);
    printf("\nsaved model (standardization folded in) on raw test rows: R^2 %.3f\n", r2);
    if ((st = mlp_net_save(d->net, path)) != MLP_OK)
        return fail(path, st);
    printf("saved to %s\n", path);
    return 0;
}

/* Frees everything; fields never allocated are NULL. */
static void release(diabetes *d)
{
    mlp_optimizer_free(d->opt);
    mlp_net_free(d->net);
    mlp_array_free(d->csv);
    free(d->X);
    free(d->X_raw);
    free(d->y);
    free(d->y_raw);
    free(d->pred);
    free(d->perm);
}

int main(int argc, char **argv)
{
    const char *save_path = NULL;
    if (argc == 4 && strcmp(argv[2], "--save") == 0) {
        save_path = argv[3];
    } else if (argc != 2) {
        fprintf(stderr, "usage: %s DIABETES.csv [--save FILE]\n", argv[0]);
        return 2;
    }

    diabetes d = {0};
    double r2 = 0.0;
    int rc = load(&d, argv[1]) || prepare(&d) || train(&d) || test(&d, &r2) ||
             (save_path != NULL && save(&d, save_path));
    if (rc == 0 && !(r2 > 0.3)) {
        fprintf(stderr, "diabetes: test R^2 %.3f is not above 0.3\n", r2);
        rc = 1;
    }
    release(&d);
    return rc;
}
