/*
 * parity_steps: trains a libmlp network on batches read from standard
 * input and writes its parameters before and after, and each step's loss,
 * to standard output, so that torch_parity.py can take the same steps in
 * PyTorch from the same start and compare (bench/peers/README.md).
 *
 *   parity_steps WIDTHS HIDDEN OUTPUT LOSS OPTIMIZER LR MOMENTUM WD BATCH STEPS SEED
 *
 * WIDTHS is n_0-n_1-..-n_L; HIDDEN and OUTPUT are activations (identity,
 * sigmoid, tanh, relu, leaky-relu, softmax); LOSS is mse, bce or ce;
 * OPTIMIZER is sgd, nesterov, adam or adamw (Adam's betas 0.9 and 0.999,
 * epsilon 1e-8; MOMENTUM is SGD's).
 * Standard input: STEPS batches, each BATCH x n_0 inputs then BATCH x n_L
 * targets, row-major float32 in the machine's byte order. Standard output,
 * float32 too: every layer's W then b before the first step, the STEPS
 * losses, every layer's W then b after the last step.
 */
#include "mlp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_LAYERS = 8 };

static int fail(const char *what)
{
    fprintf(stderr, "parity_steps: %s\n", what);
    return 1;
}

/* Parses "4-8-3" into widths: 2 to MAX_LAYERS + 1 positive integers
 * joined by '-'. Returns how many, 0 if malformed. */
static size_t parse_widths(const char *s, size_t *widths)
{
    for (size_t n = 0; n <= MAX_LAYERS && *s >= '0' && *s <= '9';) {
        char *end;
        widths[n++] = strtoul(s, &end, 10);
        if (widths[n - 1] == 0 || (*end && *end != '-'))
            return 0;
        if (!*end)
            return n >= 2 ? n : 0;
        s = end + 1;
    }
    return 0;
}

static int parse_activation(const char *s, mlp_activation *act)
{
    static const char *const names[] = {"identity", "sigmoid",    "tanh",
                                        "relu",     "leaky-relu", "softmax"};
    static const mlp_activation values[] = {MLP_IDENTITY, MLP_SIGMOID,    MLP_TANH,
                                            MLP_RELU,     MLP_LEAKY_RELU, MLP_SOFTMAX};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strcmp(s, names[k]) == 0) {
            *act = values[k];
            return 1;
        }
    return 0;
}

static int parse_loss(const char *s, mlp_loss *loss)
{
    if (strcmp(s, "mse") == 0)
        *loss = MLP_MSE;
    else if (strcmp(s, "bce") == 0)
        *loss = MLP_BCE;
    else if (strcmp(s, "ce") == 0)
        *loss = MLP_CROSS_ENTROPY;
    else
        return 0;
    return 1;
}

static mlp_status create_optimizer(mlp_optimizer **opt, const mlp_net *net,
                                   const char *kind, float lr, float momentum, float wd)
{
    if (strcmp(kind, "adam") == 0)
        return mlp_adam_create(opt, net, lr, 0.9f, 0.999f, 1e-8f, wd);
    if (strcmp(kind, "adamw") == 0)
        return mlp_adamw_create(opt, net, lr, 0.9f, 0.999f, 1e-8f, wd);
    mlp_status status = mlp_sgd_create(opt, net, lr, momentum, wd);
    if (status == MLP_OK && strcmp(kind, "nesterov") == 0)
        status = mlp_sgd_set_nesterov(*opt, 1);
    return status;
}

/* Writes every layer's W then b to standard output. */
static int write_params(const mlp_net *net)
{
    for (size_t l = 0; l < mlp_net_layers(net); l++) {
        const float *W, *b;
        size_t n_out, n_in;
        if (mlp_layer_params_const(net, l, &W, &b, &n_out, &n_in) != MLP_OK ||
            fwrite(W, sizeof *W, n_out * n_in, stdout) != n_out * n_in ||
            fwrite(b, sizeof *b, n_out, stdout) != n_out)
            return 0;
    }
    return 1;
}

/* Reads each batch from standard input and takes a step on it, writing
 * the step's loss; returns 1 when all STEPS were taken. */
static int train(mlp_net *net, mlp_optimizer *opt, size_t batch, size_t steps)
{
    const size_t nx = batch * mlp_net_inputs(net), ny = batch * mlp_net_outputs(net);
    float *X = malloc(nx * sizeof *X), *Y = malloc(ny * sizeof *Y);
    int ok = X && Y;
    for (size_t s = 0; ok && s < steps; s++) {
        float loss;
        ok = fread(X, sizeof *X, nx, stdin) == nx &&
             fread(Y, sizeof *Y, ny, stdin) == ny &&
             mlp_train_batch(net, opt, X, Y, batch, &loss) == MLP_OK &&
             fwrite(&loss, sizeof loss, 1, stdout) == 1;
    }
    free(X);
    free(Y);
    return ok;
}

int main(int argc, char **argv)
{
    size_t widths[MAX_LAYERS + 1], n;
    mlp_activation hidden, output;
    mlp_loss loss;
    if (argc != 12 || !(n = parse_widths(argv[1], widths)) ||
        !parse_activation(argv[2], &hidden) || !parse_activation(argv[3], &output) ||
        !parse_loss(argv[4], &loss))
        return fail("usage: parity_steps WIDTHS HIDDEN OUTPUT LOSS OPTIMIZER LR "
                    "MOMENTUM WD BATCH STEPS SEED");
    const float lr = strtof(argv[6], NULL), momentum = strtof(argv[7], NULL),
                wd = strtof(argv[8], NULL);
    const size_t batch = strtoul(argv[9], NULL, 10), steps = strtoul(argv[10], NULL, 10);
    mlp_net *net = NULL;
    mlp_optimizer *opt = NULL;
    mlp_status status =
        mlp_net_create(&net, widths[0], loss, strtoull(argv[11], NULL, 10));
    for (size_t l = 1; status == MLP_OK && l < n; l++)
        status = mlp_net_add_dense(net, widths[l], l + 1 < n ? hidden : output);
    if (status == MLP_OK)
        status = create_optimizer(&opt, net, argv[5], lr, momentum, wd);
    int ok = status == MLP_OK && batch > 0 && write_params(net) &&
             train(net, opt, batch, steps) && write_params(net);
    if (status != MLP_OK)
        fprintf(stderr, "parity_steps: %s\n", mlp_strerror(status));
    mlp_optimizer_free(opt);
    mlp_net_free(net);
    return ok ? 0 : fail("a step failed, or standard input ended early");
}
