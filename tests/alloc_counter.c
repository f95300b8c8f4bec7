/* The link-time wrapper of mlp_alloc shared by the allocation tests. */
#include "alloc_counter.h"

#include <stdint.h>

void *__real_mlp_alloc(size_t n_bytes);
void *__wrap_mlp_alloc(size_t n_bytes);

size_t alloc_count;
size_t alloc_fail_at = SIZE_MAX;

void *__wrap_mlp_alloc(size_t n_bytes)
{
    if (alloc_count++ == alloc_fail_at)
        return NULL;
    return __real_mlp_alloc(n_bytes);
}
