/*
 * metrics.c -- measures of a sample set and the singularity profile of a
 * model (layer 5, docs/MATH.md 6-7).
 *
 * Everything is computed in double from the float inputs.
 *   - distance: cem_dataset_distance per point; the 95th percentile is
 *     numpy's default ("linear"): position 0.95 (n - 1) on the sorted
 *     distances, interpolated as numpy's _lerp does.
 *   - sliced W2: direction l is a normalised Gaussian vector drawn from the
 *     Philox stream (seed, l), so it depends on nothing else (not on the
 *     number of directions, not on the data).  The 1-D W2 between two
 *     empirical laws is integrated exactly: the quantile functions are step
 *     functions with breakpoints i/na and j/nb, merged in integer units of
 *     1/lcm(na, nb).
 *   - energy distance and MMD: V-statistics, every ordered pair including
 *     i = j, the three sums computed by one loop in one order, so that two
 *     identical inputs give exactly 0.  Rounding can leave a tiny negative
 *     value: results are clamped at 0, as the header promises >= 0.
 *   - KS: the sup of |F_n - F| for a nondecreasing F is attained at the
 *     sample points, as F(c) against F_n(c) or F(c-) against F_n(c-);
 *     ties are grouped, and F(c-) is F at the double just below c, exact
 *     for the step F of CEM_DATA_POINTS whose atoms are those doubles.
 *   - singularity profile: three cem_model_eval_at calls per time into one
 *     buffer allocated once per call; results are written to the caller's
 *     arrays only on success.
 *
 * Dataset handles are opaque here, so failures of the dataset metrics are
 * recorded on the calling thread only (cem_last_error); the profile records
 * its failures on the model too.
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SW2_MAX_DIRECTIONS 1000000

/* ------------------------------------------------------------ checks */

/* Validates an n x dim array named `what`: n >= 1, not NULL, n * dim fits;
 * then that every entry is finite (the message names the row and column). */
static int check_set(const char *fn, const char *what, size_t n, const float *x, int dim)
{
    if (n == 0)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: n%s = 0: at least one point is needed",
                         fn, what);
    if (!x)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: %s is NULL with n%s = %zu", fn, what, what, n);
    size_t total;
    if (!cemi_mul_ok(n, (size_t)dim, &total) || !cemi_mul_ok(total, sizeof(double), &total))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: n%s = %zu is too large for dim = %d", fn,
                         what, n, dim);
    total = n * (size_t)dim;
    size_t k = cemi_first_nonfinite_f(x, total);
    if (k < total)
        return cemi_fail(NULL, CEM_ERR_NONFINITE, "%s: %s row %zu column %d is %g", fn, what,
                         k / (size_t)dim, (int)(k % (size_t)dim), (double)x[k]);
    return CEM_OK;
}

/* The checks shared by the two-set metrics. */
static int check_pair(const char *fn, size_t na, const float *a, size_t nb, const float *b,
                      int dim, const double *out)
{
    if (dim < 1)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: dim = %d must be >= 1", fn, dim);
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    int st = check_set(fn, "a", na, a, dim);
    if (st)
        return st;
    return check_set(fn, "b", nb, b, dim);
}

/* The checks shared by the dataset metrics. */
static int check_dataset_rows(const char *fn, const cem_dataset_t *d, size_t n, const float *x)
{
    if (!d)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: dataset is NULL", fn);
    if (n == 0)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: n = 0: at least one point is needed", fn);
    if (!x)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: x is NULL with n = %zu", fn, n);
    int dim = cem_dataset_dim(d);
    size_t total;
    if (!cemi_mul_ok(n, (size_t)dim, &total) || !cemi_mul_ok(n, sizeof(double), &total))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: n = %zu is too large for dim = %d", fn, n, dim);
    total = n * (size_t)dim;
    size_t k = cemi_first_nonfinite_f(x, total);
    if (k < total)
        return cemi_fail(NULL, CEM_ERR_NONFINITE, "%s: x row %zu column %d is %g", fn,
                         k / (size_t)dim, (int)(k % (size_t)dim), (double)x[k]);
    return CEM_OK;
}

static int cmp_double(const void *p, const void *q)
{
    double a = *(const double *)p, b = *(const double *)q;
    return (a > b) - (a < b);
}

/* ------------------------------------------------------------ distance */

/* numpy's default percentile of the sorted s[0..n-1], q in [0, 1]. */
static double percentile_linear(const double *s, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    if (lo >= n - 1)
        return s[n - 1];
    double g = pos - (double)lo, a = s[lo], b = s[lo + 1], diff = b - a;
    return g >= 0.5 ? b - diff * (1.0 - g) : a + diff * g;
}

int cem_metric_distance(const cem_dataset_t *d, size_t n, const float *x, double *mean,
                        double *p95, double *max)
{
    static const char fn[] = "cem_metric_distance";
    int st = check_dataset_rows(fn, d, n, x);
    if (st)
        return st;
    double *dist = cemi_alloc(n, sizeof *dist);
    if (!dist)
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for %zu distances", fn, n);
    if ((st = cem_dataset_distance(d, n, x, dist))) {
        cemi_release(dist);
        return st;
    }
    double sum = 0.0, mx = 0.0;
    for (size_t i = 0; i < n; i++) {
        sum += dist[i];
        if (dist[i] > mx)
            mx = dist[i];
    }
    if (p95) {
        qsort(dist, n, sizeof *dist, cmp_double);
        *p95 = percentile_linear(dist, n, 0.95);
    }
    if (mean)
        *mean = sum / (double)n;
    if (max)
        *max = mx;
    cemi_release(dist);
    return CEM_OK;
}

/* ------------------------------------------------------------ sliced W2 */

static size_t gcd_size(size_t a, size_t b)
{
    while (b) {
        size_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* W2^2 between the empirical laws of the sorted sa[0..na-1] and
 * sb[0..nb-1]: the integral over q in (0, 1) of (Fa^-1(q) - Fb^-1(q))^2,
 * piece by piece in units of 1/L, L = lcm(na, nb) (ua = L/na, ub = L/nb). */
static double w2sq_sorted(const double *sa, size_t na, const double *sb, size_t nb, size_t L,
                          size_t ua, size_t ub)
{
    size_t i = 0, j = 0, cur = 0, ea = ua, eb = ub;
    double acc = 0.0;
    while (i < na && j < nb) {
        size_t next = ea < eb ? ea : eb;
        double diff = sa[i] - sb[j];
        acc += diff * diff * (double)(next - cur);
        cur = next;
        if (ea == next) {
            i++;
            ea += ua;
        }
        if (eb == next) {
            j++;
            eb += ub;
        }
    }
    return acc / (double)L;
}

/* Projections p[i] = <x_i, u> in double. */
static void project(const float *x, size_t n, int dim, const double *u, double *p)
{
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * (size_t)dim;
        double s = 0.0;
        for (int j = 0; j < dim; j++)
            s += (double)row[j] * u[j];
        p[i] = s;
    }
}

/* Direction l: dim normals from the stream (seed, l), normalised; redrawn
 * (from the same stream) in the practically impossible case of a zero
 * vector. */
static void direction(uint64_t seed, uint64_t l, int dim, double *u)
{
    cemi_rng r;
    cemi_rng_init(&r, seed, l);
    for (;;) {
        double s = 0.0;
        for (int j = 0; j < dim; j++) {
            u[j] = cemi_rng_normal(&r);
            s += u[j] * u[j];
        }
        if (s > 0.0 && isfinite(s)) {
            s = sqrt(s);
            for (int j = 0; j < dim; j++)
                u[j] /= s;
            return;
        }
    }
}

int cem_metric_sliced_w2(size_t na, const float *a, size_t nb, const float *b, int dim,
                         int directions, uint64_t seed, double *out)
{
    static const char fn[] = "cem_metric_sliced_w2";
    int st = check_pair(fn, na, a, nb, b, dim, out);
    if (st)
        return st;
    if (directions < 1 || directions > SW2_MAX_DIRECTIONS)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: directions = %d is outside [1, %d]", fn,
                         directions, SW2_MAX_DIRECTIONS);
    size_t g = gcd_size(na, nb), ua = nb / g, ub = na / g, L;
    if (!cemi_mul_ok(na, ua, &L))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: na = %zu and nb = %zu are too large "
                         "(their least common multiple overflows)", fn, na, nb);
    size_t nab;
    if (na > SIZE_MAX - nb || !cemi_mul_ok(na + nb, sizeof(double), &nab))
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: na + nb overflows", fn);
    double *pa = cemi_alloc(na + nb, sizeof *pa);
    double *u = cemi_alloc((size_t)dim, sizeof *u);
    if (!pa || !u) {
        cemi_release(pa);
        cemi_release(u);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for %zu projections", fn,
                         na + nb);
    }
    double *pb = pa + na;
    double sum = 0.0;
    for (int l = 0; l < directions; l++) {
        direction(seed, (uint64_t)l, dim, u);
        project(a, na, dim, u, pa);
        project(b, nb, dim, u, pb);
        qsort(pa, na, sizeof *pa, cmp_double);
        qsort(pb, nb, sizeof *pb, cmp_double);
        sum += w2sq_sorted(pa, na, pb, nb, L, ua, ub);
    }
    cemi_release(pa);
    cemi_release(u);
    *out = sqrt(sum / (double)directions);
    return CEM_OK;
}

/* ------------------------------------------------- energy distance, MMD */

typedef enum { PAIR_DISTANCE, PAIR_GAUSSIAN } pair_kind;

/* sum over i < nx, j < ny of |x_i - y_j| (PAIR_DISTANCE) or
 * exp(-|x_i - y_j|^2 * c) (PAIR_GAUSSIAN, c = 1 / (2 h^2)); each row's sum
 * is accumulated separately, then added. */
static double pair_sum(const float *x, size_t nx, const float *y, size_t ny, int dim,
                       pair_kind kind, double c)
{
    double total = 0.0;
    for (size_t i = 0; i < nx; i++) {
        const float *xi = x + i * (size_t)dim;
        double row = 0.0;
        for (size_t j = 0; j < ny; j++) {
            const float *yj = y + j * (size_t)dim;
            double s = 0.0;
            for (int k = 0; k < dim; k++) {
                double dk = (double)xi[k] - (double)yj[k];
                s += dk * dk;
            }
            row += kind == PAIR_DISTANCE ? sqrt(s) : exp(-s * c);
        }
        total += row;
    }
    return total;
}

int cem_metric_energy(size_t na, const float *a, size_t nb, const float *b, int dim,
                      double *out)
{
    static const char fn[] = "cem_metric_energy";
    int st = check_pair(fn, na, a, nb, b, dim, out);
    if (st)
        return st;
    double fa = (double)na, fb = (double)nb;
    double ab = pair_sum(a, na, b, nb, dim, PAIR_DISTANCE, 0.0) / (fa * fb);
    double aa = pair_sum(a, na, a, na, dim, PAIR_DISTANCE, 0.0) / (fa * fa);
    double bb = pair_sum(b, nb, b, nb, dim, PAIR_DISTANCE, 0.0) / (fb * fb);
    double e = 2.0 * ab - aa - bb;
    *out = e > 0.0 ? e : 0.0;
    return CEM_OK;
}

int cem_metric_mmd(size_t na, const float *a, size_t nb, const float *b, int dim,
                   double bandwidth, double *out)
{
    static const char fn[] = "cem_metric_mmd";
    int st = check_pair(fn, na, a, nb, b, dim, out);
    if (st)
        return st;
    if (!(bandwidth > 0.0) || !isfinite(bandwidth))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: bandwidth = %g must be finite and > 0", fn,
                         bandwidth);
    double c = 1.0 / (2.0 * bandwidth * bandwidth);
    if (!isfinite(c))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: bandwidth = %g is too small", fn, bandwidth);
    double fa = (double)na, fb = (double)nb;
    double ab = pair_sum(a, na, b, nb, dim, PAIR_GAUSSIAN, c) / (fa * fb);
    double aa = pair_sum(a, na, a, na, dim, PAIR_GAUSSIAN, c) / (fa * fa);
    double bb = pair_sum(b, nb, b, nb, dim, PAIR_GAUSSIAN, c) / (fb * fb);
    double m = aa + bb - 2.0 * ab;
    *out = m > 0.0 ? m : 0.0;
    return CEM_OK;
}

/* ------------------------------------------------------------------- KS */

int cem_metric_ks(const cem_dataset_t *d, size_t n, const float *x, double *out)
{
    static const char fn[] = "cem_metric_ks";
    int st = check_dataset_rows(fn, d, n, x);
    if (st)
        return st;
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    double *u = cemi_alloc(n, sizeof *u);
    if (!u)
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for %zu coordinates", fn, n);
    if ((st = cem_dataset_coordinate(d, n, x, u))) {
        cemi_release(u);
        return st;
    }
    qsort(u, n, sizeof *u, cmp_double);
    const double fn_n = (double)n;
    double D = 0.0;
    size_t i = 0;
    while (i < n) {
        size_t j = i; /* the tie group u[i..j-1] = c */
        while (j < n && u[j] == u[i])
            j++;
        double c = u[i];
        double below = (double)i / fn_n; /* F_n(c-) */
        double at = (double)j / fn_n;    /* F_n(c) */
        double F = cem_dataset_coordinate_cdf(d, c);
        double Fm = cem_dataset_coordinate_cdf(d, nextafter(c, -INFINITY));
        double e1 = fabs(at - F), e2 = fabs(below - Fm);
        if (e1 > D)
            D = e1;
        if (e2 > D)
            D = e2;
        i = j;
    }
    cemi_release(u);
    *out = D;
    return CEM_OK;
}

/* -------------------------------------------------- singularity profile */

static const char *const TARGET_NAME[3] = {"f", "eps", "S"};

int cem_singularity_profile(cem_model_t *m, size_t np, const float *probes, int nt,
                            const double *t, double *max, double *mean, double *slope)
{
    static const char fn[] = "cem_singularity_profile";
    if (!m)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: model is NULL", fn);
    const int dim = m->dim;
    if (np == 0)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: np = 0: at least one probe is needed", fn);
    if (!probes)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: probes is NULL with np = %zu", fn, np);
    if (nt < 2)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: nt = %d must be >= 2", fn, nt);
    if (!t)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: t is NULL with nt = %d", fn, nt);
    size_t total;
    if (!cemi_mul_ok(np, (size_t)dim, &total) || !cemi_mul_ok(total, sizeof(float), &total))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: np = %zu is too large for dim = %d", fn,
                               np, dim);
    for (int k = 0; k < nt; k++)
        if (!cemi_time_ok(t[k]))
            return cemi_fail(NULL, CEM_ERR_ARG, "%s: t[%d] = %g is not a finite time > 0",
                                   fn, k, t[k]);
    double xbar = 0.0, sxx = 0.0; /* of log t, for the slope */
    if (slope) {
        for (int k = 0; k < nt; k++)
            xbar += log(t[k]);
        xbar /= nt;
        for (int k = 0; k < nt; k++)
            sxx += (log(t[k]) - xbar) * (log(t[k]) - xbar);
        if (!(sxx > 0.0))
            return cemi_fail(NULL, CEM_ERR_ARG,
                                   "%s: every log t[k] equals log t[0] = log %g: no slope "
                                   "can be fitted", fn, t[0]);
    }
    if ((total = np * (size_t)dim) > 0) {
        size_t k = cemi_first_nonfinite_f(probes, total);
        if (k < total)
            return cemi_fail(NULL, CEM_ERR_NONFINITE, "%s: probes row %zu column %d is %g",
                                   fn, k / (size_t)dim, (int)(k % (size_t)dim),
                                   (double)probes[k]);
    }

    float *buf = cemi_alloc(total, sizeof *buf);
    double *res = cemi_alloc(6 * (size_t)nt, sizeof *res); /* max then mean, 3 x nt each */
    if (!buf || !res) {
        cemi_release(buf);
        cemi_release(res);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for %zu probes", fn, np);
    }
    double *rmax = res, *rmean = res + 3 * (size_t)nt;
    int st = CEM_OK;
    for (int k = 0; k < nt && !st; k++) {
        for (int w = 0; w < 3 && !st; w++) {
            st = cem_model_eval_at(m, (cem_target)w, np, probes, t[k], buf);
            if (st) {
                char why[CEMI_ERRMSG_LEN];
                strncpy(why, cem_last_error(), sizeof why - 1);
                why[sizeof why - 1] = '\0';
                st = cemi_fail(NULL, st, "%s: evaluating %s at t[%d] = %g failed (%s)", fn,
                                     TARGET_NAME[w], k, t[k], why);
                break;
            }
            double mx = 0.0, sum = 0.0;
            for (size_t i = 0; i < np; i++) {
                const float *row = buf + i * (size_t)dim;
                double s = 0.0;
                for (int j = 0; j < dim; j++)
                    s += (double)row[j] * (double)row[j];
                double nrm = sqrt(s);
                if (!isfinite(nrm)) {
                    st = cemi_fail(NULL, CEM_ERR_NUMERIC,
                                         "%s: |%s| at probe %zu, t[%d] = %g is %g", fn,
                                         TARGET_NAME[w], i, k, t[k], nrm);
                    break;
                }
                sum += nrm;
                if (nrm > mx)
                    mx = nrm;
            }
            rmax[(size_t)w * (size_t)nt + (size_t)k] = mx;
            rmean[(size_t)w * (size_t)nt + (size_t)k] = sum / (double)np;
        }
    }
    cemi_release(buf);

    double sl[3] = {0.0, 0.0, 0.0};
    if (!st && slope) {
        for (int w = 0; w < 3 && !st; w++) {
            const double *y = rmean + (size_t)w * (size_t)nt;
            double ybar = 0.0;
            for (int k = 0; k < nt; k++) {
                if (!(y[k] > 0.0)) {
                    st = cemi_fail(NULL, CEM_ERR_NUMERIC,
                                         "%s: the mean |%s| at t[%d] = %g is %g: its log "
                                         "has no slope", fn, TARGET_NAME[w], k, t[k], y[k]);
                    break;
                }
                ybar += log(y[k]);
            }
            if (st)
                break;
            ybar /= nt;
            double sxy = 0.0;
            for (int k = 0; k < nt; k++)
                sxy += (log(t[k]) - xbar) * (log(y[k]) - ybar);
            sl[w] = sxy / sxx;
        }
    }
    if (!st) {
        if (max)
            memcpy(max, rmax, 3 * (size_t)nt * sizeof *max);
        if (mean)
            memcpy(mean, rmean, 3 * (size_t)nt * sizeof *mean);
        if (slope)
            memcpy(slope, sl, sizeof sl);
    }
    cemi_release(res);
    return st;
}
