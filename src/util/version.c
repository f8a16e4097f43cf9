/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <rdmaps/version.h>

#include "util/compiler.h"

RPS_EXPORT const char *rps_version(void)
{
	return PACKAGE_VERSION;
}
