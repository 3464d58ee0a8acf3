"""Build the report from the store: re-analyse stored unit results, then render."""

from __future__ import annotations

import base64
import html
import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noisylab.studies.base import Claim

_SCHEMA = """
CREATE TABLE IF NOT EXISTS study_runs (
    study TEXT NOT NULL,
    preset TEXT NOT NULL,
    config TEXT NOT NULL,
    run_ids TEXT NOT NULL,
    command TEXT,
    finished REAL NOT NULL
)
"""


def _connect(store_path: Path) -> sqlite3.Connection:
    store_path = Path(store_path)
    store_path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(store_path, timeout=60)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(_SCHEMA)
    return con


def record(
    store_path: Path,
    study: str,
    preset: str,
    config: dict[str, Any],
    run_ids: list[str],
    command: str | None = None,
) -> None:
    """Remember that ``study`` was reproduced with ``config`` from the units ``run_ids``."""
    con = _connect(store_path)
    with con:
        con.execute(
            "INSERT INTO study_runs (study, preset, config, run_ids, command, finished) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (study, preset, json.dumps(config), json.dumps(run_ids), command, time.time()),
        )
    con.close()


@dataclass
class StudyRun:
    study: str
    preset: str
    config: dict[str, Any]
    run_ids: list[str]
    command: str | None
    finished: float


def latest_study_runs(store_path: Path) -> list[StudyRun]:
    """The latest recorded reproduction of each study, in the studies' canonical order."""
    from noisylab.studies import STUDIES

    if not Path(store_path).exists():
        raise FileNotFoundError(f"no results store at {store_path}; run `noisylab reproduce` first")
    con = _connect(store_path)
    rows = con.execute(
        "SELECT study, preset, config, run_ids, command, finished FROM study_runs ORDER BY finished"
    ).fetchall()
    con.close()
    latest: dict[str, StudyRun] = {}
    for s, p, c, r, cmd, f in rows:
        latest[s] = StudyRun(s, p, json.loads(c), json.loads(r), cmd, f)
    order = list(STUDIES)
    return sorted(latest.values(), key=lambda x: order.index(x.study) if x.study in order else 99)


@dataclass
class Section:
    study: str
    title: str
    paper: str
    preset: str
    command: str
    config: dict[str, Any]
    claims: list[Claim]
    figures: list[str]
    tables_md: str
    run_meta: dict[str, Any] = field(default_factory=dict)


def _load_results(store: Any, run_ids: list[str]) -> list[dict[str, Any]]:
    done = store.done_results(run_ids)
    missing = [rid for rid in run_ids if rid not in done]
    if missing:
        raise ValueError(
            f"{len(missing)} run(s) are not finished in the store (first: {missing[0]}); "
            "rerun `noisylab reproduce`"
        )
    return [done[rid] for rid in run_ids]


def build(store_path: Path, out: Path) -> Path:
    """Re-analyse every recorded study from the store and render the report into ``out``."""
    from noisylab import studies
    from noisylab.studies import runner
    from noisylab.sweep import open_store

    store_path, out = Path(store_path), Path(out)
    runs = latest_study_runs(store_path)
    if not runs:
        raise ValueError(
            f"the store {store_path} holds no reproduced study; run `noisylab reproduce`"
        )
    store = open_store(store_path)
    sections = []
    for sr in runs:
        mod = studies.get(sr.study)
        config = mod.Config(**sr.config)
        results = _load_results(store, sr.run_ids)
        sdir = out / sr.study
        claims = runner.analyse(sr.study, config, results, sdir, command=sr.command)
        figures = sorted(p.relative_to(out).as_posix() for p in (sdir / "figures").glob("*.png"))
        table = (sdir / "table.md").read_text() if (sdir / "table.md").exists() else ""
        meta = json.loads((sdir / "run.json").read_text())
        sections.append(
            Section(
                study=sr.study,
                title=getattr(mod, "TITLE", sr.study),
                paper=getattr(mod, "PAPER", ""),
                preset=sr.preset,
                command=sr.command or f"noisylab run {sr.study} --preset {sr.preset}",
                config=sr.config,
                claims=claims,
                figures=figures,
                tables_md=table,
                run_meta=meta,
            )
        )
    render(sections, out)
    return out / "index.html"


def render(sections: list[Section], out: Path) -> None:
    """Write ``index.html`` and ``README.md`` for the given sections."""
    import jinja2

    from noisylab.studies.runner import machine, versions

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("noisylab.report", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_to_html
    env.filters["evidence"] = format_evidence
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True)
    total = sum(len(s.claims) for s in sections)
    ok = sum(c.reproduced for s in sections for c in s.claims)
    ctx = {
        "sections": sections,
        "total": total,
        "reproduced": ok,
        "versions": versions(),
        "machine": machine(),
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "favicon": _FAVICON,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(env.get_template("index.html.j2").render(**ctx))
    (out / "README.md").write_text(env.get_template("README.md.j2").render(**ctx))


# A 1×1 transparent PNG as the favicon, so the browser does not request /favicon.ico.
_FAVICON = (
    "data:image/png;base64,"
    + base64.b64encode(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
        )
    ).decode()
)


def format_evidence(evidence: dict[str, Any]) -> str:
    """Evidence as compact ``key: value`` pairs (floats to 4 significant digits)."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            if len(v) > 12:
                return "[" + ", ".join(fmt(x) for x in v[:12]) + ", …]"
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {fmt(x)}" for k, x in v.items()) + "}"
        return str(v)

    return "; ".join(f"{k}: {fmt(v)}" for k, v in evidence.items())


def markdown_to_html(text: str) -> str:
    """Render the Markdown our studies write (headings, pipe tables, paragraphs) to HTML."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i].strip())
                i += 1
            out.append(_table_html(block))
            continue
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")) + 2, 6)
            out.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{html.escape(line.strip())}</p>")
        i += 1
    return "\n".join(out)


def _table_html(block: list[str]) -> str:
    def cells(row: str) -> list[str]:
        return [c.strip() for c in row.strip("|").split("|")]

    rows = [r for r in block if not set(r.replace("|", "").strip()) <= set("-: ")]
    if not rows:
        return ""
    head, body = cells(rows[0]), [cells(r) for r in rows[1:]]
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
    return f'<table class="data"><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>'
