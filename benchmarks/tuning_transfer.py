"""Does the tuning transfer? Two checks of the committed choices (benchmarks/results/tuning.json); writes
benchmarks/results/tuning_transfer.json.

    .venv/bin/python benchmarks/tuning_transfer.py [--racers sft rl opd opd-topk opd-exact]

1. **A second tuning seed.** The whole protocol (labkit.studies.tuning: grid, extension, score, the "tuning"
   problems) again with seed ``TUNING_SEED + 1``: does each racer choose the same settings?
2. **Smaller batches.** Every racer chose 4 prompts per step, the grid's edge. At each racer's chosen learning
   rate, 1 and 2 prompts per step on both tuning seeds, scored alike: would a finer grid have chosen another
   batch?

A racer's choice "holds" where the committed settings score within the two seeds' own spread of the best
(the score is noisy: a run's score moves with its seed). Run alone on the machine.
"""

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from labkit.checkpoint import write_json_atomic
from labkit.studies.compare import CompareConfig
from labkit.studies.tuning import KEPT, TUNING_SEED, run_grid, transfer, tune, without_curves
from labkit.views.notebook import data_dir

RESULTS = Path(__file__).resolve().parent / "results"
RACERS = ("sft", "rl", "opd", "opd-topk", "opd-exact")
SMALL_BATCHES = (1, 2)

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--racers", nargs="+", default=list(RACERS))
    args = p.parse_args()
    started = time.perf_counter()
    committed = json.loads((RESULTS / "tuning.json").read_text())
    protocol = committed["protocol"]
    config = CompareConfig(budget=protocol["budget"], eval_n=protocol["eval_n"], eval_points=8)
    config.methods = tuple(args.racers)
    student, teacher = str(data_dir() / "student"), str(data_dir() / "teacher")
    second = tune(config, student, teacher, progress=False, seed=TUNING_SEED + 1)
    print(json.dumps({r: e["chosen"] for r, e in second["methods"].items()}), flush=True)
    tuning_config = replace(config, eval_set="tuning").validate()  # tune's own runs' config, for extra runs
    small = {racer: {} for racer in args.racers}
    for seed in (TUNING_SEED, TUNING_SEED + 1):
        points = [(r, {**committed["methods"][r]["chosen"], "batch_size": b}) for r in args.racers
                  for b in SMALL_BATCHES]  # fmt: skip
        for r in args.racers if seed != TUNING_SEED else ():  # the committed choice, if the rerun skipped it
            chosen = committed["methods"][r]["chosen"]
            if all(t["settings"] != chosen for t in second["methods"][r]["tried"]):
                points.append((r, chosen))
        tried = run_grid(tuning_config, points, student, teacher, False, seed=seed)
        for t in tried:
            small[t["racer"]].setdefault(seed, []).append({k: t[k] for k in KEPT})
    results = {
        "what": "the committed tuning (tuning.json, seed 1000) checked on a second tuning seed (the whole "
        "protocol again) and at 1 and 2 prompts per step (each racer's chosen learning rate, both seeds)",
        "protocol": {**second["protocol"], "small_batches": SMALL_BATCHES},
        "second_seed": without_curves(second)["methods"],
        "extra_runs": {r: {str(s): rows for s, rows in v.items()} for r, v in small.items()},
        "transfer": transfer(committed, second, small, SMALL_BATCHES),
        "wall_seconds": time.perf_counter() - started,
    }  # fmt: skip
    write_json_atomic(RESULTS / "tuning_transfer.json", results)
    for racer, row in results["transfer"].items():
        keys = ("chosen", "chosen_on_second_seed", "largest_gap_to_best", "seed_spread_of_chosen", "holds")
        print(racer, json.dumps({k: row[k] for k in keys}))
    print(json.dumps({"wall_seconds": results["wall_seconds"]}))
