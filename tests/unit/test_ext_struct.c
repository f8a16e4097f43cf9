/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Extensible structs (util/ext_struct.h): the rules on their own, then
 * callers compiled against a smaller or a larger struct than the
 * library's: the transport attributes and the ring attributes (the
 * server and worker configurations: tests/ps/test_ext_config.c).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <rdmaps/rdmaps.h>

#include "util/ext_struct.h"

/* A struct at three versions: v1 ends with b, v2 adds c, v3 adds d. */
struct v3 {
	size_t size;
	uint32_t a, b;
	uint64_t c;
	uint64_t d;
};
struct v2 {
	size_t size;
	uint32_t a, b;
	uint64_t c;
};
#define V1_SIZE	 RPS_EXT_END(struct v3, b)
#define MIN_SIZE RPS_EXT_END(struct v3, a)

static void defaults(struct v2 *d)
{
	*d = (struct v2){ sizeof(*d), 1, 2, 3 };
}

static void test_rules(void **state)
{
	struct v2 lib;
	struct v3 newer = { sizeof(newer), 10, 20, 30, 0 };
	struct {
		size_t size;
		uint32_t a, b;
	} older = { sizeof(older), 10, 20 };
	struct {
		size_t size;
		uint32_t a;
	} tiny = { sizeof(tiny) - 4, 10 }; /* its padding is not a field */
	struct v3 zero = { 0, 10, 20, 30, 40 };

	(void)state;
	/* a smaller struct: its fields over the defaults, the rest default */
	defaults(&lib);
	assert_int_equal(rps_ext_struct_in(&lib, sizeof(lib), &older, V1_SIZE, MIN_SIZE, "t"), 0);
	assert_int_equal(lib.a, 10);
	assert_int_equal(lib.b, 20);
	assert_int_equal(lib.c, 3);
	assert_int_equal(lib.size, sizeof(lib));
	/* down to the required part */
	defaults(&lib);
	assert_int_equal(rps_ext_struct_in(&lib, sizeof(lib), &tiny, V1_SIZE, MIN_SIZE, "t"), 0);
	assert_int_equal(lib.a, 10);
	assert_int_equal(lib.b, 2);
	/* below it: refused */
	tiny.size = MIN_SIZE - 1;
	assert_int_equal(rps_ext_struct_in(&lib, sizeof(lib), &tiny, V1_SIZE, MIN_SIZE, "t"),
			 -EINVAL);
	/* a larger one: fine while what we do not know is zero */
	defaults(&lib);
	assert_int_equal(rps_ext_struct_in(&lib, sizeof(lib), &newer, V1_SIZE, MIN_SIZE, "t"), 0);
	assert_int_equal(lib.c, 30);
	newer.d = 1;
	assert_int_equal(rps_ext_struct_in(&lib, sizeof(lib), &newer, V1_SIZE, MIN_SIZE, "t"),
			 -E2BIG);
	/* size 0: the 1.0 layout, the rest (c) default */
	defaults(&lib);
	assert_int_equal(rps_ext_struct_in(&lib, sizeof(lib), &zero, V1_SIZE, MIN_SIZE, "t"), 0);
	assert_int_equal(lib.b, 20);
	assert_int_equal(lib.c, 3);
	assert_int_equal(rps_ext_struct_in(&lib, sizeof(lib), NULL, V1_SIZE, MIN_SIZE, "t"),
			 -EINVAL);
}

static void test_out(void **state)
{
	struct v2 full = { sizeof(full), 1, 2, 3 };
	struct v3 newer;
	struct {
		size_t size;
		uint32_t a, b;
		uint8_t canary[8];
	} older;

	(void)state;
	memset(&newer, 0xa5, sizeof(newer));
	rps_ext_struct_out(&newer, sizeof(newer), &full, sizeof(full));
	assert_int_equal(newer.size, sizeof(newer));
	assert_int_equal(newer.c, 3);
	assert_int_equal(newer.d, 0); /* beyond what we know: zeroed */
	memset(&older, 0xa5, sizeof(older));
	rps_ext_struct_out(&older, RPS_EXT_END(struct v2, b), &full, sizeof(full));
	assert_int_equal(older.size, RPS_EXT_END(struct v2, b));
	assert_int_equal(older.b, 2);
	for (size_t i = 0; i < sizeof(older.canary); i++)
		assert_int_equal(older.canary[i], 0xa5); /* not written past size */
}

/* rps_transport_attr_t, as a caller compiled against a struct that
 * ended at timeout_ms, or one with a field more, sees it. */
/* the API cases open the ofi provider (tcp on loopback) */
static bool have_ofi(void)
{
	for (const char *const *p = rps_transport_providers(); *p; p++)
		if (strcmp(*p, "ofi") == 0)
			return true;
	return false;
}

struct attr_plus {
	rps_transport_attr_t attr;
	uint64_t newer_field;
};

static void test_transport_attr_sizes(void **state)
{
	struct attr_plus big;
	rps_transport_attr_t small;
	rps_transport_t *tp;

	(void)state;
	if (!have_ofi())
		skip();
	/* the older caller: its init writes no further than its size, and
	 * open reads no further */
	memset(&big, 0xa5, sizeof(big));
	assert_int_equal(rps_transport_attr_init_size(
				 &big.attr, RPS_EXT_END(rps_transport_attr_t, max_msg_size)),
			 0);
	assert_int_equal(((uint8_t *)&big)[RPS_EXT_END(rps_transport_attr_t, max_msg_size)], 0xa5);
	big.attr.provider = "ofi";
	big.attr.max_msg_size = 2048;
	assert_int_equal(rps_transport_open(&big.attr, &tp), 0);
	assert_int_equal(rps_transport_get_attr(tp)->max_msg_size, 2048);
	/* what it lacks took the defaults */
	assert_int_equal(rps_transport_get_attr(tp)->timeout_ms, 5000);
	assert_int_equal(rps_transport_get_attr(tp)->size, sizeof(rps_transport_attr_t));
	rps_transport_close(tp);

	/* a newer caller: a zero extra field is fine, a set one is not */
	assert_int_equal(rps_transport_attr_init_size(&big.attr, sizeof(big)), 0);
	assert_int_equal(big.newer_field, 0);
	big.attr.provider = "ofi";
	assert_int_equal(rps_transport_open(&big.attr, &tp), 0);
	rps_transport_close(tp);
	big.newer_field = 7;
	assert_int_equal(rps_transport_open(&big.attr, &tp), -E2BIG);

	/* designated initializers, no init: the 1.0 layout */
	small = (rps_transport_attr_t){ .provider = "ofi",
					.gid_index = -1,
					.sq_depth = 16,
					.recv_depth = 4,
					.max_msg_size = 1024,
					.timeout_ms = 1000 };
	assert_int_equal(rps_transport_open(&small, &tp), 0);
	assert_int_equal(rps_transport_get_attr(tp)->sq_depth, 16);
	rps_transport_close(tp);
}

/* rps_ring_attr_t: a caller whose struct ends at count gets the default
 * chunk, window and timeout; one with a set unknown field is refused. */
struct ring_attr_plus {
	rps_ring_attr_t attr;
	uint64_t newer_field;
};

static void test_ring_attr_sizes(void **state)
{
	struct ring_attr_plus big;
	rps_transport_attr_t ta;
	rps_ring_t *ring;

	(void)state;
	if (!have_ofi())
		skip();
	assert_int_equal(rps_transport_attr_init(&ta), 0);
	ta.provider = "ofi";
	memset(&big, 0xa5, sizeof(big));
	rps_ring_attr_init_size(&big.attr, RPS_EXT_END(rps_ring_attr_t, count));
	big.attr.tp_attr = &ta;
	big.attr.count = 1000;
	/* past count the caller's memory is not the struct: must not matter */
	assert_int_equal(rps_ring_create(&big.attr, &ring), 0);
	for (size_t i = 0; i < 1000; i++)
		rps_ring_buffer(ring)[i] = (float)i;
	assert_int_equal(rps_ring_allreduce(ring), 0); /* world 1 */
	assert_true(rps_ring_buffer(ring)[999] == 999.0f);
	rps_ring_destroy(ring);
	/* below the required part */
	big.attr.size = RPS_EXT_END(rps_ring_attr_t, world);
	assert_int_equal(rps_ring_create(&big.attr, &ring), -EINVAL);
	/* newer and asking for more than we know */
	rps_ring_attr_init_size(&big.attr, sizeof(big));
	big.attr.tp_attr = &ta;
	big.attr.count = 10;
	big.newer_field = 1;
	assert_int_equal(rps_ring_create(&big.attr, &ring), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_out),
		cmocka_unit_test(test_transport_attr_sizes),
		cmocka_unit_test(test_ring_attr_sizes),
	};

	rps_log_set_level(RPS_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
