/* SPDX-License-Identifier: BSD-2-Clause */
/* Wire protocol: round trips, byte layout, and one test per rejected field. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <rdmaps/errno.h>

#include "proto/refuse.h"
#include "proto/wire.h"

static rps_hello_t good_hello(void)
{
	rps_hello_t h = { .lane = 2,
			  .worker_id = 3,
			  .num_workers = 8,
			  .model_params = 7850,
			  .doorbell_addr = 0x7f0012345678ull & ~7ull,
			  .doorbell_key = 0xabcdef };
	for (int i = 0; i < RPS_AUTH_TAG_LEN; i++)
		h.auth_tag[i] = (uint8_t)(i * 17 + 1);
	return h;
}

static rps_welcome_t good_welcome(void)
{
	rps_welcome_t w = {
		.algo = RPS_ALGO_DCASGD_A,
		.worker_id = 3,
		.num_workers = 8,
		.shard_params = 100000,
		.shard_offset = 0,
		.chunk_bytes = 65536,
		.grad_slots = 2,
		.max_staleness = 16,
		.lanes = 4,
		.lr = 0.1f,
		.lambda = 2.0f,
		.ms_decay = 0.95f,
		.theta = 0.5f,
		.step = 123456789012ull,
		.worker_pushes = 77,
	};
	w.num_chunks = (uint32_t)((w.shard_params * 4 + w.chunk_bytes - 1) / w.chunk_bytes);
	w.grad = (rps_wire_region_t){ 0x10000, 0x1234, w.shard_params * 4 * 2 };
	w.snap = (rps_wire_region_t){ 0x90000, 0x5678, w.shard_params * 4 };
	return w;
}

static void test_hello_roundtrip_and_layout(void **state)
{
	uint8_t buf[RPS_HELLO_WIRE_LEN];
	rps_hello_t h = good_hello(), back;
	const char *why = NULL;

	(void)state;
	assert_true(RPS_HELLO_WIRE_LEN <= 52); /* fits rdma_cm connect data */
	rps_hello_encode(&h, buf);
	/* explicitly little-endian: magic "RPSH", then version 1 */
	assert_memory_equal(buf, "RPSH\x01", 5);
	assert_int_equal(buf[8], 3);  /* worker_id, LSB first */
	assert_int_equal(buf[12], 8); /* num_workers */
	assert_int_equal(rps_hello_parse(buf, sizeof(buf), &back, &why), 0);
	assert_int_equal(back.lane, h.lane);
	assert_int_equal(back.worker_id, h.worker_id);
	assert_int_equal(back.num_workers, h.num_workers);
	assert_int_equal(back.model_params, h.model_params);
	assert_int_equal(back.doorbell_addr, h.doorbell_addr);
	assert_int_equal(back.doorbell_key, h.doorbell_key);
	assert_memory_equal(back.auth_tag, h.auth_tag, RPS_AUTH_TAG_LEN);
}

/* Corrupt one thing, expect a refusal whose reason names it. */
static void hello_refused(const uint8_t *buf, size_t len, const char *reason_part)
{
	rps_hello_t out;
	const char *why = NULL;

	assert_int_equal(rps_hello_parse(buf, len, &out, &why), -RPS_ERR_PROTO);
	assert_non_null(why);
	if (!strstr(why, reason_part))
		fail_msg("reason '%s' does not mention '%s'", why, reason_part);
}

static void test_hello_rejects_each_field(void **state)
{
	uint8_t buf[RPS_HELLO_WIRE_LEN + 4], bad[RPS_HELLO_WIRE_LEN + 4];
	rps_hello_t h = good_hello();

	(void)state;
	memset(buf, 0, sizeof(buf));
	rps_hello_encode(&h, buf);

	hello_refused(buf, RPS_HELLO_WIRE_LEN - 1, "too short");
	hello_refused(NULL, 0, "too short");
	memcpy(bad, buf, sizeof(buf));
	bad[RPS_HELLO_WIRE_LEN + 2] = 1;
	hello_refused(bad, sizeof(bad), "trailing");
	memcpy(bad, buf, sizeof(buf));
	bad[0] ^= 1;
	hello_refused(bad, RPS_HELLO_WIRE_LEN, "magic");
	memcpy(bad, buf, sizeof(buf));
	bad[4] = 2;
	hello_refused(bad, RPS_HELLO_WIRE_LEN, "version");
	memcpy(bad, buf, sizeof(buf));
	bad[5] = 1;
	hello_refused(bad, RPS_HELLO_WIRE_LEN, "reserved");
	memcpy(bad, buf, sizeof(buf));
	bad[7] = 1; /* lane 256 + 2 */
	hello_refused(bad, RPS_HELLO_WIRE_LEN, "lane");

	h = good_hello();
	h.num_workers = RPS_MAX_WORKERS + 1;
	rps_hello_encode(&h, bad);
	hello_refused(bad, RPS_HELLO_WIRE_LEN, "num_workers");
	h = good_hello();
	h.worker_id = 8; /* == num_workers */
	rps_hello_encode(&h, bad);
	hello_refused(bad, RPS_HELLO_WIRE_LEN, "worker_id >= num_workers");
	h = good_hello();
	h.num_workers = 0;
	h.worker_id = RPS_MAX_WORKERS;
	rps_hello_encode(&h, bad);
	hello_refused(bad, RPS_HELLO_WIRE_LEN, "worker_id");
	h = good_hello();
	h.model_params = RPS_MAX_PARAMS + 1;
	rps_hello_encode(&h, bad);
	hello_refused(bad, RPS_HELLO_WIRE_LEN, "model_params");
	h = good_hello();
	h.doorbell_addr |= 4;
	rps_hello_encode(&h, bad);
	hello_refused(bad, RPS_HELLO_WIRE_LEN, "doorbell");

	/* zero padding beyond the wire length is a newer minor revision */
	rps_hello_t out;
	const char *why;
	assert_int_equal(rps_hello_parse(buf, sizeof(buf), &out, &why), 0);
}

static void test_welcome_roundtrip(void **state)
{
	uint8_t buf[RPS_WELCOME_WIRE_LEN];
	rps_welcome_t w = good_welcome(), back;
	const char *why = NULL;

	(void)state;
	assert_true(RPS_WELCOME_WIRE_LEN <= 192); /* fits rdma_cm accept data */
	rps_welcome_encode(&w, buf);
	assert_memory_equal(buf, "RPSW\x01", 5);
	assert_int_equal(rps_welcome_parse(buf, sizeof(buf), &back, &why), 0);
	/* every field survives: re-encoding gives the same bytes */
	uint8_t again[RPS_WELCOME_WIRE_LEN];
	rps_welcome_encode(&back, again);
	assert_memory_equal(again, buf, sizeof(buf));
	assert_int_equal(back.algo, w.algo);
	assert_int_equal(back.step, w.step);
	assert_int_equal(back.worker_pushes, w.worker_pushes);
	assert_int_equal(back.grad.key, w.grad.key);
	assert_true(back.lambda == w.lambda && back.theta == w.theta);
}

static void welcome_refused(const rps_welcome_t *w, const char *reason_part)
{
	uint8_t buf[RPS_WELCOME_WIRE_LEN];
	rps_welcome_t out;
	const char *why = NULL;

	rps_welcome_encode(w, buf);
	assert_int_equal(rps_welcome_parse(buf, sizeof(buf), &out, &why), -RPS_ERR_PROTO);
	if (!why || !strstr(why, reason_part))
		fail_msg("reason '%s' does not mention '%s'", why ? why : "(null)", reason_part);
}

static void test_welcome_rejects_each_field(void **state)
{
	rps_welcome_t w;
	uint8_t buf[RPS_WELCOME_WIRE_LEN];
	rps_welcome_t out;
	const char *why;

	(void)state;
#define MUTATE(stmt, reason)                                                                       \
	do {                                                                                       \
		w = good_welcome();                                                                \
		stmt;                                                                              \
		welcome_refused(&w, reason);                                                       \
	} while (0)
	MUTATE(w.algo = 0, "algorithm");
	MUTATE(w.algo = RPS_ALGO_MAX_, "algorithm");
	MUTATE(w.num_workers = 0, "num_workers");
	MUTATE(w.num_workers = RPS_MAX_WORKERS + 1, "num_workers");
	MUTATE(w.worker_id = 8, "worker_id");
	MUTATE(w.shard_params = 0, "shard_params");
	MUTATE(w.shard_params = RPS_MAX_PARAMS + 1, "shard_params");
	MUTATE(w.shard_offset = UINT64_MAX, "shard_offset");
	MUTATE(w.chunk_bytes = 1024, "chunk_bytes");
	MUTATE(w.chunk_bytes = RPS_MAX_CHUNK_BYTES + 4, "chunk_bytes");
	MUTATE(w.chunk_bytes = 65538, "chunk_bytes");
	MUTATE(w.num_chunks += 1, "num_chunks");
	MUTATE(w.grad_slots = 3, "grad_slots");
	MUTATE(w.lanes = 0, "lanes");
	MUTATE(w.lanes = RPS_MAX_LANES + 1, "lanes");
	MUTATE(w.grad.len -= 4, "gradient region");
	MUTATE(w.snap.len += 4, "snapshot region");
	MUTATE(w.grad.addr = UINT64_MAX - 8, "overflows");
	MUTATE(w.lr = 0, "learning rate");
	MUTATE(w.lr = NAN, "learning rate");
	MUTATE(w.lambda = -1, "lambda");
	MUTATE(w.lambda = INFINITY, "lambda");
	MUTATE(w.ms_decay = 1.0f, "decay");
	MUTATE(w.ms_decay = NAN, "decay");
	MUTATE(w.theta = 1.5f, "theta");
	MUTATE(w.theta = NAN, "theta");
#undef MUTATE

	/* framing: magic, version, reserved bytes */
	w = good_welcome();
	rps_welcome_encode(&w, buf);
	buf[3] = 'X';
	assert_int_equal(rps_welcome_parse(buf, sizeof(buf), &out, &why), -RPS_ERR_PROTO);
	rps_welcome_encode(&w, buf);
	buf[6] = 1; /* reserved u16 after the algorithm */
	assert_int_equal(rps_welcome_parse(buf, sizeof(buf), &out, &why), -RPS_ERR_PROTO);
	assert_non_null(strstr(why, "reserved"));
	rps_welcome_encode(&w, buf);
	assert_int_equal(rps_welcome_parse(buf, RPS_WELCOME_WIRE_LEN - 1, &out, &why),
			 -RPS_ERR_PROTO);
	/* a HELLO is not a WELCOME */
	rps_hello_t h = good_hello();
	uint8_t hb[RPS_WELCOME_WIRE_LEN] = { 0 };
	rps_hello_encode(&h, hb);
	assert_int_equal(rps_welcome_parse(hb, sizeof(hb), &out, &why), -RPS_ERR_PROTO);
	assert_non_null(strstr(why, "magic"));
}

static void test_bye(void **state)
{
	uint8_t buf[RPS_BYE_WIRE_LEN];
	rps_bye_t b = { RPS_BYE_SHUTDOWN, 7, 99 }, out;
	const char *why;

	(void)state;
	rps_bye_encode(&b, buf);
	assert_int_equal(rps_bye_parse(buf, sizeof(buf), &out, &why), 0);
	assert_int_equal(out.reason, RPS_BYE_SHUTDOWN);
	assert_int_equal(out.worker_id, 7);
	assert_int_equal(out.step, 99);
	buf[5] = RPS_BYE_REASON_MAX_;
	assert_int_equal(rps_bye_parse(buf, sizeof(buf), &out, &why), -RPS_ERR_PROTO);
	assert_non_null(strstr(why, "reason"));
	rps_bye_encode(&b, buf);
	buf[8] = 0xff;
	buf[9] = 0xff;
	assert_int_equal(rps_bye_parse(buf, sizeof(buf), &out, &why), -RPS_ERR_PROTO);
	assert_int_equal(rps_bye_parse(buf, 3, &out, &why), -RPS_ERR_PROTO);
}

/* OPTIONS: round trip with the byte layout; reserved bits, unknown
 * flags and short messages refused; chunk notices' immediate layout. */
static void test_options(void **state)
{
	uint8_t buf[RPS_OPTIONS_WIRE_LEN];
	const uint8_t head[] = { 'R', 'P', 'S', 'O', 1, 0, 0, 0, 1, 0, 0, 0 };
	rps_options_t o = { RPS_OPT_CHUNK_NOTICES }, out = { 0 };
	const char *why;
	uint32_t imm;

	(void)state;
	rps_options_encode(&o, buf);
	assert_memory_equal(buf, head, sizeof(head));
	assert_int_equal(rps_options_parse(buf, sizeof(buf), &out, &why), 0);
	assert_int_equal(out.flags, RPS_OPT_CHUNK_NOTICES);
	buf[5] = 1;
	assert_int_equal(rps_options_parse(buf, sizeof(buf), &out, &why), -RPS_ERR_PROTO);
	assert_non_null(strstr(why, "reserved"));
	rps_options_encode(&o, buf);
	buf[9] = 0x80; /* a flag this version does not know */
	assert_int_equal(rps_options_parse(buf, sizeof(buf), &out, &why), -RPS_ERR_PROTO);
	assert_non_null(strstr(why, "flags"));
	rps_options_encode(&o, buf);
	assert_int_equal(rps_options_parse(buf, 11, &out, &why), -RPS_ERR_PROTO);
	/* chunk 5 of push 0x1203: kind CONTROL, parity 1, push's low byte */
	imm = rps_imm_encode(RPS_IMM_CONTROL, 0x1203 & 1, rps_ctl_chunk(0x1203, 5));
	assert_int_equal(rps_imm_kind(imm), RPS_IMM_CONTROL);
	assert_int_equal(rps_imm_parity(imm), 1);
	assert_true(rps_imm_value(imm) & RPS_CTL_CHUNK);
	assert_int_equal((rps_imm_value(imm) >> 20) & 0xff, 0x03);
	assert_int_equal(rps_imm_value(imm) & (RPS_CTL_CHUNK_MAX - 1), 5);
	assert_int_not_equal(rps_imm_value(imm), RPS_CTL_READY);
}

/* REFUSE: round trip with the byte layout, every reason described, and
 * each malformed field refused. */
static void test_refuse(void **state)
{
	uint8_t buf[RPS_REFUSE_WIRE_LEN + 4];
	const uint8_t head[] = { 'R', 'P', 'S', 'R', 1, RPS_REFUSE_MODEL_SIZE, 1, 0 };
	rps_refuse_t r = { RPS_REFUSE_MODEL_SIZE, 1, 3, 7850, 12730 }, out;
	const char *why;
	char text[160];

	(void)state;
	memset(buf, 0, sizeof(buf));
	rps_refuse_encode(&r, buf);
	assert_memory_equal(buf, head, sizeof(head));
	assert_int_equal(buf[8], 3); /* worker_id, little-endian */
	assert_int_equal(buf[16], 7850 & 0xff);
	assert_int_equal(buf[24], 12730 & 0xff);
	/* longer with zeros: a newer minor revision */
	assert_int_equal(rps_refuse_parse(buf, sizeof(buf), &out, &why), 0);
	assert_int_equal(out.reason, r.reason);
	assert_int_equal(out.lane, 1);
	assert_int_equal(out.worker_id, 3);
	assert_int_equal(out.expected, 7850);
	assert_int_equal(out.got, 12730);
	rps_refuse_describe(&out, text, sizeof(text));
	assert_non_null(strstr(text, "7850"));
	assert_non_null(strstr(text, "12730"));
	for (int reason = RPS_REFUSE_HELLO; reason < RPS_REFUSE_REASON_MAX_; reason++) {
		r.reason = (rps_refuse_reason_t)reason;
		rps_refuse_encode(&r, buf);
		assert_int_equal(rps_refuse_parse(buf, RPS_REFUSE_WIRE_LEN, &out, &why), 0);
		assert_true(strlen(rps_refuse_describe(&out, text, sizeof(text))) > 10);
		/* a tiny buffer is cut, still terminated */
		assert_int_equal(strlen(rps_refuse_describe(&out, text, 8)), 7);
	}
	/* refused: short, trailing junk, magic, version, reason, reserved */
	rps_refuse_encode(&r, buf);
	assert_int_equal(rps_refuse_parse(buf, RPS_REFUSE_WIRE_LEN - 1, &out, &why),
			 -RPS_ERR_PROTO);
	assert_int_equal(rps_refuse_parse(NULL, 0, &out, &why), -RPS_ERR_PROTO);
	buf[RPS_REFUSE_WIRE_LEN] = 1;
	assert_int_equal(rps_refuse_parse(buf, RPS_REFUSE_WIRE_LEN + 1, &out, &why),
			 -RPS_ERR_PROTO);
	buf[RPS_REFUSE_WIRE_LEN] = 0;
	const size_t bad_at[] = { 0, 4, 5, 12 };
	const uint8_t bad_to[] = { 'X', 2, RPS_REFUSE_REASON_MAX_, 1 };
	for (size_t i = 0; i < 4; i++) {
		rps_refuse_encode(&r, buf);
		buf[bad_at[i]] = bad_to[i];
		assert_int_equal(rps_refuse_parse(buf, RPS_REFUSE_WIRE_LEN, &out, &why),
				 -RPS_ERR_PROTO);
	}
	buf[5] = 0;
	assert_int_equal(rps_refuse_parse(buf, RPS_REFUSE_WIRE_LEN, &out, &why), -RPS_ERR_PROTO);
	assert_true(rps_refuse_transient(RPS_REFUSE_CLOSING));
	assert_true(rps_refuse_transient(RPS_REFUSE_CONNECTED));
	assert_false(rps_refuse_transient(RPS_REFUSE_MODEL_SIZE));
}

static void test_imm_encoding(void **state)
{
	(void)state;
	const rps_imm_kind_t kinds[] = { RPS_IMM_PUSH, RPS_IMM_NOTIFY, RPS_IMM_REJECT,
					 RPS_IMM_CONTROL };
	const uint32_t values[] = { 0, 1, 12345, RPS_IMM_VALUE_MAX };

	for (int k = 0; k < 4; k++)
		for (unsigned p = 0; p < 2; p++)
			for (int v = 0; v < 4; v++) {
				uint32_t imm = rps_imm_encode(kinds[k], p, values[v]);

				assert_int_equal(rps_imm_kind(imm), kinds[k]);
				assert_int_equal(rps_imm_parity(imm), p);
				assert_int_equal(rps_imm_value(imm), values[v]);
			}
	/* a value too large wraps into its low 29 bits, never into kind */
	assert_int_equal(rps_imm_kind(rps_imm_encode(RPS_IMM_PUSH, 0, 0xffffffffu)), RPS_IMM_PUSH);
}

static void test_algo_names(void **state)
{
	rps_algo_t a;

	(void)state;
	for (int i = 1; i < RPS_ALGO_MAX_; i++) {
		assert_int_equal(rps_algo_parse(rps_algo_name((rps_algo_t)i), &a), 0);
		assert_int_equal(a, i);
	}
	assert_int_equal(rps_algo_parse("dc-asgd", &a), -EINVAL);
	assert_int_equal(rps_algo_parse(NULL, &a), -EINVAL);
	assert_null(rps_algo_name(0));
	assert_null(rps_algo_name(RPS_ALGO_MAX_));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_roundtrip_and_layout),
		cmocka_unit_test(test_hello_rejects_each_field),
		cmocka_unit_test(test_welcome_roundtrip),
		cmocka_unit_test(test_welcome_rejects_each_field),
		cmocka_unit_test(test_bye),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_refuse),
		cmocka_unit_test(test_imm_encoding),
		cmocka_unit_test(test_algo_names),
	};
	return cmocka_run_group_tests_name("wire protocol", tests, NULL, NULL);
}
