/*
 * check_main.c -- runs every Check suite; prints Check's summary line and
 * exits non-zero on any failure.
 */
#include "tests.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
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
void *__real_cemi_realloc(void *p, size_t n, size_t size);
void *__wrap_cemi_alloc(size_t n, size_t size);
void *__wrap_cemi_calloc(size_t n, size_t size);
void *__wrap_cemi_realloc(void *p, size_t n, size_t size);
FILE *__real_fdopen(int fd, const char *mode);
FILE *__wrap_fdopen(int fd, const char *mode);
ssize_t __real_getline(char **line, size_t *cap, FILE *f);
ssize_t __wrap_getline(char **line, size_t *cap, FILE *f);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg);

static atomic_long alloc_calls, alloc_libc_calls, alloc_fail_at;

void test_alloc_fail(long k)
{
    atomic_store(&alloc_calls, 0);
    atomic_store(&alloc_libc_calls, 0);
    atomic_store(&alloc_fail_at, k);
}

long test_alloc_calls(void) { return atomic_load(&alloc_calls); }
long test_alloc_libc_calls(void) { return atomic_load(&alloc_libc_calls); }

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

void *__wrap_cemi_realloc(void *p, size_t n, size_t size)
{
    return alloc_fails() ? NULL : __real_cemi_realloc(p, n, size);
}

/* The C library's calls that allocate for the library: a FILE (fdopen),
 * a line buffer (getline) and a thread's stack (pthread_create); failed
 * as they fail when memory runs out. */
static int libc_alloc_fails(void)
{
    atomic_fetch_add(&alloc_libc_calls, 1);
    return alloc_fails();
}

FILE *__wrap_fdopen(int fd, const char *mode)
{
    if (libc_alloc_fails()) {
        errno = ENOMEM;
        return NULL;
    }
    return __real_fdopen(fd, mode);
}

ssize_t __wrap_getline(char **line, size_t *cap, FILE *f)
{
    if (libc_alloc_fails()) {
        errno = ENOMEM;
        return -1;
    }
    return __real_getline(line, cap, f);
}

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                          void *arg)
{
    return libc_alloc_fails() ? EAGAIN : __real_pthread_create(t, attr, fn, arg);
}

/* The calls on the library's write path, seen through --wrap (tests.h). */
int __real_mkstemp(char *tmpl);
int __wrap_mkstemp(char *tmpl);
size_t __real_fwrite(const void *p, size_t size, size_t n, FILE *f);
size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *f);
int __wrap_fprintf(FILE *f, const char *fmt, ...);
int __real_putc(int c, FILE *f);
int __wrap_putc(int c, FILE *f);
int __real_fflush(FILE *f);
int __wrap_fflush(FILE *f);
int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __real_fclose(FILE *f);
int __wrap_fclose(FILE *f);
int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);

static atomic_long io_calls, io_fail_at;
static const char *_Atomic io_failed;

void test_io_fail(long k)
{
    atomic_store(&io_calls, 0);
    atomic_store(&io_fail_at, k);
    atomic_store(&io_failed, NULL);
}

long test_io_calls(void) { return atomic_load(&io_calls); }
const char *test_io_failed_call(void) { return atomic_load(&io_failed); }

/* Counts a call; when it is the chosen one, records its name, sets errno
 * and says so. */
static int io_fails(const char *name, int err)
{
    long k = atomic_fetch_add(&io_calls, 1) + 1;
    if (k != atomic_load(&io_fail_at))
        return 0;
    atomic_store(&io_failed, name);
    errno = err;
    return 1;
}

int __wrap_mkstemp(char *tmpl)
{
    return io_fails("mkstemp", ENOSPC) ? -1 : __real_mkstemp(tmpl);
}

size_t __wrap_fwrite(const void *p, size_t size, size_t n, FILE *f)
{
    return io_fails("fwrite", ENOSPC) ? 0 : __real_fwrite(p, size, n, f);
}

int __wrap_fprintf(FILE *f, const char *fmt, ...)
{
    if (io_fails("fprintf", ENOSPC))
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

int __wrap_putc(int c, FILE *f) { return io_fails("putc", ENOSPC) ? EOF : __real_putc(c, f); }
int __wrap_fflush(FILE *f) { return io_fails("fflush", ENOSPC) ? EOF : __real_fflush(f); }
int __wrap_fsync(int fd) { return io_fails("fsync", EIO) ? -1 : __real_fsync(fd); }

/* A failed fclose still releases the stream (POSIX: any further access is
 * undefined), as the real one does when its last write fails. */
int __wrap_fclose(FILE *f)
{
    if (!io_fails("fclose", ENOSPC))
        return __real_fclose(f);
    __real_fclose(f);
    errno = ENOSPC;
    return EOF;
}

int __wrap_rename(const char *from, const char *to)
{
    return io_fails("rename", ENOSPC) ? -1 : __real_rename(from, to);
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

cem_trainer_t *test_trainer_on(cem_model_t *m, const float *data, size_t n, int dim,
                               int batch)
{
    cem_trainer_t *tr = NULL;
    ck_assert_int_eq(cem_trainer_create(&tr, m, data, n, dim), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_THREADS, 1), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_BATCH, batch), CEM_OK);
    ck_assert_int_eq(cem_trainer_set(tr, CEM_TRAINER_SEED, 5), CEM_OK);
    return tr;
}

cem_sampler_t *test_sampler_on(cem_model_t *m, int steps)
{
    cem_sampler_t *s = NULL;
    ck_assert_int_eq(cem_sampler_create(&s, m), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_THREADS, 1), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_STEPS, steps), CEM_OK);
    ck_assert_int_eq(cem_sampler_set(s, CEM_SAMPLER_SEED, 7), CEM_OK);
    return s;
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
    srunner_add_suite(sr, suite_flow());
    srunner_add_suite(sr, suite_labels());
    srunner_add_suite(sr, suite_impute());
    srunner_add_suite(sr, suite_parallel());
    srunner_add_suite(sr, suite_metrics());
    srunner_add_suite(sr, suite_quality());
    srunner_add_suite(sr, suite_threads());
    srunner_add_suite(sr, suite_faults());
    srunner_add_suite(sr, suite_badinput());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
