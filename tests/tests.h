/*
 * tests.h -- the Check suites of libcemdiff and small shared helpers.
 * Tests link the static library, so they may use internal headers (src/).
 */
#ifndef CEM_TESTS_H
#define CEM_TESTS_H

#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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
Suite *suite_flow(void);
Suite *suite_metrics(void);
Suite *suite_threads(void);
Suite *suite_faults(void);
Suite *suite_badinput(void);
Suite *suite_labels(void);
Suite *suite_impute(void);
Suite *suite_parallel(void);

/* A one-rank reduction in place, as a reduce callback (cem_reduce_fn)
 * may do: the rank's `parts` micro-batch blocks added into the first, in
 * order (zeros when it has none). */
static inline void test_sum_parts(float *grad, size_t n, double *stats, size_t m, int parts)
{
    if (parts == 0) {
        memset(grad, 0, sizeof(float) * n);
        memset(stats, 0, sizeof(double) * m);
    }
    for (int p = 1; p < parts; p++) {
        for (size_t k = 0; k < n; k++)
            grad[k] += grad[(size_t)p * n + k];
        for (size_t k = 0; k < m; k++)
            stats[k] += stats[(size_t)p * m + k];
    }
}

/* Max over i of |a_i - b_i| / max(|b_i|, floor), a relative error that stays
 * meaningful where the reference passes through zero. */
double test_rel_err(const double *a, const double *b, size_t n, double floor);

/* A fresh path in a temporary directory made for this test process. */
const char *test_tmp_path(const char *name);

/* Allocation failures on demand.  The suite is linked with --wrap
 * (Makefile, TEST_WRAP) around the library's allocator, cemi_alloc,
 * cemi_calloc and cemi_realloc, through which every allocation of the
 * library goes, and around the C library calls that allocate for it:
 * fdopen (a FILE), getline (a line buffer) and pthread_create (a thread);
 * those fail with ENOMEM (EAGAIN for the thread), as they do when memory
 * runs out.  test_alloc_fail(k), k >= 1: the k-th of the next such calls
 * fails (it alone; k = 0 fails none); test_alloc_calls() counts the calls
 * since the last test_alloc_fail, test_alloc_libc_calls() those of them
 * that were C library calls. */
void test_alloc_fail(long k);
long test_alloc_calls(void);
long test_alloc_libc_calls(void);

/* Write failures on demand, the same way: the calls of the library's write
 * path (mkstemp, fwrite, fprintf, putc, fflush, fsync, fclose, rename) are
 * wrapped; test_io_fail(k), k >= 1, makes the k-th of the next ones fail
 * with ENOSPC (fsync: EIO; fclose still releases the stream);
 * test_io_calls() counts them since the last test_io_fail, and
 * test_io_failed_call() names the call that was made to fail (NULL if
 * none).  Check's own stdio goes through the same wrappers: arm them only
 * around the library call, with no ck_assert in between. */
void test_io_fail(long k);
long test_io_calls(void);
const char *test_io_failed_call(void);

/* Runs nothing itself: test_stdout_begin() sends file descriptor 1 to a
 * temporary file, test_stdout_end() restores it and returns how many bytes
 * were written meanwhile (stdio flushed first), -1 if it could not tell. */
/* One-thread trainer (batch, seed 5) and sampler (steps, seed 7) on m, for
 * the suites that compare a handle with its untouched twin. */
cem_trainer_t *test_trainer_on(cem_model_t *m, const float *data, size_t n, int dim,
                               int batch);
cem_sampler_t *test_sampler_on(cem_model_t *m, int steps);

void test_stdout_begin(void);
long test_stdout_end(void);


/* A byte string the handle-fingerprint helpers of test_faults.c and
 * test_badinput.c append a handle's observable state to, so that a handle
 * and its untouched twin can be compared with memcmp. */
typedef struct {
    unsigned char *p;
    size_t n;
} blob;

static inline void put(blob *b, const void *v, size_t n)
{
    b->p = realloc(b->p, b->n + n);
    ck_assert_ptr_nonnull(b->p);
    memcpy(b->p + b->n, v, n);
    b->n += n;
}

static inline void put_i(blob *b, int v) { put(b, &v, sizeof v); }
static inline void put_d(blob *b, double v) { put(b, &v, sizeof v); }

#endif
