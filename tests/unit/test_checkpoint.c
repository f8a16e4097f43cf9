/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Checkpoint files: round trips, the byte layout, atomic replacement, and
 * every way a file is refused (each must leave the outputs untouched and
 * log exactly one line naming the file).  Each test runs in its own
 * mkdtemp directory, removed afterwards.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <rdmaps/log.h>

#include "ps/checkpoint.h"

/* RPS_CKPT_HEADER_LEN is private to checkpoint.c: pinned here, so a change
 * of the on-disk header cannot go unnoticed */
#define HEADER_LEN	92
#define HEADER_CRC_OFF	88
#define NSECTIONS_OFF	84
#define SECTION_HDR_LEN 24

typedef struct fixture {
	char dir[PATH_MAX / 2];
	char path[PATH_MAX];
} fixture_t;

/* ---- log capture: every refusal must be exactly one line ----------------- */

static int log_lines;
static char last_log[512];
/* which case of a loop failed */
static char test_ctx[64];

static void log_capture(rps_log_level_t level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	log_lines++;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

static void expect_one_log(const char *path, const char *what)
{
	char want[PATH_MAX + 16];

	assert_int_equal(log_lines, 1);
	snprintf(want, sizeof(want), "checkpoint %s: ", path);
	if (strncmp(last_log, want, strlen(want)) != 0 || !strstr(last_log, what))
		fail_msg("%slog line '%s' lacks '%s' or '%s'", test_ctx, last_log, want, what);
}

/* ---- fixture ------------------------------------------------------------- */

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	fixture_t *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/rps-test-checkpoint-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/ps.ckpt", f->dir);
	log_lines = 0;
	last_log[0] = '\0';
	test_ctx[0] = '\0';
	rps_log_set_handler(log_capture, NULL);
	*state = f;
	return 0;
}

/* the tests create only plain files and empty directories */
static int teardown(void **state)
{
	fixture_t *f = *state;
	char path[PATH_MAX + 256];
	struct dirent *e;
	DIR *d = opendir(f->dir);
	int ret = d ? 0 : -1;

	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", f->dir, e->d_name);
		ret |= remove(path); /* remove: test_failed_rename leaves an empty directory */
	}
	if (d)
		closedir(d);
	ret |= rmdir(f->dir);
	rps_log_set_handler(NULL, NULL);
	free(f);
	return ret;
}

/* ---- sample checkpoint: 4 sections, one empty, one of NaNs --------------- */

static const float sample_weights[3] = { 1.5f, -2.25f, 3.0f }; /* 12 bytes: padded */
static const uint64_t sample_pushes[2] = { 7, 0x0102030405060708ull };
/* a quiet NaN and a signalling NaN with payloads: bits must survive */
static const uint32_t sample_nan_bits[2] = { 0x7fc12345u, 0xffa00001u };

static float f32_bits(uint32_t v)
{
	float f;

	memcpy(&f, &v, sizeof(f));
	return f;
}

static ps_ckpt_meta_t sample_meta(void)
{
	return (ps_ckpt_meta_t){
		.algo = 6,
		.num_workers = 8,
		.num_params = 0x123456789ull,
		.shard_offset = 0xabcdef012ull,
		.chunk_bytes = 65536,
		.threads = 4,
		.version = 0xfedcba9876543210ull,
		.wall_time = 1732500000ull,
		.lr = 0.1f,
		.momentum = 0.9f,
		.weight_decay = 1e-4f,
		.lambda = 2.0f,
		.ms_decay = 0.95f,
		.theta = f32_bits(0x7fc0beefu),
	};
}

#define SAMPLE_NSECTIONS 4

static void sample_sections(ps_ckpt_section_t s[SAMPLE_NSECTIONS])
{
	s[0] = (ps_ckpt_section_t){ PS_CKPT_WEIGHTS, sample_weights, sizeof(sample_weights) };
	s[1] = (ps_ckpt_section_t){ PS_CKPT_STATE_A, NULL, 0 };
	s[2] = (ps_ckpt_section_t){ PS_CKPT_PUSHES, sample_pushes, sizeof(sample_pushes) };
	s[3] = (ps_ckpt_section_t){ PS_CKPT_STATE_B, sample_nan_bits, sizeof(sample_nan_bits) };
}

static void write_sample(const char *path)
{
	ps_ckpt_meta_t meta = sample_meta();
	ps_ckpt_section_t s[SAMPLE_NSECTIONS];

	sample_sections(s);
	assert_int_equal(ps_ckpt_write(path, &meta, s, SAMPLE_NSECTIONS), 0);
}

/* ---- raw file helpers ---------------------------------------------------- */

static uint8_t *slurp(const char *path, size_t *len_p)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 16);
	size_t len;

	assert_non_null(fp);
	assert_non_null(buf);
	len = fread(buf, 1, 1 << 16, fp);
	assert_true(feof(fp));
	fclose(fp);
	*len_p = len;
	return buf;
}

static void spit(const char *path, const uint8_t *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	if (len)
		assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void set_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void set_le64(uint8_t *p, uint64_t v)
{
	set_le32(p, (uint32_t)v);
	set_le32(p + 4, (uint32_t)(v >> 32));
}

static void fix_header_crc(uint8_t *buf)
{
	set_le32(buf + HEADER_CRC_OFF, (uint32_t)crc32(0, buf, HEADER_CRC_OFF));
}

/* file offset of section k of a well-formed file */
static size_t section_off(const uint8_t *buf, unsigned k)
{
	size_t off = HEADER_LEN;

	for (unsigned i = 0; i < k; i++)
		off += SECTION_HDR_LEN + ((le64(buf + off + 8) + 7) & ~7ull);
	return off;
}

/* the section CRC covers id, reserved, bytes, then the data */
static void fix_section_crc(uint8_t *buf, size_t off)
{
	uint32_t crc = (uint32_t)crc32(0, buf + off, 16);

	crc = (uint32_t)crc32(crc, buf + off + SECTION_HDR_LEN, (uInt)le64(buf + off + 8));
	set_le32(buf + off + 16, crc);
}

/* ---- refusal check: return code, outputs untouched, one log line -------- */

static void expect_refused(const char *path, int want, const char *why)
{
	ps_ckpt_meta_t meta, meta0;
	ps_ckpt_section_t *secs = (ps_ckpt_section_t *)(uintptr_t)0x5ec7;
	uint32_t nsecs = 0xdeadbeef;
	void *blob = (void *)(uintptr_t)0xb10b;
	int ret;

	memset(&meta, 0xa5, sizeof(meta));
	meta0 = meta;
	log_lines = 0;
	last_log[0] = '\0';
	ret = ps_ckpt_read(path, &meta, &secs, &nsecs, &blob);
	if (ret != want)
		fail_msg("%s%s: got %d, want %d (log: %s)", test_ctx, why, ret, want, last_log);
	assert_memory_equal(&meta, &meta0, sizeof(meta));
	assert_ptr_equal(secs, (void *)(uintptr_t)0x5ec7);
	assert_int_equal(nsecs, 0xdeadbeef);
	assert_ptr_equal(blob, (void *)(uintptr_t)0xb10b);
	expect_one_log(path, why);
}

/* writes buf to path and expects it refused with -EINVAL for `why` */
static void expect_bytes_refused(const char *path, const uint8_t *buf, size_t len, const char *why)
{
	spit(path, buf, len);
	expect_refused(path, -EINVAL, why);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---- round trips ----------------------------------------------------------- */

static void test_roundtrip(void **state)
{
	fixture_t *f = *state;
	ps_ckpt_meta_t meta = sample_meta(), got;
	ps_ckpt_section_t s[SAMPLE_NSECTIONS], *secs;
	uint32_t n;
	void *blob;

	sample_sections(s);
	assert_int_equal(ps_ckpt_write(f->path, &meta, s, SAMPLE_NSECTIONS), 0);
	assert_int_equal(ps_ckpt_read(f->path, &got, &secs, &n, &blob), 0);
	assert_int_equal(log_lines, 0);

	/* no padding in ps_ckpt_meta_t: memcmp compares every field, float
	 * bits included (theta is a NaN with a payload) */
	assert_int_equal(sizeof(meta), 72);
	assert_memory_equal(&got, &meta, sizeof(meta));
	assert_int_equal(n, SAMPLE_NSECTIONS);
	for (uint32_t k = 0; k < n; k++) {
		assert_int_equal(secs[k].id, s[k].id);
		assert_int_equal(secs[k].bytes, s[k].bytes);
		if (s[k].bytes)
			assert_memory_equal(secs[k].data, s[k].data, s[k].bytes);
		/* data lies in the blob, 8-byte aligned (u64 sections in place) */
		assert_true((const char *)secs[k].data >= (char *)blob);
		assert_int_equal((uintptr_t)secs[k].data % 8, 0);
	}
	free(secs);
	free(blob);
}

static void test_roundtrip_no_sections(void **state)
{
	fixture_t *f = *state;
	ps_ckpt_meta_t meta = sample_meta(), got;
	ps_ckpt_section_t *secs;
	struct stat st;
	uint32_t n = 99;
	void *blob;

	assert_int_equal(ps_ckpt_write(f->path, &meta, NULL, 0), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, HEADER_LEN);
	assert_int_equal(ps_ckpt_read(f->path, &got, &secs, &n, &blob), 0);
	assert_int_equal(n, 0);
	assert_memory_equal(&got, &meta, sizeof(meta));
	free(secs);
	free(blob);
}

static void test_layout(void **state)
{
	fixture_t *f = *state;
	const ps_ckpt_meta_t meta = sample_meta();
	size_t len, off;
	uint8_t *buf;

	write_sample(f->path);
	buf = slurp(f->path, &len);
	/* 92 + (24 + 16) + 24 + (24 + 16) + (24 + 8) */
	assert_int_equal(len, 228);
	assert_memory_equal(buf, "RPSCKPT\0", 8);
	assert_int_equal(le32(buf + 8), RPS_CKPT_FORMAT);
	/* every field of ps_ckpt_meta_t, in order */
	assert_int_equal(le32(buf + 12), meta.algo);
	assert_int_equal(le32(buf + 16), meta.num_workers);
	assert_int_equal(le64(buf + 20), meta.num_params);
	assert_int_equal(le64(buf + 28), meta.shard_offset);
	assert_int_equal(le32(buf + 36), meta.chunk_bytes);
	assert_int_equal(le32(buf + 40), meta.threads);
	assert_int_equal(le64(buf + 44), meta.version);
	assert_int_equal(le64(buf + 52), meta.wall_time);
	assert_memory_equal(buf + 60, &meta.lr, 4); /* floats: little-endian host */
	assert_memory_equal(buf + 64, &meta.momentum, 4);
	assert_memory_equal(buf + 68, &meta.weight_decay, 4);
	assert_memory_equal(buf + 72, &meta.lambda, 4);
	assert_memory_equal(buf + 76, &meta.ms_decay, 4);
	assert_int_equal(le32(buf + 80), 0x7fc0beefu); /* theta's NaN bits */
	assert_int_equal(le32(buf + NSECTIONS_OFF), SAMPLE_NSECTIONS);
	assert_int_equal(le32(buf + HEADER_CRC_OFF), (uint32_t)crc32(0, buf, HEADER_CRC_OFF));
	off = section_off(buf, 0);
	assert_int_equal(le32(buf + off), PS_CKPT_WEIGHTS);
	assert_int_equal(le32(buf + off + 4), 0);
	assert_int_equal(le64(buf + off + 8), 12);
	assert_int_equal(le32(buf + off + 20), 0);
	assert_memory_equal(buf + off + 24, sample_weights, 12);
	assert_memory_equal(buf + off + 36, "\0\0\0\0", 4);
	off = section_off(buf, 3);
	assert_int_equal(off + SECTION_HDR_LEN + 8, len);
	assert_int_equal(le32(buf + off + 24), 0x7fc12345u);
	free(buf);
}

static void test_find(void **state)
{
	ps_ckpt_section_t s[SAMPLE_NSECTIONS];

	(void)state;
	sample_sections(s);
	assert_ptr_equal(ps_ckpt_find(s, SAMPLE_NSECTIONS, PS_CKPT_PUSHES), &s[2]);
	assert_ptr_equal(ps_ckpt_find(s, SAMPLE_NSECTIONS, PS_CKPT_STATE_A), &s[1]);
	assert_null(ps_ckpt_find(s, SAMPLE_NSECTIONS, PS_CKPT_DUDE_GRADS));
	assert_null(ps_ckpt_find(s, 2, PS_CKPT_PUSHES));
	assert_null(ps_ckpt_find(NULL, 0, PS_CKPT_WEIGHTS));
}

/* ---- writing: atomic, no leftovers ---------------------------------------- */

static void test_write_leaves_no_tmp(void **state)
{
	fixture_t *f = *state;
	/* 0600 whatever the umask: parameters are the user's data */
	mode_t old_umask = umask(0);
	char tmp[PATH_MAX + 8];
	struct stat st;

	write_sample(f->path);
	umask(old_umask);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	assert_int_equal(stat(tmp, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_entries(f->dir), 1);
}

static void test_write_missing_dir(void **state)
{
	fixture_t *f = *state;
	ps_ckpt_meta_t meta = sample_meta();
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/nope/ps.ckpt", f->dir);
	assert_int_equal(ps_ckpt_write(path, &meta, NULL, 0), -ENOENT);
	expect_one_log(path, "cannot create the .tmp file: ");
	assert_int_equal(count_entries(f->dir), 0);
}

static void test_overwrite(void **state)
{
	fixture_t *f = *state;
	ps_ckpt_meta_t b = sample_meta(), got;
	static const uint64_t data_b[3] = { 11, 22, 33 };
	ps_ckpt_section_t sb = { PS_CKPT_PUSHES, data_b, sizeof(data_b) }, *secs;
	uint32_t n;
	void *blob;

	b.version = 42;
	write_sample(f->path); /* A */
	assert_int_equal(ps_ckpt_write(f->path, &b, &sb, 1), 0);
	assert_int_equal(ps_ckpt_read(f->path, &got, &secs, &n, &blob), 0);
	assert_int_equal(got.version, 42);
	assert_int_equal(n, 1);
	assert_int_equal(secs[0].bytes, sizeof(data_b));
	assert_memory_equal(secs[0].data, data_b, sizeof(data_b));
	assert_int_equal(count_entries(f->dir), 1);
	free(secs);
	free(blob);
}

/* A write that fails half way (the file size limit stands in for a full
 * disk) leaves the old file whole and no .tmp behind. */
static void test_failed_write_keeps_old(void **state)
{
	fixture_t *f = *state;
	ps_ckpt_meta_t b = sample_meta(), got;
	static uint8_t big[64 * 1024];
	ps_ckpt_section_t sb = { PS_CKPT_WEIGHTS, big, sizeof(big) }, *secs;
	struct rlimit old, small;
	void (*old_xfsz)(int);
	uint32_t n;
	void *blob;
	int ret;

	write_sample(f->path);
	b.version = 42;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 4096;
	old_xfsz = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	log_lines = 0;
	ret = ps_ckpt_write(f->path, &b, &sb, 1);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_xfsz);
	assert_int_equal(ret, -EFBIG);
	expect_one_log(f->path, "cannot write the .tmp file: ");

	assert_int_equal(count_entries(f->dir), 1);
	assert_int_equal(ps_ckpt_read(f->path, &got, &secs, &n, &blob), 0);
	assert_int_equal(got.version, sample_meta().version);
	assert_int_equal(n, SAMPLE_NSECTIONS);
	free(secs);
	free(blob);
}

/* The rename is refused (a directory is in the way): the finished .tmp
 * must go, and what was there stays. */
static void test_failed_rename(void **state)
{
	fixture_t *f = *state;
	ps_ckpt_meta_t meta = sample_meta();
	struct stat st;

	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(ps_ckpt_write(f->path, &meta, NULL, 0), -EISDIR);
	expect_one_log(f->path, "cannot rename the .tmp file over it: ");
	assert_int_equal(count_entries(f->dir), 1);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

static void expect_write_refused(fixture_t *f, const ps_ckpt_section_t *s, uint32_t n, int want,
				 const char *why)
{
	ps_ckpt_meta_t meta = sample_meta();

	log_lines = 0;
	assert_int_equal(ps_ckpt_write(f->path, &meta, s, n), want);
	expect_one_log(f->path, why);
	assert_int_equal(count_entries(f->dir), 0);
}

static void test_write_refuses_bad_args(void **state)
{
	fixture_t *f = *state;
	ps_ckpt_section_t s[RPS_CKPT_MAX_SECTIONS + 1];

	for (uint32_t k = 0; k < RPS_CKPT_MAX_SECTIONS + 1; k++)
		s[k] = (ps_ckpt_section_t){ k + 1, NULL, 0 };
	expect_write_refused(f, s, RPS_CKPT_MAX_SECTIONS + 1, -EINVAL, "65 sections, the limit");
	expect_write_refused(f, NULL, 1, -EINVAL, "no sections given");
	s[1].bytes = 8;
	expect_write_refused(f, s, 2, -EINVAL, "section 1 (id 2): no data for 8 bytes");
	s[1].bytes = 0;
	s[2].id = 1;
	expect_write_refused(f, s, 3, -EINVAL, "section 2 (id 1): id already used by section 0");
	s[2].id = 3;
	s[0] = (ps_ckpt_section_t){ 1, s, RPS_CKPT_MAX_BYTES }; /* never read: refused first */
	expect_write_refused(f, s, 1, -EFBIG, "would exceed");
	s[0].bytes = UINT64_MAX;
	expect_write_refused(f, s, 1, -EFBIG, "would exceed");

	log_lines = 0;
	assert_int_equal(ps_ckpt_write(NULL, &(ps_ckpt_meta_t){ 0 }, NULL, 0), -EINVAL);
	assert_int_equal(log_lines, 1);

	/* the maximum itself is fine */
	s[0].bytes = 0;
	log_lines = 0;
	assert_int_equal(ps_ckpt_write(f->path, &(ps_ckpt_meta_t){ 0 }, s, RPS_CKPT_MAX_SECTIONS),
			 0);
	assert_int_equal(log_lines, 0);
}

/* ---- refused files ----------------------------------------------------------- */

static void test_refuse_missing_and_empty(void **state)
{
	fixture_t *f = *state;

	expect_refused(f->path, -ENOENT, "cannot open: ");
	spit(f->path, NULL, 0);
	expect_refused(f->path, -EINVAL, "truncated: 0 bytes, the header needs 92");
	expect_refused(f->dir, -EINVAL, "not a regular file");
	/* a FIFO is refused at once, not waited on for a writer (SIGALRM
	 * ends the test program if it is) */
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(mkfifo(f->path, 0600), 0);
	alarm(10);
	expect_refused(f->path, -EINVAL, "not a regular file");
	alarm(0);
}

/* The size comes from fstat and is checked before anything is
 * allocated: a (sparse) file over the limit costs nothing to refuse. */
static void test_refuse_huge(void **state)
{
	fixture_t *f = *state;

	write_sample(f->path);
	if (truncate(f->path, (off_t)RPS_CKPT_MAX_BYTES + 1)) {
		assert_int_equal(errno, EFBIG); /* a file system without such files */
		skip();
	}
	expect_refused(f->path, -EINVAL, "1099511627777 bytes, above the limit of 1099511627776");
}

static void test_refuse_truncated_everywhere(void **state)
{
	fixture_t *f = *state;
	size_t len;
	uint8_t *buf;

	write_sample(f->path);
	buf = slurp(f->path, &len);
	for (size_t k = 0; k < len; k++) {
		snprintf(test_ctx, sizeof(test_ctx), "truncated to %zu bytes: ", k);
		expect_bytes_refused(f->path, buf, k, "truncated");
	}
	test_ctx[0] = '\0';
	free(buf);
}

/* Every bit of the file is checked: the header and each section (id,
 * reserved, length, data) by a CRC, the pad words and the padding by
 * having to be zero. */
static void test_refuse_every_bit_flip(void **state)
{
	fixture_t *f = *state;
	size_t len;
	uint8_t *buf;

	write_sample(f->path);
	buf = slurp(f->path, &len);
	for (size_t bit = 0; bit < len * 8; bit++) {
		snprintf(test_ctx, sizeof(test_ctx), "byte %zu bit %zu flipped: ", bit / 8,
			 bit % 8);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		expect_bytes_refused(f->path, buf, len, "");
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	test_ctx[0] = '\0';
	/* and the file as it was still reads */
	spit(f->path, buf, len);
	{
		ps_ckpt_meta_t m;
		ps_ckpt_section_t *secs;
		uint32_t n;
		void *blob;

		assert_int_equal(ps_ckpt_read(f->path, &m, &secs, &n, &blob), 0);
		free(secs);
		free(blob);
	}
	free(buf);
}

static void test_refuse_header(void **state)
{
	fixture_t *f = *state;
	size_t len;
	uint8_t *buf;

	write_sample(f->path);
	buf = slurp(f->path, &len);

	buf[0] = 'X';
	expect_bytes_refused(f->path, buf, len, "not an rdmaps checkpoint (bad magic)");
	buf[0] = 'R';
	buf[7] = '!'; /* the NUL is part of the magic */
	expect_bytes_refused(f->path, buf, len, "bad magic");
	buf[7] = 0;

	set_le32(buf + 8, 2);
	fix_header_crc(buf);
	expect_bytes_refused(f->path, buf, len, "format 2, this build reads 1");
	set_le32(buf + 8, 0);
	fix_header_crc(buf);
	expect_bytes_refused(f->path, buf, len, "format 0, this build reads 1");
	set_le32(buf + 8, RPS_CKPT_FORMAT);

	buf[HEADER_CRC_OFF] ^= 1;
	expect_bytes_refused(f->path, buf, len, "header CRC mismatch");
	fix_header_crc(buf);

	set_le32(buf + NSECTIONS_OFF, RPS_CKPT_MAX_SECTIONS + 1);
	fix_header_crc(buf);
	expect_bytes_refused(f->path, buf, len, "65 sections, the limit is 64");
	set_le32(buf + NSECTIONS_OFF, UINT32_MAX);
	fix_header_crc(buf);
	expect_bytes_refused(f->path, buf, len, "4294967295 sections, the limit is 64");

	/* fewer sections than the file holds: the rest is trailing */
	set_le32(buf + NSECTIONS_OFF, 2);
	fix_header_crc(buf);
	expect_bytes_refused(f->path, buf, len, "72 trailing bytes after the last section");
	/* more: the next section header is missing */
	set_le32(buf + NSECTIONS_OFF, SAMPLE_NSECTIONS + 1);
	fix_header_crc(buf);
	expect_bytes_refused(f->path, buf, len,
			     "truncated: section 4 header needs 24 bytes, 0 remain");
	free(buf);
}

static void test_refuse_trailing(void **state)
{
	fixture_t *f = *state;
	size_t len;
	uint8_t *buf;

	write_sample(f->path);
	buf = slurp(f->path, &len);
	memset(buf + len, 0, 64);
	expect_bytes_refused(f->path, buf, len + 1, "1 trailing bytes");
	/* zeros that would look like padding, or an empty section header */
	expect_bytes_refused(f->path, buf, len + 8, "8 trailing bytes");
	expect_bytes_refused(f->path, buf, len + SECTION_HDR_LEN, "24 trailing bytes");
	free(buf);
}

/* Lengths near 2^64: offset + header + bytes + padding would wrap round
 * to something small if added unchecked.  No CRC can be right for data
 * that is not there, so the bounds must be checked before the data is
 * touched (under ASan a missing check shows as a read past the blob). */
static void test_refuse_overflowing_length(void **state)
{
	static const uint64_t evil[] = {
		UINT64_MAX,
		UINT64_MAX - 6,	 /* bytes + 7 wraps to 0: "no data, no padding" */
		UINT64_MAX - 7,	 /* the largest multiple of 8 */
		UINT64_MAX - 23, /* header + bytes wraps to 0 */
		1ull << 63,
		RPS_CKPT_MAX_BYTES,
		0, /* stands for: one byte more than the file has */
	};
	fixture_t *f = *state;
	size_t len;
	uint8_t *buf;

	write_sample(f->path);
	buf = slurp(f->path, &len);
	for (size_t i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		for (unsigned k = 0; k < SAMPLE_NSECTIONS; k += 3) {
			uint8_t copy[512];
			size_t off = section_off(buf, k);
			uint64_t bytes = evil[i] ? evil[i] : len - off - SECTION_HDR_LEN + 1;
			uint32_t crc;

			snprintf(test_ctx, sizeof(test_ctx), "section %u bytes %llu: ", k,
				 (unsigned long long)bytes);
			memcpy(copy, buf, len);
			set_le64(copy + off + 8, bytes);
			crc = (uint32_t)crc32(0, copy + off, 16);
			set_le32(copy + off + 16, crc); /* at least the header part */
			expect_bytes_refused(f->path, copy, len, "truncated: section");
		}
	}
	free(buf);
}

static void test_refuse_sections(void **state)
{
	fixture_t *f = *state;
	size_t len, off1, off2;
	uint8_t *buf, copy[512];

	write_sample(f->path);
	buf = slurp(f->path, &len);
	off1 = section_off(buf, 1);
	off2 = section_off(buf, 2);

	/* duplicate id, with a CRC that matches */
	memcpy(copy, buf, len);
	set_le32(copy + off2, PS_CKPT_STATE_A);
	fix_section_crc(copy, off2);
	expect_bytes_refused(f->path, copy, len, "section 2 (id 2): id already used by section 1");

	/* reserved and pad must be zero, even with matching CRCs */
	memcpy(copy, buf, len);
	set_le32(copy + off1 + 4, 1);
	fix_section_crc(copy, off1);
	expect_bytes_refused(f->path, copy, len, "section 1 (id 2): reserved fields not zero");
	memcpy(copy, buf, len);
	set_le32(copy + off1 + 20, 0x80000000u);
	expect_bytes_refused(f->path, copy, len, "section 1 (id 2): reserved fields not zero");

	/* padding after the 12 bytes of weights */
	memcpy(copy, buf, len);
	copy[section_off(buf, 0) + SECTION_HDR_LEN + 12] = 1;
	expect_bytes_refused(f->path, copy, len, "section 0 (id 1): padding not zero");

	/* data */
	memcpy(copy, buf, len);
	copy[off2 + SECTION_HDR_LEN + 15] ^= 0x40;
	expect_bytes_refused(f->path, copy, len, "section 2 (id 4): CRC mismatch");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip_no_sections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_leaves_no_tmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_missing_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overwrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_refuses_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_missing_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_huge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_truncated_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_every_bit_flip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_trailing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_overflowing_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_sections, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
