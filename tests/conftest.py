"""Test-wide settings: offline, headless, single-threaded, deterministic."""

import os

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
