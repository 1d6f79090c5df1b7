"""Dataset: the paper's manifolds, with distances and intrinsic coordinates."""

import ctypes
import operator
from ctypes import byref

import numpy as np

from . import _api
from ._core import F32, F64, Handle, array, count, enum_value, points, ptr, with_options
from ._lib import lib
from .errors import check


@with_options(_api.DatasetOption, "dataset")
class Dataset(Handle):
    """Dataset(kind, dim, seed=0, **options): a DatasetKind (or its name,
    "circle") in R^dim, embedded by a random orthogonal map drawn from
    `seed` when dim exceeds the native dimension; DatasetOption's in lower
    case as keywords and properties (npoints=7 for "points")."""

    __slots__ = ()
    _FREE = "cem_dataset_free"
    _ERRMSG = "cem_dataset_errmsg"

    def __init__(self, kind, dim, seed=0, **options):
        out = ctypes.POINTER(_api.cem_dataset_t)()
        check(lib.cem_dataset_create(byref(out), enum_value(_api.DatasetKind, kind, "kind"),
                                     operator.index(dim), count("seed", seed)))
        self._own_then(out, options=options)

    @property
    def dim(self):
        """The ambient dimension."""
        return lib.cem_dataset_dim(self._ptr)

    @property
    def native_dim(self):
        """The dimension the kind is defined in (2 or 3)."""
        return lib.cem_dataset_native_dim(self._ptr)

    @property
    def intrinsic_dim(self):
        """The dimension of the manifold."""
        return lib.cem_dataset_intrinsic_dim(self._ptr)

    def sample(self, n, seed=0):
        """n points of the data law, float32 (n, dim); row i depends only on (seed, i)."""
        out = np.empty((count("n", n), self.dim), dtype=F32)
        check(lib.cem_dataset_sample(self._ptr, out.shape[0], count("seed", seed), ptr(out)))
        return out

    def distance(self, x):
        """The distance of each point of x (n x dim float32) to the manifold, float64 (n,)."""
        x = points("x", x, self.dim)
        out = np.empty(x.shape[0])
        check(lib.cem_dataset_distance(self._ptr, x.shape[0], ptr(x), ptr(out)))
        return out

    def coordinate(self, x):
        """The intrinsic coordinate in [0, 1] of the manifold point nearest
        to each point of x, float64 (n,)."""
        x = points("x", x, self.dim)
        out = np.empty(x.shape[0])
        check(lib.cem_dataset_coordinate(self._ptr, x.shape[0], ptr(x), ptr(out)))
        return out

    def coordinate_cdf(self, u):
        """P(U <= u) under the data law."""
        return lib.cem_dataset_coordinate_cdf(self._ptr, float(u))

    @property
    def affine(self):
        """(scale, offset float64 (dim,)): the placement offset + scale * p."""
        scale, offset = ctypes.c_double(), np.empty(self.dim)
        check(lib.cem_dataset_get_affine(self._ptr, byref(scale), ptr(offset)))
        return scale.value, offset

    def set_affine(self, scale, offset=None):
        """Places the set at offset + scale * p (offset float64 (dim,), None: 0)."""
        if offset is not None:
            offset = array("offset", offset, F64, (self.dim,))
        check(lib.cem_dataset_set_affine(self._ptr, float(scale), ptr(offset)))

    def __repr__(self):
        return "<cemdiff.Dataset closed>" if self.closed else f"<cemdiff.Dataset dim={self.dim}>"
