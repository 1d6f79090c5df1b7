/*
 * linalg.c -- the closed forms' double products, and LAPACKE behind the
 * library's own names (layer 1).
 */
#include "linalg.h"

#include "base.h"

#include <lapacke.h>
#include <limits.h>
#include <string.h>
#include <stdlib.h>

int cemi_fits_int(size_t v) { return v <= (size_t)INT_MAX; }

/* The closed forms' double products are this code, not OpenBLAS's dgemm:
 * OpenBLAS allocates inside dgemm, measured here (tests/noalloc) on both of
 * its paths.  Its AVX-512 small-matrix kernels (M N K <= 10^6) malloc a
 * buffer on every call whose column-major M leaves 1-4 rows; its threaded
 * path mallocs a job array (512 KiB) on every call.  Either would put an
 * allocation in every sampling step of an exact model, and the second
 * would start OpenBLAS's threads inside the sampler's.  The products met
 * here have one small side (the data dimension), so two loop shapes
 * suffice, each vectorised over a contiguous run of memory. */

static double a_at(int ta, const double *A, int lda, int i, int k)
{
    return ta ? A[(size_t)k * (size_t)lda + (size_t)i] : A[(size_t)i * (size_t)lda + (size_t)k];
}

/* c[0..N) += alpha sum_k a(i,k) b_k[0..N): row updates along contiguous
 * rows of B, four at a time in registers, each element's additions in k
 * order whatever the vector width */
CEMI_CLONES
static void rows_update(int ta, int i, int N, int K, double alpha, const double *A, int lda,
                        const double *B, int ldb, double *restrict c)
{
    const size_t ld = (size_t)ldb;
    int k = 0;
    for (; k + 4 <= K; k += 4) {
        const double a0 = alpha * a_at(ta, A, lda, i, k), a1 = alpha * a_at(ta, A, lda, i, k + 1);
        const double a2 = alpha * a_at(ta, A, lda, i, k + 2), a3 = alpha * a_at(ta, A, lda, i, k + 3);
        const double *restrict b = B + (size_t)k * ld;
        for (int j = 0; j < N; j++) {
            double v = c[j];
            v += a0 * b[j];
            v += a1 * b[ld + (size_t)j];
            v += a2 * b[2 * ld + (size_t)j];
            v += a3 * b[3 * ld + (size_t)j];
            c[j] = v;
        }
    }
    for (; k < K; k++) {
        const double a = alpha * a_at(ta, A, lda, i, k);
        const double *restrict b = B + (size_t)k * ld;
        for (int j = 0; j < N; j++)
            c[j] += a * b[j];
    }
}

/* Eight doubles as one value (GCC and Clang lower it to the widest vectors
 * of each clone); loaded through memcpy, which allows any alignment. */
typedef double v8d __attribute__((vector_size(64)));
#define LOAD8(v, p) memcpy(&(v), (p), sizeof(v8d))
#define SUM8(v) ((((v)[0] + (v)[1]) + ((v)[2] + (v)[3])) + (((v)[4] + (v)[5]) + ((v)[6] + (v)[7])))

/* c[r * ldc] += alpha sum_k a(i + r, k) b[k], r < rows <= 4, for a
 * contiguous b: four rows of A against one b, so b is read once for four
 * rows.  Each row has eight partial sums added in a fixed order, the same
 * arithmetic whether it comes in a group of four or alone, so that a row's
 * result does not depend on the number of rows (docs/SAMPLING.md). */
CEMI_CLONES
static void dots(int ta, int i, int rows, int K, double alpha, const double *A, int lda,
                 const double *b, double *c, int ldc)
{
    double part[4] = {0.0, 0.0, 0.0, 0.0};
    const int k8 = ta ? 0 : K - K % 8;
    if (k8 > 0 && rows == 4) {
        const double *a0 = A + (size_t)i * (size_t)lda, *a1 = a0 + lda;
        const double *a2 = a1 + lda, *a3 = a2 + lda;
        v8d s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        for (int k = 0; k < k8; k += 8) {
            v8d bv, v0, v1, v2, v3;
            LOAD8(bv, b + k);
            LOAD8(v0, a0 + k);
            LOAD8(v1, a1 + k);
            LOAD8(v2, a2 + k);
            LOAD8(v3, a3 + k);
            s0 += v0 * bv;
            s1 += v1 * bv;
            s2 += v2 * bv;
            s3 += v3 * bv;
        }
        part[0] = SUM8(s0), part[1] = SUM8(s1), part[2] = SUM8(s2), part[3] = SUM8(s3);
    } else if (k8 > 0) {
        for (int r = 0; r < rows; r++) {
            const double *a = A + (size_t)(i + r) * (size_t)lda;
            v8d sv = {0};
            for (int k = 0; k < k8; k += 8) {
                v8d bv, v;
                LOAD8(bv, b + k);
                LOAD8(v, a + k);
                sv += v * bv;
            }
            part[r] = SUM8(sv);
        }
    }
    for (int r = 0; r < rows; r++) {
        double t = part[r];
        for (int q = k8; q < K; q++)
            t += a_at(ta, A, lda, i + r, q) * b[q];
        c[(size_t)r * (size_t)ldc] += alpha * t;
    }
}

void cemi_dgemm(int trans_a, int trans_b, int M, int N, int K, double alpha,
                const double *A, int lda, const double *B, int ldb,
                double beta, double *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        double *c = C + (size_t)i * (size_t)ldc;
        if (beta == 0.0)
            for (int j = 0; j < N; j++)
                c[j] = 0.0; /* as in BLAS: beta = 0 ignores C, NaN included */
        else if (beta != 1.0)
            for (int j = 0; j < N; j++)
                c[j] *= beta;
    }
    if (trans_b) {
        for (int i = 0; i < M; i += 4)
            for (int j = 0; j < N; j++)
                dots(trans_a, i, M - i < 4 ? M - i : 4, K, alpha, A, lda,
                     B + (size_t)j * (size_t)ldb, C + (size_t)i * (size_t)ldc + (size_t)j, ldc);
        return;
    }
    /* columns in strips whose K rows of B (about 256 KiB) stay in cache
     * while every row of C is updated along them */
    int strip = (int)(32768 / (K > 0 ? K : 1));
    strip = strip < 64 ? 64 : strip - strip % 8;
    for (int j0 = 0; j0 < N; j0 += strip) {
        const int w = N - j0 < strip ? N - j0 : strip;
        for (int i = 0; i < M; i++)
            rows_update(trans_a, i, w, K, alpha, A, lda, B + j0, ldb,
                        C + (size_t)i * (size_t)ldc + (size_t)j0);
    }
}

int cemi_dsyev(int n, double *A, double *w)
{
    return (int)LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', n, A, n, w);
}

int cemi_dqr_thin(int m, int n, double *A, double *diag_r)
{
    double *tau = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!tau)
        return -1000;
    lapack_int info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, n, A, n, tau);
    if (info == 0) {
        for (int j = 0; j < n; j++)
            diag_r[j] = A[(size_t)j * (size_t)n + (size_t)j];
        info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, n, n, A, n, tau);
    }
    free(tau);
    return (int)info;
}
