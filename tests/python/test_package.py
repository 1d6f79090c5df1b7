"""The cemdiff package: training, sampling, checkpoints, errors, callbacks,
handle lifetimes and the agreement with the C library called from C."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import numpy as np

from common import PYDIR, ROOT, cemdiff, circle, tiny_model, tiny_trainer


def run_python(code, env=None, cwd=None, timeout=60):
    """Runs `code` in a fresh interpreter with the package importable."""
    e = dict(os.environ, PYTHONPATH=PYDIR)
    e.pop("CEMDIFF_LIBRARY", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=e, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def interrupted_child(test, code, timeout):
    """Runs `code` in a fresh interpreter, waits for it to print "ready",
    sends SIGINT half a second later; (returncode, stdout, stderr, seconds
    from the signal to the exit)."""
    env = dict(os.environ, PYTHONPATH=PYDIR)
    env.pop("CEMDIFF_LIBRARY", None)
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        test.assertEqual(p.stdout.readline().strip(), "ready")
        time.sleep(0.5)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=timeout)
        elapsed = time.monotonic() - sent
    finally:
        p.kill()
        p.wait()
    return p.returncode, out, err, elapsed


class Workflow(unittest.TestCase):
    def test_train_sample_evaluate_on_a_circle(self):
        data = circle(512)
        d = cemdiff.Dataset("circle", 2)
        with cemdiff.Model(2, width=32, depth=2) as m, \
                cemdiff.Trainer(m, data, batch=128, lr=3e-3, threads=1) as tr, \
                cemdiff.Sampler(m, steps=30, threads=1) as s:
            before = cemdiff.metric_distance(d, s.run(400))[0]
            loss = tr.run(1500)  # about 0.1 s
            self.assertEqual(tr.steps, 1500)
            self.assertTrue(np.isfinite(loss))
            x = s.run(400)
        self.assertEqual((x.shape, x.dtype), ((400, 2), np.float32))
        mean, p95, mx = cemdiff.metric_distance(d, x)
        self.assertLessEqual(mean, p95)
        self.assertLessEqual(p95, mx)
        self.assertLess(mean, 0.1)  # training moved the samples to the circle (0.026)
        self.assertLess(mean, 0.5 * before)
        self.assertAlmostEqual(mean, float(d.distance(x).mean()), places=6)
        self.assertGreater(cemdiff.metric_sliced_w2(data, x, directions=32), 0)
        self.assertGreater(cemdiff.metric_energy(data, x), 0)
        self.assertGreater(cemdiff.metric_mmd(data, x, 0.5), 0)
        self.assertTrue(0 < cemdiff.metric_ks(d, x) <= 1)
        d.close()

    def test_model_eval_and_conversions(self):
        pts = circle(64)
        with cemdiff.Model.empirical(pts) as m:
            self.assertEqual((m.kind, m.target, m.dim, m.param_count),
                             (cemdiff.ModelKind.EMPIRICAL, cemdiff.Target.CEM, 2, 0))
            x = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
            t = np.full(50, 0.3)
            f = m.eval(x, t)
            np.testing.assert_allclose(m.eval(x, 0.3), f, rtol=1e-5, atol=1e-6)
            score = m.eval(x, t, what="score")
            alpha, sigma2 = cemdiff.ou_coefficients(0.3)
            np.testing.assert_allclose(score, (alpha * f - x) / sigma2, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(cemdiff.convert(f, x, t, "cem", cemdiff.Target.SCORE),
                                       score, rtol=1e-4, atol=1e-5)
            prof = m.singularity_profile(x[:8], cemdiff.time_grid(5, 1e-3, 1.0))
            self.assertEqual(prof.max.shape, (3, 5))
            self.assertLess(prof.slope[2], -0.5)  # the score blows up as t -> 0
        g = cemdiff.Model.gaussian(np.zeros(2, np.float32), np.eye(2, dtype=np.float32))
        # data N(0, I): X_t ~ N(0, I) and E[X_0 | X_t = x] = alpha_t x
        np.testing.assert_allclose(g.eval(x, 1.0), np.exp(-0.5) * x, rtol=1e-5, atol=1e-6)
        g.close()

    def test_grids_laws_datasets_csv(self):
        g = cemdiff.time_grid(10, 1e-3, 10.0)
        self.assertEqual((g[0], g[-1]), (1e-3, 10.0))
        u = cemdiff.time_grid(3, 1.0, 3.0, kind="uniform")
        np.testing.assert_allclose(u, [1, 2, 3])
        # the library's names are the enums' member names, which the
        # package accepts as strings: one spelling in C, the CLI and Python
        for cls, name_of in ((cemdiff.Grid, cemdiff.grid_name),
                             (cemdiff.Integrator, cemdiff.integrator_name)):
            self.assertEqual([name_of(m) for m in cls], [m.name.lower() for m in cls])
            self.assertIsNone(name_of(len(cls)))
        e = cemdiff.time_grid(5, 1e-3, 10.0, kind="edm")
        self.assertEqual((e[0], e[-1]), (1e-3, 10.0))
        self.assertTrue((np.diff(e) > 0).all())
        a = cemdiff.time_law_sample("loguniform", 20, 1e-3, 10.0, N=2, seed=3)
        b = cemdiff.time_law_sample("loguniform", 10, 1e-3, 10.0, N=2, seed=3)
        np.testing.assert_array_equal(a[:10], b)
        self.assertTrue(((a >= 1e-3) & (a <= 10)).all())
        with cemdiff.Dataset("points", 3, seed=1, npoints=7) as d:
            self.assertEqual((d.dim, d.native_dim, d.intrinsic_dim, d.npoints), (3, 2, 0, 7.0))
            d.set_affine(2.0, np.array([1.0, 0.0, -1.0]))
            scale, off = d.affine
            self.assertEqual(scale, 2.0)
            np.testing.assert_array_equal(off, [1, 0, -1])
            x = d.sample(100, seed=5)
            self.assertLess(d.distance(x).max(), 1e-5)
            self.assertTrue(((d.coordinate(x) > 0) & (d.coordinate(x) < 1)).all())
            self.assertEqual(d.coordinate_cdf(1.0), 1.0)
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "x.csv")
            x = circle(33)
            cemdiff.csv_write(p, x)
            np.testing.assert_array_equal(cemdiff.csv_read(p), x)

    def test_save_load_and_resume(self):
        data = circle(256)
        with tempfile.TemporaryDirectory() as tmp:
            mpath, tpath = os.path.join(tmp, "m.cem"), os.path.join(tmp, "t.cem")
            with tiny_model(seed=3) as m, tiny_trainer(m, data, seed=5) as tr:
                tr.run(20)
                tr.save(tpath)
                tr.run(20)
                want = m.get_params(ema=True)
                m.save(mpath)
                x = circle(10, seed=9)
                y = m.eval(x, 0.1)
                self.assertEqual(cemdiff.Model.from_bytes(m.to_bytes()).get_params().tobytes(),
                                 m.get_params().tobytes())
            with cemdiff.Model.load(mpath) as m2:
                np.testing.assert_array_equal(m2.eval(x, 0.1), y)
                self.assertEqual((m2.width, m2.depth, m2.embed), (16.0, 2.0, 8.0))
            with cemdiff.Trainer.load(tpath, data) as tr2:
                self.assertEqual(tr2.steps, 20)
                tr2.run(20)
                np.testing.assert_array_equal(tr2.model.get_params(ema=True), want)
                again = cemdiff.Trainer.from_bytes(tr2.to_bytes(), data)
                self.assertEqual(again.steps, 40)
                again.close()

    def test_batches_bins_params(self):
        data = circle(128)
        with tiny_model() as m, tiny_trainer(m, data) as tr:
            rng = np.random.default_rng(1)
            x0, z = data[:32].copy(), rng.normal(size=(32, 2)).astype(np.float32)
            t = np.linspace(0.01, 1.0, 32)
            loss, grad = tr.loss_batch(x0, t, z, grad=True)
            self.assertEqual(grad.shape, (m.param_count,))
            self.assertEqual(tr.step_batch(x0, t, z), loss)
            self.assertEqual(tr.steps, 1)
            bins = tr.time_bins(reset=True)
            self.assertEqual(int(bins.count.sum()), 32)
            self.assertEqual(int(tr.time_bins().count.sum()), 0)
            law = tr.law_bins()
            self.assertAlmostEqual(float(law.prob.sum()), 1.0, places=9)
        with tiny_model() as m:
            p = m.get_params() * 0.5
            m.set_params(p, ema=2)
            np.testing.assert_array_equal(m.get_params(ema=True), p)
            m.set_data_stats(np.array([1.0, 2.0]), 3.0)
            mean, sd = m.data_stats
            self.assertEqual((list(mean), sd), ([1.0, 2.0], 3.0))
            m.set_data_cov(np.diag([4.0, 1.0]))
            axes, axis_sd = m.data_axes
            np.testing.assert_allclose(axis_sd, [2.0, 1.0])
            np.testing.assert_allclose(np.abs(axes), np.eye(2), atol=1e-12)

    def test_sampler_options_and_trajectory(self):
        with cemdiff.Model.empirical(circle(32)) as m, \
                cemdiff.Sampler(m, steps=20, integrator="heun", traj_rows=3, threads=1) as s:
            self.assertEqual(s.integrator, cemdiff.Integrator.HEUN)
            s.seed = 4
            a = s.run(50)
            np.testing.assert_array_equal(s.run(20, first=30), a[30:])
            snaps, times = s.trajectory()
            self.assertEqual(snaps.shape, (len(times), 3, 2))
            self.assertEqual(len(s.times()), 20)
            self.assertEqual(s.diverged_rows, 0)
            self.assertEqual(cemdiff.Sampler.option_bounds("steps"), (2.0, 1e6))


class Likelihood(unittest.TestCase):
    def test_flow_logprob_encode_decode_on_a_gaussian(self):
        mu = np.array([0.5, -1.0], np.float32)
        cov = np.array([[1.0, 0.5], [0.5, 0.5]], np.float32)
        t1 = 1e-2
        rng = np.random.default_rng(4)
        alpha, sigma2 = cemdiff.ou_coefficients(t1)
        c = alpha * alpha * cov.astype(np.float64) + sigma2 * np.eye(2)
        x = (alpha * mu + rng.multivariate_normal(np.zeros(2), c, 50)).astype(np.float32)
        d = x.astype(np.float64) - alpha * mu
        want = (-np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(c))
                - 0.5 * np.einsum("ij,jk,ik->i", d, np.linalg.inv(c), d))
        with cemdiff.Model.gaussian(mu, cov) as m, \
                cemdiff.Flow(m, t_min=t1, t_max=40.0, rtol=1e-9, atol=1e-9, threads=1) as f:
            self.assertEqual(f.exact_dim, 64)
            lp, evals = f.logprob(x, evals=True)
            np.testing.assert_allclose(lp, want, atol=1e-4)
            self.assertTrue((evals > 7).all())
            z = f.encode(x)
            np.testing.assert_allclose(f.decode(z), x, atol=1e-4)
            with self.assertRaises(cemdiff.NonFiniteError):
                f.logprob(np.full((1, 2), np.nan, np.float32))
            f.max_steps = 10
            f.rtol = f.atol = 1e-12
            with self.assertRaises(cemdiff.NumericError) as e:
                f.logprob(x[:3])
            self.assertTrue(np.isnan(e.exception.values).all())


class Errors(unittest.TestCase):
    def setUp(self):
        self.m = tiny_model()

    def tearDown(self):
        self.m.close()

    def test_arrays_are_checked_before_the_call(self):
        x = circle(10)
        for bad, what in [(x.astype(np.float64), "dtype float32"),
                          (x[:, :1].copy(), "shape (n, 2)"),
                          (x.T.copy(), "shape (n, 2)"),
                          (np.asfortranarray(x), "C-contiguous"),
                          (x.tolist(), "numpy.ndarray"),
                          (None, "numpy.ndarray")]:
            with self.assertRaisesRegex(ValueError, what.replace("(", r"\(").replace(")", r"\)")):
                self.m.eval(bad, 0.1)
        with self.assertRaisesRegex(ValueError, "t must have shape"):
            self.m.eval(x, np.ones(9))
        with self.assertRaisesRegex(ValueError, "dtype float64"):
            self.m.eval(x, np.ones(10, dtype=np.float32))
        with self.assertRaisesRegex(ValueError, "np.ascontiguousarray"):
            cemdiff.Trainer(self.m, x[::2])

    def test_option_errors(self):
        with tiny_trainer(self.m, circle(64)) as tr:
            with self.assertRaises(cemdiff.RangeError) as cm:
                tr.lr = 20
            e = cm.exception
            self.assertEqual((e.status, e.name), (cemdiff._api.CEM_ERR_RANGE, "CEM_ERR_RANGE"))
            self.assertIn("Trainer.lr = 20 rejected (bounds [0, 10])", str(e))
            self.assertIn("cem_trainer_set", e.message)
            self.assertEqual(tr.lr, 1e-3)
            with self.assertRaisesRegex(cemdiff.RangeError, r"bounds \[1, 65536\].*whole number"):
                tr.batch = 1.5
            tr.time_law = "grid"
            self.assertIs(tr.time_law, cemdiff.TimeLaw.GRID)
            with self.assertRaisesRegex(ValueError, "must be one of grid, loguniform"):
                tr.time_law = "gaussian"
            with self.assertRaises(cemdiff.BusyError):  # the trainer owns the model
                self.m.width = 8
            with self.assertRaises(AttributeError):  # no silent typo
                tr.learning_rate = 1e-4
        with self.assertRaisesRegex(TypeError, "no option 'widht'"):
            cemdiff.Model(2, widht=3)
        with self.assertRaisesRegex(cemdiff.RangeError, r"Model.depth = 0 rejected \(bounds \[1, 64\]\)"):
            cemdiff.Model(2, depth=0)
        with cemdiff.Model.empirical(circle(8)) as e, self.assertRaises(cemdiff.UnsupportedError):
            e.width = 3

    def test_library_errors_carry_its_message(self):
        with self.assertRaises(cemdiff.ArgumentError) as cm:
            cemdiff.Model(0)
        self.assertIn("cem_model_create_mlp", cm.exception.message)
        self.assertEqual(cemdiff.last_error(), cm.exception.message)
        with self.assertRaises(cemdiff.ArgumentError):
            cemdiff.time_grid(1, 1e-3, 1.0)
        with self.assertRaises(cemdiff.NonFiniteError):
            cemdiff.Model.empirical(np.array([[0, np.nan]], dtype=np.float32))
        with self.assertRaises(cemdiff.UnsupportedError):
            cemdiff.time_law_sample("adaptive", 3, 1e-3, 1.0, N=2)
        with self.assertRaises(cemdiff.IOError):
            cemdiff.Model.load("/nonexistent/model.cem")
        self.assertTrue(issubclass(cemdiff.NoMemoryError, cemdiff.Error))
        self.assertEqual(cemdiff.status_string(-3), cemdiff.RangeError.__doc__[len("CEM_ERR_RANGE: "):-1])

    def test_misuse_of_handles(self):
        with self.assertRaisesRegex(ValueError, "must be a cemdiff.Model"):
            cemdiff.Trainer(None, circle(8))
        with self.assertRaisesRegex(ValueError, "must be a cemdiff.Model"):
            cemdiff.Sampler("model")
        with self.assertRaisesRegex(ValueError, "must be a cemdiff.Dataset"):
            cemdiff.metric_ks(None, circle(8))
        m = tiny_model()
        m.close()
        m.close()  # twice: nothing
        with self.assertRaisesRegex(ValueError, "Model is closed"):
            m.eval(circle(4), 0.1)
        with self.assertRaisesRegex(ValueError, "closed"):
            cemdiff.Sampler(m)

    def test_damaged_checkpoints(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "m.cem")
            self.m.save(p)
            with open(p, "rb") as f:
                good = f.read()
            damage = {
                cemdiff.ChecksumError: good[:-8] + bytes([good[-8] ^ 1]) + good[-7:],  # a weight
                cemdiff.CorruptError: good + b"\0\0\0\0",
                cemdiff.TruncatedError: good[:len(good) // 2],
                cemdiff.BadMagicError: b"not a checkpoint at all" * 4,
            }
            for cls, data in damage.items():
                with open(p, "wb") as f:
                    f.write(data)
                with self.assertRaises(cls) as cm:
                    cemdiff.Model.load(p)
                self.assertIsInstance(cm.exception, cemdiff.Error)
                self.assertIn("cem_model_load", cm.exception.message)
                with self.assertRaises(cls):
                    cemdiff.Model.from_bytes(data)


class Callbacks(unittest.TestCase):
    def test_exception_in_progress_stops_and_is_reraised(self):
        seen = []

        def progress(step, loss):
            seen.append((step, loss))
            if step == 7:
                raise ZeroDivisionError("from the callback")

        with tiny_model() as m, tiny_trainer(m, circle(128)) as tr:
            tr.progress = progress
            with self.assertRaisesRegex(ZeroDivisionError, "from the callback"):
                tr.run(1000)
            self.assertEqual(tr.steps, 7)
            self.assertEqual([s for s, _ in seen], list(range(1, 8)))
            tr.progress = lambda step, loss: step >= 10  # a true return stops quietly
            tr.run(1000)
            self.assertEqual(tr.steps, 10)
            tr.progress = None
            tr.run(3)
            self.assertEqual(tr.steps, 13)

    def test_ctrl_c_stops_the_run_within_a_step(self):
        for user_callback in (False, True):
            code = f"""
                import sys, time
                import numpy as np, cemdiff
                x = cemdiff.Dataset("circle", 2).sample(256)
                m = cemdiff.Model(2, width=16, depth=2)
                tr = cemdiff.Trainer(m, x, batch=64, threads=1)
                if {user_callback}:
                    tr.progress = lambda step, loss: None
                print("ready", flush=True)
                try:
                    tr.run(10**12)
                except KeyboardInterrupt:
                    print("interrupted", tr.steps, flush=True)
                    sys.exit(0)
                print("not interrupted", flush=True)
                """
            rc, out, err, elapsed = interrupted_child(self, code, 10)
            self.assertEqual(rc, 0, err)
            words = out.split()
            self.assertEqual(words[0], "interrupted", out + err)
            self.assertGreater(int(words[1]), 0)
            self.assertLess(elapsed, 2.0)

    def test_sampler_progress_stop_exception_and_ctrl_c(self):
        with tiny_model() as m, tiny_trainer(m, circle(128)) as tr:
            tr.run(5)
            with cemdiff.Sampler(m, steps=8, seed=3, threads=1) as s:
                whole = s.run(1200)
                seen = []
                s.progress = lambda done, total: seen.append((done, total)) or done >= 512
                with self.assertRaises(cemdiff.StoppedError) as cm:
                    s.run(1200)
                self.assertEqual(seen, [(256, 1200), (512, 1200)])
                self.assertTrue(np.array_equal(cm.exception.samples, whole[:512]))

                def boom(done, total):
                    raise ZeroDivisionError("from the sampler's callback")
                s.progress = boom
                with self.assertRaisesRegex(ZeroDivisionError, "sampler's callback"):
                    s.run(1200)
                s.progress = None
                self.assertTrue(np.array_equal(s.run(1200), whole))
        code = """
            import sys, time
            import numpy as np, cemdiff
            m = cemdiff.Model(2, width=256, depth=3)
            s = cemdiff.Sampler(m, steps=2000, threads=1)
            print("ready", flush=True)
            try:
                s.run(10**6)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
                sys.exit(0)
            print("not interrupted", flush=True)
            """
        rc, out, err, elapsed = interrupted_child(self, code, 30)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), "interrupted", out + err)
        # a wave is one block of 256 rows x 2000 steps of a 256-wide network
        self.assertLess(elapsed, 10.0)


class Lifetimes(unittest.TestCase):
    def test_borrowed_model_outlives_its_trainer(self):
        data = circle(128)
        m = tiny_model()
        tr = tiny_trainer(m, data)
        m.close()  # the trainer's reference keeps the model
        tr.run(5)
        borrowed = tr.model  # retained by the package
        self.assertIsNot(borrowed, m)
        tr.close()
        x = circle(16)
        y = borrowed.eval(x, 0.2)
        self.assertTrue(np.isfinite(y).all())
        borrowed.width = 8  # no trainer owns it any more
        borrowed.close()
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "t.cem")
            with tiny_model() as m2, tiny_trainer(m2, data) as tr2:
                tr2.run(3)
                tr2.save(p)
            tr3 = cemdiff.Trainer.load(p, data)
            owned = tr3.model
            del tr3  # collected: its finalizer frees the trainer
            self.assertEqual(owned.eval(x, 0.2).shape, (16, 2))

    def test_release_in_any_order_and_at_exit(self):
        r = run_python("""
            import gc, numpy as np, cemdiff
            d = cemdiff.Dataset("circle", 2)
            x = d.sample(128)
            m = cemdiff.Model(2, width=16, depth=2)
            tr = cemdiff.Trainer(m, x, batch=32, threads=1)
            s = cemdiff.Sampler(m, steps=5, threads=1)
            tr.run(2)
            del m; gc.collect()          # model first: trainer and sampler keep it
            s.run(10)
            keep = tr.model
            tr.close(); s.close(); keep.close(); d.close()
            m2 = cemdiff.Model(2, width=16, depth=2)
            tr2 = cemdiff.Trainer(m2, x, batch=32, threads=1)
            s2 = cemdiff.Sampler(m2, steps=5, threads=1)
            borrowed = tr2.model
            print("ok")                   # the rest is released at exit
            """)
        self.assertEqual((r.returncode, r.stdout.strip(), r.stderr), (0, "ok", ""))


class LibraryLookup(unittest.TestCase):
    def test_found_in_the_build_tree(self):
        self.assertEqual(os.path.realpath(cemdiff.library_path),
                         os.path.realpath(os.path.join(ROOT, "lib", "libcemdiff.so")))
        self.assertEqual(cemdiff.version_number() // 10000, cemdiff._api.CEM_VERSION_MAJOR)
        self.assertEqual(cemdiff.__version__, cemdiff.version_string())

    def test_environment_variable_and_recorded_path(self):
        r = run_python("import cemdiff", env={"CEMDIFF_LIBRARY": "/nonexistent/libcemdiff.so"})
        self.assertIn("CEMDIFF_LIBRARY=/nonexistent/libcemdiff.so cannot be used", r.stderr)
        lib = os.path.join(ROOT, "lib", "libcemdiff.so.0")
        with tempfile.TemporaryDirectory() as tmp:  # a copy of the package outside the tree
            shutil.copytree(os.path.join(PYDIR, "cemdiff"), os.path.join(tmp, "cemdiff"),
                            ignore=shutil.ignore_patterns("__pycache__"))
            env = {"PYTHONPATH": tmp}
            r = run_python("import cemdiff; print(cemdiff.library_path)", env=env, cwd=tmp)
            if r.returncode == 0:  # an installed libcemdiff answered the loader
                self.assertNotIn(tmp, r.stdout)
            else:
                for place in ("CEMDIFF_LIBRARY (unset)", "_libpath.txt (absent)",
                              "build tree", "find_library", "libcemdiff.so.0"):
                    self.assertIn(place, r.stderr)
            with open(os.path.join(tmp, "cemdiff", "_libpath.txt"), "w") as f:
                f.write(lib + "\n")
            r = run_python("import cemdiff; print(cemdiff.library_path)", env=env, cwd=tmp)
            self.assertEqual(r.stdout.strip(), lib, r.stderr)


class Example(unittest.TestCase):
    def test_circle_example_runs(self):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python", "circle.py"),
                            "--steps", "200", "-n", "200"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("distance to the circle: mean", r.stdout)
        self.assertIn("KS of the angles", r.stdout)


class AgreesWithC(unittest.TestCase):
    C_PROGRAM = r"""
        #include <stdio.h>
        #include <stdlib.h>
        #include <cemdiff.h>
        /* sample MODEL N SEED STEPS OUT: N samples of the model in OUT (raw floats). */
        int main(int argc, char **argv) {
            cem_model_t *m;
            cem_sampler_t *s;
            if (argc != 6 || cem_model_load(&m, argv[1]) != CEM_OK
                || cem_sampler_create(&s, m) != CEM_OK
                || cem_sampler_set(s, CEM_SAMPLER_SEED, atof(argv[3])) != CEM_OK
                || cem_sampler_set(s, CEM_SAMPLER_STEPS, atof(argv[4])) != CEM_OK) {
                fprintf(stderr, "%s\n", cem_last_error());
                return 1;
            }
            size_t n = (size_t)atol(argv[2]);
            float *out = malloc(n * cem_model_dim(m) * sizeof *out);
            FILE *f = fopen(argv[5], "wb");
            if (!out || !f || cem_sampler_run(s, n, out) != CEM_OK
                || fwrite(out, sizeof *out, n * cem_model_dim(m), f) != n * cem_model_dim(m)) {
                fprintf(stderr, "sampling failed: %s\n", cem_last_error());
                return 1;
            }
            fclose(f);
            free(out);
            cem_sampler_free(s);
            cem_model_free(m);
            return 0;
        }
        """

    def test_samples_are_bitwise_those_of_c(self):
        cc = shutil.which("cc")
        if cc is None:
            self.skipTest("no C compiler")
        with tempfile.TemporaryDirectory() as tmp:
            src, exe = os.path.join(tmp, "sample.c"), os.path.join(tmp, "sample")
            with open(src, "w") as f:
                f.write(textwrap.dedent(self.C_PROGRAM))
            libdir = os.path.join(ROOT, "lib")
            subprocess.run([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), src, "-o", exe,
                            "-L", libdir, "-lcemdiff", f"-Wl,-rpath,{libdir}"], check=True)
            mpath, out = os.path.join(tmp, "m.cem"), os.path.join(tmp, "c.f32")
            with tiny_model() as m:
                with tiny_trainer(m, circle(256)) as tr:
                    tr.run(50)
                m.save(mpath)
                for seed, steps in ((7, 20), (8, 50)):
                    subprocess.run([exe, mpath, "300", str(seed), str(steps), out], check=True)
                    with cemdiff.Sampler(m, seed=seed, steps=steps) as s:
                        py = s.run(300)
                    with open(out, "rb") as f:
                        self.assertEqual(py.tobytes(), f.read())


if __name__ == "__main__":
    unittest.main()
