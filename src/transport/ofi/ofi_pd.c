/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ofi provider: protection domains, as aliases of the transport's domain.
 *
 * libfabric has no PD separate from the fid_domain, and a domain's keys
 * are valid on every endpoint opened on it: the tcp provider looks an
 * incoming key up in one per-domain map and checks only the bounds and
 * the access rights of the region it names.  Real isolation would need a
 * domain per PD, but an endpoint and the CQ it binds must share a domain
 * and the server binds every worker's lane of one engine thread to one
 * CQ; FI_MR_ENDPOINT (keys bound to an endpoint) would do it, but tcp
 * returns mr_mode 0 whatever is asked and so does not offer it.
 *
 * So an rps_pd here only records the caller's intent: registrations and
 * connections "in" it go to the transport's domain, and rps_pd_isolated()
 * says false so that callers and tests know a peer holding another
 * peer's key can use it.  Bounds are still enforced by the provider.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "transport/ofi/ofi.h"

int rps_ofi_pd_alloc(rps_transport_t *tp, rps_pd_t **pd_p)
{
	rps_pd_t *pd;

	(void)tp;
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	pd->isolated = false;
	*pd_p = pd;
	return 0;
}

void rps_ofi_pd_free(rps_pd_t *pd)
{
	free(pd);
}

int rps_ofi_mr_reg_pd(rps_pd_t *pd, void *addr, size_t len, unsigned access, rps_mr_t **mr_p)
{
	return rps_ofi_mr_reg(pd->tp, addr, len, access, mr_p);
}

int rps_ofi_accept_pd(rps_conn_req_t *req, rps_pd_t *pd, rps_cq_t *cq, const void *data, size_t len,
		      rps_conn_t **conn_p)
{
	(void)pd;
	return rps_ofi_accept(req, cq, data, len, conn_p);
}

int rps_ofi_connect_pd(rps_pd_t *pd, const char *addr, uint16_t port, rps_cq_t *cq,
		       const void *data, size_t len, rps_conn_t **conn_p)
{
	return rps_ofi_connect(pd->tp, addr, port, cq, data, len, conn_p);
}
