"""Copy the README's figures from a built report into docs/figures/.

Usage: ``python docs/gen_figures.py [--report report] [--out docs/figures]``, after
``noisylab reproduce --preset tiny`` (what the committed figures come from) or ``make demo``
(the quick preset). The figures are the studies' own; nothing is re-drawn here.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

#: README figure name → the study figure it shows (relative to the report directory).
FIGURES = {
    "losses.png": "losses/figures/accuracy_vs_noise.png",
    "sharpness.png": "sharpness/figures/direction_stability.png",
    "alignment.png": "alignment/figures/alignment_vs_snr.png",
    "modular.png": "modular/figures/learning_curves.png",
    "feedback.png": "feedback/figures/overoptimization.png",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--report", type=Path, default=Path("report"))
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "figures")
    args = ap.parse_args()
    missing = [src for src in FIGURES.values() if not (args.report / src).is_file()]
    if missing:
        raise SystemExit(f"not in {args.report}: {', '.join(missing)}; build the report first")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, src in FIGURES.items():
        shutil.copyfile(args.report / src, args.out / name)
    print(f"copied {len(FIGURES)} figures from {args.report} to {args.out}")


if __name__ == "__main__":
    main()
