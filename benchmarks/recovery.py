"""Recovery from a planted mistake: "OOD shock" measured with the problems held fixed (notebook 05).

    .venv/bin/python benchmarks/recovery.py [--seeds 2] [--problems 1000]

Every racer is trained as in the headline (tuned settings, 1e12 FLOPs; evaluations thinned, since only
the final student is used), ``--seeds`` times. Each trained student, and the start, then writes the next
step after four kinds of prefix on the same held-out problems (``drift.next_step_accuracy``): the
reference steps, the same with the last step planted wrong, the teacher's own sampled steps and the
student's own. Also: compounding on its own rollouts (step error rate after a first mistake over before
it). Writes benchmarks/results/recovery.json and recovery.md (the table docs/results.md shows).
"""

import argparse
import time
from pathlib import Path

import numpy as np

from labkit.evaluate import evaluate
from labkit.studies.compare import RACERS, CompareConfig, run_comparison
from labkit.studies.drift import PREFIX_KINDS, error_compounding, next_step_accuracy
from labkit.tools.checkpoint import write_json_atomic, write_text_atomic
from labkit.tools.notebook import load_lab

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PROBLEM_SEED = 77  # held-out problems of the measurement (fixed across students)


def measure(student, teacher, tokenizer, task, n: int) -> dict:
    """Next-step accuracy by prefix kind and compounding on own rollouts, for one student."""
    steps = next_step_accuracy(student, teacher, tokenizer, task, n=n, seed=PROBLEM_SEED)
    rollouts = evaluate(student, tokenizer, task, n=n, temperature=1.0, seed=PROBLEM_SEED)
    c = error_compounding(rollouts.problems, rollouts.completions, task.digits)
    return {
        "next_step": {k: steps.rate(k) for k in PREFIX_KINDS},
        "prefixes": dict(steps.total),
        "recovery": steps.recovery,
        "clean_error_rate": c.clean_error_rate,
        "after_error_rate": c.after_error_rate,
        "compounding_ratio": c.ratio,
        "accuracy": rollouts.accuracy,
    }


def mean_of(rows: list[dict]) -> dict:
    out = {}
    for key in rows[0]:
        if isinstance(rows[0][key], dict):
            out[key] = mean_of([r[key] for r in rows])
        elif all(isinstance(r[key], (int, float)) for r in rows):
            out[key] = float(np.mean([r[key] for r in rows]))
        else:
            out[key] = None
    return out


def table(results: dict) -> str:
    lines = [
        "| student | reference | planted | recovery | teacher's prefix | own prefix | compounding |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results["students"].items():
        s = r["next_step"]
        ratio = "–" if r["compounding_ratio"] is None else f"{r['compounding_ratio']:.1f}×"
        lines.append(
            f"| {name} | {s['reference']:.1%} | {s['planted']:.1%} | {r['recovery']:.2f} "
            f"| {s['teacher']:.1%} | {s['own']:.1%} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--problems", type=int, default=1000)
    p.add_argument("--budget", type=float, default=1e12)
    args = p.parse_args()
    started = time.perf_counter()
    task, teacher, start, tokenizer = load_lab()
    per_racer = {racer: [] for racer in RACERS}
    for seed in range(args.seeds):
        config = CompareConfig(seeds=1, first_seed=seed, budget=args.budget, eval_n=128, eval_points=2,
                               greedy=False, snapshot_prompts=1)  # fmt: skip
        comparison = run_comparison(config, progress=True)
        for racer, student in comparison.students.items():
            per_racer[racer].append(measure(student, teacher, tokenizer, task, args.problems))
    results = {
        "seeds": args.seeds,
        "problems": args.problems,
        "budget": args.budget,
        "students": {
            "start": measure(start, teacher, tokenizer, task, args.problems),
            **{racer: mean_of(rows) for racer, rows in per_racer.items()},
        },
        "per_seed": per_racer,
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json_atomic(RESULTS / "recovery.json", results)
    write_text_atomic(RESULTS / "recovery.md", table(results))
    print(table(results))
