/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The ring's control messages, carried in the connection private data:
 * HELLO (connect, left -> right) and WELCOME (accept, right -> left).
 * Fixed-size, little-endian, versioned; the parsers check length, magic
 * and version, and the caller checks the values against its own.
 */
#include "config.h"

#include <errno.h>

#include "collective/ring_priv.h"
#include "util/le.h"

#define RING_MAGIC_HELLO   0x52505348u /* "RPSH" */
#define RING_MAGIC_WELCOME 0x52505357u /* "RPSW" */
#define RING_VERSION	   1

_Static_assert(RPS_RING_HELLO_LEN <= RPS_CONNECT_DATA_MAX, "hello fits a connect");
_Static_assert(RPS_RING_WELCOME_LEN <= RPS_ACCEPT_DATA_MAX, "welcome fits an accept");

static void put_head(wcur_t *c, uint32_t magic)
{
	put_u32(c, magic);
	put_u16(c, RING_VERSION);
	put_u16(c, 0);
}

static int get_head(rcur_t *c, uint32_t magic)
{
	if (get_u32(c) != magic || get_u16(c) != RING_VERSION)
		return -RPS_ERR_PROTO;
	(void)get_u16(c);
	return 0;
}

void rps_ring_hello_pack(const rps_ring_hello_t *h, uint8_t buf[RPS_RING_HELLO_LEN])
{
	wcur_t c = { buf };

	put_head(&c, RING_MAGIC_HELLO);
	put_u32(&c, h->rank);
	put_u32(&c, h->world);
	put_u32(&c, h->window);
	put_u32(&c, h->chunk_bytes);
	put_u64(&c, h->count);
	put_u64(&c, h->ack.addr);
	put_u64(&c, h->ack.key);
}

int rps_ring_hello_parse(const void *buf, size_t len, rps_ring_hello_t *h_p)
{
	rcur_t c = { buf };
	rps_ring_hello_t h = { 0 };

	if (len != RPS_RING_HELLO_LEN || get_head(&c, RING_MAGIC_HELLO))
		return -RPS_ERR_PROTO;
	h.rank = get_u32(&c);
	h.world = get_u32(&c);
	h.window = get_u32(&c);
	h.chunk_bytes = get_u32(&c);
	h.count = get_u64(&c);
	h.ack.addr = get_u64(&c);
	h.ack.key = get_u64(&c);
	*h_p = h;
	return 0;
}

void rps_ring_welcome_pack(const rps_ring_welcome_t *w, uint8_t buf[RPS_RING_WELCOME_LEN])
{
	wcur_t c = { buf };

	put_head(&c, RING_MAGIC_WELCOME);
	put_u32(&c, w->rank);
	put_u64(&c, w->stage.addr);
	put_u64(&c, w->stage.key);
	put_u64(&c, w->stage.len);
}

int rps_ring_welcome_parse(const void *buf, size_t len, rps_ring_welcome_t *w_p)
{
	rcur_t c = { buf };
	rps_ring_welcome_t w = { 0 };

	if (len != RPS_RING_WELCOME_LEN || get_head(&c, RING_MAGIC_WELCOME))
		return -RPS_ERR_PROTO;
	w.rank = get_u32(&c);
	w.stage.addr = get_u64(&c);
	w.stage.key = get_u64(&c);
	w.stage.len = get_u64(&c);
	*w_p = w;
	return 0;
}
