/*
 * nn.h -- layer 3: the MLP's kernels, a *_forward / *_backward pair per
 * layer on raw arrays (llm.c style).  Shapes are in the comments: B rows
 * (the batch), I inputs, O outputs.  Matrices are row-major and a weight W
 * is O x I, as torch.nn.Linear stores it.  Float products go through
 * gemm.c, double ones through linalg.c.
 *
 * Every kernel exists in float (suffix _f, what the library runs) and in
 * double (suffix _d), compiled from the same source text (nn_kernels.inc),
 * so the finite-difference gradient checks in double test the very code the
 * float build runs.
 */
#ifndef CEM_NN_H
#define CEM_NN_H

#include <stddef.h>

typedef enum {
    CEMI_ACT_SILU = 0,
    CEMI_ACT_RELU = 1,
    CEMI_ACT_TANH = 2
} cemi_act;

/* The MLP on [x, e, phi(t)]: L hidden layers of width H with activation
 * act, then a linear output of size D.  e is the C features of a row's
 * label, row k of a learned NL x C table (C = NL = 0: no labels, the
 * input [x, phi(t)]).  Input width D + C + E. */
typedef struct {
    int D, E, H, L;
    cemi_act act;
    int C, NL;
} cemi_mlp_shape;

/* The network's input width, D + C + E. */
int cemi_mlp_in_width(const cemi_mlp_shape *sh);

/* Where the label table (NL x C, row-major) starts in the flat parameter
 * buffer: after every layer. */
size_t cemi_mlp_table_offset(const cemi_mlp_shape *sh);

/* The table row of a label: the label itself, or the last row (NL - 1)
 * for CEM_LABEL_NONE (-1). */
#define CEMI_LABEL_ROW(sh, k) ((k) < 0 ? (sh)->NL - 1 : (k))

#include "pool.h"

/* Where the float kernels run: a team of threads (NULL: the caller alone)
 * and, for each thread tid, matrix-product workspace at ws + tid * stride
 * (stride >= cemi_mlp_gemm_workspace(sh) floats).  Matrix products are
 * split over the threads by rows, which changes no bit of the result.  With
 * `packed`, the forward products read the weights packed once (for all
 * blocks of rows and all threads) instead of packing them on every call;
 * the result is bitwise the same.  The double kernels (gradient checks)
 * ignore the context and may get NULL. */
typedef struct {
    float *ws;
    size_t stride;
    cemi_pool *pool;
    const float *packed; /* NULL, or the weights packed by cemi_mlp_pack_f */
} cemi_nn_ctx;

/* Floats of matrix-product workspace the network's float kernels need. */
size_t cemi_mlp_gemm_workspace(const cemi_mlp_shape *sh);

/* Floats of the weights packed for the forward products. */
size_t cemi_mlp_packed_size(const cemi_mlp_shape *sh);

/* Packs the weights in params for cemi_mlp_forward_f (ctx's `packed` then
 * points at `packed`), over ctx's threads.  To be redone whenever params
 * change. */
void cemi_mlp_pack_f(const cemi_mlp_shape *sh, const float *params, float *packed,
                     const cemi_nn_ctx *ctx);

/* Number of parameters: layer l (0..L) has W (out x in) then b (out), in
 * that order in one flat buffer, the order of torch's parameters(), and
 * then the label table. */
size_t cemi_mlp_nparams(const cemi_mlp_shape *sh);

/* The largest network the API makes (cemdiff.h: more parameters is
 * CEM_ERR_RANGE); a checkpoint of a larger one is corrupt. */
#define CEMI_MLP_MAX_PARAMS ((size_t)1 << 31)

/* Layer l's sizes and offsets into the flat parameter buffer. */
void cemi_mlp_layer(const cemi_mlp_shape *sh, int l, int *in, int *out, size_t *off_w,
                    size_t *off_b);

/* Entries of the hidden-activation buffer for B rows: with keep (training)
 * the pre- and post-activations of every hidden layer, 2 L B H; without,
 * two ping-pong buffers, 2 B H.  In training the pre-activation buffers end
 * up holding what the activation's backward pass needs (cemi_act_forward). */
size_t cemi_mlp_hidden_size(const cemi_mlp_shape *sh, int B, int keep);

#define CEMI_NN_DECLARE(real, S)                                                          \
    /* Time embedding: tau = (log t - log_tmin) / (log_tmax - log_tmin), then E     \
     * features (E even): out[k] = sin(pi (k+1) tau), out[E/2 + k] = cos(pi (k+1)   \
     * tau), k < E/2.  Row i at out + i*ld; t[i], or t_shared when t is NULL. */     \
    void cemi_embed_time##S(real *out, int ld, const double *t, double t_shared,         \
                            size_t B, int E, double log_tmin, double log_tmax);          \
    /* The label features of B rows: row i of out (stride ld) gets the table     \
     * row of lab[i] (CEMI_LABEL_ROW; lab NULL: every row CEM_LABEL_NONE). */     \
    void cemi_embed_label##S(real *out, int ld, const real *table, const int *lab,     \
                             size_t B, const cemi_mlp_shape *sh);                      \
    /* out (B x O) = inp (B x I) W^T + b; Wp is W packed (float only) or NULL */        \
    void cemi_linear_forward##S(real *out, const real *inp, const real *W, const real *Wp,\
                                const real *b, int B, int I, int O,                      \
                                const cemi_nn_ctx *ctx);                                  \
    /* dW (O x I) = dout^T inp, db (O) = column sums of dout (both overwritten);    \
     * dinp (B x I) = dout W unless dinp is NULL. */                                      \
    void cemi_linear_backward##S(real *dinp, real *dW, real *db, const real *dout,        \
                                 const real *inp, const real *W, int B, int I, int O,     \
                                 const cemi_nn_ctx *ctx);                                  \
    /* post[i] = act(pre[i]); post may equal pre.  With keep (training), what   \
     * the backward pass needs is left in pre: the sigmoid s(pre) for SiLU,      \
     * pre itself otherwise (ReLU and tanh need only post). */                    \
    void cemi_act_forward##S(cemi_act act, real *post, real *pre, size_t n, int keep);    \
    /* dinp[i] = act'(x_i) dout[i] from the aux and post left by a keep forward; \
     * dinp may equal dout. */                                                    \
    void cemi_act_backward##S(cemi_act act, real *dinp, const real *aux,                  \
                              const real *post, const real *dout, size_t n);              \
    /* The network: in (B x (D+E)) -> out (B x D); hid as cemi_mlp_hidden_size. */         \
    void cemi_mlp_forward##S(const cemi_mlp_shape *sh, const real *params, int B,         \
                             const real *in, real *hid, int keep, real *out,              \
                             const cemi_nn_ctx *ctx);                                      \
    /* The network for B rows that share one time (sampling): x (B x (D + C)),   \
     * each row's points and label features, emb the                             \
     * E features of that time, brow H scratch.  The first layer's time part is  \
     * one row for all of them, b + W_t emb: the function of cemi_mlp_forward on  \
     * [x, emb] with another order of additions, and E/(D+E) of the first        \
     * layer's products fewer.  Needs L >= 1; hid as cemi_mlp_hidden_size        \
     * without keep. */                                                            \
    void cemi_mlp_forward_shared_time##S(const cemi_mlp_shape *sh, const real *params,   \
                                         int B, const real *x, const real *emb,          \
                                         real *hid, real *out, real *brow,               \
                                         const cemi_nn_ctx *ctx);                         \
    /* Forward-mode products of the network's Jacobian: din holds K tangents of   \
     * the B input rows (K blocks of B x (D+E), block k tangent k of every row), \
     * hid the activations kept by a keep forward pass of those rows; writes the \
     * K blocks of output tangents (B x D each) into dout.  tmp: 2 K B H. */       \
    void cemi_mlp_jvp##S(const cemi_mlp_shape *sh, const real *params, int B,             \
                         const real *hid, int K, const real *din, real *tmp, real *dout,  \
                         const cemi_nn_ctx *ctx);                                          \
    /* Given dout (B x D) and the kept activations of the forward pass, writes     \
     * every parameter gradient into grads (overwritten); scratch holds 2 B H.    \
     * With labels (C > 0), lab gives the rows' labels as cemi_embed_label; the  \
     * table's gradient is summed over the rows in row order. */                   \
    void cemi_mlp_backward##S(const cemi_mlp_shape *sh, const real *params, int B,        \
                              const real *in, const real *hid, const real *dout,          \
                              const int *lab, real *grads, real *scratch,                 \
                              const cemi_nn_ctx *ctx);                                     \
    /* Weighted squared error of B rows, a part of a batch of Btot: loss =       \
     * (1/Btot) sum_i c_i sum_j e_ij (out_ij - y_ij)^2 (returned, accumulated in  \
     * double), e the per-output weights (B x D; NULL: all 1); dout = d loss / d  \
     * out. */                                                                     \
    double cemi_wmse##S(const real *out, const real *y, const real *c, const real *e,     \
                        int B, int Btot, int D, real *dout);

/* The float exponential the kernels use (exposed for its accuracy test). */
float cemi_expf_vec(float x);

CEMI_NN_DECLARE(float, _f)
CEMI_NN_DECLARE(double, _d)

#endif /* CEM_NN_H */
