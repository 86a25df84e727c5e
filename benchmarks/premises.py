"""The post's premises, tested one at a time (issue 14). Each section is an experiment; its results are
merged into benchmarks/results/premises.json.

    .venv/bin/python benchmarks/premises.py [--only style_mechanism break_even] [--seeds 3] [--quick]

Sections built so far:
  break_even       per regime of the committed map (regimes_sweep.json): the FLOPs price of an OPD
                   episode over an RL episode, against OPD's edge in episodes (RL / OPD, with its
                   interval). Reads committed results only.
  style_mechanism  why does a teacher with free style choices change SFT against OPD? SFT and OPD
                   students are trained at the race's settings (tuned, 1e12 FLOPs) from the shipped
                   student (teacher with style 0.5) and from the zero-style control (built by
                   regimes_sweep.py into outputs/sweep/); after training, on held-out samples, the
                   student's entropy, the reverse KL to the teacher and OPD's advantage are measured per
                   token class (labkit.studies.tokenclass); OPD's mean advantage per class is tracked
                   through training.
  sparse_reward    6-digit students stopped at 3/10/28% (RL at group 4 and 16, capacity control)
  rl_teacher       an RL-trained student distilled back into its base
  teacher_size     a teacher ~4x the student
  support          corrections written after own mistakes; a lost skill recovered by OPD, SFT or
                   forward KL
Every section except break_even trains; run each alone (--only), it takes minutes to an hour. Each section is
a function of labkit.studies.premises; this script runs the ones asked for and merges what they return.

    .venv/bin/python benchmarks/premises.py --only sparse_reward

Run it alone on the machine: it trains in worker processes on every core.
"""

import argparse
import json
import time
from pathlib import Path

from labkit.checkpoint import write_json_atomic
from labkit.errors import LabkitError
from labkit.studies.premises import (
    SECTIONS,
    break_even_section,
    rl_teacher_section,
    sparse_reward_section,
    style_mechanism_section,
    support_section,
    teacher_size_section,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--only", nargs="*", choices=SECTIONS)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=float, default=1e12)
    p.add_argument("--problems", type=int, default=1000, help="held-out samples per class profile")
    p.add_argument("--quick", action="store_true", help="tiny settings: a smoke test, not a result")
    p.add_argument("--work", default=str(ROOT / "outputs" / "premises"), help="where built models go")
    p.add_argument(
        "--out", help="default: benchmarks/results/premises.json (--quick: outputs/premises-quick.json)"
    )
    args = p.parse_args()
    if args.quick:
        args.seeds, args.budget, args.problems = 1, 2e10, 32
    args.out = args.out or str(
        ROOT / "outputs" / "premises-quick.json" if args.quick else RESULTS / "premises.json"
    )
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    work = Path(args.work)
    try:
        for section in args.only or SECTIONS:
            started = time.perf_counter()
            if section == "break_even":
                sweep = json.loads((RESULTS / "regimes_sweep.json").read_text())["regimes"]  # the map
                results[section] = break_even_section(sweep)
            elif section == "style_mechanism":
                results[section] = style_mechanism_section(args.seeds, args.budget, args.problems)
            elif section == "support":
                results[section] = support_section(args.seeds, args.budget, work, args.quick, args.problems)
            else:
                build = {"sparse_reward": sparse_reward_section, "rl_teacher": rl_teacher_section,
                         "teacher_size": teacher_size_section}[section]  # fmt: skip
                results[section] = build(args.seeds, args.budget, work, args.quick)
            results[section] |= {"quick": args.quick, "seconds": round(time.perf_counter() - started, 1)}
            write_json_atomic(out, results)  # section by section: an interrupted run keeps what finished
    except LabkitError as exc:  # a model the section needs is missing: one line saying how to build it
        raise SystemExit(f"premises.py: error: {exc}") from None
    write_json_atomic(out, results)
    print(json.dumps({k: v for k, v in results.items() if k != "style_mechanism"}, indent=1)[:3000])
