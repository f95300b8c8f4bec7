/*
 * The library's only path to the heap. Keeping it in one function lets the
 * benchmark count allocations and the fault-injection test fail the n-th
 * one, both by wrapping mlp_alloc at link time (ld --wrap), with no hooks
 * or macros in the library itself. It is alone in this file because ld
 * --wrap does not redirect calls resolved inside the defining object file:
 * every caller, alloc.c's helpers included, must be in another object.
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>

/* Every block starts on a 64-byte cache line. The passes over whole blocks
 * (the optimizer's above all) load 32 or 64 bytes at a time, and from
 * malloc's 16-byte alignment half of the 32-byte loads and every 64-byte
 * one would straddle two lines. aligned_alloc wants a whole number of
 * lines. */
void *mlp_alloc(size_t n_bytes)
{
    const size_t line = 64;
    size_t lines = n_bytes / line + (n_bytes % line != 0 || n_bytes == 0);
    if (lines > SIZE_MAX / line)
        return NULL;
    return aligned_alloc(line, lines * line);
}
