"""What every study shares: a config with presets, claims, and the output files.

A study is a module exposing

``NAME``, ``TITLE``, ``PAPER``
    identifiers and the seed paper's title;
``Config``
    a :class:`StudyConfig` subclass whose ``PRESETS`` maps ``tiny``/``quick``/``extended``/``paper``
    to field overrides;
``units(config) -> list[dict]``
    the independent runs (JSON-serialisable dicts) the study needs; each becomes one row of
    the results store, is cached by a content hash, and can run on any executor;
``run_unit(unit: dict) -> dict``
    runs one unit and returns a JSON-serialisable result; pure of I/O;
``analyse(config, results: list[dict], out: Path) -> list[Claim]``
    turns stored results into ``results.csv``, ``table.md``, ``figures/`` and the claims;
    it never trains anything.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, field_validator

from noisylab._json import jsonable
from noisylab.checks import check_device


class Claim(BaseModel):
    """One claim of a paper, as evaluated on our data: never tuned to pass."""

    id: str
    statement: str
    reproduced: bool
    evidence: dict[str, Any]

    @field_validator("evidence")
    @classmethod
    def _finite(cls, v: dict[str, Any]) -> dict[str, Any]:
        return jsonable(v)


class StudyConfig(BaseModel):
    """Base of study configs: validated fields, named presets, no unknown keys."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    #: for a study without a ``dataset`` field: what its data is, said when one is set.
    DATA: ClassVar[str | None] = None

    seed: int = 0
    device: str = "cpu"

    @field_validator("device")
    @classmethod
    def _device_name(cls, v: str) -> str:
        return check_device(v)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> StudyConfig:
        """Build the config of preset ``name`` with optional field overrides."""
        if name not in cls.PRESETS:
            raise ValueError(f"unknown preset {name!r}; known: {', '.join(cls.PRESETS)}")
        values = {**cls.PRESETS[name], **overrides}
        return cls(**values)

    def notes(self) -> list[str]:
        """Lines the CLI prints before a run (e.g. a GPU preset's expected time)."""
        return []


def check_local_device(device: str) -> None:
    """Raise ``ValueError`` if this machine cannot run ``device``: for the local executor,
    before any work starts (Ray workers may have accelerators the driver lacks)."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available on this machine")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' requested but MPS is not available on this machine")


def apply_sets(config: StudyConfig, sets: Sequence[str]) -> StudyConfig:
    """Apply ``key=value`` overrides (values parsed as YAML) to a config, validated."""
    import yaml

    data = config.model_dump()
    for item in sets:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        if key in ("dataset", "model") and key not in data and config.DATA is not None:
            raise ValueError(f"{type(config).__name__} takes no {key}: {config.DATA}")
        if key not in data:
            raise ValueError(
                f"unknown config key {key!r} for {type(config).__name__}; "
                f"known: {', '.join(sorted(data))}"
            )
        data[key] = yaml.safe_load(raw)
    return type(config)(**data)


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write dict rows to CSV; the header is the union of keys in first-seen order."""
    rows = list(rows)
    fields: list[str] = []
    for r in rows:
        for k in r:
            if k not in fields:
                fields.append(k)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})


def write_claims(path: Path, claims: Sequence[Claim]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([c.model_dump() for c in claims], indent=2) + "\n")


def read_claims(path: Path) -> list[Claim]:
    return [Claim(**c) for c in json.loads(Path(path).read_text())]


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(map(str, r)) + " |")
    return "\n".join(lines) + "\n"


def claims_markdown(claims: Sequence[Claim]) -> list[str]:
    """The ``## Claims`` section of a study's ``table.md``: one verdict line per claim."""
    lines = ["\n## Claims\n"]
    for c in claims:
        mark = "reproduced" if c.reproduced else "**not reproduced**"
        lines.append(f"- {mark} — `{c.id}`: {c.statement}\n")
    return lines


def write_lines(path: Path, lines: Iterable[str]) -> None:
    """Write text pieces to ``path``, each ending with exactly one added newline if it lacks one."""
    Path(path).write_text("".join(x if x.endswith("\n") else x + "\n" for x in lines))
