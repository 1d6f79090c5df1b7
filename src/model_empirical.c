/*
 * model_empirical.c -- the closed form of an empirical law (docs/MATH.md 6).
 *
 * For p = (1/n) sum_i delta(p_i):
 *   w_i(x,t) = softmax_i( -|x - alpha p_i|^2 / (2 sigma^2) ),  f = sum_i w_i p_i.
 * Dropping the row constant |x|^2, the logits are
 *   (alpha x.p_i - alpha^2 |p_i|^2 / 2) / sigma^2,
 * so a block of rows costs one product for x.p_i, a log-sum-exp per row, and
 * one product for sum_i w_i p_i.  The points are kept transposed (dim x n):
 * both products then run along their n-long rows (linalg.h).  Everything is
 * in double: at t = 1e-4 the logits are ~1e4 and float would lose the
 * weights' fourth digit.
 */
#include "linalg.h"
#include "model.h"

#include <limits.h>
#include <math.h>

typedef struct {
    size_t n;
    int dim;
    double *PT; /* dim x n, the points, transposed */
    double *pn; /* n, |p_i|^2 */
    int *label; /* n, each point's class; NULL: unlabelled */
} empirical;

static void emp_destroy(void *impl)
{
    empirical *e = impl;
    if (!e)
        return;
    cemi_release(e->PT);
    cemi_release(e->pn);
    cemi_release(e->label);
    cemi_release(e);
}

/* Blocks of rows keep the n-wide weight matrix near 8 MiB. */
static size_t emp_max_rows(const cem_model_t *m)
{
    const empirical *e = m->impl;
    size_t rows = ((size_t)1 << 20) / e->n;
    return rows < 1 ? 1 : rows > 256 ? 256 : rows;
}

static size_t emp_workspace(const cem_model_t *m, size_t rows)
{
    const empirical *e = m->impl;
    /* X (rows x dim), W (rows x n), F (rows x dim); sizes were checked at
     * creation for the largest block. */
    return sizeof(double) * rows * (e->n + 2 * (size_t)e->dim);
}

static void emp_eval(const cem_model_t *m, cem_target what, size_t r,
                     const float *x, const double *t, double t_shared, const int *lab,
                     float *out, void *ws, const void *shared)
{
    (void)shared;
    const empirical *e = m->impl;
    const int dim = e->dim;
    const size_t n = e->n;
    double *X = ws;                       /* r x dim   */
    double *W = X + r * (size_t)dim;      /* r x n     */
    double *F = W + r * n;                /* r x dim   */

    for (size_t k = 0; k < r * (size_t)dim; k++)
        X[k] = x[k];
    /* W = X P^T: the inner products x_a . p_i */
    cemi_dgemm(0, 0, (int)r, (int)n, dim, 1.0, X, dim, e->PT, (int)n, 0.0, W, (int)n);

    double *inv_sum = X; /* X is no longer needed: reuse r entries of it */
    for (size_t a = 0; a < r; a++) {
        cemi_ou c = cemi_ou_at(t ? t[a] : t_shared);
        double *w = W + a * n;
        double mx = -INFINITY;
        const int k = lab ? lab[a] : CEM_LABEL_NONE; /* class k: its points alone */
        for (size_t i = 0; i < n; i++) {
            w[i] = k != CEM_LABEL_NONE && e->label[i] != k
                       ? -INFINITY
                       : (c.alpha * w[i] - 0.5 * c.alpha * c.alpha * e->pn[i]) / c.sigma2;
            if (w[i] > mx)
                mx = w[i];
        }
        double s = 0.0;
        for (size_t i = 0; i < n; i++) {
            w[i] = exp(w[i] - mx);
            s += w[i];
        }
        inv_sum[a] = 1.0 / s; /* s >= 1: the max term is exp(0) */
    }
    /* F = W P: unnormalised conditional means */
    cemi_dgemm(0, 1, (int)r, dim, (int)n, 1.0, W, (int)n, e->PT, (int)n, 0.0, F, dim);

    for (size_t a = 0; a < r; a++)
        for (int j = 0; j < dim; j++)
            F[a * (size_t)dim + (size_t)j] *= inv_sum[a];
    cemi_emit_from_f(what, r, dim, x, t, t_shared, F, out);
}

static size_t emp_jvp_workspace(const cem_model_t *m, size_t rows, int K)
{
    (void)rows;
    (void)K;
    const empirical *e = m->impl;
    return sizeof(double) * e->n; /* one row's weights at a time */
}

/* One row at a time, in double: the weights w_i, f = sum_i w_i p_i, and
 * J = (alpha / sigma^2) (sum_i w_i p_i p_i^T - f f^T), the posterior
 * covariance of X_0 scaled, applied to each tangent. */
static void emp_jvp(const cem_model_t *m, size_t r, const double *x, const double *t, int K,
                    const double *V, double *f, double *JV, void *ws, const void *shared)
{
    (void)shared;
    const empirical *e = m->impl;
    const int dim = e->dim;
    const size_t n = e->n;
    double *w = ws;
    for (size_t a = 0; a < r; a++) {
        const double *xa = x + a * (size_t)dim;
        double *fa = f + a * (size_t)dim;
        cemi_ou c = cemi_ou_at(t[a]);
        double mx = -INFINITY, s = 0.0;
        for (size_t i = 0; i < n; i++) {
            double d = 0.0;
            for (int j = 0; j < dim; j++)
                d += xa[j] * e->PT[(size_t)j * n + i];
            w[i] = (c.alpha * d - 0.5 * c.alpha * c.alpha * e->pn[i]) / c.sigma2;
            mx = w[i] > mx ? w[i] : mx;
        }
        for (size_t i = 0; i < n; i++) {
            w[i] = exp(w[i] - mx);
            s += w[i];
        }
        for (size_t i = 0; i < n; i++)
            w[i] /= s;
        for (int j = 0; j < dim; j++) {
            double v = 0.0;
            for (size_t i = 0; i < n; i++)
                v += w[i] * e->PT[(size_t)j * n + i];
            fa[j] = v;
        }
        for (int k = 0; k < K; k++) {
            const double *v = V + ((size_t)k * r + a) * (size_t)dim;
            double *out = JV + ((size_t)k * r + a) * (size_t)dim, fv = 0.0;
            for (int j = 0; j < dim; j++) {
                out[j] = 0.0;
                fv += fa[j] * v[j];
            }
            for (size_t i = 0; i < n; i++) {
                double pv = 0.0;
                for (int j = 0; j < dim; j++)
                    pv += e->PT[(size_t)j * n + i] * v[j];
                for (int j = 0; j < dim; j++)
                    out[j] += w[i] * pv * e->PT[(size_t)j * n + i];
            }
            for (int j = 0; j < dim; j++)
                out[j] = c.alpha / c.sigma2 * (out[j] - fa[j] * fv);
        }
    }
}

static const cemi_model_ops empirical_ops = {
    emp_max_rows, emp_workspace, emp_eval, emp_destroy, NULL, NULL, CEM_TARGET_CEM, NULL, NULL,
    emp_jvp, emp_jvp_workspace,
};

/* cem_model_create_empirical and _labelled (labels NULL: unlabelled). */
static int create(cem_model_t **out, const char *fn, const float *points, const int *labels,
                  size_t n, int dim)
{
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!points || n < 1 || dim < 1)
        return cemi_fail(NULL, CEM_ERR_ARG,
                         "%s: need points != NULL, n >= 1, dim >= 1 (got n = %zu, dim = %d)",
                         fn, n, dim);
    size_t total, ws;
    if (!cemi_fits_int(n) || !cemi_mul_ok(n, (size_t)dim, &total) ||
        !cemi_mul_ok(256, n + 2 * (size_t)dim, &ws) || !cemi_mul_ok(ws, sizeof(double), &ws))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: n = %zu, dim = %d is too large", fn, n, dim);
    int st = cemi_check_points(NULL, fn, "points", points, n, dim);
    if (st)
        return st;
    int K = 0;
    if (labels) { /* classes 0 .. K-1, each with a point */
        st = cemi_check_labels(NULL, fn, "labels", labels, n, 0, INT_MAX);
        if (st)
            return st;
        for (size_t i = 0; i < n; i++)
            K = labels[i] + 1 > K ? labels[i] + 1 : K;
        if (K > 65536)
            return cemi_fail(NULL, CEM_ERR_ARG, "%s: %d classes (labels up to %d): at most "
                             "65536", fn, K, K - 1);
    }

    empirical *e = cemi_calloc(1, sizeof *e);
    unsigned char *seen = K ? cemi_calloc((size_t)K, 1) : NULL;
    if (e) {
        e->n = n;
        e->dim = dim;
        e->PT = cemi_alloc(total, sizeof(double));
        e->pn = cemi_alloc(n, sizeof(double));
        e->label = labels ? cemi_alloc(n, sizeof(int)) : NULL;
    }
    if (!e || !e->PT || !e->pn || (labels && (!e->label || !seen))) {
        emp_destroy(e);
        cemi_release(seen);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for %zu points", fn, n);
    }
    for (size_t i = 0; labels && i < n; i++)
        seen[e->label[i] = labels[i]] = 1;
    for (int k = 0; k < K; k++)
        if (!seen[k]) {
            emp_destroy(e);
            cemi_release(seen);
            return cemi_fail(NULL, CEM_ERR_ARG, "%s: class %d has no point (labels are "
                             "0 .. %d, each class needs one)", fn, k, K - 1);
        }
    cemi_release(seen);
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int j = 0; j < dim; j++) {
            double v = points[i * (size_t)dim + (size_t)j];
            e->PT[(size_t)j * n + i] = v;
            s += v * v;
        }
        e->pn[i] = s;
    }
    st = cemi_model_new(out, fn, &empirical_ops, e, CEM_KIND_EMPIRICAL, dim);
    if (!st)
        (*out)->labels = K;
    return st;
}

int cem_model_create_empirical(cem_model_t **out, const float *points, size_t n, int dim)
{
    return create(out, "cem_model_create_empirical", points, NULL, n, dim);
}

int cem_model_create_empirical_labelled(cem_model_t **out, const float *points,
                                        const int *labels, size_t n, int dim)
{
    static const char fn[] = "cem_model_create_empirical_labelled";
    if (!labels) {
        if (out)
            *out = NULL;
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: labels is NULL", fn);
    }
    return create(out, fn, points, labels, n, dim);
}
