/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rps_smoke: does RDMA work between here and there?  Two processes
 * exchange RDMA WRITEs and READs over an rdmaps transport, check every
 * byte, and print the bandwidth.  Without --server or HOST it forks the
 * server itself and runs both ends on this host.
 *
 * Exit status: 0 transfers done and data verified, 1 a transfer or the
 * data check failed, 2 bad usage.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rdmaps/rdmaps.h>

#include "util/clock.h"
#include "util/opt.h"

#define PROG	    "rps_smoke"
#define IMM_WRITTEN 1 /* client -> server: write phase done, check it */
#define IMM_BYE	    2 /* client -> server: finished */
#define EXIT_FAIL   1

struct smoke_cfg {
	rps_transport_attr_t attr;
	bool server;
	const char *host;
	const char *addr;
	uint16_t port;
	uint64_t size;
	uint64_t iters;
	uint64_t depth;
};

/* ---- options ---------------------------------------------------------- */

static int opt_provider(void *c, const char *a)
{
	return rps_opt_provider(PROG, a, &((struct smoke_cfg *)c)->attr.provider);
}

static int opt_device(void *c, const char *a)
{
	((struct smoke_cfg *)c)->attr.device = a;
	return 0;
}

static int opt_ofi_provider(void *c, const char *a)
{
	((struct smoke_cfg *)c)->attr.ofi_provider = a;
	return 0;
}

static int opt_server(void *c, const char *a)
{
	(void)a;
	((struct smoke_cfg *)c)->server = true;
	return 0;
}

static int opt_addr(void *c, const char *a)
{
	((struct smoke_cfg *)c)->addr = a;
	return 0;
}

static int opt_port(void *c, const char *a)
{
	uint64_t v;
	int ret = rps_opt_u64(PROG, "port", a, 1, 65535, &v);

	((struct smoke_cfg *)c)->port = (uint16_t)v;
	return ret;
}

static int opt_size(void *c, const char *a)
{
	return rps_opt_size(PROG, "size", a, 1, 1ull << 30, &((struct smoke_cfg *)c)->size);
}

static int opt_iters(void *c, const char *a)
{
	return rps_opt_u64(PROG, "iters", a, 1, 1000000, &((struct smoke_cfg *)c)->iters);
}

static int opt_depth(void *c, const char *a)
{
	return rps_opt_u64(PROG, "tx-depth", a, 1, 64, &((struct smoke_cfg *)c)->depth);
}

static const rps_opt_t smoke_opts[] = {
	{ "provider", 'P', "NAME", "transport: auto (default), verbs or ofi", opt_provider },
	{ "device", 'd', "DEV", "verbs device (mlx5_0, rxe0) or ofi domain", opt_device },
	{ "ofi-provider", 0, "NAME", "libfabric provider for ofi (default tcp)", opt_ofi_provider },
	{ "server", 'S', NULL, "serve one client, then exit", opt_server },
	{ "addr", 'a', "ADDR", "address to listen on (default: any; local run: 127.0.0.1)",
	  opt_addr },
	{ "port", 'p', "PORT", "TCP/RDMA-CM port (default 18515; local run: any free)", opt_port },
	{ "size", 's', "BYTES", "bytes per operation, K/M/G suffixes (default 1M)", opt_size },
	{ "iters", 'n', "N", "operations per direction (default 200)", opt_iters },
	{ "tx-depth", 't', "N", "operations in flight (default 8)", opt_depth },
};

static const rps_opt_cmd_t smoke_cmd = {
	.prog = PROG,
	.synopsis = "[OPTIONS] [HOST]",
	.summary = "RDMA WRITE + READ between two processes, data checked, bandwidth printed.\n"
		   "No HOST and no --server: runs both ends on this host.",
	.opts = smoke_opts,
	.nopts = sizeof(smoke_opts) / sizeof(smoke_opts[0]),
};

/* ---- shared ----------------------------------------------------------- */

/* the server's region, sent as accept private data, little-endian */
struct smoke_welcome {
	uint64_t addr, key, len;
};

static void pattern(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131u) ^ (i >> 8) ^ seed);
}

static bool pattern_ok(const uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)((i * 131u) ^ (i >> 8) ^ seed))
			return false;
	return true;
}

struct endpoint {
	rps_transport_t *tp;
	rps_cq_t *cq;
	rps_conn_t *conn;
	uint8_t *buf;
	rps_mr_t *mr;
};

static int endpoint_open(struct smoke_cfg *cfg, struct endpoint *ep)
{
	int ret;

	memset(ep, 0, sizeof(*ep));
	if ((ret = rps_transport_open(&cfg->attr, &ep->tp)) ||
	    (ret = rps_cq_create(ep->tp, 256, &ep->cq)))
		return ret;
	if (posix_memalign((void **)&ep->buf, 4096, cfg->size))
		return -ENOMEM;
	return rps_mr_reg(rps_transport_pd(ep->tp), ep->buf, cfg->size,
			  RPS_ACCESS_LOCAL_WRITE | RPS_ACCESS_REMOTE_WRITE | RPS_ACCESS_REMOTE_READ,
			  &ep->mr);
}

static void endpoint_close(struct endpoint *ep)
{
	rps_conn_close(ep->conn);
	rps_mr_dereg(ep->mr);
	free(ep->buf);
	rps_cq_destroy(ep->cq);
	rps_transport_close(ep->tp);
}

/* Waits for one completion; an error completion or a timeout is fatal. */
static int wait_one(struct endpoint *ep, rps_completion_t *c, int timeout_ms)
{
	int n = rps_cq_poll_wait(ep->cq, c, 1, timeout_ms);

	if (n < 0) {
		fprintf(stderr, PROG ": waiting for a completion: %s\n", rps_strerror(n));
		return n;
	}
	if (c->status) {
		fprintf(stderr, PROG ": operation %" PRIu64 " failed: %s\n", c->wr_id,
			rps_strerror(c->status));
		return c->status;
	}
	return 0;
}

/* ---- server ----------------------------------------------------------- */

static int serve(struct smoke_cfg *cfg, int ready_fd)
{
	struct endpoint ep;
	rps_listener_t *l = NULL;
	rps_conn_req_t *req;
	struct smoke_welcome w;
	rps_remote_t r;
	rps_completion_t c;
	int ret;

	if ((ret = endpoint_open(cfg, &ep)) || (ret = rps_listen(ep.tp, cfg->addr, cfg->port, &l)))
		goto out;
	if (ready_fd >= 0) {
		uint16_t port = rps_listener_port(l);

		if (write(ready_fd, &port, sizeof(port)) != sizeof(port))
			ret = -EIO;
		close(ready_fd);
	} else {
		printf(PROG ": %s on %s, waiting on port %u\n", rps_transport_provider(ep.tp),
		       rps_transport_device(ep.tp), rps_listener_port(l));
		fflush(stdout);
	}
	if (ret || (ret = rps_listener_get_request(l, -1, &req)))
		goto out;
	rps_mr_remote(ep.mr, &r);
	w = (struct smoke_welcome){ htole64(r.addr), htole64(r.key), htole64(r.len) };
	if ((ret = rps_conn_req_accept(req, rps_transport_pd(ep.tp), ep.cq, &w, sizeof(w),
				       &ep.conn)))
		goto out;

	/* busy-poll: the ofi provider moves one-sided data only while the
	 * target polls */
	for (;;) {
		if ((ret = wait_one(&ep, &c, -1)))
			break;
		if (c.type != RPS_COMP_REMOTE_WRITE_IMM)
			continue;
		if (c.imm == IMM_BYE)
			break;
		if (c.imm == IMM_WRITTEN) {
			/* the client wrote pattern seed 0x5a last; tell it
			 * whether every byte arrived, then let it read */
			uint8_t verdict = pattern_ok(ep.buf, cfg->size, 0x5a) ? 1 : 0;

			ep.buf[0] = verdict; /* staged in the region's first byte */
			if ((ret = rps_post_send(ep.conn, ep.buf, 1, ep.mr, 1, 0)) ||
			    (ret = wait_one(&ep, &c, 60000)))
				break;
			pattern(ep.buf, cfg->size, 0xa5);
			if ((ret = rps_post_send(ep.conn, ep.buf, 1, ep.mr, 2, 0)) ||
			    (ret = wait_one(&ep, &c, 60000)))
				break;
		}
	}
out:
	if (ret)
		fprintf(stderr, PROG ": server: %s\n", rps_strerror(ret));
	rps_listener_close(l);
	endpoint_close(&ep);
	return ret ? EXIT_FAIL : 0;
}

/* ---- client ----------------------------------------------------------- */

/* Runs iters operations of one kind with depth in flight; returns
 * seconds elapsed or a negative value on error. */
static double run_phase(struct smoke_cfg *cfg, struct endpoint *ep, const struct smoke_welcome *w,
			bool is_read)
{
	uint64_t posted = 0, done = 0, t0 = rps_now_ns();
	rps_completion_t c;

	while (done < cfg->iters) {
		while (posted < cfg->iters && posted - done < cfg->depth) {
			int ret = is_read ? rps_post_read(ep->conn, ep->buf, cfg->size, ep->mr,
							  w->addr, w->key, posted, 0)
					  : rps_post_write(ep->conn, ep->buf, cfg->size, ep->mr,
							   w->addr, w->key, posted, 0);
			if (ret == -EAGAIN)
				break;
			if (ret) {
				fprintf(stderr, PROG ": post: %s\n", rps_strerror(ret));
				return -1;
			}
			posted++;
		}
		if (wait_one(ep, &c, 60000))
			return -1;
		done++;
	}
	return (double)(rps_now_ns() - t0) / 1e9;
}

static int expect_recv(struct endpoint *ep, uint8_t *byte_p)
{
	rps_completion_t c;
	int ret;

	do {
		if ((ret = wait_one(ep, &c, 60000)))
			return ret;
	} while (c.type != RPS_COMP_RECV);
	*byte_p = *(const uint8_t *)c.data;
	return 0;
}

static void report(const char *op, struct smoke_cfg *cfg, double secs)
{
	double bytes = (double)cfg->size * (double)cfg->iters;

	printf(" %-6s %12" PRIu64 " %8" PRIu64 " %10.3f %12.2f %10.2f\n", op, cfg->size, cfg->iters,
	       bytes / secs / 1e9, bytes / secs / 1e6, secs * 1e6 / (double)cfg->iters);
}

static int client(struct smoke_cfg *cfg, const char *host)
{
	struct endpoint ep;
	struct smoke_welcome w;
	const void *pd;
	size_t pdlen;
	uint8_t verdict = 0, ready;
	double tw, tr;
	int ret;

	if ((ret = endpoint_open(cfg, &ep)) ||
	    (ret = rps_connect(rps_transport_pd(ep.tp), host, cfg->port, ep.cq, NULL, 0, NULL,
			       &ep.conn)))
		goto fail;
	pd = rps_conn_peer_data(ep.conn, &pdlen);
	if (pdlen != sizeof(w)) {
		fprintf(stderr,
			PROG ": %s sent %zu bytes of welcome, expected %zu: "
			     "not an rps_smoke server\n",
			host, pdlen, sizeof(w));
		ret = -RPS_ERR_PROTO;
		goto fail;
	}
	memcpy(&w, pd, sizeof(w));
	w = (struct smoke_welcome){ le64toh(w.addr), le64toh(w.key), le64toh(w.len) };
	if (w.len < cfg->size) {
		fprintf(stderr,
			PROG ": server region is %" PRIu64 " bytes, --size is %" PRIu64
			     ": use the same --size on both ends\n",
			w.len, cfg->size);
		ret = -EINVAL;
		goto fail;
	}
	printf(PROG ": provider %s, device %s, peer %s\n", rps_transport_provider(ep.tp),
	       rps_transport_device(ep.tp), rps_conn_peer(ep.conn));
	printf(" %-6s %12s %8s %10s %12s %10s\n", "op", "#bytes", "#iters", "GB/s", "MB/s",
	       "usec/op");

	pattern(ep.buf, cfg->size, 0x5a);
	if ((tw = run_phase(cfg, &ep, &w, false)) < 0)
		goto fail_transfer;
	report("write", cfg, tw);
	if ((ret = rps_post_write_imm(ep.conn, NULL, 0, NULL, w.addr, w.key, IMM_WRITTEN, 0, 0)) ||
	    (ret = expect_recv(&ep, &verdict)) || (ret = expect_recv(&ep, &ready)))
		goto fail;
	memset(ep.buf, 0, cfg->size);
	if ((tr = run_phase(cfg, &ep, &w, true)) < 0)
		goto fail_transfer;
	report("read", cfg, tr);
	rps_post_write_imm(ep.conn, NULL, 0, NULL, w.addr, w.key, IMM_BYE, 0, 0);
	rps_cq_poll_wait(ep.cq, &(rps_completion_t){ 0 }, 1, 5000);

	bool read_ok = pattern_ok(ep.buf, cfg->size, 0xa5);
	printf(PROG ": write data %s, read data %s\n", verdict ? "verified" : "CORRUPT",
	       read_ok ? "verified" : "CORRUPT");
	endpoint_close(&ep);
	return verdict && read_ok ? 0 : EXIT_FAIL;

fail_transfer:
	ret = -EIO;
fail:
	fprintf(stderr, PROG ": client: %s\n", rps_strerror(ret));
	endpoint_close(&ep);
	return EXIT_FAIL;
}

/* Both ends on this host: the server is a child process that reports its
 * ephemeral port through a pipe. */
static int run_local(struct smoke_cfg *cfg)
{
	int fds[2], status, ret;
	uint16_t port;
	pid_t pid;

	if (!cfg->addr)
		cfg->addr = "127.0.0.1";
	if (pipe(fds))
		return EXIT_FAIL;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return EXIT_FAIL;
	if (pid == 0) {
		close(fds[0]);
		_exit(serve(cfg, fds[1]));
	}
	close(fds[1]);
	if (read(fds[0], &port, sizeof(port)) != sizeof(port)) {
		fprintf(stderr, PROG ": the server process failed to start\n");
		waitpid(pid, &status, 0);
		return EXIT_FAIL;
	}
	close(fds[0]);
	cfg->port = port;
	ret = client(cfg, cfg->addr);
	if (ret)
		kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		ret = EXIT_FAIL;
	return ret;
}

int main(int argc, char **argv)
{
	struct smoke_cfg cfg = { .size = 1 << 20, .iters = 200, .depth = 8 };
	int first;

	if (rps_transport_attr_init(&cfg.attr))
		return RPS_EXIT_USAGE;
	first = rps_opt_parse(&smoke_cmd, &cfg, argc, argv);
	if (first == 0)
		return 0;
	if (first < 0)
		return RPS_EXIT_USAGE;
	if (argc - first > 1 || (cfg.server && argc - first == 1)) {
		fprintf(stderr, PROG ": give either --server or one HOST (try --help)\n");
		return RPS_EXIT_USAGE;
	}
	if (cfg.server) {
		if (!cfg.port)
			cfg.port = 18515;
		return serve(&cfg, -1);
	}
	if (argc - first == 1) {
		if (!cfg.port)
			cfg.port = 18515;
		return client(&cfg, argv[first]);
	}
	return run_local(&cfg);
}
