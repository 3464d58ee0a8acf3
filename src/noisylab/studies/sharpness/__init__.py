"""Study ``sharpness``: SGD vs SAM, ASAM and VaSSO under symmetric label noise.

Paper
    Li & Giannakis, *Enhancing Sharpness-Aware Optimization Through Variance Suppression*
    (NeurIPS 2023; arXiv 2509.02433).

Protocol
    One unit = one (dataset, method). Inside it every (noise rate η, seed s) pair is one
    member of a single stacked ensemble: member (η, s) trains on its own noise realisation,
    starts from the initialisation of seed s and draws its own minibatches, so every method
    sees exactly the same noisy labels and initialisations (paired comparisons). The
    perturbation norm of the sharpness-aware methods is per member (``"ensemble": True``
    param group), so stacking is exact. All methods share the base optimiser (SGD with
    momentum, as in the VaSSO paper), the learning rate, the weight decay and the cosine
    schedule. There is no hyper-parameter selection: every method runs at the same settings.

Measured per member
    best- and last-epoch clean test accuracy; memorisation of the noisy labels
    (``noisy/acc_noisy``: accuracy of the noisy training samples against their *noisy*
    label); the stability of the adversary (mean cosine between consecutive perturbation
    directions and the variance ``1 − ‖ū‖²`` of the unit direction, per evaluation window);
    the sharpness at the end of training: the top Hessian eigenvalue of the training loss on
    a fixed batch (power iteration) and the m-sharpness (Foret et al. 2021).

Claims (``claims.py``, one function each)
    ``sam-beats-sgd-under-noise``, ``vasso-matches-sam-high-noise`` (within 1 point),
    ``vasso-beats-sam-high-noise`` (the paper's ordering), ``vasso-lower-direction-variance``,
    ``sam-memorises-less``, ``sam-flatter-minima``.

Files
    ``config.py``  identifiers, method specs (``parse_method``) and the :class:`Config` presets;
    ``records.py`` the typed :class:`Unit`, :class:`Member` and :class:`UnitResult`;
    ``run.py``     ``units(config)`` and ``run_unit(unit)`` (training and the sharpness probes);
    ``analyse.py`` ``analyse(config, results, out)``: results.csv, table.md, figures, claims;
    ``figures.py`` accuracy vs noise and direction stability;
    ``claims.py``  the claims and their thresholds.
"""

from __future__ import annotations

from .analyse import analyse
from .config import METHODS, NAME, PAPER, STORED_METRICS, TITLE, Config, parse_method
from .records import Member, Unit, UnitResult
from .run import run_unit, units

#: modules that only read stored results: left out of the study's version, so editing them
#: re-analyses the store without re-running (``noisylab.sweep.study_version``).
ANALYSIS = ("analyse", "claims", "figures")

__all__ = [
    "ANALYSIS",
    "METHODS",
    "NAME",
    "PAPER",
    "STORED_METRICS",
    "TITLE",
    "Config",
    "Member",
    "Unit",
    "UnitResult",
    "analyse",
    "parse_method",
    "run_unit",
    "units",
]
