/*
 * dataset.h -- layer 5: internal access to a dataset's embedding and to the
 * knot's arc-length inverse, for the tests (nothing here is exported from
 * the shared library).
 */
#ifndef CEM_DATASET_H
#define CEM_DATASET_H

#include "base.h"

/* The embedding Q of d (dim x native, row-major, orthonormal columns), or
 * NULL when d is NULL or dim equals the native dimension (Q = identity). */
const double *cemi_dataset_embedding(const cem_dataset_t *d);

/* The trefoil parameter v in [0, 1) of the CEM_DATA_KNOT point whose
 * arc-length fraction is s in [0, 1) (what cem_dataset_sample uses to draw
 * uniformly in arc length); NaN for another kind or s outside [0, 1). */
double cemi_dataset_knot_parameter(const cem_dataset_t *d, double s);

#endif /* CEM_DATASET_H */
