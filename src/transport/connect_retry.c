/* SPDX-License-Identifier: BSD-2-Clause */
/* rps_connect() retried with backoff until a deadline (connect_retry.h). */
#include "config.h"

#include <errno.h>
#include <time.h>

#include "transport/connect_retry.h"
#include "transport/transport_priv.h"
#include "util/clock.h"
#include "util/compiler.h"

#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 500

_Thread_local bool rps_connect_retrying;

RPS_EXPORT_PRIVATE bool rps_connect_retryable(int ret)
{
	/* not listening yet, or listening but busy with its own connect */
	return ret == -ECONNREFUSED || ret == -ETIMEDOUT || ret == -ECONNRESET ||
	       ret == -EHOSTUNREACH || ret == -ECONNABORTED;
}

RPS_EXPORT_PRIVATE int rps_connect_retry(rps_pd_t *pd, const char *addr, uint16_t port,
					 rps_cq_t *cq, const void *data, size_t len,
					 rps_reject_t *reject_p, uint64_t deadline_ns,
					 rps_conn_t **conn_p)
{
	int backoff = BACKOFF_MIN_MS;

	for (;;) {
		int ret, left_ms;

		rps_connect_retrying = true;
		ret = rps_connect(pd, addr, port, cq, data, len, reject_p, conn_p);
		rps_connect_retrying = false;
		if (ret == 0 || !rps_connect_retryable(ret))
			return ret;
		if ((left_ms = rps_ms_left(deadline_ns)) == 0)
			return ret;
		if (left_ms > 0 && left_ms < backoff)
			backoff = left_ms;
		nanosleep(&(struct timespec){ backoff / 1000, (long)(backoff % 1000) * 1000000L },
			  NULL);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
}
