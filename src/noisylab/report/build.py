"""Build the report from the store: re-analyse stored unit results, then render."""

from __future__ import annotations

import base64
import html
import json
import re
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
class Figure:
    path: str  # relative to the report directory, e.g. "losses/figures/accuracy.png"
    caption: str
    wide: bool = False  # a multi-panel figure (aspect > 2): shown across the whole page


def _aspect(png: Path) -> float:
    """Width / height from a PNG's IHDR chunk (no image library needed)."""
    head = png.read_bytes()[:24]
    w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return w / h if h else 1.0


@dataclass
class Section:
    """One paper's part of the report; ``error`` is set when its analysis failed."""

    study: str
    title: str
    paper: str
    preset: str
    command: str
    config: dict[str, Any]
    claims: list[Claim]
    figures: list[Figure]
    tables_md: str
    run_meta: dict[str, Any] = field(default_factory=dict)
    units: int = 0
    compute_s: float = 0.0  # sum of the units' stored durations
    hosts: list[str] = field(default_factory=list)
    finished: str = ""
    error: str | None = None
    #: every preset of this study in the store (this section's included), by budget
    by_preset: dict[str, Any] = field(default_factory=dict)

    @property
    def matrix(self) -> list[dict[str, Any]]:
        """Rows of the claims-by-preset table (see :func:`noisylab.report.presets.matrix_rows`)."""
        from noisylab.report.presets import matrix_rows

        return matrix_rows(self.by_preset)

    @property
    def reproduced(self) -> int:
        return sum(c.reproduced for c in self.claims)


def _load_results(store: Any, run_ids: list[str]) -> list[dict[str, Any]]:
    done = store.done_results(run_ids)
    missing = [rid for rid in run_ids if rid not in done]
    if missing:
        raise ValueError(
            f"{len(missing)} run(s) are not finished in the store (first: {missing[0]}); "
            "rerun `noisylab reproduce`"
        )
    return [done[rid] for rid in run_ids]


def _caption(name: str) -> str:
    """``accuracy_vs_noise.png`` → ``Accuracy vs noise``."""
    words = re.sub(r"[_\-]+", " ", Path(name).stem).strip()
    return words[:1].upper() + words[1:]


def build(store_path: Path, out: Path) -> Path:
    """Re-analyse every recorded study from the store and render the report into ``out``.

    A study whose analysis fails (for instance results stored by an older version of the
    study) gets a section that says so, and its ``error`` in ``out/summary.json`` (see
    :func:`summary`); the other sections are unaffected.
    """
    from noisylab import studies
    from noisylab.report.presets import PresetClaims, analyse_run, latest_by_preset
    from noisylab.studies import runner
    from noisylab.sweep import open_store

    store_path, out = Path(store_path), Path(out)
    runs = latest_study_runs(store_path)
    if not runs:
        raise ValueError(
            f"the store {store_path} holds no reproduced study; run `noisylab reproduce`"
        )
    store = open_store(store_path)
    others = latest_by_preset(store_path)
    sections = []
    for sr in runs:
        sdir = out / sr.study
        sec = Section(
            study=sr.study,
            title=sr.study,
            paper="",
            preset=sr.preset,
            command=sr.command or f"noisylab run {sr.study} --preset {sr.preset}",
            config=sr.config,
            claims=[],
            figures=[],
            tables_md="",
            units=len(sr.run_ids),
            finished=time.strftime("%Y-%m-%d %H:%M", time.localtime(sr.finished)),
        )
        try:
            mod = studies.get(sr.study)
            sec.title = getattr(mod, "TITLE", sr.study)
            sec.paper = getattr(mod, "PAPER", "")
            config = mod.Config(**sr.config)
            results = _load_results(store, sr.run_ids)
            sec.compute_s, sec.hosts = _timings(store, sr.study, sr.run_ids)
            sec.claims = runner.analyse(sr.study, config, results, sdir, command=sr.command)
        except Exception as exc:  # one broken study must not hide the other papers
            sec.error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        if sec.error is None:
            sec.figures = [
                Figure(p.relative_to(out).as_posix(), _caption(p.name), _aspect(p) > 2)
                for p in sorted((sdir / "figures").glob("*.png"))
            ]
            table = sdir / "table.md"
            sec.tables_md = table.read_text() if table.exists() else ""
            meta = sdir / "run.json"
            sec.run_meta = json.loads(meta.read_text()) if meta.exists() else {}
        sec.by_preset = {
            p: (
                PresetClaims(p, sec.claims, sec.units, sec.compute_s, sec.error)
                if p == sr.preset
                else analyse_run(store, run, sdir / "presets" / p)
            )
            for p, run in others.get(sr.study, {sr.preset: sr}).items()
        }
        sections.append(sec)
    render(sections, out)
    return out / "index.html"


def summary(out: Path) -> list[dict[str, Any]]:
    """The report at ``out`` in brief (``summary.json``): per study its title, preset,
    claims (id, statement, reproduced, evidence), the number reproduced and ``error``
    (``None`` unless the analysis failed)."""
    return json.loads((Path(out) / "summary.json").read_text())


def _timings(store: Any, study: str, run_ids: list[str]) -> tuple[float, list[str]]:
    wanted = set(run_ids)
    rows = [r for r in store.list_runs(study=study, status="done") if r["id"] in wanted]
    total = sum(float(r.get("duration_s") or 0.0) for r in rows)
    hosts = sorted({str(r["host"]) for r in rows if r.get("host")})
    return total, hosts


def render(sections: list[Section], out: Path) -> None:
    """Write ``index.html``, ``README.md`` and ``summary.json`` for the given sections."""
    import jinja2

    from noisylab.report.presets import headline
    from noisylab.runtime import machine
    from noisylab.studies.runner import versions

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("noisylab.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = markdown_to_html
    env.filters["evidence"] = format_evidence
    env.filters["evidence_html"] = evidence_html
    env.filters["duration"] = format_duration
    env.filters["headline"] = headline
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True)
    total = sum(len(s.claims) for s in sections)
    ok = sum(s.reproduced for s in sections)
    ctx = {
        "sections": sections,
        "total": total,
        "reproduced": ok,
        "failed": [s for s in sections if s.error],
        "presets": sorted({s.preset for s in sections}),
        "preset_totals": _preset_totals(sections),
        "versions": versions(),
        "machine": machine(),
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "favicon": _FAVICON,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.html").write_text(env.get_template("index.html.j2").render(**ctx))
    (out / "README.md").write_text(env.get_template("README.md.j2").render(**ctx))
    summary = [
        {
            "study": s.study,
            "title": s.title,
            "preset": s.preset,
            "error": s.error,
            "reproduced": s.reproduced,
            "claims": [c.model_dump() for c in s.claims],
            "presets": {
                p: {
                    "reproduced": pc.reproduced,
                    "claims": len(pc.claims),
                    "units": pc.units,
                    "compute_s": pc.compute_s,
                    "error": pc.error,
                    "verdicts": {c.id: c.reproduced for c in pc.claims},
                }
                for p, pc in s.by_preset.items()
            },
        }
        for s in sections
    ]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def _preset_totals(sections: list[Section]) -> list[dict[str, Any]]:
    """Per preset in the store: claims reproduced and evaluated, and the studies it covers."""
    from noisylab.report.presets import preset_key

    totals: dict[str, dict[str, Any]] = {}
    for s in sections:
        for p, pc in s.by_preset.items():
            t = totals.setdefault(p, {"preset": p, "reproduced": 0, "total": 0, "studies": []})
            t["reproduced"] += pc.reproduced
            t["total"] += len(pc.claims)
            t["studies"].append(s.study)
    return [totals[p] for p in sorted(totals, key=preset_key)]


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


def format_duration(seconds: float) -> str:
    """``75.0`` → ``1 min 15 s``; ``4000`` → ``1 h 7 min``."""
    s = round(float(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {(s % 3600) // 60} min"


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v).lower() if v is not None else "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        if len(v) > 12:
            return "[" + ", ".join(_fmt(x) for x in v[:12]) + ", …]"
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    return str(v)


def format_evidence(evidence: dict[str, Any]) -> str:
    """Evidence as compact ``key: value`` pairs (floats to 4 significant digits)."""
    return "; ".join(f"{k}: {_fmt(v)}" for k, v in evidence.items())


def _kv_html(d: dict[str, Any]) -> str:
    items = "".join(
        f'<span class="kv"><span class="k">{html.escape(str(k))}</span> {_value_html(v)}</span>'
        for k, v in d.items()
    )
    return f'<span class="kvs">{items}</span>'


def _value_html(v: Any) -> str:
    if isinstance(v, dict):
        return _kv_html(v)
    if isinstance(v, bool):
        return f'<span class="{"t" if v else "f"}">{_fmt(v)}</span>'
    return f'<span class="v">{html.escape(_fmt(v))}</span>'


def evidence_html(evidence: dict[str, Any]) -> str:
    """The numbers behind a claim as HTML.

    Scalars and lists become ``key value`` chips. Entries whose value is a dict (one per
    setting, typically) become one table, a row per entry and a column per key; an entry
    whose value is a dict of dicts, or a list of dicts, becomes its own table, captioned
    with its key.
    """

    def records(v: Any) -> bool:  # a list of dicts: one table row per item
        return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)

    flat = {k: v for k, v in evidence.items() if not isinstance(v, dict) and not records(v)}
    rows = {k: v for k, v in evidence.items() if isinstance(v, dict)}
    tables: list[tuple[str, dict[str, Any]]] = [
        (k, {str(i + 1): x for i, x in enumerate(v)}) for k, v in evidence.items() if records(v)
    ]
    plain = {}
    for k, v in rows.items():
        if v and all(isinstance(x, dict) for x in v.values()):
            tables.append((k, v))
        else:
            plain[k] = v
    if plain:
        tables.insert(0, ("", plain))
    parts = [f'<div class="flat">{_kv_html(flat)}</div>'] if flat else []
    for caption, table in tables:
        cols: list[str] = []
        for sub in table.values():
            cols += [c for c in sub if c not in cols]
        head = "<th></th>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
        body = "".join(
            f"<tr><th>{html.escape(str(k))}</th>"
            + "".join(f"<td>{_value_html(sub[c]) if c in sub else ''}</td>" for c in cols)
            + "</tr>"
            for k, sub in table.items()
        )
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        parts.append(
            f'<div class="scroll"><table class="ev">{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>"
        )
    return "\n".join(parts)


_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])"), r"<em>\1</em>"),
]


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    for pat, rep in _INLINE:
        out = pat.sub(rep, out)
    return out


def markdown_to_html(text: str, skip: tuple[str, ...] = ()) -> str:
    """Render the Markdown our studies write (headings, pipe tables, lists, one paragraph
    per line, inline code / bold / italics) to HTML.

    Headings are shifted down two levels (``#`` → ``<h3>``). A section whose heading is in
    ``skip`` is left out, up to the next heading of the same or a higher level; ``skip``
    may hold ``"#"`` to leave out the level-1 headings themselves (the report shows the
    study's title already).
    """
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    skipping: int | None = None  # level of the heading being skipped
    while i < len(lines):
        line = lines[i].rstrip()
        if line.startswith("#"):
            depth = len(line) - len(line.lstrip("#"))
            title = line.lstrip("#").strip()
            if skipping is not None and depth <= skipping:
                skipping = None
            if skipping is None and title in skip:
                skipping = depth
            if skipping is None and not (depth == 1 and "#" in skip):
                level = min(depth + 2, 6)
                out.append(f"<h{level}>{_inline(title)}</h{level}>")
            i += 1
            continue
        if skipping is not None:
            i += 1
            continue
        if line.lstrip().startswith("|"):
            block = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i].strip())
                i += 1
            out.append(_table_html(block))
            continue
        if re.match(r"\s*[-*] ", line):
            items = []
            while i < len(lines) and re.match(r"\s*[-*] ", lines[i]):
                items.append(f"<li>{_inline(lines[i].strip()[2:].strip())}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        if line.strip():  # the studies write one paragraph per line
            out.append(f"<p>{_inline(line.strip())}</p>")
        i += 1
    return "\n".join(out)


def _table_html(block: list[str]) -> str:
    def cells(row: str) -> list[str]:
        return [c.strip() for c in row.strip().strip("|").split("|")]

    rows = [r for r in block if not set(r.replace("|", "").strip()) <= set("-: ")]
    if not rows:
        return ""
    head, body = cells(rows[0]), [cells(r) for r in rows[1:]]
    h = "".join(f"<th>{_inline(c)}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in body)
    return (
        f'<div class="scroll"><table class="data"><thead><tr>{h}</tr></thead>'
        f"<tbody>{b}</tbody></table></div>"
    )
