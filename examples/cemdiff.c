/*
 * cemdiff.c -- the command-line tool: train a model, sample from it,
 * measure the samples, profile the singularity, describe a checkpoint.
 * A host program like any other: it uses only <cemdiff.h>.
 *
 *   cemdiff train   --data circle --target cem --steps 4000 -o model.cem
 *   cemdiff sample  model.cem -n 10000 -o samples.csv
 *   cemdiff eval    samples.csv --data circle
 *   cemdiff profile model.cem --data circle
 *   cemdiff info    model.cem
 *
 * `cemdiff SUB --help` documents each subcommand.  Exit status: 0 success,
 * 1 a library call failed (its message is printed), 2 bad arguments,
 * 3 sampling diverged in some rows, 130 training interrupted by Ctrl-C.
 *
 * Reading guide: messages and exit codes, then the option parser shared by
 * every subcommand (a table per subcommand; bounds of the options the
 * library owns come from cem_*_option_bounds, so the tool and the library
 * never disagree), then data loading, then one cmd_* function per
 * subcommand, then main.
 */
#define _POSIX_C_SOURCE 200809L

#include <cemdiff.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_USAGE = 2, EXIT_DIVERGED = 3, EXIT_INTERRUPTED = 130 };

#define MAX_SEED 9007199254740992.0 /* 2^53, the library's bound for seeds */
#if LONG_MAX > 1000000000000 /* step counts are longs */
#define MAX_STEPS 1e12
#else
#define MAX_STEPS 2147483647.0
#endif

/* ------------------------------------------------------ messages and exits */

static const char *g_sub = ""; /* the running subcommand, for messages */

/* Bad arguments: one line naming the problem, a pointer to the help; 2. */
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cemdiff %s: ", g_sub);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nsee 'cemdiff %s --help'\n", g_sub);
    return EXIT_USAGE;
}

/* A library call failed: print its message (which names the function, the
 * argument and the file); 1. */
static int lib_error(const char *msg)
{
    fprintf(stderr, "cemdiff %s: %s\n", g_sub, msg && *msg ? msg : "unknown error");
    return EXIT_FAILURE;
}

static int note(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cemdiff %s: ", g_sub);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 0;
}

/* malloc of n x dim floats, NULL on overflow or failure (with a message). */
static float *alloc_points(size_t n, int dim)
{
    if (dim < 1 || n > SIZE_MAX / sizeof(float) / (size_t)dim) {
        lib_error("too many points");
        return NULL;
    }
    float *x = malloc(n * (size_t)dim * sizeof *x + 1);
    if (!x)
        lib_error("out of memory");
    return x;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------- enum names */

static const char *const TARGETS[] = {"cem", "noise", "score", NULL};
static const char *const ACTIVATIONS[] = {"silu", "relu", "tanh", NULL};
static const char *const TIME_LAWS[] = {"grid",      "loguniform", "uniform",
                                        "lognormal", "adaptive",   NULL};
static const char *const WEIGHTS[] = {"lambda", "one", "sqrt-lambda", "min-snr", "edm", NULL};
static const char *const PARAMS[] = {"direct", "precond", "pca", NULL};
static const char *const PRIORS[] = {"standard", "matched", NULL};
/* the library names its integrators and grids (filled by main) */
static const char *INTEGRATORS[32], *GRIDS[32];

static void names_from_library(void)
{
    for (int k = 0; k < 31; k++) {
        INTEGRATORS[k] = cem_integrator_name((cem_integrator)k);
        GRIDS[k] = cem_grid_name((cem_grid)k);
    }
}

/* The built-in datasets, in cem_dataset_kind order, with the native
 * dimension the header documents (the smallest --dim they accept). */
static const struct {
    const char *name;
    int native;
} DATASETS[] = {{"segment", 2}, {"circle", 2}, {"helix", 3}, {"sphere", 3},
                {"points", 2},  {"torus", 3},  {"knot", 3}};
enum { N_DATASETS = sizeof DATASETS / sizeof DATASETS[0], DATA_CSV = -1 };

static const char *name_of(const char *const *names, int value)
{
    for (int i = 0; names[i]; i++)
        if (i == value)
            return names[i];
    return "?";
}

/* ------------------------------------------------------------ option parser
 *
 * Each subcommand describes its options in a table of `option`s that point
 * at the fields of its argument struct.  parse_options() fills them,
 * checking every value strictly; options that map onto a library option
 * (lib != LIB_NONE) take their bounds from the library and are later passed
 * to it by apply_options().
 */
typedef enum { OPT_FLAG, OPT_INT, OPT_REAL, OPT_TEXT, OPT_CHOICE } opt_kind;
typedef enum { LIB_NONE, LIB_MODEL, LIB_TRAINER, LIB_SAMPLER, LIB_FLOW } lib_handle;

typedef struct {
    const char *name;           /* "--steps" */
    const char *alias;          /* "-n", or NULL */
    opt_kind kind;              /* dest is an int (FLAG, CHOICE), long long (INT),
                                   double (REAL) or const char * (TEXT) */
    void *dest;
    double lo, hi;              /* bounds of INT and REAL without a library option */
    const char *const *choices; /* CHOICE: the names; dest gets the index */
    lib_handle lib;             /* the handle whose option this is, if any */
    int lib_id;                 /* ... and which option */
    int seen;                   /* given on the command line */
} option;

#define FLAG(name, dest) {name, NULL, OPT_FLAG, dest, 0, 0, NULL, LIB_NONE, 0, 0}
#define TEXT(name, alias, dest) {name, alias, OPT_TEXT, dest, 0, 0, NULL, LIB_NONE, 0, 0}
#define INT(name, alias, dest, lo, hi) {name, alias, OPT_INT, dest, lo, hi, NULL, LIB_NONE, 0, 0}
#define REAL(name, dest, lo, hi) {name, NULL, OPT_REAL, dest, lo, hi, NULL, LIB_NONE, 0, 0}
#define REAL_ALIAS(name, alias, dest, lo, hi) \
    {name, alias, OPT_REAL, dest, lo, hi, NULL, LIB_NONE, 0, 0}
#define CHOICE(name, dest, names) {name, NULL, OPT_CHOICE, dest, 0, 0, names, LIB_NONE, 0, 0}
#define LIB_INT(name, dest, lib, id) {name, NULL, OPT_INT, dest, 0, 0, NULL, lib, id, 0}
#define LIB_REAL(name, dest, lib, id) {name, NULL, OPT_REAL, dest, 0, 0, NULL, lib, id, 0}
#define LIB_CHOICE(name, dest, names, lib, id) \
    {name, NULL, OPT_CHOICE, dest, 0, 0, names, lib, id, 0}
#define END_OPTIONS {NULL, NULL, OPT_FLAG, NULL, 0, 0, NULL, LIB_NONE, 0, 0}

enum { PARSE_HELP = -1 };

static void library_bounds(const option *o, double *lo, double *hi)
{
    *lo = o->lo;
    *hi = o->hi;
    switch (o->lib) {
    case LIB_MODEL: cem_model_option_bounds((cem_model_option)o->lib_id, lo, hi); break;
    case LIB_TRAINER: cem_trainer_option_bounds((cem_trainer_option)o->lib_id, lo, hi); break;
    case LIB_SAMPLER: cem_sampler_option_bounds((cem_sampler_option)o->lib_id, lo, hi); break;
    case LIB_FLOW: cem_flow_option_bounds((cem_flow_option)o->lib_id, lo, hi); break;
    case LIB_NONE: break;
    }
}

/* Strict numbers: the whole text is a finite decimal number (no hex, no
 * inf or nan, no spaces), whole for an INT option, within its bounds. */
static int parse_number(const option *o, const char *text, double *out)
{
    char *end;
    if (!*text || strspn(text, "0123456789+-.eE") != strlen(text))
        return usage_error("%s: '%s' is not a number", o->name, text);
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end)
        return usage_error("%s: '%s' is not a number", o->name, text);
    if (errno == ERANGE || !isfinite(v))
        return usage_error("%s: '%s' is out of range", o->name, text);
    if (o->kind == OPT_INT && v != floor(v))
        return usage_error("%s: '%s' is not a whole number", o->name, text);
    double lo, hi;
    library_bounds(o, &lo, &hi);
    if (!(v >= lo && v <= hi))
        return usage_error("%s: %s is outside [%g, %g]", o->name, text, lo, hi);
    *out = v;
    return 0;
}

static int parse_choice(const option *o, const char *text)
{
    for (int i = 0; o->choices[i]; i++)
        if (!strcmp(o->choices[i], text)) {
            *(int *)o->dest = i;
            return 0;
        }
    char list[256] = "";
    for (int i = 0; o->choices[i]; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, o->choices[i], sizeof list - strlen(list) - 1);
    }
    return usage_error("%s: '%s' is not one of %s", o->name, text, list);
}

static int set_option(option *o, const char *text)
{
    double v;
    int rc = 0;
    switch (o->kind) {
    case OPT_TEXT:
        if (!*text)
            return usage_error("%s: empty value", o->name);
        *(const char **)o->dest = text;
        break;
    case OPT_CHOICE:
        rc = parse_choice(o, text);
        break;
    case OPT_INT:
        if (!(rc = parse_number(o, text, &v)))
            *(long long *)o->dest = (long long)v;
        break;
    case OPT_REAL:
        if (!(rc = parse_number(o, text, &v)))
            *(double *)o->dest = v;
        break;
    case OPT_FLAG:
        *(int *)o->dest = 1;
        break;
    }
    o->seen = !rc;
    return rc;
}

static option *find_option(option *opts, const char *arg, size_t len)
{
    for (; opts->name; opts++) {
        if (strlen(opts->name) == len && !strncmp(opts->name, arg, len))
            return opts;
        if (opts->alias && strlen(opts->alias) == len && !strncmp(opts->alias, arg, len))
            return opts;
    }
    return NULL;
}

/* Parses argv[0 .. argc-1] into opts ("--name value", "--name=value", short
 * aliases "-n value") and up to max_pos positional arguments.  Returns 0,
 * PARSE_HELP when --help or -h is among the arguments, or EXIT_USAGE after
 * printing what is wrong. */
static int parse_options(int argc, char **argv, option *opts, const char **pos, int max_pos)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return PARSE_HELP;
    int npos = 0, only_positional = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_positional && !strcmp(arg, "--")) {
            only_positional = 1;
            continue;
        }
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            if (npos >= max_pos)
                return usage_error("unexpected argument '%s'", arg);
            pos[npos++] = arg;
            continue;
        }
        const char *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        option *o = find_option(opts, arg, len);
        if (!o)
            return usage_error("unknown option '%.*s'", (int)len, arg);
        if (o->kind == OPT_FLAG) {
            if (eq)
                return usage_error("%s takes no value", o->name);
            set_option(o, "");
            continue;
        }
        const char *value = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!value)
            return usage_error("%s needs a value", o->name);
        int rc = set_option(o, value);
        if (rc)
            return rc;
    }
    return 0;
}

static int given(const option *opts, const char *name)
{
    for (; opts->name; opts++)
        if (!strcmp(opts->name, name))
            return opts->seen;
    return 0;
}

/* The value of a numeric or choice option as the library takes it. */
static double option_value(const option *o)
{
    switch (o->kind) {
    case OPT_INT: return (double)*(const long long *)o->dest;
    case OPT_REAL: return *(const double *)o->dest;
    case OPT_CHOICE:
    case OPT_FLAG: return *(const int *)o->dest;
    case OPT_TEXT: break;
    }
    return NAN;
}

/* Passes every given option of `lib` to the handle.  A value the library
 * refuses (CEM_ERR_RANGE: e.g. an odd --embed, --t1 above --T) is a usage
 * error; anything else is a library failure. */
static int apply_options(const option *opts, lib_handle lib, void *handle)
{
    for (; opts->name; opts++) {
        if (opts->lib != lib || !opts->seen)
            continue;
        double v = option_value(opts);
        int st = CEM_ERR_ARG;
        switch (lib) {
        case LIB_MODEL: st = cem_model_set(handle, (cem_model_option)opts->lib_id, v); break;
        case LIB_TRAINER: st = cem_trainer_set(handle, (cem_trainer_option)opts->lib_id, v); break;
        case LIB_SAMPLER: st = cem_sampler_set(handle, (cem_sampler_option)opts->lib_id, v); break;
        case LIB_FLOW: st = cem_flow_set(handle, (cem_flow_option)opts->lib_id, v); break;
        case LIB_NONE: break;
        }
        if (st == CEM_ERR_RANGE)
            return usage_error("%s: %s", opts->name, cem_last_error());
        if (st != CEM_OK)
            return lib_error(cem_last_error());
    }
    return 0;
}

static int print_help(const char *text)
{
    fputs(text, stdout);
    return 0;
}

/* ------------------------------------------------------------------- data */

/* A block of n x dim points; CSV buffers belong to the library (cem_free),
 * drawn ones to us (free). */
typedef struct {
    float *x;
    size_t n;
    int dim;
    int from_csv;
    int *labels; /* n classes from a CSV label column (cem_free), or NULL */
} points;

static void points_free(points *p)
{
    if (p->from_csv)
        cem_free(p->x);
    else
        free(p->x);
    cem_free(p->labels);
    p->x = NULL;
    p->labels = NULL;
    p->n = 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* --data: a built-in dataset (its cem_dataset_kind) or DATA_CSV for a file
 * (anything that ends in .csv or exists). */
static int resolve_data(const char *spec, int *kind)
{
    for (int k = 0; k < N_DATASETS; k++)
        if (!strcmp(spec, DATASETS[k].name)) {
            *kind = k;
            return 0;
        }
    struct stat st;
    if (ends_with(spec, ".csv") || stat(spec, &st) == 0) {
        *kind = DATA_CSV;
        return 0;
    }
    return usage_error("unknown dataset '%s' (expected segment, circle, helix, sphere, "
                       "points, torus, knot or a FILE.csv)", spec);
}

/* --scale X and --offset A,B,...: where a built-in dataset is placed
 * (cem_dataset_set_affine).  The offset is parsed once the dimension is
 * known. */
typedef struct {
    double scale;            /* 0: not given (1) */
    const char *offset;      /* a comma list of dim numbers; NULL: not given (0) */
    const char *offset_name; /* its option's name; NULL: "--offset" */
} placement;

/* The options of a placement: --scale (or --data-scale) and --offset (or
 * --data-offset); profile, whose --offset is the probes', spells the
 * offset --data-offset only (PROFILE_OFFSET). */
#define SCALE_OPTION(pl) REAL_ALIAS("--scale", "--data-scale", &(pl)->scale, 1e-300, 1e6)
#define OFFSET_OPTION(pl) TEXT("--offset", "--data-offset", &(pl)->offset)
#define PROFILE_OFFSET "--data-offset"

/* Parses the offset list into off[0 .. dim-1]. */
static int parse_offset(const char *name, const char *list, int dim, double *off)
{
    const option o = REAL(name, NULL, -1e6, 1e6);
    char buf[64];
    int n = 0;
    for (const char *p = list;; n++) {
        size_t len = strcspn(p, ",");
        if (n < dim) {
            if (len >= sizeof buf)
                return usage_error("%s: '%.*s...' is not a number", name, 20, p);
            memcpy(buf, p, len);
            buf[len] = '\0';
            int rc = parse_number(&o, buf, &off[n]);
            if (rc)
                return rc;
        }
        if (!p[len])
            break;
        p += len + 1;
    }
    if (n + 1 != dim)
        return usage_error("%s: %d numbers, but the data is in R^%d", name, n + 1, dim);
    return 0;
}

/* Applies the placement given on the command line to d. */
static int place_dataset(const placement *pl, cem_dataset_t *d)
{
    if (!pl || (!pl->scale && !pl->offset))
        return 0;
    const char *offset_name = pl->offset_name ? pl->offset_name : "--offset";
    int dim = cem_dataset_dim(d);
    double *off = calloc((size_t)dim, sizeof *off);
    if (!off)
        return lib_error("out of memory");
    int rc = pl->offset ? parse_offset(offset_name, pl->offset, dim, off) : 0;
    if (!rc) {
        int st = cem_dataset_set_affine(d, pl->scale ? pl->scale : 1.0, off);
        if (st == CEM_ERR_RANGE)
            rc = usage_error("%s", cem_last_error());
        else if (st != CEM_OK)
            rc = lib_error(cem_last_error());
    }
    free(off);
    return rc;
}

/* The built-in dataset `kind` in R^dim (0: its native dimension), placed by
 * pl (may be NULL). */
static int open_dataset(int kind, long long dim, long long seed, const placement *pl,
                        cem_dataset_t **d)
{
    if (dim == 0)
        dim = DATASETS[kind].native;
    if (dim < DATASETS[kind].native)
        return usage_error("--dim %lld is below the dimension of %s (%d)", dim,
                           DATASETS[kind].name, DATASETS[kind].native);
    if (cem_dataset_create(d, (cem_dataset_kind)kind, (int)dim, (uint64_t)seed) != CEM_OK)
        return lib_error(cem_last_error());
    int rc = place_dataset(pl, *d);
    if (rc) {
        cem_dataset_free(*d);
        *d = NULL;
    }
    return rc;
}

static int draw_points(const cem_dataset_t *d, size_t n, long long seed, points *p)
{
    p->dim = cem_dataset_dim(d);
    p->from_csv = 0;
    if (!(p->x = alloc_points(n, p->dim)))
        return EXIT_FAILURE;
    p->n = n;
    if (cem_dataset_sample(d, n, (uint64_t)seed, p->x) != CEM_OK) {
        points_free(p);
        return lib_error(cem_last_error());
    }
    return 0;
}

static int read_points(const char *path, points *p)
{
    p->from_csv = 1;
    if (cem_csv_read(path, &p->x, &p->n, &p->dim) != CEM_OK)
        return lib_error(cem_last_error());
    return 0;
}

/* A CSV file whose column label_col (0-based) holds each row's class. */
static int read_labelled_points(const char *path, long long label_col, points *p)
{
    p->from_csv = 1;
    if (cem_csv_read_labelled(path, (int)label_col, &p->x, &p->labels, &p->n, &p->dim) !=
        CEM_OK)
        return lib_error(cem_last_error());
    return 0;
}

/* The number of classes of labelled points: the largest label + 1. */
static int class_count(const points *p)
{
    int K = 0;
    for (size_t i = 0; p->labels && i < p->n; i++)
        K = p->labels[i] + 1 > K ? p->labels[i] + 1 : K;
    return K;
}

/* The --data of train, sample --exact and profile: n points of a built-in
 * dataset (dimension dim, seed for both its embedding and the draw, placed
 * by pl), or the rows of a CSV file, labelled by its column label_col when
 * that is >= 0.  *dataset (may be NULL) receives the built-in dataset, NULL
 * for a file. */
static int load_data(const char *spec, int kind, long long n, long long dim, long long seed,
                     const placement *pl, long long label_col, points *p,
                     cem_dataset_t **dataset)
{
    if (kind == DATA_CSV)
        return label_col >= 0 ? read_labelled_points(spec, label_col, p) : read_points(spec, p);
    cem_dataset_t *d = NULL;
    int rc = open_dataset(kind, dim, seed, pl, &d);
    if (!rc)
        rc = draw_points(d, (size_t)n, seed, p);
    if (dataset && !rc)
        *dataset = d;
    else
        cem_dataset_free(d);
    return rc;
}

/* The options that only make sense for a built-in dataset. */
static int check_builtin_only(const option *opts, int kind, const char *const *names)
{
    if (kind != DATA_CSV)
        return 0;
    for (int i = 0; names[i]; i++)
        if (given(opts, names[i]))
            return usage_error("%s applies to built-in datasets, not to a CSV file", names[i]);
    return 0;
}

/* ------------------------------------------------------------------ train */

static const char TRAIN_HELP[] =
    "usage: cemdiff train --data DATA [options] -o MODEL\n"
    "\n"
    "Trains a network on DATA and saves it (cem_model_save).\n"
    "\n"
    "data\n"
    "  --data DATA         segment, circle, helix, sphere, points, torus, knot, or a\n"
    "                      FILE.csv\n"
    "  --n N               points drawn from a built-in dataset (10000)\n"
    "  --dim D             embed a built-in dataset in R^D (its native dimension)\n"
    "  --data-seed S       seed of the dataset's embedding and draw (0)\n"
    "  --scale X           scale a built-in dataset by X (1)\n"
    "  --offset A,B,...    ... and move it by A,B,... (D numbers; 0): its points\n"
    "                      are OFFSET + X p (also --data-scale, --data-offset)\n"
    "network\n"
    "  --target T          what the network learns: cem, noise or score (cem)\n"
    "  --param P           how a cem network gives f: pca (EDM's preconditioning\n"
    "                      along the data's principal axes, each of its own sd;\n"
    "                      the default), precond (the same with one sd) or\n"
    "                      direct (the paper's: the network is f)\n"
    "  --width H           hidden width (256)\n"
    "  --depth L           hidden layers (3)\n"
    "  --embed E           time features, even (32)\n"
    "  --activation A      silu, relu or tanh (silu)\n"
    "  --t1 X, --T X       the model's time window [T_MIN, T_MAX]; unless one is\n"
    "                      given, [0.001, 10] moved to the data's scale sd:\n"
    "                      t -> log1p(sd^2 expm1(t)) (cemdiff.h, CEM_MODEL_T_MIN)\n"
    "  --model-seed S      seed of the initial weights (0)\n"
    "training\n"
    "  --steps N           train until the step count reaches N (4000); with\n"
    "                      --resume the steps already taken count\n"
    "  --batch B           rows per step (1024)\n"
    "  --lr X              peak learning rate (0.001)\n"
    "  --warmup N          steps of linear warm-up (0)\n"
    "  --decay N           steps of cosine decay after warm-up (0: constant)\n"
    "  --ema X             decay of the weight average (0.995)\n"
    "  --clip X            maximum gradient norm (0: none)\n"
    "  --law L             time law: grid, loguniform, uniform, lognormal or\n"
    "                      adaptive (grid, the paper's exponential grid)\n"
    "  --grid-n N          points of the grid law (200)\n"
    "  --lognormal-mean X, --lognormal-std X\n"
    "                      the lognormal law's ln s ~ N(X, X^2) (-1.2, 1.2)\n"
    "  --adapt-floor X     the adaptive law's share spread log-uniformly (0.25)\n"
    "  --importance 0|1    1: weight each row by log-uniform / law density (0)\n"
    "  --weight W          CEM loss weight: lambda (the paper's, the default), one,\n"
    "                      sqrt-lambda, min-snr or edm\n"
    "  --seed S            seed of the batches (0)\n"
    "labels (a class-conditional network)\n"
    "  --label-col C       column C (0-based) of the CSV data holds each row's\n"
    "                      class, 0 .. K-1 (-1: none); the network learns the K\n"
    "                      conditional models and the unconditional one\n"
    "  --label-embed C     width of the learned label embedding (16)\n"
    "  --label-dropout P   share of labelled rows trained as unlabelled (0.1)\n"
    "files\n"
    "  -o, --output FILE   the model (required)\n"
    "  --checkpoint FILE   also save the full trainer state there at the end\n"
    "  --save-every N      ... and every N steps\n"
    "  --resume FILE       continue from a trainer checkpoint (same data); the\n"
    "                      architecture and the training options come from it,\n"
    "                      training options given here override them\n"
    "  --quiet             no progress and no summary\n"
    "\n"
    "Progress goes to stderr (a bar on a terminal, a line every 5% otherwise),\n"
    "the summary (mean loss, loss by time bin) to stdout.  Ctrl-C stops after\n"
    "the current step, saves the model (and --checkpoint) and exits with 130.\n";

typedef struct {
    const char *data, *out, *checkpoint, *resume;
    long long n, dim, data_seed, steps, save_every;
    placement place;
    int target, quiet;
    /* the model's options */
    long long width, depth, embed, model_seed;
    int activation;
    double t1, T;
    /* the trainer's options */
    long long batch, warmup, decay, grid_n, seed;
    double lr, ema, clip;
    int law, weight, param;
    long long importance;
    double ln_mean, ln_std, adapt_floor;
    /* labels */
    long long label_col, label_embed;
    double label_dropout;
} train_args;

/* Ctrl-C during training: the progress callback sees the flag and stops
 * cem_trainer_run after the current step. */
static volatile sig_atomic_t g_interrupted = 0;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

/* What the progress callback keeps between steps. */
typedef struct {
    long start, total;       /* step count at the start, and the one to reach */
    int quiet, tty, drawn;   /* drawn: a bar is on screen (needs a newline) */
    long every;              /* steps between lines when not on a terminal */
    double t0, last_draw;    /* seconds */
    double sum, recent;      /* loss sums: whole run, since the last report */
    long recent_n;
} progress;

static void format_duration(double s, char *buf, size_t size)
{
    long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

static void report_progress(progress *p, long step, double now)
{
    double rate = (double)(step - p->start) / fmax(now - p->t0, 1e-9);
    double loss = p->recent / (double)p->recent_n;
    char eta[32];
    format_duration((double)(p->total - step) / rate, eta, sizeof eta);
    if (p->tty) {
        enum { W = 24 };
        char bar[W + 1];
        int fill = (int)((double)W * (double)step / (double)p->total);
        for (int i = 0; i < W; i++)
            bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
        bar[W] = '\0';
        fprintf(stderr, "\r[%s] %ld/%ld %3.0f%%  %.1f steps/s  loss %.4g  eta %s\033[K", bar,
                step, p->total, 100.0 * (double)step / (double)p->total, rate, loss, eta);
        p->drawn = 1;
    } else {
        fprintf(stderr, "step %ld/%ld  loss %.4f  %.1f steps/s  eta %s\n", step, p->total, loss,
                rate, eta);
    }
    fflush(stderr);
    p->recent = 0;
    p->recent_n = 0;
    p->last_draw = now;
}

/* cem_progress_fn: accumulates the loss, reports now and then, and asks the
 * trainer to stop after a Ctrl-C. */
static int on_step(long step, double loss, void *user)
{
    progress *p = user;
    p->sum += loss;
    p->recent += loss;
    p->recent_n++;
    if (!p->quiet) {
        double now = now_seconds();
        int last = step == p->total || g_interrupted;
        if (p->tty ? last || now - p->last_draw >= 0.1
                   : last || (step - p->start) % p->every == 0)
            report_progress(p, step, now);
    }
    return g_interrupted != 0;
}

static int train_new(const train_args *a, const option *opts, const points *data,
                     cem_trainer_t **tr)
{
    cem_model_t *m = NULL;
    if (cem_model_create_mlp(&m, data->dim, (cem_target)a->target) != CEM_OK)
        return lib_error(cem_last_error());
    int rc = apply_options(opts, LIB_MODEL, m);
    if (!rc && data->labels && cem_model_set(m, CEM_MODEL_LABELS, class_count(data)) != CEM_OK)
        rc = lib_error(cem_last_error());
    if (!rc && (data->labels ? cem_trainer_create_labelled(tr, m, data->x, data->labels,
                                                           data->n, data->dim)
                             : cem_trainer_create(tr, m, data->x, data->n, data->dim)) != CEM_OK)
        rc = lib_error(cem_last_error());
    cem_model_free(m); /* the trainer keeps its own reference */
    if (!rc)
        rc = apply_options(opts, LIB_TRAINER, *tr);
    return rc;
}

/* --resume: the architecture comes from the checkpoint, so a network option
 * given on the command line must agree with it. */
static int train_resume(const train_args *a, const option *opts, const points *data,
                        cem_trainer_t **tr)
{
    if ((data->labels ? cem_trainer_load_labelled(tr, a->resume, data->x, data->labels, data->n,
                                                  data->dim)
                      : cem_trainer_load(tr, a->resume, data->x, data->n, data->dim)) != CEM_OK)
        return lib_error(cem_last_error());
    const cem_model_t *m = cem_trainer_model(*tr);
    if (given(opts, "--target") && cem_model_target_of(m) != a->target)
        return usage_error("--target %s differs from the checkpoint's %s", TARGETS[a->target],
                           name_of(TARGETS, cem_model_target_of(m)));
    for (const option *o = opts; o->name; o++) {
        double v;
        if (o->lib != LIB_MODEL || !o->seen ||
            cem_model_get(m, (cem_model_option)o->lib_id, &v) != CEM_OK || v == option_value(o))
            continue;
        if (o->kind == OPT_CHOICE)
            return usage_error("%s %s differs from the checkpoint's %s", o->name,
                               o->choices[(int)option_value(o)], name_of(o->choices, (int)v));
        return usage_error("%s %g differs from the checkpoint's %g", o->name, option_value(o), v);
    }
    return apply_options(opts, LIB_TRAINER, *tr);
}

/* Runs until the step count reaches a->steps, Ctrl-C or a rejected step,
 * saving the trainer every --save-every steps.  Returns a library status. */
static int train_loop(cem_trainer_t *tr, const train_args *a)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    if (old.sa_handler == SIG_IGN) /* started in the background: stay deaf */
        sigaction(SIGINT, &old, NULL);
    int st = CEM_OK;
    while (st == CEM_OK && !g_interrupted && cem_trainer_steps(tr) < a->steps) {
        long done = cem_trainer_steps(tr), chunk = (long)a->steps - done;
        if (a->save_every) {
            long next = (done / (long)a->save_every + 1) * (long)a->save_every;
            if (next < a->steps)
                chunk = next - done;
        }
        st = cem_trainer_run(tr, chunk, NULL);
        if (st == CEM_ERR_STOPPED && g_interrupted)
            st = CEM_OK; /* our own stop (Ctrl-C): reported as an interruption */
        long now = cem_trainer_steps(tr);
        if (st == CEM_OK && a->save_every && now % a->save_every == 0 && now < a->steps &&
            !g_interrupted && cem_trainer_save(tr, a->checkpoint) != CEM_OK)
            st = CEM_ERR_IO;
    }
    sigaction(SIGINT, &old, NULL); /* a second Ctrl-C while saving kills */
    return st;
}

static void print_time_bins(cem_trainer_t *tr)
{
    double mean[CEM_TRAINER_BINS], edges[CEM_TRAINER_BINS + 1];
    long count[CEM_TRAINER_BINS];
    if (cem_trainer_time_bins_n(tr, CEM_TRAINER_BINS, mean, count, edges, 0) != CEM_OK)
        return;
    printf("loss by training time (every step so far):\n");
    printf("  %10s %10s %12s %12s\n", "t from", "t to", "samples", "mean loss");
    for (int b = 0; b < CEM_TRAINER_BINS; b++) {
        printf("  %10.3g %10.3g %12ld", edges[b], edges[b + 1], count[b]);
        if (count[b] > 0)
            printf(" %12.5g\n", mean[b]);
        else
            printf(" %12s\n", "-");
    }
}

/* Saves the model (and the trainer) and says how training ended. */
static int train_finish(cem_trainer_t *tr, const train_args *a, const progress *p, int st)
{
    long steps = cem_trainer_steps(tr), ran = steps - p->start;
    char fail_msg[512] = "";
    if (st != CEM_OK) /* keep the message: the saves below may overwrite it */
        snprintf(fail_msg, sizeof fail_msg, "%s", cem_last_error());
    if (cem_model_save(cem_trainer_model(tr), a->out) != CEM_OK)
        return lib_error(cem_last_error());
    if (a->checkpoint && cem_trainer_save(tr, a->checkpoint) != CEM_OK)
        return lib_error(cem_last_error());
    if (!a->quiet && ran > 0) {
        printf("trained steps %ld to %ld in %.1f s, mean loss %.5g\n", p->start, steps,
               now_seconds() - p->t0, p->sum / (double)ran);
        print_time_bins(tr);
    }
    if (st != CEM_OK) {
        lib_error(fail_msg);
        note("saved the model of step %ld to %s%s%s", steps, a->out,
             a->checkpoint ? " and the trainer to " : "", a->checkpoint ? a->checkpoint : "");
        return EXIT_FAILURE;
    }
    if (g_interrupted) {
        note("interrupted at step %ld of %lld; saved the model to %s%s%s", steps, a->steps,
             a->out, a->checkpoint ? " and the trainer to " : "",
             a->checkpoint ? a->checkpoint : "");
        if (a->checkpoint)
            note("continue with --resume %s", a->checkpoint);
        return EXIT_INTERRUPTED;
    }
    if (!a->quiet)
        note("saved %s%s%s", a->out, a->checkpoint ? " and " : "",
             a->checkpoint ? a->checkpoint : "");
    return 0;
}

static void describe_training(const cem_trainer_t *tr, const train_args *a, const points *data)
{
    const cem_model_t *m = cem_trainer_model(tr);
    double width = 0, depth = 0, act = 0;
    cem_model_get(m, CEM_MODEL_WIDTH, &width);
    cem_model_get(m, CEM_MODEL_DEPTH, &depth);
    cem_model_get(m, CEM_MODEL_ACTIVATION, &act);
    fprintf(stderr, "cemdiff train: %s, %zu points in R^%d; %s network %g x %g %s, %zu parameters\n",
            a->data, data->n, data->dim, name_of(TARGETS, cem_model_target_of(m)), depth, width,
            name_of(ACTIVATIONS, (int)act), cem_model_param_count(m));
    double param = 0, law = 0, weight = 0;
    cem_model_get(m, CEM_MODEL_PARAM, &param);
    cem_trainer_get(tr, CEM_TRAINER_TIME_LAW, &law);
    cem_trainer_get(tr, CEM_TRAINER_WEIGHT, &weight);
    if (cem_model_target_of(m) == CEM_TARGET_CEM)
        fprintf(stderr, "cemdiff train: recipe: %s, weight %s, time law %s\n",
                name_of(PARAMS, (int)param), name_of(WEIGHTS, (int)weight),
                name_of(TIME_LAWS, (int)law));
    else
        fprintf(stderr, "cemdiff train: time law %s\n", name_of(TIME_LAWS, (int)law));
    if (a->resume)
        fprintf(stderr, "cemdiff train: resuming %s at step %ld of %lld\n", a->resume,
                cem_trainer_steps(tr), a->steps);
}

static int cmd_train(int argc, char **argv)
{
    train_args a = {.n = 10000, .data_seed = 0, .steps = 4000, .label_col = -1};
    option opts[] = {
        TEXT("--data", NULL, &a.data),
        INT("--n", NULL, &a.n, 2, 1e8),
        INT("--dim", NULL, &a.dim, 1, 4096),
        INT("--data-seed", NULL, &a.data_seed, 0, MAX_SEED),
        SCALE_OPTION(&a.place),
        OFFSET_OPTION(&a.place),
        CHOICE("--target", &a.target, TARGETS),
        LIB_CHOICE("--param", &a.param, PARAMS, LIB_MODEL, CEM_MODEL_PARAM),
        LIB_INT("--width", &a.width, LIB_MODEL, CEM_MODEL_WIDTH),
        LIB_INT("--depth", &a.depth, LIB_MODEL, CEM_MODEL_DEPTH),
        LIB_INT("--embed", &a.embed, LIB_MODEL, CEM_MODEL_EMBED),
        LIB_CHOICE("--activation", &a.activation, ACTIVATIONS, LIB_MODEL, CEM_MODEL_ACTIVATION),
        LIB_REAL("--t1", &a.t1, LIB_MODEL, CEM_MODEL_T_MIN),
        LIB_REAL("--T", &a.T, LIB_MODEL, CEM_MODEL_T_MAX),
        LIB_INT("--model-seed", &a.model_seed, LIB_MODEL, CEM_MODEL_SEED),
        INT("--steps", NULL, &a.steps, 1, MAX_STEPS),
        LIB_INT("--batch", &a.batch, LIB_TRAINER, CEM_TRAINER_BATCH),
        LIB_REAL("--lr", &a.lr, LIB_TRAINER, CEM_TRAINER_LR),
        LIB_INT("--warmup", &a.warmup, LIB_TRAINER, CEM_TRAINER_WARMUP),
        LIB_INT("--decay", &a.decay, LIB_TRAINER, CEM_TRAINER_DECAY_STEPS),
        LIB_REAL("--ema", &a.ema, LIB_TRAINER, CEM_TRAINER_EMA),
        LIB_REAL("--clip", &a.clip, LIB_TRAINER, CEM_TRAINER_CLIP),
        LIB_CHOICE("--law", &a.law, TIME_LAWS, LIB_TRAINER, CEM_TRAINER_TIME_LAW),
        LIB_INT("--grid-n", &a.grid_n, LIB_TRAINER, CEM_TRAINER_GRID_N),
        LIB_CHOICE("--weight", &a.weight, WEIGHTS, LIB_TRAINER, CEM_TRAINER_WEIGHT),
        LIB_REAL("--lognormal-mean", &a.ln_mean, LIB_TRAINER, CEM_TRAINER_LOGNORMAL_MEAN),
        LIB_REAL("--lognormal-std", &a.ln_std, LIB_TRAINER, CEM_TRAINER_LOGNORMAL_STD),
        LIB_REAL("--adapt-floor", &a.adapt_floor, LIB_TRAINER, CEM_TRAINER_ADAPT_FLOOR),
        LIB_INT("--importance", &a.importance, LIB_TRAINER, CEM_TRAINER_IMPORTANCE),
        LIB_INT("--seed", &a.seed, LIB_TRAINER, CEM_TRAINER_SEED),
        INT("--label-col", NULL, &a.label_col, 0, 1e6),
        LIB_INT("--label-embed", &a.label_embed, LIB_MODEL, CEM_MODEL_LABEL_EMBED),
        LIB_REAL("--label-dropout", &a.label_dropout, LIB_TRAINER, CEM_TRAINER_LABEL_DROPOUT),
        TEXT("-o", "--output", &a.out),
        TEXT("--checkpoint", NULL, &a.checkpoint),
        INT("--save-every", NULL, &a.save_every, 1, MAX_STEPS),
        TEXT("--resume", NULL, &a.resume),
        FLAG("--quiet", &a.quiet),
        END_OPTIONS,
    };
    static const char *const builtin_only[] = {"--n", "--dim", "--data-seed", "--scale", "--offset",
                                               NULL};
    int kind, rc = parse_options(argc, argv, opts, NULL, 0);
    if (rc)
        return rc == PARSE_HELP ? print_help(TRAIN_HELP) : rc;
    if (!a.data)
        return usage_error("--data is required");
    if (!a.out)
        return usage_error("-o FILE is required");
    if (a.save_every && !a.checkpoint)
        return usage_error("--save-every needs --checkpoint FILE");
    if ((rc = resolve_data(a.data, &kind)) || (rc = check_builtin_only(opts, kind, builtin_only)))
        return rc;
    if (kind != DATA_CSV && a.label_col >= 0)
        return usage_error("--label-col applies to a CSV file, not to a built-in dataset");

    points data = {0};
    cem_trainer_t *tr = NULL;
    rc = load_data(a.data, kind, a.n, a.dim, a.data_seed, &a.place, a.label_col, &data, NULL);
    if (!rc)
        rc = a.resume ? train_resume(&a, opts, &data, &tr) : train_new(&a, opts, &data, &tr);
    if (!rc) {
        progress p = {.start = cem_trainer_steps(tr), .total = (long)a.steps, .quiet = a.quiet,
                      .tty = isatty(STDERR_FILENO), .t0 = now_seconds()};
        p.every = (p.total - p.start) / 20 > 0 ? (p.total - p.start) / 20 : 1;
        if (!a.quiet)
            describe_training(tr, &a, &data);
        if (p.start >= p.total && !a.quiet)
            note("the checkpoint is already at step %ld >= --steps %lld", p.start, a.steps);
        cem_trainer_set_progress(tr, on_step, &p);
        int st = train_loop(tr, &a);
        if (p.drawn)
            fputc('\n', stderr);
        rc = train_finish(tr, &a, &p, st);
    }
    cem_trainer_free(tr);
    points_free(&data);
    return rc;
}

/* ----------------------------------------------------------------- sample */

static const char SAMPLE_HELP[] =
    "usage: cemdiff sample MODEL [options] -o OUT.csv\n"
    "       cemdiff sample --exact DATA [--n-data M] [--dim D] [--data-seed S] [--scale X]\n"
    "                      [--offset A,B,...] [options] -o OUT.csv\n"
    "\n"
    "Generates points by integrating the reverse process of MODEL (a model or\n"
    "trainer checkpoint), or of the exact model of M points of DATA.\n"
    "\n"
    "  -n N                points to generate (1000)\n"
    "  -o, --output FILE   where to write them, one CSV row each (required)\n"
    "  --integrator I      splitting, euler, ancestral, ode, heun, or the few-step\n"
    "                      dpmpp_2m, dpmpp_2m_sde, dpmpp_3m (splitting)\n"
    "  --grid G            time grid: exponential, uniform, logsnr or edm\n"
    "                      (exponential; logsnr or edm for few steps)\n"
    "  --steps N           grid points (200)\n"
    "  --t1 X, --T X       last and first time (the model's T_MIN, T_MAX)\n"
    "  --seed S            seed of the noise (0)\n"
    "  --threads K         threads; results do not depend on it (1)\n"
    "  --no-denoise        return y(t1) instead of f(y(t1), t1)\n"
    "  --prior P           law of y at T: matched (the Gaussian of the model's data\n"
    "                      statistics, the default) or standard (N(0, I))\n"
    "  --raw               use the raw weights instead of their moving average\n"
    "  --label K           sample class K of a labelled model (-1: unconditional,\n"
    "                      the default)\n"
    "  --guidance W        classifier-free guidance of a labelled sample (0):\n"
    "                      f = (1 + W) f(y, t | K) - W f(y, t); W > 0 keeps the\n"
    "                      points closer to class K at a cost in diversity\n"
    "  --exact DATA        segment, circle, helix, sphere, points, torus, knot or\n"
    "                      FILE.csv\n"
    "  --n-data M          points of a built-in DATA for the exact model (1000)\n"
    "  --label-col C       column C of FILE.csv holds each row's class: the exact\n"
    "                      model answers for each class (--label)\n"
    "  --dim D             embed a built-in DATA in R^D (its native dimension)\n"
    "  --data-seed S       seed of the dataset's embedding and draw (0)\n"
    "  --scale X           scale a built-in DATA by X (1)\n"
    "  --offset A,B,...    ... and move it by A,B,... (D numbers; 0): its points\n"
    "                      are OFFSET + X p (also --data-scale, --data-offset)\n"
    "  --quiet             do not report what was written\n"
    "\n"
    "When some rows diverge (NaN: a learned score or noise model can blow up\n"
    "near t1) the others are written, the count is reported and the exit\n"
    "status is 3.\n";

typedef struct {
    const char *model, *exact, *out;
    long long n, n_data, dim, data_seed;
    placement place;
    long long steps, seed, threads;
    double t1, T;
    int integrator, grid, no_denoise, raw, quiet, prior;
    long long label, label_col;
    double guidance;
} sample_args;

/* The exact (empirical) model of DATA, labelled by its column label_col
 * when that is >= 0. */
static int exact_model(const char *spec, int kind, long long n, long long dim, long long seed,
                       const placement *pl, long long label_col, cem_model_t **m)
{
    points p = {0};
    int rc = load_data(spec, kind, n, dim, seed, pl, label_col, &p, NULL);
    if (!rc && (p.labels ? cem_model_create_empirical_labelled(m, p.x, p.labels, p.n, p.dim)
                         : cem_model_create_empirical(m, p.x, p.n, p.dim)) != CEM_OK)
        rc = lib_error(cem_last_error());
    points_free(&p);
    return rc;
}

static int load_model(const char *path, cem_model_t **m)
{
    if (cem_model_load(m, path) != CEM_OK)
        return lib_error(cem_last_error());
    return 0;
}

/* Moves the finite rows of x to its front; returns their count. */
static size_t keep_finite_rows(float *x, size_t n, int dim)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * (size_t)dim;
        int ok = 1;
        for (int j = 0; j < dim; j++)
            ok &= isfinite(row[j]) != 0;
        if (ok)
            memmove(x + kept++ * (size_t)dim, row, (size_t)dim * sizeof *x);
    }
    return kept;
}

/* Runs the sampler and writes the file; diverged rows are left out. */
static int sample_to_file(cem_sampler_t *s, const sample_args *a, int dim)
{
    float *x = alloc_points((size_t)a->n, dim);
    if (!x)
        return EXIT_FAILURE;
    int rc = 0, st = cem_sampler_run(s, (size_t)a->n, x);
    size_t n = (size_t)a->n;
    if (st == CEM_ERR_DIVERGED)
        n = keep_finite_rows(x, n, dim);
    else if (st != CEM_OK)
        rc = lib_error(cem_sampler_errmsg(s));
    if (!rc && cem_csv_write(a->out, x, n, dim) != CEM_OK)
        rc = lib_error(cem_last_error());
    if (!rc && st == CEM_ERR_DIVERGED) {
        note("warning: %zu of %lld rows diverged (NaN) and were left out of %s",
             cem_sampler_diverged_rows(s), a->n, a->out);
        rc = EXIT_DIVERGED;
    } else if (!rc && !a->quiet) {
        double t1 = 0, steps = 0;
        cem_sampler_get(s, CEM_SAMPLER_T_MIN, &t1);
        cem_sampler_get(s, CEM_SAMPLER_STEPS, &steps);
        note("wrote %zu points in R^%d to %s (%s, %g grid points, t1 = %g)", n, dim, a->out,
             INTEGRATORS[a->integrator], steps, t1);
    }
    free(x);
    return rc;
}

/* The options of sample and impute: the sampler's, the model's (MODEL or
 * --exact DATA) and -o. */
#define SAMPLER_OPTIONS(a)                                                                      \
    TEXT("-o", "--output", &(a)->out),                                                           \
        LIB_CHOICE("--integrator", &(a)->integrator, INTEGRATORS, LIB_SAMPLER,                  \
                   CEM_SAMPLER_INTEGRATOR),                                                      \
        LIB_CHOICE("--grid", &(a)->grid, GRIDS, LIB_SAMPLER, CEM_SAMPLER_GRID),                 \
        LIB_CHOICE("--prior", &(a)->prior, PRIORS, LIB_SAMPLER, CEM_SAMPLER_PRIOR),             \
        LIB_INT("--steps", &(a)->steps, LIB_SAMPLER, CEM_SAMPLER_STEPS),                        \
        LIB_REAL("--t1", &(a)->t1, LIB_SAMPLER, CEM_SAMPLER_T_MIN),                             \
        LIB_REAL("--T", &(a)->T, LIB_SAMPLER, CEM_SAMPLER_T_MAX),                               \
        LIB_INT("--seed", &(a)->seed, LIB_SAMPLER, CEM_SAMPLER_SEED),                           \
        LIB_INT("--threads", &(a)->threads, LIB_SAMPLER, CEM_SAMPLER_THREADS),                  \
        FLAG("--no-denoise", &(a)->no_denoise), FLAG("--raw", &(a)->raw),                       \
        LIB_INT("--label", &(a)->label, LIB_SAMPLER, CEM_SAMPLER_LABEL),                        \
        LIB_REAL("--guidance", &(a)->guidance, LIB_SAMPLER, CEM_SAMPLER_GUIDANCE),              \
        TEXT("--exact", NULL, &(a)->exact), INT("--label-col", NULL, &(a)->label_col, 0, 1e6),  \
        INT("--n-data", NULL, &(a)->n_data, 1, 1e8), INT("--dim", NULL, &(a)->dim, 1, 4096),    \
        INT("--data-seed", NULL, &(a)->data_seed, 0, MAX_SEED), SCALE_OPTION(&(a)->place),      \
        OFFSET_OPTION(&(a)->place), FLAG("--quiet", &(a)->quiet)

/* The sampler of sample and impute: MODEL or --exact DATA checked and
 * opened, the sampler options applied.  *m and *s are the caller's to
 * free (NULL on failure). */
static int open_sampler(sample_args *a, const option *opts, cem_model_t **m, cem_sampler_t **s)
{
    static const char *const exact_only[] = {"--n-data", "--dim", "--data-seed", "--scale",
                                             "--offset", NULL};
    int kind = DATA_CSV, rc = 0;
    *m = NULL;
    *s = NULL;
    if (!a->model == !a->exact)
        return usage_error(a->model ? "give either MODEL or --exact DATA, not both"
                                    : "MODEL or --exact DATA is required");
    if (!a->out)
        return usage_error("-o FILE is required");
    if (a->exact) {
        if (a->raw)
            return usage_error("--raw applies to a trained model, not to --exact");
        if ((rc = resolve_data(a->exact, &kind)))
            return rc;
    }
    for (int i = 0; !a->exact && exact_only[i]; i++)
        if (given(opts, exact_only[i]))
            return usage_error("%s applies to --exact DATA only", exact_only[i]);
    if (a->label_col >= 0 && (!a->exact || kind != DATA_CSV))
        return usage_error("--label-col applies to --exact FILE.csv only");
    if ((rc = check_builtin_only(opts, kind, exact_only)))
        return rc;
    rc = a->exact ? exact_model(a->exact, kind, a->n_data, a->dim, a->data_seed, &a->place,
                                a->label_col, m)
                  : load_model(a->model, m);
    if (!rc && a->raw && cem_model_set(*m, CEM_MODEL_USE_EMA, 0) != CEM_OK)
        rc = lib_error(cem_last_error());
    if (!rc && cem_sampler_create(s, *m) != CEM_OK)
        rc = lib_error(cem_last_error());
    if (!rc)
        rc = apply_options(opts, LIB_SAMPLER, *s);
    if (!rc && a->no_denoise && cem_sampler_set(*s, CEM_SAMPLER_DENOISE, 0) != CEM_OK)
        rc = lib_error(cem_last_error());
    return rc;
}

static int cmd_sample(int argc, char **argv)
{
    sample_args a = {.n = 1000, .n_data = 1000, .label_col = -1};
    option opts[] = {
        INT("-n", "--n", &a.n, 1, 1e9),
        SAMPLER_OPTIONS(&a),
        END_OPTIONS,
    };
    int rc = parse_options(argc, argv, opts, &a.model, 1);
    if (rc)
        return rc == PARSE_HELP ? print_help(SAMPLE_HELP) : rc;
    cem_model_t *m;
    cem_sampler_t *s;
    rc = open_sampler(&a, opts, &m, &s);
    if (!rc)
        rc = sample_to_file(s, &a, cem_model_dim(m));
    cem_sampler_free(s);
    cem_model_free(m);
    return rc;
}

/* ----------------------------------------------------------------- impute */

static const char IMPUTE_HELP[] =
    "usage: cemdiff impute MODEL -i PARTIAL.csv [options] -o OUT.csv\n"
    "       cemdiff impute --exact DATA -i PARTIAL.csv [options] -o OUT.csv\n"
    "\n"
    "Completes partial points: every empty field of PARTIAL.csv (\"1.5,,2\") is a\n"
    "missing coordinate, drawn from the law of MODEL (or of the exact model of\n"
    "DATA) given the row's known coordinates (cem_sampler_impute).  OUT.csv has\n"
    "the same rows, the known coordinates as given.\n"
    "\n"
    "  -i, --input FILE    the partial points (required)\n"
    "  -o, --output FILE   the completed points (required)\n"
    "  --method M          repaint (replacement with resampling, the default) or\n"
    "                      reconstruct (plus reconstruction guidance)\n"
    "  --jumps J           RePaint's resamplings at each jump point (10; 0: the\n"
    "                      plain replacement method)\n"
    "  --jump-length R     ... each R grid steps back up (10)\n"
    "  --recon-weight W    the reconstruction guidance's weight (1)\n"
    "and the options of 'cemdiff sample' (the integrator, grid, steps, seed,\n"
    "threads, --label K and --guidance W for a labelled model, --exact DATA and\n"
    "its options).  Multistep integrators (dpmpp_*) need --jumps 0.\n"
    "\n"
    "When some rows diverge nothing is written and the exit status is 3.\n";

static const char *const IMPUTE_METHODS[] = {"repaint", "reconstruct", NULL};

static int cmd_impute(int argc, char **argv)
{
    sample_args a = {.n_data = 1000, .label_col = -1};
    const char *in = NULL;
    int method = 0;
    long long jumps = 0, jump_length = 0;
    double recon_weight = 0;
    option opts[] = {
        TEXT("-i", "--input", &in),
        LIB_CHOICE("--method", &method, IMPUTE_METHODS, LIB_SAMPLER, CEM_SAMPLER_IMPUTE),
        LIB_INT("--jumps", &jumps, LIB_SAMPLER, CEM_SAMPLER_JUMPS),
        LIB_INT("--jump-length", &jump_length, LIB_SAMPLER, CEM_SAMPLER_JUMP_LENGTH),
        LIB_REAL("--recon-weight", &recon_weight, LIB_SAMPLER, CEM_SAMPLER_RECON_WEIGHT),
        SAMPLER_OPTIONS(&a),
        END_OPTIONS,
    };
    int rc = parse_options(argc, argv, opts, &a.model, 1);
    if (rc)
        return rc == PARSE_HELP ? print_help(IMPUTE_HELP) : rc;
    if (!in)
        return usage_error("-i PARTIAL.csv is required");
    points p = {0};
    p.from_csv = 1;
    if (cem_csv_read_missing(in, &p.x, &p.n, &p.dim) != CEM_OK)
        return lib_error(cem_last_error());
    cem_model_t *m;
    cem_sampler_t *s;
    float *out = NULL;
    rc = open_sampler(&a, opts, &m, &s);
    if (!rc && cem_model_dim(m) != p.dim)
        rc = usage_error("%s has %d columns, the model's points %d", in, p.dim,
                         cem_model_dim(m));
    if (!rc && !(out = alloc_points(p.n, p.dim)))
        rc = EXIT_FAILURE;
    if (!rc) {
        int st = cem_sampler_impute(s, 0, p.n, p.x, NULL, NULL, out);
        if (st == CEM_ERR_DIVERGED)
            rc = EXIT_DIVERGED, note("%zu of %zu rows diverged (NaN); nothing written",
                                     cem_sampler_diverged_rows(s), p.n);
        else if (st != CEM_OK)
            rc = lib_error(cem_sampler_errmsg(s));
    }
    if (!rc && cem_csv_write(a.out, out, p.n, p.dim) != CEM_OK)
        rc = lib_error(cem_last_error());
    if (!rc && !a.quiet) {
        size_t missing = 0;
        for (size_t k = 0; k < p.n * (size_t)p.dim; k++)
            missing += isnan(p.x[k]) != 0;
        note("completed %zu missing coordinates in %zu rows of %s; wrote %s (%s)", missing, p.n,
             in, a.out, IMPUTE_METHODS[method]);
    }
    free(out);
    points_free(&p);
    cem_sampler_free(s);
    cem_model_free(m);
    return rc;
}

/* ------------------------------------------------------------------- eval */

static const char EVAL_HELP[] =
    "usage: cemdiff eval SAMPLES.csv --data DATA [options]\n"
    "       cemdiff eval SAMPLES.csv --ref REF.csv [options]\n"
    "\n"
    "Measures a sample set.  With --data (a built-in dataset): the distance of\n"
    "the samples to its manifold (mean, p95, max), the Kolmogorov-Smirnov\n"
    "statistic of their intrinsic coordinate, and the two-sample metrics\n"
    "against a fresh sample of the dataset of the same size.  With --ref: the\n"
    "two-sample metrics against REF.csv (with both, against REF.csv).\n"
    "\n"
    "  --data DATA         segment, circle, helix, sphere, points, torus or knot\n"
    "  --dim D             the samples' dimension (checked; default: the file's)\n"
    "  --data-seed S       seed of the dataset's embedding in R^D (0)\n"
    "  --scale X           DATA scaled by X (1)\n"
    "  --offset A,B,...    ... and moved by A,B,... (D numbers; 0): its points\n"
    "                      are OFFSET + X p (also --data-scale, --data-offset)\n"
    "  --ref-seed S        seed of the fresh reference sample (1)\n"
    "  --ref FILE          a reference sample instead\n"
    "  --directions L      directions of the sliced W2 distance (256)\n"
    "  --seed S            seed of those directions (0)\n"
    "  --bandwidth H       Gaussian kernel bandwidth of the MMD (0.1)\n"
    "  --max-points K      energy and MMD, O(n^2), use the first K rows of each\n"
    "                      set (5000)\n"
    "  --json              print one JSON object instead of the table\n"
    "\n"
    "The MMD bandwidth is fixed, not the median heuristic: the datasets have\n"
    "unit scale, 0.1 resolves samples that sit off the manifold or bunch along\n"
    "it, and a fixed scale keeps numbers comparable between runs.\n";

typedef struct {
    const char *samples, *data, *ref;
    long long dim, data_seed, ref_seed, directions, seed, max_points;
    placement place;
    double bandwidth;
    int json;
} eval_args;

typedef struct {
    size_t n, n_ref, n_pair_a, n_pair_b;
    int dim, manifold, pair;
    double dist_mean, dist_p95, dist_max, ks, sw2, energy, mmd;
} eval_result;

static int metrics_on_manifold(const cem_dataset_t *d, const points *s, eval_result *r)
{
    if (cem_metric_distance(d, s->n, s->x, &r->dist_mean, &r->dist_p95, &r->dist_max) != CEM_OK ||
        cem_metric_ks(d, s->n, s->x, &r->ks) != CEM_OK)
        return lib_error(cem_last_error());
    r->manifold = 1;
    return 0;
}

static int metrics_two_sample(const eval_args *a, const points *s, const points *ref,
                              eval_result *r)
{
    size_t k = (size_t)a->max_points;
    r->n_ref = ref->n;
    r->n_pair_a = s->n < k ? s->n : k;
    r->n_pair_b = ref->n < k ? ref->n : k;
    if (cem_metric_sliced_w2(s->n, s->x, ref->n, ref->x, s->dim, (int)a->directions,
                             (uint64_t)a->seed, &r->sw2) != CEM_OK ||
        cem_metric_energy(r->n_pair_a, s->x, r->n_pair_b, ref->x, s->dim, &r->energy) != CEM_OK ||
        cem_metric_mmd(r->n_pair_a, s->x, r->n_pair_b, ref->x, s->dim, a->bandwidth, &r->mmd) !=
            CEM_OK)
        return lib_error(cem_last_error());
    r->pair = 1;
    return 0;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void json_number(const char *key, double v)
{
    printf(",\"%s\":", key);
    if (isfinite(v))
        printf("%.9g", v);
    else
        printf("null");
}

static void print_eval_json(const eval_args *a, const eval_result *r)
{
    printf("{\"samples\":");
    json_string(a->samples);
    printf(",\"n\":%zu,\"dim\":%d", r->n, r->dim);
    if (r->manifold) {
        printf(",\"data\":");
        json_string(a->data);
        json_number("distance_mean", r->dist_mean);
        json_number("distance_p95", r->dist_p95);
        json_number("distance_max", r->dist_max);
        json_number("ks", r->ks);
    }
    if (r->pair) {
        printf(",\"reference\":");
        if (a->ref)
            json_string(a->ref);
        else
            printf("\"%s, --ref-seed %lld\"", a->data, a->ref_seed);
        printf(",\"n_ref\":%zu", r->n_ref);
        json_number("sliced_w2", r->sw2);
        printf(",\"directions\":%lld", a->directions);
        json_number("energy", r->energy);
        json_number("mmd2", r->mmd);
        json_number("bandwidth", a->bandwidth);
        printf(",\"pair_points\":[%zu,%zu]", r->n_pair_a, r->n_pair_b);
    }
    printf("}\n");
}

static void print_eval_table(const eval_args *a, const eval_result *r)
{
    printf("%-16s %s: %zu points in R^%d\n", "samples", a->samples, r->n, r->dim);
    if (r->manifold) {
        printf("%-16s %s\n", "manifold", a->data);
        printf("%-16s %.6g\n", "distance mean", r->dist_mean);
        printf("%-16s %.6g\n", "distance p95", r->dist_p95);
        printf("%-16s %.6g\n", "distance max", r->dist_max);
        printf("%-16s %.6g\n", "ks coordinate", r->ks);
    }
    if (r->pair) {
        if (a->ref)
            printf("%-16s %s: %zu points\n", "reference", a->ref, r->n_ref);
        else
            printf("%-16s %zu fresh points of %s (--ref-seed %lld)\n", "reference", r->n_ref,
                   a->data, a->ref_seed);
        printf("%-16s %.6g   (%lld directions, seed %lld)\n", "sliced w2", r->sw2,
               a->directions, a->seed);
        printf("%-16s %.6g\n", "energy", r->energy);
        printf("%-16s %.6g   (Gaussian kernel, bandwidth %g)\n", "mmd2", r->mmd, a->bandwidth);
        if (r->n_pair_a < r->n || r->n_pair_b < r->n_ref)
            printf("note: energy and mmd2 use the first %zu of %zu sample points and the first "
                   "%zu of %zu reference points (--max-points %lld)\n",
                   r->n_pair_a, r->n, r->n_pair_b, r->n_ref, a->max_points);
    }
}

static int cmd_eval(int argc, char **argv)
{
    eval_args a = {.ref_seed = 1, .directions = 256, .max_points = 5000, .bandwidth = 0.1};
    option opts[] = {
        TEXT("--data", NULL, &a.data),
        INT("--dim", NULL, &a.dim, 1, 4096),
        INT("--data-seed", NULL, &a.data_seed, 0, MAX_SEED),
        SCALE_OPTION(&a.place),
        OFFSET_OPTION(&a.place),
        INT("--ref-seed", NULL, &a.ref_seed, 0, MAX_SEED),
        TEXT("--ref", NULL, &a.ref),
        INT("--directions", NULL, &a.directions, 1, 1e6),
        INT("--seed", NULL, &a.seed, 0, MAX_SEED),
        REAL("--bandwidth", &a.bandwidth, 1e-300, 1e300),
        INT("--max-points", NULL, &a.max_points, 1, 1e9),
        FLAG("--json", &a.json),
        END_OPTIONS,
    };
    int kind = DATA_CSV, rc = parse_options(argc, argv, opts, &a.samples, 1);
    if (rc)
        return rc == PARSE_HELP ? print_help(EVAL_HELP) : rc;
    if (!a.samples)
        return usage_error("SAMPLES.csv is required");
    if (!a.data && !a.ref)
        return usage_error("--data DATA or --ref REF.csv is required");
    if (a.data && (rc = resolve_data(a.data, &kind)))
        return rc;
    if (a.data && kind == DATA_CSV)
        return usage_error("--data takes a built-in dataset; use --ref %s for a sample", a.data);
    if (!a.data && (given(opts, "--scale") || given(opts, "--offset")))
        return usage_error("%s applies to --data DATA", given(opts, "--scale") ? "--scale"
                                                                               : "--offset");

    points s = {0}, ref = {0};
    cem_dataset_t *d = NULL;
    eval_result r = {0};
    if ((rc = read_points(a.samples, &s)))
        goto done;
    r.n = s.n;
    r.dim = s.dim;
    if (a.dim && a.dim != s.dim) {
        rc = usage_error("--dim %lld, but %s has %d columns", a.dim, a.samples, s.dim);
        goto done;
    }
    if (a.data) {
        if (s.dim < DATASETS[kind].native) {
            fprintf(stderr, "cemdiff eval: %s has %d columns, %s needs at least %d\n", a.samples,
                    s.dim, a.data, DATASETS[kind].native);
            rc = EXIT_FAILURE;
            goto done;
        }
        if ((rc = open_dataset(kind, s.dim, a.data_seed, &a.place, &d)) ||
            (rc = metrics_on_manifold(d, &s, &r)))
            goto done;
    }
    if (a.ref)
        rc = read_points(a.ref, &ref);
    else
        rc = draw_points(d, s.n, a.ref_seed, &ref);
    if (!rc && ref.dim != s.dim) {
        fprintf(stderr, "cemdiff eval: %s has %d columns but %s has %d\n", a.samples, s.dim,
                a.ref, ref.dim);
        rc = EXIT_FAILURE;
    }
    if (!rc)
        rc = metrics_two_sample(&a, &s, &ref, &r);
    if (!rc) {
        if (a.json)
            print_eval_json(&a, &r);
        else
            print_eval_table(&a, &r);
    }
done:
    points_free(&s);
    points_free(&ref);
    cem_dataset_free(d);
    return rc;
}

/* ---------------------------------------------------------------- profile */

static const char PROFILE_HELP[] =
    "usage: cemdiff profile [MODEL] --data DATA [options]\n"
    "\n"
    "The singularity profile: the norms of f, eps and S at probe points off\n"
    "the data, for t from --tmax down to --tmin, and the log-log slopes; as\n"
    "t -> 0 the theory gives 0, -1/2 and -1 for the exact model.  Without\n"
    "MODEL, the exact model of --n-data points of DATA is profiled.\n"
    "\n"
    "  --data DATA         segment, circle, helix, sphere, points, torus, knot or\n"
    "                      FILE.csv\n"
    "  --n-data M          points of a built-in DATA for the exact model (1000)\n"
    "  --dim D             embed a built-in DATA in R^D (the model's, or native)\n"
    "  --data-seed S       seed of the dataset's embedding and draw (0)\n"
    "  --scale X           scale a built-in DATA by X (1)\n"
    "  --data-offset A,B,... ... and move it by A,B,... (D numbers; 0): its\n"
    "                      points are OFFSET + X p (also --data-scale)\n"
    "  --n-probes P        probe points (200): points of DATA moved --offset\n"
    "                      along random unit directions\n"
    "  --offset d          (0.1)\n"
    "  --seed S            seed of the probes (1)\n"
    "  --tmin X, --tmax X  the time range (0.0001, 1), log-spaced\n"
    "  --nt N              number of times (9)\n"
    "  --fit-tmax X        the asymptotic slopes fit the times t <= X\n"
    "                      (default offset^2: the theory holds for t << d^2)\n";

typedef struct {
    const char *model, *data;
    long long n_data, dim, data_seed, n_probes, seed, nt;
    double offset, tmin, tmax, fit_tmax;
    placement place;
} profile_args;

/* A small generator for the probes' directions (splitmix64): the library
 * keeps its random streams to itself. */
static double rng_uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1p-53; /* in (0, 1) */
}

static double rng_normal(uint64_t *state)
{
    double u = rng_uniform(state), v = rng_uniform(state);
    return sqrt(-2 * log(u)) * cos(2 * 3.14159265358979323846 * v);
}

/* np probe points: points of the data moved by `offset` along random unit
 * directions.  Built-in data: fresh points of the dataset; a file: random
 * rows of it. */
static int make_probes(const profile_args *a, const cem_dataset_t *d, const points *data,
                       points *probes)
{
    uint64_t state = (uint64_t)a->seed;
    size_t np = (size_t)a->n_probes;
    int dim = d ? cem_dataset_dim(d) : data->dim;
    int rc = 0;
    if (d) {
        if ((rc = draw_points(d, np, a->seed, probes)))
            return rc;
    } else {
        if (!(probes->x = alloc_points(np, dim)))
            return EXIT_FAILURE;
        probes->n = np;
        probes->dim = dim;
        probes->from_csv = 0;
        for (size_t i = 0; i < np; i++) {
            size_t row = (size_t)(rng_uniform(&state) * (double)data->n) % data->n;
            memcpy(probes->x + i * (size_t)dim, data->x + row * (size_t)dim,
                   (size_t)dim * sizeof(float));
        }
    }
    double *dir = malloc((size_t)dim * sizeof *dir);
    if (!dir) {
        points_free(probes);
        return lib_error("out of memory");
    }
    for (size_t i = 0; i < np; i++) {
        double norm = 0;
        for (int j = 0; j < dim; j++) {
            dir[j] = rng_normal(&state);
            norm += dir[j] * dir[j];
        }
        norm = sqrt(norm);
        for (int j = 0; j < dim; j++)
            probes->x[i * (size_t)dim + j] += (float)(a->offset * dir[j] / norm);
    }
    free(dir);
    return 0;
}

static void print_profile_table(int nt, const double *t, const double *max, const double *mean)
{
    printf("%10s %12s %12s %12s %12s %12s %12s\n", "t", "max |f|", "mean |f|", "max |eps|",
           "mean |eps|", "max |S|", "mean |S|");
    for (int k = 0; k < nt; k++) {
        printf("%10.3g", t[k]);
        for (int w = CEM_TARGET_CEM; w <= CEM_TARGET_SCORE; w++)
            printf(" %12.5g %12.5g", max[w * nt + k], mean[w * nt + k]);
        printf("\n");
    }
}

/* The profile over all times, and the slopes over the small ones. */
static int profile_run(const profile_args *a, cem_model_t *m, const points *probes)
{
    int nt = (int)a->nt, rc = 0;
    double *t = malloc((size_t)nt * sizeof *t), *max = malloc(3 * (size_t)nt * sizeof *max),
           *mean = malloc(3 * (size_t)nt * sizeof *mean);
    double slope_all[3], slope_fit[3];
    if (!t || !max || !mean) {
        rc = lib_error("out of memory");
        goto done;
    }
    for (int k = 0; k < nt; k++) /* increasing, exact at both ends */
        t[k] = k == 0 ? a->tmin : k == nt - 1 ? a->tmax
             : exp(log(a->tmin) + (log(a->tmax) - log(a->tmin)) * k / (nt - 1));
    if (cem_singularity_profile(m, probes->n, probes->x, nt, t, max, mean, slope_all) != CEM_OK) {
        rc = lib_error(cem_last_error());
        goto done;
    }
    double fit_tmax = a->fit_tmax > 0 ? a->fit_tmax : a->offset * a->offset;
    int nfit = 0;
    while (nfit < nt && t[nfit] <= fit_tmax * (1 + 1e-12))
        nfit++;
    if (nfit >= 2 && nfit < nt &&
        cem_singularity_profile(m, probes->n, probes->x, nfit, t, NULL, NULL, slope_fit) !=
            CEM_OK) {
        rc = lib_error(cem_last_error());
        goto done;
    }
    print_profile_table(nt, t, max, mean);
    printf("\nslope of log mean norm against log t:  %8s %8s %8s\n", "f", "eps", "S");
    if (nfit >= 2 && nfit < nt)
        printf("  t <= %-8.3g (%2d times)            %8.3f %8.3f %8.3f\n", t[nfit - 1], nfit,
               slope_fit[0], slope_fit[1], slope_fit[2]);
    printf("  all %2d times                        %8.3f %8.3f %8.3f\n", nt, slope_all[0],
           slope_all[1], slope_all[2]);
    printf("  theory as t -> 0                    %8.3f %8.3f %8.3f\n", 0.0, -0.5, -1.0);
    if (nfit < 2)
        printf("note: fewer than 2 times <= %g (--fit-tmax): no asymptotic fit\n", fit_tmax);
done:
    free(t);
    free(max);
    free(mean);
    return rc;
}

/* Where the probes are: their measured distance to a built-in manifold. */
static int describe_probes(const profile_args *a, const cem_dataset_t *d, const points *probes)
{
    printf("probes: %zu points of %s moved %g along random directions", probes->n, a->data,
           a->offset);
    if (d) {
        double mean;
        if (cem_metric_distance(d, probes->n, probes->x, &mean, NULL, NULL) != CEM_OK)
            return lib_error(cem_last_error());
        printf("; mean distance to the manifold %.4g", mean);
    }
    printf("\n");
    return 0;
}

/* A trained MODEL: the data (a built-in set in the model's space, or a
 * file of the model's dimension) only provides the probes. */
static int profile_trained(const profile_args *a, int kind, cem_model_t **m, cem_dataset_t **d,
                           points *data)
{
    int rc = load_model(a->model, m);
    if (rc)
        return rc;
    int dim = cem_model_dim(*m);
    if (a->dim && a->dim != dim)
        return usage_error("--dim %lld, but the model is in R^%d", a->dim, dim);
    int data_dim = kind == DATA_CSV ? 0 : DATASETS[kind].native;
    if (kind == DATA_CSV && (rc = read_points(a->data, data)))
        return rc;
    if (kind == DATA_CSV ? data->dim != dim : data_dim > dim) {
        fprintf(stderr, "cemdiff profile: the model is in R^%d, %s in R^%d\n", dim, a->data,
                kind == DATA_CSV ? data->dim : data_dim);
        return EXIT_FAILURE;
    }
    if (kind != DATA_CSV && (rc = open_dataset(kind, dim, a->data_seed, &a->place, d)))
        return rc;
    double t_min = 0;
    cem_model_get(*m, CEM_MODEL_T_MIN, &t_min);
    printf("model: %s, a %s network in R^%d\n", a->model,
           name_of(TARGETS, cem_model_target_of(*m)), dim);
    if (a->tmin < t_min)
        printf("note: times below the model's T_MIN = %g are outside its training window\n",
               t_min);
    return 0;
}

/* No MODEL: the exact model of the data. */
static int profile_exact(const profile_args *a, int kind, cem_model_t **m, cem_dataset_t **d,
                         points *data)
{
    int rc = load_data(a->data, kind, a->n_data, a->dim, a->data_seed, &a->place, -1, data, d);
    if (rc)
        return rc;
    if (cem_model_create_empirical(m, data->x, data->n, data->dim) != CEM_OK)
        return lib_error(cem_last_error());
    printf("model: the exact model of %zu points of %s in R^%d\n", data->n, a->data, data->dim);
    return 0;
}

static int cmd_profile(int argc, char **argv)
{
    profile_args a = {.n_data = 1000, .n_probes = 200, .seed = 1, .nt = 9, .offset = 0.1,
                      .tmin = 1e-4, .tmax = 1, .place = {.offset_name = PROFILE_OFFSET}};
    option opts[] = {
        TEXT("--data", NULL, &a.data),
        INT("--n-data", NULL, &a.n_data, 1, 1e8),
        INT("--dim", NULL, &a.dim, 1, 4096),
        INT("--data-seed", NULL, &a.data_seed, 0, MAX_SEED),
        SCALE_OPTION(&a.place),
        TEXT(PROFILE_OFFSET, NULL, &a.place.offset),
        INT("--n-probes", NULL, &a.n_probes, 1, 1e7),
        REAL("--offset", &a.offset, 0, 1e3),
        INT("--seed", NULL, &a.seed, 0, MAX_SEED),
        REAL("--tmin", &a.tmin, 1e-12, 1e3),
        REAL("--tmax", &a.tmax, 1e-12, 1e3),
        INT("--nt", NULL, &a.nt, 2, 10000),
        REAL("--fit-tmax", &a.fit_tmax, 1e-12, 1e3),
        END_OPTIONS,
    };
    static const char *const builtin_only[] = {"--n-data", "--dim", "--data-seed", "--scale",
                                               PROFILE_OFFSET, NULL};
    int kind, rc = parse_options(argc, argv, opts, &a.model, 1);
    if (rc)
        return rc == PARSE_HELP ? print_help(PROFILE_HELP) : rc;
    if (!a.data)
        return usage_error("--data is required");
    if (!(a.tmin < a.tmax))
        return usage_error("--tmin %g must be below --tmax %g", a.tmin, a.tmax);
    if ((rc = resolve_data(a.data, &kind)) || (rc = check_builtin_only(opts, kind, builtin_only)))
        return rc;
    if (a.model && given(opts, "--n-data"))
        return usage_error("--n-data applies to the exact model (no MODEL)");

    cem_model_t *m = NULL;
    cem_dataset_t *d = NULL;
    points data = {0}, probes = {0};
    rc = a.model ? profile_trained(&a, kind, &m, &d, &data) : profile_exact(&a, kind, &m, &d, &data);
    if (!rc)
        rc = make_probes(&a, d, &data, &probes);
    if (!rc)
        rc = describe_probes(&a, d, &probes);
    if (!rc)
        rc = profile_run(&a, m, &probes);
    points_free(&probes);
    points_free(&data);
    cem_dataset_free(d);
    cem_model_free(m);
    return rc;
}

/* ------------------------------------------------------------------- info */

static const char INFO_HELP[] =
    "usage: cemdiff info MODEL\n"
    "\n"
    "Describes a model or trainer checkpoint: kind, target, dimension,\n"
    "architecture, parameterisation, data statistics, parameter count, time\n"
    "window, EMA use and file size.\n";

static int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    option opts[] = {END_OPTIONS};
    int rc = parse_options(argc, argv, opts, &path, 1);
    if (rc)
        return rc == PARSE_HELP ? print_help(INFO_HELP) : rc;
    if (!path)
        return usage_error("MODEL is required");
    cem_model_t *m = NULL;
    if ((rc = load_model(path, &m)))
        return rc;
    static const char *const KINDS[] = {"?", "mlp", "empirical", "gaussian", "mixture", NULL};
    double v[CEM_MODEL_LABEL_EMBED + 1] = {0};
    for (int o = CEM_MODEL_T_MIN; o <= CEM_MODEL_LABEL_EMBED; o++)
        cem_model_get(m, (cem_model_option)o, &v[o]);
    struct stat st;
    printf("%-12s %s\n", "file", path);
    if (stat(path, &st) == 0)
        printf("%-12s %lld bytes\n", "size", (long long)st.st_size);
    printf("%-12s %s\n", "kind", name_of(KINDS, cem_model_kind_of(m)));
    printf("%-12s %s\n", "target", name_of(TARGETS, cem_model_target_of(m)));
    printf("%-12s %d\n", "dim", cem_model_dim(m));
    if (cem_model_kind_of(m) == CEM_KIND_MLP) {
        printf("%-12s %g\n", "width", v[CEM_MODEL_WIDTH]);
        printf("%-12s %g\n", "depth", v[CEM_MODEL_DEPTH]);
        printf("%-12s %s\n", "activation", name_of(ACTIVATIONS, (int)v[CEM_MODEL_ACTIVATION]));
        printf("%-12s %g\n", "embed", v[CEM_MODEL_EMBED]);
        printf("%-12s %.17g\n", "init seed", v[CEM_MODEL_SEED]);
        if (v[CEM_MODEL_LABELS] > 0)
            printf("%-12s %g (label embedding %g)\n", "classes", v[CEM_MODEL_LABELS],
                   v[CEM_MODEL_LABEL_EMBED]);
        if (cem_model_target_of(m) == CEM_TARGET_CEM)
            printf("%-12s %s\n", "param", name_of(PARAMS, (int)v[CEM_MODEL_PARAM]));
        int dim = cem_model_dim(m);
        double sd = 0, *mu = malloc(sizeof(double) * (size_t)dim);
        if (mu && cem_model_get_data_stats(m, mu, &sd) == CEM_OK && sd > 0) {
            printf("%-12s %.9g\n", "data sd", sd);
            printf("%-12s", "data mean");
            for (int j = 0; j < dim && j < 8; j++)
                printf(" %.9g", mu[j]);
            printf("%s\n", dim > 8 ? " ..." : "");
            double *asd = malloc(sizeof(double) * (size_t)dim);
            if (v[CEM_MODEL_PARAM] == CEM_PARAM_PRECOND_PCA && asd &&
                cem_model_get_data_axes(m, NULL, asd) == CEM_OK) {
                printf("%-12s", "axis sds");
                for (int j = 0; j < dim && j < 8; j++)
                    printf(" %.6g", asd[j]);
                printf("%s\n", dim > 8 ? " ..." : "");
            }
            free(asd);
        } else {
            printf("%-12s none\n", "data stats");
        }
        free(mu);
    }
    printf("%-12s %zu\n", "parameters", cem_model_param_count(m));
    printf("%-12s %g\n", "T_MIN", v[CEM_MODEL_T_MIN]);
    printf("%-12s %g\n", "T_MAX", v[CEM_MODEL_T_MAX]);
    printf("%-12s %g\n", "USE_EMA", v[CEM_MODEL_USE_EMA]);
    cem_model_free(m);
    return 0;
}

/* --------------------------------------------------- logprob, encode, decode */

static const char LOGPROB_HELP[] =
    "usage: cemdiff logprob MODEL -i POINTS.csv -o LOGP.csv [options]\n"
    "       cemdiff encode MODEL -i POINTS.csv -o LATENTS.csv [options]\n"
    "       cemdiff decode MODEL -i LATENTS.csv -o POINTS.csv [options]\n"
    "\n"
    "The probability-flow ODE of MODEL (a model or trainer checkpoint), from t1\n"
    "to T: logprob writes log p_t1 of each point (nats, one per row; with\n"
    "--evals also the model evaluations the row took), encode the latent of\n"
    "each point (N(0, I) when the model is exact), decode the point at t1 of\n"
    "each latent.  The divergence is exact up to --exact-dim dimensions, else\n"
    "Hutchinson's estimate (docs/SAMPLING.md, \"Likelihood\").\n"
    "\n"
    "  -i, --input FILE    the points (logprob, encode) or latents (decode)\n"
    "  -o, --output FILE   where to write the results (required)\n"
    "  --t1 X, --T X       the points' time and the end of the flow (the\n"
    "                      model's T_MIN, T_MAX)\n"
    "  --rtol X, --atol X  the step control's tolerances (1e-5)\n"
    "  --exact-dim D       exact divergence up to this dimension (64)\n"
    "  --probes P          Hutchinson's probes per row beyond it (4)\n"
    "  --seed S            seed of the probes (0)\n"
    "  --threads K         threads; results do not depend on it (1)\n"
    "  --max-steps N       steps a row may take (10000)\n"
    "  --raw               use the raw weights instead of their moving average\n"
    "  --evals             logprob: a second column, the evaluations of each row\n"
    "  --quiet             no progress and no summary\n"
    "\n"
    "A row that fails (its path leaves float range, or needs more steps) is\n"
    "written as NaN, the others are valid, the count is reported and the exit\n"
    "status is 3.  Ctrl-C stops after the rows in flight and exits with 130.\n";

typedef struct {
    const char *model, *in, *out;
    double t1, T, rtol, atol;
    long long exact_dim, probes, seed, threads, max_steps;
    int raw, evals, quiet;
} flow_args;

/* Progress of a long run on stderr: rows done, at most every 0.2 s. */
typedef struct {
    int quiet, tty;
    double t0, last;
} flow_progress;

static int on_flow_rows(size_t done, size_t total, void *user)
{
    flow_progress *p = user;
    double now = now_seconds();
    if (!p->quiet && (done == total || now - p->last >= 0.2) && now - p->t0 >= 0.5) {
        fprintf(stderr, p->tty ? "\r%zu/%zu rows (%.0f%%)\033[K" : "%zu/%zu rows (%.0f%%)\n",
                done, total, 100.0 * (double)done / (double)total);
        if (p->tty && done == total)
            fputc('\n', stderr);
        fflush(stderr);
        p->last = now;
    }
    return g_interrupted != 0;
}

/* what: 0 logprob, 1 encode, 2 decode */
static int cmd_flow(int argc, char **argv, int what)
{
    flow_args a = {0};
    option opts[] = {
        TEXT("-i", "--input", &a.in),
        TEXT("-o", "--output", &a.out),
        LIB_REAL("--t1", &a.t1, LIB_FLOW, CEM_FLOW_T_MIN),
        LIB_REAL("--T", &a.T, LIB_FLOW, CEM_FLOW_T_MAX),
        LIB_REAL("--rtol", &a.rtol, LIB_FLOW, CEM_FLOW_RTOL),
        LIB_REAL("--atol", &a.atol, LIB_FLOW, CEM_FLOW_ATOL),
        LIB_INT("--exact-dim", &a.exact_dim, LIB_FLOW, CEM_FLOW_EXACT_DIM),
        LIB_INT("--probes", &a.probes, LIB_FLOW, CEM_FLOW_PROBES),
        LIB_INT("--seed", &a.seed, LIB_FLOW, CEM_FLOW_SEED),
        LIB_INT("--threads", &a.threads, LIB_FLOW, CEM_FLOW_THREADS),
        LIB_INT("--max-steps", &a.max_steps, LIB_FLOW, CEM_FLOW_MAX_STEPS),
        FLAG("--raw", &a.raw),
        FLAG("--evals", &a.evals),
        FLAG("--quiet", &a.quiet),
        END_OPTIONS,
    };
    int rc = parse_options(argc, argv, opts, &a.model, 1);
    if (rc)
        return rc == PARSE_HELP ? print_help(LOGPROB_HELP) : rc;
    if (!a.model)
        return usage_error("MODEL is required");
    if (!a.in || !a.out)
        return usage_error("-i FILE and -o FILE are required");
    if (a.evals && what != 0)
        return usage_error("--evals applies to logprob only");
    cem_model_t *m = NULL;
    cem_flow_t *f = NULL;
    points p = {0};
    float *res = NULL;
    double *lp = NULL;
    size_t *ev = NULL;
    if ((rc = load_model(a.model, &m)))
        return rc;
    if (!rc && a.raw && cem_model_set(m, CEM_MODEL_USE_EMA, 0) != CEM_OK)
        rc = lib_error(cem_last_error());
    if (!rc && cem_flow_create(&f, m) != CEM_OK)
        rc = lib_error(cem_last_error());
    if (!rc && cem_flow_set(f, CEM_FLOW_THREADS, 1) != CEM_OK) /* the tool's default */
        rc = lib_error(cem_last_error());
    if (!rc)
        rc = apply_options(opts, LIB_FLOW, f);
    if (!rc)
        rc = read_points(a.in, &p);
    if (!rc && p.dim != cem_model_dim(m))
        rc = usage_error("%s has %d columns, the model's points %d", a.in, p.dim, cem_model_dim(m));
    const int cols = what == 0 ? 1 + a.evals : p.dim;
    if (!rc && !(res = alloc_points(p.n, cols)))
        rc = EXIT_FAILURE;
    if (!rc && what == 0 && (!(lp = malloc(sizeof(double) * p.n)) || !(ev = malloc(sizeof(size_t) * p.n))))
        rc = lib_error("out of memory");
    flow_progress pr = {.quiet = a.quiet, .tty = isatty(STDERR_FILENO), .t0 = now_seconds()};
    int st = CEM_OK;
    if (!rc) {
        signal(SIGINT, on_sigint);
        cem_flow_set_progress(f, on_flow_rows, &pr);
        st = what == 0 ? cem_flow_logprob(f, p.n, p.x, lp, ev)
             : what == 1 ? cem_flow_encode(f, p.n, p.x, res)
                         : cem_flow_decode(f, p.n, p.x, res);
        signal(SIGINT, SIG_DFL);
        if (st == CEM_ERR_STOPPED) {
            note("interrupted: nothing written");
            rc = EXIT_INTERRUPTED;
        } else if (st != CEM_OK && st != CEM_ERR_NUMERIC) {
            rc = lib_error(cem_flow_errmsg(f));
        }
    }
    size_t bad = 0;
    for (size_t i = 0; !rc && i < p.n; i++) {
        if (what == 0) {
            res[i * (size_t)cols] = (float)lp[i];
            if (a.evals)
                res[i * (size_t)cols + 1] = (float)ev[i];
        }
        bad += isnan(res[i * (size_t)cols]) != 0;
    }
    /* a failed row is NaN, which a CSV of finite numbers cannot hold: it
     * is written as the literal nan by hand, the rest by the library */
    if (!rc && bad) {
        FILE *o = fopen(a.out, "w");
        for (size_t i = 0; o && i < p.n; i++)
            for (int j = 0; j < cols; j++)
                fprintf(o, j + 1 < cols ? "%.9g," : "%.9g\n", (double)res[i * (size_t)cols + (size_t)j]);
        if (!o || fclose(o) != 0)
            rc = lib_error("cannot write the output");
    } else if (!rc && cem_csv_write(a.out, res, p.n, cols) != CEM_OK) {
        rc = lib_error(cem_last_error());
    }
    if (!rc && bad) {
        note("warning: %zu of %zu rows failed (%s) and were written as nan", bad, p.n,
             cem_flow_errmsg(f));
        rc = EXIT_DIVERGED;
    } else if (!rc && !a.quiet) {
        static const char *const verbs[3] = {"log-densities", "latents", "points"};
        note("wrote the %s of %zu rows to %s", verbs[what], p.n, a.out);
    }
    free(res);
    free(lp);
    free(ev);
    points_free(&p);
    cem_flow_free(f);
    cem_model_free(m);
    return rc;
}

static int cmd_logprob(int argc, char **argv) { return cmd_flow(argc, argv, 0); }
static int cmd_encode(int argc, char **argv) { return cmd_flow(argc, argv, 1); }
static int cmd_decode(int argc, char **argv) { return cmd_flow(argc, argv, 2); }

/* ------------------------------------------------------------------- main */

static const char MAIN_HELP[] =
    "usage: cemdiff COMMAND [options]\n"
    "\n"
    "Diffusion models on low-dimensional data (libcemdiff).\n"
    "\n"
    "commands\n"
    "  train     train a network on a dataset or a CSV file\n"
    "  sample    generate points from a model, or from the exact model of data\n"
    "  impute    fill in the missing coordinates of partial points\n"
    "  eval      measure a sample set against a dataset or a reference sample\n"
    "  profile   the singularity of f, eps and S as t -> 0\n"
    "  logprob   log-densities of points under a model (probability-flow ODE)\n"
    "  encode    latents of points, through the same ODE\n"
    "  decode    points of latents\n"
    "  info      describe a model file\n"
    "  help      help on a command (also: cemdiff COMMAND --help)\n"
    "\n"
    "  cemdiff --version\n"
    "\n"
    "example\n"
    "  cemdiff train --data circle --steps 4000 -o circle.cem\n"
    "  cemdiff sample circle.cem -n 10000 -o samples.csv\n"
    "  cemdiff eval samples.csv --data circle\n"
    "\n"
    "Exit status: 0 success, 1 failure (the library's message is printed),\n"
    "2 bad arguments, 3 sampling diverged or the flow failed in some rows,\n"
    "130 interrupted.\n";

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} COMMANDS[] = {
    {"train", cmd_train}, {"sample", cmd_sample}, {"eval", cmd_eval},
    {"profile", cmd_profile}, {"info", cmd_info}, {"logprob", cmd_logprob},
    {"encode", cmd_encode}, {"decode", cmd_decode}, {"impute", cmd_impute},
};

int main(int argc, char **argv)
{
    names_from_library();
    if (argc < 2) {
        fputs(MAIN_HELP, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version")) {
        printf("cemdiff %s (libcemdiff %s)\n", cem_version_string(), cem_version_string());
        if (cem_version_number() != CEM_VERSION_NUMBER)
            fprintf(stderr, "cemdiff: built for libcemdiff %d.%d.%d but running with %s\n",
                    CEM_VERSION_MAJOR, CEM_VERSION_MINOR, CEM_VERSION_PATCH,
                    cem_version_string());
        return 0;
    }
    static char help_flag[] = "--help";
    char *help_argv[] = {help_flag, NULL};
    int help = 0; /* cemdiff help COMMAND */
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (argc < 3 || strcmp(cmd, "help") || !strcmp(argv[2], "--help") ||
            !strcmp(argv[2], "-h") || !strcmp(argv[2], "help"))
            return print_help(MAIN_HELP); /* also "help --help", "help help" */
        cmd = argv[2];
        help = 1;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(cmd, COMMANDS[i].name)) {
            g_sub = COMMANDS[i].name;
            return help ? COMMANDS[i].run(1, help_argv) : COMMANDS[i].run(argc - 2, argv + 2);
        }
    fprintf(stderr, "cemdiff: unknown command '%s'\nsee 'cemdiff --help'\n", cmd);
    return EXIT_USAGE;
}
