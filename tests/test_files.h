/*
 * Temporary folders and whole-file reads for the tests of model and
 * optimizer files. The including file defines _POSIX_C_SOURCE (mkdtemp)
 * before its first include.
 */
#ifndef MLP_TEST_FILES_H
#define MLP_TEST_FILES_H

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct temp_dir {
    char path[32];
} temp_dir;

static inline void temp_dir_make(temp_dir *dir)
{
    strcpy(dir->path, "/tmp/mlp_model_XXXXXX");
    assert_non_null(mkdtemp(dir->path));
}

/* path = dir/name. */
static inline void temp_dir_file(const temp_dir *dir, const char *name, char *path,
                                 size_t cap)
{
    assert_true((size_t)snprintf(path, cap, "%s/%s", dir->path, name) < cap);
}

/* The number of entries in the folder, "." and ".." aside. */
static inline size_t temp_dir_count(const temp_dir *dir)
{
    DIR *d = opendir(dir->path);
    assert_non_null(d);
    size_t count = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        count += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return count;
}

/* Removes the folder and the files and empty folders in it. */
static inline void temp_dir_remove(temp_dir *dir)
{
    DIR *d = opendir(dir->path);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[300];
        temp_dir_file(dir, e->d_name, path, sizeof path);
        assert_int_equal(remove(path), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir->path), 0);
}

/* The whole content of a file in a new malloc'd buffer. */
static inline unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    unsigned char *bytes = malloc((size_t)size + 1);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return bytes;
}

#endif
