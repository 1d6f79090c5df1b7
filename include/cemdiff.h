/*
 * cemdiff.h -- libcemdiff, diffusion models on low-dimensional data.
 *
 * This header is the whole stable public API and its manual.  It implements
 * Lu, Wang, Bal, "Mathematical analysis of singularities in the diffusion
 * model under the submanifold assumption": the forward Ornstein-Uhlenbeck
 * process, the three equivalent targets (the bounded conditional expectation
 * f = E[X_0 | X_t = x], the DDPM noise eps and the SGM score S), closed-form
 * models that give exact ground truth, and the datasets the paper studies.
 *
 * Conventions that hold for every function below
 * ------------------------------------------------
 * - Status codes.  Every fallible function returns an int status: CEM_OK (0)
 *   on success, a negative CEM_ERR_* code on failure.  cem_status_string()
 *   names a code; cem_last_error() explains the last failure on the calling
 *   thread; handles also keep a message of their own (cem_model_errmsg()...):
 *   that of the last failed call that modifies the handle.  Const calls
 *   (evaluation, queries) record their failures only in cem_last_error(),
 *   so a handle's message never changes while threads share the handle.
 * - A failed call changes nothing: output handles are set to NULL, handles
 *   passed in keep their previous state, caller buffers may hold partial
 *   results only where the function says so.
 * - Finite results.  A call that returns CEM_OK has written only finite
 *   numbers.  Where finite inputs can still make a result overflow (the
 *   conversions divide by alpha_t = exp(-t/2), sigma_t and sigma_t^2, which
 *   vanish as t grows or shrinks), the call checks what it computed and
 *   fails with CEM_ERR_NUMERIC, naming the row, the column and the time;
 *   the trainer's batch calls fail with CEM_ERR_NONFINITE_STEP.
 * - The library never prints, never calls exit() or abort(), and never
 *   reads environment variables.
 * - Arrays are row-major: an "n x dim" array of points holds point i at
 *   x[i*dim .. i*dim+dim-1].  Points are float, times and coefficients
 *   double.
 * - Handles (cem_model_t, cem_trainer_t, cem_sampler_t, cem_dataset_t) are
 *   opaque, created through an out-parameter and released by the matching
 *   *_free(), which accepts NULL.
 * - Options are enum-keyed: cem_X_set(handle, option, value) checks the value
 *   against cem_X_option_bounds() and rejects it with CEM_ERR_RANGE and a
 *   message naming the option and its bounds.  Integer-valued options are
 *   passed as doubles holding an integer.  Enum values never change once
 *   published.
 * - Thread safety.  Functions without a handle are thread-safe.  A handle may
 *   be used from any thread, but calls that modify it (setters, *_free) must
 *   not run concurrently with any other call on it.  Calls documented as
 *   "const" (evaluation, queries) may run concurrently with each other.
 */
#ifndef CEMDIFF_H
#define CEMDIFF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- version */

/* The library version, written here once; the Makefile derives the soname
 * (libcemdiff.so.MAJOR) and the pkg-config version from these lines. */
#define CEM_VERSION_MAJOR 0
#define CEM_VERSION_MINOR 1
#define CEM_VERSION_PATCH 0
#define CEM_VERSION_NUMBER \
    (CEM_VERSION_MAJOR * 10000 + CEM_VERSION_MINOR * 100 + CEM_VERSION_PATCH)

#if defined(CEM_BUILDING_LIBRARY) && defined(__GNUC__)
#define CEM_API __attribute__((visibility("default")))
#else
#define CEM_API
#endif

/* The version of the library actually linked, as CEM_VERSION_NUMBER: a host
 * compares it with the header it was compiled against,
 *   if (!CEM_VERSION_COMPATIBLE(cem_version_number())) ... refuse to run
 * which accepts any library that keeps this header's promises.  Never fails. */
CEM_API unsigned cem_version_number(void);

/* 1 when a library of version number v (as cem_version_number) serves a
 * host compiled against this header: the same major version and at least
 * this minor (a newer minor only adds; any patch level). */
#define CEM_VERSION_COMPATIBLE(v) \
    ((v) / 10000 == CEM_VERSION_MAJOR && (v) % 10000 / 100 >= CEM_VERSION_MINOR)

/* The same as "MAJOR.MINOR.PATCH"; a static string.  Never fails. */
CEM_API const char *cem_version_string(void);

/* ------------------------------------------------------- status and errors */

/* Status codes.  Values never change; new codes take new values. */
enum {
    CEM_OK = 0,
    CEM_ERR_ARG = -1,         /* an argument is invalid (NULL, size, enum) */
    CEM_ERR_NOMEM = -2,       /* memory allocation failed or size overflow */
    CEM_ERR_RANGE = -3,       /* an option value is outside its bounds */
    CEM_ERR_NONFINITE = -4,   /* NaN or Inf in input data */
    CEM_ERR_UNSUPPORTED = -5, /* not available for this kind of handle */
    CEM_ERR_NUMERIC = -6,     /* a numerical failure (e.g. matrix not PSD, or
                                 a result beyond float range) */
    CEM_ERR_IO = -7,          /* a file could not be opened, read, written */
    CEM_ERR_PARSE = -8,       /* malformed text input (CSV) */
    CEM_ERR_BUSY = -9,        /* the handle is in use (a trainer owns it) */
    CEM_ERR_NONFINITE_STEP = -10, /* a training step produced NaN/Inf: rejected */
    CEM_ERR_BAD_MAGIC = -11,  /* not a libcemdiff checkpoint */
    CEM_ERR_VERSION = -12,    /* checkpoint format version not supported */
    CEM_ERR_TRUNCATED = -13,  /* checkpoint shorter than its header says */
    CEM_ERR_CHECKSUM = -14,   /* checkpoint CRC-32 mismatch: corrupted */
    CEM_ERR_CORRUPT = -15,    /* checkpoint field or size impossible */
    CEM_ERR_DIVERGED = -16,   /* sampling produced NaN/Inf in some rows */
    CEM_ERR_STOPPED = -17,    /* a progress callback stopped the run */
    CEM_ERR_REDUCE = -18      /* a data-parallel reduction callback failed */
};

/* A static English description of a status code ("unknown status" for a
 * value that is not one).  Thread-safe, never fails. */
CEM_API const char *cem_status_string(int status);

/* Why the last failing call on the calling thread failed: a message that
 * names the function, the argument and the offending value.  Every failing
 * call sets it, including constructors that could not produce a handle;
 * successful calls leave it as it was.  The string is thread-local and valid
 * until the next failing call on this thread.  Returns "" when no call on
 * this thread has failed. */
CEM_API const char *cem_last_error(void);

/* Releases a buffer the library allocated for the caller (see
 * cem_csv_read).  Accepts NULL. */
CEM_API void cem_free(void *ptr);

/* ------------------------------------------------------ the forward process
 *
 * dX_t = -1/2 X_t dt + dW_t, so X_t = alpha_t X_0 + sigma_t Z with
 * alpha_t = exp(-t/2) and sigma_t^2 = 1 - exp(-t) = -expm1(-t) (exact for
 * tiny t).  See docs/MATH.md.
 */

/* alpha_t and sigma_t^2 at time t >= 0 (finite).  Either output may be NULL.
 * Errors: CEM_ERR_ARG for t < 0, NaN or Inf. */
CEM_API int cem_ou_coefficients(double t, double *alpha, double *sigma2);

/* The three targets a model can answer, exact functions of one another:
 *   CEM   f(x,t)   = E[X_0 | X_t = x]                 (bounded)
 *   NOISE eps(x,t) = E[Z | X_t = x] = (x - alpha f) / sigma
 *   SCORE S(x,t)   = grad log p_t(x) = (alpha f - x) / sigma^2            */
typedef enum {
    CEM_TARGET_CEM = 0,
    CEM_TARGET_NOISE = 1,
    CEM_TARGET_SCORE = 2
} cem_target;

/* Converts n values of target `from` at points x (n x dim) and times t[i]
 * into target `to` (n x dim).  `out` may equal `in` (in place); the
 * arithmetic is done in double.  Times must be finite and > 0, x and in
 * finite.  Into CEM divides by alpha_t, into NOISE by sigma_t, into SCORE
 * by sigma_t^2 (~ t for tiny t): when a result is not finite in float
 * (values of order 1: NOISE into CEM beyond t ~ 177, CEM into SCORE below
 * t ~ 3e-39, docs/MATH.md) the call fails rather than write an Inf.  Into
 * CEM from NOISE or SCORE needs alpha_t = exp(-t/2) > 0 in double, so
 * beyond t ~ 1490 it always fails.
 * Errors: CEM_ERR_ARG (NULL pointer with n > 0, dim < 1, bad enum, bad
 * time), CEM_ERR_NONFINITE (x or in holds NaN or Inf; names the row),
 * CEM_ERR_NUMERIC (a result is not finite in float; names the row, column
 * and time); nothing is written on error. */
CEM_API int cem_convert(cem_target from, cem_target to, size_t n, int dim,
                        const float *x, const double *t, const float *in,
                        float *out);

/* Time grids on [t1, T] with N points, increasing: out[0] = t1, out[N-1] = T.
 * With s_t = sqrt(e^t - 1) = sigma_t / alpha_t, the noise-to-signal ratio:
 *   EXPONENTIAL  t_k = t1 (1 - gamma)^(1-k), gamma = 1 - (t1/T)^(1/(N-1)),
 *                so (t_k - t_{k-1}) / t_k = gamma for every k (the paper's);
 *   UNIFORM      equally spaced;
 *   LOGSNR       ln s_t equally spaced, i.e. uniform in DPM-Solver's
 *                log-SNR lambda = log(alpha_t / sigma_t) = -ln s_t (its
 *                steps are then of equal length h);
 *   EDM          s_t^(1/7) equally spaced (Karras et al. 2022, rho = 7):
 *                short steps near t1, long ones near T.
 * For small t, s_t^2 ~ t, so LOGSNR is close to EXPONENTIAL there; it puts
 * fewer points at large t, where e^t grows. */
typedef enum {
    CEM_GRID_EXPONENTIAL = 0,
    CEM_GRID_UNIFORM = 1,
    CEM_GRID_LOGSNR = 2,
    CEM_GRID_EDM = 3
} cem_grid;

/* The grid's name, its enum name in lower case ("exponential", "uniform",
 * "logsnr", "edm"), a static string, or NULL for a value that is not a
 * cem_grid: a host lists the grids by counting up from 0 until NULL.
 * Never fails. */
CEM_API const char *cem_grid_name(cem_grid kind);

/* Fills out[0..N-1] with N finite, strictly increasing times.  Requires
 * N >= 2 and 0 < t1 < T finite; any such window works (when T/t1
 * overflows a double, the exponential grid is computed from log t1 and
 * log T), except one too narrow to hold N distinct doubles (t1 and T a few
 * ulps apart).
 * Errors: CEM_ERR_ARG (N < 2, bad window, bad kind, NULL out, a window too
 * narrow for N increasing points); nothing is written on error. */
CEM_API int cem_time_grid(cem_grid kind, int N, double t1, double T,
                          double *out);

/* Laws for the training time t:
 *   GRID        uniform over the N points of the exponential grid (paper's);
 *   LOGUNIFORM  log t uniform on [log t1, log T] (its continuous analogue);
 *   UNIFORM     t uniform on [t1, T] (the conventional baseline);
 *   LOGNORMAL   EDM's: ln s ~ N(P_mean, P_std^2) with s^2 = e^t - 1 (the
 *               noise-to-signal ratio sigma_t^2/alpha_t^2), truncated to
 *               [t1, T] (drawn by the inverse CDF: no mass piles up at the
 *               ends); a trainer's CEM_TRAINER_LOGNORMAL_MEAN and _STD set
 *               the two parameters, cem_time_law_sample uses EDM's
 *               published (-1.2, 1.2);
 *   ADAPTIVE    a trainer's law that follows where its loss can still fall
 *               (CEM_TRAINER_ADAPT_FLOOR, cem_trainer_law_bins); it exists
 *               only inside a trainer (CEM_ERR_UNSUPPORTED here).       */
typedef enum {
    CEM_TIMELAW_GRID = 0,
    CEM_TIMELAW_LOGUNIFORM = 1,
    CEM_TIMELAW_UNIFORM = 2,
    CEM_TIMELAW_LOGNORMAL = 3,
    CEM_TIMELAW_ADAPTIVE = 4
} cem_time_law;

/* Draws n times from `law` on [t1, T] (N is the grid size, used by GRID
 * only; it must still be >= 2) into out[0..n-1], for any window
 * 0 < t1 < T finite; every draw lies in [t1, T].  Draw i depends only on
 * (seed, i): the same seed gives the same values, and a longer request
 * extends a shorter one.  Errors: CEM_ERR_ARG, CEM_ERR_UNSUPPORTED
 * (ADAPTIVE). */
CEM_API int cem_time_law_sample(cem_time_law law, int N, double t1, double T,
                                uint64_t seed, size_t n, double *out);

/* ------------------------------------------------------------------ models
 *
 * A model answers one question: "what is f, eps or S at (x, t)?".  Kinds:
 *   MLP        a network trained by cem_trainer_t; its output means its
 *              target (CEM: f, NOISE: eps, SCORE: S) and the other two
 *              follow by the exact conversions;
 *   EMPIRICAL  the exact answer for the empirical law of a point set
 *              (1/n) sum_i delta(x_i): f = sum_i w_i x_i with softmax
 *              weights, computed in double with one GEMM and log-sum-exp;
 *   GAUSSIAN   the exact answer for N(mean, cov), cov symmetric positive
 *              semi-definite (a singular cov puts the data on a subspace);
 *   MIXTURE    the exact answer for a mixture of K Gaussians, sum_k
 *              pi_k N(mean_k, cov_k): a multi-modal law with a closed form.
 *
 * Labels (conditional models).  A model may also answer for a class: with
 * K = CEM_MODEL_LABELS > 0 classes 0 .. K-1 it gives, beside the
 * unconditional f(x, t) = E[X_0 | X_t = x], the conditional
 *   f(x, t | k) = E[X_0 | X_t = x, class k],
 * and eps, S the same way.  The label CEM_LABEL_NONE asks for the
 * unconditional answer.  A labelled EMPIRICAL model answers f(x, t | k)
 * exactly for the points of class k, a MIXTURE model for its component k,
 * an MLP with its learned label embedding (CEM_MODEL_LABELS below); a
 * sampler mixes the two answers by classifier-free guidance
 * (CEM_SAMPLER_GUIDANCE).
 * Models are reference counted: handles that depend on a model keep it
 * alive, so cem_model_free() may be called in any order.
 */
typedef struct cem_model cem_model_t;

typedef enum {
    CEM_KIND_MLP = 1,
    CEM_KIND_EMPIRICAL = 2,
    CEM_KIND_GAUSSIAN = 3,
    CEM_KIND_MIXTURE = 4
} cem_model_kind;

/* The label that asks a model for its unconditional answer. */
#define CEM_LABEL_NONE (-1)

/* How an MLP with the CEM target computes f from its network output F
 * (docs/MATH.md, "Preconditioning"):
 *   DIRECT   f = F(x, t): the paper's parameterisation;
 *   PRECOND  EDM's preconditioning in OU time, with y = x / alpha_t,
 *            s^2 = e^t - 1 = 1/lambda(t), the data's centre mu and standard
 *            deviation sd (cem_model_set_data_stats):
 *              f = mu + c_skip (y - mu) + c_out F(g c_in (y - mu), t),
 *              c_skip = sd^2/(s^2 + sd^2), c_out = s sd/sqrt(s^2 + sd^2),
 *              c_in = 1/sqrt(s^2 + sd^2), g = max(1, sqrt(E / (2 dim)))
 *            (E the time features: g gives the points as much of the
 *            first layer's input variance as the time features have);
 *            the network supplies a correction of unit variance at every
 *            t, and as t -> 0 the answer tends to y itself.
 *   PRECOND_PCA  PRECOND along the principal axes u_k of the data, each
 *            with its own sd_k (cem_model_set_data_cov): with
 *            v_k = u_k . (y - mu), the network reads g c_in v (c_in of the
 *            overall sd) and answers F_k along u_k:
 *              f = mu + sum_k u_k (c_skip(sd_k) v_k + c_out(sd_k) F_k),
 *            sd_k at least 1e-3 times the overall sd.  A direction the
 *            data do not use (sd_k ~ 0) is then held at mu by
 *            construction, where PRECOND must learn to cancel its noise
 *            (docs/MATH.md).  Without axes (only cem_model_set_data_stats)
 *            it is PRECOND.
 * Every way the model answers f, eps and S (the exact conversions). */
typedef enum {
    CEM_PARAM_DIRECT = 0,
    CEM_PARAM_PRECOND = 1,
    CEM_PARAM_PRECOND_PCA = 2
} cem_param;

/* Activations of the MLP's hidden layers. */
typedef enum {
    CEM_ACT_SILU = 0, /* x / (1 + exp(-x)) */
    CEM_ACT_RELU = 1,
    CEM_ACT_TANH = 2
} cem_activation;

/* Model options (cem_model_set / cem_model_get / cem_model_option_bounds).
 * All kinds:
 *   T_MIN  the smallest time the model is meant for (t_1); default 1e-3,
 *          bounds [1e-8, 50].  Trainers and samplers built on the model use
 *          [T_MIN, T_MAX] as their time window unless told otherwise.
 *   T_MAX  the horizon T of the forward process; default 10, bounds
 *          [0.1, 100].  Setting either so that T_MIN >= T_MAX fails with
 *          CEM_ERR_RANGE.
 *          The default window [1e-3, 10] is meant for data of unit
 *          variance.  When a trainer measures an MLP's data statistics
 *          (cem_model_set_data_stats) and neither T_MIN nor T_MAX was set,
 *          it moves the window to the data's scale: each end t becomes
 *          log1p(sd^2 expm1(t)), the time at which the noise-to-signal
 *          ratio sqrt(expm1(t)) is sd times larger, so the window covers
 *          the same noise levels relative to the data (data at any scale
 *          then train alike: docs/MATH.md).  For the unit circle (sd 0.71)
 *          that is [5.0e-4, 9.31]; a loaded model keeps its file's window.
 * MLP only (CEM_ERR_UNSUPPORTED on the other kinds):
 *   WIDTH       hidden width H; default 256, bounds [1, 8192]
 *   DEPTH       number of hidden layers L; default 3, bounds [1, 64]
 *   ACTIVATION  a cem_activation; default CEM_ACT_SILU
 *   EMBED       time features E (even); default 32, bounds [2, 1024]
 *   SEED        seed of the weight initialisation; default 0,
 *               bounds [0, 2^53]
 *   USE_EMA     1: evaluation uses the exponential moving average of the
 *               weights that training keeps (default); 0: the raw weights
 *   PARAM       a cem_param; CEM_PARAM_PRECOND_PCA for a CEM model (chosen by
 *               measurement: docs/RECIPES.md); NOISE and SCORE models are
 *               DIRECT only (PRECOND, PRECOND_PCA: CEM_ERR_UNSUPPORTED).  A model loaded
 *               from a format-1 checkpoint is DIRECT.
 * The MLP's time embedding normalises log t over [T_MIN, T_MAX], so T_MIN,
 * T_MAX, WIDTH, DEPTH, ACTIVATION, EMBED, SEED and PARAM define the network:
 * setting any of them re-initialises the weights from SEED, and fails with
 * CEM_ERR_BUSY while a trainer or a sampler holds the model (they planned
 * their memory for the network; free them first; the message says which).
 * A reference the host keeps (cem_model_retain) holds nothing.  USE_EMA may
 * be set any time.  A network of more than 2^31 parameters (WIDTH, DEPTH
 * and EMBED together) is refused with CEM_ERR_RANGE.
 * Closed-form kinds evaluate exactly at any t > 0 whatever T_MIN, T_MAX.
 * Labels:
 *   LABELS       K, the number of classes (0: none, an unconditional
 *                model); every kind answers it (a closed form's K comes
 *                from its data); MLP: default 0, bounds [0, 65536],
 *                set only on an MLP (CEM_ERR_UNSUPPORTED on the closed
 *                forms)
 *   LABEL_EMBED  C, the width of the MLP's label embedding; default 16,
 *                bounds [1, 1024]
 *   With K > 0 the MLP's input is [x, e, phi(t)]: e = E_k, row k of a
 *   learned (K + 1) x C table, for class k, and e = E_K, its last row,
 *   for CEM_LABEL_NONE (the "no label" row that the trainer's label
 *   dropout trains: one network learns the conditional and the
 *   unconditional model).  The table starts N(0, 1) (torch.nn.Embedding)
 *   from SEED.  LABELS and LABEL_EMBED define the network too (the rules
 *   above: new weights, CEM_ERR_BUSY while held). */
typedef enum {
    CEM_MODEL_T_MIN = 1,
    CEM_MODEL_T_MAX = 2,
    CEM_MODEL_WIDTH = 3,
    CEM_MODEL_DEPTH = 4,
    CEM_MODEL_ACTIVATION = 5,
    CEM_MODEL_EMBED = 6,
    CEM_MODEL_SEED = 7,
    CEM_MODEL_USE_EMA = 8,
    CEM_MODEL_PARAM = 9,
    CEM_MODEL_LABELS = 10,
    CEM_MODEL_LABEL_EMBED = 11
} cem_model_option;

/* An untrained MLP for points in R^dim whose output means `target`, with
 * the default architecture (3 hidden layers of 256, SiLU, 32 time
 * features), weights initialised as torch.nn.Linear does (uniform in
 * +-1/sqrt(fan_in)) from SEED 0.  Time embedding, with
 * tau = (log t - log T_MIN) / (log T_MAX - log T_MIN):
 *   phi(t) = [sin(pi k tau) for k = 1..E/2, cos(pi k tau) for k = 1..E/2].
 * The network maps [x, phi(t)] through L hidden layers to R^dim.
 * Requires 1 <= dim <= 4096.  Errors: CEM_ERR_ARG, CEM_ERR_NOMEM. */
CEM_API int cem_model_create_mlp(cem_model_t **out, int dim, cem_target target);

/* A model of the empirical law of `points` (n x dim, copied).
 * Requires 1 <= n <= INT_MAX, dim >= 1, finite points.  *out is NULL on
 * error.
 * Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE (names the row), CEM_ERR_NOMEM. */
CEM_API int cem_model_create_empirical(cem_model_t **out, const float *points,
                                       size_t n, int dim);

/* A model of N(mean, cov): mean has dim entries, cov is dim x dim row-major,
 * symmetric (to 1e-6 relative) and positive semi-definite (eigenvalues
 * >= -1e-6 * largest; smaller ones are taken as 0).  Both are copied.
 * Requires 1 <= dim <= 4096.  Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE, CEM_ERR_NUMERIC (not symmetric,
 * not PSD, eigensolver failure), CEM_ERR_NOMEM. */
CEM_API int cem_model_create_gaussian(cem_model_t **out, const float *mean,
                                      const float *cov, int dim);

/* The empirical law of labelled points: points (n x dim) with labels[i] in
 * 0 .. K-1 (both copied), K = the largest label + 1, and every class
 * 0 .. K-1 holding at least one point.  Unconditionally it is
 * cem_model_create_empirical's model of all the points; for class k it is
 * the empirical law of the points labelled k (the softmax over them
 * alone).  Requires what cem_model_create_empirical requires.  *out is
 * NULL on error.
 * Errors: CEM_ERR_ARG (also a label < 0, or a class without points),
 * CEM_ERR_NONFINITE, CEM_ERR_NOMEM. */
CEM_API int cem_model_create_empirical_labelled(cem_model_t **out, const float *points,
                                                const int *labels, size_t n, int dim);

/* A model of the mixture sum_k pi_k N(mean_k, cov_k) of K >= 1 Gaussians
 * in R^dim: weights (K values, finite and > 0, normalised to pi_k; NULL:
 * equal), means (K x dim) and covs (K blocks of dim x dim), each cov as
 * cem_model_create_gaussian requires; all copied.  Its classes are the
 * components: f(x, t | k) is component k's closed form (exactly
 * cem_model_create_gaussian's), and the unconditional
 *   f(x, t) = sum_k w_k(x, t) f(x, t | k),  w_k = softmax_k(log pi_k +
 *   log N(x; alpha mean_k, alpha^2 cov_k + sigma^2 I)),
 * in double (log-sum-exp).  CEM_MODEL_LABELS reads K.
 * Requires 1 <= K <= 1024, 1 <= dim <= 4096, K dim^2 <= 2^28.
 * Errors: CEM_ERR_ARG (also a weight <= 0 or not finite; the message
 * names the component), CEM_ERR_NONFINITE, CEM_ERR_NUMERIC (a cov not
 * symmetric or not PSD, naming the component), CEM_ERR_NOMEM. */
CEM_API int cem_model_create_mixture(cem_model_t **out, int K, const double *weights,
                                     const float *means, const float *covs, int dim);

/* Evaluates target `what` at n points x (n x dim) and times t[i] into out
 * (n x dim).  Times must be finite and > 0; points finite.  Const: any
 * number of threads may evaluate one model concurrently.  Allocates
 * temporary workspace (bounded, independent of n for large n).  Every value
 * written on success is finite: a result beyond float range (NOISE or
 * SCORE at a tiny t, CEM from a NOISE or SCORE network at a large t, where
 * the conversion divides by alpha_t, or a network that overflows) fails
 * with CEM_ERR_NUMERIC, naming the row, column and time.
 * Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE, CEM_ERR_NUMERIC, CEM_ERR_NOMEM;
 * on error `out` may hold partial results. */
CEM_API int cem_model_eval(cem_model_t *m, cem_target what, size_t n,
                           const float *x, const double *t, float *out);

/* The same with one time t shared by every point.  A network model then
 * computes the time's part of its first layer once per block of points
 * instead of once per point (the sampler's evaluations are these): the
 * same function as cem_model_eval at equal times; the floats may differ in
 * the last bits.  Errors: those of cem_model_eval. */
CEM_API int cem_model_eval_at(cem_model_t *m, cem_target what, size_t n,
                              const float *x, double t, float *out);

/* cem_model_eval for classes: row i's answer is for class labels[i]
 * (0 .. K-1, K = CEM_MODEL_LABELS), or the unconditional one for
 * CEM_LABEL_NONE; labels NULL means CEM_LABEL_NONE for every row, which
 * is cem_model_eval.  An unlabelled model (K = 0) takes only
 * CEM_LABEL_NONE.  Const, as cem_model_eval.
 * Errors: those of cem_model_eval, and CEM_ERR_ARG for a label outside
 * [-1, K) (naming the row). */
CEM_API int cem_model_eval_labelled(cem_model_t *m, cem_target what, size_t n,
                                    const float *x, const double *t, const int *labels,
                                    float *out);

/* Sets option `opt` of m to `value`.  Errors: CEM_ERR_ARG (NULL, unknown
 * option), CEM_ERR_RANGE (outside bounds, non-integer for an integer option,
 * or inconsistent with another option); m is unchanged on error. */
CEM_API int cem_model_set(cem_model_t *m, cem_model_option opt, double value);

/* Reads option `opt` of m into *value.  Errors: CEM_ERR_ARG. */
CEM_API int cem_model_get(const cem_model_t *m, cem_model_option opt,
                          double *value);

/* The inclusive bounds of option `opt`.  Errors: CEM_ERR_ARG. */
CEM_API int cem_model_option_bounds(cem_model_option opt, double *lo,
                                    double *hi);

/* The ambient dimension D of the model's points; -1 for NULL. */
CEM_API int cem_model_dim(const cem_model_t *m);

/* The model's kind (cem_model_kind); -1 for NULL. */
CEM_API int cem_model_kind_of(const cem_model_t *m);

/* The model's native target: what an MLP's output means; CEM_TARGET_CEM for
 * the closed forms (they compute f); -1 for NULL. */
CEM_API int cem_model_target_of(const cem_model_t *m);

/* Number of learned parameters (0 for the closed forms, 0 for NULL). */
CEM_API size_t cem_model_param_count(const cem_model_t *m);

/* Copies the MLP's parameters (ema = 0: the raw weights, 1: their moving
 * average) into out[0..n-1], n = cem_model_param_count(m).  Layout: for each
 * layer l = 0..L, the weight W_l (out x in, row-major) then the bias b_l, the
 * order and shapes of torch.nn.Sequential(Linear, act, ..., Linear)
 * .parameters(); layer 0's input is [x, phi(t)], or [x, e, phi(t)] with
 * labels, and then comes the label table ((K + 1) x C, row-major).  Const.
 * Errors: CEM_ERR_ARG (NULL, n wrong), CEM_ERR_UNSUPPORTED (not an MLP). */
CEM_API int cem_model_get_params(const cem_model_t *m, int ema, float *out, size_t n);

/* Replaces the MLP's parameters (ema = 0: raw weights, 1: moving average,
 * 2: both) from in[0..n-1], same layout.  Errors: as get, plus
 * CEM_ERR_NONFINITE (m unchanged) and CEM_ERR_BUSY (a trainer owns m). */
CEM_API int cem_model_set_params(cem_model_t *m, int ema, const float *in, size_t n);

/* The centre mu (dim values) and the standard deviation sd of the data an
 * MLP is meant for: the PRECOND parameterisation uses them (above), and a
 * sampler starts from the Gaussian they imply (CEM_SAMPLER_PRIOR).  sd is
 * one number for all coordinates: sqrt of the mean of the per-coordinate
 * variances (a library choice, docs/MATH.md).  A trainer created on a model
 * whose statistics are not set measures them from its data (population
 * mean and variance, in double) and stores them in the model; a user who
 * knows better sets them first.  Until set, the model has none: sd reads
 * 0, mu zeros, and PRECOND evaluates with mu = 0, sd = 1.  Checkpoints
 * store them.
 * set: mean NULL means zeros; sd > 0 and finite, or sd = 0 with mean NULL
 * to clear them.  Changes the function an MLP computes, so it fails with
 * CEM_ERR_BUSY while a trainer or a sampler holds the model.
 * get: mean (may be NULL) receives dim values, *sd (may be NULL) the sd.
 * Setting them this way forgets any axes cem_model_set_data_cov set.
 * Errors: CEM_ERR_ARG (NULL model, non-finite or negative values),
 * CEM_ERR_UNSUPPORTED (not an MLP), CEM_ERR_BUSY; m is unchanged on error. */
CEM_API int cem_model_set_data_stats(cem_model_t *m, const double *mean, double sd);
CEM_API int cem_model_get_data_stats(const cem_model_t *m, double *mean, double *sd);

/* The data's centre and covariance, for CEM_PARAM_PRECOND_PCA: sets mu,
 * the principal axes and their sds (the eigenvectors and the square roots
 * of the eigenvalues of cov, sd descending, each axis's largest component
 * positive) and sd = sqrt(trace(cov) / dim), so everything
 * cem_model_set_data_stats says holds with that sd.  A trainer created on
 * a PRECOND_PCA model whose statistics are not set measures the
 * covariance too (population, in double: O(n dim^2)).  Checkpoints store
 * the axes.
 * set: mean (NULL: zeros) dim values; cov dim x dim row-major, finite,
 * symmetric (to 1e-12 of its largest entry), positive semidefinite (to
 * 1e-9 of its largest eigenvalue; smaller negative ones count as 0), trace
 * > 0.  Not copied; the model keeps the axes (dim^2 doubles).  Fails with
 * CEM_ERR_BUSY while a trainer or a sampler holds the model.
 * get_data_axes: axes (may be NULL) receives dim x dim values, row k the
 * k-th axis; axis_sd (may be NULL) dim values.  A model whose statistics
 * came from cem_model_set_data_stats (or a trainer on a model that is not
 * PRECOND_PCA) answers the coordinate axes, each with the one sd; with no
 * statistics, sds of 0.
 * Errors: CEM_ERR_ARG (NULL model or cov, non-finite, asymmetric, not
 * semidefinite, zero trace), CEM_ERR_UNSUPPORTED (not an MLP),
 * CEM_ERR_NUMERIC (LAPACK failed), CEM_ERR_NOMEM, CEM_ERR_BUSY; m is
 * unchanged on error. */
CEM_API int cem_model_set_data_cov(cem_model_t *m, const double *mean, const double *cov);
CEM_API int cem_model_get_data_axes(const cem_model_t *m, double *axes, double *axis_sd);

/* The message of the last failed call that modified m ("" if none); the
 * failures of const calls (evaluation, queries) are in cem_last_error()
 * only, which is per thread. */
CEM_API const char *cem_model_errmsg(const cem_model_t *m);

/* Adds a reference to m, for a host that keeps the model in several places
 * (or keeps a trainer's model after freeing the trainer); each reference is
 * released by one cem_model_free.  Thread-safe.  Accepts NULL. */
CEM_API void cem_model_retain(cem_model_t *m);

/* Drops the caller's reference; the model is destroyed when no handle
 * depends on it any more.  Accepts NULL. */
CEM_API void cem_model_free(cem_model_t *m);

/* ---------------------------------------------------------------- trainer
 *
 * Trains an MLP model on a copy of the data.  One step draws a batch with
 * its own random stream (seed, step number): rows x0 of the data, times t
 * from the time law on the model's [T_MIN, T_MAX], noise z, and
 * x_t = alpha_t x0 + sigma_t z; the network's output net(x_t, t) is scored by
 * the model's target (docs/MATH.md 3):
 *   CEM    w(t) |f - x0|^2,   w = CEM_TRAINER_WEIGHT; f = net (DIRECT), or
 *          f from net as CEM_MODEL_PARAM says (PRECOND: the network is
 *          scored as w(t) c_out^2 |net - (x0 - mu - c_skip (y - mu))/c_out|^2,
 *          the same number)
 *   NOISE  |net - z|^2
 *   SCORE  sigma_t^2 |net + z / sigma_t|^2
 * optionally times an importance weight (CEM_TRAINER_IMPORTANCE), and the
 * batch mean is minimised with Adam or AdamW.
 *
 * The defaults were chosen by measurement (docs/RECIPES.md: seven recipes,
 * nine datasets, two t_1, three seeds): every model trains with the
 * paper's weight LAMBDA and the paper's law GRID.  With the preconditioned
 * CEM (PARAM = PRECOND or PRECOND_PCA) the paper's weight beat EDM's
 * lambda + 1/sd^2, and ADAPTIVE measured no better than GRID; for NOISE and
 * SCORE ADAPTIVE beat GRID on three curves but failed NOISE on the circle
 * in R^16.  So the paper's whole recipe is one option away:
 * cem_model_set(m, CEM_MODEL_PARAM, CEM_PARAM_DIRECT) before the trainer
 * is created.  The trainer keeps an
 * exponential moving average (EMA) of the weights in the model, which
 * evaluation uses by default (CEM_MODEL_USE_EMA).
 *
 * While a trainer exists it owns the model: the model's network-defining
 * options and parameters cannot be changed (CEM_ERR_BUSY), and the model
 * must not be evaluated concurrently with a training call.  The trainer
 * keeps a reference, so the model may be freed first.
 * Results are bitwise reproducible for a given seed, whatever THREADS (the
 * library's own products; no BLAS call in a step).
 */
typedef struct cem_trainer cem_trainer_t;

/* Weight w(t) of the CEM loss. */
typedef enum {
    CEM_WEIGHT_LAMBDA = 0,      /* 1/expm1(t) = alpha^2/sigma^2 (the paper's) */
    CEM_WEIGHT_ONE = 1,         /* 1 */
    CEM_WEIGHT_SQRT_LAMBDA = 2, /* 1/sqrt(expm1(t)) */
    CEM_WEIGHT_MIN_SNR = 3,     /* min(1/expm1(t), CEM_TRAINER_SNR_CLAMP) */
    CEM_WEIGHT_EDM = 4          /* 1/expm1(t) + 1/sd^2 (sd: the model's data
                                 * statistics): the preconditioned network's
                                 * loss is then |net - target|^2, unweighted */
} cem_weight;

typedef enum { CEM_OPTIM_ADAM = 0, CEM_OPTIM_ADAMW = 1 } cem_optimizer;

/* Trainer options (cem_trainer_set / _get / _option_bounds), with their
 * defaults and bounds (docs/TRAINING.md says why).
 *   BATCH         rows per step; 1024, [1, 65536]
 *   LR            peak learning rate; 1e-3, [0, 10]
 *   OPTIMIZER     cem_optimizer; ADAM
 *   BETA1, BETA2  Adam moments; 0.9, 0.999, [0, 1)
 *   ADAM_EPS      1e-8, [0, 1]
 *   WEIGHT_DECAY  0, [0, 1]: L2 added to the gradient (ADAM) or decoupled
 *                 decay (ADAMW), as torch.optim does
 *   WARMUP        steps of linear warm-up from lr/WARMUP to lr; 0
 *   DECAY_STEPS   steps of cosine decay from LR to LR_MIN after warm-up,
 *                 then LR_MIN; 0 = constant learning rate
 *   LR_MIN        0, [0, 10]
 *   CLIP          maximum global gradient norm; 0 = no clipping
 *   EMA           decay of the weight average; 0.995, [0, 1) (docs/TRAINING.md
 *                 has the measurement that chose it)
 *   TIME_LAW      cem_time_law; by the model (above)
 *   GRID_N        points of the exponential grid for the GRID law; 200
 *   WEIGHT        cem_weight of the CEM objective; by the model (above)
 *   SNR_CLAMP     the clamp of CEM_WEIGHT_MIN_SNR; 5, (0, 1e6]
 *   SEED          of the batches; 0, [0, 2^53]
 *   THREADS       threads that share each step (its products, row work
 *                 and optimiser); the number of online cores (at most 64),
 *                 [1, 256].  Results do not depend on it, bitwise.  The
 *                 threads live as long as the trainer; between jobs they
 *                 spin for up to 2 ms (yielding the core) and then sleep,
 *                 so an idle trainer uses no CPU; a count above the CPUs
 *                 the process may use never spins (docs/PERFORMANCE.md).
 *                 In a child of fork() (Python's multiprocessing) a
 *                 trainer made before the fork keeps working, bitwise
 *                 alike, its threads' work done on the calling thread.
 *   LOGNORMAL_MEAN, LOGNORMAL_STD
 *                 P_mean and P_std of the LOGNORMAL law; -1.2, [-20, 20]
 *                 and 1.2, [0.01, 20] (EDM's)
 *   IMPORTANCE    1: each row's loss is multiplied by p(t)/q(t), q the time
 *                 law's density and p the log-uniform density on
 *                 [T_MIN, T_MAX], so that the objective is the log-uniform
 *                 law's whatever law draws the times (fewer draws where
 *                 the loss cannot fall, the same expected loss); 0: no
 *                 weight (default).  Weight 1 for GRID and LOGUNIFORM.
 *   ADAPT_FLOOR   the ADAPTIVE law's share of draws spread log-uniformly
 *                 over [T_MIN, T_MAX], so that no time starves; 0.25,
 *                 [0.01, 1].  The ADAPTIVE law cuts log t into
 *                 CEM_TRAINER_LAW_BINS equal bins, draws log-uniformly
 *                 inside a bin, and gives bin b the share
 *                   ADAPT_FLOOR / K + (1 - ADAPT_FLOOR) e_b / sum_c e_c,
 *                 e_b = max(0, L_b - L*_b): L_b the moving average (decay
 *                 0.98 a step) of the bin's per-row loss, L*_b the smallest
 *                 loss the bin can reach, measured when the trainer is
 *                 made with the exact model of (up to 16,384 of) the
 *                 training points on 2,048 draws per bin from a stream of
 *                 SEED (their standard error, 1-4% of the floors on the
 *                 circle, moves the shares: docs/RECIPES.md).  Until every bin has been seen, and while no
 *                 bin is above its floor, it is log-uniform.
 *   LABEL_DROPOUT the probability that a labelled row of a drawn batch is
 *                 trained as CEM_LABEL_NONE instead (classifier-free
 *                 guidance's label dropout: the unconditional model is
 *                 learned from the same rows); 0.1, [0, 1].  Drawn per
 *                 row from its own stream of (SEED, step), so it changes
 *                 no other draw; unlabelled training ignores it.
 *   ACCUMULATE    A, the micro-batches each step's batch is computed in,
 *                 one after another, their gradients added in order
 *                 (gradient accumulation: the network's workspace holds
 *                 one micro-batch, about BATCH / A rows); 1, [1, 4096].
 *                 Micro-batch m covers rows [e(m B / A), e((m + 1) B / A))
 *                 of a batch of B rows, e(x) = x rounded down to even (the
 *                 last ends at B; with A > B / 2 some are empty and add
 *                 nothing).  The batch, the loss and
 *                 every row's terms are those of A = 1; the sums differ in
 *                 the last bits.  It is the unit that data-parallel
 *                 trainers share (cem_trainer_set_reduce): with the same
 *                 A, any number of them gives bitwise the result of one.
 * Options may change between steps; BATCH, ACCUMULATE and THREADS
 * reallocate the workspace; WEIGHT, SNR_CLAMP, SEED and TIME_LAW = ADAPTIVE
 * re-measure the ADAPTIVE law's floors (which allocates). */
typedef enum {
    CEM_TRAINER_BATCH = 1,
    CEM_TRAINER_LR = 2,
    CEM_TRAINER_OPTIMIZER = 3,
    CEM_TRAINER_BETA1 = 4,
    CEM_TRAINER_BETA2 = 5,
    CEM_TRAINER_ADAM_EPS = 6,
    CEM_TRAINER_WEIGHT_DECAY = 7,
    CEM_TRAINER_WARMUP = 8,
    CEM_TRAINER_DECAY_STEPS = 9,
    CEM_TRAINER_LR_MIN = 10,
    CEM_TRAINER_CLIP = 11,
    CEM_TRAINER_EMA = 12,
    CEM_TRAINER_TIME_LAW = 13,
    CEM_TRAINER_GRID_N = 14,
    CEM_TRAINER_WEIGHT = 15,
    CEM_TRAINER_SNR_CLAMP = 16,
    CEM_TRAINER_SEED = 17,
    CEM_TRAINER_THREADS = 18,
    CEM_TRAINER_LOGNORMAL_MEAN = 19,
    CEM_TRAINER_LOGNORMAL_STD = 20,
    CEM_TRAINER_IMPORTANCE = 21,
    CEM_TRAINER_ADAPT_FLOOR = 22,
    CEM_TRAINER_LABEL_DROPOUT = 23,
    CEM_TRAINER_ACCUMULATE = 24
} cem_trainer_option;

/* Called after every accepted step with the step count so far and that
 * step's loss; a non-zero return stops cem_trainer_run after that step
 * (which then returns CEM_ERR_STOPPED).
 * The callback contract (this one and cem_sampler_progress_fn): it runs on
 * the thread that called the run, between steps (or blocks), never
 * concurrently with itself; it may call no function on the handle that
 * runs it (nor on that handle's model), and it must not unwind through the
 * library (no C++ exception, no longjmp): catch, remember, return non-zero,
 * and raise after the run returns. */
typedef int (*cem_progress_fn)(long step, double loss, void *user);

/* A trainer for the MLP model m on a copy of data (n x dim, dim equal to
 * the model's).  Requires 2 <= n <= INT_MAX and finite data; when the
 * trainer measures the data's statistics (the model has none), the points
 * must not all be equal.  *out is NULL on error.
 * Errors: CEM_ERR_ARG, CEM_ERR_UNSUPPORTED (m is not an MLP),
 * CEM_ERR_NONFINITE (names the row), CEM_ERR_BUSY (another trainer owns
 * m), CEM_ERR_NOMEM. */
CEM_API int cem_trainer_create(cem_trainer_t **out, cem_model_t *m, const float *data,
                               size_t n, int dim);

/* A trainer on labelled data: labels[i] (copied) is the class of row i,
 * in 0 .. K-1 for the model's K = CEM_MODEL_LABELS > 0, or
 * CEM_LABEL_NONE for a row without a class (it then trains only the
 * unconditional model).  A drawn row keeps its label but for the label
 * dropout (CEM_TRAINER_LABEL_DROPOUT); everything else is as
 * cem_trainer_create (the same batches: the rows, times and noise do not
 * depend on the labels).  cem_trainer_create on a labelled model trains
 * every row as CEM_LABEL_NONE.
 * Errors: those of cem_trainer_create, and CEM_ERR_ARG (labels NULL, a
 * model without labels, a label outside [-1, K): names the row). */
CEM_API int cem_trainer_create_labelled(cem_trainer_t **out, cem_model_t *m,
                                        const float *data, const int *labels, size_t n,
                                        int dim);

/* Runs `steps` optimisation steps (>= 0) and writes the mean of their
 * losses to *mean_loss (may be NULL; NaN when no step ran).  Stops early
 * when the progress callback asks, returning CEM_ERR_STOPPED (the steps
 * done are kept, as after any failure here; a request after the last step
 * stops nothing).  A step whose loss or
 * gradient is not finite, or whose update would not be (a sample's loss,
 * an optimiser moment, a weight or its average: a finite gradient's square
 * can overflow float), is rejected: weights, moments, EMA and step count
 * stay bitwise as they were before it, and the call returns
 * CEM_ERR_NONFINITE_STEP (the steps before it are kept).  Allocates
 * nothing.  Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE_STEP, CEM_ERR_STOPPED,
 * CEM_ERR_REDUCE (a data-parallel reduce callback failed:
 * cem_trainer_set_reduce). */
CEM_API int cem_trainer_run(cem_trainer_t *tr, long steps, double *mean_loss);

/* One step on a batch the caller gives: x0 and z are B x dim (finite), t
 * has B times in (0, inf), 1 <= B <= CEM_TRAINER_BATCH.  The learning-rate
 * schedule, EMA, step count and time bins advance as in cem_trainer_run.
 * A batch whose loss or gradient is not finite (finite inputs can still
 * overflow: |z| ~ 1e20, or t so small that the weight 1/expm1(t) does), or
 * whose update would not be, is rejected as in cem_trainer_run, the trainer
 * unchanged.  *loss (may be
 * NULL) receives the loss, NaN on error.
 * Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE (x0 or z; names the row),
 * CEM_ERR_NONFINITE_STEP. */
CEM_API int cem_trainer_step_batch(cem_trainer_t *tr, int B, const float *x0,
                                   const double *t, const float *z, double *loss);

/* The same with a label per row (labels[i] in [-1, K), used as given: no
 * dropout); cem_trainer_step_batch trains every row as CEM_LABEL_NONE.
 * Errors: those of cem_trainer_step_batch, and CEM_ERR_ARG for labels
 * NULL or a label outside [-1, K). */
CEM_API int cem_trainer_step_batch_labelled(cem_trainer_t *tr, int B, const float *x0,
                                            const int *labels, const double *t,
                                            const float *z, double *loss);

/* The loss on a given batch and, when grad is not NULL, its gradient with
 * respect to the raw parameters (cem_model_param_count floats, the layout
 * of cem_model_get_params).  Changes nothing.  The batch is checked as
 * cem_trainer_step_batch checks it (one check): CEM_OK exactly when a step
 * on it would be taken, and then the loss and every gradient entry are
 * finite; a loss, gradient or update that is not finite (even with grad
 * NULL) fails with CEM_ERR_NONFINITE_STEP.  The gradient is the loss's, not
 * clipped (CEM_TRAINER_CLIP applies to steps).  On error *loss (may be
 * NULL) is NaN and grad is not written.  Errors: as step_batch. */
CEM_API int cem_trainer_loss_batch(cem_trainer_t *tr, int B, const float *x0,
                                   const double *t, const float *z, double *loss,
                                   float *grad);

/* The same with a label per row, as cem_trainer_step_batch_labelled. */
CEM_API int cem_trainer_loss_batch_labelled(cem_trainer_t *tr, int B, const float *x0,
                                            const int *labels, const double *t,
                                            const float *z, double *loss, float *grad);

/* Sets the progress callback (fn NULL: none).  Errors: CEM_ERR_ARG (tr
 * NULL). */
CEM_API int cem_trainer_set_progress(cem_trainer_t *tr, cem_progress_fn fn, void *user);

/* Data-parallel training (docs/SCALING.md): `world` cooperating trainers,
 * typically one per process, made alike (the same model options, data,
 * labels and trainer options, or loaded from the same checkpoint), share
 * every step of cem_trainer_run.  Each draws the step's batch as a single
 * trainer does (the rows' random streams do not depend on world), and
 * trainer `rank` computes the micro-batches [rank A / world,
 * (rank + 1) A / world) of its ACCUMULATE = A (integer division; a rank
 * may have none, so A < world wastes ranks).  Before the optimiser step it
 * hands its parts to the reduce callback:
 *   grad   `parts` blocks of n floats, block p the gradient of micro-batch
 *          first + p (its share of the batch mean's gradient), and room
 *          for one block when parts = 0;
 *   stats  `parts` blocks of m doubles: the same micro-batches' loss and
 *          time-bin sums (their layout is the library's; sum them
 *          elementwise like the gradient);
 * and the callback must leave in grad[0 .. n-1] and stats[0 .. m-1], on
 * every rank, the sums over all A micro-batches of the step.  Added in
 * micro-batch order (float for grad, double for stats: ((g_0 + g_1) +
 * g_2) + ...), the result is bitwise that of one trainer with the same A;
 * an unordered all-reduce (MPI_Allreduce) is equal to round-off.  It
 * returns 0, or non-zero to fail the step: cem_trainer_run then returns
 * CEM_ERR_REDUCE with the trainer as it was before the step.  Everything
 * after the reduction (clipping, the NaN guard, Adam, EMA, the schedule,
 * the time bins and the time law) sees the reduced sums, so every rank
 * holds the same parameters after every step.  The callback runs on the
 * thread that called cem_trainer_run, once a step, and may block; it is
 * not called by cem_trainer_step_batch and cem_trainer_loss_batch (they
 * compute the caller's batch alone).  The callback contract of
 * cem_progress_fn holds.
 * rank and world are not options: checkpoints do not store them, so a run
 * saved by world = 2 trainers resumes with 1 or 4 (the micro-batches, not
 * the ranks, define the arithmetic).  world = 1 with fn NULL is a single
 * trainer again.  Errors: CEM_ERR_ARG (tr NULL, world < 1, rank outside
 * [0, world), fn NULL with world > 1), CEM_ERR_NOMEM (the parts' buffers,
 * planned again when the callback or world changes them); tr is unchanged
 * on error. */
typedef int (*cem_reduce_fn)(float *grad, size_t n, double *stats, size_t m, int first,
                             int parts, void *user);
CEM_API int cem_trainer_set_reduce(cem_trainer_t *tr, int rank, int world, cem_reduce_fn fn,
                                   void *user);

/* Steps taken so far (-1 for NULL). */
CEM_API long cem_trainer_steps(const cem_trainer_t *tr);

/* Where the loss is: the mean per-sample loss of every step since the last
 * reset, in CEM_TRAINER_BINS bins of log t over [T_MIN, T_MAX].
 * Superseded by cem_trainer_time_bins_n (kept: published).  Writes
 * mean[CEM_TRAINER_BINS] (NaN for an empty bin), count[CEM_TRAINER_BINS]
 * and edges[CEM_TRAINER_BINS + 1]; any of them may be NULL.  reset != 0
 * clears the bins after reading.  Errors: CEM_ERR_ARG. */
#define CEM_TRAINER_BINS 8
CEM_API int cem_trainer_time_bins(cem_trainer_t *tr, double *mean, long *count,
                                  double *edges, int reset);

/* The time law as it is now, in CEM_TRAINER_LAW_BINS equal bins of log t
 * over [T_MIN, T_MAX] (superseded by cem_trainer_law_bins_n; kept:
 * published): prob[b], the share of draws that land in bin b
 * (for any law); for the ADAPTIVE law, loss[b] its moving-average loss
 * (NaN until seen) and floor[b] the smallest loss it can reach (NaN for
 * the other laws); edges[CEM_TRAINER_LAW_BINS + 1].  Any output may be
 * NULL.  Errors: CEM_ERR_ARG. */
#define CEM_TRAINER_LAW_BINS 16
CEM_API int cem_trainer_law_bins(const cem_trainer_t *tr, double *prob, double *loss,
                                 double *floor, double *edges);

/* cem_trainer_time_bins and cem_trainer_law_bins with the length of the
 * caller's buffers, so that no buffer is sized by a macro alone: nbins must
 * be CEM_TRAINER_BINS (time bins) or CEM_TRAINER_LAW_BINS (law bins) as this
 * library defines them, each buffer holding nbins values (edges nbins + 1);
 * CEM_ERR_ARG otherwise, with nothing written.  Prefer these. */
CEM_API int cem_trainer_time_bins_n(cem_trainer_t *tr, size_t nbins, double *mean,
                                    long *count, double *edges, int reset);
CEM_API int cem_trainer_law_bins_n(const cem_trainer_t *tr, size_t nbins, double *prob,
                                   double *loss, double *floor, double *edges);

/* Options; same contract as the model's. */
CEM_API int cem_trainer_set(cem_trainer_t *tr, cem_trainer_option opt, double value);
CEM_API int cem_trainer_get(const cem_trainer_t *tr, cem_trainer_option opt,
                            double *value);
CEM_API int cem_trainer_option_bounds(cem_trainer_option opt, double *lo, double *hi);

/* The model being trained (the trainer's reference; do not free it). */
CEM_API cem_model_t *cem_trainer_model(const cem_trainer_t *tr);

/* The last error message recorded on tr ("" if none). */
CEM_API const char *cem_trainer_errmsg(const cem_trainer_t *tr);

/* Releases tr and its reference to the model, which becomes free to
 * change again.  Accepts NULL. */
CEM_API void cem_trainer_free(cem_trainer_t *tr);

/* ---------------------------------------------------------------- sampler
 *
 * Integrates the reverse-time SDE (or the probability-flow ODE) from
 * y ~ N(0, I) at t = T down to t = t_1 on a time grid, asking the model for
 * f at every step (a SCORE or NOISE model goes through the exact
 * conversion), docs/MATH.md 5.  Plan, then execute: the grid, the step
 * coefficients and all workspace are made when the sampler is created or
 * an option changes; cem_sampler_run allocates nothing and may be called
 * any number of times.
 *
 * Each output row draws from its own random stream (seed, row index): the
 * same seed gives bitwise the same samples at any thread count, and
 * generating 2n rows gives the same first n rows as generating n.
 * A sampler keeps a reference to its model.  Several samplers may run
 * concurrently on one model that nobody is training; one sampler must not
 * run concurrently with itself.
 */
typedef struct cem_sampler cem_sampler_t;

/* Integrators (one step from t to s < t, h = t - s, fh = f(y, t), xi ~ N(0,I)):
 *   SPLITTING  the paper's: the singular drift explicitly with frozen fh,
 *              y += (h / sigma_t^2)(alpha_t fh - y), then the OU part
 *              exactly, y = exp(h/2) y + sqrt(expm1(h)) xi (library's
 *              reading of the paper, docs/SAMPLING.md)
 *   EULER      Euler-Maruyama on the reverse SDE
 *   ANCESTRAL  the exact Gaussian transition when X_0 = fh (DDPM posterior)
 *   ODE        probability flow, DDIM form, deterministic
 *   HEUN       probability flow, second order (Heun in sigma/alpha, as EDM);
 *              two model evaluations per step
 * and the few-step methods of DPM-Solver++ (Lu et al. 2022), which
 * integrate the data prediction f exactly in the log-SNR
 * lambda = log(alpha_t / sigma_t), h = lambda_s - lambda_t, and reuse the
 * model's values at the previous grid points (multistep: one evaluation a
 * step).  They take first-order steps at the start (DPMPP_2M: the first
 * step; DPMPP_3M: first then second order) and, when the grid has fewer
 * than 10 steps, lower the order again over the last steps (3M: second,
 * then first order; 2M: the last step first order):
 *   DPMPP_2M      probability flow, second order (DPM-Solver++(2M))
 *   DPMPP_2M_SDE  the reverse SDE, its linear part and noise exactly and f
 *                 extrapolated as in 2M (SDE-DPM-Solver++(2M), midpoint
 *                 form); its first step is the ANCESTRAL step
 *   DPMPP_3M      probability flow, third order (DPM-Solver++(3M))
 * A run evaluates the model (N - 1) x (1, or 2 for HEUN) times, plus once
 * to denoise (DENOISE).  docs/SAMPLING.md has the measured orders.    */
typedef enum {
    CEM_INTEG_SPLITTING = 0,
    CEM_INTEG_EULER = 1,
    CEM_INTEG_ANCESTRAL = 2,
    CEM_INTEG_ODE = 3,
    CEM_INTEG_HEUN = 4,
    CEM_INTEG_DPMPP_2M = 5,
    CEM_INTEG_DPMPP_2M_SDE = 6,
    CEM_INTEG_DPMPP_3M = 7
} cem_integrator;

/* The integrator's name, its enum name in lower case ("splitting", "euler",
 * "ancestral", "ode", "heun", "dpmpp_2m", "dpmpp_2m_sde", "dpmpp_3m"), a
 * static string, or NULL for a value that is not a cem_integrator: a host
 * lists the integrators by counting up from 0 until NULL.  Never fails. */
CEM_API const char *cem_integrator_name(cem_integrator id);

/* Sampler options.
 *   INTEGRATOR  cem_integrator; SPLITTING
 *   GRID        cem_grid; EXPONENTIAL (few steps of DPMPP_*: LOGSNR or
 *               EDM, docs/SAMPLING.md)
 *   STEPS       N, the number of grid points (N - 1 steps); 200, [2, 1e6]
 *   T_MIN       t_1, the last time; the model's T_MIN, [1e-8, 50]
 *   T_MAX       T, the first time; the model's T_MAX, [0.1, 100];
 *               T_MIN < T_MAX is required (CEM_ERR_RANGE)
 *   DENOISE     1: return f(y, t_1), the denoised point (default);
 *               0: return y itself
 *   SEED        of the row streams; 0, [0, 2^53]
 *   THREADS     threads that run blocks of 256 rows; the number of online
 *               cores (at most 64), [1, 256]; results do not depend on it.
 *               They live as long as the plan and sleep between runs
 *               (after at most 2 ms of spinning).  After fork(), as the
 *               trainer's (above)
 *   TRAJ_ROWS   rows whose trajectory is recorded (the first ones of each
 *               run); 0, [0, 1024]
 *   TRAJ_EVERY  record every k-th step (and the first and last);
 *               1, [1, 1e6]
 *   PRIOR       the law of y at T: 1 (default), the Gaussian that matches
 *               the model's data statistics, N(alpha_T mu, (alpha_T^2 sd^2
 *               + sigma_T^2) I), exact at T for data N(mu, sd^2 I) and
 *               N(0, I) for a model without statistics; 0, N(0, I), the
 *               paper's.  Data far from the origin (|mu| alpha_T not
 *               small) need 1.
 *   LABEL       the class every row is sampled from (rows of
 *               cem_sampler_run_labelled take theirs from its labels);
 *               CEM_LABEL_NONE (default): the unconditional model;
 *               [-1, 65535], and below the model's CEM_MODEL_LABELS
 *               (CEM_ERR_RANGE)
 *   GUIDANCE    w, classifier-free guidance (Ho and Salimans 2022): a
 *               labelled row integrates with
 *                 f_w = (1 + w) f(y, t | k) - w f(y, t),
 *               two model evaluations a step (one for w = 0, the plain
 *               conditional model, and for unlabelled rows); 0,
 *               [0, 100].  w > 0 trades diversity for fidelity to the
 *               class (docs/REPORT.md measures both).
 *   IMPUTE      how cem_sampler_impute conditions on the known coordinates
 *               (a cem_impute); REPAINT
 *   JUMP_LENGTH r, RePaint's jump length (grid steps); 10, [1, 1e6]
 *   JUMPS       j, RePaint's resampling count: each time the descent
 *               reaches a grid index that is a multiple of r (and at
 *               least r below T) it goes back up r steps (the forward
 *               process, exactly) and down again, j times; 10, [0, 1000]
 *               (0: the plain replacement method, biased: docs/SAMPLING.md
 *               measures both).  A run then takes
 *               (N - 1)(1 + j) steps (fewer near T).  Multistep
 *               integrators (DPMPP_*) need j = 0 (CEM_ERR_UNSUPPORTED).
 *   RECON_WEIGHT  w_r of reconstruction guidance (IMPUTE = RECONSTRUCT);
 *               1, [0, 1e4]
 * LABEL, GUIDANCE, SEED, DENOISE, JUMP_LENGTH, JUMPS and RECON_WEIGHT
 * change a number without re-planning; IMPUTE re-plans (RECONSTRUCT's
 * workspace holds the Jacobian of a block of rows). */
typedef enum {
    CEM_SAMPLER_INTEGRATOR = 1,
    CEM_SAMPLER_GRID = 2,
    CEM_SAMPLER_STEPS = 3,
    CEM_SAMPLER_T_MIN = 4,
    CEM_SAMPLER_T_MAX = 5,
    CEM_SAMPLER_DENOISE = 6,
    CEM_SAMPLER_SEED = 7,
    CEM_SAMPLER_THREADS = 8,
    CEM_SAMPLER_TRAJ_ROWS = 9,
    CEM_SAMPLER_TRAJ_EVERY = 10,
    CEM_SAMPLER_PRIOR = 11,
    CEM_SAMPLER_LABEL = 12,
    CEM_SAMPLER_GUIDANCE = 13,
    CEM_SAMPLER_IMPUTE = 14,
    CEM_SAMPLER_JUMP_LENGTH = 15,
    CEM_SAMPLER_JUMPS = 16,
    CEM_SAMPLER_RECON_WEIGHT = 17
} cem_sampler_option;

/* Imputation methods (CEM_SAMPLER_IMPUTE): how the reverse process is held
 * to the known coordinates x_K of a row (docs/SAMPLING.md, "Imputation"):
 *   REPAINT      the replacement method with resampling (Lugmayr et al.
 *                2022): after every step the known coordinates of y are
 *                replaced by alpha_s x_K + sigma_s z, a fresh draw of the
 *                forward process at the step's end time s; with JUMPS > 0
 *                the descent goes back up and down (above) so that the
 *                unknown coordinates can agree with the known ones
 *   RECONSTRUCT  replacement plus reconstruction guidance (Ho et al.
 *                2022): the unknown coordinates U of f are corrected by
 *                the gradient of the known ones' reconstruction error,
 *                  f_U += w_r alpha_t J_KU^T (x_K - f_K(y, t)),
 *                J = df/dy the model's Jacobian (forward mode, D products
 *                a row and step); unlabelled rows only (CEM_ERR_UNSUPPORTED
 *                with labels) */
typedef enum {
    CEM_IMPUTE_REPAINT = 0,
    CEM_IMPUTE_RECONSTRUCT = 1
} cem_impute;

/* A sampler on model m (any kind) with the default options.  *out is NULL
 * on error.  It only reads m and takes a reference to it, so several
 * threads may create and run samplers on one model at once (each sampler
 * used by one thread at a time); while samplers exist, m's setters fail
 * with CEM_ERR_BUSY.  Errors: CEM_ERR_ARG, CEM_ERR_NOMEM. */
CEM_API int cem_sampler_create(cem_sampler_t **out, cem_model_t *m);

/* Generates n samples (n x dim, row-major) into out: rows 0 .. n-1 of the
 * seed's streams.  n = 0 does nothing.  Allocates nothing.
 * When some rows end non-finite (a learned SCORE or NOISE model can blow up
 * near t_1), those rows are NaN, the others are valid, the count is
 * available from cem_sampler_diverged_rows, and the call returns
 * CEM_ERR_DIVERGED.  Errors: CEM_ERR_ARG, CEM_ERR_DIVERGED. */
CEM_API int cem_sampler_run(cem_sampler_t *s, size_t n, float *out);

/* The same for rows first .. first + n - 1 of the streams: a large sample
 * can be made in pieces, bitwise equal to one run.  Row indices end below
 * SIZE_MAX - 256 (CEM_ERR_ARG beyond). */
CEM_API int cem_sampler_run_rows(cem_sampler_t *s, size_t first, size_t n, float *out);

/* The same with a class per row: row first + i is sampled from class
 * labels[i] (in [-1, K), K = the model's CEM_MODEL_LABELS; CEM_LABEL_NONE:
 * unconditional), guided by CEM_SAMPLER_GUIDANCE; labels NULL means
 * CEM_SAMPLER_LABEL for every row, which is cem_sampler_run_rows.  A row's
 * sample depends on its index and its label only.
 * Errors: those of cem_sampler_run_rows, and CEM_ERR_ARG for a label
 * outside [-1, K) (naming the row; nothing is run). */
CEM_API int cem_sampler_run_labelled(cem_sampler_t *s, size_t first, size_t n,
                                     const int *labels, float *out);

/* Imputation: fills the missing coordinates of n partial points x (n x
 * dim) with a draw from the model's law conditioned on the known ones
 * (exact for an exact model in the limit of many resamplings; the
 * method is CEM_SAMPLER_IMPUTE).  known (n x dim, may be NULL) marks the
 * known coordinates with 1 and the missing ones with 0; the missing
 * entries of x are then not read (they may be NaN).  With known NULL the
 * missing coordinates are those where x is NaN (and every other entry
 * must be finite).  out (n x dim) receives the completed points: the known
 * coordinates bitwise as given, the missing ones sampled (f(y, t_1) with
 * DENOISE, y(t_1) without).  A row with nothing missing is copied; a row
 * with nothing known is a sample of the model's law (bitwise the ordinary
 * sample of its row when JUMPS = 0).  Row first + i draws from
 * stream (SEED, first + i) and depends on nothing else; labels (may be
 * NULL) as cem_sampler_run_labelled, with GUIDANCE.  Records no
 * trajectory.  Allocates nothing.
 * Errors: those of cem_sampler_run_labelled, CEM_ERR_NONFINITE (a known
 * entry is NaN or Inf; with known NULL, an Inf), CEM_ERR_UNSUPPORTED
 * (JUMPS > 0 with a multistep integrator; RECONSTRUCT with labels). */
CEM_API int cem_sampler_impute(cem_sampler_t *s, size_t first, size_t n, const float *x,
                               const unsigned char *known, const int *labels, float *out);

/* Called by cem_sampler_run and _run_rows after each wave of blocks (one
 * block of rows per thread) with the rows of the request finished so far,
 * always a prefix of it, and the rows requested; a non-zero return stops
 * the run there: the call returns CEM_ERR_STOPPED, rows [0, done) of out
 * hold their samples (bitwise those of a whole run) and the rest are
 * unspecified.  The contract of cem_progress_fn holds. */
typedef int (*cem_sampler_progress_fn)(size_t done, size_t total, void *user);

/* Sets the sampler's progress callback (fn NULL: none, and a run goes in
 * one wave).  Errors: CEM_ERR_ARG. */
CEM_API int cem_sampler_set_progress(cem_sampler_t *s, cem_sampler_progress_fn fn,
                                     void *user);

/* Rows of the last run that ended non-finite (0 for NULL). */
CEM_API size_t cem_sampler_diverged_rows(const cem_sampler_t *s);

/* The time grid of the plan, increasing: times[0] = t_1, times[N-1] = T
 * (N = CEM_SAMPLER_STEPS doubles).  Errors: CEM_ERR_ARG. */
CEM_API int cem_sampler_times(const cem_sampler_t *s, double *times);

/* The recorded trajectory of the last run: *snaps snapshots (the start at
 * T, every TRAJ_EVERY-th step, and the end at t_1 before denoising) of
 * *rows rows, the run's first min(n, TRAJ_ROWS) (of those done when a
 * progress callback stopped it); 0 snapshots of 0 rows before the first
 * run, after an imputation, and after an option change that re-plans.  Call with out = NULL to learn the sizes; then out holds
 * snaps x rows x dim floats (snapshot-major) and times (may be NULL) the
 * snaps times.  Errors: CEM_ERR_ARG. */
CEM_API int cem_sampler_trajectory(const cem_sampler_t *s, size_t *snaps, size_t *rows,
                                   float *out, double *times);

/* Options; same contract as the model's.  Setting an option other than
 * those that change a number (above) re-plans (and may fail with
 * CEM_ERR_NOMEM, leaving the old plan). */
CEM_API int cem_sampler_set(cem_sampler_t *s, cem_sampler_option opt, double value);
CEM_API int cem_sampler_get(const cem_sampler_t *s, cem_sampler_option opt,
                            double *value);
CEM_API int cem_sampler_option_bounds(cem_sampler_option opt, double *lo, double *hi);

/* The last error message recorded on s ("" if none). */
CEM_API const char *cem_sampler_errmsg(const cem_sampler_t *s);

/* Releases s and its reference to the model.  Accepts NULL. */
CEM_API void cem_sampler_free(cem_sampler_t *s);

/* ------------------------------------------------------- the probability flow
 *
 * The deterministic ODE that carries p_t1 to p_T (docs/SAMPLING.md,
 * "Likelihood"): in tau = ln(e^t - 1), where it has no singularity,
 *   dy/dtau   = (alpha/2) (alpha y - f(y, t)),
 *   dell/dtau = (alpha/2) (alpha dim - tr J(y, t)),   J = df/dy,
 * and log p_t1(x) = log p_T(y(T)) + ell(T) along the path from y(t1) = x.
 * A flow integrates it with an adaptive embedded Runge-Kutta method
 * (Dormand-Prince 5(4)), each row with its own steps, so a row's results
 * depend only on the row, never on the others, the thread count or how
 * the rows are split among calls.  tr J is exact (dim products of J with
 * the basis vectors, through the network in forward mode or in closed
 * form for the closed-form kinds) when dim <= EXACT_DIM, else
 * Hutchinson's estimate (1/P) sum_p e_p.J e_p with P = PROBES Rademacher
 * vectors e_p drawn per row from (SEED, row), unbiased.
 * p_T is the sampler's prior (CEM_SAMPLER_PRIOR = 1): the Gaussian
 * N(m_T, s_T^2 I) of the model's data statistics, or N(0, I) without
 * them.  The latent of a point is z = (y(T) - m_T) / s_T, ~ N(0, I) when
 * the model is exact.
 *
 * Like a sampler, a flow plans its workspace when options change and runs
 * allocate nothing; it keeps a reference to its model, several flows may
 * run concurrently on one model nobody is training, and one flow must not
 * run concurrently with itself.
 */
typedef struct cem_flow cem_flow_t;

/* Flow options.
 *   RTOL, ATOL  the step control's tolerances on every component of
 *               (y, ell): |error| <= ATOL + RTOL |value|; 1e-5 each,
 *               [1e-12, 1e-1]
 *   T_MIN       t_1, where the points are; the model's T_MIN, [1e-8, 50]
 *   T_MAX       T, the end of the flow; the model's T_MAX, [0.1, 100];
 *               T_MIN < T_MAX is required (CEM_ERR_RANGE)
 *   EXACT_DIM   the largest dim whose divergence is exact; 64, [0, 4096]
 *   PROBES      Hutchinson's probes per row; 4, [1, 1024]
 *   SEED        of the probes; 0, [0, 2^53]
 *   THREADS     threads that run blocks of rows; the number of online
 *               cores (at most 64), [1, 256]; results do not depend on it
 *   MAX_STEPS   accepted and rejected steps a row may take; 10000,
 *               [10, 1e7]                                              */
typedef enum {
    CEM_FLOW_RTOL = 1,
    CEM_FLOW_ATOL = 2,
    CEM_FLOW_T_MIN = 3,
    CEM_FLOW_T_MAX = 4,
    CEM_FLOW_EXACT_DIM = 5,
    CEM_FLOW_PROBES = 6,
    CEM_FLOW_SEED = 7,
    CEM_FLOW_THREADS = 8,
    CEM_FLOW_MAX_STEPS = 9
} cem_flow_option;

/* A flow on model m (any kind) with the default options.  *out is NULL on
 * error.  Takes a reference to m; while flows exist, m's setters fail with
 * CEM_ERR_BUSY, as with samplers.  Errors: CEM_ERR_ARG, CEM_ERR_NOMEM. */
CEM_API int cem_flow_create(cem_flow_t **out, cem_model_t *m);

/* log p_t1(x) of the model at n points x (n x dim) into logp (n), in
 * nats, and, when evals is not NULL, the evaluations of the ODE's
 * right-hand side each row took (evals[i]; each is one model evaluation
 * with dim Jacobian products when dim <= EXACT_DIM, PROBES of them
 * otherwise).  n = 0 does nothing.  Allocates
 * nothing.  When a row fails (its path leaves float range, or needs more
 * than MAX_STEPS steps) its logp is NaN, the other rows are valid, and the
 * call returns CEM_ERR_NUMERIC naming the first such row.
 * Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE (x), CEM_ERR_NUMERIC. */
CEM_API int cem_flow_logprob(cem_flow_t *f, size_t n, const float *x, double *logp,
                             size_t *evals);

/* The encoder: the latents z (n x dim) of the points x (n x dim), through
 * the ODE from t_1 to T.  The decoder: the points x at t_1 of the latents
 * z, through the ODE from T back to t_1; decode(encode(x)) = x to the
 * tolerances.  Failed rows as in cem_flow_logprob (NaN rows,
 * CEM_ERR_NUMERIC).  Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE, CEM_ERR_NUMERIC. */
CEM_API int cem_flow_encode(cem_flow_t *f, size_t n, const float *x, float *z);
CEM_API int cem_flow_decode(cem_flow_t *f, size_t n, const float *z, float *x);

/* Called after each wave of blocks (one block of rows per thread) with the
 * rows finished so far and the rows requested, as cem_sampler_progress_fn:
 * a non-zero return stops the call, which returns CEM_ERR_STOPPED with the
 * finished prefix of the outputs valid.  fn NULL: none.
 * Errors: CEM_ERR_ARG. */
CEM_API int cem_flow_set_progress(cem_flow_t *f, cem_sampler_progress_fn fn, void *user);

/* Options; same contract as the sampler's.  Setting T_MAX, EXACT_DIM,
 * PROBES or THREADS re-plans (and may fail with CEM_ERR_NOMEM, leaving the
 * old plan); the others only change a number. */
CEM_API int cem_flow_set(cem_flow_t *f, cem_flow_option opt, double value);
CEM_API int cem_flow_get(const cem_flow_t *f, cem_flow_option opt, double *value);
CEM_API int cem_flow_option_bounds(cem_flow_option opt, double *lo, double *hi);

/* The last error message recorded on f ("" if none). */
CEM_API const char *cem_flow_errmsg(const cem_flow_t *f);

/* Releases f and its reference to the model.  Accepts NULL. */
CEM_API void cem_flow_free(cem_flow_t *f);

/* ------------------------------------------------------------- checkpoints
 *
 * A versioned binary format (docs/CHECKPOINT.md): magic, format version,
 * endianness mark, the architecture and process constants, the weights and
 * their moving average, for a trainer also its options, step count,
 * optimiser moments and time bins, and a CRC-32 of everything.  Loaders
 * validate every field and size before allocating and answer with a
 * distinct status for each kind of damage:
 *   CEM_ERR_BAD_MAGIC (not a checkpoint), CEM_ERR_VERSION (a newer format,
 *   or an option only a newer library knows),
 *   CEM_ERR_TRUNCATED (cut short), CEM_ERR_CHECKSUM (bytes changed),
 *   CEM_ERR_CORRUPT (impossible sizes or values, trailing bytes).
 * Files are written to a temporary name in the same directory, synced and
 * renamed into place: a failed or interrupted save leaves the previous file
 * intact.  Saving the same state twice gives identical bytes.  Only MLP
 * models are saved (closed forms are rebuilt from their data):
 * CEM_ERR_UNSUPPORTED otherwise.
 */

/* Saves m (architecture, target, T_MIN, T_MAX, USE_EMA, PARAM, the data
 * statistics, weights, EMA weights) to path: format 2, 3 for a model with
 * the data's axes, 4 for a model with labels (its LABELS, LABEL_EMBED and
 * label table) or a LABEL_EMBED other than the default.  Loaders read
 * formats 1 to 4; a format-1 file is a DIRECT model without statistics, a
 * file before format 4 a model without labels.  Const.
 * Errors: CEM_ERR_ARG, CEM_ERR_UNSUPPORTED, CEM_ERR_IO, CEM_ERR_NOMEM. */
CEM_API int cem_model_save(const cem_model_t *m, const char *path);

/* The same into a new buffer *buf of *size bytes (release with cem_free);
 * on error *buf is NULL and *size 0 (when buf and size are not NULL). */
CEM_API int cem_model_save_buffer(const cem_model_t *m, void **buf, size_t *size);

/* Loads a model from a model or trainer checkpoint.  *out is NULL on
 * error.  Errors: CEM_ERR_ARG, CEM_ERR_IO, CEM_ERR_NOMEM and the five
 * checkpoint codes above. */
CEM_API int cem_model_load(cem_model_t **out, const char *path);
CEM_API int cem_model_load_buffer(cem_model_t **out, const void *buf, size_t size);

/* Saves the full trainer state: its model, the options, the step count,
 * the Adam moments, the time bins and the time law's state, and the size
 * and CRC-32 of its data (not the data itself).  Errors: as cem_model_save.
 * The _buffer form: as cem_model_save_buffer. */
CEM_API int cem_trainer_save(const cem_trainer_t *tr, const char *path);
CEM_API int cem_trainer_save_buffer(const cem_trainer_t *tr, void **buf, size_t *size);

/* Restores a trainer (and a new model, reachable by cem_trainer_model and
 * owned by the trainer) from a trainer checkpoint, with the same data the
 * trainer was created with (checked by size and CRC-32: CEM_ERR_ARG when it
 * differs).  Training then continues exactly: k steps, save, load and N - k
 * more steps give bitwise the weights of N uninterrupted steps (any
 * THREADS).  Errors: as cem_model_load, plus those of
 * cem_trainer_create. */
CEM_API int cem_trainer_load(cem_trainer_t **out, const char *path, const float *data,
                             size_t n, int dim);
CEM_API int cem_trainer_load_buffer(cem_trainer_t **out, const void *buf, size_t size,
                                    const float *data, size_t n, int dim);

/* The same for a trainer made by cem_trainer_create_labelled: the labels
 * are checked as the data are (size and CRC-32 in the checkpoint).  A
 * checkpoint of a labelled trainer loads only this way, and one of an
 * unlabelled trainer only the other (CEM_ERR_ARG, saying which).
 * Errors: those of cem_trainer_load and cem_trainer_create_labelled. */
CEM_API int cem_trainer_load_labelled(cem_trainer_t **out, const char *path,
                                      const float *data, const int *labels, size_t n,
                                      int dim);
CEM_API int cem_trainer_load_buffer_labelled(cem_trainer_t **out, const void *buf,
                                             size_t size, const float *data,
                                             const int *labels, size_t n, int dim);

/* ---------------------------------------------------------------- datasets
 *
 * Generators for the paper's kinds of data and two more, each with a
 * closed-form (or 1-D search) distance to its manifold and an intrinsic
 * coordinate u in [0, 1] of the nearest manifold point:
 *   SEGMENT  {(s, 0) : s in [-1, 1]} in R^2, s uniform;     u = (s + 1)/2
 *   CIRCLE   the unit circle in R^2, angle uniform;          u = angle/(2 pi)
 *   HELIX    (cos 2 pi k u, sin 2 pi k u, 2u - 1) in R^3, k = 2 turns,
 *            uniform in arc length (= uniform u)
 *   SPHERE   the unit sphere S^2 in R^3, uniform;            u = (z + 1)/2
 *   POINTS   K points (default 5) equally weighted at the vertices of a
 *            regular K-gon of radius 1 in R^2;              u = (i + 1/2)/K
 *   TORUS    ((R + r cos phi) cos theta, (R + r cos phi) sin theta, r sin phi)
 *            in R^3, R = 1, r = 0.4, uniform in surface area (theta
 *            uniform, phi with density (R + r cos phi)/(2 pi R));
 *                                                            u = theta/(2 pi)
 *            (distance |sqrt((rho - R)^2 + z^2) - r|, rho = sqrt(x^2 + y^2);
 *            on the axis rho = 0, u = 0)
 *   KNOT     the trefoil c(v) = (sin a + 2 sin 2a, cos a - 2 cos 2a,
 *            -sin 3a)/3, a = 2 pi v, v in [0, 1), a closed curve in R^3,
 *            uniform in arc length;  u = the arc-length fraction from c(0)
 *            (the distance by a grid scan refined by Newton's method)
 * For the six continuous sets u is Uniform(0, 1) under the data law; for
 * POINTS it is uniform on {(i + 1/2)/K}.
 * With dim larger than the native dimension, the set is embedded in R^dim
 * by a random orthogonal map (the Q of a QR factorisation of a Gaussian
 * matrix drawn from the dataset's seed); distances and coordinates are
 * computed in R^dim.  An affine placement (cem_dataset_set_affine) then
 * moves the embedded set to offset + scale * p.
 */
typedef struct cem_dataset cem_dataset_t;

typedef enum {
    CEM_DATA_SEGMENT = 0,
    CEM_DATA_CIRCLE = 1,
    CEM_DATA_HELIX = 2,
    CEM_DATA_SPHERE = 3,
    CEM_DATA_POINTS = 4,
    CEM_DATA_TORUS = 5,
    CEM_DATA_KNOT = 6
} cem_dataset_kind;

/* Dataset options.
 *   NPOINTS  K for CEM_DATA_POINTS; bounds [1, 1000000], default 5;
 *            CEM_ERR_UNSUPPORTED for the other kinds. */
typedef enum { CEM_DATASET_NPOINTS = 1 } cem_dataset_option;

/* A dataset of `kind` in R^dim (dim >= its native dimension: 2 for
 * SEGMENT, CIRCLE, POINTS; 3 for HELIX, SPHERE, TORUS, KNOT; at most 4096).
 * `seed` keys the embedding when dim exceeds the native dimension.  The
 * affine placement starts as the identity (scale 1, offset 0).
 * Errors: CEM_ERR_ARG, CEM_ERR_NUMERIC (QR failure), CEM_ERR_NOMEM. */
CEM_API int cem_dataset_create(cem_dataset_t **out, cem_dataset_kind kind,
                               int dim, uint64_t seed);

/* Draws n points (n x dim) from the data law into out.  Row i depends only
 * on (seed, i).  Const.  Errors: CEM_ERR_ARG. */
CEM_API int cem_dataset_sample(const cem_dataset_t *d, size_t n,
                               uint64_t seed, float *out);

/* Euclidean distance of each of n points (n x dim) to the manifold, in
 * double.  Const.  Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE. */
CEM_API int cem_dataset_distance(const cem_dataset_t *d, size_t n,
                                 const float *x, double *dist);

/* The intrinsic coordinate u in [0, 1] of the manifold point nearest to
 * each of n points.  Const.  Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE. */
CEM_API int cem_dataset_coordinate(const cem_dataset_t *d, size_t n,
                                   const float *x, double *u);

/* The law of u under the data: P(U <= u) (Uniform(0,1) for continuous
 * sets, a step function for POINTS).  Returns NaN for a NULL handle or a
 * NaN u. */
CEM_API double cem_dataset_coordinate_cdf(const cem_dataset_t *d, double u);

/* Ambient dimension, native dimension, intrinsic (manifold) dimension;
 * -1 for NULL. */
CEM_API int cem_dataset_dim(const cem_dataset_t *d);
CEM_API int cem_dataset_native_dim(const cem_dataset_t *d);
CEM_API int cem_dataset_intrinsic_dim(const cem_dataset_t *d);

/* Options; same contract as the model's. */
CEM_API int cem_dataset_set(cem_dataset_t *d, cem_dataset_option opt,
                            double value);
CEM_API int cem_dataset_get(const cem_dataset_t *d, cem_dataset_option opt,
                            double *value);
CEM_API int cem_dataset_option_bounds(cem_dataset_option opt, double *lo,
                                      double *hi);

/* Places the dataset at offset + scale * p, p a point of the kind (after
 * the embedding into R^dim when dim exceeds the native dimension): samples
 * become offset + scale * p, the distance of x is scale times the distance
 * of (x - offset)/scale, the coordinate of x is the coordinate of
 * (x - offset)/scale, and the coordinate CDF is unchanged.  `offset` holds
 * dim entries (NULL: all zeros); scale in (0, 1e6], each offset entry
 * finite with |offset[j]| <= 1e6.  (1, NULL) restores the identity.  Each
 * call replaces the previous placement; a setter (not concurrently with
 * other calls on d).
 * Errors: CEM_ERR_ARG (d NULL), CEM_ERR_RANGE (scale or an offset entry
 * out of bounds, NaN or Inf; the message names it); d is unchanged on
 * error. */
CEM_API int cem_dataset_set_affine(cem_dataset_t *d, double scale, const double *offset);

/* The affine placement: *scale and offset[0 .. dim-1]; either may be NULL.
 * Const.  Errors: CEM_ERR_ARG (d NULL). */
CEM_API int cem_dataset_get_affine(const cem_dataset_t *d, double *scale, double *offset);

/* The last error message recorded on d ("" if none). */
CEM_API const char *cem_dataset_errmsg(const cem_dataset_t *d);

/* Releases d.  Accepts NULL. */
CEM_API void cem_dataset_free(cem_dataset_t *d);

/* ----------------------------------------------------------------- metrics
 *
 * Measures of a sample set (docs/MATH.md 7).  All are deterministic for a
 * given seed, computed in double, const on their handles, and reject NaN or
 * Inf in their inputs with CEM_ERR_NONFINITE.  Failures are reported by
 * cem_last_error() (the dataset's own message is not changed).
 */

/* Distance of n points (n x dim) to the dataset's manifold: the mean, the
 * 95th percentile (linear interpolation between order statistics, as
 * numpy's default) and the maximum; any output may be NULL.  n >= 1.
 * Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE, CEM_ERR_NOMEM. */
CEM_API int cem_metric_distance(const cem_dataset_t *d, size_t n, const float *x,
                                double *mean, double *p95, double *max);

/* Sliced Wasserstein-2 distance between the empirical laws of a (na x dim)
 * and b (nb x dim):
 *   SW2 = sqrt( (1/L) sum_l W2^2(<a, u_l>, <b, u_l>) )
 * over L = `directions` unit vectors u_l drawn uniformly on the sphere from
 * `seed`; the 1-D W2 of two empirical laws of any sizes is computed exactly
 * from their quantile functions.  directions in [1, 1e6].
 * Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE, CEM_ERR_NOMEM. */
CEM_API int cem_metric_sliced_w2(size_t na, const float *a, size_t nb, const float *b,
                                 int dim, int directions, uint64_t seed, double *out);

/* Energy distance between the empirical laws of a and b (V-statistics):
 *   2 E|A - B| - E|A - A'| - E|B - B'|   (>= 0, 0 iff the laws agree).
 * O((na + nb)^2 dim) time, O(1) memory.
 * Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE. */
CEM_API int cem_metric_energy(size_t na, const float *a, size_t nb, const float *b, int dim,
                              double *out);

/* Squared maximum mean discrepancy with the Gaussian kernel
 * k(x, y) = exp(-|x - y|^2 / (2 bandwidth^2)), V-statistic (biased, >= 0).
 * bandwidth finite and > 0 (and 1/(2 bandwidth^2) finite).
 * Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE. */
CEM_API int cem_metric_mmd(size_t na, const float *a, size_t nb, const float *b, int dim,
                           double bandwidth, double *out);

/* Kolmogorov-Smirnov statistic sup_u |F_n(u) - F(u)| of the intrinsic
 * coordinates of n points (cem_dataset_coordinate) against the data law F
 * (cem_dataset_coordinate_cdf), with the exact supremum for a step F.
 * Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE, CEM_ERR_NOMEM. */
CEM_API int cem_metric_ks(const cem_dataset_t *d, size_t n, const float *x, double *out);

/* The singularity profile of a model: at each of nt times t[k] (> 0), the
 * Euclidean norms of f, eps and S at the np probe points (np x dim).
 * Writes max[w * nt + k] and mean[w * nt + k] for w = CEM_TARGET_CEM,
 * NOISE, SCORE (3 x nt each; either may be NULL), and slope[w] (may be
 * NULL), the least-squares slope of log(mean norm) against log t over the
 * nt times (nt >= 2): about 0, -1/2 and -1 for f, eps and S at points off
 * the data of an exact model (docs/MATH.md 6).  np >= 1.  Does not modify m
 * (it evaluates it: the thread-safety of cem_model_eval).  Outputs are
 * written only on success.
 * Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE (probes), CEM_ERR_NUMERIC (a norm is
 * not finite, or a mean is 0 when a slope is asked), CEM_ERR_NOMEM. */
CEM_API int cem_singularity_profile(cem_model_t *m, size_t np, const float *probes, int nt,
                                    const double *t, double *max, double *mean,
                                    double *slope);

/* --------------------------------------------------------------------- CSV
 *
 * Text files of n rows of dim comma-separated numbers.  Lines starting with
 * '#' and blank lines are skipped; every other line must hold exactly as many
 * fields as the first data line, each a finite number representable as
 * float.  Errors name the file and line.
 */

/* Reads `path` into a new buffer *data (n x dim floats, release with
 * cem_free).  On error *data is NULL and *n, *dim are 0.
 * Errors: CEM_ERR_ARG, CEM_ERR_IO, CEM_ERR_PARSE (ragged row, not a number,
 * empty file), CEM_ERR_NONFINITE (NaN, Inf, or out of float range),
 * CEM_ERR_NOMEM. */
CEM_API int cem_csv_read(const char *path, float **data, size_t *n, int *dim);

/* cem_csv_read for a file with a label column: field label_col (0-based)
 * of every data line is an integer class in [-1, 65535] (-1:
 * CEM_LABEL_NONE), returned in a new buffer *labels (n ints, release with
 * cem_free); the other fields are the points (n x dim, dim = fields - 1).
 * On error *data and *labels are NULL, *n and *dim 0.
 * Errors: those of cem_csv_read, and CEM_ERR_ARG (label_col < 0, NULL
 * labels), CEM_ERR_PARSE (a line with no field label_col, a label that is
 * not such an integer; names the file and line). */
CEM_API int cem_csv_read_labelled(const char *path, int label_col, float **data,
                                  int **labels, size_t *n, int *dim);

/* cem_csv_read for partial points (what cem_sampler_impute completes): an
 * empty field, nothing but blanks between its commas or at an end of the
 * line, reads as NaN, a missing coordinate; "1.5,,2" is three fields, the
 * second missing.  A NaN or Inf written in a field is still refused.
 * Errors: those of cem_csv_read. */
CEM_API int cem_csv_read_missing(const char *path, float **data, size_t *n, int *dim);

/* Writes n x dim floats to `path` with 9 significant digits (exact float
 * round trip; n >= 1, since cem_csv_read needs a row to know dim).  The
 * file is written to a temporary name in the same directory, flushed and
 * renamed over `path`, so an existing file is replaced whole or not at
 * all.  Errors: CEM_ERR_ARG, CEM_ERR_NONFINITE, CEM_ERR_IO, CEM_ERR_NOMEM. */
CEM_API int cem_csv_write(const char *path, const float *data, size_t n,
                          int dim);

#ifdef __cplusplus
}
#endif

#endif /* CEMDIFF_H */
