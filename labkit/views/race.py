"""The race drawn and tabulated: accuracy curves, the post's compute table, cost ratios; and the race written
to disk (``python -m labkit compare``)."""

from __future__ import annotations

from pathlib import Path

from ..checkpoint import write_json_atomic, write_text_atomic
from ..errors import LabkitError
from ..studies.compare import CompareConfig, in_race_order, run_comparison, summarize
from ..studies.costs import describe, rows_against
from ..studies.plateau import started_mid_climb
from .plots import METHOD_COLORS


def plot_comparison(summary: dict, out_dir: Path | None = None) -> dict:
    """Accuracy against FLOPs (log), wall seconds and episodes: mean over seeds with a min-max band."""
    import matplotlib.pyplot as plt
    import numpy as np

    figures = {}
    for key, label, log in (
        ("flops", "FLOPs (teacher + student)", True),
        ("seconds", "wall seconds", False),
        ("episodes", "episodes (sampled sequences)", True),
    ):
        fig, ax = plt.subplots(figsize=(7.8, 3.8))
        for method in in_race_order(summary["methods"]):
            entry = summary["methods"][method]
            curves = entry["curves"]
            grid = np.linspace(
                max(c[key][1] for c in curves) if log else 0, min(c[key][-1] for c in curves), 50
            )
            ys = np.array([np.interp(grid, c[key], c["accuracy"]) for c in curves])
            color = METHOD_COLORS.get(method)
            ax.plot(grid, ys.mean(0), color=color, label=f"{method} (n={len(curves)})")
            ax.fill_between(grid, ys.min(0), ys.max(0), color=color, alpha=0.15)
        ax.axhline(summary["teacher_accuracy"], color="#444", ls="--", lw=1, label="teacher")
        ax.axhline(summary["target_accuracy"], color="#444", ls=":", lw=1, label="target (unreached by most)")
        priced = [r for r in rows_against(summary.get("ratios", []), "rl", "sampled")
                  if (r["method"], r["accounting"]) == ("opd", "flops") and r.get("level")]  # fmt: skip
        if priced:  # the level the headline's OPD / RL price is read at
            ax.axhline(priced[0]["level"], color="#d62728", ls="-.", lw=0.8,
                       label=f"OPD vs RL priced at {priced[0]['level']:.1%}")  # fmt: skip
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("held-out accuracy (race set, T=1)")
        ax.set_title(f"accuracy against {key}")
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))  # beside the axes
        fig.tight_layout()
        figures[key] = fig
        if out_dir is not None:
            fig.savefig(Path(out_dir) / f"accuracy_vs_{key}.png", dpi=120)
    return figures


def _percent(mean: float, ci) -> str:
    return f"{mean:.1%}" + (f" ({ci[0]:.1%}–{ci[1]:.1%})" if ci else "")


def format_table(summary: dict) -> str:
    """The post's compute table for this run, then each racer's cost over OPD's with its
    95% interval (Markdown).

    A ratio is in bold where its interval excludes 1: only there is one of the two cheaper.
    """
    lines = [
        f"target: {summary['target_accuracy']:.1%} ({summary['config']['target_fraction']:.0%} of the "
        f"teacher's {summary['teacher_accuracy']:.1%}, sampled); "
        f"{len(next(iter(summary['methods'].values()))['curves'])} "
        f"seeds per racer; intervals: 95% bootstrap over seeds and held-out problems",
        "",
        (
            "| racer | teacher FLOPs | student FLOPs | final accuracy, sampled | final accuracy, greedy "
            "| FLOPs to target |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for racer in in_race_order(summary["methods"]):
        e = summary["methods"][racer]
        to_target = f"{e['flops_to_target']:.2e}" if e["flops_to_target"] else "not reached"
        greedy = (
            _percent(e["greedy_final_accuracy"], e["greedy_final_accuracy_ci"])
            if "greedy_final_accuracy" in e
            else "–"
        )
        lines.append(
            f"| {racer} | {e['teacher_flops']:.2e} | {e['student_flops']:.2e} | "
            f"{_percent(e['final_accuracy'], e['final_accuracy_ci'])} | {greedy} | {to_target} |"
        )
    ratios = summary.get("ratios") or []
    for metric in dict.fromkeys(r.get("metric", "sampled") for r in ratios):
        mine = [r for r in ratios if r.get("metric", "sampled") == metric]
        lines += ["", f"Priced on {metric} accuracy:", "", ratio_table(mine)]
    return "\n".join(lines)


def ratio_table(ratios: list[dict]) -> str:
    """Cost of each racer over its baseline's, one column per accounting (> 1: the baseline is cheaper); one
    row per racer, baseline and metric, in the order the rows come."""
    accountings = list(dict.fromkeys(r["accounting"] for r in ratios))
    lines = [
        "| racer / baseline | priced at | " + " | ".join(accountings) + " |",
        "|---|---|" + "---|" * len(accountings),
    ]
    pairs = dict.fromkeys((r["method"], r.get("baseline", "opd"), r.get("metric", "sampled")) for r in ratios)
    for method, baseline, metric in pairs:
        row = [r for r in ratios if (r["method"], r.get("baseline", "opd"), r.get("metric", "sampled"))
               == (method, baseline, metric)]  # fmt: skip
        cells = " | ".join(describe(r) for r in row)
        lines.append(f"| {method} / {baseline} | {row[0]['level']:.1%} {metric} | {cells} |")
    return "\n".join(lines)


def compare_to_disk(out: str | Path, config: CompareConfig, progress: bool = True) -> dict:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LabkitError(f"--out {out} is a file; pass a folder")
    out.mkdir(parents=True, exist_ok=True)
    comparison = run_comparison(config, progress=progress)
    summary = summarize(comparison)
    write_json_atomic(out / "side_by_side.json", summary)
    plot_comparison(summary, out)
    write_text_atomic(out / "table.md", format_table(summary) + "\n")
    return summary


def level_curve_figure(curves: list[dict], baseline: str = "rl", accounting: str = "flops"):
    """Cost ratio against level (labkit.studies.costs.level_curve): one panel per metric, each racer's cost
    over ``baseline``'s at 30-95% of the way from the start to the teacher, with 95% intervals; a line at 1.
    Where a ratio's interval leaves 1, one of the two is cheaper at that level; where the ratio moves along
    the axis, the verdict depends on the level."""
    import matplotlib.pyplot as plt
    import numpy as np

    mine = [c for c in curves if c["baseline"] == baseline and c["accounting"] == accounting]
    metrics = list(dict.fromkeys(c["metric"] for c in mine))
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.2 * len(metrics), 3.8), sharey=True, squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for curve in (c for c in mine if c["metric"] == metric):
            xs = np.array(curve["fractions"]) * 100
            ys = np.array([np.nan if r is None else r for r in curve["ratios"]], dtype=float)
            low = np.array([np.nan if ci is None else max(ci[0], 1e-2) for ci in curve["ci"]], dtype=float)
            high = np.array([np.nan if ci is None else min(ci[1], 1e2) for ci in curve["ci"]], dtype=float)
            color = METHOD_COLORS.get(curve["method"])
            ax.plot(xs, ys, "o-", color=color, ms=3, label=curve["method"])
            ax.fill_between(xs, low, high, color=color, alpha=0.12)
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel(f"level: % of the way from the start to the teacher ({metric})")
        ax.set_title(f"cost / {baseline}'s cost, {accounting}, {metric} accuracy", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"cost / {baseline}'s  (< 1: cheaper than {baseline})")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plateau_figure(results: dict):
    """The post's regime (benchmarks/results/plateau.json): SFT's whole curve from the shipped student with
    its log-linear fit, and every racer's mean curve from the plateau on, against FLOPs counted from the
    shipped student; the levels priced, dotted."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.4, 4))
    sft = results.get("sft_curve_from_shipped") or results["plateau_curve"]  # the latter when no race was run
    label = "sft to the start, then its race" if results["methods"] else "sft from the shipped student"
    ax.plot(sft["flops"], sft["accuracy"], "o", color=METHOD_COLORS["sft"], ms=3, alpha=0.6, label=label)
    fit = results["sft_fit"]
    grid = np.logspace(np.log10(fit["fit_flops"][0]), np.log10(fit["fit_flops"][1]) + 1, 30)
    line = fit["intercept"] + fit["slope_per_decade"] * np.log10(grid)
    grid, line = grid[line <= 1.0], line[line <= 1.0]  # the extrapolation ends at 100%
    ax.plot(grid, line, "--", color=METHOD_COLORS["sft"], lw=1,
            label=f"log-linear fit ({fit['slope_per_decade']:.1%}/decade)")  # fmt: skip
    spent = results["start"]["flops_from_shipped_student"]
    mid_climb = started_mid_climb(results["start"])
    search = results.get("search")
    if search:  # SFT's own continuation past the start: the no-plateau search (one seed, build problems)
        curve = search["plateau_curve"]
        later = [i for i, x in enumerate(curve["flops"]) if x > spent]
        ax.plot([curve["flops"][i] for i in later], [curve["accuracy"][i] for i in later], "o", mfc="none",
                color=METHOD_COLORS["sft"], ms=4, label="sft continued (1 seed, build set)")  # fmt: skip
    finished = results.get("sft_finished") or []
    if finished:  # what SFT's extrapolation is fitted through
        xs, ys = [f["flops"] for f in finished], [f["accuracy"] for f in finished]
        ax.plot(xs, ys, "*", color=METHOD_COLORS["sft"], ms=9, label="finished SFT models (race set)")
    start = "the start" if mid_climb else "the plateau"
    for method in in_race_order(results["methods"]):
        curves = results["methods"][method]["curves"]
        xs = spent + np.array(curves[0]["flops"])
        ys = np.mean([c["accuracy"] for c in curves], axis=0)
        ax.plot(xs, ys, color=METHOD_COLORS.get(method), label=f"{method} from {start} (n={len(curves)})")
    lines: dict[float, list[str]] = {}  # levels within half a point share one line and one label
    for name, level in sorted(results.get("levels", {}).items(), key=lambda item: item[1]):
        near = next((y for y in lines if abs(y - level) < 0.005), level)
        lines.setdefault(near, []).append(name)
    for level, names in lines.items():
        ax.axhline(level, color="#888", ls=":", lw=0.8)
        label = f" {' / '.join(names)}"
        ax.text(0.01, level, label, fontsize=6, va="bottom", color="#666", transform=ax.get_yaxis_transform())
    teacher = results.get("teacher_accuracy", results.get("teacher_build_accuracy"))
    ax.axhline(teacher, color="#444", ls="--", lw=1, label="teacher")
    raced = bool(results["methods"])
    ax.set(xscale="log", xlabel="FLOPs from the shipped student (teacher + student)",
           ylabel="held-out accuracy (T=1)" + ("" if raced else ", build set"),
           title=("the post's regime, nearest here: racing from SFT mid-climb" if mid_climb
                  else "the post's regime: racing from SFT's plateau") if raced
           else "the post's regime: SFT never reached a plateau")  # fmt: skip
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    return fig
