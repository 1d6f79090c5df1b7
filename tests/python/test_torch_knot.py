"""tests/torch_recipes.py's knot is the library's: the same curve, the same
law (uniform in arc length) and the same distance function, so that the
PyTorch check of docs/RECIPES.md compares training and sampling, not data or
metrics.  Needs Debian's python3-numpy; skipped without PyTorch (the script
imports it)."""

import os
import sys
import unittest

import numpy as np

from common import cemdiff  # the package of this source tree

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir))
try:
    import torch_recipes as T  # tests/torch_recipes.py
except ImportError as e:  # no PyTorch
    T = None
    WHY = str(e)


@unittest.skipIf(T is None, "tests/torch_recipes.py needs PyTorch")
class TorchKnotIsTheLibrarys(unittest.TestCase):
    def test_draws_lie_on_the_librarys_knot_with_its_law(self):
        lib = cemdiff.Dataset("knot", 3)
        pts = T.Dataset("knot").sample(7, 20000)
        self.assertLess(cemdiff.metric_distance(lib, pts)[2], 1e-6)
        # KS against the library's arc-length law: 0.0138 is its 0.1% point
        self.assertLess(cemdiff.metric_ks(lib, pts), 0.0138)

    def test_distance_functions_agree(self):
        lib = cemdiff.Dataset("knot", 3)
        x = lib.sample(3000, seed=5).astype(np.float64)
        rng = np.random.default_rng(0)
        for s in (0.003, 0.05):
            y = (x + s * rng.standard_normal(x.shape)).astype(np.float32)
            d_torch, _ = T.Dataset("knot").distance_and_coordinate(y)
            mean, p95, mx = cemdiff.metric_distance(lib, y)
            self.assertAlmostEqual(d_torch.mean(), mean, delta=1e-6)
            self.assertAlmostEqual(float(d_torch.max()), mx, delta=1e-6)


if __name__ == "__main__":
    unittest.main()
