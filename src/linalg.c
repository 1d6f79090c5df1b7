/*
 * linalg.c -- BLAS and LAPACKE behind the library's own names (layer 1).
 */
#include "linalg.h"

#include <cblas.h>
#include <lapacke.h>
#include <limits.h>
#include <stdlib.h>

int cemi_fits_int(size_t v) { return v <= (size_t)INT_MAX; }

static enum CBLAS_TRANSPOSE tr(int t) { return t ? CblasTrans : CblasNoTrans; }

void cemi_dgemm(int trans_a, int trans_b, int M, int N, int K, double alpha,
                const double *A, int lda, const double *B, int ldb,
                double beta, double *C, int ldc)
{
    cblas_dgemm(CblasRowMajor, tr(trans_a), tr(trans_b), M, N, K, alpha, A, lda,
                B, ldb, beta, C, ldc);
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
