/* SPDX-License-Identifier: BSD-2-Clause */
/* Encode/parse of the control-plane messages: see wire.h. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <rdmaps/errno.h>

#include "proto/wire.h"
#include "util/compiler.h"
#include "util/le.h"

int rps_wire_check_frame(const void *buf, size_t len, size_t wire_len, uint32_t magic,
			 const char **why_p)
{
	const uint8_t *b = buf;
	rcur_t c = { b };

	if (!buf || len < wire_len) {
		*why_p = "message too short";
		return -RPS_ERR_PROTO;
	}
	for (size_t i = wire_len; i < len; i++) {
		if (b[i]) {
			*why_p = "unknown trailing data";
			return -RPS_ERR_PROTO;
		}
	}
	if (get_u32(&c) != magic) {
		*why_p = "bad magic (not an rdmaps peer, or the wrong message)";
		return -RPS_ERR_PROTO;
	}
	if (get_u8(&c) != RPS_PROTO_VERSION) {
		*why_p = "unsupported protocol version";
		return -RPS_ERR_PROTO;
	}
	return 0;
}

#define REFUSE(why)                                                                                \
	do {                                                                                       \
		*why_p = (why);                                                                    \
		return -RPS_ERR_PROTO;                                                             \
	} while (0)

/* ---- algorithms ------------------------------------------------------------ */

static const char *const algo_names[RPS_ALGO_MAX_] = {
	[RPS_ALGO_SGD] = "sgd",
	[RPS_ALGO_ASGD] = "asgd",
	[RPS_ALGO_SSGD] = "ssgd",
	[RPS_ALGO_DCASGD_C] = "dc-asgd-c",
	[RPS_ALGO_DCASGD_A] = "dc-asgd-a",
	[RPS_ALGO_PCASGD] = "pc-asgd",
	[RPS_ALGO_DUDE] = "dude-asgd",
};

RPS_EXPORT const char *rps_algo_name(rps_algo_t algo)
{
	if (algo <= 0 || algo >= RPS_ALGO_MAX_)
		return NULL;
	return algo_names[algo];
}

RPS_EXPORT int rps_algo_parse(const char *name, rps_algo_t *algo_p)
{
	for (int a = 1; a < RPS_ALGO_MAX_; a++) {
		if (name && strcmp(name, algo_names[a]) == 0) {
			*algo_p = (rps_algo_t)a;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- HELLO ----------------------------------------------------------------- */

void rps_hello_encode(const rps_hello_t *h, uint8_t out[RPS_HELLO_WIRE_LEN])
{
	wcur_t c = { out };

	put_u32(&c, RPS_HELLO_MAGIC);
	put_u8(&c, RPS_PROTO_VERSION);
	put_u8(&c, 0);
	put_u16(&c, h->lane);
	put_u32(&c, h->worker_id);
	put_u32(&c, h->num_workers);
	put_u64(&c, h->model_params);
	put_u64(&c, h->doorbell_addr);
	put_u64(&c, h->doorbell_key);
	memcpy(c.p, h->auth_tag, RPS_AUTH_TAG_LEN);
}

int rps_hello_parse(const void *buf, size_t len, rps_hello_t *out, const char **why_p)
{
	rcur_t c;
	rps_hello_t h;
	int ret = rps_wire_check_frame(buf, len, RPS_HELLO_WIRE_LEN, RPS_HELLO_MAGIC, why_p);

	if (ret)
		return ret;
	/* only now: buf may be NULL (check_frame refuses it) */
	c = (rcur_t){ (const uint8_t *)buf + 5 };
	if (get_u8(&c) != 0)
		REFUSE("reserved HELLO bits set");
	h.lane = get_u16(&c);
	if (h.lane >= RPS_MAX_LANES)
		REFUSE("lane above the limit (256)");
	h.worker_id = get_u32(&c);
	h.num_workers = get_u32(&c);
	h.model_params = get_u64(&c);
	h.doorbell_addr = get_u64(&c);
	h.doorbell_key = get_u64(&c);
	memcpy(h.auth_tag, c.p, RPS_AUTH_TAG_LEN);

	if (h.num_workers > RPS_MAX_WORKERS)
		REFUSE("num_workers above the limit (4096)");
	if (h.worker_id >= RPS_MAX_WORKERS)
		REFUSE("worker_id above the limit (4096)");
	if (h.num_workers && h.worker_id >= h.num_workers)
		REFUSE("worker_id >= num_workers");
	if (h.model_params > RPS_MAX_PARAMS)
		REFUSE("model_params above the limit (2^36)");
	if (h.doorbell_addr & 7)
		REFUSE("doorbell address not 8-byte aligned");
	*out = h;
	return 0;
}

/* ---- WELCOME --------------------------------------------------------------- */

static void put_region(wcur_t *c, const rps_wire_region_t *r)
{
	put_u64(c, r->addr);
	put_u64(c, r->key);
	put_u64(c, r->len);
}

static void get_region(rcur_t *c, rps_wire_region_t *r)
{
	r->addr = get_u64(c);
	r->key = get_u64(c);
	r->len = get_u64(c);
}

void rps_welcome_encode(const rps_welcome_t *w, uint8_t out[RPS_WELCOME_WIRE_LEN])
{
	wcur_t c = { out };

	memset(out, 0, RPS_WELCOME_WIRE_LEN);
	put_u32(&c, RPS_WELCOME_MAGIC);
	put_u8(&c, RPS_PROTO_VERSION);
	put_u8(&c, (uint8_t)w->algo);
	put_u16(&c, 0);
	put_u32(&c, w->worker_id);
	put_u32(&c, w->num_workers);
	put_u64(&c, w->shard_params);
	put_u64(&c, w->shard_offset);
	put_u32(&c, w->chunk_bytes);
	put_u32(&c, w->num_chunks);
	put_u32(&c, w->grad_slots);
	put_u32(&c, w->max_staleness);
	put_region(&c, &w->grad);
	put_region(&c, &w->snap);
	put_f32(&c, w->lr);
	put_f32(&c, w->lambda);
	put_f32(&c, w->ms_decay);
	put_f32(&c, w->theta);
	put_u64(&c, w->step);
	put_u32(&c, w->lanes);
	put_u32(&c, w->worker_pushes);
}

/* The layout must be self-consistent: a worker trusts these numbers to
 * size its RDMA operations, so an inconsistent one could make it write
 * past its slot (the server's NIC would refuse, but the worker would be
 * dead in the water). */
static const char *welcome_check_layout(const rps_welcome_t *w)
{
	uint64_t bytes = w->shard_params * sizeof(float);

	if (!w->num_workers || w->num_workers > RPS_MAX_WORKERS)
		return "num_workers out of range 1..4096";
	if (w->worker_id >= w->num_workers)
		return "worker_id >= num_workers";
	if (!w->shard_params || w->shard_params > RPS_MAX_PARAMS)
		return "shard_params out of range 1..2^36";
	if (w->shard_offset > RPS_MAX_PARAMS * 64)
		return "shard_offset out of range";
	if (w->chunk_bytes < RPS_MIN_CHUNK_BYTES || w->chunk_bytes > RPS_MAX_CHUNK_BYTES ||
	    w->chunk_bytes % sizeof(float))
		return "chunk_bytes out of range 4 KiB..64 MiB or not a multiple of 4";
	if (w->num_chunks != (bytes + w->chunk_bytes - 1) / w->chunk_bytes)
		return "num_chunks does not match shard_params and chunk_bytes";
	if (w->num_chunks > RPS_IMM_VALUE_MAX)
		return "too many chunks for the immediate encoding";
	if (!w->lanes || w->lanes > RPS_MAX_LANES)
		return "lanes out of range 1..256";
	if (w->grad_slots != 1 && w->grad_slots != 2)
		return "grad_slots is neither 1 nor 2";
	if (w->grad.len != bytes * w->grad_slots)
		return "gradient region length does not match the layout";
	if (w->snap.len != bytes)
		return "snapshot region length does not match the layout";
	if (w->grad.addr > UINT64_MAX - w->grad.len || w->snap.addr > UINT64_MAX - w->snap.len)
		return "region address + length overflows";
	return NULL;
}

static const char *welcome_check_hparams(const rps_welcome_t *w)
{
	if (!isfinite(w->lr) || w->lr <= 0.0f)
		return "learning rate not finite and > 0";
	if (!isfinite(w->lambda) || w->lambda < 0.0f)
		return "lambda not finite and >= 0";
	if (!(w->ms_decay >= 0.0f && w->ms_decay < 1.0f))
		return "mean-square decay not in [0,1)";
	if (!(w->theta >= 0.0f && w->theta <= 1.0f))
		return "theta not in [0,1]";
	return NULL;
}

int rps_welcome_parse(const void *buf, size_t len, rps_welcome_t *out, const char **why_p)
{
	rcur_t c;
	rps_welcome_t w;
	const char *why;
	int ret = rps_wire_check_frame(buf, len, RPS_WELCOME_WIRE_LEN, RPS_WELCOME_MAGIC, why_p);

	if (ret)
		return ret;
	/* only now: buf may be NULL (check_frame refuses it) */
	c = (rcur_t){ (const uint8_t *)buf + 5 };
	w.algo = (rps_algo_t)get_u8(&c);
	if (!rps_algo_name(w.algo))
		REFUSE("unknown algorithm");
	if (get_u16(&c) != 0)
		REFUSE("reserved WELCOME bits set");
	w.worker_id = get_u32(&c);
	w.num_workers = get_u32(&c);
	w.shard_params = get_u64(&c);
	w.shard_offset = get_u64(&c);
	w.chunk_bytes = get_u32(&c);
	w.num_chunks = get_u32(&c);
	w.grad_slots = get_u32(&c);
	w.max_staleness = get_u32(&c);
	get_region(&c, &w.grad);
	get_region(&c, &w.snap);
	w.lr = get_f32(&c);
	w.lambda = get_f32(&c);
	w.ms_decay = get_f32(&c);
	w.theta = get_f32(&c);
	w.step = get_u64(&c);
	w.lanes = get_u32(&c);
	w.worker_pushes = get_u32(&c);
	for (const uint8_t *p = c.p; p < (const uint8_t *)buf + RPS_WELCOME_WIRE_LEN; p++)
		if (*p)
			REFUSE("reserved WELCOME bytes set");
	if ((why = welcome_check_layout(&w)) || (why = welcome_check_hparams(&w)))
		REFUSE(why);
	*out = w;
	return 0;
}

/* ---- BYE ------------------------------------------------------------------- */

void rps_bye_encode(const rps_bye_t *b, uint8_t out[RPS_BYE_WIRE_LEN])
{
	wcur_t c = { out };

	put_u32(&c, RPS_BYE_MAGIC);
	put_u8(&c, RPS_PROTO_VERSION);
	put_u8(&c, (uint8_t)b->reason);
	put_u16(&c, 0);
	put_u32(&c, b->worker_id);
	put_u32(&c, b->step);
}

void rps_options_encode(const rps_options_t *o, uint8_t out[RPS_OPTIONS_WIRE_LEN])
{
	wcur_t c = { out };

	put_u32(&c, RPS_OPTIONS_MAGIC);
	put_u8(&c, RPS_PROTO_VERSION);
	put_u8(&c, 0);
	put_u16(&c, 0);
	put_u32(&c, o->flags);
}

int rps_options_parse(const void *buf, size_t len, rps_options_t *out, const char **why_p)
{
	rcur_t c;
	rps_options_t o;
	int ret = rps_wire_check_frame(buf, len, RPS_OPTIONS_WIRE_LEN, RPS_OPTIONS_MAGIC, why_p);

	if (ret)
		return ret;
	/* only now: buf may be NULL (check_frame refuses it) */
	c = (rcur_t){ (const uint8_t *)buf + 5 };
	if (get_u8(&c) != 0 || get_u16(&c) != 0)
		REFUSE("reserved OPTIONS bits set");
	o.flags = get_u32(&c);
	if (o.flags & ~RPS_OPT_KNOWN)
		REFUSE("unknown OPTIONS flags");
	*out = o;
	return 0;
}

int rps_bye_parse(const void *buf, size_t len, rps_bye_t *out, const char **why_p)
{
	rcur_t c;
	rps_bye_t b;
	int ret = rps_wire_check_frame(buf, len, RPS_BYE_WIRE_LEN, RPS_BYE_MAGIC, why_p);

	if (ret)
		return ret;
	/* only now: buf may be NULL (check_frame refuses it) */
	c = (rcur_t){ (const uint8_t *)buf + 5 };
	b.reason = (rps_bye_reason_t)get_u8(&c);
	if (b.reason >= RPS_BYE_REASON_MAX_)
		REFUSE("unknown BYE reason");
	if (get_u16(&c) != 0)
		REFUSE("reserved BYE bits set");
	b.worker_id = get_u32(&c);
	if (b.worker_id >= RPS_MAX_WORKERS)
		REFUSE("worker_id above the limit (4096)");
	b.step = get_u32(&c);
	*out = b;
	return 0;
}
