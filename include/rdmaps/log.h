/* SPDX-License-Identifier: BSD-2-Clause */
/* rdmaps logging controls.  See librdmaps(3). */
#ifndef RDMAPS_LOG_H
#define RDMAPS_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rps_log_level {
	RPS_LOG_ERROR = 0,
	RPS_LOG_WARN = 1,
	RPS_LOG_INFO = 2,
	RPS_LOG_DEBUG = 3,
} rps_log_level_t;

/* Receives every log line at or below the current level (no newline). */
typedef void (*rps_log_cb)(rps_log_level_t level, const char *msg, void *arg);

/* Sets the level; the default is RPS_LOG_WARN, or $RPS_LOG_LEVEL
 * (error|warn|info|debug) when set. */
void rps_log_set_level(rps_log_level_t level);
rps_log_level_t rps_log_get_level(void);
/* Parses "error|warn|info|debug"; returns 0 or -EINVAL. */
int rps_log_level_parse(const char *name, rps_log_level_t *level_p);
/* Routes log lines to cb (NULL restores the default: stderr, prefixed
 * "rdmaps: <level>: "). */
void rps_log_set_handler(rps_log_cb cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* RDMAPS_LOG_H */
