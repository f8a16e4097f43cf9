/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "util/read_full.h"

/* read(2) may return less than asked for above 2 GiB: ask for 1 GiB */
#define READ_PIECE (1u << 30)

int rps_read_full(int fd, void *buf, uint64_t len, uint64_t *got_p)
{
	uint8_t *p = buf;
	uint64_t got = 0;

	while (got < len) {
		uint64_t want = len - got;
		ssize_t n = read(fd, p + got, want < READ_PIECE ? (size_t)want : READ_PIECE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (uint64_t)n;
	}
	*got_p = got;
	return 0;
}
