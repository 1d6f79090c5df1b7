/*
 * base.h -- layer 1: errors, checked allocation, random streams, BLAS.
 *
 * Internal to libcemdiff: nothing here is exported from the shared library.
 * Internal names start with cemi_ so that the static library cannot clash
 * with a host's symbols.
 */
#ifndef CEM_BASE_H
#define CEM_BASE_H

#include "cemdiff.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Elementwise loops compiled for AVX-512, AVX2 and baseline x86-64; the
 * loader picks the best the CPU has (GCC target_clones).  Where multiply-
 * adds are fused (nn.c) the versions may differ in the last bit from one
 * machine to another, never from one run to the next. */
/* Not under ThreadSanitizer: GCC instruments the clones' resolver, which
 * the loader runs before TSan's runtime is up (a crash at start). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_THREAD__)
#define CEMI_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CEMI_CLONES
#endif

#define CEMI_ERRMSG_LEN 256

/* A handle's error message buffer. */
typedef struct {
    char text[CEMI_ERRMSG_LEN];
} cemi_errbuf;

/* Records a failure: formats the message into the calling thread's buffer
 * (cem_last_error) and, when `handle` is not NULL, into the handle's
 * buffer.  Only calls that modify the handle pass it (hence not const): the
 * API lets const calls run concurrently with each other on one handle, so
 * they record failures in the thread's buffer alone, and a handle's
 * message is never written while another thread may read it.  Returns
 * `status`, so error paths read `return cemi_fail(...)`. */
int cemi_fail(cemi_errbuf *handle, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------ allocation */

/* *out = a * b, or 0 when the product overflows size_t. */
int cemi_mul_ok(size_t a, size_t b, size_t *out);

/* malloc of n * size bytes with overflow check; NULL on failure or n*size
 * overflow.  Zero bytes return a unique non-NULL pointer. */
void *cemi_alloc(size_t n, size_t size);
void *cemi_calloc(size_t n, size_t size);
/* realloc of p to n * size bytes with overflow check; NULL on failure (p
 * then still holds its block) or overflow.  Every allocation the library
 * makes goes through these three, so a test can make any of them fail
 * (tests/tests.h). */
void *cemi_realloc(void *p, size_t n, size_t size);
void cemi_release(void *p);

/* ------------------------------------------------------------ randomness
 *
 * Counter-based streams on Philox4x32-10 (Random123).  A stream is named by
 * (seed, stream id); its k-th block of four 32-bit words is
 * philox4x32_10(counter = {k lo, k hi, stream lo, stream hi},
 *              key = {seed lo, seed hi}).
 * Streams are independent and random access, so results do not depend on
 * the order or the thread in which rows are processed.
 */
typedef struct {
    uint32_t key[2];
    uint32_t stream[2];
    uint64_t block;     /* next block index */
    uint32_t buf[4];    /* the current block */
    int used;           /* words of buf consumed (4 = empty) */
    int have_spare;     /* Box-Muller keeps its second value */
    double spare;
} cemi_rng;

/* One Philox4x32-10 block: out = philox(ctr, key). */
void cemi_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                        uint32_t out[4]);

/* Positions `r` at the start of stream `stream` of `seed`. */
void cemi_rng_init(cemi_rng *r, uint64_t seed, uint64_t stream);

/* The next 32 random bits. */
uint32_t cemi_rng_u32(cemi_rng *r);

/* Uniform on the open interval (0, 1), 53 random bits. */
double cemi_rng_uniform(cemi_rng *r);

/* Standard normal (Box-Muller on two open uniforms). */
double cemi_rng_normal(cemi_rng *r);

/* Continues the stream at Philox block `block` (4 words each; a uniform
 * takes 2 words, a pair of normals one block), with no spare normal. */
void cemi_rng_seek(cemi_rng *r, uint64_t block);

/* ------------------------------------------------------------------- checks */

/* Index of the first non-finite entry of x[0..n-1], or n when all are
 * finite. */
size_t cemi_first_nonfinite_f(const float *x, size_t n);

#endif /* CEM_BASE_H */
