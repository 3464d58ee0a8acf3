"""``table.md``: the methods against AlpacaFarm, then one section per analysis.

Sections: methods; annotators and reward models; best-of-n; PPO along training; expert
iteration by round; Gao et al.'s fits; DPO against rDPO along the flip rate; the
preference-set size (when that ablation ran); CPU seconds. Undefined numbers print "—".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from noisylab.studies.base import markdown_table
from noisylab.studies.common import number_cell

from .config import ALPACAFARM, METHODS, RM_KINDS, TITLE, Config
from .records import MeanPaths, Summary, UnitResult


def mean_se_cell(m: float | None, se: float, pct: bool = False) -> str:
    """``mean ± se`` (in percent with ``pct``), or "—" for an undefined mean.

    >>> mean_se_cell(0.4567, 0.0123, pct=True), mean_se_cell(0.4567, 0.0123)
    ('45.7 ± 1.2', '0.457 ± 0.012')
    >>> mean_se_cell(float("nan"), 0.1)
    '—'
    """
    if m is None or not np.isfinite(m):
        return "—"
    return f"{100 * m:.1f} ± {100 * se:.1f}" if pct else f"{m:.3f} ± {se:.3f}"


def _sqrt_kl(kl: float) -> str:
    return f"{np.sqrt(max(kl, 0)):.2f}"


def methods_section(results: Sequence[UnitResult], summary: Summary) -> list[str]:
    rows = []
    for m in METHODS:
        s = summary[m]
        af = ALPACAFARM.get(m)
        ref = "—" if af is None else f"{af[0]:.1f} / {'—' if af[1] is None else f'{af[1]:.1f}'}"
        rows.append([
            m, mean_se_cell(s["win_sim"], s["win_sim_se"], True),
            mean_se_cell(s["win_gold"], s["win_gold_se"], True),
            mean_se_cell(s["gold"], s["gold_se"]), f"{s['proxy']:.2f}", _sqrt_kl(s["kl"]),
            f"{s['length']:.1f}", ref,
        ])  # fmt: skip
    steps = [r.methods["ppo"].get("selected_step") for r in results]
    header = ["method", "win-rate sim", "win-rate gold", "gold reward", "proxy reward", "√KL"]
    header += ["length", "AlpacaFarm sim / human"]
    return [
        f"# {TITLE}\n",
        f"Win-rate (%) against the expert reference on the evaluation prompts, {len(results)} "
        "seed(s); simulated = the noise-free annotator pool, gold = gold reward (the human "
        "analogue); ± standard error (over seeds when there are several, else over prompts). "
        f"PPO: the checkpoint with the best simulated val win-rate (steps {steps}). "
        "AlpacaFarm: its simulated / human win-rates against Davinci003.\n",
        markdown_table(header, rows),
    ]


def annotators_section(results: Sequence[UnitResult]) -> list[str]:
    rows = []
    for k in RM_KINDS:
        ag = [r.agreement[k] for r in results]
        acc = [r.reward_models[k]["val_acc_gold"] for r in results if k in r.reward_models]
        rows.append(
            [k, f"{np.mean([a['with_gold'] for a in ag]):.3f}",
             f"{np.mean([a['inter_annotator'] for a in ag]):.3f}",
             f"{np.mean(acc):.3f}" if acc else "—"]
        )  # fmt: skip
    untrained = np.mean([r.rm_untrained_acc for r in results])
    flips = np.mean([r.realised_flip_rate for r in results])
    return [
        "\n## Annotators and reward models\n",
        "Exact expected agreement of the labels on the preference pairs; reward-model "
        "accuracy on held-out pairs against gold. Untrained (SFT log-likelihood) accuracy: "
        f"{untrained:.3f}; realised flip rate {flips:.3f}.\n",
        markdown_table(
            ["labels", "agreement with gold", "inter-annotator", "RM accuracy vs gold"], rows
        ),
    ]


def bon_section(results: Sequence[UnitResult]) -> list[str]:
    b0 = results[0].bon
    header = ["n", "√KL bound"]
    kinds = [k for k in RM_KINDS if all(k in r.bon.by_rm for r in results)]
    for k in kinds:
        header += [f"proxy ({k})", f"gold ({k})", f"win sim % ({k})", f"win gold % ({k})"]
    rows = []
    for i, n in enumerate(b0.n):
        row = [n, f"{np.sqrt(b0.kl_bound[i]):.2f}"]
        for k in kinds:
            for key, pct in (
                ("proxy", False),
                ("gold", False),
                ("win_sim", True),
                ("win_gold", True),
            ):
                v = np.mean([r.bon.by_rm[k][key][i] for r in results])
                row.append(f"{100 * v:.1f}" if pct else f"{v:.3f}")
        rows.append(row)
    return ["\n## Best-of-n (unbiased estimator)\n", markdown_table(header, rows)]


def training_paths_section(results: Sequence[UnitResult], means: MeanPaths) -> list[str]:
    """PPO by evaluation step (noisy-pool RM) and expert iteration by round: seed means."""
    ppo = means["ppo_noisy_pool"]
    prow = []
    for j, point in enumerate(results[0].curves.ppo["noisy_pool"]):
        prow.append([point["step"], f"{ppo['proxy'][j]:.2f}", f"{ppo['gold'][j]:.3f}",
                     f"{100 * ppo['win_sim'][j]:.1f}", f"{100 * ppo['win_gold'][j]:.1f}",
                     _sqrt_kl(ppo["kl"][j]), f"{ppo['length'][j]:.1f}"])  # fmt: skip
    ei = means["expert_iteration"]
    erow = []
    for j, point in enumerate(results[0].curves.expert_iteration):
        erow.append([point["round"], f"{ei['proxy'][j]:.2f}", f"{ei['gold'][j]:.3f}",
                     f"{100 * ei['win_sim'][j]:.1f}", f"{100 * ei['win_gold'][j]:.1f}",
                     _sqrt_kl(ei["kl"][j])])  # fmt: skip
    return [
        "\n## PPO along training (noisy-pool reward model)\n",
        markdown_table(["step", "proxy", "gold", "win sim %", "win gold %", "√KL", "length"], prow),
        "\n## Expert iteration by round\n",
        markdown_table(["round", "proxy", "gold", "win sim %", "win gold %", "√KL"], erow),
    ]


def gao_section(fits: Mapping[str, Mapping[str, float]]) -> list[str]:
    rows = [
        [name, "d(α − βd)" if name.startswith("bon_") else "d(α − β log d)",
         number_cell(f["alpha"], ".3f"), number_cell(f["beta"], ".3f"), number_cell(f["r2"], ".2f"),
         "none (β ≤ 0)" if f["d_peak"] == np.inf else number_cell(f["d_peak"], ".2f")]
        for name, f in fits.items()
    ]  # fmt: skip
    return [
        "\n## Gao et al.'s forms: gold gain against d = √KL\n",
        "Least squares on the seed-mean path; d is the analytic bound for best-of-n and the "
        "Monte-Carlo KL for PPO.\n",
        markdown_table(["path", "form", "α", "β", "R²", "fitted peak d*"], rows),
    ]


def flip_section(results: Sequence[UnitResult]) -> list[str]:
    flip = [r.dpo_flip for r in results]
    rows = []
    for j, p in enumerate(flip[0]["dpo"]):
        cells = [f"{p['flip_rate']:.2f}"]
        for kind in ("dpo", "rdpo"):
            g = np.mean([f[kind][j]["gold"] for f in flip])
            w = np.mean([f[kind][j]["win_gold"] for f in flip])
            cells += [f"{g:.3f}", f"{100 * w:.1f}"]
        rows.append(cells)
    header = ["flip rate", "DPO gold", "DPO win gold %", "rDPO gold", "rDPO win gold %"]
    return [
        "\n## DPO against rDPO as the flip rate grows\n",
        "Pre-flip pool labels re-flipped at each rate (a coin on 2p of them); rDPO assumes "
        "ε = the true rate.\n",
        markdown_table(header, rows),
    ]


def pref_size_section(config: Config, results: Sequence[UnitResult]) -> list[str]:
    """Empty unless every seed ran the preference-set-size ablation."""
    if not all(r.pref_size for r in results):
        return []
    ns = results[0].bon.n
    i16 = ns.index(config.bon_n)
    rows = []
    for j, row in enumerate(results[0].pref_size):
        acc = np.mean([r.pref_size[j]["val_acc_gold"] for r in results])
        g16 = np.mean([r.pref_size[j]["gold"][i16] for r in results])
        gmax = np.mean([max(r.pref_size[j]["gold"]) for r in results])
        gend = np.mean([r.pref_size[j]["gold"][-1] for r in results])
        rows.append([f"{row['fraction']:.2f}", row["pairs"], f"{acc:.3f}", f"{g16:.3f}",
                     f"{gmax:.3f}", f"{gend:.3f}"])  # fmt: skip
    header = ["fraction", "pairs (seed 0)", "RM accuracy vs gold", f"gold best-of-{config.bon_n}"]
    header += ["gold best n", f"gold n = {ns[-1]}"]
    return ["\n## Preference-set size (noisy pool)\n", markdown_table(header, rows)]


def cpu_line(results: Sequence[UnitResult]) -> str:
    cpu = [r.cpu_total_s for r in results]
    stages = {k: np.mean([r.cpu_s.get(k, 0.0) for r in results]) for k in results[0].cpu_s}
    return (
        f"\nCPU seconds per seed: {np.mean(cpu):.0f} (total {np.sum(cpu):.0f}); by stage: "
        + ", ".join(f"{k} {v:.0f}" for k, v in stages.items())
        + ".\n"
    )


def table(
    config: Config,
    results: Sequence[UnitResult],
    summary: Summary,
    means: MeanPaths,
    fits: Mapping[str, Mapping[str, float]],
) -> str:
    """The whole ``table.md``."""
    text: list[Any] = [
        *methods_section(results, summary),
        *annotators_section(results),
        *bon_section(results),
        *training_paths_section(results, means),
        *gao_section(fits),
        *flip_section(results),
        *pref_size_section(config, results),
        cpu_line(results),
    ]
    return "\n".join(text)
