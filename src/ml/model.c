/* SPDX-License-Identifier: BSD-2-Clause */
/* Models: spec parsing, parameter layout, initialisation, evaluation.
 * The forward/backward pass is in model_mlp.c. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/model_priv.h"
#include "util/log.h"

/* "H1[,H2...]": each a decimal in 1 .. RPS_MODEL_MAX_WIDTH, no sign, no
 * spaces, nothing between or after the commas but digits (strtoul alone
 * would take " 12", "-1" and "12x"). */
static int parse_widths(const char *spec, const char *s, uint32_t *hidden, uint32_t max_hidden,
			uint32_t *nhidden_p)
{
	uint32_t n = 0;

	if (*s == '\0') {
		rps_err("model spec '%s': no hidden sizes after 'mlp:' (e.g. mlp:128,64)", spec);
		return -EINVAL;
	}
	for (;;) {
		uint64_t v = 0;
		const char *start = s;

		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > RPS_MODEL_MAX_WIDTH)
				break;
			s++;
		}
		if (s == start || (*s != ',' && *s != '\0' && v <= RPS_MODEL_MAX_WIDTH)) {
			rps_err("model spec '%s': hidden size '%.*s' is not a positive integer",
				spec, (int)strcspn(start, ","), start);
			return -EINVAL;
		}
		if (v == 0 || v > RPS_MODEL_MAX_WIDTH) {
			rps_err("model spec '%s': hidden size '%.*s' is out of range 1..%u", spec,
				(int)strcspn(start, ","), start, RPS_MODEL_MAX_WIDTH);
			return -EINVAL;
		}
		if (n == max_hidden) {
			rps_err("model spec '%s': more than %u hidden layers", spec, max_hidden);
			return -EINVAL;
		}
		hidden[n++] = (uint32_t)v;
		if (*s == '\0')
			break;
		s++; /* the comma */
		if (*s == '\0') {
			rps_err("model spec '%s': trailing ',' (e.g. mlp:128,64)", spec);
			return -EINVAL;
		}
	}
	*nhidden_p = n;
	return 0;
}

int rps_model_parse_spec(const char *spec, uint32_t *hidden, uint32_t max_hidden,
			 uint32_t *nhidden_p)
{
	if (!spec) {
		rps_err("model spec missing: expected 'softmax' or 'mlp:H1[,H2...]'");
		return -EINVAL;
	}
	if (strcmp(spec, "softmax") == 0) {
		*nhidden_p = 0;
		return 0;
	}
	if (strncmp(spec, "mlp:", 4) == 0)
		return parse_widths(spec, spec + 4, hidden, max_hidden, nhidden_p);
	rps_err("model spec '%s': expected 'softmax' or 'mlp:H1[,H2...]'", spec);
	return -EINVAL;
}

/* Lays the layers out in the flat vector; -EINVAL when a size does not
 * fit the int dimensions of cblas or the total overflows. */
static int model_layout(rps_model_t *m, const char *spec)
{
	uint64_t off = 0;

	for (uint32_t l = 0; l <= m->nlayers; l++) {
		if (m->dim[l] > INT_MAX) {
			rps_err("model '%s': size %u exceeds what cblas_sgemm takes", spec,
				m->dim[l]);
			return -EINVAL;
		}
	}
	for (uint32_t l = 0; l < m->nlayers; l++) {
		uint64_t w = (uint64_t)m->dim[l] * m->dim[l + 1];

		m->w_off[l] = off;
		m->b_off[l] = off + w;
		if (__builtin_add_overflow(off, w + m->dim[l + 1], &off)) {
			rps_err("model '%s': parameter count overflows", spec);
			return -EINVAL;
		}
	}
	m->num_params = off;
	return 0;
}

/* One allocation for every activation buffer, each 64-byte aligned. */
static int model_alloc_scratch(rps_model_t *m, const char *spec)
{
	size_t floats = 0, widest = 0, at = 0;
	float *base;

	int over = 0;

	for (uint32_t l = 0; l < m->nlayers; l++) {
		size_t cols = m->dim[l + 1];

		/* cols, max_batch < 2^32: the product fits, the sum may not */
		over |= __builtin_add_overflow(floats, ((cols * m->max_batch) + 15) & ~(size_t)15,
					       &floats);
		if (l + 1 < m->nlayers && cols > widest)
			widest = cols;
	}
	over |= __builtin_add_overflow(floats, widest * m->max_batch, &floats);
	if (over || floats > SIZE_MAX / sizeof(float) / 2) {
		rps_err("model '%s': scratch for batches of %u rows is too large", spec,
			m->max_batch);
		return -EINVAL;
	}
	if (posix_memalign(&m->scratch, 64, floats ? floats * sizeof(float) : 64))
		return -ENOMEM;
	base = m->scratch;
	for (uint32_t l = 0; l < m->nlayers; l++) {
		m->act[l] = base + at;
		/* keep every buffer 64-byte aligned for the sgemm kernels */
		at += (((size_t)m->dim[l + 1] * m->max_batch) + 15) & ~(size_t)15;
	}
	m->dact = widest ? base + at : NULL;
	return 0;
}

int rps_model_create(const char *spec, uint32_t in_dim, uint32_t classes, uint32_t max_batch,
		     rps_model_t **m_p)
{
	uint32_t hidden[RPS_MODEL_MAX_HIDDEN], nhidden;
	rps_model_t *m;
	int ret;

	ret = rps_model_parse_spec(spec, hidden, RPS_MODEL_MAX_HIDDEN, &nhidden);
	if (ret)
		return ret;
	if (in_dim == 0 || classes < 2 || max_batch == 0) {
		rps_err("model '%s': needs in_dim >= 1, classes >= 2, max_batch >= 1 (got %u, %u, "
			"%u)",
			spec, in_dim, classes, max_batch);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->nlayers = nhidden + 1;
	m->dim[0] = in_dim;
	memcpy(&m->dim[1], hidden, nhidden * sizeof(hidden[0]));
	m->dim[m->nlayers] = classes;
	m->max_batch = max_batch;
	ret = model_layout(m, spec);
	if (ret)
		goto free_model;
	ret = model_alloc_scratch(m, spec);
	if (ret)
		goto free_model;
	*m_p = m;
	return 0;

free_model:
	free(m);
	return ret;
}

void rps_model_destroy(rps_model_t *m)
{
	if (!m)
		return;
	free(m->scratch);
	free(m);
}

uint64_t rps_model_num_params(const rps_model_t *m)
{
	return m->num_params;
}

uint32_t rps_model_num_layers(const rps_model_t *m)
{
	return m->nlayers;
}

rps_model_layer_t rps_model_layer(const rps_model_t *m, uint32_t l)
{
	rps_model_layer_t layer = {
		.in = m->dim[l], .out = m->dim[l + 1], .w_off = m->w_off[l], .b_off = m->b_off[l]
	};

	return layer;
}

uint32_t rps_model_in_dim(const rps_model_t *m)
{
	return m->dim[0];
}

uint32_t rps_model_classes(const rps_model_t *m)
{
	return m->dim[m->nlayers];
}

uint32_t rps_model_max_batch(const rps_model_t *m)
{
	return m->max_batch;
}

/* splitmix64: a fixed, portable stream, so a seed names the same initial
 * vector on every worker and every libc (rand() would not). */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void rps_model_init(const rps_model_t *m, float *params, uint64_t seed)
{
	uint64_t state = seed;

	for (uint32_t l = 0; l < m->nlayers; l++) {
		uint64_t nw = (uint64_t)m->dim[l] * m->dim[l + 1];
		/* He for ReLU layers keeps the activation variance from
		 * shrinking layer by layer; Glorot for the linear softmax
		 * layer keeps the initial logits small (loss near ln C). */
		double fan = l + 1 < m->nlayers ? m->dim[l] : (double)m->dim[l] + m->dim[l + 1];
		float limit = (float)sqrt(6.0 / fan);
		float *w = params + m->w_off[l];

		for (uint64_t i = 0; i < nw; i++) {
			/* 24 random bits: exactly representable in float */
			float u = (float)(splitmix64(&state) >> 40) * 0x1p-24f;

			w[i] = (2.0f * u - 1.0f) * limit;
		}
		memset(params + m->b_off[l], 0, m->dim[l + 1] * sizeof(float));
	}
}

int rps_model_check_labels(const rps_model_t *m, const int32_t *y, uint64_t n)
{
	int32_t classes = (int32_t)m->dim[m->nlayers];

	for (uint64_t i = 0; i < n; i++) {
		if (y[i] < 0 || y[i] >= classes) {
			rps_err("model: label %d of row %llu is outside 0..%d", y[i],
				(unsigned long long)i, classes - 1);
			return -EINVAL;
		}
	}
	return 0;
}

int rps_model_predict(rps_model_t *m, const float *params, const float *x, uint64_t n,
		      int32_t *pred)
{
	const uint32_t classes = m->dim[m->nlayers];

	if (n == 0)
		return -EINVAL;
	for (uint64_t r0 = 0; r0 < n; r0 += m->max_batch) {
		uint32_t batch = (uint32_t)(n - r0 < m->max_batch ? n - r0 : m->max_batch);
		const float *logits = m->act[m->nlayers - 1];

		rps_model_forward(m, params, x + r0 * m->dim[0], batch);
		for (uint32_t r = 0; r < batch; r++) {
			const float *z = logits + (size_t)r * classes;
			int32_t best = 0;

			for (uint32_t j = 1; j < classes; j++)
				if (z[j] > z[best])
					best = (int32_t)j;
			pred[r0 + r] = best;
		}
	}
	return 0;
}

int rps_model_evaluate(rps_model_t *m, const float *params, const float *x, const int32_t *y,
		       uint64_t n, float *loss_p, float *acc_p)
{
	double loss = 0.0;
	uint64_t correct = 0;
	int ret;

	if (n == 0)
		return -EINVAL;
	ret = rps_model_check_labels(m, y, n);
	if (ret)
		return ret;
	for (uint64_t r0 = 0; r0 < n; r0 += m->max_batch) {
		uint32_t batch = (uint32_t)(n - r0 < m->max_batch ? n - r0 : m->max_batch);

		rps_model_forward(m, params, x + r0 * m->dim[0], batch);
		loss += rps_model_xent(m, y + r0, batch, 0, &correct);
	}
	*loss_p = (float)(loss / (double)n);
	*acc_p = (float)((double)correct / (double)n);
	return 0;
}
