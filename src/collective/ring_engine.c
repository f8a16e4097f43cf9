/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The allreduce engine: posts chunks to the right neighbour, consumes the
 * left neighbour's chunks, and returns credits.
 *
 * Flow control is by credits, not by double buffering.  Our left
 * neighbour writes into `window` slots of our stage buffer; it holds one
 * credit per slot and spends one per chunk; we give the slot back with a
 * zero-byte WRITE_WITH_IMM (imm = slot) once the chunk is added into (or
 * copied to) the result buffer.  So a sender can never overwrite a chunk
 * the receiver has not consumed, whatever the step, the round, or the
 * order completions come in; memory is window x chunk per link whatever
 * the model size, where buffers sized by steps would grow with world.
 *
 * Rounds overlap at the edges: a left neighbour that finished round k may
 * start k+1 while we are still in k (or have not started k+1).  Its chunks
 * carry the round parity; we park them (slot held, no ack) until our next
 * start, when the caller has put the new input in the buffer.  Two rounds
 * ahead is impossible: finishing k+1 needs our acks of k+1.
 *
 * A round is done when every chunk came in and was consumed, every write
 * we posted completed, and the right neighbour gave back every credit
 * (consumed all we sent).  Then the caller may reuse the buffer and even
 * close the ring without cutting off data a neighbour still needs.
 *
 * The data path allocates nothing and calls only post/poll (plus, now and
 * then, rps_transport_progress() to notice a dead neighbour).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "collective/ring_priv.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/log.h"

#define ACK_WR_ID      (1ull << 63)
#define POLL_BATCH     16
/* how often connection events are driven: often enough to notice a dead
 * neighbour promptly, rarely enough not to cost the polling loop */
#define CM_PROGRESS_NS 1000000ull
#define LINK_GRACE_NS  200000000ull

static int fail(rps_ring_t *ring, int err)
{
	if (!ring->fatal)
		ring->fatal = err;
	return ring->fatal;
}

/* vectorised by the compiler: one pass, restrict, no aliasing */
static void add_floats(float *restrict dst, const float *restrict src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] += src[i];
}

void rps_ring_engine_reset_credits(rps_ring_t *ring)
{
	ring->nfree = ring->window;
	for (uint32_t i = 0; i < ring->window; i++) {
		ring->free_slots[i] = ring->window - 1 - i;
		ring->slot_busy[i] = 0;
	}
}

static int post_ack(rps_ring_t *ring, uint32_t slot)
{
	int ret = rps_post_write_imm(ring->left, NULL, 0, NULL, ring->left_ack.addr,
				     ring->left_ack.key, slot, ACK_WR_ID | slot, 0);

	if (ret == -EAGAIN) {
		ring->acks[ring->nacks++] = slot; /* at most window: one per slot */
		return 0;
	}
	if (ret) {
		rps_err("ring rank %u: ack to left neighbour %s: %s", ring->rank,
			rps_conn_peer(ring->left), rps_strerror(ret));
		return fail(ring, ret);
	}
	ring->acks_inflight++;
	return 0;
}

static int flush_acks(rps_ring_t *ring)
{
	while (ring->nacks) {
		uint32_t slot = ring->acks[0];
		int ret = rps_post_write_imm(ring->left, NULL, 0, NULL, ring->left_ack.addr,
					     ring->left_ack.key, slot, ACK_WR_ID | slot, 0);

		if (ret == -EAGAIN)
			return 0;
		if (ret) {
			rps_err("ring rank %u: ack to left neighbour %s: %s", ring->rank,
				rps_conn_peer(ring->left), rps_strerror(ret));
			return fail(ring, ret);
		}
		ring->acks_inflight++;
		memmove(ring->acks, ring->acks + 1, --ring->nacks * sizeof(*ring->acks));
	}
	return 0;
}

/* Adds (reduce-scatter) or copies (allgather) the chunk in slot into the
 * buffer, and gives the slot back. */
static int consume(rps_ring_t *ring, uint32_t seq, uint32_t slot)
{
	const rps_ring_layout_t *lo = &ring->lo;
	uint32_t t = rps_ring_step_of(lo->recv_first, lo->nsteps, seq);
	const float *src = (const float *)((char *)ring->stage + (size_t)slot * ring->chunk_bytes);
	size_t off, len;

	if (ring->recv_done[seq]) {
		rps_err("ring rank %u: left neighbour %s sent chunk %u twice", ring->rank,
			rps_conn_peer(ring->left), seq);
		return fail(ring, -RPS_ERR_PROTO);
	}
	rps_ring_chunk(lo, lo->recv_seg[t], seq - lo->recv_first[t], &off, &len);
	uint64_t t0 = ring->prof_on ? rps_now_ns() : 0;

	if (t < ring->world - 1)
		add_floats(ring->buf + off, src, len);
	else
		memcpy(ring->buf + off, src, len * sizeof(float));
	if (ring->prof_on) {
		uint64_t dt = rps_now_ns() - t0;

		*(t < ring->world - 1 ? &ring->prof.reduce_ns : &ring->prof.copy_ns) += dt;
		ring->prof_consume_ns += dt;
	}
	ring->recv_done[seq] = 1;
	ring->recvs++;
	return post_ack(ring, slot);
}

static int on_data(rps_ring_t *ring, uint32_t imm)
{
	uint32_t parity, seq, slot;

	rps_ring_imm_parse(imm, &parity, &seq, &slot);
	if (slot >= ring->window || seq >= ring->lo.recv_first[ring->lo.nsteps]) {
		rps_err("ring rank %u: left neighbour %s sent a bad immediate 0x%08x "
			"(slot %u of %u, chunk %u of %u)",
			ring->rank, rps_conn_peer(ring->left), imm, slot, ring->window, seq,
			ring->lo.recv_first[ring->lo.nsteps]);
		return fail(ring, -RPS_ERR_PROTO);
	}
	if (ring->active && parity == (ring->round & 1))
		return consume(ring, seq, slot);
	if (ring->nstash == ring->window) {
		rps_err("ring rank %u: left neighbour %s overran its %u credits", ring->rank,
			rps_conn_peer(ring->left), ring->window);
		return fail(ring, -RPS_ERR_PROTO);
	}
	ring->stash[ring->nstash++] = imm;
	return 0;
}

static int on_ack(rps_ring_t *ring, uint32_t slot)
{
	if (slot >= ring->window || !ring->slot_busy[slot]) {
		rps_err("ring rank %u: right neighbour %s acked slot %u it does not hold",
			ring->rank, rps_conn_peer(ring->right), slot);
		return fail(ring, -RPS_ERR_PROTO);
	}
	ring->slot_busy[slot] = 0;
	ring->free_slots[ring->nfree++] = slot;
	return 0;
}

/* Still waiting for anything over the link to the left / the right? */
static bool left_needed(const rps_ring_t *ring)
{
	return ring->recvs < ring->lo.recv_first[ring->lo.nsteps] || ring->nacks;
}

static bool right_needed(const rps_ring_t *ring)
{
	return ring->send_step < ring->lo.nsteps || ring->sends_done < ring->send_seq ||
	       ring->nfree < ring->window;
}

static int on_completion(rps_ring_t *ring, const rps_completion_t *c)
{
	bool from_left = c->conn == ring->left;

	if (c->status && (c->wr_id & ACK_WR_ID) && from_left && !left_needed(ring)) {
		/* an ack to a left neighbour that already left: it had them all */
		ring->acks_inflight -= ring->acks_inflight > 0;
		return 0;
	}
	if (c->status) {
		rps_err("ring rank %u: %s %s neighbour %s failed: %s", ring->rank,
			c->type == RPS_COMP_REMOTE_WRITE_IMM ? "receive from" : "write to",
			from_left ? "left" : "right", rps_conn_peer(c->conn),
			rps_strerror(c->status));
		return fail(ring, c->status);
	}
	switch (c->type) {
	case RPS_COMP_REMOTE_WRITE_IMM:
		return from_left ? on_data(ring, c->imm) : on_ack(ring, c->imm);
	case RPS_COMP_WRITE_IMM:
		if (c->wr_id & ACK_WR_ID)
			ring->acks_inflight -= ring->acks_inflight > 0;
		else
			ring->sends_done++;
		return 0;
	default:
		return 0;
	}
}

/* Posts every chunk that is ready and has a credit, in order. */
static int post_sends(rps_ring_t *ring)
{
	const rps_ring_layout_t *lo = &ring->lo;

	while (ring->send_step < lo->nsteps && ring->nfree) {
		uint32_t t = ring->send_step, c = ring->send_chunk;
		uint32_t seg = lo->send_seg[t];
		size_t off, len;

		if (c == rps_ring_seg_chunks(lo, seg)) { /* step done (or empty) */
			ring->send_step++;
			ring->send_chunk = 0;
			continue;
		}
		/* what step t sends is what step t-1 received */
		if (t > 0 && !ring->recv_done[lo->recv_first[t - 1] + c])
			return 0;
		uint32_t slot = ring->free_slots[ring->nfree - 1];
		uint32_t seq = lo->send_first[t] + c;

		rps_ring_chunk(lo, seg, c, &off, &len);
		int ret = rps_post_write_imm(
			ring->right, ring->buf + off, len * sizeof(float), ring->buf_mr,
			ring->right_stage.addr + (uint64_t)slot * ring->chunk_bytes,
			ring->right_stage.key, rps_ring_imm(ring->round, seq, slot), seq, 0);
		if (ret == -EAGAIN)
			return 0; /* send queue full: completions will make room */
		if (ret) {
			rps_err("ring rank %u: write to right neighbour %s: %s", ring->rank,
				rps_conn_peer(ring->right), rps_strerror(ret));
			return fail(ring, ret);
		}
		ring->nfree--;
		ring->slot_busy[slot] = 1;
		ring->send_chunk++;
		ring->send_seq++;
	}
	return 0;
}

/*
 * A neighbour that finished its round may close the ring at once, so a
 * lost link is an error only while we still need it.  A left neighbour
 * that got all our acks has no use for the completions of the last ones:
 * stop waiting for them.  And the neighbour's last words (acks, data) may
 * still sit in our CQ or socket when the disconnect is seen: keep polling
 * for LINK_GRACE_NS before calling the link lost.
 */
static int check_links(rps_ring_t *ring)
{
	uint64_t now = rps_now_ns();
	bool left_up, right_up;
	int ret;

	if (now < ring->next_cm_ns)
		return 0;
	ring->next_cm_ns = now + CM_PROGRESS_NS;
	ret = rps_transport_progress(ring->tp);
	if (ret < 0) {
		rps_err("ring rank %u: transport progress: %s", ring->rank, rps_strerror(ret));
		return fail(ring, ret);
	}
	if (!ring->active)
		return 0;
	left_up = rps_conn_is_connected(ring->left);
	right_up = rps_conn_is_connected(ring->right);
	if (!left_up && !left_needed(ring))
		ring->acks_inflight = 0;
	if ((left_up || !left_needed(ring)) && (right_up || !right_needed(ring))) {
		ring->lost_ns = 0;
		return 0;
	}
	if (!ring->lost_ns) {
		ring->lost_ns = now;
		return 0;
	}
	if (now - ring->lost_ns < LINK_GRACE_NS)
		return 0;
	rps_err("ring rank %u: lost %s neighbour %s mid-allreduce", ring->rank,
		left_up ? "right" : "left", rps_conn_peer(left_up ? ring->right : ring->left));
	return fail(ring, -ENOTCONN);
}

static bool round_done(const rps_ring_t *ring)
{
	const rps_ring_layout_t *lo = &ring->lo;

	return ring->send_step == lo->nsteps && ring->sends_done == lo->send_first[lo->nsteps] &&
	       ring->recvs == lo->recv_first[lo->nsteps] && ring->nfree == ring->window &&
	       !ring->nacks && !ring->acks_inflight;
}

/* What an idle pass waits for (ring_profile.h). */
static uint64_t *wait_bucket(rps_ring_t *ring)
{
	const rps_ring_layout_t *lo = &ring->lo;

	if (ring->send_step < lo->nsteps) {
		uint32_t t = ring->send_step, c = ring->send_chunk;

		if (c < rps_ring_seg_chunks(lo, lo->send_seg[t]) && t > 0 &&
		    !ring->recv_done[lo->recv_first[t - 1] + c])
			return &ring->prof.wait_data_ns;
		if (!ring->nfree)
			return &ring->prof.wait_credit_ns;
	}
	if (ring->sends_done < ring->send_seq)
		return &ring->prof.wait_wire_ns;
	if (ring->recvs < lo->recv_first[lo->nsteps])
		return &ring->prof.wait_data_ns;
	return &ring->prof.wait_credit_ns; /* the right neighbour's last acks */
}

static int engine_pass(rps_ring_t *ring);

/* One pass, timed by what it did when profiling. */
int rps_ring_engine_progress(rps_ring_t *ring)
{
	uint64_t t0, t1, t2, comps;
	uint32_t seq;
	int ret;

	if (!ring->prof_on || !ring->active)
		return engine_pass(ring);
	t0 = rps_now_ns();
	/* between passes the caller spun or yielded the core: the round
	 * waited for what it needed then, which this pass has not changed */
	if (ring->prof_last && t0 > ring->prof_last)
		*wait_bucket(ring) += t0 - ring->prof_last;
	seq = ring->send_seq;
	comps = ring->ncomps;
	ring->prof_consume_ns = 0;
	/* engine_pass notes when its poll part ended (prof_t_poll) */
	ring->prof_t_poll = 0;
	ret = engine_pass(ring);
	t2 = rps_now_ns();
	t1 = ring->prof_t_poll ? ring->prof_t_poll : t2;
	if (ring->ncomps != comps)
		ring->prof.transport_ns += t1 - t0 - ring->prof_consume_ns;
	else
		*wait_bucket(ring) += t1 - t0;
	/* posting: the time after the poll (acks posted while consuming are
	 * in the poll part, counted as transport) */
	if (ring->send_seq != seq)
		ring->prof.post_ns += t2 - t1;
	else if (ring->ncomps != comps)
		ring->prof.transport_ns += t2 - t1;
	else
		*wait_bucket(ring) += t2 - t1;
	ring->prof_last = t2;
	if (ret == 1 && !ring->active) {
		ring->prof.rounds++;
		ring->prof.round_ns += t2 - ring->prof_t0;
		ring->prof_last = 0;
	}
	return ret;
}

static int engine_pass(rps_ring_t *ring)
{
	rps_completion_t comps[POLL_BATCH];
	int n, ret;

	if (ring->fatal)
		return ring->fatal;
	if (ring->world == 1) {
		ring->active = false;
		return 1;
	}
	do {
		n = rps_cq_poll(ring->cq, comps, POLL_BATCH);
		if (n < 0) {
			rps_err("ring rank %u: poll: %s", ring->rank, rps_strerror(n));
			return fail(ring, n);
		}
		ring->ncomps += (uint64_t)n;
		for (int i = 0; i < n; i++)
			if ((ret = on_completion(ring, &comps[i])))
				return ret;
	} while (n == POLL_BATCH);
	if ((ret = check_links(ring)))
		return ret;
	if (!ring->active)
		return 1;
	if (ring->prof_on)
		ring->prof_t_poll = rps_now_ns();
	if ((ret = flush_acks(ring)) || (ret = post_sends(ring)))
		return ret;
	if (round_done(ring)) {
		ring->active = false;
		return 1;
	}
	return 0;
}

int rps_ring_engine_start(rps_ring_t *ring)
{
	uint32_t nstash = ring->nstash;
	int ret;

	if (ring->fatal)
		return ring->fatal;
	if (ring->active)
		return -EBUSY;
	ring->round++;
	ring->active = true;
	if (ring->prof_on)
		ring->prof_t0 = ring->prof_last = rps_now_ns();
	ring->send_step = ring->send_chunk = ring->send_seq = 0;
	ring->sends_done = ring->recvs = 0;
	ring->lost_ns = 0;
	memset(ring->recv_done, 0, ring->lo.recv_first[ring->lo.nsteps]);
	if (ring->world == 1)
		return 0;
	/* the chunks that came early belong to this round */
	ring->nstash = 0;
	for (uint32_t i = 0; i < nstash; i++)
		if ((ret = on_data(ring, ring->stash[i])))
			return ret;
	/* the stash's adds and copies are counted as such (consume): the
	 * first pass's wait starts after them, or they would count twice
	 * (parts summing past 100 %, seen over shm, where more chunks come
	 * early) */
	if (ring->prof_on)
		ring->prof_last = rps_now_ns();
	ret = rps_ring_engine_progress(ring);
	return ret < 0 ? ret : 0;
}
