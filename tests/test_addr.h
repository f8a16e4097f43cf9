/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The address an end-to-end test program listens on and connects to,
 * or why it skips: $RPS_TEST_ADDR (the soft-RoCE tier sets it), else
 * 127.0.0.1 for ofi; a provider that opens no device here, or verbs
 * without $RPS_TEST_ADDR, is a skip (exit status 77).
 */
#ifndef RPS_TESTS_TEST_ADDR_H
#define RPS_TESTS_TEST_ADDR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rdmaps/rdmaps.h>

/* 0 with *addr_p set, or 77 after a "SKIP: ..." line */
static inline int test_addr_or_skip(const char *provider, const char **addr_p)
{
	const char *env = getenv("RPS_TEST_ADDR");
	rps_transport_attr_t attr;
	rps_transport_t *tp;

	rps_transport_attr_init(&attr);
	attr.provider = provider;
	if (rps_transport_open(&attr, &tp)) {
		printf("SKIP: provider %s has no usable device here\n", provider);
		return 77;
	}
	rps_transport_close(tp);
	if (env && *env) {
		*addr_p = env;
	} else if (strcmp(provider, "ofi") == 0) {
		*addr_p = "127.0.0.1";
	} else {
		printf("SKIP: set RPS_TEST_ADDR to the RDMA interface's address\n");
		return 77;
	}
	return 0;
}

#endif /* RPS_TESTS_TEST_ADDR_H */
