/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rps_crc32 (util/crc32.c) against zlib's crc32(): the checkpoint format
 * was defined with zlib's CRC, so ours must agree on every length,
 * alignment and way of splitting the input.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/crc32.h"

static void test_check_value(void **state)
{
	(void)state;
	/* the CRC-32 check value of the catalogue of parametrised CRCs */
	assert_int_equal(rps_crc32(0, "123456789", 9), 0xcbf43926u);
	assert_int_equal(rps_crc32(0, "", 0), 0);
	assert_int_equal(rps_crc32(0x12345678u, NULL, 0), 0x12345678u);
}

static void test_against_zlib(void **state)
{
	enum { LEN = 4096 + 64 };
	uint8_t *buf = malloc(LEN);

	(void)state;
	assert_non_null(buf);
	srand(7);
	for (size_t i = 0; i < LEN; i++)
		buf[i] = (uint8_t)rand();
	/* every start alignment, lengths across the 8-byte steps */
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len < 300; len++)
			assert_int_equal(rps_crc32(0, buf + off, len),
					 (uint32_t)crc32(0, buf + off, (uInt)len));
	assert_int_equal(rps_crc32(0, buf, LEN), (uint32_t)crc32(0, buf, LEN));
	/* continued in pieces, as the checkpoint writer does */
	for (size_t cut = 0; cut < 40; cut++) {
		uint32_t c = rps_crc32(0, buf, cut);

		assert_int_equal(rps_crc32(c, buf + cut, LEN - cut), (uint32_t)crc32(0, buf, LEN));
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value),
		cmocka_unit_test(test_against_zlib),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
