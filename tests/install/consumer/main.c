/* Learns XOR with a 2-8-1 network and checks the four answers. */
#include <mlp.h>
#include <stdio.h>

int main(void)
{
    const float X[] = {0, 0, 0, 1, 1, 0, 1, 1}; /* 4 samples, one per row */
    const float Y[] = {0, 1, 1, 0};
    float out[4], loss = 0;
    mlp_net *net = NULL;
    mlp_optimizer *opt = NULL;

    mlp_status st = mlp_net_create(&net, 2, MLP_BCE, 1); /* 2 inputs, seed 1 */
    if (st == MLP_OK)
        st = mlp_net_add_dense(net, 8, MLP_TANH);
    if (st == MLP_OK)
        st = mlp_net_add_dense(net, 1, MLP_SIGMOID);
    if (st == MLP_OK)
        st = mlp_sgd_create(&opt, net, 0.5f, 0.9f, 0.0f); /* lr, momentum, decay */
    for (int step = 0; step < 1000 && st == MLP_OK; step++)
        st = mlp_train_batch(net, opt, X, Y, 4, &loss);
    if (st == MLP_OK)
        st = mlp_predict(net, X, 4, out);

    int wrong = st != MLP_OK;
    if (st != MLP_OK)
        fprintf(stderr, "libmlp: %s\n", mlp_strerror(st));
    else
        for (int i = 0; i < 4; i++) {
            printf("%g xor %g -> %.3f\n", X[2 * i], X[2 * i + 1], out[i]);
            wrong += (out[i] > 0.5f) != (Y[i] > 0.5f);
        }
    printf("final loss %.5f\n", loss);
    mlp_optimizer_free(opt);
    mlp_net_free(net);
    return wrong != 0;
}
