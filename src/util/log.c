/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/compiler.h"
#include "util/log.h"

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static rps_log_level_t log_level = RPS_LOG_WARN;
static rps_log_cb log_handler;
static void *log_handler_arg;
static pthread_once_t log_env_once = PTHREAD_ONCE_INIT;

RPS_EXPORT int rps_log_level_parse(const char *name, rps_log_level_t *level_p)
{
	for (size_t i = 0; i < RPS_ARRAY_SIZE(level_names); i++) {
		if (name && strcmp(name, level_names[i]) == 0) {
			*level_p = (rps_log_level_t)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* The environment is read once, lazily, so a program that sets the level
 * explicitly before logging anything still wins. */
static void log_read_env(void)
{
	const char *env = getenv("RPS_LOG_LEVEL");
	rps_log_level_t level;

	if (!env)
		return;
	if (rps_log_level_parse(env, &level) == 0)
		log_level = level;
	else
		fprintf(stderr,
			"rdmaps: warn: RPS_LOG_LEVEL='%s' is not one of "
			"error|warn|info|debug; using warn\n",
			env);
}

RPS_EXPORT void rps_log_set_level(rps_log_level_t level)
{
	pthread_once(&log_env_once, log_read_env);
	if (level > RPS_LOG_DEBUG)
		level = RPS_LOG_DEBUG;
	log_level = level;
}

RPS_EXPORT rps_log_level_t rps_log_get_level(void)
{
	pthread_once(&log_env_once, log_read_env);
	return log_level;
}

RPS_EXPORT void rps_log_set_handler(rps_log_cb cb, void *arg)
{
	log_handler = cb;
	log_handler_arg = arg;
}

RPS_EXPORT_PRIVATE void rps_log_msg(rps_log_level_t level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (level > rps_log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_handler) {
		log_handler(level, msg, log_handler_arg);
		return;
	}
	/* one fprintf per line so lines of concurrent threads do not mix */
	fprintf(stderr, "rdmaps: %s: %s\n", level_names[level], msg);
}
