"""Tune every racer of the comparison by one protocol (labkit.studies.tuning); writes
benchmarks/results/tuning.json.

    .venv/bin/python benchmarks/tuning.py [--budget 1e12]

Copy each racer's `chosen` settings into labkit.studies.compare.METHOD_SETTINGS (a test keeps the two equal),
then rerun benchmarks/side_by_side.py.
"""

import argparse
import json
from pathlib import Path

from labkit.checkpoint import write_json_atomic
from labkit.studies.compare import CompareConfig
from labkit.studies.tuning import tune
from labkit.views.notebook import data_dir

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--budget", type=float, default=1e12)
    p.add_argument("--eval-n", type=int, default=500)
    args = p.parse_args()
    config = CompareConfig(budget=args.budget, eval_n=args.eval_n, eval_points=8)
    tuning = tune(config, str(data_dir() / "student"), str(data_dir() / "teacher"))
    write_json_atomic(RESULTS / "tuning.json", tuning)
    for racer, entry in tuning["methods"].items():
        print(racer, json.dumps(entry["chosen"]), [round(t["score"], 3) for t in entry["tried"]])
    print(json.dumps({"wall_seconds": tuning["protocol"]["wall_seconds"]}))
