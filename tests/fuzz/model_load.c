/*
 * model_load.c -- fuzz target: cem_model_load_buffer on any bytes.
 *
 * cem_model_load on the same bytes in a file must answer the same status.
 * A buffer that loads must give a model that behaves as a model: saved and
 * loaded again (from a buffer and from a file) it saves to the same bytes
 * (saving is deterministic and the file is the whole state), answers every option alike and evaluates to
 * bitwise the same numbers (with its EMA weights and its raw ones); it
 * samples (twice alike), and a tiny training run on it leaves a model that
 * saves and loads again.  A model with classes (format 4) answers each
 * class alike in both twins and refuses a label outside [-1, K); it samples
 * a class per row with guidance (twice alike) and trains labelled.  Each
 * input is loaded as it is and re-sealed with its correct CRC-32 (fuzz.h).
 */
#include "fuzz.h"

/* The twin m2 of m (loaded from m's saved bytes) is m. */
static void compare(cem_model_t *m, cem_model_t *m2)
{
    double o1[2 * CEM_MODEL_LABEL_EMBED], o2[2 * CEM_MODEL_LABEL_EMBED];
    fuzz_model_options(m, o1);
    fuzz_model_options(m2, o2);
    FUZZ_CHECK(memcmp(o1, o2, sizeof o1) == 0);
    FUZZ_CHECK(cem_model_dim(m) == cem_model_dim(m2));
    FUZZ_CHECK(cem_model_target_of(m) == cem_model_target_of(m2));
    FUZZ_CHECK(cem_model_param_count(m) == cem_model_param_count(m2));
    int s1 = 0, s2 = 0;
    float *e1 = fuzz_eval_grid(m, &s1), *e2 = fuzz_eval_grid(m2, &s2);
    if (e1 && e2) {
        FUZZ_CHECK(s1 == s2);
        FUZZ_CHECK(memcmp(e1, e2, sizeof(float) * FUZZ_EVAL_CELLS * (size_t)cem_model_dim(m)) ==
                   0);
    }
    free(e1);
    free(e2);
}

/* The classes of the model (0: none). */
static int classes_of(const cem_model_t *m)
{
    double k = -1;
    FUZZ_CHECK(cem_model_get(m, CEM_MODEL_LABELS, &k) == CEM_OK);
    FUZZ_CHECK(k >= 0 && k <= 65536 && k == floor(k));
    return (int)k;
}

/* Label i of a row: -1 .. K-1 in turn. */
static int label_of(size_t i, int K) { return (int)(i % (size_t)(K + 1)) - 1; }

/* The twins m, m2 answer each class alike (every target, the window's
 * middle time); a label K, outside [-1, K), is refused; a labelled run of
 * 3 rows with guidance gives the same rows twice. */
static void compare_classes(cem_model_t *m, cem_model_t *m2)
{
    const int K = classes_of(m), D = cem_model_dim(m);
    FUZZ_CHECK(classes_of(m2) == K);
    enum { R = FUZZ_EVAL_ROWS };
    float *x = malloc(sizeof(float) * R * (size_t)D), *o1 = malloc(sizeof(float) * R * (size_t)D);
    float *o2 = malloc(sizeof(float) * R * (size_t)D);
    double lo = 0, hi = 0, t[R];
    int lab[R];
    FUZZ_CHECK(cem_model_get(m, CEM_MODEL_T_MIN, &lo) == CEM_OK);
    FUZZ_CHECK(cem_model_get(m, CEM_MODEL_T_MAX, &hi) == CEM_OK);
    if (x && o1 && o2) {
        for (int i = 0; i < R; i++) {
            t[i] = sqrt(lo * hi);
            lab[i] = label_of((size_t)i, K);
            for (int j = 0; j < D; j++)
                x[i * D + j] = (float)(0.5 * (i - 1.5) - 0.125 * j);
        }
        for (int w = CEM_TARGET_CEM; w <= CEM_TARGET_SCORE; w++) {
            int s1 = cem_model_eval_labelled(m, (cem_target)w, R, x, t, lab, o1);
            int s2 = cem_model_eval_labelled(m2, (cem_target)w, R, x, t, lab, o2);
            FUZZ_CHECK(s1 == s2);
            FUZZ_CHECK(s1 == CEM_OK || s1 == CEM_ERR_NUMERIC || s1 == CEM_ERR_NOMEM);
            FUZZ_CHECK(s1 != CEM_OK || memcmp(o1, o2, sizeof(float) * R * (size_t)D) == 0);
        }
        lab[R - 1] = K; /* not a class */
        FUZZ_CHECK(cem_model_eval_labelled(m, CEM_TARGET_CEM, R, x, t, lab, o1) == CEM_ERR_ARG);
    }
    free(x);
    free(o1);
    free(o2);
    cem_sampler_t *s = NULL;
    if (K == 0 || cem_sampler_create(&s, m) != CEM_OK)
        return;
    float *a = malloc(sizeof(float) * 3 * (size_t)D), *b = malloc(sizeof(float) * 3 * (size_t)D);
    const int rows[3] = {label_of(0, K), label_of(1, K), label_of(2, K)};
    if (a && b && cem_sampler_set(s, CEM_SAMPLER_THREADS, 1) == CEM_OK &&
        cem_sampler_set(s, CEM_SAMPLER_STEPS, 4) == CEM_OK &&
        cem_sampler_set(s, CEM_SAMPLER_GUIDANCE, 1.5) == CEM_OK) {
        int st1 = cem_sampler_run_labelled(s, 0, 3, rows, a);
        int st2 = cem_sampler_run_labelled(s, 0, 3, rows, b);
        FUZZ_CHECK(st1 == st2 && (st1 == CEM_OK || st1 == CEM_ERR_DIVERGED));
        FUZZ_CHECK(memcmp(a, b, sizeof(float) * 3 * (size_t)D) == 0);
    }
    free(a);
    free(b);
    cem_sampler_free(s);
}

/* One training step of batch 4 on one thread, on the ellipse data (with
 * labels -1 .. K-1 in turn for a model with classes). */
static void train_a_step(cem_model_t *m)
{
    const int D = cem_model_dim(m), K = classes_of(m);
    float *data = malloc(sizeof(float) * FUZZ_CORPUS_ROWS * (size_t)D);
    int labels[FUZZ_CORPUS_ROWS];
    cem_trainer_t *tr = NULL;
    if (!data)
        return;
    fuzz_trainer_data(D, FUZZ_CORPUS_ROWS, data);
    for (size_t i = 0; i < FUZZ_CORPUS_ROWS; i++)
        labels[i] = label_of(i, K);
    if ((K ? cem_trainer_create_labelled(&tr, m, data, labels, FUZZ_CORPUS_ROWS, D)
           : cem_trainer_create(&tr, m, data, FUZZ_CORPUS_ROWS, D)) == CEM_OK &&
        cem_trainer_set(tr, CEM_TRAINER_THREADS, 1) == CEM_OK &&
        cem_trainer_set(tr, CEM_TRAINER_BATCH, 4) == CEM_OK) {
        int st = cem_trainer_run(tr, 1, NULL);
        FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_NONFINITE_STEP);
        FUZZ_CHECK(cem_trainer_steps(tr) == (st == CEM_OK));
    }
    cem_trainer_free(tr);
    free(data);
    fuzz_check_reloads(m);
}

static void load(const uint8_t *data, size_t size)
{
    cem_model_t *m = (cem_model_t *)&m; /* must be cleared on failure */
    int st = cem_model_load_buffer(&m, data, size);
    /* the file loader (which validates the header before it reads the
     * rest) says the same */
    const char *path = fuzz_temp_path("in.cem");
    fuzz_write_file(path, data, size);
    cem_model_t *mf = (cem_model_t *)&mf;
    FUZZ_CHECK(cem_model_load(&mf, path) == st);
    if (st != CEM_OK) {
        FUZZ_CHECK(st < 0 && m == NULL && mf == NULL);
        FUZZ_CHECK(cem_last_error()[0] != '\0');
        return;
    }
    FUZZ_CHECK(m != NULL && cem_model_kind_of(m) == CEM_KIND_MLP);

    void *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    cem_model_t *m2 = NULL;
    FUZZ_CHECK(cem_model_save_buffer(m, &b1, &n1) == CEM_OK);
    FUZZ_CHECK(cem_model_save_buffer(mf, &b2, &n2) == CEM_OK);
    FUZZ_CHECK(fuzz_same(b1, n1, b2, n2));
    cem_model_free(mf);
    cem_free(b2);
    /* saved to a file (atomically replaced) and loaded: the same bytes */
    FUZZ_CHECK(cem_model_save(m, path) == CEM_OK);
    FUZZ_CHECK(cem_model_load(&m2, path) == CEM_OK);
    FUZZ_CHECK(cem_model_save_buffer(m2, &b2, &n2) == CEM_OK);
    FUZZ_CHECK(fuzz_same(b1, n1, b2, n2));
    cem_model_free(m2);
    cem_free(b2);
    FUZZ_CHECK(cem_model_load_buffer(&m2, b1, n1) == CEM_OK);
    FUZZ_CHECK(cem_model_save_buffer(m2, &b2, &n2) == CEM_OK);
    FUZZ_CHECK(fuzz_same(b1, n1, b2, n2));
    compare(m, m2);
    compare_classes(m, m2);

    /* the other set of weights (USE_EMA may be set any time) */
    double ema = 0;
    FUZZ_CHECK(cem_model_get(m, CEM_MODEL_USE_EMA, &ema) == CEM_OK);
    FUZZ_CHECK(cem_model_set(m, CEM_MODEL_USE_EMA, 1 - ema) == CEM_OK);
    FUZZ_CHECK(cem_model_set(m2, CEM_MODEL_USE_EMA, 1 - ema) == CEM_OK);
    compare(m, m2);

    fuzz_sample_twice(m, 3);
    fuzz_flow(m, NULL, 2);
    train_a_step(m2);

    cem_free(b1);
    cem_free(b2);
    cem_model_free(m2);
    cem_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_load_as_is_and_resealed(data, size, load);
    return 0;
}
