"""SAM, ASAM, VaSSO and FriendlySAM: the facts of sharpness.md ("Facts a test suite can check")."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

from noisylab.optim import (
    ASAM,
    OPTIMIZERS,
    SAM,
    FriendlySAM,
    VaSSO,
    build,
    disable_running_stats,
)


class Stacked(nn.Module):
    """A 2-layer MLP with a leading member axis on every parameter: (M, …)."""

    def __init__(self, members: int, d: int = 5, h: int = 7, k: int = 3, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1 = nn.Parameter(torch.randn(members, d, h, generator=g) / math.sqrt(d))
        self.b1 = nn.Parameter(0.1 * torch.randn(members, h, generator=g))
        self.w2 = nn.Parameter(torch.randn(members, h, k, generator=g) / math.sqrt(h))
        self.b2 = nn.Parameter(0.1 * torch.randn(members, k, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (M, B, d) → (M, B, k)
        h = torch.baddbmm(self.b1.unsqueeze(1), x, self.w1).relu()
        return torch.baddbmm(self.b2.unsqueeze(1), h, self.w2)

    def member(self, i: int) -> Stacked:
        one = Stacked(1, self.w1.shape[1], self.w1.shape[2], self.w2.shape[2])
        with torch.no_grad():
            for p, q in zip(one.parameters(), self.parameters()):
                p.copy_(q[i : i + 1])
        return one


def _data(members: int, n: int = 24, d: int = 5, k: int = 3, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(members, n, d, generator=g)  # (M, B, d)
    y = torch.randint(0, k, (members, n), generator=g)  # (M, B)
    return x, y


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = model(x)  # (M, B, K)
    per_member = nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(1)
    return per_member.sum()


def _train(model, opt, batches, steps):
    losses = []
    for t in range(steps):
        x, y = batches[t % len(batches)]

        def closure(x=x, y=y):
            opt.zero_grad()
            loss = _loss(model, x, y)
            loss.backward()
            return loss

        losses.append(float(opt.step(closure).detach()))
    return losses


def _batches(members: int, count: int = 3):
    return [_data(members, seed=10 + i) for i in range(count)]


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


# ------------------------------------------------------------------ exact equivalences
@pytest.mark.parametrize("cls", [SAM, ASAM, VaSSO, FriendlySAM])
@pytest.mark.parametrize("base", ["sgd", "adam"])
def test_rho_zero_reproduces_base_exactly(cls, base):
    batches = _batches(2)
    ref, mod = Stacked(2), Stacked(2)
    kw = {"lr": 0.05, "weight_decay": 1e-3}
    base_opt = build(base, ref.parameters(), **kw)
    if base == "sgd":
        kw["momentum"] = 0.9
    opt = cls(mod.parameters(), base=base, rho=0.0, **kw)
    _train(ref, base_opt, batches, 7)
    _train(mod, opt, batches, 7)
    for p, q in zip(ref.parameters(), mod.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("cls", [SAM, ASAM, VaSSO, FriendlySAM])
def test_explicit_two_call_api_equals_step_with_closure(cls):
    batches = _batches(2)
    a, b = Stacked(2), Stacked(2)
    group = lambda m: [{"params": list(m.parameters()), "ensemble": True}]  # noqa: E731
    opt_a = cls(group(a), rho=0.2, lr=0.1, momentum=0.9)
    opt_b = cls(group(b), rho=0.2, lr=0.1, momentum=0.9)
    _train(a, opt_a, batches, 4)
    for t in range(4):
        x, y = batches[t % len(batches)]
        opt_b.zero_grad()
        _loss(b, x, y).backward()
        opt_b.first_step(zero_grad=True)
        _loss(b, x, y).backward()
        opt_b.second_step(zero_grad=True)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(RuntimeError, match="twice"):
        _loss(b, *batches[0]).backward()
        opt_b.first_step()
        opt_b.first_step()


def test_vasso_theta_one_is_sam_exactly():
    batches = _batches(2)
    a, b = Stacked(2), Stacked(2)
    sam = SAM(a.parameters(), rho=0.1, lr=0.1, momentum=0.9)
    vasso = VaSSO(b.parameters(), rho=0.1, theta=1.0, lr=0.1, momentum=0.9)
    _train(a, sam, batches, 8)
    _train(b, vasso, batches, 8)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("theta", [0.1, 0.4, 0.9])
def test_vasso_step_zero_is_sam_then_differs(theta):
    batches = _batches(1)
    a, b = Stacked(1), Stacked(1)
    sam = SAM(a.parameters(), rho=0.2, lr=0.1, momentum=0.0)
    vasso = VaSSO(b.parameters(), rho=0.2, theta=theta, lr=0.1, momentum=0.0)
    _train(a, sam, batches, 1)
    _train(b, vasso, batches, 1)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    _train(a, sam, batches[1:], 1)
    _train(b, vasso, batches[1:], 1)
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_friendly_sam_step_zero_is_sam_and_then_subtracts_the_ema():
    model = Stacked(1)
    opt = FriendlySAM(model.parameters(), rho=0.1, theta=0.25, sigma=0.5, lr=0.0)
    grads = []
    for x, y in _batches(1, 2):
        opt.zero_grad()
        _loss(model, x, y).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
        before = _params(model)
        opt.first_step()
        eps = [p.detach() - b for p, b in zip(model.parameters(), before)]
        opt.second_step()
        g, m0 = grads[-1], grads[0]
        v = g if len(grads) == 1 else [gi - 0.5 * mi for gi, mi in zip(g, m0)]
        norm = math.sqrt(sum(float((t * t).sum()) for t in v))
        for e, vi in zip(eps, v):
            torch.testing.assert_close(e, 0.1 * vi / norm, rtol=1e-5, atol=1e-7)
    m1 = [0.75 * a + 0.25 * b for a, b in zip(grads[0], grads[1])]
    for p, m in zip(model.parameters(), m1):
        torch.testing.assert_close(opt.state[p]["fsam_m"], m)


# ------------------------------------------------------------------ the perturbation
@pytest.mark.parametrize("cls", [SAM, VaSSO, FriendlySAM])
def test_perturbation_norm_is_rho_per_member(cls):
    members = 4
    model = Stacked(members)
    x, y = _data(members)
    with torch.no_grad():  # members with very different gradient scales
        model.w2.mul_(torch.tensor([0.1, 1.0, 10.0, 100.0]).view(-1, 1, 1))
    group = [{"params": list(model.parameters()), "ensemble": True}]
    opt = cls(group, rho=0.3, lr=0.1)
    for _ in range(2):  # step 0 and a step with an EMA
        opt.zero_grad()
        _loss(model, x, y).backward()
        before = _params(model)
        opt.first_step()
        sq = sum(
            (p.detach() - b).reshape(members, -1).square().sum(1)
            for p, b in zip(model.parameters(), before)
        )
        torch.testing.assert_close(sq.sqrt(), torch.full((members,), 0.3), rtol=1e-5, atol=0)
        _loss(model, x, y).backward()
        opt.second_step()


def test_perturbation_norm_is_global_without_ensemble_flag():
    model = Stacked(3)
    x, y = _data(3)
    opt = SAM(model.parameters(), rho=0.3, lr=0.1)
    _loss(model, x, y).backward()
    before = _params(model)
    opt.first_step()
    sq = sum(float((p.detach() - b).square().sum()) for p, b in zip(model.parameters(), before))
    assert math.sqrt(sq) == pytest.approx(0.3, rel=1e-5)
    per_member = sum(
        (p.detach() - b).reshape(3, -1).square().sum(1) for p, b in zip(model.parameters(), before)
    ).sqrt()
    assert not torch.allclose(per_member, torch.full((3,), 0.3), rtol=1e-3)


def test_asam_perturbation_has_unit_norm_in_the_adaptive_metric():
    members = 2
    model = Stacked(members)
    x, y = _data(members)
    opt = ASAM([{"params": list(model.parameters()), "ensemble": True}], rho=0.5, eta=0.01, lr=0.1)
    _loss(model, x, y).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    before = _params(model)
    opt.first_step()
    t = [b.abs() + 0.01 if b.dim() == 3 else torch.ones_like(b) for b in before]
    eps = [p.detach() - b for p, b in zip(model.parameters(), before)]
    sq = sum((e / ti).reshape(members, -1).square().sum(1) for e, ti in zip(eps, t))
    torch.testing.assert_close(sq.sqrt(), torch.full((members,), 0.5), rtol=1e-5, atol=0)
    for e, ti, g in zip(eps, t, grads):  # ε ∥ T² g, member by member
        cos = nn.functional.cosine_similarity(
            e.reshape(members, -1), (ti * ti * g).reshape(members, -1), dim=1
        )
        torch.testing.assert_close(cos, torch.ones(members), rtol=0, atol=1e-5)


def test_ensemble_training_equals_separate_members():
    members = 3
    batches = _batches(members)
    joint = Stacked(members)
    singles = [joint.member(i) for i in range(members)]
    opt = VaSSO(
        [{"params": list(joint.parameters()), "ensemble": True}],
        rho=0.2,
        theta=0.5,
        lr=0.1,
        momentum=0.9,
    )
    _train(joint, opt, batches, 5)
    for i, one in enumerate(singles):
        o = VaSSO(one.parameters(), rho=0.2, theta=0.5, lr=0.1, momentum=0.9)
        _train(one, o, [(x[i : i + 1], y[i : i + 1]) for x, y in batches], 5)
        for p, q in zip(joint.parameters(), one.parameters()):
            torch.testing.assert_close(p[i : i + 1], q, rtol=1e-5, atol=1e-6)


def test_weights_restored_before_base_step():
    seen: list[list[torch.Tensor]] = []

    class Recorder(torch.optim.SGD):
        def step(self, closure=None):
            seen.append([p.detach().clone() for g in self.param_groups for p in g["params"]])
            return super().step(closure)

    model = Stacked(2)
    x, y = _data(2)
    opt = SAM(model.parameters(), base=Recorder, rho=0.5, lr=0.1)
    before = _params(model)
    opt.step(lambda: (opt.zero_grad(), _loss(model, x, y).backward())[0] or torch.tensor(0.0))
    assert len(seen) == 1
    for a, b in zip(seen[0], before):
        assert torch.equal(a, b)


def test_sam_gradient_on_a_quadratic():
    torch.manual_seed(0)
    q = torch.randn(6, 6, dtype=torch.float64)
    a = q @ q.T + torch.eye(6, dtype=torch.float64)  # SPD
    x = nn.Parameter(torch.randn(6, dtype=torch.float64))
    x0 = x.detach().clone()
    rho = 0.3
    opt = SAM([x], rho=rho, lr=0.0)

    def closure():
        opt.zero_grad()
        loss = 0.5 * x @ a @ x
        loss.backward()
        return loss

    opt.step(closure)
    g = a @ x0
    expected = a @ (x0 + rho * g / g.norm())
    torch.testing.assert_close(x.grad, expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(x.detach(), x0)  # lr = 0: restored exactly


# ------------------------------------------------------------------ persistence, schedulers, BN
@pytest.mark.parametrize("cls", [VaSSO, FriendlySAM, ASAM])
def test_state_dict_round_trip_continues_identically(cls):
    batches = _batches(2)
    model = Stacked(2)
    group = [{"params": list(model.parameters()), "ensemble": True}]
    opt = cls(group, rho=0.1, lr=0.05, momentum=0.9, track=True)
    _train(model, opt, batches, 4)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, buf)
    ref_losses = _train(model, opt, batches, 5)
    ref_stats = opt.direction_stats()["ensemble"]

    buf.seek(0)
    saved = torch.load(buf, weights_only=False)
    twin = Stacked(2, seed=99)
    twin.load_state_dict(saved["model"])
    opt2 = cls([{"params": list(twin.parameters()), "ensemble": True}], lr=1.0, track=True)
    opt2.load_state_dict(saved["opt"])
    assert opt2.param_groups is opt2.base.param_groups
    assert opt2.param_groups[0]["lr"] == 0.05 and opt2.param_groups[0]["rho"] == 0.1
    p0 = next(iter(twin.parameters()))
    assert "momentum_buffer" in opt2.base.state[p0]
    if cls is VaSSO:
        assert "ema" in opt2.state[p0]
    assert _train(twin, opt2, batches, 5) == ref_losses
    for p, q in zip(model.parameters(), twin.parameters()):
        assert torch.equal(p, q)
    stats = opt2.direction_stats()["ensemble"]
    assert torch.equal(stats["cos_consecutive"], ref_stats["cos_consecutive"])


def test_lr_scheduler_drives_the_base():
    model = Stacked(1)
    opt = VaSSO(model.parameters(), rho=0.1, lr=0.2, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, y = _data(1)
    for _ in range(3):
        _train(model, opt, [(x, y)], 1)
        sched.step()
    assert opt.base.param_groups[0]["lr"] == pytest.approx(0.2 * 0.5**3)
    assert opt.param_groups is opt.base.param_groups


class BNNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5, 6)
        self.bn = nn.BatchNorm1d(6)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        return self.out(self.bn(self.fc(x)).relu())


def test_batchnorm_running_stats_update_once_per_step():
    torch.manual_seed(0)
    net, ref = BNNet(), BNNet()
    ref.load_state_dict(net.state_dict())
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    opt = SAM(net.parameters(), rho=0.5, lr=0.1, model=net)

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        ref(x)  # one forward at the unperturbed weights
    assert int(net.bn.num_batches_tracked) == 1
    assert torch.equal(net.bn.running_mean, ref.bn.running_mean)
    assert torch.equal(net.bn.running_var, ref.bn.running_var)
    assert net.bn.track_running_stats  # restored after the step

    # without model= (and no context manager) the perturbed pass updates them a second time
    naive = SAM(ref.parameters(), rho=0.5, lr=0.1)
    naive.step(lambda: nn.functional.cross_entropy(ref(x), y).backward())
    assert int(ref.bn.num_batches_tracked) == 3


def test_disable_running_stats_keeps_buffers_and_uses_batch_stats():
    torch.manual_seed(0)
    net = BNNet().train()
    x = torch.randn(8, 5)
    before = net.bn.running_mean.clone()
    with disable_running_stats(net):
        out = net(x)
    assert torch.equal(net.bn.running_mean, before)
    assert int(net.bn.num_batches_tracked) == 0
    torch.testing.assert_close(out, net(x))  # same batch-statistics forward


# ------------------------------------------------------------------ statistics
def test_direction_stats_match_a_direct_computation():
    """Linear loss w·c_t with lr = 0: the SAM direction is c_t/‖c_t‖, VaSSO's the EMA's."""
    torch.manual_seed(0)
    cs = [torch.tensor([1.0, 0.0, 0.0]) + 0.8 * torch.randn(3) for _ in range(12)]
    out = {}
    for name, theta in [("sam", 1.0), ("vasso", 0.2)]:
        w = nn.Parameter(torch.zeros(3))
        opt = VaSSO([w], rho=0.1, theta=theta, lr=0.0, track=True)
        for c in cs:
            opt.zero_grad()
            (w @ c).backward()
            opt.first_step()
            (w @ c).backward()
            opt.second_step()
        out[name] = opt.direction_stats(reset=True)["global"]
        d, us = None, []
        for c in cs:
            d = c.clone() if d is None else (1 - theta) * d + theta * c
            us.append(d / d.norm())
        cos = torch.stack([us[i] @ us[i - 1] for i in range(1, len(us))]).mean()
        var = 1 - torch.stack(us).mean(0).square().sum()
        assert float(out[name]["cos_consecutive"][0]) == pytest.approx(float(cos), abs=1e-5)
        assert float(out[name]["variance"][0]) == pytest.approx(float(var), abs=1e-5)
        assert out[name]["steps"] == 12
        assert opt.direction_stats() == {}  # reset
    assert out["vasso"]["variance"][0] < out["sam"]["variance"][0]
    assert out["vasso"]["cos_consecutive"][0] > out["sam"]["cos_consecutive"][0]


def test_direction_stats_are_per_member():
    members = 3
    model = Stacked(members)
    opt = SAM(
        [{"params": list(model.parameters()), "ensemble": True}], rho=0.1, lr=0.05, track=True
    )
    _train(model, opt, _batches(members), 6)
    st = opt.direction_stats()["ensemble"]
    assert st["cos_consecutive"].shape == (members,) and st["variance"].shape == (members,)
    assert st["steps"] == 6
    assert bool(((st["variance"] >= 0) & (st["variance"] <= 1)).all())
    assert len(set(st["variance"].tolist())) == members


# ------------------------------------------------------------------ validation and registry
@pytest.mark.parametrize(
    ("cls", "kw", "match"),
    [
        (SAM, {"rho": -0.1}, "rho must be"),
        (SAM, {"rho": float("nan")}, "rho must be"),
        (SAM, {"rho": "0.1"}, "rho must be"),
        (ASAM, {"rho": -1.0}, "rho must be"),
        (VaSSO, {"theta": 0.0}, r"theta must be in \(0, 1\], got 0.0"),
        (VaSSO, {"theta": 1.5}, r"theta must be in \(0, 1\]"),
        (FriendlySAM, {"theta": -0.2}, "theta must be"),
        (FriendlySAM, {"sigma": 2.0}, "sigma must be in"),
        (SAM, {"base": "sam"}, "one-pass"),
        (SAM, {"base": VaSSO}, "one-pass"),
        (SAM, {"base": 3}, "base must be"),
        (SAM, {"base": "rmsprop-x"}, "unknown optimizer"),
    ],
)
def test_bad_hyperparameters_raise(cls, kw, match):
    with pytest.raises(ValueError, match=match):
        cls(Stacked(1).parameters(), lr=0.1, **kw)


def test_bad_group_hyperparameters_raise():
    model = Stacked(1)
    with pytest.raises(ValueError, match="theta"):
        VaSSO([{"params": list(model.parameters()), "theta": 2.0}], lr=0.1)
    with pytest.raises(ValueError, match="rho"):
        SAM([{"params": list(model.parameters()), "rho": -1.0}], lr=0.1)


def test_step_without_closure_raises():
    opt = SAM(Stacked(1).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="needs a closure"):
        opt.step()


def test_registry_builders_for_the_cli():
    for name in ("sam", "asam", "vasso", "fsam", "sgd", "adam", "adamw"):
        assert name in OPTIMIZERS
    assert OPTIMIZERS.meta("vasso")["params"] == {
        "base": "sgd",
        "rho": 0.05,
        "theta": 0.9,
        "momentum": 0.9,
    }
    model = Stacked(1)
    opt = build("vasso", model.parameters(), lr=0.1, rho=0.1, theta=0.4, weight_decay=5e-4)
    assert isinstance(opt, VaSSO) and isinstance(opt.base, torch.optim.SGD)
    g = opt.param_groups[0]
    assert (g["rho"], g["theta"], g["momentum"], g["weight_decay"]) == (0.1, 0.4, 0.9, 5e-4)
    adam = build("sam", model.parameters(), lr=1e-3, base="adam")  # momentum not passed to Adam
    assert isinstance(adam.base, torch.optim.Adam)
    assert isinstance(build("asam", model.parameters(), lr=0.1), ASAM)
    assert isinstance(build("fsam", model.parameters(), lr=0.1, sigma=0.5), FriendlySAM)
    with pytest.raises(ValueError, match="theta"):
        build("vasso", model.parameters(), lr=0.1, theta=1.2)


# ------------------------------------------------------------------ a straightforward reference
def _reference_run(
    rule, members, batches, steps, rho, lr, mom, wd, theta=0.9, sigma=1.0, eta=0.01, adaptive=False
):
    """SAM-family training written out tensor by tensor: per-member ‖T v‖, ε = ρ T² v/‖T v‖,
    gradient at w + ε, then SGD with momentum (buf = μ buf + g + λ w; w ← w − lr buf)."""
    model = Stacked(members)
    ws = [p.detach().clone() for p in model.parameters()]
    bufs, ema = None, None

    def grads_at(weights, x, y):
        with torch.no_grad():
            for p, w in zip(model.parameters(), weights):
                p.copy_(w)
        model.zero_grad()
        _loss(model, x, y).backward()
        return [p.grad.detach().clone() for p in model.parameters()]

    for t in range(steps):
        x, y = batches[t % len(batches)]
        g = grads_at(ws, x, y)
        if rule == "vasso":
            ema = g if ema is None else [(1 - theta) * d + theta * gi for d, gi in zip(ema, g)]
            v = ema
        elif rule == "fsam":
            v = g if ema is None else [gi - sigma * m for gi, m in zip(g, ema)]
            ema = g if ema is None else [(1 - theta) * m + theta * gi for m, gi in zip(ema, g)]
        else:
            v = g
        ts = [
            (
                w.abs() + eta
                if ((rule == "asam" or adaptive) and w.dim() >= 3)
                else torch.ones_like(w)
            )
            for w in ws
        ]
        sq = sum((ti * vi).reshape(members, -1).square().sum(1) for ti, vi in zip(ts, v))
        scale = rho / (sq.sqrt() + 1e-12)  # (M,)
        eps = [
            scale.reshape(-1, *([1] * (w.dim() - 1))) * ti * ti * vi for w, ti, vi in zip(ws, ts, v)
        ]
        g_sam = grads_at([w + e for w, e in zip(ws, eps)], x, y)
        d = [gi + wd * w for gi, w in zip(g_sam, ws)]
        bufs = d if bufs is None else [mom * b + di for b, di in zip(bufs, d)]
        ws = [w - lr * b for w, b in zip(ws, bufs)]
    return ws


@pytest.mark.parametrize(
    ("cls", "rule", "adaptive"),
    [
        (SAM, "sam", False),
        (ASAM, "asam", True),
        (VaSSO, "vasso", False),
        (FriendlySAM, "fsam", False),
        (VaSSO, "vasso", True),
        (FriendlySAM, "fsam", True),
    ],
)
@pytest.mark.parametrize("tuned", [False, True], ids=["zeroed-grads", "grads-to-none"])
def test_fused_steps_match_a_straightforward_reference(cls, rule, adaptive, tuned, monkeypatch):
    """Both ways of clearing the gradients for the second pass: zeroed in place (glibc's
    default allocator) and set to None (allocator tuned, as in the CLI)."""
    from noisylab.optim import sharpness

    monkeypatch.setattr(sharpness, "allocator_tuned", lambda: tuned)
    members, steps = 3, 6
    batches = _batches(members)
    kw = {"rho": 0.2, "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3}
    if adaptive and cls is not ASAM:
        kw["adaptive"] = True
    if cls is FriendlySAM:
        kw.update(theta=0.3, sigma=0.7)
    elif cls is VaSSO:
        kw.update(theta=0.4)
    model = Stacked(members)
    opt = cls([{"params": list(model.parameters()), "ensemble": True}], **kw)
    _train(model, opt, batches, steps)
    ref = _reference_run(
        rule,
        members,
        batches,
        steps,
        rho=0.2,
        lr=0.1,
        mom=0.9,
        wd=1e-3,
        theta=kw.get("theta", 0.9),
        sigma=kw.get("sigma", 1.0),
        adaptive=adaptive,
    )
    for p, r in zip(model.parameters(), ref):
        torch.testing.assert_close(p.detach(), r, rtol=0, atol=1e-6)
    assert any(
        not torch.allclose(p, q) for p, q in zip(model.parameters(), Stacked(members).parameters())
    )


def test_step_allocates_no_new_weight_buffers_and_restores_the_same_storage():
    model = Stacked(2)
    opt = SAM([{"params": list(model.parameters()), "ensemble": True}], rho=0.1, lr=0.1)
    ptrs = [p.data_ptr() for p in model.parameters()]
    _train(model, opt, _batches(2), 3)
    assert [p.data_ptr() for p in model.parameters()] == ptrs  # w swapped back, not copied


# ------------------------------------------------------------------ ASAM conventions
class BNNetNamed(nn.Module):
    """Linear → BatchNorm → Linear, float64: weights, biases and a BatchNorm scale."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.fc = nn.Linear(5, 6)
        self.bn = nn.BatchNorm1d(6)
        self.out = nn.Linear(6, 3)
        with torch.no_grad():
            self.bn.weight.uniform_(0.5, 1.5)
            self.bn.bias.uniform_(-0.3, 0.3)
        self.double()

    def forward(self, x):
        return self.out(self.bn(self.fc(x)).relu())


def _asam_eps(rescale, eta, **extra):
    net = BNNetNamed()
    x = torch.randn(16, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.arange(16) % 3
    opt = ASAM(net.parameters(), rho=0.7, eta=eta, rescale=rescale, lr=0.1, **extra)
    nn.functional.cross_entropy(net(x), y).backward()
    named = [(n, p.detach().clone(), p.grad.clone()) for n, p in net.named_parameters()]
    opt.first_step()
    eps = [p.detach() - w for (_, w, _), p in zip(named, net.parameters())]
    opt.second_step()
    return named, eps, net


def test_asam_rescale_all_eta_zero_is_davda54():
    """davda54/sam, adaptive=True: ‖(|w| g)‖ over every parameter, ε = w² g ρ/(‖·‖ + 1e-12)."""
    named, eps, _ = _asam_eps("all", 0.0)
    norm = torch.norm(torch.stack([(w.abs() * g).norm(p=2) for _, w, g in named]), p=2)
    scale = 0.7 / (norm + 1e-12)
    for (_, w, g), e in zip(named, eps):
        torch.testing.assert_close(e, torch.pow(w, 2) * g * scale, rtol=1e-12, atol=1e-15)
    _, default_eps, _ = _asam_eps("matrices", 0.0)
    names = [n for n, _, _ in named]
    for name in ("out.bias", "bn.weight", "bn.bias"):  # rescaled only under "all"
        i = names.index(name)
        assert not torch.allclose(default_eps[i], eps[i], rtol=1e-3, atol=0), name


def test_asam_rescale_weights_is_the_official_asam_rule():
    """SamsungLabs/ASAM: T = |w| + η on names containing "weight" (BN scale too), not biases;
    g ← T g, ‖·‖ over all, ε = ρ T (T g) / (‖·‖ + 1e-16)."""
    eta = 0.01
    net = BNNetNamed()
    x = torch.randn(16, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.arange(16) % 3
    opt = ASAM(net.parameters(), rho=0.7, eta=eta, rescale="weights", model=net, lr=0.1)
    nn.functional.cross_entropy(net(x), y).backward()
    before = {n: (p.detach().clone(), p.grad.clone()) for n, p in net.named_parameters()}
    opt.first_step()
    tg = {}
    for n, (w, g) in before.items():
        tg[n] = g * (w.abs() + eta) if "weight" in n else g.clone()
    norm = torch.norm(torch.stack([torch.norm(v, p=2) for v in tg.values()]), p=2) + 1e-16
    for n, p in net.named_parameters():
        w, _ = before[n]
        e = tg[n] * (w.abs() + eta) if "weight" in n else tg[n]
        torch.testing.assert_close(p.detach() - w, e * (0.7 / norm), rtol=1e-10, atol=1e-15)
    assert "bn.weight" in before and before["bn.weight"][0].dim() == 1  # a 1-D scale, rescaled
    opt.second_step()


def test_asam_rescale_matrices_is_noisylabs_rule():
    """Default: T = |w| + η on tensors with >= 2 dims only (not biases, not the BN scale)."""
    eta = 0.01
    named, eps, _ = _asam_eps("matrices", eta)
    ts = [(w.abs() + eta) if w.dim() >= 2 else torch.ones_like(w) for _, w, _ in named]
    norm = torch.sqrt(sum(((t * g) ** 2).sum() for t, (_, _, g) in zip(ts, named)))
    for t, (_, _, g), e in zip(ts, named, eps):
        torch.testing.assert_close(e, 0.7 * t * t * g / (norm + 1e-12), rtol=1e-12, atol=1e-15)
    names = [n for n, _, _ in named]
    _, all_eps, _ = _asam_eps("all", eta)
    for name in ("out.bias", "bn.weight", "bn.bias"):  # not rescaled by the default rule
        i = names.index(name)
        assert not torch.allclose(eps[i], all_eps[i], rtol=1e-3, atol=0), name


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"rescale": "bias"}, "rescale must be one of"),
        ({"rescale": "weights"}, "needs model="),
        ({"eta": -0.1}, "eta must be"),
        ({"eta": float("inf")}, "eta must be"),
    ],
)
def test_bad_asam_options_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        ASAM(Stacked(1).parameters(), lr=0.1, **kw)


# ------------------------------------------------------------------ module layout and registry
def test_sam_builder_does_not_shadow_the_module():
    import importlib

    import noisylab.optim as optim

    mod = importlib.import_module("noisylab.optim.sharpness")
    assert mod.SAM is SAM and mod.ASAM is ASAM
    assert callable(optim.sam) and not isinstance(optim.sam, type(mod))
    assert isinstance(optim.sam(Stacked(1).parameters(), lr=0.1), SAM)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("noisylab.optim.sam")
    for name in optim.__all__:
        assert getattr(optim, name) is not None
    for name in (
        "ASAM",
        "SAM",
        "VaSSO",
        "FriendlySAM",
        "DirectionTracker",
        "disable_running_stats",
    ):
        assert getattr(optim, name) is getattr(mod, name)


def test_registry_params_are_the_builders_signature_defaults():
    import inspect

    for name in OPTIMIZERS:
        builder = OPTIMIZERS.get(name)
        sig = inspect.signature(builder).parameters
        expected = {
            k: p.default
            for k, p in sig.items()
            if k not in ("params", "lr", "weight_decay") and p.kind is not p.VAR_KEYWORD
        }
        assert OPTIMIZERS.meta(name)["params"] == expected, name
    assert OPTIMIZERS.meta("sgd")["params"] == {"momentum": 0.9, "nesterov": False}
    assert OPTIMIZERS.meta("asam")["params"]["rescale"] == "matrices"
    for name in ("sam", "asam", "vasso", "fsam"):  # the defaults are the ones used
        opt = build(name, Stacked(1).parameters(), lr=0.1)
        for k, v in OPTIMIZERS.meta(name)["params"].items():
            if k in opt.param_groups[0]:
                assert opt.param_groups[0][k] == v, (name, k)
        assert opt.param_groups[0]["momentum"] == OPTIMIZERS.meta(name)["params"]["momentum"]
    assert build("asam", Stacked(1).parameters(), lr=0.1).rescale == "matrices"


def test_zero_grad_after_first_step_still_zeroes_written_gradients(monkeypatch):
    from noisylab.optim import sharpness

    # the zeroing path (glibc's default allocator); an in-process CLI test may have tuned it
    monkeypatch.setattr(sharpness, "allocator_tuned", lambda: False)
    model = Stacked(2)
    x, y = _data(2)
    opt = SAM(model.parameters(), rho=0.1, lr=0.1)
    _loss(model, x, y).backward()
    opt.first_step(zero_grad=True)
    assert all(float(p.grad.abs().sum()) == 0 for p in model.parameters())
    _loss(model, x, y).backward()  # written since first_step zeroed them
    assert any(float(p.grad.abs().sum()) > 0 for p in model.parameters())
    opt.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in model.parameters())
    _loss(model, x, y).backward()
    opt.second_step()
    opt.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("members", [1, 4])
def test_member_norm_fused_and_per_tensor_paths_agree(members):
    g = torch.Generator().manual_seed(0)
    vs = [torch.randn(members, *shape, generator=g) for shape in [(5, 7), (7,), (7, 3), (3,)]]
    factors = torch.tensor([0.01, 1.0, 0.01, 1.0])
    expected = torch.sqrt(
        sum((f * v).reshape(members, -1).square().sum(1) for f, v in zip(factors, vs))
    )
    for fused in (True, False):
        torch.testing.assert_close(SAM._member_norm(vs, factors, fused=fused), expected)
        plain = torch.sqrt(sum(v.reshape(members, -1).square().sum(1) for v in vs))
        torch.testing.assert_close(SAM._member_norm(vs, fused=fused), plain)
    with pytest.raises(ValueError, match="member count"):
        SAM._member_norm([torch.zeros(2, 3), torch.zeros(3, 3)])
