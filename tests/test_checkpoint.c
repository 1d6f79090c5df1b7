/*
 * test_checkpoint.c -- checkpoints: byte-identical save -> load -> save,
 * exact resume, a distinct status for each kind of damage, never a crash on
 * random corruption, and saves that never destroy the previous file; format
 * 2's model option pairs and data statistics (round trip, damage), and
 * exact resume with the ADAPTIVE law and importance weights.
 */
#include "tests.h"

#include "base.h"
#include "io.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { D = 2, NDATA = 256 };
static float data[NDATA * D];

static void make_data(void)
{
    for (int i = 0; i < NDATA; i++) {
        double a = 6.283185307179586 * i / NDATA;
        data[2 * i] = (float)cos(a);
        data[2 * i + 1] = (float)(0.5 * sin(a));
    }
}

static cem_model_t *small_mlp(cem_target target)
{
    cem_model_t *m = NULL;
    ck_assert_int_eq(cem_model_create_mlp(&m, D, target), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_WIDTH, 24), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_DEPTH, 2), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_EMBED, 6), CEM_OK);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_SEED, 12), CEM_OK);
    return m;
}

static cem_trainer_t *small_trainer(cem_model_t *m)
{
    cem_trainer_t *tr = NULL;
    ck_assert_int_eq(cem_trainer_create(&tr, m, data, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, 64), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_SEED, 5), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_WARMUP, 4), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_DECAY_STEPS, 40), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_CLIP, 1.0), CEM_OK);
    return tr;
}

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*size + 1);
    ck_assert_uint_eq(fread(b, 1, *size, f), *size);
    fclose(f);
    return b;
}

static void write_all(const char *path, const void *b, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, size, f), size);
    fclose(f);
}

START_TEST(crc32_known_answer)
{
    ck_assert_uint_eq(cemi_crc32(0, "123456789", 9), 0xCBF43926u);
    ck_assert_uint_eq(cemi_crc32(cemi_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
    ck_assert_uint_eq(cemi_crc32(0, "", 0), 0);
}
END_TEST

START_TEST(model_round_trip_is_byte_identical)
{
    make_data();
    cem_model_t *m = small_mlp(CEM_TARGET_NOISE);
    cem_trainer_t *tr = small_trainer(m);
    ck_assert_int_eq(cem_trainer_run(tr, 5, NULL), CEM_OK); /* params != ema */
    cem_trainer_free(tr);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_T_MIN, 1e-3), CEM_OK);

    const char *p1 = strdup(test_tmp_path("a.cem")), *p2 = strdup(test_tmp_path("b.cem"));
    ck_assert_int_eq(cem_model_save(m, p1), CEM_OK);
    cem_model_t *l;
    ck_assert_int_eq(cem_model_load(&l, p1), CEM_OK);
    ck_assert_int_eq(cem_model_save(l, p2), CEM_OK);
    size_t s1, s2;
    unsigned char *b1 = read_all(p1, &s1), *b2 = read_all(p2, &s2);
    ck_assert_uint_eq(s1, s2);
    ck_assert_int_eq(memcmp(b1, b2, s1), 0);

    /* the buffer path writes the same bytes */
    void *mb;
    size_t ms;
    ck_assert_int_eq(cem_model_save_buffer(l, &mb, &ms), CEM_OK);
    ck_assert_uint_eq(ms, s1);
    ck_assert_int_eq(memcmp(mb, b1, s1), 0);

    /* the loaded model answers bitwise as the original, with EMA and without */
    ck_assert_int_eq(cem_model_kind_of(l), CEM_KIND_MLP);
    ck_assert_int_eq(cem_model_target_of(l), CEM_TARGET_NOISE);
    float x[6] = {0.1f, 0.2f, -1, 0.5f, 2, 2}, a[6], b[6];
    double t[3] = {1e-3, 0.5, 7};
    for (int ema = 0; ema <= 1; ema++) {
        cem_model_set(m, CEM_MODEL_USE_EMA, ema);
        cem_model_set(l, CEM_MODEL_USE_EMA, ema);
        for (int what = 0; what < 3; what++) {
            ck_assert_int_eq(cem_model_eval(m, (cem_target)what, 3, x, t, a), CEM_OK);
            ck_assert_int_eq(cem_model_eval(l, (cem_target)what, 3, x, t, b), CEM_OK);
            ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
        }
    }
    /* an unaligned buffer loads too */
    unsigned char *shifted = malloc(ms + 1);
    memcpy(shifted + 1, mb, ms);
    cem_model_t *u;
    ck_assert_int_eq(cem_model_load_buffer(&u, shifted + 1, ms), CEM_OK);
    cem_model_free(u);
    free(shifted);
    cem_free(mb);
    free(b1); free(b2);
    free((void *)p1); free((void *)p2);
    cem_model_free(l);
    cem_model_free(m);
}
END_TEST

START_TEST(resume_is_exact)
{
    make_data();
    enum { N = 30, K = 12 };
    size_t np;
    /* N uninterrupted steps */
    cem_model_t *m = small_mlp(CEM_TARGET_CEM);
    cem_trainer_t *tr = small_trainer(m);
    ck_assert_int_eq(cem_trainer_run(tr, N, NULL), CEM_OK);
    np = cem_model_param_count(m);
    float *want = malloc(4 * np), *want_ema = malloc(4 * np);
    cem_model_get_params(m, 0, want, np);
    cem_model_get_params(m, 1, want_ema, np);
    cem_trainer_free(tr);
    cem_model_free(m);

    /* K steps, save, load, N - K steps */
    m = small_mlp(CEM_TARGET_CEM);
    tr = small_trainer(m);
    ck_assert_int_eq(cem_trainer_run(tr, K, NULL), CEM_OK);
    const char *path = test_tmp_path("resume.cem");
    ck_assert_int_eq(cem_trainer_save(tr, path), CEM_OK);
    void *buf1;
    size_t size1;
    ck_assert_int_eq(cem_trainer_save_buffer(tr, &buf1, &size1), CEM_OK);
    cem_trainer_free(tr);
    cem_model_free(m);

    cem_trainer_t *r;
    ck_assert_int_eq(cem_trainer_load(&r, path, data, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_steps(r), K);
    void *buf2;
    size_t size2;
    ck_assert_int_eq(cem_trainer_save_buffer(r, &buf2, &size2), CEM_OK);
    ck_assert_uint_eq(size1, size2);
    ck_assert_int_eq(memcmp(buf1, buf2, size1), 0); /* save -> load -> save */
    double v;
    ck_assert_int_eq(cem_trainer_get(r, CEM_TRAINER_DECAY_STEPS, &v), CEM_OK);
    ck_assert(v == 40);
    ck_assert_int_eq(cem_trainer_run(r, N - K, NULL), CEM_OK);
    cem_model_t *rm = cem_trainer_model(r);
    float *got = malloc(4 * np), *got_ema = malloc(4 * np);
    cem_model_get_params(rm, 0, got, np);
    cem_model_get_params(rm, 1, got_ema, np);
    ck_assert_int_eq(memcmp(want, got, 4 * np), 0);
    ck_assert_int_eq(memcmp(want_ema, got_ema, 4 * np), 0);

    /* a model-only load of a trainer checkpoint gives the model */
    cem_model_t *only;
    ck_assert_int_eq(cem_model_load_buffer(&only, buf1, size1), CEM_OK);
    cem_model_free(only);
    /* other data are refused */
    float other[NDATA * D];
    memcpy(other, data, sizeof other);
    other[7] += 1e-3f;
    cem_trainer_t *bad = (cem_trainer_t *)&bad;
    ck_assert_int_eq(cem_trainer_load(&bad, path, other, NDATA, D), CEM_ERR_ARG);
    ck_assert_ptr_null(bad);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "data differ"));

    /* the model outlives its trainer when the host retains it */
    cem_model_retain(rm);
    cem_trainer_free(r);
    ck_assert_int_eq(cem_model_set(rm, CEM_MODEL_WIDTH, 8), CEM_OK); /* no longer busy */
    cem_model_free(rm);
    cem_free(buf1); cem_free(buf2);
    free(want); free(want_ema); free(got); free(got_ema);
}
END_TEST

/* Re-seals a modified buffer with a correct checksum. */
static void reseal(unsigned char *b, size_t size)
{
    uint32_t crc = cemi_crc32(0, b, size - 4);
    memcpy(b + size - 4, &crc, 4);
}

START_TEST(damage_gives_distinct_statuses)
{
    make_data();
    cem_model_t *m = small_mlp(CEM_TARGET_CEM);
    /* format 2's layout (PRECOND_PCA's axes make a format-3 file) */
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_PRECOND), CEM_OK);
    cem_trainer_t *tr = small_trainer(m);
    void *vb;
    size_t size;
    ck_assert_int_eq(cem_trainer_save_buffer(tr, &vb, &size), CEM_OK);
    const unsigned char *good = vb;
    unsigned char *b = malloc(size + 16);
    cem_model_t *out = (cem_model_t *)&out;

#define LOAD_IS(expect) \
    do { \
        int st_ = cem_model_load_buffer(&out, b, size); \
        ck_assert_msg(st_ == (expect), "got %d (%s) want %d", st_, cem_last_error(), expect); \
        ck_assert_ptr_null(out); \
    } while (0)

    memcpy(b, good, size);
    b[1] = 'X';
    LOAD_IS(CEM_ERR_BAD_MAGIC);
    memcpy(b, good, size);
    b[8] = 5; /* format version 5: newer than this library */
    LOAD_IS(CEM_ERR_VERSION);
    memcpy(b, good, size);
    b[12] = 0x0A; b[13] = 0x0B; b[14] = 0x0C; b[15] = 0x0D; /* other byte order */
    LOAD_IS(CEM_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "byte order"));
    /* format 2: header 24, model 64, counts 16, one model option pair 16,
     * data sd and mean 8 + 8 D, then the weights (docs/CHECKPOINT.md) */
    const size_t params_at = 24 + 64 + 16 + 16 + 8 + 8 * D;
    memcpy(b, good, size);
    b[params_at + 13] ^= 0x40; /* a weight bit */
    LOAD_IS(CEM_ERR_CHECKSUM);
    memcpy(b, good, size);
    b[size - 1] ^= 1; /* the checksum itself */
    LOAD_IS(CEM_ERR_CHECKSUM);
    /* impossible fields with a valid checksum */
    const size_t field_width = 24 + 16, field_np = 24 + 56;
    memcpy(b, good, size);
    memset(b + field_width, 0, 4); /* H = 0 */
    reseal(b, size);
    LOAD_IS(CEM_ERR_CORRUPT);
    memcpy(b, good, size);
    b[field_np] ^= 1; /* np disagrees with the architecture */
    reseal(b, size);
    LOAD_IS(CEM_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "parameter count"));
    memcpy(b, good, size);
    float nan = NAN;
    memcpy(b + params_at + 4 * 3, &nan, 4); /* a NaN weight */
    reseal(b, size);
    LOAD_IS(CEM_ERR_CORRUPT);
    /* a trainer option out of its bounds */
    memcpy(b, good, size);
    size_t np = cem_model_param_count(m);
    double bad_batch = 0;
    /* the trainer: u64 step, then (u32 id, u32 0, f64 value) pairs from id 1 */
    memcpy(b + params_at + 8 * np + 8 + 8, &bad_batch, 8); /* option id 1: BATCH */
    reseal(b, size);
    cem_trainer_t *t2 = (cem_trainer_t *)&t2;
    ck_assert_int_eq(cem_trainer_load_buffer(&t2, b, size, data, NDATA, D), CEM_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "CEM_TRAINER_BATCH"));
    ck_assert_ptr_null(t2);
    /* a negative Adam second moment (the last float before the checksum):
     * it loaded, and the next step's sqrt made a weight NaN, so that the
     * trainer saved a file it refused (found by tests/fuzz/trainer_load.c) */
    memcpy(b, good, size);
    float negative = -1.0f;
    memcpy(b + size - 8, &negative, 4);
    reseal(b, size);
    ck_assert_int_eq(cem_trainer_load_buffer(&t2, b, size, data, NDATA, D), CEM_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "second moment"));
    ck_assert_ptr_null(t2);
    float negative_zero = -0.0f; /* not below 0: loads */
    memcpy(b + size - 8, &negative_zero, 4);
    reseal(b, size);
    ck_assert_int_eq(cem_trainer_load_buffer(&t2, b, size, data, NDATA, D), CEM_OK);
    cem_trainer_free(t2);
    /* every truncation */
    memcpy(b, good, size);
    for (size_t cut = 0; cut < size; cut += (cut < 200 ? 1 : 97)) {
        int st = cem_model_load_buffer(&out, b, cut);
        ck_assert_msg(st == CEM_ERR_TRUNCATED || (cut == 0 && st == CEM_ERR_TRUNCATED),
                      "cut %zu: %d", cut, st);
    }
    /* trailing bytes */
    memcpy(b, good, size);
    b[size] = 0;
    ck_assert_int_eq(cem_model_load_buffer(&out, b, size + 1), CEM_ERR_CORRUPT);
    /* the file loader says the same things */
    const char *path = test_tmp_path("damaged.cem");
    write_all(path, good, size - 10);
    ck_assert_int_eq(cem_model_load(&out, path), CEM_ERR_TRUNCATED);
    write_all(path, "not a checkpoint at all, just text\n", 35);
    ck_assert_int_eq(cem_model_load(&out, path), CEM_ERR_BAD_MAGIC);
    ck_assert_int_eq(cem_model_load(&out, test_tmp_path("missing.cem")), CEM_ERR_IO);
    ck_assert_int_eq(cem_model_load(&out, NULL), CEM_ERR_ARG);
    ck_assert_int_eq(cem_model_load_buffer(&out, NULL, 10), CEM_ERR_ARG);
    /* a model checkpoint is not a trainer checkpoint */
    void *mb;
    size_t ms;
    ck_assert_int_eq(cem_model_save_buffer(m, &mb, &ms), CEM_OK);
    ck_assert_int_eq(cem_trainer_load_buffer(&t2, mb, ms, data, NDATA, D), CEM_ERR_ARG);
    cem_free(mb);
#undef LOAD_IS
    cem_trainer_free(tr);
    cem_model_free(m);
    cem_free(vb);
    free(b);
}
END_TEST

START_TEST(random_corruption_never_crashes)
{
    make_data();
    cem_model_t *m = small_mlp(CEM_TARGET_SCORE);
    cem_trainer_t *tr = small_trainer(m);
    void *vb;
    size_t size;
    ck_assert_int_eq(cem_trainer_save_buffer(tr, &vb, &size), CEM_OK);
    unsigned char *b = malloc(size);
    cemi_rng r;
    cemi_rng_init(&r, 3, 0);
    int rejected = 0;
    for (int trial = 0; trial < 2000; trial++) {
        memcpy(b, vb, size);
        int flips = 1 + (int)(cemi_rng_uniform(&r) * 4);
        for (int k = 0; k < flips; k++) {
            size_t pos = (size_t)(cemi_rng_uniform(&r) * (double)size);
            b[pos] ^= (unsigned char)(1u << (cemi_rng_u32(&r) % 8));
        }
        if (trial % 2)
            reseal(b, size); /* get past the checksum to the field checks */
        size_t len = trial % 5 == 0 ? (size_t)(cemi_rng_uniform(&r) * (double)size) : size;
        cem_model_t *out = NULL;
        cem_trainer_t *t2 = NULL;
        int st = cem_model_load_buffer(&out, b, len);
        int st2 = cem_trainer_load_buffer(&t2, b, len, data, NDATA, D);
        if (st != CEM_OK)
            rejected++;
        else
            cem_model_free(out); /* a flip in a weight that stays finite */
        if (st2 == CEM_OK)
            cem_trainer_free(t2);
        if (trial % 2 == 0) /* unsealed damage is always caught */
            ck_assert(st == CEM_ERR_CHECKSUM || st == CEM_ERR_CORRUPT || st == CEM_ERR_VERSION ||
                      st == CEM_ERR_BAD_MAGIC || st == CEM_ERR_TRUNCATED);
    }
    ck_assert_int_gt(rejected, 1000);
    free(b);
    cem_free(vb);
    cem_trainer_free(tr);
    cem_model_free(m);
}
END_TEST

/* Every prefix of a checkpoint, placed at the very end of a readable page
 * followed by an unreadable one: a loader that reads one byte past the
 * buffer it is given faults.  (The loaders read the version's 4 bytes and
 * then the byte-order mark's 4 more from a 12- to 15-byte buffer; found by
 * tests/fuzz/model_load.c under AddressSanitizer, which the truncation
 * test above cannot see: its buffer is the whole file.) */
START_TEST(truncated_buffers_are_read_within_bounds)
{
    make_data();
    cem_model_t *m = small_mlp(CEM_TARGET_CEM);
    cem_trainer_t *tr = small_trainer(m);
    void *vb;
    size_t size;
    ck_assert_int_eq(cem_trainer_save_buffer(tr, &vb, &size), CEM_OK);
    const size_t page = (size_t)sysconf(_SC_PAGESIZE), span = (size + page - 1) / page * page;
    int fd = open("/dev/zero", O_RDWR);
    ck_assert_int_ge(fd, 0);
    unsigned char *area = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    ck_assert(area != MAP_FAILED);
    ck_assert_int_eq(mprotect(area + span, page, PROT_NONE), 0);
    for (size_t len = 0; len <= size; len += len < 256 ? 1 : 61) {
        unsigned char *b = area + span - len;
        memcpy(b, vb, len);
        cem_model_t *out = NULL;
        cem_trainer_t *t2 = NULL;
        int st = cem_model_load_buffer(&out, b, len);
        ck_assert_int_eq(st, len < size ? CEM_ERR_TRUNCATED : CEM_OK);
        cem_model_free(out);
        st = cem_trainer_load_buffer(&t2, b, len, data, NDATA, D);
        ck_assert_int_eq(st, len < size ? CEM_ERR_TRUNCATED : CEM_OK);
        cem_trainer_free(t2);
    }
    munmap(area, span + page);
    cem_free(vb);
    cem_trainer_free(tr);
    cem_model_free(m);
}
END_TEST

static int count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        k += strstr(e->d_name, ".tmp") != NULL;
    closedir(d);
    return k;
}

START_TEST(failed_saves_keep_the_previous_file)
{
    make_data();
    cem_model_t *m = small_mlp(CEM_TARGET_CEM), *g;
    const char *path = strdup(test_tmp_path("keep.cem"));
    ck_assert_int_eq(cem_model_save(m, path), CEM_OK);
    size_t s0, s1;
    unsigned char *before = read_all(path, &s0);
    /* a model that cannot be saved leaves the file as it was */
    float mu[2] = {0, 0}, cov[4] = {1, 0, 0, 1};
    ck_assert_int_eq(cem_model_create_gaussian(&g, mu, cov, 2), CEM_OK);
    ck_assert_int_eq(cem_model_save(g, path), CEM_ERR_UNSUPPORTED);
    /* a rename that fails (the destination is a directory) cleans up */
    char dirpath[600];
    snprintf(dirpath, sizeof dirpath, "%s.d", path);
    ck_assert_int_eq(mkdir(dirpath, 0755), 0);
    ck_assert_int_eq(cem_model_save(m, dirpath), CEM_ERR_IO);
    ck_assert_int_eq(cem_model_save(m, "/nonexistent-dir-cemdiff/x.cem"), CEM_ERR_IO);
    unsigned char *after = read_all(path, &s1);
    ck_assert_uint_eq(s0, s1);
    ck_assert_int_eq(memcmp(before, after, s0), 0);
    char parent[600];
    snprintf(parent, sizeof parent, "%s", path);
    *strrchr(parent, '/') = '\0';
    ck_assert_int_eq(count_tmp_files(parent), 0);
    cem_model_free(g);
    cem_model_free(m);
    free(before); free(after); free((void *)path);
}
END_TEST

/* Reads the 6 rows of 8 numbers of tests/data/format1_expected.csv. */
static void read_expected(float want[6][8])
{
    FILE *f = fopen("tests/data/format1_expected.csv", "r");
    ck_assert_ptr_nonnull(f);
    char line[512];
    int row = 0;
    while (row < 6 && fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char *p = line;
        for (int k = 0; k < 8; k++) {
            want[row][k] = strtof(p, &p);
            if (*p == ',')
                p++;
        }
        row++;
    }
    fclose(f);
    ck_assert_int_eq(row, 6);
}

static void expect_f(cem_model_t *m, const float want[3][8])
{
    const float x[8] = {1.1f, 0.0f, -0.3f, 0.6f, 0.0f, -0.45f, 0.7f, 0.7f};
    const double ts[3] = {1e-3, 0.1, 3.0};
    for (int k = 0; k < 3; k++) {
        float out[8];
        ck_assert_int_eq(cem_model_eval_at(m, CEM_TARGET_CEM, 4, x, ts[k], out), CEM_OK);
        for (int i = 0; i < 8; i++) /* other CPUs' kernels differ in the last bits */
            ck_assert_msg(fabsf(out[i] - want[k][i]) < 1e-5f, "t = %g, %d: %.9g want %.9g",
                          ts[k], i, (double)out[i], (double)want[k][i]);
    }
}

/* Format-1 files written by the library that introduced the format load
 * with today's library and mean what they meant: a DIRECT model without
 * data statistics, the same f, and a trainer that continues as that library
 * continued it. */
START_TEST(format1_files_still_load)
{
    make_data();
    float want[6][8];
    read_expected(want);
    cem_model_t *m = NULL;
    ck_assert_msg(cem_model_load(&m, "tests/data/format1_model.cem") == CEM_OK, "%s",
                  cem_last_error());
    double v, sd = -1;
    ck_assert_int_eq(cem_model_get(m, CEM_MODEL_PARAM, &v), CEM_OK);
    ck_assert(v == CEM_PARAM_DIRECT);
    ck_assert_int_eq(cem_model_get_data_stats(m, NULL, &sd), CEM_OK);
    ck_assert(sd == 0);
    expect_f(m, (const float(*)[8])want);
    cem_model_free(m);

    cem_trainer_t *tr = NULL;
    ck_assert_msg(cem_trainer_load(&tr, "tests/data/format1_trainer.cem", data, NDATA, D) ==
                      CEM_OK, "%s", cem_last_error());
    ck_assert_int_eq(cem_trainer_steps(tr), 10);
    ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_TIME_LAW, &v), CEM_OK);
    ck_assert(v == CEM_TIMELAW_GRID);
    ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_WEIGHT, &v), CEM_OK);
    ck_assert(v == CEM_WEIGHT_LAMBDA);
    ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_IMPORTANCE, &v), CEM_OK);
    ck_assert(v == 0);
    expect_f(cem_trainer_model(tr), (const float(*)[8])want);
    ck_assert_int_eq(cem_trainer_run(tr, 10, NULL), CEM_OK);
    expect_f(cem_trainer_model(tr), (const float(*)[8])(want + 3));
    /* saved again it is format 2, and loads the same */
    void *buf;
    size_t size;
    ck_assert_int_eq(cem_model_save_buffer(cem_trainer_model(tr), &buf, &size), CEM_OK);
    ck_assert_int_eq(((unsigned char *)buf)[8], 2);
    ck_assert_int_eq(cem_model_load_buffer(&m, buf, size), CEM_OK);
    expect_f(m, (const float(*)[8])(want + 3));
    cem_model_free(m);
    cem_free(buf);
    cem_trainer_free(tr);
}
END_TEST

/* A PRECOND model with data statistics: save -> load -> save is
 * byte-identical, and the loaded model has the same PARAM, statistics and
 * f, eps, S bitwise. */
START_TEST(precond_model_with_statistics_round_trips)
{
    make_data();
    cem_model_t *m = small_mlp(CEM_TARGET_CEM);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_PRECOND), CEM_OK);
    const double mu[D] = {0.3, -0.2};
    ck_assert_int_eq(cem_model_set_data_stats(m, mu, 0.7), CEM_OK);
    cem_trainer_t *tr = small_trainer(m);
    ck_assert_int_eq(cem_trainer_run(tr, 5, NULL), CEM_OK);
    cem_trainer_free(tr);
    void *b1, *b2;
    size_t s1, s2;
    ck_assert_int_eq(cem_model_save_buffer(m, &b1, &s1), CEM_OK);
    cem_model_t *l;
    ck_assert_int_eq(cem_model_load_buffer(&l, b1, s1), CEM_OK);
    ck_assert_int_eq(cem_model_save_buffer(l, &b2, &s2), CEM_OK);
    ck_assert_uint_eq(s1, s2);
    ck_assert_int_eq(memcmp(b1, b2, s1), 0);
    double v, gm[D], gsd;
    ck_assert_int_eq(cem_model_get(l, CEM_MODEL_PARAM, &v), CEM_OK);
    ck_assert(v == CEM_PARAM_PRECOND);
    ck_assert_int_eq(cem_model_get_data_stats(l, gm, &gsd), CEM_OK);
    ck_assert(gm[0] == mu[0] && gm[1] == mu[1] && gsd == 0.7);
    float x[6] = {0.1f, 0.2f, -1, 0.5f, 2, 2}, a[6], b[6];
    double t[3] = {1e-4, 0.5, 7};
    for (int what = 0; what < 3; what++) {
        ck_assert_int_eq(cem_model_eval(m, (cem_target)what, 3, x, t, a), CEM_OK);
        ck_assert_int_eq(cem_model_eval(l, (cem_target)what, 3, x, t, b), CEM_OK);
        ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    }
    /* the file records them: a different sd gives a different file */
    cem_model_t *o;
    ck_assert_int_eq(cem_model_load_buffer(&o, b1, s1), CEM_OK);
    ck_assert_int_eq(cem_model_set_data_stats(o, mu, 0.8), CEM_OK);
    cem_free(b2);
    ck_assert_int_eq(cem_model_save_buffer(o, &b2, &s2), CEM_OK);
    ck_assert_int_ne(memcmp(b1, b2, s1), 0);
    cem_model_free(o);
    cem_free(b1);
    cem_free(b2);
    cem_model_free(l);
    cem_model_free(m);
}
END_TEST

/* A PRECOND_PCA model: the trainer measures the data's axes (checked
 * against the covariance in double: C u = sd^2 u), the file is format 3
 * and carries them (naxes = D at offset 100; axis sds then axes after the
 * mean), loading gives the same bits and a resumed trainer continues
 * exactly; damaged axes are refused (re-sealed, so the checks and not the
 * checksum catch them); a model without axes is still written as format 2. */
START_TEST(pca_axes_round_trip)
{
    make_data();
    enum { N = 12, K = 5 };
    cem_model_t *m = small_mlp(CEM_TARGET_CEM);
    ck_assert_int_eq(cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_PRECOND_PCA), CEM_OK);
    cem_trainer_t *tr = small_trainer(m);
    double U[D * D], asd[D], mu[D] = {0, 0}, C[D * D] = {0};
    ck_assert_int_eq(cem_model_get_data_axes(m, U, asd), CEM_OK);
    for (int i = 0; i < NDATA; i++)
        for (int j = 0; j < D; j++)
            mu[j] += data[i * D + j] / (double)NDATA;
    for (int i = 0; i < NDATA; i++)
        for (int a = 0; a < D; a++)
            for (int b = 0; b < D; b++)
                C[a * D + b] += (data[i * D + a] - mu[a]) * (data[i * D + b] - mu[b]) / NDATA;
    ck_assert(asd[0] >= asd[1] && asd[1] > 0.3); /* the ellipse's 0.71 and 0.35 */
    for (int k = 0; k < D; k++)
        for (int a = 0; a < D; a++) {
            double cu = C[a * D] * U[k * D] + C[a * D + 1] * U[k * D + 1];
            ck_assert_double_eq_tol(cu, asd[k] * asd[k] * U[k * D + a], 1e-12);
        }
    ck_assert_int_eq(cem_trainer_run(tr, K, NULL), CEM_OK);
    void *tb;
    size_t ts;
    ck_assert_int_eq(cem_trainer_save_buffer(tr, &tb, &ts), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(tr, N - K, NULL), CEM_OK);
    size_t np = cem_model_param_count(m);
    float *want = malloc(4 * np), *got = malloc(4 * np);
    cem_model_get_params(m, 0, want, np);
    cem_trainer_t *r;
    ck_assert_int_eq(cem_trainer_load_buffer(&r, tb, ts, data, NDATA, D), CEM_OK);
    ck_assert_int_eq(cem_trainer_run(r, N - K, NULL), CEM_OK);
    cem_model_get_params(cem_trainer_model(r), 0, got, np);
    ck_assert_int_eq(memcmp(want, got, 4 * np), 0);
    cem_free(tb);
    cem_trainer_free(r);
    cem_trainer_free(tr);

    unsigned char *b;
    size_t size;
    ck_assert_int_eq(cem_model_save_buffer(m, (void **)&b, &size), CEM_OK);
    uint32_t version, naxes;
    memcpy(&version, b + 8, 4);
    memcpy(&naxes, b + 100, 4);
    ck_assert_uint_eq(version, 3);
    ck_assert_uint_eq(naxes, D);
    const size_t at_sd = 104 + 16 + 8 + 8 * D, at_axes = at_sd + 8 * D;
    double f[D * D];
    memcpy(f, b + at_sd, sizeof asd);
    ck_assert(f[0] == asd[0] && f[1] == asd[1]);
    memcpy(f, b + at_axes, sizeof U);
    ck_assert_int_eq(memcmp(f, U, sizeof U), 0);
    cem_model_t *l;
    ck_assert_int_eq(cem_model_load_buffer(&l, b, size), CEM_OK);
    float x[6] = {0.1f, 0.2f, -1, 0.5f, 2, 2}, e1[6], e2[6];
    double t[3] = {1e-4, 0.5, 7};
    ck_assert_int_eq(cem_model_eval(m, CEM_TARGET_CEM, 3, x, t, e1), CEM_OK);
    ck_assert_int_eq(cem_model_eval(l, CEM_TARGET_CEM, 3, x, t, e2), CEM_OK);
    ck_assert_int_eq(memcmp(e1, e2, sizeof e1), 0);
    cem_model_free(l);

    unsigned char *c = malloc(size);
    struct { size_t at; double v; uint32_t u; int is_u32; const char *says; } cases[] = {
        {at_axes, 0.5, 0, 0, "axis length"},            /* first axis not unit */
        {at_sd + 8, 10.0, 0, 0, "axis sd"},             /* sds not descending */
        {at_sd, NAN, 0, 0, "axis sd"},
        {100, 0, 1, 1, "number of axes"},                /* neither 0 nor D */
        {8, 0, 2, 1, "reserved count field"},            /* format 2 has no axes */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(c, b, size);
        if (cases[k].is_u32)
            memcpy(c + cases[k].at, &cases[k].u, 4);
        else
            memcpy(c + cases[k].at, &cases[k].v, 8);
        reseal(c, size);
        cem_model_t *o = (cem_model_t *)&o;
        ck_assert_int_eq(cem_model_load_buffer(&o, c, size), CEM_ERR_CORRUPT);
        ck_assert_ptr_null(o);
        ck_assert_msg(strstr(cem_last_error(), cases[k].says), "%s", cem_last_error());
    }
    free(c);
    cem_free(b);
    /* one sd again: no axes, format 2 */
    ck_assert_int_eq(cem_model_set_data_stats(m, mu, 0.5), CEM_OK);
    ck_assert_int_eq(cem_model_save_buffer(m, (void **)&b, &size), CEM_OK);
    memcpy(&version, b + 8, 4);
    ck_assert_uint_eq(version, 2);
    cem_free(b);
    free(want);
    free(got);
    cem_model_free(m);
}
END_TEST

/* Format 2's model option pairs and statistics, damaged and re-sealed. */
START_TEST(model_option_pairs_are_validated)
{
    make_data();
    cem_model_t *m = small_mlp(CEM_TARGET_CEM), *out = (cem_model_t *)&out;
    const double mu[D] = {0.3, -0.2};
    ck_assert_int_eq(cem_model_set_data_stats(m, mu, 0.7), CEM_OK);
    void *vb;
    size_t size;
    ck_assert_int_eq(cem_model_save_buffer(m, &vb, &size), CEM_OK);
    const unsigned char *good = vb;
    /* header 24, model 64, counts 16 (nmopt first), then the pairs
     * (u32 id, u32 0, f64 value), then f64 sd and f64 mean[D] */
    const size_t counts = 24 + 64, pairs = counts + 16, stats = pairs + 16;
    uint32_t nmopt, id;
    memcpy(&nmopt, good + counts, 4);
    ck_assert_uint_eq(nmopt, 1);
    memcpy(&id, good + pairs, 4);
    ck_assert_uint_eq(id, CEM_MODEL_PARAM);
    unsigned char *b = malloc(size + 32);

#define LOAD_IS(len, expect) \
    do { \
        int st_ = cem_model_load_buffer(&out, b, (len)); \
        ck_assert_msg(st_ == (expect), "got %d (%s) want %d", st_, cem_last_error(), expect); \
        if (st_ == CEM_OK) \
            cem_model_free(out); \
        else \
            ck_assert_ptr_null(out); \
    } while (0)

    /* an unknown id: a newer writer */
    memcpy(b, good, size);
    id = 99;
    memcpy(b + pairs, &id, 4);
    reseal(b, size);
    LOAD_IS(size, CEM_ERR_VERSION);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "99"));
    /* id 0, and an id of the fixed block (WIDTH): damage, not a newer writer */
    for (uint32_t bad = 0; bad <= CEM_MODEL_WIDTH; bad += CEM_MODEL_WIDTH) {
        memcpy(b, good, size);
        memcpy(b + pairs, &bad, 4);
        reseal(b, size);
        LOAD_IS(size, CEM_ERR_CORRUPT);
        ck_assert_ptr_nonnull(strstr(cem_last_error(), "option id"));
    }
    /* the pair repeated (nmopt 2, 16 more bytes) */
    memcpy(b, good, pairs + 16);
    memcpy(b + pairs + 16, good + pairs, size - pairs);
    nmopt = 2;
    memcpy(b + counts, &nmopt, 4);
    reseal(b, size + 16);
    LOAD_IS(size + 16, CEM_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "repeated"));
    /* PARAM out of bounds, not an integer, NaN */
    const double bad_values[] = {3.0, -1.0, 0.5, NAN};
    for (size_t k = 0; k < sizeof bad_values / sizeof bad_values[0]; k++) {
        memcpy(b, good, size);
        memcpy(b + pairs + 8, &bad_values[k], 8);
        reseal(b, size);
        LOAD_IS(size, CEM_ERR_CORRUPT);
        ck_assert_ptr_nonnull(strstr(cem_last_error(), "CEM_MODEL_PARAM"));
    }
    /* the pair's reserved word */
    memcpy(b, good, size);
    b[pairs + 4] = 1;
    reseal(b, size);
    LOAD_IS(size, CEM_ERR_CORRUPT);
    /* PRECOND in a NOISE model */
    cem_model_t *nm = small_mlp(CEM_TARGET_NOISE);
    void *nb;
    size_t nsize;
    ck_assert_int_eq(cem_model_save_buffer(nm, &nb, &nsize), CEM_OK);
    ck_assert_uint_eq(nsize, size);
    memcpy(b, nb, size);
    const double precond = CEM_PARAM_PRECOND;
    memcpy(b + pairs + 8, &precond, 8);
    reseal(b, size);
    LOAD_IS(size, CEM_ERR_CORRUPT);
    cem_free(nb);
    cem_model_free(nm);
    /* impossible statistics: sd < 0, sd NaN, a NaN mean, a mean without sd */
    const double sds[] = {-0.5, NAN, INFINITY};
    for (size_t k = 0; k < sizeof sds / sizeof sds[0]; k++) {
        memcpy(b, good, size);
        memcpy(b + stats, &sds[k], 8);
        reseal(b, size);
        LOAD_IS(size, CEM_ERR_CORRUPT);
    }
    memcpy(b, good, size);
    const double nan = NAN, zero = 0;
    memcpy(b + stats + 8 + 8, &nan, 8);
    reseal(b, size);
    LOAD_IS(size, CEM_ERR_CORRUPT);
    memcpy(b, good, size);
    memcpy(b + stats, &zero, 8); /* sd 0 (none) with mean (0.3, -0.2) */
    reseal(b, size);
    LOAD_IS(size, CEM_ERR_CORRUPT);
    /* no pair at all (nmopt 0): PARAM takes the value that keeps an old
     * file's meaning, DIRECT */
    memcpy(b, good, pairs);
    memcpy(b + pairs, good + pairs + 16, size - pairs - 16);
    nmopt = 0;
    memcpy(b + counts, &nmopt, 4);
    reseal(b, size - 16);
    ck_assert_int_eq(cem_model_load_buffer(&out, b, size - 16), CEM_OK);
    double v;
    ck_assert_int_eq(cem_model_get(out, CEM_MODEL_PARAM, &v), CEM_OK);
    ck_assert(v == CEM_PARAM_DIRECT);
    cem_model_free(out);
    /* the undamaged buffer loads */
    memcpy(b, good, size);
    LOAD_IS(size, CEM_OK);
#undef LOAD_IS
    free(b);
    cem_free(vb);
    cem_model_free(m);
}
END_TEST

/* A PRECOND model with the ADAPTIVE law and importance weights: k steps,
 * save, load, N - k steps give bitwise the weights, the EMA and the law of
 * N uninterrupted steps. */
START_TEST(resume_is_exact_with_the_adaptive_law)
{
    make_data();
    enum { N = 30, K = 12, LB = CEM_TRAINER_LAW_BINS };
    size_t np;
    float *want[2], *got[2];
    double want_prob[LB], got_prob[LB], want_loss[LB], got_loss[LB];
    for (int run = 0; run < 2; run++) {
        cem_model_t *m = small_mlp(CEM_TARGET_CEM);
        cem_trainer_t *tr = small_trainer(m);
        double v;
        ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_TIME_LAW, &v), CEM_OK);
        ck_assert(v == CEM_TIMELAW_GRID); /* the default */
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_ADAPTIVE),
                         CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_IMPORTANCE, 1), CEM_OK);
        ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_THREADS, 2), CEM_OK);
        if (run == 1) { /* interrupted */
            ck_assert_int_eq(cem_trainer_run(tr, K, NULL), CEM_OK);
            void *buf;
            size_t size;
            ck_assert_int_eq(cem_trainer_save_buffer(tr, &buf, &size), CEM_OK);
            cem_trainer_free(tr);
            cem_model_free(m);
            ck_assert_int_eq(cem_trainer_load_buffer(&tr, buf, size, data, NDATA, D), CEM_OK);
            cem_free(buf);
            m = cem_trainer_model(tr);
            cem_model_retain(m);
            ck_assert_int_eq(cem_trainer_get(tr, CEM_TRAINER_IMPORTANCE, &v), CEM_OK);
            ck_assert(v == 1);
            ck_assert_int_eq(cem_trainer_run(tr, N - K, NULL), CEM_OK);
        } else {
            ck_assert_int_eq(cem_trainer_run(tr, N, NULL), CEM_OK);
        }
        np = cem_model_param_count(m);
        float **p = run ? got : want;
        for (int ema = 0; ema <= 1; ema++) {
            p[ema] = malloc(4 * np);
            cem_model_get_params(m, ema, p[ema], np);
        }
        ck_assert_int_eq(cem_trainer_law_bins(tr, run ? got_prob : want_prob,
                                              run ? got_loss : want_loss, NULL, NULL), CEM_OK);
        cem_trainer_free(tr);
        cem_model_free(m);
    }
    ck_assert_int_eq(memcmp(want[0], got[0], 4 * np), 0);
    ck_assert_int_eq(memcmp(want[1], got[1], 4 * np), 0);
    ck_assert_int_eq(memcmp(want_prob, got_prob, sizeof want_prob), 0);
    ck_assert_int_eq(memcmp(want_loss, got_loss, sizeof want_loss), 0);
    double lo = 1, hi = 0;
    for (int b = 0; b < LB; b++)
        lo = fmin(lo, want_prob[b]), hi = fmax(hi, want_prob[b]);
    ck_assert_double_gt(hi - lo, 1e-3); /* the law had adapted */
    for (int k = 0; k < 2; k++) {
        free(want[k]);
        free(got[k]);
    }
}
END_TEST

Suite *suite_checkpoint(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, crc32_known_answer);
    tcase_add_test(tc, model_round_trip_is_byte_identical);
    tcase_add_test(tc, resume_is_exact);
    tcase_add_test(tc, damage_gives_distinct_statuses);
    tcase_add_test(tc, random_corruption_never_crashes);
    tcase_add_test(tc, truncated_buffers_are_read_within_bounds);
    tcase_add_test(tc, failed_saves_keep_the_previous_file);
    tcase_add_test(tc, format1_files_still_load);
    tcase_add_test(tc, pca_axes_round_trip);
    tcase_add_test(tc, precond_model_with_statistics_round_trips);
    tcase_add_test(tc, model_option_pairs_are_validated);
    tcase_add_test(tc, resume_is_exact_with_the_adaptive_law);
    suite_add_tcase(s, tc);
    return s;
}
