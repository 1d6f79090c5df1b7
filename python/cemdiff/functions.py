"""The header's functions without a handle: version, status, the forward
process, conversions, time grids and laws, metrics and CSV files (plain,
labelled, with missing values).

Arrays follow the package's rule: points float32 (n, dim), times and
coefficients float64, C-contiguous, exactly that dtype (ValueError
otherwise; convert with np.ascontiguousarray(a, dtype=...)).
"""

import ctypes
import operator
from ctypes import byref

import numpy as np

from . import _api
from ._core import F32, array, count, enum_value, path, points, ptr, times
from ._lib import lib
from .dataset import Dataset
from .errors import check


def version_number():
    """The linked library's CEM_VERSION_NUMBER (MAJOR*10000 + MINOR*100 + PATCH)."""
    return lib.cem_version_number()


def version_string():
    """The linked library's "MAJOR.MINOR.PATCH"."""
    return lib.cem_version_string().decode()


def status_string(status):
    """The library's description of a status code."""
    return lib.cem_status_string(int(status)).decode()


def last_error():
    """Why the last failing call on this thread failed ("" if none)."""
    return lib.cem_last_error().decode(errors="replace")


def ou_coefficients(t):
    """(alpha_t, sigma_t^2) of the forward process at time t >= 0."""
    alpha, sigma2 = ctypes.c_double(), ctypes.c_double()
    check(lib.cem_ou_coefficients(float(t), byref(alpha), byref(sigma2)))
    return alpha.value, sigma2.value


def convert(values, x, t, source, target):
    """Converts values (n x dim float32) of Target `source` at points x
    (n x dim float32) and times t (float64 (n,)) into Target `target`."""
    x = points("x", x)
    values = array("values", values, F32, x.shape)
    t = times("t", t, x.shape[0])
    out = np.empty_like(values)
    check(lib.cem_convert(enum_value(_api.Target, source, "source"),
                          enum_value(_api.Target, target, "target"),
                          x.shape[0], x.shape[1], ptr(x), ptr(t), ptr(values), ptr(out)))
    return out


def grid_name(kind):
    """The library's name of a Grid (its member name in lower case), or
    None for a value that is not one."""
    name = lib.cem_grid_name(int(kind))
    return name.decode() if name else None


def integrator_name(integrator):
    """The library's name of an Integrator (its member name in lower case),
    or None for a value that is not one."""
    name = lib.cem_integrator_name(int(integrator))
    return name.decode() if name else None


def time_grid(N, t1, T, kind="exponential"):
    """N increasing times from t1 to T, float64 (N,); kind a Grid or its name."""
    out = np.empty(count("N", N))
    check(lib.cem_time_grid(enum_value(_api.Grid, kind, "kind"), out.shape[0], float(t1),
                            float(T), ptr(out)))
    return out


def time_law_sample(law, n, t1, T, *, N, seed=0):
    """n times drawn from TimeLaw `law` on [t1, T], float64 (n,); N is the
    grid size of the GRID law (>= 2 for every law, as the header asks)."""
    out = np.empty(count("n", n))
    check(lib.cem_time_law_sample(enum_value(_api.TimeLaw, law, "law"), operator.index(N),
                                  float(t1), float(T), count("seed", seed), out.shape[0],
                                  ptr(out)))
    return out


def _pair(a, b):
    a = points("a", a)
    b = points("b", b, a.shape[1])
    return a, b


def _dataset(d):
    if not isinstance(d, Dataset):
        raise ValueError(f"dataset must be a cemdiff.Dataset, not {type(d).__name__}")
    return d._ptr


def metric_distance(dataset, x):
    """(mean, 95th percentile, max) of the distances of x (n x dim float32)
    to the dataset's manifold."""
    d = _dataset(dataset)
    x = points("x", x, dataset.dim)
    mean, p95, mx = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    check(lib.cem_metric_distance(d, x.shape[0], ptr(x), byref(mean), byref(p95), byref(mx)))
    return mean.value, p95.value, mx.value


def metric_sliced_w2(a, b, directions, seed=0):
    """Sliced Wasserstein-2 distance between the point sets a and b
    (float32, same dim) over `directions` random directions from `seed`."""
    a, b = _pair(a, b)
    out = ctypes.c_double()
    check(lib.cem_metric_sliced_w2(a.shape[0], ptr(a), b.shape[0], ptr(b), a.shape[1],
                                   operator.index(directions), count("seed", seed), byref(out)))
    return out.value


def metric_energy(a, b):
    """Energy distance between the point sets a and b."""
    a, b = _pair(a, b)
    out = ctypes.c_double()
    check(lib.cem_metric_energy(a.shape[0], ptr(a), b.shape[0], ptr(b), a.shape[1], byref(out)))
    return out.value


def metric_mmd(a, b, bandwidth):
    """Squared MMD (Gaussian kernel of `bandwidth`) between a and b."""
    a, b = _pair(a, b)
    out = ctypes.c_double()
    check(lib.cem_metric_mmd(a.shape[0], ptr(a), b.shape[0], ptr(b), a.shape[1],
                             float(bandwidth), byref(out)))
    return out.value


def metric_ks(dataset, x):
    """Kolmogorov-Smirnov statistic of the intrinsic coordinates of x
    against the data law."""
    d = _dataset(dataset)
    x = points("x", x, dataset.dim)
    out = ctypes.c_double()
    check(lib.cem_metric_ks(d, x.shape[0], ptr(x), byref(out)))
    return out.value


def _copy(buf, shape):
    """A numpy copy of a library buffer."""
    return np.ctypeslib.as_array(buf, shape=shape).copy()


def csv_read(filename, label_col=None):
    """The rows of a CSV file as float32 (n, dim).  With label_col (the
    0-based column of an integer class in [-1, 65535]) the pair (data
    float32 (n, dim), labels int32 (n,)), dim the other columns
    (cem_csv_read_labelled)."""
    data = ctypes.POINTER(ctypes.c_float)()
    n, dim = ctypes.c_size_t(), ctypes.c_int()
    if label_col is None:
        check(lib.cem_csv_read(path(filename), byref(data), byref(n), byref(dim)))
        try:
            return _copy(data, (n.value, dim.value))
        finally:
            lib.cem_free(data)
    col = count("label_col", label_col)
    if col > 2 ** 31 - 1:
        raise ValueError(f"label_col = {col} is not a C int")
    lab = ctypes.POINTER(ctypes.c_int)()
    check(lib.cem_csv_read_labelled(path(filename), col, byref(data), byref(lab), byref(n),
                                    byref(dim)))
    try:
        return _copy(data, (n.value, dim.value)), _copy(lab, (n.value,))
    finally:
        lib.cem_free(data)
        lib.cem_free(lab)


def csv_read_missing(filename):
    """The rows of a CSV file of partial points as float32 (n, dim): an
    empty field reads as NaN, a missing coordinate (what Sampler.impute
    completes); a NaN or Inf written in the file is still refused
    (cem_csv_read_missing)."""
    data = ctypes.POINTER(ctypes.c_float)()
    n, dim = ctypes.c_size_t(), ctypes.c_int()
    check(lib.cem_csv_read_missing(path(filename), byref(data), byref(n), byref(dim)))
    try:
        return _copy(data, (n.value, dim.value))
    finally:
        lib.cem_free(data)


def csv_write(filename, data):
    """Writes data (n x dim float32) to a CSV file with 9 significant
    digits (exact round trip), replacing the file whole."""
    data = points("data", data)
    check(lib.cem_csv_write(path(filename), ptr(data), data.shape[0], data.shape[1]))
