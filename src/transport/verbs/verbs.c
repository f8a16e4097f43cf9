/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * verbs provider: libibverbs RC queue pairs set up with librdmacm.  The
 * pieces live in verbs_{device,pd,cm,conn,data}.c; see verbs.h.
 */
#include "config.h"

#include "transport/verbs/verbs.h"

static const struct rps_transport_ops vrb_ops = {
	.size = sizeof(struct rps_transport_ops),
	.name = "verbs",
	.probe = rps_vrb_probe,
	.open = rps_vrb_open,
	.close = rps_vrb_close,
	.progress = rps_vrb_progress,
	.pd_alloc = rps_vrb_pd_alloc,
	.pd_free = rps_vrb_pd_free,
	.mr_reg = rps_vrb_mr_reg,
	.mr_dereg = rps_vrb_mr_dereg,
	.cq_create = rps_vrb_cq_create,
	.cq_destroy = rps_vrb_cq_destroy,
	.cq_poll = rps_vrb_cq_poll,
	.cq_progress = rps_vrb_cq_progress,
	.listen = rps_vrb_listen,
	.listener_close = rps_vrb_listener_close,
	.get_request = rps_vrb_get_request,
	.accept = rps_vrb_accept,
	.reject = rps_vrb_reject,
	.connect = rps_vrb_connect,
	.conn_close = rps_vrb_conn_close,
	.post = rps_vrb_post,
};

RPS_PROVIDER_INI(verbs)
{
	return &vrb_ops;
}
