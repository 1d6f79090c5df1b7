/*
 * integrators.c -- the reverse-time steps of docs/MATH.md 5 (layer 4).
 *
 * The four one-evaluation methods are all of the form
 *     y <- c0 y + c1 fh + c2 xi,      fh = f(y, t), xi ~ N(0, I),
 * with scalar coefficients that depend only on (t, s), so they share one
 * step kernel and differ in `coeffs`.  Heun needs two evaluations.  The
 * DPM-Solver++ multistep methods (Lu et al. 2022, "DPM-Solver++") add the
 * model's values at the previous one or two grid points:
 *     y <- c0 y + c1 fh + c2 f_prev + c3 f_prev2 + c4 xi.
 * Coefficients are computed with expm1 wherever t or h can be small.
 */
#include "integrators.h"

#include "process.h"

#include <math.h>

/* Euler-Maruyama on dY = (Y/2 + (alpha f - Y)/sigma^2) dh + dB. */
static void euler_coeffs(double t, double s, double c[3])
{
    double h = t - s;
    cemi_ou o = cemi_ou_at(t);
    c[0] = 1.0 + 0.5 * h - h / o.sigma2;
    c[1] = h * o.alpha / o.sigma2;
    c[2] = sqrt(h);
}

/* The singular drift with frozen f, explicitly: y1 = y + (h/sigma^2)(alpha f - y);
 * then the OU part exactly: y = exp(h/2) y1 + sqrt(expm1(h)) xi. */
static void splitting_coeffs(double t, double s, double c[3])
{
    double h = t - s;
    cemi_ou o = cemi_ou_at(t);
    double r = h / o.sigma2, e = exp(0.5 * h);
    c[0] = e * (1.0 - r);
    c[1] = e * r * o.alpha;
    c[2] = sqrt(expm1(h));
}

/* The DDPM posterior of X_s given X_t = y and X_0 = f:
 * A = alpha_{t|s} sigma_s^2 / sigma_t^2, B = alpha_s sigma_{t|s}^2 / sigma_t^2,
 * V = sigma_{t|s}^2 sigma_s^2 / sigma_t^2. */
static void ancestral_coeffs(double t, double s, double c[3])
{
    double h = t - s;
    cemi_ou ot = cemi_ou_at(t), os = cemi_ou_at(s);
    double a_ts = exp(-0.5 * h), s2_ts = -expm1(-h);
    c[0] = a_ts * os.sigma2 / ot.sigma2;
    c[1] = os.alpha * s2_ts / ot.sigma2;
    c[2] = sqrt(s2_ts * os.sigma2 / ot.sigma2);
}

/* DDIM: y <- alpha_s f + sigma_s (y - alpha_t f) / sigma_t. */
static void ode_coeffs(double t, double s, double c[3])
{
    cemi_ou ot = cemi_ou_at(t), os = cemi_ou_at(s);
    double r = os.sigma / ot.sigma;
    c[0] = r;
    c[1] = os.alpha - r * ot.alpha;
    c[2] = 0.0;
}

static void affine_step(const void *self, const cemi_step_at *at, void *ctx, cemi_eval_fn eval,
                        size_t R, int D, float *y, float *f, float *prev[2], cemi_rng *rng)
{
    (void)prev;
    const cemi_integrator *in = self;
    const double t = at->times[at->N - 1 - at->k], s = at->times[at->N - 2 - at->k];
    double c[3];
    in->coeffs(t, s, c);
    eval(ctx, R, y, t, f);
    for (size_t i = 0; i < R; i++) {
        float *yi = y + i * (size_t)D;
        const float *fi = f + i * (size_t)D;
        for (int j = 0; j < D; j++) {
            double v = c[0] * yi[j] + c[1] * fi[j];
            if (in->stochastic)
                v += c[2] * cemi_rng_normal(&rng[i]);
            yi[j] = (float)v;
        }
    }
}

/* Heun on the probability-flow ODE in the variables of EDM: x = y / alpha,
 * u = sigma / alpha, where dx/du = (x - f) / u.  Euler in these variables is
 * exactly the DDIM step; Heun averages the slopes at both ends. */
static void heun_step(const void *self, const cemi_step_at *at, void *ctx, cemi_eval_fn eval,
                      size_t R, int D, float *y, float *f, float *prev[2], cemi_rng *rng)
{
    (void)self;
    (void)rng;
    float *ypred = prev[0], *f2 = prev[1]; /* no history: scratch */
    const double t = at->times[at->N - 1 - at->k], s = at->times[at->N - 2 - at->k];
    cemi_ou ot = cemi_ou_at(t), os = cemi_ou_at(s);
    double ut = ot.sigma / ot.alpha, us = os.sigma / os.alpha, du = us - ut;
    size_t n = R * (size_t)D;
    eval(ctx, R, y, t, f);
    for (size_t k = 0; k < n; k++) { /* predictor (the DDIM step) */
        double x = y[k] / ot.alpha, d1 = (x - f[k]) / ut;
        ypred[k] = (float)(os.alpha * (x + du * d1));
    }
    eval(ctx, R, ypred, s, f2);
    for (size_t k = 0; k < n; k++) { /* corrector */
        double x = y[k] / ot.alpha, d1 = (x - f[k]) / ut;
        double xp = ypred[k] / os.alpha, d2 = (xp - f2[k]) / us;
        y[k] = (float)(os.alpha * (x + 0.5 * du * (d1 + d2)));
    }
}

/* The order a multistep method of full order p uses in step k of M: it
 * warms up (order k + 1 at step k) and, on grids of fewer than 10 steps,
 * lowers the order again over the last ones (DPM-Solver's
 * lower_order_final: at most M - k), as Lu et al. 2022. */
static int multistep_order(int p, int k, int M)
{
    int q = p < k + 1 ? p : k + 1;
    if (M < 10 && q > M - k)
        q = M - k;
    return q;
}

/* DPM-Solver++ in OU time.  With lambda = log(alpha/sigma) = -ln s (the
 * log-SNR), h = lambda_s - lambda_t > 0 and phi1 = expm1(-h), the data
 * prediction integrates exactly as
 *     y_s = (sigma_s/sigma_t) y_t - alpha_s phi1 D,
 * with D = f_t at first order (DDIM), D = f_t + (f_t - f_prev)/(2 r0) at
 * second (2M, r0 = h_prev / h) and, at third (3M), the quadratic
 * extrapolation through three points with phi2 = phi1/h + 1 and
 * phi3 = phi2/h - 1/2:
 *     y_s = (sigma_s/sigma_t) y_t - alpha_s (phi1 f_t - phi2 D1 + phi3 D2),
 *     D1_0 = (f_t - f_prev)/r0, D1_1 = (f_prev - f_prev2)/r1,
 *     D1 = D1_0 + r0 (D1_0 - D1_1)/(r0 + r1) ~ h f',
 *     D2 = 2 (D1_0 - D1_1)/(r0 + r1) ~ h^2 f''.
 * (The integral of e^(u-h) u^2/2 f'' over [0, h] is -h^2 phi3 f''.  The
 * published multistep code, dpm-solver's and diffusers', has D2 without the
 * factor 2, i.e. h^2 f''/2, and converges at second order only:
 * docs/SAMPLING.md measures both.)
 * The SDE variant (2M SDE, midpoint form) solves the reverse SDE with the
 * same extrapolation of f, its linear part and its noise exactly:
 *     y_s = (sigma_s/sigma_t) e^-h y_t + alpha_s (1 - e^-2h)(f_t + D1_0/2)
 *           + sigma_s sqrt(1 - e^-2h) xi.
 * Its first-order step is the ANCESTRAL step.  c[0..4] multiply y, f_t,
 * f_prev, f_prev2 and xi. */
static void dpmpp_coeffs(const cemi_integrator *in, const cemi_step_at *at, double c[5])
{
    const int N = at->N, k = at->k, M = N - 1;
    const double t = at->times[N - 1 - k], s = at->times[N - 2 - k];
    const int q = multistep_order(in->order, k, M);
    const cemi_ou ot = cemi_ou_at(t), os = cemi_ou_at(s);
    const double lt = -cemi_log_s(t), ls = -cemi_log_s(s), h = ls - lt;
    /* earlier start times: the previous steps began at times[N - k], times[N + 1 - k] */
    const double r0 = q >= 2 ? (lt + cemi_log_s(at->times[N - k])) / h : 1.0;
    const double r1 = q >= 3 ? (-cemi_log_s(at->times[N - k]) + cemi_log_s(at->times[N + 1 - k])) / h
                             : 1.0;
    c[1] = c[2] = c[3] = c[4] = 0.0;
    if (in->stochastic) {
        const double e2 = -expm1(-2.0 * h), b = os.alpha * e2;
        c[0] = os.sigma / ot.sigma * exp(-h);
        c[1] = b;
        if (q >= 2) { /* b (f_t + (f_t - f_prev) / (2 r0)) */
            c[1] += b / (2.0 * r0);
            c[2] = -b / (2.0 * r0);
        }
        c[4] = os.sigma * sqrt(e2);
        return;
    }
    const double phi1 = expm1(-h), a = -os.alpha * phi1;
    c[0] = os.sigma / ot.sigma;
    c[1] = a;
    if (q == 2) { /* a (f_t + (f_t - f_prev) / (2 r0)) */
        c[1] += a / (2.0 * r0);
        c[2] = -a / (2.0 * r0);
    } else if (q == 3) {
        const double phi2 = phi1 / h + 1.0, phi3 = phi2 / h - 0.5;
        const double b = os.alpha * phi2, g = -os.alpha * phi3, rr = r0 + r1;
        /* y' = c0 y + a f_t + d D1_0 + e D1_1 */
        const double d = b * (1.0 + r0 / rr) + 2.0 * g / rr, e = -b * r0 / rr - 2.0 * g / rr;
        c[1] += d / r0;
        c[2] = -d / r0 + e / r1;
        c[3] = -e / r1;
    }
}

static void dpmpp_step(const void *self, const cemi_step_at *at, void *ctx, cemi_eval_fn eval,
                       size_t R, int D, float *y, float *f, float *prev[2], cemi_rng *rng)
{
    const cemi_integrator *in = self;
    double c[5];
    dpmpp_coeffs(in, at, c);
    eval(ctx, R, y, at->times[at->N - 1 - at->k], f);
    const float *f1 = prev[0], *f2 = prev[1];
    for (size_t i = 0; i < R; i++) {
        float *yi = y + i * (size_t)D;
        const size_t o = i * (size_t)D;
        for (int j = 0; j < D; j++) {
            double v = c[0] * yi[j] + c[1] * f[o + j];
            if (c[2] != 0.0)
                v += c[2] * f1[o + j];
            if (c[3] != 0.0)
                v += c[3] * f2[o + j];
            if (in->stochastic)
                v += c[4] * cemi_rng_normal(&rng[i]);
            yi[j] = (float)v;
        }
    }
}

static const cemi_integrator table[] = {
    [CEM_INTEG_SPLITTING] = {"splitting", 1, 1, 0, affine_step, splitting_coeffs},
    [CEM_INTEG_EULER] = {"euler", 1, 1, 0, affine_step, euler_coeffs},
    [CEM_INTEG_ANCESTRAL] = {"ancestral", 1, 1, 0, affine_step, ancestral_coeffs},
    [CEM_INTEG_ODE] = {"ode", 1, 0, 0, affine_step, ode_coeffs},
    [CEM_INTEG_HEUN] = {"heun", 2, 0, 0, heun_step, NULL},
    [CEM_INTEG_DPMPP_2M] = {"dpmpp_2m", 1, 0, 2, dpmpp_step, NULL},
    [CEM_INTEG_DPMPP_2M_SDE] = {"dpmpp_2m_sde", 1, 1, 2, dpmpp_step, NULL},
    [CEM_INTEG_DPMPP_3M] = {"dpmpp_3m", 1, 0, 3, dpmpp_step, NULL},
};

const char *cem_integrator_name(cem_integrator id)
{
    const cemi_integrator *in = cemi_integrator_get((int)id);
    return in ? in->name : NULL;
}

const cemi_integrator *cemi_integrator_get(int id)
{
    if (id < 0 || id >= (int)(sizeof table / sizeof table[0]))
        return NULL;
    return &table[id];
}
