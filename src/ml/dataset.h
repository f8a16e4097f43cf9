/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Datasets and partitioners for the ML workers (issue 5): an IDX reader
 * (MNIST / Fashion-MNIST, plain or gzipped), a synthetic generator, and the
 * iid / label-skew (Dirichlet) partitions that give each rank its samples.
 *
 * Everything is deterministic for a seed: every rank computes the same
 * global partition on its own, so no rank ever has to send another its
 * index list.  Errors are logged once here, where the file and the reason
 * are known; callers propagate the negative errno without re-logging.
 */
#ifndef RPS_ML_DATASET_H
#define RPS_ML_DATASET_H

#include <stdbool.h>
#include <stdint.h>

/* Where the Debian package dataset-fashion-mnist installs the files. */
#define RPS_FASHION_MNIST_DIR  "/usr/share/datasets/fashion-mnist"
/* MNIST and Fashion-MNIST both have 10 classes; IDX labels must be below. */
#define RPS_IDX_NUM_CLASSES    10u
/* Largest IDX payload we accept (bytes): 20x the Fashion-MNIST training
 * set, and small enough that the float copy (4x) still fits in memory. */
#define RPS_IDX_MAX_BYTES      (1ull << 30)
/* Largest synthetic dataset, in floats (n * d): 1 GiB. */
#define RPS_DATASET_MAX_VALUES (1ull << 28)

/* n samples of d float32 features, row-major (x[i * d + j]), and their
 * labels, each < num_classes.  The dataset owns x and y. */
typedef struct rps_dataset {
	uint64_t n;
	uint32_t d;
	uint32_t num_classes;
	float *x;
	int32_t *y;
} rps_dataset_t;

/* ---- loading ------------------------------------------------------------ */

/* Reads an IDX image file (magic 0x00000803, [n][rows][cols] u8) and its
 * label file (0x00000801, [n] u8), gzipped or plain, into a dataset of
 * d = rows * cols features scaled to [0,1] and RPS_IDX_NUM_CLASSES classes.
 * Returns 0, -ENOENT (a file is missing), -EINVAL (bad magic, zero or
 * oversized dimensions, trailing data, counts that differ, a label out of
 * range), -EIO (truncated or corrupt file) or -ENOMEM; never a partial
 * dataset. */
int rps_dataset_load_idx(const char *images, const char *labels, rps_dataset_t **ds_p);

/* Loads the Fashion-MNIST training (train) or test set from dir
 * (NULL = RPS_FASHION_MNIST_DIR).  A missing directory or file gives
 * -ENOENT and an error that names the Debian package to install. */
int rps_dataset_load_fashion_mnist(const char *dir, bool train, rps_dataset_t **ds_p);

/* n samples of d features in `classes` Gaussian blobs: each class has a
 * centre drawn from N(0, 1) per feature, each sample is its class centre
 * plus N(0, 1) noise, labels are uniform.  Linearly separable enough for a
 * softmax model; the same seed gives the same bytes.  Returns 0, -EINVAL
 * (a zero size, classes < 2, n * d over RPS_DATASET_MAX_VALUES) or
 * -ENOMEM. */
int rps_dataset_synthetic(uint64_t n, uint32_t d, uint32_t classes, uint64_t seed,
			  rps_dataset_t **ds_p);

/* Frees ds and its arrays; NULL is a no-op. */
void rps_dataset_free(rps_dataset_t *ds);

/* A new dataset holding copies of ds's samples idx[0..count) in that
 * order (count > 0).  Returns 0, -EINVAL (an index >= ds->n) or -ENOMEM. */
int rps_dataset_subset(const rps_dataset_t *ds, const uint64_t *idx, uint64_t count,
		       rps_dataset_t **sub_p);

/* A new dataset holding copies of samples [begin, begin + count). */
int rps_dataset_slice(const rps_dataset_t *ds, uint64_t begin, uint64_t count,
		      rps_dataset_t **sub_p);

/* Standardises ds in place with train's per-feature mean and standard
 * deviation (ds may be train).  The statistics come from the training set
 * only, so test data is transformed exactly as training data was; a
 * constant feature (MNIST's border pixels) is only centred.  Returns 0,
 * -EINVAL (d differs) or -ENOMEM. */
int rps_dataset_standardize(rps_dataset_t *ds, const rps_dataset_t *train);

/* ---- partitioning ------------------------------------------------------- */

typedef enum rps_partition_kind {
	RPS_PARTITION_IID = 0,	      /* shuffle, then contiguous shards */
	RPS_PARTITION_LABEL_SKEW = 1, /* Dirichlet(alpha) over ranks per class */
} rps_partition_kind_t;

typedef struct rps_partition_spec {
	rps_partition_kind_t kind;
	double alpha; /* label-skew only: > 0, small = skewed */
} rps_partition_spec_t;

/* Parses "iid" or "label-skew:ALPHA" (ALPHA a finite number > 0).
 * Returns 0 or -EINVAL (logged, naming the spec). */
int rps_partition_parse(const char *spec, rps_partition_spec_t *spec_p);

/* The indices (ascending) of the samples rank owns among world ranks under
 * spec and seed.  Every rank computes the same global assignment, so the
 * ranks' lists are disjoint and cover all of ds.  label-skew redraws the
 * Dirichlet proportions (deterministically) until every rank owns a sample.
 * Returns 0 with a malloc'ed *idx_p (free() it) and *count_p > 0,
 * -EINVAL (world 0, rank >= world, fewer samples than ranks, or no
 * label-skew draw that leaves no rank empty) or -ENOMEM. */
int rps_partition_indices(const rps_dataset_t *ds, const rps_partition_spec_t *spec, uint32_t world,
			  uint32_t rank, uint64_t seed, uint64_t **idx_p, uint64_t *count_p);

/* Shuffles idx[0..n) in place, deterministically for (seed, rank, epoch):
 * each rank visits its shard in its own order, a new one every epoch. */
void rps_partition_shuffle(uint64_t *idx, uint64_t n, uint64_t seed, uint32_t rank, uint32_t epoch);

#endif /* RPS_ML_DATASET_H */
