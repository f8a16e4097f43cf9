/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Logging.  The first place that knows why something failed logs it once,
 * naming device, peer and operation; callers propagate without re-logging.
 */
#ifndef RPS_UTIL_LOG_H
#define RPS_UTIL_LOG_H

#include <rdmaps/log.h>

/* The one sink of every log line.  Its level and handler are state that
 * must exist once in a process: code outside the library (src/ml in the
 * programs) reaches it in librdmaps.so (RDMAPS_PRIVATE_1), never links
 * its own copy of log.c. */
void rps_log_msg(rps_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rps_err(...)  rps_log_msg(RPS_LOG_ERROR, __VA_ARGS__)
#define rps_warn(...) rps_log_msg(RPS_LOG_WARN, __VA_ARGS__)
#define rps_info(...) rps_log_msg(RPS_LOG_INFO, __VA_ARGS__)
#define rps_dbg(...)  rps_log_msg(RPS_LOG_DEBUG, __VA_ARGS__)

#endif /* RPS_UTIL_LOG_H */
