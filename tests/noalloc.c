/*
 * noalloc.c -- no allocation inside a training or sampling step.
 *
 * This program replaces malloc and friends with counting wrappers around
 * glibc's own allocator, so every heap allocation made by the library (and
 * by OpenBLAS) is seen.  After a warm-up call (BLAS initialises its buffers
 * on first use), it counts the allocations made by cem_trainer_run (a
 * labelled trainer's too, and one in micro-batches, alone or through a
 * reduce callback), cem_sampler_run, cem_sampler_run_labelled with
 * guidance, cem_sampler_impute (RePaint with jumps, reconstruction
 * guidance) and the flow's runs, on 1 and 2 threads, and fails if there is
 * any.
 */
#include <cemdiff.h>

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_int counting;
static atomic_long count;

static void seen(void)
{
    if (atomic_load(&counting))
        atomic_fetch_add(&count, 1);
}

void *malloc(size_t n) { seen(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { seen(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { seen(); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
int posix_memalign(void **p, size_t align, size_t n)
{
    seen();
    *p = __libc_memalign(align, n);
    return *p ? 0 : 12;
}
void *aligned_alloc(size_t align, size_t n) { seen(); return __libc_memalign(align, n); }
void *memalign(size_t align, size_t n);
void *memalign(size_t align, size_t n) { seen(); return __libc_memalign(align, n); }

static int passed, failed;

static void expect_none(const char *what, long n)
{
    if (n == 0) {
        passed++;
        printf("ok - %s: no allocation\n", what);
    } else {
        failed++;
        printf("not ok - %s: %ld allocations\n", what, n);
    }
}

#define CHECK(call)                                                                  \
    do {                                                                             \
        if ((call) != CEM_OK) {                                                      \
            printf("not ok - %s: %s\n", #call, cem_last_error());                     \
            return 1;                                                                \
        }                                                                            \
    } while (0)

enum { N = 2000, D = 2 };

/* Trains a new width-64 CEM MLP of parameterisation `param` on data,
 * counting the allocations of 5 steps on 1 and on 2 threads. */
static int train_counted(cem_model_t **out, cem_param param, const float *data)
{
    cem_model_t *m;
    cem_trainer_t *tr;
    CHECK(cem_model_create_mlp(&m, D, CEM_TARGET_CEM));
    CHECK(cem_model_set(m, CEM_MODEL_WIDTH, 64));
    CHECK(cem_model_set(m, CEM_MODEL_PARAM, param));
    CHECK(cem_trainer_create(&tr, m, data, N, D));
    CHECK(cem_trainer_set(tr, CEM_TRAINER_BATCH, 256));
    CHECK(cem_trainer_set(tr, CEM_TRAINER_CLIP, 1.0));
    for (int threads = 1; threads <= 2; threads++) {
        CHECK(cem_trainer_set(tr, CEM_TRAINER_THREADS, threads));
        CHECK(cem_trainer_run(tr, 2, NULL)); /* warm-up */
        atomic_store(&counting, 1);
        CHECK(cem_trainer_run(tr, 5, NULL));
        atomic_store(&counting, 0);
        char what[96];
        snprintf(what, sizeof what, "cem_trainer_run (PARAM %d, 5 steps, %d threads)",
                 (int)param, threads);
        expect_none(what, atomic_exchange(&count, 0));
    }
    cem_trainer_free(tr);
    *out = m;
    return 0;
}

/* A labelled trainer (3 classes, every seventh row unlabelled, the label
 * dropout at its default) on a new width-64 CEM MLP: 5 steps on 1 and on 2
 * threads, counted. */
static int train_labelled_counted(cem_model_t **out, const float *data, const int *labels)
{
    cem_model_t *m;
    cem_trainer_t *tr;
    CHECK(cem_model_create_mlp(&m, D, CEM_TARGET_CEM));
    CHECK(cem_model_set(m, CEM_MODEL_WIDTH, 64));
    CHECK(cem_model_set(m, CEM_MODEL_LABELS, 3));
    CHECK(cem_trainer_create_labelled(&tr, m, data, labels, N, D));
    CHECK(cem_trainer_set(tr, CEM_TRAINER_BATCH, 256));
    for (int threads = 1; threads <= 2; threads++) {
        CHECK(cem_trainer_set(tr, CEM_TRAINER_THREADS, threads));
        CHECK(cem_trainer_run(tr, 2, NULL)); /* warm-up */
        atomic_store(&counting, 1);
        CHECK(cem_trainer_run(tr, 5, NULL));
        atomic_store(&counting, 0);
        char what[96];
        snprintf(what, sizeof what, "cem_trainer_run (labelled, 3 classes, 5 steps, %d threads)",
                 threads);
        expect_none(what, atomic_exchange(&count, 0));
    }
    cem_trainer_free(tr);
    *out = m;
    return 0;
}

/* The reduce callback of one rank alone (world 1): its parts added in
 * order, in place, into block 0 -- the ordered reduction with no other rank
 * to wait for.  It allocates nothing itself, so any allocation counted is
 * the library's. */
static int sum_parts(float *grad, size_t n, double *stats, size_t m, int first, int parts,
                     void *user)
{
    (void)first;
    long *calls = user;
    (*calls)++;
    for (int p = 1; p < parts; p++) {
        for (size_t k = 0; k < n; k++)
            grad[k] += grad[(size_t)p * n + k];
        for (size_t k = 0; k < m; k++)
            stats[k] += stats[(size_t)p * m + k];
    }
    return 0;
}

/* Gradient accumulation: a width-64 CEM MLP trained with ACCUMULATE 4 (and
 * 256, where half the micro-batches of the batch of 256 are empty), alone
 * and then through sum_parts at world 1, 5 steps on 1 and on 2 threads,
 * counted. */
static int train_accumulate_counted(const float *data)
{
    cem_model_t *m;
    cem_trainer_t *tr;
    CHECK(cem_model_create_mlp(&m, D, CEM_TARGET_CEM));
    CHECK(cem_model_set(m, CEM_MODEL_WIDTH, 64));
    CHECK(cem_trainer_create(&tr, m, data, N, D));
    CHECK(cem_trainer_set(tr, CEM_TRAINER_BATCH, 256));
    const int As[2] = {4, 256};
    for (int a = 0; a < 2; a++)
        for (int shared = 0; shared < 2; shared++)
            for (int threads = 1; threads <= 2; threads++) {
                long calls = 0;
                CHECK(cem_trainer_set(tr, CEM_TRAINER_ACCUMULATE, As[a]));
                CHECK(cem_trainer_set(tr, CEM_TRAINER_THREADS, threads));
                CHECK(cem_trainer_set_reduce(tr, 0, 1, shared ? sum_parts : NULL, &calls));
                CHECK(cem_trainer_run(tr, 2, NULL)); /* warm-up */
                atomic_store(&counting, 1);
                CHECK(cem_trainer_run(tr, 5, NULL));
                atomic_store(&counting, 0);
                if (calls != (shared ? 7 : 0)) {
                    printf("not ok - the reduce callback ran %ld times in 7 steps\n", calls);
                    return 1;
                }
                char what[128];
                snprintf(what, sizeof what, "cem_trainer_run (ACCUMULATE %d%s, 5 steps, %d "
                         "threads)", As[a], shared ? ", a reduce callback at world 1" : "",
                         threads);
                expect_none(what, atomic_exchange(&count, 0));
            }
    cem_trainer_free(tr);
    cem_model_free(m);
    return 0;
}

/* Labelled sampling with guidance, and imputation (RePaint with jumps;
 * reconstruction guidance, whose plan holds the Jacobian's workspace), on
 * model m of `classes` classes (0: none), 1 and 2 threads. */
static int labelled_and_impute_counted(cem_model_t *m, int classes, const char *name,
                                       const float *data)
{
    static float out[1000 * D], partial[1000 * D];
    static int lab[1000];
    for (int i = 0; i < 1000; i++)
        lab[i] = classes ? i % (classes + 1) - 1 : CEM_LABEL_NONE;
    for (int i = 0; i < 1000 * D; i++) /* every third coordinate missing */
        partial[i] = i % 3 == 1 ? NAN : data[i];
    for (int threads = 1; threads <= 2; threads++) {
        cem_sampler_t *s;
        char what[128];
        CHECK(cem_sampler_create(&s, m));
        CHECK(cem_sampler_set(s, CEM_SAMPLER_THREADS, threads));
        CHECK(cem_sampler_set(s, CEM_SAMPLER_STEPS, 20));
        if (classes) {
            CHECK(cem_sampler_set(s, CEM_SAMPLER_GUIDANCE, 2));
            CHECK(cem_sampler_run_labelled(s, 0, 300, lab, out)); /* warm-up */
            atomic_store(&counting, 1);
            CHECK(cem_sampler_run_labelled(s, 0, 1000, lab, out));
            atomic_store(&counting, 0);
            snprintf(what, sizeof what, "cem_sampler_run_labelled (%s model, GUIDANCE 2, %d "
                     "threads)", name, threads);
            expect_none(what, atomic_exchange(&count, 0));
        }
        /* RePaint, 3 jumps of 4 steps, with the rows' classes */
        CHECK(cem_sampler_set(s, CEM_SAMPLER_JUMPS, 3));
        CHECK(cem_sampler_set(s, CEM_SAMPLER_JUMP_LENGTH, 4));
        CHECK(cem_sampler_impute(s, 0, 300, partial, NULL, lab, out)); /* warm-up */
        atomic_store(&counting, 1);
        CHECK(cem_sampler_impute(s, 0, 1000, partial, NULL, lab, out));
        atomic_store(&counting, 0);
        snprintf(what, sizeof what, "cem_sampler_impute (%s model, REPAINT, 3 jumps of 4%s, %d "
                 "threads)", name, classes ? ", GUIDANCE 2" : "", threads);
        expect_none(what, atomic_exchange(&count, 0));
        /* reconstruction guidance: unlabelled rows */
        CHECK(cem_sampler_set(s, CEM_SAMPLER_IMPUTE, CEM_IMPUTE_RECONSTRUCT));
        CHECK(cem_sampler_set(s, CEM_SAMPLER_JUMPS, 0));
        CHECK(cem_sampler_impute(s, 0, 300, partial, NULL, NULL, out)); /* warm-up */
        atomic_store(&counting, 1);
        CHECK(cem_sampler_impute(s, 0, 1000, partial, NULL, NULL, out));
        atomic_store(&counting, 0);
        snprintf(what, sizeof what, "cem_sampler_impute (%s model, RECONSTRUCT, %d threads)",
                 name, threads);
        expect_none(what, atomic_exchange(&count, 0));
        cem_sampler_free(s);
    }
    return 0;
}

int main(void)
{
    static float data[N * D], out[1000 * D];
    cem_dataset_t *circle;
    cem_model_t *m, *pca, *exact;
    CHECK(cem_dataset_create(&circle, CEM_DATA_CIRCLE, D, 1));
    CHECK(cem_dataset_sample(circle, N, 1, data));
    if (train_counted(&m, CEM_PARAM_PRECOND, data) || train_counted(&pca, CEM_PARAM_PRECOND_PCA, data))
        return 1;
    if (train_accumulate_counted(data))
        return 1;

    /* 300 and 5,000 points: OpenBLAS's dgemm, which the closed forms used
     * before, allocated on both (its small-matrix kernels for the first, its
     * threaded path for the second; linalg.c) */
    static float cloud[5000 * D];
    cem_model_t *big;
    CHECK(cem_dataset_sample(circle, 5000, 2, cloud));
    CHECK(cem_model_create_empirical(&exact, data, 300, D));
    CHECK(cem_model_create_empirical(&big, cloud, 5000, D));
    cem_model_t *models[4] = {m, pca, exact, big};
    const char *names[4] = {"MLP", "MLP PRECOND_PCA", "empirical 300 points",
                            "empirical 5000 points"};
    for (int k = 0; k < 4; k++)
        for (int integ = 0; cem_integrator_name((cem_integrator)integ); integ++)
        for (int threads = 1; threads <= 2; threads++) {
            cem_sampler_t *s;
            CHECK(cem_sampler_create(&s, models[k]));
            CHECK(cem_sampler_set(s, CEM_SAMPLER_THREADS, threads));
            CHECK(cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, integ));
            CHECK(cem_sampler_set(s, CEM_SAMPLER_STEPS, 20));
            CHECK(cem_sampler_set(s, CEM_SAMPLER_TRAJ_ROWS, 4));
            CHECK(cem_sampler_run(s, 300, out)); /* warm-up */
            atomic_store(&counting, 1);
            CHECK(cem_sampler_run(s, 1000, out));
            atomic_store(&counting, 0);
            char what[96];
            snprintf(what, sizeof what, "cem_sampler_run (%s model, integrator %d, %d threads)",
                     names[k], integ, threads);
            expect_none(what, atomic_exchange(&count, 0));
            cem_sampler_free(s);
        }
    /* the flow: log p (exact divergence and Hutchinson's), encode, decode */
    static double lp[200];
    static float z[200 * D];
    cem_model_t *gauss;
    const float mu[D] = {0.5f, -1.0f}, cov[D * D] = {1.0f, 0.25f, 0.25f, 0.5f};
    CHECK(cem_model_create_gaussian(&gauss, mu, cov, D));
    cem_model_t *fmodels[4] = {m, pca, exact, gauss};
    const char *fnames[4] = {"MLP", "MLP PRECOND_PCA", "empirical 300 points", "Gaussian"};
    for (int k = 0; k < 4; k++)
        for (int exact_div = 0; exact_div < 2; exact_div++)
            for (int threads = 1; threads <= 2; threads++) {
                cem_flow_t *f;
                CHECK(cem_flow_create(&f, fmodels[k]));
                CHECK(cem_flow_set(f, CEM_FLOW_THREADS, threads));
                CHECK(cem_flow_set(f, CEM_FLOW_EXACT_DIM, exact_div ? 64 : 0));
                CHECK(cem_flow_set(f, CEM_FLOW_T_MIN, 0.05));
                CHECK(cem_flow_logprob(f, 50, data, lp, NULL)); /* warm-up */
                atomic_store(&counting, 1);
                CHECK(cem_flow_logprob(f, 200, data, lp, NULL));
                CHECK(cem_flow_encode(f, 200, data, z));
                CHECK(cem_flow_decode(f, 200, z, out));
                atomic_store(&counting, 0);
                char what[96];
                snprintf(what, sizeof what, "cem_flow_logprob, _encode, _decode (%s model, %s, "
                         "%d threads)", fnames[k], exact_div ? "exact" : "Hutchinson", threads);
                expect_none(what, atomic_exchange(&count, 0));
                cem_flow_free(f);
            }
    /* labels: a labelled trainer; guided labelled sampling and imputation
     * on the networks and on the exact labelled laws (the empirical law of
     * 300 labelled points, a mixture of 3 Gaussians) */
    static int labels[N];
    for (int i = 0; i < N; i++)
        labels[i] = i % 7 == 6 ? CEM_LABEL_NONE : i % 3;
    cem_model_t *lm, *lemp, *mix;
    if (train_labelled_counted(&lm, data, labels))
        return 1;
    static int lab300[300];
    for (int i = 0; i < 300; i++)
        lab300[i] = i % 3;
    CHECK(cem_model_create_empirical_labelled(&lemp, data, lab300, 300, D));
    const float mmeans[3 * D] = {1, 0, -0.5f, 0.8f, -0.5f, -0.8f};
    const float mcovs[3 * D * D] = {0.1f, 0, 0, 0.02f, 0.05f, 0.01f, 0.01f, 0.05f, 0.2f, 0, 0, 0};
    CHECK(cem_model_create_mixture(&mix, 3, NULL, mmeans, mcovs, D));
    cem_model_t *lmodels[6] = {lm, lemp, mix, m, exact, gauss};
    const int lclasses[6] = {3, 3, 3, 0, 0, 0};
    const char *lnames[6] = {"labelled MLP", "labelled empirical 300 points", "mixture",
                             "MLP", "empirical 300 points", "Gaussian"};
    for (int k = 0; k < 6; k++)
        if (labelled_and_impute_counted(lmodels[k], lclasses[k], lnames[k], data))
            return 1;
    cem_model_free(lm);
    cem_model_free(lemp);
    cem_model_free(mix);
    cem_model_free(gauss);
    cem_model_free(m);
    cem_model_free(pca);
    cem_model_free(exact);
    cem_model_free(big);
    cem_dataset_free(circle);
    printf("noalloc: %d passed, %d failed\n", passed, failed);
    return failed != 0;
}
