/*
 * model_load.c -- fuzz target: cem_model_load_buffer on any bytes.
 *
 * cem_model_load on the same bytes in a file must answer the same status.
 * A buffer that loads must give a model that behaves as a model: saved and
 * loaded again (from a buffer and from a file) it saves to the same bytes
 * (saving is deterministic and the file is the whole state), answers every option alike and evaluates to
 * bitwise the same numbers (with its EMA weights and its raw ones); it
 * samples (twice alike), and a tiny training run on it leaves a model that
 * saves and loads again.  Each input is loaded as it is and re-sealed with
 * its correct CRC-32 (fuzz.h).
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

/* One training step of batch 4 on one thread, on the ellipse data. */
static void train_a_step(cem_model_t *m)
{
    const int D = cem_model_dim(m);
    float *data = malloc(sizeof(float) * FUZZ_CORPUS_ROWS * (size_t)D);
    cem_trainer_t *tr = NULL;
    if (!data)
        return;
    fuzz_trainer_data(D, FUZZ_CORPUS_ROWS, data);
    if (cem_trainer_create(&tr, m, data, FUZZ_CORPUS_ROWS, D) == CEM_OK &&
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
