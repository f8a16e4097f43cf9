/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the table-driven option parser (src/util/opt.c). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/opt.h"

struct cfg {
	uint64_t size, count;
	int verbose;
	const char *name;
};

static int h_size(void *c, const char *a)
{
	return rps_opt_size("t", "size", a, 1, 1ull << 30, &((struct cfg *)c)->size);
}

static int h_count(void *c, const char *a)
{
	return rps_opt_u64("t", "count", a, 0, 100, &((struct cfg *)c)->count);
}

static int h_verbose(void *c, const char *a)
{
	(void)a;
	((struct cfg *)c)->verbose++;
	return 0;
}

static int h_name(void *c, const char *a)
{
	((struct cfg *)c)->name = a;
	return 0;
}

static const rps_opt_t opts[] = {
	{ "size", 's', "BYTES", "bytes", h_size },
	{ "count", 'n', "N", "how many", h_count },
	{ "verbose", 'v', NULL, "more output", h_verbose },
	{ "name", 0, "NAME", "a name (long only)", h_name },
};
static const rps_opt_cmd_t cmd = { "t", "[OPTIONS] ARG", "test program", opts, 4 };

/* argv must be writable for getopt */
static int parse(struct cfg *c, int argc, const char **args)
{
	char *argv[16];

	for (int i = 0; i < argc; i++)
		argv[i] = (char *)args[i];
	argv[argc] = NULL;
	memset(c, 0, sizeof(*c));
	return rps_opt_parse(&cmd, c, argc, argv);
}

static void test_parse_long_short_and_operands(void **state)
{
	struct cfg c;
	const char *a[] = { "t", "--size=4K", "-n", "7", "-vv", "--name", "x", "op1" };

	(void)state;
	assert_int_equal(parse(&c, 8, a), 7);
	assert_int_equal(c.size, 4096);
	assert_int_equal(c.count, 7);
	assert_int_equal(c.verbose, 2);
	assert_string_equal(c.name, "x");
}

static void test_size_suffixes(void **state)
{
	struct cfg c;
	const char *ok[][2] = { { "1", "1" },		{ "64K", "65536" },   { "2M", "2097152" },
				{ "1G", "1073741824" }, { "1MB", "1048576" }, { "0x10", "16" } };

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const char *a[] = { "t", "-s", ok[i][0] };

		assert_int_equal(parse(&c, 3, a), 3);
		assert_int_equal(c.size, strtoull(ok[i][1], NULL, 10));
	}
}

static void test_bad_values_rejected(void **state)
{
	struct cfg c;
	const char *bad[][3] = {
		{ "t", "-s", "0" },			  /* below the minimum */
		{ "t", "-s", "2G" },			  /* above the maximum */
		{ "t", "-s", "12Q" },			  /* unknown suffix */
		{ "t", "-s", "-5" },			  /* negative */
		{ "t", "-n", "101" },			  /* out of range */
		{ "t", "-n", "1K" },			  /* suffix on a plain number */
		{ "t", "-n", "" },			  /* empty */
		{ "t", "--bogus", "1" },		  /* unknown option */
		{ "t", "--count=", "1" },		  /* empty value */
		{ "t", "99999999999999999999999", "-s" }, /* missing argument */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(&c, 3, bad[i]), -EINVAL);
}

/* rps_opt_u32: the range of rps_opt_u64, stored only when good */
static void test_u32(void **state)
{
	uint32_t v = 7;

	(void)state;
	assert_int_equal(rps_opt_u32("t", "n", "600000", 0, 600000, &v), 0);
	assert_int_equal(v, 600000);
	assert_int_equal(rps_opt_u32("t", "n", "4294967295", 0, UINT32_MAX, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	v = 7;
	assert_int_equal(rps_opt_u32("t", "n", "600001", 0, 600000, &v), -EINVAL);
	assert_int_equal(rps_opt_u32("t", "n", "0", 1, 10, &v), -EINVAL);
	assert_int_equal(rps_opt_u32("t", "n", "4294967296", 0, UINT32_MAX, &v), -EINVAL);
	assert_int_equal(rps_opt_u32("t", "n", "-1", 0, 10, &v), -EINVAL);
	assert_int_equal(v, 7);
}

static void test_help(void **state)
{
	struct cfg c;
	const char *a[] = { "t", "--help" };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_int_equal(parse(&c, 2, a), 0);
	rps_opt_print_help(&cmd, f);
	fclose(f);
	/* every option of the table is in the help, with its argument */
	assert_non_null(strstr(text, "-s, --size=BYTES"));
	assert_non_null(strstr(text, "-n, --count=N"));
	assert_non_null(strstr(text, "-v, --verbose"));
	assert_non_null(strstr(text, "--name=NAME"));
	assert_non_null(strstr(text, "Usage: t [OPTIONS] ARG"));
	free(text);
}

static void test_provider_names(void **state)
{
	const char *p = NULL;

	(void)state;
	assert_int_equal(rps_opt_provider("t", "verbs", &p), 0);
	assert_string_equal(p, "verbs");
	assert_int_equal(rps_opt_provider("t", "ofi", &p), 0);
	assert_int_equal(rps_opt_provider("t", "auto", &p), 0);
	p = NULL;
	assert_int_equal(rps_opt_provider("t", "psm3", &p), -EINVAL);
	assert_int_equal(rps_opt_provider("t", "", &p), -EINVAL);
	assert_null(p);
}

/* ---- configuration files ------------------------------------------ */

static char *write_tmp(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/rps-test-opt-%d.conf", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_config_file_applies_like_argv(void **state)
{
	struct cfg c = { 0 };
	char *path = write_tmp("# a comment\n\n  size = 2M   # trailing comment\n"
			       "count=9\nverbose = true\nname = x y\nverbose = false\n");

	(void)state;
	assert_int_equal(rps_opt_load_file(&cmd, &c, path), 0);
	assert_int_equal(c.size, 2u << 20);
	assert_int_equal(c.count, 9);
	assert_int_equal(c.verbose, 1); /* false leaves a flag alone */
	assert_string_equal(c.name, "x y");
	unlink(path);
	rps_opt_release_values();
}

static void test_config_file_command_line_wins(void **state)
{
	struct cfg c = { 0 };
	char *path = write_tmp("count = 9\nsize = 64K\n");
	const char *args[] = { "t", "-n", "3" };

	(void)state;
	/* the file first, then argv over it */
	assert_int_equal(rps_opt_load_file(&cmd, &c, path), 0);
	char *argv[] = { (char *)args[0], (char *)args[1], (char *)args[2], NULL };
	assert_int_equal(rps_opt_parse(&cmd, &c, 3, argv), 3);
	assert_int_equal(c.count, 3);
	assert_int_equal(c.size, 65536);
	unlink(path);
}

static void test_config_file_rejects(void **state)
{
	const char *bad[] = {
		"size 2M\n",		 /* no '=' */
		"bogus = 1\n",		 /* unknown key */
		"config = other.conf\n", /* no nesting */
		"count = 101\n",	 /* the handler's range check */
		"count =\n",		 /* no value */
		"verbose = maybe\n",	 /* flag value */
	};
	struct cfg c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *path = write_tmp(bad[i]);

		memset(&c, 0, sizeof(c));
		assert_int_equal(rps_opt_load_file(&cmd, &c, path), -EINVAL);
		unlink(path);
	}
	assert_int_equal(rps_opt_load_file(&cmd, &c, "/nonexistent/rps.conf"), -ENOENT);
	/* a line longer than the limit is refused, not split */
	char *longline = malloc(5000);
	memset(longline, 'a', 4999);
	longline[4999] = '\0';
	char *path = write_tmp(longline);
	assert_int_equal(rps_opt_load_file(&cmd, &c, path), -EINVAL);
	unlink(path);
	free(longline);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_long_short_and_operands),
		cmocka_unit_test(test_size_suffixes),
		cmocka_unit_test(test_bad_values_rejected),
		cmocka_unit_test(test_u32),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_provider_names),
		cmocka_unit_test(test_config_file_applies_like_argv),
		cmocka_unit_test(test_config_file_command_line_wins),
		cmocka_unit_test(test_config_file_rejects),
	};
	return cmocka_run_group_tests_name("option tables", tests, NULL, NULL);
}
