/*
 * bench.c -- `make bench`: W1 of shared BENCHMARK.md measured on this
 * machine, one JSON object per line per figure.
 *
 *   bench [--quick] [--w1]
 *
 * --w1: only the machine's peak and W1's training and sampling figures (the
 * library's side of one round of bench_torch.py).
 *
 * W1: 10,000 points on the unit circle; MLP [x, phi(t)] with 32 time
 * features, 3 hidden layers of 256, SiLU; CEM with lambda, t log-uniform on
 * [1e-3, 10]; Adam 1e-3, batch 1024.  Sampling: 10,000 samples, 100-point
 * exponential grid, ancestral step.  Every figure is the median of several
 * runs; the sgemm ceiling is measured in the same run on the shapes of one
 * training step, with OpenBLAS as the environment configures it and, when
 * OPENBLAS_CORETYPE is set, also with OpenBLAS's own kernel choice (the
 * higher of the two is the ceiling).  The library's threads are its THREADS options; OpenBLAS's
 * thread count, for the ceiling, is set with openblas_set_num_threads (the
 * benchmark, not the library, does that: the library's network runs on its
 * own matrix product, src/gemm.c).
 */
#define _DEFAULT_SOURCE /* wait4 */
#define _POSIX_C_SOURCE 200809L
#include <cemdiff.h>

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern void openblas_set_num_threads(int);

enum { NDATA = 10000, D = 2 };
static float data[NDATA * D];
static int RUNS = 5;
static long TRAIN_STEPS = 60;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench: %s: %s\n", what, cem_last_error());
    exit(1);
}

/* Lets OpenBLAS's worker threads, which spin after a threaded call, go to
 * sleep before the next measurement. */
static void settle(void)
{
    struct timespec t = {0, 500000000};
    nanosleep(&t, NULL);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* FLOPs of one training step: forward 2 B sum(in out); backward dW the same,
 * dX for every layer but the first. */
static double step_flops(int B, int H, int L, int E)
{
    double fwd = 0, dx = 0;
    for (int l = 0; l <= L; l++) {
        double in = l == 0 ? D + E : H, out = l == L ? D : H;
        fwd += 2.0 * B * in * out;
        if (l > 0)
            dx += 2.0 * B * in * out;
    }
    return 2 * fwd + dx;
}

/* FLOPs of one network evaluation of one row (sampling): the forward pass. */
static double row_eval_flops(int H, int L, int E)
{
    double fwd = 0;
    for (int l = 0; l <= L; l++)
        fwd += 2.0 * (l == 0 ? D + E : H) * (l == L ? D : H);
    return fwd;
}

static int THREADS = 2; /* the trainer's threads for the next measurement */

static cem_trainer_t *w1_trainer(cem_model_t **m, int B, int H)
{
    cem_trainer_t *tr;
    if (cem_model_create_mlp(m, D, CEM_TARGET_CEM) || cem_model_set(*m, CEM_MODEL_WIDTH, H) ||
        cem_trainer_create(&tr, *m, data, NDATA, D) ||
        cem_trainer_set(tr, CEM_TRAINER_BATCH, B) ||
        cem_trainer_set(tr, CEM_TRAINER_TIME_LAW, CEM_TIMELAW_LOGUNIFORM) ||
        cem_trainer_set(tr, CEM_TRAINER_THREADS, THREADS))
        die("W1 trainer");
    return tr;
}

/* Median seconds per training step over RUNS runs of `steps` steps. */
static double train_seconds(int B, int H, long steps)
{
    cem_model_t *m;
    cem_trainer_t *tr = w1_trainer(&m, B, H);
    if (cem_trainer_run(tr, 5, NULL))
        die("warm-up");
    double t[16];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        if (cem_trainer_run(tr, steps, NULL))
            die("cem_trainer_run");
        t[r] = (now() - t0) / (double)steps;
    }
    cem_trainer_free(tr);
    cem_model_free(m);
    return median(t, RUNS);
}

/* Median seconds per W1 training step on 1 and on 2 threads, the runs of
 * the two interleaved so that both see the same machine (a shared machine's
 * second core comes and goes). */
static void train_seconds_1_2(long steps, double sec[2])
{
    cem_model_t *m[2];
    cem_trainer_t *tr[2];
    double t[2][32];
    for (int k = 0; k < 2; k++) {
        THREADS = k + 1;
        tr[k] = w1_trainer(&m[k], 1024, 256);
        if (cem_trainer_run(tr[k], 5, NULL))
            die("warm-up");
    }
    for (int r = 0; r < 2 * RUNS; r++)
        for (int k = 0; k < 2; k++) {
            double t0 = now();
            if (cem_trainer_run(tr[k], steps, NULL))
                die("cem_trainer_run");
            t[k][r] = (now() - t0) / (double)steps;
        }
    for (int k = 0; k < 2; k++) {
        sec[k] = median(t[k], 2 * RUNS);
        cem_trainer_free(tr[k]);
        cem_model_free(m[k]);
    }
}

/* Median seconds of one W1 sampling run (n samples, 99 steps). */
static double sample_seconds(size_t n, int threads)
{
    cem_model_t *m;
    cem_sampler_t *s;
    float *out = malloc(sizeof(float) * n * D);
    if (cem_model_create_mlp(&m, D, CEM_TARGET_CEM) || cem_sampler_create(&s, m) ||
        cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, CEM_INTEG_ANCESTRAL) ||
        cem_sampler_set(s, CEM_SAMPLER_STEPS, 100) || cem_sampler_set(s, CEM_SAMPLER_DENOISE, 0) ||
        cem_sampler_set(s, CEM_SAMPLER_THREADS, threads))
        die("W1 sampler");
    if (cem_sampler_run(s, n < 512 ? n : 512, out))
        die("warm-up");
    double t[16];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        if (cem_sampler_run(s, n, out))
            die("cem_sampler_run");
        t[r] = now() - t0;
    }
    cem_sampler_free(s);
    cem_model_free(m);
    free(out);
    return median(t, RUNS);
}

/* The machine's single-precision FMA peak, measured: twelve independent
 * chains of fused multiply-adds on the widest vectors the CPU has (enough
 * in flight for two FMA pipes of latency 4 or more), one thread a core, all
 * cores at once.  No product and no step can run faster; bench_torch.py
 * turns it into the largest speed-up over PyTorch this machine allows. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* twelve chains as twelve variables (an array of them is kept in memory) */
#define FMA12(T, SET1, FMA, iters, s)                                                        \
    do {                                                                                     \
        T m = SET1(0.999999f), c = SET1(1e-7f), a0 = SET1(0), a1 = SET1(1), a2 = SET1(2),  \
          a3 = SET1(3), a4 = SET1(4), a5 = SET1(5), a6 = SET1(6), a7 = SET1(7),              \
          a8 = SET1(8), a9 = SET1(9), a10 = SET1(10), a11 = SET1(11);                        \
        for (long i = 0; i < (iters); i++) {                                                 \
            a0 = FMA(a0, m, c), a1 = FMA(a1, m, c), a2 = FMA(a2, m, c), a3 = FMA(a3, m, c);  \
            a4 = FMA(a4, m, c), a5 = FMA(a5, m, c), a6 = FMA(a6, m, c), a7 = FMA(a7, m, c);  \
            a8 = FMA(a8, m, c), a9 = FMA(a9, m, c), a10 = FMA(a10, m, c);                    \
            a11 = FMA(a11, m, c);                                                            \
        }                                                                                    \
        T sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;                 \
        float v[sizeof(T) / sizeof(float)];                                                  \
        memcpy(v, &sum, sizeof v);                                                           \
        s = v[0];                                                                            \
    } while (0)
#define FMA_CHAINS 12
__attribute__((target("avx512f"))) static float fma_avx512(long iters)
{
    float s;
    FMA12(__m512, _mm512_set1_ps, _mm512_fmadd_ps, iters, s);
    return s;
}
__attribute__((target("avx2,fma"))) static float fma_avx2(long iters)
{
    float s;
    FMA12(__m256, _mm256_set1_ps, _mm256_fmadd_ps, iters, s);
    return s;
}
static int fma_lanes(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f")                                    ? 16
           : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 8
                                                                              : 0;
}
#else
static float fma_avx512(long iters) { (void)iters; return 0; }
static float fma_avx2(long iters) { (void)iters; return 0; }
static int fma_lanes(void) { return 0; }
#endif

static volatile float fma_sink;
static const long FMA_ITERS = 50000000;

static void *fma_thread(void *arg)
{
    (void)arg;
    fma_sink = fma_lanes() == 16 ? fma_avx512(FMA_ITERS) : fma_avx2(FMA_ITERS);
    return NULL;
}

/* GFLOP/s of `threads` threads running the FMA chains at once (median of
 * RUNS). */
static double fma_peak_gflops(int threads)
{
    if (fma_lanes() == 0)
        return 0;
    double t[16];
    for (int r = 0; r < RUNS; r++) {
        pthread_t th[8];
        double t0 = now();
        int started = 1;
        while (started < threads && pthread_create(&th[started], NULL, fma_thread, NULL) == 0)
            started++;
        fma_thread(NULL);
        for (int k = 1; k < started; k++)
            pthread_join(th[k], NULL);
        if (started < threads) {
            fprintf(stderr, "bench: could not start %d threads for the FMA peak\n", threads);
            exit(1);
        }
        t[r] = now() - t0;
    }
    return (double)threads * FMA_ITERS * FMA_CHAINS * fma_lanes() * 2 / median(t, RUNS) / 1e9;
}

/* The sgemm calls of one W1 training step (forward, dW, dX), timed alone:
 * the BLAS ceiling for this workload. */
static double sgemm_step_gflops(int B, int H, int L, int E)
{
    size_t big = (size_t)B * (size_t)H;
    float *a = malloc(4 * big), *b = malloc(4 * (size_t)H * (size_t)H), *c = malloc(4 * big);
    for (size_t i = 0; i < big; i++)
        a[i] = c[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)H * (size_t)H; i++)
        b[i] = (float)(i % 5) * 0.1f;
    double t[16];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (int rep = 0; rep < 10; rep++)
            for (int l = 0; l <= L; l++) {
                int in = l == 0 ? D + E : H, out = l == L ? D : H;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in, 1, a, in, b, in,
                            1, c, out); /* forward */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B, 1, c, out, a, in,
                            0, b, in); /* dW */
                if (l > 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out, 1, c, out,
                                b, in, 0, a, in); /* dX */
            }
        t[r] = (now() - t0) / 10;
    }
    free(a);
    free(b);
    free(c);
    return step_flops(B, H, L, E) / median(t, RUNS) / 1e9;
}

/* Peak resident memory of a W1 training run, in a child process. */
static double train_peak_rss_mb(long steps)
{
    pid_t pid = fork();
    if (pid == 0) {
        cem_model_t *m;
        cem_trainer_t *tr = w1_trainer(&m, 1024, 256);
        int st = cem_trainer_run(tr, steps, NULL);
        _exit(st != CEM_OK);
    }
    int status;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
        die("training child");
    return ru.ru_maxrss / 1024.0;
}

/* The ceiling with OpenBLAS's own choice of kernels: OPENBLAS_CORETYPE, when
 * the environment sets it, is read once when OpenBLAS loads, so this runs
 * the program again without it (`bench --ceiling T` prints the figure).
 * Returns 0 when the variable is not set (nothing else to measure). */
static double ceiling_autodetected(int threads)
{
    if (!getenv("OPENBLAS_CORETYPE"))
        return 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE /proc/%ld/exe --ceiling %d %d",
             (long)getpid(), threads, RUNS);
    FILE *f = popen(cmd, "r");
    double g = 0;
    if (!f || fscanf(f, "%lf", &g) != 1)
        g = 0;
    if (f)
        pclose(f);
    return g;
}

/* Least-squares slope of log y against log x. */
static double loglog_slope(const double *x, const double *y, int n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        double lx = log(x[i]), ly = log(y[i]);
        sx += lx; sy += ly; sxx += lx * lx; sxy += lx * ly;
    }
    return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

static int quick;

static void print_config(void)
{
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("{\"workload\": \"W1\", \"figure\": \"config\", \"library\": \"%s\", \"flops_per_step\": %.0f, "
           "\"flops_per_row_eval\": %.0f, \"runs\": %d, \"cores\": %ld}\n", cem_version_string(),
           step_flops(1024, 256, 3, 32), row_eval_flops(256, 3, 32), RUNS, cores);
    const int peak_threads = cores < 1 ? 1 : cores > 8 ? 8 : (int)cores;
    const double peak1 = fma_peak_gflops(1), peak_all = fma_peak_gflops(peak_threads);
    printf("{\"workload\": \"W1\", \"figure\": \"fma_peak\", \"vector_floats\": %d, "
           "\"gflops_1_thread\": %.1f, \"threads\": %d, \"gflops_all\": %.1f}\n", fma_lanes(),
           peak1, peak_threads, peak_all);
    fflush(stdout);
}

/* W1 training on 1 and 2 threads; with_ceiling: and the OpenBLAS sgemm
 * ceiling on the same shapes after it */
static void print_train(int with_ceiling)
{
    const double flops = step_flops(1024, 256, 3, 32);
    /* the library first: OpenBLAS's threads keep spinning for a while after
     * a threaded call and would take the second core from it */
    double sec[2];
    train_seconds_1_2(TRAIN_STEPS, sec);
    for (int threads = 1; threads <= 2; threads++) {
        double s = sec[threads - 1];
        printf("{\"workload\": \"W1\", \"figure\": \"train\", \"threads\": %d, "
               "\"steps_per_s\": %.1f, \"rows_per_s\": %.0f, \"gflops\": %.1f", threads, 1 / s,
               1024 / s, flops / s / 1e9);
        if (with_ceiling) {
            openblas_set_num_threads(threads);
            double env_ceiling = sgemm_step_gflops(1024, 256, 3, 32);
            openblas_set_num_threads(1);
            settle();
            double auto_ceiling = ceiling_autodetected(threads);
            settle();
            double ceiling = env_ceiling > auto_ceiling ? env_ceiling : auto_ceiling;
            const char *ct = getenv("OPENBLAS_CORETYPE");
            printf(", \"sgemm_gflops_same_shapes\": %.1f, \"fraction_of_ceiling\": %.3f, "
                   "\"sgemm_gflops_env\": %.1f, \"openblas_coretype_env\": \"%s\", "
                   "\"sgemm_gflops_autodetected\": %.1f", ceiling, flops / s / 1e9 / ceiling,
                   env_ceiling, ct ? ct : "", auto_ceiling);
        }
        printf("}\n");
        fflush(stdout);
    }
}

/* Median seconds of one W1 sampling run of a single row (row 4097, inside
 * a 256-row block), one thread. */
static double one_row_seconds(void)
{
    cem_model_t *m;
    cem_sampler_t *s;
    float out[D];
    if (cem_model_create_mlp(&m, D, CEM_TARGET_CEM) || cem_sampler_create(&s, m) ||
        cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, CEM_INTEG_ANCESTRAL) ||
        cem_sampler_set(s, CEM_SAMPLER_STEPS, 100) || cem_sampler_set(s, CEM_SAMPLER_DENOISE, 0) ||
        cem_sampler_set(s, CEM_SAMPLER_THREADS, 1) || cem_sampler_run_rows(s, 4097, 1, out))
        die("W1 one-row sampler");
    enum { REPS = 64 };
    double t[REPS];
    for (int r = 0; r < REPS; r++) {
        double t0 = now();
        if (cem_sampler_run_rows(s, 4097, 1, out))
            die("cem_sampler_run_rows");
        t[r] = now() - t0;
    }
    cem_sampler_free(s);
    cem_model_free(m);
    return median(t, REPS);
}

static void print_sample(void)
{
    double per_row = 0;
    for (int threads = 1; threads <= 2; threads++) {
        size_t n = quick ? 2000 : 10000;
        double s = sample_seconds(n, threads);
        printf("{\"workload\": \"W1\", \"figure\": \"sample\", \"sampler_threads\": %d, "
               "\"row_evals_per_s\": %.0f}\n", threads,
               (double)n * 99 / s);
        fflush(stdout);
        if (threads == 1)
            per_row = s / (double)n;
    }
    /* a row asked for alone costs about a row's share of a bulk run (the
     * sampler integrates only the rows asked for) */
    double one = one_row_seconds();
    printf("{\"workload\": \"W1\", \"figure\": \"sample_one_row\", \"seconds\": %.6f, "
           "\"bulk_seconds_per_row\": %.6f, \"ratio\": %.2f}\n", one, per_row, one / per_row);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--ceiling")) { /* see ceiling_autodetected */
        openblas_set_num_threads(atoi(argv[2]));
        RUNS = atoi(argv[3]);
        printf("%.3f\n", sgemm_step_gflops(1024, 256, 3, 32));
        return 0;
    }
    int w1_only = 0;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--quick"))
            quick = 1;
        else if (!strcmp(argv[a], "--w1"))
            w1_only = 1;
        else {
            fprintf(stderr, "usage: bench [--quick] [--w1]\n");
            return 2;
        }
    }
    if (quick) {
        RUNS = 3;
        TRAIN_STEPS = 10;
    }
    cem_dataset_t *circle;
    if (cem_dataset_create(&circle, CEM_DATA_CIRCLE, D, 1) ||
        cem_dataset_sample(circle, NDATA, 1, data))
        die("data");
    cem_dataset_free(circle);
    print_config();
    print_train(!w1_only);
    print_sample();
    if (w1_only)
        return 0;
    THREADS = 2;
    printf("{\"workload\": \"W1\", \"figure\": \"train_memory\", \"peak_rss_mb\": %.1f}\n",
           train_peak_rss_mb(quick ? 5 : 50));
    /* scaling: cost of a step against batch and width, and of sampling against n */
    const int batches[] = {64, 256, 1024, 4096, 8192}, widths[] = {64, 128, 256, 512, 1024};
    double x[5], y[5];
    for (int k = 0; k < 5; k++) {
        x[k] = batches[k];
        y[k] = train_seconds(batches[k], 256, quick ? 3 : 10);
        printf("{\"workload\": \"W1\", \"figure\": \"scale_batch\", \"batch\": %d, "
               "\"ms_per_step\": %.3f}\n", batches[k], 1e3 * y[k]);
        fflush(stdout);
    }
    printf("{\"workload\": \"W1\", \"figure\": \"scale_batch_exponent\", \"value\": %.3f}\n",
           loglog_slope(x + 2, y + 2, 3));
    for (int k = 0; k < 5; k++) {
        x[k] = widths[k];
        y[k] = train_seconds(1024, widths[k], quick ? 3 : 10);
        printf("{\"workload\": \"W1\", \"figure\": \"scale_width\", \"width\": %d, "
               "\"ms_per_step\": %.3f, \"gflops\": %.1f}\n", widths[k], 1e3 * y[k],
               step_flops(1024, widths[k], 3, 32) / y[k] / 1e9);
        fflush(stdout);
    }
    printf("{\"workload\": \"W1\", \"figure\": \"scale_width_exponent\", \"value\": %.3f, "
           "\"note\": \"FLOPs grow like width^2 for width >> 34\"}\n", loglog_slope(x + 2, y + 2, 3));
    const size_t ns[] = {1000, 4000, 16000};
    for (int k = 0; k < 3; k++) {
        x[k] = (double)ns[k];
        y[k] = sample_seconds(ns[k], 1);
        printf("{\"workload\": \"W1\", \"figure\": \"scale_samples\", \"n\": %zu, \"seconds\": %.3f}\n",
               ns[k], y[k]);
        fflush(stdout);
    }
    printf("{\"workload\": \"W1\", \"figure\": \"scale_samples_exponent\", \"value\": %.3f}\n",
           loglog_slope(x, y, 3));
    return 0;
}
