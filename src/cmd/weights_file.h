/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Weights files (rdma-ps --init-weights FILE): the initial weights of a
 * model rdma-ps does not know, written by any program (python/rdmaps/
 * initfile.py is one).  Read all-or-nothing: a file that is truncated,
 * corrupt or not a weights file is refused with a one-line reason and
 * nothing of it is used.  Private to src/cmd; tests/fuzz/fuzz_weights.c
 * fuzzes the buffer parser.
 *
 * Layout, all little-endian (the contract is in rdma-ps(8), WEIGHTS FILE):
 *   0   8  magic "RDMAPSWT"
 *   8   4  u32 version = 1
 *   12  4  u32 header bytes = 32
 *   16  8  u64 count of floats, >= 1
 *   24  4  u32 CRC-32 (zlib's) of the count * 4 payload bytes
 *   28  4  u32 reserved = 0
 *   32  4 * count  float32 weights, every one finite
 * The file is exactly 32 + 4 * count bytes.
 */
#ifndef RPS_CMD_WEIGHTS_FILE_H
#define RPS_CMD_WEIGHTS_FILE_H

#include <stddef.h>
#include <stdint.h>

#define CMD_WEIGHTS_MAGIC      "RDMAPSWT" /* 8 bytes, no NUL in the file */
#define CMD_WEIGHTS_VERSION    1
#define CMD_WEIGHTS_HEADER_LEN 32
/* the largest model rdma-ps takes (--params' limit): 256 GiB of floats */
#define CMD_WEIGHTS_MAX_COUNT  (1ull << 36)
/* room for the reason of a refusal, with a path in front of it */
#define CMD_WEIGHTS_WHY_LEN    4352

/*
 * Parses and checks a whole weights file held in buf[0..len).  On success
 * *w_p is a malloc'ed array of *count_p floats (free it).  On failure
 * nothing is returned, why holds the reason in one line without a newline
 * (e.g. "CRC mismatch: ..."), and the return is -EINVAL for any malformed
 * content or -ENOMEM.
 */
int cmd_weights_parse(const void *buf, size_t len, float **w_p, uint64_t *count_p, char *why,
		      size_t why_len);

/*
 * The same for the file at path, read without holding a second copy of
 * the payload.  On failure why is "PATH: reason" and the return is a
 * negative errno: -ENOENT, -EACCES... (cannot open or read), -EINVAL
 * (malformed, or not a regular file), -ENOMEM.
 */
int cmd_weights_read(const char *path, float **w_p, uint64_t *count_p, char *why, size_t why_len);

#endif /* RPS_CMD_WEIGHTS_FILE_H */
