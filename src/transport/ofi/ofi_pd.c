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
 * The transport's default PD is one of these, embedded in it.
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
