/* SPDX-License-Identifier: BSD-2-Clause */
/* Threads of the progress engines (the ring's, pc-asgd's graph's). */
#ifndef RPS_UTIL_THREAD_H
#define RPS_UTIL_THREAD_H

#include <pthread.h>

/* pthread_create, pinned to cpu from its first instruction (no early run
 * on a busy core) unless cpu < 0.  0 or a negative errno. */
int rps_thread_start_pinned(pthread_t *thread, int cpu, void *(*fn)(void *), void *arg);

#endif /* RPS_UTIL_THREAD_H */
