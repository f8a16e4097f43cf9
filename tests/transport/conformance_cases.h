/* SPDX-License-Identifier: BSD-2-Clause */
/* Groups of conformance cases kept in files of their own, run by the
 * provider's conformance binary after the main group. */
#ifndef RPS_TEST_CONFORMANCE_CASES_H
#define RPS_TEST_CONFORMANCE_CASES_H

#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

/* conformance_progress.c: rps_cq_progress, pending completions, reject
 * data */
extern const struct CMUnitTest conformance_progress_tests[];
extern const size_t conformance_progress_ntests;

#endif /* RPS_TEST_CONFORMANCE_CASES_H */
