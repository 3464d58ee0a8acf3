"""Modular arithmetic with label noise: task, two-layer model, Fourier analysis, extraction.

Reproduces the analyses of Liu & Lu (2026), "Unveiling Memorization-Generalization
Coexistence: A Case Study on Arithmetic Tasks with Label Noise": a two-layer network trained
on c = a ∘ b mod P with noisy labels memorises them, yet its dominant-frequency part
(:func:`frequency_extract`) still computes a ∘ b.

Example
-------
>>> from noisylab.modular import cosine_network, frequency_extract, make_task, accuracy
>>> task = make_task(p=31, noise_rate=0.8, seed=0)
>>> net = cosine_network(31)
>>> float(accuracy(net, task.data.x_test, task.data.y_test)[0])
1.0
"""

from noisylab.modular.analysis import (
    SCORES,
    Partition,
    accuracy,
    cosine_network,
    frequency_extract,
    mask_neurons,
    neuron_scores,
    partition,
    predict,
    pruning_curve,
    score_predictions,
    swap_activation,
)
from noisylab.modular.fourier import (
    discrete_log_table,
    dominant_frequency,
    ipr,
    neuron_ipr,
    neuron_spectra,
    phase_residual,
    phases,
    power_spectrum,
    primitive_root,
    strength,
    to_group_basis,
)
from noisylab.modular.model import ACTIVATIONS, ModularMLP, reverse_relu
from noisylab.modular.task import NOISE_KINDS, ModularTask, corrupt, make_task, member_labels

__all__ = [
    "ACTIVATIONS",
    "NOISE_KINDS",
    "SCORES",
    "ModularMLP",
    "ModularTask",
    "Partition",
    "accuracy",
    "corrupt",
    "cosine_network",
    "discrete_log_table",
    "dominant_frequency",
    "frequency_extract",
    "ipr",
    "make_task",
    "mask_neurons",
    "member_labels",
    "neuron_ipr",
    "neuron_scores",
    "neuron_spectra",
    "partition",
    "phase_residual",
    "phases",
    "power_spectrum",
    "predict",
    "primitive_root",
    "pruning_curve",
    "reverse_relu",
    "score_predictions",
    "strength",
    "swap_activation",
    "to_group_basis",
]
