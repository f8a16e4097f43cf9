/* SPDX-License-Identifier: BSD-2-Clause */
/* The model object, shared by model.c (spec, layout, init, evaluation)
 * and model_mlp.c (the forward and backward pass).  Private to src/ml. */
#ifndef RPS_ML_MODEL_PRIV_H
#define RPS_ML_MODEL_PRIV_H

#include <stdint.h>

#include "ml/model.h"

#define RPS_MODEL_MAX_LAYERS (RPS_MODEL_MAX_HIDDEN + 1)

struct rps_model {
	uint32_t nlayers;
	uint32_t dim[RPS_MODEL_MAX_LAYERS + 1]; /* dim[0] in_dim .. dim[nlayers] classes */
	uint64_t w_off[RPS_MODEL_MAX_LAYERS];
	uint64_t b_off[RPS_MODEL_MAX_LAYERS];
	uint64_t num_params;
	uint32_t max_batch;
	/* act[l]: output of layer l, max_batch x dim[l+1]; the last is the
	 * logits.  The backward pass overwrites each with its gradient. */
	float *act[RPS_MODEL_MAX_LAYERS];
	/* dL/dA of a hidden layer before the ReLU mask (max_batch x widest
	 * hidden layer); NULL for softmax */
	float *dact;
	void *scratch; /* the one allocation act[] and dact point into */
};

/* Logits of batch rows of x into m->act[nlayers - 1]. */
void rps_model_forward(rps_model_t *m, const float *params, const float *x, uint32_t batch);

/* Cross-entropy summed over the batch, from the logits of the last
 * forward pass, with a numerically stable log-softmax.  Counts the rows
 * whose argmax is the label into *correct_p when not NULL; when
 * want_dlogits, replaces the logits by d(mean loss)/d(logits). */
double rps_model_xent(rps_model_t *m, const int32_t *y, uint32_t batch, int want_dlogits,
		      uint64_t *correct_p);

/* 0 when every label is in [0, classes), else -EINVAL (logged). */
int rps_model_check_labels(const rps_model_t *m, const int32_t *y, uint64_t n);

#endif /* RPS_ML_MODEL_PRIV_H */
