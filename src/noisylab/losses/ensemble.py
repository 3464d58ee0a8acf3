"""A different loss for each block of ensemble members, so many losses train as one ensemble.

``PerMember([loss_a, loss_b], counts=[3, 3])`` applies ``loss_a`` to members 0–2 and
``loss_b`` to members 3–5 of (M, B, K) logits and returns per-sample values (M, B). Training
M members with per-member losses then costs one stacked forward/backward pass, and because
the engine sums the members' batch means before ``backward``, every member gets exactly the
gradient of its own loss.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from noisylab.checks import check_choice
from noisylab.losses._base import REDUCTIONS, Loss, reduce


class PerMember(nn.Module):
    """Per-member losses over the leading member axis.

    Parameters
    ----------
    losses : sequence of nn.Module
        One loss per block of members; each must accept (m, B, K) logits and (m, B) labels
        (its ``reduction`` is set to ``'none'`` on a shallow copy; the caller's is untouched).
    counts : sequence of int
        Members per block; ``sum(counts)`` must equal M of the logits.
    params : iterable of Tensor, optional
        The model's ensemble parameters, shaped (M, …). When given, each block's
        ``regularizer`` penalty (e.g. ANL-CE's δ‖θ‖₁, per member) is added to every sample of
        its members *while training* (when the logits require grad), so the batch mean gains
        exactly the member's penalty. Evaluation values (no grad) stay the pure loss.
    reduction : str
        ``'none'`` (default, (M, B)), ``'mean'`` or ``'sum'``.
    """

    def __init__(
        self,
        losses: Sequence[nn.Module],
        counts: Sequence[int],
        params: Iterable[torch.Tensor] | None = None,
        reduction: str = "none",
    ) -> None:
        super().__init__()
        if len(losses) != len(counts) or not losses:
            raise ValueError(
                f"need one member count per loss, got {len(losses)} losses and {len(counts)} counts"
            )
        for c in counts:
            if isinstance(c, bool) or not isinstance(c, int) or c < 1:
                raise ValueError(f"member counts must be integers >= 1, got {list(counts)}")
        blocks = []
        for loss in losses:
            if not isinstance(loss, nn.Module):
                raise TypeError(f"losses must be nn.Modules, got {type(loss).__name__}")
            if hasattr(loss, "reduction"):
                loss = copy.copy(loss)  # shares parameters, own ``reduction``
                setattr(loss, "reduction", "none")  # noqa: B010 (nn.Module attribute typing)
            blocks.append(loss)
        self.blocks = nn.ModuleList(blocks)
        self.counts = [int(c) for c in counts]
        self.members = sum(self.counts)
        self._params = list(params) if params is not None else []
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if logits.dim() != 3 or logits.shape[0] != self.members:
            raise ValueError(
                f"PerMember expects logits shaped (M={self.members}, B, K), "
                f"got {tuple(logits.shape)}"
            )
        labels = labels.expand(logits.shape[:-1]) if labels.dim() == 1 else labels
        outs = []
        start = 0
        for loss, c in zip(self.blocks, self.counts):
            z, y = logits[start : start + c], labels[start : start + c]  # (c, B, K), (c, B)
            per = loss(z, y)  # (c, B)
            weight = loss.regularization if isinstance(loss, Loss) else 0.0
            if self._params and weight and logits.requires_grad:
                assert isinstance(loss, Loss)
                pen = loss.regularizer([p[start : start + c] for p in self._params], ensemble=True)
                per = per + pen.unsqueeze(-1)  # (c, B)
            outs.append(per)
            start += c
        return reduce(torch.cat(outs, 0), self.reduction)  # (M, B)
