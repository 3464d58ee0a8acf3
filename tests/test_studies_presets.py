"""Every study's presets build, validate and expand into distinct JSON-serialisable units."""

import json

import pytest

from noisylab import studies
from noisylab.sweep import run_id, run_ids
from test_study_datasets import write_cifar


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory):
    """Generated CIFAR-10/100 batches and CIFAR-N files, for the CIFAR paper presets."""
    return write_cifar(tmp_path_factory.mktemp("cifar"))


@pytest.mark.parametrize("name", studies.available())
def test_every_preset_expands_into_distinct_serialisable_units(name, cifar_dir):
    mod = studies.get(name)
    assert set(mod.Config.PRESETS) == {"tiny", "quick", "extended", "paper"}
    sizes = {}
    for preset in ("tiny", "quick", "extended", "paper"):
        config = mod.Config.preset(preset)
        if preset == "paper" and "data_dir" in type(config).model_fields:
            config = studies.apply_sets(config, [f"data_dir={cifar_dir}"])
        units = mod.units(config)
        assert units, f"{name} {preset} has no units"
        ids = run_ids(mod, units)
        for u, rid in zip(units, ids):
            back = json.loads(json.dumps(u))  # plain JSON, as the store keeps it
            assert run_id(mod, back) == rid  # a unit read back maps to the same run
        assert len(set(ids)) == len(ids), f"{name} {preset} repeats a unit"
        sizes[preset] = len(units)
    # extended may hold fewer, longer units than quick (e.g. longer training per unit)
    assert sizes["tiny"] <= sizes["quick"] <= sizes["paper"]


@pytest.mark.parametrize("name", studies.available())
def test_analysis_modules_never_feed_a_run(name):
    """The modules a study names in ``ANALYSIS`` are left out of its version (editing them
    keeps the stored results), so no run-side module may import them."""
    import ast
    from pathlib import Path

    mod = studies.get(name)
    analysis = set(mod.ANALYSIS)
    pkg = Path(mod.__file__).parent
    assert analysis and all((pkg / f"{a}.py").is_file() for a in analysis)
    assert {"analyse", "claims"} <= analysis
    for path in pkg.glob("*.py"):
        if path.stem in analysis or path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names if node.module is None]
                level_ok = node.level == 1 or (node.module or "").startswith(mod.__name__)
                for n in names:
                    tail = n.rsplit(".", 1)[-1]
                    assert not (level_ok and tail in analysis), f"{path.name} imports {n}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    assert a.name.rsplit(".", 1)[-1] not in analysis or not a.name.startswith(
                        mod.__name__
                    ), f"{path.name} imports {a.name}"
