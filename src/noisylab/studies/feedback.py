"""Study ``feedback``: learning from noisy pairwise feedback in a small AlpacaFarm world.

One unit per seed runs the whole pipeline. The world and its noisy expert; SFT on the
demonstrations; two SFT samples per preference prompt labelled by the noisy simulated pool
(p = 0.25 flips); the reward model; then every method of AlpacaFarm, each starting from the
same SFT checkpoint and using the same preference data: binary FeedME, binary reward
conditioning, best-of-n (n = 1..N by the unbiased estimator), expert iteration, PPO, Quark,
and DPO with its noise-aware variants cDPO and rDPO. Every method is judged against the
expert's reference responses on the evaluation prompts by the noise-free pool (simulated)
and by the gold reward ("human"), with its proxy reward, √KL to SFT and response length.

Over-optimisation is traced along best-of-n's n, PPO's steps and expert-iteration rounds,
and Gao et al.'s forms are fitted to gold reward against √KL. Ablations: reward models from
the pool without flips and from a single low-variance annotator (with PPO on the latter),
smaller preference sets, and DPO against rDPO as the flip rate grows.

Model selection uses the simulator only, never gold: the table's PPO row is the checkpoint
with the best simulated win-rate on the validation prompts (AlpacaFarm tuned its methods
in simulation).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, field_validator

from noisylab.studies.base import Claim, StudyConfig, markdown_table, write_csv

NAME = "feedback"
#: Bumped when ``run_unit``'s output changes (part of every run id: old results are redone).
RESULT_VERSION = 2
TITLE = "AlpacaFarm: learning from noisy pairwise feedback, and reward over-optimisation"
PAPER = (
    "Dubois et al. 2023, AlpacaFarm: A Simulation Framework for Methods that Learn from "
    "Human Feedback (NeurIPS); Gao, Schulman & Hilton 2022, Scaling Laws for Reward Model "
    "Overoptimization"
)

METHODS = (
    "sft",
    "feedme",
    "reward_conditioning",
    "best_of_16",
    "expert_iteration",
    "ppo",
    "quark",
    "dpo",
    "cdpo",
    "rdpo",
)
RM_KINDS = ("noisy_pool", "clean_pool", "low_variance")
#: AlpacaFarm's win-rates (%) against Davinci003, simulated / human (Dubois et al. 2023,
#: Table 2; SFT on 10k demonstrations; "—" where the paper has no human number).
ALPACAFARM = {
    "ppo": (46.8, 55.1),
    "best_of_16": (45.0, 50.7),
    "expert_iteration": (41.9, 45.7),
    "sft": (36.7, 44.3),
    "feedme": (36.6, 37.9),
    "quark": (35.6, None),
    "reward_conditioning": (32.4, None),
}
#: What each evaluation records; curves and method rows share these keys.
EVAL_KEYS = ("proxy", "gold", "win_sim", "win_gold", "win_low", "kl", "length")


class Config(StudyConfig):
    """Pipeline sizes; steps are optimiser steps, ``scale`` multiplies AlpacaFarm's splits."""

    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "tiny": {
            "seeds": 1,
            "scale": 0.04,
            "sft_steps": 200,
            "rm_steps": 40,
            "method_steps": 20,
            "dpo_steps": 20,
            "dpo_lr": 3e-4,
            "bon_samples": 32,
            "min_eval": 100,
            "ppo_steps": 12,
            "ppo_eval_every": 4,
            "ppo_lr": 2e-4,
            "ei_rounds": 1,
            "ei_prompts": 64,
            "ei_steps": 20,
            "quark_rounds": 1,
            "quark_samples": 128,
            "quark_steps": 10,
            "flip_grid": [0.0, 0.4],
            "pref_fractions": [],
            "ablations": False,
        },
        "quick": {"seeds": 3, "scale": 0.2},
        "paper": {
            "seeds": 5,
            "scale": 1.0,
            "sft_steps": 2000,
            "rm_steps": 1000,
            "method_steps": 500,
            "bon_samples": 1024,
            "min_eval": 0,
            "ppo_steps": 1000,
            "ppo_eval_every": 25,
            "ei_rounds": 3,
            "ei_prompts": None,
            "ei_steps": 500,
            "quark_rounds": 5,
            "quark_samples": 4096,
            "quark_steps": 200,
            "flip_grid": [0.0, 0.1, 0.2, 0.3, 0.4],
            "pref_fractions": [0.1, 0.25, 0.5],
        },
    }

    seeds: int = 3
    scale: float = 0.2
    lazy_rate: float = 0.5
    token_noise: float = 0.05
    d_model: int = 64
    n_layer: int = 2
    n_head: int = 4
    batch_size: int = 64
    sft_steps: int = 600
    sft_lr: float = 3e-3
    rm_steps: int = 200
    rm_lr: float = 1e-3
    readout: str = "token"
    method_steps: int = 150
    method_lr: float = 1e-3
    n_annotators: int = 13
    flip_rate: float = 0.25
    bon_n: int = 16
    bon_samples: int = 256
    min_eval: int = 200
    # expert iteration: best-of-bon_n on (a sample of) the unlabeled prompts, then SFT
    ei_rounds: int = 3
    ei_prompts: int | None = 512
    ei_steps: int = 150
    # PPO (AlpacaFarm App. A.2, scaled): KL penalty β, clip 0.2, value clip 0.2, vf 0.1
    ppo_steps: int = 120
    ppo_batch: int = 64
    ppo_lr: float = 5e-5
    ppo_beta: float = 0.05
    ppo_adaptive_kl: bool = False
    ppo_eval_every: int = 15
    # Quark: 4 reward quantiles, top-quantile training, KL β = 0.05
    quark_rounds: int = 3
    quark_samples: int = 1024
    quark_steps: int = 60
    quark_beta: float = 0.05
    # DPO family: β = 0.1; cDPO/rDPO assume the flip rate ε = flip_rate
    dpo_beta: float = 0.1
    dpo_steps: int = 100
    dpo_lr: float = 1e-4
    flip_grid: list[float] = Field(default_factory=lambda: [0.0, 0.4])
    pref_fractions: list[float] = Field(default_factory=lambda: [0.25])
    ablations: bool = True

    @field_validator("device")
    @classmethod
    def _cpu_only(cls, v: str) -> str:
        if v != "cpu":
            raise ValueError(
                f"the feedback study runs on the CPU only (its pipeline keeps the policy, the "
                f"samplers and their generators on the CPU), got device={v!r}; leave it out "
                "with --only, or run it without --device"
            )
        return v


def units(config: Config) -> list[dict[str, Any]]:
    """One unit per seed: the config's fields with ``seed`` set."""
    if config.seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {config.seeds}")
    if config.bon_samples < config.bon_n:
        raise ValueError(
            f"bon_samples (N) must be >= bon_n, got N={config.bon_samples}, n={config.bon_n}"
        )
    if any(not 0.0 <= p < 0.5 for p in config.flip_grid):
        raise ValueError(f"flip_grid rates must be in [0, 0.5), got {config.flip_grid}")
    if any(not 0.0 < f < 1.0 for f in config.pref_fractions):
        raise ValueError(f"pref_fractions must be in (0, 1), got {config.pref_fractions}")
    if config.ppo_eval_every < 1 or config.ppo_steps < 1:
        raise ValueError(
            f"ppo_steps and ppo_eval_every must be >= 1, got {config.ppo_steps}, "
            f"{config.ppo_eval_every}"
        )
    base = config.model_dump()
    base.pop("seeds")
    return [{**base, "seed": config.seed + i} for i in range(config.seeds)]


def _powers(N: int) -> list[int]:
    out, n = [], 1
    while n <= N:
        out.append(n)
        n *= 2
    return out


# ----------------------------------------------------------------------------- one seed
class _Unit:
    """The shared state of one seed's pipeline: world, SFT, preference data, judges.

    Stages are methods that add to ``self.out``; :func:`run_unit` calls them in order, so a
    seed's random draws (``self.gen``) are consumed in one fixed sequence.
    """

    def __init__(self, c: Config) -> None:
        import torch

        from noisylab import feedback as fb

        self.c, self.fb, self.T = c, fb, torch.as_tensor
        self.t0 = time.process_time()
        self.cpu: dict[str, float] = {}
        self.world = fb.World.build(
            c.seed, c.scale, lazy_rate=c.lazy_rate, token_noise=c.token_noise, min_eval=c.min_eval
        )
        self.pool = fb.AnnotatorPool.default(c.seed, n=c.n_annotators, flip_rate=c.flip_rate)
        self.low = fb.AnnotatorPool.low_variance()
        self.gen = torch.Generator().manual_seed(c.seed)
        self.E = self.world.splits["eval"]
        self.xe = self.T(self.E.tokens)
        self.V = self.world.splits["val"]
        self.xv = self.T(self.V.tokens)
        self.out: dict[str, Any] = {"seed": c.seed, "methods": {}, "curves": {}}

    def lap(self, name: str) -> None:
        self.cpu[name] = round(time.process_time() - self.t0 - sum(self.cpu.values()), 3)

    # --- evaluation, shared by every method
    def judge(self, prompts: Any, ys: np.ndarray, ref: np.ndarray) -> dict[str, np.ndarray]:
        """Per-prompt gold reward, length and wins over ``ref``: by the noise-free pool
        (``win_sim``), by gold (``win_gold``) and by the low-variance annotator (``win_low``)."""
        sim, gold = self.fb.win_indicators(prompts, ys, ref, self.pool)
        low = self.fb.win_indicators(prompts, ys, ref, self.low)[0]
        g, s = self._gs(prompts, ys)
        return {"gold": g, "win_sim": sim, "win_gold": gold, "win_low": low, "length": s}

    def evaluate(
        self, policy: Any, *, sample_prompts: Any = None, rm: Any = None, split: str = "eval"
    ) -> dict[str, float]:
        """Sample ``policy`` once per prompt of ``split`` and summarise (means and SEs).

        On ``eval`` wins are against the expert's reference responses; on ``val`` (used only
        for checkpoint selection) against the SFT policy's own val samples. ``sample_prompts``
        carry a control token where the policy needs one (reward conditioning, Quark); the
        KL to SFT is taken against the plain prompts. ``rm`` gives the proxy (default: the
        noisy-pool reward model)."""
        if split == "eval":
            P, x, ref = self.E, self.xe, self.world.reference
        else:
            P, x, ref = self.V, self.xv, self.val_ref
        xs = x if sample_prompts is None else sample_prompts
        ys = self.fb.sample_batched(policy, xs, generator=self.gen)
        kl = (
            0.0
            if policy is self.sft
            else self.fb.kl_to_reference(policy, self.sft, xs, ys, ref_prompts=x)
        )
        per = self.judge(P, ys.numpy(), ref)
        per["proxy"] = (rm or self.rm).score(x, ys).numpy()
        res: dict[str, float] = {"kl": float(kl)}
        for k, v in per.items():
            res[k], res[k + "_se"] = self.fb.mean_se(v)
        return res

    def _gs(self, P: Any, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from noisylab.feedback.world import gold_reward, spurious_feature

        return gold_reward(P, ys), spurious_feature(ys)

    # --- stages
    def sft_stage(self) -> None:
        c, fb = self.c, self.fb
        cfg = fb.GPTConfig(n_layer=c.n_layer, n_head=c.n_head, d_model=c.d_model)
        self.sft = fb.TransformerPolicy(cfg, seed=c.seed)
        S = self.world.splits["sft"]
        fb.train_lm(
            self.sft, self.T(S.tokens), self.T(self.world.demonstrations), steps=c.sft_steps,
            batch_size=c.batch_size, lr=c.sft_lr, seed=c.seed,
        )  # fmt: skip
        self.lap("sft")

    def preference_stage(self) -> None:
        """Two SFT samples per preference prompt, labelled by the pool and by the ablations."""
        c, fb = self.c, self.fb
        Pp = self.world.splits["preference"]
        self.xp = self.T(Pp.tokens)
        self.y0 = fb.sample_batched(self.sft, self.xp, generator=self.gen)
        self.y1 = fb.sample_batched(self.sft, self.xp, generator=self.gen)
        g0, s0 = self._gs(Pp, self.y0.numpy())
        g1, s1 = self._gs(Pp, self.y1.numpy())
        self.labels = self.pool.label(g0, g1, s0, s1, seed=np.random.default_rng([c.seed, 1]))
        low_labels = self.low.label(g0, g1, s0, s1, seed=np.random.default_rng([c.seed, 2]))
        self.label_sets = {
            "noisy_pool": self.labels.choices,
            "clean_pool": self.labels.clean,
            "low_variance": low_labels.choices,
        }
        self.out["agreement"] = {
            "noisy_pool": self.pool.agreement(g0, g1, s0, s1),
            "clean_pool": self.pool.without_flips().agreement(g0, g1, s0, s1),
            "low_variance": self.low.agreement(g0, g1, s0, s1),
        }
        self.out["realised_flip_rate"] = float(self.labels.flipped.mean())
        # held-out pairs for reward-model accuracy against gold
        v0 = fb.sample_batched(self.sft, self.xv, generator=self.gen)
        v1 = fb.sample_batched(self.sft, self.xv, generator=self.gen)
        self.val_pairs = (v0, v1, self._gs(self.V, v0.numpy())[0], self._gs(self.V, v1.numpy())[0])
        self.val_ref = v0.numpy()  # the SFT policy's val responses, for checkpoint selection
        self.lap("preference_data")

    def train_rm(self, choices: np.ndarray, idx: np.ndarray | None = None) -> tuple[Any, float]:
        c, fb = self.c, self.fb
        rm = fb.RewardModel(self.sft, c.readout)
        xp, y0, y1 = self.xp, self.y0, self.y1
        if idx is not None:
            t = self.T(idx)
            xp, y0, y1, choices = xp[t], y0[t], y1[t], choices[idx]
        fb.train_reward_model(
            rm, xp, y0, y1, choices, steps=c.rm_steps, batch_size=c.batch_size, lr=c.rm_lr,
            seed=c.seed,
        )  # fmt: skip
        v0, v1, vg0, vg1 = self.val_pairs
        acc = fb.preference_accuracy(rm.score(self.xv, v0), rm.score(self.xv, v1), vg0, vg1)
        return rm, acc

    def reward_stage(self) -> None:
        fb = self.fb
        v0, v1, vg0, vg1 = self.val_pairs
        untrained = fb.RewardModel(self.sft, self.c.readout)
        self.out["rm_untrained_acc"] = fb.preference_accuracy(
            untrained.score(self.xv, v0), untrained.score(self.xv, v1), vg0, vg1
        )
        self.rms: dict[str, Any] = {}
        stats: dict[str, dict[str, float]] = {}
        for k in RM_KINDS:  # the low-variance RM is needed by the over-optimisation claim
            if k == "clean_pool" and not self.c.ablations:
                continue
            self.rms[k], acc = self.train_rm(self.label_sets[k])
            stats[k] = {"val_acc_gold": acc}
            self.lap(f"rm_{k}")
        self.rm = self.rms["noisy_pool"]
        self.out["reward_models"] = stats

    def supervised_stage(self) -> None:
        """SFT itself, binary FeedME and binary reward conditioning."""
        c, fb, m = self.c, self.fb, self.out["methods"]
        m["sft"] = self.evaluate(self.sft)
        kw = {"steps": c.method_steps, "batch_size": c.batch_size, "lr": c.method_lr}
        choices = self.labels.choices
        fm = fb.feedme(self.sft, self.xp, self.y0, self.y1, choices, seed=c.seed, **kw)
        m["feedme"] = self.evaluate(fm)
        self.lap("feedme")
        rc = fb.reward_conditioning(self.sft, self.xp, self.y0, self.y1, choices, seed=c.seed, **kw)
        m["reward_conditioning"] = self.evaluate(rc, sample_prompts=fb.positive_prompts(self.xe))
        self.lap("reward_conditioning")

    def bon_stage(self) -> None:
        """N SFT samples per eval prompt; every n ≤ N by the unbiased estimator, per RM."""
        c, fb = self.c, self.fb
        N, M = c.bon_samples, len(self.E)
        xrep = self.xe.repeat_interleave(N, dim=0)
        self.cand = fb.sample_batched(self.sft, xrep, generator=self.gen)  # (M·N, L)
        Erep = self.E.subset(np.repeat(np.arange(M), N))
        self.Erep, self.xrep = Erep, xrep
        self.per_rep = per = self._judge_rep(Erep, self.cand.numpy())
        ns = _powers(N)
        if c.bon_n not in ns:
            ns = sorted({*ns, c.bon_n})
        self.ns = ns
        bon: dict[str, Any] = {"n": ns, "kl_bound": [fb.kl_bound(n) for n in ns]}
        for k, model in self.rms.items():
            bon[k] = self._bon_curve(model, per)
        self.out["bon"] = bon
        b, i = bon["noisy_pool"], ns.index(c.bon_n)
        row = {key: b[key][i] for key in b if key != "kl"}
        row["kl"] = fb.kl_bound(c.bon_n)
        self.out["methods"]["best_of_16"] = row
        self.lap("best_of_n")

    def _judge_rep(self, Erep: Any, cand: np.ndarray) -> dict[str, np.ndarray]:
        M, N = len(self.E), self.c.bon_samples
        per = self.judge(Erep, cand, np.repeat(self.world.reference, N, axis=0))
        return {k: v.reshape(M, N) for k, v in per.items()}

    def _bon_curve(self, rm: Any, per: dict[str, np.ndarray]) -> dict[str, list[float]]:
        M, N = len(self.E), self.c.bon_samples
        proxy = rm.score(self.xrep, self.cand).numpy().reshape(M, N)
        curve: dict[str, list[float]] = {}
        for name, v in {**per, "proxy": proxy}.items():
            est = self.fb.bon_estimate(proxy, v, self.ns)  # (len(ns), M)
            curve[name] = est.mean(axis=1).tolist()
            curve[name + "_se"] = (est.std(axis=1, ddof=1) / np.sqrt(M)).tolist()
        return curve

    def expert_iteration_stage(self) -> None:
        """Best-of-16 on the unlabeled prompts then SFT, for ``ei_rounds`` rounds."""
        c, fb = self.c, self.fb
        U = self.T(self.world.splits["unlabeled"].tokens)
        if c.ei_prompts is not None and c.ei_prompts < U.shape[0]:
            rng = np.random.default_rng([c.seed, 3])
            U = U[self.T(rng.choice(U.shape[0], c.ei_prompts, replace=False))]
        curve: list[dict[str, float]] = []

        def record(r: int, pi: Any) -> None:
            curve.append({"round": r, **self.evaluate(self.sft if r == 0 else pi)})

        fb.expert_iteration(
            self.sft, self.rm, U, n=c.bon_n, rounds=c.ei_rounds, steps=c.ei_steps,
            batch_size=c.batch_size, lr=c.method_lr, seed=c.seed, callback=record,
        )  # fmt: skip
        self.out["curves"]["expert_iteration"] = curve
        self.out["methods"]["expert_iteration"] = {
            k: v for k, v in curve[1].items() if k != "round"
        }
        self.lap("expert_iteration")

    def ppo_run(self, rm_kind: str) -> dict[str, Any]:
        """PPO against one reward model; eval-set metrics every ``ppo_eval_every`` steps and
        the simulated val win-rate used to select the reported checkpoint."""
        c, fb = self.c, self.fb
        rm = self.rms[rm_kind]
        U = self.T(self.world.splits["unlabeled"].tokens)
        curve: list[dict[str, float]] = []

        def record(step: int, pi: Any) -> None:
            if step % c.ppo_eval_every and step != c.ppo_steps:
                return
            policy = self.sft if step == 0 else pi
            row = {"step": step, **self.evaluate(policy, rm=rm)}
            if rm_kind == "noisy_pool":
                row["val_win_sim"] = self.evaluate(policy, rm=rm, split="val")["win_sim"]
            curve.append(row)

        def gold(idx: np.ndarray, ys: Any) -> np.ndarray:
            Uw = self.world.splits["unlabeled"].subset(idx)
            return self._gs(Uw, ys.numpy())[0]

        cfg = fb.PPOConfig(
            steps=c.ppo_steps, batch_size=c.ppo_batch, lr=c.ppo_lr, beta=c.ppo_beta,
            adaptive_kl=c.ppo_adaptive_kl,
        )  # fmt: skip
        _, log = fb.ppo(self.sft, rm, U, config=cfg, seed=c.seed, gold=gold, callback=record)
        return {"curve": curve, "log": {k: list(v) for k, v in vars(log).items()}}

    def ppo_stage(self) -> None:
        res = self.ppo_run("noisy_pool")
        curve = res["curve"]
        self.out["curves"]["ppo"] = {"noisy_pool": curve}
        self.out["ppo_log"] = res["log"]
        best = max(range(1, len(curve)), key=lambda i: curve[i]["val_win_sim"])
        self.out["methods"]["ppo"] = {
            k: v for k, v in curve[best].items() if k not in ("step", "val_win_sim")
        }
        self.out["methods"]["ppo"]["selected_step"] = curve[best]["step"]
        self.lap("ppo_noisy_pool")
        if self.c.ablations:
            self.out["curves"]["ppo"]["low_variance"] = self.ppo_run("low_variance")["curve"]
            self.lap("ppo_low_variance")

    def quark_stage(self) -> None:
        c, fb = self.c, self.fb
        U = self.T(self.world.splits["unlabeled"].tokens)
        pi = fb.quark(
            self.sft, self.rm, U, rounds=c.quark_rounds, samples_per_round=c.quark_samples,
            steps_per_round=c.quark_steps, beta=c.quark_beta, batch_size=c.batch_size,
            lr=c.method_lr, seed=c.seed,
        )  # fmt: skip
        self.out["methods"]["quark"] = self.evaluate(pi, sample_prompts=fb.top_prompts(self.xe))
        self.lap("quark")

    def dpo_stage(self) -> None:
        """DPO, cDPO and rDPO on the pool's noisy labels (ε = the flip rate), then DPO against
        rDPO along ``flip_grid``: the pool's pre-flip labels re-flipped at each rate (the
        main runs are the point p = ``flip_rate``, made by the same process)."""
        from noisylab.noise import flip_preferences

        c, fb = self.c, self.fb
        kw = {"beta": c.dpo_beta, "steps": c.dpo_steps, "batch_size": c.batch_size}
        kw |= {"lr": c.dpo_lr, "seed": c.seed}

        def run(kind: str, choices: np.ndarray, eps: float) -> dict[str, float]:
            pi, _ = fb.train_dpo(self.sft, self.xp, self.y0, self.y1, choices, kind=kind,
                                 eps=eps, **kw)  # fmt: skip
            return self.evaluate(pi)

        m = self.out["methods"]
        for kind in ("dpo", "cdpo", "rdpo"):
            m[kind] = run(kind, self.labels.choices, 0.0 if kind == "dpo" else c.flip_rate)
        self.lap("dpo")
        sweep: dict[str, list[dict[str, float]]] = {"dpo": [], "rdpo": []}
        for j, p in enumerate(sorted({*c.flip_grid, c.flip_rate})):
            if p == c.flip_rate:
                d, r = m["dpo"], m["rdpo"]
            else:
                rng = np.random.default_rng([c.seed, 4, j])
                choices = flip_preferences(self.labels.clean, p, rng).choices
                d = run("dpo", choices, 0.0)
                # rDPO at ε = 0 is DPO exactly (tested), so it is not trained twice
                r = d if p == 0.0 else run("rdpo", choices, p)
            sweep["dpo"].append({"flip_rate": p, **d})
            sweep["rdpo"].append({"flip_rate": p, **r})
        self.out["dpo_flip"] = sweep
        self.lap("dpo_flip_sweep")

    def preference_size_stage(self) -> None:
        """Reward models on random fractions of the noisy preference pairs."""
        c, per = self.c, self.per_rep
        rows = []
        n = self.xp.shape[0]
        for j, f in enumerate(c.pref_fractions):
            idx = np.random.default_rng([c.seed, 5, j]).choice(n, max(2, round(f * n)), False)
            rm, acc = self.train_rm(self.label_sets["noisy_pool"], np.sort(idx))
            curve = self._bon_curve(rm, per)
            rows.append({"fraction": f, "pairs": int(idx.size), "val_acc_gold": acc, **curve})
        full = self.out["bon"]["noisy_pool"]
        rows.append(
            {"fraction": 1.0, "pairs": n, "val_acc_gold": self.out["reward_models"]["noisy_pool"]
             ["val_acc_gold"], **full}
        )  # fmt: skip
        self.out["pref_size"] = rows
        self.lap("preference_size")


def run_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """The full pipeline for one seed; returns metrics per method, curves and ablations."""
    import torch

    from noisylab.feedback.world import gold_reward, spurious_feature

    torch.set_num_threads(1)
    c = Config(**{k: v for k, v in unit.items() if k in Config.model_fields})
    u = _Unit(c)
    u.sft_stage()
    u.preference_stage()
    u.reward_stage()
    u.supervised_stage()
    u.bon_stage()
    u.expert_iteration_stage()
    u.ppo_stage()
    u.quark_stage()
    u.dpo_stage()
    if c.pref_fractions:
        u.preference_size_stage()
    S = u.world.splits["sft"]
    demo_g = gold_reward(S, u.world.demonstrations)
    demo_s = spurious_feature(u.world.demonstrations)
    tgt_len = u.E.targets()[1]
    u.out["world"] = {
        "n_params": u.fb.count_parameters(u.sft),
        "splits": {k: len(v) for k, v in u.world.splits.items()},
        "demo_gold": float(demo_g.mean()),
        "demo_gold_length_corr": float(np.corrcoef(demo_g, demo_s)[0, 1]),
        "reference_gold": float(gold_reward(u.E, u.world.reference).mean()),
        "eval_target_length": float(tgt_len.mean()),
    }
    u.out["cpu_s"] = u.cpu
    u.out["cpu_total_s"] = round(time.process_time() - u.t0, 2)
    return u.out


# ----------------------------------------------------------------------------- analysis
def _combined(results: list[dict], method: str, key: str) -> tuple[float, float]:
    from noisylab.feedback.evaluate import combine_seeds

    means = [r["methods"][method].get(key, float("nan")) for r in results]
    ses = [r["methods"][method].get(key + "_se", float("nan")) for r in results]
    return combine_seeds(means, ses)


def _fmt(m: float, se: float, pct: bool = False) -> str:
    if m is None or not np.isfinite(m):
        return "—"
    return f"{100 * m:.1f} ± {100 * se:.1f}" if pct else f"{m:.3f} ± {se:.3f}"


def _num(v: float, fmt: str) -> str:
    """``v`` formatted, or "—" when it is not a finite number (e.g. a fit with too few points)."""
    return format(v, fmt) if v is not None and np.isfinite(v) else "—"


def _spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    rho = spearmanr(a, b).statistic
    return float(rho) if np.isfinite(rho) else float("nan")


def _mean_path(results: list[dict], rows_of: Any, key: str) -> np.ndarray:
    """Seed-mean of ``key`` along a path; ``rows_of(result)`` gives the path's rows."""
    return np.mean([[row[key] for row in rows_of(r)] for r in results], axis=0)


def _bon_path(k: str) -> Any:
    def rows(r: dict) -> list[dict]:
        b = r["bon"][k]
        return [{key: b[key][i] for key in b} | {"kl": r["bon"]["kl_bound"][i]}
                for i in range(len(r["bon"]["n"]))]  # fmt: skip

    return rows


def _ppo_path(k: str) -> Any:
    return lambda r: r["curves"]["ppo"][k]


def _ei_path(r: dict) -> list[dict]:
    return r["curves"]["expert_iteration"]


def _paths(results: list[dict]) -> dict[str, Any]:
    """Every optimisation path present in all seeds: name → rows function."""
    out: dict[str, Any] = {}
    for k in RM_KINDS:
        if all(k in r["bon"] for r in results):
            out[f"bon_{k}"] = _bon_path(k)
        if all(k in r["curves"]["ppo"] for r in results):
            out[f"ppo_{k}"] = _ppo_path(k)
    out["expert_iteration"] = _ei_path
    return out


def _gao_fits(results: list[dict], paths: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Gao's forms on seed-mean gold gain against d = √KL (bound for best-of-n, Monte-Carlo
    estimate for PPO); best-of-n gets d(α − βd), PPO d(α − β log d)."""
    from noisylab.feedback.laws import fit_gao

    fits = {}
    for name, rows in paths.items():
        if not name.startswith(("bon_", "ppo_")):
            continue
        gold = _mean_path(results, rows, "gold")
        d = np.sqrt(np.clip(_mean_path(results, rows, "kl"), 0.0, None))
        fits[name] = fit_gao("bon" if name.startswith("bon_") else "rl", d, gold - gold[0])
    return fits


def _rows(results: list[dict]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for r in results:
        s = r["seed"]
        for m, v in r["methods"].items():
            rows.append({"seed": s, "kind": "method", "method": m, **v})
        for name, path in _paths([r]).items():
            for i, row in enumerate(path(r)):
                rows.append({"seed": s, "kind": "path", "method": name, "index": i, **row})
        log = r.get("ppo_log", {})
        for i in range(len(log.get("step", []))):
            rows.append({"seed": s, "kind": "ppo_step", "method": "ppo_noisy_pool",
                         **{k: v[i] for k, v in log.items()}})  # fmt: skip
        for kind, sweep in r.get("dpo_flip", {}).items():
            for row in sweep:
                rows.append({"seed": s, "kind": "flip_sweep", "method": kind, **row})
        for row in r.get("pref_size", []):
            flat = {k: (v[-1] if isinstance(v, list) else v) for k, v in row.items()}
            rows.append({"seed": s, "kind": "pref_size", "method": "bon_noisy_pool", **flat})
    return rows


def analyse(config: Config, results: list[dict], out: Path) -> list[Claim]:
    """Write results.csv, table.md, the figures, and evaluate the claims."""
    out = Path(out)
    if not results:
        raise ValueError("analyse needs at least one unit result, got none")
    write_csv(out / "results.csv", _rows(results))
    summary: dict[str, dict[str, float]] = {}
    for m in METHODS:
        summary[m] = {}
        for key in EVAL_KEYS:
            summary[m][key], summary[m][key + "_se"] = _combined(results, m, key)
    paths = _paths(results)
    fits = _gao_fits(results, paths)
    (out / "table.md").write_text(_table(config, results, summary, paths, fits))
    _bon_figure(results, out / "figures" / "bon_curve.png")
    _overopt_figure(results, paths, out / "figures" / "overoptimization.png")
    _frontier_figure(results, summary, paths, fits, out / "figures" / "kl_frontier.png")
    _flip_figure(results, out / "figures" / "dpo_flip.png")
    return _claims(results, summary, paths, fits)


# ----------------------------------------------------------------------------- the table
def _table(config: Config, results: list[dict], summary: dict, paths: dict, fits: dict) -> str:
    S = len(results)
    rows = []
    for m in METHODS:
        s = summary[m]
        af = ALPACAFARM.get(m)
        ref = "—" if af is None else f"{af[0]:.1f} / {'—' if af[1] is None else f'{af[1]:.1f}'}"
        rows.append([
            m, _fmt(s["win_sim"], s["win_sim_se"], True), _fmt(s["win_gold"], s["win_gold_se"], True),
            _fmt(s["gold"], s["gold_se"]), f"{s['proxy']:.2f}", f"{np.sqrt(max(s['kl'], 0)):.2f}",
            f"{s['length']:.1f}", ref,
        ])  # fmt: skip
    steps = [r["methods"]["ppo"].get("selected_step") for r in results]
    text = [
        f"# {TITLE}\n",
        f"Win-rate (%) against the expert reference on the evaluation prompts, {S} seed(s); "
        "simulated = the noise-free annotator pool, gold = gold reward (the human analogue); "
        "± standard error (over seeds when there are several, else over prompts). "
        f"PPO: the checkpoint with the best simulated val win-rate (steps {steps}). "
        "AlpacaFarm: its simulated / human win-rates against Davinci003.\n",
        markdown_table(
            [
                "method",
                "win-rate sim",
                "win-rate gold",
                "gold reward",
                "proxy reward",
                "√KL",
                "length",
                "AlpacaFarm sim / human",
            ],
            rows,
        ),
    ]
    # annotators and reward models
    agree_rows = []
    for k in RM_KINDS:
        ag = [r["agreement"][k] for r in results]
        acc = [r["reward_models"][k]["val_acc_gold"] for r in results if k in r["reward_models"]]
        agree_rows.append(
            [k, f"{np.mean([a['with_gold'] for a in ag]):.3f}",
             f"{np.mean([a['inter_annotator'] for a in ag]):.3f}",
             f"{np.mean(acc):.3f}" if acc else "—"]
        )  # fmt: skip
    text += [
        "\n## Annotators and reward models\n",
        "Exact expected agreement of the labels on the preference pairs; reward-model "
        "accuracy on held-out pairs against gold. Untrained (SFT log-likelihood) accuracy: "
        f"{np.mean([r['rm_untrained_acc'] for r in results]):.3f}; realised flip rate "
        f"{np.mean([r['realised_flip_rate'] for r in results]):.3f}.\n",
        markdown_table(
            ["labels", "agreement with gold", "inter-annotator", "RM accuracy vs gold"],
            agree_rows,
        ),
    ]
    # best-of-n
    b0 = results[0]["bon"]
    header = ["n", "√KL bound"]
    kinds = [k for k in RM_KINDS if all(k in r["bon"] for r in results)]
    for k in kinds:
        header += [f"proxy ({k})", f"gold ({k})", f"win sim % ({k})", f"win gold % ({k})"]
    bon_rows = []
    for i, n in enumerate(b0["n"]):
        row = [n, f"{np.sqrt(b0['kl_bound'][i]):.2f}"]
        for k in kinds:
            for key, pct in (
                ("proxy", False),
                ("gold", False),
                ("win_sim", True),
                ("win_gold", True),
            ):
                v = np.mean([r["bon"][k][key][i] for r in results])
                row.append(f"{100 * v:.1f}" if pct else f"{v:.3f}")
        bon_rows.append(row)
    text += ["\n## Best-of-n (unbiased estimator)\n", markdown_table(header, bon_rows)]
    # PPO path
    ppo = _ppo_path("noisy_pool")
    prow = []
    for j, point in enumerate(ppo(results[0])):
        vals = {
            key: _mean_path(results, ppo, key)[j]
            for key in ("proxy", "gold", "win_sim", "win_gold", "kl", "length")
        }
        prow.append([point["step"], f"{vals['proxy']:.2f}", f"{vals['gold']:.3f}",
                     f"{100 * vals['win_sim']:.1f}", f"{100 * vals['win_gold']:.1f}",
                     f"{np.sqrt(max(vals['kl'], 0)):.2f}", f"{vals['length']:.1f}"])  # fmt: skip
    text += [
        "\n## PPO along training (noisy-pool reward model)\n",
        markdown_table(["step", "proxy", "gold", "win sim %", "win gold %", "√KL", "length"], prow),
    ]
    ei = _ei_path
    erow = []
    for j, point in enumerate(ei(results[0])):
        vals = {
            key: _mean_path(results, ei, key)[j]
            for key in ("proxy", "gold", "win_sim", "win_gold", "kl")
        }
        erow.append([point["round"], f"{vals['proxy']:.2f}", f"{vals['gold']:.3f}",
                     f"{100 * vals['win_sim']:.1f}", f"{100 * vals['win_gold']:.1f}",
                     f"{np.sqrt(max(vals['kl'], 0)):.2f}"])  # fmt: skip
    text += [
        "\n## Expert iteration by round\n",
        markdown_table(["round", "proxy", "gold", "win sim %", "win gold %", "√KL"], erow),
    ]
    # Gao fits
    frows = [
        [name, "d(α − βd)" if name.startswith("bon_") else "d(α − β log d)",
         _num(f["alpha"], ".3f"), _num(f["beta"], ".3f"), _num(f["r2"], ".2f"),
         "none (β ≤ 0)" if f["d_peak"] == np.inf else _num(f["d_peak"], ".2f")]
        for name, f in fits.items()
    ]  # fmt: skip
    text += [
        "\n## Gao et al.'s forms: gold gain against d = √KL\n",
        "Least squares on the seed-mean path; d is the analytic bound for best-of-n and the "
        "Monte-Carlo KL for PPO.\n",
        markdown_table(["path", "form", "α", "β", "R²", "fitted peak d*"], frows),
    ]
    # ablations
    flip = [r["dpo_flip"] for r in results]
    frows2 = []
    for j, p in enumerate(flip[0]["dpo"]):
        cells = [f"{p['flip_rate']:.2f}"]
        for kind in ("dpo", "rdpo"):
            g = np.mean([f[kind][j]["gold"] for f in flip])
            w = np.mean([f[kind][j]["win_gold"] for f in flip])
            cells += [f"{g:.3f}", f"{100 * w:.1f}"]
        frows2.append(cells)
    text += [
        "\n## DPO against rDPO as the flip rate grows\n",
        "Pre-flip pool labels re-flipped at each rate (a coin on 2p of them); rDPO assumes "
        "ε = the true rate.\n",
        markdown_table(
            ["flip rate", "DPO gold", "DPO win gold %", "rDPO gold", "rDPO win gold %"], frows2
        ),
    ]
    if all(r.get("pref_size") for r in results):
        srows = []
        i16 = b0["n"].index(config.bon_n)
        for j, row in enumerate(results[0]["pref_size"]):
            acc = np.mean([r["pref_size"][j]["val_acc_gold"] for r in results])
            g16 = np.mean([r["pref_size"][j]["gold"][i16] for r in results])
            gmax = np.mean([max(r["pref_size"][j]["gold"]) for r in results])
            gend = np.mean([r["pref_size"][j]["gold"][-1] for r in results])
            srows.append([f"{row['fraction']:.2f}", row["pairs"], f"{acc:.3f}", f"{g16:.3f}",
                          f"{gmax:.3f}", f"{gend:.3f}"])  # fmt: skip
        text += [
            "\n## Preference-set size (noisy pool)\n",
            markdown_table(
                [
                    "fraction",
                    "pairs (seed 0)",
                    "RM accuracy vs gold",
                    f"gold best-of-{config.bon_n}",
                    "gold best n",
                    f"gold n = {b0['n'][-1]}",
                ],
                srows,
            ),
        ]
    cpu = [r["cpu_total_s"] for r in results]
    stages = {k: np.mean([r["cpu_s"].get(k, 0.0) for r in results]) for k in results[0]["cpu_s"]}
    text.append(
        f"\nCPU seconds per seed: {np.mean(cpu):.0f} (total {np.sum(cpu):.0f}); by stage: "
        + ", ".join(f"{k} {v:.0f}" for k, v in stages.items())
        + ".\n"
    )
    return "\n".join(text)


# ----------------------------------------------------------------------------- claims
def _shape(results: list[dict], rows: Any, key: str) -> dict[str, Any]:
    """Inverted-U test of the seed-mean path of ``key`` against the proxy; the tolerance is
    two standard errors of the seed-mean at the peak."""
    from noisylab.feedback.laws import inverted_u

    y, proxy = _mean_path(results, rows, key), _mean_path(results, rows, "proxy")
    se = _mean_path(results, rows, key + "_se") / np.sqrt(len(results))
    tol = 2.0 * float(se[int(np.argmax(y))])
    return {**inverted_u(y, proxy, tol=tol), "tolerance": tol, "path": y.tolist()}


def _claims(results: list[dict], summary: dict, paths: dict, fits: dict) -> list[Claim]:
    claims = []

    def gain(m: str, key: str) -> list[float]:
        return [r["methods"][m][key] - r["methods"]["sft"][key] for r in results]

    for m, cid, what in (
        ("best_of_16", "bon16_beats_sft", "Best-of-16 with the noisy-pool reward model"),
        ("ppo", "ppo_beats_sft", "PPO against the noisy-pool reward model"),
    ):
        d_gold, d_sim = gain(m, "win_gold"), gain(m, "win_sim")
        claims.append(
            Claim(
                id=cid,
                statement=f"{what} beats SFT in win-rate, judged both by the simulated pool "
                "and by gold.",
                reproduced=bool(np.mean(d_gold) > 0 and np.mean(d_sim) > 0),
                evidence={
                    "win_gold": {k: summary[k]["win_gold"] for k in ("sft", m)},
                    "win_sim": {k: summary[k]["win_sim"] for k in ("sft", m)},
                    "per_seed_gold_gain": d_gold,
                    "per_seed_sim_gain": d_sim,
                },
            )
        )
    tol = 0.05
    near = {
        m: summary[m]["win_sim"] - summary["sft"]["win_sim"]
        for m in ("feedme", "reward_conditioning")
    }
    claims.append(
        Claim(
            id="feedme_rc_not_above_sft",
            statement="Binary FeedME and binary reward conditioning land near or below SFT "
            f"(simulated win-rate at most {tol:.2f} above SFT's), unlike best-of-16.",
            reproduced=bool(all(v <= tol for v in near.values())),
            evidence={
                "sim_gain_over_sft": near,
                "gold_gain_over_sft": {
                    m: summary[m]["win_gold"] - summary["sft"]["win_gold"]
                    for m in ("feedme", "reward_conditioning")
                },
                "tolerance": tol,
            },
        )
    )
    shared = [m for m in METHODS if m in ALPACAFARM]
    ours = [summary[m]["win_sim"] for m in shared]
    theirs = [ALPACAFARM[m][0] for m in shared]
    rho_af = _spearman(ours, theirs)
    claims.append(
        Claim(
            id="ordering_close_to_alpacafarm",
            statement="The methods' simulated win-rates are ordered close to AlpacaFarm's "
            "(Spearman ρ ≥ 0.6 over the seven methods in both: PPO ≥ best-of-n > expert "
            "iteration > SFT ≳ FeedME, Quark, reward conditioning).",
            reproduced=bool(np.isfinite(rho_af) and rho_af >= 0.6),
            evidence={"spearman": rho_af, "methods": shared, "ours": ours, "alpacafarm": theirs},
        )
    )
    sim = [summary[m]["win_sim"] for m in METHODS]
    gold = [summary[m]["win_gold"] for m in METHODS]
    rho = _spearman(sim, gold)
    claims.append(
        Claim(
            id="sim_gold_rankings_agree",
            statement="Method rankings by the simulated pool and by gold agree "
            "(Spearman ρ ≥ 0.8 over all ten methods; AlpacaFarm: 0.98 simulated vs human).",
            reproduced=bool(np.isfinite(rho) and rho >= 0.8),
            evidence={"spearman": rho, "methods": list(METHODS), "win_sim": sim, "win_gold": gold},
        )
    )
    acc_noisy = float(np.mean([r["reward_models"]["noisy_pool"]["val_acc_gold"] for r in results]))
    ceiling = float(np.mean([r["agreement"]["clean_pool"]["with_gold"] for r in results]))
    ev: dict[str, Any] = {"rm_acc_noisy_pool": acc_noisy, "clean_pool_agreement_with_gold": ceiling}
    ok = acc_noisy < ceiling
    if all("clean_pool" in r["reward_models"] for r in results):
        acc_clean = float(
            np.mean([r["reward_models"]["clean_pool"]["val_acc_gold"] for r in results])
        )
        ev["rm_acc_clean_pool"] = acc_clean
        ok = ok and acc_noisy < acc_clean
    ev["noisy_pool_agreement_with_gold"] = float(
        np.mean([r["agreement"]["noisy_pool"]["with_gold"] for r in results])
    )
    claims.append(
        Claim(
            id="rm_below_agreement_ceiling",
            statement="The reward model trained on the noisy pool is less accurate against gold "
            "than the noise-free pool's agreement with gold (the ceiling), and than a reward "
            "model trained on the same pairs without the flips (when that ablation runs).",
            reproduced=bool(ok),
            evidence=ev,
        )
    )
    noisy = {k: v for k, v in paths.items() if k in ("bon_noisy_pool", "ppo_noisy_pool")}
    shapes = {
        k: {key: _shape(results, rows, key) for key in ("gold", "win_gold")}
        for k, rows in noisy.items()
    }
    claims.append(
        Claim(
            id="inverted_u_noisy_pool",
            statement="Under the noisy pool, the gold reward or gold win-rate against the proxy "
            "reward is an inverted U for both best-of-n and PPO: it rises, peaks and falls "
            "(by more than two standard errors) while the proxy keeps rising.",
            reproduced=bool(
                all(s["gold"]["inverted_u"] or s["win_gold"]["inverted_u"] for s in shapes.values())
            ),
            evidence=shapes,
        )
    )
    lengths = {}
    for k, rows in noisy.items():
        ln = _mean_path(results, rows, "length")
        lengths[k] = {"start": float(ln[0]), "end": float(ln[-1]), "path": ln.tolist()}
    target = float(np.mean([r["world"]["eval_target_length"] for r in results]))
    claims.append(
        Claim(
            id="spurious_feature_amplified",
            statement="The spurious feature (length) is amplified as optimisation proceeds: "
            "responses at the end of the best-of-n and PPO paths are longer than at the start.",
            reproduced=bool(all(v["end"] > v["start"] for v in lengths.values())),
            evidence={"length": lengths, "eval_target_length": target},
        )
    )
    flips = [r["dpo_flip"] for r in results]
    drops = {}
    for kind in ("dpo", "rdpo"):
        g = np.array([[row["gold"] for row in f[kind]] for f in flips])  # (S, rates)
        se = [np.sqrt(np.mean([row["gold_se"] ** 2 for row in f[kind]])) for f in flips]
        drop = g[:, 0] - g[:, -1]
        # SE of the seed-mean drop: over seeds when there are several, else from the prompts
        drop_se = drop.std(ddof=1) / np.sqrt(drop.size) if drop.size > 1 else np.sqrt(2) * se[0]
        drops[kind] = {"gold_by_flip": g.mean(0).tolist(), "drop": float(drop.mean()),
                       "drop_se": float(drop_se)}  # fmt: skip
    rates = [row["flip_rate"] for row in flips[0]["dpo"]]
    dpo_degrades = drops["dpo"]["drop"] > 2 * drops["dpo"]["drop_se"]
    claims.append(
        Claim(
            id="rdpo_degrades_less",
            statement="As the preference flip rate grows from "
            f"{rates[0]:.2f} to {rates[-1]:.2f}, DPO's gold reward degrades (by more than two "
            "standard errors) and rDPO's degrades less.",
            reproduced=bool(dpo_degrades and drops["rdpo"]["drop"] < drops["dpo"]["drop"]),
            evidence={"flip_rates": rates, "dpo_degrades": bool(dpo_degrades), **drops},
        )
    )
    low = {k: v for k, v in paths.items() if k in ("bon_low_variance", "ppo_low_variance")}
    lv = {}
    for k, rows in low.items():
        w_low, w_gold = _mean_path(results, rows, "win_low"), _mean_path(results, rows, "win_gold")
        lv[k] = {
            "fall_simulated": float(w_low.max() - w_low[-1]),
            "fall_gold": float(w_gold.max() - w_gold[-1]),
            "win_low": w_low.tolist(),
            "win_gold": w_gold.tolist(),
        }
    claims.append(
        Claim(
            id="low_variance_hides_overoptimization",
            statement="With a reward model from the single low-variance annotator, that "
            "annotator's simulated win-rate shows less over-optimisation (a smaller fall from "
            "its peak) than the gold win-rate reveals, on every path.",
            reproduced=bool(lv and all(v["fall_simulated"] < v["fall_gold"] for v in lv.values())),
            evidence=lv,
        )
    )
    return claims


# ----------------------------------------------------------------------------- figures
def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bon_figure(results: list[dict], path: Path) -> None:
    plt = _plt()
    path.parent.mkdir(parents=True, exist_ok=True)
    ns = np.asarray(results[0]["bon"]["n"], dtype=float)
    d = np.sqrt(np.asarray(results[0]["bon"]["kl_bound"]))
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharey="row")
    for k in RM_KINDS:
        if not all(k in r["bon"] for r in results):
            continue
        gold = np.mean([r["bon"][k]["gold"] for r in results], axis=0)
        win = np.mean([r["bon"][k]["win_sim"] for r in results], axis=0)
        wing = np.mean([r["bon"][k]["win_gold"] for r in results], axis=0)
        for col, x in enumerate((np.log(ns), d)):
            axes[0, col].plot(x, gold, marker="o", label=f"RM: {k}")
            axes[1, col].plot(x, win, marker="o", label=f"sim win, RM: {k}")
            axes[1, col].plot(x, wing, marker="x", ls="--", label=f"gold win, RM: {k}")
    axes[0, 0].set_ylabel("gold reward of best-of-n")
    axes[1, 0].set_ylabel("win-rate vs reference")
    axes[1, 0].set_xlabel("log n")
    axes[1, 1].set_xlabel("√KL bound = √(log n − (n−1)/n)")
    axes[0, 0].legend(fontsize=7)
    axes[1, 1].legend(fontsize=6)
    fig.suptitle("Best-of-n with reward models from three annotator settings")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _overopt_figure(results: list[dict], paths: dict, path: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for (name, label), colour in zip(
        (("bon_noisy_pool", "best-of-n"), ("ppo_noisy_pool", "PPO")), ("C0", "C1")
    ):
        if name not in paths:
            continue
        rows = paths[name]
        proxy = _mean_path(results, rows, "proxy")
        gold, sim = _mean_path(results, rows, "gold"), _mean_path(results, rows, "win_sim")
        axes[0].plot(proxy, gold, marker="o", color=colour, label=label)
        axes[1].plot(proxy, sim, marker="o", color=colour, label=f"{label}: simulated pool")
        axes[1].plot(proxy, _mean_path(results, rows, "win_gold"), marker="x", ls="--",
                     color=colour, label=f"{label}: gold")  # fmt: skip
    axes[0].set_ylabel("gold reward")
    axes[1].set_ylabel("win-rate vs reference")
    for ax in axes:
        ax.set_xlabel("proxy reward (noisy-pool reward model)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle("Over-optimisation under the noisy pool: gold and win-rate against the proxy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _frontier_figure(
    results: list[dict], summary: dict, paths: dict, fits: dict, path: Path
) -> None:
    from noisylab.feedback.laws import gao_curve

    plt = _plt()
    fig, ax = plt.subplots(figsize=(9.5, 5.2))
    for name, rows in paths.items():
        d = np.sqrt(np.clip(_mean_path(results, rows, "kl"), 0.0, None))
        gold = _mean_path(results, rows, "gold")
        (line,) = ax.plot(d, gold, marker="o", ms=3, label=name)
        f = fits.get(name)
        if f and np.isfinite(f["alpha"]):
            dd = np.linspace(0, d.max(), 100)
            form = "bon" if name.startswith("bon_") else "rl"
            ax.plot(dd, gold[0] + gao_curve(form, dd, f["alpha"], f["beta"]), ls=":",
                    color=line.get_color(), lw=1)  # fmt: skip
    for m in ("feedme", "reward_conditioning", "quark", "dpo", "cdpo", "rdpo"):
        s = summary[m]
        ax.scatter(np.sqrt(max(s["kl"], 0.0)), s["gold"], marker="s", color="k", zorder=3)
        ax.annotate(m, (np.sqrt(max(s["kl"], 0.0)), s["gold"]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")  # fmt: skip
    ax.set_xlabel("√KL to SFT (best-of-n: analytic bound; others: Monte-Carlo)")
    ax.set_ylabel("gold reward")
    ax.set_title("Gold reward against √KL; dotted: Gao et al.'s fitted forms")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="path")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _flip_figure(results: list[dict], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for kind in ("dpo", "rdpo"):
        rows = [r["dpo_flip"][kind] for r in results]
        p = [row["flip_rate"] for row in rows[0]]
        g = np.mean([[row["gold"] for row in rr] for rr in rows], axis=0)
        ax.plot(p, g, marker="o", label=kind.upper() if kind == "dpo" else "rDPO (ε = rate)")
    ax.set_xlabel("preference flip rate p")
    ax.set_ylabel("gold reward")
    ax.set_title("DPO vs rDPO under growing label noise")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
