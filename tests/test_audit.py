"""The claims audit and the report's claims-by-preset tables, from a store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from noisylab import report
from noisylab.report.audit import (
    audit_markdown,
    check_diagnoses,
    deciding_preset,
    load_diagnoses,
)
from noisylab.report.presets import PresetClaims, headline, latest_by_preset, matrix_rows
from noisylab.studies.base import Claim

ROOT = Path(__file__).resolve().parents[1]


def _claim(cid: str, ok: bool, value: float) -> Claim:
    return Claim(
        id=cid,
        statement=f"statement of {cid} | with a pipe",
        reproduced=ok,
        evidence={"headline": f"r {value} (needs >= 0.8)", "r": value},
    )


def _matrix() -> dict[str, dict[str, PresetClaims]]:
    return {
        "demo": {
            "tiny": PresetClaims("tiny", [_claim("a", False, 0.1), _claim("b", False, 0.2)], 2, 3),
            "extended": PresetClaims(
                "extended", [_claim("a", True, 0.9), _claim("b", False, 0.5), _claim("c", True, 1)]
            ),
        }
    }


def test_matrix_rows_align_claims_across_presets():
    rows = matrix_rows(_matrix()["demo"])
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert rows[2]["cells"]["tiny"] is None  # c was not evaluated at tiny
    assert rows[0]["cells"]["extended"].reproduced and not rows[0]["cells"]["tiny"].reproduced


def test_a_miss_at_the_largest_preset_needs_a_diagnosis():
    matrix = _matrix()
    assert deciding_preset(matrix["demo"]) == "extended"
    problems = check_diagnoses(matrix, {})
    assert len(problems) == 1 and "demo b" in problems[0]  # a's miss at tiny needs none
    diagnosed = {"demo": {"b": {"category": "reproduced", "why": "x"}}}
    assert len(check_diagnoses(matrix, diagnosed)) == 1  # "reproduced" does not explain a miss
    diagnosed = {"demo": {"b": {"category": "budget", "why": "x"}, "zz": {"category": "budget"}}}
    assert check_diagnoses(matrix, diagnosed) == [
        "demo zz: diagnosed in docs/audit/demo.yaml but evaluated by no preset"
    ]
    failed = {"demo": {**matrix["demo"], "paper": PresetClaims("paper", error="KeyError: x")}}
    # a failed analysis is a problem, and never the deciding preset
    assert deciding_preset(failed["demo"]) == "extended"
    assert any("paper: the analysis failed" in p for p in check_diagnoses(failed, {}))


def test_audit_markdown_tabulates_every_claim_and_preset():
    notes = {"demo": {"b": {"category": "budget", "why": "grows with epochs", "experiment": "e"}}}
    md = audit_markdown(_matrix(), notes, titles={"demo": "Demo study"})
    assert "| tiny | 0 / 2 | 1 | 2 | 3 |" in md and "| extended | 2 / 3 | 1 | 0 | 0 |" in md
    assert "## demo: Demo study" in md
    assert "| claim | tiny | extended | diagnosis |" in md
    assert "| `a` | ✗ r 0.1 (needs >= 0.8) | ✓ r 0.9 (needs >= 0.8) | — |" in md
    assert "| `c` | — | ✓ r 1 (needs >= 0.8) | — |" in md
    assert (
        "- `b` (statement of b | with a pipe) — **budget**: grows with epochs. Experiment: `e`."
        in md
    )


def test_load_diagnoses_names_the_bad_entry(tmp_path):
    (tmp_path / "demo.yaml").write_text("b:\n  category: budget\n  why: >-\n    two\n    lines\n")
    assert load_diagnoses(tmp_path) == {"demo": {"b": {"category": "budget", "why": "two lines"}}}
    (tmp_path / "demo.yaml").write_text("b:\n  category: maybe\n  why: x\n")
    with pytest.raises(ValueError, match=r"'maybe'.*reproduced, budget, protocol, not-reproduced"):
        load_diagnoses(tmp_path)
    (tmp_path / "demo.yaml").write_text("b: just text\n")
    with pytest.raises(ValueError, match="'b' needs 'category' and 'why'"):
        load_diagnoses(tmp_path)


def test_the_shipped_diagnoses_are_valid():
    notes = load_diagnoses(ROOT / "docs" / "audit")
    assert set(notes) == {"losses", "sharpness", "alignment", "modular", "feedback"}


def test_headline_falls_back_to_the_evidence():
    c = Claim(id="x", statement="s", reproduced=False, evidence={"a": list(range(40))})
    assert headline(c, width=20).endswith("…") and len(headline(c, width=20)) == 20


# ---------------------------------------------------------------------------------------------
# From a real store: the tiny reproduction, recorded once more under a second preset name.


@pytest.fixture(scope="module")
def two_preset_store(tiny_report, tmp_path_factory):
    """A copy of the tiny session's store in which each study's tiny reproduction is also
    recorded as preset ``extended`` (same results): two presets to set side by side."""
    import shutil

    work = tmp_path_factory.mktemp("two-presets")
    store = work / "s.sqlite"
    shutil.copy(tiny_report.parent / "results" / "noisylab.sqlite", store)
    for study, by in latest_by_preset(store).items():
        run = by["tiny"]
        report.record(store, study, "extended", run.config, run.run_ids, command="x")
    return store


def test_report_sets_every_preset_side_by_side(two_preset_store, tmp_path):
    index = report.build(two_preset_store, tmp_path / "rep")
    html, md = index.read_text(), (tmp_path / "rep" / "README.md").read_text()
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert html.count("<h3>Claims by preset</h3>") == 5
    assert md.count("| claim | tiny | extended |") == 5
    for s in summary:
        assert list(s["presets"]) == ["tiny", "extended"]
        tiny, ext = s["presets"]["tiny"], s["presets"]["extended"]
        assert (
            tiny["verdicts"] == ext["verdicts"] == {c["id"]: c["reproduced"] for c in s["claims"]}
        )
        assert (tmp_path / "rep" / s["study"] / "presets" / "tiny" / "claims.json").exists()
    ok = sum(s["reproduced"] for s in summary)
    assert f"**tiny** {ok} / " in md and f"**extended** {ok} / " in md


def test_gen_claims_writes_the_audit_from_the_store(two_preset_store, tiny_report, tmp_path):
    out = tmp_path / "claims.md"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, str(ROOT / "docs" / "gen_claims.py"), "--store", str(two_preset_store)]
    r = subprocess.run(
        [*cmd, "--out", str(out), "--audit", str(tmp_path)], env=env, text=True, capture_output=True
    )
    summary = json.loads((tiny_report / "summary.json").read_text())
    misses = [c for s in summary for c in s["claims"] if not c["reproduced"]]
    if misses:  # no diagnoses in an empty audit folder: refused, nothing written
        assert r.returncode == 2 and "no diagnosis" in r.stderr and not out.exists()
    r = subprocess.run(
        [*cmd, "--out", str(out), "--audit", str(tmp_path), "--draft"],
        env=env,
        text=True,
        capture_output=True,
    )
    assert r.returncode == (1 if misses else 0), r.stderr
    md = out.read_text()
    for s in summary:
        for c in s["claims"]:
            mark = "✓" if c["reproduced"] else "✗"
            hl = headline(Claim(**c)).replace("|", "\\|")
            assert f"| `{c['id']}` | {mark} {hl} | {mark} {hl} |" in md, c["id"]
