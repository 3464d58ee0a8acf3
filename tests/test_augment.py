"""Random crop + flip on the member axis: each output is a crop of its own padded image."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from noisylab.data.augment import crop_flip


def _all_crops(img: torch.Tensor, padding: int) -> list[torch.Tensor]:
    """Every crop and flipped crop of one padded image (the reference, by brute force)."""
    _, h, w = img.shape
    p = F.pad(img, (padding,) * 4)
    out = []
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            crop = p[:, dy : dy + h, dx : dx + w]
            out += [crop, crop.flip(-1)]
    return out


def test_each_output_is_a_crop_or_flipped_crop_of_its_own_image():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 2, 6, 6, generator=g)  # (M, B, C, H, W)
    y = crop_flip(x, torch.Generator().manual_seed(1), padding=2)
    assert y.shape == x.shape and y.dtype == x.dtype
    for m in range(3):
        for b in range(5):
            assert any(torch.equal(y[m, b], c) for c in _all_crops(x[m, b], 2)), (m, b)


def test_crops_and_flips_are_spread_and_reproducible():
    x = torch.arange(64.0).reshape(1, 1, 8, 8).expand(400, 1, 8, 8).contiguous()
    y = crop_flip(x, torch.Generator().manual_seed(3), padding=4)
    distinct = {tuple(t.flatten().tolist()) for t in y}
    assert len(distinct) > 100  # 81 offsets × 2 flips = 162 possible
    flipped = sum(bool((t[0, 4, 3] > t[0, 4, 4]) or (t[0, 3, 4] > t[0, 3, 5])) for t in y)
    assert 120 < flipped < 280  # about half
    again = crop_flip(x, torch.Generator().manual_seed(3), padding=4)
    assert torch.equal(y, again)


def test_no_padding_means_only_flips_and_bad_input_is_refused():
    x = torch.randn(10, 3, 4, 4)
    y = crop_flip(x, torch.Generator().manual_seed(0), padding=0)
    for a, b in zip(x, y):
        assert torch.equal(a, b) or torch.equal(a.flip(-1), b)
    with pytest.raises(ValueError, match="padding must be"):
        crop_flip(x, padding=-1)
    with pytest.raises(ValueError, match="images shaped"):
        crop_flip(torch.zeros(4, 4))
