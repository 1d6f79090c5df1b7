/*
 * options.c -- fuzz target: sequences of option settings (cem_model_set,
 * cem_trainer_set, cem_sampler_set with any id and any value) interleaved
 * with the calls that use them, on a tiny model: training steps, sampling,
 * evaluation, data statistics, parameters, caller batches, save and load.
 * The input is a little program (fuzz.h describes it).
 *
 * Sizes the input controls are bounded so that an input stays cheap: a
 * model of dimension <= 4, width <= 16, depth <= 3, <= 16 time features;
 * batch <= 64 in <= 64 micro-batches (ACCUMULATE), sampler grids of <= 4
 * points, <= 8 rows, <= 2 threads, GRID_N <= 1000, <= 64 operations.  A value inside an option's bounds but
 * above such a cap is replaced by the cap; values outside the bounds (and
 * NaN, infinities) go to the library as they are.
 *
 * Invariants (cemdiff.h): a set that succeeds is what the getter returns;
 * a failed call changes nothing (every option of the handle, the model's
 * weights and statistics, the trainer's whole saved state); every failure
 * leaves a message; options always lie within their bounds; a model
 * held by a trainer or a sampler refuses to change its network; a
 * rejected training step and cem_trainer_loss_batch change nothing; a
 * sampler gives bitwise the same rows when run again and for any split
 * of the rows; the time grid is increasing from T_MIN to T_MAX; the time
 * law's shares sum to 1; what the library saves it loads, and saving the
 * loaded state gives the same bytes; a trainer and its reloaded twin
 * train alike.
 */
#include "fuzz.h"

#include <float.h>

/* ------------------------------------------------------------ the input */

typedef struct {
    const uint8_t *p;
    size_t n;
} input;

static uint8_t byte(input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

/* A value for an option of bounds [lo, hi] and default def. */
static double value(input *in, double lo, double hi, double def)
{
    static const double special[16] = {NAN, INFINITY, -INFINITY, -0.0, 0.0, 1.0, -1.0, 0.5,
                                       1e-300, 1e300, DBL_MAX, -DBL_MAX, 4.9e-324, 2.0, 3.0,
                                       1e-8};
    uint8_t sel = byte(in);
    switch (sel % 8) {
    case FUZZ_VALUE_RAW: {
        uint8_t b[8];
        for (int k = 0; k < 8; k++)
            b[k] = byte(in);
        double v;
        memcpy(&v, b, 8);
        return v;
    }
    case 1: return lo + byte(in);
    case 2: return hi - byte(in);
    case 3: return def;
    case 4: return special[byte(in) % 16];
    case 5: {
        uint8_t k = byte(in);
        double at = k & 1 ? hi : lo;
        return nextafter(at, k & 2 ? INFINITY : -INFINITY);
    }
    case 6: return lo + (hi - lo) * byte(in) / 255.0;
    default: return ldexp(sel & 8 ? -1.0 : 1.0, (int)byte(in) - 128);
    }
}

/* A value inside [lo, hi] above `cap` becomes `cap`. */
static double capped(double v, double lo, double hi, double cap)
{
    return v >= lo && v <= hi && v > cap ? cap : v;
}

/* ------------------------------------------------------------ the world */

typedef struct {
    int kind, dim, batch;
    cem_target target;
    cem_model_t *m;
    cem_trainer_t *tr;
    cem_sampler_t *s;
    int tr_stop, s_stop; /* what the progress callbacks answer */
    float data[FUZZ_DATA_N * 4];
} world;

static int trainer_progress(long step, double loss, void *user)
{
    (void)step;
    (void)loss;
    return *(const int *)user;
}

static int sampler_progress(size_t done, size_t total, void *user)
{
    (void)done;
    (void)total;
    return *(const int *)user;
}

static void make_data(world *w, uint8_t b)
{
    const double scale = ldexp(1.0, b % 64 - 32);
    for (int i = 0; i < FUZZ_DATA_N; i++)
        for (int j = 0; j < w->dim; j++) {
            int r = b & 0x40 ? 0 : i; /* all rows equal */
            double v = j == 0 && (b & 0x80) ? 0.0 : ((r * 5 + j * 3) % 7 - 3) / 3.0;
            w->data[i * w->dim + j] = (float)(scale * v);
        }
}

/* cem_model_create_mlp makes the default network (3 x 256, about 140,000
 * weights drawn from Philox), which under the sanitizers costs more than
 * the rest of a typical input; so unless header byte 0 asks for a fresh one
 * (b / 9 odd), the MLP is loaded from a tiny checkpoint made once for each
 * (dimension, target) and kept.  Both are then given the header's
 * architecture.  A loaded model keeps its file's time window (a trainer
 * does not move it to the data's scale): the fresh path covers that. */
static cem_model_t *tiny_mlp(int D, cem_target target)
{
    static void *saved[4][3];
    static size_t size[4][3];
    void **buf = &saved[D - 1][target];
    if (!*buf) {
        cem_model_t *m = NULL;
        FUZZ_CHECK(cem_model_create_mlp(&m, D, target) == CEM_OK);
        FUZZ_CHECK(cem_model_set(m, CEM_MODEL_WIDTH, 1) == CEM_OK);
        FUZZ_CHECK(cem_model_set(m, CEM_MODEL_DEPTH, 1) == CEM_OK);
        FUZZ_CHECK(cem_model_set(m, CEM_MODEL_EMBED, 2) == CEM_OK);
        FUZZ_CHECK(cem_model_save_buffer(m, buf, &size[D - 1][target]) == CEM_OK);
        cem_model_free(m);
    }
    cem_model_t *m = NULL;
    FUZZ_CHECK(cem_model_load_buffer(&m, *buf, size[D - 1][target]) == CEM_OK);
    return m;
}

/* The model the header asks for; 0 when it cannot be made. */
static int make_model(world *w, input *in)
{
    uint8_t h[FUZZ_HEADER];
    for (int k = 0; k < FUZZ_HEADER; k++)
        h[k] = byte(in);
    w->kind = h[0] % 3;
    w->target = (cem_target)(h[0] / 3 % 3);
    w->dim = 1 + h[1] % 4;
    w->batch = 1 + h[5] % 8;
    make_data(w, h[4]);
    const int D = w->dim;
    int st;
    if (w->kind == 0) {
        if (h[0] / 9 % 2)
            FUZZ_CHECK(cem_model_create_mlp(&w->m, D, w->target) == CEM_OK);
        else
            w->m = tiny_mlp(D, w->target);
        FUZZ_CHECK(cem_model_set(w->m, CEM_MODEL_WIDTH, 1 + h[2] % 16) == CEM_OK);
        FUZZ_CHECK(cem_model_set(w->m, CEM_MODEL_DEPTH, 1 + h[3] % 3) == CEM_OK);
        FUZZ_CHECK(cem_model_set(w->m, CEM_MODEL_EMBED, 2 * (1 + h[3] / 3 % 8)) == CEM_OK);
    } else if (w->kind == 1) {
        st = cem_model_create_empirical(&w->m, w->data, FUZZ_DATA_N, D);
        FUZZ_CHECK(st == CEM_OK);
    } else { /* N(row 0, the rows' second moment): singular for most data */
        double c[16];
        float cov[16];
        for (int a = 0; a < D; a++)
            for (int b = 0; b < D; b++) {
                c[a * D + b] = 0;
                for (int i = 0; i < FUZZ_DATA_N; i++)
                    c[a * D + b] += (double)w->data[i * D + a] * w->data[i * D + b];
                cov[a * D + b] = (float)(c[a * D + b] / FUZZ_DATA_N);
            }
        st = cem_model_create_gaussian(&w->m, w->data, cov, D);
        if (st)
            return 0; /* float rounding can make it indefinite */
    }
    return 1;
}

/* ------------------------------------------------------- snapshots */

/* Everything a failed model call must leave as it was. */
typedef struct {
    double opt[2 * CEM_MODEL_LABEL_EMBED];
    double stats[5], axes[16 + 4];
    int stats_st, axes_st;
    float *params;
    size_t np;
} model_snap;

static void snap_model(const world *w, model_snap *s)
{
    memset(s, 0, sizeof *s);
    fuzz_model_options(w->m, s->opt);
    s->stats_st = cem_model_get_data_stats(w->m, s->stats, s->stats + 4);
    s->axes_st = cem_model_get_data_axes(w->m, s->axes, s->axes + 16);
    s->np = cem_model_param_count(w->m);
    if (s->np) {
        s->params = malloc(2 * sizeof(float) * s->np);
        FUZZ_CHECK(s->params != NULL);
        FUZZ_CHECK(cem_model_get_params(w->m, 0, s->params, s->np) == CEM_OK);
        FUZZ_CHECK(cem_model_get_params(w->m, 1, s->params + s->np, s->np) == CEM_OK);
    }
}

static int same_model(const model_snap *a, const model_snap *b)
{
    return memcmp(a->opt, b->opt, sizeof a->opt) == 0 &&
           memcmp(a->stats, b->stats, sizeof a->stats) == 0 && a->stats_st == b->stats_st &&
           memcmp(a->axes, b->axes, sizeof a->axes) == 0 && a->axes_st == b->axes_st &&
           a->np == b->np && (!a->np || memcmp(a->params, b->params, 2 * 4 * a->np) == 0);
}

/* The trainer's saved state (the whole state: see trainer_load.c). */
typedef struct {
    void *buf;
    size_t size;
} trainer_snap;

static void snap_trainer(const world *w, trainer_snap *s)
{
    s->buf = NULL;
    s->size = 0;
    if (w->tr)
        FUZZ_CHECK(cem_trainer_save_buffer(w->tr, &s->buf, &s->size) == CEM_OK);
}

static void check_same_trainer(const world *w, trainer_snap *before)
{
    trainer_snap after;
    snap_trainer(w, &after);
    FUZZ_CHECK(fuzz_same(before->buf, before->size, after.buf, after.size));
    cem_free(after.buf);
    cem_free(before->buf);
    before->buf = NULL;
}

enum { SAMPLER_IDS = CEM_SAMPLER_RECON_WEIGHT + 1 }; /* 0 and every option */

static void snap_sampler(const world *w, double *opt /* 2 x SAMPLER_IDS */)
{
    for (int id = 0; id < SAMPLER_IDS; id++) {
        opt[2 * id + 1] = 0;
        opt[2 * id] = cem_sampler_get(w->s, (cem_sampler_option)id, &opt[2 * id + 1]);
    }
}

/* The model's network-defining options (CEM_ERR_BUSY while held). */
static int network_option(int opt)
{
    return opt >= CEM_MODEL_T_MIN && opt <= CEM_MODEL_LABEL_EMBED && opt != CEM_MODEL_USE_EMA;
}

/* ------------------------------------------------------- operations */

static void op_model_set(world *w, input *in)
{
    /* 0: unknown (10 and 11 were too when the target was written; they
     * are LABELS and LABEL_EMBED now: the modulus is kept, so that the
     * committed programs keep their bytes' meaning) */
    const int opt = byte(in) % 12;
    double lo = 0, hi = 1;
    const int known = cem_model_option_bounds((cem_model_option)opt, &lo, &hi) == CEM_OK;
    double v = value(in, lo, hi, lo);
    if (opt == CEM_MODEL_WIDTH || opt == CEM_MODEL_EMBED)
        v = capped(v, lo, hi, 16);
    if (opt == CEM_MODEL_DEPTH)
        v = capped(v, lo, hi, 3);
    if (opt == CEM_MODEL_LABELS || opt == CEM_MODEL_LABEL_EMBED)
        v = capped(v, lo, hi, 4);
    model_snap before, after;
    snap_model(w, &before);
    int st = cem_model_set(w->m, (cem_model_option)opt, v);
    if (st == CEM_OK) {
        double got = NAN;
        FUZZ_CHECK(known && v >= lo && v <= hi);
        FUZZ_CHECK(cem_model_get(w->m, (cem_model_option)opt, &got) == CEM_OK && got == v);
        FUZZ_CHECK(!(w->kind == 0 && (w->tr || w->s) && network_option(opt)));
    } else {
        FUZZ_CHECK(cem_last_error()[0] != '\0' && cem_model_errmsg(w->m)[0] != '\0');
        snap_model(w, &after);
        FUZZ_CHECK(same_model(&before, &after));
        free(after.params);
    }
    free(before.params);
}

static void op_trainer_set(world *w, input *in)
{
    if (!w->tr)
        return;
    /* 0: unknown (23 and 24 were too when the target was written; they are
     * LABEL_DROPOUT and ACCUMULATE now: the modulus is kept, so that the
     * committed programs keep their bytes' meaning) */
    const int opt = byte(in) % 25;
    double lo = 0, hi = 1;
    const int known = cem_trainer_option_bounds((cem_trainer_option)opt, &lo, &hi) == CEM_OK;
    double v = value(in, lo, hi, lo);
    if (opt == CEM_TRAINER_BATCH) /* 64: the ADAPTIVE floors evaluate in batches */
        v = capped(v, lo, hi, 64);
    if (opt == CEM_TRAINER_THREADS)
        v = capped(v, lo, hi, 2);
    if (opt == CEM_TRAINER_GRID_N)
        v = capped(v, lo, hi, 1000);
    if (opt == CEM_TRAINER_ACCUMULATE) /* above BATCH / 2: some micro-batches empty */
        v = capped(v, lo, hi, 64);
    trainer_snap before;
    snap_trainer(w, &before);
    int st = cem_trainer_set(w->tr, (cem_trainer_option)opt, v);
    if (st == CEM_OK) {
        double got = NAN;
        FUZZ_CHECK(known && v >= lo && v <= hi);
        FUZZ_CHECK(cem_trainer_get(w->tr, (cem_trainer_option)opt, &got) == CEM_OK && got == v);
        cem_free(before.buf);
    } else {
        FUZZ_CHECK(cem_last_error()[0] != '\0' && cem_trainer_errmsg(w->tr)[0] != '\0');
        check_same_trainer(w, &before);
    }
}

static void op_sampler_set(world *w, input *in)
{
    if (!w->s)
        return;
    /* 0: unknown (12 and 13 are LABEL and GUIDANCE now; the imputation
     * options, which only cem_sampler_impute reads, are beyond the modulus) */
    const int opt = byte(in) % 14;
    double lo = 0, hi = 1;
    const int known = cem_sampler_option_bounds((cem_sampler_option)opt, &lo, &hi) == CEM_OK;
    double v = value(in, lo, hi, lo);
    if (opt == CEM_SAMPLER_STEPS)
        v = capped(v, lo, hi, 4);
    if (opt == CEM_SAMPLER_THREADS)
        v = capped(v, lo, hi, 2);
    if (opt == CEM_SAMPLER_TRAJ_ROWS)
        v = capped(v, lo, hi, 8);
    double before[2 * SAMPLER_IDS], after[2 * SAMPLER_IDS];
    snap_sampler(w, before);
    int st = cem_sampler_set(w->s, (cem_sampler_option)opt, v);
    if (st == CEM_OK) {
        double got = NAN;
        FUZZ_CHECK(known && v >= lo && v <= hi);
        FUZZ_CHECK(cem_sampler_get(w->s, (cem_sampler_option)opt, &got) == CEM_OK && got == v);
    } else {
        FUZZ_CHECK(cem_last_error()[0] != '\0' && cem_sampler_errmsg(w->s)[0] != '\0');
        snap_sampler(w, after);
        FUZZ_CHECK(memcmp(before, after, sizeof before) == 0);
    }
}

static void op_trainer(world *w)
{
    if (w->tr) {
        cem_trainer_free(w->tr);
        w->tr = NULL;
        return;
    }
    model_snap before, after;
    snap_model(w, &before);
    int st = cem_trainer_create(&w->tr, w->m, w->data, FUZZ_DATA_N, w->dim);
    if (st != CEM_OK) {
        FUZZ_CHECK(w->tr == NULL && cem_last_error()[0] != '\0');
        snap_model(w, &after);
        FUZZ_CHECK(same_model(&before, &after));
        free(after.params);
    } else if (cem_trainer_set(w->tr, CEM_TRAINER_THREADS, 1) != CEM_OK ||
               cem_trainer_set(w->tr, CEM_TRAINER_BATCH, w->batch) != CEM_OK) {
        cem_trainer_free(w->tr); /* out of memory */
        w->tr = NULL;
    } else {
        cem_trainer_set_progress(w->tr, trainer_progress, &w->tr_stop);
    }
    free(before.params);
}

static void op_sampler(world *w)
{
    if (w->s) {
        cem_sampler_free(w->s);
        w->s = NULL;
        return;
    }
    if (cem_sampler_create(&w->s, w->m) != CEM_OK) {
        FUZZ_CHECK(w->s == NULL);
        return;
    }
    if (cem_sampler_set(w->s, CEM_SAMPLER_STEPS, 4) != CEM_OK ||
        cem_sampler_set(w->s, CEM_SAMPLER_THREADS, 1) != CEM_OK) {
        cem_sampler_free(w->s); /* out of memory */
        w->s = NULL;
    }
}

/* Up to 3 steps in one call (which the progress callback may stop), or
 * one at a time: a rejected step changes nothing. */
static void op_train(world *w, input *in)
{
    const uint8_t b = byte(in);
    const int steps = b % 4;
    if (!w->tr)
        return;
    if (b & 4) {
        long s0 = cem_trainer_steps(w->tr);
        int st = cem_trainer_run(w->tr, steps, NULL);
        long done = cem_trainer_steps(w->tr) - s0;
        FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_NONFINITE_STEP || st == CEM_ERR_STOPPED);
        FUZZ_CHECK(st == CEM_OK ? done == steps : done < steps);
        return;
    }
    for (int k = 0; k < steps; k++) {
        trainer_snap before;
        snap_trainer(w, &before);
        long s0 = cem_trainer_steps(w->tr);
        double loss = 0;
        int st = cem_trainer_run(w->tr, 1, &loss);
        if (st == CEM_OK) {
            FUZZ_CHECK(cem_trainer_steps(w->tr) == s0 + 1 && isfinite(loss));
            cem_free(before.buf);
        } else {
            FUZZ_CHECK(st == CEM_ERR_NONFINITE_STEP);
            FUZZ_CHECK(cem_trainer_steps(w->tr) == s0 && isnan(loss));
            check_same_trainer(w, &before);
        }
    }
}

static int same_rows(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, sizeof(float) * n) == 0;
}

/* Rows [first, first + n): run twice alike, and the rows after the first
 * alike when run on their own. */
static void op_sample(world *w, input *in)
{
    const uint8_t sel = byte(in), nb = byte(in);
    size_t first;
    switch (sel % 4) {
    case 0: first = 0; break;
    case 1: first = sel / 4; break;
    case 2: first = 256 - 4 + sel / 4 % 8; break; /* across a block of 256 */
    default: first = SIZE_MAX - 256 - 16 + sel / 4 % 32; break;
    }
    const size_t n = nb % 9, D = (size_t)w->dim;
    if (!w->s)
        return;
    float a[8 * 4], b[8 * 4];
    int st = cem_sampler_run_rows(w->s, first, n, a);
    size_t bad = cem_sampler_diverged_rows(w->s);
    if (st == CEM_ERR_ARG) {
        FUZZ_CHECK(first + n > SIZE_MAX - 256 || first > SIZE_MAX - n);
        return;
    }
    FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_DIVERGED || st == CEM_ERR_STOPPED);
    FUZZ_CHECK((st == CEM_ERR_DIVERGED) == (bad > 0) || st == CEM_ERR_STOPPED);
    if (st == CEM_ERR_STOPPED)
        return;
    FUZZ_CHECK(cem_sampler_run_rows(w->s, first, n, b) == st);
    FUZZ_CHECK(cem_sampler_diverged_rows(w->s) == bad && same_rows(a, b, n * D));
    if (n >= 2) {
        int st2 = cem_sampler_run_rows(w->s, first + 1, n - 1, b);
        if (st2 != CEM_ERR_STOPPED && st2 != CEM_ERR_ARG)
            FUZZ_CHECK(same_rows(a + D, b, (n - 1) * D));
    }
}

static void op_eval(world *w, input *in)
{
    const int what = byte(in) % 4; /* 3: unknown */
    const size_t n = byte(in) % 5;
    const int D = w->dim;
    float x[4 * 4], out[4 * 4];
    double t[4];
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < D; j++)
            x[i * (size_t)D + (size_t)j] = (float)value(in, -2, 2, 0);
        t[i] = value(in, 1e-8, 100, 1);
    }
    int st = cem_model_eval(w->m, (cem_target)what, n, x, t, out);
    FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_ARG || st == CEM_ERR_NONFINITE ||
               st == CEM_ERR_NUMERIC || st == CEM_ERR_NOMEM); /* NUMERIC: overflow */
    if (n)
        st = cem_model_eval_at(w->m, (cem_target)what, n, x, t[0], out);
    FUZZ_CHECK(st == CEM_OK || st == CEM_ERR_ARG || st == CEM_ERR_NONFINITE ||
               st == CEM_ERR_NUMERIC || st == CEM_ERR_NOMEM); /* NUMERIC: overflow */
}

/* Save, load, save: the same bytes, the same options and answers. */
static void op_model_roundtrip(world *w)
{
    void *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    int st = cem_model_save_buffer(w->m, &b1, &n1);
    if (w->kind != 0) {
        FUZZ_CHECK(st == CEM_ERR_UNSUPPORTED);
        return;
    }
    FUZZ_CHECK(st == CEM_OK);
    cem_model_t *m2 = NULL;
    FUZZ_CHECK(cem_model_load_buffer(&m2, b1, n1) == CEM_OK);
    FUZZ_CHECK(cem_model_save_buffer(m2, &b2, &n2) == CEM_OK);
    FUZZ_CHECK(fuzz_same(b1, n1, b2, n2));
    double o1[2 * CEM_MODEL_LABEL_EMBED], o2[2 * CEM_MODEL_LABEL_EMBED];
    fuzz_model_options(w->m, o1);
    fuzz_model_options(m2, o2);
    /* every option, LABEL_EMBED of a model without classes included: the
     * library once saved it only with LABELS > 0 (the input in
     * tests/fuzz/crashes/options); such a model is now saved in format 4 */
    FUZZ_CHECK(memcmp(o1, o2, sizeof o1) == 0);
    int s1 = 0, s2 = 0;
    float *e1 = fuzz_eval_grid(w->m, &s1), *e2 = fuzz_eval_grid(m2, &s2);
    if (e1 && e2)
        FUZZ_CHECK(s1 == s2 &&
                   memcmp(e1, e2, sizeof(float) * FUZZ_EVAL_CELLS * (size_t)w->dim) == 0);
    free(e1);
    free(e2);
    cem_model_free(m2);
    cem_free(b1);
    cem_free(b2);
}

/* Save, load, save: the same bytes; then a step each: the same bytes. */
static void op_trainer_roundtrip(world *w)
{
    if (!w->tr)
        return;
    void *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    cem_trainer_t *t2 = NULL;
    FUZZ_CHECK(cem_trainer_save_buffer(w->tr, &b1, &n1) == CEM_OK);
    FUZZ_CHECK(cem_trainer_load_buffer(&t2, b1, n1, w->data, FUZZ_DATA_N, w->dim) == CEM_OK);
    FUZZ_CHECK(cem_trainer_save_buffer(t2, &b2, &n2) == CEM_OK);
    FUZZ_CHECK(fuzz_same(b1, n1, b2, n2));
    cem_free(b1);
    cem_free(b2);
    /* the progress callback is not state: no stop here */
    cem_trainer_set_progress(w->tr, NULL, NULL);
    int s1 = cem_trainer_run(w->tr, 1, NULL), s2 = cem_trainer_run(t2, 1, NULL);
    cem_trainer_set_progress(w->tr, trainer_progress, &w->tr_stop);
    FUZZ_CHECK(s1 == s2);
    FUZZ_CHECK(cem_trainer_save_buffer(w->tr, &b1, &n1) == CEM_OK);
    FUZZ_CHECK(cem_trainer_save_buffer(t2, &b2, &n2) == CEM_OK);
    FUZZ_CHECK(fuzz_same(b1, n1, b2, n2));
    cem_free(b1);
    cem_free(b2);
    cem_trainer_free(t2);
}

static void op_data_stats(world *w, input *in)
{
    const uint8_t kind = byte(in);
    const int D = w->dim;
    double mean[4], cov[16];
    for (int j = 0; j < D; j++)
        mean[j] = value(in, -1, 1, 0);
    model_snap before, after;
    snap_model(w, &before);
    int st;
    if (kind % 2 == 0) {
        double sd = value(in, 0, 10, 1);
        st = cem_model_set_data_stats(w->m, kind & 2 ? NULL : mean, sd);
        if (st == CEM_OK) {
            double got[4], gsd = -1;
            FUZZ_CHECK(cem_model_get_data_stats(w->m, got, &gsd) == CEM_OK && gsd == sd);
            for (int j = 0; j < D; j++)
                FUZZ_CHECK(got[j] == (kind & 2 ? 0.0 : mean[j]));
        }
    } else {
        /* the data's second moment, one entry replaced by a value */
        for (int a = 0; a < D; a++)
            for (int b = 0; b < D; b++) {
                cov[a * D + b] = a == b ? 0.25 : 0;
                for (int i = 0; i < FUZZ_DATA_N; i++)
                    cov[a * D + b] += (double)w->data[i * D + a] * w->data[i * D + b];
            }
        if (kind & 2)
            cov[byte(in) % (D * D)] = value(in, -1, 1, 0);
        st = cem_model_set_data_cov(w->m, kind & 4 ? NULL : mean, cov);
    }
    if (st != CEM_OK) {
        FUZZ_CHECK(cem_last_error()[0] != '\0');
        snap_model(w, &after);
        FUZZ_CHECK(same_model(&before, &after));
        free(after.params);
    } else {
        FUZZ_CHECK(w->kind == 0 && !w->tr && !w->s);
    }
    free(before.params);
}

/* Every getter and bounds query: known ids answer, values lie within
 * their bounds; the sampler's grid runs from T_MIN up to T_MAX. */
static void op_getters(world *w)
{
    for (int opt = 0; opt <= CEM_MODEL_LABEL_EMBED + 2; opt++) {
        double lo = 0, hi = 0, v = NAN;
        int known = cem_model_option_bounds((cem_model_option)opt, &lo, &hi) == CEM_OK;
        int st = cem_model_get(w->m, (cem_model_option)opt, &v);
        FUZZ_CHECK(known == (opt >= 1 && opt <= CEM_MODEL_LABEL_EMBED));
        FUZZ_CHECK(!known ? st == CEM_ERR_ARG : st == CEM_OK || st == CEM_ERR_UNSUPPORTED);
        FUZZ_CHECK(st != CEM_OK || (v >= lo && v <= hi));
    }
    for (int opt = 0; w->tr && opt <= CEM_TRAINER_ACCUMULATE + 2; opt++) {
        double lo = 0, hi = 0, v = NAN;
        int known = cem_trainer_option_bounds((cem_trainer_option)opt, &lo, &hi) == CEM_OK;
        int st = cem_trainer_get(w->tr, (cem_trainer_option)opt, &v);
        FUZZ_CHECK(known == (opt >= 1 && opt <= CEM_TRAINER_ACCUMULATE));
        FUZZ_CHECK(known == (st == CEM_OK));
        FUZZ_CHECK(st != CEM_OK || (v >= lo && v <= hi));
    }
    if (!w->s)
        return;
    double t1 = 0, T = 0, N = 0;
    for (int opt = 0; opt <= SAMPLER_IDS; opt++) {
        double lo = 0, hi = 0, v = NAN;
        int known = cem_sampler_option_bounds((cem_sampler_option)opt, &lo, &hi) == CEM_OK;
        int st = cem_sampler_get(w->s, (cem_sampler_option)opt, &v);
        FUZZ_CHECK(known == (st == CEM_OK));
        FUZZ_CHECK(st != CEM_OK || (v >= lo && v <= hi));
    }
    FUZZ_CHECK(cem_sampler_get(w->s, CEM_SAMPLER_T_MIN, &t1) == CEM_OK);
    FUZZ_CHECK(cem_sampler_get(w->s, CEM_SAMPLER_T_MAX, &T) == CEM_OK);
    FUZZ_CHECK(cem_sampler_get(w->s, CEM_SAMPLER_STEPS, &N) == CEM_OK && N <= 4);
    double times[4];
    FUZZ_CHECK(cem_sampler_times(w->s, times) == CEM_OK);
    FUZZ_CHECK(times[0] == t1 && times[(int)N - 1] == T);
    for (int k = 1; k < (int)N; k++)
        FUZZ_CHECK(times[k - 1] < times[k]);
}

static void op_bins(world *w, input *in)
{
    const uint8_t reset = byte(in), stop = byte(in);
    if (!w->tr)
        return;
    w->tr_stop = stop % 2;
    double prob[CEM_TRAINER_LAW_BINS], loss[CEM_TRAINER_LAW_BINS], fl[CEM_TRAINER_LAW_BINS];
    double edges[CEM_TRAINER_LAW_BINS + 1], mean[CEM_TRAINER_BINS];
    long count[CEM_TRAINER_BINS];
    FUZZ_CHECK(cem_trainer_law_bins_n(w->tr, CEM_TRAINER_LAW_BINS, prob, loss, fl, edges) ==
               CEM_OK);
    double sum = 0;
    for (int b = 0; b < CEM_TRAINER_LAW_BINS; b++) {
        FUZZ_CHECK(prob[b] >= 0 && edges[b] <= edges[b + 1]);
        sum += prob[b];
    }
    FUZZ_CHECK(fabs(sum - 1) <= 1e-9);
    FUZZ_CHECK(cem_trainer_law_bins_n(w->tr, reset, prob, NULL, NULL, NULL) ==
               (reset == CEM_TRAINER_LAW_BINS ? CEM_OK : CEM_ERR_ARG));
    FUZZ_CHECK(cem_trainer_time_bins_n(w->tr, CEM_TRAINER_BINS, mean, count, NULL, reset % 2) ==
               CEM_OK);
    for (int b = 0; b < CEM_TRAINER_BINS; b++)
        FUZZ_CHECK(count[b] >= 0 && (count[b] == 0) == (isnan(mean[b]) != 0));
}

static void op_plan(world *w, input *in)
{
    const uint8_t stop = byte(in);
    if (!w->s)
        return;
    w->s_stop = stop / 2 % 2;
    cem_sampler_set_progress(w->s, stop % 2 ? sampler_progress : NULL, &w->s_stop);
    size_t snaps = 0, rows = 0;
    FUZZ_CHECK(cem_sampler_trajectory(w->s, &snaps, &rows, NULL, NULL) == CEM_OK);
    FUZZ_CHECK(rows <= 8 && snaps <= 4 && (rows == 0) == (snaps == 0));
    float traj[4 * 8 * 4];
    double times[4];
    FUZZ_CHECK(cem_sampler_trajectory(w->s, &snaps, &rows, traj, times) == CEM_OK);
}

static void op_params(world *w, input *in)
{
    const int ema = byte(in) % 4; /* 3: invalid */
    const uint8_t cnt = byte(in);
    size_t np = cem_model_param_count(w->m);
    size_t n = np + (size_t)(cnt % 3) - (np ? 1 : 0); /* np - 1, np, np + 1 */
    float *p = calloc(n + 1, sizeof(float));
    FUZZ_CHECK(p != NULL);
    if (np)
        cem_model_get_params(w->m, ema % 2, p, np);
    for (int k = 0; k < 2; k++) {
        size_t at = n ? byte(in) % n : 0;
        float v = (float)value(in, -1, 1, 0);
        if (n)
            p[at] = v;
    }
    model_snap before, after;
    snap_model(w, &before);
    int st = cem_model_set_params(w->m, ema, p, n);
    if (st == CEM_OK) {
        float *q = malloc(sizeof(float) * (n + 1));
        FUZZ_CHECK(q != NULL && n == np && w->kind == 0 && !w->tr);
        for (int e = 0; e < 2; e++)
            if (ema == e || ema == 2) {
                FUZZ_CHECK(cem_model_get_params(w->m, e, q, n) == CEM_OK);
                FUZZ_CHECK(memcmp(p, q, sizeof(float) * n) == 0);
            }
        free(q);
    } else {
        snap_model(w, &after);
        FUZZ_CHECK(same_model(&before, &after));
        free(after.params);
    }
    free(before.params);
    free(p);
}

/* A caller's batch: cem_trainer_loss_batch changes nothing, and neither
 * does a rejected cem_trainer_step_batch. */
static void op_batch(world *w, input *in)
{
    const uint8_t kind = byte(in);
    const int B = byte(in) % 10, D = w->dim;
    float x0[9 * 4], z[9 * 4];
    double t[9]; /* B <= 9: up to one above the header's batch */
    for (int i = 0; i < B; i++) {
        for (int j = 0; j < D; j++) {
            x0[i * D + j] = (float)value(in, -2, 2, 0);
            z[i * D + j] = (float)value(in, -3, 3, 0);
        }
        t[i] = value(in, 1e-8, 100, 1);
    }
    if (!w->tr)
        return;
    trainer_snap before;
    snap_trainer(w, &before);
    double loss = 0;
    if (kind % 2) {
        size_t np = cem_model_param_count(w->m);
        float *grad = malloc(sizeof(float) * np);
        FUZZ_CHECK(grad != NULL);
        cem_trainer_loss_batch(w->tr, B, x0, t, z, &loss, kind & 2 ? grad : NULL);
        free(grad);
        check_same_trainer(w, &before);
        return;
    }
    int st = cem_trainer_step_batch(w->tr, B, x0, t, z, &loss);
    if (st == CEM_OK)
        cem_free(before.buf);
    else
        check_same_trainer(w, &before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size};
    world w;
    memset(&w, 0, sizeof w);
    if (!make_model(&w, &in))
        return 0;
    for (int k = 0; k < FUZZ_MAX_OPS && in.n > 0; k++) {
        switch (byte(&in) % FUZZ_NOPS) {
        case FUZZ_OP_MODEL_SET: op_model_set(&w, &in); break;
        case FUZZ_OP_TRAINER_SET: op_trainer_set(&w, &in); break;
        case FUZZ_OP_SAMPLER_SET: op_sampler_set(&w, &in); break;
        case FUZZ_OP_TRAINER: op_trainer(&w); break;
        case FUZZ_OP_SAMPLER: op_sampler(&w); break;
        case FUZZ_OP_TRAIN: op_train(&w, &in); break;
        case FUZZ_OP_SAMPLE: op_sample(&w, &in); break;
        case FUZZ_OP_EVAL: op_eval(&w, &in); break;
        case FUZZ_OP_MODEL_ROUNDTRIP: op_model_roundtrip(&w); break;
        case FUZZ_OP_TRAINER_ROUNDTRIP: op_trainer_roundtrip(&w); break;
        case FUZZ_OP_DATA_STATS: op_data_stats(&w, &in); break;
        case FUZZ_OP_GETTERS: op_getters(&w); break;
        case FUZZ_OP_BINS: op_bins(&w, &in); break;
        case FUZZ_OP_PLAN: op_plan(&w, &in); break;
        case FUZZ_OP_PARAMS: op_params(&w, &in); break;
        default: op_batch(&w, &in); break;
        }
    }
    cem_sampler_free(w.s);
    cem_trainer_free(w.tr);
    cem_model_free(w.m);
    return 0;
}
