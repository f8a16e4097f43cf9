/* SPDX-License-Identifier: BSD-2-Clause */
/* Checkpoint files: see checkpoint.h for the layout and the contracts. */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rdmaps/errno.h>

#include "ps/checkpoint.h"
#include "util/crc32.h"
#include "util/read_full.h"
#include "util/le.h"
#include "util/log.h"

/* magic 8, format 4, then ps_ckpt_meta_t field by field (algo 4,
 * num_workers 4, num_params 8, shard_offset 8, chunk_bytes 4, threads 4,
 * version 8, wall_time 8, six floats 4 each), nsections 4, CRC 4 */
#define RPS_CKPT_HEADER_LEN 92
static_assert(RPS_CKPT_HEADER_LEN == 8 + 4 + (4 + 4 + 8 + 8 + 4 + 4 + 8 + 8 + 6 * 4) + 4 + 4,
	      "checkpoint header length does not match its fields");
static_assert(sizeof(float) == sizeof(uint32_t), "floats are stored as their IEEE-754 bits");

/* "RPSCKPT" and its NUL: 8 bytes */
static const char ckpt_magic[8] = "RPSCKPT";

/* id u32, reserved u32, bytes u64, crc u32, pad u32 */
#define CKPT_SECTION_HDR_LEN 24
/* the part of a section header its CRC covers (id, reserved, bytes): the
 * CRC of the data alone would let a flipped id bit pass unnoticed */
#define CKPT_SECTION_CRC_HDR 16
/* write() moves at most ~2 GiB per call on Linux: files are written in
 * pieces of at most 1 GiB (reads: rps_read_full) */
#define CKPT_PIECE	     (1u << 30)

/* ---- shared helpers --------------------------------------------------------- */

static uint32_t ckpt_crc(uint32_t crc, const void *buf, uint64_t len)
{
	return rps_crc32(crc, buf, (size_t)len);
}

/* Data is padded to 8 bytes so that every section's data sits 8-byte
 * aligned in the blob (malloc'ed, so aligned) and u64 sections such as
 * PS_CKPT_PUSHES can be used in place.  Returns -1 when bytes + padding
 * would overflow (only a corrupt length can get there). */
static int ckpt_pad8(uint64_t bytes, uint64_t *padded_p)
{
	uint64_t padded;

	if (__builtin_add_overflow(bytes, 7, &padded))
		return -1;
	*padded_p = padded & ~(uint64_t)7;
	return 0;
}

static void ckpt_log(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The one line of a failure: "checkpoint PATH: <why>". */
static void ckpt_log(const char *path, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	rps_err("checkpoint %s: %s", path, why);
}

static void ckpt_section_hdr_encode(uint8_t out[CKPT_SECTION_HDR_LEN], const ps_ckpt_section_t *s)
{
	wcur_t c = { out };
	uint32_t crc;

	put_u32(&c, s->id);
	put_u32(&c, 0); /* reserved */
	put_u64(&c, s->bytes);
	crc = ckpt_crc(0, out, CKPT_SECTION_CRC_HDR);
	put_u32(&c, ckpt_crc(crc, s->data, s->bytes));
	put_u32(&c, 0); /* pad */
}

/* ---- write -------------------------------------------------------------------- */

static void ckpt_header_encode(uint8_t out[RPS_CKPT_HEADER_LEN], const ps_ckpt_meta_t *m,
			       uint32_t nsections)
{
	wcur_t c = { out };

	put_bytes(&c, ckpt_magic, sizeof(ckpt_magic));
	put_u32(&c, RPS_CKPT_FORMAT);
	put_u32(&c, m->algo);
	put_u32(&c, m->num_workers);
	put_u64(&c, m->num_params);
	put_u64(&c, m->shard_offset);
	put_u32(&c, m->chunk_bytes);
	put_u32(&c, m->threads);
	put_u64(&c, m->version);
	put_u64(&c, m->wall_time);
	put_f32(&c, m->lr);
	put_f32(&c, m->momentum);
	put_f32(&c, m->weight_decay);
	put_f32(&c, m->lambda);
	put_f32(&c, m->ms_decay);
	put_f32(&c, m->theta);
	put_u32(&c, nsections);
	put_u32(&c, ckpt_crc(0, out, (uint64_t)(c.p - out)));
	assert(c.p - out == RPS_CKPT_HEADER_LEN);
}

/* Refuses what the reader would refuse, so that a write that succeeds
 * always produces a file that reads back. */
static int ckpt_check_args(const char *path, const ps_ckpt_meta_t *meta,
			   const ps_ckpt_section_t *sections, uint32_t nsections)
{
	uint64_t total = RPS_CKPT_HEADER_LEN;

	if (!meta || (nsections && !sections)) {
		ckpt_log(path, "no %s given: %s", meta ? "sections" : "meta", rps_strerror(EINVAL));
		return -EINVAL;
	}
	if (nsections > RPS_CKPT_MAX_SECTIONS) {
		ckpt_log(path, "%u sections, the limit is %u: %s", nsections, RPS_CKPT_MAX_SECTIONS,
			 rps_strerror(EINVAL));
		return -EINVAL;
	}
	for (uint32_t k = 0; k < nsections; k++) {
		const ps_ckpt_section_t *s = &sections[k];
		uint64_t padded = 0;

		if (!s->data && s->bytes) {
			ckpt_log(path, "section %u (id %u): no data for %llu bytes: %s", k, s->id,
				 (unsigned long long)s->bytes, rps_strerror(EINVAL));
			return -EINVAL;
		}
		for (uint32_t j = 0; j < k; j++) {
			if (sections[j].id == s->id) {
				ckpt_log(path,
					 "section %u (id %u): id already used by section %u: %s", k,
					 s->id, j, rps_strerror(EINVAL));
				return -EINVAL;
			}
		}
		/* each term <= the limit keeps the sum of at most 64 sections
		 * far from overflowing */
		if (s->bytes <= RPS_CKPT_MAX_BYTES && !ckpt_pad8(s->bytes, &padded))
			total += CKPT_SECTION_HDR_LEN + padded;
		if (s->bytes > RPS_CKPT_MAX_BYTES || total > RPS_CKPT_MAX_BYTES) {
			ckpt_log(path, "section %u (id %u): the file would exceed %llu bytes: %s",
				 k, s->id, (unsigned long long)RPS_CKPT_MAX_BYTES,
				 rps_strerror(EFBIG));
			return -EFBIG;
		}
	}
	return 0;
}

/* write() until done: short writes and EINTR are not errors */
static int ckpt_write_full(int fd, const void *buf, uint64_t len)
{
	const uint8_t *p = buf;

	while (len) {
		size_t piece = len < CKPT_PIECE ? (size_t)len : CKPT_PIECE;
		ssize_t n = write(fd, p, piece);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) /* not expected from a regular file: do not spin */
			return -EIO;
		p += n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int ckpt_write_contents(int fd, const ps_ckpt_meta_t *meta,
			       const ps_ckpt_section_t *sections, uint32_t nsections)
{
	static const uint8_t zeros[8];
	uint8_t hdr[RPS_CKPT_HEADER_LEN];
	int ret;

	ckpt_header_encode(hdr, meta, nsections);
	if ((ret = ckpt_write_full(fd, hdr, sizeof(hdr))))
		return ret;
	for (uint32_t k = 0; k < nsections; k++) {
		const ps_ckpt_section_t *s = &sections[k];
		uint8_t shdr[CKPT_SECTION_HDR_LEN];
		uint64_t padded = 0;

		ckpt_section_hdr_encode(shdr, s);
		(void)ckpt_pad8(s->bytes, &padded); /* checked by ckpt_check_args */
		if ((ret = ckpt_write_full(fd, shdr, sizeof(shdr))) ||
		    (ret = ckpt_write_full(fd, s->data, s->bytes)) ||
		    (ret = ckpt_write_full(fd, zeros, padded - s->bytes)))
			return ret;
	}
	return 0;
}

/* The rename is only durable once the directory entry is on disk. */
static int ckpt_fsync_dir(const char *path)
{
	char *copy = strdup(path); /* dirname() may modify its argument */
	int fd, ret = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return ret;
}

/* Writes tmp completely and durably, or removes it: *what_p says which
 * step failed. */
static int ckpt_write_tmp(const char *tmp, const ps_ckpt_meta_t *meta,
			  const ps_ckpt_section_t *sections, uint32_t nsections,
			  const char **what_p)
{
	int fd, ret;

	/* 0600: parameters are the user's data, whatever the umask */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		*what_p = "cannot create the .tmp file";
		return -errno;
	}
	*what_p = "cannot write the .tmp file";
	ret = ckpt_write_contents(fd, meta, sections, nsections);
	if (!ret && fsync(fd)) {
		ret = -errno;
		*what_p = "cannot fsync the .tmp file";
	}
	/* close() reports delayed write errors (NFS): a failed close means
	 * the data may not be there */
	if (close(fd) && !ret) {
		ret = -errno;
		*what_p = "cannot close the .tmp file";
	}
	if (ret)
		unlink(tmp);
	return ret;
}

int ps_ckpt_write(const char *path, const ps_ckpt_meta_t *meta, const ps_ckpt_section_t *sections,
		  uint32_t nsections)
{
	const char *what = NULL;
	char *tmp;
	int ret;

	if (!path) {
		rps_err("checkpoint: no path given");
		return -EINVAL;
	}
	if ((ret = ckpt_check_args(path, meta, sections, nsections)))
		return ret;
	tmp = malloc(strlen(path) + sizeof(".tmp"));
	if (!tmp) {
		ckpt_log(path, "cannot allocate the .tmp name: %s", rps_strerror(ENOMEM));
		return -ENOMEM;
	}
	strcpy(tmp, path);
	strcat(tmp, ".tmp");

	ret = ckpt_write_tmp(tmp, meta, sections, nsections, &what);
	if (!ret && rename(tmp, path)) {
		ret = -errno;
		what = "cannot rename the .tmp file over it";
		unlink(tmp);
	} else if (!ret && (ret = ckpt_fsync_dir(path))) {
		/* the new file is in place, but may not survive a crash:
		 * the caller still has to hear about it */
		what = "cannot fsync its directory";
	}
	free(tmp);
	if (ret)
		ckpt_log(path, "%s: %s", what, rps_strerror(ret));
	return ret;
}

/* ---- read --------------------------------------------------------------------- */

/* Checks in the order that gives the most useful reason: a file that is
 * not a checkpoint at all is "bad magic", one from a newer build is
 * "format N" (its header may not even have the same length), and only
 * then is the CRC meaningful. */
static int ckpt_header_decode(const char *path, const uint8_t *hdr, ps_ckpt_meta_t *m,
			      uint32_t *nsections_p)
{
	rcur_t c = { hdr + sizeof(ckpt_magic) };
	uint32_t format, nsections, crc;

	if (memcmp(hdr, ckpt_magic, sizeof(ckpt_magic)) != 0) {
		ckpt_log(path, "not an rdmaps checkpoint (bad magic)");
		return -EINVAL;
	}
	format = get_u32(&c);
	if (format != RPS_CKPT_FORMAT) {
		ckpt_log(path, "format %u, this build reads %u", format, RPS_CKPT_FORMAT);
		return -EINVAL;
	}
	m->algo = get_u32(&c);
	m->num_workers = get_u32(&c);
	m->num_params = get_u64(&c);
	m->shard_offset = get_u64(&c);
	m->chunk_bytes = get_u32(&c);
	m->threads = get_u32(&c);
	m->version = get_u64(&c);
	m->wall_time = get_u64(&c);
	m->lr = get_f32(&c);
	m->momentum = get_f32(&c);
	m->weight_decay = get_f32(&c);
	m->lambda = get_f32(&c);
	m->ms_decay = get_f32(&c);
	m->theta = get_f32(&c);
	nsections = get_u32(&c);
	crc = ckpt_crc(0, hdr, (uint64_t)(c.p - hdr));
	if (get_u32(&c) != crc) {
		ckpt_log(path, "header CRC mismatch");
		return -EINVAL;
	}
	if (nsections > RPS_CKPT_MAX_SECTIONS) {
		ckpt_log(path, "%u sections, the limit is %u", nsections, RPS_CKPT_MAX_SECTIONS);
		return -EINVAL;
	}
	*nsections_p = nsections;
	return 0;
}

/* One section at blob + *off_p, of len bytes in all.  Every length comes
 * from the file, so each is compared with what remains before it is added
 * to anything. */
static int ckpt_section_parse(const char *path, const uint8_t *blob, uint64_t len, uint64_t *off_p,
			      uint32_t k, ps_ckpt_section_t *s)
{
	uint64_t remain = len - *off_p, bytes, padded;
	const uint8_t *hdr = blob + *off_p, *data;
	rcur_t c = { hdr };
	uint32_t id, reserved, crc, pad;

	if (remain < CKPT_SECTION_HDR_LEN) {
		ckpt_log(path, "truncated: section %u header needs %d bytes, %llu remain", k,
			 CKPT_SECTION_HDR_LEN, (unsigned long long)remain);
		return -EINVAL;
	}
	remain -= CKPT_SECTION_HDR_LEN;
	id = get_u32(&c);
	reserved = get_u32(&c);
	bytes = get_u64(&c);
	crc = get_u32(&c);
	pad = get_u32(&c);
	if (reserved || pad) {
		ckpt_log(path, "section %u (id %u): reserved fields not zero", k, id);
		return -EINVAL;
	}
	if (ckpt_pad8(bytes, &padded) || padded > remain) {
		ckpt_log(path, "truncated: section %u (id %u) needs %llu bytes, %llu remain", k, id,
			 (unsigned long long)bytes, (unsigned long long)remain);
		return -EINVAL;
	}
	data = c.p;
	if (ckpt_crc(ckpt_crc(0, hdr, CKPT_SECTION_CRC_HDR), data, bytes) != crc) {
		ckpt_log(path, "section %u (id %u): CRC mismatch", k, id);
		return -EINVAL;
	}
	/* not covered by the CRC: zero is the only value that leaves no bit
	 * of the file unchecked */
	for (uint64_t i = bytes; i < padded; i++) {
		if (data[i]) {
			ckpt_log(path, "section %u (id %u): padding not zero", k, id);
			return -EINVAL;
		}
	}
	*s = (ps_ckpt_section_t){ .id = id, .data = data, .bytes = bytes };
	*off_p += CKPT_SECTION_HDR_LEN + padded;
	return 0;
}

static int ckpt_sections_parse(const char *path, const uint8_t *blob, uint64_t len,
			       ps_ckpt_section_t *secs, uint32_t nsections)
{
	uint64_t off = 0;
	int ret;

	for (uint32_t k = 0; k < nsections; k++) {
		if ((ret = ckpt_section_parse(path, blob, len, &off, k, &secs[k])))
			return ret;
		for (uint32_t j = 0; j < k; j++) {
			if (secs[j].id == secs[k].id) {
				ckpt_log(path, "section %u (id %u): id already used by section %u",
					 k, secs[k].id, j);
				return -EINVAL;
			}
		}
	}
	if (off != len) {
		ckpt_log(path, "%llu trailing bytes after the last section",
			 (unsigned long long)(len - off));
		return -EINVAL;
	}
	return 0;
}

/* Opens path and checks it is a regular file of a plausible size. */
static int ckpt_open(const char *path, uint64_t *size_p)
{
	struct stat st;
	int fd, ret;

	/* O_NONBLOCK: a FIFO in the way must be refused, not waited on */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		ckpt_log(path, "cannot open: %s", rps_strerror(ret));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		ckpt_log(path, "cannot stat: %s", rps_strerror(ret));
		goto close_fd;
	}
	ret = -EINVAL;
	if (!S_ISREG(st.st_mode)) {
		ckpt_log(path, "not a regular file");
		goto close_fd;
	}
	if ((uint64_t)st.st_size > RPS_CKPT_MAX_BYTES || (uint64_t)st.st_size > SIZE_MAX) {
		ckpt_log(path, "%llu bytes, above the limit of %llu",
			 (unsigned long long)st.st_size, (unsigned long long)RPS_CKPT_MAX_BYTES);
		goto close_fd;
	}
	if (st.st_size < RPS_CKPT_HEADER_LEN) {
		ckpt_log(path, "truncated: %llu bytes, the header needs %d",
			 (unsigned long long)st.st_size, RPS_CKPT_HEADER_LEN);
		goto close_fd;
	}
	*size_p = (uint64_t)st.st_size;
	return fd;

close_fd:
	close(fd);
	return ret;
}

/* Reads exactly len bytes: fewer means the file shrank after fstat. */
static int ckpt_read_part(const char *path, int fd, void *buf, uint64_t len, const char *what)
{
	uint64_t got = 0;
	int ret = rps_read_full(fd, buf, len, &got);

	if (ret) {
		ckpt_log(path, "cannot read the %s: %s", what, rps_strerror(ret));
		return ret;
	}
	if (got < len) {
		ckpt_log(path, "truncated: the %s needs %llu bytes, %llu remain (file shrank)",
			 what, (unsigned long long)len, (unsigned long long)got);
		return -EINVAL;
	}
	return 0;
}

int ps_ckpt_read(const char *path, ps_ckpt_meta_t *meta_p, ps_ckpt_section_t **sections_p,
		 uint32_t *nsections_p, void **blob_p)
{
	uint8_t hdr[RPS_CKPT_HEADER_LEN];
	ps_ckpt_section_t *secs = NULL;
	uint8_t *blob = NULL;
	ps_ckpt_meta_t meta;
	uint32_t nsections;
	uint64_t size = 0, len;
	int fd, ret;

	fd = ckpt_open(path, &size);
	if (fd < 0)
		return fd;
	if ((ret = ckpt_read_part(path, fd, hdr, sizeof(hdr), "header")) ||
	    (ret = ckpt_header_decode(path, hdr, &meta, &nsections)))
		goto close_fd;

	/* The whole rest at once: one allocation the caller frees, and no
	 * section is handed out before every one has been checked. */
	len = size - RPS_CKPT_HEADER_LEN;
	blob = malloc(len ? (size_t)len : 1);
	secs = malloc((nsections ? nsections : 1) * sizeof(*secs));
	if (!blob || !secs) {
		ret = -ENOMEM;
		ckpt_log(path, "cannot allocate %llu bytes: %s", (unsigned long long)len,
			 rps_strerror(ret));
		goto free_all;
	}
	if ((ret = ckpt_read_part(path, fd, blob, len, "sections")) ||
	    (ret = ckpt_sections_parse(path, blob, len, secs, nsections)))
		goto free_all;
	close(fd);
	*meta_p = meta;
	*sections_p = secs;
	*nsections_p = nsections;
	*blob_p = blob;
	return 0;

free_all:
	free(secs);
	free(blob);
close_fd:
	close(fd);
	return ret;
}

const ps_ckpt_section_t *ps_ckpt_find(const ps_ckpt_section_t *sections, uint32_t nsections,
				      uint32_t id)
{
	for (uint32_t k = 0; sections && k < nsections; k++)
		if (sections[k].id == id)
			return &sections[k];
	return NULL;
}
