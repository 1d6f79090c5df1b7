/*
 * sampler.c -- plan, then execute (FFTW's pattern): the grid, the step
 * coefficients and every workspace are made when options change;
 * cem_sampler_run only integrates (layer 4).
 *
 * Rows are processed in blocks of at most R rows aligned to the global row
 * index (the unit of work of a thread and of a progress wave); a block
 * integrates only the rows a call asks for.  A row's arithmetic does not
 * depend on how many rows are integrated with it, nor on which thread runs
 * them, because every model kind's products give a row the same bits
 * whatever the shape (src/gemm.c, src/linalg.c; tests/test_sampler.c checks
 * rows alone against whole runs for every kind and integrator).  Row i
 * draws from the stream (seed, i).
 */
#include "integrators.h"
#include "model_mlp.h"
#include "pool.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#define NOPT 17

static const cemi_option sampler_options[] = {
    {CEM_SAMPLER_INTEGRATOR, "CEM_SAMPLER_INTEGRATOR", CEM_INTEG_SPLITTING, CEM_INTEG_DPMPP_3M,
     CEM_INTEG_SPLITTING, 1},
    {CEM_SAMPLER_GRID, "CEM_SAMPLER_GRID", CEM_GRID_EXPONENTIAL, CEM_GRID_EDM,
     CEM_GRID_EXPONENTIAL, 1},
    {CEM_SAMPLER_STEPS, "CEM_SAMPLER_STEPS", 2, 1e6, 200, 1},
    {CEM_SAMPLER_T_MIN, "CEM_SAMPLER_T_MIN", 1e-8, 50.0, 1e-3, 0},
    {CEM_SAMPLER_T_MAX, "CEM_SAMPLER_T_MAX", 0.1, 100.0, 10.0, 0},
    {CEM_SAMPLER_DENOISE, "CEM_SAMPLER_DENOISE", 0, 1, 1, 1},
    {CEM_SAMPLER_SEED, "CEM_SAMPLER_SEED", 0, 9007199254740992.0, 0, 1},
    {CEM_SAMPLER_THREADS, "CEM_SAMPLER_THREADS", 1, 256, 1, 1}, /* default: cores */
    {CEM_SAMPLER_TRAJ_ROWS, "CEM_SAMPLER_TRAJ_ROWS", 0, 1024, 0, 1},
    {CEM_SAMPLER_TRAJ_EVERY, "CEM_SAMPLER_TRAJ_EVERY", 1, 1e6, 1, 1},
    {CEM_SAMPLER_PRIOR, "CEM_SAMPLER_PRIOR", 0, 1, 1, 1},
    {CEM_SAMPLER_LABEL, "CEM_SAMPLER_LABEL", -1, 65535, -1, 1},
    {CEM_SAMPLER_GUIDANCE, "CEM_SAMPLER_GUIDANCE", 0, 100, 0, 0},
    {CEM_SAMPLER_IMPUTE, "CEM_SAMPLER_IMPUTE", CEM_IMPUTE_REPAINT, CEM_IMPUTE_RECONSTRUCT,
     CEM_IMPUTE_REPAINT, 1},
    {CEM_SAMPLER_JUMP_LENGTH, "CEM_SAMPLER_JUMP_LENGTH", 1, 1e6, 10, 1},
    /* RePaint's 10 jumps of 10: the replacement method alone is far off the
     * exact conditional law (docs/SAMPLING.md, "Imputation") */
    {CEM_SAMPLER_JUMPS, "CEM_SAMPLER_JUMPS", 0, 1000, 10, 1},
    {CEM_SAMPLER_RECON_WEIGHT, "CEM_SAMPLER_RECON_WEIGHT", 0, 1e4, 1, 0},
    {0, NULL, 0, 0, 0, 0},
};

/* One thread's workspace. */
typedef struct {
    float *y, *f, *s1, *s2; /* R x D each */
    float *g;               /* R x D: the unconditional f of guided rows */
    int *lab;               /* R: each row's class */
    cemi_rng *rng;          /* R */
    void *mws;              /* the model's evaluation workspace for R rows */
    /* reconstruction guidance (IMPUTE = RECONSTRUCT): the rows in double,
     * their times, the D basis tangents, f and the D Jacobian columns
     * (block k: J e_k of every row), and the model's jvp workspace */
    double *jx, *jt, *jV, *jf, *jJV;
    void *jws;
} worker;

/* Everything that depends on the options: rebuilt whole on a change. */
typedef struct {
    double opt[NOPT + 1];
    const cemi_integrator *integ;
    int N;
    double *times; /* N, increasing */
    int nthreads;
    cemi_pool *pool; /* the team that runs blocks of rows */
    worker *w;
    void *shared; /* the model's state shared by all blocks (prepared per run) */
    size_t traj_rows, traj_snaps;
    float *traj;        /* snaps x rows x D */
    double *traj_times; /* snaps */
    size_t traj_have;   /* rows the last run of this plan recorded (0: no run yet) */
    /* the law of y at T: N(prior_mean, prior_sd^2 I), or N(0, I) when
     * prior_mean is NULL */
    double *prior_mean; /* D */
    double prior_sd;
} plan;

struct cem_sampler {
    cem_model_t *model;
    int D;
    size_t R; /* rows per block */
    plan p;
    size_t diverged;
    cem_sampler_progress_fn progress; /* called between waves; NULL: one wave */
    void *progress_user;
    cemi_errbuf err;
};

/* ------------------------------------------------------------ planning */

static void plan_free(plan *p, size_t R)
{
    (void)R;
    if (p->w)
        for (int k = 0; k < p->nthreads; k++) {
            worker *w = &p->w[k];
            cemi_release(w->y); cemi_release(w->f); cemi_release(w->s1); cemi_release(w->s2);
            cemi_release(w->g); cemi_release(w->lab);
            cemi_release(w->jx); cemi_release(w->jt); cemi_release(w->jV); cemi_release(w->jf);
            cemi_release(w->jJV); cemi_release(w->jws);
            cemi_release(w->rng); cemi_release(w->mws);
        }
    cemi_release(p->w);
    cemi_release(p->shared);
    cemi_pool_free(p->pool);
    cemi_release(p->times);
    cemi_release(p->traj);
    cemi_release(p->traj_times);
    cemi_release(p->prior_mean);
    memset(p, 0, sizeof *p);
}

static size_t count_snaps(int N, size_t every)
{
    size_t steps = (size_t)N - 1;
    return 1 + steps / every + (steps % every != 0);
}

/* Builds a complete plan for options opt into p; p is untouched on error. */
static int plan_make(cem_sampler_t *s, const double *opt, plan *p, const char *fn)
{
    plan q;
    memset(&q, 0, sizeof q);
    memcpy(q.opt, opt, sizeof q.opt);
    q.integ = cemi_integrator_get((int)opt[CEM_SAMPLER_INTEGRATOR]);
    q.N = (int)opt[CEM_SAMPLER_STEPS];
    q.nthreads = (int)opt[CEM_SAMPLER_THREADS];
    q.traj_rows = (size_t)opt[CEM_SAMPLER_TRAJ_ROWS];
    q.traj_snaps = q.traj_rows ? count_snaps(q.N, (size_t)opt[CEM_SAMPLER_TRAJ_EVERY]) : 0;
    const size_t RD = s->R * (size_t)s->D;
    const size_t mws = s->model->ops->workspace(s->model, s->R);
    int ok = (q.times = cemi_alloc((size_t)q.N, sizeof(double))) != NULL &&
             (q.w = cemi_calloc((size_t)q.nthreads, sizeof(worker))) != NULL;
    for (int k = 0; ok && k < q.nthreads; k++) {
        worker *w = &q.w[k];
        ok = (w->y = cemi_alloc(RD, sizeof(float))) && (w->f = cemi_alloc(RD, sizeof(float))) &&
             (w->s1 = cemi_alloc(RD, sizeof(float))) && (w->s2 = cemi_alloc(RD, sizeof(float))) &&
             (w->rng = cemi_alloc(s->R, sizeof(cemi_rng))) && (w->mws = cemi_alloc(1, mws)) &&
             (w->g = cemi_alloc(RD, sizeof(float))) && (w->lab = cemi_alloc(s->R, sizeof(int)));
        if (ok && (int)opt[CEM_SAMPLER_IMPUTE] == CEM_IMPUTE_RECONSTRUCT) {
            const size_t RDD = RD * (size_t)s->D;
            ok = (w->jx = cemi_alloc(RD, sizeof(double))) &&
                 (w->jt = cemi_alloc(s->R, sizeof(double))) &&
                 (w->jV = cemi_alloc(RDD, sizeof(double))) &&
                 (w->jf = cemi_alloc(RD, sizeof(double))) &&
                 (w->jJV = cemi_alloc(RDD, sizeof(double))) &&
                 (w->jws = cemi_alloc(1, s->model->ops->jvp_workspace(s->model, s->R, s->D)));
        }
    }
    ok = ok && (q.pool = cemi_pool_create(q.nthreads)) != NULL;
    if (ok && s->model->ops->shared_size)
        ok = (q.shared = cemi_alloc(1, s->model->ops->shared_size(s->model))) != NULL;
    if (ok && q.traj_rows) {
        size_t cells;
        ok = cemi_mul_ok(q.traj_snaps, q.traj_rows * (size_t)s->D, &cells) &&
             (q.traj = cemi_alloc(cells, sizeof(float))) &&
             (q.traj_times = cemi_alloc(q.traj_snaps, sizeof(double)));
    }
    if (ok && opt[CEM_SAMPLER_PRIOR] != 0) { /* the matched Gaussian, when there is one */
        ok = (q.prior_mean = cemi_alloc((size_t)s->D, sizeof(double))) != NULL;
        if (ok && !cemi_model_prior(s->model, opt[CEM_SAMPLER_T_MAX], q.prior_mean, &q.prior_sd)) {
            cemi_release(q.prior_mean); /* N(0, I): drawn as before, without the affine map */
            q.prior_mean = NULL;
        }
    }
    if (!ok) {
        const int N = q.N, threads = q.nthreads; /* plan_free clears q */
        const size_t traj = q.traj_rows;
        plan_free(&q, s->R);
        return cemi_fail(&s->err, CEM_ERR_NOMEM, "%s: out of memory for the plan (N = %d, "
                         "%d threads, %zu trajectory rows)", fn, N, threads, traj);
    }
    cemi_time_grid_fill((cem_grid)(int)opt[CEM_SAMPLER_GRID], q.N, opt[CEM_SAMPLER_T_MIN],
                        opt[CEM_SAMPLER_T_MAX], q.times);
    *p = q;
    return CEM_OK;
}

void cem_sampler_free(cem_sampler_t *s)
{
    if (!s)
        return;
    plan_free(&s->p, s->R);
    atomic_fetch_sub(&s->model->samplers, 1);
    cem_model_free(s->model);
    cemi_release(s);
}

int cem_sampler_create(cem_sampler_t **out, cem_model_t *m)
{
    static const char fn[] = "cem_sampler_create";
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!m)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: model is NULL", fn);
    cem_sampler_t *s = cemi_calloc(1, sizeof *s);
    if (!s)
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory", fn);
    s->model = m;
    s->D = m->dim;
    s->R = m->ops->max_rows(m);
    if (s->R > 256)
        s->R = 256;
    double opt[NOPT + 1] = {0};
    for (const cemi_option *o = sampler_options; o->name; o++)
        opt[o->id] = o->def;
    opt[CEM_SAMPLER_T_MIN] = m->t_min;
    opt[CEM_SAMPLER_T_MAX] = m->t_max;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    opt[CEM_SAMPLER_THREADS] = cores < 1 ? 1 : cores > 64 ? 64 : (double)cores;
    int st = plan_make(s, opt, &s->p, fn);
    if (st) {
        cemi_release(s);
        return cemi_fail(NULL, st, "%s: out of memory for the plan", fn);
    }
    cemi_model_retain(m);
    atomic_fetch_add(&m->samplers, 1);
    *out = s;
    return CEM_OK;
}

/* ------------------------------------------------------------ options */

int cem_sampler_option_bounds(cem_sampler_option opt, double *lo, double *hi)
{
    return cemi_option_bounds("cem_sampler_option_bounds", sampler_options, (int)opt, lo, hi);
}

int cem_sampler_set(cem_sampler_t *s, cem_sampler_option opt, double value)
{
    static const char fn[] = "cem_sampler_set";
    if (!s)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: sampler is NULL", fn);
    const cemi_option *o;
    int st = cemi_option_resolve(&s->err, fn, sampler_options, (int)opt, &value, &o);
    if (st)
        return st;
    double next[NOPT + 1];
    memcpy(next, s->p.opt, sizeof next);
    next[opt] = value;
    if (!(next[CEM_SAMPLER_T_MIN] < next[CEM_SAMPLER_T_MAX]))
        return cemi_fail(&s->err, CEM_ERR_RANGE,
                         "%s: %s = %g would leave CEM_SAMPLER_T_MIN = %g >= CEM_SAMPLER_T_MAX = %g",
                         fn, o->name, value, next[CEM_SAMPLER_T_MIN], next[CEM_SAMPLER_T_MAX]);
    if (opt == CEM_SAMPLER_LABEL && value >= s->model->labels)
        return cemi_fail(&s->err, CEM_ERR_RANGE, "%s: CEM_SAMPLER_LABEL = %g is not a class of "
                         "the model (it has %d: CEM_MODEL_LABELS)", fn, value, s->model->labels);
    if (opt == CEM_SAMPLER_SEED || opt == CEM_SAMPLER_DENOISE || opt == CEM_SAMPLER_LABEL ||
        opt == CEM_SAMPLER_GUIDANCE || opt == CEM_SAMPLER_JUMP_LENGTH ||
        opt == CEM_SAMPLER_JUMPS || opt == CEM_SAMPLER_RECON_WEIGHT) { /* no re-plan needed */
        s->p.opt[opt] = value;
        return CEM_OK;
    }
    plan p;
    st = plan_make(s, next, &p, fn);
    if (st)
        return st;
    plan_free(&s->p, s->R);
    s->p = p;
    return CEM_OK;
}

int cem_sampler_get(const cem_sampler_t *s, cem_sampler_option opt, double *value)
{
    static const char fn[] = "cem_sampler_get";
    if (!s || !value)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: sampler and value must not be NULL", fn);
    const cemi_option *o;
    int st = cemi_option_resolve(NULL, fn, sampler_options, (int)opt, NULL, &o);
    if (st)
        return st;
    *value = s->p.opt[opt];
    return CEM_OK;
}

const char *cem_sampler_errmsg(const cem_sampler_t *s) { return s ? s->err.text : ""; }
size_t cem_sampler_diverged_rows(const cem_sampler_t *s) { return s ? s->diverged : 0; }

int cem_sampler_times(const cem_sampler_t *s, double *times)
{
    if (!s || !times)
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_sampler_times: sampler and times must not be NULL");
    memcpy(times, s->p.times, sizeof(double) * (size_t)s->p.N);
    return CEM_OK;
}

int cem_sampler_trajectory(const cem_sampler_t *s, size_t *snaps, size_t *rows, float *out,
                           double *times)
{
    if (!s || !snaps || !rows)
        return cemi_fail(NULL, CEM_ERR_ARG,
                         "cem_sampler_trajectory: sampler, snaps and rows must not be NULL");
    /* what the last run recorded, and nothing before a run: the buffers of
     * a new plan hold no values */
    const size_t have = s->p.traj_have, nsnap = have ? s->p.traj_snaps : 0;
    const size_t D = (size_t)s->D;
    *snaps = nsnap;
    *rows = have;
    for (size_t k = 0; out && k < nsnap; k++)
        memcpy(out + k * have * D, s->p.traj + k * s->p.traj_rows * D, sizeof(float) * have * D);
    if (times && nsnap)
        memcpy(times, s->p.traj_times, sizeof(double) * nsnap);
    return CEM_OK;
}

/* ------------------------------------------------------------ running */

typedef struct {
    const cem_model_t *m;
    void *ws;
    const void *shared;
    const int *lab; /* R classes; NULL: unconditional */
    float w;        /* the guidance */
    float *g;       /* R x D, the unconditional f of guided rows */
    /* reconstruction guidance: the block's rows of the known values and
     * the mask (NULL: not guided), its weight, the worker's buffers */
    const float *xk;
    const unsigned char *known;
    double wr;
    const worker *wk;
} eval_ctx;

/* Whether coordinate j of a row of imputation data is known: the mask's
 * entry, or (no mask) the value is not NaN. */
static int is_known(const unsigned char *known, const float *x, size_t at)
{
    return known ? known[at] != 0 : !isnan(x[at]);
}

/* f with reconstruction guidance: f from the model's forward mode, and
 * for each unknown coordinate u of a row f_u += w_r alpha_t sum_k J_ku
 * (x_k - f_k) over its known coordinates k (J_ku: column u's entry k). */
static void eval_recon(const eval_ctx *c, size_t R, const float *y, double t, float *f)
{
    const int D = c->m->dim;
    const worker *w = c->wk;
    const size_t RD = R * (size_t)D;
    for (size_t i = 0; i < R; i++)
        w->jt[i] = t;
    for (size_t k = 0; k < RD; k++)
        w->jx[k] = y[k];
    for (int k = 0; k < D; k++) /* block k: e_k for every row */
        for (size_t i = 0; i < R; i++)
            for (int j = 0; j < D; j++)
                w->jV[((size_t)k * R + i) * (size_t)D + (size_t)j] = j == k;
    c->m->ops->jvp(c->m, R, w->jx, w->jt, D, w->jV, w->jf, w->jJV, w->jws, c->shared);
    const double scale = c->wr * cemi_ou_at(t).alpha;
    for (size_t i = 0; i < R; i++) {
        const size_t row = i * (size_t)D;
        for (int u = 0; u < D; u++) {
            double fu = w->jf[row + (size_t)u];
            if (!is_known(c->known, c->xk, row + (size_t)u)) {
                const double *col = w->jJV + ((size_t)u * R + i) * (size_t)D;
                double corr = 0;
                for (int k = 0; k < D; k++)
                    if (is_known(c->known, c->xk, row + (size_t)k))
                        corr += col[k] * ((double)c->xk[row + (size_t)k] - w->jf[row + (size_t)k]);
                fu += scale * corr;
            }
            f[row + (size_t)u] = (float)fu;
        }
    }
}

/* f of the block's rows, guided: f_w = (1 + w) f(y, t | k) - w f(y, t)
 * for a labelled row when w > 0 (the second evaluation only then). */
static void eval_f(void *ctx, size_t R, const float *y, double t, float *f)
{
    eval_ctx *c = ctx;
    const int D = c->m->dim;
    if (c->xk) { /* reconstruction guidance (unlabelled rows only) */
        eval_recon(c, R, y, t, f);
        return;
    }
    c->m->ops->eval(c->m, CEM_TARGET_CEM, R, y, NULL, t, c->lab, f, c->ws, c->shared);
    if (!c->lab || c->w == 0)
        return;
    c->m->ops->eval(c->m, CEM_TARGET_CEM, R, y, NULL, t, NULL, c->g, c->ws, c->shared);
    const float a = 1 + c->w, b = c->w;
    for (size_t i = 0; i < R; i++)
        if (c->lab[i] != CEM_LABEL_NONE)
            for (int j = 0; j < D; j++) {
                const size_t k = i * (size_t)D + (size_t)j;
                f[k] = a * f[k] - b * c->g[k];
            }
}

typedef struct {
    cem_sampler_t *s;
    size_t first, n; /* global rows [first, first + n) */
    const int *labels; /* n classes, or NULL: CEM_SAMPLER_LABEL for all */
    /* imputation: n rows of known values and their mask (NULL: NaN marks
     * the missing ones); x NULL: an ordinary run */
    const float *x;
    const unsigned char *known;
    float *out;
    size_t stop;     /* this wave's blocks end before block b0 + stop */
    atomic_size_t next_block;
    atomic_size_t diverged;
} job;

/* Records y of the rows [lo, hi) (y's rows) that fall among the first
 * traj_rows of the run into snapshot `snap`. */
static void record(const job *jb, size_t lo, size_t hi, const float *y, size_t snap, double t)
{
    const plan *p = &jb->s->p;
    const size_t D = (size_t)jb->s->D;
    size_t local0 = lo - jb->first;
    if (local0 >= p->traj_rows)
        return;
    size_t k = p->traj_rows - local0 < hi - lo ? p->traj_rows - local0 : hi - lo;
    memcpy(p->traj + (snap * p->traj_rows + local0) * D, y, sizeof(float) * k * D);
    if (local0 == 0)
        p->traj_times[snap] = t;
}

/* Imputation: the known coordinates of the block's rows y (R x D) set to
 * a draw of the forward process at time t, alpha_t x + sigma_t z, z from
 * each row's stream (one normal per known coordinate). */
static void replace_known(const job *jb, worker *w, size_t lo, size_t R, int D, double t)
{
    const cemi_ou o = cemi_ou_at(t);
    const size_t off = (lo - jb->first) * (size_t)D;
    for (size_t i = 0; i < R; i++)
        for (int j = 0; j < D; j++) {
            const size_t at = i * (size_t)D + (size_t)j;
            if (is_known(jb->known ? jb->known + off : NULL, jb->x + off, at))
                w->y[at] = (float)(o.alpha * jb->x[off + at] + o.sigma * cemi_rng_normal(&w->rng[i]));
        }
}

/* RePaint's jump: y (R x D) carried forward from time s to t > s by the
 * forward process, exactly: y <- e^{-(t-s)/2} y + sqrt(1 - e^{-(t-s)}) xi. */
static void jump_up(worker *w, size_t R, int D, double s, double t)
{
    const double a = exp(-0.5 * (t - s)), b = sqrt(-expm1(-(t - s)));
    for (size_t i = 0; i < R; i++)
        for (int j = 0; j < D; j++) {
            float *v = &w->y[i * (size_t)D + (size_t)j];
            *v = (float)(a * *v + b * cemi_rng_normal(&w->rng[i]));
        }
}

/* Integrates the global rows [lo, hi) (at most R, within one block) and
 * writes them to out. */
static void run_block(job *jb, worker *w, size_t lo, size_t hi)
{
    cem_sampler_t *s = jb->s;
    const plan *p = &s->p;
    const int D = s->D;
    const size_t R = hi - lo;
    const uint64_t seed = (uint64_t)p->opt[CEM_SAMPLER_SEED];
    const int label = (int)p->opt[CEM_SAMPLER_LABEL];
    int labelled = 0;
    for (size_t i = 0; i < R; i++) {
        w->lab[i] = jb->labels ? jb->labels[lo + i - jb->first] : label;
        labelled |= w->lab[i] != CEM_LABEL_NONE;
    }
    const int impute = jb->x != NULL;
    const size_t off = (lo - jb->first) * (size_t)D;
    const int recon = impute && (int)p->opt[CEM_SAMPLER_IMPUTE] == CEM_IMPUTE_RECONSTRUCT;
    eval_ctx ctx = {s->model, w->mws, p->shared, labelled ? w->lab : NULL,
                    (float)p->opt[CEM_SAMPLER_GUIDANCE], w->g,
                    recon ? jb->x + off : NULL, recon && jb->known ? jb->known + off : NULL,
                    p->opt[CEM_SAMPLER_RECON_WEIGHT], w};
    for (size_t i = 0; i < R; i++) {
        cemi_rng_init(&w->rng[i], seed, (uint64_t)(lo + i));
        float *yi = w->y + i * (size_t)D;
        if (p->prior_mean)
            for (int j = 0; j < D; j++)
                yi[j] = (float)(p->prior_mean[j] + p->prior_sd * cemi_rng_normal(&w->rng[i]));
        else
            for (int j = 0; j < D; j++)
                yi[j] = (float)cemi_rng_normal(&w->rng[i]);
    }
    size_t snap = 0, every = (size_t)p->opt[CEM_SAMPLER_TRAJ_EVERY];
    const int record_traj = p->traj_rows && !impute;
    if (record_traj)
        record(jb, lo, hi, w->y, snap++, p->times[p->N - 1]);
    if (impute)
        replace_known(jb, w, lo, R, D, p->times[p->N - 1]);
    const int r = (int)p->opt[CEM_SAMPLER_JUMP_LENGTH], jumps = (int)p->opt[CEM_SAMPLER_JUMPS];
    int jumped = 0; /* jumps made from the current jump point */
    /* f and the two previous steps' f rotate through three buffers */
    float *f = w->f, *prev[2] = {w->s1, w->s2};
    cemi_step_at at = {p->times, p->N, 0};
    for (; at.k < p->N - 1; at.k++) {
        p->integ->step(p->integ, &at, &ctx, eval_f, R, D, w->y, f, prev, w->rng);
        float *oldest = prev[1];
        prev[1] = prev[0];
        prev[0] = f;
        f = oldest;
        const int j = at.k + 1, g = p->N - 1 - j; /* steps done, the grid index reached */
        if (record_traj && ((size_t)j % every == 0 || j == p->N - 1))
            record(jb, lo, hi, w->y, snap++, p->times[g]);
        if (!impute)
            continue;
        replace_known(jb, w, lo, R, D, p->times[g]);
        /* RePaint: from a multiple of r at least r below T, back up r
         * steps and down again, `jumps` times */
        if (jumps > 0 && g % r == 0 && g + r < p->N - 1) {
            if (jumped < jumps) {
                jumped++;
                jump_up(w, R, D, p->times[g], p->times[g + r]);
                at.k -= r;
            } else {
                jumped = 0;
            }
        }
    }
    const float *res = w->y;
    if (p->opt[CEM_SAMPLER_DENOISE] != 0) {
        eval_f(&ctx, R, w->y, p->times[0], f);
        res = f;
    }
    float *o = jb->out + off;
    size_t bad = 0;
    for (size_t i = 0; i < R; i++, o += D) {
        const float *ri = res + i * (size_t)D;
        int finite = 1;
        for (int j = 0; j < D; j++)
            finite &= isfinite(ri[j]);
        for (int j = 0; j < D; j++)
            o[j] = finite ? ri[j] : NAN;
        bad += !finite;
        for (int j = 0; impute && finite && j < D; j++) { /* the known coordinates as given */
            const size_t c = off + i * (size_t)D + (size_t)j;
            if (is_known(jb->known, jb->x, c))
                o[j] = jb->x[c];
        }
    }
    if (bad)
        atomic_fetch_add(&jb->diverged, bad);
}

/* Thread tid takes blocks, aligned to multiples of R in the global row
 * index, until none is left in the wave. */
static void worker_main(void *arg, int tid, int n)
{
    (void)n;
    job *jb = arg;
    worker *w = &jb->s->p.w[tid];
    const size_t R = jb->s->R, end = jb->first + jb->n;
    const size_t b0 = jb->first / R;
    for (;;) {
        size_t k = atomic_fetch_add(&jb->next_block, 1), b = b0 + k;
        if (k >= jb->stop)
            break;
        size_t lo = b * R > jb->first ? b * R : jb->first;
        size_t hi = (b + 1) * R < end ? (b + 1) * R : end;
        run_block(jb, w, lo, hi);
    }
}

/* cem_sampler_run, _run_rows, _run_labelled and _impute (x not NULL); fn
 * names the one called. */
static int run_rows(const char *fn, cem_sampler_t *s, size_t first, size_t n,
                    const int *labels, const float *x, const unsigned char *known, float *out)
{
    if (!s)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: sampler is NULL", fn);
    if (n == 0) /* does nothing: the last run's count stands */
        return CEM_OK;
    size_t cells, bytes;
    if (!out || !cemi_mul_ok(n, (size_t)s->D, &cells) ||
        !cemi_mul_ok(cells, sizeof(float), &bytes))
        return cemi_fail(&s->err, CEM_ERR_ARG, "%s: out is NULL or n = %zu rows of %d floats "
                         "exceed the address space", fn, n, s->D);
    if (first > SIZE_MAX - n || first + n > SIZE_MAX - s->R) /* the last block's end */
        return cemi_fail(&s->err, CEM_ERR_ARG, "%s: rows %zu + %zu exceed the row index range",
                         fn, first, n);
    if (labels) {
        int st = cemi_check_labels(&s->err, fn, "labels", labels, n, CEM_LABEL_NONE,
                                   s->model->labels);
        if (st)
            return st;
    }
    if (x) {
        const plan *p = &s->p;
        if (!known)
            for (size_t k = 0; k < cells; k++)
                if (isinf(x[k]))
                    return cemi_fail(&s->err, CEM_ERR_NONFINITE, "%s: x row %zu column %d is "
                                     "%g (NaN marks a missing coordinate; Inf is not one)", fn,
                                     k / (size_t)s->D, (int)(k % (size_t)s->D), (double)x[k]);
        for (size_t k = 0; known && k < cells; k++)
            if (known[k] && !isfinite(x[k]))
                return cemi_fail(&s->err, CEM_ERR_NONFINITE, "%s: the known x row %zu column "
                                 "%d is %g", fn, k / (size_t)s->D, (int)(k % (size_t)s->D),
                                 (double)x[k]);
        if (p->opt[CEM_SAMPLER_JUMPS] > 0 && p->integ->order > 0)
            return cemi_fail(&s->err, CEM_ERR_UNSUPPORTED, "%s: RePaint's jumps (CEM_SAMPLER_JUMPS "
                             "= %g) break the history of the multistep integrator %s: use a "
                             "one-step integrator or JUMPS = 0", fn, p->opt[CEM_SAMPLER_JUMPS],
                             p->integ->name);
        int lab_any = labels != NULL ? 0 : p->opt[CEM_SAMPLER_LABEL] != CEM_LABEL_NONE;
        for (size_t i = 0; labels && i < n && !lab_any; i++)
            lab_any = labels[i] != CEM_LABEL_NONE;
        if (lab_any && (int)p->opt[CEM_SAMPLER_IMPUTE] == CEM_IMPUTE_RECONSTRUCT)
            return cemi_fail(&s->err, CEM_ERR_UNSUPPORTED, "%s: reconstruction guidance takes "
                             "unlabelled rows only (the model's Jacobian is the unconditional "
                             "one): use CEM_IMPUTE_REPAINT for classes", fn);
    }
    s->diverged = 0; /* a run starts: a failed call above changed nothing */
    s->p.traj_have = 0;
    job jb;
    jb.s = s;
    jb.first = first;
    jb.n = n;
    jb.labels = labels;
    jb.x = x;
    jb.known = known;
    jb.out = out;
    atomic_init(&jb.next_block, 0);
    atomic_init(&jb.diverged, 0);
    if (s->p.shared) /* the model may have changed since the last run */
        s->model->ops->prepare(s->model, s->p.shared);
    const size_t R = s->R, blocks = (first + n + R - 1) / R - first / R;
    /* in waves of a block a thread when there is a callback to call between
     * them, else in one: a block's rows never depend on its wave */
    const size_t wave = s->progress ? (size_t)s->p.nthreads : blocks;
    for (size_t done = 0; done < blocks;) {
        jb.stop = blocks - done < wave ? blocks : done + wave;
        atomic_store(&jb.next_block, done);
        if (jb.stop - done == 1)
            worker_main(&jb, 0, 1); /* one block: no need to wake the team */
        else
            cemi_pool_run(s->p.pool, worker_main, &jb);
        done = jb.stop;
        size_t rows = done == blocks ? n : (first / R + done) * R - first;
        if (s->progress && s->progress(rows, n, s->progress_user) && done < blocks) {
            s->diverged = atomic_load(&jb.diverged);
            s->p.traj_have = rows < s->p.traj_rows ? rows : s->p.traj_rows;
            return cemi_fail(&s->err, CEM_ERR_STOPPED, "%s: the progress callback stopped the "
                             "run after %zu of %zu rows", fn, rows, n);
        }
    }
    s->diverged = atomic_load(&jb.diverged);
    s->p.traj_have = x ? 0 : n < s->p.traj_rows ? n : s->p.traj_rows;
    if (s->diverged)
        return cemi_fail(&s->err, CEM_ERR_DIVERGED,
                         "%s: %zu of %zu rows ended non-finite (set to NaN); a SCORE or NOISE "
                         "model can blow up near t_1 = %g", fn, s->diverged, n,
                         s->p.opt[CEM_SAMPLER_T_MIN]);
    return CEM_OK;
}

int cem_sampler_run_rows(cem_sampler_t *s, size_t first, size_t n, float *out)
{
    return run_rows("cem_sampler_run_rows", s, first, n, NULL, NULL, NULL, out);
}

int cem_sampler_run_labelled(cem_sampler_t *s, size_t first, size_t n, const int *labels,
                             float *out)
{
    return run_rows("cem_sampler_run_labelled", s, first, n, labels, NULL, NULL, out);
}

int cem_sampler_impute(cem_sampler_t *s, size_t first, size_t n, const float *x,
                       const unsigned char *known, const int *labels, float *out)
{
    static const char fn[] = "cem_sampler_impute";
    if (s && n > 0 && !x)
        return cemi_fail(&s->err, CEM_ERR_ARG, "%s: x is NULL with n = %zu", fn, n);
    return run_rows(fn, s, first, n, labels, x, known, out);
}

int cem_sampler_set_progress(cem_sampler_t *s, cem_sampler_progress_fn fn, void *user)
{
    if (!s)
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_sampler_set_progress: sampler is NULL");
    s->progress = fn;
    s->progress_user = user;
    return CEM_OK;
}

int cem_sampler_run(cem_sampler_t *s, size_t n, float *out)
{
    return run_rows("cem_sampler_run", s, 0, n, NULL, NULL, NULL, out);
}
