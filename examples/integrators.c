/*
 * integrators.c -- trains a small CEM model on the circle through the
 * public API only, then samples 10,000 points with each integrator and
 * prints their mean distance to the circle.
 *
 *   integrators [steps]      (default 4000 training steps)
 *
 * 4,000 steps is the budget of shared/MATH.md section 9; at 1,500 steps the
 * network (this one, and the same network in PyTorch) has not yet learned
 * f at small t and the samples stay ~0.3 off the circle.
 *
 * Exits non-zero if a call fails or a sampler misses the circle badly
 * (mean distance above 0.1), so it doubles as a smoke test.
 */
#include <cemdiff.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                          \
    do {                                                                     \
        int st_ = (call);                                                    \
        if (st_ != CEM_OK) {                                                 \
            fprintf(stderr, "%s failed: %s\n", #call, cem_last_error());     \
            return 1;                                                        \
        }                                                                    \
    } while (0)

enum { NDATA = 10000, NSAMPLE = 10000, D = 2 };

static int progress(long step, double loss, void *user)
{
    long total = *(long *)user;
    if (step % 500 == 0 || step == total)
        fprintf(stderr, "  step %5ld / %ld  loss %.4f\n", step, total, loss);
    return 0;
}

static int report(const char *name, cem_model_t *model, cem_integrator integ,
                  const cem_dataset_t *circle, float *out, double *dist)
{
    cem_sampler_t *s = NULL;
    CHECK(cem_sampler_create(&s, model));
    CHECK(cem_sampler_set(s, CEM_SAMPLER_INTEGRATOR, integ));
    CHECK(cem_sampler_set(s, CEM_SAMPLER_THREADS, 2));
    CHECK(cem_sampler_run(s, NSAMPLE, out));
    cem_sampler_free(s);
    CHECK(cem_dataset_distance(circle, NSAMPLE, out, dist));
    double mean = 0;
    for (int i = 0; i < NSAMPLE; i++)
        mean += dist[i] / NSAMPLE;
    printf("  %-10s mean distance to the circle %.4f\n", name, mean);
    return mean > 0.1;
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? atol(argv[1]) : 4000;
    static float data[NDATA * D], out[NSAMPLE * D];
    static double dist[NSAMPLE];
    cem_dataset_t *circle = NULL;
    cem_model_t *net = NULL;
    cem_trainer_t *tr = NULL;

    CHECK(cem_dataset_create(&circle, CEM_DATA_CIRCLE, D, 1));
    CHECK(cem_dataset_sample(circle, NDATA, 2, data));

    /* the default network (3 x 256), the paper's target, weight and time
     * grid, Adam 1e-3 */
    CHECK(cem_model_create_mlp(&net, D, CEM_TARGET_CEM));
    CHECK(cem_trainer_create(&tr, net, data, NDATA, D));
    CHECK(cem_trainer_set_progress(tr, progress, &steps));
    fprintf(stderr, "training a 3 x 256 CEM network on the circle, %ld steps\n", steps);
    double loss;
    CHECK(cem_trainer_run(tr, steps, &loss));
    cem_trainer_free(tr);

    int bad = 0;
    printf("learned CEM model (%ld steps), 10,000 samples, 200-point exponential grid, t_1 = 1e-3:\n",
           steps);
    for (int k = CEM_INTEG_SPLITTING; k <= CEM_INTEG_HEUN; k++)
        bad |= report(cem_integrator_name((cem_integrator)k), net, (cem_integrator)k, circle, out, dist);
    cem_model_free(net);
    cem_dataset_free(circle);
    return bad;
}
