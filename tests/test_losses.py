"""Property tests of the loss zoo: symmetry, symmetrization identities, limits, numerics."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from noisylab import losses as L
from noisylab.losses import functional as F

ALL = L.LOSSES.names()
CLASSIFICATION = [n for n in ALL if n != "mse"]
SYMMETRIC = [n for n in ALL if L.LOSSES.meta(n)["symmetric"]]
NOT_SYMMETRIC = [n for n in ALL if not L.LOSSES.meta(n)["symmetric"]]
EXPECTED_ZOO = {
    "ce", "mae", "mse", "gce", "rce", "sce", "nce", "nce+rce", "nce+mae", "ngce", "nfl",
    "nfl+rce", "agce", "aul", "ael", "nce+agce", "nnce", "anl-ce", "taylor-ce", "poly1",
    "label-smoothing", "bootstrap-soft", "bootstrap-hard", "focal", "unhinged", "sgce",
    "alpha-mae",
    # parity with the APL / ALF / ANL code (issue #16)
    "nce+aul", "nce+ael", "anorm", "nce+anorm", "anorm+rce", "nfl+agce", "nfl+aul", "nfl+ael",
    "nnfl", "anl-fl", "anl-ce-er", "nlnl", "dmi", "nmae", "nrce", "gce+mae", "gce+rce",
    "gce+nce", "ngce+nce", "ngce+mae", "ngce+rce", "mae+rce", "nfl+nce", "nfl+mae",
}  # fmt: skip
BATCH = [n for n in ALL if L.LOSSES.meta(n)["batch"]]


def raw(name: str, **params):
    """The loss with reduction 'none'; unhinged on raw logits unless asked otherwise."""
    if name == "unhinged":
        params.setdefault("logit_norm", None)
    return L.get(name, reduction="none", **params)


def values_at_all(name: str, z: torch.Tensor, **params) -> torch.Tensor:
    return L.evaluate_all(raw(name, **params), z)  # (…, B, K)


def test_zoo_is_complete_and_metadata_matches_defaults():
    assert set(ALL) == EXPECTED_ZOO
    for name in ALL:
        meta = L.LOSSES.meta(name)
        assert isinstance(meta["symmetric"], bool)
        loss = L.get(name)
        for key, default in meta["params"].items():
            stored = loss.regularization if key == "delta" else getattr(loss, key)
            assert stored == default, (name, key)


def test_reference_defaults():
    assert L.get("gce").q == 0.7
    sce = L.get("sce")
    assert (sce.alpha, sce.beta) == (0.1, 1.0)
    agce = L.get("agce")
    assert (agce.a, agce.q) == (0.6, 0.6)
    aul = L.get("aul")
    assert (aul.a, aul.q) == (5.5, 3.0)
    assert L.get("ael").a == 2.5
    anl = L.get("anl-ce")
    assert (anl.alpha, anl.beta, anl.regularization) == (5.0, 5.0, 5e-5)
    assert L.get("bootstrap-soft").beta == 0.95 and L.get("bootstrap-hard").beta == 0.8
    assert L.get("focal").gamma == 2.0 and L.get("nfl").gamma == 0.5
    assert L.get("taylor-ce").t == 2 and L.get("poly1").epsilon == 1.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(2, 12), spread=st.floats(0.1, 20.0))
def test_symmetric_losses_sum_to_a_constant(seed, k, spread):
    g = torch.Generator().manual_seed(seed)
    z = spread * torch.randn(3, 7, k, generator=g, dtype=torch.float64)  # (M, B, K)
    for name in SYMMETRIC:
        total = values_at_all(name, z).sum(-1)  # (M, B)
        assert torch.allclose(total, total.flatten()[0].expand_as(total), atol=1e-9), name


# DMI's value at every class of a tiled batch is the constant −log eps (rank-1 U): its lack of
# symmetry is a property of the batch's joint labels, tested in test_losses_zoo.py.
@pytest.mark.parametrize("name", [n for n in NOT_SYMMETRIC if n != "dmi"])
def test_non_symmetric_losses_do_not_sum_to_a_constant(name):
    z = 3.0 * torch.randn(64, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    if name in BATCH:  # a batch-level term is shared within a batch: one sample per batch
        z = z.unsqueeze(1)  # (64 members, B = 1, K)
    total = values_at_all(name, z).sum(-1)
    assert float(total.max() - total.min()) > 1e-3


def test_symmetrize_ce_is_raw_unhinged_exactly():
    g = torch.Generator().manual_seed(0)
    z = 5.0 * torch.randn(2, 32, 10, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (2, 32), generator=g)
    sym = L.symmetrize("ce", reduction="none")(z, y)
    unh = L.get("unhinged", logit_norm=None, reduction="none")(z, y)
    assert torch.allclose(sym, unh, rtol=0, atol=1e-12)
    # closed form −z_y + mean_k z_k
    closed = z.mean(-1) - z.gather(-1, y.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(unh, closed, rtol=0, atol=1e-12)


@pytest.mark.parametrize("q", [0.05, 0.3, 0.7, 1.0])
def test_symmetrize_gce_is_sgce_exactly(q):
    g = torch.Generator().manual_seed(2)
    z = 4.0 * torch.randn(50, 7, generator=g, dtype=torch.float64)
    y = torch.randint(0, 7, (50,), generator=g)
    sym = L.symmetrize("gce", q=q, reduction="none")(z, y)
    sgce = L.get("sgce", q=q, reduction="none")(z, y)
    assert torch.allclose(sym, sgce, rtol=0, atol=1e-12)


def test_symmetrize_accepts_modules_and_plain_callables():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(16, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (16,), generator=g)
    expected = L.get("unhinged", logit_norm=None, reduction="none")(z, y)
    from_module = L.symmetrize(L.get("ce"), reduction="none")(z, y)  # mean-reduced module
    from_callable = L.symmetrize(L.cross_entropy, reduction="none")(z, y)
    no_reduction_arg = L.symmetrize(
        lambda a, b: torch.nn.functional.cross_entropy(a, b, reduction="none"), reduction="none"
    )(z, y)
    for got in (from_module, from_callable, no_reduction_arg):
        assert torch.allclose(got, expected, atol=1e-12)


def test_symmetrize_rejects_a_reduced_callable():
    z = torch.randn(4, 3)
    y = torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="per-sample"):
        L.symmetrize(lambda a, b: torch.nn.functional.cross_entropy(a, b))(z, y)


@pytest.mark.parametrize("name", ["ce", "gce", "focal", "mse", "sce", "nce+agce", "aul"])
def test_decompose_adds_back_and_parts_have_their_properties(name):
    g = torch.Generator().manual_seed(4)
    z = 2.0 * torch.randn(2, 20, 6, generator=g, dtype=torch.float64)
    y1 = torch.randint(0, 6, (2, 20), generator=g)
    y2 = torch.randint(0, 6, (2, 20), generator=g)
    sym, ins = L.decompose(name, reduction="none")
    assert torch.allclose(sym(z, y1) + ins(z, y1), raw(name)(z, y1), atol=1e-10)
    assert torch.equal(ins(z, y1), ins(z, y2))  # class-insensitive
    assert torch.allclose(L.evaluate_all(sym, z).sum(-1), torch.zeros(2, 20).double(), atol=1e-10)


def test_symmetrizing_a_symmetric_loss_changes_it_by_a_constant_only():
    z = torch.randn(30, 10, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    y = torch.randint(0, 10, (30,), generator=torch.Generator().manual_seed(6))
    diff = raw("mae")(z, y) - L.symmetrize("mae", reduction="none")(z, y)
    assert torch.allclose(diff, torch.full_like(diff, 0.9), atol=1e-12)  # (K−1)/K


def test_sgce_tends_to_unhinged_as_q_goes_to_zero():
    g = torch.Generator().manual_seed(7)
    z = torch.randn(40, 10, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (40,), generator=g)
    unh = raw("unhinged")(z, y)
    errors = [(raw("sgce", q=q)(z, y) - unh).abs().max().item() for q in (0.3, 1e-2, 1e-4)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 5e-3
    assert errors[0] > 1e-2  # not trivially equal


def test_sgce_at_q_one_is_mae_minus_a_constant():
    z = torch.randn(20, 4, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    y = torch.randint(0, 4, (20,), generator=torch.Generator().manual_seed(9))
    assert torch.allclose(raw("sgce", q=1.0)(z, y), raw("mae")(z, y) - 0.75, atol=1e-12)


def test_alpha_mae_limits():
    g = torch.Generator().manual_seed(10)
    k = 10
    z = torch.randn(40, k, generator=g, dtype=torch.float64)
    y = torch.randint(0, k, (40,), generator=g)
    assert torch.allclose(raw("alpha-mae", alpha=1.0)(z, y), raw("mae")(z, y), atol=1e-12)
    target = raw("unhinged")(z, y) / k
    errs = []
    for a in (0.3, 1e-2, 1e-4):
        shifted = raw("alpha-mae", alpha=a)(z, y) - (k - 1) / (k * a)
        errs.append((shifted - target).abs().max().item())
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 1e-4


@pytest.mark.parametrize("name", ALL)
def test_permutation_equivariance(name):
    g = torch.Generator().manual_seed(11)
    z = 3.0 * torch.randn(25, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 8, (25,), generator=g)
    perm = torch.randperm(8, generator=g)
    inv = torch.argsort(perm)
    loss = raw(name)
    # class k of the permuted problem is class perm[k] of the original
    assert torch.allclose(loss(z[:, perm], inv[y]), loss(z, y), atol=1e-10)


EXTREMES = {
    "huge": torch.tensor([[1e4, -1e4, 0.0, 5.0], [-1e4, 1e4, -1e4, 1e4]]),
    "confident": torch.tensor([[80.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 80.0]]),
    "uniform": torch.zeros(2, 4),
    "tiny": torch.full((2, 4), 1e-30),
}


@pytest.mark.parametrize("case", list(EXTREMES))
@pytest.mark.parametrize("name", ALL)
def test_values_and_gradients_finite_at_extremes(name, case):
    y = torch.tensor([0, 3])  # p_y → 1 in 'confident' row 1, p_y → 0 in 'huge' row 0
    for params in ({}, {"logit_norm": "l2"}, {"logit_norm": "batchnorm"}):
        if params and name != "unhinged":
            continue
        z = EXTREMES[case].clone().requires_grad_(True)
        out = raw(name, **params)(z, y)
        assert torch.isfinite(out).all(), (name, case, out)
        out.sum().backward()
        assert torch.isfinite(z.grad).all(), (name, case, z.grad)


@pytest.mark.parametrize("name", [*ALL, "unhinged-bn"])
def test_ensemble_input_equals_per_member_calls(name):
    g = torch.Generator().manual_seed(12)
    z = torch.randn(3, 9, 5, generator=g)  # (M, B, K)
    y = torch.randint(0, 5, (3, 9), generator=g)  # (M, B)
    loss = raw("unhinged", logit_norm="batchnorm") if name == "unhinged-bn" else raw(name)
    stacked = loss(z, y)  # (M, B)
    for m in range(3):
        assert torch.allclose(stacked[m], loss(z[m], y[m]), atol=1e-6), (name, m)


def test_shared_labels_broadcast_over_members():
    z = torch.randn(3, 6, 4, generator=torch.Generator().manual_seed(13))
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    loss = L.get("gce", reduction="none")
    assert torch.equal(loss(z, y), loss(z, y.expand(3, 6)))


@pytest.mark.parametrize("name", ALL)
def test_reduction_modes(name):
    g = torch.Generator().manual_seed(14)
    z = torch.randn(2, 6, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (2, 6), generator=g)
    params = {"logit_norm": None} if name == "unhinged" else {}
    none = L.get(name, reduction="none", **params)(z, y)
    assert none.shape == (2, 6)
    assert torch.allclose(L.get(name, reduction="mean", **params)(z, y), none.mean())
    assert torch.allclose(L.get(name, reduction="sum", **params)(z, y), none.sum())
    assert torch.allclose(L.get(name, **params)(z, y), none.mean())
    with pytest.raises(ValueError, match="reduction"):
        L.get(name, reduction="avg")


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_one_hot_soft_targets_equal_hard_labels(name):
    g = torch.Generator().manual_seed(15)
    z = torch.randn(10, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 6, (10,), generator=g)
    soft = torch.nn.functional.one_hot(y, 6).double()
    loss = raw(name)
    assert torch.allclose(loss(z, soft), loss(z, y), atol=1e-12)


def test_known_values():
    g = torch.Generator().manual_seed(16)
    z = torch.randn(12, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 5, (12,), generator=g)
    tf = torch.nn.functional
    assert torch.allclose(raw("ce")(z, y), tf.cross_entropy(z, y, reduction="none"))
    assert torch.allclose(
        raw("label-smoothing", epsilon=0.2)(z, y),
        tf.cross_entropy(z, y, reduction="none", label_smoothing=0.2),
    )
    p_y = torch.softmax(z, -1).gather(-1, y[:, None]).squeeze(-1)
    assert torch.allclose(raw("rce")(z, y), -math.log(1e-4) * (1 - p_y))
    assert torch.allclose(raw("gce", q=1.0)(z, y), raw("mae")(z, y))
    assert torch.allclose(raw("focal", gamma=0.0)(z, y), raw("ce")(z, y))
    assert torch.allclose(raw("poly1", epsilon=0.0)(z, y), raw("ce")(z, y))
    assert torch.allclose(raw("bootstrap-soft", beta=1.0)(z, y), raw("ce")(z, y))
    assert torch.allclose(raw("taylor-ce", t=1)(z, y), raw("mae")(z, y))
    assert torch.allclose(raw("sce", alpha=1.0, beta=0.0)(z, y), raw("ce")(z, y))
    assert torch.allclose(raw("ael", a=1.0)(z, y), torch.exp(-p_y))
    u = torch.zeros(3, 5, dtype=torch.float64)
    yu = torch.tensor([0, 2, 4])
    assert torch.allclose(raw("ce")(u, yu), torch.full((3,), math.log(5.0)).double())
    assert torch.allclose(raw("nce")(u, yu), torch.full((3,), 0.2).double())
    assert torch.allclose(raw("nnce")(u, yu), torch.full((3,), 0.8).double())
    assert torch.allclose(raw("unhinged")(u, yu), torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize(
    "name,fn,params",
    [
        ("mae", F.mae, {}),
        ("gce", F.gce, {"q": 0.5}),
        ("sce", F.sce, {"alpha": 0.3, "beta": 2.0}),
        ("nce", F.nce, {}),
        ("nnce", F.nnce, {}),
        ("focal", F.focal, {"gamma": 1.5}),
        ("sgce", F.sgce, {"q": 0.2}),
        ("alpha-mae", F.alpha_mae, {"alpha": 0.5}),
        ("unhinged", F.unhinged, {"logit_norm": "l2", "scale": 2.0}),
        ("bootstrap-hard", F.bootstrap_hard, {"beta": 0.5}),
    ],
)
def test_functional_twins_match_modules(name, fn, params):
    g = torch.Generator().manual_seed(17)
    z = torch.randn(2, 8, 4, generator=g)
    y = torch.randint(0, 4, (2, 8), generator=g)
    assert torch.allclose(fn(z, y, **params), L.get(name, **params)(z, y))
    assert torch.allclose(
        fn(z, y, reduction="none", **params), L.get(name, reduction="none", **params)(z, y)
    )


@pytest.mark.parametrize("name", ALL)
def test_every_registered_loss_has_a_functional_twin(name):
    g = torch.Generator().manual_seed(19)
    z = 3.0 * torch.randn(2, 8, 5, generator=g, dtype=torch.float64)  # (M, B, K)
    y = torch.randint(0, 5, (2, 8), generator=g)  # (M, B)
    fn = F.twin(name)
    assert fn is getattr(F, name.replace("-", "_").replace("+", "_"))
    params = dict(L.LOSSES.meta(name)["params"])
    params.pop("delta", None)  # ANL-CE's L1 term is a parameter penalty, not a per-sample value
    if name == "unhinged":
        params["logit_norm"] = None
    for red in ("none", "mean", "sum"):
        module = L.get(name, reduction=red, **({"logit_norm": None} if name == "unhinged" else {}))
        assert torch.allclose(fn(z, y, reduction=red, **params), module(z, y), atol=1e-12), red
    soft = torch.softmax(torch.randn(2, 8, 5, generator=g, dtype=torch.float64), -1)
    if name != "mse":
        module = L.get(
            name, reduction="none", **({"logit_norm": None} if name == "unhinged" else {})
        )
        assert torch.allclose(fn(z, soft, reduction="none", **params), module(z, soft), atol=1e-12)


def test_twin_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown loss"):
        F.twin("nope")


def test_mse_twin_handles_regression_targets():
    out = torch.randn(6, 1, dtype=torch.float64)
    t = torch.randn(6, dtype=torch.float64)
    expected = ((out[:, 0] - t) ** 2).mean()
    assert torch.allclose(F.mse(out, t), expected)
    assert torch.allclose(L.get("mse")(out, t), expected)


@pytest.mark.parametrize("name", ALL)
def test_symmetrize_gives_a_symmetric_loss_for_every_registered_loss(name):
    g = torch.Generator().manual_seed(20)
    z = 2.0 * torch.randn(2, 6, 7, generator=g, dtype=torch.float64)
    params = {"logit_norm": None} if name == "unhinged" else {}
    sym = L.symmetrize(name, reduction="none", **params)
    assert torch.allclose(L.evaluate_all(sym, z).sum(-1), torch.zeros(2, 6).double(), atol=1e-9)
    if L.LOSSES.meta(name)["symmetric"]:  # a symmetric loss only loses its constant
        diff = raw(name)(z, torch.zeros(2, 6, dtype=torch.long)) - sym(
            z, torch.zeros(2, 6, dtype=torch.long)
        )
        assert torch.allclose(diff, diff.flatten()[0].expand_as(diff), atol=1e-9)


def test_logit_normalisation_bounds_unhinged_and_keeps_argmax():
    g = torch.Generator().manual_seed(18)
    z = 1e3 * torch.randn(2, 50, 10, generator=g)  # (M, B, K)
    y = torch.randint(0, 10, (2, 50), generator=g)
    for mode in ("l2", "batchnorm"):
        zn = F.normalize_logits(z, mode, scale=3.0)
        assert torch.equal(zn.argmax(-1), z.argmax(-1))
    l2 = L.get("unhinged", logit_norm="l2", scale=3.0, reduction="none")(z, y)
    assert l2.abs().max() <= 3.0 + 1e-5
    raw_u = raw("unhinged")(z, y)
    assert raw_u.abs().max() > 100  # the raw loss scales with the logits
    # the raw loss is unbounded below: scaling logits scales it
    assert torch.allclose(raw("unhinged")(10 * z, y), 10 * raw_u, rtol=1e-5)
    # batchnorm: the loss is invariant to rescaling the whole batch of one member
    bn = L.get("unhinged", logit_norm="batchnorm", reduction="none")
    zz = z.clone()
    zz[1] *= 7.0
    assert torch.allclose(bn(zz, y), bn(z, y), atol=1e-5)


def test_regularizer_is_anl_l1_per_member():
    params = [torch.ones(3, 4), -2 * torch.ones(3, 2)]  # (M, …)
    anl = L.get("anl-ce", delta=0.5)
    assert anl.regularization == 0.5
    assert torch.allclose(anl.regularizer(params, ensemble=True), torch.full((3,), 0.5 * 8))
    assert torch.allclose(anl.regularizer(params), torch.tensor(0.5 * 24))
    assert torch.equal(L.get("ce").regularizer(params, ensemble=True), torch.zeros(3))


def test_gradients_flow_and_training_reduces_the_loss():
    torch.manual_seed(0)
    x = torch.randn(64, 5)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    for name in ("sgce", "alpha-mae", "unhinged", "nce+rce", "anl-ce"):
        model = torch.nn.Linear(5, 3)
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        loss_fn = L.get(name)
        start = loss_fn(model(x), y).item()
        for _ in range(60):
            opt.zero_grad()
            loss = loss_fn(model(x), y) + loss_fn.regularizer(model.parameters())
            loss.backward()
            opt.step()
        assert loss_fn(model(x), y).item() < start, name
        assert (model(x).argmax(-1) == y).float().mean() > 0.7, name


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: L.get("nope"), ValueError, "unknown loss 'nope'"),
        (lambda: L.get("gce", p=0.5), TypeError, "unknown parameter"),
        (lambda: L.get("gce", q=0.0), ValueError, "q must be"),
        (lambda: L.get("gce", q=1.5), ValueError, "q must be"),
        (lambda: L.get("aul", a=0.5), ValueError, "a must be > 1"),
        (lambda: L.get("unhinged", logit_norm="l1"), ValueError, "logit_norm"),
        (lambda: L.get("sce", alpha=-1.0), ValueError, "alpha"),
        (lambda: L.get("taylor-ce", t=0), ValueError, "t must be"),
        (lambda: L.get("sgce", q="a"), TypeError, "q must be a number"),
        (lambda: L.get("mae")(torch.randn(4, 3), torch.tensor([0, 1, 3, 0])), ValueError, "3"),
        (lambda: L.get("ce")(torch.randn(4, 3), torch.tensor([0, -1, 2, 0])), ValueError, "-1"),
        (lambda: L.get("mae")(torch.randn(4, 3), torch.zeros(5).long()), ValueError, "shaped"),
        (lambda: L.get("mae")(torch.ones(4, 3).long(), torch.zeros(4).long()), TypeError, "float"),
        (lambda: L.get("mae")(torch.randn(4), torch.zeros(4).long()), ValueError, "(B, K)"),
        (lambda: L.symmetrize(42), TypeError, "callable"),
    ],
)
def test_bad_input_raises_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
