/*
 * test_faults.c -- fault injection: every allocation of an operation made
 * to fail in turn, and every write-path call of every save made to fail in
 * turn, plus the real kernel failures a test can cause without privileges
 * (EFBIG from RLIMIT_FSIZE, EACCES from a read-only directory) and, where
 * the process may make a private mount, a real ENOSPC on a full tmpfs.
 *
 * Allocation failures (tests.h, test_alloc_fail): for each operation, the
 * allocations n it makes when nothing fails are counted, then for
 * k = 1..n the k-th fails, and the call must return CEM_ERR_NOMEM with a
 * message about memory, print nothing, set its output handles (or buffer)
 * to NULL, and leave the handles passed in as they were: their options
 * read back the same and they compute bitwise what an untouched twin,
 * built the same way, computes.  Every operation must have something to
 * fail (n >= 1), except the runs, whose contract is that they allocate
 * nothing (n = 0, asserted).
 *
 * Write failures (tests.h, test_io_fail): for each function that writes a
 * file, each call of its write path fails in turn; the call must return
 * CEM_ERR_IO with a message naming the file, the previous file must be
 * byte-identical and the directory must hold nothing else.  The one call
 * whose failure is not an error is the directory's fsync after the rename,
 * which is best effort (the file is already replaced, whole).
 *
 * Nothing here prints.  With CEM_FAULTS_REPORT set to a path, the suite
 * appends a line per operation to that file (the number of injection
 * points), from which the "Fault injection" section of docs/RELIABILITY.md was written.
 */
#define _GNU_SOURCE /* unshare, CLONE_NEWNS */
#include "tests.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { D = 2, NDATA = 64, CSV_ROWS = 40, CSV_DIM = 3 };
static float data[NDATA * D];

static void make_data(void)
{
    for (int i = 0; i < NDATA; i++) {
        double a = 6.283185307179586 * i / NDATA;
        data[2 * i] = (float)(1.5 * cos(a) + 0.2);
        data[2 * i + 1] = (float)(0.5 * sin(a) - 0.1);
    }
}

/* ------------------------------------------------------------ the counts */

/* Appends a line to $CEM_FAULTS_REPORT, if set (never to stdout). */
static void report(const char *fmt, ...)
{
    const char *path = getenv("CEM_FAULTS_REPORT");
    if (!path || !*path)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return;
    if (len > 0)
        (void)!write(fd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
    close(fd);
}

/* The injection points of each operation, as the loops found them. */
typedef struct {
    const char *op;
    long n, libc;
} count_row;
static count_row counts[128];
static int ncounts;

static void record(const char *kind, const char *op, long n, long libc)
{
    ck_assert_int_lt(ncounts, 128);
    counts[ncounts++] = (count_row){op, n, libc};
    report("%s\t%s\t%ld\t%ld\n", kind, op, n, libc);
}

/* ------------------------------------------------------------ fingerprints */

/* Everything observable about a handle, as bytes: options, parameters,
 * and what it computes.  Two handles built and used alike compare equal. */

static void same(const char *what, blob *a, blob *b)
{
    ck_assert_msg(a->n == b->n && memcmp(a->p, b->p, a->n) == 0,
                  "%s: differs from its untouched twin (%zu and %zu bytes)", what, a->n, b->n);
    free(a->p);
    free(b->p);
    a->p = b->p = NULL;
    a->n = b->n = 0;
}

static void model_print(blob *b, cem_model_t *m)
{
    const int dim = cem_model_dim(m);
    put_i(b, dim);
    put_i(b, cem_model_kind_of(m));
    for (int opt = CEM_MODEL_T_MIN; opt <= CEM_MODEL_LABEL_EMBED; opt++) {
        double v = -1;
        put_i(b, cem_model_get(m, (cem_model_option)opt, &v));
        put_d(b, v);
    }
    size_t np = cem_model_param_count(m);
    put(b, &np, sizeof np);
    if (np) {
        float *w = malloc(sizeof(float) * np);
        for (int ema = 0; ema < 2; ema++) {
            ck_assert_int_eq(cem_model_get_params(m, ema, w, np), CEM_OK);
            put(b, w, sizeof(float) * np);
        }
        free(w);
        double mean[8], sd, axes[64], asd[8];
        ck_assert_int_le(dim, 8);
        ck_assert_int_eq(cem_model_get_data_stats(m, mean, &sd), CEM_OK);
        ck_assert_int_eq(cem_model_get_data_axes(m, axes, asd), CEM_OK);
        put(b, mean, sizeof(double) * (size_t)dim);
        put_d(b, sd);
        put(b, axes, sizeof(double) * (size_t)(dim * dim));
        put(b, asd, sizeof(double) * (size_t)dim);
    }
    enum { R = 4 };
    float x[R * 8], out[R * 8];
    double t[R] = {0.01, 0.3, 1.0, 4.0};
    for (int i = 0; i < R * dim; i++)
        x[i] = (float)(0.37 * i - 0.9);
    for (int what = CEM_TARGET_CEM; what <= CEM_TARGET_SCORE; what++) {
        ck_assert_int_eq(cem_model_eval(m, (cem_target)what, R, x, t, out), CEM_OK);
        put(b, out, sizeof(float) * (size_t)(R * dim));
    }
    double classes;
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_LABELS, &classes), CEM_OK);
    if (classes > 0) { /* each class's answer (the last row: the unconditional one) */
        const int k = (int)classes, lab[R] = {0, k - 1, k / 2, CEM_LABEL_NONE};
        ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, R, x, t, lab, out), CEM_OK);
        put(b, out, sizeof(float) * (size_t)(R * dim));
    }
}

/* The reduce callback of the data-parallel operations (cem_trainer_set_reduce)
 * and what it was last given: a trainer's fingerprint holds it, so that a
 * failed call that installed or dropped a callback, or changed the rank or
 * world, shows. */
static struct {
    long calls;
    size_t n, m;
    int first, parts;
    const void *user;
} reduced;

static int reduce_user; /* the user pointer it is set with */

/* This rank's parts added in order into block 0, nothing for the other
 * ranks (as if their micro-batches were zero): deterministic, and it
 * allocates nothing. */
static int reduce_keep(float *grad, size_t n, double *stats, size_t m, int first, int parts,
                       void *user)
{
    reduced.calls++;
    reduced.n = n;
    reduced.m = m;
    reduced.first = first;
    reduced.parts = parts;
    reduced.user = user;
    test_sum_parts(grad, n, stats, m, parts);
    return 0;
}

/* A trainer's options, step count and model, then what two more steps do
 * (and what its reduce callback, if any, was given). */
static void trainer_print(blob *b, cem_trainer_t *tr)
{
    for (int opt = CEM_TRAINER_BATCH; opt <= CEM_TRAINER_ACCUMULATE; opt++) {
        double v = -1;
        put_i(b, cem_trainer_get(tr, (cem_trainer_option)opt, &v));
        put_d(b, v);
    }
    long steps = cem_trainer_steps(tr);
    put(b, &steps, sizeof steps);
    double prob[CEM_TRAINER_LAW_BINS], floor[CEM_TRAINER_LAW_BINS];
    ck_assert_int_eq(cem_trainer_law_bins(tr, prob, NULL, floor, NULL), CEM_OK);
    put(b, prob, sizeof prob);
    put(b, floor, sizeof floor);
    model_print(b, cem_trainer_model(tr));
    double loss = -1;
    memset(&reduced, 0, sizeof reduced);
    ck_assert_int_eq(cem_trainer_run(tr, 2, &loss), CEM_OK);
    put_d(b, loss);
    put(b, &reduced, sizeof reduced);
    model_print(b, cem_trainer_model(tr));
}

static int sampler_classes; /* the classes of the samplers' model (set by their setup) */

/* A sampler's options, grid, the samples of a run, of a labelled run and
 * of an imputation (the sampler's IMPUTE method). */
static void sampler_print(blob *b, cem_sampler_t *s)
{
    for (int opt = CEM_SAMPLER_INTEGRATOR; opt <= CEM_SAMPLER_RECON_WEIGHT; opt++) {
        double v = -1;
        put_i(b, cem_sampler_get(s, (cem_sampler_option)opt, &v));
        put_d(b, v);
    }
    double steps;
    ck_assert_int_eq(cem_sampler_get(s, CEM_SAMPLER_STEPS, &steps), CEM_OK);
    double *times = malloc(sizeof(double) * (size_t)steps);
    ck_assert_int_eq(cem_sampler_times(s, times), CEM_OK);
    put(b, times, sizeof(double) * (size_t)steps);
    free(times);
    float out[16 * D];
    ck_assert_int_eq(cem_sampler_run(s, 16, out), CEM_OK);
    put(b, out, sizeof out);
    size_t snaps = 0, rows = 0;
    ck_assert_int_eq(cem_sampler_trajectory(s, &snaps, &rows, NULL, NULL), CEM_OK);
    put(b, &snaps, sizeof snaps);
    put(b, &rows, sizeof rows);
    int lab[16];
    for (int i = 0; i < 16; i++)
        lab[i] = i % (sampler_classes + 1) - 1;
    ck_assert_int_eq(cem_sampler_run_labelled(s, 3, 16, lab, out), CEM_OK);
    put(b, out, sizeof out);
    float x[16 * D];
    for (int i = 0; i < 16 * D; i++)
        x[i] = i % 3 == 1 ? NAN : data[i];
    ck_assert_int_eq(cem_sampler_impute(s, 0, 16, x, NULL, NULL, out), CEM_OK);
    put(b, out, sizeof out);
}

/* ------------------------------------------------------------ the handles */

static cem_model_t *small_mlp(void)
{
    cem_model_t *m = NULL;
    ck_assert_int_eq(cem_model_create_mlp(&m, D, CEM_TARGET_CEM), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 12), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_DEPTH, 2), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_EMBED, 4), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_SEED, 3), CEM_OK);
    return m;
}

enum { NCLS = 3 };

/* The same with NCLS classes and a label table of 3 columns. */
static cem_model_t *small_labelled_mlp(void)
{
    cem_model_t *m = small_mlp();
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABEL_EMBED, 3), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABELS, NCLS), CEM_OK);
    return m;
}

/* The classes of data's rows: 0 .. NCLS-1, every fifth row unlabelled. */
static int data_labels[NDATA];

static void make_labels(void)
{
    for (int i = 0; i < NDATA; i++)
        data_labels[i] = i % 5 == 4 ? CEM_LABEL_NONE : i % NCLS;
}

static const double COV_MEAN[D] = {0.2, -0.1}, COV[D * D] = {1.1, 0.3, 0.3, 0.2};

/* The same with the data's centre and axes (CEM_PARAM_PRECOND_PCA, the
 * default), so that re-allocating the network copies the axes too. */
static cem_model_t *mlp_with_axes(void)
{
    cem_model_t *m = small_mlp();
    ck_assert_int_eq(cem_model_set_data_cov(m, COV_MEAN, COV), CEM_OK);
    return m;
}

static cem_trainer_t *small_trainer(cem_model_t *m) { return test_trainer_on(m, data, NDATA, D, 32); }

static cem_sampler_t *small_sampler(cem_model_t *m) { return test_sampler_on(m, 8); }

/* Nothing holds the model: a network-defining option can be set (to the
 * value it has, so that nothing changes). */
static void model_is_free(cem_model_t *m)
{
    double seed;
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_SEED, &seed), CEM_OK);
    ck_assert_msg(cem_model_set(m, CEM_MODEL_SEED, seed) == CEM_OK,
                  "the model is still held: %s", cem_model_errmsg(m));
}

/* ------------------------------------------------------------ files */

static char *dup_path(const char *name)
{
    const char *p = test_tmp_path(name);
    ck_assert_ptr_nonnull(p);
    return strdup(p);
}

/* A new empty directory in the test's temporary directory. */
static char *new_dir(const char *name)
{
    char *dir = dup_path(name);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    return dir;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* File I/O by system calls, so that the wrapped stdio calls (tests.h) see
 * the library's calls only. */
static unsigned char *slurp(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY);
    ck_assert_msg(fd >= 0, "cannot open %s", path);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    unsigned char *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    ssize_t r;
    while (got < (size_t)st.st_size && (r = read(fd, b + got, (size_t)st.st_size - got)) > 0)
        got += (size_t)r;
    close(fd);
    ck_assert_uint_eq(got, (size_t)st.st_size);
    *size = got;
    return b;
}

static int spill(const char *path, const void *buf, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    size_t done = 0;
    ssize_t w = 0;
    while (done < size && (w = write(fd, (const char *)buf + done, size - done)) > 0)
        done += (size_t)w;
    return close(fd) == 0 && done == size ? 0 : -1;
}

static int file_is(const char *path, const unsigned char *want, size_t size)
{
    size_t n;
    unsigned char *b = slurp(path, &n);
    int ok = n == size && memcmp(b, want, size) == 0;
    free(b);
    return ok;
}

/* The entries of dir other than . and .. are exactly the names given
 * (NULL-terminated); returns the count of others, or -1. */
static int stray_entries(const char *dir, const char *const *names)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int stray = 0, seen = 0, want = 0;
    while (names[want])
        want++;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int known = 0;
        for (int k = 0; k < want; k++)
            known |= !strcmp(e->d_name, names[k]);
        seen += known;
        stray += !known;
    }
    closedir(d);
    return seen == want ? stray : -1;
}

/* ====================================================== allocation faults */

static void *const SENTINEL = (void *)&data; /* an output the call must clear */

/* The state of one attempt: the handles an operation works on, a twin of
 * each built the same way and left alone, and the outputs. */
static struct {
    cem_model_t *m, *m2;
    cem_trainer_t *tr, *tr2;
    cem_sampler_t *s, *s2;
    cem_flow_t *fl, *fl2;
    cem_dataset_t *ds;
    cem_model_t *mout;
    cem_trainer_t *trout;
    cem_sampler_t *sout;
    cem_flow_t *flout;
    cem_dataset_t *dout;
    void *buf;
    size_t size;
    float *fdata;
    int *ldata;
    size_t n;
    int dim;
    double v[64];
    float f[600 * D];
} C;

/* Inputs made once per test: checkpoints in memory and on disk, a CSV
 * file, the files the saves replace. */
static struct {
    void *mbuf, *tbuf, *lmbuf, *ltbuf; /* l: a model of 3 classes, a labelled trainer */
    void *atbuf;                       /* a trainer with ACCUMULATE 4 */
    size_t msize, tsize, lmsize, ltsize, atsize;
    char *mpath, *tpath, *lmpath, *ltpath, *atpath, *csvpath, *lcsvpath, *mcsvpath;
    char *savedir, *save_m, *save_t, *save_csv;
    unsigned char *old_m, *old_t, *old_csv;
    size_t old_m_n, old_t_n, old_csv_n;
} IN;

typedef struct {
    const char *name;
    void (*setup)(void);   /* the handles and outputs of one attempt */
    int (*call)(void);     /* the operation */
    void (*after)(int st); /* checks, for st CEM_OK or a failure; releases everything */
    const char *errmsg_of; /* "m", "tr" or "s": the handle whose message must say it, or NULL */
    int allocates;         /* 0: the contract says it allocates nothing */
} alloc_op;

static void clear_ctx(void)
{
    memset(&C, 0, sizeof C);
    sampler_classes = 0;
    C.mout = SENTINEL;
    C.trout = SENTINEL;
    C.sout = SENTINEL;
    C.flout = SENTINEL;
    C.dout = SENTINEL;
    C.buf = SENTINEL;
    C.fdata = SENTINEL;
    C.ldata = SENTINEL;
    C.size = 99;
    C.n = 99;
    C.dim = 99;
}

static void free_ctx(void)
{
    cem_flow_free(C.fl);
    cem_flow_free(C.fl2);
    cem_sampler_free(C.s);
    cem_sampler_free(C.s2);
    cem_trainer_free(C.tr);
    cem_trainer_free(C.tr2);
    cem_model_free(C.m);
    cem_model_free(C.m2);
    cem_dataset_free(C.ds);
    memset(&C, 0, sizeof C);
}

/* The loop: count, then fail each allocation in turn. */
static void inject_allocs(const alloc_op *op)
{
    clear_ctx();
    if (op->setup)
        op->setup();
    test_stdout_begin();
    test_alloc_fail(0);
    int st = op->call();
    long n = test_alloc_calls(), libc = test_alloc_libc_calls();
    ck_assert_int_eq(test_stdout_end(), 0);
    ck_assert_msg(st == CEM_OK, "%s with no failure: status %d (%s)", op->name, st,
                  cem_last_error());
    op->after(st);
    free_ctx();
    if (op->allocates)
        ck_assert_msg(n >= 1, "%s: no allocation to fail", op->name);
    else
        ck_assert_msg(n == 0, "%s: %ld allocations where the contract says none", op->name, n);
    record("alloc", op->name, n, libc);

    for (long k = 1; k <= n; k++) {
        clear_ctx();
        if (op->setup)
            op->setup();
        test_stdout_begin();
        test_alloc_fail(k);
        st = op->call();
        long calls = test_alloc_calls();
        test_alloc_fail(0);
        ck_assert_int_eq(test_stdout_end(), 0); /* the library never prints */
        ck_assert_msg(calls >= k, "%s: only %ld allocations this time, %ld before", op->name,
                      calls, n);
        ck_assert_msg(st == CEM_ERR_NOMEM, "%s, allocation %ld of %ld failed: status %d (%s)",
                      op->name, k, n, st, cem_last_error());
        ck_assert_msg(strstr(cem_last_error(), "memory") != NULL,
                      "%s, allocation %ld: message '%s' does not say memory", op->name, k,
                      cem_last_error());
        const char *own = !op->errmsg_of                   ? NULL
                          : !strcmp(op->errmsg_of, "m")  ? cem_model_errmsg(C.m)
                          : !strcmp(op->errmsg_of, "tr") ? cem_trainer_errmsg(C.tr)
                          : !strcmp(op->errmsg_of, "fl") ? cem_flow_errmsg(C.fl)
                                                         : cem_sampler_errmsg(C.s);
        if (own)
            ck_assert_msg(strstr(own, "memory") != NULL,
                          "%s, allocation %ld: the handle's message '%s' does not say memory",
                          op->name, k, own);
        op->after(st);
        free_ctx();
    }
}

/* -------------------------------------------------------- model operations */

static void after_new_model(int st)
{
    if (st) {
        ck_assert_ptr_null(C.mout);
        return;
    }
    ck_assert_ptr_nonnull(C.mout);
    ck_assert_ptr_ne(C.mout, SENTINEL);
    cem_model_free(C.mout);
}

static int call_create_mlp(void) { return cem_model_create_mlp(&C.mout, D, CEM_TARGET_CEM); }

static int call_create_empirical(void)
{
    return cem_model_create_empirical(&C.mout, data, NDATA, D);
}

static int call_create_gaussian(void)
{
    static const float mean[3] = {0.1f, 0.2f, 0.3f};
    static const float cov[9] = {1.0f, 0.2f, 0.0f, 0.2f, 0.5f, 0.1f, 0.0f, 0.1f, 0.3f};
    return cem_model_create_gaussian(&C.mout, mean, cov, 3);
}

/* Three components in R^3, the second singular, unequal weights. */
static const float MIX_MEANS[9] = {0.1f, 0.2f, 0.3f, -1.0f, 0.5f, 0.0f, 1.0f, -1.0f, 0.5f};
static const float MIX_COVS[27] = {1.0f, 0.2f, 0.0f, 0.2f, 0.5f, 0.1f, 0.0f, 0.1f, 0.3f,
                                   0.25f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f,
                                   0.4f, 0.0f, 0.1f, 0.0f, 0.4f, 0.0f, 0.1f, 0.0f, 0.4f};

static int call_create_mixture(void)
{
    static const double w[3] = {1.0, 2.0, 0.5};
    return cem_model_create_mixture(&C.mout, 3, w, MIX_MEANS, MIX_COVS, 3);
}

static int call_create_empirical_labelled(void)
{
    static int labels[NDATA];
    for (int i = 0; i < NDATA; i++)
        labels[i] = i % 3;
    return cem_model_create_empirical_labelled(&C.mout, data, labels, NDATA, D);
}

/* A mixture and its twin, evaluated at 200 rows of labels -1, 0, 1, 2. */
static void setup_two_mixtures(void)
{
    ck_assert_int_eq(cem_model_create_mixture(&C.m, 3, NULL, MIX_MEANS, MIX_COVS, 3), CEM_OK);
    ck_assert_int_eq(cem_model_create_mixture(&C.m2, 3, NULL, MIX_MEANS, MIX_COVS, 3), CEM_OK);
}

static int call_eval_labelled(void)
{
    static double t[200];
    static int labels[200];
    for (int i = 0; i < 200; i++) {
        t[i] = 0.01 + 0.01 * i;
        labels[i] = i % 4 - 1;
        for (int j = 0; j < 3; j++)
            C.f[3 * i + j] = data[(3 * i + j) % (NDATA * D)];
    }
    return cem_model_eval_labelled(C.m, CEM_TARGET_SCORE, 200, C.f, t, labels, C.f + 600);
}

/* A loaded model is the model that was saved (compared with a fresh
 * load: the saved one's window is recorded as set). */
static void after_load_model(int st)
{
    if (st) {
        ck_assert_ptr_null(C.mout);
        return;
    }
    cem_model_t *ref;
    ck_assert_int_eq(cem_model_load_buffer(&ref, IN.mbuf, IN.msize), CEM_OK);
    blob a = {0}, b = {0};
    model_print(&a, C.mout);
    model_print(&b, ref);
    same("the loaded model", &a, &b);
    cem_model_free(ref);
    cem_model_free(C.mout);
}

static int call_load_buffer(void) { return cem_model_load_buffer(&C.mout, IN.mbuf, IN.msize); }
static int call_load_file(void) { return cem_model_load(&C.mout, IN.mpath); }

static void setup_two_models_with_axes(void)
{
    C.m = mlp_with_axes();
    C.m2 = mlp_with_axes();
}

static void setup_two_models(void)
{
    C.m = small_mlp();
    C.m2 = small_mlp();
}

/* After a setter: on failure the option reads back its old value and the
 * model computes what its twin computes. */
static void after_model_set(int opt, double old, double want, int st)
{
    double v;
    ck_assert_int_eq(cem_model_get(C.m, (cem_model_option)opt, &v), CEM_OK);
    ck_assert_double_eq(v, st ? old : want);
    if (st) {
        blob a = {0}, b = {0};
        model_print(&a, C.m);
        model_print(&b, C.m2);
        same("the model after a failed cem_model_set", &a, &b);
    }
}

static int call_set_width(void) { return cem_model_set(C.m, CEM_MODEL_WIDTH, 16); }
static void after_set_width(int st) { after_model_set(CEM_MODEL_WIDTH, 12, 16, st); }
static int call_set_depth(void) { return cem_model_set(C.m, CEM_MODEL_DEPTH, 3); }
static void after_set_depth(int st) { after_model_set(CEM_MODEL_DEPTH, 2, 3, st); }

static int call_set_data_cov(void) { return cem_model_set_data_cov(C.m, COV_MEAN, COV); }

static void after_set_data_cov(int st)
{
    double sd;
    ck_assert_int_eq(cem_model_get_data_stats(C.m, NULL, &sd), CEM_OK);
    if (!st) {
        ck_assert_double_gt(sd, 0);
        return;
    }
    ck_assert_double_eq(sd, 0);
    blob a = {0}, b = {0};
    model_print(&a, C.m);
    model_print(&b, C.m2);
    same("the model after a failed cem_model_set_data_cov", &a, &b);
}

/* 300 rows: more than the MLP's block of 256, so the packed weights are
 * allocated as well as the workspace. */
static int call_eval(void)
{
    static double t[300];
    for (int i = 0; i < 300; i++) {
        t[i] = 0.01 + 0.01 * i;
        C.f[2 * i] = data[(2 * i) % (NDATA * D)];
        C.f[2 * i + 1] = data[(2 * i + 1) % (NDATA * D)];
    }
    return cem_model_eval(C.m, CEM_TARGET_SCORE, 300, C.f, t, C.f + 300 * D);
}

static void after_eval(int st)
{
    (void)st; /* on error out may hold partial results; the model is const */
    blob a = {0}, b = {0};
    model_print(&a, C.m);
    model_print(&b, C.m2);
    same("the model after cem_model_eval", &a, &b);
}

static int call_save_buffer(void) { return cem_model_save_buffer(C.m, &C.buf, &C.size); }

static void after_save_buffer(int st)
{
    if (st) {
        ck_assert_ptr_null(C.buf);
        ck_assert_uint_eq(C.size, 0);
        return;
    }
    cem_free(C.buf);
}

/* The save into a file whose previous version must survive. */
static void after_save_file(const char *path, const unsigned char *old, size_t old_n, int st)
{
    const char *names[] = {strrchr(path, '/') + 1, NULL};
    ck_assert_int_eq(stray_entries(IN.savedir, names), 0);
    if (st) {
        ck_assert_msg(file_is(path, old, old_n), "%s changed by a failed save", path);
        return;
    }
    ck_assert_int_eq(spill(path, old, old_n), 0); /* the previous version again */
}

static int call_model_save(void) { return cem_model_save(C.m, IN.save_m); }
static void after_model_save(int st) { after_save_file(IN.save_m, IN.old_m, IN.old_m_n, st); }

static void setup_one_model_with_axes(void) { C.m = mlp_with_axes(); }

/* A model of 3 classes with the data's axes (format 4). */
static cem_model_t *labelled_mlp_with_axes(void)
{
    cem_model_t *m = small_labelled_mlp();
    ck_assert_int_eq(cem_model_set_data_cov(m, COV_MEAN, COV), CEM_OK);
    return m;
}

static void setup_one_labelled_model(void) { C.m = labelled_mlp_with_axes(); }

static void after_load_labelled_model(int st)
{
    if (st) {
        ck_assert_ptr_null(C.mout);
        return;
    }
    cem_model_t *ref;
    ck_assert_int_eq(cem_model_load_buffer(&ref, IN.lmbuf, IN.lmsize), CEM_OK);
    double classes;
    ck_assert_int_eq(cem_model_get(C.mout, CEM_MODEL_LABELS, &classes), CEM_OK);
    ck_assert_double_eq(classes, NCLS);
    blob a = {0}, b = {0};
    model_print(&a, C.mout);
    model_print(&b, ref);
    same("the loaded model of 3 classes", &a, &b);
    cem_model_free(ref);
    cem_model_free(C.mout);
}

static int call_load_labelled_buffer(void)
{
    return cem_model_load_buffer(&C.mout, IN.lmbuf, IN.lmsize);
}

static int call_load_labelled_file(void) { return cem_model_load(&C.mout, IN.lmpath); }

/* LABELS 0 -> 3: a new network with a label table, the axes copied. */
static int call_set_labels(void) { return cem_model_set(C.m, CEM_MODEL_LABELS, NCLS); }
static void after_set_labels(int st) { after_model_set(CEM_MODEL_LABELS, 0, NCLS, st); }

static void setup_two_labelled_models(void)
{
    C.m = small_labelled_mlp();
    C.m2 = small_labelled_mlp();
}

/* 300 rows of classes -1 .. 2 on an MLP of 3 classes. */
static int call_eval_labelled_mlp(void)
{
    static double t[300];
    static int labels[300];
    for (int i = 0; i < 300; i++) {
        t[i] = 0.01 + 0.01 * i;
        labels[i] = i % (NCLS + 1) - 1;
        C.f[2 * i] = data[(2 * i) % (NDATA * D)];
        C.f[2 * i + 1] = data[(2 * i + 1) % (NDATA * D)];
    }
    return cem_model_eval_labelled(C.m, CEM_TARGET_SCORE, 300, C.f, t, labels, C.f + 300 * D);
}

START_TEST(model_operations_out_of_memory)
{
    make_data();
    cem_model_t *src = mlp_with_axes();
    ck_assert_int_eq(cem_model_save_buffer(src, &IN.mbuf, &IN.msize), CEM_OK);
    IN.mpath = dup_path("faults-model.cem");
    ck_assert_int_eq(cem_model_save(src, IN.mpath), CEM_OK);
    cem_model_free(src);
    /* a model of 3 classes: format 4 */
    src = labelled_mlp_with_axes();
    ck_assert_int_eq(cem_model_save_buffer(src, &IN.lmbuf, &IN.lmsize), CEM_OK);
    ck_assert_uint_eq(((const unsigned char *)IN.lmbuf)[8], 4);
    IN.lmpath = dup_path("faults-model-labelled.cem");
    ck_assert_int_eq(cem_model_save(src, IN.lmpath), CEM_OK);
    cem_model_free(src);
    /* the file a save replaces holds another model */
    IN.savedir = new_dir("faults-model-saves");
    IN.save_m = join(IN.savedir, "m.cem");
    cem_model_t *other = small_mlp();
    ck_assert_int_eq(cem_model_set(other, CEM_MODEL_SEED, 11), CEM_OK);
    ck_assert_int_eq(cem_model_save(other, IN.save_m), CEM_OK);
    cem_model_free(other);
    IN.old_m = slurp(IN.save_m, &IN.old_m_n);

    static const alloc_op ops[] = {
        {"cem_model_create_mlp", NULL, call_create_mlp, after_new_model, NULL, 1},
        {"cem_model_create_empirical", NULL, call_create_empirical, after_new_model, NULL, 1},
        {"cem_model_create_gaussian", NULL, call_create_gaussian, after_new_model, NULL, 1},
        {"cem_model_create_empirical_labelled", NULL, call_create_empirical_labelled,
         after_new_model, NULL, 1},
        {"cem_model_create_mixture", NULL, call_create_mixture, after_new_model, NULL, 1},
        {"cem_model_load_buffer", NULL, call_load_buffer, after_load_model, NULL, 1},
        {"cem_model_load", NULL, call_load_file, after_load_model, NULL, 1},
        {"cem_model_set(WIDTH)", setup_two_models_with_axes, call_set_width, after_set_width,
         "m", 1},
        {"cem_model_set(DEPTH)", setup_two_models_with_axes, call_set_depth, after_set_depth,
         "m", 1},
        {"cem_model_set_data_cov", setup_two_models, call_set_data_cov, after_set_data_cov,
         "m", 1},
        {"cem_model_eval", setup_two_models, call_eval, after_eval, NULL, 1},
        {"cem_model_eval_labelled (mixture)", setup_two_mixtures, call_eval_labelled,
         after_eval, NULL, 1},
        {"cem_model_save_buffer", setup_one_model_with_axes, call_save_buffer,
         after_save_buffer, NULL, 1},
        {"cem_model_save", setup_one_model_with_axes, call_model_save, after_model_save, NULL,
         1},
        {"cem_model_load_buffer (3 classes: format 4)", NULL, call_load_labelled_buffer,
         after_load_labelled_model, NULL, 1},
        {"cem_model_load (3 classes: format 4)", NULL, call_load_labelled_file,
         after_load_labelled_model, NULL, 1},
        {"cem_model_set(LABELS) 0 -> 3", setup_two_models_with_axes, call_set_labels,
         after_set_labels, "m", 1},
        {"cem_model_eval_labelled (MLP of 3 classes)", setup_two_labelled_models,
         call_eval_labelled_mlp, after_eval, NULL, 1},
        {"cem_model_save_buffer (3 classes: format 4)", setup_one_labelled_model,
         call_save_buffer, after_save_buffer, NULL, 1},
        {"cem_model_save (3 classes: format 4)", setup_one_labelled_model, call_model_save,
         after_model_save, NULL, 1},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        inject_allocs(&ops[i]);
    ck_assert_int_eq(ncounts, (int)(sizeof ops / sizeof ops[0]));
    cem_free(IN.mbuf);
    cem_free(IN.lmbuf);
    unlink(IN.mpath);
    unlink(IN.lmpath);
    unlink(IN.save_m);
    rmdir(IN.savedir);
    free(IN.mpath);
    free(IN.lmpath);
    free(IN.save_m);
    free(IN.savedir);
    free(IN.old_m);
    memset(&IN, 0, sizeof IN);
}
END_TEST

/* ------------------------------------------------------ trainer operations */

/* A trainer that failed to be created leaves its model as it was: no data
 * statistics measured, the same window, and free for the next trainer. */
static int call_trainer_create(void)
{
    return cem_trainer_create(&C.trout, C.m, data, NDATA, D);
}

static void after_trainer_create(int st)
{
    if (!st) {
        ck_assert_ptr_ne(C.trout, SENTINEL);
        cem_trainer_free(C.trout);
        return;
    }
    ck_assert_ptr_null(C.trout);
    blob a = {0}, b = {0};
    model_print(&a, C.m);
    model_print(&b, C.m2);
    same("the model after a failed cem_trainer_create", &a, &b);
    model_is_free(C.m);
}

/* A loaded trainer saves back to the bytes it was loaded from. */
static void after_load_trainer(int st)
{
    if (st) {
        ck_assert_ptr_null(C.trout);
        return;
    }
    void *b;
    size_t n;
    ck_assert_int_eq(cem_trainer_save_buffer(C.trout, &b, &n), CEM_OK);
    ck_assert(n == IN.tsize && memcmp(b, IN.tbuf, n) == 0);
    cem_free(b);
    cem_trainer_free(C.trout);
}

static int call_trainer_load_buffer(void)
{
    return cem_trainer_load_buffer(&C.trout, IN.tbuf, IN.tsize, data, NDATA, D);
}

static int call_trainer_load(void)
{
    return cem_trainer_load(&C.trout, IN.tpath, data, NDATA, D);
}

static void setup_two_trainers(void)
{
    setup_two_models();
    C.tr = small_trainer(C.m);
    C.tr2 = small_trainer(C.m2);
}

/* The ADAPTIVE law measures its floors on 2048 draws per bin, a batch at a
 * time, with an evaluation (an allocation) per batch: a batch of 2048 keeps
 * that to one a bin. */
enum { FLOOR_BATCH = 2048 };

static void setup_two_trainers_for_floors(void)
{
    setup_two_trainers();
    ck_assert_int_eq(cem_trainer_set(C.tr, CEM_TRAINER_BATCH, FLOOR_BATCH), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(C.tr2, CEM_TRAINER_BATCH, FLOOR_BATCH), CEM_OK);
}

static void after_trainer_set(int opt, double old, double want, int st)
{
    double v;
    ck_assert_int_eq(cem_trainer_get(C.tr, (cem_trainer_option)opt, &v), CEM_OK);
    ck_assert_double_eq(v, st ? old : want);
    if (st) {
        blob a = {0}, b = {0};
        trainer_print(&a, C.tr);
        trainer_print(&b, C.tr2);
        same("the trainer after a failed cem_trainer_set", &a, &b);
    }
}

static int call_set_batch(void) { return cem_trainer_set(C.tr, CEM_TRAINER_BATCH, 48); }
static void after_set_batch(int st) { after_trainer_set(CEM_TRAINER_BATCH, 32, 48, st); }
static int call_set_threads(void) { return cem_trainer_set(C.tr, CEM_TRAINER_THREADS, 2); }
static void after_set_threads(int st) { after_trainer_set(CEM_TRAINER_THREADS, 1, 2, st); }

static int call_set_adaptive(void)
{
    return cem_trainer_set(C.tr, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_ADAPTIVE);
}

static void after_set_adaptive(int st)
{
    after_trainer_set(CEM_TRAINER_TIME_LAW, CEM_TIMELAW_GRID, CEM_TIMELAW_ADAPTIVE, st);
}

/* The run allocates nothing (counted: none); it is compared with its twin
 * all the same, with the first allocation armed to fail. */
static int call_run(void) { return cem_trainer_run(C.tr, 3, &C.v[0]); }

static void after_run(int st)
{
    ck_assert_int_eq(st, CEM_OK);
    ck_assert_int_eq(cem_trainer_run(C.tr2, 3, &C.v[1]), CEM_OK);
    ck_assert(memcmp(&C.v[0], &C.v[1], sizeof(double)) == 0);
    blob a = {0}, b = {0};
    trainer_print(&a, C.tr);
    trainer_print(&b, C.tr2);
    same("the trainer after cem_trainer_run", &a, &b);
}

static int call_trainer_save_buffer(void)
{
    return cem_trainer_save_buffer(C.tr, &C.buf, &C.size);
}

static int call_trainer_save(void) { return cem_trainer_save(C.tr, IN.save_t); }
static void after_trainer_save(int st) { after_save_file(IN.save_t, IN.old_t, IN.old_t_n, st); }

static void setup_one_trainer(void)
{
    C.m = small_mlp();
    C.tr = small_trainer(C.m);
}

/* Labelled training: a failed create leaves the model as it was and free. */
static int call_trainer_create_labelled(void)
{
    return cem_trainer_create_labelled(&C.trout, C.m, data, data_labels, NDATA, D);
}

/* test_trainer_on's settings (batch 32), on the labelled data. */
static cem_trainer_t *small_labelled_trainer(cem_model_t *m)
{
    cem_trainer_t *tr = NULL;
    ck_assert_int_eq(cem_trainer_create_labelled(&tr, m, data, data_labels, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_THREADS, 1), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 32), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_SEED, 5), CEM_OK);
    return tr;
}

static void setup_two_labelled_trainers(void)
{
    setup_two_labelled_models();
    C.tr = small_labelled_trainer(C.m);
    C.tr2 = small_labelled_trainer(C.m2);
}

/* A loaded labelled trainer saves back to the bytes it was loaded from. */
static void after_load_labelled_trainer(int st)
{
    if (st) {
        ck_assert_ptr_null(C.trout);
        return;
    }
    void *b;
    size_t n;
    ck_assert_int_eq(cem_trainer_save_buffer(C.trout, &b, &n), CEM_OK);
    ck_assert(n == IN.ltsize && memcmp(b, IN.ltbuf, n) == 0);
    cem_free(b);
    cem_trainer_free(C.trout);
}

static int call_trainer_load_buffer_labelled(void)
{
    return cem_trainer_load_buffer_labelled(&C.trout, IN.ltbuf, IN.ltsize, data, data_labels,
                                            NDATA, D);
}

static int call_trainer_load_labelled(void)
{
    return cem_trainer_load_labelled(&C.trout, IN.ltpath, data, data_labels, NDATA, D);
}

/* Gradient accumulation and data parallelism.  ACCUMULATE re-plans the
 * workspace (a micro-batch's rows, the parts), as does
 * cem_trainer_set_reduce when the parts it needs change (the world or
 * whether there is a callback). */
static int call_set_accumulate(void) { return cem_trainer_set(C.tr, CEM_TRAINER_ACCUMULATE, 4); }
static void after_set_accumulate(int st) { after_trainer_set(CEM_TRAINER_ACCUMULATE, 1, 4, st); }

/* Two trainers with ACCUMULATE a (and, world > 0, rank `rank` of `world`
 * through reduce_keep). */
static void setup_two_trainers_sharing(int a, int rank, int world)
{
    setup_two_trainers();
    cem_trainer_t *both[2] = {C.tr, C.tr2};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(cem_trainer_set(both[k], CEM_TRAINER_ACCUMULATE, a), CEM_OK);
        if (world)
            ck_assert_int_eq(cem_trainer_set_reduce(both[k], rank, world, reduce_keep,
                                                    &reduce_user),
                             CEM_OK);
    }
}

static void setup_rank1_of_2_accumulate4(void) { setup_two_trainers_sharing(4, 1, 2); }
static int call_set_accumulate_shared(void)
{
    return cem_trainer_set(C.tr, CEM_TRAINER_ACCUMULATE, 6);
}
static void after_set_accumulate_shared(int st)
{
    after_trainer_set(CEM_TRAINER_ACCUMULATE, 4, 6, st);
    if (!st) { /* rank 1 of world 2 computes micro-batches 3, 4, 5 of 6 */
        memset(&reduced, 0, sizeof reduced);
        ck_assert_int_eq(cem_trainer_run(C.tr, 1, NULL), CEM_OK);
        ck_assert(reduced.calls == 1 && reduced.first == 3 && reduced.parts == 3);
    }
}

/* After cem_trainer_set_reduce: on failure the trainer (its callback,
 * rank and world among it) is its twin's; on success a step calls the
 * callback as asked: `calls` times, with `first` and `parts`. */
static void after_set_reduce(int st, long calls, int first, int parts)
{
    blob a = {0}, b = {0};
    if (st) {
        trainer_print(&a, C.tr);
        trainer_print(&b, C.tr2);
        same("the trainer after a failed cem_trainer_set_reduce", &a, &b);
        return;
    }
    memset(&reduced, 0, sizeof reduced);
    ck_assert_int_eq(cem_trainer_run(C.tr, 1, NULL), CEM_OK);
    ck_assert_msg(reduced.calls == calls && (!calls || (reduced.first == first &&
                                                        reduced.parts == parts &&
                                                        reduced.user == &reduce_user)),
                  "the callback was called %ld times (first %d, parts %d)", reduced.calls,
                  reduced.first, reduced.parts);
}

/* none -> rank 0 of world 2 with ACCUMULATE 4: parts 1 -> 2 */
static void setup_accumulate4(void) { setup_two_trainers_sharing(4, 0, 0); }
static int call_set_reduce_join(void)
{
    return cem_trainer_set_reduce(C.tr, 0, 2, reduce_keep, &reduce_user);
}
static void after_set_reduce_join(int st) { after_set_reduce(st, 1, 0, 2); }

/* rank 0 of world 2 -> none (world 1, fn NULL): parts 2 -> 1 */
static void setup_rank0_of_2_accumulate4(void) { setup_two_trainers_sharing(4, 0, 2); }
static int call_set_reduce_leave(void) { return cem_trainer_set_reduce(C.tr, 0, 1, NULL, NULL); }
static void after_set_reduce_leave(int st) { after_set_reduce(st, 0, 0, 0); }

/* ACCUMULATE 1: none -> a callback at world 1: parts 0 -> 1 */
static int call_set_reduce_world1(void)
{
    return cem_trainer_set_reduce(C.tr, 0, 1, reduce_keep, &reduce_user);
}
static void after_set_reduce_world1(int st) { after_set_reduce(st, 1, 0, 1); }

/* A loaded trainer of ACCUMULATE 4 saves back to the bytes it was loaded
 * from, and trains as the trainer that was saved did (a step each). */
static void after_load_accumulate(int st)
{
    if (st) {
        ck_assert_ptr_null(C.trout);
        return;
    }
    void *b;
    size_t n;
    double a = 0;
    ck_assert_int_eq(cem_trainer_save_buffer(C.trout, &b, &n), CEM_OK);
    ck_assert(n == IN.atsize && memcmp(b, IN.atbuf, n) == 0);
    cem_free(b);
    ck_assert_int_eq(cem_trainer_get(C.trout, CEM_TRAINER_ACCUMULATE, &a), CEM_OK);
    ck_assert_double_eq(a, 4);
    cem_trainer_free(C.trout);
}

static int call_trainer_load_buffer_accumulate(void)
{
    return cem_trainer_load_buffer(&C.trout, IN.atbuf, IN.atsize, data, NDATA, D);
}

static int call_trainer_load_accumulate(void)
{
    return cem_trainer_load(&C.trout, IN.atpath, data, NDATA, D);
}

START_TEST(trainer_operations_out_of_memory)
{
    make_data();
    make_labels();
    /* a checkpoint whose loading does everything: a batch and threads other
     * than the defaults, the ADAPTIVE law's floors, a model with axes */
    cem_model_t *m = small_mlp();
    cem_trainer_t *tr = small_trainer(m);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_THREADS, 2), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, FLOOR_BATCH), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_ADAPTIVE), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(tr, 3, NULL), CEM_OK);
    ck_assert_int_eq(cem_trainer_save_buffer(tr, &IN.tbuf, &IN.tsize), CEM_OK);
    IN.tpath = dup_path("faults-trainer.cem");
    ck_assert_int_eq(cem_trainer_save(tr, IN.tpath), CEM_OK);
    IN.savedir = new_dir("faults-trainer-saves");
    IN.save_t = join(IN.savedir, "t.cem");
    ck_assert_int_eq(cem_trainer_run(tr, 1, NULL), CEM_OK);
    ck_assert_int_eq(cem_trainer_save(tr, IN.save_t), CEM_OK);
    IN.old_t = slurp(IN.save_t, &IN.old_t_n);
    cem_trainer_free(tr);
    cem_model_free(m);
    /* the same for a labelled trainer (format 4: the labels' CRC-32) */
    m = small_labelled_mlp();
    tr = small_labelled_trainer(m);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_THREADS, 2), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, FLOOR_BATCH), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_ADAPTIVE), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(tr, 3, NULL), CEM_OK);
    ck_assert_int_eq(cem_trainer_save_buffer(tr, &IN.ltbuf, &IN.ltsize), CEM_OK);
    ck_assert_uint_eq(((const unsigned char *)IN.ltbuf)[8], 4);
    IN.ltpath = dup_path("faults-trainer-labelled.cem");
    ck_assert_int_eq(cem_trainer_save(tr, IN.ltpath), CEM_OK);
    cem_trainer_free(tr);
    cem_model_free(m);
    /* gradient accumulation: ACCUMULATE 4 with batch 32, trained 3 steps as
     * rank 0 of world 1 with a callback (not saved: a checkpoint holds no
     * rank or world), THREADS 2 */
    m = small_mlp();
    tr = small_trainer(m);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_THREADS, 2), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_ACCUMULATE, 4), CEM_OK);
    ck_assert_int_eq(cem_trainer_set_reduce(tr, 0, 1, reduce_keep, &reduce_user), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(tr, 3, NULL), CEM_OK);
    ck_assert_int_eq(cem_trainer_save_buffer(tr, &IN.atbuf, &IN.atsize), CEM_OK);
    IN.atpath = dup_path("faults-trainer-accumulate.cem");
    ck_assert_int_eq(cem_trainer_save(tr, IN.atpath), CEM_OK);
    cem_trainer_free(tr);
    cem_model_free(m);

    static const alloc_op ops[] = {
        {"cem_trainer_create", setup_two_models, call_trainer_create, after_trainer_create,
         NULL, 1},
        {"cem_trainer_load_buffer", NULL, call_trainer_load_buffer, after_load_trainer, NULL,
         1},
        {"cem_trainer_load", NULL, call_trainer_load, after_load_trainer, NULL, 1},
        {"cem_trainer_set(BATCH)", setup_two_trainers, call_set_batch, after_set_batch, "tr",
         1},
        {"cem_trainer_set(THREADS)", setup_two_trainers, call_set_threads, after_set_threads,
         "tr", 1},
        {"cem_trainer_set(TIME_LAW=ADAPTIVE)", setup_two_trainers_for_floors, call_set_adaptive,
         after_set_adaptive, "tr", 1},
        {"cem_trainer_run", setup_two_trainers, call_run, after_run, NULL, 0},
        {"cem_trainer_save_buffer", setup_one_trainer, call_trainer_save_buffer,
         after_save_buffer, NULL, 1},
        {"cem_trainer_save", setup_one_trainer, call_trainer_save, after_trainer_save, NULL, 1},
        {"cem_trainer_create_labelled", setup_two_labelled_models, call_trainer_create_labelled,
         after_trainer_create, NULL, 1},
        {"cem_trainer_load_buffer_labelled", NULL, call_trainer_load_buffer_labelled,
         after_load_labelled_trainer, NULL, 1},
        {"cem_trainer_load_labelled", NULL, call_trainer_load_labelled,
         after_load_labelled_trainer, NULL, 1},
        {"cem_trainer_run (labelled)", setup_two_labelled_trainers, call_run, after_run, NULL, 0},
        {"cem_trainer_set(ACCUMULATE) 1 -> 4", setup_two_trainers, call_set_accumulate,
         after_set_accumulate, "tr", 1},
        {"cem_trainer_set(ACCUMULATE) 4 -> 6 (rank 1 of world 2)", setup_rank1_of_2_accumulate4,
         call_set_accumulate_shared, after_set_accumulate_shared, "tr", 1},
        {"cem_trainer_set_reduce none -> rank 0 of world 2 (ACCUMULATE 4)", setup_accumulate4,
         call_set_reduce_join, after_set_reduce_join, "tr", 1},
        {"cem_trainer_set_reduce rank 0 of world 2 -> none (ACCUMULATE 4)",
         setup_rank0_of_2_accumulate4, call_set_reduce_leave, after_set_reduce_leave, "tr", 1},
        {"cem_trainer_set_reduce none -> a callback at world 1 (ACCUMULATE 1)",
         setup_two_trainers, call_set_reduce_world1, after_set_reduce_world1, "tr", 1},
        {"cem_trainer_load_buffer (ACCUMULATE 4)", NULL, call_trainer_load_buffer_accumulate,
         after_load_accumulate, NULL, 1},
        {"cem_trainer_load (ACCUMULATE 4)", NULL, call_trainer_load_accumulate,
         after_load_accumulate, NULL, 1},
        {"cem_trainer_run (ACCUMULATE 4, rank 0 of world 2)", setup_rank0_of_2_accumulate4,
         call_run, after_run, NULL, 0},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        inject_allocs(&ops[i]);

    /* the run with its first allocation armed to fail: there is none */
    setup_two_trainers();
    test_alloc_fail(1);
    int st = cem_trainer_run(C.tr, 3, &C.v[0]);
    long calls = test_alloc_calls();
    test_alloc_fail(0);
    ck_assert_int_eq(calls, 0);
    after_run(st);
    free_ctx();

    cem_free(IN.tbuf);
    cem_free(IN.ltbuf);
    cem_free(IN.atbuf);
    unlink(IN.tpath);
    unlink(IN.ltpath);
    unlink(IN.atpath);
    unlink(IN.save_t);
    rmdir(IN.savedir);
    free(IN.tpath);
    free(IN.ltpath);
    free(IN.atpath);
    free(IN.save_t);
    free(IN.savedir);
    free(IN.old_t);
    memset(&IN, 0, sizeof IN);
}
END_TEST

/* ------------------------------------------------------ sampler operations */

static int call_sampler_create(void) { return cem_sampler_create(&C.sout, C.m); }

static void after_sampler_create(int st)
{
    if (!st) {
        ck_assert_ptr_ne(C.sout, SENTINEL);
        cem_sampler_free(C.sout);
        return;
    }
    ck_assert_ptr_null(C.sout);
    blob a = {0}, b = {0};
    model_print(&a, C.m);
    model_print(&b, C.m2);
    same("the model after a failed cem_sampler_create", &a, &b);
    model_is_free(C.m);
}

static void setup_two_samplers(void)
{
    setup_two_models();
    C.s = small_sampler(C.m);
    C.s2 = small_sampler(C.m2);
}

static void after_sampler_set(int opt, double old, double want, int st)
{
    double v;
    ck_assert_int_eq(cem_sampler_get(C.s, (cem_sampler_option)opt, &v), CEM_OK);
    ck_assert_double_eq(v, st ? old : want);
    if (st) {
        blob a = {0}, b = {0};
        sampler_print(&a, C.s);
        sampler_print(&b, C.s2);
        same("the sampler after a failed cem_sampler_set", &a, &b);
    }
}

static int call_s_steps(void) { return cem_sampler_set(C.s, CEM_SAMPLER_STEPS, 12); }
static void after_s_steps(int st) { after_sampler_set(CEM_SAMPLER_STEPS, 8, 12, st); }
static int call_s_threads(void) { return cem_sampler_set(C.s, CEM_SAMPLER_THREADS, 2); }
static void after_s_threads(int st) { after_sampler_set(CEM_SAMPLER_THREADS, 1, 2, st); }
static int call_s_traj(void) { return cem_sampler_set(C.s, CEM_SAMPLER_TRAJ_ROWS, 4); }
static void after_s_traj(int st) { after_sampler_set(CEM_SAMPLER_TRAJ_ROWS, 0, 4, st); }

static int call_s_run(void) { return cem_sampler_run(C.s, 300, C.f); }

static void after_s_run(int st)
{
    ck_assert_int_eq(st, CEM_OK);
    ck_assert_int_eq(cem_sampler_run(C.s2, 300, C.f + 300 * D), CEM_OK);
    ck_assert(memcmp(C.f, C.f + 300 * D, sizeof(float) * 300 * D) == 0);
    blob a = {0}, b = {0};
    sampler_print(&a, C.s);
    sampler_print(&b, C.s2);
    same("the sampler after cem_sampler_run", &a, &b);
}

/* IMPUTE 0 -> 1 re-plans: every worker gets the Jacobian's workspace. */
static int call_s_recon(void)
{
    return cem_sampler_set(C.s, CEM_SAMPLER_IMPUTE, CEM_IMPUTE_RECONSTRUCT);
}

static void after_s_recon(int st)
{
    after_sampler_set(CEM_SAMPLER_IMPUTE, CEM_IMPUTE_REPAINT, CEM_IMPUTE_RECONSTRUCT, st);
}

static void setup_two_labelled_samplers(void)
{
    setup_two_labelled_models();
    C.s = small_sampler(C.m);
    C.s2 = small_sampler(C.m2);
    sampler_classes = NCLS;
}

/* Guided labelled sampling and imputation allocate nothing (counted:
 * none); the sampler is compared with its twin all the same. */
static void labelled_rows(int *lab, int n)
{
    for (int i = 0; i < n; i++)
        lab[i] = i % (NCLS + 1) - 1;
}

static int call_s_run_labelled(void)
{
    static int lab[300];
    labelled_rows(lab, 300);
    return cem_sampler_run_labelled(C.s, 5, 300, lab, C.f);
}

static void setup_two_guided_samplers(void)
{
    setup_two_labelled_samplers();
    ck_assert_int_eq(cem_sampler_set(C.s, CEM_SAMPLER_GUIDANCE, 1.5), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(C.s2, CEM_SAMPLER_GUIDANCE, 1.5), CEM_OK);
}

static void after_s_run_labelled(int st)
{
    static int lab[300];
    labelled_rows(lab, 300);
    ck_assert_int_eq(st, CEM_OK);
    ck_assert_int_eq(cem_sampler_run_labelled(C.s2, 5, 300, lab, C.f + 300 * D), CEM_OK);
    ck_assert(memcmp(C.f, C.f + 300 * D, sizeof(float) * 300 * D) == 0);
    blob a = {0}, b = {0};
    sampler_print(&a, C.s);
    sampler_print(&b, C.s2);
    same("the sampler after cem_sampler_run_labelled", &a, &b);
}

/* 300 rows, every third coordinate missing (NaN). */
static const float *impute_rows(void)
{
    static float x[300 * D];
    for (int i = 0; i < 300 * D; i++)
        x[i] = i % 3 == 1 ? NAN : data[i % (NDATA * D)];
    return x;
}

static int call_s_impute(void) { return cem_sampler_impute(C.s, 0, 300, impute_rows(), NULL, NULL, C.f); }

static void after_s_impute(int st)
{
    ck_assert_int_eq(st, CEM_OK);
    ck_assert_int_eq(cem_sampler_impute(C.s2, 0, 300, impute_rows(), NULL, NULL, C.f + 300 * D),
                     CEM_OK);
    ck_assert(memcmp(C.f, C.f + 300 * D, sizeof(float) * 300 * D) == 0);
    blob a = {0}, b = {0};
    sampler_print(&a, C.s);
    sampler_print(&b, C.s2);
    same("the sampler after cem_sampler_impute", &a, &b);
}

static void setup_two_repaint_samplers(void)
{
    setup_two_samplers();
    cem_sampler_t *both[2] = {C.s, C.s2};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(cem_sampler_set(both[k], CEM_SAMPLER_JUMPS, 2), CEM_OK);
        ck_assert_int_eq(cem_sampler_set(both[k], CEM_SAMPLER_JUMP_LENGTH, 3), CEM_OK);
    }
}

static void setup_two_recon_samplers(void)
{
    setup_two_samplers();
    ck_assert_int_eq(call_s_recon(), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(C.s2, CEM_SAMPLER_IMPUTE, CEM_IMPUTE_RECONSTRUCT), CEM_OK);
}

START_TEST(sampler_operations_out_of_memory)
{
    make_data();
    static const alloc_op ops[] = {
        {"cem_sampler_create", setup_two_models, call_sampler_create, after_sampler_create,
         NULL, 1},
        {"cem_sampler_set(STEPS)", setup_two_samplers, call_s_steps, after_s_steps, "s", 1},
        {"cem_sampler_set(THREADS)", setup_two_samplers, call_s_threads, after_s_threads, "s",
         1},
        {"cem_sampler_set(TRAJ_ROWS)", setup_two_samplers, call_s_traj, after_s_traj, "s", 1},
        {"cem_sampler_run", setup_two_samplers, call_s_run, after_s_run, NULL, 0},
        {"cem_sampler_create (a model of 3 classes)", setup_two_labelled_models,
         call_sampler_create, after_sampler_create, NULL, 1},
        {"cem_sampler_set(IMPUTE=RECONSTRUCT)", setup_two_samplers, call_s_recon, after_s_recon,
         "s", 1},
        {"cem_sampler_run_labelled (GUIDANCE 1.5)", setup_two_guided_samplers,
         call_s_run_labelled, after_s_run_labelled, NULL, 0},
        {"cem_sampler_impute (REPAINT, 2 jumps of 3)", setup_two_repaint_samplers,
         call_s_impute, after_s_impute, NULL, 0},
        {"cem_sampler_impute (RECONSTRUCT)", setup_two_recon_samplers, call_s_impute,
         after_s_impute, NULL, 0},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        inject_allocs(&ops[i]);
    setup_two_samplers();
    test_alloc_fail(1);
    int st = cem_sampler_run(C.s, 300, C.f);
    long calls = test_alloc_calls();
    test_alloc_fail(0);
    ck_assert_int_eq(calls, 0);
    after_s_run(st);
    free_ctx();
}
END_TEST

/* ------------------------------------------------------ flow operations */

/* A flow's options and its answers at a few points. */
static void flow_print(blob *b, cem_flow_t *f)
{
    for (int opt = CEM_FLOW_RTOL; opt <= CEM_FLOW_MAX_STEPS; opt++) {
        double v = -1;
        put_i(b, cem_flow_get(f, (cem_flow_option)opt, &v));
        put_d(b, v);
    }
    double lp[8];
    float z[8 * D];
    put_i(b, cem_flow_logprob(f, 8, data, lp, NULL));
    put(b, lp, sizeof lp);
    put_i(b, cem_flow_encode(f, 8, data, z));
    put(b, z, sizeof z);
}

static cem_flow_t *small_flow(cem_model_t *m)
{
    cem_flow_t *f;
    ck_assert_int_eq(cem_flow_create(&f, m), CEM_OK);
    ck_assert_int_eq(cem_flow_set(f, CEM_FLOW_THREADS, 1), CEM_OK);
    ck_assert_int_eq(cem_flow_set(f, CEM_FLOW_T_MIN, 0.05), CEM_OK);
    return f;
}

static int call_flow_create(void) { return cem_flow_create(&C.flout, C.m); }

static void after_flow_create(int st)
{
    if (!st) {
        ck_assert_ptr_ne(C.flout, SENTINEL);
        cem_flow_free(C.flout);
        return;
    }
    ck_assert_ptr_null(C.flout);
    blob a = {0}, b = {0};
    model_print(&a, C.m);
    model_print(&b, C.m2);
    same("the model after a failed cem_flow_create", &a, &b);
    model_is_free(C.m);
}

static void setup_two_flows(void)
{
    setup_two_models();
    C.fl = small_flow(C.m);
    C.fl2 = small_flow(C.m2);
}

static void after_flow_set(int opt, double old, double want, int st)
{
    double v;
    ck_assert_int_eq(cem_flow_get(C.fl, (cem_flow_option)opt, &v), CEM_OK);
    ck_assert_double_eq(v, st ? old : want);
    if (st) {
        blob a = {0}, b = {0};
        flow_print(&a, C.fl);
        flow_print(&b, C.fl2);
        same("the flow after a failed cem_flow_set", &a, &b);
    }
}

static int call_fl_threads(void) { return cem_flow_set(C.fl, CEM_FLOW_THREADS, 2); }
static void after_fl_threads(int st) { after_flow_set(CEM_FLOW_THREADS, 1, 2, st); }
static int call_fl_exact(void) { return cem_flow_set(C.fl, CEM_FLOW_EXACT_DIM, 0); }
static void after_fl_exact(int st) { after_flow_set(CEM_FLOW_EXACT_DIM, 64, 0, st); }

static int call_fl_run(void)
{
    int st = cem_flow_logprob(C.fl, 40, data, C.v, NULL);
    return st ? st : cem_flow_decode(C.fl, 40, data, C.f);
}

static void after_fl_run(int st)
{
    ck_assert_int_eq(st, CEM_OK);
    blob a = {0}, b = {0};
    flow_print(&a, C.fl);
    flow_print(&b, C.fl2);
    same("the flow after a run", &a, &b);
}

START_TEST(flow_operations_out_of_memory)
{
    make_data();
    static const alloc_op ops[] = {
        {"cem_flow_create", setup_two_models, call_flow_create, after_flow_create, NULL, 1},
        {"cem_flow_set(THREADS)", setup_two_flows, call_fl_threads, after_fl_threads, "fl", 1},
        {"cem_flow_set(EXACT_DIM)", setup_two_flows, call_fl_exact, after_fl_exact, "fl", 1},
        {"cem_flow_logprob, _decode", setup_two_flows, call_fl_run, after_fl_run, NULL, 0},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        inject_allocs(&ops[i]);
}
END_TEST

/* ------------------------------------------------------ data and metrics */

static int call_csv_read(void) { return cem_csv_read(IN.csvpath, &C.fdata, &C.n, &C.dim); }

static void after_csv_read(int st)
{
    if (st) {
        ck_assert_ptr_null(C.fdata);
        ck_assert_uint_eq(C.n, 0);
        ck_assert_int_eq(C.dim, 0);
        return;
    }
    ck_assert_uint_eq(C.n, CSV_ROWS);
    ck_assert_int_eq(C.dim, CSV_DIM);
    for (int i = 0; i < CSV_ROWS * CSV_DIM; i++)
        ck_assert_float_eq(C.fdata[i], (float)(0.25 * i - 3));
    cem_free(C.fdata);
}

/* The numbers of IN.csvpath with a label column second (labels -1 .. 3),
 * in a file of their own (IN.lcsvpath). */
static int call_csv_read_labelled(void)
{
    return cem_csv_read_labelled(IN.lcsvpath, 1, &C.fdata, &C.ldata, &C.n, &C.dim);
}

static void after_csv_read_labelled(int st)
{
    if (st) {
        ck_assert_ptr_null(C.fdata);
        ck_assert_ptr_null(C.ldata);
        ck_assert_uint_eq(C.n, 0);
        ck_assert_int_eq(C.dim, 0);
        return;
    }
    ck_assert_uint_eq(C.n, CSV_ROWS);
    ck_assert_int_eq(C.dim, CSV_DIM);
    for (int i = 0; i < CSV_ROWS; i++) {
        ck_assert_int_eq(C.ldata[i], i % 5 - 1);
        for (int j = 0; j < CSV_DIM; j++)
            ck_assert_float_eq(C.fdata[i * CSV_DIM + j], (float)(0.25 * (i * CSV_DIM + j) - 3));
    }
    cem_free(C.fdata);
    cem_free(C.ldata);
}

/* The numbers of IN.csvpath with every fourth value an empty field (blank
 * or not at all), in a file of their own (IN.mcsvpath). */
static int call_csv_read_missing(void)
{
    return cem_csv_read_missing(IN.mcsvpath, &C.fdata, &C.n, &C.dim);
}

static void after_csv_read_missing(int st)
{
    if (st) {
        ck_assert_ptr_null(C.fdata);
        ck_assert_uint_eq(C.n, 0);
        ck_assert_int_eq(C.dim, 0);
        return;
    }
    ck_assert_uint_eq(C.n, CSV_ROWS);
    ck_assert_int_eq(C.dim, CSV_DIM);
    for (int i = 0; i < CSV_ROWS * CSV_DIM; i++)
        if (i % 4 == 2)
            ck_assert(isnan(C.fdata[i]));
        else
            ck_assert_float_eq(C.fdata[i], (float)(0.25 * i - 3));
    cem_free(C.fdata);
}

static int call_dataset_create(void) { return cem_dataset_create(&C.dout, CEM_DATA_TORUS, 5, 9); }

static void after_dataset_create(int st)
{
    if (st) {
        ck_assert_ptr_null(C.dout);
        return;
    }
    ck_assert_ptr_ne(C.dout, SENTINEL);
    cem_dataset_free(C.dout);
}

static int call_csv_write(void)
{
    float x[CSV_ROWS * CSV_DIM];
    for (int i = 0; i < CSV_ROWS * CSV_DIM; i++)
        x[i] = (float)(0.5 * i);
    return cem_csv_write(IN.save_csv, x, CSV_ROWS, CSV_DIM);
}

static void after_csv_write(int st) { after_save_file(IN.save_csv, IN.old_csv, IN.old_csv_n, st); }

static void setup_dataset(void)
{
    ck_assert_int_eq(cem_dataset_create(&C.ds, CEM_DATA_CIRCLE, D, 1), CEM_OK);
}

static int call_distance(void)
{
    return cem_metric_distance(C.ds, NDATA, data, &C.v[0], &C.v[1], &C.v[2]);
}

static int call_ks(void) { return cem_metric_ks(C.ds, NDATA, data, &C.v[0]); }

static int call_sliced_w2(void)
{
    return cem_metric_sliced_w2(NDATA, data, NDATA / 2, data + 1, D, 8, 3, &C.v[0]);
}

static void after_metric(int st) { (void)st; }

static const double PROFILE_T[3] = {1e-3, 1e-2, 1e-1};

static int call_profile(void)
{
    for (int k = 0; k < 16; k++)
        C.v[k] = -7;
    return cem_singularity_profile(C.m, 8, data, 3, PROFILE_T, C.v, C.v + 9, C.v + 18);
}

/* The profile writes its outputs only on success. */
static void after_profile(int st)
{
    if (!st)
        return;
    for (int k = 0; k < 16; k++)
        ck_assert_double_eq(C.v[k], -7);
}

static void setup_empirical(void)
{
    ck_assert_int_eq(cem_model_create_empirical(&C.m, data, NDATA, D), CEM_OK);
}

START_TEST(data_operations_out_of_memory)
{
    make_data();
    IN.csvpath = dup_path("faults.csv");
    {
        float x[CSV_ROWS * CSV_DIM];
        for (int i = 0; i < CSV_ROWS * CSV_DIM; i++)
            x[i] = (float)(0.25 * i - 3);
        ck_assert_int_eq(cem_csv_write(IN.csvpath, x, CSV_ROWS, CSV_DIM), CEM_OK);
        IN.lcsvpath = dup_path("faults-labelled.csv");
        FILE *f = fopen(IN.lcsvpath, "w");
        ck_assert_ptr_nonnull(f);
        for (int i = 0; i < CSV_ROWS; i++) {
            fprintf(f, "%.9g,%d", (double)x[i * CSV_DIM], i % 5 - 1);
            for (int j = 1; j < CSV_DIM; j++)
                fprintf(f, ",%.9g", (double)x[i * CSV_DIM + j]);
            fputc('\n', f);
        }
        ck_assert_int_eq(fclose(f), 0);
        IN.mcsvpath = dup_path("faults-missing.csv");
        f = fopen(IN.mcsvpath, "w");
        ck_assert_ptr_nonnull(f);
        for (int i = 0; i < CSV_ROWS * CSV_DIM; i++) {
            if (i % 4 == 2)
                fputs(i % 8 == 2 ? " " : "", f);
            else
                fprintf(f, "%.9g", (double)x[i]);
            fputc((i + 1) % CSV_DIM ? ',' : '\n', f);
        }
        ck_assert_int_eq(fclose(f), 0);
    }
    IN.savedir = new_dir("faults-csv-saves");
    IN.save_csv = join(IN.savedir, "x.csv");
    ck_assert_int_eq(cem_csv_write(IN.save_csv, data, NDATA, D), CEM_OK);
    IN.old_csv = slurp(IN.save_csv, &IN.old_csv_n);

    static const alloc_op ops[] = {
        {"cem_csv_read", NULL, call_csv_read, after_csv_read, NULL, 1},
        {"cem_csv_read_labelled", NULL, call_csv_read_labelled, after_csv_read_labelled, NULL,
         1},
        {"cem_csv_read_missing", NULL, call_csv_read_missing, after_csv_read_missing, NULL, 1},
        {"cem_csv_write", NULL, call_csv_write, after_csv_write, NULL, 1},
        {"cem_dataset_create", NULL, call_dataset_create, after_dataset_create, NULL, 1},
        {"cem_metric_distance", setup_dataset, call_distance, after_metric, NULL, 1},
        {"cem_metric_ks", setup_dataset, call_ks, after_metric, NULL, 1},
        {"cem_metric_sliced_w2", NULL, call_sliced_w2, after_metric, NULL, 1},
        {"cem_singularity_profile", setup_empirical, call_profile, after_profile, NULL, 1},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        inject_allocs(&ops[i]);
    unlink(IN.csvpath);
    unlink(IN.lcsvpath);
    free(IN.lcsvpath);
    unlink(IN.mcsvpath);
    free(IN.mcsvpath);
    unlink(IN.save_csv);
    rmdir(IN.savedir);
    free(IN.csvpath);
    free(IN.save_csv);
    free(IN.savedir);
    free(IN.old_csv);
    memset(&IN, 0, sizeof IN);
}
END_TEST

/* =========================================================== write faults */

/* A function that writes a file, with the previous version of the file
 * and what a successful call writes. */
typedef struct {
    const char *fn;
    int (*save)(const char *path);
    unsigned char *old, *now;
    size_t old_n, now_n;
} save_case;

static cem_model_t *W_m;
static cem_trainer_t *W_tr;

static int save_model(const char *path) { return cem_model_save(W_m, path); }
static int save_trainer(const char *path) { return cem_trainer_save(W_tr, path); }

static int save_csv(const char *path) { return cem_csv_write(path, data, 8, D); }

/* The three cases: the previous file is another model, the trainer one
 * step earlier, other numbers. */
static void make_cases(save_case *c)
{
    make_data();
    W_m = small_mlp();
    cem_model_t *tm = small_mlp();
    W_tr = small_trainer(tm);
    cem_model_free(tm);
    char *scratch = dup_path("faults-scratch");
    c[0] = (save_case){"cem_model_save", save_model, NULL, NULL, 0, 0};
    c[1] = (save_case){"cem_trainer_save", save_trainer, NULL, NULL, 0, 0};
    c[2] = (save_case){"cem_csv_write", save_csv, NULL, NULL, 0, 0};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(c[k].save(scratch), CEM_OK);
        c[k].now = slurp(scratch, &c[k].now_n);
    }
    cem_model_t *other = small_mlp();
    ck_assert_int_eq(cem_model_set(other, CEM_MODEL_SEED, 11), CEM_OK);
    ck_assert_int_eq(cem_model_save(other, scratch), CEM_OK);
    c[0].old = slurp(scratch, &c[0].old_n);
    cem_model_free(other);
    ck_assert_int_eq(cem_trainer_run(W_tr, 1, NULL), CEM_OK);
    ck_assert_int_eq(cem_trainer_save(W_tr, scratch), CEM_OK);
    c[1].old = slurp(scratch, &c[1].old_n);
    ck_assert_int_eq(cem_csv_write(scratch, data + 2, 7, D), CEM_OK);
    c[2].old = slurp(scratch, &c[2].old_n);
    /* the trainer saves the state of c[1].now again: a trainer made anew */
    cem_trainer_free(W_tr);
    tm = small_mlp();
    W_tr = small_trainer(tm);
    cem_model_free(tm);
    for (int k = 0; k < 3; k++)
        ck_assert(c[k].old_n != c[k].now_n || memcmp(c[k].old, c[k].now, c[k].old_n));
    unlink(scratch);
    free(scratch);
}

static void free_cases(save_case *c)
{
    for (int k = 0; k < 3; k++) {
        free(c[k].old);
        free(c[k].now);
    }
    cem_trainer_free(W_tr);
    cem_model_free(W_m);
    W_tr = NULL;
    W_m = NULL;
}

/* After a failed save: the status, a message naming the function and the
 * file, the previous file as it was, and no other file in its directory. */
static void expect_failed_save(const save_case *c, const char *dir, const char *path, int st,
                               const char *msg, const char *errtext, const char *what)
{
    ck_assert_msg(st == CEM_ERR_IO, "%s, %s: status %d (%s)", c->fn, what, st, msg);
    ck_assert_msg(strstr(msg, c->fn) && strstr(msg, path), "%s, %s: message '%s' does not name "
                  "the function and '%s'", c->fn, what, msg, path);
    if (errtext)
        ck_assert_msg(strstr(msg, errtext) != NULL, "%s, %s: message '%s' lacks '%s'", c->fn,
                      what, msg, errtext);
    ck_assert_msg(file_is(path, c->old, c->old_n), "%s, %s: the previous file changed", c->fn,
                  what);
    const char *names[] = {strrchr(path, '/') + 1, NULL};
    ck_assert_msg(stray_entries(dir, names) == 0, "%s, %s: stray files in %s", c->fn, what,
                  dir);
}

/* Each call of the write path fails in turn. */
START_TEST(every_write_call_fails_in_turn)
{
    save_case c[3];
    make_cases(c);
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "faults-io-%d", i);
        char *dir = new_dir(name), *path = join(dir, "out"), *scratch = join(dir, "count");
        /* the count, on another name in the same directory */
        test_io_fail(0);
        int st = c[i].save(scratch);
        long n = test_io_calls();
        ck_assert_int_eq(st, CEM_OK);
        ck_assert(file_is(scratch, c[i].now, c[i].now_n));
        unlink(scratch);
        ck_assert_int_eq(spill(path, c[i].old, c[i].old_n), 0);
        ck_assert_int_ge(n, 6); /* mkstemp, a write, fflush, fsync, fclose, rename, ... */
        for (long k = 1; k <= n; k++) {
            test_io_fail(k);
            st = c[i].save(path);
            const char *failed = test_io_failed_call();
            test_io_fail(0);
            ck_assert_msg(failed != NULL, "%s: the call %ld of %ld was not made", c[i].fn, k, n);
            if (st == CEM_OK) {
                /* only the directory's sync, after the rename, is best effort:
                 * the file is already replaced, whole */
                ck_assert_msg(k == n && !strcmp(failed, "fsync"),
                              "%s: CEM_OK with call %ld of %ld (%s) failing", c[i].fn, k, n,
                              failed);
                ck_assert(file_is(path, c[i].now, c[i].now_n));
                const char *names[] = {"out", NULL};
                ck_assert_int_eq(stray_entries(dir, names), 0);
                ck_assert_int_eq(spill(path, c[i].old, c[i].old_n), 0);
                continue;
            }
            char what[80];
            snprintf(what, sizeof what, "call %ld of %ld (%s)", k, n, failed);
            expect_failed_save(&c[i], dir, path, st, cem_last_error(),
                               !strcmp(failed, "fsync") ? strerror(EIO) : strerror(ENOSPC),
                               what);
        }
        record("io", c[i].fn, n, 0);
        unlink(path);
        rmdir(dir);
        free(dir);
        free(path);
        free(scratch);
    }
    free_cases(c);
}
END_TEST

/* Runs body in a child process (whatever CK_FORK says) and returns its
 * exit code; the child reports its status and message through msg. */
typedef int (*child_fn)(const save_case *c, const char *dir, const char *path, char *msg,
                        size_t cap);

static int in_child(child_fn body, const save_case *c, const char *dir, const char *path,
                    char *msg, size_t cap)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        char text[512] = "";
        int code = body(c, dir, path, text, sizeof text);
        (void)!write(fds[1], text, strlen(text));
        close(fds[1]);
        _exit(code);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = read(fds[0], msg + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    msg[got] = '\0';
    close(fds[0]);
    int ws;
    ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* The child's report: "status|message". */
static int child_report(int st, char *msg, size_t cap)
{
    snprintf(msg, cap, "%d|%s", st, cem_last_error());
    return 0;
}

static int parse_report(const char *msg, const char **text)
{
    const char *bar = strchr(msg, '|');
    ck_assert_ptr_nonnull(bar);
    *text = bar + 1;
    return atoi(msg);
}

/* EFBIG: the size limit of RLIMIT_FSIZE, with SIGXFSZ ignored so that the
 * write fails instead of killing the process (root is limited as well). */
static int efbig_body(const save_case *c, const char *dir, const char *path, char *msg,
                      size_t cap)
{
    (void)dir;
    struct rlimit rl = {16, 16};
    if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 77;
    return child_report(c->save(path), msg, cap);
}

START_TEST(file_size_limit_fails_the_write)
{
    save_case c[3];
    make_cases(c);
    for (int i = 0; i < 3; i++) {
        char name[64], msg[600];
        snprintf(name, sizeof name, "faults-efbig-%d", i);
        char *dir = new_dir(name), *path = join(dir, "out");
        ck_assert_int_eq(spill(path, c[i].old, c[i].old_n), 0);
        int code = in_child(efbig_body, &c[i], dir, path, msg, sizeof msg);
        ck_assert_msg(code == 0, "%s: child exit %d", c[i].fn, code);
        const char *text;
        int st = parse_report(msg, &text);
        expect_failed_save(&c[i], dir, path, st, text, strerror(EFBIG), "RLIMIT_FSIZE 16");
        record("efbig", c[i].fn, 1, 0);
        unlink(path);
        rmdir(dir);
        free(dir);
        free(path);
    }
    free_cases(c);
}
END_TEST

/* EACCES: a directory without write permission.  Root ignores permission
 * bits, so as root the child first becomes the user nobody (65534). */
static int eacces_body(const save_case *c, const char *dir, const char *path, char *msg,
                       size_t cap)
{
    (void)dir;
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
        return 77;
    return child_report(c->save(path), msg, cap);
}

START_TEST(read_only_directory_fails_the_save)
{
    save_case c[3];
    make_cases(c);
    /* a directory others may enter (the test's own is 0700), for nobody */
    char base[] = "/tmp/cemdiff-faults-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(base));
    ck_assert_int_eq(chmod(base, 0755), 0);
    for (int i = 0; i < 3; i++) {
        char msg[600];
        char *dir = join(base, "ro"), *path = join(dir, "out");
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        ck_assert_int_eq(spill(path, c[i].old, c[i].old_n), 0);
        ck_assert_int_eq(chmod(dir, 0555), 0);
        int code = in_child(eacces_body, &c[i], dir, path, msg, sizeof msg);
        ck_assert_int_eq(chmod(dir, 0755), 0);
        ck_assert_msg(code == 0 || code == 77, "%s: child exit %d", c[i].fn, code);
        if (code == 0) { /* 77: cannot drop root here; nothing tested */
            const char *text;
            int st = parse_report(msg, &text);
            expect_failed_save(&c[i], dir, path, st, text, strerror(EACCES),
                               "read-only directory");
        }
        record(code == 0 ? "eacces" : "eacces-skipped", c[i].fn, code == 0, 0);
        unlink(path);
        rmdir(dir);
        free(dir);
        free(path);
    }
    rmdir(base);
    free_cases(c);
}
END_TEST

/* ENOSPC for real: a 64 KiB tmpfs, filled, in a private mount namespace of
 * the child (which needs privileges: elsewhere the child exits 77 and
 * nothing is tested; the injected failures above cover ENOSPC). */
static int enospc_body(const save_case *c, const char *dir, const char *path, char *msg,
                       size_t cap)
{
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=64k") != 0)
        return 77;
    if (spill(path, c->old, c->old_n) != 0)
        return 3;
    char *filler = join(dir, "filler");
    int fd = open(filler, O_WRONLY | O_CREAT, 0644);
    free(filler);
    if (fd < 0)
        return 4;
    static char block[4096];
    while (write(fd, block, sizeof block) > 0)
        ;
    int full = errno == ENOSPC;
    close(fd);
    if (!full)
        return 5;
    int st = c->save(path);
    const char *names[] = {"out", "filler", NULL};
    if (!file_is(path, c->old, c->old_n))
        return 6;
    if (stray_entries(dir, names) != 0)
        return 7;
    return child_report(st, msg, cap);
}

START_TEST(full_filesystem_fails_the_save)
{
    save_case c[3];
    make_cases(c);
    for (int i = 0; i < 3; i++) {
        char name[64], msg[600] = "";
        snprintf(name, sizeof name, "faults-enospc-%d", i);
        char *dir = new_dir(name), *path = join(dir, "out");
        int code = in_child(enospc_body, &c[i], dir, path, msg, sizeof msg);
        ck_assert_msg(code == 0 || code == 77, "%s: child exit %d", c[i].fn, code);
        if (code == 0) {
            const char *text;
            int st = parse_report(msg, &text);
            ck_assert_msg(st == CEM_ERR_IO, "%s on a full tmpfs: status %d (%s)", c[i].fn, st,
                          text);
            ck_assert_msg(strstr(text, path) && strstr(text, strerror(ENOSPC)),
                          "%s on a full tmpfs: message '%s'", c[i].fn, text);
        }
        record(code == 0 ? "enospc" : "enospc-skipped", c[i].fn, code == 0, 0);
        rmdir(dir); /* the tmpfs went with the child's namespace */
        free(dir);
        free(path);
    }
    free_cases(c);
}
END_TEST

Suite *suite_faults(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("allocation");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, model_operations_out_of_memory);
    tcase_add_test(tc, trainer_operations_out_of_memory);
    tcase_add_test(tc, sampler_operations_out_of_memory);
    tcase_add_test(tc, flow_operations_out_of_memory);
    tcase_add_test(tc, data_operations_out_of_memory);
    suite_add_tcase(s, tc);
    tc = tcase_create("writes");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_write_call_fails_in_turn);
    tcase_add_test(tc, file_size_limit_fails_the_write);
    tcase_add_test(tc, read_only_directory_fails_the_save);
    tcase_add_test(tc, full_filesystem_fails_the_save);
    suite_add_tcase(s, tc);
    return s;
}
