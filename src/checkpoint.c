/*
 * checkpoint.c -- the binary checkpoint format (layer 4; docs/CHECKPOINT.md).
 * This library writes format 2, or 3 for a model with the data's axes
 * (CEM_PARAM_PRECOND_PCA), or 4 for a model with labels, and reads formats
 * 1 to 4.
 *
 *   header   magic[8] = "\x89CEMDIF\n", u32 format version (2),
 *            u32 endianness mark 0x0A0B0C0D, u32 content (1 model,
 *            2 model + trainer), u32 reserved (0)                  24 bytes
 *   model    u32 kind (1 = MLP), target, D, E, H, L, activation, use_ema,
 *            u64 seed, f64 t_min, f64 t_max, u64 np                 64 bytes
 *   counts   u32 nmopt, u32 ntopt (0 in a model file), u32 nlaw (0 in a
 *            model file), u32 naxes (format 3: 0 or D; format 2: 0) 16 bytes
 *            then nmopt model options as (u32 id, u32 0, f64 value),
 *            f64 data sd (0: none), f64 data mean[D],
 *            (naxes = D) f64 axis_sd[D], f64 axes[D][D],
 *            f32 params[np], f32 ema[np]  (format 4: np counts the label
 *            table, after the layers; its size comes from the pairs
 *            CEM_MODEL_LABELS and CEM_MODEL_LABEL_EMBED)
 *   trainer  u64 step, ntopt trainer options as (u32 id, u32 0, f64 value),
 *            f64 bin_sum[8], u64 bin_count[8], f64 law_loss[nlaw] (-1: not
 *            seen), u64 data_n, u32 data_crc, u32 data_dim,
 *            (format 4) u32 labelled (0 or 1), u32 labels_crc (of the n
 *            int32 labels; 0 when unlabelled),
 *            f32 adam_m[np], f32 adam_v[np]
 *   trailer  u32 CRC-32 of every byte before it
 *
 * Options as (id, value) pairs: a new option adds a pair and never moves
 * anything else; an option missing from a file takes the value that keeps
 * the file's old meaning (legacy_model_option), an id this library does
 * not know is refused (CEM_ERR_VERSION: a newer writer).  Format 1 had no
 * counts, no model options, no statistics, exactly 18 trainer options as
 * 18 f64 in id order after a u32 18 and a u32 0, and no law bins.
 *
 * Numbers are in the writer's byte order, which the mark records; a file
 * from a machine of the other order is refused (CEM_ERR_CORRUPT).  Every
 * field is checked, and the total size computed from the header, before
 * anything is allocated.  A format-4 file is refused by the libraries
 * before it (CEM_ERR_VERSION): its parameter count is not theirs to check.
 */
#include "io.h"
#include "trainer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const unsigned char MAGIC[8] = {0x89, 'C', 'E', 'M', 'D', 'I', 'F', '\n'};
enum {
    FORMAT_VERSION = 4, /* the newest this library reads */
    FORMAT_PLAIN = 2,   /* what it writes for a model without axes */
    FORMAT_AXES = 3,    /* for a model with the data's axes */
    FORMAT_LABELS = 4,  /* for a model with labels */
    ENDIAN_MARK = 0x0A0B0C0D,
    CONTENT_MODEL = 1,
    CONTENT_TRAINER = 2,
    HEADER_BYTES = 24,
    MODEL_BYTES = 64,
    COUNTS_BYTES = 16,
    PAIR_BYTES = 16,
    V1_NOPT = 18,
    BINS_BYTES = 16 * CEM_TRAINER_BINS,
    FILE_KIND_MLP = 1,
};

/* The model options a file stores as pairs, in id order (the ones below
 * the first are in the fixed block): formats 2 and 3 the first, format 4
 * all three. */
static const int MODEL_PAIRS[] = {CEM_MODEL_PARAM, CEM_MODEL_LABELS, CEM_MODEL_LABEL_EMBED};
#define NMODEL_PAIRS (int)(sizeof MODEL_PAIRS / sizeof MODEL_PAIRS[0])
#define LAST_MODEL_PAIR CEM_MODEL_LABEL_EMBED

/* The value of a model option that a file without it meant. */
static double legacy_model_option(int id)
{
    return id == CEM_MODEL_PARAM ? CEM_PARAM_DIRECT : cemi_model_option_default(id);
}

static double model_pair_value(const cem_model_t *m, const cemi_mlp *p, int id)
{
    return id == CEM_MODEL_PARAM ? (double)p->param
           : id == CEM_MODEL_LABELS ? (double)m->labels
                                    : (double)p->label_embed;
}

/* The format a model is written in, and the pairs it stores: format 4
 * (the label pairs) for a model with labels or a label embedding width
 * other than the default (which a model without labels keeps for when it
 * gets them), so that a load gives back every option. */
static uint32_t format_of(const cem_model_t *m, const cemi_mlp *p, int *npairs)
{
    const int labelled = m->labels ||
                         p->label_embed != (int)cemi_model_option_default(CEM_MODEL_LABEL_EMBED);
    *npairs = labelled ? NMODEL_PAIRS : 1;
    return labelled ? FORMAT_LABELS : p->axes ? FORMAT_AXES : FORMAT_PLAIN;
}

/* Where everything is in a file of format `version` (offsets from 0). */
typedef struct {
    size_t mopts, stats, params, trainer, topts, bins, law, data, moments, total;
} layout;

static layout layout_of(uint32_t version, int trainer, size_t D, size_t np, size_t nmopt,
                        size_t ntopt, size_t nlaw, size_t naxes)
{
    layout l;
    size_t at = HEADER_BYTES + MODEL_BYTES;
    if (version >= 2) {
        at += COUNTS_BYTES;
        l.mopts = at;
        at += PAIR_BYTES * nmopt;
        l.stats = at;
        at += 8 + 8 * D + 8 * naxes * (1 + D);
    } else {
        l.mopts = l.stats = 0;
    }
    l.params = at;
    at += 8 * np;
    l.trainer = at;
    if (trainer) {
        at += 8;
        l.topts = at;
        at += version >= 2 ? PAIR_BYTES * ntopt : 8 + 8 * V1_NOPT;
        l.bins = at;
        at += BINS_BYTES;
        l.law = at;
        at += 8 * nlaw;
        l.data = at;
        at += version >= FORMAT_LABELS ? 24 : 16;
        l.moments = at;
        at += 8 * np;
    } else {
        l.topts = l.bins = l.law = l.data = l.moments = 0;
    }
    l.total = at + 4;
    return l;
}

/* ------------------------------------------------------------ writing */

typedef struct {
    unsigned char *p;
} wcur;

static void put(wcur *w, const void *v, size_t n)
{
    memcpy(w->p, v, n);
    w->p += n;
}
static void put_u32(wcur *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(wcur *w, uint64_t v) { put(w, &v, 8); }
static void put_f64(wcur *w, double v) { put(w, &v, 8); }

static void put_pair(wcur *w, int id, double v)
{
    put_u32(w, (uint32_t)id);
    put_u32(w, 0);
    put_f64(w, v);
}

static void write_model(wcur *w, const cem_model_t *m, const cem_trainer_t *tr, int npairs)
{
    const cemi_mlp *p = cemi_mlp_of(m);
    put_u32(w, FILE_KIND_MLP);
    put_u32(w, (uint32_t)p->target);
    put_u32(w, (uint32_t)p->sh.D);
    put_u32(w, (uint32_t)p->sh.E);
    put_u32(w, (uint32_t)p->sh.H);
    put_u32(w, (uint32_t)p->sh.L);
    put_u32(w, (uint32_t)p->sh.act);
    put_u32(w, (uint32_t)p->use_ema);
    put_u64(w, p->seed);
    put_f64(w, m->t_min);
    put_f64(w, m->t_max);
    put_u64(w, (uint64_t)p->np);
    put_u32(w, (uint32_t)npairs);
    put_u32(w, tr ? CEMI_TRAINER_NOPT : 0);
    put_u32(w, tr ? CEMI_LAW_BINS : 0);
    put_u32(w, p->axes ? (uint32_t)p->sh.D : 0);
    for (int k = 0; k < npairs; k++)
        put_pair(w, MODEL_PAIRS[k], model_pair_value(m, p, MODEL_PAIRS[k]));
    put_f64(w, p->sd);
    for (int j = 0; j < p->sh.D; j++)
        put_f64(w, p->mean[j]);
    if (p->axes) {
        const size_t D = (size_t)p->sh.D;
        put(w, p->axis_sd, 8 * D);
        put(w, p->axes, 8 * D * D);
    }
    put(w, p->params, 4 * p->np);
    put(w, p->ema, 4 * p->np);
}

static void write_trainer(wcur *w, const cem_trainer_t *tr, uint32_t version)
{
    put_u64(w, (uint64_t)tr->step);
    for (int id = 1; id <= CEMI_TRAINER_NOPT; id++)
        put_pair(w, id, tr->opt[id]);
    for (int b = 0; b < CEM_TRAINER_BINS; b++)
        put_f64(w, tr->bin_sum[b]);
    for (int b = 0; b < CEM_TRAINER_BINS; b++)
        put_u64(w, (uint64_t)tr->bin_count[b]);
    for (int b = 0; b < CEMI_LAW_BINS; b++)
        put_f64(w, isnan(tr->law_loss[b]) ? -1.0 : tr->law_loss[b]);
    put_u64(w, (uint64_t)tr->n);
    put_u32(w, cemi_crc32(0, tr->data, sizeof(float) * tr->n * (size_t)tr->D));
    put_u32(w, (uint32_t)tr->D);
    if (version >= FORMAT_LABELS) {
        put_u32(w, tr->labels != NULL);
        put_u32(w, tr->labels ? cemi_crc32(0, tr->labels, sizeof(int) * tr->n) : 0);
    }
    put(w, tr->m1, 4 * tr->net->np);
    put(w, tr->m2, 4 * tr->net->np);
}

/* Serialises m (and tr when not NULL) into a new buffer. */
static int serialise(const char *fn, const cem_model_t *m, const cem_trainer_t *tr, void **buf,
                     size_t *size)
{
    const cemi_mlp *p = cemi_mlp_of(m);
    if (!p)
        return cemi_fail(NULL, CEM_ERR_UNSUPPORTED,
                         "%s: only MLP models are saved (closed forms are rebuilt from data)", fn);
    const size_t naxes = p->axes ? (size_t)p->sh.D : 0;
    int npairs;
    const uint32_t version = format_of(m, p, &npairs);
    size_t total = layout_of(version, tr != NULL, (size_t)p->sh.D, p->np, (size_t)npairs,
                             CEMI_TRAINER_NOPT, CEMI_LAW_BINS, naxes).total;
    unsigned char *b = cemi_calloc(total, 1);
    if (!b)
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for %zu bytes", fn, total);
    wcur w = {b};
    put(&w, MAGIC, 8);
    put_u32(&w, version);
    put_u32(&w, ENDIAN_MARK);
    put_u32(&w, tr ? CONTENT_TRAINER : CONTENT_MODEL);
    put_u32(&w, 0);
    write_model(&w, m, tr, npairs);
    if (tr)
        write_trainer(&w, tr, version);
    put_u32(&w, cemi_crc32(0, b, total - 4));
    *buf = b;
    *size = total;
    return CEM_OK;
}

static int save_file(const char *fn, const char *path, const cem_model_t *m,
                     const cem_trainer_t *tr)
{
    void *buf;
    size_t size;
    int st = serialise(fn, m, tr, &buf, &size);
    if (st)
        return st;
    cemi_afile a;
    st = cemi_afile_open(&a, path, fn);
    if (!st)
        st = fwrite(buf, 1, size, a.f) == size ? cemi_afile_commit(&a, fn)
                                               : cemi_afile_abort(&a, fn);
    cemi_release(buf);
    return st;
}

int cem_model_save(const cem_model_t *m, const char *path)
{
    static const char fn[] = "cem_model_save";
    if (!m)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: model is NULL", fn);
    return save_file(fn, path, m, NULL);
}

int cem_model_save_buffer(const cem_model_t *m, void **buf, size_t *size)
{
    static const char fn[] = "cem_model_save_buffer";
    if (buf) /* cleared on every error, as the header says */
        *buf = NULL;
    if (size)
        *size = 0;
    if (!m || !buf || !size)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: model, buf and size must not be NULL", fn);
    return serialise(fn, m, NULL, buf, size);
}

int cem_trainer_save(const cem_trainer_t *tr, const char *path)
{
    static const char fn[] = "cem_trainer_save";
    if (!tr)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: trainer is NULL", fn);
    return save_file(fn, path, tr->model, tr);
}

int cem_trainer_save_buffer(const cem_trainer_t *tr, void **buf, size_t *size)
{
    static const char fn[] = "cem_trainer_save_buffer";
    if (buf) /* cleared on every error, as the header says */
        *buf = NULL;
    if (size)
        *size = 0;
    if (!tr || !buf || !size)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: trainer, buf and size must not be NULL", fn);
    return serialise(fn, tr->model, tr, buf, size);
}

/* ------------------------------------------------------------ reading */

typedef struct {
    const unsigned char *p;
} rcur;

static void get(rcur *r, void *v, size_t n)
{
    memcpy(v, r->p, n);
    r->p += n;
}
static uint32_t get_u32(rcur *r) { uint32_t v; get(r, &v, 4); return v; }
static uint64_t get_u64(rcur *r) { uint64_t v; get(r, &v, 8); return v; }
static double get_f64(rcur *r) { double v; get(r, &v, 8); return v; }

/* What the fixed-size head of a file says. */
typedef struct {
    uint32_t version;
    uint32_t content;
    size_t nmopt, ntopt, nlaw, naxes;
    layout at;
    cemi_mlp_shape sh;
    cem_target target;
    int use_ema;
    uint64_t seed;
    double t_min, t_max;
    size_t np;
    size_t total; /* the file size the head implies */
} head;

/* The head of a format-1 file, and the most a head can be. */
#define HEAD1_BYTES (HEADER_BYTES + MODEL_BYTES)
#define HEAD_BYTES (HEADER_BYTES + MODEL_BYTES + COUNTS_BYTES)

static int corrupt(const char *fn, const char *what, double v)
{
    return cemi_fail(NULL, CEM_ERR_CORRUPT, "%s: impossible %s (%g)", fn, what, v);
}

/* Validates the first `avail` bytes (the whole head when avail >=
 * HEAD_BYTES) and fills h. */
static int parse_head(const char *fn, const unsigned char *b, size_t avail, head *h)
{
    size_t m = avail < 8 ? avail : 8;
    if (memcmp(b, MAGIC, m) != 0)
        return cemi_fail(NULL, CEM_ERR_BAD_MAGIC, "%s: not a libcemdiff checkpoint (bad magic)",
                         fn);
    if (avail < 12)
        return cemi_fail(NULL, CEM_ERR_TRUNCATED,
                         "%s: truncated: %zu bytes, shorter than the header", fn, avail);
    rcur r = {b + 8};
    uint32_t version = get_u32(&r); /* the mark only once the header is there */
    if (version < 1 || version > FORMAT_VERSION)
        return cemi_fail(NULL, CEM_ERR_VERSION,
                         "%s: format version %u is not supported (this library reads 1 to %d)",
                         fn, version, FORMAT_VERSION);
    size_t need = version == 1 ? HEAD1_BYTES : HEAD_BYTES;
    if (avail < need)
        return cemi_fail(NULL, CEM_ERR_TRUNCATED,
                         "%s: truncated: %zu bytes, shorter than the %zu-byte header", fn, avail,
                         need);
    uint32_t mark = get_u32(&r);
    h->version = version;
    if (mark != ENDIAN_MARK)
        return cemi_fail(NULL, CEM_ERR_CORRUPT, "%s: byte-order mark 0x%08x: %s", fn, mark,
                         mark == 0x0D0C0B0Au ? "written on a machine of the other byte order"
                                             : "damaged header");
    h->content = get_u32(&r);
    if (h->content != CONTENT_MODEL && h->content != CONTENT_TRAINER)
        return corrupt(fn, "content type", h->content);
    if (get_u32(&r) != 0)
        return corrupt(fn, "reserved header field", 1);
    uint32_t kind = get_u32(&r), target = get_u32(&r), D = get_u32(&r), E = get_u32(&r);
    uint32_t H = get_u32(&r), L = get_u32(&r), act = get_u32(&r), ema = get_u32(&r);
    h->seed = get_u64(&r);
    h->t_min = get_f64(&r);
    h->t_max = get_f64(&r);
    uint64_t np = get_u64(&r);
    if (kind != FILE_KIND_MLP)
        return corrupt(fn, "model kind", kind);
    if (target > CEM_TARGET_SCORE)
        return corrupt(fn, "target", target);
    if (D < 1 || D > 4096)
        return corrupt(fn, "dimension", D);
    if (E < 2 || E > 1024 || E % 2)
        return corrupt(fn, "embedding size", E);
    if (H < 1 || H > 8192)
        return corrupt(fn, "width", H);
    if (L < 1 || L > 64)
        return corrupt(fn, "depth", L);
    if (act > CEM_ACT_TANH)
        return corrupt(fn, "activation", act);
    if (ema > 1)
        return corrupt(fn, "use_ema flag", ema);
    if (!(h->t_min >= 1e-8 && h->t_min <= 50 && h->t_max >= 0.1 && h->t_max <= 100 &&
          h->t_min < h->t_max))
        return corrupt(fn, "time window t_min", h->t_min);
    if (h->seed > (uint64_t)1 << 53)
        return corrupt(fn, "seed", (double)h->seed);
    h->sh = (cemi_mlp_shape){(int)D, (int)E, (int)H, (int)L, (cemi_act)act, 0, 0};
    h->target = (cem_target)target;
    h->use_ema = (int)ema;
    /* the layers' count; format 4 adds a label table, whose size the pairs
     * give (build_model checks it): here only a bound */
    h->np = cemi_mlp_nparams(&h->sh);
    if (version >= FORMAT_LABELS ? np < h->np || np > CEMI_MLP_MAX_PARAMS
                                 : np != h->np || h->np > CEMI_MLP_MAX_PARAMS)
        return corrupt(fn, "parameter count", (double)np);
    h->np = (size_t)np;
    int trainer = h->content == CONTENT_TRAINER;
    h->nmopt = h->ntopt = h->nlaw = h->naxes = 0;
    if (version >= 2) {
        uint32_t nm = get_u32(&r), nt = get_u32(&r), nl = get_u32(&r);
        if (nm > 64) /* every id at most once: a few dozen options at most */
            return corrupt(fn, "number of model options", nm);
        if (nt > 256 || (!trainer && nt != 0))
            return corrupt(fn, "number of trainer options", nt);
        if (trainer ? nl != CEMI_LAW_BINS : nl != 0)
            return corrupt(fn, "number of time-law bins", nl);
        uint32_t na = get_u32(&r);
        if (version == 2 ? na != 0 : na != 0 && na != D)
            return corrupt(fn, version == 2 ? "reserved count field" : "number of axes", na);
        h->naxes = na;
        h->nmopt = nm;
        h->ntopt = nt;
        h->nlaw = nl;
    }
    h->at = layout_of(version, trainer, D, h->np, h->nmopt, h->ntopt, h->nlaw, h->naxes);
    h->total = h->at.total;
    return CEM_OK;
}

/* Validates a whole buffer: head, size, checksum. */
static int check_buffer(const char *fn, const void *buf, size_t size, head *h)
{
    if (!buf)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: buffer is NULL", fn);
    int st = parse_head(fn, buf, size, h);
    if (st)
        return st;
    if (size < h->total)
        return cemi_fail(NULL, CEM_ERR_TRUNCATED,
                         "%s: truncated: %zu bytes where the header promises %zu", fn, size,
                         h->total);
    if (size > h->total)
        return cemi_fail(NULL, CEM_ERR_CORRUPT, "%s: %zu trailing bytes after the checkpoint",
                         fn, size - h->total);
    uint32_t stored;
    memcpy(&stored, (const unsigned char *)buf + size - 4, 4);
    uint32_t crc = cemi_crc32(0, buf, size - 4);
    if (crc != stored)
        return cemi_fail(NULL, CEM_ERR_CHECKSUM,
                         "%s: checksum mismatch (stored 0x%08x, computed 0x%08x): corrupted",
                         fn, stored, crc);
    return CEM_OK;
}

/* Reads `count` (id, value) pairs at r into value[id] (ids min..max, each
 * at most once), checking each value against the option table.  An id
 * above max is a newer library's (CEM_ERR_VERSION); below min (0, or a
 * field of the fixed block) it is damage. */
static int read_pairs(const char *fn, rcur *r, size_t count, const cemi_option *table, int min,
                      int max, const char *what, double *value)
{
    unsigned char seen[257] = {0};
    for (size_t k = 0; k < count; k++) {
        uint32_t id = get_u32(r), pad = get_u32(r);
        double v = get_f64(r);
        if (pad != 0)
            return corrupt(fn, "reserved option field", pad);
        if (id < (uint32_t)min)
            return corrupt(fn, "option id", id);
        const cemi_option *o = id <= (uint32_t)max ? cemi_option_find(table, (int)id) : NULL;
        if (!o)
            return cemi_fail(NULL, CEM_ERR_VERSION,
                             "%s: %s option id %u is unknown to this library (written by a "
                             "newer one)", fn, what, id);
        if (seen[id]++)
            return corrupt(fn, "repeated option id", id);
        if (!(v >= o->lo && v <= o->hi) || (o->integer && v != floor(v)))
            return cemi_fail(NULL, CEM_ERR_CORRUPT, "%s: impossible %s = %g", fn, o->name, v);
        value[id] = v;
    }
    return CEM_OK;
}

/* The data's axes at r (format 3): *out gets D x D axes then D sds, each
 * sd finite, >= 0 and none above the previous, each axis finite and of
 * unit length; the file must have statistics (sd > 0). */
static int read_axes(const char *fn, rcur *r, int D, double sd, double **out)
{
    const size_t d = (size_t)D;
    if (!(sd > 0))
        return corrupt(fn, "axes without data statistics: sd", sd);
    double *a = cemi_alloc(d * d + d, sizeof(double)), *asd = a + d * d;
    if (!a)
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the data's axes", fn);
    for (size_t k = 0; k < d; k++)
        if (!((asd[k] = get_f64(r)) >= 0 && isfinite(asd[k]) && (k == 0 || asd[k] <= asd[k - 1]))) {
            double v = asd[k];
            cemi_release(a);
            return corrupt(fn, "axis sd", v);
        }
    for (size_t k = 0; k < d; k++) {
        double nn = 0;
        for (size_t j = 0; j < d; j++) {
            double v = a[k * d + j] = get_f64(r);
            nn += v * v;
        }
        if (!(fabs(nn - 1.0) <= 1e-9)) {
            cemi_release(a);
            return corrupt(fn, "axis length^2", nn);
        }
    }
    *out = a;
    return CEM_OK;
}

/* Builds the model of a validated buffer. */
static int build_model(const char *fn, const unsigned char *b, const head *h, cem_model_t **out)
{
    /* the buffer may be unaligned: copy the floats, then check them */
    const unsigned char *params = b + h->at.params, *ema = params + 4 * h->np;
    double mopt[LAST_MODEL_PAIR + 1];
    for (int id = 1; id <= LAST_MODEL_PAIR; id++)
        mopt[id] = legacy_model_option(id);
    double sd = 0, *mean = NULL, *axes = NULL;
    if (h->version >= 2) {
        rcur r = {b + h->at.mopts};
        int st = read_pairs(fn, &r, h->nmopt, cemi_model_options(), MODEL_PAIRS[0],
                            h->version >= FORMAT_LABELS ? LAST_MODEL_PAIR : CEM_MODEL_PARAM,
                            "model", mopt);
        if (st)
            return st;
        sd = get_f64(&r);
        if (!(sd >= 0 && isfinite(sd)))
            return corrupt(fn, "data sd", sd);
        mean = cemi_alloc((size_t)h->sh.D, sizeof(double));
        if (!mean)
            return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory", fn);
        for (int j = 0; j < h->sh.D; j++)
            if (!isfinite(mean[j] = get_f64(&r)) || (sd == 0 && mean[j] != 0)) {
                const double v = mean[j]; /* read before the release (ASan) */
                cemi_release(mean);
                return corrupt(fn, "data mean", v);
            }
        if (h->naxes && (st = read_axes(fn, &r, h->sh.D, sd, &axes)) != CEM_OK) {
            cemi_release(mean);
            return st;
        }
    }
    if (mopt[CEM_MODEL_PARAM] != CEM_PARAM_DIRECT && h->target != CEM_TARGET_CEM) {
        cemi_release(mean);
        cemi_release(axes);
        return corrupt(fn, "parameterisation for this target", mopt[CEM_MODEL_PARAM]);
    }
    cemi_mlp_shape sh = h->sh;
    const int K = (int)mopt[CEM_MODEL_LABELS];
    sh.NL = K ? K + 1 : 0;
    sh.C = K ? (int)mopt[CEM_MODEL_LABEL_EMBED] : 0;
    if (cemi_mlp_nparams(&sh) != h->np) {
        cemi_release(mean);
        cemi_release(axes);
        return corrupt(fn, "parameter count for the labels", (double)h->np);
    }
    cem_model_t *m;
    int st = cemi_mlp_create(&m, fn, &sh, h->target, (cem_param)(int)mopt[CEM_MODEL_PARAM],
                             h->seed);
    cemi_mlp *p = st ? NULL : cemi_mlp_of(m);
    if (!st && axes && cemi_mlp_set_axes(p, axes, axes + (size_t)h->sh.D * (size_t)h->sh.D)) {
        cem_model_free(m);
        st = cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the data's axes", fn);
    }
    cemi_release(axes);
    if (st) {
        cemi_release(mean);
        return st;
    }
    m->t_min = h->t_min;
    m->t_max = h->t_max;
    m->window_set = 1; /* the file's window is the network's */
    p->use_ema = h->use_ema;
    p->label_embed = (int)mopt[CEM_MODEL_LABEL_EMBED]; /* also without labels */
    cemi_mlp_set_stats(p, mean, sd);
    cemi_release(mean);
    memcpy(p->params, params, 4 * h->np);
    memcpy(p->ema, ema, 4 * h->np);
    if (cemi_first_nonfinite_f(p->params, h->np) < h->np ||
        cemi_first_nonfinite_f(p->ema, h->np) < h->np) {
        cem_model_free(m);
        return corrupt(fn, "weights: a value", NAN);
    }
    *out = m;
    return CEM_OK;
}

int cem_model_load_buffer(cem_model_t **out, const void *buf, size_t size)
{
    static const char fn[] = "cem_model_load_buffer";
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    head h;
    int st = check_buffer(fn, buf, size, &h);
    return st ? st : build_model(fn, buf, &h, out);
}

static int load_trainer(const char *fn, const unsigned char *b, const head *h,
                        cem_trainer_t **out, const float *data, const int *labels, size_t n,
                        int dim)
{
    if (h->content != CONTENT_TRAINER)
        return cemi_fail(NULL, CEM_ERR_ARG,
                         "%s: this checkpoint holds a model only, not a trainer", fn);
    rcur r = {b + h->at.trainer};
    uint64_t step = get_u64(&r);
    if (step > (uint64_t)1 << 62)
        return corrupt(fn, "step count", (double)step);
    /* options a file lacks take their defaults, which keep its meaning */
    double opt[CEMI_TRAINER_NOPT + 1];
    const cemi_option *table = cemi_trainer_options();
    for (const cemi_option *o = table; o->name; o++)
        opt[o->id] = o->def;
    int st;
    if (h->version >= 2) {
        st = read_pairs(fn, &r, h->ntopt, table, 1, CEMI_TRAINER_NOPT, "trainer", opt);
        if (st)
            return st;
    } else {
        uint32_t nopt = get_u32(&r);
        if (nopt != V1_NOPT)
            return corrupt(fn, "number of trainer options", nopt);
        if (get_u32(&r) != 0)
            return corrupt(fn, "reserved trainer field", 1);
        for (int id = 1; id <= V1_NOPT; id++) {
            opt[id] = get_f64(&r);
            const cemi_option *o = cemi_option_find(table, id);
            if (!(opt[id] >= o->lo && opt[id] <= o->hi) ||
                (o->integer && opt[id] != floor(opt[id])))
                return cemi_fail(NULL, CEM_ERR_CORRUPT, "%s: impossible %s = %g", fn, o->name,
                                 opt[id]);
        }
    }
    double bin_sum[CEM_TRAINER_BINS];
    uint64_t bin_count[CEM_TRAINER_BINS];
    for (int k = 0; k < CEM_TRAINER_BINS; k++)
        if (!((bin_sum[k] = get_f64(&r)) >= 0 && isfinite(bin_sum[k])))
            return corrupt(fn, "time-bin loss", bin_sum[k]);
    for (int k = 0; k < CEM_TRAINER_BINS; k++)
        if ((bin_count[k] = get_u64(&r)) > (uint64_t)1 << 62)
            return corrupt(fn, "time-bin count", (double)bin_count[k]);
    double law_loss[CEMI_LAW_BINS];
    for (int k = 0; k < CEMI_LAW_BINS; k++) {
        law_loss[k] = k < (int)h->nlaw ? get_f64(&r) : -1.0;
        if (!((law_loss[k] >= 0 || law_loss[k] == -1.0) && isfinite(law_loss[k])))
            return corrupt(fn, "time-law loss", law_loss[k]);
    }
    uint64_t data_n = get_u64(&r);
    uint32_t data_crc = get_u32(&r), data_dim = get_u32(&r);
    uint32_t labelled = 0, labels_crc = 0;
    if (h->version >= FORMAT_LABELS) {
        labelled = get_u32(&r);
        labels_crc = get_u32(&r);
        if (labelled > 1 || (!labelled && labels_crc != 0))
            return corrupt(fn, "labels flag", labelled);
    }
    const unsigned char *m1 = r.p, *m2 = m1 + 4 * h->np;
    if (labelled != (labels != NULL))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: this checkpoint is of a%s trainer: load it "
                         "with %s", fn, labelled ? " labelled" : "n unlabelled",
                         labelled ? "cem_trainer_load_labelled (or _buffer_labelled) and "
                                    "its labels"
                                  : "cem_trainer_load (or _buffer), without labels");
    if (labels && data_n == n &&
        cemi_crc32(0, labels, sizeof(int) * n) != labels_crc)
        return cemi_fail(NULL, CEM_ERR_ARG,
                         "%s: the labels differ from the labels the trainer was saved with "
                         "(CRC-32 0x%08x)", fn, labels_crc);
    if (data && (data_n != n || data_dim != (uint32_t)dim ||
                 cemi_crc32(0, data, sizeof(float) * n * (size_t)(dim > 0 ? dim : 0)) != data_crc))
        return cemi_fail(NULL, CEM_ERR_ARG,
                         "%s: the data differ from the data the trainer was saved with "
                         "(%llu x %u, CRC-32 0x%08x)", fn, (unsigned long long)data_n, data_dim,
                         data_crc);

    cem_model_t *m;
    st = build_model(fn, b, h, &m);
    if (st)
        return st;
    cem_trainer_t *tr;
    st = cemi_trainer_new(&tr, fn, m, data, labels, n, dim);
    cem_model_free(m); /* the trainer holds the only reference */
    if (st)
        return st;
    for (int id = 1; id <= CEMI_TRAINER_NOPT; id++)
        tr->opt[id] = opt[id];
    if ((int)opt[CEM_TRAINER_BATCH] != tr->cap ||
        (int)opt[CEM_TRAINER_ACCUMULATE] != 1 ||
        (int)opt[CEM_TRAINER_THREADS] != cemi_pool_size(tr->pool)) {
        st = cemi_trainer_reserve(tr, (int)opt[CEM_TRAINER_BATCH],
                                  (int)opt[CEM_TRAINER_ACCUMULATE], 0,
                                  (int)opt[CEM_TRAINER_THREADS], fn);
        if (st) {
            cem_trainer_free(tr);
            return cemi_fail(NULL, st, "%s: out of memory for the batch", fn);
        }
    }
    tr->step = (long)step;
    for (int b2 = 0; b2 < CEM_TRAINER_BINS; b2++) {
        tr->bin_sum[b2] = bin_sum[b2];
        tr->bin_count[b2] = (long)bin_count[b2];
    }
    for (int k = 0; k < CEMI_LAW_BINS; k++)
        tr->law_loss[k] = law_loss[k] < 0 ? NAN : law_loss[k];
    memcpy(tr->m1, m1, 4 * h->np);
    memcpy(tr->m2, m2, 4 * h->np);
    if (cemi_first_nonfinite_f(tr->m1, h->np) < h->np ||
        cemi_first_nonfinite_f(tr->m2, h->np) < h->np) {
        cem_trainer_free(tr);
        return corrupt(fn, "optimiser moments: a value", NAN);
    }
    /* a mean of squares: a negative one would give the next step sqrt < 0 */
    for (size_t k = 0; k < h->np; k++)
        if (tr->m2[k] < 0) {
            const double v = tr->m2[k]; /* read before the release (ASan) */
            cem_trainer_free(tr);
            return corrupt(fn, "optimiser second moment", v);
        }
    st = cemi_trainer_law_refresh(tr, 1, fn);
    if (st) {
        cem_trainer_free(tr);
        return st; /* the refresh recorded why, naming fn */
    }
    *out = tr;
    return CEM_OK;
}

/* cem_trainer_load_buffer and _labelled (labelled: labels must be given). */
static int load_buffer(const char *fn, cem_trainer_t **out, const void *buf, size_t size,
                       const float *data, int labelled, const int *labels, size_t n, int dim)
{
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!data || (labelled && !labels))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: %s is NULL", fn, data ? "labels" : "data");
    head h;
    int st = check_buffer(fn, buf, size, &h);
    return st ? st : load_trainer(fn, buf, &h, out, data, labels, n, dim);
}

int cem_trainer_load_buffer(cem_trainer_t **out, const void *buf, size_t size,
                            const float *data, size_t n, int dim)
{
    return load_buffer("cem_trainer_load_buffer", out, buf, size, data, 0, NULL, n, dim);
}

int cem_trainer_load_buffer_labelled(cem_trainer_t **out, const void *buf, size_t size,
                                     const float *data, const int *labels, size_t n, int dim)
{
    return load_buffer("cem_trainer_load_buffer_labelled", out, buf, size, data, 1, labels, n,
                       dim);
}

/* Reads a checkpoint file whole after validating its head against its
 * size, so a damaged header never causes a large allocation. */
static int read_file(const char *fn, const char *path, unsigned char **buf, size_t *size)
{
    struct stat st;
    int status = CEM_OK;
    FILE *f = cemi_open_regular(path, "rb", fn, &status, &st);
    if (!f)
        return status;
    unsigned char first[HEAD_BYTES];
    size_t got = fread(first, 1, sizeof first, f);
    head h;
    int rc = parse_head(fn, first, got, &h);
    if (!rc && (uint64_t)st.st_size < h.total)
        rc = cemi_fail(NULL, CEM_ERR_TRUNCATED,
                       "%s: '%s' is truncated: %lld bytes where the header promises %zu", fn,
                       path, (long long)st.st_size, h.total);
    if (!rc && (uint64_t)st.st_size > h.total)
        rc = cemi_fail(NULL, CEM_ERR_CORRUPT, "%s: '%s' has %lld trailing bytes", fn, path,
                       (long long)st.st_size - (long long)h.total);
    if (rc) {
        fclose(f);
        return rc;
    }
    unsigned char *b = cemi_alloc(h.total, 1);
    if (!b) {
        fclose(f);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for %zu bytes", fn, h.total);
    }
    memcpy(b, first, sizeof first);
    size_t rest = fread(b + sizeof first, 1, h.total - sizeof first, f);
    fclose(f);
    if (rest != h.total - sizeof first) {
        cemi_release(b);
        return cemi_fail(NULL, CEM_ERR_TRUNCATED, "%s: '%s' ended early", fn, path);
    }
    *buf = b;
    *size = h.total;
    return CEM_OK;
}

/* Reads and validates the checkpoint at path, then builds from it: a model
 * (data NULL) or a trainer. */
static int load_path(const char *fn, const char *path, cem_model_t **model,
                     cem_trainer_t **trainer, const float *data, const int *labels, size_t n,
                     int dim)
{
    unsigned char *b = NULL; /* set on success (initialised for -O1 builds' */
    size_t size = 0;         /* maybe-uninitialized warning, sanitizers) */
    int st = read_file(fn, path, &b, &size);
    if (st)
        return st;
    head h;
    st = check_buffer(fn, b, size, &h);
    if (!st)
        st = model ? build_model(fn, b, &h, model)
                   : load_trainer(fn, b, &h, trainer, data, labels, n, dim);
    cemi_release(b);
    return st;
}

int cem_model_load(cem_model_t **out, const char *path)
{
    static const char fn[] = "cem_model_load";
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    return load_path(fn, path, out, NULL, NULL, NULL, 0, 0);
}

/* cem_trainer_load and _labelled (labelled: labels must be given). */
static int load_trainer_path(const char *fn, cem_trainer_t **out, const char *path,
                             const float *data, int labelled, const int *labels, size_t n,
                             int dim)
{
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!data || (labelled && !labels))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: %s is NULL", fn, data ? "labels" : "data");
    return load_path(fn, path, NULL, out, data, labels, n, dim);
}

int cem_trainer_load(cem_trainer_t **out, const char *path, const float *data, size_t n,
                     int dim)
{
    return load_trainer_path("cem_trainer_load", out, path, data, 0, NULL, n, dim);
}

int cem_trainer_load_labelled(cem_trainer_t **out, const char *path, const float *data,
                              const int *labels, size_t n, int dim)
{
    return load_trainer_path("cem_trainer_load_labelled", out, path, data, 1, labels, n, dim);
}
