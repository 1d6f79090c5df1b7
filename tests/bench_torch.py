"""The project's PyTorch implementation of W1 (shared BENCHMARK.md), for
`make bench VS=torch`: measures PyTorch on this machine at 1 and 2 threads,
in the same run as the library's bench, and prints the ratios.

    python3 tests/bench_torch.py BENCH C_RESULTS.jsonl [--quick]

The machine is shared, so the comparison is made in rounds: each round runs
the library (`BENCH --w1`) and then PyTorch, one right after the other, and
gives its own ratios; the ratios reported are the medians over the rounds.
C_RESULTS.jsonl (the full bench) gives the library's memory figure.

Each PyTorch measurement runs in a fresh subprocess (clean thread settings,
its own peak-memory figure).  PyTorch's matrix products go through OpenBLAS;
when the environment sets OPENBLAS_CORETYPE (this machine sets Haswell,
which keeps OpenBLAS off its AVX-512 kernels), PyTorch is measured both ways
and its best is the reference.  The ratios come with the largest ones the
machine allows (bench.c's FMA peak of all cores against PyTorch's FLOP
rate).  Output: one JSON object per line.
"""
import json
import math
import os
import subprocess
import sys

W1 = r'''
import math, sys, time, json, resource
import torch
threads, steps, runs, nsamp = (int(a) for a in sys.argv[1:5])
torch.set_num_threads(threads)
torch.manual_seed(0)
T, t1, E, H, B, D = 10.0, 1e-3, 32, 256, 1024, 2

def emb(t):
    tau = (torch.log(t) - math.log(t1)) / (math.log(T) - math.log(t1))
    k = torch.arange(1, E // 2 + 1, dtype=torch.float32)
    a = math.pi * tau[:, None] * k[None, :]
    return torch.cat([torch.sin(a), torch.cos(a)], 1)

net = torch.nn.Sequential(torch.nn.Linear(D + E, H), torch.nn.SiLU(), torch.nn.Linear(H, H),
                          torch.nn.SiLU(), torch.nn.Linear(H, H), torch.nn.SiLU(),
                          torch.nn.Linear(H, D))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
th = torch.rand(10000) * 2 * math.pi
data = torch.stack([torch.cos(th), torch.sin(th)], 1)

def step():
    x0 = data[torch.randint(0, 10000, (B,))]
    t = torch.exp(torch.rand(B) * (math.log(T) - math.log(t1)) + math.log(t1))
    al, sg = torch.exp(-t / 2), torch.sqrt(-torch.expm1(-t))
    xt = al[:, None] * x0 + sg[:, None] * torch.randn_like(x0)
    f = net(torch.cat([xt, emb(t)], 1))
    loss = ((1 / torch.expm1(t))[:, None] * (f - x0) ** 2).sum(1).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()

for _ in range(5):
    step()
train = []
for _ in range(runs):
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    train.append((time.perf_counter() - t0) / steps)
g = 1 - (t1 / T) ** (1 / 99)
ts = [t1 * (1 - g) ** (1 - k) for k in range(1, 101)]
samp = []
with torch.no_grad():
    for _ in range(runs):
        y = torch.randn(nsamp, D)
        t0 = time.perf_counter()
        for k in range(99, 0, -1):
            t, s = ts[k], ts[k - 1]
            f = net(torch.cat([y, emb(torch.full((nsamp,), t))], 1))
            st2, ss2 = -math.expm1(-t), -math.expm1(-s)
            a_ts, s_ts2 = math.exp(-(t - s) / 2), -math.expm1(-(t - s))
            y = (a_ts * ss2 / st2) * y + (math.exp(-s / 2) * s_ts2 / st2) * f \
                + math.sqrt(s_ts2 * ss2 / st2) * torch.randn_like(y)
        samp.append(time.perf_counter() - t0)
train.sort(); samp.sort()
print(json.dumps({"train_s": train[len(train) // 2], "sample_s": samp[len(samp) // 2],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def torch_run(threads, quick, env):
    args = [sys.executable, "-c", W1, str(threads), "10" if quick else "60",
            "3" if quick else "5", "2000" if quick else "10000"]
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def configs():
    """OpenBLAS (which this PyTorch calls for its matrix products) as the
    environment configures it and, when OPENBLAS_CORETYPE is set there, with
    its own choice of kernels: PyTorch's best is the best of all."""
    env = dict(os.environ)
    yield env.get("OPENBLAS_CORETYPE", "autodetected"), env
    if "OPENBLAS_CORETYPE" in env:
        env = dict(env)
        del env["OPENBLAS_CORETYPE"]
        yield "autodetected", env


ROUNDS = 3


def library_run(bench, quick):
    """The library's side of a round: `bench --w1` (peak, training and
    sampling on 1 and 2 threads, each a median of its runs)."""
    args = [bench, "--w1"] + (["--quick"] if quick else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    c = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]
    return {"train": max(x["steps_per_s"] for x in c if x["figure"] == "train"),
            "sample": max(x["row_evals_per_s"] for x in c if x["figure"] == "sample"),
            "peak": next(x["gflops_all"] for x in c if x["figure"] == "fma_peak") * 1e9}


def torch_round(rnd, quick):
    """PyTorch's side of a round: every configuration at 1 and 2 threads,
    each printed; returns the best figures, the best as the environment
    configures it, and the smallest peak memory."""
    nsamp = 2000 if quick else 10000
    best = {"train": 0.0, "sample": 0.0}
    env_best = None
    rss = math.inf
    for name, env in configs():
        here = {"train": 0.0, "sample": 0.0}
        for threads in (1, 2):
            r = torch_run(threads, quick, env)
            steps = 1 / r["train_s"]
            evals = nsamp * 99 / r["sample_s"]
            here["train"] = max(here["train"], steps)
            here["sample"] = max(here["sample"], evals)
            rss = min(rss, r["peak_rss_mb"])
            print(json.dumps({"workload": "W1", "figure": "torch", "round": rnd,
                              "threads": threads, "openblas_coretype": name,
                              "steps_per_s": round(steps, 1), "row_evals_per_s": round(evals),
                              "peak_rss_mb": round(r["peak_rss_mb"], 1),
                              "torch": __import__("torch").__version__}), flush=True)
        if env_best is None:
            env_best = here
        best = {k: max(best[k], here[k]) for k in best}
    return best, env_best, rss


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def main():
    quick = "--quick" in sys.argv
    bench, results = sys.argv[1], sys.argv[2]
    c = [json.loads(line) for line in open(results) if line.strip().startswith("{")]
    cfg = next(x for x in c if x.get("figure") == "config")
    c_rss = next(x["peak_rss_mb"] for x in c if x.get("figure") == "train_memory")
    torch_rss = math.inf
    rounds = []
    for rnd in range(1 if quick else ROUNDS):
        lib = library_run(bench, quick)
        best, env_best, rss = torch_round(rnd, quick)
        torch_rss = min(torch_rss, rss)
        # The largest speed-ups this machine allows: a step, or a row
        # evaluation, made of nothing but its FLOPs at the FMA peak of all
        # cores measured in this round, against PyTorch's best.
        r = {"library_steps_per_s": lib["train"], "torch_steps_per_s": round(best["train"], 1),
             "library_row_evals_per_s": lib["sample"],
             "torch_row_evals_per_s": round(best["sample"]),
             "train_speedup": round(lib["train"] / best["train"], 2),
             "sample_speedup": round(lib["sample"] / best["sample"], 2),
             "train_speedup_env_config": round(lib["train"] / env_best["train"], 2),
             "sample_speedup_env_config": round(lib["sample"] / env_best["sample"], 2),
             "train_speedup_at_fma_peak": round(lib["peak"] / cfg["flops_per_step"] / best["train"], 2),
             "sample_speedup_at_fma_peak":
                 round(lib["peak"] / cfg["flops_per_row_eval"] / best["sample"], 2),
             "fma_peak_gflops": round(lib["peak"] / 1e9, 1)}
        rounds.append(r)
        print(json.dumps(dict({"workload": "W1", "figure": "round", "round": rnd}, **r)), flush=True)
    keys = ("train_speedup", "sample_speedup", "train_speedup_env_config",
            "sample_speedup_env_config")
    out = {"workload": "W1", "figure": "ratio_vs_torch", "rounds": len(rounds)}
    out.update({k: median([r[k] for r in rounds]) for k in keys})
    out["memory_fraction"] = round(c_rss / torch_rss, 3)
    out["targets"] = {"train_speedup": 2.5, "sample_speedup": 2.5, "memory_fraction": 0.1}
    out["bound_at_fma_peak"] = {
        "train_speedup": median([r["train_speedup_at_fma_peak"] for r in rounds]),
        "sample_speedup": median([r["sample_speedup_at_fma_peak"] for r in rounds])}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
