/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Models: spec parsing, the flat parameter layout, gradients against
 * central finite differences, the loss at initialisation, SGD on a small
 * separable problem, evaluate() against loss_grad(), and init determinism.
 */
#include "config.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "ml/model.h"

static uint64_t rng_state = 0x1234567u;

/* a private LCG: the test data is the same on every run and libc */
static float frand(float lo, float hi)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return lo + (hi - lo) * (float)(rng_state >> 40) * 0x1p-24f;
}

static void fill(float *a, size_t n, float lo, float hi)
{
	for (size_t i = 0; i < n; i++)
		a[i] = frand(lo, hi);
}

static rps_model_t *create_ok(const char *spec, uint32_t in, uint32_t classes, uint32_t max_batch)
{
	rps_model_t *m = NULL;

	assert_int_equal(rps_model_create(spec, in, classes, max_batch, &m), 0);
	assert_non_null(m);
	return m;
}

static void test_spec_good(void **state)
{
	uint32_t h[RPS_MODEL_MAX_HIDDEN], n = 99;

	(void)state;
	assert_int_equal(rps_model_parse_spec("softmax", h, RPS_MODEL_MAX_HIDDEN, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(rps_model_parse_spec("mlp:32", h, RPS_MODEL_MAX_HIDDEN, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(h[0], 32);
	assert_int_equal(rps_model_parse_spec("mlp:32,16", h, RPS_MODEL_MAX_HIDDEN, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(h[0], 32);
	assert_int_equal(h[1], 16);
	assert_int_equal(
		rps_model_parse_spec("mlp:1,2,3,4,5,6,7,1048576", h, RPS_MODEL_MAX_HIDDEN, &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(h[7], RPS_MODEL_MAX_WIDTH);
}

static void test_spec_bad(void **state)
{
	static const char *const bad[] = {
		"",	     "mlp",	    "mlp:",
		"mlp:0",     "mlp:12x",	    "mlp:12,",
		"mlp:,12",   "mlp:12,,3",   "mlp:-1",
		"mlp: 12",   "mlp:+12",	    "Softmax",
		"softmax:3", "mlp:1048577", "mlp:99999999999999",
		"mlp:12 ",   "mlp:0x10",    "mlp:1,2,3,4,5,6,7,8,9",
	};
	uint32_t h[RPS_MODEL_MAX_HIDDEN], n = 99;
	rps_model_t *m = (rps_model_t *)&n; /* must stay untouched on failure */

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (rps_model_parse_spec(bad[i], h, RPS_MODEL_MAX_HIDDEN, &n) != -EINVAL)
			fail_msg("spec '%s' was accepted", bad[i]);
		assert_int_equal(n, 99);
		assert_int_equal(rps_model_create(bad[i], 4, 3, 8, &m), -EINVAL);
		assert_ptr_equal(m, (rps_model_t *)&n);
	}
	assert_int_equal(rps_model_parse_spec(NULL, h, RPS_MODEL_MAX_HIDDEN, &n), -EINVAL);
	/* sizes a model cannot have */
	assert_int_equal(rps_model_create("softmax", 0, 3, 8, &m), -EINVAL);
	assert_int_equal(rps_model_create("softmax", 4, 1, 8, &m), -EINVAL);
	assert_int_equal(rps_model_create("mlp:4", 4, 3, 0, &m), -EINVAL);
	assert_ptr_equal(m, (rps_model_t *)&n);
}

static void test_num_params(void **state)
{
	rps_model_t *m;
	rps_model_layer_t l;

	(void)state;
	m = create_ok("softmax", 784, 10, 16);
	assert_int_equal(rps_model_num_params(m), 784 * 10 + 10);
	assert_int_equal(rps_model_num_layers(m), 1);
	l = rps_model_layer(m, 0);
	assert_int_equal(l.w_off, 0);
	assert_int_equal(l.b_off, 7840);
	rps_model_destroy(m);

	m = create_ok("mlp:32,16", 784, 10, 16);
	/* 784*32 + 32 + 32*16 + 16 + 16*10 + 10 */
	assert_int_equal(rps_model_num_params(m), 25818);
	assert_int_equal(rps_model_num_layers(m), 3);
	l = rps_model_layer(m, 1);
	assert_int_equal(l.in, 32);
	assert_int_equal(l.out, 16);
	assert_int_equal(l.w_off, 784 * 32 + 32);
	assert_int_equal(l.b_off, 784 * 32 + 32 + 32 * 16);
	l = rps_model_layer(m, 2);
	assert_int_equal(l.w_off, 25088 + 32 + 512 + 16);
	assert_int_equal(l.b_off, 25088 + 32 + 512 + 16 + 160);
	assert_int_equal(rps_model_in_dim(m), 784);
	assert_int_equal(rps_model_classes(m), 10);
	assert_int_equal(rps_model_max_batch(m), 16);
	rps_model_destroy(m);
}

/*
 * Central differences on the float loss: with eps = 1e-3 and a loss of
 * order 1, float rounding of the loss costs ~1e-4 absolute in the
 * estimate, so the relative error is taken against max(|g|, |fd|, 1e-2):
 * a coordinate whose gradient is below 1e-2 is checked to ~1e-4
 * absolute, everything else to 1% relative.
 */
#define FD_EPS	 1e-3f
#define FD_RTOL	 1e-2
#define FD_FLOOR 1e-2

static void check_gradient(const char *spec)
{
	enum { IN = 7, C = 4, BATCH = 5 };
	rps_model_t *m = create_ok(spec, IN, C, BATCH);
	size_t np = rps_model_num_params(m);
	float *p = malloc(np * sizeof(float)), *g = malloc(np * sizeof(float));
	float x[BATCH * IN], loss;
	int32_t y[BATCH];
	double worst = 0.0;
	size_t worst_i = 0;

	assert_non_null(p);
	assert_non_null(g);
	rps_model_init(m, p, 7);
	/* non-zero biases, so their gradient is checked at a generic point */
	for (uint32_t l = 0; l < rps_model_num_layers(m); l++) {
		rps_model_layer_t ly = rps_model_layer(m, l);

		fill(p + ly.b_off, ly.out, -0.3f, 0.3f);
	}
	fill(x, BATCH * IN, -1.0f, 1.0f);
	for (int r = 0; r < BATCH; r++)
		y[r] = r % C;
	assert_int_equal(rps_model_loss_grad(m, p, x, y, BATCH, g, &loss), 0);

	for (size_t i = 0; i < np; i++) {
		float keep = p[i], lp, lm;
		double fd, err;

		p[i] = keep + FD_EPS;
		assert_int_equal(rps_model_loss_grad(m, p, x, y, BATCH, NULL, &lp), 0);
		p[i] = keep - FD_EPS;
		assert_int_equal(rps_model_loss_grad(m, p, x, y, BATCH, NULL, &lm), 0);
		p[i] = keep;
		/* the step actually taken, after rounding keep +- eps */
		fd = ((double)lp - lm) / ((double)(keep + FD_EPS) - (double)(keep - FD_EPS));
		err = fabs(fd - g[i]) / fmax(FD_FLOOR, fmax(fabs(fd), fabs(g[i])));
		if (err > worst) {
			worst = err;
			worst_i = i;
		}
		if (err > FD_RTOL)
			fail_msg("%s: grad[%zu] = %.6g, finite difference %.6g (rel err %.3g)",
				 spec, i, g[i], fd, err);
	}
	printf("# %s: %zu coordinates, worst relative error %.3g at %zu\n", spec, np, worst,
	       worst_i);
	free(g);
	free(p);
	rps_model_destroy(m);
}

static void test_grad_softmax(void **state)
{
	(void)state;
	check_gradient("softmax");
}

static void test_grad_mlp(void **state)
{
	(void)state;
	check_gradient("mlp:6,5");
}

/* Zero weights give uniform probabilities: the loss is exactly ln C, and
 * small ones must stay close to it. */
static void check_init_loss(const char *spec)
{
	enum { IN = 20, C = 10, BATCH = 16 };
	rps_model_t *m = create_ok(spec, IN, C, BATCH);
	size_t np = rps_model_num_params(m);
	float *p = calloc(np, sizeof(float)), x[BATCH * IN], loss;
	int32_t y[BATCH];

	assert_non_null(p);
	fill(x, BATCH * IN, -1.0f, 1.0f);
	for (int r = 0; r < BATCH; r++)
		y[r] = (r * 7) % C;
	assert_int_equal(rps_model_loss_grad(m, p, x, y, BATCH, NULL, &loss), 0);
	assert_float_equal(loss, log(C), 1e-6);
	rps_model_init(m, p, 1);
	for (size_t i = 0; i < np; i++)
		p[i] *= 0.01f;
	assert_int_equal(rps_model_loss_grad(m, p, x, y, BATCH, NULL, &loss), 0);
	assert_float_equal(loss, log(C), 1e-2);
	free(p);
	rps_model_destroy(m);
}

static void test_init_loss(void **state)
{
	(void)state;
	check_init_loss("softmax");
	check_init_loss("mlp:32,16");
}

/*
 * Points labelled by a random linear map (argmax of x Wt + bt), so a
 * softmax model can separate them exactly; plain minibatch SGD must get
 * the training accuracy above 90% and cut the loss well below ln C.
 */
static void check_training(const char *spec, float lr)
{
	enum { IN = 5, C = 3, N = 256, BATCH = 32, STEPS = 400 };
	static float x[N * IN];
	static int32_t y[N];
	float wt[IN * C], bt[C], loss0, acc0, loss, acc;
	rps_model_t *m = create_ok(spec, IN, C, BATCH);
	size_t np = rps_model_num_params(m);
	float *p = malloc(np * sizeof(float)), *g = malloc(np * sizeof(float));

	assert_non_null(p);
	assert_non_null(g);
	fill(wt, IN * C, -1.0f, 1.0f);
	fill(bt, C, -0.2f, 0.2f);
	fill(x, N * IN, -1.0f, 1.0f);
	for (int r = 0; r < N; r++) {
		float best = -INFINITY;

		for (int c = 0; c < C; c++) {
			float s = bt[c];

			for (int i = 0; i < IN; i++)
				s += x[r * IN + i] * wt[i * C + c];
			if (s > best) {
				best = s;
				y[r] = c;
			}
		}
	}
	rps_model_init(m, p, 3);
	assert_int_equal(rps_model_evaluate(m, p, x, y, N, &loss0, &acc0), 0);
	for (int step = 0; step < STEPS; step++) {
		int r0 = (step * BATCH) % N;

		assert_int_equal(rps_model_loss_grad(m, p, x + r0 * IN, y + r0, BATCH, g, &loss),
				 0);
		for (size_t i = 0; i < np; i++)
			p[i] -= lr * g[i];
	}
	assert_int_equal(rps_model_evaluate(m, p, x, y, N, &loss, &acc), 0);
	printf("# %s: loss %.4f -> %.4f, accuracy %.3f -> %.3f\n", spec, loss0, loss, acc0, acc);
	assert_true(acc > 0.9f);
	assert_true(loss < 0.5f * loss0);
	free(g);
	free(p);
	rps_model_destroy(m);
}

static void test_train_softmax(void **state)
{
	(void)state;
	check_training("softmax", 0.5f);
}

static void test_train_mlp(void **state)
{
	(void)state;
	check_training("mlp:16", 0.2f);
}

/* evaluate() over several batches (the last one partial) must give the
 * row-weighted mean of loss_grad()'s losses, and its accuracy must match
 * predict(). */
static void test_evaluate(void **state)
{
	enum { IN = 6, C = 5, MB = 8, N = 3 * MB + 3 };
	rps_model_t *m = create_ok("mlp:9", IN, C, MB);
	size_t np = rps_model_num_params(m);
	float *p = malloc(np * sizeof(float)), *g = malloc(np * sizeof(float));
	float x[N * IN], loss, acc, bl;
	int32_t y[N], pred[N];
	double sum = 0.0;
	int correct = 0;

	(void)state;
	assert_non_null(p);
	assert_non_null(g);
	rps_model_init(m, p, 11);
	fill(x, N * IN, -2.0f, 2.0f);
	for (int r = 0; r < N; r++)
		y[r] = (r * 3) % C;
	for (int r0 = 0; r0 < N; r0 += MB) {
		int b = N - r0 < MB ? N - r0 : MB;

		/* with and without the gradient: the same loss */
		assert_int_equal(rps_model_loss_grad(m, p, x + r0 * IN, y + r0, b, NULL, &bl), 0);
		assert_int_equal(rps_model_loss_grad(m, p, x + r0 * IN, y + r0, b, g, &loss), 0);
		assert_float_equal(bl, loss, 0.0);
		sum += (double)bl * b;
	}
	assert_int_equal(rps_model_evaluate(m, p, x, y, N, &loss, &acc), 0);
	assert_float_equal(loss, sum / N, 1e-5 * sum / N);
	assert_int_equal(rps_model_predict(m, p, x, N, pred), 0);
	for (int r = 0; r < N; r++)
		correct += pred[r] == y[r];
	assert_float_equal(acc, (double)correct / N, 1e-6);
	/* one batch: evaluate and loss_grad agree exactly */
	assert_int_equal(rps_model_evaluate(m, p, x, y, MB, &loss, &acc), 0);
	assert_int_equal(rps_model_loss_grad(m, p, x, y, MB, NULL, &bl), 0);
	assert_float_equal(loss, bl, 0.0);
	free(g);
	free(p);
	rps_model_destroy(m);
}

static void test_bad_calls(void **state)
{
	rps_model_t *m = create_ok("softmax", 3, 4, 4);
	float p[16] = { 0 }, g[16], x[12] = { 0 }, loss = 42.0f, acc = 42.0f;
	int32_t y[4] = { 0, 1, 2, 3 };

	(void)state;
	assert_int_equal(rps_model_loss_grad(m, p, x, y, 0, g, &loss), -EINVAL);
	assert_int_equal(rps_model_loss_grad(m, p, x, y, 5, g, &loss), -EINVAL);
	y[2] = 4;
	assert_int_equal(rps_model_loss_grad(m, p, x, y, 4, g, &loss), -EINVAL);
	y[2] = -1;
	assert_int_equal(rps_model_evaluate(m, p, x, y, 4, &loss, &acc), -EINVAL);
	assert_int_equal(rps_model_evaluate(m, p, x, y, 0, &loss, &acc), -EINVAL);
	assert_float_equal(loss, 42.0f, 0.0);
	assert_float_equal(acc, 42.0f, 0.0);
	rps_model_destroy(m);
	rps_model_destroy(NULL);
}

static void test_init_deterministic(void **state)
{
	rps_model_t *m = create_ok("mlp:32,16", 50, 10, 4);
	size_t np = rps_model_num_params(m);
	float *a = malloc(np * sizeof(float)), *b = malloc(np * sizeof(float));
	int differ = 0;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	rps_model_init(m, a, 42);
	rps_model_init(m, b, 42);
	assert_memory_equal(a, b, np * sizeof(float));
	rps_model_init(m, b, 43);
	for (size_t i = 0; i < np; i++)
		differ += a[i] != b[i];
	assert_true(differ > (int)np / 2);
	/* He limits for the ReLU layers, Glorot for the last, biases 0 */
	for (uint32_t l = 0; l < rps_model_num_layers(m); l++) {
		rps_model_layer_t ly = rps_model_layer(m, l);
		double fan = l + 1 < rps_model_num_layers(m) ? ly.in : ly.in + ly.out;
		float limit = (float)sqrt(6.0 / fan), maxabs = 0.0f;

		for (uint64_t i = 0; i < (uint64_t)ly.in * ly.out; i++)
			maxabs = fmaxf(maxabs, fabsf(a[ly.w_off + i]));
		assert_true(maxabs <= limit);
		assert_true(maxabs > 0.9f * limit);
		for (uint32_t j = 0; j < ly.out; j++)
			assert_float_equal(a[ly.b_off + j], 0.0f, 0.0);
	}
	free(b);
	free(a);
	rps_model_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_good),	   cmocka_unit_test(test_spec_bad),
		cmocka_unit_test(test_num_params),	   cmocka_unit_test(test_grad_softmax),
		cmocka_unit_test(test_grad_mlp),	   cmocka_unit_test(test_init_loss),
		cmocka_unit_test(test_train_softmax),	   cmocka_unit_test(test_train_mlp),
		cmocka_unit_test(test_evaluate),	   cmocka_unit_test(test_bad_calls),
		cmocka_unit_test(test_init_deterministic),
	};

	/* small GEMMs on a shared 2-core machine: OpenBLAS threads only add
	 * noise (the library leaves this to the worker, see model.h) */
	openblas_set_num_threads(1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
