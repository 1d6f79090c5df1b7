/*
 * test_csv.c -- CSV reading and writing: exact float round trips, the
 * accepted syntax, every parse error with its line number, the label column
 * of cem_csv_read_labelled, and the atomic replace of the writer.
 */
#include "tests.h"

#include <dirent.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A private copy of the path (test_tmp_path reuses its buffer). */
static char *tmp_path(const char *name)
{
    const char *p = test_tmp_path(name);
    ck_assert_ptr_nonnull(p);
    char *s = malloc(strlen(p) + 1);
    strcpy(s, p);
    return s;
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t cap = 1024, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Entries of the directory of `path` whose name contains ".tmp". */
static int count_temp_files(const char *path)
{
    char *dir = malloc(strlen(path) + 1);
    strcpy(dir, path);
    *strrchr(dir, '/') = '\0';
    DIR *dp = opendir(dir);
    ck_assert_ptr_nonnull(dp);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(dp)))
        count += strstr(e->d_name, ".tmp") != NULL;
    closedir(dp);
    free(dir);
    return count;
}

static uint64_t sm_state;
static uint32_t test_u32(void)
{
    uint64_t z = (sm_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/* Reads text through a file and expects failure `status` with a message
 * containing `needle`; the outputs must be cleared. */
static void expect_read_error(const char *name, const char *text, int status, const char *needle)
{
    char *path = tmp_path(name);
    write_text(path, text, strlen(text));
    float *data = (float *)&data;
    size_t n = 99;
    int dim = 99;
    int st = cem_csv_read(path, &data, &n, &dim);
    ck_assert_msg(st == status, "%s: status %d, want %d (%s)", name, st, status, cem_last_error());
    ck_assert_ptr_null(data);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(dim, 0);
    const char *msg = cem_last_error();
    ck_assert_msg(strstr(msg, "cem_csv_read") && strstr(msg, path) && strstr(msg, needle),
                  "%s: message '%s' lacks '%s'", name, msg, needle);
    unlink(path);
    free(path);
}

/* ------------------------------------------------------------ round trips */

START_TEST(test_round_trip_bits)
{
    enum { N = 400, D = 6 };
    float *x = malloc(sizeof(float) * N * D);
    sm_state = 5;
    for (int i = 0; i < N * D; i++) {
        uint32_t b;
        do
            b = test_u32();
        while (((b >> 23) & 0xFF) == 0xFF); /* every finite bit pattern */
        memcpy(&x[i], &b, sizeof b);
    }
    static const float special[] = {1e-38f, 3e38f, -0.0f, 0.0f, FLT_MAX, -FLT_MAX, FLT_MIN,
                                    FLT_TRUE_MIN, -FLT_TRUE_MIN, 1.0f, -1.0f, 0.1f,
                                    16777217.0f, 1.17549421e-38f /* largest subnormal */};
    memcpy(x, special, sizeof special);
    char *path = tmp_path("bits.csv");
    ck_assert_int_eq(cem_csv_write(path, x, N, D), CEM_OK);
    float *y = NULL;
    size_t n = 0;
    int dim = 0;
    ck_assert_int_eq(cem_csv_read(path, &y, &n, &dim), CEM_OK);
    ck_assert_uint_eq(n, N);
    ck_assert_int_eq(dim, D);
    for (int i = 0; i < N * D; i++)
        ck_assert_msg(memcmp(&x[i], &y[i], sizeof(float)) == 0, "entry %d: %.9g read as %.9g", i,
                      (double)x[i], (double)y[i]);
    ck_assert(signbit(y[2]) && y[2] == 0.0f); /* -0.0 kept */
    /* the writer's format: %.9g, commas, '\n' */
    size_t len;
    char *text = slurp(path, &len);
    ck_assert(len > 0 && text[len - 1] == '\n');
    static const char first[] =
        "9.99999935e-39,3.00000001e+38,-0,0,3.40282347e+38,-3.40282347e+38\n";
    ck_assert(len > strlen(first) && strncmp(text, first, strlen(first)) == 0);
    ck_assert_int_eq(count_temp_files(path), 0);
    free(text);
    cem_free(y);
    free(x);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_syntax_accepted)
{
    static const char text[] =
        "# a header comment\n"
        "\n"
        "  1, 2.5 ,\t-3\r\n"
        "   # an indented comment\r\n"
        "\t \r\n"
        "+4e0,0x1p-2,  -.5e1\n"
        "#\n"
        "7,8,9"; /* no final newline */
    char *path = tmp_path("syntax.csv");
    write_text(path, text, strlen(text));
    float *y = NULL;
    size_t n = 0;
    int dim = 0;
    ck_assert_int_eq(cem_csv_read(path, &y, &n, &dim), CEM_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(dim, 3);
    static const float want[9] = {1, 2.5f, -3, 4, 0.25f, -5, 7, 8, 9};
    for (int i = 0; i < 9; i++)
        ck_assert(y[i] == want[i]);
    cem_free(y);
    cem_free(NULL);
    /* one column, one row */
    write_text(path, "42\n", 3);
    ck_assert_int_eq(cem_csv_read(path, &y, &n, &dim), CEM_OK);
    ck_assert(n == 1 && dim == 1 && y[0] == 42.0f);
    cem_free(y);
    /* a value just above FLT_MAX that rounds to it is representable */
    write_text(path, "3.4028235e38,-3.4028235e38\n", 27);
    ck_assert_int_eq(cem_csv_read(path, &y, &n, &dim), CEM_OK);
    ck_assert(y[0] == FLT_MAX && y[1] == -FLT_MAX);
    cem_free(y);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_long_lines)
{
    enum { D = 5000, N = 3 };
    float *x = malloc(sizeof(float) * N * D);
    for (int i = 0; i < N * D; i++)
        x[i] = (float)(i % 977) * -1.0e-3f + (float)i;
    char *path = tmp_path("long.csv");
    ck_assert_int_eq(cem_csv_write(path, x, N, D), CEM_OK);
    float *y = NULL;
    size_t n = 0;
    int dim = 0;
    ck_assert_int_eq(cem_csv_read(path, &y, &n, &dim), CEM_OK);
    ck_assert_uint_eq(n, N);
    ck_assert_int_eq(dim, D);
    ck_assert(memcmp(x, y, sizeof(float) * N * D) == 0);
    cem_free(y);
    /* many rows, growing the buffer repeatedly */
    enum { M = 20000 };
    float *z = malloc(sizeof(float) * M * 2);
    for (int i = 0; i < 2 * M; i++)
        z[i] = (float)i / 3.0f;
    ck_assert_int_eq(cem_csv_write(path, z, M, 2), CEM_OK);
    ck_assert_int_eq(cem_csv_read(path, &y, &n, &dim), CEM_OK);
    ck_assert(n == M && dim == 2);
    ck_assert(memcmp(z, y, sizeof(float) * M * 2) == 0);
    cem_free(y);
    free(z);
    free(x);
    unlink(path);
    free(path);
}
END_TEST

/* -------------------------------------------------------------- read errors */

START_TEST(test_read_errors)
{
    expect_read_error("ragged.csv", "1,2\n3,4\n5\n", CEM_ERR_PARSE, ":3: expected 2 fields, found 1");
    expect_read_error("ragged2.csv", "# c\n1,2\n\n3,4,5\n", CEM_ERR_PARSE, ":4: expected 2 fields, found 3");
    expect_read_error("word.csv", "1,2\n3,abc\n", CEM_ERR_PARSE, ":2: field 2 is not a number");
    expect_read_error("suffix.csv", "1,2x\n", CEM_ERR_PARSE, ":1: field 2 is not a number");
    expect_read_error("inner.csv", "1 2,3\n", CEM_ERR_PARSE, ":1: field 1 is not a number");
    expect_read_error("empty_field.csv", "1,2,3\n4,,6\n", CEM_ERR_PARSE, ":2: field 2 is empty");
    expect_read_error("trailing.csv", "1,2,\n", CEM_ERR_PARSE, ":1: field 3 is empty");
    expect_read_error("blank_field.csv", "1, \t,3\n", CEM_ERR_PARSE, ":1: field 2 is empty");
    expect_read_error("nan.csv", "1,2\n3,nan\n", CEM_ERR_NONFINITE, ":2:");
    expect_read_error("inf.csv", "# x\n-inf,2\n", CEM_ERR_NONFINITE, ":2:");
    expect_read_error("infinity.csv", "1,2\n1,2\n1,Infinity\n", CEM_ERR_NONFINITE, ":3:");
    expect_read_error("overflow.csv", "1,2\n1e39,0\n", CEM_ERR_NONFINITE, ":2:");
    expect_read_error("overflow2.csv", "-3.5e38\n", CEM_ERR_NONFINITE, ":1:");
    expect_read_error("dbl_overflow.csv", "1e400\n", CEM_ERR_NONFINITE, ":1:");
    expect_read_error("empty.csv", "", CEM_ERR_PARSE, "no data");
    expect_read_error("comments.csv", "# only\n\n  # comments\r\n", CEM_ERR_PARSE, "no data");
    /* a NUL byte inside a line */
    char *path = tmp_path("nul.csv");
    write_text(path, "1,2\n3\0,4\n", 9);
    float *data = (float *)&data;
    size_t n = 9;
    int dim = 9;
    ck_assert_int_eq(cem_csv_read(path, &data, &n, &dim), CEM_ERR_PARSE);
    ck_assert_ptr_null(data);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), ":2:"));
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_read_io_and_args)
{
    char *path = tmp_path("does-not-exist.csv");
    float *data = (float *)&data;
    size_t n = 9;
    int dim = 9;
    ck_assert_int_eq(cem_csv_read(path, &data, &n, &dim), CEM_ERR_IO);
    ck_assert_ptr_null(data);
    ck_assert(n == 0 && dim == 0);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "cem_csv_read"));
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "No such file"));
    /* a directory, and a FIFO with no writer (which blocked open() forever:
     * the outside probe's finding), are no regular files; the model and
     * trainer loaders refuse the FIFO as well */
    char *dir = tmp_path("");
    data = (float *)&data;
    ck_assert_int_eq(cem_csv_read(dir, &data, &n, &dim), CEM_ERR_IO);
    ck_assert_ptr_null(data);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "not a regular file"));
    char *fifo = tmp_path("fifo");
    unlink(fifo);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    data = (float *)&data;
    ck_assert_int_eq(cem_csv_read(fifo, &data, &n, &dim), CEM_ERR_IO);
    ck_assert_ptr_null(data);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "not a regular file"));
    cem_model_t *m = (cem_model_t *)&m;
    ck_assert_int_eq(cem_model_load(&m, fifo), CEM_ERR_IO);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "not a regular file"));
    float pts[4] = {0, 1, 1, 0};
    cem_trainer_t *tr = (cem_trainer_t *)&tr;
    ck_assert_int_eq(cem_trainer_load(&tr, fifo, pts, 2, 2), CEM_ERR_IO);
    ck_assert_ptr_null(tr);
    unlink(fifo);
    free(fifo);
    ck_assert_int_eq(cem_csv_read(NULL, &data, &n, &dim), CEM_ERR_ARG);
    ck_assert_ptr_null(data);
    ck_assert_int_eq(cem_csv_read(path, NULL, &n, &dim), CEM_ERR_ARG);
    ck_assert_int_eq(cem_csv_read(path, &data, NULL, &dim), CEM_ERR_ARG);
    ck_assert_int_eq(cem_csv_read(path, &data, &n, NULL), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "cem_csv_read"));
    free(dir);
    free(path);
}
END_TEST

/* -------------------------------------------------------------- labels */

/* Reads text with cem_csv_read_labelled and expects failure `status` with
 * a message naming the function, the file and containing `needle`; the
 * outputs must be cleared. */
static void expect_labelled_error(const char *name, const char *text, int label_col, int status,
                                  const char *needle)
{
    char *path = tmp_path(name);
    write_text(path, text, strlen(text));
    float *data = (float *)&data;
    int *labels = (int *)&labels;
    size_t n = 99;
    int dim = 99;
    int st = cem_csv_read_labelled(path, label_col, &data, &labels, &n, &dim);
    ck_assert_msg(st == status, "%s: status %d, want %d (%s)", name, st, status,
                  cem_last_error());
    ck_assert_ptr_null(data);
    ck_assert_ptr_null(labels);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(dim, 0);
    const char *msg = cem_last_error();
    ck_assert_msg(strstr(msg, "cem_csv_read_labelled") && strstr(msg, path) &&
                      strstr(msg, needle),
                  "%s: message '%s' lacks '%s'", name, msg, needle);
    unlink(path);
    free(path);
}

/* The label column first, in the middle and last, with comments, blank
 * lines, blanks around fields, CRLF ends and labels from -1 to 65535: the
 * points are the other fields in order, bitwise what cem_csv_read reads
 * from the same file, and the labels are that file's label column. */
START_TEST(test_labelled_columns)
{
    enum { N = 7, D = 3 };
    static const int lab[N] = {0, 3, -1, 65535, 2, -1, 0};
    static const char *const ltext[N] = {"0", " 3", "-1 ", "65535", "+2", " -1\t", "000"};
    float x[N * D];
    for (int i = 0; i < N * D; i++)
        x[i] = (float)(0.375 * i - 2.5) * (i % 2 ? 1.0f : 1e-3f);
    char *path = tmp_path("labelled.csv");
    for (int col = 0; col <= D; col++) {
        char text[2048];
        size_t len = 0;
        len += (size_t)snprintf(text + len, sizeof text - len, "# label in field %d\n\n", col);
        for (int i = 0; i < N; i++) {
            for (int f = 0, j = 0; f <= D; f++) {
                if (f)
                    text[len++] = ',';
                if (f == col)
                    len += (size_t)snprintf(text + len, sizeof text - len, "%s", ltext[i]);
                else
                    len += (size_t)snprintf(text + len, sizeof text - len, " %.9g",
                                            (double)x[i * D + j++]);
            }
            len += (size_t)snprintf(text + len, sizeof text - len, i == 3 ? "\r\n  # c\n\n" : "\n");
        }
        write_text(path, text, len);
        float *y = NULL, *all = NULL;
        int *l = NULL;
        size_t n = 0, na = 0;
        int dim = 0, da = 0;
        ck_assert_int_eq(cem_csv_read_labelled(path, col, &y, &l, &n, &dim), CEM_OK);
        ck_assert_uint_eq(n, N);
        ck_assert_int_eq(dim, D);
        ck_assert_int_eq(memcmp(y, x, sizeof x), 0);
        ck_assert_int_eq(memcmp(l, lab, sizeof lab), 0);
        /* the same file without its label column taken out */
        ck_assert_int_eq(cem_csv_read(path, &all, &na, &da), CEM_OK);
        ck_assert(na == N && da == D + 1);
        for (int i = 0; i < N; i++)
            for (int f = 0, j = 0; f <= D; f++)
                if (f == col)
                    ck_assert(all[i * (D + 1) + f] == (float)lab[i]);
                else
                    ck_assert(memcmp(&all[i * (D + 1) + f], &y[i * D + j++], sizeof(float)) == 0);
        cem_free(y);
        cem_free(l);
        cem_free(all);
    }
    /* one point coordinate; one row */
    write_text(path, "4,-1\n", 5);
    float *y = NULL;
    int *l = NULL;
    size_t n = 0;
    int dim = 0;
    ck_assert_int_eq(cem_csv_read_labelled(path, 0, &y, &l, &n, &dim), CEM_OK);
    ck_assert(n == 1 && dim == 1 && l[0] == 4 && y[0] == -1.0f);
    cem_free(y);
    cem_free(l);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(test_labelled_errors)
{
    /* labels that are not integers in [-1, 65535] */
    expect_labelled_error("l_frac.csv", "1,2,0\n3,4,1.5\n", 2, CEM_ERR_PARSE,
                          ":2: field 3 is not a label (an integer in [-1, 65535]): '1.5'");
    expect_labelled_error("l_word.csv", "# h\nx,1,2\n", 0, CEM_ERR_PARSE,
                          ":2: field 1 is not a label");
    expect_labelled_error("l_big.csv", "1,0,2\n\n1,70000,2\n", 1, CEM_ERR_PARSE,
                          ":3: field 2 is not a label (an integer in [-1, 65535]): '70000'");
    expect_labelled_error("l_neg.csv", "-2,1\n", 0, CEM_ERR_PARSE, ":1: field 1 is not a label");
    expect_labelled_error("l_huge.csv", "99999999999999999999,1\n", 0, CEM_ERR_PARSE,
                          ":1: field 1 is not a label");
    expect_labelled_error("l_exp.csv", "1e2,1\n", 0, CEM_ERR_PARSE, ":1: field 1 is not a label");
    expect_labelled_error("l_hex.csv", "0x1,1\n", 0, CEM_ERR_PARSE, ":1: field 1 is not a label");
    expect_labelled_error("l_inner.csv", "1 2,1\n", 0, CEM_ERR_PARSE,
                          ":1: field 1 is not a label");
    expect_labelled_error("l_empty.csv", "1,2\n ,2\n", 0, CEM_ERR_PARSE, ":2: field 1 is empty");
    /* the label column missing; the label alone */
    expect_labelled_error("l_missing.csv", "# x\n1,2,3\n", 3, CEM_ERR_PARSE,
                          ":2: no field 3 for the label");
    expect_labelled_error("l_alone.csv", "1\n2\n", 0, CEM_ERR_PARSE,
                          ":1: the label is the only field");
    /* the errors of cem_csv_read, with this function's name */
    expect_labelled_error("l_ragged.csv", "1,2\n3,4,5\n", 0, CEM_ERR_PARSE,
                          ":2: expected 2 fields, found 3");
    expect_labelled_error("l_nan.csv", "1,2\n0,nan\n", 0, CEM_ERR_NONFINITE, ":2: field 2");
    expect_labelled_error("l_word2.csv", "1,abc\n", 0, CEM_ERR_PARSE,
                          ":1: field 2 is not a number");
    expect_labelled_error("l_nodata.csv", "# only\n\n", 0, CEM_ERR_PARSE, "no data");
}
END_TEST

START_TEST(test_labelled_args)
{
    char *path = tmp_path("labelled_args.csv");
    write_text(path, "1,2\n", 4);
    float *data = (float *)&data;
    int *labels = (int *)&labels;
    size_t n = 9;
    int dim = 9;
#define CLEARED() ck_assert(data == NULL && labels == NULL && n == 0 && dim == 0)
#define AGAIN() (data = (float *)&data, labels = (int *)&labels, n = 9, dim = 9)
    ck_assert_int_eq(cem_csv_read_labelled(path, -1, &data, &labels, &n, &dim), CEM_ERR_ARG);
    CLEARED();
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "label_col = -1"));
    AGAIN();
    ck_assert_int_eq(cem_csv_read_labelled(path, 0, &data, NULL, &n, &dim), CEM_ERR_ARG);
    ck_assert(data == NULL && n == 0 && dim == 0);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "cem_csv_read_labelled"));
    AGAIN();
    ck_assert_int_eq(cem_csv_read_labelled(NULL, 0, &data, &labels, &n, &dim), CEM_ERR_ARG);
    CLEARED();
    AGAIN();
    ck_assert_int_eq(cem_csv_read_labelled(path, 0, NULL, &labels, &n, &dim), CEM_ERR_ARG);
    ck_assert(labels == NULL && n == 0 && dim == 0);
    AGAIN();
    ck_assert_int_eq(cem_csv_read_labelled(path, 0, &data, &labels, NULL, &dim), CEM_ERR_ARG);
    ck_assert(data == NULL && labels == NULL && dim == 0);
    AGAIN();
    ck_assert_int_eq(cem_csv_read_labelled(path, 0, &data, &labels, &n, NULL), CEM_ERR_ARG);
    ck_assert(data == NULL && labels == NULL && n == 0);
    AGAIN();
    unlink(path);
    ck_assert_int_eq(cem_csv_read_labelled(path, 0, &data, &labels, &n, &dim), CEM_ERR_IO);
    CLEARED();
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "No such file"));
#undef CLEARED
#undef AGAIN
    free(path);
}
END_TEST

/* ------------------------------------------------------------- write errors */

/* cem_csv_read_missing: an empty field is NaN (a missing coordinate), a
 * written "nan" is still refused, and cem_csv_read still refuses both. */
START_TEST(test_missing_fields)
{
    char *path = tmp_path("missing.csv");
    static const char text[] = "# partial points\n1.5,,2\n, \t,\n-1,0.25,\n\n3,4,5\n";
    write_text(path, text, sizeof text - 1);
    float *x = NULL;
    size_t n = 0;
    int dim = 0;
    ck_assert_int_eq(cem_csv_read_missing(path, &x, &n, &dim), CEM_OK);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(dim, 3);
    const int miss[12] = {0, 1, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0};
    const float val[12] = {1.5f, 0, 2, 0, 0, 0, -1, 0.25f, 0, 3, 4, 5};
    for (int k = 0; k < 12; k++)
        if (miss[k])
            ck_assert_msg(isnan(x[k]), "entry %d: %g", k, (double)x[k]);
        else
            ck_assert(x[k] == val[k]);
    cem_free(x);
    ck_assert_int_eq(cem_csv_read(path, &x, &n, &dim), CEM_ERR_PARSE);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), ":2: field 2 is empty"));
    static const char nan_text[] = "1,nan,2\n";
    write_text(path, nan_text, sizeof nan_text - 1);
    ck_assert_int_eq(cem_csv_read_missing(path, &x, &n, &dim), CEM_ERR_NONFINITE);
    ck_assert_ptr_null(x);
    ck_assert_uint_eq(n, 0);
    static const char ragged[] = "1,,2\n1,\n";
    write_text(path, ragged, sizeof ragged - 1);
    ck_assert_int_eq(cem_csv_read_missing(path, &x, &n, &dim), CEM_ERR_PARSE);
    ck_assert_int_eq(cem_csv_read_missing(NULL, &x, &n, &dim), CEM_ERR_ARG);
    free(path);
}
END_TEST

START_TEST(test_write_errors)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    char *path = tmp_path("keep.csv");
    ck_assert_int_eq(cem_csv_write(path, x, 3, 2), CEM_OK);
    size_t len0, len1;
    char *before = slurp(path, &len0);
    ck_assert(len0 == 12 && memcmp(before, "1,2\n3,4\n5,6\n", 12) == 0);

    /* NaN or Inf: rejected before any file is touched */
    float bad[6] = {1, 2, 3, 4, NAN, 6};
    ck_assert_int_eq(cem_csv_write(path, bad, 3, 2), CEM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "cem_csv_write"));
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "row 2"));
    bad[4] = 5;
    bad[1] = INFINITY;
    ck_assert_int_eq(cem_csv_write(path, bad, 3, 2), CEM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "row 0"));
    char *after = slurp(path, &len1);
    ck_assert(len1 == len0 && memcmp(before, after, len0) == 0);
    ck_assert_int_eq(count_temp_files(path), 0);
    free(after);

    /* a directory that does not exist */
    char *missing = tmp_path("no/such/dir/out.csv");
    ck_assert_int_eq(cem_csv_write(missing, x, 3, 2), CEM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "cem_csv_write"));
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "No such file"));
    free(missing);

    /* the rename fails (the target is a non-empty directory): the temporary
     * file is removed */
    char *dirpath = tmp_path("adir");
    ck_assert_int_eq(mkdir(dirpath, 0755), 0);
    char *inner = tmp_path("adir/f");
    write_text(inner, "1\n", 2);
    ck_assert_int_eq(cem_csv_write(dirpath, x, 3, 2), CEM_ERR_IO);
    ck_assert_int_eq(count_temp_files(path), 0);
    unlink(inner);
    rmdir(dirpath);
    free(inner);
    free(dirpath);

    /* arguments */
    ck_assert_int_eq(cem_csv_write(NULL, x, 3, 2), CEM_ERR_ARG);
    ck_assert_int_eq(cem_csv_write(path, NULL, 3, 2), CEM_ERR_ARG);
    ck_assert_int_eq(cem_csv_write(path, x, 3, 0), CEM_ERR_ARG);
    ck_assert_int_eq(cem_csv_write(path, x, SIZE_MAX, 2), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "cem_csv_write"));
    after = slurp(path, &len1);
    ck_assert(len1 == len0 && memcmp(before, after, len0) == 0);
    free(after);

    /* n = 0 is refused, the file left as it was: an empty file could not
     * be read back (the outside probe's finding: the write succeeded, the
     * read said "no data") */
    ck_assert_int_eq(cem_csv_write(path, x, 0, 2), CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "n = 0"));
    after = slurp(path, &len1);
    ck_assert(len1 == len0 && memcmp(before, after, len0) == 0);
    free(after);
    free(before);
    unlink(path);
    free(path);
}
END_TEST

Suite *suite_csv(void)
{
    Suite *s = suite_create("csv");
    TCase *tc = tcase_create("round trip");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_round_trip_bits);
    tcase_add_test(tc, test_syntax_accepted);
    tcase_add_test(tc, test_long_lines);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_read_errors);
    tcase_add_test(tc, test_read_io_and_args);
    tcase_add_test(tc, test_write_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("labels");
    tcase_add_test(tc, test_labelled_columns);
    tcase_add_test(tc, test_labelled_errors);
    tcase_add_test(tc, test_labelled_args);
    tcase_add_test(tc, test_missing_fields);
    suite_add_tcase(s, tc);
    return s;
}
