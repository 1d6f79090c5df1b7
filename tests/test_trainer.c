/*
 * test_trainer.c -- the trainer through the public API: the objective of
 * each target against a hand computation from the model's own evaluation,
 * rejection of non-finite steps, reproducibility, the schedule, the time
 * bins, options, ownership of the model, and that training learns; the
 * data statistics the trainer measures (recomputed here), the time law's
 * bins (the ADAPTIVE law's floors against an estimate made here with the
 * exact model, its shares against the header's formula, the other laws'
 * shares against their CDFs), the importance weight against the laws'
 * densities written here, and bitwise thread independence of ADAPTIVE.
 */
#include "tests.h"

#include "base.h"
#include "trainer.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { D = 2, NDATA = 512 };
static float circle[NDATA * D];

static void make_circle(void)
{
    for (int i = 0; i < NDATA; i++) {
        double a = 6.283185307179586 * (i + 0.5) / NDATA;
        circle[2 * i] = (float)cos(a);
        circle[2 * i + 1] = (float)sin(a);
    }
}

/* A small MLP (2 x 32) so the tests run fast. */
static cem_model_t *small_mlp(cem_target target)
{
    cem_model_t *m = NULL;
    ck_assert_int_eq(cem_model_create_mlp(&m, D, target), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 32), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_DEPTH, 2), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_EMBED, 8), CEM_OK);
    /* the window these tests are written for (left unset, it would follow
     * the data's scale: window_follows_the_data) */
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MIN, 1e-3), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MAX, 10), CEM_OK);
    return m;
}

static void random_batch(int B, uint64_t seed, float *x0, double *t, float *z)
{
    cemi_rng r;
    cemi_rng_init(&r, seed, 0);
    for (int i = 0; i < B; i++) {
        int k = (int)(cemi_rng_uniform(&r) * NDATA);
        x0[2 * i] = circle[2 * k];
        x0[2 * i + 1] = circle[2 * k + 1];
        t[i] = exp(log(1e-3) + cemi_rng_uniform(&r) * log(1e4));
        z[2 * i] = (float)cemi_rng_normal(&r);
        z[2 * i + 1] = (float)cemi_rng_normal(&r);
    }
}

/* The loss of each target recomputed from cem_model_eval of the native
 * output at x_t (raw weights), in double, as MATH.md 3 writes it. */
START_TEST(objectives_match_hand_computation)
{
    make_circle();
    enum { B = 64 };
    float x0[B * D], z[B * D], xt[B * D], net[B * D];
    double t[B];
    random_batch(B, 4, x0, t, z);
    for (int target = 0; target < 3; target++)
        for (int weight = 0; weight < 4; weight++) {
            if (target != CEM_TARGET_CEM && weight > 0)
                continue;
            cem_model_t *m = small_mlp((cem_target)target);
            ck_assert_int_eq(cem_model_set(m, CEM_MODEL_USE_EMA, 0), CEM_OK);
            cem_trainer_t *tr;
            ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
            ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_WEIGHT, weight), CEM_OK);
            double loss;
            ck_assert_int_eq(cem_trainer_loss_batch(tr, B, x0, t, z, &loss, NULL), CEM_OK);
            for (int i = 0; i < B; i++) {
                double a = exp(-t[i] / 2), s = sqrt(-expm1(-t[i]));
                for (int j = 0; j < D; j++)
                    xt[i * D + j] = (float)(a * x0[i * D + j] + s * z[i * D + j]);
            }
            ck_assert_int_eq(cem_model_eval(m, (cem_target)target, B, xt, t, net), CEM_OK);
            double want = 0;
            for (int i = 0; i < B; i++) {
                double s2 = -expm1(-t[i]), lam = 1 / expm1(t[i]), c = 1, e2 = 0;
                for (int j = 0; j < D; j++) {
                    double y = target == CEM_TARGET_CEM ? x0[i * D + j]
                               : target == CEM_TARGET_NOISE ? z[i * D + j]
                               : -z[i * D + j] / sqrt(s2);
                    e2 += (net[i * D + j] - y) * (net[i * D + j] - y);
                }
                if (target == CEM_TARGET_SCORE)
                    c = s2;
                else if (target == CEM_TARGET_CEM)
                    c = weight == CEM_WEIGHT_LAMBDA ? lam : weight == CEM_WEIGHT_ONE ? 1
                        : weight == CEM_WEIGHT_SQRT_LAMBDA ? sqrt(lam) : fmin(lam, 5.0);
                want += c * e2;
            }
            want /= B;
            ck_assert_msg(fabs(loss - want) <= 1e-5 * want, "target %d weight %d: %g vs %g",
                          target, weight, loss, want);
            cem_trainer_free(tr);
            cem_model_free(m);
        }
}
END_TEST

START_TEST(nonfinite_step_changes_nothing)
{
    make_circle();
    cem_model_t *m = small_mlp(CEM_TARGET_NOISE);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 32), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(tr, 3, NULL), CEM_OK);
    size_t np = cem_model_param_count(m);
    float *p0 = malloc(4 * np), *e0 = malloc(4 * np), *m1 = malloc(4 * np), *m2 = malloc(4 * np);
    float *p1 = malloc(4 * np), *e1 = malloc(4 * np);
    cem_model_get_params(m, 0, p0, np);
    cem_model_get_params(m, 1, e0, np);
    memcpy(m1, tr->m1, 4 * np);
    memcpy(m2, tr->m2, 4 * np);
    long bins0[CEM_TRAINER_BINS], bins1[CEM_TRAINER_BINS];
    cem_trainer_time_bins(tr, NULL, bins0, NULL, 0);

    /* finite inputs whose gradient overflows float: z = 1e20 */
    enum { B = 8 };
    float x0[B * D], z[B * D];
    double t[B];
    random_batch(B, 1, x0, t, z);
    for (int k = 0; k < B * D; k++)
        z[k] = 1e20f;
    double loss = 0;
    ck_assert_int_eq(cem_trainer_step_batch(tr, B, x0, t, z, &loss), CEM_ERR_NONFINITE_STEP);
    ck_assert_ptr_nonnull(strstr(cem_trainer_errmsg(tr), "rejected"));
    cem_model_get_params(m, 0, p1, np);
    cem_model_get_params(m, 1, e1, np);
    ck_assert_int_eq(memcmp(p0, p1, 4 * np), 0);
    ck_assert_int_eq(memcmp(e0, e1, 4 * np), 0);
    ck_assert_int_eq(memcmp(m1, tr->m1, 4 * np), 0);
    ck_assert_int_eq(memcmp(m2, tr->m2, 4 * np), 0);
    ck_assert_int_eq(cem_trainer_steps(tr), 3);
    cem_trainer_time_bins(tr, NULL, bins1, NULL, 0);
    ck_assert_int_eq(memcmp(bins0, bins1, sizeof bins0), 0);

    /* a divergent learning rate in run(): the bad step is refused */
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_LR, 10), CEM_OK);
    int st = CEM_OK;
    for (int k = 0; k < 200 && st == CEM_OK; k++)
        st = cem_trainer_run(tr, 1, NULL);
    if (st != CEM_OK) { /* when it happens it must be the documented status */
        ck_assert_int_eq(st, CEM_ERR_NONFINITE_STEP);
        cem_model_get_params(m, 0, p1, np);
        ck_assert_uint_eq(cemi_first_nonfinite_f(p1, np), np);
    }
    cem_trainer_free(tr);
    cem_model_free(m);
    free(p0); free(e0); free(m1); free(m2); free(p1); free(e1);
}
END_TEST

/* cem_trainer_loss_batch checks a batch as cem_trainer_step_batch does:
 * for each target and batch (ordinary; z = +-1e30, the outside probe's,
 * whose loss_batch returned CEM_OK with 92 of 442 gradient entries
 * non-finite; z = 1e20; x0 = 1e30; one t = 1e-300) the two return the same
 * status; CEM_OK comes with a finite loss and every gradient entry finite
 * (counted here) and the loss step_batch then reports, bit for bit; a
 * refusal is CEM_ERR_NONFINITE_STEP with *loss NaN, grad not written and
 * the trainer where it was. */
START_TEST(loss_batch_checks_as_step_batch)
{
    make_circle();
    enum { B = 8 };
    const cem_target targets[3] = {CEM_TARGET_CEM, CEM_TARGET_NOISE, CEM_TARGET_SCORE};
    int accepted = 0, refused = 0;
    for (int a = 0; a < 3; a++) {
        cem_model_t *m = small_mlp(targets[a]);
        cem_trainer_t *tr;
        ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 32), CEM_OK);
        const size_t np = cem_model_param_count(m);
        float *grad = malloc(sizeof(float) * np);
        for (int v = 0; v < 5; v++) {
            float x0[B * D], z[B * D];
            double t[B];
            random_batch(B, 7 + v, x0, t, z);
            if (v == 1)
                for (int k = 0; k < B * D; k++)
                    z[k] = k % 2 ? 1e30f : -1e30f;
            if (v == 2)
                for (int k = 0; k < B * D; k++)
                    z[k] = 1e20f;
            if (v == 3)
                x0[3] = 1e30f;
            if (v == 4)
                t[5] = 1e-300;
            for (size_t k = 0; k < np; k++)
                grad[k] = -7;
            double l1 = 0, l2 = 0;
            long steps = cem_trainer_steps(tr);
            int st1 = cem_trainer_loss_batch(tr, B, x0, t, z, &l1, grad);
            if (st1 == CEM_OK) {
                ck_assert(isfinite(l1));
                size_t bad = 0;
                for (size_t k = 0; k < np; k++)
                    bad += !isfinite(grad[k]);
                ck_assert_msg(bad == 0, "target %d batch %d: CEM_OK with %zu of %zu gradient "
                              "entries not finite", a, v, bad, np);
            } else {
                ck_assert_int_eq(st1, CEM_ERR_NONFINITE_STEP);
                ck_assert(isnan(l1));
                for (size_t k = 0; k < np; k++)
                    ck_assert(grad[k] == -7);
                ck_assert_ptr_nonnull(strstr(cem_trainer_errmsg(tr), "cem_trainer_loss_batch"));
            }
            int st2 = cem_trainer_step_batch(tr, B, x0, t, z, &l2);
            ck_assert_msg(st1 == st2, "target %d batch %d: loss_batch %d, step_batch %d", a, v,
                          st1, st2);
            if (st1 == CEM_OK) {
                ck_assert(l1 == l2);
                ck_assert_int_eq(cem_trainer_steps(tr), steps + 1);
                accepted++;
            } else {
                ck_assert(isnan(l2));
                ck_assert_int_eq(cem_trainer_steps(tr), steps);
                refused++;
            }
            if (v == 0)
                ck_assert_int_eq(st1, CEM_OK);
            if (v == 1)
                ck_assert_int_eq(st1, CEM_ERR_NONFINITE_STEP);
        }
        free(grad);
        cem_trainer_free(tr);
        cem_model_free(m);
    }
    ck_assert_int_ge(accepted, 3);
    ck_assert_int_ge(refused, 3);
}
END_TEST

/* A finite loss and gradient whose update is not finite: the square of a
 * gradient entry overflows the second moment.  Such a step was accepted,
 * and the trainer then saved a checkpoint the loader refuses (found by
 * tests/fuzz/trainer_load.c). */
START_TEST(overflowing_update_is_rejected)
{
    make_circle();
    cem_model_t *m = small_mlp(CEM_TARGET_NOISE);
    size_t np = cem_model_param_count(m);
    float *p0 = malloc(4 * np), *p1 = malloc(4 * np);
    cem_model_get_params(m, 0, p0, np);
    /* the output layer (its D x H weights and D biases come last) 1e15
     * times larger: outputs near 1e15, losses near 1e30, gradients of the
     * hidden layers near 1e30, finite floats whose squares are not */
    for (size_t k = np - (size_t)D * 33; k < np; k++)
        p0[k] *= 1e15f;
    ck_assert_int_eq(cem_model_set_params(m, 2, p0, np), CEM_OK);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 8), CEM_OK);
    void *before, *after;
    size_t nb, na;
    ck_assert_int_eq(cem_trainer_save_buffer(tr, &before, &nb), CEM_OK);
    double loss = 0;
    float x0[8 * D], z[8 * D];
    double t[8];
    random_batch(8, 3, x0, t, z);
    /* loss_batch answers as step_batch would: refused (the loss itself is
     * finite, near 1e30: the update is what overflows) */
    ck_assert_int_eq(cem_trainer_loss_batch(tr, 8, x0, t, z, &loss, NULL),
                     CEM_ERR_NONFINITE_STEP);
    ck_assert(isnan(loss));
    ck_assert_ptr_nonnull(strstr(cem_trainer_errmsg(tr), "would be rejected"));
    ck_assert_int_eq(cem_trainer_run(tr, 1, &loss), CEM_ERR_NONFINITE_STEP);
    ck_assert_ptr_nonnull(strstr(cem_trainer_errmsg(tr), "optimiser moment"));
    ck_assert_int_eq(cem_trainer_step_batch(tr, 8, x0, t, z, &loss), CEM_ERR_NONFINITE_STEP);
    ck_assert_int_eq(cem_trainer_steps(tr), 0);
    cem_model_get_params(m, 0, p1, np);
    ck_assert_int_eq(memcmp(p0, p1, 4 * np), 0);
    ck_assert_int_eq(cem_trainer_save_buffer(tr, &after, &na), CEM_OK);
    ck_assert(na == nb && memcmp(before, after, na) == 0);
    cem_trainer_t *again = NULL;
    ck_assert_int_eq(cem_trainer_load_buffer(&again, after, na, circle, NDATA, D), CEM_OK);
    cem_trainer_free(again);
    cem_free(before);
    cem_free(after);
    cem_trainer_free(tr);
    cem_model_free(m);

    /* a row's loss above FLT_MAX with a finite gradient (z = 2e19: the
     * loss near 4e38, the gradient near 5e18): the time bins would add an
     * infinite float */
    m = small_mlp(CEM_TARGET_NOISE);
    ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 8), CEM_OK);
    for (int k = 0; k < 8 * D; k++)
        z[k] = 2e19f;
    float *grad = malloc(4 * np);
    for (size_t k = 0; k < np; k++)
        grad[k] = 7.0f;
    ck_assert_int_eq(cem_trainer_loss_batch(tr, 8, x0, t, z, &loss, grad),
                     CEM_ERR_NONFINITE_STEP);
    ck_assert(isnan(loss));
    for (size_t k = 0; k < np; k++) /* not written */
        ck_assert(grad[k] == 7.0f);
    ck_assert_int_eq(cem_trainer_step_batch(tr, 8, x0, t, z, &loss), CEM_ERR_NONFINITE_STEP);
    ck_assert_ptr_nonnull(strstr(cem_trainer_errmsg(tr), "sample's loss"));
    long count[CEM_TRAINER_BINS];
    cem_trainer_time_bins(tr, NULL, count, NULL, 0);
    for (int b = 0; b < CEM_TRAINER_BINS; b++)
        ck_assert_int_eq(count[b], 0);
    ck_assert_int_eq(cem_trainer_save_buffer(tr, &after, &na), CEM_OK);
    ck_assert_int_eq(cem_trainer_load_buffer(&again, after, na, circle, NDATA, D), CEM_OK);
    cem_trainer_free(again);
    cem_free(after);
    cem_trainer_free(tr);
    cem_model_free(m);
    free(grad);
    free(p0);
    free(p1);
}
END_TEST

static int stop_at_5(long step, double loss, void *user)
{
    int *calls = user;
    (*calls)++;
    ck_assert(isfinite(loss));
    return step >= 5;
}

START_TEST(progress_bins_and_reproducibility)
{
    make_circle();
    float *pa = NULL, *pb = NULL;
    size_t np = 0;
    for (int run = 0; run < 2; run++) {
        cem_model_t *m = small_mlp(CEM_TARGET_CEM);
        cem_trainer_t *tr;
        ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 50), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_SEED, 77), CEM_OK);
        int calls = 0;
        ck_assert_int_eq(cem_trainer_set_progress(tr, stop_at_5, &calls), CEM_OK);
        double mean;
        ck_assert_int_eq(cem_trainer_run(tr, 100, &mean), CEM_ERR_STOPPED);
        ck_assert_ptr_nonnull(strstr(cem_trainer_errmsg(tr), "after step 5"));
        ck_assert_int_eq(calls, 5);
        ck_assert_int_eq(cem_trainer_steps(tr), 5);
        ck_assert(isfinite(mean));
        double bm[CEM_TRAINER_BINS], edges[CEM_TRAINER_BINS + 1];
        long cnt[CEM_TRAINER_BINS], total = 0;
        ck_assert_int_eq(cem_trainer_time_bins(tr, bm, cnt, edges, 1), CEM_OK);
        for (int b = 0; b < CEM_TRAINER_BINS; b++) {
            total += cnt[b];
            ck_assert(cnt[b] == 0 ? isnan(bm[b]) : bm[b] >= 0);
            ck_assert_double_lt(fabs(edges[b + 1] / edges[b] - pow(1e4, 1.0 / 8)), 1e-9);
        }
        ck_assert_int_eq(total, 5 * 50);
        ck_assert(edges[0] == 1e-3 && edges[CEM_TRAINER_BINS] == 10.0);
        ck_assert_int_eq(cem_trainer_time_bins(tr, NULL, cnt, NULL, 0), CEM_OK);
        ck_assert_int_eq(cnt[0] + cnt[3] + cnt[7], 0); /* reset */
        np = cem_model_param_count(m);
        float *p = malloc(4 * np);
        cem_model_get_params(m, 0, p, np);
        if (run == 0)
            pa = p;
        else
            pb = p;
        cem_trainer_free(tr);
        cem_model_free(m);
    }
    ck_assert_int_eq(memcmp(pa, pb, 4 * np), 0); /* same seed: bitwise */
    free(pa);
    free(pb);
}
END_TEST

START_TEST(learning_rate_schedule)
{
    make_circle();
    cem_model_t *m = small_mlp(CEM_TARGET_CEM);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
    cem_trainer_set(tr, CEM_TRAINER_LR, 2e-3);
    cem_trainer_set(tr, CEM_TRAINER_WARMUP, 10);
    cem_trainer_set(tr, CEM_TRAINER_DECAY_STEPS, 100);
    cem_trainer_set(tr, CEM_TRAINER_LR_MIN, 1e-4);
    ck_assert_double_lt(fabs(cemi_trainer_lr(tr, 0) - 2e-4), 1e-15);
    ck_assert_double_lt(fabs(cemi_trainer_lr(tr, 9) - 2e-3), 1e-15);
    ck_assert_double_lt(fabs(cemi_trainer_lr(tr, 10) - 2e-3), 1e-15);
    ck_assert_double_lt(fabs(cemi_trainer_lr(tr, 60) - (1e-4 + 1.9e-3 * 0.5)), 1e-15);
    ck_assert_double_lt(fabs(cemi_trainer_lr(tr, 110) - 1e-4), 1e-15);
    ck_assert_double_lt(fabs(cemi_trainer_lr(tr, 5000) - 1e-4), 1e-15);
    cem_trainer_set(tr, CEM_TRAINER_DECAY_STEPS, 0);
    ck_assert_double_lt(fabs(cemi_trainer_lr(tr, 5000) - 2e-3), 1e-15);
    cem_trainer_free(tr);
    cem_model_free(m);
}
END_TEST

START_TEST(ownership_options_and_errors)
{
    make_circle();
    cem_model_t *m = small_mlp(CEM_TARGET_CEM), *g;
    cem_trainer_t *tr = (cem_trainer_t *)&tr, *tr2;
    float mu[2] = {0, 0}, cov[4] = {1, 0, 0, 1}, bad[4] = {0, 0, NAN, 0};
    ck_assert_int_eq(cem_model_create_gaussian(&g, mu, cov, 2), CEM_OK);
    ck_assert_int_eq(cem_trainer_create(&tr, g, circle, NDATA, D), CEM_ERR_UNSUPPORTED);
    ck_assert_ptr_null(tr);
    ck_assert_int_eq(cem_trainer_create(&tr, m, circle, 1, D), CEM_ERR_ARG);
    ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, 3), CEM_ERR_ARG);
    ck_assert_int_eq(cem_trainer_create(&tr, m, bad, 2, D), CEM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "row 1"));
    ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_create(&tr2, m, circle, NDATA, D), CEM_ERR_BUSY);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 16), CEM_ERR_BUSY);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_USE_EMA, 0), CEM_OK); /* allowed */
    size_t np = cem_model_param_count(m);
    float *p = calloc(np, 4);
    ck_assert_int_eq(cem_model_set_params(m, 0, p, np), CEM_ERR_BUSY);
    ck_assert_ptr_eq(cem_trainer_model(tr), m);

    double v, lo, hi;
    ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_BATCH, &v), CEM_OK);
    ck_assert(v == 1024);
    /* the measured defaults (docs/RECIPES.md), for this preconditioned CEM
     * as for every model: the paper's grid law and weight lambda */
    ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_TIME_LAW, &v), CEM_OK);
    ck_assert(v == CEM_TIMELAW_GRID);
    ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_WEIGHT, &v), CEM_OK);
    ck_assert(v == CEM_WEIGHT_LAMBDA);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 0), CEM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(cem_trainer_errmsg(tr), "CEM_TRAINER_BATCH"));
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 10.5), CEM_ERR_RANGE);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_EMA, 1.0), CEM_ERR_RANGE);
    ck_assert_int_eq(cem_trainer_set(tr, (cem_trainer_option)99, 1.0), CEM_ERR_ARG);
    ck_assert_int_eq(cem_trainer_option_bounds(CEM_TRAINER_LR, &lo, &hi), CEM_OK);
    ck_assert(lo == 0 && hi == 10);
    ck_assert_int_eq(cem_trainer_run(tr, -1, NULL), CEM_ERR_ARG);
    double loss;
    float x0[4] = {1, 0, 0, 1}, z[4] = {0, 0, 0, 0};
    double t[2] = {0.1, 0.0};
    ck_assert_int_eq(cem_trainer_loss_batch(tr, 2, x0, t, z, &loss, NULL), CEM_ERR_ARG);
    t[1] = 0.2;
    ck_assert_int_eq(cem_trainer_loss_batch(tr, 2000, x0, t, z, &loss, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_trainer_loss_batch(tr, 2, x0, t, NULL, &loss, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_trainer_run(NULL, 1, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_trainer_steps(NULL), -1);

    cem_model_free(m); /* the trainer keeps it alive */
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 16), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(tr, 2, &loss), CEM_OK);
    cem_trainer_free(tr); /* ... and now it is gone (valgrind) */
    cem_trainer_free(NULL);
    cem_model_free(g);
    free(p);
}
END_TEST

START_TEST(model_is_free_after_trainer)
{
    make_circle();
    cem_model_t *m = small_mlp(CEM_TARGET_SCORE);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
    cem_trainer_free(tr);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 16), CEM_OK);
    ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
    cem_trainer_free(tr);
    cem_model_free(m);
}
END_TEST

START_TEST(training_reduces_loss)
{
    make_circle();
    /* a preconditioned network's loss is normalised (about D at large t,
     * where nothing can be predicted), so the falling loss is shown with
     * the direct one; test_quality shows the preconditioned one learns */
    for (int target = 0; target < 3; target++) {
        cem_model_t *m = small_mlp((cem_target)target);
        if (target == CEM_TARGET_CEM)
            ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_DIRECT), CEM_OK);
        cem_trainer_t *tr;
        ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
        cem_trainer_set(tr, CEM_TRAINER_BATCH, 256);
        cem_trainer_set(tr, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_LOGUNIFORM);
        double first, last;
        ck_assert_int_eq(cem_trainer_run(tr, 20, &first), CEM_OK);
        ck_assert_int_eq(cem_trainer_run(tr, 300, NULL), CEM_OK);
        ck_assert_int_eq(cem_trainer_run(tr, 20, &last), CEM_OK);
        ck_assert_msg(last < 0.7 * first, "target %d: loss %g -> %g", target, first, last);
        cem_trainer_free(tr);
        cem_model_free(m);
    }
}
END_TEST

START_TEST(initialisation_from_the_seed)
{
    /* same seed: bitwise the same weights; another seed: other weights;
     * every weight within the torch.nn.Linear bound 1/sqrt(fan_in) */
    cem_model_t *a = small_mlp(CEM_TARGET_CEM), *b = small_mlp(CEM_TARGET_CEM);
    size_t np = cem_model_param_count(a);
    ck_assert_uint_eq(np, (size_t)(32 * 10 + 32 + 32 * 32 + 32 + 2 * 32 + 2));
    float *pa = malloc(4 * np), *pb = malloc(4 * np);
    cem_model_get_params(a, 0, pa, np);
    cem_model_get_params(b, 0, pb, np);
    ck_assert_int_eq(memcmp(pa, pb, 4 * np), 0);
    for (size_t k = 0; k < np; k++) {
        double bound = k < 32 * 10 + 32 ? 1 / sqrt(10.0) : 1 / sqrt(32.0);
        ck_assert_double_le(fabs(pa[k]), bound);
    }
    cem_model_get_params(a, 1, pb, np); /* the EMA starts at the weights */
    ck_assert_int_eq(memcmp(pa, pb, 4 * np), 0);
    ck_assert_int_eq(cem_model_set(b, CEM_MODEL_SEED, 1), CEM_OK);
    cem_model_get_params(b, 0, pb, np);
    size_t same = 0;
    for (size_t k = 0; k < np; k++)
        same += pa[k] == pb[k];
    ck_assert_uint_lt(same, np / 100);
    free(pa);
    free(pb);
    cem_model_free(a);
    cem_model_free(b);
}
END_TEST

START_TEST(threads_change_no_bit)
{
    /* products are split by rows, and so is drawing the batch (each thread
     * jumps to its first row's place in the step's stream): 1, 2 and 3
     * threads train bitwise alike, in an even and an odd dimension (a pair
     * of normals then straddles two rows) */
    static float pts[NDATA * 3];
    for (int i = 0; i < NDATA * 3; i++)
        pts[i] = (float)sin(0.37 * i + 0.1 * (i % 7));
    for (int dim = 2; dim <= 3; dim++) {
        float *p[3];
        size_t np = 0;
        for (int k = 0; k < 3; k++) {
            cem_model_t *m;
            ck_assert_int_eq(cem_model_create_mlp(&m, dim, CEM_TARGET_NOISE), CEM_OK);
            ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 96), CEM_OK);
            cem_trainer_t *tr;
            ck_assert_int_eq(cem_trainer_create(&tr, m, pts, NDATA, dim), CEM_OK);
            ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 301), CEM_OK);
            ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_THREADS, k + 1), CEM_OK);
            ck_assert_int_eq(cem_trainer_run(tr, 4, NULL), CEM_OK);
            np = cem_model_param_count(m);
            p[k] = malloc(4 * np);
            cem_model_get_params(m, 0, p[k], np);
            cem_trainer_free(tr);
            cem_model_free(m);
        }
        ck_assert_int_eq(memcmp(p[0], p[1], 4 * np), 0);
        ck_assert_int_eq(memcmp(p[0], p[2], 4 * np), 0);
        for (int k = 0; k < 3; k++)
            free(p[k]);
    }
}
END_TEST

/* ------------------------------------------------ data statistics, time laws */

/* The trainer measures the data's centre and sd when the model has none:
 * column means and sqrt of the mean over coordinates of the population
 * variances, recomputed here in double; a user's values are kept. */
START_TEST(trainer_measures_data_statistics)
{
    enum { n = 301, d = 3 };
    static float pts[n * d];
    cemi_rng r;
    cemi_rng_init(&r, 21, 0);
    for (int i = 0; i < n; i++) { /* anisotropic and off the origin */
        double a = 6.283185307179586 * cemi_rng_uniform(&r);
        pts[i * d + 0] = (float)(3 + 2 * cos(a));
        pts[i * d + 1] = (float)(-1 + 0.3 * sin(a) + 0.05 * cemi_rng_normal(&r));
        pts[i * d + 2] = (float)(0.5 + 0.01 * cemi_rng_normal(&r));
    }
    double mu[d] = {0}, var[d] = {0}, mean_sd = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            mu[j] += pts[i * d + j] / (double)n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            var[j] += (pts[i * d + j] - mu[j]) * (pts[i * d + j] - mu[j]) / n;
    const double sd = sqrt((var[0] + var[1] + var[2]) / d);
    for (int j = 0; j < d; j++)
        mean_sd += sqrt(var[j]) / d;
    ck_assert_double_gt(fabs(mean_sd - sd), 0.1 * sd); /* the choice is visible */

    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_mlp(&m, d, CEM_TARGET_CEM), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 16), CEM_OK);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, pts, n, d), CEM_OK);
    double gm[d], gsd;
    ck_assert_int_eq(cem_model_get_data_stats(m, gm, &gsd), CEM_OK);
    for (int j = 0; j < d; j++)
        ck_assert_msg(fabs(gm[j] - mu[j]) <= 1e-13 * fabs(mu[j]), "mean[%d] %.17g want %.17g",
                      j, gm[j], mu[j]);
    ck_assert_msg(fabs(gsd - sd) <= 1e-13 * sd, "sd %.17g want %.17g", gsd, sd);
    cem_trainer_free(tr);
    ck_assert_int_eq(cem_model_get_data_stats(m, gm, &gsd), CEM_OK); /* stored in the model */
    ck_assert_double_eq_tol(gsd, sd, 1e-13 * sd);

    /* the user's statistics are kept (a DIRECT model too) */
    const double umu[d] = {1, 2, 3}, usd = 0.25;
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_DIRECT), CEM_OK);
    ck_assert_int_eq(cem_model_set_data_stats(m, umu, usd), CEM_OK);
    ck_assert_int_eq(cem_trainer_create(&tr, m, pts, n, d), CEM_OK);
    ck_assert_int_eq(cem_model_get_data_stats(m, gm, &gsd), CEM_OK);
    ck_assert(gm[0] == 1 && gm[1] == 2 && gm[2] == 3 && gsd == usd);
    cem_trainer_free(tr);

    /* all points equal: no scale; refused, and the model keeps none */
    static float same[4 * d];
    for (int i = 0; i < 4 * d; i++)
        same[i] = (float)(i % d);
    ck_assert_int_eq(cem_model_set_data_stats(m, NULL, 0), CEM_OK);
    tr = (cem_trainer_t *)&tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, same, 4, d), CEM_ERR_ARG);
    ck_assert_ptr_null(tr);
    ck_assert_int_eq(cem_model_get_data_stats(m, gm, &gsd), CEM_OK);
    ck_assert(gsd == 0 && gm[0] == 0 && gm[1] == 0 && gm[2] == 0);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 8), CEM_OK); /* not left busy */
    cem_model_free(m);
}
END_TEST

/* The shares of the ADAPTIVE law as the header defines them, from the
 * bins' losses and floors. */
static void adaptive_shares(const double *loss, const double *floor, double fl, double *share)
{
    const int K = CEM_TRAINER_LAW_BINS;
    double e[CEM_TRAINER_LAW_BINS], sum = 0;
    int ready = 1;
    for (int b = 0; b < K; b++) {
        ready = ready && !isnan(loss[b]) && !isnan(floor[b]);
        e[b] = ready ? fmax(0.0, loss[b] - floor[b]) : 0;
        sum += e[b];
    }
    for (int b = 0; b < K; b++)
        share[b] = ready && sum > 0 ? fl / K + (1 - fl) * e[b] / sum : 1.0 / K;
}

/* The untrained network's mean loss (per row, no importance weight) on B
 * draws in [lo, hi], log-uniform. */
static double loss_in(cem_trainer_t *tr, double lo, double hi, uint64_t seed)
{
    enum { B = 256 };
    float x0[B * D], z[B * D];
    double t[B], loss;
    random_batch(B, seed, x0, t, z);
    cemi_rng r;
    cemi_rng_init(&r, seed, 1);
    for (int i = 0; i < B; i++)
        t[i] = lo * pow(hi / lo, cemi_rng_uniform(&r));
    ck_assert_int_eq(cem_trainer_loss_batch(tr, B, x0, t, z, &loss, NULL), CEM_OK);
    return loss;
}

START_TEST(adaptive_law_bins)
{
    make_circle();
    enum { K = CEM_TRAINER_LAW_BINS };
    cem_model_t *m = small_mlp(CEM_TARGET_CEM); /* PRECOND, trained with weight EDM */
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_WEIGHT, CEM_WEIGHT_EDM), CEM_OK);
    double v, fl;
    ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_TIME_LAW, &v), CEM_OK);
    ck_assert(v == CEM_TIMELAW_GRID); /* the default law */
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_ADAPTIVE), CEM_OK);
    ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_ADAPT_FLOOR, &fl), CEM_OK);
    ck_assert(fl == 0.25);
    double prob[K], loss[K], floor0[K], edges[K + 1], share[K];
    ck_assert_int_eq(cem_trainer_law_bins(tr, prob, loss, floor0, edges), CEM_OK);
    ck_assert(edges[0] == 1e-3 && edges[K] == 10.0);
    for (int b = 0; b < K; b++) {
        ck_assert_double_lt(fabs(edges[b + 1] / edges[b] - pow(1e4, 1.0 / K)), 1e-12);
        ck_assert_double_lt(fabs(prob[b] - 1.0 / K), 1e-12); /* nothing seen: log-uniform */
        ck_assert(isnan(loss[b]));
        ck_assert_msg(isfinite(floor0[b]) && floor0[b] > 0, "floor[%d] = %g", b, floor0[b]);
    }
    /* the floors against an estimate made here: the exact model of the data,
     * weight EDM, (lambda + 1/sd^2) |f* - x0|^2 averaged over draws in the
     * bin; within 5 standard errors of the two Monte Carlo estimates (the
     * library's of 2048 draws) */
    double sd;
    ck_assert_int_eq(cem_model_get_data_stats(m, NULL, &sd), CEM_OK);
    cem_model_t *exact;
    ck_assert_int_eq(cem_model_create_empirical(&exact, circle, NDATA, D), CEM_OK);
    for (int b = 0; b < K; b += 5) {
        enum { M = 4096 };
        static float x0[M * D], xt[M * D], f[M * D];
        static double t[M];
        cemi_rng r;
        cemi_rng_init(&r, 31, (uint64_t)b);
        for (int i = 0; i < M; i++) {
            int k = (int)(cemi_rng_uniform(&r) * NDATA);
            t[i] = edges[b] * pow(edges[b + 1] / edges[b], cemi_rng_uniform(&r));
            double a = exp(-t[i] / 2), s = sqrt(-expm1(-t[i]));
            for (int j = 0; j < D; j++) {
                x0[i * D + j] = circle[k * D + j];
                xt[i * D + j] = (float)(a * x0[i * D + j] + s * cemi_rng_normal(&r));
            }
        }
        ck_assert_int_eq(cem_model_eval(exact, CEM_TARGET_CEM, M, xt, t, f), CEM_OK);
        double s1 = 0, s2 = 0;
        for (int i = 0; i < M; i++) {
            double e2 = 0;
            for (int j = 0; j < D; j++)
                e2 += ((double)f[i * D + j] - x0[i * D + j]) * ((double)f[i * D + j] - x0[i * D + j]);
            double l = (1 / expm1(t[i]) + 1 / (sd * sd)) * e2;
            s1 += l;
            s2 += l * l;
        }
        double mean = s1 / M, var = s2 / M - mean * mean;
        double se = sqrt(var / M + var / 2048);
        ck_assert_msg(fabs(floor0[b] - mean) <= 5 * se, "bin %d: floor %g, estimate %g +- %g", b,
                      floor0[b], mean, se);
    }
    cem_model_free(exact);
    /* below what the untrained network scores where t is small */
    for (int b = 0; b < K / 2; b++) {
        double l = loss_in(tr, edges[b], edges[b + 1], 100 + (uint64_t)b);
        ck_assert_msg(floor0[b] < l, "bin %d: floor %g, untrained loss %g", b, floor0[b], l);
    }
    /* after training the shares follow max(0, loss - floor) */
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 256), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(tr, 200, NULL), CEM_OK);
    double floor1[K];
    ck_assert_int_eq(cem_trainer_law_bins(tr, prob, loss, floor1, NULL), CEM_OK);
    ck_assert_int_eq(memcmp(floor0, floor1, sizeof floor0), 0); /* measured once */
    adaptive_shares(loss, floor1, fl, share);
    double sum = 0, lo = 1, hi = 0, worst = 0;
    for (int b = 0; b < K; b++) {
        ck_assert_msg(isfinite(loss[b]) && loss[b] > 0, "loss[%d] = %g", b, loss[b]);
        sum += prob[b];
        lo = fmin(lo, prob[b]);
        hi = fmax(hi, prob[b]);
        ck_assert_double_ge(prob[b], fl / K - 1e-12);
        worst = fmax(worst, fabs(prob[b] - share[b]));
    }
    ck_assert_double_lt(fabs(sum - 1), 1e-12);
    ck_assert_msg(hi - lo > 0.01, "shares %g .. %g: not adapted", lo, hi);
    ck_assert_msg(worst <= 1e-12, "shares differ from the header's formula by %g", worst);

    /* WEIGHT re-measures the floors: lambda alone is less than EDM's lambda
     * + 1/sd^2 on the same draws; back to EDM gives the same floors */
    double floor2[K];
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_WEIGHT, CEM_WEIGHT_LAMBDA), CEM_OK);
    ck_assert_int_eq(cem_trainer_law_bins(tr, prob, loss, floor2, NULL), CEM_OK);
    adaptive_shares(loss, floor2, fl, share);
    for (int b = 0; b < K; b++) {
        ck_assert_msg(floor2[b] > 0 && floor2[b] < floor1[b], "bin %d: %g vs EDM %g", b,
                      floor2[b], floor1[b]);
        ck_assert_double_lt(fabs(prob[b] - share[b]), 1e-12);
    }
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_WEIGHT, CEM_WEIGHT_EDM), CEM_OK);
    ck_assert_int_eq(cem_trainer_law_bins(tr, NULL, NULL, floor2, NULL), CEM_OK);
    ck_assert_int_eq(memcmp(floor1, floor2, sizeof floor1), 0);
    /* SEED re-measures them on its own draws: other numbers, as close as
     * their standard error (a few percent); the old seed gives the old ones */
    double seed0;
    ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_SEED, &seed0), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_SEED, seed0 + 1), CEM_OK);
    ck_assert_int_eq(cem_trainer_law_bins(tr, NULL, NULL, floor2, NULL), CEM_OK);
    int differ = 0;
    for (int b = 0; b < K; b++) {
        differ += floor2[b] != floor1[b];
        ck_assert_msg(fabs(floor2[b] / floor1[b] - 1) < 0.15, "bin %d: %g vs %g", b, floor2[b],
                      floor1[b]);
    }
    ck_assert_int_eq(differ, K);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_SEED, seed0), CEM_OK);
    ck_assert_int_eq(cem_trainer_law_bins(tr, NULL, NULL, floor2, NULL), CEM_OK);
    ck_assert_int_eq(memcmp(floor1, floor2, sizeof floor1), 0);
    ck_assert_int_eq(cem_trainer_law_bins(NULL, prob, NULL, NULL, NULL), CEM_ERR_ARG);
    /* the _n form: the buffers' length checked, the same numbers */
    double prob_n[K + 1], floor_n[K];
    prob_n[K] = -7;
    ck_assert_int_eq(cem_trainer_law_bins_n(tr, K, prob_n, NULL, floor_n, NULL), CEM_OK);
    ck_assert_int_eq(memcmp(floor_n, floor1, sizeof floor1), 0);
    ck_assert(prob_n[K] == -7);
    ck_assert_int_eq(cem_trainer_law_bins_n(tr, K + 1, prob_n, NULL, NULL, NULL), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "16 law bins"));
    ck_assert_int_eq(cem_trainer_law_bins_n(tr, K - 1, prob_n, NULL, NULL, NULL), CEM_ERR_ARG);
    double mean_n[CEM_TRAINER_BINS];
    ck_assert_int_eq(cem_trainer_time_bins_n(tr, CEM_TRAINER_BINS, mean_n, NULL, NULL, 0),
                     CEM_OK);
    ck_assert_int_eq(cem_trainer_time_bins_n(tr, 4, mean_n, NULL, NULL, 0), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "8 time bins"));
    cem_trainer_free(tr);
    cem_model_free(m);
}
END_TEST

/* EDM's truncated log-normal CDF of t, written here (lower-tail form:
 * the parameters below keep ln s(t1) under the mean). */
static double lognormal_cdf(double t, double pm, double ps, double t1, double T)
{
    double za = (0.5 * log(expm1(t1)) - pm) / ps, zb = (0.5 * log(expm1(T)) - pm) / ps;
    double z = (0.5 * log(expm1(t)) - pm) / ps;
    double Pa = 0.5 * erfc(-za / sqrt(2.0)), Pb = 0.5 * erfc(-zb / sqrt(2.0));
    return (0.5 * erfc(-z / sqrt(2.0)) - Pa) / (Pb - Pa);
}

START_TEST(law_bins_of_the_other_laws)
{
    make_circle();
    enum { K = CEM_TRAINER_LAW_BINS };
    cem_model_t *m = small_mlp(CEM_TARGET_CEM);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
    double prob[K], flo[K], edges[K + 1], want[K];
    const double t1 = 1e-3, T = 10, pm = -0.5, ps = 0.9;
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_LOGNORMAL_MEAN, pm), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_LOGNORMAL_STD, ps), CEM_OK);
    /* GN - 1 = 37 is odd: no grid point but the ends lies on a bin edge;
     * with GN = 37, 36 intervals, points 9, 18 and 27 do (t = 1e-2 is one):
     * they count in the bin the trainer's draws put them in, the bin of
     * (log t - log t1) / (log T - log t1) * 16 (a regression: they were
     * counted in the bin below) */
    static const struct {
        int law, GN;
    } cases[] = {{CEM_TIMELAW_GRID, 38},    {CEM_TIMELAW_LOGUNIFORM, 38},
                 {CEM_TIMELAW_UNIFORM, 38}, {CEM_TIMELAW_LOGNORMAL, 38},
                 {CEM_TIMELAW_GRID, 37}};
    double grid[38];
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const int law = cases[ci].law, GN = cases[ci].GN;
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_GRID_N, GN), CEM_OK);
        ck_assert_int_eq(cem_time_grid(CEM_GRID_EXPONENTIAL, GN, t1, T, grid), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_TIME_LAW, law), CEM_OK);
        ck_assert_int_eq(cem_trainer_law_bins(tr, prob, NULL, flo, edges), CEM_OK);
        for (int b = 0; b < K; b++) {
            if (law == CEM_TIMELAW_LOGUNIFORM)
                want[b] = 1.0 / K;
            else if (law == CEM_TIMELAW_UNIFORM)
                want[b] = (edges[b + 1] - edges[b]) / (T - t1);
            else if (law == CEM_TIMELAW_LOGNORMAL)
                want[b] = lognormal_cdf(edges[b + 1], pm, ps, t1, T) -
                          lognormal_cdf(edges[b], pm, ps, t1, T);
            else { /* GRID: the points in [edge b, edge b+1), T in the last */
                int c = 0;
                for (int k = 0; k < GN; k++) {
                    int bin = (int)((log(grid[k]) - log(t1)) / (log(T) - log(t1)) * K);
                    c += (bin > K - 1 ? K - 1 : bin) == b;
                }
                want[b] = (double)c / GN;
            }
            ck_assert_msg(fabs(prob[b] - want[b]) <= 1e-9, "law %d bin %d: %.12g want %.12g",
                          law, b, prob[b], want[b]);
            ck_assert_msg(isnan(flo[b]), "law %d: floor[%d] = %g", law, b, flo[b]);
        }
    }
    /* back to ADAPTIVE: floors again */
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_ADAPTIVE), CEM_OK);
    ck_assert_int_eq(cem_trainer_law_bins(tr, NULL, NULL, flo, NULL), CEM_OK);
    for (int b = 0; b < K; b++)
        ck_assert(isfinite(flo[b]) && flo[b] > 0);
    cem_trainer_free(tr);
    cem_model_free(m);
}
END_TEST

/* IMPORTANCE = 1 multiplies a row's loss by p(t)/q(t), p the log-uniform
 * density of log t on [T_MIN, T_MAX] and q the law's, written here: the
 * ratio of one-row losses with and without it. */
START_TEST(importance_weight_in_the_loss)
{
    make_circle();
    enum { K = CEM_TRAINER_LAW_BINS };
    cem_model_t *m = small_mlp(CEM_TARGET_CEM);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 64), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_ADAPTIVE), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(tr, 30, NULL), CEM_OK); /* ADAPTIVE shares != 1/K */
    const double t1 = 1e-3, T = 10, width = log(T / t1), pm = -0.5, ps = 0.9;
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_LOGNORMAL_MEAN, pm), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_LOGNORMAL_STD, ps), CEM_OK);
    float x0[D], z[D];
    double t[1];
    random_batch(1, 5, x0, t, z);
    for (int law = CEM_TIMELAW_GRID; law <= CEM_TIMELAW_ADAPTIVE; law++) {
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_TIME_LAW, law), CEM_OK);
        double prob[K], edges[K + 1];
        ck_assert_int_eq(cem_trainer_law_bins(tr, prob, NULL, NULL, edges), CEM_OK);
        for (int k = 0; k < 23; k++) {
            t[0] = t1 * pow(T / t1, (k + 0.41) / 23);
            double q; /* the law's density of log t */
            if (law == CEM_TIMELAW_UNIFORM)
                q = t[0] / (T - t1);
            else if (law == CEM_TIMELAW_LOGNORMAL) {
                double za = (0.5 * log(expm1(t1)) - pm) / ps, zb = (0.5 * log(expm1(T)) - pm) / ps;
                double z0 = (0.5 * log(expm1(t[0])) - pm) / ps;
                double mass = 0.5 * erfc(-zb / sqrt(2.0)) - 0.5 * erfc(-za / sqrt(2.0));
                double dlns_dlogt = 0.5 * t[0] * exp(t[0]) / expm1(t[0]);
                q = exp(-0.5 * z0 * z0) / sqrt(2 * 3.14159265358979323846) / ps / mass * dlns_dlogt;
            } else if (law == CEM_TIMELAW_ADAPTIVE) {
                int b = (int)(log(t[0] / t1) / width * K);
                q = prob[b] * K / width;
            } else
                q = 1 / width; /* GRID, LOGUNIFORM: weight 1 */
            double want = 1 / (width * q), l0, l1;
            ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_IMPORTANCE, 0), CEM_OK);
            ck_assert_int_eq(cem_trainer_loss_batch(tr, 1, x0, t, z, &l0, NULL), CEM_OK);
            ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_IMPORTANCE, 1), CEM_OK);
            ck_assert_int_eq(cem_trainer_loss_batch(tr, 1, x0, t, z, &l1, NULL), CEM_OK);
            /* the weight is stored in float */
            ck_assert_msg(fabs(l1 / l0 - want) <= 1e-6 * want, "law %d t %g: ratio %.9g want %.9g",
                          law, t[0], l1 / l0, want);
        }
    }
    cem_trainer_free(tr);
    cem_model_free(m);
}
END_TEST

/* The ADAPTIVE law with importance weights trains bitwise alike on 1 and 2
 * threads (the law's shares come from the bins' losses, summed in row
 * order). */
START_TEST(adaptive_law_threads_change_no_bit)
{
    make_circle();
    float *p[2];
    double prob[2][CEM_TRAINER_LAW_BINS];
    size_t np = 0;
    for (int k = 0; k < 2; k++) {
        cem_model_t *m = small_mlp(CEM_TARGET_CEM);
        cem_trainer_t *tr;
        ck_assert_int_eq(cem_trainer_create(&tr, m, circle, NDATA, D), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 301), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_ADAPTIVE),
                         CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_IMPORTANCE, 1), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_THREADS, k + 1), CEM_OK);
        ck_assert_int_eq(cem_trainer_run(tr, 25, NULL), CEM_OK);
        ck_assert_int_eq(cem_trainer_law_bins(tr, prob[k], NULL, NULL, NULL), CEM_OK);
        np = cem_model_param_count(m);
        p[k] = malloc(4 * np);
        cem_model_get_params(m, 0, p[k], np);
        cem_trainer_free(tr);
        cem_model_free(m);
    }
    ck_assert_int_eq(memcmp(p[0], p[1], 4 * np), 0);
    ck_assert_int_eq(memcmp(prob[0], prob[1], sizeof prob[0]), 0);
    double lo = 1, hi = 0;
    for (int b = 0; b < CEM_TRAINER_LAW_BINS; b++)
        lo = fmin(lo, prob[0][b]), hi = fmax(hi, prob[0][b]);
    ck_assert_double_gt(hi - lo, 1e-3); /* the law did adapt */
    free(p[0]);
    free(p[1]);
}
END_TEST

/* Reads exactly n bytes from fd (0 on success). */
static int read_all_fd(int fd, void *buf, size_t n)
{
    unsigned char *b = buf;
    while (n > 0) {
        ssize_t k = read(fd, b, n);
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

/* A trainer and a sampler whose 2-thread teams ran in the parent keep
 * working in a fork()ed child (whose copy has no worker threads): the
 * child's next 3 steps and 600 samples are bitwise the parent's from the
 * same state, and nothing hangs (the child is given 60 s). */
START_TEST(teams_survive_fork)
{
    make_circle();
    cem_model_t *ma = small_mlp(CEM_TARGET_CEM), *mb = small_mlp(CEM_TARGET_CEM);
    cem_trainer_t *ta, *tb;
    ck_assert_int_eq(cem_trainer_create(&ta, ma, circle, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_create(&tb, mb, circle, NDATA, D), CEM_OK);
    cem_trainer_t *both[2] = {ta, tb};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(cem_trainer_set(both[k], CEM_TRAINER_BATCH, 128), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(both[k], CEM_TRAINER_THREADS, 2), CEM_OK);
        ck_assert_int_eq(cem_trainer_run(both[k], 2, NULL), CEM_OK);
    }
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, mb), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_THREADS, 2), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_STEPS, 10), CEM_OK);
    enum { NS = 600 };
    static float xa[NS * D], xb[NS * D];
    ck_assert_int_eq(cem_sampler_run(s, NS, xa), CEM_OK); /* the team has run */
    const size_t np = cem_model_param_count(ma);
    float *pa = malloc(4 * np), *pb = malloc(4 * np);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) { /* the child: A's team and the sampler's are gone */
        close(fds[0]);
        int ok = cem_trainer_run(ta, 3, NULL) == CEM_OK &&
                 cem_model_get_params(ma, 0, pa, np) == CEM_OK &&
                 cem_sampler_run(s, NS, xa) == CEM_OK;
        cem_sampler_free(s); /* frees without joining the absent workers */
        cem_trainer_free(ta);
        ok = ok && write(fds[1], pa, 4 * np) == (ssize_t)(4 * np) &&
             write(fds[1], xa, sizeof xa) == (ssize_t)sizeof xa;
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    ck_assert_int_eq(cem_sampler_run(s, NS, xb), CEM_OK); /* mb as the child has it */
    ck_assert_int_eq(cem_trainer_run(tb, 3, NULL), CEM_OK);
    ck_assert_int_eq(cem_model_get_params(mb, 0, pb, np), CEM_OK);
    int status = 0, waited = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && waited < 600) {
        nanosleep(&(struct timespec){0, 100000000L}, NULL);
        waited++;
    }
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_abort_msg("the forked child hung");
    }
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(read_all_fd(fds[0], pa, 4 * np), 0);
    ck_assert_int_eq(read_all_fd(fds[0], xa, sizeof xa), 0);
    close(fds[0]);
    ck_assert_int_eq(memcmp(pa, pb, 4 * np), 0);
    ck_assert_int_eq(memcmp(xa, xb, sizeof xa), 0);
    free(pa);
    free(pb);
    cem_sampler_free(s);
    cem_trainer_free(ta);
    cem_trainer_free(tb);
    cem_model_free(ma);
    cem_model_free(mb);
}
END_TEST

/* A model whose window was never set gets the default window moved to its
 * data's scale when the trainer measures the statistics: each end t
 * becomes log1p(sd^2 expm1(t)) (cemdiff.h, CEM_MODEL_T_MIN); a window set
 * by the user, or statistics set by the user, leave it alone; a failed
 * creation leaves the model as it was. */
START_TEST(window_follows_the_data)
{
    enum { N = 400 };
    static float pts[N * D];
    const double R = 7;
    for (int i = 0; i < N; i++) {
        double a = 6.283185307179586 * i / N;
        pts[i * D] = (float)(3 + R * cos(a));
        pts[i * D + 1] = (float)(R * sin(a));
    }
    const double sd = R / sqrt(2.0); /* two coordinates of variance R^2/2 */
    for (int k = 0; k < 3; k++) {
        cem_model_t *m;
        ck_assert_int_eq(cem_model_create_mlp(&m, D, CEM_TARGET_NOISE), CEM_OK);
        ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 8), CEM_OK);
        if (k == 1)
            ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MAX, 12), CEM_OK);
        if (k == 2)
            ck_assert_int_eq(cem_model_set_data_stats(m, NULL, 2.0), CEM_OK);
        cem_trainer_t *tr;
        ck_assert_int_eq(cem_trainer_create(&tr, m, pts, N, D), CEM_OK);
        double t1, T, e[CEM_TRAINER_BINS + 1];
        ck_assert_int_eq(cem_model_get(m, CEM_MODEL_T_MIN, &t1), CEM_OK);
        ck_assert_int_eq(cem_model_get(m, CEM_MODEL_T_MAX, &T), CEM_OK);
        if (k == 0) {
            ck_assert_msg(fabs(t1 - log1p(sd * sd * expm1(1e-3))) < 1e-6 * t1, "t1 = %.17g", t1);
            ck_assert_msg(fabs(T - log1p(sd * sd * expm1(10.0))) < 1e-6 * T, "T = %.17g", T);
            /* the trainer's bins follow the moved window */
            ck_assert_int_eq(cem_trainer_time_bins(tr, NULL, NULL, e, 0), CEM_OK);
            ck_assert(e[0] == t1 && e[CEM_TRAINER_BINS] == T);
        } else {
            ck_assert(t1 == 1e-3 && T == (k == 1 ? 12.0 : 10.0));
        }
        cem_trainer_free(tr);
        cem_model_free(m);
    }
    /* a creation that fails (all points equal) changes nothing */
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_mlp(&m, D, CEM_TARGET_CEM), CEM_OK);
    static float same[N * D];
    cem_trainer_t *tr = (cem_trainer_t *)&tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, same, N, D), CEM_ERR_ARG);
    double t1, sdv;
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_T_MIN, &t1), CEM_OK);
    ck_assert_int_eq(cem_model_get_data_stats(m, NULL, &sdv), CEM_OK);
    ck_assert(t1 == 1e-3 && sdv == 0);
    cem_model_free(m);
}
END_TEST

Suite *suite_trainer(void)
{
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("trainer");
    tcase_add_test(tc, window_follows_the_data);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, objectives_match_hand_computation);
    tcase_add_test(tc, nonfinite_step_changes_nothing);
    tcase_add_test(tc, loss_batch_checks_as_step_batch);
    tcase_add_test(tc, overflowing_update_is_rejected);
    tcase_add_test(tc, progress_bins_and_reproducibility);
    tcase_add_test(tc, learning_rate_schedule);
    tcase_add_test(tc, ownership_options_and_errors);
    tcase_add_test(tc, model_is_free_after_trainer);
    tcase_add_test(tc, training_reduces_loss);
    tcase_add_test(tc, initialisation_from_the_seed);
    tcase_add_test(tc, threads_change_no_bit);
    tcase_add_test(tc, trainer_measures_data_statistics);
    tcase_add_test(tc, adaptive_law_bins);
    tcase_add_test(tc, law_bins_of_the_other_laws);
    tcase_add_test(tc, importance_weight_in_the_loss);
    tcase_add_test(tc, adaptive_law_threads_change_no_bit);
    tcase_add_test(tc, teams_survive_fork);
    suite_add_tcase(s, tc);
    return s;
}
