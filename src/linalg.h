/*
 * linalg.h -- layer 1: the closed forms' double products and the one place
 * that calls LAPACKE.
 *
 * Row-major, with the library's own names, so the rest of the code never
 * includes lapacke.h and a different LAPACK is a change to one file.
 * Dimensions are int because that is what LAPACK takes; callers check that
 * their sizes fit (cemi_fits_int).
 */
#ifndef CEM_LINALG_H
#define CEM_LINALG_H

#include <stddef.h>

/* 1 when v <= INT_MAX. */
int cemi_fits_int(size_t v);

/* C (M x N) = alpha op(A) op(B) + beta C, row-major; op(A) is M x K.  The
 * library's own loops, not BLAS (linalg.c says why): they allocate nothing
 * and give the same bits on every CPU.  Fast when B is not transposed
 * (rows of B are updated along) or when A is not transposed and B is (dot
 * products along rows of both).  (The network's float products use gemm.c.) */
void cemi_dgemm(int trans_a, int trans_b, int M, int N, int K, double alpha,
                const double *A, int lda, const double *B, int ldb,
                double beta, double *C, int ldc);

/* What the two LAPACK wrappers below return when their workspace could not
 * be allocated (LAPACK's own info values are > -1000). */
#define CEMI_LINALG_NOMEM (-1000)

/* Both wrappers allocate their workspace with cemi_alloc (so they fail
 * only with CEMI_LINALG_NOMEM when memory runs out, and print nothing) and
 * give bitwise the results of LAPACKE's row-major LAPACKE_dsyev,
 * LAPACKE_dgeqrf and LAPACKE_dorgqr (linalg.c says how). */

/* Eigen-decomposition of the symmetric n x n row-major matrix A (upper
 * triangle read; the lower one is overwritten with it): on return A holds
 * the eigenvectors in its columns and w the eigenvalues in ascending
 * order.  Returns 0 on success, CEMI_LINALG_NOMEM when out of memory, the
 * LAPACK info otherwise. */
int cemi_dsyev(int n, double *A, double *w);

/* Thin QR of the m x n (m >= n) row-major matrix A: on return A holds Q
 * (m x n, orthonormal columns) and diag_r[j] = R[j][j].  Returns 0 on
 * success, CEMI_LINALG_NOMEM when out of memory, the LAPACK info
 * otherwise. */
int cemi_dqr_thin(int m, int n, double *A, double *diag_r);

#endif /* CEM_LINALG_H */
