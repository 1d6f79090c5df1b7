/*
 * replay.c -- runs a fuzz target's LLVMFuzzerTestOneInput on every file of
 * the directories (or the files) named on the command line, without
 * libFuzzer: `make check` links it with each target (gcc, the normal static
 * library) to replay the committed corpus and every past crash input.
 *
 *   replay PATH...      each PATH a directory (its files, in name order,
 *                       names starting with '.' skipped) or a file
 *
 * Prints how many inputs each PATH gave.  Fails (exit 1) when a PATH is
 * missing or unreadable, or a directory holds no input, so that a replay
 * never silently tests nothing; a target that aborts (a broken invariant)
 * or crashes ends the process with its signal, after the input's name is
 * printed.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static char current[4096]; /* the input being run, for the signal handler */

static void on_signal(int sig)
{
    static const char head[] = "replay: failed on input ";
    if (write(2, head, sizeof head - 1) < 0 || write(2, current, strlen(current)) < 0 ||
        write(2, "\n", 1) < 0) {
        /* nothing more to say */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Runs the target on the file at path; 0 on success, -1 when unreadable. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            fprintf(stderr, "replay: out of memory for %s\n", path);
            return -1;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *bigger = realloc(buf, 2 * cap);
        if (!bigger)
            free(buf);
        buf = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    /* an exact-size copy, so that ASan sees a read past the input's end */
    uint8_t *input = malloc(n ? n : 1);
    if (!input) {
        free(buf);
        return -1;
    }
    memcpy(input, buf, n);
    free(buf);
    snprintf(current, sizeof current, "%s", path);
    LLVMFuzzerTestOneInput(input, n);
    free(input);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every input of dir; the number run, or -1. */
static long run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open directory %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    long run = 0;
    struct dirent *e;
    while (run == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            char **more = realloc(names, cap * sizeof *names);
            if (!more) {
                run = -1;
                break;
            }
            names = more;
        }
        names[count] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (!names[count]) {
            run = -1;
            break;
        }
        sprintf(names[count], "%s/%s", dir, e->d_name);
        count++;
    }
    closedir(d);
    if (run < 0)
        fprintf(stderr, "replay: out of memory listing %s\n", dir);
    if (count)
        qsort(names, count, sizeof *names, by_name);
    for (size_t k = 0; k < count; k++) {
        struct stat st;
        if (run >= 0) {
            if (stat(names[k], &st) != 0 || !S_ISREG(st.st_mode)) {
                fprintf(stderr, "replay: %s is not a regular file\n", names[k]);
                run = -1;
            } else if (run_file(names[k]) != 0) {
                run = -1;
            } else {
                run++;
            }
        }
        free(names[k]);
    }
    free(names);
    return run;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
        return 1;
    }
    signal(SIGABRT, on_signal);
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    signal(SIGFPE, on_signal);
    long total = 0;
    int failed = 0;
    for (int k = 1; k < argc; k++) {
        struct stat st;
        long n;
        if (stat(argv[k], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[k], strerror(errno));
            n = -1;
        } else if (S_ISDIR(st.st_mode)) {
            n = run_dir(argv[k]);
        } else {
            n = run_file(argv[k]) == 0 ? 1 : -1;
        }
        if (n == 0)
            fprintf(stderr, "replay: %s holds no input\n", argv[k]);
        if (n <= 0) {
            failed = 1;
            continue;
        }
        printf("replay: %s: %ld input%s\n", argv[k], n, n == 1 ? "" : "s");
        total += n;
    }
    printf("replay: %ld input%s, %s\n", total, total == 1 ? "" : "s",
           failed ? "FAILED" : "all passed");
    return failed;
}
