"""Forward + backward time of every registered loss over a plain gather-first reference.

Each reference below is the loss's formula written directly in torch, the label's term
gathered before any per-class work wherever the formula allows, with no validation: the
floor a library implementation can reach. It does not import noisylab's code (only the
registry, for the names and default hyper-parameters). The target is a ratio ≤ 1.1 for
every loss.

Inputs: (B, K) = (1024, 100) logits and the member-axis case (M, B, K) = (8, 128, 10),
``reduction='mean'``, one thread. Repeats are interleaved (ours, reference, ours, …) so that
machine load hits both alike: call by call, alternating which goes first; each ratio is the
median over rounds of (our total time / the reference's total time in the same round).
Times are CPU seconds of this process. Two further columns tell extra work from machine
noise when a median ratio misses: ``ratio_fastest``, the ratio of the two fastest single
calls (the least disturbed by load), and ``ops``/``reference_ops``, the number of ATen
operator calls in one forward + backward of each (a count no load can move). The target is
judged on the median ratio.

Usage: ``python benchmarks/losses.py [--json] [--quick] [--only NAME ...]``
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from noisylab import losses
from noisylab.runtime import machine

Ref = Callable[..., torch.Tensor]


def _lp(z: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(z, -1)


def _at(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return t.gather(-1, y.unsqueeze(-1)).squeeze(-1)


def _p_y(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _at(torch.softmax(z, -1), y)


def ce(z, y):
    return torch.logsumexp(z, -1) - _at(z, y)


def mae(z, y, scale):
    return scale * (1 - _p_y(z, y))


def gce_of(z, y, q):
    return (1 - _p_y(z, y) ** q) / q


def rce_of(p_y, min_prob=1e-4):
    return -math.log(min_prob) * (1 - p_y)


def nce_of(lp, y):
    return _at(lp, y) / lp.sum(-1)


def ngce_of(z, y, q):
    pq = torch.softmax(z, -1) ** q
    return (1 - _at(pq, y)) / (z.shape[-1] - pq.sum(-1))


def focal_of(lp, gamma):
    return -((1 - lp.exp()) ** gamma) * lp


def nfl_of(lp, y, gamma):
    fl = focal_of(lp, gamma)
    return _at(fl, y) / fl.sum(-1)


def agce_of(p_y, a, q):
    return ((a + 1) ** q - (a + p_y) ** q) / q


def aul_of(p_y, a, q):
    return ((a - p_y) ** q - (a - 1) ** q) / q


def ael_of(p_y, a):
    return torch.exp(-p_y / a)


def anorm_of(z, y, a, p):
    pk = torch.softmax(z, -1)
    p_y = _at(pk, y)
    return ((a - p_y) ** p + (pk**p).sum(-1) - p_y**p - (a - 1) ** p) / p


def nnce_of(lp, y, min_prob):
    f = math.log(min_prob)
    s = lp.clamp_min(f) - f
    return 1 - _at(s, y) / s.sum(-1)


def nnfl_of(lp, y, gamma, min_prob):
    f = math.log(min_prob)
    fl = focal_of(lp.clamp_min(f), gamma)
    a = -((1 - min_prob) ** gamma) * f
    return 1 - (a - _at(fl, y)) / (z_k(lp) * a - fl.sum(-1))


def z_k(t):
    return t.shape[-1]


def _nce_p(z, y):  # NCE and p_y from one log-softmax
    lp = _lp(z)
    return nce_of(lp, y), _at(lp, y).exp()


REFERENCES: dict[str, Ref] = {
    "ce": lambda z, y: ce(z, y),
    "mse": lambda z, y: (z**2).sum(-1) - 2 * _at(z, y) + 1,
    "mae": lambda z, y, scale: mae(z, y, scale),
    "gce": lambda z, y, q, clamp: gce_of(z, y, q),
    "rce": lambda z, y, min_prob, scale, clamp: scale * rce_of(_p_y(z, y), min_prob),
    "sce": lambda z, y, alpha, beta, min_prob, clamp: (
        alpha * ce(z, y) + beta * rce_of(_p_y(z, y), min_prob)
    ),
    "nce": lambda z, y, scale: scale * nce_of(_lp(z), y),
    "ngce": lambda z, y, q, scale, clamp: scale * ngce_of(z, y, q),
    "focal": lambda z, y, gamma, alpha, detach_focal: focal_of(_at(_lp(z), y), gamma),
    "nfl": lambda z, y, gamma, scale, detach_focal: scale * nfl_of(_lp(z), y, gamma),
    "nmae": lambda z, y, scale: scale * (1 - _p_y(z, y)) / (z.shape[-1] - 1),
    "nrce": lambda z, y, scale, clamp: scale * (1 - _p_y(z, y)) / (z.shape[-1] - 1),
    "agce": lambda z, y, a, q, scale: scale * agce_of(_p_y(z, y), a, q),
    "aul": lambda z, y, a, q, scale: scale * aul_of(_p_y(z, y), a, q),
    "ael": lambda z, y, a, scale: scale * ael_of(_p_y(z, y), a),
    "anorm": lambda z, y, a, p, scale, clamp: scale * anorm_of(z, y, a, p),
    "nnce": lambda z, y, min_prob: nnce_of(_lp(z), y, min_prob),
    "nnfl": lambda z, y, gamma, min_prob, detach_focal: nnfl_of(_lp(z), y, gamma, min_prob),
    "taylor-ce": lambda z, y, t: sum((1 - _p_y(z, y)) ** j / j for j in range(1, t + 1)),
    "poly1": lambda z, y, epsilon: _poly1(z, y, epsilon),
    "label-smoothing": lambda z, y, epsilon: _ls(z, y, epsilon),
    "bootstrap-soft": lambda z, y, beta: _bsoft(z, y, beta),
    "bootstrap-hard": lambda z, y, beta: _bhard(z, y, beta),
    "unhinged": lambda z, y, logit_norm, scale: _unhinged(z, y, scale),
    "sgce": lambda z, y, q: _sgce(z, y, q),
    "alpha-mae": lambda z, y, alpha: (1 - _at(torch.softmax(alpha * z, -1), y)) / alpha,
    "nlnl": lambda z, y, min_prob: _nlnl(z, y, min_prob),
    "dmi": lambda z, y, eps: _dmi(z, y, eps),
    "nce+rce": lambda z, y, alpha, beta, clamp: _pair(z, y, alpha, beta, rce_of),
    "nce+mae": lambda z, y, alpha, beta: _pair(z, y, alpha, beta, lambda p: 1 - p),
    "nce+agce": lambda z, y, alpha, beta, a, q: _pair(
        z, y, alpha, beta, lambda p: agce_of(p, a, q)
    ),
    "nce+aul": lambda z, y, alpha, beta, a, q: _pair(z, y, alpha, beta, lambda p: aul_of(p, a, q)),
    "nce+ael": lambda z, y, alpha, beta, a: _pair(z, y, alpha, beta, lambda p: ael_of(p, a)),
    "nce+anorm": lambda z, y, alpha, beta, a, p, clamp: (
        alpha * nce_of(_lp(z), y) + beta * anorm_of(z, y, a, p)
    ),
    "anorm+rce": lambda z, y, alpha, beta, a, p, clamp: (
        alpha * anorm_of(z, y, a, p) + beta * rce_of(_p_y(z, y))
    ),
    "nfl+rce": lambda z, y, alpha, beta, gamma, detach_focal, clamp: _nfl_pair(
        z, y, alpha, beta, gamma, rce_of
    ),
    "nfl+mae": lambda z, y, alpha, beta, gamma, detach_focal: _nfl_pair(
        z, y, alpha, beta, gamma, lambda p: 1 - p
    ),
    "nfl+agce": lambda z, y, alpha, beta, a, q, gamma, detach_focal: _nfl_pair(
        z, y, alpha, beta, gamma, lambda p: agce_of(p, a, q)
    ),
    "nfl+aul": lambda z, y, alpha, beta, a, q, gamma, detach_focal: _nfl_pair(
        z, y, alpha, beta, gamma, lambda p: aul_of(p, a, q)
    ),
    "nfl+ael": lambda z, y, alpha, beta, a, gamma, detach_focal: _nfl_pair(
        z, y, alpha, beta, gamma, lambda p: ael_of(p, a)
    ),
    "nfl+nce": lambda z, y, alpha, beta, gamma, detach_focal: _nfl_nce(z, y, alpha, beta, gamma),
    "gce+mae": lambda z, y, alpha, beta, q, clamp: _gce_pair(z, y, alpha, beta, q, lambda p: 1 - p),
    "gce+rce": lambda z, y, alpha, beta, q, clamp: _gce_pair(z, y, alpha, beta, q, rce_of),
    "gce+nce": lambda z, y, alpha, beta, q, clamp: _gce_nce(z, y, alpha, beta, q),
    "ngce+nce": lambda z, y, alpha, beta, q, clamp: (
        alpha * ngce_of(z, y, q) + beta * nce_of(_lp(z), y)
    ),
    "ngce+mae": lambda z, y, alpha, beta, q, clamp: _ngce_pair(
        z, y, alpha, beta, q, lambda p: 1 - p
    ),
    "ngce+rce": lambda z, y, alpha, beta, q, clamp: _ngce_pair(z, y, alpha, beta, q, rce_of),
    "mae+rce": lambda z, y, alpha, beta, clamp: _mae_rce(z, y, alpha, beta),
    "anl-ce": lambda z, y, alpha, beta, delta, min_prob: _anl_ce(z, y, alpha, beta, min_prob),
    "anl-fl": lambda z, y, alpha, beta, delta, gamma, min_prob, detach_focal: _anl_fl(
        z, y, alpha, beta, gamma, min_prob
    ),
    "anl-ce-er": lambda z, y, alpha, beta, delta, lamb, min_prob: _anl_ce_er(
        z, y, alpha, beta, lamb, min_prob
    ),
}


def _poly1(z, y, eps):
    lp_y = _at(_lp(z), y)
    return -lp_y + eps * (1 - lp_y.exp())


def _ls(z, y, eps):
    lp = _lp(z)
    return -(1 - eps) * _at(lp, y) - eps * lp.mean(-1)


def _bsoft(z, y, beta):
    lp = _lp(z)
    return -beta * _at(lp, y) - (1 - beta) * (lp.exp() * lp).sum(-1)


def _bhard(z, y, beta):
    lp = _lp(z)
    return -beta * _at(lp, y) - (1 - beta) * lp.max(-1).values


def _unhinged(z, y, scale):
    # −z̃_y: the normalised centred logits z̃ sum to zero, so only the label's is needed
    mean = z.mean(-1, keepdim=True)
    c = z - mean
    r = torch.sqrt((c * c).sum(-1) + 1e-6)
    return scale * (mean.squeeze(-1) - _at(z, y)) / r


def _sgce(z, y, q):
    pq = torch.exp(q * _lp(z))
    return (pq.mean(-1) - _at(pq, y)) / q


def _nlnl(z, y, min_prob):
    nl = -torch.log((1 - torch.softmax(z, -1)).clamp_min(min_prob))
    return (nl.sum(-1) - _at(nl, y)) / (z.shape[-1] - 1)


def _dmi(z, y, eps):
    p = torch.softmax(z, -1)
    u = p.transpose(-1, -2) @ F.one_hot(y, z.shape[-1]).to(p.dtype)
    value = -torch.log(torch.linalg.det(u.double()).abs() + eps)  # (…)
    return value.to(z.dtype).unsqueeze(-1)


def _pair(z, y, alpha, beta, passive):
    nce, p_y = _nce_p(z, y)
    return alpha * nce + beta * passive(p_y)


def _nfl_pair(z, y, alpha, beta, gamma, second):
    lp = _lp(z)
    return alpha * nfl_of(lp, y, gamma) + beta * second(_at(lp, y).exp())


def _nfl_nce(z, y, alpha, beta, gamma):
    lp = _lp(z)
    return alpha * nfl_of(lp, y, gamma) + beta * nce_of(lp, y)


def _gce_pair(z, y, alpha, beta, q, second):
    p_y = _p_y(z, y)
    return alpha * (1 - p_y**q) / q + beta * second(p_y)


def _gce_nce(z, y, alpha, beta, q):
    lp = _lp(z)
    return alpha * (1 - torch.exp(q * _at(lp, y))) / q + beta * nce_of(lp, y)


def _ngce_pair(z, y, alpha, beta, q, second):
    p = torch.softmax(z, -1)
    pq = p**q
    p_y = _at(p, y)
    return alpha * (1 - p_y**q) / (z.shape[-1] - pq.sum(-1)) + beta * second(p_y)


def _mae_rce(z, y, alpha, beta):
    p_y = _p_y(z, y)
    return alpha * (1 - p_y) + beta * rce_of(p_y)


def _anl_ce(z, y, alpha, beta, min_prob):
    lp = _lp(z)
    return alpha * nce_of(lp, y) + beta * nnce_of(lp, y, min_prob)


def _anl_fl(z, y, alpha, beta, gamma, min_prob):
    lp = _lp(z)
    return alpha * nfl_of(lp, y, gamma) + beta * nnfl_of(lp, y, gamma, min_prob)


def _anl_ce_er(z, y, alpha, beta, lamb, min_prob):
    lp = _lp(z)
    mean_p = lp.exp().mean(-2, keepdim=True)  # (…, 1, K)
    er = math.log(z.shape[-1]) + (mean_p * mean_p.clamp_min(min_prob).log()).sum(-1)
    return alpha * nce_of(lp, y) + beta * nnce_of(lp, y, min_prob) + lamb * er


def _timed(fn: Callable[[], torch.Tensor], z: torch.Tensor) -> float:
    z.grad = None
    t0 = time.process_time()
    fn().backward()
    return time.process_time() - t0


class _CountOps(TorchDispatchMode):
    """Counts the ATen operator calls dispatched inside the block (backward ones too)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += 1
        return func(*args, **(kwargs or {}))


def _op_count(fn: Callable[[], torch.Tensor], z: torch.Tensor) -> int:
    """ATen operator calls of one forward + backward (a count of work that load cannot move)."""
    z.grad = None
    with _CountOps() as count:
        fn().backward()
    return count.calls


def check_reference(name: str, params: dict[str, Any], z: torch.Tensor, y: torch.Tensor):
    """The reference must compute the same value as the module (else the ratio means nothing)."""
    ours = losses.get(name)(z.double(), y)
    ref = REFERENCES[name](z.double(), y, **params).mean()
    if not torch.allclose(ours, ref, rtol=1e-6, atol=1e-9):
        raise AssertionError(f"reference for {name!r} disagrees: {float(ours)} vs {float(ref)}")


def measure(name: str, shape: tuple[int, ...], rounds: int, k: int) -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    z = (3.0 * torch.randn(*shape, generator=g)).requires_grad_(True)
    y = torch.randint(0, shape[-1], shape[:-1], generator=g)
    params = dict(losses.LOSSES.meta(name)["params"])
    check_reference(name, params, z.detach(), y)
    module = losses.get(name)
    reference = REFERENCES[name]
    ours = lambda: module(z, y)  # noqa: E731
    ref = lambda: reference(z, y, **params).mean()  # noqa: E731
    for _ in range(3):  # warm-up
        _timed(ours, z), _timed(ref, z)
    ratios, t_ours, t_ref = [], [], []
    calls_ours, calls_ref = [], []
    for _ in range(rounds):
        a = b = 0.0
        for i in range(k):  # interleaved call by call, alternating who goes first
            if i % 2:
                calls_ref.append(_timed(ref, z))
                calls_ours.append(_timed(ours, z))
            else:
                calls_ours.append(_timed(ours, z))
                calls_ref.append(_timed(ref, z))
            a += calls_ours[-1]
            b += calls_ref[-1]
        ratios.append(a / b)
        t_ours.append(a / k)
        t_ref.append(b / k)
    return {
        "loss": name,
        "shape": list(shape),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_fastest": round(min(calls_ours) / min(calls_ref), 3),
        "ops": _op_count(ours, z),
        "reference_ops": _op_count(ref, z),
        "ours_us": round(1e6 * statistics.median(t_ours), 1),
        "reference_us": round(1e6 * statistics.median(t_ref), 1),
        "rounds": rounds,
        "iters": k,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON record per loss")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and iterations")
    parser.add_argument("--only", nargs="*", default=None, help="loss names (default: all)")
    parser.add_argument("--target", type=float, default=1.1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = args.only or losses.LOSSES.names()
    missing = sorted(set(losses.LOSSES.names()) - set(REFERENCES))
    if missing:
        raise SystemExit(f"no reference for {missing}")
    rounds, k = (7, 5) if args.quick else (21, 20)
    records = []
    where = machine()
    if not args.json:
        print(f"{where['cpu']}, 1 thread")
    for shape in ((1024, 100), (8, 128, 10)):
        for name in names:
            rec = measure(name, shape, rounds, k)
            rec["meets_target"] = rec["ratio"] <= args.target
            rec["machine"] = where
            records.append(rec)
            if args.json:
                print(json.dumps(rec), flush=True)
            else:
                flag = "" if rec["meets_target"] else f"  > {args.target}"
                print(
                    f"{name:16s} {tuple(shape)!s:14s} ratio {rec['ratio']:.3f} "
                    f"(fastest calls {rec['ratio_fastest']:.3f})  "
                    f"ours {rec['ours_us']:8.1f} µs  reference {rec['reference_us']:8.1f} µs  "
                    f"ops {rec['ops']}/{rec['reference_ops']}{flag}",
                    flush=True,
                )
    if not args.json:
        worst = max(records, key=lambda r: r["ratio"])
        print(f"worst: {worst['loss']} {worst['shape']} {worst['ratio']:.3f}")


if __name__ == "__main__":
    main()
