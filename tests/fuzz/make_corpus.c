/*
 * make_corpus.c -- writes the fuzz targets' seed corpus through the public
 * API (`make fuzz-corpus` runs it; the result is committed under
 * tests/fuzz/corpus/<target>/):
 *
 *   model_load    model checkpoints of every format the loader reads:
 *                 format 2 (each target, each parameterisation, each
 *                 activation, with and without statistics), format 3 (a
 *                 model with the data's axes), format 4 (a model with
 *                 classes, and a labelled trainer's file), format 1 (a format-2 file
 *                 rewritten in the format-1 layout of docs/CHECKPOINT.md,
 *                 and tests/data/format1_model.cem, written by the last
 *                 format-1 library), and trainer checkpoints (a model
 *                 loads from one);
 *   trainer_load  trainer checkpoints (formats 1, 2 and 3, several option
 *                 sets, trained a few steps on the data of fuzz.h, and
 *                 tests/data/format1_trainer.cem);
 *   csv_read      files written by cem_csv_write and a few hand-written
 *                 ones at the edges of the grammar (comments, blank lines,
 *                 CRLF, blanks, exponents, hexadecimal, -0, the float
 *                 range), valid and not, and for the labelled and missing
 *                 readers on the same bytes a label column and empty
 *                 fields;
 *   options       programs for options.c (fuzz.h describes the encoding).
 *
 *   make_corpus OUTDIR DATADIR   (DATADIR: tests/data)
 *
 * Every file is small (a few kB: networks of width 8).  The output is
 * deterministic: running it again writes the same bytes.
 */
#include "fuzz.h"

#include <errno.h>
#include <sys/stat.h>

static const char *outdir;

static void die(const char *what)
{
    fprintf(stderr, "make_corpus: %s (%s)\n", what, cem_last_error());
    exit(1);
}

#define OK(call) ((call) == CEM_OK ? (void)0 : die(#call))

static void write_file(const char *target, const char *name, const void *buf, size_t size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", outdir, target);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, size, f) != size || fclose(f) != 0)
        die(path);
}

static void copy_file(const char *target, const char *name, const char *from)
{
    FILE *f = fopen(from, "rb");
    static unsigned char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (!f || !feof(f))
        die(from);
    fclose(f);
    write_file(target, name, buf, n);
}

/* ------------------------------------------------------ checkpoints */

/* A small MLP: dimension D, width 8, depth L, 4 time features. */
static cem_model_t *small_mlp(int D, cem_target target, int L, int param, int act)
{
    cem_model_t *m;
    OK(cem_model_create_mlp(&m, D, target));
    OK(cem_model_set(m, CEM_MODEL_WIDTH, 8));
    OK(cem_model_set(m, CEM_MODEL_DEPTH, L));
    OK(cem_model_set(m, CEM_MODEL_EMBED, 4));
    OK(cem_model_set(m, CEM_MODEL_ACTIVATION, act));
    OK(cem_model_set(m, CEM_MODEL_SEED, 7));
    OK(cem_model_set(m, CEM_MODEL_PARAM, param));
    return m;
}

static void save_model(const char *target, const char *name, const cem_model_t *m)
{
    void *buf;
    size_t size;
    OK(cem_model_save_buffer(m, &buf, &size));
    write_file(target, name, buf, size);
    cem_free(buf);
}

static void save_trainer(const char *target, const char *name, const cem_trainer_t *tr)
{
    void *buf;
    size_t size;
    OK(cem_trainer_save_buffer(tr, &buf, &size));
    write_file(target, name, buf, size);
    cem_free(buf);
}

/* A trainer on the data of fuzz.h: batch 16, one thread, `steps` steps. */
static cem_trainer_t *trained(cem_model_t *m, long steps, const int *opts, const double *vals,
                              int nopt)
{
    const int D = cem_model_dim(m);
    float *data = malloc(sizeof(float) * FUZZ_CORPUS_ROWS * (size_t)D);
    if (!data)
        die("out of memory");
    fuzz_trainer_data(D, FUZZ_CORPUS_ROWS, data);
    cem_trainer_t *tr;
    OK(cem_trainer_create(&tr, m, data, FUZZ_CORPUS_ROWS, D));
    free(data);
    OK(cem_trainer_set(tr, CEM_TRAINER_THREADS, 1));
    OK(cem_trainer_set(tr, CEM_TRAINER_BATCH, 16));
    for (int k = 0; k < nopt; k++)
        OK(cem_trainer_set(tr, (cem_trainer_option)opts[k], vals[k]));
    int st = cem_trainer_run(tr, steps, NULL);
    if (st != CEM_OK)
        die("cem_trainer_run");
    return tr;
}

/* ---- format 1, from a format-2 buffer (docs/CHECKPOINT.md) ----
 * Format 1 had no counts, model options or statistics (the weights began
 * at byte 88), stored exactly 18 trainer options as u32 18, u32 0 and 18
 * f64 in id order, and no time-law bins.  The statistics (and options 19
 * and up, which must be at their defaults) are dropped: the file is the
 * DIRECT model without statistics that a format-1 library wrote. */

static uint32_t u32_at(const unsigned char *b, size_t at)
{
    uint32_t v;
    memcpy(&v, b + at, 4);
    return v;
}

static uint64_t u64_at(const unsigned char *b, size_t at)
{
    uint64_t v;
    memcpy(&v, b + at, 8);
    return v;
}

static void write_format1(const char *target, const char *name, const void *v2, size_t size)
{
    const unsigned char *b = v2;
    if (u32_at(b, 8) != 2)
        die("format 1 is made from a format-2 file");
    const int trainer = u32_at(b, 16) == 2;
    const size_t D = u32_at(b, 32), np = u64_at(b, 80);
    const size_t nmopt = u32_at(b, 88), ntopt = u32_at(b, 92), nlaw = u32_at(b, 96);
    const size_t params = 104 + 16 * nmopt + 8 + 8 * D; /* after the statistics */
    unsigned char *o = calloc(size, 1);
    if (!o)
        die("out of memory");
    size_t w = 0;
    memcpy(o, b, 88); /* header and model block */
    w = 88;
    const uint32_t one = 1;
    memcpy(o + 8, &one, 4);
    memcpy(o + w, b + params, 8 * np); /* weights and their average */
    w += 8 * np;
    if (trainer) {
        size_t at = params + 8 * np;
        memcpy(o + w, b + at, 8); /* steps */
        w += 8;
        at += 8;
        const uint32_t n18[2] = {18, 0};
        memcpy(o + w, n18, 8);
        w += 8;
        double opt[19] = {0};
        for (size_t k = 0; k < ntopt; k++) {
            uint32_t id = u32_at(b, at + 16 * k);
            double v;
            memcpy(&v, b + at + 16 * k + 8, 8);
            if (id >= 1 && id <= 18)
                opt[id] = v;
        }
        memcpy(o + w, opt + 1, 8 * 18);
        w += 8 * 18;
        at += 16 * ntopt;
        memcpy(o + w, b + at, 128); /* time bins */
        w += 128;
        at += 128 + 8 * nlaw; /* no law bins in format 1 */
        memcpy(o + w, b + at, 16 + 8 * np); /* data size and CRC, moments */
        w += 16 + 8 * np;
    }
    uint32_t crc = fuzz_crc32(o, w);
    memcpy(o + w, &crc, 4);
    w += 4;
    write_file(target, name, o, w);
    free(o);
}

static void write_format1_model(const char *target, const char *name, const cem_model_t *m)
{
    void *buf;
    size_t size;
    OK(cem_model_save_buffer(m, &buf, &size));
    write_format1(target, name, buf, size);
    cem_free(buf);
}

static void write_format1_trainer(const char *target, const char *name, const cem_trainer_t *tr)
{
    void *buf;
    size_t size;
    OK(cem_trainer_save_buffer(tr, &buf, &size));
    write_format1(target, name, buf, size);
    cem_free(buf);
}

/* A format-2/3 model file with the 8 bytes at `at` replaced by v and the
 * checksum re-sealed: damage behind the checksum, for the loader's field
 * checks (the fuzzer rarely gets both the damage and the CRC-32 right). */
static void write_damaged(const char *target, const char *name, const cem_model_t *m,
                          size_t at, double v, size_t zero_at, size_t zero_bytes)
{
    void *buf;
    size_t size;
    OK(cem_model_save_buffer(m, &buf, &size));
    unsigned char *b = buf;
    memcpy(b + at, &v, 8);
    memset(b + zero_at, 0, zero_bytes);
    uint32_t crc = fuzz_crc32(b, size - 4);
    memcpy(b + size - 4, &crc, 4);
    write_file(target, name, b, size);
    cem_free(buf);
}

static void checkpoints(const char *datadir)
{
    static const char *ML = "model_load", *TL = "trainer_load";
    char from[1024];
    cem_model_t *m;

    /* format 2: each target, each parameterisation, each activation */
    m = small_mlp(2, CEM_TARGET_CEM, 1, CEM_PARAM_DIRECT, CEM_ACT_SILU);
    save_model(ML, "v2-cem-direct.cem", m);
    write_format1_model(ML, "v1-cem-direct.cem", m);
    OK(cem_model_set(m, CEM_MODEL_USE_EMA, 0));
    OK(cem_model_set(m, CEM_MODEL_T_MIN, 1e-5));
    OK(cem_model_set(m, CEM_MODEL_T_MAX, 20));
    save_model(ML, "v2-cem-direct-raw-window.cem", m);
    cem_model_free(m);
    m = small_mlp(2, CEM_TARGET_NOISE, 2, CEM_PARAM_DIRECT, CEM_ACT_RELU);
    save_model(ML, "v2-noise-relu.cem", m);
    save_model(TL, "v2-model-only.cem", m); /* not a trainer checkpoint */
    /* damaged: PARAM (the pair at 104: id, 0, value) PRECOND for NOISE */
    write_damaged(ML, "bad-v2-noise-precond.cem", m, 104 + 8, CEM_PARAM_PRECOND, 0, 0);
    cem_model_free(m);
    m = small_mlp(1, CEM_TARGET_SCORE, 1, CEM_PARAM_DIRECT, CEM_ACT_TANH);
    save_model(ML, "v2-score-tanh-d1.cem", m);
    cem_model_free(m);
    m = small_mlp(3, CEM_TARGET_CEM, 1, CEM_PARAM_PRECOND, CEM_ACT_SILU);
    const double mean3[3] = {0.5, -1, 2};
    OK(cem_model_set_data_stats(m, mean3, 0.75));
    save_model(ML, "v2-cem-precond-stats.cem", m);
    cem_model_free(m);
    /* format 3: the data's axes */
    m = small_mlp(3, CEM_TARGET_CEM, 1, CEM_PARAM_PRECOND_PCA, CEM_ACT_SILU);
    const double cov3[9] = {2, 0.5, 0, 0.5, 1, 0, 0, 0, 0};
    OK(cem_model_set_data_cov(m, mean3, cov3));
    save_model(ML, "v3-cem-pca-axes.cem", m);
    /* damaged: axes without statistics (sd at 120 and the mean after it 0) */
    write_damaged(ML, "bad-v3-axes-without-stats.cem", m, 120, 0.0, 128, 8 * 3);
    cem_model_free(m);

    /* trainers, trained a few steps: format 3 (the default PRECOND_PCA
     * measures the axes), format 2, format 1 */
    cem_trainer_t *tr;
    m = small_mlp(2, CEM_TARGET_CEM, 1, CEM_PARAM_PRECOND_PCA, CEM_ACT_SILU);
    tr = trained(m, 5, NULL, NULL, 0);
    save_trainer(TL, "v3-cem-pca.cem", tr);
    save_trainer(ML, "v3-trainer-cem-pca.cem", tr);
    save_model(ML, "v3-cem-pca-trained.cem", m);
    cem_trainer_free(tr);
    cem_model_free(m);

    m = small_mlp(2, CEM_TARGET_CEM, 1, CEM_PARAM_DIRECT, CEM_ACT_SILU);
    {
        const int o[] = {CEM_TRAINER_OPTIMIZER, CEM_TRAINER_WARMUP, CEM_TRAINER_DECAY_STEPS,
                         CEM_TRAINER_LR_MIN, CEM_TRAINER_CLIP, CEM_TRAINER_WEIGHT_DECAY,
                         CEM_TRAINER_SEED};
        const double v[] = {CEM_OPTIM_ADAMW, 2, 10, 1e-5, 1, 0.01, 3};
        tr = trained(m, 4, o, v, 7);
    }
    save_trainer(TL, "v2-cem-direct-adamw.cem", tr);
    write_format1_trainer(TL, "v1-cem-direct.cem", tr);
    save_trainer(ML, "v2-trainer-cem-direct.cem", tr);
    cem_trainer_free(tr);
    cem_model_free(m);

    m = small_mlp(2, CEM_TARGET_CEM, 1, CEM_PARAM_PRECOND, CEM_ACT_SILU);
    {
        const int o[] = {CEM_TRAINER_TIME_LAW, CEM_TRAINER_IMPORTANCE, CEM_TRAINER_ADAPT_FLOOR,
                         CEM_TRAINER_WEIGHT};
        const double v[] = {CEM_TIMELAW_ADAPTIVE, 1, 0.5, CEM_WEIGHT_MIN_SNR};
        tr = trained(m, 3, o, v, 4);
    }
    save_trainer(TL, "v2-cem-precond-adaptive.cem", tr);
    cem_trainer_free(tr);
    cem_model_free(m);

    m = small_mlp(1, CEM_TARGET_NOISE, 2, CEM_PARAM_DIRECT, CEM_ACT_RELU);
    {
        const int o[] = {CEM_TRAINER_TIME_LAW, CEM_TRAINER_LOGNORMAL_MEAN,
                         CEM_TRAINER_LOGNORMAL_STD, CEM_TRAINER_EMA};
        const double v[] = {CEM_TIMELAW_LOGNORMAL, -0.5, 2, 0.9};
        tr = trained(m, 3, o, v, 4);
    }
    save_trainer(TL, "v2-noise-lognormal-d1.cem", tr);
    cem_trainer_free(tr);
    cem_model_free(m);

    m = small_mlp(3, CEM_TARGET_SCORE, 1, CEM_PARAM_DIRECT, CEM_ACT_TANH);
    {
        const int o[] = {CEM_TRAINER_TIME_LAW, CEM_TRAINER_GRID_N};
        const double v[] = {CEM_TIMELAW_GRID, 20};
        tr = trained(m, 2, o, v, 2);
    }
    save_trainer(TL, "v2-score-grid-d3.cem", tr);
    cem_trainer_free(tr);
    cem_model_free(m);

    m = small_mlp(2, CEM_TARGET_CEM, 1, CEM_PARAM_DIRECT, CEM_ACT_SILU);
    tr = trained(m, 0, NULL, NULL, 0);
    save_trainer(TL, "v2-cem-untrained.cem", tr);
    cem_trainer_free(tr);
    cem_model_free(m);

    /* format 4: a model of 3 classes (label table of 3 columns) with the
     * data's axes, and the model of a labelled trainer (classes -1 .. 2 in
     * turn), trained a few steps */
    m = small_mlp(2, CEM_TARGET_CEM, 1, CEM_PARAM_PRECOND_PCA, CEM_ACT_SILU);
    OK(cem_model_set(m, CEM_MODEL_LABEL_EMBED, 3));
    OK(cem_model_set(m, CEM_MODEL_LABELS, 3));
    const double mean2[2] = {0.25, -0.5}, cov2[4] = {1, 0.3, 0.3, 0.5};
    OK(cem_model_set_data_cov(m, mean2, cov2));
    save_model(ML, "v4-cem-pca-labels3.cem", m);
    cem_model_free(m);
    m = small_mlp(2, CEM_TARGET_NOISE, 2, CEM_PARAM_DIRECT, CEM_ACT_RELU);
    OK(cem_model_set(m, CEM_MODEL_LABEL_EMBED, 2));
    OK(cem_model_set(m, CEM_MODEL_LABELS, 3));
    {
        float data[FUZZ_CORPUS_ROWS * 2];
        int labels[FUZZ_CORPUS_ROWS];
        fuzz_trainer_data(2, FUZZ_CORPUS_ROWS, data);
        for (int i = 0; i < FUZZ_CORPUS_ROWS; i++)
            labels[i] = i % 4 - 1;
        OK(cem_trainer_create_labelled(&tr, m, data, labels, FUZZ_CORPUS_ROWS, 2));
        OK(cem_trainer_set(tr, CEM_TRAINER_THREADS, 1));
        OK(cem_trainer_set(tr, CEM_TRAINER_BATCH, 16));
        OK(cem_trainer_set(tr, CEM_TRAINER_LABEL_DROPOUT, 0.25));
        OK(cem_trainer_run(tr, 3, NULL));
    }
    save_trainer(ML, "v4-trainer-noise-labels3.cem", tr);
    cem_trainer_free(tr);
    cem_model_free(m);

    /* the files the last format-1 library wrote */
    snprintf(from, sizeof from, "%s/format1_model.cem", datadir);
    copy_file(ML, "v1-format1_model.cem", from);
    snprintf(from, sizeof from, "%s/format1_trainer.cem", datadir);
    copy_file(ML, "v1-format1_trainer.cem", from);
    copy_file(TL, "v1-format1_trainer.cem", from);
}

/* ---------------------------------------------------------------- CSV */

static void csv_text(const char *name, const char *text)
{
    write_file("csv_read", name, text, strlen(text));
}

static void csv_dataset(const char *name, cem_dataset_kind kind, int dim, size_t n)
{
    cem_dataset_t *d;
    OK(cem_dataset_create(&d, kind, dim, 1));
    float *x = malloc(sizeof(float) * n * (size_t)dim);
    if (!x)
        die("out of memory");
    OK(cem_dataset_sample(d, n, 2, x));
    /* cem_csv_write writes a path: write it there, then copy */
    char path[1024];
    snprintf(path, sizeof path, "%s/csv_read", outdir);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/csv_read/%s", outdir, name);
    OK(cem_csv_write(path, x, n, dim));
    free(x);
    cem_dataset_free(d);
}

static void csvs(void)
{
    csv_dataset("circle-16.csv", CEM_DATA_CIRCLE, 2, 16);
    csv_dataset("helix-8.csv", CEM_DATA_HELIX, 3, 8);
    csv_dataset("sphere-in-r5-4.csv", CEM_DATA_SPHERE, 5, 4);
    csv_dataset("segment-3.csv", CEM_DATA_SEGMENT, 2, 3);
    csv_text("one.csv", "1\n");
    csv_text("comments-blanks.csv", "# x, y\n\n  1.5, -2\n\t# more\n3e-2,\t4E+1  \n\n");
    csv_text("crlf.csv", "1,2\r\n3,4\r\n");
    csv_text("no-final-newline.csv", "0.25,0.5,0.75");
    csv_text("hex-and-signs.csv", "0x1p-3,-0,+7\n-0x1.8p1,.5,5.\n");
    csv_text("float-range.csv", "3.40282347e+38,-3.40282347e+38\n1.17549435e-38,1e-45\n");
    csv_text("ragged.csv", "1,2\n3\n");
    csv_text("empty-field.csv", "1,,2\n");
    csv_text("not-finite.csv", "nan,inf\n");
    csv_text("beyond-float.csv", "1e39\n");
    csv_text("only-comments.csv", "# nothing\n\n");
    write_file("csv_read", "nul-byte.csv", "1,2\n3\0,4\n", 9);
    write_file("csv_read", "empty.csv", "", 0);
    /* a label column (field 0: cem_csv_read_labelled), and empty fields
     * (cem_csv_read_missing), alone and together */
    csv_text("labelled.csv", "0,1.5,-2\n1, 0.25,3\n2,-1,0\n-1,4,4e-1\n+0,2,2\n");
    csv_text("missing-fields.csv", "1,,2\n,3.5,\n 4 , ,5\n,,\n");
    csv_text("labelled-missing.csv", "0,1.5,\n1,,3\n-1,0.25,0.5\n");
}

/* ------------------------------------------------------- options programs */

typedef struct {
    unsigned char b[512];
    size_t n;
} prog;

static void put(prog *p, int byte)
{
    if (p->n >= sizeof p->b)
        die("program too long");
    p->b[p->n++] = (unsigned char)byte;
}

static void put_value(prog *p, double v)
{
    unsigned char b[8];
    memcpy(b, &v, 8);
    put(p, FUZZ_VALUE_RAW);
    for (int k = 0; k < 8; k++)
        put(p, b[k]);
}

static void header(prog *p, int kind, cem_target target, int fresh, int dim, int width,
                   int depth, int embed, int data, int batch)
{
    p->n = 0;
    put(p, kind + 3 * (int)target + 9 * fresh);
    put(p, dim - 1);
    put(p, width - 1);
    put(p, (depth - 1) + 3 * (embed / 2 - 1));
    put(p, data);
    put(p, batch - 1);
}

static void set(prog *p, int op, int opt, double v)
{
    put(p, op);
    put(p, opt);
    put_value(p, v);
}

static void save_prog(const char *name, const prog *p)
{
    write_file("options", name, p->b, p->n);
}

static void programs(void)
{
    prog p;
    const int unit = 32; /* data scale 2^0 */

    /* an MLP: network options, a trainer with a recipe, training, the
     * round trips, sampling across a block, the getters */
    header(&p, 0, CEM_TARGET_CEM, 1, 2, 8, 2, 4, unit, 8);
    set(&p, FUZZ_OP_MODEL_SET, CEM_MODEL_ACTIVATION, CEM_ACT_TANH);
    set(&p, FUZZ_OP_MODEL_SET, CEM_MODEL_PARAM, CEM_PARAM_PRECOND);
    set(&p, FUZZ_OP_MODEL_SET, CEM_MODEL_T_MIN, 1e-4);
    put(&p, FUZZ_OP_TRAINER);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_OPTIMIZER, CEM_OPTIM_ADAMW);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_WEIGHT_DECAY, 0.1);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_CLIP, 0.5);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_WARMUP, 2);
    put(&p, FUZZ_OP_TRAIN);
    put(&p, 3);
    put(&p, FUZZ_OP_TRAINER_ROUNDTRIP);
    put(&p, FUZZ_OP_MODEL_ROUNDTRIP);
    put(&p, FUZZ_OP_GETTERS);
    put(&p, FUZZ_OP_BINS);
    put(&p, 0);
    put(&p, 0);
    put(&p, FUZZ_OP_TRAINER);
    put(&p, FUZZ_OP_SAMPLER);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_INTEGRATOR, CEM_INTEG_HEUN);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_TRAJ_ROWS, 3);
    put(&p, FUZZ_OP_SAMPLE);
    put(&p, 2 + 4 * 2); /* rows 254 .. across the block of 256 */
    put(&p, 6);
    put(&p, FUZZ_OP_PLAN);
    put(&p, 0);
    put(&p, FUZZ_OP_GETTERS);
    save_prog("mlp-train-sample.bin", &p);

    /* the ADAPTIVE law with importance weights, bins, caller batches */
    header(&p, 0, CEM_TARGET_CEM, 0, 1, 4, 1, 2, unit, 4);
    set(&p, FUZZ_OP_MODEL_SET, CEM_MODEL_PARAM, CEM_PARAM_DIRECT);
    put(&p, FUZZ_OP_TRAINER);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_ADAPTIVE);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_IMPORTANCE, 1);
    put(&p, FUZZ_OP_TRAIN);
    put(&p, 2);
    put(&p, FUZZ_OP_BINS);
    put(&p, CEM_TRAINER_LAW_BINS);
    put(&p, 0);
    put(&p, FUZZ_OP_BATCH);
    put(&p, 0); /* a step on a given batch */
    put(&p, 2); /* B */
    for (int i = 0; i < 2; i++) {
        put_value(&p, 0.5 * i);
        put_value(&p, -0.25);
        put_value(&p, 0.1 + i);
    }
    put(&p, FUZZ_OP_BATCH);
    put(&p, 3); /* the loss and gradient */
    put(&p, 1);
    put_value(&p, 1);
    put_value(&p, 0.5);
    put_value(&p, 1e-3);
    put(&p, FUZZ_OP_TRAINER_ROUNDTRIP);
    save_prog("mlp-adaptive-batches.bin", &p);

    /* NOISE and SCORE models refuse preconditioning; statistics and
     * covariance, parameters, evaluation */
    header(&p, 0, CEM_TARGET_NOISE, 0, 3, 5, 1, 6, unit + 2, 2);
    set(&p, FUZZ_OP_MODEL_SET, CEM_MODEL_PARAM, CEM_PARAM_PRECOND);
    put(&p, FUZZ_OP_DATA_STATS);
    put(&p, 0);
    for (int j = 0; j < 3; j++)
        put_value(&p, 0.25 * j);
    put_value(&p, 0.5);
    put(&p, FUZZ_OP_DATA_STATS);
    put(&p, 1);
    for (int j = 0; j < 3; j++)
        put_value(&p, -0.5 * j);
    put(&p, FUZZ_OP_PARAMS);
    put(&p, 2);
    put(&p, 1);
    put(&p, 3);
    put_value(&p, 0.125);
    put(&p, 4);
    put_value(&p, -0.5);
    put(&p, FUZZ_OP_EVAL);
    put(&p, CEM_TARGET_SCORE);
    put(&p, 2);
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 3; j++)
            put_value(&p, 0.3 * i - 0.2 * j);
        put_value(&p, 0.01);
    }
    put(&p, FUZZ_OP_MODEL_ROUNDTRIP);
    put(&p, FUZZ_OP_TRAINER);
    put(&p, FUZZ_OP_TRAIN);
    put(&p, 4 + 3); /* three steps in one call */
    save_prog("noise-stats-params.bin", &p);

    /* the exact model of the data: every sampler option */
    header(&p, 1, CEM_TARGET_CEM, 0, 2, 1, 1, 2, unit, 1);
    put(&p, FUZZ_OP_SAMPLER);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_INTEGRATOR, CEM_INTEG_ANCESTRAL);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_GRID, CEM_GRID_UNIFORM);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_STEPS, 3);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_T_MIN, 0.01);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_T_MAX, 5);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_DENOISE, 0);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_SEED, 9);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_THREADS, 2);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_TRAJ_ROWS, 2);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_TRAJ_EVERY, 2);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_PRIOR, 0);
    put(&p, FUZZ_OP_SAMPLE);
    put(&p, 1);
    put(&p, 5);
    put(&p, FUZZ_OP_PLAN);
    put(&p, 1);
    put(&p, FUZZ_OP_GETTERS);
    set(&p, FUZZ_OP_MODEL_SET, CEM_MODEL_T_MIN, 0.5);
    set(&p, FUZZ_OP_MODEL_SET, CEM_MODEL_WIDTH, 4);
    save_prog("empirical-sampler.bin", &p);

    /* a Gaussian: the probability-flow integrators, rows near the end of
     * the row index, options out of bounds */
    header(&p, 2, CEM_TARGET_CEM, 0, 3, 1, 1, 2, unit + 1, 1);
    put(&p, FUZZ_OP_SAMPLER);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_INTEGRATOR, CEM_INTEG_ODE);
    put(&p, FUZZ_OP_SAMPLE);
    put(&p, 3);
    put(&p, 8);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_INTEGRATOR, CEM_INTEG_EULER);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_STEPS, 1);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_T_MIN, 200);
    set(&p, FUZZ_OP_SAMPLER_SET, CEM_SAMPLER_SEED, 0.5);
    set(&p, FUZZ_OP_SAMPLER_SET, 12, 1);
    put(&p, FUZZ_OP_SAMPLE);
    put(&p, 0);
    put(&p, 4);
    put(&p, FUZZ_OP_MODEL_ROUNDTRIP);
    save_prog("gaussian-ode-bounds.bin", &p);

    /* data on a line far from the origin: measured statistics, SCORE */
    header(&p, 0, CEM_TARGET_SCORE, 1, 2, 3, 1, 2, 0x80 | (32 + 20), 3);
    put(&p, FUZZ_OP_TRAINER);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_UNIFORM);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_LR, 10);
    put(&p, FUZZ_OP_TRAIN);
    put(&p, 3);
    put(&p, FUZZ_OP_SAMPLER);
    put(&p, FUZZ_OP_SAMPLE);
    put(&p, 0);
    put(&p, 8);
    save_prog("score-far-data.bin", &p);

    /* progress callbacks that stop: a run of 3 steps, rows across blocks;
     * an odd number of time features; a batch of 64 on two threads */
    header(&p, 0, CEM_TARGET_CEM, 0, 2, 4, 1, 2, unit, 2);
    set(&p, FUZZ_OP_MODEL_SET, CEM_MODEL_EMBED, 3);
    put(&p, FUZZ_OP_TRAINER);
    put(&p, FUZZ_OP_BINS);
    put(&p, 0);
    put(&p, 1); /* the trainer's callback stops */
    put(&p, FUZZ_OP_TRAIN);
    put(&p, 4 + 3);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_BATCH, 64);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_THREADS, 2);
    put(&p, FUZZ_OP_TRAIN);
    put(&p, 1);
    put(&p, FUZZ_OP_TRAINER);
    put(&p, FUZZ_OP_SAMPLER);
    put(&p, FUZZ_OP_PLAN);
    put(&p, 3); /* the sampler's callback, which stops */
    put(&p, FUZZ_OP_SAMPLE);
    put(&p, 2 + 4 * 4); /* rows 256 .. */
    put(&p, 8);
    put(&p, FUZZ_OP_SAMPLE);
    put(&p, 2 + 4 * 1); /* rows 253 .. 260: two blocks */
    put(&p, 8);
    save_prog("stops-odd-embed-batch64.bin", &p);

    /* gradient accumulation: ACCUMULATE 3 and 64 (capped; above half the
     * batch of 8, so most micro-batches are empty), steps one at a time and
     * in one call, a caller's batch, the round trips, bad values; and a
     * LABEL_EMBED without classes, which a save must keep */
    header(&p, 0, CEM_TARGET_CEM, 0, 2, 4, 1, 2, unit, 8);
    set(&p, FUZZ_OP_MODEL_SET, CEM_MODEL_LABEL_EMBED, 3);
    put(&p, FUZZ_OP_MODEL_ROUNDTRIP);
    put(&p, FUZZ_OP_TRAINER);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_ACCUMULATE, 3);
    put(&p, FUZZ_OP_TRAIN);
    put(&p, 2);
    put(&p, FUZZ_OP_TRAINER_ROUNDTRIP);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_ACCUMULATE, 4096);
    put(&p, FUZZ_OP_BATCH);
    put(&p, 3); /* the loss and gradient */
    put(&p, 3);
    for (int i = 0; i < 3; i++) {
        put_value(&p, 0.5 * i);
        put_value(&p, -0.25);
        put_value(&p, 0.5);
        put_value(&p, 1.5 - i);
        put_value(&p, 0.1 + i);
    }
    put(&p, FUZZ_OP_TRAIN);
    put(&p, 4 + 2);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_ACCUMULATE, 0);
    set(&p, FUZZ_OP_TRAINER_SET, CEM_TRAINER_ACCUMULATE, 2.5);
    put(&p, FUZZ_OP_GETTERS);
    put(&p, FUZZ_OP_TRAINER_ROUNDTRIP);
    put(&p, FUZZ_OP_TRAINER);
    set(&p, FUZZ_OP_MODEL_SET, CEM_MODEL_LABELS, 2);
    put(&p, FUZZ_OP_MODEL_ROUNDTRIP);
    save_prog("mlp-accumulate-label-embed.bin", &p);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s OUTDIR DATADIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST)
        die(outdir);
    checkpoints(argv[2]);
    csvs();
    programs();
    return 0;
}
