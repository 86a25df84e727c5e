"""The post's own regime (labkit.studies.plateau): SFT to its plateau, then a race from there; writes
benchmarks/results/plateau.json and plateau.png.

    .venv/bin/python benchmarks/plateau.py [--seeds 3] [--budget 1e12] [--reuse] [--no-tune]

Every racer is tuned again from the plateau student by the headline's protocol (labkit.studies.tuning: the
same grid, tuning seed and tuning problems) unless `--no-tune` (then the headline's settings). `--reuse`
races from the plateau student a previous run saved in outputs/plateau/student (its curve is read back from
its labkit.json) instead of training it again. Where SFT never plateaus within its budget, plateau.json
records the curve, the fit and the teacher's accuracy on the same problems, and no race is run. Run alone on
the machine: wall seconds are recorded.
"""

import argparse
import json
import time
from pathlib import Path

from labkit.checkpoint import write_json_atomic
from labkit.evaluate import EVAL_SETS, evaluate, held_out_set, task_of
from labkit.models import load
from labkit.studies.compare import CompareConfig, run_comparison, summarize
from labkit.studies.plateau import PLATEAU_RACERS, no_plateau_report, report, sft_to_plateau
from labkit.studies.tuning import tune
from labkit.views.notebook import data_dir
from labkit.views.race import plateau_figure

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
PLATEAU_STUDENT = ROOT.parent / "outputs" / "plateau" / "student"

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=float, default=1e12)
    p.add_argument("--reuse", action="store_true")
    p.add_argument("--no-tune", action="store_true")
    args = p.parse_args()
    started = time.perf_counter()
    student, teacher = data_dir() / "student", data_dir() / "teacher"
    if args.reuse:
        plateau = json.loads((PLATEAU_STUDENT / "labkit.json").read_text())["plateau"]
    else:
        plateau = sft_to_plateau(str(student), str(teacher), PLATEAU_STUDENT)
    print(json.dumps({k: plateau[k] for k in ("stopped", "wall_seconds")}), plateau["curve"]["accuracy"])
    if plateau["stopped"]["why"] == "budget":  # no plateau below the teacher: nothing to race from
        teacher_model, tokenizer = load(teacher)
        task = task_of(str(student))
        problems = held_out_set(task, plateau["settings"]["eval_n"], "build")
        on_build = evaluate(teacher_model, tokenizer, task, seed=EVAL_SETS["build"], problems=problems)
        on_build = on_build.accuracy
        write_json_atomic(RESULTS / "plateau.json", no_plateau_report(plateau, on_build))
        print(json.dumps({"no_plateau": plateau["curve"]["accuracy"][-1], "teacher_on_build": on_build}))
        raise SystemExit(0)
    config = CompareConfig(budget=args.budget, seeds=args.seeds, methods=PLATEAU_RACERS)
    tuning = None
    if not args.no_tune:
        grid = CompareConfig(budget=args.budget, methods=PLATEAU_RACERS, eval_n=500, eval_points=8)
        tuning = tune(grid, str(PLATEAU_STUDENT), str(teacher), progress=False)
        config.settings = {racer: entry["chosen"] for racer, entry in tuning["methods"].items()}
        print(json.dumps(config.settings))
    comparison = run_comparison(config, student_path=str(PLATEAU_STUDENT), progress=False)
    results = report(plateau, summarize(comparison))
    results["wall_seconds"] = time.perf_counter() - started
    results["tuning"] = tuning and {"protocol": tuning["protocol"], "methods": {
        racer: {"chosen": e["chosen"], "tried": [{k: t[k] for k in ("settings", "score", "final_accuracy")}
                                                 for t in e["tried"]]}
        for racer, e in tuning["methods"].items()}}  # fmt: skip
    ratios = results["ratios"]
    write_json_atomic(RESULTS / "plateau.json", results)
    plateau_figure(results).savefig(RESULTS / "plateau.png", dpi=110)
    for row in ratios:
        if row["accounting"] in ("flops", "episodes", "post_9x", "post_30x") and row["ratio"] is not None:
            ci = row["ci"] and f"({row['ci'][0]:.2f}-{row['ci'][1]:.2f})"
            extra = " extrapolated" if row["extrapolated"] else ""
            print(f"{row['level_name']:>15} {row['method']}/{row['baseline']} {row['accounting']}: "
                  f"{row['ratio']:.2f} {ci or ''}{extra}")  # fmt: skip
    print(json.dumps({"wall_seconds": results["wall_seconds"]}))
