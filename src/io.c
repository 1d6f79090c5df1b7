/*
 * io.c -- atomic file replacement, opening regular files, CRC-32 (layer 1).
 */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *cemi_open_regular(const char *path, const char *mode, const char *fn, int *status,
                        struct stat *st_out)
{
    if (!path) {
        *status = cemi_fail(NULL, CEM_ERR_ARG, "%s: path is NULL", fn);
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *status = cemi_fail(NULL, CEM_ERR_IO, "%s: cannot open '%s': %s", fn, path,
                            strerror(errno));
        return NULL;
    }
    struct stat st;
    int flags;
    FILE *f = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        *status = cemi_fail(NULL, CEM_ERR_IO, "%s: '%s' is not a regular file", fn, path);
    else if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
             !(f = fdopen(fd, mode)))
        *status = errno == ENOMEM /* fdopen's FILE */
                      ? cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory to open '%s'", fn, path)
                      : cemi_fail(NULL, CEM_ERR_IO, "%s: cannot open '%s': %s", fn, path,
                                  strerror(errno));
    if (!f) {
        close(fd);
        return NULL;
    }
    if (st_out)
        *st_out = st;
    return f;
}

/* Best effort: makes the rename durable by syncing the directory of `tmp`,
 * the temporary name (in the destination's directory), which it cuts at
 * its last slash: no allocation, so nothing here can fail for memory. */
static void sync_dir(char *tmp)
{
    char *slash = strrchr(tmp, '/');
    if (slash)
        slash[slash == tmp] = '\0'; /* "/x" -> "/", "d/x" -> "d" */
    int fd = open(slash ? tmp : ".", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int cemi_afile_open(cemi_afile *a, const char *path, const char *fn)
{
    a->f = NULL;
    a->tmp = NULL;
    a->path = path;
    if (!path || !*path)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: path is NULL or empty", fn);
    static const char suffix[] = ".tmpXXXXXX";
    size_t plen = strlen(path);
    a->tmp = cemi_alloc(plen + sizeof suffix, 1);
    if (!a->tmp)
        return cemi_fail(NULL, CEM_ERR_NOMEM, "%s: out of memory", fn);
    memcpy(a->tmp, path, plen);
    memcpy(a->tmp + plen, suffix, sizeof suffix);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        int e = errno;
        cemi_release(a->tmp);
        a->tmp = NULL;
        return cemi_fail(NULL, CEM_ERR_IO, "%s: cannot create a temporary file for '%s': %s",
                         fn, path, strerror(e));
    }
    /* mkstemp makes the file 0600: keep the mode of a file being replaced,
     * else give the usual 0644 (the umask cannot be read thread-safely). */
    struct stat st;
    mode_t mode = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (st.st_mode & 07777) : 0644;
    (void)fchmod(fd, mode);
    a->f = fdopen(fd, "w");
    if (!a->f) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        cemi_release(a->tmp);
        a->tmp = NULL;
        if (e == ENOMEM) /* fdopen's FILE */
            return cemi_fail(NULL, CEM_ERR_NOMEM,
                             "%s: out of memory to open a temporary file for '%s'", fn, path);
        return cemi_fail(NULL, CEM_ERR_IO, "%s: cannot open a temporary file for '%s': %s",
                         fn, path, strerror(e));
    }
    return CEM_OK;
}

static int finish(cemi_afile *a, const char *fn, const char *what, int e)
{
    unlink(a->tmp);
    cemi_release(a->tmp);
    a->tmp = NULL;
    a->f = NULL;
    return cemi_fail(NULL, CEM_ERR_IO, "%s: cannot %s '%s': %s", fn, what, a->path,
                     strerror(e ? e : EIO));
}

int cemi_afile_abort(cemi_afile *a, const char *fn)
{
    int e = errno;
    fclose(a->f);
    return finish(a, fn, "write", e);
}

int cemi_afile_commit(cemi_afile *a, const char *fn)
{
    if (fflush(a->f) != 0)
        return cemi_afile_abort(a, fn);
    if (fsync(fileno(a->f)) != 0) {
        int e = errno;
        fclose(a->f);
        return finish(a, fn, "sync", e);
    }
    if (fclose(a->f) != 0)
        return finish(a, fn, "close", errno);
    if (rename(a->tmp, a->path) != 0)
        return finish(a, fn, "rename the temporary file onto", errno);
    sync_dir(a->tmp);
    cemi_release(a->tmp);
    a->tmp = NULL;
    a->f = NULL;
    return CEM_OK;
}

uint32_t cemi_crc32(uint32_t crc, const void *buf, size_t size)
{
    static uint32_t table[256];
    static int ready; /* benign: every thread computes the same table */
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            __atomic_store_n(&table[i], c, __ATOMIC_RELAXED);
        }
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    const unsigned char *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < size; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
