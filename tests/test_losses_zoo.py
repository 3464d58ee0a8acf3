"""The losses added for parity with the APL / ALF / ANL code, their conventions and presets.

Every formula here is written independently of ``noisylab.losses`` (one-hot sums over the
softmax, as the peers write them, or explicit loops), in float64.
"""

from __future__ import annotations

import inspect
import math
import sys

import numpy as np
import pytest
import torch

from noisylab import losses as L
from noisylab.losses import functional as F
from noisylab.losses._base import signature_defaults

ALL = L.LOSSES.names()
PER_SAMPLE = [n for n in ALL if n not in ("dmi",)]


def _data(seed: int = 0, shape=(40, 7), scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    z = scale * torch.randn(*shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, shape[-1], shape[:-1], generator=g)
    return z, y


def _onehot(y: torch.Tensor, k: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(y, k).double()


# ----------------------------------------------------------------------------- metadata (#17)


@pytest.mark.parametrize("name", ALL)
def test_params_metadata_and_twin_signature_come_from_the_class(name):
    cls = L.LOSSES.get(name)
    params = L.LOSSES.meta(name)["params"]
    assert params == signature_defaults(cls)
    twin = inspect.signature(F.twin(name)).parameters
    assert list(twin)[:2] == ["logits", "labels"]
    for key, default in params.items():
        assert twin[key].default == default, key
    assert twin["reduction"].default == "mean"


def test_a_changed_class_default_reaches_the_registry_reader():
    class Probe(L.Loss):
        def __init__(self, q: float = 0.25, reduction: str = "mean") -> None:
            super().__init__(reduction)
            self.q = q

        def terms(self, v):
            return v.p

    assert signature_defaults(Probe) == {"q": 0.25}


# ----------------------------------------------------------------------------- gather first


@pytest.mark.parametrize("name", PER_SAMPLE)
def test_gather_first_path_equals_the_every_class_path(name):
    z, y = _data(1, shape=(3, 12, 6))  # (M, B, K)
    params = {"logit_norm": None} if name == "unhinged" else {}
    loss = L.get(name, reduction="none", **params)
    fast = loss(z, y)  # integer labels: gather-first
    full = L.pick(loss.all_classes(z), y)  # every class, then pick
    assert torch.allclose(fast, full, rtol=1e-12, atol=1e-12)
    shared = loss(z, y[0])  # (B,) labels shared by the members
    assert torch.allclose(shared, L.pick(loss.all_classes(z), y[0].expand(3, 12)), atol=1e-12)


# ----------------------------------------------------------------------------- values


def _softmax(z):
    return torch.softmax(z, -1)


def _nce(z, y):
    lp = torch.log_softmax(z, -1)
    return (_onehot(y, z.shape[-1]) * lp).sum(-1) / lp.sum(-1)


def _p_y(z, y):
    return (_onehot(y, z.shape[-1]) * _softmax(z)).sum(-1)


def _rce(z, y):
    oh = _onehot(y, z.shape[-1]).clamp(min=1e-4)
    return -(_softmax(z) * torch.log(oh)).sum(-1)


def _nfl(z, y, gamma):
    lp = torch.log_softmax(z, -1)
    fl = -((1 - lp.exp()) ** gamma) * lp
    return (_onehot(y, z.shape[-1]) * fl).sum(-1) / fl.sum(-1)


def _agce(z, y, a, q):
    return ((a + 1) ** q - (a + _p_y(z, y)) ** q) / q


def _aul(z, y, a, q):
    return ((a - _p_y(z, y)) ** q - (a - 1) ** q) / q


def _ael(z, y, a):
    return torch.exp(-_p_y(z, y) / a)


def _anorm(z, y, a, p):
    diff = (a * _onehot(y, z.shape[-1]) - _softmax(z)).abs()
    return ((diff**p).sum(-1) - (a - 1) ** p) / p


def _gce(z, y, q):
    return (1 - _p_y(z, y) ** q) / q


def _ngce(z, y, q):
    p = _softmax(z)
    return (1 - _p_y(z, y) ** q) / (z.shape[-1] - (p**q).sum(-1))


def _nnce(z, y, mp=1e-7):
    s = -math.log(mp) + torch.log(_softmax(z).clamp(min=mp))
    return 1 - (_onehot(y, z.shape[-1]) * s).sum(-1) / s.sum(-1)


def _nnfl(z, y, gamma, mp=1e-7):
    k = z.shape[-1]
    lp = torch.log_softmax(z, -1).clamp(min=math.log(mp))
    fl = -((1 - lp.exp()) ** gamma) * lp
    a = -((1 - mp) ** gamma) * math.log(mp)
    return 1 - (a - (_onehot(y, k) * fl).sum(-1)) / (k * a - fl.sum(-1))


def _nlnl(z, y, mp=1e-5):
    p = _softmax(z)
    k = z.shape[-1]
    out = torch.zeros(z.shape[:-1], dtype=z.dtype)
    for i in range(z.shape[0]):
        others = [c for c in range(k) if c != int(y[i])]
        out[i] = sum(-math.log(max(1 - float(p[i, c]), mp)) for c in others) / (k - 1)
    return out


INDEPENDENT = {
    "nce+aul": lambda z, y: _nce(z, y) + 4.0 * _aul(z, y, 6.3, 1.5),
    "nce+ael": lambda z, y: _nce(z, y) + 4.0 * _ael(z, y, 5.0),
    "anorm": lambda z, y: _anorm(z, y, 1.5, 0.9),
    "nce+anorm": lambda z, y: _nce(z, y) + _anorm(z, y, 2.0, 0.7),
    "anorm+rce": lambda z, y: _anorm(z, y, 2.0, 0.7) + _rce(z, y),
    "nfl+agce": lambda z, y: _nfl(z, y, 0.5) + _agce(z, y, 3.0, 2.0),
    "nfl+aul": lambda z, y: _nfl(z, y, 0.5) + _aul(z, y, 1.5, 0.9),
    "nfl+ael": lambda z, y: _nfl(z, y, 0.5) + _ael(z, y, 3.0),
    "nnfl": lambda z, y: _nnfl(z, y, 0.5),
    "anl-fl": lambda z, y: 5.0 * _nfl(z, y, 0.5) + 5.0 * _nnfl(z, y, 0.5),
    "nlnl": _nlnl,
    "nmae": lambda z, y: (1 - _p_y(z, y)) / (z.shape[-1] - 1),
    "nrce": lambda z, y: _rce(z, y) / (-math.log(1e-4) * (z.shape[-1] - 1)),
    "gce+mae": lambda z, y: _gce(z, y, 0.7) + (1 - _p_y(z, y)),
    "gce+rce": lambda z, y: _gce(z, y, 0.7) + _rce(z, y),
    "gce+nce": lambda z, y: _gce(z, y, 0.7) + _nce(z, y),
    "ngce+nce": lambda z, y: _ngce(z, y, 0.7) + _nce(z, y),
    "ngce+mae": lambda z, y: _ngce(z, y, 0.7) + (1 - _p_y(z, y)),
    "ngce+rce": lambda z, y: _ngce(z, y, 0.7) + _rce(z, y),
    "mae+rce": lambda z, y: (1 - _p_y(z, y)) + _rce(z, y),
    "nfl+nce": lambda z, y: _nfl(z, y, 0.5) + _nce(z, y),
    "nfl+mae": lambda z, y: _nfl(z, y, 0.5) + (1 - _p_y(z, y)),
    "anl-ce": lambda z, y: 5.0 * _nce(z, y) + 5.0 * _nnce(z, y),
}


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_new_losses_equal_an_independent_formula(name):
    z, y = _data(2)
    got = L.get(name, reduction="none")(z, y)
    assert torch.allclose(got, INDEPENDENT[name](z, y), rtol=1e-10, atol=1e-12)


def test_anl_ce_er_adds_the_batch_entropy_term_per_member():
    z, y = _data(3, shape=(2, 30, 5))  # (M, B, K)
    er = L.get("anl-ce-er", reduction="none")(z, y) - L.get("anl-ce", reduction="none")(z, y)
    p = np.asarray(torch.softmax(z, -1))
    for m in range(2):
        mean_p = p[m].mean(0)  # (K,)
        expected = 2.0 * (math.log(5) + float((mean_p * np.log(mean_p)).sum()))  # λ = 2
        assert np.allclose(np.asarray(er[m]), expected, atol=1e-10)
    # the mean reduction is the ANL objective: per-sample mean plus λ ER
    total = L.get("anl-ce-er")(z[0], y[0])
    assert torch.allclose(total, L.get("anl-ce")(z[0], y[0]) + er[0, 0], atol=1e-12)


def test_dmi_is_minus_log_det_of_the_joint_matrix_per_member():
    z, y = _data(4, shape=(3, 64, 4), scale=1.0)
    out = L.get("dmi", reduction="none")(z, y)  # (M, B)
    assert out.shape == (3, 64)
    p = np.asarray(torch.softmax(z, -1))
    for m in range(3):
        u = p[m].T @ np.eye(4)[np.asarray(y[m])]  # Pᵀ Y, (K, K)
        expected = -math.log(abs(np.linalg.det(u)) + 1e-3)
        assert np.allclose(np.asarray(out[m]), expected, rtol=1e-10)
    zz = z[0].clone().requires_grad_(True)
    L.get("dmi")(zz, y[0]).backward()
    ref = z[0].clone().requires_grad_(True)
    u = torch.softmax(ref, -1).T @ _onehot(y[0], 4)
    (-torch.log(torch.linalg.det(u).abs() + 1e-3)).backward()
    assert torch.allclose(zz.grad, ref.grad, atol=1e-12)


def test_dmi_depends_on_the_joint_labels_and_not_on_sample_order():
    z, y = _data(5, shape=(64, 4), scale=1.0)
    dmi = L.get("dmi")
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(dmi(z[perm], y[perm]), dmi(z, y), atol=1e-12)
    y2 = y.clone()
    y2[0] = (y[0] + 1) % 4
    assert abs(float(dmi(z, y2) - dmi(z, y))) > 1e-6
    assert torch.allclose(dmi(z, _onehot(y, 4)), dmi(z, y), atol=1e-12)  # soft targets
    with pytest.raises(TypeError, match="batch"):
        dmi.all_classes(z)


def test_nlnl_is_the_expectation_of_the_sampled_complementary_label():
    z, y = _data(6, shape=(8, 5))
    p = torch.softmax(z, -1)
    sampled = []
    g = torch.Generator().manual_seed(1)
    for _ in range(4000):  # the peers' draw: ȳ = (y + U{1..K−1}) mod K
        neg = (y + torch.randint(1, 5, y.shape, generator=g)) % 5
        sampled.append(-torch.log((1 - p.gather(-1, neg[:, None])[:, 0]).clamp(min=1e-5)))
    mc = torch.stack(sampled).mean(0)
    assert torch.allclose(L.get("nlnl", reduction="none")(z, y), mc, rtol=0.05)


# ----------------------------------------------------------------------------- conventions


def _grad(fn, z):
    z = z.clone().requires_grad_(True)
    fn(z).sum().backward()
    return z.grad


@pytest.mark.parametrize(
    "name,params,peer",
    [
        ("gce", {"q": 0.7}, lambda p, oh: (1 - (oh * p).sum(-1) ** 0.7) / 0.7),
        (
            "ngce",
            {"q": 0.1},
            lambda p, oh: (1 - (oh * p).sum(-1) ** 0.1) / (p.shape[-1] - (p**0.1).sum(-1)),
        ),
        ("rce", {}, lambda p, oh: -(p * torch.log(oh.clamp(min=1e-4))).sum(-1)),
        ("sce", {"alpha": 0.0}, lambda p, oh: -(p * torch.log(oh.clamp(min=1e-4))).sum(-1)),
    ],
)
def test_clamp_reproduces_the_peers_softmax_floor(name, params, peer):
    z, y = _data(7, shape=(50, 10), scale=10.0)  # many p_k < 1e-7
    oh = _onehot(y, 10)

    def peers(zz):
        return peer(_softmax(zz).clamp(min=1e-7, max=1.0), oh)

    ours = L.get(name, reduction="none", clamp=1e-7, **params)
    assert torch.allclose(ours(z, y), peers(z), rtol=1e-10, atol=1e-12)
    assert torch.allclose(_grad(lambda zz: ours(zz, y), z), _grad(peers, z), atol=1e-10)


def test_the_clamp_is_material_for_ngce_at_q_0_1():
    z, y = _data(8, shape=(200, 10), scale=10.0)
    exact = L.get("ngce", q=0.1, reduction="none")(z, y)
    peers = L.get("ngce", q=0.1, clamp=1e-7, reduction="none")(z, y)
    assert float(((peers - exact).abs() / exact).max()) > 0.05


def test_anorm_clamp_reproduces_the_alf_floor():
    z, y = _data(9, shape=(30, 6), scale=8.0)
    oh = _onehot(y, 6)

    def alf(zz):
        p = _softmax(zz).clamp(min=1e-5, max=1)
        return (((1.5 * oh - p).abs() ** 0.9).sum(-1) - 0.5**0.9) / 0.9

    ours = L.get("anorm", clamp=1e-5, reduction="none")
    assert torch.allclose(ours(z, y), alf(z), rtol=1e-10)
    assert torch.allclose(_grad(lambda zz: ours(zz, y), z), _grad(alf, z), atol=1e-10)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_detached_focal_gradient_is_the_factor_times_grad_log_p(gamma):
    z, y = _data(10)
    oh = _onehot(y, 7)
    p = _softmax(z)
    p_y = (oh * p).sum(-1, keepdim=True)
    expected = -((1 - p_y) ** gamma) * (oh - p)  # −(1 − p_y)^γ ∇ log p_y
    detached = _grad(lambda zz: L.get("focal", gamma=gamma, detach_focal=True)(zz, y) * 40, z)
    assert torch.allclose(detached, expected, atol=1e-12)
    full = _grad(lambda zz: L.get("focal", gamma=gamma)(zz, y) * 40, z)
    assert float((full - expected).abs().max()) > 1e-3  # the true gradient differs
    values = L.get("focal", gamma=gamma, detach_focal=True, reduction="none")(z, y)
    assert torch.allclose(values, L.get("focal", gamma=gamma, reduction="none")(z, y))


def _peer_nfl(zz, y, gamma):  # APL/ALF/ANL NormalizedFocalLoss: factors from detached p
    lp = torch.log_softmax(zz, -1)
    factor = (1 - lp.detach().exp()) ** gamma
    norm = (-factor * lp).sum(-1)
    return (-(factor * lp).gather(-1, y[:, None])[:, 0]) / norm


def _peer_nnfl(zz, y, gamma, mp=1e-7):  # ANL NormalizedNegativeFocalLoss
    k = zz.shape[-1]
    lp = torch.log_softmax(zz, -1).clamp(min=math.log(mp))
    factor = (1 - lp.detach().exp()) ** gamma
    a = -((1 - mp) ** gamma) * math.log(mp)
    fl_y = -(factor * lp).gather(-1, y[:, None])[:, 0]
    return 1 - (a - fl_y) / (k * a - (-factor * lp).sum(-1))


@pytest.mark.parametrize(
    "name,params,peer",
    [
        ("nfl", {"gamma": 0.5}, lambda zz, y: _peer_nfl(zz, y, 0.5)),
        ("nnfl", {"gamma": 0.5}, lambda zz, y: _peer_nnfl(zz, y, 0.5)),
        (
            "anl-fl",
            {"alpha": 2.0, "beta": 3.0},
            lambda zz, y: 2.0 * _peer_nfl(zz, y, 0.5) + 3.0 * _peer_nnfl(zz, y, 0.5),
        ),
        (
            "nfl+rce",
            {"gamma": 0.5},
            lambda zz, y: _peer_nfl(zz, y, 0.5) + _rce(zz, y),
        ),
    ],
)
def test_detach_focal_reproduces_the_peers_normalized_focal_losses(name, params, peer):
    z, y = _data(11, scale=5.0)
    ours = L.get(name, reduction="none", detach_focal=True, **params)
    assert torch.allclose(ours(z, y), peer(z, y), rtol=1e-10, atol=1e-12)
    assert torch.allclose(_grad(lambda zz: ours(zz, y), z), _grad(lambda zz: peer(zz, y), z))
    exact = L.get(name, reduction="none", **params)
    assert (
        float((_grad(lambda zz: exact(zz, y), z) - _grad(lambda zz: ours(zz, y), z)).abs().max())
        > 1e-4
    )


def test_focal_alpha_weights_the_labelled_class():
    z, y = _data(12)
    w = [0.5, 1.0, 2.0, 0.25, 1.5, 3.0, 1.0]
    plain = L.get("focal", reduction="none")(z, y)
    weighted = L.get("focal", alpha=w, reduction="none")(z, y)
    assert torch.allclose(weighted, torch.tensor(w, dtype=torch.float64)[y] * plain)
    assert torch.allclose(L.get("focal", alpha=0.25, reduction="none")(z, y), 0.25 * plain)
    with pytest.raises(ValueError, match="class weights"):
        L.get("focal", alpha=[1.0, 2.0])(z, y)


@pytest.mark.parametrize("name", [n for n in ALL if "scale" in L.LOSSES.meta(n)["params"]])
def test_scale_multiplies_the_loss(name):
    z, y = _data(13)
    base = L.get(name, reduction="none")(z, y)  # unhinged: linear in its normalised logits
    assert torch.allclose(L.get(name, scale=2.5, reduction="none")(z, y), 2.5 * base)


# ----------------------------------------------------------------------------- presets


def test_presets_set_the_papers_numbers_and_params_override_them():
    agce = L.get("nce+agce", preset="cifar100")
    assert (agce.alpha, agce.beta, agce.a, agce.q) == (10.0, 0.1, 1.8, 3.0)
    aul = L.get("nce+aul", preset="cifar10")
    assert (aul.alpha, aul.beta, aul.a, aul.q) == (1.0, 4.0, 6.3, 1.5)
    assert (L.get("nfl", preset="cifar10").scale, L.get("ngce", preset="cifar10").q) == (10, 0.1)
    er = L.get("anl-ce-er", preset="cifar100")
    assert (er.alpha, er.beta, er.delta, er.lamb) == (10.0, 1.0, 5e-7, 0.01)
    assert L.get("nce+agce", preset="cifar100", beta=0.2).beta == 0.2
    assert L.presets("sce") == {
        "cifar10": {"alpha": 0.1, "beta": 1.0},
        "cifar100": {"alpha": 6.0, "beta": 0.1},
    }


@pytest.mark.parametrize("name", [n for n in ALL if L.LOSSES.meta(n)["presets"]])
def test_every_preset_builds_its_loss(name):
    for preset, values in L.presets(name).items():
        loss = L.get(name, preset=preset)
        for key, value in values.items():
            stored = loss.regularization if key == "delta" else getattr(loss, key)
            assert stored == value, (name, preset, key)


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match="known: cifar10, cifar100"):
        L.get("nce+agce", preset="mnist")
    with pytest.raises(ValueError, match=r"\(none\)"):
        L.get("dmi", preset="cifar10")


def test_list_losses_shows_the_presets(cli, capsys, monkeypatch):
    from rich.console import Console

    import noisylab.commands.listing as listing

    monkeypatch.setattr(listing, "console", Console(width=250, file=sys.stdout))
    assert cli("list", "losses") == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("│ nce+agce "))
    assert "cifar10, cifar100" in row and "alpha=1.0" in row


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: L.get("gce", clamp=1.0), ValueError, "clamp must be in"),
        (lambda: L.get("ngce", clamp=-1e-7), ValueError, "clamp"),
        (lambda: L.get("focal", detach_focal="yes"), TypeError, "detach_focal"),
        (lambda: L.get("anorm", a=1.0), ValueError, "a must be > 1"),
        (lambda: L.get("anorm", p=1.5), ValueError, "p must be"),
        (lambda: L.get("dmi", eps=0.0), ValueError, "eps"),
        (lambda: L.get("nfl", scale=0.0), ValueError, "scale"),
        (lambda: L.get("focal", alpha=[]), ValueError, "alpha"),
    ],
)
def test_new_parameters_are_validated(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_dmi_large_batches_and_many_classes_do_not_overflow():
    k, b = 100, 1100  # K log B > 700: B^K exceeds float64, so the log-space path runs
    g = torch.Generator().manual_seed(14)
    y = torch.arange(b) % k
    z = 4.0 * torch.nn.functional.one_hot(y, k).double() + torch.randn(b, k, generator=g).double()
    got = L.get("dmi")(z, y)
    u = np.asarray(torch.softmax(z, -1)).T @ np.eye(k)[np.asarray(y)]
    _, logabs = np.linalg.slogdet(u)
    assert np.isclose(float(got), -np.logaddexp(logabs, math.log(1e-3)), rtol=1e-10)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("name", ["focal", "nfl", "nnfl", "anl-fl", "nfl+rce"])
def test_focal_family_gradients_are_finite_at_p_one(name, gamma):
    z = torch.tensor([[80.0, 0, 0, 0], [0, 0, 0, 80.0], [1e4, -1e4, 0, 5]], requires_grad=True)
    y = torch.tensor([0, 3, 1])  # p_y = 1 (rows 0, 1) and p_y = 0 (row 2)
    for detach in (False, True):
        z.grad = None
        out = L.get(name, gamma=gamma, detach_focal=detach, reduction="sum")(z, y)
        out.backward()
        assert torch.isfinite(out) and torch.isfinite(z.grad).all(), (name, gamma, detach)
