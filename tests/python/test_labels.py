"""Classes, mixtures, imputation and the CSV readers in the cemdiff package,
against truths computed independently of the library's labelled paths:
the class-only empirical model, the Gaussian model and a numpy closed form
of the mixture, the Gaussian's Schur complement, bitwise resumption of a
labelled trainer, and files written here."""

import os
import tempfile
import unittest

import numpy as np

from common import cemdiff, tiny_model


def gauss_f(x, t, mean, cov):
    """E[X_0 | X_t = x] for X_0 ~ N(mean, cov), in double (numpy)."""
    alpha, sigma2 = cemdiff.ou_coefficients(t)
    c = alpha * alpha * cov + sigma2 * np.eye(len(mean))
    return mean + (alpha * cov @ np.linalg.solve(c, (x - alpha * mean).T)).T


def mixture_f(x, t, weights, means, covs):
    """E[X_0 | X_t = x] for the mixture sum_k w_k N(means[k], covs[k]):
    the components' answers weighted by their posterior, in double."""
    alpha, sigma2 = cemdiff.ou_coefficients(t)
    logp, fs = [], []
    for w, m, c in zip(weights, means, covs):
        ct = alpha * alpha * c + sigma2 * np.eye(len(m))
        d = x - alpha * m
        _, logdet = np.linalg.slogdet(ct)
        logp.append(np.log(w) - 0.5 * logdet
                    - 0.5 * np.einsum("ij,ij->i", d, np.linalg.solve(ct, d.T).T))
        fs.append(gauss_f(x, t, m, c))
    logp = np.array(logp)
    post = np.exp(logp - logp.max(axis=0))
    post /= post.sum(axis=0)
    return np.einsum("ki,kij->ij", post, np.array(fs))


def random_covs(rng, k, dim):
    a = rng.normal(size=(k, dim, dim))
    return (a @ a.transpose(0, 2, 1) / dim + 0.1 * np.eye(dim)).astype(np.float32)


class LabelledModels(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(0)
        self.pts = rng.normal(size=(300, 3)).astype(np.float32)
        self.lab = rng.integers(0, 3, 300).astype(np.intc)
        self.x = rng.normal(size=(100, 3)).astype(np.float32)
        self.t = np.geomspace(1e-3, 5.0, 100)

    def test_empirical_class_is_the_empirical_model_of_its_points(self):
        with cemdiff.Model.empirical(self.pts, labels=self.lab) as m:
            self.assertEqual((m.kind, m.labels), (cemdiff.ModelKind.EMPIRICAL, 3.0))
            for k in range(3):
                with cemdiff.Model.empirical(np.ascontiguousarray(self.pts[self.lab == k])) as e:
                    for what in ("cem", "score"):
                        np.testing.assert_allclose(m.eval(self.x, self.t, what, labels=k),
                                                   e.eval(self.x, self.t, what),
                                                   rtol=1e-6, atol=1e-6)
            with cemdiff.Model.empirical(self.pts) as everything:
                want = everything.eval(self.x, self.t)
                np.testing.assert_allclose(m.eval(self.x, self.t, labels=cemdiff.LABEL_NONE),
                                           want, rtol=1e-6, atol=1e-6)
                np.testing.assert_array_equal(m.eval(self.x, self.t), want)
            # a label per row: row i answers for its own class; a number t
            # is every row's time
            rows = np.array([i % 4 - 1 for i in range(100)], dtype=np.intc)
            mixed = m.eval(self.x, 0.3, labels=rows)
            for k in (-1, 0, 1, 2):
                sel = rows == k
                np.testing.assert_array_equal(mixed[sel], m.eval(self.x, 0.3, labels=k)[sel])
            # an unlabelled model takes CEM_LABEL_NONE only
            with cemdiff.Model.empirical(self.pts) as plain:
                self.assertEqual(plain.labels, 0.0)
                np.testing.assert_array_equal(plain.eval(self.x, self.t, labels=-1),
                                              plain.eval(self.x, self.t))
                with self.assertRaisesRegex(cemdiff.ArgumentError, "cem_model_eval_labelled"):
                    plain.eval(self.x, self.t, labels=0)
            with self.assertRaisesRegex(cemdiff.ArgumentError, "outside"):
                m.eval(self.x, self.t, labels=3)

    def test_mixture_against_gaussians_and_the_closed_form(self):
        rng = np.random.default_rng(1)
        means = rng.normal(size=(3, 3)).astype(np.float32)
        covs = random_covs(rng, 3, 3)
        weights = np.array([0.2, 0.5, 0.3])
        with cemdiff.Model.mixture(means, covs, weights) as mx:
            self.assertEqual((mx.kind, mx.labels, mx.dim), (cemdiff.ModelKind.MIXTURE, 3.0, 3))
            for k in range(3):  # class k is component k's closed form, exactly
                with cemdiff.Model.gaussian(means[k], covs[k]) as g:
                    for what in ("cem", "noise", "score"):
                        np.testing.assert_array_equal(mx.eval(self.x, self.t, what, labels=k),
                                                      g.eval(self.x, self.t, what))
            for t in (0.01, 0.3, 2.0):
                want = mixture_f(self.x.astype(np.float64), t, weights,
                                 means.astype(np.float64), covs.astype(np.float64))
                np.testing.assert_allclose(mx.eval(self.x, t), want, rtol=1e-4, atol=1e-4)
        # weights are normalised; None is equal weights
        with cemdiff.Model.mixture(means, covs, 10 * weights) as a, \
                cemdiff.Model.mixture(means, covs) as b:
            want = mixture_f(self.x.astype(np.float64), 0.3, weights, means.astype(np.float64),
                             covs.astype(np.float64))
            np.testing.assert_allclose(a.eval(self.x, 0.3), want, rtol=1e-4, atol=1e-4)
            equal = mixture_f(self.x.astype(np.float64), 0.3, np.ones(3) / 3,
                              means.astype(np.float64), covs.astype(np.float64))
            np.testing.assert_allclose(b.eval(self.x, 0.3), equal, rtol=1e-4, atol=1e-4)

    def test_mixture_of_one_is_the_gaussian(self):
        rng = np.random.default_rng(2)
        mean = rng.normal(size=3).astype(np.float32)
        cov = random_covs(rng, 1, 3)[0]
        with cemdiff.Model.mixture(mean[None, :].copy(), cov[None].copy()) as one, \
                cemdiff.Model.gaussian(mean, cov) as g:
            self.assertEqual(one.labels, 1.0)
            for what in ("cem", "noise", "score"):
                np.testing.assert_allclose(one.eval(self.x, self.t, what),
                                           g.eval(self.x, self.t, what), rtol=1e-6, atol=1e-6)
                np.testing.assert_allclose(one.eval(self.x, 0.5, what),
                                           g.eval(self.x, 0.5, what), rtol=1e-6, atol=1e-6)
            with cemdiff.Sampler(one, steps=30, threads=1) as s1, \
                    cemdiff.Sampler(g, steps=30, threads=1) as s2:
                np.testing.assert_allclose(s1.run(200), s2.run(200), rtol=1e-5, atol=1e-5)

    def test_mixture_errors(self):
        rng = np.random.default_rng(3)
        means = rng.normal(size=(2, 2)).astype(np.float32)
        covs = random_covs(rng, 2, 2)
        with self.assertRaisesRegex(cemdiff.ArgumentError, "cem_model_create_mixture"):
            cemdiff.Model.mixture(means, covs, np.array([1.0, -1.0]))
        bad = covs.copy()
        bad[1, 0, 1] += 1.0  # not symmetric
        with self.assertRaises(cemdiff.NumericError):
            cemdiff.Model.mixture(means, bad)
        with self.assertRaisesRegex(ValueError, r"covs must have shape \(2, 2, 2\)"):
            cemdiff.Model.mixture(means, covs[:1].copy())
        with self.assertRaisesRegex(ValueError, "weights must have dtype float64"):
            cemdiff.Model.mixture(means, covs, np.ones(2, np.float32))
        with self.assertRaisesRegex(ValueError, "means must have dtype float32"):
            cemdiff.Model.mixture(means.astype(np.float64), covs)

    def test_label_arguments_are_checked_before_the_call(self):
        with cemdiff.Model.empirical(self.pts, labels=self.lab) as m:
            for bad, what in [(self.lab[:100].astype(np.int64), "dtype int32"),
                              (self.lab[:99].copy(), r"shape \(100,\)"),
                              (self.lab[:200:2], "C-contiguous"),
                              ([0] * 100, "int label or a numpy.ndarray"),
                              (1.0, "int label or a numpy.ndarray"),
                              (True, "not a bool"),
                              (2 ** 40, "not a C int")]:
                with self.assertRaisesRegex(ValueError, what):
                    m.eval(self.x, self.t, labels=bad)
        with self.assertRaisesRegex(ValueError, "labels must have dtype int32"):
            cemdiff.Model.empirical(self.pts, labels=self.lab.astype(np.int64))
        with self.assertRaisesRegex(cemdiff.ArgumentError, "cem_model_create_empirical_labelled"):
            cemdiff.Model.empirical(self.pts, labels=np.full(300, -1, np.intc))


class LabelledSampling(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(4)
        self.means = np.array([[-3.0, 0.0], [3.0, 0.0]], np.float32)
        self.covs = random_covs(rng, 2, 2) * np.float32(0.1)
        self.mx = cemdiff.Model.mixture(self.means, self.covs)

    def tearDown(self):
        self.mx.close()

    def test_labels_as_rows_option_and_the_components(self):
        with cemdiff.Sampler(self.mx, steps=40, integrator="ancestral", seed=3, threads=1) as s:
            plain = s.run(300)
            np.testing.assert_array_equal(s.run(300, labels=-1), plain)
            rows = (np.arange(300) % 3 - 1).astype(np.intc)
            mixed = s.run(300, labels=rows)
            np.testing.assert_array_equal(mixed[rows == -1], plain[rows == -1])
            for k in range(2):
                by_arg = s.run(300, labels=k)
                s.label = k
                np.testing.assert_array_equal(s.run(300), by_arg)  # the option: every row
                s.label = -1
                np.testing.assert_array_equal(mixed[rows == k], by_arg[rows == k])
                # a piece of the rows is the same rows of the whole
                np.testing.assert_array_equal(s.run(100, first=50, labels=k), by_arg[50:150])
                # guidance 0, class k: a sample of component k, bitwise the
                # Gaussian's sampler
                with cemdiff.Model.gaussian(self.means[k], self.covs[k]) as g, \
                        cemdiff.Sampler(g, steps=40, integrator="ancestral", seed=3,
                                        threads=1) as sg:
                    np.testing.assert_array_equal(by_arg, sg.run(300))
                self.assertLess(abs(float(by_arg[:, 0].mean()) - self.means[k, 0]), 0.2)
            with self.assertRaisesRegex(cemdiff.ArgumentError, "cem_sampler_run_labelled"):
                s.run(10, labels=2)
            with self.assertRaises(cemdiff.RangeError):
                s.label = 2

    def test_guidance_pushes_rows_to_their_class(self):
        # overlapping classes: N(-0.5, .) and N(0.5, .); guidance moves the
        # class-1 samples further from class 0 (f_w = (1 + w) f_k - w f)
        means = np.array([[-0.5, 0.0], [0.5, 0.0]], np.float32)
        covs = np.stack([np.eye(2, dtype=np.float32)] * 2)
        with cemdiff.Model.mixture(means, covs) as mx, \
                cemdiff.Sampler(mx, steps=60, integrator="ancestral", threads=1) as s:
            self.assertEqual(s.guidance, 0.0)
            free = s.run(2000, labels=1)
            s.guidance = 3.0
            guided = s.run(2000, labels=1)
            self.assertEqual(s.guidance, 3.0)
            np.testing.assert_array_equal(s.run(2000), s.run(2000, labels=-1))
        se = np.sqrt(2.0 / 2000)
        self.assertLess(abs(float(free[:, 0].mean()) - 0.5), 4 * se)
        self.assertGreater(float(guided[:, 0].mean()), 0.5 + 5 * se)


class Imputation(unittest.TestCase):
    MU = np.array([0.5, -0.3], np.float32)
    S = np.array([[1.0, 0.8], [0.8, 1.2]], np.float32)

    def test_gaussian_conditional_mean_is_the_schur_complement(self):
        """x1 = 1 known: x2 | x1 ~ N(mu_2 + S_21/S_11 (x1 - mu_1),
        S_22 - S_21^2/S_11); RePaint with 20 jumps on the exact model."""
        n, x1 = 4000, 1.0
        mu, S = self.MU.astype(np.float64), self.S.astype(np.float64)
        want = mu[1] + S[1, 0] / S[0, 0] * (x1 - mu[0])
        var = S[1, 1] - S[1, 0] ** 2 / S[0, 0]
        se = np.sqrt(var / n)
        x = np.empty((n, 2), np.float32)
        x[:, 0], x[:, 1] = x1, np.nan
        with cemdiff.Model.gaussian(self.MU, self.S) as g, \
                cemdiff.Sampler(g, integrator="ancestral", jumps=20, threads=1) as s:
            self.assertEqual((s.impute_method, s.jump_length, s.jumps),
                             (cemdiff.Impute.REPAINT, 10.0, 20.0))
            out = s.impute(x)
            self.assertEqual((out.shape, out.dtype), ((n, 2), np.float32))
            self.assertTrue((out[:, 0] == np.float32(x1)).all())
            self.assertTrue(np.isfinite(out[:, 1]).all())
            mean = float(out[:, 1].mean())
            self.assertLess(abs(mean - want), 3.5 * se, f"mean {mean:.4f}, exact {want:.4f}")
            # the same rows by a mask: the missing entries are not read
            known = np.zeros((n, 2), bool)
            known[:, 0] = True
            x[:, 1] = 123.0
            np.testing.assert_array_equal(s.impute(x, known=known), out)
            np.testing.assert_array_equal(s.impute(x, known=known.astype(np.uint8)), out)

    def test_known_coordinates_bitwise_rows_and_pieces(self):
        rng = np.random.default_rng(5)
        x = rng.normal(size=(40, 2)).astype(np.float32) * np.float32(np.pi)
        x[::2, 1] = np.nan
        x[1::4, 0] = np.nan
        x[3] = np.nan           # nothing known: an ordinary sample of row 3
        with cemdiff.Model.gaussian(self.MU, self.S) as g, \
                cemdiff.Sampler(g, steps=30, integrator="ancestral", jumps=2,
                                jump_length=5, seed=9, threads=1) as s:
            out = s.impute(x)
            known = ~np.isnan(x)
            self.assertEqual(out[known].tobytes(), x[known].tobytes())
            self.assertTrue(np.isfinite(out).all())
            full = x[2:3].copy()
            full[0, 1] = 0.25   # nothing missing: copied
            np.testing.assert_array_equal(s.impute(full), full)
            np.testing.assert_array_equal(s.impute(x[10:20].copy(), first=10), out[10:20])
            s.jumps = 0
            np.testing.assert_array_equal(s.impute(x)[3], s.run(4)[3])
            s.impute_method = "reconstruct"
            self.assertIs(s.impute_method, cemdiff.Impute.RECONSTRUCT)
            s.recon_weight = 0.5
            rec = s.impute(x)
            self.assertEqual(rec[known].tobytes(), x[known].tobytes())

    def test_labelled_imputation_and_errors(self):
        means = np.array([[-2.0, -2.0], [2.0, 2.0]], np.float32)
        covs = np.stack([np.eye(2, dtype=np.float32) * np.float32(0.05)] * 2)
        x = np.array([[np.nan, 0.0]] * 200, np.float32)
        with cemdiff.Model.mixture(means, covs) as mx, \
                cemdiff.Sampler(mx, integrator="ancestral", jumps=5, threads=1) as s:
            # each class completes with its own component: x_0 | class k
            # is N(mean_k,0, 0.05), coordinates independent
            for k in range(2):
                out = s.impute(x, labels=k)
                self.assertLess(abs(float(out[:, 0].mean()) - means[k, 0]), 0.1)
                self.assertTrue((out[:, 1] == 0).all())
            s.impute_method = "reconstruct"
            with self.assertRaisesRegex(cemdiff.UnsupportedError, "cem_sampler_impute"):
                s.impute(x, labels=1)
            s.impute_method = "repaint"
            s.integrator = "dpmpp_2m"
            with self.assertRaises(cemdiff.UnsupportedError):
                s.impute(x)
            s.jumps = 0
            s.impute(x)
            bad = x.copy()
            bad[5, 1] = np.inf
            with self.assertRaises(cemdiff.NonFiniteError):
                s.impute(bad)
            known = np.ones((200, 2), bool)
            with self.assertRaises(cemdiff.NonFiniteError):  # a NaN marked known
                s.impute(x, known=known)
            for bad_known, what in [(known.astype(np.int32), "dtype bool"),
                                    (known[:, :1].copy(), r"shape \(200, 2\)"),
                                    (known.tolist(), "numpy.ndarray")]:
                with self.assertRaisesRegex(ValueError, what):
                    s.impute(x, known=bad_known)
            with self.assertRaisesRegex(ValueError, "x must have dtype float32"):
                s.impute(x.astype(np.float64))


class LabelledTraining(unittest.TestCase):
    def data(self):
        with cemdiff.Dataset("circle", 2) as d:
            x = d.sample(192, seed=1)
        labels = (x[:, 0] > 0).astype(np.intc)
        labels[::7] = cemdiff.LABEL_NONE
        return x, labels

    def test_save_load_resumes_bitwise(self):
        x, labels = self.data()
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "t.cem")
            with tiny_model(labels=2, label_embed=4, seed=2) as m, \
                    cemdiff.Trainer(m, x, labels, batch=32, threads=1, seed=7,
                                    label_dropout=0.2) as tr:
                self.assertEqual((m.labels, m.label_embed, tr.label_dropout), (2.0, 4.0, 0.2))
                tr.run(15)
                tr.save(p)
                buf = tr.to_bytes()
                tr.run(15)
                want = m.get_params(ema=False), m.get_params(ema=True)
            for make in (lambda: cemdiff.Trainer.load(p, x, labels=labels),
                         lambda: cemdiff.Trainer.from_bytes(buf, x, labels=labels)):
                with make() as again:
                    self.assertEqual((again.steps, again.label_dropout), (15, 0.2))
                    again.run(15)
                    self.assertEqual(again.model.get_params(ema=False).tobytes(),
                                     want[0].tobytes())
                    self.assertEqual(again.model.get_params(ema=True).tobytes(),
                                     want[1].tobytes())
                    self.assertEqual(again.model.labels, 2.0)
            with self.assertRaisesRegex(cemdiff.ArgumentError, "cem_trainer_load"):
                cemdiff.Trainer.load(p, x)  # a labelled checkpoint needs its labels
            other = labels.copy()
            other[0] = 1 - other[0] if other[0] >= 0 else 0
            with self.assertRaises(cemdiff.ArgumentError):  # not the labels it was made with
                cemdiff.Trainer.load(p, x, labels=other)
            with self.assertRaises(cemdiff.ArgumentError):
                cemdiff.Trainer.from_bytes(buf, x)

    def test_batches_with_labels(self):
        x, labels = self.data()
        rng = np.random.default_rng(6)
        x0 = x[:16].copy()
        z = rng.normal(size=(16, 2)).astype(np.float32)
        t = np.geomspace(0.01, 2.0, 16)
        with tiny_model(labels=2) as m, cemdiff.Trainer(m, x, labels, batch=32, threads=1) as tr:
            plain = tr.loss_batch(x0, t, z)
            # unlabelled batches are batches of CEM_LABEL_NONE rows
            self.assertEqual(tr.loss_batch(x0, t, z, labels=-1), plain)
            loss, grad = tr.loss_batch(x0, t, z, grad=True, labels=labels[:16])
            self.assertNotEqual(loss, plain)
            self.assertEqual(grad.shape, (m.param_count,))
            self.assertEqual(tr.step_batch(x0, t, z, labels=labels[:16]), loss)
            self.assertEqual(tr.steps, 1)
            with self.assertRaisesRegex(cemdiff.ArgumentError, "labelled"):
                tr.step_batch(x0, t, z, labels=2)
            with self.assertRaisesRegex(ValueError, r"labels must have shape \(16,\)"):
                tr.loss_batch(x0, t, z, labels=labels)
            self.assertEqual(tr.steps, 1)
        with tiny_model() as m:  # a model without classes takes no labels
            with self.assertRaisesRegex(cemdiff.ArgumentError, "cem_trainer_create_labelled"):
                cemdiff.Trainer(m, x, labels)

    def test_trained_labels_move_the_samples(self):
        """Two classes, the left and right halves of the circle: after a
        short training the class-1 samples lie mostly on the right."""
        x, labels = self.data()
        with tiny_model(labels=2) as m, \
                cemdiff.Trainer(m, x, labels, batch=64, lr=3e-3, threads=1) as tr, \
                cemdiff.Sampler(m, steps=30, threads=1) as s:
            tr.run(600)
            right = s.run(400, labels=1)
            left = s.run(400, labels=0)
        self.assertGreater(float((right[:, 0] > 0).mean()), 0.8)
        self.assertGreater(float((left[:, 0] < 0).mean()), 0.8)


class LabelledCSV(unittest.TestCase):
    def test_label_column_round_trip(self):
        rng = np.random.default_rng(7)
        x = rng.normal(size=(25, 3)).astype(np.float32)
        labels = rng.integers(-1, 5, 25).astype(np.intc)
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "l.csv")
            with open(p, "w") as f:
                f.write("# x0, label, x1, x2\n")
                for row, k in zip(x, labels):
                    f.write(f"{row[0]!r},{k},{row[1]!r},{row[2]!r}\n")
            data, lab = cemdiff.csv_read(p, label_col=1)
            self.assertEqual((data.dtype, lab.dtype), (np.float32, np.intc))
            np.testing.assert_array_equal(data, x)
            np.testing.assert_array_equal(lab, labels)
            # the column is read from where it is
            cemdiff.csv_write(p, np.hstack([x, labels[:, None].astype(np.float32)]))
            data, lab = cemdiff.csv_read(p, label_col=3)
            np.testing.assert_array_equal(data, x)
            np.testing.assert_array_equal(lab, labels)
            with self.assertRaises(cemdiff.ParseError):  # 1.5 is no class
                cemdiff.csv_read(p, label_col=0)
            with self.assertRaisesRegex(ValueError, "label_col must be >= 0"):
                cemdiff.csv_read(p, label_col=-1)
            # the labels a file gives are labels a model takes
            with cemdiff.Model.empirical(data, labels=np.where(lab < 0, 0, lab)) as m:
                self.assertEqual(m.labels, float(max(lab.max(), 0) + 1))

    def test_missing_values_round_trip(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "m.csv")
            with open(p, "w") as f:
                f.write("1.5,,2\n, 0.25 ,\n# a comment\n-1,2,3\n")
            x = cemdiff.csv_read_missing(p)
            want = np.array([[1.5, np.nan, 2], [np.nan, 0.25, np.nan], [-1, 2, 3]], np.float32)
            np.testing.assert_array_equal(x, want)  # NaN where NaN
            with self.assertRaises(cemdiff.ParseError):
                cemdiff.csv_read(p)
            with open(p, "w") as f:
                f.write("1,nan,2\n")
            with self.assertRaises(cemdiff.NonFiniteError):
                cemdiff.csv_read_missing(p)
            # what the reader gives, impute completes
            with open(p, "w") as f:
                f.write("0.5,\n,1\n")
            identity = np.eye(2, dtype=np.float32)
            with cemdiff.Model.gaussian(np.zeros(2, np.float32), identity) as g, \
                    cemdiff.Sampler(g, steps=20, jumps=1, threads=1) as s:
                x = cemdiff.csv_read_missing(p)
                out = s.impute(x)
            self.assertEqual((out[0, 0], out[1, 1]), (np.float32(0.5), np.float32(1)))
            self.assertTrue(np.isfinite(out).all())


class NewOptions(unittest.TestCase):
    def test_options_are_properties_with_the_header_bounds(self):
        self.assertEqual(cemdiff.Model.option_bounds("labels"), (0.0, 65536.0))
        self.assertEqual(cemdiff.Model.option_bounds("label_embed"), (1.0, 1024.0))
        self.assertEqual(cemdiff.Trainer.option_bounds("label_dropout"), (0.0, 1.0))
        self.assertEqual(cemdiff.Sampler.option_bounds("guidance"), (0.0, 100.0))
        self.assertEqual(cemdiff.Sampler.option_bounds("jumps"), (0.0, 1000.0))
        self.assertEqual(cemdiff.Sampler.option_bounds("recon_weight"), (0.0, 1e4))
        self.assertEqual(cemdiff.Sampler.option_bounds("impute_method"),
                         (float(min(cemdiff.Impute)), float(max(cemdiff.Impute))))
        with cemdiff.Model.gaussian(np.zeros(2, np.float32), np.eye(2, dtype=np.float32)) as g, \
                cemdiff.Sampler(g, impute_method="reconstruct", jumps=3, jump_length=4,
                                recon_weight=2.0, guidance=0.5) as s:
            opts = s.options()
            self.assertEqual((opts["impute_method"], opts["jumps"], opts["jump_length"],
                              opts["recon_weight"], opts["guidance"], opts["label"]),
                             (cemdiff.Impute.RECONSTRUCT, 3.0, 4.0, 2.0, 0.5, -1.0))
            self.assertTrue(callable(s.impute))
            with self.assertRaisesRegex(ValueError, "must be one of repaint, reconstruct"):
                s.impute_method = "inpaint"
            with self.assertRaises(cemdiff.UnsupportedError):
                g.labels = 2  # set only on an MLP
        with tiny_model(labels=3) as m:
            self.assertEqual(m.labels, 3.0)
            m.labels = 0
            self.assertEqual(m.labels, 0.0)


if __name__ == "__main__":
    unittest.main()
