/* SPDX-License-Identifier: BSD-2-Clause */
/* Transport attributes: defaults and the RPS_* environment variables. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "transport/transport_priv.h"
#include "util/compiler.h"
#include "util/ext_struct.h"
#include "util/log.h"

/* Parses a decimal integer in [min, max]; 0 or -EINVAL. */
static int parse_long(const char *s, long min, long max, long *v_p)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*v_p = v;
	return 0;
}

int rps_transport_attr_defaults(rps_transport_attr_t *attr)
{
	const char *env;
	long v;

	memset(attr, 0, sizeof(*attr));
	attr->size = sizeof(*attr);
	attr->provider = "auto";
	attr->port = 0;
	attr->gid_index = -1;
	attr->sq_depth = 256;
	attr->recv_depth = 64;
	attr->max_msg_size = 4096;
	attr->max_inline = 64;
	attr->timeout_ms = 5000;

	if ((env = getenv("RPS_PROVIDER")) && *env)
		attr->provider = env;
	if ((env = getenv("RPS_DEVICE")) && *env)
		attr->device = env;
	if ((env = getenv("RPS_OFI_PROVIDER")) && *env)
		attr->ofi_provider = env;
	if ((env = getenv("RPS_IB_PORT")) && *env) {
		if (parse_long(env, 1, 255, &v)) {
			rps_err("RPS_IB_PORT='%s' is not a port number 1..255", env);
			return -EINVAL;
		}
		attr->port = (uint8_t)v;
	}
	if ((env = getenv("RPS_GID_INDEX")) && *env) {
		if (parse_long(env, 0, INT_MAX, &v)) {
			rps_err("RPS_GID_INDEX='%s' is not a GID index >= 0", env);
			return -EINVAL;
		}
		attr->gid_index = (int)v;
	}
	return 0;
}

RPS_EXPORT int rps_transport_attr_init_size(rps_transport_attr_t *attr, size_t size)
{
	rps_transport_attr_t full;
	int ret = rps_transport_attr_defaults(&full);

	if (ret)
		return ret;
	rps_ext_struct_out(attr, size, &full, sizeof(full));
	return 0;
}

int rps_transport_attr_in(rps_transport_attr_t *dst, const rps_transport_attr_t *attr)
{
	int ret = rps_transport_attr_defaults(dst);

	if (ret || !attr)
		return ret;
	return rps_ext_struct_in(dst, sizeof(*dst), attr,
				 RPS_EXT_END(rps_transport_attr_t, timeout_ms), sizeof(size_t),
				 "rps_transport_attr_t");
}
