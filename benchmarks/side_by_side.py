"""The headline comparison at full settings; writes benchmarks/results/side_by_side.json and its figures.

    .venv/bin/python benchmarks/side_by_side.py [--seeds 5] [--budget 1e12]
    .venv/bin/python benchmarks/side_by_side.py --add opd-topk      # race these racers only, merge them in
    .venv/bin/python benchmarks/side_by_side.py --reprice [--gradients]

Every racer runs with the settings benchmarks/tuning.py chose (labkit.config.METHOD_SETTINGS),
5 seeds, 1,000 held-out problems per evaluation (sampled and greedy), 14 evaluations spaced in
log-FLOPs. Every number comes from this run (seeded); docs/results.md quotes benchmarks/results/table.md.
`--add` runs only the named racers under the committed settings and merges them (the other racers' seeded
curves are what a full rerun gives; each race's wall seconds are kept apart). `--reprice` recomputes the
ratios, level curves, table and figures from the committed JSON; `--gradients` also measures the estimator
ladder's gradient quality (labkit.studies.estimators, ~2 minutes).
"""

import argparse
import json
from pathlib import Path

from labkit.checkpoint import write_json_atomic, write_text_atomic
from labkit.evaluate import task_of
from labkit.studies.compare import CompareConfig, merge_summaries, price, run_comparison, summarize
from labkit.studies.estimators import ladder_gradients
from labkit.views.notebook import data_dir
from labkit.views.race import compare_to_disk, format_table, level_curve_figure, plot_comparison

RESULTS = Path(__file__).resolve().parent / "results"


def write(summary: dict) -> None:
    write_json_atomic(RESULTS / "side_by_side.json", summary)
    write_text_atomic(RESULTS / "table.md", format_table(summary) + "\n")
    plot_comparison(summary, RESULTS)
    level_curve_figure(summary["level_curves"], "rl").savefig(RESULTS / "level_curves.png", dpi=110)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget", type=float, default=1e12)
    p.add_argument("--add", nargs="+", default=None, help="race only these racers; merge into the JSON")
    p.add_argument("--reprice", action="store_true", help="no runs: price the committed curves anew")
    p.add_argument("--gradients", action="store_true", help="measure the estimators' gradient quality")
    args = p.parse_args()
    committed = RESULTS / "side_by_side.json"
    if args.add:
        config = CompareConfig(budget=args.budget, seeds=args.seeds, methods=tuple(args.add))
        added = summarize(run_comparison(config, progress=False))
        summary = merge_summaries(json.loads(committed.read_text()), added)
    elif args.reprice:
        summary = price(json.loads(committed.read_text()))
    else:
        config = CompareConfig(budget=args.budget, seeds=args.seeds)
        summary = compare_to_disk(RESULTS, config, progress=False)
    if args.gradients:
        student, teacher = data_dir() / "student", data_dir() / "teacher"
        summary["gradient_quality"] = ladder_gradients(
            str(student), str(teacher), task_of(str(student)), batches=64, reference_batches=256
        )
    elif "gradient_quality" not in summary and committed.exists():
        summary["gradient_quality"] = json.loads(committed.read_text()).get("gradient_quality")
    write(summary)
    print(format_table(summary))
    print(json.dumps({"wall_seconds": summary["wall_seconds"], "added": summary.get("added")}))
