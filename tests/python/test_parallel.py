"""Data-parallel training from Python (Trainer.set_reduce): ranks are
Python threads of this process, each running its own trainer's run() at
the same time (ctypes releases the GIL during the call), and the reduce
function sums their micro-batches through a shared numpy buffer behind a
threading.Barrier, as tests/test_parallel.c does with pthreads.  Summed
in micro-batch order the ranks hold bitwise the weights of one trainer
with the same ACCUMULATE."""

import gc
import sys
import threading
import time
import unittest

import numpy as np

from common import cemdiff, circle

A = 6          # micro-batches a step (ACCUMULATE)
TIMEOUT = 120  # seconds a barrier or a join may wait before the test fails


def small_trainer(data, accumulate=A):
    """The C suite's network: width 32, depth 2, BATCH 60, THREADS 1."""
    with cemdiff.Model(2, "cem", width=32, depth=2) as m:
        return cemdiff.Trainer(m, data, batch=60, threads=1, accumulate=accumulate)


def stats_len(data):
    """The length m of the library's stats, learnt from a failing one-rank
    step (which takes no step)."""
    seen = []

    class Probe(Exception):
        pass

    def probe(grad, stats, first, parts):
        seen.append((grad.shape, stats.shape, first, parts))
        raise Probe

    with small_trainer(data) as tr:
        tr.set_reduce(0, 1, probe)
        try:
            tr.run(1)
        except Probe:
            pass
        assert tr.steps == 0
    (rows, n), (rows2, m), first, parts = seen[0]
    assert (rows, rows2, first, parts) == (A, A, 0, A)
    return m


class Meeting:
    """The ranks' shared memory: one row per micro-batch, filled by its
    rank, then summed by every rank in micro-batch order (or reversed)."""

    def __init__(self, world, n, m, reverse=False, fail_rank=-1):
        self.grad = np.zeros((A, n), dtype=np.float32)
        self.stats = np.zeros((A, m), dtype=np.float64)
        self.barrier = threading.Barrier(world, timeout=TIMEOUT)
        self.reverse, self.fail_rank = reverse, fail_rank
        self.calls = [0] * world

    def reduce_fn(self, rank):
        def fn(grad, stats, first, parts):
            self.calls[rank] += 1
            assert grad.dtype == np.float32 and stats.dtype == np.float64
            assert grad.shape == (max(parts, 1), self.grad.shape[1])
            assert stats.shape == (max(parts, 1), self.stats.shape[1])
            self.grad[first:first + parts] = grad[:parts]
            self.stats[first:first + parts] = stats[:parts]
            self.barrier.wait()
            order = range(A - 1, -1, -1) if self.reverse else range(A)
            g, s = None, None
            for k in order:  # ((g_0 + g_1) + g_2) + ... in float32 and float64
                if g is None:
                    g, s = self.grad[k].copy(), self.stats[k].copy()
                else:
                    g += self.grad[k]
                    s += self.stats[k]
            grad[0] = g
            stats[0] = s
            self.barrier.wait()  # every rank has read the rows
            if rank == self.fail_rank:
                raise RuntimeError(f"rank {rank} fails")
        return fn


def run_world(trainers, steps, m, reverse=False, fail_rank=-1):
    """Runs `steps` steps of every trainer, one thread a rank; returns each
    rank's result: the mean loss or the exception its run raised."""
    world = len(trainers)
    n = trainers[0].model.param_count
    mt = Meeting(world, n, m, reverse, fail_rank)
    for r, tr in enumerate(trainers):
        tr.set_reduce(r, world, mt.reduce_fn(r))
    out = [None] * world

    def rank_main(r):
        try:
            out[r] = trainers[r].run(steps)
        except BaseException as e:  # noqa: B902 -- reported to the test
            out[r] = e

    threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(world)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(TIMEOUT)
        assert not th.is_alive(), "a rank did not finish"
    return out, mt


class Parallel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = circle(256)
        cls.m = stats_len(cls.data)

    def params(self, tr):
        return tr.model.get_params(), tr.model.get_params(ema=True)

    def test_ranks_equal_one_trainer_bitwise(self):
        steps = 4
        with small_trainer(self.data) as one:
            one.run(steps)
            want, want_ema = self.params(one)
            want_bins = one.time_bins()
        for world in (1, 2, 3):
            trainers = [small_trainer(self.data) for _ in range(world)]
            try:
                out, mt = run_world(trainers, steps, self.m)
                for r, tr in enumerate(trainers):
                    self.assertIsInstance(out[r], float, f"world {world}, rank {r}: {out[r]!r}")
                    self.assertEqual(tr.steps, steps)
                    self.assertEqual(mt.calls[r], steps)
                    got, got_ema = self.params(tr)
                    self.assertTrue(np.array_equal(got, want), f"world {world}, rank {r}")
                    self.assertTrue(np.array_equal(got_ema, want_ema), f"world {world}, rank {r}")
                    bins = tr.time_bins()
                    self.assertTrue(np.array_equal(bins.count, want_bins.count))
                    self.assertTrue(np.array_equal(bins.mean, want_bins.mean, equal_nan=True))
            finally:
                for tr in trainers:
                    tr.close()

    def test_unordered_sum_equals_to_round_off(self):
        with small_trainer(self.data) as one:
            one.run(3)
            want = one.model.get_params()
        trainers = [small_trainer(self.data) for _ in range(2)]
        try:
            out, _ = run_world(trainers, 3, self.m, reverse=True)
            for r, tr in enumerate(trainers):
                self.assertIsInstance(out[r], float, repr(out[r]))
                got = tr.model.get_params()
                self.assertLessEqual(np.max(np.abs(got.astype(np.float64) - want)), 1e-5)
        finally:
            for tr in trainers:
                tr.close()

    def test_resume_across_world_sizes(self):
        """3 steps by two ranks, saved by rank 0, then 3 by one trainer:
        bitwise 6 steps of one (checkpoints hold no rank)."""
        with small_trainer(self.data) as one:
            one.run(6)
            want = one.model.get_params()
        trainers = [small_trainer(self.data) for _ in range(2)]
        try:
            out, _ = run_world(trainers, 3, self.m)
            self.assertIsInstance(out[0], float, repr(out[0]))
            buf = trainers[0].to_bytes()
        finally:
            for tr in trainers:
                tr.close()
        with cemdiff.Trainer.from_bytes(buf, self.data) as resumed:
            resumed.threads = 1
            resumed.run(3)
            self.assertTrue(np.array_equal(resumed.model.get_params(), want))

    def test_exception_in_reduce_fails_the_step_and_is_reraised(self):
        # one rank: the third call raises; two steps are kept, the third
        # is not taken, and run re-raises the exception itself
        calls = []

        def fn(grad, stats, first, parts):
            calls.append((first, parts))
            if len(calls) == 3:
                raise ZeroDivisionError("from the reduce function")
            grad[0] = np.sum(grad[:parts], axis=0) if parts > 1 else grad[0]
            for k in range(1, parts):
                stats[0] += stats[k]

        with small_trainer(self.data) as tr:
            tr.set_reduce(0, 1, fn)
            with self.assertRaisesRegex(ZeroDivisionError, "from the reduce function"):
                tr.run(10)
            self.assertEqual(tr.steps, 2)
            self.assertIn("reduce callback of rank 0 of 1", tr.errmsg)
            before = tr.model.get_params()
            calls.clear()
            calls.append(None)
            calls.append(None)  # the next call is the third: it raises again
            with self.assertRaises(ZeroDivisionError):
                tr.run(1)
            self.assertEqual(tr.steps, 2)
            self.assertTrue(np.array_equal(tr.model.get_params(), before))
            # KeyboardInterrupt too is kept and re-raised, never unwound
            # through the library
            tr.set_reduce(0, 1, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
            with self.assertRaises(KeyboardInterrupt):
                tr.run(1)
            self.assertEqual(tr.steps, 2)
            # off again: a single trainer
            tr.set_reduce(0, 1, None)
            tr.run(2)
            self.assertEqual(tr.steps, 4)

    def test_failing_rank_fails_its_step_alone(self):
        """Rank 1 of 2 raises after the exchange: its step is not taken and
        its weights are unchanged; rank 0 steps."""
        trainers = [small_trainer(self.data) for _ in range(2)]
        try:
            before = trainers[1].model.get_params()
            out, _ = run_world(trainers, 1, self.m, fail_rank=1)
            self.assertIsInstance(out[0], float, repr(out[0]))
            self.assertIsInstance(out[1], RuntimeError)
            self.assertEqual(str(out[1]), "rank 1 fails")
            self.assertEqual(trainers[0].steps, 1)
            self.assertEqual(trainers[1].steps, 0)
            self.assertTrue(np.array_equal(trainers[1].model.get_params(), before))
        finally:
            for tr in trainers:
                tr.close()

    def test_set_reduce_arguments(self):
        fn = lambda grad, stats, first, parts: None  # noqa: E731
        with small_trainer(self.data, accumulate=2) as tr:
            for rank, world, f in ((0, 0, fn), (2, 2, fn), (-1, 2, fn), (0, 2, None)):
                with self.assertRaises(cemdiff.ArgumentError) as cm:
                    tr.set_reduce(rank, world, f)
                self.assertIn("cem_trainer_set_reduce", cm.exception.message)
            for rank, world, f in (("0", 1, fn), (0, 1.0, fn), (True, 1, fn), (2 ** 40, 1, fn),
                                   (0, 1, 3), (0, 1, "fn")):
                with self.assertRaises(ValueError):
                    tr.set_reduce(rank, world, f)
            tr.set_reduce(0, 1, None)
            tr.run(1)
            self.assertEqual(tr.steps, 1)
            self.assertEqual(tr.accumulate, 2)
            with self.assertRaises(cemdiff.RangeError):
                tr.accumulate = 0
            with self.assertRaises(cemdiff.RangeError):
                tr.accumulate = 4097
            self.assertEqual(cemdiff.Trainer.option_bounds("accumulate"), (1, 4096))
            # the batch calls never reduce: rank 1 of 3 computes the whole batch
            tr.set_reduce(1, 3, lambda *a: self.fail("reduce called by step_batch"))
            x0 = np.array([[1, 0], [0, 1]], dtype=np.float32)
            z = np.array([[0.1, 0.2], [-0.3, 0.4]], dtype=np.float32)
            tr.step_batch(x0, np.array([0.01, 1.0]), z)
            self.assertEqual(tr.steps, 2)
        with self.assertRaises(ValueError):
            tr.set_reduce(0, 1, None)  # closed
        self.assertIs(cemdiff.ReduceError, cemdiff.errors.ReduceError)
        self.assertTrue(issubclass(cemdiff.ReduceError, cemdiff.Error))
        self.assertEqual(cemdiff.ReduceError(-18, "m").name, "CEM_ERR_REDUCE")

    def test_callback_kept_alive_by_the_trainer(self):
        seen = []
        with small_trainer(self.data) as tr:
            def make():
                def fn(grad, stats, first, parts):
                    seen.append(parts)
                    for k in range(1, parts):
                        grad[0] += grad[k]
                        stats[0] += stats[k]
                return fn
            tr.set_reduce(0, 1, make())  # the only reference is the trainer's
            gc.collect()
            tr.run(2)
            self.assertEqual(seen, [A, A])

    def test_accumulation_is_the_same_batch(self):
        rng = np.random.default_rng(3)
        B = 40
        x0 = self.data[rng.integers(0, len(self.data), B)]
        z = rng.standard_normal((B, 2)).astype(np.float32)
        t = 1e-3 * 1e4 ** ((np.arange(B) + 0.5) / B)
        with small_trainer(self.data, accumulate=1) as tr:
            l1, g1 = tr.loss_batch(x0, t, z, grad=True)
            tr.accumulate = 4
            l4, g4 = tr.loss_batch(x0, t, z, grad=True)
            self.assertEqual(tr.steps, 0)
        self.assertLessEqual(abs(l4 - l1), 1e-6 * abs(l1))
        self.assertLessEqual(np.max(np.abs(g4.astype(np.float64) - g1)),
                             1e-5 * np.max(np.abs(g1)))

    def test_run_releases_the_gil(self):
        """While one thread is inside cem_trainer_run, another Python thread
        keeps running: the samples it takes leave no gap of half the run's
        length.  The package's own progress callback takes the GIL after
        every step, so the switch interval is made long: the other thread
        then runs only when the GIL is released, as ctypes.CDLL does during
        the call (with ctypes.PyDLL it would not run at all)."""
        with small_trainer(self.data, accumulate=1) as tr:
            tr.run(5)  # the workspace made
            t0 = time.perf_counter()
            tr.run(50)
            per_step = (time.perf_counter() - t0) / 50
            steps = max(50, int(0.3 / per_step))
            span = []
            th = threading.Thread(target=lambda: span.extend(
                (time.perf_counter(), tr.run(steps), time.perf_counter())))
            ticks = []
            interval = sys.getswitchinterval()
            sys.setswitchinterval(5.0)
            try:
                th.start()
                while th.is_alive():
                    ticks.append(time.perf_counter())
                    time.sleep(0.001)
                th.join()
            finally:
                sys.setswitchinterval(interval)
        start, _, end = span
        self.assertGreater(end - start, 0.05)
        inside = [start] + [x for x in ticks if start < x < end] + [end]
        gap = max(b - a for a, b in zip(inside, inside[1:]))
        self.assertLess(gap, 0.5 * (end - start),
                        f"run of {end - start:.3f} s: the other thread stopped {gap:.3f} s")

if __name__ == "__main__":
    unittest.main()
