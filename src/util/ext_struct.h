/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Extensible structs of the public API: a configuration struct whose
 * first member is `size_t size` (rps_transport_attr_t, rps_ring_attr_t,
 * rps_server_config_t, rps_worker_config_t) can grow at its end without
 * breaking callers compiled against an older header, in the way of the
 * Linux kernel's copy_struct_from_user() (openat2, clone3):
 *
 *   - the caller's init function (a static inline in the header) passes
 *     sizeof as the caller was compiled: the library writes that much;
 *   - a smaller struct (an older header) is read up to its size, and the
 *     fields it lacks keep the library's defaults;
 *   - a larger one (a newer header) is accepted only when the bytes this
 *     library does not know are zero; else -E2BIG (it asks for a feature
 *     this library lacks);
 *   - size 0 means the layout of librdmaps 1.0, so a struct filled with
 *     designated initializers, without its init function, keeps working
 *     (as a zero comp_mask means the base struct in rdma-core).
 */
#ifndef RPS_UTIL_EXT_STRUCT_H
#define RPS_UTIL_EXT_STRUCT_H

#include <stddef.h>

/* The size of T up to and including member m: a version's layout. */
#define RPS_EXT_END(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))

/* Writes the first size bytes of a struct the library knows as
 * full (full_size bytes of defaults, `size` member first), zeroing what
 * lies beyond full_size, and sets its size member to size. */
void rps_ext_struct_out(void *dst, size_t size, const void *full, size_t full_size);

/* Overlays the caller's struct src on dst (full_size bytes, holding the
 * defaults).  v1_size: the 1.0 layout (size 0); min_size: the smallest
 * size that holds every required member.  0, -EINVAL (NULL, or a size
 * below min_size) or -E2BIG, logged naming what.  dst's size member is
 * full_size afterwards. */
int rps_ext_struct_in(void *dst, size_t full_size, const void *src, size_t v1_size, size_t min_size,
		      const char *what);

#endif /* RPS_UTIL_EXT_STRUCT_H */
