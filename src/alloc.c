/*
 * Allocation helpers on top of mlp_alloc, the library's only path to the
 * heap. mlp_alloc itself lives alone in alloc_raw.c: ld --wrap only
 * redirects calls that leave their object file, so keeping it out of this
 * file makes the calls from mlp_alloc_zero and mlp_alloc_floats wrappable
 * too.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

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

float *mlp_alloc_floats(size_t count)
{
    size_t n_bytes;
    if (mlp_mul_overflows(count, sizeof(float), &n_bytes))
        return NULL;
    return mlp_alloc(n_bytes);
}
