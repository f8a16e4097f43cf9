/* SPDX-License-Identifier: BSD-2-Clause */
/* placeholder: the verbs provider is being written */
#include "config.h"
#include "transport/transport_priv.h"

RPS_PROVIDER_INI(verbs)
{
	return 0;
}
