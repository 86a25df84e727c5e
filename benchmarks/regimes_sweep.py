"""When does on-policy distillation win? SFT, RL and OPD raced in regimes that differ from the
shipped one in one knob.

    .venv/bin/python benchmarks/regimes_sweep.py [--seeds 5] [--budget 1e12] [--work outputs/sweep]
        [--only NAME ...]

Regimes (each a teacher, a student and a task):
  shipped           data/teacher -> data/student; style 0.5 (every irrelevant style choice is a coin flip)
  same-size-teacher data/teacher-small -> data/student: a teacher of the student's own architecture
  no-style-entropy  the same sizes and recipes on the task with style 0: the zero-entropy control
  small-student     data/teacher -> a 1-layer, d=48 student (~30K parameters)
  long-chains       the shipped sizes and recipes on 5-digit addition (5 dependent column steps instead of 3)
  corrections       the shipped sizes and recipes on a task where 20% of steps are written wrong, marked `!`
                    and redone: a teacher that can correct a mistake
  stronger-start    data/teacher -> a student of the shipped size whose SFT warm-up ran until 50% (not 28%)

New students learn from their teacher's samples (the shipped student's recipe) and stop at the first
evaluation (80 along at most 2,000 steps, on the "build" held-out set, which the races never see) where they
reach the shipped student's accuracy on that set, so every race starts from about the same success rate.
Models are built into --work (reused if present). Writes benchmarks/results/regimes_sweep.json: per regime the
teacher's accuracy and per-token entropy, the start accuracy, the race's summary and cost ratios under every
accounting (labkit.studies.costs), and benchmarks/results/regimes_sweep.md, the table docs/results.md shows,
with the figures map.png and break_even.png. Notebook 08 reads it. The regimes, their builds and races are
labkit.studies.regimes; the table, labkit.views.tables.format_sweep.

    .venv/bin/python benchmarks/regimes_sweep.py --redraw   # only the tables and figures, from the JSON

Every regime is also priced directly against RL and SFT, sampled and greedy (`direct` in the JSON;
regimes_direct.md; map_vs_rl.png): labkit.studies.compare.all_ratio_rows.
"""

import argparse
import json
from pathlib import Path

from labkit.checkpoint import write_json_atomic, write_text_atomic
from labkit.studies.compare import all_ratio_rows
from labkit.studies.regimes import PROTOCOL, break_even, in_map_order, race_regime, regimes, start_accuracy
from labkit.views.mapview import break_even_figure, ratio_figure
from labkit.views.tables import direct_pairs, format_sweep

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def draw_figures(results: dict) -> None:
    """The map's figures beside its table: map.png (each racer's cost over OPD's with its interval, per
    regime and accounting) and break_even.png (OPD's price per episode against its edge per episode)."""
    import matplotlib

    matplotlib.use("Agg")
    names = in_map_order(results["regimes"])
    ratio_figure({n: results["regimes"][n]["ratios"] for n in names}).savefig(RESULTS / "map.png", dpi=110)
    direct = {n: results["regimes"][n]["direct"] for n in names if "direct" in results["regimes"][n]}
    against_rl = ratio_figure(
        direct, methods=("opd", "opd-exact", "sft", "sft-reference", "gkd"), baseline="rl"
    )
    against_rl.savefig(RESULTS / "map_vs_rl.png", dpi=110)
    points = {n: break_even(results["regimes"][n]["summary"]) for n in names}
    break_even_figure(points).savefig(RESULTS / "break_even.png", dpi=110)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget", type=float, default=1e12)
    p.add_argument(
        "--work", default=str(ROOT / "outputs" / "sweep"), help="where built models go (reused if present)"
    )
    p.add_argument(
        "--only", nargs="*", help="run only these regimes (the others keep their results in the JSON)"
    )
    p.add_argument("--redraw", action="store_true", help="only rewrite the table and figures from the JSON")
    args = p.parse_args()
    out_path = RESULTS / "regimes_sweep.json"
    results = json.loads(out_path.read_text()) if out_path.exists() else {"regimes": {}}
    if args.redraw:
        for entry in results["regimes"].values():
            entry["direct"] = all_ratio_rows(entry["summary"])
        write_json_atomic(out_path, results)
        names = in_map_order(results["regimes"])
        direct = direct_pairs({n: results["regimes"][n]["direct"] for n in names})
        write_text_atomic(RESULTS / "regimes_direct.md", direct + "\n")
        write_text_atomic(RESULTS / "regimes_sweep.md", format_sweep(results))
        draw_figures(results)
        raise SystemExit(0)
    target = start_accuracy(ROOT / "data" / "student", "build")
    for name, (teacher, student, what, build) in regimes(Path(args.work), target).items():
        if args.only and name not in args.only:
            continue
        results["regimes"][name] = race_regime(teacher, student, what, build, args.seeds, args.budget)
        results["regimes"][name]["direct"] = all_ratio_rows(results["regimes"][name]["summary"])
        results.setdefault("protocols", {})["v2"] = PROTOCOL
        results.update({"budget": args.budget, "start_target": target})
        write_json_atomic(out_path, results)
        write_text_atomic(RESULTS / "regimes_sweep.md", format_sweep(results))
        draw_figures(results)
        keys = ("start_accuracy", "teacher_accuracy", "teacher_entropy_nats_per_token", "ratios")
        print(json.dumps({name: {k: results["regimes"][name][k] for k in keys}}, indent=1))
