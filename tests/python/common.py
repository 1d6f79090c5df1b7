"""Shared by the Python tests: paths, the package, tiny data and models.

Runs from the source tree: python/ is put first on sys.path and the
library is found in the build tree (make all).  Networks are tiny (width
16, depth 2) and training runs are a few hundred steps on one thread, so
the whole suite takes seconds.
"""

import os
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PYDIR = os.path.join(ROOT, "python")
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)

import cemdiff  # noqa: E402


def circle(n=256, seed=0):
    """n points of the unit circle, float32 (n, 2)."""
    with cemdiff.Dataset("circle", 2) as d:
        return d.sample(n, seed=seed)


def tiny_model(**options):
    """An untrained CEM MLP in R^2, 16 x 2."""
    return cemdiff.Model(2, "cem", width=16, depth=2, embed=8, **options)


def tiny_trainer(model, data, **options):
    """A one-thread trainer with small batches."""
    return cemdiff.Trainer(model, data, batch=64, threads=1, **options)
