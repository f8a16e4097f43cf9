/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The wire messages of the perftest tools: the client's hello (connect
 * private data), the server's welcome (accept private data) and the
 * control messages (SENDs).  Fixed-size, little-endian, versioned; each
 * parser range-checks every field, so a peer of another program or
 * version is told apart from a bug.
 *
 *   hello    magic u32, version u8, verb u8, test u8, flags u8,
 *            qp_index u16, nqps u16, session u32, duration u32,
 *            size u32, iters u32, 4 zero bytes, addr u64, key u64
 *                                                               48 bytes
 *            (rdma_cm carries at most 52 bytes of connect data)
 *   welcome  magic u32, version u8, 3 zero bytes, slot u64, addr u64,
 *            key u64, len u64                                   40 bytes
 *   msg      magic u32, version u8, type u8, 2 zero bytes, seq u32,
 *            4 zero bytes, size u64, iters u64, peak f64, avg f64,
 *            rate f64 (IEEE 754 bit patterns)                   56 bytes
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "perftest.h"

#define PT_MAGIC      0x54505052u /* "RPPT" */
#define PT_FLAG_BIDIR 0x01u
#define PT_FLAG_ALL   0x02u

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static void putf64(uint8_t *p, double d)
{
	uint64_t v;

	memcpy(&v, &d, sizeof(v));
	put64(p, v);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static double getf64(const uint8_t *p)
{
	uint64_t v = get64(p);
	double d;

	memcpy(&d, &v, sizeof(d));
	return d;
}

/* magic and version of every message */
static bool head_ok(const uint8_t *p, size_t len, size_t want)
{
	return len == want && get32(p) == PT_MAGIC && p[4] == PT_WIRE_VERSION;
}

size_t pt_hello_pack(const pt_hello_t *h, uint8_t out[PT_HELLO_LEN])
{
	memset(out, 0, PT_HELLO_LEN);
	put32(out, PT_MAGIC);
	out[4] = PT_WIRE_VERSION;
	out[5] = h->verb;
	out[6] = h->test;
	out[7] = (uint8_t)((h->bidir ? PT_FLAG_BIDIR : 0) | (h->all ? PT_FLAG_ALL : 0));
	put16(out + 8, h->qp_index);
	put16(out + 10, h->nqps);
	put32(out + 12, h->session);
	put32(out + 16, h->duration);
	put32(out + 20, h->size);
	put32(out + 24, h->iters);
	put64(out + 32, h->addr);
	put64(out + 40, h->key);
	return PT_HELLO_LEN;
}

int pt_hello_parse(const void *raw, size_t len, pt_hello_t *h_p)
{
	const uint8_t *p = raw;
	pt_hello_t h;

	if (!raw || !head_ok(p, len, PT_HELLO_LEN) || p[5] > PT_READ || p[6] > PT_LAT ||
	    (p[7] & ~(PT_FLAG_BIDIR | PT_FLAG_ALL)) || get32(p + 28))
		return -RPS_ERR_PROTO;
	h = (pt_hello_t){
		.verb = p[5],
		.test = p[6],
		.bidir = p[7] & PT_FLAG_BIDIR,
		.all = p[7] & PT_FLAG_ALL,
		.qp_index = get16(p + 8),
		.nqps = get16(p + 10),
		.session = get32(p + 12),
		.duration = get32(p + 16),
		.size = get32(p + 20),
		.iters = get32(p + 24),
		.addr = get64(p + 32),
		.key = get64(p + 40),
	};
	if (h.nqps < 1 || h.nqps > PT_MAX_QPS || h.qp_index >= h.nqps || h.duration > 86400 ||
	    h.size < 1 || h.size > PT_MAX_SIZE || h.iters < PT_MIN_ITERS || h.iters > PT_MAX_ITERS)
		return -RPS_ERR_PROTO;
	*h_p = h;
	return 0;
}

size_t pt_welcome_pack(const pt_welcome_t *w, uint8_t out[PT_WELCOME_LEN])
{
	memset(out, 0, PT_WELCOME_LEN);
	put32(out, PT_MAGIC);
	out[4] = PT_WIRE_VERSION;
	put64(out + 8, w->slot);
	put64(out + 16, w->remote.addr);
	put64(out + 24, w->remote.key);
	put64(out + 32, w->remote.len);
	return PT_WELCOME_LEN;
}

int pt_welcome_parse(const void *raw, size_t len, pt_welcome_t *w_p)
{
	const uint8_t *p = raw;
	pt_welcome_t w;

	if (!raw || !head_ok(p, len, PT_WELCOME_LEN) || p[5] || p[6] || p[7])
		return -RPS_ERR_PROTO;
	w.slot = get64(p + 8);
	w.remote = (rps_remote_t){ get64(p + 16), get64(p + 24), get64(p + 32) };
	/* one QP's send and receive areas at least */
	if (w.slot < 1 || w.slot > PT_MAX_SIZE || w.remote.len < 2 * w.slot)
		return -RPS_ERR_PROTO;
	*w_p = w;
	return 0;
}

size_t pt_msg_pack(const pt_msg_t *m, uint8_t out[PT_MSG_LEN])
{
	memset(out, 0, PT_MSG_LEN);
	put32(out, PT_MAGIC);
	out[4] = PT_WIRE_VERSION;
	out[5] = (uint8_t)m->type;
	put32(out + 8, m->seq);
	put64(out + 16, m->report.size);
	put64(out + 24, m->report.iters);
	putf64(out + 32, m->report.peak_bps);
	putf64(out + 40, m->report.avg_bps);
	putf64(out + 48, m->report.msg_rate);
	return PT_MSG_LEN;
}

static bool rate_ok(double d)
{
	return isfinite(d) && d >= 0;
}

int pt_msg_parse(const void *raw, size_t len, pt_msg_t *m_p)
{
	const uint8_t *p = raw;
	pt_msg_t m;

	if (!raw || !head_ok(p, len, PT_MSG_LEN) || p[5] < PT_MSG_SYNC ||
	    p[5] >= PT_MSG_TYPE_MAX_ || p[6] || p[7] || get32(p + 12))
		return -RPS_ERR_PROTO;
	m = (pt_msg_t){
		.type = p[5],
		.seq = get32(p + 8),
		.report = { get64(p + 16), get64(p + 24), getf64(p + 32), getf64(p + 40),
			    getf64(p + 48) },
	};
	if (m.report.size > PT_MAX_SIZE || !rate_ok(m.report.peak_bps) ||
	    !rate_ok(m.report.avg_bps) || !rate_ok(m.report.msg_rate))
		return -RPS_ERR_PROTO;
	*m_p = m;
	return 0;
}
