"""What the classes share: array checks, enum arguments, handle lifetime and
options as properties."""

import contextlib
import ctypes
import operator
import os
import signal
import threading
import weakref

import numpy as np

from . import _api
from ._lib import lib
from .errors import check, error

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
I32 = np.dtype(np.intc)        # the header's int (labels)
U8 = np.dtype(np.uint8)        # the header's unsigned char (masks)
BOOL = np.dtype(np.bool_)      # one byte, 0 or 1: passed as unsigned char
_CTYPE = {F32: ctypes.c_float, F64: ctypes.c_double, I32: ctypes.c_int, U8: ctypes.c_ubyte,
          BOOL: ctypes.c_ubyte}
_INT_BITS = 8 * ctypes.sizeof(ctypes.c_int)
_INT_MIN, _INT_MAX = -2 ** (_INT_BITS - 1), 2 ** (_INT_BITS - 1) - 1


def array(name, a, dtype, shape):
    """Checks that `a` is a C-contiguous numpy array of `dtype` whose shape
    matches `shape` (None entries match any size) and returns it.  Nothing
    is converted: ValueError says how to convert instead."""
    dtype = np.dtype(dtype)
    how = f"np.ascontiguousarray({name}, dtype=np.{dtype.name})"
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{name} must be a numpy.ndarray of {dtype.name}, "
                         f"not {type(a).__name__} (convert with {how})")
    if a.dtype != dtype:
        raise ValueError(f"{name} must have dtype {dtype.name}, not {a.dtype} (convert with {how})")
    if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
        want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{name} must have shape {want}, not {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{name} is not C-contiguous (copy it with {how})")
    return a


def points(name, a, dim=None):
    """An n x dim float32 array (dim checked when given)."""
    return array(name, a, F32, (None, dim))


def times(name, t, n):
    """n float64 times."""
    return array(name, t, F64, (n,))


def labels(name, value, n):
    """Class labels for n rows: None (no labels), one int for every row
    (broadcast), or an int32 array (n,) (np.intc, the header's int; not
    converted, as every array).  A label's range is the library's to check
    (ArgumentError names the row); a value that is no C int is a
    ValueError."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return array(name, value, I32, (n,))
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an int label or a numpy.ndarray of {I32.name}, "
                         "not a bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int label or a numpy.ndarray of {I32.name} "
                         f"(n,), not {type(value).__name__}") from None
    if not _INT_MIN <= v <= _INT_MAX:
        raise ValueError(f"{name} = {v} is not a C int")
    return np.full(n, v, dtype=I32)


def mask(name, a, shape):
    """A known-coordinates mask: a C-contiguous bool or uint8 array of
    `shape` (nonzero: known), passed as the header's unsigned char."""
    if isinstance(a, np.ndarray) and a.dtype == U8:
        return array(name, a, U8, shape)
    return array(name, a, BOOL, shape)


def ptr(a):
    """The ctypes pointer to a's data (float, double, int or byte), None
    for None."""
    if a is None:
        return None
    return a.ctypes.data_as(ctypes.POINTER(_CTYPE[a.dtype]))


def count(name, value):
    """A non-negative int (a count or size)."""
    try:
        v = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int, not {type(value).__name__}") from None
    if v < 0:
        raise ValueError(f"{name} must be >= 0, not {v}")
    return v


def c_int(name, value):
    """An int that is a C int (a rank, a world size)."""
    try:
        v = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int, not {type(value).__name__}") from None
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an int, not a bool")
    if not _INT_MIN <= v <= _INT_MAX:
        raise ValueError(f"{name} = {v} is not a C int")
    return v


def path(p):
    """A file name for the library: bytes in the file system's encoding."""
    return os.fsencode(p)


def enum_value(cls, value, what):
    """The member of IntEnum `cls` named by `value`: a member, an int, or
    the member's name in any case ("score" for Target.SCORE)."""
    if isinstance(value, str):
        try:
            return cls[value.upper()]
        except KeyError:
            pass
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        try:
            return cls(int(value))
        except ValueError:
            pass
    names = ", ".join(m.name.lower() for m in cls)
    raise ValueError(f"{what} must be one of {names} ({cls.__name__}), not {value!r}")


class Handle:
    """An owned library handle: released by close(), by `with`, or when the
    object is collected (weakref.finalize, which also runs at interpreter
    exit).  The library counts references between handles, so they may be
    released in any order."""

    __slots__ = ("_h", "_finalizer", "__weakref__")
    _FREE = None      # the name of the *_free function
    _ERRMSG = None    # the name of the *_errmsg function

    def _own(self, handle):
        self._h = handle
        self._finalizer = weakref.finalize(self, getattr(lib, self._FREE), handle)

    @classmethod
    def _wrap(cls, handle):
        obj = cls.__new__(cls)
        obj._own(handle)
        return obj

    @property
    def _ptr(self):
        h = getattr(self, "_h", None)
        if h is None:
            raise ValueError(f"{type(self).__name__} is closed")
        return h

    @property
    def closed(self):
        return getattr(self, "_h", None) is None

    def close(self):
        """Releases the handle (again: nothing)."""
        if getattr(self, "_h", None) is not None:
            self._h = None
            self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def errmsg(self):
        """The last error message recorded on the handle ("" if none)."""
        return getattr(lib, self._ERRMSG)(self._ptr).decode(errors="replace")

    # ------------------------------------------------------------ options
    @classmethod
    def option_bounds(cls, name):
        """(lo, hi), the inclusive bounds of option `name`."""
        member, _ = cls._option(name)
        lo, hi = ctypes.c_double(), ctypes.c_double()
        check(cls._BOUNDS(member, ctypes.byref(lo), ctypes.byref(hi)))
        return lo.value, hi.value

    @classmethod
    def _option(cls, name):
        try:
            return cls._OPTIONS[name]
        except KeyError:
            raise TypeError(f"{cls.__name__} has no option {name!r}; options: "
                            + ", ".join(cls._OPTIONS)) from None

    def set_option(self, name, value):
        """Sets option `name` (enum-valued options also take a member or
        its name); RangeError names the option and its bounds."""
        member, venum = self._option(name)
        if venum is not None:
            v = float(enum_value(venum, value, f"{type(self).__name__}.{name}"))
        else:
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{type(self).__name__}.{name} must be a number, "
                                 f"not {value!r}") from None
        status = type(self)._SET(self._ptr, member, v)
        if status != _api.CEM_OK:
            err = error(status)
            lo, hi = self.option_bounds(name)
            err = type(err)(err.status, f"{type(self).__name__}.{name} = {value!r} rejected "
                            f"(bounds [{lo:g}, {hi:g}]): {err.message}", err.name)
            raise err

    def get_option(self, name):
        """The value of option `name`: the enum member for enum-valued
        options, otherwise a float (the library stores doubles)."""
        member, venum = self._option(name)
        v = ctypes.c_double()
        check(type(self)._GET(self._ptr, member, ctypes.byref(v)))
        if venum is not None:
            try:
                return venum(int(v.value))
            except ValueError:
                return int(v.value)
        return v.value

    def options(self):
        """{name: value} of every option this handle supports."""
        out = {}
        for name in self._OPTIONS:
            try:
                out[name] = self.get_option(name)
            except Exception as e:  # an option of another kind of handle
                if getattr(e, "status", None) != _api.CEM_ERR_UNSUPPORTED:
                    raise
        return out

    def _apply(self, options):
        """Sets keyword options in the order given."""
        for name, value in options.items():
            self.set_option(name, value)

    def _own_then(self, handle, setup=None, options=None):
        """Owns handle, then runs setup() and applies options; on any
        failure the handle is released and the error re-raised."""
        self._own(handle)
        try:
            if setup is not None:
                setup()
            self._apply(options or {})
        except BaseException:
            self.close()
            raise


def progress_property(doc):
    """The `progress` property of an object with a Progress in _progress."""
    def get(self):
        return self._progress.fn

    def set_(self, fn):
        if fn is not None and not callable(fn):
            raise ValueError("progress must be callable or None")
        self._progress.fn = fn
    return property(get, set_, doc=doc)


class Progress:
    """A library progress callback (cem_progress_fn, cem_sampler_progress_fn)
    around the user's fn(a, b) (step and loss, or rows done and rows asked):
    a true return stops the run; an exception (KeyboardInterrupt included)
    is kept for the run to re-raise, and stops it (the header's non-zero
    return), as does Ctrl-C's flag `interrupted` (sigint_sets_flag).  `last`
    is the first argument last seen.  Holds no reference to the handle's
    object (no cycle)."""

    __slots__ = ("fn", "exc", "interrupted", "last", "cfunc")

    def __init__(self, cfunctype):
        self.fn, self.exc, self.interrupted, self.last = None, None, False, 0
        self.cfunc = cfunctype(self)

    def reset(self):
        self.exc, self.interrupted, self.last = None, False, 0

    def __call__(self, a, b, user):
        self.last = a
        try:
            if self.interrupted:
                return 1
            return 1 if self.fn is not None and self.fn(a, b) else 0
        except BaseException as e:  # noqa: B902 -- re-raised after the run
            self.exc = e
            return 1

    def raise_pending(self):
        """After a run: the callback's exception, or KeyboardInterrupt."""
        exc, self.exc = self.exc, None
        if exc is not None:
            raise exc
        if self.interrupted:
            raise KeyboardInterrupt


def with_options(enum_cls, prefix, rename=None):
    """Class decorator: an option property per member of the option enum
    `enum_cls` (CEM_TRAINER_LR -> .lr), using the functions
    cem_<prefix>_set/_get/_option_bounds.  An option whose name is also the
    suffix of an enum typedef (ACTIVATION -> cem_activation) takes and
    returns that enum's members.  `rename` maps an option's lower-case name
    to the Python name it takes when a method has its name
    (CEM_SAMPLER_IMPUTE -> impute_method beside Sampler.impute)."""
    rename = rename or {}

    def decorate(cls):
        cls._SET = getattr(lib, f"cem_{prefix}_set")
        cls._GET = getattr(lib, f"cem_{prefix}_get")
        cls._BOUNDS = getattr(lib, f"cem_{prefix}_option_bounds")
        cls._OPTIONS = {}
        for member in enum_cls:
            cname = member.name.lower()
            name = rename.get(cname, cname)
            if hasattr(cls, name):
                raise RuntimeError(f"option {member.name} clashes with {cls.__name__}.{name}")
            venum = _api.ENUMS.get("cem_" + cname)
            cls._OPTIONS[name] = (member, venum)
            setattr(cls, name, property(
                lambda self, n=name: self.get_option(n),
                lambda self, value, n=name: self.set_option(n, value),
                doc=f"Option {enum_cls.__name__}.{member.name}"
                    + (f" (a {venum.__name__})" if venum else "")
                    + f": cem_{prefix}_get / cem_{prefix}_set."))
        return cls

    return decorate


@contextlib.contextmanager
def sigint_sets_flag(progress):
    """While training on the main thread with Python's default SIGINT
    handling, Ctrl-C sets progress.interrupted (read by the callback after
    the current step) instead of raising wherever the interpreter happens to
    be, which could be outside the callback's try."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return

    def handler(signum, frame):
        progress.interrupted = True

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
