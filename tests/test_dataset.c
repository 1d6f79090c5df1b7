/*
 * test_dataset.c -- the dataset generators against independent truths:
 * closed-form distances of points pushed off each manifold along a known
 * normal, brute-force helix, knot, torus and K-gon distances in double, the
 * embedding's orthonormality and invariance, Kolmogorov-Smirnov tests of the
 * intrinsic coordinate and of the torus' tube angle, the knot's arc length
 * by the test's own quadrature, the affine placement, reproducibility, and
 * every error path.
 */
#include "tests.h"

#include "base.h"
#include "dataset.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

enum { N_KINDS = 7, N_CONTINUOUS = 6 };
static const cem_dataset_kind KINDS[N_KINDS] = {CEM_DATA_SEGMENT, CEM_DATA_CIRCLE, CEM_DATA_HELIX,
                                                CEM_DATA_SPHERE,  CEM_DATA_POINTS, CEM_DATA_TORUS,
                                                CEM_DATA_KNOT};
static const int NATIVE[N_KINDS] = {2, 2, 3, 3, 2, 3, 3};
static const int INTRINSIC[N_KINDS] = {1, 1, 1, 2, 0, 2, 1};
/* the kinds whose coordinate is Uniform(0, 1) (indices into KINDS) */
static const int CONTINUOUS[N_CONTINUOUS] = {0, 1, 2, 3, 5, 6};

/* The torus' radii, as the header documents them. */
static const double TR = 1.0, Tr = 0.4;

/* The test's own random numbers (splitmix64), independent of the library. */
static uint64_t sm_state;
static double test_uniform(void)
{
    uint64_t z = (sm_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static cem_dataset_t *make(cem_dataset_kind kind, int dim, uint64_t seed)
{
    cem_dataset_t *d = NULL;
    ck_assert_int_eq(cem_dataset_create(&d, kind, dim, seed), CEM_OK);
    ck_assert_ptr_nonnull(d);
    return d;
}

/* Embeds the native point p (nat entries) into x (dim floats) through the
 * dataset's Q, adding the ambient vector w (dim entries, may be NULL). */
static void embed(const cem_dataset_t *d, const double *p, const double *w, float *x)
{
    int dim = cem_dataset_dim(d), nat = cem_dataset_native_dim(d);
    const double *Q = cemi_dataset_embedding(d);
    for (int j = 0; j < dim; j++) {
        double s = 0.0;
        if (Q) {
            for (int k = 0; k < nat; k++)
                s += Q[j * nat + k] * p[k];
        } else {
            s = p[j];
        }
        if (w)
            s += w[j];
        x[j] = (float)s;
    }
}

/* A vector of length len orthogonal to the columns of Q (dim > native). */
static void orthogonal_vector(const cem_dataset_t *d, double len, double *w)
{
    int dim = cem_dataset_dim(d), nat = cem_dataset_native_dim(d);
    const double *Q = cemi_dataset_embedding(d);
    ck_assert_ptr_nonnull(Q);
    for (int j = 0; j < dim; j++)
        w[j] = test_uniform() - 0.5;
    for (int pass = 0; pass < 2; pass++) /* twice for orthogonality to 1e-16 */
        for (int k = 0; k < nat; k++) {
            double c = 0.0;
            for (int j = 0; j < dim; j++)
                c += Q[j * nat + k] * w[j];
            for (int j = 0; j < dim; j++)
                w[j] -= c * Q[j * nat + k];
        }
    double s = 0.0;
    for (int j = 0; j < dim; j++)
        s += w[j] * w[j];
    s = sqrt(s);
    for (int j = 0; j < dim; j++)
        w[j] *= len / s;
}

static double dist1(const cem_dataset_t *d, const float *x)
{
    double r = -1.0;
    ck_assert_int_eq(cem_dataset_distance(d, 1, x, &r), CEM_OK);
    return r;
}

static double coord1(const cem_dataset_t *d, const float *x)
{
    double r = -1.0;
    ck_assert_int_eq(cem_dataset_coordinate(d, 1, x, &r), CEM_OK);
    return r;
}

/* Brute-force |x - c(u)|^2 minimum over 10^6 + 1 values of u, in double. */
static double helix_brute(const double *x)
{
    double best = INFINITY;
    for (int j = 0; j <= 1000000; j++) {
        double u = j * 1e-6, th = 4.0 * PI * u;
        double a = x[0] - cos(th), b = x[1] - sin(th), c = x[2] - (2.0 * u - 1.0);
        double f = a * a + b * b + c * c;
        if (f < best)
            best = f;
    }
    return sqrt(best);
}

static double helix_dist_at(const double *x, double u)
{
    double th = 4.0 * PI * u;
    return sqrt(pow(x[0] - cos(th), 2) + pow(x[1] - sin(th), 2) + pow(x[2] - (2 * u - 1), 2));
}

/* The trefoil c(v), written out here from the header. */
static void knot_at(double v, double *c)
{
    double a = 2 * PI * v;
    c[0] = (sin(a) + 2 * sin(2 * a)) / 3;
    c[1] = (cos(a) - 2 * cos(2 * a)) / 3;
    c[2] = -sin(3 * a) / 3;
}

/* |c'(v)|, simplified by hand: |c'|^2 = (2 pi / 3)^2 (17 + 8 cos 6 pi v +
 * 9 cos^2 6 pi v) (independent of the library's vector derivative). */
static double knot_speed_test(double v)
{
    double k = cos(6 * PI * v);
    return 2 * PI / 3 * sqrt(17 + 8 * k + 9 * k * k);
}

/* The knot's arc length from c(0) to c(v), composite Simpson with 20000
 * intervals (error ~1e-13). */
static double knot_arc_test(double v)
{
    enum { M = 20000 };
    double h = v / M, s = knot_speed_test(0) + knot_speed_test(v);
    for (int i = 1; i < M; i++)
        s += (i % 2 ? 4 : 2) * knot_speed_test(i * h);
    return s * h / 3;
}

/* The knot's arc-length fraction of c(v), v in [0, 1]. */
static double knot_fraction_test(double v)
{
    static double L = 0.0;
    if (L == 0.0)
        L = knot_arc_test(1.0);
    return knot_arc_test(v) / L;
}

/* |x - c(v)| where v is the trefoil parameter of the knot coordinate u (the
 * arc-length fraction), through the library's inverse of the arc length
 * (itself tested against knot_fraction_test). */
static double knot_dist_at(const cem_dataset_t *d, const double *x, double u)
{
    double c[3];
    knot_at(cemi_dataset_knot_parameter(d, u < 1.0 ? u : 0.0), c);
    return sqrt(pow(x[0] - c[0], 2) + pow(x[1] - c[1], 2) + pow(x[2] - c[2], 2));
}

/* The torus point at angles (theta, phi) with tube radius rho (Tr on the
 * surface). */
static void torus_at(double theta, double phi, double rho, double *p)
{
    double w = TR + rho * cos(phi);
    p[0] = w * cos(theta);
    p[1] = w * sin(theta);
    p[2] = rho * sin(phi);
}

/* Probe i of a brute-force comparison: for i < nrand a random point of the
 * cube [-width/2, width/2]^3, then the rows of `special`. */
static void probe_point(int i, int nrand, double width, const float (*special)[3], float *x)
{
    for (int k = 0; k < 3; k++)
        x[k] = i < nrand ? (float)(width * (test_uniform() - 0.5)) : special[i - nrand][k];
}

/* |a - b| on the circle of circumference 1 */
static double wrap_diff(double a, double b)
{
    double e = fabs(a - b);
    return fmin(e, 1.0 - e);
}

/* ------------------------------------------------- samples on the manifold */

START_TEST(test_samples_on_manifold)
{
    int kind = _i / 2, dim = _i % 2 ? 7 : NATIVE[kind];
    cem_dataset_t *d = make(KINDS[kind], dim, 11);
    ck_assert_int_eq(cem_dataset_dim(d), dim);
    ck_assert_int_eq(cem_dataset_native_dim(d), NATIVE[kind]);
    ck_assert_int_eq(cem_dataset_intrinsic_dim(d), INTRINSIC[kind]);
    enum { N = 3000 };
    float *x = malloc(sizeof(float) * N * (size_t)dim);
    double *dist = malloc(sizeof(double) * N);
    ck_assert_int_eq(cem_dataset_sample(d, N, 5, x), CEM_OK);
    ck_assert_int_eq(cem_dataset_distance(d, N, x, dist), CEM_OK);
    double worst = 0.0, norm_lo = INFINITY, norm_hi = 0.0;
    for (int i = 0; i < N; i++) {
        worst = fmax(worst, dist[i]);
        double s = 0.0;
        for (int j = 0; j < dim; j++)
            s += (double)x[i * dim + j] * x[i * dim + j];
        norm_lo = fmin(norm_lo, sqrt(s));
        norm_hi = fmax(norm_hi, sqrt(s));
    }
    /* float rounding of coordinates of size <= sqrt(2) */
    ck_assert_msg(worst < 1e-5, "kind %d dim %d: max distance of samples %g", kind, dim, worst);
    /* the samples are not all at one point: their norms span the set */
    if (KINDS[kind] == CEM_DATA_SEGMENT)
        ck_assert(norm_lo < 0.01 && norm_hi > 0.99);
    else if (KINDS[kind] == CEM_DATA_HELIX)
        ck_assert(norm_lo < 1.01 && norm_hi > 1.41);
    else if (KINDS[kind] == CEM_DATA_TORUS) /* R - r <= |x| <= R + r */
        ck_assert(norm_lo > 0.6 - 1e-6 && norm_lo < 0.62 && norm_hi < 1.4 + 1e-6 &&
                  norm_hi > 1.38);
    else if (KINDS[kind] == CEM_DATA_KNOT) /* 9 |c|^2 = 6 - 4 cos 3a - cos^2 3a */
        ck_assert(norm_lo > 1.0 / 3 - 1e-6 && norm_lo < 0.34 && norm_hi < 1.0 + 1e-6 &&
                  norm_hi > 0.99);
    else
        ck_assert(fabs(norm_lo - 1.0) < 1e-6 && fabs(norm_hi - 1.0) < 1e-6);
    free(x);
    free(dist);
    cem_dataset_free(d);
}
END_TEST

/* ------------------------------------------------------ known distances */

/* Known native points with known distance and (when unambiguous)
 * coordinate; checked natively and through the embedding, with and without
 * an extra offset w orthogonal to the embedded plane. */
typedef struct {
    double p[3];
    double dist;
    double u; /* < 0: not checked */
} known;

static int known_points(int kind, known *k)
{
    int m = 0;
    switch (KINDS[kind]) {
    case CEM_DATA_SEGMENT:
        k[m++] = (known){{0.5, 0.2, 0}, 0.2, 0.75};
        k[m++] = (known){{1.5, 0.0, 0}, 0.5, 1.0};
        k[m++] = (known){{-1.25, -0.3, 0}, 0.39051248379533272, 0.0};
        k[m++] = (known){{-0.6, -0.7, 0}, 0.7, 0.2};
        k[m++] = (known){{0.0, 0.0, 0}, 0.0, 0.5};
        break;
    case CEM_DATA_CIRCLE:
        for (int i = 0; i < 6; i++) {
            double a = -3.0 + 1.1 * i, r = i % 2 ? 1.3 : 0.4;
            double u = (a < 0 ? a + 2 * PI : a) / (2 * PI);
            k[m++] = (known){{r * cos(a), r * sin(a), 0}, fabs(r - 1.0), u};
        }
        k[m++] = (known){{cos(1.0), sin(1.0), 0}, 0.0, 1.0 / (2 * PI)};
        k[m++] = (known){{0.0, 0.0, 0}, 1.0, -1};
        break;
    case CEM_DATA_HELIX:
        /* radial scaling of a helix point c(u0) by rho: |x - c(u)|^2 -
         * |x - c(u0)|^2 = 2 rho (1 - cos 4 pi (u - u0)) + 4 (u - u0)^2 > 0,
         * so the distance is |1 - rho| at u0 */
        for (int i = 0; i < 7; i++) {
            double u0 = 0.05 + 0.15 * i, rho = i % 2 ? 1.4 : 0.25, th = 4 * PI * u0;
            k[m++] = (known){{rho * cos(th), rho * sin(th), 2 * u0 - 1}, fabs(1 - rho), u0};
        }
        /* on the axis: |x - c(u)|^2 = 1 + (z + 1 - 2u)^2 */
        k[m++] = (known){{0, 0, 0.3}, 1.0, 0.65};
        k[m++] = (known){{0, 0, 2.0}, sqrt(2.0), 1.0};
        k[m++] = (known){{0, 0, -1.5}, sqrt(1.25), 0.0};
        break;
    case CEM_DATA_SPHERE:
        for (int i = 0; i < 6; i++) {
            double v[3] = {test_uniform() - 0.5, test_uniform() - 0.5, test_uniform() - 0.5};
            double s = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
            double r = i % 2 ? 1.3 : 0.5;
            k[m++] = (known){{r * v[0] / s, r * v[1] / s, r * v[2] / s}, fabs(r - 1),
                             (v[2] / s + 1) / 2};
        }
        k[m++] = (known){{0, 0, 1}, 0.0, 1.0};
        k[m++] = (known){{0, 0, -2}, 1.0, 0.0};
        k[m++] = (known){{0.6, 0.0, 0.8}, 0.0, 0.9};
        k[m++] = (known){{0, 0, 0}, 1.0, 0.5};
        break;
    case CEM_DATA_TORUS:
        /* tube radius rho at (theta, phi): the nearest surface point is at
         * (theta, phi), at distance |rho - r| */
        for (int i = 0; i < 8; i++) {
            double th = 0.3 + 0.8 * i, ph = 5.9 - 0.7 * i, rho = i % 2 ? 0.75 : 0.1;
            known c = {{0, 0, 0}, fabs(rho - Tr), th / (2 * PI)};
            torus_at(th, ph, rho, c.p);
            k[m++] = c;
        }
        /* the core circle is at distance r from every point of its tube */
        k[m++] = (known){{cos(2.0), sin(2.0), 0}, Tr, 2.0 / (2 * PI)};
        /* the axis: every point of the core circle is at sqrt(R^2 + z^2);
         * u = 0 there, but off the origin the embedding's rounding moves
         * the point off the axis in a random direction */
        k[m++] = (known){{0, 0, 0}, TR - Tr, 0.0};
        k[m++] = (known){{0, 0, 1.5}, sqrt(TR * TR + 2.25) - Tr, -1};
        k[m++] = (known){{2.0, 0, 0}, 2.0 - TR - Tr, 0.0};
        k[m++] = (known){{0, -1.4, 0}, 0.0, 0.75};
        break;
    case CEM_DATA_KNOT:
        /* points of the curve, at their arc-length fraction */
        for (int i = 0; i < 7; i++) {
            double v = 0.04 + 0.137 * i;
            known c = {{0, 0, 0}, 0.0, knot_fraction_test(v)};
            knot_at(v, c.p);
            k[m++] = c;
        }
        /* the origin: 9 |c|^2 = 6 - 4 cos 3a - cos^2 3a >= 1 (at a = 0 and
         * two more, so u is not unique) */
        k[m++] = (known){{0, 0, 0}, 1.0 / 3, -1};
        break;
    default: /* K = 5 */
        for (int i = 0; i < 5; i++) {
            double a = 2 * PI * i / 5;
            k[m++] = (known){{1.5 * cos(a), 1.5 * sin(a), 0}, 0.5, (i + 0.5) / 5};
            double b = a + 0.3 * 2 * PI / 5; /* 30% of the way to vertex i+1 */
            k[m++] = (known){{cos(b), sin(b), 0}, 2 * sin(0.3 * PI / 5), (i + 0.5) / 5};
        }
        k[m++] = (known){{0, 0, 0}, 1.0, -1};
        break;
    }
    return m;
}

START_TEST(test_known_distances)
{
    int kind = _i / 2, embedded = _i % 2, dim = embedded ? 7 : NATIVE[kind];
    sm_state = 1234 + (uint64_t)_i;
    cem_dataset_t *d = make(KINDS[kind], dim, 99);
    known k[40];
    int m = known_points(kind, k);
    float x[7];
    double w[7];
    for (int i = 0; i < m; i++) {
        embed(d, k[i].p, NULL, x);
        double got = dist1(d, x);
        ck_assert_msg(fabs(got - k[i].dist) < 1e-6, "kind %d dim %d point %d: distance %.9g, want %.9g",
                      kind, dim, i, got, k[i].dist);
        if (k[i].u >= 0) {
            double u = coord1(d, x);
            ck_assert_msg(wrap_diff(u, k[i].u) < 1e-6, "kind %d dim %d point %d: u %.9g, want %.9g", kind,
                          dim, i, u, k[i].u);
        }
        if (embedded) { /* an orthogonal offset of 0.4 adds in quadrature */
            orthogonal_vector(d, 0.4, w);
            embed(d, k[i].p, w, x);
            got = dist1(d, x);
            double want = sqrt(k[i].dist * k[i].dist + 0.16);
            ck_assert_msg(fabs(got - want) < 1e-6, "kind %d point %d + offset: %.9g, want %.9g", kind,
                          i, got, want);
            /* (at the centre of the sphere, and on the torus' axis, the
             * offset alone picks the nearest point, so u is not checked) */
            double pn = fabs(k[i].p[0]) + fabs(k[i].p[1]) + fabs(k[i].p[2]);
            double rn = fabs(k[i].p[0]) + fabs(k[i].p[1]);
            if (k[i].u >= 0 && (pn > 0 || KINDS[kind] != CEM_DATA_SPHERE) &&
                (rn > 0 || KINDS[kind] != CEM_DATA_TORUS))
                ck_assert_msg(wrap_diff(coord1(d, x), k[i].u) < 1e-6, "kind %d point %d + offset: u", kind, i);
        }
    }
    cem_dataset_free(d);
}
END_TEST

START_TEST(test_embedding_orthonormal)
{
    static const int dims[] = {3, 4, 7, 64, 4096};
    for (int kind = 0; kind < N_KINDS; kind++)
        for (size_t c = 0; c < sizeof dims / sizeof dims[0]; c++) {
            int dim = dims[c], nat = NATIVE[kind];
            if (dim < nat)
                continue;
            cem_dataset_t *d = make(KINDS[kind], dim, 7 + c);
            const double *Q = cemi_dataset_embedding(d);
            if (dim == nat) {
                ck_assert_ptr_null(Q);
                cem_dataset_free(d);
                continue;
            }
            ck_assert_ptr_nonnull(Q);
            double worst = 0.0;
            for (int a = 0; a < nat; a++)
                for (int b = 0; b < nat; b++) {
                    double s = 0.0;
                    for (int j = 0; j < dim; j++)
                        s += Q[j * nat + a] * Q[j * nat + b];
                    worst = fmax(worst, fabs(s - (a == b)));
                }
            ck_assert_msg(worst < 1e-12, "kind %d dim %d: |Q^T Q - I| = %g", kind, dim, worst);
            cem_dataset_free(d);
        }
}
END_TEST

/* Q is the Haar-distributed factor of the documented Gaussian matrix: the
 * stream UINT64_MAX of the create seed, dim x native row-major, A = Q R
 * with R upper triangular and diag(R) > 0. */
START_TEST(test_embedding_haar)
{
    for (int kind = 0; kind < N_KINDS; kind++) {
        int dim = 7, nat = NATIVE[kind];
        uint64_t seed = 0xC0FFEEull + (uint64_t)kind;
        cem_dataset_t *d = make(KINDS[kind], dim, seed);
        const double *Q = cemi_dataset_embedding(d);
        double A[7 * 3], R[3][3];
        cemi_rng r;
        cemi_rng_init(&r, seed, UINT64_MAX);
        for (int k = 0; k < dim * nat; k++)
            A[k] = cemi_rng_normal(&r);
        for (int a = 0; a < nat; a++)
            for (int b = 0; b < nat; b++) {
                R[a][b] = 0.0;
                for (int j = 0; j < dim; j++)
                    R[a][b] += Q[j * nat + a] * A[j * nat + b];
            }
        for (int a = 0; a < nat; a++) {
            ck_assert_msg(R[a][a] > 0.0, "kind %d: R[%d][%d] = %g", kind, a, a, R[a][a]);
            for (int b = 0; b < a; b++)
                ck_assert(fabs(R[a][b]) < 1e-12);
        }
        for (int j = 0; j < dim; j++)
            for (int b = 0; b < nat; b++) {
                double s = 0.0;
                for (int a = 0; a < nat; a++)
                    s += Q[j * nat + a] * R[a][b];
                ck_assert(fabs(s - A[j * nat + b]) < 1e-12);
            }
        cem_dataset_free(d);
    }
}
END_TEST

/* Row i is drawn from the Philox stream (seed, i): the segment takes
 * s = 2U - 1 and the circle the angle 2 pi U from its first uniform. */
START_TEST(test_sample_streams)
{
    enum { N = 64 };
    float x[2 * N];
    cem_dataset_t *seg = make(CEM_DATA_SEGMENT, 2, 0), *cir = make(CEM_DATA_CIRCLE, 2, 0);
    ck_assert_int_eq(cem_dataset_sample(seg, N, 1234, x), CEM_OK);
    for (int i = 0; i < N; i++) {
        cemi_rng r;
        cemi_rng_init(&r, 1234, (uint64_t)i);
        ck_assert(x[2 * i] == (float)(2.0 * cemi_rng_uniform(&r) - 1.0) && x[2 * i + 1] == 0.0f);
    }
    ck_assert_int_eq(cem_dataset_sample(cir, N, 99, x), CEM_OK);
    for (int i = 0; i < N; i++) {
        cemi_rng r;
        cemi_rng_init(&r, 99, (uint64_t)i);
        double a = 2.0 * PI * cemi_rng_uniform(&r);
        ck_assert(fabs(x[2 * i] - cos(a)) < 1e-7 && fabs(x[2 * i + 1] - sin(a)) < 1e-7);
    }
    cem_dataset_free(seg);
    cem_dataset_free(cir);
    /* the torus: theta from the first uniform, then phi by rejection, each
     * trial an angle and an acceptance uniform */
    float y[3 * N];
    cem_dataset_t *tor = make(CEM_DATA_TORUS, 3, 0);
    ck_assert_int_eq(cem_dataset_sample(tor, N, 5, y), CEM_OK);
    int rejected = 0;
    for (int i = 0; i < N; i++) {
        cemi_rng r;
        cemi_rng_init(&r, 5, (uint64_t)i);
        double th = 2.0 * PI * cemi_rng_uniform(&r), ph;
        for (;;) {
            ph = 2.0 * PI * cemi_rng_uniform(&r);
            if ((TR + Tr) * cemi_rng_uniform(&r) < TR + Tr * cos(ph))
                break;
            rejected++;
        }
        double p[3];
        torus_at(th, ph, Tr, p);
        for (int k = 0; k < 3; k++)
            ck_assert(fabs(y[3 * i + k] - p[k]) < 1e-7);
    }
    ck_assert(rejected > 0); /* the rejection path ran */
    cem_dataset_free(tor);
}
END_TEST

/* Distances and coordinates of embedded points equal those of the native
 * dataset at the same native point (invariance under Q). */
START_TEST(test_embedding_invariance)
{
    for (int kind = 0; kind < N_KINDS; kind++) {
        int nat = NATIVE[kind];
        cem_dataset_t *dn = make(KINDS[kind], nat, 1);
        cem_dataset_t *de = make(KINDS[kind], 9, 2);
        sm_state = 77 + (uint64_t)kind;
        for (int i = 0; i < 50; i++) {
            double p[3] = {0, 0, 0};
            float xn[3], xe[9];
            for (int k = 0; k < nat; k++)
                p[k] = 4.0 * test_uniform() - 2.0;
            for (int k = 0; k < nat; k++)
                xn[k] = (float)p[k];
            for (int k = 0; k < nat; k++)
                p[k] = xn[k]; /* the same float-valued point in both */
            embed(de, p, NULL, xe);
            double a = dist1(dn, xn), b = dist1(de, xe);
            ck_assert_msg(fabs(a - b) < 1e-6, "kind %d: native %.9g, embedded %.9g", kind, a, b);
            if (KINDS[kind] == CEM_DATA_HELIX) {
                /* both coordinates are minimisers: c(u) is at the distance */
                double ua = coord1(dn, xn), ub = coord1(de, xe);
                ck_assert(fabs(helix_dist_at(p, ua) - a) < 1e-9);
                ck_assert(fabs(helix_dist_at(p, ub) - a) < 1e-5);
            } else if (KINDS[kind] == CEM_DATA_KNOT) {
                double ua = coord1(dn, xn), ub = coord1(de, xe);
                ck_assert(fabs(knot_dist_at(dn, p, ua) - a) < 1e-9);
                ck_assert(fabs(knot_dist_at(dn, p, ub) - a) < 1e-5);
            } else if (KINDS[kind] != CEM_DATA_POINTS) {
                ck_assert(wrap_diff(coord1(dn, xn), coord1(de, xe)) < 1e-5);
            }
        }
        cem_dataset_free(dn);
        cem_dataset_free(de);
    }
}
END_TEST

START_TEST(test_helix_brute_force)
{
    cem_dataset_t *d = make(CEM_DATA_HELIX, 3, 0);
    sm_state = 4242;
    static const float special[4][3] = {
        {1.0f, 0.0f, 1.5f},     /* beyond the end u = 1 along the axis direction */
        {0.99f, 0.01f, -0.98f}, /* close to the curve */
        {1e-7f, -1e-7f, 0.1f},  /* near the axis */
        {30.0f, -40.0f, 7.0f},  /* far away */
    };
    for (int i = 0; i < 24; i++) {
        float x[3];
        probe_point(i, 20, 5.0, special, x);
        double xd[3] = {x[0], x[1], x[2]};
        double want = helix_brute(xd);
        double got = dist1(d, x), u = coord1(d, x);
        ck_assert_msg(fabs(got - want) < 1e-6, "point %d: distance %.12g, brute force %.12g", i, got,
                      want);
        ck_assert(got <= want + 1e-12); /* the library's minimum is not worse */
        ck_assert(u >= 0.0 && u <= 1.0);
        ck_assert_msg(fabs(helix_dist_at(xd, u) - got) < 1e-9, "point %d: c(u) not at the distance", i);
    }
    cem_dataset_free(d);
}
END_TEST

/* The torus against brute force over a 2048 x 1024 grid of (theta, phi).
 * The grid's nearest node g is within a cell's half diagonal h of the
 * nearest surface point p, and |x - g|^2 <= d^2 + h^2 (1 + 2.5 d) (the
 * surface bends away from its tangent plane by at most kappa |p - g|^2 / 2,
 * kappa <= 1/r = 2.5), so the brute force is above the distance d by at
 * most that bound and never below it. */
START_TEST(test_torus_brute_force)
{
    enum { NT = 2048, NP = 1024 };
    double *ct = malloc(sizeof(double) * NT), *st = malloc(sizeof(double) * NT);
    double *cp = malloc(sizeof(double) * NP), *sp = malloc(sizeof(double) * NP);
    for (int i = 0; i < NT; i++) {
        ct[i] = cos(2 * PI * i / NT);
        st[i] = sin(2 * PI * i / NT);
    }
    for (int j = 0; j < NP; j++) {
        cp[j] = cos(2 * PI * j / NP);
        sp[j] = sin(2 * PI * j / NP);
    }
    const double dt = 2 * PI * (TR + Tr) / NT, dp = 2 * PI * Tr / NP;
    const double h2 = 0.25 * (dt * dt + dp * dp);
    cem_dataset_t *d = make(CEM_DATA_TORUS, 3, 0);
    static const float special[4][3] = {
        {0.0f, 0.0f, 0.0f},     /* the origin: R - r */
        {0.0f, 0.0f, -0.75f},   /* on the axis */
        {0.01f, 0.999f, 0.02f}, /* near the core circle */
        {30.0f, -40.0f, 7.0f},  /* far away */
    };
    sm_state = 31337;
    for (int q = 0; q < 16; q++) {
        float x[3];
        probe_point(q, 12, 4.0, special, x);
        double best = INFINITY;
        for (int i = 0; i < NT; i++)
            for (int j = 0; j < NP; j++) {
                double w = TR + Tr * cp[j];
                double a = x[0] - w * ct[i], b = x[1] - w * st[i], c = x[2] - Tr * sp[j];
                double f = a * a + b * b + c * c;
                if (f < best)
                    best = f;
            }
        best = sqrt(best);
        double got = dist1(d, x);
        double bound = sqrt(got * got + h2 * (1 + 2.5 * got)) - got + 1e-12;
        ck_assert_msg(got <= best + 1e-12 && best - got <= bound,
                      "point %d: distance %.12g, brute force %.12g (bound %.3g)", q, got, best,
                      bound);
        /* the closed form at hand-picked points */
        if (q == 12)
            ck_assert(fabs(got - 0.6) < 1e-15);
        if (q == 13)
            ck_assert(fabs(got - (sqrt(1 + 0.5625) - 0.4)) < 1e-15);
        /* u names a nearest point: the meridian at theta = 2 pi u holds one */
        if (fabs(x[0]) + fabs(x[1]) > 0) {
            double th = 2 * PI * coord1(d, x), rho = hypot(x[0], x[1]);
            double xr = x[0] * cos(th) + x[1] * sin(th); /* along the meridian */
            ck_assert(fabs(xr - rho) < 1e-6 * rho);
        }
    }
    cem_dataset_free(d);
    free(ct);
    free(st);
    free(cp);
    free(sp);
}
END_TEST

/* The knot against a brute-force scan of 10^6 + 1 curve points in double. */
START_TEST(test_knot_brute_force)
{
    enum { M = 1000000 };
    double *c = malloc(sizeof(double) * 3 * (M + 1));
    for (int j = 0; j <= M; j++)
        knot_at((double)j / M, c + 3 * j);
    cem_dataset_t *d = make(CEM_DATA_KNOT, 3, 0);
    static const float special[2][3] = {
        {0.0f, 0.0f, 0.25f},   /* on the z axis */
        {30.0f, -40.0f, 7.0f}, /* far away */
    };
    sm_state = 2718;
    for (int i = 0; i < 30; i++) {
        float x[3];
        if (i < 26) { /* random (the second half near the strands), then special */
            probe_point(i, 24, i < 12 ? 2.4 : 0.8, special, x);
        } else { /* close to the curve */
            double p[3];
            knot_at(0.1 + 0.23 * i, p);
            for (int k = 0; k < 3; k++)
                x[k] = (float)(p[k] + 0.003 * (test_uniform() - 0.5));
        }
        double xd[3] = {x[0], x[1], x[2]}, best = INFINITY;
        for (int j = 0; j <= M; j++) {
            double a = xd[0] - c[3 * j], b = xd[1] - c[3 * j + 1], z = xd[2] - c[3 * j + 2];
            double f = a * a + b * b + z * z;
            if (f < best)
                best = f;
        }
        best = sqrt(best);
        double got = dist1(d, x), u = coord1(d, x);
        ck_assert_msg(fabs(got - best) < 1e-6, "point %d: distance %.12g, brute force %.12g", i,
                      got, best);
        ck_assert(got <= best + 1e-12); /* the library's minimum is not worse */
        ck_assert(u >= 0.0 && u < 1.0);
        ck_assert_msg(fabs(knot_dist_at(d, xd, u) - got) < 1e-9, "point %d: c(u) not at the distance",
                      i);
    }
    cem_dataset_free(d);
    free(c);
}
END_TEST

/* Uniform in arc length: the library's inverse of the arc length against
 * the test's own Simpson quadrature of |c'|, to 1e-9 (the header's law);
 * and the samples are the curve points at their row's uniform, whose
 * coordinates give the uniform back. */
START_TEST(test_knot_arc_length)
{
    cem_dataset_t *d = make(CEM_DATA_KNOT, 3, 0);
    for (int i = 0; i < 200; i++) {
        double s = (i + 0.37) / 200;
        double v = cemi_dataset_knot_parameter(d, s);
        ck_assert(v >= 0.0 && v < 1.0);
        double got = knot_fraction_test(v);
        ck_assert_msg(fabs(got - s) < 1e-9, "s %.12g: v %.15g has arc fraction %.15g", s, v, got);
    }
    ck_assert(cemi_dataset_knot_parameter(d, 0.0) == 0.0);
    ck_assert(isnan(cemi_dataset_knot_parameter(d, 1.0)));
    ck_assert(isnan(cemi_dataset_knot_parameter(d, -0.1)));
    enum { N = 2000 };
    float *x = malloc(sizeof(float) * 3 * N);
    double *u = malloc(sizeof(double) * N);
    ck_assert_int_eq(cem_dataset_sample(d, N, 77, x), CEM_OK);
    ck_assert_int_eq(cem_dataset_coordinate(d, N, x, u), CEM_OK);
    for (int i = 0; i < N; i++) {
        cemi_rng r;
        cemi_rng_init(&r, 77, (uint64_t)i);
        double s = cemi_rng_uniform(&r), c[3];
        knot_at(cemi_dataset_knot_parameter(d, s), c);
        for (int k = 0; k < 3; k++)
            ck_assert(x[3 * i + k] == (float)c[k]);
        ck_assert_msg(wrap_diff(u[i], s) < 1e-6, "row %d: u %.9g, drawn at %.9g", i, u[i], s);
    }
    free(x);
    free(u);
    cem_dataset_free(d);
    cem_dataset_t *c = make(CEM_DATA_HELIX, 3, 0);
    ck_assert(isnan(cemi_dataset_knot_parameter(c, 0.5)));
    ck_assert(isnan(cemi_dataset_knot_parameter(NULL, 0.5)));
    cem_dataset_free(c);
}
END_TEST

START_TEST(test_points_brute_force)
{
    cem_dataset_t *d = make(CEM_DATA_POINTS, 2, 0);
    for (int K = 1; K <= 1000; K = K * 3 + 1) {
        ck_assert_int_eq(cem_dataset_set(d, CEM_DATASET_NPOINTS, K), CEM_OK);
        sm_state = (uint64_t)K;
        for (int i = 0; i < 200; i++) {
            float x[2] = {(float)(4 * test_uniform() - 2), (float)(4 * test_uniform() - 2)};
            double best = INFINITY;
            int bi = -1;
            for (int v = 0; v < K; v++) {
                double dd = hypot(x[0] - cos(2 * PI * v / K), x[1] - sin(2 * PI * v / K));
                if (dd < best) {
                    best = dd;
                    bi = v;
                }
            }
            double got = dist1(d, x), u = coord1(d, x);
            ck_assert_msg(fabs(got - best) < 1e-12, "K %d: %.15g vs brute force %.15g", K, got, best);
            /* the coordinate names a vertex at that distance */
            int iv = (int)floor(u * K);
            ck_assert(fabs(u - (iv + 0.5) / K) < 1e-12);
            double dv = hypot(x[0] - cos(2 * PI * iv / K), x[1] - sin(2 * PI * iv / K));
            ck_assert_msg(fabs(dv - best) < 1e-12, "K %d: vertex %d (brute force %d)", K, iv, bi);
        }
    }
    cem_dataset_free(d);
}
END_TEST

/* --------------------------------------------------- the law of u */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* KS statistic of u[0..n-1] against cem_dataset_coordinate_cdf. */
static double ks_stat(const cem_dataset_t *d, double *u, size_t n)
{
    qsort(u, n, sizeof *u, cmp_double);
    double D = 0.0;
    for (size_t i = 0; i < n; i++) {
        double F = cem_dataset_coordinate_cdf(d, u[i]);
        D = fmax(D, fmax((double)(i + 1) / n - F, F - (double)i / n));
    }
    return D;
}

/* n = 20000: the 1% critical value is 1.63/sqrt(n) = 0.0115.  The samples
 * are a fixed function of the seed, so the bound 0.015 (p ~ 2.5e-4 under the
 * right law, lambda = 2.12) makes a false failure unlikely while a coordinate
 * or sampler off by 1.5% anywhere is caught. */
START_TEST(test_coordinate_law)
{
    int kind = CONTINUOUS[_i / 2], dim = _i % 2 ? 7 : NATIVE[kind];
    enum { N = 20000 };
    cem_dataset_t *d = make(KINDS[kind], dim, 3);
    float *x = malloc(sizeof(float) * N * (size_t)dim);
    double *u = malloc(sizeof(double) * N);
    ck_assert_int_eq(cem_dataset_sample(d, N, 2024, x), CEM_OK);
    ck_assert_int_eq(cem_dataset_coordinate(d, N, x, u), CEM_OK);
    for (int i = 0; i < N; i++)
        ck_assert(u[i] >= 0.0 && u[i] <= 1.0);
    double D = ks_stat(d, u, N);
    ck_assert_msg(D < 0.015, "kind %d dim %d: KS statistic %g", kind, dim, D);
    /* and the statistic detects a wrong law: u^2 is far from uniform */
    for (int i = 0; i < N; i++)
        u[i] = u[i] * u[i];
    ck_assert(ks_stat(d, u, N) > 0.2);
    free(x);
    free(u);
    cem_dataset_free(d);
}
END_TEST

/* The torus' samples lie on its surface, and their tube angle phi has the
 * law of surface area: CDF (phi + (r/R) sin phi) / (2 pi) on [0, 2 pi).
 * The KS statistic against that law is small, against the uniform law (a
 * sampler that forgot the area element; sup difference (r/R)/(2 pi) =
 * 0.064) it is not. */
START_TEST(test_torus_law)
{
    enum { N = 20000 };
    int dim = _i ? 6 : 3;
    cem_dataset_t *d = make(CEM_DATA_TORUS, dim, 5);
    float *x = malloc(sizeof(float) * N * (size_t)dim);
    double *phi = malloc(sizeof(double) * N);
    ck_assert_int_eq(cem_dataset_sample(d, N, 123, x), CEM_OK);
    const double *Q = cemi_dataset_embedding(d);
    double worst = 0.0;
    for (int i = 0; i < N; i++) {
        double y[3] = {0, 0, 0};
        for (int k = 0; k < 3; k++) {
            if (!Q)
                y[k] = x[i * dim + k];
            else
                for (int j = 0; j < dim; j++)
                    y[k] += Q[j * 3 + k] * x[i * dim + j];
        }
        double rho = hypot(y[0], y[1]);
        worst = fmax(worst, fabs(hypot(rho - TR, y[2]) - Tr));
        double a = atan2(y[2], rho - TR);
        phi[i] = a < 0 ? a + 2 * PI : a;
    }
    ck_assert_msg(worst < 1e-6, "dim %d: off the surface by %g", dim, worst);
    qsort(phi, N, sizeof *phi, cmp_double);
    double D = 0.0, Du = 0.0;
    for (int i = 0; i < N; i++) {
        double F = (phi[i] + Tr / TR * sin(phi[i])) / (2 * PI), U = phi[i] / (2 * PI);
        D = fmax(D, fmax((double)(i + 1) / N - F, F - (double)i / N));
        Du = fmax(Du, fmax((double)(i + 1) / N - U, U - (double)i / N));
    }
    ck_assert_msg(D < 0.015, "dim %d: KS of phi %g", dim, D);
    ck_assert_msg(Du > 0.04, "dim %d: KS of phi against the uniform law %g", dim, Du);
    free(x);
    free(phi);
    cem_dataset_free(d);
}
END_TEST

START_TEST(test_points_law)
{
    static const int Ks[] = {5, 1, 7, 64};
    enum { N = 20000 };
    for (size_t c = 0; c < 4; c++) {
        int K = Ks[c];
        for (int dim = 2; dim <= 7; dim += 5) {
            cem_dataset_t *d = make(CEM_DATA_POINTS, dim, 8);
            if (K != 5)
                ck_assert_int_eq(cem_dataset_set(d, CEM_DATASET_NPOINTS, K), CEM_OK);
            float *x = malloc(sizeof(float) * N * (size_t)dim);
            double *u = malloc(sizeof(double) * N), *dist = malloc(sizeof(double) * N);
            int *count = calloc((size_t)K, sizeof(int));
            ck_assert_int_eq(cem_dataset_sample(d, N, 31, x), CEM_OK);
            ck_assert_int_eq(cem_dataset_coordinate(d, N, x, u), CEM_OK);
            ck_assert_int_eq(cem_dataset_distance(d, N, x, dist), CEM_OK);
            for (int i = 0; i < N; i++) {
                ck_assert(dist[i] < 1e-5);
                int v = (int)floor(u[i] * K);
                ck_assert(v >= 0 && v < K);
                ck_assert(u[i] == (v + 0.5) / K); /* exactly an atom */
                count[v]++;
            }
            double p = 1.0 / K, sigma = sqrt(N * p * (1 - p));
            for (int v = 0; v < K; v++)
                ck_assert_msg(fabs(count[v] - N * p) <= 4 * sigma + 1e-9,
                              "K %d vertex %d: %d of %d", K, v, count[v], N);
            /* the step CDF: jumps of 1/K exactly at the atoms */
            for (int v = 0; v < K; v++) {
                double a = (v + 0.5) / K;
                ck_assert(cem_dataset_coordinate_cdf(d, a) == (double)(v + 1) / K);
                ck_assert(fabs(cem_dataset_coordinate_cdf(d, a - 1e-9) - (double)v / K) < 1e-15);
            }
            ck_assert(cem_dataset_coordinate_cdf(d, -1.0) == 0.0);
            ck_assert(cem_dataset_coordinate_cdf(d, 0.0) == 0.0);
            ck_assert(cem_dataset_coordinate_cdf(d, 1.0) == 1.0);
            free(x);
            free(u);
            free(dist);
            free(count);
            cem_dataset_free(d);
        }
    }
}
END_TEST

START_TEST(test_cdf_continuous)
{
    for (int c = 0; c < N_CONTINUOUS; c++) {
        int kind = CONTINUOUS[c];
        cem_dataset_t *d = make(KINDS[kind], NATIVE[kind], 0);
        ck_assert(cem_dataset_coordinate_cdf(d, 0.3) == 0.3);
        ck_assert(cem_dataset_coordinate_cdf(d, -0.5) == 0.0);
        ck_assert(cem_dataset_coordinate_cdf(d, 1.5) == 1.0);
        ck_assert(isnan(cem_dataset_coordinate_cdf(d, NAN)));
        cem_dataset_free(d);
    }
    ck_assert(isnan(cem_dataset_coordinate_cdf(NULL, 0.5)));
}
END_TEST

/* --------------------------------------------------------- reproducibility */

START_TEST(test_reproducible)
{
    for (int kind = 0; kind < N_KINDS; kind++) {
        for (int dim = NATIVE[kind]; dim <= 7; dim += 7 - NATIVE[kind]) {
            enum { N = 500 };
            size_t sz = sizeof(float) * 2 * N * (size_t)dim;
            float *a = malloc(sz), *b = malloc(sz), *c = malloc(sz), *e = malloc(sz);
            cem_dataset_t *d = make(KINDS[kind], dim, 17);
            cem_dataset_t *d2 = make(KINDS[kind], dim, 17);
            cem_dataset_t *d3 = make(KINDS[kind], dim, 18);
            ck_assert_int_eq(cem_dataset_sample(d, N, 9, a), CEM_OK);
            ck_assert_int_eq(cem_dataset_sample(d2, N, 9, b), CEM_OK);
            ck_assert(memcmp(a, b, sizeof(float) * N * (size_t)dim) == 0);
            ck_assert_int_eq(cem_dataset_sample(d, 2 * N, 9, c), CEM_OK);
            ck_assert(memcmp(a, c, sizeof(float) * N * (size_t)dim) == 0);
            /* row i alone equals row i of the block */
            ck_assert_int_eq(cem_dataset_sample(d, 1, 9, e), CEM_OK);
            ck_assert(memcmp(a, e, sizeof(float) * (size_t)dim) == 0);
            ck_assert_int_eq(cem_dataset_sample(d, N, 10, b), CEM_OK);
            ck_assert(memcmp(a, b, sizeof(float) * N * (size_t)dim) != 0);
            if (dim > NATIVE[kind]) { /* another create seed, another embedding */
                ck_assert_int_eq(cem_dataset_sample(d3, N, 9, b), CEM_OK);
                ck_assert(memcmp(a, b, sizeof(float) * N * (size_t)dim) != 0);
            }
            cem_dataset_free(d);
            cem_dataset_free(d2);
            cem_dataset_free(d3);
            free(a);
            free(b);
            free(c);
            free(e);
        }
    }
}
END_TEST

/* ------------------------------------------------------------------ errors */

static void assert_last_error(const char *fn)
{
    const char *msg = cem_last_error();
    ck_assert_ptr_nonnull(msg);
    ck_assert_msg(strstr(msg, fn) != NULL, "last error '%s' does not name %s", msg, fn);
}

START_TEST(test_create_errors)
{
    cem_dataset_t *d = (cem_dataset_t *)&d; /* a sentinel that must become NULL */
    ck_assert_int_eq(cem_dataset_create(NULL, CEM_DATA_CIRCLE, 2, 0), CEM_ERR_ARG);
    assert_last_error("cem_dataset_create");
    ck_assert_int_eq(cem_dataset_create(&d, (cem_dataset_kind)7, 2, 0), CEM_ERR_ARG);
    ck_assert_ptr_null(d);
    assert_last_error("cem_dataset_create");
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "7"));
    d = (cem_dataset_t *)&d;
    ck_assert_int_eq(cem_dataset_create(&d, (cem_dataset_kind)-1, 2, 0), CEM_ERR_ARG);
    ck_assert_ptr_null(d);
    d = (cem_dataset_t *)&d;
    ck_assert_int_eq(cem_dataset_create(&d, CEM_DATA_HELIX, 2, 0), CEM_ERR_ARG);
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "dim = 2"));
    ck_assert_int_eq(cem_dataset_create(&d, CEM_DATA_TORUS, 2, 0), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "CEM_DATA_TORUS"));
    ck_assert_int_eq(cem_dataset_create(&d, CEM_DATA_KNOT, 2, 0), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "CEM_DATA_KNOT"));
    ck_assert_ptr_null(d);
    ck_assert_int_eq(cem_dataset_create(&d, CEM_DATA_CIRCLE, 1, 0), CEM_ERR_ARG);
    ck_assert_int_eq(cem_dataset_create(&d, CEM_DATA_CIRCLE, 0, 0), CEM_ERR_ARG);
    ck_assert_int_eq(cem_dataset_create(&d, CEM_DATA_SPHERE, 4097, 0), CEM_ERR_ARG);
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "4097"));
    ck_assert_int_eq(cem_dataset_create(&d, CEM_DATA_SPHERE, 4096, 0), CEM_OK);
    cem_dataset_free(d);
    cem_dataset_free(NULL);
    ck_assert_int_eq(cem_dataset_dim(NULL), -1);
    ck_assert_int_eq(cem_dataset_native_dim(NULL), -1);
    ck_assert_int_eq(cem_dataset_intrinsic_dim(NULL), -1);
    ck_assert_str_eq(cem_dataset_errmsg(NULL), "");
}
END_TEST

START_TEST(test_eval_errors)
{
    cem_dataset_t *d = make(CEM_DATA_CIRCLE, 2, 0);
    float x[8] = {1, 0, 0, 1, -1, 0, 0, -1};
    double out[4] = {-7, -7, -7, -7};
    ck_assert_str_eq(cem_dataset_errmsg(d), "");
    ck_assert_int_eq(cem_dataset_sample(NULL, 4, 0, x), CEM_ERR_ARG);
    assert_last_error("cem_dataset_sample");
    ck_assert_int_eq(cem_dataset_sample(d, 4, 0, NULL), CEM_ERR_ARG);
    assert_last_error("cem_dataset_sample");
    ck_assert_int_eq(cem_dataset_sample(d, 0, 0, NULL), CEM_OK);
    ck_assert_int_eq(cem_dataset_sample(d, SIZE_MAX, 0, x), CEM_ERR_ARG);
    ck_assert_int_eq(cem_dataset_distance(NULL, 4, x, out), CEM_ERR_ARG);
    assert_last_error("cem_dataset_distance");
    ck_assert_int_eq(cem_dataset_distance(d, 4, NULL, out), CEM_ERR_ARG);
    ck_assert_int_eq(cem_dataset_distance(d, 4, x, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_dataset_distance(d, 0, NULL, NULL), CEM_OK);
    ck_assert_int_eq(cem_dataset_coordinate(NULL, 4, x, out), CEM_ERR_ARG);
    assert_last_error("cem_dataset_coordinate");
    ck_assert_int_eq(cem_dataset_coordinate(d, 4, NULL, out), CEM_ERR_ARG);
    ck_assert_int_eq(cem_dataset_coordinate(d, 0, NULL, NULL), CEM_OK);

    x[6] = NAN; /* row 3 */
    ck_assert_int_eq(cem_dataset_distance(d, 4, x, out), CEM_ERR_NONFINITE);
    assert_last_error("cem_dataset_distance");
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "row 3"));
    /* a const call's failure is the thread's alone: the handle's message,
     * which other threads may be reading, stays as it was */
    ck_assert_ptr_null(strstr(cem_dataset_errmsg(d), "row 3"));
    for (int i = 0; i < 4; i++)
        ck_assert(out[i] == -7); /* nothing written */
    x[6] = 0;
    x[3] = -INFINITY; /* row 1 */
    ck_assert_int_eq(cem_dataset_coordinate(d, 4, x, out), CEM_ERR_NONFINITE);
    assert_last_error("cem_dataset_coordinate");
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "row 1"));
    for (int i = 0; i < 4; i++)
        ck_assert(out[i] == -7);
    /* and the embedded path checks too */
    cem_dataset_t *e = make(CEM_DATA_SPHERE, 4, 0);
    float y[8] = {0, 0, 0, 0, 0, 0, 0, NAN};
    ck_assert_int_eq(cem_dataset_distance(e, 2, y, out), CEM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "row 1"));
    cem_dataset_free(e);
    cem_dataset_free(d);
}
END_TEST

START_TEST(test_options)
{
    double lo = 0, hi = 0, v = 0;
    ck_assert_int_eq(cem_dataset_option_bounds(CEM_DATASET_NPOINTS, &lo, &hi), CEM_OK);
    ck_assert(lo == 1.0 && hi == 1000000.0);
    ck_assert_int_eq(cem_dataset_option_bounds((cem_dataset_option)99, &lo, &hi), CEM_ERR_ARG);
    assert_last_error("cem_dataset_option_bounds");
    ck_assert_int_eq(cem_dataset_option_bounds(CEM_DATASET_NPOINTS, NULL, &hi), CEM_ERR_ARG);

    cem_dataset_t *d = make(CEM_DATA_POINTS, 2, 0);
    ck_assert_int_eq(cem_dataset_get(d, CEM_DATASET_NPOINTS, &v), CEM_OK);
    ck_assert(v == 5.0);
    ck_assert_int_eq(cem_dataset_set(d, CEM_DATASET_NPOINTS, 7), CEM_OK);
    ck_assert_int_eq(cem_dataset_get(d, CEM_DATASET_NPOINTS, &v), CEM_OK);
    ck_assert(v == 7.0);
    ck_assert_int_eq(cem_dataset_set(d, CEM_DATASET_NPOINTS, lo), CEM_OK);
    ck_assert_int_eq(cem_dataset_set(d, CEM_DATASET_NPOINTS, hi), CEM_OK);
    ck_assert_int_eq(cem_dataset_get(d, CEM_DATASET_NPOINTS, &v), CEM_OK);
    ck_assert(v == hi);
    ck_assert_int_eq(cem_dataset_set(d, CEM_DATASET_NPOINTS, 7), CEM_OK);
    static const double bad[] = {0.0, -3.0, 1000001.0, 2.5, NAN, INFINITY};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(cem_dataset_set(d, CEM_DATASET_NPOINTS, bad[i]), CEM_ERR_RANGE);
        assert_last_error("cem_dataset_set");
        ck_assert_ptr_nonnull(strstr(cem_last_error(), "CEM_DATASET_NPOINTS"));
        ck_assert_ptr_nonnull(strstr(cem_dataset_errmsg(d), "cem_dataset_set"));
        ck_assert_int_eq(cem_dataset_get(d, CEM_DATASET_NPOINTS, &v), CEM_OK);
        ck_assert(v == 7.0); /* unchanged */
    }
    ck_assert_int_eq(cem_dataset_set(d, (cem_dataset_option)99, 3), CEM_ERR_ARG);
    ck_assert_int_eq(cem_dataset_get(d, (cem_dataset_option)99, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_dataset_set(NULL, CEM_DATASET_NPOINTS, 3), CEM_ERR_ARG);
    assert_last_error("cem_dataset_set");
    ck_assert_int_eq(cem_dataset_get(NULL, CEM_DATASET_NPOINTS, &v), CEM_ERR_ARG);
    assert_last_error("cem_dataset_get");
    ck_assert_int_eq(cem_dataset_get(d, CEM_DATASET_NPOINTS, NULL), CEM_ERR_ARG);
    cem_dataset_free(d);

    for (int i = 0; i < N_CONTINUOUS; i++) {
        cem_dataset_t *c = make(KINDS[CONTINUOUS[i]], NATIVE[CONTINUOUS[i]], 0);
        ck_assert_int_eq(cem_dataset_set(c, CEM_DATASET_NPOINTS, 7), CEM_ERR_UNSUPPORTED);
        assert_last_error("cem_dataset_set");
        ck_assert_int_eq(cem_dataset_get(c, CEM_DATASET_NPOINTS, &v), CEM_ERR_UNSUPPORTED);
        assert_last_error("cem_dataset_get");
        cem_dataset_free(c);
    }
}
END_TEST

/* ------------------------------------------------------ affine placement */

/* A circle of radius 50 centred at (100, -30): exact points, samples. */
START_TEST(test_affine_circle)
{
    cem_dataset_t *d = make(CEM_DATA_CIRCLE, 2, 0), *d0 = make(CEM_DATA_CIRCLE, 2, 0);
    const double off[2] = {100, -30};
    ck_assert_int_eq(cem_dataset_set_affine(d, 50, off), CEM_OK);
    static const struct {
        float x[2];
        double dist, u;
    } pts[] = {
        {{165, -30}, 15, 0.0},  /* radius 1.3 at angle 0 */
        {{100, -10}, 30, 0.25}, /* radius 0.4 at pi/2 */
        {{20, -30}, 30, 0.5},   /* radius 1.6 at pi */
        {{100, -80}, 0, 0.75},  /* on the circle at 3 pi/2 */
        {{100, -30}, 50, -1},   /* the centre */
    };
    for (int i = 0; i < 5; i++) {
        ck_assert_msg(fabs(dist1(d, pts[i].x) - pts[i].dist) < 1e-12, "point %d: %.15g", i,
                      dist1(d, pts[i].x));
        if (pts[i].u >= 0)
            ck_assert(fabs(coord1(d, pts[i].x) - pts[i].u) < 1e-15);
    }
    enum { N = 1000 };
    float x[2 * N], x0[2 * N];
    double dist[N], u[N], u0[N], mean = 0, p95 = 0, max = 0;
    ck_assert_int_eq(cem_dataset_sample(d, N, 3, x), CEM_OK);
    ck_assert_int_eq(cem_dataset_sample(d0, N, 3, x0), CEM_OK);
    ck_assert_int_eq(cem_dataset_distance(d, N, x, dist), CEM_OK);
    ck_assert_int_eq(cem_dataset_coordinate(d, N, x, u), CEM_OK);
    ck_assert_int_eq(cem_dataset_coordinate(d0, N, x0, u0), CEM_OK);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 2; k++) /* offset + scale p, rounded to float */
            ck_assert(fabs(x[2 * i + k] - (off[k] + 50.0 * x0[2 * i + k])) < 2e-5);
        ck_assert_msg(dist[i] < 3e-5, "row %d: distance %g", i, dist[i]); /* float rounding */
        ck_assert(wrap_diff(u[i], u0[i]) < 1e-6);
    }
    ck_assert_int_eq(cem_metric_distance(d, N, x, &mean, &p95, &max), CEM_OK);
    ck_assert(mean < 3e-5 && max < 3e-5);
    /* the coordinate's law does not move */
    ck_assert(cem_dataset_coordinate_cdf(d, 0.3) == 0.3);
    cem_dataset_free(d);
    cem_dataset_free(d0);
}
END_TEST

/* Every kind, natively and embedded: with scale 4 and a dyadic offset the
 * placed point offset + 4 x is exact in float, so its distance is 4 times
 * that of x and its coordinate that of x (to rounding); points moved along
 * a known normal are at scale times their native distance. */
START_TEST(test_affine_all_kinds)
{
    int kind = _i / 2, dim = _i % 2 ? 7 : NATIVE[kind];
    cem_dataset_t *d = make(KINDS[kind], dim, 9), *d0 = make(KINDS[kind], dim, 9);
    double off[7], got_off[7], sc = 0;
    for (int j = 0; j < dim; j++)
        off[j] = 0.75 * j - 2.5;
    ck_assert_int_eq(cem_dataset_set_affine(d, 4.0, off), CEM_OK);
    ck_assert_int_eq(cem_dataset_get_affine(d, &sc, got_off), CEM_OK);
    ck_assert(sc == 4.0);
    for (int j = 0; j < dim; j++)
        ck_assert(got_off[j] == off[j]);
    sm_state = 555 + (uint64_t)_i;
    for (int i = 0; i < 40; i++) {
        float x[7], X[7];
        for (int j = 0; j < dim; j++) {
            x[j] = (float)(floor((4.0 * test_uniform() - 2.0) * 4096.0) / 4096.0);
            X[j] = (float)(off[j] + 4.0 * x[j]);
            ck_assert((double)X[j] == off[j] + 4.0 * x[j]); /* exact */
        }
        double a = dist1(d0, x), b = dist1(d, X);
        ck_assert_msg(fabs(b - 4.0 * a) <= 1e-12 * (1.0 + a), "kind %d dim %d: %.17g vs 4 x %.17g",
                      kind, dim, b, a);
        ck_assert(coord1(d, X) == coord1(d0, x));
    }
    /* known normals, placed: each at scale times its known distance */
    known k[40];
    int m = known_points(kind, k);
    for (int i = 0; i < m; i++) {
        float x[7];
        embed(d0, k[i].p, NULL, x);
        for (int j = 0; j < dim; j++)
            x[j] = (float)(off[j] + 4.0 * x[j]);
        ck_assert_msg(fabs(dist1(d, x) - 4.0 * k[i].dist) < 1e-5, "kind %d point %d: %.9g, want %.9g",
                      kind, i, dist1(d, x), 4.0 * k[i].dist);
    }
    /* the samples: offset + 4 p, on the placed manifold */
    enum { N = 500 };
    float *s = malloc(sizeof(float) * N * (size_t)dim), *s0 = malloc(sizeof(float) * N * (size_t)dim);
    double *dist = malloc(sizeof(double) * N);
    ck_assert_int_eq(cem_dataset_sample(d, N, 8, s), CEM_OK);
    ck_assert_int_eq(cem_dataset_sample(d0, N, 8, s0), CEM_OK);
    ck_assert_int_eq(cem_dataset_distance(d, N, s, dist), CEM_OK);
    for (int i = 0; i < N; i++) {
        ck_assert(dist[i] < 4e-5);
        for (int j = 0; j < dim; j++)
            ck_assert(fabs(s[i * dim + j] - (off[j] + 4.0 * s0[i * dim + j])) < 4e-6);
    }
    /* (1, NULL) restores the identity: the same bits as never placed */
    ck_assert_int_eq(cem_dataset_set_affine(d, 1.0, NULL), CEM_OK);
    ck_assert_int_eq(cem_dataset_sample(d, N, 8, s), CEM_OK);
    ck_assert(memcmp(s, s0, sizeof(float) * N * (size_t)dim) == 0);
    ck_assert_int_eq(cem_dataset_get_affine(d, &sc, got_off), CEM_OK);
    ck_assert(sc == 1.0);
    for (int j = 0; j < dim; j++)
        ck_assert(got_off[j] == 0.0);
    free(s);
    free(s0);
    free(dist);
    cem_dataset_free(d);
    cem_dataset_free(d0);
}
END_TEST

/* Exact cases of the new kinds, placed: the torus' centre and the sphere's
 * centre, a point pushed along the normal. */
START_TEST(test_affine_exact)
{
    cem_dataset_t *t = make(CEM_DATA_TORUS, 3, 0), *s = make(CEM_DATA_SPHERE, 3, 0);
    const double ot[3] = {5, -5, 2}, os[3] = {1, 2, 3};
    ck_assert_int_eq(cem_dataset_set_affine(t, 10, ot), CEM_OK);
    ck_assert_int_eq(cem_dataset_set_affine(s, 3, os), CEM_OK);
    float c[3] = {5, -5, 2};
    ck_assert(fabs(dist1(t, c) - 6.0) < 1e-12); /* 10 (R - r) */
    float e[3] = {5 + 14, -5, 2};               /* the outer equator: on it */
    ck_assert(dist1(t, e) < 1e-12);
    ck_assert(coord1(t, e) == 0.0);
    float f[3] = {5, -5 + 10 * 1.25f, 2};        /* tube radius 0.25 at theta = pi/2 */
    ck_assert(fabs(dist1(t, f) - 1.5) < 1e-6);   /* 10 (0.4 - 0.25) */
    ck_assert(fabs(coord1(t, f) - 0.25) < 1e-12);
    float g[3] = {1, 2, 3};
    ck_assert(fabs(dist1(s, g) - 3.0) < 1e-12);
    float h[3] = {1, 2, 3 + 4.5f}; /* radius 1.5 along +z */
    ck_assert(fabs(dist1(s, h) - 1.5) < 1e-12);
    ck_assert(fabs(coord1(s, h) - 1.0) < 1e-12);
    cem_dataset_free(t);
    cem_dataset_free(s);
}
END_TEST

START_TEST(test_affine_errors)
{
    cem_dataset_t *d = make(CEM_DATA_CIRCLE, 2, 0);
    const double off[2] = {1, 2};
    ck_assert_int_eq(cem_dataset_set_affine(d, 2.0, off), CEM_OK);
    float x[2] = {4, 2}, s0[20], s1[20];
    double before = dist1(d, x), sc = 0, o[2] = {0, 0};
    ck_assert(fabs(before - 1.0) < 1e-15);
    ck_assert_int_eq(cem_dataset_sample(d, 10, 1, s0), CEM_OK);
    static const double bad_scale[] = {0.0, -1.0, 1000000.0000001, 1e300, NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(cem_dataset_set_affine(d, bad_scale[i], off), CEM_ERR_RANGE);
        assert_last_error("cem_dataset_set_affine");
        ck_assert_ptr_nonnull(strstr(cem_last_error(), "scale"));
        ck_assert_ptr_nonnull(strstr(cem_dataset_errmsg(d), "scale"));
    }
    static const double bad_off[] = {NAN, INFINITY, -INFINITY, 1000001.0, -2e6};
    for (int i = 0; i < 5; i++) {
        double o2[2] = {3, bad_off[i]};
        ck_assert_int_eq(cem_dataset_set_affine(d, 5.0, o2), CEM_ERR_RANGE);
        assert_last_error("cem_dataset_set_affine");
        ck_assert_ptr_nonnull(strstr(cem_last_error(), "offset[1]"));
    }
    ck_assert_int_eq(cem_dataset_set_affine(NULL, 1.0, NULL), CEM_ERR_ARG);
    assert_last_error("cem_dataset_set_affine");
    /* d unchanged by every failure */
    ck_assert_int_eq(cem_dataset_get_affine(d, &sc, o), CEM_OK);
    ck_assert(sc == 2.0 && o[0] == 1.0 && o[1] == 2.0);
    ck_assert(dist1(d, x) == before);
    ck_assert_int_eq(cem_dataset_sample(d, 10, 1, s1), CEM_OK);
    ck_assert(memcmp(s0, s1, sizeof s0) == 0);
    /* the bounds themselves are accepted; the getter's outputs may be NULL */
    const double edge[2] = {1e6, -1e6};
    ck_assert_int_eq(cem_dataset_set_affine(d, 1e6, edge), CEM_OK);
    ck_assert_int_eq(cem_dataset_get_affine(d, NULL, NULL), CEM_OK);
    ck_assert_int_eq(cem_dataset_get_affine(d, &sc, NULL), CEM_OK);
    ck_assert(sc == 1e6);
    ck_assert_int_eq(cem_dataset_get_affine(NULL, &sc, o), CEM_ERR_ARG);
    assert_last_error("cem_dataset_get_affine");
    cem_dataset_free(d);
}
END_TEST

Suite *suite_dataset(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("geometry");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_samples_on_manifold, 0, 2 * N_KINDS);
    tcase_add_loop_test(tc, test_known_distances, 0, 2 * N_KINDS);
    tcase_add_test(tc, test_embedding_orthonormal);
    tcase_add_test(tc, test_embedding_invariance);
    tcase_add_test(tc, test_embedding_haar);
    tcase_add_test(tc, test_helix_brute_force);
    tcase_add_test(tc, test_torus_brute_force);
    tcase_add_test(tc, test_knot_brute_force);
    tcase_add_test(tc, test_points_brute_force);
    suite_add_tcase(s, tc);

    tc = tcase_create("law");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_coordinate_law, 0, 2 * N_CONTINUOUS);
    tcase_add_loop_test(tc, test_torus_law, 0, 2);
    tcase_add_test(tc, test_knot_arc_length);
    tcase_add_test(tc, test_points_law);
    tcase_add_test(tc, test_cdf_continuous);
    tcase_add_test(tc, test_reproducible);
    tcase_add_test(tc, test_sample_streams);
    suite_add_tcase(s, tc);

    tc = tcase_create("affine");
    tcase_add_test(tc, test_affine_circle);
    tcase_add_loop_test(tc, test_affine_all_kinds, 0, 2 * N_KINDS);
    tcase_add_test(tc, test_affine_exact);
    tcase_add_test(tc, test_affine_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_create_errors);
    tcase_add_test(tc, test_eval_errors);
    tcase_add_test(tc, test_options);
    suite_add_tcase(s, tc);
    return s;
}
