"""The claims audit: every claim × preset in the store, with a diagnosis for every miss.

:func:`audit_markdown` renders ``docs/claims.md`` from the claims matrix
(:func:`noisylab.report.presets.claims_matrix`, re-analysed from the store) and the
diagnoses written by hand in ``docs/audit/<study>.yaml``. The numbers all come from the
store; the YAML holds only the reasoning: per claim id

``category``
    ``reproduced``, ``budget`` (the claim's number moves toward the paper's with budget),
    ``protocol`` (an error in our protocol, fixed) or ``not-reproduced`` (in this setting,
    with what was tried);
``why``
    the diagnosis in prose;
``experiment``
    the command whose results show it.

A claim that misses at the largest preset in the store must have a diagnosis other than
``reproduced``: :func:`check_diagnoses` lists those that lack one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from noisylab.report.presets import PresetClaims, headline, matrix_rows, preset_key

CATEGORIES = ("reproduced", "budget", "protocol", "not-reproduced")


def load_diagnoses(folder: Path) -> dict[str, dict[str, dict[str, str]]]:
    """``{study: {claim_id: {category, why, experiment}}}`` from ``folder/<study>.yaml``.

    Raises
    ------
    ValueError
        For an entry that is not a mapping, lacks ``category``/``why``, or names an unknown
        category (the message names the file and the claim).
    """
    import yaml

    out: dict[str, dict[str, dict[str, str]]] = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of claim id to diagnosis")
        study: dict[str, dict[str, str]] = {}
        for cid, entry in data.items():
            if not isinstance(entry, dict) or not {"category", "why"} <= set(entry):
                raise ValueError(f"{path}: {cid!r} needs 'category' and 'why', got {entry!r}")
            if entry["category"] not in CATEGORIES:
                raise ValueError(
                    f"{path}: {cid!r} has category {entry['category']!r}; "
                    f"expected one of {', '.join(CATEGORIES)}"
                )
            study[str(cid)] = {k: " ".join(str(v).split()) for k, v in entry.items()}
        out[path.stem] = study
    return out


def deciding_preset(by_preset: Mapping[str, PresetClaims]) -> str:
    """The preset whose verdicts the audit must explain: the largest one analysed.

    >>> deciding_preset({"tiny": PresetClaims("tiny"), "extended": PresetClaims("extended")})
    'extended'
    """
    ok = [p for p, pc in by_preset.items() if pc.error is None] or list(by_preset)
    return max(ok, key=preset_key)


def check_diagnoses(
    matrix: Mapping[str, Mapping[str, PresetClaims]],
    diagnoses: Mapping[str, Mapping[str, Mapping[str, str]]],
) -> list[str]:
    """Problems that make the audit incomplete: a miss at the deciding preset without a
    diagnosis (or diagnosed as ``reproduced``), a diagnosis of a claim no preset evaluated,
    a preset whose analysis failed."""
    problems = []
    for study, by_preset in matrix.items():
        for p, pc in by_preset.items():
            if pc.error:
                problems.append(f"{study} {p}: the analysis failed: {pc.error}")
        deciding = deciding_preset(by_preset)
        known = {c.id for pc in by_preset.values() for c in pc.claims}
        notes = diagnoses.get(study, {})
        for c in by_preset[deciding].claims:
            cat = notes.get(c.id, {}).get("category")
            if not c.reproduced and cat in (None, "reproduced"):
                problems.append(
                    f"{study} {c.id}: not reproduced at {deciding} and no diagnosis "
                    f"(docs/audit/{study}.yaml has {cat!r})"
                )
        problems += [
            f"{study} {cid}: diagnosed in docs/audit/{study}.yaml but evaluated by no preset"
            for cid in notes
            if cid not in known
        ]
    return problems


def _cell(c: Any) -> str:
    if c is None:
        return "—"
    mark = "✓" if c.reproduced else "✗"
    return f"{mark} {headline(c)}".replace("|", "\\|")


def audit_markdown(
    matrix: Mapping[str, Mapping[str, PresetClaims]],
    diagnoses: Mapping[str, Mapping[str, Mapping[str, str]]],
    *,
    titles: Mapping[str, str] | None = None,
    source: str = "",
) -> str:
    """``docs/claims.md``: a summary per preset, then per study one row per claim with the
    verdict and the deciding number at every preset, and the diagnosis of each miss."""
    presets = sorted({p for by in matrix.values() for p in by}, key=preset_key)
    lines = [
        "# Claims audit",
        "",
        "Every claim of the five papers at every preset in the results store: the verdict (✓ "
        "reproduced, ✗ not) and the number that decides it. Generated from the store by "
        "`python docs/gen_claims.py`; do not edit by hand. The diagnoses come from "
        "`docs/audit/<study>.yaml`; claim thresholds are those of each study's `claims.py`.",
        "",
    ]
    if source:
        lines += [source, ""]
    lines += [
        "| preset | reproduced | studies | units | compute (unit-s) |",
        "|---|---|---|---|---|",
    ]
    for p in presets:
        cells = [by[p] for by in matrix.values() if p in by]
        ok = sum(pc.reproduced for pc in cells)
        total = sum(len(pc.claims) for pc in cells)
        units = sum(pc.units for pc in cells)
        compute = sum(pc.compute_s for pc in cells)
        lines.append(f"| {p} | {ok} / {total} | {len(cells)} | {units} | {compute:.0f} |")
    for study, by_preset in matrix.items():
        notes = diagnoses.get(study, {})
        deciding = deciding_preset(by_preset)
        title = (titles or {}).get(study, study)
        lines += ["", f"## {study}: {title}", ""]
        cols = list(by_preset)
        lines.append("| claim | " + " | ".join(cols) + " | diagnosis |")
        lines.append("|---|" + "---|" * (len(cols) + 1))
        for row in matrix_rows(dict(by_preset)):
            cat = notes.get(row["id"], {}).get("category", "—")
            row_cells = " | ".join(_cell(row["cells"][p]) for p in cols)
            lines.append(f"| `{row['id']}` | {row_cells} | {cat} |")
        misses = [c for c in by_preset[deciding].claims if not c.reproduced]
        if misses:
            lines += ["", f"Not reproduced at `{deciding}`:", ""]
            for c in misses:
                n = notes.get(c.id, {})
                why = n.get("why", "")
                why = why if not why or why[-1] in ".!?" else why + "."
                exp = f" Experiment: `{n['experiment']}`." if n.get("experiment") else ""
                lines.append(
                    f"- `{c.id}` ({c.statement}) — **{n.get('category', 'no diagnosis')}**: "
                    f"{why}{exp}"
                )
        fixed = [
            (cid, n)
            for cid, n in notes.items()
            if n["category"] == "protocol" and cid not in {c.id for c in misses}
        ]
        if fixed:
            lines += ["", "Protocol errors found and fixed:", ""]
            lines += [f"- `{cid}`: {n['why']}" for cid, n in fixed]
    return "\n".join(lines) + "\n"
