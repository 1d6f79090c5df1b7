/*
 * io.h -- layer 1: files that are replaced whole or not at all, regular
 * files opened for reading, and CRC-32.
 *
 * An atomic file is written under a temporary name in the destination's
 * directory, flushed, fsync'ed and renamed over the destination, so a failed
 * or interrupted write never destroys the previous file.
 */
#ifndef CEM_IO_H
#define CEM_IO_H

#include "base.h"

#include <stdio.h>
#include <sys/stat.h>

typedef struct {
    FILE *f;          /* write here */
    char *tmp;        /* the temporary name */
    const char *path; /* the destination */
} cemi_afile;

/* Creates the temporary file for `path`.  On failure records a message
 * (prefixed with fn) and returns CEM_ERR_ARG, CEM_ERR_NOMEM or CEM_ERR_IO. */
int cemi_afile_open(cemi_afile *a, const char *path, const char *fn);

/* Flushes, syncs and renames the file into place; on failure removes the
 * temporary file, records a message and returns CEM_ERR_IO.  Either way the
 * handle is finished. */
int cemi_afile_commit(cemi_afile *a, const char *fn);

/* Abandons the write: closes and removes the temporary file, records a
 * message about the write error in errno and returns CEM_ERR_IO. */
int cemi_afile_abort(cemi_afile *a, const char *fn);

/* Opens `path` for reading ("r" or "rb") only if it is a regular file:
 * opened without blocking (a FIFO with no writer, a device), checked with
 * fstat, then made a blocking stream.  NULL on failure, having recorded a
 * message (prefixed with fn) and set *status to CEM_ERR_ARG (path NULL),
 * CEM_ERR_NOMEM (no memory for the stream) or CEM_ERR_IO.  st_out (may be NULL) receives the file's stat. */
FILE *cemi_open_regular(const char *path, const char *mode, const char *fn, int *status,
                        struct stat *st_out);

/* CRC-32 (IEEE 802.3, the polynomial of zlib and PNG) of buf, continuing
 * from crc (0 to start). */
uint32_t cemi_crc32(uint32_t crc, const void *buf, size_t size);

#endif /* CEM_IO_H */
