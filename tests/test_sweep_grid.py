"""Grid expansion, point names and sweep-file validation."""

import pytest

from noisylab.sweep import expand_grid, grid_points, slug
from noisylab.sweep.spec import SweepSpec, load_spec


def test_cartesian_product_first_key_slowest():
    pts = expand_grid({"lr": 0.1, "seed": 9}, {"seed": [0, 1, 2], "loss": ["ce", "mae"]})
    assert len(pts) == 6
    assert [(p["seed"], p["loss"]) for p in pts] == [
        (0, "ce"), (0, "mae"), (1, "ce"), (1, "mae"), (2, "ce"), (2, "mae"),
    ]  # fmt: skip
    assert all(p["lr"] == 0.1 for p in pts)
    assert expand_grid({"a": 1}) == [{"a": 1}]


def test_zip_groups_vary_together():
    pts = grid_points({"seed": [0, 1]}, zip=[{"lr": [0.1, 0.01], "epochs": [5, 10]}])
    assert pts == [
        {"seed": 0, "lr": 0.1, "epochs": 5},
        {"seed": 0, "lr": 0.01, "epochs": 10},
        {"seed": 1, "lr": 0.1, "epochs": 5},
        {"seed": 1, "lr": 0.01, "epochs": 10},
    ]


@pytest.mark.parametrize(
    ("grid", "zips", "message"),
    [
        ({"a": 1}, None, "grid values for 'a' must be a list, got 1"),
        ({"a": "xyz"}, None, "grid values for 'a' must be a list"),
        ({"a": []}, None, "grid values for 'a' must be a non-empty list"),
        ({"a": [1]}, [{"a": [2]}], "grid key 'a' appears more than once"),
        (None, [{"a": [1, 2], "b": [1]}], "zip group lists must have equal lengths"),
    ],
)
def test_bad_grids_say_what_is_wrong(grid, zips, message):
    with pytest.raises(ValueError, match=message):
        grid_points(grid, zips)


def test_slugs_are_safe_and_unique():
    assert slug({"loss": "gce", "rate": 0.4}) == "loss-gce_rate-0.4"
    assert slug({"path": "a/b c"}) == "path-a-b-c"
    long_a = slug({"x": "a" * 200 + "1"})
    long_b = slug({"x": "a" * 200 + "2"})
    assert len(long_a) <= 80 and long_a != long_b


def test_sweep_spec_validation(tmp_path):
    with pytest.raises(ValueError, match=r"unknown key\(s\) 'grdi'"):
        SweepSpec.from_dict({"study": "losses", "grdi": {}})
    with pytest.raises(ValueError, match="needs 'study: NAME'"):
        SweepSpec.from_dict({"preset": "tiny"})
    with pytest.raises(FileNotFoundError, match="not found"):
        load_spec(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("study: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_spec(tmp_path / "bad.yaml")
    (tmp_path / "ok.yaml").write_text("study: losses\ngrid: {seed: [0, 1]}\nzip: {a: [1]}\n")
    spec = load_spec(tmp_path / "ok.yaml")
    assert (spec.study, spec.preset, spec.grid, spec.zip) == (
        "losses", "quick", {"seed": [0, 1]}, [{"a": [1]}],
    )  # fmt: skip


def test_plan_validates_each_point_through_the_study_config(monkeypatch):
    import sweep_fixture_study
    from noisylab import studies
    from noisylab.studies.runner import plan
    from noisylab.sweep import run_id

    studies.register("sweep_fixture", "sweep_fixture_study", listed=False)
    spec = SweepSpec.from_dict(
        {
            "study": "sweep_fixture",
            "preset": "tiny",
            "set": ["scale=2.5", "sleep=0"],
            "zip": [{"n": [1, 2], "fail": [[], [1]]}],
        }
    )
    points = plan(spec)
    assert [p.slug for p in points] == ["n-1_fail-empty", "n-2_fail-1"]
    assert [p.config.n for p in points] == [1, 2]
    assert points[1].config.fail == (1,) and points[1].config.scale == 2.5
    assert points[1].units[1] == {"key": 1, "scale": 2.5, "sleep": 0.0, "fail": True}
    assert points[0].run_ids == [run_id(sweep_fixture_study, points[0].units[0])]
    with pytest.raises(ValueError, match="unknown set key 'scal' for Config"):
        plan(SweepSpec("sweep_fixture", "tiny", {"scal": 1.0}))
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        plan(SweepSpec("sweep_fixture", "huge"))
