/*
 * model.h -- layer 3: the cem_model_t handle and the interface every model
 * kind implements.  A kind answers "what is f, eps or S at (x, t)?" for a
 * block of rows, in caller-provided workspace, so that samplers can plan
 * their memory once and evaluate without allocating.
 */
#ifndef CEM_MODEL_H
#define CEM_MODEL_H

#include "options.h"
#include "process.h"

#include <stdatomic.h>

typedef struct cemi_model_ops {
    /* Most rows one eval call may take (bounds the workspace). */
    size_t (*max_rows)(const cem_model_t *m);
    /* Bytes of workspace for a block of `rows` rows (rows <= max_rows). */
    size_t (*workspace)(const cem_model_t *m, size_t rows);
    /* Evaluates `what` at rows x (n x dim, n <= max_rows, finite) and times
     * t[i] (or `t_shared` when t is NULL; all valid), for the classes
     * lab[i] (valid: in [-1, labels), -1 unconditional; lab NULL: all -1),
     * into out.  shared is NULL or state made by prepare since the model
     * last changed.  Must be safe to call concurrently with distinct
     * workspaces. */
    void (*eval)(const cem_model_t *m, cem_target what, size_t n,
                 const float *x, const double *t, double t_shared, const int *lab,
                 float *out, void *ws, const void *shared);
    /* Frees the kind's state. */
    void (*destroy)(void *impl);
    /* Kind-specific option handling, or NULL for kinds with only the common
     * options.  set: value is within bounds and T_MIN < T_MAX holds; apply
     * it or fail leaving m unchanged.  get: read a kind-specific option. */
    int (*set)(cem_model_t *m, int opt, double value, const char *fn);
    int (*get)(const cem_model_t *m, int opt, double *value);
    /* The native target (what the kind computes without conversion). */
    cem_target native;
    /* Optional (NULL for kinds without): read-only state that a run of many
     * eval calls computes once and shares among its blocks and threads (the
     * MLP's packed weights).  shared_size gives its bytes, prepare fills it
     * from the model as it is now.  Evaluation gives bitwise the same
     * result with or without it. */
    size_t (*shared_size)(const cem_model_t *m);
    void (*prepare)(const cem_model_t *m, void *shared);
    /* f in double at n rows x (n x dim, n <= max_rows, finite, in double)
     * and times t[i], and the products J v of f's Jacobian in x with K >= 0
     * tangents per row: V holds K blocks of n x dim (tangent k of row i at
     * V + (k n + i) dim), JV gets the products in the same layout.  ws holds
     * jvp_workspace(m, n, K) bytes; shared as for eval.  A row's results do
     * not depend on the other rows of the call.  Safe to call concurrently
     * with distinct workspaces.  (The probability-flow ODE, src/flow.c.) */
    void (*jvp)(const cem_model_t *m, size_t n, const double *x, const double *t, int K,
                const double *V, double *f, double *JV, void *ws, const void *shared);
    size_t (*jvp_workspace)(const cem_model_t *m, size_t rows, int K);
} cemi_model_ops;

struct cem_model {
    const cemi_model_ops *ops;
    void *impl;
    int kind; /* cem_model_kind */
    int dim;
    int labels; /* K, the classes the model answers for (0: none) */
    double t_min, t_max;
    int window_set; /* T_MIN or T_MAX set by the user (or a checkpoint) */
    atomic_int refs;
    atomic_int busy;     /* 1 while a trainer owns the model */
    atomic_int samplers; /* samplers that planned for the model's network */
    atomic_int flows;    /* flows (src/flow.c) that planned for it */
    cemi_errbuf err;
};

/* Creates the handle around a kind's state (taking ownership of impl, which
 * is destroyed on failure).  Records failures as `fn`. */
int cemi_model_new(cem_model_t **out, const char *fn, const cemi_model_ops *ops,
                   void *impl, int kind, int dim);

/* The table of model options (for the checkpoint's validation). */
const cemi_option *cemi_model_options(void);

/* The default value of model option `opt`. */
double cemi_model_option_default(int opt);

/* Adds a reference (for handles that depend on the model). */
void cemi_model_retain(cem_model_t *m);

/* Checks that labels[0 .. n-1] lie in [lo, K); a message naming the row
 * and `what` otherwise (CEM_ERR_ARG). */
int cemi_check_labels(cemi_errbuf *err, const char *fn, const char *what, const int *labels,
                      size_t n, int lo, int K);

/* Checks x (n x dim) for NaN/Inf; records a message naming the row. */
int cemi_check_points(cemi_errbuf *err, const char *fn, const char *what,
                      const float *x, size_t n, int dim);

/* The closed forms' last stage: F holds f in double for R rows (x, t[i] or
 * t_shared); converts each row to `what` in place and writes it to out as
 * float. */
void cemi_emit_from_f(cem_target what, size_t R, int dim, const float *x, const double *t,
                      double t_shared, double *F, float *out);

/* Records a failure on m (which may be NULL) and the thread. */
#define cemi_model_fail(m, ...) cemi_fail((m) ? &(m)->err : NULL, __VA_ARGS__)

#endif /* CEM_MODEL_H */
