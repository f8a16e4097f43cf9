/* SPDX-License-Identifier: BSD-2-Clause */
/* IDX reader: see idx.h. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <rdmaps/errno.h>

#include "ml/dataset.h"
#include "ml/idx.h"
#include "util/log.h"

/* Big enough that gzread decompresses in long runs (the default 8 KiB
 * costs a visible fraction of the load time on the 47 MB training set). */
#define IDX_GZ_BUFFER  (128u * 1024u)
/* gzread takes an unsigned and returns an int: read in pieces below INT_MAX. */
#define IDX_READ_PIECE (1u << 30)

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Reads exactly len bytes.  Returns 0, or -EIO (logged) when the file ends
 * early or the gzip stream is corrupt; `what` names the part being read. */
static int idx_read_full(gzFile gz, const char *path, const char *what, uint8_t *buf, uint64_t len)
{
	uint64_t got = 0;

	while (got < len) {
		uint64_t want = len - got;
		int r = gzread(gz, buf + got,
			       (unsigned)(want < IDX_READ_PIECE ? want : IDX_READ_PIECE));

		if (r < 0) {
			int zerr;
			const char *msg = gzerror(gz, &zerr);

			rps_err("%s: cannot read the %s: %s", path, what,
				zerr == Z_ERRNO ? strerror(errno) : msg);
			return -EIO;
		}
		if (r == 0) {
			rps_err("%s: truncated: the %s needs %llu bytes, the file has %llu", path,
				what, (unsigned long long)len, (unsigned long long)got);
			return -EIO;
		}
		got += (uint64_t)r;
	}
	return 0;
}

static int idx_check_magic(const char *path, uint32_t ndims, const uint8_t *hdr)
{
	uint32_t want_magic = 0x00000800u | ndims;
	uint32_t magic = be32(hdr);

	if (magic != want_magic) {
		rps_err("%s: bad magic 0x%08x, expected 0x%08x (u8 IDX, %u dimension%s)", path,
			magic, want_magic, ndims, ndims == 1 ? "" : "s");
		return -EINVAL;
	}
	return 0;
}

static int idx_check_header(const char *path, uint32_t ndims, const uint8_t *hdr, uint32_t *dims,
			    uint64_t *total_p)
{
	uint64_t total = 1;

	for (uint32_t i = 0; i < ndims; i++) {
		dims[i] = be32(hdr + 4 + 4 * i);
		if (dims[i] == 0) {
			rps_err("%s: dimension %u is 0", path, i);
			return -EINVAL;
		}
		/* Each factor is < 2^32 and total stays <= 2^30 before it, so
		 * the product cannot overflow 64 bits. */
		total *= dims[i];
		if (total > RPS_IDX_MAX_BYTES) {
			rps_err("%s: dimensions exceed %llu bytes of data", path,
				(unsigned long long)RPS_IDX_MAX_BYTES);
			return -EINVAL;
		}
	}
	*total_p = total;
	return 0;
}

int rps_idx_read(const char *path, uint32_t ndims, uint32_t *dims, uint8_t **data_p)
{
	uint8_t hdr[4 + 4 * RPS_IDX_MAX_DIMS];
	uint32_t d[RPS_IDX_MAX_DIMS];
	uint8_t *data = NULL;
	uint64_t total;
	uint8_t extra;
	gzFile gz;
	int ret;

	if (ndims == 0 || ndims > RPS_IDX_MAX_DIMS)
		return -EINVAL;
	errno = 0;
	gz = gzopen(path, "rb");
	if (!gz) {
		/* gzopen leaves errno 0 when it failed for want of memory */
		ret = errno ? -errno : -ENOMEM;
		rps_err("%s: cannot open: %s", path, rps_strerror(ret));
		return ret;
	}
	gzbuffer(gz, IDX_GZ_BUFFER);

	/* the magic first: a wrong file is "bad magic", not "truncated" */
	ret = idx_read_full(gz, path, "magic", hdr, 4);
	if (ret)
		goto close_gz;
	ret = idx_check_magic(path, ndims, hdr);
	if (ret)
		goto close_gz;
	ret = idx_read_full(gz, path, "header", hdr + 4, 4 * (uint64_t)ndims);
	if (ret)
		goto close_gz;
	ret = idx_check_header(path, ndims, hdr, d, &total);
	if (ret)
		goto close_gz;

	data = malloc(total);
	if (!data) {
		rps_err("%s: cannot allocate %llu bytes", path, (unsigned long long)total);
		ret = -ENOMEM;
		goto close_gz;
	}
	ret = idx_read_full(gz, path, "data", data, total);
	if (ret)
		goto free_data;
	/* Trailing bytes mean the header does not describe the file: refuse
	 * rather than silently train on part of it. */
	ret = gzread(gz, &extra, 1);
	if (ret != 0) {
		int zerr;

		if (ret < 0) /* e.g. a bad CRC in the gzip trailer */
			rps_err("%s: corrupt after the data: %s", path, gzerror(gz, &zerr));
		else
			rps_err("%s: data continues past the %llu bytes the header declares", path,
				(unsigned long long)total);
		ret = ret < 0 ? -EIO : -EINVAL;
		goto free_data;
	}
	gzclose(gz);
	memcpy(dims, d, ndims * sizeof(*dims));
	*data_p = data;
	return 0;

free_data:
	free(data);
close_gz:
	gzclose(gz);
	return ret;
}
