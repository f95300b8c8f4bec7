/*
 * The library's only path to the heap. Keeping it in one function lets the
 * benchmark count allocations and the fault-injection test fail the n-th
 * one, both by wrapping mlp_alloc at link time (ld --wrap), with no hooks
 * or macros in the library itself.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void *mlp_alloc(size_t n_bytes)
{
    if (n_bytes == 0)
        n_bytes = 1;
    return malloc(n_bytes);
}

/* calloc semantics on top of mlp_alloc, so zeroed buffers are counted too. */
void *mlp_alloc_zero(size_t count, size_t size)
{
    size_t n_bytes;
    if (mlp_mul_overflows(count, size, &n_bytes))
        return NULL;
    void *p = mlp_alloc(n_bytes);
    if (p)
        memset(p, 0, n_bytes);
    return p;
}

void mlp_dealloc(void *p)
{
    free(p);
}

int mlp_mul_overflows(size_t a, size_t b, size_t *product)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 1;
    *product = a * b;
    return 0;
}

int mlp_add_overflows(size_t a, size_t b, size_t *sum)
{
    if (b > SIZE_MAX - a)
        return 1;
    *sum = a + b;
    return 0;
}

float *mlp_alloc_floats(size_t count)
{
    size_t n_bytes;
    if (mlp_mul_overflows(count, sizeof(float), &n_bytes))
        return NULL;
    return mlp_alloc(n_bytes);
}
