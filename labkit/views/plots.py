"""The lab's figures, as functions that draw on a matplotlib Axes (notebooks stay short)."""

from __future__ import annotations

import matplotlib.pyplot as plt

METHOD_COLORS = {
    "sft": "#1f77b4",
    "sft-reference": "#8c564b",
    "rl": "#d62728",
    "opd": "#2ca02c",
    "opd-topk": "#bcbd22",
    "opd-exact": "#00441b",  # the estimator ladder in greens: sampled, top-k, exact (darkest)
    "gkd": "#9467bd",
    "const-adv": "#7f7f7f",
    "self-distill": "#e377c2",
    "teacher": "#444444",
    "student": "#ff7f0e",
}
# one colour per token class (labkit.studies.tokenclass), in every notebook and figure
TOKEN_CLASS_COLORS = {
    "style": "#9467bd",
    "boundary": "#8c564b",
    "digit": "#ff7f0e",
    "carry": "#e377c2",
    "sum": "#1f77b4",
    "answer": "#d62728",
    "end": "#7f7f7f",
}


def accuracy_bars(ax, accuracies: dict[str, dict[str, float]], title: str = "held-out accuracy"):
    """Grouped bars: ``accuracies = {"teacher": {"greedy": .99, "sampled": .95}, ...}``."""
    models = list(accuracies)
    kinds = list(next(iter(accuracies.values())))
    width = 0.8 / len(kinds)
    for k, kind in enumerate(kinds):
        xs = [i + (k - (len(kinds) - 1) / 2) * width for i in range(len(models))]
        values = [accuracies[m][kind] for m in models]
        bars = ax.bar(
            xs,
            values,
            width,
            label=kind,
            alpha=0.55 + 0.45 * (k == 0),
            color=[METHOD_COLORS.get(m, "gray") for m in models],
        )
        for bar, v in zip(bars, values):
            ax.text(
                bar.get_x() + bar.get_width() / 2, v + 0.01, f"{v:.1%}", ha="center", va="bottom", fontsize=8
            )
    ax.set_xticks(range(len(models)), models)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(title="decoding", fontsize=8)
    return ax


def token_bars(ax, tokens: list[str], values, ylabel: str, title: str = "", color="#2ca02c"):
    """One bar per token of a sequence, the token printed under its bar."""
    ax.bar(range(len(tokens)), values, color=color)
    ax.set_xticks(
        range(len(tokens)),
        [repr(t)[1:-1] if t != " " else "␣" for t in tokens],
        fontsize=8,
        family="monospace",
    )
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_xlim(-0.6, len(tokens) - 0.4)
    return ax


def moving_average(values: list[float], window: int) -> list[float]:
    """Trailing mean over up to ``window`` values (the first points average what exists)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def curves(
    ax,
    runs: dict[str, list[dict]],
    x: str = "step",
    y: str = "eval_accuracy",
    teacher: float | None = None,
    logx: bool = False,
    title: str = "",
    smooth: int = 1,
):
    """Training curves from histories: ``runs = {"sft": history, ...}`` using rows that carry ``y``.

    ``smooth`` > 1 draws a trailing moving average (per-step metrics are noisy).
    """
    for name, history in runs.items():
        rows = [r for r in history if y in r and r[y] is not None]
        ys = moving_average([r[y] for r in rows], smooth) if smooth > 1 else [r[y] for r in rows]
        ax.plot(
            [r[x] for r in rows],
            ys,
            label=name,
            color=METHOD_COLORS.get(name),
            marker="." if smooth == 1 else None,
        )
    if teacher is not None:
        ax.axhline(teacher, color=METHOD_COLORS["teacher"], ls="--", lw=1, label="teacher")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax


def new_figure(ncols: int = 1, width: float = 5.0, height: float = 3.2):
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, list(axes[0])
