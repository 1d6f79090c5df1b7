/*
 * flow.c -- the probability-flow ODE as a density and an encoder (layer 4).
 *
 * In tau = ln(e^t - 1) = 2 ln s_t the ODE of docs/SAMPLING.md ("Likelihood")
 * has a bounded right-hand side (dt/dtau = sigma_t^2 cancels the 1/sigma^2
 * of the drift):
 *     dy/dtau   = (alpha/2) (alpha y - f),
 *     dell/dtau = (alpha/2) (alpha D - tr J),    alpha^2 = 1 / (1 + e^tau).
 * Each row is integrated on its own by Dormand-Prince 5(4) with first-same-
 * as-last stages and the usual step control (Hairer, Norsett, Wanner I,
 * II.4), so a row's arithmetic never depends on another row.  A block of
 * rows advances together only in that its rows' stages are evaluated in one
 * call of the model's jvp operation (src/model.h), each row at its own time.
 *
 * The plan (options, workspace, the thread team) is made when options
 * change, as the sampler's; runs allocate nothing.
 */
#include "model_mlp.h"
#include "pool.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#define NOPT 9

static const cemi_option flow_options[] = {
    {CEM_FLOW_RTOL, "CEM_FLOW_RTOL", 1e-12, 0.1, 1e-5, 0},
    {CEM_FLOW_ATOL, "CEM_FLOW_ATOL", 1e-12, 0.1, 1e-5, 0},
    {CEM_FLOW_T_MIN, "CEM_FLOW_T_MIN", 1e-8, 50.0, 1e-3, 0},
    {CEM_FLOW_T_MAX, "CEM_FLOW_T_MAX", 0.1, 100.0, 10.0, 0},
    {CEM_FLOW_EXACT_DIM, "CEM_FLOW_EXACT_DIM", 0, 4096, 64, 1},
    {CEM_FLOW_PROBES, "CEM_FLOW_PROBES", 1, 1024, 4, 1},
    {CEM_FLOW_SEED, "CEM_FLOW_SEED", 0, 9007199254740992.0, 0, 1},
    {CEM_FLOW_THREADS, "CEM_FLOW_THREADS", 1, 256, 1, 1}, /* default: cores */
    {CEM_FLOW_MAX_STEPS, "CEM_FLOW_MAX_STEPS", 10, 1e7, 10000, 1},
    {0, NULL, 0, 0, 0, 0},
};

/* Dormand-Prince 5(4): nodes, the stages' weights, the fifth-order weights
 * (the last stage's row: first same as last) and the error weights (fifth
 * minus fourth order). */
static const double DP_C[7] = {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};
static const double DP_A[7][6] = {
    {0},
    {1.0 / 5},
    {3.0 / 40, 9.0 / 40},
    {44.0 / 45, -56.0 / 15, 32.0 / 9},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84},
};
static const double DP_E[7] = {71.0 / 57600,      0,           -71.0 / 16695, 71.0 / 1920,
                               -17253.0 / 339200, 22.0 / 525, -1.0 / 40};

/* What a run computes. */
enum { RUN_LOGPROB, RUN_ENCODE, RUN_DECODE };

/* One thread's workspace for a block of R rows of S = D + 1 components. */
typedef struct {
    double *y, *k[7], *ys; /* R x S: state, stages, a stage's input */
    double *x, *t, *f;     /* R x D, R, R x D: the gathered evaluation */
    double *V, *JV;        /* K x R x D: tangents and products */
    double *tau, *h;       /* R: each row's time and step */
    size_t *nfe, *steps;   /* R */
    int *state;            /* R: 0 running, 1 done, -1 failed */
    int *act;              /* R: the running rows of a round */
    double *ts;            /* R: a stage's time, per row */
    void *mws;             /* the model's jvp workspace */
    size_t base;           /* the call's row of the block's row 0 */
} worker;

typedef struct {
    double opt[NOPT + 1];
    int nthreads, K; /* K: tangents per row (D exact, PROBES, 0 for encode/decode) */
    cemi_pool *pool;
    worker *w;
    void *shared;
    double *prior_mean; /* D */
    double prior_sd;
} plan;

struct cem_flow {
    cem_model_t *model;
    int D;
    size_t R;
    plan p;
    cem_sampler_progress_fn progress;
    void *progress_user;
    cemi_errbuf err;
};

/* ------------------------------------------------------------ planning */

static int exact_div(const cem_flow_t *fl, const double *opt)
{
    return fl->D <= (int)opt[CEM_FLOW_EXACT_DIM];
}

static void plan_free(plan *p)
{
    if (p->w)
        for (int k = 0; k < p->nthreads; k++) {
            worker *w = &p->w[k];
            cemi_release(w->y);
            for (int s = 0; s < 7; s++)
                cemi_release(w->k[s]);
            cemi_release(w->ys); cemi_release(w->x); cemi_release(w->t); cemi_release(w->f);
            cemi_release(w->V); cemi_release(w->JV); cemi_release(w->tau); cemi_release(w->h);
            cemi_release(w->nfe); cemi_release(w->steps); cemi_release(w->state);
            cemi_release(w->act); cemi_release(w->ts); cemi_release(w->mws);
        }
    cemi_release(p->w);
    cemi_pool_free(p->pool);
    cemi_release(p->shared);
    cemi_release(p->prior_mean);
    memset(p, 0, sizeof *p);
}

/* Rows per block: the model's, at most 64, and at most 16384 / K so that
 * the tangents of a block stay a few MiB. */
static size_t block_rows(const cem_model_t *m, int K)
{
    size_t r = m->ops->max_rows(m), cap = K > 0 ? 16384 / (size_t)K : 64;
    r = r < 64 ? r : 64;
    r = r < cap ? r : cap;
    return r < 1 ? 1 : r;
}

static int plan_make(cem_flow_t *fl, const double *opt, plan *out, const char *fn)
{
    plan q;
    memset(&q, 0, sizeof q);
    memcpy(q.opt, opt, sizeof q.opt);
    const cem_model_t *m = fl->model;
    q.nthreads = (int)opt[CEM_FLOW_THREADS];
    q.K = exact_div(fl, opt) ? fl->D : (int)opt[CEM_FLOW_PROBES];
    fl->R = block_rows(m, q.K);
    const size_t R = fl->R, D = (size_t)fl->D, S = D + 1, KRD = (size_t)q.K * R * D;
    int ok = (q.w = cemi_calloc((size_t)q.nthreads, sizeof(worker))) != NULL &&
             (q.prior_mean = cemi_alloc(D, sizeof(double))) != NULL;
    for (int i = 0; ok && i < q.nthreads; i++) {
        worker *w = &q.w[i];
        ok = (w->y = cemi_alloc(R * S, sizeof(double))) && (w->ys = cemi_alloc(R * S, sizeof(double)));
        for (int s = 0; ok && s < 7; s++)
            ok = (w->k[s] = cemi_alloc(R * S, sizeof(double))) != NULL;
        ok = ok && (w->x = cemi_alloc(R * D, sizeof(double))) &&
             (w->t = cemi_alloc(R, sizeof(double))) && (w->f = cemi_alloc(R * D, sizeof(double))) &&
             (w->V = cemi_alloc(KRD ? KRD : 1, sizeof(double))) &&
             (w->JV = cemi_alloc(KRD ? KRD : 1, sizeof(double))) &&
             (w->tau = cemi_alloc(R, sizeof(double))) && (w->h = cemi_alloc(R, sizeof(double))) &&
             (w->nfe = cemi_alloc(R, sizeof(size_t))) && (w->steps = cemi_alloc(R, sizeof(size_t))) &&
             (w->state = cemi_alloc(R, sizeof(int))) && (w->act = cemi_alloc(R, sizeof(int))) &&
             (w->ts = cemi_alloc(R, sizeof(double))) &&
             (w->mws = cemi_alloc(1, m->ops->jvp_workspace(m, R, q.K)));
    }
    ok = ok && (q.pool = cemi_pool_create(q.nthreads)) != NULL;
    if (ok && m->ops->shared_size)
        ok = (q.shared = cemi_alloc(1, m->ops->shared_size(m))) != NULL;
    if (!ok) {
        const int threads = q.nthreads, K = q.K;
        plan_free(&q);
        return cemi_fail(&fl->err, CEM_ERR_NOMEM, "%s: out of memory for the plan (%d threads, "
                         "%zu rows a block, %d tangents a row)", fn, threads, R, K);
    }
    cemi_model_prior(m, opt[CEM_FLOW_T_MAX], q.prior_mean, &q.prior_sd);
    *out = q;
    return CEM_OK;
}

void cem_flow_free(cem_flow_t *fl)
{
    if (!fl)
        return;
    plan_free(&fl->p);
    atomic_fetch_sub(&fl->model->flows, 1);
    cem_model_free(fl->model);
    cemi_release(fl);
}

int cem_flow_create(cem_flow_t **out, cem_model_t *m)
{
    static const char fn[] = "cem_flow_create";
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!m)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: model is NULL", fn);
    cem_flow_t *fl = cemi_calloc(1, sizeof *fl);
    if (!fl)
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory", fn);
    fl->model = m;
    fl->D = m->dim;
    double opt[NOPT + 1] = {0};
    for (const cemi_option *o = flow_options; o->name; o++)
        opt[o->id] = o->def;
    opt[CEM_FLOW_T_MIN] = m->t_min;
    opt[CEM_FLOW_T_MAX] = m->t_max;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    opt[CEM_FLOW_THREADS] = cores < 1 ? 1 : cores > 64 ? 64 : (double)cores;
    int st = plan_make(fl, opt, &fl->p, fn);
    if (st) {
        cemi_release(fl);
        return cemi_fail(NULL, st, "%s: out of memory for the plan", fn);
    }
    cemi_model_retain(m);
    atomic_fetch_add(&m->flows, 1);
    *out = fl;
    return CEM_OK;
}

int cem_flow_option_bounds(cem_flow_option opt, double *lo, double *hi)
{
    return cemi_option_bounds("cem_flow_option_bounds", flow_options, (int)opt, lo, hi);
}

int cem_flow_set(cem_flow_t *fl, cem_flow_option opt, double value)
{
    static const char fn[] = "cem_flow_set";
    if (!fl)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: flow is NULL", fn);
    const cemi_option *o;
    int st = cemi_option_resolve(&fl->err, fn, flow_options, (int)opt, &value, &o);
    if (st)
        return st;
    double next[NOPT + 1];
    memcpy(next, fl->p.opt, sizeof next);
    next[opt] = value;
    if (!(next[CEM_FLOW_T_MIN] < next[CEM_FLOW_T_MAX]))
        return cemi_fail(&fl->err, CEM_ERR_RANGE,
                         "%s: %s = %g would leave CEM_FLOW_T_MIN = %g >= CEM_FLOW_T_MAX = %g", fn,
                         o->name, value, next[CEM_FLOW_T_MIN], next[CEM_FLOW_T_MAX]);
    if (opt == CEM_FLOW_RTOL || opt == CEM_FLOW_ATOL || opt == CEM_FLOW_T_MIN ||
        opt == CEM_FLOW_SEED || opt == CEM_FLOW_MAX_STEPS) { /* no re-plan needed */
        fl->p.opt[opt] = value;
        return CEM_OK;
    }
    const size_t R = fl->R;
    plan p;
    st = plan_make(fl, next, &p, fn);
    if (st) {
        fl->R = R; /* the old plan's block size */
        return st;
    }
    plan_free(&fl->p);
    fl->p = p;
    return CEM_OK;
}

int cem_flow_get(const cem_flow_t *fl, cem_flow_option opt, double *value)
{
    static const char fn[] = "cem_flow_get";
    if (!fl || !value)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: flow and value must not be NULL", fn);
    const cemi_option *o;
    int st = cemi_option_resolve(NULL, fn, flow_options, (int)opt, NULL, &o);
    if (st)
        return st;
    *value = fl->p.opt[opt];
    return CEM_OK;
}

const char *cem_flow_errmsg(const cem_flow_t *fl) { return fl ? fl->err.text : ""; }

int cem_flow_set_progress(cem_flow_t *fl, cem_sampler_progress_fn fn, void *user)
{
    if (!fl)
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_flow_set_progress: flow is NULL");
    fl->progress = fn;
    fl->progress_user = user;
    return CEM_OK;
}

/* ------------------------------------------------------------ the ODE */

typedef struct {
    cem_flow_t *fl;
    int what;         /* RUN_* */
    size_t n;         /* rows [0, n) of the call; row i's probes come from (SEED, i) */
    const float *in;  /* n x D */
    double *logp;     /* RUN_LOGPROB */
    size_t *evals;    /* or NULL */
    float *out;       /* RUN_ENCODE, RUN_DECODE */
    size_t stop;
    atomic_size_t next_block;
    atomic_size_t failed;   /* rows that failed */
    atomic_size_t first_bad; /* the smallest failed row + 1 (0: none) */
} job;

/* The right-hand side for the na rows act[] of the block, at stage inputs
 * Y (rows of S, row act[q] at Y + act[q] S) and times tau (per row): writes
 * out (same layout).  With S = D + 1 also the divergence's term. */
static void rhs(const job *jb, worker *w, int na, const double *Y, const double *tau,
                double *out)
{
    const cem_flow_t *fl = jb->fl;
    const cem_model_t *m = fl->model;
    const int D = fl->D, div = jb->what == RUN_LOGPROB, S = D + div;
    const int K = div ? fl->p.K : 0, exact = div && exact_div(fl, fl->p.opt);
    for (int q = 0; q < na; q++) {
        const int i = w->act[q];
        memcpy(w->x + (size_t)q * D, Y + (size_t)i * S, sizeof(double) * (size_t)D);
        w->t[q] = cemi_time_of_log_s(0.5 * tau[i]);
    }
    /* tangents: the basis vectors, or the row's Rademacher probes, drawn
     * from its stream (SEED, row) afresh at every evaluation: fixed per row */
    for (int q = 0; q < na && K > 0; q++) {
        cemi_rng r;
        if (!exact)
            cemi_rng_init(&r, (uint64_t)fl->p.opt[CEM_FLOW_SEED],
                          (uint64_t)(w->base + (size_t)w->act[q]));
        for (int k = 0; k < K; k++) {
            double *v = w->V + ((size_t)k * na + q) * D;
            if (exact) {
                memset(v, 0, sizeof(double) * (size_t)D);
                v[k] = 1.0;
            } else {
                for (int j = 0; j < D; j++)
                    v[j] = (cemi_rng_u32(&r) & 1u) ? 1.0 : -1.0;
            }
        }
    }
    m->ops->jvp(m, (size_t)na, w->x, w->t, K, w->V, w->f, w->JV, w->mws, fl->p.shared);
    for (int q = 0; q < na; q++) {
        const int i = w->act[q];
        const double a = sqrt(1.0 / (1.0 + exp(tau[i])));
        const double *y = Y + (size_t)i * S, *f = w->f + (size_t)q * D;
        double *o = out + (size_t)i * S;
        for (int j = 0; j < D; j++)
            o[j] = 0.5 * a * (a * y[j] - f[j]);
        if (div) {
            double tr = 0.0;
            for (int k = 0; k < K; k++) {
                const double *jv = w->JV + ((size_t)k * na + q) * D;
                if (exact) {
                    tr += jv[k];
                } else {
                    const double *v = w->V + ((size_t)k * na + q) * D;
                    for (int j = 0; j < D; j++)
                        tr += v[j] * jv[j];
                }
            }
            if (!exact)
                tr /= K;
            o[D] = 0.5 * a * (a * D - tr);
        }
        w->nfe[i]++;
    }
}

/* Integrates the call's rows [lo, hi) (one block) and writes their results. */
static void run_block(job *jb, worker *w, size_t lo, size_t hi)
{
    const cem_flow_t *fl = jb->fl;
    const plan *p = &fl->p;
    const int D = fl->D, div = jb->what == RUN_LOGPROB, S = D + div, R = (int)(hi - lo);
    const double tau1 = 2.0 * cemi_log_s(p->opt[CEM_FLOW_T_MIN]);
    const double tauT = 2.0 * cemi_log_s(p->opt[CEM_FLOW_T_MAX]);
    const double from = jb->what == RUN_DECODE ? tauT : tau1;
    const double to = jb->what == RUN_DECODE ? tau1 : tauT, span = to - from;
    const double rtol = p->opt[CEM_FLOW_RTOL], atol = p->opt[CEM_FLOW_ATOL];
    const size_t max_steps = (size_t)p->opt[CEM_FLOW_MAX_STEPS];
    w->base = lo;
    for (int i = 0; i < R; i++) {
        const float *in = jb->in + (lo + (size_t)i) * (size_t)D;
        double *y = w->y + (size_t)i * S;
        for (int j = 0; j < D; j++)
            y[j] = jb->what == RUN_DECODE ? p->prior_mean[j] + p->prior_sd * (double)in[j]
                                          : (double)in[j];
        if (div)
            y[D] = 0.0;
        w->tau[i] = from;
        w->h[i] = span / 64;
        w->nfe[i] = w->steps[i] = 0;
        w->state[i] = 0;
        w->act[i] = i;
    }
    rhs(jb, w, R, w->y, w->tau, w->k[0]);
    for (;;) {
        int na = 0;
        for (int i = 0; i < R; i++)
            if (w->state[i] == 0) {
                w->act[na++] = i;
                if ((w->tau[i] + w->h[i] - to) * span > 0) /* the last step ends at `to` */
                    w->h[i] = to - w->tau[i];
            }
        if (na == 0)
            break;
        for (int st = 1; st < 7; st++) { /* stage st's input; the last is the new y */
            for (int q = 0; q < na; q++) {
                const int i = w->act[q];
                const size_t o = (size_t)i * S;
                for (int c = 0; c < S; c++) {
                    double v = 0.0;
                    for (int j = 0; j < st; j++)
                        v += DP_A[st][j] * w->k[j][o + c];
                    w->ys[o + c] = w->y[o + c] + w->h[i] * v;
                }
                w->ts[i] = w->tau[i] + DP_C[st] * w->h[i];
            }
            rhs(jb, w, na, w->ys, w->ts, w->k[st]);
        }
        for (int q = 0; q < na; q++) {
            const int i = w->act[q];
            const size_t o = (size_t)i * S;
            double e2 = 0.0;
            for (int c = 0; c < S; c++) {
                double e = 0.0;
                for (int j = 0; j < 7; j++)
                    e += DP_E[j] * w->k[j][o + c];
                double sc = atol + rtol * fmax(fabs(w->y[o + c]), fabs(w->ys[o + c]));
                e = w->h[i] * e / sc;
                e2 += e * e;
            }
            const double err = sqrt(e2 / S);
            w->steps[i]++;
            double fac;
            if (err <= 1.0) { /* accepted: first same as last */
                memcpy(w->y + o, w->ys + o, sizeof(double) * (size_t)S);
                memcpy(w->k[0] + o, w->k[6] + o, sizeof(double) * (size_t)S);
                if (w->tau[i] + w->h[i] == to || (to - w->tau[i] - w->h[i]) * span <= 0) {
                    w->tau[i] = to;
                    w->state[i] = 1;
                    continue;
                }
                w->tau[i] += w->h[i];
                fac = err > 0 ? 0.9 * pow(err, -0.2) : 5.0;
                fac = fac < 0.2 ? 0.2 : fac > 5.0 ? 5.0 : fac;
            } else { /* rejected, or not finite: shrink */
                fac = isfinite(err) ? fmax(0.2, 0.9 * pow(err, -0.2)) : 0.2;
            }
            w->h[i] *= fac;
            if (w->steps[i] >= max_steps || fabs(w->h[i]) < 1e-14 * fabs(span))
                w->state[i] = -1;
        }
    }
    for (int i = 0; i < R; i++) {
        const size_t row = lo + (size_t)i;
        const double *y = w->y + (size_t)i * S;
        int ok = w->state[i] == 1;
        if (ok && jb->what == RUN_LOGPROB) {
            double r2 = 0.0, s2 = p->prior_sd * p->prior_sd;
            for (int j = 0; j < D; j++)
                r2 += (y[j] - p->prior_mean[j]) * (y[j] - p->prior_mean[j]);
            double lp = -0.5 * D * log(2.0 * 3.14159265358979323846 * s2) - 0.5 * r2 / s2 + y[D];
            ok = isfinite(lp);
            jb->logp[row] = ok ? lp : NAN;
        } else if (jb->what == RUN_LOGPROB) {
            jb->logp[row] = NAN;
        } else {
            float *out = jb->out + row * (size_t)D;
            for (int j = 0; ok && j < D; j++) {
                double v = jb->what == RUN_ENCODE ? (y[j] - p->prior_mean[j]) / p->prior_sd : y[j];
                ok = fabs(v) <= 3.4e38;
                out[j] = (float)v;
            }
            for (int j = 0; !ok && j < D; j++)
                out[j] = NAN;
        }
        if (jb->evals)
            jb->evals[row] = w->nfe[i];
        if (!ok) {
            atomic_fetch_add(&jb->failed, 1);
            size_t cur = atomic_load(&jb->first_bad);
            while ((cur == 0 || row + 1 < cur) &&
                   !atomic_compare_exchange_weak(&jb->first_bad, &cur, row + 1))
                ;
        }
    }
}

static void worker_main(void *arg, int tid, int n)
{
    (void)n;
    job *jb = arg;
    worker *w = &jb->fl->p.w[tid];
    const size_t R = jb->fl->R;
    for (;;) {
        size_t b = atomic_fetch_add(&jb->next_block, 1);
        if (b >= jb->stop)
            break;
        size_t lo = b * R, hi = lo + R < jb->n ? lo + R : jb->n;
        run_block(jb, w, lo, hi);
    }
}

/* The three calls: checks, then blocks of R rows in waves (one wave unless
 * a progress callback waits between them). */
static int run(const char *fn, cem_flow_t *fl, int what, size_t n, const float *in,
               double *logp, size_t *evals, float *out)
{
    if (!fl)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: flow is NULL", fn);
    if (n == 0)
        return CEM_OK;
    size_t cells;
    if (!in || (what == RUN_LOGPROB ? !logp : !out) ||
        !cemi_mul_ok(n, (size_t)fl->D, &cells) || !cemi_mul_ok(cells, sizeof(double), &cells))
        return cemi_fail(&fl->err, CEM_ERR_ARG, "%s: an array is NULL or n = %zu rows of %d "
                         "values exceed the address space", fn, n, fl->D);
    int st = cemi_check_points(&fl->err, fn, what == RUN_DECODE ? "z" : "x", in, n, fl->D);
    if (st)
        return st;
    job jb;
    memset(&jb, 0, sizeof jb);
    jb.fl = fl;
    jb.what = what;
    jb.n = n;
    jb.in = in;
    jb.logp = logp;
    jb.evals = evals;
    jb.out = out;
    atomic_init(&jb.next_block, 0);
    atomic_init(&jb.failed, 0);
    atomic_init(&jb.first_bad, 0);
    if (fl->p.shared)
        fl->model->ops->prepare(fl->model, fl->p.shared);
    const size_t R = fl->R, blocks = (n + R - 1) / R;
    const size_t wave = fl->progress ? (size_t)fl->p.nthreads : blocks;
    for (size_t done = 0; done < blocks;) {
        jb.stop = blocks - done < wave ? blocks : done + wave;
        atomic_store(&jb.next_block, done);
        if (jb.stop - done == 1)
            worker_main(&jb, 0, 1);
        else
            cemi_pool_run(fl->p.pool, worker_main, &jb);
        done = jb.stop;
        size_t rows = done == blocks ? n : done * R;
        if (fl->progress && fl->progress(rows, n, fl->progress_user) && done < blocks)
            return cemi_fail(&fl->err, CEM_ERR_STOPPED, "%s: the progress callback stopped the "
                             "run after %zu of %zu rows", fn, rows, n);
    }
    size_t failed = atomic_load(&jb.failed);
    if (failed)
        return cemi_fail(&fl->err, CEM_ERR_NUMERIC,
                         "%s: %zu of %zu rows failed (set to NaN), the first row %zu: its path "
                         "left float range or needed more than CEM_FLOW_MAX_STEPS = %g steps",
                         fn, failed, n, atomic_load(&jb.first_bad) - 1,
                         fl->p.opt[CEM_FLOW_MAX_STEPS]);
    return CEM_OK;
}

int cem_flow_logprob(cem_flow_t *fl, size_t n, const float *x, double *logp, size_t *evals)
{
    return run("cem_flow_logprob", fl, RUN_LOGPROB, n, x, logp, evals, NULL);
}

int cem_flow_encode(cem_flow_t *fl, size_t n, const float *x, float *z)
{
    return run("cem_flow_encode", fl, RUN_ENCODE, n, x, NULL, NULL, z);
}

int cem_flow_decode(cem_flow_t *fl, size_t n, const float *z, float *x)
{
    return run("cem_flow_decode", fl, RUN_DECODE, n, z, NULL, NULL, x);
}
