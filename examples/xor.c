/*
 * XOR: the smallest problem a single layer cannot solve.
 * A 2-4-1 network (tanh hidden layer, sigmoid output, binary cross-entropy)
 * learns it with Adam. Prints the loss now and then and the truth table;
 * exits non-zero unless all four outputs are on the right side of 0.5.
 *
 * Usage: xor [--save FILE]
 */
#include <mlp.h>

#include <stdio.h>
#include <string.h>

/* Reports a failed call; returns 1 so that callers can `return fail(...)`. */
static int fail(const char *what, mlp_status status)
{
    fprintf(stderr, "xor: %s: %s\n", what, mlp_strerror(status));
    return 1;
}

/* Prints the training loss every 100 epochs; never stops training early. */
static int progress(const mlp_epoch_info *info, void *user)
{
    (void)user;
    if ((info->epoch + 1) % 100 == 0)
        printf("epoch %4zu  loss %.6f\n", info->epoch + 1, info->train_loss);
    return 0;
}

/* Builds the network, trains it on the four XOR rows and checks the table. */
static int run(mlp_net *net, mlp_optimizer **opt, const char *save_path)
{
    static const float X[4 * 2] = {0, 0, 0, 1, 1, 0, 1, 1};
    static const float Y[4] = {0, 1, 1, 0};
    float out[4];
    mlp_status st;

    if ((st = mlp_net_add_dense(net, 4, MLP_TANH)) != MLP_OK ||
        (st = mlp_net_add_dense(net, 1, MLP_SIGMOID)) != MLP_OK)
        return fail("mlp_net_add_dense", st);
    if ((st = mlp_adam_create(opt, net, 0.05f, 0.9f, 0.999f, 1e-8f, 0.0f)) != MLP_OK)
        return fail("mlp_adam_create", st);

    mlp_fit_options options = mlp_fit_defaults();
    options.epochs = 500;
    options.batch_size = 4;
    options.callback = progress;
    if ((st = mlp_fit(net, *opt, X, Y, 4, &options)) != MLP_OK)
        return fail("mlp_fit", st);
    if ((st = mlp_predict(net, X, 4, out)) != MLP_OK)
        return fail("mlp_predict", st);

    int wrong = 0;
    printf("\n a b | xor | output\n");
    for (int i = 0; i < 4; i++) {
        printf(" %g %g |  %g  | %.4f\n", X[2 * i], X[2 * i + 1], Y[i], out[i]);
        wrong += (out[i] > 0.5f) != (Y[i] > 0.5f);
    }
    if (save_path != NULL && (st = mlp_net_save(net, save_path)) != MLP_OK)
        return fail("mlp_net_save", st);
    if (wrong != 0)
        fprintf(stderr, "xor: %d of 4 outputs on the wrong side of 0.5\n", wrong);
    return wrong != 0;
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
    mlp_status st = mlp_net_create(&net, 2, MLP_BCE, 42);
    if (st != MLP_OK)
        return fail("mlp_net_create", st);
    int rc = run(net, &opt, save_path);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
    return rc;
}
