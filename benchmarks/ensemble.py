"""Ensemble training throughput: our stacked engine vs a per-model loop vs ``torch.func.vmap``.

Trains M = 32 MLPs (40 → width → width → 10, MNIST-1D-shaped, batch 128 per member, Adam)
for a fixed number of steps at widths 32 … 512, three ways in one run:

* engine     – ``noisylab.nn.build("mlp", 32)`` (``strategy="auto"``) trained by the step
               ``noisylab.train.fit`` runs: ``engine._member_losses`` (one index_select /
               gather for all members' minibatches, forward, per-member mean loss), one
               backward, ``noisylab.optim`` Adam (fused);
* compiled   – the same step with ``_member_losses`` under ``torch.compile`` (inductor; its
               backward is compiled too); the first call's extra wall time is ``compile_s``;
* sequential – 32 separate ``nn.Sequential`` models with 32 separate Adam optimisers;
* vmap       – ``stack_module_state`` + ``vmap(functional_call)`` with one Adam.

The explicit ``stacked`` and ``loop`` strategies are timed too (they justify the ``auto``
threshold), and so is ``noisylab.train.fit`` end to end for the same number of steps
(``fit_s``: its per-step bookkeeping plus one evaluation after the epoch; ``fit_compiled_s``
with ``compile=True``). ``fit`` evaluates every member on the training rows after the epoch
(a third of an epoch's arithmetic here), so it is also set against ``sequential_fit``: the
sequential loop followed by the same evaluation of every model. Methods are interleaved and the minimum over repetitions is kept, which damps
the noise of other processes on a shared machine; ratios measured in one run are the
figures to read, absolute times vary with load. Also compares ``F.cross_entropy`` with
``logsumexp − gather`` (forward + backward).

Every method runs in one process under the same C allocator settings: tuned
(:func:`noisylab.runtime.tune_allocator`, as in the CLI and sweep workers) unless
``--no-tune-allocator``.

Usage: ``python benchmarks/ensemble.py [--json] [--quick] [--no-compile] [--clock cpu]
[--threads N] [--no-tune-allocator]``
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from noisylab import optim as noisy_optim
from noisylab.nn import build, resolve_strategy
from noisylab.runtime import machine, tune_allocator

IN, OUT, DEPTH, BATCH, MEMBERS = 40, 10, 2, 128, 32


def ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy as logsumexp − gather (the engine's formulation)."""
    return torch.logsumexp(logits, -1) - logits.gather(-1, y.unsqueeze(-1)).squeeze(-1)


def peak_gflops(n: int = 1024, reps: int = 8) -> float:
    """Best fp32 GEMM rate of an n×n×n matmul (2n³ flops), GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = clock()
        a @ b
        best = min(best, clock() - t)
    return 2 * n**3 / best / 1e9


def make_data(steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    n = BATCH * 8
    x = torch.randn(n, IN, generator=g)
    y = torch.randint(0, OUT, (n,), generator=g)
    idx = torch.stack([torch.randperm(n, generator=g)[:BATCH] for _ in range(steps * MEMBERS)])
    return x, y, idx.view(steps, MEMBERS, BATCH)  # (S, M, B)


def engine_runner(width: int, strategy: str, x, y, idx, compiled: bool = False):
    """The engine's training step over ``idx`` (S, M, B); ``compiled`` uses torch.compile."""
    from noisylab.losses import get as get_loss
    from noisylab.train.engine import _member_losses

    model = build(
        "mlp",
        MEMBERS,
        seed=0,
        in_features=IN,
        out_features=OUT,
        width=width,
        depth=DEPTH,
        strategy=strategy,
    )
    opt = noisy_optim.build("adam", [{"params": list(model.parameters()), "ensemble": True}], 1e-3)
    loss_fn = get_loss("ce", reduction="none")
    labels = y.expand(MEMBERS, -1)  # (M, n): the engine's per-member labels (shared here)
    losses = torch.compile(_member_losses) if compiled else _member_losses

    def run() -> None:
        for ib in idx:  # (M, B)

            def closure(ib: torch.Tensor = ib) -> torch.Tensor:
                opt.zero_grad(set_to_none=False)
                loss = losses(model, loss_fn, x, labels, ib, False).sum()
                loss.backward()
                return loss

            opt.step(closure)

    return run


def fit_runner(width: int, x, y, idx, compile: bool = False) -> Callable[[], None]:
    """``noisylab.train.fit`` itself: one epoch of ``steps`` full minibatches per member.

    Includes everything ``fit`` adds to the bare step (label checks, divergence guard,
    epoch-loss bookkeeping, schedule) and its one evaluation after the epoch, on the
    ``steps · B`` training rows and a one-row test set.
    """
    from noisylab.data import Dataset
    from noisylab.train import fit

    steps = idx.shape[0]
    n = steps * BATCH
    ds = Dataset("bench", x[:n].clone(), y[:n].clone(), x[:1].clone(), y[:1].clone(), OUT)
    model = build(
        "mlp", MEMBERS, seed=0, in_features=IN, out_features=OUT, width=width, depth=DEPTH,
        strategy=resolve_strategy("auto", width),
    )  # fmt: skip

    def run() -> None:
        fit(model, ds, optimizer="adam", lr=1e-3, epochs=1, batch_size=BATCH,
            schedule="constant", progress=False, compile=compile)  # fmt: skip

    return run


def _sequential(width: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = IN
    for _ in range(DEPTH):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, OUT))


def sequential_runner(width: int, x, y, idx, evaluate: bool = False) -> Callable[[], None]:
    """32 separate models and Adam optimisers over the same minibatches. With ``evaluate``,
    the evaluation ``fit`` does after its epoch follows: every model's loss and accuracy on
    the ``steps · B`` training rows and on the one-row test set (the ``sequential_fit``
    baseline, the same work as ``fit``)."""
    torch.manual_seed(0)
    models = [_sequential(width) for _ in range(MEMBERS)]
    opts = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in models]
    n = idx.shape[0] * BATCH
    sets = ((x[:n], y[:n]), (x[:1], y[:1]))

    def run() -> None:
        for ib in idx:
            for m, (model, opt) in enumerate(zip(models, opts)):
                opt.zero_grad()
                ce(model(x[ib[m]]), y[ib[m]]).mean().backward()
                opt.step()
        if evaluate:
            with torch.no_grad():
                for model in models:
                    for xe, ye in sets:
                        out = model(xe)
                        ce(out, ye).mean().item()
                        (out.argmax(-1) == ye).float().mean().item()

    return run


def vmap_runner(width: int, x, y, idx) -> Callable[[], None]:
    torch.manual_seed(0)
    models = [_sequential(width) for _ in range(MEMBERS)]
    params, buffers = stack_module_state(models)
    params = {k: nn.Parameter(v.detach().clone()) for k, v in params.items()}
    base = _sequential(width).to("meta")
    opt = torch.optim.Adam(list(params.values()), lr=1e-3)

    def one(p, b, xb):
        return functional_call(base, (p, b), (xb,))

    fwd = vmap(one, in_dims=(0, 0, 0))

    def run() -> None:
        for ib in idx:
            opt.zero_grad()
            ce(fwd(params, buffers, x[ib]), y[ib]).mean(1).sum().backward()
            opt.step()

    return run


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]


def best_times(
    runners: dict[str, Callable[[], None]], reps: int, first: dict[str, float] | None = None
) -> dict[str, float]:
    """Interleave the runners ``reps`` times after one warm-up each; min time each.

    The clock is wall time by default; ``--clock cpu`` uses this process's CPU time, which
    other processes' load does not inflate (with one thread it is the compute time).
    ``first`` receives each warm-up's wall time (it includes compiling).
    """
    for k, r in runners.items():
        t = time.perf_counter()
        r()
        if first is not None:
            first[k] = time.perf_counter() - t
    best = {k: float("inf") for k in runners}
    for _ in range(reps):
        for k, r in runners.items():
            t = clock()
            r()
            best[k] = min(best[k], clock() - t)
    return best


def loss_benchmark(reps: int) -> dict[str, float]:
    """CE forward + backward: ``F.cross_entropy`` vs ``logsumexp − gather``.

    Two layouts: flat logits (M·B, K), and ensemble logits (M, B, K) with per-member means,
    where ``F.cross_entropy`` needs the class axis second (a permuted view).
    """
    g = torch.Generator().manual_seed(0)
    z = torch.randn(MEMBERS * BATCH, OUT, generator=g, requires_grad=True)
    y = torch.randint(0, OUT, (MEMBERS * BATCH,), generator=g)
    z3 = z.detach().view(MEMBERS, BATCH, OUT).clone().requires_grad_(True)
    y3 = y.view(MEMBERS, BATCH)
    inner = 50

    def loop(f: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(inner):
                f().backward()

        return run

    t = best_times(
        {
            "torch_flat": loop(lambda: F.cross_entropy(z, y)),
            "ours_flat": loop(lambda: ce(z, y).mean()),
            "torch_ens": loop(
                lambda: F.cross_entropy(z3.transpose(1, 2), y3, reduction="none").mean(1).sum()
            ),
            "ours_ens": loop(lambda: ce(z3, y3).mean(1).sum()),
        },
        reps,
    )
    torch.testing.assert_close(F.cross_entropy(z, y), ce(z, y).mean())
    return {
        "f_cross_entropy_ms": 1e3 * t["torch_flat"] / inner,
        "logsumexp_gather_ms": 1e3 * t["ours_flat"] / inner,
        "ratio": t["torch_flat"] / t["ours_flat"],
        "ensemble_f_cross_entropy_ms": 1e3 * t["torch_ens"] / inner,
        "ensemble_logsumexp_gather_ms": 1e3 * t["ours_ens"] / inner,
        "ensemble_ratio": t["torch_ens"] / t["ours_ens"],
    }


def flops_per_step(width: int) -> float:
    """Forward + backward ≈ 3 × forward = 6 · B · (weights) per member."""
    weights = IN * width + (DEPTH - 1) * width * width + width * OUT
    return 6.0 * BATCH * weights * MEMBERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="fewer steps (under a minute)")
    parser.add_argument("--widths", default="32,64,128,256,512")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a shared, oversubscribed machine two OpenMP "
        "threads made a (32, 128, 128) baddbmm 55x slower than one)",
    )
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall", help="timer")
    parser.add_argument(
        "--no-compile", action="store_true", help="skip the torch.compile'd step and fit"
    )
    parser.add_argument(
        "--no-tune-allocator",
        action="store_true",
        help="keep glibc's default malloc thresholds (the CLI and sweep workers tune them: "
        "noisylab.runtime.tune_allocator); process-wide, so it applies to every method",
    )
    args = parser.parse_args()
    tuned = False if args.no_tune_allocator else tune_allocator()
    global clock
    clock = CLOCKS[args.clock]
    torch.set_num_threads(args.threads)
    steps, reps = (5, 3) if args.quick else (20, 5)
    peak = peak_gflops()
    x, y, idx = make_data(steps)
    rows = []
    for width in [int(w) for w in args.widths.split(",")]:
        strategy = resolve_strategy("auto", width)
        runners = {
            "stacked": engine_runner(width, "stacked", x, y, idx),
            "loop": engine_runner(width, "loop", x, y, idx),
            "sequential": sequential_runner(width, x, y, idx),
            "vmap": vmap_runner(width, x, y, idx),
            "fit": fit_runner(width, x, y, idx),
            "sequential_fit": sequential_runner(width, x, y, idx, evaluate=True),
        }
        if not args.no_compile:
            runners["compiled"] = engine_runner(width, strategy, x, y, idx, compiled=True)
            runners["fit_compiled"] = fit_runner(width, x, y, idx, compile=True)
        first: dict[str, float] = {}
        t = best_times(runners, reps, first)
        engine = t[strategy]
        compiled = {}
        if not args.no_compile:
            compiled = {
                "compiled_s": t["compiled"],
                "compiled_speedup_vs_eager": engine / t["compiled"],
                "compiled_speedup_vs_sequential": t["sequential"] / t["compiled"],
                "compile_s": first["compiled"] - t["compiled"],
                "fit_compiled_s": t["fit_compiled"],
                "fit_compiled_speedup_vs_sequential": t["sequential"] / t["fit_compiled"],
            }
        rows.append(
            {
                "width": width,
                "members": MEMBERS,
                "steps": steps,
                "auto_strategy": strategy,
                "engine_s": engine,
                "stacked_s": t["stacked"],
                "loop_s": t["loop"],
                "sequential_s": t["sequential"],
                "vmap_s": t["vmap"],
                "fit_s": t["fit"],
                "fit_speedup_vs_sequential": t["sequential"] / t["fit"],
                "sequential_fit_s": t["sequential_fit"],
                "fit_speedup_vs_sequential_fit": t["sequential_fit"] / t["fit"],
                "speedup_vs_sequential": t["sequential"] / engine,
                "speedup_vs_vmap": t["vmap"] / engine,
                "stacked_over_loop": t["loop"] / t["stacked"],
                "engine_gflops": flops_per_step(width) * steps / engine / 1e9,
                **compiled,
            }
        )
    loss = loss_benchmark(reps)
    result = {
        "peak_gflops": peak,
        "threads": torch.get_num_threads(),
        "clock": args.clock,
        "allocator_tuned": tuned,
        "machine": machine(),
        "rows": rows,
        "loss": loss,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['machine']['cpu']}: peak fp32 GEMM {peak:.1f} GFLOP/s "
        f"({torch.get_num_threads()} threads; absolute numbers vary with the CPU and its "
        "load — read the ratios)"
    )
    print(
        f"M={MEMBERS} MLPs {IN}→w→w→{OUT}, batch {BATCH}, Adam, {steps} steps, "
        f"best of {reps}, {args.clock} clock, allocator "
        f"{'tuned' if tuned else 'default'}"
    )
    head = ("width", "auto", "engine s", "seq s", "vmap s", "fit s", "×seq", "×vmap", "fit×seq")
    head += ("fit×seqf",)
    head += ("stk/loop", "GFLOP/s")
    if not args.no_compile:
        head += ("cmp/eager", "fitc×seq", "compile s")
    print("  ".join(f"{h:>9}" for h in head))
    for r in rows:
        cells = [
            r["width"],
            r["auto_strategy"],
            f"{r['engine_s']:.3f}",
            f"{r['sequential_s']:.3f}",
            f"{r['vmap_s']:.3f}",
            f"{r['fit_s']:.3f}",
            f"{r['speedup_vs_sequential']:.2f}",
            f"{r['speedup_vs_vmap']:.2f}",
            f"{r['fit_speedup_vs_sequential']:.2f}",
            f"{r['fit_speedup_vs_sequential_fit']:.2f}",
            f"{r['stacked_over_loop']:.2f}",
            f"{r['engine_gflops']:.1f}",
        ]
        if "compiled_s" in r:
            cells += [
                f"{r['compiled_speedup_vs_eager']:.2f}",
                f"{r['fit_compiled_speedup_vs_sequential']:.2f}",
                f"{r['compile_s']:.1f}",
            ]
        print("  ".join(f"{c:>9}" for c in cells))
    for key, shape in (
        ("", f"({MEMBERS * BATCH}, {OUT})"),
        ("ensemble_", f"({MEMBERS}, {BATCH}, {OUT})"),
    ):
        print(
            f"cross-entropy fwd+bwd on {shape}: F.cross_entropy "
            f"{loss[key + 'f_cross_entropy_ms']:.3f} ms, logsumexp−gather "
            f"{loss[key + 'logsumexp_gather_ms']:.3f} ms; F.cross_entropy takes "
            f"{loss[key + 'ratio']:.2f}× as long"
        )


if __name__ == "__main__":
    main()
