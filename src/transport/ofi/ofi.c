/* SPDX-License-Identifier: BSD-2-Clause */
/* placeholder: the ofi provider is being written */
#include "config.h"
#include "transport/transport_priv.h"

RPS_PROVIDER_INI(ofi)
{
	return 0;
}
