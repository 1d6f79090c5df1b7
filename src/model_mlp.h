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
    int label_embed;   /* CEM_MODEL_LABEL_EMBED (sh.C when there are labels) */
    double sd;         /* the data's sd; 0: not set (PRECOND then uses 1) */
    double *mean;      /* D: the data's centre (zeros until set) */
    double *axes;      /* D x D, row k the k-th principal direction of the
                        * data (sd descending); NULL: none (the coordinate
                        * axes, each of sd) */
    double *axis_sd;   /* D: the data's sd along each axis; NULL with axes */
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
 * layer l uses stream l; W then b, each uniform in +-1/sqrt(fan_in); the
 * label table N(0, 1) (torch.nn.Embedding's) from stream L + 1. */
void cemi_mlp_init_params(const cemi_mlp_shape *sh, uint64_t seed, float *params);

/* Writes the network input [x, e, phi(t)] of B rows (B x (D+C+E)), e the
 * label features of lab[i] in params' table (lab NULL: CEM_LABEL_NONE);
 * with PRECOND the first D columns are c_in (x / alpha - mu) instead of x
 * (PRECOND_PCA with axes: its coordinates along the axes). */
void cemi_mlp_input(const cem_model_t *m, const float *params, int B, const float *x,
                    const double *t, double t_shared, const int *lab, float *in);

/* The PRECOND coefficients of time t for this model (its sd, or 1 when
 * not set), c_in times the input gain max(1, sqrt(E / (2 D))). */
cemi_precond cemi_mlp_precond(const cemi_mlp *p, double t);

/* One row's network output F <-> its f at (x, t), in double; for DIRECT
 * (and the NOISE, SCORE targets, whose output is not f) the identity.
 * f may be F; tmp is D doubles of scratch.  net_from_f gives the output
 * that would make the model answer f (in float, computed in double); F
 * must not be f. */
void cemi_mlp_f_from_net(const cemi_mlp *p, const float *x, double t, const double *F,
                         double *f, double *tmp);
void cemi_mlp_net_from_f(const cemi_mlp *p, const float *x, double t, const float *f,
                         float *F);

/* 1 when the model's output is not f itself but a preconditioned F
 * (a CEM model with PARAM PRECOND or PRECOND_PCA). */
int cemi_mlp_preconditioned(const cemi_mlp *p);

/* The per-output weights of a preconditioned model's loss at t: ce[k] =
 * w_k c_out_k^2, so that sum_k ce[k] (F_k - F*_k)^2 is f's loss
 * sum_k w_k (f_k - x0_k)^2 along the model's axes; w_k = lambda(t) +
 * 1/sd_k^2 when edm, else w. */
void cemi_mlp_out_weights(const cemi_mlp *p, double t, int edm, double w, float *ce);

/* The axis sds PRECOND_PCA uses: the data's, at least CEMI_AXIS_SD_FLOOR
 * times the overall sd (so that an empty direction stays well defined). */
#define CEMI_AXIS_SD_FLOOR 1e-3

/* Sets or (axes NULL) clears the data's axes without checks; CEM_ERR_NOMEM
 * leaves them as they were. */
int cemi_mlp_set_axes(cemi_mlp *p, const double *axes, const double *axis_sd);

/* The principal axes and sds of the covariance cov (D x D, symmetric, read
 * whole; not changed), sd descending, each axis's largest component
 * positive (so every LAPACK gives the same axes).  CEM_ERR_ARG when cov is
 * not positive semidefinite to rounding, CEM_ERR_NUMERIC, CEM_ERR_NOMEM. */
int cemi_mlp_axes_of_cov(int D, const double *cov, double *axes, double *axis_sd,
                         const char *fn);

/* The model's statistics as PRECOND uses them: mu (zeros until set) and sd
 * (1 until set). */
double cemi_mlp_sd(const cemi_mlp *p);

/* Sets the statistics (mean NULL: zeros; sd 0: none) without checks. */
void cemi_mlp_set_stats(cemi_mlp *p, const double *mean, double sd);

/* CEM_ERR_BUSY (with a message naming the holder) when a trainer or a
 * sampler holds m, else CEM_OK. */
int cemi_mlp_check_free(cem_model_t *m, const char *fn, const char *what);

/* The law the sampler and the flow put at T (CEM_SAMPLER_PRIOR = 1): for
 * an MLP with data statistics (mu, sd), p_T of data N(mu, sd^2 I),
 * N(alpha_T mu, (alpha_T^2 sd^2 + sigma_T^2) I): writes mean (dim) and *sd,
 * returns 1.  Otherwise N(0, I): mean zeros, *sd = 1, returns 0. */
int cemi_model_prior(const cem_model_t *m, double T, double *mean, double *sd);

#endif /* CEM_MODEL_MLP_H */
