"""Tests of noisylab.noise: transition matrices, exact/sampled label noise, targets, preferences."""

from __future__ import annotations

import hashlib
import math
from fractions import Fraction

import numpy as np
import pytest

from noisylab.noise import (
    CIFAR100_COARSE,
    CIFAR100_FINE_NAMES,
    CIFAR100_SUPERCLASSES,
    NOISE_KINDS,
    cell_counts,
    corrupt_labels,
    corrupt_members,
    corrupt_targets,
    empirical_transition,
    flip_preferences,
    parse_spec,
    transition_matrix,
)


def _labels(counts, seed=0):
    """Shuffled labels with counts[c] samples of class c."""
    y = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    return np.random.default_rng(seed).permutation(y)


def _floor(rate, n):
    return math.floor(Fraction(str(rate)) * n)


def _binom_tol(p, n, z=5.0):
    return z * math.sqrt(p * (1 - p) / n) + 1e-12


# ---------------------------------------------------------------- transition matrices


@pytest.mark.parametrize("kind", ["symmetric", "uniform", "pair:next", "none"])
@pytest.mark.parametrize("k", [2, 5, 10])
def test_transition_rows_sum_to_one(kind, k):
    t = transition_matrix(kind, k, 0.3 if k > 2 else 0.2)
    assert t.shape == (k, k)
    np.testing.assert_allclose(t.sum(1), 1.0)
    assert np.all(t >= 0)


def test_symmetric_and_uniform_entries():
    t = transition_matrix("symmetric", 4, 0.6)
    np.testing.assert_allclose(np.diag(t), 0.4)
    np.testing.assert_allclose(t[0, 1:], 0.2)
    u = transition_matrix("uniform", 4, 0.6)
    np.testing.assert_allclose(np.diag(u), 0.4 + 0.15)
    np.testing.assert_allclose(u[0, 1:], 0.15)


def test_pair_maps():
    t = transition_matrix("pair:mnist", 10, 0.25)
    for s, d in {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}.items():
        assert t[s, s] == 0.75 and t[s, d] == 0.25
    for c in (0, 1, 4, 8, 9):
        assert t[c, c] == 1.0
    t = transition_matrix("pair:cifar10", 10, 0.4)
    for s, d in {9: 1, 2: 0, 4: 7, 3: 5, 5: 3}.items():
        assert t[s, d] == pytest.approx(0.4)
    for c in (0, 1, 6, 7, 8):
        assert t[c, c] == 1.0
    t = transition_matrix("pair:next", 4, 0.1)
    assert [int(np.argmax(t[c] - np.eye(4)[c] * 2)) for c in range(4)] == [1, 2, 3, 0]


def test_cifar100_coarse_table_matches_documented_superclasses():
    names = {f: c for c, (_, fine) in enumerate(CIFAR100_SUPERCLASSES) for f in fine}
    assert len(names) == 100 and list(CIFAR100_FINE_NAMES) == sorted(CIFAR100_FINE_NAMES)
    assert [names[n] for n in CIFAR100_FINE_NAMES] == list(CIFAR100_COARSE)
    # spot checks by name: apple→fruit (4), whale→aquatic mammals (0), worm→invertebrates (13)
    assert CIFAR100_COARSE[0] == 4 and CIFAR100_COARSE[95] == 0 and CIFAR100_COARSE[99] == 13


def test_cifar100_pair_stays_in_superclass_and_cycles():
    t = transition_matrix("pair:cifar100", 100, 0.4)
    coarse = np.asarray(CIFAR100_COARSE)
    dest = [int(np.flatnonzero((t[c] > 0) & (np.arange(100) != c))[0]) for c in range(100)]
    assert all(coarse[d] == coarse[c] for c, d in enumerate(dest))
    assert sorted(dest) == list(range(100))  # a permutation
    # beaver(4) → dolphin(30) → otter(55) → seal(72) → whale(95) → beaver(4)
    cycle = [4]
    for _ in range(5):
        cycle.append(dest[cycle[-1]])
    assert cycle == [4, 30, 55, 72, 95, 4]
    # NOT the naive block map c → 5·(c//5) + (c+1)%5, which ignores the real superclasses
    assert dest[0] != 1


# ---------------------------------------------------------------- exact label noise


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.29, 0.4, 0.6, 0.8])
def test_symmetric_exact_counts_per_class(rate):
    counts = [97, 103, 50, 211, 88, 120, 60, 75, 130, 66]
    y = _labels(counts)
    r = corrupt_labels(y, 10, "symmetric", rate, seed=3)
    assert np.array_equal(r.is_noisy, r.labels != y)
    for c, n in enumerate(counts):
        assert r.is_noisy[y == c].sum() == _floor(rate, n)
    assert r.is_noisy.sum() == sum(_floor(rate, n) for n in counts)
    assert r.realized_rate == pytest.approx(r.is_noisy.mean())
    assert np.all(r.labels[r.is_noisy] != y[r.is_noisy])


def test_symmetric_exact_targets_uniform_over_other_classes():
    y = np.zeros(30000, dtype=int)
    r = corrupt_labels(y, 5, "symmetric", 0.7, seed=1)
    hist = np.bincount(r.labels, minlength=5)
    assert hist[0] == 30000 - 21000
    np.testing.assert_allclose(hist[1:] / 21000, 0.25, atol=_binom_tol(0.25, 21000))


def test_exact_empirical_transition_matches_T():
    y = _labels([4000] * 5)
    for kind in ("symmetric", "pair:next", "uniform"):
        r = corrupt_labels(y, 5, kind, 0.4, seed=0)
        emp = empirical_transition(y, r.labels, 5)
        np.testing.assert_allclose(emp, r.transition, atol=_binom_tol(0.1, 4000))


def test_pair_exact_cat_dog_swap_does_not_reselect():
    counts = [500] * 10
    y = _labels(counts, seed=5)
    rate = 0.2
    r = corrupt_labels(y, 10, "pair:cifar10", rate, seed=0)
    for c in range(10):
        flips = r.is_noisy[y == c].sum()
        assert flips == (_floor(rate, 500) if c in (9, 2, 4, 3, 5) else 0)
    cats, dogs = y == 3, y == 5
    assert np.all(r.labels[cats & r.is_noisy] == 5) and np.all(r.labels[dogs & r.is_noisy] == 3)
    # realised rate on the flipped classes is exactly the nominal rate
    flipped_classes = np.isin(y, [9, 2, 4, 3, 5])
    assert r.is_noisy[flipped_classes].mean() == rate
    # the buggy in-place procedure (select dogs after cats became dogs) re-selects flipped cats
    buggy = y.copy()
    rng = np.random.default_rng(0)
    for s, d in [(3, 5), (5, 3)]:
        idx = np.flatnonzero(buggy == s)
        buggy[rng.permutation(idx)[: int(rate * idx.size)]] = d
    assert (buggy != y)[cats | dogs].mean() < rate


def test_pair_mnist_exact_destinations():
    y = _labels([300] * 10)
    r = corrupt_labels(y, 10, "pair:mnist", 0.3, seed=2)
    for s, d in {7: 1, 2: 7, 5: 6, 6: 5, 3: 8}.items():
        m = (y == s) & r.is_noisy
        assert m.sum() == 90 and np.all(r.labels[m] == d)
    assert not r.is_noisy[np.isin(y, [0, 1, 4, 8, 9])].any()


def test_uniform_realised_rate():
    y = _labels([2000] * 10)
    for exact in (True, False):
        r = corrupt_labels(y, 10, "uniform", 0.5, seed=4, exact=exact)
        assert r.realized_rate == pytest.approx(0.45, abs=_binom_tol(0.45, 20000))
    assert corrupt_labels(y, 10, "uniform", 0.5, seed=4).realized_rate == 0.45


def test_matrix_kind_exact_and_sampled():
    t = np.array([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0], [0.25, 0.25, 0.5]])
    y = _labels([6000, 6000, 6000])
    r = corrupt_labels(y, 3, "matrix", 0.0, seed=0, matrix=t)
    assert r.is_noisy[y == 0].sum() == 1800 and r.is_noisy[y == 2].sum() == 3000
    assert not r.is_noisy[y == 1].any()
    np.testing.assert_allclose(empirical_transition(y, r.labels, 3), t, atol=0.03)
    s = corrupt_labels(y, 3, "matrix", 0.0, seed=0, matrix=t, exact=False)
    np.testing.assert_allclose(empirical_transition(y, s.labels, 3), t, atol=0.03)


# ---------------------------------------------------------------- sampled label noise


@pytest.mark.parametrize("kind", ["symmetric", "pair:next", "pair:mnist"])
def test_sampled_noise_rate_and_transition(kind):
    n_c = 3000
    y = _labels([n_c] * 10)
    rate = 0.35
    r = corrupt_labels(y, 10, kind, rate, seed=7, exact=False)
    emp = empirical_transition(y, r.labels, 10)
    tol = _binom_tol(rate, n_c)
    np.testing.assert_allclose(emp, r.transition, atol=tol)
    frac_src = 1.0 if kind != "pair:mnist" else 0.5
    assert r.realized_rate == pytest.approx(rate * frac_src, abs=_binom_tol(rate, 30000))
    # not exact: per-class counts are not all ⌊η·n_c⌋
    per_class = [r.is_noisy[y == c].sum() for c in range(10)]
    assert any(p not in (0, _floor(rate, n_c)) for p in per_class)


# ---------------------------------------------------------------- exact cells (cleanlab)


def _hamilton_row(targets, n, first):
    """Largest-remainder rounding of one row, written out: floors, then +1 to the largest
    remainders, ties in cyclic order from column ``first``."""
    exact = [Fraction(t).limit_denominator(10**9) for t in targets]
    counts = [math.floor(e) for e in exact]
    k = len(targets)
    order = sorted(range(k), key=lambda j: (-(exact[j] - counts[j]), (j - first) % k))
    for j in order[: n - sum(counts)]:
        counts[j] += 1
    return counts


def _count_matrix(y, z, k):
    return np.bincount(y * k + z, minlength=k * k).reshape(k, k)


@pytest.mark.parametrize(
    ("kind", "rate", "counts"),
    [
        ("symmetric", 0.4, [103, 97, 120, 88]),
        ("symmetric", 0.25, [10, 11, 13, 7]),
        ("uniform", 0.3, [51, 49, 50, 77]),
        ("pair:next", 0.35, [33, 29, 40, 41]),
    ],
)
def test_exact_cells_realises_the_target_count_matrix(kind, rate, counts):
    k = len(counts)
    y = _labels(counts, seed=5)
    r = corrupt_labels(y, k, kind, rate, seed=2, exact="cells")
    t = transition_matrix(kind, k, rate)
    target = np.array([_hamilton_row(t[i] * counts[i], counts[i], i) for i in range(k)])
    assert np.array_equal(_count_matrix(y, r.labels, k), target)
    assert np.array_equal(cell_counts(t, np.array(counts)), target)
    assert np.array_equal(target.sum(1), counts)
    lo, hi = np.floor(t * np.array(counts)[:, None] - 1e-9), np.ceil(t * np.array(counts)[:, None])
    assert np.all((target >= lo) & (target <= hi))  # each cell a rounding of T_ij·n_i
    assert int(r.is_noisy.sum()) == sum(counts) - int(np.trace(target))


def test_exact_cells_with_a_user_matrix_and_hand_counts():
    t = np.array([[0.6, 0.2, 0.2], [0.0, 1.0, 0.0], [0.3, 0.3, 0.4]])
    y = _labels([7, 3, 5], seed=1)
    r = corrupt_labels(y, 3, "matrix", 0.0, seed=0, matrix=t, exact="cells")
    # row 0: 4.2, 1.4, 1.4 → 4, 2, 1 (tie at .4 goes to column 1 first);
    # row 2: 1.5, 1.5, 2.0 → 2, 1, 2 (tie at .5: cyclic order from the diagonal is 2, 0, 1)
    assert _count_matrix(y, r.labels, 3).tolist() == [[4, 2, 1], [0, 3, 0], [2, 1, 2]]
    other = corrupt_labels(y, 3, "matrix", 0.0, seed=1, matrix=t, exact="cells")
    assert not np.array_equal(other.labels, r.labels)  # the samples of a cell are random
    assert _count_matrix(y, other.labels, 3).tolist() == [[4, 2, 1], [0, 3, 0], [2, 1, 2]]


def test_exact_cells_differs_from_exact_counts_only_in_cells():
    """exact=True fixes the per-class flips but not where they go; "cells" fixes both."""
    y = _labels([200] * 5)
    cells = [
        _count_matrix(y, corrupt_labels(y, 5, "symmetric", 0.4, s, "cells").labels, 5)
        for s in range(4)
    ]
    counts = [
        _count_matrix(y, corrupt_labels(y, 5, "symmetric", 0.4, s, True).labels, 5)
        for s in range(4)
    ]
    assert all(np.array_equal(c, cells[0]) for c in cells)
    assert not all(np.array_equal(c, counts[0]) for c in counts)
    assert all(np.array_equal(np.diag(c), np.diag(cells[0])) for c in counts)


def test_default_exact_mode_unchanged_by_the_cells_mode():
    """sha256 of the labels produced before the "cells" mode existed (same seed)."""
    y = np.arange(1000) % 10
    expected = {
        ("symmetric", 0.4, True): "ca72ff80994c8269",
        ("symmetric", 0.4, False): "c36557b02cafd3af",
        ("uniform", 0.3, True): "b9430562861636cb",
        ("uniform", 0.3, False): "733fdbc4b56ca944",
        ("pair:next", 0.2, True): "b9a75dc153ae847a",
        ("pair:next", 0.2, False): "16ed916a861e3779",
        ("pair:mnist", 0.35, True): "6254ae0b50da4f17",
        ("pair:mnist", 0.35, False): "2a3d799cba6ff44e",
    }
    for (kind, rate, exact), digest in expected.items():
        r = corrupt_labels(y, 10, kind, rate, seed=3, exact=exact)
        assert hashlib.sha256(r.labels.astype(np.int64).tobytes()).hexdigest()[:16] == digest
        if exact:
            same = corrupt_labels(y, 10, kind, rate, seed=3, exact="counts")
            assert np.array_equal(same.labels, r.labels)


@pytest.mark.parametrize("bad", ["cell", "sampled", 1, None])
def test_bad_exact_mode_raises(bad):
    with pytest.raises(ValueError, match="exact must be"):
        corrupt_labels([0, 1] * 5, 2, "symmetric", 0.2, seed=0, exact=bad)


def test_exact_cells_rejects_instance_noise():
    x = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="cells"):
        corrupt_labels([0, 1] * 10, 2, "instance", 0.2, seed=0, exact="cells", features=x)


# ---------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("exact", [True, False])
def test_same_seed_same_labels_different_seed_different(exact):
    y = _labels([100] * 10)
    a = corrupt_labels(y, 10, "symmetric", 0.4, seed=11, exact=exact)
    b = corrupt_labels(y, 10, "symmetric", 0.4, seed=11, exact=exact)
    c = corrupt_labels(y, 10, "symmetric", 0.4, seed=12, exact=exact)
    assert np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)


def test_members_equal_single_runs():
    y = _labels([50] * 4)
    m = corrupt_members(y, 4, "symmetric", 0.5, seeds=[1, 2, 3])
    assert m.labels.shape == (3, 200) and m.is_noisy.shape == (3, 200)
    for i, s in enumerate([1, 2, 3]):
        assert np.array_equal(m.labels[i], corrupt_labels(y, 4, "symmetric", 0.5, s).labels)
    np.testing.assert_allclose(m.realized_rate, 0.5)


def test_input_not_modified_and_none_kind():
    y = _labels([20] * 3)
    y0 = y.copy()
    corrupt_labels(y, 3, "symmetric", 0.5, seed=0)
    assert np.array_equal(y, y0)
    r = corrupt_labels(y, 3, "none", 0.0, seed=0)
    assert np.array_equal(r.labels, y) and r.realized_rate == 0.0


# ---------------------------------------------------------------- instance-dependent


def test_instance_noise_rates_and_dependence_on_features():
    rng = np.random.default_rng(0)
    n, d, k = 6000, 20, 5
    x = rng.standard_normal((n, d))
    y = rng.integers(0, k, n)
    r = corrupt_labels(y, k, "instance", 0.3, seed=0, features=x, exact=False)
    assert r.realized_rate == pytest.approx(0.3, abs=0.03)
    np.testing.assert_allclose(r.transition.sum(1), 1.0)
    e = corrupt_labels(y, k, "instance", 0.3, seed=0, features=x, exact=True)
    for c in range(k):
        assert e.is_noisy[y == c].sum() == _floor(0.3, int((y == c).sum()))
    # destinations depend on x: within class 0, the noisy class is predictable from x
    # far better than by the marginal (the class-wise projections make it feature-driven)
    m = (y == 0) & e.is_noisy
    dest = e.labels[m]
    from sklearn.linear_model import LogisticRegression

    acc = LogisticRegression(max_iter=500).fit(x[m], dest).score(x[m], dest)
    assert acc > np.bincount(dest).max() / dest.size + 0.2
    with pytest.raises(ValueError, match="features"):
        corrupt_labels(y, k, "instance", 0.3, seed=0)


# ---------------------------------------------------------------- targets and preferences


@pytest.mark.parametrize("snr", [0.5, 2.0, 8.0])
def test_corrupt_targets_snr(snr):
    rng = np.random.default_rng(0)
    y = rng.standard_normal((20000, 3)) * np.array([1.0, 2.0, 3.0])
    r = corrupt_targets(y, snr, seed=1)
    pooled = y.var(axis=0).mean()
    assert r.sigma == pytest.approx(math.sqrt(pooled / snr))
    emp_snr = pooled / (r.targets - y).var()
    assert emp_snr == pytest.approx(snr, rel=0.03)
    assert np.array_equal(corrupt_targets(y, snr, seed=1).targets, r.targets)
    assert not np.array_equal(corrupt_targets(y, snr, seed=2).targets, r.targets)


def test_corrupt_targets_inf_is_clean_and_bad_snr():
    y = np.arange(10.0)
    r = corrupt_targets(y, math.inf, seed=0)
    assert np.array_equal(r.targets, y) and r.sigma == 0.0
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="snr must be > 0"):
            corrupt_targets(y, bad, seed=0)


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.25, 0.5])
def test_flip_preferences_rate(rate):
    c = np.random.default_rng(0).integers(0, 2, 40000)
    r = flip_preferences(c, rate, seed=3)
    assert r.realized_rate == pytest.approx(rate, abs=_binom_tol(max(rate, 1e-3), 40000))
    assert r.replaced.mean() == pytest.approx(2 * rate, abs=_binom_tol(max(2 * rate, 1e-3), 4e4))
    assert not r.flipped[~r.replaced].any()
    assert set(np.unique(r.choices)) <= {0, 1}


def test_flip_preferences_bad_input():
    with pytest.raises(ValueError, match=r"\[0, 0.5\], got 0.6"):
        flip_preferences(np.array([0, 1]), 0.6)
    with pytest.raises(ValueError, match="got 2 at index 1"):
        flip_preferences(np.array([0, 2]), 0.1)


# ---------------------------------------------------------------- parsing and errors


def test_parse_spec():
    assert parse_spec("symmetric:0.4") == ("symmetric", 0.4)
    assert parse_spec("pair:mnist:0.2") == ("pair:mnist", 0.2)
    assert parse_spec("none") == ("none", 0.0)
    assert parse_spec("uniform:0") == ("uniform", 0.0)
    with pytest.raises(ValueError, match="needs a rate"):
        parse_spec("symmetric")
    with pytest.raises(ValueError, match=r"'bogus:0\.3'"):
        parse_spec("bogus:0.3")
    with pytest.raises(ValueError, match="not a number"):
        parse_spec("symmetric:abc")


def test_noise_kinds_listed():
    assert {"symmetric", "uniform", "pair:mnist", "pair:cifar10", "pair:cifar100"} <= set(
        NOISE_KINDS
    )
    assert all(isinstance(v, str) and v for v in NOISE_KINDS.values())


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_rate_out_of_range(rate):
    with pytest.raises(ValueError, match=r"\[0, 1\), got"):
        corrupt_labels([0, 1, 2], 3, "pair:next", rate, seed=0)


def test_symmetric_rate_too_high():
    with pytest.raises(ValueError, match=r"< \(K-1\)/K = 0.5 for K = 2, got 0.5"):
        transition_matrix("symmetric", 2, 0.5)
    with pytest.raises(ValueError, match=r"K = 10, got 0\.9"):
        corrupt_labels([0, 1], 10, "symmetric", 0.9, seed=0)
    transition_matrix("symmetric", 10, 0.89)  # just below the limit is fine


def test_labels_out_of_range_name_value_and_index():
    with pytest.raises(ValueError, match=r"\[0, 3\); got 3 at index 2"):
        corrupt_labels([0, 1, 3, 1], 3, "symmetric", 0.2, seed=0)
    with pytest.raises(ValueError, match="got -1 at index 0"):
        corrupt_labels([-1, 1], 3, "symmetric", 0.2, seed=0)
    with pytest.raises(ValueError, match="integers"):
        corrupt_labels([0.5, 1.0], 3, "symmetric", 0.2, seed=0)


def test_bad_matrices():
    with pytest.raises(ValueError, match=r"row 1 sums to 0.9"):
        transition_matrix("matrix", 2, 0, matrix=np.array([[1.0, 0.0], [0.5, 0.4]]))
    with pytest.raises(ValueError, match=r"negative entry T\[0, 1\]"):
        transition_matrix("matrix", 2, 0, matrix=np.array([[1.2, -0.2], [0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"shape \(3, 3\), got \(2, 2\)"):
        transition_matrix("matrix", 3, 0, matrix=np.eye(2))
    with pytest.raises(ValueError, match="needs a transition matrix"):
        corrupt_labels([0, 1], 2, "matrix", 0.0, seed=0)


def test_unknown_kind_lists_known():
    with pytest.raises(ValueError, match=r"unknown noise kind 'flip'; known: .*symmetric"):
        corrupt_labels([0, 1], 2, "flip", 0.2, seed=0)


def test_pair_wrong_num_classes():
    with pytest.raises(ValueError, match="pair:mnist noise needs num_classes = 10, got 5"):
        transition_matrix("pair:mnist", 5, 0.2)
    with pytest.raises(ValueError, match="pair:cifar10 noise needs num_classes = 10, got 100"):
        corrupt_labels([0, 1], 100, "pair:cifar10", 0.2, seed=0)
    with pytest.raises(ValueError, match="needs num_classes = 100"):
        transition_matrix("pair:cifar100", 10, 0.2)


def test_bad_num_classes_and_seed():
    with pytest.raises(ValueError, match="num_classes must be an int >= 2, got 1"):
        transition_matrix("symmetric", 1, 0.1)
    with pytest.raises(TypeError, match="seed"):
        corrupt_labels([0, 1], 2, "symmetric", 0.1, seed="a")  # type: ignore[arg-type]


# ---------------------------------------------------------------- property-based


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(0, 60), min_size=2, max_size=8),
    rate_pct=st.integers(0, 99),
    seed=st.integers(0, 2**31),
    pair=st.booleans(),
)
def test_exact_counts_property(counts, rate_pct, seed, pair):
    k = len(counts)
    rate = rate_pct / 100
    if not pair and rate >= (k - 1) / k:
        rate = round(0.5 * (k - 1) / k, 2)  # rates are decimals, as users give them
    y = _labels(counts, seed=1)
    kind = "pair:next" if pair else "symmetric"
    r = corrupt_labels(y, k, kind, rate, seed=seed)
    for c, n in enumerate(counts):
        assert r.is_noisy[y == c].sum() == _floor(rate, n)
    if pair:
        assert np.all(r.labels[r.is_noisy] == (y[r.is_noisy] + 1) % k)
    assert np.array_equal(np.sort(r.labels[~r.is_noisy]), np.sort(y[~r.is_noisy]))


def test_flip_preferences_seeded():
    c = np.random.default_rng(0).integers(0, 2, 1000)
    a, b = flip_preferences(c, 0.2, seed=5), flip_preferences(c, 0.2, seed=5)
    assert np.array_equal(a.choices, b.choices) and np.array_equal(a.replaced, b.replaced)
    assert not np.array_equal(a.choices, flip_preferences(c, 0.2, seed=6).choices)
