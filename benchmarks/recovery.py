"""Recovery from a planted mistake: "OOD shock" measured with the problems held fixed (notebook 05).

    .venv/bin/python benchmarks/recovery.py [--seeds 2] [--problems 1000]

Every racer is trained as in the headline (tuned settings, 1e12 FLOPs; evaluations thinned, since only
the final student is used), ``--seeds`` times. Each trained student, and the start, then writes the next
step after four kinds of prefix on the same held-out problems (``recovery.next_step_accuracy``): its own
correct steps, the same with the last step planted wrong (carry kept), the teacher's correct steps and the
task's reference steps; recovery = planted / own, with a 95% interval (seeds and problems resampled). Also:
compounding on its own rollouts (step error rate after a first mistake over before it), raw and matched for
difficulty (``drift.sampled_compounding``: 8 samples of each of the first half of the problems; each step
after a first mistake against clean-prefix samples of the same problem and column; split by what the first
mistake did to the carry, and whether the next step reads the carry as written); and a planted mistake that
*flips* the carry (``recovery.carry_flip_recovery``: the last step's tens digit dropped, "forgot to carry"):
the next step after it against after the same prefix unplanted, and which carry the student then takes. Writes
benchmarks/results/recovery.json and recovery.md (the table docs/results.md shows). The measurement is
labkit.studies.recovery_runs; the table, labkit.views.tables.recovery_table.
"""

import argparse
import time
from pathlib import Path

from labkit.checkpoint import write_json_atomic, write_text_atomic
from labkit.studies.recovery_runs import run_recovery
from labkit.views.notebook import load_lab
from labkit.views.tables import recovery_table

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--problems", type=int, default=1000)
    p.add_argument("--budget", type=float, default=1e12)
    args = p.parse_args()
    started = time.perf_counter()
    task, teacher, start, tokenizer = load_lab()
    results = run_recovery(task, teacher, start, tokenizer, args.seeds, args.problems, args.budget)
    results["seconds"] = round(time.perf_counter() - started, 1)
    write_json_atomic(RESULTS / "recovery.json", results)
    write_text_atomic(RESULTS / "recovery.md", recovery_table(results))
    print(recovery_table(results))
