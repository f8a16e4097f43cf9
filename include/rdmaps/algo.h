/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdmaps update algorithms and their hyper-parameters: what a server is
 * configured with and what its WELCOME tells the workers.  Included by
 * <rdmaps/ps.h>; a header of its own so that the wire format (src/proto),
 * which sits below the parameter server, can use the types without it.
 * See librdmaps(3).
 */
#ifndef RDMAPS_ALGO_H
#define RDMAPS_ALGO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rps_algo {
	RPS_ALGO_SGD = 1,  /* sequential SGD (one worker) */
	RPS_ALGO_ASGD,	   /* asynchronous SGD: w -= lr*g as pushes land */
	RPS_ALGO_SSGD,	   /* synchronous: average the M gradients, one step */
	RPS_ALGO_DCASGD_C, /* delay-compensated, constant lambda */
	RPS_ALGO_DCASGD_A, /* delay-compensated, adaptive lambda */
	RPS_ALGO_PCASGD,   /* predict + clip, trade-off theta */
	RPS_ALGO_DUDE,	   /* dual-delayed: latest gradients of all workers */
	RPS_ALGO_MAX_
} rps_algo_t;

/* "dc-asgd-a" etc.; NULL for an unknown value. */
const char *rps_algo_name(rps_algo_t algo);
/* 0 and *algo_p, or -EINVAL for an unknown name. */
int rps_algo_parse(const char *name, rps_algo_t *algo_p);

typedef struct rps_hparams {
	float lr;	       /* learning rate (> 0) */
	float momentum;	       /* sgd/asgd/ssgd, PyTorch semantics; 0 = none */
	float weight_decay;    /* sgd/asgd/ssgd */
	float lambda;	       /* dc-asgd-c, pc-asgd: lambda; dc-asgd-a: lambda0 */
	float ms_decay;	       /* dc-asgd-a: mean-square decay m (0.95) */
	float eps;	       /* dc-asgd-a: 1e-7 */
	float theta;	       /* pc-asgd: trade-off in [0,1] */
	uint32_t dude_refresh; /* dude-asgd: pushes per chunk between exact
				* recomputations of the running sum; 0 = 1024 */
	/* step schedule (PyTorch's StepLR over server updates): the learning
	 * rate is lr * lr_decay^floor(version / lr_decay_every); 0 = constant */
	uint64_t lr_decay_every;
	float lr_decay; /* in (0, 1]; used when lr_decay_every > 0 */
	/* 0: room for the hyper-parameters of later versions.  The struct
	 * is embedded in rps_server_config_t, so it keeps its size; a server
	 * refuses (-E2BIG) one that sets what it does not know. */
	uint32_t reserved[5];
} rps_hparams_t;

/* The learning rate after `version` server updates under hp's schedule. */
float rps_hparams_lr_at(const rps_hparams_t *hp, uint64_t version);

/* Fills the defaults for algo: lambda 0.04 (dc-asgd-c, pc-asgd) or
 * lambda0 2 (dc-asgd-a), m 0.95, eps 1e-7 as the papers' experiments and
 * the authors' code use; lr 0.1, theta 0.5 and dude_refresh 1024 are
 * rdmaps's own starting points.  Call it again after changing algo. */
void rps_hparams_default(rps_algo_t algo, rps_hparams_t *hp);

#ifdef __cplusplus
}
#endif
#endif /* RDMAPS_ALGO_H */
