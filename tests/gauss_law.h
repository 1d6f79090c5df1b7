/*
 * gauss_law.h -- the sampler's integrators on Gaussian data, exactly.
 *
 * With the exact Gaussian model f is affine in y, so every integrator step
 * is an affine Gaussian map and the law of the sampler's output is Gaussian
 * with moments propagated here, direction by direction in the eigenbasis
 * of Sigma, from the formulas of docs/MATH.md 5 and of Lu et al. 2022
 * (written independently of src/integrators.c).  Used by the sampler suite
 * (tests/test_sampler.c) and by tests/sampling_orders.c, which tabulates
 * the errors in docs/SAMPLING.md.
 */
#ifndef CEM_GAUSS_LAW_H
#define CEM_GAUSS_LAW_H

#include "cemdiff.h"

/* The data: N(mu, Sigma) in R^2, Sigma = Q diag(LAM) Q^T with Q the
 * rotation by 30 degrees (filled by setup_gaussian). */
extern const double MU[2], LAM[2];
extern double Q[2][2];

/* Fills Q and writes mu (2) and Sigma (2 x 2) as floats for the model. */
void setup_gaussian(float *mu, float *cov);

/* OU coefficients in long double. */
typedef struct { long double a, s2, s; } ou;
ou ou_at(long double t);

/* f = mu' + gain (y - alpha mu') along an eigendirection of variance lam. */
long double gain(long double lam, long double t);

/* The law N(*m, *v) of y(t1) (not denoised) along direction k after the
 * N - 1 steps of `integ` on the grid `kind` over [1e-3, 10] from
 * y(T) ~ N(m0, v0). */
void scheme_law(int integ, cem_grid kind, int N, int k, long double m0, long double v0,
                long double *m, long double *v);

/* An integrator id beyond the library's: DPM-Solver++(3M) as its
 * published multistep code has it, the second difference D2 half of the
 * Taylor weight (docs/SAMPLING.md). */
#define GAUSS_3M_PUBLISHED 100

/* The library's own path against the exact flow: the probability-flow
 * ODE of Gaussian data keeps (z - alpha mu') / sqrt(v_t) constant along
 * each eigendirection (v_t = alpha_t^2 lambda + sigma_t^2), so y(t1) is
 * known exactly from y(T).  Runs a sampler of the deterministic `integ` on
 * the Gaussian model m (of setup_gaussian) with M steps on grid `kind`
 * over [1e-3, 10], DENOISE off, and returns the largest error of y(t1)
 * over 64 rows and both directions (NaN if a call failed). */
double gauss_flow_error(cem_model_t *m, int integ, cem_grid kind, int M);

/* The integrator's order in theory: 1 for the first-order steps, 2 for
 * HEUN, DPMPP_2M and DPMPP_2M_SDE, 3 for DPMPP_3M. */
int gauss_theory_order(int integ);

/* The first of four doubling step counts M0, 2 M0, 4 M0, 8 M0 over which
 * an order is measured: 10 for the few-step methods (from 10 steps on they
 * take their full order but for the warm-up), 20 for the others, 160 for
 * SPLITTING (unstable below ~20 steps, its error falls faster than its
 * order up to a few hundred), 160 for the published 3M (whose third-order
 * terms still dominate its error below that). */
int gauss_order_m0(int integ);

/* Least-squares slope of log err against log M over n points. */
double gauss_loglog_slope(const double *M, const double *err, int n);

/* The weak error of `integ` with M steps on grid `kind`: the law of y(t1)
 * (mean and variance, both directions, summed) from the exact
 * p_T = N(alpha_T mu, alpha_T^2 Sigma + sigma_T^2 I), against the exact
 * p_t1. */
double gauss_weak_error(int integ, cem_grid kind, int M);

/* The measured weak order, minus the slope of gauss_weak_error over
 * M = gauss_order_m0(integ) .. 8 times it; writes the four M and errors. */
double gauss_weak_order(int integ, cem_grid kind, double M[4], double err[4]);

#endif /* CEM_GAUSS_LAW_H */
