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
 * Structure (BLIS): C (M x N) = beta C + op(A) op(B).  K is cut in blocks of
 * KC; for each block op(B) is packed into panels of NR columns, op(A) into
 * panels of MR rows (MC rows at a time), and a micro-kernel accumulates an
 * MR x NR tile over the block in registers.  Partial tiles go through a
 * small buffer so they use the same kernel.  Three micro-kernels, chosen
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

/* The micro-kernel contract: acc[i][j] = sum_k a[k*MR + i] b[k*NR + j]
 * (k < kc, in order), then c[i*ldc + j] = acc + beta c (beta 0: c is not
 * read). */
typedef void (*kernel_fn)(int kc, const float *a, const float *b, float *c, int ldc, float beta);

#define KERNEL(NAME, TARGET, V, MR_, NV)                                                      \
    __attribute__((target(TARGET))) static void NAME(int kc, const float *a, const float *b,   \
                                                     float *c, int ldc, float beta)            \
    {                                                                                          \
        V acc[MR_][NV];                                                                        \
        for (int i = 0; i < MR_; i++)                                                          \
            for (int h = 0; h < NV; h++)                                                       \
                acc[i][h] = (V){0};                                                            \
        for (int k = 0; k < kc; k++) {                                                         \
            V bv[NV];                                                                          \
            for (int h = 0; h < NV; h++)                                                       \
                memcpy(&bv[h], b + h * (int)(sizeof(V) / 4), sizeof(V));                       \
            for (int i = 0; i < MR_; i++) {                                                    \
                V x = (V){0} + a[i];                                                           \
                for (int h = 0; h < NV; h++)                                                   \
                    acc[i][h] += x * bv[h];                                                    \
            }                                                                                  \
            a += MR_;                                                                          \
            b += NV * (int)(sizeof(V) / 4);                                                    \
        }                                                                                      \
        for (int i = 0; i < MR_; i++)                                                          \
            for (int h = 0; h < NV; h++) {                                                     \
                float *p = c + (size_t)i * (size_t)ldc + h * (int)(sizeof(V) / 4);             \
                V v = acc[i][h];                                                               \
                if (beta != 0.0f) {                                                            \
                    V old;                                                                     \
                    memcpy(&old, p, sizeof(V));                                                \
                    v += beta * old;                                                           \
                }                                                                              \
                memcpy(p, &v, sizeof(V));                                                      \
            }                                                                                  \
    }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
KERNEL(kernel_avx512, "avx512f,fma", v16, 8, 2)
KERNEL(kernel_avx2, "avx2,fma", v8, 6, 2)
#define HAVE_X86_KERNELS 1
#endif
KERNEL(kernel_sse, "sse2", v4, 4, 2)

typedef struct {
    const char *name;
    int mr, nr;
    kernel_fn fn;
} variant;

static const variant variants[] = {
#ifdef HAVE_X86_KERNELS
    {"avx512", 8, 32, kernel_avx512},
    {"avx2", 6, 16, kernel_avx2},
#endif
    {"sse2", 4, 8, kernel_sse},
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
    return (size_t)MC * KC + (size_t)KC * npad + 8 * 32 + 16;
}

/* op(A) is M x K: ta = 0: A[i lda + k]; ta = 1: A[k lda + i].  Packed in
 * panels of mr rows, k-major (a panel's k-th column is mr consecutive
 * floats); rows past mc are zero. */
static void pack_a(int mr, int mc, int kc, const float *A, int lda, int ta, int i0, int p0,
                   float *Ap)
{
    for (int ir = 0; ir < mc; ir += mr, Ap += (size_t)mr * (size_t)kc) {
        int rows = mc - ir < mr ? mc - ir : mr;
        if (rows < mr)
            memset(Ap, 0, sizeof(float) * (size_t)mr * (size_t)kc);
        if (ta) { /* columns of the stored matrix: contiguous runs of rows */
            const float *src = A + (size_t)p0 * (size_t)lda + (size_t)(i0 + ir);
            for (int k = 0; k < kc; k++)
                memcpy(Ap + (size_t)k * (size_t)mr, src + (size_t)k * (size_t)lda,
                       sizeof(float) * (size_t)rows);
        } else { /* rows of the stored matrix, scattered with stride mr */
            for (int i = 0; i < rows; i++) {
                const float *src = A + (size_t)(i0 + ir + i) * (size_t)lda + (size_t)p0;
                for (int k = 0; k < kc; k++)
                    Ap[(size_t)k * (size_t)mr + (size_t)i] = src[k];
            }
        }
    }
}

/* op(B) is K x N: tb = 0: B[k ldb + n]; tb = 1: B[n ldb + k].  Packed in
 * panels of nr columns, k-major; columns past n are zero. */
static void pack_b(int nr, int n, int kc, const float *B, int ldb, int tb, int p0, float *Bp)
{
    for (int jr = 0; jr < n; jr += nr, Bp += (size_t)nr * (size_t)kc) {
        int cols = n - jr < nr ? n - jr : nr;
        if (cols < nr)
            memset(Bp, 0, sizeof(float) * (size_t)nr * (size_t)kc);
        if (!tb) {
            const float *src = B + (size_t)p0 * (size_t)ldb + (size_t)jr;
            for (int k = 0; k < kc; k++)
                memcpy(Bp + (size_t)k * (size_t)nr, src + (size_t)k * (size_t)ldb,
                       sizeof(float) * (size_t)cols);
        } else {
            for (int j = 0; j < cols; j++) {
                const float *src = B + (size_t)(jr + j) * (size_t)ldb + (size_t)p0;
                for (int k = 0; k < kc; k++)
                    Bp[(size_t)k * (size_t)nr + (size_t)j] = src[k];
            }
        }
    }
}

/* N < 8 (the network's output layer): C[i][j] = beta C + op(A)[i,:] . op(B)[:,j]
 * as dot products.  With A row-major and B stored N x K (the forward pass)
 * both operands are contiguous in k: eight lanes accumulate k = 8q + l, then
 * the lanes are added in a fixed order. */
static float dot8(const float *a, const float *b, int K)
{
    v8 acc = {0};
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        v8 x, y;
        memcpy(&x, a + k, sizeof x);
        memcpy(&y, b + k, sizeof y);
        acc += x * y;
    }
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; k < K; k++)
        s += a[k] * b[k];
    return s;
}

static void narrow(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                   int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            if (!ta && tb) {
                s = dot8(A + (size_t)i * (size_t)lda, B + (size_t)j * (size_t)ldb, K);
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
            *c = beta != 0.0f ? s + beta * *c : s;
        }
}

/* M < 8 with B stored K x N (the output layer's weight gradient): each row
 * of C accumulates a_ik B[k, :] over k in order, vectorised along the row. */
static void short_rows(int ta, int M, int N, int K, const float *A, int lda, const float *B,
                       int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * (size_t)ldc;
        for (int j = 0; j < N; j++)
            c[j] = beta != 0.0f ? beta * c[j] : 0.0f;
        for (int k = 0; k < K; k++) {
            float a = ta ? A[(size_t)k * (size_t)lda + (size_t)i] : A[(size_t)i * (size_t)lda + (size_t)k];
            const float *b = B + (size_t)k * (size_t)ldb;
            for (int j = 0; j < N; j++)
                c[j] += a * b[j];
        }
    }
}

void cemi_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
               int ldb, float beta, float *C, int ldc, float *ws)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * (size_t)ldc + (size_t)j] *= beta;
        return;
    }
    if (N < 8) {
        narrow(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (M < 8 && !tb) {
        short_rows(ta, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const variant *v = current();
    const int mr = v->mr, nr = v->nr;
    size_t npad = ((size_t)N + (size_t)nr - 1) / (size_t)nr * (size_t)nr;
    /* 64-byte aligned views into ws */
    float *base = (float *)(((size_t)ws + 63) & ~(size_t)63);
    float *Ap = base, *Bp = base + (size_t)MC * KC, *tile = Bp + (size_t)KC * npad;
    for (int p0 = 0; p0 < K; p0 += KC) {
        int kc = K - p0 < KC ? K - p0 : KC;
        float bb = p0 == 0 ? beta : 1.0f;
        pack_b(nr, N, kc, B, ldb, tb, p0, Bp);
        for (int i0 = 0; i0 < M; i0 += MC) {
            int mc = M - i0 < MC ? M - i0 : MC;
            pack_a(mr, mc, kc, A, lda, ta, i0, p0, Ap);
            for (int jr = 0; jr < N; jr += nr)
                for (int ir = 0; ir < mc; ir += mr) {
                    const float *a = Ap + (size_t)ir * (size_t)kc;
                    const float *b = Bp + (size_t)jr * (size_t)kc;
                    int rows = mc - ir < mr ? mc - ir : mr, cols = N - jr < nr ? N - jr : nr;
                    float *c = C + (size_t)(i0 + ir) * (size_t)ldc + (size_t)jr;
                    if (rows == mr && cols == nr) {
                        v->fn(kc, a, b, c, ldc, bb);
                        continue;
                    }
                    memset(tile, 0, sizeof(float) * (size_t)(mr * nr));
                    for (int i = 0; i < rows; i++)
                        memcpy(tile + i * nr, c + (size_t)i * (size_t)ldc, sizeof(float) * (size_t)cols);
                    v->fn(kc, a, b, tile, nr, bb);
                    for (int i = 0; i < rows; i++)
                        memcpy(c + (size_t)i * (size_t)ldc, tile + i * nr, sizeof(float) * (size_t)cols);
                }
        }
    }
}
