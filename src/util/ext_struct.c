/* SPDX-License-Identifier: BSD-2-Clause */
/* Extensible structs of the public API: see ext_struct.h. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "util/ext_struct.h"
#include "util/log.h"

void rps_ext_struct_out(void *dst, size_t size, const void *full, size_t full_size)
{
	size_t n = size < full_size ? size : full_size;

	memcpy(dst, full, n);
	if (size > n)
		memset((char *)dst + n, 0, size - n);
	if (size >= sizeof(size_t))
		memcpy(dst, &size, sizeof(size_t));
}

int rps_ext_struct_in(void *dst, size_t full_size, const void *src, size_t v1_size, size_t min_size,
		      const char *what)
{
	const unsigned char *s = src;
	size_t size;

	if (!src) {
		rps_err("%s: NULL", what);
		return -EINVAL;
	}
	memcpy(&size, src, sizeof(size));
	if (size == 0)
		size = v1_size;
	if (size < min_size) {
		rps_err("%s: size %zu is below the %zu bytes of its required fields (fill it with "
			"its init function)",
			what, size, min_size);
		return -EINVAL;
	}
	for (size_t i = full_size; i < size; i++) {
		if (s[i]) {
			rps_err("%s: it sets a field at byte %zu that this librdmaps (whose %s "
				"ends "
				"at byte %zu) does not know: built against a newer librdmaps?",
				what, i, what, full_size);
			return -E2BIG;
		}
	}
	memcpy(dst, src, size < full_size ? size : full_size);
	memcpy(dst, &full_size, sizeof(full_size));
	return 0;
}
