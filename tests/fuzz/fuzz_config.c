/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for configuration files: rps_opt_load_file()
 * (src/util/config_file.c) with the value parsers of src/util/opt.c; see
 * README.md.
 *
 * Each input is a config file (in a memfd, read through its
 * /proc/self/fd/N path) applied to a small option table: a string, a
 * number (rps_opt_u64), a size (rps_opt_size) and a flag.  Whatever the
 * file holds, every value the handlers received must be in its option's
 * range, a string value must be trimmed, non-empty and free of comment
 * and newline characters, and rps_opt_release_values() must free every
 * copy (libFuzzer's leak check runs after each input).  When a file
 * loads, the configuration written back as a file must load again to the
 * same values.
 */
#define _GNU_SOURCE /* memfd_create */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/opt.h"

#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define COUNT_MIN 1
#define COUNT_MAX 1000
#define CHUNK_MIN 4096
#define CHUNK_MAX (64u << 20)

typedef struct fuzz_cfg {
	const char *name;
	uint64_t count, chunk; /* 0 = not set */
	bool verbose;
} fuzz_cfg_t;

static int opt_name(void *cfg, const char *arg)
{
	((fuzz_cfg_t *)cfg)->name = arg;
	return 0;
}

static int opt_count(void *cfg, const char *arg)
{
	return rps_opt_u64("fuzz", "count", arg, COUNT_MIN, COUNT_MAX, &((fuzz_cfg_t *)cfg)->count);
}

static int opt_chunk(void *cfg, const char *arg)
{
	return rps_opt_size("fuzz", "chunk", arg, CHUNK_MIN, CHUNK_MAX,
			    &((fuzz_cfg_t *)cfg)->chunk);
}

static int opt_verbose(void *cfg, const char *arg)
{
	CHECK(arg == NULL); /* a flag's handler gets no argument */
	((fuzz_cfg_t *)cfg)->verbose = true;
	return 0;
}

static const rps_opt_t opts[] = {
	{ "name", 'n', "NAME", "a string", opt_name },
	{ "count", 'c', "N", "a number in 1..1000", opt_count },
	{ "chunk", 0, "SIZE", "a size in 4K..64M", opt_chunk },
	{ "verbose", 'v', NULL, "a flag", opt_verbose },
};

static const rps_opt_cmd_t cmd = { "fuzz", "[OPTIONS]", "fuzz_config's option table", opts,
				   sizeof(opts) / sizeof(opts[0]) };

static int memfd[2] = { -1, -1 };
static char memfd_path[2][64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The loader reports every bad line on stderr.  Pointing the stream
	 * (not fd 2, where the sanitizers report) at /dev/null keeps the
	 * fuzzer's output readable. */
	if (!getenv("FUZZ_VERBOSE") && !(stderr = fopen("/dev/null", "w")))
		abort();
	for (int i = 0; i < 2; i++) {
		memfd[i] = fuzz_memfd_open("fuzz-config", memfd_path[i], sizeof(memfd_path[i]));
	}
	return 0;
}

static void put_file(int k, const void *b, size_t len)
{
	fuzz_memfd_put(memfd[k], b, len);
}

static void check_cfg(const fuzz_cfg_t *c)
{
	CHECK(c->count == 0 || (c->count >= COUNT_MIN && c->count <= COUNT_MAX));
	CHECK(c->chunk == 0 || (c->chunk >= CHUNK_MIN && c->chunk <= CHUNK_MAX));
	if (c->name) {
		size_t len = strlen(c->name); /* ASan: the copy is still alive */

		CHECK(len > 0 && len <= 4096);
		CHECK(!isspace((unsigned char)c->name[0]) &&
		      !isspace((unsigned char)c->name[len - 1]));
		CHECK(!strchr(c->name, '#') && !strchr(c->name, '\n'));
	}
}

/* The configuration as a file, loaded again, gives the same values. */
static void check_round_trip(const fuzz_cfg_t *c)
{
	fuzz_cfg_t again = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	fprintf(f, "# written back by fuzz_config\n");
	/* no blanks around '=' here: a name that filled the 4096-byte line
	 * limit as "name=VALUE" must still fit (the other lines add them) */
	if (c->name)
		fprintf(f, "name=%s\n", c->name);
	if (c->count)
		fprintf(f, "count=%llu\n", (unsigned long long)c->count);
	if (c->chunk)
		fprintf(f, "  chunk\t= %llu # bytes\n", (unsigned long long)c->chunk);
	fprintf(f, "verbose = %s\n", c->verbose ? "true" : "false");
	if (fclose(f))
		abort();
	put_file(1, text, len);
	free(text);
	CHECK(rps_opt_load_file(&cmd, &again, memfd_path[1]) == 0);
	CHECK(again.count == c->count && again.chunk == c->chunk && again.verbose == c->verbose);
	CHECK(!again.name == !c->name && (!c->name || strcmp(again.name, c->name) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_cfg_t cfg = { 0 };
	int ret;

	put_file(0, data, size);
	ret = rps_opt_load_file(&cmd, &cfg, memfd_path[0]);
	CHECK(ret == 0 || ret == -EINVAL || ret == -ENOMEM || ret == -EIO);
	check_cfg(&cfg);
	if (ret == 0)
		check_round_trip(&cfg);
	rps_opt_release_values();
	return 0;
}
