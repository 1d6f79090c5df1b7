/*
 * gauss_part.h -- layer 3: one Gaussian N(mu, Sigma) in its eigenbasis,
 * Sigma = Q diag(lambda) Q^T, and the pieces of its closed form
 *   f(x,t) = mu + Q diag(alpha lambda / (alpha^2 lambda + sigma^2)) Q^T (x - alpha mu),
 * shared by the Gaussian model kind (model_gaussian.c) and the mixture's
 * components (model_mixture.c), so that a mixture's component k computes
 * bitwise what a Gaussian model of that component alone computes.
 *
 * A block of rows is evaluated as: Y = x - alpha mu (the caller),
 * C = Y Q (cemi_gauss_part_coords), each row of C scaled by the gains of its
 * time (cemi_gauss_part_gain), Y = mu + C Q^T (cemi_gauss_part_back).  The
 * products are cemi_dgemm's, whose row results do not depend on the other
 * rows of the call (linalg.h): any subset of rows, gathered in any order,
 * gives each row the same bits.
 */
#ifndef CEM_GAUSS_PART_H
#define CEM_GAUSS_PART_H

#include "process.h"

typedef struct {
    int dim;
    double *mu;  /* dim */
    double *Q;   /* dim x dim, eigenvectors in columns */
    double *lam; /* dim, eigenvalues >= 0, ascending */
} cemi_gauss_part;

/* The checks that need no memory: mean (dim) and cov (dim x dim) finite
 * (CEM_ERR_NONFINITE), cov symmetric to 1e-6 relative (CEM_ERR_NUMERIC).
 * Messages start with `who` ("cem_model_create_gaussian", or the mixture's
 * "cem_model_create_mixture: component 3"). */
int cemi_gauss_part_check(const char *who, const float *mean, const float *cov, int dim);

/* Fills g (whose arrays must be NULL) from a mean and cov that passed
 * cemi_gauss_part_check: allocates mu, Q and lam (in that order), takes the
 * eigen-decomposition of the symmetrised cov, refuses a cov that is not
 * positive semi-definite (eigenvalue < -1e-6 largest: CEM_ERR_NUMERIC) and
 * sets the small negative eigenvalues to 0.  On failure (CEM_ERR_NOMEM,
 * CEM_ERR_NUMERIC, with a message starting with `who`) g's arrays are
 * released and NULL again. */
int cemi_gauss_part_init(cemi_gauss_part *g, const char *who, const float *mean,
                         const float *cov, int dim);

/* Releases g's arrays (not g itself); g may be NULL or partly filled. */
void cemi_gauss_part_free(cemi_gauss_part *g);

/* C (rows x dim) = Y Q: the coordinates of Y's rows in the eigenbasis. */
void cemi_gauss_part_coords(const cemi_gauss_part *g, size_t rows, const double *Y, double *C);

/* Scales one row of coordinates v (dim) by the gains
 * alpha lambda_j / (alpha^2 lambda_j + sigma^2) of time c.  When q is not
 * NULL it first accumulates, for the log-density of N(alpha mu,
 * alpha^2 Sigma + sigma^2 I) at the point whose coordinates v are (v =
 * Q^T (x - alpha mu)):
 *   q[0] = sum_j v_j^2 / d_j,  q[1] = sum_j v_j^2 (sigma^2 / d_j)  (finite
 *   where q[0] overflows),  q[2] = sum_j log d_j,
 * with d_j = alpha^2 lambda_j + sigma^2. */
void cemi_gauss_part_gain(const cemi_gauss_part *g, double *v, cemi_ou c, double *q);

/* Y (rows x dim) = M + C Q^T, where the first nmu rows of M are mu and the
 * others 0 (the tangents of a Jacobian product). */
void cemi_gauss_part_back(const cemi_gauss_part *g, size_t rows, size_t nmu, const double *C,
                          double *Y);

#endif /* CEM_GAUSS_PART_H */
