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
 * An affine placement (cem_dataset_set_affine) maps the embedded set by
 * x -> offset + scale x: a point x is first taken back to
 * x' = (x - offset) / scale, and dist(x) = scale dist(x'), coordinate(x) =
 * coordinate(x').  Everything is computed in double.
 *
 * The helix and the knot have no closed-form projection.  Both are curves
 * c(u), u in [0, 1], tabulated at creation on a grid of `grid` + 1 values of
 * u; |x - c(u)|^2 is scanned on the grid, and the lowest few discrete local
 * minima are refined by a bracketed (safeguarded) Newton iteration on the
 * derivative.  The open helix always has its endpoints u = 0 and u = 1
 * among the candidates; the closed knot's scan and refinement wrap around.
 * The knot's parameter is not its arc length: the arc length is tabulated
 * at creation (Gauss-Legendre on each grid interval) and inverted by
 * interpolation and a safeguarded Newton iteration when sampling.
 */
#include "dataset.h"
#include "linalg.h"
#include "options.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DATASET_MAX_DIM 4096
#define AFFINE_MAX 1e6    /* bound of the affine scale and offset entries */
#define HELIX_GRID 2048   /* intervals of the helix scan */
#define HELIX_TURNS 2.0   /* k */
#define KNOT_GRID 4096    /* intervals of the knot's scan and arc-length table */
#define CURVE_CANDIDATES 4
#define TORUS_MAJOR 1.0   /* R, the radius of the torus' core circle */
#define TORUS_MINOR 0.4   /* r, the radius of its tube */

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
    double *tab;   /* (grid + 1) x 3: c(j / grid), HELIX and KNOT only */
    double *arc;   /* KNOT_GRID + 1 arc lengths from c(0) to c(j / grid), KNOT */
    int affine;    /* scale != 1 or some offset entry != 0 */
    double scale;  /* the affine placement: points are offset + scale p */
    double *offset; /* dim entries */
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
    case CEM_DATA_TORUS: return "CEM_DATA_TORUS";
    case CEM_DATA_KNOT: return "CEM_DATA_KNOT";
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

/* ------------------------------------------------------------------ curves */

/* A curve c(u), u in [0, 1], projected onto by scan and refinement. */
typedef struct {
    int grid;   /* intervals of the table */
    int closed; /* c(u + 1) = c(u): the scan and the refinement wrap */
    void (*point)(double u, double *c);
    /* g = d/du |y - c(u)|^2, and g' = d/du g in *gp */
    double (*slope)(const double *y, double u, double *gp);
} curve_kind;

static void helix_point(double u, double *p)
{
    double th = TWO_PI * HELIX_TURNS * u;
    p[0] = cos(th);
    p[1] = sin(th);
    p[2] = 2.0 * u - 1.0;
}

/* g = 2w (y0 sin th - y1 cos th) - 4 (y2 + 1 - 2u), th = w u, w = 2 pi k;
 * g' = 2 w^2 (y0 cos th + y1 sin th) + 8. */
static double helix_slope(const double *y, double u, double *gp)
{
    const double w = TWO_PI * HELIX_TURNS;
    double th = w * u;
    *gp = 2.0 * w * w * (y[0] * cos(th) + y[1] * sin(th)) + 8.0;
    return 2.0 * w * (y[0] * sin(th) - y[1] * cos(th)) - 4.0 * (y[2] + 1.0 - 2.0 * u);
}

/* The trefoil c(v) = (sin a + 2 sin 2a, cos a - 2 cos 2a, -sin 3a) / 3,
 * a = 2 pi v, and its first two derivatives in v (either may be NULL). */
static void knot_derivs(double v, double *c, double *c1, double *c2)
{
    const double a = TWO_PI * v, w = TWO_PI / 3.0, w2 = TWO_PI * TWO_PI / 3.0;
    double s1 = sin(a), k1 = cos(a), s2 = sin(2.0 * a), k2 = cos(2.0 * a);
    double s3 = sin(3.0 * a), k3 = cos(3.0 * a);
    c[0] = (s1 + 2.0 * s2) / 3.0;
    c[1] = (k1 - 2.0 * k2) / 3.0;
    c[2] = -s3 / 3.0;
    if (c1) {
        c1[0] = w * (k1 + 4.0 * k2);
        c1[1] = w * (-s1 + 4.0 * s2);
        c1[2] = w * (-3.0 * k3);
    }
    if (c2) {
        c2[0] = w2 * (-s1 - 8.0 * s2);
        c2[1] = w2 * (-k1 + 8.0 * k2);
        c2[2] = w2 * (9.0 * s3);
    }
}

static void knot_point(double v, double *p) { knot_derivs(v, p, NULL, NULL); }

/* |c'(v)| */
static double knot_speed(double v)
{
    double c[3], c1[3];
    knot_derivs(v, c, c1, NULL);
    return sqrt(c1[0] * c1[0] + c1[1] * c1[1] + c1[2] * c1[2]);
}

/* g = -2 (y - c).c',  g' = 2 (|c'|^2 - (y - c).c''). */
static double knot_slope(const double *y, double v, double *gp)
{
    double c[3], c1[3], c2[3];
    knot_derivs(v, c, c1, c2);
    double e0 = y[0] - c[0], e1 = y[1] - c[1], e2 = y[2] - c[2];
    *gp = 2.0 * (c1[0] * c1[0] + c1[1] * c1[1] + c1[2] * c1[2] -
                 (e0 * c2[0] + e1 * c2[1] + e2 * c2[2]));
    return -2.0 * (e0 * c1[0] + e1 * c1[1] + e2 * c1[2]);
}

static const curve_kind HELIX_CURVE = {HELIX_GRID, 0, helix_point, helix_slope};
static const curve_kind KNOT_CURVE = {KNOT_GRID, 1, knot_point, knot_slope};

/* |y - c(u)|^2 */
static double curve_f(const curve_kind *c, const double *y, double u)
{
    double p[3];
    c->point(u, p);
    double a = y[0] - p[0], b = y[1] - p[1], z = y[2] - p[2];
    return a * a + b * b + z * z;
}

/* |y - c(u_j)|^2 from the table */
static double table_f(const double *tab, const double *y, int j)
{
    const double *p = tab + 3 * (size_t)j;
    double a = y[0] - p[0], b = y[1] - p[1], z = y[2] - p[2];
    return a * a + b * b + z * z;
}

/* Tabulates c at the grid (grid + 1 rows of 3); NULL when out of memory. */
static double *curve_table(const curve_kind *c)
{
    double *tab = cemi_alloc(3 * ((size_t)c->grid + 1), sizeof *tab);
    if (tab)
        for (int j = 0; j <= c->grid; j++)
            c->point((double)j / c->grid, tab + 3 * (size_t)j);
    return tab;
}

/* The root of an increasing F in [lo, hi] (F(lo) < 0 < F(hi)) from x by a
 * Newton iteration kept inside the shrinking bracket (bisection when a
 * step would leave it or F' is not positive). */
typedef double (*increasing_fn)(const void *ctx, double x, double *deriv);

static double bracketed_newton(increasing_fn F, const void *ctx, double lo, double hi, double x)
{
    for (int it = 0; it < 200; it++) {
        double dF, f = F(ctx, x, &dF);
        if (f == 0.0)
            break;
        if (f < 0.0)
            lo = x;
        else
            hi = x;
        double xn = x - f / dF;
        if (!(dF > 0.0) || !(xn > lo && xn < hi))
            xn = 0.5 * (lo + hi);
        double step = fabs(xn - x);
        x = xn;
        if (step <= 1e-15 || hi - lo <= 1e-15)
            break;
    }
    return x;
}

typedef struct {
    const curve_kind *c;
    const double *y;
} curve_point_ctx;

/* d/du |y - c(u)|^2 */
static double curve_slope(const void *ctx, double u, double *gp)
{
    const curve_point_ctx *k = ctx;
    return k->c->slope(k->y, u, gp);
}

/* Refines a minimiser of |y - c(u)|^2 in [lo, hi] starting from u0 by
 * Newton's method on g = d/du |y - c(u)|^2; returns u0 when [lo, hi] does
 * not bracket a sign change of g from - to +. */
static double curve_refine(const curve_kind *c, const double *y, double lo, double hi, double u0)
{
    curve_point_ctx k = {c, y};
    double gp;
    if (!(c->slope(y, lo, &gp) < 0.0 && c->slope(y, hi, &gp) > 0.0))
        return u0;
    return bracketed_newton(curve_slope, &k, lo, hi, u0);
}

/* Inserts the grid index j with value f among the nb (<= CURVE_CANDIDATES)
 * lowest so far, kept sorted by value. */
static void keep_lowest(int *best, double *bestf, int *nb, int j, double f)
{
    int pos = *nb;
    while (pos > 0 && bestf[pos - 1] > f)
        pos--;
    if (pos >= CURVE_CANDIDATES)
        return;
    int last = *nb < CURVE_CANDIDATES ? *nb : CURVE_CANDIDATES - 1;
    for (int k = last; k > pos; k--) {
        best[k] = best[k - 1];
        bestf[k] = bestf[k - 1];
    }
    best[pos] = j;
    bestf[pos] = f;
    if (*nb < CURVE_CANDIDATES)
        (*nb)++;
}

/* The u of the curve point nearest to y (in [0, 1]; in [0, 1) for a closed
 * curve) and the squared distance. */
static double curve_project(const cem_dataset_t *d, const curve_kind *c, const double *y,
                            double *f_out)
{
    const int G = c->grid, last = c->closed ? G - 1 : G; /* the last distinct node */
    const double h = 1.0 / G;
    int best[CURVE_CANDIDATES];
    double bestf[CURVE_CANDIDATES];
    int nb = 0;
    double f0 = table_f(d->tab, y, 0);
    double fprev = c->closed ? table_f(d->tab, y, G - 1) : INFINITY, fcur = f0, fnext;
    for (int j = 0; j <= last; j++) {
        fnext = j < last ? table_f(d->tab, y, j + 1) : c->closed ? f0 : INFINITY;
        if (fcur <= fprev && fcur <= fnext)
            keep_lowest(best, bestf, &nb, j, fcur);
        fprev = fcur;
        fcur = fnext;
    }
    double ubest = 0.0, fbest = curve_f(c, y, 0.0);
    if (!c->closed) {
        double f1 = curve_f(c, y, 1.0);
        if (f1 < fbest) {
            ubest = 1.0;
            fbest = f1;
        }
    }
    for (int k = 0; k < nb; k++) {
        int j = best[k];
        double lo = (j - 1) * h, hi = (j + 1) * h; /* a closed curve wraps */
        if (!c->closed) {
            lo = (j > 0 ? j - 1 : 0) * h;
            hi = (j < G ? j + 1 : G) * h;
        }
        double cand[2] = {j * h, curve_refine(c, y, lo, hi, j * h)};
        for (int m = 0; m < 2; m++) {
            double f = curve_f(c, y, cand[m]);
            if (f < fbest) {
                fbest = f;
                ubest = cand[m];
            }
        }
    }
    if (c->closed) {
        ubest -= floor(ubest);
        if (!(ubest < 1.0)) /* -tiny + 1 rounds to 1 */
            ubest = 0.0;
    }
    *f_out = fbest;
    return ubest;
}

/* The knot's arc length from c(v_j) to c(v), v_j = j / KNOT_GRID, by
 * 5-point Gauss-Legendre (exact to rounding on intervals this short). */
static double knot_arc_piece(int j, double v)
{
    static const double x[5] = {0.0, -0.5384693101056830910363144, 0.5384693101056830910363144,
                                -0.9061798459386639927976269, 0.9061798459386639927976269};
    static const double w[5] = {0.5688888888888888888888889, 0.4786286704993664680412915,
                                0.4786286704993664680412915, 0.2369268850561890875142640,
                                0.2369268850561890875142640};
    double a = (double)j / KNOT_GRID, half = 0.5 * (v - a), mid = a + half, s = 0.0;
    for (int k = 0; k < 5; k++)
        s += w[k] * knot_speed(mid + half * x[k]);
    return s * half;
}

/* Tabulates the arc length at the grid; NULL when out of memory. */
static double *knot_arc_table(void)
{
    double *arc = cemi_alloc((size_t)KNOT_GRID + 1, sizeof *arc);
    if (arc) {
        arc[0] = 0.0;
        for (int j = 0; j < KNOT_GRID; j++)
            arc[j + 1] = arc[j] + knot_arc_piece(j, (double)(j + 1) / KNOT_GRID);
    }
    return arc;
}

/* The arc-length fraction of c(v), v in [0, 1), in [0, 1). */
static double knot_fraction(const cem_dataset_t *d, double v)
{
    int j = (int)(v * KNOT_GRID);
    if (j < 0)
        j = 0;
    if (j > KNOT_GRID - 1)
        j = KNOT_GRID - 1;
    double s = (d->arc[j] + knot_arc_piece(j, v)) / d->arc[KNOT_GRID];
    return s < 0.0 ? 0.0 : s < 1.0 ? s : 0.0; /* 1 is the start again */
}

typedef struct {
    int j;        /* the table interval */
    double base;  /* arc[j] - the target length */
} knot_arc_ctx;

/* arc(v) - target, increasing with derivative |c'(v)| */
static double knot_arc_excess(const void *ctx, double v, double *speed)
{
    const knot_arc_ctx *k = ctx;
    *speed = knot_speed(v);
    return k->base + knot_arc_piece(k->j, v);
}

/* The parameter v in [0, 1) of the knot point at arc-length fraction s in
 * [0, 1): the table interval by bisection, linear interpolation in it, then
 * a safeguarded Newton iteration on arc(v) - s L (arc' = |c'| > 0). */
static double knot_parameter(const cem_dataset_t *d, double s)
{
    const double *arc = d->arc, target = s * arc[KNOT_GRID];
    int a = 0, b = KNOT_GRID; /* arc[a] <= target < arc[b] */
    while (b - a > 1) {
        int m = (a + b) / 2;
        if (arc[m] <= target)
            a = m;
        else
            b = m;
    }
    const double h = 1.0 / KNOT_GRID;
    knot_arc_ctx k = {a, arc[a] - target};
    double v = bracketed_newton(knot_arc_excess, &k, a * h, b * h,
                                a * h + h * (target - arc[a]) / (arc[b] - arc[a]));
    return v < 1.0 ? v : 0.0;
}

double cemi_dataset_knot_parameter(const cem_dataset_t *d, double s)
{
    if (!d || d->kind != CEM_DATA_KNOT || !(s >= 0.0 && s < 1.0))
        return NAN;
    return knot_parameter(d, s);
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
    case CEM_DATA_HELIX:
    case CEM_DATA_KNOT: {
        double f;
        curve_project(d, d->kind == CEM_DATA_HELIX ? &HELIX_CURVE : &KNOT_CURVE, y, &f);
        return sqrt(f);
    }
    case CEM_DATA_SPHERE:
        return fabs(sqrt(y[0] * y[0] + y[1] * y[1] + y[2] * y[2]) - 1.0);
    case CEM_DATA_TORUS: /* the core circle is at distance sqrt((rho - R)^2 + z^2);
                          * on the axis (rho = 0) every point of it is */
        return fabs(hypot(hypot(y[0], y[1]) - TORUS_MAJOR, y[2]) - TORUS_MINOR);
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
        return curve_project(d, &HELIX_CURVE, y, &f);
    }
    case CEM_DATA_KNOT: {
        double f;
        return knot_fraction(d, curve_project(d, &KNOT_CURVE, y, &f));
    }
    case CEM_DATA_TORUS: /* theta of the nearest point; 0 on the axis */
        return angle_2pi(y[0], y[1]) / TWO_PI;
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
    case CEM_DATA_KNOT:
        knot_point(knot_parameter(d, cemi_rng_uniform(r)), p);
        break;
    case CEM_DATA_TORUS: {
        /* theta uniform; phi with density (R + r cos phi) / (2 pi R), by
         * rejection from the uniform angle with acceptance
         * (R + r cos phi) / (R + r) */
        double th = TWO_PI * cemi_rng_uniform(r), ph;
        do
            ph = TWO_PI * cemi_rng_uniform(r);
        while (!((TORUS_MAJOR + TORUS_MINOR) * cemi_rng_uniform(r) <
                 TORUS_MAJOR + TORUS_MINOR * cos(ph)));
        double w = TORUS_MAJOR + TORUS_MINOR * cos(ph);
        p[0] = w * cos(th);
        p[1] = w * sin(th);
        p[2] = TORUS_MINOR * sin(ph);
        break;
    }
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
    cemi_release(d->tab);
    cemi_release(d->arc);
    cemi_release(d->offset);
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
    if (info == CEMI_LINALG_NOMEM) {
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
    case CEM_DATA_TORUS: native = 3; intrinsic = 2; break;
    case CEM_DATA_KNOT: native = 3; intrinsic = 1; break;
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
    d->scale = 1.0;
    d->offset = cemi_calloc((size_t)dim, sizeof *d->offset);
    if (k == CEM_DATA_HELIX || k == CEM_DATA_KNOT)
        d->tab = curve_table(k == CEM_DATA_HELIX ? &HELIX_CURVE : &KNOT_CURVE);
    if (k == CEM_DATA_KNOT)
        d->arc = knot_arc_table();
    if (!d->offset || ((k == CEM_DATA_HELIX || k == CEM_DATA_KNOT) && !d->tab) ||
        (k == CEM_DATA_KNOT && !d->arc)) {
        dataset_destroy(d);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the tables of %s", fn,
                         kind_name(k));
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
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: NULL array with n = %zu", fn, n);
    if (!cemi_mul_ok(n, (size_t)d->dim, total))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: n = %zu is too large", fn, n);
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
        for (int j = 0; j < dim; j++) {
            double s = 0.0;
            if (!d->Q) {
                s = p[j];
            } else {
                const double *q = d->Q + (size_t)j * (size_t)nat;
                for (int k = 0; k < nat; k++)
                    s += q[k] * p[k];
            }
            row[j] = (float)(d->affine ? d->offset[j] + d->scale * s : s);
        }
    }
    return CEM_OK;
}

/* Entry j of the row x taken back through the affine placement:
 * (x_j - offset_j) / scale. */
static double unplace(const cem_dataset_t *d, const float *x, int j)
{
    return d->affine ? ((double)x[j] - d->offset[j]) / d->scale : (double)x[j];
}

/* Native coordinates y = Q^T x' of the row x (x' = x taken back through the
 * affine placement) and |x' - Q y|^2. */
static double split_row(const cem_dataset_t *d, const float *x, double *y)
{
    const int dim = d->dim, nat = d->native;
    if (!d->Q) {
        for (int k = 0; k < nat; k++)
            y[k] = unplace(d, x, k);
        return 0.0;
    }
    for (int k = 0; k < nat; k++)
        y[k] = 0.0;
    for (int j = 0; j < dim; j++) {
        const double *q = d->Q + (size_t)j * (size_t)nat;
        double xj = unplace(d, x, j);
        for (int k = 0; k < nat; k++)
            y[k] += q[k] * xj;
    }
    double r2 = 0.0;
    for (int j = 0; j < dim; j++) {
        const double *q = d->Q + (size_t)j * (size_t)nat;
        double s = unplace(d, x, j);
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
        return cemi_fail(NULL, CEM_ERR_NONFINITE, "%s: x row %zu column %d is %g", fn,
                       k / (size_t)d->dim, (int)(k % (size_t)d->dim), (double)x[k]);
    for (size_t i = 0; i < n; i++) {
        double y[3];
        double r2 = split_row(d, x + i * (size_t)d->dim, y);
        if (what == 1) {
            out[i] = native_coordinate(d, y);
        } else {
            double dn = native_distance(d, y);
            dn = r2 > 0.0 ? sqrt(dn * dn + r2) : dn;
            out[i] = d->affine ? d->scale * dn : dn;
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
    int st = cemi_option_resolve(NULL, fn, dataset_options, (int)opt, NULL, &o);
    if (st)
        return st;
    if (d->kind != CEM_DATA_POINTS)
        return cemi_fail(NULL, CEM_ERR_UNSUPPORTED, "%s: %s applies to CEM_DATA_POINTS only, "
                         "not to %s", fn, o->name, kind_name(d->kind));
    *value = (double)d->npoints;
    return CEM_OK;
}

/* ------------------------------------------------------- affine placement */

int cem_dataset_set_affine(cem_dataset_t *d, double scale, const double *offset)
{
    static const char fn[] = "cem_dataset_set_affine";
    if (!d)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: dataset is NULL", fn);
    if (!(scale > 0.0 && scale <= AFFINE_MAX))
        return ds_fail(d, CEM_ERR_RANGE, "%s: scale = %g is outside (0, %g]", fn, scale,
                       AFFINE_MAX);
    int moved = 0;
    for (int j = 0; offset && j < d->dim; j++) {
        if (!(fabs(offset[j]) <= AFFINE_MAX))
            return ds_fail(d, CEM_ERR_RANGE, "%s: offset[%d] = %g is outside [%g, %g]", fn, j,
                           offset[j], -AFFINE_MAX, AFFINE_MAX);
        moved |= offset[j] != 0.0;
    }
    for (int j = 0; j < d->dim; j++)
        d->offset[j] = offset ? offset[j] + 0.0 : 0.0; /* + 0.0: no -0 */
    d->scale = scale;
    d->affine = scale != 1.0 || moved;
    return CEM_OK;
}

int cem_dataset_get_affine(const cem_dataset_t *d, double *scale, double *offset)
{
    if (!d)
        return cemi_fail(NULL, CEM_ERR_ARG, "cem_dataset_get_affine: dataset is NULL");
    if (scale)
        *scale = d->scale;
    if (offset)
        memcpy(offset, d->offset, (size_t)d->dim * sizeof *offset);
    return CEM_OK;
}
