/*
 * linalg.c -- the closed forms' double products, and LAPACKE behind the
 * library's own names (layer 1).
 */
#include "linalg.h"

#include "base.h"

#include <lapacke.h>
#include <limits.h>
#include <string.h>

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

/* c0[0..N) += alpha sum_k a(i,k) b_k[0..N), and the same for row i + 1
 * into c1 unless c1 is NULL: row updates along contiguous rows of B, four
 * k at a time in registers and two rows of C for each load of B, each
 * element's additions in k order whatever the vector width and whether its
 * row comes alone or in a pair */
CEMI_CLONES
static void rows_update(int ta, int i, int N, int K, double alpha, const double *A, int lda,
                        const double *B, int ldb, double *restrict c0, double *restrict c1)
{
    const size_t ld = (size_t)ldb;
    int k = 0;
    for (; k + 4 <= K; k += 4) {
        double a[2][4] = {{0}};
        for (int r = 0; r < (c1 ? 2 : 1); r++)
            for (int q = 0; q < 4; q++)
                a[r][q] = alpha * a_at(ta, A, lda, i + r, k + q);
        const double *restrict b0 = B + (size_t)k * ld, *restrict b1 = b0 + ld;
        const double *restrict b2 = b1 + ld, *restrict b3 = b2 + ld;
        if (c1)
            for (int j = 0; j < N; j++) {
                double v = c0[j], w = c1[j];
                v += a[0][0] * b0[j];
                w += a[1][0] * b0[j];
                v += a[0][1] * b1[j];
                w += a[1][1] * b1[j];
                v += a[0][2] * b2[j];
                w += a[1][2] * b2[j];
                v += a[0][3] * b3[j];
                w += a[1][3] * b3[j];
                c0[j] = v;
                c1[j] = w;
            }
        else
            for (int j = 0; j < N; j++) {
                double v = c0[j];
                v += a[0][0] * b0[j];
                v += a[0][1] * b1[j];
                v += a[0][2] * b2[j];
                v += a[0][3] * b3[j];
                c0[j] = v;
            }
    }
    for (; k < K; k++) {
        const double *restrict b = B + (size_t)k * ld;
        const double e0 = alpha * a_at(ta, A, lda, i, k);
        for (int j = 0; j < N; j++)
            c0[j] += e0 * b[j];
        if (c1) {
            const double e1 = alpha * a_at(ta, A, lda, i + 1, k);
            for (int j = 0; j < N; j++)
                c1[j] += e1 * b[j];
        }
    }
}

/* Eight doubles as one value (GCC and Clang lower it to the widest vectors
 * of each clone); loaded through memcpy, which allows any alignment. */
typedef double v8d __attribute__((vector_size(64)));
#define LOAD8(v, p) memcpy(&(v), (p), sizeof(v8d))
#define SUM8(v) ((((v)[0] + (v)[1]) + ((v)[2] + (v)[3])) + (((v)[4] + (v)[5]) + ((v)[6] + (v)[7])))

/* sum_k a(i, k) b[k] for a contiguous b: eight partial sums (when A is not
 * transposed) added in a fixed order, then the last K mod 8 terms in
 * order.  The arithmetic of every entry of a product with B transposed,
 * whichever loop computes it, so a row's bits do not depend on the number
 * of rows (docs/SAMPLING.md). */
CEMI_CLONES
static double dot_row(int ta, int i, int K, const double *A, int lda, const double *b)
{
    const int k8 = ta ? 0 : K - K % 8;
    const double *a = ta ? A : A + (size_t)i * (size_t)lda; /* read only when !ta */
    v8d sv = {0};
    for (int k = 0; k < k8; k += 8) {
        v8d bv, v;
        LOAD8(bv, b + k);
        LOAD8(v, a + k);
        sv += v * bv;
    }
    double t = SUM8(sv);
    for (int q = k8; q < K; q++)
        t += a_at(ta, A, lda, i, q) * b[q];
    return t;
}

/* dot_row() for four rows of a non-transposed A against two columns, b and
 * b + ldb, added into c and c + 1: each of the eight results bitwise what
 * dot_row() gives it, with every load of A used twice and of B four times */
CEMI_CLONES
static void dots_4x2(int i, int K, double alpha, const double *A, int lda, const double *b,
                     int ldb, double *c, int ldc)
{
    const int k8 = K - K % 8;
    const double *a[4] = {A + (size_t)i * (size_t)lda, A + (size_t)(i + 1) * (size_t)lda,
                          A + (size_t)(i + 2) * (size_t)lda, A + (size_t)(i + 3) * (size_t)lda};
    const double *b1 = b + ldb;
    v8d s00 = {0}, s10 = {0}, s20 = {0}, s30 = {0}, s01 = {0}, s11 = {0}, s21 = {0}, s31 = {0};
    for (int k = 0; k < k8; k += 8) {
        v8d u0, u1, v0, v1, v2, v3;
        LOAD8(u0, b + k);
        LOAD8(u1, b1 + k);
        LOAD8(v0, a[0] + k);
        LOAD8(v1, a[1] + k);
        LOAD8(v2, a[2] + k);
        LOAD8(v3, a[3] + k);
        s00 += v0 * u0, s10 += v1 * u0, s20 += v2 * u0, s30 += v3 * u0;
        s01 += v0 * u1, s11 += v1 * u1, s21 += v2 * u1, s31 += v3 * u1;
    }
    const double part[2][4] = {{SUM8(s00), SUM8(s10), SUM8(s20), SUM8(s30)},
                               {SUM8(s01), SUM8(s11), SUM8(s21), SUM8(s31)}};
    for (int h = 0; h < 2; h++) {
        const double *bh = h ? b1 : b;
        for (int r = 0; r < 4; r++) {
            double t = part[h][r];
            for (int q = k8; q < K; q++)
                t += a[r][q] * bh[q];
            c[(size_t)r * (size_t)ldc + (size_t)h] += alpha * t;
        }
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
        for (int i = 0; i < M; i += 4) {
            const int rows = M - i < 4 ? M - i : 4;
            double *c = C + (size_t)i * (size_t)ldc;
            int j = 0;
            if (!trans_a && rows == 4 && K >= 8)
                for (; j + 2 <= N; j += 2)
                    dots_4x2(i, K, alpha, A, lda, B + (size_t)j * (size_t)ldb, ldb, c + j, ldc);
            for (; j < N; j++)
                for (int r = 0; r < rows; r++)
                    c[(size_t)r * (size_t)ldc + (size_t)j] +=
                        alpha * dot_row(trans_a, i + r, K, A, lda, B + (size_t)j * (size_t)ldb);
        }
        return;
    }
    /* columns in strips whose K rows of B (about 256 KiB) stay in cache
     * while every row of C is updated along them */
    int strip = (int)(32768 / (K > 0 ? K : 1));
    strip = strip < 64 ? 64 : strip - strip % 8;
    for (int j0 = 0; j0 < N; j0 += strip) {
        const int w = N - j0 < strip ? N - j0 : strip;
        for (int i = 0; i < M; i += 2) {
            double *c0 = C + (size_t)i * (size_t)ldc + (size_t)j0;
            rows_update(trans_a, i, w, K, alpha, A, lda, B + j0, ldb, c0,
                        i + 1 < M ? c0 + ldc : NULL);
        }
    }
}

/* LAPACK through LAPACKE's _work functions in column-major order, with
 * every buffer allocated here by cemi_alloc.  The plain LAPACKE functions
 * (LAPACKE_dsyev ...) allocate their workspace themselves and, in row-major
 * order, a transposed copy of the matrix too; when that malloc fails they
 * print "Not enough memory ..." to stdout and return info -1010 or -1011,
 * where the library must print nothing and report CEM_ERR_NOMEM.  A
 * column-major _work call goes straight to the Fortran routine: LAPACKE
 * then neither allocates nor prints.  The arithmetic is the plain calls':
 * the same workspace query, the same routine on the same column-major
 * numbers (row-major LAPACKE only transposes around the same call), so the
 * results are bitwise those of LAPACKE_dsyev / _dgeqrf / _dorgqr in
 * row-major order (tests/test_base.c compares them). */

/* In-place transpose of the n x n matrix A. */
static void transpose_square(int n, double *A)
{
    const size_t ld = (size_t)n;
    for (size_t i = 0; i < ld; i++)
        for (size_t j = i + 1; j < ld; j++) {
            double v = A[i * ld + j];
            A[i * ld + j] = A[j * ld + i];
            A[j * ld + i] = v;
        }
}

int cemi_dsyev(int n, double *A, double *w)
{
    if (n < 1)
        return 0;
    const size_t ld = (size_t)n;
    /* No transposed copy: A may be symmetric only to rounding, and its
     * upper triangle is what counts (the row-major call read only that).
     * Mirrored into the lower triangle, A is exactly symmetric, so read in
     * column-major order it is the same matrix, whose upper triangle
     * LAPACK then reads. */
    for (size_t i = 0; i < ld; i++)
        for (size_t j = i + 1; j < ld; j++)
            A[j * ld + i] = A[i * ld + j];
    double query = 0;
    lapack_int info = LAPACKE_dsyev_work(LAPACK_COL_MAJOR, 'V', 'U', n, A, n, w, &query, -1);
    if (info != 0)
        return (int)info;
    lapack_int lwork = (lapack_int)query;
    double *work = cemi_alloc((size_t)(lwork > 1 ? lwork : 1), sizeof(double));
    if (!work)
        return CEMI_LINALG_NOMEM;
    info = LAPACKE_dsyev_work(LAPACK_COL_MAJOR, 'V', 'U', n, A, n, w, work, lwork);
    cemi_release(work);
    if (info == 0) /* eigenvectors in the columns of a column-major A */
        transpose_square(n, A);
    return (int)info;
}

int cemi_dqr_thin(int m, int n, double *A, double *diag_r)
{
    /* A non-square matrix read in column-major order is its transpose, so
     * this one transposed copy is made here (LAPACKE's row-major calls
     * would make it themselves, with malloc). */
    const size_t mm = (size_t)m, nn = (size_t)n;
    double *At = cemi_alloc(mm * nn > 0 ? mm * nn : 1, sizeof(double));
    double *tau = cemi_alloc(nn > 0 ? nn : 1, sizeof(double));
    double *work = NULL;
    lapack_int info = CEMI_LINALG_NOMEM;
    if (!At || !tau)
        goto done;
    for (size_t i = 0; i < mm; i++) /* column-major: At[i + j m] = A[i][j] */
        for (size_t j = 0; j < nn; j++)
            At[i + j * mm] = A[i * nn + j];
    double q_qrf = 0, q_org = 0;
    info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, m, n, At, m, tau, &q_qrf, -1);
    if (info == 0)
        info = LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, m, n, n, At, m, tau, &q_org, -1);
    if (info != 0)
        goto done;
    /* each routine gets the workspace its own query asked for */
    lapack_int lw_qrf = (lapack_int)q_qrf, lw_org = (lapack_int)q_org;
    lapack_int lw = lw_qrf > lw_org ? lw_qrf : lw_org;
    work = cemi_alloc((size_t)(lw > 1 ? lw : 1), sizeof(double));
    if (!work) {
        info = CEMI_LINALG_NOMEM;
        goto done;
    }
    info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, m, n, At, m, tau, work, lw_qrf);
    if (info == 0) {
        for (size_t j = 0; j < nn; j++)
            diag_r[j] = At[j + j * mm];
        info = LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, m, n, n, At, m, tau, work, lw_org);
    }
    if (info == 0)
        for (size_t i = 0; i < mm; i++)
            for (size_t j = 0; j < nn; j++)
                A[i * nn + j] = At[i + j * mm];
done:
    cemi_release(work);
    cemi_release(tau);
    cemi_release(At);
    return (int)info;
}
