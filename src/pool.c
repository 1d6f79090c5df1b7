/*
 * pool.c -- a team of threads for data-parallel steps (layer 1).
 *
 * Workers sleep on a condition variable and wake for each call (a
 * generation counter tells a new call from a spurious wake-up); the caller
 * takes part as thread 0 and then waits for the workers to report done.
 */
#include "pool.h"

#include "base.h"

#include <pthread.h>

struct cemi_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    unsigned long generation; /* incremented by each call */
    int pending;              /* workers still running the current call */
    int stop;
    cemi_pool_fn fn;
    void *arg;
};

typedef struct {
    cemi_pool *p;
    int tid;
} worker_arg;

static void *worker(void *v)
{
    worker_arg *wa = v;
    cemi_pool *p = wa->p;
    const int tid = wa->tid;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop)
            break;
        seen = p->generation;
        cemi_pool_fn fn = p->fn;
        void *arg = p->arg;
        pthread_mutex_unlock(&p->lock);
        fn(arg, tid, p->n);
        pthread_mutex_lock(&p->lock);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The worker arguments live after the pool in the same allocation. */
cemi_pool *cemi_pool_create(int n)
{
    if (n < 1)
        return NULL;
    cemi_pool *p = cemi_calloc(1, sizeof *p + sizeof(worker_arg) * (size_t)n);
    if (!p)
        return NULL;
    p->n = n;
    if (n == 1)
        return p;
    p->threads = cemi_calloc((size_t)n, sizeof(pthread_t));
    if (!p->threads || pthread_mutex_init(&p->lock, NULL) != 0) {
        cemi_release(p->threads);
        cemi_release(p);
        return NULL;
    }
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    worker_arg *wa = (worker_arg *)(p + 1);
    int started = 1;
    for (; started < n; started++) {
        wa[started] = (worker_arg){p, started};
        if (pthread_create(&p->threads[started], NULL, worker, &wa[started]) != 0)
            break;
    }
    if (started < n) { /* could not start them all: stop those that did */
        p->n = started;
        cemi_pool_free(p);
        return NULL;
    }
    return p;
}

int cemi_pool_size(const cemi_pool *p) { return p ? p->n : 1; }

void cemi_pool_run(cemi_pool *p, cemi_pool_fn fn, void *arg)
{
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->arg = arg;
    p->pending = p->n - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    fn(arg, 0, p->n);
    pthread_mutex_lock(&p->lock);
    while (p->pending > 0)
        pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void cemi_pool_free(cemi_pool *p)
{
    if (!p)
        return;
    if (p->n > 1) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
        for (int k = 1; k < p->n; k++)
            pthread_join(p->threads[k], NULL);
        pthread_cond_destroy(&p->wake);
        pthread_cond_destroy(&p->done);
        pthread_mutex_destroy(&p->lock);
    }
    cemi_release(p->threads);
    cemi_release(p);
}

void cemi_pool_split_n(size_t count, size_t align, int tid, int n, size_t *lo, size_t *hi)
{
    size_t chunks = (count + align - 1) / align, per = chunks / (size_t)n;
    size_t extra = chunks % (size_t)n, t = (size_t)tid;
    size_t c0 = t * per + (t < extra ? t : extra), c1 = c0 + per + (t < extra);
    *lo = c0 * align < count ? c0 * align : count;
    *hi = c1 * align < count ? c1 * align : count;
}

void cemi_pool_split(int rows, int align, int tid, int n, int *lo, int *hi)
{
    size_t l, h;
    cemi_pool_split_n((size_t)rows, (size_t)align, tid, n, &l, &h);
    *lo = (int)l;
    *hi = (int)h;
}
