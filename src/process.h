/*
 * process.h -- layer 2: the forward OU process, conversions between the
 * three targets, time grids and training time laws (docs/MATH.md 1-4).
 */
#ifndef CEM_PROCESS_H
#define CEM_PROCESS_H

#include "base.h"

/* OU coefficients at t > 0: alpha = exp(-t/2), sigma2 = -expm1(-t),
 * sigma = sqrt(sigma2).  No checks: callers validate t. */
typedef struct {
    double alpha, sigma2, sigma;
} cemi_ou;

cemi_ou cemi_ou_at(double t);

/* 1 when t is a valid evaluation time (finite, > 0). */
int cemi_time_ok(double t);

/* Converts one row of `dim` values of target `from` at (x, t) into target
 * `to`, in double.  `out` may equal `in`. */
void cemi_convert_row(cem_target from, cem_target to, int dim, const float *x,
                      double t, const double *in, double *out);

/* Maps u in (0,1) to a time drawn from `law` on [t1, T] (N grid points for
 * CEM_TIMELAW_GRID).  Arguments are assumed valid. */
double cemi_time_law_map(cem_time_law law, int N, double t1, double T,
                         double u);

/* The k-th point (0-based) of the exponential grid of N points on [t1, T]. */
double cemi_grid_exp_point(int k, int N, double t1, double T);

/* Validates (N, t1, T) for a grid or time law; on failure records a
 * message (prefixed with `fn`) and returns CEM_ERR_ARG. */
int cemi_check_window(const char *fn, int N, double t1, double T);

#endif /* CEM_PROCESS_H */
