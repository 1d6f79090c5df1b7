/*
 * pool.c -- a team of threads for data-parallel steps (layer 1).
 *
 * A training step hands the team some twenty short jobs (a matrix product,
 * an activation, the optimiser), each a fraction of a millisecond.  Waking
 * a sleeping thread through the kernel costs tens of microseconds, so the
 * team spins between jobs: a call publishes its job by bumping a generation
 * counter, workers that are spinning see it within a few hundred
 * nanoseconds, and the caller spins until every worker has reported done
 * (docs/PERFORMANCE.md has the measurement that decided it).  A thread that
 * has spun for SPIN_NS without work goes to sleep on a condition variable,
 * so an idle team costs nothing, and a spinning thread yields its core
 * every few hundred polls.  A team larger than the CPUs the process may use
 * does not spin at all: a spinner would hold the core the thread it waits
 * for needs; the caller wakes sleepers only when there
 * are some.  The two handshakes (caller/sleeping workers, worker/sleeping
 * caller) are Dekker pairs on sequentially consistent atomics: each side
 * writes its flag, then reads the other's, so one of them always sees the
 * other and no wake-up is lost.
 *
 * fork() copies only the calling thread: in a child the team's workers do
 * not exist (and its mutex may be copied locked).  A pthread_atfork handler
 * counts the forks; a team made before the last one runs every tid's share
 * on the caller, one after another (the results do not depend on which
 * thread runs a share), and is freed without joining anyone.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include "pool.h"

#include "base.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* How long an idle thread spins before it sleeps: longer than the gaps
 * between the jobs of one step, short enough that an idle team is asleep
 * at once for a human. */
#define SPIN_NS 2000000L

struct cemi_pool {
    int n;
    unsigned long forks; /* the fork count when the team started */
    long spin_ns; /* SPIN_NS, or 0 when the team outnumbers the cores */
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    atomic_ulong generation; /* incremented by each call */
    atomic_int pending;      /* workers still running the current call */
    atomic_int sleepers;     /* workers asleep (or about to be) on wake */
    atomic_int caller_asleep;
    atomic_int stop;
    cemi_pool_fn fn; /* the current call's job, written before generation */
    void *arg;
};

typedef struct {
    cemi_pool *p;
    int tid;
} worker_arg;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static long elapsed_ns(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

/* Spins until done(p, ctx) holds or SPIN_NS pass; returns whether it holds. */
static int spin_until(int (*done)(cemi_pool *, unsigned long), cemi_pool *p, unsigned long ctx)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        for (int k = 0; k < 256; k++) {
            if (done(p, ctx))
                return 1;
            cpu_relax();
        }
        if (elapsed_ns(&t0) > p->spin_ns)
            return done(p, ctx);
        sched_yield(); /* a thread waiting for a core gets it */
    }
}

static int new_call(cemi_pool *p, unsigned long seen)
{
    return atomic_load_explicit(&p->generation, memory_order_acquire) != seen ||
           atomic_load_explicit(&p->stop, memory_order_relaxed);
}

static int all_done(cemi_pool *p, unsigned long unused)
{
    (void)unused;
    return atomic_load_explicit(&p->pending, memory_order_acquire) == 0;
}

static void *worker(void *v)
{
    worker_arg *wa = v;
    cemi_pool *p = wa->p;
    const int tid = wa->tid;
    unsigned long seen = 0;
    for (;;) {
        if (!spin_until(new_call, p, seen)) {
            pthread_mutex_lock(&p->lock);
            atomic_fetch_add(&p->sleepers, 1);
            while (!new_call(p, seen))
                pthread_cond_wait(&p->wake, &p->lock);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->lock);
        }
        if (atomic_load(&p->stop))
            break;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        p->fn(p->arg, tid, p->n);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_asleep)) {
            pthread_mutex_lock(&p->lock);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->lock);
        }
    }
    return NULL;
}

/* Forks of this process so far that made it a child (the handler runs in
 * the child), and the handler's one-time registration. */
static atomic_ulong g_forks;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void count_fork(void) { atomic_fetch_add(&g_forks, 1); }
static void register_atfork(void) { pthread_atfork(NULL, NULL, count_fork); }

/* 1 when p's workers were started in this process (not lost to a fork). */
static int team_here(const cemi_pool *p) { return atomic_load(&g_forks) == p->forks; }

/* CPUs this process may run on. */
static int cpus_available(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
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
    pthread_once(&g_atfork_once, register_atfork);
    p->forks = atomic_load(&g_forks);
    p->spin_ns = n <= cpus_available() ? SPIN_NS : 0;
    p->threads = cemi_calloc((size_t)n, sizeof(pthread_t));
    if (!p->threads || pthread_mutex_init(&p->lock, NULL) != 0) {
        cemi_release(p->threads);
        cemi_release(p);
        return NULL;
    }
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->caller_asleep, 0);
    atomic_init(&p->stop, 0);
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

/* Publishes a new generation (or stop) and wakes the sleepers, if any. */
static void publish(cemi_pool *p)
{
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
    }
}

void cemi_pool_run(cemi_pool *p, cemi_pool_fn fn, void *arg)
{
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    if (!team_here(p)) { /* a forked child: the shares one after another */
        for (int tid = 0; tid < p->n; tid++)
            fn(arg, tid, p->n);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->n - 1);
    publish(p);
    fn(arg, 0, p->n);
    if (!spin_until(all_done, p, 0)) {
        pthread_mutex_lock(&p->lock);
        atomic_store(&p->caller_asleep, 1);
        while (!all_done(p, 0))
            pthread_cond_wait(&p->done, &p->lock);
        atomic_store(&p->caller_asleep, 0);
        pthread_mutex_unlock(&p->lock);
    }
}

void cemi_pool_free(cemi_pool *p)
{
    if (!p)
        return;
    if (p->n > 1 && team_here(p)) {
        atomic_store(&p->stop, 1);
        publish(p);
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
