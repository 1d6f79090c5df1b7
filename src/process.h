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

/* "CEM", "NOISE" or "SCORE" (messages). */
const char *cemi_target_name(int target);

/* EDM's log-normal law of ln s (Karras et al. 2022): P_mean, P_std. */
#define CEMI_EDM_P_MEAN (-1.2)
#define CEMI_EDM_P_STD 1.2

/* A training time law on [t1, T], with what its draws need precomputed
 * (cemi_tlaw_init).  N: grid points (GRID); p_mean, p_std: the LOGNORMAL
 * law's ln s ~ N(p_mean, p_std^2), s^2 = expm1(t), truncated to [t1, T];
 * cum: for ADAPTIVE, K + 1 increasing cumulative shares (cum[0] = 0,
 * cum[K] = 1) of K equal bins of log t, not owned. */
typedef struct {
    int law; /* cem_time_law */
    int N;
    double t1, T, lt1, lT; /* lt1 = log t1, lT = log T */
    double p_mean, p_std;
    double pa, pb;  /* LOGNORMAL: the truncation's normal CDFs (upper tails when upper) */
    int upper;
    int K;
    const double *cum;
} cemi_tlaw;

void cemi_tlaw_init(cemi_tlaw *L, int law, int N, double t1, double T, double p_mean,
                    double p_std, int K, const double *cum);

/* The time of u in [0, 1) (inverse CDF). */
double cemi_tlaw_map(const cemi_tlaw *L, double u);

/* P(time <= t) under the law. */
double cemi_tlaw_cdf(const cemi_tlaw *L, double t);

/* p(t)/q(t) for t in [t1, T]: q the law's density of log t, p the
 * log-uniform one; 1 for GRID (the discrete twin of log-uniform). */
double cemi_tlaw_importance(const cemi_tlaw *L, double t);

/* The standard normal CDF and its inverse (p in (0, 1)), in double. */
double cemi_norm_cdf(double z);
double cemi_norm_quantile(double p);

/* The time at which the noise-to-signal ratio s = sqrt(expm1(t)) is sd
 * times what it is at t: log1p(sd^2 expm1(t)).  Moves a time meant for
 * data of unit variance to data of standard deviation sd. */
double cemi_time_for_scale(double t, double sd);

/* EDM's preconditioning in OU time at t for data of standard deviation sd
 * (docs/MATH.md): y = x inv_alpha, f = mu + c_skip (y - mu) + c_out F(c_in
 * (y - mu), t). */
typedef struct {
    double inv_alpha, c_skip, c_out, c_in;
} cemi_precond;

cemi_precond cemi_precond_at(double t, double sd);

/* c_skip and c_out alone, from s2 = expm1(t) (computed once per row when
 * every principal axis of the data has its own sd: CEM_PARAM_PRECOND_PCA). */
void cemi_precond_skip_out(double s2, double sd, double *c_skip, double *c_out);

/* t1 (T/t1)^a for 0 < t1 < T finite and a in [0, 1]: t1 exp(a log(T/t1)),
 * or, when T/t1 overflows, the same from log t1 and log T (never inf). */
double cemi_geom_interp(double t1, double T, double a);

/* ln s at time t, where s^2 = expm1(t) is the noise-to-signal ratio
 * sigma_t^2 / alpha_t^2 (so the log-SNR of DPM-Solver is lambda = -ln s);
 * finite for every finite t > 0.  cemi_time_of_log_s is its inverse. */
double cemi_log_s(double t);
double cemi_time_of_log_s(double ls);

/* EDM's grid exponent (Karras et al. 2022): s^(1/rho) evenly spaced. */
#define CEMI_EDM_RHO 7.0

/* The k-th point (0-based) of the exponential grid of N points on [t1, T]. */
double cemi_grid_exp_point(int k, int N, double t1, double T);

/* The N points of cem_time_grid, unchecked: kind EXPONENTIAL or UNIFORM,
 * N >= 2, 0 < t1 < T finite (the sampler's plan, whose options were
 * checked; a window a few ulps wide may repeat a point there, a step of
 * length 0, where cem_time_grid refuses it). */
void cemi_time_grid_fill(cem_grid kind, int N, double t1, double T, double *out);

/* Validates (N, t1, T) for a grid or time law; on failure records a
 * message (prefixed with `fn`) and returns CEM_ERR_ARG. */
int cemi_check_window(const char *fn, int N, double t1, double T);

#endif /* CEM_PROCESS_H */
