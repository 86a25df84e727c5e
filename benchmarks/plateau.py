"""The post's own regime (labkit.studies.plateau): SFT to its plateau, then a race from there; writes
benchmarks/results/plateau.json and plateau.png.

    .venv/bin/python benchmarks/plateau.py [--seeds 3] [--budget 1e12] [--reuse] [--no-tune]

Every racer is tuned again from the plateau student by the headline's protocol (labkit.studies.tuning: the
same grid, tuning seed and tuning problems) unless `--no-tune` (then the headline's settings). `--reuse`
races from the plateau student a previous run saved in outputs/plateau/student (its curve is read back from
its labkit.json) instead of training it again. Where SFT never plateaus within its budget, plateau.json
records the curve, the fit and the teacher's accuracy on the same problems, and no race is run.

    .venv/bin/python benchmarks/plateau.py --start-flops 1.7e12 \
        --finished outputs/plateau/sft_3.3e12 outputs/plateau/student \
        --finished-seeds 1 2 --finished-budgets 1.7e12 3.3e12

races instead from the post's regime as near as this task has it: SFT continued to a fixed FLOPs (constant
rate, then the same decay), where it still climbs; the search's no-plateau report is kept in plateau.json
under "search". SFT's cost beyond its race is read between finished SFT models (the headline's, the
start, and each `--finished` folder: SFT runs saved by labkit.studies.plateau.sft_to_plateau, scored on the
race problems). `--finished-seeds` trains (or reuses) more of them in outputs/plateau, one per seed and
`--finished-budgets` entry: several seeds of one budget count as their mean and give SFT's side an interval.
`--reprice` recomputes the prices and the figure from the committed race. Run alone on the machine: wall
seconds are recorded.
"""

import argparse
import json
import time
from pathlib import Path

from labkit.checkpoint import write_json_atomic
from labkit.evaluate import EVAL_SETS, evaluate, held_out_set, task_of
from labkit.models import load
from labkit.studies.compare import CompareConfig, run_comparison, summarize
from labkit.studies.plateau import (
    PLATEAU_RACERS,
    POST_START_WHAT,
    as_start,
    finished_models,
    no_plateau_report,
    race_start,
    report,
    sft_to_plateau,
    train_finished,
)
from labkit.studies.tuning import tune, without_curves
from labkit.views.notebook import data_dir
from labkit.views.race import plateau_figure

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
PLATEAU_STUDENT = ROOT.parent / "outputs" / "plateau" / "student"
POST_START = ROOT.parent / "outputs" / "plateau" / "post_start"


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=float, default=1e12)
    p.add_argument("--reuse", action="store_true")
    p.add_argument("--no-tune", action="store_true")
    p.add_argument("--start-flops", type=float, default=None,
                   help="race from SFT continued to this many FLOPs, then decayed")  # fmt: skip
    p.add_argument(
        "--finished",
        nargs="*",
        default=[],
        help="finished SFT models (sft_to_plateau's folders) to fit through",
    )
    p.add_argument("--finished-seeds", type=int, nargs="*", default=[], help="seeds of more finished models")
    p.add_argument("--finished-budgets", type=float, nargs="*", default=[], help="their budgets (FLOPs)")
    p.add_argument("--reprice", action="store_true", help="recompute the prices from plateau.json's race")
    args = p.parse_args()
    if args.reprice and not args.start_flops:
        p.error("--reprice recomputes a race from a start: give its --start-flops too")
    started = time.perf_counter()
    student, teacher = data_dir() / "student", data_dir() / "teacher"
    headline = json.loads((RESULTS / "side_by_side.json").read_text())["methods"]["sft"]["curves"]
    search = None
    if args.start_flops:  # keep the search's no-plateau report beside the race
        previous = json.loads((RESULTS / "plateau.json").read_text())
        search = previous.get("search") or previous
        PLATEAU_STUDENT = POST_START
    if args.reuse or args.reprice:
        plateau = json.loads((PLATEAU_STUDENT / "labkit.json").read_text())["plateau"]
    elif args.start_flops:
        plateau = sft_to_plateau(str(student), str(teacher), PLATEAU_STUDENT, max_flops=args.start_flops)
    else:
        plateau = sft_to_plateau(str(student), str(teacher), PLATEAU_STUDENT)
    if args.start_flops:
        plateau = as_start(plateau, args.start_flops)
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
    if args.reprice:  # the committed race, priced again
        summary = {"methods": previous["methods"], "teacher_accuracy": previous["teacher_accuracy"],
                   "config": previous["config"], "ratios": previous["race_ratios"],
                   "wall_seconds": previous["race_wall_seconds"]}  # fmt: skip
        tuning, wall_seconds = previous["tuning"], previous["wall_seconds"]
    else:
        config = CompareConfig(budget=args.budget, seeds=args.seeds, methods=PLATEAU_RACERS)
        tuning = None
        if not args.no_tune:
            grid = CompareConfig(budget=args.budget, methods=PLATEAU_RACERS, eval_n=500, eval_points=8)
            tuned = tune(grid, str(PLATEAU_STUDENT), str(teacher), progress=False)
            config.settings = {racer: entry["chosen"] for racer, entry in tuned["methods"].items()}
            print(json.dumps(config.settings))
            tuning = without_curves(tuned)
        summary = summarize(run_comparison(config, student_path=str(PLATEAU_STUDENT), progress=False))
        wall_seconds = None
    finished = None
    if args.finished or args.start_flops:
        more = train_finished(student, teacher, POST_START.parent, args.finished_budgets, args.finished_seeds)
        finished = finished_models(headline, [*args.finished, *more], race_start(plateau, summary))
    results = report(plateau, summary, what=POST_START_WHAT if args.start_flops else None, finished=finished)
    if search is not None:
        results["search"] = search
    results["wall_seconds"] = wall_seconds or time.perf_counter() - started
    results["tuning"] = tuning
    write_json_atomic(RESULTS / "plateau.json", results)
    plateau_figure(results).savefig(RESULTS / "plateau.png", dpi=110)
    for row in results["ratios"]:
        if row["accounting"] in ("flops", "episodes", "post_9x", "post_30x") and row["ratio"] is not None:
            ci = row["ci"] and f"({row['ci'][0]:.2f}-{row['ci'][1]:.2f})"
            how = " extrapolated" if row["extrapolated"] else " finished SFT" if row["interpolated"] else ""
            print(f"{row['level_name']:>15} {row['method']}/{row['baseline']} {row['accounting']}: "
                  f"{row['ratio']:.2f} {ci or ''}{how}")  # fmt: skip
    print(json.dumps({"wall_seconds": results["wall_seconds"]}))
