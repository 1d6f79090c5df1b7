/*
 * gauss_part.c -- one Gaussian in its eigenbasis: the checks, the
 * eigen-decomposition at creation and the pieces of the closed form
 * (layer 3; gauss_part.h).
 */
#include "gauss_part.h"

#include "linalg.h"
#include "model.h"

#include <math.h>

int cemi_gauss_part_check(const char *who, const float *mean, const float *cov, int dim)
{
    int st = cemi_check_points(NULL, who, "mean", mean, 1, dim);
    if (!st)
        st = cemi_check_points(NULL, who, "cov", cov, (size_t)dim, dim);
    if (st)
        return st;
    const size_t dd = (size_t)dim * (size_t)dim;
    double amax = 0.0;
    for (size_t k = 0; k < dd; k++)
        amax = fmax(amax, fabs((double)cov[k]));
    for (int i = 0; i < dim; i++)
        for (int j = i + 1; j < dim; j++) {
            double a = cov[(size_t)i * dim + j], b = cov[(size_t)j * dim + i];
            if (fabs(a - b) > 1e-6 * amax)
                return cemi_fail(NULL, CEM_ERR_NUMERIC,
                                 "%s: cov is not symmetric: cov[%d][%d] = %g, cov[%d][%d] = %g",
                                 who, i, j, a, j, i, b);
        }
    return CEM_OK;
}

void cemi_gauss_part_free(cemi_gauss_part *g)
{
    if (!g)
        return;
    cemi_release(g->mu);
    cemi_release(g->Q);
    cemi_release(g->lam);
    g->mu = g->Q = g->lam = NULL;
}

int cemi_gauss_part_init(cemi_gauss_part *g, const char *who, const float *mean,
                         const float *cov, int dim)
{
    const size_t dd = (size_t)dim * (size_t)dim;
    g->dim = dim;
    g->mu = cemi_alloc((size_t)dim, sizeof(double));
    g->Q = cemi_alloc(dd, sizeof(double));
    g->lam = cemi_alloc((size_t)dim, sizeof(double));
    if (!g->mu || !g->Q || !g->lam) {
        cemi_gauss_part_free(g);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory (dim = %d)", who, dim);
    }
    for (int j = 0; j < dim; j++)
        g->mu[j] = mean[j];
    for (int i = 0; i < dim; i++) /* symmetrise: the average of both triangles */
        for (int j = 0; j < dim; j++)
            g->Q[(size_t)i * dim + j] =
                0.5 * ((double)cov[(size_t)i * dim + j] + (double)cov[(size_t)j * dim + i]);
    int info = cemi_dsyev(dim, g->Q, g->lam);
    if (info == CEMI_LINALG_NOMEM) {
        cemi_gauss_part_free(g);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the eigen-decomposition "
                         "(dim = %d)", who, dim);
    }
    if (info != 0) {
        cemi_gauss_part_free(g);
        return cemi_fail(NULL, CEM_ERR_NUMERIC, "%s: eigensolver failed (LAPACK info %d)",
                         who, info);
    }
    double lmax = fmax(fabs(g->lam[0]), fabs(g->lam[dim - 1]));
    if (g->lam[0] < -1e-6 * lmax) {
        double l0 = g->lam[0];
        cemi_gauss_part_free(g);
        return cemi_fail(NULL, CEM_ERR_NUMERIC,
                         "%s: cov is not positive semi-definite (eigenvalue %g, largest %g)",
                         who, l0, lmax);
    }
    for (int k = 0; k < dim; k++)
        if (g->lam[k] < 0.0)
            g->lam[k] = 0.0;
    return CEM_OK;
}

void cemi_gauss_part_coords(const cemi_gauss_part *g, size_t rows, const double *Y, double *C)
{
    const int dim = g->dim;
    cemi_dgemm(0, 0, (int)rows, dim, dim, 1.0, Y, dim, g->Q, dim, 0.0, C, dim);
}

void cemi_gauss_part_gain(const cemi_gauss_part *g, double *v, cemi_ou c, double *q)
{
    const int dim = g->dim;
    if (q) {
        double q0 = 0.0, q1 = 0.0, ld = 0.0;
        for (int k = 0; k < dim; k++) {
            double d = c.alpha * c.alpha * g->lam[k] + c.sigma2, v2 = v[k] * v[k];
            q0 += v2 / d;
            q1 += v2 * (c.sigma2 / d);
            ld += log(d);
        }
        q[0] = q0;
        q[1] = q1;
        q[2] = ld;
    }
    for (int k = 0; k < dim; k++) {
        double l = g->lam[k];
        v[k] *= c.alpha * l / (c.alpha * c.alpha * l + c.sigma2);
    }
}

void cemi_gauss_part_back(const cemi_gauss_part *g, size_t rows, size_t nmu, const double *C,
                          double *Y)
{
    const int dim = g->dim;
    for (size_t a = 0; a < rows; a++)
        for (int j = 0; j < dim; j++)
            Y[a * (size_t)dim + (size_t)j] = a < nmu ? g->mu[j] : 0.0;
    cemi_dgemm(0, 1, (int)rows, dim, dim, 1.0, C, dim, g->Q, dim, 1.0, Y, dim);
}
