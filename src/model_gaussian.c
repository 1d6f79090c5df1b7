/*
 * model_gaussian.c -- the closed form of a Gaussian N(mu, Sigma).
 *
 * With Sigma = Q diag(lambda) Q^T (LAPACKE dsyev, once at creation):
 *   f(x,t) = mu + Q diag(alpha lambda / (alpha^2 lambda + sigma^2)) Q^T (x - alpha mu).
 * A block of rows costs two GEMMs with Q.  A singular Sigma (some lambda = 0)
 * is allowed: it puts the data on an affine subspace, the simplest manifold.
 * The decomposition and the pieces of the closed form are gauss_part.c's,
 * shared with the mixture's components.
 */
#include "gauss_part.h"
#include "model.h"

#include <string.h>

typedef cemi_gauss_part gaussian;

#define GAUSS_ROWS 256

static void gauss_destroy(void *impl)
{
    gaussian *g = impl;
    cemi_gauss_part_free(g);
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
    cemi_gauss_part_coords(g, r, Y, V);
    for (size_t a = 0; a < r; a++)
        cemi_gauss_part_gain(g, V + a * (size_t)dim, cemi_ou_at(t ? t[a] : t_shared), NULL);
    cemi_gauss_part_back(g, r, r, V, Y);
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
    cemi_gauss_part_coords(g, rows, Y, C);
    for (size_t a = 0; a < rows; a++)
        cemi_gauss_part_gain(g, C + a * (size_t)dim, cemi_ou_at(t[a % r]), NULL);
    cemi_gauss_part_back(g, rows, r, C, Y);
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
    int st = cemi_gauss_part_check(fn, mean, cov, dim);
    if (st)
        return st;
    gaussian *g = cemi_calloc(1, sizeof *g);
    if (!g)
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory (dim = %d)", fn, dim);
    st = cemi_gauss_part_init(g, fn, mean, cov, dim);
    if (st) {
        cemi_release(g);
        return st;
    }
    return cemi_model_new(out, fn, &gaussian_ops, g, CEM_KIND_GAUSSIAN, dim);
}
