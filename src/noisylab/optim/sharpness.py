"""Sharpness-aware wrappers around any torch optimiser: SAM, ASAM, VaSSO and FriendlySAM.

One step of every method here (Foret et al., ICLR 2021, Alg. 1) is

1. ``g = ∇L_B(w)``                                   (first forward/backward, at ``w``)
2. ``v = direction(g)``                               (the rule that differs between methods)
3. ``ε = ρ · T² v / ‖T v‖₂``                          (``T = I`` except for ASAM)
4. ``g_sam = ∇L_B(w + ε)``                            (second forward/backward, same batch)
5. restore ``w`` exactly, then ``w ← Base(w, g_sam)``.

The direction rules: SAM ``v = g``; VaSSO ``v = d_t = (1 − θ) d_{t−1} + θ g`` with ``d_0 = g_0``
(Li & Giannakis, NeurIPS 2023, Alg. 1); FriendlySAM ``v = g − σ m_{t−1}`` with
``m_t = (1 − θ) m_{t−1} + θ g`` (Li et al., CVPR 2024, Eq. 9). ASAM is SAM with the adaptive
metric ``T = |w| + η`` (Kwon et al., ICML 2021, Eq. 11); ``adaptive=True`` works with every rule.

The wrappers share ``param_groups`` with the base optimiser, so LR schedulers built on the
wrapper drive the base. A parameter group with ``"ensemble": True`` holds parameters with a
leading member axis M: the norm ``‖T v‖`` is then computed per member (sum of squares over all
dimensions but 0, across all ensemble parameters → (M,)), never across members.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn

from noisylab.checks import check_nonneg, check_probability
from noisylab.runtime import allocator_tuned

Closure = Callable[[], torch.Tensor]
_EPS = 1e-12  # added to ‖T v‖ so that a zero gradient gives ε = 0 instead of NaN

#: ASAM's ``rescale`` rules: which parameters get ``T = |w| + η`` (the others get T = 1).
RESCALE_RULES = {
    "matrices": "tensors with >= 2 dims per member (weights of linear/conv layers); noisylab's",
    "all": "every parameter, biases and normalisation parameters too (davda54/sam with eta=0)",
    "weights": "parameters whose name contains 'weight', BatchNorm scales too (official ASAM)",
}


@contextlib.contextmanager
def disable_running_stats(model: nn.Module) -> Iterator[None]:
    """Freeze BatchNorm running statistics inside the block (the perturbed pass).

    Every sub-module with a ``track_running_stats`` attribute and a ``running_mean`` buffer
    (``nn.BatchNorm1d/2d/3d``, ``SyncBatchNorm`` and ensemble BN layers following the same
    convention) gets ``track_running_stats = False`` for the duration: in training mode it still
    normalises with the batch statistics, but neither ``running_mean``/``running_var`` nor
    ``num_batches_tracked`` change, so running statistics are updated exactly once per SAM step
    (in the first, unperturbed pass). Eval mode is unaffected.

    Example
    -------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    >>> before = net[1].running_mean.clone()
    >>> with disable_running_stats(net):
    ...     _ = net(torch.randn(8, 3))
    >>> bool(torch.equal(before, net[1].running_mean))
    True
    """
    saved: list[tuple[nn.Module, bool]] = []
    for m in model.modules():
        if hasattr(m, "track_running_stats") and getattr(m, "running_mean", None) is not None:
            saved.append((m, bool(m.track_running_stats)))
            setattr(m, "track_running_stats", False)  # noqa: B010 (typed as Tensor | Module)
    try:
        yield
    finally:
        for m, flag in saved:
            setattr(m, "track_running_stats", flag)  # noqa: B010


def _resolve_base(base: Any, groups: list[dict], base_kwargs: dict[str, Any]) -> Any:
    """Build the base optimiser over the wrapper's (shared) param groups."""
    if isinstance(base, str):
        from noisylab.optim import OPTIMIZERS  # the registry lives in the package __init__

        builder = OPTIMIZERS.get(base)
        if OPTIMIZERS.meta(base).get("two_pass"):
            raise ValueError(f"base must be a one-pass optimiser (e.g. sgd, adam), got {base!r}")
        lr = base_kwargs.pop("lr", None)
        if lr is None:
            raise ValueError(f"base optimiser {base!r} needs lr=, got none")
        return builder(groups, lr=lr, **base_kwargs)
    if isinstance(base, type) and issubclass(base, torch.optim.Optimizer):
        if issubclass(base, SAM):
            raise ValueError(f"base must be a one-pass optimiser, got {base.__name__}")
        return base(groups, **base_kwargs)
    raise ValueError(
        f"base must be a torch.optim.Optimizer subclass or a registered name, got {base!r}"
    )


def accepts(base: Any, name: str) -> bool:
    """Whether the base optimiser (class or registry name) takes keyword ``name``."""
    if isinstance(base, str):
        from noisylab.optim import OPTIMIZERS

        fn: Any = OPTIMIZERS.get(base)
    else:
        fn = base
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    return name in sig.parameters


@dataclasses.dataclass
class _Plan:
    """One param group's layout and persistent work buffers (see :meth:`SAM._plan`)."""

    group: dict
    params: list[torch.Tensor]
    bucket: str  # "ensemble" (per-member norm) or "global"
    w: list[torch.Tensor]  # w + ε, swapped in as the parameters' data
    scaled: list[int]  # indices ASAM rescales
    scaled_set: frozenset[int]
    tv: list[torch.Tensor]  # T v (/ η when η > 0) for the scaled indices; |w| and then
    # T² v (/ η²) are held in the scaled parameters' w buffers until w + ε overwrites them
    shapes: list[tuple[int, ...]]  # view of the (M,) or (1,) scale that broadcasts


class DirectionTracker:
    """A handle on the direction statistics of the optimiser(s) it is passed to as ``track=``.

    Useful when the optimiser is built by someone else (e.g. ``noisylab.train.fit`` builds it
    from a name): pass ``optimizer_params={"track": tracker}`` and read
    ``tracker.stats(reset=True)`` from an epoch callback.
    """

    def __init__(self) -> None:
        self.optimizers: list[SAM] = []

    def attach(self, optimizer: SAM) -> None:
        self.optimizers.append(optimizer)

    def stats(self, reset: bool = False) -> dict[str, dict[str, Any]]:
        """:meth:`SAM.direction_stats` of the most recently attached optimiser ({} if none)."""
        if not self.optimizers:
            return {}
        return self.optimizers[-1].direction_stats(reset=reset)


class SAM(torch.optim.Optimizer):
    """Sharpness-Aware Minimisation wrapping any torch optimiser (Foret et al., ICLR 2021).

    ``ε = ρ · g / ‖g‖₂`` (Eq. 2 of the paper, the first-order solution of the inner max), then the
    base optimiser steps with ``∇L_B(w + ε)`` after the weights are restored. With
    ``adaptive=True`` this is ASAM's ``ε = ρ · T² g / ‖T g‖`` with ``T = |w| + η`` (Kwon et al.,
    ICML 2021, Eq. 11), see :class:`ASAM`.

    Parameters
    ----------
    params : iterable of tensors or dicts
        Parameters or param groups. A group with ``"ensemble": True`` holds (M, …) parameters
        and gets one norm per member; groups may set their own ``rho`` (and ``theta`` etc.).
    base : type or str, default "sgd"
        A ``torch.optim.Optimizer`` subclass or a name in ``noisylab.optim.OPTIMIZERS``; built
        over the same param-group dicts, so LR schedulers on the wrapper drive it.
    rho : float, default 0.05
        Radius of the perturbation ball, ``>= 0``; 0 reproduces the base optimiser exactly.
    adaptive : bool, default False
        Use ASAM's metric ``T = |w| + η`` on the parameters that ``rescale`` selects and
        ``T = 1`` on the others.
    eta : float, default 0.01
        ASAM's η (only with ``adaptive=True``); finite and ``>= 0``.
    rescale : {"matrices", "all", "weights"}, default "matrices"
        Which parameters ASAM rescales (only with ``adaptive=True``), see :class:`ASAM`:
        ``"matrices"`` tensors with at least two dimensions per member (noisylab's rule),
        ``"all"`` every parameter (davda54/sam's rule when ``eta=0``), ``"weights"`` parameters
        whose name in ``model`` contains ``"weight"`` (the official ASAM code's rule; needs
        ``model=``).
    model : nn.Module, optional
        If given, :meth:`step` runs the second (perturbed) closure call inside
        :func:`disable_running_stats` so BatchNorm running statistics update once per step;
        also the source of parameter names for ``rescale="weights"``.
    track : bool or DirectionTracker, default False
        Record per-step statistics of the perturbation direction, see :meth:`direction_stats`;
        a :class:`DirectionTracker` is attached to this optimiser (and implies ``True``).
    **base_kwargs
        Passed to the base optimiser (``lr``, ``momentum``, ``weight_decay``, …).

    Notes
    -----
    During the perturbed pass each parameter's ``.data`` is a work buffer holding ``w + ε``
    (the parameter objects stay the same); views of a parameter's storage taken before
    :meth:`first_step` keep seeing ``w``. :meth:`second_step` swaps ``w`` back bit for bit.
    ``step(closure)`` evaluates the closure twice; the closure must run forward and backward and
    return the loss (zeroing gradients in it is allowed; :meth:`first_step` clears them anyway).
    The explicit form is ``loss.backward(); opt.first_step(); loss_fn(...).backward();
    opt.second_step()``; wrap the second forward in ``disable_running_stats(model)`` if the model
    has BatchNorm. The returned loss is the one at the unperturbed weights.

    Example
    -------
    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> net = torch.nn.Linear(4, 2)
    >>> opt = SAM(net.parameters(), base=torch.optim.SGD, rho=0.05, lr=0.1, momentum=0.9)
    >>> x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = torch.nn.functional.cross_entropy(net(x), y)
    ...     loss.backward()
    ...     return loss
    >>> loss = opt.step(closure)
    """

    def __init__(
        self,
        params: Iterable[Any],
        base: Any = "sgd",
        rho: float = 0.05,
        *,
        adaptive: bool = False,
        eta: float = 0.01,
        rescale: str = "matrices",
        model: nn.Module | None = None,
        track: bool | DirectionTracker = False,
        **base_kwargs: Any,
    ) -> None:
        defaults = {"rho": check_nonneg("rho", rho), "ensemble": False, **self._rule_defaults()}
        if isinstance(eta, bool) or not isinstance(eta, int | float) or not 0.0 <= eta < math.inf:
            raise ValueError(f"eta must be a finite number >= 0, got {eta!r}")
        if rescale not in RESCALE_RULES:
            raise ValueError(f"rescale must be one of {sorted(RESCALE_RULES)}, got {rescale!r}")
        if rescale == "weights" and adaptive and model is None:
            raise ValueError(
                "rescale='weights' selects parameters by name ('weight' in the name), so it "
                "needs model=; got model=None"
            )
        self.adaptive = bool(adaptive)
        self.eta = float(eta)
        self.rescale = rescale
        self.model = model
        self._names: dict[torch.Tensor, str] = (
            {p: n for n, p in model.named_parameters()} if model is not None else {}
        )
        self.track = bool(track) or isinstance(track, DirectionTracker)
        self._perturbed: list[tuple[torch.Tensor, torch.Tensor]] = []  # (param, its w)
        self._buffers: dict[str, dict[torch.Tensor, torch.Tensor]] = {}
        self._plans: dict[int, _Plan] = {}  # id(param group) → its work buffers
        self._zeroed: list[tuple[torch.Tensor, int]] = []  # grads known to be zero, versions
        self._factor_cache: dict[tuple[float, ...], torch.Tensor] = {}
        super().__init__(params, defaults)
        for group in self.param_groups:
            self._check_group(group)
        self.base = _resolve_base(base, self.param_groups, dict(base_kwargs))
        self.param_groups = self.base.param_groups  # the very same dicts
        self.defaults.update(self.base.defaults)
        if isinstance(track, DirectionTracker):
            track.attach(self)

    # ----------------------------------------------------------------- rule hooks
    def _rule_defaults(self) -> dict[str, Any]:
        """Extra per-group hyperparameters of the direction rule (VaSSO's θ, …)."""
        return {}

    def _check_group(self, group: dict[str, Any]) -> None:
        check_nonneg("rho", group["rho"])
        if group["ensemble"]:
            for p in group["params"]:
                if p.dim() == 0:
                    raise ValueError("an ensemble param group needs parameters shaped (M, ...)")

    def _directions(
        self, group: dict, params: list[torch.Tensor], grads: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        """The un-normalised perturbation directions ``v`` of one group; SAM: the gradients."""
        return grads

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the wrapper and the base optimiser (they share the list)."""
        if not hasattr(self, "base"):
            super().add_param_group(param_group)
            return
        for k, v in self.defaults.items():
            if k in ("rho", "ensemble") or k in self._rule_defaults():
                param_group.setdefault(k, v)
        param_group["params"] = list(param_group["params"])
        self._check_group(param_group)
        self.base.add_param_group(param_group)

    # ----------------------------------------------------------------- the step
    def _rescaled(self, p: torch.Tensor, group: dict) -> bool:
        """Whether ASAM's ``T = |w| + η`` applies to ``p`` under ``self.rescale``."""
        if self.rescale == "all":
            return True
        if self.rescale == "weights":
            return "weight" in self._names.get(p, "")
        return p.dim() - (1 if group["ensemble"] else 0) >= 2  # "matrices"

    @staticmethod
    def _member_norm(
        vs: list[torch.Tensor], factors: torch.Tensor | None = None, fused: bool | None = None
    ) -> torch.Tensor:
        """``‖v‖`` per member over a list of (M, …) tensors → (M,); tensor i counts as
        ``factors[i] · v_i`` when ``factors`` (n,) is given.

        ``fused`` (default: on CUDA) reduces the member slices of all tensors with one
        ``_foreach_norm`` kernel; otherwise (CPU, where that op is a loop over slices) one
        ``vector_norm`` per tensor is cheaper.
        """
        m = vs[0].shape[0]
        for v in vs:
            if v.shape[0] != m:
                raise ValueError(
                    f"ensemble parameters disagree on the member count: {tuple(v.shape)} vs M = {m}"
                )
        if m == 1:  # the member's norm is the whole tensor's
            per = torch.stack(torch._foreach_norm(vs)).view(len(vs), 1)
        elif fused or (fused is None and vs[0].device.type == "cuda"):  # one kernel, all slices
            slices = [s for v in vs for s in v.unbind(0)]
            per = torch.stack(torch._foreach_norm(slices)).view(len(vs), m)
        else:  # CPU: foreach_norm loops over slices anyway; one reduction per tensor is cheaper
            per = torch.stack([torch.linalg.vector_norm(v.reshape(m, -1), dim=1) for v in vs])
        if factors is not None:
            per = per * factors.to(per).view(-1, 1)
        return torch.linalg.vector_norm(per, dim=0)

    @staticmethod
    def _global_norm(vs: list[torch.Tensor], factors: torch.Tensor | None = None) -> torch.Tensor:
        """``‖v‖`` over all entries of all tensors → (1,) (tensor i scaled by ``factors[i]``)."""
        per = torch.stack(torch._foreach_norm(vs))
        if factors is not None:
            per = per * factors.to(per)
        return torch.linalg.vector_norm(per).reshape(1)

    def _factors(self, values: list[float]) -> torch.Tensor:
        """``values`` as a float64 tensor, built once per distinct list (it rarely changes)."""
        key = tuple(values)
        f = self._factor_cache.get(key)
        if f is None:
            if len(self._factor_cache) > 8:
                self._factor_cache.clear()
            f = self._factor_cache[key] = torch.tensor(values, dtype=torch.float64)
        return f

    def _buffer(self, kind: str, p: torch.Tensor) -> torch.Tensor:
        """A persistent work buffer shaped like ``p`` (not optimiser state; reused every step,
        so that a step allocates nothing)."""
        bufs = self._buffers.setdefault(kind, {})
        buf = bufs.get(p)
        if buf is None or buf.shape != p.shape or buf.dtype != p.dtype:
            bufs[p] = buf = torch.empty_like(p, memory_format=torch.preserve_format)
        return buf

    def _plan(self, group: dict, params: list[torch.Tensor]) -> _Plan:
        """The group's work buffers and layout, cached while it holds the same parameters with
        the same shapes and dtypes (rebuilt otherwise), so that a step allocates nothing and
        does no per-parameter dictionary lookups."""
        plan = self._plans.get(id(group))
        if (
            plan is not None
            and plan.group is group
            and len(plan.params) == len(params)
            and all(
                a is b and w.shape == b.shape and w.dtype == b.dtype
                for a, b, w in zip(plan.params, params, plan.w)
            )
        ):
            return plan
        ens = bool(group["ensemble"])
        scaled = (
            [i for i, p in enumerate(params) if self._rescaled(p, group)] if self.adaptive else []
        )
        plan = _Plan(
            group=group,
            params=list(params),
            bucket="ensemble" if ens else "global",
            w=[torch.empty_like(p) for p in params],
            scaled=scaled,
            scaled_set=frozenset(scaled),
            tv=[torch.empty_like(params[i]) for i in scaled],
            shapes=[(-1, *([1] * (p.dim() - 1))) if ens else () for p in params],
        )
        self._plans[id(group)] = plan
        return plan

    @torch.no_grad()
    def first_step(self, zero_grad: bool = True) -> None:
        """Move every parameter to ``w + ε`` using the gradients currently in ``.grad``.

        ``w + ε`` is written into a persistent buffer that is swapped in as the parameter's
        data; :meth:`second_step` swaps the untouched ``w`` back, so the restore is exact and
        costs no copy. With ``zero_grad`` the gradients are zeroed in place afterwards, ready
        for the second backward.
        """
        if self._perturbed:
            raise RuntimeError("first_step() called twice without second_step()")
        work: list[tuple[dict, _Plan, list[torch.Tensor], list[torch.Tensor]]] = []
        by_bucket: dict[str, list[torch.Tensor]] = {"ensemble": [], "global": []}
        factors: dict[str, list[float]] = {"ensemble": [], "global": []}
        eta = self.eta
        for group in self.param_groups:
            params = group["params"]
            grads = [p.grad for p in params]
            if any(g is None for g in grads):
                params = [p for p, g in zip(params, grads) if g is not None]
                grads = [g for g in grads if g is not None]
                if not params:
                    continue
            plan = self._plan(group, params)
            dirs = list(self._directions(group, params, grads))
            if plan.scaled and eta > 0:
                # T = |w| + η in fewer passes: u = v + |w| v / η = T v / η (its norm counts
                # η times), then T² v = η² (u + |w| u / η), written over |w|.
                normed = list(dirs)
                for i, tv in zip(plan.scaled, plan.tv):
                    t = torch.abs(params[i], out=plan.w[i])  # |w| lives in the w + ε buffer
                    normed[i] = torch.addcmul(dirs[i], t, dirs[i], value=1.0 / eta, out=tv)
                    dirs[i] = torch.addcmul(tv, t, tv, value=1.0 / eta, out=t)
                by_bucket[plan.bucket].extend(normed)
                factors[plan.bucket].extend(
                    eta if i in plan.scaled_set else 1.0 for i in range(len(params))
                )
            elif plan.scaled:  # η = 0: T = |w|
                normed = list(dirs)
                for i, tv in zip(plan.scaled, plan.tv):
                    t = torch.abs(params[i], out=plan.w[i])
                    normed[i] = torch.mul(dirs[i], t, out=tv)
                    dirs[i] = t.mul_(tv)
                by_bucket[plan.bucket].extend(normed)
                factors[plan.bucket].extend([1.0] * len(params))
            else:
                by_bucket[plan.bucket].extend(dirs)
                factors[plan.bucket].extend([1.0] * len(params))
            work.append((group, plan, params, dirs))
        inv: dict[str, torch.Tensor] = {}
        scaled_norm = self.adaptive and eta > 0
        for bucket, norm in (("ensemble", self._member_norm), ("global", self._global_norm)):
            if by_bucket[bucket]:
                f = self._factors(factors[bucket]) if scaled_norm else None
                inv[bucket] = torch.reciprocal(norm(by_bucket[bucket], f) + _EPS)
        # ε = ρ T² v / ‖T v‖; with η > 0 the rescaled dirs hold T² v / η²
        sq = eta * eta if scaled_norm else 1.0
        perturbed = self._perturbed
        records: list[tuple[torch.Tensor, torch.Tensor, str]] = []
        for group, plan, params, dirs in work:
            s = inv[plan.bucket] * group["rho"]  # ρ / ‖T v‖, (M,) or (1,)
            views = {shape: s.view(shape) for shape in set(plan.shapes)}
            if sq != 1.0 and plan.scaled:
                s2 = s * sq
                scaled_views = {shape: s2.view(shape) for shape in set(plan.shapes)}
                view_of = [
                    (scaled_views if i in plan.scaled_set else views)[shape]
                    for i, shape in enumerate(plan.shapes)
                ]
            else:
                view_of = [views[shape] for shape in plan.shapes]
            for p, v, w_eps, view in zip(params, dirs, plan.w, view_of):
                if self.track:
                    e = v * view
                    torch.add(p, e, out=w_eps)
                    records.append((p, e, plan.bucket))
                else:  # w + ε in one pass (v may be w_eps itself: ASAM's T² v, overwritten)
                    torch.addcmul(p, v, view, out=w_eps)
                perturbed.append((p, p.data))
                p.data = w_eps
        if records:
            self._record(records)
        if zero_grad:
            self._clear_grads()

    def _clear_grads(self) -> None:
        """Clear the gradients for the second backward pass.

        With the C allocator tuned (:func:`noisylab.runtime.tune_allocator`, as in the CLI
        and sweep workers) they are set to ``None``: the second backward then stores its
        gradients without a zeroing pass and an accumulation pass. With glibc's default
        thresholds the freed and re-allocated gradient buffers cost hundreds of page faults
        per step on CPU (measured), so they are zeroed in place instead (one foreach call)
        and remembered as zero: the closure's own ``zero_grad()`` then finds them still zero
        (same tensors, unchanged version counters) and skips a second memset.
        """
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        if allocator_tuned():
            for p in params:
                p.grad = None
            self._zeroed = []
            return
        grads = [p.grad for p in params]
        if grads:
            torch._foreach_zero_(grads)
        self._zeroed = [(g, g._version) for g in grads]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """As ``torch.optim.Optimizer.zero_grad``; skips the memset when :meth:`first_step` has
        just zeroed the very same gradient tensors and nothing has written to them since."""
        zeroed, self._zeroed = self._zeroed, []
        if not set_to_none and zeroed:
            current = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
            if len(current) == len(zeroed) and all(
                c is g and c._version == v for c, (g, v) in zip(current, zeroed)
            ):
                return
        super().zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Restore the unperturbed weights, then step the base optimiser with the current grads."""
        for p, w in self._perturbed:
            p.data = w
        self._perturbed = []
        self._zeroed = []
        self.base.step()
        if zero_grad:
            self.zero_grad(set_to_none=True)

    def step(self, closure: Closure | None = None) -> torch.Tensor:  # type: ignore[override]
        """One SAM step: evaluate ``closure`` at ``w`` and at ``w + ε``, then step the base.

        Returns the loss of the first (unperturbed) evaluation.
        """
        if closure is None:
            raise ValueError(
                f"{type(self).__name__}.step needs a closure (it evaluates the loss twice); "
                "or call first_step() and second_step() yourself"
            )
        with torch.enable_grad():
            loss = closure()
        self.first_step(zero_grad=True)
        guard = disable_running_stats(self.model) if self.model is not None else _nullcontext()
        with torch.enable_grad(), guard:
            closure()
        self.second_step()
        return loss

    # ----------------------------------------------------------------- statistics
    def _record(self, perturbations: list[tuple[torch.Tensor, torch.Tensor, str]]) -> None:
        """Accumulate the consecutive-direction cosine and the direction sum, per member."""
        sq: dict[str, torch.Tensor] = {}
        for p, e, bucket in perturbations:
            s = (
                e.reshape(p.shape[0], -1).square().sum(1)
                if bucket == "ensemble"
                else e.square().sum()[None]
            )
            sq[bucket] = sq[bucket] + s if bucket in sq else s
        inv = {k: 1.0 / (s.sqrt() + _EPS) for k, s in sq.items()}
        dots: dict[str, torch.Tensor] = {}
        have_prev: dict[str, bool] = {}
        for p, e, bucket in perturbations:
            scale = (
                inv[bucket].reshape(-1, *([1] * (p.dim() - 1)))
                if bucket == "ensemble"
                else inv[bucket].reshape(())
            )
            u = e * scale  # unit direction (per member)
            st = self.state[p]
            if "prev_dir" in st:
                prod = u * st["prev_dir"]
                d = (
                    prod.reshape(p.shape[0], -1).sum(1)
                    if bucket == "ensemble"
                    else prod.sum()[None]
                )
                dots[bucket] = dots[bucket] + d if bucket in dots else d
                have_prev[bucket] = True
                st["prev_dir"].copy_(u)
                st["dir_sum"].add_(u)
            else:
                st["prev_dir"] = u.clone()
                st["dir_sum"] = u.clone()
        stats = self.state.setdefault("direction_stats", {})  # type: ignore[call-overload]
        for bucket, s in sq.items():
            rec = stats.setdefault(
                bucket, {"steps": 0, "cos_steps": 0, "cos_sum": torch.zeros_like(s)}
            )
            rec["steps"] += 1
            if have_prev.get(bucket):
                rec["cos_sum"] += dots[bucket]
                rec["cos_steps"] += 1

    def direction_stats(self, reset: bool = False) -> dict[str, dict[str, torch.Tensor]]:
        """Statistics of the unit perturbation direction ``u_t = ε_t / ‖ε_t‖`` since the last reset.

        Returns ``{bucket: {"cos_consecutive": (M,), "variance": (M,), "steps": int}}`` with
        bucket ``"ensemble"`` (per member) or ``"global"`` (M = 1). ``cos_consecutive`` is the
        mean of ``⟨u_t, u_{t−1}⟩``; ``variance`` is ``E‖u_t − ū‖² = 1 − ‖ū‖²`` over the window
        (0: the direction never changes; 1: directions average out to nothing). Only recorded
        with ``track=True``. ``reset`` starts a new window (the previous direction is kept, so
        the consecutive cosine continues across windows).
        """
        stats = self.state.get("direction_stats", {})  # type: ignore[call-overload]
        out: dict[str, dict[str, Any]] = {}
        mean_sq: dict[str, torch.Tensor] = {}
        for group in self.param_groups:
            bucket = "ensemble" if group["ensemble"] else "global"
            if bucket not in stats or stats[bucket]["steps"] == 0:
                continue
            n = stats[bucket]["steps"]
            for p in group["params"]:
                st = self.state.get(p, {})
                if "dir_sum" not in st:
                    continue
                m = st["dir_sum"] / n
                s = (
                    m.reshape(p.shape[0], -1).square().sum(1)
                    if bucket == "ensemble"
                    else m.square().sum()[None]
                )
                mean_sq[bucket] = mean_sq[bucket] + s if bucket in mean_sq else s
        for bucket, rec in stats.items():
            if rec["steps"] == 0:
                continue
            cos = rec["cos_sum"] / max(rec["cos_steps"], 1)
            if rec["cos_steps"] == 0:
                cos = torch.full_like(rec["cos_sum"], float("nan"))
            out[bucket] = {
                "cos_consecutive": cos,
                "variance": (1.0 - mean_sq[bucket]).clamp_min(0.0),
                "steps": rec["steps"],
            }
        if reset:
            for rec in stats.values():
                rec["steps"] = 0
                rec["cos_steps"] = 0
                rec["cos_sum"].zero_()
            for group in self.param_groups:
                for p in group["params"]:
                    st = self.state.get(p, {})
                    if "dir_sum" in st:
                        st["dir_sum"].zero_()
        return out

    # ----------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        """The wrapper's state (EMA, direction statistics) plus the base's under ``"base"``."""
        sd = super().state_dict()
        sd["base"] = self.base.state_dict()
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        """Load both states; the wrapper and the base keep sharing their param groups."""
        if "base" not in state_dict:
            raise ValueError("not a sharpness-aware optimiser state_dict: no 'base' entry")
        sd = dict(state_dict)
        base_sd = sd.pop("base")
        sd["state"] = {
            k: (v if isinstance(k, int) else copy.deepcopy(v)) for k, v in sd["state"].items()
        }
        self.base.load_state_dict(base_sd)
        super().load_state_dict(sd)
        self.param_groups = self.base.param_groups
        for group in self.param_groups:
            self._check_group(group)
        self._perturbed = []
        self._plans = {}  # the groups are new dicts: drop the old groups' buffers
        self._zeroed = []


class ASAM(SAM):
    """Adaptive SAM (Kwon et al., ICML 2021): ``ε = ρ · T² g / ‖T g‖`` with ``T = |w| + η``.

    Implementations disagree on which parameters get ``T``; ``rescale`` selects the
    convention (``T = 1`` on the parameters it does not select):

    ``"matrices"`` (default, noisylab)
        ``T = |w| + η`` on tensors with at least two dimensions per member (linear and conv
        weights); biases and normalisation parameters are not rescaled.
    ``"all"``
        ``T = |w| + η`` on every parameter, biases and BatchNorm scales included. With
        ``eta=0`` this is the rule of the widely used davda54/sam code (``adaptive=True``
        there: ``T = |w|`` on every parameter, no η), whose ASAM examples use ``ρ = 2.0``.
    ``"weights"``
        ``T = |w| + η`` on parameters whose name (from ``model.named_parameters()``) contains
        ``"weight"``, i.e. layer weights and BatchNorm scales but not biases: the rule of the
        official ASAM code (SamsungLabs/ASAM). Needs ``model=`` (which also freezes BatchNorm
        running statistics in the perturbed pass, see :class:`SAM`).

    ``η = 0.01`` and ``ρ = 0.5`` are the paper's CIFAR-10 values. All other arguments as in
    :class:`SAM`.
    """

    def __init__(
        self,
        params: Iterable[Any],
        base: Any = "sgd",
        rho: float = 0.5,
        *,
        eta: float = 0.01,
        rescale: str = "matrices",
        model: nn.Module | None = None,
        track: bool | DirectionTracker = False,
        **base_kwargs: Any,
    ) -> None:
        super().__init__(
            params,
            base,
            rho,
            adaptive=True,
            eta=eta,
            rescale=rescale,
            model=model,
            track=track,
            **base_kwargs,
        )


class VaSSO(SAM):
    """Variance-suppressed sharpness-aware optimisation (Li & Giannakis, NeurIPS 2023, Alg. 1).

    ``d_t = (1 − θ) d_{t−1} + θ g_t`` with ``d_0 = g_0``; ``ε_t = ρ · d_t / ‖d_t‖``; the base
    steps with ``∇L_B(w_t + ε_t)``. θ = 1 is SAM exactly, and step 0 equals SAM for any θ.
    Smaller θ averages more steps: with i.i.d. gradient noise of variance σ² the EMA has
    variance θσ²/(2 − θ). The paper's default is θ = 0.9 (ρ = 0.05 on CIFAR-10) and its range
    (0, 1]. The EMA ``d`` lives in ``self.state[p]["ema"]`` and is saved by ``state_dict``.
    With ``adaptive=True`` the ASAM metric is applied on top of ``d`` (our composition).
    """

    def __init__(
        self,
        params: Iterable[Any],
        base: Any = "sgd",
        rho: float = 0.05,
        theta: float = 0.9,
        *,
        adaptive: bool = False,
        eta: float = 0.01,
        rescale: str = "matrices",
        model: nn.Module | None = None,
        track: bool | DirectionTracker = False,
        **base_kwargs: Any,
    ) -> None:
        self._theta = check_probability("theta", theta, low_open=True)
        super().__init__(
            params,
            base,
            rho,
            adaptive=adaptive,
            eta=eta,
            rescale=rescale,
            model=model,
            track=track,
            **base_kwargs,
        )

    def _rule_defaults(self) -> dict[str, Any]:
        return {"theta": self._theta}

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_probability("theta", group["theta"], low_open=True)

    def _directions(
        self, group: dict, params: list[torch.Tensor], grads: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        out, emas, gs = [], [], []
        for p, g in zip(params, grads):
            st = self.state[p]
            if "ema" not in st:
                st["ema"] = g.detach().clone()  # d_0 = g_0
            else:
                emas.append(st["ema"])
                gs.append(g)
            out.append(st["ema"])
        if emas:  # d ← d + θ (g − d) = (1 − θ) d + θ g in one pass (exactly g for θ = 1)
            torch._foreach_lerp_(emas, gs, group["theta"])
        return out


class FriendlySAM(SAM):
    """Friendly SAM (Li, Zhou, Huang, Yang; CVPR 2024): perturb along ``g − σ m_{t−1}``.

    ``m_t = (1 − θ) m_{t−1} + θ g_t`` (the paper's λ is ``1 − θ``; default λ = 0.9, i.e.
    θ = 0.1, with σ = 1); step 0 uses ``v = g_0`` and ``m_0 = g_0`` as the official code does.
    Subtracting the EMA removes the full-gradient component and perturbs along the batch-
    specific noise: the opposite of VaSSO, which perturbs *along* the EMA.
    """

    def __init__(
        self,
        params: Iterable[Any],
        base: Any = "sgd",
        rho: float = 0.05,
        theta: float = 0.1,
        sigma: float = 1.0,
        *,
        adaptive: bool = False,
        eta: float = 0.01,
        rescale: str = "matrices",
        model: nn.Module | None = None,
        track: bool | DirectionTracker = False,
        **base_kwargs: Any,
    ) -> None:
        self._theta = check_probability("theta", theta, low_open=True)
        if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not 0.0 <= sigma <= 1.0:
            raise ValueError(f"sigma must be in [0, 1], got {sigma!r}")
        self._sigma = float(sigma)
        super().__init__(
            params,
            base,
            rho,
            adaptive=adaptive,
            eta=eta,
            rescale=rescale,
            model=model,
            track=track,
            **base_kwargs,
        )

    def _rule_defaults(self) -> dict[str, Any]:
        return {"theta": self._theta, "sigma": self._sigma}

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        check_probability("theta", group["theta"], low_open=True)

    def _directions(
        self, group: dict, params: list[torch.Tensor], grads: list[torch.Tensor]
    ) -> list[torch.Tensor]:
        out: list[torch.Tensor] = list(grads)  # step 0: v = g_0, m_0 = g_0
        idx, ms, gs = [], [], []
        for i, (p, g) in enumerate(zip(params, grads)):
            st = self.state[p]
            if "fsam_m" not in st:
                st["fsam_m"] = g.detach().clone()
            else:
                idx.append(i)
                ms.append(st["fsam_m"])
                gs.append(g)
        if ms:
            sigma = group["sigma"]
            # g − σ m_{t−1} goes straight into the w + ε buffer (the final addcmul overwrites
            # it in place); with ASAM's metric that buffer holds |w|, so a separate one is used
            plan = self._plans[id(group)]
            for i, g, m in zip(idx, gs, ms):
                buf = self._buffer("fsam_v", params[i]) if self.adaptive else plan.w[i]
                out[i] = torch.add(g, m, alpha=-sigma, out=buf)
            torch._foreach_lerp_(ms, gs, group["theta"])  # m ← (1 − θ) m + θ g
        return out


class _nullcontext(contextlib.AbstractContextManager):
    def __exit__(self, *exc: object) -> None:
        return None


__all__ = [
    "ASAM",
    "RESCALE_RULES",
    "SAM",
    "DirectionTracker",
    "FriendlySAM",
    "VaSSO",
    "accepts",
    "disable_running_stats",
]
