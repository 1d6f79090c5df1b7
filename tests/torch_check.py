#!/usr/bin/python3
"""torch_check.py -- cross-check libcemdiff's MLP against PyTorch.

Usage:  /usr/bin/python3 tests/torch_check.py lib/libcemdiff.so

Everything goes through the public C ABI (include/cemdiff.h) with ctypes, so
this also proves the library is usable from Python.  The network weights are
read out of the library with cem_model_get_params and loaded into an
equivalent torch.nn.Sequential(Linear, act, ..., Linear) in the documented
layout (W_l out x in row-major, then b_l; layer 0 input [x, phi(t)]), and the
time features phi(t) are rebuilt in Python from the header's formula, so a
wrong layout, embedding, activation or T_MIN/T_MAX normalisation shows up as
a forward mismatch.  Torch runs in float32 on one thread with fixed seeds.

What is compared, and the tolerances (float32 arithmetic gives errors of a
few 1e-7 relative on O(1) quantities; every bound leaves >= 10x headroom over
that while staying far below the size of any real mistake):

 1. Forward pass, 3 targets x 3 activations x dims {2, 3} at width 64,
    depth 3, embed 32 (half of them with a non-default [T_MIN, T_MAX]), plus
    the default 256 x 3 network: cem_model_eval of the native target
    (USE_EMA = 0) vs torch, max abs diff <= 1e-5 on unit-scale x and t
    log-uniform on [T_MIN, T_MAX].  The other two targets vs the exact
    conversions of MATH.md 2 applied in float64 to the torch output:
    max_i |c_i - r_i| / s_i <= 1e-4, where s_i is the sum of the magnitudes
    of the terms of the conversion (e.g. (|x| + sigma|eps|)/alpha for f from
    eps); that is the "sensible floor": it is >= |r_i| and is the scale the
    float32 rounding of the inputs is amplified to, so cancellation near
    r_i = 0 does not produce a spurious relative error.  These CEM models
    are DIRECT (CEM_MODEL_PARAM, the paper's: the network is f), except the
    default one, which is PRECOND.  PRECOND models (the default 256 x 3
    without data statistics, and two with a centre mu != 0 and sd != 1 set
    by cem_model_set_data_stats): f = mu + c_skip (y - mu) + c_out F(c_in
    (y - mu), t), y = x / alpha, rebuilt here from torch's F on the input
    computed here; max_i |c_i - r_i| / max(s_i, 1) <= 1e-5 with s_i the
    sum of the magnitudes of the three terms.
 2. Loss and gradient of cem_trainer_loss_batch on a batch built here, vs
    torch autograd on MATH.md 3: CEM with each weight (LAMBDA, ONE,
    SQRT_LAMBDA, MIN_SNR clamp 5), NOISE, SCORE; and the preconditioned
    CEM (statistics set before the trainer, which must keep them) with
    weights EDM (1/expm1(t) + 1/sd^2) and LAMBDA, as the header writes it:
    (1/B) sum_i w(t_i) c_out^2 |F_i - (x0_i - mu - c_skip (y_i - mu))/c_out|^2
    with y_i = float32(alpha x0_i + sigma z_i) / alpha.  Loss |rel diff| <=
    1e-5; each W_l and b_l: max|g_c - g_t| / max|g_t| <= 1e-4.
 3. Ten cem_trainer_step_batch steps on ten batches vs torch.optim.Adam
    (lr 1e-3, betas (0.9, 0.999), eps 1e-8), AdamW (weight decay 0.01) and
    Adam after clip_grad_norm_(0.5), plus AdamW and Adam-with-L2 at weight
    decay 1 (at 0.01 the decay moves the weights by only ~2e-5 in 10 steps,
    barely above the tolerance): every step's loss |rel diff| <= 1e-4,
    final raw parameters max abs diff <= 1e-5 (absolute; the parameters are
    O(0.1), so this is ~1e-4 relative to max |param|).  For each run the
    distance between the torch reference and its nearest "wrong" variants
    (plain Adam; the other weight-decay coupling) is printed too, so the
    reader sees the check can tell them apart; the clipping run also checks
    that the gradient norm really exceeded 0.5.  cem_trainer_loss_batch must
    leave the weights and the step count untouched.
 5. Labels (check_labels): a labelled DIRECT CEM network rebuilt as
    torch.nn.Embedding + concatenation of [x, e, phi(t)]: forward of
    cem_model_eval_labelled and the loss and gradient (the label table's
    included) of cem_trainer_loss_batch_labelled, tolerances as 1 and 2.
 4. EMA: after those steps cem_model_get_params(m, 1) vs
    ema_k = 0.995 ema_{k-1} + 0.005 p_k (ema_0 = initial weights, p_k the
    torch trajectory), max abs diff <= 1e-6; and cem_model_eval with
    USE_EMA = 1 / 0 vs torch with the EMA / raw weights, max abs <= 1e-5
    (for PRECOND relative to its terms, as in 1).
 3 and 4 also run once for a PRECOND model with statistics, trained with
 its default weight (LAMBDA, the paper's; 1 and 2 check EDM's too).

Each check prints one line with its measured error; the last line is
"torch_check: N passed, M failed" and the exit status is non-zero on any
failure (including an unexpected error from the library).
"""

import ctypes
import math
import sys
import traceback
from ctypes import POINTER, byref, c_char_p, c_double, c_float, c_int, c_size_t, c_void_p

import numpy as np
import torch

# ------------------------------------------------------------ header enums
# Values copied from include/cemdiff.h ("enum values never change").
TARGET_CEM, TARGET_NOISE, TARGET_SCORE = 0, 1, 2
TARGET_NAMES = {TARGET_CEM: "CEM", TARGET_NOISE: "NOISE", TARGET_SCORE: "SCORE"}
ACT_SILU, ACT_RELU, ACT_TANH = 0, 1, 2
ACT_NAMES = {ACT_SILU: "SILU", ACT_RELU: "RELU", ACT_TANH: "TANH"}
MODEL_T_MIN, MODEL_T_MAX, MODEL_WIDTH, MODEL_DEPTH = 1, 2, 3, 4
MODEL_ACTIVATION, MODEL_EMBED, MODEL_SEED, MODEL_USE_EMA = 5, 6, 7, 8
MODEL_PARAM = 9
MODEL_LABELS, MODEL_LABEL_EMBED = 10, 11
PARAM_DIRECT, PARAM_PRECOND, PARAM_PRECOND_PCA = 0, 1, 2
WEIGHT_LAMBDA, WEIGHT_ONE, WEIGHT_SQRT_LAMBDA, WEIGHT_MIN_SNR, WEIGHT_EDM = 0, 1, 2, 3, 4
WEIGHT_NAMES = {WEIGHT_LAMBDA: "LAMBDA", WEIGHT_ONE: "ONE",
                WEIGHT_SQRT_LAMBDA: "SQRT_LAMBDA", WEIGHT_MIN_SNR: "MIN_SNR",
                WEIGHT_EDM: "EDM"}
OPTIM_ADAM, OPTIM_ADAMW = 0, 1
TR_BATCH, TR_LR, TR_OPTIMIZER, TR_BETA1, TR_BETA2, TR_ADAM_EPS = 1, 2, 3, 4, 5, 6
TR_WEIGHT_DECAY, TR_WARMUP, TR_DECAY_STEPS, TR_LR_MIN, TR_CLIP, TR_EMA = 7, 8, 9, 10, 11, 12
TR_WEIGHT, TR_SNR_CLAMP = 15, 16

# -------------------------------------------------------------- tolerances
TOL_FORWARD = 1e-5      # max abs, native target
TOL_CONVERT = 1e-4      # relative to the conversion's term magnitude
TOL_LOSS = 1e-5         # relative, loss of one batch
TOL_GRAD = 1e-4         # max|g_c - g_t| / max|g_t| per tensor
TOL_STEP_LOSS = 1e-4    # relative, loss of each optimiser step
TOL_PARAMS = 1e-5       # max abs, parameters after 10 steps
TOL_EMA = 1e-6          # max abs, EMA parameters after 10 steps
SNR_CLAMP = 5.0


# ------------------------------------------------------------------ ctypes
class CemError(RuntimeError):
    pass


def load_library(path):
    lib = ctypes.CDLL(path)
    F, D, I, Z = POINTER(c_float), POINTER(c_double), c_int, c_size_t
    H = c_void_p
    sigs = {
        "cem_status_string": (c_char_p, [I]),
        "cem_last_error": (c_char_p, []),
        "cem_model_create_mlp": (I, [POINTER(c_void_p), I, I]),
        "cem_model_set": (I, [H, I, c_double]),
        "cem_model_get": (I, [H, I, D]),
        "cem_model_set_data_stats": (I, [H, D, c_double]),
        "cem_model_get_data_stats": (I, [H, D, D]),
        "cem_model_set_data_cov": (I, [H, D, D]),
        "cem_model_eval": (I, [H, I, Z, F, D, F]),
        "cem_model_param_count": (Z, [H]),
        "cem_model_get_params": (I, [H, I, F, Z]),
        "cem_model_free": (None, [H]),
        "cem_trainer_create": (I, [POINTER(c_void_p), H, F, Z, I]),
        "cem_trainer_set": (I, [H, I, c_double]),
        "cem_trainer_get": (I, [H, I, D]),
        "cem_trainer_loss_batch": (I, [H, I, F, D, F, D, F]),
        "cem_trainer_step_batch": (I, [H, I, F, D, F, D]),
        "cem_trainer_steps": (ctypes.c_long, [H]),
        "cem_trainer_free": (None, [H]),
        "cem_model_eval_labelled": (I, [H, I, Z, F, D, POINTER(c_int), F]),
        "cem_trainer_create_labelled": (I, [POINTER(c_void_p), H, F, POINTER(c_int), Z, I]),
        "cem_trainer_loss_batch_labelled": (I, [H, I, F, POINTER(c_int), D, F, D, F]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


LIB = None


def call(name, *args):
    """Calls a status-returning function; raises CemError on failure."""
    st = getattr(LIB, name)(*args)
    if st != 0:
        raise CemError("%s returned %d (%s): %s" % (
            name, st, LIB.cem_status_string(st).decode(), LIB.cem_last_error().decode()))


def fptr(a):
    """A float32 C pointer to a (contiguous float32) numpy array."""
    assert a.dtype == np.float32 and a.flags["C_CONTIGUOUS"]
    return a.ctypes.data_as(POINTER(c_float))


def dptr(a):
    assert a.dtype == np.float64 and a.flags["C_CONTIGUOUS"]
    return a.ctypes.data_as(POINTER(c_double))


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def f64(a):
    return np.ascontiguousarray(a, dtype=np.float64)


# -------------------------------------------------------- pass/fail record
class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def record(self, name, ok, msg):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("%s %s: %s" % ("PASS" if ok else "FAIL", name, msg), flush=True)
        return ok

    def abs_close(self, name, got, ref, tol, extra=""):
        """max |got - ref| <= tol."""
        got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
        err = float(np.max(np.abs(got - ref))) if got.size else 0.0
        ok = got.shape == ref.shape and np.all(np.isfinite(got)) and err <= tol
        return self.record(name, ok, "max abs err %.3e (tol %.0e)%s" % (err, tol, extra))

    def rel_scalar(self, name, got, ref, tol):
        """|got - ref| / |ref| <= tol."""
        err = abs(got - ref) / max(abs(ref), 1e-300)
        ok = math.isfinite(got) and err <= tol
        return self.record(name, ok, "rel err %.3e (tol %.0e; lib %.9g, torch %.9g)"
                           % (err, tol, got, ref))

    def rel_max(self, name, got, ref, tol):
        """max |got - ref| / max |ref| <= tol (tensor-wise relative error)."""
        got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
        scale = float(np.max(np.abs(ref)))
        err = float(np.max(np.abs(got - ref))) / max(scale, 1e-300)
        ok = np.all(np.isfinite(got)) and err <= tol
        return self.record(name, ok, "rel err %.3e (tol %.0e; max|g| %.3e)" % (err, tol, scale))

    def rel_scaled(self, name, got, ref, scale, tol):
        """max_i |got_i - ref_i| / scale_i <= tol."""
        got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
        err = float(np.max(np.abs(got - ref) / scale))
        ok = np.all(np.isfinite(got)) and err <= tol
        return self.record(name, ok, "scaled rel err %.3e (tol %.0e)" % (err, tol))


R = Results()


def guarded(name, fn, *args):
    """Runs one test case; an exception (library error, script error) is a failure."""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 -- any error must count as a failure
        traceback.print_exc()
        R.record(name, False, "raised %s: %s" % (type(e).__name__, e))


# ------------------------------------------------------------ the network
class Arch:
    """An MLP's architecture.  param: CEM_MODEL_PARAM (the paper's DIRECT
    unless told; with defaults=True the model's own default, PRECOND_PCA for
    CEM); mu, sd: data statistics to set (None: unset, so PRECOND uses
    mu = 0, sd = 1)."""

    def __init__(self, dim, target, act, width=64, depth=3, embed=32, seed=1,
                 t_min=1e-3, t_max=10.0, defaults=False, param=None, mu=None, sd=None,
                 cov=None):
        self.dim, self.target, self.act = dim, target, act
        self.width, self.depth, self.embed, self.seed = width, depth, embed, seed
        self.t_min, self.t_max, self.defaults = t_min, t_max, defaults
        if param is None:
            param = PARAM_PRECOND_PCA if defaults and target == TARGET_CEM else PARAM_DIRECT
        self.param = param
        self.mu = None if mu is None else np.asarray(mu, np.float64)
        self.sd = sd
        self.cov = None if cov is None else np.asarray(cov, np.float64)
        if self.cov is not None:  # cemdiff.h, cem_model_set_data_cov
            self.sd = float(np.sqrt(np.trace(self.cov) / dim))

    def precond(self):
        return self.target == TARGET_CEM and self.param != PARAM_DIRECT

    def axes(self):
        """(U, sd_k): rows the axes PRECOND_PCA works along (numpy's eigh of
        the covariance, sd descending, each axis's largest component
        positive, sd_k at least 1e-3 sd); PRECOND: the coordinate axes,
        each of the one sd."""
        _, sd = self.stats()
        if self.param != PARAM_PRECOND_PCA or self.cov is None:
            return np.eye(self.dim), np.full(self.dim, sd)
        w, V = np.linalg.eigh(self.cov)
        U = V[:, ::-1].T.copy()
        for k in range(self.dim):
            if U[k, np.argmax(np.abs(U[k]))] < 0:
                U[k] = -U[k]
        return U, np.maximum(np.sqrt(np.maximum(w[::-1], 0.0)), 1e-3 * sd)

    def stats(self):
        """(mu, sd) as PRECOND uses them."""
        if self.mu is None:
            return np.zeros(self.dim), 1.0
        return self.mu, float(self.sd)

    def name(self):
        extra = ""
        if self.precond():
            extra = ("/PRECOND" if self.param == PARAM_PRECOND else "/PCA") + (
                "" if self.mu is None else "/mu=%s,sd=%g" % (
                    ",".join("%g" % v for v in self.mu), self.sd))
        return "%s/%s/D%d/%dx%d/E%d/t[%g,%g]%s" % (
            TARGET_NAMES[self.target], ACT_NAMES[self.act], self.dim, self.width,
            self.depth, self.embed, self.t_min, self.t_max, extra)

    def shapes(self):
        """(out, in) of each Linear, l = 0..L."""
        ins = [self.dim + self.embed] + [self.width] * self.depth
        outs = [self.width] * self.depth + [self.dim]
        return list(zip(outs, ins))


def create_model(a):
    """An MLP through the C API; the caller frees it."""
    m = c_void_p()
    call("cem_model_create_mlp", byref(m), a.dim, a.target)
    try:
        if not a.defaults:  # the default case relies on the documented defaults
            for opt, v in ((MODEL_T_MIN, a.t_min), (MODEL_T_MAX, a.t_max),
                           (MODEL_WIDTH, a.width), (MODEL_DEPTH, a.depth),
                           (MODEL_EMBED, a.embed), (MODEL_ACTIVATION, a.act),
                           (MODEL_SEED, a.seed)):
                call("cem_model_set", m, opt, float(v))
            if a.target == TARGET_CEM:
                call("cem_model_set", m, MODEL_PARAM, float(a.param))
        got = c_double()
        call("cem_model_get", m, MODEL_PARAM, byref(got))
        if got.value != a.param:
            raise CemError("CEM_MODEL_PARAM = %g, expected %d" % (got.value, a.param))
        if a.cov is not None:
            call("cem_model_set_data_cov", m, dptr(f64(a.mu)), dptr(f64(a.cov.ravel())))
        elif a.mu is not None:
            call("cem_model_set_data_stats", m, dptr(f64(a.mu)), float(a.sd))
        call("cem_model_set", m, MODEL_USE_EMA, 0.0)
        n = LIB.cem_model_param_count(m)
        want = sum(o * i + o for o, i in a.shapes())
        if n != want:
            raise CemError("cem_model_param_count = %d, layout implies %d" % (n, want))
    except Exception:
        LIB.cem_model_free(m)
        raise
    return m


def get_params(m, ema):
    n = LIB.cem_model_param_count(m)
    out = np.zeros(n, np.float32)
    call("cem_model_get_params", m, ema, fptr(out), n)
    return out


def torch_net(a, flat):
    act = {ACT_SILU: torch.nn.SiLU, ACT_RELU: torch.nn.ReLU, ACT_TANH: torch.nn.Tanh}[a.act]
    layers = []
    for l, (o, i) in enumerate(a.shapes()):
        layers.append(torch.nn.Linear(i, o))
        if l < a.depth:
            layers.append(act())
    net = torch.nn.Sequential(*layers)
    load_flat(net, flat)
    return net


def load_flat(net, flat):
    """Loads the documented flat layout into net.parameters() (W_l then b_l)."""
    off = 0
    with torch.no_grad():
        for p in net.parameters():
            k = p.numel()
            p.copy_(torch.from_numpy(np.array(flat[off:off + k], np.float32)).view_as(p))
            off += k
    assert off == len(flat)


def flat_of(net):
    return np.concatenate([p.detach().numpy().ravel() for p in net.parameters()])


def param_names(a):
    return [n for l in range(a.depth + 1) for n in ("W%d" % l, "b%d" % l)]


def phi(a, t):
    """The header's time embedding, float64: [sin(pi k tau), cos(pi k tau)], k = 1..E/2."""
    tau = (np.log(t) - math.log(a.t_min)) / (math.log(a.t_max) - math.log(a.t_min))
    k = np.arange(1, a.embed // 2 + 1, dtype=np.float64)
    ang = math.pi * tau[:, None] * k[None, :]
    return np.concatenate([np.sin(ang), np.cos(ang)], axis=1)


def torch_forward(a, net, x, t):
    """net([x, phi(t)]) in float32 torch; x float32 (n x dim), t float64."""
    inp = np.concatenate([x.astype(np.float64), phi(a, t)], axis=1)
    return net(torch.from_numpy(f32(inp)))


def precond_coeffs(a, t):
    """EDM's preconditioning in OU time (cemdiff.h, CEM_PARAM_PRECOND and
    PRECOND_PCA), float64: 1/alpha (n x 1), c_skip and c_out per axis
    (n x dim, of each axis's sd), c_in (n x 1, of the one sd, times the input
    gain g = max(1, sqrt(E / (2 dim))), which gives the points as much of the
    first layer's input variance as the E time features)."""
    _, sd = a.stats()
    _, sdk = a.axes()
    s2 = np.expm1(t)[:, None]
    vk = s2 + sdk[None, :] ** 2
    g = max(1.0, np.sqrt(a.embed / (2.0 * a.dim)))
    return (np.exp(0.5 * t)[:, None], sdk[None, :] ** 2 / vk,
            np.sqrt(s2) * sdk[None, :] / np.sqrt(vk), g / np.sqrt(s2 + sd * sd))


def precond_input(a, x, t):
    """v = (y - mu) along the axes (float64) and the network's point input
    c_in v (float32)."""
    mu, _ = a.stats()
    U, _ = a.axes()
    inv_al, _, _, c_in = precond_coeffs(a, t)
    v = (x.astype(np.float64) * inv_al - mu[None, :]) @ U.T
    return v, f32(c_in * v)


def model_output(a, net, x, t):
    """What the model answers for its native target, float64, with the
    magnitude of its terms (the error scale): the network itself, or with
    PRECOND f = mu + c_skip (y - mu) + c_out F(c_in (y - mu), t)."""
    if not a.precond():
        with torch.no_grad():
            out = torch_forward(a, net, x, t).numpy().astype(np.float64)
        return out, np.ones_like(out)
    mu, _ = a.stats()
    U, _ = a.axes()
    _, c_skip, c_out, _ = precond_coeffs(a, t)
    v, u = precond_input(a, x, t)
    with torch.no_grad():
        F = torch_forward(a, net, u, t).numpy().astype(np.float64)
    gk = c_skip * v + c_out * F  # along the axes
    return mu[None, :] + gk @ U, np.abs(mu[None, :]) + np.abs(gk) @ np.abs(U)


def ou(t):
    """alpha_t, sigma_t (float64)."""
    return np.exp(-t / 2), np.sqrt(-np.expm1(-t))


def convert(frm, to, x, t, v):
    """MATH.md 2 in float64: value and term magnitude (the error scale)."""
    x, v = x.astype(np.float64), v.astype(np.float64)
    al, sg = ou(t)
    al, sg = al[:, None], sg[:, None]
    # first to f, keeping the magnitude of its terms
    if frm == TARGET_CEM:
        f, fs = v, np.abs(v)
    elif frm == TARGET_NOISE:          # f = (x - sigma eps) / alpha
        f, fs = (x - sg * v) / al, (np.abs(x) + sg * np.abs(v)) / al
    else:                              # f = (x + sigma^2 S) / alpha
        f, fs = (x + sg ** 2 * v) / al, (np.abs(x) + sg ** 2 * np.abs(v)) / al
    if to == TARGET_CEM:
        return f, fs
    if to == TARGET_NOISE:             # eps = (x - alpha f) / sigma
        return (x - al * f) / sg, (np.abs(x) + al * fs) / sg
    return (al * f - x) / sg ** 2, (al * fs + np.abs(x)) / sg ** 2   # S


def eval_model(m, what, x, t):
    out = np.zeros_like(x)
    call("cem_model_eval", m, what, x.shape[0], fptr(x), dptr(t), fptr(out))
    return out


def log_uniform(rng, n, lo, hi):
    return f64(np.exp(rng.uniform(math.log(lo), math.log(hi), n)))


# ------------------------------------------------------------ 1. forward
def check_forward(a, seed):
    rng = np.random.default_rng(seed)
    n = 301
    x = f32(rng.standard_normal((n, a.dim)))
    t = log_uniform(rng, n, a.t_min, a.t_max)
    t[0], t[1] = a.t_min, a.t_max          # the ends of the embedding's range
    m = create_model(a)
    try:
        net = torch_net(a, get_params(m, 0))
        ref, terms = model_output(a, net, x, t)
        got = eval_model(m, a.target, x, t)
        if a.precond():  # f of order |x| / alpha: relative to its terms
            R.rel_scaled("forward %s native" % a.name(), got, ref, np.maximum(terms, 1.0),
                         TOL_FORWARD)
        else:
            R.abs_close("forward %s native" % a.name(), got, ref, TOL_FORWARD,
                        " (max|out| %.2f)" % float(np.max(np.abs(ref))))
        for other in (TARGET_CEM, TARGET_NOISE, TARGET_SCORE):
            if other == a.target:
                continue
            want, scale = convert(a.target, other, x, t, ref)
            got = eval_model(m, other, x, t)
            R.rel_scaled("forward %s as %s" % (a.name(), TARGET_NAMES[other]),
                         got, want, scale, TOL_CONVERT)
    finally:
        LIB.cem_model_free(m)


# ----------------------------------------------------- 2. loss, gradients
def circle(n):
    ang = 2 * math.pi * (np.arange(n) + 0.5) / n
    return f32(np.stack([np.cos(ang), np.sin(ang)], axis=1))


def embed_data(data, dim, seed):
    """The circle in R^dim (dim >= 2) through a fixed random orthogonal map."""
    if dim == 2:
        return data
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return f32(data.astype(np.float64) @ q[:2, :])


def make_batch(rng, data, B, a):
    x0 = f32(data[rng.integers(0, data.shape[0], B)])
    t = log_uniform(rng, B, a.t_min, a.t_max)
    z = f32(rng.standard_normal((B, a.dim)))
    return x0, t, z


# A covariance of R^3 with sds 1.2, 0.5 and 0 along the rows of a rotation.
_PCA_R = np.array([[0.6, -0.8, 0], [0.48, 0.36, -0.8], [0.64, 0.48, 0.6]])
PCA_COV = _PCA_R.T @ np.diag([1.44, 0.25, 0.0]) @ _PCA_R


def cem_weight(kind, t, sd=1.0):
    lam = 1.0 / np.expm1(t)
    return {WEIGHT_LAMBDA: lam, WEIGHT_ONE: np.ones_like(t),
            WEIGHT_SQRT_LAMBDA: np.sqrt(lam),
            WEIGHT_MIN_SNR: np.minimum(lam, SNR_CLAMP),
            WEIGHT_EDM: lam + 1.0 / (sd * sd)}[kind]


def torch_loss(a, net, x0, t, z, weight):
    """MATH.md 3: batch mean of per-sample losses (sums over dim)."""
    al, sg = ou(t)
    xt = al[:, None] * x0.astype(np.float64) + sg[:, None] * z.astype(np.float64)
    if a.precond():
        # cemdiff.h, the trainer: w(t) c_out^2 |F - (x0 - mu - c_skip (y - mu))/c_out|^2,
        # y = x_t / alpha, F = net([c_in (y - mu), phi(t)]) (the same number as
        # w |f - x0|^2); x_t rounded to float32 as the trainer stores it
        # (PRECOND_PCA: along the axes, each output weighted w_k c_out_k^2,
        # w_k = lambda + 1/sd_k^2 for EDM)
        mu, _ = a.stats()
        U, sdk = a.axes()
        _, c_skip, c_out, _ = precond_coeffs(a, t)
        v, u = precond_input(a, f32(xt), t)
        out = torch_forward(a, net, u, t)
        x0k = (x0.astype(np.float64) - mu[None, :]) @ U.T
        target = f32((x0k - c_skip * v) / c_out)
        wk = np.stack([cem_weight(weight, t, s) for s in sdk], 1)
        c = f32(wk * c_out ** 2)
        per = (torch.from_numpy(c) * (out - torch.from_numpy(target)) ** 2).sum(1)
        return per.mean()
    out = torch_forward(a, net, f32(xt), t)
    if a.target == TARGET_CEM:
        per = torch.from_numpy(f32(cem_weight(weight, t))) * \
            ((out - torch.from_numpy(x0)) ** 2).sum(1)
    elif a.target == TARGET_NOISE:
        per = ((out - torch.from_numpy(z)) ** 2).sum(1)
    else:
        zs = torch.from_numpy(f32(z.astype(np.float64) / sg[:, None]))
        per = torch.from_numpy(f32(sg ** 2)) * ((out + zs) ** 2).sum(1)
    return per.mean()


def make_trainer(m, data, B, options=()):
    tr = c_void_p()
    call("cem_trainer_create", byref(tr), m, fptr(data), data.shape[0], data.shape[1])
    try:
        call("cem_trainer_set", tr, TR_BATCH, float(B))
        for opt, v in options:
            call("cem_trainer_set", tr, opt, float(v))
    except Exception:
        LIB.cem_trainer_free(tr)
        raise
    return tr


def trainer_get(tr, opt):
    v = c_double()
    call("cem_trainer_get", tr, opt, byref(v))
    return v.value


def check_loss_grad(a, weight, seed):
    name = "%s%s" % (a.name(), "/w=" + WEIGHT_NAMES[weight] if a.target == TARGET_CEM else "")
    rng = np.random.default_rng(seed)
    B = 128
    data = embed_data(circle(256), a.dim, seed)
    x0, t, z = make_batch(rng, data, B, a)
    m = create_model(a)
    tr = None
    try:
        opts = [(TR_WEIGHT, weight), (TR_SNR_CLAMP, SNR_CLAMP)] if a.target == TARGET_CEM else []
        tr = make_trainer(m, data, B, opts)
        if a.mu is not None:  # the trainer keeps the statistics the user set
            mu, sd = np.zeros(a.dim), c_double()
            call("cem_model_get_data_stats", m, dptr(mu), byref(sd))
            R.record("stats kept by the trainer %s" % name,
                     np.array_equal(mu, a.mu) and sd.value == a.sd,
                     "mean %s sd %.17g" % (mu, sd.value))
        flat = get_params(m, 0)
        loss = c_double()
        grad = np.zeros_like(flat)
        call("cem_trainer_loss_batch", tr, B, fptr(x0), dptr(t), fptr(z), byref(loss), fptr(grad))
        net = torch_net(a, flat)
        tl = torch_loss(a, net, x0, t, z, weight)
        tl.backward()
        R.rel_scalar("loss %s" % name, loss.value, float(tl), TOL_LOSS)
        off, worst, worst_name = 0, 0.0, ""
        ok_all = True
        for pname, p in zip(param_names(a), net.parameters()):
            k = p.numel()
            gc, gt = grad[off:off + k].astype(np.float64), p.grad.numpy().ravel().astype(np.float64)
            off += k
            err = float(np.max(np.abs(gc - gt))) / max(float(np.max(np.abs(gt))), 1e-300)
            if not (np.all(np.isfinite(gc)) and err <= TOL_GRAD):
                ok_all = False
                R.record("grad %s %s" % (name, pname), False,
                         "rel err %.3e (tol %.0e)" % (err, TOL_GRAD))
            if err > worst or not worst_name:
                worst, worst_name = err, pname
        R.record("grad %s (all %d tensors)" % (name, 2 * (a.depth + 1)), ok_all,
                 "worst rel err %.3e in %s (tol %.0e)" % (worst, worst_name, TOL_GRAD))
        # The batch call must change nothing (weights, step count).
        R.abs_close("loss_batch leaves params %s" % name, get_params(m, 0), flat, 0.0)
        R.record("loss_batch leaves step count %s" % name, LIB.cem_trainer_steps(tr) == 0,
                 "cem_trainer_steps = %d" % LIB.cem_trainer_steps(tr))
    finally:
        LIB.cem_trainer_free(tr)
        LIB.cem_model_free(m)


# --------------------------------------------------- 3, 4. optimiser, EMA
def check_optimizer(a, label, optimizer, weight_decay, clip, seed, steps=10):
    rng = np.random.default_rng(seed)
    B = 128
    data = embed_data(circle(256), a.dim, seed)
    batches = [make_batch(rng, data, B, a) for _ in range(steps)]
    m = create_model(a)
    tr = None
    try:
        opts = [(TR_OPTIMIZER, optimizer), (TR_WEIGHT_DECAY, weight_decay), (TR_CLIP, clip)]
        tr = make_trainer(m, data, B, opts)
        defaults = {"LR": (TR_LR, 1e-3), "BETA1": (TR_BETA1, 0.9), "BETA2": (TR_BETA2, 0.999),
                    "ADAM_EPS": (TR_ADAM_EPS, 1e-8), "WARMUP": (TR_WARMUP, 0),
                    "DECAY_STEPS": (TR_DECAY_STEPS, 0), "EMA": (TR_EMA, 0.995)}
        bad = ["%s=%g" % (k, trainer_get(tr, o)) for k, (o, v) in defaults.items()
               if trainer_get(tr, o) != v]
        R.record("trainer defaults %s" % label, not bad,
                 "as assumed (lr 1e-3, betas .9/.999, eps 1e-8, no schedule, EMA .999)"
                 if not bad else "differ: " + ", ".join(bad))

        weight = int(trainer_get(tr, TR_WEIGHT))  # the default: LAMBDA for every model
        p0 = get_params(m, 0)
        net = torch_net(a, p0)
        kw = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=weight_decay)
        if optimizer == OPTIM_ADAMW:
            opt = torch.optim.AdamW(net.parameters(), **kw)
        else:
            opt = torch.optim.Adam(net.parameters(), **kw)
        # Nearby wrong variants, to show the parameter check can tell them
        # apart: plain Adam (no decay, no clipping) and, with weight decay,
        # the other coupling (L2 in the gradient vs decoupled decay).
        variants = [("plain Adam", torch.optim.Adam, 0.0)]
        if weight_decay > 0:
            other = torch.optim.Adam if optimizer == OPTIM_ADAMW else torch.optim.AdamW
            variants.append(("%s(wd=%g)" % (other.__name__, weight_decay), other, weight_decay))
        alts = []
        for vname, cls, wd in variants:
            alt = torch_net(a, p0)
            alts.append((vname, alt, cls(alt.parameters(), lr=1e-3, betas=(0.9, 0.999),
                                         eps=1e-8, weight_decay=wd)))

        ema = p0.astype(np.float64)
        worst_loss, norms = 0.0, []
        loss_ok = True
        for k, (x0, t, z) in enumerate(batches):
            loss = c_double()
            call("cem_trainer_step_batch", tr, B, fptr(x0), dptr(t), fptr(z), byref(loss))
            opt.zero_grad()
            tl = torch_loss(a, net, x0, t, z, weight)
            tl.backward()
            if clip > 0:
                norms.append(float(torch.nn.utils.clip_grad_norm_(net.parameters(), clip)))
            opt.step()
            for _, alt, alt_opt in alts:
                alt_opt.zero_grad()
                torch_loss(a, alt, x0, t, z, weight).backward()
                alt_opt.step()
            err = abs(loss.value - float(tl)) / abs(float(tl))
            if not (math.isfinite(loss.value) and err <= TOL_STEP_LOSS):
                loss_ok = False
                R.record("step %d loss %s %s" % (k + 1, label, a.name()), False,
                         "rel err %.3e (lib %.9g, torch %.9g)" % (err, loss.value, float(tl)))
            worst_loss = max(worst_loss, err)
            ema = 0.995 * ema + 0.005 * flat_of(net).astype(np.float64)
        R.record("step losses %s %s (%d steps)" % (label, a.name(), steps), loss_ok,
                 "worst rel err %.3e (tol %.0e)" % (worst_loss, TOL_STEP_LOSS))
        nsteps = LIB.cem_trainer_steps(tr)
        R.record("step count %s" % label, nsteps == steps, "cem_trainer_steps = %d" % nsteps)
        if clip > 0:
            R.record("clipping active %s" % label, max(norms) > clip,
                     "grad norm before clipping %.3g..%.3g (clip %g)"
                     % (min(norms), max(norms), clip))

        p_t = flat_of(net)
        seps = ", ".join("%s %.2e" % (vname, float(np.max(np.abs(p_t - flat_of(alt)))))
                         for vname, alt, _ in alts)
        R.abs_close("params after %d steps %s %s" % (steps, label, a.name()),
                    get_params(m, 0), p_t, TOL_PARAMS,
                    "; max|param| %.3f; reference differs from %s"
                    % (float(np.max(np.abs(p_t))), seps))
        R.abs_close("EMA after %d steps %s" % (steps, label), get_params(m, 1), ema, TOL_EMA,
                    "; EMA moved %.2e from init" % float(np.max(np.abs(ema - p0))))

        # Evaluation picks the raw or the EMA weights as USE_EMA says.
        rng2 = np.random.default_rng(seed + 1)
        x = f32(rng2.standard_normal((200, a.dim)))
        tt = log_uniform(rng2, 200, a.t_min, a.t_max)
        ema_net = torch_net(a, f32(ema))
        ref_raw, terms_raw = model_output(a, net, x, tt)
        ref_ema, terms_ema = model_output(a, ema_net, x, tt)
        # max abs (the scale of each term, at least 1, for PRECOND's f)
        call("cem_model_set", m, MODEL_USE_EMA, 1.0)
        R.rel_scaled("eval USE_EMA=1 %s %s" % (label, a.name()), eval_model(m, a.target, x, tt),
                     ref_ema, np.maximum(terms_ema, 1.0), TOL_FORWARD)
        call("cem_model_set", m, MODEL_USE_EMA, 0.0)
        R.rel_scaled("eval USE_EMA=0 %s %s" % (label, a.name()), eval_model(m, a.target, x, tt),
                     ref_raw, np.maximum(terms_raw, 1.0), TOL_FORWARD)
        R.record("raw and EMA differ %s" % label, float(np.max(np.abs(ref_raw - ref_ema))) > 1e-3,
                 "raw vs EMA answers differ by %.2e" % float(np.max(np.abs(ref_raw - ref_ema))))
    finally:
        LIB.cem_trainer_free(tr)
        LIB.cem_model_free(m)


# ------------------------------------------------------------------- main

# ------------------------------------------------------------ 5. labels
def check_labels(seed):
    """A labelled DIRECT CEM network (K = 3 classes, a label embedding of
    C = 5 features) against torch: the library's input [x, e, phi(t)] with e
    row k of a (K + 1) x C table (row K: no label) after the layers' weights
    (cemdiff.h), rebuilt as torch.nn.Embedding + concatenation.  Forward of
    cem_model_eval_labelled (labels -1 .. 2) max abs <= 1e-5; loss and
    gradient of cem_trainer_loss_batch_labelled, the table's included,
    <= 1e-5 and 1e-4 as section 2."""
    K, C = 3, 5
    a = Arch(2, TARGET_CEM, ACT_SILU, width=32, depth=2, embed=8, seed=seed)
    m = c_void_p()
    call("cem_model_create_mlp", byref(m), 2, TARGET_CEM)
    tr = c_void_p()
    try:
        for opt, v in ((MODEL_T_MIN, a.t_min), (MODEL_T_MAX, a.t_max), (MODEL_WIDTH, a.width),
                       (MODEL_DEPTH, a.depth), (MODEL_EMBED, a.embed), (MODEL_SEED, seed),
                       (MODEL_PARAM, PARAM_DIRECT), (MODEL_LABEL_EMBED, C),
                       (MODEL_LABELS, K), (MODEL_USE_EMA, 0)):
            call("cem_model_set", m, opt, float(v))
        flat = get_params(m, 0)
        shapes = ([(a.width, 2 + C + a.embed)] + [(a.width, a.width)] * (a.depth - 1) +
                  [(2, a.width)])
        nlayers = sum(o * i + o for o, i in shapes)
        R.record("labels: parameter count", flat.size == nlayers + (K + 1) * C,
                 "%d, layers %d + table %d" % (flat.size, nlayers, (K + 1) * C))
        layers = []
        for l, (o, i) in enumerate(shapes):
            layers.append(torch.nn.Linear(i, o))
            if l < len(shapes) - 1:
                layers.append(torch.nn.SiLU())
        net = torch.nn.Sequential(*layers)
        load_flat(net, flat[:nlayers])
        table = torch.nn.Embedding(K + 1, C)
        with torch.no_grad():
            table.weight.copy_(torch.from_numpy(flat[nlayers:].reshape(K + 1, C)))
        R.record("labels: the table starts N(0, 1)",
                 abs(float(flat[nlayers:].mean())) < 0.8 and 0.3 < float(flat[nlayers:].std()) < 2.0,
                 "mean %.3f sd %.3f of %d" % (flat[nlayers:].mean(), flat[nlayers:].std(), (K + 1) * C))

        def forward(x, t, lab):
            rows = torch.from_numpy(np.where(lab < 0, K, lab).astype(np.int64))
            inp = torch.cat([torch.from_numpy(f32(x)), table(rows),
                             torch.from_numpy(f32(phi(a, t)))], 1)
            return net(inp)

        rng = np.random.default_rng(seed)
        n = 64
        x = f32(rng.standard_normal((n, 2)))
        t = log_uniform(rng, n, a.t_min, a.t_max)
        lab = (np.arange(n) % (K + 1) - 1).astype(np.int32)
        out = np.zeros((n, 2), np.float32)
        call("cem_model_eval_labelled", m, TARGET_CEM, n, fptr(x), dptr(t),
             lab.ctypes.data_as(POINTER(c_int)), fptr(out))
        with torch.no_grad():
            ref = forward(x, t, lab).numpy()
        R.abs_close("labels: forward, classes -1 .. 2", out, ref, 1e-5)

        data = circle(64)
        dlab = (np.arange(64) % K).astype(np.int32)
        call("cem_trainer_create_labelled", byref(tr), m, fptr(data),
             dlab.ctypes.data_as(POINTER(c_int)), 64, 2)
        B = 96
        call("cem_trainer_set", tr, TR_BATCH, float(B))
        x0, tb, z = make_batch(rng, data, B, a)
        blab = (rng.integers(-1, K, B)).astype(np.int32)
        loss = c_double()
        grad = np.zeros_like(flat)
        call("cem_trainer_loss_batch_labelled", tr, B, fptr(x0), blab.ctypes.data_as(POINTER(c_int)),
             dptr(tb), fptr(z), byref(loss), fptr(grad))
        al, sg = ou(tb)
        xt = f32(al[:, None] * x0.astype(np.float64) + sg[:, None] * z.astype(np.float64))
        outb = forward(xt, tb, blab)
        tl = (torch.from_numpy(f32(cem_weight(WEIGHT_LAMBDA, tb))) *
              ((outb - torch.from_numpy(x0)) ** 2).sum(1)).mean()
        tl.backward()
        R.rel_scalar("labels: loss", loss.value, float(tl), TOL_LOSS)
        gt = np.concatenate([p.grad.numpy().ravel() for p in net.parameters()] +
                            [table.weight.grad.numpy().ravel()]).astype(np.float64)
        gc = grad.astype(np.float64)
        err = float(np.max(np.abs(gc - gt))) / max(float(np.max(np.abs(gt))), 1e-300)
        R.record("labels: gradient, every tensor and the table", err <= TOL_GRAD,
                 "rel err %.3e (tol %.0e)" % (err, TOL_GRAD))
        gtab_c, gtab_t = gc[nlayers:], gt[nlayers:]
        terr = float(np.max(np.abs(gtab_c - gtab_t))) / max(float(np.max(np.abs(gtab_t))), 1e-300)
        R.record("labels: the table's gradient", terr <= TOL_GRAD and np.max(np.abs(gtab_t)) > 0,
                 "rel err %.3e (tol %.0e), max |g| %.3e" % (terr, TOL_GRAD, np.max(np.abs(gtab_t))))
    finally:
        LIB.cem_trainer_free(tr)
        LIB.cem_model_free(m)


def main():
    global LIB
    path = sys.argv[1] if len(sys.argv) > 1 else "lib/libcemdiff.so"
    torch.set_num_threads(1)
    torch.manual_seed(0)
    try:
        LIB = load_library(path)
    except (OSError, AttributeError) as e:
        R.record("load %s" % path, False, str(e))
        LIB = None

    if LIB is not None:
        seed = 100
        # 1. forward: every target x activation x dim, then the defaults.
        for target in (TARGET_CEM, TARGET_NOISE, TARGET_SCORE):
            for act in (ACT_SILU, ACT_RELU, ACT_TANH):
                for dim in (2, 3):
                    seed += 1
                    tw = (1e-3, 10.0) if dim == 2 else (1e-4, 20.0)
                    a = Arch(dim, target, act, seed=seed, t_min=tw[0], t_max=tw[1])
                    guarded("forward " + a.name(), check_forward, a, seed)
        for target in (TARGET_CEM, TARGET_NOISE, TARGET_SCORE):
            a = Arch(2, target, ACT_SILU, width=256, depth=3, embed=32, seed=0, defaults=True)
            guarded("forward " + a.name(), check_forward, a, 7 + target)
        # PRECOND with data statistics (centre off the origin, sd != 1)
        for dim, act, mu, sd, tw in ((2, ACT_SILU, (0.4, -0.3), 0.8, (1e-3, 10.0)),
                                     (3, ACT_TANH, (2.0, -1.0, 0.5), 1.7, (1e-4, 20.0))):
            a = Arch(dim, TARGET_CEM, act, seed=50 + dim, t_min=tw[0], t_max=tw[1],
                     param=PARAM_PRECOND, mu=mu, sd=sd)
            guarded("forward " + a.name(), check_forward, a, 60 + dim)

        # PRECOND_PCA with a covariance (axes not the coordinates, one
        # direction empty: its sd is the floor)
        a = Arch(3, TARGET_CEM, ACT_SILU, seed=56, param=PARAM_PRECOND_PCA, mu=(0.4, -1.0, 2.0),
                 cov=PCA_COV)
        guarded("forward " + a.name(), check_forward, a, 66)

        # 2. loss and gradients.
        for w in (WEIGHT_LAMBDA, WEIGHT_ONE, WEIGHT_SQRT_LAMBDA, WEIGHT_MIN_SNR):
            a = Arch(2, TARGET_CEM, ACT_SILU, seed=11 + w)
            guarded("loss " + a.name(), check_loss_grad, a, w, 200 + w)
        for target in (TARGET_NOISE, TARGET_SCORE):
            a = Arch(2, target, ACT_SILU, seed=20 + target)
            guarded("loss " + a.name(), check_loss_grad, a, WEIGHT_LAMBDA, 210 + target)
        for target in (TARGET_CEM, TARGET_NOISE, TARGET_SCORE):
            a = Arch(3, target, ACT_TANH, width=32, depth=2, embed=16, seed=30 + target,
                     t_min=1e-4, t_max=20.0)
            guarded("loss " + a.name(), check_loss_grad, a, WEIGHT_LAMBDA, 220 + target)
        # the preconditioned CEM objective, with statistics set (mu != 0, sd != 1)
        for w in (WEIGHT_EDM, WEIGHT_LAMBDA):
            a = Arch(2, TARGET_CEM, ACT_SILU, seed=70 + w, param=PARAM_PRECOND,
                     mu=(0.4, -0.3), sd=0.8)
            guarded("loss " + a.name(), check_loss_grad, a, w, 230 + w)
        a = Arch(3, TARGET_CEM, ACT_TANH, width=32, depth=2, embed=16, seed=75,
                 t_min=1e-4, t_max=20.0, param=PARAM_PRECOND, mu=(2.0, -1.0, 0.5), sd=1.7)
        guarded("loss " + a.name(), check_loss_grad, a, WEIGHT_EDM, 240)
        for w in (WEIGHT_EDM, WEIGHT_LAMBDA):
            a = Arch(3, TARGET_CEM, ACT_SILU, width=32, depth=2, embed=16, seed=76 + w,
                     param=PARAM_PRECOND_PCA, mu=(0.4, -1.0, 2.0), cov=PCA_COV)
            guarded("loss " + a.name(), check_loss_grad, a, w, 245 + w)

        # 3, 4. optimiser and EMA.
        a = Arch(2, TARGET_CEM, ACT_SILU, seed=41)
        guarded("optimizer ADAM", check_optimizer, a, "ADAM", OPTIM_ADAM, 0.0, 0.0, 300)
        guarded("optimizer ADAMW", check_optimizer, a, "ADAMW(wd=0.01)", OPTIM_ADAMW, 0.01,
                0.0, 301)
        guarded("optimizer CLIP", check_optimizer, a, "ADAM+CLIP(0.5)", OPTIM_ADAM, 0.0, 0.5,
                302)
        # At wd = 0.01 decoupled decay moves the weights by only ~2e-5 in 10
        # steps; these two make the decay itself (and its coupling) visible.
        guarded("optimizer ADAMW wd=1", check_optimizer, a, "ADAMW(wd=1)", OPTIM_ADAMW, 1.0,
                0.0, 303)
        guarded("optimizer ADAM L2", check_optimizer, a, "ADAM+L2(wd=1)", OPTIM_ADAM, 1.0,
                0.0, 304)
        # the preconditioned CEM with statistics, trained with its default weight (EDM)
        a = Arch(2, TARGET_CEM, ACT_SILU, seed=42, param=PARAM_PRECOND, mu=(0.4, -0.3), sd=0.8)
        guarded("optimizer ADAM PRECOND", check_optimizer, a, "ADAM", OPTIM_ADAM, 0.0, 0.0, 305)
        a = Arch(3, TARGET_CEM, ACT_SILU, seed=43, param=PARAM_PRECOND_PCA, mu=(0.4, -1.0, 2.0),
                 cov=PCA_COV)
        guarded("optimizer ADAM PCA", check_optimizer, a, "ADAM", OPTIM_ADAM, 0.0, 0.0, 306)

        # 5. labels: the embedding's forward and gradient.
        guarded("labels", check_labels, 500)

    print("torch_check: %d passed, %d failed" % (R.passed, R.failed))
    return 1 if R.failed or R.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
