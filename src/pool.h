/*
 * pool.h -- layer 1: a fixed team of threads that run one function
 * together, started once (when a trainer or sampler is planned) and reused
 * for every call, so a training or sampling step creates no thread and
 * allocates nothing.
 */
#ifndef CEM_POOL_H
#define CEM_POOL_H

#include <stddef.h>

typedef struct cemi_pool cemi_pool;

/* The work of one call: fn(arg, tid, n) runs once on each of the n threads
 * (tid 0 is the calling thread). */
typedef void (*cemi_pool_fn)(void *arg, int tid, int n);

/* A team of n threads (n - 1 workers plus the caller); n >= 1.  Returns
 * NULL when out of memory or when threads cannot be created. */
cemi_pool *cemi_pool_create(int n);

/* Threads in the team (1 for NULL). */
int cemi_pool_size(const cemi_pool *p);

/* Runs fn on every thread of the team and returns when all have finished.
 * A NULL pool runs fn(arg, 0, 1) on the caller.  Not reentrant: one call at
 * a time per pool. */
void cemi_pool_run(cemi_pool *p, cemi_pool_fn fn, void *arg);

/* Stops and joins the workers.  Accepts NULL. */
void cemi_pool_free(cemi_pool *p);

/* The rows [lo, hi) of thread tid out of n for a range of `rows` rows, in
 * contiguous chunks aligned to `align`. */
void cemi_pool_split(int rows, int align, int tid, int n, int *lo, int *hi);

/* The same for a range of `count` elements (size_t). */
void cemi_pool_split_n(size_t count, size_t align, int tid, int n, size_t *lo, size_t *hi);

#endif /* CEM_POOL_H */
