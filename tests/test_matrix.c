/*
 * The matrix core: mlp_matmul's two paths (plain loops for small products,
 * cblas_sgemm for the rest) against a double-precision reference and against
 * each other on the same inputs, for each of the three products a layer
 * needs; and the dispatch at the size threshold.
 */
#include "internal.h"
#include "test_util.h"

#include <float.h>

typedef void matmul_fn(mlp_product, size_t, size_t, size_t, const float *, const float *,
                       float *);

static const mlp_product products[] = {MLP_AB_T, MLP_A_TB, MLP_AB};

/* The operands of C (M x N) = op(A) op(B), row-major and contiguous:
 * op(A)(i, k) and op(B)(k, j) for each product. */
static double op_a(const float *A, mlp_product op, size_t M, size_t K, size_t i, size_t k)
{
    return op == MLP_A_TB ? A[k * M + i] : A[i * K + k];
}

static double op_b(const float *B, mlp_product op, size_t K, size_t N, size_t k, size_t j)
{
    return op == MLP_AB_T ? B[j * K + k] : B[k * N + j];
}

typedef struct matmul_case {
    mlp_product op;
    size_t M, N, K;
    float *A, *B; /* inputs */
} matmul_case;

static matmul_case make_case(test_rng *rng, mlp_product op, size_t M, size_t N, size_t K)
{
    matmul_case c = {op, M, N, K, NULL, NULL};
    c.A = malloc(M * K * sizeof *c.A);
    c.B = malloc(K * N * sizeof *c.B);
    assert_non_null(c.A);
    assert_non_null(c.B);
    test_fill_uniform(rng, c.A, M * K, -1.0, 1.0);
    test_fill_uniform(rng, c.B, K * N, -1.0, 1.0);
    return c;
}

static void free_case(matmul_case *c)
{
    free(c->A);
    free(c->B);
}

/* Runs one path into a new array that starts full of NaN: the product
 * overwrites C without reading it, so none may survive. */
static float *run(matmul_fn *f, const matmul_case *c)
{
    float *C = malloc(c->M * c->N * sizeof *C);
    assert_non_null(C);
    for (size_t k = 0; k < c->M * c->N; k++)
        C[k] = NAN;
    f(c->op, c->M, c->N, c->K, c->A, c->B, C);
    return C;
}

/* Checks C against the product in double, each entry within a float
 * rounding bound: (K + 2) eps sum |a b|. */
static void check_against_reference(const matmul_case *c, const float *C,
                                    const char *what)
{
    for (size_t i = 0; i < c->M; i++)
        for (size_t j = 0; j < c->N; j++) {
            double sum = 0.0, magnitude = 0.0;
            for (size_t k = 0; k < c->K; k++) {
                double p = op_a(c->A, c->op, c->M, c->K, i, k) *
                           op_b(c->B, c->op, c->K, c->N, k, j);
                sum += p;
                magnitude += fabs(p);
            }
            double bound = (double)(c->K + 2) * FLT_EPSILON * magnitude;
            check_close(C[i * c->N + j], sum, bound, what);
        }
}

static const size_t shapes[][3] = {
    {1, 1, 1},   {1, 4, 2},   {4, 2, 1}, {1, 1, 4},    {3, 5, 7},    {8, 8, 8},
    {1, 16, 16}, {16, 16, 1}, {7, 1, 9}, {32, 10, 64}, {10, 64, 32}, {33, 17, 65},
};

/* Both paths, every product and shape: each agrees with the reference, and
 * so the two agree with each other within float rounding on the same
 * inputs, and neither lets a NaN already in C through. */
static void test_paths_match_reference(void **state)
{
    (void)state;
    test_rng rng = {1};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t p = 0; p < 3; p++) {
            matmul_case c =
                make_case(&rng, products[p], shapes[s][0], shapes[s][1], shapes[s][2]);
            float *loops = run(mlp_matmul_loops, &c);
            float *blas = run(mlp_matmul_blas, &c);
            check_against_reference(&c, loops, "plain-loop path");
            check_against_reference(&c, blas, "BLAS path");
            free(loops);
            free(blas);
            free_case(&c);
        }
}

/* Whether two arrays hold the same bits. */
static bool same_floats(const float *x, const float *y, size_t count)
{
    return memcmp(x, y, count * sizeof *x) == 0;
}

/* mlp_matmul takes the plain loops up to the limit (bit for bit the same as
 * mlp_matmul_loops) and BLAS above it (the same as mlp_matmul_blas): for each
 * product, 2 x 2 x K with K at and just past its limit / 4, long enough that
 * the two paths round differently. */
static void test_dispatch_at_threshold(void **state)
{
    (void)state;
    test_rng rng = {3};
    for (size_t p = 0; p < 3; p++)
        for (size_t n = 0; n < 2; n++) {
            size_t limit = mlp_matmul_loop_limit(products[p]);
            assert_true(limit >= 8 && limit % 4 == 0); /* xor's products are all small */
            const size_t Ks[] = {limit / 4, limit / 4 + 1};
            matmul_case c = make_case(&rng, products[p], 2, 2, Ks[n]);
            float *chosen = run(mlp_matmul, &c);
            float *loops = run(mlp_matmul_loops, &c);
            float *blas = run(mlp_matmul_blas, &c);
            assert_false(same_floats(loops, blas, 4)); /* else the check below is blind */
            assert_true(same_floats(chosen, 4 * Ks[n] <= limit ? loops : blas, 4));
            free(chosen);
            free(loops);
            free(blas);
            free_case(&c);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_match_reference),
        cmocka_unit_test(test_dispatch_at_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
