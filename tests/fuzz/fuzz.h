/*
 * fuzz.h -- shared by the fuzz targets (tests/fuzz/<target>.c), their
 * corpus generator (make_corpus.c) and the replay driver (replay.c).
 *
 * A target is the libFuzzer entry point LLVMFuzzerTestOneInput.  It may
 * get any status from the library, but it must not crash, leak or trip a
 * sanitizer, and every invariant the header promises that it checks is a
 * FUZZ_CHECK: a failure prints the condition and aborts, which libFuzzer
 * and the replay driver both report as a failure.
 */
#ifndef CEM_FUZZ_H
#define CEM_FUZZ_H

#include "cemdiff.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: invariant failed: %s (last error: %s)\n", file, line, what,
            cem_last_error());
    abort();
}

#define FUZZ_CHECK(cond) ((cond) ? (void)0 : fuzz_fail(#cond, __FILE__, __LINE__))

/* Two byte buffers of the library (cem_free) hold the same bytes. */
static inline int fuzz_same(const void *a, size_t na, const void *b, size_t nb)
{
    return na == nb && memcmp(a, b, na) == 0;
}

/* ---- files ----
 *
 * A path named `name` in a directory of this process's own, made on first
 * use (on /dev/shm when there is one: the library syncs what it writes,
 * which costs nothing there) and removed with its files at exit.  At most
 * FUZZ_MAX_FILES names. */
enum { FUZZ_MAX_FILES = 4 };

static char fuzz_dir[256], fuzz_files[FUZZ_MAX_FILES][320];

static inline void fuzz_remove_files(void)
{
    for (int k = 0; k < FUZZ_MAX_FILES; k++)
        if (fuzz_files[k][0])
            remove(fuzz_files[k]);
    remove(fuzz_dir);
}

static inline const char *fuzz_temp_path(const char *name)
{
    if (!fuzz_dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/cemdiff-fuzz-XXXXXX",
                 base && *base ? base : "/tmp");
        FUZZ_CHECK(mkdtemp(fuzz_dir) != NULL);
        atexit(fuzz_remove_files);
    }
    char path[320];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir, name);
    for (int k = 0; k < FUZZ_MAX_FILES; k++)
        if (!fuzz_files[k][0] || strcmp(fuzz_files[k], path) == 0) {
            memcpy(fuzz_files[k], path, sizeof path);
            return fuzz_files[k];
        }
    fuzz_fail("too many temporary files", __FILE__, __LINE__);
    return NULL;
}

/* Writes size bytes to path, replacing it. */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
}

/* ---- checkpoints ----
 *
 * Every checkpoint ends with the CRC-32 of the bytes before it, so almost
 * every mutation of a checkpoint fails the checksum.  The load targets
 * therefore also load each input re-sealed with its correct CRC-32 (as
 * tests/test_checkpoint.c does with damaged files), which takes the
 * mutation to the field checks behind the checksum. */

/* The CRC-32 (IEEE, as zlib) of n bytes. */
static inline uint32_t fuzz_crc32(const uint8_t *b, size_t n)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
            table[i] = c;
        }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ b[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* A copy of buf whose last 4 bytes are the CRC-32 of the others (in this
 * machine's order, as the library writes it), or NULL when buf already
 * ends so (or is shorter than 4 bytes, or memory is short). */
static inline uint8_t *fuzz_resealed(const uint8_t *buf, size_t size)
{
    if (size < 4)
        return NULL;
    uint32_t crc = fuzz_crc32(buf, size - 4), stored;
    memcpy(&stored, buf + size - 4, 4);
    uint8_t *copy = crc == stored ? NULL : malloc(size);
    if (copy) {
        memcpy(copy, buf, size - 4);
        memcpy(copy + size - 4, &crc, 4);
    }
    return copy;
}

/* The checkpoint targets' entry point: `load` on the input as it is and,
 * when its checksum is wrong, on a copy re-sealed with the right one (so
 * mutations reach the field checks behind the checksum). */
static inline void fuzz_load_as_is_and_resealed(const uint8_t *data, size_t size,
                                                void (*load)(const uint8_t *, size_t))
{
    load(data, size);
    uint8_t *sealed = fuzz_resealed(data, size);
    if (sealed)
        load(sealed, size);
    free(sealed);
}

/* A model the library made saves into bytes it loads again. */
static inline void fuzz_check_reloads(const cem_model_t *m)
{
    void *buf = NULL;
    size_t size = 0;
    FUZZ_CHECK(cem_model_save_buffer(m, &buf, &size) == CEM_OK);
    cem_model_t *again = NULL;
    FUZZ_CHECK(cem_model_load_buffer(&again, buf, size) == CEM_OK);
    cem_model_free(again);
    cem_free(buf);
}

/* ---- the data a trainer checkpoint is loaded with (trainer_load.c) ----
 *
 * cem_trainer_load_buffer needs the data the trainer was saved with (it
 * checks their size and CRC-32).  The target reads the dimension D (a u32
 * at byte FUZZ_DIM_OFFSET in every format version) and the number of rows
 * n (the u64 that comes 16 + 8 np bytes before the final CRC of a trainer
 * checkpoint of any version, np the u64 at byte FUZZ_NP_OFFSET) and loads
 * with fuzz_trainer_data(D, n); make_corpus.c trains on the same points
 * (FUZZ_CORPUS_ROWS of them: the ADAPTIVE law's floors cost a pass over
 * the data per draw).  The first two coordinates are n points of the
 * ellipse (cos a, 0.5 sin a), a = 2 pi i / n, computed as
 * tests/test_checkpoint.c does, so tests/data/format1_trainer.cem (written
 * by the format-1 library on the 256-point ellipse) loads too; further
 * coordinates are exact small fractions. */
enum {
    FUZZ_MAX_ROWS = 256,
    FUZZ_CORPUS_ROWS = 16,
    FUZZ_DIM_OFFSET = 32,
    FUZZ_NP_OFFSET = 80
};

static inline void fuzz_trainer_data(int D, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        double a = 6.283185307179586 * (double)i / (double)n;
        float *row = out + i * (size_t)D;
        row[0] = (float)cos(a);
        if (D > 1)
            row[1] = (float)(0.5 * sin(a));
        for (int j = 2; j < D; j++)
            row[j] = (float)((i * (size_t)(j + 1)) % 17) / 16.0f - 0.5f;
    }
}

/* ---- exercising a loaded model ----
 *
 * Evaluates m at FUZZ_EVAL_ROWS fixed points and three times of its window
 * (T_MIN, their geometric mean, T_MAX), for every target, with a time per
 * row and with one shared time: FUZZ_EVAL_CELLS x D floats into a new
 * buffer (NULL when out of memory).  The statuses go to *status, or'ed. */
enum { FUZZ_EVAL_ROWS = 4, FUZZ_EVAL_CELLS = FUZZ_EVAL_ROWS * 3 * 3 * 2 };

static inline float *fuzz_eval_grid(cem_model_t *m, int *status)
{
    const int D = cem_model_dim(m);
    float *x = malloc(sizeof(float) * FUZZ_EVAL_ROWS * (size_t)D);
    float *out = calloc((size_t)FUZZ_EVAL_CELLS * (size_t)D, sizeof(float));
    double lo = 0, hi = 0;
    FUZZ_CHECK(cem_model_get(m, CEM_MODEL_T_MIN, &lo) == CEM_OK);
    FUZZ_CHECK(cem_model_get(m, CEM_MODEL_T_MAX, &hi) == CEM_OK);
    if (!x || !out) {
        free(x);
        free(out);
        return NULL;
    }
    for (int i = 0; i < FUZZ_EVAL_ROWS; i++)
        for (int j = 0; j < D; j++)
            x[i * D + j] = (float)(0.5 * (i - 1.5) + 0.125 * j);
    const double times[3] = {lo, sqrt(lo * hi), hi};
    float *o = out;
    *status = 0;
    for (int w = CEM_TARGET_CEM; w <= CEM_TARGET_SCORE; w++)
        for (int k = 0; k < 3; k++) {
            double t[FUZZ_EVAL_ROWS];
            for (int i = 0; i < FUZZ_EVAL_ROWS; i++)
                t[i] = times[k];
            *status |= -cem_model_eval(m, (cem_target)w, FUZZ_EVAL_ROWS, x, t, o);
            o += FUZZ_EVAL_ROWS * D;
            *status |= -cem_model_eval_at(m, (cem_target)w, FUZZ_EVAL_ROWS, x, times[k], o);
            o += FUZZ_EVAL_ROWS * D;
        }
    free(x);
    return out;
}

/* Every option of m, as (status, value) pairs in out[2 (opt - 1) ...],
 * for comparing two models. */
static inline void fuzz_model_options(const cem_model_t *m,
                                      double out[2 * CEM_MODEL_LABEL_EMBED])
{
    for (int opt = 1; opt <= CEM_MODEL_LABEL_EMBED; opt++) {
        double v = 0;
        out[2 * (opt - 1)] = cem_model_get(m, (cem_model_option)opt, &v);
        out[2 * (opt - 1) + 1] = v;
    }
}

/* Samples `rows` rows with a sampler of 3 steps on one thread, twice: the
 * two runs must agree bitwise (a plan runs any number of times).  The
 * sampler is freed. */
static inline void fuzz_sample_twice(cem_model_t *m, size_t rows)
{
    cem_sampler_t *s = NULL;
    if (cem_sampler_create(&s, m) != CEM_OK) {
        FUZZ_CHECK(s == NULL);
        return;
    }
    const size_t D = (size_t)cem_model_dim(m);
    float *a = malloc(sizeof(float) * rows * D), *b = malloc(sizeof(float) * rows * D);
    if (a && b && cem_sampler_set(s, CEM_SAMPLER_THREADS, 1) == CEM_OK &&
        cem_sampler_set(s, CEM_SAMPLER_STEPS, 4) == CEM_OK) {
        int st1 = cem_sampler_run(s, rows, a);
        size_t bad1 = cem_sampler_diverged_rows(s);
        int st2 = cem_sampler_run(s, rows, b);
        FUZZ_CHECK(st1 == st2 && bad1 == cem_sampler_diverged_rows(s));
        FUZZ_CHECK(st1 == CEM_OK || st1 == CEM_ERR_DIVERGED);
        FUZZ_CHECK((st1 == CEM_ERR_DIVERGED) == (bad1 > 0));
        FUZZ_CHECK(memcmp(a, b, sizeof(float) * rows * D) == 0);
    }
    free(a);
    free(b);
    cem_sampler_free(s);
}

/* The probability-flow ODE of the model at `rows` points (x, rows x dim, or
 * when NULL the points 0.25 i (1, ..., 1)), twice: log p (exact divergence
 * up to dim 8, Hutchinson's with one probe beyond) and the latents, each
 * CEM_OK with finite results, or a row that failed (CEM_ERR_NUMERIC, its
 * output NaN) or no memory; both runs bitwise the same.  At most 300 steps
 * a row, so that a wild checkpoint costs little.  The flow is freed. */
static inline void fuzz_flow(cem_model_t *m, const float *x, size_t rows)
{
    cem_flow_t *f = NULL;
    if (cem_flow_create(&f, m) != CEM_OK) {
        FUZZ_CHECK(f == NULL);
        return;
    }
    const size_t D = (size_t)cem_model_dim(m);
    float *pts = malloc(sizeof(float) * rows * D), *z = malloc(sizeof(float) * rows * D);
    double *lp = malloc(sizeof(double) * rows * 2);
    if (pts && z && lp && cem_flow_set(f, CEM_FLOW_THREADS, 1) == CEM_OK &&
        cem_flow_set(f, CEM_FLOW_MAX_STEPS, 300) == CEM_OK &&
        cem_flow_set(f, CEM_FLOW_EXACT_DIM, 8) == CEM_OK &&
        cem_flow_set(f, CEM_FLOW_PROBES, 1) == CEM_OK) {
        for (size_t i = 0; i < rows * D; i++)
            pts[i] = x ? x[i] : (float)(0.25 * (double)(i / D));
        int st1 = cem_flow_logprob(f, rows, pts, lp, NULL);
        int st2 = cem_flow_logprob(f, rows, pts, lp + rows, NULL);
        FUZZ_CHECK(st1 == st2);
        FUZZ_CHECK(st1 == CEM_OK || st1 == CEM_ERR_NUMERIC || st1 == CEM_ERR_NOMEM);
        for (size_t i = 0; st1 != CEM_ERR_NOMEM && i < rows; i++) {
            FUZZ_CHECK(memcmp(&lp[i], &lp[rows + i], sizeof(double)) == 0 ||
                       (isnan(lp[i]) && isnan(lp[rows + i])));
            FUZZ_CHECK(st1 != CEM_OK || isfinite(lp[i]));
        }
        int st = cem_flow_encode(f, rows, pts, z);
        FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_NUMERIC || st == CEM_ERR_NOMEM);
        for (size_t i = 0; st == CEM_OK && i < rows * D; i++)
            FUZZ_CHECK(isfinite(z[i]));
    }
    free(pts);
    free(z);
    free(lp);
    cem_flow_free(f);
}

/* ---- the options target's input (options.c) ----
 *
 * An input is a header of FUZZ_HEADER bytes that makes a tiny model, then
 * operations, each an opcode byte (FUZZ_OP_*, modulo FUZZ_NOPS) followed by
 * its operands.  Missing bytes read as 0, so every byte string is a
 * program.  A value operand is a selector byte and its bytes: selector
 * FUZZ_VALUE_RAW is followed by the 8 bytes of a double in the machine's
 * order (what make_corpus.c writes); the others pick values near the
 * option's bounds, special values (NaN, infinities, -0) and others.
 *
 * Header bytes:
 *   0  model kind (% 3: MLP, EMPIRICAL, GAUSSIAN), target (/ 3 % 3), and
 *      for an MLP whether it is made by cem_model_create_mlp (/ 9 odd) or
 *      loaded from a tiny checkpoint (even: faster; options.c)
 *   1  dimension 1 + b % 4
 *   2  MLP width 1 + b % 16
 *   3  MLP depth 1 + b % 3, time features 2 (1 + b / 3 % 8)
 *   4  the data: scale 2^(b % 64 - 32); bit 6: all rows equal; bit 7: the
 *      first coordinate 0
 *   5  the trainer's batch when it is made: 1 + b % 8
 */
enum { FUZZ_HEADER = 6, FUZZ_DATA_N = 8, FUZZ_MAX_OPS = 64, FUZZ_VALUE_RAW = 0 };

enum {
    FUZZ_OP_MODEL_SET = 0,      /* option byte, value */
    FUZZ_OP_TRAINER_SET = 1,    /* option byte, value */
    FUZZ_OP_SAMPLER_SET = 2,    /* option byte, value */
    FUZZ_OP_TRAINER = 3,        /* make the trainer, or free it */
    FUZZ_OP_SAMPLER = 4,        /* make the sampler, or free it */
    FUZZ_OP_TRAIN = 5,          /* steps byte (% 4) */
    FUZZ_OP_SAMPLE = 6,         /* first-row selector byte, rows byte (% 9) */
    FUZZ_OP_EVAL = 7,           /* target byte, rows byte, values */
    FUZZ_OP_MODEL_ROUNDTRIP = 8,
    FUZZ_OP_TRAINER_ROUNDTRIP = 9,
    FUZZ_OP_DATA_STATS = 10,    /* kind byte, values */
    FUZZ_OP_GETTERS = 11,
    FUZZ_OP_BINS = 12,          /* reset byte, progress byte */
    FUZZ_OP_PLAN = 13,          /* progress byte */
    FUZZ_OP_PARAMS = 14,        /* ema byte, count byte, index bytes and values */
    FUZZ_OP_BATCH = 15,         /* kind byte, B byte, values */
    FUZZ_NOPS = 16
};

#endif
