/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the IDX reader and loader: rps_dataset_load_idx()
 * (src/ml/dataset.c) over rps_idx_read() (src/ml/idx.c); see README.md.
 *
 * An input is two files:
 *
 *   byte 0        flags: bit 0 gzips the images file, bit 1 the labels file
 *   byte 1        L, the length of the labels file
 *   L bytes       the labels file (fewer when the input ends first)
 *   the rest      the images file
 *
 * Each file is put in a memfd (gzipped in memory first when its flag is
 * set) and read through its /proc/self/fd/N path.  Whenever the target
 * knows the bytes the reader will see (always, except for a plain file
 * that itself starts with the gzip magic), it works out on its own what
 * the load must return (0, -EINVAL or -EIO) and, on success, every
 * feature and label; a different answer is a crash.
 *
 * Built with -DFUZZ_IDX_MAKE_CORPUS instead, it is the program that
 * writes the seed corpus.
 */
#define _GNU_SOURCE /* memfd_create */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <rdmaps/log.h>

#include "ml/dataset.h"
#include "ml/idx.h"

#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FLAG_GZ_IMAGES 1u
#define FLAG_GZ_LABELS 2u

/* A gzip file of in[0..len) in a malloc'ed buffer, or NULL. */
static uint8_t *gzip_mem(const uint8_t *in, size_t len, size_t *out_len)
{
	z_stream zs = { 0 };
	uint8_t *out = NULL;
	uLong cap;

	if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	cap = deflateBound(&zs, (uLong)len);
	out = malloc(cap);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	if (out && deflate(&zs, Z_FINISH) == Z_STREAM_END) {
		*out_len = zs.total_out;
	} else {
		free(out);
		out = NULL;
	}
	deflateEnd(&zs);
	return out;
}

/* ---- seed corpus --------------------------------------------------------- */
#ifdef FUZZ_IDX_MAKE_CORPUS

static size_t idx_file(uint8_t *b, uint32_t magic, const uint32_t *dims, uint32_t ndims,
		       uint8_t fill_mod)
{
	size_t n = 4, total = 1;

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(magic >> (24 - 8 * i));
	for (uint32_t k = 0; k < ndims; k++, n += 4) {
		for (int i = 0; i < 4; i++)
			b[n + i] = (uint8_t)(dims[k] >> (24 - 8 * i));
		total *= dims[k];
	}
	for (size_t i = 0; i < total; i++)
		b[n + i] = (uint8_t)((i * 37 + 11) % fill_mod);
	return n + total;
}

static int seed(const char *dir, const char *name, uint8_t flags, const uint8_t *lab,
		size_t lab_len, const uint8_t *img, size_t img_len)
{
	char path[4096];
	FILE *fp;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (!fp || lab_len > 255)
		return -1;
	if (fputc(flags, fp) == EOF || fputc((int)lab_len, fp) == EOF ||
	    fwrite(lab, 1, lab_len, fp) != lab_len || fwrite(img, 1, img_len, fp) != img_len)
		ret = -1;
	if (fclose(fp))
		ret = -1;
	return ret;
}

int main(int argc, char **argv)
{
	static uint8_t img[4096], lab[256];
	uint32_t idims[3], n;
	size_t img_len, lab_len, gz_len;
	uint8_t *gz;
	int ret = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	/* one 1x1 image */
	n = 1;
	lab_len = idx_file(lab, RPS_IDX_MAGIC_LABELS, &n, 1, RPS_IDX_NUM_CLASSES);
	img_len = idx_file(img, RPS_IDX_MAGIC_IMAGES, (uint32_t[]){ 1, 1, 1 }, 3, 255);
	ret |= seed(argv[1], "plain-1x1x1", 0, lab, lab_len, img, img_len);

	/* five 3x4 images, plain and with both files gzipped by the target */
	n = 5;
	lab_len = idx_file(lab, RPS_IDX_MAGIC_LABELS, &n, 1, RPS_IDX_NUM_CLASSES);
	img_len = idx_file(img, RPS_IDX_MAGIC_IMAGES, (uint32_t[]){ 5, 3, 4 }, 3, 255);
	ret |= seed(argv[1], "plain-5x3x4", 0, lab, lab_len, img, img_len);
	ret |= seed(argv[1], "gz-5x3x4", FLAG_GZ_IMAGES | FLAG_GZ_LABELS, lab, lab_len, img,
		    img_len);
	/* two valid files that disagree on the count: the one check random
	 * mutation does not reach (it takes three edits that agree) */
	n = 4;
	lab_len = idx_file(lab, RPS_IDX_MAGIC_LABELS, &n, 1, RPS_IDX_NUM_CLASSES);
	ret |= seed(argv[1], "count-mismatch", 0, lab, lab_len, img, img_len);

	/* a gzip stream in the input itself, so mutations reach the inflater
	 * (headers, trailer CRC, truncation) */
	n = 5;
	lab_len = idx_file(lab, RPS_IDX_MAGIC_LABELS, &n, 1, RPS_IDX_NUM_CLASSES);
	gz = gzip_mem(img, img_len, &gz_len);
	if (!gz)
		return 1;
	ret |= seed(argv[1], "raw-gz-5x3x4", 0, lab, lab_len, gz, gz_len);
	free(gz);

	/* four MNIST-shaped 28x28 images */
	n = 4;
	idims[0] = 4, idims[1] = 28, idims[2] = 28;
	lab_len = idx_file(lab, RPS_IDX_MAGIC_LABELS, &n, 1, RPS_IDX_NUM_CLASSES);
	img_len = idx_file(img, RPS_IDX_MAGIC_IMAGES, idims, 3, 255);
	ret |= seed(argv[1], "gz-4x28x28", FLAG_GZ_IMAGES, lab, lab_len, img, img_len);
	return ret ? 1 : 0;
}

#else /* the fuzz target */

/* The reader allocates what a header declares before it reads the data,
 * so a 30-byte file can declare up to RPS_IDX_MAX_BYTES (1 GiB).  Under
 * ASan each such input costs about a millisecond of shadow poisoning, for
 * the same code path as a small declaration: above this size the target
 * skips the input (sizes over RPS_IDX_MAX_BYTES are refused before any
 * allocation, and still run). */
#define DECLARED_MAX (1u << 20)

static int memfd[2] = { -1, -1 };
static char memfd_path[2][64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!getenv("FUZZ_VERBOSE"))
		rps_log_set_handler(fuzz_log_drop, NULL);
	for (int i = 0; i < 2; i++) {
		memfd[i] = fuzz_memfd_open(i ? "fuzz-idx-labels" : "fuzz-idx-images", memfd_path[i],
					   sizeof(memfd_path[i]));
	}
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* What rps_idx_read() must answer for the file b[0..len) (idx.h), in the
 * order it reads: magic, header, dimensions, data, trailing bytes. */
static int idx_expect(const uint8_t *b, size_t len, uint32_t ndims, uint32_t *dims,
		      uint64_t *total_p)
{
	uint64_t total = 1;

	if (len < 4)
		return -EIO;
	if (be32(b) != (0x800u | ndims))
		return -EINVAL;
	if (len < 4 + 4 * (size_t)ndims)
		return -EIO;
	for (uint32_t i = 0; i < ndims; i++) {
		dims[i] = be32(b + 4 + 4 * i);
		total *= dims[i];
		if (!dims[i] || total > RPS_IDX_MAX_BYTES)
			return -EINVAL;
	}
	*total_p = total;
	if (len - 4 - 4 * ndims < total)
		return -EIO;
	return len - 4 - 4 * ndims > total ? -EINVAL : 0;
}

/* What rps_dataset_load_idx() must answer (dataset.h). */
static int load_expect(const uint8_t *img, size_t img_len, const uint8_t *lab, size_t lab_len,
		       uint64_t *declared_p)
{
	uint32_t idims[3], ldims[1];
	uint64_t total = 0;
	int ret;

	*declared_p = 0;
	ret = idx_expect(img, img_len, 3, idims, declared_p);
	if (ret)
		return ret;
	ret = idx_expect(lab, lab_len, 1, ldims, &total);
	if (total > *declared_p)
		*declared_p = total;
	if (ret)
		return ret;
	if (ldims[0] != idims[0])
		return -EINVAL;
	for (uint32_t i = 0; i < ldims[0]; i++)
		if (lab[8 + i] >= RPS_IDX_NUM_CLASSES)
			return -EINVAL;
	return 0;
}

/* Puts b[0..len) in memfd k, gzipped when asked. */
static void put_file(int k, const uint8_t *b, size_t len, bool gz)
{
	uint8_t *z = NULL;

	if (gz) {
		z = gzip_mem(b, len, &len);
		if (!z)
			abort();
		b = z;
	}
	fuzz_memfd_put(memfd[k], b, len);
	free(z);
}

static bool gzip_magic(const uint8_t *b, size_t len)
{
	return len >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *lab, *img;
	size_t lab_len, img_len;
	rps_dataset_t *ds = NULL;
	bool gz_img, gz_lab, known;
	uint64_t declared = 0;
	int ret, expect = 0;

	if (size < 2)
		return 0;
	gz_img = data[0] & FLAG_GZ_IMAGES;
	gz_lab = data[0] & FLAG_GZ_LABELS;
	lab = data + 2;
	lab_len = data[1] < size - 2 ? data[1] : size - 2;
	img = lab + lab_len;
	img_len = size - 2 - lab_len;
	/* a plain file with the gzip magic is inflated: only zlib knows it */
	known = (gz_img || !gzip_magic(img, img_len)) && (gz_lab || !gzip_magic(lab, lab_len));
	if (known) {
		expect = load_expect(img, img_len, lab, lab_len, &declared);
		if (declared > DECLARED_MAX)
			return 0;
	}
	put_file(0, img, img_len, gz_img);
	put_file(1, lab, lab_len, gz_lab);

	ret = rps_dataset_load_idx(memfd_path[0], memfd_path[1], &ds);
	if (known)
		CHECK(ret == expect);
	else
		CHECK(ret == 0 || ret == -EINVAL || ret == -EIO);
	if (ret) {
		CHECK(ds == NULL); /* never a partial dataset */
		return 0;
	}

	CHECK(ds && ds->n >= 1 && ds->d >= 1 && ds->num_classes == RPS_IDX_NUM_CLASSES);
	for (uint64_t i = 0; i < ds->n; i++)
		CHECK(ds->y[i] >= 0 && ds->y[i] < (int32_t)RPS_IDX_NUM_CLASSES);
	for (uint64_t i = 0; i < ds->n * ds->d; i++)
		CHECK(ds->x[i] >= 0.0f && ds->x[i] <= 1.0f);
	if (known) {
		CHECK(ds->n == be32(img + 4) && ds->d == (uint64_t)be32(img + 8) * be32(img + 12));
		for (uint64_t i = 0; i < ds->n; i++)
			CHECK(ds->y[i] == lab[8 + i]);
		for (uint64_t i = 0; i < ds->n * ds->d; i++)
			CHECK(ds->x[i] == (float)img[16 + i] / 255.0f);
	}
	rps_dataset_free(ds);
	return 0;
}

#endif
