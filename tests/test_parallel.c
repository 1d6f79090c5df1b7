/*
 * test_parallel.c -- gradient accumulation and data-parallel training
 * (cem_trainer_set_reduce) without MPI: ranks are threads of this process,
 * and the reduce callback sums their micro-batches through shared memory,
 * in micro-batch order (bitwise one trainer) or not (round-off).  The MPI
 * layer (examples/mpi/) is checked by tests/check_mpi.sh.
 */
#include "tests.h"

#include <pthread.h>

enum { PN = 256, PD = 2, PA = 6 }; /* data rows, dimension, micro-batches */

static float pdata[PN * PD];

static void parallel_data(void)
{
    for (int i = 0; i < PN; i++) {
        double a = 6.283185307179586 * (i + 0.5) / PN;
        pdata[i * PD] = (float)cos(a);
        pdata[i * PD + 1] = (float)sin(a);
    }
}

/* A small default-recipe network and its trainer (BATCH 60, THREADS 1). */
static cem_trainer_t *small_trainer(int accumulate)
{
    cem_model_t *m;
    ck_assert_int_eq(cem_model_create_mlp(&m, PD, CEM_TARGET_CEM), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 32), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_DEPTH, 2), CEM_OK);
    cem_trainer_t *tr;
    ck_assert_int_eq(cem_trainer_create(&tr, m, pdata, PN, PD), CEM_OK);
    cem_model_free(m);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 60), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_THREADS, 1), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_ACCUMULATE, accumulate), CEM_OK);
    return tr;
}

static float *params_of(cem_trainer_t *tr, int ema)
{
    cem_model_t *m = cem_trainer_model(tr);
    size_t np = cem_model_param_count(m);
    float *p = malloc(sizeof(float) * np);
    ck_assert_int_eq(cem_model_get_params(m, ema, p, np), CEM_OK);
    return p;
}

/* Accumulation: the loss of a batch computed in 1, 4 or 60 micro-batches
 * is the same number to round-off, and so is its gradient; a micro-batch
 * count above half the batch leaves some empty. */
START_TEST(accumulation_is_the_same_batch)
{
    parallel_data();
    enum { B = 40 };
    float x0[B * PD], z[B * PD];
    double t[B];
    for (int i = 0; i < B; i++) {
        x0[i * PD] = pdata[(7 * i % PN) * PD];
        x0[i * PD + 1] = pdata[(7 * i % PN) * PD + 1];
        z[i * PD] = (float)sin(1.3 * i);
        z[i * PD + 1] = (float)cos(0.7 * i);
        t[i] = 1e-3 * pow(1e4, (i + 0.5) / B);
    }
    cem_trainer_t *tr = small_trainer(1);
    const size_t np = cem_model_param_count(cem_trainer_model(tr));
    float *g1 = malloc(sizeof(float) * np), *g2 = malloc(sizeof(float) * np);
    double l1, l2;
    ck_assert_int_eq(cem_trainer_loss_batch(tr, B, x0, t, z, &l1, g1), CEM_OK);
    const int As[3] = {4, 30, 60};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_ACCUMULATE, As[k]), CEM_OK);
        ck_assert_int_eq(cem_trainer_loss_batch(tr, B, x0, t, z, &l2, g2), CEM_OK);
        ck_assert_msg(fabs(l2 - l1) <= 1e-6 * fabs(l1), "A = %d: loss %.9g vs %.9g", As[k], l2, l1);
        double gmax = 0, emax = 0;
        for (size_t i = 0; i < np; i++) {
            gmax = fmax(gmax, fabs(g1[i]));
            emax = fmax(emax, fabs((double)g2[i] - g1[i]));
        }
        ck_assert_msg(emax <= 1e-5 * gmax, "A = %d: gradient differs by %g of %g", As[k], emax,
                      gmax);
    }
    free(g1);
    free(g2);
    cem_trainer_free(tr);
}
END_TEST

/* The ranks' meeting point: one slot per micro-batch, filled by its rank,
 * then summed by every rank (in micro-batch order, or in reverse for the
 * unordered reduction). */
typedef struct {
    pthread_barrier_t bar;
    float *grad;   /* PA x np */
    double *stats; /* PA x m */
    size_t np, m;
    int reverse;
    int fail_rank; /* a rank whose callback fails (-1: none) */
} meeting;

typedef struct {
    meeting *mt;
    cem_trainer_t *tr;
    int rank;
    long steps;
    int status;
} rank_job;

static int reduce_cb(float *grad, size_t n, double *stats, size_t m, int first, int parts,
                     void *user)
{
    rank_job *rj = user;
    meeting *mt = rj->mt;
    if (n != mt->np || m != mt->m)
        return 1;
    memcpy(mt->grad + (size_t)first * n, grad, sizeof(float) * n * (size_t)parts);
    memcpy(mt->stats + (size_t)first * m, stats, sizeof(double) * m * (size_t)parts);
    pthread_barrier_wait(&mt->bar);
    for (int q = 0; q < PA; q++) {
        int k = mt->reverse ? PA - 1 - q : q;
        const float *g = mt->grad + (size_t)k * n;
        const double *s = mt->stats + (size_t)k * m;
        for (size_t i = 0; i < n; i++)
            grad[i] = q ? grad[i] + g[i] : g[i];
        for (size_t i = 0; i < m; i++)
            stats[i] = q ? stats[i] + s[i] : s[i];
    }
    pthread_barrier_wait(&mt->bar); /* every rank has read the slots */
    return rj->rank == mt->fail_rank;
}

static void *rank_main(void *arg)
{
    rank_job *rj = arg;
    rj->status = cem_trainer_run(rj->tr, rj->steps, NULL);
    return NULL;
}

static int reduce_len_cb(float *grad, size_t n, double *stats, size_t m, int first, int parts,
                         void *user)
{
    (void)grad;
    (void)n;
    (void)stats;
    (void)first;
    (void)parts;
    *(size_t *)user = m;
    return 1; /* fails: the step is not taken */
}

/* The stats' length, the library's: learnt from a failing one-rank step,
 * which must change nothing. */
static size_t stats_len(void)
{
    size_t m = 0;
    cem_trainer_t *probe = small_trainer(PA);
    ck_assert_int_eq(cem_trainer_set_reduce(probe, 0, 1, reduce_len_cb, &m), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(probe, 1, NULL), CEM_ERR_REDUCE);
    ck_assert_ptr_nonnull(strstr(cem_trainer_errmsg(probe), "reduce callback of rank 0 of 1"));
    ck_assert_int_eq(cem_trainer_steps(probe), 0);
    ck_assert(m >= 1 && m <= 1024);
    cem_trainer_free(probe);
    return m;
}

/* world trainers made alike, `steps` steps as ranks of one job. */
static void run_world(cem_trainer_t **trs, int world, long steps, int reverse, int fail_rank,
                      int *status)
{
    meeting mt;
    mt.np = cem_model_param_count(cem_trainer_model(trs[0]));
    mt.m = stats_len();
    mt.reverse = reverse;
    mt.fail_rank = fail_rank;
    mt.grad = malloc(sizeof(float) * PA * mt.np);
    mt.stats = malloc(sizeof(double) * PA * mt.m);
    pthread_barrier_init(&mt.bar, NULL, (unsigned)world);
    rank_job rj[4];
    pthread_t th[4];
    for (int r = 0; r < world; r++) {
        rj[r] = (rank_job){&mt, trs[r], r, steps, -99};
        ck_assert_int_eq(cem_trainer_set_reduce(trs[r], r, world, reduce_cb, &rj[r]), CEM_OK);
    }
    for (int r = 0; r < world; r++)
        ck_assert_int_eq(pthread_create(&th[r], NULL, rank_main, &rj[r]), 0);
    for (int r = 0; r < world; r++) {
        pthread_join(th[r], NULL);
        status[r] = rj[r].status;
    }
    pthread_barrier_destroy(&mt.bar);
    free(mt.grad);
    free(mt.stats);
}

/* Two and three ranks with the ordered reduction give bitwise the weights
 * of one trainer with the same ACCUMULATE; an unordered one equal to
 * round-off; a failing callback fails the step on every rank and leaves
 * the trainers as they were. */
START_TEST(ranks_equal_one_trainer)
{
    parallel_data();
    enum { STEPS = 5 };
    cem_trainer_t *one = small_trainer(PA);
    ck_assert_int_eq(cem_trainer_run(one, STEPS, NULL), CEM_OK);
    float *want = params_of(one, 0), *want_ema = params_of(one, 1);
    const size_t np = cem_model_param_count(cem_trainer_model(one));
    long count[CEM_TRAINER_BINS], count2[CEM_TRAINER_BINS];
    double mean[CEM_TRAINER_BINS], mean2[CEM_TRAINER_BINS];
    ck_assert_int_eq(cem_trainer_time_bins_n(one, CEM_TRAINER_BINS, mean, count, NULL, 0), CEM_OK);

    for (int world = 1; world <= 3; world++)
        for (int reverse = 0; reverse <= 1; reverse++) {
            cem_trainer_t *trs[3];
            int status[3];
            for (int r = 0; r < world; r++)
                trs[r] = small_trainer(PA);
            run_world(trs, world, STEPS, reverse, -1, status);
            for (int r = 0; r < world; r++) {
                ck_assert_int_eq(status[r], CEM_OK);
                ck_assert_int_eq(cem_trainer_steps(trs[r]), STEPS);
                float *got = params_of(trs[r], 0), *got_ema = params_of(trs[r], 1);
                if (!reverse) {
                    ck_assert_int_eq(memcmp(got, want, sizeof(float) * np), 0);
                    ck_assert_int_eq(memcmp(got_ema, want_ema, sizeof(float) * np), 0);
                    ck_assert_int_eq(cem_trainer_time_bins_n(trs[r], CEM_TRAINER_BINS, mean2,
                                                             count2, NULL, 0), CEM_OK);
                    ck_assert_int_eq(memcmp(count, count2, sizeof count), 0);
                    ck_assert_int_eq(memcmp(mean, mean2, sizeof mean), 0);
                } else { /* round-off: 5 Adam steps of lr 1e-3 move a weight ~5e-3 */
                    double e = 0;
                    for (size_t k = 0; k < np; k++)
                        e = fmax(e, fabs((double)got[k] - want[k]));
                    ck_assert_msg(e <= 1e-5, "world %d, unordered: max |dw| %g", world, e);
                }
                free(got);
                free(got_ema);
            }
            for (int r = 0; r < world; r++)
                cem_trainer_free(trs[r]);
        }

    /* a failing callback on rank 1 of 2 fails that rank's step alone:
     * nothing changes there */
    cem_trainer_t *trs[2] = {small_trainer(PA), small_trainer(PA)};
    float *before = params_of(trs[1], 0);
    int status[2];
    run_world(trs, 2, 1, 0, 1, status);
    ck_assert_int_eq(status[0], CEM_OK);
    ck_assert_int_eq(status[1], CEM_ERR_REDUCE);
    ck_assert_int_eq(cem_trainer_steps(trs[1]), 0);
    float *after = params_of(trs[1], 0);
    ck_assert_int_eq(memcmp(before, after, sizeof(float) * np), 0);
    free(before);
    free(after);
    cem_trainer_free(trs[0]);
    cem_trainer_free(trs[1]);
    free(want);
    free(want_ema);
    cem_trainer_free(one);
}
END_TEST

/* Checkpoints hold no rank: 3 steps by two ranks, saved by rank 0, then 3
 * more by one trainer give bitwise 6 uninterrupted steps of one. */
START_TEST(resume_across_world_sizes)
{
    parallel_data();
    cem_trainer_t *one = small_trainer(PA);
    ck_assert_int_eq(cem_trainer_run(one, 6, NULL), CEM_OK);
    float *want = params_of(one, 0);
    const size_t np = cem_model_param_count(cem_trainer_model(one));
    cem_trainer_t *trs[2] = {small_trainer(PA), small_trainer(PA)};
    int status[2];
    run_world(trs, 2, 3, 0, -1, status);
    ck_assert_int_eq(status[0], CEM_OK);
    void *buf;
    size_t size;
    ck_assert_int_eq(cem_trainer_save_buffer(trs[0], &buf, &size), CEM_OK);
    cem_trainer_t *resumed;
    ck_assert_int_eq(cem_trainer_load_buffer(&resumed, buf, size, pdata, PN, PD), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(resumed, CEM_TRAINER_THREADS, 1), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(resumed, 3, NULL), CEM_OK);
    float *got = params_of(resumed, 0);
    ck_assert_int_eq(memcmp(got, want, sizeof(float) * np), 0);
    free(got);
    free(want);
    cem_free(buf);
    cem_trainer_free(resumed);
    cem_trainer_free(trs[0]);
    cem_trainer_free(trs[1]);
    cem_trainer_free(one);
}
END_TEST

START_TEST(set_reduce_arguments)
{
    parallel_data();
    cem_trainer_t *tr = small_trainer(2);
    ck_assert_int_eq(cem_trainer_set_reduce(NULL, 0, 1, NULL, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_trainer_set_reduce(tr, 0, 0, reduce_cb, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_trainer_set_reduce(tr, 2, 2, reduce_cb, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_trainer_set_reduce(tr, -1, 2, reduce_cb, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_trainer_set_reduce(tr, 0, 2, NULL, NULL), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_trainer_errmsg(tr), "world 2"));
    ck_assert_int_eq(cem_trainer_set_reduce(tr, 0, 1, NULL, NULL), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(tr, 1, NULL), CEM_OK);
    /* the batch calls never reduce: a trainer of rank 1 of 3 computes the
     * caller's whole batch */
    ck_assert_int_eq(cem_trainer_set_reduce(tr, 1, 3, reduce_len_cb, NULL), CEM_OK);
    float x0[4] = {1, 0, 0, 1}, z[4] = {0.1f, 0.2f, -0.3f, 0.4f};
    double t[2] = {0.01, 1}, l;
    ck_assert_int_eq(cem_trainer_step_batch(tr, 2, x0, t, z, &l), CEM_OK);
    ck_assert_int_eq(cem_trainer_steps(tr), 2);
    double v;
    ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_ACCUMULATE, &v), CEM_OK);
    ck_assert_double_eq(v, 2);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_ACCUMULATE, 0), CEM_ERR_RANGE);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_ACCUMULATE, 4097), CEM_ERR_RANGE);
    cem_trainer_free(tr);
}
END_TEST

/* Caller batches shorter than BATCH split differently (an odd one's
 * micro-batches round to other even rows): every B <= BATCH at several A
 * fits the workspace and gives the loss of A = 1 to round-off.  (The
 * workspace was once sized for BATCH's own split: B = 3 of BATCH 4 at
 * A = 2 overflowed it; ASan runs this suite.) */
START_TEST(short_caller_batches_fit)
{
    parallel_data();
    enum { BMAX = 37 };
    float x0[BMAX * PD], z[BMAX * PD];
    double t[BMAX];
    for (int i = 0; i < BMAX; i++) {
        x0[i * PD] = pdata[(5 * i % PN) * PD];
        x0[i * PD + 1] = pdata[(5 * i % PN) * PD + 1];
        z[i * PD] = (float)sin(0.9 * i);
        z[i * PD + 1] = (float)cos(1.7 * i);
        t[i] = 1e-3 * pow(1e4, (i + 0.5) / BMAX);
    }
    const int As[5] = {1, 2, 3, 4, 7};
    double ref[BMAX + 1];
    for (int k = 0; k < 5; k++) {
        cem_trainer_t *tr = small_trainer(1);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, BMAX), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_ACCUMULATE, As[k]), CEM_OK);
        for (int B = 1; B <= BMAX; B++) {
            double l;
            ck_assert_int_eq(cem_trainer_loss_batch(tr, B, x0, t, z, &l, NULL), CEM_OK);
            if (k == 0)
                ref[B] = l;
            else
                ck_assert_msg(fabs(l - ref[B]) <= 1e-6 * fabs(ref[B]), "A = %d, B = %d: %.9g vs "
                              "%.9g", As[k], B, l, ref[B]);
        }
        double l;
        ck_assert_int_eq(cem_trainer_step_batch(tr, 3, x0, t, z, &l), CEM_OK);
        cem_trainer_free(tr);
    }
}
END_TEST

Suite *suite_parallel(void)
{
    Suite *s = suite_create("parallel");
    TCase *tc = tcase_create("parallel");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, accumulation_is_the_same_batch);
    tcase_add_test(tc, ranks_equal_one_trainer);
    tcase_add_test(tc, resume_across_world_sizes);
    tcase_add_test(tc, set_reduce_arguments);
    tcase_add_test(tc, short_caller_batches_fit);
    suite_add_tcase(s, tc);
    return s;
}
