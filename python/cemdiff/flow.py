"""Flow: the probability-flow ODE of a Model as a density and an encoder."""

import ctypes
from ctypes import byref

import numpy as np

from . import _api
from ._core import F32, Handle, Progress, points, progress_property, ptr, sigint_sets_flag, with_options
from ._lib import lib
from .errors import error
from .model import Model


@with_options(_api.FlowOption, "flow")
class Flow(Handle):
    """Flow(model, **options) with FlowOption's in lower case as keywords
    and properties (rtol=1e-6, t_max=40, exact_dim=0, probes=8, ...).

    logprob(x) returns log p_t1 at the points x (float64 (n,)) and, with
    evals=True, also the model evaluations each row took; encode(x) the
    latents z (float32 (n, dim), ~ N(0, I) for an exact model), decode(z)
    the points.  A row that fails is NaN and NumericError is raised with
    the whole output as its .values.  progress = fn(done, total) as a
    Sampler's.
    """

    __slots__ = ("_model", "_progress")
    _FREE = "cem_flow_free"
    _ERRMSG = "cem_flow_errmsg"

    def __init__(self, model, **options):
        if not isinstance(model, Model):
            raise ValueError(f"model must be a cemdiff.Model, not {type(model).__name__}")
        out = ctypes.POINTER(_api.cem_flow_t)()
        status = lib.cem_flow_create(byref(out), model._ptr)
        if status != _api.CEM_OK:
            raise error(status)
        self._model = model
        self._progress = Progress(_api.cem_sampler_progress_fn)
        self._own_then(out, lambda: _check_progress(out, self._progress), options)

    progress = progress_property("The progress function fn(done, total), or None.")

    @property
    def model(self):
        """The Model this flow was made on."""
        return self._model

    def _run(self, call, x, out, *extra):
        p = self._progress
        p.reset()
        with sigint_sets_flag(p):
            status = call(self._ptr, x.shape[0], ptr(x), ptr(out), *extra)
        p.raise_pending()
        if status != _api.CEM_OK:
            err = error(status)
            err.values = out if status != _api.CEM_ERR_STOPPED else out[:p.last]
            raise err
        return out

    def logprob(self, x, evals=False):
        """log p_t1(x) in nats, float64 (n,); with evals=True the pair
        (logp, evaluations per row as int64 (n,))."""
        x = points("x", x, self._model.dim)
        out = np.empty(x.shape[0])
        n_evals = np.zeros(x.shape[0], dtype=np.uint64)
        self._run(lib.cem_flow_logprob, x, out,
                  n_evals.ctypes.data_as(ctypes.POINTER(ctypes.c_size_t)))
        return (out, n_evals.astype(np.int64)) if evals else out

    def encode(self, x):
        """The latents of the points x, float32 (n, dim)."""
        x = points("x", x, self._model.dim)
        return self._run(lib.cem_flow_encode, x, np.empty_like(x))

    def decode(self, z):
        """The points at t_1 of the latents z, float32 (n, dim)."""
        z = points("z", z, self._model.dim)
        return self._run(lib.cem_flow_decode, z, np.empty_like(z))

    def __repr__(self):
        return "<cemdiff.Flow closed>" if self.closed else f"<cemdiff.Flow {self.options()}>"


def _check_progress(out, progress):
    status = lib.cem_flow_set_progress(out, progress.cfunc, None)
    if status != _api.CEM_OK:
        raise error(status)
