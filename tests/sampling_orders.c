/*
 * sampling_orders.c -- the tables and the figure of docs/SAMPLING.md's
 * section on orders (make sampling-orders), from the same computations as
 * the sampler suite's order tests (tests/gauss_law.c):
 *   - the weak error of every integrator on Gaussian data (exact moment
 *     propagation) against the step count, on the exponential grid, and the
 *     measured order;
 *   - the few-step methods at 10 and 20 steps on the three grids;
 *   - the library's own deterministic paths against the exact flow.
 * Writes markdown to stdout and the figure's data to argv[1].
 */
#include "gauss_law.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const int MS[] = {5, 10, 20, 40, 80, 160};
enum { NM = sizeof MS / sizeof MS[0] };

static const char *name(int integ)
{
    return integ == GAUSS_3M_PUBLISHED ? "dpmpp_3m as published" : cem_integrator_name(integ);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: sampling_orders DATA_FILE > table.md\n");
        return 2;
    }
    FILE *dat = fopen(argv[1], "w");
    if (!dat) {
        perror(argv[1]);
        return 1;
    }
    float mu[2], cov[4];
    setup_gaussian(mu, cov);
    int ids[16], n = 0;
    for (int k = 0; cem_integrator_name((cem_integrator)k); k++)
        ids[n++] = k;
    ids[n++] = GAUSS_3M_PUBLISHED;

    printf("Weak error on the exponential grid (|mean error| + |variance error| of y(t_1), "
           "both directions, from the exact p_T; t_1 = 1e-3, T = 10):\n\n| integrator |");
    for (int i = 0; i < NM; i++)
        printf(" M = %d |", MS[i]);
    printf(" measured order (M) | theory |\n|---|");
    for (int i = 0; i < NM; i++)
        printf("---|");
    printf("---|---|\n");
    fprintf(dat, "M"); /* a header row for gnuplot's columnhead: names without spaces */
    for (int a = 0; a < n; a++)
        fprintf(dat, " %s", ids[a] == GAUSS_3M_PUBLISHED ? "dpmpp_3m_published" : name(ids[a]));
    fprintf(dat, "\n");
    double err[16][NM];
    for (int a = 0; a < n; a++) {
        printf("| %s |", name(ids[a]));
        for (int i = 0; i < NM; i++) {
            err[a][i] = gauss_weak_error(ids[a], CEM_GRID_EXPONENTIAL, MS[i]);
            printf(" %.2e |", err[a][i]);
        }
        double M[4], e[4], order = gauss_weak_order(ids[a], CEM_GRID_EXPONENTIAL, M, e);
        printf(" %.2f (%g-%g) | %d |\n", order, M[0], M[3],
               ids[a] == GAUSS_3M_PUBLISHED ? 3 : gauss_theory_order(ids[a]));
    }
    for (int i = 0; i < NM; i++) {
        fprintf(dat, "%d", MS[i]);
        for (int a = 0; a < n; a++)
            fprintf(dat, " %.6e", err[a][i]);
        fprintf(dat, "\n");
    }
    if (fclose(dat) != 0) {
        perror(argv[1]);
        return 1;
    }

    printf("\nThe few-step methods on the three grids, weak error at M = 10 and 20 steps "
           "(10 and 20 model evaluations, Heun 20 and 40):\n\n"
           "| integrator | exponential 10 | exponential 20 | logsnr 10 | logsnr 20 | edm 10 | "
           "edm 20 |\n|---|---|---|---|---|---|---|\n");
    const int few[] = {CEM_INTEG_ODE, CEM_INTEG_HEUN, CEM_INTEG_DPMPP_2M, CEM_INTEG_DPMPP_2M_SDE,
                       CEM_INTEG_DPMPP_3M};
    const cem_grid grids[] = {CEM_GRID_EXPONENTIAL, CEM_GRID_LOGSNR, CEM_GRID_EDM};
    for (size_t a = 0; a < sizeof few / sizeof *few; a++) {
        printf("| %s |", name(few[a]));
        for (int g = 0; g < 3; g++)
            for (int M = 10; M <= 20; M += 10)
                printf(" %.2e |", gauss_weak_error(few[a], grids[g], M));
        printf("\n");
    }

    cem_model_t *m;
    if (cem_model_create_gaussian(&m, mu, cov, 2) != CEM_OK) {
        fprintf(stderr, "sampling_orders: %s\n", cem_last_error());
        return 1;
    }
    printf("\nThe library's own paths (float), deterministic methods: the largest error of "
           "y(t_1) over 64 rows against the exact flow from the same y(T), exponential "
           "grid:\n\n| integrator |");
    for (int i = 0; i < NM; i++)
        printf(" M = %d |", MS[i]);
    printf(" measured order (M) |\n|---|");
    for (int i = 0; i < NM; i++)
        printf("---|");
    printf("---|\n");
    const int det[] = {CEM_INTEG_ODE, CEM_INTEG_HEUN, CEM_INTEG_DPMPP_2M, CEM_INTEG_DPMPP_3M};
    for (size_t a = 0; a < sizeof det / sizeof *det; a++) {
        printf("| %s |", name(det[a]));
        for (int i = 0; i < NM; i++)
            printf(" %.2e |", gauss_flow_error(m, det[a], CEM_GRID_EXPONENTIAL, MS[i]));
        double M[4], e[4];
        for (int i = 0; i < 4; i++) {
            M[i] = gauss_order_m0(det[a]) << i;
            e[i] = gauss_flow_error(m, det[a], CEM_GRID_EXPONENTIAL, (int)M[i]);
        }
        printf(" %.2f (%g-%g) |\n", -gauss_loglog_slope(M, e, 4), M[0], M[3]);
    }
    cem_model_free(m);
    return 0;
}
