/*
 * gemm.c -- the library's own single-precision matrix product (layer 1).
 *
 * Why not sgemm: measured on the W1 shapes, this blocked product with an
 * AVX-512 micro-kernel runs 1.3-1.6x faster than the OpenBLAS build this
 * platform selects, allocates nothing (OpenBLAS's threaded sgemm mallocs on
 * every call), and computes every element of C with the same arithmetic
 * whatever M is and whichever thread computes its rows, so results do not
 * depend on the batch split or the thread count (docs/PERFORMANCE.md).
 *
 * Structure (BLIS, without packing A): C (M x N) = beta C + op(A) op(B).  K
 * is cut in blocks of KC; for each block op(B) is packed into panels of NR
 * columns, and a micro-kernel accumulates an MR x NR tile over the block in
 * registers, reading op(A) in place through its strides (measured: packing
 * A cost more than it saved at these sizes).  A tile short of MR rows runs
 * its rows one at a time through the one-row instance of the same kernel
 * (the same operations on every element, so the same bits, at a row's cost:
 * a single sampled row is not padded to MR); a tile short of NR columns
 * goes through a small padded copy of C.  Three micro-kernels, chosen
 * once from the CPU: AVX-512 (8 x 32), AVX2 + FMA (6 x 16), and portable
 * SSE2 (4 x 8); they differ in the last bits (FMA or not), never between
 * runs on one machine.  Products with N < 8 or M < 8 (the network's output
 * layer) are done as dot products or row updates instead of padding to a
 * panel.
 */
#include "gemm.h"

#include <string.h>

#define KC 256
#define MC 96

typedef float v4 __attribute__((vector_size(16)));
typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

/* The micro-kernel contract: acc[i][j] = sum_k a[i rs + k cs] b[k*NR + j]
 * (k < kc, in order), then c[i*ldc + j] = acc + bias[j] when bias is given,
 * else acc + beta c (beta 0: c is not read).  A is read in place through its strides (rs, cs), so it is never
 * copied; B comes packed. */
typedef void (*kernel_fn)(int kc, const float *a, size_t rs, size_t cs, const float *b, float *c,
                          int ldc, float beta, const float *bias);

/* A dot product a . b over n, with the lanes of V accumulating k mod lanes
 * and added in a fixed order. */
typedef float (*dot_fn)(const float *a, const float *b, int n);

#define KERNEL(NAME, TARGET, V, MR_, NV)                                                      \
    __attribute__((target(TARGET))) static void NAME(int kc, const float *a, size_t rs,        \
                                                     size_t cs, const float *b, float *c,      \
                                                     int ldc, float beta, const float *bias)   \
    {                                                                                          \
        V acc[MR_][NV];                                                                        \
        for (int i = 0; i < MR_; i++)                                                          \
            for (int h = 0; h < NV; h++) {                                                     \
                acc[i][h] = (V){0};                                                            \
                /* C's tile, written at the end: fetched while the k loop runs */              \
                __builtin_prefetch(c + (size_t)i * (size_t)ldc + h * (int)(sizeof(V) / 4), 1, 3); \
            }                                                                                  \
        for (int k = 0; k < kc; k++) {                                                         \
            V bv[NV];                                                                          \
            for (int h = 0; h < NV; h++)                                                       \
                memcpy(&bv[h], b + h * (int)(sizeof(V) / 4), sizeof(V));                       \
            const float *ak = a + (size_t)k * cs;                                              \
            for (int i = 0; i < MR_; i++) {                                                    \
                V x = ak[(size_t)i * rs] - (V){0}; /* a broadcast: x - 0 is x */            \
                for (int h = 0; h < NV; h++)                                                   \
                    acc[i][h] += x * bv[h];                                                    \
            }                                                                                  \
            b += NV * (int)(sizeof(V) / 4);                                                    \
        }                                                                                      \
        for (int i = 0; i < MR_; i++)                                                          \
            for (int h = 0; h < NV; h++) {                                                     \
                float *p = c + (size_t)i * (size_t)ldc + h * (int)(sizeof(V) / 4);             \
                V v = acc[i][h];                                                               \
                if (bias) {                                                                    \
                    V bv;                                                                      \
                    memcpy(&bv, bias + h * (int)(sizeof(V) / 4), sizeof(V));                   \
                    v += bv;                                                                   \
                } else if (beta != 0.0f) {                                                     \
                    V old;                                                                     \
                    memcpy(&old, p, sizeof(V));                                                \
                    v += beta * old;                                                           \
                }                                                                              \
                memcpy(p, &v, sizeof(V));                                                      \
            }                                                                                  \
    }

#define DOT(NAME, TARGET, V)                                                                   \
    __attribute__((target(TARGET))) static float NAME(const float *a, const float *b, int n)  \
    {                                                                                          \
        enum { L = (int)(sizeof(V) / 4) };                                                     \
        V acc = {0};                                                                           \
        int k = 0;                                                                             \
        for (; k + L <= n; k += L) {                                                           \
            V x, y;                                                                            \
            memcpy(&x, a + k, sizeof x);                                                       \
            memcpy(&y, b + k, sizeof y);                                                       \
            acc += x * y;                                                                      \
        }                                                                                      \
        float s = 0.0f;                                                                        \
        for (int l = 0; l < L; l++)                                                            \
            s += acc[l];                                                                       \
        for (; k < n; k++)                                                                     \
            s += a[k] * b[k];                                                                  \
        return s;                                                                              \
    }

/* M < 8 with B stored K x N (the output layer's weight gradient): row i of
 * C accumulates a_ik B[k, :] over k in order, in strips of 4 vectors held
 * in registers; the columns past the last strip take the same arithmetic
 * one at a time (the target's multiply-add, as in the strips). */
typedef void (*rows_fn)(int ta, int M, int N, int K, const float *A, int lda, const float *B,
                        int ldb, float beta, const float *bias, float *C, int ldc);

#define SHORT_ROWS(NAME, TARGET, V)                                                            \
    __attribute__((target(TARGET))) static void NAME(int ta, int M, int N, int K,              \
                                                     const float *A, int lda, const float *B,  \
                                                     int ldb, float beta, const float *bias,   \
                                                     float *C, int ldc)                        \
    {                                                                                          \
        enum { L = (int)(sizeof(V) / 4), W = 4 * L };                                          \
        for (int i = 0; i < M; i++) {                                                          \
            float *c = C + (size_t)i * (size_t)ldc;                                            \
            int j0 = 0;                                                                        \
            for (; j0 + W <= N; j0 += W) {                                                     \
                V acc[4];                                                                      \
                for (int h = 0; h < 4; h++) {                                                  \
                    V init = {0};                                                              \
                    if (bias)                                                                  \
                        memcpy(&init, bias + j0 + h * L, sizeof(V));                           \
                    else if (beta != 0.0f) {                                                   \
                        memcpy(&init, c + j0 + h * L, sizeof(V));                              \
                        init *= beta;                                                          \
                    }                                                                          \
                    acc[h] = init;                                                             \
                }                                                                              \
                for (int k = 0; k < K; k++) {                                                  \
                    float a = ta ? A[(size_t)k * (size_t)lda + (size_t)i]                      \
                                 : A[(size_t)i * (size_t)lda + (size_t)k];                     \
                    const float *b = B + (size_t)k * (size_t)ldb + (size_t)j0;                 \
                    for (int h = 0; h < 4; h++) {                                              \
                        V bv;                                                                  \
                        memcpy(&bv, b + h * L, sizeof(V));                                     \
                        acc[h] += a * bv;                                                      \
                    }                                                                          \
                }                                                                              \
                memcpy(c + j0, acc, sizeof acc);                                               \
            }                                                                                  \
            for (int j = j0; j < N; j++) {                                                     \
                float s = bias ? bias[j] : beta != 0.0f ? beta * c[j] : 0.0f;                  \
                for (int k = 0; k < K; k++) {                                                  \
                    float a = ta ? A[(size_t)k * (size_t)lda + (size_t)i]                      \
                                 : A[(size_t)i * (size_t)lda + (size_t)k];                     \
                    s += a * B[(size_t)k * (size_t)ldb + (size_t)j];                           \
                }                                                                              \
                c[j] = s;                                                                      \
            }                                                                                  \
        }                                                                                      \
    }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
KERNEL(kernel_avx512, "avx512f,fma", v16, 8, 2)
KERNEL(kernel_avx512_1, "avx512f,fma", v16, 1, 2)
KERNEL(kernel_avx2, "avx2,fma", v8, 6, 2)
KERNEL(kernel_avx2_1, "avx2,fma", v8, 1, 2)
DOT(dot_avx512, "avx512f,fma", v16)
DOT(dot_avx2, "avx2,fma", v8)
SHORT_ROWS(rows_avx512, "avx512f,fma", v16)
SHORT_ROWS(rows_avx2, "avx2,fma", v8)
#define HAVE_X86_KERNELS 1
#endif
KERNEL(kernel_sse, "sse2", v4, 4, 2)
KERNEL(kernel_sse_1, "sse2", v4, 1, 2)
DOT(dot_sse, "sse2", v4)
SHORT_ROWS(rows_sse, "sse2", v4)

typedef struct {
    const char *name;
    int mr, nr;
    kernel_fn fn, fn1; /* MR rows; one row, the same arithmetic */
    dot_fn dot;
    rows_fn rows;
} variant;

static const variant variants[] = {
#ifdef HAVE_X86_KERNELS
    {"avx512", 8, 32, kernel_avx512, kernel_avx512_1, dot_avx512, rows_avx512},
    {"avx2", 6, 16, kernel_avx2, kernel_avx2_1, dot_avx2, rows_avx2},
#endif
    {"sse2", 4, 8, kernel_sse, kernel_sse_1, dot_sse, rows_sse},
};
#define NVARIANTS (int)(sizeof variants / sizeof variants[0])

static int detect(void)
{
#ifdef HAVE_X86_KERNELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 1;
    return 2;
#else
    return 0;
#endif
}

static int chosen = -1; /* benign race: every thread computes the same value */

static const variant *current(void)
{
    int v = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (v < 0) {
        v = detect();
        __atomic_store_n(&chosen, v, __ATOMIC_RELAXED);
    }
    return &variants[v];
}

const char *cemi_gemm_kernel_name(void) { return current()->name; }

int cemi_gemm_force_kernel(int which)
{
    if (which < -1 || which >= NVARIANTS)
        return -1;
    if (which >= 0) {
#ifdef HAVE_X86_KERNELS
        if ((which == 0 && !__builtin_cpu_supports("avx512f")) ||
            (which == 1 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))))
            return -1;
#endif
    }
    __atomic_store_n(&chosen, which < 0 ? detect() : which, __ATOMIC_RELAXED);
    return 0;
}

size_t cemi_gemm_workspace(int N)
{
    /* sized for the widest panel of any variant */
    size_t npad = ((size_t)N + 31) / 32 * 32;
    return (size_t)KC * npad + 8 * 32 + 32 + 16; /* B's panels, a tile, a bias, alignment */
}

size_t cemi_gemm_packed_size(int N, int K)
{
    return ((size_t)N + 31) / 32 * 32 * (size_t)K;
}

/* Packs rows [k0, k0 + kc) of op(B) (K x N: tb = 0: B[k ldb + n]; tb = 1:
 * B[n ldb + k]), columns [j0, j1), into panels of nr columns, k-major:
 * panel p's row k is at Bp + p * pstride + k * nr.  Columns past N are
 * zero. */
static void pack_b(int nr, int N, int j0, int j1, int k0, int kc, const float *B, int ldb,
                   int tb, float *Bp, size_t pstride)
{
    for (int jr = j0; jr < j1; jr += nr) {
        float *P = Bp + (size_t)(jr / nr) * pstride;
        int cols = N - jr < nr ? N - jr : nr;
        if (cols < nr)
            for (int k = 0; k < kc; k++)
                memset(P + (size_t)k * (size_t)nr, 0, sizeof(float) * (size_t)nr);
        if (!tb) {
            const float *src = B + (size_t)k0 * (size_t)ldb + (size_t)jr;
            for (int k = 0; k < kc; k++)
                memcpy(P + (size_t)k * (size_t)nr, src + (size_t)k * (size_t)ldb,
                       sizeof(float) * (size_t)cols);
        } else {
            for (int j = 0; j < cols; j++) {
                const float *src = B + (size_t)(jr + j) * (size_t)ldb + (size_t)k0;
                for (int k = 0; k < kc; k++)
                    P[(size_t)k * (size_t)nr + (size_t)j] = src[k];
            }
        }
    }
}

void cemi_gemm_pack(int tb, int N, int K, const float *B, int ldb, int j0, int j1, float *Bp)
{
    const int nr = current()->nr;
    j1 = j1 < N ? j1 : N;
    pack_b(nr, N, j0, j1, 0, K, B, ldb, tb, Bp, (size_t)nr * (size_t)K);
}

/* N < 8 (the network's output layer): C[i][j] = beta C + op(A)[i,:] . op(B)[:,j]
 * as dot products.  With A row-major and B stored N x K (the forward pass)
 * both operands are contiguous in k and the variant's vector dot is used. */
static void narrow(dot_fn dot, int ta, int tb, int M, int N, int K, const float *A, int lda,
                   const float *B, int ldb, float beta, const float *bias, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            if (!ta && tb) {
                s = dot(A + (size_t)i * (size_t)lda, B + (size_t)j * (size_t)ldb, K);
            } else {
                for (int k = 0; k < K; k++) {
                    float a = ta ? A[(size_t)k * (size_t)lda + (size_t)i]
                                 : A[(size_t)i * (size_t)lda + (size_t)k];
                    float b = tb ? B[(size_t)j * (size_t)ldb + (size_t)k]
                                 : B[(size_t)k * (size_t)ldb + (size_t)j];
                    s += a * b;
                }
            }
            float *c = C + (size_t)i * (size_t)ldc + (size_t)j;
            *c = bias ? s + bias[j] : beta != 0.0f ? s + beta * *c : s;
        }
}

/* C (+)= op(A)[:, p0 : p0 + kc] times the packed rows p0.. of op(B): panel
 * jr / nr at Bp + (jr / nr) pstride, row k of it at + k nr.  bb is the beta
 * of this block (the caller's for the first, 1 after). */
static void block(const variant *v, int M, int N, int kc, const float *A, size_t rs, size_t cs,
                  int p0, const float *Bp, size_t pstride, float bb, const float *bias, float *C,
                  int ldc, float *tile)
{
    const int mr = v->mr, nr = v->nr;
    float *bpad = tile + (size_t)mr * (size_t)nr; /* nr floats */
    for (int i0 = 0; i0 < M; i0 += MC) {
        int mc = M - i0 < MC ? M - i0 : MC;
        for (int jr = 0; jr < N; jr += nr)
            for (int ir = 0; ir < mc; ir += mr) {
                const float *a = A + (size_t)(i0 + ir) * rs + (size_t)p0 * cs;
                const float *b = Bp + (size_t)(jr / nr) * pstride;
                int rows = mc - ir < mr ? mc - ir : mr, cols = N - jr < nr ? N - jr : nr;
                float *c = C + (size_t)(i0 + ir) * (size_t)ldc + (size_t)jr;
                const float *bj = bias ? bias + jr : NULL;
                if (rows == mr && cols == nr) {
                    v->fn(kc, a, rs, cs, b, c, ldc, bb, bj);
                    continue;
                }
                if (bias && cols < nr) { /* the panel's bias, padded */
                    memset(bpad, 0, sizeof(float) * (size_t)nr);
                    memcpy(bpad, bj, sizeof(float) * (size_t)cols);
                    bj = bpad;
                }
                if (rows == mr) { /* columns missing: into a padded copy of C */
                    memset(tile, 0, sizeof(float) * (size_t)(mr * nr));
                    for (int i = 0; i < rows; i++)
                        memcpy(tile + i * nr, c + (size_t)i * (size_t)ldc,
                               sizeof(float) * (size_t)cols);
                    v->fn(kc, a, rs, cs, b, tile, nr, bb, bj);
                    for (int i = 0; i < rows; i++)
                        memcpy(c + (size_t)i * (size_t)ldc, tile + i * nr,
                               sizeof(float) * (size_t)cols);
                    continue;
                }
                /* rows missing: row by row through the one-row kernel (a
                 * padded copy of C's row when columns are missing too) */
                for (int i = 0; i < rows; i++) {
                    const float *ai = a + (size_t)i * rs;
                    float *ci = c + (size_t)i * (size_t)ldc;
                    if (cols == nr) {
                        v->fn1(kc, ai, rs, cs, b, ci, ldc, bb, bj);
                        continue;
                    }
                    memset(tile, 0, sizeof(float) * (size_t)nr);
                    memcpy(tile, ci, sizeof(float) * (size_t)cols);
                    v->fn1(kc, ai, rs, cs, b, tile, nr, bb, bj);
                    memcpy(ci, tile, sizeof(float) * (size_t)cols);
                }
            }
    }
}

/* 64-byte aligned start of a workspace */
static float *aligned(float *ws) { return (float *)(((size_t)ws + 63) & ~(size_t)63); }

/* Empty products: C = bias or beta C; says whether that was all. */
static int scale_only(int M, int N, int K, float beta, const float *bias, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return 1;
    if (K > 0)
        return 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float *c = C + (size_t)i * (size_t)ldc + (size_t)j;
            *c = bias ? bias[j] : beta != 0.0f ? beta * *c : 0.0f;
        }
    return 1;
}

void cemi_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
               int ldb, float beta, const float *bias, float *C, int ldc, float *ws)
{
    if (scale_only(M, N, K, beta, bias, C, ldc))
        return;
    if (N < CEMI_GEMM_NARROW) {
        narrow(current()->dot, ta, tb, M, N, K, A, lda, B, ldb, beta, bias, C, ldc);
        return;
    }
    if (M < 8 && !tb) {
        current()->rows(ta, M, N, K, A, lda, B, ldb, beta, bias, C, ldc);
        return;
    }
    const variant *v = current();
    const size_t npad = ((size_t)N + (size_t)v->nr - 1) / (size_t)v->nr * (size_t)v->nr;
    float *Bp = aligned(ws), *tile = Bp + (size_t)KC * npad;
    const size_t rs = ta ? 1 : (size_t)lda, cs = ta ? (size_t)lda : 1; /* op(A)[i][k] */
    for (int p0 = 0; p0 < K; p0 += KC) {
        int kc = K - p0 < KC ? K - p0 : KC;
        size_t pstride = (size_t)kc * (size_t)v->nr;
        pack_b(v->nr, N, 0, N, p0, kc, B, ldb, tb, Bp, pstride);
        block(v, M, N, kc, A, rs, cs, p0, Bp, pstride, p0 == 0 ? beta : 1.0f,
              p0 == 0 ? bias : NULL, C, ldc, tile);
    }
}

void cemi_gemm_packed(int ta, int M, int N, int K, const float *A, int lda, const float *Bp,
                      float beta, const float *bias, float *C, int ldc, float *ws)
{
    if (scale_only(M, N, K, beta, bias, C, ldc))
        return;
    const variant *v = current();
    const size_t pstride = (size_t)v->nr * (size_t)K;
    float *tile = aligned(ws);
    const size_t rs = ta ? 1 : (size_t)lda, cs = ta ? (size_t)lda : 1;
    for (int p0 = 0; p0 < K; p0 += KC) {
        int kc = K - p0 < KC ? K - p0 : KC;
        block(v, M, N, kc, A, rs, cs, p0, Bp + (size_t)p0 * (size_t)v->nr, pstride,
              p0 == 0 ? beta : 1.0f, p0 == 0 ? bias : NULL, C, ldc, tile);
    }
}
