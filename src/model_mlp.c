/*
 * model_mlp.c -- the MLP model kind (layer 3): creation, initialisation,
 * options that define the network, parameter access and evaluation.
 * The kernels are in nn.c; training is in trainer.c.
 */
#include "model_mlp.h"
#include "linalg.h"

#include <math.h>
#include <string.h>

#define MLP_ROWS 256 /* rows per evaluation block */

cemi_mlp *cemi_mlp_of(const cem_model_t *m)
{
    return m && m->kind == CEM_KIND_MLP ? (cemi_mlp *)m->impl : NULL;
}

static void mlp_destroy(void *impl)
{
    cemi_mlp *p = impl;
    if (!p)
        return;
    cemi_release(p->params);
    cemi_release(p->ema);
    cemi_release(p->mean);
    cemi_release(p->axes);
    cemi_release(p->axis_sd);
    cemi_release(p);
}

void cemi_mlp_init_params(const cemi_mlp_shape *sh, uint64_t seed, float *params)
{
    for (int l = 0; l <= sh->L; l++) {
        int ni, no;
        size_t ow, ob;
        cemi_mlp_layer(sh, l, &ni, &no, &ow, &ob);
        double bound = 1.0 / sqrt((double)ni);
        cemi_rng r;
        cemi_rng_init(&r, seed, (uint64_t)l);
        size_t nw = (size_t)ni * (size_t)no;
        for (size_t k = 0; k < nw + (size_t)no; k++)
            params[ow + k] = (float)(bound * (2.0 * cemi_rng_uniform(&r) - 1.0));
    }
    cemi_rng r;
    cemi_rng_init(&r, seed, (uint64_t)sh->L + 1);
    float *table = params + cemi_mlp_table_offset(sh);
    for (size_t k = 0; k < (size_t)sh->NL * (size_t)sh->C; k++)
        table[k] = (float)cemi_rng_normal(&r);
}

double cemi_mlp_sd(const cemi_mlp *p) { return p->sd > 0 ? p->sd : 1.0; }

/* The PRECOND input's gain: the D point columns of the first layer are
 * scaled to carry as much variance as the E time features (each sin or cos
 * of variance about 1/2), never less than unit variance:
 * g = max(1, sqrt(E / (2 D))).  Without it the points are a small part of
 * the first layer's input at initialisation and the network, whose linear
 * part c_skip already supplies, sat on a plateau (docs/MATH.md). */
static double input_gain(const cemi_mlp *p)
{
    double g2 = (double)p->sh.E / (2.0 * p->sh.D);
    return g2 > 1 ? sqrt(g2) : 1.0;
}

cemi_precond cemi_mlp_precond(const cemi_mlp *p, double t)
{
    cemi_precond c = cemi_precond_at(t, cemi_mlp_sd(p));
    c.c_in *= input_gain(p);
    return c;
}

int cemi_mlp_preconditioned(const cemi_mlp *p)
{
    return p->target == CEM_TARGET_CEM && p->param != CEM_PARAM_DIRECT;
}

/* The model's own axes: PRECOND_PCA with the data's axes set (else the
 * coordinate axes, each of the one sd: PRECOND itself). */
static const double *own_axes(const cemi_mlp *p)
{
    return p->param == CEM_PARAM_PRECOND_PCA ? p->axes : NULL;
}

static double axis_sd(const cemi_mlp *p, int k)
{
    double sd = cemi_mlp_sd(p), lo = CEMI_AXIS_SD_FLOOR * sd;
    return own_axes(p) ? (p->axis_sd[k] > lo ? p->axis_sd[k] : lo) : sd;
}

/* u . (x inv_alpha - mu), the row's centred y along the axis u. */
static double along(const cemi_mlp *p, const double *u, const float *x, double inv_alpha)
{
    double s = 0;
    for (int j = 0; j < p->sh.D; j++)
        s += u[j] * ((double)x[j] * inv_alpha - p->mean[j]);
    return s;
}

/* The first D columns of B network input rows (stride ld): x itself, or
 * with PRECOND c_in (x / alpha - mu) at t[i] (or t_shared when t is NULL). */
static void input_points(const cemi_mlp *p, int B, const float *x, const double *t,
                         double t_shared, float *in, int ld)
{
    const int D = p->sh.D;
    if (!cemi_mlp_preconditioned(p)) {
        for (int i = 0; i < B; i++)
            memcpy(in + (size_t)i * (size_t)ld, x + (size_t)i * (size_t)D,
                   sizeof(float) * (size_t)D);
        return;
    }
    const double *U = own_axes(p);
    cemi_precond c = cemi_mlp_precond(p, t_shared);
    for (int i = 0; i < B; i++) {
        if (t)
            c = cemi_mlp_precond(p, t[i]);
        const float *xi = x + (size_t)i * (size_t)D;
        float *ri = in + (size_t)i * (size_t)ld;
        for (int j = 0; j < D; j++)
            ri[j] = (float)(c.c_in * (U ? along(p, U + (size_t)j * (size_t)D, xi, c.inv_alpha)
                                        : (double)xi[j] * c.inv_alpha - p->mean[j]));
    }
}

void cemi_mlp_input(const cem_model_t *m, const float *params, int B, const float *x,
                    const double *t, double t_shared, const int *lab, float *in)
{
    const cemi_mlp *p = m->impl;
    const int P = p->sh.D + p->sh.C, ld = cemi_mlp_in_width(&p->sh);
    input_points(p, B, x, t, t_shared, in, ld);
    if (p->sh.C)
        cemi_embed_label_f(in + p->sh.D, ld, params + cemi_mlp_table_offset(&p->sh), lab,
                           (size_t)B, &p->sh);
    cemi_embed_time_f(in + P, ld, t, t_shared, (size_t)B, p->sh.E, log(m->t_min), log(m->t_max));
}

void cemi_mlp_f_from_net(const cemi_mlp *p, const float *x, double t, const double *F,
                         double *f, double *tmp)
{
    const int D = p->sh.D;
    if (!cemi_mlp_preconditioned(p)) {
        memmove(f, F, sizeof(double) * (size_t)D);
        return;
    }
    cemi_precond c = cemi_mlp_precond(p, t);
    const double *U = own_axes(p);
    if (U) { /* along each axis k, then back: f = mu + sum_k u_k g_k */
        const double s2 = expm1(t);
        for (int k = 0; k < D; k++) {
            double cs, co;
            cemi_precond_skip_out(s2, axis_sd(p, k), &cs, &co);
            tmp[k] = cs * along(p, U + (size_t)k * (size_t)D, x, c.inv_alpha) + co * F[k];
        }
        for (int j = 0; j < D; j++)
            f[j] = p->mean[j];
        for (int k = 0; k < D; k++)
            for (int j = 0; j < D; j++)
                f[j] += U[(size_t)k * (size_t)D + (size_t)j] * tmp[k];
        return;
    }
    for (int j = 0; j < D; j++) {
        double yc = (double)x[j] * c.inv_alpha - p->mean[j];
        f[j] = p->mean[j] + c.c_skip * yc + c.c_out * F[j];
    }
}

void cemi_mlp_net_from_f(const cemi_mlp *p, const float *x, double t, const float *f,
                         float *F)
{
    const int D = p->sh.D;
    if (!cemi_mlp_preconditioned(p)) {
        memmove(F, f, sizeof(float) * (size_t)D);
        return;
    }
    cemi_precond c = cemi_mlp_precond(p, t);
    const double *U = own_axes(p);
    if (U) {
        const double s2 = expm1(t);
        for (int k = 0; k < D; k++) {
            const double *u = U + (size_t)k * (size_t)D;
            double cs, co, fk = 0;
            cemi_precond_skip_out(s2, axis_sd(p, k), &cs, &co);
            for (int j = 0; j < D; j++)
                fk += u[j] * ((double)f[j] - p->mean[j]);
            F[k] = (float)((fk - cs * along(p, u, x, c.inv_alpha)) / co);
        }
        return;
    }
    for (int j = 0; j < D; j++) {
        double yc = (double)x[j] * c.inv_alpha - p->mean[j];
        F[j] = (float)(((double)f[j] - p->mean[j] - c.c_skip * yc) / c.c_out);
    }
}

void cemi_mlp_out_weights(const cemi_mlp *p, double t, int edm, double w, float *ce)
{
    const double s2 = expm1(t), lam = 1.0 / s2;
    for (int k = 0; k < p->sh.D; k++) {
        double sd = axis_sd(p, k), cs, co;
        cemi_precond_skip_out(s2, sd, &cs, &co);
        ce[k] = (float)((edm ? lam + 1.0 / (sd * sd) : w) * co * co);
    }
}

int cemi_mlp_set_axes(cemi_mlp *p, const double *axes, const double *axis_sd)
{
    const size_t D = (size_t)p->sh.D;
    double *a = NULL, *s = NULL;
    if (axes) {
        a = cemi_alloc(D * D, sizeof(double));
        s = cemi_alloc(D, sizeof(double));
        if (!a || !s) {
            cemi_release(a);
            cemi_release(s);
            return CEM_ERR_NOMEM;
        }
        memcpy(a, axes, sizeof(double) * D * D);
        memcpy(s, axis_sd, sizeof(double) * D);
    }
    cemi_release(p->axes);
    cemi_release(p->axis_sd);
    p->axes = a;
    p->axis_sd = s;
    return CEM_OK;
}

int cemi_mlp_axes_of_cov(int D, const double *cov, double *axes, double *axis_sd,
                         const char *fn)
{
    const size_t n = (size_t)D;
    double *A = cemi_alloc(n * n, sizeof(double)), *w = cemi_alloc(n, sizeof(double));
    if (!A || !w) {
        cemi_release(A);
        cemi_release(w);
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the %d x %d covariance",
                         fn, D, D);
    }
    memcpy(A, cov, sizeof(double) * n * n);
    int info = cemi_dsyev(D, A, w), st = CEM_OK;
    double top = info == 0 ? fmax(fabs(w[0]), fabs(w[n - 1])) : 0;
    if (info == CEMI_LINALG_NOMEM)
        st = cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the eigen-decomposition "
                       "of the %d x %d covariance", fn, D, D);
    else if (info != 0)
        st = cemi_fail(NULL, CEM_ERR_NUMERIC, "%s: the eigen-decomposition of the covariance "
                       "failed (LAPACK info %d)", fn, info);
    else if (w[0] < -1e-9 * top)
        st = cemi_fail(NULL, CEM_ERR_ARG, "%s: the covariance is not positive semidefinite "
                       "(eigenvalue %g)", fn, w[0]);
    for (size_t k = 0; !st && k < n; k++) { /* ascending columns -> descending rows */
        size_t c = n - 1 - k, big = 0;
        for (size_t j = 0; j < n; j++)
            if (fabs(A[j * n + c]) > fabs(A[big * n + c]))
                big = j;
        double sign = A[big * n + c] < 0 ? -1.0 : 1.0;
        for (size_t j = 0; j < n; j++)
            axes[k * n + j] = sign * A[j * n + c];
        axis_sd[k] = sqrt(fmax(w[c], 0.0));
    }
    cemi_release(A);
    cemi_release(w);
    return st;
}

void cemi_mlp_set_stats(cemi_mlp *p, const double *mean, double sd)
{
    for (int j = 0; j < p->sh.D; j++)
        p->mean[j] = mean ? mean[j] : 0.0;
    p->sd = sd;
}

static size_t mlp_max_rows(const cem_model_t *m)
{
    (void)m;
    return MLP_ROWS;
}

static size_t mlp_workspace(const cem_model_t *m, size_t rows)
{
    const cemi_mlp *p = m->impl;
    /* the input rows, the hidden layers, the output, the products'
     * workspace, and for a shared time its features and first-layer row */
    size_t floats = rows * (size_t)cemi_mlp_in_width(&p->sh) +
                    cemi_mlp_hidden_size(&p->sh, (int)rows, 0) + rows * (size_t)p->sh.D +
                    cemi_mlp_gemm_workspace(&p->sh) + (size_t)p->sh.E + (size_t)p->sh.H;
    return sizeof(float) * floats + 2 * sizeof(double) * (size_t)p->sh.D;
}

/* The weights evaluation reads, packed for the forward products. */
static size_t mlp_shared_size(const cem_model_t *m)
{
    const cemi_mlp *p = m->impl;
    return sizeof(float) * cemi_mlp_packed_size(&p->sh);
}

static void mlp_prepare(const cem_model_t *m, void *shared)
{
    const cemi_mlp *p = m->impl;
    cemi_mlp_pack_f(&p->sh, p->use_ema ? p->ema : p->params, shared, NULL);
}

static void mlp_eval(const cem_model_t *m, cem_target what, size_t r, const float *x,
                     const double *t, double t_shared, const int *lab, float *out, void *ws,
                     const void *shared)
{
    const cemi_mlp *p = m->impl;
    const int D = p->sh.D, B = (int)r, C = p->sh.C;
    double *row = ws, *tmp = row + D; /* 2 D doubles, first for alignment */
    float *in = (float *)(tmp + D);
    float *hid = in + r * (size_t)cemi_mlp_in_width(&p->sh);
    float *net = hid + cemi_mlp_hidden_size(&p->sh, B, 0);
    float *gws = net + r * (size_t)D;
    float *emb = gws + cemi_mlp_gemm_workspace(&p->sh), *brow = emb + p->sh.E;
    cemi_nn_ctx ctx = {gws, 0, NULL, shared};
    const float *params = p->use_ema ? p->ema : p->params;
    if (t) {
        cemi_mlp_input(m, params, B, x, t, t_shared, lab, in);
        cemi_mlp_forward_f(&p->sh, params, B, in, hid, 0, net, &ctx);
    } else { /* one time for every row (sampling): its part of layer 0 once */
        const float *pts = x;
        if (cemi_mlp_preconditioned(p) || C) { /* the rows' points, mapped, and labels */
            input_points(p, B, x, NULL, t_shared, in, D + C);
            if (C)
                cemi_embed_label_f(in + D, D + C, params + cemi_mlp_table_offset(&p->sh), lab,
                                   (size_t)B, &p->sh);
            pts = in;
        }
        cemi_embed_time_f(emb, p->sh.E, NULL, t_shared, 1, p->sh.E, log(m->t_min), log(m->t_max));
        cemi_mlp_forward_shared_time_f(&p->sh, params, B, pts, emb, hid, net, brow, &ctx);
    }
    if (what == p->target && !cemi_mlp_preconditioned(p)) {
        memcpy(out, net, sizeof(float) * r * (size_t)D);
        return;
    }
    for (size_t i = 0; i < r; i++) {
        const float *ni = net + i * (size_t)D, *xi = x + i * (size_t)D;
        const double ti = t ? t[i] : t_shared;
        for (int j = 0; j < D; j++)
            row[j] = ni[j];
        cemi_mlp_f_from_net(p, xi, ti, row, row, tmp);
        cemi_convert_row(p->target, what, D, xi, ti, row, row);
        for (int j = 0; j < D; j++)
            out[i * (size_t)D + (size_t)j] = (float)row[j];
    }
}

/* A copy of the MLP state with a new architecture and fresh weights, or
 * NULL when out of memory. */
static cemi_mlp *mlp_new(const cemi_mlp_shape *sh, cem_target target, cem_param param,
                         uint64_t seed, int label_embed)
{
    cemi_mlp *p = cemi_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->sh = *sh;
    p->target = target;
    p->param = param;
    p->seed = seed;
    p->label_embed = label_embed;
    p->use_ema = 1;
    p->np = cemi_mlp_nparams(sh);
    p->params = cemi_alloc(p->np, sizeof(float));
    p->ema = cemi_alloc(p->np, sizeof(float));
    p->mean = cemi_calloc((size_t)sh->D, sizeof(double));
    if (!p->params || !p->ema || !p->mean) {
        mlp_destroy(p);
        return NULL;
    }
    cemi_mlp_init_params(sh, seed, p->params);
    memcpy(p->ema, p->params, sizeof(float) * p->np);
    return p;
}

int cemi_mlp_check_free(cem_model_t *m, const char *fn, const char *what)
{
    if (atomic_load(&m->busy))
        return cemi_fail(&m->err, CEM_ERR_BUSY, "%s: a trainer is attached; %s cannot change",
                         fn, what);
    /* a sampler planned its workspace for this network (a reference the
     * host keeps, cem_model_retain, holds nothing) */
    int n = atomic_load(&m->samplers), nf = atomic_load(&m->flows);
    if (n > 0)
        return cemi_fail(&m->err, CEM_ERR_BUSY,
                         "%s: %d sampler%s hold%s the model; %s cannot change until %s freed",
                         fn, n, n > 1 ? "s" : "", n > 1 ? "" : "s", what,
                         n > 1 ? "they are" : "it is");
    if (nf > 0)
        return cemi_fail(&m->err, CEM_ERR_BUSY,
                         "%s: %d flow%s hold%s the model; %s cannot change until %s freed",
                         fn, nf, nf > 1 ? "s" : "", nf > 1 ? "" : "s", what,
                         nf > 1 ? "they are" : "it is");
    return CEM_OK;
}

int cemi_model_prior(const cem_model_t *m, double T, double *mean, double *sd)
{
    const cemi_mlp *net = cemi_mlp_of(m);
    if (!net || !(net->sd > 0)) {
        for (int j = 0; j < m->dim; j++)
            mean[j] = 0.0;
        *sd = 1.0;
        return 0;
    }
    cemi_ou c = cemi_ou_at(T);
    for (int j = 0; j < m->dim; j++)
        mean[j] = c.alpha * net->mean[j];
    *sd = sqrt(c.alpha * c.alpha * net->sd * net->sd + c.sigma2);
    return 1;
}

static int mlp_set(cem_model_t *m, int opt, double value, const char *fn)
{
    cemi_mlp *p = m->impl;
    if (opt == CEM_MODEL_USE_EMA) {
        p->use_ema = (int)value;
        return CEM_OK;
    }
    int st = cemi_mlp_check_free(m, fn, "the network");
    if (st)
        return st;
    cemi_mlp_shape sh = p->sh;
    uint64_t seed = p->seed;
    cem_param param = p->param;
    int K = m->labels, C = p->label_embed;
    switch (opt) {
    case CEM_MODEL_LABELS: K = (int)value; break;
    case CEM_MODEL_LABEL_EMBED: C = (int)value; break;
    case CEM_MODEL_WIDTH: sh.H = (int)value; break;
    case CEM_MODEL_DEPTH: sh.L = (int)value; break;
    case CEM_MODEL_ACTIVATION: sh.act = (cemi_act)(int)value; break;
    case CEM_MODEL_SEED: seed = (uint64_t)value; break;
    case CEM_MODEL_PARAM:
        if (value != CEM_PARAM_DIRECT && p->target != CEM_TARGET_CEM)
            return cemi_fail(&m->err, CEM_ERR_UNSUPPORTED,
                             "%s: CEM_MODEL_PARAM = %s needs the CEM target "
                             "(this model learns %s)", fn,
                             value == CEM_PARAM_PRECOND ? "CEM_PARAM_PRECOND"
                                                        : "CEM_PARAM_PRECOND_PCA",
                             p->target == CEM_TARGET_NOISE ? "NOISE" : "SCORE");
        param = (cem_param)(int)value;
        break;
    case CEM_MODEL_EMBED:
        if ((int)value % 2)
            return cemi_fail(&m->err, CEM_ERR_RANGE, "%s: CEM_MODEL_EMBED = %g must be even",
                             fn, value);
        sh.E = (int)value;
        break;
    default: break; /* T_MIN, T_MAX: the handle stores them; weights restart */
    }
    sh.NL = K ? K + 1 : 0; /* the classes and the "no label" row */
    sh.C = K ? C : 0;
    size_t np = cemi_mlp_nparams(&sh);
    if (np > CEMI_MLP_MAX_PARAMS)
        return cemi_fail(&m->err, CEM_ERR_RANGE, "%s: the network would have %zu parameters",
                         fn, np);
    cemi_mlp *q = mlp_new(&sh, p->target, param, seed, C);
    if (!q)
        return cemi_fail(&m->err, CEM_ERR_NOMEM, "%s: out of memory for %zu parameters", fn, np);
    q->use_ema = p->use_ema;
    cemi_mlp_set_stats(q, p->mean, p->sd);
    if (cemi_mlp_set_axes(q, p->axes, p->axis_sd)) {
        mlp_destroy(q);
        return cemi_fail(&m->err, CEM_ERR_NOMEM, "%s: out of memory for the data's axes", fn);
    }
    mlp_destroy(p);
    m->impl = q;
    m->labels = K;
    return CEM_OK;
}

static int mlp_get(const cem_model_t *m, int opt, double *value)
{
    const cemi_mlp *p = m->impl;
    switch (opt) {
    case CEM_MODEL_WIDTH: *value = p->sh.H; break;
    case CEM_MODEL_DEPTH: *value = p->sh.L; break;
    case CEM_MODEL_ACTIVATION: *value = (int)p->sh.act; break;
    case CEM_MODEL_EMBED: *value = p->sh.E; break;
    case CEM_MODEL_SEED: *value = (double)p->seed; break;
    case CEM_MODEL_PARAM: *value = (int)p->param; break;
    case CEM_MODEL_LABEL_EMBED: *value = p->label_embed; break;
    default: *value = p->use_ema; break; /* CEM_MODEL_USE_EMA */
    }
    return CEM_OK;
}

/* Forward mode through the whole model: f = post(x, F(in(x))) with in and
 * post affine in x (and post in F) at a given time, so
 *   J v = d_x post v + d_F post (J_F (d_x in v)).
 * The network's part in float (cemi_mlp_jvp_f after a forward pass that
 * keeps its activations), the affine parts in double. */
static size_t mlp_jvp_workspace(const cem_model_t *m, size_t rows, int K)
{
    const cemi_mlp *p = m->impl;
    const size_t I = (size_t)cemi_mlp_in_width(&p->sh), D = (size_t)p->sh.D, H = (size_t)p->sh.H;
    const size_t KR = (size_t)K * rows;
    size_t floats = rows * D + rows * I + cemi_mlp_hidden_size(&p->sh, (int)rows, 1) +
                    rows * D + cemi_mlp_gemm_workspace(&p->sh) + KR * I + 2 * KR * H + KR * D;
    return sizeof(double) * 2 * D + sizeof(float) * floats;
}

/* The tangent of the network's point inputs for a tangent v of x at time
 * t: v itself, or with PRECOND c_in v / alpha (along the axes for
 * PRECOND_PCA). */
static void input_tangent(const cemi_mlp *p, double t, const double *v, float *out)
{
    const int D = p->sh.D;
    if (!cemi_mlp_preconditioned(p)) {
        for (int j = 0; j < D; j++)
            out[j] = (float)v[j];
        return;
    }
    const double *U = own_axes(p);
    cemi_precond c = cemi_mlp_precond(p, t);
    for (int j = 0; j < D; j++) {
        double d = v[j];
        if (U) {
            d = 0;
            for (int i = 0; i < D; i++)
                d += U[(size_t)j * (size_t)D + (size_t)i] * v[i];
        }
        out[j] = (float)(c.c_in * c.inv_alpha * d);
    }
}

/* The tangent of f for a tangent v of x and dF of the network's output:
 * the linear part of cemi_mlp_f_from_net and of the conversion into f. */
static void output_tangent(const cemi_mlp *p, double t, const double *v, const float *dF,
                           double *df, double *tmp)
{
    const int D = p->sh.D;
    if (p->target != CEM_TARGET_CEM) { /* f = (x - sigma eps)/alpha, (x + sigma^2 S)/alpha */
        cemi_ou o = cemi_ou_at(t);
        double k = p->target == CEM_TARGET_NOISE ? -o.sigma : o.sigma2;
        for (int j = 0; j < D; j++)
            df[j] = (v[j] + k * (double)dF[j]) / o.alpha;
        return;
    }
    if (!cemi_mlp_preconditioned(p)) {
        for (int j = 0; j < D; j++)
            df[j] = dF[j];
        return;
    }
    cemi_precond c = cemi_mlp_precond(p, t);
    const double *U = own_axes(p);
    if (!U) {
        for (int j = 0; j < D; j++)
            df[j] = c.c_skip * c.inv_alpha * v[j] + c.c_out * (double)dF[j];
        return;
    }
    const double s2 = expm1(t);
    for (int k = 0; k < D; k++) {
        const double *u = U + (size_t)k * (size_t)D;
        double cs, co, uv = 0;
        cemi_precond_skip_out(s2, axis_sd(p, k), &cs, &co);
        for (int j = 0; j < D; j++)
            uv += u[j] * v[j];
        tmp[k] = cs * c.inv_alpha * uv + co * (double)dF[k];
    }
    for (int j = 0; j < D; j++)
        df[j] = 0;
    for (int k = 0; k < D; k++)
        for (int j = 0; j < D; j++)
            df[j] += U[(size_t)k * (size_t)D + (size_t)j] * tmp[k];
}

static void mlp_jvp(const cem_model_t *m, size_t r, const double *x, const double *t, int K,
                    const double *V, double *f, double *JV, void *ws, const void *shared)
{
    const cemi_mlp *p = m->impl;
    const int D = p->sh.D, B = (int)r;
    const size_t I = (size_t)cemi_mlp_in_width(&p->sh), KR = (size_t)K * r;
    double *row = ws, *tmp = row + D;
    float *xf = (float *)(tmp + D), *in = xf + r * (size_t)D;
    float *hid = in + r * I, *net = hid + cemi_mlp_hidden_size(&p->sh, B, 1);
    float *gws = net + r * (size_t)D, *din = gws + cemi_mlp_gemm_workspace(&p->sh);
    float *dtmp = din + KR * I, *dnet = dtmp + 2 * KR * (size_t)p->sh.H;
    cemi_nn_ctx ctx = {gws, 0, NULL, shared};
    const float *params = p->use_ema ? p->ema : p->params;
    for (size_t k = 0; k < r * (size_t)D; k++)
        xf[k] = (float)x[k];
    cemi_mlp_input(m, params, B, xf, t, 0.0, NULL, in); /* the flow: unconditional */
    cemi_mlp_forward_f(&p->sh, params, B, in, hid, 1, net, &ctx);
    for (size_t i = 0; i < r; i++) {
        double *fi = f + i * (size_t)D;
        for (int j = 0; j < D; j++)
            row[j] = net[i * (size_t)D + (size_t)j];
        cemi_mlp_f_from_net(p, xf + i * (size_t)D, t[i], row, fi, tmp);
        cemi_convert_row(p->target, CEM_TARGET_CEM, D, xf + i * (size_t)D, t[i], fi, fi);
    }
    if (K == 0)
        return;
    for (size_t q = 0; q < KR; q++) { /* tangent rows: points part, no label or time part */
        float *d = din + q * I;
        input_tangent(p, t[q % r], V + q * (size_t)D, d);
        memset(d + D, 0, sizeof(float) * (I - (size_t)D));
    }
    cemi_mlp_jvp_f(&p->sh, params, B, hid, K, din, dtmp, dnet, &ctx);
    for (size_t q = 0; q < KR; q++)
        output_tangent(p, t[q % r], V + q * (size_t)D, dnet + q * (size_t)D,
                       JV + q * (size_t)D, tmp);
}

static const cemi_model_ops mlp_ops_table[3] = {
#define MLP_OPS(target) \
    {mlp_max_rows, mlp_workspace, mlp_eval, mlp_destroy, mlp_set, mlp_get, target, \
     mlp_shared_size, mlp_prepare, mlp_jvp, mlp_jvp_workspace}
    MLP_OPS(CEM_TARGET_CEM), MLP_OPS(CEM_TARGET_NOISE), MLP_OPS(CEM_TARGET_SCORE),
#undef MLP_OPS
};

int cemi_mlp_create(cem_model_t **out, const char *fn, const cemi_mlp_shape *sh,
                    cem_target target, cem_param param, uint64_t seed)
{
    int C = sh->C ? sh->C : (int)cemi_model_option_default(CEM_MODEL_LABEL_EMBED);
    cemi_mlp *p = mlp_new(sh, target, param, seed, C);
    if (!p)
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for %zu parameters", fn,
                         cemi_mlp_nparams(sh));
    int st = cemi_model_new(out, fn, &mlp_ops_table[target], p, CEM_KIND_MLP, sh->D);
    if (!st)
        (*out)->labels = sh->NL ? sh->NL - 1 : 0;
    return st;
}

int cem_model_create_mlp(cem_model_t **out, int dim, cem_target target)
{
    static const char fn[] = "cem_model_create_mlp";
    if (!out)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (dim < 1 || dim > 4096)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: dim = %d is outside [1, 4096]", fn, dim);
    if (target < CEM_TARGET_CEM || target > CEM_TARGET_SCORE)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: unknown target %d", fn, (int)target);
    cemi_mlp_shape sh = {dim, (int)cemi_model_option_default(CEM_MODEL_EMBED),
                         (int)cemi_model_option_default(CEM_MODEL_WIDTH),
                         (int)cemi_model_option_default(CEM_MODEL_DEPTH),
                         (cemi_act)(int)cemi_model_option_default(CEM_MODEL_ACTIVATION), 0, 0};
    cem_param param = target == CEM_TARGET_CEM
                          ? (cem_param)(int)cemi_model_option_default(CEM_MODEL_PARAM)
                          : CEM_PARAM_DIRECT;
    return cemi_mlp_create(out, fn, &sh, target, param,
                           (uint64_t)cemi_model_option_default(CEM_MODEL_SEED));
}

size_t cem_model_param_count(const cem_model_t *m)
{
    const cemi_mlp *p = cemi_mlp_of(m);
    return p ? p->np : 0;
}

/* The checks of get_params and set_params; failures are recorded in err
 * too (NULL for the const get). */
static int params_args(const char *fn, const cem_model_t *m, cemi_errbuf *err, int ema,
                       int max_ema, const void *buf, size_t n)
{
    if (!m)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: model is NULL", fn);
    const cemi_mlp *p = cemi_mlp_of(m);
    if (!p)
        return cemi_fail(err, CEM_ERR_UNSUPPORTED, "%s: the model is not an MLP", fn);
    if (ema < 0 || ema > max_ema)
        return cemi_fail(err, CEM_ERR_ARG, "%s: ema = %d is outside [0, %d]", fn, ema,
                         max_ema);
    if (!buf || n != p->np)
        return cemi_fail(err, CEM_ERR_ARG, "%s: need a buffer of exactly %zu floats (got %zu%s)",
                         fn, p->np, n, buf ? "" : ", NULL");
    return CEM_OK;
}

int cem_model_get_params(const cem_model_t *m, int ema, float *out, size_t n)
{
    int st = params_args("cem_model_get_params", m, NULL, ema, 1, out, n);
    if (st)
        return st;
    const cemi_mlp *p = m->impl;
    memcpy(out, ema ? p->ema : p->params, sizeof(float) * n);
    return CEM_OK;
}

int cem_model_set_params(cem_model_t *m, int ema, const float *in, size_t n)
{
    static const char fn[] = "cem_model_set_params";
    int st = params_args(fn, m, m ? &m->err : NULL, ema, 2, in, n);
    if (st)
        return st;
    if (atomic_load(&m->busy))
        return cemi_model_fail(m, CEM_ERR_BUSY, "%s: a trainer is attached", fn);
    size_t k = cemi_first_nonfinite_f(in, n);
    if (k < n)
        return cemi_model_fail(m, CEM_ERR_NONFINITE, "%s: parameter %zu is %g", fn, k,
                               (double)in[k]);
    cemi_mlp *p = m->impl;
    if (ema != 1)
        memcpy(p->params, in, sizeof(float) * n);
    if (ema != 0)
        memcpy(p->ema, in, sizeof(float) * n);
    return CEM_OK;
}

/* The MLP of m that keeps the data statistics, or NULL having recorded
 * why (m NULL: CEM_ERR_ARG; not an MLP: CEM_ERR_UNSUPPORTED), also in err
 * (NULL for the const getters). */
static cemi_mlp *stats_holder(const cem_model_t *m, cemi_errbuf *err, const char *fn)
{
    if (!m) {
        cemi_fail(NULL, CEM_ERR_ARG, "%s: model is NULL", fn);
        return NULL;
    }
    cemi_mlp *p = cemi_mlp_of(m);
    if (!p)
        cemi_fail(err, CEM_ERR_UNSUPPORTED,
                  "%s: only an MLP keeps data statistics (this model is exact)", fn);
    return p;
}

int cem_model_set_data_stats(cem_model_t *m, const double *mean, double sd)
{
    static const char fn[] = "cem_model_set_data_stats";
    cemi_mlp *p = stats_holder(m, m ? &m->err : NULL, fn);
    if (!p)
        return m ? CEM_ERR_UNSUPPORTED : CEM_ERR_ARG;
    if (!(sd >= 0 && isfinite(sd)) || (sd == 0 && mean))
        return cemi_model_fail(m, CEM_ERR_ARG,
                               "%s: sd = %g must be finite and > 0 (or 0 with mean NULL, to "
                               "clear)", fn, sd);
    for (int j = 0; mean && j < p->sh.D; j++)
        if (!isfinite(mean[j]))
            return cemi_model_fail(m, CEM_ERR_ARG, "%s: mean[%d] = %g is not finite", fn, j,
                                   mean[j]);
    int st = cemi_mlp_check_free(m, fn, "the data statistics");
    if (st)
        return st;
    cemi_mlp_set_stats(p, mean, sd);
    cemi_mlp_set_axes(p, NULL, NULL); /* one sd: the coordinate axes */
    return CEM_OK;
}

int cem_model_set_data_cov(cem_model_t *m, const double *mean, const double *cov)
{
    static const char fn[] = "cem_model_set_data_cov";
    cemi_mlp *p = stats_holder(m, m ? &m->err : NULL, fn);
    if (!p)
        return m ? CEM_ERR_UNSUPPORTED : CEM_ERR_ARG;
    if (!cov)
        return cemi_model_fail(m, CEM_ERR_ARG, "%s: cov is NULL", fn);
    const int D = p->sh.D;
    for (int j = 0; mean && j < D; j++)
        if (!isfinite(mean[j]))
            return cemi_model_fail(m, CEM_ERR_ARG, "%s: mean[%d] = %g is not finite", fn, j,
                                   mean[j]);
    double top = 0, trace = 0;
    for (size_t k = 0; k < (size_t)D * (size_t)D; k++) {
        if (!isfinite(cov[k]))
            return cemi_model_fail(m, CEM_ERR_ARG, "%s: cov[%zu] = %g is not finite", fn, k,
                                   cov[k]);
        top = fmax(top, fabs(cov[k]));
    }
    for (int i = 0; i < D; i++) {
        trace += cov[(size_t)i * (size_t)D + (size_t)i];
        for (int j = 0; j < i; j++) {
            double a = cov[(size_t)i * (size_t)D + (size_t)j], b = cov[(size_t)j * (size_t)D + (size_t)i];
            if (fabs(a - b) > 1e-12 * top)
                return cemi_model_fail(m, CEM_ERR_ARG, "%s: cov is not symmetric (cov[%d][%d] "
                                       "= %g, cov[%d][%d] = %g)", fn, i, j, a, j, i, b);
        }
    }
    if (!(trace > 0))
        return cemi_model_fail(m, CEM_ERR_ARG, "%s: the covariance's trace is %g, not > 0", fn,
                               trace);
    int st = cemi_mlp_check_free(m, fn, "the data statistics");
    if (st)
        return st;
    double *axes = cemi_alloc((size_t)D * (size_t)D, sizeof(double));
    double *sd = cemi_alloc((size_t)D, sizeof(double));
    st = axes && sd ? cemi_mlp_axes_of_cov(D, cov, axes, sd, fn)
                    : cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the axes", fn);
    if (!st && cemi_mlp_set_axes(p, axes, sd))
        st = cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory for the axes", fn);
    cemi_release(axes);
    cemi_release(sd);
    if (st)
        return cemi_model_fail(m, st, "%s", cem_last_error());
    cemi_mlp_set_stats(p, mean, sqrt(trace / D));
    return CEM_OK;
}

int cem_model_get_data_axes(const cem_model_t *m, double *axes, double *axis_sd)
{
    static const char fn[] = "cem_model_get_data_axes";
    const cemi_mlp *p = stats_holder(m, NULL, fn);
    if (!p)
        return m ? CEM_ERR_UNSUPPORTED : CEM_ERR_ARG;
    const size_t D = (size_t)p->sh.D;
    for (size_t k = 0; k < D; k++) {
        for (size_t j = 0; axes && j < D; j++)
            axes[k * D + j] = p->axes ? p->axes[k * D + j] : (double)(j == k);
        if (axis_sd)
            axis_sd[k] = p->axes ? p->axis_sd[k] : p->sd;
    }
    return CEM_OK;
}

int cem_model_get_data_stats(const cem_model_t *m, double *mean, double *sd)
{
    static const char fn[] = "cem_model_get_data_stats";
    const cemi_mlp *p = stats_holder(m, NULL, fn);
    if (!p)
        return m ? CEM_ERR_UNSUPPORTED : CEM_ERR_ARG;
    if (mean)
        memcpy(mean, p->mean, sizeof(double) * (size_t)p->sh.D);
    if (sd)
        *sd = p->sd;
    return CEM_OK;
}
