/*
 * tests.h -- the Check suites of libcemdiff and small shared helpers.
 * Tests link the static library, so they may use internal headers (src/).
 */
#ifndef CEM_TESTS_H
#define CEM_TESTS_H

#include <check.h>
#include <math.h>
#include <stddef.h>

#include "cemdiff.h"

Suite *suite_base(void);
Suite *suite_process(void);
Suite *suite_models(void);
Suite *suite_dataset(void);
Suite *suite_csv(void);
Suite *suite_nn(void);
Suite *suite_trainer(void);
Suite *suite_checkpoint(void);
Suite *suite_quality(void);
Suite *suite_sampler(void);
Suite *suite_metrics(void);
Suite *suite_threads(void);

/* Max over i of |a_i - b_i| / max(|b_i|, floor), a relative error that stays
 * meaningful where the reference passes through zero. */
double test_rel_err(const double *a, const double *b, size_t n, double floor);

/* A fresh path in a temporary directory made for this test process. */
const char *test_tmp_path(const char *name);

/* Allocation failures on demand.  The suite is linked with
 * -Wl,--wrap=cemi_alloc,--wrap=cemi_calloc (Makefile), so every call the
 * library makes to its own allocator comes through check_main.c first.
 * test_alloc_fail(k), k >= 1: the k-th of the next calls returns NULL (it
 * alone; k = 0 fails none); test_alloc_calls() counts the calls since the
 * last test_alloc_fail. */
void test_alloc_fail(long k);
long test_alloc_calls(void);

/* Runs nothing itself: test_stdout_begin() sends file descriptor 1 to a
 * temporary file, test_stdout_end() restores it and returns how many bytes
 * were written meanwhile (stdio flushed first), -1 if it could not tell. */
void test_stdout_begin(void);
long test_stdout_end(void);

#endif
