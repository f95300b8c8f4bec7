/*
 * Predict: loads a model saved with --save (or mlp_net_save) and prints its
 * predictions for the rows of a CSV file with a header row.
 *
 * The CSV columns must be exactly the model's inputs, already in the form
 * the model was trained on (the digits, diabetes and breast_cancer examples
 * fold their standardization into the saved model, so their raw CSV rows
 * fit as they are). One more, trailing column is taken as the target and
 * printed next to the prediction, with a summary at the end: accuracy for
 * a classifier, RMSE for another model with one output.
 *
 * One line per row: the row number, then the class and its probability
 * for a classifier (a softmax model: the arg max; a model with one sigmoid
 * output, such as breast_cancer's: class 1 when the output, the
 * probability of class 1, is above 0.5), or every output otherwise.
 *
 * Usage: predict MODEL DATA.csv
 */
#include <mlp.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Reports a failed call; returns 1 so that callers can `return fail(...)`. */
static int fail(const char *what, mlp_status status)
{
    fprintf(stderr, "predict: %s: %s\n", what, mlp_strerror(status));
    return 1;
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

/* What the network's outputs are. */
typedef enum { OUTPUT_VALUES, OUTPUT_CLASSES, OUTPUT_BINARY } output_kind;

/* Softmax outputs are class probabilities; one sigmoid output is the
 * probability of class 1 against class 0. */
static output_kind output_kind_of(const mlp_net *net)
{
    mlp_activation act;
    if (mlp_layer_activation(net, mlp_net_layers(net) - 1, &act) != MLP_OK)
        return OUTPUT_VALUES;
    if (act == MLP_SOFTMAX)
        return OUTPUT_CLASSES;
    return act == MLP_SIGMOID && mlp_net_outputs(net) == 1 ? OUTPUT_BINARY
                                                           : OUTPUT_VALUES;
}

/* The predicted class of a row of k outputs, and its probability. */
static size_t predicted_class(output_kind kind, const float *p, size_t k, float *prob)
{
    if (kind == OUTPUT_BINARY) {
        size_t c = p[0] > 0.5f;
        *prob = c ? p[0] : 1.0f - p[0];
        return c;
    }
    size_t c = arg_max(p, k);
    *prob = p[c];
    return c;
}

/* Prints one line per row and, when targets are given (target not NULL),
 * the accuracy or RMSE over all rows. */
static void print_predictions(const mlp_net *net, const float *P, const float *target,
                              size_t rows)
{
    size_t k = mlp_net_outputs(net), hits = 0;
    output_kind kind = output_kind_of(net);
    int classifier = kind != OUTPUT_VALUES;
    double squared = 0.0;
    for (size_t i = 0; i < rows; i++) {
        const float *p = P + i * k;
        printf("%zu:", i + 1);
        if (classifier) {
            float prob;
            size_t c = predicted_class(kind, p, k, &prob);
            printf(" class %zu (p %.3f)", c, prob);
            hits += target != NULL && (float)c == target[i];
        } else {
            for (size_t j = 0; j < k; j++)
                printf(" %.4g", p[j]);
            if (target != NULL && k == 1)
                squared += ((double)p[0] - target[i]) * ((double)p[0] - target[i]);
        }
        if (target != NULL)
            printf("  target %g", target[i]);
        printf("\n");
    }
    if (target != NULL && classifier)
        printf("accuracy %.2f%% over %zu rows\n", 100.0 * (double)hits / (double)rows,
               rows);
    else if (target != NULL && k == 1)
        printf("RMSE %.4g over %zu rows\n", sqrt(squared / (double)rows), rows);
}

/* Splits the CSV into inputs and optional targets, predicts and prints. */
static int predict(mlp_net *net, const float *csv, size_t rows, size_t cols)
{
    size_t n_in = mlp_net_inputs(net), k = mlp_net_outputs(net);
    if (cols != n_in && cols != n_in + 1) {
        fprintf(stderr, "predict: the model takes %zu inputs; the file has %zu columns\n",
                n_in, cols);
        return 1;
    }
    float *X = malloc(rows * n_in * sizeof *X);
    float *target = cols > n_in ? malloc(rows * sizeof *target) : NULL;
    float *P = malloc(rows * k * sizeof *P);
    mlp_status st = MLP_ERR_NOMEM;
    if (X != NULL && P != NULL && (cols == n_in || target != NULL) &&
        (st = mlp_columns_copy(csv, rows, cols, 0, n_in, X)) == MLP_OK &&
        (target == NULL ||
         (st = mlp_columns_copy(csv, rows, cols, n_in, 1, target)) == MLP_OK))
        st = mlp_predict(net, X, rows, P);
    if (st == MLP_OK)
        print_predictions(net, P, target, rows);
    free(X);
    free(target);
    free(P);
    return st == MLP_OK ? 0 : fail("predicting", st);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL DATA.csv\n", argv[0]);
        return 2;
    }
    mlp_net *net = NULL;
    float *csv = NULL;
    size_t rows, cols;
    mlp_csv_error err = {0};
    mlp_status st = mlp_net_load(&net, argv[1]);
    if (st != MLP_OK)
        return fail(argv[1], st);
    st = mlp_csv_read(argv[2], &csv, &rows, &cols, &err);
    int rc;
    if (st == MLP_ERR_FORMAT) {
        fprintf(stderr, "predict: %s: %s\n", argv[2], err.message);
        rc = 1;
    } else {
        rc = st == MLP_OK ? predict(net, csv, rows, cols) : fail(argv[2], st);
    }
    mlp_array_free(csv);
    mlp_net_free(net);
    return rc;
}
