"""Study ``feedback``: learning from noisy pairwise feedback in a small AlpacaFarm world.

Papers: Dubois et al. 2023, *AlpacaFarm* (NeurIPS), and Gao, Schulman & Hilton 2022,
*Scaling Laws for Reward Model Overoptimization*. The world, annotators, policy and methods
live in the library (:mod:`noisylab.feedback`); this package runs them and checks the claims.

**One unit per seed** runs the whole pipeline: the world and its noisy expert; SFT on the
demonstrations; two SFT samples per preference prompt labelled by the noisy simulated pool
(p = 0.25 flips); the reward model; then every method of AlpacaFarm, each starting from the
same SFT checkpoint and using the same preference data: binary FeedME, binary reward
conditioning, best-of-n (n = 1..N by the unbiased estimator), expert iteration, PPO, Quark,
and DPO with its noise-aware variants cDPO and rDPO. Every method is judged against the
expert's reference responses on the evaluation prompts by the noise-free pool (simulated)
and by the gold reward ("human"), with its proxy reward, √KL to SFT and response length.
Model selection uses the simulator only, never gold: the table's PPO row is the checkpoint
with the best simulated win-rate on the validation prompts.

Over-optimisation is traced along best-of-n's n, PPO's steps and expert-iteration rounds,
and Gao et al.'s forms are fitted to gold reward against √KL. **Ablations**: reward models
from the pool without flips and from a single low-variance annotator (with PPO on the
latter), smaller preference sets, and DPO against rDPO as the flip rate grows.

**The ten claims** (one function each in :mod:`.claims`): ``bon16_beats_sft``,
``ppo_beats_sft``, ``feedme_rc_not_above_sft``, ``ordering_close_to_alpacafarm``,
``sim_gold_rankings_agree``, ``rm_below_agreement_ceiling``, ``inverted_u_noisy_pool``,
``spurious_feature_amplified``, ``rdpo_degrades_less``,
``low_variance_hides_overoptimization``.

**Files**, in reading order:

- ``config.py``: names, AlpacaFarm's reference numbers, ``Config`` and its presets;
- ``records.py``: the typed ``Unit`` and ``UnitResult`` (the store's dicts, parsed);
- ``run.py``: ``units`` and ``run_unit`` (the order of the stages);
- ``pipeline.py``: one seed's shared state, evaluation, SFT, preference data, reward
  models, best-of-n;
- ``methods.py``: FeedME, reward conditioning, expert iteration, PPO, Quark, DPO family;
- ``ablations.py``: PPO on the low-variance RM, the flip sweep, the preference-set size;
- ``analyse.py``: ``analyse``: summary, paths and their seed means, Gao fits, results.csv;
- ``tables.py``, ``figures.py``, ``claims.py``: table.md, figures/*.png, the claims.

Examples
--------
>>> from noisylab.studies import feedback
>>> [u["seed"] for u in feedback.units(feedback.Config.preset("tiny"))]
[0]
"""

from __future__ import annotations

from .analyse import analyse
from .config import ALPACAFARM, EVAL_KEYS, METHODS, NAME, PAPER, RM_KINDS, TITLE, Config
from .records import RESULT_VERSION, Unit, UnitResult
from .run import run_unit, units

#: modules that only read stored results: left out of the study's version, so editing them
#: re-analyses the store without re-running (``noisylab.sweep.study_version``).
ANALYSIS = ("analyse", "claims", "figures", "tables")

__all__ = [
    "ALPACAFARM",
    "ANALYSIS",
    "EVAL_KEYS",
    "METHODS",
    "NAME",
    "PAPER",
    "RESULT_VERSION",
    "RM_KINDS",
    "TITLE",
    "Config",
    "Unit",
    "UnitResult",
    "analyse",
    "run_unit",
    "units",
]
