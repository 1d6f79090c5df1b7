/*
 * test_base.c -- layer 1: version, status strings, error messages, checked
 * allocation, options, the Philox streams (known answers and moments), the
 * thread team, the BLAS wrapper and the LAPACK wrappers.
 */
#include "tests.h"

#include "base.h"
#include "linalg.h"
#include "options.h"
#include "pool.h"

#include <float.h>
#include <lapacke.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

START_TEST(version_matches_header)
{
    ck_assert_uint_eq(cem_version_number(), CEM_VERSION_NUMBER);
    /* the compatibility test: same major, at least this minor, any patch */
    const unsigned M = CEM_VERSION_MAJOR, m = CEM_VERSION_MINOR;
    ck_assert(CEM_VERSION_COMPATIBLE(cem_version_number()));
    ck_assert(CEM_VERSION_COMPATIBLE(M * 10000 + m * 100 + 99));
    ck_assert(CEM_VERSION_COMPATIBLE(M * 10000 + (m + 1) * 100));
    ck_assert(!CEM_VERSION_COMPATIBLE((M + 1) * 10000 + m * 100));
    if (m > 0)
        ck_assert(!CEM_VERSION_COMPATIBLE(M * 10000 + (m - 1) * 100 + 99));
    if (M > 0)
        ck_assert(!CEM_VERSION_COMPATIBLE((M - 1) * 10000 + m * 100));
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", CEM_VERSION_MAJOR, CEM_VERSION_MINOR,
             CEM_VERSION_PATCH);
    ck_assert_str_eq(cem_version_string(), want);
}
END_TEST

START_TEST(status_strings)
{
    const int codes[] = {CEM_OK, CEM_ERR_ARG, CEM_ERR_NOMEM, CEM_ERR_RANGE,
                         CEM_ERR_NONFINITE, CEM_ERR_UNSUPPORTED, CEM_ERR_NUMERIC,
                         CEM_ERR_IO, CEM_ERR_PARSE};
    const size_t nc = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < nc; i++) {
        const char *s = cem_status_string(codes[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_ne(s, "unknown status");
        for (size_t j = 0; j < i; j++) /* distinct messages */
            ck_assert_str_ne(s, cem_status_string(codes[j]));
    }
    ck_assert_str_eq(cem_status_string(12345), "unknown status");
    ck_assert_str_eq(cem_status_string(-999), "unknown status");
}
END_TEST

START_TEST(last_error_is_thread_local_message)
{
    ck_assert_str_eq(cem_last_error(), "");
    int st = cem_time_grid(CEM_GRID_EXPONENTIAL, 1, 1e-3, 10.0, NULL);
    ck_assert_int_eq(st, CEM_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "cem_time_grid"));
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "N must be >= 2"));
    /* a success leaves the message alone */
    double a;
    ck_assert_int_eq(cem_ou_coefficients(1.0, &a, NULL), CEM_OK);
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "cem_time_grid"));
}
END_TEST

static void *fail_in_thread(void *arg)
{
    (void)arg;
    cem_ou_coefficients(-5.0, NULL, NULL);
    return (void *)(strstr(cem_last_error(), "cem_ou_coefficients") != NULL ? arg : NULL);
}

START_TEST(last_error_per_thread)
{
    cem_time_grid(CEM_GRID_UNIFORM, 0, 1.0, 2.0, NULL);
    pthread_t th;
    void *ret = NULL;
    int token = 1;
    ck_assert_int_eq(pthread_create(&th, NULL, fail_in_thread, &token), 0);
    pthread_join(th, &ret);
    ck_assert_ptr_eq(ret, &token); /* the thread saw its own message */
    ck_assert_ptr_nonnull(strstr(cem_last_error(), "cem_time_grid")); /* ours is intact */
}
END_TEST

START_TEST(checked_allocation)
{
    size_t out = 7;
    ck_assert_int_eq(cemi_mul_ok(SIZE_MAX / 2 + 1, 2, &out), 0);
    ck_assert_uint_eq(out, 7);
    ck_assert_int_eq(cemi_mul_ok(3, 5, &out), 1);
    ck_assert_uint_eq(out, 15);
    ck_assert_ptr_null(cemi_alloc(SIZE_MAX / 4, 8));
    ck_assert_ptr_null(cemi_calloc(SIZE_MAX / 4, 8));
    void *p = cemi_alloc(0, 8);
    ck_assert_ptr_nonnull(p);
    cemi_release(p);
    cem_free(NULL);
}
END_TEST

START_TEST(option_checks)
{
    static const cemi_option table[] = {
        {1, "OPT_REAL", 0.5, 2.0, 1.0, 0},
        {2, "OPT_INT", 1, 10, 3, 1},
        {0, NULL, 0, 0, 0, 0},
    };
    cemi_errbuf err = {{0}};
    const cemi_option *o = cemi_option_find(table, 2);
    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_null(cemi_option_find(table, 3));
    ck_assert_int_eq(cemi_option_check(&err, "f", o, 4.0), CEM_OK);
    ck_assert_int_eq(cemi_option_check(&err, "f", o, 4.5), CEM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(err.text, "OPT_INT"));
    ck_assert_int_eq(cemi_option_check(&err, "f", o, 11.0), CEM_ERR_RANGE);
    ck_assert_ptr_nonnull(strstr(err.text, "[1, 10]"));
    ck_assert_int_eq(cemi_option_check(&err, "f", table, NAN), CEM_ERR_RANGE);
    ck_assert_int_eq(cemi_option_check(&err, "f", table, 2.0), CEM_OK);
    double lo, hi;
    ck_assert_int_eq(cemi_option_bounds("b", table, 1, &lo, &hi), CEM_OK);
    ck_assert(lo == 0.5 && hi == 2.0);
    ck_assert_int_eq(cemi_option_bounds("b", table, 9, &lo, &hi), CEM_ERR_ARG);
}
END_TEST

/* Random123's published known-answer vectors for philox4x32-10
 * (kat_vectors: counter[4] key[2] -> output[4]). */
START_TEST(philox_known_answers)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
         0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
         0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        cemi_philox4x32_10(kat[v], kat[v] + 4, out);
        for (int i = 0; i < 4; i++)
            ck_assert_uint_eq(out[i], kat[v][6 + i]);
    }
}
END_TEST

START_TEST(stream_layout_and_independence)
{
    /* word k of stream s of seed is word k%4 of philox({k/4, 0, s, 0}, seed) */
    cemi_rng r;
    cemi_rng_init(&r, 0x1234567887654321ull, 5);
    uint32_t first[8];
    for (int i = 0; i < 8; i++)
        first[i] = cemi_rng_u32(&r);
    const uint32_t key[2] = {0x87654321u, 0x12345678u};
    for (uint32_t b = 0; b < 2; b++) {
        const uint32_t ctr[4] = {b, 0, 5, 0};
        uint32_t out[4];
        cemi_philox4x32_10(ctr, key, out);
        for (int i = 0; i < 4; i++)
            ck_assert_uint_eq(first[4 * b + (uint32_t)i], out[i]);
    }
    /* a different stream or seed gives different words */
    cemi_rng a, b;
    cemi_rng_init(&a, 1, 0);
    cemi_rng_init(&b, 1, 1);
    int same = 0;
    for (int i = 0; i < 64; i++)
        same += cemi_rng_u32(&a) == cemi_rng_u32(&b);
    ck_assert_int_lt(same, 2);
}
END_TEST

START_TEST(uniform_open_interval_and_mean)
{
    cemi_rng r;
    cemi_rng_init(&r, 42, 0);
    double s = 0.0, s2 = 0.0;
    const int n = 1000000;
    for (int i = 0; i < n; i++) {
        double u = cemi_rng_uniform(&r);
        ck_assert(u > 0.0 && u < 1.0);
        s += u;
        s2 += u * u;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    /* 5 standard errors: sd(mean) = sqrt(1/12/n) = 2.9e-4 */
    ck_assert_double_lt(fabs(mean - 0.5), 5 * sqrt(1.0 / 12 / n));
    ck_assert_double_lt(fabs(var - 1.0 / 12), 5 * sqrt(1.0 / 180 / n));
}
END_TEST

START_TEST(gaussian_four_moments)
{
    /* 10^6 draws; bounds are 5 standard errors of each sample moment of
     * N(0,1): sd(mean) = 1/sqrt(n), sd(var) = sqrt(2/n), sd(skew) = sqrt(6/n),
     * sd(kurtosis) = sqrt(24/n). */
    const int n = 1000000;
    cemi_rng r;
    cemi_rng_init(&r, 20261123, 3);
    double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
    for (int i = 0; i < n; i++) {
        double z = cemi_rng_normal(&r);
        ck_assert(isfinite(z));
        double z2 = z * z;
        m1 += z;
        m2 += z2;
        m3 += z2 * z;
        m4 += z2 * z2;
    }
    m1 /= n; m2 /= n; m3 /= n; m4 /= n;
    double var = m2 - m1 * m1;
    double skew = (m3 - 3 * m1 * m2 + 2 * m1 * m1 * m1) / pow(var, 1.5);
    double kurt = (m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1 * m1 * m1 * m1) / (var * var);
    ck_assert_double_lt(fabs(m1), 5 / sqrt(n));
    ck_assert_double_lt(fabs(var - 1), 5 * sqrt(2.0 / n));
    ck_assert_double_lt(fabs(skew), 5 * sqrt(6.0 / n));
    ck_assert_double_lt(fabs(kurt - 3), 5 * sqrt(24.0 / n));
}
END_TEST

START_TEST(gaussian_tail_frequency)
{
    /* P(|Z| > 3) = 0.0026998: the tails are right, not just the moments */
    const int n = 1000000;
    cemi_rng r;
    cemi_rng_init(&r, 7, 0);
    int k = 0;
    for (int i = 0; i < n; i++)
        k += fabs(cemi_rng_normal(&r)) > 3.0;
    double p = 0.0026997960632601866, sd = sqrt(p * (1 - p) / n);
    ck_assert_double_lt(fabs((double)k / n - p), 5 * sd);
}
END_TEST

/* The thread team: every call runs fn once on every thread and returns only
 * when all have finished, whether the workers were spinning (calls back to
 * back) or asleep (calls after a pause longer than the spin).  Each call
 * adds to a per-thread counter; the caller checks all of them after every
 * call, so a lost wake-up or an early return shows as a wrong count (or a
 * hang, which Check's timeout turns into a failure). */
typedef struct {
    long count[4];
    long call;
    int n, bad;
} pool_probe;

static void pool_probe_fn(void *v, int tid, int n)
{
    pool_probe *p = v;
    if (n != p->n || tid < 0 || tid >= n || p->count[tid] != p->call)
        p->bad = 1; /* each thread sees the previous call finished */
    p->count[tid]++;
}

START_TEST(pool_runs_every_thread_once_per_call)
{
    /* 2 threads spin between calls on a machine with 2 or more CPUs; 3 may
     * outnumber the CPUs and then sleep between calls */
    for (int n = 2; n <= 3; n++) {
        cemi_pool *pool = cemi_pool_create(n);
        ck_assert_ptr_nonnull(pool);
        ck_assert_int_eq(cemi_pool_size(pool), n);
        pool_probe pr = {{0}, 0, n, 0};
        for (int call = 0; call < 4000; call++) {
            if (call % 1000 == 999) { /* let the team fall asleep (> 2 ms) */
                struct timespec ts = {0, 5000000};
                nanosleep(&ts, NULL);
            }
            cemi_pool_run(pool, pool_probe_fn, &pr);
            pr.call++;
            for (int t = 0; t < n; t++)
                ck_assert_int_eq(pr.count[t], pr.call);
        }
        ck_assert_int_eq(pr.bad, 0);
        cemi_pool_free(pool);
    }
    /* a team of one runs on the caller; NULL is a team of one */
    ck_assert_int_eq(cemi_pool_size(NULL), 1);
    cemi_pool *one = cemi_pool_create(1);
    ck_assert_ptr_nonnull(one);
    cemi_pool_free(one);
    ck_assert_ptr_null(cemi_pool_create(0));
    cemi_pool_free(NULL);
}
END_TEST

/* The split covers [0, count) in order, in aligned pieces, one per thread. */
START_TEST(pool_split_covers_in_order)
{
    for (int n = 1; n <= 5; n++)
        for (size_t count = 0; count < 300; count += 7)
            for (size_t align = 1; align <= 64; align *= 4) {
                size_t next = 0;
                for (int t = 0; t < n; t++) {
                    size_t lo, hi;
                    cemi_pool_split_n(count, align, t, n, &lo, &hi);
                    ck_assert_uint_eq(lo, next);
                    ck_assert_uint_le(lo, hi);
                    ck_assert(lo % align == 0 || lo == count);
                    next = hi;
                }
                ck_assert_uint_eq(next, count);
            }
}
END_TEST

/* The first NaN or Inf, wherever it falls against the 64-float chunks;
 * the largest and the subnormal floats are finite. */
START_TEST(first_nonfinite_positions)
{
    enum { N = 300 };
    float x[N];
    for (int i = 0; i < N; i++)
        x[i] = i % 3 == 0 ? FLT_MAX : i % 3 == 1 ? -1e-45f : (float)i;
    ck_assert_uint_eq(cemi_first_nonfinite_f(x, N), N);
    ck_assert_uint_eq(cemi_first_nonfinite_f(x, 0), 0);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int b = 0; b < 3; b++)
        for (int pos = 0; pos < N; pos++) {
            float keep = x[pos];
            x[pos] = bad[b];
            ck_assert_uint_eq(cemi_first_nonfinite_f(x, N), (size_t)pos);
            ck_assert_uint_eq(cemi_first_nonfinite_f(x, (size_t)pos), (size_t)pos);
            if (pos + 70 < N) { /* a later one does not hide it */
                x[pos + 70] = NAN;
                ck_assert_uint_eq(cemi_first_nonfinite_f(x, N), (size_t)pos);
                x[pos + 70] = 1.0f; /* finite again */
            }
            x[pos] = keep;
        }
}
END_TEST

/* cemi_dgemm against direct sums in long double, for every transpose, with
 * strides wider than the matrices, alpha != 1 and beta 0 (C's NaNs
 * ignored), 1 and 0.5; shapes with a side below the loops' widths (4 rows,
 * 8-long dots) and shapes with none. */
START_TEST(dgemm_matches_direct_sums)
{
    static const int shape[][3] = {{7, 3, 5}, {256, 2, 300}, {2, 256, 300},
                                   {130, 90, 100}, {300, 64, 70}};
    static const double betas[] = {0.0, 1.0, 0.5};
    for (size_t sh = 0; sh < sizeof shape / sizeof shape[0]; sh++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bi = 0; bi < 3; bi++) {
                    const int M = shape[sh][0], N = shape[sh][1], K = shape[sh][2];
                    const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                    const size_t na = (size_t)lda * (size_t)(ta ? K : M);
                    const size_t nb = (size_t)ldb * (size_t)(tb ? N : K);
                    const size_t nc = (size_t)ldc * (size_t)M;
                    double *A = malloc(sizeof(double) * na), *B = malloc(sizeof(double) * nb);
                    double *C = malloc(sizeof(double) * nc), *C0 = malloc(sizeof(double) * nc);
                    ck_assert(A && B && C && C0);
                    for (size_t i = 0; i < na; i++)
                        A[i] = sin(0.37 * (double)i + 0.1);
                    for (size_t i = 0; i < nb; i++)
                        B[i] = cos(0.53 * (double)i - 0.2);
                    for (size_t i = 0; i < nc; i++)
                        C0[i] = C[i] = betas[bi] == 0.0 ? NAN : 0.25 * sin((double)i);
                    const double alpha = -1.5, beta = betas[bi];
                    cemi_dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
                    double worst = 0.0;
                    for (int i = 0; i < M; i++)
                        for (int j = 0; j < N; j++) {
                            long double s = 0.0L, mag = 0.0L;
                            for (int k = 0; k < K; k++) {
                                long double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                                long double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                                s += a * b;
                                mag += fabsl(a * b);
                            }
                            long double want = alpha * s;
                            if (beta != 0.0)
                                want += beta * C0[(size_t)i * ldc + j];
                            double got = C[(size_t)i * ldc + j];
                            double err = (double)(fabsl(got - want) / (fabsl(alpha) * mag + 1.0L));
                            if (!(err <= worst)) /* NaN too */
                                worst = err;
                        }
                    ck_assert_msg(worst < 1e-14, "M N K %d %d %d ta %d tb %d beta %g: error %g",
                                  M, N, K, ta, tb, beta, worst);
                    for (int i = 0; i < M; i++) /* padding untouched */
                        for (int j = N; j < ldc; j++)
                            ck_assert(memcmp(&C[(size_t)i * ldc + j], &C0[(size_t)i * ldc + j],
                                             sizeof(double)) == 0);
                    free(A), free(B), free(C), free(C0);
                }
}
END_TEST

/* A row of cemi_dgemm's result is the same bits whatever the number of rows
 * computed with it (the sampler's blocks rely on it): 9 rows at once
 * against each row alone. */
START_TEST(dgemm_rows_independent_of_shape)
{
    enum { M = 9, N = 5, K = 37 };
    double A[M * K], B[K * N], whole[M * N], alone[N];
    for (int i = 0; i < M * K; i++)
        A[i] = sin(1.3 * i);
    for (int i = 0; i < K * N; i++)
        B[i] = cos(0.7 * i);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            const int lda = ta ? M : K, ldb = tb ? K : N;
            cemi_dgemm(ta, tb, M, N, K, 0.75, A, lda, B, ldb, 0.0, whole, N);
            for (int i = 0; i < M; i++) {
                const double *Ai = ta ? A + i : A + (size_t)i * lda;
                cemi_dgemm(ta, tb, 1, N, K, 0.75, Ai, lda, B, ldb, 0.0, alone, N);
                ck_assert_msg(memcmp(alone, whole + (size_t)i * N, sizeof alone) == 0,
                              "ta %d tb %d row %d", ta, tb, i);
            }
        }
}
END_TEST

/* A failure that adds context to the one it called into formats the
 * thread's last message into the new one (cem_trainer_create's floors,
 * say): the result is the two, not a mangled overlap. */
START_TEST(failure_may_quote_the_last_message)
{
    char inner[600];
    memset(inner, 'a', sizeof inner - 1);
    inner[sizeof inner - 1] = '\0';
    ck_assert_int_eq(cemi_fail(NULL, CEM_ERR_NOMEM, "inner: %s", inner), CEM_ERR_NOMEM);
    char want[1200];
    snprintf(want, sizeof want, "outer: %s", cem_last_error());
    ck_assert_int_eq(cemi_fail(NULL, CEM_ERR_NOMEM, "outer: %s", cem_last_error()),
                     CEM_ERR_NOMEM);
    ck_assert_int_eq(strncmp(cem_last_error(), want, strlen(cem_last_error())), 0);
    ck_assert_int_eq(strncmp(cem_last_error(), "outer: inner: aaaa", 18), 0);
}
END_TEST

/* A symmetric n x n matrix with a lower triangle that differs from the
 * upper one by rounding-size noise (only the upper one is to be read). */
static void nearly_symmetric(int n, uint64_t seed, double *A)
{
    cemi_rng r;
    cemi_rng_init(&r, seed, 0);
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            double v = cemi_rng_normal(&r);
            A[i * n + j] = v;
            A[j * n + i] = v * (1 + (i == j ? 0 : 1e-9 * cemi_rng_normal(&r)));
        }
}

/* cemi_dsyev gives bitwise what LAPACKE_dsyev gives in row-major order
 * (the upper triangle read), and its pairs solve A v = lambda v. */
START_TEST(dsyev_matches_lapacke_row_major)
{
    static const int sizes[] = {1, 2, 5, 37, 80};
    for (size_t c = 0; c < sizeof sizes / sizeof *sizes; c++) {
        const int n = sizes[c];
        double *A = malloc(sizeof(double) * n * n), *B = malloc(sizeof(double) * n * n);
        double *U = malloc(sizeof(double) * n * n), *w = malloc(sizeof(double) * n);
        double *wb = malloc(sizeof(double) * n);
        nearly_symmetric(n, 11 + c, A);
        memcpy(B, A, sizeof(double) * n * n);
        memcpy(U, A, sizeof(double) * n * n);
        ck_assert_int_eq(cemi_dsyev(n, A, w), 0);
        ck_assert_int_eq(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', n, B, n, wb), 0);
        ck_assert_mem_eq(w, wb, sizeof(double) * n);
        ck_assert_mem_eq(A, B, sizeof(double) * n * n);
        double worst = 0; /* || S v_k - lambda_k v_k || with S the upper triangle's */
        for (int k = 0; k < n; k++)
            for (int i = 0; i < n; i++) {
                double v = -w[k] * A[i * n + k];
                for (int j = 0; j < n; j++)
                    v += U[i <= j ? i * n + j : j * n + i] * A[j * n + k];
                worst = fmax(worst, fabs(v));
            }
        ck_assert_double_lt(worst, 1e-12 * n);
        free(A), free(B), free(U), free(w), free(wb);
    }
}
END_TEST

/* cemi_dqr_thin gives bitwise what LAPACKE_dgeqrf then LAPACKE_dorgqr give
 * in row-major order, and Q has orthonormal columns. */
START_TEST(dqr_thin_matches_lapacke_row_major)
{
    static const int shapes[][2] = {{1, 1}, {3, 3}, {7, 2}, {40, 3}, {300, 3}};
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        const int m = shapes[c][0], n = shapes[c][1];
        double *A = malloc(sizeof(double) * m * n), *B = malloc(sizeof(double) * m * n);
        double d[3], tau[3], db[3];
        cemi_rng r;
        cemi_rng_init(&r, 5 + c, 0);
        for (int k = 0; k < m * n; k++)
            A[k] = B[k] = cemi_rng_normal(&r);
        ck_assert_int_eq(cemi_dqr_thin(m, n, A, d), 0);
        ck_assert_int_eq(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m, n, B, n, tau), 0);
        for (int j = 0; j < n; j++)
            db[j] = B[j * n + j];
        ck_assert_int_eq(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m, n, n, B, n, tau), 0);
        ck_assert_mem_eq(d, db, sizeof(double) * n);
        ck_assert_mem_eq(A, B, sizeof(double) * m * n);
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++) {
                double v = 0;
                for (int i = 0; i < m; i++)
                    v += A[i * n + a] * A[i * n + b];
                ck_assert_double_eq_tol(v, a == b, 1e-13);
            }
        free(A), free(B);
    }
}
END_TEST

/* The LAPACK wrappers take their workspace from cemi_alloc: failing any
 * one of those allocations returns CEMI_LINALG_NOMEM and prints nothing;
 * with none failing they succeed. */
START_TEST(lapack_workspace_from_cemi_alloc)
{
    enum { n = 24, m = 30, q = 3 };
    static double A[n * n], w[n], Q[m * q], d[q];
    for (int which = 0; which < 2; which++) {
        long k = 1;
        for (;; k++) {
            cemi_rng r;
            cemi_rng_init(&r, 3, 0);
            nearly_symmetric(n, 3, A);
            for (int i = 0; i < m * q; i++)
                Q[i] = cemi_rng_normal(&r);
            test_stdout_begin();
            test_alloc_fail(k);
            int info = which ? cemi_dqr_thin(m, q, Q, d) : cemi_dsyev(n, A, w);
            long calls = test_alloc_calls();
            test_alloc_fail(0);
            ck_assert_int_eq(test_stdout_end(), 0);
            if (k > calls) { /* nothing failed */
                ck_assert_int_eq(info, 0);
                break;
            }
            ck_assert_int_eq(info, CEMI_LINALG_NOMEM);
        }
        ck_assert_int_ge(k, (which ? 4 : 2)); /* at least one workspace (three for QR) */
    }
}
END_TEST

Suite *suite_base(void)
{
    Suite *s = suite_create("base");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, status_strings);
    tcase_add_test(tc, last_error_is_thread_local_message);
    tcase_add_test(tc, failure_may_quote_the_last_message);
    tcase_add_test(tc, last_error_per_thread);
    tcase_add_test(tc, checked_allocation);
    tcase_add_test(tc, option_checks);
    tcase_add_test(tc, philox_known_answers);
    tcase_add_test(tc, stream_layout_and_independence);
    tcase_add_test(tc, uniform_open_interval_and_mean);
    tcase_add_test(tc, gaussian_four_moments);
    tcase_add_test(tc, gaussian_tail_frequency);
    tcase_add_test(tc, pool_runs_every_thread_once_per_call);
    tcase_add_test(tc, pool_split_covers_in_order);
    tcase_add_test(tc, first_nonfinite_positions);
    tcase_add_test(tc, dgemm_matches_direct_sums);
    tcase_add_test(tc, dgemm_rows_independent_of_shape);
    tcase_add_test(tc, dsyev_matches_lapacke_row_major);
    tcase_add_test(tc, dqr_thin_matches_lapacke_row_major);
    tcase_add_test(tc, lapack_workspace_from_cemi_alloc);
    suite_add_tcase(s, tc);
    return s;
}
