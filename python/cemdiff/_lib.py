"""Finding, loading and checking libcemdiff.

Lookup order (the first that loads wins):
  1. the environment variable CEMDIFF_LIBRARY, a path; when it is set it is
     the only place tried (an explicit choice is never silently replaced);
  2. the path recorded at install time in _libpath.txt next to this file;
  3. the build tree: ../../lib/libcemdiff.so relative to this package, when
     it sits in the source tree (python/cemdiff/);
  4. ctypes.util.find_library("cemdiff"), then the soname
     libcemdiff.so.MAJOR through the dynamic loader's search path.
ImportError lists every place tried.  The library's major version must be
the header's (CEM_VERSION_MAJOR of _api.py), and it must export every
function of the header.
"""

import ctypes
import ctypes.util
import os

from . import _api

_HERE = os.path.dirname(os.path.abspath(__file__))
SONAME = f"libcemdiff.so.{_api.CEM_VERSION_MAJOR}"


def _candidates():
    """(where, path or None) in lookup order, after CEMDIFF_LIBRARY."""
    out = []
    record = os.path.join(_HERE, "_libpath.txt")
    try:
        with open(record, encoding="utf-8") as f:
            path = f.read().strip()
        out.append((f"recorded in {record}", path or None))
    except FileNotFoundError:
        out.append((f"{record} (absent)", None))
    build = os.path.normpath(os.path.join(_HERE, os.pardir, os.pardir, "lib", "libcemdiff.so"))
    out.append(("build tree", build))
    found = ctypes.util.find_library("cemdiff")
    out.append(("ctypes.util.find_library('cemdiff')" + ("" if found else " (nothing)"), found))
    out.append(("dynamic loader", SONAME))
    return out


def _open(path):
    lib = ctypes.CDLL(path)
    try:
        _api.bind(lib)
    except AttributeError as e:
        raise OSError(f"lacks a function of the header ({e}): older than include/cemdiff.h?") from None
    major = lib.cem_version_number() // 10000
    if major != _api.CEM_VERSION_MAJOR:
        raise OSError(f"is version {lib.cem_version_string().decode()}, the bindings "
                      f"need major version {_api.CEM_VERSION_MAJOR}")
    return lib


def load():
    """(ctypes.CDLL, the path or name it was loaded from); ImportError
    listing every place tried when none works."""
    env = os.environ.get("CEMDIFF_LIBRARY")
    if env:
        try:
            return _open(env), env
        except OSError as e:
            raise ImportError(f"cemdiff: CEMDIFF_LIBRARY={env} cannot be used: {e}") from None
    tried = ["CEMDIFF_LIBRARY (unset)"]
    for where, path in _candidates():
        if path is None:
            tried.append(where)
            continue
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{where}: {path} (no such file)")
            continue
        try:
            return _open(path), path
        except OSError as e:
            tried.append(f"{where}: {path} ({e})")
    raise ImportError("cemdiff: libcemdiff not found; tried\n  " + "\n  ".join(tried)
                      + "\nSet CEMDIFF_LIBRARY to the path of libcemdiff.so.")


lib, path = load()
