/*
 * trainer.h -- layer 4: the trainer's state, shared with checkpoint.c.
 */
#ifndef CEM_TRAINER_H
#define CEM_TRAINER_H

#include "model_mlp.h"

#define CEMI_TRAINER_NOPT 24 /* options are ids 1 .. CEMI_TRAINER_NOPT */

/* A micro-batch's sums, the stats a reduce callback adds: the loss (its
 * share of the batch mean), then per time bin the per-sample losses and
 * counts, then per bin of the time law the same. */
enum {
    CEMI_ST_LOSS = 0,
    CEMI_ST_BIN_SUM = 1,
    CEMI_ST_BIN_COUNT = CEMI_ST_BIN_SUM + CEM_TRAINER_BINS,
    CEMI_ST_LAW_SUM = CEMI_ST_BIN_COUNT + CEM_TRAINER_BINS,
    CEMI_ST_LAW_COUNT = CEMI_ST_LAW_SUM + CEM_TRAINER_LAW_BINS,
    CEMI_STATS = CEMI_ST_LAW_COUNT + CEM_TRAINER_LAW_BINS
};
#define CEMI_LAW_BINS CEM_TRAINER_LAW_BINS

struct cem_trainer {
    cem_model_t *model; /* a reference; the model is busy while we exist */
    cemi_mlp *net;      /* the model's MLP state */
    float *data;        /* n x D, a copy */
    int *labels;        /* n, a copy of the rows' classes; NULL: unlabelled */
    size_t n;
    int D;
    double opt[CEMI_TRAINER_NOPT + 1]; /* option values by id */
    long step;                         /* accepted steps */
    float *m1, *m2;                    /* Adam moments, np each */
    float *grad;                       /* np */
    double bin_sum[CEM_TRAINER_BINS];
    long bin_count[CEM_TRAINER_BINS];
    /* the time law's bins (CEMI_LAW_BINS equal bins of log t): the moving
     * average of each bin's per-row loss (NaN until seen), the ADAPTIVE
     * law's floors (NaN unless measured) and its cumulative shares */
    double law_loss[CEMI_LAW_BINS];
    double law_floor[CEMI_LAW_BINS];
    double law_cum[CEMI_LAW_BINS + 1];
    cem_progress_fn progress;
    void *progress_user;
    /* batch workspace for `cap` rows (the network's for `mcap`, the largest
     * micro-batch), allocated when BATCH, ACCUMULATE or THREADS is set */
    int cap, mcap;
    /* the micro-batches' gradients and stats (pcap blocks of np floats and
     * CEMI_STATS doubles; pcap 0 for A = 1 without a reduce callback) */
    float *pgrad;
    double *pstats;
    int pcap;
    /* data parallelism (cem_trainer_set_reduce) */
    int rank, world;
    cem_reduce_fn reduce;
    void *reduce_user;
    float *x0, *z, *y, *c, *in, *hid, *out, *dout, *scratch;
    float *xt;        /* B x D: the noised points x_t */
    float *imp;       /* B: each row's importance weight (in c too) */
    float *ce;        /* B x D: a preconditioned model's per-output weights
                       * (cemi_mlp_out_weights); unused otherwise */
    int *lbin;        /* each row's bin of the time law (CEMI_LAW_BINS) */
    int *blab;        /* each row's label as trained (CEM_LABEL_NONE: none) */
    float *gemm_ws;   /* the matrix product's workspace, one slice per thread */
    float *wpack;     /* the weights packed for the forward pass (each step) */
    size_t gemm_stride;
    cemi_pool *pool;  /* THREADS threads */
    double *t;
    int *tbin;        /* each row's time bin (CEM_TRAINER_BINS) */
    cemi_errbuf err;
};

/* Allocates the batch workspace for `cap` rows computed in `accum`
 * micro-batches, the parts of one of `world` ranks sharing the steps
 * through a reduce callback (0: no callback) and the team of `threads`
 * threads, replacing the old ones only on success.  Returns a status
 * (CEM_ERR_NOMEM). */
int cemi_trainer_reserve(cem_trainer_t *tr, int cap, int accum, int world, int threads,
                         const char *fn);

/* Creates a trainer around model m without copying state from elsewhere;
 * used by cem_trainer_create(_labelled) and the checkpoint loader; labels
 * NULL: unlabelled, else checked against the model's classes. */
int cemi_trainer_new(cem_trainer_t **out, const char *fn, cem_model_t *m, const float *data,
                     const int *labels, size_t n, int dim);

/* The learning rate of step `step` (0-based): linear warm-up, then cosine
 * decay to LR_MIN over DECAY_STEPS, then LR_MIN. */
double cemi_trainer_lr(const cem_trainer_t *tr, long step);

/* The table of trainer options (for the checkpoint's validation). */
const cemi_option *cemi_trainer_options(void);

/* Makes the trainer's time law what its options and law_loss say: the
 * ADAPTIVE law's floors measured (when `floors`; allocates, may fail with
 * CEM_ERR_NOMEM, leaving them as they were) and its shares. */
int cemi_trainer_law_refresh(cem_trainer_t *tr, int floors, const char *fn);

#endif /* CEM_TRAINER_H */
