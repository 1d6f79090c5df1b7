/*
 * model_mixture.c -- the closed form of a mixture of K Gaussians,
 * p = sum_k pi_k N(mu_k, Sigma_k) (layer 3).
 *
 * Under the OU process component k's marginal at t is
 * N(alpha mu_k, alpha^2 Sigma_k + sigma^2 I), so
 *   f(x,t | k) = f_k(x,t), component k's Gaussian closed form (gauss_part.h),
 *   f(x,t)     = sum_k w_k f_k,  w_k = softmax_k(log pi_k + log N_k(x)),
 * with, in component k's eigenbasis (Sigma_k = Q_k diag(lambda) Q_k^T,
 * v = Q_k^T (x - alpha mu_k), d_j = alpha^2 lambda_j + sigma^2),
 *   log N_k(x) = -1/2 sum_j v_j^2 / d_j - 1/2 sum_j log d_j  (+ a constant
 *   common to every component, dropped).
 * Everything is in double, the softmax by log-sum-exp.  Each component's
 * rows go through the same code as the Gaussian model (gauss_part.c), so a
 * row asked for class k gets bitwise what cem_model_create_gaussian's model
 * of component k gives.  When every component's quadratic form overflows
 * (x far off every component at a tiny t) the weights are the limit
 * t -> 0: the component(s) nearest in sum_j v_j^2 sigma^2 / d_j.
 *
 * The Jacobian (the flow, src/flow.c) is
 *   J v = sum_k w_k J_k v + (alpha / sigma^2) sum_k w_k (f_k - f) ((f_k - f) . v),
 * J_k = Q_k diag(alpha lambda / d) Q_k^T: the weights' gradient is
 * w_k (S_k - sum_j w_j S_j) with S_k = (alpha f_k - x) / sigma^2.
 */
#include "gauss_part.h"
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    int K, dim;
    double *logpi;         /* K: log pi_k */
    cemi_gauss_part *part; /* K components */
} mixture;

static void mix_destroy(void *impl)
{
    mixture *mx = impl;
    if (!mx)
        return;
    for (int k = 0; mx->part && k < mx->K; k++)
        cemi_gauss_part_free(&mx->part[k]);
    cemi_release(mx->part);
    cemi_release(mx->logpi);
    cemi_release(mx);
}

/* Blocks keep every component's f of every row (K x rows x dim doubles)
 * near 8 MiB, at most 256 rows. */
static size_t mix_max_rows(const cem_model_t *m)
{
    const mixture *mx = m->impl;
    size_t rows = ((size_t)1 << 20) / ((size_t)mx->K * (size_t)mx->dim);
    return rows < 1 ? 1 : rows > 256 ? 256 : rows;
}

/* The workspace of a block of r rows: two blocks of `wide` rows for one
 * component's rows (centred points or tangents, then their coordinates),
 * every component's f (K r dim), the logits and the scaled quadratic forms
 * (r K each), the rows' OU coefficients, and the rows gathered for a
 * component. */
typedef struct {
    double *Y, *C, *FK, *L, *QS;
    cemi_ou *ou;
    size_t *idx;
} mix_ws;

static size_t mix_ws_bytes(const mixture *mx, size_t r, size_t wide)
{
    const size_t dim = (size_t)mx->dim, K = (size_t)mx->K;
    return sizeof(double) * (2 * wide * dim + K * r * dim + 2 * r * K) + sizeof(cemi_ou) * r +
           sizeof(size_t) * r;
}

static mix_ws mix_ws_of(const mixture *mx, void *ws, size_t r, size_t wide)
{
    const size_t dim = (size_t)mx->dim, K = (size_t)mx->K;
    mix_ws w;
    w.Y = ws;
    w.C = w.Y + wide * dim;
    w.FK = w.C + wide * dim;
    w.L = w.FK + K * r * dim;
    w.QS = w.L + r * K;
    w.ou = (cemi_ou *)(void *)(w.QS + r * K);
    w.idx = (size_t *)(void *)(w.ou + r);
    return w;
}

static size_t mix_workspace(const cem_model_t *m, size_t rows)
{
    return mix_ws_bytes(m->impl, rows, rows);
}

/* Component k's logit from the quadratic forms of gauss_part_gain. */
static double logit(const mixture *mx, int k, const double *q)
{
    return mx->logpi[k] - 0.5 * q[2] - 0.5 * q[0];
}

/* Row logits l (K) into weights summing to 1, in place; qs (K) are the
 * scaled quadratic forms, used when every logit is -inf. */
static void softmax(int K, double *l, const double *qs)
{
    double top = -INFINITY, s = 0.0;
    for (int k = 0; k < K; k++)
        top = l[k] > top ? l[k] : top;
    if (top == -INFINITY) { /* every quadratic form overflowed: the limit t -> 0 */
        double qmin = INFINITY;
        for (int k = 0; k < K; k++)
            qmin = qs[k] < qmin ? qs[k] : qmin;
        for (int k = 0; k < K; k++)
            l[k] = qs[k] == qmin ? 1.0 : 0.0;
    } else {
        for (int k = 0; k < K; k++)
            l[k] = exp(l[k] - top);
    }
    for (int k = 0; k < K; k++)
        s += l[k];
    for (int k = 0; k < K; k++)
        l[k] /= s; /* s >= 1: the largest term is 1 */
}

/* f = sum_k w_k f_k for row a of a block of r rows (FK holds f_k of row a
 * at FK + (k r + a) dim), the first term alone as it is: one component
 * gives f_0 bitwise. */
static void mix_sum(const mixture *mx, size_t r, size_t a, const double *w, const double *FK,
                    double *f)
{
    const int dim = mx->dim;
    const double *f0 = FK + a * (size_t)dim;
    for (int j = 0; j < dim; j++)
        f[j] = w[0] * f0[j];
    for (int k = 1; k < mx->K; k++) {
        const double *fk = FK + ((size_t)k * r + a) * (size_t)dim;
        for (int j = 0; j < dim; j++)
            f[j] += w[k] * fk[j];
    }
}

/* A block of rows: each component evaluates the rows that need it (the
 * unconditional ones and those of its class), gathered; an unconditional
 * row keeps every f_k (its slot k of FK) and logit, a row of class k its
 * f_k alone (in its slot 0, which no other component writes for it). */
static void mix_eval(const cem_model_t *m, cem_target what, size_t r, const float *x,
                     const double *t, double t_shared, const int *lab, float *out, void *ws,
                     const void *shared)
{
    (void)shared;
    const mixture *mx = m->impl;
    const int dim = mx->dim, K = mx->K;
    const size_t D = (size_t)dim;
    mix_ws w = mix_ws_of(mx, ws, r, r);
    for (size_t a = 0; a < r; a++)
        w.ou[a] = cemi_ou_at(t ? t[a] : t_shared);
    for (int k = 0; k < K; k++) {
        const cemi_gauss_part *g = &mx->part[k];
        size_t nq = 0;
        for (size_t a = 0; a < r; a++)
            if (!lab || lab[a] == CEM_LABEL_NONE || lab[a] == k)
                w.idx[nq++] = a;
        if (nq == 0)
            continue;
        for (size_t q = 0; q < nq; q++) {
            const size_t a = w.idx[q];
            const double al = w.ou[a].alpha;
            for (int j = 0; j < dim; j++)
                w.Y[q * D + (size_t)j] = x[a * D + (size_t)j] - al * g->mu[j];
        }
        cemi_gauss_part_coords(g, nq, w.Y, w.C);
        for (size_t q = 0; q < nq; q++) {
            const size_t a = w.idx[q];
            const int uncond = !lab || lab[a] == CEM_LABEL_NONE;
            double qf[3];
            cemi_gauss_part_gain(g, w.C + q * D, w.ou[a], uncond ? qf : NULL);
            if (uncond) {
                w.L[a * (size_t)K + (size_t)k] = logit(mx, k, qf);
                w.QS[a * (size_t)K + (size_t)k] = qf[1];
            }
        }
        cemi_gauss_part_back(g, nq, nq, w.C, w.Y);
        for (size_t q = 0; q < nq; q++) {
            const size_t a = w.idx[q];
            const size_t slot = !lab || lab[a] == CEM_LABEL_NONE ? (size_t)k : 0;
            memcpy(w.FK + (slot * r + a) * D, w.Y + q * D, sizeof(double) * D);
        }
    }
    double *F = w.C; /* free after the last component: the answers */
    for (size_t a = 0; a < r; a++) {
        if (lab && lab[a] != CEM_LABEL_NONE) { /* f(x, t | k): component k's, as it is */
            memcpy(F + a * D, w.FK + a * D, sizeof(double) * D);
            continue;
        }
        double *wa = w.L + a * (size_t)K;
        softmax(K, wa, w.QS + a * (size_t)K);
        mix_sum(mx, r, a, wa, w.FK, F + a * D);
    }
    cemi_emit_from_f(what, r, dim, x, t, t_shared, F, out);
}

static size_t mix_jvp_workspace(const cem_model_t *m, size_t rows, int K)
{
    return mix_ws_bytes(m->impl, rows, rows * (size_t)(K > 1 ? K : 1));
}

/* Two passes over the components: the points (logits and f_k, hence the
 * weights and f), then the tangents (J_k v, added with the weights and the
 * outer products of f_k - f). */
static void mix_jvp(const cem_model_t *m, size_t r, const double *x, const double *t, int nt,
                    const double *V, double *f, double *JV, void *ws, const void *shared)
{
    (void)shared;
    const mixture *mx = m->impl;
    const int dim = mx->dim, K = mx->K;
    const size_t D = (size_t)dim, tr = r * (size_t)nt; /* tangent rows */
    mix_ws w = mix_ws_of(mx, ws, r, r * (size_t)(nt > 1 ? nt : 1));
    for (size_t a = 0; a < r; a++)
        w.ou[a] = cemi_ou_at(t[a]);
    for (int k = 0; k < K; k++) {
        const cemi_gauss_part *g = &mx->part[k];
        for (size_t a = 0; a < r; a++) {
            const double al = w.ou[a].alpha;
            for (int j = 0; j < dim; j++)
                w.Y[a * D + (size_t)j] = x[a * D + (size_t)j] - al * g->mu[j];
        }
        cemi_gauss_part_coords(g, r, w.Y, w.C);
        for (size_t a = 0; a < r; a++) {
            double qf[3];
            cemi_gauss_part_gain(g, w.C + a * D, w.ou[a], qf);
            w.L[a * (size_t)K + (size_t)k] = logit(mx, k, qf);
            w.QS[a * (size_t)K + (size_t)k] = qf[1];
        }
        cemi_gauss_part_back(g, r, r, w.C, w.FK + (size_t)k * r * D);
    }
    for (size_t a = 0; a < r; a++) {
        double *wa = w.L + a * (size_t)K;
        softmax(K, wa, w.QS + a * (size_t)K);
        mix_sum(mx, r, a, wa, w.FK, f + a * D);
    }
    if (nt <= 0)
        return;
    for (size_t b = 0; b < tr * D; b++)
        JV[b] = 0.0;
    for (int k = 0; k < K; k++) {
        const cemi_gauss_part *g = &mx->part[k];
        cemi_gauss_part_coords(g, tr, V, w.C);
        for (size_t b = 0; b < tr; b++)
            cemi_gauss_part_gain(g, w.C + b * D, w.ou[b % r], NULL);
        cemi_gauss_part_back(g, tr, 0, w.C, w.Y); /* J_k v of every tangent */
        for (size_t b = 0; b < tr; b++) {
            const size_t a = b % r;
            const double wk = w.L[a * (size_t)K + (size_t)k];
            const double *fk = w.FK + ((size_t)k * r + a) * D, *fa = f + a * D;
            const double *v = V + b * D, *jk = w.Y + b * D;
            double *o = JV + b * D, dv = 0.0;
            for (int j = 0; j < dim; j++)
                dv += (fk[j] - fa[j]) * v[j];
            const double c = w.ou[a].alpha / w.ou[a].sigma2 * wk * dv;
            for (int j = 0; j < dim; j++)
                o[j] += wk * jk[j] + c * (fk[j] - fa[j]);
        }
    }
}

static const cemi_model_ops mixture_ops = {
    mix_max_rows, mix_workspace, mix_eval, mix_destroy, NULL, NULL, CEM_TARGET_CEM, NULL, NULL,
    mix_jvp, mix_jvp_workspace,
};

/* "fn: component k", the start of a component's messages. */
static const char *component(char *buf, size_t cap, const char *fn, int k)
{
    snprintf(buf, cap, "%s: component %d", fn, k);
    return buf;
}

int cem_model_create_mixture(cem_model_t **out, int K, const double *weights,
                             const float *means, const float *covs, int dim)
{
    static const char fn[] = "cem_model_create_mixture";
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!means || !covs)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: means and covs must not be NULL", fn);
    if (K < 1 || K > 1024 || dim < 1 || dim > 4096)
        return cemi_fail(NULL, CEM_ERR_ARG,
                         "%s: need 1 <= K <= 1024 and 1 <= dim <= 4096 (got K = %d, dim = %d)",
                         fn, K, dim);
    const size_t D = (size_t)dim, dd = D * D;
    if ((size_t)K * dd > ((size_t)1 << 28))
        return cemi_fail(NULL, CEM_ERR_ARG,
                         "%s: K dim^2 = %zu exceeds 2^28 (K = %d, dim = %d): the covariances "
                         "would take more than 2 GiB", fn, (size_t)K * dd, K, dim);
    double wmax = 0.0;
    for (int k = 0; weights && k < K; k++) {
        if (!(weights[k] > 0.0) || !isfinite(weights[k]))
            return cemi_fail(NULL, CEM_ERR_ARG,
                             "%s: weights[%d] = %g: the weight of component %d must be finite "
                             "and > 0", fn, k, weights[k], k);
        wmax = weights[k] > wmax ? weights[k] : wmax;
    }
    char who[96];
    for (int k = 0; k < K; k++) {
        int st = cemi_gauss_part_check(component(who, sizeof who, fn, k), means + (size_t)k * D,
                                       covs + (size_t)k * dd, dim);
        if (st)
            return st;
    }

    mixture *mx = cemi_calloc(1, sizeof *mx);
    if (mx) {
        mx->K = K;
        mx->dim = dim;
        mx->logpi = cemi_alloc((size_t)K, sizeof(double));
        mx->part = cemi_calloc((size_t)K, sizeof(cemi_gauss_part));
    }
    if (!mx || !mx->logpi || !mx->part) {
        mix_destroy(mx);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory (K = %d, dim = %d)", fn, K,
                         dim);
    }
    if (weights) { /* log pi_k = log(w_k / w_max) - log sum_j (w_j / w_max): no overflow */
        double s = 0.0;
        for (int k = 0; k < K; k++)
            s += weights[k] / wmax;
        for (int k = 0; k < K; k++)
            mx->logpi[k] = (log(weights[k]) - log(wmax)) - log(s);
    } else {
        for (int k = 0; k < K; k++)
            mx->logpi[k] = -log((double)K);
    }
    for (int k = 0; k < K; k++) {
        int st = cemi_gauss_part_init(&mx->part[k], component(who, sizeof who, fn, k),
                                      means + (size_t)k * D, covs + (size_t)k * dd, dim);
        if (st) {
            mix_destroy(mx);
            return st;
        }
    }
    int st = cemi_model_new(out, fn, &mixture_ops, mx, CEM_KIND_MIXTURE, dim);
    if (!st)
        (*out)->labels = K;
    return st;
}
