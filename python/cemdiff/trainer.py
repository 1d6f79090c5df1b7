"""Trainer: trains an MLP Model on a copy of the data."""

import collections
import ctypes
from ctypes import byref

import numpy as np

from . import _api
from ._core import (F32, F64, Handle, Progress, array, count, labels as label_array, path,
                    points, progress_property, ptr, sigint_sets_flag, with_options)
from ._lib import lib
from .errors import check
from .model import Model

TimeBins = collections.namedtuple("TimeBins", "mean count edges")
TimeBins.__doc__ = "cem_trainer_time_bins_n: mean loss, count per bin, edges of log t bins."
LawBins = collections.namedtuple("LawBins", "prob loss floor edges")
LawBins.__doc__ = "cem_trainer_law_bins_n: the time law's shares, losses, floors and edges."


def _new():
    return ctypes.POINTER(_api.cem_trainer_t)()


@with_options(_api.TrainerOption, "trainer")
class Trainer(Handle):
    """Trains the MLP `model` on data (n x dim float32, C-contiguous;
    copied by the library): Trainer(model, data, labels=None, **options)
    with TrainerOption's in lower case as keywords and properties (lr=1e-3,
    batch=256, time_law="grid", label_dropout=0.1, ...).

    labels (int32 (n,), or one int for every row; copied) trains a model
    with classes (Model(..., labels=K)): row i's class in 0 .. K-1, or
    CEM_LABEL_NONE (-1) for a row without one; label_dropout of the drawn
    rows are trained as unlabelled (classifier-free guidance).  A labelled
    trainer's checkpoint loads with the same labels (Trainer.load(...,
    labels=...)).

    run(steps) trains; progress = fn(step, loss) is called after every step
    (a true return stops the run; an exception stops it and is re-raised by
    run).  Ctrl-C during run stops it after the current step and raises
    KeyboardInterrupt; the steps done are kept.  The trainer owns its model
    while it exists (see the header); .model stays valid after the trainer
    is closed.
    """

    __slots__ = ("_model", "_progress")
    _FREE = "cem_trainer_free"
    _ERRMSG = "cem_trainer_errmsg"

    def __init__(self, model, data, labels=None, **options):
        if not isinstance(model, Model):
            raise ValueError(f"model must be a cemdiff.Model, not {type(model).__name__}")
        data = points("data", data, model.dim)
        n = data.shape[0]
        out = _new()
        if labels is None:
            check(lib.cem_trainer_create(byref(out), model._ptr, ptr(data), n, data.shape[1]))
        else:
            lab = label_array("labels", labels, n)
            check(lib.cem_trainer_create_labelled(byref(out), model._ptr, ptr(data), ptr(lab),
                                                  n, data.shape[1]))
        self._setup(out, model, options)

    def _setup(self, handle, model, options=None):
        self._model = model
        self._progress = Progress(_api.cem_progress_fn)
        self._own_then(handle, lambda: check(lib.cem_trainer_set_progress(
            handle, self._progress.cfunc, None)), options)

    @classmethod
    def load(cls, filename, data, labels=None):
        """A trainer restored from a trainer checkpoint, with the data it was
        created with (n x dim float32; checked by size and CRC-32) and, for
        a labelled trainer, its labels (int32 (n,); checked likewise: a
        labelled checkpoint loads only with labels, an unlabelled one only
        without, ArgumentError otherwise)."""
        data = points("data", data)
        n, dim = data.shape
        out = _new()
        if labels is None:
            check(lib.cem_trainer_load(byref(out), path(filename), ptr(data), n, dim))
        else:
            lab = label_array("labels", labels, n)
            check(lib.cem_trainer_load_labelled(byref(out), path(filename), ptr(data), ptr(lab),
                                                n, dim))
        return cls._restored(out)

    @classmethod
    def from_bytes(cls, buf, data, labels=None):
        """The same from a checkpoint in memory (bytes-like)."""
        buf = bytes(buf)
        data = points("data", data)
        n, dim = data.shape
        out = _new()
        if labels is None:
            check(lib.cem_trainer_load_buffer(byref(out), buf, len(buf), ptr(data), n, dim))
        else:
            lab = label_array("labels", labels, n)
            check(lib.cem_trainer_load_buffer_labelled(byref(out), buf, len(buf), ptr(data),
                                                       ptr(lab), n, dim))
        return cls._restored(out)

    @classmethod
    def _restored(cls, handle):
        obj = cls.__new__(cls)
        obj._setup(handle, None)
        return obj

    def save(self, filename):
        """Saves the full trainer state (not the data) to a checkpoint file."""
        check(lib.cem_trainer_save(self._ptr, path(filename)))

    def to_bytes(self):
        """The trainer checkpoint as bytes."""
        buf, size = ctypes.c_void_p(), ctypes.c_size_t()
        check(lib.cem_trainer_save_buffer(self._ptr, byref(buf), byref(size)))
        try:
            return ctypes.string_at(buf, size.value)
        finally:
            lib.cem_free(buf)

    @property
    def model(self):
        """The model being trained.  It holds a reference of its own
        (cem_model_retain), so it outlives the trainer."""
        m = self._model
        if m is None or m.closed:
            handle = lib.cem_trainer_model(self._ptr)
            lib.cem_model_retain(handle)
            m = self._model = Model._wrap(handle)
        return m

    # ------------------------------------------------------------ training
    progress = progress_property("The function called as fn(step, loss) after every step, "
                                 "or None.")

    @property
    def steps(self):
        """Steps taken so far."""
        return lib.cem_trainer_steps(self._ptr)

    def run(self, steps):
        """Runs `steps` optimisation steps; returns the mean of their losses
        (NaN when none ran).  Re-raises an exception of the progress
        function, and KeyboardInterrupt for Ctrl-C; either stops the run
        after the current step, and the steps done are kept."""
        steps = count("steps", steps)
        handle, p = self._ptr, self._progress
        p.reset()
        mean = ctypes.c_double()
        with sigint_sets_flag(p):
            status = lib.cem_trainer_run(handle, steps, byref(mean))
        p.raise_pending()
        if status != _api.CEM_ERR_STOPPED:  # stopped: the progress function asked
            check(status)
        return mean.value

    def _batch(self, x0, t, z, labels):
        d = lib.cem_model_dim(lib.cem_trainer_model(self._ptr))
        x0 = points("x0", x0, d)
        t = array("t", t, F64, (x0.shape[0],))
        z = array("z", z, F32, x0.shape)
        return x0, t, z, label_array("labels", labels, x0.shape[0])

    def step_batch(self, x0, t, z, labels=None):
        """One step on a given batch (x0, z: B x dim float32, t: float64
        (B,)); returns its loss.  labels (one int or int32 (B,), each in
        [-1, K)) gives each row its class, used as given (no dropout);
        without, every row trains as CEM_LABEL_NONE."""
        x0, t, z, lab = self._batch(x0, t, z, labels)
        loss = ctypes.c_double()
        if lab is None:
            check(lib.cem_trainer_step_batch(self._ptr, x0.shape[0], ptr(x0), ptr(t), ptr(z),
                                             byref(loss)))
        else:
            check(lib.cem_trainer_step_batch_labelled(self._ptr, x0.shape[0], ptr(x0), ptr(lab),
                                                      ptr(t), ptr(z), byref(loss)))
        return loss.value

    def loss_batch(self, x0, t, z, grad=False, labels=None):
        """The loss on a given batch, and with grad=True also its gradient
        (float32, param_count); changes nothing.  labels as step_batch's."""
        x0, t, z, lab = self._batch(x0, t, z, labels)
        loss = ctypes.c_double()
        g = None
        if grad:
            g = np.empty(lib.cem_model_param_count(lib.cem_trainer_model(self._ptr)), dtype=F32)
        if lab is None:
            check(lib.cem_trainer_loss_batch(self._ptr, x0.shape[0], ptr(x0), ptr(t), ptr(z),
                                             byref(loss), ptr(g)))
        else:
            check(lib.cem_trainer_loss_batch_labelled(self._ptr, x0.shape[0], ptr(x0), ptr(lab),
                                                      ptr(t), ptr(z), byref(loss), ptr(g)))
        return (loss.value, g) if grad else loss.value

    def time_bins(self, reset=False):
        """A TimeBins of the loss since the last reset; reset clears them."""
        k = _api.CEM_TRAINER_BINS
        mean, cnt, edges = np.empty(k), np.empty(k, dtype=np.dtype(ctypes.c_long)), np.empty(k + 1)
        check(lib.cem_trainer_time_bins_n(self._ptr, k, ptr(mean),
                                        cnt.ctypes.data_as(ctypes.POINTER(ctypes.c_long)),
                                        ptr(edges), int(bool(reset))))
        return TimeBins(mean, cnt, edges)

    def law_bins(self):
        """A LawBins: the time law as it is now."""
        k = _api.CEM_TRAINER_LAW_BINS
        prob, loss, floor, edges = np.empty(k), np.empty(k), np.empty(k), np.empty(k + 1)
        check(lib.cem_trainer_law_bins_n(self._ptr, k, ptr(prob), ptr(loss), ptr(floor),
                                         ptr(edges)))
        return LawBins(prob, loss, floor, edges)

    def __repr__(self):
        return "<cemdiff.Trainer closed>" if self.closed else f"<cemdiff.Trainer steps={self.steps}>"
