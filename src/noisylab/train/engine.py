"""``fit``: train an M-member ensemble, members independent, metrics per member.

One optimiser step for all members: every member draws its own minibatch (its own
permutation of the training set each epoch), its loss is averaged over its batch, and the M
per-member losses are *summed* before ``backward`` so each member receives exactly the
gradient it would get alone. Elementwise optimisers (SGD, Adam) then keep members
independent; anything with a norm (gradient clipping here, SAM's ε in ``noisylab.optim``) is
computed per member.

Speed: a step gathers every member's minibatch with one ``index_select``/``gather``, keeps
host syncs to one small check per step, and leaves the optimiser's update to torch's fused
kernels (``noisylab.optim`` builds Adam/AdamW with ``fused=True``). ``fit(..., compile=...)``
can run the minibatch gather, forward and loss — and, through AOTAutograd, their backward —
as one ``torch.compile``'d graph (see :data:`AUTO_COMPILE_MIN_STEPS`).
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from noisylab import losses as losses_mod
from noisylab import optim as optim_mod
from noisylab.checks import check_class_labels, check_int
from noisylab.data.dataset import Dataset
from noisylab.train.history import History
from noisylab.train.schedules import make_schedule

Callback = Callable[[int, nn.Module, History], Any]
#: rows × members per evaluation chunk (bounds evaluation memory).
EVAL_ROWS = 1 << 16

#: ``compile="auto"`` compiles the step when the run has at least this many optimiser steps
#: on that device type; device types not listed (now: all) stay eager. Measured on the CPU
#: (inductor, gcc 12, one thread, M = 32, 40→w→w→10, batch 128, Adam;
#: ``benchmarks/ensemble.py`` and a whole-step timing loop): the compiled step took 1.16× the
#: eager CPU time at width 32 (0.86× the speed) and 0.95–1.05× at width 128, after 13–60 s of
#: compiling (cold inductor cache; ~7 s warm). Matmuls dominate and stay the same MKL calls,
#: and the registry losses validate labels with ``int(labels.min())`` on every call, which
#: splits the graph in six. So ``"auto"`` never compiles on the CPU; CUDA
#: (``mode="reduce-overhead"``, CUDA graphs) was not measured on this machine and stays
#: eager under ``"auto"`` too. ``compile=True`` forces it.
AUTO_COMPILE_MIN_STEPS: dict[str, int] = {}
#: A model may instead declare, per device type, that compiling pays for it beyond a given
#: amount of work: ``AUTO_COMPILE_WORK = {"cpu": W}`` (class attribute) together with a
#: method ``compile_work(batch)``, the elementwise work of one step (for example members ×
#: batch × width); ``"auto"`` then compiles when steps × ``compile_work(batch)`` ≥ W. The
#: rule depends only on the configuration, never on timings, so a run gives the same numbers
#: on every machine that has a compiler. :class:`noisylab.modular.ModularMLP` declares one
#: (its step is dominated by elementwise passes over (M, B, N) tensors, which inductor
#: fuses; see its ``AUTO_COMPILE_WORK``).

#: reasons for falling back to eager that were already announced (one notice per reason).
_NOTICES: set[str] = set()


class DivergenceWarning(RuntimeWarning):
    """A member's loss became NaN or infinite; the member was frozen."""


class CompileFallbackWarning(RuntimeWarning):
    """``fit(compile=...)`` could not compile the step (no compiler) and runs it eagerly."""


def _member_seeds(members: int, seed: int | Sequence[int]) -> list[int]:
    from noisylab.nn.base import member_seeds

    return member_seeds(members, seed)


def _as_tensor(a: Any, name: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a
    if isinstance(a, np.ndarray | list | tuple):
        return torch.as_tensor(np.asarray(a))
    raise TypeError(f"{name} must be a tensor or array, got {type(a).__name__}")


def _members_of(model: nn.Module) -> int:
    m = getattr(model, "members", None)
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise TypeError(
            f"model must be an ensemble (noisylab.nn.build or from_factory) with a 'members' "
            f"attribute, got {type(model).__name__}"
        )
    for name, p in model.named_parameters():
        if p.dim() == 0 or p.shape[0] != m:
            raise ValueError(
                f"parameter {name!r} has shape {tuple(p.shape)}; every parameter of an "
                f"ensemble model must have a leading member axis of size {m}"
            )
    return m


def _per_member(
    y: Any, m: int, n: int, sample_ndim: int, name: str, device: torch.device
) -> torch.Tensor:
    """(n, …) shared or (M, n, …) per-member → (M, n, …) (shared ones expanded, no copy)."""
    t = _as_tensor(y, name).to(device)
    if t.dim() == sample_ndim + 1 and t.shape[0] == n:
        return t.unsqueeze(0).expand(m, *t.shape)
    if t.dim() == sample_ndim + 2 and t.shape[0] == m and t.shape[1] == n:
        return t
    raise ValueError(
        f"{name} must be shaped ({n},{' …' if sample_ndim else ''}) or (M={m}, {n}"
        f"{', …' if sample_ndim else ''}), got {tuple(t.shape)}"
    )


def _loss_module(
    loss: str | nn.Module | None, params: Mapping[str, Any] | None, task: str
) -> nn.Module:
    if loss is None:
        loss = "ce" if task == "classification" else "mse"
    if isinstance(loss, str):
        return losses_mod.get(loss, **dict(params or {}), reduction="none")
    if isinstance(loss, nn.Module):
        if params:
            raise ValueError("loss_params only apply to a loss given by name")
        mod = copy.copy(loss)
        if hasattr(mod, "reduction"):
            mod.reduction = "none"  # type: ignore[assignment]
        return mod
    raise TypeError(f"loss must be a registry name or an nn.Module, got {type(loss).__name__}")


def _mask_view(mask: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return mask.view(-1, *([1] * (p.dim() - 1)))


@dataclass
class _Run:
    """State of one ``fit`` call (kept in one object so checkpoints see all of it)."""

    model: nn.Module
    m: int
    n: int
    bs: int
    dev: torch.device
    x_train: torch.Tensor  # (n, *f)
    y: torch.Tensor  # (M, n) labels or (M, n[, out]) targets
    y_true: torch.Tensor  # (n,) or (n, out)
    noisy: torch.Tensor | None  # (M, n) bool
    x_test: torch.Tensor
    y_test: torch.Tensor
    extra: dict[str, tuple[torch.Tensor, torch.Tensor]]
    loss_fn: nn.Module
    classification: bool
    clip: float | None
    opt: torch.optim.Optimizer
    params: list[nn.Parameter]
    alive: torch.Tensor  # (M,) bool
    frozen: dict[int, list[torch.Tensor]]
    hist: History
    epoch_loss: torch.Tensor  # (M,) float64
    news: list[str]  # divergence messages not yet warned about
    any_dead: bool = False  # some member diverged (its gradients are masked to zero)
    losses_fn: Callable[..., torch.Tensor] | None = None  # compiled _member_losses, or None
    augment: Callable[..., torch.Tensor] | None = None  # fn(x (B, *f), generator)
    aug_gens: list[torch.Generator] = field(default_factory=list)  # one per member


def fit(
    model: nn.Module,
    data: Dataset,
    labels: Any = None,
    *,
    loss: str | nn.Module | None = None,
    loss_params: Mapping[str, Any] | None = None,
    optimizer: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    optimizer_params: Mapping[str, Any] | None = None,
    schedule: str | Callable[[int, int], float] = "cosine",
    schedule_params: Mapping[str, Any] | None = None,
    epochs: int = 10,
    batch_size: int | None = 128,
    clip_grad: float | None = None,
    seed: int | Sequence[int] = 0,
    eval_every: int = 1,
    noisy_mask: Any = None,
    eval_sets: Mapping[str, tuple[Any, Any]] | None = None,
    callbacks: Sequence[Callback] = (),
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    compile: bool | str = "auto",
    augment: str | Callable[..., torch.Tensor] | None = None,
) -> History:
    """Train every member of ``model`` on ``data`` and return per-member metrics.

    Parameters
    ----------
    model : nn.Module
        An ensemble from :func:`noisylab.nn.build` or :func:`noisylab.nn.from_factory`:
        parameters shaped (M, …), forward (M, B, …) → (M, B, out).
    data : Dataset
        Features, true training labels/targets and the test set.
    labels : array, optional
        Training labels: (M, n) per member (e.g. M noise realisations), (n,) shared, or
        ``None`` for ``data.y_train``. Regression targets: (n,)/(n, out) or (M, n)/(M, n, out).
    loss : str or nn.Module, optional
        A name in ``noisylab.losses.LOSSES`` (default ``'ce'``, or ``'mse'`` for regression)
        or a module returning per-sample losses (its ``reduction`` is set to ``'none'``).
    loss_params : dict, optional
        Keyword arguments of the loss (e.g. ``{"q": 0.7}``).
    optimizer : str
        A name in ``noisylab.optim.OPTIMIZERS``; built over one param group
        ``{"params": [...], "ensemble": True}``.
    lr, weight_decay : float
        Base learning rate; weight decay applied by the optimiser.
    optimizer_params : dict, optional
        Further optimiser arguments (``momentum``, ``rho``, ``theta``, ``base`` …).
    schedule : str or callable
        ``constant``, ``cosine``, ``step``, ``linear`` or ``f(step, total_steps)``; a factor
        on lr updated after every optimiser step (see :mod:`noisylab.train.schedules`).
    schedule_params : dict, optional
        e.g. ``{"step_size": 10, "gamma": 0.5}`` or ``{"min_factor": 0.01}``.
    epochs : int
        Passes over the training set.
    batch_size : int or None
        Minibatch size per member; ``None`` trains full-batch.
    clip_grad : float, optional
        Clip each member's gradient to this L2 norm (over all its parameter slices).
    seed : int or list of int
        Seeds of the members' minibatch orders: ``s`` gives s, s+1, …; member i of an
        ensemble fit with seeds ``[s_i]`` equals the single model fit with ``seed=[s_i]``.
    eval_every : int
        Evaluate every this many epochs, and always after the last.
    noisy_mask : array of bool, optional
        (M, n) or (n,): which training labels are noisy. Default: label != true label.
    eval_sets : dict, optional
        ``{"val": (x, y)}`` extra sets; ``y`` (n,) or (M, n). Gives ``val/loss``,
        ``val/acc`` (``val/mse`` for regression).
    callbacks : sequence of callable
        ``fn(epoch, model, history)`` after each evaluation (use ``history.log``).
    device : str
        ``'cpu'``, ``'cuda'``, … ; model and data are moved there.
    progress : bool, optional
        Show a rich progress bar; default: only when stderr is a terminal.
    checkpoint : path, optional
        Save model, optimiser, scheduler, RNG states and history there every
        ``checkpoint_every`` epochs (default: at each evaluation); if the file exists the run
        resumes from it and finishes with the same numbers as an uninterrupted run.
    checkpoint_every : int, optional
        Epochs between checkpoints.
    compile : {'auto', True, False}
        Run each step's minibatch gather, forward and loss (and their backward) as one
        ``torch.compile`` graph: inductor with the machine's C++ compiler on the CPU,
        ``mode="reduce-overhead"`` (CUDA graphs) on CUDA. ``'auto'`` compiles only runs with
        at least :data:`AUTO_COMPILE_MIN_STEPS` optimiser steps on a listed device type —
        none at present: measured on the CPU, compiling cost 13–60 s and the MLP's compiled
        step was no faster (0.86–1.05× the eager speed), and CUDA was not measured — or
        runs of a model that declares enough work for compiling to pay
        (``AUTO_COMPILE_WORK``; the modular networks do, where the compiled step is about
        twice as fast).
        Without a compiler (or if compiling fails) a one-time
        :class:`CompileFallbackWarning` is issued and the run continues eagerly. Compiled
        and eager runs agree to float32 rounding (~1e-6).
    augment : {'crop-flip'} or callable, optional
        Training-time augmentation of each minibatch, on the device: ``'crop-flip'`` is the
        standard CIFAR random crop (4-pixel padding) and horizontal flip
        (:func:`noisylab.data.augment.crop_flip`); a callable is called as
        ``fn(x, generator)`` with one member's images (B, *f). Each member draws from its
        own generator (seeded from its seed), so members stay independent of each other;
        both passes of a SAM step see the same augmented batch. Augmented runs are eager.

    Two-pass optimisers (SAM and its family) get ``model=`` when the model has BatchNorm
    running statistics, so those statistics update once per step (in the first pass).

    Returns
    -------
    History
        Metrics (M, n_evals): ``train/loss``, ``train/acc``, ``clean/loss``, ``clean/acc``,
        ``noisy/acc_noisy``, ``noisy/acc_true``, ``test/loss``, ``test/acc`` (regression:
        ``train/loss``, ``train/mse``, ``test/loss``, ``test/mse``). Losses are the training
        loss function. A member whose loss turns NaN/inf is frozen and recorded in
        ``history.diverged``; its later values are missing.

    Examples
    --------
    >>> import torch
    >>> from noisylab.data import Dataset
    >>> from noisylab.nn import build
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(64, 4, generator=g); y = (x[:, 0] > 0).long()
    >>> ds = Dataset("toy", x, y, x, y, num_classes=2)
    >>> h = fit(build("mlp", 2, in_features=4, out_features=2, width=8), ds, epochs=2,
    ...         batch_size=16)
    >>> h.metrics["test/acc"].shape
    (2, 2)
    """
    # ---- validate and place everything ---------------------------------------------------
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a noisylab.data.Dataset, got {type(data).__name__}")
    m = _members_of(model)
    epochs = check_int("epochs", epochs)
    eval_every = check_int("eval_every", eval_every)
    if checkpoint_every is not None:
        checkpoint_every = check_int("checkpoint_every", checkpoint_every)
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if clip_grad is not None and not (isinstance(clip_grad, int | float) and clip_grad > 0):
        raise ValueError(f"clip_grad must be a positive number or None, got {clip_grad!r}")
    if not (isinstance(compile, bool) or compile == "auto"):
        raise ValueError(f"compile must be 'auto', True or False, got {compile!r}")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    task = data.task
    n = data.n_train
    if n == 0:
        raise ValueError("the training set is empty")
    bs = n if batch_size is None else min(check_int("batch_size", batch_size), n)
    model.to(dev)

    x_train = data.x_train.to(dev)
    x_test = data.x_test.to(dev)
    classification = task == "classification"
    sample_ndim = 0 if classification else data.y_train.dim() - 1
    y_true = data.y_train.to(dev)  # (n,) or (n, out)
    if classification:
        k = int(data.num_classes or 0)
        y_true = check_class_labels("data.y_train", y_true, k)
    y = _per_member(data.y_train if labels is None else labels, m, n, sample_ndim, "labels", dev)
    if classification:
        y = check_class_labels("labels", y, k)  # (M, n)
    else:
        y = y.float()
    if noisy_mask is not None:
        if not classification:
            raise ValueError("noisy_mask applies to classification only")
        noisy = _per_member(noisy_mask, m, n, 0, "noisy_mask", dev).bool()  # (M, n)
    elif classification:
        noisy = y != y_true.unsqueeze(0)  # (M, n)
    else:
        noisy = None
    extra: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for set_name, pair in (eval_sets or {}).items():
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise ValueError(f"eval_sets[{set_name!r}] must be an (x, y) pair")
        ex = _as_tensor(pair[0], f"eval_sets[{set_name!r}] x").to(dev)
        ey = _per_member(pair[1], m, len(ex), sample_ndim, f"eval_sets[{set_name!r}] y", dev)
        if classification:
            ey = check_class_labels(f"eval_sets[{set_name!r}] y", ey, k)
        extra[str(set_name)] = (ex, ey)

    loss_fn = _loss_module(loss, loss_params, task)
    params = list(model.parameters())
    opt_kwargs = dict(optimizer_params or {})
    if _has_running_stats(model) and optim_mod.OPTIMIZERS.meta(optimizer).get("two_pass"):
        opt_kwargs.setdefault("model", model)  # BN statistics once per two-pass step
    opt = optim_mod.build(
        optimizer,
        [{"params": params, "ensemble": True}],
        lr=float(lr),
        weight_decay=float(weight_decay),
        **opt_kwargs,
    )
    aug = _augmenter(augment)
    steps_per_epoch = math.ceil(n / bs)
    factor = make_schedule(
        schedule, epochs * steps_per_epoch, steps_per_epoch, dict(schedule_params or {})
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    seeds = _member_seeds(m, seed)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    total_steps = epochs * steps_per_epoch
    if compile == "auto":
        compile = _auto_compile(model, dev, total_steps, bs)

    run = _Run(
        model=model,
        m=m,
        n=n,
        bs=bs,
        dev=dev,
        x_train=x_train,
        y=y,
        y_true=y_true,
        noisy=noisy,
        x_test=x_test,
        y_test=data.y_test.to(dev),
        extra=extra,
        loss_fn=loss_fn,
        classification=classification,
        clip=clip_grad,
        opt=opt,
        params=params,
        alive=torch.ones(m, dtype=torch.bool, device=dev),
        frozen={},
        hist=History(members=m, task=task),
        epoch_loss=torch.zeros(m, dtype=torch.float64, device=dev),
        news=[],
        losses_fn=_compiled_losses(dev) if compile and aug is None else None,
        augment=aug,
        aug_gens=[torch.Generator(dev).manual_seed(s + AUGMENT_STREAM) for s in seeds]
        if aug is not None
        else [],
    )
    start = 0
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    fingerprint = ""
    if ckpt_path is not None:
        fingerprint = _fingerprint(
            model,
            data,
            run,
            epochs=epochs,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            optimizer_params=optimizer_params,
            schedule=schedule,
            schedule_params=schedule_params,
            seeds=seeds,
            augment=augment,
            loss=loss,
            loss_params=loss_params,
        )
    if ckpt_path is not None and ckpt_path.exists():
        start = _load(ckpt_path, run, sched, gens + run.aug_gens, fingerprint)
    run.any_dead = not bool(run.alive.all())
    every = checkpoint_every or eval_every
    if run.losses_fn is not None:
        _check_inputs(run)

    # ---- train -------------------------------------------------------------------------
    bar = _progress(progress)
    with bar if bar is not None else nullcontext():
        task_id = bar.add_task("training", total=epochs, completed=start) if bar else None
        for epoch in range(start + 1, epochs + 1):
            if bs < n:
                perm = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(dev)
            else:
                perm = torch.arange(n, device=dev).expand(m, n)
            run.epoch_loss.zero_()
            model.train()  # once per epoch (evaluation and callbacks may switch it off)
            for j in range(steps_per_epoch):
                idx = perm[:, j * bs : (j + 1) * bs]  # (M, b)
                _step(run, idx, epoch)
                sched.step()
                _warn(run)
            if epoch % eval_every == 0 or epoch == epochs:
                values = _evaluate(run, epoch)
                _warn(run)
                run.hist.append(epoch, values)
                for cb in callbacks:
                    cb(epoch, model, run.hist)
                if bar is not None:
                    acc = values.get("test/acc", values.get("test/mse"))
                    shown = "" if acc is None else f" test {np.nanmean(acc):.3f}"
                    bar.update(task_id, description=f"epoch {epoch}{shown}")
            if ckpt_path is not None and (epoch % every == 0 or epoch == epochs):
                _save(ckpt_path, run, sched, gens + run.aug_gens, fingerprint, epoch)
            if bar is not None:
                bar.update(task_id, completed=epoch)
    model.eval()
    return run.hist


def _member_losses(
    model: nn.Module,
    loss_fn: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    idx: torch.Tensor,
    full: bool,
    xb: torch.Tensor | None = None,
) -> torch.Tensor:
    """Every member's mean loss on its own minibatch: (M,) from rows ``idx`` (M, b).

    The function ``fit(compile=True)`` compiles: one ``index_select`` of the rows of ``x``
    (n, *f) and one ``gather`` of the labels ``y`` (M, n[, out]) — no per-member loop —
    then the forward pass and the per-sample loss. ``full`` (the whole set, identity order
    for every member) broadcasts ``x`` to the members without copying it. ``xb`` (M, b, *f),
    when given, are the minibatch's inputs already gathered (and augmented).
    """
    m, b = idx.shape
    if full:
        xb = x.expand(m, *x.shape) if xb is None else xb  # (M, n, *f), stride 0 on M
        yb = y
    else:
        if xb is None:
            xb = _gather_rows(x, idx)  # (M, b, *f)
        tail = y.shape[2:]
        at = idx.view(m, b, *([1] * len(tail))).expand(m, b, *tail)
        yb = torch.gather(y, 1, at)  # (M, b[, out])
    out = model(xb)  # (M, b, K)
    per = loss_fn(out, yb)  # (M, b)
    if per.shape != idx.shape:
        raise ValueError(
            f"the loss must return per-sample values shaped (M, B) = {tuple(idx.shape)} "
            f"(reduction='none'), got {tuple(per.shape)}"
        )
    return per.mean(1)


def _gather_rows(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows ``idx`` (M, b) of ``x`` (n, *f) as (M, b, *f), one ``index_select``."""
    m, b = idx.shape
    return x.index_select(0, idx.reshape(-1)).view(m, b, *x.shape[1:])


#: offset of the augmentation generators' seeds from the members' seeds (an own stream)
AUGMENT_STREAM = 7_919


def _augmenter(augment: Any) -> Callable[..., torch.Tensor] | None:
    """The augmentation function of ``fit(augment=...)``."""
    if augment is None:
        return None
    if callable(augment):
        return augment
    from noisylab.data.augment import AUGMENTATIONS

    if augment not in AUGMENTATIONS:
        raise ValueError(
            f"augment must be one of {', '.join(AUGMENTATIONS)}, a callable or None, "
            f"got {augment!r}"
        )
    return AUGMENTATIONS[augment]


def _augmented(run: _Run, idx: torch.Tensor, full: bool) -> torch.Tensor:
    """The minibatch (M, b, *f), each member's images augmented with its own generator."""
    assert run.augment is not None
    xb = run.x_train.expand(run.m, *run.x_train.shape) if full else _gather_rows(run.x_train, idx)
    return torch.stack([run.augment(xb[i], run.aug_gens[i]) for i in range(run.m)])


def _has_running_stats(model: nn.Module) -> bool:
    """Whether any sub-module keeps BatchNorm-style running statistics."""
    return any(getattr(mod, "running_mean", None) is not None for mod in model.modules())


def _compiler_missing(dev: torch.device) -> str | None:
    """Why the step cannot be compiled on ``dev`` (``None`` when it can)."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    if dev.type == "cpu":
        import shutil

        from torch._inductor import config as inductor_config

        names = [c for c in inductor_config.cpp.cxx if c]
        if not any(shutil.which(c) for c in names):
            return f"no C++ compiler found (looked for {', '.join(names)}) for inductor"
        return None
    if dev.type == "cuda":
        import importlib.util

        if importlib.util.find_spec("triton") is None:
            return "triton is not installed (inductor needs it on CUDA)"
        return None
    return f"no compiled path for device type {dev.type!r}"


def _notice(reason: str) -> None:
    """Warn once per process and reason that the step runs eagerly."""
    if reason not in _NOTICES:
        _NOTICES.add(reason)
        warnings.warn(
            f"fit(compile=...): {reason}; training eagerly (same results, no compiled step)",
            CompileFallbackWarning,
            stacklevel=4,
        )


def _auto_compile(model: nn.Module, dev: torch.device, steps: int, batch: int) -> bool:
    """What ``compile="auto"`` decides for a run of ``steps`` optimiser steps of ``batch``
    rows on ``dev`` (see :data:`AUTO_COMPILE_MIN_STEPS`): a function of the configuration only.
    """
    if steps >= AUTO_COMPILE_MIN_STEPS.get(dev.type, math.inf):
        return True
    threshold = getattr(model, "AUTO_COMPILE_WORK", {}).get(dev.type)
    work = getattr(model, "compile_work", None)
    return threshold is not None and work is not None and steps * work(batch) >= threshold


def _compiled_losses(dev: torch.device) -> Callable[..., torch.Tensor] | None:
    """``torch.compile(_member_losses)`` for ``dev``, or ``None`` (with a notice) if unable."""
    reason = _compiler_missing(dev)
    if reason is not None:
        _notice(reason)
        return None
    mode = "reduce-overhead" if dev.type == "cuda" else None
    return torch.compile(_member_losses, mode=mode)


def _is_compile_error(err: Exception) -> bool:
    """An error raised by dynamo/inductor itself (not by the user's model or loss)."""
    return type(err).__module__.startswith(("torch._dynamo", "torch._inductor"))


def _step(run: _Run, idx: torch.Tensor, epoch: int) -> None:
    """One optimiser step of all members on their minibatches ``idx`` (M, b)."""
    m = run.m
    full = idx.shape[1] == run.n and idx.stride(0) == 0  # whole set, one shared order
    first: list[torch.Tensor] = []
    model = run.model
    xb = _augmented(run, idx, full) if run.augment is not None else None  # once per step

    def losses() -> torch.Tensor:
        if xb is not None:
            return _member_losses(model, run.loss_fn, run.x_train, run.y, idx, full, xb)
        if run.losses_fn is not None:
            try:
                return run.losses_fn(model, run.loss_fn, run.x_train, run.y, idx, full)
            except Exception as err:  # compiler missing or broken: eager from now on
                if not _is_compile_error(err):
                    raise
                run.losses_fn = None
                _notice(f"compiling the step failed ({type(err).__name__}: {err})")
        return _member_losses(model, run.loss_fn, run.x_train, run.y, idx, full)

    def closure() -> torch.Tensor:
        run.opt.zero_grad(set_to_none=False)
        pm = losses()  # (M,)
        finite = torch.isfinite(pm)
        if run.any_dead:
            finite = finite | ~run.alive
        if not bool(finite.all()):  # the step's one host sync
            _diverge(run, epoch, pm.detach(), finite)
        total = torch.where(run.alive, pm, torch.zeros_like(pm)).sum() if run.any_dead else pm.sum()
        total.backward()
        if run.any_dead:
            dead = ~run.alive
            for p in run.params:
                if p.grad is not None:
                    p.grad.masked_fill_(_mask_view(dead, p), 0.0)
        if run.clip is not None:
            _clip(run.params, m, float(run.clip))
        if not first:  # a copy: a CUDA graph reuses its output buffers on the next replay
            first.append(pm.detach().clone())
        return total.detach()

    run.opt.step(closure)  # type: ignore[arg-type]
    if run.frozen:
        with torch.no_grad():
            for mem, snap in run.frozen.items():
                for p, s in zip(run.params, snap):
                    p[mem].copy_(s)
    if first:
        run.epoch_loss += torch.nan_to_num(first[0].double()) * idx.shape[1]


def _warn(run: _Run) -> None:
    """Issue the pending divergence warnings, attributed to the caller of ``fit``."""
    for msg in run.news:
        warnings.warn(msg, DivergenceWarning, stacklevel=3)
    run.news.clear()


def _clip(params: Sequence[torch.Tensor], m: int, max_norm: float) -> None:
    """Scale each member's gradient to L2 norm ≤ ``max_norm`` (norm over its own slices)."""
    sq = None
    for p in params:
        if p.grad is not None:
            s = p.grad.detach().pow(2).reshape(m, -1).sum(1)  # (M,)
            sq = s if sq is None else sq + s
    if sq is None:
        return
    scale = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)  # (M,)
    for p in params:
        if p.grad is not None:
            p.grad.mul_(_mask_view(scale, p).to(p.grad.dtype))


def _diverge(run: _Run, epoch: int, values: torch.Tensor, finite: torch.Tensor) -> None:
    """Freeze members whose loss is not finite; record and warn once per member."""
    for mem in torch.nonzero(~finite & run.alive).flatten().tolist():
        val = float(values[mem])
        run.alive[mem] = False
        run.any_dead = True
        run.frozen[mem] = [p.detach()[mem].clone() for p in run.params]
        run.hist.diverged[mem] = (epoch, val)
        msg = f"member {mem} diverged at epoch {epoch} (loss={val})"
        run.hist.warnings.append(msg)
        run.news.append(msg)  # warned by fit itself, outside the optimiser's step


def _predict(run: _Run, x: torch.Tensor) -> Iterator[tuple[slice, torch.Tensor]]:
    """Model outputs on ``x`` in chunks, without gradients: (rows, (M, c, out)) each."""
    chunk = max(64, EVAL_ROWS // run.m)
    for i in range(0, len(x), chunk):
        xc = x[i : i + chunk]
        with torch.no_grad():
            out = run.model(xc.expand(run.m, *xc.shape))
        yield slice(i, i + len(xc)), out


def _check_inputs(run: _Run) -> None:
    """One eager pass of the model over the training inputs (evaluation mode, no gradients),
    so that the model's own input checks, which its compiled step may skip (a check that
    reads a value would split the graph), see every training row before the first step."""
    was = run.model.training
    run.model.eval()
    for _ in _predict(run, run.x_train):
        pass
    run.model.train(was)


def _masked_mean(v: torch.Tensor, mask: torch.Tensor | None) -> np.ndarray:
    """Mean over the last axis of (M, n) where ``mask``; NaN (missing) where empty."""
    v = v.double()
    if mask is None:
        return v.mean(1).cpu().numpy()
    cnt = mask.sum(1)
    s = torch.where(mask, v, torch.zeros_like(v)).sum(1)
    out = (s / cnt.clamp(min=1)).cpu().numpy()
    out[(cnt == 0).cpu().numpy()] = np.nan
    return out


def _scores(run: _Run, x: torch.Tensor, y: torch.Tensor, y_alt: torch.Tensor | None = None):
    """Per-sample loss, and correctness (vs y and y_alt) or squared error: (M, n) each."""
    m, n = run.m, len(x)
    loss = torch.empty(m, n, device=run.dev)
    a = torch.empty(m, n, dtype=torch.bool, device=run.dev)
    b = torch.empty(m, n, dtype=torch.bool, device=run.dev) if y_alt is not None else None
    se = torch.empty(m, n, device=run.dev)
    for rows, out in _predict(run, x):
        yc = y[:, rows]
        loss[:, rows] = run.loss_fn(out, yc).float()
        if run.classification:
            pred = out.argmax(-1)  # (M, c)
            a[:, rows] = pred == yc
            if b is not None and y_alt is not None:
                b[:, rows] = pred == y_alt[rows]
        else:
            t = yc.unsqueeze(-1) if yc.dim() == 2 else yc  # (M, c, out)
            se[:, rows] = (out.float() - t).pow(2).mean(-1)
    return loss, a, b, se


def _evaluate(run: _Run, epoch: int) -> dict[str, np.ndarray]:
    """All metrics of the current parameters, (M,) each; divergence marks members missing."""
    model = run.model
    model.eval()
    vals: dict[str, np.ndarray] = {"train/loss": (run.epoch_loss / run.n).cpu().numpy()}
    loss, hit, hit_true, se = _scores(run, run.x_train, run.y, run.y_true)
    y_test = run.y_test.unsqueeze(0).expand(run.m, *run.y_test.shape)
    t_loss, t_hit, _, t_se = _scores(run, run.x_test, y_test)
    if run.classification:
        assert run.noisy is not None
        clean = ~run.noisy
        vals["train/acc"] = _masked_mean(hit, None)
        vals["clean/loss"] = _masked_mean(loss, clean)
        vals["clean/acc"] = _masked_mean(hit, clean)
        if bool(run.noisy.any()):
            vals["noisy/acc_noisy"] = _masked_mean(hit, run.noisy)
            vals["noisy/acc_true"] = _masked_mean(hit_true, run.noisy)
    else:
        vals["train/mse"] = _masked_mean(se, None)
    if len(run.x_test):
        vals["test/loss"] = _masked_mean(t_loss, None)
        if run.classification:
            vals["test/acc"] = _masked_mean(t_hit, None)
        else:
            vals["test/mse"] = _masked_mean(t_se, None)
    for name, (ex, ey) in run.extra.items():
        e_loss, e_hit, _, e_se = _scores(run, ex, ey)
        vals[f"{name}/loss"] = _masked_mean(e_loss, None)
        if run.classification:
            vals[f"{name}/acc"] = _masked_mean(e_hit, None)
        else:
            vals[f"{name}/mse"] = _masked_mean(e_se, None)
    # a member whose evaluation is not finite diverged now (e.g. logits overflowed)
    check = loss.double().mean(1)  # (M,)
    if len(run.x_test):
        check = check + t_loss.double().mean(1)
    bad = ~torch.isfinite(check) & run.alive
    if bool(bad.any()):
        _diverge(run, epoch, check, ~bad)
    alive = run.alive.cpu().numpy()
    for key in vals:
        v = np.asarray(vals[key], dtype=float)
        v[~alive] = np.nan
        v[~np.isfinite(v)] = np.nan
        vals[key] = v
    model.train()
    return vals


# ---- progress and checkpoints ------------------------------------------------------------
def _progress(progress: bool | None):
    show = sys.stderr.isatty() if progress is None else bool(progress)
    if not show:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _digest(t: torch.Tensor | None) -> str:
    """A short content hash of a tensor (shape, dtype and values)."""
    if t is None:
        return "none"
    a = t.detach().cpu().contiguous()
    h = hashlib.sha256(f"{tuple(a.shape)}{a.dtype}".encode())
    h.update(a.view(torch.uint8).numpy().tobytes() if a.numel() else b"")
    return h.hexdigest()[:16]


def _name(obj: Any) -> Any:
    if obj is None or isinstance(obj, str):
        return obj
    return getattr(obj, "__name__", type(obj).__name__)


def _fingerprint(model: nn.Module, data: Dataset, run: _Run, **settings: Any) -> str:
    """What a checkpoint must match to be resumed: model shapes, data, labels and settings.

    The training labels, the noisy mask and the data are hashed, so a checkpoint of one
    noise realisation is never resumed with another.
    """
    shapes = [tuple(p.shape) for p in model.parameters()]
    parts: dict[str, Any] = {
        "model": type(model).__name__,
        "shapes": shapes,
        "data": [data.name, data.n_train, _digest(run.x_train), _digest(run.y_true)],
        "labels": _digest(run.y),
        "noisy": _digest(run.noisy),
        "members": run.m,
        "batch_size": run.bs,
        "clip_grad": run.clip,
    }
    for key, value in settings.items():
        if key in ("loss", "schedule"):
            value = _name(value)
        elif isinstance(value, Mapping):
            value = sorted((str(k), repr(v)) for k, v in value.items())
        elif isinstance(value, float | int) and not isinstance(value, bool):
            value = float(value)
        parts[key] = value
    return repr(sorted(parts.items()))


def _save(
    path: Path,
    run: _Run,
    sched: torch.optim.lr_scheduler.LRScheduler,
    gens: list[torch.Generator],
    fingerprint: str,
    epoch: int,
) -> None:
    state = {
        "format": 1,
        "fingerprint": fingerprint,
        "epoch": epoch,
        "model": run.model.state_dict(),
        "optimizer": run.opt.state_dict(),
        "scheduler": sched.state_dict(),
        "generators": [g.get_state() for g in gens],
        "torch_rng": torch.get_rng_state(),
        "alive": run.alive.cpu(),
        "frozen": {str(k): v for k, v in run.frozen.items()},
        "history": run.hist.to_dict(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load(
    path: Path,
    run: _Run,
    sched: torch.optim.lr_scheduler.LRScheduler,
    gens: list[torch.Generator],
    fingerprint: str,
) -> int:
    state = torch.load(path, map_location=run.dev, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != 1:
        raise ValueError(f"{path} is not a noisylab training checkpoint")
    if state["fingerprint"] != fingerprint:
        raise ValueError(
            f"checkpoint {path} belongs to a different run (model, data or settings differ); "
            "delete it or choose another checkpoint path"
        )
    run.model.load_state_dict(state["model"])
    run.opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    for g, s in zip(gens, state["generators"]):
        g.set_state(s.cpu())
    torch.set_rng_state(state["torch_rng"].cpu())
    run.alive.copy_(state["alive"].to(run.dev))
    run.frozen = {int(k): [t.to(run.dev) for t in v] for k, v in state["frozen"].items()}
    run.hist = History.from_dict(state["history"])
    return int(state["epoch"])
