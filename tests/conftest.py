"""Test-wide settings: offline, headless, single-threaded, deterministic."""

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def cli():
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    from noisylab.cli import main

    def _run(*args: str, capsys=None):
        try:
            main(list(args))
        except SystemExit as e:
            return int(e.code or 0)
        return 0

    return _run


@pytest.fixture(scope="session")
def tiny_report(tmp_path_factory) -> Path:
    """Every study's tiny preset run once per test session: ``noisylab reproduce --preset
    tiny`` in a fresh directory. Returns the report folder; ``tiny_report / STUDY`` holds a
    study's ``claims.json``, ``results.csv``, ``table.md``, ``run.json`` and ``figures/``, and
    ``tiny_report.parent / "results"`` the store. The study and report tests share it."""
    work = tmp_path_factory.mktemp("tiny-report")
    r = subprocess.run(
        [sys.executable, "-m", "noisylab.cli", "reproduce", "--preset", "tiny"],
        cwd=work,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return work / "report"
