/*
 * Data handling around training: a strict numeric CSV reader that says
 * exactly where a file is wrong, shuffling and splitting by row,
 * standardization, one-hot labels, and the evaluation metrics.
 *
 * The CSV reader reads the whole file into memory and parses it in place,
 * so there is no limit on line length and every size is checked before it
 * is used: the reader is meant to survive hostile files.
 */
#define _POSIX_C_SOURCE 200809L /* newlocale, uselocale, open (O_CLOEXEC), fdopen */

#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* CSV reading                                                               */
/* ------------------------------------------------------------------------ */

/* The first read buffer; it doubles as the file turns out larger. */
enum { CSV_FIRST_CAPACITY = 4096 };

/* How much of a bad field an error message quotes. */
enum { CSV_QUOTED_CHARS = 32 };

/* One line of the file, without its "\n" or "\r\n". */
typedef struct csv_line {
    char *text;
    size_t length;
    size_t number; /* 1-based, the header is line 1 */
} csv_line;

/* Walks the file's lines; text[size] is a '\0' owned by the reader. */
typedef struct csv_cursor {
    char *text;
    size_t size;
    size_t offset;
    size_t line_number;
} csv_cursor;

/* The values parsed so far, row after row, in a buffer that grows. */
typedef struct csv_values {
    float *data;
    size_t count;
    size_t capacity;
} csv_values;

/* Starts err as "no problem", so a caller never reads a stale message. */
static void csv_error_clear(mlp_csv_error *err)
{
    if (!err)
        return;
    err->line = 0;
    err->column = 0;
    err->message[0] = '\0';
}

/* Records where the file went wrong and returns status, so every error path
 * is one statement. A line or column of 0 means "no particular one" and is
 * left out of the message. */
static mlp_status csv_fail(mlp_csv_error *err, mlp_status status, size_t line,
                           size_t column, const char *format, ...)
{
    if (!err)
        return status;
    err->line = line;
    err->column = column;
    size_t used = 0;
    int written = 0;
    if (line > 0 && column > 0)
        written = snprintf(err->message, sizeof err->message,
                           "line %zu, column %zu: ", line, column);
    else if (line > 0)
        written = snprintf(err->message, sizeof err->message, "line %zu: ", line);
    if (written > 0)
        used =
            (size_t)written < sizeof err->message ? (size_t)written : sizeof err->message;
    if (used < sizeof err->message) {
        va_list args;
        va_start(args, format);
        vsnprintf(err->message + used, sizeof err->message - used, format, args);
        va_end(args);
    }
    return status;
}

/* Copies the start of a field into quoted (CSV_QUOTED_CHARS + 4 bytes) for
 * an error message, replacing bytes that are not printable ASCII with '?'
 * so a hostile file cannot put control characters into the message. */
static void csv_quote_field(const char *field, size_t length, char *quoted)
{
    size_t shown = length < CSV_QUOTED_CHARS ? length : CSV_QUOTED_CHARS;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)field[i];
        quoted[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (shown < length) {
        memcpy(quoted + shown, "...", 4);
    } else {
        quoted[shown] = '\0';
    }
}

/* Allocates a copy of the first used bytes of old_block in a block of
 * new_size bytes and frees the old one. Used instead of realloc so that
 * every allocation goes through mlp_alloc. */
static void *csv_grow(void *old_block, size_t used, size_t new_size)
{
    void *block = mlp_alloc(new_size);
    if (!block)
        return NULL;
    if (used > 0)
        memcpy(block, old_block, used);
    mlp_dealloc(old_block);
    return block;
}

/* The 1-based line of byte offset in text: one more than the '\n' before
 * it. */
static size_t csv_line_of(const char *text, size_t offset)
{
    size_t line = 1;
    for (size_t k = 0; k < offset; k++)
        line += text[k] == '\n';
    return line;
}

/* Opens path for reading, closed on exec so that a program another thread
 * starts meanwhile does not inherit it. */
static FILE *csv_open(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    FILE *file = fdopen(fd, "rb");
    if (!file)
        close(fd);
    return file;
}

/* Reads the whole file at path into a new '\0'-terminated buffer. Reading
 * in growing chunks rather than asking for the size first also works for
 * pipes, and a directory fails on the first read. A NUL byte ends the
 * reading at once (MLP_ERR_FORMAT): the file is not text, and an endless
 * binary source such as /dev/zero is refused after one chunk instead of
 * filling memory. */
static mlp_status csv_read_file(const char *path, char **text, size_t *size,
                                mlp_csv_error *err)
{
    FILE *file = csv_open(path);
    if (!file)
        return csv_fail(err, MLP_ERR_IO, 0, 0, "cannot open the file");
    size_t capacity = CSV_FIRST_CAPACITY;
    size_t length = 0;
    char *buffer = mlp_alloc(capacity);
    if (!buffer) {
        fclose(file);
        return csv_fail(err, MLP_ERR_NOMEM, 0, 0, "out of memory");
    }
    for (;;) {
        if (length == capacity - 1) { /* keep one byte for the '\0' */
            size_t bigger;
            char *grown = NULL;
            if (!mlp_mul_overflows(capacity, 2, &bigger))
                grown = csv_grow(buffer, length, bigger);
            if (!grown) {
                mlp_dealloc(buffer);
                fclose(file);
                return csv_fail(err, MLP_ERR_NOMEM, 0, 0, "out of memory");
            }
            buffer = grown;
            capacity = bigger;
        }
        size_t wanted = capacity - 1 - length;
        size_t got = fread(buffer + length, 1, wanted, file);
        const char *nul = memchr(buffer + length, '\0', got);
        length += got;
        if (nul) {
            size_t line = csv_line_of(buffer, (size_t)(nul - buffer));
            mlp_dealloc(buffer);
            fclose(file);
            return csv_fail(err, MLP_ERR_FORMAT, line, 0, "a NUL byte: not a text file");
        }
        if (got < wanted) {
            if (ferror(file)) {
                mlp_dealloc(buffer);
                fclose(file);
                return csv_fail(err, MLP_ERR_IO, 0, 0, "cannot read the file");
            }
            if (feof(file))
                break;
        }
    }
    fclose(file);
    buffer[length] = '\0';
    *text = buffer;
    *size = length;
    return MLP_OK;
}

/* Takes the next line from the cursor; returns 0 when the file is done. A
 * final line without '\n' counts; a '\r' before the line end is dropped so
 * that CRLF files read like LF files. */
static int csv_next_line(csv_cursor *cursor, csv_line *line)
{
    if (cursor->offset >= cursor->size)
        return 0;
    char *start = cursor->text + cursor->offset;
    size_t rest = cursor->size - cursor->offset;
    char *newline = memchr(start, '\n', rest);
    size_t length = newline ? (size_t)(newline - start) : rest;
    cursor->offset += newline ? length + 1 : length;
    cursor->line_number++;
    if (length > 0 && start[length - 1] == '\r')
        length--;
    line->text = start;
    line->length = length;
    line->number = cursor->line_number;
    return 1;
}

static int csv_is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* A line of nothing but spaces and tabs counts as empty. */
static int csv_line_is_blank(const csv_line *line)
{
    for (size_t i = 0; i < line->length; i++)
        if (!csv_is_space(line->text[i]))
            return 0;
    return 1;
}

/* Narrows [*field, *field + *length) to drop surrounding spaces and tabs. */
static void csv_trim(char **field, size_t *length)
{
    while (*length > 0 && csv_is_space((*field)[0])) {
        (*field)++;
        (*length)--;
    }
    while (*length > 0 && csv_is_space((*field)[*length - 1]))
        (*length)--;
}

/* The length of the field that starts at text, up to the next comma or the
 * end of the line (rest bytes away). */
static size_t csv_field_length(const char *text, size_t rest)
{
    const char *comma = memchr(text, ',', rest);
    return comma ? (size_t)(comma - text) : rest;
}

/* Counts the header's fields, refusing quotes, which this reader does not
 * support (a quoted name could hide a comma and change the count). */
static mlp_status csv_read_header(const csv_line *line, size_t *cols, mlp_csv_error *err)
{
    if (csv_line_is_blank(line))
        return csv_fail(err, MLP_ERR_FORMAT, line->number, 0, "the header row is empty");
    size_t count = 0;
    size_t offset = 0;
    for (;;) {
        size_t length = csv_field_length(line->text + offset, line->length - offset);
        count++;
        if (memchr(line->text + offset, '"', length))
            return csv_fail(err, MLP_ERR_FORMAT, line->number, count,
                            "quoted fields are not supported");
        offset += length;
        if (offset == line->length)
            break;
        offset++; /* the comma */
    }
    *cols = count;
    return MLP_OK;
}

/* Parses one trimmed, non-empty field as a float. The field is parsed in
 * place: the byte after it (a space, comma, '\r', '\n' or the buffer's final
 * '\0', none of which is read again) becomes its terminator for strtof.
 * strtof, not strtod: the text is rounded once, to the nearest float, so a
 * float printed with 9 digits (FLT_MAX among them) reads back exactly; a
 * double rounded again to float can land one ulp off. */
static mlp_status csv_parse_field(char *field, size_t length, size_t line, size_t column,
                                  float *value, mlp_csv_error *err)
{
    char quoted[CSV_QUOTED_CHARS + 4];
    field[length] = '\0';
    errno = 0;
    char *end = field;
    /* strtof would skip leading '\v', '\f' or '\r' that trimming kept */
    float parsed = isspace((unsigned char)field[0]) ? 0.0f : strtof(field, &end);
    int out_of_range = errno == ERANGE;
    if (end != field + length) {
        csv_quote_field(field, length, quoted);
        return csv_fail(err, MLP_ERR_FORMAT, line, column, "'%s' is not a number",
                        quoted);
    }
    if (isnan(parsed) || (isinf(parsed) && !out_of_range)) {
        csv_quote_field(field, length, quoted);
        return csv_fail(err, MLP_ERR_FORMAT, line, column, "'%s' is not a finite number",
                        quoted);
    }
    if (isinf(parsed)) {
        csv_quote_field(field, length, quoted);
        return csv_fail(err, MLP_ERR_FORMAT, line, column,
                        "'%s' is out of the float range", quoted);
    }
    *value = parsed; /* an underflow is the nearest float: a subnormal or 0 */
    return MLP_OK;
}

/* Makes room for one more row of cols values. The total count is rows x
 * cols, so checking count + cols here is the overflow check of that
 * product. The buffer doubles so that reading n rows copies O(n) values. */
static mlp_status csv_reserve_row(csv_values *values, size_t cols, mlp_csv_error *err)
{
    size_t needed, doubled, n_bytes;
    if (mlp_add_overflows(values->count, cols, &needed))
        return csv_fail(err, MLP_ERR_NOMEM, 0, 0, "the table is too large");
    if (needed <= values->capacity)
        return MLP_OK;
    if (mlp_mul_overflows(values->capacity, 2, &doubled) || doubled < needed)
        doubled = needed;
    if (mlp_mul_overflows(doubled, sizeof(float), &n_bytes))
        return csv_fail(err, MLP_ERR_NOMEM, 0, 0, "the table is too large");
    float *grown = csv_grow(values->data, values->count * sizeof(float), n_bytes);
    if (!grown)
        return csv_fail(err, MLP_ERR_NOMEM, 0, 0, "out of memory");
    values->data = grown;
    values->capacity = doubled;
    return MLP_OK;
}

/* Parses one data line of exactly cols fields and appends its values. */
static mlp_status csv_read_row(const csv_line *line, size_t cols, csv_values *values,
                               mlp_csv_error *err)
{
    mlp_status status = csv_reserve_row(values, cols, err);
    if (status != MLP_OK)
        return status;
    if (!values->data)
        return MLP_ERR_NOMEM; /* unreachable for cols > 0; keeps the analyzer sure */
    float *row = values->data + values->count;
    size_t offset = 0;
    size_t column = 0;
    for (;;) {
        size_t raw_length = csv_field_length(line->text + offset, line->length - offset);
        column++;
        if (column > cols)
            return csv_fail(err, MLP_ERR_FORMAT, line->number, column,
                            "too many fields (the header has %zu)", cols);
        char *field = line->text + offset;
        size_t length = raw_length;
        csv_trim(&field, &length);
        if (memchr(field, '"', length))
            return csv_fail(err, MLP_ERR_FORMAT, line->number, column,
                            "quoted fields are not supported");
        if (length == 0)
            return csv_fail(err, MLP_ERR_FORMAT, line->number, column, "empty field");
        status =
            csv_parse_field(field, length, line->number, column, &row[column - 1], err);
        if (status != MLP_OK)
            return status;
        offset += raw_length;
        if (offset == line->length)
            break;
        offset++; /* the comma */
    }
    if (column < cols)
        return csv_fail(err, MLP_ERR_FORMAT, line->number, column + 1,
                        "missing field (the row has %zu, the header %zu)", column, cols);
    values->count += cols;
    return MLP_OK;
}

/* Parses the text of a whole file. Empty lines at the end are ignored; an
 * empty line followed by more data is an error at the empty line. On
 * failure values->data may hold a buffer the caller frees. */
static mlp_status csv_parse(char *text, size_t size, csv_values *values, size_t *rows,
                            size_t *cols, mlp_csv_error *err)
{
    if (size == 0)
        return csv_fail(err, MLP_ERR_FORMAT, 1, 0, "the file is empty");
    csv_cursor cursor = {text, size, 0, 0};
    csv_line line;
    csv_next_line(&cursor, &line);
    mlp_status status = csv_read_header(&line, cols, err);
    if (status != MLP_OK)
        return status;
    size_t row_count = 0;
    size_t first_blank_line = 0; /* 0: no empty line since the last row */
    while (csv_next_line(&cursor, &line)) {
        if (csv_line_is_blank(&line)) {
            if (first_blank_line == 0)
                first_blank_line = line.number;
            continue;
        }
        if (first_blank_line != 0)
            return csv_fail(err, MLP_ERR_FORMAT, first_blank_line, 0,
                            "empty line before more data");
        status = csv_read_row(&line, *cols, values, err);
        if (status != MLP_OK)
            return status;
        row_count++;
    }
    if (row_count == 0)
        return csv_fail(err, MLP_ERR_FORMAT, 2, 0, "no data rows after the header");
    *rows = row_count;
    return MLP_OK;
}

/* csv_parse with the C locale's numbers, whatever locale the program has
 * set: under a German LC_NUMERIC, strtof would read "1.5" as 1 and stop at
 * the point. uselocale changes the calling thread's locale only, so other
 * threads are not disturbed. */
static mlp_status csv_parse_in_c_locale(char *text, size_t size, csv_values *values,
                                        size_t *rows, size_t *cols, mlp_csv_error *err)
{
    locale_t c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0)
        return csv_fail(err, MLP_ERR_NOMEM, 0, 0, "out of memory");
    locale_t previous = uselocale(c_locale);
    mlp_status status = csv_parse(text, size, values, rows, cols, err);
    uselocale(previous);
    freelocale(c_locale);
    return status;
}

/* The file is read whole and parsed in one pass, and the outputs are only
 * written once everything has succeeded. */
mlp_status mlp_csv_read(const char *path, float **data, size_t *rows, size_t *cols,
                        mlp_csv_error *err)
{
    csv_error_clear(err);
    if (!path || !data || !rows || !cols)
        return csv_fail(err, MLP_ERR_ARG, 0, 0, "a required argument is NULL");
    char *text = NULL;
    size_t size = 0;
    mlp_status status = csv_read_file(path, &text, &size, err);
    if (status != MLP_OK)
        return status;
    csv_values values = {NULL, 0, 0};
    size_t row_count = 0, col_count = 0;
    status = csv_parse_in_c_locale(text, size, &values, &row_count, &col_count, err);
    mlp_dealloc(text);
    if (status != MLP_OK) {
        mlp_dealloc(values.data);
        return status;
    }
    *data = values.data;
    *rows = row_count;
    *cols = col_count;
    return MLP_OK;
}

/* The array came from mlp_alloc, so it must go back through mlp_dealloc. */
void mlp_array_free(float *data)
{
    mlp_dealloc(data);
}

/* ------------------------------------------------------------------------ */
/* Selecting, shuffling and splitting                                        */
/* ------------------------------------------------------------------------ */

/* Splits a table into features and targets without the caller doing index
 * arithmetic. */
mlp_status mlp_columns_copy(const float *src, size_t rows, size_t cols, size_t first,
                            size_t count, float *dst)
{
    if (!src || !dst || rows == 0 || cols == 0 || count == 0)
        return MLP_ERR_ARG;
    size_t total;
    if (first > cols || count > cols - first || mlp_mul_overflows(rows, cols, &total))
        return MLP_ERR_SHAPE;
    for (size_t i = 0; i < rows; i++)
        memcpy(dst + i * count, src + i * cols + first, count * sizeof *dst);
    return MLP_OK;
}

/* Fisher-Yates with the library's generator, so a seed gives the same
 * order on every platform (rand() would not). */
mlp_status mlp_permutation(size_t *perm, size_t n, uint64_t seed)
{
    if (!perm || n == 0)
        return MLP_ERR_ARG;
    mlp_rng rng;
    mlp_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)mlp_rng_below(&rng, (uint64_t)i + 1);
        size_t swap = perm[i];
        perm[i] = perm[j];
        perm[j] = swap;
    }
    return MLP_OK;
}

/* Applies a permutation or a split to the rows of a table. Every index is
 * checked before anything is copied, so a failure leaves dst unchanged. */
mlp_status mlp_rows_gather(const float *src, size_t src_rows, size_t cols,
                           const size_t *idx, size_t count, float *dst)
{
    if (!src || !idx || !dst || cols == 0 || count == 0)
        return MLP_ERR_ARG;
    size_t total;
    if (mlp_mul_overflows(src_rows, cols, &total) ||
        mlp_mul_overflows(count, cols, &total))
        return MLP_ERR_SHAPE;
    for (size_t k = 0; k < count; k++)
        if (idx[k] >= src_rows)
            return MLP_ERR_SHAPE;
    for (size_t k = 0; k < count; k++)
        memcpy(dst + k * cols, src + idx[k] * cols, cols * sizeof *dst);
    return MLP_OK;
}

/* ------------------------------------------------------------------------ */
/* Standardization and labels                                                */
/* ------------------------------------------------------------------------ */

/* Whether a standard deviation is too small (relative to the column's
 * mean, or absolutely) to divide by: two-pass variance of a constant float
 * column leaves at most rounding noise near 1e-16 |mean|. */
static int std_is_degenerate(double std, double mean)
{
    return !(std >= FLT_MIN) || std <= 1e-10 * fabs(mean) || !isfinite((float)std);
}

/* Two passes (mean, then squared deviations) in double: the one-pass
 * formula E[x^2] - E[x]^2 cancels catastrophically for large means. The
 * columns are walked one at a time so that nothing is allocated. */
mlp_status mlp_standardize_fit(const float *X, size_t rows, size_t cols, float *mean,
                               float *std)
{
    if (!X || !mean || !std || rows == 0 || cols == 0)
        return MLP_ERR_ARG;
    size_t total;
    if (mlp_mul_overflows(rows, cols, &total))
        return MLP_ERR_SHAPE;
    for (size_t k = 0; k < total; k++)
        if (!isfinite(X[k]))
            return MLP_ERR_ARG;
    for (size_t j = 0; j < cols; j++) {
        double sum = 0.0;
        for (size_t i = 0; i < rows; i++)
            sum += X[i * cols + j];
        double column_mean = sum / (double)rows;
        double squares = 0.0;
        for (size_t i = 0; i < rows; i++) {
            double deviation = X[i * cols + j] - column_mean;
            squares += deviation * deviation;
        }
        double column_std = sqrt(squares / (double)rows);
        mean[j] = (float)column_mean;
        std[j] = std_is_degenerate(column_std, column_mean) ? 1.0f : (float)column_std;
    }
    return MLP_OK;
}

/* The standardized value of x, computed in double so that the only
 * rounding is the final one to float. */
static double standardized(float x, float mean, float std)
{
    return ((double)x - (double)mean) / (double)std;
}

/* Checks every result before writing any, so that a value that would
 * overflow float leaves X as it was. */
mlp_status mlp_standardize_apply(float *X, size_t rows, size_t cols, const float *mean,
                                 const float *std)
{
    if (!X || !mean || !std || rows == 0 || cols == 0)
        return MLP_ERR_ARG;
    for (size_t j = 0; j < cols; j++)
        if (!isfinite(mean[j]) || !isfinite(std[j]) || !(std[j] > 0.0f))
            return MLP_ERR_ARG;
    size_t total;
    if (mlp_mul_overflows(rows, cols, &total))
        return MLP_ERR_SHAPE;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            if (!isfinite((float)standardized(X[i * cols + j], mean[j], std[j])))
                return MLP_ERR_NUMERIC; /* beyond float's range once rounded */
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            X[i * cols + j] = (float)standardized(X[i * cols + j], mean[j], std[j]);
    return MLP_OK;
}

/* Whether label is an integer class index below n_classes. The comparison
 * is done in size_t so that no rounding of n_classes to double can admit
 * or refuse a label wrongly. */
static int label_is_valid(float label, size_t n_classes)
{
    double value = label;
    if (!(value >= 0.0) || value != floor(value) || value >= 18446744073709551616.0)
        return 0;
    return (uint64_t)value < (uint64_t)n_classes;
}

/* Turns class labels into the target rows softmax + cross-entropy expects.
 * Every label is checked before out is touched. */
mlp_status mlp_one_hot(const float *labels, size_t n, size_t n_classes, float *out)
{
    if (!labels || !out || n == 0 || n_classes == 0)
        return MLP_ERR_ARG;
    size_t total;
    if (mlp_mul_overflows(n, n_classes, &total))
        return MLP_ERR_SHAPE;
    for (size_t i = 0; i < n; i++)
        if (!label_is_valid(labels[i], n_classes))
            return MLP_ERR_ARG;
    for (size_t k = 0; k < total; k++)
        out[k] = 0.0f;
    for (size_t i = 0; i < n; i++)
        out[i * n_classes + (size_t)labels[i]] = 1.0f;
    return MLP_OK;
}

/* ------------------------------------------------------------------------ */
/* Metrics                                                                   */
/* ------------------------------------------------------------------------ */

/* The common argument checks of the metrics: non-NULL, non-zero, and an
 * n x k that fits in size_t. */
static mlp_status metric_check(const float *P, const float *Y, size_t n, size_t k,
                               const double *result, size_t *total)
{
    if (!P || !Y || !result || n == 0 || k == 0)
        return MLP_ERR_ARG;
    if (mlp_mul_overflows(n, k, total))
        return MLP_ERR_SHAPE;
    return MLP_OK;
}

/* The index of the largest entry of row (the first one on ties). */
static size_t arg_max(const float *row, size_t k)
{
    size_t best = 0;
    for (size_t j = 1; j < k; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

bool mlp_row_correct(const float *p, const float *y, size_t k)
{
    if (k == 1)
        return (p[0] > 0.5f) == (y[0] > 0.5f);
    return arg_max(p, k) == arg_max(y, k);
}

/* Classification accuracy: one output is read as a probability of the
 * positive class, several as scores of exclusive classes. */
mlp_status mlp_accuracy(const float *P, const float *Y, size_t n, size_t k,
                        double *accuracy)
{
    size_t total;
    mlp_status status = metric_check(P, Y, n, k, accuracy, &total);
    if (status != MLP_OK)
        return status;
    for (size_t e = 0; e < total; e++)
        if (isnan(P[e]) || isnan(Y[e]))
            return MLP_ERR_NUMERIC; /* no arg max: NaN compares false with all */
    size_t correct = 0;
    for (size_t i = 0; i < n; i++)
        correct += mlp_row_correct(P + i * k, Y + i * k, k);
    *accuracy = (double)correct / (double)n;
    return MLP_OK;
}

/* Mean squared error over every entry, accumulated in double. */
mlp_status mlp_mse(const float *P, const float *Y, size_t n, size_t k, double *mse)
{
    size_t total;
    mlp_status status = metric_check(P, Y, n, k, mse, &total);
    if (status != MLP_OK)
        return status;
    double sum = 0.0;
    for (size_t e = 0; e < total; e++) {
        double difference = (double)P[e] - (double)Y[e];
        sum += difference * difference;
    }
    double result = sum / (double)total;
    if (!isfinite(result))
        return MLP_ERR_NUMERIC;
    *mse = result;
    return MLP_OK;
}

/* The coefficient of determination of each output column, averaged, as
 * scikit-learn's r2_score with uniform weights. The target mean is taken
 * first so that SS_tot is a sum of squared deviations (two passes). */
mlp_status mlp_r2(const float *P, const float *Y, size_t n, size_t k, double *r2)
{
    size_t total;
    mlp_status status = metric_check(P, Y, n, k, r2, &total);
    if (status != MLP_OK)
        return status;
    double r2_sum = 0.0;
    for (size_t j = 0; j < k; j++) {
        double y_sum = 0.0;
        for (size_t i = 0; i < n; i++)
            y_sum += Y[i * k + j];
        double y_mean = y_sum / (double)n;
        double ss_res = 0.0, ss_tot = 0.0;
        for (size_t i = 0; i < n; i++) {
            double residual = (double)P[i * k + j] - (double)Y[i * k + j];
            double deviation = (double)Y[i * k + j] - y_mean;
            ss_res += residual * residual;
            ss_tot += deviation * deviation;
        }
        if (!(ss_tot > 0.0))
            return MLP_ERR_NUMERIC;
        r2_sum += 1.0 - ss_res / ss_tot;
    }
    double result = r2_sum / (double)k;
    if (!isfinite(result))
        return MLP_ERR_NUMERIC;
    *r2 = result;
    return MLP_OK;
}
