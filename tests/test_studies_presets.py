"""Every study's presets build, validate and expand into distinct JSON-serialisable units."""

import json

import pytest

from noisylab import studies
from noisylab.sweep import run_id, run_ids


@pytest.mark.parametrize("name", studies.available())
def test_every_preset_expands_into_distinct_serialisable_units(name):
    mod = studies.get(name)
    assert set(mod.Config.PRESETS) == {"tiny", "quick", "paper"}
    sizes = {}
    for preset in ("tiny", "quick", "paper"):
        units = mod.units(mod.Config.preset(preset))
        assert units, f"{name} {preset} has no units"
        ids = run_ids(mod, units)
        for u, rid in zip(units, ids):
            back = json.loads(json.dumps(u))  # plain JSON, as the store keeps it
            assert run_id(mod, back) == rid  # a unit read back maps to the same run
        assert len(set(ids)) == len(ids), f"{name} {preset} repeats a unit"
        sizes[preset] = len(units)
    assert sizes["tiny"] <= sizes["quick"] <= sizes["paper"]
