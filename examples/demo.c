/*
 * demo.c -- `make demo`: the library's main job in about a minute.
 *
 * Trains a CEM network on 10,000 points of the unit circle, samples 5,000
 * points with the paper's splitting sampler, and prints the metrics next to
 * those of the closed-form (exact) model of the data; writes the data and
 * both sample sets as CSV and a picture of them (PNG, gnuplot).
 *
 *   demo [OUTDIR] [steps]        (defaults: bin/demo-output, 4000)
 */
#define _POSIX_C_SOURCE 200809L
#include <cemdiff.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { NDATA = 10000, NSAMPLE = 5000, NEXACT = 1000, D = 2 };

#define CHECK(call)                                                          \
    do {                                                                     \
        if ((call) != CEM_OK) {                                              \
            fprintf(stderr, "demo: %s failed: %s\n", #call, cem_last_error()); \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    long total;
    double start;
} progress_state;

static int progress(long step, double loss, void *user)
{
    progress_state *p = user;
    int tty = isatty(2);
    if (step % (tty ? 250 : 1000) == 0 || step == p->total) {
        double rate = (double)step / (now() - p->start);
        fprintf(stderr, "%s  training: step %5ld / %ld   loss %7.4f   %5.0f steps/s   %3.0f s left%s",
                tty ? "\r" : "", step, p->total, loss, rate, (double)(p->total - step) / rate,
                tty && step != p->total ? " " : "\n");
    }
    return 0;
}

typedef struct {
    double mean, p95, max, ks, sw2, energy;
} metrics;

static metrics measure(const cem_dataset_t *circle, const float *x, const float *ref)
{
    metrics m;
    CHECK(cem_metric_distance(circle, NSAMPLE, x, &m.mean, &m.p95, &m.max));
    CHECK(cem_metric_ks(circle, NSAMPLE, x, &m.ks));
    CHECK(cem_metric_sliced_w2(NSAMPLE, x, NSAMPLE, ref, D, 256, 1, &m.sw2));
    CHECK(cem_metric_energy(2000, x, 2000, ref, D, &m.energy));
    return m;
}

static float *sample(cem_model_t *m)
{
    float *out = malloc(sizeof(float) * NSAMPLE * D);
    cem_sampler_t *s;
    CHECK(cem_sampler_create(&s, m)); /* splitting, 200-point exponential grid, t_1 = 1e-3 */
    CHECK(cem_sampler_set(s, CEM_SAMPLER_THREADS, 2));
    CHECK(cem_sampler_run(s, NSAMPLE, out));
    cem_sampler_free(s);
    return out;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "bin/demo-output";
    long steps = argc > 2 ? atol(argv[2]) : 4000;
    mkdir(dir, 0755);
    static float data[NDATA * D], ref[NSAMPLE * D];
    cem_dataset_t *circle;
    CHECK(cem_dataset_create(&circle, CEM_DATA_CIRCLE, D, 1));
    CHECK(cem_dataset_sample(circle, NDATA, 1, data));
    CHECK(cem_dataset_sample(circle, NSAMPLE, 2, ref)); /* fresh data, for the 2-sample metrics */

    printf("libcemdiff %s demo: the conditional expectation model on the unit circle\n\n",
           cem_version_string());
    cem_model_t *net, *exact;
    cem_trainer_t *tr;
    CHECK(cem_model_create_mlp(&net, D, CEM_TARGET_CEM)); /* 3 x 256 SiLU, 32 time features */
    CHECK(cem_trainer_create(&tr, net, data, NDATA, D));  /* Adam 1e-3, batch 1024, lambda */
    progress_state ps = {steps, now()};
    CHECK(cem_trainer_set_progress(tr, progress, &ps));
    fprintf(stderr, "  training a CEM network on %d points, %ld steps\n", NDATA, steps);
    double loss;
    CHECK(cem_trainer_run(tr, steps, &loss));
    double train_s = now() - ps.start;
    cem_trainer_free(tr);
    CHECK(cem_model_create_empirical(&exact, data, NEXACT, D));

    double t0 = now();
    float *learned = sample(net);
    double sample_s = now() - t0;
    float *closed = sample(exact);
    metrics a = measure(circle, learned, ref), b = measure(circle, closed, ref);

    printf("\n  %d samples each, splitting sampler, 200-point exponential grid, t_1 = 1e-3\n\n",
           NSAMPLE);
    printf("  %-34s %14s %14s\n", "metric", "learned CEM", "exact model");
    printf("  %-34s %14.4f %14.4f\n", "mean distance to the circle", a.mean, b.mean);
    printf("  %-34s %14.4f %14.4f\n", "95th percentile of the distance", a.p95, b.p95);
    printf("  %-34s %14.4f %14.4f\n", "largest distance", a.max, b.max);
    printf("  %-34s %14.4f %14.4f\n", "KS of the angle (uniform law)", a.ks, b.ks);
    printf("  %-34s %14.4f %14.4f\n", "sliced W2 to fresh data", a.sw2, b.sw2);
    printf("  %-34s %14.4f %14.4f\n", "energy distance to fresh data", a.energy, b.energy);
    printf("\n  (the exact model is the closed form f of %d of the data points: it memorises\n"
           "   them, so its samples sit on the circle but only at those points)\n", NEXACT);
    printf("\n  training %.1f s (%.0f steps/s), sampling %.2f s\n", train_s,
           (double)steps / train_s, sample_s);

    char path[1024];
    snprintf(path, sizeof path, "%s/data.csv", dir);
    CHECK(cem_csv_write(path, data, NDATA, D));
    snprintf(path, sizeof path, "%s/samples.csv", dir);
    CHECK(cem_csv_write(path, learned, NSAMPLE, D));
    snprintf(path, sizeof path, "%s/exact.csv", dir);
    CHECK(cem_csv_write(path, closed, NSAMPLE, D));
    snprintf(path, sizeof path, "%s/model.cem", dir);
    CHECK(cem_model_save(net, path));

    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "gnuplot -e \"set terminal pngcairo size 1000,500 font 'sans,11';"
             " set output '%s/circle.png'; set datafile separator ',';"
             " set multiplot layout 1,2; set size ratio -1; set xrange [-1.5:1.5]; set yrange [-1.5:1.5];"
             " set title 'learned CEM: %d samples';"
             " plot '%s/data.csv' every 5 w p pt 7 ps 0.3 lc rgb '#aaaaaa' t 'data',"
             " '%s/samples.csv' w p pt 7 ps 0.3 lc rgb '#d62728' t 'samples';"
             " set title 'exact model of %d points';"
             " plot '%s/data.csv' every 5 w p pt 7 ps 0.3 lc rgb '#aaaaaa' t 'data',"
             " '%s/exact.csv' w p pt 7 ps 0.3 lc rgb '#1f77b4' t 'samples';"
             " unset multiplot\"",
             dir, NSAMPLE, dir, dir, NEXACT, dir, dir);
    int plotted = system(cmd) == 0;
    printf("\n  wrote %s/{data,samples,exact}.csv, %s/model.cem%s%s%s\n", dir, dir,
           plotted ? " and " : "", plotted ? dir : "", plotted ? "/circle.png" : " (gnuplot failed: no picture)");
    free(learned);
    free(closed);
    cem_model_free(net);
    cem_model_free(exact);
    cem_dataset_free(circle);
    return 0;
}
