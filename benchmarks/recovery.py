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
benchmarks/results/recovery.json and recovery.md (the table docs/results.md shows).
"""

import argparse
import time
from pathlib import Path

import numpy as np

from labkit.checkpoint import write_json_atomic, write_text_atomic
from labkit.evaluate import evaluate
from labkit.studies.compare import RACERS, CompareConfig, run_comparison
from labkit.studies.drift import MISTAKE_KINDS, error_compounding, sampled_compounding
from labkit.studies.recovery import PREFIX_KINDS, carry_flip_recovery, next_step_accuracy
from labkit.views.notebook import load_lab

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PROBLEM_SEED = 77  # held-out problems of the measurement (fixed across students)
MATCHED_SAMPLES = 8  # completions per problem for the difficulty-matched compounding


def measure(student, teacher, tokenizer, task, n: int) -> dict:
    """Per-problem next-step outcomes by prefix kind, and compounding on own rollouts, for one student."""
    steps = next_step_accuracy(student, teacher, tokenizer, task, n=n, seed=PROBLEM_SEED)
    rollouts = evaluate(student, tokenizer, task, n=n, temperature=1.0, seed=PROBLEM_SEED)
    c = error_compounding(rollouts.problems, rollouts.completions, task.digits)
    m = sampled_compounding(
        student, tokenizer, task, rollouts.problems[: n // 2], MATCHED_SAMPLES, seed=PROBLEM_SEED + 1
    )
    flip = carry_flip_recovery(student, tokenizer, task, n=n, seed=PROBLEM_SEED)
    return {
        "carry_flip": {k: [int(x) for x in v] for k, v in vars(flip).items()},
        "matched": {"all": [m.observed, m.expected], **{k: list(v) for k, v in m.by_kind.items()}},
        "carry_read": m.carry_read,
        "carry_recomputed": m.carry_recomputed,
        "outcomes": {k: [int(x) for x in v] for k, v in steps.outcomes.items()},
        "clean_error_rate": c.clean_error_rate,
        "after_error_rate": c.after_error_rate,
        "accuracy": rollouts.accuracy,
    }


def _matched(runs: list[dict], part: str, n_boot: int = 1000) -> dict:
    """The difficulty-matched compounding ratio of ``part`` ("all" or one of ``MISTAKE_KINDS``) pooled over
    seeds, with a 95% interval from resampling seeds and, within each, problems; the after-mistake steps'
    error count beside it."""
    rng = np.random.default_rng(1)
    pairs = [np.asarray(r["matched"][part]) for r in runs]  # each [2, problems]: observed, expected
    boot = []
    for _ in range(n_boot):
        observed = expected = 0.0
        for i in rng.integers(0, len(pairs), len(pairs)):
            index = rng.integers(0, pairs[i].shape[1], pairs[i].shape[1])
            observed += pairs[i][0, index].sum()
            expected += pairs[i][1, index].sum()
        boot.append(observed / expected if expected > 0 else np.nan)
    observed = float(sum(pair[0].sum() for pair in pairs))
    expected = float(sum(pair[1].sum() for pair in pairs))
    return {
        "ratio": observed / expected if expected > 0 else None,
        "ci": [float(x) for x in np.nanpercentile(boot, [2.5, 97.5])],
        "errors": observed,
        "expected_errors": expected,
    }


def _paired_ratio(
    runs: list[dict], field: str, top: str, bottom: str, n_boot: int = 1000, seed: int = 2
) -> dict:
    """mean(top) / mean(bottom) of per-problem 0/1 outcomes ``run[field][...]`` pooled over seeds, with a 95%
    interval from resampling seeds and, within each, problems (paired: one index for both)."""
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        pooled = {top: [], bottom: []}
        for i in rng.integers(0, len(runs), len(runs)):
            outcomes = runs[i][field]
            index = rng.integers(0, len(outcomes[bottom]), len(outcomes[bottom]))
            for k in pooled:
                pooled[k] += [outcomes[k][j] for j in index]
        below = np.mean(pooled[bottom])
        boot.append(np.mean(pooled[top]) / below if below > 0 else np.nan)
    rates = {k: float(np.mean([x for r in runs for x in r[field][k]])) for k in runs[0][field]}
    return {
        "rates": rates,
        "problems": int(np.mean([len(r[field][bottom]) for r in runs])),
        "ratio": rates[top] / rates[bottom] if rates[bottom] > 0 else None,
        "ci": [float(x) for x in np.nanpercentile(boot, [2.5, 97.5])],
    }


def summarize_student(runs: list[dict], n_boot: int = 1000) -> dict:
    """Rates pooled over seeds, recovery = planted / own as a ratio of pooled rates, and 95% intervals from
    resampling seeds and, within each, problems."""
    recovery = _paired_ratio(runs, "outcomes", "planted", "own", n_boot, seed=0)
    rates = {k: recovery["rates"][k] for k in PREFIX_KINDS}
    clean = float(np.mean([r["clean_error_rate"] for r in runs]))
    after = float(np.mean([r["after_error_rate"] for r in runs]))
    read = sum(r["carry_read"] for r in runs)
    recomputed = sum(r["carry_recomputed"] for r in runs)
    return {
        "next_step": rates,
        "problems": recovery["problems"],
        "recovery": recovery["ratio"],
        "recovery_ci": recovery["ci"],
        "clean_error_rate": clean,
        "after_error_rate": after,
        "compounding_ratio": after / clean if clean > 0 else None,
        "matched_compounding": {part: _matched(runs, part) for part in ("all", *MISTAKE_KINDS)},
        "carry_flip": _paired_ratio(runs, "carry_flip", "flipped", "own"),
        "carry_read": read,
        "carry_recomputed": recomputed,
        "accuracy": float(np.mean([r["accuracy"] for r in runs])),
    }


def _ratio_cell(entry: dict) -> str:
    low, high = entry["ci"]
    return "–" if entry["ratio"] is None else f"{entry['ratio']:.2f}× ({low:.2f}–{high:.2f})"


def _in_order(students: dict) -> list[tuple[str, dict]]:
    """The start, then the racers in race order (the JSON is written with sorted keys)."""
    return [(name, students[name]) for name in ("start", *RACERS) if name in students]


def table(results: dict) -> str:
    lines = [
        "| student | accuracy | problems | own prefix | planted | recovery (95%) | teacher's prefix "
        "| reference | compounding, raw | matched for difficulty (95%) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in _in_order(results["students"]):
        s, (low, high) = r["next_step"], r["recovery_ci"]
        ratio = "–" if r["compounding_ratio"] is None else f"{r['compounding_ratio']:.1f}×"
        recovery = "–" if r["recovery"] is None else f"{r['recovery']:.2f} ({low:.2f}–{high:.2f})"
        lines.append(
            f"| {name} | {r['accuracy']:.1%} | {r['problems']} | {s['own']:.1%} | {s['planted']:.1%} "
            f"| {recovery} | {s['teacher']:.1%} | {s['reference']:.1%} | {ratio} "
            f"| {_ratio_cell(r['matched_compounding']['all'])} |"
        )
    lines += [
        "",
        "| student | "
        + " | ".join(f"after a first mistake: {k}" for k in MISTAKE_KINDS)
        + " | after a carry flip, the next step takes the carry as written |",
        "|---" * (2 + len(MISTAKE_KINDS)) + "|",
    ]
    for name, r in _in_order(results["students"]):
        parts = [r["matched_compounding"][k] for k in MISTAKE_KINDS]
        cells = [f"{_ratio_cell(p)}, {p['errors']:.0f} errors" for p in parts]
        total = r["carry_read"] + r["carry_recomputed"]
        read = f"{r['carry_read'] / total:.0%} of {total}" if total else "–"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {read} |")
    lines += [
        "",
        "| student | problems | next step right after its own prefix | after the same prefix, carry dropped "
        "| ratio (95%) | takes the carry as written (0) | takes the true carry (1) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in _in_order(results["students"]):
        f = r["carry_flip"]
        rates, (low, high) = f["rates"], f["ci"]
        ratio = "–" if f["ratio"] is None else f"{f['ratio']:.2f} ({low:.2f}–{high:.2f})"
        lines.append(
            f"| {name} | {f['problems']} | {rates['own']:.1%} | {rates['flipped']:.1%} | {ratio} "
            f"| {rates['takes_written']:.1%} | {rates['takes_true']:.1%} |"
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
            "start": summarize_student([measure(start, teacher, tokenizer, task, args.problems)]),
            **{racer: summarize_student(rows) for racer, rows in per_racer.items()},
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json_atomic(RESULTS / "recovery.json", results)
    write_text_atomic(RESULTS / "recovery.md", table(results))
    print(table(results))
