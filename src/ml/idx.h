/* SPDX-License-Identifier: BSD-2-Clause */
/* The IDX file format (yann.lecun.com/exdb/mnist): a big-endian header,
 * magic 0x0000 TT NN (TT = 0x08 for u8, NN dimensions), then NN big-endian
 * u32 sizes, then the values row-major. */
#ifndef RPS_ML_IDX_H
#define RPS_ML_IDX_H

#include <stdint.h>

#define RPS_IDX_MAGIC_LABELS 0x00000801u
#define RPS_IDX_MAGIC_IMAGES 0x00000803u
#define RPS_IDX_MAX_DIMS     3u

/* Reads path (gzipped or plain) as a u8 IDX file of exactly ndims
 * dimensions (1..RPS_IDX_MAX_DIMS), each > 0, at most RPS_IDX_MAX_BYTES of
 * values and nothing after them.  On success sets dims[0..ndims) and
 * *data_p (malloc'ed).  Returns 0, -ENOENT, -EINVAL (header), -EIO (short
 * or corrupt file) or -ENOMEM, having logged the reason with the path. */
int rps_idx_read(const char *path, uint32_t ndims, uint32_t *dims, uint8_t **data_p);

#endif /* RPS_ML_IDX_H */
