/*
 * integrators.c -- the reverse-time steps of docs/MATH.md 5 (layer 4).
 *
 * The four one-evaluation methods are all of the form
 *     y <- c0 y + c1 fh + c2 xi,      fh = f(y, t), xi ~ N(0, I),
 * with scalar coefficients that depend only on (t, s), so they share one
 * step kernel and differ in `coeffs`.  Heun needs two evaluations.
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

static void affine_step(const void *self, void *ctx, cemi_eval_fn eval, size_t R, int D,
                        float *y, double t, double s, float *f, float *scratch,
                        float *scratch2, cemi_rng *rng)
{
    (void)scratch;
    (void)scratch2;
    const cemi_integrator *in = self;
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
static void heun_step(const void *self, void *ctx, cemi_eval_fn eval, size_t R, int D,
                      float *y, double t, double s, float *f, float *ypred, float *f2,
                      cemi_rng *rng)
{
    (void)self;
    (void)rng;
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

static const cemi_integrator table[] = {
    [CEM_INTEG_SPLITTING] = {"splitting", 1, 1, affine_step, splitting_coeffs},
    [CEM_INTEG_EULER] = {"euler", 1, 1, affine_step, euler_coeffs},
    [CEM_INTEG_ANCESTRAL] = {"ancestral", 1, 1, affine_step, ancestral_coeffs},
    [CEM_INTEG_ODE] = {"ode", 1, 0, affine_step, ode_coeffs},
    [CEM_INTEG_HEUN] = {"heun", 2, 0, heun_step, NULL},
};

const cemi_integrator *cemi_integrator_get(int id)
{
    if (id < 0 || id >= (int)(sizeof table / sizeof table[0]))
        return NULL;
    return &table[id];
}
