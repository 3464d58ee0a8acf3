"""Tests of ``noisylab noise apply``: subprocess round trip, mask file, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from noisylab.noise import corrupt_labels


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120", "OMP_NUM_THREADS": "1"}
    env.pop("NOISYLAB_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "noisylab.cli", "noise", "apply", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_apply_round_trip(tmp_path):
    y = np.repeat(np.arange(5), 40)
    np.save(tmp_path / "y.npy", y)
    args = ["--labels", "y.npy", "--num-classes", "5", "--kind", "symmetric", "--rate", "0.4"]
    r = _cli(*args, "--seed", "3", "--out", "noisy.npy", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    noisy = np.load(tmp_path / "noisy.npy")
    mask = np.load(tmp_path / "noisy.mask.npy")
    assert mask.dtype == bool and np.array_equal(mask, noisy != y)
    assert mask.sum() == 80 and all(mask[y == c].sum() == 16 for c in range(5))
    # the CLI gives the library's result for the same seed
    assert np.array_equal(noisy, corrupt_labels(y, 5, "symmetric", 0.4, seed=3).labels)
    assert "realised rate 0.4000" in r.stdout and "noisy.mask.npy" in r.stdout
    assert "0.600" in r.stdout  # the empirical diagonal in the transition table


def test_apply_text_files_spec_and_matrix(tmp_path):
    y = np.tile(np.arange(3), 50)
    (tmp_path / "y.txt").write_text("\n".join(str(v) for v in y) + "\n")
    r = _cli(
        "--labels", "y.txt", "-k", "3", "--kind", "pair:next:0.2", "--out", "n.csv", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    noisy = np.array([int(v) for v in (tmp_path / "n.csv").read_text().split()])
    assert np.all(noisy[noisy != y] == (y[noisy != y] + 1) % 3) and (noisy != y).sum() == 30
    np.save(tmp_path / "T.npy", np.array([[0.5, 0.5, 0], [0, 1, 0], [0, 0, 1.0]]))
    r = _cli(
        *("--labels", "y.txt", "-k", "3", "--kind", "matrix", "--matrix", "T.npy"),
        *("--no-exact", "--out", "m.npy"),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    m = np.load(tmp_path / "m.npy")
    assert np.all(m[y != 0] == y[y != 0]) and set(np.unique(m[y == 0])) <= {0, 1}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rate", "1.5"], r"noise rate must be in \[0, 1\), got 1\.5"),
        (["--rate", "0.2", "--kind", "pair:mnist"], "needs num_classes = 10, got 4"),
        (["--rate", "0.2", "--kind", "zigzag"], "unknown noise kind 'zigzag'"),
        (["--rate", "0.2", "-k", "2"], r"labels must be in \[0, 2\); got 2 at index 2"),
    ],
)
def test_apply_bad_input_is_one_line_exit_2(tmp_path, extra, message):
    import re

    np.save(tmp_path / "y.npy", np.array([0, 1, 2, 3]))
    args = ["--labels", "y.npy", "-k", "4", "--out", "o.npy"]
    # a later -k overrides the earlier one in typer, as does --kind
    r = _cli(*args, *extra, cwd=tmp_path)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "o.npy").exists()


def test_apply_missing_label_file(tmp_path):
    r = _cli("--labels", "nope.npy", "-k", "3", "--rate", "0.1", "--out", "o.npy", cwd=tmp_path)
    assert r.returncode == 2 and "nope.npy" in r.stderr and "Traceback" not in r.stderr
