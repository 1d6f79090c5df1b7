/*
 * model_gaussian.c -- the closed form of a Gaussian N(mu, Sigma).
 *
 * With Sigma = Q diag(lambda) Q^T (LAPACKE dsyev, once at creation):
 *   f(x,t) = mu + Q diag(alpha lambda / (alpha^2 lambda + sigma^2)) Q^T (x - alpha mu).
 * A block of rows costs two GEMMs with Q.  A singular Sigma (some lambda = 0)
 * is allowed: it puts the data on an affine subspace, the simplest manifold.
 */
#include "linalg.h"
#include "model.h"

#include <math.h>
#include <string.h>

typedef struct {
    int dim;
    double *mu;  /* dim */
    double *Q;   /* dim x dim, eigenvectors in columns */
    double *lam; /* dim, eigenvalues >= 0 */
} gaussian;

#define GAUSS_ROWS 256

static void gauss_destroy(void *impl)
{
    gaussian *g = impl;
    if (!g)
        return;
    cemi_release(g->mu);
    cemi_release(g->Q);
    cemi_release(g->lam);
    cemi_release(g);
}

static size_t gauss_max_rows(const cem_model_t *m)
{
    (void)m;
    return GAUSS_ROWS;
}

static size_t gauss_workspace(const cem_model_t *m, size_t rows)
{
    return sizeof(double) * 2 * rows * (size_t)m->dim;
}

static void gauss_eval(const cem_model_t *m, cem_target what, size_t r,
                       const float *x, const double *t, double t_shared, const int *lab,
                       float *out, void *ws, const void *shared)
{
    (void)shared;
    (void)lab; /* no classes: every label is CEM_LABEL_NONE */
    const gaussian *g = m->impl;
    const int dim = g->dim;
    double *Y = ws;                  /* r x dim: x - alpha mu, then f */
    double *V = Y + r * (size_t)dim; /* r x dim: coordinates in the eigenbasis */

    for (size_t a = 0; a < r; a++) {
        double al = cemi_ou_at(t ? t[a] : t_shared).alpha;
        for (int j = 0; j < dim; j++)
            Y[a * (size_t)dim + (size_t)j] = x[a * (size_t)dim + (size_t)j] - al * g->mu[j];
    }
    cemi_dgemm(0, 0, (int)r, dim, dim, 1.0, Y, dim, g->Q, dim, 0.0, V, dim);
    for (size_t a = 0; a < r; a++) {
        cemi_ou c = cemi_ou_at(t ? t[a] : t_shared);
        for (int k = 0; k < dim; k++) {
            double l = g->lam[k];
            V[a * (size_t)dim + (size_t)k] *= c.alpha * l / (c.alpha * c.alpha * l + c.sigma2);
        }
    }
    for (size_t a = 0; a < r; a++)
        for (int j = 0; j < dim; j++)
            Y[a * (size_t)dim + (size_t)j] = g->mu[j];
    cemi_dgemm(0, 1, (int)r, dim, dim, 1.0, V, dim, g->Q, dim, 1.0, Y, dim);
    cemi_emit_from_f(what, r, dim, x, t, t_shared, Y, out);
}

static size_t gauss_jvp_workspace(const cem_model_t *m, size_t rows, int K)
{
    return sizeof(double) * 2 * rows * (size_t)(K + 1) * (size_t)m->dim;
}

/* f as gauss_eval, in double from double x; J = Q diag(g) Q^T with
 * g_k = alpha lambda_k / (alpha^2 lambda_k + sigma^2), applied to the K n
 * tangent rows the same way (the gain of each row's own time). */
static void gauss_jvp(const cem_model_t *m, size_t r, const double *x, const double *t, int K,
                      const double *V, double *f, double *JV, void *ws, const void *shared)
{
    (void)shared;
    const gaussian *g = m->impl;
    const int dim = g->dim;
    const size_t rows = r * (size_t)(K + 1); /* the points, then the K blocks of tangents */
    double *Y = ws, *C = Y + rows * (size_t)dim;
    for (size_t a = 0; a < r; a++) {
        double al = cemi_ou_at(t[a]).alpha;
        for (int j = 0; j < dim; j++)
            Y[a * (size_t)dim + (size_t)j] = x[a * (size_t)dim + (size_t)j] - al * g->mu[j];
    }
    if (K > 0)
        memcpy(Y + r * (size_t)dim, V, sizeof(double) * r * (size_t)K * (size_t)dim);
    cemi_dgemm(0, 0, (int)rows, dim, dim, 1.0, Y, dim, g->Q, dim, 0.0, C, dim);
    for (size_t a = 0; a < rows; a++) {
        cemi_ou c = cemi_ou_at(t[a % r]);
        for (int k = 0; k < dim; k++) {
            double l = g->lam[k];
            C[a * (size_t)dim + (size_t)k] *= c.alpha * l / (c.alpha * c.alpha * l + c.sigma2);
        }
    }
    for (size_t a = 0; a < r; a++)
        for (int j = 0; j < dim; j++)
            Y[a * (size_t)dim + (size_t)j] = g->mu[j];
    if (K > 0)
        memset(Y + r * (size_t)dim, 0, sizeof(double) * r * (size_t)K * (size_t)dim);
    cemi_dgemm(0, 1, (int)rows, dim, dim, 1.0, C, dim, g->Q, dim, 1.0, Y, dim);
    memcpy(f, Y, sizeof(double) * r * (size_t)dim);
    if (K > 0)
        memcpy(JV, Y + r * (size_t)dim, sizeof(double) * r * (size_t)K * (size_t)dim);
}

static const cemi_model_ops gaussian_ops = {
    gauss_max_rows, gauss_workspace, gauss_eval, gauss_destroy, NULL, NULL, CEM_TARGET_CEM, NULL, NULL,
    gauss_jvp, gauss_jvp_workspace,
};

int cem_model_create_gaussian(cem_model_t **out, const float *mean,
                              const float *cov, int dim)
{
    static const char fn[] = "cem_model_create_gaussian";
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!mean || !cov || dim < 1 || dim > 4096)
        return cemi_fail(NULL, CEM_ERR_ARG,
                         "%s: need mean, cov != NULL and 1 <= dim <= 4096 (got dim = %d)",
                         fn, dim);
    size_t dd = (size_t)dim * (size_t)dim;
    int st = cemi_check_points(NULL, fn, "mean", mean, 1, dim);
    if (!st)
        st = cemi_check_points(NULL, fn, "cov", cov, (size_t)dim, dim);
    if (st)
        return st;

    double amax = 0.0;
    for (size_t k = 0; k < dd; k++)
        amax = fmax(amax, fabs((double)cov[k]));
    for (int i = 0; i < dim; i++)
        for (int j = i + 1; j < dim; j++) {
            double a = cov[(size_t)i * dim + j], b = cov[(size_t)j * dim + i];
            if (fabs(a - b) > 1e-6 * amax)
                return cemi_fail(NULL, CEM_ERR_NUMERIC,
                                 "%s: cov is not symmetric: cov[%d][%d] = %g, cov[%d][%d] = %g",
                                 fn, i, j, a, j, i, b);
        }

    gaussian *g = cemi_calloc(1, sizeof *g);
    if (g) {
        g->dim = dim;
        g->mu = cemi_alloc((size_t)dim, sizeof(double));
        g->Q = cemi_alloc(dd, sizeof(double));
        g->lam = cemi_alloc((size_t)dim, sizeof(double));
    }
    if (!g || !g->mu || !g->Q || !g->lam) {
        gauss_destroy(g);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory (dim = %d)", fn, dim);
    }
    for (int j = 0; j < dim; j++)
        g->mu[j] = mean[j];
    for (int i = 0; i < dim; i++) /* symmetrise: the average of both triangles */
        for (int j = 0; j < dim; j++)
            g->Q[(size_t)i * dim + j] =
                0.5 * ((double)cov[(size_t)i * dim + j] + (double)cov[(size_t)j * dim + i]);
    int info = cemi_dsyev(dim, g->Q, g->lam);
    if (info == CEMI_LINALG_NOMEM) {
        gauss_destroy(g);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the eigen-decomposition "
                         "(dim = %d)", fn, dim);
    }
    if (info != 0) {
        gauss_destroy(g);
        return cemi_fail(NULL, CEM_ERR_NUMERIC, "%s: eigensolver failed (LAPACK info %d)",
                         fn, info);
    }
    double lmax = fmax(fabs(g->lam[0]), fabs(g->lam[dim - 1]));
    if (g->lam[0] < -1e-6 * lmax) {
        double l0 = g->lam[0];
        gauss_destroy(g);
        return cemi_fail(NULL, CEM_ERR_NUMERIC,
                         "%s: cov is not positive semi-definite (eigenvalue %g, largest %g)",
                         fn, l0, lmax);
    }
    for (int k = 0; k < dim; k++)
        if (g->lam[k] < 0.0)
            g->lam[k] = 0.0;
    return cemi_model_new(out, fn, &gaussian_ops, g, CEM_KIND_GAUSSIAN, dim);
}
