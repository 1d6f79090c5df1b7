/*
 * test_labels.c -- conditional models: the MLP's label embedding and its
 * options, labelled training (the dropout, the batch calls, checkpoints of
 * format 4) and labelled sampling (a class per row, guidance).  The exact
 * conditional laws (labelled empirical, mixture) are tested in
 * test_models.c; the learned two-manifold model in test_quality.c.
 */
#include "tests.h"

#include "io.h"

#include <stdio.h>

/* A small labelled MLP (K classes) for 2-D points. */
static cem_model_t *small_labelled(int K, int embed)
{
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_mlp(&m, 2, CEM_TARGET_CEM), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 16), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_DEPTH, 2), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_EMBED, 4), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABEL_EMBED, embed), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABELS, K), CEM_OK);
    return m;
}

/* n points on two clusters, labelled by cluster (every fifth row
 * unlabelled when `holes`). */
static void two_clusters(size_t n, float *x, int *lab, int holes)
{
    for (size_t i = 0; i < n; i++) {
        int k = (int)(i % 2);
        x[2 * i] = (float)(k ? 1.0 : -1.0) + 0.1f * (float)((i * 7) % 11) / 11.0f;
        x[2 * i + 1] = 0.05f * (float)((i * 3) % 5);
        lab[i] = holes && i % 5 == 4 ? CEM_LABEL_NONE : k;
    }
}

START_TEST(label_options_shape_the_network)
{
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_mlp(&m, 2, CEM_TARGET_CEM), CEM_OK);
    double v;
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_LABELS, &v), CEM_OK);
    ck_assert_double_eq(v, 0);
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_LABEL_EMBED, &v), CEM_OK);
    ck_assert_double_eq(v, 16);
    const size_t plain = cem_model_param_count(m);
    /* the embedding width alone changes nothing without labels */
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABEL_EMBED, 8), CEM_OK);
    ck_assert_uint_eq(cem_model_param_count(m), plain);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABELS, 3), CEM_OK);
    /* 8 more inputs to the first layer (H = 256 outputs) and a 4 x 8 table */
    ck_assert_uint_eq(cem_model_param_count(m), plain + 256 * 8 + 4 * 8);
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_LABELS, &v), CEM_OK);
    ck_assert_double_eq(v, 3);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABELS, 65537), CEM_ERR_RANGE);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABEL_EMBED, 0), CEM_ERR_RANGE);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABELS, 0), CEM_OK);
    ck_assert_uint_eq(cem_model_param_count(m), plain);
    cem_model_free(m);

    /* closed forms read their classes and refuse to change them */
    const float pts[6] = {0, 0, 1, 1, 2, 2};
    const int lab[3] = {0, 1, 1};
    ck_assert_int_eq(cem_model_create_empirical_labelled(&m, pts, lab, 3, 2), CEM_OK);
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_LABELS, &v), CEM_OK);
    ck_assert_double_eq(v, 2);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABELS, 3), CEM_ERR_UNSUPPORTED);
    cem_model_free(m);
}
END_TEST

/* The label table is the last block of the parameters, N(0, 1) at
 * initialisation; each class's answer reads its own row. */
START_TEST(labels_select_table_rows)
{
    cem_model_t *m = small_labelled(3, 5);
    const size_t np = cem_model_param_count(m), table = np - 4 * 5;
    float *p = malloc(sizeof(float) * np);
    ck_assert_int_eq(cem_model_get_params(m, 0, p, np), CEM_OK);
    double s = 0, s2 = 0;
    for (size_t k = table; k < np; k++) {
        s += p[k];
        s2 += (double)p[k] * p[k];
    }
    ck_assert_double_lt(fabs(s / 20), 0.6); /* mean 0, sd 1: 20 draws */
    ck_assert_double_gt(s2 / 20, 0.3);
    ck_assert_double_lt(s2 / 20, 2.5);

    enum { N = 8 };
    float x[2 * N], a[2 * N], b[2 * N];
    double t[N];
    int lab[N], none[N];
    for (int i = 0; i < N; i++) {
        x[2 * i] = 0.3f * (float)i - 1;
        x[2 * i + 1] = 0.1f * (float)i;
        t[i] = 0.05 * (i + 1);
        lab[i] = i % 4 - 1;
        none[i] = CEM_LABEL_NONE;
    }
    /* labels NULL and all CEM_LABEL_NONE are cem_model_eval */
    ck_assert_int_eq(cem_model_eval(m, CEM_TARGET_CEM, N, x, t, a), CEM_OK);
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, N, x, t, none, b), CEM_OK);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, N, x, t, NULL, b), CEM_OK);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    /* classes answer differently ... */
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, N, x, t, lab, b), CEM_OK);
    for (int i = 0; i < N; i++)
        if (lab[i] != CEM_LABEL_NONE)
            ck_assert(a[2 * i] != b[2 * i] || a[2 * i + 1] != b[2 * i + 1]);
        else
            ck_assert(a[2 * i] == b[2 * i] && a[2 * i + 1] == b[2 * i + 1]);
    /* ... and class k's answer is the "no label" one once row k of the
     * table holds the last row's values (both tables: the raw weights and
     * their average, which evaluation reads) */
    for (int c = 0; c < 5; c++)
        p[table + 1 * 5 + c] = p[table + 3 * 5 + c];
    ck_assert_int_eq(cem_model_set_params(m, 2, p, np), CEM_OK);
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, N, x, t, lab, b), CEM_OK);
    for (int i = 0; i < N; i++)
        if (lab[i] == 1)
            ck_assert(a[2 * i] == b[2 * i] && a[2 * i + 1] == b[2 * i + 1]);
    /* a label the model does not have */
    lab[3] = 3;
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, N, x, t, lab, b), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "labels[3] = 3"));
    lab[3] = -2;
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, N, x, t, lab, b), CEM_ERR_ARG);
    free(p);
    cem_model_free(m);

    /* an unlabelled model takes only CEM_LABEL_NONE */
    ck_assert_int_eq(cem_model_create_mlp(&m, 2, CEM_TARGET_CEM), CEM_OK);
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, N, x, t, none, b), CEM_OK);
    none[0] = 0;
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, N, x, t, none, b), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "CEM_MODEL_LABELS = 0"));
    cem_model_free(m);
}
END_TEST

/* The sampler evaluates a whole block at one time (the network's
 * shared-time path, with the rows' label features): its denoised output
 * is the per-row evaluation of the last state. */
START_TEST(sampler_labels_match_per_row_evaluation)
{
    cem_model_t *m = small_labelled(2, 3);
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_STEPS, 3), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_TRAJ_ROWS, 9), CEM_OK);
    enum { N = 9 };
    int lab[N];
    for (int i = 0; i < N; i++)
        lab[i] = i % 3 - 1;
    float out[2 * N], traj[3 * 2 * N], ref[2 * N];
    ck_assert_int_eq(cem_sampler_run_labelled(s, 0, N, lab, out), CEM_OK);
    size_t snaps, rows;
    double times[3];
    ck_assert_int_eq(cem_sampler_trajectory(s, &snaps, &rows, traj, times), CEM_OK);
    ck_assert_uint_eq(snaps, 3);
    double t1[N];
    for (int i = 0; i < N; i++)
        t1[i] = times[2];
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, N, traj + 2 * 2 * N, t1, lab,
                                             ref), CEM_OK);
    for (int k = 0; k < 2 * N; k++)
        ck_assert_double_lt(fabs(out[k] - ref[k]), 1e-5 * (1 + fabs(ref[k])));

    /* rows of class k equal the rows of a run with CEM_SAMPLER_LABEL = k;
     * labels NULL is that run */
    for (int k = -1; k < 2; k++) {
        float all[2 * N];
        ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_LABEL, k), CEM_OK);
        ck_assert_int_eq(cem_sampler_run(s, N, all), CEM_OK);
        for (int i = 0; i < N; i++)
            if (lab[i] == k)
                ck_assert_int_eq(memcmp(all + 2 * i, out + 2 * i, 2 * sizeof(float)), 0);
        float again[2 * N];
        ck_assert_int_eq(cem_sampler_run_labelled(s, 0, N, NULL, again), CEM_OK);
        ck_assert_int_eq(memcmp(all, again, sizeof all), 0);
    }
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_LABEL, 2), CEM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(cem_sampler_errmsg(s), "CEM_MODEL_LABELS"));
    lab[4] = 2;
    ck_assert_int_eq(cem_sampler_run_labelled(s, 0, N, lab, out), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_sampler_errmsg(s), "labels[4] = 2"));
    cem_sampler_free(s);
    cem_model_free(m);
}
END_TEST

/* Guidance w: f_w = (1 + w) f(y, t | k) - w f(y, t), checked on the
 * exact labelled empirical model with a two-step run, whose single
 * integrated step and denoising read f only through the guided mix. */
START_TEST(guidance_mixes_conditional_and_unconditional)
{
    const float pts[8] = {-1, 0, -0.8f, 0.2f, 1, 0, 0.9f, -0.1f};
    const int lab[4] = {0, 0, 1, 1};
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_empirical_labelled(&m, pts, lab, 4, 2), CEM_OK);
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_STEPS, 2), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, CEM_INTEG_ODE), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_TRAJ_ROWS, 4), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_LABEL, 1), CEM_OK);
    const double w = 1.5;
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_GUIDANCE, w), CEM_OK);
    float out[8], traj[16];
    ck_assert_int_eq(cem_sampler_run(s, 4, out), CEM_OK);
    size_t snaps, rows;
    double times[2];
    ck_assert_int_eq(cem_sampler_trajectory(s, &snaps, &rows, traj, times), CEM_OK);
    /* the denoised output: f_w at the last state */
    double t1[4] = {times[1], times[1], times[1], times[1]};
    int one[4] = {1, 1, 1, 1};
    float fc[8], fu[8];
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, 4, traj + 8, t1, one, fc),
                     CEM_OK);
    ck_assert_int_eq(cem_model_eval(m, CEM_TARGET_CEM, 4, traj + 8, t1, fu), CEM_OK);
    for (int k = 0; k < 8; k++) {
        double want = (1 + w) * fc[k] - w * fu[k];
        ck_assert_double_lt(fabs(out[k] - want), 1e-5 * (1 + fabs(want)));
    }
    /* the step from T: DDIM's y_s = (alpha_s/alpha_t) y + (sigma-ratio)... is
     * linear in f, so the end state is the two ends mixed alike */
    double T[4] = {times[0], times[0], times[0], times[0]};
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, 4, traj, T, one, fc), CEM_OK);
    ck_assert_int_eq(cem_model_eval(m, CEM_TARGET_CEM, 4, traj, T, fu), CEM_OK);
    double aT, s2T, a1, s21;
    ck_assert_int_eq(cem_ou_coefficients(times[0], &aT, &s2T), CEM_OK);
    ck_assert_int_eq(cem_ou_coefficients(times[1], &a1, &s21), CEM_OK);
    const double r = sqrt(s21 / s2T);
    for (int k = 0; k < 8; k++) {
        double f = (1 + w) * fc[k] - w * fu[k];
        double want = r * traj[k] + (a1 - r * aT) * f; /* DDIM: sigma ratio */
        ck_assert_double_lt(fabs(traj[8 + k] - want), 1e-4 * (1 + fabs(want)));
    }
    cem_sampler_free(s);
    cem_model_free(m);
}
END_TEST

/* Labelled training: the dropout's effect is exact at its ends.  With
 * LABEL_DROPOUT = 1 every row trains as CEM_LABEL_NONE, so the classes'
 * table rows get no gradient and stay bitwise as they were; with 0 they
 * move.  The batches (rows, times, noise) do not depend on the labels. */
START_TEST(dropout_ends_and_batches)
{
    enum { N = 64 };
    float x[2 * N];
    int lab[N];
    two_clusters(N, x, lab, 1);
    float *before = NULL, *after = NULL;
    size_t np = 0;
    double loss_plain = 0;
    for (int drop = 0; drop <= 1; drop++) {
        cem_model_t *m = small_labelled(2, 3);
        np = cem_model_param_count(m);
        before = realloc(before, sizeof(float) * np);
        after = realloc(after, sizeof(float) * np);
        ck_assert_int_eq(cem_model_get_params(m, 0, before, np), CEM_OK);
        cem_trainer_t *tr;
        ck_assert_int_eq(cem_trainer_create_labelled(&tr, m, x, lab, N, 2), CEM_OK);
        double v;
        ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_LABEL_DROPOUT, &v), CEM_OK);
        ck_assert_double_eq(v, 0.1);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_LABEL_DROPOUT, drop), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 32), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_THREADS, 1), CEM_OK);
        double loss;
        ck_assert_int_eq(cem_trainer_run(tr, 5, &loss), CEM_OK);
        ck_assert_int_eq(cem_model_get_params(m, 0, after, np), CEM_OK);
        const size_t table = np - 3 * 3;
        int moved = 0;
        for (size_t k = table; k < table + 2 * 3; k++) /* rows of classes 0, 1 */
            moved += before[k] != after[k];
        if (drop)
            ck_assert_int_eq(moved, 0);
        else
            ck_assert_int_eq(moved, 6);
        for (size_t k = table + 6; k < np; k++) /* the "no label" row: unlabelled rows */
            ck_assert(before[k] != after[k]);
        cem_trainer_free(tr);
        cem_model_free(m);
        /* dropout 1 is the unlabelled trainer on the same model: bitwise */
        if (drop) {
            m = small_labelled(2, 3);
            ck_assert_int_eq(cem_trainer_create(&tr, m, x, N, 2), CEM_OK);
            ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 32), CEM_OK);
            ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_THREADS, 1), CEM_OK);
            ck_assert_int_eq(cem_trainer_run(tr, 5, &loss_plain), CEM_OK);
            ck_assert_double_eq(loss_plain, loss);
            ck_assert_int_eq(cem_model_get_params(m, 0, before, np), CEM_OK);
            ck_assert_int_eq(memcmp(before, after, sizeof(float) * np), 0);
            cem_trainer_free(tr);
            cem_model_free(m);
        }
    }
    free(before);
    free(after);
}
END_TEST

/* The labelled batch calls: labels NULL (the plain calls) is every row
 * unlabelled; a row's label enters its loss. */
START_TEST(labelled_batch_calls)
{
    enum { B = 6 };
    float x0[2 * B], z[2 * B], g1[4096], g2[4096];
    double t[B];
    int lab[B], none[B];
    for (int i = 0; i < B; i++) {
        x0[2 * i] = (float)i / B;
        x0[2 * i + 1] = -(float)i / B;
        z[2 * i] = 0.5f - (float)(i % 3) / 3;
        z[2 * i + 1] = (float)(i % 2) - 0.5f;
        t[i] = 0.01 * (i + 1);
        lab[i] = i % 3 - 1;
        none[i] = CEM_LABEL_NONE;
    }
    cem_model_t *m = small_labelled(2, 3);
    const size_t np = cem_model_param_count(m);
    ck_assert_uint_le(np, 4096);
    float x[2 * 8];
    int l8[8];
    two_clusters(8, x, l8, 0);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create_labelled(&tr, m, x, l8, 8, 2), CEM_OK);
    double a, b;
    ck_assert_int_eq(cem_trainer_loss_batch(tr, B, x0, t, z, &a, g1), CEM_OK);
    ck_assert_int_eq(cem_trainer_loss_batch_labelled(tr, B, x0, none, t, z, &b, g2), CEM_OK);
    ck_assert_double_eq(a, b);
    ck_assert_int_eq(memcmp(g1, g2, sizeof(float) * np), 0);
    ck_assert_int_eq(cem_trainer_loss_batch_labelled(tr, B, x0, lab, t, z, &b, g2), CEM_OK);
    ck_assert(a != b);
    lab[2] = 2;
    ck_assert_int_eq(cem_trainer_loss_batch_labelled(tr, B, x0, lab, t, z, &b, g2),
                     CEM_ERR_ARG);
    ck_assert(isnan(b));
    ck_assert_int_eq(cem_trainer_step_batch_labelled(tr, B, x0, lab, t, z, &b), CEM_ERR_ARG);
    ck_assert_int_eq(cem_trainer_steps(tr), 0);
    ck_assert_int_eq(cem_trainer_step_batch_labelled(tr, B, x0, NULL, t, z, &b), CEM_ERR_ARG);
    lab[2] = 1;
    ck_assert_int_eq(cem_trainer_step_batch_labelled(tr, B, x0, lab, t, z, &b), CEM_OK);
    ck_assert_int_eq(cem_trainer_steps(tr), 1);
    cem_trainer_free(tr);

    /* labels need a labelled model, in range */
    l8[3] = 2;
    ck_assert_int_eq(cem_trainer_create_labelled(&tr, m, x, l8, 8, 2), CEM_ERR_ARG);
    ck_assert_ptr_null(tr);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "labels[3] = 2"));
    cem_model_free(m);
    ck_assert_int_eq(cem_model_create_mlp(&m, 2, CEM_TARGET_CEM), CEM_OK);
    l8[3] = 1;
    ck_assert_int_eq(cem_trainer_create_labelled(&tr, m, x, l8, 8, 2), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "CEM_MODEL_LABELS"));
    ck_assert_int_eq(cem_trainer_create_labelled(&tr, m, x, NULL, 8, 2), CEM_ERR_ARG);
    cem_model_free(m);
}
END_TEST

/* Format 4: a labelled model saves and loads bitwise; a labelled trainer
 * resumes exactly, only through the labelled loaders and with its own
 * labels; an unlabelled model still writes format 2. */
START_TEST(labelled_checkpoints)
{
    enum { N = 48 };
    float x[2 * N];
    int lab[N];
    two_clusters(N, x, lab, 1);
    cem_model_t *m = small_labelled(2, 3);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create_labelled(&tr, m, x, lab, N, 2), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 16), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_LABEL_DROPOUT, 0.3), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(tr, 3, NULL), CEM_OK);
    void *buf;
    size_t size;
    ck_assert_int_eq(cem_trainer_save_buffer(tr, &buf, &size), CEM_OK);
    ck_assert_uint_eq(((const unsigned char *)buf)[8], 4);
    ck_assert_int_eq(cem_trainer_run(tr, 4, NULL), CEM_OK);
    const size_t np = cem_model_param_count(m);
    float *want = malloc(sizeof(float) * np), *got = malloc(sizeof(float) * np);
    ck_assert_int_eq(cem_model_get_params(m, 1, want, np), CEM_OK);

    cem_trainer_t *tr2;
    ck_assert_int_eq(cem_trainer_load_buffer(&tr2, buf, size, x, N, 2), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "cem_trainer_load_labelled"));
    lab[5] = lab[5] == 0 ? 1 : 0;
    ck_assert_int_eq(cem_trainer_load_buffer_labelled(&tr2, buf, size, x, lab, N, 2),
                     CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "labels differ"));
    lab[5] = lab[5] == 0 ? 1 : 0;
    ck_assert_int_eq(cem_trainer_load_buffer_labelled(&tr2, buf, size, x, lab, N, 2), CEM_OK);
    double v;
    ck_assert_int_eq(cem_trainer_get(tr2, CEM_TRAINER_LABEL_DROPOUT, &v), CEM_OK);
    ck_assert_double_eq(v, 0.3);
    ck_assert_int_eq(cem_trainer_run(tr2, 4, NULL), CEM_OK);
    cem_model_t *m2 = cem_trainer_model(tr2);
    ck_assert_int_eq(cem_model_get(m2, CEM_MODEL_LABELS, &v), CEM_OK);
    ck_assert_double_eq(v, 2);
    ck_assert_int_eq(cem_model_get(m2, CEM_MODEL_LABEL_EMBED, &v), CEM_OK);
    ck_assert_double_eq(v, 3);
    ck_assert_int_eq(cem_model_get_params(m2, 1, got, np), CEM_OK);
    ck_assert_int_eq(memcmp(want, got, sizeof(float) * np), 0);
    cem_trainer_free(tr2);
    cem_free(buf);

    /* the model alone: bitwise the same answers per class */
    ck_assert_int_eq(cem_model_save_buffer(m, &buf, &size), CEM_OK);
    ck_assert_uint_eq(((const unsigned char *)buf)[8], 4);
    ck_assert_int_eq(cem_model_load_buffer(&m2, buf, size), CEM_OK);
    float pts[8] = {0.1f, 0.2f, -0.5f, 0.3f, 1, -1, 0, 0}, fa[8], fb[8];
    double t[4] = {0.01, 0.1, 1, 5};
    int cl[4] = {0, 1, -1, 1};
    ck_assert_int_eq(cem_model_eval_labelled(m, CEM_TARGET_CEM, 4, pts, t, cl, fa), CEM_OK);
    ck_assert_int_eq(cem_model_eval_labelled(m2, CEM_TARGET_CEM, 4, pts, t, cl, fb), CEM_OK);
    ck_assert_int_eq(memcmp(fa, fb, sizeof fa), 0);
    /* a label count that does not fit the parameter count is caught, even
     * with a valid checksum */
    unsigned char *b = malloc(size);
    memcpy(b, buf, size);
    cem_model_t *bad;
    for (size_t k = 24 + 64 + 16; k + 16 <= size; k += 16) { /* the pairs: find LABELS */
        uint32_t id;
        memcpy(&id, b + k, 4);
        if (id == CEM_MODEL_LABELS) {
            double three = 3;
            memcpy(b + k + 8, &three, 8);
            break;
        }
    }
    ck_assert_int_eq(cem_model_load_buffer(&bad, b, size), CEM_ERR_CHECKSUM);
    uint32_t crc = cemi_crc32(0, b, size - 4);
    memcpy(b + size - 4, &crc, 4);
    ck_assert_int_eq(cem_model_load_buffer(&bad, b, size), CEM_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "parameter count for the labels"));
    free(b);
    cem_model_free(m2);
    cem_free(buf);
    cem_trainer_free(tr);
    cem_model_free(m);
    free(want);
    free(got);

    /* without labels: format 2, as before; with a label embedding width of
     * its own (kept for later labels), format 4, which gives it back */
    ck_assert_int_eq(cem_model_create_mlp(&m, 2, CEM_TARGET_CEM), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_DIRECT), CEM_OK);
    ck_assert_int_eq(cem_model_save_buffer(m, &buf, &size), CEM_OK);
    ck_assert_uint_eq(((const unsigned char *)buf)[8], 2);
    cem_free(buf);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_LABEL_EMBED, 5), CEM_OK);
    ck_assert_int_eq(cem_model_save_buffer(m, &buf, &size), CEM_OK);
    ck_assert_uint_eq(((const unsigned char *)buf)[8], 4);
    ck_assert_int_eq(cem_model_load_buffer(&m2, buf, size), CEM_OK);
    ck_assert_int_eq(cem_model_get(m2, CEM_MODEL_LABEL_EMBED, &v), CEM_OK);
    ck_assert_double_eq(v, 5);
    ck_assert_int_eq(cem_model_get(m2, CEM_MODEL_LABELS, &v), CEM_OK);
    ck_assert_double_eq(v, 0);
    cem_model_free(m2);
    cem_free(buf);
    cem_model_free(m);
}
END_TEST

/* The probability flow of a labelled network is its unconditional model. */
START_TEST(flow_on_labelled_network)
{
    cem_model_t *m = small_labelled(3, 2);
    cem_flow_t *f;
    ck_assert_int_eq(cem_flow_create(&f, m), CEM_OK);
    float x[4] = {0.1f, 0.2f, -0.3f, 0.4f};
    double lp[2];
    ck_assert_int_eq(cem_flow_logprob(f, 2, x, lp, NULL), CEM_OK);
    ck_assert(isfinite(lp[0]) && isfinite(lp[1]));
    cem_flow_free(f);
    cem_model_free(m);
}
END_TEST

/* The mixture kind as the sampler's exact multi-modal ground truth: the
 * unconditional samples of sum_k pi_k N(m_k, s_k^2 I) fall to the
 * components in the shares pi (within 3.5 standard errors of 4,000 rows),
 * and each class's samples have its component's mean and variance. */
START_TEST(mixture_is_the_samplers_ground_truth)
{
    const double pi[3] = {0.5, 0.3, 0.2};
    const float means[6] = {-1.5f, 0, 1.5f, 0.5f, 0.5f, -1.5f};
    const float sd[3] = {0.2f, 0.1f, 0.3f};
    float covs[12] = {0};
    for (int k = 0; k < 3; k++)
        covs[4 * k] = covs[4 * k + 3] = sd[k] * sd[k];
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_mixture(&m, 3, pi, means, covs, 2), CEM_OK);
    cem_sampler_t *s;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    enum { N = 4000 };
    float *o = malloc(sizeof(float) * 2 * N);
    ck_assert_int_eq(cem_sampler_run(s, N, o), CEM_OK);
    int count[3] = {0};
    for (int i = 0; i < N; i++) {
        int best = 0;
        double bd = INFINITY;
        for (int k = 0; k < 3; k++) {
            double dx = o[2 * i] - means[2 * k], dy = o[2 * i + 1] - means[2 * k + 1];
            if (dx * dx + dy * dy < bd) {
                bd = dx * dx + dy * dy;
                best = k;
            }
        }
        count[best]++;
    }
    for (int k = 0; k < 3; k++) {
        double share = (double)count[k] / N, se = sqrt(pi[k] * (1 - pi[k]) / N);
        ck_assert_msg(fabs(share - pi[k]) < 3.5 * se, "component %d: share %.4f, weight %.2f",
                      k, share, pi[k]);
    }
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_LABEL, k), CEM_OK);
        ck_assert_int_eq(cem_sampler_run(s, N, o), CEM_OK);
        for (int j = 0; j < 2; j++) {
            double mean = 0, var = 0, v = (double)sd[k] * sd[k];
            for (int i = 0; i < N; i++)
                mean += o[2 * i + j];
            mean /= N;
            for (int i = 0; i < N; i++)
                var += (o[2 * i + j] - mean) * (o[2 * i + j] - mean);
            var /= N - 1;
            ck_assert_msg(fabs(mean - means[2 * k + j]) < 3.5 * sqrt(v / N),
                          "class %d coordinate %d: mean %.4f, exact %.4f", k, j, mean,
                          (double)means[2 * k + j]);
            ck_assert_msg(fabs(var - v) < 3.5 * v * sqrt(2.0 / N) + 1e-4,
                          "class %d coordinate %d: variance %.5f, exact %.5f", k, j, var, v);
        }
    }
    free(o);
    cem_sampler_free(s);
    cem_model_free(m);
}
END_TEST

Suite *suite_labels(void)
{
    Suite *s = suite_create("labels");
    TCase *tc = tcase_create("labels");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, label_options_shape_the_network);
    tcase_add_test(tc, labels_select_table_rows);
    tcase_add_test(tc, sampler_labels_match_per_row_evaluation);
    tcase_add_test(tc, guidance_mixes_conditional_and_unconditional);
    tcase_add_test(tc, dropout_ends_and_batches);
    tcase_add_test(tc, labelled_batch_calls);
    tcase_add_test(tc, labelled_checkpoints);
    tcase_add_test(tc, flow_on_labelled_network);
    tcase_add_test(tc, mixture_is_the_samplers_ground_truth);
    suite_add_tcase(s, tc);
    return s;
}
