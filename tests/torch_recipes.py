#!/usr/bin/python3
"""Independent PyTorch implementation of the training recipes that
examples/recipes.c compares (docs/RECIPES.md), written from the maths
(../shared/MATH.md 1-5 and 10, include/cemdiff.h) and not by calling the
library, so that the C measurement can be checked against a second code.

Recipes (network output, per-row loss; x_t = alpha x0 + sigma z,
alpha = exp(-t/2), sigma^2 = -expm1(-t), lambda = 1/expm1(t)):
  noise    eps                    |net - z|^2
  score    S                      sigma^2 |net + z/sigma|^2
  direct   f                      lambda |net - x0|^2            (the paper's CEM)
  precond  F, f = mu + c_skip (y - mu) + c_out F(g c_in (y - mu), t), y = x_t/alpha,
           g = max(1, sqrt(E / (2 D))) the input gain
                                  w c_out^2 |F - (x0 - mu - c_skip (y - mu))/c_out|^2,
                                  w = lambda + 1/sd^2            (EDM's weight)
  pca      the same along the principal axes u_k of the training data (numpy's
           eigh of its covariance), each with its own sd_k (at least 1e-3 sd),
           v = U (y - mu): f = mu + U^T (c_skip_k v_k + c_out_k F_k(g c_in v, t)),
           c_in of the one sd; per output k the weight (lambda + 1/sd_k^2) c_out_k^2 = 1
  pca_lambda  pca with the paper's weight: per output k, lambda c_out_k^2
  precond_lambda  precond with the paper's weight: lambda c_out^2
Time laws on [t1, T = 10]: grid (uniform over the 200-point exponential grid),
lognormal (EDM: ln s ~ N(-1.2, 1.2^2), s^2 = expm1(t), truncated by the
inverse CDF), adaptive (the library's ADAPTIVE law: 16 bins of log t, shares
0.25/16 + 0.75 e_b / sum e, e_b = max(0, L_b - L*_b), L_b the bin's EMA
(0.98) loss, L*_b the exact empirical model's loss on 2048 stratified draws of a stream of the seed).
Everything else as examples/recipes.c: MLP [u, phi(t)] -> 3 x 256 SiLU -> D,
torch.nn.Linear init, Adam 1e-3, batch 1024, EMA 0.995 (samples use it),
10,000 training points, 5,000 reference points, 5,000 samples by the
splitting sampler on the 200-point exponential grid from the matched prior
N(alpha_T mu, (alpha_T^2 sd^2 + sigma_T^2) I), returning f(y, t1).
Metrics: mean and p95 distance to the manifold, KS of the intrinsic
coordinate against Uniform(0, 1), sliced W2 (256 directions) against the
reference points; distances and W2 divided by the scale (circle50: 50).

Usage (Debian's /usr/bin/python3 with python3-torch and python3-numpy):
  python3 tests/torch_recipes.py --data circle --recipe precond --law adaptive \\
          --t1 1e-3 --steps 3000 --seed 0
  python3 tests/torch_recipes.py --all --out torch_runs.txt \\
          --laws noise=grid,score=grid,direct=grid,precond=adaptive
  python3 tests/torch_recipes.py --check --data circle --t1 1e-4
One run prints a line `RESULT data=... t1=... recipe=... law=... seed=...
steps=... mean=... p95=... ks=... sw2=... diverged=... seconds=...` at the end
(seconds: training time, as the C page reports; total=: with sampling and
metrics).  --all appends such lines to --out, skips runs already there (a
killed run resumes) and prints mean +- sd over seeds per (data, t1, recipe).
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch

T_MAX = 10.0
GRID_N = 200          # exponential grid: GRID law and sampler
EMBED = 32            # time features
WIDTH, DEPTH = 256, 3
BATCH = 1024
LR = 1e-3
EMA_DECAY = 0.995
LN_MEAN, LN_STD = -1.2, 1.2   # EDM's log-normal law
LAW_BINS = 16                 # the ADAPTIVE law
ADAPT_FLOOR = 0.25
LAW_DECAY = 0.98
FLOOR_ROWS = 2048
NREF = 5000
NSAMPLE = 5000
DIRECTIONS = 256
RECIPES = ("noise", "score", "direct", "precond", "pca", "pca_lambda", "precond_lambda")
PCA = ("pca", "pca_lambda")  # the recipes preconditioned along the principal axes
LAWS = ("grid", "lognormal", "adaptive", "loguniform")
DEFAULT_LAW = {r: "grid" for r in RECIPES}  # the library's default for every model
DATASETS = ("circle", "knot", "circle50")
DATA_SEED, REF_SEED, FLOOR_SEED, DIR_SEED = 1, 2, 0xF1007, 3

F64 = torch.float64


# ------------------------------------------------------------------ datasets

def knot_curve(v):
    """The trefoil of CEM_DATA_KNOT, c(v) = (sin a + 2 sin 2a, cos a - 2 cos 2a,
    -sin 3a)/3, a = 2 pi v, and its first two derivatives in v."""
    a = 2 * np.pi * v
    c = np.stack([np.sin(a) + 2 * np.sin(2 * a), np.cos(a) - 2 * np.cos(2 * a), -np.sin(3 * a)], -1) / 3
    w = 2 * np.pi
    c1 = w / 3 * np.stack([np.cos(a) + 4 * np.cos(2 * a), -np.sin(a) + 4 * np.sin(2 * a),
                           -3 * np.cos(3 * a)], -1)
    c2 = w * w / 3 * np.stack([-np.sin(a) - 8 * np.sin(2 * a), -np.cos(a) + 8 * np.cos(2 * a),
                               9 * np.sin(3 * a)], -1)
    return c, c1, c2


class Knot:
    """Arc length tabulated by Simpson's rule on 2^18 intervals (relative
    error far below 1e-10); distance by a scan of SCAN points, then a golden
    section search on the best grid point's bracket in the two best basins."""
    ARC_M = 1 << 18
    SCAN = 50000

    def __init__(self):
        M = self.ARC_M
        v = np.linspace(0.0, 1.0, M + 1)
        speed = lambda x: np.linalg.norm(knot_curve(x)[1], axis=-1)
        piece = (speed(v[:-1]) + 4 * speed(0.5 * (v[:-1] + v[1:])) + speed(v[1:])) / (6 * M)
        self.v = v
        self.s = np.concatenate([[0.0], np.cumsum(piece)])
        self.length = self.s[-1]
        self.grid_v = np.arange(self.SCAN) / self.SCAN
        self.grid = knot_curve(self.grid_v)[0]
        self.grid_sq = (self.grid ** 2).sum(1)

    def sample(self, rng, n):
        s = rng.uniform(0.0, self.length, n)
        return knot_curve(np.interp(s, self.s, self.v))[0]

    def fraction(self, v):
        return np.interp(np.mod(v, 1.0), self.v, self.s) / self.length

    def _golden(self, x, lo, hi, iters=48):
        """Golden-section search of |c(v) - x|^2 on [lo, hi], row by row."""
        g = (math.sqrt(5) - 1) / 2
        f = lambda v: ((knot_curve(v)[0] - x) ** 2).sum(1)
        a, b = lo.copy(), hi.copy()
        c, d = b - g * (b - a), a + g * (b - a)
        fc, fd = f(c), f(d)
        for _ in range(iters):
            left = fc < fd                      # the minimum is in [a, d]
            a, b = np.where(left, a, c), np.where(left, d, b)
            c, d = np.where(left, b - g * (b - a), d), np.where(left, c, a + g * (b - a))
            fnew = f(np.where(left, c, d))      # the one new point
            fc, fd = np.where(left, fnew, fd), np.where(left, fc, fnew)
        v = 0.5 * (a + b)
        return v, f(v)

    def project(self, x):
        """(distance, parameter v of the nearest point) for rows of x."""
        M = self.SCAN
        dist = np.empty(len(x))
        vbest = np.empty(len(x))
        excl = M // 100
        idx = np.arange(M)
        for i in range(0, len(x), 128):
            xc = x[i:i + 128]
            d2 = (xc ** 2).sum(1)[:, None] - 2 * xc @ self.grid.T + self.grid_sq[None, :]
            j1 = d2.argmin(1)
            # the best grid point outside the first basin's neighbourhood
            far = np.abs(((idx[None, :] - j1[:, None]) + M // 2) % M - M // 2) > excl
            j2 = np.where(far, d2, np.inf).argmin(1)
            best_f = np.full(len(xc), np.inf)
            best_v = np.zeros(len(xc))
            for j in (j1, j2):
                v0 = j / M
                v, fv = self._golden(xc, v0 - 1.5 / M, v0 + 1.5 / M)
                take = fv < best_f
                best_f = np.where(take, fv, best_f)
                best_v = np.where(take, v, best_v)
            dist[i:i + 128] = np.sqrt(np.maximum(best_f, 0.0))
            vbest[i:i + 128] = np.mod(best_v, 1.0)
        return dist, vbest


class Dataset:
    """circle, knot, circle50 (the unit circle at 100, -30 scaled by 50)."""

    def __init__(self, name):
        self.name = name
        self.scale, self.offset = (50.0, np.array([100.0, -30.0])) if name == "circle50" else (1.0, None)
        self.knot = Knot() if name == "knot" else None
        self.dim = 3 if name == "knot" else 2

    def sample(self, seed, n):
        rng = np.random.default_rng(seed)
        if self.knot is not None:
            p = self.knot.sample(rng, n)
        else:
            a = rng.uniform(0.0, 2 * np.pi, n)
            p = np.stack([np.cos(a), np.sin(a)], 1)
        if self.offset is not None:
            p = self.offset + self.scale * p
        return p.astype(np.float32)

    def _native(self, x):
        x = np.asarray(x, dtype=np.float64)
        return (x - self.offset) / self.scale if self.offset is not None else x

    def distance_and_coordinate(self, x):
        """Distance to the manifold in the data's scale divided by the scale
        (relative), and the intrinsic coordinate u in [0, 1)."""
        y = self._native(x)
        if self.knot is not None:
            d, v = self.knot.project(y)
            return d, self.knot.fraction(v)
        r = np.hypot(y[:, 0], y[:, 1])
        ang = np.arctan2(y[:, 1], y[:, 0])
        ang = np.where(ang < 0, ang + 2 * np.pi, ang)
        return np.abs(r - 1.0), np.minimum(ang / (2 * np.pi), np.nextafter(1.0, 0.0))


# ------------------------------------------------------------------ metrics

def ks_uniform(u):
    u = np.sort(u)
    n = len(u)
    return float(max((np.arange(1, n + 1) / n - u).max(), (u - np.arange(n) / n).max()))


def w2sq_1d(a, b):
    """Squared W2 of two sorted 1-D empirical laws (any sizes)."""
    na, nb = len(a), len(b)
    if na == nb:
        return float(np.mean((a - b) ** 2))
    ps = np.unique(np.concatenate([np.arange(1, na + 1) / na, np.arange(1, nb + 1) / nb]))
    prev = np.concatenate([[0.0], ps[:-1]])
    mid = 0.5 * (ps + prev)
    ia = np.minimum((mid * na).astype(np.int64), na - 1)
    ib = np.minimum((mid * nb).astype(np.int64), nb - 1)
    return float(((ps - prev) * (a[ia] - b[ib]) ** 2).sum())


def sliced_w2(x, ref, directions=DIRECTIONS, seed=DIR_SEED):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((directions, x.shape[1]))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    px = np.sort(np.asarray(x, np.float64) @ u.T, axis=0)
    pr = np.sort(np.asarray(ref, np.float64) @ u.T, axis=0)
    return math.sqrt(sum(w2sq_1d(px[:, l], pr[:, l]) for l in range(directions)) / directions)


# ------------------------------------------------------------------ process

def ou(t):
    """alpha_t, sigma_t^2, sigma_t, lambda(t) = 1/expm1(t) (float64 tensors or floats)."""
    if isinstance(t, torch.Tensor):
        s2 = -torch.expm1(-t)
        return torch.exp(-0.5 * t), s2, torch.sqrt(s2), 1.0 / torch.expm1(t)
    s2 = -math.expm1(-t)
    return math.exp(-0.5 * t), s2, math.sqrt(s2), 1.0 / math.expm1(t)


def precond_coeffs(t, sd):
    """c_skip, c_out, c_in (cemdiff.h, CEM_PARAM_PRECOND), s^2 = expm1(t)."""
    if isinstance(t, torch.Tensor):
        s2 = torch.expm1(t)
        v = s2 + sd * sd
        return sd * sd / v, torch.sqrt(s2) * sd / torch.sqrt(v), 1.0 / torch.sqrt(v)
    s2 = math.expm1(t)
    v = s2 + sd * sd
    return sd * sd / v, math.sqrt(s2) * sd / math.sqrt(v), 1.0 / math.sqrt(v)


def exp_grid(t1, T=None, N=GRID_N):
    """t_k = t1 (T/t1)^(k/(N-1)), k = 0..N-1, with exact ends (float64 numpy)."""
    T = T_MAX if T is None else T
    k = np.arange(N)
    g = t1 * np.exp(k / (N - 1) * math.log(T / t1))
    g[0], g[-1] = t1, T
    return g


class TimeLaw:
    def __init__(self, law, t1, T=None):
        T = T_MAX if T is None else T
        self.law, self.t1, self.T = law, t1, T
        self.lt1, self.lT = math.log(t1), math.log(T)
        self.grid = torch.tensor(exp_grid(t1, T), dtype=F64)
        if law == "lognormal":
            ls = lambda t: 0.5 * math.log(math.expm1(t))
            z = torch.tensor([(ls(t1) - LN_MEAN) / LN_STD, (ls(T) - LN_MEAN) / LN_STD], dtype=F64)
            self.pa, self.pb = torch.special.ndtr(z).tolist()
        # ADAPTIVE state
        self.floor = None
        self.loss = torch.full((LAW_BINS,), float("nan"), dtype=F64)
        self.cum = torch.linspace(0, 1, LAW_BINS + 1, dtype=F64)

    def clamp(self, t):
        return t.clamp(self.t1, self.T)

    def map(self, u):
        """Times from uniforms u (float64 tensor), as the library's inverse CDFs."""
        if self.law == "grid":
            k = (u * GRID_N).long().clamp(max=GRID_N - 1)
            return self.grid[k]
        if self.law == "loguniform":
            return self.clamp(self.t1 * torch.exp(u * (self.lT - self.lt1)))
        if self.law == "lognormal":
            z = torch.special.ndtri(self.pa + u * (self.pb - self.pa))
            ls = LN_MEAN + LN_STD * z
            return self.clamp(torch.log1p(torch.exp(2 * ls)))
        if self.law == "adaptive":
            K = LAW_BINS
            b = torch.searchsorted(self.cum[1:K].contiguous(), u, right=True)  # u >= cum[b+1] moves up
            lo, hi = self.cum[b], self.cum[b + 1]
            w = hi - lo
            v = torch.where(w > 0, (u - lo) / torch.where(w > 0, w, torch.ones_like(w)),
                            torch.full_like(u, 0.5)).clamp(0, 1)
            return self.clamp(torch.exp(self.lt1 + (self.lT - self.lt1) * (b.double() + v) / K))
        raise SystemExit(f"unknown law {self.law}")

    def bin_of(self, t, K=LAW_BINS):
        b = ((torch.log(t) - self.lt1) / (self.lT - self.lt1) * K).long()
        return b.clamp(0, K - 1)

    def shares(self):
        K = LAW_BINS
        if self.law == "adaptive" and self.floor is not None and not torch.isnan(self.loss).any():
            e = (self.loss - self.floor).clamp(min=0.0)
            tot = float(e.sum())
            q = ADAPT_FLOOR / K + (1 - ADAPT_FLOOR) * e / tot if tot > 0 else torch.full((K,), 1.0 / K, dtype=F64)
        else:
            q = torch.full((K,), 1.0 / K, dtype=F64)
        cum = torch.zeros(K + 1, dtype=F64)
        cum[1:] = torch.cumsum(q, 0)
        cum[K] = 1.0
        self.cum = cum
        return q

    def observe(self, t, row_loss):
        """The bins' moving-average losses after a step (rows' loss before any
        importance weight: none here), then the shares."""
        if self.law != "adaptive":
            return
        b = self.bin_of(t)
        cnt = torch.bincount(b, minlength=LAW_BINS).double()
        tot = torch.bincount(b, weights=row_loss.double(), minlength=LAW_BINS)
        for k in range(LAW_BINS):
            if cnt[k] > 0:
                m = float(tot[k] / cnt[k])
                self.loss[k] = m if math.isnan(float(self.loss[k])) else LAW_DECAY * float(self.loss[k]) + (1 - LAW_DECAY) * m
        self.shares()


# ------------------------------------------------------------------ model

def make_net(D, seed):
    torch.manual_seed(seed)
    layers, fan_in = [], D + EMBED
    for _ in range(DEPTH):
        layers += [torch.nn.Linear(fan_in, WIDTH), torch.nn.SiLU()]
        fan_in = WIDTH
    layers.append(torch.nn.Linear(fan_in, D))
    return torch.nn.Sequential(*layers)


class Model:
    """The network and the maps between (x_t, t) and its input and output."""

    def __init__(self, recipe, D, t1, mu, sd, seed, data32=None):
        self.recipe, self.D, self.t1 = recipe, D, t1
        self.mu = torch.tensor(mu, dtype=F64)
        self.sd = float(sd)
        self.net = make_net(D, seed)
        self.ema = make_net(D, seed)
        self.ema.load_state_dict(self.net.state_dict())
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.lt1, self.lT = math.log(t1), math.log(T_MAX)
        self.k = torch.arange(1, EMBED // 2 + 1, dtype=F64)
        # the axes (rows) and their sds: PRECOND's are the coordinate axes
        self.U = torch.eye(D, dtype=F64)
        self.sdk = torch.full((D,), self.sd, dtype=F64)
        if recipe in PCA:
            self.set_axes(data32)

    def set_axes(self, data32):
        """PCA: the training data's principal axes, sd descending, each
        axis's largest component positive, sd_k >= 1e-3 sd."""
        x = data32.astype(np.float64)
        xc = x - x.mean(0)
        w, V = np.linalg.eigh(xc.T @ xc / len(x))
        U = V[:, ::-1].T.copy()
        for k in range(self.D):
            if U[k, np.argmax(np.abs(U[k]))] < 0:
                U[k] = -U[k]
        self.U = torch.from_numpy(U)
        self.sdk = torch.from_numpy(np.maximum(np.sqrt(np.maximum(w[::-1], 0.0)), 1e-3 * self.sd).copy())

    def axis_coeffs(self, t):
        """c_skip_k, c_out_k (B x D) of each axis's sd."""
        s2 = torch.expm1(t)[:, None]
        v = s2 + self.sdk[None, :] ** 2
        return self.sdk[None, :] ** 2 / v, torch.sqrt(s2) * self.sdk[None, :] / torch.sqrt(v)

    def along(self, x, t):
        """v = U (x / alpha - mu), (B x D) float64."""
        return (x * torch.exp(0.5 * t)[:, None] - self.mu) @ self.U.T

    def phi(self, t):
        """[sin(pi k tau), cos(pi k tau)], k = 1..16, tau = log t normalised over [t1, T]."""
        tau = (torch.log(t) - self.lt1) / (self.lT - self.lt1)
        ang = math.pi * tau[:, None] * self.k[None, :]
        return torch.cat([torch.sin(ang), torch.cos(ang)], 1).float()

    def net_input_points(self, x, t):
        """First D input columns (float32) from x (float64), t (float64 (B,))."""
        if self.recipe in ("noise", "score", "direct"):
            return x.float()
        c_skip, c_out, c_in = precond_coeffs(t, self.sd)
        gain = max(1.0, math.sqrt(EMBED / (2.0 * self.D)))  # cemdiff.h: g
        return (gain * c_in[:, None] * self.along(x, t)).float()

    def f_from_out(self, x, t, out):
        """f (float64) from the network output (float32) at x (float64)."""
        o = out.double()
        alpha, s2, s, _ = ou(t)
        if self.recipe == "noise":
            return (x - s[:, None] * o) / alpha[:, None]
        if self.recipe == "score":
            return (x + s2[:, None] * o) / alpha[:, None]
        if self.recipe == "direct":
            return o
        if self.recipe in PCA:
            c_skip, c_out = self.axis_coeffs(t)
            return self.mu + (c_skip * self.along(x, t) + c_out * o) @ self.U
        c_skip, c_out, _ = precond_coeffs(t, self.sd)
        yc = x * torch.exp(0.5 * t)[:, None] - self.mu
        return self.mu + c_skip[:, None] * yc + c_out[:, None] * o

    def out_from_f(self, x, t, f):
        """The network output (float64) whose f is f: the inverse of f_from_out."""
        alpha, s2, s, _ = ou(t)
        if self.recipe == "noise":
            return (x - alpha[:, None] * f) / s[:, None]
        if self.recipe == "score":
            return (alpha[:, None] * f - x) / s2[:, None]
        if self.recipe == "direct":
            return f
        if self.recipe in PCA:
            c_skip, c_out = self.axis_coeffs(t)
            return ((f - self.mu) @ self.U.T - c_skip * self.along(x, t)) / c_out
        c_skip, c_out, _ = precond_coeffs(t, self.sd)
        yc = x * torch.exp(0.5 * t)[:, None] - self.mu
        return (f - self.mu - c_skip[:, None] * yc) / c_out[:, None]

    def objective(self, x0, z, t, xt):
        """Per-row weight c (float64 (B,); pca: per output, (B, D)) and
        regression target y (float64 (B, D)): loss_i = c_i |out_i - y_i|^2
        (row_loss; cemdiff.h, the trainer)."""
        alpha, s2, s, lam = ou(t)
        if self.recipe == "noise":
            return torch.ones_like(t), z
        if self.recipe == "score":
            return s2, -z / s[:, None]
        if self.recipe == "direct":
            return lam, x0
        if self.recipe in PCA:  # a weight per output (B x D)
            _, c_out = self.axis_coeffs(t)
            w = lam[:, None].expand(-1, self.D)
            if self.recipe == "pca":
                w = w + 1.0 / (self.sdk[None, :] ** 2)
            return w * c_out * c_out, self.out_from_f(xt, t, x0)
        _, c_out, _ = precond_coeffs(t, self.sd)
        w = lam if self.recipe == "precond_lambda" else lam + 1.0 / (self.sd * self.sd)
        return w * c_out * c_out, self.out_from_f(xt, t, x0)


    @torch.no_grad()
    def f(self, x, t, ema=True):
        """f(x, t) from the (EMA) network, t one float: float64 in and out."""
        tt = torch.full((x.shape[0],), float(t), dtype=F64)
        net = self.ema if ema else self.net
        out = net(torch.cat([self.net_input_points(x, tt), self.phi(tt)], 1))
        return self.f_from_out(x, tt, out)


def row_loss(c, out, y):
    """Per-row loss: c (B,) times |out - y|^2, or sum_k c_k (out_k - y_k)^2
    for a weight per output (B x D)."""
    e2 = (out - y) ** 2
    return (c * e2).sum(1) if c.dim() == 2 else c * e2.sum(1)


def floor_draws(data32, t1, seed=0, K=LAW_BINS, rows=FLOOR_ROWS):
    """The floor measurement's draws: per bin, rows data points at random,
    times stratified in log t over the bin, normals (a fixed stream)."""
    rng = np.random.default_rng([FLOOR_SEED, seed])  # each seed its own floors, as the library
    n, D = data32.shape
    lt1, lT = math.log(t1), math.log(T_MAX)
    out = []
    for b in range(K):
        k = np.minimum((rng.uniform(size=rows) * n).astype(np.int64), n - 1)
        v = (np.arange(rows) + rng.uniform(size=rows)) / rows
        t = np.exp(lt1 + (lT - lt1) * (b + v) / K)
        z = rng.standard_normal((rows, D))
        out.append((torch.from_numpy(data32[k]).double(), torch.from_numpy(t), torch.from_numpy(z)))
    return out


def xt_of(x0, z, t):
    alpha, _, s, _ = ou(t)
    return (alpha[:, None] * x0 + s[:, None] * z).float().double()   # x_t is stored in float32


def measure_floors(model, data32, t1, seed=0):
    """L*_b: the mean per-row loss of the exact model of the training data."""
    data64 = torch.from_numpy(data32).double()
    floors = []
    for x0, t, z in floor_draws(data32, t1, seed):
        xt = xt_of(x0, z, t)
        # exact f row by row in time: group by time is not possible (each row has its own t)
        f = torch.empty_like(xt)
        for i0 in range(0, len(t), 64):
            sl = slice(i0, i0 + 64)
            alpha, s2, _, _ = ou(t[sl])
            xs = xt[sl]
            d2 = ((xs * xs).sum(1)[:, None] - 2 * alpha[:, None] * (xs @ data64.T)
                  + (alpha * alpha)[:, None] * (data64 * data64).sum(1)[None, :])
            w = torch.softmax(-d2 / (2 * s2[:, None]), dim=1)
            f[sl] = w @ data64
        c, y = model.objective(x0, z, t, xt)
        o = model.out_from_f(xt, t, f).float().double()   # as the network would give it
        floors.append(float(row_loss(c, o, y).mean()))
    return torch.tensor(floors, dtype=F64)


# ------------------------------------------------------------------ training

def train(model, data32, law, steps, seed, log_every=0):
    opt = torch.optim.Adam(model.net.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8)
    gen = torch.Generator().manual_seed(1_000_003 * seed + 17)
    data = torch.from_numpy(data32)
    n, D = data.shape
    params = list(model.net.parameters())
    emas = list(model.ema.parameters())
    rejected = 0
    total = 0.0
    for step in range(steps):
        idx = torch.randint(0, n, (BATCH,), generator=gen)
        u = torch.rand(BATCH, dtype=F64, generator=gen)
        z = torch.randn(BATCH, D, dtype=F64, generator=gen)
        x0 = data[idx].double()
        t = law.map(u)
        xt = xt_of(x0, z, t)
        c, y = model.objective(x0, z, t, xt)
        inp = torch.cat([model.net_input_points(xt, t), model.phi(t)], 1)
        out = model.net(inp)
        row = row_loss(c.float(), out, y.float())
        loss = row.mean()
        opt.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            rejected += 1
            continue
        loss.backward()
        if not all(torch.isfinite(p.grad).all() for p in params):
            rejected += 1
            continue
        opt.step()
        with torch.no_grad():
            torch._foreach_mul_(emas, EMA_DECAY)
            torch._foreach_add_(emas, [p.detach() for p in params], alpha=1 - EMA_DECAY)
        law.observe(t, row.detach())
        total += float(loss)
        if log_every and (step + 1) % log_every == 0:
            print(f"  step {step + 1}: loss {float(loss):.4f}", file=sys.stderr, flush=True)
    return total / max(1, steps - rejected), rejected


# ------------------------------------------------------------------ sampling

@torch.no_grad()
def sample(model, n, t1, seed):
    """The splitting sampler on the exponential grid from T down to t1, from
    the matched prior; returns f(y, t1) (float64 numpy)."""
    gen = torch.Generator().manual_seed(1_000_003 * seed + 29)
    ts = exp_grid(t1)
    aT, s2T, _, _ = ou(T_MAX)
    prior_sd = math.sqrt(aT * aT * model.sd * model.sd + s2T)
    y = aT * model.mu[None, :] + prior_sd * torch.randn(n, model.D, dtype=F64, generator=gen)
    for k in range(GRID_N - 1, 0, -1):
        t, s = float(ts[k]), float(ts[k - 1])
        h = t - s
        alpha, s2, _, _ = ou(t)
        f = model.f(y, t)
        r = h / s2
        y = y + r * (alpha * f - y)
        y = math.exp(0.5 * h) * y + math.sqrt(math.expm1(h)) * torch.randn(n, model.D, dtype=F64, generator=gen)
    return model.f(y, float(ts[0])).numpy()


# ------------------------------------------------------------------ one run

_DATA_CACHE = {}


def get_data(name, n):
    key = (name, n)
    if key not in _DATA_CACHE:
        ds = Dataset(name)
        _DATA_CACHE[key] = (ds, ds.sample(DATA_SEED, n), ds.sample(REF_SEED, NREF))
    return _DATA_CACHE[key]


def stats_of(data32):
    x = data32.astype(np.float64)
    mu = x.mean(0)
    return mu, math.sqrt(((x - mu) ** 2).mean())


def run_once(name, recipe, law_name, t1, steps, seed, n=10000, nsample=NSAMPLE, verbose=True):
    """One training and sampling run.  A scaled set (circle50) is the unit one
    in other units: its window [t1, T] is the unit one's moved to its scale,
    t -> log1p(scale^2 expm1(t)), as examples/recipes.c sets it."""
    global T_MAX
    ds, data32, ref = get_data(name, n)
    if ds.scale != 1.0:
        v = ds.scale * ds.scale
        t1, T_MAX = math.log1p(v * math.expm1(t1)), math.log1p(v * math.expm1(10.0))
    try:
        return _run_once(ds, data32, ref, recipe, law_name, t1, steps, seed, nsample, verbose)
    finally:
        T_MAX = 10.0


def _run_once(ds, data32, ref, recipe, law_name, t1, steps, seed, nsample, verbose):
    mu, sd = stats_of(data32)
    t_start = time.time()
    model = Model(recipe, ds.dim, t1, mu, sd, seed, data32)
    law = TimeLaw(law_name, t1)
    if law_name == "adaptive":
        law.floor = measure_floors(model, data32, t1, seed)
        law.shares()
    mean_loss, rejected = train(model, data32, law, steps, seed, log_every=500 if verbose else 0)
    t_train = time.time() - t_start
    x = sample(model, nsample, t1, seed)
    ok = np.isfinite(x).all(1)
    res = dict(mean=float("nan"), p95=float("nan"), ks=float("nan"), sw2=float("nan"))
    if ok.any():
        d, u = ds.distance_and_coordinate(x[ok])
        res = dict(mean=float(d.mean()), p95=float(np.percentile(d, 95)), ks=ks_uniform(u),
                   sw2=sliced_w2(x[ok], ref) / ds.scale)
    res.update(diverged=int((~ok).sum()), seconds=t_train, total=time.time() - t_start,
               loss=mean_loss, rejected=rejected)
    return res


def result_line(name, t1, recipe, law, seed, steps, r):
    return (f"RESULT data={name} t1={t1:g} recipe={recipe} law={law} seed={seed} steps={steps} "
            f"mean={r['mean']:.9g} p95={r['p95']:.9g} ks={r['ks']:.9g} sw2={r['sw2']:.9g} "
            f"diverged={r['diverged']} seconds={r['seconds']:.1f} total={r['total']:.1f} "
            f"loss={r['loss']:.6g} rejected={r['rejected']}")


def parse_result(line):
    if not line.startswith("RESULT "):
        return None
    kv = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
    return kv


def run_key(kv):
    return (kv["data"], float(kv["t1"]), kv["recipe"], kv["law"], int(kv["seed"]), int(kv["steps"]))


# ------------------------------------------------------------------ checks

def quick_check(name, t1, n):
    """Floors of the ADAPTIVE law against an untrained net's per-bin loss,
    and the PRECOND limit f -> y at t = 1e-4 for an untrained net."""
    ds, data32, _ = get_data(name, n)
    mu, sd = stats_of(data32)
    print(f"data={name} t1={t1:g} n={n} mu={np.round(mu, 6).tolist()} sd={sd:.6f}")
    for recipe in RECIPES:
        model = Model(recipe, ds.dim, t1, mu, sd, 0, data32)
        floors = measure_floors(model, data32, t1)
        untrained = []
        for x0, t, z in floor_draws(data32, t1):
            xt = xt_of(x0, z, t)
            c, y = model.objective(x0, z, t, xt)
            with torch.no_grad():
                out = model.net(torch.cat([model.net_input_points(xt, t), model.phi(t)], 1)).double()
            untrained.append(float(row_loss(c, out, y).mean()))
        print(f"{recipe:8s} floor    " + " ".join(f"{v:.3g}" for v in floors.tolist()))
        print(f"{recipe:8s} untrained" + " ".join(f" {v:.3g}" for v in untrained))
        print(f"{recipe:8s} floors > 0: {bool((floors > 0).all())}; floor < untrained in every bin: "
              f"{all(a < b for a, b in zip(floors.tolist(), untrained))}; first 4 bins: "
              f"{all(a < b for a, b in zip(floors.tolist()[:4], untrained[:4]))}")
    model = Model("precond", ds.dim, t1, mu, sd, 0)
    x = torch.from_numpy(ds.sample(99, 1000)).double()
    for tt in (1e-4, 1e-3, 1e-1):
        alpha = math.exp(-tt / 2)
        xx = alpha * x + math.sqrt(-math.expm1(-tt)) * torch.randn(x.shape, dtype=F64, generator=torch.Generator().manual_seed(5))
        y = xx / alpha
        f = model.f(xx, tt, ema=False)
        c_skip, c_out, _ = precond_coeffs(tt, sd)
        print(f"precond untrained t={tt:g}: max |f - y| = {float((f - y).abs().max()):.3g} "
              f"(c_skip = {c_skip:.6f}, c_out = {c_out:.3g}), rms |f - y| = "
              f"{float(((f - y) ** 2).sum(1).mean().sqrt()):.3g}")


# ------------------------------------------------------------------ main

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="circle", choices=DATASETS)
    p.add_argument("--recipe", default="precond", choices=RECIPES)
    p.add_argument("--law", default=None, choices=LAWS, help="default: the library's for the recipe")
    p.add_argument("--t1", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, default=10000, help="training points")
    p.add_argument("--nsample", type=int, default=NSAMPLE, help="samples (the measurement: 5000)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--all", action="store_true", help="the whole comparison (appends to --out)")
    p.add_argument("--out", default="torch_recipes_runs.txt")
    p.add_argument("--laws", default="noise=grid,score=grid,direct=grid,precond=adaptive")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--t1s", default="1e-3,1e-4", help="--all: the t1 values (comma list)")
    p.add_argument("--check", action="store_true", help="floors and the PRECOND limit, no training")
    p.add_argument("--time100", action="store_true", help="time 100 training steps")
    a = p.parse_args()
    torch.set_num_threads(a.threads)

    if a.check:
        quick_check(a.data, a.t1, a.n)
        return
    if a.time100:
        ds, data32, _ = get_data(a.data, a.n)
        mu, sd = stats_of(data32)
        law_name = a.law or DEFAULT_LAW[a.recipe]
        model = Model(a.recipe, ds.dim, a.t1, mu, sd, a.seed, data32)
        law = TimeLaw(law_name, a.t1)
        t0 = time.time()
        if law_name == "adaptive":
            law.floor = measure_floors(model, data32, a.t1, a.seed)
            law.shares()
        t1 = time.time()
        train(model, data32, law, 100, a.seed)
        t2 = time.time()
        sample(model, 1000, a.t1, a.seed)
        t3 = time.time()
        print(f"floors {t1 - t0:.2f} s, 100 steps {t2 - t1:.2f} s, sampling 1000 rows {t3 - t2:.2f} s")
        return

    if not a.all:
        law = a.law or DEFAULT_LAW[a.recipe]
        r = run_once(a.data, a.recipe, law, a.t1, a.steps, a.seed, a.n, a.nsample)
        print(result_line(a.data, a.t1, a.recipe, law, a.seed, a.steps, r), flush=True)
        return

    laws = dict(DEFAULT_LAW)
    for item in a.laws.split(","):
        k, v = item.split("=")
        if k not in RECIPES or v not in LAWS:
            raise SystemExit(f"--laws: bad item {item}")
        laws[k] = v
    done = {}
    if os.path.exists(a.out):
        with open(a.out) as fh:
            for line in fh:
                kv = parse_result(line.strip())
                if kv:
                    done[run_key(kv)] = kv
    t1s = [float(v) for v in a.t1s.split(",")]
    # seeds outermost: a run cut short still has every setting at some seeds
    for seed in range(a.seeds):
        for name in DATASETS:
            for t1 in t1s:
                for recipe in RECIPES:
                    key = (name, t1, recipe, laws[recipe], seed, a.steps)
                    if key in done:
                        continue
                    r = run_once(name, recipe, laws[recipe], t1, a.steps, seed, a.n, a.nsample, verbose=False)
                    line = result_line(name, t1, recipe, laws[recipe], seed, a.steps, r)
                    print(line, flush=True)
                    with open(a.out, "a") as fh:
                        fh.write(line + "\n")
                    done[key] = parse_result(line)
    # the table: mean +- sd (n - 1) over seeds
    print(f"\nmean +- sd over {a.seeds} seeds, {a.steps} steps; distances and W2 relative to the scale")
    print(f"{'data':9s} {'t1':>6s} {'recipe':8s} {'law':9s} {'mean dist':>20s} {'p95':>20s} {'KS':>18s} {'sliced W2':>20s}  diverged")
    for name in DATASETS:
        for t1 in t1s:
            for recipe in RECIPES:
                rows = [done[k] for k in [(name, t1, recipe, laws[recipe], s, a.steps) for s in range(a.seeds)] if k in done]
                if not rows:
                    continue
                cells = []
                for m in ("mean", "p95", "ks", "sw2"):
                    v = np.array([float(r[m]) for r in rows])
                    sd = v.std(ddof=1) if len(v) > 1 else 0.0
                    cells.append(f"{v.mean():.5f} +- {sd:.5f}")
                dv = sum(int(r["diverged"]) for r in rows)
                print(f"{name:9s} {t1:6g} {recipe:8s} {laws[recipe]:9s} {cells[0]:>20s} {cells[1]:>20s} "
                      f"{cells[2]:>18s} {cells[3]:>20s}  {dv}")


if __name__ == "__main__":
    main()
