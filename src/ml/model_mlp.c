/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Forward and backward pass of the dense-layer stack (model.h): softmax
 * regression is the stack without hidden layers, so both models share
 * this code.  The dense layers go through cblas_sgemm; bias, ReLU and the
 * softmax head are plain loops.
 */
#include "config.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "ml/model_priv.h"

/* Z = A W + b for batch rows: b broadcast first, then sgemm with beta 1
 * accumulates A W onto it (one pass over Z instead of two). */
static void dense_forward(const float *a, const float *w, const float *b, float *z, uint32_t batch,
			  uint32_t in, uint32_t out)
{
	for (uint32_t r = 0; r < batch; r++)
		memcpy(z + (size_t)r * out, b, out * sizeof(float));
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)batch, (int)out, (int)in, 1.0f,
		    a, (int)in, w, (int)out, 1.0f, z, (int)out);
}

void rps_model_forward(rps_model_t *m, const float *params, const float *x, uint32_t batch)
{
	const float *a = x;

	for (uint32_t l = 0; l < m->nlayers; l++) {
		const uint32_t out = m->dim[l + 1];
		float *z = m->act[l];

		dense_forward(a, params + m->w_off[l], params + m->b_off[l], z, batch, m->dim[l],
			      out);
		if (l + 1 < m->nlayers) {
			for (size_t i = 0; i < (size_t)batch * out; i++)
				z[i] = z[i] > 0.0f ? z[i] : 0.0f;
		}
		a = z;
	}
}

double rps_model_xent(rps_model_t *m, const int32_t *y, uint32_t batch, int want_dlogits,
		      uint64_t *correct_p)
{
	const uint32_t classes = m->dim[m->nlayers];
	const double inv_batch = 1.0 / batch;
	float *logits = m->act[m->nlayers - 1];
	double loss = 0.0;
	uint64_t correct = 0;

	for (uint32_t r = 0; r < batch; r++) {
		float *z = logits + (size_t)r * classes;
		uint32_t best = 0;
		double sum = 0.0, lse;

		/* log-softmax around the max: exp never overflows, and the
		 * largest term is exp(0) = 1, so log(sum) never sees 0 */
		for (uint32_t j = 1; j < classes; j++)
			if (z[j] > z[best])
				best = j;
		for (uint32_t j = 0; j < classes; j++)
			sum += exp((double)z[j] - z[best]);
		lse = z[best] + log(sum);
		loss += lse - z[y[r]];
		correct += best == (uint32_t)y[r];
		if (want_dlogits) {
			/* d(mean loss)/dz = (softmax(z) - onehot(y)) / batch */
			for (uint32_t j = 0; j < classes; j++)
				z[j] = (float)(exp((double)z[j] - lse) * inv_batch);
			z[y[r]] -= (float)inv_batch;
		}
	}
	if (correct_p)
		*correct_p += correct;
	return loss;
}

/* From dZ of layer l (act[l], already holding the gradient): dW = A^T dZ,
 * db = column sums of dZ, and, below the first layer, dZ of layer l-1 =
 * (dZ W^T) masked by ReLU'(A), written over act[l-1]. */
static void dense_backward(rps_model_t *m, const float *params, const float *x, uint32_t batch,
			   uint32_t l, float *grad)
{
	const uint32_t in = m->dim[l], out = m->dim[l + 1];
	const float *dz = m->act[l];
	const float *a = l ? m->act[l - 1] : x;
	float *db = grad + m->b_off[l];

	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)in, (int)out, (int)batch, 1.0f, a,
		    (int)in, dz, (int)out, 0.0f, grad + m->w_off[l], (int)out);
	memset(db, 0, out * sizeof(float));
	for (uint32_t r = 0; r < batch; r++)
		for (uint32_t j = 0; j < out; j++)
			db[j] += dz[(size_t)r * out + j];
	if (l == 0)
		return; /* nobody needs dL/dx */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)batch, (int)in, (int)out, 1.0f,
		    dz, (int)out, params + m->w_off[l], (int)out, 0.0f, m->dact, (int)in);
	/* A = relu(Z) > 0 exactly where Z > 0, so A itself is the mask;
	 * act[l-1] was last needed for dW above, so it takes dZ in place */
	float *prev = m->act[l - 1];

	for (size_t i = 0; i < (size_t)batch * in; i++)
		prev[i] = prev[i] > 0.0f ? m->dact[i] : 0.0f;
}

int rps_model_loss_grad(rps_model_t *m, const float *params, const float *x, const int32_t *y,
			uint32_t batch, float *grad, float *loss_p)
{
	double loss;
	int ret;

	if (batch == 0 || batch > m->max_batch)
		return -EINVAL;
	ret = rps_model_check_labels(m, y, batch);
	if (ret)
		return ret;
	rps_model_forward(m, params, x, batch);
	loss = rps_model_xent(m, y, batch, grad != NULL, NULL);
	if (grad) {
		for (uint32_t l = m->nlayers; l-- > 0;)
			dense_backward(m, params, x, batch, l, grad);
	}
	*loss_p = (float)(loss / batch);
	return 0;
}
