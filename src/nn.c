/*
 * nn.c -- instantiates the MLP kernels (nn_kernels.inc) in float, the type
 * the library trains and samples in, and in double, the type of the
 * finite-difference gradient checks.
 */
#include "nn.h"

#include "linalg.h"

#include <math.h>

size_t cemi_mlp_nparams(const cemi_mlp_shape *sh)
{
    int ni, no;
    size_t ow, ob;
    cemi_mlp_layer(sh, sh->L, &ni, &no, &ow, &ob);
    return ob + (size_t)no;
}

void cemi_mlp_layer(const cemi_mlp_shape *sh, int l, int *in, int *out, size_t *off_w,
                    size_t *off_b)
{
    size_t in0 = (size_t)(sh->D + sh->E), H = (size_t)sh->H;
    size_t first = H * in0 + H, hidden = H * H + H;
    *in = l == 0 ? sh->D + sh->E : sh->H;
    *out = l == sh->L ? sh->D : sh->H;
    *off_w = l == 0 ? 0 : first + (size_t)(l - 1) * hidden;
    *off_b = *off_w + (size_t)*in * (size_t)*out;
}

size_t cemi_mlp_hidden_size(const cemi_mlp_shape *sh, int B, int keep)
{
    return 2 * (size_t)(keep ? sh->L : 1) * (size_t)B * (size_t)sh->H;
}

#define REAL float
#define S _f
#define GEMM cemi_sgemm
#define EXP expf
#define TANH tanhf
#include "nn_kernels.inc"
#undef REAL
#undef S
#undef GEMM
#undef EXP
#undef TANH

#define REAL double
#define S _d
#define GEMM cemi_dgemm
#define EXP exp
#define TANH tanh
#include "nn_kernels.inc"
