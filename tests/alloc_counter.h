/*
 * Counts and fails the library's allocations. A test linked with
 * alloc_counter.c and -Wl,--wrap=mlp_alloc (see mlp_add_alloc_test in
 * tests/CMakeLists.txt) sees every call the library makes to mlp_alloc.
 */
#ifndef ALLOC_COUNTER_H
#define ALLOC_COUNTER_H

#include <stddef.h>

/* Allocations made so far. */
extern size_t alloc_count;
/* The index (from 0) of the allocation to fail; SIZE_MAX fails none. */
extern size_t alloc_fail_at;

#endif
