"""The Ray executor on a local cluster stores the same rows as the local executor."""

import pytest

import sweep_fixture_study as STUDY
from noisylab.sweep import execute, open_store

pytestmark = pytest.mark.ray


def _rows(store):
    runs = sorted(
        (r["id"], r["study"], r["config"], r["status"], r["result"], r["error"])
        for r in store.list_runs()
    )
    return runs, sorted(store.metrics(), key=lambda m: (m["run"], str(m)))


def test_ray_matches_local(tmp_path, monkeypatch):
    try:
        import ray
    except ImportError:
        pytest.skip("ray is not installed (pip install 'noisylab[ray]')")
    monkeypatch.delenv("NOISYLAB_SWEEP_LOG", raising=False)
    units = [{"key": k, "scale": 0.7, "sleep": 0.0, "fail": k == 3} for k in range(5)]
    local = open_store(tmp_path / "local.sqlite")
    remote = open_store(tmp_path / "ray.sqlite")
    with pytest.raises(Exception, match="1 of 5 runs") as local_err:
        execute(STUDY, units, store=local, progress=False)
    with pytest.raises(Exception, match="1 of 5 runs") as ray_err:
        execute(STUDY, units, store=remote, executor="ray", jobs=2, progress=False)
    assert str(ray_err.value) == str(local_err.value)
    assert not ray.is_initialized()  # the executor shut down the Ray it started
    assert _rows(remote) == _rows(local)
    assert remote.counts() == {"pending": 0, "running": 0, "done": 4, "failed": 1}

    ok = units[:3]
    assert execute(STUDY, ok, store=remote, executor="ray", progress=False) == execute(
        STUDY, ok, store=local, progress=False
    )


@pytest.mark.slow  # ~30 s on a loaded 2-core machine: each Ray worker imports torch afresh
def test_ray_trains_the_same_numbers_as_local(tmp_path, monkeypatch):
    """Real training units (the ``train`` study) give identical stored rows on Ray."""
    try:
        import ray  # noqa: F401
    except ImportError:
        pytest.skip("ray is not installed (pip install 'noisylab[ray]')")
    from noisylab.studies import train
    from noisylab.studies.train import Config, units

    monkeypatch.delenv("NOISYLAB_SWEEP_LOG", raising=False)
    cfgs = [Config.preset("tiny", n_train=200, epochs=2, seed=s) for s in (0, 1)]
    work = [u for c in cfgs for u in units(c)]
    local = open_store(tmp_path / "local.sqlite")
    remote = open_store(tmp_path / "ray.sqlite")
    a = execute(train, work, store=local, progress=False)
    b = execute(train, work, store=remote, executor="ray", jobs=1, progress=False)
    assert a == b
    assert _rows(remote) == _rows(local)
    assert len(remote.metrics()) > 0 and remote.counts()["done"] == 2
