/*
 * process.c -- the forward process, conversions, grids and time laws
 * (layer 2; docs/MATH.md 1-4).
 */
#include "process.h"

#include <math.h>

cemi_ou cemi_ou_at(double t)
{
    cemi_ou c;
    c.alpha = exp(-0.5 * t);
    c.sigma2 = -expm1(-t);
    c.sigma = sqrt(c.sigma2);
    return c;
}

int cemi_time_ok(double t) { return isfinite(t) && t > 0.0; }

int cem_ou_coefficients(double t, double *alpha, double *sigma2)
{
    if (!isfinite(t) || t < 0.0)
        return cemi_fail(NULL, CEM_ERR_ARG,
                         "cem_ou_coefficients: t must be finite and >= 0 (got %g)", t);
    if (alpha)
        *alpha = exp(-0.5 * t);
    if (sigma2)
        *sigma2 = -expm1(-t);
    return CEM_OK;
}

static int target_ok(int v) { return v >= CEM_TARGET_CEM && v <= CEM_TARGET_SCORE; }

void cemi_convert_row(cem_target from, cem_target to, int dim, const float *x,
                      double t, const double *in, double *out)
{
    cemi_ou c = cemi_ou_at(t);
    for (int j = 0; j < dim; j++) {
        double xj = x[j], v = in[j], f;
        switch (from) { /* first to f, the bounded target */
        case CEM_TARGET_NOISE: f = (xj - c.sigma * v) / c.alpha; break;
        case CEM_TARGET_SCORE: f = (xj + c.sigma2 * v) / c.alpha; break;
        default: f = v; break;
        }
        switch (to) {
        case CEM_TARGET_NOISE:
            /* from SCORE this is exactly -sigma S; avoid the round trip */
            out[j] = from == CEM_TARGET_SCORE ? -c.sigma * v
                     : from == CEM_TARGET_NOISE ? v
                     : (xj - c.alpha * f) / c.sigma;
            break;
        case CEM_TARGET_SCORE:
            out[j] = from == CEM_TARGET_NOISE ? -v / c.sigma
                     : from == CEM_TARGET_SCORE ? v
                     : (c.alpha * f - xj) / c.sigma2;
            break;
        default: out[j] = f; break;
        }
    }
}

int cem_convert(cem_target from, cem_target to, size_t n, int dim,
                const float *x, const double *t, const float *in, float *out)
{
    static const char fn[] = "cem_convert";
    if (!target_ok((int)from) || !target_ok((int)to))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: unknown target (from=%d, to=%d)",
                         fn, (int)from, (int)to);
    if (dim < 1)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: dim must be >= 1 (got %d)", fn, dim);
    if (n == 0)
        return CEM_OK;
    if (!x || !t || !in || !out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: NULL array with n = %zu", fn, n);
    for (size_t i = 0; i < n; i++)
        if (!cemi_time_ok(t[i]))
            return cemi_fail(NULL, CEM_ERR_ARG,
                             "%s: t[%zu] = %g is not a finite time > 0", fn, i, t[i]);
    double buf[64];
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * (size_t)dim;
        const float *ini = in + i * (size_t)dim;
        float *oi = out + i * (size_t)dim;
        for (int j0 = 0; j0 < dim; j0 += 64) { /* elementwise: chunk freely */
            int m = dim - j0 < 64 ? dim - j0 : 64;
            for (int j = 0; j < m; j++)
                buf[j] = ini[j0 + j];
            cemi_convert_row(from, to, m, xi + j0, t[i], buf, buf);
            for (int j = 0; j < m; j++)
                oi[j0 + j] = (float)buf[j];
        }
    }
    return CEM_OK;
}

int cemi_check_window(const char *fn, int N, double t1, double T)
{
    if (N < 2)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: N must be >= 2 (got %d)", fn, N);
    if (!(isfinite(t1) && isfinite(T) && t1 > 0.0 && t1 < T))
        return cemi_fail(NULL, CEM_ERR_ARG,
                         "%s: need finite 0 < t1 < T (got t1 = %g, T = %g)", fn, t1, T);
    return CEM_OK;
}

double cemi_grid_exp_point(int k, int N, double t1, double T)
{
    if (k == N - 1)
        return T;
    if (k == 0)
        return t1;
    /* t_k = t1 (1-gamma)^-k with (1-gamma) = (t1/T)^(1/(N-1)) */
    return t1 * exp((double)k / (double)(N - 1) * log(T / t1));
}

int cem_time_grid(cem_grid kind, int N, double t1, double T, double *out)
{
    static const char fn[] = "cem_time_grid";
    int st = cemi_check_window(fn, N, t1, T);
    if (st)
        return st;
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    if (kind == CEM_GRID_EXPONENTIAL) {
        for (int k = 0; k < N; k++)
            out[k] = cemi_grid_exp_point(k, N, t1, T);
    } else if (kind == CEM_GRID_UNIFORM) {
        for (int k = 0; k < N; k++)
            out[k] = k == N - 1 ? T : t1 + (T - t1) * ((double)k / (double)(N - 1));
    } else {
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: unknown grid kind %d", fn, (int)kind);
    }
    return CEM_OK;
}

double cemi_time_law_map(cem_time_law law, int N, double t1, double T, double u)
{
    switch (law) {
    case CEM_TIMELAW_GRID: {
        int k = (int)(u * N);
        if (k >= N)
            k = N - 1;
        return cemi_grid_exp_point(k, N, t1, T);
    }
    case CEM_TIMELAW_LOGUNIFORM: {
        double t = t1 * exp(u * log(T / t1));
        return t < t1 ? t1 : t > T ? T : t;
    }
    default:
        return t1 + u * (T - t1);
    }
}

int cem_time_law_sample(cem_time_law law, int N, double t1, double T,
                        uint64_t seed, size_t n, double *out)
{
    static const char fn[] = "cem_time_law_sample";
    int st = cemi_check_window(fn, N, t1, T);
    if (st)
        return st;
    if (law < CEM_TIMELAW_GRID || law > CEM_TIMELAW_UNIFORM)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: unknown time law %d", fn, (int)law);
    if (n > 0 && !out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL with n = %zu", fn, n);
    for (size_t i = 0; i < n; i++) {
        cemi_rng r;
        cemi_rng_init(&r, seed, (uint64_t)i);
        out[i] = cemi_time_law_map(law, N, t1, T, cemi_rng_uniform(&r));
    }
    return CEM_OK;
}
