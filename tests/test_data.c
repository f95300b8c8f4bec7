/*
 * The data functions: the CSV reader on good files (LF, CRLF, spaces, no
 * final newline, trailing empty lines, long lines) and on every kind of bad
 * file, each with its line, column and message; column copies, seeded
 * permutations, row gathers, standardization, one-hot labels and the
 * metrics against hand-computed values.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, mkdtemp */

#include "test_util.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* ---- Temporary files ---- */

/* A file under /tmp holding given bytes; remove it with temp_file_remove. */
typedef struct temp_file {
    char path[32];
} temp_file;

static void temp_file_write(temp_file *file, const char *bytes, size_t length)
{
    strcpy(file->path, "/tmp/mlp_csv_XXXXXX");
    int fd = mkstemp(file->path);
    assert_true(fd >= 0);
    FILE *stream = fdopen(fd, "wb");
    assert_non_null(stream);
    assert_int_equal(fwrite(bytes, 1, length, stream), length);
    assert_int_equal(fclose(stream), 0);
}

static void temp_file_remove(temp_file *file)
{
    assert_int_equal(remove(file->path), 0);
}

/* Reads CSV text (length bytes, which may include '\0') through a file. */
static mlp_status read_csv_bytes(const char *bytes, size_t length, float **data,
                                 size_t *rows, size_t *cols, mlp_csv_error *err)
{
    temp_file file;
    temp_file_write(&file, bytes, length);
    mlp_status status = mlp_csv_read(file.path, data, rows, cols, err);
    temp_file_remove(&file);
    return status;
}

static mlp_status read_csv_text(const char *text, float **data, size_t *rows,
                                size_t *cols, mlp_csv_error *err)
{
    return read_csv_bytes(text, strlen(text), data, rows, cols, err);
}

/* Reads text that must be refused, and checks the status, the position and
 * the whole message, and that the outputs were not touched. */
static void expect_csv_error_bytes(const char *bytes, size_t length, mlp_status status,
                                   size_t line, size_t column, const char *message)
{
    float sentinel = 0.0f;
    float *data = &sentinel;
    size_t rows = 77, cols = 88;
    mlp_csv_error err;
    assert_int_equal(read_csv_bytes(bytes, length, &data, &rows, &cols, &err), status);
    assert_ptr_equal(data, &sentinel);
    assert_int_equal(rows, 77);
    assert_int_equal(cols, 88);
    assert_int_equal(err.line, line);
    assert_int_equal(err.column, column);
    assert_string_equal(err.message, message);
    /* The same file without an error record must fail the same way. */
    assert_int_equal(read_csv_bytes(bytes, length, &data, &rows, &cols, NULL), status);
}

static void expect_csv_error(const char *text, mlp_status status, size_t line,
                             size_t column, const char *message)
{
    expect_csv_error_bytes(text, strlen(text), status, line, column, message);
}

/* Reads text that must be accepted as a rows x cols table of expected. */
static void expect_csv_table(const char *text, size_t rows, size_t cols,
                             const float *expected)
{
    float *data = NULL;
    size_t got_rows = 0, got_cols = 0;
    mlp_csv_error err;
    mlp_status status = read_csv_text(text, &data, &got_rows, &got_cols, &err);
    if (status != MLP_OK)
        fail_msg("refused (%d): %s", (int)status, err.message);
    assert_int_equal(got_rows, rows);
    assert_int_equal(got_cols, cols);
    assert_memory_equal(data, expected, rows * cols * sizeof *expected);
    assert_int_equal(err.line, 0);
    assert_int_equal(err.column, 0);
    assert_string_equal(err.message, "");
    mlp_array_free(data);
}

/* ---- CSV: good files ---- */

static void test_csv_round_trip(void **state)
{
    (void)state;
    const float expected[] = {5.1f, 3.5f, 0.0f, -1.25f, 2e-3f, 1.0f, 0.5f, 1e10f, 2.0f};
    expect_csv_table("sepal,petal,species\n"
                     "5.1,3.5,0\n"
                     "-1.25,2e-3,1\n"
                     ".5,1E10,+2\n",
                     3, 3, expected);
}

static void test_csv_crlf_and_spaces(void **state)
{
    (void)state;
    const float expected[] = {1.0f, 2.0f, -3.0f, 4.5f};
    expect_csv_table("a , b\r\n  1,\t2 \r\n-3 ,  4.5\r\n", 2, 2, expected);
}

static void test_csv_without_final_newline(void **state)
{
    (void)state;
    const float expected[] = {1.0f, 2.0f, 3.0f, 4.0f};
    expect_csv_table("a,b\n1,2\n3,4", 2, 2, expected);
    expect_csv_table("a,b\r\n1,2\r\n3,4\r", 2, 2, expected);
}

static void test_csv_ignores_trailing_empty_lines(void **state)
{
    (void)state;
    const float expected[] = {1.0f, 2.0f};
    expect_csv_table("a,b\n1,2\n\n\n", 1, 2, expected);
    expect_csv_table("a,b\r\n1,2\r\n\r\n  \r\n\t\n", 1, 2, expected);
}

static void test_csv_single_column_and_header_names(void **state)
{
    (void)state;
    const float expected[] = {7.0f, -8.0f};
    /* Header names are not parsed: anything but a quote is a name. */
    expect_csv_table("x y z!\n7\n-8\n", 2, 1, expected);
    const float pair[] = {1.0f, 2.0f};
    expect_csv_table(",\n1,2\n", 1, 2, pair);
}

static void test_csv_float_edges(void **state)
{
    (void)state;
    /* FLT_MAX itself is representable; a tiny value underflows to 0. */
    const float expected[] = {FLT_MAX, -FLT_MAX, 0.0f};
    expect_csv_table(
        "a,b,c\n3.40282346638528859812e+38,-3.40282346638528859812e+38,1e-60\n", 1, 3,
        expected);
    /* FLT_MAX as printf's %.9g writes it, and the largest text that still
     * rounds to it (the overflow threshold is 3.4028235678e38). */
    const float largest[] = {FLT_MAX, -FLT_MAX, FLT_MAX};
    expect_csv_table("a,b,c\n3.40282347e+38,-3.4028235e+38,3.40282356e38\n", 1, 3,
                     largest);
    /* Rounded once, to the nearest float 1 + 2^-23: just below the midpoint
     * to 1 + 2^-22, a double would round to that midpoint and then, as a
     * tie, to the even float 1 + 2^-22. */
    const float nearest[] = {0x1.000002p0f, 0x1p-149f};
    expect_csv_table("a,b\n1.0000001788139343261718749,1.5e-45\n", 1, 2, nearest);
}

/* A locale whose decimal separator is a comma, set as the program's
 * locale by the setup, as a program's main does with setlocale, and undone
 * by the teardown even when an assertion fails. ctest builds it with
 * localedef (the make_test_locale fixture) and points LOCPATH at it.
 * (newlocale would do for this thread alone, but glibc's leaks its search
 * path when LOCPATH is set, which LeakSanitizer reports.) */
static int use_comma_locale(void **state)
{
    (void)state;
    return setlocale(LC_ALL, "de_DE.ISO-8859-1") ? 0 : -1;
}

static int restore_locale(void **state)
{
    (void)state;
    setlocale(LC_ALL, "C");
    return 0;
}

/* The program's locale does not change how numbers are read: under the
 * comma locale, strtod alone would stop at the point of "1.5". */
static void test_csv_ignores_program_locale(void **state)
{
    (void)state;
    assert_true(strtod("1,5", NULL) == 1.5); /* the locale is in effect */
    const float expected[] = {1.5f, -22.5f, 1e-3f};
    expect_csv_table("a,b,c\n1.5,-2.25e1,0.001\n", 1, 3, expected);
    expect_csv_error("a\n1,5\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: too many fields (the header has 1)");
    assert_true(strtod("1,5", NULL) == 1.5); /* and still is */
}

/* Lines much longer than the first read buffer, and many rows, so both the
 * file buffer and the value buffer must grow several times. */
static void test_csv_long_lines_and_many_rows(void **state)
{
    (void)state;
    const size_t cols = 3000, rows = 40;
    size_t capacity = (cols * 8 + 2) * (rows + 1);
    char *text = malloc(capacity);
    assert_non_null(text);
    size_t length = 0;
    for (size_t j = 0; j < cols; j++)
        length += (size_t)sprintf(text + length, j ? ",c%zu" : "c%zu", j);
    text[length++] = '\n';
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < cols; j++)
            length +=
                (size_t)sprintf(text + length, j ? ",%zu" : "%zu", (i * 7 + j) % 1000);
        text[length++] = '\n';
    }
    assert_true(length < capacity);
    float *data = NULL;
    size_t got_rows = 0, got_cols = 0;
    assert_int_equal(read_csv_bytes(text, length, &data, &got_rows, &got_cols, NULL),
                     MLP_OK);
    assert_int_equal(got_rows, rows);
    assert_int_equal(got_cols, cols);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            assert_true(data[i * cols + j] == (float)((i * 7 + j) % 1000));
    mlp_array_free(data);
    free(text);
}

/* ---- CSV: refusals ---- */

static void test_csv_empty_and_headerless_files(void **state)
{
    (void)state;
    expect_csv_error("", MLP_ERR_FORMAT, 1, 0, "line 1: the file is empty");
    expect_csv_error("\n1,2\n", MLP_ERR_FORMAT, 1, 0, "line 1: the header row is empty");
    expect_csv_error("  \r\n1,2\n", MLP_ERR_FORMAT, 1, 0,
                     "line 1: the header row is empty");
    expect_csv_error("a,\"b\"\n1,2\n", MLP_ERR_FORMAT, 1, 2,
                     "line 1, column 2: quoted fields are not supported");
}

static void test_csv_no_data_rows(void **state)
{
    (void)state;
    expect_csv_error("a,b\n", MLP_ERR_FORMAT, 2, 0,
                     "line 2: no data rows after the header");
    expect_csv_error("a,b", MLP_ERR_FORMAT, 2, 0,
                     "line 2: no data rows after the header");
    expect_csv_error("a,b\r\n\r\n\n", MLP_ERR_FORMAT, 2, 0,
                     "line 2: no data rows after the header");
}

static void test_csv_empty_line_in_the_middle(void **state)
{
    (void)state;
    expect_csv_error("a,b\n1,2\n\n3,4\n", MLP_ERR_FORMAT, 3, 0,
                     "line 3: empty line before more data");
    expect_csv_error("a,b\r\n1,2\r\n \r\n\r\n3,4\r\n", MLP_ERR_FORMAT, 3, 0,
                     "line 3: empty line before more data");
    expect_csv_error("a,b\n\n1,2\n", MLP_ERR_FORMAT, 2, 0,
                     "line 2: empty line before more data");
}

static void test_csv_bad_numbers(void **state)
{
    (void)state;
    expect_csv_error("a,b,c\n1,2,3\n4,5,6\n7,8,9\n1,2,3\n0,0,0\n1,2,abc\n",
                     MLP_ERR_FORMAT, 7, 3, "line 7, column 3: 'abc' is not a number");
    expect_csv_error("a,b\n1.5x,2\n", MLP_ERR_FORMAT, 2, 1,
                     "line 2, column 1: '1.5x' is not a number");
    expect_csv_error("a,b\n1,2 3\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: '2 3' is not a number");
    expect_csv_error("a,b\n1,-\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: '-' is not a number");
    expect_csv_error("a,b\n1;2\n", MLP_ERR_FORMAT, 2, 1,
                     "line 2, column 1: '1;2' is not a number");
    /* Whitespace other than spaces and tabs is not trimmed, nor skipped
     * by the number parser. */
    expect_csv_error("a,b\n1,\f2\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: '?2' is not a number");
    expect_csv_error("a,b\n\v1,2\n", MLP_ERR_FORMAT, 2, 1,
                     "line 2, column 1: '?1' is not a number");
    /* A lone '\r' inside a line (old Mac endings) is not a line end. */
    expect_csv_error("a\r1\r2\r", MLP_ERR_FORMAT, 2, 0,
                     "line 2: no data rows after the header");
}

static void test_csv_non_finite_and_out_of_range(void **state)
{
    (void)state;
    expect_csv_error("a,b\n1,nan\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: 'nan' is not a finite number");
    expect_csv_error("a,b\n-inf,1\n", MLP_ERR_FORMAT, 2, 1,
                     "line 2, column 1: '-inf' is not a finite number");
    expect_csv_error("a,b\n1,Infinity\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: 'Infinity' is not a finite number");
    expect_csv_error("a,b\n1,1e39\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: '1e39' is out of the float range");
    expect_csv_error("a,b\n-1e39,1\n", MLP_ERR_FORMAT, 2, 1,
                     "line 2, column 1: '-1e39' is out of the float range");
    expect_csv_error("a,b\n1,1e400\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: '1e400' is out of the float range");
    expect_csv_error("a,b\n1,3.40282357e38\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: '3.40282357e38' is out of the float range");
}

static void test_csv_empty_and_quoted_fields(void **state)
{
    (void)state;
    expect_csv_error("a,b,c\n1,,3\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: empty field");
    expect_csv_error("a,b,c\n1, \t ,3\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: empty field");
    expect_csv_error("a,b,c\n1,2,\n", MLP_ERR_FORMAT, 2, 3,
                     "line 2, column 3: empty field");
    expect_csv_error("a,b\n1,\"2\"\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: quoted fields are not supported");
    expect_csv_error("a,b\n\"1,5\",2\n", MLP_ERR_FORMAT, 2, 1,
                     "line 2, column 1: quoted fields are not supported");
}

static void test_csv_wrong_field_counts(void **state)
{
    (void)state;
    expect_csv_error("a,b,c\n1,2,3\n4,5\n", MLP_ERR_FORMAT, 3, 3,
                     "line 3, column 3: missing field (the row has 2, the header 3)");
    expect_csv_error("a,b,c\n1\n", MLP_ERR_FORMAT, 2, 2,
                     "line 2, column 2: missing field (the row has 1, the header 3)");
    expect_csv_error("a,b\n1,2,3\n", MLP_ERR_FORMAT, 2, 3,
                     "line 2, column 3: too many fields (the header has 2)");
    expect_csv_error("a,b\n1,2,\n", MLP_ERR_FORMAT, 2, 3,
                     "line 2, column 3: too many fields (the header has 2)");
}

/* Bytes that are not printable ASCII never reach the message, and long
 * fields are cut short. */
static void test_csv_messages_are_safe(void **state)
{
    (void)state;
    /* A NUL byte anywhere, the header included: not a text file. */
    const char with_nul[] = "a,b\n1,2\0x\n";
    expect_csv_error_bytes(with_nul, sizeof with_nul - 1, MLP_ERR_FORMAT, 2, 0,
                           "line 2: a NUL byte: not a text file");
    const char nul_in_header[] = "a\0b,c\n1,2\n";
    expect_csv_error_bytes(nul_in_header, sizeof nul_in_header - 1, MLP_ERR_FORMAT, 1, 0,
                           "line 1: a NUL byte: not a text file");
    /* so an endless binary source is refused after its first block */
    float *zeros = NULL;
    size_t zero_rows, zero_cols;
    mlp_csv_error zero_err;
    assert_int_equal(mlp_csv_read("/dev/zero", &zeros, &zero_rows, &zero_cols, &zero_err),
                     MLP_ERR_FORMAT);
    assert_string_equal(zero_err.message, "line 1: a NUL byte: not a text file");
    expect_csv_error("a\n\x1b[2J\x7f\n", MLP_ERR_FORMAT, 2, 1,
                     "line 2, column 1: '?[2J?' is not a number");
    expect_csv_error("a\n"
                     "1234567890abcdefghijklmnopqrstuvwxyz\n",
                     MLP_ERR_FORMAT, 2, 1,
                     "line 2, column 1: '1234567890abcdefghijklmnopqrstuv...' is not a "
                     "number");
    /* An error record full of garbage gets a terminated message. */
    mlp_csv_error err;
    memset(&err, 'x', sizeof err);
    float *data = NULL;
    size_t rows, cols;
    assert_int_equal(mlp_csv_read(NULL, &data, &rows, &cols, &err), MLP_ERR_ARG);
    assert_int_equal(err.line, 0);
    assert_non_null(memchr(err.message, '\0', sizeof err.message));
}

static void test_csv_io_errors(void **state)
{
    (void)state;
    float *data = NULL;
    size_t rows = 0, cols = 0;
    mlp_csv_error err;
    assert_int_equal(mlp_csv_read("/nonexistent/mlp/file.csv", &data, &rows, &cols, &err),
                     MLP_ERR_IO);
    assert_null(data);
    assert_int_equal(err.line, 0);
    assert_int_equal(err.column, 0);
    assert_string_equal(err.message, "cannot open the file");

    char dir[] = "/tmp/mlp_csv_dir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    mlp_status status = mlp_csv_read(dir, &data, &rows, &cols, &err);
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(status, MLP_ERR_IO);
    assert_null(data);
    assert_int_equal(err.line, 0);
    assert_true(strcmp(err.message, "cannot read the file") == 0 ||
                strcmp(err.message, "cannot open the file") == 0);
}

static void test_csv_null_arguments(void **state)
{
    (void)state;
    float *data = NULL;
    size_t rows, cols;
    mlp_csv_error err;
    assert_int_equal(mlp_csv_read(NULL, &data, &rows, &cols, &err), MLP_ERR_ARG);
    assert_string_equal(err.message, "a required argument is NULL");
    assert_int_equal(mlp_csv_read("x.csv", NULL, &rows, &cols, &err), MLP_ERR_ARG);
    assert_int_equal(mlp_csv_read("x.csv", &data, NULL, &cols, &err), MLP_ERR_ARG);
    assert_int_equal(mlp_csv_read("x.csv", &data, &rows, NULL, NULL), MLP_ERR_ARG);
    assert_null(data);
    mlp_array_free(NULL);
}

/* ---- Columns, permutations, gathers ---- */

static void test_columns_copy(void **state)
{
    (void)state;
    const float src[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}; /* 3 x 4 */
    float dst[6];
    assert_int_equal(mlp_columns_copy(src, 3, 4, 1, 2, dst), MLP_OK);
    const float middle[] = {2, 3, 6, 7, 10, 11};
    assert_memory_equal(dst, middle, sizeof middle);
    assert_int_equal(mlp_columns_copy(src, 3, 4, 3, 1, dst), MLP_OK);
    const float last[] = {4, 8, 12};
    assert_memory_equal(dst, last, sizeof last);

    float untouched[6] = {-1, -1, -1, -1, -1, -1};
    float copy[6];
    memcpy(copy, untouched, sizeof copy);
    assert_int_equal(mlp_columns_copy(src, 3, 4, 3, 2, untouched), MLP_ERR_SHAPE);
    assert_int_equal(mlp_columns_copy(src, 3, 4, 4, 1, untouched), MLP_ERR_SHAPE);
    assert_int_equal(mlp_columns_copy(src, 3, 4, 5, 1, untouched), MLP_ERR_SHAPE);
    assert_int_equal(mlp_columns_copy(src, 3, 4, SIZE_MAX, 1, untouched), MLP_ERR_SHAPE);
    assert_int_equal(mlp_columns_copy(src, 3, 4, 1, SIZE_MAX, untouched), MLP_ERR_SHAPE);
    assert_int_equal(mlp_columns_copy(src, SIZE_MAX, 4, 0, 1, untouched), MLP_ERR_SHAPE);
    assert_int_equal(mlp_columns_copy(NULL, 3, 4, 0, 1, untouched), MLP_ERR_ARG);
    assert_int_equal(mlp_columns_copy(src, 3, 4, 0, 1, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_columns_copy(src, 0, 4, 0, 1, untouched), MLP_ERR_ARG);
    assert_int_equal(mlp_columns_copy(src, 3, 0, 0, 1, untouched), MLP_ERR_ARG);
    assert_int_equal(mlp_columns_copy(src, 3, 4, 0, 0, untouched), MLP_ERR_ARG);
    assert_memory_equal(untouched, copy, sizeof copy);
}

/* Fails unless perm holds each of 0..n-1 exactly once. */
static void expect_permutation(const size_t *perm, size_t n)
{
    unsigned char *seen = calloc(n, 1);
    assert_non_null(seen);
    for (size_t i = 0; i < n; i++) {
        assert_true(perm[i] < n);
        assert_int_equal(seen[perm[i]], 0);
        seen[perm[i]] = 1;
    }
    free(seen);
}

static void test_permutation_is_valid_and_seeded(void **state)
{
    (void)state;
    enum { N = 1000 };
    size_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(mlp_permutation(a, N, 42), MLP_OK);
    expect_permutation(a, N);
    assert_int_equal(mlp_permutation(b, N, 42), MLP_OK);
    assert_memory_equal(a, b, N * sizeof *a);
    size_t fixed_points = 0;
    for (size_t i = 0; i < N; i++)
        fixed_points += a[i] == i;
    assert_true(fixed_points < 20); /* about 1 expected; identity would be 1000 */
    assert_int_equal(mlp_permutation(b, N, 43), MLP_OK);
    expect_permutation(b, N);
    assert_memory_not_equal(a, b, N * sizeof *a);

    size_t one = 99;
    assert_int_equal(mlp_permutation(&one, 1, 7), MLP_OK);
    assert_int_equal(one, 0);
    assert_int_equal(mlp_permutation(NULL, 3, 1), MLP_ERR_ARG);
    assert_int_equal(mlp_permutation(a, 0, 1), MLP_ERR_ARG);
    free(a);
    free(b);
}

/* Every order of three items should appear about equally often over many
 * seeds; a biased shuffle (say, swapping with any index) would not. */
static void test_permutation_is_uniform(void **state)
{
    (void)state;
    enum { SEEDS = 6000 };
    size_t counts[6] = {0};
    for (uint64_t seed = 0; seed < SEEDS; seed++) {
        size_t p[3];
        assert_int_equal(mlp_permutation(p, 3, seed), MLP_OK);
        expect_permutation(p, 3);
        /* Lehmer code of the order: 0..5. */
        size_t code = p[0] * 2 + (p[1] > p[2]);
        counts[code]++;
    }
    for (size_t c = 0; c < 6; c++)
        assert_true(counts[c] > 850 && counts[c] < 1150);
}

static void test_rows_gather(void **state)
{
    (void)state;
    const float src[] = {1, 2, 3, 4, 5, 6}; /* 3 x 2 */
    const size_t idx[] = {2, 0, 2, 1};
    float dst[8];
    assert_int_equal(mlp_rows_gather(src, 3, 2, idx, 4, dst), MLP_OK);
    const float expected[] = {5, 6, 1, 2, 5, 6, 3, 4};
    assert_memory_equal(dst, expected, sizeof expected);

    float untouched[4] = {-1, -1, -1, -1};
    const size_t bad[] = {0, 3};
    assert_int_equal(mlp_rows_gather(src, 3, 2, bad, 2, untouched), MLP_ERR_SHAPE);
    assert_true(untouched[0] == -1.0f && untouched[1] == -1.0f);
    assert_int_equal(mlp_rows_gather(src, 0, 2, idx, 1, untouched), MLP_ERR_SHAPE);
    assert_int_equal(mlp_rows_gather(src, SIZE_MAX, 2, idx, 1, untouched), MLP_ERR_SHAPE);
    assert_int_equal(mlp_rows_gather(NULL, 3, 2, idx, 1, untouched), MLP_ERR_ARG);
    assert_int_equal(mlp_rows_gather(src, 3, 2, NULL, 1, untouched), MLP_ERR_ARG);
    assert_int_equal(mlp_rows_gather(src, 3, 2, idx, 1, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_rows_gather(src, 3, 0, idx, 1, untouched), MLP_ERR_ARG);
    assert_int_equal(mlp_rows_gather(src, 3, 2, idx, 0, untouched), MLP_ERR_ARG);
    assert_true(untouched[2] == -1.0f && untouched[3] == -1.0f);
}

/* ---- Standardization ---- */

static void test_standardize_fit(void **state)
{
    (void)state;
    /* Column 0: 1..4, mean 2.5, population variance 1.25. Column 1:
     * constant. Column 2: a large offset, where E[x^2] - E[x]^2 in float
     * would lose everything: 1e7 + {0, 1, 2, 3}, variance 1.25 too. */
    const float X[] = {1, 7, 1e7f, 2, 7, 1e7f + 1, 3, 7, 1e7f + 2, 4, 7, 1e7f + 3};
    float mean[3], std[3];
    assert_int_equal(mlp_standardize_fit(X, 4, 3, mean, std), MLP_OK);
    check_close(mean[0], 2.5, 0, "mean of 1..4");
    check_close(std[0], sqrt(1.25), 1e-7, "std of 1..4");
    check_close(mean[1], 7, 0, "mean of a constant column");
    check_close(std[1], 1, 0, "std of a constant column");
    check_close(mean[2], 1e7 + 1.5, 1, "mean with an offset");
    check_close(std[2], sqrt(1.25), 1e-6, "std with an offset");

    /* A constant column of a value with no exact binary form still gets
     * std 1 and its own value as the mean. */
    const float tenths[] = {0.1f, 0.1f, 0.1f};
    assert_int_equal(mlp_standardize_fit(tenths, 3, 1, mean, std), MLP_OK);
    check_close(std[0], 1, 0, "std of a constant 0.1 column");
    check_close(mean[0], 0.1f, 0, "mean of a constant 0.1 column");
}

/* A column that differs from a constant only by rounding noise (here one
 * entry of 2,000,000 one ulp above 1: std 8.4e-11, under 1e-10 of its
 * mean) counts as constant and gets std 1, as documented; one entry in
 * 1,000,000 (std 1.2e-10) does not. */
static void test_standardize_fit_near_constant_column(void **state)
{
    (void)state;
    enum { ROWS = 2000000 };
    float *X = malloc(ROWS * sizeof *X);
    assert_non_null(X);
    for (size_t i = 0; i < ROWS; i++)
        X[i] = 1.0f;
    X[17] = nextafterf(1.0f, 2.0f);
    float mean, std;
    assert_int_equal(mlp_standardize_fit(X, ROWS, 1, &mean, &std), MLP_OK);
    assert_true(mean == 1.0f);
    assert_true(std == 1.0f);
    assert_int_equal(mlp_standardize_fit(X, ROWS / 2, 1, &mean, &std), MLP_OK);
    check_close(std, 1.1920929e-7 * sqrt(1.0 / (ROWS / 2)), 1e-16, "std of one in 1e6");
    free(X);
}

static void test_standardize_fit_refusals(void **state)
{
    (void)state;
    const float X[] = {1, 2, NAN, 4};
    float mean[2] = {-5, -5}, std[2] = {-5, -5};
    assert_int_equal(mlp_standardize_fit(X, 2, 2, mean, std), MLP_ERR_ARG);
    const float Y[] = {1, 2, INFINITY, 4};
    assert_int_equal(mlp_standardize_fit(Y, 2, 2, mean, std), MLP_ERR_ARG);
    assert_true(mean[0] == -5.0f && mean[1] == -5.0f && std[0] == -5.0f &&
                std[1] == -5.0f);
    assert_int_equal(mlp_standardize_fit(NULL, 2, 2, mean, std), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_fit(X, 2, 2, NULL, std), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_fit(X, 2, 2, mean, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_fit(X, 0, 2, mean, std), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_fit(X, 2, 0, mean, std), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_fit(X, SIZE_MAX, 2, mean, std), MLP_ERR_SHAPE);
}

static void test_standardize_apply(void **state)
{
    (void)state;
    float X[] = {1, 10, 3, 30};
    const float mean[] = {2, 20}, std[] = {0.5f, 10};
    assert_int_equal(mlp_standardize_apply(X, 2, 2, mean, std), MLP_OK);
    const float expected[] = {-2, -1, 2, 1};
    assert_memory_equal(X, expected, sizeof expected);

    /* A result just above FLT_MAX in double that rounds to FLT_MAX is
     * kept; one that rounds to infinity is refused, X untouched. */
    float big[] = {FLT_MAX, 1};
    const float shift[] = {-1e30f}, one[] = {1};
    assert_int_equal(mlp_standardize_apply(big, 2, 1, shift, one), MLP_OK);
    assert_true(big[0] == FLT_MAX);
    float bigger[] = {FLT_MAX, 1};
    const float far_shift[] = {-2e31f};
    assert_int_equal(mlp_standardize_apply(bigger, 2, 1, far_shift, one),
                     MLP_ERR_NUMERIC);
    assert_true(bigger[0] == FLT_MAX && bigger[1] == 1);

    /* Fit then apply gives each column mean 0 and population std 1. */
    test_rng rng = {5};
    float data[50 * 3];
    test_fill_uniform(&rng, data, 50 * 3, -100, 300);
    float m[3], s[3];
    assert_int_equal(mlp_standardize_fit(data, 50, 3, m, s), MLP_OK);
    assert_int_equal(mlp_standardize_apply(data, 50, 3, m, s), MLP_OK);
    assert_int_equal(mlp_standardize_fit(data, 50, 3, m, s), MLP_OK);
    for (size_t j = 0; j < 3; j++) {
        check_close(m[j], 0, 1e-5, "mean after standardizing");
        check_close(s[j], 1, 1e-5, "std after standardizing");
    }
}

static void test_standardize_apply_refusals(void **state)
{
    (void)state;
    float X[] = {1, 2, 3, 4};
    const float before[] = {1, 2, 3, 4};
    const float mean[] = {0, 0};
    const float zero_std[] = {1, 0}, negative_std[] = {1, -1}, nan_std[] = {NAN, 1};
    const float inf_std[] = {1, INFINITY}, nan_mean[] = {0, NAN}, ones[] = {1, 1};
    assert_int_equal(mlp_standardize_apply(X, 2, 2, mean, zero_std), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_apply(X, 2, 2, mean, negative_std), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_apply(X, 2, 2, mean, nan_std), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_apply(X, 2, 2, mean, inf_std), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_apply(X, 2, 2, nan_mean, ones), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_apply(NULL, 2, 2, mean, ones), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_apply(X, 2, 2, NULL, ones), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_apply(X, 2, 2, mean, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_apply(X, 0, 2, mean, ones), MLP_ERR_ARG);
    assert_int_equal(mlp_standardize_apply(X, 2, 0, mean, ones), MLP_ERR_ARG);
    assert_memory_equal(X, before, sizeof before);

    /* A result beyond float's range: nothing is written, not even the
     * entries before it. */
    float Y[] = {1, 2, 3, FLT_MAX};
    const float Y_before[] = {1, 2, 3, FLT_MAX};
    const float tiny_std[] = {1, 1e-3f}, neg_mean[] = {0, -FLT_MAX};
    assert_int_equal(mlp_standardize_apply(Y, 2, 2, neg_mean, tiny_std), MLP_ERR_NUMERIC);
    assert_memory_equal(Y, Y_before, sizeof Y_before);
    float Z[] = {1, NAN};
    assert_int_equal(mlp_standardize_apply(Z, 1, 2, mean, ones), MLP_ERR_NUMERIC);
    assert_true(Z[0] == 1.0f);
}

/* A 3-4-2 network whose first layer's W and b are set from seed. */
static mlp_net *fold_net(uint64_t seed)
{
    const size_t widths[] = {4, 2};
    const mlp_activation acts[] = {MLP_TANH, MLP_IDENTITY};
    mlp_net *net = make_net(3, MLP_MSE, seed, 2, widths, acts);
    float W[4 * 3], b[4];
    test_rng rng = {seed};
    test_fill_uniform(&rng, W, 12, -2, 2);
    test_fill_uniform(&rng, b, 4, -1, 1);
    assert_int_equal(mlp_layer_set_params(net, 0, W, b), MLP_OK);
    return net;
}

/* The folded first layer is W' = W / std and b' = b - W' mean (summed in
 * double) bit for bit, later layers are untouched, and the folded network
 * on raw rows gives the outputs the original gives on those rows
 * standardized. */
static void test_standardize_fold(void **state)
{
    (void)state;
    mlp_net *net = fold_net(9), *original = fold_net(9);
    const float mean[3] = {120.0f, -3.5f, 0.25f}, std[3] = {40.0f, 0.125f, 3.0f};
    const float *W, *b, *W2_before, *W2_after;
    assert_int_equal(mlp_layer_params_const(original, 0, &W, &b, NULL, NULL), MLP_OK);
    float W_new[12], b_new[4];
    for (size_t j = 0; j < 4; j++) {
        double shift = 0.0;
        for (size_t k = 0; k < 3; k++) {
            W_new[j * 3 + k] = W[j * 3 + k] / std[k];
            shift += (double)W_new[j * 3 + k] * mean[k];
        }
        b_new[j] = (float)(b[j] - shift);
    }
    assert_int_equal(mlp_standardize_fold(net, mean, std), MLP_OK);
    const float *W_fold, *b_fold;
    assert_int_equal(mlp_layer_params_const(net, 0, &W_fold, &b_fold, NULL, NULL),
                     MLP_OK);
    assert_memory_equal(W_fold, W_new, sizeof W_new);
    assert_memory_equal(b_fold, b_new, sizeof b_new);
    assert_int_equal(mlp_layer_params_const(original, 1, &W2_before, NULL, NULL, NULL),
                     MLP_OK);
    assert_int_equal(mlp_layer_params_const(net, 1, &W2_after, NULL, NULL, NULL), MLP_OK);
    assert_memory_equal(W2_after, W2_before, 4 * 2 * sizeof *W2_after);

    float raw[5 * 3], standardized[5 * 3], folded_out[5 * 2], original_out[5 * 2];
    test_rng rng = {10};
    for (size_t i = 0; i < 5; i++)
        for (size_t k = 0; k < 3; k++)
            raw[i * 3 + k] = mean[k] + std[k] * (float)test_uniform(&rng, -2, 2);
    memcpy(standardized, raw, sizeof raw);
    assert_int_equal(mlp_standardize_apply(standardized, 5, 3, mean, std), MLP_OK);
    assert_int_equal(mlp_predict(net, raw, 5, folded_out), MLP_OK);
    assert_int_equal(mlp_predict(original, standardized, 5, original_out), MLP_OK);
    for (size_t i = 0; i < 5 * 2; i++)
        check_rel(folded_out[i], original_out[i], 1e-5, 1e-5, "folded vs standardized");
    mlp_net_free(net);
    mlp_net_free(original);
}

/* Every refusal leaves the parameters as they were: bad arguments, and a
 * weight or a bias that would leave float's range. Only the last unit's
 * (its third weight is 1e30) overflows, so the units before it pass the
 * check and must not have been written when it fails. */
static void test_standardize_fold_refusals(void **state)
{
    (void)state;
    mlp_net *net = fold_net(11), *empty = NULL;
    float *W;
    assert_int_equal(mlp_layer_params(net, 0, &W, NULL, NULL, NULL), MLP_OK);
    W[3 * 3 + 2] = 1e30f; /* the other weights are within [-2, 2] */
    assert_int_equal(mlp_net_create(&empty, 3, MLP_MSE, 1), MLP_OK);
    const float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};
    const float zero_std[3] = {1, 0, 1}, negative_std[3] = {1, 1, -1};
    const float inf_std[3] = {INFINITY, 1, 1}, nan_mean[3] = {0, NAN, 0};
    const float small_std[3] = {1, 1, 1e-9f}, large_mean[3] = {0, 0, 1e30f};
    const struct {
        mlp_net *net;
        const float *mean, *std;
        mlp_status expected;
    } cases[] = {
        {NULL, mean, std, MLP_ERR_ARG},          {net, NULL, std, MLP_ERR_ARG},
        {net, mean, NULL, MLP_ERR_ARG},          {empty, mean, std, MLP_ERR_ARG},
        {net, mean, zero_std, MLP_ERR_ARG},      {net, mean, negative_std, MLP_ERR_ARG},
        {net, mean, inf_std, MLP_ERR_ARG},       {net, nan_mean, std, MLP_ERR_ARG},
        {net, mean, small_std, MLP_ERR_NUMERIC}, {net, large_mean, std, MLP_ERR_NUMERIC},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float *before = snapshot_params(net);
        assert_int_equal(mlp_standardize_fold(cases[c].net, cases[c].mean, cases[c].std),
                         cases[c].expected);
        expect_params_equal(net, before);
    }
    mlp_net_free(empty);
    mlp_net_free(net);
}

/* ---- One-hot ---- */

static void test_one_hot(void **state)
{
    (void)state;
    const float labels[] = {2, 0, 1, 2};
    float out[12];
    memset(out, 0xff, sizeof out);
    assert_int_equal(mlp_one_hot(labels, 4, 3, out), MLP_OK);
    const float expected[] = {0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1};
    assert_memory_equal(out, expected, sizeof expected);
}

static void test_one_hot_refuses_bad_labels(void **state)
{
    (void)state;
    const float bad_labels[] = {-1.0f,    1.5f,      3.0f,  NAN,
                                INFINITY, -INFINITY, 1e30f, -0.5f};
    for (size_t k = 0; k < sizeof bad_labels / sizeof bad_labels[0]; k++) {
        const float labels[] = {0, 1, bad_labels[k]};
        float out[9] = {7, 7, 7, 7, 7, 7, 7, 7, 7};
        if (mlp_one_hot(labels, 3, 3, out) != MLP_ERR_ARG)
            fail_msg("label %g was accepted", (double)bad_labels[k]);
        for (size_t e = 0; e < 9; e++)
            assert_true(out[e] == 7.0f);
    }
    /* -0 is the integer 0. */
    const float negative_zero[] = {-0.0f};
    float out[2];
    assert_int_equal(mlp_one_hot(negative_zero, 1, 2, out), MLP_OK);
    assert_true(out[0] == 1.0f && out[1] == 0.0f);
    const float labels[] = {0};
    assert_int_equal(mlp_one_hot(NULL, 1, 2, out), MLP_ERR_ARG);
    assert_int_equal(mlp_one_hot(labels, 1, 2, NULL), MLP_ERR_ARG);
    assert_int_equal(mlp_one_hot(labels, 1, 0, out), MLP_ERR_ARG);
    assert_int_equal(mlp_one_hot(labels, 0, 2, out), MLP_ERR_ARG);
    assert_int_equal(mlp_one_hot(labels, SIZE_MAX, 2, out), MLP_ERR_SHAPE);
}

/* ---- Metrics ---- */

static void test_accuracy_one_output(void **state)
{
    (void)state;
    /* 0.5 counts as negative on both sides. */
    const float P[] = {0.9f, 0.2f, 0.5f, 0.51f, 0.0f};
    const float Y[] = {1.0f, 0.0f, 1.0f, 0.0f, 0.5f};
    double accuracy = -1;
    assert_int_equal(mlp_accuracy(P, Y, 5, 1, &accuracy), MLP_OK);
    check_close(accuracy, 3.0 / 5.0, 1e-15, "accuracy, one output");
}

static void test_accuracy_several_outputs(void **state)
{
    (void)state;
    const float P[] = {0.1f, 0.7f,  0.2f, /* 1 */
                       0.4f, 0.4f,  0.2f, /* tie: first, 0 */
                       0.3f, 0.3f,  0.4f, /* 2 */
                       0.5f, 0.25f, 0.25f /* 0 */};
    const float Y[] = {0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
    double accuracy = -1;
    assert_int_equal(mlp_accuracy(P, Y, 4, 3, &accuracy), MLP_OK);
    check_close(accuracy, 0.5, 1e-15, "accuracy, three outputs");
    /* A tie in the targets also takes the first maximum. */
    const float P2[] = {1, 0, 0, 1};
    const float Y2[] = {0.5f, 0.5f, 0.5f, 0.5f};
    assert_int_equal(mlp_accuracy(P2, Y2, 2, 2, &accuracy), MLP_OK);
    check_close(accuracy, 0.5, 1e-15, "accuracy with tied targets");
    /* A NaN has no place in an arg max: refused, the result untouched. */
    const float P3[] = {1, 0, NAN, 1}, Y3[] = {1, 0, 0, 1};
    accuracy = -1;
    assert_int_equal(mlp_accuracy(P3, Y3, 2, 2, &accuracy), MLP_ERR_NUMERIC);
    assert_int_equal(mlp_accuracy(Y3, P3, 2, 2, &accuracy), MLP_ERR_NUMERIC);
    assert_true(accuracy == -1);
}

static void test_mse(void **state)
{
    (void)state;
    const float P[] = {1, 2, 3, 4, 5, 6};
    const float Y[] = {1, 0, 3, 1, 5, 5};
    double mse = -1;
    assert_int_equal(mlp_mse(P, Y, 3, 2, &mse), MLP_OK);
    check_close(mse, (0 + 4 + 0 + 9 + 0 + 1) / 6.0, 1e-15, "mse");
    /* Large floats square beyond float's range but not double's. */
    const float big_P[] = {1e30f}, big_Y[] = {-1e30f};
    assert_int_equal(mlp_mse(big_P, big_Y, 1, 1, &mse), MLP_OK);
    check_rel(mse, 4e60, 1e-6, 0, "mse of large values");
    const float bad[] = {NAN};
    mse = -1;
    assert_int_equal(mlp_mse(bad, Y, 1, 1, &mse), MLP_ERR_NUMERIC);
    check_close(mse, -1, 0, "mse left alone on failure");
}

static void test_r2(void **state)
{
    (void)state;
    /* Column 0: y = 1, 2, 3, mean 2, SS_tot 2; p = 1, 2, 4: SS_res 1,
     * R2 0.5. Column 1: y = 2, 4, 6, SS_tot 8; p = y: R2 1. Mean 0.75. */
    const float Y[] = {1, 2, 2, 4, 3, 6};
    const float P[] = {1, 2, 2, 4, 4, 6};
    double r2 = -1;
    assert_int_equal(mlp_r2(P, Y, 3, 2, &r2), MLP_OK);
    check_close(r2, 0.75, 1e-15, "r2 of two columns");
    /* Predicting the mean gives 0; worse than the mean is negative. */
    const float mean_P[] = {2, 4, 2, 4, 2, 4};
    assert_int_equal(mlp_r2(mean_P, Y, 3, 2, &r2), MLP_OK);
    check_close(r2, 0, 1e-15, "r2 of the mean");
    const float Y1[] = {1, 2, 3}, P1[] = {3, 2, 1};
    assert_int_equal(mlp_r2(P1, Y1, 3, 1, &r2), MLP_OK);
    check_close(r2, 1 - 8.0 / 2.0, 1e-15, "r2 of a reversed prediction");
}

static void test_r2_refuses_constant_targets(void **state)
{
    (void)state;
    const float Y[] = {1, 5, 2, 5, 3, 5}; /* column 1 is constant */
    const float P[] = {1, 5, 2, 5, 3, 5};
    double r2 = -1;
    assert_int_equal(mlp_r2(P, Y, 3, 2, &r2), MLP_ERR_NUMERIC);
    assert_int_equal(mlp_r2(P, Y, 1, 1, &r2), MLP_ERR_NUMERIC); /* a single sample */
    const float Y_nan[] = {1, NAN, 3};
    assert_int_equal(mlp_r2(P, Y_nan, 3, 1, &r2), MLP_ERR_NUMERIC);
    check_close(r2, -1, 0, "r2 left alone on failure");
}

static void test_metrics_refuse_bad_arguments(void **state)
{
    (void)state;
    const float P[] = {1, 2}, Y[] = {1, 3};
    double value = -1;
    mlp_status (*metrics[])(const float *, const float *, size_t, size_t,
                            double *) = {mlp_accuracy, mlp_mse, mlp_r2};
    for (size_t m = 0; m < 3; m++) {
        assert_int_equal(metrics[m](NULL, Y, 2, 1, &value), MLP_ERR_ARG);
        assert_int_equal(metrics[m](P, NULL, 2, 1, &value), MLP_ERR_ARG);
        assert_int_equal(metrics[m](P, Y, 2, 1, NULL), MLP_ERR_ARG);
        assert_int_equal(metrics[m](P, Y, 0, 1, &value), MLP_ERR_ARG);
        assert_int_equal(metrics[m](P, Y, 2, 0, &value), MLP_ERR_ARG);
        assert_int_equal(metrics[m](P, Y, SIZE_MAX, 2, &value), MLP_ERR_SHAPE);
    }
    check_close(value, -1, 0, "metric left alone on failure");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_round_trip),
        cmocka_unit_test(test_csv_crlf_and_spaces),
        cmocka_unit_test(test_csv_without_final_newline),
        cmocka_unit_test(test_csv_ignores_trailing_empty_lines),
        cmocka_unit_test(test_csv_single_column_and_header_names),
        cmocka_unit_test(test_csv_float_edges),
        cmocka_unit_test_setup_teardown(test_csv_ignores_program_locale, use_comma_locale,
                                        restore_locale),
        cmocka_unit_test(test_csv_long_lines_and_many_rows),
        cmocka_unit_test(test_csv_empty_and_headerless_files),
        cmocka_unit_test(test_csv_no_data_rows),
        cmocka_unit_test(test_csv_empty_line_in_the_middle),
        cmocka_unit_test(test_csv_bad_numbers),
        cmocka_unit_test(test_csv_non_finite_and_out_of_range),
        cmocka_unit_test(test_csv_empty_and_quoted_fields),
        cmocka_unit_test(test_csv_wrong_field_counts),
        cmocka_unit_test(test_csv_messages_are_safe),
        cmocka_unit_test(test_csv_io_errors),
        cmocka_unit_test(test_csv_null_arguments),
        cmocka_unit_test(test_columns_copy),
        cmocka_unit_test(test_permutation_is_valid_and_seeded),
        cmocka_unit_test(test_permutation_is_uniform),
        cmocka_unit_test(test_rows_gather),
        cmocka_unit_test(test_standardize_fit),
        cmocka_unit_test(test_standardize_fit_near_constant_column),
        cmocka_unit_test(test_standardize_fit_refusals),
        cmocka_unit_test(test_standardize_apply),
        cmocka_unit_test(test_standardize_apply_refusals),
        cmocka_unit_test(test_standardize_fold),
        cmocka_unit_test(test_standardize_fold_refusals),
        cmocka_unit_test(test_one_hot),
        cmocka_unit_test(test_one_hot_refuses_bad_labels),
        cmocka_unit_test(test_accuracy_one_output),
        cmocka_unit_test(test_accuracy_several_outputs),
        cmocka_unit_test(test_mse),
        cmocka_unit_test(test_r2),
        cmocka_unit_test(test_r2_refuses_constant_targets),
        cmocka_unit_test(test_metrics_refuse_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
