/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ofi provider: listeners.  Each passive endpoint has an EQ of its own,
 * read only by get_request and listener_close.
 *
 * Why not the transport's EQ: tcp (libfabric 1.17) keeps a connection it
 * accepted but whose request message has not arrived yet in the progress
 * of the passive endpoint's EQ, pointing at the passive endpoint; closing
 * that endpoint does not cancel it, and the next read of the EQ touches
 * freed memory.  With an EQ per listener, nothing reads it after the
 * close: such a half-open connection is merely dropped.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "transport/ofi/ofi.h"
#include "util/clock.h"
#include "util/log.h"

/* listener_close reads the EQ at most this long for requests to refuse */
#define OFI_LISTENER_DRAIN_MS 50

/* "host:port" of a peer; an IPv4 peer of a dual-stack listener shows
 * as IPv4, not ::ffff:a.b.c.d */
static void ofi_peer_name(const void *addr, char *buf, size_t len)
{
	const struct sockaddr_in6 *in6 = addr;
	struct sockaddr_in in = { .sin_family = AF_INET };

	if (in6 && in6->sin6_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
		in.sin_port = in6->sin6_port;
		memcpy(&in.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
		addr = &in;
	}
	rps_sockaddr_name(addr, buf, len);
}

/* Resolves addr:port.  For a listening socket (passive), addr NULL = any:
 * the IPv6 wildcard when the host has IPv6 (Linux then accepts IPv4 too),
 * else the IPv4 one. */
int rps_ofi_resolve(const char *addr, uint16_t port, bool passive, struct sockaddr_storage *ss,
		    size_t *len_p)
{
	const bool wildcard = passive && !addr;
	struct addrinfo hints = {
		.ai_family = wildcard ? AF_INET6 : AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0) |
			    (wildcard ? AI_ADDRCONFIG : 0),
	}, *res;
	char service[8];
	int ret;

	snprintf(service, sizeof(service), "%u", port);
	ret = getaddrinfo(addr, service, &hints, &res);
	if (ret && wildcard) {
		hints.ai_family = AF_UNSPEC;
		ret = getaddrinfo(addr, service, &hints, &res);
	}
	if (ret)
		return ret;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len_p = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int rps_ofi_resolve_listen(struct rps_ofi_transport *tp, const char *addr, uint16_t port,
			   struct sockaddr_storage *ss, size_t *len_p)
{
	int ret = rps_ofi_resolve(addr, port, true, ss, len_p);

	if (!ret)
		return 0;
	rps_err("%s: listen on %s:%u: %s", tp->base.device_name, addr ? addr : "*", port,
		gai_strerror(ret));
	/* as verbs (rdma_cm) says it */
	return -EADDRNOTAVAIL;
}

void rps_ofi_listener_named(struct rps_ofi_listener *l, const struct sockaddr_storage *ss)
{
	rps_sockaddr_name(ss, l->name, sizeof(l->name));
	l->base.port =
		ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
						: ((const struct sockaddr_in *)ss)->sin_port);
}

static int ofi_listener_info(struct rps_ofi_transport *tp, const struct sockaddr_storage *ss,
			     size_t len, struct fi_info **info_p)
{
	struct fi_info *info = fi_dupinfo(tp->info);

	if (!info)
		return -ENOMEM;
	free(info->src_addr);
	free(info->dest_addr);
	info->dest_addr = NULL;
	info->dest_addrlen = 0;
	info->src_addr = malloc(len);
	if (!info->src_addr) {
		fi_freeinfo(info);
		return -ENOMEM;
	}
	memcpy(info->src_addr, ss, len);
	info->src_addrlen = len;
	info->addr_format = ss->ss_family == AF_INET6 ? FI_SOCKADDR_IN6 : FI_SOCKADDR_IN;
	*info_p = info;
	return 0;
}

static int ofi_listener_open(struct rps_ofi_listener *l, struct fi_info *info)
{
	struct rps_ofi_transport *tp = l->tp;
	struct sockaddr_storage ss;
	size_t len = sizeof(ss);
	struct fi_eq_attr eq_attr = { .wait_obj = FI_WAIT_NONE };
	int ret;

	ret = fi_eq_open(tp->fabric, &eq_attr, &l->eq, NULL);
	if (ret) {
		rps_err("%s: listen on %s: fi_eq_open: %s", tp->base.device_name, l->name,
			fi_strerror(-ret));
		return ret;
	}
	ret = fi_passive_ep(tp->fabric, info, &l->pep, l);
	if (ret) {
		rps_err("%s: listen on %s: fi_passive_ep: %s", tp->base.device_name, l->name,
			fi_strerror(-ret));
		return ret;
	}
	ret = fi_pep_bind(l->pep, &l->eq->fid, 0);
	if (ret) {
		rps_err("%s: listen on %s: fi_pep_bind: %s", tp->base.device_name, l->name,
			fi_strerror(-ret));
		return ret;
	}
	ret = fi_listen(l->pep);
	if (ret) {
		rps_err("%s: listen on %s: fi_listen: %s", tp->base.device_name, l->name,
			fi_strerror(-ret));
		return ret;
	}
	ret = fi_getname(&l->pep->fid, &ss, &len);
	if (ret) {
		rps_err("%s: listen on %s: fi_getname: %s", tp->base.device_name, l->name,
			fi_strerror(-ret));
		return ret;
	}
	rps_ofi_listener_named(l, &ss);
	return 0;
}

int rps_ofi_listen(rps_transport_t *btp, const char *addr, uint16_t port, rps_listener_t **l_p)
{
	struct rps_ofi_transport *tp = rps_ofi_tp(btp);
	struct rps_ofi_listener *l;
	struct sockaddr_storage ss;
	struct fi_info *info;
	size_t len;
	int ret;

	ret = rps_ofi_resolve_listen(tp, addr, port, &ss, &len);
	if (ret)
		return ret;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->tp = tp;
	rps_sockaddr_name(&ss, l->name, sizeof(l->name));
	if (tp->rdm) {
		/* a control socket instead of a passive endpoint */
		ret = rps_ofi_rdm_listen(l, &ss, len);
		if (ret)
			goto err_free;
		goto out;
	}
	ret = ofi_listener_info(tp, &ss, len, &info);
	if (ret)
		goto err_free;
	ret = ofi_listener_open(l, info);
	fi_freeinfo(info);
	if (ret) {
		ret = ret == -FI_EADDRINUSE ? -EADDRINUSE : ret == -FI_ENOMEM ? -ENOMEM : -EINVAL;
		goto err_close;
	}
out:
	rps_dbg("%s: listening on %s", btp->device_name, l->name);
	*l_p = &l->base;
	return 0;

err_close:
	if (l->pep)
		fi_close(&l->pep->fid);
	if (l->eq)
		fi_close(&l->eq->fid);
err_free:
	free(l);
	return ret;
}

void rps_ofi_req_free(struct rps_ofi_conn_req *req, bool reject)
{
	if (reject)
		fi_reject(req->l->pep, req->info->handle, NULL, 0);
	fi_freeinfo(req->info);
	free(req);
}

/* Turns an FI_CONNREQ into a request, or refuses it when malformed.
 * Returns the request or NULL. */
static struct rps_ofi_conn_req *ofi_on_connreq(struct rps_ofi_listener *l,
					       const struct fi_eq_cm_entry *entry, size_t data_len)
{
	const char *dev = l->tp->base.device_name;
	struct rps_ofi_conn_req *req;
	char peer[RPS_PEER_NAME_MAX];
	int len;

	ofi_peer_name(entry->info->dest_addr, peer, sizeof(peer));
	req = calloc(1, sizeof(*req));
	if (!req) {
		rps_err("%s: listener %s: connect request from %s: out of "
			"memory",
			dev, l->name, peer);
		goto err_reject;
	}
	len = rps_ofi_unpack(entry->data, data_len, req->base.data, RPS_CONNECT_DATA_MAX,
			     &req->peer_token);
	if (len < 0) {
		rps_err("%s: listener %s: connect request from %s: malformed "
			"private data (%zu bytes), refused",
			dev, l->name, peer, data_len);
		free(req);
		goto err_reject;
	}
	req->base.data_len = (size_t)len;
	memcpy(req->base.peer, peer, sizeof(peer));
	req->info = entry->info;
	req->l = l;
	/* after the data, maybe an offer of shm (ofi_shm.c) */
	rps_ofi_shm_read_offer(req, (const uint8_t *)entry->data + RPS_OFI_PACKED_LEN(len),
			       data_len - RPS_OFI_PACKED_LEN(len));
	return req;

err_reject:
	fi_reject(l->pep, entry->info->handle, NULL, 0);
	fi_freeinfo(entry->info);
	return NULL;
}

/* One non-blocking read of the listener's EQ.  Returns 1 with *req_p set,
 * 0 when there was nothing to take, or -errno. */
static int ofi_listener_read(struct rps_ofi_listener *l, struct rps_ofi_conn_req **req_p)
{
	union {
		struct fi_eq_cm_entry cm;
		uint8_t raw[OFI_EQ_BUF_LEN];
	} buf;
	struct fi_eq_err_entry err = { 0 };
	uint32_t event;
	ssize_t ret;

	ret = fi_eq_read(l->eq, &event, &buf, sizeof(buf), 0);
	if (ret == -FI_EAGAIN)
		return 0;
	if (ret == -FI_EAVAIL) {
		if (fi_eq_readerr(l->eq, &err, 0) >= 0)
			rps_err("%s: listener %s: %s", l->tp->base.device_name, l->name,
				fi_strerror(err.err));
		return 0;
	}
	if (ret < 0) {
		rps_err("%s: listener %s: fi_eq_read: %s", l->tp->base.device_name, l->name,
			fi_strerror((int)-ret));
		return -EIO;
	}
	if (event != FI_CONNREQ) {
		rps_dbg("%s: listener %s: EQ event %u ignored", l->tp->base.device_name, l->name,
			event);
		return 0;
	}
	*req_p = ofi_on_connreq(l, &buf.cm,
				(size_t)ret > sizeof(buf.cm) ? (size_t)ret - sizeof(buf.cm) : 0);
	return *req_p != NULL;
}

int rps_ofi_get_request(rps_listener_t *bl, int timeout_ms, rps_conn_req_t **req_p)
{
	struct rps_ofi_listener *l = rps_ofi_listener(bl);
	uint64_t deadline = rps_deadline_ns(timeout_ms);
	struct rps_ofi_conn_req *req;
	unsigned backoff_us = 20;
	int ret;

	if (l->tp->rdm)
		return rps_ofi_rdm_get_request(l, timeout_ms, req_p);
	for (;;) {
		/* tcp accepts the socket on one read and reports the request
		 * on the next, so that timeout 0 sees a request that came */
		ret = ofi_listener_read(l, &req);
		if (ret == 0)
			ret = ofi_listener_read(l, &req);
		if (ret == 1) {
			*req_p = &req->base;
			return 0;
		}
		if (ret < 0)
			return ret;
		if (rps_ms_left(deadline) == 0)
			return -ETIMEDOUT;
		rps_ofi_backoff(&backoff_us, deadline);
	}
}

void rps_ofi_reject(rps_conn_req_t *breq, const void *data, size_t len)
{
	struct rps_ofi_conn_req *req = rps_ofi_req(breq);
	uint8_t raw[RPS_PRIV_HDR_LEN + RPS_REJECT_DATA_MAX];
	int ret;

	if (req->l->tp->rdm) {
		rps_ofi_rdm_reject(req, data, len);
		return;
	}
	if (!len) {
		rps_ofi_req_free(req, true);
		return;
	}
	/* the connector reads it from its EQ error entry (err_data) */
	ret = fi_reject(req->l->pep, req->info->handle, raw, rps_priv_pack(raw, data, len));
	if (ret)
		rps_warn("%s: reject %s: fi_reject: %s", req->l->tp->base.device_name, breq->peer,
			 fi_strerror(-ret));
	rps_ofi_req_free(req, false);
}

void rps_ofi_listener_close(rps_listener_t *bl)
{
	struct rps_ofi_listener *l = rps_ofi_listener(bl);
	uint64_t deadline = rps_deadline_ns(OFI_LISTENER_DRAIN_MS);
	struct rps_ofi_conn_req *req;
	unsigned backoff_us = 100;
	int idle = 0, ret;

	if (l->tp->rdm) {
		rps_ofi_rdm_listener_close(l);
		return;
	}
	/* Refuse what already arrived while the passive endpoint lives.  A
	 * request takes more than one read to surface (accept the socket,
	 * then read its message), so read until the EQ stays quiet; one
	 * racing with the close may still be dropped half-open, and its
	 * connector then times out. */
	while (idle < 4 && rps_ms_left(deadline) != 0) {
		ret = ofi_listener_read(l, &req);
		if (ret == 1) {
			rps_ofi_req_free(req, true);
			idle = 0;
			continue;
		}
		if (ret < 0)
			break;
		idle++;
		rps_ofi_backoff(&backoff_us, deadline);
	}
	fi_close(&l->pep->fid);
	fi_close(&l->eq->fid);
	free(l);
}
