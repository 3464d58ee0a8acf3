"""AlpacaFarm's methods, each a function of a :class:`~.pipeline.Pipeline` after its reward
stage: it trains from the SFT checkpoint on the shared preference data and records its
evaluation in ``p.methods`` (and its path in ``p.ei_curve`` / ``p.ppo_curves``).

Best-of-n is a stage of the pipeline itself (:meth:`~.pipeline.Pipeline.bon_stage`): its
candidates are reused by the preference-size ablation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .pipeline import Pipeline
from .records import Metrics


def supervised(p: Pipeline) -> None:
    """SFT itself, binary FeedME and binary reward conditioning."""
    c, fb, m = p.c, p.fb, p.methods
    m["sft"] = p.evaluate(p.sft)
    kw = {"steps": c.method_steps, "batch_size": c.batch_size, "lr": c.method_lr}
    choices = p.labels.choices
    fm = fb.feedme(p.sft, p.xp, p.y0, p.y1, choices, seed=c.seed, **kw)
    m["feedme"] = p.evaluate(fm)
    p.lap("feedme")
    rc = fb.reward_conditioning(p.sft, p.xp, p.y0, p.y1, choices, seed=c.seed, **kw)
    m["reward_conditioning"] = p.evaluate(rc, sample_prompts=fb.positive_prompts(p.xe))
    p.lap("reward_conditioning")


def expert_iteration(p: Pipeline) -> None:
    """Best-of-``bon_n`` on the unlabeled prompts then SFT, for ``ei_rounds`` rounds; the
    table's row is round 1."""
    c, fb = p.c, p.fb
    U = p.T(p.world.splits["unlabeled"].tokens)
    if c.ei_prompts is not None and c.ei_prompts < U.shape[0]:
        rng = np.random.default_rng([c.seed, 3])
        U = U[p.T(rng.choice(U.shape[0], c.ei_prompts, replace=False))]
    curve: list[Metrics] = []

    def record(r: int, pi: Any) -> None:
        curve.append({"round": r, **p.evaluate(p.sft if r == 0 else pi)})

    fb.expert_iteration(
        p.sft, p.rm, U, n=c.bon_n, rounds=c.ei_rounds, steps=c.ei_steps,
        batch_size=c.batch_size, lr=c.method_lr, seed=c.seed, callback=record,
    )  # fmt: skip
    p.ei_curve = curve
    p.methods["expert_iteration"] = {k: v for k, v in curve[1].items() if k != "round"}
    p.lap("expert_iteration")


def ppo_run(p: Pipeline, rm_kind: str) -> tuple[list[Metrics], dict[str, list[float]]]:
    """PPO against the reward model ``rm_kind``: eval-set metrics every ``ppo_eval_every``
    steps (and at the last), plus, for the noisy pool, the simulated val win-rate used to
    select the reported checkpoint. Returns the curve and PPO's per-step log."""
    c, fb = p.c, p.fb
    rm = p.rms[rm_kind]
    U = p.T(p.world.splits["unlabeled"].tokens)
    curve: list[Metrics] = []

    def record(step: int, pi: Any) -> None:
        if step % c.ppo_eval_every and step != c.ppo_steps:
            return
        policy = p.sft if step == 0 else pi
        row = {"step": step, **p.evaluate(policy, rm=rm)}
        if rm_kind == "noisy_pool":
            row["val_win_sim"] = p.evaluate(policy, rm=rm, split="val")["win_sim"]
        curve.append(row)

    def gold(idx: np.ndarray, ys: Any) -> np.ndarray:
        Uw = p.world.splits["unlabeled"].subset(idx)
        return p.gold_and_length(Uw, ys.numpy())[0]

    cfg = fb.PPOConfig(
        steps=c.ppo_steps, batch_size=c.ppo_batch, lr=c.ppo_lr, beta=c.ppo_beta,
        adaptive_kl=c.ppo_adaptive_kl,
    )  # fmt: skip
    _, log = fb.ppo(p.sft, rm, U, config=cfg, seed=c.seed, gold=gold, callback=record)
    return curve, {k: list(v) for k, v in vars(log).items()}


def ppo(p: Pipeline) -> None:
    """PPO against the noisy-pool reward model; the table's row is the checkpoint (after
    step 0) with the best simulated val win-rate: selection never looks at gold."""
    curve, p.ppo_log = ppo_run(p, "noisy_pool")
    p.ppo_curves["noisy_pool"] = curve
    best = max(range(1, len(curve)), key=lambda i: curve[i]["val_win_sim"])
    row = {k: v for k, v in curve[best].items() if k not in ("step", "val_win_sim")}
    row["selected_step"] = curve[best]["step"]
    p.methods["ppo"] = row
    p.lap("ppo_noisy_pool")


def quark(p: Pipeline) -> None:
    """Quark against the noisy-pool reward model, sampled with the top-quantile token."""
    c, fb = p.c, p.fb
    U = p.T(p.world.splits["unlabeled"].tokens)
    pi = fb.quark(
        p.sft, p.rm, U, rounds=c.quark_rounds, samples_per_round=c.quark_samples,
        steps_per_round=c.quark_steps, beta=c.quark_beta, batch_size=c.batch_size,
        lr=c.method_lr, seed=c.seed,
    )  # fmt: skip
    p.methods["quark"] = p.evaluate(pi, sample_prompts=fb.top_prompts(p.xe))
    p.lap("quark")


def dpo_evaluated(p: Pipeline, kind: str, choices: np.ndarray, eps: float) -> Metrics:
    """Train ``kind`` (``dpo``, ``cdpo`` or ``rdpo``) from SFT on the preference pairs
    labelled by ``choices``, assuming flip rate ``eps``, and evaluate it."""
    c = p.c
    pi, _ = p.fb.train_dpo(
        p.sft, p.xp, p.y0, p.y1, choices, kind=kind, eps=eps, beta=c.dpo_beta,
        steps=c.dpo_steps, batch_size=c.batch_size, lr=c.dpo_lr, seed=c.seed,
    )  # fmt: skip
    return p.evaluate(pi)


def dpo(p: Pipeline) -> None:
    """DPO, cDPO and rDPO on the pool's noisy labels (ε = the flip rate for the latter two)."""
    for kind in ("dpo", "cdpo", "rdpo"):
        eps = 0.0 if kind == "dpo" else p.c.flip_rate
        p.methods[kind] = dpo_evaluated(p, kind, p.labels.choices, eps)
    p.lap("dpo")
