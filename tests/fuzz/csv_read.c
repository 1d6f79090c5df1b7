/*
 * csv_read.c -- fuzz target: cem_csv_read on any bytes (written to a file
 * first: the library reads CSV from a path only), and the two other
 * readers of the same grammar on the same bytes.
 *
 * Data that read must be n >= 1 rows of dim >= 1 finite floats, no more
 * numbers than the input has bytes; written back with cem_csv_write they
 * read as bitwise the same floats (9 significant digits round-trip a
 * float).  Small data then go through the library a little: the exact
 * model of the points (evaluated at them and sampled), their sliced W2
 * distance to themselves (exactly 0), and one training step of a tiny
 * network on them, whose model must save and load again.
 *
 * cem_csv_read_missing reads what cem_csv_read reads, bitwise, and besides
 * only files whose sole difference is an empty field (which cem_csv_read
 * refuses with CEM_ERR_PARSE): values finite or NaN, at most one more
 * than the bytes; a small result's rows are completed by cem_sampler_impute on
 * N(0, I) (RePaint with a jump, and reconstruction guidance), twice alike,
 * the known values bitwise.  cem_csv_read_labelled with the label in field
 * 0 reads only what cem_csv_read reads, the labels equal to its first
 * column and the points to the others; small labelled data make the exact
 * labelled model exactly when every class up to the largest has a point.
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

/* The first (up to) 8 rows of x (n x dim, NaN: missing) completed on
 * N(0, I), twice (the second time as two pieces): the same rows, the known
 * values bitwise, every value finite unless its row diverged. */
static void impute_rows(const float *x, size_t n, int dim)
{
    const size_t k = n < 8 ? n : 8, cells = k * (size_t)dim;
    float *mean = calloc((size_t)dim, sizeof(float));
    float *cov = calloc((size_t)dim * (size_t)dim, sizeof(float));
    float *a = malloc(sizeof(float) * cells), *b = malloc(sizeof(float) * cells);
    cem_model_t *m = NULL;
    cem_sampler_t *s = NULL;
    for (int j = 0; cov && j < dim; j++)
        cov[j * dim + j] = 1.0f;
    if (mean && cov && a && b && cem_model_create_gaussian(&m, mean, cov, dim) == CEM_OK &&
        cem_sampler_create(&s, m) == CEM_OK && cem_sampler_set(s, CEM_SAMPLER_THREADS, 1) == CEM_OK &&
        cem_sampler_set(s, CEM_SAMPLER_STEPS, 4) == CEM_OK &&
        cem_sampler_set(s, CEM_SAMPLER_JUMPS, 1) == CEM_OK &&
        cem_sampler_set(s, CEM_SAMPLER_JUMP_LENGTH, 1) == CEM_OK) {
        for (int method = CEM_IMPUTE_REPAINT; method <= CEM_IMPUTE_RECONSTRUCT; method++) {
            if (cem_sampler_set(s, CEM_SAMPLER_IMPUTE, method) != CEM_OK)
                break;
            int st = cem_sampler_impute(s, 0, k, x, NULL, NULL, a);
            FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_DIVERGED);
            const size_t half = k / 2, at = half * (size_t)dim;
            int s1 = half ? cem_sampler_impute(s, 0, half, x, NULL, NULL, b) : CEM_OK;
            int s2 = cem_sampler_impute(s, half, k - half, x + at, NULL, NULL, b + at);
            FUZZ_CHECK((s1 == CEM_ERR_DIVERGED || s2 == CEM_ERR_DIVERGED) ==
                       (st == CEM_ERR_DIVERGED));
            for (size_t c = 0; c < cells; c++) {
                FUZZ_CHECK(memcmp(&a[c], &b[c], sizeof(float)) == 0 || (isnan(a[c]) && isnan(b[c])));
                FUZZ_CHECK(st != CEM_OK || isfinite(a[c]));
                FUZZ_CHECK(isnan(x[c]) || isnan(a[c]) || memcmp(&a[c], &x[c], sizeof(float)) == 0);
            }
        }
    }
    cem_sampler_free(s);
    cem_model_free(m);
    free(mean);
    free(cov);
    free(a);
    free(b);
}

/* cem_csv_read_missing on the file cem_csv_read answered st (x, n, dim on
 * success). */
static void read_missing(const char *path, size_t size, int st, const float *x, size_t n,
                         int dim)
{
    float *y = (float *)&y; /* must be cleared on failure */
    size_t ny = 1;
    int dy = 1;
    int sm = cem_csv_read_missing(path, &y, &ny, &dy);
    if (sm != CEM_OK) {
        FUZZ_CHECK(sm < 0 && y == NULL && ny == 0 && dy == 0);
        FUZZ_CHECK(st != CEM_OK); /* it reads whatever cem_csv_read reads */
        return;
    }
    FUZZ_CHECK(y != NULL && ny >= 1 && dy >= 1);
    const size_t total = ny * (size_t)dy;
    /* n rows of d fields take n (d - 1) commas and n - 1 line ends at
     * least (a one-field row, a number): n d <= size + 1 ("," is two) */
    FUZZ_CHECK(total / ny == (size_t)dy && total <= size + 1);
    int missing = 0;
    for (size_t k = 0; k < total; k++) {
        FUZZ_CHECK(isfinite(y[k]) || isnan(y[k]));
        missing |= isnan(y[k]);
    }
    /* an empty field is the only difference */
    FUZZ_CHECK(missing ? st == CEM_ERR_PARSE : st == CEM_OK);
    if (st == CEM_OK)
        FUZZ_CHECK(ny == n && dy == dim && memcmp(x, y, sizeof(float) * total) == 0);
    if (missing && dy <= 16)
        impute_rows(y, ny, dy);
    cem_free(y);
}

/* cem_csv_read_labelled (label in field 0) on the file cem_csv_read
 * answered st (x, n, dim on success). */
static void read_labelled(const char *path, int st, const float *x, size_t n, int dim)
{
    float *y = (float *)&y; /* must be cleared on failure */
    int *lab = (int *)&lab;
    size_t ny = 1;
    int dy = 1;
    int sl = cem_csv_read_labelled(path, 0, &y, &lab, &ny, &dy);
    if (sl != CEM_OK) {
        FUZZ_CHECK(sl < 0 && y == NULL && lab == NULL && ny == 0 && dy == 0);
        return;
    }
    /* a label is a number too: cem_csv_read reads the same lines */
    FUZZ_CHECK(st == CEM_OK && y != NULL && lab != NULL && ny == n && dy == dim - 1);
    int most = -1;
    for (size_t i = 0; i < ny; i++) {
        FUZZ_CHECK(lab[i] >= CEM_LABEL_NONE && lab[i] <= 65535);
        FUZZ_CHECK((float)lab[i] == x[i * (size_t)dim]);
        FUZZ_CHECK(memcmp(y + i * (size_t)dy, x + i * (size_t)dim + 1, sizeof(float) * (size_t)dy) ==
                   0);
        most = lab[i] > most ? lab[i] : most;
    }
    /* the exact labelled law: made exactly when the labels are 0 .. K-1,
     * each class with a point */
    int none = 0, gap = 0;
    unsigned char *seen = most >= 0 ? calloc((size_t)most + 1, 1) : NULL;
    for (size_t i = 0; i < ny; i++) {
        none |= lab[i] == CEM_LABEL_NONE;
        if (seen && lab[i] >= 0)
            seen[lab[i]] = 1;
    }
    for (int c = 0; seen && c <= most; c++)
        gap |= !seen[c];
    if (seen && ny <= 256 && dy <= 16) {
        cem_model_t *m = NULL;
        int sm = cem_model_create_empirical_labelled(&m, y, lab, ny, dy);
        FUZZ_CHECK(sm == (none || gap ? CEM_ERR_ARG : CEM_OK) || sm == CEM_ERR_NOMEM);
        if (sm == CEM_OK) {
            double K = 0;
            FUZZ_CHECK(cem_model_get(m, CEM_MODEL_LABELS, &K) == CEM_OK && K == most + 1);
            const size_t k = ny < 8 ? ny : 8;
            int rows[8];
            float *out = malloc(sizeof(float) * k * (size_t)dy);
            double t[8];
            for (size_t i = 0; i < k; i++) {
                rows[i] = (int)(i % (size_t)(most + 2)) - 1;
                t[i] = 0.5;
            }
            if (out) {
                int se = cem_model_eval_labelled(m, CEM_TARGET_CEM, k, y, t, rows, out);
                FUZZ_CHECK(se == CEM_OK || se == CEM_ERR_NUMERIC || se == CEM_ERR_NOMEM);
            }
            free(out);
        }
        cem_model_free(m);
    }
    free(seen);
    cem_free(y);
    cem_free(lab);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in_path = fuzz_temp_path("in.csv"), *out_path = fuzz_temp_path("out.csv");
    fuzz_write_file(in_path, data, size);
    float *x = (float *)&x; /* must be cleared on failure */
    size_t n = 1;
    int dim = 1;
    int st = cem_csv_read(in_path, &x, &n, &dim);
    FUZZ_CHECK(st == CEM_OK || cem_last_error()[0] != '\0');
    read_missing(in_path, size, st, x, n, dim);
    read_labelled(in_path, st, x, n, dim);
    if (st != CEM_OK) {
        FUZZ_CHECK(st < 0 && x == NULL && n == 0 && dim == 0);
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
