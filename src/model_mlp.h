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
    size_t np;         /* parameter count */
    float *params;     /* np: W_0, b_0, ..., W_L, b_L */
    float *ema;        /* np: the moving average kept by training */
} cemi_mlp;

/* The MLP state of m, or NULL when m is not an MLP. */
cemi_mlp *cemi_mlp_of(const cem_model_t *m);

/* A new MLP model with the given architecture, weights initialised from
 * `seed` (used by cem_model_create_mlp and the checkpoint loader). */
int cemi_mlp_create(cem_model_t **out, const char *fn, const cemi_mlp_shape *sh,
                    cem_target target, uint64_t seed);

/* Fills params with the torch.nn.Linear initialisation drawn from seed:
 * layer l uses stream l; W then b, each uniform in +-1/sqrt(fan_in). */
void cemi_mlp_init_params(const cemi_mlp_shape *sh, uint64_t seed, float *params);

/* Writes the network input [x, phi(t)] of B rows (B x (D+E)). */
void cemi_mlp_input(const cem_model_t *m, int B, const float *x, const double *t,
                    double t_shared, float *in);

#endif /* CEM_MODEL_MLP_H */
