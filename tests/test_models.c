/*
 * test_models.c -- the closed-form model kinds against independent truth:
 * the empirical model against brute force in double (direct distances, no
 * GEMM), the Gaussian model against a Cholesky solve (no eigenvectors);
 * options, reference counting, blocking, concurrency and errors; the MLP's
 * PRECOND parameterisation against the header's formula evaluated in the
 * test on a DIRECT twin holding the same weights, and its data statistics.
 */
#include "tests.h"

#include "base.h"
#include "model.h"

#include <lapacke.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ truths */

/* f, eps, S of the empirical law of P (n x dim) at (x, t), brute force. */
static void empirical_truth(const float *P, size_t n, int dim, const float *x, double t,
                            double out[3][16])
{
    double al = exp(-t / 2), s2 = -expm1(-t), s = sqrt(s2);
    double *lg = malloc(sizeof(double) * n), mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double d2 = 0;
        for (int j = 0; j < dim; j++) {
            double d = (double)x[j] - al * P[i * dim + j];
            d2 += d * d;
        }
        lg[i] = -d2 / (2 * s2);
        mx = fmax(mx, lg[i]);
    }
    double z = 0, f[16] = {0};
    for (size_t i = 0; i < n; i++) {
        double w = exp(lg[i] - mx);
        z += w;
        for (int j = 0; j < dim; j++)
            f[j] += w * P[i * dim + j];
    }
    for (int j = 0; j < dim; j++) {
        f[j] /= z;
        out[CEM_TARGET_CEM][j] = f[j];
        out[CEM_TARGET_NOISE][j] = (x[j] - al * f[j]) / s;
        out[CEM_TARGET_SCORE][j] = (al * f[j] - x[j]) / s2;
    }
    free(lg);
}

/* f and S of N(mu, C) at (x, t): S = -(a^2 C + s^2 I)^-1 (x - a mu),
 * f = (x + s^2 S) / a, by Cholesky. */
static void gaussian_truth(const double *mu, const double *C, int dim, const float *x, double t,
                           double out[3][16])
{
    double al = exp(-t / 2), s2 = -expm1(-t), s = sqrt(s2);
    double A[256], b[16];
    for (int i = 0; i < dim; i++) {
        for (int j = 0; j < dim; j++)
            A[i * dim + j] = al * al * C[i * dim + j] + (i == j ? s2 : 0.0);
        b[i] = x[i] - al * mu[i];
    }
    ck_assert_int_eq(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', dim, 1, A, dim, b, 1), 0);
    for (int j = 0; j < dim; j++) {
        double S = -b[j];
        out[CEM_TARGET_SCORE][j] = S;
        out[CEM_TARGET_NOISE][j] = -s * S;
        out[CEM_TARGET_CEM][j] = (x[j] + s2 * S) / al;
    }
}

/* Largest relative error of `got` (float) against `want`, componentwise with
 * a floor of 1e-6 times the row's scale. */
static double row_err(const float *got, const double *want, int dim)
{
    double scale = 0, worst = 0;
    for (int j = 0; j < dim; j++)
        scale = fmax(scale, fabs(want[j]));
    for (int j = 0; j < dim; j++)
        worst = fmax(worst, fabs(got[j] - want[j]) / fmax(fabs(want[j]), 1e-6 * scale + 1e-300));
    return worst;
}

/* ------------------------------------------------------------ fixtures */

enum { ED = 3, EN = 300 };
static float edata[EN * ED];

static void make_edata(void)
{
    cemi_rng r;
    cemi_rng_init(&r, 99, 0);
    for (int i = 0; i < EN; i++) { /* a noisy circle tilted in R^3 */
        double a = 6.283185307179586 * cemi_rng_uniform(&r);
        edata[i * ED + 0] = (float)cos(a);
        edata[i * ED + 1] = (float)(0.7 * sin(a));
        edata[i * ED + 2] = (float)(0.7 * sin(a) + 0.01 * cemi_rng_normal(&r));
    }
}

/* Probe points: data points scaled by alpha(t) (on the noised data), and
 * points at distances 1e-3 .. 2 off them. */
static void probe(cemi_rng *r, int k, float *x)
{
    int i = (int)(cemi_rng_uniform(r) * EN);
    double off = k % 5 == 0 ? 0.0 : pow(10.0, -3.0 + 3.3 * cemi_rng_uniform(r));
    for (int j = 0; j < ED; j++)
        x[j] = (float)(edata[i * ED + j] + off * cemi_rng_normal(r));
}

START_TEST(empirical_matches_brute_force)
{
    make_edata();
    cem_model_t *m = NULL;
    ck_assert_int_eq(cem_model_create_empirical(&m, edata, EN, ED), CEM_OK);
    ck_assert_int_eq(cem_model_dim(m), ED);
    ck_assert_int_eq(cem_model_kind_of(m), CEM_KIND_EMPIRICAL);
    enum { NT = 25, NP = 40 };
    static float x[NT * NP * ED], out[NT * NP * ED];
    static double t[NT * NP];
    cemi_rng r;
    cemi_rng_init(&r, 5, 0);
    for (int a = 0; a < NT; a++) /* t from 1e-4 to 10, log-spaced */
        for (int p = 0; p < NP; p++) {
            t[a * NP + p] = 1e-4 * pow(1e5, (double)a / (NT - 1));
            probe(&r, p, x + (a * NP + p) * ED);
        }
    for (int what = 0; what < 3; what++) {
        ck_assert_int_eq(cem_model_eval(m, (cem_target)what, NT * NP, x, t, out), CEM_OK);
        double worst = 0;
        for (int k = 0; k < NT * NP; k++) {
            double ref[3][16];
            empirical_truth(edata, EN, ED, x + k * ED, t[k], ref);
            worst = fmax(worst, row_err(out + k * ED, ref[what], ED));
        }
        ck_assert_msg(worst < 1e-5, "target %d: worst relative error %g", what, worst);
    }
    cem_model_free(m);
}
END_TEST

START_TEST(empirical_blocks_and_shared_time)
{
    /* 5000 points: a block holds 209 rows, so 500 rows cross two block
     * boundaries; per-row results must not depend on the blocking. */
    enum { n = 5000, q = 500, d = 2 };
    float *P = malloc(sizeof(float) * n * d), *x = malloc(sizeof(float) * q * d);
    float *a = malloc(sizeof(float) * q * d), *b = malloc(sizeof(float) * q * d);
    double *t = malloc(sizeof(double) * q);
    cemi_rng r;
    cemi_rng_init(&r, 1, 0);
    for (int i = 0; i < n * d; i++)
        P[i] = (float)cemi_rng_normal(&r);
    for (int i = 0; i < q * d; i++)
        x[i] = (float)cemi_rng_normal(&r);
    for (int i = 0; i < q; i++)
        t[i] = 0.05;
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_empirical(&m, P, n, d), CEM_OK);
    ck_assert_uint_lt(m->ops->max_rows(m), q / 2);
    ck_assert_int_eq(cem_model_eval(m, CEM_TARGET_SCORE, q, x, t, a), CEM_OK);
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_SCORE, q, x, 0.05, b), CEM_OK);
    ck_assert_int_eq(memcmp(a, b, sizeof(float) * q * d), 0);
    for (int i = 0; i < q; i += 97) { /* row by row */
        float one[d];
        ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_SCORE, 1, x + i * d, 0.05, one), 0);
        double ref[3][16];
        empirical_truth(P, n, d, x + i * d, 0.05, ref);
        ck_assert_double_lt(row_err(one, ref[CEM_TARGET_SCORE], d), 1e-5);
        ck_assert_double_lt(row_err(a + i * d, ref[CEM_TARGET_SCORE], d), 1e-5);
    }
    cem_model_free(m);
    free(P); free(x); free(a); free(b); free(t);
}
END_TEST

START_TEST(empirical_small_t_is_nearest_point)
{
    /* f(x, t) -> the nearest data point as t -> 0: the bounded target */
    float P[6] = {0, 0, 1, 0, 0, 1};
    float x[2] = {0.8f, 0.3f};
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_empirical(&m, P, 3, 2), CEM_OK);
    float f[2];
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 1, x, 1e-6, f), CEM_OK);
    ck_assert(f[0] == 1.0f && f[1] == 0.0f);
    /* and to the mean as t grows */
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 1, x, 60.0, f), CEM_OK);
    ck_assert_double_lt(fabs(f[0] - 1.0 / 3), 1e-6);
    ck_assert_double_lt(fabs(f[1] - 1.0 / 3), 1e-6);
    cem_model_free(m);
}
END_TEST

static void spd(int dim, int rank, uint64_t seed, double *C, double *mu, float *Cf, float *muf)
{
    cemi_rng r;
    cemi_rng_init(&r, seed, 0);
    double B[256];
    /* rank < dim: only every other row of B is non-zero, so the zero
     * eigenvalues of C are exact in float too (no rounding noise that the
     * model would clamp and the truth would keep) */
    for (int i = 0; i < dim * rank; i++)
        B[i] = rank == dim || (i / rank) % 2 == 1 ? cemi_rng_normal(&r) : 0.0;
    for (int i = 0; i < dim; i++) {
        muf[i] = (float)cemi_rng_normal(&r);
        mu[i] = muf[i]; /* the truth uses the float values the model gets */
    }
    for (int i = 0; i < dim; i++)
        for (int j = 0; j < dim; j++) {
            double s = 0;
            for (int k = 0; k < rank; k++)
                s += B[i * rank + k] * B[j * rank + k];
            Cf[i * dim + j] = (float)s;
        }
    for (int i = 0; i < dim * dim; i++) /* the truth uses the float matrix */
        C[i] = Cf[i];
}

static void check_gaussian(int dim, int rank, uint64_t seed)
{
    double C[256], mu[16];
    float Cf[256], muf[16];
    spd(dim, rank, seed, C, mu, Cf, muf);
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_gaussian(&m, muf, Cf, dim), CEM_OK);
    ck_assert_int_eq(cem_model_kind_of(m), CEM_KIND_GAUSSIAN);
    enum { NT = 21, NP = 10 };
    static float x[NT * NP * 16], out[NT * NP * 16];
    static double t[NT * NP];
    cemi_rng r;
    cemi_rng_init(&r, seed, 1);
    for (int a = 0; a < NT; a++)
        for (int p = 0; p < NP; p++) {
            t[a * NP + p] = 1e-4 * pow(1e5, (double)a / (NT - 1));
            for (int j = 0; j < dim; j++)
                x[(a * NP + p) * dim + j] = (float)(mu[j] + 2 * cemi_rng_normal(&r));
        }
    for (int what = 0; what < 3; what++) {
        ck_assert_int_eq(cem_model_eval(m, (cem_target)what, NT * NP, x, t, out), CEM_OK);
        double worst = 0;
        for (int k = 0; k < NT * NP; k++) {
            double ref[3][16];
            gaussian_truth(mu, C, dim, x + k * dim, t[k], ref);
            worst = fmax(worst, row_err(out + k * dim, ref[what], dim));
        }
        /* the truth divides by alpha and by the Cholesky factor of a matrix
         * with condition number up to ~1e4 at t = 1e-4 */
        ck_assert_msg(worst < 1e-5, "dim %d rank %d target %d: worst %g", dim, rank, what,
                      worst);
    }
    cem_model_free(m);
}

START_TEST(gaussian_matches_cholesky_solve)
{
    check_gaussian(4, 4, 3);  /* full rank */
    check_gaussian(5, 2, 4);  /* data on a 2-plane in R^5 (rows 1, 3) */
    check_gaussian(1, 1, 5);
}
END_TEST

START_TEST(gaussian_on_a_line_projects)
{
    /* N(0, e1 e1^T) in R^2: f(x, t) -> (x_1, 0) as t -> 0 */
    float mu[2] = {0, 0}, C[4] = {1, 0, 0, 0}, x[2] = {0.4f, 0.9f}, f[2];
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, C, 2), CEM_OK);
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 1, x, 1e-7, f), CEM_OK);
    ck_assert_double_lt(fabs(f[0] - 0.4), 1e-6);
    ck_assert_double_lt(fabs(f[1]), 1e-12);
    /* the closed form along e1: a l / (a^2 l + s^2) x */
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 1, x, 0.8, f), CEM_OK);
    double a = exp(-0.4), s2 = -expm1(-0.8);
    ck_assert_double_lt(fabs(f[0] - a / (a * a + s2) * 0.4), 1e-7);
    cem_model_free(m);
}
END_TEST

START_TEST(gaussian_rejects_bad_covariance)
{
    float mu[2] = {0, 0}, nonsym[4] = {1, 0.5f, 0.1f, 1}, neg[4] = {1, 0, 0, -0.5f};
    float nan_cov[4] = {1, 0, 0, NAN};
    cem_model_t *m = (cem_model_t *)&m;
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, nonsym, 2), CEM_ERR_NUMERIC);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "not symmetric"));
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, neg, 2), CEM_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "positive semi-definite"));
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, nan_cov, 2), CEM_ERR_NONFINITE);
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, neg, 0), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_create_gaussian(&m, NULL, neg, 2), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_create_gaussian(NULL, mu, neg, 2), CEM_ERR_ARG);
}
END_TEST

START_TEST(model_options)
{
    float P[2] = {0, 1};
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_empirical(&m, P, 1, 2), CEM_OK);
    double v, lo, hi;
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_T_MIN, &v), CEM_OK);
    ck_assert(v == 1e-3);
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_T_MAX, &v), CEM_OK);
    ck_assert(v == 10.0);
    ck_assert_int_eq(cem_model_option_bounds(CEM_MODEL_T_MIN, &lo, &hi), CEM_OK);
    ck_assert(lo == 1e-8 && hi == 50.0);
    ck_assert_int_eq(cem_model_option_bounds((cem_model_option)77, &lo, &hi), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MIN, 1e-4), CEM_OK);
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_T_MIN, &v), CEM_OK);
    ck_assert(v == 1e-4);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MIN, 60.0), CEM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(cem_model_errmsg(m), "CEM_MODEL_T_MIN"));
    ck_assert_ptr_nonnull(strstr(cem_model_errmsg(m), "[1e-08, 50]"));
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MIN, NAN), CEM_ERR_RANGE);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MAX, 0.5), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MIN, 0.7), CEM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), ">="));
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_T_MIN, &v), CEM_OK);
    ck_assert(v == 1e-4); /* unchanged by the failed calls */
    ck_assert_int_eq(cem_model_set(m, (cem_model_option)0, 1.0), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_set(NULL, CEM_MODEL_T_MIN, 1e-3), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_T_MIN, NULL), CEM_ERR_ARG);
    cem_model_free(m);
}
END_TEST

START_TEST(model_eval_errors)
{
    float P[4] = {0, 1, 1, 0}, x[4] = {0.5f, 0.5f, NAN, 0}, out[4] = {0};
    double t[2] = {0.1, 0.1}, tbad[2] = {0.1, -1.0};
    cem_model_t *m = (cem_model_t *)&m;
    float Pbad[4] = {0, 1, INFINITY, 0};
    ck_assert_int_eq(cem_model_create_empirical(&m, Pbad, 2, 2), CEM_ERR_NONFINITE);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "row 1"));
    ck_assert_int_eq(cem_model_create_empirical(&m, P, 0, 2), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_create_empirical(&m, P, 2, 0), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_create_empirical(&m, P, (size_t)1 << 40, 2), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_create_empirical(&m, P, 2, 2), CEM_OK);

    ck_assert_int_eq(cem_model_eval(m, CEM_TARGET_CEM, 2, x, t, out), CEM_ERR_NONFINITE);
    /* evaluation is const: the thread's message, not the model's */
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "row 1"));
    ck_assert_str_eq(cem_model_errmsg(m), "");
    ck_assert_int_eq(cem_model_eval(m, CEM_TARGET_CEM, 1, x, tbad + 1, out), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_eval(m, CEM_TARGET_CEM, 2, P, tbad, out), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "t[1]"));
    ck_assert_int_eq(cem_model_eval(m, CEM_TARGET_CEM, 1, x, NULL, out), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 1, x, 0.0, out), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 1, x, INFINITY, out), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_eval_at(m, (cem_target)3, 1, x, 0.1, out), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 1, NULL, 0.1, out), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 1, x, 0.1, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_eval_at(NULL, CEM_TARGET_CEM, 1, x, 0.1, out), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 0, NULL, 0.1, NULL), CEM_OK);
    ck_assert_int_eq(cem_model_dim(NULL), -1);
    ck_assert_int_eq(cem_model_kind_of(NULL), -1);
    ck_assert_str_eq(cem_model_errmsg(NULL), "");
    cem_model_free(m);
    cem_model_free(NULL);
}
END_TEST

static cem_model_t *small_mlp(int dim, cem_target target);

/* CEM_OK only with finite values (the outside probe's finding: a NOISE
 * model asked for f at t = 2000 returned +-Inf with CEM_OK).  The exact
 * model of two points at x off the data, where f is the nearer point for
 * tiny t: S = (alpha f - x) / sigma^2 against that truth at t = 1e-30
 * (finite, about 1e29), CEM_ERR_NUMERIC at t = 1e-300 (about 1e299), also
 * when only one row of several overflows; a NOISE network asked for f
 * where alpha_t is 0 in double.  The model's own message is left alone
 * (evaluation is const). */
START_TEST(eval_refuses_nonfinite_results)
{
    const float P[4] = {0, 1, 1, 0}, x[6] = {0.2f, 0.9f, 0.2f, 0.9f, 0.2f, 0.9f};
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_empirical(&m, P, 2, 2), CEM_OK);
    float out[6];
    const double tiny = 1e-30;
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_SCORE, 1, x, tiny, out), CEM_OK);
    const double want[2] = {(0 - 0.2f) / -expm1(-tiny), (exp(-tiny / 2) - 0.9f) / -expm1(-tiny)};
    for (int j = 0; j < 2; j++)
        ck_assert_double_lt(fabs(out[j] - want[j]) / fabs(want[j]), 1e-6);
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_SCORE, 1, x, 1e-300, out), CEM_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "cem_model_eval_at: SCORE of row 0"));
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "not finite in float"));
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_NOISE, 1, x, 1e-300, out), CEM_ERR_NUMERIC);
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 1, x, 1e-300, out), CEM_OK);
    ck_assert(out[0] == 0.0f && out[1] == 1.0f); /* f itself is fine */
    double t3[3] = {0.5, tiny, 1e-300};
    ck_assert_int_eq(cem_model_eval(m, CEM_TARGET_SCORE, 3, x, t3, out), CEM_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "row 2 column 0 at t = 1e-300"));
    ck_assert_str_eq(cem_model_errmsg(m), "");
    cem_model_free(m);

    cem_model_t *net = small_mlp(2, CEM_TARGET_NOISE);
    ck_assert_int_eq(cem_model_eval_at(net, CEM_TARGET_CEM, 3, x, 1.0, out), CEM_OK);
    for (int k = 0; k < 6; k++)
        ck_assert(isfinite(out[k]));
    ck_assert_int_eq(cem_model_eval_at(net, CEM_TARGET_CEM, 3, x, 2000.0, out), CEM_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "CEM of row 0 column 0 at t = 2000"));
    double t2000[3] = {1.0, 2000.0, 1.0};
    ck_assert_int_eq(cem_model_eval(net, CEM_TARGET_CEM, 3, x, t2000, out), CEM_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "row 1"));
    ck_assert_str_eq(cem_model_errmsg(net), "");
    cem_model_free(net);
}
END_TEST

START_TEST(model_reference_count)
{
    float P[2] = {1, 2}, x[2] = {0, 0}, out[2];
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_empirical(&m, P, 1, 2), CEM_OK);
    cemi_model_retain(m); /* as a sampler or trainer does */
    cem_model_free(m);    /* the host lets go first */
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 1, x, 0.5, out), CEM_OK);
    ck_assert(out[0] == 1.0f && out[1] == 2.0f);
    cem_model_free(m); /* the dependent handle lets go: destroyed (valgrind) */
}
END_TEST

typedef struct {
    cem_model_t *m;
    const float *x;
    float *out;
    int st;
} job;

static void *eval_job(void *p)
{
    job *j = p;
    j->st = cem_model_eval_at(j->m, CEM_TARGET_SCORE, 400, j->x, 0.01, j->out);
    return NULL;
}

START_TEST(concurrent_evaluation)
{
    enum { q = 400, d = 3 };
    make_edata();
    static float x[q * d], seq[q * d], par[4][q * d];
    cemi_rng r;
    cemi_rng_init(&r, 8, 0);
    for (int i = 0; i < q * d; i++)
        x[i] = (float)cemi_rng_normal(&r);
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_empirical(&m, edata, EN, ED), CEM_OK);
    ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_SCORE, q, x, 0.01, seq), CEM_OK);
    pthread_t th[4];
    job jobs[4];
    for (int k = 0; k < 4; k++) {
        jobs[k] = (job){m, x, par[k], -99};
        ck_assert_int_eq(pthread_create(&th[k], NULL, eval_job, &jobs[k]), 0);
    }
    for (int k = 0; k < 4; k++) {
        pthread_join(th[k], NULL);
        ck_assert_int_eq(jobs[k].st, CEM_OK);
        ck_assert_int_eq(memcmp(seq, par[k], sizeof seq), 0);
    }
    cem_model_free(m);
}
END_TEST

/* ------------------------------------------------------------ mixtures */

/* With CEM_TEST_NOTES set, the measured errors go to stderr. */
static void note(const char *what, double err)
{
    if (getenv("CEM_TEST_NOTES"))
        fprintf(stderr, "models: %s: %.3g\n", what, err);
}

/* The test's 3-component mixture in R^2: unequal weights (passed
 * unnormalised), and component 1 singular (on the line through its mean
 * along (2, -1)), every entry exact in float. */
static const double MIX_W[3] = {5, 3, 2};
static const float MIX_MEAN[3 * 2] = {1.5f, 0.5f, -1.0f, 1.0f, 0.0f, -1.5f};
static const float MIX_COV[3 * 4] = {0.3f,  0.1f,    0.1f,    0.2f,  0.25f, -0.125f,
                                     -0.125f, 0.0625f, 0.5f, -0.2f, -0.2f,  0.4f};

/* f, eps and S of a mixture in R^2 at (x, t), brute force: for each
 * component A = alpha^2 C + sigma^2 I by hand, its determinant and inverse,
 * y = A^-1 (x - alpha m); log N = -y.(x - alpha m)/2 - log det A / 2,
 * f_k = m + alpha C y, S_k = -y; weights pi_k N_k normalised. */
static void mixture_truth_2d(int K, const double *w, const float *mean, const float *cov,
                             const float *x, double t, double out[3][16])
{
    const double al = exp(-t / 2), s2 = -expm1(-t), s = sqrt(s2);
    double lg[8], fk[8][2], sk[8][2], wsum = 0, top = -INFINITY;
    for (int k = 0; k < K; k++)
        wsum += w[k];
    for (int k = 0; k < K; k++) {
        const float *C = cov + 4 * k, *m = mean + 2 * k;
        const double p = al * al * C[0] + s2, q = al * al * C[1], r = al * al * C[3] + s2;
        const double det = p * r - q * q;
        const double d0 = x[0] - al * m[0], d1 = x[1] - al * m[1];
        const double y0 = (r * d0 - q * d1) / det, y1 = (-q * d0 + p * d1) / det;
        lg[k] = log(w[k] / wsum) - 0.5 * (y0 * d0 + y1 * d1) - 0.5 * log(det);
        fk[k][0] = m[0] + al * (C[0] * y0 + C[1] * y1);
        fk[k][1] = m[1] + al * (C[2] * y0 + C[3] * y1);
        sk[k][0] = -y0;
        sk[k][1] = -y1;
        top = fmax(top, lg[k]);
    }
    double z = 0, f[2] = {0, 0}, S[2] = {0, 0};
    for (int k = 0; k < K; k++) {
        const double e = exp(lg[k] - top);
        z += e;
        for (int j = 0; j < 2; j++) {
            f[j] += e * fk[k][j];
            S[j] += e * sk[k][j];
        }
    }
    for (int j = 0; j < 2; j++) {
        out[CEM_TARGET_CEM][j] = f[j] / z;
        out[CEM_TARGET_SCORE][j] = S[j] / z;
        out[CEM_TARGET_NOISE][j] = -s * S[j] / z;
    }
}

/* n points near the mixture's noised components at t, a fifth of them
 * pushed further off (up to 3 units). */
static void mixture_probes(cemi_rng *r, int K, const float *mean, int dim, double t, int n,
                           float *x)
{
    const double al = exp(-t / 2), s = sqrt(-expm1(-t));
    for (int i = 0; i < n; i++) {
        const int k = (int)(cemi_rng_uniform(r) * K) % K;
        const double off = i % 5 == 0 ? 3 * cemi_rng_uniform(r) : 0.0;
        for (int j = 0; j < dim; j++)
            x[i * dim + j] = (float)(al * (mean[k * dim + j] + 0.5 * cemi_rng_normal(r)) +
                                     (s + off) * cemi_rng_normal(r));
    }
}

/* (b) The unconditional f, eps and S of the 3-component mixture against
 * the brute force, at t = 1e-3, 0.1, 1 and 5. */
START_TEST(mixture_matches_brute_force)
{
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_mixture(&m, 3, MIX_W, MIX_MEAN, MIX_COV, 2), CEM_OK);
    ck_assert_int_eq(cem_model_kind_of(m), CEM_KIND_MIXTURE);
    ck_assert_int_eq(cem_model_dim(m), 2);
    double v = -1;
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_LABELS, &v), CEM_OK);
    ck_assert(v == 3);
    enum { NP = 200 };
    static const double ts[4] = {1e-3, 0.1, 1, 5};
    static float x[NP * 2], out[NP * 2];
    cemi_rng r;
    cemi_rng_init(&r, 31, 0);
    double worst[3] = {0, 0, 0};
    for (int a = 0; a < 4; a++) {
        mixture_probes(&r, 3, MIX_MEAN, 2, ts[a], NP, x);
        for (int what = 0; what < 3; what++) {
            ck_assert_int_eq(cem_model_eval_at(m, (cem_target)what, NP, x, ts[a], out), CEM_OK);
            double w = 0;
            for (int i = 0; i < NP; i++) {
                double ref[3][16];
                mixture_truth_2d(3, MIX_W, MIX_MEAN, MIX_COV, x + 2 * i, ts[a], ref);
                w = fmax(w, row_err(out + 2 * i, ref[what], 2));
            }
            ck_assert_msg(w < 1e-5, "t %g target %d: worst relative error %g", ts[a], what, w);
            worst[what] = fmax(worst[what], w);
        }
    }
    note("mixture f vs brute force (2-D, K 3, t 1e-3..5)", worst[CEM_TARGET_CEM]);
    note("mixture eps vs brute force", worst[CEM_TARGET_NOISE]);
    note("mixture S vs brute force", worst[CEM_TARGET_SCORE]);
    cem_model_free(m);
}
END_TEST

/* (a) Class k is component k: bitwise what cem_model_create_gaussian's
 * model of that component gives, in every target, with the classes (and
 * CEM_LABEL_NONE) mixed in one call over several blocks; the unlabelled
 * rows are bitwise those of cem_model_eval (no row depends on another).
 * In R^2 (the fixture above) and in R^5 (4 components, two singular). */
static void check_classes_are_components(int K, int dim, const double *w, const float *mean,
                                         const float *cov)
{
    enum { N = 700 };
    static float x[N * 16], a[N * 16], b[N * 16];
    static double t[N];
    static int lab[N];
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_mixture(&m, K, w, mean, cov, dim), CEM_OK);
    ck_assert_uint_lt(m->ops->max_rows(m), N / 2);
    cemi_rng r;
    cemi_rng_init(&r, 77, (uint64_t)dim);
    for (int i = 0; i < N; i++) {
        t[i] = 1e-4 * pow(1e5, cemi_rng_uniform(&r));
        lab[i] = (int)(cemi_rng_uniform(&r) * (K + 1)) % (K + 1) - 1;
        mixture_probes(&r, K, mean, dim, t[i], 1, x + i * dim);
    }
    double worst = 0;
    for (int what = 0; what < 3; what++) {
        ck_assert_int_eq(cem_model_eval_labelled(m, (cem_target)what, N, x, t, lab, a), CEM_OK);
        for (int k = 0; k < K; k++) {
            cem_model_t *g;
            ck_assert_int_eq(cem_model_create_gaussian(&g, mean + k * dim, cov + k * dim * dim,
                                                       dim), CEM_OK);
            ck_assert_int_eq(cem_model_eval(g, (cem_target)what, N, x, t, b), CEM_OK);
            for (int i = 0; i < N; i++)
                if (lab[i] == k) {
                    for (int j = 0; j < dim; j++)
                        worst = fmax(worst, fabs(a[i * dim + j] - b[i * dim + j]) /
                                                fmax(fabs(b[i * dim + j]), 1e-30));
                    ck_assert_msg(memcmp(a + i * dim, b + i * dim, sizeof(float) * dim) == 0,
                                  "dim %d target %d row %d (class %d, t %g): not the "
                                  "Gaussian's bits", dim, what, i, k, t[i]);
                }
            cem_model_free(g);
        }
        ck_assert_int_eq(cem_model_eval(m, (cem_target)what, N, x, t, b), CEM_OK);
        for (int i = 0; i < N; i++)
            if (lab[i] == CEM_LABEL_NONE)
                ck_assert(memcmp(a + i * dim, b + i * dim, sizeof(float) * dim) == 0);
        /* labels NULL is cem_model_eval */
        ck_assert_int_eq(cem_model_eval_labelled(m, (cem_target)what, N, x, t, NULL, a), CEM_OK);
        ck_assert(memcmp(a, b, sizeof(float) * N * dim) == 0);
    }
    note(dim == 2 ? "mixture class k vs Gaussian k (2-D), max rel diff"
                  : "mixture class k vs Gaussian k (5-D), max rel diff", worst);
    cem_model_free(m);
}

START_TEST(mixture_classes_are_components)
{
    check_classes_are_components(3, 2, MIX_W, MIX_MEAN, MIX_COV);
    enum { K = 4, DIM = 5 };
    static float mean[K * DIM], cov[K * DIM * DIM];
    const double w[K] = {1, 0.5, 2, 0.25};
    for (int k = 0; k < K; k++) {
        double C[256], mu[16];
        spd(DIM, k % 2 ? 2 : DIM, 40 + (uint64_t)k, C, mu, cov + k * DIM * DIM, mean + k * DIM);
    }
    check_classes_are_components(K, DIM, w, mean, cov);
    check_classes_are_components(K, DIM, NULL, mean, cov);
}
END_TEST

/* (c) K points as components of covariance 0 are the labelled empirical
 * model of the points (one a class): unconditionally with equal weights,
 * and class by class, in every target, t from 1e-3 to 10. */
START_TEST(mixture_of_points_is_empirical)
{
    enum { K = 6, DIM = 3, NT = 9, NP = 30, N = NT * NP };
    static float P[K * DIM], cov[K * DIM * DIM], x[N * DIM], a[N * DIM], b[N * DIM];
    static double t[N];
    static int lab[N], plab[K];
    cemi_rng r;
    cemi_rng_init(&r, 12, 0);
    for (int i = 0; i < K * DIM; i++)
        P[i] = (float)cemi_rng_normal(&r);
    for (int k = 0; k < K; k++)
        plab[k] = k;
    cem_model_t *mix, *emp;
    ck_assert_int_eq(cem_model_create_mixture(&mix, K, NULL, P, cov, DIM), CEM_OK);
    ck_assert_int_eq(cem_model_create_empirical_labelled(&emp, P, plab, K, DIM), CEM_OK);
    for (int s = 0; s < NT; s++)
        for (int i = 0; i < NP; i++) {
            const int q = s * NP + i;
            t[q] = 1e-3 * pow(1e4, (double)s / (NT - 1));
            lab[q] = i % (K + 1) - 1;
            mixture_probes(&r, K, P, DIM, t[q], 1, x + q * DIM);
        }
    double worst[2] = {0, 0};
    for (int what = 0; what < 3; what++)
        for (int labelled = 0; labelled < 2; labelled++) {
            const int *l = labelled ? lab : NULL;
            ck_assert_int_eq(cem_model_eval_labelled(mix, (cem_target)what, N, x, t, l, a), 0);
            ck_assert_int_eq(cem_model_eval_labelled(emp, (cem_target)what, N, x, t, l, b), 0);
            for (int q = 0; q < N; q++) {
                double want[DIM];
                for (int j = 0; j < DIM; j++)
                    want[j] = b[q * DIM + j];
                const double e = row_err(a + q * DIM, want, DIM);
                const int cls = labelled && lab[q] != CEM_LABEL_NONE;
                ck_assert_msg(e < 1e-6, "target %d row %d (label %d, t %g): relative error %g",
                              what, q, labelled ? lab[q] : -1, t[q], e);
                worst[cls] = fmax(worst[cls], e);
                if (cls && what == CEM_TARGET_CEM) /* the point itself, exactly */
                    ck_assert(memcmp(a + q * DIM, P + lab[q] * DIM, sizeof(float) * DIM) == 0);
            }
        }
    note("mixture of points vs labelled empirical, unconditional", worst[0]);
    note("mixture of points vs labelled empirical, per class", worst[1]);
    cem_model_free(mix);
    cem_model_free(emp);
}
END_TEST

/* The flow through the mixture's Jacobian products (T = 40: the prior is
 * exact to 1e-9; tolerances 1e-9): (d) one component is the Gaussian
 * model; two components in R^1 and three in R^2 (one singular) against
 * the exact log-density of the mixture at t_1, log sum_k pi_k
 * N(x; alpha m_k, alpha^2 C_k + sigma^2 I). */
static cem_flow_t *mixture_flow(cem_model_t *m, double t1)
{
    cem_flow_t *f;
    ck_assert_int_eq(cem_flow_create(&f, m), CEM_OK);
    ck_assert_int_eq(cem_flow_set(f, CEM_FLOW_THREADS, 1), CEM_OK);
    ck_assert_int_eq(cem_flow_set(f, CEM_FLOW_T_MIN, t1), CEM_OK);
    ck_assert_int_eq(cem_flow_set(f, CEM_FLOW_T_MAX, 40.0), CEM_OK);
    ck_assert_int_eq(cem_flow_set(f, CEM_FLOW_RTOL, 1e-9), CEM_OK);
    ck_assert_int_eq(cem_flow_set(f, CEM_FLOW_ATOL, 1e-9), CEM_OK);
    return f;
}

START_TEST(mixture_flow_logprob)
{
    enum { n = 12 };
    double lp[n], lq[n];
    float x[n * 16];
    cemi_rng r;
    cemi_rng_init(&r, 5, 9);
    /* one component: the Gaussian model's log p */
    {
        enum { DIM = 4 };
        double C[256], mu[16];
        float Cf[DIM * DIM], muf[DIM];
        spd(DIM, 2, 8, C, mu, Cf, muf);
        cem_model_t *mix, *g;
        ck_assert_int_eq(cem_model_create_mixture(&mix, 1, NULL, muf, Cf, DIM), CEM_OK);
        ck_assert_int_eq(cem_model_create_gaussian(&g, muf, Cf, DIM), CEM_OK);
        double worst = 0;
        for (int a = 0; a < 2; a++) {
            const double t1 = a ? 1e-3 : 0.1;
            mixture_probes(&r, 1, muf, DIM, t1, n, x);
            cem_flow_t *fm = mixture_flow(mix, t1), *fg = mixture_flow(g, t1);
            ck_assert_int_eq(cem_flow_logprob(fm, n, x, lp, NULL), CEM_OK);
            ck_assert_int_eq(cem_flow_logprob(fg, n, x, lq, NULL), CEM_OK);
            for (int i = 0; i < n; i++) {
                ck_assert_msg(fabs(lp[i] - lq[i]) <= 1e-6, "t1 %g row %d: %.10f, Gaussian %.10f",
                              t1, i, lp[i], lq[i]);
                worst = fmax(worst, fabs(lp[i] - lq[i]));
            }
            cem_flow_free(fm);
            cem_flow_free(fg);
        }
        note("flow log p, 1-component mixture vs Gaussian (abs)", worst);
        cem_model_free(mix);
        cem_model_free(g);
    }
    /* two components in R^1 */
    {
        const double w[2] = {0.3, 0.7};
        const float mean[2] = {-1.5f, 2.0f}, var[2] = {0.25f, 0.64f};
        cem_model_t *mix;
        ck_assert_int_eq(cem_model_create_mixture(&mix, 2, w, mean, var, 1), CEM_OK);
        double worst = 0;
        for (int a = 0; a < 2; a++) {
            const double t1 = a ? 1e-3 : 0.05;
            const long double al = expl(-(long double)t1 / 2), s2 = -expm1l(-(long double)t1);
            mixture_probes(&r, 2, mean, 1, t1, n, x);
            x[0] = 0.25f; /* between the modes */
            cem_flow_t *f = mixture_flow(mix, t1);
            ck_assert_int_eq(cem_flow_logprob(f, n, x, lp, NULL), CEM_OK);
            for (int i = 0; i < n; i++) {
                long double p = 0;
                for (int k = 0; k < 2; k++) {
                    const long double v = al * al * var[k] + s2, d = x[i] - al * mean[k];
                    p += w[k] * expl(-d * d / (2 * v)) / sqrtl(2 * 3.14159265358979323846L * v);
                }
                const double want = (double)logl(p);
                ck_assert_msg(fabs(lp[i] - want) <= 1e-4, "1-D t1 %g row %d (x %g): flow %.8f, "
                              "exact %.8f", t1, i, (double)x[i], lp[i], want);
                worst = fmax(worst, fabs(lp[i] - want));
            }
            cem_flow_free(f);
        }
        note("flow log p, 2-component 1-D mixture vs exact (abs)", worst);
        cem_model_free(mix);
    }
    /* three components in R^2, one singular */
    {
        cem_model_t *mix;
        ck_assert_int_eq(cem_model_create_mixture(&mix, 3, MIX_W, MIX_MEAN, MIX_COV, 2), CEM_OK);
        double worst = 0;
        for (int a = 0; a < 2; a++) {
            const double t1 = a ? 1e-2 : 0.2;
            const long double al = expl(-(long double)t1 / 2), s2 = -expm1l(-(long double)t1);
            mixture_probes(&r, 3, MIX_MEAN, 2, t1, n, x);
            cem_flow_t *f = mixture_flow(mix, t1);
            ck_assert_int_eq(cem_flow_logprob(f, n, x, lp, NULL), CEM_OK);
            for (int i = 0; i < n; i++) {
                long double p = 0;
                for (int k = 0; k < 3; k++) {
                    const float *C = MIX_COV + 4 * k, *mk = MIX_MEAN + 2 * k;
                    const long double A = al * al * C[0] + s2, B = al * al * C[1],
                                      D2 = al * al * C[3] + s2, det = A * D2 - B * B;
                    const long double d0 = x[2 * i] - al * mk[0], d1 = x[2 * i + 1] - al * mk[1];
                    const long double q = (D2 * d0 * d0 - 2 * B * d0 * d1 + A * d1 * d1) / det;
                    p += MIX_W[k] / 10 * expl(-q / 2) /
                         (2 * 3.14159265358979323846L * sqrtl(det));
                }
                const double want = (double)logl(p);
                ck_assert_msg(fabs(lp[i] - want) <= 1e-4, "2-D t1 %g row %d: flow %.8f, exact "
                              "%.8f", t1, i, lp[i], want);
                worst = fmax(worst, fabs(lp[i] - want));
            }
            cem_flow_free(f);
        }
        note("flow log p, 3-component 2-D mixture vs exact (abs)", worst);
        cem_model_free(mix);
    }
}
END_TEST

/* The kind's Jacobian products against central differences of its own f
 * (the jvp's f, in double), at three times; a row's f and J v are bitwise
 * the same alone as among others. */
START_TEST(mixture_jvp_matches_differences)
{
    enum { K = 3, DIM = 3, n = 8, NT = 2 };
    static float mean[K * DIM], cov[K * DIM * DIM];
    for (int k = 0; k < K; k++) {
        double C[256], mu[16];
        spd(DIM, k == 1 ? 1 : DIM, 60 + (uint64_t)k, C, mu, cov + k * DIM * DIM,
            mean + k * DIM);
    }
    const double w[K] = {0.2, 0.5, 0.3};
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_mixture(&m, K, w, mean, cov, DIM), CEM_OK);
    void *ws = malloc(m->ops->jvp_workspace(m, n, NT));
    void *ws1 = malloc(m->ops->jvp_workspace(m, 2, NT)); /* 1 row, or 2 without tangents */
    double x[n * DIM], t[n], V[NT * n * DIM], f[n * DIM], JV[NT * n * DIM];
    cemi_rng r;
    cemi_rng_init(&r, 3, 3);
    static const double ts[3] = {0.05, 0.5, 2.0};
    double worst = 0;
    for (int s = 0; s < 3; s++) {
        float xf[n * DIM];
        mixture_probes(&r, K, mean, DIM, ts[s], n, xf);
        for (int i = 0; i < n * DIM; i++)
            x[i] = xf[i];
        for (int i = 0; i < n; i++)
            t[i] = ts[s] * (1 + 0.1 * i);
        for (int i = 0; i < NT * n * DIM; i++)
            V[i] = cemi_rng_normal(&r);
        m->ops->jvp(m, n, x, t, NT, V, f, JV, ws, NULL);
        for (int i = 0; i < n; i++) {
            /* central differences along each tangent, row i alone */
            for (int k = 0; k < NT; k++) {
                const double h = 1e-5;
                const double *v = V + ((size_t)k * n + i) * DIM;
                double xp[2 * DIM], fp[2 * DIM], dummy[2 * DIM], tt[2] = {t[i], t[i]};
                for (int j = 0; j < DIM; j++) {
                    xp[j] = x[i * DIM + j] + h * v[j];
                    xp[DIM + j] = x[i * DIM + j] - h * v[j];
                }
                m->ops->jvp(m, 2, xp, tt, 0, NULL, fp, dummy, ws1, NULL);
                double scale = 0, err = 0;
                const double *jv = JV + ((size_t)k * n + i) * DIM;
                for (int j = 0; j < DIM; j++)
                    scale = fmax(scale, fabs(jv[j]));
                for (int j = 0; j < DIM; j++)
                    err = fmax(err, fabs((fp[j] - fp[DIM + j]) / (2 * h) - jv[j]) /
                                        fmax(scale, 1e-3));
                ck_assert_msg(err < 1e-6, "t %g row %d tangent %d: error %g", t[i], i, k, err);
                worst = fmax(worst, err);
            }
            /* the row alone, with its own tangents: the same bits */
            double v1[NT * DIM], f1[DIM], jv1[NT * DIM];
            for (int k = 0; k < NT; k++)
                memcpy(v1 + k * DIM, V + ((size_t)k * n + i) * DIM, sizeof(double) * DIM);
            m->ops->jvp(m, 1, x + i * DIM, t + i, NT, v1, f1, jv1, ws1, NULL);
            ck_assert(memcmp(f1, f + i * DIM, sizeof f1) == 0);
            for (int k = 0; k < NT; k++)
                ck_assert(memcmp(jv1 + k * DIM, JV + ((size_t)k * n + i) * DIM,
                                 sizeof(double) * DIM) == 0);
            /* and its f is what eval gives (in float) */
            float o[DIM];
            ck_assert_int_eq(cem_model_eval(m, CEM_TARGET_CEM, 1, xf + i * DIM, t + i, o), 0);
            for (int j = 0; j < DIM; j++)
                ck_assert(o[j] == (float)f[i * DIM + j]);
        }
    }
    note("mixture J v vs central differences (rel)", worst);
    free(ws);
    free(ws1);
    cem_model_free(m);
}
END_TEST

/* Weights: NULL is equal weights; scaled weights are the same model
 * (bitwise for powers of two), also at 1e300 (no overflow); a far point at
 * a tiny time, where every component's quadratic form overflows, still
 * has an answer (the limit t -> 0: the nearest component). */
START_TEST(mixture_weights_and_limits)
{
    enum { N = 64 };
    float x[N * 2], a[N * 2], b[N * 2];
    double t[N];
    cemi_rng r;
    cemi_rng_init(&r, 2, 2);
    for (int i = 0; i < N; i++)
        t[i] = 1e-3 * pow(1e4, cemi_rng_uniform(&r));
    mixture_probes(&r, 3, MIX_MEAN, 2, 0.5, N, x);
    const double ones[3] = {1, 1, 1}, w4[3] = {20, 12, 8}, big[3] = {5e300, 3e300, 2e300};
    const double tiny[3] = {5e-300, 3e-300, 2e-300};
    cem_model_t *m1, *m2;
    ck_assert_int_eq(cem_model_create_mixture(&m1, 3, NULL, MIX_MEAN, MIX_COV, 2), CEM_OK);
    ck_assert_int_eq(cem_model_create_mixture(&m2, 3, ones, MIX_MEAN, MIX_COV, 2), CEM_OK);
    ck_assert_int_eq(cem_model_eval(m1, CEM_TARGET_SCORE, N, x, t, a), CEM_OK);
    ck_assert_int_eq(cem_model_eval(m2, CEM_TARGET_SCORE, N, x, t, b), CEM_OK);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    cem_model_free(m1);
    cem_model_free(m2);
    ck_assert_int_eq(cem_model_create_mixture(&m1, 3, MIX_W, MIX_MEAN, MIX_COV, 2), CEM_OK);
    ck_assert_int_eq(cem_model_eval(m1, CEM_TARGET_SCORE, N, x, t, a), CEM_OK);
    ck_assert_int_eq(cem_model_create_mixture(&m2, 3, w4, MIX_MEAN, MIX_COV, 2), CEM_OK);
    ck_assert_int_eq(cem_model_eval(m2, CEM_TARGET_SCORE, N, x, t, b), CEM_OK);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    cem_model_free(m2);
    for (int s = 0; s < 2; s++) {
        ck_assert_int_eq(cem_model_create_mixture(&m2, 3, s ? tiny : big, MIX_MEAN, MIX_COV, 2),
                         CEM_OK);
        ck_assert_int_eq(cem_model_eval(m2, CEM_TARGET_SCORE, N, x, t, b), CEM_OK);
        for (int i = 0; i < N; i++) {
            double want[2] = {a[2 * i], a[2 * i + 1]};
            ck_assert_double_lt(row_err(b + 2 * i, want, 2), 1e-6);
        }
        cem_model_free(m2);
    }
    cem_model_free(m1);
    /* two points, and x 2e4 off both at t = 1e-300: |x - m|^2 / sigma^2
     * overflows for both; f is the nearer point, S is beyond float */
    const float pts[4] = {0, 0, 10, 0}, zero[8] = {0}, far[2] = {2e4f, 0};
    ck_assert_int_eq(cem_model_create_mixture(&m1, 2, NULL, pts, zero, 2), CEM_OK);
    float f[2];
    ck_assert_int_eq(cem_model_eval_at(m1, CEM_TARGET_CEM, 1, far, 1e-300, f), CEM_OK);
    ck_assert(f[0] == 10.0f && f[1] == 0.0f);
    ck_assert_int_eq(cem_model_eval_at(m1, CEM_TARGET_SCORE, 1, far, 1e-300, f),
                     CEM_ERR_NUMERIC);
    ck_assert_int_eq(cem_model_eval_at(m1, CEM_TARGET_CEM, 1, far, 1e-3, f), CEM_OK);
    ck_assert(f[0] == 10.0f && f[1] == 0.0f);
    cem_model_free(m1);
}
END_TEST

/* Reads the status and expects *m (the call's *out) NULL and a message naming the
 * function and containing `needle`. */
static void expect_mixture_error(int st, int want, cem_model_t *const *m, const char *needle)
{
    ck_assert_msg(st == want, "status %d, want %d (%s)", st, want, cem_last_error());
    ck_assert_ptr_null(*m);
    ck_assert_msg(strstr(cem_last_error(), "cem_model_create_mixture") &&
                      strstr(cem_last_error(), needle),
                  "message '%s' lacks '%s'", cem_last_error(), needle);
}

/* (e) Every refusal of cem_model_create_mixture; the options of a mixture;
 * the labels evaluation refuses. */
START_TEST(mixture_rejects_bad_arguments)
{
    float mean[3 * 2], cov[3 * 4];
    double w[3];
    cem_model_t *m = (cem_model_t *)&m;
#define RESET()                                          \
    do {                                                 \
        memcpy(mean, MIX_MEAN, sizeof mean);             \
        memcpy(cov, MIX_COV, sizeof cov);                \
        memcpy(w, MIX_W, sizeof w);                      \
        m = (cem_model_t *)&m;                           \
    } while (0)
    RESET();
    ck_assert_int_eq(cem_model_create_mixture(NULL, 3, w, mean, cov, 2), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "out is NULL"));
    expect_mixture_error(cem_model_create_mixture(&m, 0, w, mean, cov, 2), CEM_ERR_ARG, &m,
                         "K = 0");
    RESET();
    expect_mixture_error(cem_model_create_mixture(&m, 1025, NULL, mean, cov, 2), CEM_ERR_ARG, &m,
                         "K = 1025");
    RESET();
    expect_mixture_error(cem_model_create_mixture(&m, -1, w, mean, cov, 2), CEM_ERR_ARG, &m,
                         "K = -1");
    RESET();
    expect_mixture_error(cem_model_create_mixture(&m, 3, w, mean, cov, 0), CEM_ERR_ARG, &m,
                         "dim = 0");
    RESET();
    expect_mixture_error(cem_model_create_mixture(&m, 3, w, mean, cov, 4097), CEM_ERR_ARG, &m,
                         "dim = 4097");
    RESET();
    expect_mixture_error(cem_model_create_mixture(&m, 3, w, NULL, cov, 2), CEM_ERR_ARG, &m,
                         "means");
    RESET();
    expect_mixture_error(cem_model_create_mixture(&m, 3, w, mean, NULL, 2), CEM_ERR_ARG, &m,
                         "covs");
    RESET();
    /* 17 components of dim 4096 would be 17 x 2^24 > 2^28 doubles (not read) */
    expect_mixture_error(cem_model_create_mixture(&m, 17, NULL, mean, cov, 4096), CEM_ERR_ARG,
                         &m, "2^28");
    RESET();
    const double badw[4] = {0.0, -1.0, NAN, INFINITY};
    for (int i = 0; i < 4; i++) {
        RESET();
        w[1] = badw[i];
        expect_mixture_error(cem_model_create_mixture(&m, 3, w, mean, cov, 2), CEM_ERR_ARG, &m,
                             "weights[1]");
        ck_assert_ptr_nonnull(strstr(cem_last_error(), "component 1"));
    }
    RESET();
    mean[2 * 2 + 1] = NAN;
    expect_mixture_error(cem_model_create_mixture(&m, 3, w, mean, cov, 2), CEM_ERR_NONFINITE, &m,
                         "component 2: mean row 0 column 1 is nan");
    RESET();
    cov[4 + 3] = -INFINITY;
    expect_mixture_error(cem_model_create_mixture(&m, 3, w, mean, cov, 2), CEM_ERR_NONFINITE, &m,
                         "component 1: cov row 1 column 1 is -inf");
    RESET();
    cov[4 * 2 + 2] = 0.2f; /* component 2: -0.2 above the diagonal, 0.2 below */
    expect_mixture_error(cem_model_create_mixture(&m, 3, w, mean, cov, 2), CEM_ERR_NUMERIC, &m,
                         "component 2: cov is not symmetric");
    RESET();
    cov[0] = 0.1f; /* component 0: det 0.1 x 0.2 - 0.3^2 < 0, eigenvalue -0.15 */
    cov[1] = cov[2] = 0.3f;
    expect_mixture_error(cem_model_create_mixture(&m, 3, w, mean, cov, 2), CEM_ERR_NUMERIC, &m,
                         "component 0: cov is not positive semi-definite");
#undef RESET
    /* a mixture's options: LABELS reads K, the MLP's options are not its own */
    ck_assert_int_eq(cem_model_create_mixture(&m, 3, MIX_W, MIX_MEAN, MIX_COV, 2), CEM_OK);
    double v;
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_LABELS, &v), CEM_OK);
    ck_assert(v == 3);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABELS, 4), CEM_ERR_UNSUPPORTED);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 16), CEM_ERR_UNSUPPORTED);
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_WIDTH, &v), CEM_ERR_UNSUPPORTED);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MIN, 1e-4), CEM_OK);
    ck_assert_int_eq(cem_model_target_of(m), CEM_TARGET_CEM);
    ck_assert_uint_eq(cem_model_param_count(m), 0);
    const float x[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    const double t[2] = {0.1, 0.2};
    float out[4];
    const int lab_hi[2] = {0, 3}, lab_lo[2] = {-2, 0};
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, 2, x, t, lab_hi, out),
                     CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "labels[1] = 3 is outside [-1, 3)"));
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, 2, x, t, lab_lo, out),
                     CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "labels[0] = -2"));
    /* evaluation is const: the model keeps the failed set's message */
    ck_assert_ptr_nonnull(strstr(cem_model_errmsg(m), "CEM_MODEL_WIDTH"));
    cem_model_free(m);
}
END_TEST

/* ------------------------------------------------------------ labelled empirical */

/* (f) The labelled empirical model: class k is cem_model_create_empirical
 * of the class's points alone, unconditionally it is the model of all the
 * points; LABELS reads K; its refusals. */
START_TEST(labelled_empirical_classes)
{
    enum { n = 90, DIM = 2, K = 4, NQ = 120 };
    static float P[n * DIM], Pk[n * DIM], x[NQ * DIM], a[NQ * DIM], b[NQ * DIM];
    static int lab[n], qlab[NQ];
    static double t[NQ];
    cemi_rng r;
    cemi_rng_init(&r, 21, 0);
    for (int i = 0; i < n; i++) {
        lab[i] = (int)(cemi_rng_uniform(&r) * K) % K;
        lab[i] = i < K ? i : lab[i]; /* every class has a point */
        P[i * DIM] = (float)(lab[i] + 0.3 * cemi_rng_normal(&r));
        P[i * DIM + 1] = (float)(lab[i] % 2 + 0.3 * cemi_rng_normal(&r));
    }
    for (int q = 0; q < NQ; q++) {
        t[q] = 1e-3 * pow(1e4, cemi_rng_uniform(&r));
        qlab[q] = q % (K + 1) - 1;
        const int i = (int)(cemi_rng_uniform(&r) * n) % n;
        for (int j = 0; j < DIM; j++)
            x[q * DIM + j] = (float)(P[i * DIM + j] + 0.3 * cemi_rng_normal(&r));
    }
    cem_model_t *m, *all;
    ck_assert_int_eq(cem_model_create_empirical_labelled(&m, P, lab, n, DIM), CEM_OK);
    ck_assert_int_eq(cem_model_create_empirical(&all, P, n, DIM), CEM_OK);
    double v;
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_LABELS, &v), CEM_OK);
    ck_assert(v == K);
    ck_assert_int_eq(cem_model_get(all, CEM_MODEL_LABELS, &v), CEM_OK);
    ck_assert(v == 0);
    ck_assert_int_eq(cem_model_kind_of(m), CEM_KIND_EMPIRICAL);
    double worst = 0;
    for (int what = 0; what < 3; what++) {
        ck_assert_int_eq(cem_model_eval_labelled(m, (cem_target)what, NQ, x, t, qlab, a), 0);
        ck_assert_int_eq(cem_model_eval(all, (cem_target)what, NQ, x, t, b), CEM_OK);
        for (int q = 0; q < NQ; q++)
            if (qlab[q] == CEM_LABEL_NONE)
                ck_assert(memcmp(a + q * DIM, b + q * DIM, sizeof(float) * DIM) == 0);
        for (int k = 0; k < K; k++) {
            size_t nk = 0;
            for (int i = 0; i < n; i++)
                if (lab[i] == k) {
                    memcpy(Pk + nk * DIM, P + i * DIM, sizeof(float) * DIM);
                    nk++;
                }
            cem_model_t *mk;
            ck_assert_int_eq(cem_model_create_empirical(&mk, Pk, nk, DIM), CEM_OK);
            ck_assert_int_eq(cem_model_eval(mk, (cem_target)what, NQ, x, t, b), CEM_OK);
            for (int q = 0; q < NQ; q++)
                if (qlab[q] == k) {
                    double want[DIM] = {b[q * DIM], b[q * DIM + 1]};
                    const double e = row_err(a + q * DIM, want, DIM);
                    ck_assert_msg(e < 1e-6, "target %d row %d class %d: %g", what, q, k, e);
                    worst = fmax(worst, e);
                }
            cem_model_free(mk);
        }
    }
    note("labelled empirical class k vs empirical of class k (rel)", worst);
    /* refusals: a label outside [-1, K) at evaluation, a class without
     * points, a negative label, labels NULL */
    const int hi[2] = {1, K}, lo[2] = {-2, 0};
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, 2, x, t, hi, a), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "labels[1] = 4 is outside [-1, 4)"));
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, 2, x, t, lo, a), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_eval_labelled(all, CEM_TARGET_CEM, 2, x, t, hi, a), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "CEM_MODEL_LABELS = 0"));
    const int none[2] = {CEM_LABEL_NONE, CEM_LABEL_NONE};
    ck_assert_int_eq(cem_model_eval_labelled(all, CEM_TARGET_CEM, 2, x, t, none, a), CEM_OK);
    cem_model_free(m);
    cem_model_free(all);
    cem_model_t *e = (cem_model_t *)&e;
    const int gap[4] = {0, 2, 2, 0}, neg[4] = {0, 1, -1, 1};
    ck_assert_int_eq(cem_model_create_empirical_labelled(&e, P, gap, 4, DIM), CEM_ERR_ARG);
    ck_assert_ptr_null(e);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "class 1 has no point"));
    e = (cem_model_t *)&e;
    ck_assert_int_eq(cem_model_create_empirical_labelled(&e, P, neg, 4, DIM), CEM_ERR_ARG);
    ck_assert_ptr_null(e);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "labels[2] = -1"));
    e = (cem_model_t *)&e;
    ck_assert_int_eq(cem_model_create_empirical_labelled(&e, P, NULL, 4, DIM), CEM_ERR_ARG);
    ck_assert_ptr_null(e);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "labels is NULL"));
    e = (cem_model_t *)&e;
    float Pbad[8];
    memcpy(Pbad, P, sizeof Pbad);
    Pbad[5] = NAN;
    ck_assert_int_eq(cem_model_create_empirical_labelled(&e, Pbad, gap + 0, 1, DIM), CEM_OK);
    cem_model_free(e);
    e = (cem_model_t *)&e;
    const int four[4] = {0, 1, 2, 3};
    ck_assert_int_eq(cem_model_create_empirical_labelled(&e, Pbad, four, 4, DIM),
                     CEM_ERR_NONFINITE);
    ck_assert_ptr_null(e);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "row 2"));
}
END_TEST

/* ------------------------------------------------------------ MLP: PRECOND */

/* A small MLP (2 x 32, 8 time features) of the given target. */
static cem_model_t *small_mlp(int dim, cem_target target)
{
    cem_model_t *m = NULL;
    ck_assert_int_eq(cem_model_create_mlp(&m, dim, target), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 32), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_DEPTH, 2), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_EMBED, 8), CEM_OK);
    return m;
}

/* ------------------------------------------------------------ MLP: PRECOND_PCA */

/* A rotation of R^3 (rows orthonormal) and a covariance with sds 1.2,
 * 0.5 and 0 along its rows: the third direction is empty, so the model
 * uses the floor 1e-3 sd there (cemdiff.h). */
static void pca_fixture(double U[9], double cov[9], double axis_sd[3])
{
    const double a = 0.6, b = -0.8, c = 0.48, d = 0.36;
    const double R[9] = {a, b, 0, c, d, -0.8, 0.64, 0.48, 0.6};
    const double s[3] = {1.2, 0.5, 0};
    memcpy(U, R, sizeof R);
    memcpy(axis_sd, s, sizeof s);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double v = 0;
            for (int k = 0; k < 3; k++)
                v += R[k * 3 + i] * s[k] * s[k] * R[k * 3 + j];
            cov[i * 3 + j] = v;
        }
}

/* cem_model_set_data_cov recovers the axes and sds of a known covariance
 * (the sign rule: each axis's largest component positive), sd is
 * sqrt(trace / dim), and PRECOND_PCA's f is the header's formula, written
 * out in double with F from a DIRECT twin holding the same weights:
 * f = mu + sum_k u_k (c_skip(sd_k) v_k + c_out(sd_k) F_k(g c_in v, t)),
 * v_k = u_k . (y - mu), c_in of the overall sd, sd_k >= 1e-3 sd. */
START_TEST(precond_pca_matches_the_formula)
{
    enum { D = 3, NT = 12, NX = 10, n = NT * NX };
    static float x[n * D], u[n * D], F[n * D], fp[n * D], fa[n * D];
    static double t[n], want[n * D], scale[n * D];
    double U[9], cov[9], asd[3], gU[9], gsd[3], gm[3], sd;
    pca_fixture(U, cov, asd);
    const double mu[D] = {0.4, -1.0, 2.0};
    cem_model_t *mp = small_mlp(D, CEM_TARGET_CEM), *md = small_mlp(D, CEM_TARGET_CEM);
    ck_assert_int_eq(cem_model_set(mp, CEM_MODEL_PARAM, CEM_PARAM_PRECOND_PCA), CEM_OK);
    ck_assert_int_eq(cem_model_set(md, CEM_MODEL_PARAM, CEM_PARAM_DIRECT), CEM_OK);
    ck_assert_int_eq(cem_model_set_data_cov(mp, mu, cov), CEM_OK);
    ck_assert_int_eq(cem_model_get_data_stats(mp, gm, &sd), CEM_OK);
    ck_assert_double_eq_tol(sd, sqrt((1.44 + 0.25) / 3), 1e-12);
    ck_assert_int_eq(cem_model_get_data_axes(mp, gU, gsd), CEM_OK);
    for (int k = 0; k < D; k++) {
        ck_assert_double_eq_tol(gsd[k], asd[k], 1e-7); /* sqrt of a rounded 0 */
        double sign = 0, big = 0;
        for (int j = 0; j < D; j++)
            if (fabs(U[k * 3 + j]) > big)
                big = fabs(U[k * 3 + j]), sign = U[k * 3 + j] < 0 ? -1 : 1;
        for (int j = 0; j < D; j++)
            ck_assert_double_eq_tol(gU[k * 3 + j], sign * U[k * 3 + j], 1e-9);
    }
    size_t np = cem_model_param_count(mp);
    float *p = malloc(4 * np);
    ck_assert_int_eq(cem_model_get_params(mp, 0, p, np), CEM_OK);
    for (size_t k = 0; k < np; k++)
        p[k] *= 3.0f;
    ck_assert_int_eq(cem_model_set_params(mp, 2, p, np), CEM_OK);
    ck_assert_int_eq(cem_model_set_params(md, 2, p, np), CEM_OK);
    cemi_rng r;
    cemi_rng_init(&r, 23, 0);
    for (int a = 0; a < NT; a++)
        for (int i = 0; i < NX; i++) {
            int k = a * NX + i;
            t[k] = 1e-4 * pow(1e5, (double)a / (NT - 1));
            double al = exp(-t[k] / 2);
            for (int j = 0; j < D; j++)
                x[k * D + j] = (float)(al * (mu[j] + sd * cemi_rng_normal(&r)) +
                                       sqrt(-expm1(-t[k])) * cemi_rng_normal(&r));
        }
    static double v[n * D];
    for (int k = 0; k < n; k++) {
        double s2 = expm1(t[k]), al = exp(-t[k] / 2);
        double cin = 1.0 / sqrt(s2 + sd * sd); /* g = max(1, sqrt(8 / 6)) */
        double g = sqrt(8.0 / (2 * D));
        for (int a = 0; a < D; a++) {
            double s = 0;
            for (int j = 0; j < D; j++)
                s += gU[a * 3 + j] * ((double)x[k * D + j] / al - mu[j]);
            v[k * D + a] = s;
            u[k * D + a] = (float)(g * cin * s);
        }
    }
    ck_assert_int_eq(cem_model_eval(md, CEM_TARGET_CEM, n, u, t, F), CEM_OK);
    for (int k = 0; k < n; k++) {
        double s2 = expm1(t[k]);
        for (int j = 0; j < D; j++)
            want[k * D + j] = mu[j], scale[k * D + j] = fabs(mu[j]);
        for (int a = 0; a < D; a++) {
            double sk = fmax(gsd[a], 1e-3 * sd), v2 = s2 + sk * sk;
            double g_a = sk * sk / v2 * v[k * D + a] + sqrt(s2) * sk / sqrt(v2) * F[k * D + a];
            for (int j = 0; j < D; j++) {
                want[k * D + j] += gU[a * 3 + j] * g_a;
                scale[k * D + j] += fabs(gU[a * 3 + j] * g_a);
            }
        }
    }
    ck_assert_int_eq(cem_model_eval(mp, CEM_TARGET_CEM, n, x, t, fp), CEM_OK);
    for (int a = 0; a < NT; a++)
        ck_assert_int_eq(cem_model_eval_at(mp, CEM_TARGET_CEM, NX, x + a * NX * D, t[a * NX],
                                           fa + a * NX * D), CEM_OK);
    double worst = 0, worst_at = 0;
    for (int k = 0; k < n * D; k++) {
        double den = fmax(scale[k], 1e-6);
        worst = fmax(worst, fabs(fp[k] - want[k]) / den);
        worst_at = fmax(worst_at, fabs(fa[k] - want[k]) / den);
    }
    ck_assert_msg(worst <= 1e-5 && worst_at <= 1e-5, "eval worst %g, eval_at %g", worst,
                  worst_at);
    free(p);
    cem_model_free(mp);
    cem_model_free(md);
}
END_TEST

/* Without axes (statistics from cem_model_set_data_stats, or none)
 * PRECOND_PCA is PRECOND: the same bits from the same weights.  Setting
 * one sd forgets the axes. */
START_TEST(precond_pca_without_axes_is_precond)
{
    enum { D = 3, n = 40 };
    static float x[n * D], a[n * D], b[n * D];
    static double t[n];
    double U[9], cov[9], asd[3], gU[9], gsd[3];
    pca_fixture(U, cov, asd);
    for (int k = 0; k < n; k++) {
        t[k] = 1e-3 * pow(1e4, k / (n - 1.0));
        for (int j = 0; j < D; j++)
            x[k * D + j] = (float)sin(1.0 + k * 0.7 + j);
    }
    const double mu[D] = {0.1, 0.2, -0.3};
    for (int stats = 0; stats <= 1; stats++) {
        cem_model_t *mp = small_mlp(D, CEM_TARGET_CEM), *mq = small_mlp(D, CEM_TARGET_CEM);
        ck_assert_int_eq(cem_model_set(mq, CEM_MODEL_PARAM, CEM_PARAM_PRECOND_PCA), CEM_OK);
        if (stats) {
            ck_assert_int_eq(cem_model_set_data_cov(mq, mu, cov), CEM_OK);
            ck_assert_int_eq(cem_model_set_data_stats(mq, mu, 0.8), CEM_OK); /* forgets */
            ck_assert_int_eq(cem_model_set_data_stats(mp, mu, 0.8), CEM_OK);
            ck_assert_int_eq(cem_model_get_data_axes(mq, gU, gsd), CEM_OK);
            for (int k = 0; k < D; k++) {
                ck_assert(gsd[k] == 0.8);
                for (int j = 0; j < D; j++)
                    ck_assert(gU[k * D + j] == (j == k));
            }
        }
        ck_assert_int_eq(cem_model_eval(mp, CEM_TARGET_CEM, n, x, t, a), CEM_OK);
        ck_assert_int_eq(cem_model_eval(mq, CEM_TARGET_CEM, n, x, t, b), CEM_OK);
        ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
        cem_model_free(mp);
        cem_model_free(mq);
    }
}
END_TEST

/* cem_model_set_data_cov refuses what is not a covariance, names it, and
 * leaves the model as it was; BUSY while a trainer holds the model. */
START_TEST(data_cov_arguments)
{
    enum { D = 3 };
    double U[9], cov[9], asd[3], bad[9], gm[3], gsd, gU[9], ax[3];
    pca_fixture(U, cov, asd);
    cem_model_t *m = small_mlp(D, CEM_TARGET_CEM);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_PRECOND_PCA), CEM_OK);
    const double mu[D] = {1, 2, 3};
    ck_assert_int_eq(cem_model_set_data_stats(m, mu, 0.5), CEM_OK);
    struct { int at; double v; const char *says; } cases[] = {
        {0, NAN, "not finite"}, {4, INFINITY, "not finite"}, {1, 5.0, "symmetric"},
        {-1, 0, "trace"}, {-2, 0, "semidefinite"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(bad, cov, sizeof bad);
        if (cases[c].at >= 0)
            bad[cases[c].at] = cases[c].v;
        else if (cases[c].at == -1)
            memset(bad, 0, sizeof bad);
        else /* eigenvalues 1, 1, -1 */
            for (int k = 0; k < 9; k++)
                bad[k] = k == 0 || k == 4 ? 1 : k == 8 ? -1 : 0;
        ck_assert_int_eq(cem_model_set_data_cov(m, NULL, bad), CEM_ERR_ARG);
        ck_assert_msg(strstr(cem_model_errmsg(m), cases[c].says), "%s", cem_model_errmsg(m));
        ck_assert_int_eq(cem_model_get_data_stats(m, gm, &gsd), CEM_OK);
        ck_assert(gsd == 0.5 && gm[2] == 3);
        ck_assert_int_eq(cem_model_get_data_axes(m, gU, ax), CEM_OK);
        ck_assert(ax[0] == 0.5 && gU[0] == 1 && gU[1] == 0);
    }
    ck_assert_int_eq(cem_model_set_data_cov(m, mu, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_set_data_cov(NULL, mu, cov), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_get_data_axes(NULL, gU, ax), CEM_ERR_ARG);
    const double nanmu[D] = {0, NAN, 0};
    ck_assert_int_eq(cem_model_set_data_cov(m, nanmu, cov), CEM_ERR_ARG);
    static float pts[64 * D];
    for (int i = 0; i < 64 * D; i++)
        pts[i] = (float)sin(0.37 * i);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, pts, 64, D), CEM_OK);
    ck_assert_int_eq(cem_model_set_data_cov(m, mu, cov), CEM_ERR_BUSY);
    cem_trainer_free(tr);
    ck_assert_int_eq(cem_model_set_data_cov(m, mu, cov), CEM_OK);
    cem_model_t *g;
    float P[D] = {0, 1, 2};
    ck_assert_int_eq(cem_model_create_empirical(&g, P, 1, D), CEM_OK);
    ck_assert_int_eq(cem_model_set_data_cov(g, mu, cov), CEM_ERR_UNSUPPORTED);
    ck_assert_int_eq(cem_model_get_data_axes(g, gU, ax), CEM_ERR_UNSUPPORTED);
    cem_model_free(g);
    cem_model_free(m);
}
END_TEST

/* The header's PRECOND formula written out in double, with the network F
 * taken from a DIRECT model that holds the same weights (so F is the raw
 * network on [u, phi(t)]): f = mu + c_skip (y - mu) + c_out F(g c_in (y - mu), t),
 * y = x / alpha, s^2 = expm1(t), g = max(1, sqrt(E / (2 D))) = sqrt(2) here.  The PRECOND model's f (cem_model_eval and
 * cem_model_eval_at, the shared-time path) must be that; its eps and S the
 * exact conversions of its f.  Once with statistics set, once without them
 * (mu = 0, sd = 1 then). */
START_TEST(precond_wiring_matches_the_formula)
{
    enum { D = 2, NT = 15, NX = 12, n = NT * NX };
    static float x[n * D], u[n * D], F[n * D], fp[n * D], fa[n * D], tgt[n * D], conv[n * D];
    static double t[n], want[n * D], scale[n * D];
    for (int stats = 0; stats <= 1; stats++) {
        cem_model_t *mp = small_mlp(D, CEM_TARGET_CEM), *md = small_mlp(D, CEM_TARGET_CEM);
        double v;
        ck_assert_int_eq(cem_model_get(mp, CEM_MODEL_PARAM, &v), CEM_OK);
        ck_assert(v == CEM_PARAM_PRECOND_PCA); /* the default for a CEM model: with
                                                 * one sd (no axes) it is PRECOND */
        ck_assert_int_eq(cem_model_set(md, CEM_MODEL_PARAM, CEM_PARAM_DIRECT), CEM_OK);
        size_t np = cem_model_param_count(mp);
        ck_assert_uint_eq(np, cem_model_param_count(md));
        float *p = malloc(4 * np);
        ck_assert_int_eq(cem_model_get_params(mp, 0, p, np), CEM_OK);
        for (size_t k = 0; k < np; k++) /* larger weights: F of order 1 */
            p[k] *= 3.0f;
        ck_assert_int_eq(cem_model_set_params(mp, 2, p, np), CEM_OK);
        ck_assert_int_eq(cem_model_set_params(md, 2, p, np), CEM_OK);
        double mu[D] = {0, 0}, sd = 1;
        if (stats) {
            mu[0] = 0.3, mu[1] = -0.2, sd = 0.7;
            ck_assert_int_eq(cem_model_set_data_stats(mp, mu, sd), CEM_OK);
        }
        cemi_rng r;
        cemi_rng_init(&r, 17, (uint64_t)stats);
        for (int a = 0; a < NT; a++)
            for (int i = 0; i < NX; i++) {
                int k = a * NX + i;
                t[k] = 1e-4 * pow(1e5, (double)a / (NT - 1));
                double al = exp(-t[k] / 2);
                for (int j = 0; j < D; j++) /* around the noised data */
                    x[k * D + j] = (float)(al * (mu[j] + sd * cemi_rng_normal(&r)) +
                                           sqrt(-expm1(-t[k])) * cemi_rng_normal(&r));
            }
        for (int k = 0; k < n; k++) {
            double s2 = expm1(t[k]), al = exp(-t[k] / 2);
            double cin = sqrt(8.0 / (2 * D)) / sqrt(s2 + sd * sd); /* E = 8 */
            for (int j = 0; j < D; j++)
                u[k * D + j] = (float)(cin * ((double)x[k * D + j] / al - mu[j]));
        }
        ck_assert_int_eq(cem_model_eval(md, CEM_TARGET_CEM, n, u, t, F), CEM_OK);
        double Fmax = 0;
        for (int k = 0; k < n; k++) {
            double s2 = expm1(t[k]), al = exp(-t[k] / 2), v2 = s2 + sd * sd;
            double cskip = sd * sd / v2, cout = sqrt(s2) * sd / sqrt(v2);
            for (int j = 0; j < D; j++) {
                double y = (double)x[k * D + j] / al;
                want[k * D + j] = mu[j] + cskip * (y - mu[j]) + cout * F[k * D + j];
                scale[k * D + j] = fabs(mu[j]) + fabs(cskip * (y - mu[j])) +
                                   fabs(cout * F[k * D + j]);
                Fmax = fmax(Fmax, fabs(F[k * D + j]));
            }
        }
        ck_assert_double_gt(Fmax, 0.3); /* the network's term is not negligible */
        ck_assert_int_eq(cem_model_eval(mp, CEM_TARGET_CEM, n, x, t, fp), CEM_OK);
        double worst = 0, worst_at = 0;
        for (int a = 0; a < NT; a++) {
            const int k0 = a * NX;
            ck_assert_int_eq(cem_model_eval_at(mp, CEM_TARGET_CEM, NX, x + k0 * D, t[k0],
                                               fa + k0 * D), CEM_OK);
        }
        for (int k = 0; k < n * D; k++) {
            double den = fmax(scale[k], 1e-6);
            worst = fmax(worst, fabs(fp[k] - want[k]) / den);
            worst_at = fmax(worst_at, fabs(fa[k] - want[k]) / den);
        }
        ck_assert_msg(worst <= 1e-5, "stats %d: eval worst %g", stats, worst);
        ck_assert_msg(worst_at <= 1e-5, "stats %d: eval_at worst %g", stats, worst_at);
        /* eps and S are the exact conversions of this f */
        for (int what = CEM_TARGET_NOISE; what <= CEM_TARGET_SCORE; what++) {
            ck_assert_int_eq(cem_model_eval(mp, (cem_target)what, n, x, t, tgt), CEM_OK);
            ck_assert_int_eq(cem_convert(CEM_TARGET_CEM, (cem_target)what, n, D, x, t, fp,
                                         conv), CEM_OK);
            double w = 0;
            for (int k = 0; k < n; k++) {
                double al = exp(-t[k] / 2), sg2 = -expm1(-t[k]);
                double div = what == CEM_TARGET_NOISE ? sqrt(sg2) : sg2;
                for (int j = 0; j < D; j++) { /* the terms' magnitude */
                    double sc = (fabs(x[k * D + j]) + al * fabs(fp[k * D + j])) / div;
                    w = fmax(w, fabs(tgt[k * D + j] - conv[k * D + j]) / sc);
                }
            }
            ck_assert_msg(w <= 1e-6, "stats %d target %d: worst %g", stats, what, w);
        }
        free(p);
        cem_model_free(mp);
        cem_model_free(md);
    }
}
END_TEST

START_TEST(param_option_rules)
{
    double v, lo, hi;
    ck_assert_int_eq(cem_model_option_bounds(CEM_MODEL_PARAM, &lo, &hi), CEM_OK);
    ck_assert(lo == CEM_PARAM_DIRECT && hi == CEM_PARAM_PRECOND_PCA);
    /* NOISE and SCORE: DIRECT only */
    for (int target = CEM_TARGET_NOISE; target <= CEM_TARGET_SCORE; target++) {
        cem_model_t *m = small_mlp(2, (cem_target)target);
        ck_assert_int_eq(cem_model_get(m, CEM_MODEL_PARAM, &v), CEM_OK);
        ck_assert(v == CEM_PARAM_DIRECT);
        ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_PRECOND),
                         CEM_ERR_UNSUPPORTED);
        ck_assert_int_eq(cem_model_get(m, CEM_MODEL_PARAM, &v), CEM_OK);
        ck_assert(v == CEM_PARAM_DIRECT);
        ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_DIRECT), CEM_OK);
        cem_model_free(m);
    }
    cem_model_t *m = small_mlp(2, CEM_TARGET_CEM), *fresh = small_mlp(2, CEM_TARGET_CEM);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, 3), CEM_ERR_RANGE);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, 0.5), CEM_ERR_RANGE);
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_PARAM, &v), CEM_OK);
    ck_assert(v == CEM_PARAM_PRECOND_PCA); /* the default, unchanged */
    /* setting PARAM re-initialises the weights from SEED (and keeps the
     * data statistics, which are not weights) */
    size_t np = cem_model_param_count(m);
    float *init = malloc(4 * np), *p = malloc(4 * np), *e = malloc(4 * np);
    ck_assert_int_eq(cem_model_get_params(fresh, 0, init, np), CEM_OK);
    for (size_t k = 0; k < np; k++)
        p[k] = 0.25f;
    ck_assert_int_eq(cem_model_set_params(m, 2, p, np), CEM_OK);
    const double mu[2] = {1.5, -2}, sd = 0.4;
    ck_assert_int_eq(cem_model_set_data_stats(m, mu, sd), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_DIRECT), CEM_OK);
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_PARAM, &v), CEM_OK);
    ck_assert(v == CEM_PARAM_DIRECT);
    ck_assert_int_eq(cem_model_get_params(m, 0, p, np), CEM_OK);
    ck_assert_int_eq(cem_model_get_params(m, 1, e, np), CEM_OK);
    ck_assert_int_eq(memcmp(p, init, 4 * np), 0);
    ck_assert_int_eq(memcmp(e, init, 4 * np), 0);
    double gm[2], gsd;
    ck_assert_int_eq(cem_model_get_data_stats(m, gm, &gsd), CEM_OK);
    ck_assert(gm[0] == mu[0] && gm[1] == mu[1] && gsd == sd);
    /* busy while a trainer holds the model, and while a sampler does */
    static float pts[64 * 2];
    for (int i = 0; i < 64; i++) {
        pts[2 * i] = (float)cos(0.1 * i);
        pts[2 * i + 1] = (float)sin(0.1 * i);
    }
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, pts, 64, 2), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_PRECOND), CEM_ERR_BUSY);
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_PARAM, &v), CEM_OK);
    ck_assert(v == CEM_PARAM_DIRECT);
    cem_trainer_free(tr);
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_PRECOND), CEM_ERR_BUSY);
    cem_sampler_free(s);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_PRECOND), CEM_OK);
    ck_assert_int_eq(cem_model_get_params(m, 0, p, np), CEM_OK);
    ck_assert_int_eq(memcmp(p, init, 4 * np), 0);
    /* the closed forms have no PARAM */
    float P[2] = {0, 1};
    cem_model_t *g;
    ck_assert_int_eq(cem_model_create_empirical(&g, P, 1, 2), CEM_OK);
    ck_assert_int_eq(cem_model_set(g, CEM_MODEL_PARAM, CEM_PARAM_DIRECT), CEM_ERR_UNSUPPORTED);
    cem_model_free(g);
    free(init); free(p); free(e);
    cem_model_free(m);
    cem_model_free(fresh);
}
END_TEST

/* Reads the statistics and checks they are exactly (mu, sd). */
static void expect_stats(const cem_model_t *m, const double *mu, double sd)
{
    double gm[3] = {-9, -9, -9}, gsd = -9;
    ck_assert_int_eq(cem_model_get_data_stats(m, gm, &gsd), CEM_OK);
    ck_assert_msg(gsd == sd, "sd %.17g want %.17g", gsd, sd);
    for (int j = 0; j < 3; j++)
        ck_assert_msg(gm[j] == mu[j], "mean[%d] %.17g want %.17g", j, gm[j], mu[j]);
}

START_TEST(data_stats_arguments)
{
    cem_model_t *m = small_mlp(3, CEM_TARGET_CEM);
    const double zero[3] = {0, 0, 0}, mu[3] = {0.5, -1, 2}, bad[3] = {0, NAN, 0};
    const double inf[3] = {INFINITY, 0, 0};
    expect_stats(m, zero, 0); /* unset: sd reads 0, mu zeros */
    ck_assert_int_eq(cem_model_set_data_stats(m, mu, 1.5), CEM_OK);
    expect_stats(m, mu, 1.5);
    ck_assert_int_eq(cem_model_get_data_stats(m, NULL, NULL), CEM_OK);
    /* every error leaves the statistics as they were */
    ck_assert_int_eq(cem_model_set_data_stats(m, bad, 1), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_model_errmsg(m), "mean[1]"));
    ck_assert_int_eq(cem_model_set_data_stats(m, inf, 1), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_set_data_stats(m, mu, -0.1), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_set_data_stats(m, mu, NAN), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_set_data_stats(m, mu, INFINITY), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_set_data_stats(m, mu, 0), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_set_data_stats(NULL, mu, 1), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_get_data_stats(NULL, NULL, NULL), CEM_ERR_ARG);
    expect_stats(m, mu, 1.5);
    /* mean NULL: zeros; (NULL, 0) clears */
    ck_assert_int_eq(cem_model_set_data_stats(m, NULL, 2), CEM_OK);
    expect_stats(m, zero, 2);
    ck_assert_int_eq(cem_model_set_data_stats(m, NULL, 0), CEM_OK);
    expect_stats(m, zero, 0);
    ck_assert_int_eq(cem_model_set_data_stats(m, mu, 1.5), CEM_OK);
    /* busy with a trainer, and with a sampler alive */
    static float pts[50 * 3];
    for (int i = 0; i < 150; i++)
        pts[i] = (float)sin(0.7 * i);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, pts, 50, 3), CEM_OK);
    ck_assert_int_eq(cem_model_set_data_stats(m, zero, 1), CEM_ERR_BUSY);
    ck_assert_int_eq(cem_model_set_data_stats(m, NULL, 0), CEM_ERR_BUSY);
    expect_stats(m, mu, 1.5); /* the user's, kept by the trainer */
    cem_trainer_free(tr);
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_model_set_data_stats(m, zero, 1), CEM_ERR_BUSY);
    ck_assert_ptr_nonnull(strstr(cem_model_errmsg(m), "sampler"));
    expect_stats(m, mu, 1.5);
    cem_sampler_free(s);
    ck_assert_int_eq(cem_model_set_data_stats(m, zero, 1), CEM_OK);
    expect_stats(m, zero, 1);
    cem_model_free(m);
    /* the closed forms keep none */
    float P[2] = {0, 1}, mf[2] = {0, 0}, cov[4] = {1, 0, 0, 1};
    cem_model_t *e, *g;
    ck_assert_int_eq(cem_model_create_empirical(&e, P, 1, 2), CEM_OK);
    ck_assert_int_eq(cem_model_create_gaussian(&g, mf, cov, 2), CEM_OK);
    double gm[2], gsd;
    ck_assert_int_eq(cem_model_set_data_stats(e, NULL, 1), CEM_ERR_UNSUPPORTED);
    ck_assert_int_eq(cem_model_get_data_stats(e, gm, &gsd), CEM_ERR_UNSUPPORTED);
    ck_assert_int_eq(cem_model_set_data_stats(g, NULL, 1), CEM_ERR_UNSUPPORTED);
    ck_assert_int_eq(cem_model_get_data_stats(g, gm, &gsd), CEM_ERR_UNSUPPORTED);
    cem_model_free(e);
    cem_model_free(g);
}
END_TEST

/* Every allocation on the paths through LAPACK (the Gaussian's
 * eigen-decomposition, set_data_cov's, a dataset's QR embedding) failing in
 * turn: CEM_ERR_NOMEM with a message, nothing changed, nothing printed
 * (LAPACKE's own allocations used to print "Not enough memory" to stdout
 * and come back as a LAPACK info).  The loop ends at the first call in
 * which no allocation failed, which must succeed. */
START_TEST(lapack_paths_out_of_memory)
{
    enum { D = 40 };
    static float mean[D], cov[D * D];
    static double dcov[D * D], axes[D * D], axis_sd[D];
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            cov[i * D + j] = i == j ? 1.0f + 0.1f * i : 0.01f;
            dcov[i * D + j] = cov[i * D + j];
        }
    cem_model_t *mlp = small_mlp(D, CEM_TARGET_CEM);
    ck_assert_int_eq(cem_model_get_data_axes(mlp, axes, axis_sd), CEM_OK);
    ck_assert_double_eq(axis_sd[0], 0); /* no statistics yet */
    for (int what = 0; what < 3; what++) {
        long k = 1;
        for (;; k++) {
            cem_model_t *m = (cem_model_t *)&k; /* must come back NULL */
            cem_dataset_t *d = (cem_dataset_t *)&k;
            test_stdout_begin();
            test_alloc_fail(k);
            int st = what == 0   ? cem_model_create_gaussian(&m, mean, cov, D)
                     : what == 1 ? cem_model_set_data_cov(mlp, NULL, dcov)
                                 : cem_dataset_create(&d, CEM_DATA_TORUS, D, 9);
            long calls = test_alloc_calls();
            test_alloc_fail(0);
            ck_assert_int_eq(test_stdout_end(), 0);
            if (k > calls) {
                ck_assert_int_eq(st, CEM_OK);
                if (what == 0)
                    cem_model_free(m);
                if (what == 2)
                    cem_dataset_free(d);
                break;
            }
            ck_assert_msg(st == CEM_ERR_NOMEM, "case %d, allocation %ld of %ld: status %d (%s)",
                          what, k, calls, st, cem_last_error());
            ck_assert_ptr_nonnull(strstr(cem_last_error(), "out of memory"));
            if (what == 0)
                ck_assert_ptr_null(m);
            if (what == 2)
                ck_assert_ptr_null(d);
            if (what == 1) { /* unchanged: still no statistics */
                ck_assert_int_eq(cem_model_get_data_axes(mlp, axes, axis_sd), CEM_OK);
                ck_assert_double_eq(axis_sd[0], 0);
            }
        }
        ck_assert_int_ge(k, 3); /* the handle's, and LAPACK's workspace */
        if (what == 0) {
            cem_model_t *m;
            ck_assert_int_eq(cem_model_create_gaussian(&m, mean, cov, D), CEM_OK);
            cem_model_free(m);
        }
    }
    ck_assert_int_eq(cem_model_get_data_axes(mlp, axes, axis_sd), CEM_OK);
    ck_assert_double_gt(axis_sd[0], 1.0); /* the last call set them */
    cem_model_free(mlp);
}
END_TEST

Suite *suite_models(void)
{
    Suite *s = suite_create("models");
    TCase *tc = tcase_create("closed_forms");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, empirical_matches_brute_force);
    tcase_add_test(tc, empirical_blocks_and_shared_time);
    tcase_add_test(tc, empirical_small_t_is_nearest_point);
    tcase_add_test(tc, gaussian_matches_cholesky_solve);
    tcase_add_test(tc, gaussian_on_a_line_projects);
    tcase_add_test(tc, gaussian_rejects_bad_covariance);
    tcase_add_test(tc, model_options);
    tcase_add_test(tc, model_eval_errors);
    tcase_add_test(tc, eval_refuses_nonfinite_results);
    tcase_add_test(tc, model_reference_count);
    tcase_add_test(tc, concurrent_evaluation);
    suite_add_tcase(s, tc);
    TCase *mix = tcase_create("mixture");
    tcase_set_timeout(mix, 120);
    tcase_add_test(mix, mixture_matches_brute_force);
    tcase_add_test(mix, mixture_classes_are_components);
    tcase_add_test(mix, mixture_of_points_is_empirical);
    tcase_add_test(mix, mixture_flow_logprob);
    tcase_add_test(mix, mixture_jvp_matches_differences);
    tcase_add_test(mix, mixture_weights_and_limits);
    tcase_add_test(mix, mixture_rejects_bad_arguments);
    tcase_add_test(mix, labelled_empirical_classes);
    suite_add_tcase(s, mix);
    TCase *mlp = tcase_create("mlp");
    tcase_set_timeout(mlp, 60);
    tcase_add_test(mlp, precond_wiring_matches_the_formula);
    tcase_add_test(mlp, param_option_rules);
    tcase_add_test(mlp, data_stats_arguments);
    tcase_add_test(mlp, precond_pca_matches_the_formula);
    tcase_add_test(mlp, precond_pca_without_axes_is_precond);
    tcase_add_test(mlp, data_cov_arguments);
    tcase_add_test(mlp, lapack_paths_out_of_memory);
    suite_add_tcase(s, mlp);
    return s;
}
