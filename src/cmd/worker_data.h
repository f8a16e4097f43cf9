/* SPDX-License-Identifier: BSD-2-Clause */
/* rdma-worker's data: its share of the training set, the test set and the
 * mini-batch order (worker_data.c).  Private to src/cmd. */
#ifndef RPS_CMD_WORKER_DATA_H
#define RPS_CMD_WORKER_DATA_H

#include <stdint.h>

#include "cmd/worker_cli.h"
#include "ml/dataset.h"

struct worker_data {
	rps_dataset_t *local; /* this rank's share, standardised */
	rps_dataset_t *test;  /* held-out set, standardised like train */
	uint64_t train_total; /* samples in the (sliced) training set */
	uint64_t *order;      /* this epoch's order of local samples */
	uint32_t epoch;
	float *bx; /* the gathered mini-batch */
	int32_t *by;
	uint32_t batch;
};

/* Loads --dataset (sliced by --train-samples), standardises it with the
 * training statistics, keeps this rank's --partition share.  0, or a
 * negative errno after a one-line error. */
int worker_data_load(const struct worker_cli *cli, struct worker_data *d);
void worker_data_free(struct worker_data *d);
/* Starts epoch e: a new order, the same on every run for (seed, rank, e). */
void worker_data_epoch(struct worker_data *d, uint64_t seed, uint32_t rank, uint32_t e);
/* Copies mini-batch b of the epoch into d->bx/d->by; returns its size
 * (the last one may be short). */
uint32_t worker_data_batch(struct worker_data *d, uint64_t b);
/* mini-batches per epoch */
uint64_t worker_data_batches(const struct worker_data *d);

#endif /* RPS_CMD_WORKER_DATA_H */
