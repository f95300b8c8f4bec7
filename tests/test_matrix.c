/*
 * The matrix core: mlp_matmul's three paths (plain loops for small products,
 * matrix-vector code when M, N or K is 1 or C has a few rows, cblas_sgemm
 * for the rest) against a double-precision reference and against each
 * other on the same inputs, for each of the three products a layer needs;
 * and the dispatch at the size thresholds. Then the layers' two paths, the
 * tiny one and the one through the matrix core, on the same inputs, and a
 * tiny network's passes (network.c's own copy of the tiny kernels) against
 * the general path. And mlp_max_abs, which the checks of every batch use.
 */
#include "internal.h"
#include "test_util.h"

#include <cblas.h>
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
    {1, 1, 1},    {1, 4, 2},    {4, 2, 1},    {1, 1, 4},    {3, 5, 7},    {8, 8, 8},
    {1, 16, 16},  {16, 16, 1},  {7, 1, 9},    {32, 10, 64}, {10, 64, 32}, {33, 17, 65},
    {9, 6, 3},    {32, 64, 2},  {5, 7, 4}, /* rows of 1-4: their own compiled loops */
    {1, 128, 64}, {1, 70, 300}, {130, 1, 90}, {1, 1, 500},  {64, 96, 1}, /* vectors */
    {3, 70, 40},  {4, 33, 129},                                          /* a few rows */
    {2, 100, 3},  {2, 9, 2},    {2, 40, 4}, /* A^T B of 2 rows and depth 2-4 (dW of a
                                               2-unit layer, batch 2-4): shallow */
};

/* Whether the matrix-vector path can take the case. */
static bool vector_fits(const matmul_case *c)
{
    return mlp_matmul_vector_fits(c->op, c->M, c->N, c->K);
}

/* Every path that can take the case, every product and shape: each agrees
 * with the reference, and so they agree with each other within float
 * rounding on the same inputs, and none lets a NaN already in C through. */
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
            if (vector_fits(&c)) {
                float *vector = run(mlp_matmul_vector, &c);
                check_against_reference(&c, vector, "matrix-vector path");
                free(vector);
            }
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

/* The path functions by the path mlp_matmul_choose names. */
static matmul_fn *path_fn(mlp_matmul_path path)
{
    switch (path) {
    case MLP_PATH_LOOPS:
        return mlp_matmul_loops;
    case MLP_PATH_VECTOR:
        return mlp_matmul_vector;
    case MLP_PATH_GEMM:
        return mlp_matmul_blas;
    }
    return NULL;
}

/* Checks that mlp_matmul_choose names `expected` for the case, and that
 * mlp_matmul gave that path's bits and not those of `other`, the path on
 * the other side of the threshold (bit for bit: the two must round
 * differently for the check to see the path, which the case's sizes are
 * chosen for; two paths can agree on short sums). With `agree`, the two
 * paths sum each entry in the same order, and mlp_matmul must give the
 * bits of both: crossing the threshold between them changes no result. */
static void expect_chosen_path(test_rng *rng, mlp_product op, size_t M, size_t N,
                               size_t K, mlp_matmul_path expected, mlp_matmul_path other,
                               bool agree)
{
    matmul_case c = make_case(rng, op, M, N, K);
    assert_int_equal(mlp_matmul_choose(op, M, N, K), expected);
    float *chosen = run(mlp_matmul, &c);
    float *same = run(path_fn(expected), &c);
    float *across = run(path_fn(other), &c);
    assert_true(same_floats(chosen, same, M * N));
    assert_true(same_floats(chosen, across, M * N) == agree);
    free(chosen);
    free(same);
    free(across);
    free_case(&c);
}

/* mlp_matmul takes the plain loops up to each product's limit and another
 * path above it: 2 x 2 x K with K at and just past the limit / 4, long
 * enough that the paths round differently (past it, two rows of A B^T or
 * A B take the matrix-vector path, A^T B cblas_sgemm; for A B the two
 * paths must agree instead, bit for bit); the same for n x n x
 * K with too many rows for the matrix-vector path, past which all three
 * take cblas_sgemm; C = A B^T with rows of two (the forward product of a
 * two-input layer), whose limit is higher; and past the limits, the
 * matrix-vector path for a batch of one row (M = 1), for a layer of one
 * output and for a few rows. */
static void test_dispatch_at_threshold(void **state)
{
    (void)state;
    test_rng rng = {3};
    const mlp_matmul_path past_two_rows[] = {MLP_PATH_VECTOR, MLP_PATH_GEMM,
                                             MLP_PATH_VECTOR};
    const size_t gemm_rows[] = {8, 5, 4}; /* too many for the matrix-vector path */
    for (size_t p = 0; p < 3; p++) {
        size_t K = 3; /* the largest K of a 2 x 2 x K product in loops */
        while (mlp_matmul_choose(products[p], 2, 2, K + 1) == MLP_PATH_LOOPS)
            K++;
        assert_true(K >= 16 && K <= 1024); /* xor's products are all small */
        /* A B's loops and matrix-vector path both sum c_ij over k in order */
        const bool agree = products[p] == MLP_AB;
        expect_chosen_path(&rng, products[p], 2, 2, K, MLP_PATH_LOOPS, past_two_rows[p],
                           agree);
        expect_chosen_path(&rng, products[p], 2, 2, K + 1, past_two_rows[p],
                           MLP_PATH_LOOPS, agree);
        const size_t n = gemm_rows[p]; /* the same for n x n x K */
        for (K = 1; mlp_matmul_choose(products[p], n, n, K + 1) == MLP_PATH_LOOPS;)
            K++;
        expect_chosen_path(&rng, products[p], n, n, K, MLP_PATH_LOOPS, MLP_PATH_GEMM,
                           false);
        expect_chosen_path(&rng, products[p], n, n, K + 1, MLP_PATH_GEMM, MLP_PATH_LOOPS,
                           false);
    }
    expect_chosen_path(&rng, MLP_AB_T, 32, 64, 2, MLP_PATH_LOOPS, MLP_PATH_GEMM, false);
    expect_chosen_path(&rng, MLP_AB_T, 32, 65, 2, MLP_PATH_GEMM, MLP_PATH_LOOPS, false);
    /* a batch of one sample through a 64-128 layer, forward and backward */
    expect_chosen_path(&rng, MLP_AB_T, 1, 128, 64, MLP_PATH_VECTOR, MLP_PATH_GEMM, false);
    expect_chosen_path(&rng, MLP_AB, 1, 64, 128, MLP_PATH_VECTOR, MLP_PATH_GEMM, false);
    /* one output: Z's one column and dW's one row */
    expect_chosen_path(&rng, MLP_AB_T, 100, 1, 64, MLP_PATH_VECTOR, MLP_PATH_GEMM, false);
    expect_chosen_path(&rng, MLP_A_TB, 1, 64, 100, MLP_PATH_VECTOR, MLP_PATH_GEMM, false);
    /* a few rows, one matrix-vector product each: up to 7 for A B^T and 3
     * for A B; A^T B's rows are not contiguous in A */
    expect_chosen_path(&rng, MLP_AB_T, 7, 128, 64, MLP_PATH_VECTOR, MLP_PATH_GEMM, false);
    expect_chosen_path(&rng, MLP_AB_T, 8, 128, 64, MLP_PATH_GEMM, MLP_PATH_VECTOR, false);
    expect_chosen_path(&rng, MLP_AB, 3, 64, 128, MLP_PATH_VECTOR, MLP_PATH_GEMM, false);
    expect_chosen_path(&rng, MLP_AB, 4, 64, 128, MLP_PATH_GEMM, MLP_PATH_VECTOR, false);
    expect_chosen_path(&rng, MLP_A_TB, 2, 64, 128, MLP_PATH_GEMM, MLP_PATH_LOOPS, false);
    /* dW at a batch of two to four samples: A^T B of depth 2 to 4 in one
     * pass over C, summed in the loops' order; from depth 5 cblas_sgemm */
    for (size_t K = 2; K <= 4; K++)
        expect_chosen_path(&rng, MLP_A_TB, 64, 128, K, MLP_PATH_VECTOR, MLP_PATH_LOOPS,
                           true);
    expect_chosen_path(&rng, MLP_A_TB, 64, 128, 5, MLP_PATH_GEMM, MLP_PATH_LOOPS, false);
    assert_false(mlp_matmul_vector_fits(MLP_A_TB, 2, 64, 128));
    /* K = 1: one rounded product per entry, the same bits on every path,
     * so only the choice itself can be checked */
    assert_int_equal(mlp_matmul_choose(MLP_AB_T, 64, 64, 1), MLP_PATH_LOOPS);
    assert_int_equal(mlp_matmul_choose(MLP_AB_T, 64, 65, 1), MLP_PATH_VECTOR);
    assert_int_equal(mlp_matmul_choose(MLP_A_TB, 128, 64, 1), MLP_PATH_VECTOR);
    assert_int_equal(mlp_matmul_choose(MLP_AB_T, (size_t)1 << 40, (size_t)1 << 40, 1),
                     MLP_PATH_VECTOR);
    assert_int_equal(mlp_matmul_choose(MLP_AB_T, (size_t)1 << 40, (size_t)1 << 40, 2),
                     MLP_PATH_GEMM);
}

/* The outer product (K = 1) gives cblas_sgemm's bits: each entry is one
 * rounded product either way. */
static void test_outer_product_matches_blas(void **state)
{
    (void)state;
    test_rng rng = {4};
    for (size_t p = 0; p < 3; p++) {
        matmul_case c = make_case(&rng, products[p], 130, 77, 1);
        float *vector = run(mlp_matmul_vector, &c);
        float *blas = run(mlp_matmul_blas, &c);
        assert_true(same_floats(vector, blas, c.M * c.N));
        free(vector);
        free(blas);
        free_case(&c);
    }
}

/* A^T B goes to cblas_sgemm in blocks of rows of C (matrix.c says why):
 * every block lands in its place, with the bits of one call over the whole
 * product, for a whole number of blocks and for a short last one. One
 * OpenBLAS thread, where the bits do not depend on how OpenBLAS splits the
 * work. */
static void test_blas_row_blocks_match_one_call(void **state)
{
    (void)state;
    test_rng rng = {5};
    int threads = openblas_get_num_threads();
    assert_int_equal(mlp_set_threads(1), MLP_OK);
    const size_t rows[] = {768, 900};
    for (size_t r = 0; r < 2; r++) {
        matmul_case c = make_case(&rng, MLP_A_TB, rows[r], 70, 40);
        float *blocks = run(mlp_matmul_blas, &c);
        float *whole = malloc(c.M * c.N * sizeof *whole);
        assert_non_null(whole);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)c.M, (int)c.N, (int)c.K,
                    1.0f, c.A, (int)c.M, c.B, (int)c.N, 0.0f, whole, (int)c.N);
        assert_true(same_floats(blocks, whole, c.M * c.N));
        free(whole);
        free(blocks);
        free_case(&c);
    }
    assert_int_equal(mlp_set_threads((size_t)threads), MLP_OK);
}

/* ---- the layers' two paths ---- */

/* A random array of count floats in [-1, 1), freed by the caller. */
static float *random_array(test_rng *rng, size_t count)
{
    float *x = malloc(count * sizeof *x);
    assert_non_null(x);
    test_fill_uniform(rng, x, count, -1.0, 1.0);
    return x;
}

static float *nan_array(size_t count)
{
    float *x = malloc(count * sizeof *x);
    assert_non_null(x);
    for (size_t k = 0; k < count; k++)
        x[k] = NAN;
    return x;
}

static const mlp_activation elementwise[] = {MLP_IDENTITY, MLP_SIGMOID, MLP_TANH,
                                             MLP_RELU, MLP_LEAKY_RELU};

/* One layer shape, every element-wise activation: the tiny path's Z, A, dW,
 * delta_prev and db_prev are bit for bit those of the general path on the same
 * inputs (both sum in the same order; the general path's products run as
 * loops at these sizes, and the loops are checked against BLAS above). */
static void check_layer_paths(test_rng *rng, size_t m, size_t n_in, size_t n_out)
{
    float *A_prev = random_array(rng, m * n_in), *W = random_array(rng, n_out * n_in);
    float *b = random_array(rng, n_out), *delta = random_array(rng, m * n_out);
    float *Z_prev = random_array(rng, m * n_in),
          *A_prev_act = random_array(rng, m * n_in);
    /* Z, A, dW, delta_prev and db_prev of each path, all NaN at first */
    const size_t sizes[5] = {m * n_out, m * n_out, n_out * n_in, m * n_in, n_in};
    float *out[2][5];
    for (int path = 0; path < 2; path++)
        for (int k = 0; k < 5; k++)
            out[path][k] = nan_array(sizes[k]);
    for (size_t a = 0; a < sizeof elementwise / sizeof elementwise[0]; a++) {
        mlp_activation act = elementwise[a];
        for (int path = 0; path < 2; path++) {
            float **o = out[path];
            if (path == 0) {
                mlp_dense_forward_tiny(o[0], o[1], A_prev, W, b, m, n_in, n_out, act);
                mlp_dense_backward_params_tiny(o[2], delta, A_prev, m, n_in, n_out);
                mlp_dense_backward_input_tiny(o[3], o[4], delta, W, Z_prev, A_prev_act,
                                              act, m, n_in, n_out);
            } else {
                mlp_dense_forward_general(o[0], o[1], A_prev, W, b, m, n_in, n_out, act);
                mlp_dense_backward_params_general(o[2], delta, A_prev, m, n_in, n_out);
                mlp_dense_backward_input_general(o[3], o[4], delta, W, Z_prev, A_prev_act,
                                                 act, m, n_in, n_out);
            }
        }
        for (int k = 0; k < 5; k++) {
            assert_true(same_floats(out[0][k], out[1][k], sizes[k]));
            assert_true(isfinite(out[0][k][sizes[k] - 1])); /* written, not left NaN */
        }
        for (size_t j = 0; j < n_in; j++) { /* db_prev: delta_prev's column sums */
            float sum = out[0][3][j];
            for (size_t i = 1; i < m; i++)
                sum += out[0][3][i * n_in + j];
            assert_true(same_floats(&sum, &out[0][4][j], 1));
        }
    }
    for (int path = 0; path < 2; path++)
        for (int k = 0; k < 5; k++)
            free(out[path][k]);
    free(A_prev);
    free(W);
    free(b);
    free(delta);
    free(Z_prev);
    free(A_prev_act);
}

/* Every input width the tiny path compiles separately (1-4) and the general
 * one after them, with one row and several. */
static void test_tiny_layers_match_general(void **state)
{
    (void)state;
    test_rng rng = {4};
    static const size_t shapes_mio[][3] = {{1, 1, 1}, {1, 2, 4}, {1, 4, 1}, {2, 3, 5},
                                           {4, 4, 4}, {1, 5, 7}, {1, 8, 8}, {3, 7, 2}};
    for (size_t s = 0; s < sizeof shapes_mio / sizeof shapes_mio[0]; s++) {
        const size_t *d = shapes_mio[s];
        assert_true(mlp_dense_is_tiny(d[0], d[1], d[2]));
        check_layer_paths(&rng, d[0], d[1], d[2]);
    }
    assert_false(mlp_dense_is_tiny(1, 8, 9));
    assert_false(mlp_dense_is_tiny(65, 1, 1));
    assert_false(mlp_dense_is_tiny((size_t)1 << 40, (size_t)1 << 40, 1));
}

/* network.c compiles the tiny kernels into its own loops over the layers
 * (layer_tiny.h), apart from the copies checked above: a tiny network's
 * forward and backward pass must give, bit for bit, the Z, A, delta, dW
 * and db that the general path makes from the same cached inputs. A 3-4-2
 * network with each hidden activation, at one row and at three. */
static void check_network_tiny_path(mlp_activation hidden, size_t m)
{
    enum { n0 = 3, n1 = 4, n2 = 2, max_m = 3 };
    mlp_net *net;
    assert_int_equal(mlp_net_create(&net, n0, MLP_MSE, 11), MLP_OK);
    assert_int_equal(mlp_net_add_dense(net, n1, hidden), MLP_OK);
    assert_int_equal(mlp_net_add_dense(net, n2, MLP_SIGMOID), MLP_OK);
    assert_true(mlp_dense_is_tiny(m, n0, n1) && mlp_dense_is_tiny(m, n1, n2));
    test_rng rng = {21};
    float X[max_m * n0], Y[max_m * n2];
    test_fill_uniform(&rng, X, m * n0, -2.0, 2.0);
    test_fill_uniform(&rng, Y, m * n2, 0.0, 1.0);
    const float *out;
    assert_int_equal(mlp_forward(net, X, m, &out), MLP_OK);
    assert_int_equal(mlp_backward(net, Y, NULL), MLP_OK);

    const float *Z[2], *A[2], *delta[2], *dW[2], *db[2];
    float *W[2], *b[2];
    for (size_t l = 0; l < 2; l++) {
        assert_int_equal(mlp_layer_cache(net, l, &Z[l], &A[l], &delta[l], NULL), MLP_OK);
        assert_int_equal(mlp_layer_grads(net, l, &dW[l], &db[l]), MLP_OK);
        assert_int_equal(mlp_layer_params(net, l, &W[l], &b[l], NULL, NULL), MLP_OK);
    }
    float Z0[max_m * n1], A0[max_m * n1], Z1[max_m * n2], A1[max_m * n2];
    float dW0[n1 * n0], dW1[n2 * n1], delta0[max_m * n1], db0[n1];
    mlp_dense_forward_general(Z0, A0, X, W[0], b[0], m, n0, n1, hidden);
    mlp_dense_forward_general(Z1, A1, A[0], W[1], b[1], m, n1, n2, MLP_SIGMOID);
    mlp_dense_backward_params_general(dW1, delta[1], A[0], m, n1, n2);
    mlp_dense_backward_input_general(delta0, db0, delta[1], W[1], Z[0], A[0], hidden, m,
                                     n1, n2);
    mlp_dense_backward_params_general(dW0, delta0, X, m, n0, n1);
    assert_true(same_floats(Z[0], Z0, m * n1) && same_floats(A[0], A0, m * n1));
    assert_true(same_floats(Z[1], Z1, m * n2) && same_floats(A[1], A1, m * n2));
    assert_true(same_floats(dW[1], dW1, n2 * n1));
    assert_true(same_floats(delta[0], delta0, m * n1) && same_floats(db[0], db0, n1));
    assert_true(same_floats(dW[0], dW0, n1 * n0));
    mlp_net_free(net);
}

static void test_network_tiny_path_matches_general(void **state)
{
    (void)state;
    for (size_t a = 0; a < sizeof elementwise / sizeof elementwise[0]; a++) {
        check_network_tiny_path(elementwise[a], 1);
        check_network_tiny_path(elementwise[a], 3);
    }
}

/* A layer's stored limit, the largest tiny batch, gives the same answer as
 * the rule it stands for, at every size around the limit. */
static void test_tiny_rows_match_rule(void **state)
{
    (void)state;
    for (size_t n_in = 1; n_in <= 70; n_in++)
        for (size_t n_out = 1; n_out <= 70; n_out++) {
            size_t rows = mlp_dense_tiny_rows(n_in, n_out);
            for (size_t m = 1; m <= 70; m++)
                assert_int_equal(m <= rows, mlp_dense_is_tiny(m, n_in, n_out));
        }
    assert_int_equal(mlp_dense_tiny_rows((size_t)1 << 40, 1), 0);
}

/* mlp_max_abs, read inline up to 16 values and by the vector clones
 * above, against fabsf: the largest |x| wherever it sits, -0 and
 * subnormals as themselves, infinity for an infinity or a NaN anywhere. */
static void test_max_abs_both_paths(void **state)
{
    (void)state;
    float x[40];
    for (size_t count = 0; count <= 40; count++) {
        for (size_t at = 0; at < count; at++) {
            for (size_t k = 0; k < count; k++)
                x[k] = (k % 2 ? -1.0f : 1.0f) * 0.25f * (float)(k % 5);
            x[at] = -3.5f;
            assert_true(mlp_max_abs(x, count) == 3.5f);
            x[at] = FLT_MIN / 4.0f; /* a subnormal, alone above zeros */
            for (size_t k = 0; k < count; k++)
                if (k != at)
                    x[k] = k % 2 ? -0.0f : 0.0f;
            assert_true(mlp_max_abs(x, count) == FLT_MIN / 4.0f);
            x[at] = -INFINITY;
            assert_true(mlp_max_abs(x, count) == INFINITY);
            x[at] = NAN;
            assert_true(mlp_max_abs(x, count) == INFINITY);
        }
    }
    assert_true(mlp_max_abs(x, 0) == 0.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_match_reference),
        cmocka_unit_test(test_dispatch_at_threshold),
        cmocka_unit_test(test_outer_product_matches_blas),
        cmocka_unit_test(test_blas_row_blocks_match_one_call),
        cmocka_unit_test(test_tiny_layers_match_general),
        cmocka_unit_test(test_network_tiny_path_matches_general),
        cmocka_unit_test(test_tiny_rows_match_rule),
        cmocka_unit_test(test_max_abs_both_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
