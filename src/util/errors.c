/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include <rdmaps/errno.h>

#include "util/compiler.h"

static const char *const rps_err_text[] = {
	[RPS_ERR_REMOTE_ACCESS - 256] = "Remote access refused (bad rkey, address or rights)",
	[RPS_ERR_REMOTE_OP - 256] = "Remote operation failed",
	[RPS_ERR_FLUSHED - 256] = "Operation flushed: connection went down",
	[RPS_ERR_RETRY_EXCEEDED - 256] = "Peer not responding (transport retries exhausted)",
	[RPS_ERR_LOCAL_ACCESS - 256] = "Local buffer not covered by its memory registration",
	[RPS_ERR_TRUNCATED - 256] = "Message larger than the receive buffer",
	[RPS_ERR_PROTO - 256] = "Malformed wire message",
	[RPS_ERR_REFUSED - 256] = "Refused by the peer (its reason is logged)",
};

RPS_EXPORT const char *rps_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= 256 && err < RPS_ERR_MAX_)
		return rps_err_text[err - 256];
	if (err >= 256)
		return "Unknown rdmaps error";
	/* strerror() is not thread-safe in general but glibc's returns static
	 * strings for known values, which is what we need here */
	return strerror(err);
}
