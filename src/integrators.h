/*
 * integrators.h -- layer 4: the reverse-time integrators as a constant
 * table (GSL's gsl_odeiv2_step_type pattern), selected by cem_integrator.
 *
 * Every integrator steps a block of R rows of y (R x D) from t to s < t.
 * It calls `eval` to get f at (rows, time) and draws its noise from the
 * rows' own streams, so a row's path depends on nothing but its stream.
 */
#ifndef CEM_INTEGRATORS_H
#define CEM_INTEGRATORS_H

#include "base.h"

/* Writes f(y, t) for the R rows of y into f (R x D). */
typedef void (*cemi_eval_fn)(void *ctx, size_t R, const float *y, double t, float *f);

/* Where a step is on the grid: step k (0-based) of M = N - 1 goes from
 * times[N-1-k] down to times[N-2-k]; times is the plan's increasing grid. */
typedef struct {
    const double *times;
    int N, k;
} cemi_step_at;

typedef struct {
    const char *name;
    int evals;      /* model evaluations per step */
    int stochastic; /* draws noise */
    int order;      /* multistep methods: the order of their full steps; 0 otherwise */
    /* One step of R rows.  f and prev[0..1] hold R x D floats each.  The
     * step writes f(y, t) into f; a multistep method reads prev[0] = f at
     * the previous step's start and prev[1] = f at the one before (valid
     * for the k steps already taken), the others may use prev[] as
     * scratch.  The caller rotates the three buffers after each step.
     * rng holds R streams. */
    void (*step)(const void *self, const cemi_step_at *at, void *ctx, cemi_eval_fn eval,
                 size_t R, int D, float *y, float *f, float *prev[2], cemi_rng *rng);
    /* For one-evaluation methods: the step is y <- c[0] y + c[1] f + c[2] xi. */
    void (*coeffs)(double t, double s, double c[3]);
} cemi_integrator;

/* The integrator for a cem_integrator value, or NULL. */
const cemi_integrator *cemi_integrator_get(int id);

#endif /* CEM_INTEGRATORS_H */
