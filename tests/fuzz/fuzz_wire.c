/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer target for the control-plane parsers (src/proto/wire.c,
 * src/proto/refuse.c): rps_hello_parse(), rps_welcome_parse(),
 * rps_bye_parse(), rps_refuse_parse() and rps_options_parse(); see
 * README.md.
 *
 * The first byte picks the message (its value mod 5: HELLO, WELCOME, BYE,
 * REFUSE, OPTIONS),
 * the rest is what arrived.  A message that parses must satisfy every
 * limit wire.h documents, and encoded again it must give back the bytes
 * it came from: each message has exactly one encoding (zero reserved
 * fields, zero trailing bytes), so a byte the parser does not check shows
 * up as a difference.  A refused message must come with a reason and
 * leave *out alone.
 *
 * Built with -DFUZZ_WIRE_MAKE_CORPUS instead, it is the program that
 * writes the seed corpus with the encoders.
 */
#define _GNU_SOURCE /* memfd_create, used by fuzz_util.h */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rdmaps/errno.h>

#include "proto/refuse.h"
#include "proto/wire.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MSG_HELLO, MSG_WELCOME, MSG_BYE, MSG_REFUSE, MSG_OPTIONS, MSG_KINDS };

/* ---- seed corpus --------------------------------------------------------- */
#ifdef FUZZ_WIRE_MAKE_CORPUS

/* selector byte, the message, then `pad` zero bytes (a newer minor
 * revision's longer message, which the parsers accept) */
static int seed(const char *dir, const char *name, uint8_t kind, const uint8_t *msg, size_t len,
		size_t pad)
{
	char path[4096];
	FILE *fp;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	if (!fp)
		return -1;
	if (fputc(kind, fp) == EOF || fwrite(msg, 1, len, fp) != len)
		ret = -1;
	for (size_t i = 0; i < pad; i++)
		if (fputc(0, fp) == EOF)
			ret = -1;
	if (fclose(fp))
		ret = -1;
	return ret;
}

static void welcome_layout(rps_welcome_t *w, uint64_t params, uint32_t chunk, uint32_t slots)
{
	w->shard_params = params;
	w->chunk_bytes = chunk;
	w->num_chunks = (uint32_t)((params * 4 + chunk - 1) / chunk);
	w->grad_slots = slots;
	w->grad.len = params * 4 * slots;
	w->snap.len = params * 4;
}

int main(int argc, char **argv)
{
	uint8_t hbuf[RPS_HELLO_WIRE_LEN], wbuf[RPS_WELCOME_WIRE_LEN], bbuf[RPS_BYE_WIRE_LEN];
	uint8_t rbuf[RPS_REFUSE_WIRE_LEN], obuf[RPS_OPTIONS_WIRE_LEN];
	rps_options_t o = { 0 };
	rps_refuse_t r = { RPS_REFUSE_AUTH, 0, 0, 0, 0 };
	rps_hello_t h = { 0 };
	rps_welcome_t w = { .algo = RPS_ALGO_SGD, .num_workers = 1, .lanes = 1, .lr = 0.1f };
	rps_bye_t b = { 0 };
	int ret = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	rps_hello_encode(&h, hbuf);
	ret |= seed(argv[1], "hello-zero", MSG_HELLO, hbuf, sizeof(hbuf), 0);
	h = (rps_hello_t){ .lane = 3,
			   .worker_id = 2,
			   .num_workers = 4,
			   .model_params = 79510,
			   .doorbell_addr = 0x7f0012345678,
			   .doorbell_key = 0x1234,
			   .auth_tag = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 } };
	rps_hello_encode(&h, hbuf);
	ret |= seed(argv[1], "hello-full", MSG_HELLO, hbuf, sizeof(hbuf), 0);
	ret |= seed(argv[1], "hello-longer", MSG_HELLO, hbuf, sizeof(hbuf), 12);

	welcome_layout(&w, 1000, 4096, 1);
	w.grad.addr = 0x10000;
	w.snap.addr = 0x20000;
	rps_welcome_encode(&w, wbuf);
	ret |= seed(argv[1], "welcome-sgd", MSG_WELCOME, wbuf, sizeof(wbuf), 0);
	w = (rps_welcome_t){ .algo = RPS_ALGO_DUDE,
			     .worker_id = 5,
			     .num_workers = 8,
			     .shard_offset = 39755,
			     .max_staleness = 4,
			     .lanes = 2,
			     .grad = { .addr = 0x7f0000000000, .key = 7 },
			     .snap = { .addr = 0x7f1000000000, .key = 8 },
			     .lr = 0.05f,
			     .lambda = 1e-4f,
			     .ms_decay = 0.9f,
			     .theta = 0.5f,
			     .step = 123456,
			     .worker_pushes = 4321 };
	welcome_layout(&w, 39755, 65536, 2);
	rps_welcome_encode(&w, wbuf);
	ret |= seed(argv[1], "welcome-dude", MSG_WELCOME, wbuf, sizeof(wbuf), 0);

	rps_bye_encode(&b, bbuf);
	ret |= seed(argv[1], "bye-done", MSG_BYE, bbuf, sizeof(bbuf), 0);
	b = (rps_bye_t){ .reason = RPS_BYE_ERROR, .worker_id = 4095, .step = 0xdeadbeef };
	rps_bye_encode(&b, bbuf);
	ret |= seed(argv[1], "bye-error", MSG_BYE, bbuf, sizeof(bbuf), 0);

	rps_refuse_encode(&r, rbuf);
	ret |= seed(argv[1], "refuse-auth", MSG_REFUSE, rbuf, sizeof(rbuf), 0);
	r = (rps_refuse_t){ RPS_REFUSE_MODEL_SIZE, 1, 3, 7850, 12730 };
	rps_refuse_encode(&r, rbuf);
	ret |= seed(argv[1], "refuse-model-size", MSG_REFUSE, rbuf, sizeof(rbuf), 8);

	rps_options_encode(&o, obuf);
	ret |= seed(argv[1], "options-none", MSG_OPTIONS, obuf, sizeof(obuf), 0);
	o.flags = RPS_OPT_CHUNK_NOTICES;
	rps_options_encode(&o, obuf);
	ret |= seed(argv[1], "options-chunk-notices", MSG_OPTIONS, obuf, sizeof(obuf), 4);
	return ret ? 1 : 0;
}

#else /* the fuzz target */

/* A parsed message encodes back to the bytes it came from; anything
 * after the wire length was zero (the parsers' rule for longer messages). */
static void check_same(const uint8_t *in, size_t len, const uint8_t *enc, size_t wire_len)
{
	CHECK(len >= wire_len && memcmp(in, enc, wire_len) == 0);
	for (size_t i = wire_len; i < len; i++)
		CHECK(in[i] == 0);
}

static void check_hello(const rps_hello_t *h)
{
	CHECK(h->lane < RPS_MAX_LANES);
	CHECK(h->num_workers <= RPS_MAX_WORKERS && h->worker_id < RPS_MAX_WORKERS);
	CHECK(!h->num_workers || h->worker_id < h->num_workers);
	CHECK(h->model_params <= RPS_MAX_PARAMS);
	CHECK(h->doorbell_addr % 8 == 0);
}

static void check_welcome(const rps_welcome_t *w)
{
	uint64_t bytes = w->shard_params * sizeof(float);

	CHECK(rps_algo_name(w->algo) != NULL);
	CHECK(w->num_workers >= 1 && w->num_workers <= RPS_MAX_WORKERS);
	CHECK(w->worker_id < w->num_workers);
	CHECK(w->shard_params >= 1 && w->shard_params <= RPS_MAX_PARAMS);
	CHECK(w->chunk_bytes >= RPS_MIN_CHUNK_BYTES && w->chunk_bytes <= RPS_MAX_CHUNK_BYTES);
	CHECK(w->chunk_bytes % sizeof(float) == 0);
	CHECK(w->num_chunks == (bytes + w->chunk_bytes - 1) / w->chunk_bytes);
	CHECK(w->num_chunks <= RPS_IMM_VALUE_MAX);
	CHECK(w->grad_slots == 1 || w->grad_slots == 2);
	CHECK(w->lanes >= 1 && w->lanes <= RPS_MAX_LANES);
	/* the worker sizes its RDMA operations from these */
	CHECK(w->grad.len == bytes * w->grad_slots && w->snap.len == bytes);
	CHECK(w->grad.addr + w->grad.len >= w->grad.addr);
	CHECK(w->snap.addr + w->snap.len >= w->snap.addr);
	CHECK(isfinite(w->lr) && w->lr > 0.0f);
	CHECK(isfinite(w->lambda) && w->lambda >= 0.0f);
	CHECK(w->ms_decay >= 0.0f && w->ms_decay < 1.0f);
	CHECK(w->theta >= 0.0f && w->theta <= 1.0f);
}

static void check_bye(const rps_bye_t *b)
{
	CHECK((unsigned)b->reason < RPS_BYE_REASON_MAX_);
	CHECK(b->worker_id < RPS_MAX_WORKERS);
}

/* A parsed REFUSE has a known reason and describes itself within the
 * buffer it is given, however small. */
static void check_refuse(const rps_refuse_t *r)
{
	char text[160], tiny[4];

	CHECK(r->reason >= RPS_REFUSE_HELLO && r->reason < RPS_REFUSE_REASON_MAX_);
	rps_refuse_describe(r, text, sizeof(text));
	CHECK(strlen(text) < sizeof(text));
	rps_refuse_describe(r, tiny, sizeof(tiny));
	CHECK(strlen(tiny) < sizeof(tiny));
}

/* A refusal names its reason and leaves *out as it was. */
static void check_refused(int ret, const char *why, const void *out, size_t out_len)
{
	CHECK(ret == -RPS_ERR_PROTO && why && *why);
	for (size_t i = 0; i < out_len; i++)
		CHECK(((const uint8_t *)out)[i] == 0xa5);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *msg;
	size_t len;
	const char *why = NULL;
	union {
		rps_hello_t h;
		rps_welcome_t w;
		rps_bye_t b;
		rps_refuse_t r;
		rps_options_t o;
	} out;
	uint8_t enc[RPS_WELCOME_WIRE_LEN];
	int ret;

	if (size < 1)
		return 0;
	/* libFuzzer's copy of the input is exactly `size` bytes on the heap,
	 * so ASan sees any read past the message */
	msg = data + 1;
	len = size - 1;
	memset(&out, 0xa5, sizeof(out));
	switch (data[0] % MSG_KINDS) {
	case MSG_HELLO:
		ret = rps_hello_parse(msg, len, &out.h, &why);
		if (ret) {
			check_refused(ret, why, &out, sizeof(out));
			break;
		}
		check_hello(&out.h);
		rps_hello_encode(&out.h, enc);
		check_same(msg, len, enc, RPS_HELLO_WIRE_LEN);
		break;
	case MSG_WELCOME:
		ret = rps_welcome_parse(msg, len, &out.w, &why);
		if (ret) {
			check_refused(ret, why, &out, sizeof(out));
			break;
		}
		check_welcome(&out.w);
		rps_welcome_encode(&out.w, enc);
		check_same(msg, len, enc, RPS_WELCOME_WIRE_LEN);
		break;
	case MSG_REFUSE:
		ret = rps_refuse_parse(msg, len, &out.r, &why);
		if (ret) {
			check_refused(ret, why, &out, sizeof(out));
			break;
		}
		check_refuse(&out.r);
		rps_refuse_encode(&out.r, enc);
		check_same(msg, len, enc, RPS_REFUSE_WIRE_LEN);
		break;
	case MSG_OPTIONS:
		ret = rps_options_parse(msg, len, &out.o, &why);
		if (ret) {
			check_refused(ret, why, &out, sizeof(out));
			break;
		}
		CHECK((out.o.flags & ~RPS_OPT_KNOWN) == 0);
		rps_options_encode(&out.o, enc);
		check_same(msg, len, enc, RPS_OPTIONS_WIRE_LEN);
		break;
	default:
		ret = rps_bye_parse(msg, len, &out.b, &why);
		if (ret) {
			check_refused(ret, why, &out, sizeof(out));
			break;
		}
		check_bye(&out.b);
		rps_bye_encode(&out.b, enc);
		check_same(msg, len, enc, RPS_BYE_WIRE_LEN);
		break;
	}
	return 0;
}

#endif
