/*
 * For the targets that load a checksummed format: each input is tried as
 * it is, and again with its last four bytes replaced by the right CRC-32
 * of the rest, so that mutated fields get past the checksum to the checks
 * behind it.
 */
#ifndef MLP_FUZZ_RESEAL_H
#define MLP_FUZZ_RESEAL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* CRC-32 (IEEE, reflected), bit by bit: an independent implementation of
 * the formats' checksum. */
static inline uint32_t reseal_crc32(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t k = 0; k < n; k++) {
        crc ^= p[k];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* Runs try_load on data as it is, then on a copy with a valid checksum. */
static inline void try_as_is_and_resealed(const uint8_t *data, size_t size,
                                          void (*try_load)(const uint8_t *, size_t))
{
    try_load(data, size);
    if (size < 4)
        return;
    uint8_t *sealed = malloc(size);
    if (!sealed)
        return;
    memcpy(sealed, data, size);
    uint32_t crc = reseal_crc32(sealed, size - 4);
    for (int k = 0; k < 4; k++)
        sealed[size - 4 + k] = (uint8_t)(crc >> (8 * k));
    try_load(sealed, size);
    free(sealed);
}

#endif
