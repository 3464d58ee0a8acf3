"""The study's identity, the paper's reference numbers and the pipeline's sizes (``Config``).

Everything here is data: the method names in table order, the reward-model kinds, the keys
every evaluation records, AlpacaFarm's published win-rates, and the validated config with its
``tiny`` / ``quick`` / ``paper`` presets. Nothing here trains or reads files.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from noisylab.studies.base import StudyConfig

NAME = "feedback"
TITLE = "AlpacaFarm: learning from noisy pairwise feedback, and reward over-optimisation"
PAPER = (
    "Dubois et al. 2023, AlpacaFarm: A Simulation Framework for Methods that Learn from "
    "Human Feedback (NeurIPS); Gao, Schulman & Hilton 2022, Scaling Laws for Reward Model "
    "Overoptimization"
)

#: The methods, in the order of the table's rows.
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
#: Whose labels a reward model is trained on: the pool with AlpacaFarm's flips, the same
#: pool without them (ablation), and the single low-variance annotator (ablation).
RM_KINDS = ("noisy_pool", "clean_pool", "low_variance")
#: AlpacaFarm's win-rates (%) against Davinci003, simulated / human (Dubois et al. 2023,
#: Table 2; SFT on 10k demonstrations; ``None`` where the paper has no human number).
ALPACAFARM: dict[str, tuple[float, float | None]] = {
    "ppo": (46.8, 55.1),
    "best_of_16": (45.0, 50.7),
    "expert_iteration": (41.9, 45.7),
    "sft": (36.7, 44.3),
    "feedme": (36.6, 37.9),
    "quark": (35.6, None),
    "reward_conditioning": (32.4, None),
}
#: What each evaluation records (each with a ``<key>_se``); curves and method rows share them.
EVAL_KEYS = ("proxy", "gold", "win_sim", "win_gold", "win_low", "kl", "length")


class Config(StudyConfig):
    """Pipeline sizes; steps are optimiser steps, ``scale`` multiplies AlpacaFarm's splits."""

    DATA: ClassVar[str | None] = (
        "its data is a small simulated AlpacaFarm world (prompts, an expert, noisy simulated "
        "annotators) built from the seed, for its own small policy; set scale or d_model instead"
    )

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
        # extended (issue #13): quick's world and sizes, plus what its two misses and its
        # borderline claim need, within 1800 unit-s (one unit per seed; measured 294 CPU-s
        # with the 0.4 point below under a 5-way shared CPU, about 275 s without it):
        # - 6 seeds instead of 3: the method rankings (``ordering_close_to_alpacafarm`` sits
        #   on its threshold at quick, ``sim_gold_rankings_agree``) over more seeds, and
        #   seeds 3-5 that quick never saw;
        # - PPO for 240 steps instead of 120 (reference: PPO beats SFT "for an early range of
        #   steps, then decays"; the prototype's RL curve ran 300 steps), evaluated every 20;
        # - the DPO/rDPO flip sweep at 0, 0.25 (AlpacaFarm's p, the main runs) and 0.45 (the
        #   reference caps ε < 1/2 for rDPO); its KL and length show what flips do to DPO;
        # - the same sweep from gold labels (``dpo_gold_sweep``): the rDPO paper flips clean
        #   labels, while the pool's unflipped labels carry its length bias.
        # Unchanged from quick: scale 0.2 (AlpacaFarm's split ratios), best-of-n up to 256.
        "extended": {
            "seeds": 6,
            "scale": 0.2,
            "ppo_steps": 240,
            "ppo_eval_every": 20,
            "flip_grid": [0.0, 0.45],
            "dpo_gold_sweep": True,
        },
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
    # the flip sweep also from gold labels (unbiased), to tell label noise from annotator bias
    dpo_gold_sweep: bool = False
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

    def check_runnable(self) -> None:
        """Raise ``ValueError`` for sizes the pipeline cannot run (checked by ``units``).

        Examples
        --------
        >>> Config.preset("tiny").check_runnable()
        >>> Config.preset("tiny", bon_samples=8).check_runnable()
        Traceback (most recent call last):
        ...
        ValueError: bon_samples (N) must be >= bon_n, got N=8, n=16
        """
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")
        if self.bon_samples < self.bon_n:
            raise ValueError(
                f"bon_samples (N) must be >= bon_n, got N={self.bon_samples}, n={self.bon_n}"
            )
        if any(not 0.0 <= p < 0.5 for p in self.flip_grid):
            raise ValueError(f"flip_grid rates must be in [0, 0.5), got {self.flip_grid}")
        if any(not 0.0 < f < 1.0 for f in self.pref_fractions):
            raise ValueError(f"pref_fractions must be in (0, 1), got {self.pref_fractions}")
        if self.ppo_eval_every < 1 or self.ppo_steps < 1:
            raise ValueError(
                f"ppo_steps and ppo_eval_every must be >= 1, got {self.ppo_steps}, "
                f"{self.ppo_eval_every}"
            )
