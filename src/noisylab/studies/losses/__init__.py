"""Study ``losses``: robust and symmetrized losses under label noise, plus a cleanlab baseline.

Paper
    Lemire Paquin, Chaib-draa & Giguère, *Symmetrization of Loss Functions for Robust
    Training of Neural Networks in the Presence of Noisy Labels* (arXiv 2605.20347). The
    peers' losses (APL/ALF/ANL lineage) are the baselines, with confident learning
    (Northcutt et al. 2021) as a data-cleaning one.

Protocol
    One unit = one (dataset, noise, learning rate). Inside it every loss variant × seed is
    one member of a single stacked ensemble (``noisylab.losses.PerMember`` gives each block
    of members its own loss), so the whole loss grid costs one training run per unit. Seed s
    has its own noise realisation, shared by every loss (paired comparisons). A validation
    split carved from the *noisy* training data is the only thing used to pick
    hyper-parameters (lr, SGCE's q); test accuracy is reported for the selected ones, at its
    best epoch and at the last epoch. The cleanlab baseline gets out-of-sample pred_probs
    from K-fold cross-validation with CE models trained by our engine, removes the samples
    ``cleanlab.filter.find_label_issues`` flags, and trains CE on the rest.

Claims (``claims.py``, one function each)
    ``symmetric-beat-ce-high-noise``, ``sgce-competitive`` and ``alpha-mae-competitive``
    (within 2 points of the best baseline), ``ce-degrades-with-noise``,
    ``ce-memorisation-gap``, ``raw-unhinged-diverges`` (with ``raw_unhinged``).

Files
    ``config.py``    identifiers, loss families and the :class:`Config` presets;
    ``records.py``   typed :class:`Variant`, :class:`Unit`, :class:`Member`,
    :class:`UnitResult` and the analysis records;
    ``run.py``       ``units(config)`` and ``run_unit(unit)``;
    ``confident.py`` the cleanlab baseline inside a unit;
    ``analyse.py``   ``select`` on the noisy validation split and
    ``analyse(config, results, out)``: results.csv, candidates.csv, table.md, figure, claims;
    ``figures.py``   accuracy vs noise;
    ``claims.py``    the claims and their thresholds.
"""

from __future__ import annotations

from .analyse import analyse, select
from .config import (
    BASELINES,
    CLEANLAB,
    NAME,
    PAPER,
    PAPER_LOSSES,
    RAW_UNHINGED,
    STORED_METRICS,
    TITLE,
    Config,
)
from .records import Member, Unit, UnitResult, Variant
from .run import run_unit, units, variants

#: modules that only read stored results: left out of the study's version, so editing them
#: re-analyses the store without re-running (``noisylab.sweep.study_version``).
ANALYSIS = ("analyse", "claims", "figures")

__all__ = [
    "ANALYSIS",
    "BASELINES",
    "CLEANLAB",
    "NAME",
    "PAPER",
    "PAPER_LOSSES",
    "RAW_UNHINGED",
    "STORED_METRICS",
    "TITLE",
    "Config",
    "Member",
    "Unit",
    "UnitResult",
    "Variant",
    "analyse",
    "run_unit",
    "select",
    "units",
    "variants",
]
