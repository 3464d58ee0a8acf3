"""The modular networks' training step, compiled (inductor) against eager, in one run.

``fit(compile="auto")`` compiles a :class:`~noisylab.modular.ModularMLP` run when its work
(steps × members × batch × width) reaches ``ModularMLP.AUTO_COMPILE_WORK``; this benchmark
measures what that threshold rests on. For each width, one ensemble (members = the quick
preset's five noise rates, P = 47, x², full batch, AdamW) is trained by ``fit`` eagerly and
compiled, alternating, and reports per width:

- ``eager_epoch_s`` / ``compiled_epoch_s``: CPU seconds per epoch of this process once warm
  (median over ``--rounds`` rounds of ``--epochs`` epochs), and their ratio ``speedup``;
- ``saving_ns``: the time saved per unit of work (member × row × neuron) per step;
- ``compile_wall_s``: wall seconds of the first compiled call less the eager epoch's
  (compiling runs in worker processes, so CPU time of this process misses it), with a fresh
  inductor cache directory unless ``--warm-cache``;
- ``break_even_work``: the work at which the saving pays for compiling.

Usage: ``python benchmarks/modular.py [--json] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import torch

from noisylab.modular import ModularMLP, make_task, member_labels
from noisylab.runtime import machine
from noisylab.train import fit

RATES = [0.0, 0.2, 0.4, 0.6, 0.8]


def _fit(model, task, labels, masks, epochs: int, compile: bool) -> None:
    seeds = list(range(len(RATES)))
    fit(
        model, task.data, labels, noisy_mask=masks, loss="ce", optimizer="adamw", lr=1e-3,
        weight_decay=1.0, schedule="constant", epochs=epochs, batch_size=None,
        eval_every=epochs, seed=seeds, progress=False, compile=compile,
    )  # fmt: skip


def measure(width: int, rounds: int, epochs: int) -> dict:
    task = make_task(p=47, op="add", train_fraction=0.8, noise="wrong", seed=0)
    labels, masks = member_labels(task, RATES, [10 + i for i in range(len(RATES))])
    models = {c: ModularMLP(list(range(len(RATES))), p=47, width=width, activation="square")
              for c in (False, True)}  # fmt: skip
    first: dict[bool, float] = {}
    for c, model in models.items():  # first call: warm-up (and compiling)
        t0 = time.perf_counter()
        _fit(model, task, labels, masks, 1, c)
        first[c] = time.perf_counter() - t0
    times: dict[bool, list[float]] = {False: [], True: []}
    for r in range(rounds):
        for c in (r % 2 == 0, r % 2 == 1):  # alternate who goes first
            t0 = time.process_time()
            _fit(models[c], task, labels, masks, epochs, c)
            times[c].append((time.process_time() - t0) / epochs)
    eager, comp = statistics.median(times[False]), statistics.median(times[True])
    work = len(RATES) * task.data.x_train.shape[0] * width  # per step (full batch)
    saving = (eager - comp) / work
    compile_wall = max(0.0, first[True] - first[False])
    return {
        "width": width,
        "members": len(RATES),
        "rows": int(task.data.x_train.shape[0]),
        "eager_epoch_s": eager,
        "compiled_epoch_s": comp,
        "speedup": eager / comp,
        "saving_ns": 1e9 * saving,
        "compile_wall_s": compile_wall,
        "break_even_work": compile_wall / saving if saving > 0 else None,
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--quick", action="store_true", help="fewer widths and rounds")
    ap.add_argument("--warm-cache", action="store_true", help="keep the inductor cache")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if not args.warm_cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="noisylab-inductor-")
    widths, rounds, epochs = ([129, 1025], 3, 10) if args.quick else ([129, 257, 513, 1025], 5, 20)
    rows = [measure(w, rounds, epochs) for w in widths]
    result = {"rows": rows, "rounds": rounds, "epochs_per_round": epochs, "threads": 1,
              "threshold": ModularMLP.AUTO_COMPILE_WORK, "machine": machine()}  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{'width':>6s} {'eager ms':>9s} {'comp ms':>8s} {'speedup':>7s} {'ns/unit':>8s} "
              f"{'compile s':>9s} {'break-even':>11s}")  # fmt: skip
        for r in rows:
            be = f"{r['break_even_work']:.2e}" if r["break_even_work"] else "never"
            print(f"{r['width']:6d} {1e3 * r['eager_epoch_s']:9.1f} "
                  f"{1e3 * r['compiled_epoch_s']:8.1f} {r['speedup']:7.2f} "
                  f"{r['saving_ns']:8.2f} {r['compile_wall_s']:9.1f} {be:>11s}")  # fmt: skip
    return result


if __name__ == "__main__":
    main()
