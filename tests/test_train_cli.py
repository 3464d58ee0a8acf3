"""``noisylab train`` end to end: a real subprocess run on digits, and one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings

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
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # robust on a shared, oversubscribed machine
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
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


def test_train_cli_reports_divergence_in_one_line_per_member(cli, capsys):
    """SGD at lr = 1e30 overflows at once: each member is named with its epoch, no NaNs."""
    args = ["--data", "digits", "--optimizer", "sgd", "--lr", "1e30", "--schedule", "constant"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = cli("train", *args, "--epochs", "2", "--members", "2", "--n-train", "200")
    out, err = capsys.readouterr()
    assert code == 0
    assert err == "" and not caught  # no Python warning text (file:line ...), no traceback
    text = " ".join(out.split())
    for m in (0, 1):
        assert f"warning: member {m} diverged at epoch 1 (loss=nan)" in text
    assert "nan" not in text.replace("(loss=nan)", "")  # accuracies show as "—", not NaN
    assert "diverged at epoch 1" in text.split("mean ± std")[0]  # in the table's note column


def test_train_cli_options_reach_the_engine(cli, capsys, tmp_path, monkeypatch):
    """Every training option lands in the config of the shared code path."""
    import noisylab.train.recipe as ts

    seen = {}
    real = ts.train_ensemble

    def spy(cfg, **kw):
        seen["cfg"], seen["kw"] = cfg, kw
        return real(cfg, **kw)

    monkeypatch.setattr(ts, "train_ensemble", spy)
    ckpt = tmp_path / "c.pt"
    code = cli(
        *("train", "--data", "digits", "--noise", "pair:next:0.3", "--loss", "gce"),
        *("--loss-param", "q=0.5", "--optimizer", "sgd", "--opt-param", "momentum=0.5"),
        *("--weight-decay", "0.01", "--schedule", "step", "--clip-grad", "2.5"),
        *("--epochs", "2", "--members", "2", "--width", "16", "--depth", "1"),
        *("--batch-size", "0", "--n-train", "100", "--seed", "3", "--eval-every", "2"),
        *("--checkpoint", str(ckpt)),
    )
    assert code == 0, capsys.readouterr().err
    cfg = seen["cfg"]
    assert (cfg.noise, cfg.loss, cfg.loss_params) == ("pair:next:0.3", "gce", {"q": 0.5})
    assert (cfg.optimizer, cfg.optimizer_params) == ("sgd", {"momentum": 0.5})
    assert (cfg.weight_decay, cfg.schedule, cfg.clip_grad) == (0.01, "step", 2.5)
    assert (cfg.epochs, cfg.members, cfg.width, cfg.depth) == (2, 2, 16, 1)
    assert (cfg.batch_size, cfg.n_train, cfg.seed, cfg.eval_every) == (0, 100, 3, 2)
    assert seen["kw"]["checkpoint"] == ckpt and ckpt.is_file()
    # 100 stratified samples = 10 per class; exact pair noise flips 3 of each: rate 0.300
    rows = re.findall(r"│\s+(\d+)\s+│\s+(0\.\d+)\s+│", capsys.readouterr().out)
    assert rows == [("0", "0.300"), ("1", "0.300")]


def test_train_cli_defaults_are_the_recipe_config_defaults():
    """Each default is stated once: every option of ``noisylab train`` that is a recipe field
    defaults to (and is documented by) that field of ``TrainConfig``; the ``train`` study's
    config is the same class plus presets."""
    import inspect

    from noisylab.commands.train import train
    from noisylab.studies.train import Config
    from noisylab.train.recipe import TrainConfig

    params = inspect.signature(train).parameters
    shared = [n for n in params if n in TrainConfig.model_fields]
    # every field is an option; the parameter dicts come as --loss-param/--opt-param/--data-arg
    params_dicts = {"loss_params", "optimizer_params", "data_args"}
    assert set(shared) == set(TrainConfig.model_fields) - params_dicts
    assert {"loss_param", "opt_param", "data_arg"} <= set(params)
    assert params["data_arg"].default.help == TrainConfig.model_fields["data_args"].description
    for name in shared:
        option = params[name].default
        assert option.help == TrainConfig.model_fields[name].description, name
        if name == "data":
            assert option.default is ...  # required on the command line
        else:
            assert option.default == TrainConfig.default(name), name
    assert issubclass(Config, TrainConfig)
    assert {n: Config.model_fields[n].default for n in ("epochs", "members")} == {
        "epochs": TrainConfig.default("epochs"),
        "members": TrainConfig.default("members"),
    }
    assert Config.preset("quick").epochs == 20  # presets override, the defaults stay put
