"""Sampler: integrates the reverse process of a Model."""

import ctypes
from ctypes import byref

import numpy as np

from . import _api
from ._core import (F32, Handle, Progress, count, labels as label_array, mask, points,
                    progress_property, ptr, sigint_sets_flag, with_options)
from ._lib import lib
from .errors import check, error
from .model import Model


@with_options(_api.SamplerOption, "sampler", rename={"impute": "impute_method"})
class Sampler(Handle):
    """Sampler(model, **options) with SamplerOption's in lower case as
    keywords and properties (steps=50, integrator="heun", seed=1, label=2,
    guidance=1.5, jumps=20, ...); CEM_SAMPLER_IMPUTE is impute_method (an
    Impute or its name: "repaint", "reconstruct"), beside the method
    impute().

    run(n) returns n samples (float32 (n, dim)); row i depends only on
    (seed, i) (and its label).  run(n, labels=...) samples classes of a
    labelled model, guided by .guidance; impute(x) completes partial
    points.  When some rows diverge, DivergedError is raised with the
    whole output (NaN rows included) as its .samples.  progress =
    fn(done, total) is called after each wave of blocks (a block of rows a
    thread); a true return stops the run (StoppedError, with the rows done
    as its .samples), an exception stops it and is re-raised; Ctrl-C stops
    it after the current wave and raises KeyboardInterrupt.
    """

    __slots__ = ("_model", "_progress")
    _FREE = "cem_sampler_free"
    _ERRMSG = "cem_sampler_errmsg"

    def __init__(self, model, **options):
        if not isinstance(model, Model):
            raise ValueError(f"model must be a cemdiff.Model, not {type(model).__name__}")
        out = ctypes.POINTER(_api.cem_sampler_t)()
        status = lib.cem_sampler_create(byref(out), model._ptr)
        if status != _api.CEM_OK:
            raise error(status)
        self._model = model
        self._progress = Progress(_api.cem_sampler_progress_fn)
        self._own_then(out, lambda: check(lib.cem_sampler_set_progress(
            out, self._progress.cfunc, None)), options)

    progress = progress_property("The progress function fn(done, total), or None.")

    @property
    def model(self):
        """The Model this sampler was made on."""
        return self._model

    def run(self, n, first=0, labels=None):
        """Rows first .. first + n - 1 of the seed's streams, float32 (n, dim).
        labels (cem_sampler_run_labelled): the class of every row, one int
        or int32 (n,), each in [-1, K) (-1: unconditional); None: the
        option .label for every row."""
        n, first = count("n", n), count("first", first)
        lab = label_array("labels", labels, n)
        out = np.empty((n, self._model.dim), dtype=F32)
        if lab is not None:
            return self._run(lib.cem_sampler_run_labelled, out, first, n, ptr(lab), ptr(out))
        if first == 0:
            return self._run(lib.cem_sampler_run, out, n, ptr(out))
        return self._run(lib.cem_sampler_run_rows, out, first, n, ptr(out))

    def impute(self, x, known=None, labels=None, first=0):
        """Completes the partial points x (n x dim float32): the missing
        coordinates drawn from the model's law given the known ones
        (cem_sampler_impute, by .impute_method with .jumps, .jump_length,
        .recon_weight).  known (bool or uint8 (n, dim), nonzero: known)
        marks the known coordinates, and the others of x are not read; with
        known None the missing ones are those where x is NaN.  Returns
        float32 (n, dim) with the known coordinates bitwise as given.  Row
        i draws from the stream (seed, first + i); labels as run's."""
        x = points("x", x, self._model.dim)
        if known is not None:
            known = mask("known", known, x.shape)
        first = count("first", first)
        n = x.shape[0]
        lab = label_array("labels", labels, n)
        out = np.empty_like(x)
        return self._run(lib.cem_sampler_impute, out, first, n, ptr(x), ptr(known), ptr(lab),
                         ptr(out))

    def _run(self, call, out, *args):
        """Calls call(handle, *args) with the progress callback armed and
        raises its outcome; returns out."""
        p = self._progress
        p.reset()
        with sigint_sets_flag(p):
            status = call(self._ptr, *args)
        p.raise_pending()
        if status != _api.CEM_OK:
            err = error(status)
            if status == _api.CEM_ERR_DIVERGED:
                err.samples = out
            elif status == _api.CEM_ERR_STOPPED:
                err.samples = out[:p.last]
            raise err
        return out

    @property
    def diverged_rows(self):
        """Rows of the last run that ended non-finite."""
        return lib.cem_sampler_diverged_rows(self._ptr)

    def times(self):
        """The time grid of the plan, increasing (float64 (steps,))."""
        out = np.empty(int(self.get_option("steps")))
        status = lib.cem_sampler_times(self._ptr, ptr(out))
        if status != _api.CEM_OK:
            raise error(status)
        return out

    def trajectory(self):
        """(snapshots float32 (snaps, rows, dim), times float64 (snaps,)) of
        the last run (traj_rows, traj_every set what is recorded)."""
        snaps, rows = ctypes.c_size_t(), ctypes.c_size_t()
        status = lib.cem_sampler_trajectory(self._ptr, byref(snaps), byref(rows), None, None)
        if status == _api.CEM_OK:
            out = np.empty((snaps.value, rows.value, self._model.dim), dtype=F32)
            t = np.empty(snaps.value)
            status = lib.cem_sampler_trajectory(self._ptr, byref(snaps), byref(rows),
                                                ptr(out), ptr(t))
        if status != _api.CEM_OK:
            raise error(status)
        return out, t

    def __repr__(self):
        return "<cemdiff.Sampler closed>" if self.closed else f"<cemdiff.Sampler {self.options()}>"
