/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Worker client: connects one lane per server engine thread, pushes the
 * gradient chunk by chunk with RDMA WRITE_WITH_IMM (chunk c on lane c % L)
 * and pulls the snapshot B[m] with RDMA READs.  Single-threaded: the
 * caller's thread posts and polls.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rdmaps/ps.h>

#include "proto/auth.h"
#include "proto/refuse.h"
#include "proto/wire.h"
#include "transport/transport_priv.h"
#include "util/clock.h"
#include "util/compiler.h"
#include "util/ext_struct.h"
#include "util/log.h"
#include "util/spin.h"

#define PUSH_WRID_FLAG (1ull << 63)
/* a chunk of an rps_step: not yet applied, applied (its notice came),
 * read posted */
enum { STEP_WAIT = 0, STEP_APPLIED, STEP_POSTED };
#define CTL_BYTES	   64 /* doorbell (8 B) + room for a control message */
#define DEFAULT_TIMEOUT_MS 60000

struct rps_worker {
	rps_transport_t *tp;
	rps_cq_t *cq;
	rps_conn_t **lanes;
	uint32_t nlanes, lanes_ready;
	rps_welcome_t wl;
	int timeout_ms;

	uint64_t n, chunk_params;
	uint32_t num_chunks;
	float *grad, *weights;
	bool own_grad, own_weights; /* allocated here (not cfg's buffers) */
	rps_mr_t *grad_mr, *weights_mr;
	uint64_t *ctl; /* [0]: doorbell the server writes; [1]: the server's
			* keepalive word (never read); [2..]: BYE */
	rps_mr_t *ctl_mr;

	uint64_t pushes; /* pushes the server confirmed */
	bool push_inflight;
	int push_result;
	uint32_t pull_left; /* READs of the current pull not yet done */
	uint8_t *pulled;    /* per chunk: done in the current pull */
	/* rps_step: per chunk, STEP_* below; ready counts STEP_APPLIED */
	bool step_armed;
	uint8_t *step_state;
	uint32_t step_ready;
	uint64_t server_version;
	int fatal; /* first transport error; the worker is unusable */
};

static void *alloc_buf(uint64_t bytes)
{
	void *p = NULL;

	if (posix_memalign(&p, 4096, bytes ? bytes : 64))
		return NULL;
	memset(p, 0, bytes ? bytes : 64);
	return p;
}

/* ---- completions --------------------------------------------------------- */

/* A chunk notice (RPS_CTL_CHUNK): counted only for the push in flight
 * of an rps_step; a late one of an earlier push is dropped. */
static void on_chunk_notice(rps_worker_t *w, uint32_t imm)
{
	uint32_t v = rps_imm_value(imm), c = v & (RPS_CTL_CHUNK_MAX - 1);

	if (!w->step_armed || !w->push_inflight || rps_imm_parity(imm) != (w->pushes & 1) ||
	    ((v >> 20) & 0xff) != (w->pushes & 0xff) || c >= w->num_chunks ||
	    w->step_state[c] != STEP_WAIT)
		return;
	w->step_state[c] = STEP_APPLIED;
	w->step_ready++;
}

static void on_notify(rps_worker_t *w, uint32_t imm)
{
	rps_imm_kind_t kind = rps_imm_kind(imm);

	if (kind == RPS_IMM_CONTROL && rps_imm_value(imm) == RPS_CTL_READY) {
		w->lanes_ready++;
		return;
	}
	if (kind == RPS_IMM_CONTROL && (rps_imm_value(imm) & RPS_CTL_CHUNK)) {
		on_chunk_notice(w, imm);
		return;
	}
	if ((kind != RPS_IMM_NOTIFY && kind != RPS_IMM_REJECT) || !w->push_inflight ||
	    rps_imm_value(imm) != (w->pushes & RPS_IMM_VALUE_MAX)) {
		rps_warn("worker %u: unexpected notification 0x%08x", w->wl.worker_id, imm);
		return;
	}
	w->server_version = w->ctl[0];
	w->pushes++;
	w->push_inflight = false;
	w->push_result = kind == RPS_IMM_REJECT ? -EDOM : 0;
}

static int handle(rps_worker_t *w, const rps_completion_t *c)
{
	if (c->status) {
		if (!w->fatal) {
			rps_err("worker %u: %s to the server failed: %s", w->wl.worker_id,
				c->wr_id & PUSH_WRID_FLAG ? "push" : "pull",
				rps_strerror(c->status));
			w->fatal = c->status;
		}
		return c->status;
	}
	switch (c->type) {
	case RPS_COMP_REMOTE_WRITE_IMM:
		on_notify(w, c->imm);
		break;
	case RPS_COMP_READ:
		if (c->wr_id < w->num_chunks && !w->pulled[c->wr_id]) {
			w->pulled[c->wr_id] = 1;
			w->pull_left--;
		}
		break;
	default: /* our own write/send completions: nothing to do */
		break;
	}
	return 0;
}

/* Polls once; 0 or the first error.  *idle_p counts empty polls for
 * rps_idle_poll (util/spin.h). */
static int poll_once(rps_worker_t *w, unsigned *idle_p)
{
	rps_completion_t comps[16];
	int n = rps_cq_poll(w->cq, comps, 16);

	if (n < 0)
		return n;
	rps_idle_poll(idle_p, n);
	for (int i = 0; i < n; i++)
		handle(w, &comps[i]);
	return w->fatal;
}

static int step_post_ready(rps_worker_t *w);

/* Polls until done(w) or the timeout (-ETIMEDOUT). */
static int poll_until(rps_worker_t *w, bool (*done)(const rps_worker_t *, uint32_t), uint32_t arg,
		      int timeout_ms, const char *what)
{
	uint64_t deadline = rps_deadline_ns(timeout_ms);
	unsigned spins = 0, idle = 0;
	int ret;

	while (!done(w, arg)) {
		if ((ret = poll_once(w, &idle)))
			return ret;
		/* an rps_step's reads, as their chunks are applied */
		if (w->step_armed && (ret = step_post_ready(w)))
			return ret;
		if ((++spins & 1023) == 0) {
			rps_transport_progress(w->tp);
			for (uint32_t l = 0; l < w->nlanes; l++) {
				if (!rps_conn_is_connected(w->lanes[l])) {
					rps_err("worker %u: the server closed the connection "
						"(%s)",
						w->wl.worker_id, what);
					return w->fatal = -ENOTCONN;
				}
			}
			if (rps_ms_left(deadline) == 0) {
				if (timeout_ms)
					rps_err("worker %u: no answer from the server after %d ms "
						"(%s)",
						w->wl.worker_id, timeout_ms, what);
				return -ETIMEDOUT;
			}
		}
	}
	return 0;
}

/* Posts, polling while the lane's send queue is full. */
static int post_retry(rps_worker_t *w, rps_conn_t *conn, bool is_read, void *buf, size_t len,
		      rps_mr_t *mr, uint64_t raddr, uint64_t rkey, uint32_t imm, uint64_t wr_id)
{
	unsigned idle = 0;

	for (;;) {
		int ret = is_read ? rps_post_read(conn, buf, len, mr, raddr, rkey, wr_id, 0)
				  : rps_post_write_imm(conn, buf, len, mr, raddr, rkey, imm, wr_id,
						       0);
		if (ret != -EAGAIN)
			return ret;
		if ((ret = poll_once(w, &idle)))
			return ret;
	}
}

/* ---- push / pull ------------------------------------------------------------ */

/* floats of the chunk starting at off (the last one may be short) */
static uint64_t chunk_len(const rps_worker_t *w, uint64_t off)
{
	return w->n - off < w->chunk_params ? w->n - off : w->chunk_params;
}

static bool push_done(const rps_worker_t *w, uint32_t unused)
{
	(void)unused;
	return !w->push_inflight;
}

RPS_EXPORT int rps_push_start(rps_worker_t *w)
{
	unsigned parity = (unsigned)(w->pushes & 1);
	uint64_t base = w->wl.grad.addr + (uint64_t)parity * w->n * sizeof(float);
	int ret;

	if (w->fatal)
		return w->fatal;
	if (w->push_inflight)
		return -EBUSY;
	w->push_inflight = true;
	for (uint32_t c = 0; c < w->num_chunks; c++) {
		uint64_t off = (uint64_t)c * w->chunk_params, len = chunk_len(w, off);

		ret = post_retry(w, w->lanes[c % w->nlanes], false, w->grad + off,
				 len * sizeof(float), w->grad_mr, base + off * sizeof(float),
				 w->wl.grad.key, rps_imm_encode(RPS_IMM_PUSH, parity, c),
				 PUSH_WRID_FLAG | c);
		if (ret) {
			rps_err("worker %u: push chunk %u: %s", w->wl.worker_id, c,
				rps_strerror(ret));
			return w->fatal = ret;
		}
	}
	return 0;
}

RPS_EXPORT int rps_push_wait(rps_worker_t *w, int timeout_ms)
{
	int ret = poll_until(w, push_done, 0, timeout_ms, "waiting for a push to be applied");

	if (ret == -ETIMEDOUT && timeout_ms == 0)
		return -EAGAIN;
	return ret ? ret : w->push_result;
}

RPS_EXPORT int rps_push(rps_worker_t *w)
{
	int ret = rps_push_start(w);

	return ret ? ret : rps_push_wait(w, w->timeout_ms);
}

/* Posts the READ of chunk c of B[m] into the weights buffer; on failure
 * the worker is unusable (w->fatal). */
static int post_pull_chunk(rps_worker_t *w, uint32_t c)
{
	uint64_t off = (uint64_t)c * w->chunk_params, len = chunk_len(w, off);
	int ret = post_retry(w, w->lanes[c % w->nlanes], true, w->weights + off,
			     len * sizeof(float), w->weights_mr,
			     w->wl.snap.addr + off * sizeof(float), w->wl.snap.key, 0, c);

	if (ret) {
		rps_err("worker %u: pull chunk %u: %s", w->wl.worker_id, c, rps_strerror(ret));
		w->fatal = ret;
	}
	return ret;
}

RPS_EXPORT int rps_pull_start(rps_worker_t *w)
{
	if (w->fatal)
		return w->fatal;
	if (w->pull_left)
		return -EBUSY;
	memset(w->pulled, 0, w->num_chunks);
	w->pull_left = w->num_chunks;
	for (uint32_t c = 0; c < w->num_chunks; c++)
		if (post_pull_chunk(w, c))
			return w->fatal;
	return 0;
}

static bool chunk_pulled(const rps_worker_t *w, uint32_t c)
{
	return w->pulled[c] != 0;
}

static bool pull_done(const rps_worker_t *w, uint32_t unused)
{
	(void)unused;
	return w->pull_left == 0;
}

RPS_EXPORT int rps_pull_wait_chunk(rps_worker_t *w, uint32_t chunk, int timeout_ms)
{
	int ret;

	if (chunk >= w->num_chunks)
		return -EINVAL;
	ret = poll_until(w, chunk_pulled, chunk, timeout_ms, "pulling the weights");
	/* timeout 0 is a poll, as for rps_push_wait */
	return ret == -ETIMEDOUT && timeout_ms == 0 ? -EAGAIN : ret;
}

RPS_EXPORT int rps_pull(rps_worker_t *w)
{
	int ret = rps_pull_start(w);

	return ret ? ret : poll_until(w, pull_done, 0, w->timeout_ms, "pulling the weights");
}

/* ---- a step: push and pull overlapped ------------------------------------ */

/* Posts the READ of every chunk whose notice came, and of every chunk
 * once the push is complete (a server without notices, a dropped one,
 * or the push's last chunk, whose notice is the notification). */
static int step_post_ready(rps_worker_t *w)
{
	bool all = !w->push_inflight;

	if (!all && !w->step_ready)
		return 0;
	for (uint32_t c = 0; c < w->num_chunks; c++) {
		uint8_t st = w->step_state[c];

		if (st == STEP_POSTED || (st == STEP_WAIT && !all))
			continue;
		/* post_retry may poll: mark first, so no notice counts twice */
		if (st == STEP_APPLIED)
			w->step_ready--;
		w->step_state[c] = STEP_POSTED;
		if (post_pull_chunk(w, c))
			return w->fatal;
	}
	if (all)
		w->step_armed = false;
	return 0;
}

static bool step_done(const rps_worker_t *w, uint32_t unused)
{
	(void)unused;
	return !w->push_inflight && !w->step_armed && w->pull_left == 0;
}

RPS_EXPORT int rps_step_start(rps_worker_t *w)
{
	int ret;

	if (w->fatal)
		return w->fatal;
	if (w->push_inflight || w->pull_left)
		return -EBUSY;
	memset(w->pulled, 0, w->num_chunks);
	memset(w->step_state, STEP_WAIT, w->num_chunks);
	w->step_ready = 0;
	w->pull_left = w->num_chunks;
	w->step_armed = true;
	ret = rps_push_start(w);
	if (ret) {
		w->step_armed = false;
		w->pull_left = 0;
	}
	return ret;
}

RPS_EXPORT int rps_step_wait(rps_worker_t *w, int timeout_ms)
{
	int ret;

	/* a step whose push already completed posts the rest right away */
	if (w->step_armed && (ret = step_post_ready(w)))
		return ret;
	ret = poll_until(w, step_done, 0, timeout_ms, "waiting for a step");
	if (ret == -ETIMEDOUT && timeout_ms == 0)
		return -EAGAIN;
	return ret ? ret : w->push_result;
}

RPS_EXPORT int rps_step(rps_worker_t *w)
{
	int ret = rps_step_start(w);

	return ret ? ret : rps_step_wait(w, w->timeout_ms);
}

/* ---- connection ------------------------------------------------------------ */

static bool all_ready(const rps_worker_t *w, uint32_t unused)
{
	(void)unused;
	return w->lanes_ready >= w->nlanes;
}

/* rdma-ps said why it refused (a REFUSE message): one line with the
 * reason.  -EBUSY when it may go away by itself (this rank's previous
 * connection is not gone yet: worth a retry), else -RPS_ERR_REFUSED. */
static int refused(const rps_worker_config_t *cfg, uint16_t lane, const rps_reject_t *rej)
{
	rps_refuse_t r;
	const char *why;
	char text[160];

	if (rps_refuse_parse(rej->data, rej->len, &r, &why)) {
		rps_err("worker %u: %s:%u refused lane %u with a message that does not parse (%s)",
			cfg->worker_id, cfg->server, cfg->port, lane, why);
		return -ECONNREFUSED;
	}
	rps_err("refused by the server: %s", rps_refuse_describe(&r, text, sizeof(text)));
	return rps_refuse_transient(r.reason) ? -EBUSY : -RPS_ERR_REFUSED;
}

static int connect_lane(rps_worker_t *w, const rps_worker_config_t *cfg, uint16_t lane,
			rps_welcome_t *wl)
{
	uint8_t hello_wire[RPS_HELLO_WIRE_LEN];
	rps_hello_t h = { .lane = lane,
			  .worker_id = cfg->worker_id,
			  .num_workers = cfg->num_workers,
			  .model_params = cfg->num_params };

	if (cfg->auth_token)
		rps_auth_tag(cfg->auth_token, cfg->auth_token_len, h.auth_tag);
	rps_remote_t db;
	rps_reject_t rej;
	const void *pd;
	const char *why;
	size_t len;
	int ret;

	rps_mr_remote(w->ctl_mr, &db);
	h.doorbell_addr = db.addr;
	h.doorbell_key = db.key;
	rps_hello_encode(&h, hello_wire);
	ret = rps_connect(rps_transport_pd(w->tp), cfg->server, cfg->port, w->cq, hello_wire,
			  sizeof(hello_wire), &rej, &w->lanes[lane]);
	if (ret == -ECONNREFUSED && rej.len)
		return refused(cfg, lane, &rej);
	if (ret) /* the transport logged why, naming the peer */
		return ret;
	pd = rps_conn_peer_data(w->lanes[lane], &len);
	if (rps_welcome_parse(pd, len, wl, &why) ||
	    (why = wl->worker_id != cfg->worker_id ? "WELCOME for another worker id" : NULL)) {
		rps_err("worker %u: bad WELCOME from %s: %s", cfg->worker_id,
			rps_conn_peer(w->lanes[lane]), why);
		return -RPS_ERR_PROTO;
	}
	return 0;
}

/* One of the two buffers: the caller's (given, or from its allocator,
 * now that n is known), else one of ours. */
static int take_buffer(rps_worker_t *w, const rps_worker_config_t *cfg, float *given, int which,
		       float **buf_p, bool *own_p)
{
	float *buf = given;

	if (!buf && cfg->buf_alloc) {
		buf = cfg->buf_alloc(w->n, which, cfg->buf_alloc_arg);
		if (!buf) {
			rps_err("worker %u: buf_alloc gave no buffer of %" PRIu64 " floats",
				cfg->worker_id, w->n);
			return -ENOMEM;
		}
		if ((uintptr_t)buf % _Alignof(float)) {
			rps_err("worker %u: buf_alloc gave a buffer not aligned for float",
				cfg->worker_id);
			return -EINVAL;
		}
	}
	*own_p = !buf;
	*buf_p = buf ? buf : alloc_buf(w->n * sizeof(float));
	return *buf_p ? 0 : -ENOMEM;
}

static int setup_buffers(rps_worker_t *w, const rps_worker_config_t *cfg)
{
	uint64_t bytes = w->n * sizeof(float);
	int ret;

	/* the caller's buffers hold cfg->num_params floats, and the server
	 * accepted the HELLO only when that is its n */
	if ((ret = take_buffer(w, cfg, cfg->grad_buf, 0, &w->grad, &w->own_grad)) ||
	    (ret = take_buffer(w, cfg, cfg->weights_buf, 1, &w->weights, &w->own_weights)))
		return ret;
	w->pulled = calloc(w->num_chunks, 1);
	w->step_state = calloc(w->num_chunks, 1);
	if (!w->pulled || !w->step_state)
		return -ENOMEM;
	if ((ret = rps_mr_reg(rps_transport_pd(w->tp), w->grad, bytes, RPS_ACCESS_LOCAL_WRITE,
			      &w->grad_mr)))
		return ret;
	return rps_mr_reg(rps_transport_pd(w->tp), w->weights, bytes, RPS_ACCESS_LOCAL_WRITE,
			  &w->weights_mr);
}

/* OPTIONS on lane 0: chunk notices, for rps_step.  A server that does
 * not know the message ignores it, and rps_step then reads every chunk
 * once the push is complete.  Not over libfabric 1.17's shm: the
 * server's notices, a WRITE_WITH_IMM per chunk beside the worker's
 * READs, left shm refusing its writes to the worker (-EAGAIN, the
 * push's notification among them) in 2 to 8 runs of 8
 * (rps_pushpull_bench --server).  Seen since: the notification is
 * refused 1000 times in a row and dropped ("notify worker 0: Resource
 * temporarily unavailable") while the worker keeps polling, so a
 * completion shm owes is never given; it depends on timing (a getenv()
 * added to each small write's post hid it: 0 hangs in 11 runs against
 * 5 in 5 with 2 engine threads and 64K chunks).  Not understood yet. */
static int send_options(rps_worker_t *w)
{
	rps_options_t o = { w->num_chunks > 1 && w->num_chunks <= RPS_CTL_CHUNK_MAX
				    ? RPS_OPT_CHUNK_NOTICES
				    : 0 };
	int ret;

	for (uint32_t l = 0; l < w->nlanes; l++)
		if (w->lanes[l]->over_shm)
			o.flags = 0;

	if (!o.flags)
		return 0;
	/* ctl[4..5]: after the doorbell, the keepalive word and the BYE */
	rps_options_encode(&o, (uint8_t *)&w->ctl[4]);
	ret = rps_post_send(w->lanes[0], &w->ctl[4], RPS_OPTIONS_WIRE_LEN, w->ctl_mr, 0, 0);
	if (ret)
		rps_err("worker %u: OPTIONS to the server: %s", w->wl.worker_id, rps_strerror(ret));
	return ret;
}

static int worker_open(rps_worker_t *w, const rps_worker_config_t *cfg)
{
	rps_welcome_t first;
	int ret;

	if ((ret = rps_transport_open(cfg->transport, &w->tp)) ||
	    (ret = rps_cq_create(w->tp, 4096, &w->cq)))
		return ret;
	if (!(w->ctl = alloc_buf(CTL_BYTES)))
		return -ENOMEM;
	if ((ret = rps_mr_reg(rps_transport_pd(w->tp), w->ctl, CTL_BYTES,
			      RPS_ACCESS_LOCAL_WRITE | RPS_ACCESS_REMOTE_WRITE, &w->ctl_mr)))
		return ret;
	/* lane 0 tells how many lanes there are */
	w->lanes = calloc(RPS_MAX_LANES, sizeof(*w->lanes));
	if (!w->lanes)
		return -ENOMEM;
	if ((ret = connect_lane(w, cfg, 0, &first)))
		return ret;
	w->wl = first;
	w->nlanes = first.lanes;
	for (uint16_t l = 1; l < w->nlanes; l++) {
		rps_welcome_t other;

		if ((ret = connect_lane(w, cfg, l, &other)))
			return ret;
		if (other.grad.addr != first.grad.addr || other.snap.addr != first.snap.addr) {
			rps_err("worker %u: lane %u got a different layout", cfg->worker_id, l);
			return -RPS_ERR_PROTO;
		}
	}
	w->n = first.shard_params;
	w->chunk_params = first.chunk_bytes / sizeof(float);
	w->num_chunks = first.num_chunks;
	w->pushes = first.worker_pushes;
	w->server_version = first.step; /* the weights pulled at connect */
	if ((ret = setup_buffers(w, cfg)))
		return ret;
	if ((ret = poll_until(w, all_ready, 0, w->timeout_ms,
			      "waiting for the server to adopt lanes")))
		return ret;
	return send_options(w);
}

static void worker_config_defaults(rps_worker_config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->timeout_ms = DEFAULT_TIMEOUT_MS;
}

RPS_EXPORT void rps_worker_config_init_size(rps_worker_config_t *cfg, size_t size)
{
	rps_worker_config_t full;

	worker_config_defaults(&full);
	rps_ext_struct_out(cfg, size, &full, sizeof(full));
}

RPS_EXPORT int rps_worker_connect(const rps_worker_config_t *cfg_in, rps_worker_t **w_p)
{
	rps_worker_config_t full, *cfg = &full;
	rps_worker_t *w;
	int ret;

	if (!cfg_in || !w_p)
		return -EINVAL;
	/* the caller's struct may be smaller or larger than ours */
	worker_config_defaults(&full);
	if ((ret = rps_ext_struct_in(
		     &full, sizeof(full), cfg_in, RPS_EXT_END(rps_worker_config_t, auth_token_len),
		     RPS_EXT_END(rps_worker_config_t, port), "rps_worker_config_t")))
		return ret;
	if (!cfg->server || !cfg->port ||
	    (cfg->auth_token && (!cfg->auth_token_len || cfg->auth_token_len > RPS_AUTH_MAX_TOKEN)))
		return -EINVAL;
	if ((cfg->grad_buf || cfg->weights_buf) && !cfg->num_params) {
		rps_err("worker %u: grad_buf and weights_buf need num_params, the floats they hold",
			cfg->worker_id);
		return -EINVAL;
	}
	if (((uintptr_t)cfg->grad_buf | (uintptr_t)cfg->weights_buf) % _Alignof(float)) {
		rps_err("worker %u: grad_buf and weights_buf must be aligned for float",
			cfg->worker_id);
		return -EINVAL;
	}
	/* the server could only call such a HELLO malformed */
	if (cfg->num_workers && cfg->worker_id >= cfg->num_workers) {
		rps_err("worker %u: the rank is not below the world size %u", cfg->worker_id,
			cfg->num_workers);
		return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	ret = worker_open(w, cfg);
	if (ret) {
		rps_worker_close(w);
		return ret;
	}
	rps_info("worker %u: connected to %s:%u over %s (%s), %u lane(s), %" PRIu64
		 " params in %u chunks, algorithm %s",
		 cfg->worker_id, cfg->server, cfg->port, rps_transport_provider(w->tp),
		 rps_transport_device(w->tp), w->nlanes, w->n, w->num_chunks,
		 rps_algo_name(w->wl.algo));
	if ((ret = rps_pull(w))) {
		rps_worker_close(w);
		return ret;
	}
	*w_p = w;
	return 0;
}

RPS_EXPORT void rps_worker_close(rps_worker_t *w)
{
	if (!w)
		return;
	if (w->lanes && w->lanes[0] && !w->fatal && rps_conn_is_connected(w->lanes[0])) {
		rps_bye_t bye = { RPS_BYE_DONE, w->wl.worker_id, (uint32_t)w->pushes };
		rps_completion_t c;

		rps_bye_encode(&bye, (uint8_t *)&w->ctl[2]);
		if (rps_post_send(w->lanes[0], &w->ctl[2], RPS_BYE_WIRE_LEN, w->ctl_mr, 0, 0) == 0)
			rps_cq_poll_wait(w->cq, &c, 1, 1000);
	}
	for (uint32_t l = 0; w->lanes && l < RPS_MAX_LANES; l++)
		if (w->lanes[l])
			rps_conn_close(w->lanes[l]);
	free(w->lanes);
	rps_mr_dereg(w->weights_mr);
	rps_mr_dereg(w->grad_mr);
	rps_mr_dereg(w->ctl_mr);
	free(w->pulled);
	free(w->step_state);
	if (w->own_weights)
		free(w->weights);
	if (w->own_grad)
		free(w->grad);
	free(w->ctl);
	rps_cq_destroy(w->cq);
	rps_transport_close(w->tp);
	free(w);
}

RPS_EXPORT float *rps_worker_grad(rps_worker_t *w)
{
	return w->grad;
}

RPS_EXPORT float *rps_worker_weights(rps_worker_t *w)
{
	return w->weights;
}

RPS_EXPORT uint64_t rps_worker_num_params(const rps_worker_t *w)
{
	return w->n;
}

RPS_EXPORT rps_algo_t rps_worker_algo(const rps_worker_t *w)
{
	return w->wl.algo;
}

RPS_EXPORT uint32_t rps_worker_num_chunks(const rps_worker_t *w)
{
	return w->num_chunks;
}

RPS_EXPORT uint64_t rps_worker_chunk_params(const rps_worker_t *w)
{
	return w->chunk_params;
}

RPS_EXPORT uint64_t rps_worker_shard_offset(const rps_worker_t *w)
{
	return w->wl.shard_offset;
}

RPS_EXPORT uint64_t rps_worker_server_version(const rps_worker_t *w)
{
	return w->server_version;
}
