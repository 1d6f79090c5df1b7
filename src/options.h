/*
 * options.h -- layer 1: enum-keyed options with bounds (zstd's
 * ZSTD_cParam_getBounds pattern).  Each handle type keeps a constant table.
 */
#ifndef CEM_OPTIONS_H
#define CEM_OPTIONS_H

#include "base.h"

typedef struct {
    int id;
    const char *name; /* as spelled in cemdiff.h, e.g. "CEM_MODEL_T_MIN" */
    double lo, hi;    /* inclusive bounds */
    double def;       /* default value */
    int integer;      /* 1 when the value must be a whole number */
} cemi_option;

/* The entry with `id` in a table ended by an entry with name NULL, or NULL. */
const cemi_option *cemi_option_find(const cemi_option *table, int id);

/* Checks `value` against `o`; on failure records a message naming the
 * function, the option and its bounds and returns CEM_ERR_RANGE. */
int cemi_option_check(cemi_errbuf *err, const char *fn, const cemi_option *o,
                      double value);

/* The entry of option `id` in table, for a setter (value != NULL: checked
 * too) or a getter (value NULL).  On failure records the message on err and
 * returns CEM_ERR_ARG (unknown option) or CEM_ERR_RANGE. */
int cemi_option_resolve(cemi_errbuf *err, const char *fn, const cemi_option *table,
                        int id, const double *value, const cemi_option **out);

/* cem_*_option_bounds for one table. */
int cemi_option_bounds(const char *fn, const cemi_option *table, int id,
                       double *lo, double *hi);

#endif /* CEM_OPTIONS_H */
