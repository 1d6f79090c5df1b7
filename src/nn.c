/*
 * nn.c -- instantiates the MLP kernels (nn_kernels.inc) in float, the type
 * the library trains and samples in, and in double, the type of the
 * finite-difference gradient checks.
 */
#include "nn.h"

#include "base.h"

#include "gemm.h"
#include "linalg.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

int cemi_mlp_in_width(const cemi_mlp_shape *sh) { return sh->D + sh->C + sh->E; }

size_t cemi_mlp_table_offset(const cemi_mlp_shape *sh)
{
    int ni, no;
    size_t ow, ob;
    cemi_mlp_layer(sh, sh->L, &ni, &no, &ow, &ob);
    return ob + (size_t)no;
}

size_t cemi_mlp_nparams(const cemi_mlp_shape *sh)
{
    return cemi_mlp_table_offset(sh) + (size_t)sh->NL * (size_t)sh->C;
}

void cemi_mlp_layer(const cemi_mlp_shape *sh, int l, int *in, int *out, size_t *off_w,
                    size_t *off_b)
{
    size_t in0 = (size_t)cemi_mlp_in_width(sh), H = (size_t)sh->H;
    size_t first = H * in0 + H, hidden = H * H + H;
    *in = l == 0 ? (int)in0 : sh->H;
    *out = l == sh->L ? sh->D : sh->H;
    *off_w = l == 0 ? 0 : first + (size_t)(l - 1) * hidden;
    *off_b = *off_w + (size_t)*in * (size_t)*out;
}

size_t cemi_mlp_gemm_workspace(const cemi_mlp_shape *sh)
{
    int widest = sh->H > cemi_mlp_in_width(sh) ? sh->H : cemi_mlp_in_width(sh);
    return cemi_gemm_workspace(widest);
}

/* Layer l packs its weights when its forward product has enough columns
 * to go through packed panels. */
static int layer_packs(const cemi_mlp_shape *sh, int l, int *in, int *out, size_t *off)
{
    size_t ow, ob, o = 0;
    for (int k = 0; k < l; k++) {
        cemi_mlp_layer(sh, k, in, out, &ow, &ob);
        if (*out >= CEMI_GEMM_NARROW)
            o += cemi_gemm_packed_size(*out, *in);
    }
    cemi_mlp_layer(sh, l, in, out, &ow, &ob);
    *off = o;
    return *out >= CEMI_GEMM_NARROW;
}

size_t cemi_mlp_packed_size(const cemi_mlp_shape *sh)
{
    int in, out;
    size_t off;
    int last = layer_packs(sh, sh->L, &in, &out, &off);
    return off + (last ? cemi_gemm_packed_size(out, in) : 0);
}

static const float *packed_layer(const cemi_nn_ctx *ctx, const cemi_mlp_shape *sh, int l)
{
    int in, out;
    size_t off;
    if (!ctx || !ctx->packed || !layer_packs(sh, l, &in, &out, &off))
        return NULL;
    return ctx->packed + off;
}

typedef struct {
    const cemi_mlp_shape *sh;
    const float *params;
    float *packed;
} pack_job;

/* Thread tid packs its share of the columns of every layer. */
static void pack_part(void *v, int tid, int n)
{
    const pack_job *j = v;
    for (int l = 0; l <= j->sh->L; l++) {
        int in, out, lo, hi;
        size_t off, ow, ob;
        if (!layer_packs(j->sh, l, &in, &out, &off))
            continue;
        cemi_mlp_layer(j->sh, l, &in, &out, &ow, &ob);
        cemi_pool_split(out, 32, tid, n, &lo, &hi);
        if (lo < hi) /* W (out x in) is op(B) = W^T stored transposed */
            cemi_gemm_pack(1, out, in, j->params + ow, in, lo, hi, j->packed + off);
    }
}

void cemi_mlp_pack_f(const cemi_mlp_shape *sh, const float *params, float *packed,
                     const cemi_nn_ctx *ctx)
{
    pack_job j = {sh, params, packed};
    cemi_pool_run(ctx ? ctx->pool : NULL, pack_part, &j);
}

/* The float network runs on the library's own matrix product (gemm.c); the
 * double one (gradient checks) on the closed forms' (linalg.c). */
typedef struct {
    const cemi_nn_ctx *ctx;
    int ta, tb, M, N, K, lda, ldb, ldc;
    const float *A, *B, *Bp, *bias;
    float beta;
    float *C;
} gemm_job;

/* Rows [lo, hi) of a product, on thread tid's workspace. */
static void gemm_rows(const gemm_job *j, int tid, int lo, int hi)
{
    float *ws = j->ctx->ws + (size_t)tid * j->ctx->stride;
    const float *A = j->ta ? j->A + lo : j->A + (size_t)lo * (size_t)j->lda;
    float *C = j->C + (size_t)lo * (size_t)j->ldc;
    if (j->Bp)
        cemi_gemm_packed(j->ta, hi - lo, j->N, j->K, A, j->lda, j->Bp, j->beta, j->bias, C, j->ldc,
                         ws);
    else
        cemi_gemm(j->ta, j->tb, hi - lo, j->N, j->K, A, j->lda, j->B, j->ldb, j->beta, j->bias, C,
                  j->ldc, ws);
}

/* Thread tid's share of a product.  Each thread packs the part of op(B)
 * it uses, so a weight gradient (A = dout^T, B = the layer input, K the
 * batch) is split by columns: split by rows, every thread would pack all of
 * the B x I input.  The other products are split by rows of C (B, the
 * weight, is small).  Either way each element of C gets the same
 * arithmetic whatever the split. */
static void gemm_part(void *v, int tid, int n)
{
    const gemm_job *j = v;
    int lo, hi;
    if (j->ta && j->N >= 64 * n && j->N % 32 == 0) { /* no piece narrower than 32 */
        cemi_pool_split(j->N, 32, tid, n, &lo, &hi);
        if (lo < hi)
            cemi_gemm(j->ta, j->tb, j->M, hi - lo, j->K, j->A, j->lda,
                      j->tb ? j->B + (size_t)lo * (size_t)j->ldb : j->B + lo, j->ldb, j->beta,
                      j->bias ? j->bias + lo : NULL, j->C + lo, j->ldc,
                      j->ctx->ws + (size_t)tid * j->ctx->stride);
        return;
    }
    cemi_pool_split(j->M, 8, tid, n, &lo, &hi);
    if (lo < hi)
        gemm_rows(j, tid, lo, hi);
}

/* Products below this many FLOPs run on the caller: waking the team for
 * them costs more than it saves. */
#define POOL_MIN_FLOPS 2e5

static void gemm_f(const cemi_nn_ctx *ctx, int ta, int tb, int M, int N, int K, const float *A,
                   int lda, const float *B, int ldb, const float *Bp, const float *bias,
                   float beta, float *C, int ldc)
{
    gemm_job j = {ctx, ta, tb, M, N, K, lda, ldb, ldc, A, B, Bp, bias, beta, C};
    if (cemi_pool_size(ctx->pool) > 1 && 2.0 * M * N * K >= POOL_MIN_FLOPS)
        cemi_pool_run(ctx->pool, gemm_part, &j);
    else
        gemm_part(&j, 0, 1);
}

static void gemm_d(const cemi_nn_ctx *ctx, int ta, int tb, int M, int N, int K, const double *A,
                   int lda, const double *B, int ldb, const double *Bp, const double *bias,
                   double beta, double *C, int ldc)
{
    (void)ctx;
    (void)Bp;
    if (bias) {
        for (int i = 0; i < M; i++)
            memcpy(C + (size_t)i * (size_t)ldc, bias, sizeof(double) * (size_t)N);
        beta = 1.0;
    }
    cemi_dgemm(ta, tb, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc);
}

/* db (O) = column sums of dout (B x O), each column summed over the rows in
 * order; the float version splits the columns over the team. */
typedef struct {
    float *db;
    const float *dout;
    int B, O;
} colsum_job;

/* Columns [lo, hi) in strips of 64 held in registers down all the rows. */
CEMI_CLONES
static void colsum_range(float *restrict db, const float *restrict dout, int B, int O, int lo,
                         int hi)
{
    int c0 = lo;
    for (; c0 + 64 <= hi; c0 += 64) {
        float acc[64] = {0};
        for (int i = 0; i < B; i++) {
            const float *d = dout + (size_t)i * (size_t)O + (size_t)c0;
            for (int c = 0; c < 64; c++)
                acc[c] += d[c];
        }
        memcpy(db + c0, acc, sizeof acc);
    }
    for (int c = c0; c < hi; c++) {
        float a = 0;
        for (int i = 0; i < B; i++)
            a += dout[(size_t)i * (size_t)O + (size_t)c];
        db[c] = a;
    }
}

static void colsum_part(void *v, int tid, int n)
{
    const colsum_job *j = v;
    int lo, hi;
    cemi_pool_split(j->O, 64, tid, n, &lo, &hi);
    colsum_range(j->db, j->dout, j->B, j->O, lo, hi);
}

/* A layer's weight gradient dW = dout^T inp and bias gradient db = column
 * sums of dout as one team job: each thread takes its share of both. */
typedef struct {
    gemm_job g;
    colsum_job c;
} wgrad_job;

static void wgrad_part(void *v, int tid, int n)
{
    const wgrad_job *j = v;
    gemm_part((void *)&j->g, tid, n);
    colsum_part((void *)&j->c, tid, n);
}

static void wgrad_f(const cemi_nn_ctx *ctx, float *dW, float *db, const float *dout,
                    const float *inp, int B, int I, int O)
{
    /* dW (O x I) = dout^T (O x B, stored B x O) inp (B x I) */
    wgrad_job j = {.g = {.ctx = ctx, .ta = 1, .tb = 0, .M = O, .N = I, .K = B, .lda = O,
                         .ldb = I, .ldc = I, .A = dout, .B = inp, .beta = 0.0f, .C = dW},
                   .c = {db, dout, B, O}};
    if (cemi_pool_size(ctx->pool) > 1 && 2.0 * O * I * B >= POOL_MIN_FLOPS)
        cemi_pool_run(ctx->pool, wgrad_part, &j);
    else
        wgrad_part(&j, 0, 1);
}

static void wgrad_d(const cemi_nn_ctx *ctx, double *dW, double *db, const double *dout,
                    const double *inp, int B, int I, int O)
{
    gemm_d(ctx, 1, 0, O, I, B, dout, O, inp, I, NULL, NULL, 0.0, dW, I);
    for (int c = 0; c < O; c++)
        db[c] = 0;
    for (int i = 0; i < B; i++)
        for (int c = 0; c < O; c++)
            db[c] += dout[(size_t)i * (size_t)O + (size_t)c];
}

/* A hidden layer's product and its activation as one job: the thread that
 * computes rows [lo, hi) of the product applies the activation (forward)
 * or its derivative (backward) to the same rows while they are in its
 * cache, and the team meets once per layer instead of twice.  The
 * activation is elementwise, so the split changes no result. */
typedef struct {
    gemm_job g;
    int forward, keep;
    cemi_act act;
    float *pre;                /* forward: the pre-activation (the product) */
    float *post;               /* forward: out; backward: in (post of the layer below) */
    const float *aux;          /* backward: what the forward pass kept */
} layer_job;

static void layer_part(void *v, int tid, int n)
{
    const layer_job *j = v;
    int lo, hi;
    cemi_pool_split(j->g.M, 8, tid, n, &lo, &hi);
    if (lo >= hi)
        return;
    gemm_rows(&j->g, tid, lo, hi);
    size_t e0 = (size_t)lo * (size_t)j->g.N, e = (size_t)(hi - lo) * (size_t)j->g.N;
    if (j->forward)
        cemi_act_forward_f(j->act, j->post + e0, j->pre + e0, e, j->keep);
    else /* the product is the gradient with respect to post; in place */
        cemi_act_backward_f(j->act, j->g.C + e0, j->aux + e0, j->post + e0, j->g.C + e0, e);
}

static void layer_run(layer_job *j)
{
    const gemm_job *g = &j->g;
    if (cemi_pool_size(g->ctx->pool) > 1 && 2.0 * g->M * g->N * g->K >= POOL_MIN_FLOPS)
        cemi_pool_run(g->ctx->pool, layer_part, j);
    else
        layer_part(j, 0, 1);
}

/* pre (B x O) = inp W^T + b, post = act(pre) (keep: as cemi_act_forward). */
static void layer_forward_f(const cemi_nn_ctx *ctx, cemi_act act, int keep, float *pre,
                            float *post, const float *inp, const float *W, int ldw,
                            const float *Wp, const float *b, int B, int I, int O)
{
    /* pre (B x O) = b + inp (B x I) W^T (W stored O x I, rows ldw apart) */
    layer_job j = {.g = {.ctx = ctx, .ta = 0, .tb = 1, .M = B, .N = O, .K = I, .lda = I,
                         .ldb = ldw, .ldc = O, .A = inp, .B = W, .Bp = Wp, .bias = b,
                         .beta = 0.0f, .C = pre},
                   .forward = 1, .keep = keep, .act = act, .pre = pre, .post = post};
    layer_run(&j);
}

/* dinp (B x I) = act'(.) (dout W), with aux and post the kept activations
 * of the layer below (as cemi_act_backward). */
static void layer_backward_f(const cemi_nn_ctx *ctx, cemi_act act, float *dinp, const float *aux,
                             const float *post, const float *dout, const float *W, int B, int I,
                             int O)
{
    /* dinp (B x I) = dout (B x O) W (O x I) */
    layer_job j = {.g = {.ctx = ctx, .ta = 0, .tb = 0, .M = B, .N = I, .K = O, .lda = O,
                         .ldb = I, .ldc = I, .A = dout, .B = W, .beta = 0.0f, .C = dinp},
                   .forward = 0, .act = act, .post = (float *)post, .aux = aux};
    layer_run(&j);
}

size_t cemi_mlp_hidden_size(const cemi_mlp_shape *sh, int B, int keep)
{
    return 2 * (size_t)(keep ? sh->L : 1) * (size_t)B * (size_t)sh->H;
}

/* exp for float in a form the vectoriser can use (libm's expf is a call):
 * x = n ln2 + r with |r| <= ln2/2, e^r by Cephes' degree-7 polynomial,
 * 2^n assembled in the exponent bits.  Relative error below 2 ulp over
 * [-87.3, 88] (tests/test_nn.c); inputs are clamped to that range, so
 * e^-inf gives 1.2e-38 (the sigmoid then rounds to 0 or 1 as expf would).
 * A NaN in gives NaN out; the clamps are written so that it becomes -87.3
 * inside (ordered comparisons are false for NaN), because converting a NaN
 * to int is undefined behaviour (UBSan's finding on overflowing weights). */
static inline float cemi_expf(float xin)
{
    float x = xin > -87.3f ? xin : -87.3f;
    x = x < 88.0f ? x : 88.0f;
    const float shifter = 12582912.0f; /* 1.5 * 2^23: rounds to an integer */
    float n = (x * 1.44269504088896341f + shifter) - shifter;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { float f; int32_t i; } scale = {.i = ((int32_t)n + 127) << 23};
    const float y = p * scale.f;
    return xin == xin ? y : xin;
}

float cemi_expf_vec(float x) { return cemi_expf(x); }

#define REAL float
#define S _f
#define GEMM gemm_f
#define WGRAD wgrad_f
#define PACKED packed_layer
#define LAYER_FORWARD layer_forward_f
#define LAYER_BACKWARD layer_backward_f
#define EXP cemi_expf
#define TANH tanhf
#include "nn_kernels.inc"
#undef REAL
#undef S
#undef GEMM
#undef WGRAD
#undef PACKED
#undef LAYER_FORWARD
#undef LAYER_BACKWARD
#undef EXP
#undef TANH

/* The double network does the same in two steps. */
static void layer_forward_d(const cemi_nn_ctx *ctx, cemi_act act, int keep, double *pre,
                            double *post, const double *inp, const double *W, int ldw,
                            const double *Wp, const double *b, int B, int I, int O)
{
    gemm_d(ctx, 0, 1, B, O, I, inp, I, W, ldw, Wp, b, 0.0, pre, O);
    cemi_act_forward_d(act, post, pre, (size_t)B * (size_t)O, keep);
}

static void layer_backward_d(const cemi_nn_ctx *ctx, cemi_act act, double *dinp,
                             const double *aux, const double *post, const double *dout,
                             const double *W, int B, int I, int O)
{
    gemm_d(ctx, 0, 0, B, I, O, dout, O, W, I, NULL, NULL, 0.0, dinp, I);
    cemi_act_backward_d(act, dinp, aux, post, dinp, (size_t)B * (size_t)I);
}

#define REAL double
#define S _d
#define GEMM gemm_d
#define WGRAD wgrad_d
#define PACKED(ctx, sh, l) ((void)(ctx), (void)(sh), (void)(l), (const double *)NULL)
#define LAYER_FORWARD layer_forward_d
#define LAYER_BACKWARD layer_backward_d
#define EXP exp
#define TANH tanh
#include "nn_kernels.inc"
