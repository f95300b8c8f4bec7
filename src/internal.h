/*
 * Internal declarations shared by the library's source files. Not installed.
 * Symbols here keep the mlp_ prefix so a static link cannot clash with a
 * user's names, but they are not part of the public API.
 */
#ifndef MLP_INTERNAL_H
#define MLP_INTERNAL_H

#include "mlp.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- alloc_raw.c (mlp_alloc) and alloc.c: the one allocation function, so
 * tests and the benchmark can count or fail allocations by wrapping
 * mlp_alloc at link time. Blocks are 64-byte aligned. ---- */
void *mlp_alloc(size_t n_bytes);
void *mlp_alloc_zero(size_t count, size_t size);
void mlp_dealloc(void *p);
/* Non-zero when a * b overflows size_t; otherwise *product = a * b. Inline
 * and division-free for factors below 2^(half the bits of size_t), which
 * cannot overflow, because the checks of every training step use it. */
static inline int mlp_mul_overflows(size_t a, size_t b, size_t *product)
{
    const size_t half = (size_t)1 << (sizeof(size_t) * CHAR_BIT / 2);
    if ((a >= half || b >= half) && a != 0 && b > SIZE_MAX / a)
        return 1;
    *product = a * b;
    return 0;
}
/* Non-zero when a + b overflows size_t; otherwise *sum = a + b. */
static inline int mlp_add_overflows(size_t a, size_t b, size_t *sum)
{
    if (b > SIZE_MAX - a)
        return 1;
    *sum = a + b;
    return 0;
}
/* Allocates count floats, refusing counts whose byte size overflows. */
float *mlp_alloc_floats(size_t count);

/* ---- file_io.c: what model and optimizer files share ---- */
/* The CRC-32 of zlib, gzip and PNG (IEEE 802.3, reflected). */
uint32_t mlp_crc32(const unsigned char *p, size_t n);
/* Little-endian words and float32 bit patterns, whatever the host. */
void mlp_put_u32(unsigned char *p, uint32_t v);
void mlp_put_u64(unsigned char *p, uint64_t v);
uint32_t mlp_get_u32(const unsigned char *p);
uint64_t mlp_get_u64(const unsigned char *p);
void mlp_put_floats(unsigned char *p, const float *x, size_t count);
void mlp_get_floats(float *x, const unsigned char *p, size_t count);
/* Writes the saved form of obj, size bytes, to bytes. */
typedef void (*mlp_serializer)(const void *obj, unsigned char *bytes, size_t size);
/* Serializes obj (size bytes, by fill) into a new buffer and replaces path
 * with it through a temporary file in the same folder (write, fsync,
 * rename). MLP_ERR_IO, path unchanged, on failure; MLP_ERR_NOMEM. */
mlp_status mlp_save_atomically(const char *path, const void *obj, size_t size,
                               mlp_serializer fill);
/* Reads exactly n bytes at offset: MLP_ERR_IO, or MLP_ERR_FORMAT when the
 * file ends first. */
mlp_status mlp_read_at(int fd, unsigned char *bytes, size_t n, size_t offset);
/* Whether a file of size bytes, open as fd, has a header that accounts for
 * exactly that size: MLP_OK, MLP_ERR_FORMAT or a read's MLP_ERR_IO. */
typedef mlp_status (*mlp_file_check)(int fd, size_t size);
/* Reads the regular file at path into a new buffer (*bytes, *len; freed
 * with mlp_dealloc) once check has accepted its size. MLP_ERR_IO (cannot
 * open or read, not a regular file), check's refusal, MLP_ERR_NOMEM. */
mlp_status mlp_read_file(const char *path, mlp_file_check check, unsigned char **bytes,
                         size_t *len);

/* ---- Runtime choice of vector width. The library is compiled for the
 * baseline instruction set of its target, so one libmlp.a runs on every
 * x86-64 machine; the element-wise loops that dominate a step after the
 * matrix products (the optimizer updates and the activation passes) and
 * the library's own small products (matrix-vector, outer product, shallow
 * A^T B) are also compiled for AVX2 and for AVX-512, and the dynamic loader
 * picks the widest copy the CPU can run, as OpenBLAS does for its kernels.
 * All copies do the same IEEE operations in the same order on each element
 * (no FMA contraction: every build has -ffp-contract=off, MLP_EXACT_FLAGS
 * in CMakeLists.txt; no reordered sums), so results are the same bits on
 * each (the test clone_parity checks). Needs GCC or
 * Clang's target_clones on x86-64 glibc (ifunc); elsewhere, or with
 * MLP_NO_VECTOR_CLONES defined, there is only the baseline copy, and with
 * MLP_NO_AVX512_CLONES there is no AVX-512 copy. Cloned functions are
 * static (clang 14 cannot link a call to an extern one from another file),
 * and their loops must be in their own body or in static helpers that only
 * they call, which are inlined into each copy. Under ThreadSanitizer there
 * are no clones: the loader runs the choosing function before the
 * sanitizer's runtime is ready. An attribute cannot be written as a
 * function, hence the macro. */
#if defined(__SANITIZE_THREAD__) /* GCC's ThreadSanitizer */
#define MLP_NO_VECTOR_CLONES
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MLP_NO_VECTOR_CLONES
#endif
#endif
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute) &&             \
    !defined(MLP_NO_VECTOR_CLONES)
#if __has_attribute(target_clones) && defined(MLP_NO_AVX512_CLONES)
#define MLP_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#elif __has_attribute(target_clones)
#define MLP_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef MLP_VECTOR_CLONES
#define MLP_VECTOR_CLONES
#endif

/* For a helper that exists to be inlined with constant arguments (an
 * activation, an input width), where GCC's size limits would otherwise
 * make it a call that decides per entry again. */
#if defined(__GNUC__)
#define MLP_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MLP_ALWAYS_INLINE inline
#endif

/* Non-zero when x is NaN or infinite. A comparison rather than a call to
 * isfinite, so that loops testing many values vectorize. */
static inline int mlp_not_finite(float x)
{
    return !(fabsf(x) <= FLT_MAX);
}

/* The bits of |x| as an integer. For floats without a sign the order of
 * these integers is that of the numbers, with infinity and then NaN above
 * every finite value; and an integer maximum vectorizes, where a float one
 * would not without -ffast-math. So the largest |x| of a block is tracked
 * as mlp_max_bits of these, then read back by mlp_from_abs_bits. */
static inline int32_t mlp_abs_bits(float x)
{
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits & 0x7fffffff;
}
static inline int32_t mlp_max_bits(int32_t a, int32_t b)
{
    return a > b ? a : b;
}
/* The float whose bits mlp_abs_bits gave, NaN read as infinity. */
static inline float mlp_from_abs_bits(int32_t bits)
{
    const int32_t inf_bits = 0x7f800000;
    float x;
    bits = bits < inf_bits ? bits : inf_bits;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* The largest |x| of count floats, NaN read as infinity: mlp_max_abs's
 * loop, for passes that inline it into their own vector-width copies. */
static inline float mlp_max_abs_loop(const float *x, size_t count)
{
    int32_t bits = 0;
    for (size_t k = 0; k < count; k++)
        bits = mlp_max_bits(bits, mlp_abs_bits(x[k]));
    return mlp_from_abs_bits(bits);
}

/* ---- rng.c: xoshiro256** seeded with splitmix64, so a seed reproduces a
 * run bit for bit on every platform. ---- */
typedef struct mlp_rng {
    uint64_t s[4];
} mlp_rng;
void mlp_rng_seed(mlp_rng *rng, uint64_t seed);
uint64_t mlp_rng_next(mlp_rng *rng);
/* Advances rng as k calls of mlp_rng_next would, in time logarithmic in k.
 * MLP_ERR_NOMEM (rng unchanged) when a long skip cannot get its 16 KiB. */
mlp_status mlp_rng_skip(mlp_rng *rng, uint64_t k);
/* Uniform integer in [0, n), unbiased; n must be > 0. */
uint64_t mlp_rng_below(mlp_rng *rng, uint64_t n);
/* Uniform double in [0, 1) with 53 random bits. */
double mlp_rng_uniform(mlp_rng *rng);
/* Standard normal (Box-Muller). */
double mlp_rng_normal(mlp_rng *rng);

/* ---- matrix.c: the matrix products. Matrices are row-major and
 * contiguous, every size is at least 1, and C is overwritten (never read,
 * so whatever it held, NaN included, is ignored). ---- */
typedef enum {
    MLP_AB_T, /* C = A B^T, A M x K, B N x K: Z = A_prev W^T */
    MLP_A_TB, /* C = A^T B, A K x M, B K x N: dW = delta^T A_prev */
    MLP_AB,   /* C = A B, A M x K, B K x N: delta_prev = delta W */
} mlp_product;
/* C (M x N) = the product op of A and B, K the shared dimension. */
void mlp_matmul(mlp_product op, size_t M, size_t N, size_t K, const float *A,
                const float *B, float *C);
/* Whether every one of count floats is finite. */
bool mlp_all_finite(const float *x, size_t count);
/* The largest |x| of count floats: infinity when one is NaN or infinite. */
float mlp_max_abs(const float *x, size_t count);
/* Whether x is finite and above 0 (learning rates, norms, scales). */
bool mlp_positive_finite(float x);
/* Largest dimension the BLAS interface (int) accepts. */
static inline size_t mlp_gemm_max_dim(void)
{
    return (size_t)INT_MAX;
}
/* The three paths mlp_matmul chooses between, same contract, exposed so
 * tests can run each on the same inputs: plain loops (M * N * K at most a
 * limit per product), matrix-vector code (an outer-product loop when
 * K = 1, a one-pass loop for A^T B of depth K <= 4, else a matrix-vector
 * loop once per row of C, or once when N = 1, all on the calling thread:
 * chosen for K = 1, N = 1, up to a few rows and dW at up to four samples) and
 * cblas_sgemm (A^T B in blocks of rows of C, which keeps OpenBLAS's
 * packing buffer small). */
typedef enum { MLP_PATH_LOOPS, MLP_PATH_VECTOR, MLP_PATH_GEMM } mlp_matmul_path;
void mlp_matmul_loops(mlp_product op, size_t M, size_t N, size_t K, const float *A,
                      const float *B, float *C);
/* Needs mlp_matmul_vector_fits: K = 1, N = 1, A's rows contiguous (any M
 * for A B^T and A B, M = 1 for A^T B), or A^T B of depth K <= 4. */
bool mlp_matmul_vector_fits(mlp_product op, size_t M, size_t N, size_t K);
void mlp_matmul_vector(mlp_product op, size_t M, size_t N, size_t K, const float *A,
                       const float *B, float *C);
void mlp_matmul_blas(mlp_product op, size_t M, size_t N, size_t K, const float *A,
                     const float *B, float *C);
mlp_matmul_path mlp_matmul_choose(mlp_product op, size_t M, size_t N, size_t K);

/* ---- activation.c, and the formulas of SPEC.md's activation table for one
 * entry, inline so the loops that call them with a constant act compile to
 * that activation alone. Softmax needs a whole row and is not here. ---- */
static const float mlp_leaky_slope = 0.01f;

/* e^y for y <= 0, what sigmoid and tanh need, within 1.1 ulp where e^y is a
 * normal float: y = n ln2 + r with |r| <= ln2/2, e^r by Cephes' expf
 * polynomial, then 2^n as two powers of two written into exponent bits, so
 * that results down to the subnormals round once. No branch and no library
 * call, so the loops that call it vectorize. y below -110 gives 0; NaN gives
 * NaN. */
static inline float mlp_exp_nonpositive(float y)
{
    const float log2e = 1.44269504f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float shift = 12582912.0f; /* 1.5 * 2^23: the sum rounds to an integer */
    y = y < -110.0f ? -110.0f : y;
    float shifted = y * log2e + shift;
    float n = shifted - shift;
    float r = (y - n * ln2_hi) - n * ln2_lo;
    float r2 = r * r, r4 = r2 * r2; /* Estrin's scheme: a short dependency chain */
    float p = (5.0000001201e-1f + 1.6666665459e-1f * r) +
              r2 * (4.1665795894e-2f + 8.3334519073e-3f * r) +
              r4 * (1.3981999507e-3f + 1.9875691500e-4f * r);
    p = p * r2 + r + 1.0f;
    uint32_t n_bits; /* n, between -159 and 0, sits in the low bits of shifted */
    memcpy(&n_bits, &shifted, sizeof n_bits);
    int32_t n_int = (int32_t)(n_bits - 0x4B400000u);
    int32_t half = n_int / 2;
    uint32_t bits1 = (uint32_t)(half + 127) << 23;
    uint32_t bits2 = (uint32_t)(n_int - half + 127) << 23;
    float scale1, scale2;
    memcpy(&scale1, &bits1, sizeof scale1);
    memcpy(&scale2, &bits2, sizeof scale2);
    return p * scale1 * scale2;
}

/* 1/(1+e^-z), written with e = e^-|z| <= 1 so nothing overflows: 1/(1+e)
 * for z >= 0, e/(1+e) below. */
static inline float mlp_sigmoid(float z)
{
    float e = mlp_exp_nonpositive(-fabsf(z));
    return (z >= 0.0f ? 1.0f : e) / (1.0f + e);
}

/* e^x - 1 for x in [-20, 0], in double, within about 2e-14 of its value:
 * x = n ln2 + r with |r| <= ln2/2 as in mlp_exp_nonpositive, e^r - 1 by
 * its Taylor series to r^11 (Estrin's scheme), then 2^n (e^r - 1) +
 * (2^n - 1), which is e^r - 1 itself for n = 0, so that a tiny x keeps its
 * relative accuracy. No branch and no library call, so the loops that call
 * it vectorize. */
static inline double mlp_expm1_nonpositive(double x)
{
    const double log2e = 1.4426950408889634, ln2_hi = 6.93147180369123816490e-01,
                 ln2_lo = 1.90821492927058770002e-10;
    /* 1.5 * 2^52: adding it rounds to an integer */
    const double shift = 6755399441055744.0;
    double shifted = x * log2e + shift;
    double n = shifted - shift;
    double r = (x - n * ln2_hi) - n * ln2_lo;
    double r2 = r * r, r4 = r2 * r2;
    double q =
        (1.0 / 2 + r * (1.0 / 6)) + r2 * (1.0 / 24 + r * (1.0 / 120)) +
        r4 * ((1.0 / 720 + r * (1.0 / 5040)) + r2 * (1.0 / 40320 + r * (1.0 / 362880))) +
        r4 * r4 * (1.0 / 3628800 + r * (1.0 / 39916800));
    uint64_t n_bits; /* n, between -29 and 0, sits in the low bits of shifted */
    memcpy(&n_bits, &shifted, sizeof n_bits);
    uint64_t scale_bits = (n_bits - 0x4338000000000000u + 1023u) << 52;
    double scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    return scale * (r + r2 * q) + (scale - 1.0);
}

/* tanh z correctly rounded: -(e^-2a - 1) / (2 + (e^-2a - 1)) for a = |z|
 * capped at 10, where tanh is 1 in float, in double and rounded to float
 * once, which gives tanh in double rounded to float for every float z
 * (tests/tanh_all_floats.c compares all of them in each vector width).
 * The sign is z's, so -0 stays -0; NaN gives NaN. Branch-free, so that it
 * vectorizes (glibc's tanhf does not, and cost tanh networks 2x); in
 * double, with half the lanes, it takes about twice the time of the float
 * formula it replaced. */
static inline float mlp_tanh(float z)
{
    float a = fabsf(z);
    double em1 = mlp_expm1_nonpositive(-2.0 * (double)(a > 10.0f ? 10.0f : a));
    return copysignf((float)(-em1 / (2.0 + em1)), z);
}

/* a = g(z). */
static inline float mlp_activation_value(mlp_activation act, float z)
{
    switch (act) {
    case MLP_SIGMOID:
        return mlp_sigmoid(z);
    case MLP_TANH:
        return mlp_tanh(z);
    case MLP_RELU:
        return z > 0.0f ? z : 0.0f;
    case MLP_LEAKY_RELU: {
        float leak = mlp_leaky_slope * z; /* made either way, so the choice vectorizes */
        return z > 0.0f ? z : leak;
    }
    case MLP_IDENTITY:
    case MLP_SOFTMAX:
        break;
    }
    return z;
}

/* d g'(z), from z and a = g(z): one entry of delta (.) g'(Z). The ReLU
 * family selects rather than multiplies, so an infinite d never becomes
 * NaN where g' is 0. */
static inline float mlp_activation_backprop(mlp_activation act, float z, float a, float d)
{
    switch (act) {
    case MLP_SIGMOID:
        return d * (a * (1.0f - a));
    case MLP_TANH:
        return d * (1.0f - a * a);
    case MLP_RELU:
        return z > 0.0f ? d : 0.0f;
    case MLP_LEAKY_RELU: {
        float leak = mlp_leaky_slope * d;
        return z > 0.0f ? d : leak;
    }
    case MLP_IDENTITY:
    case MLP_SOFTMAX:
        break;
    }
    return d;
}

bool mlp_activation_valid(mlp_activation act);
/* Z <- Z + 1 b^T, then A = g(Z), in one pass over the m x n matrix
 * (softmax: a few). Returns the largest |A| (infinity for NaN), from a read
 * of A after the pass. */
float mlp_activation_forward(mlp_activation act, const float *b, float *Z, float *A,
                             size_t m, size_t n);
/* delta <- delta (.) g'(Z), element-wise over m x n (identity for softmax,
 * which only cross-entropy's fused delta reaches), and in the same pass
 * db = the column sums of the new delta, the layer's bias gradient.
 * Returns the largest |delta| (infinity for NaN), from a read of delta
 * after the pass. */
float mlp_activation_backward(mlp_activation act, const float *Z, const float *A,
                              float *delta, float *db, size_t m, size_t n);

/* ---- data.c ---- */
/* Whether a prediction row gets its target's class, the rule of
 * mlp_accuracy: one output is a probability cut at 0.5, several are class
 * scores compared by arg max (the first on ties). */
bool mlp_row_correct(const float *p, const float *y, size_t k);

/* ---- loss.c ---- */
bool mlp_loss_valid(mlp_loss loss);
/* Whether the output activation and loss pair is differentiated exactly:
 * only pairs whose delta is exact and whose loss cannot take a log of 0 are
 * accepted, BCE needs outputs in (0,1), cross-entropy a distribution. Inline,
 * as every training step asks. */
static inline bool mlp_loss_accepts(mlp_loss loss, mlp_activation output_act)
{
    switch (loss) {
    case MLP_MSE:
        return output_act != MLP_SOFTMAX;
    case MLP_BCE:
        return output_act == MLP_SIGMOID;
    case MLP_CROSS_ENTROPY:
        return output_act == MLP_SOFTMAX;
    }
    return false;
}
/* Checks targets Y (m x n) for the loss's domain; m n must not overflow. */
mlp_status mlp_loss_check_targets(mlp_loss loss, const float *Y, size_t m, size_t n);
/* The batch-mean loss C of outputs (Z, A) against Y, accumulated in double. */
double mlp_loss_compute(mlp_loss loss, mlp_activation output_act, const float *Z,
                        const float *A, const float *Y, size_t m, size_t n);
/* Whether a loss value in double is a finite float: finite in double is not
 * enough, callers receive it as a float. */
static inline bool mlp_loss_is_finite(double loss)
{
    return isfinite((float)loss);
}
/* log(1 + e^-x) for x >= 0 in double, within 4 ulp: the part of BCE's
 * softplus that needs an exponential and a log. glibc's exp and log1p, one
 * after the other, cost 12-17 ns; this has no branch and no library call,
 * so loss.c's loop over 8 outputs or more runs it 8 entries at a time,
 * 2 ns each (fewer take glibc's pair, whose latency is shorter).
 * e = e^-x: x = k ln2 + r with |r| <= ln2/2, e^-r by its Taylor series to
 * the 13th power (the rest is below 1e-17), then 2^-k written into the
 * exponent bits. log(1 + e) = 2 atanh(s) with s = e/(2 + e) <= 1/3: the odd
 * series 2(s + s^3/3 + ... + s^33/33), with no cancellation anywhere, so a
 * tiny e keeps its relative accuracy. Both series in Estrin's scheme, as
 * mlp_exp_nonpositive, for a short chain of dependent operations. Beyond
 * x = 708, where e^-x leaves double's normal range, it gives 0, which no
 * float-sized loss can tell apart; NaN gives NaN. */
static inline double mlp_softplus_tail(double x)
{
    const double log2e = 1.4426950408889634, shift = 6755399441055744.0; /* 1.5 * 2^52 */
    /* ln 2 in two parts; k ln2_hi is exact for every k here */
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    double x_cap = x > 708.0 ? 708.0 : x;
    double shifted = x_cap * log2e + shift; /* k = round(x / ln2) in the low bits */
    double k = shifted - shift;
    double t = (k * ln2_hi - x_cap) + k * ln2_lo; /* t = -r */
    double t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
    double p = ((1.0 + t) + t2 * (1.0 / 2 + t * (1.0 / 6))) +
               t4 * ((1.0 / 24 + t * (1.0 / 120)) + t2 * (1.0 / 720 + t * (1.0 / 5040))) +
               t8 * (((1.0 / 40320 + t * (1.0 / 362880)) +
                      t2 * (1.0 / 3628800 + t * (1.0 / 39916800))) +
                     t4 * (1.0 / 479001600 + t * (1.0 / 6227020800)));
    uint64_t k_bits, shift_bits;
    memcpy(&k_bits, &shifted, sizeof k_bits);
    memcpy(&shift_bits, &shift, sizeof shift_bits);
    uint64_t scale_bits = (1023 + shift_bits - k_bits) << 52; /* 2^-k, 0 <= k <= 1022 */
    double scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    double e = p * scale;
    double s = e / (2.0 + e);
    double w = s * s, w2 = w * w, w4 = w2 * w2, w8 = w4 * w4;
    double q =
        ((1.0 + w * (1.0 / 3)) + w2 * (1.0 / 5 + w * (1.0 / 7))) +
        w4 * ((1.0 / 9 + w * (1.0 / 11)) + w2 * (1.0 / 13 + w * (1.0 / 15))) +
        w8 * (((1.0 / 17 + w * (1.0 / 19)) + w2 * (1.0 / 21 + w * (1.0 / 23))) +
              w4 * ((1.0 / 25 + w * (1.0 / 27)) + w2 * (1.0 / 29 + w * (1.0 / 31)))) +
        w8 * w8 * (1.0 / 33);
    return x > 708.0 ? 0.0 : 2.0 * s * q;
}
/* The output layer's Delta^(L) = dC/dZ^(L), fused where SPEC.md says so,
 * then, if C is a finite float, db = its column sums, the layer's bias
 * gradient; returns C, the value mlp_loss_compute gives. */
double mlp_loss_delta(mlp_loss loss, mlp_activation output_act, const float *Z,
                      const float *A, const float *Y, size_t m, size_t n, float *delta,
                      float *db);

/* ---- layer.c: one dense layer, every buffer named. ---- */
typedef struct mlp_layer {
    size_t n_in, n_out;
    mlp_activation act;
    size_t tiny_rows;     /* mlp_dense_tiny_rows(n_in, n_out), fixed */
    size_t offset;        /* W starts at params + offset, b follows W */
    float *W, *b;         /* views into net->params */
    float *dW, *db;       /* views into net->grads, same layout */
    float *Z, *A, *delta; /* views into net->work, m_cap x n_out each */
    float A_max;          /* largest |A| of the last forward pass, when the
                             general path made A (tiny layers: not kept) */
} mlp_layer;

/* Each pass of a layer has two implementations with the same contract,
 * computing the same sums in the same order (tests compare them on the same
 * inputs): the general one, the matrix core followed by one pass for b and g,
 * and the tiny one, a single fused loop nest for layers where passes, calls
 * and loop set-ups cost more than the arithmetic. The tiny kernels are in
 * layer_tiny.h: network.c inlines them, and the mlp_dense_*_tiny functions
 * below (layer_tiny.c) export the same kernels for the tests and the
 * benchmark's sweeps.
 * network.c chooses, layer by layer, with the limit each layer stores (the
 * tiny path is never used for a softmax layer's forward pass). The tiny path
 * writes its outputs while it still reads its inputs, so no output buffer
 * may overlap an input one (the general path allows A to overwrite A_prev,
 * which mlp_infer's two buffers rely on). */

/* A layer takes the tiny path when it makes at most this many multiply-adds
 * per product (m n_in n_out), measured with `mlp_bench --layer-sweep`
 * (bench/README.md). */
enum { mlp_tiny_limit = 64 };
static inline bool mlp_dense_is_tiny(size_t m, size_t n_in, size_t n_out)
{
    const size_t limit = mlp_tiny_limit;
    return m <= limit && n_in <= limit && n_out <= limit && m * n_in * n_out <= limit;
}
/* The largest batch m at which an n_in -> n_out layer is tiny (0: none), so
 * that a training step decides with one comparison per layer: m is at most
 * this exactly when mlp_dense_is_tiny(m, n_in, n_out). */
static inline size_t mlp_dense_tiny_rows(size_t n_in, size_t n_out)
{
    return mlp_dense_is_tiny(1, n_in, n_out) ? mlp_tiny_limit / (n_in * n_out) : 0;
}

/* Z = A_prev W^T + 1 b^T, A = g(Z). The tiny path is not for softmax.
 * The general path returns the largest |A|, as mlp_activation_forward. */
float mlp_dense_forward_general(float *Z, float *A, const float *A_prev, const float *W,
                                const float *b, size_t m, size_t n_in, size_t n_out,
                                mlp_activation act);
void mlp_dense_forward_tiny(float *Z, float *A, const float *A_prev, const float *W,
                            const float *b, size_t m, size_t n_in, size_t n_out,
                            mlp_activation act);

/* dW = delta^T A_prev. (db, the column sums of delta, is made where delta
 * is made: by mlp_loss_delta for the output layer, by the next layer's
 * backward_input for the others.) */
void mlp_dense_backward_params_general(float *dW, const float *delta, const float *A_prev,
                                       size_t m, size_t n_in, size_t n_out);
void mlp_dense_backward_params_tiny(float *dW, const float *delta, const float *A_prev,
                                    size_t m, size_t n_in, size_t n_out);

/* delta_prev = (delta W) (.) g'(Z_prev), the previous layer's delta, and
 * in the same pass db_prev = its column sums, that layer's bias gradient.
 * The general path returns the largest |delta_prev|, as
 * mlp_activation_backward. */
float mlp_dense_backward_input_general(float *delta_prev, float *db_prev,
                                       const float *delta, const float *W,
                                       const float *Z_prev, const float *A_prev,
                                       mlp_activation act_prev, size_t m, size_t n_in,
                                       size_t n_out);
void mlp_dense_backward_input_tiny(float *delta_prev, float *db_prev, const float *delta,
                                   const float *W, const float *Z_prev,
                                   const float *A_prev, mlp_activation act_prev, size_t m,
                                   size_t n_in, size_t n_out);

/* ---- network.c ---- */
struct mlp_net {
    size_t n_inputs;
    mlp_loss loss;
    mlp_rng rng; /* weight initialization */
    size_t n_layers;
    mlp_layer *layers;
    size_t n_params; /* all W and b, contiguous, layer after layer */
    float *params;
    float *grads;
    size_t m_cap;   /* rows the work buffer holds */
    float *work;    /* Z, A, delta of every layer */
    const float *X; /* input of the last forward pass, not copied */
    size_t m;       /* rows of the last forward pass, 0 if none */
    bool has_delta; /* a backward pass followed the last forward pass */
    bool has_grads; /* dW, db hold the gradients of some batch */
    /* What the optimizer's bound reads instead of the blocks when it can
     * (optimizer.c, step_bounded), for networks of mlp_bounded_min_params
     * parameters or more: */
    float X_max;           /* largest |X| of the last forward pass when the caller
                              holds X until the backward pass, else infinity */
    double grad_max;       /* at least every |dW|, |db| of the last backward pass;
                              infinity when not known */
    float params_max;      /* largest |p|, when params_max_known */
    bool params_max_known; /* set by an update pass, cleared by any other
                              write to the parameters */
    bool params_exposed;   /* mlp_layer_params handed out writable views,
                              through which p may change unseen: until
                              mlp_net_add_layers invalidates them,
                              params_max is never used */
};
/* Tells the network that its parameters were written other than by an
 * optimizer step, so that the largest |p| the last step left is not used. */
static inline void mlp_net_params_written(mlp_net *net)
{
    net->params_max_known = false;
}

/* Checks that the network can be trained: layers present, output
 * activation accepted by the loss. */
static inline mlp_status mlp_net_check_trainable(const mlp_net *net)
{
    if (net->n_layers == 0 ||
        !mlp_loss_accepts(net->loss, net->layers[net->n_layers - 1].act))
        return MLP_ERR_ARG;
    return MLP_OK;
}
/* mlp_net_add_dense for count layers at once (n_outputs[k] units with
 * activation acts[k]), with one allocation of each block: the same checks,
 * statuses and weights as count calls, in time linear in the network's size.
 * MLP_ERR_ARG also for count 0. */
mlp_status mlp_net_add_layers(mlp_net *net, size_t count, const size_t *n_outputs,
                              const mlp_activation *acts);
/* mlp_forward then mlp_backward on one batch, with X and Y both checked
 * before anything changes: the part of mlp_train_batch before its step. */
mlp_status mlp_net_forward_backward(mlp_net *net, const float *X, const float *Y,
                                    size_t m, float *loss);
/* The widest layer output n_l (the inputs are not counted). */
size_t mlp_net_max_width(const mlp_net *net);

/* ---- optimizer.c: the optimizer's state, which optimizer_file.c saves and
 * restores ---- */
typedef enum { MLP_OPT_SGD, MLP_OPT_ADAM } mlp_opt_kind;

struct mlp_optimizer {
    mlp_opt_kind kind;
    size_t n_params;
    float learning_rate;
    float weight_decay;
    float momentum;       /* SGD */
    bool nesterov;        /* SGD */
    float beta1, beta2;   /* Adam */
    float epsilon;        /* Adam */
    bool decoupled_decay; /* AdamW */
    uint64_t steps;       /* updates taken so far */
    float *velocity;      /* SGD momentum buffer, or Adam's first moment */
    float *second_moment; /* Adam only */
    bool bounded;         /* checks a step by step_bounded first */
    float velocity_max;   /* when bounded: the largest |velocity| entry */
    float second_max;     /* when bounded, Adam: the largest second_moment */
};
/* From this many parameters on, an optimizer is bounded: a step is checked
 * by step_bounded first, from the largest entries of the blocks; below,
 * the exact check costs no more. */
enum { mlp_bounded_min_params = 256 };
/* The checks of mlp_sgd_create and mlp_adam_create on their settings. */
bool mlp_sgd_settings_valid(float learning_rate, float momentum, float weight_decay);
bool mlp_adam_settings_valid(float learning_rate, float beta1, float beta2, float epsilon,
                             float weight_decay);
/* Sets velocity_max and second_max from the buffers, as the last update
 * pass would have left them, after the buffers were written directly. */
void mlp_optimizer_refresh_maxima(mlp_optimizer *opt);

#endif
