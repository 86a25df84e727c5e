"""Does a regime's verdict survive tuning on that regime? Racers tuned on the regime itself, then raced.

    .venv/bin/python benchmarks/regime_tuning.py [--regime long-chains] [--racers rl opd opd-exact sft]
        [--seeds 5] [--budget 1e12] [--work outputs/sweep]

The map (benchmarks/regimes_sweep.py) races every regime at the settings tuned on the shipped pair. Here the
named racers are tuned again on the regime's own teacher, student and task, by the headline's protocol
(labkit.studies.tuning.tune: the same grid, learning-rate extension, tuning seed, score and "tuning"
problems) plus one more step: the prompts per step beyond the best run's (2 beyond 4, 64 beyond
16) are tried at its learning rate. The racers are then raced at their chosen settings on the race
problems (`--seeds` seeds) and priced directly against each other, beside the same pairs of the map's race
at the shipped settings (regimes_sweep.json). The regime's models are built into --work by the map's recipes
(reused if present). Writes benchmarks/results/regime_tuning.json and regime_tuning.md (docs/results.md shows
the table; notebook 08 quotes it). Run alone on the machine: wall seconds are recorded.
"""

import argparse
import json
import time
from pathlib import Path

from labkit.checkpoint import write_json_atomic, write_text_atomic
from labkit.studies.compare import CompareConfig, all_ratio_rows, run_comparison, summarize
from labkit.studies.regimes import regimes, start_accuracy
from labkit.studies.tuning import tune, without_curves
from labkit.views.tables import regime_tuning_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--regime", default="long-chains")
    p.add_argument("--racers", nargs="+", default=["rl", "opd", "opd-exact", "sft"])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget", type=float, default=1e12)
    p.add_argument("--eval-n", type=int, default=500, help="tuning problems per evaluation (the headline's)")
    p.add_argument("--work", default=str(ROOT / "outputs" / "sweep"), help="the regime's models (reused)")
    p.add_argument("--redraw", action="store_true", help="only rewrite the table from the JSON")
    args = p.parse_args()
    out_path = RESULTS / "regime_tuning.json"
    results = json.loads(out_path.read_text()) if out_path.exists() else {"regimes": {}}
    if not args.redraw:
        started = time.perf_counter()
        sweep = json.loads((RESULTS / "regimes_sweep.json").read_text())
        teacher, student, what, build = regimes(Path(args.work), sweep["start_target"])[args.regime]
        built_now = build()
        tuning_config = CompareConfig(budget=args.budget, eval_n=args.eval_n, eval_points=8,
                                      methods=tuple(args.racers))  # fmt: skip
        tuning = tune(tuning_config, str(student), str(teacher), extend_batch=True)
        chosen = {racer: entry["chosen"] for racer, entry in tuning["methods"].items()}
        config = CompareConfig(seeds=args.seeds, budget=args.budget, methods=tuple(args.racers),
                               settings=chosen, snapshot_prompts=1)  # fmt: skip
        summary = summarize(run_comparison(config, student_path=student, teacher_path=teacher, progress=True))
        old = sweep["regimes"][args.regime]["summary"]
        old_racers = {r: old["methods"][r] for r in args.racers}
        old_summary = {**old, "methods": old_racers}
        results["regimes"][args.regime] = {
            "what": what,
            "seeds": args.seeds,
            "built": built_now,
            "start_accuracy": start_accuracy(student),
            "tuning": without_curves(tuning),
            "chosen": chosen,
            "final_accuracy": {m: e["final_accuracy"] for m, e in summary["methods"].items()},
            "direct": all_ratio_rows(summary),
            "summary": summary,
            "shipped_settings": {
                "budget": sweep["budget"],
                "settings": {r: e["settings"] for r, e in old_racers.items()},
                "final_accuracy": {r: e["final_accuracy"] for r, e in old_racers.items()},
                "direct": all_ratio_rows(old_summary),
            },
            "seconds": round(time.perf_counter() - started, 1),
        }
        results["budget"] = args.budget
        write_json_atomic(out_path, results)
    write_text_atomic(RESULTS / "regime_tuning.md", regime_tuning_table(results) + "\n")
    for name, entry in results["regimes"].items():
        print(name, json.dumps(entry["chosen"]), json.dumps(entry["final_accuracy"]), entry["seconds"])
