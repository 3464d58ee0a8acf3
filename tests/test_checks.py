"""The shared argument checks: accepted values come back converted, bad ones raise naming both."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from noisylab.checks import (
    NotANumberError,
    check_choice,
    check_class_labels,
    check_flag,
    check_int,
    check_logits,
    check_nonneg,
    check_positive,
    check_probability,
    check_registered,
)


def test_check_int_bounds_and_types():
    assert check_int("k", np.int64(3), minimum=2) == 3
    assert type(check_int("k", np.int64(3))) is int
    assert check_int("k", 5, minimum=2, maximum=5) == 5
    with pytest.raises(ValueError, match=r"k must be an int in \[2, 5\], got 6"):
        check_int("k", 6, minimum=2, maximum=5)
    with pytest.raises(ValueError, match="k must be an int >= 1, got True"):
        check_int("k", True)
    with pytest.raises(ValueError, match=r"k must be an int >= 1, got 2\.0"):
        check_int("k", 2.0)


def test_check_positive_open_and_closed_upper():
    assert check_positive("q", 1, upper=1.0, closed=True) == 1.0
    assert type(check_positive("q", np.float32(0.5))) is float
    with pytest.raises(ValueError, match=r"q must be < 1\.0, got 1\.0"):
        check_positive("q", 1.0, upper=1.0)
    with pytest.raises(ValueError, match=r"q must be <= 1\.0, got 1\.5"):
        check_positive("q", 1.5, upper=1.0, closed=True)
    for bad in (0.0, -1e-12, math.inf, math.nan):
        with pytest.raises(ValueError, match="q must be a finite number > 0"):
            check_positive("q", bad)
    with pytest.raises(TypeError, match="q must be a number, got str '1'"):
        check_positive("q", "1")
    with pytest.raises(TypeError, match="q must be a number, got bool"):
        check_positive("q", True)


def test_check_nonneg_accepts_zero_rejects_negative_and_inf():
    assert check_nonneg("rho", 0) == 0.0
    for bad in (-0.5, math.inf, math.nan):
        with pytest.raises(ValueError, match="rho must be a finite number >= 0"):
            check_nonneg("rho", bad)
    with pytest.raises(TypeError, match="rho must be a number"):
        check_nonneg("rho", None)
    # also a ValueError, so "bad configuration" handlers catch it
    with pytest.raises(ValueError, match=r"rho must be a number, got str '0\.1'"):
        check_nonneg("rho", "0.1")
    with pytest.raises(NotANumberError):
        check_probability("p", [0.5])


@pytest.mark.parametrize(
    ("low_open", "high_open", "inside", "outside", "interval"),
    [
        (False, False, (0.0, 1.0), (-0.1, 1.1), r"\[0, 1\]"),
        (True, False, (1e-9, 1.0), (0.0, 1.1), r"\(0, 1\]"),
        (False, True, (0.0, 0.999), (1.0, -0.1), r"\[0, 1\)"),
        (True, True, (0.5,), (0.0, 1.0), r"\(0, 1\)"),
    ],
)
def test_check_probability_ends(low_open, high_open, inside, outside, interval):
    for v in inside:
        assert check_probability("p", v, low_open=low_open, high_open=high_open) == v
    for v in (*outside, math.nan):
        with pytest.raises(ValueError, match=rf"p must be in {interval}, got {v}"):
            check_probability("p", v, low_open=low_open, high_open=high_open)


def test_check_flag_only_bools():
    assert check_flag("f", False) is False
    assert check_flag("f", True) is True
    for bad in (0, 1, "yes", None):
        with pytest.raises(TypeError, match="f must be True or False"):
            check_flag("f", bad)


def test_check_choice_and_registered_list_the_options():
    assert check_choice("op", "mul", ("add", "sub", "mul")) == "mul"
    with pytest.raises(ValueError, match="op must be one of 'add', 'sub', 'mul', got 'div'"):
        check_choice("op", "div", ("add", "sub", "mul"))
    with pytest.raises(ValueError, match="unknown noise kind 'flip'; known: none, symmetric"):
        check_registered("noise kind", "flip", ["none", "symmetric"])


def test_check_logits_types_and_shapes():
    z = torch.zeros(3, 4, 5)
    assert check_logits(z) is z
    with pytest.raises(TypeError, match=r"logits must be a torch\.Tensor, got ndarray"):
        check_logits(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="scores must be a floating-point tensor, got dtype"):
        check_logits(torch.zeros(2, 3, dtype=torch.int64), "scores")
    for shape in ((5,), (4, 1)):
        with pytest.raises(ValueError, match=re.escape(f"with K >= 2, got {shape}")):
            check_logits(torch.zeros(shape))


def test_check_class_labels_range_and_dtype():
    y = check_class_labels("y", torch.tensor([0, 2, 1], dtype=torch.int32), 3)
    assert y.dtype == torch.int64 and y.tolist() == [0, 2, 1]
    assert check_class_labels("y", torch.zeros(0, dtype=torch.int64), 3).numel() == 0
    with pytest.raises(ValueError, match=r"y must lie in \[0, 3\); got values from -1 to 2"):
        check_class_labels("y", torch.tensor([-1, 2]), 3)
    for dtype in (torch.float32, torch.bool):
        with pytest.raises(TypeError, match="y must be integer class labels"):
            check_class_labels("y", torch.zeros(2, dtype=dtype), 3)


def test_check_names_needs_a_non_empty_list_of_registered_names():
    from noisylab.checks import check_names

    assert check_names("loss", ["gce"], ["ce", "gce"]) == ["gce"]
    with pytest.raises(ValueError, match="losses must name at least one loss"):
        check_names("loss", [], ["ce"], field="losses")
    with pytest.raises(ValueError, match="datasets must name at least one dataset"):
        check_names("dataset", [], ["digits"])
    with pytest.raises(ValueError, match="unknown loss 'mse'; known: ce, gce"):
        check_names("loss", ["ce", "mse"], ["ce", "gce"])
