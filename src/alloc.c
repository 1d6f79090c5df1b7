/*
 * alloc.c -- checked allocation (layer 1).  Every size the library
 * allocates goes through an overflow-checked product.
 */
#include "base.h"

#include <math.h>
#include <stdlib.h>

int cemi_mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

void *cemi_alloc(size_t n, size_t size)
{
    size_t bytes;
    if (!cemi_mul_ok(n, size, &bytes))
        return NULL;
    return malloc(bytes ? bytes : 1);
}

void *cemi_calloc(size_t n, size_t size)
{
    size_t bytes;
    if (!cemi_mul_ok(n, size, &bytes))
        return NULL;
    return calloc(bytes ? n : 1, bytes ? size : 1);
}

void cemi_release(void *p) { free(p); }

void cem_free(void *ptr) { free(ptr); }

size_t cemi_first_nonfinite_f(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return n;
}
