"""Tune every racer of the comparison by one protocol (labkit.studies.tuning); writes
benchmarks/results/tuning.json.

    .venv/bin/python benchmarks/tuning.py [--budget 1e12] [--methods opd-topk ...]

`--methods` tunes only those racers, by the same protocol, and replaces their entries in the committed
tuning.json (the others' runs are seeded, so rerunning them would repeat them exactly). Copy each racer's
`chosen` settings into labkit.config.METHOD_SETTINGS (a test keeps the two equal), then rerun
benchmarks/side_by_side.py.
"""

import argparse
import json
from pathlib import Path

from labkit.checkpoint import write_json_atomic
from labkit.studies.compare import CompareConfig
from labkit.studies.tuning import merge_tuning, tune
from labkit.views.notebook import data_dir

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--budget", type=float, default=1e12)
    p.add_argument("--eval-n", type=int, default=500)
    p.add_argument(
        "--methods", nargs="+", default=None, help="tune only these racers; merge into tuning.json"
    )
    p.add_argument("--schedule", choices=("cosine", "constant"), default="cosine",
                   help="constant: tune for a constant rate after warm-up, into tuning_constant.json "
                        "(the control of benchmarks/equal_rate.py; the races keep tuning.json)")  # fmt: skip
    p.add_argument("--racers", nargs="+", default=None, help="with --schedule constant: the racers to tune")
    args = p.parse_args()
    config = CompareConfig(budget=args.budget, eval_n=args.eval_n, eval_points=8)
    if args.schedule == "constant":
        config.methods = tuple(args.racers or ("rl", "opd", "opd-topk", "opd-exact"))
        tuning = tune(config, str(data_dir() / "student"), str(data_dir() / "teacher"),
                      base={"lr_schedule": "constant"})  # fmt: skip
        write_json_atomic(RESULTS / "tuning_constant.json", tuning)
        for racer, entry in tuning["methods"].items():
            print(
                racer,
                json.dumps(entry["chosen"]),
                [(t["settings"], round(t["score"], 3)) for t in entry["tried"]],
            )
        print(json.dumps({"wall_seconds": tuning["protocol"]["wall_seconds"]}))
        raise SystemExit(0)
    if args.methods:
        config.methods = tuple(args.methods)
    tuning = tune(config, str(data_dir() / "student"), str(data_dir() / "teacher"))
    if args.methods:
        tuning = merge_tuning(json.loads((RESULTS / "tuning.json").read_text()), tuning)
    write_json_atomic(RESULTS / "tuning.json", tuning)
    for racer, entry in tuning["methods"].items():
        print(racer, json.dumps(entry["chosen"]), [round(t["score"], 3) for t in entry["tried"]])
    print(json.dumps({"wall_seconds": tuning["protocol"]["wall_seconds"]}))
