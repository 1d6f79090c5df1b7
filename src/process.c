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

const char *cemi_target_name(int target)
{
    return target == CEM_TARGET_NOISE ? "NOISE" : target == CEM_TARGET_SCORE ? "SCORE" : "CEM";
}

/* Converts rows [0, n) into out, or, when out is NULL, only finds the first
 * value that is not finite in float: returns its index (n * dim when
 * every one is finite) and the value in *bad. */
static size_t convert_rows(cem_target from, cem_target to, size_t n, int dim, const float *x,
                           const double *t, const float *in, float *out, double *bad)
{
    double buf[64];
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * (size_t)dim;
        const float *ini = in + i * (size_t)dim;
        for (int j0 = 0; j0 < dim; j0 += 64) { /* elementwise: chunk freely */
            int m = dim - j0 < 64 ? dim - j0 : 64;
            for (int j = 0; j < m; j++)
                buf[j] = ini[j0 + j];
            cemi_convert_row(from, to, m, xi + j0, t[i], buf, buf);
            for (int j = 0; j < m; j++) {
                float v = (float)buf[j];
                if (out)
                    out[i * (size_t)dim + (size_t)(j0 + j)] = v;
                else if (!isfinite(v)) {
                    *bad = buf[j];
                    return i * (size_t)dim + (size_t)(j0 + j);
                }
            }
        }
    }
    return n * (size_t)dim;
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
    size_t cells, bytes;
    if (!cemi_mul_ok(n, (size_t)dim, &cells) || !cemi_mul_ok(cells, sizeof(float), &bytes) ||
        !cemi_mul_ok(n, sizeof(double), &bytes))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: n = %zu rows of %d values exceed the address "
                         "space", fn, n, dim);
    for (size_t i = 0; i < n; i++)
        if (!cemi_time_ok(t[i]))
            return cemi_fail(NULL, CEM_ERR_ARG,
                             "%s: t[%zu] = %g is not a finite time > 0", fn, i, t[i]);
    const float *arr[2] = {x, in};
    static const char *const name[2] = {"x", "in"};
    for (int a = 0; a < 2; a++) {
        size_t k = cemi_first_nonfinite_f(arr[a], cells);
        if (k < cells)
            return cemi_fail(NULL, CEM_ERR_NONFINITE, "%s: %s row %zu column %d is %g", fn,
                             name[a], k / (size_t)dim, (int)(k % (size_t)dim),
                             (double)arr[a][k]);
    }
    /* A result can overflow float although the inputs are finite: into f
     * divides by alpha_t (0 in double from t ~ 1490: then Inf, or NaN when
     * the numerator is 0 too), into eps by sigma_t and into S by sigma_t^2
     * (tiny for tiny t).  A first pass finds such a value before anything
     * is written (out may be in). */
    double bad = 0;
    size_t k = convert_rows(from, to, n, dim, x, t, in, NULL, &bad);
    if (k < cells) {
        size_t i = k / (size_t)dim;
        cemi_ou c = cemi_ou_at(t[i]);
        return cemi_fail(NULL, CEM_ERR_NUMERIC,
                         "%s: %s -> %s at t[%zu] = %g (alpha_t = %g, sigma_t^2 = %g): row %zu "
                         "column %d = %g is not finite in float", fn,
                         cemi_target_name((int)from), cemi_target_name((int)to), i, t[i],
                         c.alpha, c.sigma2, i, (int)(k % (size_t)dim), bad);
    }
    convert_rows(from, to, n, dim, x, t, in, out, NULL);
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

double cemi_geom_interp(double t1, double T, double a)
{
    double r = T / t1;
    if (isfinite(r))
        return t1 * exp(a * log(r));
    /* T / t1 beyond double (t1 = 1e-300, T = 1e300): the same point from
     * the logarithms, each finite; clamped, since exp may round past T */
    double v = exp(log(t1) + a * (log(T) - log(t1)));
    return v < t1 ? t1 : v > T ? T : v;
}

double cemi_log_s(double t)
{
    /* expm1(t) overflows beyond t ~ 709: there log expm1(t) = t + log1p(-e^-t) */
    return t > 30.0 ? 0.5 * (t + log1p(-exp(-t))) : 0.5 * log(expm1(t));
}

double cemi_time_of_log_s(double ls)
{
    double u = 2.0 * ls; /* t = log1p(e^u) */
    return u > 30.0 ? u + log1p(exp(-u)) : log1p(exp(u));
}

double cemi_grid_exp_point(int k, int N, double t1, double T)
{
    if (k == N - 1)
        return T;
    if (k == 0)
        return t1;
    /* t_k = t1 (1-gamma)^-k with (1-gamma) = (t1/T)^(1/(N-1)) */
    return cemi_geom_interp(t1, T, (double)k / (double)(N - 1));
}

/* The k-th point of a grid in ln s (s^2 = expm1(t), the noise-to-signal
 * ratio): LOGSNR spaces ln s evenly, EDM spaces s^(1/rho) evenly, computed
 * as ln s = ln s_T + rho ln(a + u (1 - a)) with a = (s_1/s_T)^(1/rho) so
 * that no power of s overflows. */
static double grid_point_in_s(cem_grid kind, int k, int N, double t1, double T)
{
    const double l1 = cemi_log_s(t1), lT = cemi_log_s(T), u = (double)k / (double)(N - 1);
    double ls;
    if (kind == CEM_GRID_LOGSNR) {
        ls = l1 + u * (lT - l1);
    } else {
        const double a = exp((l1 - lT) / CEMI_EDM_RHO);
        ls = lT + CEMI_EDM_RHO * log(a + u * (1.0 - a));
    }
    double t = cemi_time_of_log_s(ls);
    return t < t1 ? t1 : t > T ? T : t;
}

static double grid_point(cem_grid kind, int k, int N, double t1, double T)
{
    if (k == 0)
        return t1;
    if (k == N - 1)
        return T;
    switch (kind) {
    case CEM_GRID_EXPONENTIAL:
        return cemi_grid_exp_point(k, N, t1, T);
    case CEM_GRID_UNIFORM:
        return t1 + (T - t1) * ((double)k / (double)(N - 1));
    default:
        return grid_point_in_s(kind, k, N, t1, T);
    }
}

const char *cem_grid_name(cem_grid kind)
{
    static const char *const names[] = {"exponential", "uniform", "logsnr", "edm"};
    return (int)kind >= 0 && (int)kind < (int)(sizeof names / sizeof names[0]) ? names[kind]
                                                                            : NULL;
}

void cemi_time_grid_fill(cem_grid kind, int N, double t1, double T, double *out)
{
    for (int k = 0; k < N; k++)
        out[k] = grid_point(kind, k, N, t1, T);
}

int cem_time_grid(cem_grid kind, int N, double t1, double T, double *out)
{
    static const char fn[] = "cem_time_grid";
    int st = cemi_check_window(fn, N, t1, T);
    if (st)
        return st;
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    if (!cem_grid_name(kind))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: unknown grid kind %d", fn, (int)kind);
    /* the promise is N increasing points: checked before anything is
     * written (t1 and T a few ulps apart cannot hold N distinct points) */
    double prev = t1;
    for (int k = 1; k < N; k++) {
        double v = grid_point(kind, k, N, t1, T);
        if (!(v > prev))
            return cemi_fail(NULL, CEM_ERR_ARG,
                             "%s: t1 = %.17g and T = %.17g give no %d increasing points on "
                             "the %s grid (point %d is not above point %d in double: the "
                             "window is too narrow%s)", fn, t1, T, N, cem_grid_name(kind), k,
                             k - 1, kind == CEM_GRID_EDM ? ", or too wide for EDM's points, "
                             "which crowd at T" : "");
        prev = v;
    }
    cemi_time_grid_fill(kind, N, t1, T, out);
    return CEM_OK;
}

/* ------------------------------------------------------------ time laws */

double cemi_norm_cdf(double z) { return 0.5 * erfc(-z * 0.70710678118654752440); }

/* Acklam's rational approximation (relative error 1.2e-9), then one Halley
 * step on erfc: full double precision. */
double cemi_norm_quantile(double p)
{
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                -2.759285104469687e+02, 1.383577518672690e+02,
                                -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                -1.556989798598866e+02, 6.680131188771972e+01,
                                -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                -2.400758277161838e+00, -2.549732539343734e+00,
                                4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01,
                                2.445134137142996e+00, 3.754408661907416e+00};
    const double lo = 0.02425;
    double x;
    if (p < lo || p > 1.0 - lo) {
        double q = sqrt(-2.0 * log(p < lo ? p : 1.0 - p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
        if (p > lo)
            x = -x;
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    }
    /* Halley on e(x) = Phi(x) - p, in the tail where the error is smaller */
    double e = x < 0 ? cemi_norm_cdf(x) - p : (1.0 - p) - cemi_norm_cdf(-x);
    double u = e * 2.50662827463100050242 * exp(0.5 * x * x);
    return x - u / (1.0 + 0.5 * x * u);
}


void cemi_tlaw_init(cemi_tlaw *L, int law, int N, double t1, double T, double p_mean,
                    double p_std, int K, const double *cum)
{
    L->law = law;
    L->N = N;
    L->t1 = t1;
    L->T = T;
    L->lt1 = log(t1);
    L->lT = log(T);
    L->p_mean = p_mean;
    L->p_std = p_std;
    L->K = K;
    L->cum = cum;
    double za = (cemi_log_s(t1) - p_mean) / p_std, zb = (cemi_log_s(T) - p_mean) / p_std;
    /* in the upper tail work with 1 - Phi, which keeps its digits */
    L->upper = za > 0;
    L->pa = L->upper ? cemi_norm_cdf(-za) : cemi_norm_cdf(za);
    L->pb = L->upper ? cemi_norm_cdf(-zb) : cemi_norm_cdf(zb);
}

static double clamp_time(const cemi_tlaw *L, double t)
{
    return t < L->t1 ? L->t1 : t > L->T ? L->T : t;
}

double cemi_tlaw_map(const cemi_tlaw *L, double u)
{
    switch (L->law) {
    case CEM_TIMELAW_GRID: {
        int k = (int)(u * L->N);
        if (k >= L->N)
            k = L->N - 1;
        return cemi_grid_exp_point(k, L->N, L->t1, L->T);
    }
    case CEM_TIMELAW_LOGUNIFORM:
        return clamp_time(L, cemi_geom_interp(L->t1, L->T, u));
    case CEM_TIMELAW_LOGNORMAL: {
        double p = L->pa + u * (L->pb - L->pa);
        double z = L->upper ? -cemi_norm_quantile(p) : cemi_norm_quantile(p);
        double ls = L->p_mean + L->p_std * z;
        return clamp_time(L, cemi_time_of_log_s(ls));
    }
    case CEM_TIMELAW_ADAPTIVE: {
        int b = 0;
        while (b < L->K - 1 && u >= L->cum[b + 1])
            b++;
        double w = L->cum[b + 1] - L->cum[b];
        double v = w > 0 ? (u - L->cum[b]) / w : 0.5;
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        return clamp_time(L, exp(L->lt1 + (L->lT - L->lt1) * ((double)b + v) / L->K));
    }
    default:
        return L->t1 + u * (L->T - L->t1);
    }
}

double cemi_tlaw_cdf(const cemi_tlaw *L, double t)
{
    if (t < L->t1)
        return 0.0;
    if (t >= L->T)
        return 1.0;
    double x = (log(t) - L->lt1) / (L->lT - L->lt1); /* log-uniform position */
    switch (L->law) {
    case CEM_TIMELAW_GRID: { /* points t_k <= t: the guess from x, settled on the points */
        int k = (int)floor(x * (L->N - 1));
        k = k < 0 ? 0 : k > L->N - 1 ? L->N - 1 : k;
        while (k + 1 < L->N && cemi_grid_exp_point(k + 1, L->N, L->t1, L->T) <= t)
            k++;
        while (k >= 0 && cemi_grid_exp_point(k, L->N, L->t1, L->T) > t)
            k--;
        return (double)(k + 1) / L->N;
    }
    case CEM_TIMELAW_LOGUNIFORM: return x;
    case CEM_TIMELAW_LOGNORMAL: {
        double z = (cemi_log_s(t) - L->p_mean) / L->p_std;
        double p = L->upper ? cemi_norm_cdf(-z) : cemi_norm_cdf(z);
        return (p - L->pa) / (L->pb - L->pa);
    }
    case CEM_TIMELAW_ADAPTIVE: {
        double y = x * L->K;
        int b = (int)y;
        if (b >= L->K)
            return 1.0;
        return L->cum[b] + (y - b) * (L->cum[b + 1] - L->cum[b]);
    }
    default: return (t - L->t1) / (L->T - L->t1);
    }
}

double cemi_tlaw_importance(const cemi_tlaw *L, double t)
{
    const double width = L->lT - L->lt1; /* p(log t) = 1 / width */
    double q;                             /* the law's density of log t */
    switch (L->law) {
    case CEM_TIMELAW_UNIFORM: q = t / (L->T - L->t1); break;
    case CEM_TIMELAW_LOGNORMAL: {
        double z = (cemi_log_s(t) - L->p_mean) / L->p_std;
        double dens = 0.39894228040143267794 * exp(-0.5 * z * z) / (L->p_std * fabs(L->pb - L->pa));
        q = dens * 0.5 * t * exp(t) / expm1(t); /* d ln s / d log t */
        break;
    }
    case CEM_TIMELAW_ADAPTIVE: {
        int b = (int)((log(t) - L->lt1) / width * L->K);
        b = b < 0 ? 0 : b >= L->K ? L->K - 1 : b;
        q = (L->cum[b + 1] - L->cum[b]) * L->K / width;
        break;
    }
    default: return 1.0; /* GRID, LOGUNIFORM */
    }
    return 1.0 / (width * q);
}

double cemi_time_for_scale(double t, double sd) { return log1p(sd * sd * expm1(t)); }

void cemi_precond_skip_out(double s2, double sd, double *c_skip, double *c_out)
{
    double v = s2 + sd * sd;
    *c_skip = sd * sd / v;
    *c_out = sqrt(s2) * sd / sqrt(v);
}

cemi_precond cemi_precond_at(double t, double sd)
{
    cemi_precond c;
    double s2 = expm1(t);
    c.inv_alpha = exp(0.5 * t);
    cemi_precond_skip_out(s2, sd, &c.c_skip, &c.c_out);
    c.c_in = 1.0 / sqrt(s2 + sd * sd);
    return c;
}

int cem_time_law_sample(cem_time_law law, int N, double t1, double T,
                        uint64_t seed, size_t n, double *out)
{
    static const char fn[] = "cem_time_law_sample";
    int st = cemi_check_window(fn, N, t1, T);
    if (st)
        return st;
    if (law == CEM_TIMELAW_ADAPTIVE)
        return cemi_fail(NULL, CEM_ERR_UNSUPPORTED,
                         "%s: the ADAPTIVE law exists only inside a trainer", fn);
    if (law < CEM_TIMELAW_GRID || law > CEM_TIMELAW_LOGNORMAL)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: unknown time law %d", fn, (int)law);
    if (n > 0 && !out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL with n = %zu", fn, n);
    cemi_tlaw L;
    cemi_tlaw_init(&L, (int)law, N, t1, T, CEMI_EDM_P_MEAN, CEMI_EDM_P_STD, 0, NULL);
    for (size_t i = 0; i < n; i++) {
        cemi_rng r;
        cemi_rng_init(&r, seed, (uint64_t)i);
        out[i] = cemi_tlaw_map(&L, cemi_rng_uniform(&r));
    }
    return CEM_OK;
}
