/* SPDX-License-Identifier: BSD-2-Clause */
/* Connection private data framing and peer names, shared by providers. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "transport/transport_priv.h"

/* header: u16 magic-ish version tag, u16 payload length, little-endian */
#define PRIV_TAG 0x5250u /* "PR" */

size_t rps_priv_pack(void *out, const void *data, size_t len)
{
	uint8_t *p = out;

	p[0] = PRIV_TAG & 0xff;
	p[1] = PRIV_TAG >> 8;
	p[2] = len & 0xff;
	p[3] = (len >> 8) & 0xff;
	if (len)
		memcpy(p + RPS_PRIV_HDR_LEN, data, len);
	return RPS_PRIV_HDR_LEN + len;
}

int rps_priv_unpack(const void *raw, size_t raw_len, void *out, size_t max)
{
	const uint8_t *p = raw;
	size_t len;

	if (!raw || raw_len < RPS_PRIV_HDR_LEN)
		return -RPS_ERR_PROTO;
	if ((unsigned)(p[0] | p[1] << 8) != PRIV_TAG)
		return -RPS_ERR_PROTO;
	len = (size_t)p[2] | (size_t)p[3] << 8;
	if (len > max || len > raw_len - RPS_PRIV_HDR_LEN)
		return -RPS_ERR_PROTO;
	if (len)
		memcpy(out, p + RPS_PRIV_HDR_LEN, len);
	return (int)len;
}

void rps_sockaddr_name(const void *sockaddr, char *buf, size_t buflen)
{
	const struct sockaddr *sa = sockaddr;
	char host[INET6_ADDRSTRLEN] = "?";

	if (!sa) {
		snprintf(buf, buflen, "?");
		return;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = sockaddr;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, buflen, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = sockaddr;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, buflen, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, buflen, "(family %d)", sa->sa_family);
	}
}
