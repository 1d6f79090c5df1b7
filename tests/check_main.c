/*
 * check_main.c -- runs every Check suite; prints Check's summary line and
 * exits non-zero on any failure.
 */
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

double test_rel_err(const double *a, const double *b, size_t n, double floor)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / fmax(fabs(b[i]), floor);
        if (!(d <= worst)) /* NaN counts as worst */
            worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

static char tmpdir[256];

const char *test_tmp_path(const char *name)
{
    static char path[512];
    if (!tmpdir[0]) {
        strcpy(tmpdir, "/tmp/cemdiff-test-XXXXXX");
        if (!mkdtemp(tmpdir))
            return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

int main(void)
{
    SRunner *sr = srunner_create(suite_base());
    srunner_add_suite(sr, suite_process());
    srunner_add_suite(sr, suite_models());
    srunner_add_suite(sr, suite_dataset());
    srunner_add_suite(sr, suite_csv());
    srunner_add_suite(sr, suite_nn());
    srunner_add_suite(sr, suite_trainer());
    srunner_add_suite(sr, suite_checkpoint());
    srunner_add_suite(sr, suite_sampler());
    srunner_add_suite(sr, suite_metrics());
    srunner_add_suite(sr, suite_quality());
    srunner_add_suite(sr, suite_threads());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
