/*
 * model.c -- the cem_model_t handle: reference counting, options and the
 * evaluation entry points shared by every kind (layer 3).
 */
#include "model.h"

#include <stdio.h>
#include <string.h>

/* Every model option; cemdiff.h documents them.  Kinds other than the MLP
 * accept only the first two. */
static const cemi_option model_options[] = {
    {CEM_MODEL_T_MIN, "CEM_MODEL_T_MIN", 1e-8, 50.0, 1e-3, 0},
    {CEM_MODEL_T_MAX, "CEM_MODEL_T_MAX", 0.1, 100.0, 10.0, 0},
    {CEM_MODEL_WIDTH, "CEM_MODEL_WIDTH", 1, 8192, 256, 1},
    {CEM_MODEL_DEPTH, "CEM_MODEL_DEPTH", 1, 64, 3, 1},
    {CEM_MODEL_ACTIVATION, "CEM_MODEL_ACTIVATION", CEM_ACT_SILU, CEM_ACT_TANH, CEM_ACT_SILU, 1},
    {CEM_MODEL_EMBED, "CEM_MODEL_EMBED", 2, 1024, 32, 1},
    {CEM_MODEL_SEED, "CEM_MODEL_SEED", 0, 9007199254740992.0, 0, 1},
    {CEM_MODEL_USE_EMA, "CEM_MODEL_USE_EMA", 0, 1, 1, 1},
    /* PRECOND by measurement: docs/RECIPES.md */
    {CEM_MODEL_PARAM, "CEM_MODEL_PARAM", CEM_PARAM_DIRECT, CEM_PARAM_PRECOND_PCA, CEM_PARAM_PRECOND_PCA, 1},
    {CEM_MODEL_LABELS, "CEM_MODEL_LABELS", 0, 65536, 0, 1},
    {CEM_MODEL_LABEL_EMBED, "CEM_MODEL_LABEL_EMBED", 1, 1024, 16, 1},
    {0, NULL, 0, 0, 0, 0},
};

const cemi_option *cemi_model_options(void) { return model_options; }

double cemi_model_option_default(int opt)
{
    return cemi_option_find(model_options, opt)->def;
}

int cemi_model_new(cem_model_t **out, const char *fn, const cemi_model_ops *ops,
                   void *impl, int kind, int dim)
{
    cem_model_t *m = cemi_calloc(1, sizeof *m);
    if (!m) {
        ops->destroy(impl);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the handle", fn);
    }
    m->ops = ops;
    m->impl = impl;
    m->kind = kind;
    m->dim = dim;
    m->t_min = cemi_model_option_default(CEM_MODEL_T_MIN);
    m->t_max = cemi_model_option_default(CEM_MODEL_T_MAX);
    atomic_init(&m->refs, 1);
    atomic_init(&m->busy, 0);
    atomic_init(&m->samplers, 0);
    atomic_init(&m->flows, 0);
    *out = m;
    return CEM_OK;
}

void cemi_model_retain(cem_model_t *m) { atomic_fetch_add(&m->refs, 1); }

void cem_model_retain(cem_model_t *m)
{
    if (m)
        cemi_model_retain(m);
}

void cem_model_free(cem_model_t *m)
{
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    m->ops->destroy(m->impl);
    cemi_release(m);
}

void cemi_emit_from_f(cem_target what, size_t R, int dim, const float *x, const double *t,
                      double t_shared, double *F, float *out)
{
    for (size_t a = 0; a < R; a++) {
        double *f = F + a * (size_t)dim;
        cemi_convert_row(CEM_TARGET_CEM, what, dim, x + a * (size_t)dim, t ? t[a] : t_shared, f, f);
        for (int j = 0; j < dim; j++)
            out[a * (size_t)dim + (size_t)j] = (float)f[j];
    }
}

int cemi_check_labels(cemi_errbuf *err, const char *fn, const char *what, const int *labels,
                      size_t n, int lo, int K)
{
    for (size_t i = 0; i < n; i++)
        if (labels[i] < lo || labels[i] >= K)
            return cemi_fail(err, CEM_ERR_ARG, "%s: %s[%zu] = %d is outside [%d, %d)%s", fn, what,
                             i, labels[i], lo, K,
                             K == 0 ? " (the model has no labels: CEM_MODEL_LABELS = 0)" : "");
    return CEM_OK;
}

int cemi_check_points(cemi_errbuf *err, const char *fn, const char *what,
                      const float *x, size_t n, int dim)
{
    size_t total = n * (size_t)dim; /* callers checked the product fits */
    size_t k = cemi_first_nonfinite_f(x, total);
    if (k < total)
        return cemi_fail(err, CEM_ERR_NONFINITE, "%s: %s row %zu column %d is %g",
                         fn, what, k / (size_t)dim, (int)(k % (size_t)dim), (double)x[k]);
    return CEM_OK;
}

const char *cem_model_errmsg(const cem_model_t *m) { return m ? m->err.text : ""; }
int cem_model_dim(const cem_model_t *m) { return m ? m->dim : -1; }
int cem_model_kind_of(const cem_model_t *m) { return m ? m->kind : -1; }
int cem_model_target_of(const cem_model_t *m) { return m ? (int)m->ops->native : -1; }

int cem_model_option_bounds(cem_model_option opt, double *lo, double *hi)
{
    return cemi_option_bounds("cem_model_option_bounds", model_options, (int)opt, lo, hi);
}

int cem_model_set(cem_model_t *m, cem_model_option opt, double value)
{
    static const char fn[] = "cem_model_set";
    if (!m)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: model is NULL", fn);
    const cemi_option *o;
    int st = cemi_option_resolve(&m->err, fn, model_options, (int)opt, &value, &o);
    if (st)
        return st;
    double t_min = opt == CEM_MODEL_T_MIN ? value : m->t_min;
    double t_max = opt == CEM_MODEL_T_MAX ? value : m->t_max;
    if (!(t_min < t_max))
        return cemi_fail(&m->err, CEM_ERR_RANGE,
                         "%s: %s = %g would leave CEM_MODEL_T_MIN = %g >= CEM_MODEL_T_MAX = %g",
                         fn, o->name, value, t_min, t_max);
    if (m->ops->set) {
        st = m->ops->set(m, (int)opt, value, fn);
        if (st)
            return st;
    } else if (opt != CEM_MODEL_T_MIN && opt != CEM_MODEL_T_MAX) {
        return cemi_fail(&m->err, CEM_ERR_UNSUPPORTED,
                         "%s: %s applies to MLP models only", fn, o->name);
    }
    m->t_min = t_min;
    m->t_max = t_max;
    if (opt == CEM_MODEL_T_MIN || opt == CEM_MODEL_T_MAX)
        m->window_set = 1;
    return CEM_OK;
}

int cem_model_get(const cem_model_t *m, cem_model_option opt, double *value)
{
    static const char fn[] = "cem_model_get";
    if (!m || !value)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: model and value must not be NULL", fn);
    const cemi_option *o;
    int st = cemi_option_resolve(NULL, fn, model_options, (int)opt, NULL, &o);
    if (st)
        return st;
    if (opt == CEM_MODEL_T_MIN || opt == CEM_MODEL_T_MAX) {
        *value = opt == CEM_MODEL_T_MIN ? m->t_min : m->t_max;
        return CEM_OK;
    }
    if (opt == CEM_MODEL_LABELS) { /* every kind answers for its classes */
        *value = m->labels;
        return CEM_OK;
    }
    if (!m->ops->get)
        return cemi_fail(NULL, CEM_ERR_UNSUPPORTED, "%s: %s applies to MLP models only", fn,
                         o->name);
    return m->ops->get(m, (int)opt, value);
}

/* Evaluation is const: its failures go to the calling thread's
 * cem_last_error() only (the model's message is not written, so threads that
 * share the model never race on it); m is const here so that the compiler
 * holds to that. */
static int eval_common(const char *fn, const cem_model_t *m, cem_target what, size_t n,
                       const float *x, const double *t, double t_shared, const int *lab,
                       float *out)
{
    if (!m)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: model is NULL", fn);
    if (what < CEM_TARGET_CEM || what > CEM_TARGET_SCORE)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: unknown target %d", fn, (int)what);
    if (n == 0)
        return CEM_OK;
    if (!x || !out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: NULL array with n = %zu", fn, n);
    size_t total;
    if (!cemi_mul_ok(n, (size_t)m->dim, &total))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: n = %zu is too large", fn, n);
    if (t) {
        for (size_t i = 0; i < n; i++)
            if (!cemi_time_ok(t[i]))
                return cemi_fail(NULL, CEM_ERR_ARG,
                                       "%s: t[%zu] = %g is not a finite time > 0", fn, i, t[i]);
    } else if (!cemi_time_ok(t_shared)) {
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: t = %g is not a finite time > 0",
                               fn, t_shared);
    }
    size_t k = cemi_first_nonfinite_f(x, total);
    if (k < total)
        return cemi_fail(NULL, CEM_ERR_NONFINITE, "%s: x row %zu column %d is %g", fn,
                               k / (size_t)m->dim, (int)(k % (size_t)m->dim), (double)x[k]);
    if (lab) {
        int st = cemi_check_labels(NULL, fn, "labels", lab, n, CEM_LABEL_NONE, m->labels);
        if (st)
            return st;
    }

    size_t rows = m->ops->max_rows(m);
    if (rows > n)
        rows = n;
    void *ws = cemi_alloc(1, m->ops->workspace(m, rows));
    /* state shared by the blocks pays for itself only over several blocks */
    void *shared = NULL;
    if (ws && n > rows && m->ops->shared_size) {
        shared = cemi_alloc(1, m->ops->shared_size(m));
        if (shared)
            m->ops->prepare(m, shared);
    }
    if (!ws || (n > rows && m->ops->shared_size && !shared)) {
        cemi_release(ws);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for workspace", fn);
    }
    int st = CEM_OK;
    for (size_t i0 = 0; i0 < n && !st; i0 += rows) {
        size_t r = n - i0 < rows ? n - i0 : rows;
        size_t off = i0 * (size_t)m->dim;
        m->ops->eval(m, what, r, x + off, t ? t + i0 : NULL, t_shared, lab ? lab + i0 : NULL,
                     out + off, ws, shared);
        /* CEM_OK promises finite values: eps and S divide by sigma_t and
         * sigma_t^2, f from a NOISE or SCORE network by alpha_t, and a
         * network's own output may overflow */
        size_t cells = r * (size_t)m->dim, bad = cemi_first_nonfinite_f(out + off, cells);
        if (bad < cells) {
            size_t i = i0 + bad / (size_t)m->dim;
            double ti = t ? t[i] : t_shared;
            cemi_ou c = cemi_ou_at(ti);
            /* a const call: the message goes to the thread alone */
            st = cemi_fail(NULL, CEM_ERR_NUMERIC,
                           "%s: %s of row %zu column %d at t = %g (alpha_t = %g, sigma_t^2 = "
                           "%g) is %g, not finite in float", fn, cemi_target_name((int)what), i,
                           (int)(bad % (size_t)m->dim), ti, c.alpha, c.sigma2,
                           (double)out[off + bad]);
        }
    }
    cemi_release(shared);
    cemi_release(ws);
    return st;
}

int cem_model_eval(cem_model_t *m, cem_target what, size_t n, const float *x,
                   const double *t, float *out)
{
    if (n > 0 && !t)
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_model_eval: t is NULL with n = %zu", n);
    return eval_common("cem_model_eval", m, what, n, x, t, 0.0, NULL, out);
}

int cem_model_eval_labelled(cem_model_t *m, cem_target what, size_t n, const float *x,
                            const double *t, const int *labels, float *out)
{
    if (n > 0 && !t)
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_model_eval_labelled: t is NULL with n = %zu",
                         n);
    return eval_common("cem_model_eval_labelled", m, what, n, x, t, 0.0, labels, out);
}

int cem_model_eval_at(cem_model_t *m, cem_target what, size_t n, const float *x,
                      double t, float *out)
{
    return eval_common("cem_model_eval_at", m, what, n, x, NULL, t, NULL, out);
}
