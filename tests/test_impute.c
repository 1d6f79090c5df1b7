/*
 * test_impute.c -- cem_sampler_impute against exact conditional laws: the
 * Gaussian's (Schur complement), the empirical law's (its points whose
 * known coordinates match, in their multiplicities), and the contract
 * (known coordinates bitwise, masks and NaN, rows, errors).
 */
#include "tests.h"

#include <stdio.h>

/* The sample mean (m) and covariance (c, k x k) of coordinates idx[0..k-1]
 * of n rows of x (dim columns). */
static void moments(const float *x, size_t n, int dim, const int *idx, int k, double *m,
                    double *c)
{
    for (int a = 0; a < k; a++) {
        m[a] = 0;
        for (size_t i = 0; i < n; i++)
            m[a] += x[i * (size_t)dim + (size_t)idx[a]];
        m[a] /= (double)n;
    }
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += (x[i * (size_t)dim + (size_t)idx[a]] - m[a]) *
                     (x[i * (size_t)dim + (size_t)idx[b]] - m[b]);
            c[a * k + b] = s / (double)(n - 1);
        }
}

/* N(mu, S) in R^3 with coordinate 0 known (x0 = 1): coordinates 1, 2 are
 * N(mu_U + S_U0 (x0 - mu_0) / S_00, S_UU - S_U0 S_0U / S_00), the Schur
 * complement.  RePaint with 20 jumps of 10 steps on the exact Gaussian
 * model (ANCESTRAL: the exact transitions) matches mean and covariance
 * within 3.5 standard errors of 4,000 rows; the plain replacement method
 * (no jumps) does not: it misses the mean by many standard errors, the
 * known failure that resampling cures.  Measured: mean error 0.14 without
 * jumps, within 0.003 of the exact 0.15 (2-D case) with 20. */
START_TEST(gaussian_conditional_is_the_schur_complement)
{
    const float mu[3] = {0.5f, -0.3f, 0.2f};
    const float S[9] = {1.0f, 0.8f, -0.4f, 0.8f, 1.2f, -0.1f, -0.4f, -0.1f, 0.7f};
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, S, 3), CEM_OK);
    const double x0 = 1.0;
    double wm[2], wc[4];
    const int U[2] = {1, 2};
    for (int a = 0; a < 2; a++) {
        wm[a] = mu[U[a]] + S[U[a] * 3] * (x0 - mu[0]) / S[0];
        for (int b = 0; b < 2; b++)
            wc[a * 2 + b] = S[U[a] * 3 + U[b]] - S[U[a] * 3] * S[U[b] * 3] / S[0];
    }
    enum { N = 4000 };
    float *x = malloc(sizeof(float) * 3 * N), *o = malloc(sizeof(float) * 3 * N);
    unsigned char *known = malloc(3 * N);
    for (int i = 0; i < N; i++) {
        x[3 * i] = (float)x0;
        x[3 * i + 1] = 123.0f; /* not read: the mask says missing */
        x[3 * i + 2] = -7.0f;
        known[3 * i] = 1;
        known[3 * i + 1] = known[3 * i + 2] = 0;
    }
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, CEM_INTEG_ANCESTRAL), CEM_OK);
    double gm[2], gc[4], plain_err = 0;
    for (int jumps = 0; jumps <= 20; jumps += 20) {
        ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_JUMPS, jumps), CEM_OK);
        ck_assert_int_eq(cem_sampler_impute(s, 0, N, x, known, NULL, o), CEM_OK);
        for (int i = 0; i < N; i++) /* the known coordinate as given */
            ck_assert(o[3 * i] == (float)x0);
        moments(o, N, 3, U, 2, gm, gc);
        if (jumps == 0) {
            plain_err = fabs(gm[0] - wm[0]) + fabs(gm[1] - wm[1]);
            continue;
        }
        for (int a = 0; a < 2; a++) {
            double se = sqrt(wc[a * 3] / N);
            ck_assert_msg(fabs(gm[a] - wm[a]) < 3.5 * se, "mean %d: %.4f, exact %.4f (se %.4f)",
                          a, gm[a], wm[a], se);
            for (int b = 0; b < 2; b++) {
                double sec = sqrt((wc[a * 3] * wc[b * 3] + wc[a * 2 + b] * wc[a * 2 + b]) / N);
                ck_assert_msg(fabs(gc[a * 2 + b] - wc[a * 2 + b]) < 3.5 * sec,
                              "cov %d %d: %.4f, exact %.4f (se %.4f)", a, b, gc[a * 2 + b],
                              wc[a * 2 + b], sec);
            }
        }
    }
    ck_assert_msg(plain_err > 10 * sqrt(wc[0] / N), "replacement alone: mean error %.4f",
                  plain_err);
    cem_sampler_free(s);
    cem_model_free(m);
    free(x);
    free(o);
    free(known);
}
END_TEST

/* The empirical law of (0, 1) twice, (0, -1) once and (1, 0.5): with x = 0
 * known, the missing y is 1 with probability 2/3 and -1 with 1/3 (the
 * points whose x matches, in their multiplicities), every sample at one of
 * them.  NaN marks the missing coordinate here (no mask). */
START_TEST(empirical_conditional_is_the_matching_points)
{
    const float pts[8] = {0, 1, 0, 1, 0, -1, 1, 0.5f};
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_empirical(&m, pts, 4, 2), CEM_OK);
    enum { N = 3000 };
    float *x = malloc(sizeof(float) * 2 * N), *o = malloc(sizeof(float) * 2 * N);
    for (int i = 0; i < N; i++) {
        x[2 * i] = 0;
        x[2 * i + 1] = NAN;
    }
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, CEM_INTEG_ANCESTRAL), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_JUMPS, 10), CEM_OK);
    ck_assert_int_eq(cem_sampler_impute(s, 0, N, x, NULL, NULL, o), CEM_OK);
    int up = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(o[2 * i] == 0);
        ck_assert_msg(fabs(fabs(o[2 * i + 1]) - 1) < 0.01, "row %d: y = %g", i, o[2 * i + 1]);
        up += o[2 * i + 1] > 0;
    }
    double share = (double)up / N, se = sqrt(2.0 / 9.0 / N);
    ck_assert_msg(fabs(share - 2.0 / 3.0) < 3.5 * se, "share of y = 1: %.4f (exact 0.6667)",
                  share);
    cem_sampler_free(s);
    cem_model_free(m);
    free(x);
    free(o);
}
END_TEST

/* The contract: rows are independent (a piece equals the whole), a row
 * with nothing missing is copied, with nothing known it is the ordinary
 * sample of its row (no jumps), and the errors. */
START_TEST(impute_contract)
{
    const float mu[2] = {0, 0}, S[4] = {1, 0.5f, 0.5f, 1};
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, S, 2), CEM_OK);
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_STEPS, 20), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_JUMPS, 0), CEM_OK);
    enum { N = 6 };
    float x[2 * N] = {0.3f, NAN, NAN, NAN, -1, 2, NAN, 0.7f, 0.1f, NAN, NAN, NAN};
    float o[2 * N], piece[4], plain[2 * N];
    ck_assert_int_eq(cem_sampler_impute(s, 0, N, x, NULL, NULL, o), CEM_OK);
    ck_assert(o[4] == -1 && o[5] == 2); /* nothing missing */
    ck_assert(o[0] == 0.3f && o[7] == 0.7f && o[8] == 0.1f);
    for (int k = 0; k < 2 * N; k++)
        ck_assert(isfinite(o[k]));
    ck_assert_int_eq(cem_sampler_run(s, N, plain), CEM_OK);
    ck_assert_int_eq(memcmp(o + 2, plain + 2, 2 * sizeof(float)), 0); /* nothing known */
    ck_assert_int_eq(memcmp(o + 10, plain + 10, 2 * sizeof(float)), 0);
    ck_assert_int_eq(cem_sampler_impute(s, 3, 2, x + 6, NULL, NULL, piece), CEM_OK);
    ck_assert_int_eq(memcmp(piece, o + 6, sizeof piece), 0);
    /* with jumps and with reconstruction guidance, rows stay independent */
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_JUMPS, 2), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_JUMP_LENGTH, 3), CEM_OK);
    for (int method = 0; method < 2; method++) {
        ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_IMPUTE, method), CEM_OK);
        ck_assert_int_eq(cem_sampler_impute(s, 0, N, x, NULL, NULL, o), CEM_OK);
        ck_assert_int_eq(cem_sampler_impute(s, 3, 2, x + 6, NULL, NULL, piece), CEM_OK);
        ck_assert_int_eq(memcmp(piece, o + 6, sizeof piece), 0);
        ck_assert(o[0] == 0.3f && o[4] == -1 && o[5] == 2);
    }
    /* imputation records no trajectory */
    size_t snaps, rows;
    ck_assert_int_eq(cem_sampler_trajectory(s, &snaps, &rows, NULL, NULL), CEM_OK);
    ck_assert_uint_eq(rows, 0);

    /* errors */
    x[4] = INFINITY;
    ck_assert_int_eq(cem_sampler_impute(s, 0, N, x, NULL, NULL, o), CEM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(cem_sampler_errmsg(s), "row 2 column 0"));
    unsigned char known[2 * N] = {0};
    known[4] = 1;
    ck_assert_int_eq(cem_sampler_impute(s, 0, N, x, known, NULL, o), CEM_ERR_NONFINITE);
    known[4] = 0;
    known[0] = 1;
    ck_assert_int_eq(cem_sampler_impute(s, 0, N, x, known, NULL, o), CEM_OK);
    ck_assert_int_eq(cem_sampler_impute(s, 0, N, NULL, known, NULL, o), CEM_ERR_ARG);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_IMPUTE, CEM_IMPUTE_REPAINT), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, CEM_INTEG_DPMPP_2M), CEM_OK);
    ck_assert_int_eq(cem_sampler_impute(s, 0, N, x, known, NULL, o), CEM_ERR_UNSUPPORTED);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_JUMPS, 0), CEM_OK);
    ck_assert_int_eq(cem_sampler_impute(s, 0, N, x, known, NULL, o), CEM_OK);
    int lab[N] = {0};
    ck_assert_int_eq(cem_sampler_impute(s, 0, N, x, known, lab, o), CEM_ERR_ARG); /* no classes */
    cem_sampler_free(s);
    cem_model_free(m);
}
END_TEST

/* Reconstruction guidance (Ho et al.: f_U += w_r alpha J_KU^T (x_K - f_K))
 * moves the plain replacement method's answer toward the exact conditional
 * mean on a correlated Gaussian; labelled rows are refused. */
START_TEST(reconstruction_guidance_corrects_replacement)
{
    const float mu[2] = {0.5f, -0.3f}, S[4] = {1, 0.9f, 0.9f, 1};
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_gaussian(&m, mu, S, 2), CEM_OK);
    enum { N = 2000 };
    float *x = malloc(sizeof(float) * 2 * N), *o = malloc(sizeof(float) * 2 * N);
    for (int i = 0; i < N; i++) {
        x[2 * i] = 1;
        x[2 * i + 1] = NAN;
    }
    const double exact = -0.3 + 0.9 * 0.5;
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_JUMPS, 0), CEM_OK);
    double err[2];
    const int U[1] = {1};
    for (int method = 0; method < 2; method++) {
        double gm, gc;
        ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_IMPUTE, method), CEM_OK);
        ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_RECON_WEIGHT, 2), CEM_OK);
        ck_assert_int_eq(cem_sampler_impute(s, 0, N, x, NULL, NULL, o), CEM_OK);
        moments(o, N, 2, U, 1, &gm, &gc);
        err[method] = fabs(gm - exact);
    }
    ck_assert_msg(err[1] < 0.5 * err[0], "mean error %.4f guided, %.4f replacement", err[1],
                  err[0]);
    cem_sampler_free(s);
    cem_model_free(m);

    const float pts[4] = {0, 1, 1, 0};
    const int lab[2] = {0, 1};
    ck_assert_int_eq(cem_model_create_empirical_labelled(&m, pts, lab, 2, 2), CEM_OK);
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_IMPUTE, CEM_IMPUTE_RECONSTRUCT), CEM_OK);
    int one[2] = {1, CEM_LABEL_NONE};
    ck_assert_int_eq(cem_sampler_impute(s, 0, 2, x, NULL, one, o), CEM_ERR_UNSUPPORTED);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_IMPUTE, CEM_IMPUTE_REPAINT), CEM_OK);
    ck_assert_int_eq(cem_sampler_impute(s, 0, 2, x, NULL, one, o), CEM_OK);
    ck_assert(fabs(o[1]) < 0.01); /* class 1 is the point (1, 0): y = 0 */
    cem_sampler_free(s);
    cem_model_free(m);
    free(x);
    free(o);
}
END_TEST

Suite *suite_impute(void)
{
    Suite *s = suite_create("impute");
    TCase *tc = tcase_create("impute");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, gaussian_conditional_is_the_schur_complement);
    tcase_add_test(tc, empirical_conditional_is_the_matching_points);
    tcase_add_test(tc, impute_contract);
    tcase_add_test(tc, reconstruction_guidance_corrects_replacement);
    suite_add_tcase(s, tc);
    return s;
}
