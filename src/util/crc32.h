/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit for bit what
 * zlib's crc32() computes, for the checksums of checkpoint files.  Our
 * own so that librdmaps does not link zlib for one function (zlib is a
 * dependency of the dataset reader in src/ml, which only the programs
 * link); tests/unit/test_crc32.c pins it against zlib.
 */
#ifndef RPS_UTIL_CRC32_H
#define RPS_UTIL_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of buf continued from crc (0 to start), as zlib's
 * crc32(crc, buf, len) with any length. */
uint32_t rps_crc32(uint32_t crc, const void *buf, size_t len);

#endif /* RPS_UTIL_CRC32_H */
