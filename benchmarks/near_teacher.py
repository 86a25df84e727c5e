"""Near the teacher (labkit.studies.levels): RL and the estimator ladder on the shipped pair, on a budget
long enough that one of them reaches 90% of the teacher; writes benchmarks/results/near_teacher.json and
near_teacher.png.

    .venv/bin/python benchmarks/near_teacher.py [--seeds 3] [--budget 4e12]

Same protocol as the headline (tuned settings, 1,000 race problems sampled and greedy, evaluations evenly
spaced in log-FLOPs), on a 4x longer budget. Each pair is priced along the level (level curves) and, at the
headline's own pair levels, under both budgets on the same seeds (`budget_agreement`): where the two
intervals overlap, the headline's price is not an artefact of its cosine schedule decaying over 1e12 FLOPs.
Run alone on the machine.
"""

import argparse
import json
from pathlib import Path

from labkit.checkpoint import write_json_atomic
from labkit.studies.compare import LEVEL_PAIRS, CompareConfig, level_curves, run_comparison, summarize
from labkit.studies.levels import NEAR_RACERS, budget_agreement, final_accuracies, first_to
from labkit.views.race import level_curve_figure, plot_comparison

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=float, default=4e12)
    args = p.parse_args()
    config = CompareConfig(budget=args.budget, seeds=args.seeds, methods=NEAR_RACERS, eval_points=16)
    summary = summarize(run_comparison(config, progress=False))
    pairs = [(b, tuple(m for m in ms if m in NEAR_RACERS)) for b, ms in LEVEL_PAIRS if b in NEAR_RACERS]
    summary["level_curves"] = level_curves(summary, pairs=pairs)
    headline = json.loads((RESULTS / "side_by_side.json").read_text())
    level = 0.9 * summary["teacher_accuracy"]
    summary["near_teacher"] = {"level": level, "costs": first_to(summary, level),
                               "final_accuracy": final_accuracies(summary)}  # fmt: skip
    summary["budget_agreement"] = budget_agreement(headline, summary)
    write_json_atomic(RESULTS / "near_teacher.json", summary)
    figures = plot_comparison(summary)
    figures["flops"].savefig(RESULTS / "near_teacher.png", dpi=110)
    level_curve_figure(summary["level_curves"], "rl").savefig(RESULTS / "near_teacher_levels.png", dpi=110)
    print(json.dumps(summary["near_teacher"], indent=1))
    for row in summary["budget_agreement"]:
        short, long = row["short"], row["long"]
        print(row["method"], "/", row["baseline"], row["accounting"], f"at {row['level']:.3f}:",
              short["ratio"], short["ci"], "->", long["ratio"], long["ci"],
              "overlap", row["overlap"])  # fmt: skip
    print(json.dumps({"wall_seconds": summary["wall_seconds"]}))
