/*
 * test_sampler.c -- the sampler on exactly solvable cases.
 *
 * Gaussian data with the exact Gaussian model: f is affine in y, so every
 * integrator step is an affine Gaussian map and the law of the output is
 * Gaussian with moments this test propagates itself, direction by direction
 * in the eigenbasis of Sigma, from the formulas of docs/MATH.md 5 (written
 * here independently of src/integrators.c).  The samples must match those
 * moments to Monte Carlo accuracy, and the moments must approach (mu, Sigma)
 * as N grows.  A point cloud with its exact model: every sample lands on a
 * point, with the point's weight.  Plus the grid property, reproducibility
 * and bad input, and the prior's moments against the data statistics.
 */
#include "tests.h"
#include "gauss_law.h"

#include "base.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mean and variance of the denoised output along direction k, from the
 * sampler's N(0, 1) start on the exponential grid. */
static void exact_moments(int integ, int N, int k, long double *m, long double *v)
{
    long double mup = Q[0][k] * MU[0] + Q[1][k] * MU[1], mm, vv;
    scheme_law(integ, CEM_GRID_EXPONENTIAL, N, k, 0, 1, &mm, &vv);
    long double g1 = gain(LAM[k], 1e-3), a1 = ou_at(1e-3).a;
    *m = mup + g1 * (mm - a1 * mup);
    *v = g1 * g1 * vv;
}

static long double scheme_bias(int integ, int N)
{
    long double b = 0;
    for (int k = 0; k < 2; k++) {
        long double m, v, mup = Q[0][k] * MU[0] + Q[1][k] * MU[1];
        exact_moments(integ, N, k, &m, &v);
        b += fabsl(m - mup) + fabsl(v - LAM[k]);
    }
    return b;
}

START_TEST(gaussian_moments_for_every_integrator)
{
    enum { n = 20000 };
    static float out[n * 2];
    float mu[2], cov[4];
    setup_gaussian(mu, cov);
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, cov, 2), CEM_OK);
    const int Ns[2] = {20, 100};
    for (int integ = 0; cem_integrator_name((cem_integrator)integ); integ++) {
        long double bias[2];
        for (int a = 0; a < 2; a++) {
            bias[a] = scheme_bias(integ, Ns[a]);
            cem_sampler_t *s;
            ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
            ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, integ), CEM_OK);
            ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_STEPS, Ns[a]), CEM_OK);
            ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_SEED, 7), CEM_OK);
            ck_assert_int_eq(cem_sampler_run(s, n, out), CEM_OK);
            /* sample moments along the eigendirections */
            double pm[2] = {0, 0}, pv[2] = {0, 0}, pc = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < 2; k++)
                    pm[k] += Q[0][k] * out[2 * i] + Q[1][k] * out[2 * i + 1];
            pm[0] /= n; pm[1] /= n;
            for (int i = 0; i < n; i++) {
                double p0 = Q[0][0] * out[2 * i] + Q[1][0] * out[2 * i + 1] - pm[0];
                double p1 = Q[0][1] * out[2 * i] + Q[1][1] * out[2 * i + 1] - pm[1];
                pv[0] += p0 * p0; pv[1] += p1 * p1; pc += p0 * p1;
            }
            for (int k = 0; k < 2; k++) {
                long double em, ev;
                exact_moments(integ, Ns[a], k, &em, &ev);
                pv[k] /= n - 1;
                double se_m = sqrt((double)ev / n), se_v = (double)ev * sqrt(2.0 / n);
                ck_assert_msg(fabs(pm[k] - (double)em) <= 5 * se_m,
                              "integ %d N %d dir %d: mean %.5f vs scheme %.5f (se %.1e)", integ,
                              Ns[a], k, pm[k], (double)em, se_m);
                ck_assert_msg(fabs(pv[k] - (double)ev) <= 5 * se_v,
                              "integ %d N %d dir %d: var %.5f vs scheme %.5f (se %.1e)", integ,
                              Ns[a], k, pv[k], (double)ev, se_v);
                /* hence against the truth: within the scheme's bias + 5 se */
                double mup = Q[0][k] * MU[0] + Q[1][k] * MU[1];
                ck_assert(fabs(pm[k] - mup) <= (double)bias[a] + 5 * se_m);
                ck_assert(fabs(pv[k] - LAM[k]) <= (double)bias[a] + 5 * se_v);
            }
            /* the few-step methods: at 19 steps already the exact law of
             * f(X_t1, t1) within Monte Carlo error, no bias allowed */
            for (int k = 0; integ >= CEM_INTEG_DPMPP_2M && a == 0 && k < 2; k++) {
                ou o1 = ou_at(1e-3);
                double mup = Q[0][k] * MU[0] + Q[1][k] * MU[1];
                double g1 = (double)gain(LAM[k], 1e-3);
                double tv = g1 * g1 * (double)(o1.a * o1.a * LAM[k] + o1.s2);
                double se_m = sqrt(tv / n), se_v = tv * sqrt(2.0 / n);
                ck_assert_msg(fabs(pm[k] - mup) <= 4 * se_m && fabs(pv[k] - tv) <= 4 * se_v,
                              "%s, %d points, direction %d: mean %.5f var %.5f, exact %.5f %.5f",
                              cem_integrator_name(integ), Ns[a], k, pm[k], pv[k], mup, tv);
            }
            pc /= n - 1;
            ck_assert_double_le(fabs(pc), 5 * sqrt(LAM[0] * LAM[1] / n) + (double)bias[a]);
            cem_sampler_free(s);
        }
        ck_assert_msg(bias[1] < bias[0], "integ %d: bias N=20 %.3Le, N=100 %.3Le", integ,
                      bias[0], bias[1]);
    }
    cem_model_free(m);
}
END_TEST

/* The weak order of every integrator (gauss_weak_order: the error of the
 * law of y(t1) from the exact p_T, over four doublings of the step count)
 * must be within 0.2 of the theory.  docs/SAMPLING.md tabulates these
 * errors (tests/sampling_orders.c). */
START_TEST(weak_orders_of_every_integrator)
{
    for (int integ = 0; cem_integrator_name((cem_integrator)integ); integ++) {
        double err[4], Ms[4];
        double order = gauss_weak_order(integ, CEM_GRID_EXPONENTIAL, Ms, err);
        ck_assert_msg(fabs(order - gauss_theory_order(integ)) <= 0.2,
                      "%s: measured order %.2f, theory %d (errors %.2e %.2e %.2e %.2e at "
                      "M = %g..%g)", cem_integrator_name(integ), order,
                      gauss_theory_order(integ), err[0], err[1], err[2], err[3], Ms[0], Ms[3]);
    }
    /* the published 3M (D2 at half its Taylor weight) is second order only */
    double err[4], Ms[4];
    double order = gauss_weak_order(GAUSS_3M_PUBLISHED, CEM_GRID_EXPONENTIAL, Ms, err);
    ck_assert_msg(fabs(order - 2) <= 0.2, "published 3M: order %.2f", order);
}
END_TEST

/* The library's own deterministic paths against the exact flow: the
 * probability-flow ODE of Gaussian data keeps (z - alpha mu') / sqrt(v_t)
 * constant along each eigendirection (v_t = alpha_t^2 lambda + sigma_t^2),
 * so y(t1) is known exactly from y(T).  The sampler's y(t1) (DENOISE off)
 * from the same y(T) over the steps of gauss_order_m0: the slope of the
 * largest error must be the method's order within 0.2. */
START_TEST(flow_orders_of_the_deterministic_samplers)
{
    static const int methods[4] = {CEM_INTEG_ODE, CEM_INTEG_HEUN, CEM_INTEG_DPMPP_2M,
                                   CEM_INTEG_DPMPP_3M};
    float mu[2], cov[4];
    setup_gaussian(mu, cov);
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, cov, 2), CEM_OK);
    for (int a = 0; a < 4; a++) {
        double err[4], Ms[4];
        for (int i = 0; i < 4; i++) {
            Ms[i] = (1 << i) * gauss_order_m0(methods[a]);
            err[i] = gauss_flow_error(m, methods[a], CEM_GRID_EXPONENTIAL, (int)Ms[i]);
            ck_assert(isfinite(err[i]));
        }
        double order = -gauss_loglog_slope(Ms, err, 4);
        ck_assert_msg(fabs(order - gauss_theory_order(methods[a])) <= 0.2,
                      "%s: measured order %.2f, theory %d (errors %.2e %.2e %.2e %.2e)",
                      cem_integrator_name(methods[a]), order, gauss_theory_order(methods[a]),
                      err[0], err[1], err[2], err[3]);
    }
    cem_model_free(m);
}
END_TEST

START_TEST(gaussian_on_a_line_samples_on_the_line)
{
    /* rank-1 covariance: the data lie on the line mu + R e1 */
    float mu[2] = {0.3f, 0.2f}, cov[4] = {1, 0, 0, 0}, out[2000 * 2];
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, cov, 2), CEM_OK);
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_run(s, 2000, out), CEM_OK);
    double mean = 0, var = 0;
    for (int i = 0; i < 2000; i++) {
        ck_assert_double_lt(fabs(out[2 * i + 1] - 0.2), 1e-5); /* f(y, t_1) projects */
        mean += out[2 * i];
    }
    mean /= 2000;
    for (int i = 0; i < 2000; i++)
        var += (out[2 * i] - mean) * (out[2 * i] - mean) / 1999;
    ck_assert_double_lt(fabs(mean - 0.3), 5 * sqrt(1.0 / 2000) + 0.01);
    ck_assert_double_lt(fabs(var - 1.0), 5 * sqrt(2.0 / 2000) + 0.02);
    cem_sampler_free(s);
    cem_model_free(m);
}
END_TEST

/* ------------------------------------------------ point cloud */

START_TEST(point_cloud_memorised_with_weights)
{
    /* 5 vertices of a pentagon with weights 1,1,2,3,3 (out of 10), as
     * repeated points of the empirical law */
    static const int mult[5] = {1, 1, 2, 3, 3};
    float P[20];
    int np = 0;
    for (int v = 0; v < 5; v++)
        for (int r = 0; r < mult[v]; r++, np++) {
            P[2 * np] = (float)cos(2 * 3.14159265358979323846 * v / 5);
            P[2 * np + 1] = (float)sin(2 * 3.14159265358979323846 * v / 5);
        }
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_empirical(&m, P, (size_t)np, 2), CEM_OK);
    enum { n = 20000 };
    static float out[n * 2];
    for (int integ = 0; cem_integrator_name((cem_integrator)integ); integ++) {
        cem_sampler_t *s;
        ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
        ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, integ), CEM_OK);
        ck_assert_int_eq(cem_sampler_run(s, n, out), CEM_OK);
        int count[5] = {0};
        for (int i = 0; i < n; i++) {
            int best = 0;
            double bd = 1e9;
            for (int v = 0; v < 5; v++) {
                double d = hypot(out[2 * i] - cos(2 * 3.14159265358979323846 * v / 5), out[2 * i + 1] - sin(2 * 3.14159265358979323846 * v / 5));
                if (d < bd) { bd = d; best = v; }
            }
            ck_assert_msg(bd < 1e-3, "integ %d row %d: %.3e from the nearest point", integ, i, bd);
            count[best]++;
        }
        for (int v = 0; v < 5; v++) {
            double w = mult[v] / 10.0, p = (double)count[v] / n;
            /* 5 binomial standard errors plus 0.01 for the discretisation */
            ck_assert_msg(fabs(p - w) <= 5 * sqrt(w * (1 - w) / n) + 0.01,
                          "integ %d point %d: fraction %.4f, weight %.2f", integ, v, p, w);
        }
        cem_sampler_free(s);
    }
    cem_model_free(m);
}
END_TEST

/* ------------------------------------------------ grid, reproducibility */

START_TEST(exponential_grid_keeps_the_drift_step_small)
{
    const int Ns[3] = {50, 200, 1000};
    for (int a = 0; a < 3; a++) {
        int N = Ns[a];
        double *g = malloc(sizeof(double) * (size_t)N);
        ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, N, 1e-3, 10.0, g), CEM_OK);
        double gamma = -expm1(log(1e-3 / 10.0) / (N - 1));
        for (int k = 1; k < N; k++) {
            double t = g[k], h = t - g[k - 1], s2 = -expm1(-t), r = h / s2;
            /* h = gamma t exactly, so h / sigma_t^2 = gamma t / sigma_t^2, which
             * exceeds gamma only by t/sigma_t^2 - 1 <= t/2 + t^2/12 */
            ck_assert_double_le(fabs(r - gamma * t / s2), 1e-12 * r);
            ck_assert_double_le(r, gamma * (1 + t / 2 + t * t / 12) * (1 + 1e-12));
            if (t <= 1e-2)
                ck_assert_double_le(r, gamma * (1 + 5.1e-3));
            if (N >= 200) /* gamma <= 0.045: a contraction on every step up to T = 10 */
                ck_assert_double_lt(r, 1.0);
        }
        free(g);
    }
}
END_TEST

static cem_model_t *small_mlp(void)
{
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_mlp(&m, 2, CEM_TARGET_CEM), CEM_OK);
    cem_model_set(m, CEM_MODEL_WIDTH, 32);
    cem_model_set(m, CEM_MODEL_DEPTH, 2);
    cem_model_set(m, CEM_MODEL_EMBED, 8);
    return m;
}

START_TEST(reproducible_and_thread_independent)
{
    enum { n = 600 }; /* 256-row blocks: partial blocks at 300 and 600 */
    static float a[n * 2], b[n * 2], c[n * 2];
    cem_model_t *m = small_mlp();
    for (int integ = 0; cem_integrator_name((cem_integrator)integ); integ++) {
        cem_sampler_t *s;
        ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
        cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, integ);
        cem_sampler_set(s, CEM_SAMPLER_STEPS, 30);
        ck_assert_int_eq(cem_sampler_run(s, n, a), CEM_OK);
        ck_assert_int_eq(cem_sampler_run(s, n, b), CEM_OK);
        ck_assert_int_eq(memcmp(a, b, sizeof a), 0); /* run twice */
        ck_assert_int_eq(cem_sampler_run(s, n / 2, c), CEM_OK);
        ck_assert_int_eq(memcmp(a, c, sizeof(float) * n), 0); /* first n/2 of n */
        ck_assert_int_eq(cem_sampler_run_rows(s, 137, 300, c), CEM_OK);
        ck_assert_int_eq(memcmp(a + 2 * 137, c, sizeof(float) * 600), 0); /* pieces */
        ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_THREADS, 2), CEM_OK);
        ck_assert_int_eq(cem_sampler_run(s, n, c), CEM_OK);
        ck_assert_int_eq(memcmp(a, c, sizeof a), 0); /* 2 threads */
        ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_SEED, 1), CEM_OK);
        ck_assert_int_eq(cem_sampler_run(s, n, c), CEM_OK);
        if (integ != CEM_INTEG_ODE && integ != CEM_INTEG_HEUN && integ != CEM_INTEG_DPMPP_2M &&
            integ != CEM_INTEG_DPMPP_3M)
            ck_assert_int_ne(memcmp(a + 2, c + 2, 8), 0); /* another seed, other noise */
        cem_sampler_free(s);
    }
    cem_model_free(m);
}
END_TEST

/* A row costs a row: cem_sampler_run_rows integrates only the rows it is
 * asked for, and each comes out bitwise as in a whole run, for every model
 * kind (a network of the default size, a small one, the empirical and the
 * Gaussian closed forms, whose products see other shapes), every
 * integrator, pieces of any length at any offset within and across
 * 256-row blocks, at 1 and 2 threads. */
START_TEST(rows_alone_equal_a_whole_run)
{
    enum { n = 600, D = 3, NP = 301 };
    static float whole[n * D], part[n * D], pts[NP * D];
    static const size_t PIECES[][2] = {{0, 1},   {5, 1},    {255, 1}, {256, 1}, {599, 1},
                                       {250, 13}, {300, 7}, {137, 300}, {1, 598}};
    for (int i = 0; i < NP * D; i++)
        pts[i] = (float)sin(1.7 * i + 0.3);
    const float mean[D] = {0.5f, -1.0f, 0.25f};
    const float cov[D * D] = {1.0f, 0.3f, 0.0f, 0.3f, 0.5f, 0.1f, 0.0f, 0.1f, 0.2f};
    cem_model_t *models[4];
    ck_assert_int_eq(cem_model_create_mlp(&models[0], D, CEM_TARGET_CEM), CEM_OK);
    ck_assert_int_eq(cem_model_create_mlp(&models[1], D, CEM_TARGET_NOISE), CEM_OK);
    cem_model_set(models[1], CEM_MODEL_WIDTH, 40);
    cem_model_set(models[1], CEM_MODEL_DEPTH, 2);
    cem_model_set(models[1], CEM_MODEL_EMBED, 6);
    ck_assert_int_eq(cem_model_create_empirical(&models[2], pts, NP, D), CEM_OK);
    ck_assert_int_eq(cem_model_create_gaussian(&models[3], mean, cov, D), CEM_OK);
    for (int k = 0; k < 4; k++)
        for (int integ = 0; cem_integrator_name((cem_integrator)integ); integ++) {
            cem_sampler_t *s;
            ck_assert_int_eq(cem_sampler_create(&s, models[k]), CEM_OK);
            cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, integ);
            cem_sampler_set(s, CEM_SAMPLER_STEPS, k == 0 ? 8 : 20);
            cem_sampler_set(s, CEM_SAMPLER_SEED, 3);
            ck_assert_int_eq(cem_sampler_run(s, n, whole), CEM_OK);
            for (int threads = 1; threads <= 2; threads++) {
                ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_THREADS, threads), CEM_OK);
                for (size_t q = 0; q < sizeof PIECES / sizeof PIECES[0]; q++) {
                    const size_t first = PIECES[q][0], rows = PIECES[q][1];
                    memset(part, 0xff, sizeof part);
                    ck_assert_int_eq(cem_sampler_run_rows(s, first, rows, part), CEM_OK);
                    ck_assert_msg(memcmp(whole + first * D, part, sizeof(float) * rows * D) == 0,
                                  "model %d, integrator %d, %d threads: rows %zu + %zu differ "
                                  "from the whole run", k, integ, threads, first, rows);
                    /* nothing written past the request */
                    ck_assert_uint_eq(((unsigned char *)(part + rows * D))[0], 0xff);
                }
            }
            cem_sampler_free(s);
        }
    for (int k = 0; k < 4; k++)
        cem_model_free(models[k]);
}
END_TEST

/* The sampler's progress callback: called on the calling thread after
 * each wave of blocks with a growing prefix of the request; a stop returns
 * CEM_ERR_STOPPED with that prefix bitwise as in a whole run. */
typedef struct {
    pthread_t caller;
    int calls, stop_after, wrong_thread;
    size_t last, total;
} sampler_watch;

static int watch_rows(size_t done, size_t total, void *user)
{
    sampler_watch *w = user;
    w->wrong_thread += !pthread_equal(pthread_self(), w->caller);
    ck_assert_uint_gt(done, w->last);
    w->last = done;
    w->total = total;
    return ++w->calls == w->stop_after;
}

START_TEST(progress_and_stop)
{
    enum { n = 1500 }; /* 256-row blocks: 6 blocks, from row 100 7 partial ones */
    static float a[n * 2], b[n * 2];
    cem_model_t *m = small_mlp();
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    cem_sampler_set(s, CEM_SAMPLER_STEPS, 10);
    ck_assert_int_eq(cem_sampler_run_rows(s, 100, n, a), CEM_OK); /* no callback */
    for (int threads = 1; threads <= 2; threads++) {
        ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_THREADS, threads), CEM_OK);
        sampler_watch w = {pthread_self(), 0, 0, 0, 0, 0};
        ck_assert_int_eq(cem_sampler_set_progress(s, watch_rows, &w), CEM_OK);
        memset(b, 0, sizeof b);
        ck_assert_int_eq(cem_sampler_run_rows(s, 100, n, b), CEM_OK);
        ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
        /* a wave a block a thread: 7 blocks touch rows 100 .. 1599 */
        ck_assert_int_eq(w.calls, (7 + threads - 1) / threads);
        ck_assert_uint_eq(w.last, n);
        ck_assert_uint_eq(w.total, n);
        ck_assert_int_eq(w.wrong_thread, 0);
        /* stopped after the second wave: its prefix is the whole run's */
        sampler_watch v = {pthread_self(), 0, 2, 0, 0, 0};
        ck_assert_int_eq(cem_sampler_set_progress(s, watch_rows, &v), CEM_OK);
        memset(b, 0, sizeof b);
        ck_assert_int_eq(cem_sampler_run_rows(s, 100, n, b), CEM_ERR_STOPPED);
        ck_assert_int_eq(v.calls, 2);
        ck_assert_uint_eq(v.last, (size_t)(2 * threads * 256 - 100));
        ck_assert_int_eq(memcmp(a, b, sizeof(float) * 2 * v.last), 0);
        ck_assert_ptr_nonnull(strstr(cem_sampler_errmsg(s), "stopped"));
    }
    ck_assert_int_eq(cem_sampler_set_progress(NULL, watch_rows, NULL), CEM_ERR_ARG);
    cem_sampler_free(s);
    cem_model_free(m);
}
END_TEST

START_TEST(trajectory_recording)
{
    float mu[2] = {0, 0}, cov[4] = {1, 0, 0, 1}, out[10 * 2], y[10 * 2];
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, cov, 2), CEM_OK);
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    cem_sampler_set(s, CEM_SAMPLER_STEPS, 50);
    cem_sampler_set(s, CEM_SAMPLER_TRAJ_ROWS, 3);
    cem_sampler_set(s, CEM_SAMPLER_TRAJ_EVERY, 10);
    size_t snaps, rows;
    ck_assert_int_eq(cem_sampler_trajectory(s, &snaps, &rows, NULL, NULL), CEM_OK);
    ck_assert_uint_eq(snaps, 0); /* no run yet: nothing recorded */
    ck_assert_uint_eq(rows, 0);
    ck_assert_int_eq(cem_sampler_run(s, 10, out), CEM_OK);
    ck_assert_int_eq(cem_sampler_trajectory(s, &snaps, &rows, NULL, NULL), CEM_OK);
    ck_assert_uint_eq(snaps, 6); /* T, steps 10 20 30 40, and step 49 at t_1 */
    ck_assert_uint_eq(rows, 3);
    float traj[6 * 3 * 2];
    double times[6], grid[50];
    ck_assert_int_eq(cem_sampler_trajectory(s, &snaps, &rows, traj, times), CEM_OK);
    ck_assert_int_eq(cem_sampler_times(s, grid), CEM_OK);
    ck_assert(times[0] == 10.0 && times[5] == grid[0] && times[1] == grid[39]);
    cem_sampler_set(s, CEM_SAMPLER_DENOISE, 0);
    ck_assert_int_eq(cem_sampler_run(s, 10, y), CEM_OK);
    ck_assert_int_eq(memcmp(traj + 5 * 6, y, sizeof(float) * 6), 0); /* last = y at t_1 */
    /* the start is N(0, I) noise and the end is what the sampler returns */
    cem_sampler_free(s);
    cem_model_free(m);
}
END_TEST

START_TEST(divergence_is_reported)
{
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_mlp(&m, 2, CEM_TARGET_SCORE), CEM_OK);
    cem_model_set(m, CEM_MODEL_WIDTH, 8);
    size_t np = cem_model_param_count(m);
    float *p = malloc(4 * np);
    for (size_t k = 0; k < np; k++)
        p[k] = 3e37f; /* a network whose output overflows */
    ck_assert_int_eq(cem_model_set_params(m, 2, p, np), CEM_OK);
    cem_sampler_t *s;
    float out[40];
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_run(s, 20, out), CEM_ERR_DIVERGED);
    ck_assert_uint_eq(cem_sampler_diverged_rows(s), 20);
    ck_assert(isnan(out[0]) && isnan(out[39]));
    ck_assert_ptr_nonnull(strstr(cem_sampler_errmsg(s), "20 of 20 rows"));
    cem_sampler_free(s);
    cem_model_free(m);
    free(p);
}
END_TEST

START_TEST(bad_input_and_options)
{
    float mu[2] = {0, 0}, cov[4] = {1, 0, 0, 1}, out[4];
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, cov, 2), CEM_OK);
    cem_sampler_t *s = (cem_sampler_t *)&s;
    ck_assert_int_eq(cem_sampler_create(&s, NULL), CEM_ERR_ARG);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(cem_sampler_create(NULL, m), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MIN, 1e-4), CEM_OK);
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    double v;
    ck_assert_int_eq(cem_sampler_get(s, CEM_SAMPLER_T_MIN, &v), CEM_OK);
    ck_assert(v == 1e-4); /* from the model */
    ck_assert_int_eq(cem_sampler_get(s, CEM_SAMPLER_STEPS, &v), CEM_OK);
    ck_assert(v == 200);
    ck_assert_int_eq(cem_sampler_get(s, CEM_SAMPLER_INTEGRATOR, &v), CEM_OK);
    ck_assert(v == CEM_INTEG_SPLITTING);
    ck_assert_int_eq(cem_sampler_run(s, 0, NULL), CEM_OK);
    ck_assert_int_eq(cem_sampler_run(s, 2, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_sampler_run(NULL, 2, out), CEM_ERR_ARG);
    ck_assert_int_eq(cem_sampler_run_rows(s, SIZE_MAX - 1, 2, out), CEM_ERR_ARG);
    /* first + n (and the end of its last block) past SIZE_MAX, and n rows
     * beyond the address space: refused, not a silent CEM_OK */
    ck_assert_int_eq(cem_sampler_run_rows(s, SIZE_MAX - 100, 2, out), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_sampler_errmsg(s), "row index range"));
    ck_assert_int_eq(cem_sampler_run_rows(s, 1000, SIZE_MAX / 4, out), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_sampler_errmsg(s), "address space"));
    /* a plan too large for memory (trajectories of 1024 rows over 10^6
     * steps): CEM_ERR_NOMEM naming the plan (it said N = 0: the message read
     * the plan after freeing it), the sampler as it was */
    {
        cem_model_t *e;
        static float pts[4 * 64];
        ck_assert_int_eq(cem_model_create_empirical(&e, pts, 4, 64), CEM_OK);
        cem_sampler_t *big;
        ck_assert_int_eq(cem_sampler_create(&big, e), CEM_OK);
        ck_assert_int_eq(cem_sampler_set(big, CEM_SAMPLER_TRAJ_ROWS, 1024), CEM_OK);
        ck_assert_int_eq(cem_sampler_set(big, CEM_SAMPLER_STEPS, 1e6), CEM_ERR_NOMEM);
        ck_assert_ptr_nonnull(strstr(cem_last_error(), "N = 1000000"));
        ck_assert_int_eq(cem_sampler_get(big, CEM_SAMPLER_STEPS, &v), CEM_OK);
        ck_assert(v == 200);
        cem_sampler_free(big);
        cem_model_free(e);
    }
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_STEPS, 1), CEM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(cem_sampler_errmsg(s), "CEM_SAMPLER_STEPS"));
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_T_MIN, 1.0), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_T_MAX, 0.5), CEM_ERR_RANGE);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_T_MIN, NAN), CEM_ERR_RANGE);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_T_MAX, INFINITY), CEM_ERR_RANGE);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, 8), CEM_ERR_RANGE);
    ck_assert_int_eq(cem_sampler_set(s, (cem_sampler_option)0, 1), CEM_ERR_ARG);
    ck_assert_int_eq(cem_sampler_get(s, CEM_SAMPLER_T_MIN, &v), CEM_OK);
    ck_assert(v == 1.0); /* failed sets changed nothing */
    double lo, hi;
    ck_assert_int_eq(cem_sampler_option_bounds(CEM_SAMPLER_STEPS, &lo, &hi), CEM_OK);
    ck_assert(lo == 2 && hi == 1e6);
    cem_model_free(m); /* the sampler keeps the model alive */
    ck_assert_int_eq(cem_sampler_run(s, 2, out), CEM_OK);
    cem_sampler_free(s);
    cem_sampler_free(NULL);
}
END_TEST

/* The first snapshot of the trajectory is the prior's draw at T: per
 * coordinate mean and variance within 5 Monte Carlo standard errors of
 * N(alpha_T mu, alpha_T^2 sd^2 + sigma_T^2) with PRIOR = 1 and data
 * statistics set, N(0, 1) with PRIOR = 0 or without statistics. */
static void prior_moments(cem_model_t *m, double T, int prior, const double *mu, double sd)
{
    enum { n = 1024 };
    static float out[n * 2], traj[2 * n * 2];
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_STEPS, 2), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_T_MAX, T), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_TRAJ_ROWS, n), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_PRIOR, prior), CEM_OK);
    ck_assert_int_eq(cem_sampler_run(s, n, out), CEM_OK);
    size_t snaps, rows;
    double times[2];
    ck_assert_int_eq(cem_sampler_trajectory(s, &snaps, &rows, NULL, NULL), CEM_OK);
    ck_assert_uint_eq(snaps, 2);
    ck_assert_uint_eq(rows, n);
    ck_assert_int_eq(cem_sampler_trajectory(s, &snaps, &rows, traj, times), CEM_OK);
    ck_assert(times[0] == T);
    const double al = exp(-T / 2), s2 = -expm1(-T);
    for (int j = 0; j < 2; j++) {
        double wm = mu ? al * mu[j] : 0, wv = mu ? al * al * sd * sd + s2 : 1;
        double m1 = 0, m2 = 0;
        for (int i = 0; i < n; i++)
            m1 += traj[i * 2 + j] / (double)n;
        for (int i = 0; i < n; i++)
            m2 += (traj[i * 2 + j] - m1) * (traj[i * 2 + j] - m1) / (n - 1);
        ck_assert_msg(fabs(m1 - wm) <= 5 * sqrt(wv / n), "T %g prior %d coord %d: mean %g want %g",
                      T, prior, j, m1, wm);
        ck_assert_msg(fabs(m2 - wv) <= 5 * wv * sqrt(2.0 / (n - 1)),
                      "T %g prior %d coord %d: variance %g want %g", T, prior, j, m2, wv);
    }
    cem_sampler_free(s);
}

START_TEST(prior_matches_the_data_statistics)
{
    cem_model_t *m = small_mlp();
    double v, lo, hi;
    ck_assert_int_eq(cem_sampler_option_bounds(CEM_SAMPLER_PRIOR, &lo, &hi), CEM_OK);
    ck_assert(lo == 0 && hi == 1);
    prior_moments(m, 1.0, 1, NULL, 1); /* no statistics: N(0, I) */
    const double mu[2] = {5, -3};
    ck_assert_int_eq(cem_model_set_data_stats(m, mu, 2), CEM_OK);
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_get(s, CEM_SAMPLER_PRIOR, &v), CEM_OK);
    ck_assert(v == 1); /* the default */
    cem_sampler_free(s);
    prior_moments(m, 1.0, 1, mu, 2);  /* mean (3.03, -1.82), variance 2.10 */
    prior_moments(m, 10.0, 1, mu, 2); /* the default T: alpha_T = e^-5 */
    prior_moments(m, 1.0, 0, NULL, 1);
    cem_model_free(m);
}
END_TEST

/* A sampler plans its memory for the model's network, so the network cannot
 * change under it (this used to write past the sampler's workspace). */
START_TEST(network_is_fixed_while_a_sampler_holds_it)
{
    cem_model_t *m;
    cem_sampler_t *s;
    float out[600 * 2];
    ck_assert_int_eq(cem_model_create_mlp(&m, 2, CEM_TARGET_CEM), CEM_OK);
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_STEPS, 5), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 1024), CEM_ERR_BUSY);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "sampler"));
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_DEPTH, 5), CEM_ERR_BUSY);
    double v;
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_WIDTH, &v), CEM_OK);
    ck_assert(v == 256);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_USE_EMA, 0), CEM_OK); /* allowed */
    ck_assert_int_eq(cem_sampler_run(s, 600, out), CEM_OK);
    /* two samplers: the message counts them */
    cem_sampler_t *s2;
    ck_assert_int_eq(cem_sampler_create(&s2, m), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 1024), CEM_ERR_BUSY);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "2 samplers hold the model"));
    cem_sampler_free(s2);
    cem_sampler_free(s);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 1024), CEM_OK);
    /* a reference the host keeps holds nothing (the outside probe's finding:
     * busy was read off the reference count) */
    cem_model_retain(m);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 64), CEM_OK);
    ck_assert_int_eq(cem_model_set_data_stats(m, NULL, 0), CEM_OK);
    cem_model_free(m);
    cem_model_free(m);
}
END_TEST

Suite *suite_sampler(void)
{
    Suite *s = suite_create("sampler");
    TCase *tc = tcase_create("sampler");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, gaussian_moments_for_every_integrator);
    tcase_add_test(tc, weak_orders_of_every_integrator);
    tcase_add_test(tc, flow_orders_of_the_deterministic_samplers);
    tcase_add_test(tc, gaussian_on_a_line_samples_on_the_line);
    tcase_add_test(tc, point_cloud_memorised_with_weights);
    tcase_add_test(tc, exponential_grid_keeps_the_drift_step_small);
    tcase_add_test(tc, reproducible_and_thread_independent);
    tcase_add_test(tc, rows_alone_equal_a_whole_run);
    tcase_add_test(tc, progress_and_stop);
    tcase_add_test(tc, trajectory_recording);
    tcase_add_test(tc, divergence_is_reported);
    tcase_add_test(tc, bad_input_and_options);
    tcase_add_test(tc, network_is_fixed_while_a_sampler_holds_it);
    tcase_add_test(tc, prior_matches_the_data_statistics);
    suite_add_tcase(s, tc);
    return s;
}
