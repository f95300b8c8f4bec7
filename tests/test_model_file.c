/*
 * Model files (docs/model-format.md): round trips of every activation and
 * loss through buffers and files reproduce parameters and predictions bit
 * for bit; the documented example's bytes; every truncation, every byte
 * flip, trailing bytes and hand-made headers (resealed with a correct CRC)
 * are refused as MLP_ERR_FORMAT without allocating; allocation failures
 * are MLP_ERR_NOMEM; file errors are MLP_ERR_IO; and a save that fails
 * midway (file size limit) leaves the old file and no temporary file.
 *
 * mlp_alloc is wrapped at link time (-Wl,--wrap=mlp_alloc) so the tests
 * can count the library's allocations and make any one of them fail, and
 * fchmod (-Wl,--wrap=fchmod) so that they can see the temporary file a
 * save creates before it gets the replaced file's exact permissions.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, fork, setrlimit, mkfifo, opendir */

#include "alloc_counter.h"
#include "internal.h"
#include "test_files.h"
#include "test_util.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- allocation wrapping ---- */

/* ---- fchmod wrapping: the temporary file as the save created it ---- */

static struct {
    int calls;
    mode_t mode;  /* its permission bits when fchmod was called */
    bool cloexec; /* whether a program started meanwhile would inherit it */
} temp_seen;

int __real_fchmod(int fd, mode_t mode);
int __wrap_fchmod(int fd, mode_t mode);

int __wrap_fchmod(int fd, mode_t mode)
{
    struct stat st;
    if (fstat(fd, &st) == 0) {
        temp_seen.calls++;
        temp_seen.mode = st.st_mode & 0777;
        temp_seen.cloexec = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
    }
    return __real_fchmod(fd, mode);
}

/* ---- the test's own format helpers, written from the document ---- */

enum { HEADER = 32, ENTRY = 12, CRC = 4 };

static void set_u32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

static void set_u64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Rewrites the last four bytes with the CRC of the others, so that a
 * hand-made change reaches the field checks instead of the checksum. */
static void reseal(unsigned char *bytes, size_t len)
{
    set_u32(bytes + len - CRC, test_crc32(bytes, len - CRC));
}

/* ---- networks ---- */

static const mlp_activation hidden_acts[] = {MLP_IDENTITY, MLP_SIGMOID, MLP_TANH,
                                             MLP_RELU, MLP_LEAKY_RELU};

/* Sets every parameter, biases included, to a random value in [-2, 2). */
static void randomize_params(mlp_net *net, uint64_t seed)
{
    test_rng rng = {seed};
    for (size_t l = 0; l < mlp_net_layers(net); l++) {
        float *W, *b;
        size_t n_out, n_in;
        assert_int_equal(mlp_layer_params(net, l, &W, &b, &n_out, &n_in), MLP_OK);
        test_fill_uniform(&rng, W, n_out * n_in, -2.0, 2.0);
        test_fill_uniform(&rng, b, n_out, -2.0, 2.0);
    }
}

/* A 3-4-out network with the given hidden and output activations. */
static mlp_net *make_model(mlp_loss loss, mlp_activation hidden, mlp_activation output,
                           size_t n_out)
{
    const size_t widths[] = {4, n_out};
    const mlp_activation acts[] = {hidden, output};
    mlp_net *net = make_net(3, loss, 7, 2, widths, acts);
    randomize_params(net, 11);
    return net;
}

/* The saved bytes of net in a new malloc'd buffer. */
static unsigned char *save_to_buffer(const mlp_net *net, size_t *len)
{
    assert_int_equal(mlp_net_saved_size(net, len), MLP_OK);
    unsigned char *bytes = malloc(*len);
    assert_non_null(bytes);
    size_t written = 0;
    assert_int_equal(mlp_net_save_buffer(net, bytes, *len, &written), MLP_OK);
    assert_int_equal(written, *len);
    return bytes;
}

/* Fails unless b has a's architecture and bit-identical parameters and
 * predictions on random inputs. */
static void expect_same_net(mlp_net *a, mlp_net *b)
{
    assert_int_equal(mlp_net_inputs(b), mlp_net_inputs(a));
    assert_int_equal(mlp_net_layers(b), mlp_net_layers(a));
    assert_int_equal(mlp_net_param_count(b), mlp_net_param_count(a));
    mlp_loss loss_a, loss_b;
    assert_int_equal(mlp_net_loss(a, &loss_a), MLP_OK);
    assert_int_equal(mlp_net_loss(b, &loss_b), MLP_OK);
    assert_int_equal(loss_b, loss_a);
    for (size_t l = 0; l < mlp_net_layers(a); l++) {
        mlp_activation act_a, act_b;
        size_t out_a, out_b, in_a, in_b;
        assert_int_equal(mlp_layer_activation(a, l, &act_a), MLP_OK);
        assert_int_equal(mlp_layer_activation(b, l, &act_b), MLP_OK);
        assert_int_equal(act_b, act_a);
        assert_int_equal(mlp_layer_params(a, l, NULL, NULL, &out_a, &in_a), MLP_OK);
        assert_int_equal(mlp_layer_params(b, l, NULL, NULL, &out_b, &in_b), MLP_OK);
        assert_int_equal(out_b, out_a);
        assert_int_equal(in_b, in_a);
    }
    expect_params_equal(b, snapshot_params(a));

    enum { M = 9 };
    size_t n_in = mlp_net_inputs(a), n_out = mlp_net_outputs(a);
    float *X = malloc(M * n_in * sizeof *X);
    float *Pa = malloc(M * n_out * sizeof *Pa);
    float *Pb = malloc(M * n_out * sizeof *Pb);
    assert_true(X && Pa && Pb);
    test_rng rng = {99};
    test_fill_uniform(&rng, X, M * n_in, -3.0, 3.0);
    assert_int_equal(mlp_predict(a, X, M, Pa), MLP_OK);
    assert_int_equal(mlp_predict(b, X, M, Pb), MLP_OK);
    assert_memory_equal(Pa, Pb, M * n_out * sizeof *Pa);
    free(X);
    free(Pa);
    free(Pb);
}

/* Loads must fail with status, allocate nothing and leave *out alone. */
static void expect_load_refused(const unsigned char *bytes, size_t len, mlp_status status)
{
    mlp_net sentinel_storage;
    mlp_net *out = &sentinel_storage;
    size_t before = alloc_count;
    assert_int_equal(mlp_net_load_buffer(&out, bytes, len), status);
    assert_ptr_equal(out, &sentinel_storage);
    assert_int_equal(alloc_count, before);
}

/* ---- round trips ---- */

/* Every hidden activation with every output activation and loss the
 * library accepts, through a buffer and through a file. */
static void test_round_trip_every_combination(void **state)
{
    (void)state;
    const struct {
        mlp_loss loss;
        mlp_activation output;
        size_t n_out;
    } outputs[] = {
        {MLP_MSE, MLP_IDENTITY, 2},
        {MLP_MSE, MLP_SIGMOID, 2},
        {MLP_MSE, MLP_TANH, 2},
        {MLP_MSE, MLP_RELU, 2},
        {MLP_MSE, MLP_LEAKY_RELU, 2},
        {MLP_BCE, MLP_SIGMOID, 2},
        {MLP_CROSS_ENTROPY, MLP_SOFTMAX, 3},
    };
    temp_dir dir;
    temp_dir_make(&dir);
    char path[300];
    temp_dir_file(&dir, "model.mlp", path, sizeof path);
    for (size_t h = 0; h < sizeof hidden_acts / sizeof hidden_acts[0]; h++) {
        for (size_t o = 0; o < sizeof outputs / sizeof outputs[0]; o++) {
            mlp_net *net = make_model(outputs[o].loss, hidden_acts[h], outputs[o].output,
                                      outputs[o].n_out);
            size_t len;
            unsigned char *bytes = save_to_buffer(net, &len);
            mlp_net *loaded = NULL;
            assert_int_equal(mlp_net_load_buffer(&loaded, bytes, len), MLP_OK);
            expect_same_net(net, loaded);
            mlp_net_free(loaded);

            loaded = NULL;
            assert_int_equal(mlp_net_save(net, path), MLP_OK);
            assert_int_equal(mlp_net_load(&loaded, path), MLP_OK);
            expect_same_net(net, loaded);
            size_t file_len;
            unsigned char *file_bytes = read_file(path, &file_len);
            assert_int_equal(file_len, len);
            assert_memory_equal(file_bytes, bytes, len);
            free(file_bytes);
            mlp_net_free(loaded);
            mlp_net_free(net);
            free(bytes);
        }
    }
    assert_int_equal(temp_dir_count(&dir), 1); /* no temporary file left */
    temp_dir_remove(&dir);
}

/* Special float values (infinities, NaN with a payload, -0, subnormals)
 * come back with the same bits, and a deeper network keeps its layout. */
static void test_round_trip_keeps_bits_and_depth(void **state)
{
    (void)state;
    const size_t widths[] = {5, 1, 6, 2};
    const mlp_activation acts[] = {MLP_TANH, MLP_RELU, MLP_LEAKY_RELU, MLP_SIGMOID};
    mlp_net *net = make_net(4, MLP_BCE, 3, 4, widths, acts);
    float *W, *b;
    assert_int_equal(mlp_layer_params(net, 0, &W, &b, NULL, NULL), MLP_OK);
    const uint32_t special[] = {0x7F800000u, 0xFF800000u, 0x7FC12345u,
                                0x80000000u, 0x00000001u, 0x807FFFFFu};
    for (size_t k = 0; k < sizeof special / sizeof special[0]; k++)
        memcpy(&W[k], &special[k], sizeof W[k]);
    b[4] = -0.0f;
    size_t len;
    unsigned char *bytes = save_to_buffer(net, &len);
    assert_int_equal(len, 36 + 12 * 4 + 4 * mlp_net_param_count(net));
    mlp_net *loaded = NULL;
    assert_int_equal(mlp_net_load_buffer(&loaded, bytes, len), MLP_OK);
    expect_params_equal(loaded, snapshot_params(net));
    mlp_net_free(loaded);
    mlp_net_free(net);
    free(bytes);
}

/* A deep network loads with the same few allocations as a shallow one
 * (its layers are added in one call, not one reallocation per layer, which
 * made loading quadratic in depth), and is the same network. */
static void test_deep_network_loads_in_few_allocations(void **state)
{
    (void)state;
    enum { DEPTH = 2000 };
    size_t *widths = malloc(DEPTH * sizeof *widths);
    mlp_activation *acts = malloc(DEPTH * sizeof *acts);
    assert_true(widths && acts);
    for (size_t l = 0; l < DEPTH; l++) {
        widths[l] = 1 + l % 3;
        acts[l] = l % 2 ? MLP_TANH : MLP_IDENTITY;
    }
    mlp_net *net = make_net(2, MLP_MSE, 8, DEPTH, widths, acts);
    size_t len;
    unsigned char *bytes = save_to_buffer(net, &len);
    mlp_net *loaded = NULL;
    size_t before = alloc_count;
    assert_int_equal(mlp_net_load_buffer(&loaded, bytes, len), MLP_OK);
    assert_true(alloc_count - before <= 8);
    expect_same_net(net, loaded);
    mlp_net_free(loaded);
    mlp_net_free(net);
    free(bytes);
    free(widths);
    free(acts);
}

/* The example of docs/model-format.md, byte for byte, and the checksum
 * against an independent bitwise CRC-32 (checked on its standard value). */
static void test_documented_example_bytes(void **state)
{
    (void)state;
    assert_int_equal(test_crc32((const unsigned char *)"123456789", 9), 0xCBF43926u);
    const size_t widths[] = {1};
    const mlp_activation acts[] = {MLP_SIGMOID};
    mlp_net *net = make_net(2, MLP_BCE, 1, 1, widths, acts);
    float *W, *b;
    assert_int_equal(mlp_layer_params(net, 0, &W, &b, NULL, NULL), MLP_OK);
    W[0] = 1.0f;
    W[1] = -2.0f;
    b[0] = 0.5f;
    const unsigned char expected[60] = {
        'M', 'L',  'P',  'N', 'E', 'T', 0,    0, 1, 0, 0,    0,    1,    0,    0,
        0,   2,    0,    0,   0,   0,   0,    0, 0, 1, 0,    0,    0,    0,    0,
        0,   0,    1,    0,   0,   0,   0,    0, 0, 0, 1,    0,    0,    0,    0,
        0,   0x80, 0x3F, 0,   0,   0,   0xC0, 0, 0, 0, 0x3F, 0x30, 0xE5, 0xD8, 0x14};
    size_t len;
    unsigned char *bytes = save_to_buffer(net, &len);
    assert_int_equal(len, sizeof expected);
    assert_memory_equal(bytes, expected, sizeof expected);
    assert_int_equal(get_u32(bytes + len - CRC), test_crc32(bytes, len - CRC));
    free(bytes);
    mlp_net_free(net);
}

/* A loaded network has seed 0: a layer added to it gets the weights it
 * gets on a network built with seed 0 and the same layers. */
static void test_loaded_network_has_seed_zero(void **state)
{
    (void)state;
    mlp_net *net = make_model(MLP_MSE, MLP_TANH, MLP_IDENTITY, 2);
    size_t len;
    unsigned char *bytes = save_to_buffer(net, &len);
    mlp_net *loaded = NULL;
    assert_int_equal(mlp_net_load_buffer(&loaded, bytes, len), MLP_OK);
    const size_t widths[] = {4, 2};
    const mlp_activation acts[] = {MLP_TANH, MLP_IDENTITY};
    mlp_net *fresh = make_net(3, MLP_MSE, 0, 2, widths, acts);
    assert_int_equal(mlp_net_add_dense(loaded, 3, MLP_RELU), MLP_OK);
    assert_int_equal(mlp_net_add_dense(fresh, 3, MLP_RELU), MLP_OK);
    float *W_loaded, *W_fresh;
    assert_int_equal(mlp_layer_params(loaded, 2, &W_loaded, NULL, NULL, NULL), MLP_OK);
    assert_int_equal(mlp_layer_params(fresh, 2, &W_fresh, NULL, NULL, NULL), MLP_OK);
    assert_memory_equal(W_loaded, W_fresh, 3 * 2 * sizeof *W_loaded);
    mlp_net_free(fresh);
    mlp_net_free(loaded);
    mlp_net_free(net);
    free(bytes);
}

/* ---- saving refusals ---- */

static void test_save_refusals(void **state)
{
    (void)state;
    mlp_net *net = make_model(MLP_MSE, MLP_RELU, MLP_IDENTITY, 2);
    size_t size = 0, written = 12345;
    assert_int_equal(mlp_net_saved_size(net, &size), MLP_OK);
    assert_int_equal(size, 36 + 12 * 2 + 4 * mlp_net_param_count(net));
    unsigned char *buf = malloc(size + 8);
    assert_non_null(buf);

    assert_int_equal(mlp_net_save_buffer(net, buf, size - 1, &written), MLP_ERR_SHAPE);
    assert_int_equal(mlp_net_save_buffer(net, buf, 0, &written), MLP_ERR_SHAPE);
    assert_int_equal(written, 12345);
    assert_int_equal(mlp_net_save_buffer(net, buf, size + 8, &written), MLP_OK);
    assert_int_equal(written, size);

    assert_int_equal(mlp_net_saved_size(NULL, &size), MLP_ERR_ARG);
    assert_int_equal(mlp_net_saved_size(net, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_net_save_buffer(NULL, buf, size, &written), MLP_ERR_ARG);
    assert_int_equal(mlp_net_save_buffer(net, NULL, size, &written), MLP_ERR_ARG);
    assert_int_equal(mlp_net_save_buffer(net, buf, size, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_net_save(NULL, "/tmp/never_written.mlp"), MLP_ERR_ARG);
    assert_int_equal(mlp_net_save(net, NULL), MLP_ERR_ARG);
    mlp_net *out = NULL;
    assert_int_equal(mlp_net_load(NULL, "/tmp/x"), MLP_ERR_ARG);
    assert_int_equal(mlp_net_load(&out, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_net_load_buffer(NULL, buf, size), MLP_ERR_ARG);
    assert_int_equal(mlp_net_load_buffer(&out, NULL, size), MLP_ERR_ARG);
    assert_null(out);

    /* No layers, and an output the loss does not accept: nothing to save
     * that could be loaded back. */
    mlp_net *empty = NULL, *untrainable = NULL;
    assert_int_equal(mlp_net_create(&empty, 3, MLP_MSE, 1), MLP_OK);
    assert_int_equal(mlp_net_create(&untrainable, 3, MLP_BCE, 1), MLP_OK);
    assert_int_equal(mlp_net_add_dense(untrainable, 2, MLP_RELU), MLP_OK);
    mlp_net *refused[] = {empty, untrainable};
    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(mlp_net_saved_size(refused[k], &size), MLP_ERR_ARG);
        assert_int_equal(mlp_net_save_buffer(refused[k], buf, 1000, &written),
                         MLP_ERR_ARG);
        assert_int_equal(mlp_net_save(refused[k], "/tmp/never_written.mlp"), MLP_ERR_ARG);
    }
    assert_int_equal(access("/tmp/never_written.mlp", F_OK), -1);
    mlp_net_free(empty);
    mlp_net_free(untrainable);
    mlp_net_free(net);
    free(buf);
}

/* ---- corrupted inputs ---- */

/* Every proper prefix, and the whole with bytes after it, is refused; the
 * same through a file for a few lengths. */
static void test_truncation_and_trailing_bytes(void **state)
{
    (void)state;
    mlp_net *net = make_model(MLP_CROSS_ENTROPY, MLP_SIGMOID, MLP_SOFTMAX, 3);
    size_t len;
    unsigned char *bytes = save_to_buffer(net, &len);
    for (size_t cut = 0; cut < len; cut++)
        expect_load_refused(bytes, cut, MLP_ERR_FORMAT);

    unsigned char *longer = malloc(len + 4);
    assert_non_null(longer);
    memcpy(longer, bytes, len);
    memset(longer + len, 0, 4);
    expect_load_refused(longer, len + 1, MLP_ERR_FORMAT);
    expect_load_refused(longer, len + 4, MLP_ERR_FORMAT);

    temp_dir dir;
    temp_dir_make(&dir);
    char path[300];
    temp_dir_file(&dir, "cut.mlp", path, sizeof path);
    const size_t cuts[] = {0, 1, 35, 36, HEADER + ENTRY, len - CRC, len - 1, len + 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        test_write_file(path, longer, cuts[k]);
        mlp_net *out = NULL;
        assert_int_equal(mlp_net_load(&out, path), MLP_ERR_FORMAT);
        assert_null(out);
    }
    test_write_file(path, longer, len);
    mlp_net *out = NULL;
    assert_int_equal(mlp_net_load(&out, path), MLP_OK);
    mlp_net_free(out);
    temp_dir_remove(&dir);
    free(longer);
    free(bytes);
    mlp_net_free(net);
}

/* Flipping all bits, or the lowest bit, of any single byte is caught. */
static void test_every_byte_flip_is_refused(void **state)
{
    (void)state;
    mlp_net *net = make_model(MLP_MSE, MLP_LEAKY_RELU, MLP_TANH, 2);
    size_t len;
    unsigned char *bytes = save_to_buffer(net, &len);
    const unsigned char masks[] = {0xFF, 0x01};
    for (size_t m = 0; m < sizeof masks; m++) {
        for (size_t k = 0; k < len; k++) {
            bytes[k] ^= masks[m];
            expect_load_refused(bytes, len, MLP_ERR_FORMAT);
            bytes[k] ^= masks[m];
        }
    }
    mlp_net *loaded = NULL;
    assert_int_equal(mlp_net_load_buffer(&loaded, bytes, len), MLP_OK);
    mlp_net_free(loaded);
    free(bytes);
    mlp_net_free(net);
}

/* A copy of the valid buffer with one u32 or u64 field changed and the
 * checksum recomputed must be refused by the field checks. */
static void expect_field_refused(const unsigned char *valid, size_t len, size_t offset,
                                 uint64_t value, int width)
{
    unsigned char *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, valid, len);
    if (width == 4)
        set_u32(copy + offset, (uint32_t)value);
    else
        set_u64(copy + offset, value);
    reseal(copy, len);
    expect_load_refused(copy, len, MLP_ERR_FORMAT);
    free(copy);
}

/* Bad magic, versions, codes, sizes and limits, each with a valid CRC. */
static void test_resealed_bad_fields(void **state)
{
    (void)state;
    mlp_net *net = make_model(MLP_MSE, MLP_SIGMOID, MLP_IDENTITY, 2);
    size_t len;
    unsigned char *bytes = save_to_buffer(net, &len);
    /* Resealing an unchanged copy changes nothing: the cases below fail for
     * their field, not for the checksum. */
    reseal(bytes, len);
    mlp_net *loaded = NULL;
    assert_int_equal(mlp_net_load_buffer(&loaded, bytes, len), MLP_OK);
    mlp_net_free(loaded);

    const uint64_t max_dim = (uint64_t)INT_MAX;
    expect_field_refused(bytes, len, 0, 0x54454E504C4D4CULL, 8); /* magic shifted */
    expect_field_refused(bytes, len, 0, 0x54454E504C4E, 8);      /* "NLPNET" */
    expect_field_refused(bytes, len, 8, 0, 4);                   /* version 0 */
    expect_field_refused(bytes, len, 8, 2, 4);                   /* version 2 */
    expect_field_refused(bytes, len, 8, 0x01000000u, 4);         /* big-endian 1 */
    expect_field_refused(bytes, len, 12, 3, 4);                  /* loss code */
    expect_field_refused(bytes, len, 12, 0xFFFFFFFFu, 4);
    expect_field_refused(bytes, len, 16, 0, 8); /* n_inputs 0 */
    expect_field_refused(bytes, len, 16, 4, 8); /* sizes no longer add up */
    expect_field_refused(bytes, len, 16, max_dim + 1, 8);
    expect_field_refused(bytes, len, 16, UINT64_MAX, 8);
    expect_field_refused(bytes, len, 24, 0, 8); /* no layers */
    expect_field_refused(bytes, len, 24, 1, 8);
    expect_field_refused(bytes, len, 24, 3, 8);
    expect_field_refused(bytes, len, 24, UINT64_MAX / 12 + 1, 8);
    expect_field_refused(bytes, len, 24, UINT64_MAX, 8);
    expect_field_refused(bytes, len, HEADER, 0, 8); /* a layer of width 0 */
    expect_field_refused(bytes, len, HEADER, 5, 8);
    expect_field_refused(bytes, len, HEADER, max_dim + 1, 8);
    expect_field_refused(bytes, len, HEADER + 8, 6, 4); /* activation code */
    expect_field_refused(bytes, len, HEADER + 8, 0x80000000u, 4);
    expect_field_refused(bytes, len, HEADER + ENTRY + 8, 6, 4);
    /* Softmax output with MSE, softmax hidden layer, and outputs the loss
     * does not accept: architectures the library would refuse. */
    expect_field_refused(bytes, len, HEADER + ENTRY + 8, 5, 4);
    expect_field_refused(bytes, len, HEADER + 8, 5, 4);
    expect_field_refused(bytes, len, 12, 1, 4); /* BCE with identity output */
    expect_field_refused(bytes, len, 12, 2, 4); /* cross-entropy with identity */
    /* A softmax layer before the output, under cross-entropy (softmax then
     * softmax): refused by the header checks, before anything is made. */
    unsigned char *copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, bytes, len);
    set_u32(copy + 12, 2);                 /* cross-entropy */
    set_u32(copy + HEADER + 8, 5);         /* softmax hidden */
    set_u32(copy + HEADER + ENTRY + 8, 5); /* softmax output */
    reseal(copy, len);
    expect_load_refused(copy, len, MLP_ERR_FORMAT);
    free(copy);
    free(bytes);
    mlp_net_free(net);
}

/* A header whose layer table runs past the end of the input (here 3
 * layers, room for 2 and no parameters) is refused before the table is
 * read (under ASan, reading it would be an overflow of the buffer). */
static void test_layer_table_past_the_end(void **state)
{
    (void)state;
    const size_t len = HEADER + 2 * ENTRY + CRC;
    unsigned char *bytes = calloc(len, 1);
    assert_non_null(bytes);
    memcpy(bytes, "MLPNET\0\0", 8);
    set_u32(bytes + 8, 1);
    set_u32(bytes + 12, 0); /* MSE */
    set_u64(bytes + 16, 1);
    set_u64(bytes + 24, 3);
    for (size_t l = 0; l < 2; l++)
        set_u64(bytes + HEADER + l * ENTRY, 1); /* identity layers of width 1 */
    reseal(bytes, len);
    expect_load_refused(bytes, len, MLP_ERR_FORMAT);
    free(bytes);
}

/* A buffer laid out for layer_count layers, whose header (with a valid
 * checksum) claims the given widths; it is refused without allocating. */
static void expect_huge_refused(uint64_t n_inputs, const uint64_t *widths,
                                size_t layer_count, size_t len)
{
    unsigned char *bytes = calloc(len, 1);
    assert_non_null(bytes);
    memcpy(bytes, "MLPNET\0\0", 8);
    set_u32(bytes + 8, 1);
    set_u32(bytes + 12, 0); /* MSE */
    set_u64(bytes + 16, n_inputs);
    set_u64(bytes + 24, layer_count);
    for (size_t l = 0; l < layer_count; l++) {
        set_u64(bytes + HEADER + l * ENTRY, widths[l]);
        set_u32(bytes + HEADER + l * ENTRY + 8, 0); /* identity */
    }
    reseal(bytes, len);
    expect_load_refused(bytes, len, MLP_ERR_FORMAT);
    free(bytes);
}

/* Headers claiming huge models, up to sizes whose products overflow, are
 * refused for their length alone: nothing is allocated. */
static void test_huge_dimensions_refused_without_allocating(void **state)
{
    (void)state;
    const uint64_t max_dim = (uint64_t)INT_MAX;
    const uint64_t big[] = {max_dim, max_dim, max_dim, max_dim, max_dim, max_dim};
    for (size_t layers = 1; layers <= 6; layers++)
        expect_huge_refused(max_dim, big, layers, 36 + 12 * layers + 64);
    const uint64_t wide[] = {1u << 30};
    expect_huge_refused(1u << 30, wide, 1, 4096);
    /* A header whose layer count only just fits the length, with nothing
     * left for parameters. */
    const uint64_t ones[] = {1, 1, 1, 1};
    expect_huge_refused(1, ones, 4, 36 + 12 * 4);
}

/* Every allocation a load or a save makes may fail: MLP_ERR_NOMEM, nothing
 * leaked (under ASan) and nothing written. */
static void test_allocation_failures(void **state)
{
    (void)state;
    mlp_net *net = make_model(MLP_BCE, MLP_RELU, MLP_SIGMOID, 2);
    size_t len;
    unsigned char *bytes = save_to_buffer(net, &len);
    temp_dir dir;
    temp_dir_make(&dir);
    char path[300];
    temp_dir_file(&dir, "model.mlp", path, sizeof path);
    assert_int_equal(mlp_net_save(net, path), MLP_OK);

    size_t failures = 0;
    for (size_t fail = 0;; fail++) {
        alloc_count = 0;
        alloc_fail_at = fail;
        mlp_net *out = NULL;
        mlp_status status = mlp_net_load_buffer(&out, bytes, len);
        alloc_fail_at = SIZE_MAX;
        if (status == MLP_OK) {
            expect_same_net(net, out);
            mlp_net_free(out);
            break;
        }
        assert_int_equal(status, MLP_ERR_NOMEM);
        assert_null(out);
        failures++;
    }
    assert_true(failures >= 3); /* the network, its layers, its parameters */

    for (size_t fail = 0;; fail++) {
        alloc_count = 0;
        alloc_fail_at = fail;
        mlp_net *out = NULL;
        mlp_status load_status = mlp_net_load(&out, path);
        alloc_count = 0;
        mlp_status save_status = mlp_net_save(net, path);
        alloc_fail_at = SIZE_MAX;
        assert_true(save_status == MLP_OK || save_status == MLP_ERR_NOMEM);
        if (load_status == MLP_OK) {
            mlp_net_free(out);
            break;
        }
        assert_int_equal(load_status, MLP_ERR_NOMEM);
        assert_null(out);
    }
    size_t file_len;
    unsigned char *file_bytes = read_file(path, &file_len);
    assert_int_equal(file_len, len);
    assert_memory_equal(file_bytes, bytes, len);
    free(file_bytes);
    assert_int_equal(temp_dir_count(&dir), 1);
    temp_dir_remove(&dir);
    free(bytes);
    mlp_net_free(net);
}

/* ---- files ---- */

static void test_file_errors(void **state)
{
    (void)state;
    mlp_net *net = make_model(MLP_MSE, MLP_TANH, MLP_SIGMOID, 2);
    temp_dir dir;
    temp_dir_make(&dir);
    char path[300];
    mlp_net *out = NULL;

    temp_dir_file(&dir, "missing/model.mlp", path, sizeof path);
    assert_int_equal(mlp_net_save(net, path), MLP_ERR_IO);
    assert_int_equal(mlp_net_load(&out, path), MLP_ERR_IO);
    temp_dir_file(&dir, "absent.mlp", path, sizeof path);
    assert_int_equal(mlp_net_load(&out, path), MLP_ERR_IO);

    /* A folder at path: neither loaded nor replaced. */
    temp_dir_file(&dir, "folder", path, sizeof path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(mlp_net_load(&out, path), MLP_ERR_IO);
    assert_int_equal(mlp_net_save(net, path), MLP_ERR_IO);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(mlp_net_load(&out, dir.path), MLP_ERR_IO);

    /* A FIFO with no writer is refused at once instead of blocking. */
    temp_dir_file(&dir, "fifo", path, sizeof path);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(mlp_net_load(&out, path), MLP_ERR_IO);
    assert_int_equal(remove(path), 0);

    assert_null(out);
    assert_int_equal(temp_dir_count(&dir), 0); /* no temporary file left */
    temp_dir_remove(&dir);
    mlp_net_free(net);
}

/* Replacing a file gives it the new model and keeps its permissions; a new
 * file gets 0666 less the umask. */
static void test_save_replaces_and_keeps_mode(void **state)
{
    (void)state;
    mlp_net *first = make_model(MLP_MSE, MLP_RELU, MLP_IDENTITY, 2);
    mlp_net *second = make_model(MLP_CROSS_ENTROPY, MLP_TANH, MLP_SOFTMAX, 4);
    temp_dir dir;
    temp_dir_make(&dir);
    char path[300];
    temp_dir_file(&dir, "model.mlp", path, sizeof path);
    mode_t old_mask = umask(022);
    assert_int_equal(mlp_net_save(first, path), MLP_OK);
    umask(old_mask);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(chmod(path, 0640), 0);

    assert_int_equal(mlp_net_save(second, path), MLP_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    mlp_net *loaded = NULL;
    assert_int_equal(mlp_net_load(&loaded, path), MLP_OK);
    expect_same_net(second, loaded);
    mlp_net_free(loaded);
    assert_int_equal(temp_dir_count(&dir), 1);
    temp_dir_remove(&dir);
    mlp_net_free(first);
    mlp_net_free(second);
}

/* The temporary file that replaces a private model is never readable by
 * more users than the model was, not even before it gets the model's exact
 * permissions; it is closed on exec; and the mode the umask cleared is put
 * back (0664 under umask 022). */
static void test_save_temporary_file_permissions(void **state)
{
    (void)state;
    mlp_net *net = make_model(MLP_MSE, MLP_RELU, MLP_IDENTITY, 2);
    temp_dir dir;
    temp_dir_make(&dir);
    char path[300];
    temp_dir_file(&dir, "private.mlp", path, sizeof path);
    mode_t old_mask = umask(022);
    assert_int_equal(mlp_net_save(net, path), MLP_OK);
    const mode_t modes[] = {0600, 0400, 0664};
    for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
        assert_int_equal(chmod(path, modes[k]), 0);
        temp_seen.calls = 0;
        assert_int_equal(mlp_net_save(net, path), MLP_OK);
        assert_int_equal(temp_seen.calls, 1);
        assert_int_equal(temp_seen.mode, modes[k] & ~(mode_t)022);
        assert_true(temp_seen.cloexec);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, modes[k]);
    }
    umask(old_mask);
    assert_int_equal(temp_dir_count(&dir), 1);
    temp_dir_remove(&dir);
    mlp_net_free(net);
}

/* A file name as long as file systems allow (255 bytes) saves and loads:
 * the temporary name beside it is short, not the name plus a suffix. */
static void test_save_longest_file_name(void **state)
{
    (void)state;
    mlp_net *net = make_model(MLP_MSE, MLP_TANH, MLP_IDENTITY, 3);
    temp_dir dir;
    temp_dir_make(&dir);
    char name[256], path[300];
    memset(name, 'm', 255);
    name[255] = '\0';
    temp_dir_file(&dir, name, path, sizeof path);
    assert_int_equal(mlp_net_save(net, path), MLP_OK);
    assert_int_equal(mlp_net_save(net, path), MLP_OK); /* replacing it too */
    mlp_net *loaded = NULL;
    assert_int_equal(mlp_net_load(&loaded, path), MLP_OK);
    expect_same_net(net, loaded);
    mlp_net_free(loaded);
    assert_int_equal(temp_dir_count(&dir), 1);
    temp_dir_remove(&dir);
    mlp_net_free(net);
}

/* A save that fails midway (the file size limit stops the write after a
 * few bytes, in a child process) returns MLP_ERR_IO, leaves the old file
 * byte for byte and removes its temporary file. */
static void test_failed_save_keeps_old_file(void **state)
{
    (void)state;
    mlp_net *old_net = make_model(MLP_MSE, MLP_IDENTITY, MLP_IDENTITY, 1);
    mlp_net *new_net = make_model(MLP_MSE, MLP_SIGMOID, MLP_TANH, 2);
    size_t old_len, new_len;
    unsigned char *old_bytes = save_to_buffer(old_net, &old_len);
    free(save_to_buffer(new_net, &new_len));
    assert_true(new_len > 64);
    temp_dir dir;
    temp_dir_make(&dir);
    char path[300];
    temp_dir_file(&dir, "model.mlp", path, sizeof path);
    assert_int_equal(mlp_net_save(old_net, path), MLP_OK);

    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit limit = {64, 64};
        if (setrlimit(RLIMIT_FSIZE, &limit) != 0)
            _exit(2);
        _exit(mlp_net_save(new_net, path) == MLP_ERR_IO ? 0 : 1);
    }
    int child_status = 0;
    assert_int_equal(waitpid(child, &child_status, 0), child);
    assert_true(WIFEXITED(child_status));
    assert_int_equal(WEXITSTATUS(child_status), 0);

    size_t file_len;
    unsigned char *file_bytes = read_file(path, &file_len);
    assert_int_equal(file_len, old_len);
    assert_memory_equal(file_bytes, old_bytes, old_len);
    assert_int_equal(temp_dir_count(&dir), 1);
    free(file_bytes);
    temp_dir_remove(&dir);
    free(old_bytes);
    mlp_net_free(old_net);
    mlp_net_free(new_net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_combination),
        cmocka_unit_test(test_round_trip_keeps_bits_and_depth),
        cmocka_unit_test(test_deep_network_loads_in_few_allocations),
        cmocka_unit_test(test_documented_example_bytes),
        cmocka_unit_test(test_loaded_network_has_seed_zero),
        cmocka_unit_test(test_save_refusals),
        cmocka_unit_test(test_truncation_and_trailing_bytes),
        cmocka_unit_test(test_every_byte_flip_is_refused),
        cmocka_unit_test(test_resealed_bad_fields),
        cmocka_unit_test(test_layer_table_past_the_end),
        cmocka_unit_test(test_huge_dimensions_refused_without_allocating),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_save_replaces_and_keeps_mode),
        cmocka_unit_test(test_save_temporary_file_permissions),
        cmocka_unit_test(test_save_longest_file_name),
        cmocka_unit_test(test_failed_save_keeps_old_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
