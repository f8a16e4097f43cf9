/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the provider-independent transport core. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <rdmaps/rdmaps.h>

#include "transport/transport_priv.h"

static void test_priv_roundtrip(void **state)
{
	uint8_t raw[RPS_PRIV_HDR_LEN + RPS_ACCEPT_DATA_MAX];
	uint8_t in[RPS_ACCEPT_DATA_MAX], out[RPS_ACCEPT_DATA_MAX];
	const size_t lens[] = { 0, 1, 17, RPS_CONNECT_DATA_MAX, RPS_ACCEPT_DATA_MAX };

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t total = rps_priv_pack(raw, in, lens[i]);

		assert_int_equal(total, RPS_PRIV_HDR_LEN + lens[i]);
		memset(out, 0, sizeof(out));
		/* rdma_cm pads: the receiver may see more bytes than sent */
		assert_int_equal(rps_priv_unpack(raw, sizeof(raw), out, sizeof(out)), (int)lens[i]);
		assert_memory_equal(out, in, lens[i]);
	}
}

static void test_priv_rejects_malformed(void **state)
{
	uint8_t raw[RPS_PRIV_HDR_LEN + 8], out[8];

	(void)state;
	rps_priv_pack(raw, "abcdefgh", 8);
	/* too short for the header */
	assert_int_equal(rps_priv_unpack(raw, 3, out, sizeof(out)), -RPS_ERR_PROTO);
	assert_int_equal(rps_priv_unpack(NULL, 0, out, sizeof(out)), -RPS_ERR_PROTO);
	/* payload longer than what arrived */
	assert_int_equal(rps_priv_unpack(raw, RPS_PRIV_HDR_LEN + 7, out, sizeof(out)),
			 -RPS_ERR_PROTO);
	/* payload longer than the caller's room */
	assert_int_equal(rps_priv_unpack(raw, sizeof(raw), out, 7), -RPS_ERR_PROTO);
	/* wrong tag: not our framing (e.g. a foreign connector) */
	raw[0] ^= 0xff;
	assert_int_equal(rps_priv_unpack(raw, sizeof(raw), out, sizeof(out)), -RPS_ERR_PROTO);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(rps_strerror(-EINVAL), strerror(EINVAL));
	assert_string_equal(rps_strerror(EINVAL), strerror(EINVAL));
	for (int e = 256; e < RPS_ERR_MAX_; e++) {
		assert_non_null(rps_strerror(-e));
		assert_string_not_equal(rps_strerror(-e), "Unknown rdmaps error");
	}
	assert_string_equal(rps_strerror(-RPS_ERR_MAX_), "Unknown rdmaps error");
	assert_non_null(strstr(rps_strerror(-RPS_ERR_REMOTE_ACCESS), "Remote access"));
}

static void test_attr_defaults(void **state)
{
	rps_transport_attr_t attr;

	(void)state;
	unsetenv("RPS_PROVIDER");
	unsetenv("RPS_DEVICE");
	unsetenv("RPS_IB_PORT");
	unsetenv("RPS_GID_INDEX");
	assert_int_equal(rps_transport_attr_init(&attr), 0);
	assert_string_equal(attr.provider, "auto");
	assert_null(attr.device);
	assert_int_equal(attr.gid_index, -1);
	assert_true(attr.sq_depth > 0 && attr.recv_depth > 0);
	assert_true(attr.max_msg_size >= 1024);
}

static void test_attr_env(void **state)
{
	rps_transport_attr_t attr;

	(void)state;
	setenv("RPS_PROVIDER", "ofi", 1);
	setenv("RPS_DEVICE", "rxe0", 1);
	setenv("RPS_IB_PORT", "2", 1);
	setenv("RPS_GID_INDEX", "3", 1);
	assert_int_equal(rps_transport_attr_init(&attr), 0);
	assert_string_equal(attr.provider, "ofi");
	assert_string_equal(attr.device, "rxe0");
	assert_int_equal(attr.port, 2);
	assert_int_equal(attr.gid_index, 3);

	const char *bad_ports[] = { "0", "256", "1x", "", "-1" };
	for (size_t i = 0; i < sizeof(bad_ports) / sizeof(bad_ports[0]); i++) {
		setenv("RPS_IB_PORT", bad_ports[i], 1);
		/* an empty value means "unset" */
		assert_int_equal(rps_transport_attr_init(&attr), bad_ports[i][0] ? -EINVAL : 0);
	}
	unsetenv("RPS_IB_PORT");
	setenv("RPS_GID_INDEX", "abc", 1);
	assert_int_equal(rps_transport_attr_init(&attr), -EINVAL);
	unsetenv("RPS_GID_INDEX");
	unsetenv("RPS_PROVIDER");
	unsetenv("RPS_DEVICE");
}

static void test_open_unknown_provider(void **state)
{
	rps_transport_attr_t attr;
	rps_transport_t *tp = (rps_transport_t *)0x1;

	(void)state;
	assert_int_equal(rps_transport_attr_init(&attr), 0);
	attr.provider = "carrier-pigeon";
	assert_int_equal(rps_transport_open(&attr, &tp), -ENODEV);
	/* out-params are set only on success */
	assert_ptr_equal(tp, (rps_transport_t *)0x1);

	attr.provider = "ofi";
	attr.sq_depth = 0;
	assert_int_equal(rps_transport_open(&attr, &tp), -EINVAL);
}

static void test_providers_listed(void **state)
{
	const char *const *names = rps_transport_providers();
	int n = 0;

	(void)state;
	for (; names[n]; n++)
		assert_true(strcmp(names[n], "verbs") == 0 || strcmp(names[n], "ofi") == 0);
	assert_true(n >= 1);
}

static void test_sockaddr_name(void **state)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(4791) };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(1) };
	char buf[64];

	(void)state;
	inet_pton(AF_INET, "192.0.2.1", &in.sin_addr);
	rps_sockaddr_name(&in, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.1:4791");
	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	rps_sockaddr_name(&in6, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:1");
	rps_sockaddr_name(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "?");
}

static int log_count;
static void log_counter(rps_log_level_t level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	(void)arg;
	log_count++;
}

static void test_log_levels(void **state)
{
	rps_log_level_t l;

	(void)state;
	assert_int_equal(rps_log_level_parse("debug", &l), 0);
	assert_int_equal(l, RPS_LOG_DEBUG);
	assert_int_equal(rps_log_level_parse("loud", &l), -EINVAL);
	assert_int_equal(rps_log_level_parse(NULL, &l), -EINVAL);

	rps_log_set_handler(log_counter, NULL);
	rps_log_set_level(RPS_LOG_WARN);
	log_count = 0;
	/* an invalid transport argument is logged once, at error level */
	rps_transport_attr_t attr;
	rps_transport_attr_init(&attr);
	attr.provider = "nope";
	rps_transport_t *tp;
	assert_int_equal(rps_transport_open(&attr, &tp), -ENODEV);
	assert_int_equal(log_count, 1);
	rps_log_set_handler(NULL, NULL);
	rps_log_set_level(RPS_LOG_WARN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priv_roundtrip),
		cmocka_unit_test(test_priv_rejects_malformed),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_attr_defaults),
		cmocka_unit_test(test_attr_env),
		cmocka_unit_test(test_open_unknown_provider),
		cmocka_unit_test(test_providers_listed),
		cmocka_unit_test(test_sockaddr_name),
		cmocka_unit_test(test_log_levels),
	};
	return cmocka_run_group_tests_name("transport core", tests, NULL, NULL);
}
