/*
 * libFuzzer target: mlp_net_load_buffer on arbitrary bytes. A model that
 * loads must save back to exactly the same bytes (the format has one
 * encoding per network, NaN payloads included) and run inference; anything
 * else must be refused with MLP_ERR_FORMAT (or MLP_ERR_NOMEM), never crash,
 * read out of bounds or leak.
 *
 * Each input is tried as it is and resealed with a valid checksum
 * (reseal.h), so that mutated headers, layer tables and parameters get
 * past the checksum to the checks behind it.
 */
#include "mlp.h"
#include "reseal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Saving the loaded network gives the input back, and a zero row runs. */
static void check_loaded(const mlp_net *net, const uint8_t *data, size_t size)
{
    size_t saved_size = 0, written = 0;
    if (mlp_net_saved_size(net, &saved_size) != MLP_OK || saved_size != size)
        abort();
    uint8_t *copy = malloc(size);
    if (!copy)
        return;
    if (mlp_net_save_buffer(net, copy, size, &written) != MLP_OK || written != size ||
        memcmp(copy, data, size) != 0)
        abort();
    free(copy);

    size_t n_in = mlp_net_inputs(net), n_out = mlp_net_outputs(net);
    size_t work_len = mlp_infer_workspace_size(net, 1);
    float *x = calloc(n_in, sizeof *x), *out = malloc(n_out * sizeof *out);
    float *work = malloc(work_len * sizeof *work);
    if (x && out && work && mlp_infer(net, x, 1, out, work, work_len) != MLP_OK)
        abort();
    free(x);
    free(out);
    free(work);
}

/* Loads size bytes at data and checks the outcome. */
static void try_load(const uint8_t *data, size_t size)
{
    mlp_net *net = NULL;
    /* a non-NULL pointer even for size 0, as a caller would pass */
    mlp_status status = mlp_net_load_buffer(&net, size ? (const void *)data : "", size);
    if (status == MLP_OK) {
        if (!net)
            abort();
        check_loaded(net, data, size);
        mlp_net_free(net);
    } else if ((status != MLP_ERR_FORMAT && status != MLP_ERR_NOMEM) || net) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_as_is_and_resealed(data, size, try_load);
    return 0;
}
