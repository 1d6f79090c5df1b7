/*
 * gemm.h -- layer 1: the library's own single-precision matrix product,
 * used by the network kernels (src/gemm.c explains why).
 */
#ifndef CEM_GEMM_H
#define CEM_GEMM_H

#include <stddef.h>

/* C (M x N, row-major, ldc) = beta C + op(A) op(B), op(A) M x K, op(B)
 * K x N; ta = 1 means A is stored K x M (A[k lda + i]), tb = 1 that B is
 * stored N x K (B[n ldb + k]).  beta = 0 does not read C.  With bias (a
 * row vector of N), C = bias + op(A) op(B) instead (beta unused): bitwise
 * what C = bias then beta = 1 gives, without the pass over C.  ws must hold
 * cemi_gemm_workspace(N) floats; nothing is allocated.  Each element of C
 * gets the same arithmetic whatever M is, so rows may be computed in any
 * split (threads) with bitwise the same result; so do columns split at
 * multiples of 32 into pieces of CEMI_GEMM_NARROW or more (narrower
 * products are dot products, another arithmetic). */
void cemi_gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
               int ldb, float beta, const float *bias, float *C, int ldc, float *ws);

/* Floats of workspace cemi_gemm needs for products with N columns. */
size_t cemi_gemm_workspace(int N);

/* Products with fewer columns than this are done as dot products, without
 * packing (the network's output layer). */
#define CEMI_GEMM_NARROW 8

/* Packing op(B) once for many products (weights reused by every block of
 * rows and every thread).  cemi_gemm_pack writes columns [j0, j1) of op(B)
 * (K x N, tb as in cemi_gemm; j0 a multiple of 32) into Bp, which holds
 * cemi_gemm_packed_size(N, K) floats; disjoint column ranges may be packed
 * by different threads.  cemi_gemm_packed then computes C = beta C +
 * op(A) op(B) from Bp with bitwise the arithmetic of cemi_gemm for the
 * products cemi_gemm computes through panels: N >= CEMI_GEMM_NARROW, and
 * M >= 8 or tb = 1 (the forward pass); ws holds cemi_gemm_workspace(0)
 * floats.  The
 * packing belongs to the micro-kernel in use: pack and compute with the
 * same one (cemi_gemm_force_kernel in between invalidates it). */
size_t cemi_gemm_packed_size(int N, int K);
void cemi_gemm_pack(int tb, int N, int K, const float *B, int ldb, int j0, int j1, float *Bp);
void cemi_gemm_packed(int ta, int M, int N, int K, const float *A, int lda, const float *Bp,
                      float beta, const float *bias, float *C, int ldc, float *ws);

/* The micro-kernel in use ("avx512", "avx2" or "sse2"). */
const char *cemi_gemm_kernel_name(void);

/* For tests: use kernel `which` (0 avx512, 1 avx2, 2 sse2; -1 the best the
 * CPU has).  Returns -1 when the CPU lacks it.  Not thread-safe. */
int cemi_gemm_force_kernel(int which);

#endif /* CEM_GEMM_H */
