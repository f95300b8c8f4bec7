/*
 * Small helpers shared by the core tests: a seeded generator for test data,
 * tolerant comparisons that say what differed, and snapshots of a network's
 * parameters and gradients for "a failed call changes nothing" checks.
 */
#ifndef MLP_TEST_UTIL_H
#define MLP_TEST_UTIL_H

#include "mlp.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A test-side generator (splitmix64), independent of the library's, so test
 * data does not change when the library's generator does. */
typedef struct test_rng {
    uint64_t state;
} test_rng;

static inline uint64_t test_rng_next(test_rng *rng)
{
    uint64_t z = (rng->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static inline double test_uniform(test_rng *rng, double lo, double hi)
{
    return lo + (hi - lo) * (double)(test_rng_next(rng) >> 11) * 0x1.0p-53;
}

static inline void test_fill_uniform(test_rng *rng, float *x, size_t count, double lo,
                                     double hi)
{
    for (size_t k = 0; k < count; k++)
        x[k] = (float)test_uniform(rng, lo, hi);
}

/* Fails the test, naming what differed, unless |actual - expected| <= tol. */
static inline void check_close(double actual, double expected, double tol,
                               const char *what)
{
    if (!(fabs(actual - expected) <= tol))
        fail_msg("%s: got %.9g, expected %.9g (tolerance %.3g)", what, actual, expected,
                 tol);
}

/* Fails unless |actual - expected| <= abs_tol + rel_tol * |expected|. */
static inline void check_rel(double actual, double expected, double rel_tol,
                             double abs_tol, const char *what)
{
    check_close(actual, expected, abs_tol + rel_tol * fabs(expected), what);
}

/* Creates a network of n_inputs inputs and the given layers, or fails the
 * test. */
static inline mlp_net *make_net(size_t n_inputs, mlp_loss loss, uint64_t seed,
                                size_t n_layers, const size_t *widths,
                                const mlp_activation *acts)
{
    mlp_net *net = NULL;
    assert_int_equal(mlp_net_create(&net, n_inputs, loss, seed), MLP_OK);
    for (size_t l = 0; l < n_layers; l++)
        assert_int_equal(mlp_net_add_dense(net, widths[l], acts[l]), MLP_OK);
    return net;
}

/* Copies every layer's W and b, in layer order, into a new array of
 * mlp_net_param_count(net) floats (free it with free). */
static inline float *snapshot_params(const mlp_net *net)
{
    float *copy = malloc((mlp_net_param_count(net) + 1) * sizeof *copy);
    assert_non_null(copy);
    float *p = copy;
    for (size_t l = 0; l < mlp_net_layers(net); l++) {
        const float *W, *b;
        size_t n_out, n_in;
        assert_int_equal(mlp_layer_params_const(net, l, &W, &b, &n_out, &n_in), MLP_OK);
        memcpy(p, W, n_out * n_in * sizeof *p);
        p += n_out * n_in;
        memcpy(p, b, n_out * sizeof *p);
        p += n_out;
    }
    assert_int_equal((size_t)(p - copy), mlp_net_param_count(net));
    return copy;
}

/* As snapshot_params, for the gradients of the last backward pass. */
static inline float *snapshot_grads(const mlp_net *net)
{
    float *copy = malloc((mlp_net_param_count(net) + 1) * sizeof *copy);
    assert_non_null(copy);
    float *p = copy;
    for (size_t l = 0; l < mlp_net_layers(net); l++) {
        const float *dW, *db;
        size_t n_out, n_in;
        assert_int_equal(mlp_layer_params_const(net, l, NULL, NULL, &n_out, &n_in),
                         MLP_OK);
        assert_int_equal(mlp_layer_grads(net, l, &dW, &db), MLP_OK);
        memcpy(p, dW, n_out * n_in * sizeof *p);
        p += n_out * n_in;
        memcpy(p, db, n_out * sizeof *p);
        p += n_out;
    }
    return copy;
}

/* Fails unless the network's parameters are byte for byte those of the
 * snapshot, then frees the snapshot. */
static inline void expect_params_equal(mlp_net *net, float *snapshot)
{
    float *now = snapshot_params(net);
    assert_memory_equal(now, snapshot, mlp_net_param_count(net) * sizeof *now);
    free(now);
    free(snapshot);
}

/* As expect_params_equal, for the gradients. */
static inline void expect_grads_equal(mlp_net *net, float *snapshot)
{
    float *now = snapshot_grads(net);
    assert_memory_equal(now, snapshot, mlp_net_param_count(net) * sizeof *now);
    free(now);
    free(snapshot);
}

/* Bitwise CRC-32 (IEEE, reflected 0xEDB88320), written from
 * docs/model-format.md and independent of the library's table version, so
 * tests can reseal model bytes they edit. */
static inline uint32_t test_crc32(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t k = 0; k < n; k++) {
        crc ^= p[k];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* Writes len bytes to path, failing the test if it cannot. */
static inline void test_write_file(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

#endif
