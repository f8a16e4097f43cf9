/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * verbs provider: protection domains beyond the transport's default one.
 *
 * The HCA checks an incoming rkey against the PD of the QP it arrives
 * on, so a region registered in PD A is out of reach of every QP in PD B
 * whatever key and address the peer names (IBV_WC_REM_ACCESS_ERR at the
 * requester, the responder's QP goes to the error state).  That is the
 * whole isolation mechanism; this file only hands out ibv_pds and routes
 * registrations and connections into them.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/verbs/verbs.h"
#include "util/log.h"

int rps_vrb_pd_alloc(rps_transport_t *base, rps_pd_t **pd_p)
{
	struct vrb_transport *tp = vrb_tp(base);
	struct vrb_pd *pd;
	int ret;

	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	pd->pd = ibv_alloc_pd(tp->ctx);
	if (!pd->pd) {
		ret = errno ? -errno : -ENOMEM;
		rps_err("%s: ibv_alloc_pd: %s", base->device_name, strerror(-ret));
		free(pd);
		return ret;
	}
	pd->base.isolated = true;
	*pd_p = &pd->base;
	return 0;
}

void rps_vrb_pd_free(rps_pd_t *base)
{
	struct vrb_pd *pd = vrb_pd(base);

	/* EBUSY means a region or QP still uses it: leak the PD (the device
	 * frees it at close) rather than pretend it is gone */
	if (ibv_dealloc_pd(pd->pd))
		rps_warn("%s: ibv_dealloc_pd: %s (memory regions or "
			 "connections still in this PD?)",
			 base->tp->device_name, strerror(errno));
	free(pd);
}

int rps_vrb_mr_reg_pd(rps_pd_t *pd, void *addr, size_t len, unsigned access, rps_mr_t **mr_p)
{
	return rps_vrb_mr_reg_in(vrb_tp(pd->tp), vrb_pd(pd)->pd, addr, len, access, mr_p);
}

int rps_vrb_accept_pd(rps_conn_req_t *req, rps_pd_t *pd, rps_cq_t *cq, const void *data, size_t len,
		      rps_conn_t **conn_p)
{
	return rps_vrb_accept_in(req, vrb_pd(pd)->pd, cq, data, len, conn_p);
}

int rps_vrb_connect_pd(rps_pd_t *pd, const char *addr, uint16_t port, rps_cq_t *cq,
		       const void *data, size_t len, rps_conn_t **conn_p)
{
	return rps_vrb_connect_in(vrb_tp(pd->tp), vrb_pd(pd)->pd, addr, port, cq, data, len,
				  conn_p);
}
