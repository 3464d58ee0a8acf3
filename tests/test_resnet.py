"""Image ensembles on the member axis: grouped-conv CNN and ResNets with per-member BatchNorm."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noisylab.data import Dataset
from noisylab.nn import build
from noisylab.train import fit

RESNET = {"in_channels": 3, "image_size": 8, "out_features": 3, "width": 4}
CNN8 = {"in_channels": 3, "image_size": 8, "out_features": 3, "channels": (4, 5, 6), "hidden": 7}


def _images(n: int = 40, n_test: int = 16, size: int = 8, seed: int = 0) -> Dataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n + n_test, 3, size, size, generator=g)
    y = (x[:, 0].mean((1, 2)) > 0).long() + (x[:, 1].mean((1, 2)) > 0).long()  # 3 classes
    return Dataset("img", x[:n], y[:n], x[n:], y[n:], num_classes=3)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("preact-resnet18", RESNET),
        ("resnet34", RESNET),
        ("resnet34", {**RESNET, "init": "kaiming"}),
        ("cnn8", CNN8),
        ("cnn8", {**CNN8, "init": "kaiming"}),
    ],
)
def test_image_members_equal_their_single_models_in_train_and_eval(name, kwargs):
    """In float64, so that the comparison is of the maths, not of summation order."""
    ens = build(name, 3, seed=[4, 5, 6], **kwargs).double()
    x = torch.randn(3, 5, 3, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = ens(x)  # training mode: per-member batch statistics
    assert out.shape == (3, 5, 3)
    for i in range(3):
        one = build(name, 1, seed=[4 + i], **kwargs).double()
        torch.testing.assert_close(out[i], one(x[i : i + 1])[0], rtol=0, atol=1e-10)
        # the running statistics moved the same way, member by member
        for (n_e, b_e), (_, b_1) in zip(ens.named_buffers(), one.named_buffers()):
            torch.testing.assert_close(b_e[i], b_1[0], rtol=0, atol=1e-10, msg=n_e)
        ens.eval()
        one.eval()
        torch.testing.assert_close(ens(x)[i], one(x[i : i + 1])[0], rtol=0, atol=1e-10)
        ens.train()


def test_batchnorm_is_per_member_not_shared():
    """Shifting member 0's inputs must not change member 1's output (shared BN would)."""
    ens = build("preact-resnet18", 2, seed=0, **RESNET)
    x = torch.randn(2, 6, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    y0 = ens(x)
    x2 = x.clone()
    x2[0] = x2[0] * 5 + 3
    y1 = ens(x2)
    torch.testing.assert_close(y0[1], y1[1], rtol=0, atol=1e-6)
    assert not torch.allclose(y0[0], y1[0])
    # each member keeps its own running statistics, shaped (M, C)
    rm = ens.stages[0][0].bn1.running_mean
    assert rm.shape == (2, 4) and not torch.allclose(rm[0], rm[1])


@pytest.mark.parametrize("name", ["preact-resnet18", "resnet34", "cnn8"])
def test_image_models_forward_backward_on_cifar_shapes(name):
    small = {"width": 4} if name != "cnn8" else {"channels": (4, 5, 6), "hidden": 8}
    ens = build(name, 2, seed=0, in_channels=3, image_size=32, out_features=10, **small)
    x = torch.randn(4, 3, 32, 32)  # shared batch (B, C, H, W)
    out = ens(x)
    assert out.shape == (2, 4, 10)
    out.logsumexp(-1).sum().backward()
    for p in ens.parameters():
        assert p.shape[0] == 2 and p.grad is not None and torch.isfinite(p.grad).all()
    last, width = ("pool", 32) if name != "cnn8" else ("hidden", 8)  # ResNets: 4 · 2^3
    assert ens.representations(x, [last])[last].shape == (2, 4, width)
    assert ens(x.reshape(4, -1)).shape == (2, 4, 10)  # flattened images work too
    n_params = sum(p[0].numel() for p in build(name, 1, seed=0).parameters())
    # the papers' sizes (CIFAR-10): PreAct-ResNet-18 11.17 M, ResNet-34 21.28 M; the 8-layer
    # CNN counted from its layer list (conv weights + biases + BN scale/shift, dense, BN, head)
    convs = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 196), (196, 196)]
    cnn8 = sum(9 * a * b + b + 2 * b for a, b in convs) + 3136 * 256 + 256 + 512 + 2570
    expected = {"preact-resnet18": 11.17e6, "resnet34": 21.28e6, "cnn8": cnn8}[name]
    assert n_params == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize(
    ("name", "kwargs", "dtype", "tol"),
    [
        (
            "cnn2d",
            {"in_channels": 3, "image_size": 8, "out_features": 3, "channels": (4, 6)},
            torch.float32,
            1e-5,
        ),
        # ResNets in float64: in float32 the ~1e-7 summation-order differences of the grouped
        # kernel are amplified by BatchNorm over 10 values at stage 4's 1x1 resolution (measured
        # 0.13 after 8 steps for ResNet-34); in float64 the two runs agree exactly.
        ("preact-resnet18", RESNET, torch.float64, 1e-10),
        ("resnet34", RESNET, torch.float64, 1e-10),
        ("cnn8", CNN8, torch.float64, 1e-10),
    ],
)
def test_image_ensembles_train_like_members_alone(name, kwargs, dtype, tol):
    """fit with per-member labels and minibatch orders: M together == each member alone,
    BatchNorm running statistics included."""
    ds = _images()
    g = torch.Generator().manual_seed(9)
    labels = ds.y_train.repeat(2, 1)
    flip = torch.rand(2, ds.n_train, generator=g) < 0.2
    labels[flip] = (labels[flip] + 1) % 3
    common = dict(optimizer="sgd", lr=0.05, epochs=2, batch_size=10, weight_decay=5e-4)
    ens = build(name, 2, seed=[1, 2], **kwargs).to(dtype)
    h = fit(ens, ds, labels, seed=[7, 8], **common)
    for i in range(2):
        one = build(name, 1, seed=[1 + i], **kwargs).to(dtype)
        h1 = fit(one, ds, labels[i], seed=[7 + i], **common)
        for p, q in zip(ens.parameters(), one.parameters()):
            torch.testing.assert_close(p[i], q[0], rtol=0, atol=tol)
        for b, c in zip(ens.buffers(), one.buffers()):
            torch.testing.assert_close(b[i], c[0], rtol=0, atol=tol)
        np.testing.assert_allclose(h["test/acc"][i], h1["test/acc"][0], atol=1e-6)


def test_resnet_rejects_bad_arguments():
    with pytest.raises(ValueError, match="width must be an int >= 1"):
        build("resnet34", 1, width=0)
    with pytest.raises(ValueError, match="blocks must name at least one stage"):
        build("preact-resnet18", 1).__class__([0], blocks=())
    with pytest.raises(ValueError, match="init must be one of"):
        build("cnn8", 1, init="xavier")
    with pytest.raises(ValueError, match="divisible by 8"):
        build("cnn8", 1, image_size=12)
    with pytest.raises(ValueError, match=r"expected input shaped"):
        build("preact-resnet18", 2, **RESNET)(torch.zeros(2, 5, 3, 9, 9))


def test_sam_perturbed_pass_leaves_running_statistics_alone():
    """disable_running_stats (SAM's second pass) freezes the per-member BN statistics and the
    forward still normalises with the batch's own statistics."""
    from noisylab.optim import disable_running_stats

    ens = build("cnn8", 2, seed=0, **CNN8)
    x = torch.randn(2, 6, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    y_tracked = ens(x)
    stats = [b.clone() for b in ens.buffers()]
    with disable_running_stats(ens):
        y_frozen = ens(x)
    for a, b in zip(stats, ens.buffers()):
        assert torch.equal(a, b)
    torch.testing.assert_close(y_frozen, y_tracked, rtol=0, atol=1e-6)
    ens(x)  # outside the block the statistics move again
    assert not all(torch.equal(a, b) for a, b in zip(stats, ens.buffers()))


def test_augmented_fit_keeps_members_independent_and_reproducible():
    """crop-flip in fit: each member augments with its own generator, so M together equals
    each member alone, and the same seeds give the same run; augmenting changes the run."""
    ds = _images()
    kw = {"in_channels": 3, "image_size": 8, "out_features": 3, "channels": (4, 6)}
    common = dict(optimizer="sgd", lr=0.05, epochs=2, batch_size=10, augment="crop-flip")
    ens = build("cnn2d", 2, seed=[1, 2], **kw)
    h = fit(ens, ds, seed=[7, 8], **common)
    one = build("cnn2d", 1, seed=[2], **kw)
    h1 = fit(one, ds, seed=[8], **common)
    for p, q in zip(ens.parameters(), one.parameters()):
        torch.testing.assert_close(p[1], q[0], rtol=0, atol=1e-5)
    again = build("cnn2d", 2, seed=[1, 2], **kw)
    h2 = fit(again, ds, seed=[7, 8], **common)
    np.testing.assert_array_equal(h["train/loss"], h2["train/loss"])
    plain = build("cnn2d", 2, seed=[1, 2], **kw)
    h3 = fit(plain, ds, seed=[7, 8], **{**common, "augment": None})
    assert not np.allclose(h["train/loss"], h3["train/loss"])
    np.testing.assert_allclose(h["test/acc"][1], h1["test/acc"][0], atol=1e-6)
    with pytest.raises(ValueError, match="augment must be one of crop-flip"):
        fit(build("cnn2d", 1, **kw), ds, epochs=1, augment="mixup")


def test_sam_in_fit_updates_batchnorm_statistics_once_per_step():
    """fit passes the model to SAM: after one full-batch SAM step the running mean equals one
    momentum update from the clean pass (two updates would move it further)."""
    ds = _images(n=12, n_test=4)
    net = build("cnn8", 1, seed=0, **CNN8).double()
    first_bn = net.bns[0]
    with torch.no_grad():
        h = net.convs[0](ds.x_train.double())  # M = 1: grouped layout is (B, C, H, W)
    batch_mean = h.mean(dim=(0, 2, 3))  # (C,) the first BN's batch mean at the start
    fit(net, ds, optimizer="sam", lr=0.1, epochs=1, batch_size=None, optimizer_params={"rho": 0.5})
    torch.testing.assert_close(first_bn.running_mean[0], 0.1 * batch_mean, rtol=0, atol=1e-10)
