/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ofi provider: the transport's event queue (read and dispatched under
 * tp->lock) for the connections' events, and rps_transport_progress.
 */
#include "config.h"

#include <errno.h>
#include <time.h>

#include "transport/ofi/ofi.h"
#include "util/clock.h"
#include "util/log.h"

void rps_ofi_backoff(unsigned *us, uint64_t deadline_ns)
{
	uint64_t ns = (uint64_t)*us * 1000, now = rps_now_ns();
	struct timespec ts;

	if (deadline_ns > now && deadline_ns - now < ns)
		ns = deadline_ns - now;
	ts.tv_sec = (time_t)(ns / 1000000000ull);
	ts.tv_nsec = (long)(ns % 1000000000ull);
	nanosleep(&ts, NULL);
	if (*us < 1000)
		*us *= 2;
}

static uint32_t ofi_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int rps_ofi_unpack(const uint8_t *raw, size_t raw_len, void *out, size_t max, uint32_t *token_p)
{
	int len = rps_priv_unpack(raw, raw_len, out, max);

	if (len < 0)
		return len;
	if (raw_len < RPS_PRIV_HDR_LEN + (size_t)len + RPS_OFI_TOKEN_LEN)
		return -RPS_ERR_PROTO;
	*token_p = ofi_get_le32(raw + RPS_PRIV_HDR_LEN + len);
	return *token_p ? len : -RPS_ERR_PROTO;
}

static struct rps_ofi_conn *ofi_find_conn(struct rps_ofi_transport *tp, fid_t fid)
{
	struct rps_list *pos;

	rps_list_foreach(pos, &tp->conns)
	{
		struct rps_ofi_conn *conn = container_of(pos, struct rps_ofi_conn, link);

		if (conn->ep && &conn->ep->fid == fid)
			return conn;
	}
	return NULL;
}

static void ofi_on_connected(struct rps_ofi_transport *tp, const struct fi_eq_cm_entry *entry,
			     size_t data_len)
{
	struct rps_ofi_conn *conn = ofi_find_conn(tp, entry->fid);
	int len;

	if (!conn || conn->state != RPS_OFI_CONN_CONNECTING)
		return;
	if (conn->active) {
		/* the acceptor's private data rides on FI_CONNECTED */
		len = rps_ofi_unpack(entry->data, data_len, conn->base.peer_data,
				     RPS_ACCEPT_DATA_MAX, &conn->peer_token);
		if (len < 0) {
			rps_err("%s: connect to %s: malformed accept private "
				"data (%zu bytes)",
				tp->base.device_name, conn->base.peer, data_len);
			conn->state = RPS_OFI_CONN_FAILED;
			conn->cm_err = EPROTO;
			return;
		}
		conn->base.peer_data_len = (size_t)len;
		/* and, after it, its answer to our shm offer (ofi_shm.c) */
		if (rps_ofi_shm_read_answer(conn,
					    (const uint8_t *)entry->data + RPS_OFI_PACKED_LEN(len),
					    data_len - RPS_OFI_PACKED_LEN(len))) {
			rps_err("%s: connect to %s: malformed shm answer in the accept "
				"private data",
				tp->base.device_name, conn->base.peer);
			conn->state = RPS_OFI_CONN_FAILED;
			conn->cm_err = EPROTO;
			return;
		}
	}
	conn->state = RPS_OFI_CONN_CONNECTED;
}

static void ofi_on_shutdown(struct rps_ofi_transport *tp, const struct fi_eq_cm_entry *entry)
{
	struct rps_ofi_conn *conn = ofi_find_conn(tp, entry->fid);

	if (!conn)
		return;
	if (conn->state == RPS_OFI_CONN_CONNECTING) {
		conn->state = RPS_OFI_CONN_FAILED;
		conn->cm_err = ECONNREFUSED;
	} else if (conn->state == RPS_OFI_CONN_CONNECTED) {
		rps_info("%s: peer %s disconnected", tp->base.device_name, conn->base.peer);
		conn->state = RPS_OFI_CONN_DOWN;
		conn->base.connected = false;
	}
}

static void ofi_on_error(struct rps_ofi_transport *tp)
{
	struct fi_eq_err_entry err = { 0 };
	struct rps_ofi_conn *conn;
	ssize_t ret;

	ret = fi_eq_readerr(tp->eq, &err, 0);
	if (ret < 0) {
		rps_err("%s: fi_eq_readerr: %s", tp->base.device_name, fi_strerror((int)-ret));
		return;
	}
	conn = ofi_find_conn(tp, err.fid);
	if (conn && conn->state == RPS_OFI_CONN_CONNECTING) {
		conn->state = RPS_OFI_CONN_FAILED;
		conn->cm_err = err.err ? err.err : ECONNABORTED;
		/* a refusal carries the peer's rps_conn_req_reject data; the
		 * buffer is libfabric's, valid until the next EQ read */
		if (conn->cm_err == ECONNREFUSED && err.err_data && err.err_data_size) {
			int len = rps_priv_unpack(err.err_data, err.err_data_size,
						  conn->reject.data, sizeof(conn->reject.data));

			conn->reject.len = len > 0 ? (size_t)len : 0;
		}
	} else if (conn && conn->state == RPS_OFI_CONN_CONNECTED) {
		rps_warn("%s: connection to %s failed: %s", tp->base.device_name, conn->base.peer,
			 fi_strerror(err.err));
		conn->state = RPS_OFI_CONN_DOWN;
		conn->base.connected = false;
	}
}

/* tp->lock held.  Reads every pending event of the transport's EQ and
 * hands each to its connection (a read also drives connection setup; on
 * tcp it does not move data).  Returns the number of events or -errno. */
int rps_ofi_eq_drain(struct rps_ofi_transport *tp)
{
	union {
		struct fi_eq_cm_entry cm;
		uint8_t raw[OFI_EQ_BUF_LEN];
	} buf;
	uint32_t event;
	ssize_t ret;
	int n;

	for (n = 0;; n++) {
		ret = fi_eq_read(tp->eq, &event, &buf, sizeof(buf), 0);
		if (ret == -FI_EAGAIN)
			return n;
		if (ret == -FI_EAVAIL) {
			ofi_on_error(tp);
			continue;
		}
		if (ret < 0) {
			rps_err("%s: fi_eq_read: %s", tp->base.device_name, fi_strerror((int)-ret));
			return -EIO;
		}
		size_t data_len = (size_t)ret > sizeof(buf.cm) ? (size_t)ret - sizeof(buf.cm) : 0;

		switch (event) {
		case FI_CONNECTED:
			ofi_on_connected(tp, &buf.cm, data_len);
			break;
		case FI_SHUTDOWN:
			ofi_on_shutdown(tp, &buf.cm);
			break;
		default:
			rps_dbg("%s: EQ event %u ignored", tp->base.device_name, event);
			break;
		}
	}
}

/* Connection events, then data.  With manual progress (tcp) an endpoint
 * moves only when the CQ it reports to is read, and the target of a WRITE
 * or READ may have nothing to read: fi_cq_read with count 0 drives the
 * CQ's endpoints without taking entries, so it is safe while the CQ's
 * owner polls it (the domain is FI_THREAD_SAFE). */
int rps_ofi_progress(rps_transport_t *btp)
{
	struct rps_ofi_transport *tp = rps_ofi_tp(btp);
	struct rps_list *pos;
	int ret;

	pthread_mutex_lock(&tp->lock);
	ret = rps_ofi_eq_drain(tp);
	if (tp->rdm)
		rps_ofi_rdm_watch(tp);
	rps_list_foreach(pos, &tp->cqs)
	{
		rps_ofi_cq_drive(container_of(pos, struct rps_ofi_cq, link));
	}
	pthread_mutex_unlock(&tp->lock);
	return ret;
}
