/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Models for the ml workloads (issue 5): multinomial logistic regression
 * ("softmax") and a multi-layer perceptron with ReLU ("mlp:H1[,H2...]"),
 * float32, dense layers through cblas_sgemm (OpenBLAS).
 *
 * A model is a stack of dense layers l = 0 .. L-1 mapping dim[l] inputs to
 * dim[l+1] outputs (dim[0] = in_dim, dim[L] = classes); every layer but the
 * last is followed by ReLU, the last by softmax + cross-entropy.  Softmax
 * regression is the stack with no hidden layer (L = 1).
 *
 * All parameters live in one flat float vector, because that vector is
 * what the parameter server stores and workers push gradients for.  The
 * layout, layer by layer:
 *
 *   W_l  [dim[l] x dim[l+1]], row-major (W_l[i][j] at w_off + i*dim[l+1] + j)
 *   b_l  [dim[l+1]]
 *
 * so softmax is W [in x C] then b [C], and mlp:H is W1 [in x H], b1 [H],
 * W2 [H x C], b2 [C].  Inputs x are row-major [batch x in_dim]; labels are
 * int32 class indices in [0, classes).
 *
 * OpenBLAS threading: the library never calls openblas_set_num_threads.
 * A worker process that runs one model per thread should be started with
 * OPENBLAS_NUM_THREADS=1 (small GEMMs lose more to OpenBLAS's own threads
 * than they gain, and they compete with the transport's threads).
 *
 * A model owns the scratch buffers of its forward/backward pass (sized at
 * create time for max_batch rows, so no call allocates): one thread uses a
 * model at a time; threads that train concurrently create one model each
 * and share only the parameter vector.
 */
#ifndef RPS_ML_MODEL_H
#define RPS_ML_MODEL_H

#include <stdint.h>

/* hidden layers an "mlp:" spec may list */
#define RPS_MODEL_MAX_HIDDEN 8
/* largest width of one hidden layer a spec may ask for */
#define RPS_MODEL_MAX_WIDTH  (1u << 20)

typedef struct rps_model rps_model_t;

/* One dense layer's place in the flat parameter vector. */
typedef struct rps_model_layer {
	uint32_t in;	/* rows of W: inputs of the layer */
	uint32_t out;	/* columns of W: outputs of the layer */
	uint64_t w_off; /* offset of W (row-major in x out) */
	uint64_t b_off; /* offset of b (out) */
} rps_model_layer_t;

/* Parses "softmax" or "mlp:H1[,H2...]" into the hidden widths (at most
 * max_hidden of them; none for softmax).  Returns 0, or -EINVAL after one
 * error line naming the spec and what is wrong with it. */
int rps_model_parse_spec(const char *spec, uint32_t *hidden, uint32_t max_hidden,
			 uint32_t *nhidden_p);

/* Creates the model spec describes for in_dim inputs and classes (>= 2)
 * outputs, with scratch for batches of up to max_batch rows.  Returns 0,
 * -EINVAL (bad spec or size, logged once) or -ENOMEM. */
int rps_model_create(const char *spec, uint32_t in_dim, uint32_t classes, uint32_t max_batch,
		     rps_model_t **m_p);

/* Frees the model and its scratch; NULL is a no-op. */
void rps_model_destroy(rps_model_t *m);

/* Floats in the flat parameter vector (the sum of every W and b). */
uint64_t rps_model_num_params(const rps_model_t *m);

/* Dense layers (hidden + 1) and where layer l sits in the vector. */
uint32_t rps_model_num_layers(const rps_model_t *m);
rps_model_layer_t rps_model_layer(const rps_model_t *m, uint32_t l);

uint32_t rps_model_in_dim(const rps_model_t *m);
uint32_t rps_model_classes(const rps_model_t *m);
uint32_t rps_model_max_batch(const rps_model_t *m);

/* Fills params (num_params floats) with the initial weights: He-uniform
 * (limit sqrt(6 / fan_in)) for layers followed by ReLU, Glorot-uniform
 * (limit sqrt(6 / (fan_in + fan_out))) for the softmax layer, biases 0.
 * The same seed gives the same vector on every machine. */
void rps_model_init(const rps_model_t *m, float *params, uint64_t seed);

/* Mean cross-entropy of the batch (1 .. max_batch rows) into *loss_p and,
 * when grad is not NULL, its gradient with respect to params into grad
 * (num_params floats, overwritten).  Returns 0, or -EINVAL for a batch
 * size out of range or a label outside [0, classes) (nothing written). */
int rps_model_loss_grad(rps_model_t *m, const float *params, const float *x, const int32_t *y,
			uint32_t batch, float *grad, float *loss_p);

/* Most probable class of each of the n rows of x into pred, max_batch rows
 * at a time.  Returns 0 or -EINVAL (n == 0). */
int rps_model_predict(rps_model_t *m, const float *params, const float *x, uint64_t n,
		      int32_t *pred);

/* Mean cross-entropy and accuracy (fraction of rows whose most probable
 * class is the label) over n rows, max_batch rows at a time.  Returns 0,
 * or -EINVAL (n == 0, or a label out of range). */
int rps_model_evaluate(rps_model_t *m, const float *params, const float *x, const int32_t *y,
		       uint64_t n, float *loss_p, float *acc_p);

#endif /* RPS_ML_MODEL_H */
