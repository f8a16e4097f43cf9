/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdma-worker's data pipeline.  Every rank loads the same training set and
 * computes the same global partition (rps_partition_indices), so the
 * shares are disjoint without any communication; then it keeps only its
 * own share in memory.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/worker_data.h"

#define PROG "rdma-worker"

/* synthetic:N,D,C holds N training samples plus N/5 (at least 1) test
 * samples drawn from the same blobs: one generator call, then split */
static int load_synthetic(const char *spec, rps_dataset_t **train_p, rps_dataset_t **test_p)
{
	unsigned long long n;
	unsigned dim, classes;
	rps_dataset_t *all;
	uint64_t ntest;
	int ret;

	if (sscanf(spec, "%llu,%u,%u", &n, &dim, &classes) != 3)
		return -EINVAL;
	ntest = n / 5 ? n / 5 : 1;
	/* the data is the same for every rank and every run: a fixed seed,
	 * not --seed, which only shuffles and partitions it */
	if ((ret = rps_dataset_synthetic(n + ntest, dim, classes, 0x5eed, &all)))
		return ret;
	ret = rps_dataset_slice(all, 0, n, train_p);
	if (!ret && (ret = rps_dataset_slice(all, n, ntest, test_p)))
		rps_dataset_free(*train_p);
	rps_dataset_free(all);
	return ret;
}

static int load_sets(const char *spec, rps_dataset_t **train_p, rps_dataset_t **test_p)
{
	const char *dir = NULL;
	int ret;

	if (!strncmp(spec, "synthetic:", 10))
		return load_synthetic(spec + 10, train_p, test_p);
	if (!strncmp(spec, "fashion-mnist:", 14))
		dir = spec + 14;
	if ((ret = rps_dataset_load_fashion_mnist(dir, true, train_p)))
		return ret;
	if ((ret = rps_dataset_load_fashion_mnist(dir, false, test_p)))
		rps_dataset_free(*train_p);
	return ret;
}

/* --train-samples / --eval-samples: keep the first n (0 = all) */
static int keep_first(rps_dataset_t **ds_p, uint64_t n)
{
	rps_dataset_t *sub;
	int ret;

	if (!n || n >= (*ds_p)->n)
		return 0;
	if ((ret = rps_dataset_slice(*ds_p, 0, n, &sub)))
		return ret;
	rps_dataset_free(*ds_p);
	*ds_p = sub;
	return 0;
}

static int load(const struct worker_cli *cli, struct worker_data *d, const char **opt_p)
{
	rps_dataset_t *train = NULL;
	rps_partition_spec_t spec;
	uint64_t *idx = NULL, count;
	int ret;

	*opt_p = "--dataset";
	if ((ret = load_sets(cli->dataset, &train, &d->test)))
		return ret;
	if ((ret = keep_first(&train, cli->train_samples)) ||
	    (ret = keep_first(&d->test, cli->eval_samples)))
		goto out;
	/* test first: it is standardised with the training statistics */
	if ((ret = rps_dataset_standardize(d->test, train)) ||
	    (ret = rps_dataset_standardize(train, train)))
		goto out;
	*opt_p = "--partition";
	rps_partition_parse(cli->partition, &spec); /* checked by the option */
	if ((ret = rps_partition_indices(train, &spec, cli->world, cli->rank, cli->seed, &idx,
					 &count)))
		goto out;
	*opt_p = "--dataset";
	if ((ret = rps_dataset_subset(train, idx, count, &d->local)))
		goto out;
	d->train_total = train->n;
	d->batch = cli->batch < count ? cli->batch : (uint32_t)count;
	d->order = malloc(count * sizeof(*d->order));
	d->bx = malloc((size_t)d->batch * train->d * sizeof(float));
	d->by = malloc((size_t)d->batch * sizeof(int32_t));
	if (!d->order || !d->bx || !d->by)
		ret = -ENOMEM;
out:
	free(idx);
	rps_dataset_free(train);
	return ret;
}

int worker_data_load(const struct worker_cli *cli, struct worker_data *d)
{
	char why[CMD_WHY_LEN];
	const char *opt;
	int ret;

	memset(d, 0, sizeof(*d));
	/* the library names the file and the problem: one line with it */
	cmd_log_capture(why);
	ret = load(cli, d, &opt);
	cmd_log_release();
	if (ret) {
		fprintf(stderr, PROG ": %s %s: %s\n", opt,
			!strcmp(opt, "--dataset") ? cli->dataset : cli->partition,
			why[0] ? why : rps_strerror(ret));
		worker_data_free(d);
	}
	return ret;
}

void worker_data_free(struct worker_data *d)
{
	rps_dataset_free(d->local);
	rps_dataset_free(d->test);
	free(d->order);
	free(d->bx);
	free(d->by);
	memset(d, 0, sizeof(*d));
}

void worker_data_epoch(struct worker_data *d, uint64_t seed, uint32_t rank, uint32_t e)
{
	for (uint64_t i = 0; i < d->local->n; i++)
		d->order[i] = i;
	rps_partition_shuffle(d->order, d->local->n, seed, rank, e);
	d->epoch = e;
}

uint64_t worker_data_batches(const struct worker_data *d)
{
	return (d->local->n + d->batch - 1) / d->batch;
}

uint32_t worker_data_batch(struct worker_data *d, uint64_t b)
{
	uint64_t first = b * d->batch, n = d->local->n - first;
	uint32_t dim = d->local->d;

	if (n > d->batch)
		n = d->batch;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t s = d->order[first + i];

		memcpy(d->bx + i * dim, d->local->x + s * dim, dim * sizeof(float));
		d->by[i] = d->local->y[s];
	}
	return (uint32_t)n;
}
