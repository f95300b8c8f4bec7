/*
 * Model files in the format of docs/model-format.md: a little-endian header
 * (magic, version, loss, sizes, one entry per layer), the parameters as
 * float32 words and a CRC-32 of everything before it, written and read
 * with file_io.c's helpers, so the format is the same on every host.
 *
 * Loading never trusts the input: the header is checked field by field, its
 * sizes (with overflow checks) must give exactly the length of the input and
 * the checksum must match, all before anything is allocated, so a short,
 * corrupt or hostile input costs at most one pass over its bytes.
 */
#include "internal.h"

#include <string.h>

enum {
    MODEL_VERSION = 1,
    HEADER_BYTES = 32, /* magic, version, loss, n_inputs, n_layers */
    LAYER_BYTES = 12,  /* n_out, activation */
    CRC_BYTES = 4
};

static const unsigned char model_magic[8] = {'M', 'L', 'P', 'N', 'E', 'T', 0, 0};

/* A loaded network is created with this seed (docs/model-format.md). */
static const uint64_t loaded_seed = 0;

/* The codes the file uses, by position, so the format does not depend on the
 * numeric values of the public enums. */
static const mlp_loss loss_codes[] = {MLP_MSE, MLP_BCE, MLP_CROSS_ENTROPY};
static const mlp_activation activation_codes[] = {
    MLP_IDENTITY, MLP_SIGMOID, MLP_TANH, MLP_RELU, MLP_LEAKY_RELU, MLP_SOFTMAX};

/* ---- Sizes and codes ---- */

/* The saved size of a network: header, layer table, parameters, checksum.
 * False when it overflows size_t. */
static bool model_size(size_t n_layers, size_t n_params, size_t *size)
{
    size_t table, floats, total;
    return !mlp_mul_overflows(n_layers, LAYER_BYTES, &table) &&
           !mlp_mul_overflows(n_params, sizeof(float), &floats) &&
           !mlp_add_overflows(HEADER_BYTES + CRC_BYTES, table, &total) &&
           !mlp_add_overflows(total, floats, size);
}

static uint32_t loss_code(mlp_loss loss)
{
    uint32_t code = 0;
    while (code + 1 < sizeof loss_codes / sizeof loss_codes[0] &&
           loss_codes[code] != loss)
        code++;
    return code;
}

static uint32_t activation_code(mlp_activation act)
{
    uint32_t code = 0;
    while (code + 1 < sizeof activation_codes / sizeof activation_codes[0] &&
           activation_codes[code] != act)
        code++;
    return code;
}

/* A layer width or input count as stored: 1 to the largest BLAS dimension. */
static bool decode_width(uint64_t stored, size_t *width)
{
    if (stored == 0 || stored > mlp_gemm_max_dim())
        return false;
    *width = (size_t)stored;
    return true;
}

/* ---- Checking a header ---- */

/* What a header describes, gathered while its fields are checked in order,
 * so that the buffer and the file reader share every check. */
typedef struct model_shape {
    mlp_loss loss;
    size_t n_inputs;
    size_t n_layers;
    size_t layers_seen;
    size_t width; /* n_out of the last layer seen; n_inputs before any */
    mlp_activation last_act;
    size_t n_params;
} model_shape;

/* Checks the fixed header (HEADER_BYTES at head) of an input of total_len
 * bytes: magic, version, loss, input count, and a layer count whose table
 * fits in the input, so that the table can be read without a bound check. */
static bool shape_begin(model_shape *shape, const unsigned char *head, size_t total_len)
{
    uint32_t loss = mlp_get_u32(head + 12);
    uint64_t n_layers = mlp_get_u64(head + 24);
    size_t room = (total_len - HEADER_BYTES - CRC_BYTES) / LAYER_BYTES;
    if (memcmp(head, model_magic, sizeof model_magic) != 0 ||
        mlp_get_u32(head + 8) != MODEL_VERSION ||
        loss >= sizeof loss_codes / sizeof loss_codes[0] ||
        !decode_width(mlp_get_u64(head + 16), &shape->n_inputs) || n_layers == 0 ||
        n_layers > room)
        return false;
    shape->loss = loss_codes[loss];
    shape->n_layers = (size_t)n_layers;
    shape->layers_seen = 0;
    shape->width = shape->n_inputs;
    shape->last_act = MLP_IDENTITY; /* read only after a layer is seen */
    shape->n_params = 0;
    return true;
}

/* Checks one layer entry as mlp_net_add_dense would (width, activation,
 * softmax only last and only with cross-entropy) and counts its
 * parameters with overflow checks. */
static bool shape_add_layer(model_shape *shape, const unsigned char *entry)
{
    size_t n_out, weights, layer_params;
    uint32_t act = mlp_get_u32(entry + 8);
    if (!decode_width(mlp_get_u64(entry), &n_out) ||
        act >= sizeof activation_codes / sizeof activation_codes[0])
        return false;
    if (shape->layers_seen > 0 && shape->last_act == MLP_SOFTMAX)
        return false;
    if (activation_codes[act] == MLP_SOFTMAX && shape->loss != MLP_CROSS_ENTROPY)
        return false;
    if (mlp_mul_overflows(n_out, shape->width, &weights) ||
        mlp_add_overflows(weights, n_out, &layer_params) ||
        mlp_add_overflows(shape->n_params, layer_params, &shape->n_params))
        return false;
    shape->width = n_out;
    shape->last_act = activation_codes[act];
    shape->layers_seen++;
    return true;
}

/* After the last layer: the output must suit the loss (the network must be
 * trainable), and the sizes must add up to exactly total_len bytes. */
static bool shape_finish(const model_shape *shape, size_t total_len)
{
    size_t size;
    return mlp_loss_accepts(shape->loss, shape->last_act) &&
           model_size(shape->n_layers, shape->n_params, &size) && size == total_len;
}

/* Checks the header and layer table of the len bytes at bytes. */
static bool parse_shape(model_shape *shape, const unsigned char *bytes, size_t len)
{
    if (len < HEADER_BYTES + CRC_BYTES || !shape_begin(shape, bytes, len))
        return false;
    for (size_t l = 0; l < shape->n_layers; l++)
        if (!shape_add_layer(shape, bytes + HEADER_BYTES + l * LAYER_BYTES))
            return false;
    return shape_finish(shape, len);
}

/* ---- Building the network ---- */

/* Statuses of the network functions seen from a file: running out of memory
 * stays what it is, any refusal means the file describes no valid network. */
static mlp_status as_format(mlp_status status)
{
    return status == MLP_OK || status == MLP_ERR_NOMEM ? status : MLP_ERR_FORMAT;
}

/* Builds the network a checked header describes, with the checks a user's
 * mlp_net_add_dense calls would make (all layers in one call, so that a
 * deep network loads in linear time), then overwrites the initial
 * parameters with the file's. */
static mlp_status build_net(mlp_net **out, const model_shape *shape,
                            const unsigned char *bytes)
{
    mlp_net *net = NULL;
    size_t *widths = mlp_alloc_zero(shape->n_layers, sizeof *widths);
    mlp_activation *acts = mlp_alloc_zero(shape->n_layers, sizeof *acts);
    mlp_status status = widths && acts ? MLP_OK : MLP_ERR_NOMEM;
    for (size_t l = 0; l < shape->n_layers && status == MLP_OK; l++) {
        const unsigned char *entry = bytes + HEADER_BYTES + l * LAYER_BYTES;
        widths[l] = (size_t)mlp_get_u64(entry);
        acts[l] = activation_codes[mlp_get_u32(entry + 8)];
    }
    if (status == MLP_OK)
        status =
            as_format(mlp_net_create(&net, shape->n_inputs, shape->loss, loaded_seed));
    if (status == MLP_OK)
        status = as_format(mlp_net_add_layers(net, shape->n_layers, widths, acts));
    mlp_dealloc(widths);
    mlp_dealloc(acts);
    if (status == MLP_OK)
        status = as_format(mlp_net_check_trainable(net));
    const unsigned char *p = bytes + HEADER_BYTES + shape->n_layers * LAYER_BYTES;
    /* the views themselves, not mlp_layer_params, which would mark the new
     * network's parameters as exposed to the caller */
    for (size_t l = 0; status == MLP_OK && l < shape->n_layers; l++) {
        const mlp_layer *L = &net->layers[l];
        mlp_get_floats(L->W, p, L->n_out * L->n_in);
        p += 4 * L->n_out * L->n_in;
        mlp_get_floats(L->b, p, L->n_out);
        p += 4 * L->n_out;
    }
    if (status != MLP_OK) {
        mlp_net_free(net);
        return status;
    }
    *out = net;
    return MLP_OK;
}

mlp_status mlp_net_load_buffer(mlp_net **out, const void *buf, size_t len)
{
    if (!out || !buf)
        return MLP_ERR_ARG;
    const unsigned char *bytes = buf;
    model_shape shape;
    if (!parse_shape(&shape, bytes, len) ||
        mlp_crc32(bytes, len - CRC_BYTES) != mlp_get_u32(bytes + len - CRC_BYTES))
        return MLP_ERR_FORMAT;
    return build_net(out, &shape, bytes);
}

/* ---- Saving to a buffer ---- */

mlp_status mlp_net_saved_size(const mlp_net *net, size_t *size)
{
    if (!net || !size)
        return MLP_ERR_ARG;
    mlp_status status = mlp_net_check_trainable(net);
    if (status != MLP_OK)
        return status;
    return model_size(net->n_layers, net->n_params, size) ? MLP_OK : MLP_ERR_SHAPE;
}

/* Writes the saved form of a network (obj), whose size is size, to bytes. */
static void serialize(const void *obj, unsigned char *bytes, size_t size)
{
    const mlp_net *net = obj;
    memcpy(bytes, model_magic, sizeof model_magic);
    mlp_put_u32(bytes + 8, MODEL_VERSION);
    mlp_put_u32(bytes + 12, loss_code(net->loss));
    mlp_put_u64(bytes + 16, net->n_inputs);
    mlp_put_u64(bytes + 24, net->n_layers);
    unsigned char *p = bytes + HEADER_BYTES;
    for (size_t l = 0; l < net->n_layers; l++, p += LAYER_BYTES) {
        mlp_put_u64(p, net->layers[l].n_out);
        mlp_put_u32(p + 8, activation_code(net->layers[l].act));
    }
    for (size_t l = 0; l < net->n_layers; l++) {
        const mlp_layer *L = &net->layers[l];
        mlp_put_floats(p, L->W, L->n_out * L->n_in);
        p += 4 * L->n_out * L->n_in;
        mlp_put_floats(p, L->b, L->n_out);
        p += 4 * L->n_out;
    }
    mlp_put_u32(p, mlp_crc32(bytes, size - CRC_BYTES));
}

mlp_status mlp_net_save_buffer(const mlp_net *net, void *buf, size_t cap, size_t *written)
{
    if (!net || !buf || !written)
        return MLP_ERR_ARG;
    size_t size;
    mlp_status status = mlp_net_saved_size(net, &size);
    if (status != MLP_OK)
        return status;
    if (cap < size)
        return MLP_ERR_SHAPE;
    serialize(net, buf, size);
    *written = size;
    return MLP_OK;
}

mlp_status mlp_net_save(const mlp_net *net, const char *path)
{
    if (!net || !path)
        return MLP_ERR_ARG;
    size_t size;
    mlp_status status = mlp_net_saved_size(net, &size);
    return status == MLP_OK ? mlp_save_atomically(path, net, size, serialize) : status;
}

/* Checks a file's header and layer table entry by entry, without buffering
 * them, so that the file's size is allocated only once the header accounts
 * for exactly that size (mlp_read_file's check). */
static mlp_status check_file_shape(int fd, size_t size)
{
    unsigned char head[HEADER_BYTES];
    model_shape shape;
    if (size < HEADER_BYTES + CRC_BYTES)
        return MLP_ERR_FORMAT;
    mlp_status status = mlp_read_at(fd, head, sizeof head, 0);
    if (status != MLP_OK)
        return status;
    if (!shape_begin(&shape, head, size))
        return MLP_ERR_FORMAT;
    for (size_t l = 0; l < shape.n_layers; l++) {
        unsigned char entry[LAYER_BYTES];
        status = mlp_read_at(fd, entry, sizeof entry, HEADER_BYTES + l * LAYER_BYTES);
        if (status != MLP_OK)
            return status;
        if (!shape_add_layer(&shape, entry))
            return MLP_ERR_FORMAT;
    }
    return shape_finish(&shape, size) ? MLP_OK : MLP_ERR_FORMAT;
}

mlp_status mlp_net_load(mlp_net **out, const char *path)
{
    if (!out || !path)
        return MLP_ERR_ARG;
    unsigned char *bytes;
    size_t len;
    mlp_status status = mlp_read_file(path, check_file_shape, &bytes, &len);
    if (status == MLP_OK)
        status = mlp_net_load_buffer(out, bytes, len);
    mlp_dealloc(bytes);
    return status;
}
