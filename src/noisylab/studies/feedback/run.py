"""The study's units and the pipeline of one unit (``units``, ``run_unit``).

One unit per seed runs everything: the stages of :class:`~.pipeline.Pipeline`, the methods
of :mod:`.methods` and the ablations of :mod:`.ablations`, in the fixed order below (a seed's
random draws depend on it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import ablations, methods
from .config import Config
from .pipeline import Pipeline
from .records import Curves, Unit, UnitResult, WorldStats


def units(config: Config) -> list[dict[str, Any]]:
    """One unit per seed: the config's fields (less ``seeds``) with ``seed`` set.

    Examples
    --------
    >>> [u["seed"] for u in units(Config.preset("quick", seed=10))]
    [10, 11, 12]
    """
    config.check_runnable()
    return [
        Unit(config.model_copy(update={"seed": config.seed + i})).to_dict()
        for i in range(config.seeds)
    ]


def run_unit(unit: Mapping[str, Any]) -> dict[str, Any]:
    """The full pipeline for one seed; returns metrics per method, curves and ablations
    (a :class:`~.records.UnitResult` as a dict)."""
    import torch

    torch.set_num_threads(1)
    c = Unit.from_dict(unit).config
    p = Pipeline(c)
    p.sft_stage()
    p.preference_stage()
    p.reward_stage()
    methods.supervised(p)
    p.bon_stage()
    methods.expert_iteration(p)
    methods.ppo(p)
    if c.ablations:
        ablations.ppo_low_variance(p)
    methods.quark(p)
    methods.dpo(p)
    ablations.flip_sweep(p)
    if c.pref_fractions:
        ablations.preference_size(p)
    result = UnitResult(
        seed=c.seed,
        methods=p.methods,
        curves=Curves(expert_iteration=p.ei_curve, ppo=p.ppo_curves),
        agreement=p.agreement,
        realised_flip_rate=p.realised_flip_rate,
        rm_untrained_acc=p.rm_untrained_acc,
        reward_models=p.reward_models,
        bon=p.bon,
        ppo_log=p.ppo_log,
        dpo_flip=p.dpo_flip,
        pref_size=p.pref_size,
        world=world_stats(p),
        cpu_s=p.cpu,
        cpu_total_s=round(time.process_time() - p.t0, 2),
    )
    return result.to_dict()


def world_stats(p: Pipeline) -> WorldStats:
    """The seed's world in numbers (see :class:`~.records.WorldStats`)."""
    from noisylab.feedback.world import gold_reward, spurious_feature

    demos = p.world.demonstrations
    demo_g = gold_reward(p.world.splits["sft"], demos)
    demo_s = spurious_feature(demos)
    return WorldStats(
        n_params=p.fb.count_parameters(p.sft),
        splits={k: len(v) for k, v in p.world.splits.items()},
        demo_gold=float(demo_g.mean()),
        demo_gold_length_corr=float(np.corrcoef(demo_g, demo_s)[0, 1]),
        reference_gold=float(gold_reward(p.E, p.world.reference).mean()),
        eval_target_length=float(p.E.targets()[1].mean()),
    )
