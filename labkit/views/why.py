"""The premises of on-policy distillation, one figure each (notebook 09, ``benchmarks/premises.py``).

Every function here reads a section of ``benchmarks/results/premises.json`` (or the same structure from a
``--quick`` run) and draws or tabulates it; nothing here trains.
"""

from __future__ import annotations

import numpy as np

from ..studies.costs import rows_against
from ..studies.tokenclass import CLASSES
from .plots import METHOD_COLORS, TOKEN_CLASS_COLORS


def silent_probability(accuracy, group_size: int):
    """Chance that a GRPO group of ``group_size`` samples carries no signal — every sample right or every
    sample wrong, so every advantage is 0 — when each is right independently with probability ``accuracy``:
    ``p^G + (1-p)^G``. (Real groups are not independent across prompts: some prompts are harder.)"""
    p = np.asarray(accuracy, dtype=float)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"accuracy must lie in [0, 1], got {accuracy!r}")
    if group_size < 1:
        raise ValueError(f"group_size must be at least 1, got {group_size}")
    return p**group_size + (1 - p) ** group_size


def ratio_of(point: dict, method: str, accounting: str) -> dict:
    """The priced row of ``method`` against OPD under ``accounting`` in a sparse-reward point."""
    for row in rows_against(point["ratios"]):
        if row["method"] == method and row["accounting"] == accounting:
            return row
    have = sorted({r["method"] for r in point["ratios"]})
    raise KeyError(f"no {method}/{accounting} ratio in this point; its methods are {have}")


def _errorbar(ax, x, row, **style):
    if row.get("ratio") is None:
        return
    low, high = row["ci"] if row.get("ci") else (row["ratio"], row["ratio"])
    # an open end (a resample where one method never reached the level: ratio 0 or inf) is drawn 3x out
    low = low if low > 0 else row["ratio"] / 3
    high = high if np.isfinite(high) else row["ratio"] * 3
    ax.errorbar([x], [row["ratio"]], yerr=[[row["ratio"] - low], [high - row["ratio"]]], capsize=3, **style)


def sparse_figure(section: dict):
    """Left: the fraction of GRPO groups that carried no signal, measured over training at each start, with
    the independent-samples curve for group 4 and 16. Right: RL's cost over OPD's to reach the pair's
    level, per start — in episodes (OPD's edge) and in FLOPs (teacher + student) — with the line at 1 and
    the price of an OPD episode (where the episode ratio must get to for OPD to be cheaper in FLOPs)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    points = sorted(section["points"], key=lambda p: p["start_accuracy"])
    starts = [p["start_accuracy"] for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8))
    grid = np.linspace(0.001, 0.6, 200)
    for group, color in ((4, "#d62728"), (16, "#9467bd")):
        left.plot(grid, silent_probability(grid, group), color=color, lw=0.8, ls=":",
                  label=f"independent samples, group {group}")  # fmt: skip
    for key, color, label in (("rl", "#d62728", "RL, group 4"), ("rl-g16", "#9467bd", "RL, group 16")):
        values = [p["silent_group_fraction"].get(key) for p in points]
        left.plot(starts, values, "o-", color=color, label=f"measured, {label}")
    left.set(xlabel="start accuracy (sampled, race set)", ylabel="silent groups (fraction, over training)",
             ylim=(0, 1.02), title="How often RL's groups say nothing")  # fmt: skip
    left.legend(fontsize=8)
    offsets = {"rl/episodes": -0.006, "rl-g16/episodes": -0.002, "rl/flops": 0.002, "rl-g16/flops": 0.006}
    styles = {"rl": dict(color="#d62728"), "rl-g16": dict(color="#9467bd")}
    for key, dx in offsets.items():
        method, accounting = key.split("/")
        marker = "o" if accounting == "episodes" else "s"
        for k, (x, p) in enumerate(zip(starts, points)):
            row = ratio_of(p, method, accounting)
            label = f"{'RL g4' if method == 'rl' else 'RL g16'} / OPD, {accounting}" if k == 0 else None
            _errorbar(right, x + dx, row, fmt=marker, mfc="white" if accounting == "flops" else None,
                      label=label, **styles[method])  # fmt: skip
    prices = [p["break_even"]["price"] for p in points]
    right.plot(starts, prices, "k--", lw=0.8, label="price of an OPD episode (x an RL episode)")
    right.axhline(1, color="black", lw=0.8)
    right.set(yscale="log", xlabel="start accuracy (sampled, race set)", title="OPD's edge against the start",
              ylabel="RL's cost / OPD's cost to reach the level")  # fmt: skip
    right.set_yticks([0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5])
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    right.yaxis.set_minor_formatter(NullFormatter())
    # below the axes: the data fill them
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.tight_layout()
    return fig


def class_table(regime: dict, measure: str, who=("start", "sft", "opd")) -> dict[str, dict[str, float]]:
    """``{token class: {who: value}}`` of one style_mechanism regime's class profiles, for ``measure`` in
    ``student_entropy``, ``teacher_entropy``, ``reverse_kl``, ``advantage``; classes no sample had are
    left out."""
    out = {}
    for kind in CLASSES:
        row = {w: regime[w][kind][measure] for w in who if kind in regime[w]}
        if row:
            out[kind] = row
    return out


def style_figure(section: dict, classes=("style", "boundary", "digit", "sum", "answer")):
    """Per token class, after SFT and after OPD: the student's entropy against the teacher's (top) and the
    reverse KL to the teacher (bottom), for the shipped pair (style 0.5) and the zero-style control."""
    import matplotlib.pyplot as plt

    regimes = section["regimes"]
    fig, axes = plt.subplots(2, len(regimes), figsize=(5.5 * len(regimes), 6.4), sharey="row", squeeze=False)
    colors = {
        "start": "#7f7f7f",
        "sft": METHOD_COLORS["sft"],
        "opd": METHOD_COLORS["opd"],
        "teacher": "black",
    }
    for col, (name, regime) in enumerate(sorted(regimes.items())):
        kinds = [k for k in classes if k in regime["opd"]]
        x = np.arange(len(kinds))
        for row, measure in enumerate(("student_entropy", "reverse_kl")):
            ax = axes[row, col]
            for k, who in enumerate(("start", "sft", "opd")):
                values = [regime[who][kind][measure] for kind in kinds]
                ax.bar(x + (k - 1) * 0.25, values, 0.25, color=colors[who], label=who)
            if measure == "student_entropy":
                teacher = [regime["opd"][kind]["teacher_entropy"] for kind in kinds]
                ax.scatter(x, teacher, marker="_", s=600, color="black", label="teacher", zorder=3)
            ax.set_xticks(x, kinds)
            ax.set_title(f"{name}: {'entropy (nats/token)' if row == 0 else 'reverse KL to the teacher'}",
                         fontsize=10)  # fmt: skip
            if col == 0:
                ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def advantage_figure(section: dict, classes=("style", "boundary", "digit", "sum", "answer")):
    """OPD's mean per-token advantage (log p_teacher − log p_student of the sampled token) per class, in ten
    equal slices of training, for each style regime: where the teacher's grades go as the student learns. Its
    expectation over the student's samples is minus the reverse KL on that class: the curve is the reverse KL
    still to be removed there."""
    import matplotlib.pyplot as plt

    regimes = section["regimes"]
    fig, axes = plt.subplots(1, len(regimes), figsize=(5.5 * len(regimes), 3.6), sharey=True, squeeze=False)
    for ax, (name, regime) in zip(axes[0], sorted(regimes.items())):
        for kind in classes:
            values = regime["opd_advantage_over_training"].get(kind)
            if values:
                ax.plot(np.arange(1, len(values) + 1), values, "o-", ms=3, label=kind,
                        color=TOKEN_CLASS_COLORS.get(kind))  # fmt: skip
        ax.axhline(0, color="black", lw=0.8)
        ax.set(xlabel="tenth of training", title=name)
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel("mean advantage per token")
    fig.tight_layout()
    return fig


def interval_cell(row: dict) -> str:
    """``1.23× (0.90–1.70)`` from a priced row; ``not priced`` where no level was reached by both. An end at 0
    or ∞ means that in some resamples one method never reached the level."""
    if row.get("ratio") is None:
        return "not priced"
    low, high = (f"{v:.2f}" if 0 < v < float("inf") else ("0" if v == 0 else "∞") for v in row["ci"])
    return f"{row['ratio']:.2f}× ({low}–{high})"


def sparse_table(section: dict) -> str:
    """One markdown row per start of the sparse-reward experiment: the capacity control, the silent groups,
    the final accuracies and RL's cost over OPD's, in episodes and in FLOPs, with the verdict."""
    rows = [
        "| start | SFT on references, 1× / 4× budget | silent groups, RL g4 / g16 | final OPD / RL / RL g16 "
        "| RL / OPD, episodes | RL / OPD, FLOPs | verdict (FLOPs) |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in sorted(section["points"], key=lambda p: p["start_accuracy"]):
        silent, final = p["silent_group_fraction"], p["final_accuracy"]
        rows.append(
            f"| {p['start_accuracy']:.1%} "
            f"| {p['capacity_accuracy']:.1%} / {p['capacity_accuracy_4x_budget']:.1%} "
            f"| {silent['rl']:.0%} / {silent['rl-g16']:.0%} "
            f"| {final['opd']:.1%} / {final['rl']:.1%} / {final['rl-g16']:.1%} "
            f"| {interval_cell(ratio_of(p, 'rl', 'episodes'))} | {interval_cell(ratio_of(p, 'rl', 'flops'))} "
            f"| {p['break_even']['verdict']} |"
        )
    return "\n".join(rows)


def corrections_table(support: dict) -> str:
    """One markdown row per model of the support experiment: accuracy, mistakes caught and left standing,
    and the probability of the correction mark right after the sampler's own unmarked mistakes, under the
    teacher and under the sampler itself."""
    rows = [
        "| who | accuracy | mistakes caught | left wrong | p(`!`) after own mistakes: teacher / self |",
        "|---|---|---|---|---|",
    ]
    for who, c in support["corrections"].items():
        offered = " / ".join(
            "–" if c.get(k) is None else f"{c[k]:.3f}"
            for k in ("mark_probability_teacher", "mark_probability_self")
        )
        rows.append(
            f"| {who} | {c['accuracy']:.1%} | {c['corrected']:.0f} | {c['left_wrong']:.0f} | {offered} |"
        )
    return "\n".join(rows)
