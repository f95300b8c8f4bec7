/*
 * libFuzzer target: mlp_csv_read on arbitrary bytes. The reader takes a
 * path, so each input is written to an in-memory file (memfd) opened by
 * its /proc/self/fd path: no disk traffic and nothing to clean up. A file
 * that reads must give rows x cols finite floats; one that does not must
 * give MLP_ERR_FORMAT with a message naming a line, and set nothing.
 */
#define _GNU_SOURCE /* memfd_create */

#include "mlp.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One memfd for the whole process, rewritten for every input. */
static int csv_fd = -1;
static char csv_path[64];

static int open_memfd(void)
{
    if (csv_fd < 0) {
        csv_fd = memfd_create("mlp_fuzz_csv", 0);
        if (csv_fd < 0)
            abort();
        snprintf(csv_path, sizeof csv_path, "/proc/self/fd/%d", csv_fd);
    }
    return csv_fd;
}

static void write_input(const uint8_t *data, size_t size)
{
    int fd = open_memfd();
    if (ftruncate(fd, 0) != 0)
        abort();
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_input(data, size);
    float *values = NULL;
    size_t rows = 0, cols = 0;
    mlp_csv_error err;
    mlp_status status = mlp_csv_read(csv_path, &values, &rows, &cols, &err);
    if (status == MLP_OK) {
        if (!values || rows == 0 || cols == 0 || err.line != 0 || err.message[0] != '\0')
            abort();
        for (size_t k = 0; k < rows * cols; k++)
            if (!isfinite(values[k]))
                abort();
        mlp_array_free(values);
    } else {
        if ((status != MLP_ERR_FORMAT && status != MLP_ERR_NOMEM) || values || rows ||
            cols)
            abort();
        if (status == MLP_ERR_FORMAT && (err.line == 0 || err.message[0] == '\0' ||
                                         !memchr(err.message, '\0', sizeof err.message)))
            abort();
    }
    return 0;
}
