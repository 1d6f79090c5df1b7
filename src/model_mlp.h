/*
 * model_mlp.h -- layer 3: the MLP model kind's state, shared with the
 * trainer and the checkpoint code (layer 4).
 */
#ifndef CEM_MODEL_MLP_H
#define CEM_MODEL_MLP_H

#include "model.h"
#include "nn.h"

typedef struct {
    cemi_mlp_shape sh;
    cem_target target; /* what the output means */
    uint64_t seed;     /* of the initialisation */
    int use_ema;       /* evaluation reads ema instead of params */
    cem_param param;   /* how f is made of the output (CEM target only) */
    double sd;         /* the data's sd; 0: not set (PRECOND then uses 1) */
    double *mean;      /* D: the data's centre (zeros until set) */
    size_t np;         /* parameter count */
    float *params;     /* np: W_0, b_0, ..., W_L, b_L */
    float *ema;        /* np: the moving average kept by training */
} cemi_mlp;

/* The MLP state of m, or NULL when m is not an MLP. */
cemi_mlp *cemi_mlp_of(const cem_model_t *m);

/* A new MLP model with the given architecture, weights initialised from
 * `seed` (used by cem_model_create_mlp and the checkpoint loader). */
int cemi_mlp_create(cem_model_t **out, const char *fn, const cemi_mlp_shape *sh,
                    cem_target target, cem_param param, uint64_t seed);

/* Fills params with the torch.nn.Linear initialisation drawn from seed:
 * layer l uses stream l; W then b, each uniform in +-1/sqrt(fan_in). */
void cemi_mlp_init_params(const cemi_mlp_shape *sh, uint64_t seed, float *params);

/* Writes the network input [x, phi(t)] of B rows (B x (D+E)); with
 * PRECOND the first D columns are c_in (x / alpha - mu) instead of x. */
void cemi_mlp_input(const cem_model_t *m, int B, const float *x, const double *t,
                    double t_shared, float *in);

/* The PRECOND coefficients of time t for this model (its sd, or 1 when
 * not set), c_in times the input gain max(1, sqrt(E / (2 D))). */
cemi_precond cemi_mlp_precond(const cemi_mlp *p, double t);

/* One row's network output F <-> its f at (x, t), in double; for DIRECT
 * (and the NOISE, SCORE targets, whose output is not f) the identity.
 * net_from_f gives the output that would make the model answer f (in
 * float, computed in double). */
void cemi_mlp_f_from_net(const cemi_mlp *p, const float *x, double t, const double *F,
                         double *f);
void cemi_mlp_net_from_f(const cemi_mlp *p, const float *x, double t, const float *f,
                         float *F);

/* The model's statistics as PRECOND uses them: mu (zeros until set) and sd
 * (1 until set). */
double cemi_mlp_sd(const cemi_mlp *p);

/* Sets the statistics (mean NULL: zeros; sd 0: none) without checks. */
void cemi_mlp_set_stats(cemi_mlp *p, const double *mean, double sd);

/* CEM_ERR_BUSY (with a message naming the holder) when a trainer or a
 * sampler holds m, else CEM_OK. */
int cemi_mlp_check_free(cem_model_t *m, const char *fn, const char *what);

#endif /* CEM_MODEL_MLP_H */
