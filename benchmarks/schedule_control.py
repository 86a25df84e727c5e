"""The schedule control (labkit.studies.levels): the near-teacher race again with one knob changed, a constant
learning rate after warm-up instead of the cosine decay; writes benchmarks/results/schedule_control.json.

    .venv/bin/python benchmarks/schedule_control.py [--seeds 3] [--budget 4e12]

Under a cosine schedule the learning rate at a given FLOP count depends on the run's budget, so a racer that
reaches a level late reaches it at a decayed rate, and its price at that level can move with the budget
(near_teacher.json: sampled-token OPD / RL in FLOPs moved from 2.10x at 1e12 to 4.81x at 4e12). A constant
rate makes every run the prefix of a longer one: its cost to a level does not depend on the budget. Each pair
is priced at the headline's pair level (the level side_by_side.json prices at) on the same seeds as the
two cosine races, with the same tuned settings (the peak learning rate and prompts per step the tuning
protocol chose under the cosine schedule; only the schedule differs). Run alone on the machine.
"""

import argparse
import json
from pathlib import Path

from labkit.checkpoint import write_json_atomic
from labkit.studies.compare import CompareConfig, run_comparison, summarize
from labkit.studies.levels import NEAR_RACERS, near_teacher_entry, priced_beside

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=float, default=4e12)
    p.add_argument("--racers", nargs="+", default=list(NEAR_RACERS))
    args = p.parse_args()
    constant = {m: {"lr_schedule": "constant"} for m in args.racers}
    config = CompareConfig(budget=args.budget, seeds=args.seeds, methods=tuple(args.racers), eval_points=16,
                           settings=constant)  # fmt: skip
    summary = summarize(run_comparison(config, progress=False))
    headline = json.loads((RESULTS / "side_by_side.json").read_text())
    near = json.loads((RESULTS / "near_teacher.json").read_text())
    summary["near_teacher"] = near_teacher_entry(summary)
    cosine = near["budget_agreement"]  # the headline's price on these seeds, and the 4e12 cosine's
    rows = priced_beside(headline, summary, "constant", {"cosine_short": (cosine, "short"),
                                                         "cosine_long": (cosine, "long")})  # fmt: skip
    summary["schedule_control"] = rows
    write_json_atomic(RESULTS / "schedule_control.json", summary)
    for r in rows:
        short, long, const = r["cosine_short"], r["cosine_long"], r["constant"]
        print(r["method"], "/", r["baseline"], r["accounting"], f"at {r['level']:.3f}: cosine 1e12",
              short["ratio"], short["ci"], "cosine 4e12", long and long["ratio"], long and long["ci"],
              "constant", const["ratio"], const["ci"])  # fmt: skip
    print(json.dumps(summary["near_teacher"], indent=1))
    print(json.dumps({"wall_seconds": summary["wall_seconds"]}))
