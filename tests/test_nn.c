/*
 * test_nn.c -- the MLP kernels against finite differences in double: every
 * layer alone, then the whole network and loss, for each activation; the
 * float kernels against the double ones; the time embedding against its
 * formula.  The double kernels are compiled from the same source as the
 * float ones (src/nn_kernels.inc).
 */
#include "tests.h"

#include "base.h"
#include "gemm.h"
#include "nn.h"

#include <stdlib.h>
#include <string.h>

static void fill(cemi_rng *r, double *x, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * cemi_rng_normal(r);
}

/* max |a - b| / max(|b|_inf, tiny): relative to the gradient's size */
static double grad_err(const double *a, const double *b, size_t n)
{
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(a[i] - b[i]) / fmax(scale, 1e-300));
    return worst;
}

/* L = sum(dout . linear(inp)) */
static double linear_objective(const double *inp, const double *W, const double *b,
                               const double *dout, int B, int I, int O, double *tmp)
{
    cemi_linear_forward_d(tmp, inp, W, NULL, b, B, I, O, NULL);
    double s = 0;
    for (int k = 0; k < B * O; k++)
        s += dout[k] * tmp[k];
    return s;
}

START_TEST(linear_layer_gradients)
{
    enum { B = 5, I = 4, O = 3 };
    double inp[B * I], W[O * I], b[O], dout[B * O], tmp[B * O];
    double dinp[B * I], dW[O * I], db[O], fd[B * I];
    cemi_rng r;
    cemi_rng_init(&r, 1, 0);
    fill(&r, inp, B * I, 1); fill(&r, W, O * I, 1); fill(&r, b, O, 1); fill(&r, dout, B * O, 1);
    cemi_linear_backward_d(dinp, dW, db, dout, inp, W, B, I, O, NULL);
    const double h = 1e-6;
    double *arrays[3] = {inp, W, b}, *grads[3] = {dinp, dW, db};
    int sizes[3] = {B * I, O * I, O};
    for (int a = 0; a < 3; a++) {
        for (int k = 0; k < sizes[a]; k++) {
            double keep = arrays[a][k];
            arrays[a][k] = keep + h;
            double lp = linear_objective(inp, W, b, dout, B, I, O, tmp);
            arrays[a][k] = keep - h;
            double lm = linear_objective(inp, W, b, dout, B, I, O, tmp);
            arrays[a][k] = keep;
            fd[k] = (lp - lm) / (2 * h);
        }
        double e = grad_err(grads[a], fd, (size_t)sizes[a]);
        ck_assert_msg(e < 1e-6, "array %d: relative error %g", a, e);
    }
}
END_TEST

START_TEST(activation_gradients)
{
    enum { n = 64 };
    double x[n], d[n], g[n], y1[n], y2[n];
    cemi_rng r;
    cemi_rng_init(&r, 2, 0);
    fill(&r, x, n, 2);
    fill(&r, d, n, 1);
    for (int act = CEMI_ACT_SILU; act <= CEMI_ACT_TANH; act++) {
        double aux[n], post[n];
        memcpy(aux, x, sizeof aux);
        cemi_act_forward_d((cemi_act)act, post, aux, n, 1);
        cemi_act_backward_d((cemi_act)act, g, aux, post, d, n);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            if (act == CEMI_ACT_RELU && fabs(x[i]) < 1e-3)
                continue; /* the kink */
            const double h = 1e-6;
            double xp = x[i] + h, xm = x[i] - h;
            cemi_act_forward_d((cemi_act)act, y1, &xp, 1, 0);
            cemi_act_forward_d((cemi_act)act, y2, &xm, 1, 0);
            double fd = d[i] * (y1[0] - y2[0]) / (2 * h);
            worst = fmax(worst, fabs(g[i] - fd) / fmax(fabs(fd), 1e-3));
        }
        ck_assert_msg(worst < 1e-7, "activation %d: relative error %g", act, worst);
    }
    /* values: silu(1) = 1/(1+e^-1), tanh, relu */
    double one = 1.0, neg = -2.0, out;
    cemi_act_forward_d(CEMI_ACT_SILU, &out, &one, 1, 0);
    ck_assert_double_lt(fabs(out - 1 / (1 + exp(-1.0))), 1e-15);
    cemi_act_forward_d(CEMI_ACT_RELU, &out, &neg, 1, 0);
    ck_assert(out == 0.0);
    cemi_act_forward_d(CEMI_ACT_TANH, &out, &neg, 1, 0);
    ck_assert_double_lt(fabs(out - tanh(-2.0)), 1e-15);
}
END_TEST

/* The whole training loss in double: L(theta) = wmse(mlp(in), y, c). */
typedef struct {
    cemi_mlp_shape sh;
    int B;
    double *in, *hid, *out, *y, *c, *dout;
    const int *lab; /* B labels when the network has a label table */
} net_case;

/* With labels, the input's label columns are the table rows of params, so
 * that the finite differences see the table too. */
static double net_loss(net_case *nc, const double *params)
{
    if (nc->sh.C)
        cemi_embed_label_d(nc->in + nc->sh.D, cemi_mlp_in_width(&nc->sh),
                           params + cemi_mlp_table_offset(&nc->sh), nc->lab, (size_t)nc->B,
                           &nc->sh);
    cemi_mlp_forward_d(&nc->sh, params, nc->B, nc->in, nc->hid, 1, nc->out, NULL);
    return cemi_wmse_d(nc->out, nc->y, nc->c, NULL, nc->B, nc->B, nc->sh.D, nc->dout);
}

/* The gradient of the whole loss against central differences; with K > 0
 * classes a label table of C features (rows labelled 0 .. K-1 and
 * CEM_LABEL_NONE, the last table row). */
static void check_network(cemi_act act, int D, int E, int H, int L, int B, uint64_t seed,
                          int K, int C)
{
    int lab[16];
    net_case nc = {{D, E, H, L, act, K ? C : 0, K ? K + 1 : 0}, B, NULL, NULL, NULL, NULL,
                   NULL, NULL, lab};
    for (int i = 0; i < B && i < 16; i++)
        lab[i] = K ? i % (K + 1) - 1 : -1;
    const int I = cemi_mlp_in_width(&nc.sh);
    size_t np = cemi_mlp_nparams(&nc.sh);
    double *p = malloc(sizeof(double) * np), *g = malloc(sizeof(double) * np);
    double *fd = malloc(sizeof(double) * np);
    nc.in = malloc(sizeof(double) * (size_t)B * (size_t)I);
    nc.hid = malloc(sizeof(double) * cemi_mlp_hidden_size(&nc.sh, B, 1));
    nc.out = malloc(sizeof(double) * (size_t)B * (size_t)D);
    nc.y = malloc(sizeof(double) * (size_t)B * (size_t)D);
    nc.dout = malloc(sizeof(double) * (size_t)B * (size_t)D);
    nc.c = malloc(sizeof(double) * (size_t)B);
    double *scratch = malloc(sizeof(double) * 2 * (size_t)B * (size_t)H);
    cemi_rng r;
    cemi_rng_init(&r, seed, 0);
    fill(&r, p, np, 0.7);
    fill(&r, nc.in, (size_t)B * (size_t)I, 1);
    fill(&r, nc.y, (size_t)B * (size_t)D, 1);
    for (int i = 0; i < B; i++)
        nc.c[i] = 0.1 + cemi_rng_uniform(&r) * 10; /* like lambda(t) */

    net_loss(&nc, p);
    cemi_mlp_backward_d(&nc.sh, p, B, nc.in, nc.hid, nc.dout, lab, g, scratch, NULL);
    const double h = 1e-6;
    for (size_t k = 0; k < np; k++) {
        double keep = p[k];
        p[k] = keep + h;
        double lp = net_loss(&nc, p);
        p[k] = keep - h;
        double lm = net_loss(&nc, p);
        p[k] = keep;
        fd[k] = (lp - lm) / (2 * h);
    }
    double e = grad_err(g, fd, np);
    ck_assert_msg(e < 1e-6, "act %d D=%d E=%d H=%d L=%d B=%d K=%d: relative error %g", act, D,
                  E, H, L, B, K, e);
    if (K) { /* the table's gradient is there: not all zero */
        double gt = 0;
        for (size_t k = cemi_mlp_table_offset(&nc.sh); k < np; k++)
            gt += fabs(g[k]);
        ck_assert_double_gt(gt, 1e-3);
    }
    free(p); free(g); free(fd); free(nc.in); free(nc.hid); free(nc.out); free(nc.y);
    free(nc.dout); free(nc.c); free(scratch);
}

START_TEST(network_and_loss_gradients)
{
    check_network(CEMI_ACT_SILU, 2, 4, 6, 2, 7, 3, 0, 0);
    check_network(CEMI_ACT_TANH, 3, 2, 5, 3, 4, 4, 0, 0);
    check_network(CEMI_ACT_RELU, 2, 6, 7, 1, 9, 5, 0, 0);
    check_network(CEMI_ACT_SILU, 1, 2, 3, 4, 3, 6, 0, 0);
    /* labelled: three classes and the "no label" row, a table of 3 features */
    check_network(CEMI_ACT_SILU, 2, 4, 6, 2, 9, 7, 3, 3);
    check_network(CEMI_ACT_TANH, 3, 2, 5, 3, 5, 8, 2, 4);
}
END_TEST

START_TEST(float_kernels_match_double)
{
    cemi_mlp_shape sh = {2, 8, 16, 3, CEMI_ACT_SILU, 0, 0};
    enum { B = 11 };
    size_t np = cemi_mlp_nparams(&sh);
    ck_assert_uint_eq(np, (size_t)(16 * 10 + 16 + 2 * (16 * 16 + 16) + 2 * 16 + 2));
    double *pd = malloc(sizeof(double) * np);
    float *pf = malloc(sizeof(float) * np);
    double ind[B * 10], outd[B * 2], hidd[2 * 3 * B * 16];
    float inf_[B * 10], outf[B * 2], hidf[2 * 3 * B * 16], hid2[2 * B * 16], out2[B * 2];
    cemi_rng r;
    cemi_rng_init(&r, 9, 0);
    for (size_t k = 0; k < np; k++)
        pd[k] = pf[k] = (float)(0.3 * cemi_rng_normal(&r));
    for (int k = 0; k < B * 10; k++)
        ind[k] = inf_[k] = (float)cemi_rng_normal(&r);
    float *ws = malloc(sizeof(float) * cemi_mlp_gemm_workspace(&sh));
    const cemi_nn_ctx ctx = {ws, 0, NULL, NULL};
    cemi_mlp_forward_d(&sh, pd, B, ind, hidd, 1, outd, NULL);
    cemi_mlp_forward_f(&sh, pf, B, inf_, hidf, 1, outf, &ctx);
    cemi_mlp_forward_f(&sh, pf, B, inf_, hid2, 0, out2, &ctx); /* inference layout */
    for (int k = 0; k < B * 2; k++) {
        ck_assert_double_lt(fabs(outf[k] - outd[k]), 1e-5 * (1 + fabs(outd[k])));
        ck_assert(outf[k] == out2[k]); /* same arithmetic, other buffers */
    }
    free(pd);
    free(pf);
    free(ws);
}
END_TEST

START_TEST(time_embedding_formula)
{
    enum { E = 6 };
    double t[3] = {1e-3, 0.1, 10.0};
    float out[3 * (E + 2)];
    memset(out, 0, sizeof out);
    cemi_embed_time_f(out + 2, E + 2, t, 0.0, 3, E, log(1e-3), log(10.0));
    for (int i = 0; i < 3; i++) {
        double tau = (log(t[i]) - log(1e-3)) / (log(10.0) - log(1e-3));
        for (int k = 0; k < E / 2; k++) {
            ck_assert_double_lt(fabs(out[i * (E + 2) + 2 + k] - sin(3.14159265358979323846 * (k + 1) * tau)), 1e-7);
            ck_assert_double_lt(fabs(out[i * (E + 2) + 2 + E / 2 + k] -
                                     cos(3.14159265358979323846 * (k + 1) * tau)), 1e-7);
        }
        ck_assert(out[i * (E + 2)] == 0.0f && out[i * (E + 2) + 1] == 0.0f); /* x untouched */
    }
}
END_TEST

START_TEST(fast_expf_accuracy)
{
    /* against exp in double over the whole clamped range, 2 ulp */
    double worst = 0;
    for (double x = -87.3; x <= 88.0; x += 0.00173) {
        float got = cemi_expf_vec((float)x);
        double want = exp((double)(float)x);
        worst = fmax(worst, fabs(got - want) / want);
    }
    ck_assert_msg(worst < 2.4e-7, "worst relative error %g", worst);
    ck_assert(isfinite(cemi_expf_vec(1000.0f)) && cemi_expf_vec(-1000.0f) >= 0.0f);
    ck_assert(cemi_expf_vec(0.0f) == 1.0f);
    /* NaN in, NaN out, and +-inf clamped (no float-to-int conversion of a
     * NaN inside: UBSan's float-cast-overflow finding) */
    ck_assert(isnan(cemi_expf_vec(NAN)));
    ck_assert(isfinite(cemi_expf_vec(INFINITY)) && cemi_expf_vec(INFINITY) > 1e38f);
    ck_assert(cemi_expf_vec(-INFINITY) >= 0.0f && cemi_expf_vec(-INFINITY) < 1e-37f);
}
END_TEST

/* C = beta C + op(A) op(B) in double, the reference for cemi_gemm. */
static void gemm_ref(int ta, int tb, int M, int N, int K, const float *A, int lda,
                     const float *B, int ldb, float beta, const float *C0, double *C)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++)
                s += (double)(ta ? A[k * lda + i] : A[i * lda + k]) *
                     (double)(tb ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * N + j] = s + (double)beta * C0[i * N + j];
        }
}

START_TEST(gemm_against_double_reference)
{
    /* every kernel the CPU has, all four layouts, edge sizes, K beyond one
     * block (256), beta 0 and 1: error within a float accumulation's
     * sqrt(K) ulp of the largest term */
    static const int shapes[][3] = {{1, 1, 1},   {7, 9, 3},    {8, 32, 256}, {13, 40, 257},
                                    {96, 33, 5}, {100, 2, 70}, {3, 50, 600}, {130, 70, 513}};
    cemi_rng r;
    cemi_rng_init(&r, 21, 0);
    int tested = 0;
    for (int v = 0; v < 3; v++) {
        if (cemi_gemm_force_kernel(v) != 0)
            continue;
        tested++;
        for (size_t sidx = 0; sidx < sizeof shapes / sizeof shapes[0]; sidx++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++)
                    for (int b = 0; b < 2; b++) {
                        int M = shapes[sidx][0], N = shapes[sidx][1], K = shapes[sidx][2];
                        float *A = malloc(sizeof(float) * (size_t)(M * K));
                        float *B = malloc(sizeof(float) * (size_t)(K * N));
                        float *C = malloc(sizeof(float) * (size_t)(M * N));
                        float *C0 = malloc(sizeof(float) * (size_t)(M * N));
                        double *R = malloc(sizeof(double) * (size_t)(M * N));
                        float *ws = malloc(sizeof(float) * cemi_gemm_workspace(N));
                        for (int k = 0; k < M * K; k++) A[k] = (float)cemi_rng_normal(&r);
                        for (int k = 0; k < K * N; k++) B[k] = (float)cemi_rng_normal(&r);
                        for (int k = 0; k < M * N; k++) C[k] = C0[k] = (float)cemi_rng_normal(&r);
                        float beta = (float)b;
                        cemi_gemm(ta, tb, M, N, K, A, ta ? M : K, B, tb ? K : N, beta, NULL, C, N, ws);
                        gemm_ref(ta, tb, M, N, K, A, ta ? M : K, B, tb ? K : N, beta, C0, R);
                        double worst = 0;
                        for (int k = 0; k < M * N; k++)
                            worst = fmax(worst, fabs(C[k] - R[k]) / sqrt((double)K + 1));
                        ck_assert_msg(worst < 4e-6, "kernel %d %dx%dx%d ta%d tb%d beta%d: %g", v,
                                      M, N, K, ta, tb, b, worst);
                        free(A); free(B); free(C); free(C0); free(R); free(ws);
                    }
    }
    cemi_gemm_force_kernel(-1);
    ck_assert_int_ge(tested, 1);
}
END_TEST

START_TEST(gemm_rows_do_not_depend_on_m)
{
    /* rows r0 .. r0 + m - 1 of a 200-row product equal an m-row product of
     * those rows, bitwise, for every kernel: the split of a batch over
     * threads changes nothing, and a tile short of MR rows (one row alone:
     * a single sampled row) gets the bits of a full one.  Unpacked with
     * both layouts of B (with B stored K x N, a product of M < 8 rows is
     * done by row updates, not panels: the output layer's D-row weight
     * gradient, whose M never changes; those pieces are left out), and
     * packed with a bias (the forward pass) */
    enum { M = 200, N = 70, K = 300 };
    static const int PIECES[][2] = {{37, 64}, {0, 1}, {5, 1}, {8, 1}, {199, 1},
                                    {3, 7},   {9, 9}, {17, 13}, {100, 2}};
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
    float *C = malloc(sizeof(float) * M * N), *Cs = malloc(sizeof(float) * M * N);
    float *Bp = malloc(sizeof(float) * cemi_gemm_packed_size(N, K));
    float *ws = malloc(sizeof(float) * cemi_gemm_workspace(N)), bias[N];
    cemi_rng r;
    cemi_rng_init(&r, 22, 0);
    for (int k = 0; k < M * K; k++) A[k] = (float)cemi_rng_normal(&r);
    for (int k = 0; k < K * N; k++) B[k] = (float)cemi_rng_normal(&r);
    for (int j = 0; j < N; j++) bias[j] = (float)cemi_rng_normal(&r);
    int tested = 0;
    for (int v = 0; v < 3; v++) {
        if (cemi_gemm_force_kernel(v) != 0)
            continue;
        tested++;
        for (int path = 0; path < 3; path++) { /* unpacked tb 0, tb 1; packed */
            const int tb = path >= 1;
            if (path == 2)
                cemi_gemm_pack(1, N, K, B, K, 0, N, Bp);
            if (path < 2)
                cemi_gemm(0, tb, M, N, K, A, K, B, tb ? K : N, 0.0f, NULL, C, N, ws);
            else
                cemi_gemm_packed(0, M, N, K, A, K, Bp, 0.0f, bias, C, N, ws);
            for (size_t q = 0; q < sizeof PIECES / sizeof PIECES[0]; q++) {
                const int r0 = PIECES[q][0], m = PIECES[q][1];
                if (path == 0 && m < 8)
                    continue;
                if (path < 2)
                    cemi_gemm(0, tb, m, N, K, A + r0 * K, K, B, tb ? K : N, 0.0f, NULL, Cs, N, ws);
                else
                    cemi_gemm_packed(0, m, N, K, A + r0 * K, K, Bp, 0.0f, bias, Cs, N, ws);
                ck_assert_msg(memcmp(C + r0 * N, Cs, sizeof(float) * (size_t)(m * N)) == 0,
                              "kernel %d path %d: rows %d + %d differ", v, path, r0, m);
            }
        }
    }
    cemi_gemm_force_kernel(-1);
    ck_assert_int_ge(tested, 1);
    free(A); free(B); free(C); free(Cs); free(Bp); free(ws);
}
END_TEST

START_TEST(gemm_packed_equals_gemm)
{
    /* op(B) packed once (in two column pieces, as two threads would) gives
     * bitwise cemi_gemm's result: every kernel, both layouts, partial
     * panels and tiles, K beyond one block, beta 0 and 1 */
    static const int shapes[][3] = {{8, 8, 1}, {7, 40, 3}, {96, 33, 257}, {130, 70, 513},
                                    {1, 64, 34}, {37, 256, 256}};
    cemi_rng r;
    cemi_rng_init(&r, 23, 0);
    for (int v = 0; v < 3; v++) {
        if (cemi_gemm_force_kernel(v) != 0)
            continue;
        for (size_t sidx = 0; sidx < sizeof shapes / sizeof shapes[0]; sidx++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++)
                    for (int b = 0; b < 2; b++) {
                        int M = shapes[sidx][0], N = shapes[sidx][1], K = shapes[sidx][2];
                        if (M < 8 && !tb)
                            continue; /* cemi_gemm's row updates, not panels */
                        float *A = malloc(sizeof(float) * (size_t)(M * K));
                        float *B = malloc(sizeof(float) * (size_t)(K * N));
                        float *C = malloc(sizeof(float) * (size_t)(M * N));
                        float *Cp = malloc(sizeof(float) * (size_t)(M * N));
                        float *Bp = malloc(sizeof(float) * cemi_gemm_packed_size(N, K));
                        float *ws = malloc(sizeof(float) * cemi_gemm_workspace(N));
                        for (int k = 0; k < M * K; k++) A[k] = (float)cemi_rng_normal(&r);
                        for (int k = 0; k < K * N; k++) B[k] = (float)cemi_rng_normal(&r);
                        for (int k = 0; k < M * N; k++) C[k] = Cp[k] = (float)cemi_rng_normal(&r);
                        int ldb = tb ? K : N;
                        cemi_gemm_pack(tb, N, K, B, ldb, 32, N, Bp);
                        cemi_gemm_pack(tb, N, K, B, ldb, 0, 32, Bp);
                        cemi_gemm(ta, tb, M, N, K, A, ta ? M : K, B, ldb, (float)b, NULL, C, N, ws);
                        cemi_gemm_packed(ta, M, N, K, A, ta ? M : K, Bp, (float)b, NULL, Cp, N, ws);
                        ck_assert_msg(memcmp(C, Cp, sizeof(float) * (size_t)(M * N)) == 0,
                                      "kernel %d %dx%dx%d ta%d tb%d beta%d", v, M, N, K, ta,
                                      tb, b);
                        free(A); free(B); free(C); free(Cp); free(Bp); free(ws);
                    }
    }
    cemi_gemm_force_kernel(-1);
}
END_TEST

START_TEST(network_with_packed_weights_is_bitwise_the_same)
{
    /* hidden width past one K block (300), narrower than a panel (5), and an
     * output wide enough to be packed too (D = 9) */
    static const cemi_mlp_shape shapes[] = {{2, 8, 300, 2, CEMI_ACT_SILU, 0, 0},
                                            {3, 4, 5, 2, CEMI_ACT_TANH, 0, 0},
                                            {9, 6, 40, 1, CEMI_ACT_RELU, 0, 0}};
    enum { B = 45 };
    cemi_rng r;
    cemi_rng_init(&r, 24, 0);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const cemi_mlp_shape *sh = &shapes[k];
        size_t np = cemi_mlp_nparams(sh), nin = (size_t)B * (size_t)(sh->D + sh->E);
        size_t nh = cemi_mlp_hidden_size(sh, B, 0), nout = (size_t)B * (size_t)sh->D;
        float *params = malloc(sizeof(float) * np), *in = malloc(sizeof(float) * nin);
        float *hid = malloc(sizeof(float) * nh), *o1 = malloc(sizeof(float) * nout);
        float *o2 = malloc(sizeof(float) * nout);
        float *packed = malloc(sizeof(float) * cemi_mlp_packed_size(sh));
        float *ws = malloc(sizeof(float) * cemi_mlp_gemm_workspace(sh));
        for (size_t i = 0; i < np; i++) params[i] = (float)(0.2 * cemi_rng_normal(&r));
        for (size_t i = 0; i < nin; i++) in[i] = (float)cemi_rng_normal(&r);
        cemi_nn_ctx plain = {ws, 0, NULL, NULL}, with = {ws, 0, NULL, packed};
        cemi_mlp_pack_f(sh, params, packed, &plain);
        cemi_mlp_forward_f(sh, params, B, in, hid, 0, o1, &plain);
        cemi_mlp_forward_f(sh, params, B, in, hid, 0, o2, &with);
        ck_assert_msg(memcmp(o1, o2, sizeof(float) * nout) == 0, "shape %zu", k);
        if (sh->H >= CEMI_GEMM_NARROW) { /* the packed copy of W_0 is what is read */
            params[0] += 1.0f;
            cemi_mlp_forward_f(sh, params, B, in, hid, 0, o1, &with);
            ck_assert_int_eq(memcmp(o1, o2, sizeof(float) * nout), 0);
        }
        free(params); free(in); free(hid); free(o1); free(o2); free(packed); free(ws);
    }
}
END_TEST

/* One time for every row (sampling): the shared-time network against the
 * network on the rows [x_i, emb] in double (the truth) and in float; in
 * float bitwise the same with and without packed weights and for a prefix
 * of the rows. */
START_TEST(shared_time_network_matches_full_input)
{
    static const cemi_mlp_shape shapes[] = {{2, 32, 256, 3, CEMI_ACT_SILU, 0, 0},
                                            {3, 4, 5, 2, CEMI_ACT_TANH, 0, 0},
                                            {9, 6, 40, 1, CEMI_ACT_RELU, 0, 0}};
    enum { B = 45, B2 = 13 };
    cemi_rng r;
    cemi_rng_init(&r, 31, 0);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const cemi_mlp_shape *sh = &shapes[k];
        const int D = sh->D, E = sh->E, I = D + E;
        size_t np = cemi_mlp_nparams(sh), nh = cemi_mlp_hidden_size(sh, B, 0);
        size_t nout = (size_t)B * (size_t)D;
        float *pf = malloc(sizeof(float) * np), *xf = malloc(sizeof(float) * B * D);
        float *embf = malloc(sizeof(float) * E), *brf = malloc(sizeof(float) * sh->H);
        float *hf = malloc(sizeof(float) * nh), *o1 = malloc(sizeof(float) * nout);
        float *o2 = malloc(sizeof(float) * nout), *o3 = malloc(sizeof(float) * nout);
        float *packed = malloc(sizeof(float) * cemi_mlp_packed_size(sh));
        float *ws = malloc(sizeof(float) * cemi_mlp_gemm_workspace(sh));
        double *pd = malloc(sizeof(double) * np), *ind = malloc(sizeof(double) * B * I);
        double *xd = malloc(sizeof(double) * B * D), *embd = malloc(sizeof(double) * E);
        double *brd = malloc(sizeof(double) * sh->H), *hd = malloc(sizeof(double) * nh);
        double *want = malloc(sizeof(double) * nout), *got = malloc(sizeof(double) * nout);
        for (size_t i = 0; i < np; i++)
            pd[i] = pf[i] = (float)(0.2 * cemi_rng_normal(&r));
        for (int i = 0; i < B * D; i++)
            xd[i] = xf[i] = (float)cemi_rng_normal(&r);
        for (int i = 0; i < E; i++)
            embd[i] = embf[i] = (float)cemi_rng_normal(&r);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < I; j++)
                ind[i * I + j] = j < D ? xd[i * D + j] : embd[j - D];
        cemi_mlp_forward_d(sh, pd, B, ind, hd, 0, want, NULL);
        cemi_mlp_forward_shared_time_d(sh, pd, B, xd, embd, hd, got, brd, NULL);
        ck_assert_double_lt(test_rel_err(got, want, nout, 1.0), 1e-13);
        cemi_nn_ctx plain = {ws, 0, NULL, NULL}, with = {ws, 0, NULL, packed};
        cemi_mlp_pack_f(sh, pf, packed, &plain);
        cemi_mlp_forward_shared_time_f(sh, pf, B, xf, embf, hf, o1, brf, &plain);
        cemi_mlp_forward_shared_time_f(sh, pf, B, xf, embf, hf, o2, brf, &with);
        cemi_mlp_forward_shared_time_f(sh, pf, B2, xf, embf, hf, o3, brf, &with);
        for (size_t i = 0; i < nout; i++)
            got[i] = o1[i];
        ck_assert_double_lt(test_rel_err(got, want, nout, 1.0), 1e-5);
        ck_assert_msg(memcmp(o1, o2, sizeof(float) * nout) == 0, "shape %zu packed", k);
        ck_assert_msg(memcmp(o2, o3, sizeof(float) * B2 * D) == 0, "shape %zu prefix", k);
        free(pf); free(xf); free(embf); free(brf); free(hf); free(o1); free(o2); free(o3);
        free(packed); free(ws); free(pd); free(ind); free(xd); free(embd); free(brd);
        free(hd); free(want); free(got);
    }
}
END_TEST

START_TEST(gemm_bias_equals_filled_rows)
{
    /* C = bias + op(A) op(B) is bitwise C filled with bias then beta = 1:
     * every kernel, the dot-product (N < 8), row-update (M < 8) and panel
     * paths, partial tiles, K beyond one block, packed or not */
    static const int shapes[][3] = {{5, 2, 70}, {3, 50, 40}, {13, 40, 257}, {96, 33, 5},
                                    {64, 256, 34}};
    cemi_rng r;
    cemi_rng_init(&r, 25, 0);
    for (int v = 0; v < 3; v++) {
        if (cemi_gemm_force_kernel(v) != 0)
            continue;
        for (size_t sidx = 0; sidx < sizeof shapes / sizeof shapes[0]; sidx++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) {
                    int M = shapes[sidx][0], N = shapes[sidx][1], K = shapes[sidx][2];
                    float *A = malloc(sizeof(float) * (size_t)(M * K));
                    float *B = malloc(sizeof(float) * (size_t)(K * N));
                    float *bias = malloc(sizeof(float) * (size_t)N);
                    float *C1 = malloc(sizeof(float) * (size_t)(M * N));
                    float *C2 = malloc(sizeof(float) * (size_t)(M * N));
                    float *Bp = malloc(sizeof(float) * cemi_gemm_packed_size(N, K));
                    float *ws = malloc(sizeof(float) * cemi_gemm_workspace(N));
                    for (int k = 0; k < M * K; k++) A[k] = (float)cemi_rng_normal(&r);
                    for (int k = 0; k < K * N; k++) B[k] = (float)cemi_rng_normal(&r);
                    for (int k = 0; k < N; k++) bias[k] = (float)cemi_rng_normal(&r);
                    for (int i = 0; i < M; i++)
                        memcpy(C1 + i * N, bias, sizeof(float) * (size_t)N);
                    for (int k = 0; k < M * N; k++) C2[k] = NAN; /* must not be read */
                    int lda = ta ? M : K, ldb = tb ? K : N;
                    cemi_gemm(ta, tb, M, N, K, A, lda, B, ldb, 1.0f, NULL, C1, N, ws);
                    cemi_gemm(ta, tb, M, N, K, A, lda, B, ldb, 0.0f, bias, C2, N, ws);
                    ck_assert_msg(memcmp(C1, C2, sizeof(float) * (size_t)(M * N)) == 0,
                                  "kernel %d %dx%dx%d ta%d tb%d", v, M, N, K, ta, tb);
                    if (N >= CEMI_GEMM_NARROW && (M >= 8 || tb)) {
                        cemi_gemm_pack(tb, N, K, B, ldb, 0, N, Bp);
                        for (int k = 0; k < M * N; k++) C2[k] = NAN;
                        cemi_gemm_packed(ta, M, N, K, A, lda, Bp, 0.0f, bias, C2, N, ws);
                        ck_assert_msg(memcmp(C1, C2, sizeof(float) * (size_t)(M * N)) == 0,
                                      "packed: kernel %d %dx%dx%d ta%d tb%d", v, M, N, K, ta, tb);
                    }
                    free(A); free(B); free(bias); free(C1); free(C2); free(Bp); free(ws);
                }
    }
    cemi_gemm_force_kernel(-1);
}
END_TEST

START_TEST(gemm_columns_do_not_depend_on_n)
{
    /* columns [lo, hi) computed alone (lo a multiple of 32 and at least 8
     * of them, as the threads split a weight gradient) equal those of the
     * whole product, bitwise: the row-update path (M < 8) and the panel
     * path, every kernel */
    static const int shapes[][3] = {{2, 256, 1024}, {5, 100, 70}, {64, 200, 300}};
    cemi_rng r;
    cemi_rng_init(&r, 26, 0);
    for (int v = 0; v < 3; v++) {
        if (cemi_gemm_force_kernel(v) != 0)
            continue;
        for (size_t sidx = 0; sidx < sizeof shapes / sizeof shapes[0]; sidx++) {
            int M = shapes[sidx][0], N = shapes[sidx][1], K = shapes[sidx][2];
            float *A = malloc(sizeof(float) * (size_t)(M * K));
            float *B = malloc(sizeof(float) * (size_t)(K * N));
            float *C = malloc(sizeof(float) * (size_t)(M * N));
            float *Cs = malloc(sizeof(float) * (size_t)(M * N));
            float *ws = malloc(sizeof(float) * cemi_gemm_workspace(N));
            for (int k = 0; k < M * K; k++) A[k] = (float)cemi_rng_normal(&r);
            for (int k = 0; k < K * N; k++) B[k] = (float)cemi_rng_normal(&r);
            /* A stored K x M (ta = 1), as dout^T in a weight gradient */
            cemi_gemm(1, 0, M, N, K, A, M, B, N, 0.0f, NULL, C, N, ws);
            for (int lo = 0; lo < N; lo += 32) {
                int hi = lo + 64 < N ? lo + 64 : N;
                if (hi - lo < CEMI_GEMM_NARROW)
                    continue; /* a dot-product product: another path */
                memset(Cs, 0, sizeof(float) * (size_t)(M * N));
                cemi_gemm(1, 0, M, hi - lo, K, A, M, B + lo, N, 0.0f, NULL, Cs + lo, N, ws);
                for (int i = 0; i < M; i++)
                    ck_assert_msg(memcmp(C + i * N + lo, Cs + i * N + lo,
                                         sizeof(float) * (size_t)(hi - lo)) == 0,
                                  "kernel %d %dx%dx%d columns %d..%d", v, M, N, K, lo, hi);
            }
            free(A); free(B); free(C); free(Cs); free(ws);
        }
    }
    cemi_gemm_force_kernel(-1);
}
END_TEST

Suite *suite_nn(void)
{
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("gradients");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, linear_layer_gradients);
    tcase_add_test(tc, activation_gradients);
    tcase_add_test(tc, network_and_loss_gradients);
    tcase_add_test(tc, float_kernels_match_double);
    tcase_add_test(tc, time_embedding_formula);
    tcase_add_test(tc, fast_expf_accuracy);
    tcase_add_test(tc, gemm_against_double_reference);
    tcase_add_test(tc, gemm_rows_do_not_depend_on_m);
    tcase_add_test(tc, gemm_columns_do_not_depend_on_n);
    tcase_add_test(tc, gemm_packed_equals_gemm);
    tcase_add_test(tc, gemm_bias_equals_filled_rows);
    tcase_add_test(tc, network_with_packed_weights_is_bitwise_the_same);
    tcase_add_test(tc, shared_time_network_matches_full_input);
    suite_add_tcase(s, tc);
    return s;
}
