/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the libFuzzer targets of tests/fuzz share: a check that reports on
 * fd 2 and aborts, files the readers open by path (a memfd seen through
 * /proc/self/fd), and a log handler that keeps the library quiet.
 * Include it after defining _GNU_SOURCE (memfd_create).
 */
#ifndef RPS_TESTS_FUZZ_UTIL_H
#define RPS_TESTS_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <rdmaps/log.h>

/* fd 2 directly: the report must get out even where stderr is redirected */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			dprintf(2, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);        \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A memfd named name and the path a reader opens it by; aborts when the
 * kernel refuses one (the target cannot run without it). */
static inline int fuzz_memfd_open(const char *name, char *path, size_t path_len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(path, path_len, "/proc/self/fd/%d", fd);
	return fd;
}

/* Makes the memfd's content exactly b[0..len). */
static inline void fuzz_memfd_put(int fd, const void *b, size_t len)
{
	if (ftruncate(fd, 0) || (len && pwrite(fd, b, len, 0) != (ssize_t)len))
		abort();
}

/* rps_log_set_handler(fuzz_log_drop, NULL): the readers explain every
 * refusal in the log, which would bury the fuzzer's own output. */
static inline void fuzz_log_drop(rps_log_level_t level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

#endif /* RPS_TESTS_FUZZ_UTIL_H */
