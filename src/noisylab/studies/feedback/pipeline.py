"""One seed's shared state and the stages every method builds on.

:class:`Pipeline` holds the world, the annotators, the SFT policy, the preference pairs, the
reward models and the judges; its stages (SFT, preference data, reward models, best-of-n)
fill in those attributes. The methods (:mod:`.methods`) and the ablations (:mod:`.ablations`)
are functions of a pipeline. :func:`.run.run_unit` calls every stage in one fixed order, so a
seed's random draws (``Pipeline.gen``) are consumed in one fixed sequence.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .config import RM_KINDS, Config
from .records import BonCurves, Metrics


def powers_of_two(N: int) -> list[int]:
    """1, 2, 4, … up to ``N``: the best-of-n grid.

    >>> powers_of_two(20)
    [1, 2, 4, 8, 16]
    """
    out, n = [], 1
    while n <= N:
        out.append(n)
        n *= 2
    return out


class Pipeline:
    """The shared state of one seed: world, SFT, preference data, reward models, judges.

    Results accumulate in ``methods`` (one evaluation per method), ``ei_curve``,
    ``ppo_curves``, ``agreement``, ``reward_models``, ``bon``, ``ppo_log``, ``dpo_flip``,
    ``pref_size`` and ``cpu`` (CPU seconds per stage, see :meth:`lap`).
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
        self.methods: dict[str, Metrics] = {}
        self.ei_curve: list[Metrics] = []
        self.ppo_curves: dict[str, list[Metrics]] = {}
        self.ppo_log: dict[str, list[float]] = {}
        self.dpo_flip: dict[str, list[Metrics]] = {}
        self.pref_size: list[dict[str, Any]] = []

    def lap(self, name: str) -> None:
        """Record the CPU seconds spent since the previous lap under ``name``."""
        self.cpu[name] = round(time.process_time() - self.t0 - sum(self.cpu.values()), 3)

    # ------------------------------------------------------------ evaluation, for every method
    def gold_and_length(self, P: Any, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-response gold reward and spurious feature (length) on prompts ``P``."""
        from noisylab.feedback.world import gold_reward, spurious_feature

        return gold_reward(P, ys), spurious_feature(ys)

    def judge(self, prompts: Any, ys: np.ndarray, ref: np.ndarray) -> dict[str, np.ndarray]:
        """Per-prompt gold reward, length and wins over ``ref``: by the noise-free pool
        (``win_sim``), by gold (``win_gold``) and by the low-variance annotator (``win_low``)."""
        sim, gold = self.fb.win_indicators(prompts, ys, ref, self.pool)
        low = self.fb.win_indicators(prompts, ys, ref, self.low)[0]
        g, s = self.gold_and_length(prompts, ys)
        return {"gold": g, "win_sim": sim, "win_gold": gold, "win_low": low, "length": s}

    def evaluate(
        self, policy: Any, *, sample_prompts: Any = None, rm: Any = None, split: str = "eval"
    ) -> Metrics:
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
        res: Metrics = {"kl": float(kl)}
        for k, v in per.items():
            res[k], res[k + "_se"] = self.fb.mean_se(v)
        return res

    # ------------------------------------------------------------ stages
    def sft_stage(self) -> None:
        """Supervised fine-tuning of a fresh policy on the (noisy) expert's demonstrations."""
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
        g0, s0 = self.gold_and_length(Pp, self.y0.numpy())
        g1, s1 = self.gold_and_length(Pp, self.y1.numpy())
        self.labels = self.pool.label(g0, g1, s0, s1, seed=np.random.default_rng([c.seed, 1]))
        low_labels = self.low.label(g0, g1, s0, s1, seed=np.random.default_rng([c.seed, 2]))
        self.label_sets = {
            "noisy_pool": self.labels.choices,
            "clean_pool": self.labels.clean,
            "low_variance": low_labels.choices,
        }
        self.agreement = {
            "noisy_pool": self.pool.agreement(g0, g1, s0, s1),
            "clean_pool": self.pool.without_flips().agreement(g0, g1, s0, s1),
            "low_variance": self.low.agreement(g0, g1, s0, s1),
        }
        self.realised_flip_rate = float(self.labels.flipped.mean())
        # held-out pairs for reward-model accuracy against gold
        v0 = fb.sample_batched(self.sft, self.xv, generator=self.gen)
        v1 = fb.sample_batched(self.sft, self.xv, generator=self.gen)
        vg0 = self.gold_and_length(self.V, v0.numpy())[0]
        vg1 = self.gold_and_length(self.V, v1.numpy())[0]
        self.val_pairs = (v0, v1, vg0, vg1)
        self.val_ref = v0.numpy()  # the SFT policy's val responses, for checkpoint selection
        self.lap("preference_data")

    def train_rm(self, choices: np.ndarray, idx: np.ndarray | None = None) -> tuple[Any, float]:
        """A reward model on the preference pairs (rows ``idx`` only, if given) labelled by
        ``choices``, and its accuracy against gold on the held-out pairs."""
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
        """The untrained reward model's accuracy, then one reward model per label set (the
        clean-pool one only with ablations; the low-variance one always: a claim needs it)."""
        fb = self.fb
        v0, v1, vg0, vg1 = self.val_pairs
        untrained = fb.RewardModel(self.sft, self.c.readout)
        self.rm_untrained_acc = fb.preference_accuracy(
            untrained.score(self.xv, v0), untrained.score(self.xv, v1), vg0, vg1
        )
        self.rms: dict[str, Any] = {}
        self.reward_models: dict[str, dict[str, float]] = {}
        for k in RM_KINDS:
            if k == "clean_pool" and not self.c.ablations:
                continue
            self.rms[k], acc = self.train_rm(self.label_sets[k])
            self.reward_models[k] = {"val_acc_gold": acc}
            self.lap(f"rm_{k}")
        self.rm = self.rms["noisy_pool"]

    def bon_stage(self) -> None:
        """N SFT samples per eval prompt; every n ≤ N by the unbiased estimator, per RM; the
        table's best-of-16 row is n = ``bon_n`` under the noisy-pool reward model."""
        c, fb = self.c, self.fb
        N, M = c.bon_samples, len(self.E)
        self.xrep = self.xe.repeat_interleave(N, dim=0)
        self.cand = fb.sample_batched(self.sft, self.xrep, generator=self.gen)  # (M·N, L)
        Erep = self.E.subset(np.repeat(np.arange(M), N))
        per = self.judge(Erep, self.cand.numpy(), np.repeat(self.world.reference, N, axis=0))
        self.per_rep = {k: v.reshape(M, N) for k, v in per.items()}
        ns = powers_of_two(N)
        if c.bon_n not in ns:
            ns = sorted({*ns, c.bon_n})
        self.ns = ns
        by_rm = {k: self.bon_curve(model) for k, model in self.rms.items()}
        self.bon = BonCurves(n=ns, kl_bound=[fb.kl_bound(n) for n in ns], by_rm=by_rm)
        b, i = by_rm["noisy_pool"], ns.index(c.bon_n)
        row = {key: b[key][i] for key in b if key != "kl"}
        row["kl"] = fb.kl_bound(c.bon_n)
        self.methods["best_of_16"] = row
        self.lap("best_of_n")

    def bon_curve(self, rm: Any) -> dict[str, list[float]]:
        """Mean and SE over eval prompts of every judged key (and the proxy) of best-of-n
        under ``rm``, for each n of the grid, from the N candidates of :meth:`bon_stage`."""
        M, N = len(self.E), self.c.bon_samples
        proxy = rm.score(self.xrep, self.cand).numpy().reshape(M, N)
        curve: dict[str, list[float]] = {}
        for name, v in {**self.per_rep, "proxy": proxy}.items():
            est = self.fb.bon_estimate(proxy, v, self.ns)  # (len(ns), M)
            curve[name] = est.mean(axis=1).tolist()
            curve[name + "_se"] = (est.std(axis=1, ddof=1) / np.sqrt(M)).tolist()
        return curve
