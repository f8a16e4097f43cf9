/* SPDX-License-Identifier: BSD-2-Clause */
/* Weights files: see weights_file.h for the layout and the contracts. */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/weights_file.h"
#include "util/crc32.h"
#include "util/read_full.h"
#include "util/le.h"

static_assert(sizeof(float) == sizeof(uint32_t), "weights are stored as their IEEE-754 bits");
static_assert(sizeof(CMD_WEIGHTS_MAGIC) == 8 + 1, "the magic is 8 bytes");

/* one reason, before the path is put in front of it */
#define WT_REASON_LEN 256

static void wt_why(char *why, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void wt_why(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !why_len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

/*
 * The header, of which avail bytes are there, of a file of total bytes.
 * Checks in the order that gives the most useful reason: a file that is
 * not a weights file at all is "bad magic" even when short, one from a
 * newer writer is "version N", and only a header that parses can say how
 * long the file must be.
 */
static int wt_header_parse(const uint8_t *hdr, size_t avail, uint64_t total, uint64_t *count_p,
			   uint32_t *crc_p, char *why, size_t why_len)
{
	rcur_t c = { hdr + 8 };
	uint32_t version, hdr_len, crc, reserved;
	uint64_t count, need;

	if (avail && memcmp(hdr, CMD_WEIGHTS_MAGIC, avail < 8 ? avail : 8) != 0) {
		wt_why(why, why_len, "not an rdmaps weights file (bad magic)");
		return -EINVAL;
	}
	if (avail < CMD_WEIGHTS_HEADER_LEN) {
		wt_why(why, why_len, "truncated: %llu bytes, the header needs %d",
		       (unsigned long long)total, CMD_WEIGHTS_HEADER_LEN);
		return -EINVAL;
	}
	version = get_u32(&c);
	hdr_len = get_u32(&c);
	count = get_u64(&c);
	crc = get_u32(&c);
	reserved = get_u32(&c);
	if (version != CMD_WEIGHTS_VERSION) {
		wt_why(why, why_len, "version %u, this build reads %d", version,
		       CMD_WEIGHTS_VERSION);
		return -EINVAL;
	}
	if (hdr_len != CMD_WEIGHTS_HEADER_LEN) {
		wt_why(why, why_len, "header size %u, expected %d", hdr_len,
		       CMD_WEIGHTS_HEADER_LEN);
		return -EINVAL;
	}
	if (reserved) {
		wt_why(why, why_len, "reserved header field not zero");
		return -EINVAL;
	}
	if (!count) {
		wt_why(why, why_len, "count 0: the file must hold at least one weight");
		return -EINVAL;
	}
	if (count > CMD_WEIGHTS_MAX_COUNT) {
		wt_why(why, why_len, "count %llu, above the limit of %llu weights",
		       (unsigned long long)count, (unsigned long long)CMD_WEIGHTS_MAX_COUNT);
		return -EINVAL;
	}
	need = CMD_WEIGHTS_HEADER_LEN + 4 * count; /* count <= 2^36: no overflow */
	if (total != need) {
		wt_why(why, why_len, "%s: %llu bytes, count %llu needs exactly %llu",
		       total < need ? "truncated" : "trailing bytes", (unsigned long long)total,
		       (unsigned long long)count, (unsigned long long)need);
		return -EINVAL;
	}
	*count_p = count;
	*crc_p = crc;
	return 0;
}

/* count weights as they are in the file (little-endian bytes) at w: the
 * CRC, then decoded in place, then each checked */
static int wt_payload_check(float *w, uint64_t count, uint32_t crc, char *why, size_t why_len)
{
	const uint8_t *b = (const uint8_t *)w;
	/* rps_crc32 takes any length; count * 4 fits size_t (wt_alloc) */
	uint32_t got = rps_crc32(0, b, (size_t)count * 4);

	if (got != crc) {
		wt_why(why, why_len,
		       "CRC mismatch: the header says 0x%08x, the weights give 0x%08x", crc, got);
		return -EINVAL;
	}
	for (uint64_t i = 0; i < count; i++) {
		rcur_t c = { b + 4 * i };

		w[i] = get_f32(&c);
		if (!isfinite(w[i])) {
			wt_why(why, why_len, "weight %llu of %llu is not finite (%g)",
			       (unsigned long long)i, (unsigned long long)count, (double)w[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* count floats, or NULL after saying why */
static float *wt_alloc(uint64_t count, char *why, size_t why_len)
{
	float *w = count <= SIZE_MAX / 4 ? malloc((size_t)count * 4) : NULL;

	if (!w)
		wt_why(why, why_len, "cannot allocate %llu weights: %s", (unsigned long long)count,
		       strerror(ENOMEM));
	return w;
}

int cmd_weights_parse(const void *buf, size_t len, float **w_p, uint64_t *count_p, char *why,
		      size_t why_len)
{
	const uint8_t *b = buf;
	uint64_t count = 0;
	uint32_t crc = 0;
	float *w;
	int ret;

	if (!b && len) {
		wt_why(why, why_len, "no buffer");
		return -EINVAL;
	}
	if ((ret = wt_header_parse(b, len < CMD_WEIGHTS_HEADER_LEN ? len : CMD_WEIGHTS_HEADER_LEN,
				   len, &count, &crc, why, why_len)))
		return ret;
	if (!(w = wt_alloc(count, why, why_len)))
		return -ENOMEM;
	memcpy(w, b + CMD_WEIGHTS_HEADER_LEN, (size_t)count * 4);
	if ((ret = wt_payload_check(w, count, crc, why, why_len))) {
		free(w);
		return ret;
	}
	*w_p = w;
	*count_p = count;
	return 0;
}

/* ---- file --------------------------------------------------------------- */

/* Opens path, checks it is a regular file and reads the header (all of it
 * that is there: *avail_p bytes).  The fd, or a negative errno. */
static int wt_open(const char *path, uint8_t *hdr, size_t *avail_p, uint64_t *size_p, char *why,
		   size_t why_len)
{
	uint64_t got = 0;
	struct stat st;
	int fd, ret;

	/* O_NONBLOCK: a FIFO in the way must be refused, not waited on */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		wt_why(why, why_len, "cannot open: %s", strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		wt_why(why, why_len, "cannot stat: %s", strerror(-ret));
		goto close_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		wt_why(why, why_len, "not a regular file");
		goto close_fd;
	}
	if ((ret = rps_read_full(fd, hdr, CMD_WEIGHTS_HEADER_LEN, &got))) {
		wt_why(why, why_len, "cannot read: %s", strerror(-ret));
		goto close_fd;
	}
	*avail_p = (size_t)got;
	*size_p = (uint64_t)st.st_size;
	return fd;

close_fd:
	close(fd);
	return ret;
}

static int wt_read(const char *path, float **w_p, uint64_t *count_p, char *why, size_t why_len)
{
	uint8_t hdr[CMD_WEIGHTS_HEADER_LEN];
	uint64_t size = 0, count = 0, got = 0;
	size_t avail = 0;
	uint32_t crc = 0;
	float *w = NULL;
	int fd, ret;

	fd = wt_open(path, hdr, &avail, &size, why, why_len);
	if (fd < 0)
		return fd;
	if ((ret = wt_header_parse(hdr, avail, size, &count, &crc, why, why_len)))
		goto close_fd;
	if (!(w = wt_alloc(count, why, why_len))) {
		ret = -ENOMEM;
		goto close_fd;
	}
	if ((ret = rps_read_full(fd, w, 4 * count, &got))) {
		wt_why(why, why_len, "cannot read: %s", strerror(-ret));
		goto free_w;
	}
	if (got < 4 * count) {
		ret = -EINVAL;
		wt_why(why, why_len,
		       "truncated: the weights need %llu bytes, %llu came (file shrank)",
		       (unsigned long long)(4 * count), (unsigned long long)got);
		goto free_w;
	}
	if ((ret = wt_payload_check(w, count, crc, why, why_len)))
		goto free_w;
	close(fd);
	*w_p = w;
	*count_p = count;
	return 0;

free_w:
	free(w);
close_fd:
	close(fd);
	return ret;
}

int cmd_weights_read(const char *path, float **w_p, uint64_t *count_p, char *why, size_t why_len)
{
	char reason[WT_REASON_LEN] = "";
	int ret = wt_read(path, w_p, count_p, reason, sizeof(reason));

	if (ret)
		wt_why(why, why_len, "%s: %s", path, reason);
	return ret;
}
