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
#undef BOTH
	};
	return cmocka_run_group_tests_name("update kernels", tests, NULL, NULL);
}
