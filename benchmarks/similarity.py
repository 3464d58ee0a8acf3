"""Benchmark noisylab.similarity against the usual implementations, as ratios in one run.

Cases
-----
1. ``linear_cka``: our feature form (O(n p²) time, O(p²) extra memory) against the Gram-form
   reference implementation (numpy, as in Kornblith et al.'s notebook: n × n Gram matrices,
   double centring, Frobenius products; O(n² p) time, O(n²) memory), n = 10 000, p = 256.
2. ``pairwise linear_cka``: the M × M matrix for M = 16 members in batched GEMMs against a
   Python loop over the M(M−1)/2 pairs calling ``linear_cka``.
3. ``pairwise mutual_knn``: the same for mutual k-NN (k = 10): neighbours found once per
   member vs once per pair.

Method. Every measurement runs in a fresh subprocess with ``torch.set_num_threads(1)`` and
one BLAS thread, so times are CPU seconds (``time.process_time``) on one core and the
shared machine's load affects both sides alike. Peak memory is the growth of the process's
peak resident set over its resident set just before the call, with inputs already
allocated and lazily loaded libraries initialised by a call on a small slice: the peak
(VmHWM) is reset to the current RSS by writing 5 to ``/proc/self/clear_refs`` first, so
earlier peaks (building the inputs) do not mask the call's own; ``ru_maxrss`` is the
fallback where that is not allowed. It counts numpy and torch allocations alike (a
tracemalloc figure would miss torch's allocator). Each case is timed ``--repeats`` times
(best kept) after one warm-up call. The ratios ``speedup = baseline_s / ours_s`` are
what to compare across machines.

Usage: ``python benchmarks/similarity.py [--json] [--quick]`` (``--quick``: n = 4000,
M = 8 and 1 repeat; under a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from noisylab.runtime import machine

ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

WORKER = r"""
import json, resource, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
from noisylab import similarity as sim

case, impl, n, p, M, repeats = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
rng = np.random.default_rng(0)


def status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


def reset_peak():
    # writing 5 to clear_refs resets VmHWM (the peak RSS) to the current RSS (Linux >= 4.0)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def gram_linear_cka(X, Y):
    # the Gram-form reference: K = XXᵀ, L = YYᵀ, HKH, HLH, <HKH, HLH> / (|HKH| |HLH|)
    def centre(K):
        K = K - K.mean(0, keepdims=True)
        return K - K.mean(1, keepdims=True)
    K, L = centre(X @ X.T), centre(Y @ Y.T)
    return float((K * L).sum() / (np.linalg.norm(K) * np.linalg.norm(L)))


if case == "cka":
    X = rng.standard_normal((n, p))
    Y = X @ rng.standard_normal((p, p)) / p**0.5 + rng.standard_normal((n, p))
    run = (lambda: sim.linear_cka(X, Y)) if impl == "ours" else (lambda: gram_linear_cka(X, Y))
else:
    metric = "linear_cka" if case == "pairwise_cka" else "mutual_knn"
    kw = {} if metric == "linear_cka" else {"k": 10}
    shared = rng.standard_normal((n, p))
    reps = np.stack([shared + rng.standard_normal((n, p)) for _ in range(M)])
    fn = sim.METRICS[metric].fn

    def loop():
        out = np.eye(M)
        for i in range(M):
            for j in range(i + 1, M):
                out[i, j] = out[j, i] = fn(reps[i], reps[j], **kw)
        return out

    run = (lambda: sim.pairwise(reps, metric, **kw).matrix) if impl == "ours" else loop
if case != "cka":  # load lazily initialised libraries on a small slice first
    sl = reps[:2, :50]
    sim.pairwise(sl, metric, **kw) if impl == "ours" else fn(sl[0], sl[1], **kw)
exact = reset_peak()
base = status_mb("VmRSS")
value = run()  # warm-up, also the memory measurement
if exact:
    peak = status_mb("VmHWM") - base
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
best = float("inf")
for _ in range(repeats):
    t = time.process_time()
    value = run()
    best = min(best, time.process_time() - t)
print(json.dumps({"s": best, "peak_mb": max(peak, 0.0), "value": np.asarray(value).tolist()}))
"""


def measure(case: str, impl: str, n: int, p: int, M: int, repeats: int) -> dict:
    """Run one (case, implementation) in a fresh single-threaded subprocess."""
    env = {**os.environ, **ENV}
    args = [sys.executable, "-c", WORKER, case, impl, str(n), str(p), str(M), str(repeats)]
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    ap.add_argument("--repeats", type=int, default=None)
    a = ap.parse_args(argv)
    n_cka = 4000 if a.quick else 10_000
    M = 8 if a.quick else 16
    repeats = a.repeats or (1 if a.quick else 3)
    cases = [
        ("cka", f"linear_cka n={n_cka} p=256 (feature vs Gram form)", n_cka, 256, 1),
        ("pairwise_cka", f"pairwise linear_cka M={M} n=2000 p=256 (batched vs loop)", 2000, 256, M),
        (
            "pairwise_knn",
            f"pairwise mutual_knn M={M} n=2000 p=64 k=10 (batched vs loop)",
            2000,
            64,
            M,
        ),
    ]
    rows = []
    for key, label, n, p, m in cases:
        ours = measure(key, "ours", n, p, m, repeats)
        base = measure(key, "baseline", n, p, m, repeats)
        agree = abs(
            sum(map(float, _flat(ours["value"]))) - sum(map(float, _flat(base["value"])))
        ) < 1e-6 * max(1, len(_flat(ours["value"])))
        if not agree:
            raise SystemExit(
                f"{label}: ours and the baseline disagree: {ours['value']} vs {base['value']}"
            )
        rows.append(
            {
                "case": label,
                "ours_s": round(ours["s"], 4),
                "baseline_s": round(base["s"], 4),
                "speedup": round(base["s"] / max(ours["s"], 1e-9), 2),
                "ours_peak_mb": round(ours["peak_mb"], 1),
                "baseline_peak_mb": round(base["peak_mb"], 1),
            }
        )
    result = {"rows": rows, "machine": machine()}
    if a.json:
        print(json.dumps(result, indent=2))
    else:
        w = max(len(r["case"]) for r in rows)
        print(f"{'case':<{w}}  ours_s  base_s  speedup  ours_MB  base_MB")
        for r in rows:
            print(
                f"{r['case']:<{w}}  {r['ours_s']:6.3f}  {r['baseline_s']:6.3f}  "
                f"{r['speedup']:6.1f}x  {r['ours_peak_mb']:7.1f}  {r['baseline_peak_mb']:7.1f}"
            )
    return result


def _flat(v):
    if isinstance(v, list):
        return [x for item in v for x in _flat(item)]
    return [v]


if __name__ == "__main__":
    main()
