/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Update kernels against double-precision scalar references, over random
 * data and edge sizes (0, 1, not a multiple of the vector width, an
 * unaligned start), plus the NaN/Inf rejection every kernel must do.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "optim/kernels.h"

/* sizes around every plausible vector width (4, 8, 16 floats) */
static const size_t sizes[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 1000, 4099 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
#define MAXN   4100
/* float vs double: a handful of ulps of the larger operand */
#define RTOL   2e-6
#define ATOL   1e-7

static unsigned rng_state = 12345;

static float frand(float lo, float hi)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return lo + (hi - lo) * (float)((rng_state >> 8) & 0xffffff) / 16777216.0f;
}

static void fill(float *a, size_t n, float lo, float hi)
{
	for (size_t i = 0; i < n; i++)
		a[i] = frand(lo, hi);
}

static void assert_close(const float *got, const double *ref, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		double tol = ATOL + RTOL * fabs(ref[i]);

		if (fabs((double)got[i] - ref[i]) > tol)
			fail_msg("%s[%zu] = %.9g, reference %.9g", what, i, got[i], ref[i]);
	}
}

/* Buffers with one spare float in front, so a test can start the arrays
 * one element past an aligned address (the unaligned case). */
struct bufs {
	float w[MAXN + 1], b[MAXN + 1], g[MAXN + 1], v[MAXN + 1], ms[MAXN + 1];
	double rw[MAXN], rb[MAXN], rv[MAXN], rms[MAXN];
};

static struct bufs B;

/* Every kernel test runs twice: with undo scratch (the fused one-pass
 * path the engine uses) and without (the two-pass path). */
static float undo_buf[3 * (MAXN + 1)];
static float *UNDO;

static int use_fused(void **state)
{
	(void)state;
	UNDO = undo_buf;
	return 0;
}

static int use_two_pass(void **state)
{
	(void)state;
	UNDO = NULL;
	return 0;
}

static void test_finite_check(void **state)
{
	float *g = B.g;

	(void)state;
	for (size_t k = 0; k < NSIZES; k++) {
		size_t n = sizes[k];

		fill(g, n, -1e30f, 1e30f);
		assert_true(rps_optim_all_finite(g, n));
		if (!n)
			continue;
		/* a bad value at the first, last and a middle position */
		const size_t pos[] = { 0, n - 1, n / 2 };
		const float bad[] = { NAN, INFINITY, -INFINITY };
		for (int p = 0; p < 3; p++) {
			for (int v = 0; v < 3; v++) {
				float keep = g[pos[p]];

				g[pos[p]] = bad[v];
				assert_false(rps_optim_all_finite(g, n));
				g[pos[p]] = keep;
			}
		}
		/* the largest finite value and a denormal are fine */
		g[0] = 3.4028235e38f;
		g[n - 1] = 1e-45f;
		assert_true(rps_optim_all_finite(g, n));
	}
}

/* Every kernel: NaN in g returns -EDOM and modifies nothing. */
typedef int (*kernel_call_fn)(float *w, float *b, float *ms, float *v, const float *g, size_t n);

static int call_sgd(float *w, float *b, float *ms, float *v, const float *g, size_t n)
{
	rps_sgd_params_t p = { 0.1f, 0.9f, 0.01f };
	(void)ms;
	return rps_optim_sgd(w, v, b, g, n, &p, UNDO);
}

static int call_acc(float *w, float *b, float *ms, float *v, const float *g, size_t n)
{
	(void)b;
	(void)ms;
	(void)v;
	return rps_optim_accumulate(w, g, n, false);
}

static int call_dc(float *w, float *b, float *ms, float *v, const float *g, size_t n)
{
	const rps_dcasgd_params_t p = { 0.1f, 0.04f };
	(void)ms;
	(void)v;
	return rps_optim_dcasgd(w, b, g, n, &p, UNDO);
}

static int call_dca(float *w, float *b, float *ms, float *v, const float *g, size_t n)
{
	rps_dcasgd_a_params_t p = { 0.1f, 2.0f, 0.95f, 1e-7f };
	(void)v;
	return rps_optim_dcasgd_a(w, b, ms, g, n, &p, UNDO);
}

static int call_pc(float *w, float *b, float *ms, float *v, const float *g, size_t n)
{
	const rps_pcasgd_params_t p = { 0.1f, 0.04f, 0.5f, true };
	(void)ms;
	(void)v;
	return rps_optim_pcasgd(w, b, g, n, &p, UNDO);
}

static int call_dude(float *w, float *b, float *ms, float *v, const float *g, size_t n)
{
	const rps_dude_params_t p = { 0.1f, 0.25f };
	/* b plays S, v plays g_old, ms the snapshot */
	return rps_optim_dude(w, b, ms, g, v, n, &p, UNDO);
}

static void test_nonfinite_rejected_untouched(void **state)
{
	const kernel_call_fn kernels[] = {
		call_sgd, call_acc, call_dc, call_dca, call_pc, call_dude
	};
	static float w0[MAXN], b0[MAXN], ms0[MAXN], v0[MAXN];
	const size_t n = 1000;

	(void)state;
	for (size_t k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++) {
		fill(B.w, n, -1, 1);
		fill(B.b, n, -1, 1);
		fill(B.ms, n, 0, 1);
		fill(B.v, n, -1, 1);
		fill(B.g, n, -1, 1);
		B.g[777] = NAN;
		memcpy(w0, B.w, n * sizeof(float));
		memcpy(b0, B.b, n * sizeof(float));
		memcpy(ms0, B.ms, n * sizeof(float));
		memcpy(v0, B.v, n * sizeof(float));
		assert_int_equal(kernels[k](B.w, B.b, B.ms, B.v, B.g, n), -EDOM);
		assert_memory_equal(B.w, w0, n * sizeof(float));
		assert_memory_equal(B.b, b0, n * sizeof(float));
		assert_memory_equal(B.ms, ms0, n * sizeof(float));
		assert_memory_equal(B.v, v0, n * sizeof(float));
		/* and the same data without the NaN is applied */
		B.g[777] = 0.5f;
		assert_int_equal(kernels[k](B.w, B.b, B.ms, B.v, B.g, n), 0);
		assert_memory_not_equal(B.w, w0, n * sizeof(float));
	}
}

static void test_sgd_matches_reference(void **state)
{
	const rps_sgd_params_t cases[] = { { 0.05f, 0.0f, 0.0f },
					   { 0.05f, 0.0f, 1e-3f },
					   { 0.01f, 0.9f, 0.0f },
					   { 0.01f, 0.9f, 5e-4f } };

	(void)state;
	for (int off = 0; off < 2; off++) {
		float *w = B.w + off, *v = B.v + off, *g = B.g + off;

		for (size_t c = 0; c < 4; c++) {
			const rps_sgd_params_t *p = &cases[c];

			for (size_t k = 0; k < NSIZES; k++) {
				size_t n = sizes[k];

				fill(w, n, -1, 1);
				memset(v, 0, n * sizeof(float));
				for (size_t i = 0; i < n; i++) {
					B.rw[i] = w[i];
					B.rv[i] = 0;
				}
				/* several steps, so the momentum buffer matters */
				for (int step = 0; step < 3; step++) {
					fill(g, n, -2, 2);
					/* odd steps also write the snapshot */
					float *snap = step & 1 ? B.b + off : NULL;

					assert_int_equal(rps_optim_sgd(w, v, snap, g, n, p, UNDO),
							 0);
					if (snap)
						assert_memory_equal(snap, w, n * sizeof(float));
					for (size_t i = 0; i < n; i++) {
						double d = (double)g[i] +
							   (double)p->weight_decay * B.rw[i];

						if (p->momentum != 0.0f) {
							B.rv[i] = (double)p->momentum * B.rv[i] + d;
							d = B.rv[i];
						}
						B.rw[i] -= (double)p->lr * d;
					}
					/* compare against the reference, then continue
					 * from the kernel's own state so errors do not
					 * compound over steps */
					assert_close(w, B.rw, n, "sgd w");
					for (size_t i = 0; i < n; i++) {
						B.rw[i] = w[i];
						B.rv[i] = v[i];
					}
				}
			}
		}
	}
}

static void test_accumulate(void **state)
{
	float *acc = B.w, *g = B.g;
	const size_t n = 1001;

	(void)state;
	memset(B.rw, 0, sizeof(B.rw));
	for (int m = 0; m < 4; m++) {
		fill(g, n, -1, 1);
		assert_int_equal(rps_optim_accumulate(acc, g, n, m == 0), 0);
		for (size_t i = 0; i < n; i++)
			B.rw[i] += g[i];
	}
	assert_close(acc, B.rw, n, "acc");
}

/* reference of one DC-ASGD-family step for element i, in double */
static double dc_ref(double w, double b, double g, double lr, double lambda)
{
	return w - lr * (g + lambda * g * g * (w - b));
}

static void test_dcasgd_matches_reference(void **state)
{
	const rps_dcasgd_params_t p = { 0.1f, 0.04f };

	(void)state;
	for (int off = 0; off < 2; off++) {
		float *w = B.w + off, *b = B.b + off, *g = B.g + off;

		for (size_t k = 0; k < NSIZES; k++) {
			size_t n = sizes[k];

			fill(w, n, -1, 1);
			fill(b, n, -1, 1);
			fill(g, n, -3, 3);
			for (size_t i = 0; i < n; i++)
				B.rw[i] = dc_ref(w[i], b[i], g[i], 0.1, 0.04);
			assert_int_equal(rps_optim_dcasgd(w, b, g, n, &p, UNDO), 0);
			assert_close(w, B.rw, n, "dcasgd w");
			/* the snapshot now equals the new weights, exactly */
			assert_memory_equal(b, w, n * sizeof(float));
		}
	}
}

static void test_dcasgd_a_matches_reference(void **state)
{
	const rps_dcasgd_a_params_t p = { 0.05f, 2.0f, 0.95f, 1e-7f };

	(void)state;
	for (int off = 0; off < 2; off++) {
		float *w = B.w + off, *b = B.b + off, *g = B.g + off, *ms = B.ms + off;

		for (size_t k = 0; k < NSIZES; k++) {
			size_t n = sizes[k];

			fill(w, n, -1, 1);
			fill(b, n, -1, 1);
			fill(ms, n, 0, 0.5f);
			fill(g, n, -1, 1);
			for (size_t i = 0; i < n; i++) {
				double gi = g[i];
				double msi = 0.95 * ms[i] + 0.05 * gi * gi;
				double lambda = 2.0 / sqrt(msi + 1e-7);

				B.rms[i] = msi;
				B.rw[i] = dc_ref(w[i], b[i], gi, 0.05, lambda);
			}
			assert_int_equal(rps_optim_dcasgd_a(w, b, ms, g, n, &p, UNDO), 0);
			assert_close(ms, B.rms, n, "dcasgd-a ms");
			assert_close(w, B.rw, n, "dcasgd-a w");
			assert_memory_equal(b, w, n * sizeof(float));
		}
	}
}

static void test_pcasgd_matches_reference(void **state)
{
	const float thetas[] = { 0.0f, 0.3f, 1.0f };

	(void)state;
	for (int fresh = 0; fresh < 2; fresh++) {
		for (int t = 0; t < 3; t++) {
			const size_t n = 4099;
			double theta = thetas[t];
			const rps_pcasgd_params_t p = { 0.1f, 0.04f, thetas[t], fresh };

			fill(B.w, n, -1, 1);
			fill(B.b, n, -1, 1);
			fill(B.g, n, -3, 3);
			for (size_t i = 0; i < n; i++) {
				double gi = B.g[i], wi = B.w[i];
				double pred = gi + 0.04 * gi * gi * (wi - B.b[i]);

				B.rw[i] = wi - 0.1 * (theta * pred + (fresh ? 1 - theta : 0) * gi);
			}
			assert_int_equal(rps_optim_pcasgd(B.w, B.b, B.g, n, &p, UNDO), 0);
			assert_close(B.w, B.rw, n, "pcasgd w");
			assert_memory_equal(B.b, B.w, n * sizeof(float));
		}
	}
}

/* theta = 1 must be DC-ASGD-c bit for bit; theta = 0 with a stale push
 * must leave w alone. */
static void test_pcasgd_limits(void **state)
{
	static float w2[MAXN], b2[MAXN];
	const rps_pcasgd_params_t one = { 0.1f, 0.04f, 1.0f, true };
	const rps_pcasgd_params_t stale = { 0.1f, 0.04f, 0.0f, false };
	const rps_dcasgd_params_t dc = { 0.1f, 0.04f };
	const size_t n = 1003;

	(void)state;
	fill(B.w, n, -1, 1);
	fill(B.b, n, -1, 1);
	fill(B.g, n, -3, 3);
	memcpy(w2, B.w, n * sizeof(float));
	memcpy(b2, B.b, n * sizeof(float));
	assert_int_equal(rps_optim_pcasgd(B.w, B.b, B.g, n, &one, UNDO), 0);
	assert_int_equal(rps_optim_dcasgd(w2, b2, B.g, n, &dc, UNDO), 0);
	assert_memory_equal(B.w, w2, n * sizeof(float));

	memcpy(w2, B.w, n * sizeof(float));
	assert_int_equal(rps_optim_pcasgd(B.w, B.b, B.g, n, &stale, UNDO), 0);
	assert_memory_equal(B.w, w2, n * sizeof(float));
}

static void test_dude_matches_reference(void **state)
{
	static float s[MAXN], gold[MAXN];
	static double rs[MAXN];
	const rps_dude_params_t p = { 0.1f, 0.25f };

	(void)state;
	for (size_t k = 0; k < NSIZES; k++) {
		size_t n = sizes[k];

		fill(B.w, n, -1, 1);
		fill(s, n, -4, 4);
		fill(gold, n, -1, 1);
		fill(B.g, n, -1, 1);
		for (size_t i = 0; i < n; i++) {
			rs[i] = (double)s[i] + ((double)B.g[i] - gold[i]);
			B.rw[i] = B.w[i] - 0.1 * 0.25 * rs[i];
		}
		assert_int_equal(rps_optim_dude(B.w, s, B.b, B.g, gold, n, &p, UNDO), 0);
		assert_close(s, rs, n, "dude S");
		assert_close(B.w, B.rw, n, "dude w");
		assert_memory_equal(B.b, B.w, n * sizeof(float));

		/* a first push: no previous gradient */
		for (size_t i = 0; i < n; i++) {
			rs[i] = (double)s[i] + B.g[i];
			B.rw[i] = B.w[i] - 0.1 * 0.25 * rs[i];
		}
		assert_int_equal(rps_optim_dude(B.w, s, NULL, B.g, NULL, n, &p, UNDO), 0);
		assert_close(s, rs, n, "dude S first");
		assert_close(B.w, B.rw, n, "dude w first");
	}
}

/* Many incremental updates let S drift from the true sum of the latest
 * gradients; the periodic exact recomputation brings it back. */
static void test_dude_drift_bounded_by_refresh(void **state)
{
	enum { M = 4, N = 512, PUSHES = 20000 };
	static float h[2][M][N], s[N], w[N];
	int cur[M] = { 0 };
	bool pushed[M] = { false };
	const rps_dude_params_t p = { 1e-6f, 1.0f / M };
	double drift = 0, after = 0;

	(void)state;
	memset(s, 0, sizeof(s));
	memset(w, 0, sizeof(w));
	for (int t = 0; t < PUSHES; t++) {
		int m = t % M;
		float *g_new = h[!cur[m]][m];

		/* large and small magnitudes mixed: the worst case for drift */
		for (int i = 0; i < N; i++)
			g_new[i] = frand(-1, 1) * ((t / M) % 2 ? 1000.0f : 0.001f);
		assert_int_equal(rps_optim_dude(w, s, NULL, g_new, pushed[m] ? h[cur[m]][m] : NULL,
						N, &p, UNDO),
				 0);
		cur[m] = !cur[m];
		pushed[m] = true;
	}
	const float *latest[M];
	for (int m = 0; m < M; m++)
		latest[m] = h[cur[m]][m];
	for (int i = 0; i < N; i++) {
		double exact = 0;

		for (int m = 0; m < M; m++)
			exact += latest[m][i];
		drift = fmax(drift, fabs(s[i] - exact));
	}
	rps_optim_sum(s, latest, M, N);
	for (int i = 0; i < N; i++) {
		double exact = 0;

		for (int m = 0; m < M; m++)
			exact += latest[m][i];
		after = fmax(after, fabs(s[i] - exact) / fmax(1e-30, fabs(exact)));
	}
	print_message("dude: max drift before refresh %.3g, relative error after %.3g\n", drift,
		      after);
	/* the refresh is the exact sum rounded once to float */
	assert_true(after <= 6e-8);
	/* and the drift it repairs is real: incremental float updates lost
	 * bits (if this ever fails, the test no longer exercises the refresh) */
	assert_true(drift > 1e-6);
}

/*
 * The engine runs the fused path, the replay test (and any caller without
 * scratch) the two-pass one: every kernel must give the same bits both
 * ways.  Each case runs a kernel twice from the same inputs, on copy 1
 * with undo and on copy 2 with undo == NULL, over a size that is not a
 * multiple of any vector width and from an unaligned start, then compares
 * every array it writes.
 */
enum { BIT_N = 4099, BIT_ARRAYS = 4 };

/* arrays x[0..3] of one copy: what each kernel reads and writes */
typedef int (*bit_kernel_fn)(float *const *x, const float *g, size_t n, float *undo);

static int bit_sgd(float *const *x, const float *g, size_t n, float *undo)
{
	const rps_sgd_params_t p = { 0.05f, 0.0f, 1e-3f };

	return rps_optim_sgd(x[0], NULL, x[1], g, n, &p, undo);
}

static int bit_sgd_momentum(float *const *x, const float *g, size_t n, float *undo)
{
	const rps_sgd_params_t p = { 0.01f, 0.9f, 5e-4f };

	return rps_optim_sgd(x[0], x[2], x[1], g, n, &p, undo);
}

static int bit_dcasgd(float *const *x, const float *g, size_t n, float *undo)
{
	const rps_dcasgd_params_t p = { 0.1f, 0.04f };

	return rps_optim_dcasgd(x[0], x[1], g, n, &p, undo);
}

static int bit_dcasgd_a(float *const *x, const float *g, size_t n, float *undo)
{
	const rps_dcasgd_a_params_t p = { 0.05f, 2.0f, 0.95f, 1e-7f };

	return rps_optim_dcasgd_a(x[0], x[1], x[2], g, n, &p, undo);
}

static int bit_pcasgd_fresh(float *const *x, const float *g, size_t n, float *undo)
{
	const rps_pcasgd_params_t p = { 0.1f, 0.04f, 0.3f, true };

	return rps_optim_pcasgd(x[0], x[1], g, n, &p, undo);
}

static int bit_pcasgd_stale(float *const *x, const float *g, size_t n, float *undo)
{
	const rps_pcasgd_params_t p = { 0.1f, 0.04f, 0.3f, false };

	return rps_optim_pcasgd(x[0], x[1], g, n, &p, undo);
}

static int bit_dude(float *const *x, const float *g, size_t n, float *undo)
{
	const rps_dude_params_t p = { 0.1f, 0.25f };

	/* x[2] = S, x[3] = the previous gradient (read only) */
	return rps_optim_dude(x[0], x[2], x[1], g, x[3], n, &p, undo);
}

static void test_fused_equals_two_pass_bitwise(void **state)
{
	static const struct {
		const char *name;
		bit_kernel_fn fn;
	} cases[] = {
		{ "sgd", bit_sgd },
		{ "sgd momentum", bit_sgd_momentum },
		{ "dcasgd", bit_dcasgd },
		{ "dcasgd-a", bit_dcasgd_a },
		{ "pcasgd fresh", bit_pcasgd_fresh },
		{ "pcasgd stale", bit_pcasgd_stale },
		{ "dude", bit_dude },
	};
	static float c1[BIT_ARRAYS][BIT_N + 1], c2[BIT_ARRAYS][BIT_N + 1];
	/* ranges: w, b, state (ms, v or S: >= 0 for ms), g_old */
	static const float lo[BIT_ARRAYS] = { -1, -1, 0, -1 }, hi[BIT_ARRAYS] = { 1, 1, 1, 1 };

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		for (int off = 0; off < 2; off++) {
			float *x1[BIT_ARRAYS], *x2[BIT_ARRAYS];
			float *g = B.g + off;

			for (int a = 0; a < BIT_ARRAYS; a++) {
				x1[a] = c1[a] + off;
				x2[a] = c2[a] + off;
				fill(x1[a], BIT_N, lo[a], hi[a]);
				memcpy(x2[a], x1[a], BIT_N * sizeof(float));
			}
			fill(g, BIT_N, -3, 3);
			/* two steps: the second starts from state the first wrote */
			for (int step = 0; step < 2; step++) {
				assert_int_equal(cases[k].fn(x1, g, BIT_N, undo_buf), 0);
				assert_int_equal(cases[k].fn(x2, g, BIT_N, NULL), 0);
				for (int a = 0; a < BIT_ARRAYS; a++)
					if (memcmp(x1[a], x2[a], BIT_N * sizeof(float)))
						fail_msg(
							"%s (offset %d, step %d): array %d differs "
							"between the fused and two-pass paths",
							cases[k].name, off, step, a);
			}
		}
	}
}

/* DC-S3GD's local step and its adaptive lambda against double sums */
static void test_dcs3gd_matches_reference(void **state)
{
	static float dw[MAXN + 1];
	static double rdw[MAXN];
	rps_dcs3gd_params_t p = { 0.05f, 0 };

	(void)state;
	for (int off = 0; off < 2; off++) {
		float *w = B.w + off, *wbar = B.b + off, *g = B.g + off;

		for (size_t k = 0; k < NSIZES; k++) {
			size_t n = sizes[k];
			double gg = 0, cc = 0, lambda;
			float got;

			fill(w, n, -1, 1);
			fill(wbar, n, -1, 1);
			fill(g, n, -3, 3);
			for (size_t i = 0; i < n; i++) {
				double d = (double)wbar[i] - w[i], c = (double)g[i] * g[i] * d;

				gg += (double)g[i] * g[i];
				cc += c * c;
			}
			lambda = cc > 0 ? 0.2 * sqrt(gg) / sqrt(cc) : 0;
			got = rps_optim_dcs3gd_lambda(w, wbar, g, n, 0.2f);
			if (fabs(got - lambda) > 1e-6 * lambda + 1e-30)
				fail_msg("lambda n=%zu: %.9g, reference %.9g", n, got, lambda);
			for (size_t i = 0; i < n; i++) {
				double d = (double)wbar[i] - w[i];

				rdw[i] = -0.05 * (g[i] + (double)got * g[i] * g[i] * d);
				B.rw[i] = wbar[i] + rdw[i];
			}
			p.lambda = got;
			assert_int_equal(rps_optim_dcs3gd(w, dw + off, wbar, g, n, &p), 0);
			assert_close(dw + off, rdw, n, "dcs3gd dw");
			assert_close(w, B.rw, n, "dcs3gd w");
		}
	}
	/* no correction to make: D = 0 gives lambda 0, not a division by 0 */
	fill(B.w, 64, -1, 1);
	memcpy(B.b, B.w, 64 * sizeof(float));
	fill(B.g, 64, -3, 3);
	assert_true(rps_optim_dcs3gd_lambda(B.w, B.b, B.g, 64, 0.2f) == 0.0f);
	/* a non-finite gradient changes nothing */
	B.g[17] = NAN;
	memcpy(dw, B.w, 64 * sizeof(float));
	p.lambda = 0.1f;
	assert_int_equal(rps_optim_dcs3gd(B.w, B.v, B.b, B.g, 64, &p), -EDOM);
	assert_memory_equal(B.w, dw, 64 * sizeof(float));
}

/*
 * PC-ASGD, agent side.  The reference is the header's equations as they
 * are written (weighted means over the present set, then the prediction
 * term), in double: the kernel computes the consensus as x plus weighted
 * differences, in float, so the two share no code and no rounding.
 */
#define PCD_K	 3
#define PCD_RTOL 1e-5
#define PCD_ATOL 1e-6
#define PCD_SEED 20240613u

static float pcd_nbx[PCD_K][MAXN], pcd_nbg[PCD_K][MAXN], pcd_garbage[MAXN];

static struct {
	double x[MAXN], v[MAXN], pred[MAXN], clip[MAXN];
	double score_pred, score_clip;
	enum rps_pcasgd_choice choice;
} R;

/* values are O(1): 1e-5 relative, 1e-6 absolute near 0 (a few float
 * roundings of O(1) terms that cancel) */
static void assert_close_pcd(const float *got, const double *ref, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		double tol = PCD_ATOL + PCD_RTOL * fabs(ref[i]);

		if (!(fabs((double)got[i] - ref[i]) <= tol))
			fail_msg("%s[%zu] = %.9g, reference %.9g", what, i, got[i], ref[i]);
	}
}

static void pcd_reference(const float *x, const float *v, const float *g, const float *const *nb_x,
			  const float *const *nb_g, size_t n, const rps_pcasgd_dec_params_t *p)
{
	double lr = p->lr, w_all = p->pi_self, w_on = p->pi_self;
	double pn = 0, pd = 0, cn = 0, cd = 0;
	bool any_delayed = false;

	for (uint32_t k = 0; k < p->k; k++) {
		if (p->state[k] == RPS_PCASGD_NB_ON_TIME) {
			w_all += p->pi[k];
			w_on += p->pi[k];
		} else if (p->state[k] == RPS_PCASGD_NB_DELAYED) {
			w_all += p->pi[k];
			any_delayed = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		double xi = x[i], vn = (double)p->momentum * v[i] - lr * g[i];
		double all = p->pi_self * xi, on = p->pi_self * xi, corr = 0;

		for (uint32_t k = 0; k < p->k; k++) {
			double pk = p->pi[k];

			if (p->state[k] == RPS_PCASGD_NB_ON_TIME) {
				all += pk * nb_x[k][i];
				on += pk * nb_x[k][i];
			} else if (p->state[k] == RPS_PCASGD_NB_DELAYED) {
				double h = nb_g[k][i];

				all += pk * nb_x[k][i];
				corr += pk / w_all * (-lr * h * h * (xi - nb_x[k][i]));
			}
		}
		R.pred[i] = all / w_all + corr + vn;
		R.clip[i] = on / w_on + vn;
		R.v[i] = vn;
		pn += (R.pred[i] - xi) * (R.pred[i] - xi) * g[i] * g[i];
		pd += (R.pred[i] - xi) * (R.pred[i] - xi);
		cn += (R.clip[i] - xi) * (R.clip[i] - xi) * g[i] * g[i];
		cd += (R.clip[i] - xi) * (R.clip[i] - xi);
	}
	R.score_pred = pd > 0 ? sqrt(pn / pd) : 0;
	R.score_clip = cd > 0 ? sqrt(cn / cd) : 0;
	if (!any_delayed)
		R.choice = RPS_PCASGD_NONE_DELAYED;
	else if (p->theta_auto)
		R.choice = R.score_pred > R.score_clip ? RPS_PCASGD_PREDICTED : RPS_PCASGD_CLIPPED;
	else if (p->theta == 1.0f)
		R.choice = RPS_PCASGD_PREDICTED;
	else if (p->theta == 0.0f)
		R.choice = RPS_PCASGD_CLIPPED;
	else
		R.choice = RPS_PCASGD_MIXED;
	for (size_t i = 0; i < n; i++) {
		switch (R.choice) {
		case RPS_PCASGD_PREDICTED:
			R.x[i] = R.pred[i];
			break;
		case RPS_PCASGD_MIXED:
			R.x[i] = (double)p->theta * R.pred[i] + (1 - (double)p->theta) * R.clip[i];
			break;
		default:
			R.x[i] = R.clip[i];
		}
	}
}

/* x, v, g in B.w, B.v, B.g; the neighbours' copies in pcd_nbx/pcd_nbg */
static void pcd_fill(size_t n, float nbg_hi)
{
	fill(B.w, n, -1, 1);
	fill(B.v, n, -0.5f, 0.5f);
	fill(B.g, n, -2, 2);
	for (int k = 0; k < PCD_K; k++) {
		fill(pcd_nbx[k], n, -1, 1);
		fill(pcd_nbg[k], n, -nbg_hi, nbg_hi);
	}
}

static const float *const pcd_x[PCD_K] = { pcd_nbx[0], pcd_nbx[1], pcd_nbx[2] };
static const float *const pcd_g[PCD_K] = { pcd_nbg[0], pcd_nbg[1], pcd_nbg[2] };

/* runs the reference, then the kernel, and checks x, v and the choice */
static void pcd_check(size_t n, const float *const *nb_x, const float *const *nb_g,
		      const rps_pcasgd_dec_params_t *p, const char *what)
{
	enum rps_pcasgd_choice got = (enum rps_pcasgd_choice)77;

	pcd_reference(B.w, B.v, B.g, nb_x, nb_g, n, p);
	assert_int_equal(rps_optim_pcasgd_dec(B.w, B.v, B.g, nb_x, nb_g, n, p, &got), 0);
	if (got != R.choice)
		fail_msg("%s: choice %d, reference %d", what, got, R.choice);
	assert_close_pcd(B.w, R.x, n, what);
	assert_close_pcd(B.v, R.v, n, what);
}

/* fixed theta, one neighbour of each state (in each position), n = 1000
 * and 1, with and without momentum */
static void test_pcasgd_dec_matches_reference(void **state)
{
	static const size_t ns[] = { 1000, 1 };
	static const float moms[] = { 0.9f, 0.0f }, thetas[] = { 0.0f, 0.3f, 0.5f, 1.0f };
	static const uint8_t states[PCD_K] = { RPS_PCASGD_NB_ON_TIME, RPS_PCASGD_NB_DELAYED,
					       RPS_PCASGD_NB_ABSENT };
	const float pi[PCD_K] = { 0.2f, 0.3f, 0.25f };

	(void)state;
	rng_state = PCD_SEED;
	for (size_t a = 0; a < 2; a++) {
		for (size_t m = 0; m < 2; m++) {
			for (size_t t = 0; t < 4; t++) {
				for (int rot = 0; rot < PCD_K; rot++) {
					uint8_t st[PCD_K];
					rps_pcasgd_dec_params_t p = {
						.lr = 0.1f,
						.momentum = moms[m],
						.theta = thetas[t],
						.pi_self = 0.25f,
						.k = PCD_K,
						.pi = pi,
						.state = st,
					};
					char what[96];

					for (int k = 0; k < PCD_K; k++)
						st[k] = states[(k + rot) % PCD_K];
					snprintf(what, sizeof(what),
						 "pcasgd_dec n=%zu momentum=%g theta=%g rot=%d",
						 ns[a], moms[m], thetas[t], rot);
					pcd_fill(ns[a], 3);
					pcd_check(ns[a], pcd_x, pcd_g, &p, what);
				}
			}
		}
	}
}

/* theta_auto on random data: the kernel takes the candidate the double
 * reference's scores pick, and writes exactly what theta = 1 or 0 would */
static void test_pcasgd_dec_auto_matches_reference(void **state)
{
	static float x0[MAXN], v0[MAXN], x1[MAXN], v1[MAXN];
	static const uint8_t st[PCD_K] = { RPS_PCASGD_NB_DELAYED, RPS_PCASGD_NB_ON_TIME,
					   RPS_PCASGD_NB_DELAYED };
	const float pi[PCD_K] = { 0.3f, 0.2f, 0.25f };
	const size_t n = 1000;
	int picked[4] = { 0 }, close = 0;

	(void)state;
	rng_state = PCD_SEED + 1;
	for (int trial = 0; trial < 40; trial++) {
		rps_pcasgd_dec_params_t p = {
			.lr = 0.1f,
			.momentum = trial & 1 ? 0.9f : 0.0f,
			.theta_auto = true,
			.pi_self = 0.25f,
			.k = PCD_K,
			.pi = pi,
			.state = st,
		};
		enum rps_pcasgd_choice got = (enum rps_pcasgd_choice)77, fixed;

		/* from a small prediction term to one larger than the step */
		pcd_fill(n, 0.25f + 0.25f * (float)trial);
		memcpy(x0, B.w, n * sizeof(float));
		memcpy(v0, B.v, n * sizeof(float));
		pcd_reference(B.w, B.v, B.g, pcd_x, pcd_g, n, &p);
		if (fabs(R.score_pred - R.score_clip) <= 1e-4 * fmax(R.score_pred, R.score_clip)) {
			close++; /* too close to call in float: skip */
			continue;
		}
		assert_int_equal(rps_optim_pcasgd_dec(B.w, B.v, B.g, pcd_x, pcd_g, n, &p, &got), 0);
		assert_int_equal(got, R.choice);
		picked[got]++;
		assert_close_pcd(B.w, got == RPS_PCASGD_PREDICTED ? R.pred : R.clip, n, "auto x");
		assert_close_pcd(B.v, R.v, n, "auto v");

		/* the same step with theta fixed to the chosen candidate */
		memcpy(x1, x0, n * sizeof(float));
		memcpy(v1, v0, n * sizeof(float));
		p.theta_auto = false;
		p.theta = got == RPS_PCASGD_PREDICTED ? 1.0f : 0.0f;
		assert_int_equal(rps_optim_pcasgd_dec(x1, v1, B.g, pcd_x, pcd_g, n, &p, &fixed), 0);
		assert_int_equal(fixed, got);
		assert_memory_equal(x1, B.w, n * sizeof(float));
		assert_memory_equal(v1, B.v, n * sizeof(float));
	}
	print_message("pcasgd_dec auto: %d predicted, %d clipped, %d too close\n",
		      picked[RPS_PCASGD_PREDICTED], picked[RPS_PCASGD_CLIPPED], close);
	/* the sweep exercises both outcomes (fixed seed) */
	assert_true(picked[RPS_PCASGD_PREDICTED] > 0);
	assert_true(picked[RPS_PCASGD_CLIPPED] > 0);
}

/*
 * theta_auto, cases decided by construction.  |g| = G on the even
 * coordinates (A), g = 0 on the odd ones (B), momentum 0: every
 * displacement d = cand - x has score^2 = G^2 * |d_A|^2 / (|d_A|^2 +
 * |d_B|^2), so the candidate moving more of its step onto A wins.
 *
 * Predicted wins: the on-time neighbour disagrees with x only on B; the
 * delayed one only on A, ahead of x along -g (where g's step goes).  On
 * A, clip moves by -lr*g and pred by that plus terms of the same sign
 * (strictly more); on B, pred's shift is the clip's scaled by W_on/W_all
 * < 1 (strictly less).
 *
 * Clipped wins: the on-time neighbour agrees with x; the delayed one
 * disagrees only on B.  clip moves only on A (score G, the maximum);
 * pred moves the same on A and also on B (score < G).
 */
static void pcd_construct(size_t n, bool pred_wins)
{
	float *on = pcd_nbx[0], *del = pcd_nbx[1];

	fill(B.w, n, -1, 1);
	fill(B.v, n, -1, 1); /* ignored: momentum 0 */
	for (size_t i = 0; i < n; i++) {
		bool a = !(i & 1);
		float sign = frand(-1, 1) < 0 ? -1.0f : 1.0f;

		B.g[i] = a ? 0.75f * sign : 0.0f;
		pcd_nbg[0][i] = frand(-3, 3); /* on time: never read */
		pcd_nbg[1][i] = a == pred_wins ? frand(1, 3) : 0.0f;
		if (pred_wins) {
			on[i] = a ? B.w[i] : B.w[i] + frand(-1, 1);
			/* ahead along -g: nb_x - x has the sign of -g */
			del[i] = a ? B.w[i] - sign * frand(0.1f, 1) : B.w[i];
		} else {
			on[i] = B.w[i];
			del[i] = a ? B.w[i] : B.w[i] + frand(-1, 1);
		}
	}
}

static void test_pcasgd_dec_auto_by_construction(void **state)
{
	static float x0[MAXN], v0[MAXN], x1[MAXN], v1[MAXN];
	static const uint8_t st[PCD_K] = { RPS_PCASGD_NB_ON_TIME, RPS_PCASGD_NB_DELAYED,
					   RPS_PCASGD_NB_ABSENT };
	const float *nb_x[PCD_K] = { pcd_nbx[0], pcd_nbx[1], NULL };
	const float *nb_g[PCD_K] = { pcd_nbg[0], pcd_nbg[1], NULL };
	const float pi[PCD_K] = { 0.3f, 0.3f, 0.2f };
	const size_t n = 1000;

	(void)state;
	rng_state = PCD_SEED + 2;
	for (int pred_wins = 0; pred_wins < 2; pred_wins++) {
		rps_pcasgd_dec_params_t p = {
			.lr = 0.1f,
			.momentum = 0.0f,
			.theta_auto = true,
			.pi_self = 0.4f,
			.k = PCD_K,
			.pi = pi,
			.state = st,
		};
		enum rps_pcasgd_choice want = pred_wins ? RPS_PCASGD_PREDICTED : RPS_PCASGD_CLIPPED;
		enum rps_pcasgd_choice got = (enum rps_pcasgd_choice)77, fixed;

		pcd_construct(n, pred_wins);
		memcpy(x0, B.w, n * sizeof(float));
		memcpy(v0, B.v, n * sizeof(float));
		pcd_reference(B.w, B.v, B.g, nb_x, nb_g, n, &p);
		print_message("pcasgd_dec constructed: score pred %.6g, clip %.6g\n", R.score_pred,
			      R.score_clip);
		/* the construction does what it says, by a wide margin */
		assert_int_equal(R.choice, want);
		assert_true(fabs(R.score_pred - R.score_clip) > 1e-2 * R.score_clip);
		if (!pred_wins)
			assert_true(fabs(R.score_clip - 0.75) < 1e-9);

		assert_int_equal(rps_optim_pcasgd_dec(B.w, B.v, B.g, nb_x, nb_g, n, &p, &got), 0);
		assert_int_equal(got, want);
		assert_close_pcd(B.w, pred_wins ? R.pred : R.clip, n, "constructed x");
		assert_close_pcd(B.v, R.v, n, "constructed v");
		/* and the two candidates do differ: the choice mattered */
		size_t differ = 0;
		for (size_t i = 0; i < n; i++)
			differ += fabs(R.pred[i] - R.clip[i]) > 1e-3;
		assert_true(differ >= n / 2);

		memcpy(x1, x0, n * sizeof(float));
		memcpy(v1, v0, n * sizeof(float));
		p.theta_auto = false;
		p.theta = pred_wins ? 1.0f : 0.0f;
		assert_int_equal(rps_optim_pcasgd_dec(x1, v1, B.g, nb_x, nb_g, n, &p, &fixed), 0);
		assert_int_equal(fixed, want);
		assert_memory_equal(x1, B.w, n * sizeof(float));
		assert_memory_equal(v1, B.v, n * sizeof(float));
	}
}

/* No delayed neighbour: x = consensus + v' whatever theta (bit for bit
 * the same for every theta and auto), choice NONE_DELAYED, and nb_g is
 * not needed at all. */
static void test_pcasgd_dec_all_on_time(void **state)
{
	static float x0[MAXN], v0[MAXN], first_x[MAXN], first_v[MAXN];
	static const uint8_t sts[2][PCD_K] = {
		{ RPS_PCASGD_NB_ON_TIME, RPS_PCASGD_NB_ON_TIME, RPS_PCASGD_NB_ON_TIME },
		{ RPS_PCASGD_NB_ON_TIME, RPS_PCASGD_NB_ABSENT, RPS_PCASGD_NB_ON_TIME },
	};
	static const float thetas[] = { 0.0f, 0.3f, 0.5f, 1.0f, -1.0f /* auto */ };
	const float pi[PCD_K] = { 0.25f, 0.2f, 0.3f };
	const size_t n = 1000;

	(void)state;
	rng_state = PCD_SEED + 3;
	for (int s = 0; s < 2; s++) {
		pcd_fill(n, 3);
		memcpy(x0, B.w, n * sizeof(float));
		memcpy(v0, B.v, n * sizeof(float));
		for (size_t t = 0; t < sizeof(thetas) / sizeof(thetas[0]); t++) {
			rps_pcasgd_dec_params_t p = {
				.lr = 0.05f,
				.momentum = 0.9f,
				.theta = thetas[t] < 0 ? 0.5f : thetas[t],
				.theta_auto = thetas[t] < 0,
				.pi_self = 0.25f,
				.k = PCD_K,
				.pi = pi,
				.state = sts[s],
			};

			memcpy(B.w, x0, n * sizeof(float));
			memcpy(B.v, v0, n * sizeof(float));
			pcd_check(n, pcd_x, NULL, &p, "all on time");
			assert_int_equal(R.choice, RPS_PCASGD_NONE_DELAYED);
			/* the reference's consensus + v', both ways it has it */
			assert_close_pcd(B.w, R.pred, n, "all on time vs pred");
			if (!t) {
				memcpy(first_x, B.w, n * sizeof(float));
				memcpy(first_v, B.v, n * sizeof(float));
			} else {
				assert_memory_equal(B.w, first_x, n * sizeof(float));
				assert_memory_equal(B.v, first_v, n * sizeof(float));
			}
		}
	}
}

/* Alone (k == 0): x + v', with no neighbour arrays at all. */
static void test_pcasgd_dec_alone(void **state)
{
	static const float moms[] = { 0.0f, 0.9f };
	const size_t n = 1000;

	(void)state;
	rng_state = PCD_SEED + 4;
	for (int m = 0; m < 2; m++) {
		for (int au = 0; au < 2; au++) {
			rps_pcasgd_dec_params_t p = {
				.lr = 0.1f,
				.momentum = moms[m],
				.theta = 0.3f,
				.theta_auto = au,
				.pi_self = 1.0f,
			};
			enum rps_pcasgd_choice got = (enum rps_pcasgd_choice)77;

			pcd_fill(n, 1);
			for (size_t i = 0; i < n; i++) {
				R.v[i] = (double)moms[m] * B.v[i] - 0.1 * (double)B.g[i];
				R.x[i] = B.w[i] + R.v[i];
			}
			assert_int_equal(
				rps_optim_pcasgd_dec(B.w, B.v, B.g, NULL, NULL, n, &p, &got), 0);
			assert_int_equal(got, RPS_PCASGD_NONE_DELAYED);
			assert_close_pcd(B.w, R.x, n, "alone x");
			assert_close_pcd(B.v, R.v, n, "alone v");
		}
	}
}

/* An absent neighbour is left out: NaN behind its pointers (and as its
 * weight), or NULL pointers, give the same bits as not listing it. */
static void test_pcasgd_dec_absent_renormalised(void **state)
{
	static float x0[MAXN], v0[MAXN], ref_x[MAXN], ref_v[MAXN];
	static const uint8_t st3[PCD_K] = { RPS_PCASGD_NB_ON_TIME, RPS_PCASGD_NB_ABSENT,
					    RPS_PCASGD_NB_DELAYED };
	static const uint8_t st2[2] = { RPS_PCASGD_NB_ON_TIME, RPS_PCASGD_NB_DELAYED };
	const float pi3[PCD_K] = { 0.3f, NAN, 0.2f }, pi2[2] = { 0.3f, 0.2f };
	const float *nb2_x[2] = { pcd_nbx[0], pcd_nbx[2] }, *nb2_g[2] = { pcd_nbg[0], pcd_nbg[2] };
	const float *nan_x[PCD_K] = { pcd_nbx[0], pcd_garbage, pcd_nbx[2] };
	const float *nan_g[PCD_K] = { pcd_nbg[0], pcd_garbage, pcd_nbg[2] };
	const float *null_x[PCD_K] = { pcd_nbx[0], NULL, pcd_nbx[2] };
	const float *null_g[PCD_K] = { pcd_nbg[0], NULL, pcd_nbg[2] };
	const size_t n = 1000;

	(void)state;
	rng_state = PCD_SEED + 5;
	for (size_t i = 0; i < n; i++)
		pcd_garbage[i] = NAN;
	for (int au = 0; au < 2; au++) {
		rps_pcasgd_dec_params_t p = {
			.lr = 0.1f,
			.momentum = 0.9f,
			.theta = 0.5f,
			.theta_auto = au,
			.pi_self = 0.5f,
			.k = 2,
			.pi = pi2,
			.state = st2,
		};
		enum rps_pcasgd_choice want, got;

		pcd_fill(n, 3);
		memcpy(x0, B.w, n * sizeof(float));
		memcpy(v0, B.v, n * sizeof(float));
		/* the two present neighbours only, against the reference */
		pcd_check(n, nb2_x, nb2_g, &p, "absent: listed out");
		want = R.choice;
		memcpy(ref_x, B.w, n * sizeof(float));
		memcpy(ref_v, B.v, n * sizeof(float));

		p.k = PCD_K;
		p.pi = pi3;
		p.state = st3;
		for (int null = 0; null < 2; null++) {
			memcpy(B.w, x0, n * sizeof(float));
			memcpy(B.v, v0, n * sizeof(float));
			got = (enum rps_pcasgd_choice)77;
			assert_int_equal(rps_optim_pcasgd_dec(B.w, B.v, B.g, null ? null_x : nan_x,
							      null ? null_g : nan_g, n, &p, &got),
					 0);
			assert_int_equal(got, want);
			assert_memory_equal(B.w, ref_x, n * sizeof(float));
			assert_memory_equal(B.v, ref_v, n * sizeof(float));
		}
	}
}

/* A NaN or an Inf in g: -EDOM, x and v bit-identical, choice untouched. */
static void test_pcasgd_dec_nonfinite(void **state)
{
	static float x0[MAXN], v0[MAXN];
	static const uint8_t st[PCD_K] = { RPS_PCASGD_NB_ON_TIME, RPS_PCASGD_NB_DELAYED,
					   RPS_PCASGD_NB_ABSENT };
	const float pi[PCD_K] = { 0.2f, 0.3f, 0.25f };
	const float bad[] = { NAN, INFINITY, -INFINITY };
	const size_t n = 1000, pos[] = { 500, 0, n - 1 };

	(void)state;
	rng_state = PCD_SEED + 6;
	for (int au = 0; au < 2; au++) {
		for (int b = 0; b < 3; b++) {
			rps_pcasgd_dec_params_t p = {
				.lr = 0.1f,
				.momentum = 0.9f,
				.theta = 0.5f,
				.theta_auto = au,
				.pi_self = 0.25f,
				.k = PCD_K,
				.pi = pi,
				.state = st,
			};
			enum rps_pcasgd_choice got = (enum rps_pcasgd_choice)77;

			pcd_fill(n, 3);
			memcpy(x0, B.w, n * sizeof(float));
			memcpy(v0, B.v, n * sizeof(float));
			B.g[pos[b]] = bad[b];
			assert_int_equal(
				rps_optim_pcasgd_dec(B.w, B.v, B.g, pcd_x, pcd_g, n, &p, &got),
				-EDOM);
			assert_memory_equal(B.w, x0, n * sizeof(float));
			assert_memory_equal(B.v, v0, n * sizeof(float));
			assert_int_equal(got, 77);
			/* the same data without the bad value is applied */
			B.g[pos[b]] = 0.5f;
			assert_int_equal(
				rps_optim_pcasgd_dec(B.w, B.v, B.g, pcd_x, pcd_g, n, &p, &got), 0);
			assert_memory_not_equal(B.w, x0, n * sizeof(float));
			assert_int_not_equal(got, 77);
		}
	}
}

/* Parameters no step can be taken with: -EINVAL, nothing written. */
static void test_pcasgd_dec_invalid(void **state)
{
	static float x0[MAXN], v0[MAXN];
	const size_t n = 64;
	const float *nb_x[PCD_K] = { pcd_nbx[0], pcd_nbx[1], pcd_nbx[2] };
	const float *nb_g[PCD_K] = { pcd_nbg[0], pcd_nbg[1], pcd_nbg[2] };
	const float *no_x1[PCD_K] = { pcd_nbx[0], NULL, pcd_nbx[2] };
	const float *no_g1[PCD_K] = { pcd_nbg[0], NULL, pcd_nbg[2] };
	const uint8_t ok[PCD_K] = { RPS_PCASGD_NB_ON_TIME, RPS_PCASGD_NB_DELAYED,
				    RPS_PCASGD_NB_ABSENT };
	const uint8_t out_of_range[PCD_K] = { RPS_PCASGD_NB_ON_TIME, 3, RPS_PCASGD_NB_ABSENT };
	const float pi[PCD_K] = { 0.2f, 0.3f, 0.25f }, pi_neg[PCD_K] = { 0.2f, -0.1f, 0.25f };
	const float pi_nan[PCD_K] = { NAN, 0.3f, 0.25f };
	const rps_pcasgd_dec_params_t good = {
		.lr = 0.1f,
		.momentum = 0.9f,
		.theta = 0.5f,
		.pi_self = 0.25f,
		.k = PCD_K,
		.pi = pi,
		.state = ok,
	};
	struct {
		const char *what;
		rps_pcasgd_dec_params_t p;
		const float *const *nb_x, *const *nb_g;
	} cases[] = {
		{ "pi_self 0", good, nb_x, nb_g },
		{ "pi_self NaN", good, nb_x, nb_g },
		{ "theta > 1", good, nb_x, nb_g },
		{ "theta < 0", good, nb_x, nb_g },
		{ "state out of range", good, nb_x, nb_g },
		{ "negative weight", good, nb_x, nb_g },
		{ "NaN weight", good, nb_x, nb_g },
		{ "no pi", good, nb_x, nb_g },
		{ "delayed without nb_x", good, no_x1, nb_g },
		{ "delayed without nb_g", good, nb_x, no_g1 },
		{ "no nb_g array", good, nb_x, NULL },
	};

	(void)state;
	cases[0].p.pi_self = 0;
	cases[1].p.pi_self = NAN;
	cases[2].p.theta = 1.5f;
	cases[3].p.theta = -0.5f;
	cases[4].p.state = out_of_range;
	cases[5].p.pi = pi_neg;
	cases[6].p.pi = pi_nan;
	cases[7].p.pi = NULL;
	rng_state = PCD_SEED + 7;
	pcd_fill(n, 3);
	memcpy(x0, B.w, n * sizeof(float));
	memcpy(v0, B.v, n * sizeof(float));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		enum rps_pcasgd_choice got = (enum rps_pcasgd_choice)77;
		int rc = rps_optim_pcasgd_dec(B.w, B.v, B.g, cases[c].nb_x, cases[c].nb_g, n,
					      &cases[c].p, &got);

		if (rc != -EINVAL)
			fail_msg("%s: returned %d, not -EINVAL", cases[c].what, rc);
		assert_memory_equal(B.w, x0, n * sizeof(float));
		assert_memory_equal(B.v, v0, n * sizeof(float));
		assert_int_equal(got, 77);
	}
	/* theta out of range does not matter with theta_auto */
	cases[2].p.theta_auto = true;
	assert_int_equal(rps_optim_pcasgd_dec(B.w, B.v, B.g, nb_x, nb_g, n, &cases[2].p, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finite_check),
#define BOTH(t) cmocka_unit_test_setup(t, use_fused), cmocka_unit_test_setup(t, use_two_pass)
		BOTH(test_nonfinite_rejected_untouched),
		BOTH(test_sgd_matches_reference),
		BOTH(test_accumulate),
		BOTH(test_dcasgd_matches_reference),
		BOTH(test_dcasgd_a_matches_reference),
		BOTH(test_pcasgd_matches_reference),
		BOTH(test_pcasgd_limits),
		BOTH(test_dude_matches_reference),
		BOTH(test_dude_drift_bounded_by_refresh),
		cmocka_unit_test(test_fused_equals_two_pass_bitwise),
		cmocka_unit_test(test_dcs3gd_matches_reference),
		cmocka_unit_test(test_pcasgd_dec_matches_reference),
		cmocka_unit_test(test_pcasgd_dec_auto_matches_reference),
		cmocka_unit_test(test_pcasgd_dec_auto_by_construction),
		cmocka_unit_test(test_pcasgd_dec_all_on_time),
		cmocka_unit_test(test_pcasgd_dec_alone),
		cmocka_unit_test(test_pcasgd_dec_absent_renormalised),
		cmocka_unit_test(test_pcasgd_dec_nonfinite),
		cmocka_unit_test(test_pcasgd_dec_invalid),
#undef BOTH
	};
	return cmocka_run_group_tests_name("update kernels", tests, NULL, NULL);
}
