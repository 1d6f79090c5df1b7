/*
 * test_process.c -- layer 2: OU coefficients, the conversions between f, eps
 * and S, the time grids and the training time laws, against closed forms
 * computed independently in long double; the normal quantile against erfc,
 * EDM's log-normal law against its CDF written here from erfc, and the
 * importance weights against the density each law's CDF implies.
 */
#include "tests.h"

#include "base.h"
#include "process.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

START_TEST(ou_coefficients_small_and_large_t)
{
    double a, s2;
    /* tiny t: sigma^2 to the last bits (1 - exp(-t) would lose them all) */
    const double ts[] = {1e-12, 1e-9, 1e-6, 1e-3};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        double t = ts[i];
        ck_assert_int_eq(cem_ou_coefficients(t, &a, &s2), CEM_OK);
        long double ref = -expm1l(-(long double)t);
        ck_assert_double_lt(fabs((double)((s2 - ref) / ref)), 4e-16);
        ck_assert_double_lt(fabs(a - exp(-t / 2)), 1e-16);
    }
    ck_assert_int_eq(cem_ou_coefficients(2.0, &a, &s2), CEM_OK);
    ck_assert_double_lt(fabs(s2 - (1 - exp(-2.0))), 1e-15);
    ck_assert_double_lt(fabs(a - exp(-1.0)), 1e-16);
    ck_assert_int_eq(cem_ou_coefficients(0.0, &a, &s2), CEM_OK);
    ck_assert(a == 1.0 && s2 == 0.0);
    ck_assert_int_eq(cem_ou_coefficients(-1.0, &a, &s2), CEM_ERR_ARG);
    ck_assert_int_eq(cem_ou_coefficients(NAN, &a, &s2), CEM_ERR_ARG);
    ck_assert_int_eq(cem_ou_coefficients(INFINITY, NULL, NULL), CEM_ERR_ARG);
}
END_TEST

/* f, eps, S at (x, t) from f, in long double (MATH.md 2). */
static void truth(long double x, long double f, long double t, long double out[3])
{
    long double al = expl(-t / 2), s2 = -expm1l(-t), s = sqrtl(s2);
    out[CEM_TARGET_CEM] = f;
    out[CEM_TARGET_NOISE] = (x - al * f) / s;
    out[CEM_TARGET_SCORE] = (al * f - x) / s2;
}

START_TEST(conversions_all_pairs)
{
    enum { n = 400, dim = 3 };
    static float x[n * dim], in[n * dim], out[n * dim];
    static long double ref[3][n * dim];
    static double t[n];
    cemi_rng r;
    cemi_rng_init(&r, 11, 0);
    for (int i = 0; i < n; i++) {
        t[i] = exp(log(1e-5) + (log(20.0) - log(1e-5)) * cemi_rng_uniform(&r));
        for (int j = 0; j < dim; j++) {
            x[i * dim + j] = (float)(2 * cemi_rng_normal(&r));
            float f = (float)cemi_rng_normal(&r);
            long double o[3];
            truth(x[i * dim + j], f, t[i], o);
            for (int k = 0; k < 3; k++)
                ref[k][i * dim + j] = o[k];
        }
    }
    for (int from = 0; from < 3; from++)
        for (int to = 0; to < 3; to++) {
            for (int k = 0; k < n * dim; k++)
                in[k] = (float)ref[from][k];
            ck_assert_int_eq(cem_convert((cem_target)from, (cem_target)to, n, dim, x, t, in,
                                         out), CEM_OK);
            double worst = 0;
            for (int k = 0; k < n * dim; k++) {
                long double d = fabsl(out[k] - ref[to][k]) / fmaxl(fabsl(ref[to][k]), 1.0L);
                /* into f from eps or S divides by alpha: the float input's
                 * rounding grows by 1/alpha (conditioning, not arithmetic) */
                if (to == CEM_TARGET_CEM && from != CEM_TARGET_CEM)
                    d *= expl(-(long double)t[k / dim] / 2);
                worst = fmax(worst, (double)d);
            }
            /* float input and output: a few float ulps */
            ck_assert_msg(worst < 1e-6, "from %d to %d: rel err %g", from, to, worst);
        }
    /* in place */
    for (int k = 0; k < n * dim; k++)
        in[k] = (float)ref[CEM_TARGET_CEM][k];
    ck_assert_int_eq(cem_convert(CEM_TARGET_CEM, CEM_TARGET_SCORE, n, dim, x, t, in, in),
                     CEM_OK);
    static float fresh[n * dim];
    for (int k = 0; k < n * dim; k++)
        fresh[k] = (float)ref[CEM_TARGET_CEM][k];
    ck_assert_int_eq(cem_convert(CEM_TARGET_CEM, CEM_TARGET_SCORE, n, dim, x, t, fresh, out),
                     CEM_OK);
    ck_assert_int_eq(memcmp(in, out, sizeof out), 0);
}
END_TEST

START_TEST(conversion_errors)
{
    float x[2] = {1, 2}, v[2] = {0, 0};
    double t = 0.5, bad = 0.0;
    ck_assert_int_eq(cem_convert(3, CEM_TARGET_CEM, 1, 2, x, &t, v, v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_convert(CEM_TARGET_CEM, -1, 1, 2, x, &t, v, v), CEM_ERR_ARG);
    ck_assert_int_eq(cem_convert(CEM_TARGET_CEM, CEM_TARGET_SCORE, 1, 0, x, &t, v, v),
                     CEM_ERR_ARG);
    ck_assert_int_eq(cem_convert(CEM_TARGET_CEM, CEM_TARGET_SCORE, 1, 2, NULL, &t, v, v),
                     CEM_ERR_ARG);
    ck_assert_int_eq(cem_convert(CEM_TARGET_CEM, CEM_TARGET_SCORE, 1, 2, x, &bad, v, v),
                     CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "t[0]"));
    ck_assert_int_eq(cem_convert(CEM_TARGET_CEM, CEM_TARGET_SCORE, 0, 2, NULL, NULL, NULL,
                                 NULL), CEM_OK);
    /* n x dim beyond the address space: refused before any array is read
     * (the outside probe's finding: it read past t) */
    const size_t huge[] = {SIZE_MAX / 2 + 1, SIZE_MAX / 4 + 1, SIZE_MAX / 8 + 1};
    for (size_t k = 0; k < sizeof huge / sizeof huge[0]; k++) {
        ck_assert_int_eq(cem_convert(CEM_TARGET_CEM, CEM_TARGET_SCORE, huge[k], 2, x, &t, v, v),
                         CEM_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(cem_last_error(), "address space"));
    }
}
END_TEST

/* CEM_OK only with finite results: across times from 1e-300 to 3000 and
 * every pair of targets, each conversion (one row, so the status speaks of
 * that row alone) succeeds exactly when the long double truth fits in a
 * float, and then matches it; otherwise it fails with CEM_ERR_NUMERIC and
 * writes nothing, in place too.  The documented exception: into CEM from
 * NOISE or SCORE where alpha_t = exp(-t/2) is 0 in double (t > 1490) is
 * always refused, even when the numerator cancels to 0.  (The outside
 * probe's finding: NOISE -> CEM at t = 2000 and CEM -> SCORE at t = 1e-300
 * returned CEM_OK with Inf.)  Results within a factor 2 of FLT_MAX are not
 * asked about. */
START_TEST(conversions_refuse_overflow)
{
    const double ts[] = {1e-300, 1e-100, 1e-60, 1e-40, 1e-30, 1e-8, 1.0, 100.0,
                         170.0, 185.0, 500.0, 1400.0, 1500.0, 2000.0, 3000.0};
    enum { dim = 2 };
    const float x[dim] = {1.5f, -0.25f}, f[dim] = {-0.5f, 2.0f};
    int refused = 0, accepted = 0;
    for (size_t a = 0; a < sizeof ts / sizeof *ts; a++) {
        const double t = ts[a];
        long double ref[3][dim];
        for (int j = 0; j < dim; j++) {
            long double o[3];
            truth(x[j], f[j], t, o);
            for (int k = 0; k < 3; k++)
                ref[k][j] = o[k];
        }
        for (int from = 0; from < 3; from++) {
            float in[dim];
            int in_ok = 1;
            for (int j = 0; j < dim; j++) {
                in[j] = (float)ref[from][j];
                in_ok &= fabsl(ref[from][j]) < FLT_MAX / 2;
            }
            if (!in_ok) /* the input itself does not fit a float */
                continue;
            for (int to = 0; to < 3; to++) {
                /* the truth of this input: via f, in long double */
                long double fl[dim], want[dim], big = 0;
                long double al = expl(-(long double)t / 2), s2 = -expm1l(-(long double)t);
                for (int j = 0; j < dim; j++) {
                    fl[j] = from == 0 ? (long double)in[j]
                            : from == 1 ? (x[j] - sqrtl(s2) * in[j]) / al
                                        : (x[j] + s2 * in[j]) / al;
                    want[j] = to == 0 ? fl[j]
                              : to == 1 ? (from == 2 ? -sqrtl(s2) * in[j]
                                           : from == 1 ? (long double)in[j]
                                                       : (x[j] - al * fl[j]) / sqrtl(s2))
                                        : (from == 1 ? -in[j] / sqrtl(s2)
                                           : from == 2 ? (long double)in[j]
                                                       : (al * fl[j] - x[j]) / s2);
                    big = fmaxl(big, fabsl(want[j]));
                }
                float out[dim] = {-7, -7}, inplace[dim] = {in[0], in[1]};
                int st = cem_convert((cem_target)from, (cem_target)to, 1, dim, x, &t, in, out);
                int st2 = cem_convert((cem_target)from, (cem_target)to, 1, dim, x, &t, inplace,
                                      inplace);
                ck_assert_int_eq(st, st2);
                const int no_alpha = exp(-t / 2) == 0 && to == 0 && from != 0;
                if (big < FLT_MAX / 2 && !no_alpha) {
                    ck_assert_msg(st == CEM_OK, "t = %g, %d -> %d: status %d (%s)", t, from, to,
                                  st, cem_last_error());
                    for (int j = 0; j < dim; j++) {
                        ck_assert(isfinite(out[j]) && out[j] == inplace[j]);
                        long double d = fabsl(out[j] - want[j]) / fmaxl(fabsl(want[j]), 1.0L);
                        ck_assert_msg(d < 1e-6, "t = %g, %d -> %d: %g vs %Lg", t, from, to,
                                      (double)out[j], want[j]);
                    }
                    accepted++;
                } else if (big > 2.0L * FLT_MAX || no_alpha) {
                    ck_assert_msg(st == CEM_ERR_NUMERIC, "t = %g, %d -> %d: status %d, out %g %g",
                                  t, from, to, st, (double)out[0], (double)out[1]);
                    ck_assert_ptr_nonnull(strstr(cem_last_error(), "not finite in float"));
                    ck_assert(out[0] == -7 && out[1] == -7);            /* nothing written */
                    ck_assert(inplace[0] == in[0] && inplace[1] == in[1]); /* nor in place */
                    refused++;
                }
            }
        }
    }
    ck_assert_int_ge(refused, 10);
    ck_assert_int_ge(accepted, 60);
    /* the probe's two cases, by name */
    float in[dim] = {0.3f, 0.7f}, out[dim] = {-7, -7};
    double t = 2000;
    ck_assert_int_eq(cem_convert(CEM_TARGET_NOISE, CEM_TARGET_CEM, 1, dim, x, &t, in, out),
                     CEM_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "t[0] = 2000"));
    t = 1e-300;
    ck_assert_int_eq(cem_convert(CEM_TARGET_CEM, CEM_TARGET_SCORE, 1, dim, x, &t, in, out),
                     CEM_ERR_NUMERIC);
    ck_assert(out[0] == -7 && out[1] == -7);
    /* a bad row among good ones: nothing written at all */
    enum { n = 3 };
    float xs[n * dim] = {1, 2, 3, 4, 5, 6}, vs[n * dim] = {1, 1, 1, 1, 1, 1};
    const float keep[n * dim] = {1, 1, 1, 1, 1, 1};
    double tn[n] = {0.5, 1.0, 2000.0};
    ck_assert_int_eq(cem_convert(CEM_TARGET_NOISE, CEM_TARGET_CEM, n, dim, xs, tn, vs, vs),
                     CEM_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "row 2"));
    ck_assert_int_eq(memcmp(vs, keep, sizeof vs), 0);
    /* non-finite inputs are refused before anything is computed */
    xs[3] = NAN;
    ck_assert_int_eq(cem_convert(CEM_TARGET_CEM, CEM_TARGET_SCORE, n, dim, xs, tn, vs, vs),
                     CEM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "x row 1 column 1"));
    xs[3] = 4;
    vs[4] = INFINITY;
    ck_assert_int_eq(cem_convert(CEM_TARGET_CEM, CEM_TARGET_SCORE, n, dim, xs, tn, vs, out),
                     CEM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "in row 2 column 0"));
}
END_TEST

START_TEST(exponential_grid_property)
{
    const int Ns[] = {2, 3, 10, 100, 200, 1000};
    const double t1s[] = {1e-5, 1e-3, 0.5};
    for (size_t a = 0; a < sizeof Ns / sizeof Ns[0]; a++)
        for (size_t b = 0; b < sizeof t1s / sizeof t1s[0]; b++) {
            int N = Ns[a];
            double t1 = t1s[b], T = 10.0;
            double *g = malloc(sizeof(double) * (size_t)N);
            ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, N, t1, T, g), CEM_OK);
            ck_assert(g[0] == t1);
            ck_assert(g[N - 1] == T);
            long double gamma = 1.0L - powl((long double)t1 / T, 1.0L / (N - 1));
            for (int k = 1; k < N; k++) {
                ck_assert(g[k] > g[k - 1]);
                double ratio = (g[k] - g[k - 1]) / g[k];
                ck_assert_msg(fabs(ratio - (double)gamma) <= 1e-12,
                              "N=%d t1=%g k=%d: %.17g vs gamma %.17g", N, t1, k, ratio,
                              (double)gamma);
            }
            free(g);
        }
}
END_TEST

START_TEST(uniform_grid)
{
    double g[50];
    ck_assert_int_eq(cem_time_grid(CEM_GRID_UNIFORM, 50, 1e-3, 10.0, g), CEM_OK);
    ck_assert(g[0] == 1e-3 && g[49] == 10.0);
    double h = (10.0 - 1e-3) / 49;
    for (int k = 1; k < 50; k++)
        ck_assert_double_lt(fabs(g[k] - g[k - 1] - h), 1e-12);
}
END_TEST

/* LOGSNR: ln s_t = 0.5 ln expm1(t) evenly spaced; EDM: s_t^(1/7) evenly
 * spaced; both checked in long double on ordinary windows.  On extreme
 * windows LOGSNR still gives N finite increasing points; EDM gives them or
 * refuses (its points crowd at T: t = 2 ln s is the same double for all
 * but the first on [1e-300, 1e300]), never a non-finite one. */
START_TEST(snr_grids)
{
    const double win[][2] = {{1e-3, 10}, {1e-8, 100}, {0.5, 0.6}};
    for (size_t w = 0; w < sizeof win / sizeof *win; w++)
        for (int N = 2; N <= 1000; N = N * 3 + 1) {
            const double t1 = win[w][0], T = win[w][1];
            double *g = malloc(sizeof(double) * N), *e = malloc(sizeof(double) * N);
            ck_assert_int_eq(cem_time_grid(CEM_GRID_LOGSNR, N, t1, T, g), CEM_OK);
            ck_assert_int_eq(cem_time_grid(CEM_GRID_EDM, N, t1, T, e), CEM_OK);
            ck_assert(g[0] == t1 && g[N - 1] == T && e[0] == t1 && e[N - 1] == T);
            const long double l1 = 0.5L * logl(expm1l(t1)), lT = 0.5L * logl(expm1l(T));
            const long double r1 = expl(l1 / 7), rT = expl(lT / 7);
            for (int k = 1; k < N; k++) {
                ck_assert(g[k] > g[k - 1] && e[k] > e[k - 1]);
                long double ls = 0.5L * logl(expm1l(g[k])), want = l1 + (lT - l1) * k / (N - 1);
                ck_assert_msg(fabsl(ls - want) <= 1e-12L * (1 + fabsl(want)),
                              "logsnr [%g, %g] N=%d k=%d: ln s %.17Lg vs %.17Lg", t1, T, N, k, ls,
                              want);
                long double r = expl(0.25L / 7 * 2 * logl(expm1l(e[k])));
                long double rw = r1 + (rT - r1) * k / (N - 1);
                ck_assert_msg(fabsl(r - rw) <= 1e-12L * rw,
                              "edm [%g, %g] N=%d k=%d: s^(1/7) %.17Lg vs %.17Lg", t1, T, N, k, r,
                              rw);
            }
            free(g);
            free(e);
        }
    const double ext[][2] = {{1e-300, 1e300}, {DBL_TRUE_MIN, DBL_MAX}, {1e-200, 200}};
    for (size_t w = 0; w < sizeof ext / sizeof *ext; w++)
        for (int N = 2; N <= 1000; N = N * 3 + 1) {
            double *g = malloc(sizeof(double) * N);
            ck_assert_int_eq(cem_time_grid(CEM_GRID_LOGSNR, N, ext[w][0], ext[w][1], g), CEM_OK);
            for (int k = 1; k < N; k++)
                ck_assert(isfinite(g[k]) && g[k] > g[k - 1]);
            int st = cem_time_grid(CEM_GRID_EDM, N, ext[w][0], ext[w][1], g);
            ck_assert(st == CEM_OK || st == CEM_ERR_ARG);
            for (int k = 1; st == CEM_OK && k < N; k++)
                ck_assert(isfinite(g[k]) && g[k] > g[k - 1]);
            free(g);
        }
    ck_assert_str_eq(cem_grid_name(CEM_GRID_LOGSNR), "logsnr");
    ck_assert_str_eq(cem_grid_name(CEM_GRID_EDM), "edm");
    ck_assert_ptr_null(cem_grid_name((cem_grid)4));
    ck_assert_ptr_null(cem_grid_name((cem_grid)-1));
}
END_TEST

START_TEST(grid_errors_write_nothing)
{
    double g[4] = {-7, -7, -7, -7};
    ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, 1, 1e-3, 10, g), CEM_ERR_ARG);
    ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, 4, 10, 1e-3, g), CEM_ERR_ARG);
    ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, 4, 0.0, 10, g), CEM_ERR_ARG);
    ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, 4, 1e-3, INFINITY, g), CEM_ERR_ARG);
    ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, 4, NAN, 10, g), CEM_ERR_ARG);
    ck_assert_int_eq(cem_time_grid((cem_grid)9, 4, 1e-3, 10, g), CEM_ERR_ARG);
    ck_assert_int_eq(cem_time_grid(CEM_GRID_UNIFORM, 4, 1e-3, 10, NULL), CEM_ERR_ARG);
    for (int k = 0; k < 4; k++)
        ck_assert(g[k] == -7);
}
END_TEST

/* Any window 0 < t1 < T gives N finite, increasing points (the probe's
 * finding: [1e-300, 1e300] with N = 3 gave {1e-300, inf, 1e300}); the
 * exponential points against t1 (T/t1)^(k/(N-1)) in long double, which
 * holds T/t1 = 1e600.  Ordinary windows keep their bits (the sampler's
 * grids are unchanged), and a window too narrow for N points is refused. */
START_TEST(grid_extreme_windows)
{
    const double win[][2] = {{1e-300, 1e300}, {DBL_TRUE_MIN, DBL_MAX}, {1e-200, 1e200},
                             {1e-8, 100}};
    const int Ns[] = {2, 3, 7, 1000};
    for (size_t w = 0; w < sizeof win / sizeof *win; w++)
        for (size_t a = 0; a < sizeof Ns / sizeof *Ns; a++) {
            const double t1 = win[w][0], T = win[w][1];
            const int N = Ns[a];
            double *g = malloc(sizeof(double) * N), *u = malloc(sizeof(double) * N);
            ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, N, t1, T, g), CEM_OK);
            ck_assert_int_eq(cem_time_grid(CEM_GRID_UNIFORM, N, t1, T, u), CEM_OK);
            ck_assert(g[0] == t1 && g[N - 1] == T && u[0] == t1 && u[N - 1] == T);
            const long double l1 = logl(t1), lT = logl(T);
            for (int k = 1; k < N; k++) {
                ck_assert(isfinite(g[k]) && g[k] > g[k - 1]);
                ck_assert(isfinite(u[k]) && u[k] > u[k - 1]);
                long double want = expl(l1 + (lT - l1) * k / (N - 1));
                /* relative, but a subnormal point has at most the last
                 * bit, DBL_TRUE_MIN, of absolute precision */
                ck_assert_msg(fabsl(g[k] - want) <= 1e-12L * want + DBL_TRUE_MIN,
                              "[%g, %g] N=%d k=%d: %.17g vs %.17Lg", t1, T, N, k, g[k], want);
            }
            free(g);
            free(u);
        }
    double g[3];
    ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, 3, 1e-300, 1e300, g), CEM_OK);
    ck_assert_double_eq_tol(g[1], 1.0, 1e-12);
    /* an ordinary window: bitwise the direct formula (as before this fix) */
    enum { N = 200 };
    double h[N];
    ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, N, 1e-3, 10.0, h), CEM_OK);
    for (int k = 1; k < N - 1; k++)
        ck_assert(h[k] == 1e-3 * exp((double)k / (N - 1) * log(10.0 / 1e-3)));
    /* too narrow for N increasing doubles: refused, nothing written */
    double keep[4];
    const double one_up = nextafter(1.0, 2.0);
    for (int kind = 0; kind < 2; kind++) {
        keep[0] = keep[1] = keep[2] = keep[3] = -7;
        ck_assert_int_eq(cem_time_grid((cem_grid)kind, 4, 1.0, one_up, keep), CEM_ERR_ARG);
        ck_assert_ptr_nonnull(strstr(cem_last_error(), "too narrow"));
        for (int k = 0; k < 4; k++)
            ck_assert(keep[k] == -7);
        ck_assert_int_eq(cem_time_grid((cem_grid)kind, 2, 1.0, one_up, keep), CEM_OK);
        ck_assert_int_eq(cem_time_grid((cem_grid)kind, 4, 1.0, 1.0 + 1e-12, keep), CEM_OK);
    }
    /* near 0 the doubles are sparse: 1000 log-spaced subnormals repeat */
    double *many = malloc(sizeof(double) * 1000);
    ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, 1000, 5e-324, 1e-300, many),
                     CEM_ERR_ARG);
    ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, 7, 5e-324, 1e-300, many), CEM_OK);
    free(many);
}
END_TEST

/* The log-uniform law on a window whose T/t1 overflows a double: log10 of
 * the draws uniform on [-300, 300] (it gave T for every draw), GRID's draws
 * on its three points. */
START_TEST(time_laws_extreme_window)
{
    enum { n = 20000 };
    static double s[n];
    ck_assert_int_eq(cem_time_law_sample(CEM_TIMELAW_LOGUNIFORM, 2, 1e-300, 1e300, 4, n, s),
                     CEM_OK);
    double mean = 0, below = 0;
    for (int i = 0; i < n; i++) {
        ck_assert(s[i] >= 1e-300 && s[i] <= 1e300);
        mean += log10(s[i]) / n;
        below += (s[i] < 1e-150) / (double)n; /* a quarter of the log range */
    }
    const double sd = 600 / sqrt(12.0) / sqrt((double)n); /* of the mean of log10 */
    ck_assert_double_lt(fabs(mean), 5 * sd);
    ck_assert_double_lt(fabs(below - 0.25), 5 * sqrt(0.25 * 0.75 / n));
    int count[3] = {0};
    ck_assert_int_eq(cem_time_law_sample(CEM_TIMELAW_GRID, 3, 1e-300, 1e300, 4, n, s), CEM_OK);
    for (int i = 0; i < n; i++) {
        int k = s[i] == 1e-300 ? 0 : fabs(s[i] - 1) < 1e-12 ? 1 : s[i] == 1e300 ? 2 : -1;
        ck_assert_msg(k >= 0, "draw %d = %g", i, s[i]);
        count[k]++;
    }
    for (int k = 0; k < 3; k++)
        ck_assert_double_lt(fabs(count[k] / (double)n - 1 / 3.0), 5 * sqrt(2 / 9.0 / n));
}
END_TEST

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Kolmogorov-Smirnov distance of sorted samples to a continuous CDF. */
static double ks(const double *s, size_t n, double (*cdf)(double, double, double), double t1,
                 double T)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double F = cdf(s[i], t1, T);
        d = fmax(d, fmax(F - (double)i / n, (double)(i + 1) / n - F));
    }
    return d;
}
static double cdf_loguniform(double t, double t1, double T) { return log(t / t1) / log(T / t1); }
static double cdf_uniform(double t, double t1, double T) { return (t - t1) / (T - t1); }

START_TEST(time_laws_match_their_cdfs)
{
    const size_t n = 200000;
    const double t1 = 1e-3, T = 10.0;
    double *s = malloc(sizeof(double) * n);
    /* critical KS value at the 0.1% level is 1.95/sqrt(n) = 0.0044 */
    const double crit = 1.95 / sqrt((double)n);

    ck_assert_int_eq(cem_time_law_sample(CEM_TIMELAW_LOGUNIFORM, 2, t1, T, 5, n, s), CEM_OK);
    qsort(s, n, sizeof *s, cmp_double);
    ck_assert(s[0] >= t1 && s[n - 1] <= T);
    ck_assert_double_lt(ks(s, n, cdf_loguniform, t1, T), crit);

    ck_assert_int_eq(cem_time_law_sample(CEM_TIMELAW_UNIFORM, 2, t1, T, 5, n, s), CEM_OK);
    qsort(s, n, sizeof *s, cmp_double);
    ck_assert(s[0] >= t1 && s[n - 1] <= T);
    ck_assert_double_lt(ks(s, n, cdf_uniform, t1, T), crit);

    /* GRID: every draw is a grid point; each has frequency 1/N */
    enum { N = 20 };
    double g[N];
    int count[N] = {0};
    ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, N, t1, T, g), CEM_OK);
    ck_assert_int_eq(cem_time_law_sample(CEM_TIMELAW_GRID, N, t1, T, 5, n, s), CEM_OK);
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        while (k < N && g[k] != s[i])
            k++;
        ck_assert_msg(k < N, "draw %zu = %.17g is not a grid point", i, s[i]);
        count[k]++;
    }
    double p = 1.0 / N, sd = sqrt(p * (1 - p) / n);
    for (int k = 0; k < N; k++)
        ck_assert_double_lt(fabs((double)count[k] / n - p), 5 * sd);
    free(s);
}
END_TEST

START_TEST(time_laws_reproducible_and_prefix_stable)
{
    double a[100], b[50], c[100];
    ck_assert_int_eq(cem_time_law_sample(CEM_TIMELAW_LOGUNIFORM, 2, 1e-3, 10, 9, 100, a), 0);
    ck_assert_int_eq(cem_time_law_sample(CEM_TIMELAW_LOGUNIFORM, 2, 1e-3, 10, 9, 50, b), 0);
    ck_assert_int_eq(cem_time_law_sample(CEM_TIMELAW_LOGUNIFORM, 2, 1e-3, 10, 10, 100, c), 0);
    ck_assert_int_eq(memcmp(a, b, sizeof b), 0);
    ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
    ck_assert_int_eq(cem_time_law_sample((cem_time_law)5, 2, 1e-3, 10, 9, 10, a), CEM_ERR_ARG);
    ck_assert_int_eq(cem_time_law_sample(CEM_TIMELAW_ADAPTIVE, 2, 1e-3, 10, 9, 10, a),
                     CEM_ERR_UNSUPPORTED);
    ck_assert_int_eq(cem_time_law_sample(CEM_TIMELAW_GRID, 1, 1e-3, 10, 9, 10, a), CEM_ERR_ARG);
    ck_assert_int_eq(cem_time_law_sample(CEM_TIMELAW_GRID, 5, 1e-3, 10, 9, 10, NULL),
                     CEM_ERR_ARG);
}
END_TEST

/* ------------------------------------------------ the normal law, in the test */

/* Phi and its upper tail from erfc, written here. */
static double Phi(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }
static double Qtail(double z) { return 0.5 * erfc(z / sqrt(2.0)); }

START_TEST(norm_quantile_inverts_erfc)
{
    /* Phi(Phi^-1(p)) = p, log-spaced p from 1e-300 to 1/2 (lower tail) and
     * 1 - p from 1/2 down to 1e-15 (upper tail, compared as 1 - Phi).  The
     * best double x moves Phi by |phi(x)/Phi(x)| ulp(x) ~ x^2 2^-53
     * relative, so the bound is 1e-13 plus that conditioning. */
    for (int k = 0; k <= 600; k++) {
        double p = fmax(1e-300, 0.5 * pow(10.0, -300.0 * (600 - k) / 600.0)); /* .. 0.5 */
        double x = cemi_norm_quantile(p);
        double rel = fabs(Phi(x) - p) / p, tol = 1e-13 + 4 * x * x * DBL_EPSILON;
        ck_assert_msg(rel <= tol, "p = %g: x = %.17g, Phi(x) rel err %g (tol %g)", p, x, rel,
                      tol);
        ck_assert(x <= 0);
    }
    for (int k = 0; k <= 150; k++) {
        double q = 0.5 * pow(10.0, -14.7 * k / 150.0); /* 1 - p: 0.5 .. 1e-15 */
        double p = 1.0 - q;
        q = 1.0 - p; /* the q this p really has (exact: Sterbenz) */
        double x = cemi_norm_quantile(p);
        double rel = fabs(Qtail(x) - q) / q, tol = 1e-13 + 4 * x * x * DBL_EPSILON;
        ck_assert_msg(rel <= tol, "1 - p = %g: x = %.17g, 1 - Phi(x) rel err %g (tol %g)", q,
                      x, rel, tol);
        ck_assert(x >= 0);
    }
    /* known values (Wichura's AS241, Python's statistics.NormalDist) */
    const double p[] = {0.975, 0.995, 0.999, 1e-10, 1e-100, 0.6, 0.3};
    const double want[] = {1.959963984540054, 2.5758293035489, 3.090232306167813,
                           -6.361340902404056, -21.27345356096532, 0.2533471031357998,
                           -0.5244005127080407};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        double x = cemi_norm_quantile(p[i]);
        ck_assert_msg(fabs(x - want[i]) <= 4e-15 * fabs(want[i]), "Phi^-1(%g) = %.17g want %.17g",
                      p[i], x, want[i]);
    }
    ck_assert(fabs(cemi_norm_quantile(0.5)) <= 1e-16);
    ck_assert_double_lt(fabs(cemi_norm_cdf(1.959963984540054) - 0.975), 1e-16);
}
END_TEST

/* EDM's truncated law of t on [t1, T], ln s ~ N(pm, ps^2), s^2 = expm1(t),
 * written here: in the upper tail (za > 0) with 1 - Phi, which keeps the
 * digits there. */
typedef struct {
    double pm, ps, t1, T;
} lognormal_law;

static double z_of(const lognormal_law *L, double t) { return (0.5 * log(expm1(t)) - L->pm) / L->ps; }

static double lognormal_cdf(const lognormal_law *L, double t)
{
    if (t <= L->t1)
        return 0;
    if (t >= L->T)
        return 1;
    double za = z_of(L, L->t1), zb = z_of(L, L->T), z = z_of(L, t);
    if (za > 0)
        return (Qtail(za) - Qtail(z)) / (Qtail(za) - Qtail(zb));
    return (Phi(z) - Phi(za)) / (Phi(zb) - Phi(za));
}

static double ks_law(const double *s, size_t n, const lognormal_law *L)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double F = lognormal_cdf(L, s[i]);
        d = fmax(d, fmax(F - (double)i / n, (double)(i + 1) / n - F));
    }
    return d;
}

START_TEST(lognormal_law_matches_its_cdf)
{
    const size_t n = 200000;
    const double crit = 1.95 / sqrt((double)n); /* KS at the 0.1% level */
    double *s = malloc(sizeof(double) * n);
    /* cem_time_law_sample: EDM's published (-1.2, 1.2) */
    const double t1s[2] = {1e-3, 1e-4};
    for (int k = 0; k < 2; k++) {
        lognormal_law L = {-1.2, 1.2, t1s[k], 10.0};
        ck_assert_int_eq(cem_time_law_sample(CEM_TIMELAW_LOGNORMAL, 2, L.t1, L.T, 7 + k, n, s),
                         CEM_OK);
        qsort(s, n, sizeof *s, cmp_double);
        ck_assert(s[0] >= L.t1 && s[n - 1] <= L.T);
        double d = ks_law(s, n, &L);
        ck_assert_msg(d < crit, "t1 = %g: KS %g (crit %g)", L.t1, d, crit);
    }
    /* the inverse CDF itself, through cemi_tlaw, at stratified u: F(map(u))
     * = u, also far in the tails of the normal: ln s(t1) 13 sd above the
     * mean (the upper-tail branch), T 25 sd below it, a narrow law inside */
    const lognormal_law laws[] = {
        {-1.2, 1.2, 1e-3, 10}, {3.0, 0.2, 1e-3, 10}, {-6.0, 0.2, 1e-3, 10},
        {10.0, 0.2, 1e-3, 10}, {-1.2, 1.2, 1e-4, 100}};
    for (size_t k = 0; k < sizeof laws / sizeof laws[0]; k++) {
        const lognormal_law *L = &laws[k];
        cemi_tlaw tl;
        cemi_tlaw_init(&tl, CEM_TIMELAW_LOGNORMAL, 2, L->t1, L->T, L->pm, L->ps, 0, NULL);
        double worst = 0, worst_cdf = 0;
        enum { M = 20000 };
        for (int i = 0; i < M; i++) {
            double u = (i + 0.5) / M, t = cemi_tlaw_map(&tl, u);
            ck_assert(t >= L->t1 && t <= L->T);
            worst = fmax(worst, fabs(lognormal_cdf(L, t) - u));
            worst_cdf = fmax(worst_cdf, fabs(cemi_tlaw_cdf(&tl, t) - lognormal_cdf(L, t)));
        }
        ck_assert_msg(worst < 1e-11, "law %zu (%g, %g): |F(map(u)) - u| up to %g", k, L->pm,
                      L->ps, worst);
        ck_assert_msg(worst_cdf < 1e-12, "law %zu: cemi_tlaw_cdf off by %g", k, worst_cdf);
    }
    free(s);
}
END_TEST

/* For each law, the density of log t that cemi_tlaw_cdf implies (a central
 * difference in log t) times cemi_tlaw_importance is the log-uniform
 * density 1 / log(T / t1). */
START_TEST(importance_weights_make_the_law_log_uniform)
{
    const double t1 = 1e-3, T = 10, width = log(T / t1), h = 1e-5;
    enum { K = 16 };
    double cum[K + 1] = {0};
    for (int b = 0; b < K; b++) /* made-up shares, uneven */
        cum[b + 1] = cum[b] + (1.0 + 3.0 * (b % 5) + 0.5 * b * b);
    for (int b = 1; b <= K; b++)
        cum[b] /= cum[K];
    cum[K] = 1.0;
    struct {
        int law;
        double pm, ps;
    } cases[] = {{CEM_TIMELAW_UNIFORM, 0, 1}, {CEM_TIMELAW_LOGNORMAL, -1.2, 1.2},
                 {CEM_TIMELAW_LOGNORMAL, 0.5, 0.7}, {CEM_TIMELAW_ADAPTIVE, 0, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cemi_tlaw L;
        cemi_tlaw_init(&L, cases[c].law, 2, t1, T, cases[c].pm, cases[c].ps, K, cum);
        int checked = 0;
        double worst = 0;
        for (int i = 0; i < 400; i++) {
            double x = (i + 0.37) / 400; /* never within h of a bin edge of ADAPTIVE */
            double lt = log(t1) + x * width, t = exp(lt);
            double q = (cemi_tlaw_cdf(&L, exp(lt + h)) - cemi_tlaw_cdf(&L, exp(lt - h))) / (2 * h);
            if (q * width < 1e-3) /* far in a tail: the difference is rounding */
                continue;
            checked++;
            double err = fabs(q * cemi_tlaw_importance(&L, t) * width - 1);
            worst = fmax(worst, err);
        }
        ck_assert_msg(worst <= 1e-6, "law %d: worst relative error %g", cases[c].law, worst);
        ck_assert_int_ge(checked, 250);
    }
    /* GRID and LOGUNIFORM: weight 1 */
    for (int law = CEM_TIMELAW_GRID; law <= CEM_TIMELAW_LOGUNIFORM; law++) {
        cemi_tlaw L;
        cemi_tlaw_init(&L, law, 50, t1, T, -1.2, 1.2, 0, NULL);
        for (int i = 0; i < 50; i++)
            ck_assert(cemi_tlaw_importance(&L, t1 * pow(T / t1, i / 49.0)) == 1.0);
    }
}
END_TEST

Suite *suite_process(void)
{
    Suite *s = suite_create("process");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ou_coefficients_small_and_large_t);
    tcase_add_test(tc, conversions_all_pairs);
    tcase_add_test(tc, conversion_errors);
    tcase_add_test(tc, conversions_refuse_overflow);
    tcase_add_test(tc, exponential_grid_property);
    tcase_add_test(tc, uniform_grid);
    tcase_add_test(tc, snr_grids);
    tcase_add_test(tc, grid_errors_write_nothing);
    tcase_add_test(tc, grid_extreme_windows);
    tcase_add_test(tc, time_laws_extreme_window);
    tcase_add_test(tc, time_laws_match_their_cdfs);
    tcase_add_test(tc, time_laws_reproducible_and_prefix_stable);
    tcase_add_test(tc, norm_quantile_inverts_erfc);
    tcase_add_test(tc, lognormal_law_matches_its_cdf);
    tcase_add_test(tc, importance_weights_make_the_law_log_uniform);
    suite_add_tcase(s, tc);
    return s;
}
