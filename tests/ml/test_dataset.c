/* SPDX-License-Identifier: BSD-2-Clause */
/* Datasets and partitioners: IDX files written here and read back (plain
 * and gzipped), one test per refused header, synthetic data, and the
 * partition properties the workers rely on (disjoint, complete, balanced
 * or skewed as asked, deterministic). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <rdmaps/log.h>

#include "ml/dataset.h"
#include "ml/dataset_rng.h"

static char tmpdir[256];

/* ---- log capture: each refusal must log once, naming the file -------- */

static int log_errors;
static char log_last[1024];

static void log_capture(rps_log_level_t level, const char *msg, void *arg)
{
	(void)arg;
	if (level == RPS_LOG_ERROR)
		log_errors++;
	snprintf(log_last, sizeof(log_last), "%s", msg);
}

static int setup(void **state)
{
	const char *t = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/rps_dataset_XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	rps_log_set_handler(log_capture, NULL);
	rps_log_set_level(RPS_LOG_WARN);
	return 0;
}

static int teardown(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[512];

	(void)state;
	rps_log_set_handler(NULL, NULL);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(tmpdir);
}

/* ---- IDX file builders ---------------------------------------------------- */

static size_t put_be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	return 4;
}

/* An images file: magic, n, rows, cols, then pixel i = (i * 37 + 5) % 256
 * (hits 0..255 with few samples). */
static size_t idx_images(uint8_t *b, uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols)
{
	size_t o = put_be32(b, magic);

	o += put_be32(b + o, n);
	o += put_be32(b + o, rows);
	o += put_be32(b + o, cols);
	for (uint64_t i = 0; i < (uint64_t)n * rows * cols; i++)
		b[o++] = (uint8_t)((i * 37 + 5) % 256);
	return o;
}

static size_t idx_labels(uint8_t *b, uint32_t n, const uint8_t *lab)
{
	size_t o = put_be32(b, 0x00000801u);

	o += put_be32(b + o, n);
	memcpy(b + o, lab, n);
	return o + n;
}

static const char *write_file(const char *name, const void *buf, size_t len, bool gz)
{
	/* a ring of names, so a test can hold all the paths it writes */
	static char paths[32][512];
	static int next;
	char *path = paths[next++ % 32];

	snprintf(path, sizeof(paths[0]), "%s/%s", tmpdir, name);
	if (gz) {
		gzFile f = gzopen(path, "wb");

		assert_non_null(f);
		assert_int_equal(gzwrite(f, buf, (unsigned)len), (int)len);
		assert_int_equal(gzclose(f), Z_OK);
	} else {
		FILE *f = fopen(path, "wb");

		assert_non_null(f);
		assert_int_equal(fwrite(buf, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
	}
	return path;
}

static void truncate_file(const char *path, off_t drop)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - drop), 0);
}

static const uint8_t good_labels[3] = { 0, 9, 4 };

static void check_good(const rps_dataset_t *ds)
{
	assert_int_equal(ds->n, 3);
	assert_int_equal(ds->d, 8);
	assert_int_equal(ds->num_classes, 10);
	for (uint64_t i = 0; i < 3 * 8; i++)
		assert_true(ds->x[i] == (float)((i * 37 + 5) % 256) / 255.0f);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ds->y[i], good_labels[i]);
}

static void test_idx_roundtrip(void **state)
{
	uint8_t img[64], lab[16];
	size_t ni = idx_images(img, 0x00000803u, 3, 2, 4);
	size_t nl = idx_labels(lab, 3, good_labels);
	rps_dataset_t *ds;

	(void)state;
	/* gzipped, plain, and one of each: gzread passes plain files through */
	for (int mode = 0; mode < 4; mode++) {
		const char *pi = write_file(mode & 1 ? "i.gz" : "i", img, ni, mode & 1);
		const char *pl = write_file(mode & 2 ? "l.gz" : "l", lab, nl, mode & 2);

		log_errors = 0;
		assert_int_equal(rps_dataset_load_idx(pi, pl, &ds), 0);
		assert_int_equal(log_errors, 0);
		check_good(ds);
		rps_dataset_free(ds);
	}
	/* the extremes of the scaling are exact */
	assert_true((float)255 / 255.0f == 1.0f);
}

/* Loads and expects err, one error line naming `names`, and *ds_p untouched. */
static void expect_refused(const char *images, const char *labels, int err, const char *names)
{
	rps_dataset_t *sentinel = (rps_dataset_t *)(uintptr_t)0x1234, *ds = sentinel;

	log_errors = 0;
	log_last[0] = '\0';
	assert_int_equal(rps_dataset_load_idx(images, labels, &ds), err);
	assert_ptr_equal(ds, sentinel);
	assert_int_equal(log_errors, 1);
	if (!strstr(log_last, names))
		fail_msg("error '%s' does not name %s", log_last, names);
}

static void test_idx_refusals(void **state)
{
	uint8_t img[256], lab[16], bad[256];
	const uint8_t ten[3] = { 0, 10, 1 };
	size_t ni = idx_images(img, 0x00000803u, 3, 2, 4);
	size_t nl = idx_labels(lab, 3, good_labels);
	const char *pi = write_file("good_i.gz", img, ni, true);
	const char *pl = write_file("good_l", lab, nl, false);
	const char *p;

	(void)state;
	p = write_file("missing", "", 0, false);
	unlink(p);
	expect_refused(p, pl, -ENOENT, "missing");
	expect_refused(pi, p, -ENOENT, "missing");

	/* truncated: plain (last pixel gone), gzipped (stream cut), header */
	p = write_file("trunc_i", img, ni, false);
	truncate_file(p, 1);
	expect_refused(p, pl, -EIO, "trunc_i");
	p = write_file("trunc_i.gz", img, ni, true);
	truncate_file(p, 12);
	expect_refused(p, pl, -EIO, "trunc_i.gz");
	p = write_file("trunc_l", lab, 6, false);
	expect_refused(pi, p, -EIO, "trunc_l");

	/* wrong magic: the files swapped, and a non-u8 type (0x09 = s8) */
	expect_refused(pl, pi, -EINVAL, "good_l");
	ni = idx_images(bad, 0x00000903u, 3, 2, 4);
	p = write_file("s8_i", bad, ni, false);
	expect_refused(p, pl, -EINVAL, "s8_i");

	/* 2 labels for 3 images */
	nl = idx_labels(bad, 2, good_labels);
	p = write_file("two_l", bad, nl, false);
	expect_refused(pi, p, -EINVAL, "two_l");

	/* zero dimensions */
	ni = idx_images(bad, 0x00000803u, 3, 0, 4);
	p = write_file("zero_rows", bad, ni, false);
	expect_refused(p, pl, -EINVAL, "zero_rows");
	ni = idx_images(bad, 0x00000803u, 0, 2, 4);
	p = write_file("zero_n", bad, ni, false);
	expect_refused(p, pl, -EINVAL, "zero_n");

	/* a header promising 4 G images: refused before any allocation */
	ni = idx_images(bad, 0x00000803u, 0, 28, 28);
	put_be32(bad + 4, 0xffffffffu);
	p = write_file("huge", bad, ni, false);
	expect_refused(p, pl, -EINVAL, "huge");

	/* label 10 with 10 classes */
	nl = idx_labels(bad, 3, ten);
	p = write_file("ten_l", bad, nl, true);
	expect_refused(pi, p, -EINVAL, "ten_l");

	/* data past what the header declares */
	memcpy(bad, lab, nl = idx_labels(bad, 3, good_labels));
	bad[nl++] = 0;
	p = write_file("long_l", bad, nl, false);
	expect_refused(pi, p, -EINVAL, "long_l");
}

static void test_fashion_missing(void **state)
{
	char dir[512];
	rps_dataset_t *ds = NULL;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/no-such-dir", tmpdir);
	log_errors = 0;
	assert_int_equal(rps_dataset_load_fashion_mnist(dir, false, &ds), -ENOENT);
	assert_null(ds);
	assert_int_equal(log_errors, 1);
	assert_non_null(strstr(log_last, "install the Debian package dataset-fashion-mnist"));
	/* the directory exists but the files do not */
	log_errors = 0;
	assert_int_equal(rps_dataset_load_fashion_mnist(tmpdir, true, &ds), -ENOENT);
	assert_int_equal(log_errors, 1);
	assert_non_null(strstr(log_last, "train-images-idx3-ubyte.gz"));
	assert_non_null(strstr(log_last, "dataset-fashion-mnist"));
}

static void test_fashion_real(void **state)
{
	struct stat st;
	rps_dataset_t *ds;
	uint64_t hist[10] = { 0 };

	(void)state;
	if (stat(RPS_FASHION_MNIST_DIR "/t10k-images-idx3-ubyte.gz", &st) != 0)
		skip();
	assert_int_equal(rps_dataset_load_fashion_mnist(NULL, false, &ds), 0);
	assert_int_equal(ds->n, 10000);
	assert_int_equal(ds->d, 784);
	assert_int_equal(ds->num_classes, 10);
	for (uint64_t i = 0; i < ds->n * ds->d; i++)
		assert_true(ds->x[i] >= 0.0f && ds->x[i] <= 1.0f);
	for (uint64_t i = 0; i < ds->n; i++)
		hist[ds->y[i]]++;
	for (int c = 0; c < 10; c++) /* the test set is balanced */
		assert_int_equal(hist[c], 1000);
	rps_dataset_free(ds);
}

/* ---- synthetic data, subsets, standardisation ------------------------------ */

/* Accuracy of the nearest-class-mean rule on ds itself: a linear
 * classifier, so a high score says a linear model can learn the data. */
static double nearest_mean_accuracy(const rps_dataset_t *ds)
{
	uint32_t d = ds->d, k = ds->num_classes;
	double *mean = calloc((size_t)k * d, sizeof(*mean));
	uint64_t *cnt = calloc(k, sizeof(*cnt)), right = 0;

	assert_non_null(mean);
	assert_non_null(cnt);
	for (uint64_t i = 0; i < ds->n; i++) {
		cnt[ds->y[i]]++;
		for (uint32_t j = 0; j < d; j++)
			mean[ds->y[i] * d + j] += ds->x[i * d + j];
	}
	for (uint32_t c = 0; c < k; c++)
		for (uint32_t j = 0; j < d; j++)
			mean[c * d + j] /= cnt[c] ? (double)cnt[c] : 1.0;
	for (uint64_t i = 0; i < ds->n; i++) {
		double best = INFINITY;
		uint32_t arg = 0;

		for (uint32_t c = 0; c < k; c++) {
			double s = 0;

			for (uint32_t j = 0; j < d; j++) {
				double t = ds->x[i * d + j] - mean[c * d + j];

				s += t * t;
			}
			if (s < best) {
				best = s;
				arg = c;
			}
		}
		right += arg == (uint32_t)ds->y[i];
	}
	free(cnt);
	free(mean);
	return (double)right / (double)ds->n;
}

static void test_synthetic(void **state)
{
	rps_dataset_t *a, *b, *c, *ds = NULL;

	(void)state;
	assert_int_equal(rps_dataset_synthetic(2000, 20, 10, 42, &a), 0);
	assert_int_equal(rps_dataset_synthetic(2000, 20, 10, 42, &b), 0);
	assert_int_equal(rps_dataset_synthetic(2000, 20, 10, 43, &c), 0);
	assert_int_equal(a->n, 2000);
	assert_int_equal(a->d, 20);
	assert_int_equal(a->num_classes, 10);
	assert_memory_equal(a->x, b->x, 2000 * 20 * sizeof(float));
	assert_memory_equal(a->y, b->y, 2000 * sizeof(int32_t));
	assert_memory_not_equal(a->x, c->x, 2000 * 20 * sizeof(float));
	for (uint64_t i = 0; i < a->n; i++)
		assert_true(a->y[i] >= 0 && a->y[i] < 10);
	assert_true(nearest_mean_accuracy(a) > 0.9);
	rps_dataset_free(c);
	rps_dataset_free(b);
	rps_dataset_free(a);

	log_errors = 0;
	assert_int_equal(rps_dataset_synthetic(0, 20, 10, 1, &ds), -EINVAL);
	assert_int_equal(rps_dataset_synthetic(10, 0, 10, 1, &ds), -EINVAL);
	assert_int_equal(rps_dataset_synthetic(10, 20, 1, 1, &ds), -EINVAL);
	assert_int_equal(rps_dataset_synthetic(1ull << 40, 1000, 10, 1, &ds), -EINVAL);
	assert_null(ds);
	assert_int_equal(log_errors, 4);
}

static void test_subset_slice(void **state)
{
	const uint64_t idx[3] = { 7, 0, 7 };
	rps_dataset_t *ds, *sub = NULL;

	(void)state;
	assert_int_equal(rps_dataset_synthetic(10, 3, 4, 5, &ds), 0);
	assert_int_equal(rps_dataset_subset(ds, idx, 3, &sub), 0);
	assert_int_equal(sub->n, 3);
	assert_int_equal(sub->d, 3);
	assert_int_equal(sub->num_classes, 4);
	for (int k = 0; k < 3; k++) {
		assert_memory_equal(sub->x + k * 3, ds->x + idx[k] * 3, 3 * sizeof(float));
		assert_int_equal(sub->y[k], ds->y[idx[k]]);
	}
	rps_dataset_free(sub);

	assert_int_equal(rps_dataset_slice(ds, 8, 2, &sub), 0);
	assert_int_equal(sub->n, 2);
	assert_memory_equal(sub->x, ds->x + 8 * 3, 2 * 3 * sizeof(float));
	assert_memory_equal(sub->y, ds->y + 8, 2 * sizeof(int32_t));
	rps_dataset_free(sub);

	sub = NULL;
	const uint64_t out[2] = { 1, 10 };
	assert_int_equal(rps_dataset_subset(ds, out, 2, &sub), -EINVAL);
	assert_int_equal(rps_dataset_slice(ds, 8, 3, &sub), -EINVAL);
	assert_int_equal(rps_dataset_slice(ds, 0, 0, &sub), -EINVAL);
	assert_null(sub);
	rps_dataset_free(ds);
}

static void test_standardize(void **state)
{
	rps_dataset_t *train, *test;

	(void)state;
	assert_int_equal(rps_dataset_synthetic(500, 4, 3, 9, &train), 0);
	assert_int_equal(rps_dataset_slice(train, 0, 100, &test), 0);
	for (uint64_t i = 0; i < train->n; i++)
		train->x[i * 4 + 3] = 0.25f; /* a constant feature, like a border pixel */
	float t0 = train->x[0];

	assert_int_equal(rps_dataset_standardize(test, train), 0);
	assert_int_equal(rps_dataset_standardize(train, train), 0);
	/* the test set went through the training set's transform exactly */
	assert_true(fabsf(test->x[0] - train->x[0]) < 1e-6f);
	assert_true(t0 != train->x[0]);
	for (uint32_t j = 0; j < 4; j++) {
		double s = 0, s2 = 0;

		for (uint64_t i = 0; i < train->n; i++) {
			s += train->x[i * 4 + j];
			s2 += (double)train->x[i * 4 + j] * train->x[i * 4 + j];
		}
		double mean = s / 500, var = s2 / 500 - mean * mean;

		assert_true(fabs(mean) < 1e-5);
		if (j == 3)
			assert_true(var < 1e-12); /* centred, not blown up */
		else
			assert_true(fabs(var - 1.0) < 1e-4);
	}
	rps_dataset_free(test);
	assert_int_equal(rps_dataset_synthetic(10, 5, 3, 9, &test), 0);
	assert_int_equal(rps_dataset_standardize(test, train), -EINVAL);
	rps_dataset_free(test);
	rps_dataset_free(train);
}

/* ---- PRNG ---------------------------------------------------------------- */

static void test_gamma_mean(void **state)
{
	const double alphas[] = { 0.1, 0.5, 2.0, 100.0 };
	rps_rng_t rng;

	(void)state;
	rps_rng_seed(&rng, 1, 0);
	/* E[Gamma(a, 1)] = a; 40000 draws put the mean within ~3 sd / sqrt(a
	 * * 40000) relative: 5% covers a = 0.1 */
	for (size_t k = 0; k < sizeof(alphas) / sizeof(alphas[0]); k++) {
		double s = 0;

		for (int i = 0; i < 40000; i++)
			s += exp(rps_rng_log_gamma(&rng, alphas[k]));
		s /= 40000;
		if (fabs(s / alphas[k] - 1.0) > 0.05)
			fail_msg("Gamma(%g) mean %g", alphas[k], s);
	}
	/* tiny alphas stay finite in logs where the draw itself underflows */
	for (int i = 0; i < 1000; i++)
		assert_true(isfinite(rps_rng_log_gamma(&rng, 1e-3)));
}

/* ---- partitions ----------------------------------------------------------- */

static void test_partition_parse(void **state)
{
	static const char *const bad[] = {
		"",
		"iid:2",
		"IID",
		"label-skew",
		"label-skew:",
		"label-skew:x",
		"label-skew:0",
		"label-skew:-1",
		"label-skew:nan",
		"label-skew:inf",
		"label-skew:0.5x",
		"label-skew: ",
		"label-skew:1e7",
		"dirichlet:0.5",
	};
	rps_partition_spec_t s = { .kind = RPS_PARTITION_LABEL_SKEW, .alpha = 7 };

	(void)state;
	assert_int_equal(rps_partition_parse("iid", &s), 0);
	assert_int_equal(s.kind, RPS_PARTITION_IID);
	assert_int_equal(rps_partition_parse("label-skew:0.5", &s), 0);
	assert_int_equal(s.kind, RPS_PARTITION_LABEL_SKEW);
	assert_true(s.alpha == 0.5);
	assert_int_equal(rps_partition_parse("label-skew:100", &s), 0);
	assert_true(s.alpha == 100.0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		log_errors = 0;
		if (rps_partition_parse(bad[i], &s) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(log_errors, 1);
		assert_true(s.alpha == 100.0); /* untouched */
	}
	assert_int_equal(rps_partition_parse(NULL, &s), -EINVAL);
}

/* Partitions ds over world ranks and checks every sample lands in exactly
 * one rank, each list ascending; returns the per-rank sizes in sizes. */
static void check_cover(const rps_dataset_t *ds, const rps_partition_spec_t *spec, uint32_t world,
			uint64_t seed, uint64_t *sizes)
{
	uint8_t *seen = calloc(ds->n, 1);

	assert_non_null(seen);
	for (uint32_t r = 0; r < world; r++) {
		uint64_t *idx, count;

		assert_int_equal(rps_partition_indices(ds, spec, world, r, seed, &idx, &count), 0);
		assert_true(count > 0);
		for (uint64_t k = 0; k < count; k++) {
			assert_true(idx[k] < ds->n);
			assert_true(k == 0 || idx[k - 1] < idx[k]);
			seen[idx[k]]++;
		}
		sizes[r] = count;
		free(idx);
	}
	for (uint64_t i = 0; i < ds->n; i++)
		if (seen[i] != 1)
			fail_msg("world %u: sample %llu owned by %u ranks", world,
				 (unsigned long long)i, seen[i]);
	free(seen);
}

static void test_partition_iid(void **state)
{
	rps_partition_spec_t iid = { .kind = RPS_PARTITION_IID };
	uint64_t sizes[7], *a, *b, na, nb, *idx = NULL, n;
	rps_dataset_t *ds;

	(void)state;
	assert_int_equal(rps_dataset_synthetic(1003, 1, 10, 3, &ds), 0);
	for (uint32_t world = 1; world <= 7; world++) {
		uint64_t lo = UINT64_MAX, hi = 0;

		check_cover(ds, &iid, world, 11, sizes);
		for (uint32_t r = 0; r < world; r++) {
			lo = sizes[r] < lo ? sizes[r] : lo;
			hi = sizes[r] > hi ? sizes[r] : hi;
		}
		assert_true(hi - lo <= 1);
	}
	/* the same seed gives the same shard, another seed another one, and
	 * the shard is not simply a contiguous range of the dataset */
	assert_int_equal(rps_partition_indices(ds, &iid, 4, 2, 11, &a, &na), 0);
	assert_int_equal(rps_partition_indices(ds, &iid, 4, 2, 11, &b, &nb), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na * sizeof(*a));
	free(b);
	assert_int_equal(rps_partition_indices(ds, &iid, 4, 2, 12, &b, &nb), 0);
	assert_memory_not_equal(a, b, (na < nb ? na : nb) * sizeof(*a));
	assert_true(a[na - 1] - a[0] > na);
	free(b);
	free(a);

	log_errors = 0;
	assert_int_equal(rps_partition_indices(ds, &iid, 0, 0, 1, &idx, &n), -EINVAL);
	assert_int_equal(rps_partition_indices(ds, &iid, 4, 4, 1, &idx, &n), -EINVAL);
	assert_int_equal(rps_partition_indices(ds, &iid, 2000, 0, 1, &idx, &n), -EINVAL);
	assert_null(idx);
	assert_int_equal(log_errors, 3);
	rps_dataset_free(ds);
}

/* Mean over ranks of the share of a rank's samples in its two largest
 * classes: 0.2 for a uniform spread over 10 classes, 1 when fully skewed;
 * and the largest single-class share any rank has. */
static void skew_stats(const rps_dataset_t *ds, double alpha, uint32_t world, uint64_t seed,
		       double *top2_mean, double *top1_max)
{
	rps_partition_spec_t spec = { .kind = RPS_PARTITION_LABEL_SKEW, .alpha = alpha };

	*top2_mean = 0;
	*top1_max = 0;
	for (uint32_t r = 0; r < world; r++) {
		uint64_t *idx, count, hist[10] = { 0 }, m1 = 0, m2 = 0;

		assert_int_equal(rps_partition_indices(ds, &spec, world, r, seed, &idx, &count), 0);
		for (uint64_t k = 0; k < count; k++)
			hist[ds->y[idx[k]]]++;
		for (int c = 0; c < 10; c++) {
			if (hist[c] > m1) {
				m2 = m1;
				m1 = hist[c];
			} else if (hist[c] > m2) {
				m2 = hist[c];
			}
		}
		*top2_mean += (double)(m1 + m2) / (double)count / world;
		if ((double)m1 / (double)count > *top1_max)
			*top1_max = (double)m1 / (double)count;
		free(idx);
	}
}

static void test_partition_label_skew(void **state)
{
	const double alphas[] = { 0.1, 1.0, 100.0 };
	rps_partition_spec_t spec = { .kind = RPS_PARTITION_LABEL_SKEW };
	uint64_t sizes[7];
	rps_dataset_t *ds;

	(void)state;
	assert_int_equal(rps_dataset_synthetic(2000, 1, 10, 4, &ds), 0);
	for (size_t k = 0; k < 3; k++) {
		spec.alpha = alphas[k];
		for (uint32_t world = 1; world <= 7; world++)
			check_cover(ds, &spec, world, 21, sizes);
	}
	rps_dataset_free(ds);

	/* skew as asked: with 10 balanced classes over 5 ranks, alpha 0.1
	 * leaves most ranks to one or two classes, alpha 100 gives each rank
	 * about a tenth of every class */
	assert_int_equal(rps_dataset_synthetic(20000, 1, 10, 5, &ds), 0);
	for (uint64_t seed = 1; seed <= 3; seed++) {
		double top2, top1, top2_mid;

		/* over 20 seeds alpha 0.1 gave 0.66..0.83, alpha 1 0.38..0.52,
		 * alpha 100 0.22..0.23 (top-1 share <= 0.134) */
		skew_stats(ds, 0.1, 5, seed, &top2, &top1);
		if (top2 < 0.6)
			fail_msg("alpha 0.1 seed %llu: top-2 share %.3f", (unsigned long long)seed,
				 top2);
		skew_stats(ds, 1.0, 5, seed, &top2_mid, &top1);
		assert_true(top2_mid < top2);
		skew_stats(ds, 100.0, 5, seed, &top2, &top1);
		assert_true(top2 < top2_mid);
		if (top2 > 0.26 || top1 > 0.15)
			fail_msg("alpha 100 seed %llu: top-2 share %.3f, top-1 max %.3f",
				 (unsigned long long)seed, top2, top1);
	}
	rps_dataset_free(ds);

	/* more ranks than samples of any draw can feed: refused, not empty */
	assert_int_equal(rps_dataset_synthetic(8, 1, 2, 6, &ds), 0);
	spec.alpha = 1e-3;
	uint64_t *idx = NULL, n;

	log_errors = 0;
	assert_int_equal(rps_partition_indices(ds, &spec, 7, 0, 1, &idx, &n), -EINVAL);
	assert_int_equal(log_errors, 1);
	assert_null(idx);
	rps_dataset_free(ds);
}

static void test_shuffle(void **state)
{
	uint64_t a[200], b[200], c[200], d[200];
	uint8_t seen[200] = { 0 };

	(void)state;
	for (int i = 0; i < 200; i++)
		a[i] = b[i] = c[i] = d[i] = (uint64_t)i;
	rps_partition_shuffle(a, 200, 7, 3, 0);
	rps_partition_shuffle(b, 200, 7, 3, 0);
	assert_memory_equal(a, b, sizeof(a));
	rps_partition_shuffle(c, 200, 7, 4, 0); /* another rank */
	assert_memory_not_equal(a, c, sizeof(a));
	rps_partition_shuffle(d, 200, 7, 3, 1); /* another epoch */
	assert_memory_not_equal(a, d, sizeof(a));
	for (int i = 0; i < 200; i++)
		b[i] = (uint64_t)i;
	rps_partition_shuffle(b, 200, 8, 3, 0); /* another seed */
	assert_memory_not_equal(a, b, sizeof(a));
	for (int i = 0; i < 200; i++)
		seen[a[i]]++;
	for (int i = 0; i < 200; i++)
		assert_int_equal(seen[i], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idx_roundtrip),
		cmocka_unit_test(test_idx_refusals),
		cmocka_unit_test(test_fashion_missing),
		cmocka_unit_test(test_fashion_real),
		cmocka_unit_test(test_synthetic),
		cmocka_unit_test(test_subset_slice),
		cmocka_unit_test(test_standardize),
		cmocka_unit_test(test_gamma_mean),
		cmocka_unit_test(test_partition_parse),
		cmocka_unit_test(test_partition_iid),
		cmocka_unit_test(test_partition_label_skew),
		cmocka_unit_test(test_shuffle),
	};
	return cmocka_run_group_tests_name("ml datasets", tests, setup, teardown);
}
