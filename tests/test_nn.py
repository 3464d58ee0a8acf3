"""Ensemble models: per-member init, agreement with plain torch layers, strategies, factory."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from noisylab.nn import (
    AUTO_LOOP_WIDTH,
    MODELS,
    build,
    from_factory,
    member_seeds,
    resolve_strategy,
)

CASES = {
    "mlp": ({"in_features": 6, "out_features": 3, "width": 8, "depth": 2}, (6,)),
    "mlp-loop": (
        {"in_features": 6, "out_features": 3, "width": 8, "depth": 2, "strategy": "loop"},
        (6,),
    ),
    "linear2": ({"in_features": 6, "out_features": 3, "width": 8, "init_scale": 0.5}, (6,)),
    "cnn1d": ({"length": 40, "out_features": 4, "channels": 5}, (40,)),
    "cnn2d": (
        {"in_channels": 2, "image_size": 8, "out_features": 3, "channels": (4, 6), "hidden": 7},
        (2, 8, 8),
    ),
}


def _make(case: str, members: int | None = None, seed=0):
    kw, shape = CASES[case]
    return build(case.split("-")[0], members=members, seed=seed, **kw), shape


def test_registry_lists_the_four_models_with_docs():
    for name in ("mlp", "cnn1d", "cnn2d", "linear2"):
        assert name in MODELS and MODELS.meta(name)["doc"]


def test_member_seeds():
    assert member_seeds(3, 5) == [5, 6, 7]
    assert member_seeds(None, [4, 9]) == [4, 9]
    with pytest.raises(ValueError, match="members=3 but 2 seeds"):
        member_seeds(3, [1, 2])
    with pytest.raises(ValueError, match="members must be an int >= 1, got 0"):
        member_seeds(0, 1)
    with pytest.raises(TypeError, match="seed"):
        member_seeds(2, 1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", list(CASES))
def test_member_i_equals_its_single_twin(case):
    ens, shape = _make(case, seed=[11, 3, 7])
    x = torch.randn(3, 5, *shape, generator=torch.Generator().manual_seed(0))
    out = ens(x)  # (M, B, K)
    assert all(p.shape[0] == 3 for p in ens.parameters())
    for i, s in enumerate([11, 3, 7]):
        twin, _ = _make(case, seed=s)
        for (name, p), (_, q) in zip(ens.named_parameters(), twin.named_parameters()):
            assert torch.equal(p[i], q[0]), name
        torch.testing.assert_close(out[i], twin(x[i : i + 1])[0], rtol=1e-5, atol=1e-6)
    # int seed s means s, s+1, ...
    ens2, _ = _make(case, members=3, seed=11)
    twin12, _ = _make(case, seed=12)
    assert torch.equal(next(ens2.parameters())[1], next(twin12.parameters())[0])


@pytest.mark.parametrize("case", list(CASES))
def test_shared_input_broadcasts_to_every_member(case):
    ens, shape = _make(case, members=3)
    x = torch.randn(4, *shape)
    shared = ens(x)
    per = ens(x.unsqueeze(0).repeat(3, *([1] * x.dim())))
    assert shared.shape == per.shape == (3, 4, ens(x).shape[-1])
    torch.testing.assert_close(shared, per, rtol=1e-5, atol=1e-6)


def test_mlp_matches_plain_linear_layers_and_default_init_scale():
    ens = build(
        "mlp", 2, seed=0, in_features=5, out_features=3, width=64, depth=2, activation="tanh"
    )
    x = torch.randn(7, 5)
    w, b = ens.weights, ens.biases
    for i in range(2):
        ref = nn.Sequential(
            nn.Linear(5, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 3)
        )
        with torch.no_grad():
            for j, lin in enumerate([ref[0], ref[2], ref[4]]):
                lin.weight.copy_(w[j][i].T)
                lin.bias.copy_(b[j][i])
        torch.testing.assert_close(ens(x)[i], ref(x), rtol=1e-5, atol=1e-6)
    # PyTorch default: U(±1/sqrt(fan_in)) for weights and biases
    w1 = ens.weights[1]
    bound = 1 / math.sqrt(64)
    assert w1.abs().max() <= bound
    assert abs(w1.std().item() - bound / math.sqrt(3)) < 0.1 * bound


@pytest.mark.parametrize("act", ["relu", "gelu", "square", "identity"])
def test_mlp_activations_and_representations(act):
    ens = build("mlp", 3, in_features=4, out_features=2, width=5, depth=2, activation=act)
    x = torch.randn(6, 4)
    reps = ens.representations(x)
    assert list(reps) == ens.layer_names() == ["pre1", "hidden1", "pre2", "hidden2", "output"]
    assert reps["hidden2"].shape == (3, 6, 5) and reps["output"].shape == (3, 6, 2)
    ref = {"relu": torch.relu, "gelu": F.gelu, "square": torch.square, "identity": lambda t: t}
    torch.testing.assert_close(reps["hidden1"], ref[act](reps["pre1"]))
    torch.testing.assert_close(reps["output"], ens(x))
    only = ens.representations(x, layers=["hidden1"])
    assert list(only) == ["hidden1"]
    with pytest.raises(ValueError, match="unknown layer 'hidden9'"):
        ens.representations(x, layers=["hidden9"])


def test_stacked_and_loop_strategies_agree_in_outputs_and_gradients():
    kw = {"in_features": 6, "out_features": 4, "width": 16, "depth": 3}
    a = build("mlp", 4, seed=1, strategy="stacked", **kw)
    b = build("mlp", 4, seed=1, strategy="loop", **kw)
    x = torch.randn(4, 9, 6)
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya, yb, rtol=1e-5, atol=1e-6)
    ya.square().sum().backward()
    yb.square().sum().backward()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6)
    ra, rb = a.representations(x[0]), b.representations(x[0])
    for k in ra:
        torch.testing.assert_close(ra[k], rb[k], rtol=1e-5, atol=1e-6)


def test_auto_strategy_switches_by_width():
    assert resolve_strategy("auto", AUTO_LOOP_WIDTH) == "stacked"
    assert resolve_strategy("auto", AUTO_LOOP_WIDTH + 1) == "loop"
    assert build("mlp", 2, in_features=3, out_features=2, width=8).strategy == "stacked"
    assert build("mlp", 2, in_features=3, out_features=2, width=1024).strategy == "stacked"
    assert build("mlp", 2, in_features=3, out_features=2, width=1025).strategy == "loop"
    with pytest.raises(ValueError, match="strategy must be one of"):
        resolve_strategy("fast", 8)


def test_linear2_is_a_bias_free_product_with_scaled_small_init():
    small = build("linear2", 2, seed=0, in_features=10, out_features=3, width=4, init_scale=1e-3)
    big = build("linear2", 2, seed=0, in_features=10, out_features=3, width=4, init_scale=1.0)
    torch.testing.assert_close(small.w1 * 1e3, big.w1)
    assert [n for n, _ in small.named_parameters()] == ["w1", "w2"]
    x = torch.randn(5, 10)
    torch.testing.assert_close(small(x), x @ small.w1 @ small.w2)
    assert small.representations(x)["hidden1"].shape == (2, 5, 4)
    with pytest.raises(ValueError, match="init_scale"):
        build("linear2", 1, in_features=2, out_features=1, init_scale=0.0)


def test_cnn1d_member_matches_plain_conv_stack():
    ens = build("cnn1d", 2, seed=4, length=40, out_features=10, channels=6)
    x = torch.randn(3, 40)
    for i in range(2):
        h = x.unsqueeze(1)
        for w, b in zip(ens.conv_w, ens.conv_b):
            h = torch.relu(F.conv1d(h, w[i], b[i], stride=2, padding=1))
        ref = h.flatten(1) @ ens.head_w[i] + ens.head_b[i]
        torch.testing.assert_close(ens(x)[i], ref, rtol=1e-5, atol=1e-6)
    # (M, B, L) and (M, B, 1, L) are the same input
    xm = torch.randn(2, 3, 40)
    torch.testing.assert_close(ens(xm), ens(xm.unsqueeze(2)))
    assert ens.representations(xm)["hidden3"].shape == (2, 3, 6 * 5)


def test_cnn2d_member_matches_plain_conv_stack_and_accepts_flat_images():
    ens = build(
        "cnn2d", 2, seed=1, in_channels=1, image_size=12, out_features=5, channels=(3, 4), hidden=6
    )
    x = torch.randn(2, 4, 1, 12, 12)
    for i in range(2):
        h = x[i]
        for w, b in zip(ens.conv_w, ens.conv_b):
            h = F.max_pool2d(torch.relu(F.conv2d(h, w[i], b[i], padding=1)), 2)
        z = torch.relu(h.flatten(1) @ ens.fc_w[i] + ens.fc_b[i])
        torch.testing.assert_close(
            ens(x)[i], z @ ens.head_w[i] + ens.head_b[i], rtol=1e-5, atol=1e-6
        )
    torch.testing.assert_close(ens(x), ens(x.flatten(2)))
    torch.testing.assert_close(ens(x), ens(x.squeeze(2)))


def test_from_factory_equals_separate_modules_in_outputs_and_gradients():
    def factory():
        return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))

    ens = from_factory(factory, members=3, seed=[2, 8, 5])
    singles = []
    for s in [2, 8, 5]:
        torch.manual_seed(s)
        singles.append(factory())
    assert all(p.shape[0] == 3 for p in ens.parameters())
    x = torch.randn(3, 4, 5)
    out = ens(x)
    out.pow(2).sum().backward()
    for i, mod in enumerate(singles):
        ref = mod(x[i])
        torch.testing.assert_close(out[i], ref)
        ref.pow(2).sum().backward()
        torch.testing.assert_close(ens.get_parameter("0__weight").grad[i], mod[0].weight.grad)
    torch.testing.assert_close(ens(x[0]), torch.stack([m(x[0]) for m in singles]))
    reps = ens.representations(x[0], layers=["1", "output"])
    assert reps["1"].shape == (3, 4, 7)
    torch.testing.assert_close(reps["1"], torch.relu(reps["1"]))


def test_bad_inputs_raise_clear_errors():
    ens = build("mlp", 2, in_features=4, out_features=2, width=3)
    with pytest.raises(ValueError, match=r"expected input shaped \(M=2, B, 4\)"):
        ens(torch.randn(5, 3))
    with pytest.raises(ValueError, match="width must be an int >= 1"):
        build("mlp", 1, in_features=4, out_features=2, width=0)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        build("mlp", 1, in_features=4, out_features=2, activation="swish")
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build("resnet", 1)
    with pytest.raises(TypeError, match=r"factory must return an nn\.Module"):
        from_factory(lambda: 3, members=2)  # type: ignore[arg-type,return-value]


def test_integer_inputs_are_cast_by_the_model():
    ens = build("mlp", 2, in_features=3, out_features=2, width=4)
    x = torch.tensor([[0, 1, 2], [3, 4, 5]])
    torch.testing.assert_close(ens(x), ens(x.float()))


@pytest.mark.parametrize("out", [1, 3, 10, 15, 16, 24])
@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_member_affine_equals_baddbmm_in_value_and_gradients(out, shared, bias):
    from noisylab.nn.base import NARROW_OUT, member_affine

    assert NARROW_OUT == 16  # out = 1 … 15 take the transposed layout, 16 and 24 do not
    g = torch.Generator().manual_seed(out)
    m, b, d = 3, 5, 7
    h = torch.randn(*((b, d) if shared else (m, b, d)), generator=g, dtype=torch.float64)
    w = torch.randn(m, d, out, generator=g, dtype=torch.float64)
    bb = torch.randn(m, out, generator=g, dtype=torch.float64) if bias else None
    upstream = torch.randn(m, b, out, generator=g, dtype=torch.float64)

    def grads(fn):
        leaves = [t.clone().requires_grad_(True) for t in (h, w) + ((bb,) if bias else ())]
        z = fn(*leaves)
        z.backward(upstream)
        return z.detach(), [t.grad for t in leaves]

    def reference(hh, ww, *rest):
        hh = hh.expand(m, b, d) if shared else hh
        return torch.baddbmm(rest[0].unsqueeze(1), hh, ww) if rest else torch.bmm(hh, ww)

    z, gs = grads(lambda hh, ww, *rest: member_affine(hh, ww, rest[0] if rest else None))
    z_ref, gs_ref = grads(reference)
    assert z.shape == (m, b, out) and z.is_contiguous()
    torch.testing.assert_close(z, z_ref)
    for a, e in zip(gs, gs_ref):
        torch.testing.assert_close(a, e)


def test_member_affine_narrow_layout_supports_double_backward():
    """Hessian-vector products (the sharpness probe) differentiate through the backward."""
    from noisylab.nn.base import member_affine

    g = torch.Generator().manual_seed(0)
    h = torch.randn(2, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 3, generator=g, dtype=torch.float64, requires_grad=True)

    def loss(hh, ww, bb, fast):
        z = member_affine(hh, ww, bb) if fast else torch.baddbmm(bb.unsqueeze(1), hh, ww)
        return (torch.tanh(z) ** 2).sum()

    v = [torch.randn_like(t) for t in (h, w, b)]
    hv = []
    for fast in (True, False):
        gs = torch.autograd.grad(loss(h, w, b, fast), (h, w, b), create_graph=True)
        dot = sum((gi * vi).sum() for gi, vi in zip(gs, v))
        hv.append(torch.autograd.grad(dot, (h, w, b)))
    for a, e in zip(*hv):
        torch.testing.assert_close(a, e)
    assert torch.autograd.gradcheck(
        lambda hh, ww, bb: member_affine(hh, ww, bb), (h, w, b)
    ) and torch.autograd.gradgradcheck(lambda hh, ww, bb: member_affine(hh, ww, bb), (h, w, b))
