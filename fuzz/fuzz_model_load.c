/*
 * libFuzzer target: mlp_net_load_buffer on arbitrary bytes. A model that
 * loads must save back to exactly the same bytes (the format has one
 * encoding per network, NaN payloads included) and run inference; anything
 * else must be refused with MLP_ERR_FORMAT (or MLP_ERR_NOMEM), never crash,
 * read out of bounds or leak.
 *
 * Each input is tried twice: as it is, and with its last four bytes
 * replaced by the right CRC-32 of the rest, so that mutated headers, layer
 * tables and parameters get past the checksum to the checks behind it.
 */
#include "mlp.h"

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

/* CRC-32 (IEEE, reflected), bit by bit: an independent implementation of
 * the format's checksum. */
static uint32_t crc32_bytes(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t k = 0; k < n; k++) {
        crc ^= p[k];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
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
    try_load(data, size);
    if (size < 4)
        return 0;
    uint8_t *sealed = malloc(size);
    if (!sealed)
        return 0;
    memcpy(sealed, data, size);
    uint32_t crc = crc32_bytes(sealed, size - 4);
    for (int k = 0; k < 4; k++)
        sealed[size - 4 + k] = (uint8_t)(crc >> (8 * k));
    try_load(sealed, size);
    free(sealed);
    return 0;
}
