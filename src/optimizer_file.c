/*
 * Optimizer state files in the format of docs/optimizer-format.md: a
 * little-endian header (magic, version, kind, flags, parameter count, step
 * count, hyperparameters), the moment buffers as float32 words and a
 * CRC-32 of everything before it. With the network's own model file, they
 * let training stop and resume with the same steps, bit for bit, as
 * training that never stopped.
 *
 * Loading never trusts the input: the header's fields, the size they imply
 * and the checksum are checked, then every setting as the create functions
 * would and every buffer entry, all before anything is allocated.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

enum {
    OPT_FILE_VERSION = 1,
    OPT_HEADER_BYTES = 60, /* magic to epsilon, docs/optimizer-format.md */
    OPT_CRC_BYTES = 4
};

static const unsigned char opt_magic[8] = {'M', 'L', 'P', 'O', 'P', 'T', 0, 0};

/* Kind codes in the file, fixed by the format. */
enum { CODE_SGD = 0, CODE_ADAM = 1, CODE_ADAMW = 2, CODE_COUNT = 3 };

/* Flag bits in the file. */
enum { FLAG_NESTEROV = 1u };

/* A header's fields, decoded. */
typedef struct opt_header {
    uint32_t kind_code;
    bool nesterov;
    size_t n_params;
    uint64_t steps;
    float learning_rate, weight_decay, momentum, beta1, beta2, epsilon;
    size_t n_buffers; /* moment buffers that follow: 0, 1 or 2 */
} opt_header;

static float get_float(const unsigned char *p)
{
    float x;
    mlp_get_floats(&x, p, 1);
    return x;
}

/* The moment buffers an optimizer keeps: SGD's velocity when it has
 * momentum, Adam's first and second moments. */
static size_t buffer_count(uint32_t kind_code, float momentum)
{
    return kind_code == CODE_SGD ? (momentum != 0.0f) : 2;
}

/* Header, n_buffers buffers of n_params floats, checksum; false when the
 * size overflows size_t. */
static bool opt_size(size_t n_buffers, size_t n_params, size_t *size)
{
    size_t floats, bytes;
    return !mlp_mul_overflows(n_buffers, n_params, &floats) &&
           !mlp_mul_overflows(floats, sizeof(float), &bytes) &&
           !mlp_add_overflows(bytes, OPT_HEADER_BYTES + OPT_CRC_BYTES, size);
}

/* Whether a float field is +0.0 exactly: settings a kind does not use are
 * stored as zero bits, so each state has one encoding. */
static bool zero_bits(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits == 0;
}

/* The settings as mlp_sgd_create, mlp_sgd_set_nesterov, mlp_adam_create
 * and mlp_adamw_create check them, and zero where the kind has none. A
 * setting of -0, which those functions accept and store as +0, is not an
 * encoding a save makes. */
static bool settings_valid(const opt_header *h)
{
    if (signbit(h->weight_decay))
        return false;
    if (h->kind_code == CODE_SGD)
        return mlp_sgd_settings_valid(h->learning_rate, h->momentum, h->weight_decay) &&
               !signbit(h->momentum) && (!h->nesterov || h->momentum > 0.0f) &&
               zero_bits(h->beta1) && zero_bits(h->beta2) && zero_bits(h->epsilon);
    return mlp_adam_settings_valid(h->learning_rate, h->beta1, h->beta2, h->epsilon,
                                   h->weight_decay) &&
           !signbit(h->beta1) && !signbit(h->beta2) && !h->nesterov &&
           zero_bits(h->momentum);
}

/* Decodes and checks the header (OPT_HEADER_BYTES at head) of an input of
 * total_len bytes: magic, version, codes, settings, and a size that is
 * exactly total_len. */
static bool parse_header(opt_header *h, const unsigned char *head, size_t total_len)
{
    uint32_t flags = mlp_get_u32(head + 16);
    uint64_t n_params = mlp_get_u64(head + 20);
    *h = (opt_header){
        .kind_code = mlp_get_u32(head + 12),
        .nesterov = (flags & FLAG_NESTEROV) != 0,
        .steps = mlp_get_u64(head + 28),
        .learning_rate = get_float(head + 36),
        .weight_decay = get_float(head + 40),
        .momentum = get_float(head + 44),
        .beta1 = get_float(head + 48),
        .beta2 = get_float(head + 52),
        .epsilon = get_float(head + 56),
    };
    size_t size;
    if (memcmp(head, opt_magic, sizeof opt_magic) != 0 ||
        mlp_get_u32(head + 8) != OPT_FILE_VERSION || h->kind_code >= CODE_COUNT ||
        (flags & ~FLAG_NESTEROV) != 0 || n_params == 0 || n_params > SIZE_MAX ||
        !settings_valid(h))
        return false;
    h->n_params = (size_t)n_params;
    h->n_buffers = buffer_count(h->kind_code, h->momentum);
    return opt_size(h->n_buffers, h->n_params, &size) && size == total_len;
}

/* Whether the buffers hold a state an optimizer can reach: every entry
 * finite, and Adam's second moment (a running mean of squares) not
 * negative. */
static bool buffers_valid(const opt_header *h, const unsigned char *p)
{
    for (size_t b = 0; b < h->n_buffers; b++)
        for (size_t k = 0; k < h->n_params; k++, p += 4) {
            float x = get_float(p);
            if (!isfinite(x) || (b == 1 && x < 0.0f))
                return false;
        }
    return true;
}

/* Creates the optimizer the checked header describes for net, then gives
 * it the file's step count and buffers. */
static mlp_status build_optimizer(mlp_optimizer **out, const mlp_net *net,
                                  const opt_header *h, const unsigned char *buffers)
{
    mlp_optimizer *opt = NULL;
    mlp_status status;
    if (h->kind_code == CODE_SGD)
        status =
            mlp_sgd_create(&opt, net, h->learning_rate, h->momentum, h->weight_decay);
    else if (h->kind_code == CODE_ADAM)
        status = mlp_adam_create(&opt, net, h->learning_rate, h->beta1, h->beta2,
                                 h->epsilon, h->weight_decay);
    else
        status = mlp_adamw_create(&opt, net, h->learning_rate, h->beta1, h->beta2,
                                  h->epsilon, h->weight_decay);
    if (status != MLP_OK)
        return status; /* only MLP_ERR_NOMEM: everything else was checked */
    opt->nesterov = h->nesterov;
    opt->steps = h->steps;
    if (h->n_buffers >= 1)
        mlp_get_floats(opt->velocity, buffers, h->n_params);
    if (h->n_buffers == 2)
        mlp_get_floats(opt->second_moment, buffers + 4 * h->n_params, h->n_params);
    mlp_optimizer_refresh_maxima(opt);
    *out = opt;
    return MLP_OK;
}

mlp_status mlp_optimizer_load_buffer(mlp_optimizer **out, const mlp_net *net,
                                     const void *buf, size_t len)
{
    if (!out || !net || !buf || net->n_layers == 0)
        return MLP_ERR_ARG;
    const unsigned char *bytes = buf;
    opt_header h;
    if (len < OPT_HEADER_BYTES + OPT_CRC_BYTES || !parse_header(&h, bytes, len) ||
        mlp_crc32(bytes, len - OPT_CRC_BYTES) != mlp_get_u32(bytes + len - OPT_CRC_BYTES))
        return MLP_ERR_FORMAT;
    if (!buffers_valid(&h, bytes + OPT_HEADER_BYTES))
        return MLP_ERR_FORMAT;
    if (h.n_params != net->n_params)
        return MLP_ERR_SHAPE;
    return build_optimizer(out, net, &h, bytes + OPT_HEADER_BYTES);
}

/* ---- Saving ---- */

static uint32_t kind_code(const mlp_optimizer *opt)
{
    if (opt->kind == MLP_OPT_SGD)
        return CODE_SGD;
    return opt->decoupled_decay ? CODE_ADAMW : CODE_ADAM;
}

static void put_float(unsigned char *p, float x)
{
    mlp_put_floats(p, &x, 1);
}

mlp_status mlp_optimizer_saved_size(const mlp_optimizer *opt, size_t *size)
{
    if (!opt || !size)
        return MLP_ERR_ARG;
    size_t n_buffers = buffer_count(kind_code(opt), opt->momentum);
    return opt_size(n_buffers, opt->n_params, size) ? MLP_OK : MLP_ERR_SHAPE;
}

/* Writes the saved form of an optimizer (obj), whose size is size, to
 * bytes. Settings the kind does not use are zero in the optimizer already. */
static void serialize(const void *obj, unsigned char *bytes, size_t size)
{
    const mlp_optimizer *opt = obj;
    const uint32_t code = kind_code(opt);
    memcpy(bytes, opt_magic, sizeof opt_magic);
    mlp_put_u32(bytes + 8, OPT_FILE_VERSION);
    mlp_put_u32(bytes + 12, code);
    mlp_put_u32(bytes + 16, opt->nesterov ? FLAG_NESTEROV : 0);
    mlp_put_u64(bytes + 20, opt->n_params);
    mlp_put_u64(bytes + 28, opt->steps);
    put_float(bytes + 36, opt->learning_rate);
    put_float(bytes + 40, opt->weight_decay);
    put_float(bytes + 44, opt->momentum);
    put_float(bytes + 48, opt->beta1);
    put_float(bytes + 52, opt->beta2);
    put_float(bytes + 56, opt->epsilon);
    unsigned char *p = bytes + OPT_HEADER_BYTES;
    const size_t n_buffers = buffer_count(code, opt->momentum);
    if (n_buffers >= 1)
        mlp_put_floats(p, opt->velocity, opt->n_params);
    if (n_buffers == 2)
        mlp_put_floats(p + 4 * opt->n_params, opt->second_moment, opt->n_params);
    mlp_put_u32(bytes + size - OPT_CRC_BYTES, mlp_crc32(bytes, size - OPT_CRC_BYTES));
}

mlp_status mlp_optimizer_save_buffer(const mlp_optimizer *opt, void *buf, size_t cap,
                                     size_t *written)
{
    if (!opt || !buf || !written)
        return MLP_ERR_ARG;
    size_t size;
    mlp_status status = mlp_optimizer_saved_size(opt, &size);
    if (status != MLP_OK)
        return status;
    if (cap < size)
        return MLP_ERR_SHAPE;
    serialize(opt, buf, size);
    *written = size;
    return MLP_OK;
}

/* ---- Files ---- */

mlp_status mlp_optimizer_save(const mlp_optimizer *opt, const char *path)
{
    if (!opt || !path)
        return MLP_ERR_ARG;
    size_t size;
    mlp_status status = mlp_optimizer_saved_size(opt, &size);
    return status == MLP_OK ? mlp_save_atomically(path, opt, size, serialize) : status;
}

/* mlp_read_file's check: the header accounts for exactly size bytes. */
static mlp_status check_file_header(int fd, size_t size)
{
    unsigned char head[OPT_HEADER_BYTES];
    opt_header h;
    if (size < OPT_HEADER_BYTES + OPT_CRC_BYTES)
        return MLP_ERR_FORMAT;
    mlp_status status = mlp_read_at(fd, head, sizeof head, 0);
    if (status != MLP_OK)
        return status;
    return parse_header(&h, head, size) ? MLP_OK : MLP_ERR_FORMAT;
}

mlp_status mlp_optimizer_load(mlp_optimizer **out, const mlp_net *net, const char *path)
{
    if (!out || !net || !path)
        return MLP_ERR_ARG;
    unsigned char *bytes;
    size_t len;
    mlp_status status = mlp_read_file(path, check_file_header, &bytes, &len);
    if (status == MLP_OK)
        status = mlp_optimizer_load_buffer(out, net, bytes, len);
    mlp_dealloc(bytes);
    return status;
}
