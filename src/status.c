/*
 * status.c -- version, status strings and error messages (layer 1).
 */
#include "base.h"

#include <stdio.h>
#include <string.h>

#define CEMI_STR2(x) #x
#define CEMI_STR(x) CEMI_STR2(x)

unsigned cem_version_number(void) { return CEM_VERSION_NUMBER; }

const char *cem_version_string(void)
{
    return CEMI_STR(CEM_VERSION_MAJOR) "." CEMI_STR(CEM_VERSION_MINOR) "."
        CEMI_STR(CEM_VERSION_PATCH);
}

const char *cem_status_string(int status)
{
    switch (status) {
    case CEM_OK: return "success";
    case CEM_ERR_ARG: return "invalid argument";
    case CEM_ERR_NOMEM: return "out of memory";
    case CEM_ERR_RANGE: return "option value out of range";
    case CEM_ERR_NONFINITE: return "non-finite value (NaN or Inf) in input";
    case CEM_ERR_UNSUPPORTED: return "operation not supported by this handle";
    case CEM_ERR_NUMERIC: return "numerical failure";
    case CEM_ERR_IO: return "input/output error";
    case CEM_ERR_PARSE: return "malformed input";
    case CEM_ERR_BUSY: return "handle in use (a trainer owns the model)";
    case CEM_ERR_NONFINITE_STEP: return "training step produced a non-finite loss or gradient";
    case CEM_ERR_BAD_MAGIC: return "not a libcemdiff checkpoint";
    case CEM_ERR_VERSION: return "unsupported checkpoint format version";
    case CEM_ERR_TRUNCATED: return "checkpoint is truncated";
    case CEM_ERR_CHECKSUM: return "checkpoint checksum mismatch";
    case CEM_ERR_CORRUPT: return "checkpoint has impossible fields or sizes";
    case CEM_ERR_DIVERGED: return "sampling produced non-finite values in some rows";
    case CEM_ERR_STOPPED: return "a progress callback stopped the run";
    case CEM_ERR_REDUCE: return "a data-parallel reduction callback failed";
    default: return "unknown status";
    }
}

static _Thread_local char tls_msg[CEMI_ERRMSG_LEN];

const char *cem_last_error(void) { return tls_msg; }

int cemi_fail(cemi_errbuf *handle, int status, const char *fmt, ...)
{
    /* formatted aside first: an argument may be this thread's last message
     * (a caller that adds context to a failure it called into) */
    char msg[sizeof tls_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(tls_msg, msg, sizeof msg);
    if (handle) /* only calls that modify the handle pass it: no other call runs on it */
        memcpy(handle->text, tls_msg, sizeof handle->text);
    return status;
}
