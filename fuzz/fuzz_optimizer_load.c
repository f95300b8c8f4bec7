/*
 * libFuzzer target: mlp_optimizer_load_buffer on arbitrary bytes, for a
 * fixed 2-3-1 network (13 parameters). A state that loads must save back
 * to exactly the same bytes (each state has one encoding) and take a
 * training step, which either succeeds or is refused as MLP_ERR_NUMERIC;
 * anything else must be refused with MLP_ERR_FORMAT, MLP_ERR_SHAPE (a
 * valid state for another parameter count) or MLP_ERR_NOMEM, never crash,
 * read out of bounds or leak.
 *
 * Each input is tried as it is and resealed with a valid checksum
 * (reseal.h), so that mutated fields get past the checksum to the checks
 * behind it.
 */
#include "mlp.h"
#include "reseal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mlp_net *fixed_net(void)
{
    mlp_net *net = NULL;
    if (mlp_net_create(&net, 2, MLP_MSE, 3) != MLP_OK)
        return NULL;
    if (mlp_net_add_dense(net, 3, MLP_TANH) != MLP_OK ||
        mlp_net_add_dense(net, 1, MLP_SIGMOID) != MLP_OK) {
        mlp_net_free(net);
        return NULL;
    }
    return net;
}

/* Saving the loaded optimizer gives the input back, and it can step. */
static void check_loaded(mlp_optimizer *opt, mlp_net *net, const uint8_t *data,
                         size_t size)
{
    size_t saved_size = 0, written = 0;
    if (mlp_optimizer_saved_size(opt, &saved_size) != MLP_OK || saved_size != size)
        abort();
    uint8_t *copy = malloc(size);
    if (!copy)
        return;
    if (mlp_optimizer_save_buffer(opt, copy, size, &written) != MLP_OK ||
        written != size || memcmp(copy, data, size) != 0)
        abort();
    free(copy);

    const float x[2] = {0.5f, -1.0f}, y[1] = {1.0f};
    mlp_status status = mlp_train_batch(net, opt, x, y, 1, NULL);
    if (status != MLP_OK && status != MLP_ERR_NUMERIC)
        abort();
}

/* Loads size bytes at data and checks the outcome. */
static void try_load(const uint8_t *data, size_t size)
{
    mlp_net *net = fixed_net();
    if (!net)
        return;
    mlp_optimizer *opt = NULL;
    /* a non-NULL pointer even for size 0, as a caller would pass */
    mlp_status status =
        mlp_optimizer_load_buffer(&opt, net, size ? (const void *)data : "", size);
    if (status == MLP_OK) {
        if (!opt)
            abort();
        check_loaded(opt, net, data, size);
        mlp_optimizer_free(opt);
    } else if ((status != MLP_ERR_FORMAT && status != MLP_ERR_SHAPE &&
                status != MLP_ERR_NOMEM) ||
               opt) {
        abort();
    }
    mlp_net_free(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_as_is_and_resealed(data, size, try_load);
    return 0;
}
