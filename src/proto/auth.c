/* SPDX-License-Identifier: BSD-2-Clause */
/* HELLO's auth tag (auth.h). */
#include "config.h"

#include <string.h>

#include "proto/auth.h"
#include "util/sha256.h"

#define AUTH_CONTEXT "rdmaps-auth-1"

void rps_auth_tag(const void *token, size_t len, uint8_t tag[RPS_AUTH_TAG_LEN])
{
	uint8_t buf[sizeof(AUTH_CONTEXT) - 1 + RPS_AUTH_MAX_TOKEN], digest[RPS_SHA256_LEN];
	size_t ctx = sizeof(AUTH_CONTEXT) - 1;

	memset(tag, 0, RPS_AUTH_TAG_LEN);
	if (!len)
		return;
	if (len > RPS_AUTH_MAX_TOKEN)
		len = RPS_AUTH_MAX_TOKEN; /* the loaders refuse longer tokens */
	/* a fixed prefix: the tag of a token is useless elsewhere */
	memcpy(buf, AUTH_CONTEXT, ctx);
	memcpy(buf + ctx, token, len);
	rps_sha256(buf, ctx + len, digest);
	memcpy(tag, digest, RPS_AUTH_TAG_LEN);
	/* never all zero: that means "no token" on the wire (odds 2^-96) */
	uint8_t any = 0;

	for (int i = 0; i < RPS_AUTH_TAG_LEN; i++)
		any |= tag[i];
	if (!any)
		tag[0] = 1;
}

bool rps_auth_tag_equal(const uint8_t a[RPS_AUTH_TAG_LEN], const uint8_t b[RPS_AUTH_TAG_LEN])
{
	volatile uint8_t diff = 0;

	for (int i = 0; i < RPS_AUTH_TAG_LEN; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}
