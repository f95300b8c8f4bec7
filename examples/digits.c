/*
 * Digits: classify 8x8 handwritten digits (data/digits.csv: 1797 rows of 64
 * pixels in 0..16 and a label 0..9).
 *
 * A fixed seeded shuffle splits the rows into 70% training, 10% validation
 * and 20% test. Pixels are standardized with the mean and standard deviation
 * of the training rows only. A 64-128-10 network (ReLU hidden layer, softmax
 * output, cross-entropy) is trained with Adam; every epoch prints the loss,
 * the validation accuracy and the throughput. The test rows are used once,
 * at the end: test accuracy and the confusion matrix. Exits non-zero below
 * 95% test accuracy.
 *
 * With --save FILE the standardization is folded into the first layer
 * (W' = W / std, b' = b - W' mean) before saving, so the saved model takes
 * raw CSV rows: `predict FILE data/digits.csv` needs no preprocessing.
 *
 * Usage: digits DIGITS.csv [--save FILE]
 */
#include <mlp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_FEATURES = 64, N_CLASSES = 10, N_HIDDEN = 128, EPOCHS = 40 };
static const uint64_t SPLIT_SEED = 7, INIT_SEED = 42, SHUFFLE_SEED = 1;

/* Every buffer the example allocates, so that one function frees them all. */
typedef struct digits {
    float *csv;        /* rows x cols as read */
    float *X, *X_raw;  /* rows x 64, shuffled; X is standardized */
    float *labels, *Y; /* rows x 1 and rows x 10 (one-hot), shuffled */
    float *P;          /* n_test x 10 predictions */
    size_t *perm;      /* the split's row order */
    float mean[N_FEATURES], std[N_FEATURES];
    size_t rows, cols, n_train, n_val, n_test;
    mlp_net *net;
    mlp_optimizer *opt;
} digits;

/* Reports a failed call; returns 1 so that callers can `return fail(...)`. */
static int fail(const char *what, mlp_status status)
{
    fprintf(stderr, "digits: %s: %s\n", what, mlp_strerror(status));
    return 1;
}

/* One progress line per epoch. */
static int progress(const mlp_epoch_info *info, void *user)
{
    (void)user;
    printf("epoch %2zu  loss %.4f  val loss %.4f  val acc %6.2f%%  %7.0f samples/s\n",
           info->epoch + 1, info->train_loss, info->val_loss, 100.0 * info->val_metric,
           info->samples_per_s);
    return 0;
}

/* Reads the CSV file; the error message names the line and column of a bad
 * value. */
static int load(digits *d, const char *path)
{
    mlp_csv_error err = {0};
    mlp_status st = mlp_csv_read(path, &d->csv, &d->rows, &d->cols, &err);
    if (st == MLP_ERR_FORMAT) {
        fprintf(stderr, "digits: %s: %s\n", path, err.message);
        return 1;
    }
    if (st != MLP_OK)
        return fail(path, st);
    if (d->cols != N_FEATURES + 1 || d->rows < 10) {
        fprintf(stderr, "digits: %s: expected 64 pixel columns and a label\n", path);
        return 1;
    }
    return 0;
}

/* Shuffles the rows with a fixed seed into features, labels and one-hot
 * targets: the first n_train rows train, the next n_val validate, the rest
 * test. Standardizes all of them with the training rows' statistics. */
static int prepare(digits *d)
{
    size_t n = d->rows;
    float *shuffled = malloc(n * d->cols * sizeof *shuffled);
    d->perm = malloc(n * sizeof *d->perm);
    d->X = malloc(n * N_FEATURES * sizeof *d->X);
    d->X_raw = malloc(n * N_FEATURES * sizeof *d->X_raw);
    d->labels = malloc(n * sizeof *d->labels);
    d->Y = malloc(n * N_CLASSES * sizeof *d->Y);
    if (!shuffled || !d->perm || !d->X || !d->X_raw || !d->labels || !d->Y) {
        free(shuffled);
        return fail("malloc", MLP_ERR_NOMEM);
    }
    d->n_test = n / 5;
    d->n_val = n / 10;
    d->n_train = n - d->n_test - d->n_val;

    mlp_status st;
    if ((st = mlp_permutation(d->perm, n, SPLIT_SEED)) != MLP_OK ||
        (st = mlp_rows_gather(d->csv, n, d->cols, d->perm, n, shuffled)) != MLP_OK ||
        (st = mlp_columns_copy(shuffled, n, d->cols, 0, N_FEATURES, d->X_raw)) !=
            MLP_OK ||
        (st = mlp_columns_copy(shuffled, n, d->cols, N_FEATURES, 1, d->labels)) !=
            MLP_OK ||
        (st = mlp_one_hot(d->labels, n, N_CLASSES, d->Y)) != MLP_OK) {
        free(shuffled);
        return fail("preparing the data", st);
    }
    free(shuffled);
    memcpy(d->X, d->X_raw, n * N_FEATURES * sizeof *d->X);
    if ((st = mlp_standardize_fit(d->X, d->n_train, N_FEATURES, d->mean, d->std)) !=
            MLP_OK ||
        (st = mlp_standardize_apply(d->X, n, N_FEATURES, d->mean, d->std)) != MLP_OK)
        return fail("standardizing", st);
    printf("%zu rows: %zu train, %zu validation, %zu test\n", n, d->n_train, d->n_val,
           d->n_test);
    return 0;
}

/* Builds the 64-128-10 network and trains it, validating every epoch. */
static int train(digits *d)
{
    mlp_status st;
    if ((st = mlp_net_create(&d->net, N_FEATURES, MLP_CROSS_ENTROPY, INIT_SEED)) !=
            MLP_OK ||
        (st = mlp_net_add_dense(d->net, N_HIDDEN, MLP_RELU)) != MLP_OK ||
        (st = mlp_net_add_dense(d->net, N_CLASSES, MLP_SOFTMAX)) != MLP_OK)
        return fail("building the network", st);
    if ((st = mlp_adam_create(&d->opt, d->net, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f)) !=
        MLP_OK)
        return fail("mlp_adam_create", st);

    mlp_fit_options options = mlp_fit_defaults();
    options.epochs = EPOCHS;
    options.batch_size = 32;
    options.shuffle_seed = SHUFFLE_SEED;
    options.X_val = d->X + d->n_train * N_FEATURES;
    options.Y_val = d->Y + d->n_train * N_CLASSES;
    options.n_val = d->n_val;
    options.metric = MLP_METRIC_ACCURACY;
    options.callback = progress;
    if ((st = mlp_fit(d->net, d->opt, d->X, d->Y, d->n_train, &options)) != MLP_OK)
        return fail("mlp_fit", st);
    return 0;
}

/* The index of the largest of n values. */
static size_t arg_max(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* Prints the confusion matrix of the test predictions: row = true label,
 * column = predicted label. */
static void print_confusion(const digits *d, const float *labels)
{
    size_t counts[N_CLASSES][N_CLASSES] = {{0}};
    for (size_t i = 0; i < d->n_test; i++)
        counts[(size_t)labels[i]][arg_max(d->P + i * N_CLASSES, N_CLASSES)]++;
    printf("\nconfusion matrix (rows: true digit, columns: predicted)\n     ");
    for (int c = 0; c < N_CLASSES; c++)
        printf("%4d", c);
    for (int t = 0; t < N_CLASSES; t++) {
        printf("\n  %d: ", t);
        for (int c = 0; c < N_CLASSES; c++)
            printf("%4zu", counts[t][c]);
    }
    printf("\n");
}

/* Predicts the test rows once and reports accuracy and the confusion
 * matrix; *accuracy receives the test accuracy. */
static int test(digits *d, double *accuracy)
{
    size_t first = d->n_train + d->n_val;
    mlp_status st;
    d->P = malloc(d->n_test * N_CLASSES * sizeof *d->P);
    if (d->P == NULL)
        return fail("malloc", MLP_ERR_NOMEM);
    if ((st = mlp_predict(d->net, d->X + first * N_FEATURES, d->n_test, d->P)) !=
            MLP_OK ||
        (st = mlp_accuracy(d->P, d->Y + first * N_CLASSES, d->n_test, N_CLASSES,
                           accuracy)) != MLP_OK)
        return fail("testing", st);
    printf("\ntest accuracy %.2f%% (%zu rows)\n", 100.0 * *accuracy, d->n_test);
    print_confusion(d, d->labels + first);
    return 0;
}

/* Folds the standardization into the first layer, so that the network
 * takes raw pixels (W x' + b with x' = (x - mean) / std equals W' x + b'
 * with W'[j][k] = W[j][k] / std[k] and b'[j] = b[j] - sum_k W'[j][k]
 * mean[k]), checks that the folded network gives the same test accuracy on
 * raw rows, and saves it. */
static int save(digits *d, const char *path, double accuracy)
{
    size_t first = d->n_train + d->n_val;
    double raw_accuracy;
    mlp_status st;
    if ((st = mlp_standardize_fold(d->net, d->mean, d->std)) != MLP_OK)
        return fail("mlp_standardize_fold", st);
    if ((st = mlp_predict(d->net, d->X_raw + first * N_FEATURES, d->n_test, d->P)) !=
            MLP_OK ||
        (st = mlp_accuracy(d->P, d->Y + first * N_CLASSES, d->n_test, N_CLASSES,
                           &raw_accuracy)) != MLP_OK)
        return fail("testing the folded network", st);
    printf("\nsaved model (standardization folded in) on raw test rows: %.2f%%\n",
           100.0 * raw_accuracy);
    if (raw_accuracy != accuracy)
        fprintf(stderr, "digits: note: folding changed the test accuracy\n");
    if ((st = mlp_net_save(d->net, path)) != MLP_OK)
        return fail(path, st);
    printf("saved to %s\n", path);
    return 0;
}

/* Frees everything; fields never allocated are NULL. */
static void release(digits *d)
{
    mlp_optimizer_free(d->opt);
    mlp_net_free(d->net);
    mlp_array_free(d->csv);
    free(d->X);
    free(d->X_raw);
    free(d->labels);
    free(d->Y);
    free(d->P);
    free(d->perm);
}

int main(int argc, char **argv)
{
    const char *save_path = NULL;
    if (argc == 4 && strcmp(argv[2], "--save") == 0) {
        save_path = argv[3];
    } else if (argc != 2) {
        fprintf(stderr, "usage: %s DIGITS.csv [--save FILE]\n", argv[0]);
        return 2;
    }

    digits d = {0};
    double accuracy = 0.0;
    int rc = load(&d, argv[1]) || prepare(&d) || train(&d) || test(&d, &accuracy) ||
             (save_path != NULL && save(&d, save_path, accuracy));
    if (rc == 0 && accuracy < 0.95) {
        fprintf(stderr, "digits: test accuracy %.2f%% is below 95%%\n", 100.0 * accuracy);
        rc = 1;
    }
    release(&d);
    return rc;
}
