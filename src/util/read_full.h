/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * read() until a length or the end of the file, for the readers of files
 * that hold a header and then a known number of bytes (checkpoints,
 * weights files).  Stateless: a program that needs it without the
 * library compiles its own copy, as for crc32.c.
 */
#ifndef RPS_UTIL_READ_FULL_H
#define RPS_UTIL_READ_FULL_H

#include <stdint.h>

/* Reads up to len bytes of fd into buf, retrying on EINTR and in pieces
 * read() accepts; *got_p says how many came (less than len at the end
 * of the file).  0 or -errno of the read that failed. */
int rps_read_full(int fd, void *buf, uint64_t len, uint64_t *got_p);

#endif /* RPS_UTIL_READ_FULL_H */
