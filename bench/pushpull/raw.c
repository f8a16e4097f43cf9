/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The reference of rps_pushpull_bench: the same bytes moved by bare
 * transport WRITEs and READs, chunked like a push, between two endpoints
 * of this process.  The target polls in its own thread (libfabric's tcp
 * provider moves one-sided data only while the target polls, as rdma-ps's
 * engines do).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/pushpull/pushpull.h"
#include "util/clock.h"
#include "util/spin.h"

struct end {
	rps_transport_t *tp;
	rps_cq_t *cq;
	rps_conn_t *conn;
	rps_mr_t *mr;
	void *buf;
};

struct target {
	struct end e;
	rps_listener_t *l;
	_Atomic int accepted; /* 1 ok, < 0 failed */
	_Atomic bool stop;
};

static int end_open(const struct pp_cfg *cfg, uint64_t bytes, struct end *e)
{
	int ret;

	memset(e, 0, sizeof(*e));
	if ((ret = rps_transport_open(&cfg->attr, &e->tp)) ||
	    (ret = rps_cq_create(e->tp, 1024, &e->cq)))
		return ret;
	if (posix_memalign(&e->buf, 4096, bytes))
		return -ENOMEM;
	memset(e->buf, 1, bytes);
	return rps_mr_reg(rps_transport_pd(e->tp), e->buf, bytes,
			  RPS_ACCESS_LOCAL_WRITE | RPS_ACCESS_REMOTE_WRITE | RPS_ACCESS_REMOTE_READ,
			  &e->mr);
}

static void end_close(struct end *e)
{
	rps_conn_close(e->conn);
	rps_mr_dereg(e->mr);
	free(e->buf);
	rps_cq_destroy(e->cq);
	rps_transport_close(e->tp);
}

static void *target_main(void *arg)
{
	struct target *t = arg;
	rps_completion_t c[16];
	rps_conn_req_t *req;
	unsigned idle = 0;
	int ret;

	/* rps_connect blocks until the accept: it must happen here */
	if ((ret = rps_listener_get_request(t->l, 10000, &req)) ||
	    (ret = rps_conn_req_accept(req, rps_transport_pd(t->e.tp), t->e.cq, NULL, 0,
				       &t->e.conn))) {
		atomic_store(&t->accepted, ret);
		return NULL;
	}
	atomic_store(&t->accepted, 1);
	/* polled like rdma-ps's engines poll, yielding when idle */
	while (!atomic_load(&t->stop))
		rps_idle_poll(&idle, rps_cq_poll(t->e.cq, c, 16));
	return NULL;
}

/* one transfer of bytes in chunks, every chunk posted before waiting;
 * WRITE_WITH_IMM as a push's chunks are (the target's CQ sees each) */
static int transfer(struct end *e, const rps_remote_t *r, uint64_t bytes, uint64_t chunk,
		    bool is_read, double *us_p)
{
	uint64_t n = (bytes + chunk - 1) / chunk, posted = 0, done = 0, t0 = rps_now_ns();
	rps_completion_t c[16];
	unsigned idle = 0;

	while (done < n) {
		while (posted < n) {
			uint64_t off = posted * chunk,
				 len = bytes - off < chunk ? bytes - off : chunk;
			char *p = (char *)e->buf + off;
			int ret =
				is_read ? rps_post_read(e->conn, p, len, e->mr, r->addr + off,
							r->key, posted, 0)
					: rps_post_write_imm(e->conn, p, len, e->mr, r->addr + off,
							     r->key, (uint32_t)posted, posted, 0);
			if (ret == -EAGAIN)
				break;
			if (ret)
				return ret;
			posted++;
		}
		int k = rps_cq_poll(e->cq, c, 16);

		if (k < 0)
			return k;
		rps_idle_poll(&idle, k);
		for (int i = 0; i < k; i++)
			if (c[i].status)
				return c[i].status;
		done += (uint64_t)k;
	}
	*us_p = (double)(rps_now_ns() - t0) / 1e3;
	return 0;
}

/* the timed side, in a thread of its own so it can be placed */
struct initiator {
	struct end *in;
	const rps_remote_t *r;
	uint64_t bytes, chunk;
	int reps;
	double *w, *rd; /* [reps] */
	int ret;
};

static void *initiator_main(void *arg)
{
	struct initiator *a = arg;

	for (int i = 0; i < a->reps + 1 && !a->ret; i++) /* the first is a warm-up */
		if (!(a->ret = transfer(a->in, a->r, a->bytes, a->chunk, false,
					&a->w[i ? i - 1 : 0])))
			a->ret = transfer(a->in, a->r, a->bytes, a->chunk, true,
					  &a->rd[i ? i - 1 : 0]);
	return NULL;
}

int pp_raw_time(const struct pp_cfg *cfg, uint64_t bytes, uint64_t chunk, int reps,
		double *write_us_p, double *read_us_p)
{
	struct target t = { 0 };
	struct end in = { 0 };
	rps_remote_t r;
	pthread_t thr, ithr;
	struct initiator ini;
	bool started = false;
	double w[64], rd[64];
	int ret;

	if (reps > 64)
		reps = 64;
	if ((ret = end_open(cfg, bytes, &t.e)) || (ret = end_open(cfg, bytes, &in)) ||
	    (ret = rps_listen(t.e.tp, cfg->addr, 0, &t.l)))
		goto out;
	/* the target where the engine polls, the initiator where a worker
	 * runs (place.c) */
	if ((ret = pp_thread_start(cfg, true, &thr, target_main, &t)))
		goto out;
	started = true;
	if ((ret = rps_connect(rps_transport_pd(in.tp), cfg->addr, rps_listener_port(t.l), in.cq,
			       NULL, 0, NULL, &in.conn)))
		goto out;
	while (!atomic_load(&t.accepted))
		;
	if ((ret = atomic_load(&t.accepted)) < 0)
		goto out;
	rps_mr_remote(t.e.mr, &r);
	ini = (struct initiator){ &in, &r, bytes, chunk, reps, w, rd, 0 };
	if ((ret = pp_thread_start(cfg, false, &ithr, initiator_main, &ini)))
		goto out;
	pthread_join(ithr, NULL);
	ret = ini.ret;
	if (!ret) {
		*write_us_p = pp_median(w, (uint32_t)reps);
		*read_us_p = pp_median(rd, (uint32_t)reps);
	}
out:
	if (started) {
		atomic_store(&t.stop, true);
		pthread_join(thr, NULL);
	}
	if (ret)
		fprintf(stderr, "rps_pushpull_bench: bare transport reference: %s\n",
			rps_strerror(ret));
	end_close(&in);
	rps_listener_close(t.l);
	end_close(&t.e);
	return ret;
}
