/* SPDX-License-Identifier: BSD-2-Clause */
/* Partitioners: which samples each rank trains on; see dataset.h. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/dataset.h"
#include "ml/dataset_rng.h"
#include "util/log.h"

/* Dirichlet redraws before label-skew gives up on leaving no rank empty. */
#define PARTITION_MAX_DRAWS 64
#define PARTITION_MAX_ALPHA 1e6

int rps_partition_parse(const char *spec, rps_partition_spec_t *spec_p)
{
	static const char skew[] = "label-skew:";
	char *end;
	double alpha;

	if (!spec) {
		rps_err("partition: no spec (expected iid or label-skew:ALPHA)");
		return -EINVAL;
	}
	if (strcmp(spec, "iid") == 0) {
		*spec_p = (rps_partition_spec_t){ .kind = RPS_PARTITION_IID };
		return 0;
	}
	if (strncmp(spec, skew, sizeof(skew) - 1) != 0) {
		rps_err("partition: unknown spec '%s' (expected iid or label-skew:ALPHA)", spec);
		return -EINVAL;
	}
	const char *num = spec + sizeof(skew) - 1;

	errno = 0;
	alpha = strtod(num, &end);
	if (end == num || *end != '\0' || errno || !isfinite(alpha) || alpha <= 0.0 ||
	    alpha > PARTITION_MAX_ALPHA) {
		rps_err("partition: '%s': ALPHA must be a number in (0, %g]", spec,
			PARTITION_MAX_ALPHA);
		return -EINVAL;
	}
	*spec_p = (rps_partition_spec_t){ .kind = RPS_PARTITION_LABEL_SKEW, .alpha = alpha };
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Rank's shard of n samples split in world contiguous pieces whose sizes
 * differ by at most one. */
static void shard_range(uint64_t n, uint32_t world, uint32_t rank, uint64_t *begin, uint64_t *count)
{
	uint64_t base = n / world, rem = n % world;

	*begin = rank * base + (rank < rem ? rank : rem);
	*count = base + (rank < rem);
}

static int partition_iid(uint64_t n, uint32_t world, uint32_t rank, uint64_t seed, uint64_t **idx_p,
			 uint64_t *count_p)
{
	uint64_t *perm = malloc(n * sizeof(*perm));
	uint64_t begin, count;
	rps_rng_t rng;

	if (!perm)
		return -ENOMEM;
	/* Every rank draws the same permutation (a stream no rank uses) and
	 * keeps its piece: no communication, and disjoint by construction. */
	for (uint64_t i = 0; i < n; i++)
		perm[i] = i;
	rps_rng_seed(&rng, seed, RPS_RNG_STREAM_PARTITION);
	rps_rng_shuffle(&rng, perm, n);
	shard_range(n, world, rank, &begin, &count);
	memmove(perm, perm + begin, count * sizeof(*perm));
	*idx_p = perm;
	*count_p = count;
	return 0;
}

/* Draws p ~ Dirichlet(alpha) over world ranks for one class and turns it
 * into boundaries bound[0..world] (bound[0] = 0, bound[world] = nc). */
static void dirichlet_bounds(rps_rng_t *rng, double alpha, uint32_t world, uint64_t nc, double *lg,
			     uint64_t *bound)
{
	double max = -INFINITY, sum = 0.0, cum = 0.0;

	for (uint32_t r = 0; r < world; r++) {
		lg[r] = rps_rng_log_gamma(rng, alpha);
		if (lg[r] > max)
			max = lg[r];
	}
	/* normalise in logs: the largest share is exp(0), never 0/0 */
	for (uint32_t r = 0; r < world; r++) {
		lg[r] = exp(lg[r] - max);
		sum += lg[r];
	}
	bound[0] = 0;
	for (uint32_t r = 0; r < world; r++) {
		uint64_t b;

		cum += lg[r] / sum;
		b = r + 1 == world ? nc : (uint64_t)(cum * (double)nc);
		if (b > nc)
			b = nc;
		bound[r + 1] = b < bound[r] ? bound[r] : b;
	}
}

typedef struct skew_tmp {
	uint64_t *order;      /* sample indices grouped by class, shuffled */
	uint64_t *class_off;  /* class c is order[class_off[c] .. class_off[c+1]) */
	uint64_t *bound;      /* classes x (world + 1) boundaries per class */
	uint64_t *rank_count; /* samples per rank in the current draw */
	double *lg;
} skew_tmp_t;

static void skew_tmp_free(skew_tmp_t *t)
{
	free(t->lg);
	free(t->rank_count);
	free(t->bound);
	free(t->class_off);
	free(t->order);
}

static int skew_tmp_alloc(skew_tmp_t *t, uint64_t n, uint32_t classes, uint32_t world)
{
	memset(t, 0, sizeof(*t));
	t->order = malloc(n * sizeof(*t->order));
	t->class_off = calloc((uint64_t)classes + 1, sizeof(*t->class_off));
	t->bound = malloc((uint64_t)classes * (world + 1ull) * sizeof(*t->bound));
	t->rank_count = malloc(world * sizeof(*t->rank_count));
	t->lg = malloc(world * sizeof(*t->lg));
	if (!t->order || !t->class_off || !t->bound || !t->rank_count || !t->lg) {
		skew_tmp_free(t);
		return -ENOMEM;
	}
	return 0;
}

/* Groups the samples by class (counting sort, so each group stays in
 * index order before its shuffle) and shuffles each group. */
static int skew_group(const rps_dataset_t *ds, skew_tmp_t *t, rps_rng_t *rng)
{
	uint32_t classes = ds->num_classes;
	uint64_t *fill = calloc(classes, sizeof(*fill));

	if (!fill)
		return -ENOMEM;
	for (uint64_t i = 0; i < ds->n; i++) {
		if (ds->y[i] < 0 || (uint32_t)ds->y[i] >= classes) {
			rps_err("partition: label %d of sample %llu is not below %u classes",
				ds->y[i], (unsigned long long)i, classes);
			free(fill);
			return -EINVAL;
		}
		t->class_off[ds->y[i] + 1]++;
	}
	for (uint32_t c = 0; c < classes; c++)
		t->class_off[c + 1] += t->class_off[c];
	for (uint64_t i = 0; i < ds->n; i++) {
		uint32_t c = (uint32_t)ds->y[i];

		t->order[t->class_off[c] + fill[c]++] = i;
	}
	for (uint32_t c = 0; c < classes; c++)
		rps_rng_shuffle(rng, t->order + t->class_off[c],
				t->class_off[c + 1] - t->class_off[c]);
	free(fill);
	return 0;
}

static int partition_label_skew(const rps_dataset_t *ds, double alpha, uint32_t world,
				uint32_t rank, uint64_t seed, uint64_t **idx_p, uint64_t *count_p)
{
	uint32_t classes = ds->num_classes, w1 = world + 1;
	rps_rng_t shuffle_rng, dir_rng;
	uint64_t *idx, count = 0;
	skew_tmp_t t;
	int ret, draw;

	ret = skew_tmp_alloc(&t, ds->n, classes, world);
	if (ret)
		return ret;
	rps_rng_seed(&shuffle_rng, seed, RPS_RNG_STREAM_PARTITION);
	ret = skew_group(ds, &t, &shuffle_rng);
	if (ret)
		goto free_tmp;

	/* Small alphas can leave a rank without a single sample, and a worker
	 * with nothing to train on would stall the run: redraw, as the
	 * federated-learning benchmarks do.  Same stream on every rank, so all
	 * ranks accept the same draw. */
	rps_rng_seed(&dir_rng, seed, RPS_RNG_STREAM_DIRICHLET);
	for (draw = 0; draw < PARTITION_MAX_DRAWS; draw++) {
		uint32_t r;

		memset(t.rank_count, 0, world * sizeof(*t.rank_count));
		for (uint32_t c = 0; c < classes; c++) {
			uint64_t *b = t.bound + (uint64_t)c * w1;

			dirichlet_bounds(&dir_rng, alpha, world,
					 t.class_off[c + 1] - t.class_off[c], t.lg, b);
			for (r = 0; r < world; r++)
				t.rank_count[r] += b[r + 1] - b[r];
		}
		for (r = 0; r < world && t.rank_count[r] > 0; r++)
			;
		if (r == world)
			break;
	}
	if (draw == PARTITION_MAX_DRAWS) {
		rps_err("partition: label-skew:%g left a rank without samples in %d draws "
			"(%llu samples, %u classes, %u ranks): use a larger alpha or fewer ranks",
			alpha, PARTITION_MAX_DRAWS, (unsigned long long)ds->n, classes, world);
		ret = -EINVAL;
		goto free_tmp;
	}

	idx = malloc(t.rank_count[rank] * sizeof(*idx));
	if (!idx) {
		ret = -ENOMEM;
		goto free_tmp;
	}
	for (uint32_t c = 0; c < classes; c++) {
		const uint64_t *b = t.bound + (uint64_t)c * w1;
		const uint64_t *grp = t.order + t.class_off[c];

		memcpy(idx + count, grp + b[rank], (b[rank + 1] - b[rank]) * sizeof(*idx));
		count += b[rank + 1] - b[rank];
	}
	*idx_p = idx;
	*count_p = count;

free_tmp:
	skew_tmp_free(&t);
	return ret;
}

int rps_partition_indices(const rps_dataset_t *ds, const rps_partition_spec_t *spec, uint32_t world,
			  uint32_t rank, uint64_t seed, uint64_t **idx_p, uint64_t *count_p)
{
	uint64_t *idx, count;
	int ret;

	if (world == 0 || rank >= world) {
		rps_err("partition: rank %u of a world of %u", rank, world);
		return -EINVAL;
	}
	if (ds->n < world) {
		rps_err("partition: %llu samples cannot give each of %u ranks one",
			(unsigned long long)ds->n, world);
		return -EINVAL;
	}
	switch (spec->kind) {
	case RPS_PARTITION_IID:
		ret = partition_iid(ds->n, world, rank, seed, &idx, &count);
		break;
	case RPS_PARTITION_LABEL_SKEW:
		ret = partition_label_skew(ds, spec->alpha, world, rank, seed, &idx, &count);
		break;
	default:
		rps_err("partition: unknown kind %d", (int)spec->kind);
		return -EINVAL;
	}
	if (ret)
		return ret;
	/* Ascending: the list is a set, and walking it in order is kind to
	 * the cache when the shard is copied out. */
	qsort(idx, count, sizeof(*idx), cmp_u64);
	*idx_p = idx;
	*count_p = count;
	return 0;
}

void rps_partition_shuffle(uint64_t *idx, uint64_t n, uint64_t seed, uint32_t rank, uint32_t epoch)
{
	rps_rng_t rng;

	/* rank streams sit below 2^32, clear of the ml layer's own streams;
	 * the epoch goes into the seed half so (rank, epoch) pairs never meet */
	rps_rng_seed(&rng, seed ^ ((uint64_t)epoch * 0x9e3779b97f4a7c15ull), rank);
	rps_rng_shuffle(&rng, idx, n);
}
