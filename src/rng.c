/*
 * rng.c -- counter-based random streams (layer 1).
 *
 * Philox4x32-10 comes from Random123 (header only, with published
 * known-answer vectors, checked in tests/test_base.c).  Uniforms take 53 bits
 * from two words; normals use Box-Muller on two open uniforms and keep the
 * second value of each pair.
 */
#include "base.h"

#include <math.h>
#include <Random123/philox.h>

void cemi_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2],
                        uint32_t out[4])
{
    philox4x32_ctr_t c = {{ctr[0], ctr[1], ctr[2], ctr[3]}};
    philox4x32_key_t k = {{key[0], key[1]}};
    philox4x32_ctr_t r = philox4x32_R(10, c, k);
    for (int i = 0; i < 4; i++)
        out[i] = r.v[i];
}

void cemi_rng_init(cemi_rng *r, uint64_t seed, uint64_t stream)
{
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->stream[0] = (uint32_t)stream;
    r->stream[1] = (uint32_t)(stream >> 32);
    r->block = 0;
    r->used = 4;
    r->have_spare = 0;
    r->spare = 0.0;
}

uint32_t cemi_rng_u32(cemi_rng *r)
{
    if (r->used == 4) {
        const uint32_t ctr[4] = {(uint32_t)r->block, (uint32_t)(r->block >> 32),
                                 r->stream[0], r->stream[1]};
        cemi_philox4x32_10(ctr, r->key, r->buf);
        r->block++;
        r->used = 0;
    }
    return r->buf[r->used++];
}

double cemi_rng_uniform(cemi_rng *r)
{
    uint64_t hi = cemi_rng_u32(r) >> 5; /* 27 bits */
    uint64_t lo = cemi_rng_u32(r) >> 6; /* 26 bits */
    uint64_t m = (hi << 26) | lo;       /* 53 bits in [0, 2^53) */
    return ((double)m + 0.5) * 0x1p-53; /* in (0, 1) */
}

double cemi_rng_normal(cemi_rng *r)
{
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    double u1 = cemi_rng_uniform(r), u2 = cemi_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1));
    double ang = 6.283185307179586476925 * u2;
    r->spare = rad * sin(ang);
    r->have_spare = 1;
    return rad * cos(ang);
}

void cemi_rng_seek(cemi_rng *r, uint64_t block)
{
    r->block = block;
    r->used = 4;
    r->have_spare = 0;
}
