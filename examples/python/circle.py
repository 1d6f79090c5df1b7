#!/usr/bin/python3
"""circle.py -- train a CEM model on the unit circle from Python, sample it,
measure the samples with the library's metrics, and draw them when
matplotlib is importable.

    make all && /usr/bin/python3 examples/python/circle.py [--steps 3000] [--plot circle.png]

Runs from the source tree (python/ and lib/ are found next to this file);
an installed package needs nothing.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, os.pardir, os.pardir, "python"))

import cemdiff  # noqa: E402


def report(step, loss):
    """The progress callback: a line every 500 steps (None: keep going)."""
    if step % 500 == 0:
        print(f"step {step:5d}  loss {loss:.4f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=3000, help="training steps")
    ap.add_argument("-n", type=int, default=2000, help="samples")
    ap.add_argument("--plot", metavar="PNG", help="where to draw the samples")
    args = ap.parse_args()

    with cemdiff.Dataset("circle", 2) as circle:
        data = circle.sample(2000, seed=1)
        with cemdiff.Model(2, "cem", width=64, depth=3) as model:
            with cemdiff.Trainer(model, data, batch=256, lr=2e-3) as trainer:
                trainer.progress = report
                trainer.run(args.steps)
            with cemdiff.Sampler(model, steps=100, seed=2) as sampler:
                x = sampler.run(args.n)

        mean, p95, mx = cemdiff.metric_distance(circle, x)
        print(f"distance to the circle: mean {mean:.4f}, p95 {p95:.4f}, max {mx:.4f}")
        print(f"KS of the angles:       {cemdiff.metric_ks(circle, x):.4f}")
        print(f"sliced W2 to the data:  {cemdiff.metric_sliced_w2(data, x, directions=128):.4f}")
        print(f"energy distance:        {cemdiff.metric_energy(data, x):.5f}")

    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not importable: no plot")
            return
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(data[:, 0], data[:, 1], s=2, alpha=0.3, label="data")
        ax.scatter(x[:, 0], x[:, 1], s=2, label="samples")
        ax.set_aspect("equal")
        ax.legend()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
