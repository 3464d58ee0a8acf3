"""The CLI shell: help, registries, and one-line errors with exit code 2."""

import subprocess
import sys


def _noisylab(*args):
    return subprocess.run(
        [sys.executable, "-m", "noisylab.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_commands():
    r = _noisylab("--help")
    assert r.returncode == 0
    assert "run" in r.stdout and "list" in r.stdout


def test_unknown_study_is_one_red_line_exit_2():
    r = _noisylab("run", "no-such-study", "--no-store")
    assert r.returncode == 2
    assert "unknown study 'no-such-study'" in r.stderr
    assert "Traceback" not in r.stderr


def test_list_losses_shows_registry():
    r = _noisylab("list", "losses")
    assert r.returncode == 0
    assert "ce" in r.stdout


def test_registry_unknown_name_lists_known():
    import pytest

    from noisylab.registry import Registry

    reg = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(ValueError, match="unknown thing 'b'; known: a"):
        reg.get("b")
