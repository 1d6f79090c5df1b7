/*
 * dataset.h -- layer 5: internal access to a dataset's embedding, for the
 * tests (nothing here is exported from the shared library).
 */
#ifndef CEM_DATASET_H
#define CEM_DATASET_H

#include "base.h"

/* The embedding Q of d (dim x native, row-major, orthonormal columns), or
 * NULL when d is NULL or dim equals the native dimension (Q = identity). */
const double *cemi_dataset_embedding(const cem_dataset_t *d);

#endif /* CEM_DATASET_H */
