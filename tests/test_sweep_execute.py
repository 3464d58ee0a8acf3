"""execute(): caching in the store, deduplication, the process pool, failures."""

import platform

import pytest

import sweep_fixture_study as STUDY  # the study itself: the sweep takes studies, not names
from noisylab.sweep import SweepError, content_id, execute, open_store, run_id, study_version


@pytest.fixture
def fixture_study(monkeypatch, tmp_path):
    """Log the fixture study's runs (workers import it by reference, no registry)."""
    log = tmp_path / "runs.log"
    monkeypatch.setenv("NOISYLAB_SWEEP_LOG", str(log))
    return lambda: log.read_text().split() if log.exists() else []


def _units(n, **kw):
    return [{"key": k, "scale": 1.0, "sleep": 0.0, "fail": False, **kw} for k in range(n)]


def _rows(store):
    """Everything about the stored runs that must not depend on executor or timing."""
    runs = [
        (r["id"], r["study"], r["config"], r["status"], r["result"], r["error"])
        for r in store.list_runs()
    ]
    return sorted(runs), sorted(store.metrics(), key=lambda m: (m["run"], str(m)))


def test_run_id_is_the_stable_content_hash():
    import hashlib
    import json

    unit = {"b": [1, 2], "a": 0.5}
    blob = json.dumps({"study": "s", "unit": unit, "version": "v"}, sort_keys=True)
    assert content_id("s", "v", unit) == hashlib.sha256(blob.encode()).hexdigest()[:16]
    assert content_id("s", "v", {"a": 0.5, "b": [1, 2]}) == content_id("s", "v", unit)
    assert content_id("t", "v", unit) != content_id("s", "v", unit)
    assert content_id("s", "w", unit) != content_id("s", "v", unit)
    version = study_version(STUDY)
    assert len(version) == 16 and study_version(STUDY) == version  # stable
    assert run_id(STUDY, unit) == content_id("sweep_fixture", version, unit)


def test_a_result_version_is_part_of_the_run_id(fixture_study, monkeypatch, tmp_path):
    """Results stored by an older run_unit are recomputed once the study bumps its version."""
    mod = STUDY
    units = _units(2)
    plain = [run_id(STUDY, u) for u in units]
    store = open_store(tmp_path / "r.sqlite")
    execute(STUDY, units, store=store)
    assert len(fixture_study()) == 2
    monkeypatch.setattr(mod, "RESULT_VERSION", 2, raising=False)
    bumped = [run_id(STUDY, u) for u in units]
    assert set(bumped).isdisjoint(plain)
    execute(STUDY, units, store=store)
    assert len(fixture_study()) == 4  # both units ran again under the new version
    monkeypatch.setattr(mod, "RESULT_VERSION", 3)
    assert run_id(STUDY, units[0]) != bumped[0]


def test_second_execute_runs_nothing(fixture_study, tmp_path):
    store = open_store(tmp_path / "s.sqlite")
    first = execute(STUDY, _units(4), store=store, progress=False)
    assert sorted(fixture_study()) == ["0", "1", "2", "3"]
    assert [r["key"] for r in first] == [0, 1, 2, 3]
    assert first[1]["value"] == 1 / 3 and first[0]["nan"] is None
    started = {r["id"]: r["started"] for r in store.list_runs()}

    again = execute(STUDY, _units(4)[::-1], store=store, progress=False)
    assert again == first[::-1]
    assert len(fixture_study()) == 4  # nothing ran
    assert {r["id"]: r["started"] for r in store.list_runs()} == started
    assert len(store.metrics()) == 4 * 7


def test_identical_units_run_once(fixture_study, tmp_path):
    units = _units(3)
    res = execute(STUDY, [units[0], units[1], units[0], units[2], units[1]], progress=False)
    assert [r["key"] for r in res] == [0, 1, 0, 2, 1]
    assert sorted(fixture_study()) == ["0", "1", "2"]


def test_process_pool_gives_the_same_rows_as_in_process(fixture_study, tmp_path):
    inline = open_store(tmp_path / "inline.sqlite")
    pooled = open_store(tmp_path / "pool.sqlite")
    a = execute(STUDY, _units(4), store=inline, jobs=1, progress=False)
    b = execute(STUDY, _units(4), store=pooled, jobs=2, progress=False)
    assert a == b
    assert _rows(inline) == _rows(pooled)
    assert len(fixture_study()) == 8
    assert {r["host"] for r in pooled.list_runs()} == {platform.node()}


def test_failed_unit_is_recorded_and_reported_after_the_rest(fixture_study, tmp_path):
    store = open_store(tmp_path / "s.sqlite")
    units = _units(4)
    units[1]["fail"] = True
    bad = run_id(STUDY, units[1])
    with pytest.raises(SweepError, match=r"1 of 4 runs of study 'sweep_fixture' failed") as ei:
        execute(STUDY, units, store=store, progress=False)
    assert f"first: run {bad}: ValueError: unit 1 was told to fail" in str(ei.value)
    assert ei.value.failures == {bad: "ValueError: unit 1 was told to fail"}
    assert sorted(fixture_study()) == ["0", "2", "3"]  # the others finished
    row = store.get(bad)
    assert row["status"] == "failed" and row["error"] == "ValueError: unit 1 was told to fail"
    assert "Traceback" in row["traceback"] and row["result"] is None
    assert store.counts() == {"pending": 0, "running": 0, "done": 3, "failed": 1}

    units[1]["fail"] = False  # a different unit now: the failed one stays failed
    execute(STUDY, units, store=store, progress=False)
    assert sorted(fixture_study()) == ["0", "1", "2", "3"]


def test_failed_unit_is_retried_on_rerun(fixture_study, tmp_path, monkeypatch):
    store = open_store(tmp_path / "s.sqlite")
    units = _units(2)
    units[0]["fail"] = True
    for _ in range(2):
        with pytest.raises(SweepError, match="1 of 2 runs"):
            execute(STUDY, units, store=store, progress=False)
    assert fixture_study() == ["1"]
    assert store.counts()["failed"] == 1


def test_malformed_metrics_fail_the_unit(monkeypatch, tmp_path):
    import sys
    import types

    mod = types.ModuleType("sweep_fixture_badmetrics")
    mod.NAME = "bad"
    mod.run_unit = lambda unit: {"metrics": [["only", "three", 1]]}
    monkeypatch.setitem(sys.modules, "sweep_fixture_badmetrics", mod)
    store = open_store(tmp_path / "s.sqlite")
    with pytest.raises(SweepError, match=r"is not \[member, epoch, name, value\]"):
        execute(mod, [{"i": 0}], store=store, progress=False)
    assert store.list_runs()[0]["status"] == "failed"
    assert store.metrics() == []


def test_bad_arguments(fixture_study, tmp_path):
    store = open_store(tmp_path / "s.sqlite")
    with pytest.raises(ValueError, match="unknown executor 'dask'"):
        execute(STUDY, _units(1), store=store, executor="dask", progress=False)
    with pytest.raises(ValueError, match="address 'x:1' is only used by the ray executor"):
        execute(STUDY, _units(1), store=store, address="x:1", progress=False)
    assert store.list_runs() == []  # nothing marked pending
    with pytest.raises(ValueError, match="jobs must be an int >= 1, got 0"):
        execute(STUDY, _units(1), jobs=0, progress=False)
    with pytest.raises(ValueError, match="unit 0 of study 'sweep_fixture' must be a dict"):
        execute(STUDY, [3], progress=False)
    with pytest.raises(TypeError, match=r"takes a study .* not the name 'nope'"):
        execute("nope", [{}], progress=False)
    with pytest.raises(TypeError, match="needs a non-empty string NAME"):
        execute(object(), [{}], progress=False)
    with pytest.raises(ValueError, match="must be a module-level function"):
        lam = type("S", (), {"NAME": "lam", "run_unit": staticmethod(lambda u: u)})
        execute(lam, _units(2), jobs=2, progress=False)


def test_progress_names_the_study_and_counts_only_on_a_terminal():
    import io

    from rich.console import Console

    from noisylab.sweep.dispatch import _progress

    buf = io.StringIO()
    term = Console(file=buf, force_terminal=True, width=100)
    with _progress("my_study", 3, 1, True, console=term) as advance:
        advance()
        advance()
    text = buf.getvalue()
    assert "my_study" in text and "3/3" in text

    quiet = io.StringIO()
    with _progress("my_study", 3, 0, True, console=Console(file=quiet)) as advance:
        advance()
    with _progress("my_study", 3, 0, False, console=term) as advance:
        advance()
    assert quiet.getvalue() == "" and buf.getvalue() == text


@pytest.mark.slow
def test_pool_workers_use_one_torch_thread(monkeypatch):
    import sweep_fixture_torch

    res = execute(sweep_fixture_torch, [{"n": n} for n in range(2, 8)], jobs=2, progress=False)
    assert [r["sum"] for r in res] == [n * (n - 1) / 2 for n in range(2, 8)]
    assert {r["threads"] for r in res} == {1}
    assert len({r["pid"] for r in res}) == 2  # both workers took units


def test_a_dying_pool_worker_fails_units_not_the_sweep(monkeypatch, tmp_path):
    import sweep_fixture_crash as crashy

    store = open_store(tmp_path / "s.sqlite")
    units = [{"i": i, "crash": i == 0} for i in range(8)]  # more than one window of 2 * jobs
    with pytest.raises(SweepError, match="BrokenProcessPool"):
        execute(crashy, units, store=store, jobs=2, progress=False)
    counts = store.counts()
    assert counts["pending"] == counts["running"] == 0
    assert counts["failed"] >= 1 and counts["done"] + counts["failed"] == 8
    assert store.get(run_id(crashy, units[0]))["status"] == "failed"
    units[0]["crash"] = False
    assert execute(crashy, units, store=store, jobs=2, progress=False) == [
        {"i": i} for i in range(8)
    ]


@pytest.mark.parametrize("jobs", [1, 2])
def test_execute_many_runs_studies_back_to_back(fixture_study, tmp_path, jobs):
    """Several studies through one executor: each gets its own results (or its own
    SweepError), stored ones finish first, and nothing stored runs again."""
    import types

    from noisylab.sweep import execute_many

    other = types.SimpleNamespace(NAME="other", run_unit=STUDY.run_unit, version="v1")
    store = open_store(tmp_path / "s.sqlite")
    execute(STUDY, _units(2), store=store, progress=False)  # stored before: runs no more
    assert sorted(fixture_study()) == ["0", "1"]
    failing = [{**u, "fail": u["key"] == 1} for u in _units(3)]
    seen = []
    out = execute_many(
        [(other, failing), (STUDY, _units(3)), (STUDY, _units(2))],
        store=store,
        jobs=jobs,
        progress=False,
        on_done=lambda i, o: seen.append((i, type(o).__name__)),
    )
    assert [r["key"] for r in out[1]] == [0, 1, 2] and [r["key"] for r in out[2]] == [0, 1]
    assert isinstance(out[0], SweepError) and len(out[0].failures) == 1 and out[0].total == 3
    assert seen[0] == (2, "list")  # all stored: done before anything runs
    assert sorted(seen) == [(0, "SweepError"), (1, "list"), (2, "list")]
    # the log holds the earlier 0 and 1, then `other`'s 0 and 2 (its 1 raised before logging)
    # and only key 2 of the fixture study (its 0 and 1 were stored)
    assert sorted(fixture_study()) == ["0", "0", "1", "2", "2"]
    statuses = {(r["study"], r["status"]) for r in store.list_runs()}
    assert statuses == {("sweep_fixture", "done"), ("other", "done"), ("other", "failed")}


def test_execute_many_can_start_the_study_with_fewest_units_first(fixture_study, tmp_path):
    """``few_units_first`` changes the order units start in (here: one at a time), never
    the results."""
    import types

    from noisylab.sweep import execute_many

    other = types.SimpleNamespace(NAME="other", run_unit=STUDY.run_unit, version="v1")
    results = {}
    for flag in (False, True):
        seen = []
        results[flag] = execute_many(
            [(other, _units(3)), (STUDY, _units(1))],
            store=tmp_path / f"{flag}.sqlite",
            progress=False,
            on_done=lambda i, o, seen=seen: seen.append(i),
            few_units_first=flag,
        )
        assert seen == ([1, 0] if flag else [0, 1])
    assert results[True] == results[False]
