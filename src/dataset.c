/*
 * dataset.c -- generators for the paper's kinds of data, with the distance
 * to their manifold and an intrinsic coordinate (layer 5).
 *
 * Every kind is defined in its native space (R^2 or R^3).  With a larger
 * ambient dimension the set is embedded by Q (dim x native, orthonormal
 * columns, the Haar-distributed Q of a QR factorisation of a Gaussian
 * matrix drawn from the create seed's stream UINT64_MAX).  A point x of
 * R^dim splits into native coordinates y = Q^T x and an orthogonal remainder
 * r = x - Q y, so
 *   dist(x) = sqrt(dist_native(y)^2 + |r|^2),   coordinate(x) = u_native(y).
 * Everything is computed in double.
 *
 * The helix has no closed-form projection: |x - c(u)|^2 is scanned on a
 * grid of HELIX_GRID + 1 values of u (cos and sin tabulated at creation),
 * and the lowest few discrete local minima are refined by a bracketed
 * (safeguarded) Newton iteration on the derivative, with the endpoints
 * u = 0 and u = 1 always among the candidates.
 */
#include "dataset.h"
#include "linalg.h"
#include "options.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DATASET_MAX_DIM 4096
#define HELIX_GRID 2048   /* intervals of the helix scan */
#define HELIX_TURNS 2.0   /* k */
#define HELIX_CANDIDATES 4

static const double TWO_PI = 6.283185307179586476925286766559;

static const cemi_option dataset_options[] = {
    {CEM_DATASET_NPOINTS, "CEM_DATASET_NPOINTS", 1.0, 1000000.0, 5.0, 1},
    {0, NULL, 0, 0, 0, 0},
};

struct cem_dataset {
    int kind;      /* cem_dataset_kind */
    int dim;       /* ambient dimension */
    int native;    /* native dimension (2 or 3) */
    int intrinsic; /* manifold dimension */
    int npoints;   /* K, for CEM_DATA_POINTS */
    double *Q;     /* dim x native, row-major; NULL when dim == native */
    double *hcos;  /* HELIX_GRID + 1 values cos(2 pi k u_j), HELIX only */
    double *hsin;  /* likewise sin */
    cemi_errbuf err;
};

static const char *kind_name(int kind)
{
    switch (kind) {
    case CEM_DATA_SEGMENT: return "CEM_DATA_SEGMENT";
    case CEM_DATA_CIRCLE: return "CEM_DATA_CIRCLE";
    case CEM_DATA_HELIX: return "CEM_DATA_HELIX";
    case CEM_DATA_SPHERE: return "CEM_DATA_SPHERE";
    case CEM_DATA_POINTS: return "CEM_DATA_POINTS";
    default: return "unknown";
    }
}

/* Records a failure on d (which may be NULL) and the thread. */
#define ds_fail(d, ...) cemi_fail((d) ? &(d)->err : NULL, __VA_ARGS__)

/* ------------------------------------------------------------ native sets */

static double clamp01(double u) { return u < 0.0 ? 0.0 : u > 1.0 ? 1.0 : u; }

/* Angle of (a, b) in [0, 2 pi). */
static double angle_2pi(double a, double b)
{
    double t = atan2(b, a);
    if (t < 0.0)
        t += TWO_PI;
    if (!(t < TWO_PI)) /* -tiny + 2 pi rounds to 2 pi */
        t = 0.0;
    return t;
}

static void helix_point(double u, double *p)
{
    double th = TWO_PI * HELIX_TURNS * u;
    p[0] = cos(th);
    p[1] = sin(th);
    p[2] = 2.0 * u - 1.0;
}

/* |y - c(u)|^2 */
static double helix_f(const double *y, double u)
{
    double c[3];
    helix_point(u, c);
    double a = y[0] - c[0], b = y[1] - c[1], z = y[2] - c[2];
    return a * a + b * b + z * z;
}

/* d/du |y - c(u)|^2 = 2w (y0 sin th - y1 cos th) - 4 (y2 + 1 - 2u), th = w u,
 * w = 2 pi k. */
static double helix_g(const double *y, double u)
{
    const double w = TWO_PI * HELIX_TURNS;
    double th = w * u;
    return 2.0 * w * (y[0] * sin(th) - y[1] * cos(th)) - 4.0 * (y[2] + 1.0 - 2.0 * u);
}

/* Refines a minimiser of |y - c(u)|^2 in [lo, hi] starting from u0 by a
 * safeguarded Newton iteration on g = d/du |y - c(u)|^2, with
 *   g'(u) = 2 w^2 (y0 cos th + y1 sin th) + 8;
 * returns u0 when [lo, hi] does not bracket a sign change of g from - to +. */
static double helix_refine(const double *y, double lo, double hi, double u0)
{
    const double w = TWO_PI * HELIX_TURNS;
    if (!(helix_g(y, lo) < 0.0 && helix_g(y, hi) > 0.0))
        return u0;
    double u = u0;
    for (int it = 0; it < 200; it++) {
        double g = helix_g(y, u);
        if (g == 0.0)
            break;
        if (g < 0.0)
            lo = u;
        else
            hi = u;
        double th = w * u;
        double gp = 2.0 * w * w * (y[0] * cos(th) + y[1] * sin(th)) + 8.0;
        double un = u - g / gp;
        if (!(gp > 0.0) || !(un > lo && un < hi))
            un = 0.5 * (lo + hi);
        double step = fabs(un - u);
        u = un;
        if (step <= 1e-15 || hi - lo <= 1e-15)
            break;
    }
    return u;
}

/* The u in [0, 1] of the helix point nearest to y and the squared
 * distance. */
static double helix_project(const cem_dataset_t *d, const double *y, double *f_out)
{
    const double h = 1.0 / HELIX_GRID;
    int best[HELIX_CANDIDATES];
    double bestf[HELIX_CANDIDATES];
    int nb = 0;
    double fprev = INFINITY, fcur, fnext;
    double cz = y[2] + 1.0; /* y2 - (2u - 1) = cz - 2u */
    {
        double a = y[0] - d->hcos[0], b = y[1] - d->hsin[0];
        fcur = a * a + b * b + cz * cz;
    }
    for (int j = 0; j <= HELIX_GRID; j++) {
        if (j < HELIX_GRID) {
            double a = y[0] - d->hcos[j + 1], b = y[1] - d->hsin[j + 1];
            double z = cz - 2.0 * (j + 1) * h;
            fnext = a * a + b * b + z * z;
        } else {
            fnext = INFINITY;
        }
        if (fcur <= fprev && fcur <= fnext) {
            /* keep the HELIX_CANDIDATES lowest local minima, sorted */
            int pos = nb < HELIX_CANDIDATES ? nb : HELIX_CANDIDATES;
            while (pos > 0 && bestf[pos - 1] > fcur)
                pos--;
            if (pos < HELIX_CANDIDATES) {
                int last = nb < HELIX_CANDIDATES ? nb : HELIX_CANDIDATES - 1;
                for (int k = last; k > pos; k--) {
                    best[k] = best[k - 1];
                    bestf[k] = bestf[k - 1];
                }
                best[pos] = j;
                bestf[pos] = fcur;
                if (nb < HELIX_CANDIDATES)
                    nb++;
            }
        }
        fprev = fcur;
        fcur = fnext;
    }
    double ubest = 0.0, fbest = helix_f(y, 0.0);
    double f1 = helix_f(y, 1.0);
    if (f1 < fbest) {
        ubest = 1.0;
        fbest = f1;
    }
    for (int c = 0; c < nb; c++) {
        int j = best[c];
        double lo = (j > 0 ? j - 1 : 0) * h, hi = (j < HELIX_GRID ? j + 1 : HELIX_GRID) * h;
        double cand[2] = {j * h, helix_refine(y, lo, hi, j * h)};
        for (int k = 0; k < 2; k++) {
            double f = helix_f(y, cand[k]);
            if (f < fbest) {
                fbest = f;
                ubest = cand[k];
            }
        }
    }
    *f_out = fbest;
    return ubest;
}

/* The vertex of the K-gon nearest to y (0 when y is the centre). */
static int points_nearest(int K, const double *y, double *dist)
{
    if (y[0] == 0.0 && y[1] == 0.0) {
        *dist = 1.0;
        return 0;
    }
    double a = angle_2pi(y[0], y[1]);
    long j = (long)floor(a * K / TWO_PI + 0.5);
    int best = 0;
    double bd = INFINITY;
    for (long c = j - 1; c <= j + 1; c++) {
        long i = ((c % K) + K) % K;
        double th = TWO_PI * (double)i / K;
        double dd = hypot(y[0] - cos(th), y[1] - sin(th));
        if (dd < bd || (dd == bd && i < best)) {
            bd = dd;
            best = (int)i;
        }
    }
    *dist = bd;
    return best;
}

/* Distance of the native point y to the native manifold. */
static double native_distance(const cem_dataset_t *d, const double *y)
{
    switch (d->kind) {
    case CEM_DATA_SEGMENT:
        return hypot(fmax(fabs(y[0]) - 1.0, 0.0), y[1]);
    case CEM_DATA_CIRCLE:
        return fabs(hypot(y[0], y[1]) - 1.0);
    case CEM_DATA_HELIX: {
        double f;
        helix_project(d, y, &f);
        return sqrt(f);
    }
    case CEM_DATA_SPHERE:
        return fabs(sqrt(y[0] * y[0] + y[1] * y[1] + y[2] * y[2]) - 1.0);
    default: {
        double dist;
        points_nearest(d->npoints, y, &dist);
        return dist;
    }
    }
}

/* Coordinate u of the manifold point nearest to the native point y. */
static double native_coordinate(const cem_dataset_t *d, const double *y)
{
    switch (d->kind) {
    case CEM_DATA_SEGMENT:
        return clamp01((y[0] + 1.0) / 2.0);
    case CEM_DATA_CIRCLE:
        return angle_2pi(y[0], y[1]) / TWO_PI;
    case CEM_DATA_HELIX: {
        double f;
        return helix_project(d, y, &f);
    }
    case CEM_DATA_SPHERE: {
        double r = sqrt(y[0] * y[0] + y[1] * y[1] + y[2] * y[2]);
        return r > 0.0 ? clamp01((y[2] / r + 1.0) / 2.0) : 0.5;
    }
    default: {
        double dist;
        int i = points_nearest(d->npoints, y, &dist);
        return (i + 0.5) / d->npoints;
    }
    }
}

/* A native point drawn from the data law with r. */
static void native_sample(const cem_dataset_t *d, cemi_rng *r, double *p)
{
    switch (d->kind) {
    case CEM_DATA_SEGMENT:
        p[0] = 2.0 * cemi_rng_uniform(r) - 1.0;
        p[1] = 0.0;
        break;
    case CEM_DATA_CIRCLE: {
        double a = TWO_PI * cemi_rng_uniform(r);
        p[0] = cos(a);
        p[1] = sin(a);
        break;
    }
    case CEM_DATA_HELIX:
        helix_point(cemi_rng_uniform(r), p);
        break;
    case CEM_DATA_SPHERE: {
        double s;
        do {
            p[0] = cemi_rng_normal(r);
            p[1] = cemi_rng_normal(r);
            p[2] = cemi_rng_normal(r);
            s = sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
        } while (!(s > 1e-300));
        p[0] /= s;
        p[1] /= s;
        p[2] /= s;
        break;
    }
    default: {
        int K = d->npoints;
        int i = (int)(cemi_rng_uniform(r) * K);
        if (i >= K)
            i = K - 1;
        double th = TWO_PI * (double)i / K;
        p[0] = cos(th);
        p[1] = sin(th);
        break;
    }
    }
}

/* -------------------------------------------------------------- the handle */

static void dataset_destroy(cem_dataset_t *d)
{
    cemi_release(d->Q);
    cemi_release(d->hcos);
    cemi_release(d->hsin);
    cemi_release(d);
}

/* Draws the Haar-distributed embedding Q (dim x native). */
static int make_embedding(cem_dataset_t *d, uint64_t seed, const char *fn)
{
    const int dim = d->dim, nat = d->native;
    double *A = cemi_alloc((size_t)dim * (size_t)nat, sizeof *A);
    if (!A)
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the %d x %d embedding",
                         fn, dim, nat);
    cemi_rng r;
    cemi_rng_init(&r, seed, UINT64_MAX);
    for (size_t k = 0; k < (size_t)dim * (size_t)nat; k++)
        A[k] = cemi_rng_normal(&r);
    double diag[3];
    int info = cemi_dqr_thin(dim, nat, A, diag);
    if (info == -1000) {
        cemi_release(A);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory in the QR factorisation", fn);
    }
    if (info != 0) {
        cemi_release(A);
        return cemi_fail(NULL, CEM_ERR_NUMERIC, "%s: QR factorisation failed (info %d)",
                         fn, info);
    }
    for (int j = 0; j < nat; j++) {
        if (!(diag[j] != 0.0) || !isfinite(diag[j])) {
            cemi_release(A);
            return cemi_fail(NULL, CEM_ERR_NUMERIC,
                             "%s: the Gaussian matrix of the embedding is rank deficient "
                             "(R[%d][%d] = %g)", fn, j, j, diag[j]);
        }
        if (diag[j] < 0.0)
            for (int i = 0; i < dim; i++)
                A[(size_t)i * (size_t)nat + (size_t)j] = -A[(size_t)i * (size_t)nat + (size_t)j];
    }
    d->Q = A;
    return CEM_OK;
}

int cem_dataset_create(cem_dataset_t **out, cem_dataset_kind kind, int dim,
                       uint64_t seed)
{
    static const char fn[] = "cem_dataset_create";
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    int k = (int)kind;
    int native, intrinsic;
    switch (k) {
    case CEM_DATA_SEGMENT: native = 2; intrinsic = 1; break;
    case CEM_DATA_CIRCLE: native = 2; intrinsic = 1; break;
    case CEM_DATA_HELIX: native = 3; intrinsic = 1; break;
    case CEM_DATA_SPHERE: native = 3; intrinsic = 2; break;
    case CEM_DATA_POINTS: native = 2; intrinsic = 0; break;
    default:
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: unknown dataset kind %d", fn, k);
    }
    if (dim < native || dim > DATASET_MAX_DIM)
        return cemi_fail(NULL, CEM_ERR_ARG,
                         "%s: dim = %d is outside [%d, %d] for %s", fn, dim, native,
                         DATASET_MAX_DIM, kind_name(k));

    cem_dataset_t *d = cemi_calloc(1, sizeof *d);
    if (!d)
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the handle", fn);
    d->kind = k;
    d->dim = dim;
    d->native = native;
    d->intrinsic = intrinsic;
    d->npoints = (int)cemi_option_find(dataset_options, CEM_DATASET_NPOINTS)->def;
    if (k == CEM_DATA_HELIX) {
        d->hcos = cemi_alloc(HELIX_GRID + 1, sizeof *d->hcos);
        d->hsin = cemi_alloc(HELIX_GRID + 1, sizeof *d->hsin);
        if (!d->hcos || !d->hsin) {
            dataset_destroy(d);
            return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the helix table", fn);
        }
        for (int j = 0; j <= HELIX_GRID; j++) {
            double th = TWO_PI * HELIX_TURNS * ((double)j / HELIX_GRID);
            d->hcos[j] = cos(th);
            d->hsin[j] = sin(th);
        }
    }
    if (dim > native) {
        int st = make_embedding(d, seed, fn);
        if (st) {
            dataset_destroy(d);
            return st;
        }
    }
    *out = d;
    return CEM_OK;
}

void cem_dataset_free(cem_dataset_t *d)
{
    if (!d)
        return;
    dataset_destroy(d);
}

const double *cemi_dataset_embedding(const cem_dataset_t *d) { return d ? d->Q : NULL; }

const char *cem_dataset_errmsg(const cem_dataset_t *d) { return d ? d->err.text : ""; }
int cem_dataset_dim(const cem_dataset_t *d) { return d ? d->dim : -1; }
int cem_dataset_native_dim(const cem_dataset_t *d) { return d ? d->native : -1; }
int cem_dataset_intrinsic_dim(const cem_dataset_t *d) { return d ? d->intrinsic : -1; }

/* ------------------------------------------------------------ evaluation */

/* Checks the handle and the arrays of a call on n rows; *total = n * dim. */
static int check_rows(const char *fn, const cem_dataset_t *d, size_t n, const void *in,
                      const void *out, size_t *total)
{
    if (!d)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: dataset is NULL", fn);
    if (n == 0)
        return CEM_OK;
    if (!in || !out)
        return ds_fail(d, CEM_ERR_ARG, "%s: NULL array with n = %zu", fn, n);
    if (!cemi_mul_ok(n, (size_t)d->dim, total))
        return ds_fail(d, CEM_ERR_ARG, "%s: n = %zu is too large", fn, n);
    return CEM_OK;
}

int cem_dataset_sample(const cem_dataset_t *d, size_t n, uint64_t seed, float *out)
{
    static const char fn[] = "cem_dataset_sample";
    size_t total = 0;
    int st = check_rows(fn, d, n, out, out, &total);
    if (st || n == 0)
        return st;
    const int dim = d->dim, nat = d->native;
    for (size_t i = 0; i < n; i++) {
        cemi_rng r;
        double p[3];
        cemi_rng_init(&r, seed, (uint64_t)i);
        native_sample(d, &r, p);
        float *row = out + i * (size_t)dim;
        if (!d->Q) {
            for (int j = 0; j < nat; j++)
                row[j] = (float)p[j];
        } else {
            for (int j = 0; j < dim; j++) {
                const double *q = d->Q + (size_t)j * (size_t)nat;
                double s = 0.0;
                for (int k = 0; k < nat; k++)
                    s += q[k] * p[k];
                row[j] = (float)s;
            }
        }
    }
    return CEM_OK;
}

/* Native coordinates y = Q^T x of the row x and |x - Q y|^2. */
static double split_row(const cem_dataset_t *d, const float *x, double *y)
{
    const int dim = d->dim, nat = d->native;
    if (!d->Q) {
        for (int k = 0; k < nat; k++)
            y[k] = x[k];
        return 0.0;
    }
    for (int k = 0; k < nat; k++)
        y[k] = 0.0;
    for (int j = 0; j < dim; j++) {
        const double *q = d->Q + (size_t)j * (size_t)nat;
        for (int k = 0; k < nat; k++)
            y[k] += q[k] * (double)x[j];
    }
    double r2 = 0.0;
    for (int j = 0; j < dim; j++) {
        const double *q = d->Q + (size_t)j * (size_t)nat;
        double s = x[j];
        for (int k = 0; k < nat; k++)
            s -= q[k] * y[k];
        r2 += s * s;
    }
    return r2;
}

/* Distance (what = 0) or intrinsic coordinate (what = 1) of n rows. */
static int per_row(const char *fn, const cem_dataset_t *d, size_t n, const float *x,
                   double *out, int what)
{
    size_t total = 0;
    int st = check_rows(fn, d, n, x, out, &total);
    if (st || n == 0)
        return st;
    size_t k = cemi_first_nonfinite_f(x, total);
    if (k < total)
        return ds_fail(d, CEM_ERR_NONFINITE, "%s: x row %zu column %d is %g", fn,
                       k / (size_t)d->dim, (int)(k % (size_t)d->dim), (double)x[k]);
    for (size_t i = 0; i < n; i++) {
        double y[3];
        double r2 = split_row(d, x + i * (size_t)d->dim, y);
        if (what == 1) {
            out[i] = native_coordinate(d, y);
        } else {
            double dn = native_distance(d, y);
            out[i] = r2 > 0.0 ? sqrt(dn * dn + r2) : dn;
        }
    }
    return CEM_OK;
}

int cem_dataset_distance(const cem_dataset_t *d, size_t n, const float *x, double *dist)
{
    return per_row("cem_dataset_distance", d, n, x, dist, 0);
}

int cem_dataset_coordinate(const cem_dataset_t *d, size_t n, const float *x, double *u)
{
    return per_row("cem_dataset_coordinate", d, n, x, u, 1);
}

double cem_dataset_coordinate_cdf(const cem_dataset_t *d, double u)
{
    if (!d) {
        cemi_fail(NULL, CEM_ERR_ARG, "cem_dataset_coordinate_cdf: dataset is NULL");
        return NAN;
    }
    if (isnan(u))
        return u;
    if (d->kind != CEM_DATA_POINTS)
        return clamp01(u);
    /* the number of atoms (i + 1/2)/K <= u, with the atoms computed exactly
     * as cem_dataset_coordinate computes them */
    const int K = d->npoints;
    if (u < 0.5 / K)
        return 0.0;
    if (u >= (K - 1 + 0.5) / K)
        return 1.0;
    long c = (long)floor(u * K - 0.5) + 1; /* first guess of the count */
    if (c < 0)
        c = 0;
    if (c > K)
        c = K;
    while (c < K && (c + 0.5) / K <= u)
        c++;
    while (c > 0 && (c - 1 + 0.5) / K > u)
        c--;
    return (double)c / K;
}

/* ---------------------------------------------------------------- options */

int cem_dataset_option_bounds(cem_dataset_option opt, double *lo, double *hi)
{
    return cemi_option_bounds("cem_dataset_option_bounds", dataset_options, (int)opt, lo, hi);
}

int cem_dataset_set(cem_dataset_t *d, cem_dataset_option opt, double value)
{
    static const char fn[] = "cem_dataset_set";
    if (!d)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: dataset is NULL", fn);
    const cemi_option *o;
    int st = cemi_option_resolve(&d->err, fn, dataset_options, (int)opt, NULL, &o);
    if (st)
        return st;
    if (d->kind != CEM_DATA_POINTS)
        return cemi_fail(&d->err, CEM_ERR_UNSUPPORTED, "%s: %s applies to CEM_DATA_POINTS only, "
                         "not to %s", fn, o->name, kind_name(d->kind));
    if ((st = cemi_option_check(&d->err, fn, o, value)))
        return st;
    d->npoints = (int)value;
    return CEM_OK;
}

int cem_dataset_get(const cem_dataset_t *d, cem_dataset_option opt, double *value)
{
    static const char fn[] = "cem_dataset_get";
    if (!d || !value)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: dataset and value must not be NULL", fn);
    const cemi_option *o;
    int st = cemi_option_resolve(&d->err, fn, dataset_options, (int)opt, NULL, &o);
    if (st)
        return st;
    if (d->kind != CEM_DATA_POINTS)
        return ds_fail(d, CEM_ERR_UNSUPPORTED, "%s: %s applies to CEM_DATA_POINTS only, "
                       "not to %s", fn, o->name, kind_name(d->kind));
    *value = (double)d->npoints;
    return CEM_OK;
}
