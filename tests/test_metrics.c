/*
 * test_metrics.c -- the metrics against independent truths: distances of
 * points placed at exact (dyadic) offsets from the circle with numpy's
 * percentile rule worked by hand, sliced W2 of point masses against
 * |a - b|^2 / D, the exact 1-D W2 by hand and by a quantile grid, energy
 * distance and MMD by hand and by brute-force loops over unordered pairs,
 * KS statistics by hand and by scanning a fine grid, and the singularity
 * profile of exact models (a single data point in closed form; a densely
 * sampled circle against the rates of docs/MATH.md 6); every error path.
 */
#include "tests.h"

#include "base.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double PI = 3.14159265358979323846;

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

static cem_dataset_t *make(cem_dataset_kind kind, int dim)
{
    cem_dataset_t *d = NULL;
    ck_assert_int_eq(cem_dataset_create(&d, kind, dim, 7), CEM_OK);
    return d;
}

static void assert_error_mentions(const char *fn)
{
    const char *msg = cem_last_error();
    ck_assert_msg(strstr(msg, fn) != NULL, "message \"%s\" does not name %s", msg, fn);
}

/* ------------------------------------------------------------ distance */

/* Points on the axes at radius 1 + r_k (r_k dyadic, so float-exact, and
 * hypot(r, 0) = r): the distances are exactly r_k. */
static void axis_points(const double *r, size_t n, float *x)
{
    for (size_t k = 0; k < n; k++) {
        double rad = 1.0 + r[k];
        double c = 0.0, s = 0.0;
        switch (k % 4) {
        case 0: c = rad; break;
        case 1: s = rad; break;
        case 2: c = -rad; break;
        default: s = -rad; break;
        }
        x[2 * k] = (float)c;
        x[2 * k + 1] = (float)s;
    }
}

START_TEST(test_distance_known)
{
    cem_dataset_t *d = make(CEM_DATA_CIRCLE, 2);
    float x[2 * 11];
    double mean = -1, p95 = -1, max = -1;

    /* r_k = k^2 / 64, k = 0..10 (shuffled): position 0.95 * 10 = 9.5, so
     * p95 = (81 + 0.5 (100 - 81)) / 64 = 90.5 / 64; mean = 385 / 704. */
    const int order[11] = {3, 10, 0, 7, 1, 9, 5, 2, 8, 4, 6};
    double r[11];
    for (int k = 0; k < 11; k++)
        r[k] = order[k] * order[k] / 64.0;
    axis_points(r, 11, x);
    ck_assert_int_eq(cem_metric_distance(d, 11, x, &mean, &p95, &max), CEM_OK);
    ck_assert_double_eq_tol(mean, 385.0 / 704.0, 1e-15);
    ck_assert_double_eq_tol(p95, 90.5 / 64.0, 1e-15);
    ck_assert_double_eq(max, 100.0 / 64.0);

    /* r = {1..7}/16: position 5.7, p95 = (6 + 0.7) / 16 (numpy: 0.41875). */
    const double r7[7] = {5 / 16.0, 1 / 16.0, 7 / 16.0, 3 / 16.0, 2 / 16.0, 6 / 16.0, 4 / 16.0};
    axis_points(r7, 7, x);
    ck_assert_int_eq(cem_metric_distance(d, 7, x, &mean, &p95, &max), CEM_OK);
    ck_assert_double_eq_tol(mean, 28.0 / 16.0 / 7.0, 1e-15);
    ck_assert_double_eq_tol(p95, 0.41875, 1e-15);
    ck_assert_double_eq(max, 7 / 16.0);

    /* {3, 1, 2, 0.5}/4: position 2.85 -> (2 + 0.85) / 4; numpy gives
     * 2.8499999999999996 / 4. */
    const double r4[4] = {0.75, 0.25, 0.5, 0.125};
    axis_points(r4, 4, x);
    ck_assert_int_eq(cem_metric_distance(d, 4, x, NULL, &p95, NULL), CEM_OK);
    ck_assert_double_eq_tol(p95, 2.85 / 4.0, 1e-15);

    /* n = 1: every statistic is the one distance; all outputs NULL is fine */
    const double r1[1] = {0.375};
    axis_points(r1, 1, x);
    ck_assert_int_eq(cem_metric_distance(d, 1, x, &mean, &p95, &max), CEM_OK);
    ck_assert_double_eq(mean, 0.375);
    ck_assert_double_eq(p95, 0.375);
    ck_assert_double_eq(max, 0.375);
    ck_assert_int_eq(cem_metric_distance(d, 1, x, NULL, NULL, NULL), CEM_OK);

    /* points inside the circle too: radius 1 - s at angle theta (floats,
     * distances exact to float rounding, ~1e-7) */
    float y[2 * 100];
    double sum = 0.0, mx = 0.0;
    for (int k = 0; k < 100; k++) {
        double s = (k % 2 ? 1 : -1) * 0.5 * (k + 1) / 100.0, th = 2 * PI * k / 100.0;
        y[2 * k] = (float)((1 + s) * cos(th));
        y[2 * k + 1] = (float)((1 + s) * sin(th));
        sum += fabs(s);
        mx = fmax(mx, fabs(s));
    }
    ck_assert_int_eq(cem_metric_distance(d, 100, y, &mean, &p95, &max), CEM_OK);
    ck_assert_double_eq_tol(mean, sum / 100, 1e-6);
    ck_assert_double_eq_tol(max, mx, 1e-6);
    /* |s| = (k+1)/200: sorted values j/200, j = 1..100; position 94.05:
     * 95/200 + 0.05/200 */
    ck_assert_double_eq_tol(p95, 95.05 / 200, 1e-6);
    cem_dataset_free(d);
}
END_TEST

/* ------------------------------------------------------------ sliced W2 */

/* Two point masses in R^D: SW2^2 = E_u <a - b, u>^2 = |a - b|^2 / D.  For
 * |v| = 1, <v, u>^2 ~ Beta(1/2, (D-1)/2): mean 1/D, relative standard
 * deviation sqrt(2 (D-1) / (D+2)); over L directions the estimate's is
 * that over sqrt(L).  The test allows 5 standard deviations. */
START_TEST(test_sw2_point_masses)
{
    const int Ds[3] = {2, 3, 10};
    const int L = 20000;
    for (int c = 0; c < 3; c++) {
        int D = Ds[c];
        float a[10], b[10];
        double v2 = 0.0;
        for (int j = 0; j < D; j++) {
            a[j] = (float)(j % 3) - 0.5f;
            b[j] = (float)(j * j) / 8.0f;
            v2 += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
        }
        double sw = -1;
        ck_assert_int_eq(cem_metric_sliced_w2(1, a, 1, b, D, L, 11, &sw), CEM_OK);
        double rel_sd = sqrt(2.0 * (D - 1) / (D + 2)) / sqrt((double)L);
        double rel = sw * sw / (v2 / D) - 1.0;
        ck_assert_msg(fabs(rel) < 5 * rel_sd, "D = %d: SW2^2 = %g, expected %g (rel %g, sd %g)",
                      D, sw * sw, v2 / D, rel, rel_sd);
    }
}
END_TEST

/* Insertion sort (the test's own, not qsort). */
static void sort_small(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

/* W2^2 of the 1-D empirical laws of x (n) and y (m) by a midpoint rule on
 * M cells of the quantile functions F^-1(q) = sorted[ceil(q n) - 1]; exact
 * (to rounding) when lcm(n, m) divides M, as every cell then lies inside
 * one piece. */
static double w2sq_grid(const double *x, int n, const double *y, int m, int M)
{
    double *xs = malloc(sizeof(double) * n), *ys = malloc(sizeof(double) * m);
    ck_assert(xs && ys);
    memcpy(xs, x, sizeof(double) * n);
    memcpy(ys, y, sizeof(double) * m);
    sort_small(xs, n);
    sort_small(ys, m);
    double s = 0.0;
    for (int k = 0; k < M; k++) {
        double q = (k + 0.5) / M;
        int i = (int)ceil(q * n) - 1, j = (int)ceil(q * m) - 1;
        s += (xs[i] - ys[j]) * (xs[i] - ys[j]);
    }
    free(xs);
    free(ys);
    return s / M;
}

START_TEST(test_sw2_one_dimension)
{
    /* In R^1 every direction is +-1 and W2 is invariant under x -> -x, so
     * SW2 is the exact W2 whatever the number of directions.  By hand, for
     * a = {0, 1, 3} and b = {0.5, 2, 2.5, 4} (breakpoints 1/4, 1/3, 1/2,
     * 2/3, 3/4): W2^2 = (0.25 + 16/12 ... ) = 3/48 + 16/48 + 8/48 + 18/48
     * + 1/48 + 12/48 = 29/24. */
    const float a[3] = {3, 0, 1}, b[4] = {2.5f, 4, 0.5f, 2};
    const double ad[3] = {3, 0, 1}, bd[4] = {2.5, 4, 0.5, 2};
    double sw = -1;
    ck_assert_int_eq(cem_metric_sliced_w2(3, a, 4, b, 1, 5, 3, &sw), CEM_OK);
    ck_assert_double_eq_tol(sw * sw, 29.0 / 24.0, 1e-14);
    /* M divisible by 12: every cell lies within one piece, exact too */
    ck_assert_double_eq_tol(sw * sw, w2sq_grid(ad, 3, bd, 4, 120000), 1e-12);
    ck_assert_int_eq(cem_metric_sliced_w2(4, b, 3, a, 1, 1, 99, &sw), CEM_OK);
    ck_assert_double_eq_tol(sw * sw, 29.0 / 24.0, 1e-14);

    /* random sizes 5 and 7 against the grid (35 | M) */
    sm_state = 5;
    float x[5], y[7];
    double xd[5], yd[7];
    for (int i = 0; i < 5; i++)
        xd[i] = x[i] = (float)(4 * test_uniform() - 2);
    for (int i = 0; i < 7; i++)
        yd[i] = y[i] = (float)(3 * test_uniform() - 1);
    ck_assert_int_eq(cem_metric_sliced_w2(5, x, 7, y, 1, 2, 0, &sw), CEM_OK);
    /* the grid sums 140000 terms: its own rounding is ~1e-11 */
    ck_assert_double_eq_tol(sw * sw, w2sq_grid(xd, 5, yd, 7, 35 * 4000), 1e-9);

    /* shift: W2(a, a + c) = |c| (values float-exact) */
    const float s[5] = {0.25f, 1.5f, -2, 3.125f, 0};
    float sc[5];
    for (int i = 0; i < 5; i++)
        sc[i] = s[i] + 0.75f;
    ck_assert_int_eq(cem_metric_sliced_w2(5, s, 5, sc, 1, 3, 1, &sw), CEM_OK);
    ck_assert_double_eq_tol(sw, 0.75, 1e-15);
}
END_TEST

START_TEST(test_sw2_identical_and_streams)
{
    const int dim = 3;
    const size_t na = 40, nb = 25;
    float a[40 * 3], b[25 * 3];
    sm_state = 17;
    for (size_t i = 0; i < na * dim; i++)
        a[i] = (float)(test_uniform() - 0.5);
    for (size_t i = 0; i < nb * dim; i++)
        b[i] = (float)(2 * test_uniform());
    double sw = -1;
    ck_assert_int_eq(cem_metric_sliced_w2(na, a, na, a, dim, 50, 0, &sw), CEM_OK);
    ck_assert_double_eq(sw, 0.0);

    /* deterministic for a seed; another seed gives other directions */
    double s1, s2, s3;
    ck_assert_int_eq(cem_metric_sliced_w2(na, a, nb, b, dim, 10, 42, &s1), CEM_OK);
    ck_assert_int_eq(cem_metric_sliced_w2(na, a, nb, b, dim, 10, 42, &s2), CEM_OK);
    ck_assert_int_eq(cem_metric_sliced_w2(na, a, nb, b, dim, 10, 43, &s3), CEM_OK);
    ck_assert(s1 == s2);
    ck_assert(s1 != s3);

    /* direction l is the normalised Gaussian of stream (seed, l): 10
     * directions = 9 directions plus direction 9, whose W2^2 the test
     * computes itself (projections in double, the quantile grid, 200 | M) */
    double s9;
    ck_assert_int_eq(cem_metric_sliced_w2(na, a, nb, b, dim, 9, 42, &s9), CEM_OK);
    cemi_rng r;
    cemi_rng_init(&r, 42, 9);
    double u[3], nu = 0.0;
    for (int j = 0; j < dim; j++) {
        u[j] = cemi_rng_normal(&r);
        nu += u[j] * u[j];
    }
    double pa[40], pb[25];
    for (size_t i = 0; i < na; i++) {
        pa[i] = 0.0;
        for (int j = 0; j < dim; j++)
            pa[i] += a[i * dim + j] * u[j] / sqrt(nu);
    }
    for (size_t i = 0; i < nb; i++) {
        pb[i] = 0.0;
        for (int j = 0; j < dim; j++)
            pb[i] += b[i * dim + j] * u[j] / sqrt(nu);
    }
    /* lcm(40, 25) = 200 divides M */
    double w9 = w2sq_grid(pa, (int)na, pb, (int)nb, 200 * 500);
    ck_assert_double_eq_tol(10 * s1 * s1, 9 * s9 * s9 + w9, 1e-12 * (10 * s1 * s1));
}
END_TEST

/* ------------------------------------------------- energy distance, MMD */

/* sum over unordered pairs {i < j} of g(|x_i - y_j|) times 2 for x = y;
 * for x != y all pairs: written differently from the library's loops. */
static double brute_pairs(const float *x, size_t nx, const float *y, size_t ny, int dim,
                          int same, double h)
{
    double s = 0.0;
    for (size_t i = 0; i < nx; i++)
        for (size_t j = same ? i + 1 : 0; j < ny; j++) {
            double d2 = 0.0;
            for (int k = 0; k < dim; k++)
                d2 += pow((double)x[i * dim + k] - (double)y[j * dim + k], 2);
            double g = h > 0 ? exp(-d2 / (2 * h * h)) : sqrt(d2);
            s += same ? 2 * g : g;
        }
    if (same && h > 0)
        s += (double)nx; /* the diagonal: k(x, x) = 1 */
    return s;
}

START_TEST(test_energy_known)
{
    double e = -1;
    /* two point masses at 0 and d in R^1: 2d - 0 - 0 */
    const float p0[1] = {0}, p1[1] = {1.75f};
    ck_assert_int_eq(cem_metric_energy(1, p0, 1, p1, 1, &e), CEM_OK);
    ck_assert_double_eq_tol(e, 3.5, 1e-15);
    /* a = {0, 1}, b = {3}: 2 (3 + 2)/2 - (0 + 1 + 1 + 0)/4 - 0 = 4.5 */
    const float a2[2] = {0, 1}, b1[1] = {3};
    ck_assert_int_eq(cem_metric_energy(2, a2, 1, b1, 1, &e), CEM_OK);
    ck_assert_double_eq_tol(e, 4.5, 1e-15);
    ck_assert_int_eq(cem_metric_energy(1, b1, 2, a2, 1, &e), CEM_OK);
    ck_assert_double_eq_tol(e, 4.5, 1e-15);

    /* random sets in R^3 against the brute force */
    enum { NA = 60, NB = 45, D = 3 };
    float a[NA * D], b[NB * D];
    sm_state = 99;
    for (int i = 0; i < NA * D; i++)
        a[i] = (float)(test_uniform() * 2 - 1);
    for (int i = 0; i < NB * D; i++)
        b[i] = (float)(test_uniform() * 1.5 - 0.5);
    double want = 2 * brute_pairs(a, NA, b, NB, D, 0, 0) / (NA * NB) -
                  brute_pairs(a, NA, a, NA, D, 1, 0) / (NA * NA) -
                  brute_pairs(b, NB, b, NB, D, 1, 0) / (NB * NB);
    ck_assert_int_eq(cem_metric_energy(NA, a, NB, b, D, &e), CEM_OK);
    ck_assert(want > 0);
    ck_assert_double_eq_tol(e, want, 1e-12 * want);

    /* identical sets: exactly 0; a shift makes it positive and growing */
    ck_assert_int_eq(cem_metric_energy(NA, a, NA, a, D, &e), CEM_OK);
    ck_assert_double_eq(e, 0.0);
    float sh[NA * D];
    double prev = 0.0;
    const double shifts[4] = {0.05, 0.2, 1.0, 4.0};
    for (int c = 0; c < 4; c++) {
        memcpy(sh, a, sizeof a);
        for (int i = 0; i < NA; i++)
            sh[i * D + 1] += (float)shifts[c];
        ck_assert_int_eq(cem_metric_energy(NA, a, NA, sh, D, &e), CEM_OK);
        ck_assert_msg(e > prev, "shift %g: energy %g not above %g", shifts[c], e, prev);
        prev = e;
    }
    /* in R^1, B = A + s with s beyond A's range: |a_i - b_j| = b_j - a_i,
     * so E|A - B| = s exactly and the distance is 2 s - 2 E|A - A'| */
    float l1[NA], l2[NA];
    for (int i = 0; i < NA; i++) {
        l1[i] = (float)(floor(a[i] * 64.0) / 64.0); /* in [-1, 1], dyadic: + 4 is exact */
        l2[i] = l1[i] + 4.0f;
    }
    double aa = brute_pairs(l1, NA, l1, NA, 1, 1, 0) / (NA * NA);
    ck_assert_int_eq(cem_metric_energy(NA, l1, NA, l2, 1, &e), CEM_OK);
    ck_assert_double_eq_tol(e, 2 * 4.0 - 2 * aa, 1e-12);
}
END_TEST

START_TEST(test_mmd_known)
{
    double m = -1;
    /* two single points at distance r: 2 - 2 exp(-r^2 / (2 h^2)) */
    const float p0[2] = {0, 0}, p1[2] = {0.6f, 0.8f}; /* r = 1 (to float rounding) */
    ck_assert_int_eq(cem_metric_mmd(1, p0, 1, p1, 2, 0.5, &m), CEM_OK);
    ck_assert_double_eq_tol(m, 2 - 2 * exp(-1.0 / (2 * 0.25)), 1e-7);
    const float q0[1] = {0}, q1[1] = {1.5f};
    ck_assert_int_eq(cem_metric_mmd(1, q0, 1, q1, 1, 2.0, &m), CEM_OK);
    ck_assert_double_eq_tol(m, 2 - 2 * exp(-2.25 / 8), 1e-15);
    /* a = {0, 1}, b = {0}, h = 1: (1 - e^-1/2) / 2 by hand */
    const float a2[2] = {0, 1};
    ck_assert_int_eq(cem_metric_mmd(2, a2, 1, q0, 1, 1.0, &m), CEM_OK);
    ck_assert_double_eq_tol(m, (1 - exp(-0.5)) / 2, 1e-15);

    /* random sets against the brute force, and identical sets */
    enum { NA = 50, NB = 70, D = 2 };
    float a[NA * D], b[NB * D];
    sm_state = 3;
    for (int i = 0; i < NA * D; i++)
        a[i] = (float)(test_uniform() * 2 - 1);
    for (int i = 0; i < NB * D; i++)
        b[i] = (float)(test_uniform() * 2 - 0.7);
    const double h = 0.4;
    double want = brute_pairs(a, NA, a, NA, D, 1, h) / (NA * NA) +
                  brute_pairs(b, NB, b, NB, D, 1, h) / (NB * NB) -
                  2 * brute_pairs(a, NA, b, NB, D, 0, h) / (NA * NB);
    ck_assert_int_eq(cem_metric_mmd(NA, a, NB, b, D, h, &m), CEM_OK);
    ck_assert(want > 0);
    ck_assert_double_eq_tol(m, want, 1e-12 * want);
    ck_assert_int_eq(cem_metric_mmd(NB, b, NB, b, D, h, &m), CEM_OK);
    ck_assert_double_eq(m, 0.0);
}
END_TEST

/* ------------------------------------------------------------------- KS */

START_TEST(test_ks_circle)
{
    cem_dataset_t *d = make(CEM_DATA_CIRCLE, 2);
    enum { N = 8 };
    float x[2 * N];
    double ks = -1;
    /* coordinates (i + 0.5)/N (to float rounding of the points, ~1e-8):
     * F_n - F swings between +-0.5/N */
    const int perm[N] = {5, 2, 7, 0, 3, 6, 1, 4};
    for (int i = 0; i < N; i++) {
        double th = 2 * PI * (perm[i] + 0.5) / N;
        x[2 * i] = (float)cos(th);
        x[2 * i + 1] = (float)sin(th);
    }
    ck_assert_int_eq(cem_metric_ks(d, N, x, &ks), CEM_OK);
    ck_assert_double_eq_tol(ks, 0.5 / N, 1e-6);

    /* every point at angle 0 (u = 0): F_n jumps to 1 at 0, F(0) = 0 */
    for (int i = 0; i < N; i++) {
        x[2 * i] = 1.0f + 0.1f * (float)i;
        x[2 * i + 1] = 0.0f;
    }
    ck_assert_int_eq(cem_metric_ks(d, N, x, &ks), CEM_OK);
    ck_assert_double_eq_tol(ks, 1.0, 1e-12);

    /* random points: the textbook formula on the coordinates, sorted here */
    enum { M = 200 };
    float y[2 * M];
    double u[M];
    ck_assert_int_eq(cem_dataset_sample(d, M, 4, y), CEM_OK);
    ck_assert_int_eq(cem_dataset_coordinate(d, M, y, u), CEM_OK);
    sort_small(u, M);
    double want = 0.0;
    for (int i = 0; i < M; i++)
        want = fmax(want, fmax((i + 1.0) / M - u[i], u[i] - (double)i / M));
    ck_assert_int_eq(cem_metric_ks(d, M, y, &ks), CEM_OK);
    ck_assert_double_eq_tol(ks, want, 1e-12);
    ck_assert(ks > 0.0 && ks < 0.15); /* sqrt(n) KS is ~1: 0.07 typical */
    cem_dataset_free(d);
}
END_TEST

/* |F_n - F| scanned at u = j / 10000 and halfway between (step functions
 * that are constant between the atoms (i + 1/2)/5). */
static double ks_scan(const cem_dataset_t *d, const double *u, int n)
{
    double best = 0.0;
    for (int j = 0; j <= 20000; j++) {
        double v = j / 20000.0;
        int c = 0;
        for (int i = 0; i < n; i++)
            c += u[i] <= v;
        best = fmax(best, fabs((double)c / n - cem_dataset_coordinate_cdf(d, v)));
    }
    return best;
}

START_TEST(test_ks_points)
{
    cem_dataset_t *d = make(CEM_DATA_POINTS, 2); /* K = 5 */
    enum { K = 5 };
    float x[2 * 40];
    double ks = -1, u[40];
    /* exactly the right proportions (2 per vertex, shuffled): 0 */
    for (int i = 0; i < 2 * K; i++) {
        int v = (i * 3) % K;
        x[2 * i] = (float)cos(2 * PI * v / K);
        x[2 * i + 1] = (float)sin(2 * PI * v / K);
    }
    ck_assert_int_eq(cem_metric_ks(d, 2 * K, x, &ks), CEM_OK);
    ck_assert_double_eq_tol(ks, 0.0, 1e-15);

    /* all at vertex 2 (u = 0.5): F(0.5-) = 0.4 against F_n = 0, F(0.5) =
     * 0.6 against 1: 0.4 */
    for (int i = 0; i < 4; i++) {
        x[2 * i] = (float)cos(2 * PI * 2 / K);
        x[2 * i + 1] = (float)sin(2 * PI * 2 / K);
    }
    ck_assert_int_eq(cem_metric_ks(d, 4, x, &ks), CEM_OK);
    ck_assert_double_eq_tol(ks, 0.4, 1e-15);

    /* 3 at vertex 0, 1 at vertex 1, 1 at vertex 2: F_n = 0.6, 0.8, 1 at
     * u = 0.1, 0.3, 0.5 against F = 0.2, 0.4, 0.6: 0.4 */
    const int v5[5] = {1, 0, 2, 0, 0};
    for (int i = 0; i < 5; i++) {
        x[2 * i] = (float)(1.2 * cos(2 * PI * v5[i] / K));
        x[2 * i + 1] = (float)(1.2 * sin(2 * PI * v5[i] / K));
    }
    ck_assert_int_eq(cem_metric_ks(d, 5, x, &ks), CEM_OK);
    ck_assert_double_eq_tol(ks, 0.4, 1e-15);

    /* random points near the vertices against the scan */
    sm_state = 8;
    for (int i = 0; i < 40; i++) {
        int v = (int)(test_uniform() * K);
        x[2 * i] = (float)(cos(2 * PI * v / K) + 0.1 * (test_uniform() - 0.5));
        x[2 * i + 1] = (float)(sin(2 * PI * v / K) + 0.1 * (test_uniform() - 0.5));
    }
    ck_assert_int_eq(cem_dataset_coordinate(d, 40, x, u), CEM_OK);
    ck_assert_int_eq(cem_metric_ks(d, 40, x, &ks), CEM_OK);
    ck_assert_double_eq_tol(ks, ks_scan(d, u, 40), 1e-15);
    ck_assert(ks > 0.0);
    cem_dataset_free(d);
}
END_TEST

/* --------------------------------------------------- singularity profile */

/* The exact model of one data point x0 has f = x0 at every (x, t), so
 * |f| = |x0|, |eps| = |x - alpha x0| / sigma, |S| = |x - alpha x0| / sigma^2
 * in closed form. */
START_TEST(test_profile_single_point)
{
    const float x0[2] = {1.0f, 0.0f};
    const float probes[4 * 2] = {2, 0, 0, 3, -1, -1, 1, 0.5f};
    const double t[4] = {1e-3, 1e-2, 0.1, 1.0};
    cem_model_t *m = NULL;
    ck_assert_int_eq(cem_model_create_empirical(&m, x0, 1, 2), CEM_OK);
    double mx[12], mn[12], sl[3];
    ck_assert_int_eq(cem_singularity_profile(m, 4, probes, 4, t, mx, mn, sl), CEM_OK);
    double want_mx[12], want_mn[12];
    for (int k = 0; k < 4; k++) {
        double al = exp(-t[k] / 2), s2 = -expm1(-t[k]);
        double nmax[3] = {0, 0, 0}, nsum[3] = {0, 0, 0};
        for (int i = 0; i < 4; i++) {
            double r = hypot(probes[2 * i] - al * x0[0], probes[2 * i + 1] - al * x0[1]);
            double v[3] = {1.0, r / sqrt(s2), r / s2};
            for (int w = 0; w < 3; w++) {
                nmax[w] = fmax(nmax[w], v[w]);
                nsum[w] += v[w];
            }
        }
        for (int w = 0; w < 3; w++) {
            want_mx[w * 4 + k] = nmax[w];
            want_mn[w * 4 + k] = nsum[w] / 4;
        }
    }
    /* float outputs: about 1e-7 relative */
    ck_assert_double_le(test_rel_err(mx, want_mx, 12, 1e-30), 1e-6);
    ck_assert_double_le(test_rel_err(mn, want_mn, 12, 1e-30), 1e-6);
    /* the test's own least squares of log mean against log t */
    for (int w = 0; w < 3; w++) {
        double xb = 0, yb = 0, sxy = 0, sxx = 0;
        for (int k = 0; k < 4; k++) {
            xb += log(t[k]) / 4;
            yb += log(want_mn[w * 4 + k]) / 4;
        }
        for (int k = 0; k < 4; k++) {
            sxy += (log(t[k]) - xb) * (log(want_mn[w * 4 + k]) - yb);
            sxx += (log(t[k]) - xb) * (log(t[k]) - xb);
        }
        ck_assert_double_eq_tol(sl[w], sxy / sxx, 1e-6);
    }
    ck_assert_double_eq_tol(sl[CEM_TARGET_CEM], 0.0, 1e-6);

    /* any output may be NULL */
    double mn2[12];
    ck_assert_int_eq(cem_singularity_profile(m, 4, probes, 4, t, NULL, mn2, NULL), CEM_OK);
    ck_assert_mem_eq(mn, mn2, sizeof mn);
    ck_assert_int_eq(cem_singularity_profile(m, 4, probes, 4, t, NULL, NULL, NULL), CEM_OK);
    cem_model_free(m);
}
END_TEST

/* The exact model of 2000 points of the circle, probes at distance d = 0.1
 * and 0.3 outside it, t on a log grid from 1e-4 to 1e-2: MATH.md 6 says
 * |f| stays bounded, |eps| ~ d / sqrt(t), |S| ~ d / t.  At t = 1e-2 the
 * softmax spreads over an arc of about sigma / sqrt(r) ~ 0.1 rad, which
 * shortens f by about sigma^2 / (2r), and alpha = 1 - t/2: |x - alpha f|
 * is d + 0.01, a slope change of about log(1.1) / log(100) ~ 0.02 for
 * d = 0.1: slopes within 0.1 of 0, -1/2, -1.  At t = 1e-4 these
 * corrections are ~1e-4 and the sample's gaps (~0.003 rad, a few times
 * that at worst) move f off the probe's ray by less than the softmax
 * width: mean |S| = d / sigma^2 within 5%, and sigma^2 = t (1 - t/2). */
START_TEST(test_profile_circle)
{
    cem_dataset_t *ds = make(CEM_DATA_CIRCLE, 2);
    enum { N = 2000, P = 16, T = 9 };
    float *pts = malloc(sizeof(float) * 2 * N);
    ck_assert_ptr_nonnull(pts);
    ck_assert_int_eq(cem_dataset_sample(ds, N, 12, pts), CEM_OK);
    cem_model_t *m = NULL;
    ck_assert_int_eq(cem_model_create_empirical(&m, pts, N, 2), CEM_OK);
    double t[T];
    ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, T, 1e-4, 1e-2, t), CEM_OK);
    const double dist[2] = {0.1, 0.3};
    for (int c = 0; c < 2; c++) {
        float probes[2 * P];
        for (int i = 0; i < P; i++) {
            double th = 2 * PI * (i + 0.3) / P;
            probes[2 * i] = (float)((1 + dist[c]) * cos(th));
            probes[2 * i + 1] = (float)((1 + dist[c]) * sin(th));
        }
        double mx[3 * T], mn[3 * T], sl[3];
        ck_assert_int_eq(cem_singularity_profile(m, P, probes, T, t, mx, mn, sl), CEM_OK);
        ck_assert_double_eq_tol(sl[CEM_TARGET_CEM], 0.0, 0.1);
        ck_assert_double_eq_tol(sl[CEM_TARGET_NOISE], -0.5, 0.1);
        ck_assert_double_eq_tol(sl[CEM_TARGET_SCORE], -1.0, 0.1);
        double s_mean = mn[CEM_TARGET_SCORE * T + 0];
        ck_assert_msg(fabs(s_mean / (dist[c] / t[0]) - 1) < 0.05,
                      "d = %g: mean |S| at t = 1e-4 is %g, d/t = %g", dist[c], s_mean,
                      dist[c] / t[0]);
        /* f is bounded by the data's radius; max >= mean everywhere */
        for (int k = 0; k < T; k++) {
            ck_assert_double_le(mx[CEM_TARGET_CEM * T + k], 1.0 + 1e-6);
            for (int w = 0; w < 3; w++)
                ck_assert_double_ge(mx[w * T + k], mn[w * T + k]);
        }
    }
    cem_model_free(m);
    free(pts);
    cem_dataset_free(ds);
}
END_TEST

/* ------------------------------------------------------------------ errors */

START_TEST(test_errors_dataset_metrics)
{
    cem_dataset_t *d = make(CEM_DATA_CIRCLE, 3);
    float x[3 * 4] = {1, 0, 0, 0, 1, 0, -1, 0, 0, 0, -1, 0.5f};
    double v = -7, u = -7, w = -7;
    ck_assert_int_eq(cem_metric_distance(NULL, 4, x, &v, &u, &w), CEM_ERR_ARG);
    assert_error_mentions("cem_metric_distance");
    ck_assert_int_eq(cem_metric_distance(d, 0, x, &v, &u, &w), CEM_ERR_ARG);
    assert_error_mentions("n = 0");
    ck_assert_int_eq(cem_metric_distance(d, 4, NULL, &v, &u, &w), CEM_ERR_ARG);
    x[2 * 3 + 1] = NAN; /* row 2, column 1 */
    ck_assert_int_eq(cem_metric_distance(d, 4, x, &v, &u, &w), CEM_ERR_NONFINITE);
    assert_error_mentions("cem_metric_distance: x row 2 column 1");
    ck_assert(v == -7 && u == -7 && w == -7);

    ck_assert_int_eq(cem_metric_ks(NULL, 4, x, &v), CEM_ERR_ARG);
    assert_error_mentions("cem_metric_ks");
    ck_assert_int_eq(cem_metric_ks(d, 0, x, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_ks(d, 4, NULL, &v), CEM_ERR_ARG);
    x[2 * 3 + 1] = 0.0f;
    ck_assert_int_eq(cem_metric_ks(d, 4, x, NULL), CEM_ERR_ARG);
    x[3 * 3] = -INFINITY;
    ck_assert_int_eq(cem_metric_ks(d, 4, x, &v), CEM_ERR_NONFINITE);
    assert_error_mentions("cem_metric_ks: x row 3 column 0");
    ck_assert(v == -7);
    cem_dataset_free(d);
}
END_TEST

START_TEST(test_errors_set_metrics)
{
    float a[6] = {0, 1, 2, 3, 4, 5}, b[4] = {1, 1, 2, 2};
    double v = -7;
    /* sliced W2 */
    static const char sw[] = "cem_metric_sliced_w2";
    ck_assert_int_eq(cem_metric_sliced_w2(3, a, 2, b, 0, 10, 0, &v), CEM_ERR_ARG);
    assert_error_mentions(sw);
    assert_error_mentions("dim = 0");
    ck_assert_int_eq(cem_metric_sliced_w2(0, a, 2, b, 2, 10, 0, &v), CEM_ERR_ARG);
    assert_error_mentions("na = 0");
    ck_assert_int_eq(cem_metric_sliced_w2(3, a, 0, b, 2, 10, 0, &v), CEM_ERR_ARG);
    assert_error_mentions("nb = 0");
    ck_assert_int_eq(cem_metric_sliced_w2(3, NULL, 2, b, 2, 10, 0, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_sliced_w2(3, a, 2, NULL, 2, 10, 0, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_sliced_w2(3, a, 2, b, 2, 10, 0, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_sliced_w2(3, a, 2, b, 2, 0, 0, &v), CEM_ERR_ARG);
    assert_error_mentions("directions = 0");
    ck_assert_int_eq(cem_metric_sliced_w2(3, a, 2, b, 2, 1000001, 0, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_sliced_w2(3, a, 2, b, 2, -1, 0, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_sliced_w2(SIZE_MAX / 2, a, 2, b, 2, 10, 0, &v), CEM_ERR_ARG);
    b[3] = NAN;
    ck_assert_int_eq(cem_metric_sliced_w2(3, a, 2, b, 2, 10, 0, &v), CEM_ERR_NONFINITE);
    assert_error_mentions("cem_metric_sliced_w2: b row 1 column 1");

    /* energy */
    static const char en[] = "cem_metric_energy";
    ck_assert_int_eq(cem_metric_energy(3, a, 2, b, -1, &v), CEM_ERR_ARG);
    assert_error_mentions(en);
    ck_assert_int_eq(cem_metric_energy(0, a, 2, b, 2, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_energy(3, a, 0, b, 2, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_energy(3, NULL, 2, b, 2, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_energy(3, a, 2, NULL, 2, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_energy(3, a, 2, b, 2, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_energy(3, a, 2, b, 2, &v), CEM_ERR_NONFINITE);
    assert_error_mentions("cem_metric_energy: b row 1 column 1");
    b[3] = 2;
    a[4] = INFINITY;
    ck_assert_int_eq(cem_metric_energy(3, a, 2, b, 2, &v), CEM_ERR_NONFINITE);
    assert_error_mentions("a row 2 column 0");
    a[4] = 4;

    /* MMD */
    static const char mm[] = "cem_metric_mmd";
    ck_assert_int_eq(cem_metric_mmd(3, a, 2, b, 0, 1.0, &v), CEM_ERR_ARG);
    assert_error_mentions(mm);
    ck_assert_int_eq(cem_metric_mmd(0, a, 2, b, 2, 1.0, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_mmd(3, a, 0, b, 2, 1.0, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_mmd(3, NULL, 2, b, 2, 1.0, &v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_metric_mmd(3, a, 2, b, 2, 1.0, NULL), CEM_ERR_ARG);
    const double bad_h[5] = {0.0, -1.0, NAN, INFINITY, 1e-200};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(cem_metric_mmd(3, a, 2, b, 2, bad_h[i], &v), CEM_ERR_ARG);
        assert_error_mentions("cem_metric_mmd: bandwidth");
    }
    a[1] = NAN;
    ck_assert_int_eq(cem_metric_mmd(3, a, 2, b, 2, 1.0, &v), CEM_ERR_NONFINITE);
    assert_error_mentions("a row 0 column 1");
    ck_assert(v == -7);
}
END_TEST

START_TEST(test_errors_profile)
{
    static const char fn[] = "cem_singularity_profile";
    const float x0[2] = {0.0f, 0.0f};
    float probes[4] = {1, 0, 0, 2};
    double t[3] = {1e-3, 1e-2, 1e-1};
    double mx[9], mn[9], sl[3];
    for (int i = 0; i < 9; i++)
        mx[i] = mn[i] = -7;
    sl[0] = sl[1] = sl[2] = -7;
    cem_model_t *m = NULL;
    ck_assert_int_eq(cem_model_create_empirical(&m, x0, 1, 2), CEM_OK);

    ck_assert_int_eq(cem_singularity_profile(NULL, 2, probes, 3, t, mx, mn, sl), CEM_ERR_ARG);
    assert_error_mentions(fn);
    ck_assert_int_eq(cem_singularity_profile(m, 0, probes, 3, t, mx, mn, sl), CEM_ERR_ARG);
    assert_error_mentions("np = 0");
    ck_assert_str_eq(cem_model_errmsg(m), ""); /* const: the thread's message only */
    ck_assert_int_eq(cem_singularity_profile(m, 2, NULL, 3, t, mx, mn, sl), CEM_ERR_ARG);
    ck_assert_int_eq(cem_singularity_profile(m, 2, probes, 1, t, mx, mn, sl), CEM_ERR_ARG);
    assert_error_mentions("nt = 1");
    ck_assert_int_eq(cem_singularity_profile(m, 2, probes, 0, t, mx, mn, sl), CEM_ERR_ARG);
    ck_assert_int_eq(cem_singularity_profile(m, 2, probes, 3, NULL, mx, mn, sl), CEM_ERR_ARG);
    const double bad_t[4] = {0.0, -1e-3, NAN, INFINITY};
    for (int i = 0; i < 4; i++) {
        t[1] = bad_t[i];
        ck_assert_int_eq(cem_singularity_profile(m, 2, probes, 3, t, mx, mn, sl), CEM_ERR_ARG);
        assert_error_mentions("cem_singularity_profile: t[1]");
    }
    /* equal times leave no slope to fit (fine without a slope) */
    t[0] = t[1] = t[2] = 0.01;
    ck_assert_int_eq(cem_singularity_profile(m, 2, probes, 3, t, mx, mn, sl), CEM_ERR_ARG);
    assert_error_mentions(fn);
    t[0] = 1e-3;
    t[1] = 1e-2;
    t[2] = 1e-1;
    probes[3] = NAN;
    ck_assert_int_eq(cem_singularity_profile(m, 2, probes, 3, t, mx, mn, sl),
                     CEM_ERR_NONFINITE);
    assert_error_mentions("cem_singularity_profile: probes row 1 column 1");
    probes[3] = 2;
    /* the one data point is the origin: f = 0, log |f| has no slope */
    ck_assert_int_eq(cem_singularity_profile(m, 2, probes, 3, t, mx, mn, sl), CEM_ERR_NUMERIC);
    assert_error_mentions("cem_singularity_profile: the mean |f|");
    for (int i = 0; i < 9; i++)
        ck_assert(mx[i] == -7 && mn[i] == -7);
    ck_assert(sl[0] == -7 && sl[1] == -7 && sl[2] == -7);
    /* without the slope the profile is fine: |f| = 0 */
    ck_assert_int_eq(cem_singularity_profile(m, 2, probes, 3, t, mx, mn, NULL), CEM_OK);
    ck_assert_double_eq(mx[0], 0.0);
    ck_assert_double_eq(mn[2], 0.0);
    cem_model_free(m);

    /* an MLP whose weights are all 1e30 overflows: non-finite norms */
    cem_model_t *net = NULL;
    ck_assert_int_eq(cem_model_create_mlp(&net, 2, CEM_TARGET_NOISE), CEM_OK);
    ck_assert_int_eq(cem_model_set(net, CEM_MODEL_WIDTH, 4), CEM_OK);
    ck_assert_int_eq(cem_model_set(net, CEM_MODEL_DEPTH, 1), CEM_OK);
    size_t np = cem_model_param_count(net);
    float *w = malloc(sizeof(float) * np);
    ck_assert_ptr_nonnull(w);
    for (size_t i = 0; i < np; i++)
        w[i] = 1e30f;
    ck_assert_int_eq(cem_model_set_params(net, 2, w, np), CEM_OK);
    ck_assert_int_eq(cem_singularity_profile(net, 2, probes, 3, t, mx, mn, NULL),
                     CEM_ERR_NUMERIC);
    assert_error_mentions(fn);
    free(w);
    cem_model_free(net);
}
END_TEST

Suite *suite_metrics(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("values");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_distance_known);
    tcase_add_test(tc, test_sw2_point_masses);
    tcase_add_test(tc, test_sw2_one_dimension);
    tcase_add_test(tc, test_sw2_identical_and_streams);
    tcase_add_test(tc, test_energy_known);
    tcase_add_test(tc, test_mmd_known);
    tcase_add_test(tc, test_ks_circle);
    tcase_add_test(tc, test_ks_points);
    tcase_add_test(tc, test_profile_single_point);
    tcase_add_test(tc, test_profile_circle);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_errors_dataset_metrics);
    tcase_add_test(tc, test_errors_set_metrics);
    tcase_add_test(tc, test_errors_profile);
    suite_add_tcase(s, tc);
    return s;
}
