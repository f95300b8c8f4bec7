/*
 * What the library's two file formats share (docs/model-format.md for
 * networks, docs/optimizer-format.md for optimizer state): little-endian
 * words written and read with shifts, so a file is the same on every host;
 * the CRC-32 that ends each file; saving by write, sync and rename, so a
 * failure never leaves half a file where a good one was; and reading a
 * whole file only once its header has accounted for its size.
 */
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC, O_DIRECTORY, pread, fsync, fchmod */

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(float) == sizeof(uint32_t), "floats are stored as 32-bit words");

enum {
    TEMP_NAME_BYTES = 25, /* '.', 16 hex digits, ".mlptmp", '\0' */
    TEMP_TRIES = 100
};

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) of each 4-bit value,
 * so the checksum takes two lookups per byte instead of eight shifts. */
static const uint32_t crc_nibble[16] = {0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC,
                                        0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
                                        0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
                                        0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C};

/* The CRC-32 of zlib, PNG and gzip: initial value and final xor all ones. */
uint32_t mlp_crc32(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t k = 0; k < n; k++) {
        crc ^= p[k];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
    }
    return crc ^ 0xFFFFFFFFu;
}

/* ---- Little-endian words, independent of the host's byte order ---- */

void mlp_put_u32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

void mlp_put_u64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

uint32_t mlp_get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++)
        v |= (uint32_t)p[k] << (8 * k);
    return v;
}

uint64_t mlp_get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

/* Floats travel as their IEEE-754 bit patterns, NaN payloads included. */
void mlp_put_floats(unsigned char *p, const float *x, size_t count)
{
    for (size_t k = 0; k < count; k++) {
        uint32_t bits;
        memcpy(&bits, &x[k], sizeof bits);
        mlp_put_u32(p + 4 * k, bits);
    }
}

void mlp_get_floats(float *x, const unsigned char *p, size_t count)
{
    for (size_t k = 0; k < count; k++) {
        uint32_t bits = mlp_get_u32(p + 4 * k);
        memcpy(&x[k], &bits, sizeof bits);
    }
}

/* ---- Saving ---- */

/* Writes all n bytes, resuming after interruptions and short writes. */
static bool write_all(int fd, const unsigned char *bytes, size_t n)
{
    while (n > 0) {
        ssize_t done = write(fd, bytes, n);
        if (done < 0 && errno == EINTR)
            continue;
        if (done <= 0)
            return false;
        bytes += done;
        n -= (size_t)done;
    }
    return true;
}

/* The length of path's folder part, up to and with its last '/' (0 for a
 * bare file name, which lives in the current folder). */
static size_t folder_length(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) + 1 : 0;
}

/* Creates a new file in path's folder named '.' + 16 random hex digits +
 * ".mlptmp" (written to tmp): a short name, so that any file name that fits
 * the file system has a temporary beside it that fits too. O_EXCL, so it
 * never opens an existing file; O_CLOEXEC, so that a program another thread
 * starts meanwhile does not inherit it. Returns the descriptor, or -1. */
static int create_temp(const char *path, char *tmp, mode_t mode)
{
    const size_t folder = folder_length(path);
    memcpy(tmp, path, folder);
    mlp_rng rng;
    mlp_rng_seed(&rng, ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^
                           (uint64_t)(uintptr_t)tmp);
    for (int tries = 0; tries < TEMP_TRIES; tries++) {
        sprintf(tmp + folder, ".%016llx.mlptmp", (unsigned long long)mlp_rng_next(&rng));
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

/* The permission bits of the regular file path would replace, so that the
 * new file never shows more than the old one did, not even while it is
 * being written (false: there is none, and a new file is created with 0666
 * less the umask, as any other). */
static bool replaced_mode(const char *path, mode_t *mode)
{
    struct stat st;
    *mode = 0666;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return false; /* nothing to keep; rename decides whether path can be replaced */
    *mode = st.st_mode & 0777;
    return true;
}

/* Makes the rename itself durable, as far as the file system allows: an
 * error here is not reported, since path already holds the new file. */
static void sync_folder(char *tmp, const char *path)
{
    const size_t folder = folder_length(path);
    memcpy(tmp, path, folder);
    tmp[folder] = '\0';
    int fd = open(folder ? tmp : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* The temporary file is written, synced and renamed over path, so path
 * holds either its old content or all of the new one; on failure the
 * temporary file is removed. Created with the old file's permissions
 * already (the umask may clear some, which fchmod then restores). */
static mlp_status write_atomically(const char *path, const unsigned char *bytes, size_t n)
{
    char *tmp = mlp_alloc(folder_length(path) + TEMP_NAME_BYTES);
    if (!tmp)
        return MLP_ERR_NOMEM;
    mode_t mode;
    const bool replacing = replaced_mode(path, &mode);
    int fd = create_temp(path, tmp, mode);
    if (fd < 0) {
        mlp_dealloc(tmp);
        return MLP_ERR_IO;
    }
    bool ok = (!replacing || fchmod(fd, mode) == 0) && write_all(fd, bytes, n) &&
              fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp, path) == 0;
    if (ok)
        sync_folder(tmp, path);
    else
        unlink(tmp);
    mlp_dealloc(tmp);
    return ok ? MLP_OK : MLP_ERR_IO;
}

mlp_status mlp_save_atomically(const char *path, const void *obj, size_t size,
                               mlp_serializer fill)
{
    unsigned char *bytes = mlp_alloc(size);
    if (!bytes)
        return MLP_ERR_NOMEM;
    fill(obj, bytes, size);
    mlp_status status = write_atomically(path, bytes, size);
    mlp_dealloc(bytes);
    return status;
}

/* ---- Loading ---- */

/* Reads exactly n bytes at offset: MLP_ERR_IO when reading fails,
 * MLP_ERR_FORMAT when the file ends first (it is shorter than it claims). */
mlp_status mlp_read_at(int fd, unsigned char *bytes, size_t n, size_t offset)
{
    while (n > 0) {
        ssize_t done = pread(fd, bytes, n, (off_t)offset);
        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0)
            return MLP_ERR_IO;
        if (done == 0)
            return MLP_ERR_FORMAT;
        bytes += done;
        n -= (size_t)done;
        offset += (size_t)done;
    }
    return MLP_OK;
}

/* The size is checked before the buffer exists, so that a file cannot make
 * the reader allocate more than its header accounts for. */
static mlp_status read_regular(int fd, mlp_file_check check, unsigned char **bytes,
                               size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return MLP_ERR_IO;
    if ((uintmax_t)st.st_size > SIZE_MAX)
        return MLP_ERR_FORMAT;
    size_t size = (size_t)st.st_size;
    mlp_status status = check(fd, size);
    if (status != MLP_OK)
        return status;
    *bytes = mlp_alloc(size);
    if (!*bytes)
        return MLP_ERR_NOMEM;
    *len = size;
    return mlp_read_at(fd, *bytes, size, 0);
}

mlp_status mlp_read_file(const char *path, mlp_file_check check, unsigned char **bytes,
                         size_t *len)
{
    *bytes = NULL;
    *len = 0;
    /* O_NONBLOCK: a FIFO opens at once and is then refused as not a regular
     * file, instead of blocking until a writer appears. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return MLP_ERR_IO;
    mlp_status status = read_regular(fd, check, bytes, len);
    close(fd);
    if (status != MLP_OK) {
        mlp_dealloc(*bytes);
        *bytes = NULL;
    }
    return status;
}
