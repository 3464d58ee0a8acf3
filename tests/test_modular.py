"""Facts about the modular-arithmetic task, model, Fourier analysis and extraction."""

import numpy as np
import pytest
import torch

from noisylab.modular import (
    ModularMLP,
    accuracy,
    corrupt,
    cosine_network,
    discrete_log_table,
    dominant_frequency,
    frequency_extract,
    ipr,
    make_task,
    mask_neurons,
    member_labels,
    neuron_ipr,
    neuron_scores,
    partition,
    phase_residual,
    primitive_root,
    pruning_curve,
    strength,
    swap_activation,
)
from noisylab.modular.fourier import from_group_basis, keep_frequency, phases, to_group_basis
from noisylab.modular.task import all_pairs

# --- task -----------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_all_pairs_labels(op):
    x, y = all_pairs(13, op)
    n = 12 * 12 if op == "mul" else 13 * 13
    assert x.shape == (n, 2) and x.dtype == torch.int64 and y.dtype == torch.int64
    a, b = x[:, 0].tolist(), x[:, 1].tolist()
    expect = {"add": lambda s, t: (s + t) % 13, "sub": lambda s, t: (s - t) % 13}
    expect["mul"] = lambda s, t: s * t % 13
    assert y.tolist() == [expect[op](s, t) for s, t in zip(a, b)]
    if op == "mul":
        assert int(x.min()) == 1


def test_split_is_seeded_disjoint_and_clean():
    t1 = make_task(p=17, train_fraction=0.7, noise_rate=0.5, seed=3)
    t2 = make_task(p=17, train_fraction=0.7, noise_rate=0.5, seed=3)
    t3 = make_task(p=17, train_fraction=0.7, noise_rate=0.5, seed=4)
    assert torch.equal(t1.data.x_train, t2.data.x_train)
    assert torch.equal(t1.noisy_labels, t2.noisy_labels)
    assert not torch.equal(t1.data.x_train, t3.data.x_train)
    d = t1.data
    assert d.n_train == round(0.7 * 289) and d.n_train + d.n_test == 289
    train = {tuple(r) for r in d.x_train.tolist()}
    test = {tuple(r) for r in d.x_test.tolist()}
    assert not train & test
    assert torch.equal(d.y_test, (d.x_test[:, 0] + d.x_test[:, 1]) % 17)  # test set clean
    assert torch.equal(d.y_train, (d.x_train[:, 0] + d.x_train[:, 1]) % 17)  # true labels kept
    assert torch.equal(t1.noisy_mask, t1.noisy_labels != d.y_train)


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.8, 1.0])
def test_wrong_noise_exact_rate_never_true(rate):
    y = torch.as_tensor(np.random.default_rng(0).integers(0, 31, size=5000))
    noisy, mask = corrupt(y, 31, "wrong", rate, seed=1)
    assert int(mask.sum()) == round(rate * 5000)
    assert torch.equal(noisy[~mask], y[~mask])
    assert bool((noisy[mask] != y[mask]).all())
    assert int(noisy.min()) >= 0 and int(noisy.max()) < 31


def test_wrong_noise_uniform_over_incorrect_classes():
    y = torch.zeros(60000, dtype=torch.int64)
    noisy, _ = corrupt(y, 7, "wrong", 1.0, seed=2)
    counts = np.bincount(noisy.numpy(), minlength=7)
    assert counts[0] == 0
    assert np.allclose(counts[1:] / 60000, 1 / 6, atol=0.01)


def test_uniform_noise_can_hit_true_label_rate():
    p, n, rate = 5, 40000, 0.6
    y = torch.as_tensor(np.random.default_rng(0).integers(0, p, size=n))
    noisy, mask = corrupt(y, p, "uniform", rate, seed=0)
    realised = float(mask.double().mean())
    assert abs(realised - rate * (1 - 1 / p)) < 0.01  # 0.48, not 0.6
    assert torch.equal(mask, noisy != y)
    counts = np.bincount(noisy.numpy(), minlength=p) / n
    assert np.allclose(counts, 1 / p, atol=0.01)


def test_member_labels_per_member_rates():
    task = make_task(p=23, noise_rate=0.0, seed=0)
    labels, masks = member_labels(task, [0.0, 0.4, 0.8], [0, 1, 2])
    assert labels.shape == masks.shape == (3, task.data.n_train)
    n = task.data.n_train
    assert masks.sum(1).tolist() == [0, round(0.4 * n), round(0.8 * n)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p": 15, "op": "mul"}, "prime"),
        ({"p": 1}, "P must be"),
        ({"op": "div"}, "op must be"),
        ({"noise": "flip", "noise_rate": 0.1}, "noise kind"),
        ({"noise_rate": 1.5}, "noise rate"),
        ({"train_fraction": 1.0}, "train_fraction"),
    ],
)
def test_task_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_task(**{"p": 11, **kwargs})


# --- model ----------------------------------------------------------------------------------


@pytest.mark.parametrize("act", ["relu", "square", "gelu"])
def test_members_equal_single_twins(act):
    seeds = [4, 9, 2]
    ens = ModularMLP(seeds, p=11, width=17, activation=act)
    x = torch.randint(0, 11, (20, 2))
    xm = torch.randint(0, 11, (3, 20, 2))
    out, outm = ens(x), ens(xm)
    assert out.shape == outm.shape == (3, 20, 11)
    for i, s in enumerate(seeds):
        one = ModularMLP([s], p=11, width=17, activation=act)
        for name in ("U", "V", "W", "mu"):
            assert torch.equal(getattr(ens, name)[i], getattr(one, name)[0])
        assert torch.allclose(out[i], one(x)[0], atol=1e-6)
        assert torch.allclose(outm[i], one(xm[i])[0], atol=1e-6)


def test_registered_and_default_init_scale():
    import noisylab.nn as nlnn

    m = nlnn.build("modular2", members=2, seed=5, p=13, width=400)
    assert isinstance(m, ModularMLP) and m.seeds == [5, 6]
    assert m.U.shape == (2, 13, 400) and m.W.shape == (2, 400, 13) and m.mu.shape == (2, 13)
    assert (
        float(m.U.detach().abs().max()) <= 1 / 13**0.5
        and float(m.U.detach().abs().max()) > 0.95 / 13**0.5
    )
    assert float(m.W.detach().abs().max()) <= 1 / 400**0.5


def test_forward_is_the_formula_and_representations():
    m = ModularMLP([0], p=7, width=5, activation="relu")
    x = torch.tensor([[3, 6], [0, 1]])
    onehot = torch.nn.functional.one_hot
    ea, eb = onehot(x[:, 0], 7).float(), onehot(x[:, 1], 7).float()
    pre = ea @ m.U[0] + eb @ m.V[0]
    expect = torch.relu(pre) @ m.W[0] + m.mu[0]
    assert torch.allclose(m(x)[0], expect, atol=1e-6)
    reps = m.representations(x)
    assert list(reps) == ["pre1", "hidden1", "output"]
    assert torch.allclose(reps["pre1"][0], pre, atol=1e-6)
    assert reps["hidden1"].shape == (1, 2, 5)


def test_forward_rejects_bad_input():
    m = ModularMLP([0], p=7, width=5)
    with pytest.raises(ValueError, match=r"\[0, 7\)"):
        m(torch.tensor([[3, 7]]))
    with pytest.raises(TypeError, match="integer"):
        m(torch.tensor([[3.0, 1.0]]))
    with pytest.raises(ValueError, match="activation"):
        ModularMLP([0], p=7, width=5, activation="sigmoid")


def test_swap_activation_and_reverse_relu():
    m = ModularMLP([0], p=7, width=5, activation="relu")
    r = swap_activation(m, "reverse_relu")
    x = torch.tensor([[1, 2]])
    pre = m.representations(x)["pre1"][0]
    assert torch.allclose(r(x)[0], torch.relu(-pre) @ m.W[0] + m.mu[0], atol=1e-6)
    assert m.activation == "relu" and torch.equal(r.U, m.U)


# --- Fourier analysis -----------------------------------------------------------------------


def test_ipr_of_pure_cosine_is_one_and_noise_is_small():
    L = 97
    i = np.arange(L)
    assert ipr(np.cos(2 * np.pi * 5 * i / L + 0.3)) == pytest.approx(1.0, abs=1e-12)
    assert ipr(2.0 + np.cos(2 * np.pi * 5 * i / L)) == pytest.approx(1.0, abs=1e-12)
    assert ipr(2.0 + np.cos(2 * np.pi * 5 * i / L), drop_dc=False) < 0.9
    two = np.cos(2 * np.pi * 3 * i / L) + np.cos(2 * np.pi * 7 * i / L)
    assert ipr(two) == pytest.approx(0.5, abs=1e-12)
    noise = np.random.default_rng(0).normal(size=(2000, L))
    f = L // 2
    assert np.mean(ipr(noise)) == pytest.approx(2 / f, rel=0.1)


def test_strength_formula():
    u = np.array([[0.5, -2.0, 0.1]])
    v = np.array([[1.0, 0.0, -0.2]])
    w = np.array([[-3.0, 1.0, 0.0]])
    assert strength(u, v, w, "relu")[0] == pytest.approx(3.0 * 3.0)
    assert strength(u, v, w, "square")[0] == pytest.approx(3.0 * 9.0)


def test_phases_and_keep_frequency():
    L = 31
    i = np.arange(L)
    x = 1.7 * np.cos(2 * np.pi * 4 * i / L + 1.1) + 0.5 * np.cos(2 * np.pi * 9 * i / L)
    assert phases(x[None], [4])[0] == pytest.approx(1.1)
    g = keep_frequency(x[None], np.array([4]))[0]
    assert np.allclose(g, 1.7 * np.cos(2 * np.pi * 4 * i / L + 1.1))
    even = np.cos(np.pi * i[:30])  # Nyquist of L = 30
    assert np.allclose(keep_frequency(even[None], np.array([15]))[0], even)


@pytest.mark.parametrize(("p", "g"), [(7, 3), (11, 2), (97, 5), (113, 3)])
def test_primitive_root_and_discrete_log(p, g):
    assert primitive_root(p) == g
    log = discrete_log_table(p)
    assert log[0] == -1
    assert sorted(log[1:].tolist()) == list(range(p - 1))
    for a in range(1, p):
        assert pow(g, int(log[a]), p) == a
    with pytest.raises(ValueError, match="prime"):
        primitive_root(p + 1)


def test_group_basis_roundtrip():
    x = np.random.default_rng(0).normal(size=(3, 13))
    y = to_group_basis(x, 13, "mul")
    assert y.shape == (3, 12)
    assert np.allclose(y[:, 1], x[:, primitive_root(13)])
    back = from_group_basis(y, 13, "mul", fill=x[:, 0])
    assert np.allclose(back, x)


# --- cosine network and extraction ----------------------------------------------------------


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
@pytest.mark.parametrize("p", [11, 31])
def test_cosine_network_is_exact_and_survives_extraction(op, p):
    net = cosine_network(p, op=op)
    x, y = all_pairs(p, op)
    assert accuracy(net, x, y)[0] == 1.0
    g, r = frequency_extract(net, op)
    assert accuracy(g, x, y)[0] == 1.0
    for name in ("U", "V", "W"):
        assert torch.allclose(getattr(g, name), getattr(net, name), atol=1e-5)
        assert float(getattr(r, name).detach().abs().max()) < 1e-5
    u, v, w = net.neuron_vectors(0, op)
    assert np.allclose(neuron_ipr(u, v, w), 1.0)
    assert np.allclose(phase_residual(u, v, w, op=op), 0.0, atol=1e-6)


def _ipr_with_dc(x):
    """Doshi et al.'s IPR₂ with the DC term, written out: Σ|ν_k|⁴ / (Σ|ν_k|²)² over k = 0..L//2."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    L = x.shape[-1]
    k = np.arange(L // 2 + 1)
    n = np.arange(L)
    re = (x[:, None, :] * np.cos(2 * np.pi * k[:, None] * n / L)).sum(-1)
    im = (x[:, None, :] * np.sin(2 * np.pi * k[:, None] * n / L)).sum(-1)
    sq = re**2 + im**2
    return (sq**2).sum(-1) / sq.sum(-1) ** 2


def test_neuron_ipr_passes_drop_dc_through():
    L, c = 23, 1.0
    i = np.arange(L)
    row = c + np.cos(2 * np.pi * 3 * i / L)
    u = np.stack([row, np.cos(2 * np.pi * 5 * i / L)])  # (2, L): with and without an offset
    assert np.allclose(neuron_ipr(u, u, u), 1.0)  # default: DC dropped
    with_dc = neuron_ipr(u, u, u, drop_dc=False)
    # offset cosine: (c⁴L⁴ + (L/2)⁴) / (c²L² + (L/2)²)², the pure cosine stays at 1
    expected = (c**4 + 1 / 16) / (c**2 + 1 / 4) ** 2
    assert with_dc == pytest.approx([expected, 1.0], abs=1e-12)
    rng = np.random.default_rng(0)
    a, b, w = (rng.normal(size=(6, L)) + 0.5 for _ in range(3))
    ref = (_ipr_with_dc(a) + _ipr_with_dc(b) + _ipr_with_dc(w)) / 3
    assert np.allclose(neuron_ipr(a, b, w, drop_dc=False), ref, atol=1e-12)
    assert not np.allclose(neuron_ipr(a, b, w), ref, atol=1e-3)


def test_neuron_scores_passes_drop_dc_through():
    net, _ = _cosine_plus_junk()
    u, v, w = net.neuron_vectors(0, "add")
    ref = (_ipr_with_dc(u) + _ipr_with_dc(v) + _ipr_with_dc(w)) / 3
    with_dc = neuron_scores(net, "ipr", "add", drop_dc=False)
    assert with_dc.shape == (1, net.width)
    assert np.allclose(with_dc[0], ref, atol=1e-12)
    assert np.allclose(neuron_scores(net, "ipr", "add")[0], neuron_ipr(u, v, w), atol=1e-12)
    assert not np.allclose(with_dc, neuron_scores(net, "ipr", "add"), atol=1e-3)
    strength_scores = neuron_scores(net, "strength", drop_dc=False)
    assert np.array_equal(strength_scores, neuron_scores(net, "strength"))


def test_mul_needs_log_basis():
    """A cosine network in log-indices solves a·b; read in the additive basis it is no cosine."""
    net = cosine_network(31, op="mul", freqs=[7])  # gcd(7, 30) = 1
    x, y = all_pairs(31, "mul")
    assert accuracy(net, x, y)[0] == 1.0
    u, v, w = net.neuron_vectors(0, "mul")
    assert np.allclose(dominant_frequency(u, v, w), 7)
    assert np.allclose(neuron_ipr(u, v, w), 1.0)
    ua, va, wa = net.neuron_vectors(0, "add")
    assert float(np.mean(neuron_ipr(ua, va, wa))) < 0.5


def test_single_frequency_cosine_net_is_exact():
    net = cosine_network(29, freqs=[7])
    x, y = all_pairs(29)
    assert accuracy(net, x, y)[0] == 1.0
    u, v, w = net.neuron_vectors(0)
    assert (dominant_frequency(u, v, w) == 7).all()


@pytest.mark.parametrize("op", ["add", "mul"])
@pytest.mark.parametrize("keep_mu", [False, True])
def test_extraction_reconstructs_weights(op, keep_mu):
    m = ModularMLP([1, 2], p=13, width=33, activation="relu")
    g, r = frequency_extract(m, op=op, keep_mu=keep_mu)
    assert type(g) is type(r) is ModularMLP and g.activation == "relu"
    for name in ("U", "V", "W", "mu"):
        total = getattr(g, name) + getattr(r, name)
        assert torch.allclose(total, getattr(m, name), atol=1e-6, rtol=0)
    assert torch.equal(g.mu, m.mu) if keep_mu else float(g.mu.detach().abs().max()) == 0.0
    # G has one frequency per neuron: IPR exactly 1 (in the right basis).
    u, _, w = g.neuron_vectors(1, op)
    assert np.allclose(ipr(u), 1.0) and np.allclose(ipr(w), 1.0)
    if op == "mul":  # residue 0 is outside the group and stays in R
        assert (
            float(g.U[:, 0].detach().abs().max()) == 0.0
            and float(g.W[:, :, 0].detach().abs().max()) == 0.0
        )


def _cosine_plus_junk(p=23, junk=40, seed=0):
    """A cosine network with ``junk`` random, high-strength neurons appended."""
    cos = cosine_network(p, freqs=[2, 5], phases=3)  # 18 neurons
    rng = torch.Generator().manual_seed(seed)
    n = cos.width + junk
    net = ModularMLP([0], p=p, width=n, activation="square", bias=False)
    U = torch.cat([cos.U, 3 * torch.randn(1, p, junk, generator=rng)], dim=2)
    V = torch.cat([cos.V, 3 * torch.randn(1, p, junk, generator=rng)], dim=2)
    W = torch.cat([cos.W, 3 * torch.randn(1, junk, p, generator=rng)], dim=1)
    return net.with_weights(U, V, W), cos.width


def test_partition_by_ipr_recovers_the_cosine_neurons():
    net, k = _cosine_plus_junk()
    x, y = all_pairs(23)
    assert accuracy(net, x, y)[0] < 0.5
    part = partition(net, score="ipr", k=k)
    assert accuracy(part.general, x, y)[0] == 1.0
    assert (
        part.general.U[0, :, :k].detach().abs().sum() > 0
        and float(part.general.U[0, :, k:].detach().abs().max()) == 0
    )
    assert float(part.memory.U[0, :, :k].detach().abs().max()) == 0.0
    # strength favours the large random neurons instead
    by_strength = partition(net, score="strength", k=k)
    assert accuracy(by_strength.general, x, y)[0] < 0.5
    assert neuron_scores(net, "strength").argmax() >= k


def test_pruning_curve_orders():
    net, k = _cosine_plus_junk()
    x, y = all_pairs(23)
    sets = {"all": (x, y)}
    asc = pruning_curve(net, sets, score="ipr", steps=net.width + 1)
    desc = pruning_curve(net, sets, score="ipr", steps=net.width + 1, reverse=True)
    assert asc["removed"].tolist() == list(range(net.width + 1))
    acc = asc["all"][0]
    assert acc.shape == (net.width + 1,)
    assert acc[net.width - k] == 1.0  # every junk neuron removed, all cosines left
    assert acc[-1] == pytest.approx(float((y == 0).double().mean()))  # empty net: argmax 0
    assert desc["all"][0][k] < 0.5  # cosines removed first: junk alone


def test_mask_neurons_shape_check():
    m = ModularMLP([0, 1], p=7, width=4)
    with pytest.raises(ValueError, match="keep must have shape"):
        mask_neurons(m, np.ones((1, 4), dtype=bool))
    with pytest.raises(ValueError, match="k must be"):
        partition(m, k=9)


def test_masked_accuracy_equals_subset_accuracy():
    net = cosine_network(13)
    x, y = all_pairs(13)
    wrong = (y + 1) % 13
    labels = torch.stack([y, wrong])  # (2, n): member rows scored against different labels
    mask = torch.zeros(2, len(y), dtype=torch.bool)
    mask[0, :50] = True
    mask[1, 20:] = True
    two = ModularMLP([0, 1], p=13, width=net.width, activation="square", bias=False)
    two = two.with_weights(
        net.U.expand(2, -1, -1), net.V.expand(2, -1, -1), net.W.expand(2, -1, -1)
    )
    acc = accuracy(two, x, labels, mask)
    assert acc.tolist() == [1.0, 0.0]
    assert np.isnan(accuracy(two, x, y, torch.zeros(2, len(y), dtype=torch.bool))).all()


def test_select_and_with_weights():
    m = ModularMLP([3, 4, 5], p=7, width=6, activation="gelu")
    sub = m.select([2, 0])
    assert sub.seeds == [5, 3] and sub.members == 2
    x = torch.randint(0, 7, (9, 2))
    assert torch.allclose(sub(x), m(x)[[2, 0]])
    with pytest.raises(ValueError, match="U must have shape"):
        m.with_weights(U=torch.zeros(1, 7, 6))
    with pytest.raises(ValueError, match="member index"):
        m.select([3])


def test_ensemble_training_equals_separate_runs():
    """Full-batch AdamW through the engine: member i of an ensemble == its single-member run."""
    from noisylab.train import fit

    task = make_task(p=11, noise_rate=0.0, seed=0)
    labels, masks = member_labels(task, [0.3, 0.6], [5, 6])
    kw = dict(
        optimizer="adamw",
        lr=1e-2,
        weight_decay=1.0,
        schedule="constant",
        epochs=5,
        batch_size=None,
    )
    ens = ModularMLP([1, 2], p=11, width=16, activation="square")
    h = fit(ens, task.data, labels, noisy_mask=masks, seed=[1, 2], **kw)
    for i, s in enumerate([1, 2]):
        one = ModularMLP([s], p=11, width=16, activation="square")
        h1 = fit(one, task.data, labels[i : i + 1], noisy_mask=masks[i : i + 1], seed=[s], **kw)
        for name in ("U", "V", "W", "mu"):
            assert torch.allclose(getattr(ens, name)[i], getattr(one, name)[0], atol=1e-5)
        assert np.allclose(h.metrics["noisy/acc_noisy"][i], h1.metrics["noisy/acc_noisy"][0])
    assert not torch.allclose(ens.U[0], ModularMLP([1], p=11, width=16).U[0])  # it trained
