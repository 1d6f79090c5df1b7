/*
 * test_badinput.c -- the bad-input table: every public function of
 * cemdiff.h called with the inputs its contract refuses (NULL handles and
 * buffers, zero, negative and overflowing sizes, NaN and Inf in data and
 * option values, unknown enum values and option ids, damaged files and
 * buffers) and in odd orders (a handle freed before the one that holds it,
 * a setter while a trainer or a sampler holds the model, a query before
 * any run).
 *
 * Each function has a case function below, in the header's order; case v
 * of it is one bad call: a description, the status the header promises
 * (or, for a function that returns no status, its documented answer) and
 * the handles it needs.  Every case runs on fresh handles, each with an
 * untouched twin built the same way, and the test asserts:
 *   - the expected status (a value entry: the documented answer);
 *   - for a failure, cem_last_error() names the function;
 *   - nothing printed on stdout;
 *   - output handles set to NULL where the header promises it, and caller
 *     buffers not written where it promises that;
 *   - the handle's own message: the failure's message after a failed
 *     setter (or other call that modifies the handle), unchanged after a
 *     const call; every other handle's message unchanged;
 *   - every handle unchanged: its options, parameters, statistics, whether
 *     a trainer or a sampler holds it, and what it computes (evaluations,
 *     each class's too; a trainer's saved bytes and two training steps,
 *     with what its reduce callback was given; a run of samples, a
 *     labelled run and an imputation; for a dataset samples, distances,
 *     coordinates) equal those of its twin.
 *
 * The cases are enumerated from the case functions (describe mode) when the
 * suite is built; each is a loop iteration of one test, so a crash is one
 * failed case.  Each case appends its result to a file in the suite's
 * directory; the last test checks that every case recorded one and, when
 * CEM_BADINPUT_REPORT names a file, writes the table there as markdown
 * (function | what was tried | status returned), in the header's order.
 * tests/badinput_report.py makes docs/RELIABILITY_badinput.md of it
 * (make reliability) and checks the committed one (make check).
 */
#include "tests.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { D = 2, NDATA = 16, BATCH = 8, NCLS = 3, MAX_CASES = 1536 };

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define HUGE_N (SIZE_MAX / 2 + 1) /* HUGE_N x 2 overflows size_t */
#define TWO_53_PLUS_2 9007199254740994.0

static float data[NDATA * D]; /* an ellipse, off the origin */
static int data_labels[NDATA]; /* its classes 0 .. NCLS-1, every fourth row unlabelled */

static void make_data(void)
{
    for (int i = 0; i < NDATA; i++) {
        double a = 6.283185307179586 * i / NDATA;
        data[2 * i] = (float)(1.5 * cos(a) + 0.2);
        data[2 * i + 1] = (float)(0.5 * sin(a) - 0.1);
        data_labels[i] = i % 4 == 3 ? CEM_LABEL_NONE : i % NCLS;
    }
}

static const char *status_name(int st)
{
    static const char *const names[] = {
        "CEM_OK", "CEM_ERR_ARG", "CEM_ERR_NOMEM", "CEM_ERR_RANGE", "CEM_ERR_NONFINITE",
        "CEM_ERR_UNSUPPORTED", "CEM_ERR_NUMERIC", "CEM_ERR_IO", "CEM_ERR_PARSE",
        "CEM_ERR_BUSY", "CEM_ERR_NONFINITE_STEP", "CEM_ERR_BAD_MAGIC", "CEM_ERR_VERSION",
        "CEM_ERR_TRUNCATED", "CEM_ERR_CHECKSUM", "CEM_ERR_CORRUPT", "CEM_ERR_DIVERGED",
        "CEM_ERR_STOPPED", "CEM_ERR_REDUCE"};
    return st <= 0 && st > -(int)N_OF(names) ? names[-st] : "(not a status)";
}

/* ------------------------------------------------------------ the cases */

enum { VALUE = 1000, NO_CASE = 1001 }; /* expect VALUE: a documented answer */

/* The handles a case needs (each with a twin). */
enum {
    MLP = 1,    /* C.m: a CEM MLP in R^2, width 8, depth 1, 4 time features */
    NOISE = 2,  /* C.m is a NOISE MLP instead */
    EMP = 4,    /* C.e: the empirical model of the 16 data points */
    GAUSS = 8,  /* C.g: a Gaussian model */
    TR = 16,    /* C.tr: a trainer on C.m (batch 8, one thread) */
    SMP = 32,   /* C.s: a sampler on C.m (4 grid points, one thread) */
    CIRC = 64,  /* C.d: the circle in R^2 */
    PTS = 128,  /* C.d: POINTS in R^2 instead */
    FLW = 256,  /* C.f: a flow on C.g (one thread) */
    LAB = 512,  /* C.m has NCLS = 3 classes (LABELS 3, LABEL_EMBED 2); with TR the
                 * trainer is cem_trainer_create_labelled's, on data_labels */
    RED = 1024, /* with TR: C.tr and C.tr2 share their steps through a reduce
                 * callback, ACCUMULATE 2, rank 0 of world 2 (reduce_keep) */
    REDFAIL = 2048 /* the same with reduce_fail, a callback that fails */
};

/* The output handles a failed call must set to NULL. */
enum { O_M = 1, O_T = 2, O_S = 4, O_D = 8, O_F = 16 };

typedef struct {
    /* what a case says about itself (describe mode) */
    const char *what;
    int expect;
    unsigned env, outs;
    char rule; /* 's': the handle's message becomes the failure's; 'c': it stays */
    /* set when it runs */
    int describe, armed;
    const char *hmsg;   /* the message buffer of the handle the call was given */
    long printed;
    char result[160];   /* a value case's answer */
} bad_ctx;

#define CASE(v_, env_, expect_, what_) \
    case v_:                           \
        c->env = (env_);               \
        c->expect = (expect_);         \
        c->what = (what_);

static void *const SENTINEL = (void *)&data; /* an output the call must clear */

static struct {
    cem_model_t *m, *m2, *e, *e2, *g, *g2;
    cem_trainer_t *tr, *tr2;
    cem_sampler_t *s, *s2;
    cem_dataset_t *d, *d2;
    cem_flow_t *f, *f2;
    cem_model_t *mout;
    cem_trainer_t *trout;
    cem_sampler_t *sout;
    cem_dataset_t *dout;
    cem_flow_t *fout;
} C;

static char dir[64]; /* the suite's directory, made in the parent process */

static void mkpath(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* ------------------------------------------------------------ the handles */

static const float MEAN_F[D] = {0.2f, -0.1f}, COV_F[D * D] = {1.1f, 0.3f, 0.3f, 0.2f};

static cem_model_t *tiny_mlp(cem_target target)
{
    cem_model_t *m = NULL;
    ck_assert_int_eq(cem_model_create_mlp(&m, D, target), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 8), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_DEPTH, 1), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_EMBED, 4), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_SEED, 3), CEM_OK);
    return m;
}

/* The same with NCLS classes (set last: LABELS re-initialises the network). */
static cem_model_t *tiny_labelled_mlp(cem_target target)
{
    cem_model_t *m = tiny_mlp(target);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABEL_EMBED, 2), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABELS, NCLS), CEM_OK);
    return m;
}

static cem_trainer_t *tiny_trainer(cem_model_t *m) { return test_trainer_on(m, data, NDATA, D, BATCH); }

/* test_trainer_on's settings, on the labelled data. */
static cem_trainer_t *tiny_labelled_trainer(cem_model_t *m)
{
    cem_trainer_t *tr = NULL;
    ck_assert_int_eq(cem_trainer_create_labelled(&tr, m, data, data_labels, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_THREADS, 1), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, BATCH), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_SEED, 5), CEM_OK);
    return tr;
}

/* The reduce callbacks (cem_trainer_set_reduce) of the RED and REDFAIL
 * trainers, and what they were last given: a trainer's fingerprint runs two
 * steps and holds it, so that a failed cem_trainer_set_reduce that changed
 * the rank, the world, the callback or its user pointer shows. */
static struct {
    long calls;
    size_t n, m;
    int first, parts;
    const void *user;
} reduced;

static int reduce_user, other_user; /* the user pointers: the one set, another */

static void note_reduce(size_t n, size_t m, int first, int parts, const void *user)
{
    reduced.calls++;
    reduced.n = n;
    reduced.m = m;
    reduced.first = first;
    reduced.parts = parts;
    reduced.user = user;
}

/* This rank's parts added in order into block 0, nothing for the other
 * ranks (as if their micro-batches were zero): deterministic, and a rank
 * or world other than the one set trains differently. */
static int reduce_keep(float *grad, size_t n, double *stats, size_t m, int first, int parts,
                       void *user)
{
    note_reduce(n, m, first, parts, user);
    test_sum_parts(grad, n, stats, m, parts);
    return 0;
}

/* Another callback, which a failed cem_trainer_set_reduce must not install:
 * this rank's first part, doubled. */
static int reduce_other(float *grad, size_t n, double *stats, size_t m, int first, int parts,
                        void *user)
{
    note_reduce(n, m, first, parts, user);
    for (size_t k = 0; k < n; k++)
        grad[k] = parts ? 2 * grad[k] : 0;
    for (size_t k = 0; k < m; k++)
        stats[k] = parts ? 2 * stats[k] : 0;
    return 0;
}

/* Fails, after writing over the sums it was to leave (the step must not
 * use them). */
static int reduce_fail(float *grad, size_t n, double *stats, size_t m, int first, int parts,
                       void *user)
{
    note_reduce(n, m, first, parts, user);
    for (size_t k = 0; k < n; k++)
        grad[k] = 1e3f;
    for (size_t k = 0; k < m; k++)
        stats[k] = 1e3;
    return 1;
}

/* C.tr or C.tr2 as RED or REDFAIL asks. */
static void share_steps(cem_trainer_t *tr, unsigned env)
{
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_ACCUMULATE, 2), CEM_OK);
    ck_assert_int_eq(cem_trainer_set_reduce(tr, 0, 2, env & REDFAIL ? reduce_fail : reduce_keep,
                                            &reduce_user),
                     CEM_OK);
}

static cem_sampler_t *tiny_sampler(cem_model_t *m) { return test_sampler_on(m, 4); }

static cem_dataset_t *tiny_dataset(cem_dataset_kind kind)
{
    cem_dataset_t *d = NULL;
    ck_assert_int_eq(cem_dataset_create(&d, kind, D, 0), CEM_OK);
    return d;
}

static int sampler_classes; /* the classes of C.s's model (it has no getter) */

static void build(unsigned env)
{
    memset(&C, 0, sizeof C);
    sampler_classes = env & LAB ? NCLS : 0;
    if (env & (MLP | NOISE | TR | SMP | LAB)) {
        cem_target t = env & NOISE ? CEM_TARGET_NOISE : CEM_TARGET_CEM;
        C.m = env & LAB ? tiny_labelled_mlp(t) : tiny_mlp(t);
        C.m2 = env & LAB ? tiny_labelled_mlp(t) : tiny_mlp(t);
    }
    if (env & EMP) {
        ck_assert_int_eq(cem_model_create_empirical(&C.e, data, NDATA, D), CEM_OK);
        ck_assert_int_eq(cem_model_create_empirical(&C.e2, data, NDATA, D), CEM_OK);
    }
    if (env & (GAUSS | FLW)) {
        ck_assert_int_eq(cem_model_create_gaussian(&C.g, MEAN_F, COV_F, D), CEM_OK);
        ck_assert_int_eq(cem_model_create_gaussian(&C.g2, MEAN_F, COV_F, D), CEM_OK);
    }
    if (env & TR) {
        C.tr = env & LAB ? tiny_labelled_trainer(C.m) : tiny_trainer(C.m);
        C.tr2 = env & LAB ? tiny_labelled_trainer(C.m2) : tiny_trainer(C.m2);
        if (env & (RED | REDFAIL)) {
            share_steps(C.tr, env);
            share_steps(C.tr2, env);
        }
    }
    if (env & SMP) {
        C.s = tiny_sampler(C.m);
        C.s2 = tiny_sampler(C.m2);
    }
    if (env & FLW) {
        ck_assert_int_eq(cem_flow_create(&C.f, C.g), CEM_OK);
        ck_assert_int_eq(cem_flow_create(&C.f2, C.g2), CEM_OK);
        ck_assert_int_eq(cem_flow_set(C.f, CEM_FLOW_THREADS, 1), CEM_OK);
        ck_assert_int_eq(cem_flow_set(C.f2, CEM_FLOW_THREADS, 1), CEM_OK);
    }
    if (env & (CIRC | PTS)) {
        cem_dataset_kind k = env & PTS ? CEM_DATA_POINTS : CEM_DATA_CIRCLE;
        C.d = tiny_dataset(k);
        C.d2 = tiny_dataset(k);
    }
    C.mout = SENTINEL;
    C.trout = SENTINEL;
    C.sout = SENTINEL;
    C.dout = SENTINEL;
    C.fout = SENTINEL;
}

static void release_all(void)
{
    cem_flow_free(C.f);
    cem_flow_free(C.f2);
    cem_sampler_free(C.s);
    cem_sampler_free(C.s2);
    cem_trainer_free(C.tr);
    cem_trainer_free(C.tr2);
    cem_model_free(C.m);
    cem_model_free(C.m2);
    cem_model_free(C.e);
    cem_model_free(C.e2);
    cem_model_free(C.g);
    cem_model_free(C.g2);
    cem_dataset_free(C.d);
    cem_dataset_free(C.d2);
    if (C.mout != SENTINEL)
        cem_model_free(C.mout);
    if (C.trout != SENTINEL)
        cem_trainer_free(C.trout);
    if (C.sout != SENTINEL)
        cem_sampler_free(C.sout);
    if (C.dout != SENTINEL)
        cem_dataset_free(C.dout);
    if (C.fout != SENTINEL)
        cem_flow_free(C.fout);
    memset(&C, 0, sizeof C);
}

/* ------------------------------------------------------------ arming */

/* The messages of the handles as they were just before the call. */
typedef struct {
    void **slot;
    void *h;
    const char *(*msg)(const void *);
    char text[300];
} msg_seen;
static msg_seen seen[14];
static int nseen;

static const char *model_msg(const void *h) { return cem_model_errmsg(h); }
static const char *trainer_msg(const void *h) { return cem_trainer_errmsg(h); }
static const char *sampler_msg(const void *h) { return cem_sampler_errmsg(h); }
static const char *dataset_msg(const void *h) { return cem_dataset_errmsg(h); }
static const char *flow_msg(const void *h) { return cem_flow_errmsg(h); }

static void see(void *slot, const char *(*msg)(const void *))
{
    void *h = *(void **)slot;
    if (!h)
        return;
    msg_seen *s = &seen[nseen++];
    s->slot = slot;
    s->h = h;
    s->msg = msg;
    snprintf(s->text, sizeof s->text, "%s", msg(h));
}

static int out_saved = -1, out_file = -1;

/* Just before the call: the handles' messages are noted, another function
 * fails (so that a message naming this one is this call's) and stdout
 * goes to a file. */
static void arm(bad_ctx *c, const char *fn)
{
    nseen = 0;
    see(&C.m, model_msg);
    see(&C.m2, model_msg);
    see(&C.e, model_msg);
    see(&C.e2, model_msg);
    see(&C.g, model_msg);
    see(&C.g2, model_msg);
    see(&C.tr, trainer_msg);
    see(&C.tr2, trainer_msg);
    see(&C.s, sampler_msg);
    see(&C.s2, sampler_msg);
    see(&C.f, flow_msg);
    see(&C.f2, flow_msg);
    see(&C.d, dataset_msg);
    see(&C.d2, dataset_msg);
    if (strcmp(fn, "cem_ou_coefficients") != 0)
        ck_assert_int_eq(cem_ou_coefficients(-1.0, NULL, NULL), CEM_ERR_ARG);
    else
        ck_assert_int_eq(cem_time_grid(CEM_GRID_UNIFORM, 0, 1.0, 2.0, NULL), CEM_ERR_ARG);
    char path[128];
    mkpath(path, sizeof path, "stdout");
    fflush(stdout);
    out_file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    out_saved = dup(1);
    ck_assert(out_file >= 0 && out_saved >= 0);
    dup2(out_file, 1);
    c->armed = 1;
}

static void disarm(bad_ctx *c)
{
    fflush(stdout);
    struct stat st;
    c->printed = fstat(out_file, &st) == 0 ? (long)st.st_size : -1;
    dup2(out_saved, 1);
    close(out_saved);
    close(out_file);
    out_saved = out_file = -1;
    c->armed = 2;
}

/* ------------------------------------------------------------ buffers */

#define KEPT_F 12345.0f
#define KEPT_D 12345.0

static void fill_f(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = KEPT_F;
}

static void fill_d(double *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = KEPT_D;
}

static int kept_f(const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != KEPT_F)
            return 0;
    return 1;
}

static int kept_d(const double *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != KEPT_D)
            return 0;
    return 1;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
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
    *size = got;
    return b;
}

/* CRC-32 (IEEE, as zlib), to reseal a checkpoint after changing a field. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void reseal(unsigned char *b, size_t n)
{
    uint32_t c = crc32_of(b, n - 4);
    memcpy(b + n - 4, &c, 4);
}

static void put_u32(unsigned char *b, size_t at, uint32_t v) { memcpy(b + at, &v, 4); }
static void put_u64(unsigned char *b, size_t at, uint64_t v) { memcpy(b + at, &v, 8); }
static void put_f64(unsigned char *b, size_t at, double v) { memcpy(b + at, &v, 8); }
static uint32_t get_u32(const unsigned char *b, size_t at)
{
    uint32_t v;
    memcpy(&v, b + at, 4);
    return v;
}
static uint64_t get_u64(const unsigned char *b, size_t at)
{
    uint64_t v;
    memcpy(&v, b + at, 8);
    return v;
}

/* docs/CHECKPOINT.md: where the weights begin, and where a trainer's part
 * begins (after the weights and their average). */
static size_t weights_at(const unsigned char *b)
{
    size_t Dm = get_u32(b, 32), M = get_u32(b, 88), A = get_u32(b, 100);
    return 104 + 16 * M + 8 + 8 * Dm + (A ? 8 * Dm + 8 * Dm * Dm : 0);
}

static size_t trainer_part_at(const unsigned char *b)
{
    return weights_at(b) + 8 * (size_t)get_u64(b, 80);
}

/* Ways to damage a checkpoint. */
enum {
    DMG_NONE, DMG_TEXT, DMG_HALF, DMG_HEAD, DMG_FLIP, DMG_APPEND, DMG_VERSION99, DMG_VERSION0,
    DMG_BOM, DMG_WIDTH0, DMG_DIM5000, DMG_TMIN, DMG_TMAX_INF, DMG_NAN_WEIGHT, DMG_OPTION999,
    DMG_KIND2, DMG_STEPS, DMG_HUGE, DMG_LABELS_FLAG2, DMG_LABELS_FLAG0, DMG_UNLABELLED,
    DMG_VERSION3
};

/* Where a format-4 trainer checkpoint's labels flag is (then the labels'
 * CRC-32): after the options, the time bins, the law's bins and the
 * data's size, CRC and dimension. */
static size_t labels_flag_at(const unsigned char *b)
{
    size_t P = get_u32(b, 92), Kb = get_u32(b, 96);
    return trainer_part_at(b) + 8 + 16 * P + 128 + 8 * Kb + 16;
}

/* The checkpoint of C.m (trainer: of C.tr), damaged as asked; *n its size. */
static unsigned char *checkpoint(int trainer, int damage, size_t *n)
{
    void *buf = NULL;
    size_t size = 0;
    int st = trainer ? cem_trainer_save_buffer(C.tr, &buf, &size)
                     : cem_model_save_buffer(C.m, &buf, &size);
    ck_assert_int_eq(st, CEM_OK);
    unsigned char *b = malloc(size + 1);
    memcpy(b, buf, size);
    cem_free(buf);
    switch (damage) {
    case DMG_TEXT: memcpy(b, "0.5,0.25\n1,2\n3,4\n", 16); size = 16; break;
    case DMG_HALF: size /= 2; break;
    case DMG_HEAD: size = 50; break;
    case DMG_FLIP: b[weights_at(b) + 5] ^= 0x10; break;
    case DMG_APPEND: b[size++] = 0; break;
    case DMG_VERSION99: put_u32(b, 8, 99); reseal(b, size); break;
    case DMG_VERSION0: put_u32(b, 8, 0); reseal(b, size); break;
    case DMG_BOM: put_u32(b, 12, 0x0D0C0B0Au); reseal(b, size); break;
    case DMG_WIDTH0: put_u32(b, 40, 0); reseal(b, size); break;
    case DMG_DIM5000: put_u32(b, 32, 5000); reseal(b, size); break;
    case DMG_TMIN: put_f64(b, 64, 20.0); reseal(b, size); break;
    case DMG_TMAX_INF: put_f64(b, 72, INFINITY); reseal(b, size); break;
    case DMG_NAN_WEIGHT: {
        float nan = NAN;
        memcpy(b + weights_at(b) + 4, &nan, 4);
        reseal(b, size);
        break;
    }
    case DMG_OPTION999:
        ck_assert_uint_ge(get_u32(b, 88), 1);
        put_u32(b, 104, 999);
        reseal(b, size);
        break;
    case DMG_KIND2: put_u32(b, 24, 2); reseal(b, size); break;
    case DMG_STEPS: put_u64(b, trainer_part_at(b), ((uint64_t)1 << 62) + 1); reseal(b, size); break;
    case DMG_LABELS_FLAG2:
        ck_assert_uint_eq(get_u32(b, 8), 4);
        put_u32(b, labels_flag_at(b), 2);
        reseal(b, size);
        break;
    case DMG_LABELS_FLAG0: /* the labels' CRC-32 left as it was */
        ck_assert_uint_eq(get_u32(b, labels_flag_at(b)), 1);
        put_u32(b, labels_flag_at(b), 0);
        reseal(b, size);
        break;
    case DMG_UNLABELLED: /* what a trainer made by cem_trainer_create writes */
        ck_assert_uint_eq(get_u32(b, labels_flag_at(b)), 1);
        put_u32(b, labels_flag_at(b), 0);
        put_u32(b, labels_flag_at(b) + 4, 0);
        reseal(b, size);
        break;
    case DMG_VERSION3: put_u32(b, 8, 3); reseal(b, size); break;
    case DMG_HUGE: { /* WIDTH 8192, DEPTH 64 and the parameter count they imply */
        uint64_t Dm = get_u32(b, 32), E = get_u32(b, 36), H = 8192, L = 64;
        put_u32(b, 40, (uint32_t)H);
        put_u32(b, 44, (uint32_t)L);
        put_u64(b, 80, H * (Dm + E) + H + (L - 1) * (H * H + H) + Dm * H + Dm);
        reseal(b, size);
        break;
    }
    default: break;
    }
    *n = size;
    return b;
}

/* Sets C.m's and C.m2's weights to 1e30 and runs C.s and C.s2 once: every
 * row diverges, on both twins alike. */
static void diverge_both(void)
{
    size_t np = cem_model_param_count(C.m);
    float *w = malloc(sizeof(float) * np), out[4 * D];
    for (size_t i = 0; i < np; i++)
        w[i] = 1e30f;
    ck_assert_int_eq(cem_model_set_params(C.m, 2, w, np), CEM_OK);
    ck_assert_int_eq(cem_model_set_params(C.m2, 2, w, np), CEM_OK);
    free(w);
    ck_assert_int_eq(cem_sampler_run(C.s, 4, out), CEM_ERR_DIVERGED);
    ck_assert_int_eq(cem_sampler_run(C.s2, 4, out), CEM_ERR_DIVERGED);
    ck_assert_uint_eq(cem_sampler_diverged_rows(C.s), 4);
}

/* Option tables: one bad value per case. */
typedef struct {
    char on; /* the handle: 'm' C.m, 'e' C.e, 'g' C.g, 't' C.tr, 's' C.s, 'd' C.d; 0 NULL */
    int opt;
    double value;
    unsigned env;
    int expect;
    const char *what;
    int pre; /* a step done to the handle and its twin first */
} opt_case;

static int opt_case_of(const opt_case *t, size_t n, int v, bad_ctx *c)
{
    if (v < 0 || (size_t)v >= n)
        return NO_CASE;
    c->env = t[v].env;
    c->expect = t[v].expect;
    c->what = t[v].what;
    return 0;
}

static cem_model_t *model_on(char on)
{
    return on == 'm' ? C.m : on == 'e' ? C.e : on == 'g' ? C.g : NULL;
}

/* ====================================================== version and status */

static int version_number_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "no input: the version of the linked library") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_version_number");
    unsigned n = cem_version_number();
    disarm(c);
    int ok = n == CEM_VERSION_NUMBER && CEM_VERSION_COMPATIBLE(n);
    snprintf(c->result, sizeof c->result, ok ? "returns `CEM_VERSION_NUMBER`" : "returns %u", n);
    return ok;
}

static int version_string_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "no input: the version as text") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_version_string");
    const char *s = cem_version_string();
    disarm(c);
    char want[48];
    snprintf(want, sizeof want, "%d.%d.%d", CEM_VERSION_MAJOR, CEM_VERSION_MINOR,
             CEM_VERSION_PATCH);
    int ok = s && strcmp(s, want) == 0;
    snprintf(c->result, sizeof c->result, ok ? "returns \"MAJOR.MINOR.PATCH\" of the header"
                                             : "returns \"%s\"", s ? s : "(NULL)");
    return ok;
}

static int status_string_cases(int v, bad_ctx *c)
{
    int code = 0;
    switch (v) {
    CASE(0, 0, VALUE, "status 1 (positive: no status is)") code = 1; break;
    CASE(1, 0, VALUE, "status -19 (one below the last, CEM_ERR_REDUCE)") code = -19; break;
    CASE(2, 0, VALUE, "status INT_MIN") code = INT_MIN; break;
    CASE(3, 0, VALUE, "status INT_MAX") code = INT_MAX; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_status_string");
    const char *s = cem_status_string(code);
    disarm(c);
    snprintf(c->result, sizeof c->result, "returns \"%s\"", s ? s : "(NULL)");
    return s && strcmp(s, "unknown status") == 0;
}

/* cem_grid_name and cem_integrator_name: values that are not enum members */
static int enum_name_case(int v, bad_ctx *c, int grid)
{
    int value = 0;
    switch (v) {
    CASE(0, 0, VALUE, "-1") value = -1; break;
    CASE(1, 0, VALUE, grid ? "4 (one past EDM)" : "8 (one past DPMPP_3M)") value = grid ? 4 : 8; break;
    CASE(2, 0, VALUE, "INT_MIN") value = INT_MIN; break;
    CASE(3, 0, VALUE, "INT_MAX") value = INT_MAX; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, grid ? "cem_grid_name" : "cem_integrator_name");
    const char *s = grid ? cem_grid_name((cem_grid)value)
                         : cem_integrator_name((cem_integrator)value);
    disarm(c);
    snprintf(c->result, sizeof c->result, "returns %s", s ? s : "NULL");
    return s == NULL;
}

static int grid_name_cases(int v, bad_ctx *c) { return enum_name_case(v, c, 1); }
static int integrator_name_cases(int v, bad_ctx *c) { return enum_name_case(v, c, 0); }

static void *read_last_error(void *arg)
{
    snprintf(arg, 300, "%s", cem_last_error());
    return NULL;
}

static int last_error_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "read on a new thread, where no call has failed") break;
    CASE(1, 0, VALUE, "read after a failure and then a successful call") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    char seen_text[300] = "(not read)", before[300];
    arm(c, "cem_last_error");
    if (v == 0) {
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, read_last_error, seen_text), 0);
        pthread_join(th, NULL);
    } else {
        snprintf(before, sizeof before, "%s", cem_last_error());
        ck_assert_int_eq(cem_ou_coefficients(1.0, NULL, NULL), CEM_OK);
        snprintf(seen_text, sizeof seen_text, "%s", cem_last_error());
    }
    disarm(c);
    if (v == 0) {
        snprintf(c->result, sizeof c->result, "returns \"%.100s\"", seen_text);
        return seen_text[0] == '\0';
    }
    int ok = before[0] && strcmp(before, seen_text) == 0;
    snprintf(c->result, sizeof c->result,
             ok ? "returns the failure's message (the success left it)" : "returns \"%.100s\"",
             seen_text);
    return ok;
}

static int free_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_free");
    cem_free(NULL);
    disarm(c);
    snprintf(c->result, sizeof c->result, "no effect");
    return 1;
}

/* ====================================================== forward process */

static int ou_coefficients_cases(int v, bad_ctx *c)
{
    double t = 1.0;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "t = -1") t = -1.0; break;
    CASE(1, 0, CEM_ERR_ARG, "t = -1e-300 (negative, tiny)") t = -1e-300; break;
    CASE(2, 0, CEM_ERR_ARG, "t = NaN") t = NAN; break;
    CASE(3, 0, CEM_ERR_ARG, "t = +Inf") t = INFINITY; break;
    CASE(4, 0, CEM_ERR_ARG, "t = -Inf") t = -INFINITY; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    double a = KEPT_D, s2 = KEPT_D;
    arm(c, "cem_ou_coefficients");
    int st = cem_ou_coefficients(t, &a, &s2);
    disarm(c);
    ck_assert_msg(st == CEM_OK || (a == KEPT_D && s2 == KEPT_D), "outputs written on error");
    return st;
}

static int convert_cases(int v, bad_ctx *c)
{
    float x[3 * D] = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f};
    float in[3 * D] = {0.5f, 0.1f, -0.3f, 0.2f, 0.0f, 0.7f};
    float out[3 * D], *po = out;
    double t[3] = {0.5, 1.0, 2.0};
    const float *px = x, *pin = in;
    const double *pt = t;
    int from = CEM_TARGET_CEM, to = CEM_TARGET_SCORE, dim = D;
    size_t n = 3;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "x NULL with n = 3") px = NULL; break;
    CASE(1, 0, CEM_ERR_ARG, "t NULL with n = 3") pt = NULL; break;
    CASE(2, 0, CEM_ERR_ARG, "in NULL with n = 3") pin = NULL; break;
    CASE(3, 0, CEM_ERR_ARG, "out NULL with n = 3") po = NULL; break;
    CASE(4, 0, CEM_ERR_ARG, "dim 0") dim = 0; break;
    CASE(5, 0, CEM_ERR_ARG, "dim -1") dim = -1; break;
    CASE(6, 0, CEM_ERR_ARG, "from = 3 (not a cem_target)") from = 3; break;
    CASE(7, 0, CEM_ERR_ARG, "to = -1 (not a cem_target)") to = -1; break;
    CASE(8, 0, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
    CASE(9, 0, CEM_ERR_ARG, "t[1] = 0") t[1] = 0.0; break;
    CASE(10, 0, CEM_ERR_ARG, "t[2] = -1") t[2] = -1.0; break;
    CASE(11, 0, CEM_ERR_ARG, "t[0] = NaN") t[0] = NAN; break;
    CASE(12, 0, CEM_ERR_ARG, "t[0] = +Inf") t[0] = INFINITY; break;
    CASE(13, 0, CEM_ERR_NONFINITE, "NaN in x row 1") x[2] = NAN; break;
    CASE(14, 0, CEM_ERR_NONFINITE, "+Inf in `in` row 2") in[5] = INFINITY; break;
    CASE(15, 0, CEM_ERR_NUMERIC, "NOISE into CEM at t = 2000 (alpha_t is 0 in double)")
        from = CEM_TARGET_NOISE;
        to = CEM_TARGET_CEM;
        t[1] = 2000.0;
        break;
    CASE(16, 0, CEM_ERR_NUMERIC, "CEM into SCORE at t = 1e-300 (divides by sigma_t^2 ~ t)")
        t[2] = 1e-300;
        break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    fill_f(out, N_OF(out));
    arm(c, "cem_convert");
    int st = cem_convert((cem_target)from, (cem_target)to, n, dim, px, pt, pin, po);
    disarm(c);
    ck_assert_msg(st == CEM_OK || kept_f(out, N_OF(out)), "out written on error");
    return st;
}

static int time_grid_cases(int v, bad_ctx *c)
{
    int kind = CEM_GRID_EXPONENTIAL, N = 5;
    double t1 = 1e-3, T = 10.0, out[8], *po = out;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "N = 1") N = 1; break;
    CASE(1, 0, CEM_ERR_ARG, "N = 0") N = 0; break;
    CASE(2, 0, CEM_ERR_ARG, "N = INT_MIN") N = INT_MIN; break;
    CASE(3, 0, CEM_ERR_ARG, "t1 = 0") t1 = 0.0; break;
    CASE(4, 0, CEM_ERR_ARG, "t1 = -1") t1 = -1.0; break;
    CASE(5, 0, CEM_ERR_ARG, "t1 = T = 1") t1 = T = 1.0; break;
    CASE(6, 0, CEM_ERR_ARG, "t1 = 2 > T = 1") t1 = 2.0; T = 1.0; break;
    CASE(7, 0, CEM_ERR_ARG, "t1 = NaN") t1 = NAN; break;
    CASE(8, 0, CEM_ERR_ARG, "T = NaN") T = NAN; break;
    CASE(9, 0, CEM_ERR_ARG, "T = +Inf") T = INFINITY; break;
    CASE(10, 0, CEM_ERR_ARG, "t1 = -Inf") t1 = -INFINITY; break;
    CASE(11, 0, CEM_ERR_ARG, "kind 4 (not a cem_grid)") kind = 4; break;
    CASE(12, 0, CEM_ERR_ARG, "kind -1") kind = -1; break;
    CASE(13, 0, CEM_ERR_ARG, "out NULL") po = NULL; break;
    CASE(14, 0, CEM_ERR_ARG, "EXPONENTIAL, N = 5 between 1 and the next double (too narrow)")
        t1 = 1.0;
        T = nextafter(1.0, 2.0);
        break;
    CASE(15, 0, CEM_ERR_ARG, "UNIFORM, N = 5 between 1 and the next double (too narrow)")
        kind = CEM_GRID_UNIFORM;
        t1 = 1.0;
        T = nextafter(1.0, 2.0);
        break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    fill_d(out, N_OF(out));
    arm(c, "cem_time_grid");
    int st = cem_time_grid((cem_grid)kind, N, t1, T, po);
    disarm(c);
    ck_assert_msg(st == CEM_OK || kept_d(out, N_OF(out)), "out written on error");
    return st;
}

static int time_law_sample_cases(int v, bad_ctx *c)
{
    int law = CEM_TIMELAW_GRID, N = 10;
    double t1 = 1e-3, T = 10.0, out[4], *po = out;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "law 5 (not a cem_time_law)") law = 5; break;
    CASE(1, 0, CEM_ERR_ARG, "law -1") law = -1; break;
    CASE(2, 0, CEM_ERR_UNSUPPORTED, "law ADAPTIVE (exists only inside a trainer)")
        law = CEM_TIMELAW_ADAPTIVE;
        break;
    CASE(3, 0, CEM_ERR_ARG, "GRID with N = 1") N = 1; break;
    CASE(4, 0, CEM_ERR_ARG, "UNIFORM with N = 1 (N >= 2 for every law)")
        law = CEM_TIMELAW_UNIFORM;
        N = 1;
        break;
    CASE(5, 0, CEM_ERR_ARG, "t1 = 0") t1 = 0.0; break;
    CASE(6, 0, CEM_ERR_ARG, "t1 = T = 1") t1 = T = 1.0; break;
    CASE(7, 0, CEM_ERR_ARG, "LOGNORMAL with T = +Inf") law = CEM_TIMELAW_LOGNORMAL; T = INFINITY; break;
    CASE(8, 0, CEM_ERR_ARG, "LOGUNIFORM with t1 = NaN") law = CEM_TIMELAW_LOGUNIFORM; t1 = NAN; break;
    CASE(9, 0, CEM_ERR_ARG, "out NULL with n = 4") po = NULL; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    fill_d(out, N_OF(out));
    arm(c, "cem_time_law_sample");
    int st = cem_time_law_sample((cem_time_law)law, N, t1, T, 1, 4, po);
    disarm(c);
    ck_assert_msg(st == CEM_OK || kept_d(out, N_OF(out)), "out written on error");
    return st;
}

/* ====================================================== models */

static int create_mlp_cases(int v, bad_ctx *c)
{
    cem_model_t **out = &C.mout;
    int dim = D, target = CEM_TARGET_CEM;
    c->outs = O_M;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "out NULL") out = NULL; c->outs = 0; break;
    CASE(1, 0, CEM_ERR_ARG, "dim 0") dim = 0; break;
    CASE(2, 0, CEM_ERR_ARG, "dim -1") dim = -1; break;
    CASE(3, 0, CEM_ERR_ARG, "dim 4097 (above 4096)") dim = 4097; break;
    CASE(4, 0, CEM_ERR_ARG, "dim INT_MAX") dim = INT_MAX; break;
    CASE(5, 0, CEM_ERR_ARG, "target 3 (not a cem_target)") target = 3; break;
    CASE(6, 0, CEM_ERR_ARG, "target -1") target = -1; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_model_create_mlp");
    int st = cem_model_create_mlp(out, dim, (cem_target)target);
    disarm(c);
    return st;
}

static int create_empirical_cases(int v, bad_ctx *c)
{
    float pts[NDATA * D];
    memcpy(pts, data, sizeof pts);
    cem_model_t **out = &C.mout;
    const float *pp = pts;
    size_t n = NDATA;
    int dim = D;
    c->outs = O_M;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "out NULL") out = NULL; c->outs = 0; break;
    CASE(1, 0, CEM_ERR_ARG, "points NULL with n = 16") pp = NULL; break;
    CASE(2, 0, CEM_ERR_ARG, "n = 0") n = 0; break;
    CASE(3, 0, CEM_ERR_ARG, "dim 0") dim = 0; break;
    CASE(4, 0, CEM_ERR_ARG, "dim -1") dim = -1; break;
    CASE(5, 0, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
    CASE(6, 0, CEM_ERR_ARG, "n = 2^31 points (above INT_MAX)") n = (size_t)1 << 31; break;
    CASE(7, 0, CEM_ERR_NONFINITE, "NaN in point row 3") pts[3 * D + 1] = NAN; break;
    CASE(8, 0, CEM_ERR_NONFINITE, "-Inf in point row 15") pts[15 * D] = -INFINITY; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_model_create_empirical");
    int st = cem_model_create_empirical(out, pp, n, dim);
    disarm(c);
    return st;
}

static int create_gaussian_cases(int v, bad_ctx *c)
{
    float mean[D] = {0.2f, -0.1f}, cov[D * D] = {1.1f, 0.3f, 0.3f, 0.2f};
    cem_model_t **out = &C.mout;
    const float *pm = mean, *pc = cov;
    int dim = D;
    c->outs = O_M;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "out NULL") out = NULL; c->outs = 0; break;
    CASE(1, 0, CEM_ERR_ARG, "mean NULL") pm = NULL; break;
    CASE(2, 0, CEM_ERR_ARG, "cov NULL") pc = NULL; break;
    CASE(3, 0, CEM_ERR_ARG, "dim 0") dim = 0; break;
    CASE(4, 0, CEM_ERR_ARG, "dim -2") dim = -2; break;
    CASE(5, 0, CEM_ERR_ARG, "dim 4097 (above 4096)") dim = 4097; break;
    CASE(6, 0, CEM_ERR_NONFINITE, "NaN in mean") mean[1] = NAN; break;
    CASE(7, 0, CEM_ERR_NONFINITE, "+Inf in cov") cov[3] = INFINITY; break;
    CASE(8, 0, CEM_ERR_NUMERIC, "cov not symmetric (0.3 above the diagonal, -0.3 below)")
        cov[2] = -0.3f;
        break;
    CASE(9, 0, CEM_ERR_NUMERIC, "cov not positive semidefinite (eigenvalues 1 and -1)")
        cov[0] = 1.0f;
        cov[1] = cov[2] = 0.0f;
        cov[3] = -1.0f;
        break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_model_create_gaussian");
    int st = cem_model_create_gaussian(out, pm, pc, dim);
    disarm(c);
    return st;
}

static int create_empirical_labelled_cases(int v, bad_ctx *c)
{
    float pts[NDATA * D];
    int labels[NDATA];
    memcpy(pts, data, sizeof pts);
    for (int i = 0; i < NDATA; i++)
        labels[i] = i % 3;
    cem_model_t **out = &C.mout;
    const float *pp = pts;
    const int *pl = labels;
    size_t n = NDATA;
    int dim = D;
    c->outs = O_M;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "out NULL") out = NULL; c->outs = 0; break;
    CASE(1, 0, CEM_ERR_ARG, "points NULL with n = 16") pp = NULL; break;
    CASE(2, 0, CEM_ERR_ARG, "labels NULL") pl = NULL; break;
    CASE(3, 0, CEM_ERR_ARG, "n = 0") n = 0; break;
    CASE(4, 0, CEM_ERR_ARG, "dim 0") dim = 0; break;
    CASE(5, 0, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
    CASE(6, 0, CEM_ERR_ARG, "a label -1 (row 3)") labels[3] = -1; break;
    CASE(7, 0, CEM_ERR_ARG, "class 1 without points (labels 0 and 2 only)")
        for (int i = 0; i < NDATA; i++)
            labels[i] = labels[i] == 1 ? 2 : labels[i];
        break;
    CASE(8, 0, CEM_ERR_ARG, "a label 65536 (65537 classes, above 65536)") labels[0] = 65536; break;
    CASE(9, 0, CEM_ERR_NONFINITE, "NaN in point row 5") pts[5 * D] = NAN; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_model_create_empirical_labelled");
    int st = cem_model_create_empirical_labelled(out, pp, pl, n, dim);
    disarm(c);
    return st;
}

static int create_mixture_cases(int v, bad_ctx *c)
{
    double w[2] = {1.0, 3.0};
    float mean[2 * D] = {0.2f, -0.1f, -1.0f, 1.0f};
    float cov[2 * D * D] = {1.1f, 0.3f, 0.3f, 0.2f, 0.5f, 0.0f, 0.0f, 0.0f};
    cem_model_t **out = &C.mout;
    const double *pw = w;
    const float *pm = mean, *pc = cov;
    int K = 2, dim = D;
    c->outs = O_M;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "out NULL") out = NULL; c->outs = 0; break;
    CASE(1, 0, CEM_ERR_ARG, "K 0") K = 0; break;
    CASE(2, 0, CEM_ERR_ARG, "K 1025 (above 1024)") K = 1025; pw = NULL; break;
    CASE(3, 0, CEM_ERR_ARG, "dim 0") dim = 0; break;
    CASE(4, 0, CEM_ERR_ARG, "dim 4097 (above 4096)") dim = 4097; break;
    CASE(5, 0, CEM_ERR_ARG, "means NULL") pm = NULL; break;
    CASE(6, 0, CEM_ERR_ARG, "covs NULL") pc = NULL; break;
    CASE(7, 0, CEM_ERR_ARG, "K dim^2 above 2^28 (K 17, dim 4096)") K = 17; dim = 4096; pw = NULL; break;
    CASE(8, 0, CEM_ERR_ARG, "weight 0 (component 1)") w[1] = 0.0; break;
    CASE(9, 0, CEM_ERR_ARG, "weight -1 (component 0)") w[0] = -1.0; break;
    CASE(10, 0, CEM_ERR_ARG, "weight NaN") w[1] = NAN; break;
    CASE(11, 0, CEM_ERR_ARG, "weight +Inf") w[0] = INFINITY; break;
    CASE(12, 0, CEM_ERR_NONFINITE, "NaN in the mean of component 1") mean[D + 1] = NAN; break;
    CASE(13, 0, CEM_ERR_NONFINITE, "+Inf in the cov of component 0") cov[3] = INFINITY; break;
    CASE(14, 0, CEM_ERR_NUMERIC, "cov of component 1 not symmetric (0.3 above the diagonal, 0 below)")
        cov[D * D + 1] = 0.3f;
        break;
    CASE(15, 0, CEM_ERR_NUMERIC, "cov of component 0 not positive semidefinite (eigenvalues 1 and -1)")
        cov[0] = 1.0f;
        cov[1] = cov[2] = 0.0f;
        cov[3] = -1.0f;
        break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_model_create_mixture");
    int st = cem_model_create_mixture(out, K, pw, pm, pc, dim);
    disarm(c);
    return st;
}

/* cem_model_eval (at = 0) and cem_model_eval_at (at = 1). */
static int eval_cases(int v, bad_ctx *c, int at)
{
    const char *fn = at ? "cem_model_eval_at" : "cem_model_eval";
    float x[4 * D] = {0.3f, -0.2f, 1.1f, 0.4f, -0.7f, 0.9f, 2.0f, -1.5f}, out[4 * D];
    double t[4] = {0.01, 0.3, 1.0, 4.0}, ts = 0.3;
    cem_model_t *m = C.m;
    const float *px = x;
    const double *pt = t;
    float *po = out;
    int what = CEM_TARGET_CEM;
    size_t n = 4;
    c->rule = 'c';
    if (!at) {
        switch (v) {
        CASE(0, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
        CASE(1, MLP, CEM_ERR_ARG, "target 3 (not a cem_target)") what = 3; break;
        CASE(2, MLP, CEM_ERR_ARG, "target -1") what = -1; break;
        CASE(3, MLP, CEM_ERR_ARG, "x NULL with n = 4") px = NULL; break;
        CASE(4, MLP, CEM_ERR_ARG, "t NULL with n = 4") pt = NULL; break;
        CASE(5, MLP, CEM_ERR_ARG, "out NULL with n = 4") po = NULL; break;
        CASE(6, MLP, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
        CASE(7, MLP, CEM_ERR_ARG, "t[1] = 0") t[1] = 0.0; break;
        CASE(8, MLP, CEM_ERR_ARG, "t[2] = -1") t[2] = -1.0; break;
        CASE(9, MLP, CEM_ERR_ARG, "t[0] = NaN") t[0] = NAN; break;
        CASE(10, MLP, CEM_ERR_ARG, "t[3] = +Inf") t[3] = INFINITY; break;
        CASE(11, MLP, CEM_ERR_NONFINITE, "NaN in x row 3") x[3 * D + 1] = NAN; break;
        CASE(12, MLP, CEM_ERR_NONFINITE, "-Inf in x row 0") x[0] = -INFINITY; break;
        CASE(13, NOISE, CEM_ERR_NUMERIC, "NOISE MLP: CEM at t = 2000 (divides by alpha_t = 0)")
            t[3] = 2000.0;
            break;
        CASE(14, EMP, CEM_ERR_NONFINITE, "empirical model: NaN in x row 2") m = C.e; x[2 * D] = NAN; break;
        CASE(15, EMP, CEM_ERR_NUMERIC, "empirical model: SCORE at t = 1e-300")
            m = C.e;
            what = CEM_TARGET_SCORE;
            t[0] = 1e-300;
            break;
        CASE(16, GAUSS, CEM_ERR_ARG, "Gaussian model: t[0] = 0") m = C.g; t[0] = 0.0; break;
        default: return NO_CASE;
        }
    } else {
        switch (v) {
        CASE(0, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
        CASE(1, MLP, CEM_ERR_ARG, "target 3 (not a cem_target)") what = 3; break;
        CASE(2, MLP, CEM_ERR_ARG, "x NULL with n = 4") px = NULL; break;
        CASE(3, MLP, CEM_ERR_ARG, "out NULL with n = 4") po = NULL; break;
        CASE(4, MLP, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
        CASE(5, MLP, CEM_ERR_ARG, "t = 0") ts = 0.0; break;
        CASE(6, MLP, CEM_ERR_ARG, "t = -1") ts = -1.0; break;
        CASE(7, MLP, CEM_ERR_ARG, "t = NaN") ts = NAN; break;
        CASE(8, MLP, CEM_ERR_ARG, "t = +Inf") ts = INFINITY; break;
        CASE(9, MLP, CEM_ERR_ARG, "t = -Inf") ts = -INFINITY; break;
        CASE(10, MLP, CEM_ERR_NONFINITE, "NaN in x row 1") x[D] = NAN; break;
        CASE(11, NOISE, CEM_ERR_NUMERIC, "NOISE MLP: CEM at t = 2000 (divides by alpha_t = 0)")
            ts = 2000.0;
            break;
        CASE(12, EMP, CEM_ERR_NONFINITE, "empirical model: +Inf in x row 3") m = C.e; x[3 * D] = INFINITY; break;
        CASE(13, GAUSS, CEM_ERR_NUMERIC, "Gaussian model: SCORE at t = 1e-300")
            m = C.g;
            what = CEM_TARGET_SCORE;
            ts = 1e-300;
            break;
        default: return NO_CASE;
        }
    }
    if (c->describe)
        return 0;
    c->hmsg = m ? cem_model_errmsg(m) : NULL;
    arm(c, fn);
    int st = at ? cem_model_eval_at(m, (cem_target)what, n, px, ts, po)
                : cem_model_eval(m, (cem_target)what, n, px, pt, po);
    disarm(c);
    return st;
}

static int model_eval_cases(int v, bad_ctx *c) { return eval_cases(v, c, 0); }
static int model_eval_at_cases(int v, bad_ctx *c) { return eval_cases(v, c, 1); }

/* cem_model_eval_labelled on the unlabelled kinds (LABELS 0), which take
 * CEM_LABEL_NONE alone, and on an MLP of 3 classes (labels -1 .. 2). */
static int model_eval_labelled_cases(int v, bad_ctx *c)
{
    float x[4 * D] = {0.3f, -0.2f, 1.1f, 0.4f, -0.7f, 0.9f, 2.0f, -1.5f}, out[4 * D];
    double t[4] = {0.01, 0.3, 1.0, 4.0};
    int lab[4] = {CEM_LABEL_NONE, CEM_LABEL_NONE, CEM_LABEL_NONE, CEM_LABEL_NONE};
    cem_model_t *m = C.e;
    const float *px = x;
    const double *pt = t;
    const int *pl = lab;
    int what = CEM_TARGET_CEM;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
    CASE(1, EMP, CEM_ERR_ARG, "empirical model: label 0 (it has no classes)") lab[2] = 0; break;
    CASE(2, EMP, CEM_ERR_ARG, "empirical model: label -2") lab[0] = -2; break;
    CASE(3, GAUSS, CEM_ERR_ARG, "Gaussian model: label 1 (it has no classes)") m = C.g; lab[3] = 1; break;
    CASE(4, EMP, CEM_ERR_ARG, "t NULL with n = 4") pt = NULL; break;
    CASE(5, EMP, CEM_ERR_ARG, "x NULL with n = 4") px = NULL; break;
    CASE(6, EMP, CEM_ERR_ARG, "target 3 (not a cem_target)") what = 3; break;
    CASE(7, EMP, CEM_ERR_ARG, "t[1] = 0") t[1] = 0.0; break;
    CASE(8, EMP, CEM_ERR_NONFINITE, "NaN in x row 2") x[2 * D] = NAN; break;
    CASE(9, EMP, CEM_ERR_NUMERIC, "empirical model: SCORE at t = 1e-300")
        what = CEM_TARGET_SCORE;
        t[0] = 1e-300;
        break;
    CASE(10, EMP, CEM_OK, "labels NULL (every row CEM_LABEL_NONE)") pl = NULL; break;
    CASE(11, LAB, CEM_ERR_ARG, "MLP of 3 classes: label 3 (row 1)") m = C.m; lab[1] = NCLS; break;
    CASE(12, LAB, CEM_ERR_ARG, "MLP of 3 classes: label -2 (row 3)") m = C.m; lab[3] = -2; break;
    CASE(13, LAB, CEM_ERR_ARG, "MLP of 3 classes: label INT_MAX (row 0)") m = C.m; lab[0] = INT_MAX; break;
    CASE(14, LAB, CEM_ERR_NONFINITE, "MLP of 3 classes, labels 0 .. 2: NaN in x row 0")
        m = C.m;
        lab[0] = 0;
        lab[1] = 1;
        lab[2] = 2;
        x[1] = NAN;
        break;
    CASE(15, LAB, CEM_ERR_ARG, "MLP of 3 classes, labels 0 .. 2: t[2] = -1")
        m = C.m;
        lab[0] = 0;
        lab[1] = 1;
        lab[2] = 2;
        t[2] = -1.0;
        break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    c->hmsg = m ? cem_model_errmsg(m) : NULL;
    arm(c, "cem_model_eval_labelled");
    int st = cem_model_eval_labelled(m, (cem_target)what, 4, px, pt, pl, out);
    disarm(c);
    return st;
}

enum { PRE_WIDE = 1 };

static const opt_case MODEL_SET[] = {
    {0, CEM_MODEL_T_MIN, 0.01, 0, CEM_ERR_ARG, "NULL model", 0},
    {'m', 0, 1, MLP, CEM_ERR_ARG, "option id 0 (ids start at 1)", 0},
    {'m', 12, 1, MLP, CEM_ERR_ARG, "option id 12 (one past CEM_MODEL_LABEL_EMBED)", 0},
    {'m', -1, 1, MLP, CEM_ERR_ARG, "option id -1", 0},
    {'m', 999, 1, MLP, CEM_ERR_ARG, "option id 999", 0},
    {'m', CEM_MODEL_T_MIN, 0, MLP, CEM_ERR_RANGE, "T_MIN 0 (bounds [1e-8, 50])", 0},
    {'m', CEM_MODEL_T_MIN, -1e-3, MLP, CEM_ERR_RANGE, "T_MIN -1e-3", 0},
    {'m', CEM_MODEL_T_MIN, NAN, MLP, CEM_ERR_RANGE, "T_MIN NaN", 0},
    {'m', CEM_MODEL_T_MIN, INFINITY, MLP, CEM_ERR_RANGE, "T_MIN +Inf", 0},
    {'m', CEM_MODEL_T_MIN, 20, MLP, CEM_ERR_RANGE, "T_MIN 20 > T_MAX 10 (each within its bounds)", 0},
    {'m', CEM_MODEL_T_MIN, 10, MLP, CEM_ERR_RANGE, "T_MIN 10 = T_MAX", 0},
    {'m', CEM_MODEL_T_MAX, 1e-3, MLP, CEM_ERR_RANGE, "T_MAX 1e-3 (bounds [0.1, 100])", 0},
    {'m', CEM_MODEL_T_MAX, 101, MLP, CEM_ERR_RANGE, "T_MAX 101", 0},
    {'m', CEM_MODEL_T_MAX, -INFINITY, MLP, CEM_ERR_RANGE, "T_MAX -Inf", 0},
    {'m', CEM_MODEL_WIDTH, 0, MLP, CEM_ERR_RANGE, "WIDTH 0 (bounds [1, 8192])", 0},
    {'m', CEM_MODEL_WIDTH, 8193, MLP, CEM_ERR_RANGE, "WIDTH 8193", 0},
    {'m', CEM_MODEL_WIDTH, 8.5, MLP, CEM_ERR_RANGE, "WIDTH 8.5 (not a whole number)", 0},
    {'m', CEM_MODEL_WIDTH, NAN, MLP, CEM_ERR_RANGE, "WIDTH NaN", 0},
    {'m', CEM_MODEL_DEPTH, 0, MLP, CEM_ERR_RANGE, "DEPTH 0 (bounds [1, 64])", 0},
    {'m', CEM_MODEL_DEPTH, 65, MLP, CEM_ERR_RANGE, "DEPTH 65", 0},
    {'m', CEM_MODEL_DEPTH, 64, MLP, CEM_ERR_RANGE,
     "DEPTH 64 at WIDTH 8192: 4.2e9 parameters (more than 2^31)", PRE_WIDE},
    {'m', CEM_MODEL_ACTIVATION, 3, MLP, CEM_ERR_RANGE, "ACTIVATION 3 (not a cem_activation)", 0},
    {'m', CEM_MODEL_ACTIVATION, -1, MLP, CEM_ERR_RANGE, "ACTIVATION -1", 0},
    {'m', CEM_MODEL_EMBED, 0, MLP, CEM_ERR_RANGE, "EMBED 0 (bounds [2, 1024])", 0},
    {'m', CEM_MODEL_EMBED, 5, MLP, CEM_ERR_RANGE, "EMBED 5 (odd)", 0},
    {'m', CEM_MODEL_EMBED, 1026, MLP, CEM_ERR_RANGE, "EMBED 1026 (even, above 1024)", 0},
    {'m', CEM_MODEL_SEED, -1, MLP, CEM_ERR_RANGE, "SEED -1 (bounds [0, 2^53])", 0},
    {'m', CEM_MODEL_SEED, TWO_53_PLUS_2, MLP, CEM_ERR_RANGE, "SEED 2^53 + 2", 0},
    {'m', CEM_MODEL_SEED, 0.5, MLP, CEM_ERR_RANGE, "SEED 0.5", 0},
    {'m', CEM_MODEL_SEED, INFINITY, MLP, CEM_ERR_RANGE, "SEED +Inf", 0},
    {'m', CEM_MODEL_USE_EMA, 2, MLP, CEM_ERR_RANGE, "USE_EMA 2", 0},
    {'m', CEM_MODEL_USE_EMA, 0.5, MLP, CEM_ERR_RANGE, "USE_EMA 0.5", 0},
    {'m', CEM_MODEL_USE_EMA, NAN, MLP, CEM_ERR_RANGE, "USE_EMA NaN", 0},
    {'m', CEM_MODEL_PARAM, 3, MLP, CEM_ERR_RANGE, "PARAM 3 (not a cem_param)", 0},
    {'m', CEM_MODEL_PARAM, -1, MLP, CEM_ERR_RANGE, "PARAM -1", 0},
    {'m', CEM_MODEL_PARAM, CEM_PARAM_PRECOND, NOISE, CEM_ERR_UNSUPPORTED, "PARAM PRECOND on a NOISE model", 0},
    {'m', CEM_MODEL_PARAM, CEM_PARAM_PRECOND_PCA, NOISE, CEM_ERR_UNSUPPORTED,
     "PARAM PRECOND_PCA on a NOISE model", 0},
    {'m', CEM_MODEL_LABELS, -1, MLP, CEM_ERR_RANGE, "LABELS -1 (bounds [0, 65536])", 0},
    {'m', CEM_MODEL_LABELS, 65537, MLP, CEM_ERR_RANGE, "LABELS 65537", 0},
    {'m', CEM_MODEL_LABELS, 2.5, MLP, CEM_ERR_RANGE, "LABELS 2.5", 0},
    {'m', CEM_MODEL_LABELS, NAN, MLP, CEM_ERR_RANGE, "LABELS NaN", 0},
    {'m', CEM_MODEL_LABELS, INFINITY, LAB, CEM_ERR_RANGE, "LABELS +Inf on a model of 3 classes", 0},
    {'m', CEM_MODEL_LABEL_EMBED, 0, MLP, CEM_ERR_RANGE, "LABEL_EMBED 0 (bounds [1, 1024])", 0},
    {'m', CEM_MODEL_LABEL_EMBED, 1025, LAB, CEM_ERR_RANGE, "LABEL_EMBED 1025 on a model of 3 classes", 0},
    {'m', CEM_MODEL_LABEL_EMBED, -INFINITY, MLP, CEM_ERR_RANGE, "LABEL_EMBED -Inf", 0},
    {'m', CEM_MODEL_LABEL_EMBED, 1.5, MLP, CEM_ERR_RANGE, "LABEL_EMBED 1.5", 0},
    {'e', CEM_MODEL_WIDTH, 16, EMP, CEM_ERR_UNSUPPORTED, "WIDTH 16 on an empirical model", 0},
    {'g', CEM_MODEL_DEPTH, 2, GAUSS, CEM_ERR_UNSUPPORTED, "DEPTH 2 on a Gaussian model", 0},
    {'e', CEM_MODEL_LABELS, 3, EMP, CEM_ERR_UNSUPPORTED,
     "LABELS 3 on an empirical model (a closed form's classes come from its data)", 0},
    {'g', CEM_MODEL_LABELS, 0, GAUSS, CEM_ERR_UNSUPPORTED, "LABELS 0 on a Gaussian model", 0},
    {'e', CEM_MODEL_LABEL_EMBED, 4, EMP, CEM_ERR_UNSUPPORTED, "LABEL_EMBED 4 on an empirical model", 0},
    {'e', CEM_MODEL_T_MIN, 0, EMP, CEM_ERR_RANGE, "T_MIN 0 on an empirical model", 0},
    {'g', CEM_MODEL_T_MAX, 5e-4, GAUSS, CEM_ERR_RANGE, "T_MAX 5e-4 on a Gaussian model", 0},
    {'m', CEM_MODEL_WIDTH, 16, TR, CEM_ERR_BUSY, "WIDTH 16 while a trainer holds the model", 0},
    {'m', CEM_MODEL_T_MIN, 0.01, TR, CEM_ERR_BUSY, "T_MIN 0.01 while a trainer holds the model", 0},
    {'m', CEM_MODEL_SEED, 4, SMP, CEM_ERR_BUSY, "SEED 4 while a sampler holds the model", 0},
    {'m', CEM_MODEL_PARAM, CEM_PARAM_DIRECT, SMP, CEM_ERR_BUSY,
     "PARAM DIRECT while a sampler holds the model", 0},
    {'m', CEM_MODEL_LABELS, 3, TR, CEM_ERR_BUSY, "LABELS 3 while a trainer holds the model", 0},
    {'m', CEM_MODEL_LABELS, 0, TR | LAB, CEM_ERR_BUSY,
     "LABELS 0 while a labelled trainer holds the model of 3 classes", 0},
    {'m', CEM_MODEL_LABEL_EMBED, 8, SMP | LAB, CEM_ERR_BUSY,
     "LABEL_EMBED 8 while a sampler holds the model of 3 classes", 0},
};

static int model_set_cases(int v, bad_ctx *c)
{
    c->rule = 's';
    if (opt_case_of(MODEL_SET, N_OF(MODEL_SET), v, c))
        return NO_CASE;
    if (c->describe)
        return 0;
    const opt_case *o = &MODEL_SET[v];
    cem_model_t *m = model_on(o->on);
    if (o->pre == PRE_WIDE) {
        ck_assert_int_eq(cem_model_set(C.m, CEM_MODEL_WIDTH, 8192), CEM_OK);
        ck_assert_int_eq(cem_model_set(C.m2, CEM_MODEL_WIDTH, 8192), CEM_OK);
    }
    c->hmsg = m ? cem_model_errmsg(m) : NULL;
    arm(c, "cem_model_set");
    int st = cem_model_set(m, (cem_model_option)o->opt, o->value);
    disarm(c);
    return st;
}

static int model_get_cases(int v, bad_ctx *c)
{
    cem_model_t *m = C.m;
    double val = KEPT_D, *pv = &val;
    int opt = CEM_MODEL_WIDTH;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
    CASE(1, MLP, CEM_ERR_ARG, "value NULL") pv = NULL; break;
    CASE(2, MLP, CEM_ERR_ARG, "option id 0") opt = 0; break;
    CASE(3, MLP, CEM_ERR_ARG, "option id 12") opt = 12; break;
    CASE(4, MLP, CEM_ERR_ARG, "option id -1") opt = -1; break;
    CASE(5, EMP, CEM_ERR_UNSUPPORTED, "WIDTH of an empirical model") m = C.e; break;
    CASE(6, GAUSS, CEM_ERR_UNSUPPORTED, "PARAM of a Gaussian model") m = C.g; opt = CEM_MODEL_PARAM; break;
    CASE(7, EMP, CEM_ERR_UNSUPPORTED, "LABEL_EMBED of an empirical model")
        m = C.e;
        opt = CEM_MODEL_LABEL_EMBED;
        break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    c->hmsg = m ? cem_model_errmsg(m) : NULL;
    arm(c, "cem_model_get");
    int st = cem_model_get(m, (cem_model_option)opt, pv);
    disarm(c);
    ck_assert_msg(st == CEM_OK || val == KEPT_D, "value written on error");
    return st;
}

/* cem_X_option_bounds: the same five cases for each kind of handle. */
static int bounds_cases(int v, bad_ctx *c, const char *fn, int past,
                        int (*bounds)(int, double *, double *))
{
    static char past_what[64]; /* valid until the next call: readers copy it */
    int opt = 1;
    double lo = KEPT_D, hi = KEPT_D, *pl = &lo, *ph = &hi;
    snprintf(past_what, sizeof past_what, "option id %d (one past the last)", past);
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "option id 0") opt = 0; break;
    CASE(1, 0, CEM_ERR_ARG, past_what) opt = past; break;
    CASE(2, 0, CEM_ERR_ARG, "option id -1") opt = -1; break;
    CASE(3, 0, CEM_ERR_ARG, "lo NULL") pl = NULL; break;
    CASE(4, 0, CEM_ERR_ARG, "hi NULL") ph = NULL; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, fn);
    int st = bounds(opt, pl, ph);
    disarm(c);
    ck_assert_msg(st == CEM_OK || (lo == KEPT_D && hi == KEPT_D), "bounds written on error");
    return st;
}

static int model_bounds(int opt, double *lo, double *hi)
{
    return cem_model_option_bounds((cem_model_option)opt, lo, hi);
}

static int model_option_bounds_cases(int v, bad_ctx *c)
{
    return bounds_cases(v, c, "cem_model_option_bounds", CEM_MODEL_LABEL_EMBED + 1, model_bounds);
}

/* The getters that answer -1 (or 0) for NULL. */
static int null_getter(bad_ctx *c, long got, long want)
{
    snprintf(c->result, sizeof c->result, "returns %ld", got);
    return got == want;
}

static int model_dim_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL model") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_model_dim");
    int r = cem_model_dim(NULL);
    disarm(c);
    return null_getter(c, r, -1);
}

static int model_kind_of_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL model") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_model_kind_of");
    int r = cem_model_kind_of(NULL);
    disarm(c);
    return null_getter(c, r, -1);
}

static int model_target_of_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL model") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_model_target_of");
    int r = cem_model_target_of(NULL);
    disarm(c);
    return null_getter(c, r, -1);
}

static int model_param_count_cases(int v, bad_ctx *c)
{
    cem_model_t *m = NULL;
    switch (v) {
    CASE(0, 0, VALUE, "NULL model") break;
    CASE(1, EMP, VALUE, "an empirical model (nothing learned)") m = C.e; break;
    CASE(2, GAUSS, VALUE, "a Gaussian model (nothing learned)") m = C.g; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_model_param_count");
    size_t r = cem_model_param_count(m);
    disarm(c);
    return null_getter(c, (long)r, 0);
}

/* cem_model_get_params (set = 0) and cem_model_set_params (set = 1). */
static int params_cases(int v, bad_ctx *c, int set)
{
    cem_model_t *m = C.m;
    int ema = set ? 2 : 0, null_buf = 0, bad = -1;
    long dn = 0;
    size_t fixed = 0; /* a size given as such (0: the count + dn) */
    c->rule = set ? 's' : 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
    CASE(1, MLP, CEM_ERR_ARG, set ? "in NULL" : "out NULL") null_buf = 1; break;
    CASE(2, MLP, CEM_ERR_ARG, "n = the count - 1") dn = -1; break;
    CASE(3, MLP, CEM_ERR_ARG, "n = the count + 1") dn = 1; break;
    CASE(4, MLP, CEM_ERR_ARG, "n = 0") fixed = 1; break;
    CASE(5, MLP, CEM_ERR_ARG, "n = SIZE_MAX") fixed = SIZE_MAX; break;
    CASE(6, MLP, CEM_ERR_ARG, set ? "ema 3 (set takes 0, 1 or 2)" : "ema 2 (get takes 0 or 1)")
        ema = set ? 3 : 2;
        break;
    CASE(7, MLP, CEM_ERR_ARG, "ema -1") ema = -1; break;
    CASE(8, EMP, CEM_ERR_UNSUPPORTED, "an empirical model") m = C.e; break;
    default:
        if (!set)
            return NO_CASE;
        switch (v) {
        CASE(9, MLP, CEM_ERR_NONFINITE, "NaN in parameter 5") bad = 5; break;
        CASE(10, MLP, CEM_ERR_NONFINITE, "+Inf in the last parameter") bad = 1 << 30; break;
        CASE(11, TR, CEM_ERR_BUSY, "while a trainer holds the model") break;
        default: return NO_CASE;
        }
    }
    if (c->describe)
        return 0;
    size_t np = cem_model_param_count(C.m ? C.m : NULL), cap = np + 1;
    float *buf = malloc(sizeof(float) * (cap > 0 ? cap : 1));
    if (set && C.m) { /* the parameters the model has: a call that wrongly succeeds changes nothing */
        ck_assert_int_eq(cem_model_get_params(C.m, 0, buf, np), CEM_OK);
        buf[np] = 0.5f;
        if (bad == 5)
            buf[5] = NAN;
        else if (bad > 5)
            buf[np - 1] = INFINITY;
    } else {
        fill_f(buf, cap);
    }
    size_t n = fixed == 1 ? 0 : fixed ? fixed : (size_t)((long)np + dn);
    c->hmsg = m ? cem_model_errmsg(m) : NULL;
    arm(c, set ? "cem_model_set_params" : "cem_model_get_params");
    int st = set ? cem_model_set_params(m, ema, null_buf ? NULL : buf, n)
                 : cem_model_get_params(m, ema, null_buf ? NULL : buf, n);
    disarm(c);
    if (!set)
        ck_assert_msg(st == CEM_OK || kept_f(buf, cap), "out written on error");
    free(buf);
    return st;
}

static int get_params_cases(int v, bad_ctx *c) { return params_cases(v, c, 0); }
static int set_params_cases(int v, bad_ctx *c) { return params_cases(v, c, 1); }

static int set_data_stats_cases(int v, bad_ctx *c)
{
    cem_model_t *m = C.m;
    double mean[D] = {0.1, 0.2}, sd = 0.5;
    const double *pm = mean;
    c->rule = 's';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
    CASE(1, MLP, CEM_ERR_ARG, "sd NaN") sd = NAN; break;
    CASE(2, MLP, CEM_ERR_ARG, "sd -1") sd = -1.0; break;
    CASE(3, MLP, CEM_ERR_ARG, "sd +Inf") sd = INFINITY; break;
    CASE(4, MLP, CEM_ERR_ARG, "sd 0 with a mean (0 clears, with mean NULL)") sd = 0.0; break;
    CASE(5, MLP, CEM_ERR_ARG, "mean[1] NaN") mean[1] = NAN; break;
    CASE(6, MLP, CEM_ERR_ARG, "mean[0] -Inf") mean[0] = -INFINITY; break;
    CASE(7, EMP, CEM_ERR_UNSUPPORTED, "an empirical model") m = C.e; break;
    CASE(8, TR, CEM_ERR_BUSY, "while a trainer holds the model") break;
    CASE(9, SMP, CEM_ERR_BUSY, "while a sampler holds the model") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    c->hmsg = m ? cem_model_errmsg(m) : NULL;
    arm(c, "cem_model_set_data_stats");
    int st = cem_model_set_data_stats(m, pm, sd);
    disarm(c);
    return st;
}

static int get_data_stats_cases(int v, bad_ctx *c)
{
    cem_model_t *m = C.m;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
    CASE(1, EMP, CEM_ERR_UNSUPPORTED, "an empirical model") m = C.e; break;
    CASE(2, GAUSS, CEM_ERR_UNSUPPORTED, "a Gaussian model") m = C.g; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    double mean[D], sd = KEPT_D;
    fill_d(mean, D);
    c->hmsg = m ? cem_model_errmsg(m) : NULL;
    arm(c, "cem_model_get_data_stats");
    int st = cem_model_get_data_stats(m, mean, &sd);
    disarm(c);
    ck_assert_msg(st == CEM_OK || (kept_d(mean, D) && sd == KEPT_D), "outputs written on error");
    return st;
}

static int set_data_cov_cases(int v, bad_ctx *c)
{
    cem_model_t *m = C.m;
    double mean[D] = {0.2, -0.1}, cov[D * D] = {1.1, 0.3, 0.3, 0.2};
    const double *pm = mean, *pc = cov;
    c->rule = 's';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
    CASE(1, MLP, CEM_ERR_ARG, "cov NULL") pc = NULL; break;
    CASE(2, MLP, CEM_ERR_ARG, "NaN in cov") cov[1] = cov[2] = NAN; break;
    CASE(3, MLP, CEM_ERR_ARG, "-Inf in cov") cov[0] = -INFINITY; break;
    CASE(4, MLP, CEM_ERR_ARG, "NaN in mean") mean[0] = NAN; break;
    CASE(5, MLP, CEM_ERR_ARG, "cov not symmetric (0.3 above the diagonal, -0.3 below)") cov[2] = -0.3; break;
    CASE(6, MLP, CEM_ERR_ARG, "cov not positive semidefinite (eigenvalues 2 and -1)")
        cov[0] = 2.0;
        cov[1] = cov[2] = 0.0;
        cov[3] = -1.0;
        break;
    CASE(7, MLP, CEM_ERR_ARG, "cov all zeros (trace 0)") memset(cov, 0, sizeof cov); break;
    CASE(8, GAUSS, CEM_ERR_UNSUPPORTED, "a Gaussian model") m = C.g; break;
    CASE(9, TR, CEM_ERR_BUSY, "while a trainer holds the model") break;
    CASE(10, SMP, CEM_ERR_BUSY, "while a sampler holds the model") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    c->hmsg = m ? cem_model_errmsg(m) : NULL;
    arm(c, "cem_model_set_data_cov");
    int st = cem_model_set_data_cov(m, pm, pc);
    disarm(c);
    return st;
}

static int get_data_axes_cases(int v, bad_ctx *c)
{
    cem_model_t *m = C.m;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
    CASE(1, EMP, CEM_ERR_UNSUPPORTED, "an empirical model") m = C.e; break;
    CASE(2, GAUSS, CEM_ERR_UNSUPPORTED, "a Gaussian model") m = C.g; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    double axes[D * D], asd[D];
    fill_d(axes, D * D);
    fill_d(asd, D);
    c->hmsg = m ? cem_model_errmsg(m) : NULL;
    arm(c, "cem_model_get_data_axes");
    int st = cem_model_get_data_axes(m, axes, asd);
    disarm(c);
    ck_assert_msg(st == CEM_OK || (kept_d(axes, D * D) && kept_d(asd, D)),
                  "outputs written on error");
    return st;
}

/* The *_errmsg functions: "" for NULL. */
static int errmsg_null(bad_ctx *c, const char *fn, const char *(*msg)(const void *))
{
    arm(c, fn);
    const char *s = msg(NULL);
    disarm(c);
    snprintf(c->result, sizeof c->result, "returns \"%s\"", s ? s : "(NULL)");
    return s && !*s;
}

static int model_errmsg_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL model") break;
    default: return NO_CASE;
    }
    return c->describe ? 0 : errmsg_null(c, "cem_model_errmsg", model_msg);
}

static int model_retain_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL") break;
    CASE(1, MLP, VALUE, "retain, then free: one reference is left, the model unchanged") break;
    CASE(2, MLP, VALUE, "retain once, free twice: released exactly once") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_model_retain");
    if (v == 0) {
        cem_model_retain(NULL);
    } else {
        cem_model_retain(C.m);
        cem_model_free(C.m);
        if (v == 2) {
            cem_model_free(C.m);
            C.m = NULL; /* the balance is 0: released; a second release would be a double free */
        }
    }
    disarm(c);
    snprintf(c->result, sizeof c->result, "%s",
             v == 0 ? "no effect" : v == 1 ? "the model lives on" : "released (no double free)");
    return v != 1 || cem_model_dim(C.m) == D;
}

static int model_free_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL") break;
    CASE(1, TR, VALUE, "freed before the trainer that holds it: the trainer trains on") break;
    CASE(2, SMP, VALUE, "freed before the sampler that holds it: the sampler samples on") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_model_free");
    cem_model_free(v == 0 ? NULL : C.m);
    disarm(c);
    if (v)
        C.m = NULL; /* the trainer's or sampler's reference keeps it; compared through them */
    snprintf(c->result, sizeof c->result, "%s",
             v == 0 ? "no effect" : v == 1 ? "the trainer keeps it" : "the sampler keeps it");
    return v != 1 || cem_model_dim(cem_trainer_model(C.tr)) == D;
}

/* ====================================================== trainer */

static int trainer_create_cases(int v, bad_ctx *c)
{
    float pts[NDATA * D];
    memcpy(pts, data, sizeof pts);
    cem_trainer_t **out = &C.trout;
    cem_model_t *m = C.m;
    const float *pd = pts;
    size_t n = NDATA;
    int dim = D;
    c->outs = O_T;
    switch (v) {
    CASE(0, MLP, CEM_ERR_ARG, "out NULL") out = NULL; c->outs = 0; break;
    CASE(1, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
    CASE(2, MLP, CEM_ERR_ARG, "data NULL") pd = NULL; break;
    CASE(3, MLP, CEM_ERR_ARG, "n = 1 (needs 2)") n = 1; break;
    CASE(4, MLP, CEM_ERR_ARG, "n = 0") n = 0; break;
    CASE(5, MLP, CEM_ERR_ARG, "dim 3, the model's is 2") dim = 3; break;
    CASE(6, MLP, CEM_ERR_ARG, "dim 0") dim = 0; break;
    CASE(7, MLP, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1)") n = HUGE_N; break;
    CASE(8, MLP, CEM_ERR_ARG, "n = 2^31 rows (above INT_MAX)") n = (size_t)1 << 31; break;
    CASE(9, MLP, CEM_ERR_NONFINITE, "NaN in data row 3") pts[3 * D] = NAN; break;
    CASE(10, MLP, CEM_ERR_NONFINITE, "+Inf in data row 15") pts[15 * D + 1] = INFINITY; break;
    CASE(11, MLP, CEM_ERR_ARG, "all 16 points equal (no scale to learn)")
        for (int i = 0; i < NDATA * D; i++)
            pts[i] = 0.25f;
        break;
    CASE(12, EMP, CEM_ERR_UNSUPPORTED, "an empirical model") m = C.e; break;
    CASE(13, TR, CEM_ERR_BUSY, "a model another trainer owns") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_trainer_create");
    int st = cem_trainer_create(out, m, pd, n, dim);
    disarm(c);
    return st;
}

static int trainer_create_labelled_cases(int v, bad_ctx *c)
{
    float pts[NDATA * D];
    int lab[NDATA];
    memcpy(pts, data, sizeof pts);
    memcpy(lab, data_labels, sizeof lab);
    cem_trainer_t **out = &C.trout;
    cem_model_t *m = C.m;
    const float *pd = pts;
    const int *pl = lab;
    size_t n = NDATA;
    int dim = D;
    c->outs = O_T;
    switch (v) {
    CASE(0, LAB, CEM_ERR_ARG, "out NULL") out = NULL; c->outs = 0; break;
    CASE(1, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
    CASE(2, LAB, CEM_ERR_ARG, "data NULL") pd = NULL; break;
    CASE(3, LAB, CEM_ERR_ARG, "labels NULL") pl = NULL; break;
    CASE(4, LAB, CEM_ERR_ARG, "out NULL and labels NULL") out = NULL; pl = NULL; c->outs = 0; break;
    CASE(5, LAB, CEM_ERR_ARG, "n = 1 (needs 2)") n = 1; break;
    CASE(6, LAB, CEM_ERR_ARG, "dim 3, the model's is 2") dim = 3; break;
    CASE(7, LAB, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1)") n = HUGE_N; break;
    CASE(8, LAB, CEM_ERR_ARG, "n = 2^31 rows (above INT_MAX)") n = (size_t)1 << 31; break;
    CASE(9, LAB, CEM_ERR_NONFINITE, "NaN in data row 2") pts[2 * D] = NAN; break;
    CASE(10, LAB, CEM_ERR_ARG, "a label 3 (row 7; the model's classes are 0 .. 2)") lab[7] = NCLS; break;
    CASE(11, LAB, CEM_ERR_ARG, "a label -2 (row 15)") lab[15] = -2; break;
    CASE(12, LAB, CEM_ERR_ARG, "a label INT_MAX (row 0)") lab[0] = INT_MAX; break;
    CASE(13, MLP, CEM_ERR_ARG, "a model without classes (LABELS 0)") break;
    CASE(14, MLP, CEM_ERR_ARG, "a model without classes, every label CEM_LABEL_NONE")
        for (int i = 0; i < NDATA; i++)
            lab[i] = CEM_LABEL_NONE;
        break;
    CASE(15, EMP, CEM_ERR_UNSUPPORTED, "an empirical model") m = C.e; break;
    CASE(16, LAB, CEM_ERR_ARG, "all 16 points equal (no scale to learn)")
        for (int i = 0; i < NDATA * D; i++)
            pts[i] = 0.25f;
        break;
    CASE(17, TR | LAB, CEM_ERR_BUSY, "a model another (labelled) trainer owns") break;
    CASE(18, LAB, CEM_ERR_ARG, "n = 0") n = 0; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_trainer_create_labelled");
    int st = cem_trainer_create_labelled(out, m, pd, pl, n, dim);
    disarm(c);
    return st;
}

static int trainer_run_cases(int v, bad_ctx *c)
{
    cem_trainer_t *tr = C.tr;
    long steps = 2;
    c->rule = 's';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL trainer") tr = NULL; break;
    CASE(1, TR, CEM_ERR_ARG, "steps -1") steps = -1; break;
    CASE(2, TR, CEM_ERR_ARG, "steps LONG_MIN") steps = LONG_MIN; break;
    CASE(3, TR | REDFAIL, CEM_ERR_REDUCE,
         "the reduce callback fails (rank 0 of world 2, ACCUMULATE 2): the first step not taken")
        break;
    CASE(4, TR | LAB | REDFAIL, CEM_ERR_REDUCE,
         "a labelled trainer's reduce callback fails (rank 0 of world 2, ACCUMULATE 2)")
        break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    double loss = KEPT_D;
    c->hmsg = tr ? cem_trainer_errmsg(tr) : NULL;
    memset(&reduced, 0, sizeof reduced);
    arm(c, "cem_trainer_run");
    int st = cem_trainer_run(tr, steps, &loss);
    disarm(c);
    ck_assert_msg(st == CEM_OK || isnan(loss), "*mean_loss is %g, not NaN, when no step ran", loss);
    if (st == CEM_ERR_REDUCE) /* once, for the first step, with this rank's one part */
        ck_assert_msg(reduced.calls == 1 && reduced.first == 0 && reduced.parts == 1 &&
                      reduced.user == &reduce_user && reduced.m > 0 &&
                      reduced.n == cem_model_param_count(C.m),
                      "the callback was called %ld times (first %d, parts %d, n %zu, m %zu)",
                      reduced.calls, reduced.first, reduced.parts, reduced.n, reduced.m);
    return st;
}

/* cem_trainer_step_batch (loss = 0), cem_trainer_loss_batch (loss = 1) and
 * their _labelled forms (labelled = 1: on the labelled trainer, with a
 * valid label per row unless the case says otherwise). */
static int batch_cases(int v, bad_ctx *c, int loss_only, int labelled)
{
    float x0[BATCH * D], z[BATCH * D];
    double t[BATCH];
    int lab[BATCH];
    for (int i = 0; i < BATCH * D; i++) {
        x0[i] = data[i];
        z[i] = (float)(0.3 * sin(1.7 * i + 0.2));
    }
    for (int i = 0; i < BATCH; i++) {
        t[i] = 0.01 + 0.4 * i;
        lab[i] = i % (NCLS + 1) - 1;
    }
    cem_trainer_t *tr = C.tr;
    const float *px = x0, *pz = z;
    const double *pt = t;
    const int *pl = lab;
    const unsigned env = labelled ? TR | LAB : TR;
    int B = 4;
    c->rule = loss_only ? 0 : 's';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL trainer") tr = NULL; break;
    CASE(1, env, CEM_ERR_ARG, "B = 0") B = 0; break;
    CASE(2, env, CEM_ERR_ARG, "B = -1") B = -1; break;
    CASE(3, env, CEM_ERR_ARG, "B = 9, above BATCH = 8") B = BATCH + 1; break;
    CASE(4, env, CEM_ERR_ARG, "x0 NULL") px = NULL; break;
    CASE(5, env, CEM_ERR_ARG, "t NULL") pt = NULL; break;
    CASE(6, env, CEM_ERR_ARG, "z NULL") pz = NULL; break;
    CASE(7, env, CEM_ERR_ARG, "t[1] = 0") t[1] = 0.0; break;
    CASE(8, env, CEM_ERR_ARG, "t[2] = -1") t[2] = -1.0; break;
    CASE(9, env, CEM_ERR_ARG, "t[0] = NaN") t[0] = NAN; break;
    CASE(10, env, CEM_ERR_ARG, "t[3] = +Inf") t[3] = INFINITY; break;
    CASE(11, env, CEM_ERR_NONFINITE, "NaN in x0 row 3") x0[3 * D] = NAN; break;
    CASE(12, env, CEM_ERR_NONFINITE, "+Inf in z row 0") z[1] = INFINITY; break;
    CASE(13, env, CEM_ERR_NONFINITE_STEP, "z = 1e30 everywhere (finite; the loss overflows)")
        for (int i = 0; i < BATCH * D; i++)
            z[i] = 1e30f;
        break;
    default:
        if (!labelled)
            return NO_CASE;
        switch (v) {
        CASE(14, TR | LAB, CEM_ERR_ARG, "labels NULL") pl = NULL; break;
        CASE(15, 0, CEM_ERR_ARG, "NULL trainer and labels NULL") tr = NULL; pl = NULL; break;
        CASE(16, TR | LAB, CEM_ERR_ARG, "a label 3 (row 2; the model's classes are 0 .. 2)") lab[2] = NCLS; break;
        CASE(17, TR | LAB, CEM_ERR_ARG, "a label -2 (row 0)") lab[0] = -2; break;
        CASE(18, TR | LAB, CEM_ERR_ARG, "a label INT_MIN (row 3)") lab[3] = INT_MIN; break;
        CASE(19, TR, CEM_ERR_ARG, "a trainer whose model has no classes: a label 0 (row 3)")
            for (int i = 0; i < 3; i++)
                lab[i] = CEM_LABEL_NONE;
            lab[3] = 0;
            break;
        default:
            if (!loss_only)
                return NO_CASE;
            switch (v) {
            CASE(20, TR | LAB, CEM_OK, "a label 3 in row 5, beyond the B = 4 rows: not read")
                lab[5] = NCLS;
                break;
            CASE(21, TR, CEM_OK, "a model without classes, every label CEM_LABEL_NONE: the loss "
                 "of cem_trainer_loss_batch")
                for (int i = 0; i < BATCH; i++)
                    lab[i] = CEM_LABEL_NONE;
                break;
            default: return NO_CASE;
            }
        }
    }
    if (c->describe)
        return 0;
    double loss = KEPT_D;
    size_t np = cem_model_param_count(C.m);
    float *grad = malloc(sizeof(float) * (np + 1));
    fill_f(grad, np + 1);
    c->hmsg = tr ? cem_trainer_errmsg(tr) : NULL;
    const char *fn = loss_only ? (labelled ? "cem_trainer_loss_batch_labelled" : "cem_trainer_loss_batch")
                               : (labelled ? "cem_trainer_step_batch_labelled" : "cem_trainer_step_batch");
    arm(c, fn);
    int st;
    if (labelled)
        st = loss_only ? cem_trainer_loss_batch_labelled(tr, B, px, pl, pt, pz, &loss, grad)
                       : cem_trainer_step_batch_labelled(tr, B, px, pl, pt, pz, &loss);
    else
        st = loss_only ? cem_trainer_loss_batch(tr, B, px, pt, pz, &loss, grad)
                       : cem_trainer_step_batch(tr, B, px, pt, pz, &loss);
    disarm(c);
    ck_assert_msg(st == CEM_OK || isnan(loss), "*loss is %g, not NaN, on error", loss);
    ck_assert_msg(st == CEM_OK || kept_f(grad, np + 1), "grad written on error");
    if (v == 21) { /* the labels change nothing: the unlabelled call's loss and gradient */
        double want = KEPT_D;
        float *g2 = malloc(sizeof(float) * (np + 1));
        ck_assert_int_eq(cem_trainer_loss_batch(tr, B, px, pt, pz, &want, g2), CEM_OK);
        ck_assert_msg(memcmp(&want, &loss, sizeof loss) == 0 && memcmp(g2, grad, sizeof(float) * np) == 0,
                      "the loss %g is not cem_trainer_loss_batch's %g", loss, want);
        free(g2);
    }
    free(grad);
    return st;
}

static int step_batch_cases(int v, bad_ctx *c) { return batch_cases(v, c, 0, 0); }
static int step_batch_labelled_cases(int v, bad_ctx *c) { return batch_cases(v, c, 0, 1); }
static int loss_batch_cases(int v, bad_ctx *c) { return batch_cases(v, c, 1, 0); }
static int loss_batch_labelled_cases(int v, bad_ctx *c) { return batch_cases(v, c, 1, 1); }

static int noop_progress(long step, double loss, void *user)
{
    (void)step;
    (void)loss;
    (void)user;
    return 0;
}

static int trainer_set_progress_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL trainer") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_trainer_set_progress");
    int st = cem_trainer_set_progress(NULL, noop_progress, NULL);
    disarm(c);
    return st;
}

/* On the RED trainers: a failed call leaves rank 0 of world 2, reduce_keep
 * and its user pointer (the fingerprint's two steps call it), and sets
 * nothing it was given (another callback, another user pointer). */
static int trainer_set_reduce_cases(int v, bad_ctx *c)
{
    cem_trainer_t *tr = C.tr;
    int rank = 0, world = 2;
    cem_reduce_fn fn = reduce_other;
    c->rule = 's';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL trainer") tr = NULL; break;
    CASE(1, TR | RED, CEM_ERR_ARG, "world 0 (rank 0)") world = 0; break;
    CASE(2, TR | RED, CEM_ERR_ARG, "world -1 (rank 0)") world = -1; break;
    CASE(3, TR | RED, CEM_ERR_ARG, "world INT_MIN (rank 0)") world = INT_MIN; break;
    CASE(4, TR | RED, CEM_ERR_ARG, "rank -1 of world 2") rank = -1; break;
    CASE(5, TR | RED, CEM_ERR_ARG, "rank 2 of world 2 (rank == world)") rank = 2; break;
    CASE(6, TR | RED, CEM_ERR_ARG, "rank INT_MAX of world 3") rank = INT_MAX; world = 3; break;
    CASE(7, TR | RED, CEM_ERR_ARG, "rank 1 of world 1 with fn NULL (one trainer, a bad rank)")
        rank = 1;
        world = 1;
        fn = NULL;
        break;
    CASE(8, TR | RED, CEM_ERR_ARG, "fn NULL with world 2") fn = NULL; break;
    CASE(9, TR | RED, CEM_ERR_ARG, "fn NULL with world 3, rank 1") fn = NULL; rank = 1; world = 3; break;
    CASE(10, TR, CEM_ERR_ARG, "world 0 on a trainer without a callback (ACCUMULATE 1)")
        world = 0;
        break;
    CASE(11, TR, CEM_ERR_ARG, "fn NULL with world 2 on a trainer without a callback") fn = NULL; break;
    CASE(12, TR | LAB | RED, CEM_ERR_ARG, "a labelled trainer: rank 2 of world 2") rank = 2; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    c->hmsg = tr ? cem_trainer_errmsg(tr) : NULL;
    memset(&reduced, 0, sizeof reduced);
    arm(c, "cem_trainer_set_reduce");
    int st = cem_trainer_set_reduce(tr, rank, world, fn, &other_user);
    disarm(c);
    ck_assert_msg(reduced.calls == 0, "the call ran a reduce callback");
    return st;
}

static int trainer_steps_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL trainer") break;
    CASE(1, TR, VALUE, "before any step") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_trainer_steps");
    long r = cem_trainer_steps(v ? C.tr : NULL);
    disarm(c);
    return null_getter(c, r, v ? 0 : -1);
}

/* The four bin readers.  law: the law's bins; nb: with a length. */
static int bins_cases(int v, bad_ctx *c, int law, int nb)
{
    const char *fn = law ? (nb ? "cem_trainer_law_bins_n" : "cem_trainer_law_bins")
                         : (nb ? "cem_trainer_time_bins_n" : "cem_trainer_time_bins");
    cem_trainer_t *tr = C.tr;
    size_t nbins = law ? CEM_TRAINER_LAW_BINS : CEM_TRAINER_BINS;
    int reset = 0, trained = 0, fresh = 0;
    c->rule = law ? 'c' : 0;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL trainer") tr = NULL; break;
    default:
        if (!nb) {
            switch (v) {
            CASE(1, TR, VALUE, law ? "ADAPTIVE law, before any step: no bin seen yet"
                                   : "before any step: every bin empty")
                fresh = 1;
                break;
            default: return NO_CASE;
            }
        } else if (!law) {
            switch (v) {
            CASE(1, TR, CEM_ERR_ARG, "nbins 7") nbins = 7; break;
            CASE(2, TR, CEM_ERR_ARG, "nbins 9") nbins = 9; break;
            CASE(3, TR, CEM_ERR_ARG, "nbins 0") nbins = 0; break;
            CASE(4, TR, CEM_ERR_ARG, "nbins 16 (the law's bins)") nbins = CEM_TRAINER_LAW_BINS; break;
            CASE(5, TR, CEM_ERR_ARG, "nbins SIZE_MAX") nbins = SIZE_MAX; break;
            CASE(6, TR, CEM_ERR_ARG, "nbins 7 with reset, after 2 steps: the bins are kept")
                nbins = 7;
                reset = trained = 1;
                break;
            default: return NO_CASE;
            }
        } else {
            switch (v) {
            CASE(1, TR, CEM_ERR_ARG, "nbins 8 (the time bins)") nbins = CEM_TRAINER_BINS; break;
            CASE(2, TR, CEM_ERR_ARG, "nbins 17") nbins = 17; break;
            CASE(3, TR, CEM_ERR_ARG, "nbins 0") nbins = 0; break;
            default: return NO_CASE;
            }
        }
    }
    if (c->describe)
        return 0;
    if (trained) {
        ck_assert_int_eq(cem_trainer_run(C.tr, 2, NULL), CEM_OK);
        ck_assert_int_eq(cem_trainer_run(C.tr2, 2, NULL), CEM_OK);
    }
    if (fresh && law) {
        ck_assert_int_eq(cem_trainer_set(C.tr, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_ADAPTIVE), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(C.tr2, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_ADAPTIVE), CEM_OK);
    }
    enum { K = CEM_TRAINER_LAW_BINS + 2 };
    double a[K], b[K], f[K], e[K];
    long cnt[K];
    fill_d(a, K);
    fill_d(b, K);
    fill_d(f, K);
    fill_d(e, K);
    for (int i = 0; i < K; i++)
        cnt[i] = 12345;
    c->hmsg = tr ? cem_trainer_errmsg(tr) : NULL;
    arm(c, fn);
    int st = law ? (nb ? cem_trainer_law_bins_n(tr, nbins, a, b, f, e)
                       : cem_trainer_law_bins(tr, a, b, f, e))
                 : (nb ? cem_trainer_time_bins_n(tr, nbins, a, cnt, e, reset)
                       : cem_trainer_time_bins(tr, a, cnt, e, reset));
    disarm(c);
    if (fresh && !law) { /* documented: NaN for an empty bin */
        int ok = st == CEM_OK;
        for (int b2 = 0; b2 < CEM_TRAINER_BINS; b2++)
            ok &= isnan(a[b2]) && cnt[b2] == 0;
        snprintf(c->result, sizeof c->result, "`%s`, %s", status_name(st),
                 ok ? "every count 0 and mean NaN" : "a bin not empty");
        return ok;
    }
    if (fresh && law) { /* log-uniform until every bin is seen; loss NaN until seen */
        int ok = st == CEM_OK;
        for (int b2 = 0; b2 < CEM_TRAINER_LAW_BINS; b2++)
            ok &= fabs(a[b2] - 1.0 / CEM_TRAINER_LAW_BINS) < 1e-12 && isnan(b[b2]) &&
                  isfinite(f[b2]) && f[b2] >= 0;
        snprintf(c->result, sizeof c->result, "`%s`, %s", status_name(st),
                 ok ? "shares 1/16 (log-uniform), losses NaN, floors measured" : "not so");
        return ok;
    }
    int kept_cnt = 1;
    for (int i = 0; i < K; i++)
        kept_cnt &= cnt[i] == 12345;
    ck_assert_msg(st == CEM_OK || (kept_d(a, K) && kept_d(b, K) && kept_d(f, K) &&
                                   kept_d(e, K) && kept_cnt),
                  "outputs written on error");
    return st;
}

static int time_bins_cases(int v, bad_ctx *c) { return bins_cases(v, c, 0, 0); }
static int law_bins_cases(int v, bad_ctx *c) { return bins_cases(v, c, 1, 0); }
static int time_bins_n_cases(int v, bad_ctx *c) { return bins_cases(v, c, 0, 1); }
static int law_bins_n_cases(int v, bad_ctx *c) { return bins_cases(v, c, 1, 1); }

static const opt_case TRAINER_SET[] = {
    {0, CEM_TRAINER_BATCH, 16, 0, CEM_ERR_ARG, "NULL trainer", 0},
    {'t', 0, 1, TR, CEM_ERR_ARG, "option id 0", 0},
    {'t', 25, 1, TR, CEM_ERR_ARG, "option id 25 (one past ACCUMULATE)", 0},
    {'t', -1, 1, TR, CEM_ERR_ARG, "option id -1", 0},
    {'t', 999, 1, TR, CEM_ERR_ARG, "option id 999", 0},
    {'t', CEM_TRAINER_BATCH, 0, TR, CEM_ERR_RANGE, "BATCH 0 (bounds [1, 65536])", 0},
    {'t', CEM_TRAINER_BATCH, 65537, TR, CEM_ERR_RANGE, "BATCH 65537", 0},
    {'t', CEM_TRAINER_BATCH, 1.5, TR, CEM_ERR_RANGE, "BATCH 1.5", 0},
    {'t', CEM_TRAINER_BATCH, NAN, TR, CEM_ERR_RANGE, "BATCH NaN", 0},
    {'t', CEM_TRAINER_LR, -1, TR, CEM_ERR_RANGE, "LR -1 (bounds [0, 10])", 0},
    {'t', CEM_TRAINER_LR, 11, TR, CEM_ERR_RANGE, "LR 11", 0},
    {'t', CEM_TRAINER_LR, NAN, TR, CEM_ERR_RANGE, "LR NaN", 0},
    {'t', CEM_TRAINER_LR, INFINITY, TR, CEM_ERR_RANGE, "LR +Inf", 0},
    {'t', CEM_TRAINER_OPTIMIZER, 2, TR, CEM_ERR_RANGE, "OPTIMIZER 2 (not a cem_optimizer)", 0},
    {'t', CEM_TRAINER_OPTIMIZER, -1, TR, CEM_ERR_RANGE, "OPTIMIZER -1", 0},
    {'t', CEM_TRAINER_BETA1, 1, TR, CEM_ERR_RANGE, "BETA1 1 (bounds [0, 1))", 0},
    {'t', CEM_TRAINER_BETA1, -0.1, TR, CEM_ERR_RANGE, "BETA1 -0.1", 0},
    {'t', CEM_TRAINER_BETA2, 1, TR, CEM_ERR_RANGE, "BETA2 1 (bounds [0, 1))", 0},
    {'t', CEM_TRAINER_BETA2, NAN, TR, CEM_ERR_RANGE, "BETA2 NaN", 0},
    {'t', CEM_TRAINER_ADAM_EPS, 2, TR, CEM_ERR_RANGE, "ADAM_EPS 2 (bounds [0, 1])", 0},
    {'t', CEM_TRAINER_ADAM_EPS, -1e-9, TR, CEM_ERR_RANGE, "ADAM_EPS -1e-9", 0},
    {'t', CEM_TRAINER_WEIGHT_DECAY, 1.5, TR, CEM_ERR_RANGE, "WEIGHT_DECAY 1.5 (bounds [0, 1])", 0},
    {'t', CEM_TRAINER_WEIGHT_DECAY, -1, TR, CEM_ERR_RANGE, "WEIGHT_DECAY -1", 0},
    {'t', CEM_TRAINER_WARMUP, -1, TR, CEM_ERR_RANGE, "WARMUP -1", 0},
    {'t', CEM_TRAINER_WARMUP, 0.5, TR, CEM_ERR_RANGE, "WARMUP 0.5 (steps: a whole number)", 0},
    {'t', CEM_TRAINER_WARMUP, INFINITY, TR, CEM_ERR_RANGE, "WARMUP +Inf", 0},
    {'t', CEM_TRAINER_DECAY_STEPS, -1, TR, CEM_ERR_RANGE, "DECAY_STEPS -1", 0},
    {'t', CEM_TRAINER_DECAY_STEPS, 1e13, TR, CEM_ERR_RANGE, "DECAY_STEPS 1e13 (above 1e12)", 0},
    {'t', CEM_TRAINER_LR_MIN, -1, TR, CEM_ERR_RANGE, "LR_MIN -1 (bounds [0, 10])", 0},
    {'t', CEM_TRAINER_LR_MIN, 11, TR, CEM_ERR_RANGE, "LR_MIN 11", 0},
    {'t', CEM_TRAINER_CLIP, -1, TR, CEM_ERR_RANGE, "CLIP -1", 0},
    {'t', CEM_TRAINER_CLIP, INFINITY, TR, CEM_ERR_RANGE, "CLIP +Inf", 0},
    {'t', CEM_TRAINER_EMA, 1, TR, CEM_ERR_RANGE, "EMA 1 (bounds [0, 1))", 0},
    {'t', CEM_TRAINER_EMA, -0.5, TR, CEM_ERR_RANGE, "EMA -0.5", 0},
    {'t', CEM_TRAINER_TIME_LAW, 5, TR, CEM_ERR_RANGE, "TIME_LAW 5 (not a cem_time_law)", 0},
    {'t', CEM_TRAINER_TIME_LAW, -1, TR, CEM_ERR_RANGE, "TIME_LAW -1", 0},
    {'t', CEM_TRAINER_GRID_N, 1, TR, CEM_ERR_RANGE, "GRID_N 1 (a grid has >= 2 points)", 0},
    {'t', CEM_TRAINER_GRID_N, 2.5, TR, CEM_ERR_RANGE, "GRID_N 2.5", 0},
    {'t', CEM_TRAINER_WEIGHT, 5, TR, CEM_ERR_RANGE, "WEIGHT 5 (not a cem_weight)", 0},
    {'t', CEM_TRAINER_WEIGHT, 1.5, TR, CEM_ERR_RANGE, "WEIGHT 1.5", 0},
    {'t', CEM_TRAINER_SNR_CLAMP, 0, TR, CEM_ERR_RANGE, "SNR_CLAMP 0 (bounds (0, 1e6])", 0},
    {'t', CEM_TRAINER_SNR_CLAMP, INFINITY, TR, CEM_ERR_RANGE, "SNR_CLAMP +Inf", 0},
    {'t', CEM_TRAINER_SEED, -1, TR, CEM_ERR_RANGE, "SEED -1 (bounds [0, 2^53])", 0},
    {'t', CEM_TRAINER_SEED, TWO_53_PLUS_2, TR, CEM_ERR_RANGE, "SEED 2^53 + 2", 0},
    {'t', CEM_TRAINER_THREADS, 0, TR, CEM_ERR_RANGE, "THREADS 0 (bounds [1, 256])", 0},
    {'t', CEM_TRAINER_THREADS, 257, TR, CEM_ERR_RANGE, "THREADS 257", 0},
    {'t', CEM_TRAINER_THREADS, 1.5, TR, CEM_ERR_RANGE, "THREADS 1.5", 0},
    {'t', CEM_TRAINER_LOGNORMAL_MEAN, 21, TR, CEM_ERR_RANGE, "LOGNORMAL_MEAN 21 (bounds [-20, 20])", 0},
    {'t', CEM_TRAINER_LOGNORMAL_MEAN, NAN, TR, CEM_ERR_RANGE, "LOGNORMAL_MEAN NaN", 0},
    {'t', CEM_TRAINER_LOGNORMAL_STD, 0, TR, CEM_ERR_RANGE, "LOGNORMAL_STD 0 (bounds [0.01, 20])", 0},
    {'t', CEM_TRAINER_LOGNORMAL_STD, 21, TR, CEM_ERR_RANGE, "LOGNORMAL_STD 21", 0},
    {'t', CEM_TRAINER_IMPORTANCE, 2, TR, CEM_ERR_RANGE, "IMPORTANCE 2", 0},
    {'t', CEM_TRAINER_IMPORTANCE, 0.5, TR, CEM_ERR_RANGE, "IMPORTANCE 0.5", 0},
    {'t', CEM_TRAINER_ADAPT_FLOOR, 0, TR, CEM_ERR_RANGE, "ADAPT_FLOOR 0 (bounds [0.01, 1])", 0},
    {'t', CEM_TRAINER_ADAPT_FLOOR, 1.5, TR, CEM_ERR_RANGE, "ADAPT_FLOOR 1.5", 0},
    {'t', CEM_TRAINER_LABEL_DROPOUT, -0.1, TR, CEM_ERR_RANGE, "LABEL_DROPOUT -0.1 (bounds [0, 1])", 0},
    {'t', CEM_TRAINER_LABEL_DROPOUT, 1.5, TR | LAB, CEM_ERR_RANGE,
     "LABEL_DROPOUT 1.5 on a labelled trainer", 0},
    {'t', CEM_TRAINER_LABEL_DROPOUT, NAN, TR | LAB, CEM_ERR_RANGE,
     "LABEL_DROPOUT NaN on a labelled trainer", 0},
    {'t', CEM_TRAINER_ACCUMULATE, 0, TR, CEM_ERR_RANGE, "ACCUMULATE 0 (bounds [1, 4096])", 0},
    {'t', CEM_TRAINER_ACCUMULATE, 4097, TR, CEM_ERR_RANGE, "ACCUMULATE 4097", 0},
    {'t', CEM_TRAINER_ACCUMULATE, 2.5, TR, CEM_ERR_RANGE, "ACCUMULATE 2.5 (a whole number)", 0},
    {'t', CEM_TRAINER_ACCUMULATE, NAN, TR | RED, CEM_ERR_RANGE,
     "ACCUMULATE NaN on a trainer with a reduce callback", 0},
    {'t', CEM_TRAINER_ACCUMULATE, 4097, TR | RED, CEM_ERR_RANGE,
     "ACCUMULATE 4097 on a trainer with a reduce callback", 0},
};

static int trainer_set_cases(int v, bad_ctx *c)
{
    c->rule = 's';
    if (opt_case_of(TRAINER_SET, N_OF(TRAINER_SET), v, c))
        return NO_CASE;
    if (c->describe)
        return 0;
    const opt_case *o = &TRAINER_SET[v];
    cem_trainer_t *tr = o->on ? C.tr : NULL;
    c->hmsg = tr ? cem_trainer_errmsg(tr) : NULL;
    arm(c, "cem_trainer_set");
    int st = cem_trainer_set(tr, (cem_trainer_option)o->opt, o->value);
    disarm(c);
    return st;
}

/* cem_X_get: NULL handle, value NULL, two bad option ids, and the ones
 * given (kind-specific). */
static int trainer_get_cases(int v, bad_ctx *c)
{
    cem_trainer_t *tr = C.tr;
    double val = KEPT_D, *pv = &val;
    int opt = CEM_TRAINER_LR;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL trainer") tr = NULL; break;
    CASE(1, TR, CEM_ERR_ARG, "value NULL") pv = NULL; break;
    CASE(2, TR, CEM_ERR_ARG, "option id 0") opt = 0; break;
    CASE(3, TR, CEM_ERR_ARG, "option id 25") opt = 25; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    c->hmsg = tr ? cem_trainer_errmsg(tr) : NULL;
    arm(c, "cem_trainer_get");
    int st = cem_trainer_get(tr, (cem_trainer_option)opt, pv);
    disarm(c);
    ck_assert_msg(st == CEM_OK || val == KEPT_D, "value written on error");
    return st;
}

static int trainer_bounds(int opt, double *lo, double *hi)
{
    return cem_trainer_option_bounds((cem_trainer_option)opt, lo, hi);
}

static int trainer_option_bounds_cases(int v, bad_ctx *c)
{
    return bounds_cases(v, c, "cem_trainer_option_bounds", CEM_TRAINER_ACCUMULATE + 1,
                        trainer_bounds);
}

static int trainer_model_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL trainer") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_trainer_model");
    cem_model_t *m = cem_trainer_model(NULL);
    disarm(c);
    snprintf(c->result, sizeof c->result, m ? "returns a model" : "returns NULL");
    return m == NULL;
}

static int trainer_errmsg_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL trainer") break;
    default: return NO_CASE;
    }
    return c->describe ? 0 : errmsg_null(c, "cem_trainer_errmsg", trainer_msg);
}

static int trainer_free_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL") break;
    CASE(1, TR, VALUE, "freed before its model: the model is free for a new trainer") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_trainer_free");
    cem_trainer_free(v == 0 ? NULL : C.tr);
    disarm(c);
    if (v == 0) {
        snprintf(c->result, sizeof c->result, "no effect");
        return 1;
    }
    C.tr = NULL;
    cem_trainer_free(C.tr2); /* the twin's model free too: the models compare alike */
    C.tr2 = NULL;
    cem_trainer_t *again = NULL;
    int st = cem_trainer_create(&again, C.m, data, NDATA, D);
    cem_trainer_free(again);
    snprintf(c->result, sizeof c->result, "a new trainer on the model: `%s`", status_name(st));
    return st == CEM_OK;
}

/* ====================================================== sampler */

static int sampler_create_cases(int v, bad_ctx *c)
{
    cem_sampler_t **out = &C.sout;
    cem_model_t *m = C.m;
    c->outs = O_S;
    switch (v) {
    CASE(0, MLP, CEM_ERR_ARG, "out NULL") out = NULL; c->outs = 0; break;
    CASE(1, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_sampler_create");
    int st = cem_sampler_create(out, m);
    disarm(c);
    return st;
}

/* cem_sampler_run (rows = 0) and cem_sampler_run_rows (rows = 1). */
static int run_cases(int v, bad_ctx *c, int rows)
{
    cem_sampler_t *s = C.s;
    size_t first = 0, n = 4;
    int null_out = 0, diverged = 0;
    c->rule = 's';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL sampler") s = NULL; break;
    CASE(1, SMP, CEM_ERR_ARG, "out NULL with n = 4") null_out = 1; break;
    CASE(2, SMP, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
    CASE(3, SMP, CEM_ERR_ARG, "n = SIZE_MAX") n = SIZE_MAX; break;
    default:
        if (!rows) {
            switch (v) {
            CASE(4, SMP, CEM_ERR_ARG, "out NULL after a run that diverged: the count is kept")
                null_out = diverged = 1;
                break;
            CASE(5, SMP, CEM_OK, "n = 0 after a run that diverged: nothing done, the count kept")
                n = 0;
                diverged = 1;
                break;
            default: return NO_CASE;
            }
        } else {
            switch (v) {
            CASE(4, SMP, CEM_ERR_ARG, "first = SIZE_MAX - 1, n = 4: first + n wraps")
                first = SIZE_MAX - 1;
                break;
            CASE(5, SMP, CEM_ERR_ARG, "rows end above SIZE_MAX - 256 (first = SIZE_MAX - 300, n = 100)")
                first = SIZE_MAX - 300;
                n = 100;
                break;
            CASE(6, SMP, CEM_ERR_ARG, "first = SIZE_MAX - 256, n = 1") first = SIZE_MAX - 256; n = 1; break;
            default: return NO_CASE;
            }
        }
    }
    if (c->describe)
        return 0;
    if (diverged)
        diverge_both();
    float *out = malloc(sizeof(float) * 100 * D);
    c->hmsg = s ? cem_sampler_errmsg(s) : NULL;
    arm(c, rows ? "cem_sampler_run_rows" : "cem_sampler_run");
    int st = rows ? cem_sampler_run_rows(s, first, n, null_out ? NULL : out)
                  : cem_sampler_run(s, n, null_out ? NULL : out);
    disarm(c);
    free(out);
    if (diverged)
        ck_assert_msg(cem_sampler_diverged_rows(C.s) == 4, "the last run's 4 diverged rows now "
                      "read %zu", cem_sampler_diverged_rows(C.s));
    return st;
}

static int sampler_run_cases(int v, bad_ctx *c) { return run_cases(v, c, 0); }
static int sampler_run_rows_cases(int v, bad_ctx *c) { return run_cases(v, c, 1); }

/* Sets an option of C.s and of its twin alike (before the call). */
static void samplers_set(cem_sampler_option opt, double value)
{
    ck_assert_int_eq(cem_sampler_set(C.s, opt, value), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(C.s2, opt, value), CEM_OK);
}

static int sampler_run_labelled_cases(int v, bad_ctx *c)
{
    cem_sampler_t *s = C.s;
    size_t first = 0, n = 4;
    int lab[4] = {0, 1, 2, CEM_LABEL_NONE};
    const int *pl = lab;
    int null_out = 0, diverged = 0;
    double guidance = -1, label = -2;
    c->rule = 's';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL sampler") s = NULL; break;
    CASE(1, SMP | LAB, CEM_ERR_ARG, "out NULL with n = 4") null_out = 1; break;
    CASE(2, SMP | LAB, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
    CASE(3, SMP | LAB, CEM_ERR_ARG, "first = SIZE_MAX - 1, n = 4: first + n wraps") first = SIZE_MAX - 1; break;
    CASE(4, SMP | LAB, CEM_ERR_ARG, "a label 3 (row 2; the model's classes are 0 .. 2)") lab[2] = NCLS; break;
    CASE(5, SMP | LAB, CEM_ERR_ARG, "a label -2 (row 0)") lab[0] = -2; break;
    CASE(6, SMP | LAB, CEM_ERR_ARG, "a label INT_MIN (row 3)") lab[3] = INT_MIN; break;
    CASE(7, SMP | LAB, CEM_ERR_ARG, "GUIDANCE 2, a label 3 (row 1)") lab[1] = NCLS; guidance = 2; break;
    CASE(8, SMP, CEM_ERR_ARG, "a model without classes: a label 0 (row 0)") lab[0] = 0; lab[1] = lab[2] = CEM_LABEL_NONE; break;
    CASE(9, SMP | LAB, CEM_ERR_ARG, "a label 3 after a run that diverged: the count is kept")
        lab[2] = NCLS;
        diverged = 1;
        break;
    CASE(10, SMP | LAB, CEM_OK, "labels NULL: CEM_SAMPLER_LABEL (1) for every row") pl = NULL; label = 1; break;
    CASE(11, SMP, CEM_OK, "a model without classes, every label CEM_LABEL_NONE") lab[0] = lab[1] = lab[2] = CEM_LABEL_NONE; break;
    CASE(12, SMP | LAB, CEM_OK, "n = 0 with labels and out NULL: nothing done") n = 0; pl = NULL; null_out = 1; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    if (diverged)
        diverge_both();
    if (guidance >= 0)
        samplers_set(CEM_SAMPLER_GUIDANCE, guidance);
    if (label >= -1)
        samplers_set(CEM_SAMPLER_LABEL, label);
    float out[4 * D];
    fill_f(out, N_OF(out));
    c->hmsg = s ? cem_sampler_errmsg(s) : NULL;
    arm(c, "cem_sampler_run_labelled");
    int st = cem_sampler_run_labelled(s, first, n, pl, null_out ? NULL : out);
    disarm(c);
    ck_assert_msg(st == CEM_OK || kept_f(out, N_OF(out)), "out written on error");
    for (int k = 0; st == CEM_OK && n > 0 && k < 4 * D; k++)
        ck_assert_msg(isfinite(out[k]), "CEM_OK with out[%d] = %g", k, out[k]);
    if (diverged)
        ck_assert_msg(cem_sampler_diverged_rows(C.s) == 4, "the last run's 4 diverged rows now "
                      "read %zu", cem_sampler_diverged_rows(C.s));
    return st;
}

static int sampler_impute_cases(int v, bad_ctx *c)
{
    cem_sampler_t *s = C.s;
    size_t first = 0, n = 4;
    /* rows: x known, y missing; both missing; nothing missing; x missing */
    float x[4 * D] = {0.5f, NAN, NAN, NAN, 1.0f, 2.0f, NAN, -0.25f};
    unsigned char known[4 * D] = {1, 0, 0, 0, 1, 1, 0, 1};
    int lab[4] = {0, CEM_LABEL_NONE, 2, 1};
    const float *px = x;
    const unsigned char *pk = NULL;
    const int *pl = NULL;
    int null_out = 0, diverged = 0;
    double integ = -1, jumps = -1, method = -1, label = -2;
    c->rule = 's';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL sampler") s = NULL; break;
    CASE(1, SMP, CEM_ERR_ARG, "x NULL with n = 4") px = NULL; break;
    CASE(2, SMP, CEM_ERR_ARG, "x NULL with n = 4 and a mask") px = NULL; pk = known; break;
    CASE(3, SMP, CEM_ERR_ARG, "out NULL with n = 4") null_out = 1; break;
    CASE(4, SMP, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
    CASE(5, SMP, CEM_ERR_ARG, "first = SIZE_MAX - 1, n = 4: first + n wraps") first = SIZE_MAX - 1; break;
    CASE(6, SMP, CEM_ERR_ARG, "rows end above SIZE_MAX - 256 (first = SIZE_MAX - 258)") first = SIZE_MAX - 258; break;
    CASE(7, SMP, CEM_ERR_NONFINITE, "no mask: +Inf in x row 2 (NaN marks a missing coordinate, Inf does not)")
        x[2 * D + 1] = INFINITY;
        break;
    CASE(8, SMP, CEM_ERR_NONFINITE, "no mask: -Inf in x row 0") x[0] = -INFINITY; break;
    CASE(9, SMP, CEM_ERR_NONFINITE, "a mask: a known entry NaN (row 1)") pk = known; known[2] = 1; break;
    CASE(10, SMP, CEM_ERR_NONFINITE, "a mask: a known entry +Inf (row 2)") pk = known; x[4] = INFINITY; break;
    CASE(11, SMP, CEM_OK, "a mask: +Inf and NaN where it says missing (not read)") pk = known; x[1] = INFINITY; break;
    CASE(12, SMP, CEM_ERR_UNSUPPORTED, "JUMPS 1 with DPMPP_2M (multistep)")
        integ = CEM_INTEG_DPMPP_2M;
        jumps = 1;
        break;
    CASE(13, SMP, CEM_ERR_UNSUPPORTED, "JUMPS 10 (the default) with DPMPP_3M") integ = CEM_INTEG_DPMPP_3M; break;
    CASE(14, SMP, CEM_ERR_UNSUPPORTED, "JUMPS 2 with DPMPP_2M_SDE, a mask")
        integ = CEM_INTEG_DPMPP_2M_SDE;
        jumps = 2;
        pk = known;
        break;
    CASE(15, SMP, CEM_OK, "JUMPS 0 with DPMPP_2M: the plain replacement method")
        integ = CEM_INTEG_DPMPP_2M;
        jumps = 0;
        break;
    CASE(16, SMP | LAB, CEM_ERR_UNSUPPORTED, "RECONSTRUCT with labels 0, -1, 2, 1")
        method = CEM_IMPUTE_RECONSTRUCT;
        pl = lab;
        break;
    CASE(17, SMP | LAB, CEM_ERR_UNSUPPORTED, "RECONSTRUCT with labels NULL and CEM_SAMPLER_LABEL 1")
        method = CEM_IMPUTE_RECONSTRUCT;
        label = 1;
        break;
    CASE(18, SMP | LAB, CEM_OK, "RECONSTRUCT with every label CEM_LABEL_NONE")
        method = CEM_IMPUTE_RECONSTRUCT;
        lab[0] = lab[2] = lab[3] = CEM_LABEL_NONE;
        pl = lab;
        break;
    CASE(19, SMP | LAB, CEM_ERR_ARG, "a label 3 (row 1; the model's classes are 0 .. 2)") pl = lab; lab[1] = NCLS; break;
    CASE(20, SMP | LAB, CEM_ERR_ARG, "a label -2 (row 3)") pl = lab; lab[3] = -2; break;
    CASE(21, SMP, CEM_ERR_ARG, "a model without classes: a label 0 (row 0)")
        pl = lab;
        lab[2] = lab[3] = CEM_LABEL_NONE;
        break;
    CASE(22, SMP, CEM_OK, "n = 0 with x and out NULL: nothing done") n = 0; px = NULL; null_out = 1; break;
    CASE(23, SMP, CEM_ERR_NONFINITE, "+Inf in x after a run that diverged: the count is kept")
        x[0] = INFINITY;
        diverged = 1;
        break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    if (diverged)
        diverge_both();
    if (integ >= 0)
        samplers_set(CEM_SAMPLER_INTEGRATOR, integ);
    if (jumps >= 0)
        samplers_set(CEM_SAMPLER_JUMPS, jumps);
    if (method >= 0)
        samplers_set(CEM_SAMPLER_IMPUTE, method);
    if (label >= -1)
        samplers_set(CEM_SAMPLER_LABEL, label);
    float out[4 * D];
    fill_f(out, N_OF(out));
    c->hmsg = s ? cem_sampler_errmsg(s) : NULL;
    arm(c, "cem_sampler_impute");
    int st = cem_sampler_impute(s, first, n, px, pk, pl, null_out ? NULL : out);
    disarm(c);
    ck_assert_msg(st == CEM_OK || kept_f(out, N_OF(out)), "out written on error");
    for (int k = 0; st == CEM_OK && n > 0 && k < 4 * D; k++)
        ck_assert_msg(isfinite(out[k]), "CEM_OK with out[%d] = %g", k, out[k]);
    if (st == CEM_OK && n > 0) { /* the known coordinates bitwise as given */
        for (int k = 0; k < 4 * D; k++)
            if (pk ? pk[k] != 0 : !isnan(x[k]))
                ck_assert_msg(memcmp(&out[k], &x[k], sizeof(float)) == 0,
                              "known entry %d changed: %g, not %g", k, out[k], x[k]);
    }
    if (diverged)
        ck_assert_msg(cem_sampler_diverged_rows(C.s) == 4, "the last run's 4 diverged rows now "
                      "read %zu", cem_sampler_diverged_rows(C.s));
    return st;
}

static int noop_sampler_progress(size_t done, size_t total, void *user)
{
    (void)done;
    (void)total;
    (void)user;
    return 0;
}

static int sampler_set_progress_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL sampler") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_sampler_set_progress");
    int st = cem_sampler_set_progress(NULL, noop_sampler_progress, NULL);
    disarm(c);
    return st;
}

static int sampler_diverged_rows_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL sampler") break;
    CASE(1, SMP, VALUE, "before any run") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_sampler_diverged_rows");
    size_t r = cem_sampler_diverged_rows(v ? C.s : NULL);
    disarm(c);
    return null_getter(c, (long)r, 0);
}

static int sampler_times_cases(int v, bad_ctx *c)
{
    cem_sampler_t *s = C.s;
    double times[8], *pt = times;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL sampler") s = NULL; break;
    CASE(1, SMP, CEM_ERR_ARG, "times NULL") pt = NULL; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    fill_d(times, N_OF(times));
    c->hmsg = s ? cem_sampler_errmsg(s) : NULL;
    arm(c, "cem_sampler_times");
    int st = cem_sampler_times(s, pt);
    disarm(c);
    ck_assert_msg(st == CEM_OK || kept_d(times, N_OF(times)), "times written on error");
    return st;
}

static int sampler_trajectory_cases(int v, bad_ctx *c)
{
    cem_sampler_t *s = C.s;
    size_t snaps = 99, rows = 99, *ps = &snaps, *pr = &rows;
    int traj_rows = 0, run_rows = 0;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL sampler") s = NULL; break;
    CASE(1, SMP, CEM_ERR_ARG, "snaps NULL") ps = NULL; break;
    CASE(2, SMP, CEM_ERR_ARG, "rows NULL") pr = NULL; break;
    CASE(3, SMP, VALUE, "TRAJ_ROWS 2, before any run") traj_rows = 2; break;
    CASE(4, SMP, VALUE, "TRAJ_ROWS 4, after a run of 2 rows") traj_rows = 4; run_rows = 2; break;
    CASE(5, SMP, VALUE, "TRAJ_ROWS 2 set after a run: a new plan, nothing recorded")
        traj_rows = 2;
        run_rows = -4;
        break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    float out[64 * D], first[4 * D];
    double times[16];
    fill_f(out, N_OF(out));
    fill_d(times, N_OF(times));
    cem_sampler_t *both[2] = {C.s, C.s2};
    for (int k = 0; traj_rows && k < 2; k++) {
        if (run_rows < 0)
            ck_assert_int_eq(cem_sampler_run(both[k], 4, first), CEM_OK);
        ck_assert_int_eq(cem_sampler_set(both[k], CEM_SAMPLER_TRAJ_ROWS, traj_rows), CEM_OK);
        if (run_rows > 0)
            ck_assert_int_eq(cem_sampler_run(both[k], (size_t)run_rows, first), CEM_OK);
    }
    c->hmsg = s ? cem_sampler_errmsg(s) : NULL;
    arm(c, "cem_sampler_trajectory");
    int st = cem_sampler_trajectory(s, ps, pr, out, times);
    disarm(c);
    if (v < 3) {
        ck_assert_msg(st == CEM_OK || (kept_f(out, N_OF(out)) && kept_d(times, N_OF(times))),
                      "outputs written on error");
        return st;
    }
    /* the run's rows, each of its 4 snapshots (3 steps) finite */
    size_t want = run_rows > 0 ? (size_t)run_rows : 0;
    int finite = 1;
    for (size_t i = 0; st == CEM_OK && i < snaps * rows * D; i++)
        finite &= isfinite(out[i]);
    snprintf(c->result, sizeof c->result, "`%s`, %zu snapshots of %zu rows", status_name(st),
             snaps, rows);
    return st == CEM_OK && rows == want && snaps == (want ? 4 : 0) && finite &&
           kept_f(out + snaps * rows * D, N_OF(out) - snaps * rows * D);
}

static const opt_case SAMPLER_SET[] = {
    {0, CEM_SAMPLER_STEPS, 8, 0, CEM_ERR_ARG, "NULL sampler", 0},
    {'s', 0, 1, SMP, CEM_ERR_ARG, "option id 0", 0},
    {'s', 18, 1, SMP, CEM_ERR_ARG, "option id 18 (one past RECON_WEIGHT)", 0},
    {'s', -1, 1, SMP, CEM_ERR_ARG, "option id -1", 0},
    {'s', 999, 1, SMP, CEM_ERR_ARG, "option id 999", 0},
    {'s', CEM_SAMPLER_INTEGRATOR, 8, SMP, CEM_ERR_RANGE, "INTEGRATOR 8 (not a cem_integrator)", 0},
    {'s', CEM_SAMPLER_INTEGRATOR, -1, SMP, CEM_ERR_RANGE, "INTEGRATOR -1", 0},
    {'s', CEM_SAMPLER_GRID, 4, SMP, CEM_ERR_RANGE, "GRID 4 (not a cem_grid)", 0},
    {'s', CEM_SAMPLER_STEPS, 1, SMP, CEM_ERR_RANGE, "STEPS 1 (bounds [2, 1e6])", 0},
    {'s', CEM_SAMPLER_STEPS, 1000001, SMP, CEM_ERR_RANGE, "STEPS 1000001", 0},
    {'s', CEM_SAMPLER_STEPS, 2.5, SMP, CEM_ERR_RANGE, "STEPS 2.5", 0},
    {'s', CEM_SAMPLER_STEPS, NAN, SMP, CEM_ERR_RANGE, "STEPS NaN", 0},
    {'s', CEM_SAMPLER_T_MIN, 0, SMP, CEM_ERR_RANGE, "T_MIN 0 (bounds [1e-8, 50])", 0},
    {'s', CEM_SAMPLER_T_MIN, NAN, SMP, CEM_ERR_RANGE, "T_MIN NaN", 0},
    {'s', CEM_SAMPLER_T_MIN, 20, SMP, CEM_ERR_RANGE, "T_MIN 20 > T_MAX 10 (each within its bounds)", 0},
    {'s', CEM_SAMPLER_T_MIN, 10, SMP, CEM_ERR_RANGE, "T_MIN 10 = T_MAX", 0},
    {'s', CEM_SAMPLER_T_MAX, 1e-3, SMP, CEM_ERR_RANGE, "T_MAX 1e-3 (bounds [0.1, 100])", 0},
    {'s', CEM_SAMPLER_T_MAX, INFINITY, SMP, CEM_ERR_RANGE, "T_MAX +Inf", 0},
    {'s', CEM_SAMPLER_DENOISE, 2, SMP, CEM_ERR_RANGE, "DENOISE 2", 0},
    {'s', CEM_SAMPLER_DENOISE, 0.5, SMP, CEM_ERR_RANGE, "DENOISE 0.5", 0},
    {'s', CEM_SAMPLER_SEED, -1, SMP, CEM_ERR_RANGE, "SEED -1 (bounds [0, 2^53])", 0},
    {'s', CEM_SAMPLER_SEED, INFINITY, SMP, CEM_ERR_RANGE, "SEED +Inf", 0},
    {'s', CEM_SAMPLER_THREADS, 0, SMP, CEM_ERR_RANGE, "THREADS 0 (bounds [1, 256])", 0},
    {'s', CEM_SAMPLER_THREADS, 257, SMP, CEM_ERR_RANGE, "THREADS 257", 0},
    {'s', CEM_SAMPLER_TRAJ_ROWS, 1025, SMP, CEM_ERR_RANGE, "TRAJ_ROWS 1025 (bounds [0, 1024])", 0},
    {'s', CEM_SAMPLER_TRAJ_ROWS, -1, SMP, CEM_ERR_RANGE, "TRAJ_ROWS -1", 0},
    {'s', CEM_SAMPLER_TRAJ_EVERY, 0, SMP, CEM_ERR_RANGE, "TRAJ_EVERY 0 (bounds [1, 1e6])", 0},
    {'s', CEM_SAMPLER_TRAJ_EVERY, 1000001, SMP, CEM_ERR_RANGE, "TRAJ_EVERY 1000001", 0},
    {'s', CEM_SAMPLER_PRIOR, 2, SMP, CEM_ERR_RANGE, "PRIOR 2", 0},
    {'s', CEM_SAMPLER_PRIOR, NAN, SMP, CEM_ERR_RANGE, "PRIOR NaN", 0},
    {'s', CEM_SAMPLER_LABEL, -2, SMP | LAB, CEM_ERR_RANGE, "LABEL -2 (bounds [-1, 65535])", 0},
    {'s', CEM_SAMPLER_LABEL, 65536, SMP | LAB, CEM_ERR_RANGE, "LABEL 65536", 0},
    {'s', CEM_SAMPLER_LABEL, 0.5, SMP | LAB, CEM_ERR_RANGE, "LABEL 0.5", 0},
    {'s', CEM_SAMPLER_LABEL, NAN, SMP | LAB, CEM_ERR_RANGE, "LABEL NaN", 0},
    {'s', CEM_SAMPLER_LABEL, 3, SMP | LAB, CEM_ERR_RANGE,
     "LABEL 3 on a model of 3 classes (within the bounds, not a class)", 0},
    {'s', CEM_SAMPLER_LABEL, 0, SMP, CEM_ERR_RANGE, "LABEL 0 on a model without classes", 0},
    {'s', CEM_SAMPLER_GUIDANCE, -1, SMP, CEM_ERR_RANGE, "GUIDANCE -1 (bounds [0, 100])", 0},
    {'s', CEM_SAMPLER_GUIDANCE, 101, SMP | LAB, CEM_ERR_RANGE, "GUIDANCE 101", 0},
    {'s', CEM_SAMPLER_GUIDANCE, NAN, SMP | LAB, CEM_ERR_RANGE, "GUIDANCE NaN", 0},
    {'s', CEM_SAMPLER_GUIDANCE, INFINITY, SMP, CEM_ERR_RANGE, "GUIDANCE +Inf", 0},
    {'s', CEM_SAMPLER_IMPUTE, 2, SMP, CEM_ERR_RANGE, "IMPUTE 2 (not a cem_impute)", 0},
    {'s', CEM_SAMPLER_IMPUTE, -1, SMP, CEM_ERR_RANGE, "IMPUTE -1", 0},
    {'s', CEM_SAMPLER_IMPUTE, 0.5, SMP, CEM_ERR_RANGE, "IMPUTE 0.5", 0},
    {'s', CEM_SAMPLER_JUMP_LENGTH, 0, SMP, CEM_ERR_RANGE, "JUMP_LENGTH 0 (bounds [1, 1e6])", 0},
    {'s', CEM_SAMPLER_JUMP_LENGTH, 1000001, SMP, CEM_ERR_RANGE, "JUMP_LENGTH 1000001", 0},
    {'s', CEM_SAMPLER_JUMP_LENGTH, 2.5, SMP, CEM_ERR_RANGE, "JUMP_LENGTH 2.5", 0},
    {'s', CEM_SAMPLER_JUMPS, -1, SMP, CEM_ERR_RANGE, "JUMPS -1 (bounds [0, 1000])", 0},
    {'s', CEM_SAMPLER_JUMPS, 1001, SMP, CEM_ERR_RANGE, "JUMPS 1001", 0},
    {'s', CEM_SAMPLER_JUMPS, NAN, SMP, CEM_ERR_RANGE, "JUMPS NaN", 0},
    {'s', CEM_SAMPLER_RECON_WEIGHT, -1, SMP, CEM_ERR_RANGE, "RECON_WEIGHT -1 (bounds [0, 1e4])", 0},
    {'s', CEM_SAMPLER_RECON_WEIGHT, 10001, SMP, CEM_ERR_RANGE, "RECON_WEIGHT 10001", 0},
    {'s', CEM_SAMPLER_RECON_WEIGHT, INFINITY, SMP, CEM_ERR_RANGE, "RECON_WEIGHT +Inf", 0},
};

static int sampler_set_cases(int v, bad_ctx *c)
{
    c->rule = 's';
    if (opt_case_of(SAMPLER_SET, N_OF(SAMPLER_SET), v, c))
        return NO_CASE;
    if (c->describe)
        return 0;
    const opt_case *o = &SAMPLER_SET[v];
    cem_sampler_t *s = o->on ? C.s : NULL;
    c->hmsg = s ? cem_sampler_errmsg(s) : NULL;
    arm(c, "cem_sampler_set");
    int st = cem_sampler_set(s, (cem_sampler_option)o->opt, o->value);
    disarm(c);
    return st;
}

static int sampler_get_cases(int v, bad_ctx *c)
{
    cem_sampler_t *s = C.s;
    double val = KEPT_D, *pv = &val;
    int opt = CEM_SAMPLER_STEPS;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL sampler") s = NULL; break;
    CASE(1, SMP, CEM_ERR_ARG, "value NULL") pv = NULL; break;
    CASE(2, SMP, CEM_ERR_ARG, "option id 0") opt = 0; break;
    CASE(3, SMP, CEM_ERR_ARG, "option id 18") opt = 18; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    c->hmsg = s ? cem_sampler_errmsg(s) : NULL;
    arm(c, "cem_sampler_get");
    int st = cem_sampler_get(s, (cem_sampler_option)opt, pv);
    disarm(c);
    ck_assert_msg(st == CEM_OK || val == KEPT_D, "value written on error");
    return st;
}

static int sampler_bounds(int opt, double *lo, double *hi)
{
    return cem_sampler_option_bounds((cem_sampler_option)opt, lo, hi);
}

static int sampler_option_bounds_cases(int v, bad_ctx *c)
{
    return bounds_cases(v, c, "cem_sampler_option_bounds", CEM_SAMPLER_RECON_WEIGHT + 1,
                        sampler_bounds);
}

static int sampler_errmsg_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL sampler") break;
    default: return NO_CASE;
    }
    return c->describe ? 0 : errmsg_null(c, "cem_sampler_errmsg", sampler_msg);
}

static int sampler_free_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL") break;
    CASE(1, SMP, VALUE, "freed after its model was freed: releases the model too") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    if (v == 1) {
        cem_model_free(C.m);
        C.m = NULL;
    }
    arm(c, "cem_sampler_free");
    cem_sampler_free(v == 0 ? NULL : C.s);
    disarm(c);
    C.s = v == 0 ? C.s : NULL;
    snprintf(c->result, sizeof c->result, "%s", v == 0 ? "no effect" : "releases both");
    return 1;
}

/* ====================================================== flow */

static int flow_create_cases(int v, bad_ctx *c)
{
    cem_flow_t **out = &C.fout;
    cem_model_t *m = C.g;
    c->outs = O_F;
    switch (v) {
    CASE(0, GAUSS, CEM_ERR_ARG, "out NULL") out = NULL; c->outs = 0; break;
    CASE(1, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_flow_create");
    int st = cem_flow_create(out, m);
    disarm(c);
    return st;
}

/* cem_flow_logprob (what 0), cem_flow_encode (1), cem_flow_decode (2). */
static int flow_run_cases(int v, bad_ctx *c, int what)
{
    static const char *const fns[3] = {"cem_flow_logprob", "cem_flow_encode", "cem_flow_decode"};
    cem_flow_t *f = C.f;
    size_t n = 2;
    int null_in = 0, null_out = 0, nan = 0;
    c->rule = 's';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL flow") f = NULL; break;
    CASE(1, FLW, CEM_ERR_ARG, "input NULL with n = 2") null_in = 1; break;
    CASE(2, FLW, CEM_ERR_ARG, "output NULL with n = 2") null_out = 1; break;
    CASE(3, FLW, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
    CASE(4, FLW, CEM_ERR_NONFINITE, "NaN in row 1") nan = 1; break;
    CASE(5, FLW, CEM_OK, "n = 0 with NULL arrays: nothing done") n = 0; null_in = null_out = 1; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    float in[2 * D] = {0.5f, -0.25f, 1.0f, 0.0f}, out[2 * D];
    double lp[2] = {KEPT_D, KEPT_D};
    if (nan)
        in[3] = NAN;
    c->hmsg = f ? cem_flow_errmsg(f) : NULL;
    arm(c, fns[what]);
    int st = what == 0 ? cem_flow_logprob(f, n, null_in ? NULL : in, null_out ? NULL : lp, NULL)
             : what == 1 ? cem_flow_encode(f, n, null_in ? NULL : in, null_out ? NULL : out)
                         : cem_flow_decode(f, n, null_in ? NULL : in, null_out ? NULL : out);
    disarm(c);
    return st;
}

static int flow_logprob_cases(int v, bad_ctx *c) { return flow_run_cases(v, c, 0); }
static int flow_encode_cases(int v, bad_ctx *c) { return flow_run_cases(v, c, 1); }
static int flow_decode_cases(int v, bad_ctx *c) { return flow_run_cases(v, c, 2); }

static int flow_set_progress_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL flow") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_flow_set_progress");
    int st = cem_flow_set_progress(NULL, noop_sampler_progress, NULL);
    disarm(c);
    return st;
}

static const opt_case FLOW_SET[] = {
    {0, CEM_FLOW_RTOL, 1e-6, 0, CEM_ERR_ARG, "NULL flow", 0},
    {'s', 0, 1, FLW, CEM_ERR_ARG, "option id 0", 0},
    {'s', 10, 1, FLW, CEM_ERR_ARG, "option id 10 (one past MAX_STEPS)", 0},
    {'s', CEM_FLOW_RTOL, 0, FLW, CEM_ERR_RANGE, "RTOL 0 (bounds [1e-12, 0.1])", 0},
    {'s', CEM_FLOW_ATOL, NAN, FLW, CEM_ERR_RANGE, "ATOL NaN", 0},
    {'s', CEM_FLOW_T_MIN, 20, FLW, CEM_ERR_RANGE, "T_MIN 20 > T_MAX 10 (each within its bounds)", 0},
    {'s', CEM_FLOW_T_MAX, INFINITY, FLW, CEM_ERR_RANGE, "T_MAX +Inf", 0},
    {'s', CEM_FLOW_EXACT_DIM, -1, FLW, CEM_ERR_RANGE, "EXACT_DIM -1 (bounds [0, 4096])", 0},
    {'s', CEM_FLOW_PROBES, 0, FLW, CEM_ERR_RANGE, "PROBES 0 (bounds [1, 1024])", 0},
    {'s', CEM_FLOW_PROBES, 1.5, FLW, CEM_ERR_RANGE, "PROBES 1.5", 0},
    {'s', CEM_FLOW_SEED, -1, FLW, CEM_ERR_RANGE, "SEED -1", 0},
    {'s', CEM_FLOW_THREADS, 257, FLW, CEM_ERR_RANGE, "THREADS 257", 0},
    {'s', CEM_FLOW_MAX_STEPS, 9, FLW, CEM_ERR_RANGE, "MAX_STEPS 9 (bounds [10, 1e7])", 0},
};

static int flow_set_cases(int v, bad_ctx *c)
{
    c->rule = 's';
    if (opt_case_of(FLOW_SET, N_OF(FLOW_SET), v, c))
        return NO_CASE;
    if (c->describe)
        return 0;
    const opt_case *o = &FLOW_SET[v];
    cem_flow_t *f = o->on ? C.f : NULL;
    c->hmsg = f ? cem_flow_errmsg(f) : NULL;
    arm(c, "cem_flow_set");
    int st = cem_flow_set(f, (cem_flow_option)o->opt, o->value);
    disarm(c);
    return st;
}

static int flow_get_cases(int v, bad_ctx *c)
{
    cem_flow_t *f = C.f;
    double val = KEPT_D, *pv = &val;
    int opt = CEM_FLOW_RTOL;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL flow") f = NULL; break;
    CASE(1, FLW, CEM_ERR_ARG, "value NULL") pv = NULL; break;
    CASE(2, FLW, CEM_ERR_ARG, "option id 0") opt = 0; break;
    CASE(3, FLW, CEM_ERR_ARG, "option id 10") opt = 10; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    c->hmsg = f ? cem_flow_errmsg(f) : NULL;
    arm(c, "cem_flow_get");
    int st = cem_flow_get(f, (cem_flow_option)opt, pv);
    disarm(c);
    ck_assert_msg(st == CEM_OK || val == KEPT_D, "value written on error");
    return st;
}

static int flow_bounds(int opt, double *lo, double *hi)
{
    return cem_flow_option_bounds((cem_flow_option)opt, lo, hi);
}

static int flow_option_bounds_cases(int v, bad_ctx *c)
{
    return bounds_cases(v, c, "cem_flow_option_bounds", CEM_FLOW_MAX_STEPS + 1, flow_bounds);
}

static int flow_errmsg_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL flow") break;
    default: return NO_CASE;
    }
    return c->describe ? 0 : errmsg_null(c, "cem_flow_errmsg", flow_msg);
}

static int flow_free_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL") break;
    CASE(1, FLW, VALUE, "freed after its model was freed: releases the model too") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    if (v == 1) {
        cem_model_free(C.g);
        C.g = NULL;
    }
    arm(c, "cem_flow_free");
    cem_flow_free(v == 0 ? NULL : C.f);
    disarm(c);
    C.f = v == 0 ? C.f : NULL;
    snprintf(c->result, sizeof c->result, "%s", v == 0 ? "no effect" : "releases both");
    return 1;
}

/* ====================================================== checkpoints */

/* cem_model_save (trainer = 0) and cem_trainer_save (trainer = 1). */
static int save_cases(int v, bad_ctx *c, int trainer)
{
    const char *fn = trainer ? "cem_trainer_save" : "cem_model_save";
    unsigned env = trainer ? TR : MLP;
    int handle = 1, where = 0; /* 0 a new file, 1 NULL, 2 "", 3 a missing directory, 4 a directory */
    cem_model_t *m = C.m;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, trainer ? "NULL trainer" : "NULL model") handle = 0; break;
    CASE(1, env, CEM_ERR_ARG, "path NULL") where = 1; break;
    CASE(2, env, CEM_ERR_ARG, "path \"\"") where = 2; break;
    CASE(3, env, CEM_ERR_IO, "a path in a missing directory") where = 3; break;
    CASE(4, env, CEM_ERR_IO, "path is a directory") where = 4; break;
    default:
        if (trainer)
            return NO_CASE;
        switch (v) {
        CASE(5, EMP, CEM_ERR_UNSUPPORTED, "an empirical model (closed forms are not saved)") m = C.e; break;
        default: return NO_CASE;
        }
    }
    if (c->describe)
        return 0;
    char path[160];
    mkpath(path, sizeof path, where == 3 ? "missing/out.cem" : where == 4 ? "" : "saved.cem");
    const char *p = where == 1 ? NULL : where == 2 ? "" : path;
    if (trainer)
        c->hmsg = handle ? cem_trainer_errmsg(C.tr) : NULL;
    else
        c->hmsg = handle ? cem_model_errmsg(m) : NULL;
    arm(c, fn);
    int st = trainer ? cem_trainer_save(handle ? C.tr : NULL, p)
                     : cem_model_save(handle ? m : NULL, p);
    disarm(c);
    mkpath(path, sizeof path, "saved.cem");
    ck_assert_msg(st == CEM_OK || !exists(path), "a file was written on error");
    unlink(path);
    return st;
}

static int model_save_cases(int v, bad_ctx *c) { return save_cases(v, c, 0); }
static int trainer_save_cases(int v, bad_ctx *c) { return save_cases(v, c, 1); }

/* cem_model_save_buffer (trainer = 0) and cem_trainer_save_buffer. */
static int save_buffer_cases(int v, bad_ctx *c, int trainer)
{
    const char *fn = trainer ? "cem_trainer_save_buffer" : "cem_model_save_buffer";
    unsigned env = trainer ? TR : MLP;
    int handle = 1, null_buf = 0, null_size = 0;
    cem_model_t *m = C.m;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, trainer ? "NULL trainer: `*buf` NULL, `*size` 0" : "NULL model: `*buf` NULL, `*size` 0")
        handle = 0;
        break;
    CASE(1, env, CEM_ERR_ARG, "buf NULL") null_buf = 1; break;
    CASE(2, env, CEM_ERR_ARG, "size NULL") null_size = 1; break;
    default:
        if (trainer)
            return NO_CASE;
        switch (v) {
        CASE(3, EMP, CEM_ERR_UNSUPPORTED, "an empirical model: `*buf` NULL, `*size` 0") m = C.e; break;
        default: return NO_CASE;
        }
    }
    if (c->describe)
        return 0;
    void *buf = SENTINEL;
    size_t size = 99;
    if (trainer)
        c->hmsg = handle ? cem_trainer_errmsg(C.tr) : NULL;
    else
        c->hmsg = handle ? cem_model_errmsg(m) : NULL;
    arm(c, fn);
    int st = trainer ? cem_trainer_save_buffer(handle ? C.tr : NULL, null_buf ? NULL : &buf,
                                               null_size ? NULL : &size)
                     : cem_model_save_buffer(handle ? m : NULL, null_buf ? NULL : &buf,
                                             null_size ? NULL : &size);
    disarm(c);
    if (!null_buf && !null_size)
        ck_assert_msg(st == CEM_OK || (buf == NULL && size == 0),
                      "on error *buf is %s and *size %zu, not NULL and 0",
                      buf == SENTINEL ? "untouched" : buf ? "set" : "NULL", size);
    if (st == CEM_OK && buf != SENTINEL)
        cem_free(buf);
    return st;
}

static int model_save_buffer_cases(int v, bad_ctx *c) { return save_buffer_cases(v, c, 0); }
static int trainer_save_buffer_cases(int v, bad_ctx *c) { return save_buffer_cases(v, c, 1); }

/* The loaders.  file: from a path; trainer: 0 cem_model_load*, 1
 * cem_trainer_load*, 2 cem_trainer_load*_labelled. */
static int load_cases(int v, bad_ctx *c, int file, int trainer)
{
    static const char *const fns[3][2] = {
        {"cem_model_load_buffer", "cem_model_load"},
        {"cem_trainer_load_buffer", "cem_trainer_load"},
        {"cem_trainer_load_buffer_labelled", "cem_trainer_load_labelled"}};
    const char *fn = fns[trainer][file];
    const unsigned env = trainer == 2 ? TR | LAB : trainer ? TR : MLP;
    int null_out = 0, damage = DMG_NONE, null_src = 0, null_data = 0, null_labels = 0;
    int model_ckpt = 0;
    int special = 0; /* file: 1 missing, 2 directory, 3 empty, 4 FIFO; buffer: 1 size 0 */
    float pts[NDATA * D];
    int lab[NDATA];
    memcpy(pts, data, sizeof pts);
    memcpy(lab, data_labels, sizeof lab);
    size_t n = NDATA;
    int dim = D;
    c->outs = trainer ? O_T : O_M;
    switch (v) {
    CASE(0, env, CEM_ERR_ARG, "out NULL") null_out = 1; c->outs = 0; break;
    CASE(1, env, CEM_ERR_ARG, file ? "path NULL" : "buf NULL with size 100") null_src = 1; break;
    default:
        if (file && !trainer) {
            switch (v) {
            CASE(2, 0, CEM_ERR_IO, "a missing file") special = 1; break;
            CASE(3, 0, CEM_ERR_IO, "a directory") special = 2; break;
            CASE(4, 0, CEM_ERR_TRUNCATED, "an empty file") special = 3; break;
            CASE(5, MLP, CEM_ERR_BAD_MAGIC, "a CSV file") damage = DMG_TEXT; break;
            CASE(6, MLP, CEM_ERR_TRUNCATED, "a checkpoint cut to half its size") damage = DMG_HALF; break;
            CASE(7, MLP, CEM_ERR_CHECKSUM, "a weight byte changed") damage = DMG_FLIP; break;
            CASE(8, MLP, CEM_ERR_CORRUPT, "a byte appended") damage = DMG_APPEND; break;
            CASE(9, MLP, CEM_ERR_VERSION, "format version 99 (checksum resealed)") damage = DMG_VERSION99; break;
            CASE(10, 0, CEM_ERR_IO, "a named pipe with no writer (must not block)") special = 4; break;
            default: return NO_CASE;
            }
        } else if (!file && !trainer) {
            switch (v) {
            CASE(2, MLP, CEM_ERR_TRUNCATED, "size 0") special = 1; break;
            CASE(3, MLP, CEM_ERR_BAD_MAGIC, "16 bytes of CSV text") damage = DMG_TEXT; break;
            CASE(4, MLP, CEM_ERR_TRUNCATED, "cut to half its size") damage = DMG_HALF; break;
            CASE(5, MLP, CEM_ERR_TRUNCATED, "cut to 50 bytes (inside the header)") damage = DMG_HEAD; break;
            CASE(6, MLP, CEM_ERR_CHECKSUM, "a weight byte changed") damage = DMG_FLIP; break;
            CASE(7, MLP, CEM_ERR_CORRUPT, "a byte appended") damage = DMG_APPEND; break;
            CASE(8, MLP, CEM_ERR_VERSION, "format version 99 (checksum resealed)") damage = DMG_VERSION99; break;
            CASE(9, MLP, CEM_ERR_VERSION, "format version 0 (resealed)") damage = DMG_VERSION0; break;
            CASE(10, MLP, CEM_ERR_CORRUPT, "byte-order mark reversed (resealed)") damage = DMG_BOM; break;
            CASE(11, MLP, CEM_ERR_CORRUPT, "width field 0 (resealed)") damage = DMG_WIDTH0; break;
            CASE(12, MLP, CEM_ERR_CORRUPT, "dimension field 5000 (resealed)") damage = DMG_DIM5000; break;
            CASE(13, MLP, CEM_ERR_CORRUPT, "T_MIN field 20 > T_MAX 10 (resealed)") damage = DMG_TMIN; break;
            CASE(14, MLP, CEM_ERR_CORRUPT, "T_MAX field +Inf (resealed)") damage = DMG_TMAX_INF; break;
            CASE(15, MLP, CEM_ERR_CORRUPT, "a weight NaN (resealed)") damage = DMG_NAN_WEIGHT; break;
            CASE(16, MLP, CEM_ERR_VERSION, "model option id 999 (resealed)") damage = DMG_OPTION999; break;
            CASE(17, MLP, CEM_ERR_CORRUPT, "model kind 2 (resealed)") damage = DMG_KIND2; break;
            CASE(18, MLP, CEM_ERR_CORRUPT,
                 "WIDTH 8192, DEPTH 64: 4.2e9 parameters, more than the API makes (resealed)")
                damage = DMG_HUGE;
                break;
            CASE(19, LAB, CEM_ERR_CORRUPT,
                 "a model of 3 classes (format 4) marked format 3: its label table does not fit "
                 "(resealed)")
                damage = DMG_VERSION3;
                break;
            CASE(20, LAB, CEM_ERR_CHECKSUM, "a model of 3 classes (format 4): a weight byte changed")
                damage = DMG_FLIP;
                break;
            default: return NO_CASE;
            }
        } else {
            switch (v) {
            CASE(2, env, CEM_ERR_ARG, "data NULL") null_data = 1; break;
            CASE(3, env, CEM_ERR_ARG, "a model checkpoint (no trainer in it)") model_ckpt = 1; break;
            CASE(4, env, CEM_ERR_ARG, "data with one value changed") pts[7] += 0.5f; break;
            CASE(5, env, CEM_ERR_ARG, "n = 15, saved with 16") n = NDATA - 1; break;
            CASE(6, env, CEM_ERR_ARG, "dim 3, saved with 2") dim = 3; break;
            CASE(7, env, CEM_ERR_ARG, "NaN in the data (not the saved data)") pts[4] = NAN; break;
            CASE(8, env, CEM_ERR_CHECKSUM, "a weight byte changed") damage = DMG_FLIP; break;
            default:
                if (trainer == 1 && file) {
                    switch (v) {
                    CASE(9, 0, CEM_ERR_IO, "a missing file") special = 1; break;
                    CASE(10, TR | LAB, CEM_ERR_ARG,
                         "a labelled trainer's checkpoint (cem_trainer_load_labelled loads it)")
                        break;
                    default: return NO_CASE;
                    }
                } else if (trainer == 1) {
                    switch (v) {
                    CASE(9, TR, CEM_ERR_TRUNCATED, "cut to half its size") damage = DMG_HALF; break;
                    CASE(10, TR, CEM_ERR_CORRUPT, "a byte appended") damage = DMG_APPEND; break;
                    CASE(11, TR, CEM_ERR_VERSION, "format version 99 (resealed)") damage = DMG_VERSION99; break;
                    CASE(12, TR, CEM_ERR_CORRUPT, "step count 2^62 + 1 (resealed)") damage = DMG_STEPS; break;
                    CASE(13, TR | LAB, CEM_ERR_ARG,
                         "a labelled trainer's checkpoint (cem_trainer_load_buffer_labelled loads it)")
                        break;
                    CASE(14, TR | LAB, CEM_ERR_ARG,
                         "a model of 3 classes (format 4; no trainer in it)")
                        model_ckpt = 1;
                        break;
                    CASE(15, TR | LAB, CEM_ERR_CORRUPT,
                         "a labelled trainer's checkpoint, labels flag 0 but their CRC-32 kept "
                         "(resealed)")
                        damage = DMG_LABELS_FLAG0;
                        break;
                    default: return NO_CASE;
                    }
                } else {
                    switch (v) {
                    CASE(9, TR | LAB, CEM_ERR_ARG, "labels NULL") null_labels = 1; break;
                    CASE(10, TR | LAB, CEM_ERR_ARG, "data and labels NULL") null_data = null_labels = 1; break;
                    CASE(11, TR, CEM_ERR_ARG,
                         "an unlabelled trainer's checkpoint (the loaders without labels load it)")
                        break;
                    CASE(12, TR | LAB, CEM_ERR_ARG, "labels with row 5 in another class")
                        lab[5] = (lab[5] + 1) % NCLS;
                        break;
                    CASE(13, TR | LAB, CEM_ERR_ARG,
                         "labels with row 2 CEM_LABEL_NONE, saved with a class")
                        lab[2] = CEM_LABEL_NONE;
                        break;
                    CASE(14, TR | LAB, CEM_ERR_ARG, "a label 3 (not a class; not the saved labels)")
                        lab[0] = NCLS;
                        break;
                    default:
                        if (file) {
                            switch (v) {
                            CASE(15, 0, CEM_ERR_IO, "a missing file") special = 1; break;
                            CASE(16, 0, CEM_ERR_IO, "a directory") special = 2; break;
                            default: return NO_CASE;
                            }
                        } else {
                            switch (v) {
                            CASE(15, TR | LAB, CEM_ERR_TRUNCATED, "cut to half its size") damage = DMG_HALF; break;
                            CASE(16, TR | LAB, CEM_ERR_CORRUPT, "a byte appended") damage = DMG_APPEND; break;
                            CASE(17, TR | LAB, CEM_ERR_VERSION, "format version 99 (resealed)")
                                damage = DMG_VERSION99;
                                break;
                            CASE(18, TR | LAB, CEM_ERR_CORRUPT,
                                 "format version 3 (resealed): the label table does not fit")
                                damage = DMG_VERSION3;
                                break;
                            CASE(19, TR | LAB, CEM_ERR_CORRUPT, "labels flag 2 (resealed)")
                                damage = DMG_LABELS_FLAG2;
                                break;
                            CASE(20, TR | LAB, CEM_ERR_CORRUPT,
                                 "labels flag 0 but their CRC-32 kept (resealed)")
                                damage = DMG_LABELS_FLAG0;
                                break;
                            CASE(21, TR | LAB, CEM_ERR_ARG,
                                 "labels flag 0 and CRC-32 0 (resealed): an unlabelled trainer's "
                                 "checkpoint of a model with classes")
                                damage = DMG_UNLABELLED;
                                break;
                            CASE(22, TR | LAB, CEM_ERR_CORRUPT, "step count 2^62 + 1 (resealed)")
                                damage = DMG_STEPS;
                                break;
                            default: return NO_CASE;
                            }
                        }
                    }
                }
            }
        }
    }
    if (c->describe)
        return 0;
    unsigned char *b = NULL;
    size_t size = 0;
    char path[160];
    mkpath(path, sizeof path, "load.cem");
    if (special == 0 && C.m)
        b = checkpoint(trainer && !model_ckpt, damage, &size);
    if (file) {
        if (special == 2)
            snprintf(path, sizeof path, "%s", dir);
        else if (special == 3)
            ck_assert_int_eq(spill(path, "", 0), 0);
        else if (special == 4)
            ck_assert_int_eq(mkfifo(path, 0600), 0);
        else if (b)
            ck_assert_int_eq(spill(path, b, size), 0);
    }
    const char *p = null_src ? NULL : path;
    const void *src = null_src ? NULL : b ? (const void *)b : (const void *)"";
    if (null_src && !file)
        size = 100;
    cem_model_t **mo = null_out ? NULL : &C.mout;
    cem_trainer_t **to = null_out ? NULL : &C.trout;
    const float *pd = null_data ? NULL : pts;
    const int *pl = null_labels ? NULL : lab;
    arm(c, fn);
    int st;
    if (trainer == 2)
        st = file ? cem_trainer_load_labelled(to, p, pd, pl, n, dim)
                  : cem_trainer_load_buffer_labelled(to, src, size, pd, pl, n, dim);
    else if (trainer)
        st = file ? cem_trainer_load(to, p, pd, n, dim)
                  : cem_trainer_load_buffer(to, src, size, pd, n, dim);
    else
        st = file ? cem_model_load(mo, p) : cem_model_load_buffer(mo, src, size);
    disarm(c);
    if (special != 2)
        unlink(path);
    free(b);
    return st;
}

static int model_load_cases(int v, bad_ctx *c) { return load_cases(v, c, 1, 0); }
static int model_load_buffer_cases(int v, bad_ctx *c) { return load_cases(v, c, 0, 0); }
static int trainer_load_cases(int v, bad_ctx *c) { return load_cases(v, c, 1, 1); }
static int trainer_load_buffer_cases(int v, bad_ctx *c) { return load_cases(v, c, 0, 1); }
static int trainer_load_labelled_cases(int v, bad_ctx *c) { return load_cases(v, c, 1, 2); }
static int trainer_load_buffer_labelled_cases(int v, bad_ctx *c) { return load_cases(v, c, 0, 2); }

/* ====================================================== datasets */

static int dataset_create_cases(int v, bad_ctx *c)
{
    cem_dataset_t **out = &C.dout;
    int kind = CEM_DATA_CIRCLE, dim = D;
    c->outs = O_D;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "out NULL") out = NULL; c->outs = 0; break;
    CASE(1, 0, CEM_ERR_ARG, "kind 7 (not a cem_dataset_kind)") kind = 7; break;
    CASE(2, 0, CEM_ERR_ARG, "kind -1") kind = -1; break;
    CASE(3, 0, CEM_ERR_ARG, "CIRCLE in dim 1 (native 2)") dim = 1; break;
    CASE(4, 0, CEM_ERR_ARG, "SPHERE in dim 2 (native 3)") kind = CEM_DATA_SPHERE; break;
    CASE(5, 0, CEM_ERR_ARG, "KNOT in dim 2 (native 3)") kind = CEM_DATA_KNOT; break;
    CASE(6, 0, CEM_ERR_ARG, "dim 0") dim = 0; break;
    CASE(7, 0, CEM_ERR_ARG, "dim -1") dim = -1; break;
    CASE(8, 0, CEM_ERR_ARG, "dim 4097 (above 4096)") dim = 4097; break;
    CASE(9, 0, CEM_ERR_ARG, "dim INT_MAX") dim = INT_MAX; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_dataset_create");
    int st = cem_dataset_create(out, (cem_dataset_kind)kind, dim, 3);
    disarm(c);
    return st;
}

static int dataset_sample_cases(int v, bad_ctx *c)
{
    cem_dataset_t *d = C.d;
    size_t n = 4;
    int null_out = 0;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL dataset") d = NULL; break;
    CASE(1, CIRC, CEM_ERR_ARG, "out NULL with n = 4") null_out = 1; break;
    CASE(2, CIRC, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    float out[4 * D];
    fill_f(out, N_OF(out));
    c->hmsg = d ? cem_dataset_errmsg(d) : NULL;
    arm(c, "cem_dataset_sample");
    int st = cem_dataset_sample(d, n, 1, null_out ? NULL : out);
    disarm(c);
    ck_assert_msg(st == CEM_OK || kept_f(out, N_OF(out)), "out written on error");
    return st;
}

/* cem_dataset_distance (coord = 0) and cem_dataset_coordinate. */
static int per_point_cases(int v, bad_ctx *c, int coord)
{
    cem_dataset_t *d = C.d;
    float x[4 * D] = {0.3f, -0.2f, 1.1f, 0.4f, -0.7f, 0.9f, 2.0f, -1.5f};
    const float *px = x;
    size_t n = 4;
    int null_out = 0;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL dataset") d = NULL; break;
    CASE(1, CIRC, CEM_ERR_ARG, "x NULL with n = 4") px = NULL; break;
    CASE(2, CIRC, CEM_ERR_ARG, coord ? "u NULL with n = 4" : "dist NULL with n = 4") null_out = 1; break;
    CASE(3, CIRC, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
    CASE(4, CIRC, CEM_ERR_NONFINITE, "NaN in x row 2") x[2 * D + 1] = NAN; break;
    CASE(5, CIRC, CEM_ERR_NONFINITE, "+Inf in x row 0") x[0] = INFINITY; break;
    CASE(6, PTS, CEM_ERR_NONFINITE, "POINTS: -Inf in x row 3") x[3 * D] = -INFINITY; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    double out[4];
    fill_d(out, 4);
    c->hmsg = d ? cem_dataset_errmsg(d) : NULL;
    arm(c, coord ? "cem_dataset_coordinate" : "cem_dataset_distance");
    int st = coord ? cem_dataset_coordinate(d, n, px, null_out ? NULL : out)
                   : cem_dataset_distance(d, n, px, null_out ? NULL : out);
    disarm(c);
    ck_assert_msg(st == CEM_OK || kept_d(out, 4), "output written on error");
    return st;
}

static int dataset_distance_cases(int v, bad_ctx *c) { return per_point_cases(v, c, 0); }
static int dataset_coordinate_cases(int v, bad_ctx *c) { return per_point_cases(v, c, 1); }

static int coordinate_cdf_cases(int v, bad_ctx *c)
{
    cem_dataset_t *d = C.d;
    double u = 0.5, want = 0;
    switch (v) {
    CASE(0, 0, VALUE, "NULL dataset") d = NULL; want = NAN; break;
    CASE(1, CIRC, VALUE, "u NaN") u = NAN; want = NAN; break;
    CASE(2, CIRC, VALUE, "u -Inf") u = -INFINITY; want = 0; break;
    CASE(3, CIRC, VALUE, "u +Inf") u = INFINITY; want = 1; break;
    CASE(4, PTS, VALUE, "POINTS: u -1") u = -1; want = 0; break;
    CASE(5, PTS, VALUE, "POINTS: u 2") u = 2; want = 1; break;
    CASE(6, PTS, VALUE, "POINTS: u NaN") u = NAN; want = NAN; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_dataset_coordinate_cdf");
    double r = cem_dataset_coordinate_cdf(d, u);
    disarm(c);
    if (isnan(r))
        snprintf(c->result, sizeof c->result, "returns NaN");
    else
        snprintf(c->result, sizeof c->result, "returns %g", r);
    return isnan(want) ? isnan(r) : r == want;
}

static int dataset_dims_case(int v, bad_ctx *c, const char *fn, int (*get)(const cem_dataset_t *))
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL dataset") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, fn);
    int r = get(NULL);
    disarm(c);
    return null_getter(c, r, -1);
}

static int dataset_dim_cases(int v, bad_ctx *c)
{
    return dataset_dims_case(v, c, "cem_dataset_dim", cem_dataset_dim);
}

static int dataset_native_dim_cases(int v, bad_ctx *c)
{
    return dataset_dims_case(v, c, "cem_dataset_native_dim", cem_dataset_native_dim);
}

static int dataset_intrinsic_dim_cases(int v, bad_ctx *c)
{
    return dataset_dims_case(v, c, "cem_dataset_intrinsic_dim", cem_dataset_intrinsic_dim);
}

static const opt_case DATASET_SET[] = {
    {0, CEM_DATASET_NPOINTS, 6, 0, CEM_ERR_ARG, "NULL dataset", 0},
    {'d', 0, 6, PTS, CEM_ERR_ARG, "option id 0", 0},
    {'d', 2, 6, PTS, CEM_ERR_ARG, "option id 2 (one past NPOINTS)", 0},
    {'d', -1, 6, PTS, CEM_ERR_ARG, "option id -1", 0},
    {'d', CEM_DATASET_NPOINTS, 6, CIRC, CEM_ERR_UNSUPPORTED, "NPOINTS 6 on a CIRCLE", 0},
    {'d', CEM_DATASET_NPOINTS, 0, PTS, CEM_ERR_RANGE, "NPOINTS 0 (bounds [1, 1e6])", 0},
    {'d', CEM_DATASET_NPOINTS, 1000001, PTS, CEM_ERR_RANGE, "NPOINTS 1000001", 0},
    {'d', CEM_DATASET_NPOINTS, 2.5, PTS, CEM_ERR_RANGE, "NPOINTS 2.5", 0},
    {'d', CEM_DATASET_NPOINTS, NAN, PTS, CEM_ERR_RANGE, "NPOINTS NaN", 0},
    {'d', CEM_DATASET_NPOINTS, -INFINITY, PTS, CEM_ERR_RANGE, "NPOINTS -Inf", 0},
};

static int dataset_set_cases(int v, bad_ctx *c)
{
    c->rule = 's';
    if (opt_case_of(DATASET_SET, N_OF(DATASET_SET), v, c))
        return NO_CASE;
    if (c->describe)
        return 0;
    const opt_case *o = &DATASET_SET[v];
    cem_dataset_t *d = o->on ? C.d : NULL;
    c->hmsg = d ? cem_dataset_errmsg(d) : NULL;
    arm(c, "cem_dataset_set");
    int st = cem_dataset_set(d, (cem_dataset_option)o->opt, o->value);
    disarm(c);
    return st;
}

static int dataset_get_cases(int v, bad_ctx *c)
{
    cem_dataset_t *d = C.d;
    double val = KEPT_D, *pv = &val;
    int opt = CEM_DATASET_NPOINTS;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL dataset") d = NULL; break;
    CASE(1, PTS, CEM_ERR_ARG, "value NULL") pv = NULL; break;
    CASE(2, PTS, CEM_ERR_ARG, "option id 0") opt = 0; break;
    CASE(3, PTS, CEM_ERR_ARG, "option id 2") opt = 2; break;
    CASE(4, CIRC, CEM_ERR_UNSUPPORTED, "NPOINTS of a CIRCLE") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    c->hmsg = d ? cem_dataset_errmsg(d) : NULL;
    arm(c, "cem_dataset_get");
    int st = cem_dataset_get(d, (cem_dataset_option)opt, pv);
    disarm(c);
    ck_assert_msg(st == CEM_OK || val == KEPT_D, "value written on error");
    return st;
}

static int dataset_bounds(int opt, double *lo, double *hi)
{
    return cem_dataset_option_bounds((cem_dataset_option)opt, lo, hi);
}

static int dataset_option_bounds_cases(int v, bad_ctx *c)
{
    return bounds_cases(v, c, "cem_dataset_option_bounds", CEM_DATASET_NPOINTS + 1, dataset_bounds);
}

static int set_affine_cases(int v, bad_ctx *c)
{
    cem_dataset_t *d = C.d;
    double scale = 2.0, off[D] = {0.5, -0.5};
    c->rule = 's';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL dataset") d = NULL; break;
    CASE(1, CIRC, CEM_ERR_RANGE, "scale 0 (bounds (0, 1e6])") scale = 0.0; break;
    CASE(2, CIRC, CEM_ERR_RANGE, "scale -1") scale = -1.0; break;
    CASE(3, CIRC, CEM_ERR_RANGE, "scale NaN") scale = NAN; break;
    CASE(4, CIRC, CEM_ERR_RANGE, "scale +Inf") scale = INFINITY; break;
    CASE(5, CIRC, CEM_ERR_RANGE, "scale 2e6") scale = 2e6; break;
    CASE(6, CIRC, CEM_ERR_RANGE, "offset[1] NaN") off[1] = NAN; break;
    CASE(7, CIRC, CEM_ERR_RANGE, "offset[0] 2e6 (bounds [-1e6, 1e6])") off[0] = 2e6; break;
    CASE(8, CIRC, CEM_ERR_RANGE, "offset[1] -Inf") off[1] = -INFINITY; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    c->hmsg = d ? cem_dataset_errmsg(d) : NULL;
    arm(c, "cem_dataset_set_affine");
    int st = cem_dataset_set_affine(d, scale, off);
    disarm(c);
    return st;
}

static int get_affine_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL dataset") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    double scale = KEPT_D, off[D];
    fill_d(off, D);
    arm(c, "cem_dataset_get_affine");
    int st = cem_dataset_get_affine(NULL, &scale, off);
    disarm(c);
    ck_assert_msg(st == CEM_OK || (scale == KEPT_D && kept_d(off, D)), "outputs written on error");
    return st;
}

static int dataset_errmsg_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL dataset") break;
    default: return NO_CASE;
    }
    return c->describe ? 0 : errmsg_null(c, "cem_dataset_errmsg", dataset_msg);
}

static int dataset_free_cases(int v, bad_ctx *c)
{
    switch (v) {
    CASE(0, 0, VALUE, "NULL") break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    arm(c, "cem_dataset_free");
    cem_dataset_free(NULL);
    disarm(c);
    snprintf(c->result, sizeof c->result, "no effect");
    return 1;
}

/* ====================================================== metrics */

static int metric_distance_cases(int v, bad_ctx *c)
{
    cem_dataset_t *d = C.d;
    float x[4 * D] = {0.3f, -0.2f, 1.1f, 0.4f, -0.7f, 0.9f, 2.0f, -1.5f};
    const float *px = x;
    size_t n = 4;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL dataset") d = NULL; break;
    CASE(1, CIRC, CEM_ERR_ARG, "n = 0") n = 0; break;
    CASE(2, CIRC, CEM_ERR_ARG, "x NULL with n = 4") px = NULL; break;
    CASE(3, CIRC, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
    CASE(4, CIRC, CEM_ERR_NONFINITE, "NaN in x row 1") x[D] = NAN; break;
    CASE(5, CIRC, CEM_ERR_NONFINITE, "-Inf in x row 3") x[3 * D + 1] = -INFINITY; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    double mean = KEPT_D, p95 = KEPT_D, max = KEPT_D;
    c->hmsg = d ? cem_dataset_errmsg(d) : NULL;
    arm(c, "cem_metric_distance");
    int st = cem_metric_distance(d, n, px, &mean, &p95, &max);
    disarm(c);
    ck_assert_msg(st == CEM_OK || (mean == KEPT_D && p95 == KEPT_D && max == KEPT_D),
                  "outputs written on error");
    return st;
}

/* The two-set metrics: 0 sliced W2, 1 energy, 2 MMD. */
static int pair_cases(int v, bad_ctx *c, int which)
{
    static const char *const names[3] = {"cem_metric_sliced_w2", "cem_metric_energy",
                                         "cem_metric_mmd"};
    float a[4 * D] = {0.3f, -0.2f, 1.1f, 0.4f, -0.7f, 0.9f, 2.0f, -1.5f};
    float b[3 * D] = {0.1f, 0.1f, -0.4f, 0.8f, 1.2f, -0.3f};
    const float *pa = a, *pb = b;
    size_t na = 4, nb = 3;
    int dim = D, directions = 16, null_out = 0;
    double bw = 0.5;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "na = 0") na = 0; break;
    CASE(1, 0, CEM_ERR_ARG, "nb = 0") nb = 0; break;
    CASE(2, 0, CEM_ERR_ARG, "a NULL with na = 4") pa = NULL; break;
    CASE(3, 0, CEM_ERR_ARG, "b NULL with nb = 3") pb = NULL; break;
    CASE(4, 0, CEM_ERR_ARG, "dim 0") dim = 0; break;
    CASE(5, 0, CEM_ERR_ARG, "dim -1") dim = -1; break;
    CASE(6, 0, CEM_ERR_ARG, "out NULL") null_out = 1; break;
    CASE(7, 0, CEM_ERR_NONFINITE, "NaN in a row 1") a[D] = NAN; break;
    CASE(8, 0, CEM_ERR_NONFINITE, "+Inf in b row 2") b[2 * D + 1] = INFINITY; break;
    CASE(9, 0, CEM_ERR_ARG, "na x dim overflows size_t (na = SIZE_MAX/2 + 1, dim 2)") na = HUGE_N; break;
    default:
        if (which == 0) {
            switch (v) {
            CASE(10, 0, CEM_ERR_ARG, "directions 0") directions = 0; break;
            CASE(11, 0, CEM_ERR_ARG, "directions -5") directions = -5; break;
            CASE(12, 0, CEM_ERR_ARG, "directions 1000001 (above 1e6)") directions = 1000001; break;
            default: return NO_CASE;
            }
        } else if (which == 2) {
            switch (v) {
            CASE(10, 0, CEM_ERR_ARG, "bandwidth 0") bw = 0.0; break;
            CASE(11, 0, CEM_ERR_ARG, "bandwidth -1") bw = -1.0; break;
            CASE(12, 0, CEM_ERR_ARG, "bandwidth NaN") bw = NAN; break;
            CASE(13, 0, CEM_ERR_ARG, "bandwidth +Inf") bw = INFINITY; break;
            CASE(14, 0, CEM_ERR_ARG, "bandwidth 1e-200 (1/(2 bandwidth^2) overflows)") bw = 1e-200; break;
            default: return NO_CASE;
            }
        } else {
            return NO_CASE;
        }
    }
    if (c->describe)
        return 0;
    double out = KEPT_D, *po = null_out ? NULL : &out;
    arm(c, names[which]);
    int st = which == 0 ? cem_metric_sliced_w2(na, pa, nb, pb, dim, directions, 1, po)
             : which == 1 ? cem_metric_energy(na, pa, nb, pb, dim, po)
                          : cem_metric_mmd(na, pa, nb, pb, dim, bw, po);
    disarm(c);
    ck_assert_msg(st == CEM_OK || out == KEPT_D, "out written on error");
    return st;
}

static int sliced_w2_cases(int v, bad_ctx *c) { return pair_cases(v, c, 0); }
static int energy_cases(int v, bad_ctx *c) { return pair_cases(v, c, 1); }
static int mmd_cases(int v, bad_ctx *c) { return pair_cases(v, c, 2); }

static int ks_cases(int v, bad_ctx *c)
{
    cem_dataset_t *d = C.d;
    float x[4 * D] = {0.3f, -0.2f, 1.1f, 0.4f, -0.7f, 0.9f, 2.0f, -1.5f};
    const float *px = x;
    size_t n = 4;
    int null_out = 0;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL dataset") d = NULL; break;
    CASE(1, CIRC, CEM_ERR_ARG, "n = 0") n = 0; break;
    CASE(2, CIRC, CEM_ERR_ARG, "x NULL with n = 4") px = NULL; break;
    CASE(3, CIRC, CEM_ERR_ARG, "out NULL") null_out = 1; break;
    CASE(4, CIRC, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
    CASE(5, CIRC, CEM_ERR_NONFINITE, "NaN in x row 2") x[2 * D] = NAN; break;
    CASE(6, PTS, CEM_ERR_NONFINITE, "POINTS: +Inf in x row 0") x[1] = INFINITY; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    double out = KEPT_D;
    c->hmsg = d ? cem_dataset_errmsg(d) : NULL;
    arm(c, "cem_metric_ks");
    int st = cem_metric_ks(d, n, px, null_out ? NULL : &out);
    disarm(c);
    ck_assert_msg(st == CEM_OK || out == KEPT_D, "out written on error");
    return st;
}

static int profile_cases(int v, bad_ctx *c)
{
    cem_model_t *m = C.e;
    float probes[3 * D] = {0.3f, 2.2f, -1.9f, 0.4f, 0.0f, -1.2f};
    double t[3] = {0.01, 0.1, 1.0};
    const float *pp = probes;
    const double *pt = t;
    size_t np = 3;
    int nt = 3;
    c->rule = 'c';
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "NULL model") m = NULL; break;
    CASE(1, EMP, CEM_ERR_ARG, "np = 0") np = 0; break;
    CASE(2, EMP, CEM_ERR_ARG, "probes NULL with np = 3") pp = NULL; break;
    CASE(3, EMP, CEM_ERR_ARG, "nt = 1 (a slope needs 2 times)") nt = 1; break;
    CASE(4, EMP, CEM_ERR_ARG, "nt = 0") nt = 0; break;
    CASE(5, EMP, CEM_ERR_ARG, "t NULL with nt = 3") pt = NULL; break;
    CASE(6, EMP, CEM_ERR_ARG, "t[1] = 0") t[1] = 0.0; break;
    CASE(7, EMP, CEM_ERR_ARG, "t[0] = NaN") t[0] = NAN; break;
    CASE(8, EMP, CEM_ERR_ARG, "t[2] = +Inf") t[2] = INFINITY; break;
    CASE(9, EMP, CEM_ERR_ARG, "every t equal (0.1), with a slope asked") t[0] = t[1] = t[2] = 0.1; break;
    CASE(10, EMP, CEM_ERR_ARG, "np x dim overflows size_t (np = SIZE_MAX/2 + 1, dim 2)") np = HUGE_N; break;
    CASE(11, EMP, CEM_ERR_NONFINITE, "NaN in probes row 1") probes[D + 1] = NAN; break;
    CASE(12, EMP, CEM_ERR_NUMERIC, "t[0] = 1e-300: S beyond float") t[0] = 1e-300; break;
    CASE(13, MLP, CEM_ERR_NONFINITE, "MLP: -Inf in probes row 0") m = C.m; probes[0] = -INFINITY; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    double max[9], mean[9], slope[3];
    fill_d(max, 9);
    fill_d(mean, 9);
    fill_d(slope, 3);
    c->hmsg = m ? cem_model_errmsg(m) : NULL;
    arm(c, "cem_singularity_profile");
    int st = cem_singularity_profile(m, np, pp, nt, pt, max, mean, slope);
    disarm(c);
    ck_assert_msg(st == CEM_OK || (kept_d(max, 9) && kept_d(mean, 9) && kept_d(slope, 3)),
                  "outputs written on error");
    return st;
}

/* ====================================================== CSV */

static int csv_read_cases(int v, bad_ctx *c)
{
    const char *text = "1,2\n3,4\n";
    int where = 0; /* 0 the file, 1 NULL, 2 a missing file, 3 a directory, 4 a FIFO */
    int null_data = 0, null_n = 0, null_dim = 0;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "path NULL") where = 1; break;
    CASE(1, 0, CEM_ERR_ARG, "data NULL: `*n` and `*dim` 0") null_data = 1; break;
    CASE(2, 0, CEM_ERR_ARG, "n NULL") null_n = 1; break;
    CASE(3, 0, CEM_ERR_ARG, "dim NULL") null_dim = 1; break;
    CASE(4, 0, CEM_ERR_IO, "a missing file") where = 2; break;
    CASE(5, 0, CEM_ERR_IO, "a directory") where = 3; break;
    CASE(6, 0, CEM_ERR_PARSE, "an empty file") text = ""; break;
    CASE(7, 0, CEM_ERR_PARSE, "only comments and blank lines") text = "# x,y\n\n# end\n"; break;
    CASE(8, 0, CEM_ERR_PARSE, "a ragged row (2 fields, then 3)") text = "1,2\n3,4,5\n"; break;
    CASE(9, 0, CEM_ERR_PARSE, "a field that is not a number (abc)") text = "1,2\nabc,4\n"; break;
    CASE(10, 0, CEM_ERR_PARSE, "an empty field (1,,2)") text = "1,,2\n"; break;
    CASE(11, 0, CEM_ERR_PARSE, "a NUL byte in a line") text = "1,2\n3\0,4\n"; break;
    CASE(12, 0, CEM_ERR_NONFINITE, "a field nan") text = "1,2\nnan,4\n"; break;
    CASE(13, 0, CEM_ERR_NONFINITE, "a field -inf") text = "1,-inf\n"; break;
    CASE(14, 0, CEM_ERR_NONFINITE, "a field 1e39 (beyond float)") text = "1,2\n3,1e39\n"; break;
    CASE(15, 0, CEM_ERR_IO, "a named pipe with no writer (must not block)") where = 4; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    char path[160];
    mkpath(path, sizeof path, where == 2 ? "missing.csv" : "read.csv");
    size_t len = strlen(text);
    if (v == 11)
        len = 10;
    if (where == 0 || where == 1)
        ck_assert_int_eq(spill(path, text, len), 0);
    if (where == 3)
        snprintf(path, sizeof path, "%s", dir);
    if (where == 4)
        ck_assert_int_eq(mkfifo(path, 0600), 0);
    float *d = SENTINEL;
    size_t n = 99;
    int dim = 99;
    arm(c, "cem_csv_read");
    int st = cem_csv_read(where == 1 ? NULL : path, null_data ? NULL : &d, null_n ? NULL : &n,
                          null_dim ? NULL : &dim);
    disarm(c);
    if (where != 3)
        unlink(path);
    ck_assert_msg(st == CEM_OK || ((null_data || d == NULL) && (null_n || n == 0) &&
                                   (null_dim || dim == 0)),
                  "on error *data, *n, *dim are %s, %zu, %d, not NULL, 0, 0",
                  null_data ? "-" : d == SENTINEL ? "untouched" : d ? "set" : "NULL", n, dim);
    if (st == CEM_OK && !null_data)
        cem_free(d);
    return st;
}

static int csv_read_labelled_cases(int v, bad_ctx *c)
{
    const char *text = "0,1,2\n-1,3,4\n";
    int where = 0; /* 0 the file, 1 NULL, 2 a missing file, 3 a directory, 4 a FIFO */
    int null_data = 0, null_labels = 0, null_n = 0, null_dim = 0, col = 0;
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "path NULL") where = 1; break;
    CASE(1, 0, CEM_ERR_ARG, "data NULL: `*labels`, `*n` and `*dim` cleared") null_data = 1; break;
    CASE(2, 0, CEM_ERR_ARG, "labels NULL") null_labels = 1; break;
    CASE(3, 0, CEM_ERR_ARG, "n NULL") null_n = 1; break;
    CASE(4, 0, CEM_ERR_ARG, "dim NULL") null_dim = 1; break;
    CASE(5, 0, CEM_ERR_ARG, "label_col -1") col = -1; break;
    CASE(6, 0, CEM_ERR_IO, "a missing file") where = 2; break;
    CASE(7, 0, CEM_ERR_IO, "a directory") where = 3; break;
    CASE(8, 0, CEM_ERR_IO, "a named pipe with no writer (must not block)") where = 4; break;
    CASE(9, 0, CEM_ERR_PARSE, "an empty file") text = ""; break;
    CASE(10, 0, CEM_ERR_PARSE, "a label 1.5") text = "0,1,2\n1.5,3,4\n"; break;
    CASE(11, 0, CEM_ERR_PARSE, "a label x") text = "x,1,2\n"; break;
    CASE(12, 0, CEM_ERR_PARSE, "a label 70000 (above 65535)") text = "70000,1,2\n"; break;
    CASE(13, 0, CEM_ERR_PARSE, "a label -2") text = "-2,1,2\n"; break;
    CASE(14, 0, CEM_ERR_PARSE, "label_col 3 in lines of 3 fields") col = 3; break;
    CASE(15, 0, CEM_ERR_PARSE, "the label the only field") text = "1\n2\n"; break;
    CASE(16, 0, CEM_ERR_PARSE, "a ragged row (3 fields, then 2)") text = "0,1,2\n1,3\n"; break;
    CASE(17, 0, CEM_ERR_NONFINITE, "a point field nan") text = "0,1,2\n1,nan,4\n"; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    char path[160];
    mkpath(path, sizeof path, where == 2 ? "missing.csv" : "readl.csv");
    if (where == 0 || where == 1)
        ck_assert_int_eq(spill(path, text, strlen(text)), 0);
    if (where == 3)
        snprintf(path, sizeof path, "%s", dir);
    if (where == 4)
        ck_assert_int_eq(mkfifo(path, 0600), 0);
    float *d = SENTINEL;
    int *l = SENTINEL;
    size_t n = 99;
    int dim = 99;
    arm(c, "cem_csv_read_labelled");
    int st = cem_csv_read_labelled(where == 1 ? NULL : path, col, null_data ? NULL : &d,
                                   null_labels ? NULL : &l, null_n ? NULL : &n,
                                   null_dim ? NULL : &dim);
    disarm(c);
    if (where != 3)
        unlink(path);
    ck_assert_msg(st == CEM_OK || ((null_data || d == NULL) && (null_labels || l == NULL) &&
                                   (null_n || n == 0) && (null_dim || dim == 0)),
                  "on error *data, *labels, *n, *dim are not NULL, NULL, 0, 0 (n %zu, dim %d)",
                  n, dim);
    if (st == CEM_OK) {
        cem_free(d);
        cem_free(l);
    }
    return st;
}

static int csv_read_missing_cases(int v, bad_ctx *c)
{
    const char *text = "1,,2\n3,4,\n";
    int where = 0; /* 0 the file, 1 NULL, 2 a missing file, 3 a directory, 4 a FIFO */
    int null_data = 0, null_n = 0, null_dim = 0;
    size_t want_n = 0; /* an odd file that reads: its rows, every value finite or NaN */
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "path NULL") where = 1; break;
    CASE(1, 0, CEM_ERR_ARG, "data NULL: `*n` and `*dim` 0") null_data = 1; break;
    CASE(2, 0, CEM_ERR_ARG, "n NULL") null_n = 1; break;
    CASE(3, 0, CEM_ERR_ARG, "dim NULL") null_dim = 1; break;
    CASE(4, 0, CEM_ERR_IO, "a missing file") where = 2; break;
    CASE(5, 0, CEM_ERR_IO, "a directory") where = 3; break;
    CASE(6, 0, CEM_ERR_IO, "a named pipe with no writer (must not block)") where = 4; break;
    CASE(7, 0, CEM_ERR_PARSE, "an empty file") text = ""; break;
    CASE(8, 0, CEM_ERR_PARSE, "only comments and blank lines") text = "# x,y\n\n# end\n"; break;
    CASE(9, 0, CEM_ERR_PARSE, "a ragged row (3 fields, then 2)") text = "1,,2\n3,4\n"; break;
    CASE(10, 0, CEM_ERR_PARSE, "a ragged row of empty fields (2 fields, then 3)") text = "1,2\n,,\n"; break;
    CASE(11, 0, CEM_ERR_PARSE, "a field that is not a number (abc) next to an empty one") text = "1,,2\nabc,,4\n"; break;
    CASE(12, 0, CEM_ERR_PARSE, "a field that is a sign alone (-)") text = "1, - ,2\n"; break;
    CASE(13, 0, CEM_ERR_PARSE, "a NUL byte in a line") text = "1,,2\n3\0,4,5\n"; break;
    CASE(14, 0, CEM_ERR_NONFINITE, "a field nan (written NaN is still refused)") text = "1,,2\nnan,4,5\n"; break;
    CASE(15, 0, CEM_ERR_NONFINITE, "a field -inf next to an empty one") text = "1,-inf,\n"; break;
    CASE(16, 0, CEM_ERR_NONFINITE, "a field 1e39 (beyond float)") text = "1,,2\n3,1e39,\n"; break;
    CASE(17, 0, CEM_OK, "only empty fields (\",\" lines): every coordinate missing")
        text = ",\n ,\t\n";
        want_n = 2;
        break;
    CASE(18, 0, CEM_OK, "one column: a blank line is skipped, not a missing value")
        text = "1\n\n3\n";
        want_n = 2;
        break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    char path[160];
    mkpath(path, sizeof path, where == 2 ? "missing.csv" : "readm.csv");
    size_t len = strlen(text);
    if (v == 13)
        len = 12;
    if (where == 0 || where == 1)
        ck_assert_int_eq(spill(path, text, len), 0);
    if (where == 3)
        snprintf(path, sizeof path, "%s", dir);
    if (where == 4)
        ck_assert_int_eq(mkfifo(path, 0600), 0);
    float *d = SENTINEL;
    size_t n = 99;
    int dim = 99;
    arm(c, "cem_csv_read_missing");
    int st = cem_csv_read_missing(where == 1 ? NULL : path, null_data ? NULL : &d,
                                  null_n ? NULL : &n, null_dim ? NULL : &dim);
    disarm(c);
    if (where != 3)
        unlink(path);
    ck_assert_msg(st == CEM_OK || ((null_data || d == NULL) && (null_n || n == 0) &&
                                   (null_dim || dim == 0)),
                  "on error *data, *n, *dim are %s, %zu, %d, not NULL, 0, 0",
                  null_data ? "-" : d == SENTINEL ? "untouched" : d ? "set" : "NULL", n, dim);
    if (st == CEM_OK && want_n) {
        ck_assert_msg(n == want_n, "%zu rows, not %zu", n, want_n);
        for (size_t k = 0; k < n * (size_t)dim; k++)
            ck_assert_msg(v == 17 ? isnan(d[k]) : isfinite(d[k]), "value %zu is %g", k, d[k]);
    }
    if (st == CEM_OK && !null_data)
        cem_free(d);
    return st;
}

static int csv_write_cases(int v, bad_ctx *c)
{
    float pts[3 * D] = {0.5f, 1.5f, -2.0f, 0.25f, 3.0f, -1.0f};
    const float *pd = pts;
    size_t n = 3;
    int dim = D, where = 0; /* 0 a new file, 1 NULL, 2 "", 3 a missing directory, 4 a directory, 5 an existing file */
    switch (v) {
    CASE(0, 0, CEM_ERR_ARG, "path NULL") where = 1; break;
    CASE(1, 0, CEM_ERR_ARG, "path \"\"") where = 2; break;
    CASE(2, 0, CEM_ERR_ARG, "data NULL with n = 3") pd = NULL; break;
    CASE(3, 0, CEM_ERR_ARG, "n = 0 (a file needs a row)") n = 0; break;
    CASE(4, 0, CEM_ERR_ARG, "dim 0") dim = 0; break;
    CASE(5, 0, CEM_ERR_ARG, "dim -1") dim = -1; break;
    CASE(6, 0, CEM_ERR_ARG, "n x dim overflows size_t (n = SIZE_MAX/2 + 1, dim 2)") n = HUGE_N; break;
    CASE(7, 0, CEM_ERR_NONFINITE, "NaN in data row 1") pts[D] = NAN; break;
    CASE(8, 0, CEM_ERR_NONFINITE, "+Inf in data row 2, over an existing file: the file kept")
        pts[2 * D + 1] = INFINITY;
        where = 5;
        break;
    CASE(9, 0, CEM_ERR_IO, "a path in a missing directory") where = 3; break;
    CASE(10, 0, CEM_ERR_IO, "path is a directory") where = 4; break;
    default: return NO_CASE;
    }
    if (c->describe)
        return 0;
    char path[160];
    mkpath(path, sizeof path, where == 3 ? "missing/out.csv" : "out.csv");
    if (where == 4)
        snprintf(path, sizeof path, "%s", dir);
    static const char old[] = "7,8\n";
    if (where == 5)
        ck_assert_int_eq(spill(path, old, strlen(old)), 0);
    arm(c, "cem_csv_write");
    int st = cem_csv_write(where == 1 ? NULL : where == 2 ? "" : path, pd, n, dim);
    disarm(c);
    mkpath(path, sizeof path, "out.csv");
    if (where == 5) {
        size_t got;
        unsigned char *b = slurp(path, &got);
        int same = got == strlen(old) && memcmp(b, old, got) == 0;
        free(b);
        ck_assert_msg(same, "the existing file changed");
    } else {
        ck_assert_msg(st == CEM_OK || !exists(path), "a file was written on error");
    }
    unlink(path);
    return st;
}

/* ====================================================== the table */

typedef int (*case_fn)(int v, bad_ctx *c);

/* Every function of cemdiff.h, in the header's order. */
static const struct {
    const char *name;
    case_fn cases;
} FUNCS[] = {
    {"cem_version_number", version_number_cases},
    {"cem_version_string", version_string_cases},
    {"cem_status_string", status_string_cases},
    {"cem_last_error", last_error_cases},
    {"cem_free", free_cases},
    {"cem_ou_coefficients", ou_coefficients_cases},
    {"cem_convert", convert_cases},
    {"cem_grid_name", grid_name_cases},
    {"cem_time_grid", time_grid_cases},
    {"cem_time_law_sample", time_law_sample_cases},
    {"cem_model_create_mlp", create_mlp_cases},
    {"cem_model_create_empirical", create_empirical_cases},
    {"cem_model_create_gaussian", create_gaussian_cases},
    {"cem_model_create_empirical_labelled", create_empirical_labelled_cases},
    {"cem_model_create_mixture", create_mixture_cases},
    {"cem_model_eval", model_eval_cases},
    {"cem_model_eval_at", model_eval_at_cases},
    {"cem_model_eval_labelled", model_eval_labelled_cases},
    {"cem_model_set", model_set_cases},
    {"cem_model_get", model_get_cases},
    {"cem_model_option_bounds", model_option_bounds_cases},
    {"cem_model_dim", model_dim_cases},
    {"cem_model_kind_of", model_kind_of_cases},
    {"cem_model_target_of", model_target_of_cases},
    {"cem_model_param_count", model_param_count_cases},
    {"cem_model_get_params", get_params_cases},
    {"cem_model_set_params", set_params_cases},
    {"cem_model_set_data_stats", set_data_stats_cases},
    {"cem_model_get_data_stats", get_data_stats_cases},
    {"cem_model_set_data_cov", set_data_cov_cases},
    {"cem_model_get_data_axes", get_data_axes_cases},
    {"cem_model_errmsg", model_errmsg_cases},
    {"cem_model_retain", model_retain_cases},
    {"cem_model_free", model_free_cases},
    {"cem_trainer_create", trainer_create_cases},
    {"cem_trainer_create_labelled", trainer_create_labelled_cases},
    {"cem_trainer_run", trainer_run_cases},
    {"cem_trainer_step_batch", step_batch_cases},
    {"cem_trainer_step_batch_labelled", step_batch_labelled_cases},
    {"cem_trainer_loss_batch", loss_batch_cases},
    {"cem_trainer_loss_batch_labelled", loss_batch_labelled_cases},
    {"cem_trainer_set_progress", trainer_set_progress_cases},
    {"cem_trainer_set_reduce", trainer_set_reduce_cases},
    {"cem_trainer_steps", trainer_steps_cases},
    {"cem_trainer_time_bins", time_bins_cases},
    {"cem_trainer_law_bins", law_bins_cases},
    {"cem_trainer_time_bins_n", time_bins_n_cases},
    {"cem_trainer_law_bins_n", law_bins_n_cases},
    {"cem_trainer_set", trainer_set_cases},
    {"cem_trainer_get", trainer_get_cases},
    {"cem_trainer_option_bounds", trainer_option_bounds_cases},
    {"cem_trainer_model", trainer_model_cases},
    {"cem_trainer_errmsg", trainer_errmsg_cases},
    {"cem_trainer_free", trainer_free_cases},
    {"cem_integrator_name", integrator_name_cases},
    {"cem_sampler_create", sampler_create_cases},
    {"cem_sampler_run", sampler_run_cases},
    {"cem_sampler_run_rows", sampler_run_rows_cases},
    {"cem_sampler_run_labelled", sampler_run_labelled_cases},
    {"cem_sampler_impute", sampler_impute_cases},
    {"cem_sampler_set_progress", sampler_set_progress_cases},
    {"cem_sampler_diverged_rows", sampler_diverged_rows_cases},
    {"cem_sampler_times", sampler_times_cases},
    {"cem_sampler_trajectory", sampler_trajectory_cases},
    {"cem_sampler_set", sampler_set_cases},
    {"cem_sampler_get", sampler_get_cases},
    {"cem_sampler_option_bounds", sampler_option_bounds_cases},
    {"cem_sampler_errmsg", sampler_errmsg_cases},
    {"cem_sampler_free", sampler_free_cases},
    {"cem_flow_create", flow_create_cases},
    {"cem_flow_logprob", flow_logprob_cases},
    {"cem_flow_encode", flow_encode_cases},
    {"cem_flow_decode", flow_decode_cases},
    {"cem_flow_set_progress", flow_set_progress_cases},
    {"cem_flow_set", flow_set_cases},
    {"cem_flow_get", flow_get_cases},
    {"cem_flow_option_bounds", flow_option_bounds_cases},
    {"cem_flow_errmsg", flow_errmsg_cases},
    {"cem_flow_free", flow_free_cases},
    {"cem_model_save", model_save_cases},
    {"cem_model_save_buffer", model_save_buffer_cases},
    {"cem_model_load", model_load_cases},
    {"cem_model_load_buffer", model_load_buffer_cases},
    {"cem_trainer_save", trainer_save_cases},
    {"cem_trainer_save_buffer", trainer_save_buffer_cases},
    {"cem_trainer_load", trainer_load_cases},
    {"cem_trainer_load_buffer", trainer_load_buffer_cases},
    {"cem_trainer_load_labelled", trainer_load_labelled_cases},
    {"cem_trainer_load_buffer_labelled", trainer_load_buffer_labelled_cases},
    {"cem_dataset_create", dataset_create_cases},
    {"cem_dataset_sample", dataset_sample_cases},
    {"cem_dataset_distance", dataset_distance_cases},
    {"cem_dataset_coordinate", dataset_coordinate_cases},
    {"cem_dataset_coordinate_cdf", coordinate_cdf_cases},
    {"cem_dataset_dim", dataset_dim_cases},
    {"cem_dataset_native_dim", dataset_native_dim_cases},
    {"cem_dataset_intrinsic_dim", dataset_intrinsic_dim_cases},
    {"cem_dataset_set", dataset_set_cases},
    {"cem_dataset_get", dataset_get_cases},
    {"cem_dataset_option_bounds", dataset_option_bounds_cases},
    {"cem_dataset_set_affine", set_affine_cases},
    {"cem_dataset_get_affine", get_affine_cases},
    {"cem_dataset_errmsg", dataset_errmsg_cases},
    {"cem_dataset_free", dataset_free_cases},
    {"cem_metric_distance", metric_distance_cases},
    {"cem_metric_sliced_w2", sliced_w2_cases},
    {"cem_metric_energy", energy_cases},
    {"cem_metric_mmd", mmd_cases},
    {"cem_metric_ks", ks_cases},
    {"cem_singularity_profile", profile_cases},
    {"cem_csv_read", csv_read_cases},
    {"cem_csv_read_labelled", csv_read_labelled_cases},
    {"cem_csv_read_missing", csv_read_missing_cases},
    {"cem_csv_write", csv_write_cases},
};

static struct {
    short f, v;
} entries[MAX_CASES];
static int nentries;

/* Enumerates the cases (describe mode: no call is made). */
static void find_entries(void)
{
    nentries = 0;
    for (size_t f = 0; f < N_OF(FUNCS); f++)
        for (int v = 0;; v++) {
            bad_ctx c;
            memset(&c, 0, sizeof c);
            c.describe = 1;
            if (FUNCS[f].cases(v, &c) == NO_CASE || nentries == MAX_CASES)
                break;
            entries[nentries].f = (short)f;
            entries[nentries].v = (short)v;
            nentries++;
        }
}

/* ------------------------------------------------------------ fingerprints */

/* Everything observable about a handle, as bytes: its options, parameters,
 * statistics and what it computes.  Statuses are recorded, not asserted: a
 * handle whose twin answers alike is unchanged. */
static void put_z(blob *b, size_t v) { put(b, &v, sizeof v); }

static void model_print(blob *b, cem_model_t *m)
{
    ck_assert_int_eq(cem_model_dim(m), D);
    put_i(b, cem_model_kind_of(m));
    put_i(b, cem_model_target_of(m));
    for (int opt = CEM_MODEL_T_MIN; opt <= CEM_MODEL_LABEL_EMBED; opt++) {
        double v = -1;
        put_i(b, cem_model_get(m, (cem_model_option)opt, &v));
        put_d(b, v);
    }
    /* whether a trainer or a sampler holds it: an odd EMBED is refused
     * with CEM_ERR_BUSY when held, CEM_ERR_RANGE when free (the holder is
     * checked first), and changes nothing either way */
    put_i(b, cem_model_set(m, CEM_MODEL_EMBED, 3));
    size_t np = cem_model_param_count(m);
    put_z(b, np);
    if (np) {
        float *w = malloc(sizeof(float) * np);
        for (int ema = 0; ema < 2; ema++) {
            put_i(b, cem_model_get_params(m, ema, w, np));
            put(b, w, sizeof(float) * np);
        }
        free(w);
    }
    double mean[D] = {0}, sd = 0, axes[D * D] = {0}, asd[D] = {0};
    put_i(b, cem_model_get_data_stats(m, mean, &sd));
    put_i(b, cem_model_get_data_axes(m, axes, asd));
    put(b, mean, sizeof mean);
    put_d(b, sd);
    put(b, axes, sizeof axes);
    put(b, asd, sizeof asd);
    enum { R = 4 };
    float x[R * D] = {0.37f, -0.9f, 1.2f, 0.1f, -0.4f, -1.3f, 2.5f, 0.6f}, out[R * D];
    double t[R] = {0.01, 0.3, 1.0, 4.0};
    for (int what = CEM_TARGET_CEM; what <= CEM_TARGET_SCORE; what++) {
        memset(out, 0, sizeof out);
        put_i(b, cem_model_eval(m, (cem_target)what, R, x, t, out));
        put(b, out, sizeof out);
    }
    double classes = 0;
    put_i(b, cem_model_get(m, CEM_MODEL_LABELS, &classes));
    if (classes > 0) { /* each class's answer, and the unconditional one */
        const int k = (int)classes, lab[R] = {0, k - 1, CEM_LABEL_NONE, 1 % k};
        memset(out, 0, sizeof out);
        put_i(b, cem_model_eval_labelled(m, CEM_TARGET_CEM, R, x, t, lab, out));
        put(b, out, sizeof out);
    }
}

static void trainer_print(blob *b, cem_trainer_t *tr)
{
    for (int opt = CEM_TRAINER_BATCH; opt <= CEM_TRAINER_ACCUMULATE; opt++) {
        double v = -1;
        put_i(b, cem_trainer_get(tr, (cem_trainer_option)opt, &v));
        put_d(b, v);
    }
    long steps = cem_trainer_steps(tr);
    put(b, &steps, sizeof steps);
    double prob[CEM_TRAINER_LAW_BINS], floor_[CEM_TRAINER_LAW_BINS];
    double mean[CEM_TRAINER_BINS], edges[CEM_TRAINER_BINS + 1];
    long count[CEM_TRAINER_BINS];
    put_i(b, cem_trainer_law_bins(tr, prob, NULL, floor_, NULL));
    put(b, prob, sizeof prob);
    put(b, floor_, sizeof floor_);
    put_i(b, cem_trainer_time_bins(tr, mean, count, edges, 0));
    put(b, mean, sizeof mean);
    put(b, count, sizeof count);
    put(b, edges, sizeof edges);
    model_print(b, cem_trainer_model(tr));
    /* the whole saved state: moments, bins, the data's and labels' CRC */
    void *saved = NULL;
    size_t size = 0;
    put_i(b, cem_trainer_save_buffer(tr, &saved, &size));
    if (saved)
        put(b, saved, size);
    cem_free(saved);
    double loss = -1;
    memset(&reduced, 0, sizeof reduced);
    put_i(b, cem_trainer_run(tr, 2, &loss));
    put_d(b, loss);
    put(b, &reduced, sizeof reduced); /* what a reduce callback was given, if any */
    model_print(b, cem_trainer_model(tr));
}

static void sampler_print(blob *b, cem_sampler_t *s)
{
    put_z(b, cem_sampler_diverged_rows(s));
    for (int opt = CEM_SAMPLER_INTEGRATOR; opt <= CEM_SAMPLER_RECON_WEIGHT; opt++) {
        double v = -1;
        put_i(b, cem_sampler_get(s, (cem_sampler_option)opt, &v));
        put_d(b, v);
    }
    double steps = 0;
    ck_assert_int_eq(cem_sampler_get(s, CEM_SAMPLER_STEPS, &steps), CEM_OK);
    double *times = malloc(sizeof(double) * (size_t)steps);
    put_i(b, cem_sampler_times(s, times));
    put(b, times, sizeof(double) * (size_t)steps);
    free(times);
    size_t snaps = 0, rows = 0;
    put_i(b, cem_sampler_trajectory(s, &snaps, &rows, NULL, NULL));
    put_z(b, snaps);
    put_z(b, rows);
    float out[8 * D];
    put_i(b, cem_sampler_run(s, 8, out));
    put(b, out, sizeof out);
    put_z(b, cem_sampler_diverged_rows(s));
    /* a class per row (CEM_LABEL_NONE only, for a model without classes),
     * and an imputation of rows with a coordinate missing */
    int lab[4];
    for (int i = 0; i < 4; i++)
        lab[i] = sampler_classes > 0 ? i % (sampler_classes + 1) - 1 : CEM_LABEL_NONE;
    memset(out, 0, sizeof out);
    put_i(b, cem_sampler_run_labelled(s, 2, 4, lab, out));
    put(b, out, sizeof out);
    const float x[4 * D] = {0.5f, NAN, NAN, -0.25f, NAN, NAN, 1.0f, 2.0f};
    memset(out, 0, sizeof out);
    put_i(b, cem_sampler_impute(s, 0, 4, x, NULL, NULL, out));
    put(b, out, sizeof out);
    put_z(b, cem_sampler_diverged_rows(s));
}

static void flow_print(blob *b, cem_flow_t *f)
{
    for (int opt = CEM_FLOW_RTOL; opt <= CEM_FLOW_MAX_STEPS; opt++) {
        double v = -1;
        put_i(b, cem_flow_get(f, (cem_flow_option)opt, &v));
        put_d(b, v);
    }
    const float x[2 * D] = {0.5f, -0.25f, 1.0f, 0.0f};
    double lp[2];
    put_i(b, cem_flow_logprob(f, 2, x, lp, NULL));
    put(b, lp, sizeof lp);
}

static void dataset_print(blob *b, cem_dataset_t *d)
{
    put_i(b, cem_dataset_dim(d));
    put_i(b, cem_dataset_native_dim(d));
    put_i(b, cem_dataset_intrinsic_dim(d));
    double v = -1, scale = -1, off[D] = {0};
    put_i(b, cem_dataset_get(d, CEM_DATASET_NPOINTS, &v));
    put_d(b, v);
    put_i(b, cem_dataset_get_affine(d, &scale, off));
    put_d(b, scale);
    put(b, off, sizeof off);
    float x[8 * D];
    put_i(b, cem_dataset_sample(d, 8, 1, x));
    put(b, x, sizeof x);
    double dist[8], u[8];
    put_i(b, cem_dataset_distance(d, 8, x, dist));
    put(b, dist, sizeof dist);
    put_i(b, cem_dataset_coordinate(d, 8, x, u));
    put(b, u, sizeof u);
    put_d(b, cem_dataset_coordinate_cdf(d, 0.3));
}

/* A handle against its twin: what they hold and compute must agree. */
static void same(const char *what, void (*print)(blob *, void *), void *h, void *twin)
{
    if (!h || !twin)
        return;
    blob a = {NULL, 0}, b = {NULL, 0};
    print(&a, h);
    print(&b, twin);
    int ok = a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
    free(a.p);
    free(b.p);
    ck_assert_msg(ok, "%s differs from its untouched twin", what);
}

static void model_print_v(blob *b, void *h) { model_print(b, h); }
static void trainer_print_v(blob *b, void *h) { trainer_print(b, h); }
static void sampler_print_v(blob *b, void *h) { sampler_print(b, h); }
static void flow_print_v(blob *b, void *h) { flow_print(b, h); }
static void dataset_print_v(blob *b, void *h) { dataset_print(b, h); }

/* ------------------------------------------------------------ the checks */

/* msg names fn as a word (not as the prefix of a longer name). */
static int names(const char *msg, const char *fn)
{
    size_t len = strlen(fn);
    for (const char *p = strstr(msg, fn); p; p = strstr(p + 1, fn)) {
        char next = p[len];
        if (!(next == '_' || (next >= 'a' && next <= 'z') || (next >= '0' && next <= '9')))
            return 1;
    }
    return 0;
}

static void parts_path(char *buf, size_t cap) { mkpath(buf, cap, "parts"); }

/* Appends "k<TAB>result" to the suite's record (survives Check's fork). */
static void record(int k, const char *result)
{
    char path[128], line[256];
    parts_path(path, sizeof path);
    int len = snprintf(line, sizeof line, "%d\t%s\n", k, result);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    ck_assert_msg(fd >= 0, "cannot open %s", path);
    ck_assert_int_eq(write(fd, line, (size_t)len), len);
    close(fd);
}

START_TEST(one_bad_call)
{
    const int k = _i;
    ck_assert_int_lt(k, nentries);
    const char *fn = FUNCS[entries[k].f].name;
    const int v = entries[k].v;
    bad_ctx c;
    memset(&c, 0, sizeof c);
    c.describe = 1;
    ck_assert_int_eq(FUNCS[entries[k].f].cases(v, &c), 0);
    char what[200];
    ck_assert_msg(c.what && *c.what && !strpbrk(c.what, "|\n"),
                  "%s case %d: a description is one line without '|'", fn, v);
    snprintf(what, sizeof what, "%s", c.what);
    const int expect = c.expect;
    const unsigned outs = c.outs, env = c.env;
    const char rule = c.rule;

    build(env);
    memset(&c, 0, sizeof c);
    int st = FUNCS[entries[k].f].cases(v, &c);
    ck_assert_msg(c.armed == 2, "%s, %s: the case did not arm and disarm around the call", fn, what);
    const char *result = expect == VALUE ? c.result : status_name(st);
    char cell[200];
    snprintf(cell, sizeof cell, expect == VALUE ? "%s" : "`%s`", result);
    record(k, cell);

    ck_assert_msg(c.printed == 0, "%s, %s: printed %ld bytes on stdout", fn, what, c.printed);
    if (expect == VALUE) {
        ck_assert_msg(st == 1, "%s, %s: %s, not the documented answer", fn, what, c.result);
    } else {
        ck_assert_msg(st == expect, "%s, %s: %s (%d), expected %s; last error \"%s\"", fn, what,
                      status_name(st), st, status_name(expect), cem_last_error());
        if (st != CEM_OK)
            ck_assert_msg(names(cem_last_error(), fn), "%s, %s: the last error \"%s\" does not name %s",
                          fn, what, cem_last_error(), fn);
    }
    if (outs & O_M)
        ck_assert_msg(C.mout == NULL, "%s, %s: *out is not NULL", fn, what);
    if (outs & O_T)
        ck_assert_msg(C.trout == NULL, "%s, %s: *out is not NULL", fn, what);
    if (outs & O_S)
        ck_assert_msg(C.sout == NULL, "%s, %s: *out is not NULL", fn, what);
    if (outs & O_D)
        ck_assert_msg(C.dout == NULL, "%s, %s: *out is not NULL", fn, what);
    if (outs & O_F)
        ck_assert_msg(C.fout == NULL, "%s, %s: *out is not NULL", fn, what);

    /* the handles' own messages */
    const int failed = expect != VALUE && st != CEM_OK;
    for (int i = 0; i < nseen; i++) {
        const msg_seen *s = &seen[i];
        if (*s->slot != s->h)
            continue; /* freed by the case */
        const char *now = s->msg(s->h);
        if (s->msg(s->h) == c.hmsg && rule == 's' && failed)
            ck_assert_msg(strcmp(now, cem_last_error()) == 0,
                          "%s, %s: the handle's message \"%s\" is not the failure's \"%s\"", fn,
                          what, now, cem_last_error());
        else if (s->msg(s->h) == c.hmsg && rule == 0)
            continue;
        else
            ck_assert_msg(strcmp(now, s->text) == 0,
                          "%s, %s: a handle's message changed from \"%s\" to \"%s\"", fn, what,
                          s->text, now);
    }

    /* the handles against their twins */
    same("the MLP", model_print_v, C.m, C.m2);
    same("the empirical model", model_print_v, C.e, C.e2);
    same("the Gaussian model", model_print_v, C.g, C.g2);
    same("the dataset", dataset_print_v, C.d, C.d2);
    same("the sampler", sampler_print_v, C.s, C.s2);
    same("the flow", flow_print_v, C.f, C.f2);
    same("the trainer", trainer_print_v, C.tr, C.tr2);
    release_all();
}
END_TEST

/* Every case recorded its result; the table, if asked for. */
START_TEST(the_table)
{
    char path[128];
    parts_path(path, sizeof path);
    char **results = calloc((size_t)nentries, sizeof *results);
    FILE *f = fopen(path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t'), *nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(tab);
        if (nl)
            *nl = '\0';
        int k = atoi(line);
        ck_assert_msg(k >= 0 && k < nentries, "case %d recorded, of %d", k, nentries);
        ck_assert_msg(!results[k], "case %d recorded twice", k);
        results[k] = strdup(tab + 1);
    }
    if (f)
        fclose(f);
    int missing = 0;
    char list[512] = "";
    for (int k = 0; k < nentries; k++)
        if (!results[k] && missing++ < 8) {
            size_t at = strlen(list);
            snprintf(list + at, sizeof list - at, " %s/%d", FUNCS[entries[k].f].name, entries[k].v);
        }
    ck_assert_msg(missing == 0, "%d of %d cases recorded no result (crashed?):%s", missing,
                  nentries, list);

    const char *out = getenv("CEM_BADINPUT_REPORT");
    if (out && *out) {
        FILE *t = fopen(out, "w");
        ck_assert_msg(t != NULL, "cannot write %s", out);
        fprintf(t, "| function | what was tried | status returned |\n|---|---|---|\n");
        for (int k = 0; k < nentries; k++) {
            bad_ctx c;
            memset(&c, 0, sizeof c);
            c.describe = 1;
            FUNCS[entries[k].f].cases(entries[k].v, &c);
            fprintf(t, "| `%s` | %s | %s |\n", FUNCS[entries[k].f].name, c.what, results[k]);
        }
        ck_assert_int_eq(fclose(t), 0);
    }
    for (int k = 0; k < nentries; k++)
        free(results[k]);
    free(results);
}
END_TEST

/* The suite's directory: made before its tests (in the parent process, so
 * that every forked test shares it), removed with what is in it after. */
static void dir_setup(void)
{
    strcpy(dir, "/tmp/cemdiff-badinput-XXXXXX");
    if (!mkdtemp(dir))
        dir[0] = '\0';
}

static void dir_teardown(void)
{
    if (!dir[0])
        return;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

Suite *suite_badinput(void)
{
    make_data();
    find_entries();
    Suite *s = suite_create("badinput");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, dir_setup, dir_teardown);
    tcase_add_loop_test(tc, one_bad_call, 0, nentries);
    tcase_add_test(tc, the_table);
    suite_add_tcase(s, tc);
    return s;
}
