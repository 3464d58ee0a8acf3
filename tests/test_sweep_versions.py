"""Stale results are impossible: a study's code or config-schema change gives new run ids.

Two fixture studies are written to ``tmp_path``: ``pkg`` is a package
(``__init__``/``config``/``run``, like the paper studies) and ``mod`` a single module (a copy
of ``sweep_fixture_study``). Each run appends to a log, so the tests see which units ran.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from noisylab.sweep import execute, open_store, run_ids, study_version

HERE = Path(__file__).parent

PKG_INIT = '''"""A package study for the version tests."""
from .config import Config
from .run import run_unit

NAME = "pkg_study"


def units(config):
    return [{"i": i} for i in range(config.n)]
'''
PKG_CONFIG = """from typing import Any, ClassVar

from noisylab.studies.base import StudyConfig


class Config(StudyConfig):
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {"n": 3}}
    n: int = 3
"""
PKG_RUN = """import os


def run_unit(unit):
    with open(os.environ["VERSION_TEST_LOG"], "a") as f:
        f.write(f"pkg {unit['i']}\\n")
    return {"value": unit["i"] * 2}
"""


@pytest.fixture
def studies(tmp_path, monkeypatch):
    """Write both studies under a fresh package root; ``load()`` (re)imports them from disk."""
    root = tmp_path / "src"
    (root / "vpkg").mkdir(parents=True)
    (root / "vpkg" / "__init__.py").write_text(PKG_INIT)
    (root / "vpkg" / "config.py").write_text(PKG_CONFIG)
    (root / "vpkg" / "run.py").write_text(PKG_RUN)
    shutil.copy(HERE / "sweep_fixture_study.py", root / "vmod.py")
    log = tmp_path / "runs.log"
    monkeypatch.setenv("VERSION_TEST_LOG", str(log))
    monkeypatch.setenv("NOISYLAB_SWEEP_LOG", str(log))  # vmod logs its key there
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def load():
        for name in [m for m in sys.modules if m == "vmod" or m.split(".")[0] == "vpkg"]:
            del sys.modules[name]
        importlib.invalidate_caches()
        return importlib.import_module("vpkg"), importlib.import_module("vmod")

    def ran():
        lines = log.read_text().splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return sorted(lines)

    yield root, load, ran
    for name in [m for m in sys.modules if m == "vmod" or m.split(".")[0] == "vpkg"]:
        del sys.modules[name]


MOD_UNITS = [{"key": k, "scale": 1.0, "sleep": 0.0, "fail": False} for k in range(2)]


def _run_both(store, load):
    pkg, mod = load()
    a = execute(pkg, pkg.units(pkg.Config.preset("tiny")), store=store, progress=False)
    b = execute(mod, MOD_UNITS, store=store, progress=False)
    return pkg, mod, a, b


def test_code_and_schema_changes_recompute_exactly_the_changed_study(studies, tmp_path):
    root, load, ran = studies
    store = open_store(tmp_path / "s.sqlite")
    pkg, mod, a, _ = _run_both(store, load)
    assert ran() == ["0", "1", "pkg 0", "pkg 1", "pkg 2"]
    assert a == [{"value": 0}, {"value": 2}, {"value": 4}]
    pkg_ids = run_ids(pkg, pkg.units(pkg.Config.preset("tiny")))
    mod_ids = run_ids(mod, MOD_UNITS)
    pkg_version, mod_version = study_version(pkg), study_version(mod)

    # no change: everything is read from the store
    pkg, mod, _, _ = _run_both(store, load)
    assert ran() == []
    assert (study_version(pkg), study_version(mod)) == (pkg_version, mod_version)

    # a code change in one file of the package: its runs are recomputed with the new code,
    # the other study's are read from the store
    run_py = root / "vpkg" / "run.py"
    run_py.write_text(run_py.read_text().replace('unit["i"] * 2', 'unit["i"] * 3'))
    pkg, mod, a, _ = _run_both(store, load)
    assert ran() == ["pkg 0", "pkg 1", "pkg 2"]
    assert a == [{"value": 0}, {"value": 3}, {"value": 6}]
    assert study_version(pkg) != pkg_version and study_version(mod) == mod_version
    new_ids = run_ids(pkg, pkg.units(pkg.Config.preset("tiny")))
    assert set(new_ids).isdisjoint(pkg_ids) and run_ids(mod, MOD_UNITS) == mod_ids
    assert {r["id"] for r in store.list_runs(study="pkg_study")} == set(pkg_ids) | set(new_ids)

    # a config-schema change that leaves the units as they were (a new field, a new
    # default): recomputed all the same
    for edit in ("    n: int = 3\n    lr: float = 0.1\n", "    n: int = 3\n    lr: float = 0.2\n"):
        (root / "vpkg" / "config.py").write_text(PKG_CONFIG.replace("    n: int = 3\n", edit))
        before = study_version(pkg)
        pkg, mod, _, _ = _run_both(store, load)
        assert pkg.units(pkg.Config.preset("tiny")) == [{"i": 0}, {"i": 1}, {"i": 2}]
        assert study_version(pkg) != before
        assert ran() == ["pkg 0", "pkg 1", "pkg 2"]

    # the single-module study: a code change recomputes it and leaves the package alone
    vmod = root / "vmod.py"
    vmod.write_text(vmod.read_text().replace('"value": s * k / 3.0', '"value": s * k / 4.0'))
    pkg, mod, _, b = _run_both(store, load)
    assert ran() == ["0", "1"]
    assert [r["value"] for r in b] == [0.0, 0.25]
    assert study_version(mod) != mod_version


def test_declared_result_version_and_sources_are_part_of_the_version(studies):
    _root, load, _ran = studies
    pkg, _mod = load()
    base = study_version(pkg)
    pkg.RESULT_VERSION = 2
    bumped = study_version(pkg)
    pkg.SOURCES = ("noisylab.checks",)  # library code the study depends on
    assert len({base, bumped, study_version(pkg)}) == 3
    pkg.SOURCES = ("no_such_module_here",)
    with pytest.raises(ValueError, match="SOURCES names module 'no_such_module_here'"):
        study_version(pkg)


def test_the_train_study_version_covers_the_recipe():
    """The train study names the recipe in SOURCES: a recipe edit changes its run ids."""
    from noisylab.studies import train

    assert train.SOURCES == ("noisylab.train.recipe",)
    same = {"NAME": "train", "run_unit": staticmethod(train.run_unit), "Config": train.Config}
    without = type("T", (), same)  # the same module and schema, no SOURCES
    with_sources = type("T", (), {**same, "SOURCES": train.SOURCES})
    assert study_version(with_sources) == study_version(train)
    assert study_version(without) != study_version(train)


def test_a_config_without_json_schema_still_versions_its_fields():
    """A field type pydantic cannot express in JSON schema: the fields' names, types and
    defaults key the version instead."""
    from pydantic import BaseModel

    def version(default):
        class Config(BaseModel):
            fn: Callable[[int], int] = default
            n: int = 3

        study = type("S", (), {"NAME": "s", "run_unit": staticmethod(len), "Config": Config})
        with pytest.raises(Exception, match=r"(?i)schema"):
            Config.model_json_schema()
        return study_version(study)

    assert version(abs) == version(abs)
    assert version(abs) != version(len)


def test_pool_workers_import_an_unregistered_study_by_reference(studies, tmp_path):
    """A study that no registry or environment variable names (here: written to tmp_path)
    runs on the process pool: workers get ``run_unit`` as (module, qualname) and import it."""
    _root, load, ran = studies
    pkg, _mod = load()
    units = pkg.units(pkg.Config.preset("tiny"))
    store = open_store(tmp_path / "pool.sqlite")
    assert execute(pkg, units, store=store, jobs=2, progress=False) == [
        {"value": 0},
        {"value": 2},
        {"value": 4},
    ]
    assert ran() == ["pkg 0", "pkg 1", "pkg 2"]
    assert {r["study"] for r in store.list_runs()} == {"pkg_study"}


def test_analysis_modules_are_left_out_of_the_version(studies, tmp_path):
    """Editing a module named in ``ANALYSIS`` keeps the stored results; editing run code or
    naming a module that does not exist does not."""
    root, load, ran = studies
    (root / "vpkg" / "claims.py").write_text("THRESHOLD = 0.5\n")
    init = root / "vpkg" / "__init__.py"
    init.write_text(init.read_text() + 'ANALYSIS = ("claims",)\n')
    store = open_store(tmp_path / "s.sqlite")
    pkg, _mod, _, _ = _run_both(store, load)
    ran()
    version = study_version(pkg)

    (root / "vpkg" / "claims.py").write_text("THRESHOLD = 0.8\n")
    pkg, _mod, _, _ = _run_both(store, load)
    assert study_version(pkg) == version and ran() == []

    (root / "vpkg" / "run.py").write_text(PKG_RUN.replace("* 2", "* 5"))
    pkg, _mod, a, _ = _run_both(store, load)
    assert study_version(pkg) != version and ran() == ["pkg 0", "pkg 1", "pkg 2"]
    assert a == [{"value": 0}, {"value": 5}, {"value": 10}]

    init.write_text(init.read_text().replace('("claims",)', '("claims", "nowhere")'))
    pkg, _mod = load()
    with pytest.raises(ValueError, match="'nowhere'"):
        study_version(pkg)
