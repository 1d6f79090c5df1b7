/*
 * alloc.c -- checked allocation (layer 1).  Every size the library
 * allocates goes through an overflow-checked product.
 */
#include "base.h"

#include <math.h>
#include <string.h>
#include <stdint.h>
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

void *cemi_realloc(void *p, size_t n, size_t size)
{
    size_t bytes;
    if (!cemi_mul_ok(n, size, &bytes))
        return NULL;
    return realloc(p, bytes ? bytes : 1);
}

void cemi_release(void *p) { free(p); }

void cem_free(void *ptr) { free(ptr); }

/* Chunks of 64 are tested by their exponent bits with no early exit, a
 * loop the compiler vectorises; the first bad chunk is then scanned. */
size_t cemi_first_nonfinite_f(const float *x, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint32_t bits[64], bad = 0;
        memcpy(bits, x + i, sizeof bits);
        for (int k = 0; k < 64; k++)
            bad |= (bits[k] & 0x7f800000u) == 0x7f800000u;
        if (bad)
            break;
    }
    for (; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return n;
}
