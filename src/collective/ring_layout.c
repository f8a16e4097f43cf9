/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Ring schedule: which segment a rank sends and receives at each step, and
 * how the chunks of an allreduce are numbered.  Pure arithmetic, computed
 * once at create so the data path only looks it up.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "collective/ring_priv.h"

void rps_ring_seg(const rps_ring_layout_t *lo, uint32_t seg, size_t *off_p, size_t *len_p)
{
	size_t base = lo->count / lo->world, rem = lo->count % lo->world;

	*off_p = seg * base + (seg < rem ? seg : rem);
	*len_p = base + (seg < rem ? 1 : 0);
}

uint32_t rps_ring_seg_chunks(const rps_ring_layout_t *lo, uint32_t seg)
{
	size_t off, len;

	rps_ring_seg(lo, seg, &off, &len);
	return (uint32_t)((len + lo->chunk - 1) / lo->chunk);
}

void rps_ring_chunk(const rps_ring_layout_t *lo, uint32_t seg, uint32_t c, size_t *off_p,
		    size_t *len_p)
{
	size_t off, len, skip = (size_t)c * lo->chunk;

	rps_ring_seg(lo, seg, &off, &len);
	*off_p = off + skip;
	*len_p = len - skip < lo->chunk ? len - skip : lo->chunk;
}

/* Reduce-scatter step t sends segment rank - t; allgather step s sends
 * rank + 1 - s, the one rank reduced last, then what it was handed. */
static uint32_t send_seg(uint32_t rank, uint32_t world, uint32_t t)
{
	uint32_t s = t < world - 1 ? t : t - (world - 1);
	uint64_t from = t < world - 1 ? rank : (uint64_t)rank + 1;

	return (uint32_t)((from + world - s % world) % world);
}

uint32_t rps_ring_step_of(const uint32_t *first, uint32_t nsteps, uint32_t seq)
{
	uint32_t lo = 0, hi = nsteps;

	/* the last step whose first chunk is <= seq: empty steps share
	 * their first with the next one and lose the tie */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (first[mid] <= seq)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int rps_ring_layout_init(rps_ring_layout_t *lo, uint32_t rank, uint32_t world, size_t count,
			 size_t chunk_floats)
{
	uint32_t left = (rank + world - 1) % world;
	uint64_t ns = 0, nr = 0;

	lo->world = world;
	lo->count = count;
	lo->chunk = chunk_floats;
	lo->nsteps = 2 * (world - 1);
	lo->send_seg = calloc(lo->nsteps + 1, sizeof(uint32_t));
	lo->recv_seg = calloc(lo->nsteps + 1, sizeof(uint32_t));
	lo->send_first = calloc(lo->nsteps + 1, sizeof(uint32_t));
	lo->recv_first = calloc(lo->nsteps + 1, sizeof(uint32_t));
	if (!lo->send_seg || !lo->recv_seg || !lo->send_first || !lo->recv_first) {
		rps_ring_layout_fini(lo);
		return -ENOMEM;
	}
	for (uint32_t t = 0; t < lo->nsteps; t++) {
		lo->send_seg[t] = send_seg(rank, world, t);
		lo->recv_seg[t] = send_seg(left, world, t);
		lo->send_first[t] = (uint32_t)ns;
		lo->recv_first[t] = (uint32_t)nr;
		ns += rps_ring_seg_chunks(lo, lo->send_seg[t]);
		nr += rps_ring_seg_chunks(lo, lo->recv_seg[t]);
		/* chunk numbers ride in 23 bits of the immediate */
		if (ns >= RPS_RING_SEQ_MAX || nr >= RPS_RING_SEQ_MAX) {
			rps_ring_layout_fini(lo);
			return -E2BIG;
		}
	}
	lo->send_first[lo->nsteps] = (uint32_t)ns;
	lo->recv_first[lo->nsteps] = (uint32_t)nr;
	return 0;
}

void rps_ring_layout_fini(rps_ring_layout_t *lo)
{
	free(lo->send_seg);
	free(lo->recv_seg);
	free(lo->send_first);
	free(lo->recv_first);
	lo->send_seg = lo->recv_seg = lo->send_first = lo->recv_first = NULL;
}
