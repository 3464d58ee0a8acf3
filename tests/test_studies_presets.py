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
