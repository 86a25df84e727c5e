"""Reading many races at once: the map of notebook 08 and docs/results.md.

A *setting* is a name and its ratio rows (``compare.ratio_rows``: each racer's cost to reach a level over
OPD's, under one accounting, with a bootstrap interval). These helpers turn a dict ``{setting: rows}``
into the one summary figure (every ratio with its interval, log scale, a line at 1), a table of verdicts,
and the numbers the notebook records.
"""

from __future__ import annotations

import numpy as np

from ..studies.costs import ACCOUNTINGS, pair_ratio, rows_against, verdict
from ..studies.regimes import (  # noqa: F401 (notebooks 08 and 09 read them here, beside the figures)
    REGIMES,
    break_even,
    flops_per_episode,
    in_map_order,
)
from . import plots

SUMMARY_ACCOUNTINGS = ("flops", "student_flops", "post_sft_data_free")
"""the three accountings the summary figure shows: every FLOP, the teacher free, and the post's own 9x"""


def by_accounting(rows: list[dict], baseline: str = "opd", metric: str = "sampled") -> dict[str, dict]:
    """``{accounting: {method: ratio}}`` from ratio rows against ``baseline``, priced on ``metric``."""
    rows = rows_against(rows, baseline, metric)
    return {a: {r["method"]: r["ratio"] for r in rows if r["accounting"] == a} for a in ACCOUNTINGS}


def call(row: dict) -> str:
    """Who is cheaper, in words, only where the evidence says so: the interval where there is one; for rows
    priced without per-problem outcomes (the first protocol), only where every pair of seeds agrees."""
    method = row["method"]
    if row["ratio"] is None:
        return "not priced (no common gain)"
    if row.get("ci") is not None or row.get("reached") is not None:  # bootstrapped: its interval decides
        return verdict(row, method, row.get("baseline", "opd"))
    low, high = row["range"]
    if low > 1:
        return "opd cheaper in every seed pair"
    return f"{method} cheaper in every seed pair" if high < 1 else "seed pairs disagree"


def verdict_table(settings: dict[str, list[dict]], methods=("sft", "rl"), baseline: str = "opd") -> str:
    """A markdown table: per setting and accounting, the verdict for each of ``methods`` against
    ``baseline`` (sampled accuracy)."""
    head = " | ".join(f"{m} vs {baseline}" for m in methods)
    lines = [f"| setting | accounting | {head} |", "|---" * (2 + len(methods)) + "|"]
    for label, rows in settings.items():
        rows = rows_against(rows, baseline)
        for accounting in ACCOUNTINGS:
            cells = {r["method"]: call(r) for r in rows if r["accounting"] == accounting}
            lines.append(
                f"| {label} | {accounting} | " + " | ".join(cells.get(m, "–") for m in methods) + " |"
            )
    return "\n".join(lines)


def intervals_apart(a: dict, b: dict) -> bool:
    """Whether two priced rows' intervals (or seed ranges) do not overlap."""
    (a_low, a_high), (b_low, b_high) = a.get("ci") or a["range"], b.get("ci") or b["range"]
    return a_low > b_high or b_low > a_high


def race_curves_figure(races: dict[str, dict]):
    """One panel per race (``{label: compare.summarize(...)}``): every seed's held-out accuracy against FLOPs
    (teacher + student), log axis, the start left out."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(races), figsize=(5.5 * len(races), 3.6), sharey=True, squeeze=False)
    for ax, (label, summary) in zip(axes[0], races.items()):
        for method, entry in summary["methods"].items():
            for k, curve in enumerate(entry["curves"]):
                ax.plot(curve["flops"][1:], curve["accuracy"][1:], color=plots.METHOD_COLORS.get(method),
                        alpha=0.8, label=method if k == 0 else None)  # fmt: skip
        ax.set(xscale="log", xlabel="FLOPs (teacher + student)", title=label)
        ax.legend()
    axes[0][0].set_ylabel("held-out accuracy (T=1)")
    fig.tight_layout()
    return fig


def style_control(sweep: dict, with_style: str = "shipped", without: str = "no-style-entropy") -> list[str]:
    """The style-entropy control read off, one sentence per accounting: SFT / OPD with the teacher's free
    choices and without them, and whether the two intervals overlap."""
    lines = []
    for accounting in ACCOUNTINGS:
        priced = [pair_ratio(sweep[n]["summary"], accounting, "sft") for n in (with_style, without)]
        a, b = (p["ratio"] for p in priced)
        if a is None or b is None:
            continue
        apart = "do not overlap" if intervals_apart(*priced) else "overlap"
        lines.append(
            f"SFT / OPD, {accounting:18s}: with style entropy {a:.2f}x, without {b:.2f}x "
            f"(the intervals {apart})"
        )
    return lines


def ratio_figure(
    settings: dict[str, list[dict]],
    methods=("sft", "sft-reference", "rl", "opd-exact", "gkd"),
    accountings=SUMMARY_ACCOUNTINGS,
    baseline: str = "opd",
):
    """The map in one figure: one panel per accounting, one row per setting, each racer's cost over
    ``baseline``'s (sampled accuracy) as a dot with its 95% interval, on a log axis with a line at 1 (left of
    it: the racer is cheaper than the baseline); the baseline itself is the line.
    Rows priced without per-problem outcomes (the first protocol) show their seed-pair range instead: a
    hollow dot and a dotted bar."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    names = list(settings)
    fig, axes = plt.subplots(
        1, len(accountings), figsize=(4.2 * len(accountings), 0.55 * len(names) + 1.6), sharey=True
    )
    offsets = np.linspace(-0.3, 0.3, len(methods))
    for ax, accounting in zip(np.atleast_1d(axes), accountings):
        labelled, span = set(), (0.1, 10.0)  # at least a decade either side of 1
        for k, method in enumerate(methods):
            for y, name in enumerate(names):
                row = next(
                    (r for r in rows_against(settings[name], baseline)
                     if r["method"] == method and r["accounting"] == accounting),
                    None,
                )  # fmt: skip
                if row is None or row["ratio"] is None:
                    continue
                low, high = row.get("ci") or row.get("range") or (row["ratio"], row["ratio"])
                low, high = max(low, 1e-3), min(high, 1e3)  # an open interval (0 or inf) drawn to the edge
                color, interval = plots.METHOD_COLORS.get(method), row.get("ci") is not None
                ax.plot([low, high], [y + offsets[k]] * 2, color=color, lw=1.5, ls="-" if interval else ":")
                fill = color if interval else "none"
                ax.plot(row["ratio"], y + offsets[k], "o", color=color, ms=4, mfc=fill,
                        label=None if method in labelled else method)  # fmt: skip
                labelled.add(method)
                span = (min(span[0], low), max(span[1], high))
        ax.axvline(1.0, color="black", lw=0.8)
        ax.set_xlim(span[0] / 1.3, span[1] * 1.3)
        ax.xaxis.set_minor_formatter(NullFormatter())
        who = "OPD" if baseline == "opd" else baseline.upper()
        ax.set(xscale="log", title=accounting, xlabel=f"cost / {who}'s cost  (< 1: cheaper than {who})")
        ax.grid(axis="x", alpha=0.3)
    first = np.atleast_1d(axes)[0]
    first.set_yticks(range(len(names)), names)
    first.invert_yaxis()
    handles, labels = first.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(methods), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def tuning_figure(tuning: dict):
    """The tuning grid of every racer (``benchmarks/results/tuning.json``): score against learning rate, one
    line per prompts-per-step, the chosen setting starred."""
    import matplotlib.pyplot as plt

    racers = list(tuning["methods"])
    fig, axes = plt.subplots(1, len(racers), figsize=(2.3 * len(racers), 2.6), sharey=True)
    for ax, racer in zip(axes, racers):
        entry = tuning["methods"][racer]
        for batch_size in sorted({t["settings"]["batch_size"] for t in entry["tried"]}):
            tried = sorted(
                (t["settings"]["learning_rate"], t["score"])
                for t in entry["tried"]
                if t["settings"]["batch_size"] == batch_size
            )
            ax.plot(*zip(*tried), "o--" if batch_size < 16 else "s-", label=f"{batch_size} prompts/step")
        chosen = entry["chosen"]
        best = next(t["score"] for t in entry["tried"] if t["settings"] == chosen)
        ax.plot(chosen["learning_rate"], best, "*", color="black", markersize=12)
        ax.set(xscale="log", title=racer, xlabel="learning rate")
    axes[0].set_ylabel("tuning score")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def break_even_figure(points: dict[str, dict], colors: dict[str, str] | None = None):
    """Each regime's OPD edge per episode against the price of its episode (``break_even``), log-log, with the
    line where they cancel: above it OPD reaches the level for fewer FLOPs than RL, below it for more.
    ``colors`` (point name -> colour) tells estimators apart; green by default."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.6))
    values = [v for p in points.values() for v in (p["price"], *(p["edge_ci"] or [p["edge"]])) if v]
    low, high = min(values + [0.5]) / 1.5, max(values + [5.0]) * 1.5
    ax.plot([low, high], [low, high], color="black", lw=0.8)
    ax.fill_between([low, high], [low, high], [high, high], color="#2ca02c", alpha=0.08)
    ax.text(low * 1.1, high / 1.3, "OPD cheaper in FLOPs", color="#2ca02c", fontsize=8)
    ax.text(high / 1.1, low * 1.1, "RL cheaper in FLOPs", color="#d62728", fontsize=8, ha="right")
    priced = sorted((p["edge"], name) for name, p in points.items() if p["edge"] is not None)[::-1]
    label_y = {name: max(e for e, _ in priced) * 1.8 * 0.72**rank for rank, (_, name) in enumerate(priced)}
    for name, p in points.items():
        if p["edge"] is None:
            continue
        lo, hi = p["edge_ci"] or (p["edge"], p["edge"])
        ax.plot([p["price"]] * 2, [max(lo, low), min(hi, high)], color="#555555", lw=1)
        ax.plot(p["price"], p["edge"], "o", color=(colors or {}).get(name, "#2ca02c"))
        ax.annotate(name, (p["price"], p["edge"]), xytext=(p["price"] * 1.7, label_y[name]), fontsize=8,
                    va="center", arrowprops={"arrowstyle": "-", "color": "#aaaaaa", "lw": 0.5})  # fmt: skip
    unpriced = [name for name, p in points.items() if p["edge"] is None]
    if unpriced:
        ax.text(high / 1.1, low * 1.6, "not priced (OPD never improved): " + ", ".join(unpriced), fontsize=7,
                ha="right", color="#555555")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high))
    ax.set(xlabel="price: FLOPs per OPD episode / per RL episode", ylabel="edge: RL episodes / OPD episodes")
    ax.set_title("break-even: does the dense signal pay for the teacher?", fontsize=10)
    fig.tight_layout()
    return fig
