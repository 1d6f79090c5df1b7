/*
 * csv_read.c -- fuzz target: cem_csv_read on any bytes (written to a file
 * first: the library reads CSV from a path only).
 *
 * Data that read must be n >= 1 rows of dim >= 1 finite floats, no more
 * numbers than the input has bytes; written back with cem_csv_write they
 * read as bitwise the same floats (9 significant digits round-trip a
 * float).  Small data then go through the library a little: the exact
 * model of the points (evaluated at them and sampled), their sliced W2
 * distance to themselves (exactly 0), and one training step of a tiny
 * network on them, whose model must save and load again.
 */
#include "fuzz.h"

/* The exact model of the points, evaluated at (up to 8 of) them at two
 * times and sampled. */
static void exact_model(const float *x, size_t n, int dim)
{
    cem_model_t *m = NULL;
    int st = cem_model_create_empirical(&m, x, n, dim);
    FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_NOMEM); /* the points are valid */
    if (st)
        return;
    size_t k = n < 8 ? n : 8;
    float *out = malloc(sizeof(float) * k * (size_t)dim);
    if (out) {
        const int targets[3] = {CEM_TARGET_CEM, CEM_TARGET_NOISE, CEM_TARGET_SCORE};
        for (int w = 0; w < 3; w++) {
            st = cem_model_eval_at(m, (cem_target)targets[w], k, x, 1e-3, out);
            FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_NUMERIC || st == CEM_ERR_NOMEM);
            st = cem_model_eval_at(m, (cem_target)targets[w], k, x, 1.0, out);
            FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_NUMERIC || st == CEM_ERR_NOMEM);
        }
        free(out);
    }
    fuzz_sample_twice(m, 3);
    fuzz_flow(m, x, k < 3 ? k : 3);
    cem_model_free(m);
}

/* One step of batch 4 of a tiny network trained on the points. */
static void train_a_step(const float *x, size_t n, int dim)
{
    cem_model_t *m = NULL;
    cem_trainer_t *tr = NULL;
    FUZZ_CHECK(cem_model_create_mlp(&m, dim, CEM_TARGET_CEM) == CEM_OK);
    FUZZ_CHECK(cem_model_set(m, CEM_MODEL_WIDTH, 8) == CEM_OK);
    FUZZ_CHECK(cem_model_set(m, CEM_MODEL_DEPTH, 1) == CEM_OK);
    FUZZ_CHECK(cem_model_set(m, CEM_MODEL_EMBED, 4) == CEM_OK);
    int st = cem_trainer_create(&tr, m, x, n, dim);
    if (st == CEM_OK && cem_trainer_set(tr, CEM_TRAINER_THREADS, 1) == CEM_OK &&
        cem_trainer_set(tr, CEM_TRAINER_BATCH, 4) == CEM_OK) {
        st = cem_trainer_run(tr, 1, NULL);
        FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_NONFINITE_STEP);
    }
    cem_trainer_free(tr);
    fuzz_check_reloads(m); /* whatever the data made of it */
    cem_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in_path = fuzz_temp_path("in.csv"), *out_path = fuzz_temp_path("out.csv");
    fuzz_write_file(in_path, data, size);
    float *x = (float *)&x; /* must be cleared on failure */
    size_t n = 1;
    int dim = 1;
    int st = cem_csv_read(in_path, &x, &n, &dim);
    if (st != CEM_OK) {
        FUZZ_CHECK(st < 0 && x == NULL && n == 0 && dim == 0);
        FUZZ_CHECK(cem_last_error()[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(x != NULL && n >= 1 && dim >= 1);
    const size_t total = n * (size_t)dim;
    FUZZ_CHECK(total / n == (size_t)dim && total <= size); /* a number takes a byte */
    for (size_t k = 0; k < total; k++)
        FUZZ_CHECK(isfinite(x[k]));

    /* written and read back: the same floats */
    FUZZ_CHECK(cem_csv_write(out_path, x, n, dim) == CEM_OK);
    float *y = NULL;
    size_t n2 = 0;
    int dim2 = 0;
    FUZZ_CHECK(cem_csv_read(out_path, &y, &n2, &dim2) == CEM_OK);
    FUZZ_CHECK(n2 == n && dim2 == dim && memcmp(x, y, sizeof(float) * total) == 0);
    cem_free(y);

    if (dim <= 16 && n <= 256) {
        exact_model(x, n, dim);
        double w2 = -1;
        st = cem_metric_sliced_w2(n, x, n, x, dim, 4, 1, &w2);
        FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_NOMEM);
        FUZZ_CHECK(st != CEM_OK || w2 == 0);
        if (n >= 2)
            train_a_step(x, n, dim);
    }
    cem_free(x);
    return 0;
}
