"""Generate the claims audit ``docs/claims.md`` from the results store.

Usage: ``python docs/gen_claims.py [--store results/noisylab.sqlite] [--audit docs/audit]
[--out docs/claims.md]``. Every preset of every study recorded in the store is re-analysed
(no training), and each claim's verdict and deciding number is tabulated per preset, with the
diagnoses of ``docs/audit/<study>.yaml``. Exits with 2, writing nothing, when a claim that
misses at the largest preset has no diagnosis or an analysis fails (``--draft`` writes
the audit all the same and exits with 1).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent


def _commit() -> str:
    try:
        r = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
        )
    except OSError:
        return ""
    return r.stdout.strip() if r.returncode == 0 else ""


def main(argv: list[str] | None = None) -> int:
    from noisylab import studies
    from noisylab.report.audit import audit_markdown, check_diagnoses, load_diagnoses
    from noisylab.report.presets import claims_matrix

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=Path("results/noisylab.sqlite"))
    ap.add_argument("--audit", type=Path, default=HERE / "audit")
    ap.add_argument("--out", type=Path, default=HERE / "claims.md")
    ap.add_argument(
        "--draft",
        action="store_true",
        help="write the audit even when a miss lacks a diagnosis (exit code 1 then)",
    )
    args = ap.parse_args(argv)
    if not args.store.exists():
        print(f"error: no results store at {args.store}", file=sys.stderr)
        return 2
    try:
        diagnoses = load_diagnoses(args.audit)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        matrix = claims_matrix(args.store, Path(tmp))
    problems = check_diagnoses(matrix, diagnoses)
    if problems:
        print("error: the audit is incomplete:\n  " + "\n  ".join(problems), file=sys.stderr)
        if not args.draft:
            return 2
    titles = {s: getattr(studies.get(s), "TITLE", s) for s in matrix if s in studies.STUDIES}
    commit = _commit()
    source = (
        f"Store: `{args.store}`; generated {time.strftime('%Y-%m-%d %H:%M %Z')}"
        + (f" at commit `{commit}`" if commit else "")
        + "."
    )
    args.out.write_text(audit_markdown(matrix, diagnoses, titles=titles, source=source))
    print(f"wrote {args.out}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
