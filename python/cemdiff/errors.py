"""The exceptions: one class per CEM_ERR_* status of the header.

Every class derives from Error and carries .status (the int code), .name
(e.g. "CEM_ERR_RANGE") and .message (the library's explanation from
cem_last_error, which names the function, the argument and the value).
The classes are made from the CEM_ERR_* names of the generated _api.py:
CEM_ERR_NONFINITE_STEP -> NonFiniteStepError, with the abbreviations ARG,
NOMEM, NONFINITE spelt out (ArgumentError, NoMemoryError, NonFiniteError).
A status the bindings do not know raises Error itself.
"""

from . import _api
from ._lib import lib


class Error(Exception):
    """A libcemdiff call failed: .status, .name, .message."""

    def __init__(self, status, message, name=None):
        self.status = status
        self.name = name or _NAMES.get(status, f"status {status}")
        self.message = message
        super().__init__(f"{self.name}: {message}")


_WORDS = {"ARG": "Argument", "NOMEM": "NoMemory", "NONFINITE": "NonFinite", "IO": "IO"}
_NAMES = {}       # status -> CEM_ERR_* name
_CLASSES = {}     # status -> class
__all__ = ["Error"]

for _name in sorted((n for n in dir(_api) if n.startswith("CEM_ERR_")),
                    key=lambda n: -getattr(_api, n)):
    _status = getattr(_api, _name)
    _cls_name = "".join(_WORDS.get(w, w.capitalize())
                        for w in _name[len("CEM_ERR_"):].split("_")) + "Error"
    _doc = lib.cem_status_string(_status).decode()
    _cls = type(_cls_name, (Error,), {"__doc__": f"{_name}: {_doc}.", "__module__": __name__})
    _NAMES[_status] = _name
    _CLASSES[_status] = _cls
    globals()[_cls_name] = _cls
    __all__.append(_cls_name)


def error(status, prefix=""):
    """The exception for a failed call's status, with cem_last_error()'s
    message (read now: the next failing call on this thread replaces it)."""
    message = lib.cem_last_error().decode(errors="replace")
    if not message:
        message = lib.cem_status_string(status).decode()
    return _CLASSES.get(status, Error)(status, prefix + message, _NAMES.get(status))


def check(status, prefix=""):
    """Raises the exception for status unless it is CEM_OK."""
    if status != _api.CEM_OK:
        raise error(status, prefix)
