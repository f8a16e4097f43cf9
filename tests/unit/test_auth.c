/* SPDX-License-Identifier: BSD-2-Clause */
/* SHA-256 against FIPS 180-4's vectors and padding boundaries, and the
 * auth tag of HELLO. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "proto/auth.h"
#include "util/sha256.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void check(const void *data, size_t len, const char *want)
{
	uint8_t d[RPS_SHA256_LEN];
	char got[2 * RPS_SHA256_LEN + 1];

	rps_sha256(data, len, d);
	hex(d, sizeof(d), got);
	assert_string_equal(got, want);
}

static void test_sha256_fips_vectors(void **state)
{
	char *million = malloc(1000000);

	(void)state;
	check("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	assert_non_null(million);
	memset(million, 'a', 1000000);
	check(million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(million);
}

/* lengths around the padding boundaries (one or two final blocks);
 * expected values from Python's hashlib */
static void test_sha256_padding_boundaries(void **state)
{
	static const struct {
		size_t len;
		const char *want;
	} v[] = {
		{ 55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b" },
		{ 56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27" },
		{ 63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055" },
		{ 64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241" },
		{ 65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e" },
		{ 119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e" },
		{ 120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5" },
	};
	uint8_t buf[128];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		check(buf, v[i].len, v[i].want);
}

static void test_auth_tag(void **state)
{
	uint8_t a[RPS_AUTH_TAG_LEN], b[RPS_AUTH_TAG_LEN], zero[RPS_AUTH_TAG_LEN] = { 0 };
	char got[2 * RPS_AUTH_TAG_LEN + 1];

	(void)state;
	/* SHA-256("rdmaps-auth-1" || "secret"), first 12 bytes */
	rps_auth_tag("secret", 6, a);
	hex(a, sizeof(a), got);
	assert_string_equal(got, "8012cd69401c32673d540dbe");
	rps_auth_tag("secret", 6, b);
	assert_true(rps_auth_tag_equal(a, b));
	rps_auth_tag("secreT", 6, b);
	assert_false(rps_auth_tag_equal(a, b));
	/* a difference in the last byte counts as much as in the first */
	memcpy(b, a, sizeof(a));
	b[RPS_AUTH_TAG_LEN - 1] ^= 0x80;
	assert_false(rps_auth_tag_equal(a, b));
	/* no token: the all-zero tag, which no token produces */
	rps_auth_tag("", 0, b);
	assert_memory_equal(b, zero, sizeof(zero));
	assert_false(rps_auth_tag_equal(a, zero));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_fips_vectors),
		cmocka_unit_test(test_sha256_padding_boundaries),
		cmocka_unit_test(test_auth_tag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
