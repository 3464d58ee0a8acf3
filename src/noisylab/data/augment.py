"""Image augmentation on the member axis, on the batch's device: random crop + horizontal flip.

The standard CIFAR recipe (He et al. 2016; every seed paper's CIFAR runs): pad each image by
``padding`` pixels (zeros), take a random H×W crop, and flip it left–right with probability ½.
Each member draws its own crops and flips (its images are its own minibatch), all in one
vectorised gather — no Python loop over images, no host round trip.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def crop_flip(
    x: torch.Tensor, generator: torch.Generator | None = None, padding: int = 4
) -> torch.Tensor:
    """Randomly crop (after zero-padding) and horizontally flip every image.

    Parameters
    ----------
    x : Tensor (..., C, H, W)
        A batch of images with any leading axes, e.g. (M, B, C, H, W).
    generator : torch.Generator, optional
        On ``x``'s device; the draws are reproducible from it.
    padding : int
        Pixels of zero padding on each side (4 for CIFAR); the crop offset is uniform in
        [0, 2·padding] along each axis.

    Returns
    -------
    Tensor
        Same shape, dtype and device as ``x``.

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> crop_flip(x, padding=0).shape  # no padding: only flips are possible
    torch.Size([1, 1, 4, 4])
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 3:
        raise ValueError(
            f"crop_flip expects images shaped (..., C, H, W), got {getattr(x, 'shape', x)}"
        )
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be an int >= 0, got {padding!r}")
    *lead, c, h, w = x.shape
    flat = x.reshape(-1, c, h, w)  # (N, C, H, W)
    n = flat.shape[0]
    dev = x.device
    oy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=dev)
    ox = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=dev)
    flip = torch.rand(n, generator=generator, device=dev) < 0.5
    padded = F.pad(flat, (padding, padding, padding, padding)) if padding else flat
    rows = oy[:, None] + torch.arange(h, device=dev)  # (N, H)
    cols = torch.arange(w, device=dev).expand(n, w)  # (N, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols) + ox[:, None]  # (N, W)
    idx = torch.arange(n, device=dev)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2).reshape(*lead, c, h, w).contiguous()


AUGMENTATIONS = {"crop-flip": crop_flip}
