"""Study ``alignment``: representational alignment vs SNR and sample size, under target noise.

Paper: Umar & Laio, *Signal-to-Noise Ratio and Sample Size Govern Representational Alignment
in Neural Networks* (arXiv 2605.26973); reference notes in ``reference/alignment.md``.

An ensemble of M networks shares the training inputs and the initialisation; each member
trains on its own noise realisation (Gaussian target noise at an SNR, or symmetric label
flips at a rate η). Alignment is the mean over member pairs of linear CKA (and mutual k-NN,
CCA) between their hidden representations of a fixed probe set. Settings:

* ``linear``: ``linear2`` networks (d → width → 1) on the synthetic linear teacher
  (``noisylab.data.load('teacher')``), GD from small init (:mod:`noisylab.similarity.theory`),
  swept over SNR and α = n/d across the interpolation threshold n = d, theory overlaid;
* ``mlp_regression``: an MLP 40-16-10 on MNIST-1D, one-hot targets + Gaussian noise at an
  SNR (``noise.corrupt_targets``), MSE, full-batch Adam via ``noisylab.train.fit``;
* ``mlp_classification``: the same MLP with cross-entropy and label-flip rate η
  (:func:`flip_labels`: exactly round(η·n) symmetric flips per member), η playing the role
  of 1/SNR.

One unit = one (setting, noise level, n, seed): an M-member ensemble. The MLP's nominal
interpolation threshold is parameters / outputs (Belkin et al. 2019); the empirical one is
the same with effective parameters: the ensemble's capacity max_n n × memorisation(n), the
number of samples whose noise it can still fit (``analyse.empirical_threshold``).

Claims (``claims.py``, one function each):

* ``alignment_rises_with_snr``: CKA rises with SNR (falls with η) in every sweep, ρ > 0.9;
* ``alignment_nonmonotonic_in_n``: CKA dips in n, its minimum within a factor 2 of the
  interpolation threshold;
* ``alignment_decoupled_from_generalisation``: some point is both more aligned and worse on
  test than another, beyond seed noise;
* ``linear_theory_matches_simulation``: the analytic cos² estimate is within 0.05 (mean
  absolute error) of the simulated linear network.

Files: ``config.py`` (names, ``Config`` and its presets), ``records.py`` (typed units,
results and sweeps), ``run.py`` (``units``, ``run_unit``: the training), ``analyse.py``
(aggregation over seeds, sweeps, ``table.md``, ``analyse``), ``claims.py``, ``figures.py``.
"""

from __future__ import annotations

from .analyse import analyse
from .config import NAME, PAPER, SETTINGS, TITLE, Config, mlp_parameters
from .run import flip_labels, run_unit, units

#: modules that only read stored results: left out of the study's version, so editing them
#: re-analyses the store without re-running (``noisylab.sweep.study_version``).
ANALYSIS = ("analyse", "claims", "figures")

__all__ = [
    "ANALYSIS",
    "NAME",
    "PAPER",
    "SETTINGS",
    "TITLE",
    "Config",
    "analyse",
    "flip_labels",
    "mlp_parameters",
    "run_unit",
    "units",
]
