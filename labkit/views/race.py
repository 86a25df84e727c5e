"""The race drawn and tabulated: accuracy curves, the post's compute table, cost ratios; and the race written
to disk (``python -m labkit compare``)."""

from __future__ import annotations

from pathlib import Path

from ..checkpoint import write_json_atomic, write_text_atomic
from ..errors import LabkitError
from ..studies.compare import CompareConfig, in_race_order, run_comparison, summarize
from ..studies.costs import describe
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
        fig, ax = plt.subplots(figsize=(6, 3.8))
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
        ax.axhline(summary["target_accuracy"], color="#444", ls=":", lw=1, label="target")
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("held-out accuracy (T=1)")
        ax.set_title(f"accuracy against {key}")
        ax.legend(fontsize=7, loc="upper left")
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
    if summary.get("ratios"):
        lines += ["", ratio_table(summary["ratios"])]
    return "\n".join(lines)


def ratio_table(ratios: list[dict]) -> str:
    """Cost of each racer over its baseline's, one column per accounting (> 1: the baseline is cheaper)."""
    accountings = list(dict.fromkeys(r["accounting"] for r in ratios))
    lines = [
        "| racer / baseline | priced at (sampled accuracy) | " + " | ".join(accountings) + " |",
        "|---|---|" + "---|" * len(accountings),
    ]
    for method in dict.fromkeys(r["method"] for r in ratios):
        row = [r for r in ratios if r["method"] == method]
        cells = " | ".join(describe(r) for r in row)
        lines.append(f"| {method} / {row[0]['baseline']} | {row[0]['level']:.1%} | {cells} |")
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
