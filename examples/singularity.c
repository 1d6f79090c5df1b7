/*
 * singularity.c -- the paper's point in one screen.  The exact model of a
 * circle (2,000 points on it) is asked for f, eps and S at points 0.1 and
 * 0.3 off the circle, for t from 1 down to 1e-4.  |S| grows like d/t and
 * |eps| like d/sqrt(t), while |f| stays bounded: the fitted log-log slopes
 * are printed next to the theory's -1, -1/2 and 0.
 */
#include <cemdiff.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define NT 9

static int fail(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, cem_last_error());
    return 1;
}

int main(void)
{
    enum { n = 2000 };
    static float data[n * 2];
    cem_dataset_t *circle = NULL;
    cem_model_t *model = NULL;
    if (cem_dataset_create(&circle, CEM_DATA_CIRCLE, 2, 1) != CEM_OK)
        return fail("cem_dataset_create");
    if (cem_dataset_sample(circle, n, 7, data) != CEM_OK)
        return fail("cem_dataset_sample");
    if (cem_model_create_empirical(&model, data, n, 2) != CEM_OK)
        return fail("cem_model_create_empirical");

    const double offsets[2] = {0.1, 0.3};
    for (int o = 0; o < 2; o++) {
        /* a point at distance d outside the circle, between data angles */
        float x[2] = {(float)((1 + offsets[o]) * cos(0.3)), (float)((1 + offsets[o]) * sin(0.3))};
        double dist;
        cem_dataset_distance(circle, 1, x, &dist);
        printf("point at distance %.3f from the circle\n", dist);
        printf("%10s %12s %12s %12s\n", "t", "|f|", "|eps|", "|S|");
        double lt[NT], ln[3][NT];
        for (int k = 0; k < NT; k++) {
            double t = pow(10.0, -0.5 * k);
            lt[k] = log(t);
            printf("%10.1e", t);
            for (int what = 0; what < 3; what++) {
                float v[2];
                if (cem_model_eval_at(model, (cem_target)what, 1, x, t, v) != CEM_OK)
                    return fail("cem_model_eval_at");
                double norm = hypot(v[0], v[1]);
                ln[what][k] = log(norm);
                printf(" %12.5g", norm);
            }
            printf("\n");
        }
        /* least-squares slope of log|.| against log t over the 5 smallest t */
        printf("log-log slope over t <= 1e-2:");
        const char *names[3] = {"f", "eps", "S"};
        const double theory[3] = {0.0, -0.5, -1.0};
        for (int what = 0; what < 3; what++) {
            double sx = 0, sy = 0, sxx = 0, sxy = 0;
            int m = 0;
            for (int k = 4; k < NT; k++, m++) {
                sx += lt[k]; sy += ln[what][k];
                sxx += lt[k] * lt[k]; sxy += lt[k] * ln[what][k];
            }
            double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
            printf("  %s %+.3f (theory %+.1f)", names[what], slope, theory[what]);
        }
        printf("\n\n");
    }
    cem_model_free(model);
    cem_dataset_free(circle);
    return 0;
}
