/*
 * The library's only path to the heap. Keeping it in one function lets the
 * benchmark count allocations and the fault-injection test fail the n-th
 * one, both by wrapping mlp_alloc at link time (ld --wrap), with no hooks
 * or macros in the library itself. It is alone in this file because ld
 * --wrap does not redirect calls resolved inside the defining object file:
 * every caller, alloc.c's helpers included, must be in another object.
 */
#include "internal.h"

#include <stdlib.h>

void *mlp_alloc(size_t n_bytes)
{
    if (n_bytes == 0)
        n_bytes = 1;
    return malloc(n_bytes);
}
