/*
 * test_quality.c -- issue 3's acceptance run: a CEM model trained by the
 * library on the circle (10,000 points, BENCHMARK.md's W1: 3 x 256 SiLU,
 * 32 time features, lambda weight, log-uniform t on [1e-3, 10], Adam 1e-3,
 * batch 1024, 3,000 steps) is compared with the exact f of its training
 * data (the empirical closed form) on 2,000 held-out pairs (x, t): x noised
 * from fresh circle points, t log-uniform on [1e-3, 1].
 *
 * Bound: a plain PyTorch loop on this workload reaches an RMS error in f of
 * about 0.10 (shared/BENCHMARK.md); the library must do at least as well,
 * and at least 5x better than the untrained network, with the EMA weights
 * (what sampling uses) and with the raw ones.  The network is DIRECT (the
 * paper's f), as W1 is.
 *
 * And the scale test: a circle of radius 50 centred at (100, -30) is
 * sampled as accurately, relative to its radius, as the unit circle.
 */
#include "tests.h"

#include "base.h"

#include <stdio.h>
#include <stdlib.h>

enum { NDATA = 10000, NPAIR = 2000, D = 2 };

static double rms_error(cem_model_t *net, cem_model_t *exact, const float *x, const double *t)
{
    static float a[NPAIR * D], b[NPAIR * D];
    ck_assert_int_eq(cem_model_eval(net, CEM_TARGET_CEM, NPAIR, x, t, a), CEM_OK);
    ck_assert_int_eq(cem_model_eval(exact, CEM_TARGET_CEM, NPAIR, x, t, b), CEM_OK);
    double s = 0;
    for (int k = 0; k < NPAIR * D; k++)
        s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
    return sqrt(s / NPAIR);
}

START_TEST(cem_on_the_circle_matches_the_exact_f)
{
    static float data[NDATA * D], fresh[NPAIR * D], x[NPAIR * D];
    static double t[NPAIR];
    cem_dataset_t *circle;
    ck_assert_int_eq(cem_dataset_create(&circle, CEM_DATA_CIRCLE, D, 1), CEM_OK);
    ck_assert_int_eq(cem_dataset_sample(circle, NDATA, 2, data), CEM_OK);
    ck_assert_int_eq(cem_dataset_sample(circle, NPAIR, 99, fresh), CEM_OK);
    cemi_rng r;
    cemi_rng_init(&r, 123, 0);
    for (int i = 0; i < NPAIR; i++) {
        t[i] = 1e-3 * pow(1e3, cemi_rng_uniform(&r));
        double a = exp(-t[i] / 2), s = sqrt(-expm1(-t[i]));
        for (int j = 0; j < D; j++)
            x[i * D + j] = (float)(a * fresh[i * D + j] + s * cemi_rng_normal(&r));
    }
    cem_model_t *exact, *net;
    ck_assert_int_eq(cem_model_create_empirical(&exact, data, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_model_create_mlp(&net, D, CEM_TARGET_CEM), CEM_OK);
    /* W1 is the paper's CEM (the network is f) on the window [1e-3, 10]
     * (BENCHMARK.md), set explicitly: the default window would follow the
     * data's scale */
    ck_assert_int_eq(cem_model_set(net, CEM_MODEL_PARAM, CEM_PARAM_DIRECT), CEM_OK);
    ck_assert_int_eq(cem_model_set(net, CEM_MODEL_T_MIN, 1e-3), CEM_OK);
    ck_assert_int_eq(cem_model_set(net, CEM_MODEL_T_MAX, 10), CEM_OK);
    double before = rms_error(net, exact, x, t);

    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, net, data, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_LOGUNIFORM), CEM_OK);
    double loss;
    ck_assert_int_eq(cem_trainer_run(tr, 3000, &loss), CEM_OK);
    cem_trainer_free(tr);
    double after_ema = rms_error(net, exact, x, t);
    ck_assert_int_eq(cem_model_set(net, CEM_MODEL_USE_EMA, 0), CEM_OK);
    double after_raw = rms_error(net, exact, x, t);
    printf("quality: RMS error in f over t in [1e-3, 1]: untrained %.4f, "
           "after 3000 steps %.4f (EMA weights), %.4f (raw weights); mean loss %.4f\n",
           before, after_ema, after_raw, loss);
    fflush(stdout);
    ck_assert_double_le(after_ema, 0.10);
    ck_assert_double_le(after_raw, 0.10);
    ck_assert_double_le(after_ema * 5, before);
    cem_model_free(net);
    cem_model_free(exact);
    cem_dataset_free(circle);
}
END_TEST

/* The scale test: the data's centre and sd (measured by the
 * trainer) make the default recipe indifferent to where the data lie and
 * how large they are.  A circle of radius 50 centred at (100, -30) and the
 * unit circle, the same 10,000 angles, a default CEM model (PRECOND_PCA,
 * the trainer's defaults: GRID law, weight LAMBDA) trained with the same
 * settings, 2,000 samples from the default sampler (matched prior); the
 * mean distance to the circle over the radius (computed here).
 *
 * The trainer also moves the model's default window [1e-3, 10] (meant
 * for data of unit variance) to the data's scale: t -> log1p(sd^2 expm1(t)),
 * the same noise levels relative to the data (checked here), so both
 * problems are the same one in other units.
 *
 * Measured (2026-12-02, 2,000 steps of batch 512, seed 0): unit 0.0027,
 * radius 50 at (100, -30) 0.0021 (with weight EDM: 0.0034 and 0.0026;
 * PRECOND with EDM and the GRID law: 0.0031 and 0.0026, the ADAPTIVE law:
 * 0.0029 and 0.0025).  Before the window followed the data the
 * scaled circle reached 0.3744 (nothing learnt: most of [1e-3, 10] is
 * noise below 4% of its scale), and before the PRECOND input gain the
 * unit circle 0.3930 (a plateau); either regression fails the bounds. */
START_TEST(scale_and_offset_do_not_matter)
{
    enum { N = 10000, NS = 2000 };
    static float unit[N * D], scaled[N * D], out[NS * D], part[NS * D];
    double imp_err[2], imp_up[2];
    const double R = 50, cx = 100, cy = -30;
    for (int i = 0; i < N; i++) {
        double a = 6.283185307179586 * (i + 0.5) / N;
        unit[i * D] = (float)cos(a);
        unit[i * D + 1] = (float)sin(a);
        scaled[i * D] = (float)(cx + R * cos(a));
        scaled[i * D + 1] = (float)(cy + R * sin(a));
    }
    double rel[2];
    for (int k = 0; k < 2; k++) {
        const float *data = k ? scaled : unit;
        const double r = k ? R : 1, ox = k ? cx : 0, oy = k ? cy : 0;
        cem_model_t *m;
        ck_assert_int_eq(cem_model_create_mlp(&m, D, CEM_TARGET_CEM), CEM_OK);
        cem_trainer_t *tr;
        ck_assert_int_eq(cem_trainer_create(&tr, m, data, N, D), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 512), CEM_OK);
        ck_assert_int_eq(cem_trainer_run(tr, 2000, NULL), CEM_OK);
        cem_trainer_free(tr);
        double mu[D], sd;
        ck_assert_int_eq(cem_model_get_data_stats(m, mu, &sd), CEM_OK);
        ck_assert_double_lt(fabs(mu[0] - ox), 1e-3 * r); /* the centre, measured */
        ck_assert_double_lt(fabs(mu[1] - oy), 1e-3 * r);
        ck_assert_double_lt(fabs(sd - r / sqrt(2.0)), 1e-3 * r);
        double t1, T;
        ck_assert_int_eq(cem_model_get(m, CEM_MODEL_T_MIN, &t1), CEM_OK);
        ck_assert_int_eq(cem_model_get(m, CEM_MODEL_T_MAX, &T), CEM_OK);
        ck_assert_double_lt(fabs(t1 - log1p(sd * sd * expm1(1e-3))), 1e-12 * t1);
        ck_assert_double_lt(fabs(T - log1p(sd * sd * expm1(10.0))), 1e-12 * T);
        cem_sampler_t *s;
        ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
        ck_assert_int_eq(cem_sampler_run(s, NS, out), CEM_OK);
        cem_sampler_free(s);
        double d = 0;
        for (int i = 0; i < NS; i++)
            d += fabs(hypot(out[i * D] - ox, out[i * D + 1] - oy) - r);
        rel[k] = d / NS / r;
        /* imputation (issue 14): with x = ox + 0.6 r known, y = oy +- 0.8 r,
         * each mode with half the rows (the circle's law is symmetric) */
        enum { NI = 500 };
        for (int i = 0; i < NI; i++) {
            part[i * D] = (float)(ox + 0.6 * r);
            part[i * D + 1] = NAN;
        }
        ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
        ck_assert_int_eq(cem_sampler_impute(s, 0, NI, part, NULL, NULL, out), CEM_OK);
        cem_sampler_free(s);
        double err = 0;
        int up = 0;
        for (int i = 0; i < NI; i++) {
            ck_assert(out[i * D] == part[i * D]);
            double y = (out[i * D + 1] - oy) / r;
            err += fabs(fabs(y) - 0.8);
            up += y > 0;
        }
        imp_err[k] = err / NI;
        imp_up[k] = (double)up / NI;
        ck_assert_msg(fabs(imp_up[k] - 0.5) < 3.5 * sqrt(0.25 / NI), "upper mode: %.3f",
                      imp_up[k]);
        ck_assert_msg(imp_err[k] < 0.02, "imputed |y| - 0.8: mean %.4f (radius units)",
                      imp_err[k]);
        cem_model_free(m);
    }
    printf("quality: imputed y at x = 0.6: mean | |y| - 0.8 | %.4f and %.4f, upper share %.3f "
           "and %.3f\n", imp_err[0], imp_err[1], imp_up[0], imp_up[1]);
    printf("quality: mean distance to the circle / radius: unit %.4f, radius 50 at (100, -30) "
           "%.4f\n", rel[0], rel[1]);
    fflush(stdout);
    ck_assert_double_le(rel[0], 0.006);
    ck_assert_double_le(rel[1], 0.006);
    ck_assert_double_le(rel[1], 1.5 * rel[0] + 1e-4);
    ck_assert_double_le(rel[0], 1.5 * rel[1] + 1e-4);
}
END_TEST

/* Class-conditional generation (issue 14): a circle labelled 0 and a
 * segment labelled 1 in the plane, one network for both classes and the
 * unconditional law (the default label dropout, 0.1).  Measured here
 * (docs/REPORT.md has the table): after 20,000 steps every class-0 sample
 * and 99.9% of the class-1 ones lie within 0.02 of their manifold;
 * guidance w = 1 cuts the samples also near the other manifold from ~1.2%
 * to ~0.3% at a cost in diversity (KS of the coordinate 0.026 -> ~0.05);
 * the unconditional samples' share closer to the circle was 0.52 (data:
 * 0.50; standard error of 2,000 samples 0.011). */
enum { TWO_N = 4000, TWO_S = 2000 };

/* Shares of x (n rows) within 0.02 of manifold a, of b, and closer to a. */
static void shares(const cem_dataset_t *a, const cem_dataset_t *b, size_t n, const float *x,
                   double *near_a, double *near_b, double *closer_a)
{
    double *da = malloc(sizeof(double) * n), *db = malloc(sizeof(double) * n);
    ck_assert_int_eq(cem_dataset_distance(a, n, x, da), CEM_OK);
    ck_assert_int_eq(cem_dataset_distance(b, n, x, db), CEM_OK);
    size_t na = 0, nb = 0, ca = 0;
    for (size_t i = 0; i < n; i++) {
        na += da[i] < 0.02;
        nb += db[i] < 0.02;
        ca += da[i] < db[i];
    }
    *near_a = (double)na / (double)n;
    *near_b = (double)nb / (double)n;
    *closer_a = (double)ca / (double)n;
    free(da);
    free(db);
}

START_TEST(two_manifolds_by_class)
{
    cem_dataset_t *man[2];
    ck_assert_int_eq(cem_dataset_create(&man[0], CEM_DATA_CIRCLE, 2, 0), CEM_OK);
    ck_assert_int_eq(cem_dataset_create(&man[1], CEM_DATA_SEGMENT, 2, 0), CEM_OK);
    float *x = malloc(sizeof(float) * 2 * TWO_N), *o = malloc(sizeof(float) * 2 * TWO_S);
    int *lab = malloc(sizeof(int) * TWO_N);
    ck_assert_int_eq(cem_dataset_sample(man[0], TWO_N / 2, 1, x), CEM_OK);
    ck_assert_int_eq(cem_dataset_sample(man[1], TWO_N / 2, 2, x + TWO_N), CEM_OK);
    for (int i = 0; i < TWO_N; i++)
        lab[i] = i < TWO_N / 2 ? 0 : 1;
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_mlp(&m, 2, CEM_TARGET_CEM), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 128), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABELS, 2), CEM_OK);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create_labelled(&tr, m, x, lab, TWO_N, 2), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 256), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(tr, 20000, NULL), CEM_OK);
    cem_trainer_free(tr);

    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    double own[2][2], other[2][2], ks[2][2], near_a, near_b, closer;
    for (int wi = 0; wi < 2; wi++) {
        ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_GUIDANCE, wi), CEM_OK);
        for (int k = 0; k < 2; k++) {
            ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_LABEL, k), CEM_OK);
            ck_assert_int_eq(cem_sampler_run(s, TWO_S, o), CEM_OK);
            shares(man[k], man[1 - k], TWO_S, o, &own[wi][k], &other[wi][k], &closer);
            ck_assert_int_eq(cem_metric_ks(man[k], TWO_S, o, &ks[wi][k]), CEM_OK);
            /* the conditional law is class k's: on its manifold ... */
            ck_assert_msg(own[wi][k] >= 0.98, "w = %d class %d: %.4f within 0.02", wi, k,
                          own[wi][k]);
        }
    }
    for (int k = 0; k < 2; k++) {
        /* ... guidance keeps it off the other class's manifold, at a cost in
         * diversity (the intrinsic coordinate's KS distance grows) */
        ck_assert_msg(other[1][k] < other[0][k] || other[0][k] == 0,
                      "class %d: near the other manifold %.4f (w = 1) vs %.4f (w = 0)", k,
                      other[1][k], other[0][k]);
        ck_assert_msg(ks[1][k] > ks[0][k], "class %d: KS %.4f (w = 1) vs %.4f (w = 0)", k,
                      ks[1][k], ks[0][k]);
        ck_assert_double_lt(ks[0][k], 0.06);
    }
    /* the unconditional samples: the classes' shares of the data, within
     * three standard errors */
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_LABEL, CEM_LABEL_NONE), CEM_OK);
    ck_assert_int_eq(cem_sampler_run(s, TWO_S, o), CEM_OK);
    shares(man[0], man[1], TWO_S, o, &near_a, &near_b, &closer);
    ck_assert_msg(fabs(closer - 0.5) < 3 * sqrt(0.25 / TWO_S),
                  "unconditional: %.4f closer to the circle", closer);
    ck_assert_msg(near_a + near_b > 0.9, "unconditional: %.4f + %.4f near the manifolds",
                  near_a, near_b);
    cem_sampler_free(s);
    cem_model_free(m);
    cem_dataset_free(man[0]);
    cem_dataset_free(man[1]);
    free(x);
    free(o);
    free(lab);
}
END_TEST

Suite *suite_quality(void)
{
    Suite *s = suite_create("quality");
    TCase *tc = tcase_create("circle");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, cem_on_the_circle_matches_the_exact_f);
    suite_add_tcase(s, tc);
    TCase *scale = tcase_create("scale");
    tcase_set_timeout(scale, 300);
    tcase_add_test(scale, scale_and_offset_do_not_matter);
    suite_add_tcase(s, scale);
    TCase *two = tcase_create("two_manifolds");
    tcase_set_timeout(two, 900);
    tcase_add_test(two, two_manifolds_by_class);
    suite_add_tcase(s, two);
    return s;
}
