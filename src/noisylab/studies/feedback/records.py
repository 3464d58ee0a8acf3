"""Typed records of one unit (one seed of the pipeline) and of its result.

The store keeps JSON dicts; these records are what the code reads and writes in between.
``Unit.to_dict()`` is the unit dict the store hashes (the config's fields less ``seeds``),
``UnitResult.to_dict()`` the dict ``run_unit`` returns, and each ``from_dict`` parses such a
dict back, raising ``ValueError`` on a missing or unknown key. Inner metric dicts keep the
order they were written in: the results table's columns follow it.

Metric rows (``Metrics``) map an evaluation key of :data:`~.config.EVAL_KEYS` and its
``<key>_se`` to a number; path rows add their position (``step``, ``round``, ``flip_rate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import Config

#: Bumped when ``run_unit``'s output changes (part of every run id: old results are redone).
RESULT_VERSION = 2

#: One evaluation (means and standard errors), or one point of a path.
Metrics = dict[str, Any]
#: The analysis's summary: method → key (and ``<key>_se``) → the value combined over seeds.
Summary = Mapping[str, Mapping[str, float]]
#: Seed-mean paths: path name → key → the seed mean of that key along the path.
MeanPaths = Mapping[str, Mapping[str, np.ndarray]]


def _check_keys(
    kind: str, data: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> None:
    if not isinstance(data, Mapping):
        raise TypeError(f"a feedback {kind} must be a dict, got {type(data).__name__}")
    missing = [k for k in required if k not in data]
    unknown = sorted(set(data) - set(required) - set(optional))
    if missing or unknown:
        raise ValueError(
            f"a feedback {kind} has missing key(s) {missing} and unknown key(s) {unknown}; "
            f"expected {list(required)} (optional {list(optional)})"
        )


@dataclass(frozen=True)
class Unit:
    """One seed of the pipeline: the study config with ``seed`` set (``seeds`` unused).

    Examples
    --------
    >>> u = Unit(Config.preset("tiny", seed=3))
    >>> d = u.to_dict()
    >>> d["seed"], "seeds" in d, Unit.from_dict(d).to_dict() == d
    (3, False, True)
    >>> Unit.from_dict({**d, "epochs": 2})
    Traceback (most recent call last):
    ...
    ValueError: a feedback unit has unknown key(s) ['epochs']; expected Config's fields but 'seeds'
    """

    config: Config

    @property
    def seed(self) -> int:
        return self.config.seed

    def to_dict(self) -> dict[str, Any]:
        """The unit as the store keeps it: every config field but ``seeds``, in field order."""
        out = self.config.model_dump()
        out.pop("seeds")
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Unit:
        """Parse (and validate) a unit dict made by :meth:`to_dict`."""
        if not isinstance(data, Mapping):
            raise TypeError(f"a feedback unit must be a dict, got {type(data).__name__}")
        unknown = sorted(set(data) - set(Config.model_fields))
        if unknown:
            raise ValueError(
                f"a feedback unit has unknown key(s) {unknown}; expected Config's fields but "
                "'seeds'"
            )
        return cls(Config(**data))


@dataclass(frozen=True)
class Curves:
    """Paths traced during training: expert iteration by round (round 0 = SFT) and PPO by
    evaluation step, per reward-model kind (``noisy_pool``; ``low_variance`` with ablations)."""

    expert_iteration: list[Metrics]
    ppo: dict[str, list[Metrics]]

    def to_dict(self) -> dict[str, Any]:
        return {"expert_iteration": self.expert_iteration, "ppo": self.ppo}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Curves:
        _check_keys("curves record", data, ("expert_iteration", "ppo"))
        return cls(list(data["expert_iteration"]), dict(data["ppo"]))


@dataclass(frozen=True)
class BonCurves:
    """Best-of-n by the unbiased estimator: ``n``, the KL bound log n − (n−1)/n, and per
    reward-model kind the mean (and ``<key>_se``) of every evaluation key at each n."""

    n: list[int]
    kl_bound: list[float]
    by_rm: dict[str, dict[str, list[float]]]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "kl_bound": self.kl_bound, **self.by_rm}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BonCurves:
        from .config import RM_KINDS

        _check_keys("best-of-n record", data, ("n", "kl_bound"), RM_KINDS)
        by_rm = {k: v for k, v in data.items() if k not in ("n", "kl_bound")}
        return cls(list(data["n"]), list(data["kl_bound"]), by_rm)


@dataclass(frozen=True)
class WorldStats:
    """Facts about the seed's world: policy size, split sizes, the demonstrations' gold
    reward and its correlation with length, the reference's gold, the targets' length."""

    n_params: int
    splits: dict[str, int]
    demo_gold: float
    demo_gold_length_corr: float | None
    reference_gold: float
    eval_target_length: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_params": self.n_params,
            "splits": self.splits,
            "demo_gold": self.demo_gold,
            "demo_gold_length_corr": self.demo_gold_length_corr,
            "reference_gold": self.reference_gold,
            "eval_target_length": self.eval_target_length,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorldStats:
        _check_keys("world record", data, tuple(cls.__dataclass_fields__))
        return cls(**data)


_REQUIRED = (
    "seed",
    "methods",
    "curves",
    "agreement",
    "realised_flip_rate",
    "rm_untrained_acc",
    "reward_models",
    "bon",
    "ppo_log",
    "dpo_flip",
    "world",
    "cpu_s",
    "cpu_total_s",
)


@dataclass(frozen=True)
class UnitResult:
    """What one seed's pipeline returns.

    ``methods`` maps each of :data:`~.config.METHODS` to its evaluation on the eval prompts
    (PPO's adds ``selected_step``); ``agreement`` the label sets' expected agreement
    (``with_gold``, ``inter_annotator``); ``reward_models`` their accuracy against gold on
    held-out pairs (``val_acc_gold``); ``ppo_log`` PPO's per-step training log; ``dpo_flip``
    DPO and rDPO along the flip grid; ``pref_size`` the preference-set-size ablation (empty
    when it did not run); ``cpu_s`` CPU seconds by stage.
    """

    seed: int
    methods: dict[str, Metrics]
    curves: Curves
    agreement: dict[str, dict[str, float]]
    realised_flip_rate: float
    rm_untrained_acc: float
    reward_models: dict[str, dict[str, float]]
    bon: BonCurves
    ppo_log: dict[str, list[float]]
    dpo_flip: dict[str, list[Metrics]]
    world: WorldStats
    cpu_s: dict[str, float]
    cpu_total_s: float
    pref_size: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The result dict (``pref_size`` only when the ablation ran)."""
        out: dict[str, Any] = {
            "seed": self.seed,
            "methods": self.methods,
            "curves": self.curves.to_dict(),
            "agreement": self.agreement,
            "realised_flip_rate": self.realised_flip_rate,
            "rm_untrained_acc": self.rm_untrained_acc,
            "reward_models": self.reward_models,
            "bon": self.bon.to_dict(),
            "ppo_log": self.ppo_log,
            "dpo_flip": self.dpo_flip,
        }
        if self.pref_size:
            out["pref_size"] = self.pref_size
        out |= {"world": self.world.to_dict(), "cpu_s": self.cpu_s, "cpu_total_s": self.cpu_total_s}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UnitResult:
        """Parse a stored result dict; ``ValueError`` names missing or unknown keys."""
        _check_keys("unit result", data, _REQUIRED, ("pref_size",))
        return cls(
            seed=data["seed"],
            methods=dict(data["methods"]),
            curves=Curves.from_dict(data["curves"]),
            agreement=dict(data["agreement"]),
            realised_flip_rate=data["realised_flip_rate"],
            rm_untrained_acc=data["rm_untrained_acc"],
            reward_models=dict(data["reward_models"]),
            bon=BonCurves.from_dict(data["bon"]),
            ppo_log=dict(data["ppo_log"]),
            dpo_flip=dict(data["dpo_flip"]),
            world=WorldStats.from_dict(data["world"]),
            cpu_s=dict(data["cpu_s"]),
            cpu_total_s=data["cpu_total_s"],
            pref_size=list(data.get("pref_size", [])),
        )
