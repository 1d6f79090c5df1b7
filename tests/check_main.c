/*
 * check_main.c -- runs every Check suite; prints Check's summary line and
 * exits non-zero on any failure.
 */
#include "tests.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* the allocator seen through the linker's --wrap (tests.h) */
void *__real_cemi_alloc(size_t n, size_t size);
void *__real_cemi_calloc(size_t n, size_t size);
void *__wrap_cemi_alloc(size_t n, size_t size);
void *__wrap_cemi_calloc(size_t n, size_t size);

static atomic_long alloc_calls, alloc_fail_at;

void test_alloc_fail(long k)
{
    atomic_store(&alloc_calls, 0);
    atomic_store(&alloc_fail_at, k);
}

long test_alloc_calls(void) { return atomic_load(&alloc_calls); }

static int alloc_fails(void)
{
    long k = atomic_fetch_add(&alloc_calls, 1) + 1;
    return k == atomic_load(&alloc_fail_at);
}

void *__wrap_cemi_alloc(size_t n, size_t size)
{
    return alloc_fails() ? NULL : __real_cemi_alloc(n, size);
}

void *__wrap_cemi_calloc(size_t n, size_t size)
{
    return alloc_fails() ? NULL : __real_cemi_calloc(n, size);
}

static int stdout_saved = -1, stdout_file = -1;

void test_stdout_begin(void)
{
    fflush(stdout);
    stdout_file = open(test_tmp_path("stdout.txt"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    stdout_saved = dup(1);
    if (stdout_file >= 0 && stdout_saved >= 0)
        dup2(stdout_file, 1);
}

long test_stdout_end(void)
{
    fflush(stdout);
    long n = -1;
    struct stat st;
    if (stdout_file >= 0 && stdout_saved >= 0 && fstat(stdout_file, &st) == 0)
        n = (long)st.st_size;
    if (stdout_saved >= 0) {
        dup2(stdout_saved, 1);
        close(stdout_saved);
    }
    if (stdout_file >= 0)
        close(stdout_file);
    stdout_saved = stdout_file = -1;
    return n;
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
