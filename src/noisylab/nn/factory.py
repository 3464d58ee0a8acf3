"""Turn any ``nn.Module`` factory into an ensemble with ``torch.func``.

``from_factory(factory, members, seed)`` builds one module per member (member i under
``torch.manual_seed(seed_i)``), stacks their parameters with ``stack_module_state`` into
(M, …) ``nn.Parameter``s and runs ``vmap(functional_call)`` over the member axis. It is the
generic fallback: the hand-written models in :mod:`noisylab.nn` are faster.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from noisylab.nn.base import EnsembleModule, member_seeds


def _safe(name: str) -> str:
    return name.replace(".", "__")


class FuncEnsemble(EnsembleModule):
    """M copies of a user module run with ``vmap(functional_call)``.

    Parameters and buffers are registered with ``.`` replaced by ``__`` in their names and
    shaped (M, …). Modules that update buffers in place during the forward pass (BatchNorm
    in training mode) cannot be vmapped; use them in eval mode or without running stats.

    Layer names are the dotted names of the submodules; :meth:`representations` returns
    each submodule's output flattened to (M, B, p).
    """

    def __init__(self, modules: Sequence[nn.Module], seeds: Sequence[int]) -> None:
        super().__init__()
        self.seeds = list(seeds)
        params, buffers = stack_module_state(list(modules))
        base = copy.deepcopy(modules[0]).to("meta")
        object.__setattr__(self, "_base", base)  # not a submodule: holds no state
        self._pnames = list(params)
        self._bnames = list(buffers)
        for name, p in params.items():
            self.register_parameter(_safe(name), nn.Parameter(p.detach().clone()))  # (M, …)
        for name, b in buffers.items():
            self.register_buffer(_safe(name), b.detach().clone())  # (M, …)
        self._layers = [n for n, _ in base.named_modules() if n]
        self.input_shapes = []
        self.input_rank = 1

    def _state(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        params = {n: getattr(self, _safe(n)) for n in self._pnames}
        buffers = {n: getattr(self, _safe(n)) for n in self._bnames}
        return params, buffers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, None)

    def _run(self, x: torch.Tensor, names: Sequence[str] | None) -> Any:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"model input must be a torch.Tensor, got {type(x).__name__}")
        params, buffers = self._state()
        base: nn.Module = self.__dict__["_base"]
        shared = self._is_shared(x)
        if shared and x.dim() >= 2 and x.shape[0] == self.members and x.stride(0) == 0:
            x = x[0]

        def one(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], xb: torch.Tensor) -> Any:
            if names is None:
                return functional_call(base, (p, b), (xb,))
            record: dict[str, torch.Tensor] = {}
            handles = []
            for name, mod in base.named_modules():
                if name in names:
                    handles.append(mod.register_forward_hook(_recorder(record, name)))
            try:
                out = functional_call(base, (p, b), (xb,))
            finally:
                for h in handles:
                    h.remove()
            record["output"] = out
            return record

        return vmap(one, in_dims=(0, 0, None if shared else 0), randomness="different")(
            params, buffers, x
        )

    def _is_shared(self, x: torch.Tensor) -> bool:
        """(M, B, *f) is per-member unless it is an ``expand``; (B, *f) is shared."""
        if x.dim() == self.input_rank + 2 and x.shape[0] == self.members:
            return x.stride(0) == 0 and self.members > 1
        return True

    def layer_names(self) -> list[str]:
        return [*self._layers, "output"]

    def representations(
        self, x: torch.Tensor, layers: Sequence[str] | None = None
    ) -> dict[str, torch.Tensor]:
        names = self.layer_names()
        wanted = names if layers is None else list(layers)
        for name in wanted:
            if name not in names:
                raise ValueError(f"unknown layer {name!r}; this ensemble has {names}")
        record = self._run(x, [n for n in wanted if n != "output"])
        out = {}
        for name in names:
            if name in wanted:
                t = record[name]
                out[name] = t.reshape(self.members, t.shape[1], -1)  # (M, B, p)
        return out


def _recorder(record: dict[str, torch.Tensor], name: str) -> Callable[..., None]:
    def hook(_mod: nn.Module, _inp: Any, out: Any) -> None:
        if isinstance(out, torch.Tensor):
            record[name] = out

    return hook


def from_factory(
    factory: Callable[[], nn.Module],
    members: int | None = None,
    seed: int | Sequence[int] = 0,
    input_rank: int = 1,
) -> FuncEnsemble:
    """Build an M-member ensemble from a zero-argument module factory.

    Parameters
    ----------
    factory : callable
        Returns a fresh ``nn.Module`` mapping (B, *features) to (B, out); called once per
        member under ``torch.manual_seed(seed_i)`` (the global RNG is restored afterwards).
    members : int, optional
        Number of members (default: ``len(seed)`` for a list, else 1).
    seed : int or list of int
        Member seeds, as in :func:`noisylab.nn.build`.
    input_rank : int
        Number of feature axes of one sample (1 for vectors, 3 for images); an input with
        ``input_rank + 2`` axes whose first axis is M is per-member, ``input_rank + 1``
        axes is shared by all members.

    Returns
    -------
    FuncEnsemble
        Parameters shaped (M, …); member i equals ``factory()`` built under seed i.

    Examples
    --------
    >>> import torch
    >>> ens = from_factory(lambda: torch.nn.Linear(3, 2), members=4, seed=0)
    >>> ens(torch.zeros(5, 3)).shape
    torch.Size([4, 5, 2])
    """
    if not callable(factory):
        raise TypeError(f"factory must be a zero-argument callable, got {factory!r}")
    if isinstance(input_rank, bool) or not isinstance(input_rank, int) or input_rank < 0:
        raise ValueError(f"input_rank must be an int >= 0, got {input_rank!r}")
    seeds = member_seeds(members, seed)
    modules = []
    for s in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s)
            mod = factory()
        if not isinstance(mod, nn.Module):
            raise TypeError(f"factory must return an nn.Module, got {type(mod).__name__}")
        modules.append(mod)
    ens = FuncEnsemble(modules, seeds)
    ens.input_rank = input_rank
    return ens
