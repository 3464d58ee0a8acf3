"""The training engine: ensemble == separate runs, metrics, divergence, checkpoints."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from noisylab.data.dataset import Dataset
from noisylab.nn import build, from_factory
from noisylab.train import DivergenceWarning, History, fit, make_schedule


def _toy(n: int = 160, n_test: int = 60, d: int = 8, k: int = 3, seed: int = 0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n + n_test, d, generator=g)
    w = torch.randn(d, k, generator=g)
    y = (x @ w).argmax(1)
    return Dataset("toy", x[:n], y[:n], x[n:], y[n:], num_classes=k)


def _noisy_labels(ds: Dataset, members: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    k = ds.num_classes
    lab = ds.y_train.repeat(members, 1)  # (M, n)
    for m in range(members):
        flip = torch.rand(ds.n_train, generator=g) < 0.1 * (m + 1)
        lab[m, flip] = (
            lab[m, flip] + 1 + torch.randint(0, k - 1, (int(flip.sum()),), generator=g)
        ) % k
    return lab


MLP = {"in_features": 8, "out_features": 3, "width": 16, "depth": 2}


@pytest.mark.parametrize(
    ("optimizer", "lr", "tol", "batch_size"),
    [("sgd", 0.05, 1e-5, 32), ("adam", 1e-2, 1e-5, 32), ("adam", 1e-2, 1e-5, None)],
)
def test_ensemble_equals_members_trained_alone(optimizer, lr, tol, batch_size):
    """Per-member labels, minibatch orders, clipping and weight decay: M together == M alone.

    Measured differences are ~1e-7 for both SGD and Adam (float32 summation order in bmm).
    """
    ds = _toy()
    labels = _noisy_labels(ds, 3)
    common = dict(
        optimizer=optimizer,
        lr=lr,
        epochs=3,
        batch_size=batch_size,
        clip_grad=0.5,
        weight_decay=1e-3,
        schedule="cosine",
        eval_every=2,
    )
    ens = build("mlp", 3, seed=[5, 6, 7], **MLP)
    h = fit(ens, ds, labels, seed=[10, 11, 12], **common)
    assert h.epochs == [2, 3]
    for i in range(3):
        one = build("mlp", 1, seed=[5 + i], **MLP)
        h1 = fit(one, ds, labels[i], seed=[10 + i], **common)
        for p, q in zip(ens.parameters(), one.parameters()):
            torch.testing.assert_close(p[i], q[0], rtol=0, atol=tol)
        for name in h1.metrics:
            np.testing.assert_allclose(h[name][i], h1[name][0], rtol=0, atol=tol, err_msg=name)


def test_members_get_their_own_minibatch_order():
    ds = _toy()
    kw = dict(optimizer="sgd", lr=0.05, epochs=1, batch_size=16)
    same = build("mlp", 2, seed=[3, 3], **MLP)
    fit(same, ds, seed=[9, 9], **kw)
    diff = build("mlp", 2, seed=[3, 3], **MLP)
    fit(diff, ds, seed=[9, 10], **kw)
    w_same, w_diff = same.weights[0], diff.weights[0]
    assert torch.equal(w_same[0], w_same[1])
    assert torch.equal(w_diff[0], w_same[0])
    assert not torch.allclose(w_diff[0], w_diff[1])


def test_same_seed_gives_identical_history_and_json_roundtrip():
    ds = _toy()
    labels = _noisy_labels(ds, 2)
    runs = [
        fit(build("mlp", 2, seed=0, **MLP), ds, labels, epochs=2, batch_size=40, seed=4)
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    d = json.loads(json.dumps(runs[0].to_dict()))
    back = History.from_dict(d)
    assert back == runs[0]
    np.testing.assert_array_equal(back["test/acc"], runs[0]["test/acc"])


def test_metric_identities_and_manual_accuracy():
    ds = _toy(n=200)
    labels = _noisy_labels(ds, 3)
    labels[0] = ds.y_train  # member 0 clean
    ens = build("mlp", 3, seed=1, **MLP)
    h = fit(
        ens,
        ds,
        labels,
        optimizer="adam",
        lr=1e-2,
        epochs=4,
        batch_size=50,
        eval_sets={"val": (ds.x_test, ds.y_test)},
    )
    for name in (
        "train/loss",
        "train/acc",
        "clean/loss",
        "clean/acc",
        "noisy/acc_noisy",
        "noisy/acc_true",
        "test/loss",
        "test/acc",
        "val/loss",
        "val/acc",
    ):
        assert h[name].shape == (3, 4), name
    # member 0 has no noisy labels: its noisy metrics are missing, clean == train
    assert not h.valid("noisy/acc_noisy")[0].any() and h.valid("noisy/acc_noisy")[1:].all()
    np.testing.assert_allclose(h["clean/acc"][0], h["train/acc"][0])
    # train accuracy is the clean/noisy mixture
    rate = (labels != ds.y_train).float().mean(1).numpy()  # (M,)
    mix = (1 - rate[1:, None]) * h["clean/acc"][1:] + rate[1:, None] * h["noisy/acc_noisy"][1:]
    np.testing.assert_allclose(h["train/acc"][1:], mix, atol=1e-9)
    # the last test accuracy is the model's accuracy after training
    with torch.no_grad():
        manual = (ens(ds.x_test).argmax(-1) == ds.y_test).double().mean(1).numpy()
    np.testing.assert_allclose(h.last_test_acc, manual)
    np.testing.assert_allclose(h["val/acc"], h["test/acc"])
    assert (h.best_test_acc >= h.last_test_acc).all()
    assert h.best_test_acc.max() > 0.5  # it learns
    df = h.to_dataframe()
    assert list(df.columns) == ["member", "epoch", "metric", "value"]
    assert not df["value"].isna().any()
    assert len(df) == sum(int(h.valid(k).sum()) for k in h.metrics)


def test_divergence_freezes_one_member_and_leaves_the_others_exact():
    """Member 1's targets are 1e18: SGD's loss overflows; members 0 and 2 train on."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(80, 5, generator=g)
    t = x @ torch.randn(5, generator=g)
    ds = Dataset("reg", x[:60], t[:60], x[60:], t[60:], num_classes=None, task="regression")
    targets = ds.y_train.repeat(3, 1)
    targets[1] *= 1e18
    kw = dict(optimizer="sgd", lr=0.05, epochs=4, batch_size=20, schedule="constant")
    reg = {"in_features": 5, "out_features": 1, "width": 8, "depth": 1}
    ens = build("mlp", 3, seed=[0, 1, 2], **reg)
    with pytest.warns(DivergenceWarning, match=r"member 1 diverged at epoch 1 \(loss=") as rec:
        h = fit(ens, ds, targets, seed=[0, 1, 2], **kw)
    # one warning, attributed to the caller of fit (not to torch's optimiser internals)
    assert [w.filename for w in rec if w.category is DivergenceWarning] == [__file__]
    assert list(h.diverged) == [1] and h.diverged[1][0] == 1
    assert not math.isfinite(h.diverged[1][1]) or h.diverged[1][1] > 1e30
    assert h.warnings == [f"member 1 diverged at epoch 1 (loss={h.diverged[1][1]})"]
    assert set(h.metrics) >= {"train/loss", "train/mse", "test/loss", "test/mse"}
    for name, a in h.metrics.items():
        assert not h.valid(name)[1].any(), name
        assert np.isfinite(a[[0, 2]]).all(), name
    assert not h.to_dataframe()["value"].isna().any()
    for i in (0, 2):
        one = build("mlp", 1, seed=[i], **reg)
        h1 = fit(one, ds, targets[i], seed=[i], **kw)
        np.testing.assert_allclose(h["test/mse"][i], h1["test/mse"][0], rtol=1e-6)
    # the frozen member's parameters stop changing
    assert all(torch.isfinite(p[0]).all() and torch.isfinite(p[2]).all() for p in ens.parameters())


def test_checkpoint_resume_gives_identical_history(tmp_path):
    ds = _toy()
    labels = _noisy_labels(ds, 2)
    kw = dict(
        optimizer="adam",
        lr=1e-2,
        epochs=6,
        batch_size=32,
        seed=[1, 2],
        eval_every=2,
        schedule="cosine",
    )
    full = fit(build("mlp", 2, seed=0, **MLP), ds, labels, **kw)

    class Stop(Exception):
        pass

    def crash(epoch, model, history):
        if epoch == 4:
            raise Stop

    path = tmp_path / "run.pt"
    with pytest.raises(Stop):
        fit(build("mlp", 2, seed=0, **MLP), ds, labels, checkpoint=path, callbacks=[crash], **kw)
    saved = torch.load(path, weights_only=True)
    assert saved["epoch"] == 2
    resumed_model = build("mlp", 2, seed=0, **MLP)
    resumed = fit(resumed_model, ds, labels, checkpoint=path, **kw)
    assert resumed == full
    assert torch.load(path, weights_only=True)["epoch"] == 6
    with pytest.raises(ValueError, match="belongs to a different run"):
        fit(build("mlp", 2, seed=0, **MLP), ds, labels, checkpoint=path, **{**kw, "lr": 0.1})
    # another noise realisation, loss parameter or clipping is another run too
    other = labels.clone()
    other[0, 0] = (other[0, 0] + 1) % 3
    for changed in (
        {"labels": other},
        {"loss": "gce", "loss_params": {"q": 0.5}},
        {"clip_grad": 1.0},
        {"optimizer_params": {"betas": (0.8, 0.99)}},
    ):
        args = {**kw, "labels": labels, **changed}
        with pytest.raises(ValueError, match="belongs to a different run"):
            fit(build("mlp", 2, seed=0, **MLP), ds, checkpoint=path, **args)


def test_progress_bar_only_on_a_terminal(capsys, monkeypatch):
    ds = _toy(n=64)
    kw = dict(epochs=2, batch_size=None)
    fit(build("mlp", 1, **MLP), ds, **kw)  # progress=None: stderr is captured, not a TTY
    assert capsys.readouterr().err == ""
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    import noisylab.train.engine as engine

    shown = []
    real = engine._progress

    def spy(progress):
        bar = real(progress)
        shown.append(bar is not None)
        return bar

    monkeypatch.setattr(engine, "_progress", spy)
    fit(build("mlp", 1, **MLP), ds, **kw)
    fit(build("mlp", 1, **MLP), ds, progress=False, **kw)
    assert shown == [True, False]


def test_callbacks_see_each_evaluation_and_can_log():
    ds = _toy()
    seen = []

    def cb(epoch, model, history):
        seen.append((epoch, list(history.epochs)))
        with torch.no_grad():
            norm = model.weights[0].flatten(1).norm(dim=1).numpy()
        history.log("weight_norm", norm)

    h = fit(build("mlp", 2, **MLP), ds, epochs=5, eval_every=2, batch_size=None, callbacks=[cb])
    assert seen == [(2, [2]), (4, [2, 4]), (5, [2, 4, 5])]
    assert h["weight_norm"].shape == (2, 3) and np.isfinite(h["weight_norm"]).all()


def test_gradient_clipping_is_per_member():
    ds = _toy(n=64)
    base = build("mlp", 2, seed=[0, 1], **MLP)
    clipped = build("mlp", 2, seed=[0, 1], **MLP)
    kw = dict(
        optimizer="sgd",
        optimizer_params={"momentum": 0.0},
        lr=1.0,
        epochs=1,
        batch_size=None,
        schedule="constant",
    )
    start = [p.detach().clone() for p in clipped.parameters()]
    fit(base, ds, **kw)
    fit(clipped, ds, clip_grad=1e-3, **kw)
    step = torch.zeros(2)
    free = torch.zeros(2)
    for p0, p, q in zip(start, clipped.parameters(), base.parameters()):
        step += (p.detach() - p0).pow(2).flatten(1).sum(1)
        free += (q.detach() - p0).pow(2).flatten(1).sum(1)
    torch.testing.assert_close(step.sqrt(), torch.full((2,), 1e-3), rtol=1e-3, atol=0)
    assert (free.sqrt() > 1e-2).all()


def test_schedules():
    cos = make_schedule("cosine", 100, 10)
    assert cos(0) == 1.0 and abs(cos(50) - 0.5) < 1e-12 and cos(100) < 1e-12
    step = make_schedule("step", 90, 10, {"step_size": 3, "gamma": 0.5})
    assert [step(s) for s in (0, 29, 30, 60)] == [1.0, 1.0, 0.5, 0.25]
    assert make_schedule("constant", 10, 2)(7) == 1.0
    assert make_schedule(lambda s, total: 1 - s / total, 10, 2)(5) == 0.5
    with pytest.raises(ValueError, match="unknown schedule 'warm'"):
        make_schedule("warm", 10, 2)


def test_regression_metrics_match_manual_mse():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(100, 4, generator=g)
    t = torch.stack([x[:, 0] - x[:, 1], x[:, 2]], dim=1)  # (n, 2)
    ds = Dataset("reg", x[:70], t[:70], x[70:], t[70:], num_classes=None, task="regression")
    ens = build("mlp", 2, in_features=4, out_features=2, width=16, depth=1)
    h = fit(ens, ds, epochs=3, lr=1e-2, batch_size=35)
    with torch.no_grad():
        manual = (ens(ds.x_test) - ds.y_test).pow(2).mean((1, 2)).numpy()
    np.testing.assert_allclose(h["test/mse"][:, -1], manual, rtol=1e-5)
    assert "test/acc" not in h.metrics
    assert (h["test/mse"][:, -1] < h["test/mse"][:, 0] + 1e-9).all()


def test_factory_ensembles_with_integer_tokens_train():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 5, (90, 3), generator=g)
    y = (tokens[:, 0] > 2).long()
    ds = Dataset("tok", tokens[:60], y[:60], tokens[60:], y[60:], num_classes=2)

    def factory():
        return nn.Sequential(nn.Embedding(5, 4), nn.Flatten(), nn.Linear(12, 2))

    ens = from_factory(factory, members=2, seed=0)
    h = fit(ens, ds, epochs=15, lr=5e-2, batch_size=30)
    assert h.best_test_acc.min() > 0.9


def test_fit_validates_its_inputs():
    ds = _toy()
    model = build("mlp", 2, **MLP)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        fit(model, ds, ds.y_train + 5, epochs=1)
    with pytest.raises(ValueError, match=r"labels must be shaped \(160,\) or \(M=2, 160\)"):
        fit(model, ds, ds.y_train[:10], epochs=1)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        fit(model, ds, lr=-1.0, epochs=1)
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        fit(model, ds, optimizer="lion", epochs=1)
    with pytest.raises(TypeError, match="model must be an ensemble"):
        fit(nn.Linear(8, 3), ds, epochs=1)
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        fit(model, ds, epochs=0)


def test_two_pass_sam_through_the_closure_keeps_members_independent():
    ds = _toy()
    kw = dict(optimizer="sam", optimizer_params={"rho": 0.05}, lr=0.05, epochs=2, batch_size=40)
    ens = build("mlp", 2, seed=[3, 4], **MLP)
    h = fit(ens, ds, seed=[0, 1], progress=True, **kw)
    one = build("mlp", 1, seed=[4], **MLP)
    h1 = fit(one, ds, seed=[1], **kw)
    for p, q in zip(ens.parameters(), one.parameters()):
        torch.testing.assert_close(p[1], q[0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(h["test/loss"][1], h1["test/loss"][0], atol=1e-5)


def test_grouped_conv_ensemble_trains_like_single_models():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 40, generator=g)
    y = (x[:, :20].sum(1) > 0).long()
    ds = Dataset("seq", x[:32], y[:32], x[32:], y[32:], num_classes=2)
    kw = dict(optimizer="adam", lr=1e-2, epochs=2, batch_size=16)
    net = {"length": 40, "out_features": 2, "channels": 4}
    ens = build("cnn1d", 2, seed=[0, 1], **net)
    fit(ens, ds, seed=[5, 6], **kw)
    one = build("cnn1d", 1, seed=[1], **net)
    fit(one, ds, seed=[6], **kw)
    for p, q in zip(ens.parameters(), one.parameters()):
        torch.testing.assert_close(p[1], q[0], rtol=0, atol=1e-5)
