"""Synthetic teacher data: Gaussian inputs labelled by a random linear or MLP teacher."""

from __future__ import annotations

import numpy as np

from noisylab.checks import check_choice, check_int
from noisylab.data._prep import build, rng_for
from noisylab.data.dataset import TASKS, Dataset


def teacher_outputs(x: np.ndarray, weights: dict[str, np.ndarray], kind: str) -> np.ndarray:
    """Teacher outputs f(x), shape (n, out).

    linear: f(x) = βᵀx; mlp: f(x) = W₂ᵀ tanh(W₁ᵀx/√d)/√h.
    """
    if kind == "linear":
        return x @ weights["beta"]
    h = np.tanh(x @ weights["w1"] / np.sqrt(x.shape[1]))  # (n, hidden)
    return h @ weights["w2"] / np.sqrt(h.shape[1])


def teacher(
    *,
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    d: int = 20,
    task: str = "classification",
    num_classes: int = 10,
    num_outputs: int = 1,
    teacher: str = "linear",
    hidden: int = 64,
    teacher_seed: int | None = None,
) -> Dataset:
    """Gaussian inputs x ~ N(0, I_d) labelled by a random teacher network.

    Parameters
    ----------
    seed : int
        Draws the inputs (and the teacher, unless ``teacher_seed`` is given).
    n_train, n_test : int, optional
        Sample sizes (default 1000 each).
    d : int
        Input dimension.
    task : {"classification", "regression"}
        Classification labels are argmaxₖ fₖ(x) over K = ``num_classes`` outputs; regression
        targets are the clean f(x) (shape (n,) for one output, else (n, num_outputs)); add
        noise with :func:`noisylab.noise.corrupt_targets`.
    teacher : {"linear", "mlp"}
        linear: f(x) = βᵀx with each column of β ~ N(0, I_d) scaled to unit norm, so for
        regression Var(y) = ‖β‖² = 1 and SNR = ‖β‖²/σ² = 1/σ² (the alignment reference's
        setting y = βᵀx + ε). mlp: f(x) = W₂ᵀ tanh(W₁ᵀx/√d)/√h with standard normal W₁ (d, h),
        W₂ (h, out).
    hidden : int
        Width h of the MLP teacher.
    teacher_seed : int, optional
        Seed of the teacher weights; default ``seed``. Fix it to draw new inputs for the
        same teacher.

    Returns
    -------
    Dataset
        ``info["beta"]`` (d, out) for the linear teacher (``info["w1"]``, ``info["w2"]`` for
        the MLP), plus ``info["teacher"]``.
    """
    d = check_int("d", d)
    n_tr = check_int("n_train", 1000 if n_train is None else n_train)
    n_te = check_int("n_test", 1000 if n_test is None else n_test)
    check_choice("task", task, TASKS)
    check_choice("teacher", teacher, ("linear", "mlp"))
    if task == "classification":
        out = check_int("num_classes", num_classes, 2)
    else:
        out = check_int("num_outputs", num_outputs)
    hidden = check_int("hidden", hidden)
    t_rng = rng_for(seed if teacher_seed is None else teacher_seed, 10)
    if teacher == "linear":
        beta = t_rng.standard_normal((d, out))
        beta /= np.linalg.norm(beta, axis=0, keepdims=True)
        weights = {"beta": beta}
    else:
        weights = {
            "w1": t_rng.standard_normal((d, hidden)),
            "w2": t_rng.standard_normal((hidden, out)),
        }
    x_rng = rng_for(seed, 11)
    x_train = x_rng.standard_normal((n_tr, d))
    x_test = x_rng.standard_normal((n_te, d))
    f_train = teacher_outputs(x_train, weights, teacher)
    f_test = teacher_outputs(x_test, weights, teacher)
    if task == "classification":
        y_train, y_test = f_train.argmax(axis=1), f_test.argmax(axis=1)
    elif out == 1:
        y_train, y_test = f_train[:, 0], f_test[:, 0]
    else:
        y_train, y_test = f_train, f_test
    return build(
        "teacher",
        x_train,
        y_train,
        x_test,
        y_test,
        task=task,
        num_classes=out if task == "classification" else None,
        seed=seed,
        n_train=None,
        n_test=None,
        standardize_mode="none",
        provenance=f"synthetic: x ~ N(0, I_{d}), {teacher} teacher, {task}",
        info={"teacher": teacher, **weights},
    )
