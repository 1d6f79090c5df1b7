"""Model: an MLP, the exact model of a (labelled) point set, of a Gaussian or
of a mixture of Gaussians."""

import collections
import ctypes
import operator
from ctypes import byref

import numpy as np

from . import _api
from ._core import (F32, F64, Handle, array, enum_value, labels as label_array, path, points,
                    ptr, times, with_options)
from ._lib import lib
from .errors import check

SingularityProfile = collections.namedtuple("SingularityProfile", "max mean slope")
SingularityProfile.__doc__ = """cem_singularity_profile's answer: max and mean
(3 x nt: row w = Target.CEM, NOISE, SCORE) of the norms of f, eps and S at
the probes, and slope (3,), of log(mean norm) against log t."""


def _new():
    return ctypes.POINTER(_api.cem_model_t)()


@with_options(_api.ModelOption, "model")
class Model(Handle):
    """A model of f = E[X_0 | X_t = x], eps and S (include/cemdiff.h, models).

    Model(dim, target="cem", **options) makes an untrained MLP for points in
    R^dim whose output means `target` (a Target or its name); the keyword
    options are ModelOption's in lower case (width=32, depth=2, t_min=1e-3,
    activation="tanh", param="direct", labels=3, ...), set in the order
    given; each is also a property.  Model.empirical(points, labels=None),
    Model.gaussian(mean, cov), Model.mixture(means, covs, weights=None),
    Model.load(path) and Model.from_bytes(data) make the others.

    Classes: a model with K = .labels > 0 classes answers f(x, t | k) for
    a label k in 0 .. K-1 and the unconditional f(x, t) for
    CEM_LABEL_NONE (-1); eval(..., labels=...) asks for them.

    Arrays: points are float32 (n, dim), times float64 (n,), labels int32
    (n,) (np.intc); they must be C-contiguous and of exactly that dtype
    (ValueError otherwise: convert with np.ascontiguousarray(x, dtype=...)).
    Outputs are new arrays.
    """

    __slots__ = ()
    _FREE = "cem_model_free"
    _ERRMSG = "cem_model_errmsg"

    def __init__(self, dim, target="cem", **options):
        out = _new()
        check(lib.cem_model_create_mlp(byref(out), operator.index(dim),
                                       enum_value(_api.Target, target, "target")))
        self._own_then(out, options=options)

    @classmethod
    def empirical(cls, data, labels=None):
        """The exact model of the empirical law of data (n x dim float32,
        copied).  With labels (int32 (n,), each in 0 .. K-1 and every class
        holding a point; copied) a labelled model of K = max + 1 classes:
        class k is the empirical law of the points labelled k, and the
        unconditional answer that of all the points."""
        data = points("data", data)
        n = data.shape[0]
        out = _new()
        if labels is None:
            check(lib.cem_model_create_empirical(byref(out), ptr(data), n, data.shape[1]))
        else:
            lab = label_array("labels", labels, n)
            check(lib.cem_model_create_empirical_labelled(byref(out), ptr(data), ptr(lab), n,
                                                          data.shape[1]))
        return cls._wrap(out)

    @classmethod
    def gaussian(cls, mean, cov):
        """The exact model of N(mean, cov): mean float32 (dim,), cov float32
        (dim, dim), symmetric positive semi-definite (both copied)."""
        mean = array("mean", mean, F32, (None,))
        cov = array("cov", cov, F32, (mean.shape[0], mean.shape[0]))
        out = _new()
        check(lib.cem_model_create_gaussian(byref(out), ptr(mean), ptr(cov), mean.shape[0]))
        return cls._wrap(out)

    @classmethod
    def mixture(cls, means, covs, weights=None):
        """The exact model of the mixture sum_k pi_k N(means[k], covs[k]) of
        K Gaussians: means float32 (K, dim), covs float32 (K, dim, dim), each
        symmetric positive semi-definite, weights float64 (K,), finite and
        > 0, normalised by the library (None: equal).  Its K classes are
        the components (.labels reads K); all arrays are copied."""
        means = array("means", means, F32, (None, None))
        K, dim = means.shape
        covs = array("covs", covs, F32, (K, dim, dim))
        if weights is not None:
            weights = array("weights", weights, F64, (K,))
        out = _new()
        check(lib.cem_model_create_mixture(byref(out), K, ptr(weights), ptr(means), ptr(covs),
                                           dim))
        return cls._wrap(out)

    @classmethod
    def load(cls, filename):
        """A model from a model or trainer checkpoint file."""
        out = _new()
        check(lib.cem_model_load(byref(out), path(filename)))
        return cls._wrap(out)

    @classmethod
    def from_bytes(cls, data):
        """A model from a checkpoint in memory (bytes-like)."""
        data = bytes(data)
        out = _new()
        check(lib.cem_model_load_buffer(byref(out), data, len(data)))
        return cls._wrap(out)

    def save(self, filename):
        """Saves the MLP to a checkpoint file (atomically replaced)."""
        check(lib.cem_model_save(self._ptr, path(filename)))

    def to_bytes(self):
        """The checkpoint as bytes."""
        buf, size = ctypes.c_void_p(), ctypes.c_size_t()
        check(lib.cem_model_save_buffer(self._ptr, byref(buf), byref(size)))
        try:
            return ctypes.string_at(buf, size.value)
        finally:
            lib.cem_free(buf)

    # -------------------------------------------------------------- queries
    @property
    def dim(self):
        """The dimension of the model's points."""
        return lib.cem_model_dim(self._ptr)

    @property
    def kind(self):
        """A ModelKind."""
        return _api.ModelKind(lib.cem_model_kind_of(self._ptr))

    @property
    def target(self):
        """The native Target: what an MLP's output means (CEM for the closed forms)."""
        return _api.Target(lib.cem_model_target_of(self._ptr))

    @property
    def param_count(self):
        """The number of learned parameters (0 for the closed forms)."""
        return lib.cem_model_param_count(self._ptr)

    # ----------------------------------------------------------- evaluation
    def eval(self, x, t, what="cem", labels=None):
        """Target `what` (a Target or its name) at points x (n x dim float32)
        and times t: a number shared by every point (cem_model_eval_at) or
        a float64 array (n,) (cem_model_eval).  labels (None: unconditional)
        asks for classes (cem_model_eval_labelled): one int for every row or
        int32 (n,), each in 0 .. K-1 or CEM_LABEL_NONE (-1, the
        unconditional answer); with labels a number t is given to every row
        (cem_model_eval's arithmetic, not eval_at's: an MLP's last bits may
        differ from eval(x, t)).  Returns float32 (n, dim)."""
        x = points("x", x, self.dim)
        what = enum_value(_api.Target, what, "what")
        out = np.empty_like(x)
        n = x.shape[0]
        if labels is not None:
            lab = label_array("labels", labels, n)
            t = times("t", t, n) if isinstance(t, np.ndarray) else np.full(n, float(t))
            check(lib.cem_model_eval_labelled(self._ptr, what, n, ptr(x), ptr(t), ptr(lab),
                                              ptr(out)))
        elif isinstance(t, np.ndarray):
            t = times("t", t, n)
            check(lib.cem_model_eval(self._ptr, what, n, ptr(x), ptr(t), ptr(out)))
        else:
            check(lib.cem_model_eval_at(self._ptr, what, n, ptr(x), float(t), ptr(out)))
        return out

    def singularity_profile(self, probes, t):
        """cem_singularity_profile at probes (np x dim float32) and times t
        (float64 (nt,), nt >= 2): a SingularityProfile."""
        probes = points("probes", probes, self.dim)
        t = array("t", t, F64, (None,))
        nt = t.shape[0]
        mx, mean, slope = np.empty((3, nt)), np.empty((3, nt)), np.empty(3)
        check(lib.cem_singularity_profile(self._ptr, probes.shape[0], ptr(probes), nt,
                                          ptr(t), ptr(mx), ptr(mean), ptr(slope)))
        return SingularityProfile(mx, mean, slope)

    # ------------------------------------------------------------ parameters
    def get_params(self, ema=False):
        """The MLP's parameters (float32, param_count), in the layout of
        torch.nn.Sequential(...).parameters(); ema: the moving average."""
        out = np.empty(self.param_count, dtype=F32)
        check(lib.cem_model_get_params(self._ptr, int(bool(ema)), ptr(out), out.shape[0]))
        return out

    def set_params(self, values, ema=0):
        """Replaces the parameters from values (float32, param_count):
        ema = 0 the raw weights, 1 their moving average, 2 both."""
        values = array("values", values, F32, (self.param_count,))
        check(lib.cem_model_set_params(self._ptr, int(ema), ptr(values), values.shape[0]))

    # ----------------------------------------------------- data statistics
    @property
    def data_stats(self):
        """(mean float64 (dim,), sd): the data statistics (sd 0: none)."""
        mean, sd = np.empty(self.dim), ctypes.c_double()
        check(lib.cem_model_get_data_stats(self._ptr, ptr(mean), byref(sd)))
        return mean, sd.value

    def set_data_stats(self, mean, sd):
        """Sets the data's centre (float64 (dim,), None: zeros) and sd;
        set_data_stats(None, 0) clears them."""
        if mean is not None:
            mean = array("mean", mean, F64, (self.dim,))
        check(lib.cem_model_set_data_stats(self._ptr, ptr(mean), float(sd)))

    def set_data_cov(self, cov, mean=None):
        """Sets the centre (float64 (dim,), None: zeros) and the covariance
        (float64 (dim, dim)) for the PRECOND_PCA parameterisation."""
        d = self.dim
        cov = array("cov", cov, F64, (d, d))
        if mean is not None:
            mean = array("mean", mean, F64, (d,))
        check(lib.cem_model_set_data_cov(self._ptr, ptr(mean), ptr(cov)))

    @property
    def data_axes(self):
        """(axes float64 (dim, dim), row k the k-th axis; axis_sd (dim,))."""
        d = self.dim
        axes, sd = np.empty((d, d)), np.empty(d)
        check(lib.cem_model_get_data_axes(self._ptr, ptr(axes), ptr(sd)))
        return axes, sd

    def retain(self):
        """Another Model object holding its own reference to the same model."""
        lib.cem_model_retain(self._ptr)
        return Model._wrap(self._ptr)

    def __repr__(self):
        if self.closed:
            return "<cemdiff.Model closed>"
        return f"<cemdiff.Model {self.kind.name.lower()} dim={self.dim} target={self.target.name.lower()}>"
