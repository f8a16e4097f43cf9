/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the weights-file reader of rdma-ps --init-weights
 * (src/cmd/weights_file.c): see README.md.
 *
 * Each input is parsed as it is, by cmd_weights_parse() and by
 * cmd_weights_read() through a memfd, which must agree; then with its
 * count and CRC made right, so that mutations get past the size and CRC
 * checks to the version, header size, reserved and finite checks behind
 * them.  What a parse accepts must keep the format's contract (the count
 * the size gives, finite weights, the CRC of the payload) and, encoded
 * again, give back the input byte for byte: the format has one encoding.
 *
 * Built with -DFUZZ_WEIGHTS_MAKE_CORPUS instead, it writes the seeds.
 */
#define _GNU_SOURCE /* memfd_create */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cmd/weights_file.h"
#include "util/le.h"

#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* little-endian stores at p, through util/le.h's cursors */
static void set_le32(uint8_t *p, uint32_t v)
{
	put_u32(&(wcur_t){ p }, v);
}

static void set_le64(uint8_t *p, uint64_t v)
{
	put_u64(&(wcur_t){ p }, v);
}

/* The one encoding of count weights: a malloc'ed buffer of 32 + 4 * count
 * bytes, written here on its own (zlib's crc32, byte by byte) so that it
 * checks the reader rather than sharing its code. */
static uint8_t *encode(const float *w, uint64_t count, size_t *len_p)
{
	size_t len = CMD_WEIGHTS_HEADER_LEN + 4 * (size_t)count;
	uint8_t *b = malloc(len);

	if (!b)
		abort();
	memcpy(b, CMD_WEIGHTS_MAGIC, 8);
	set_le32(b + 8, CMD_WEIGHTS_VERSION);
	set_le32(b + 12, CMD_WEIGHTS_HEADER_LEN);
	set_le64(b + 16, count);
	for (uint64_t i = 0; i < count; i++) {
		uint32_t v;

		memcpy(&v, &w[i], 4);
		set_le32(b + CMD_WEIGHTS_HEADER_LEN + 4 * i, v);
	}
	set_le32(b + 24, (uint32_t)crc32(0, b + CMD_WEIGHTS_HEADER_LEN, (uInt)(4 * count)));
	set_le32(b + 28, 0);
	*len_p = len;
	return b;
}

/* ---- seed corpus --------------------------------------------------------- */
#ifdef FUZZ_WEIGHTS_MAKE_CORPUS

static int seed(const char *dir, const char *name, const float *w, uint64_t count)
{
	char path[4096];
	size_t len;
	uint8_t *b = encode(w, count, &len);
	FILE *fp;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	ret = !fp || fwrite(b, 1, len, fp) != len;
	if (fp && fclose(fp))
		ret = 1;
	free(b);
	return ret;
}

int main(int argc, char **argv)
{
	static const float five[5] = { 0.5f, -1.0f, 2.0f, 0.0f, 1e-3f };
	float mixed[64];
	uint8_t hdr[CMD_WEIGHTS_HEADER_LEN];
	char path[4096];
	size_t len;
	uint8_t *b;
	FILE *fp;
	int ret = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < 64; i++) /* signs, -0, subnormals, extremes */
		mixed[i] = (i % 2 ? -1.0f : 1.0f) * ldexpf(1.0f + (float)i / 64, 4 * i - 140);
	mixed[1] = -0.0f;
	mixed[2] = 3.4028235e38f;
	ret |= seed(argv[1], "one", five, 1);
	ret |= seed(argv[1], "five", five, 5);
	ret |= seed(argv[1], "mixed-64", mixed, 64);
	/* a header alone: count 0, which the reader refuses */
	b = encode(five, 0, &len);
	memcpy(hdr, b, sizeof(hdr));
	free(b);
	snprintf(path, sizeof(path), "%s/header-only", argv[1]);
	fp = fopen(path, "wb");
	ret |= !fp || fwrite(hdr, 1, sizeof(hdr), fp) != sizeof(hdr);
	if (fp && fclose(fp))
		ret = 1;
	return ret ? 1 : 0;
}

#else /* the fuzz target */

static int memfd = -1;
static char memfd_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = fuzz_memfd_open("fuzz-weights", memfd_path, sizeof(memfd_path));
	return 0;
}

/* A refusal: nothing handed out, one line of reason. */
static void check_refusal(int ret, const float *w, const char *why)
{
	CHECK(ret == -EINVAL || ret == -ENOMEM);
	CHECK(w == NULL);
	CHECK(why[0] != '\0');
	CHECK(strchr(why, '\n') == NULL);
}

/* What a successful parse hands out keeps the contract and encodes back
 * to the input. */
static void check_result(const uint8_t *in, size_t len, const float *w, uint64_t count)
{
	uint32_t crc;
	size_t back_len;
	uint8_t *back;

	CHECK(len >= CMD_WEIGHTS_HEADER_LEN + 4);
	CHECK(count >= 1 && count <= CMD_WEIGHTS_MAX_COUNT);
	CHECK(count == (len - CMD_WEIGHTS_HEADER_LEN) / 4);
	CHECK(CMD_WEIGHTS_HEADER_LEN + 4 * count == len);
	for (uint64_t i = 0; i < count; i++)
		CHECK(isfinite(w[i]));
	crc = (uint32_t)in[24] | (uint32_t)in[25] << 8 | (uint32_t)in[26] << 16 |
	      (uint32_t)in[27] << 24;
	CHECK(crc == (uint32_t)crc32(0, in + CMD_WEIGHTS_HEADER_LEN, (uInt)(len - 32)));
	back = encode(w, count, &back_len);
	CHECK(back_len == len);
	CHECK(memcmp(back, in, len) == 0);
	free(back);
}

/* The buffer parser, then (when file is set) the file reader on the same
 * bytes: both accept with the same weights, or both refuse. */
static void parse_one(const uint8_t *data, size_t size, int file)
{
	char why[CMD_WEIGHTS_WHY_LEN] = "", fwhy[CMD_WEIGHTS_WHY_LEN] = "";
	float *w = NULL, *fw = NULL;
	uint64_t count = 0, fcount = 0;
	int ret, fret;

	ret = cmd_weights_parse(data, size, &w, &count, why, sizeof(why));
	if (ret)
		check_refusal(ret, w, why);
	else
		check_result(data, size, w, count);
	if (file) {
		fuzz_memfd_put(memfd, data, size);
		fret = cmd_weights_read(memfd_path, &fw, &fcount, fwhy, sizeof(fwhy));
		CHECK(fret == ret);
		if (fret) {
			check_refusal(fret, fw, fwhy);
			/* the file's reason is the buffer's, after the path */
			CHECK(strncmp(fwhy, memfd_path, strlen(memfd_path)) == 0);
			CHECK(strncmp(fwhy + strlen(memfd_path), ": ", 2) == 0);
			CHECK(strcmp(fwhy + strlen(memfd_path) + 2, why) == 0);
		} else {
			CHECK(fcount == count);
			CHECK(memcmp(fw, w, 4 * (size_t)count) == 0);
		}
		free(fw);
	}
	free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;

	parse_one(data, size, 1);
	if (size < CMD_WEIGHTS_HEADER_LEN)
		return 0;
	fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	if ((size - CMD_WEIGHTS_HEADER_LEN) % 4 == 0)
		set_le64(fixed + 16, (size - CMD_WEIGHTS_HEADER_LEN) / 4);
	set_le32(fixed + 24, (uint32_t)crc32(0, fixed + CMD_WEIGHTS_HEADER_LEN,
					     (uInt)(size - CMD_WEIGHTS_HEADER_LEN)));
	if (memcmp(fixed, data, size))
		parse_one(fixed, size, 0);
	free(fixed);
	return 0;
}

#endif
