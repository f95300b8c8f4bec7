/*
 * The matrix core: mlp_gemm's two paths (plain loops for small products,
 * cblas_sgemm for the rest) against a double-precision reference and against
 * each other on the same inputs, for every transpose case and several alpha,
 * beta; and the dispatch at the size threshold.
 */
#include "internal.h"
#include "test_util.h"

#include <float.h>

typedef void gemm_fn(bool, bool, size_t, size_t, size_t, float, const float *,
                     const float *, float, float *);

/* op(A)(i, k) and op(B)(k, j) of row-major, contiguous operands. */
static double op_a(const float *A, bool trans, size_t M, size_t K, size_t i, size_t k)
{
    return trans ? A[k * M + i] : A[i * K + k];
}

static double op_b(const float *B, bool trans, size_t K, size_t N, size_t k, size_t j)
{
    return trans ? B[j * K + k] : B[k * N + j];
}

typedef struct gemm_case {
    bool ta, tb;
    size_t M, N, K;
    float alpha, beta;
    float *A, *B, *C0; /* inputs, C0 the initial C */
} gemm_case;

static gemm_case make_case(test_rng *rng, bool ta, bool tb, size_t M, size_t N, size_t K,
                           float alpha, float beta)
{
    gemm_case c = {ta, tb, M, N, K, alpha, beta, NULL, NULL, NULL};
    c.A = malloc(M * K * sizeof *c.A);
    c.B = malloc(K * N * sizeof *c.B);
    c.C0 = malloc(M * N * sizeof *c.C0);
    assert_non_null(c.A);
    assert_non_null(c.B);
    assert_non_null(c.C0);
    test_fill_uniform(rng, c.A, M * K, -1.0, 1.0);
    test_fill_uniform(rng, c.B, K * N, -1.0, 1.0);
    test_fill_uniform(rng, c.C0, M * N, -1.0, 1.0);
    return c;
}

static void free_case(gemm_case *c)
{
    free(c->A);
    free(c->B);
    free(c->C0);
}

/* Runs one path on a fresh copy of C0 into a new array. */
static float *run(gemm_fn *f, const gemm_case *c)
{
    float *C = malloc(c->M * c->N * sizeof *C);
    assert_non_null(C);
    memcpy(C, c->C0, c->M * c->N * sizeof *C);
    f(c->ta, c->tb, c->M, c->N, c->K, c->alpha, c->A, c->B, c->beta, C);
    return C;
}

/* Checks C against the product in double, each entry within a float
 * rounding bound: (K + 2) eps (|alpha| sum |a b| + |beta c|). */
static void check_against_reference(const gemm_case *c, const float *C, const char *what)
{
    for (size_t i = 0; i < c->M; i++)
        for (size_t j = 0; j < c->N; j++) {
            double sum = 0.0, magnitude = 0.0;
            for (size_t k = 0; k < c->K; k++) {
                double p = op_a(c->A, c->ta, c->M, c->K, i, k) *
                           op_b(c->B, c->tb, c->K, c->N, k, j);
                sum += p;
                magnitude += fabs(p);
            }
            double c0 = c->C0[i * c->N + j];
            double expected = c->alpha * sum + (c->beta == 0.0f ? 0.0 : c->beta * c0);
            double c_part = c->beta == 0.0f ? 0.0 : fabs(c->beta * c0);
            double bound =
                (double)(c->K + 2) * FLT_EPSILON * (fabs(c->alpha) * magnitude + c_part);
            check_close(C[i * c->N + j], expected, bound, what);
        }
}

static const size_t shapes[][3] = {
    {1, 1, 1},   {1, 4, 2},   {4, 2, 1}, {1, 1, 4},    {3, 5, 7},    {8, 8, 8},
    {1, 16, 16}, {16, 16, 1}, {7, 1, 9}, {32, 10, 64}, {10, 64, 32}, {33, 17, 65},
};
static const float alphas[] = {1.0f, 1.0f, 0.5f, -2.0f};
static const float betas[] = {0.0f, 1.0f, 0.0f, 0.25f};

/* Both paths, every transpose case, shape and (alpha, beta): each agrees
 * with the reference, and so the two agree with each other within float
 * rounding on the same inputs. */
static void test_paths_match_reference(void **state)
{
    (void)state;
    test_rng rng = {1};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (size_t ab = 0; ab < sizeof alphas / sizeof alphas[0]; ab++) {
                gemm_case c = make_case(&rng, t & 1, t & 2, shapes[s][0], shapes[s][1],
                                        shapes[s][2], alphas[ab], betas[ab]);
                float *small = run(mlp_gemm_small, &c);
                float *blas = run(mlp_gemm_blas, &c);
                check_against_reference(&c, small, "plain-loop path");
                check_against_reference(&c, blas, "BLAS path");
                free(small);
                free(blas);
                free_case(&c);
            }
}

/* With beta 0, C is written without being read, as BLAS specifies: a NaN
 * already in C must not reach the result. */
static void test_beta_zero_ignores_c(void **state)
{
    (void)state;
    test_rng rng = {2};
    for (int t = 0; t < 4; t++) {
        gemm_case c = make_case(&rng, t & 1, t & 2, 3, 4, 5, 1.0f, 0.0f);
        for (size_t k = 0; k < 12; k++)
            c.C0[k] = NAN;
        float *small = run(mlp_gemm_small, &c);
        float *blas = run(mlp_gemm_blas, &c);
        for (size_t k = 0; k < 12; k++) {
            assert_true(isfinite(small[k]));
            assert_true(isfinite(blas[k]));
        }
        check_against_reference(&c, small, "plain-loop path, NaN in C");
        free(small);
        free(blas);
        free_case(&c);
    }
}

/* Whether two arrays hold the same bits. */
static bool same_floats(const float *x, const float *y, size_t count)
{
    return memcmp(x, y, count * sizeof *x) == 0;
}

/* mlp_gemm takes the plain loops up to the limit (bit for bit the same as
 * mlp_gemm_small) and BLAS above it (the same as mlp_gemm_blas): 2 x 2 x K
 * products with K at and just past limit / 4, long enough that the two paths
 * round differently. */
static void test_dispatch_at_threshold(void **state)
{
    (void)state;
    test_rng rng = {3};
    size_t limit = mlp_gemm_small_limit();
    assert_true(limit >= 8 && limit % 4 == 0); /* xor's products are all small */
    const size_t Ks[] = {limit / 4, limit / 4 + 1};
    for (size_t n = 0; n < 2; n++)
        for (int t = 0; t < 4; t++) {
            gemm_case c = make_case(&rng, t & 1, t & 2, 2, 2, Ks[n], 1.0f, 0.0f);
            float *chosen = run(mlp_gemm, &c);
            float *small = run(mlp_gemm_small, &c);
            float *blas = run(mlp_gemm_blas, &c);
            assert_false(same_floats(small, blas, 4)); /* else the check below is blind */
            assert_true(same_floats(chosen, 4 * Ks[n] <= limit ? small : blas, 4));
            free(chosen);
            free(small);
            free(blas);
            free_case(&c);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_match_reference),
        cmocka_unit_test(test_beta_zero_ignores_c),
        cmocka_unit_test(test_dispatch_at_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
