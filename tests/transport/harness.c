/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

static char test_addr[INET6_ADDRSTRLEN];

const char *th_provider(void)
{
	return RPS_TEST_PROVIDER;
}

static int open_transport(rps_transport_t **tp_p)
{
	rps_transport_attr_t attr;
	int ret = rps_transport_attr_init(&attr);

	if (ret)
		return ret;
	attr.provider = th_provider();
	/* the suite fills the send queue on purpose: keep it small so that
	 * "full" is reached quickly on every provider */
	attr.sq_depth = 128;
	attr.recv_depth = 32;
	attr.max_msg_size = 4096;
	attr.timeout_ms = 10000;
	return rps_transport_open(&attr, tp_p);
}

static void log_drop(rps_log_level_t level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
}

/* Without $RPS_TEST_ADDR, a verbs device is reached through the IP
 * address of its netdev: try each local IPv4 address until a listener
 * binds (rdma_cm refuses addresses of non-RDMA interfaces). */
static int find_addr(rps_transport_t *tp)
{
	struct ifaddrs *ifa_list, *ifa;
	rps_listener_t *l;
	int ret = -ENODEV;

	if (getifaddrs(&ifa_list))
		return -errno;
	/* failed binds on non-RDMA interfaces are expected: keep quiet */
	rps_log_set_handler(log_drop, NULL);
	for (ifa = ifa_list; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != AF_INET)
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr, test_addr,
			  sizeof(test_addr));
		if (rps_listen(tp, test_addr, 0, &l) == 0) {
			rps_listener_close(l);
			ret = 0;
			break;
		}
	}
	rps_log_set_handler(NULL, NULL);
	freeifaddrs(ifa_list);
	return ret;
}

int th_global_setup(void)
{
	const char *env = getenv("RPS_TEST_ADDR");
	rps_transport_t *tp;
	int ret = open_transport(&tp);

	if (ret == -ENODEV) {
		printf("SKIP: provider %s has no usable device here (%s)\n", th_provider(),
		       rps_strerror(ret));
		return TH_EXIT_SKIP;
	}
	if (ret) {
		printf("FAIL: opening provider %s: %s\n", th_provider(), rps_strerror(ret));
		return ret;
	}
	if (env && *env) {
		snprintf(test_addr, sizeof(test_addr), "%s", env);
	} else if (strcmp(th_provider(), "ofi") == 0) {
		snprintf(test_addr, sizeof(test_addr), "127.0.0.1");
	} else if (find_addr(tp)) {
		printf("SKIP: no local IPv4 address reaches %s device %s "
		       "(set RPS_TEST_ADDR)\n",
		       th_provider(), rps_transport_device(tp));
		rps_transport_close(tp);
		return TH_EXIT_SKIP;
	}
	printf("# provider %s, device %s, address %s\n", th_provider(), rps_transport_device(tp),
	       test_addr);
	rps_transport_close(tp);
	return 0;
}

void th_global_teardown(void)
{
}

int th_setup(void **state)
{
	th_fixture_t *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(open_transport(&f->tp), 0);
	f->addr = test_addr;
	for (int s = 0; s < 2; s++)
		assert_int_equal(rps_cq_create(f->tp, TH_CQ_DEPTH, &f->side[s].cq), 0);
	assert_int_equal(rps_listen(f->tp, f->addr, 0, &f->listener), 0);
	assert_true(rps_listener_port(f->listener) != 0);
	*state = f;
	return 0;
}

int th_teardown(void **state)
{
	th_fixture_t *f = *state;

	th_drain(f);
	rps_listener_close(f->listener);
	for (int s = 0; s < 2; s++) {
		rps_cq_destroy(f->side[s].cq);
		free(f->side[s].queue);
	}
	rps_transport_close(f->tp);
	free(f);
	return 0;
}

/* ---- connection setup ------------------------------------------------ */

struct acceptor {
	th_fixture_t *f;
	bool reject;
	const void *rdata; /* reject with it */
	size_t rlen;
	int reject_ret; /* what rps_conn_req_reject returned */
	const void *adata;
	size_t alen;
	rps_pd_t *pd; /* accept in it; NULL = the default PD */
	uint8_t cdata[RPS_CONNECT_DATA_MAX];
	size_t clen;
	rps_conn_t *conn;
	int ret;
};

/* The passive side runs in its own thread because rps_connect blocks
 * until the connection is established. */
static void *acceptor_main(void *arg)
{
	struct acceptor *a = arg;
	rps_conn_req_t *req;
	const void *d;

	a->ret = rps_listener_get_request(a->f->listener, TH_TIMEOUT_MS, &req);
	if (a->ret)
		return NULL;
	d = rps_conn_req_data(req, &a->clen);
	if (a->clen <= sizeof(a->cdata))
		memcpy(a->cdata, d, a->clen);
	if (a->reject) {
		a->reject_ret = rps_conn_req_reject(req, a->rdata, a->rlen);
		a->ret = -ECONNREFUSED;
		return NULL;
	}
	a->ret = rps_conn_req_accept(req, a->pd ? a->pd : rps_transport_pd(a->f->tp),
				     a->f->side[TH_SERVER].cq, a->adata, a->alen, &a->conn);
	return NULL;
}

static int connect_pair_pd(th_fixture_t *f, bool reject, const void *cdata, size_t clen,
			   const void *adata, size_t alen, rps_pd_t *spd, rps_pd_t *cpd,
			   struct acceptor *a, rps_conn_t **client_p)
{
	uint16_t port = rps_listener_port(f->listener);
	pthread_t thr;
	int ret;

	memset(a, 0, sizeof(*a));
	a->f = f;
	a->reject = reject;
	a->adata = adata;
	a->alen = alen;
	a->pd = spd;
	assert_int_equal(pthread_create(&thr, NULL, acceptor_main, a), 0);
	ret = rps_connect(cpd ? cpd : rps_transport_pd(f->tp), f->addr, port, f->side[TH_CLIENT].cq,
			  cdata, clen, NULL, client_p);
	pthread_join(thr, NULL);
	return ret;
}

static int connect_pair(th_fixture_t *f, bool reject, const void *cdata, size_t clen,
			const void *adata, size_t alen, struct acceptor *a, rps_conn_t **client_p)
{
	return connect_pair_pd(f, reject, cdata, clen, adata, alen, NULL, NULL, a, client_p);
}

void th_connect_pair_pd(th_fixture_t *f, rps_pd_t *spd, rps_pd_t *cpd, rps_conn_t **server_p,
			rps_conn_t **client_p)
{
	struct acceptor a;

	assert_int_equal(connect_pair_pd(f, false, NULL, 0, NULL, 0, spd, cpd, &a, client_p), 0);
	assert_int_equal(a.ret, 0);
	assert_true(rps_conn_is_connected(*client_p));
	assert_true(rps_conn_is_connected(a.conn));
	*server_p = a.conn;
}

void th_connect_pair(th_fixture_t *f, const void *cdata, size_t clen, const void *adata,
		     size_t alen, rps_conn_t **server_p, rps_conn_t **client_p)
{
	struct acceptor a;
	const void *peer;
	size_t len;

	assert_int_equal(connect_pair(f, false, cdata, clen, adata, alen, &a, client_p), 0);
	assert_int_equal(a.ret, 0);
	assert_int_equal(a.clen, clen);
	if (clen)
		assert_memory_equal(a.cdata, cdata, clen);
	peer = rps_conn_peer_data(*client_p, &len);
	assert_int_equal(len, alen);
	if (alen)
		assert_memory_equal(peer, adata, alen);
	assert_true(rps_conn_is_connected(*client_p));
	assert_true(rps_conn_is_connected(a.conn));
	assert_true(strlen(rps_conn_peer(*client_p)) > 0);
	assert_true(strlen(rps_conn_peer(a.conn)) > 0);
	*server_p = a.conn;
}

int th_try_connect(th_fixture_t *f, bool reject, rps_conn_t **server_p, rps_conn_t **client_p)
{
	struct acceptor a;
	int ret = connect_pair(f, reject, "x", 1, "y", 1, &a, client_p);

	*server_p = a.ret == 0 ? a.conn : NULL;
	return ret;
}

int th_connect_refused(th_fixture_t *f, const void *rdata, size_t rlen, int *reject_ret_p,
		       rps_reject_t *reject_p)
{
	uint16_t port = rps_listener_port(f->listener);
	struct acceptor a = { .f = f, .reject = true, .rdata = rdata, .rlen = rlen };
	rps_conn_t *c = NULL;
	pthread_t thr;
	int ret;

	assert_int_equal(pthread_create(&thr, NULL, acceptor_main, &a), 0);
	ret = rps_connect(rps_transport_pd(f->tp), f->addr, port, f->side[TH_CLIENT].cq, "x", 1,
			  reject_p, &c);
	pthread_join(thr, NULL);
	assert_null(c);
	*reject_ret_p = a.reject_ret;
	return ret;
}

/* ---- completions ----------------------------------------------------- */

static void queue_push(th_side_t *s, const rps_completion_t *c)
{
	th_comp_t *e;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->queue = realloc(s->queue, s->cap * sizeof(*s->queue));
		assert_non_null(s->queue);
	}
	e = &s->queue[s->n++];
	e->c = *c;
	e->data = NULL;
	if (c->status == 0 && c->type == RPS_COMP_RECV) {
		e->data = malloc(c->len ? c->len : 1);
		assert_non_null(e->data);
		memcpy(e->data, c->data, c->len);
		e->c.data = e->data;
	}
}

int th_pump_side(th_fixture_t *f, enum th_side_id side)
{
	rps_completion_t comps[32];
	int n = rps_cq_poll(f->side[side].cq, comps, 32);

	assert_true(n >= 0);
	for (int i = 0; i < n; i++)
		queue_push(&f->side[side], &comps[i]);
	return n;
}

int th_pump(th_fixture_t *f)
{
	return th_pump_side(f, TH_SERVER) + th_pump_side(f, TH_CLIENT);
}

static bool take(th_side_t *s, bool (*match)(const rps_completion_t *, const void *),
		 const void *arg, th_comp_t *out)
{
	for (size_t i = 0; i < s->n; i++) {
		if (match(&s->queue[i].c, arg)) {
			*out = s->queue[i];
			memmove(&s->queue[i], &s->queue[i + 1], (s->n - i - 1) * sizeof(*s->queue));
			s->n--;
			return true;
		}
	}
	return false;
}

static int wait_match(th_fixture_t *f, enum th_side_id side,
		      bool (*match)(const rps_completion_t *, const void *), const void *arg,
		      int timeout_ms, th_comp_t *out)
{
	struct timespec t0, t;
	unsigned spins = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (take(&f->side[side], match, arg, out))
			return 0;
		if (th_pump(f) == 0 && (++spins & 1023) == 0) {
			/* notice disconnects while idle */
			assert_true(rps_transport_progress(f->tp) >= 0);
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >
			    timeout_ms)
				return -ETIMEDOUT;
		}
	}
}

struct match_arg {
	rps_comp_type_t type;
	uint64_t wr_id;
};

static bool match_type(const rps_completion_t *c, const void *arg)
{
	const struct match_arg *m = arg;

	if (m->wr_id != UINT64_MAX && c->wr_id != m->wr_id)
		return false;
	/* an error completion's type is not meaningful: match on wr_id */
	if (c->status != 0)
		return m->wr_id != UINT64_MAX;
	return m->type == 0 || c->type == m->type;
}

int th_wait(th_fixture_t *f, enum th_side_id side, rps_comp_type_t type, uint64_t wr_id,
	    int timeout_ms, th_comp_t *out)
{
	struct match_arg m = { type, wr_id };

	return wait_match(f, side, match_type, &m, timeout_ms, out);
}

static bool match_error(const rps_completion_t *c, const void *arg)
{
	(void)arg;
	return c->status != 0;
}

int th_wait_error(th_fixture_t *f, enum th_side_id side, int timeout_ms, th_comp_t *out)
{
	return wait_match(f, side, match_error, NULL, timeout_ms, out);
}

void th_drain(th_fixture_t *f)
{
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < f->side[s].n; i++)
			free(f->side[s].queue[i].data);
		f->side[s].n = 0;
	}
}

/* ---- buffers --------------------------------------------------------- */

#define GUARD_BYTE 0xA5

void th_buf_alloc(th_fixture_t *f, size_t len, unsigned access, th_buf_t *b)
{
	th_buf_alloc_pd(f, NULL, len, access, b);
}

void th_buf_alloc_pd(th_fixture_t *f, rps_pd_t *pd, size_t len, unsigned access, th_buf_t *b)
{
	memset(b, 0, sizeof(*b));
	assert_int_equal(posix_memalign((void **)&b->mem, 4096, len + 2 * TH_GUARD), 0);
	memset(b->mem, GUARD_BYTE, TH_GUARD);
	memset(b->mem + TH_GUARD + len, GUARD_BYTE, TH_GUARD);
	b->buf = b->mem + TH_GUARD;
	b->len = len;
	memset(b->buf, 0, len);
	assert_int_equal(rps_mr_reg(pd ? pd : rps_transport_pd(f->tp), b->buf, len, access, &b->mr),
			 0);
	rps_mr_remote(b->mr, &b->remote);
	assert_true(b->remote.len == len);
}

void th_pair_open(th_fixture_t *f, th_pair_t *p, size_t len)
{
	const unsigned rw =
		RPS_ACCESS_LOCAL_WRITE | RPS_ACCESS_REMOTE_WRITE | RPS_ACCESS_REMOTE_READ;

	th_connect_pair(f, NULL, 0, NULL, 0, &p->s, &p->c);
	th_buf_alloc(f, len, rw, &p->srv);
	th_buf_alloc(f, len, rw, &p->cli);
}

void th_pair_close(th_pair_t *p)
{
	rps_conn_close(p->c);
	rps_conn_close(p->s);
	th_buf_free(&p->cli);
	th_buf_free(&p->srv);
}

void th_buf_free(th_buf_t *b)
{
	rps_mr_dereg(b->mr);
	free(b->mem);
}

/* xorshift32: cheap, and every offset gets a seed-dependent byte, so a
 * misplaced or partial transfer cannot pass the check */
void th_fill(void *p, size_t len, uint32_t seed)
{
	uint8_t *b = p;
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (uint8_t)x;
	}
}

bool th_check(const void *p, size_t len, uint32_t seed)
{
	const uint8_t *b = p;
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		if (b[i] != (uint8_t)x) {
			print_message("mismatch at byte %zu of %zu\n", i, len);
			return false;
		}
	}
	return true;
}

bool th_guards_intact(const th_buf_t *b)
{
	for (size_t i = 0; i < TH_GUARD; i++) {
		if (b->mem[i] != GUARD_BYTE || b->mem[TH_GUARD + b->len + i] != GUARD_BYTE)
			return false;
	}
	return true;
}
