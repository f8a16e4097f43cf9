/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Checkpoint files of the parameter server (checkpoint.c): a header that
 * says what the file holds (magic, format version, algorithm, layout),
 * then typed sections, each with its own CRC-32, and a CRC-32 over the
 * header.  Written atomically (temporary file, fsync, rename, fsync of
 * the directory), so a crash leaves either the old file or the new one;
 * read all-or-nothing, so a truncated or corrupt file is refused with a
 * one-line reason and nothing of it is used.  Not installed.
 *
 * File layout (all integers little-endian):
 *   header   RPS_CKPT_HEADER_LEN bytes: magic "RPSCKPT\0", format,
 *            the fields of ps_ckpt_meta_t, nsections, header CRC
 *   sections nsections x { id u32, reserved u32, bytes u64, crc u32,
 *            pad u32, data[bytes], zero padding to 8 bytes }
 */
#ifndef RPS_PS_CHECKPOINT_H
#define RPS_PS_CHECKPOINT_H

#include <stdint.h>

#define RPS_CKPT_FORMAT	      1
#define RPS_CKPT_MAX_SECTIONS 64
/* bound on what a reader allocates for one file (corrupt sizes) */
#define RPS_CKPT_MAX_BYTES    (1ull << 40)

typedef struct ps_ckpt_meta {
	uint32_t algo;	      /* rps_algo_t */
	uint32_t num_workers; /* M */
	uint64_t num_params;  /* n of this shard */
	uint64_t shard_offset;
	uint32_t chunk_bytes;
	uint32_t threads;   /* engine threads when written (informative) */
	uint64_t version;   /* server updates applied */
	uint64_t wall_time; /* seconds since the epoch, when written */
	/* hyper-parameters when written (informative: the command line of
	 * the resumed run decides) */
	float lr, momentum, weight_decay, lambda, ms_decay, theta;
} ps_ckpt_meta_t;

/* Section ids: what the data is.  Sizes are checked by the server
 * against its layout, not here. */
enum ps_ckpt_section_id {
	PS_CKPT_WEIGHTS = 1, /* W: n floats */
	PS_CKPT_STATE_A = 2, /* optimizer state array a: n floats */
	PS_CKPT_STATE_B = 3, /* optimizer state array b: n floats */
	PS_CKPT_PUSHES = 4,  /* per worker: completed pushes, M x u64 */
	/* reserved, not written: dude-asgd's per-worker latest gradients
	 * belong to connected workers, and a restarted server has none */
	PS_CKPT_DUDE_GRADS = 5,
	PS_CKPT_DUDE_PARITY = 6,
	/* ssgd: rounds applied per chunk (num_chunks x u64): a round is
	 * applied chunk by chunk, so a checkpoint can fall inside one */
	PS_CKPT_SSGD_ROUNDS = 7,
};

typedef struct ps_ckpt_section {
	uint32_t id;
	const void *data;
	uint64_t bytes;
} ps_ckpt_section_t;

/*
 * Writes meta and the sections to path atomically: path.tmp is written,
 * fsync'ed, renamed over path, then the directory is fsync'ed.  Returns 0
 * or a negative errno (logged with the path and the reason); on error
 * path is untouched and path.tmp removed.
 */
int ps_ckpt_write(const char *path, const ps_ckpt_meta_t *meta, const ps_ckpt_section_t *sections,
		  uint32_t nsections);

/*
 * Reads and verifies the whole file: magic, format, header CRC, every
 * section's bounds and CRC, no trailing bytes.  On success *meta_p is
 * filled, *sections_p is a malloc'ed array of *nsections_p sections whose
 * data point into *blob_p (one malloc'ed buffer): free both.  On failure
 * nothing is returned and the reason is logged in one line naming the
 * file: -ENOENT, -EACCES... (cannot open), -EINVAL for any malformed
 * content (bad magic, unknown format, CRC mismatch, truncated, sizes out
 * of range, trailing bytes), -ENOMEM.
 */
int ps_ckpt_read(const char *path, ps_ckpt_meta_t *meta_p, ps_ckpt_section_t **sections_p,
		 uint32_t *nsections_p, void **blob_p);

/* The section with this id, or NULL. */
const ps_ckpt_section_t *ps_ckpt_find(const ps_ckpt_section_t *sections, uint32_t nsections,
				      uint32_t id);

#endif /* RPS_PS_CHECKPOINT_H */
