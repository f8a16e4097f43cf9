/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ofi provider, RDM mode: rdmaps' connection model carried over
 * reliable-datagram endpoints, for providers that have no FI_EP_MSG
 * (shm: same-host peers at memory speed).
 *
 * FI_EP_RDM has no connections, so each rps_conn brings its own: a TCP
 * control socket to the peer's listener and an FI_EP_RDM endpoint with
 * the peer's endpoint name alone in an address vector of its own.  The
 * socket carries what rdma_cm or the FI_EP_MSG event queue would:
 *
 *   connector -> listener  HELLO    magic, version, endpoint name, the
 *                                   caller's private data + our token
 *   listener  -> connector WELCOME  status 0, its endpoint name, the
 *                                   accept data + its token
 *                      or  REFUSAL  status 1, the reject data
 *   connector -> listener  READY    (the connector inserted the name and
 *                                   posted its receives)
 *
 * and then stays open, silent, for the life of the connection: its end
 * (EOF or reset) is the disconnect, which rps_transport_progress notices
 * (rps_ofi_rdm_watch), as the EQ's FI_SHUTDOWN does for FI_EP_MSG.
 * Each side's accept/connect returns only after the exchange is
 * complete, so both ends' receives are posted before either is told the
 * connection is up.  Every field is little-endian; lengths are checked
 * against the bounds before anything is copied.
 *
 * Why a socket per connection rather than a message on the endpoint: an
 * RDM endpoint tells a sender nothing when its peer dies (shm keeps the
 * peer's region mapped), and the socket's end is the one signal the
 * kernel gives for a process gone, killed or not.
 */
#define _GNU_SOURCE /* accept4 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/ofi/ofi.h"
#include "util/clock.h"
#include "util/log.h"

#define RDM_MAGIC_HELLO	  0x4f4c4852u /* "RHLO" */
#define RDM_MAGIC_WELCOME 0x4d4c5752u /* "RWLM" */
#define RDM_MAGIC_READY	  0x59445252u /* "RRDY" */
#define RDM_VERSION	  1
#define RDM_STATUS_ACCEPT 0
#define RDM_STATUS_REJECT 1

/* magic u32, version u16 (HELLO) or status u16 (WELCOME), name length
 * u16, data length u16 */
#define RDM_HDR_LEN 10
#define RDM_DATA_MAX                                                                               \
	(RPS_OFI_CONNECT_RAW_MAX > RPS_OFI_ACCEPT_RAW_MAX ? RPS_OFI_CONNECT_RAW_MAX                \
							  : RPS_OFI_ACCEPT_RAW_MAX)
#define RDM_MSG_MAX (RDM_HDR_LEN + RPS_OFI_RDM_NAME_MAX + RDM_DATA_MAX)

/* a listener waits this long at most for a HELLO once a socket came,
 * so that a stray client cannot hold the accept loop for long */
#define RDM_HELLO_MS 2000

struct rdm_msg {
	uint32_t magic;
	uint16_t word; /* version or status */
	uint8_t name[RPS_OFI_RDM_NAME_MAX];
	size_t name_len;
	uint8_t data[RDM_DATA_MAX];
	size_t data_len;
};

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, v & 0xffff);
	put_le16(p + 2, v >> 16);
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)get_le16(p) | (uint32_t)get_le16(p + 2) << 16;
}

/* ---- the control socket ------------------------------------------------ */

/* Waits until fd is ready for events or the deadline passes, driving cq
 * (when not NULL) every millisecond meanwhile: the peer's endpoint may
 * need ours to move (rdm_warm).  1 ready, 0 timed out, -errno. */
static int rdm_wait(int fd, short events, uint64_t deadline, struct rps_ofi_cq *cq)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ret, ms;

	for (;;) {
		ms = rps_ms_left(deadline);
		if (cq && (ms < 0 || ms > 1))
			ms = 1;
		ret = poll(&pfd, 1, ms);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret != 0 || !cq || rps_ms_left(deadline) == 0)
			return ret < 0 ? -errno : ret;
		/* moves data, takes no entry (see rps_ofi_progress) */
		rps_ofi_cq_drive(cq);
	}
}

/* Sends all of buf.  0, -ETIMEDOUT or -errno. */
static int rdm_send_all(int fd, const void *data, size_t len, uint64_t deadline)
{
	const uint8_t *buf = data;

	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		n = rdm_wait(fd, POLLOUT, deadline, NULL);
		if (n <= 0)
			return n ? (int)n : -ETIMEDOUT;
	}
	return 0;
}

/* Reads exactly len bytes, driving cq meanwhile (rdm_wait).  0,
 * -ECONNRESET at EOF, -ETIMEDOUT or -errno. */
static int rdm_recv_all(int fd, void *data, size_t len, uint64_t deadline, struct rps_ofi_cq *cq)
{
	uint8_t *buf = data;

	while (len) {
		ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		n = rdm_wait(fd, POLLIN, deadline, cq);
		if (n <= 0)
			return n ? (int)n : -ETIMEDOUT;
	}
	return 0;
}

/* READY: "my endpoint reaches yours"; read with the peer's side driven */
static int rdm_send_ready(int fd, uint64_t deadline)
{
	uint8_t ready[4];

	put_le32(ready, RDM_MAGIC_READY);
	return rdm_send_all(fd, ready, sizeof(ready), deadline);
}

static int rdm_recv_ready(struct rps_ofi_conn *conn, uint64_t deadline)
{
	uint8_t ready[4];
	int ret = rdm_recv_all(conn->sock, ready, sizeof(ready), deadline, conn->cq);

	return ret ? ret : get_le32(ready) == RDM_MAGIC_READY ? 0 : -RPS_ERR_PROTO;
}

static int rdm_send_msg(int fd, const struct rdm_msg *m, uint64_t deadline)
{
	uint8_t buf[RDM_MSG_MAX];

	put_le32(buf, m->magic);
	put_le16(buf + 4, m->word);
	put_le16(buf + 6, (uint16_t)m->name_len);
	put_le16(buf + 8, (uint16_t)m->data_len);
	memcpy(buf + RDM_HDR_LEN, m->name, m->name_len);
	memcpy(buf + RDM_HDR_LEN + m->name_len, m->data, m->data_len);
	return rdm_send_all(fd, buf, RDM_HDR_LEN + m->name_len + m->data_len, deadline);
}

/* HELLO or WELCOME (accepting) from conn: m holds its endpoint's name */
static int rdm_send_own(struct rps_ofi_conn *conn, struct rdm_msg *m, uint32_t magic, uint16_t word,
			const void *data, size_t len, uint64_t deadline)
{
	m->magic = magic;
	m->word = word;
	m->data_len = rps_ofi_pack(m->data, data, len, conn->token);
	return rdm_send_msg(conn->sock, m, deadline);
}

/* Reads one HELLO or WELCOME (magic).  0, -RPS_ERR_PROTO when it is not
 * one (not an rdmaps peer, or one of another mode), or rdm_recv_all's. */
static int rdm_recv_msg(int fd, uint32_t magic, struct rdm_msg *m, uint64_t deadline)
{
	uint8_t hdr[RDM_HDR_LEN];
	int ret = rdm_recv_all(fd, hdr, sizeof(hdr), deadline, NULL);

	if (ret)
		return ret;
	m->magic = get_le32(hdr);
	m->word = get_le16(hdr + 4);
	m->name_len = get_le16(hdr + 6);
	m->data_len = get_le16(hdr + 8);
	if (m->magic != magic || m->name_len > sizeof(m->name) || m->data_len > sizeof(m->data))
		return -RPS_ERR_PROTO;
	ret = rdm_recv_all(fd, m->name, m->name_len, deadline, NULL);
	if (!ret)
		ret = rdm_recv_all(fd, m->data, m->data_len, deadline, NULL);
	return ret;
}

/* A connected (or, with listen, listening) non-blocking TCP socket. */
static int rdm_socket(const struct sockaddr_storage *ss)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	/* the handshake is a few small messages each way */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* ---- endpoints ---------------------------------------------------------- */

/* The connection's endpoint and address vector, bound to its CQ, and its
 * name in *m.  Its data moves on that endpoint too. */
static int rdm_open_ep(struct rps_ofi_conn *conn, struct rdm_msg *m)
{
	struct rps_ofi_transport *tp = conn->tp;
	int ret = rps_ofi_rdm_ep_open(conn, tp->domain, tp->info, conn->cq->cq, &conn->ep, m->name,
				      &m->name_len);

	conn->data_ep = conn->ep;
	conn->rdm = true;
	/* RDM mode is how shm runs here (the provider without FI_EP_MSG that
	 * rps_transport_open(3) names); another such provider is taken alike */
	conn->base.over_shm = true;
	return ret;
}

/* The peer drives its endpoint meanwhile: it waits for READY in
 * rdm_recv_ready. */
static int rdm_warm(struct rps_ofi_conn *conn, uint64_t deadline)
{
	return rps_ofi_rdm_warm(conn, conn->ep, deadline);
}

/* Lists conn (for rps_ofi_rdm_watch) as connected and calls it up. */
static void rdm_conn_up(struct rps_ofi_conn *conn)
{
	struct rps_ofi_transport *tp = conn->tp;

	pthread_mutex_lock(&tp->lock);
	conn->state = RPS_OFI_CONN_CONNECTED;
	rps_list_add_tail(&tp->conns, &conn->link);
	pthread_mutex_unlock(&tp->lock);
	conn->base.connected = true;
}

/* ---- listening ----------------------------------------------------------- */

int rps_ofi_rdm_listen(struct rps_ofi_listener *l, struct sockaddr_storage *ss, size_t len)
{
	socklen_t sslen = sizeof(*ss);
	int one = 1, ret;

	l->sock = rdm_socket(ss);
	if (l->sock < 0)
		return l->sock == -ENOMEM ? -ENOMEM : -EINVAL;
	(void)setsockopt(l->sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->sock, (struct sockaddr *)ss, (socklen_t)len) || listen(l->sock, SOMAXCONN) ||
	    getsockname(l->sock, (struct sockaddr *)ss, &sslen)) {
		ret = -errno;
		rps_err("%s: listen on %s: %s", l->tp->base.device_name, l->name, strerror(-ret));
		close(l->sock);
		return ret == -EADDRINUSE ? ret : -EINVAL;
	}
	rps_ofi_listener_named(l, ss);
	return 0;
}

void rps_ofi_rdm_listener_close(struct rps_ofi_listener *l)
{
	/* connectors still in the backlog see a reset: refused */
	close(l->sock);
	free(l);
}

/* Takes one connection off the backlog and reads its HELLO.  1 with
 * *req_p, 0 when the socket was not an rdmaps connector (logged, closed),
 * -EAGAIN when none is waiting, -errno. */
static int rdm_take_one(struct rps_ofi_listener *l, struct rps_ofi_conn_req **req_p)
{
	const char *dev = l->tp->base.device_name;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct rps_ofi_conn_req *req;
	struct rdm_msg *m;
	int fd, len, ret;

	fd = accept4(l->sock, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR || errno == ECONNABORTED ? -EAGAIN
										  : -errno;
	req = calloc(1, sizeof(*req));
	m = malloc(sizeof(*m));
	if (!req || !m) {
		ret = -ENOMEM;
		goto err;
	}
	rps_sockaddr_name(&ss, req->base.peer, sizeof(req->base.peer));
	ret = rdm_recv_msg(fd, RDM_MAGIC_HELLO, m, rps_deadline_ns(RDM_HELLO_MS));
	if (!ret && m->word != RDM_VERSION)
		ret = -RPS_ERR_PROTO;
	if (ret) {
		rps_err("%s: listener %s: connection from %s: %s, dropped", dev, l->name,
			req->base.peer,
			ret == -RPS_ERR_PROTO ? "not an rdmaps HELLO of this version (a peer "
						"using another provider?)"
			: ret == -ETIMEDOUT   ? "no HELLO in time"
					      : strerror(-ret));
		ret = 0;
		goto err;
	}
	len = rps_ofi_unpack(m->data, m->data_len, req->base.data, RPS_CONNECT_DATA_MAX,
			     &req->peer_token);
	if (len < 0 || !m->name_len) {
		rps_err("%s: listener %s: connect request from %s: malformed private data "
			"(%zu bytes), dropped",
			dev, l->name, req->base.peer, m->data_len);
		ret = 0;
		goto err;
	}
	req->base.data_len = (size_t)len;
	memcpy(req->peer_name, m->name, m->name_len);
	req->peer_name_len = m->name_len;
	req->sock = fd;
	req->l = l;
	free(m);
	*req_p = req;
	return 1;

err:
	close(fd);
	free(req);
	free(m);
	return ret;
}

int rps_ofi_rdm_get_request(struct rps_ofi_listener *l, int timeout_ms, rps_conn_req_t **req_p)
{
	uint64_t deadline = rps_deadline_ns(timeout_ms);
	struct rps_ofi_conn_req *req = NULL;
	int ret;

	for (;;) {
		ret = rdm_take_one(l, &req);
		if (ret == 1) {
			*req_p = &req->base;
			return 0;
		}
		if (ret < 0 && ret != -EAGAIN)
			return ret;
		if (ret == 0)
			continue;
		ret = rdm_wait(l->sock, POLLIN, deadline, NULL);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -ETIMEDOUT;
	}
}

void rps_ofi_rdm_reject(struct rps_ofi_conn_req *req, const void *data, size_t len)
{
	struct rdm_msg m = { .magic = RDM_MAGIC_WELCOME, .word = RDM_STATUS_REJECT };
	int ret;

	m.data_len = rps_priv_pack(m.data, data, len);
	ret = rdm_send_msg(req->sock, &m, rps_deadline_ns(req->l->tp->base.attr.timeout_ms));
	if (ret)
		rps_dbg("%s: reject %s: %s", req->l->tp->base.device_name, req->base.peer,
			strerror(-ret));
	close(req->sock);
	free(req);
}

/* ---- accept and connect ---------------------------------------------------- */

int rps_ofi_rdm_accept(struct rps_ofi_conn_req *req, struct rps_ofi_cq *cq, const void *data,
		       size_t len, rps_conn_t **conn_p)
{
	struct rps_ofi_transport *tp = req->l->tp;
	uint64_t deadline = rps_deadline_ns(tp->base.attr.timeout_ms);
	struct rps_ofi_conn *conn;
	struct rdm_msg *m;
	int ret;

	m = calloc(1, sizeof(*m));
	if (!m) {
		rps_ofi_rdm_reject(req, NULL, 0);
		return -ENOMEM;
	}
	ret = rps_ofi_conn_alloc(tp, cq, &conn);
	if (ret) {
		free(m);
		rps_ofi_rdm_reject(req, NULL, 0);
		return ret;
	}
	memcpy(conn->base.peer, req->base.peer, sizeof(conn->base.peer));
	conn->peer_token = req->peer_token;
	conn->sock = req->sock;
	ret = rdm_open_ep(conn, m);
	if (!ret)
		ret = rps_ofi_rdm_insert(conn, req->peer_name, req->peer_name_len);
	free(req);
	if (ret)
		goto err;
	ret = rdm_send_own(conn, m, RDM_MAGIC_WELCOME, RDM_STATUS_ACCEPT, data, len, deadline);
	if (!ret)
		ret = rdm_recv_ready(conn, deadline);
	if (!ret)
		ret = rdm_warm(conn, deadline);
	/* READY: the connector mapped our region (rps_ofi_rdm_unlink_own) */
	if (!ret)
		rps_ofi_rdm_unlink_own(conn, conn->ep);
	if (!ret)
		ret = rdm_send_ready(conn->sock, deadline);
	if (ret) {
		rps_err("%s: accept %s: %s", tp->base.device_name, conn->base.peer,
			ret == -ECONNRESET	? "the peer went away during the handshake"
			: ret == -ETIMEDOUT	? "timed out waiting for the peer"
			: ret == -RPS_ERR_PROTO ? "malformed handshake"
						: strerror(-ret));
		ret = ret == -ETIMEDOUT || ret == -RPS_ERR_PROTO ? ret : -ECONNABORTED;
		goto err;
	}
	ret = rps_ofi_conn_post_recvs(conn);
	if (ret)
		goto err;
	free(m);
	rdm_conn_up(conn);
	rps_dbg("%s: accepted %s", tp->base.device_name, conn->base.peer);
	*conn_p = &conn->base;
	return 0;

err:
	free(m);
	rps_ofi_conn_teardown(conn, false);
	return ret;
}

/* Connects conn->sock to ss within the deadline.  0 or -errno. */
static int rdm_sock_connect(struct rps_ofi_conn *conn, const struct sockaddr_storage *ss,
			    size_t sslen, uint64_t deadline)
{
	int err = 0, ret;
	socklen_t errlen = sizeof(err);

	conn->sock = rdm_socket(ss);
	if (conn->sock < 0)
		return conn->sock;
	if (connect(conn->sock, (const struct sockaddr *)ss, (socklen_t)sslen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	ret = rdm_wait(conn->sock, POLLOUT, deadline, NULL);
	if (ret <= 0)
		return ret ? ret : -ETIMEDOUT;
	if (getsockopt(conn->sock, SOL_SOCKET, SO_ERROR, &err, &errlen))
		return -errno;
	return -err;
}

/* The connector's side of the handshake, once its socket is up. */
static int rdm_handshake(struct rps_ofi_conn *conn, const void *data, size_t len,
			 rps_reject_t *reject_p, uint64_t deadline)
{
	const char *dev = conn->tp->base.device_name;
	struct rdm_msg *m = calloc(1, sizeof(*m));
	int plen, ret;

	if (!m)
		return -ENOMEM;
	ret = rdm_open_ep(conn, m);
	if (ret)
		goto out;
	ret = rdm_send_own(conn, m, RDM_MAGIC_HELLO, RDM_VERSION, data, len, deadline);
	if (!ret)
		ret = rdm_recv_msg(conn->sock, RDM_MAGIC_WELCOME, m, deadline);
	if (ret == -ECONNRESET || ret == -EPIPE) {
		/* the listener closed without a word (its listener_close) */
		rps_log_refused("%s: connect %s: connection refused (reset)", dev, conn->base.peer);
		ret = -ECONNREFUSED;
		goto out;
	}
	if (ret)
		goto fail;
	if (m->word == RDM_STATUS_REJECT) {
		plen = rps_priv_unpack(m->data, m->data_len, reject_p->data,
				       sizeof(reject_p->data));
		reject_p->len = plen > 0 ? (size_t)plen : 0;
		if (reject_p->len)
			rps_info("%s: connect %s: the peer refused (%zu bytes of reject data)", dev,
				 conn->base.peer, reject_p->len);
		else
			rps_log_refused("%s: connect %s: connection refused", dev, conn->base.peer);
		ret = -ECONNREFUSED;
		goto out;
	}
	plen = rps_ofi_unpack(m->data, m->data_len, conn->base.peer_data, RPS_ACCEPT_DATA_MAX,
			      &conn->peer_token);
	if (m->word != RDM_STATUS_ACCEPT || plen < 0 || !m->name_len) {
		ret = -RPS_ERR_PROTO;
		goto fail;
	}
	conn->base.peer_data_len = (size_t)plen;
	ret = rps_ofi_rdm_insert(conn, m->name, m->name_len);
	if (!ret)
		ret = rdm_warm(conn, deadline);
	if (ret)
		goto out;
	/* the listener mapped our region when it took our name in */
	rps_ofi_rdm_unlink_own(conn, conn->ep);
	ret = rdm_send_ready(conn->sock, deadline);
	if (!ret)
		ret = rdm_recv_ready(conn, deadline);
	if (ret)
		goto fail;
	ret = rps_ofi_conn_post_recvs(conn);
	if (ret)
		goto out;
out:
	free(m);
	return ret;

fail:
	rps_err("%s: connect %s: %s", dev, conn->base.peer,
		ret == -RPS_ERR_PROTO ? "malformed WELCOME (not an rdmaps peer, or one using "
					"another provider?)"
		: ret == -ETIMEDOUT   ? "timed out waiting for the peer"
				      : strerror(-ret));
	free(m);
	return ret == -ETIMEDOUT || ret == -RPS_ERR_PROTO ? ret : -ECONNABORTED;
}

int rps_ofi_rdm_connect(struct rps_ofi_transport *tp, const char *addr, uint16_t port,
			struct rps_ofi_cq *cq, const void *data, size_t len, rps_reject_t *reject_p,
			rps_conn_t **conn_p)
{
	uint64_t deadline = rps_deadline_ns(tp->base.attr.timeout_ms);
	struct sockaddr_storage ss;
	struct rps_ofi_conn *conn;
	size_t sslen;
	int ret;

	ret = rps_ofi_resolve(addr, port, false, &ss, &sslen);
	if (ret) {
		rps_err("%s: connect %s:%u: %s", tp->base.device_name, addr, port,
			gai_strerror(ret));
		return -EADDRNOTAVAIL;
	}
	ret = rps_ofi_conn_alloc(tp, cq, &conn);
	if (ret)
		return ret;
	conn->active = true;
	rps_sockaddr_name(&ss, conn->base.peer, sizeof(conn->base.peer));
	ret = rdm_sock_connect(conn, &ss, sslen, deadline);
	if (ret) {
		if (ret == -ECONNREFUSED)
			rps_log_refused("%s: connect %s: connection refused", tp->base.device_name,
					conn->base.peer);
		else
			rps_err("%s: connect %s: %s", tp->base.device_name, conn->base.peer,
				ret == -ETIMEDOUT ? "timed out" : strerror(-ret));
		goto err;
	}
	ret = rdm_handshake(conn, data, len, reject_p, deadline);
	if (ret)
		goto err;
	rdm_conn_up(conn);
	rps_dbg("%s: connected to %s", tp->base.device_name, conn->base.peer);
	*conn_p = &conn->base;
	return 0;

err:
	rps_ofi_conn_teardown(conn, false);
	return ret;
}

/* ---- disconnects ----------------------------------------------------------- */

void rps_ofi_rdm_watch(struct rps_ofi_transport *tp)
{
	struct rps_list *pos;

	rps_list_foreach(pos, &tp->conns)
	{
		struct rps_ofi_conn *conn = container_of(pos, struct rps_ofi_conn, link);
		uint8_t byte;
		ssize_t n;

		if (conn->state != RPS_OFI_CONN_CONNECTED || conn->sock < 0)
			continue;
		/* the peer never writes after READY: anything readable is
		 * its end (0: closed, -1: reset) */
		n = recv(conn->sock, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
		if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
			continue;
		rps_info("%s: peer %s disconnected", tp->base.device_name, conn->base.peer);
		conn->state = RPS_OFI_CONN_DOWN;
		conn->base.connected = false;
	}
}
