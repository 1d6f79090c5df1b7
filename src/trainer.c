/*
 * trainer.c -- the trainer (layer 4): batches, the three objectives, Adam
 * and AdamW, the learning-rate schedule, clipping, EMA and the time bins.
 * All memory is allocated when the trainer is created or BATCH changes;
 * a step allocates nothing.
 */
#include "trainer.h"

#include "linalg.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static const cemi_option trainer_options[] = {
    {CEM_TRAINER_BATCH, "CEM_TRAINER_BATCH", 1, 65536, 1024, 1},
    {CEM_TRAINER_LR, "CEM_TRAINER_LR", 0, 10, 1e-3, 0},
    {CEM_TRAINER_OPTIMIZER, "CEM_TRAINER_OPTIMIZER", CEM_OPTIM_ADAM, CEM_OPTIM_ADAMW,
     CEM_OPTIM_ADAM, 1},
    {CEM_TRAINER_BETA1, "CEM_TRAINER_BETA1", 0, 0.999999, 0.9, 0},
    {CEM_TRAINER_BETA2, "CEM_TRAINER_BETA2", 0, 0.999999999, 0.999, 0},
    {CEM_TRAINER_ADAM_EPS, "CEM_TRAINER_ADAM_EPS", 0, 1, 1e-8, 0},
    {CEM_TRAINER_WEIGHT_DECAY, "CEM_TRAINER_WEIGHT_DECAY", 0, 1, 0, 0},
    {CEM_TRAINER_WARMUP, "CEM_TRAINER_WARMUP", 0, 1e12, 0, 1},
    {CEM_TRAINER_DECAY_STEPS, "CEM_TRAINER_DECAY_STEPS", 0, 1e12, 0, 1},
    {CEM_TRAINER_LR_MIN, "CEM_TRAINER_LR_MIN", 0, 10, 0, 0},
    {CEM_TRAINER_CLIP, "CEM_TRAINER_CLIP", 0, 1e12, 0, 0},
    {CEM_TRAINER_EMA, "CEM_TRAINER_EMA", 0, 0.999999999, 0.995, 0},
    /* TIME_LAW and WEIGHT: the paper's grid law and weight lambda, for every
     * model, as measured (docs/RECIPES.md: with the preconditioned CEM the
     * paper's weight beat EDM's lambda + 1/sd^2 and the ADAPTIVE law
     * measured no better; for NOISE and SCORE ADAPTIVE won on the circle,
     * helix and knot but failed NOISE on the circle in R^16) */
    {CEM_TRAINER_TIME_LAW, "CEM_TRAINER_TIME_LAW", CEM_TIMELAW_GRID, CEM_TIMELAW_ADAPTIVE,
     CEM_TIMELAW_GRID, 1},
    {CEM_TRAINER_GRID_N, "CEM_TRAINER_GRID_N", 2, 1e7, 200, 1},
    {CEM_TRAINER_WEIGHT, "CEM_TRAINER_WEIGHT", CEM_WEIGHT_LAMBDA, CEM_WEIGHT_EDM,
     CEM_WEIGHT_LAMBDA, 1},
    {CEM_TRAINER_SNR_CLAMP, "CEM_TRAINER_SNR_CLAMP", 1e-12, 1e6, 5, 0},
    {CEM_TRAINER_SEED, "CEM_TRAINER_SEED", 0, 9007199254740992.0, 0, 1},
    {CEM_TRAINER_THREADS, "CEM_TRAINER_THREADS", 1, 256, 1, 1}, /* default: cores */
    {CEM_TRAINER_LOGNORMAL_MEAN, "CEM_TRAINER_LOGNORMAL_MEAN", -20, 20, CEMI_EDM_P_MEAN, 0},
    {CEM_TRAINER_LOGNORMAL_STD, "CEM_TRAINER_LOGNORMAL_STD", 0.01, 20, CEMI_EDM_P_STD, 0},
    {CEM_TRAINER_IMPORTANCE, "CEM_TRAINER_IMPORTANCE", 0, 1, 0, 1},
    {CEM_TRAINER_ADAPT_FLOOR, "CEM_TRAINER_ADAPT_FLOOR", 0.01, 1, 0.25, 0},
    {CEM_TRAINER_LABEL_DROPOUT, "CEM_TRAINER_LABEL_DROPOUT", 0, 1, 0.1, 0},
    {CEM_TRAINER_ACCUMULATE, "CEM_TRAINER_ACCUMULATE", 1, 4096, 1, 1},
    {0, NULL, 0, 0, 0, 0},
};

const cemi_option *cemi_trainer_options(void) { return trainer_options; }

/* ------------------------------------------------------------ lifecycle */

static void release_batch(cem_trainer_t *tr)
{
    float **bufs[] = {&tr->x0, &tr->z, &tr->y, &tr->c, &tr->in, &tr->hid,
                      &tr->out, &tr->dout, &tr->scratch, &tr->gemm_ws,
                      &tr->wpack, &tr->xt, &tr->imp, &tr->ce};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        cemi_release(*bufs[i]);
        *bufs[i] = NULL;
    }
    cemi_release(tr->t);
    tr->t = NULL;
    cemi_release(tr->tbin);
    tr->tbin = NULL;
    cemi_release(tr->lbin);
    tr->lbin = NULL;
    cemi_release(tr->blab);
    tr->blab = NULL;
    cemi_release(tr->pgrad);
    tr->pgrad = NULL;
    cemi_release(tr->pstats);
    tr->pstats = NULL;
    cemi_pool_free(tr->pool);
    tr->pool = NULL;
}

/* The first row of micro-batch m of a batch of B rows in A micro-batches
 * (cemdiff.h, CEM_TRAINER_ACCUMULATE): m B / A rounded down to even, B for
 * m = A.  Even, so that draw_rows can start there. */
static int mb_lo(int B, int A, int m)
{
    return m >= A ? B : (int)(((long long)m * B / A) & ~1LL);
}

/* Rows enough for any micro-batch of any batch of at most B rows: a
 * micro-batch of b <= B rows has floor((m+1) b / A) - floor(m b / A) <=
 * floor(B / A) + 1 rows before rounding to even, which can add one more
 * (the caller batches of cem_trainer_step_batch may be shorter than
 * BATCH, and an odd one splits differently). */
static int mb_cap(int B, int A)
{
    int cap = B / A + 2;
    return cap < B ? cap : B;
}

/* The blocks of parts a step needs.  Without a reduce callback (world 0):
 * none for one micro-batch (the gradient goes to tr->grad), else one (the
 * micro-batch being added).  With one among `world` ranks: the rank's
 * micro-batches, at least one block (the reduction's result). */
static int parts_cap(int A, int world)
{
    if (world == 0)
        return A == 1 ? 0 : 1;
    int most = (A + world - 1) / world;
    return most > 1 ? most : 1;
}

/* The world parts_cap plans for: 0 without a reduce callback. */
static int shared_world(const cem_trainer_t *tr) { return tr->reduce ? tr->world : 0; }

int cemi_trainer_reserve(cem_trainer_t *tr, int cap, int accum, int world, int threads,
                         const char *fn)
{
    const cemi_mlp_shape *sh = &tr->net->sh;
    size_t B = (size_t)cap, D = (size_t)sh->D;
    const int mcap = mb_cap(cap, accum), pcap = parts_cap(accum, world);
    const size_t M = (size_t)mcap;
    cem_trainer_t nt = *tr; /* build the new buffers aside */
    nt.x0 = cemi_alloc(B * D, sizeof(float));
    nt.z = cemi_alloc(B * D, sizeof(float));
    nt.y = cemi_alloc(B * D, sizeof(float));
    nt.c = cemi_alloc(B, sizeof(float));
    nt.in = cemi_alloc(M * (size_t)cemi_mlp_in_width(sh), sizeof(float));
    nt.hid = cemi_alloc(cemi_mlp_hidden_size(sh, mcap, 1), sizeof(float));
    nt.out = cemi_alloc(B * D, sizeof(float));
    nt.dout = cemi_alloc(B * D, sizeof(float));
    nt.scratch = cemi_alloc(2 * M * (size_t)sh->H, sizeof(float));
    nt.t = cemi_alloc(B, sizeof(double));
    nt.tbin = cemi_alloc(B, sizeof(int));
    nt.lbin = cemi_alloc(B, sizeof(int));
    nt.blab = cemi_alloc(B, sizeof(int));
    nt.pgrad = pcap ? cemi_alloc((size_t)pcap * tr->net->np, sizeof(float)) : NULL;
    nt.pstats = pcap ? cemi_alloc((size_t)pcap * CEMI_STATS, sizeof(double)) : NULL;
    nt.xt = cemi_alloc(B * D, sizeof(float));
    nt.imp = cemi_alloc(B, sizeof(float));
    nt.ce = cemi_alloc(B * D, sizeof(float));
    nt.gemm_stride = cemi_mlp_gemm_workspace(sh);
    nt.gemm_ws = cemi_alloc(nt.gemm_stride * (size_t)threads, sizeof(float));
    nt.wpack = cemi_alloc(cemi_mlp_packed_size(sh), sizeof(float));
    nt.pool = cemi_pool_create(threads);
    if (!nt.x0 || !nt.z || !nt.y || !nt.c || !nt.in || !nt.hid || !nt.out || !nt.dout ||
        !nt.scratch || !nt.t || !nt.tbin || !nt.gemm_ws || !nt.wpack || !nt.pool ||
        !nt.lbin || !nt.xt || !nt.imp || !nt.ce || !nt.blab ||
        (pcap && (!nt.pgrad || !nt.pstats))) {
        release_batch(&nt);
        return cemi_fail(&tr->err, CEM_ERR_NOMEM,
                         "%s: out of memory (or threads) for a batch of %d on %d threads", fn,
                         cap, threads);
    }
    release_batch(tr);
    tr->x0 = nt.x0; tr->z = nt.z; tr->y = nt.y; tr->c = nt.c; tr->in = nt.in;
    tr->hid = nt.hid; tr->out = nt.out; tr->dout = nt.dout; tr->scratch = nt.scratch;
    tr->t = nt.t; tr->tbin = nt.tbin; tr->gemm_ws = nt.gemm_ws;
    tr->gemm_stride = nt.gemm_stride; tr->wpack = nt.wpack; tr->pool = nt.pool;
    tr->lbin = nt.lbin; tr->xt = nt.xt; tr->imp = nt.imp; tr->ce = nt.ce; tr->blab = nt.blab;
    tr->pgrad = nt.pgrad; tr->pstats = nt.pstats; tr->pcap = pcap;
    tr->cap = cap;
    tr->mcap = mcap;
    return CEM_OK;
}

void cem_trainer_free(cem_trainer_t *tr)
{
    if (!tr)
        return;
    release_batch(tr);
    cemi_release(tr->data);
    cemi_release(tr->labels);
    cemi_release(tr->m1);
    cemi_release(tr->m2);
    cemi_release(tr->grad);
    atomic_store(&tr->model->busy, 0);
    cem_model_free(tr->model);
    cemi_release(tr);
}

int cemi_trainer_new(cem_trainer_t **out, const char *fn, cem_model_t *m, const float *data,
                     const int *labels, size_t n, int dim)
{
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!m)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: model is NULL", fn);
    cemi_mlp *net = cemi_mlp_of(m);
    if (!net)
        return cemi_fail(NULL, CEM_ERR_UNSUPPORTED,
                         "%s: only MLP models are trained (this model is exact)", fn);
    if (!data || n < 2 || dim != m->dim)
        return cemi_fail(NULL, CEM_ERR_ARG,
                         "%s: need data != NULL, n >= 2 and dim = the model's %d "
                         "(got n = %zu, dim = %d)", fn, m->dim, n, dim);
    size_t total;
    if (!cemi_mul_ok(n, (size_t)dim, &total) || !cemi_fits_int(n))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: n = %zu is too large", fn, n);
    int st = cemi_check_points(NULL, fn, "data", data, n, dim);
    if (!st && labels)
        st = m->labels ? cemi_check_labels(NULL, fn, "labels", labels, n, CEM_LABEL_NONE,
                                           m->labels)
                       : cemi_fail(NULL, CEM_ERR_ARG, "%s: the model has no labels (set "
                                   "CEM_MODEL_LABELS to the number of classes first)", fn);
    if (st)
        return st;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&m->busy, &expected, 1))
        return cemi_fail(NULL, CEM_ERR_BUSY, "%s: another trainer owns this model", fn);

    cem_trainer_t *tr = cemi_calloc(1, sizeof *tr);
    if (!tr) {
        atomic_store(&m->busy, 0);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory", fn);
    }
    cemi_model_retain(m);
    tr->model = m;
    tr->net = net;
    tr->n = n;
    tr->D = dim;
    for (const cemi_option *o = trainer_options; o->name; o++)
        tr->opt[o->id] = o->def;
    for (int b = 0; b < CEMI_LAW_BINS; b++)
        tr->law_loss[b] = tr->law_floor[b] = NAN;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    tr->opt[CEM_TRAINER_THREADS] = cores < 1 ? 1 : cores > 64 ? 64 : (double)cores;
    tr->data = cemi_alloc(total, sizeof(float));
    tr->m1 = cemi_calloc(net->np, sizeof(float));
    tr->m2 = cemi_calloc(net->np, sizeof(float));
    tr->grad = cemi_alloc(net->np, sizeof(float));
    tr->labels = labels ? cemi_alloc(n, sizeof(int)) : NULL;
    if (!tr->data || !tr->m1 || !tr->m2 || !tr->grad || (labels && !tr->labels)) {
        cem_trainer_free(tr);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for %zu points", fn, n);
    }
    memcpy(tr->data, data, sizeof(float) * total);
    if (labels)
        memcpy(tr->labels, labels, sizeof(int) * n);
    tr->world = 1;
    st = cemi_trainer_reserve(tr, (int)tr->opt[CEM_TRAINER_BATCH],
                              (int)tr->opt[CEM_TRAINER_ACCUMULATE], 0,
                              (int)tr->opt[CEM_TRAINER_THREADS], fn);
    if (st) {
        cem_trainer_free(tr);
        return cemi_fail(NULL, st, "%s: out of memory for the batch", fn);
    }
    *out = tr;
    return CEM_OK;
}

/* The population mean and the sd (sqrt of the mean per-coordinate
 * variance) of the data, in double, two passes. */
static double measure_stats(const float *x, size_t n, int D, double *mean)
{
    for (int j = 0; j < D; j++)
        mean[j] = 0;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++)
            mean[j] += x[i * (size_t)D + (size_t)j];
    for (int j = 0; j < D; j++)
        mean[j] /= (double)n;
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < D; j++) {
            double e = x[i * (size_t)D + (size_t)j] - mean[j];
            ss += e * e;
        }
    return sqrt(ss / ((double)n * D));
}

/* The principal axes of the data about the mean (population covariance,
 * in double, a block of rows at a time) into p, for PRECOND_PCA. */
static int measure_axes(const float *x, size_t n, int D, cemi_mlp *p, const char *fn)
{
    enum { ROWS = 64 };
    const size_t d = (size_t)D;
    double *cov = cemi_calloc(d * d, sizeof(double)), *blk = cemi_alloc(ROWS * d, sizeof(double));
    double *axes = cemi_alloc(d * d, sizeof(double)), *sd = cemi_alloc(d, sizeof(double));
    int st = cov && blk && axes && sd ? CEM_OK
             : cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the %d x %d covariance",
                         fn, D, D);
    for (size_t i0 = 0; !st && i0 < n; i0 += ROWS) {
        int r = n - i0 < ROWS ? (int)(n - i0) : ROWS;
        for (size_t k = 0; k < (size_t)r * d; k++)
            blk[k] = x[i0 * d + k] - p->mean[k % d];
        cemi_dgemm(1, 0, D, D, r, 1.0 / (double)n, blk, D, blk, D, 1.0, cov, D);
    }
    if (!st)
        st = cemi_mlp_axes_of_cov(D, cov, axes, sd, fn);
    if (!st && cemi_mlp_set_axes(p, axes, sd))
        st = cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the data's axes", fn);
    cemi_release(cov);
    cemi_release(blk);
    cemi_release(axes);
    cemi_release(sd);
    return st;
}

/* The model's default window (meant for data of unit variance) moved to
 * data of standard deviation sd (cemdiff.h, CEM_MODEL_T_MIN), within the
 * options' bounds. */
static void window_for_data(cem_model_t *m, double sd)
{
    const cemi_option *o[2] = {cemi_option_find(cemi_model_options(), CEM_MODEL_T_MIN),
                               cemi_option_find(cemi_model_options(), CEM_MODEL_T_MAX)};
    double t[2];
    for (int k = 0; k < 2; k++) {
        t[k] = cemi_time_for_scale(o[k]->def, sd);
        t[k] = t[k] < o[k]->lo ? o[k]->lo : t[k] > o[k]->hi ? o[k]->hi : t[k];
    }
    if (t[0] < t[1]) { /* else sd is beyond any scale the bounds allow: keep them */
        m->t_min = t[0];
        m->t_max = t[1];
    }
}

/* cem_trainer_create and _labelled (labels NULL: unlabelled). */
static int create(cem_trainer_t **out, const char *fn, cem_model_t *m, const float *data,
                  const int *labels, size_t n, int dim)
{
    int st = cemi_trainer_new(out, fn, m, data, labels, n, dim);
    if (st)
        return st;
    cem_trainer_t *tr = *out;
    cemi_mlp *p = tr->net;
    const double t_min = m->t_min, t_max = m->t_max;
    int measured = p->sd == 0;
    if (measured) { /* the model's mean buffer, then the sd */
        double sd = measure_stats(tr->data, n, dim, p->mean);
        if (!(sd > 0)) { /* every point the same: no scale to learn */
            cemi_mlp_set_stats(p, NULL, 0);
            cem_trainer_free(tr);
            *out = NULL;
            return cemi_fail(NULL, CEM_ERR_ARG, "%s: the %zu data points are all equal", fn, n);
        }
        p->sd = sd;
        st = p->param == CEM_PARAM_PRECOND_PCA ? measure_axes(tr->data, n, dim, p, fn) : 0;
        if (!st && !m->window_set)
            window_for_data(m, sd);
    }
    if (!st)
        st = cemi_trainer_law_refresh(tr, 1, fn);
    if (st) {
        if (measured) {
            cemi_mlp_set_stats(p, NULL, 0);
            cemi_mlp_set_axes(p, NULL, NULL);
        }
        m->t_min = t_min;
        m->t_max = t_max;
        cem_trainer_free(tr);
        *out = NULL;
        return st; /* the refresh recorded why, naming fn */
    }
    return CEM_OK;
}

int cem_trainer_create(cem_trainer_t **out, cem_model_t *m, const float *data, size_t n,
                       int dim)
{
    return create(out, "cem_trainer_create", m, data, NULL, n, dim);
}

int cem_trainer_create_labelled(cem_trainer_t **out, cem_model_t *m, const float *data,
                                const int *labels, size_t n, int dim)
{
    static const char fn[] = "cem_trainer_create_labelled";
    if (!labels) {
        if (out)
            *out = NULL;
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: labels is NULL", fn);
    }
    return create(out, fn, m, data, labels, n, dim);
}

/* ------------------------------------------------------------ options */

int cem_trainer_option_bounds(cem_trainer_option opt, double *lo, double *hi)
{
    return cemi_option_bounds("cem_trainer_option_bounds", trainer_options, (int)opt, lo, hi);
}

int cem_trainer_set(cem_trainer_t *tr, cem_trainer_option opt, double value)
{
    static const char fn[] = "cem_trainer_set";
    if (!tr)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: trainer is NULL", fn);
    const cemi_option *o;
    int st = cemi_option_resolve(&tr->err, fn, trainer_options, (int)opt, &value, &o);
    if (st)
        return st;
    if ((opt == CEM_TRAINER_BATCH && (int)value != tr->cap) ||
        (opt == CEM_TRAINER_ACCUMULATE && value != tr->opt[opt]) ||
        (opt == CEM_TRAINER_THREADS && (int)value != cemi_pool_size(tr->pool))) {
        int cap = opt == CEM_TRAINER_BATCH ? (int)value : tr->cap;
        int accum = opt == CEM_TRAINER_ACCUMULATE ? (int)value
                                                  : (int)tr->opt[CEM_TRAINER_ACCUMULATE];
        int threads = opt == CEM_TRAINER_THREADS ? (int)value : cemi_pool_size(tr->pool);
        st = cemi_trainer_reserve(tr, cap, accum, shared_world(tr), threads, fn);
        if (st)
            return st;
    }
    double old = tr->opt[opt];
    tr->opt[opt] = value;
    /* what the ADAPTIVE law's floors depend on */
    int floors = opt == CEM_TRAINER_TIME_LAW || opt == CEM_TRAINER_WEIGHT ||
                 opt == CEM_TRAINER_SNR_CLAMP || opt == CEM_TRAINER_SEED;
    st = cemi_trainer_law_refresh(tr, floors && value != old, fn);
    if (st)
        tr->opt[opt] = old;
    return st;
}

int cem_trainer_get(const cem_trainer_t *tr, cem_trainer_option opt, double *value)
{
    static const char fn[] = "cem_trainer_get";
    if (!tr || !value)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: trainer and value must not be NULL", fn);
    const cemi_option *o;
    int st = cemi_option_resolve(NULL, fn, trainer_options, (int)opt, NULL, &o);
    if (st)
        return st;
    *value = tr->opt[opt];
    return CEM_OK;
}

int cem_trainer_set_progress(cem_trainer_t *tr, cem_progress_fn fn, void *user)
{
    if (!tr)
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_trainer_set_progress: trainer is NULL");
    tr->progress = fn;
    tr->progress_user = user;
    return CEM_OK;
}

int cem_trainer_set_reduce(cem_trainer_t *tr, int rank, int world, cem_reduce_fn fn, void *user)
{
    static const char fn_name[] = "cem_trainer_set_reduce";
    if (!tr)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: trainer is NULL", fn_name);
    if (world < 1 || rank < 0 || rank >= world || (!fn && world > 1))
        return cemi_fail(&tr->err, CEM_ERR_ARG, "%s: need world >= 1, 0 <= rank < world and a "
                         "callback when world > 1 (got rank %d, world %d, fn %s)", fn_name, rank,
                         world, fn ? "set" : "NULL");
    const int w = fn ? world : 0;
    if (parts_cap((int)tr->opt[CEM_TRAINER_ACCUMULATE], w) != tr->pcap) {
        int st = cemi_trainer_reserve(tr, tr->cap, (int)tr->opt[CEM_TRAINER_ACCUMULATE], w,
                                      cemi_pool_size(tr->pool), fn_name);
        if (st)
            return st;
    }
    tr->rank = rank;
    tr->world = world;
    tr->reduce = fn;
    tr->reduce_user = user;
    return CEM_OK;
}

long cem_trainer_steps(const cem_trainer_t *tr) { return tr ? tr->step : -1; }
cem_model_t *cem_trainer_model(const cem_trainer_t *tr) { return tr ? tr->model : NULL; }
const char *cem_trainer_errmsg(const cem_trainer_t *tr) { return tr ? tr->err.text : ""; }

/* ------------------------------------------------------------ the time law */

#define LAW_DECAY 0.98        /* of the bins' moving-average losses, a step */
#define FLOOR_POINTS 16384    /* data points of the exact model that measures the floors */
#define FLOOR_ROWS 2048       /* draws per bin that measure its floor */
/* their random stream: key SEED, a counter no step reaches (the batches'
 * are the steps), so the floors' measurement error differs between seeds
 * as the batches do (docs/RECIPES.md measured what it does to the law) */
#define FLOOR_STREAM ((1ull << 63) | 0xF1007ull)
/* the label dropout's streams: step s draws from stream DROP_STREAM + s,
 * row i from its block i, apart from the batch's own stream (s) */
#define DROP_STREAM (1ull << 62)

static void objective(const cem_trainer_t *tr, int lo, int hi);
static void build_input(const cem_trainer_t *tr, int lo, int hi, int base);
static int bin_of(const cem_trainer_t *tr, double t, int nbins);

/* The trainer's time law as its options and state say. */
static void law_of(const cem_trainer_t *tr, cemi_tlaw *L)
{
    cemi_tlaw_init(L, (int)tr->opt[CEM_TRAINER_TIME_LAW], (int)tr->opt[CEM_TRAINER_GRID_N],
                   tr->model->t_min, tr->model->t_max, tr->opt[CEM_TRAINER_LOGNORMAL_MEAN],
                   tr->opt[CEM_TRAINER_LOGNORMAL_STD], CEMI_LAW_BINS, tr->law_cum);
}

/* law_cum from the options and the bins' state (cemdiff.h, ADAPT_FLOOR);
 * a step's work, so no allocation. */
static void law_shares(cem_trainer_t *tr)
{
    const int K = CEMI_LAW_BINS;
    double e[CEMI_LAW_BINS], sum = 0;
    int ready = (int)tr->opt[CEM_TRAINER_TIME_LAW] == CEM_TIMELAW_ADAPTIVE;
    for (int b = 0; ready && b < K; b++) {
        ready = !isnan(tr->law_loss[b]) && !isnan(tr->law_floor[b]);
        e[b] = ready ? fmax(0.0, tr->law_loss[b] - tr->law_floor[b]) : 0;
        sum += e[b];
    }
    const double fl = tr->opt[CEM_TRAINER_ADAPT_FLOOR];
    tr->law_cum[0] = 0;
    for (int b = 0; b < K; b++) {
        double q = ready && sum > 0 ? fl / K + (1 - fl) * e[b] / sum : 1.0 / K;
        tr->law_cum[b + 1] = tr->law_cum[b] + q;
    }
    tr->law_cum[K] = 1.0;
}

/* The per-output weights of the rows' loss (NULL: none). */
static const float *out_weights(const cem_trainer_t *tr)
{
    return cemi_mlp_preconditioned(tr->net) ? tr->ce : NULL;
}

/* Row i's loss (importance included) for the output o (D values). */
static double row_loss(const cem_trainer_t *tr, int i, const float *o)
{
    const size_t at = (size_t)i * (size_t)tr->D;
    const float *e = out_weights(tr);
    double s = 0;
    for (int j = 0; j < tr->D; j++) {
        double d = (double)o[j] - tr->y[at + (size_t)j];
        s += (e ? e[at + (size_t)j] : 1.0) * d * d;
    }
    return tr->c[i] * s;
}

/* The smallest loss each bin of the law can reach: the per-row loss the
 * exact model of the data (up to FLOOR_POINTS of them, evenly strided)
 * scores on FLOOR_ROWS draws stratified over the bin, with the objective
 * of the trainer's options.  Uses the batch workspace as scratch. */
static int measure_floors(cem_trainer_t *tr, double *floor, const char *fn)
{
    const int D = tr->D, K = CEMI_LAW_BINS;
    const size_t stride = (tr->n + FLOOR_POINTS - 1) / FLOOR_POINTS;
    const size_t ns = (tr->n + stride - 1) / stride;
    float *pts = cemi_alloc(ns * (size_t)D, sizeof(float));
    if (!pts)
        return cemi_fail(&tr->err, CEM_ERR_NOMEM, "%s: out of memory for the law's floors", fn);
    for (size_t i = 0; i < ns; i++)
        memcpy(pts + i * (size_t)D, tr->data + i * stride * (size_t)D, sizeof(float) * (size_t)D);
    cem_model_t *exact;
    int st = cem_model_create_empirical(&exact, pts, ns, D);
    cemi_release(pts);
    if (st)
        return cemi_fail(&tr->err, st, "%s: the law's floors: %s", fn, cem_last_error());
    const cem_target target = tr->net->target;
    const double lt1 = log(tr->model->t_min), lT = log(tr->model->t_max);
    cemi_rng r;
    cemi_rng_init(&r, (uint64_t)tr->opt[CEM_TRAINER_SEED], FLOOR_STREAM);
    for (int b = 0; b < K && !st; b++) {
        double sum = 0;
        for (int k0 = 0; k0 < FLOOR_ROWS && !st; k0 += tr->mcap) {
            int rows = FLOOR_ROWS - k0 < tr->mcap ? FLOOR_ROWS - k0 : tr->mcap;
            for (int i = 0; i < rows; i++) {
                size_t k = (size_t)(cemi_rng_uniform(&r) * (double)ns);
                k = k < ns ? k : ns - 1;
                memcpy(tr->x0 + (size_t)i * (size_t)D, tr->data + k * stride * (size_t)D,
                       sizeof(float) * (size_t)D);
                double v = ((double)(k0 + i) + cemi_rng_uniform(&r)) / FLOOR_ROWS;
                tr->t[i] = exp(lt1 + (lT - lt1) * ((double)b + v) / K);
                tr->blab[i] = CEM_LABEL_NONE; /* the unconditional law's floors */
                for (int j = 0; j < D; j++)
                    tr->z[(size_t)i * (size_t)D + (size_t)j] = (float)cemi_rng_normal(&r);
            }
            build_input(tr, 0, rows, 0);
            objective(tr, 0, rows);
            /* the exact answer as the network would give it */
            st = cem_model_eval(exact, target, (size_t)rows, tr->xt, tr->t, tr->out);
            for (int i = 0; !st && i < rows; i++) {
                const size_t at = (size_t)i * (size_t)D;
                cemi_mlp_net_from_f(tr->net, tr->xt + at, tr->t[i], tr->out + at, tr->dout + at);
                sum += row_loss(tr, i, tr->dout + at);
            }
        }
        floor[b] = sum / FLOOR_ROWS;
    }
    cem_model_free(exact);
    return st ? cemi_fail(&tr->err, st, "%s: the law's floors: %s", fn, cem_last_error())
              : CEM_OK;
}

int cemi_trainer_law_refresh(cem_trainer_t *tr, int floors, const char *fn)
{
    if ((int)tr->opt[CEM_TRAINER_TIME_LAW] != CEM_TIMELAW_ADAPTIVE) {
        for (int b = 0; b < CEMI_LAW_BINS; b++)
            tr->law_floor[b] = NAN;
    } else if (floors || isnan(tr->law_floor[0])) {
        double fl[CEMI_LAW_BINS];
        int st = measure_floors(tr, fl, fn);
        if (st)
            return st;
        memcpy(tr->law_floor, fl, sizeof fl);
    }
    law_shares(tr);
    return CEM_OK;
}

int cem_trainer_law_bins(const cem_trainer_t *tr, double *prob, double *loss, double *floor,
                         double *edges)
{
    if (!tr)
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_trainer_law_bins: trainer is NULL");
    cemi_tlaw L;
    law_of(tr, &L);
    const int K = CEMI_LAW_BINS;
    double below[CEMI_LAW_BINS + 1]; /* P(time < edge b) */
    for (int b = 0; b <= K; b++) {
        double e = b == 0 ? L.t1 : b == K ? L.T : exp(L.lt1 + (L.lT - L.lt1) * b / K);
        below[b] = b == 0 ? 0.0 : b == K ? 1.0 : cemi_tlaw_cdf(&L, e);
        if (edges)
            edges[b] = e;
    }
    double grid[CEMI_LAW_BINS] = {0}; /* GRID: its points, binned as the draws are */
    if (L.law == CEM_TIMELAW_GRID)
        for (int k = 0; k < L.N; k++)
            grid[bin_of(tr, cemi_grid_exp_point(k, L.N, L.t1, L.T), K)] += 1.0 / L.N;
    for (int b = 0; b < K; b++) {
        if (prob)
            prob[b] = L.law == CEM_TIMELAW_GRID ? grid[b] : below[b + 1] - below[b];
        if (loss)
            loss[b] = tr->law_loss[b];
        if (floor)
            floor[b] = tr->law_floor[b];
    }
    return CEM_OK;
}

/* ------------------------------------------------------------ the step */

/* Per-row loss weight c and regression target y for the model's target
 * (docs/MATH.md 3): loss_i = c_i |net_i - y_i|^2; rows [lo, hi). */
static void objective(const cem_trainer_t *tr, int lo, int hi)
{
    const int D = tr->D;
    const cem_target target = tr->net->target;
    const int weight = (int)tr->opt[CEM_TRAINER_WEIGHT];
    for (int i = lo; i < hi; i++) {
        cemi_ou c = cemi_ou_at(tr->t[i]);
        const float *x0 = tr->x0 + (size_t)i * (size_t)D, *z = tr->z + (size_t)i * (size_t)D;
        float *y = tr->y + (size_t)i * (size_t)D;
        double w;
        if (target == CEM_TARGET_CEM) {
            double lam = 1.0 / expm1(tr->t[i]), sd = cemi_mlp_sd(tr->net);
            w = weight == CEM_WEIGHT_ONE ? 1.0
                : weight == CEM_WEIGHT_SQRT_LAMBDA ? sqrt(lam)
                : weight == CEM_WEIGHT_MIN_SNR ? fmin(lam, tr->opt[CEM_TRAINER_SNR_CLAMP])
                : weight == CEM_WEIGHT_EDM ? lam + 1.0 / (sd * sd)
                : lam;
            if (cemi_mlp_preconditioned(tr->net)) {
                /* the output F whose f is x0, scored in f's units: the
                 * weights per output (cemi_mlp_out_weights) */
                cemi_mlp_net_from_f(tr->net, tr->xt + (size_t)i * (size_t)D, tr->t[i], x0, y);
                cemi_mlp_out_weights(tr->net, tr->t[i], weight == CEM_WEIGHT_EDM, w,
                                     tr->ce + (size_t)i * (size_t)D);
                w = 1.0;
            } else {
                memcpy(y, x0, sizeof(float) * (size_t)D);
            }
        } else if (target == CEM_TARGET_NOISE) {
            w = 1.0;
            memcpy(y, z, sizeof(float) * (size_t)D);
        } else {
            w = c.sigma2;
            for (int j = 0; j < D; j++)
                y[j] = (float)(-z[j] / c.sigma);
        }
        tr->c[i] = (float)w;
    }
}

/* x_t = alpha x0 + sigma z and the network input the model makes of
 * (x_t, t); rows [lo, hi), whose input rows start at row `base` (the
 * micro-batch's first: the network's workspace holds one micro-batch). */
static void build_input(const cem_trainer_t *tr, int lo, int hi, int base)
{
    const int D = tr->D, ld = cemi_mlp_in_width(&tr->net->sh);
    for (int i = lo; i < hi; i++) {
        cemi_ou c = cemi_ou_at(tr->t[i]);
        const float *x0 = tr->x0 + (size_t)i * (size_t)D, *z = tr->z + (size_t)i * (size_t)D;
        float *xt = tr->xt + (size_t)i * (size_t)D;
        for (int j = 0; j < D; j++)
            xt[j] = (float)(c.alpha * x0[j] + c.sigma * z[j]);
    }
    cemi_mlp_input(tr->model, tr->net->params, hi - lo, tr->xt + (size_t)lo * (size_t)D,
                   tr->t + lo, 0.0, tr->blab + lo, tr->in + (size_t)(lo - base) * (size_t)ld);
}

/* The bin of t among `nbins` equal bins of log t over the model's window. */
static int bin_of(const cem_trainer_t *tr, double t, int nbins)
{
    double lo = log(tr->model->t_min), hi = log(tr->model->t_max);
    int b = (int)((log(t) - lo) / (hi - lo) * nbins);
    return b < 0 ? 0 : b >= nbins ? nbins - 1 : b;
}


/* Rows [lo, hi) of step `step`'s batch, drawn from the stream (seed, step)
 * in row order: each row takes one Philox block for its two uniforms (data
 * point, time) and then D normals, a block per pair (the odd one of a pair
 * carried to the next row).  With lo even, lo D normals (whole pairs) come
 * before row lo, so its place in the stream is known without drawing the
 * rows before it, and any even split of the rows draws bitwise the numbers
 * one pass would.  A labelled row keeps its point's label unless the
 * label dropout, a uniform from its own stream (DROP_STREAM), drops it. */
static void draw_rows(cem_trainer_t *tr, const cemi_tlaw *law, long step, int lo, int hi)
{
    cemi_rng r, rd;
    const uint64_t seed = (uint64_t)tr->opt[CEM_TRAINER_SEED];
    cemi_rng_init(&r, seed, (uint64_t)step);
    cemi_rng_init(&rd, seed, DROP_STREAM + (uint64_t)step);
    const double drop = tr->opt[CEM_TRAINER_LABEL_DROPOUT];
    const int D = tr->D;
    if (lo > 0) /* lo uniform blocks and lo D / 2 pair blocks before row lo */
        cemi_rng_seek(&r, (uint64_t)lo + (uint64_t)lo * (uint64_t)D / 2);
    for (int i = lo; i < hi; i++) {
        size_t k = (size_t)(cemi_rng_uniform(&r) * (double)tr->n);
        if (k >= tr->n)
            k = tr->n - 1;
        int lab = tr->labels ? tr->labels[k] : CEM_LABEL_NONE;
        if (lab != CEM_LABEL_NONE && drop > 0) {
            cemi_rng_seek(&rd, (uint64_t)i);
            if (cemi_rng_uniform(&rd) < drop)
                lab = CEM_LABEL_NONE;
        }
        tr->blab[i] = lab;
        for (int j = 0; j < D; j++) /* a few floats: no memcpy call */
            tr->x0[(size_t)i * (size_t)D + (size_t)j] = tr->data[k * (size_t)D + (size_t)j];
        tr->t[i] = cemi_tlaw_map(law, cemi_rng_uniform(&r));
        for (int j = 0; j < D; j++)
            tr->z[(size_t)i * (size_t)D + (size_t)j] = (float)cemi_rng_normal(&r);
    }
}

/* The work of a step that is row by row, split over the team by rows:
 * drawing the batch (unless the caller gave it: draw < 0), the network
 * input, the objective and each row's time bin.  Each row's arithmetic is
 * the same whatever the split. */
typedef struct {
    cem_trainer_t *tr;
    int lo, hi; /* the micro-batch's rows (lo even) */
    long draw;  /* the step whose batch to draw, or -1 */
    cemi_tlaw law;
} rows_job;

static void rows_part(void *v, int tid, int n)
{
    const rows_job *j = v;
    cem_trainer_t *tr = j->tr;
    int lo, hi;
    cemi_pool_split(j->hi - j->lo, 16, tid, n, &lo, &hi); /* lo even: see draw_rows */
    lo += j->lo;
    hi += j->lo;
    if (lo >= hi)
        return;
    if (j->draw >= 0)
        draw_rows(tr, &j->law, j->draw, lo, hi);
    build_input(tr, lo, hi, j->lo);
    objective(tr, lo, hi);
    const int importance = tr->opt[CEM_TRAINER_IMPORTANCE] != 0;
    for (int i = lo; i < hi; i++) {
        tr->tbin[i] = bin_of(tr, tr->t[i], CEM_TRAINER_BINS);
        tr->lbin[i] = bin_of(tr, tr->t[i], CEMI_LAW_BINS);
        tr->imp[i] = importance ? (float)cemi_tlaw_importance(&j->law, tr->t[i]) : 1.0f;
        if (importance)
            tr->c[i] *= tr->imp[i];
    }
}

/* Micro-batch rows [lo, hi) of a batch of B rows (drawn for step `draw`,
 * or already in the workspace when draw < 0): the gradient of its share
 * of the batch mean into grad (np floats) and its stats (CEMI_STATS
 * doubles: the loss, the per-sample losses summed by bin).  An empty micro-batch adds nothing. */
static void micro_batch(cem_trainer_t *tr, int B, int lo, int hi, long draw, const cemi_tlaw *law,
                        const cemi_nn_ctx *ctx, float *grad, double *stats)
{
    const cemi_mlp *net = tr->net;
    const int D = tr->D, R = hi - lo;
    for (int k = 0; k < CEMI_STATS; k++)
        stats[k] = 0;
    if (R <= 0) {
        memset(grad, 0, sizeof(float) * net->np);
        return;
    }
    rows_job rj = {tr, lo, hi, draw, *law};
    cemi_pool_run(R >= 64 ? tr->pool : NULL, rows_part, &rj);
    const size_t at = (size_t)lo * (size_t)D;
    const float *e = out_weights(tr);
    cemi_mlp_forward_f(&net->sh, net->params, R, tr->in, tr->hid, 1, tr->out + at, ctx);
    stats[CEMI_ST_LOSS] = cemi_wmse_f(tr->out + at, tr->y + at, tr->c + lo, e ? e + at : NULL, R,
                                      B, D, tr->dout + at);
    for (int i = lo; i < hi; i++) { /* the law's own units */
        float l = (float)(row_loss(tr, i, tr->out + (size_t)i * (size_t)D) / tr->imp[i]);
        stats[CEMI_ST_BIN_SUM + tr->tbin[i]] += l;
        stats[CEMI_ST_BIN_COUNT + tr->tbin[i]] += 1;
        stats[CEMI_ST_LAW_SUM + tr->lbin[i]] += l;
        stats[CEMI_ST_LAW_COUNT + tr->lbin[i]] += 1;
    }
    cemi_mlp_backward_f(&net->sh, net->params, R, tr->in, tr->hid, tr->dout + at, tr->blab + lo,
                        grad, tr->scratch, ctx);
}

/* acc += add, n floats (the order of the micro-batches' sums). */
static void add_f(float *restrict acc, const float *restrict add, size_t n)
{
    for (size_t k = 0; k < n; k++)
        acc[k] += add[k];
}

/* Forward and backward on the batch of B rows (drawn for step `draw`, or
 * already in the workspace when draw < 0) in ACCUMULATE micro-batches: the
 * raw gradient in tr->grad and the step's stats in `stats` (the loss at
 * CEMI_ST_LOSS, the per-sample losses' sums by bin).  A
 * drawn batch of a trainer with a reduce callback is shared: this rank's
 * micro-batches, then the callback's sums (CEM_ERR_REDUCE when it fails,
 * else CEM_OK). */
static int loss_and_grad(cem_trainer_t *tr, int B, long draw, double *stats, const char *fn)
{
    const cemi_mlp *net = tr->net;
    const size_t np = net->np;
    const int A = (int)tr->opt[CEM_TRAINER_ACCUMULATE];
    const int shared = draw >= 0 && tr->reduce;
    const int first = shared ? (int)((long long)tr->rank * A / tr->world) : 0;
    const int end = shared ? (int)((long long)(tr->rank + 1) * A / tr->world) : A;
    cemi_tlaw law;
    law_of(tr, &law);
    /* the weights packed once for the forward products of every thread */
    const cemi_nn_ctx ctx = {tr->gemm_ws, tr->gemm_stride, tr->pool, tr->wpack};
    cemi_mlp_pack_f(&net->sh, net->params, tr->wpack, &ctx);
    if (!shared) { /* micro-batch 0 into tr->grad, the others added in order */
        micro_batch(tr, B, mb_lo(B, A, 0), mb_lo(B, A, 1), draw, &law, &ctx, tr->grad, stats);
        for (int m = 1; m < A; m++) {
            micro_batch(tr, B, mb_lo(B, A, m), mb_lo(B, A, m + 1), draw, &law, &ctx, tr->pgrad,
                        tr->pstats);
            add_f(tr->grad, tr->pgrad, np);
            for (int k = 0; k < CEMI_STATS; k++)
                stats[k] += tr->pstats[k];
        }
        return CEM_OK;
    }
    for (int m = first; m < end; m++)
        micro_batch(tr, B, mb_lo(B, A, m), mb_lo(B, A, m + 1), draw, &law, &ctx,
                    tr->pgrad + (size_t)(m - first) * np,
                    tr->pstats + (size_t)(m - first) * CEMI_STATS);
    if (tr->reduce(tr->pgrad, np, tr->pstats, CEMI_STATS, first, end - first, tr->reduce_user))
        return cemi_fail(&tr->err, CEM_ERR_REDUCE, "%s: step %ld: the reduce callback of rank %d "
                         "of %d failed; the step was not taken", fn, tr->step + 1, tr->rank,
                         tr->world);
    memcpy(tr->grad, tr->pgrad, sizeof(float) * np);
    memcpy(stats, tr->pstats, sizeof(double) * CEMI_STATS);
    return CEM_OK;
}

double cemi_trainer_lr(const cem_trainer_t *tr, long step)
{
    double lr = tr->opt[CEM_TRAINER_LR], warm = tr->opt[CEM_TRAINER_WARMUP];
    double decay = tr->opt[CEM_TRAINER_DECAY_STEPS], lo = tr->opt[CEM_TRAINER_LR_MIN];
    if (step < warm)
        return lr * (double)(step + 1) / warm;
    if (decay > 0) {
        double p = fmin(1.0, ((double)step - warm) / decay);
        return lo + (lr - lo) * 0.5 * (1.0 + cos(3.14159265358979323846 * p));
    }
    return lr;
}

/* The Adam(W) and EMA update of parameters [lo, hi), element by element. */
typedef struct {
    float *p, *m1, *m2, *ema;
    const float *g;
    float step_size, inv_sqrt_bc2, eps, b1, b2, wd, decay, e;
    float gscale; /* the clipping factor the update applies to g (1: none) */
    int adamw;
    size_t np;
    atomic_int bad; /* adam_check_part: some new value would not be finite */
} adam_job;

/* One element's new moments, weight and average (torch.optim.Adam:
 * p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps)).  The check and the
 * update both compute them here, so that they agree bitwise. */
#define ADAM_ELEMENT(k)                                                   \
    float gk = g[k] * gscale + wd * p[k];                                 \
    float m1k = b1 * m1[k] + (1 - b1) * gk;                               \
    float m2k = b2 * m2[k] + (1 - b2) * gk * gk;                          \
    float pk = p[k] * decay;                                              \
    pk -= step_size * m1k / (sqrtf(m2k) * inv_sqrt_bc2 + eps);            \
    float ek = e * ema[k] + (1 - e) * pk

/* the job's fields in locals: a store through a float pointer could
 * otherwise change them, which stops the loop from vectorising */
#define ADAM_LOCALS(j)                                                                   \
    float *restrict p = (j)->p, *restrict m1 = (j)->m1;                                   \
    const float *restrict g = (j)->g;                                                     \
    float *restrict m2 = (j)->m2, *restrict ema = (j)->ema;                               \
    const float step_size = (j)->step_size, inv_sqrt_bc2 = (j)->inv_sqrt_bc2;             \
    const float eps = (j)->eps, b1 = (j)->b1, b2 = (j)->b2, gscale = (j)->gscale;         \
    const float wd = (j)->adamw ? 0.0f : (j)->wd, decay = (j)->decay, e = (j)->e

CEMI_CLONES
static void adam_part(void *v, int tid, int nt)
{
    adam_job *j = v;
    size_t lo, hi;
    cemi_pool_split_n(j->np, 256, tid, nt, &lo, &hi);
    ADAM_LOCALS(j);
    for (size_t k = lo; k < hi; k++) {
        ADAM_ELEMENT(k);
        m1[k] = m1k;
        m2[k] = m2k;
        p[k] = pk;
        ema[k] = ek;
    }
}

/* Whether the update of [lo, hi) would leave every value finite: a finite
 * gradient can still overflow a moment (its square) or a weight. */
CEMI_CLONES
static void adam_check_part(void *v, int tid, int nt)
{
    adam_job *j = v;
    size_t lo, hi;
    cemi_pool_split_n(j->np, 256, tid, nt, &lo, &hi);
    ADAM_LOCALS(j);
    int bad = 0;
    for (size_t k = lo; k < hi; k++) {
        ADAM_ELEMENT(k);
        bad |= !(fabsf(m1k) <= FLT_MAX) | !(fabsf(m2k) <= FLT_MAX) | !(fabsf(pk) <= FLT_MAX) |
               !(fabsf(ek) <= FLT_MAX);
    }
    if (bad)
        atomic_store(&j->bad, 1);
}

/* The Adam(W) and EMA update of the step about to be taken, after clipping
 * the gradient in tr->grad. */
static void adam_prepare(cem_trainer_t *tr, adam_job *j)
{
    cemi_mlp *net = tr->net;
    const size_t np = net->np;
    const float *g = tr->grad;
    const double clip = tr->opt[CEM_TRAINER_CLIP];
    /* clipping scales the gradient as the update reads it; tr->grad stays
     * the gradient (cem_trainer_loss_batch returns it) */
    j->gscale = 1.0f;
    if (clip > 0) {
        double s = 0;
        for (size_t k = 0; k < np; k++)
            s += (double)g[k] * g[k];
        double norm = sqrt(s);
        if (norm > clip)
            j->gscale = (float)(clip / norm);
    }
    const long t = tr->step + 1;
    const double lr = cemi_trainer_lr(tr, tr->step);
    const double b1 = tr->opt[CEM_TRAINER_BETA1], b2 = tr->opt[CEM_TRAINER_BETA2];
    const double wd = tr->opt[CEM_TRAINER_WEIGHT_DECAY];
    const int adamw = (int)tr->opt[CEM_TRAINER_OPTIMIZER] == CEM_OPTIM_ADAMW;
    j->p = net->params;
    j->g = g;
    j->m1 = tr->m1;
    j->m2 = tr->m2;
    j->ema = net->ema;
    j->step_size = (float)(lr / (1.0 - pow(b1, (double)t)));
    j->inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(b2, (double)t)));
    j->eps = (float)tr->opt[CEM_TRAINER_ADAM_EPS];
    j->b1 = (float)b1;
    j->b2 = (float)b2;
    j->wd = (float)wd;
    j->decay = adamw ? (float)(1.0 - lr * wd) : 1.0f;
    j->e = (float)tr->opt[CEM_TRAINER_EMA];
    j->adamw = adamw;
    j->np = np;
    atomic_init(&j->bad, 0);
}

/* Whether the step in tr->grad and stats leaves the state finite: the
 * per-sample losses' sums (the time bins add them; a sample's Inf or NaN
 * reaches its sum) and every new moment, weight and average. */
static int finite_update(cem_trainer_t *tr, const double *stats, adam_job *j)
{
    for (int k = 0; k < CEMI_STATS; k++)
        if (!isfinite(stats[k]))
            return 0;
    cemi_pool_run(tr->pool, adam_check_part, j);
    return !atomic_load(&j->bad);
}

/* Applies the update j prepared: Adam(W), EMA, counters.  Called only
 * when the loss, the gradient and the update are finite. */
static void apply_step(cem_trainer_t *tr, const double *stats, adam_job *j)
{
    cemi_pool_run(tr->pool, adam_part, j);
    for (int b = 0; b < CEM_TRAINER_BINS; b++) {
        tr->bin_sum[b] += stats[CEMI_ST_BIN_SUM + b];
        tr->bin_count[b] += (long)stats[CEMI_ST_BIN_COUNT + b];
    }
    for (int b = 0; b < CEMI_LAW_BINS; b++)
        if (stats[CEMI_ST_LAW_COUNT + b] > 0) {
            double mean = stats[CEMI_ST_LAW_SUM + b] / stats[CEMI_ST_LAW_COUNT + b];
            tr->law_loss[b] = isnan(tr->law_loss[b])
                                  ? mean
                                  : LAW_DECAY * tr->law_loss[b] + (1 - LAW_DECAY) * mean;
        }
    law_shares(tr);
    tr->step = tr->step + 1;
}

/* Whether every gradient entry is finite, checked over the team. */
typedef struct {
    const float *g;
    size_t n;
    atomic_int bad;
} finite_job;

static void finite_part(void *v, int tid, int nt)
{
    finite_job *j = v;
    size_t lo, hi;
    cemi_pool_split_n(j->n, 1024, tid, nt, &lo, &hi);
    if (lo < hi && cemi_first_nonfinite_f(j->g + lo, hi - lo) < hi - lo)
        atomic_store(&j->bad, 1);
}

static int finite_step(const cem_trainer_t *tr, double loss)
{
    if (!isfinite(loss))
        return 0;
    finite_job j = {tr->grad, tr->net->np, 0};
    cemi_pool_run(tr->pool, finite_part, &j);
    return !atomic_load(&j.bad);
}

/* The loss and gradient of the batch drawn for step `draw` (or, draw < 0,
 * the one in the workspace), accepted only when both are finite: the one
 * check of every step and of cem_trainer_loss_batch, so that loss_batch
 * answers CEM_OK exactly for the batches step_batch would take. */
static int checked_loss(cem_trainer_t *tr, int B, long draw, double *loss, double *stats,
                        const char *fn, int stepping, adam_job *j)
{
    int st = loss_and_grad(tr, B, draw, stats, fn);
    if (st)
        return st;
    double l = stats[CEMI_ST_LOSS];
    if (!finite_step(tr, l))
        return stepping
                   ? cemi_fail(&tr->err, CEM_ERR_NONFINITE_STEP,
                               "%s: step %ld: the loss (%g) or its gradient is not finite; "
                               "the step was rejected and nothing changed", fn, tr->step + 1, l)
                   : cemi_fail(&tr->err, CEM_ERR_NONFINITE_STEP,
                               "%s: the loss (%g) or its gradient is not finite on this batch "
                               "(a step on it would be rejected)", fn, l);
    /* a finite loss and gradient can still overflow a sample's loss, a
     * moment or a weight: the update is computed (not stored) to see */
    adam_prepare(tr, j);
    if (!finite_update(tr, stats, j))
        return cemi_fail(&tr->err, CEM_ERR_NONFINITE_STEP,
                         "%s: the loss (%g) and its gradient are finite, but a sample's loss, "
                         "an optimiser moment or a weight would not be%s", fn, l,
                         stepping ? "; the step was rejected and nothing changed"
                                  : " after a step on this batch (it would be rejected)");
    *loss = l;
    return CEM_OK;
}

/* One step on the batch drawn for step `draw` (or, draw < 0, the one in the
 * workspace). */
static int step_here(cem_trainer_t *tr, int B, long draw, double *loss, const char *fn)
{
    double l = NAN, stats[CEMI_STATS];
    adam_job j;
    int st = checked_loss(tr, B, draw, &l, stats, fn, 1, &j);
    if (st)
        return st;
    apply_step(tr, stats, &j);
    *loss = l;
    return CEM_OK;
}

int cem_trainer_run(cem_trainer_t *tr, long steps, double *mean_loss)
{
    static const char fn[] = "cem_trainer_run";
    if (mean_loss)
        *mean_loss = NAN;
    if (!tr)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: trainer is NULL", fn);
    if (steps < 0)
        return cemi_fail(&tr->err, CEM_ERR_ARG, "%s: steps = %ld < 0", fn, steps);
    const int B = (int)tr->opt[CEM_TRAINER_BATCH];
    double sum = 0;
    long done = 0;
    int st = CEM_OK;
    while (done < steps) {
        double l = NAN;
        st = step_here(tr, B, tr->step, &l, fn);
        if (st)
            break;
        sum += l;
        done++;
        if (tr->progress && tr->progress(tr->step, l, tr->progress_user) && done < steps) {
            st = cemi_fail(&tr->err, CEM_ERR_STOPPED, "%s: the progress callback stopped the "
                           "run after step %ld (%ld of %ld steps done)", fn, tr->step, done,
                           steps);
            break;
        }
    }
    if (mean_loss && done > 0)
        *mean_loss = sum / (double)done;
    return st;
}

/* Validates and copies a caller's batch (labels NULL: every row
 * CEM_LABEL_NONE) into the workspace. */
static int load_batch(cem_trainer_t *tr, const char *fn, int B, const float *x0,
                      const int *labels, const double *t, const float *z)
{
    if (B < 1 || B > tr->cap)
        return cemi_fail(&tr->err, CEM_ERR_ARG, "%s: B = %d is outside [1, %d] (BATCH)", fn,
                         B, tr->cap);
    if (!x0 || !t || !z)
        return cemi_fail(&tr->err, CEM_ERR_ARG, "%s: x0, t and z must not be NULL", fn);
    int st = cemi_check_points(&tr->err, fn, "x0", x0, (size_t)B, tr->D);
    if (!st)
        st = cemi_check_points(&tr->err, fn, "z", z, (size_t)B, tr->D);
    if (st)
        return st;
    for (int i = 0; i < B; i++)
        if (!cemi_time_ok(t[i]))
            return cemi_fail(&tr->err, CEM_ERR_ARG, "%s: t[%d] = %g is not a finite time > 0",
                             fn, i, t[i]);
    if (labels && (st = cemi_check_labels(&tr->err, fn, "labels", labels, (size_t)B,
                                          CEM_LABEL_NONE, tr->model->labels)) != CEM_OK)
        return st;
    for (int i = 0; i < B; i++)
        tr->blab[i] = labels ? labels[i] : CEM_LABEL_NONE;
    size_t bd = (size_t)B * (size_t)tr->D;
    memcpy(tr->x0, x0, sizeof(float) * bd);
    memcpy(tr->z, z, sizeof(float) * bd);
    memcpy(tr->t, t, sizeof(double) * (size_t)B);
    return CEM_OK;
}

/* cem_trainer_step_batch and _labelled. */
static int step_batch(const char *fn, cem_trainer_t *tr, int B, const float *x0,
                      const int *labels, const double *t, const float *z, double *loss)
{
    if (loss)
        *loss = NAN;
    if (!tr)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: trainer is NULL", fn);
    int st = load_batch(tr, fn, B, x0, labels, t, z);
    double l = NAN;
    if (!st)
        st = step_here(tr, B, -1, &l, fn);
    if (loss)
        *loss = l;
    return st;
}

int cem_trainer_step_batch(cem_trainer_t *tr, int B, const float *x0, const double *t,
                           const float *z, double *loss)
{
    return step_batch("cem_trainer_step_batch", tr, B, x0, NULL, t, z, loss);
}

int cem_trainer_step_batch_labelled(cem_trainer_t *tr, int B, const float *x0,
                                    const int *labels, const double *t, const float *z,
                                    double *loss)
{
    static const char fn[] = "cem_trainer_step_batch_labelled";
    if (tr && !labels) {
        if (loss)
            *loss = NAN;
        return cemi_fail(&tr->err, CEM_ERR_ARG, "%s: labels is NULL", fn);
    }
    return step_batch(fn, tr, B, x0, labels, t, z, loss);
}

/* cem_trainer_loss_batch and _labelled. */
static int loss_batch(const char *fn, cem_trainer_t *tr, int B, const float *x0,
                      const int *labels, const double *t, const float *z, double *loss,
                      float *grad)
{
    if (loss)
        *loss = NAN;
    if (!tr)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: trainer is NULL", fn);
    /* the same validation as cem_trainer_step_batch, input and result */
    double l = NAN, stats[CEMI_STATS];
    int st = load_batch(tr, fn, B, x0, labels, t, z);
    adam_job j;
    if (!st)
        st = checked_loss(tr, B, -1, &l, stats, fn, 0, &j);
    if (st)
        return st;
    if (loss)
        *loss = l;
    if (grad)
        memcpy(grad, tr->grad, sizeof(float) * tr->net->np);
    return CEM_OK;
}

int cem_trainer_loss_batch(cem_trainer_t *tr, int B, const float *x0, const double *t,
                           const float *z, double *loss, float *grad)
{
    return loss_batch("cem_trainer_loss_batch", tr, B, x0, NULL, t, z, loss, grad);
}

int cem_trainer_loss_batch_labelled(cem_trainer_t *tr, int B, const float *x0,
                                    const int *labels, const double *t, const float *z,
                                    double *loss, float *grad)
{
    static const char fn[] = "cem_trainer_loss_batch_labelled";
    if (tr && !labels) {
        if (loss)
            *loss = NAN;
        return cemi_fail(&tr->err, CEM_ERR_ARG, "%s: labels is NULL", fn);
    }
    return loss_batch(fn, tr, B, x0, labels, t, z, loss, grad);
}

int cem_trainer_time_bins_n(cem_trainer_t *tr, size_t nbins, double *mean, long *count,
                            double *edges, int reset)
{
    if (!tr) /* here, so that the message names this function */
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_trainer_time_bins_n: trainer is NULL");
    if (nbins != CEM_TRAINER_BINS)
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_trainer_time_bins_n: nbins = %zu, this "
                         "library has %d time bins", nbins, CEM_TRAINER_BINS);
    return cem_trainer_time_bins(tr, mean, count, edges, reset);
}

int cem_trainer_law_bins_n(const cem_trainer_t *tr, size_t nbins, double *prob, double *loss,
                           double *floor, double *edges)
{
    if (!tr)
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_trainer_law_bins_n: trainer is NULL");
    if (nbins != CEMI_LAW_BINS)
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_trainer_law_bins_n: nbins = %zu, this "
                         "library has %d law bins", nbins, CEMI_LAW_BINS);
    return cem_trainer_law_bins(tr, prob, loss, floor, edges);
}

int cem_trainer_time_bins(cem_trainer_t *tr, double *mean, long *count, double *edges,
                          int reset)
{
    if (!tr)
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_trainer_time_bins: trainer is NULL");
    double lo = log(tr->model->t_min), hi = log(tr->model->t_max);
    for (int b = 0; b < CEM_TRAINER_BINS; b++) {
        if (mean)
            mean[b] = tr->bin_count[b] ? tr->bin_sum[b] / (double)tr->bin_count[b] : NAN;
        if (count)
            count[b] = tr->bin_count[b];
    }
    if (edges)
        for (int b = 0; b <= CEM_TRAINER_BINS; b++)
            edges[b] = b == 0 ? tr->model->t_min
                       : b == CEM_TRAINER_BINS ? tr->model->t_max
                       : exp(lo + (hi - lo) * b / CEM_TRAINER_BINS);
    if (reset) {
        memset(tr->bin_sum, 0, sizeof tr->bin_sum);
        memset(tr->bin_count, 0, sizeof tr->bin_count);
    }
    return CEM_OK;
}
