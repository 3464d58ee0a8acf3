"""Study ``modular``: memorisation and generalisation on c = a ∘ b mod P with label noise.

Papers: Liu & Lu 2026, *Unveiling Memorization-Generalization Coexistence: A Case Study on
Arithmetic Tasks with Label Noise* (arXiv 2605.18022); Doshi et al. 2024, *To grok or not to
grok* (ICLR); reference notes in ``reference/modular.md``; the library it drives is
:mod:`noisylab.modular` (task, ``modular2`` networks, Fourier analysis, partitions).

One unit per hidden width trains an ensemble of two-layer networks ``modular2`` full-batch
with AdamW; its members are the noise rates × seeds, all on one train/test split. After
training each member is analysed: its raw accuracies; the frequency-extracted network G and
its residual R; the partition subnetworks by IPR and by strength; inference-time activation
swaps; the epochs at which the noisy subset is memorised and the clean subset fitted; its
spectra, IPR histogram and pruning curves.

Claims (``claims.py``, one function each, at the largest noise rate and widest network):

* ``extraction_80``: at 80 % noise, frequency extraction G reaches ≥ 99 % test accuracy,
  above the raw network's;
* ``memorise_first``: the noisy subset reaches the threshold accuracy (``Config.threshold``)
  on its noisy labels before the clean subset does, in ≥ 80 % of the noisy runs;
* ``width_helps``: raw test accuracy rises with width (Spearman > 0, ≥ 5 points);
* ``partition_between``: the strength partition beats the raw network by ≥ 5 points but
  stays below G.

Files: ``config.py`` (names, ``Config`` and its presets), ``records.py`` (typed unit,
member and unit results, the member table), ``run.py`` (``units``, ``run_unit``: training
and each member's analysis), ``analyse.py`` (``table.md``, ``analyse``), ``claims.py``,
``figures.py``.
"""

from __future__ import annotations

from .analyse import analyse
from .config import NAME, PAPER, TITLE, Config
from .run import crossing_epoch, run_unit, units

#: modules that only read stored results: left out of the study's version, so editing them
#: re-analyses the store without re-running (``noisylab.sweep.study_version``).
ANALYSIS = ("analyse", "claims", "figures")

__all__ = ["NAME", "PAPER", "TITLE", "Config", "analyse", "crossing_epoch", "run_unit", "units"]
