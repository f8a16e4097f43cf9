/* SPDX-License-Identifier: BSD-2-Clause */
/* Datasets: IDX and synthetic loaders, subsets, standardisation; see
 * dataset.h. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ml/dataset.h"
#include "ml/dataset_rng.h"
#include "ml/idx.h"
#include "util/log.h"

static int dataset_alloc(uint64_t n, uint32_t d, uint32_t classes, rps_dataset_t **ds_p)
{
	rps_dataset_t *ds = calloc(1, sizeof(*ds));

	if (!ds)
		return -ENOMEM;
	ds->n = n;
	ds->d = d;
	ds->num_classes = classes;
	ds->x = malloc(n * d * sizeof(*ds->x));
	ds->y = malloc(n * sizeof(*ds->y));
	if (!ds->x || !ds->y) {
		rps_err("dataset: cannot allocate %llu x %u features", (unsigned long long)n, d);
		rps_dataset_free(ds);
		return -ENOMEM;
	}
	*ds_p = ds;
	return 0;
}

void rps_dataset_free(rps_dataset_t *ds)
{
	if (!ds)
		return;
	free(ds->x);
	free(ds->y);
	free(ds);
}

int rps_dataset_load_idx(const char *images, const char *labels, rps_dataset_t **ds_p)
{
	uint32_t idims[3], ldims[1];
	uint8_t *pix, *lab;
	rps_dataset_t *ds;
	uint64_t n, d;
	int ret;

	ret = rps_idx_read(images, 3, idims, &pix);
	if (ret)
		return ret;
	ret = rps_idx_read(labels, 1, ldims, &lab);
	if (ret)
		goto free_pix;

	n = idims[0];
	d = (uint64_t)idims[1] * idims[2];
	if (ldims[0] != n) {
		rps_err("%s: %u labels for the %llu images of %s", labels, ldims[0],
			(unsigned long long)n, images);
		ret = -EINVAL;
		goto free_lab;
	}
	if (d > UINT32_MAX) {
		rps_err("%s: %u x %u pixels per image is too many features", images, idims[1],
			idims[2]);
		ret = -EINVAL;
		goto free_lab;
	}
	for (uint64_t i = 0; i < n; i++) {
		if (lab[i] >= RPS_IDX_NUM_CLASSES) {
			rps_err("%s: label %u of sample %llu is not below %u classes", labels,
				lab[i], (unsigned long long)i, RPS_IDX_NUM_CLASSES);
			ret = -EINVAL;
			goto free_lab;
		}
	}

	ret = dataset_alloc(n, (uint32_t)d, RPS_IDX_NUM_CLASSES, &ds);
	if (ret)
		goto free_lab;
	for (uint64_t i = 0; i < n * d; i++)
		ds->x[i] = (float)pix[i] / 255.0f;
	for (uint64_t i = 0; i < n; i++)
		ds->y[i] = lab[i];
	*ds_p = ds;

free_lab:
	free(lab);
free_pix:
	free(pix);
	return ret;
}

/* Points the user at the package when the data is not installed: the
 * usual cause, and a bare "No such file" would not say how to fix it. */
static int fashion_check(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0)
		return 0;
	int ret = -errno;

	rps_err("fashion-mnist: %s: %s; install the Debian package dataset-fashion-mnist "
		"(apt-get install dataset-fashion-mnist)",
		path, strerror(errno));
	return ret;
}

int rps_dataset_load_fashion_mnist(const char *dir, bool train, rps_dataset_t **ds_p)
{
	const char *prefix = train ? "train" : "t10k";
	char images[PATH_MAX], labels[PATH_MAX];
	int ret;

	if (!dir)
		dir = RPS_FASHION_MNIST_DIR;
	if ((size_t)snprintf(images, sizeof(images), "%s/%s-images-idx3-ubyte.gz", dir, prefix) >=
		    sizeof(images) ||
	    (size_t)snprintf(labels, sizeof(labels), "%s/%s-labels-idx1-ubyte.gz", dir, prefix) >=
		    sizeof(labels)) {
		rps_err("fashion-mnist: directory name too long: %s", dir);
		return -ENAMETOOLONG;
	}
	ret = fashion_check(dir);
	if (ret)
		return ret;
	ret = fashion_check(images);
	if (ret)
		return ret;
	ret = fashion_check(labels);
	if (ret)
		return ret;
	return rps_dataset_load_idx(images, labels, ds_p);
}

int rps_dataset_synthetic(uint64_t n, uint32_t d, uint32_t classes, uint64_t seed,
			  rps_dataset_t **ds_p)
{
	rps_dataset_t *ds;
	rps_rng_t rng;
	float *centre;
	int ret;

	if (n == 0 || d == 0 || classes < 2 || classes > INT32_MAX ||
	    n > RPS_DATASET_MAX_VALUES / d || (uint64_t)classes > RPS_DATASET_MAX_VALUES / d) {
		rps_err("synthetic dataset: bad shape n=%llu d=%u classes=%u "
			"(need n, d > 0, classes >= 2, n * d <= %llu)",
			(unsigned long long)n, d, classes,
			(unsigned long long)RPS_DATASET_MAX_VALUES);
		return -EINVAL;
	}
	centre = malloc((uint64_t)classes * d * sizeof(*centre));
	if (!centre)
		return -ENOMEM;
	ret = dataset_alloc(n, d, classes, &ds);
	if (ret)
		goto free_centre;

	rps_rng_seed(&rng, seed, RPS_RNG_STREAM_SYNTHETIC);
	for (uint64_t i = 0; i < (uint64_t)classes * d; i++)
		centre[i] = (float)rps_rng_normal(&rng);
	for (uint64_t i = 0; i < n; i++) {
		uint32_t c = (uint32_t)rps_rng_below(&rng, classes);
		const float *mu = centre + (uint64_t)c * d;
		float *xi = ds->x + i * d;

		ds->y[i] = (int32_t)c;
		for (uint32_t j = 0; j < d; j++)
			xi[j] = mu[j] + (float)rps_rng_normal(&rng);
	}
	*ds_p = ds;

free_centre:
	free(centre);
	return ret;
}

int rps_dataset_subset(const rps_dataset_t *ds, const uint64_t *idx, uint64_t count,
		       rps_dataset_t **sub_p)
{
	rps_dataset_t *sub;
	int ret;

	if (count == 0) {
		rps_err("dataset subset: no samples");
		return -EINVAL;
	}
	for (uint64_t k = 0; k < count; k++) {
		if (idx[k] >= ds->n) {
			rps_err("dataset subset: index %llu of a %llu-sample dataset",
				(unsigned long long)idx[k], (unsigned long long)ds->n);
			return -EINVAL;
		}
	}
	ret = dataset_alloc(count, ds->d, ds->num_classes, &sub);
	if (ret)
		return ret;
	for (uint64_t k = 0; k < count; k++) {
		memcpy(sub->x + k * ds->d, ds->x + idx[k] * ds->d, ds->d * sizeof(*ds->x));
		sub->y[k] = ds->y[idx[k]];
	}
	*sub_p = sub;
	return 0;
}

int rps_dataset_slice(const rps_dataset_t *ds, uint64_t begin, uint64_t count,
		      rps_dataset_t **sub_p)
{
	rps_dataset_t *sub;
	int ret;

	if (count == 0 || begin > ds->n || count > ds->n - begin) {
		rps_err("dataset slice: [%llu, +%llu) of a %llu-sample dataset",
			(unsigned long long)begin, (unsigned long long)count,
			(unsigned long long)ds->n);
		return -EINVAL;
	}
	ret = dataset_alloc(count, ds->d, ds->num_classes, &sub);
	if (ret)
		return ret;
	memcpy(sub->x, ds->x + begin * ds->d, count * ds->d * sizeof(*ds->x));
	memcpy(sub->y, ds->y + begin, count * sizeof(*ds->y));
	*sub_p = sub;
	return 0;
}

int rps_dataset_standardize(rps_dataset_t *ds, const rps_dataset_t *train)
{
	uint32_t d = train->d;
	double *mean, *m2;

	if (ds->d != d) {
		rps_err("dataset standardize: %u features, the training set has %u", ds->d, d);
		return -EINVAL;
	}
	mean = calloc(d, sizeof(*mean));
	m2 = calloc(d, sizeof(*m2));
	if (!mean || !m2) {
		free(m2);
		free(mean);
		return -ENOMEM;
	}
	/* Two passes in double: the one-pass sum-of-squares formula loses the
	 * variance of near-constant pixels to cancellation. */
	for (uint64_t i = 0; i < train->n; i++)
		for (uint32_t j = 0; j < d; j++)
			mean[j] += train->x[i * d + j];
	for (uint32_t j = 0; j < d; j++)
		mean[j] /= (double)train->n;
	for (uint64_t i = 0; i < train->n; i++) {
		for (uint32_t j = 0; j < d; j++) {
			double t = train->x[i * d + j] - mean[j];

			m2[j] += t * t;
		}
	}
	for (uint32_t j = 0; j < d; j++) {
		double sd = sqrt(m2[j] / (double)train->n);

		/* reuse m2 as the scale: a constant feature is only centred */
		m2[j] = sd > 1e-6 ? 1.0 / sd : 1.0;
	}
	/* train's statistics are complete before ds (maybe train) changes */
	for (uint64_t i = 0; i < ds->n; i++)
		for (uint32_t j = 0; j < d; j++)
			ds->x[i * d + j] = (float)((ds->x[i * d + j] - mean[j]) * m2[j]);
	free(m2);
	free(mean);
	return 0;
}
