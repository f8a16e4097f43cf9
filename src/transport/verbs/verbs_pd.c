/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * verbs provider: protection domains, an ibv_pd each (the transport's
 * default PD included).
 *
 * The HCA checks an incoming rkey against the PD of the QP it arrives
 * on, so a region registered in PD A is out of reach of every QP in PD B
 * whatever key and address the peer names (IBV_WC_REM_ACCESS_ERR at the
 * requester, the responder's QP goes to the error state).  That is the
 * whole isolation mechanism; registrations and connections name the PD
 * they go into (verbs_device.c, verbs_cm.c).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "transport/verbs/verbs.h"
#include "util/log.h"

int rps_vrb_pd_init(struct vrb_transport *tp, struct vrb_pd *pd)
{
	int ret;

	pd->pd = ibv_alloc_pd(tp->ctx);
	if (!pd->pd) {
		ret = errno ? -errno : -ENOMEM;
		rps_err("%s: ibv_alloc_pd: %s", tp->base.device_name, strerror(-ret));
		return ret;
	}
	pd->base.isolated = true;
	return 0;
}

int rps_vrb_pd_alloc(rps_transport_t *base, rps_pd_t **pd_p)
{
	struct vrb_pd *pd;
	int ret;

	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	ret = rps_vrb_pd_init(vrb_tp(base), pd);
	if (ret) {
		free(pd);
		return ret;
	}
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
