"""``fit(compile=...)``: the compiled step equals the eager one; no compiler means eager."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from noisylab.data.dataset import Dataset
from noisylab.nn import build
from noisylab.train import engine, fit


def _toy(n: int = 96, d: int = 6, k: int = 3) -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n + 40, d, generator=g)
    y = (x @ torch.randn(d, k, generator=g)).argmax(1)
    return Dataset("toy", x[:n], y[:n], x[n:], y[n:], num_classes=k)


def _labels(ds: Dataset, members: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    lab = ds.y_train.repeat(members, 1)
    flip = torch.rand(lab.shape, generator=g) < 0.2
    return torch.where(flip, (lab + 1) % 3, lab)


MLP = {"in_features": 6, "out_features": 3, "width": 16, "depth": 2}
KW = dict(optimizer="adam", lr=1e-2, epochs=3, batch_size=32, clip_grad=0.5, seed=[4, 5])


def _run(ds: Dataset, labels: torch.Tensor, **kw):
    model = build("mlp", 2, seed=[1, 2], **MLP)
    hist = fit(model, ds, labels, **{**KW, **kw})
    return model, hist


def _assert_same(a, b, atol: float) -> None:
    (ma, ha), (mb, hb) = a, b
    for p, q in zip(ma.parameters(), mb.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=atol)
    assert ha.metrics.keys() == hb.metrics.keys()
    for name in ha.metrics:
        np.testing.assert_allclose(ha[name], hb[name], rtol=0, atol=atol, err_msg=name)


@pytest.mark.slow
def test_compiled_step_equals_eager_and_is_deterministic():
    """Inductor on the CPU: same parameters and metrics as eager to 1e-5, and run twice with
    the same seed it gives the same numbers bit for bit (the second fit reuses the graph)."""
    ds = _toy()
    labels = _labels(ds, 2)
    eager = _run(ds, labels, compile=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", engine.CompileFallbackWarning)  # gcc is on this machine
        first = _run(ds, labels, compile=True)
        second = _run(ds, labels, compile=True)
    _assert_same(eager, first, atol=1e-5)
    _assert_same(first, second, atol=0.0)
    assert first[1] == second[1]


def test_missing_compiler_warns_once_then_trains_eagerly(monkeypatch):
    """A machine without a C++ compiler: one notice, then the eager numbers exactly."""
    from torch._inductor import config as inductor_config

    # inductor's config patch, not monkeypatch: restoring a config entry with setattr
    # leaves it unreadable, and every later compiled fit in the session then fails
    monkeypatch.setattr(engine, "_NOTICES", set())
    ds = _toy()
    labels = _labels(ds, 2)
    eager = _run(ds, labels, compile=False)
    with inductor_config.patch({"cpp.cxx": (None, "/nonexistent/bin/no-such-g++")}):
        assert "no C++ compiler" in (engine._compiler_missing(torch.device("cpu")) or "")
        with pytest.warns(engine.CompileFallbackWarning, match="no-such-g\\+\\+.*training eagerly"):
            fallback = _run(ds, labels, compile=True)
        _assert_same(eager, fallback, atol=0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", engine.CompileFallbackWarning)  # one notice only
            again = _run(ds, labels, compile=True)
        _assert_same(eager, again, atol=0.0)
    assert engine._compiler_missing(torch.device("cpu")) is None  # the compiler is back


def test_compile_failure_mid_run_falls_back_to_eager(monkeypatch):
    """An error raised by the compiler stack (not by the model) switches the run to eager;
    the failed step is recomputed eagerly, so the numbers equal an eager run's."""
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise torch._dynamo.exc.InternalTorchDynamoError("simulated inductor crash")

    monkeypatch.setattr(engine, "_compiled_losses", lambda dev: broken)
    monkeypatch.setattr(engine, "_NOTICES", set())
    ds = _toy()
    labels = _labels(ds, 2)
    eager = _run(ds, labels, compile=False)
    with pytest.warns(engine.CompileFallbackWarning, match="simulated inductor crash"):
        fallback = _run(ds, labels, compile=True)
    assert calls == [1]  # tried once, then eager for the rest of the run
    _assert_same(eager, fallback, atol=0.0)


def test_user_errors_are_not_swallowed_by_the_fallback(monkeypatch):
    def wrong_shape(*args, **kwargs):
        raise ValueError("the loss must return per-sample values shaped (M, B)")

    monkeypatch.setattr(engine, "_compiled_losses", lambda dev: wrong_shape)
    ds = _toy()
    with pytest.raises(ValueError, match="per-sample values"):
        _run(ds, _labels(ds, 2), compile=True)


def test_auto_compiles_only_long_runs_on_listed_devices(monkeypatch):
    seen = []
    monkeypatch.setattr(engine, "_compiled_losses", lambda dev: seen.append(dev.type))
    ds = _toy()  # 96 rows, batch 32: 3 steps per epoch, 9 steps in all
    _run(ds, _labels(ds, 2))  # "auto": the CPU is not listed (compiling did not pay there)
    assert seen == []
    monkeypatch.setitem(engine.AUTO_COMPILE_MIN_STEPS, "cpu", 9)
    _run(ds, _labels(ds, 2), compile="auto")
    assert seen == ["cpu"]
    monkeypatch.setitem(engine.AUTO_COMPILE_MIN_STEPS, "cpu", 10)
    _run(ds, _labels(ds, 2), compile="auto")
    assert seen == ["cpu"]
    _run(ds, _labels(ds, 2), compile=True)
    assert seen == ["cpu", "cpu"]


@pytest.mark.parametrize("bad", ["yes", 1, None, "on"])
def test_compile_option_is_validated(bad):
    ds = _toy()
    with pytest.raises(ValueError, match="compile must be 'auto', True or False"):
        _run(ds, _labels(ds, 2), compile=bad)


def _modular(width: int, members: int = 2):
    from noisylab.modular import ModularMLP, make_task

    task = make_task(p=7, op="add", train_fraction=0.8, noise="wrong", seed=0)
    model = ModularMLP(list(range(members)), p=7, width=width, activation="square")
    return task, model


def test_auto_compiles_a_model_that_declares_enough_work(monkeypatch):
    from noisylab.modular import ModularMLP

    seen = []
    monkeypatch.setattr(engine, "_compiled_losses", lambda dev: seen.append(dev.type))
    task, model = _modular(width=9)
    n = task.data.x_train.shape[0]
    labels = task.data.y_train.repeat(2, 1)
    kw = dict(optimizer="adam", lr=1e-2, epochs=3, batch_size=None, seed=[0, 1])
    work = 3 * model.compile_work(n)  # three full-batch steps
    assert work == 3 * 2 * n * 9
    monkeypatch.setitem(ModularMLP.AUTO_COMPILE_WORK, "cpu", work + 1)
    fit(model, task.data, labels, **kw)
    assert seen == []
    monkeypatch.setitem(ModularMLP.AUTO_COMPILE_WORK, "cpu", work)
    fit(model, task.data, labels, **kw)
    assert seen == ["cpu"]
    fit(model, task.data, labels, compile=False, **kw)
    assert seen == ["cpu"]


def test_auto_compile_decisions_of_the_modular_presets():
    from noisylab.modular import ModularMLP, make_task
    from noisylab.studies.modular.config import Config

    cpu = torch.device("cpu")
    for preset, compiled in [("quick", {1025}), ("extended", {129, 257, 513}), ("tiny", set())]:
        c = Config.preset(preset)
        task = make_task(p=c.p, op=c.op, train_fraction=c.train_fraction, noise=c.noise)
        rows = task.data.x_train.shape[0]  # the study trains full batch: one step per epoch
        seeds = list(range(len(c.noise_rates) * c.seeds))  # members = rates × seeds
        got = {
            w
            for w in c.widths
            if engine._auto_compile(ModularMLP(seeds, p=c.p, width=w), cpu, c.epochs, rows)
        }
        assert got == compiled, preset


def test_a_compiled_modular_run_still_rejects_operands_out_of_range():
    # the compiled graph skips the model's range check; fit checks the rows eagerly first
    task, model = _modular(width=9)
    bad = task.data.x_train.clone()
    bad[3, 1] = 7  # P = 7: operands lie in [0, 7)
    data = Dataset("bad", bad, task.data.y_train, task.data.x_test, task.data.y_test, 7)
    with pytest.raises(ValueError, match=r"operands must lie in \[0, 7\), got range \[0, 7\]"):
        fit(model, data, task.data.y_train.repeat(2, 1), epochs=2, batch_size=None,
            compile=True, seed=[0, 1])  # fmt: skip


@pytest.mark.slow
def test_a_compiled_modular_run_has_no_graph_break(caplog):
    task, model = _modular(width=9)
    with caplog.at_level("WARNING", logger="torch._dynamo"):
        fit(model, task.data, task.data.y_train.repeat(2, 1), epochs=3, batch_size=None,
            compile=True, seed=[0, 1])  # fmt: skip
    assert not [r for r in caplog.records if "Graph break" in r.getMessage()]
