"""The equal-rate control (after benchmarks/schedule_control.py): the three OPD estimators again under a
constant learning rate, now at RL's rate (1e-4) instead of their own cosine-tuned peak (3e-4); writes
benchmarks/results/equal_rate.json.

    .venv/bin/python benchmarks/equal_rate.py [--learning-rate 1e-4]

Under the constant rate no OPD estimator reached 90% of the teacher while RL did, but the OPD racers ran at
3x RL's rate: was it the missing decay, or a rate too high to hold without one? Here every racer runs at one
rate; RL's curves are schedule_control.json's (the same settings and seeds: seeded runs repeat exactly), the
OPD racers are run anew, and every pair is priced at the headline's pair levels and at 90% of the teacher.
Run alone on the machine.
"""

import argparse
import json
from pathlib import Path

from labkit.checkpoint import write_json_atomic
from labkit.studies.compare import CompareConfig, merge_summaries, run_comparison, summarize
from labkit.studies.levels import near_teacher_entry, priced_beside

RESULTS = Path(__file__).resolve().parent / "results"
RACERS = ("opd", "opd-topk", "opd-exact")

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument(
        "--saved", help="price a race saved by an earlier run (its raw summary) instead of running"
    )
    args = p.parse_args()
    control = json.loads((RESULTS / "schedule_control.json").read_text())
    if control["methods"]["rl"]["settings"]["learning_rate"] != args.learning_rate:
        raise SystemExit("RL's curves are reused from schedule_control.json: pass RL's learning rate")
    c = control["config"]
    settings = {m: {"lr_schedule": "constant", "learning_rate": args.learning_rate} for m in RACERS}
    config = CompareConfig(budget=c["budget"], seeds=c["seeds"], methods=RACERS, eval_points=c["eval_points"],
                           settings=settings)  # fmt: skip
    if args.saved:
        added = json.loads(Path(args.saved).read_text())
    else:
        added = summarize(run_comparison(config, progress=False))
        write_json_atomic(
            RESULTS / "equal_rate.json", added
        )  # the raw race first: pricing it must not lose it
    rl_only = {k: v for k, v in control.items() if k not in ("schedule_control", "near_teacher", "added")}
    rl_only["methods"] = {"rl": control["methods"]["rl"]}
    summary = merge_summaries(rl_only, added)
    headline = json.loads((RESULTS / "side_by_side.json").read_text())
    summary["near_teacher"] = near_teacher_entry(summary)
    own_peak = (control["schedule_control"], "constant")
    rows = priced_beside(headline, summary, "constant_equal_rate", {"constant_own_peak": own_peak})
    summary["equal_rate"] = rows
    write_json_atomic(RESULTS / "equal_rate.json", summary)
    for r in rows:
        a, b = r["constant_own_peak"], r["constant_equal_rate"]
        print(r["method"], "/", r["baseline"], r["accounting"], f"at {r['level']:.3f}: own peak", a["ratio"],
              a["ci"], "equal rate", b["ratio"], b["ci"])  # fmt: skip
    print(json.dumps(summary["near_teacher"], indent=1))
    print(json.dumps({"wall_seconds": added["wall_seconds"]}))
