/* SPDX-License-Identifier: BSD-2-Clause */
/* Encode/parse/describe of the REFUSE message: see refuse.h. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rdmaps/errno.h>

#include "proto/refuse.h"
#include "proto/wire.h"
#include "util/le.h"

void rps_refuse_encode(const rps_refuse_t *r, uint8_t out[RPS_REFUSE_WIRE_LEN])
{
	wcur_t c = { out };

	put_u32(&c, RPS_REFUSE_MAGIC);
	put_u8(&c, RPS_PROTO_VERSION);
	put_u8(&c, (uint8_t)r->reason);
	put_u16(&c, r->lane);
	put_u32(&c, r->worker_id);
	put_u32(&c, 0);
	put_u64(&c, r->expected);
	put_u64(&c, r->got);
}

int rps_refuse_parse(const void *buf, size_t len, rps_refuse_t *out, const char **why_p)
{
	rcur_t c;
	rps_refuse_t r;
	int ret = rps_wire_check_frame(buf, len, RPS_REFUSE_WIRE_LEN, RPS_REFUSE_MAGIC, why_p);

	if (ret)
		return ret;
	/* only now: buf may be NULL (the frame check refuses it) */
	c = (rcur_t){ (const uint8_t *)buf + 5 };
	r.reason = (rps_refuse_reason_t)get_u8(&c);
	if (r.reason < RPS_REFUSE_HELLO || r.reason >= RPS_REFUSE_REASON_MAX_) {
		*why_p = "unknown REFUSE reason";
		return -RPS_ERR_PROTO;
	}
	r.lane = get_u16(&c);
	r.worker_id = get_u32(&c);
	if (get_u32(&c) != 0) {
		*why_p = "reserved REFUSE bits set";
		return -RPS_ERR_PROTO;
	}
	r.expected = get_u64(&c);
	r.got = get_u64(&c);
	*out = r;
	return 0;
}

char *rps_refuse_describe(const rps_refuse_t *r, char *buf, size_t len)
{
	const uint64_t e = r->expected, g = r->got;

	switch (r->reason) {
	case RPS_REFUSE_HELLO:
		snprintf(buf, len, "its HELLO was malformed (a different rdmaps version?)");
		break;
	case RPS_REFUSE_AUTH:
		snprintf(buf, len, "wrong or missing auth token (--auth-token-file)");
		break;
	case RPS_REFUSE_WORKER_ID:
		snprintf(buf, len,
			 "rank %" PRIu64 " is beyond the %" PRIu64 " workers the server lays out "
			 "(rdma-ps --workers)",
			 g, e);
		break;
	case RPS_REFUSE_WORLD:
		snprintf(buf, len,
			 "the world size differs: this worker says %" PRIu64
			 ", the server has %" PRIu64 " workers",
			 g, e);
		break;
	case RPS_REFUSE_MODEL_SIZE:
		snprintf(buf, len,
			 "the model size differs: this worker trains %" PRIu64
			 " parameters, the server holds %" PRIu64
			 " (same --model, --features, --classes and --shard?)",
			 g, e);
		break;
	case RPS_REFUSE_LANE:
		snprintf(buf, len,
			 "lane %" PRIu64 " is beyond the server's %" PRIu64 " engine threads", g,
			 e);
		break;
	case RPS_REFUSE_CONNECTED:
		snprintf(buf, len,
			 "worker %u is already connected (lane %u): another process with the "
			 "same rank, or its previous run not yet seen gone",
			 r->worker_id, r->lane);
		break;
	case RPS_REFUSE_CLOSING:
		snprintf(buf, len,
			 "worker %u's previous connection is still closing: retry in a moment",
			 r->worker_id);
		break;
	case RPS_REFUSE_LANE0_FIRST:
		snprintf(buf, len, "lane %u came before lane 0", r->lane);
		break;
	case RPS_REFUSE_DOORBELL:
		snprintf(buf, len, "lane %u named another doorbell than lane 0", r->lane);
		break;
	default:
		snprintf(buf, len, "reason %d", (int)r->reason);
		break;
	}
	return buf;
}

int rps_refuse_transient(rps_refuse_reason_t reason)
{
	return reason == RPS_REFUSE_CONNECTED || reason == RPS_REFUSE_CLOSING;
}
