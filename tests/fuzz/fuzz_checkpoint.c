/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for ps_ckpt_read() (src/ps/checkpoint.c): see README.md.
 *
 * Each input is read twice: as it is, and with its CRCs made right (the
 * header CRC, then each section's as far as the section walk can go), so
 * that mutations get past the CRC checks to the bounds, padding, duplicate
 * and trailing-bytes checks behind them.  A file that reads must also
 * come back byte for byte from ps_ckpt_write(): the encoding has exactly
 * one form (zero padding, zero reserved fields), which the reader has to
 * enforce.
 *
 * Built with -DFUZZ_CKPT_MAKE_CORPUS instead, it is the program that
 * writes the seed corpus with ps_ckpt_write().
 */
#define _GNU_SOURCE /* memfd_create */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <rdmaps/log.h>

#include "ps/checkpoint.h"

#include "fuzz_util.h"

/* private to checkpoint.c; pinned by tests/unit/test_checkpoint.c */
#define HEADER_LEN	92
#define SECTION_HDR_LEN 24

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- seed corpus --------------------------------------------------------- */
#ifdef FUZZ_CKPT_MAKE_CORPUS

static int seed(const char *dir, const char *name, const ps_ckpt_meta_t *m,
		const ps_ckpt_section_t *s, uint32_t n)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return ps_ckpt_write(path, m, s, n);
}

int main(int argc, char **argv)
{
	static const float w[5] = { 0.5f, -1.0f, 2.0f, 0.0f, 1e-3f };
	static const float a[5] = { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f };
	static const uint64_t pushes[3] = { 10, 11, 12 };
	static const int8_t parity[6] = { -1, 0, 0, -1, 0, 0 };
	ps_ckpt_meta_t m = { .algo = 1,
			     .num_workers = 3,
			     .num_params = 5,
			     .chunk_bytes = 4096,
			     .threads = 2,
			     .version = 123,
			     .wall_time = 1732500000,
			     .lr = 0.1f };
	ps_ckpt_section_t s[6] = {
		{ PS_CKPT_WEIGHTS, w, sizeof(w) },
		{ PS_CKPT_STATE_A, a, sizeof(a) },
		{ PS_CKPT_PUSHES, pushes, sizeof(pushes) },
		{ PS_CKPT_DUDE_PARITY, parity, sizeof(parity) },
		{ PS_CKPT_STATE_B, NULL, 0 },
		{ PS_CKPT_DUDE_GRADS, w, 4 },
	};
	int ret = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	ret |= seed(argv[1], "header-only", &m, NULL, 0);
	ret |= seed(argv[1], "weights", &m, s, 1);
	m.algo = 4;
	m.momentum = 0.9f;
	ret |= seed(argv[1], "sgd-momentum", &m, s, 3);
	m.algo = 7;
	m.lambda = 2.0f;
	m.theta = 0.5f;
	ret |= seed(argv[1], "dude", &m, s, 6);
	return ret ? 1 : 0;
}

#else /* the fuzz target */

static int memfd = -1;
static char memfd_path[64];
static char out_dir[64];

static void remove_out_dir(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/ckpt", out_dir);
	unlink(path);
	rmdir(out_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	rps_log_set_handler(fuzz_log_drop, NULL);
	memfd = fuzz_memfd_open("fuzz-ckpt", memfd_path, sizeof(memfd_path));
	snprintf(out_dir, sizeof(out_dir), "/dev/shm/fuzz-ckpt-XXXXXX");
	if (!mkdtemp(out_dir)) {
		perror("fuzz_checkpoint: mkdtemp");
		abort();
	}
	atexit(remove_out_dir);
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void set_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Makes the CRCs right as far as the layout allows; its own walk trusts
 * nothing (this is fuzzed input too). */
static void fix_crcs(uint8_t *b, size_t len)
{
	size_t off = HEADER_LEN;
	uint32_t n;

	if (len < HEADER_LEN)
		return;
	set_le32(b + HEADER_LEN - 4, (uint32_t)crc32(0, b, HEADER_LEN - 4));
	n = le32(b + HEADER_LEN - 8);
	for (uint32_t k = 0; k < n && len - off >= SECTION_HDR_LEN; k++) {
		uint64_t bytes = le32(b + off + 8) | (uint64_t)le32(b + off + 12) << 32;
		uint64_t remain = len - off - SECTION_HDR_LEN;
		uint32_t crc;

		if (bytes > remain)
			return;
		crc = (uint32_t)crc32(0, b + off, 16);
		crc = (uint32_t)crc32(crc, b + off + SECTION_HDR_LEN, (uInt)bytes);
		set_le32(b + off + 16, crc);
		bytes = (bytes + 7) & ~(uint64_t)7;
		if (bytes > remain)
			return;
		off += SECTION_HDR_LEN + bytes;
	}
}

/* What a successful read hands out must lie in the blob, and written back
 * it must give the same bytes. */
static void check_result(const uint8_t *in, size_t len, const ps_ckpt_meta_t *m,
			 const ps_ckpt_section_t *s, uint32_t n, const uint8_t *blob)
{
	char path[128];
	FILE *fp;
	uint8_t *back;
	size_t got;

	for (uint32_t k = 0; k < n; k++) {
		const uint8_t *d = s[k].data;

		if (s[k].bytes > len - HEADER_LEN || d < blob ||
		    d + s[k].bytes > blob + (len - HEADER_LEN) ||
		    ps_ckpt_find(s, n, s[k].id) != &s[k])
			__builtin_trap();
	}
	snprintf(path, sizeof(path), "%s/ckpt", out_dir);
	if (ps_ckpt_write(path, m, s, n))
		__builtin_trap();
	back = malloc(len + 1);
	fp = fopen(path, "rb");
	if (!back || !fp)
		__builtin_trap();
	got = fread(back, 1, len + 1, fp);
	fclose(fp);
	if (got != len || memcmp(back, in, len))
		__builtin_trap();
	free(back);
}

static void read_one(const uint8_t *data, size_t size)
{
	ps_ckpt_section_t *secs;
	ps_ckpt_meta_t meta;
	uint32_t n;
	void *blob;

	fuzz_memfd_put(memfd, data, size);
	if (ps_ckpt_read(memfd_path, &meta, &secs, &n, &blob) == 0) {
		check_result(data, size, &meta, secs, n, blob);
		free(secs);
		free(blob);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;

	read_one(data, size);
	fixed = malloc(size ? size : 1);
	if (!fixed)
		return 0;
	if (size)
		memcpy(fixed, data, size);
	fix_crcs(fixed, size);
	if (size && memcmp(fixed, data, size))
		read_one(fixed, size);
	free(fixed);
	return 0;
}

#endif
