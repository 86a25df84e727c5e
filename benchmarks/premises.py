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
Still to build (issue 14): sparse_reward, rl_teacher, teacher_size, support.

Run it alone on the machine: it trains in worker processes on every core.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from labkit.evaluate import task_of
from labkit.models import load
from labkit.studies.compare import CompareConfig
from labkit.studies.mapview import break_even, in_map_order
from labkit.studies.tokenclass import CLASSES, advantage_tracker, class_profile
from labkit.tools.checkpoint import write_json_atomic
from labkit.tools.workers import cores, run_jobs
from labkit.train import TrainConfig, train

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
STYLE_REGIMES = {  # regime: (teacher, student)
    "style 0.5 (shipped)": (ROOT / "data" / "teacher", ROOT / "data" / "student"),
    "style 0 (control)": (
        ROOT / "outputs" / "sweep" / "teacher-style0",
        ROOT / "outputs" / "sweep" / "student-style0",
    ),
}
PROFILE_SEED = 4242  # held-out problems for the class profiles (none of the race's evaluation sets)
TRACK_EVERY = 5


def break_even_section() -> dict:
    sweep = json.loads((RESULTS / "regimes_sweep.json").read_text())["regimes"]
    points = {name: break_even(sweep[name]["summary"]) for name in in_map_order(sweep)}
    for name, point in points.items():
        point["protocol"] = sweep[name]["protocol"]
        point["opd_cheaper_in_flops"] = None if point["edge"] is None else point["edge"] > point["price"]
    what = (
        "price = FLOPs per OPD episode / per RL episode (ledger); edge = RL / OPD episodes to the pair's "
        "level (95% interval); OPD is cheaper in FLOPs iff edge > price"
    )
    return {"what": what, "points": points}


def _style_run(teacher_path: str, student_path: str, method: str, seed: int, budget: float, n: int) -> dict:
    """One training run (worker process): the class profile after it, and OPD's class advantages during it."""
    torch.set_num_threads(1)
    teacher, _ = load(teacher_path)
    student, tokenizer = load(student_path)
    task = task_of(student_path)
    config = TrainConfig(
        **{**CompareConfig().run_settings(method), "seed": seed, "steps": 1_000_000, "flop_budget": budget,
           "eval_points": 1, "eval_n": 64, "eval_set": "tuning"},
    )  # fmt: skip
    on_step, tracked = advantage_tracker(tokenizer, task.digits, every=TRACK_EVERY)
    result = train(config, student, tokenizer, task, teacher=teacher, progress=False, on_step=on_step)
    profile = class_profile(student, teacher, tokenizer, task, n=n, seed=PROFILE_SEED)
    return {
        "profile": profile,
        "tracked": tracked,
        "steps": len(result.history),
        "flops": result.ledger.total,
    }


def style_mechanism_section(seeds: int, budget: float, n: int) -> dict:
    for name, (teacher, student) in STYLE_REGIMES.items():
        if not (Path(teacher) / "config.json").exists() or not (Path(student) / "config.json").exists():
            raise SystemExit(f"{name}: {teacher} or {student} is missing; build it with "
                             "`python benchmarks/regimes_sweep.py --only no-style-entropy`")  # fmt: skip
    jobs = [
        (str(teacher), str(student), method, seed, budget, n)
        for teacher, student in STYLE_REGIMES.values()
        for method in ("sft", "opd")
        for seed in range(seeds)
    ]
    started = time.perf_counter()
    outputs = iter(run_jobs(_style_run, jobs, cores()))
    section = {"seeds": seeds, "budget": budget, "profile_problems": n, "regimes": {}}
    for name, (teacher, student) in STYLE_REGIMES.items():
        teacher_model, tokenizer = load(teacher)
        start = class_profile(
            load(student)[0], teacher_model, tokenizer, task_of(student), n=n, seed=PROFILE_SEED
        )
        entry = {"start": start}
        for method in ("sft", "opd"):
            runs = [next(outputs) for _ in range(seeds)]
            measures = ("student_entropy", "teacher_entropy", "reverse_kl", "advantage", "tokens")
            entry[method] = {
                kind: {m: float(np.mean([r["profile"][kind][m] for r in runs])) for m in measures}
                for kind in CLASSES
                if all(kind in r["profile"] for r in runs)
            }
            if method == "opd":
                entry["opd_advantage_over_training"] = _binned(runs)
        section["regimes"][name] = entry
    section["seconds"] = round(time.perf_counter() - started, 1)
    return section


def _binned(runs: list[dict], bins: int = 10) -> dict[str, list[float]]:
    """Each class's mean advantage in ``bins`` equal slices of training, averaged over seeds."""
    out = {}
    for kind in CLASSES:
        per_run = []
        for r in runs:
            values = [row[kind] for row in r["tracked"] if kind in row]
            if len(values) >= bins:
                per_run.append([float(np.mean(chunk)) for chunk in np.array_split(values, bins)])
        if per_run:
            out[kind] = [float(x) for x in np.mean(per_run, axis=0)]
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--only", nargs="*", choices=("break_even", "style_mechanism"))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=float, default=1e12)
    p.add_argument("--problems", type=int, default=1000, help="held-out samples per class profile")
    p.add_argument("--quick", action="store_true", help="tiny settings: a smoke test, not a result")
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
    sections = args.only or ("break_even", "style_mechanism")
    if "break_even" in sections:
        results["break_even"] = break_even_section()
    if "style_mechanism" in sections:
        results["style_mechanism"] = style_mechanism_section(args.seeds, args.budget, args.problems)
        results["style_mechanism"]["quick"] = args.quick
    write_json_atomic(out, results)
    print(json.dumps({k: v for k, v in results.items() if k != "style_mechanism"}, indent=1)[:3000])
