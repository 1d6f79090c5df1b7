/*
 * options.c -- option tables: lookup, bounds and checks (layer 1).
 */
#include "options.h"

#include <math.h>

const cemi_option *cemi_option_find(const cemi_option *table, int id)
{
    for (; table->name; table++)
        if (table->id == id)
            return table;
    return NULL;
}

int cemi_option_check(cemi_errbuf *err, const char *fn, const cemi_option *o,
                      double value)
{
    if (!(value >= o->lo && value <= o->hi)) /* also rejects NaN */
        return cemi_fail(err, CEM_ERR_RANGE, "%s: %s = %g is outside [%g, %g]",
                         fn, o->name, value, o->lo, o->hi);
    if (o->integer && value != floor(value))
        return cemi_fail(err, CEM_ERR_RANGE, "%s: %s = %g must be a whole number",
                         fn, o->name, value);
    return CEM_OK;
}

int cemi_option_bounds(const char *fn, const cemi_option *table, int id,
                       double *lo, double *hi)
{
    const cemi_option *o = cemi_option_find(table, id);
    if (!o)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: unknown option %d", fn, id);
    if (!lo || !hi)
        return cemi_fail(NULL, CEM_ERR_ARG, "%s: lo and hi must not be NULL", fn);
    *lo = o->lo;
    *hi = o->hi;
    return CEM_OK;
}

int cemi_option_resolve(cemi_errbuf *err, const char *fn, const cemi_option *table,
                        int id, const double *value, const cemi_option **out)
{
    const cemi_option *o = cemi_option_find(table, id);
    if (!o)
        return cemi_fail(err, CEM_ERR_ARG, "%s: unknown option %d", fn, id);
    *out = o;
    return value ? cemi_option_check(err, fn, o, *value) : CEM_OK;
}
