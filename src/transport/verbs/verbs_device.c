/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * verbs provider: device selection (probe/open/close), memory regions and
 * completion-queue objects.
 *
 * The device list comes from rdma_get_devices(), not ibv_get_device_list():
 * rdma_cm resolves addresses to those very ibv_context pointers, so a
 * connection's cm_id->verbs can be compared with the transport's context
 * and its QP created on the transport's protection domain.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "transport/verbs/verbs.h"
#include "util/log.h"

static bool vrb_port_active(struct ibv_context *ctx, uint8_t port)
{
	struct ibv_port_attr pa;

	return ibv_query_port(ctx, port, &pa) == 0 && pa.state == IBV_PORT_ACTIVE;
}

/* The first ACTIVE port of ctx (only port `want` when want != 0), or 0. */
static uint8_t vrb_active_port(struct ibv_context *ctx, uint8_t want)
{
	struct ibv_device_attr da;

	if (ibv_query_device(ctx, &da))
		return 0;
	for (unsigned p = 1; p <= da.phys_port_cnt && p <= UINT8_MAX; p++) {
		if (want && p != want)
			continue;
		if (vrb_port_active(ctx, (uint8_t)p))
			return (uint8_t)p;
	}
	return 0;
}

static const char *vrb_ctx_name(const struct ibv_context *ctx)
{
	return ibv_get_device_name(ctx->device);
}

/* Picks attr->device (or the first device with an active port) from the
 * NULL-terminated list; sets *port_p to the active port chosen. */
static struct ibv_context *vrb_device_pick(struct ibv_context **list,
					   const rps_transport_attr_t *attr, uint8_t *port_p)
{
	for (; list && *list; list++) {
		uint8_t port;

		if (attr->device && strcmp(vrb_ctx_name(*list), attr->device))
			continue;
		port = vrb_active_port(*list, attr->port);
		if (port) {
			*port_p = port;
			return *list;
		}
	}
	return NULL;
}

int rps_vrb_probe(const rps_transport_attr_t *attr)
{
	struct ibv_context **list;
	uint8_t port;
	int n = 0, found;

	list = rdma_get_devices(&n);
	if (!list)
		return 0;
	found = vrb_device_pick(list, attr, &port) != NULL;
	rdma_free_devices(list);
	return found;
}

/* Logs why open found no device: none at all, not that name, no port. */
static void vrb_log_no_device(struct ibv_context **list, int n, int err,
			      const rps_transport_attr_t *attr)
{
	char port[32] = "";

	if (!list || n == 0) {
		rps_err("verbs: no RDMA device (rdma_get_devices: %s; is a "
			"driver loaded? soft-RoCE: rdma link add rxe0 type rxe "
			"netdev IF)",
			strerror(err ? err : ENODEV));
		return;
	}
	if (attr->port)
		snprintf(port, sizeof(port), " port %u", attr->port);
	for (struct ibv_context **p = list; *p; p++) {
		if (attr->device && strcmp(vrb_ctx_name(*p), attr->device) == 0) {
			rps_err("verbs: device %s%s is not ACTIVE (ibv_devinfo "
				"-d %s)",
				attr->device, port, attr->device);
			return;
		}
	}
	if (attr->device)
		rps_err("verbs: no RDMA device named %s (ibv_devices lists "
			"them)",
			attr->device);
	else
		rps_err("verbs: none of the %d RDMA devices has an ACTIVE%s%s "
			"(ibv_devinfo)",
			n, port[0] ? "" : " port", port);
}

/* Puts the device's async-event fd, non-blocking, into the epoll set so
 * progress can log CQ overruns, fatal QP errors and port changes. */
static int vrb_async_watch(struct vrb_transport *tp)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int fd = tp->ctx->async_fd;
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    epoll_ctl(tp->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int ret = -errno;

		rps_err("%s: watch async events: %s", tp->base.device_name, strerror(errno));
		return ret;
	}
	return 0;
}

/* Allocates the PD and the progress epoll set of an opened device. */
static int vrb_open_resources(struct vrb_transport *tp, const rps_transport_attr_t *attr)
{
	const char *dev = tp->base.device_name;
	struct ibv_port_attr pa;
	int ret;

	if (ibv_query_device(tp->ctx, &tp->dev_attr)) {
		ret = errno ? -errno : -EIO;
		rps_err("%s: ibv_query_device: %s", dev, strerror(-ret));
		return ret;
	}
	if (ibv_query_port(tp->ctx, tp->port_num, &pa)) {
		ret = errno ? -errno : -EIO;
		rps_err("%s: ibv_query_port(%u): %s", dev, tp->port_num, strerror(-ret));
		return ret;
	}
	tp->max_msg_sz = pa.max_msg_sz;
	if (attr->max_msg_size > tp->max_msg_sz) {
		rps_err("%s: max_msg_size %u > the port's max_msg_sz %u", dev, attr->max_msg_size,
			tp->max_msg_sz);
		return -EINVAL;
	}
	ret = rps_vrb_pd_init(tp, &tp->pd);
	if (ret)
		return ret;
	tp->base.pd = &tp->pd.base;
	tp->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (tp->epfd < 0) {
		ret = -errno;
		rps_err("%s: epoll_create1: %s", dev, strerror(errno));
		goto err_dealloc_pd;
	}
	ret = vrb_async_watch(tp);
	if (ret)
		goto err_close_epfd;
	return 0;

err_close_epfd:
	close(tp->epfd);
err_dealloc_pd:
	ibv_dealloc_pd(tp->pd.pd);
	return ret;
}

int rps_vrb_open(const rps_transport_attr_t *attr, rps_transport_t **tp_p)
{
	struct vrb_transport *tp;
	int n = 0, err, ret;

	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return -ENOMEM;
	rps_list_init(&tp->conns);
	pthread_mutex_init(&tp->lock, NULL);
	tp->epfd = -1;
	errno = 0;
	tp->devices = rdma_get_devices(&n);
	err = errno;
	tp->ctx = vrb_device_pick(tp->devices, attr, &tp->port_num);
	if (!tp->ctx) {
		vrb_log_no_device(tp->devices, n, err, attr);
		ret = -ENODEV;
		goto err_free_devices;
	}
	snprintf(tp->base.device_name, sizeof(tp->base.device_name), "%s", vrb_ctx_name(tp->ctx));
	ret = vrb_open_resources(tp, attr);
	if (ret)
		goto err_free_devices;
	rps_info("%s: opened port %u (max_qp_wr %d, max_cqe %d, "
		 "max_qp_rd_atom %d, max_msg_sz %u)",
		 tp->base.device_name, tp->port_num, tp->dev_attr.max_qp_wr, tp->dev_attr.max_cqe,
		 tp->dev_attr.max_qp_rd_atom, tp->max_msg_sz);
	*tp_p = &tp->base;
	return 0;

err_free_devices:
	if (tp->devices)
		rdma_free_devices(tp->devices);
	pthread_mutex_destroy(&tp->lock);
	free(tp);
	return ret;
}

void rps_vrb_close(rps_transport_t *base)
{
	struct vrb_transport *tp = vrb_tp(base);

	if (tp->conns.next != &tp->conns) /* no lock: nobody else may run */
		rps_warn("%s: transport closed with connections still open", base->device_name);
	close(tp->epfd);
	if (ibv_dealloc_pd(tp->pd.pd))
		rps_warn("%s: ibv_dealloc_pd: %s (memory regions or "
			 "connections still open?)",
			 base->device_name, strerror(errno));
	rdma_free_devices(tp->devices);
	pthread_mutex_destroy(&tp->lock);
	free(tp);
}

/* ---- memory regions ------------------------------------------------------ */

static int vrb_access_flags(unsigned access)
{
	int flags = 0;

	if (access & RPS_ACCESS_LOCAL_WRITE)
		flags |= IBV_ACCESS_LOCAL_WRITE;
	/* verbs refuses REMOTE_WRITE without LOCAL_WRITE */
	if (access & RPS_ACCESS_REMOTE_WRITE)
		flags |= IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_LOCAL_WRITE;
	if (access & RPS_ACCESS_REMOTE_READ)
		flags |= IBV_ACCESS_REMOTE_READ;
	return flags;
}

int rps_vrb_mr_reg(rps_pd_t *pd, void *addr, size_t len, unsigned access, rps_mr_t **mr_p)
{
	rps_transport_t *base = pd->tp;
	struct vrb_mr *mr;
	int ret;

	mr = calloc(1, sizeof(*mr));
	if (!mr)
		return -ENOMEM;
	mr->mr = ibv_reg_mr(vrb_pd(pd)->pd, addr, len, vrb_access_flags(access));
	if (!mr->mr) {
		ret = errno ? -errno : -ENOMEM;
		rps_err("%s: register %p+%zu (access 0x%x): %s%s", base->device_name, addr, len,
			access, strerror(-ret),
			ret == -ENOMEM || ret == -EPERM ? " (locked-memory limit? see ulimit -l)"
							: "");
		free(mr);
		return ret;
	}
	mr->base.remote.addr = (uintptr_t)addr;
	/* soft-RoCE gives every region without remote rights rkey 0; its
	 * lkey names it uniquely and, offered as an rkey, still gets the
	 * access refused (hardware has lkey == rkey anyway) */
	mr->base.remote.key = mr->mr->rkey ? mr->mr->rkey : mr->mr->lkey;
	mr->base.remote.len = len;
	*mr_p = &mr->base;
	return 0;
}

void rps_vrb_mr_dereg(rps_mr_t *base)
{
	struct vrb_mr *mr = container_of(base, struct vrb_mr, base);

	if (ibv_dereg_mr(mr->mr))
		rps_err("%s: deregister %p+%zu: %s", base->tp->device_name, base->addr, base->len,
			strerror(errno));
	free(mr);
}

/* ---- completion queues ----------------------------------------------------- */

int rps_vrb_cq_create(rps_transport_t *base, uint32_t depth, rps_cq_t **cq_p)
{
	struct vrb_transport *tp = vrb_tp(base);
	struct vrb_cq *cq;
	int ret;

	if (depth > (uint32_t)tp->dev_attr.max_cqe) {
		rps_err("%s: CQ depth %u > device max_cqe %d", base->device_name, depth,
			tp->dev_attr.max_cqe);
		return -EINVAL;
	}
	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return -ENOMEM;
	cq->tp = tp;
	rps_list_init(&cq->graves);
	pthread_mutex_init(&cq->grave_lock, NULL);
	cq->cq = ibv_create_cq(tp->ctx, (int)depth, cq, NULL, 0);
	if (!cq->cq) {
		ret = errno ? -errno : -ENOMEM;
		rps_err("%s: ibv_create_cq(%u): %s", base->device_name, depth, strerror(-ret));
		goto err_free;
	}
	/* from the depth the device gave (it may round up): see struct
	 * vrb_cq for why twice that */
	cq->pend_cap = 2 * (uint32_t)(cq->cq->cqe > (int)depth ? cq->cq->cqe : (int)depth);
	cq->pend = calloc(cq->pend_cap, sizeof(*cq->pend));
	if (!cq->pend) {
		ret = -ENOMEM;
		goto err_destroy_cq;
	}
	*cq_p = &cq->base;
	return 0;

err_destroy_cq:
	ibv_destroy_cq(cq->cq);
err_free:
	pthread_mutex_destroy(&cq->grave_lock);
	free(cq);
	return ret;
}

void rps_vrb_cq_destroy(rps_cq_t *base)
{
	struct vrb_cq *cq = vrb_cq(base);

	if (ibv_destroy_cq(cq->cq))
		rps_err("%s: ibv_destroy_cq: %s (connections still bound?)", base->tp->device_name,
			strerror(errno));
	/* the device holds no completion naming a grave any more */
	while (!rps_list_empty(&cq->graves)) {
		struct vrb_conn *conn = container_of(cq->graves.next, struct vrb_conn, node);

		rps_list_del(&conn->node);
		rps_vrb_conn_free(conn);
	}
	pthread_mutex_destroy(&cq->grave_lock);
	free(cq->pend);
	free(cq);
}
