/*
 * csv.c -- reading and writing n x dim float arrays as CSV text (layer 5).
 *
 * Reading is strict: every field goes through strtod and must be a finite
 * number that rounds to a finite float; lines of any length are read with
 * getline.  A label column (cem_csv_read_labelled) is one field of each line
 * read as a decimal integer (strtol) into a buffer of its own: one parser
 * reads both kinds of file.  Writing goes to a temporary file in the
 * target's directory (mkstemp), which is flushed, fsync'ed and renamed over
 * the target, so an existing file is replaced whole or not at all.
 */
#include "io.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------- read */

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Values of magnitude below this round to a finite float (at most FLT_MAX)
 * under round-to-nearest: FLT_MAX + half an ulp = (2 - 2^-24) 2^127. */
static double float_limit(void) { return ldexp(2.0 - ldexp(1.0, -24), 127); }

/* Grows buf (capacity *cap elements of `size` bytes) to hold at least
 * `need` elements: the new block, or NULL when memory runs out (buf is
 * then still valid). */
static void *grow(void *buf, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return buf;
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            c = need;
        else
            c *= 2;
    }
    void *p = cemi_realloc(buf, c, size);
    if (p)
        *cap = c;
    return p;
}

/* State of one read. */
typedef struct {
    const char *path;
    FILE *f;
    char *line;
    size_t line_cap;
    float *buf;
    size_t cap;
    int *lab; /* the labels, when there is a label column */
    size_t lab_cap;
} reader;

static int read_fail(reader *r, float **data, int **labels, size_t *n, int *dim, int status)
{
    if (r->f)
        fclose(r->f);
    free(r->line); /* getline's */
    cemi_release(r->buf);
    cemi_release(r->lab);
    *data = NULL;
    if (labels)
        *labels = NULL;
    *n = 0;
    *dim = 0;
    return status;
}

/* The largest label a file may hold (cemdiff.h: [-1, 65535]). */
#define LABEL_MAX 65535

/* Reads `path` for cem_csv_read (label_col < 0, labels NULL),
 * cem_csv_read_labelled (field label_col of each line into *labels, the
 * other fields into *data) and cem_csv_read_missing (missing: an empty
 * field is NaN); the arguments are valid. */
static int read_csv(const char *fn, const char *path, int label_col, int missing, float **data,
                    int **labels, size_t *n, int *dim)
{
    reader r = {path, NULL, NULL, 0, NULL, 0, NULL, 0};
    int status = CEM_OK;
    r.f = cemi_open_regular(path, "r", fn, &status, NULL);
    if (!r.f)
        return read_fail(&r, data, labels, n, dim, status);
    const double limit = float_limit();
    const size_t lc = label_col < 0 ? SIZE_MAX : (size_t)label_col; /* SIZE_MAX: none */
    size_t rows = 0, d = 0, lineno = 0;
    for (;;) {
        errno = 0;
        ssize_t len = getline(&r.line, &r.line_cap, r.f);
        if (len < 0) {
            if (ferror(r.f))
                return read_fail(&r, data, labels, n, dim,
                                 cemi_fail(NULL, CEM_ERR_IO, "%s: cannot read '%s': %s", fn,
                                           path, strerror(errno ? errno : EIO)));
            if (!feof(r.f))
                return read_fail(&r, data, labels, n, dim,
                                 errno == ENOMEM
                                     ? cemi_fail(NULL, CEM_ERR_NOMEM,
                                                 "%s: %s:%zu: out of memory for the line", fn,
                                                 path, lineno + 1)
                                     : cemi_fail(NULL, CEM_ERR_IO, "%s: cannot read '%s': %s",
                                                 fn, path, strerror(errno ? errno : EIO)));
            break;
        }
        lineno++;
        char *s = r.line;
        size_t L = (size_t)len;
        if (L > 0 && s[L - 1] == '\n')
            s[--L] = '\0';
        if (L > 0 && s[L - 1] == '\r')
            s[--L] = '\0';
        if (strlen(s) != L)
            return read_fail(&r, data, labels, n, dim,
                             cemi_fail(NULL, CEM_ERR_PARSE, "%s: %s:%zu: line contains a NUL byte",
                                       fn, path, lineno));
        char *p = s;
        while (is_blank(*p))
            p++;
        if (*p == '\0' || *p == '#')
            continue;

        size_t fields = 1;
        for (const char *q = p; *q; q++)
            fields += *q == ',';
        if (d == 0) {
            if (fields > (size_t)INT_MAX)
                return read_fail(&r, data, labels, n, dim,
                                 cemi_fail(NULL, CEM_ERR_PARSE, "%s: %s:%zu: %zu fields is too many",
                                           fn, path, lineno, fields));
            if (labels && fields <= lc)
                return read_fail(&r, data, labels, n, dim,
                                 cemi_fail(NULL, CEM_ERR_PARSE,
                                           "%s: %s:%zu: no field %d for the label (label_col "
                                           "counts from 0; the line has %zu fields)",
                                           fn, path, lineno, label_col, fields));
            if (labels && fields == 1)
                return read_fail(&r, data, labels, n, dim,
                                 cemi_fail(NULL, CEM_ERR_PARSE,
                                           "%s: %s:%zu: the label is the only field: no point",
                                           fn, path, lineno));
            d = fields;
        } else if (fields != d) {
            return read_fail(&r, data, labels, n, dim,
                             cemi_fail(NULL, CEM_ERR_PARSE, "%s: %s:%zu: expected %zu fields, found %zu",
                                       fn, path, lineno, d, fields));
        }
        const size_t dp = labels ? d - 1 : d; /* the point's coordinates */
        size_t need;
        float *nb = NULL;
        int *nl = NULL;
        if (cemi_mul_ok(rows + 1, dp, &need) && (nb = grow(r.buf, &r.cap, need, sizeof(float))))
            r.buf = nb;
        if (nb && labels && (nl = grow(r.lab, &r.lab_cap, rows + 1, sizeof(int))))
            r.lab = nl;
        if (!nb || (labels && !nl))
            return read_fail(&r, data, labels, n, dim,
                             cemi_fail(NULL, CEM_ERR_NOMEM, "%s: %s:%zu: out of memory for %zu rows",
                                       fn, path, lineno, rows + 1));
        float *row = r.buf + rows * dp;
        for (size_t k = 0; k < d; k++) {
            while (is_blank(*p))
                p++;
            if ((*p == ',' || *p == '\0') && missing) { /* a missing coordinate */
                *row++ = NAN;
                p = *p == ',' ? p + 1 : p;
                continue;
            }
            if (*p == ',' || *p == '\0')
                return read_fail(&r, data, labels, n, dim,
                                 cemi_fail(NULL, CEM_ERR_PARSE, "%s: %s:%zu: field %zu is empty",
                                           fn, path, lineno, k + 1));
            char *end = p;
            double v = 0.0;
            long lv = 0;
            errno = 0;
            if (!isspace((unsigned char)*p)) {
                if (k == lc)
                    lv = strtol(p, &end, 10);
                else
                    v = strtod(p, &end);
            }
            const int range = errno == ERANGE;
            char *after = end;
            while (is_blank(*after))
                after++;
            if (k == lc && (end == p || (*after != ',' && *after != '\0') || range ||
                            lv < CEM_LABEL_NONE || lv > LABEL_MAX)) {
                size_t tok = strcspn(p, ",");
                return read_fail(&r, data, labels, n, dim,
                                 cemi_fail(NULL, CEM_ERR_PARSE,
                                           "%s: %s:%zu: field %zu is not a label (an integer in "
                                           "[-1, %d]): '%.*s'", fn, path, lineno, k + 1,
                                           LABEL_MAX, (int)(tok > 40 ? 40 : tok), p));
            }
            if (end == p || (*after != ',' && *after != '\0')) {
                size_t tok = strcspn(p, ",");
                return read_fail(&r, data, labels, n, dim,
                                 cemi_fail(NULL, CEM_ERR_PARSE,
                                           "%s: %s:%zu: field %zu is not a number: '%.*s'", fn,
                                           path, lineno, k + 1, (int)(tok > 40 ? 40 : tok), p));
            }
            if (k == lc) {
                r.lab[rows] = (int)lv;
            } else {
                if (!isfinite(v) || !(fabs(v) < limit))
                    return read_fail(&r, data, labels, n, dim,
                                     cemi_fail(NULL, CEM_ERR_NONFINITE,
                                               "%s: %s:%zu: field %zu = '%.*s' is not a finite float",
                                               fn, path, lineno, k + 1,
                                               (int)(end - p > 40 ? 40 : end - p), p));
                *row++ = v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : (float)v;
            }
            p = *after == ',' ? after + 1 : after;
        }
        rows++;
    }
    if (rows == 0)
        return read_fail(&r, data, labels, n, dim,
                         cemi_fail(NULL, CEM_ERR_PARSE, "%s: %s: no data", fn, path));
    fclose(r.f);
    free(r.line);
    *data = r.buf;
    if (labels)
        *labels = r.lab;
    *n = rows;
    *dim = (int)(labels ? d - 1 : d);
    return CEM_OK;
}

/* The three readers' entry: clears the outputs (labels only when
 * labelled), checks the arguments, reads. */
static int read_entry(const char *fn, const char *path, int labelled, int label_col,
                      int missing, float **data, int **labels, size_t *n, int *dim)
{
    if (data)
        *data = NULL;
    if (labelled && labels)
        *labels = NULL;
    if (n)
        *n = 0;
    if (dim)
        *dim = 0;
    if (!path || !data || (labelled && !labels) || !n || !dim)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: path, data, %sn and dim must not be NULL", fn,
                         labelled ? "labels, " : "");
    if (labelled && label_col < 0)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: label_col = %d must be >= 0 (fields count "
                         "from 0)", fn, label_col);
    return read_csv(fn, path, labelled ? label_col : -1, missing, data,
                    labelled ? labels : NULL, n, dim);
}

int cem_csv_read(const char *path, float **data, size_t *n, int *dim)
{
    return read_entry("cem_csv_read", path, 0, -1, 0, data, NULL, n, dim);
}

int cem_csv_read_missing(const char *path, float **data, size_t *n, int *dim)
{
    return read_entry("cem_csv_read_missing", path, 0, -1, 1, data, NULL, n, dim);
}

int cem_csv_read_labelled(const char *path, int label_col, float **data, int **labels,
                          size_t *n, int *dim)
{
    return read_entry("cem_csv_read_labelled", path, 1, label_col, 0, data, labels, n, dim);
}

/* ------------------------------------------------------------------ write */

int cem_csv_write(const char *path, const float *data, size_t n, int dim)
{
    static const char fn[] = "cem_csv_write";
    if (!path || !*path)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: path is NULL or empty", fn);
    if (dim < 1)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: dim = %d must be >= 1", fn, dim);
    if (n == 0) /* a file of no rows has no dimension: cem_csv_read could not read it */
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: n = 0: a CSV file needs at least one row "
                         "(the reader could not read an empty one back)", fn);
    if (!data)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: data is NULL with n = %zu", fn, n);
    size_t total;
    if (!cemi_mul_ok(n, (size_t)dim, &total))
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: n = %zu is too large", fn, n);
    size_t bad = cemi_first_nonfinite_f(data, total);
    if (bad < total)
        return cemi_fail(NULL, CEM_ERR_NONFINITE, "%s: data row %zu column %d is %g", fn,
                         bad / (size_t)dim, (int)(bad % (size_t)dim), (double)data[bad]);

    cemi_afile a;
    int st = cemi_afile_open(&a, path, fn);
    if (st)
        return st;
    for (size_t i = 0; i < n; i++) {
        const float *row = data + i * (size_t)dim;
        for (int j = 0; j < dim; j++)
            if (fprintf(a.f, j ? ",%.9g" : "%.9g", (double)row[j]) < 0)
                return cemi_afile_abort(&a, fn);
        if (putc('\n', a.f) == EOF)
            return cemi_afile_abort(&a, fn);
    }
    return cemi_afile_commit(&a, fn);
}
