/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The shared-token check of HELLO (auth.c).  The token never travels: the
 * worker sends the first RPS_AUTH_TAG_LEN bytes of
 * SHA-256("rdmaps-auth-1" || token) and the server compares them with
 * its own in constant time.  This keeps stray or misconfigured processes
 * out; it is not a defence against someone who can capture and replay
 * traffic on the fabric (RDMA has no encryption; see rdmaps(7)).
 */
#ifndef RPS_PROTO_AUTH_H
#define RPS_PROTO_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rdmaps/auth.h>

#include "proto/wire.h"

/* tag of a token (len > 0); an empty token gives the all-zero tag that
 * means "no token" */
void rps_auth_tag(const void *token, size_t len, uint8_t tag[RPS_AUTH_TAG_LEN]);
/* equal tags, in time independent of where they differ */
bool rps_auth_tag_equal(const uint8_t a[RPS_AUTH_TAG_LEN], const uint8_t b[RPS_AUTH_TAG_LEN]);

#endif /* RPS_PROTO_AUTH_H */
