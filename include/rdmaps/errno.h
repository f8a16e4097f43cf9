/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdmaps error codes.
 *
 * Every rdmaps call returns 0 (or a count) on success and a negative errno
 * on failure.  Standard errno values are used wherever one fits (-EINVAL,
 * -ETIMEDOUT, -ECONNREFUSED, ...); the codes below, from 256 up, name the
 * RDMA-specific failures that have no errno of their own.
 */
#ifndef RDMAPS_ERRNO_H
#define RDMAPS_ERRNO_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
	/* the target refused the access: bad rkey, address outside the
	 * region, or the region lacks the needed remote access right */
	RPS_ERR_REMOTE_ACCESS = 256,
	/* the target failed the operation for a reason of its own */
	RPS_ERR_REMOTE_OP = 257,
	/* the operation was flushed: its connection went down first */
	RPS_ERR_FLUSHED = 258,
	/* the peer stopped answering (transport retries exhausted) */
	RPS_ERR_RETRY_EXCEEDED = 259,
	/* a local protection or length error (bad lkey, buffer outside MR) */
	RPS_ERR_LOCAL_ACCESS = 260,
	/* a received message did not fit the posted receive buffer */
	RPS_ERR_TRUNCATED = 261,
	/* a wire message failed validation */
	RPS_ERR_PROTO = 262,
	/* the peer refused the connection and said why (the caller that
	 * understood the reason logged it) */
	RPS_ERR_REFUSED = 263,
	RPS_ERR_MAX_
};

/* Text for an rdmaps return code: accepts negative or positive values,
 * errno or RPS_ERR_*.  Never returns NULL; the string is static. */
const char *rps_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* RDMAPS_ERRNO_H */
