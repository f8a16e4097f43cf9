/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ofi provider: an FI_EP_RDM endpoint that talks to one peer, as RDM mode
 * (ofi_rdm.c) and shm next to tcp (ofi_shm.c) give every connection.
 * The peer's endpoint name sits alone in an address vector of the
 * connection's own, so the data path needs no table: msg.addr is always
 * conn->peer_addr.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "transport/ofi/ofi.h"
#include "util/clock.h"
#include "util/log.h"

int rps_ofi_rdm_ep_open(struct rps_ofi_conn *conn, struct fid_domain *domain, struct fi_info *info,
			struct fid_cq *fcq, struct fid_ep **ep_p, uint8_t *name, size_t *len_p)
{
	struct fi_av_attr av_attr = { .type = FI_AV_TABLE, .count = 1 };
	const char *step;
	size_t len = RPS_OFI_RDM_NAME_MAX;
	int ret;

	step = "fi_av_open";
	ret = fi_av_open(domain, &av_attr, &conn->av, NULL);
	if (ret) {
		conn->av = NULL;
		goto err;
	}
	/* see rps_ofi_cq.rdm_lock */
	rps_ofi_cq_lock(conn->cq);
	ret = rps_ofi_ep_open(conn, domain, info, fcq, &conn->av->fid, ep_p);
	rps_ofi_cq_unlock(conn->cq);
	if (ret)
		return ret;
	step = "fi_getname";
	ret = fi_getname(&(*ep_p)->fid, name, &len);
	if (ret)
		goto err;
	*len_p = len;
	return 0;

err:
	return rps_ofi_step_error(conn, step, ret);
}

int rps_ofi_rdm_insert(struct rps_ofi_conn *conn, const uint8_t *name, size_t len)
{
	uint8_t buf[RPS_OFI_RDM_NAME_MAX + 1];
	int ret;

	/* FI_ADDR_STR names are strings: make sure this one ends */
	memcpy(buf, name, len);
	buf[len] = 0;
	ret = fi_av_insert(conn->av, buf, 1, &conn->peer_addr, 0, NULL);
	if (ret == 1)
		return 0;
	rps_err("%s: connection to %s: the peer's endpoint name is not usable (%s)",
		conn->tp->base.device_name, conn->base.peer,
		ret < 0 ? fi_strerror(-ret) : "fi_av_insert inserted none");
	return -RPS_ERR_PROTO;
}

bool rps_ofi_shm_path(const uint8_t *name, size_t len, char *path, size_t size)
{
	static const char scheme[] = "fi_shm://";
	char buf[RPS_OFI_RDM_NAME_MAX + 1];
	const char *base;

	if (len > RPS_OFI_RDM_NAME_MAX)
		return false;
	memcpy(buf, name, len);
	buf[len] = 0;
	if (strncmp(buf, scheme, sizeof(scheme) - 1))
		return false;
	base = buf + sizeof(scheme) - 1;
	if (!*base || strchr(base, '/') || strstr(base, ".."))
		return false;
	return (size_t)snprintf(path, size, "/dev/shm/%s", base) < size;
}

void rps_ofi_rdm_unlink_own(struct rps_ofi_conn *conn, struct fid_ep *ep)
{
	uint8_t name[RPS_OFI_RDM_NAME_MAX];
	char path[RPS_OFI_RDM_NAME_MAX + 16];
	size_t len = sizeof(name);

	if (fi_getname(&ep->fid, name, &len) || !rps_ofi_shm_path(name, len, path, sizeof(path)))
		return;
	if (unlink(path) && errno != ENOENT)
		rps_dbg("%s: connection to %s: remove %s: %s", conn->tp->base.device_name,
			conn->base.peer, path, strerror(errno));
}

/* shm sets a pair of endpoints up on the first operation between them:
 * the initiator's sends its name and answers -FI_EAGAIN until the
 * target's progress has mapped it back.  A zero-length WRITE that asks
 * for no completion does it (nothing lands, nothing is reported), so the
 * caller's first post on a new connection does not fail with -EAGAIN. */
int rps_ofi_rdm_warm_once(struct rps_ofi_conn *conn, struct fid_ep *ep)
{
	struct fi_rma_iov rma = { 0 };
	struct fi_msg_rma msg = { .rma_iov = &rma, .addr = conn->peer_addr };
	ssize_t ret = fi_writemsg(ep, &msg, 0);

	if (ret == -FI_EAGAIN)
		return -EAGAIN;
	if (ret) {
		rps_err("%s: connection to %s: first write: %s", conn->tp->base.device_name,
			conn->base.peer, fi_strerror((int)-ret));
		return -EIO;
	}
	return 0;
}

int rps_ofi_rdm_warm(struct rps_ofi_conn *conn, struct fid_ep *ep, uint64_t deadline)
{
	unsigned backoff_us = 10;
	int ret;

	while ((ret = rps_ofi_rdm_warm_once(conn, ep)) == -EAGAIN) {
		if (rps_ms_left(deadline) == 0)
			return -ETIMEDOUT;
		rps_ofi_cq_drive(conn->cq);
		rps_ofi_backoff(&backoff_us, deadline);
	}
	return ret;
}
