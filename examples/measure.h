/*
 * measure.h -- what the measurement programs (report.c, recipes.c) share:
 * a fatal-error check, a clock, and the datasets they train on with a
 * fresh reference sample for the two-sample metrics.  Header-only: each
 * example is one translation unit, built as any host builds it.  Define
 * MEASURE_PROG (the program's name, for messages) before including it.
 */
#ifndef CEMDIFF_EXAMPLES_MEASURE_H
#define CEMDIFF_EXAMPLES_MEASURE_H

#include <cemdiff.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MEASURE_NDATA = 10000, MEASURE_NREF = 5000 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", MEASURE_PROG, what, cem_last_error());
    exit(1);
}

/* A failed call ends the program; CEM_ERR_DIVERGED (some sample rows
 * non-finite) is a result to measure, not a failure. */
#define CHECK(call)                                                                  \
    do {                                                                             \
        int st_ = (call);                                                            \
        if (st_ != CEM_OK && st_ != CEM_ERR_DIVERGED)                                \
            die(#call);                                                              \
    } while (0)

typedef struct {
    const char *name, *label;
    cem_dataset_kind kind;
    int dim;
    double scale, offset[2]; /* affine placement (scale 1: none; offset in R^2) */
} dataset_spec;

/* The report's six datasets, the paper's kinds (docs/REPORT.md). */
#define MEASURE_PAPER_DATASETS                                                        \
    {"segment", "segment in R^2", CEM_DATA_SEGMENT, 2, 1, {0, 0}},                   \
    {"circle", "circle in R^2", CEM_DATA_CIRCLE, 2, 1, {0, 0}},                      \
    {"points5", "5-point cloud in R^2", CEM_DATA_POINTS, 2, 1, {0, 0}},              \
    {"helix", "helix in R^3", CEM_DATA_HELIX, 3, 1, {0, 0}},                         \
    {"sphere", "sphere in R^3", CEM_DATA_SPHERE, 3, 1, {0, 0}},                      \
    {"circle16", "circle embedded in R^16", CEM_DATA_CIRCLE, 16, 1, {0, 0}}

typedef struct {
    const dataset_spec *spec;
    cem_dataset_t *ds;
    float *data; /* MEASURE_NDATA x dim, the training set (seed `draw`) */
    float *ref;  /* MEASURE_NREF x dim, a fresh sample (seed 2) */
    int draw;    /* the seed of the training set's draw: 1 unless said */
} dataset;

/* The dataset of spec (embedding seed 11) with the training set of draw
 * seed `draw`. */
static void dataset_make_draw(dataset *d, const dataset_spec *spec, int draw)
{
    d->spec = spec;
    d->draw = draw;
    CHECK(cem_dataset_create(&d->ds, spec->kind, spec->dim, 11));
    if (spec->scale != 1)
        CHECK(cem_dataset_set_affine(d->ds, spec->scale, spec->offset));
    d->data = malloc(sizeof(float) * MEASURE_NDATA * (size_t)spec->dim);
    d->ref = malloc(sizeof(float) * MEASURE_NREF * (size_t)spec->dim);
    if (!d->data || !d->ref)
        die("out of memory");
    CHECK(cem_dataset_sample(d->ds, MEASURE_NDATA, (uint64_t)draw, d->data));
    CHECK(cem_dataset_sample(d->ds, MEASURE_NREF, 2, d->ref));
}

static void dataset_make(dataset *d, const dataset_spec *spec) { dataset_make_draw(d, spec, 1); }

/* Moves the finite rows of x (n x dim) to its front, in order; returns
 * how many there are (a sampler leaves a diverged row NaN). */
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

static void dataset_free(dataset *d)
{
    cem_dataset_free(d->ds);
    free(d->data);
    free(d->ref);
}

#endif
