/*
 * test_threads.c -- what the header's thread-safety paragraph allows, done
 * from several threads at once: samplers and flows created and run
 * concurrently on one model of each kind, trainers (each with its own team) at once,
 * references taken and dropped from several threads, and a handle's message
 * read while other threads fail const calls on it.  Each result is compared
 * bitwise with the same work done on one thread.  `make check-tsan` runs
 * this suite (with all the others) under ThreadSanitizer, which turns any
 * data race into a failure.
 */
#include "tests.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NT = 4, ROWS = 300, D = 3, NPTS = 97 };

static float g_pts[NPTS * D];

static void make_points(void)
{
    for (int i = 0; i < NPTS * D; i++)
        g_pts[i] = (float)sin(0.77 * i + 0.1);
}

/* model kind k: 0 a network, 1 the empirical closed form, 2 the Gaussian */
static cem_model_t *make_model(int k)
{
    cem_model_t *m = NULL;
    static const float mean[D] = {0.5f, -1.0f, 0.25f};
    static const float cov[D * D] = {1.0f, 0.3f, 0.0f, 0.3f, 0.5f, 0.1f, 0.0f, 0.1f, 0.2f};
    if (k == 0) {
        ck_assert_int_eq(cem_model_create_mlp(&m, D, CEM_TARGET_CEM), CEM_OK);
        cem_model_set(m, CEM_MODEL_WIDTH, 32);
        cem_model_set(m, CEM_MODEL_DEPTH, 2);
    } else if (k == 1) {
        ck_assert_int_eq(cem_model_create_empirical(&m, g_pts, NPTS, D), CEM_OK);
    } else {
        ck_assert_int_eq(cem_model_create_gaussian(&m, mean, cov, D), CEM_OK);
    }
    return m;
}

typedef struct {
    cem_model_t *m;
    int seed, threads, st;
    float out[ROWS * D];
} sample_job;

/* creates its own sampler on the shared model, runs it, frees it */
static void *sample_in_thread(void *p)
{
    sample_job *j = p;
    cem_sampler_t *s;
    j->st = cem_sampler_create(&s, j->m);
    if (j->st)
        return NULL;
    if ((j->st = cem_sampler_set(s, CEM_SAMPLER_STEPS, 20)) ||
        (j->st = cem_sampler_set(s, CEM_SAMPLER_SEED, j->seed)) ||
        (j->st = cem_sampler_set(s, CEM_SAMPLER_THREADS, j->threads)))
        goto out;
    j->st = cem_sampler_run(s, ROWS, j->out);
out:
    cem_sampler_free(s);
    return NULL;
}

START_TEST(samplers_on_one_model_of_each_kind)
{
    make_points();
    static sample_job serial[NT], par[NT];
    for (int k = 0; k < 3; k++) {
        cem_model_t *m = make_model(k);
        for (int t = 0; t < NT; t++) {
            serial[t] = (sample_job){.m = m, .seed = t, .threads = 1 + t % 2, .st = -99};
            sample_in_thread(&serial[t]);
            ck_assert_int_eq(serial[t].st, CEM_OK);
            par[t] = serial[t];
            par[t].st = -99;
            memset(par[t].out, 0, sizeof par[t].out);
        }
        pthread_t th[NT];
        for (int t = 0; t < NT; t++)
            ck_assert_int_eq(pthread_create(&th[t], NULL, sample_in_thread, &par[t]), 0);
        for (int t = 0; t < NT; t++) {
            pthread_join(th[t], NULL);
            ck_assert_int_eq(par[t].st, CEM_OK);
            ck_assert_msg(memcmp(par[t].out, serial[t].out, sizeof par[t].out) == 0,
                          "kind %d thread %d: samples differ from the serial run", k, t);
        }
        cem_model_free(m);
    }
}
END_TEST

typedef struct {
    cem_model_t *m;
    int exact, threads, st;
    double logp[NPTS];
    float z[NPTS * D];
} flow_job;

/* creates its own flow on the shared model: log p and the latents */
static void *flow_in_thread(void *p)
{
    flow_job *j = p;
    cem_flow_t *f;
    if ((j->st = cem_flow_create(&f, j->m)))
        return NULL;
    if (!(j->st = cem_flow_set(f, CEM_FLOW_THREADS, j->threads)) &&
        !(j->st = cem_flow_set(f, CEM_FLOW_T_MIN, 0.05)) &&
        !(j->st = cem_flow_set(f, CEM_FLOW_EXACT_DIM, j->exact ? 64 : 0)) &&
        !(j->st = cem_flow_logprob(f, NPTS, g_pts, j->logp, NULL)))
        j->st = cem_flow_encode(f, NPTS, g_pts, j->z);
    cem_flow_free(f);
    return NULL;
}

START_TEST(flows_on_one_model_of_each_kind)
{
    make_points();
    static flow_job serial[NT], par[NT];
    for (int k = 0; k < 3; k++) {
        cem_model_t *m = make_model(k);
        for (int t = 0; t < NT; t++) {
            serial[t] = (flow_job){.m = m, .exact = t % 2, .threads = 1 + t / 2, .st = -99};
            flow_in_thread(&serial[t]);
            ck_assert_int_eq(serial[t].st, CEM_OK);
            par[t] = serial[t];
            par[t].st = -99;
            memset(par[t].logp, 0, sizeof par[t].logp);
        }
        pthread_t th[NT];
        for (int t = 0; t < NT; t++)
            ck_assert_int_eq(pthread_create(&th[t], NULL, flow_in_thread, &par[t]), 0);
        for (int t = 0; t < NT; t++) {
            pthread_join(th[t], NULL);
            ck_assert_int_eq(par[t].st, CEM_OK);
            ck_assert_msg(memcmp(par[t].logp, serial[t].logp, sizeof par[t].logp) == 0 &&
                          memcmp(par[t].z, serial[t].z, sizeof par[t].z) == 0,
                          "kind %d thread %d: the flow differs from the serial run", k, t);
        }
        cem_model_free(m);
    }
}
END_TEST

typedef struct {
    int seed, st;
    double loss;
    float params[4096];
    size_t np;
} train_job;

/* a model and a trainer of its own (2 threads), 6 steps, the parameters */
static void *train_in_thread(void *p)
{
    train_job *j = p;
    cem_model_t *m = make_model(0);
    cem_trainer_t *tr;
    if ((j->st = cem_trainer_create(&tr, m, g_pts, NPTS, D)))
        goto out_model;
    if ((j->st = cem_trainer_set(tr, CEM_TRAINER_BATCH, 32)) ||
        (j->st = cem_trainer_set(tr, CEM_TRAINER_SEED, j->seed)) ||
        (j->st = cem_trainer_set(tr, CEM_TRAINER_THREADS, 2)) ||
        (j->st = cem_trainer_run(tr, 6, &j->loss)))
        goto out;
    j->np = cem_model_param_count(m);
    if (j->np > sizeof j->params / sizeof j->params[0])
        j->st = -98;
    else
        j->st = cem_model_get_params(m, 0, j->params, j->np);
out:
    cem_trainer_free(tr);
out_model:
    cem_model_free(m);
    return NULL;
}

START_TEST(trainers_at_once)
{
    make_points();
    static train_job serial[NT], par[NT];
    for (int t = 0; t < NT; t++) {
        serial[t] = (train_job){.seed = t, .st = -99};
        train_in_thread(&serial[t]);
        ck_assert_int_eq(serial[t].st, CEM_OK);
        par[t] = (train_job){.seed = t, .st = -99};
    }
    pthread_t th[NT];
    for (int t = 0; t < NT; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, train_in_thread, &par[t]), 0);
    for (int t = 0; t < NT; t++) {
        pthread_join(th[t], NULL);
        ck_assert_int_eq(par[t].st, CEM_OK);
        ck_assert_uint_eq(par[t].np, serial[t].np);
        ck_assert_msg(memcmp(par[t].params, serial[t].params, sizeof(float) * par[t].np) == 0 &&
                          par[t].loss == serial[t].loss,
                      "trainer %d: parameters differ from the serial run", t);
    }
}
END_TEST

static void *retain_free_loop(void *p)
{
    cem_model_t *m = p;
    for (int i = 0; i < 2000; i++) {
        cem_model_retain(m);
        cem_model_free(m);
    }
    return NULL;
}

/* references taken and dropped from several threads (each thread holds
 * one of its own throughout, as a host that shares the model would): the
 * model survives them all and is freed once, at the last reference */
static void *hold_and_loop(void *p)
{
    cem_model_t *m = p;
    retain_free_loop(m);
    cem_model_free(m); /* the reference the main thread took for this thread */
    return NULL;
}

START_TEST(references_from_several_threads)
{
    make_points();
    for (int k = 0; k < 3; k++) {
        cem_model_t *m = make_model(k);
        pthread_t th[NT];
        for (int t = 0; t < NT; t++) {
            cem_model_retain(m);
            ck_assert_int_eq(pthread_create(&th[t], NULL, hold_and_loop, m), 0);
        }
        retain_free_loop(m);
        for (int t = 0; t < NT; t++)
            pthread_join(th[t], NULL);
        /* only the creator's reference is left: the model still answers,
         * and its options can be set (no engine holds it) */
        float x[D] = {0.1f, 0.2f, 0.3f}, f[D];
        ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 1, x, 0.5, f), CEM_OK);
        ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MIN, 1e-3), CEM_OK);
        cem_model_free(m); /* the last: ASan/LSan see it freed exactly once */
    }
}
END_TEST

typedef struct {
    cem_model_t *m;
    int failures_ok;
    char last[256];
} fail_job;

/* const calls that fail: each records its failure in this thread's
 * cem_last_error(), none in the model's message */
static void *fail_const_calls(void *p)
{
    fail_job *j = p;
    float f[D];
    for (int i = 0; i < 500; i++) {
        int st = cem_model_eval_at(j->m, CEM_TARGET_CEM, 1, NULL, 0.5, f);
        j->failures_ok += st == CEM_ERR_ARG && strstr(cem_last_error(), "cem_model_eval") != NULL;
    }
    snprintf(j->last, sizeof j->last, "%s", cem_last_error());
    return NULL;
}

START_TEST(messages_read_while_other_threads_fail)
{
    make_points();
    cem_model_t *m = make_model(1);
    /* a modifying call fails first: the model keeps that message */
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MIN, -1.0), CEM_ERR_RANGE);
    char before[512];
    snprintf(before, sizeof before, "%s", cem_model_errmsg(m));
    ck_assert(before[0] != '\0');
    static fail_job jobs[NT];
    pthread_t th[NT];
    for (int t = 0; t < NT; t++) {
        jobs[t] = (fail_job){.m = m};
        ck_assert_int_eq(pthread_create(&th[t], NULL, fail_const_calls, &jobs[t]), 0);
    }
    int same = 0;
    for (int i = 0; i < 2000; i++) /* read while they fail */
        same += strcmp(cem_model_errmsg(m), before) == 0;
    for (int t = 0; t < NT; t++) {
        pthread_join(th[t], NULL);
        ck_assert_int_eq(jobs[t].failures_ok, 500);
        ck_assert_ptr_nonnull(strstr(jobs[t].last, "cem_model_eval"));
    }
    ck_assert_int_eq(same, 2000);
    ck_assert_str_eq(cem_model_errmsg(m), before);
    /* this thread's own last error is still the failed set's */
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "T_MIN"));
    cem_model_free(m);
}
END_TEST

Suite *suite_threads(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, samplers_on_one_model_of_each_kind);
    tcase_add_test(tc, flows_on_one_model_of_each_kind);
    tcase_add_test(tc, trainers_at_once);
    tcase_add_test(tc, references_from_several_threads);
    tcase_add_test(tc, messages_read_while_other_threads_fail);
    suite_add_tcase(s, tc);
    return s;
}
