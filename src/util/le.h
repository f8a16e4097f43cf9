/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Little-endian cursors for the formats rdmaps writes byte by byte: the
 * control-plane messages (proto/wire.c; the shm offer and answer of
 * transport/ofi/ofi_shm.c) and checkpoint files
 * (ps/checkpoint.c).  Byte by byte on purpose: the encoding is fixed
 * whatever the host's endianness and alignment.  Callers check lengths
 * before reading or writing; the cursors do not.
 */
#ifndef RPS_UTIL_LE_H
#define RPS_UTIL_LE_H

#include <stdint.h>
#include <string.h>

typedef struct wcur {
	uint8_t *p;
} wcur_t;

typedef struct rcur {
	const uint8_t *p;
} rcur_t;

static inline void put_u8(wcur_t *c, uint8_t v)
{
	*c->p++ = v;
}

static inline void put_u16(wcur_t *c, uint16_t v)
{
	put_u8(c, (uint8_t)v);
	put_u8(c, (uint8_t)(v >> 8));
}

static inline void put_u32(wcur_t *c, uint32_t v)
{
	put_u16(c, (uint16_t)v);
	put_u16(c, (uint16_t)(v >> 16));
}

static inline void put_u64(wcur_t *c, uint64_t v)
{
	put_u32(c, (uint32_t)v);
	put_u32(c, (uint32_t)(v >> 32));
}

/* n raw bytes (a magic string, a name): no byte order to fix */
static inline void put_bytes(wcur_t *c, const void *src, size_t n)
{
	memcpy(c->p, src, n);
	c->p += n;
}

/* the bits, not the value: a NaN keeps its payload */
static inline void put_f32(wcur_t *c, float f)
{
	uint32_t v;

	memcpy(&v, &f, sizeof(v));
	put_u32(c, v);
}

static inline uint8_t get_u8(rcur_t *c)
{
	return *c->p++;
}

static inline uint16_t get_u16(rcur_t *c)
{
	uint16_t lo = get_u8(c);

	return (uint16_t)(lo | (uint16_t)get_u8(c) << 8);
}

static inline uint32_t get_u32(rcur_t *c)
{
	uint32_t lo = get_u16(c);

	return lo | (uint32_t)get_u16(c) << 16;
}

static inline uint64_t get_u64(rcur_t *c)
{
	uint64_t lo = get_u32(c);

	return lo | (uint64_t)get_u32(c) << 32;
}

static inline float get_f32(rcur_t *c)
{
	uint32_t v = get_u32(c);
	float f;

	memcpy(&f, &v, sizeof(f));
	return f;
}

#endif /* RPS_UTIL_LE_H */
