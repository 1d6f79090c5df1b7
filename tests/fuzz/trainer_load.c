/*
 * trainer_load.c -- fuzz target: cem_trainer_load_buffer on any bytes (as
 * they are, and re-sealed with their correct CRC-32: fuzz.h), with the data
 * of fuzz.h (their size read from the checkpoint).
 *
 * cem_trainer_load on the same bytes in a file must answer the same status.
 * A buffer that loads must give a trainer whose saved bytes load again
 * (from a buffer and from a file) and save to the same bytes, and the two trainers must then train alike: two
 * steps each (on one thread, batch at most 16) leave bitwise the same saved
 * state, which is the "exact resume" promise.  The trainer's model samples
 * (twice alike), and a model file loads the trainer checkpoint's model.
 */
#include "fuzz.h"

/* The data's dimension and rows as the checkpoint says (fuzz.h), in the
 * writer's order (a file of the other order fails before the data
 * matter); a buffer too short to hold them fails on its size before the
 * data are compared, so then small data will do. */
static void data_size(const uint8_t *data, size_t size, int *dim, size_t *rows)
{
    uint32_t D = 0;
    uint64_t np = 0, n = 0;
    *dim = 1;
    *rows = 2;
    if (size < FUZZ_NP_OFFSET + 8)
        return;
    memcpy(&D, data + FUZZ_DIM_OFFSET, 4);
    memcpy(&np, data + FUZZ_NP_OFFSET, 8);
    /* the weights and moments alone take 16 np bytes, np > 2 D */
    if (D < 1 || D > 4096 || np > size / 16 || 2 * (uint64_t)D > np)
        return;
    size_t at = size - 4 - 8 * (size_t)np - 16;
    if (at < FUZZ_NP_OFFSET || at + 8 > size)
        return;
    memcpy(&n, data + at, 8);
    *dim = (int)D;
    *rows = n >= 2 && n <= FUZZ_MAX_ROWS ? (size_t)n : 2;
}

/* Batch at most 16 on one thread, then two steps. */
static int two_steps(cem_trainer_t *tr)
{
    double batch = 0;
    FUZZ_CHECK(cem_trainer_get(tr, CEM_TRAINER_BATCH, &batch) == CEM_OK);
    if (cem_trainer_set(tr, CEM_TRAINER_THREADS, 1) != CEM_OK ||
        cem_trainer_set(tr, CEM_TRAINER_BATCH, batch > 16 ? 16 : batch) != CEM_OK)
        return 1; /* out of memory: not comparable */
    long before = cem_trainer_steps(tr);
    int st = cem_trainer_run(tr, 2, NULL);
    FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_NONFINITE_STEP);
    FUZZ_CHECK(cem_trainer_steps(tr) - before <= 2);
    return st;
}

static void load(const uint8_t *data, size_t size)
{
    int D;
    size_t rows;
    data_size(data, size, &D, &rows);
    float *points = malloc(sizeof(float) * rows * (size_t)D);
    if (!points)
        return;
    fuzz_trainer_data(D, rows, points);
    cem_trainer_t *tr = (cem_trainer_t *)&tr; /* must be cleared on failure */
    int st = cem_trainer_load_buffer(&tr, data, size, points, rows, D);
    /* the file loader says the same */
    const char *path = fuzz_temp_path("in.cem");
    fuzz_write_file(path, data, size);
    cem_trainer_t *tf = (cem_trainer_t *)&tf;
    FUZZ_CHECK(cem_trainer_load(&tf, path, points, rows, D) == st);
    if (st != CEM_OK) {
        FUZZ_CHECK(st < 0 && tr == NULL && tf == NULL);
        FUZZ_CHECK(cem_last_error()[0] != '\0');
        free(points);
        return;
    }
    FUZZ_CHECK(tr != NULL && cem_model_dim(cem_trainer_model(tr)) == D);

    /* save, load, save: the same bytes (through a file too) */
    void *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    cem_trainer_t *tr2 = NULL;
    FUZZ_CHECK(cem_trainer_save_buffer(tr, &b1, &n1) == CEM_OK);
    FUZZ_CHECK(cem_trainer_save_buffer(tf, &b2, &n2) == CEM_OK);
    FUZZ_CHECK(fuzz_same(b1, n1, b2, n2));
    cem_free(b2);
    FUZZ_CHECK(cem_trainer_save(tf, path) == CEM_OK);
    cem_trainer_free(tf);
    FUZZ_CHECK(cem_trainer_load(&tf, path, points, rows, D) == CEM_OK);
    FUZZ_CHECK(cem_trainer_save_buffer(tf, &b2, &n2) == CEM_OK);
    FUZZ_CHECK(fuzz_same(b1, n1, b2, n2));
    cem_free(b2);
    cem_trainer_free(tf);
    FUZZ_CHECK(cem_trainer_load_buffer(&tr2, b1, n1, points, rows, D) == CEM_OK);
    FUZZ_CHECK(cem_trainer_save_buffer(tr2, &b2, &n2) == CEM_OK);
    FUZZ_CHECK(fuzz_same(b1, n1, b2, n2));
    cem_free(b2);

    /* the model part loads as a model, and saves as the trainer's model */
    cem_model_t *m = NULL;
    FUZZ_CHECK(cem_model_load_buffer(&m, b1, n1) == CEM_OK);
    void *mb1 = NULL, *mb2 = NULL;
    FUZZ_CHECK(cem_model_save_buffer(m, &mb1, &n1) == CEM_OK);
    FUZZ_CHECK(cem_model_save_buffer(cem_trainer_model(tr), &mb2, &n2) == CEM_OK);
    FUZZ_CHECK(fuzz_same(mb1, n1, mb2, n2));
    cem_free(mb1);
    cem_free(mb2);
    cem_model_free(m);
    cem_free(b1);

    /* the state the file holds is the whole state: both train alike */
    double prob[CEM_TRAINER_LAW_BINS], mean[CEM_TRAINER_BINS];
    long count[CEM_TRAINER_BINS];
    double grid_n = 0;
    FUZZ_CHECK(cem_trainer_get(tr, CEM_TRAINER_GRID_N, &grid_n) == CEM_OK);
    if (grid_n <= 1000) { /* the GRID law's shares cost GRID_N points */
        FUZZ_CHECK(cem_trainer_law_bins_n(tr, CEM_TRAINER_LAW_BINS, prob, NULL, NULL, NULL) ==
                   CEM_OK);
        double sum = 0;
        for (int b = 0; b < CEM_TRAINER_LAW_BINS; b++) {
            FUZZ_CHECK(prob[b] >= 0);
            sum += prob[b];
        }
        FUZZ_CHECK(fabs(sum - 1) <= 1e-9);
    }
    FUZZ_CHECK(cem_trainer_time_bins_n(tr, CEM_TRAINER_BINS, mean, count, NULL, 0) == CEM_OK);
    int st1 = two_steps(tr), st2 = two_steps(tr2);
    FUZZ_CHECK(st1 == st2);
    if (st1 != 1) {
        FUZZ_CHECK(cem_trainer_steps(tr) == cem_trainer_steps(tr2));
        FUZZ_CHECK(cem_trainer_save_buffer(tr, &b1, &n1) == CEM_OK);
        FUZZ_CHECK(cem_trainer_save_buffer(tr2, &b2, &n2) == CEM_OK);
        FUZZ_CHECK(fuzz_same(b1, n1, b2, n2));
        /* what the library saved after training, it loads */
        cem_trainer_free(tr2);
        tr2 = NULL;
        FUZZ_CHECK(cem_trainer_load_buffer(&tr2, b1, n1, points, rows, D) == CEM_OK);
        cem_free(b1);
        cem_free(b2);
    }
    cem_trainer_free(tr2);

    fuzz_sample_twice(cem_trainer_model(tr), 3);
    cem_trainer_free(tr);
    free(points);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_load_as_is_and_resealed(data, size, load);
    return 0;
}
