/*
 * A small seeded generator (xoshiro256**, seeded through splitmix64). The C
 * library's rand() differs between platforms and is global state; this one
 * lives in each network, so a seed reproduces weights bit for bit.
 */
#include "internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void mlp_rng_seed(mlp_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

uint64_t mlp_rng_next(mlp_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Rejection sampling: drawing x % n directly would favour small values. */
uint64_t mlp_rng_below(mlp_rng *rng, uint64_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = mlp_rng_next(rng);
    } while (x >= limit);
    return x % n;
}

double mlp_rng_uniform(mlp_rng *rng)
{
    return (double)(mlp_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Box-Muller; 1 - u keeps the logarithm's argument in (0, 1]. */
double mlp_rng_normal(mlp_rng *rng)
{
    const double two_pi = 6.283185307179586476925286766559;
    double u1 = 1.0 - mlp_rng_uniform(rng);
    double u2 = mlp_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}

/* ---- Skipping ahead ---- */

enum { STATE_BITS = 256, SKIP_BY_STEPPING = 1024 };

/* A 256 x 256 matrix over GF(2): col[i] is the image of state bit i. */
typedef struct bit_matrix {
    uint64_t col[STATE_BITS][4];
} bit_matrix;

/* M v over GF(2): the xor of the columns of M where v has a one. */
static void apply(const bit_matrix *M, const uint64_t v[4], uint64_t out[4])
{
    uint64_t r[4] = {0, 0, 0, 0};
    for (int i = 0; i < STATE_BITS; i++)
        if (v[i / 64] >> (i % 64) & 1)
            for (int w = 0; w < 4; w++)
                r[w] ^= M->col[i][w];
    memcpy(out, r, sizeof r);
}

/* xoshiro256**'s state update is linear over GF(2), so k updates are the
 * k-th power of its matrix T, whose columns are the updates of the 256 unit
 * states. Bit j of k applies T^(2^j), made by squaring: at most 64
 * squarings of a 256 x 256 bit matrix (milliseconds) instead of k steps.
 * Short skips step. */
mlp_status mlp_rng_skip(mlp_rng *rng, uint64_t k)
{
    if (k < SKIP_BY_STEPPING) {
        for (uint64_t i = 0; i < k; i++)
            mlp_rng_next(rng);
        return MLP_OK;
    }
    bit_matrix *power = mlp_alloc(2 * sizeof *power);
    if (!power)
        return MLP_ERR_NOMEM;
    bit_matrix *square = power + 1;
    for (int i = 0; i < STATE_BITS; i++) {
        mlp_rng unit = {{0, 0, 0, 0}};
        unit.s[i / 64] = (uint64_t)1 << (i % 64);
        mlp_rng_next(&unit);
        memcpy(power->col[i], unit.s, sizeof unit.s);
    }
    for (; k != 0; k >>= 1) {
        if (k & 1)
            apply(power, rng->s, rng->s);
        if (k > 1) {
            for (int i = 0; i < STATE_BITS; i++)
                apply(power, power->col[i], square->col[i]);
            *power = *square;
        }
    }
    mlp_dealloc(power);
    return MLP_OK;
}
