/*
 * Prints a fingerprint of training runs that go through every loop compiled
 * for more than one vector width (MLP_VECTOR_CLONES in src/internal.h): the
 * activations of the general path, every optimizer, and the matrix-vector,
 * outer and shallow A^T B products of batches of one to four rows. The test
 * clone_parity builds this program twice, against libmlp and against a copy
 * compiled with MLP_NO_VECTOR_CLONES (baseline width only), and requires
 * the same output: the same bits whichever copy the CPU runs.
 */
#include "mlp.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum { n_in = 12, n_out = 5, batch = 16, steps = 20 };

/* FNV-1a over bytes, chained through *hash. */
static void fnv1a(uint64_t *hash, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t k = 0; k < n; k++)
        *hash = (*hash ^ p[k]) * 1099511628211u;
}

/* Deterministic inputs in [-2, 2] and targets valid for every loss: rows
 * that sum to 1 with entries in [0, 1]. */
static void make_batch(float *X, float *Y)
{
    uint32_t s = 12345u;
    for (size_t k = 0; k < batch * n_in; k++) {
        s = s * 1664525u + 1013904223u;
        X[k] = (float)(s >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
    }
    memset(Y, 0, sizeof(float) * batch * n_out);
    for (size_t i = 0; i < batch; i++)
        Y[i * n_out + i % n_out] = 1.0f;
}

typedef enum { SGD, SGD_MOMENTUM, NESTEROV, ADAM, ADAMW } opt_kind;

static mlp_status make_optimizer(mlp_optimizer **opt, mlp_net *net, opt_kind kind)
{
    switch (kind) {
    case SGD:
        return mlp_sgd_create(opt, net, 0.05f, 0.0f, 0.001f);
    case SGD_MOMENTUM:
        return mlp_sgd_create(opt, net, 0.05f, 0.9f, 0.001f);
    case NESTEROV: {
        mlp_status status = mlp_sgd_create(opt, net, 0.05f, 0.9f, 0.0f);
        return status == MLP_OK ? mlp_sgd_set_nesterov(*opt, 1) : status;
    }
    case ADAM:
        return mlp_adam_create(opt, net, 0.01f, 0.9f, 0.999f, 1e-8f, 0.001f);
    case ADAMW:
        return mlp_adamw_create(opt, net, 0.01f, 0.9f, 0.999f, 1e-8f, 0.01f);
    }
    return MLP_ERR_ARG;
}

/* steps training steps on the first m rows of the batch; prints the
 * losses' and parameters' fingerprint. */
static int run(mlp_activation hidden, mlp_activation out, mlp_loss loss, opt_kind kind,
               size_t m)
{
    static float X[batch * n_in], Y[batch * n_out];
    make_batch(X, Y);
    mlp_net *net = NULL;
    mlp_optimizer *opt = NULL;
    mlp_status status = mlp_net_create(&net, n_in, loss, 7);
    if (status == MLP_OK)
        status = mlp_net_add_dense(net, 40, hidden);
    if (status == MLP_OK)
        status = mlp_net_add_dense(net, 30, hidden);
    if (status == MLP_OK)
        status = mlp_net_add_dense(net, n_out, out);
    if (status == MLP_OK)
        status = make_optimizer(&opt, net, kind);
    uint64_t hash = 14695981039346656037u;
    for (int s = 0; s < steps && status == MLP_OK; s++) {
        float value;
        status = mlp_train_batch(net, opt, X, Y, m, &value);
        fnv1a(&hash, &value, sizeof value);
    }
    for (size_t l = 0; l < mlp_net_layers(net) && status == MLP_OK; l++) {
        float *W, *b;
        size_t rows, cols;
        status = mlp_layer_params(net, l, &W, &b, &rows, &cols);
        if (status == MLP_OK) {
            fnv1a(&hash, W, rows * cols * sizeof *W);
            fnv1a(&hash, b, rows * sizeof *b);
        }
    }
    printf("hidden %d output %d loss %d optimizer %d rows %zu: %s %016" PRIx64 "\n",
           (int)hidden, (int)out, (int)loss, (int)kind, m, mlp_strerror(status), hash);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
    return status == MLP_OK ? 0 : 1;
}

int main(void)
{
    static const mlp_activation hidden[] = {MLP_IDENTITY, MLP_SIGMOID, MLP_TANH, MLP_RELU,
                                            MLP_LEAKY_RELU};
    int failures = 0;
    for (size_t h = 0; h < sizeof hidden / sizeof hidden[0]; h++)
        for (opt_kind kind = SGD; kind <= ADAMW; kind++)
            failures += run(hidden[h], MLP_SOFTMAX, MLP_CROSS_ENTROPY, kind, batch);
    failures += run(MLP_TANH, MLP_SIGMOID, MLP_BCE, ADAM, batch);
    for (size_t h = 0; h < sizeof hidden / sizeof hidden[0]; h++)
        failures += run(MLP_RELU, hidden[h], MLP_MSE, SGD_MOMENTUM, batch);
    /* batches of a few rows: products with a vector operand, shallow dW */
    for (size_t m = 1; m <= 4; m++)
        failures += run(MLP_TANH, MLP_SOFTMAX, MLP_CROSS_ENTROPY, SGD_MOMENTUM, m);
    return failures == 0 ? 0 : 1;
}
