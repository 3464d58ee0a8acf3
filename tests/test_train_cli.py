"""``noisylab train`` end to end: a real subprocess run on digits, and one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from noisylab.commands.train import model_kwargs, parse_params


def test_train_cli_runs_end_to_end(tmp_path):
    hist_path = tmp_path / "h.json"
    cmd = [
        sys.executable,
        "-m",
        "noisylab.cli",
        "train",
        "--data",
        "digits",
        "--noise",
        "symmetric:0.4",
        "--epochs",
        "2",
        "--members",
        "2",
        "--save-history",
        str(hist_path),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "best test acc" in out and "mean ± std" in out
    rates = [float(r) for r in re.findall(r"│\s+\d+\s+│\s+(0\.\d+)\s+│", out)]
    assert len(rates) == 2 and all(abs(r - 0.4) < 0.01 for r in rates)
    hist = json.loads(hist_path.read_text())
    assert hist["members"] == 2 and hist["epochs"] == [1, 2]
    accs = hist["metrics"]["test/acc"]
    assert all(0.2 < a < 1.0 for row in accs for a in row)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loss", "nope"], "unknown loss 'nope'"),
        (["--optimizer", "nope"], "unknown optimizer 'nope'"),
        (["--model", "nope"], "unknown model 'nope'"),
        (["--noise", "sideways:0.2"], "cannot parse noise spec"),
        (["--loss-param", "q"], "--loss-param expects KEY=VALUE"),
    ],
)
def test_train_cli_bad_names_are_one_red_line(cli, capsys, args, message):
    code = cli("train", "--data", "digits", "--epochs", "1", "--members", "1", *args)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_param_parsing_and_model_kwargs():
    assert parse_params(["q=0.7", "k=3", "flag=true", "name=x", "b=[0.9, 0.99]"], "--p") == {
        "q": 0.7,
        "k": 3,
        "flag": True,
        "name": "x",
        "b": [0.9, 0.99],
    }
    assert model_kwargs("cnn1d", (40,), 10, 128, 2) == {"length": 40, "out_features": 10}
    assert model_kwargs("cnn2d", (784,), 10, 64, 2)["image_size"] == 28
    assert model_kwargs("mlp", (8, 8), 10, 32, 1)["in_features"] == 64
