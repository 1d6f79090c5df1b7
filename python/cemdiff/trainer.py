"""Trainer: trains an MLP Model on a copy of the data."""

import collections
import ctypes
from ctypes import byref

import numpy as np

from . import _api
from ._core import (F32, F64, Handle, Progress, array, c_int, count, labels as label_array, path,
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


class _Reduce:
    """The library's reduce callback (cem_reduce_fn) around the user's
    fn(grad, stats, first, parts): grad and stats are numpy views of the
    library's buffers, max(parts, 1) x n float32 and max(parts, 1) x m
    float64, valid during the call only.  An exception (KeyboardInterrupt
    included) is kept for run to re-raise and fails the step (non-zero
    return: CEM_ERR_REDUCE); it never unwinds through the library.  Holds
    no reference to the Trainer (no cycle)."""

    __slots__ = ("fn", "exc", "cfunc")

    def __init__(self, fn):
        self.fn, self.exc = fn, None
        self.cfunc = _api.cem_reduce_fn(self)

    def __call__(self, grad, n, stats, m, first, parts, user):
        try:
            rows = max(parts, 1)
            g = np.ctypeslib.as_array(grad, shape=(rows, n))
            s = np.ctypeslib.as_array(stats, shape=(rows, m))
            self.fn(g, s, first, parts)
            return 0
        except BaseException as e:  # noqa: B902 -- re-raised after the run
            self.exc = e
            return 1


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

    set_reduce(rank, world, fn) makes this trainer rank `rank` of `world`
    data-parallel trainers made alike (cem_trainer_set_reduce): each step's
    ACCUMULATE micro-batches are shared among the ranks and fn(grad, stats,
    first, parts) sums them (see set_reduce).
    """

    __slots__ = ("_model", "_progress", "_reduce")
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
        self._reduce = None
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

    def set_reduce(self, rank, world, fn):
        """Data-parallel training (cem_trainer_set_reduce): this trainer is
        rank `rank` (0 <= rank < world) of `world` trainers made alike (the
        same model options, data, labels and trainer options, or loaded from
        the same checkpoint), each typically run by its own thread or
        process.  Every step of run() draws the batch as one trainer does;
        this rank computes the micro-batches [rank A // world, (rank + 1) A
        // world) of its accumulate = A, then calls fn(grad, stats, first,
        parts) on the thread that called run(), once a step:
          grad   float32 array (max(parts, 1), n): row p the gradient of
                 micro-batch first + p (n = the model's param_count);
          stats  float64 array (max(parts, 1), m): their loss and time-bin
                 sums (the library's layout; sum them like the gradient);
        (with parts = 0 the one row is only room for the result).  fn must
        write, in place, into grad[0] and stats[0] the sums over all A
        micro-batches of the step (every rank's), and return nothing.
        Added in micro-batch order (float32 for grad, float64 for stats:
        ((g0 + g1) + g2) + ...) the result is bitwise that of one trainer
        with the same accumulate.  The arrays are views of the library's
        buffers, valid during the call only (copy what you keep).  fn may
        block (a barrier, an MPI all-gather); it must not call this trainer
        or its model.  An exception in fn fails the step (the library's
        CEM_ERR_REDUCE, the trainer as it was before the step) and is
        re-raised by run(); the other ranks are not told (abort their
        barrier, or they wait).  Checkpoints do not store rank or world.

        set_reduce(0, 1, None) makes it a single trainer again.  ValueError
        for a rank or world that is no int or fn that is not callable;
        ArgumentError (the library's) for world < 1, a rank outside
        [0, world) or fn None with world > 1, the trainer unchanged."""
        rank, world = c_int("rank", rank), c_int("world", world)
        if fn is not None and not callable(fn):
            raise ValueError(f"fn must be callable or None, not {type(fn).__name__}")
        handle = self._ptr
        r = None if fn is None else _Reduce(fn)
        cfunc = _api.cem_reduce_fn() if r is None else r.cfunc  # an empty one is NULL
        check(lib.cem_trainer_set_reduce(handle, rank, world, cfunc, None))
        self._reduce = r  # the callback object lives while the library holds it

    def run(self, steps):
        """Runs `steps` optimisation steps; returns the mean of their losses
        (NaN when none ran).  Re-raises an exception of the progress
        function, and KeyboardInterrupt for Ctrl-C; either stops the run
        after the current step, and the steps done are kept.  An exception
        of the reduce function (set_reduce) fails its step, which is not
        taken, and is re-raised likewise (the steps before it are kept)."""
        steps = count("steps", steps)
        handle, p, r = self._ptr, self._progress, self._reduce
        p.reset()
        if r is not None:
            r.exc = None
        mean = ctypes.c_double()
        with sigint_sets_flag(p):
            status = lib.cem_trainer_run(handle, steps, byref(mean))
        if r is not None and r.exc is not None:
            exc, r.exc = r.exc, None
            raise exc
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
