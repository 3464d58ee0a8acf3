"""The CLI shell: help, registries, and one-line errors with exit code 2."""

import os
import subprocess
import sys

import pytest


def _noisylab(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    env.pop("NOISYLAB_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "noisylab.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _names(table_text: str) -> list[str]:
    """First-column cells of the body rows of a rich table (the header uses ┃)."""
    out = []
    for line in table_text.splitlines():
        if line.startswith("│"):
            cell = line.split("│")[1].strip()
            if cell:
                out.append(cell)
    return out


def test_help_lists_every_command():
    r = _noisylab("--help")
    assert r.returncode == 0, r.stderr
    for command in ("list", "noise", "train", "run", "sweep", "results", "reproduce", "report"):
        assert f"│ {command} " in r.stdout, command
    r = _noisylab()  # no arguments: the help, not an error
    assert "Usage" in r.stdout + r.stderr and "Traceback" not in r.stderr


def test_unknown_study_is_one_red_line_exit_2():
    r = _noisylab("run", "no-such-study", "--no-store")
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "unknown study 'no-such-study'" in lines[0]
    assert "Traceback" not in r.stderr


def test_bad_or_unavailable_device_is_one_line_exit_2(tmp_path):
    import torch

    def one_line(r, text):
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2 and len(lines) == 1 and text in lines[0], r.stderr
        assert not (tmp_path / "out").exists()  # refused before any work

    out = ("--out", str(tmp_path / "out"))
    one_line(_noisylab("run", "losses", "--preset", "tiny", "--no-store", "--device", "tpu", *out),
             "device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got 'tpu'")  # fmt: skip
    store = ("--store", str(tmp_path / "r.sqlite"))
    one_line(_noisylab("reproduce", "--only", "feedback", "--device", "cuda", *out, *store),
             "the feedback study runs on the CPU only")  # fmt: skip
    if not torch.cuda.is_available():  # the availability check needs a machine without CUDA
        one_line(_noisylab("run", "losses", "--preset", "tiny", "--no-store", "--device", "cuda", *out),
                 "CUDA is not available")  # fmt: skip
        one_line(_noisylab("reproduce", "--only", "losses", "--device", "cuda", *out, *store),
                 "CUDA is not available")  # fmt: skip


@pytest.mark.parametrize(
    ("what", "registry"),
    [
        ("datasets", "noisylab.data:DATASETS"),
        ("noise", "noisylab.noise:ALL_NOISE_KINDS"),
        ("losses", "noisylab.losses:LOSSES"),
        ("optimizers", "noisylab.optim:OPTIMIZERS"),
        ("models", "noisylab.nn:MODELS"),
    ],
)
def test_list_shows_every_registered_name(cli, capsys, monkeypatch, what, registry):
    import importlib

    from rich.console import Console

    import noisylab.commands.listing as listing

    monkeypatch.setattr(listing, "console", Console(width=200, file=sys.stdout))
    module, attr = registry.split(":")
    names = list(getattr(importlib.import_module(module), attr))
    assert cli("list", what) == 0
    shown = _names(capsys.readouterr().out)
    assert shown == names


def test_list_datasets_and_noise_name_what_they_are(cli, capsys, monkeypatch):
    from rich.console import Console

    import noisylab.commands.listing as listing

    monkeypatch.setattr(listing, "console", Console(width=200, file=sys.stdout))
    assert cli("list", "datasets") == 0
    out = capsys.readouterr().out
    assert "MNIST-1D, generated" in out and "safe unpickler" in out
    assert cli("list", "noise") == 0
    out = capsys.readouterr().out
    assert "realised rate = rate·(K−1)/K" in out and "next fine class within its true" in out
    assert "cifar10n:worse" in out and "cifar100n:noisy" in out  # the human kinds too


def test_unknown_list_is_one_line_exit_2(cli, capsys):
    assert cli("list", "planets") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "unknown list 'planets'; expected one of: datasets, noise, losses" in err[0]


def test_registry_unknown_name_lists_known():
    from noisylab.registry import Registry

    reg = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(ValueError, match="unknown thing 'b'; known: a"):
        reg.get("b")


def test_list_studies_shows_the_five_papers_in_report_order(cli, capsys, monkeypatch):
    from rich.console import Console

    import noisylab.commands.listing as listing

    monkeypatch.setattr(listing, "console", Console(width=200, file=sys.stdout))
    assert cli("list", "studies") == 0
    shown = _names(capsys.readouterr().out)
    assert shown == ["losses", "sharpness", "alignment", "modular", "feedback"]


def test_studies_register_lazily_and_the_cli_starts_without_torch():
    """``import noisylab.cli`` loads no study module and no torch; the ``train`` study and
    NOISYLAB_EXTRA_STUDIES plugins resolve by name but are not listed."""
    code = (
        "import sys, noisylab.cli as c, noisylab.studies as s\n"
        "loaded = sorted(n for n in s.STUDIES if f'noisylab.studies.{n}' in sys.modules)\n"
        "print(loaded, 'torch' in sys.modules)\n"
        "print(c.register_extra_studies('plug=json'), s.available(), s.get('plug').__name__)\n"
        "print(s.get('train').NAME, s.STUDIES.meta('train'), s.STUDIES.path('train'))\n"
    )
    env = {**os.environ, "NOISYLAB_EXTRA_STUDIES": ""}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "[] False",
        "['plug'] ['losses', 'sharpness', 'alignment', 'modular', 'feedback'] json",
        "train {'listed': False} noisylab.studies.train",
    ]


def test_extra_studies_variable_is_checked(cli, capsys, monkeypatch):
    monkeypatch.setenv("NOISYLAB_EXTRA_STUDIES", "nonsense")
    assert cli("list", "studies") == 2
    err = capsys.readouterr().err
    assert "NOISYLAB_EXTRA_STUDIES expects name=module.path items, got 'nonsense'" in err
    monkeypatch.setenv("NOISYLAB_EXTRA_STUDIES", "losses=json")
    assert cli("list", "studies") == 2
    assert "study 'losses' is already registered as 'noisylab.studies.losses'" in (
        capsys.readouterr().err
    )
