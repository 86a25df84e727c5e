"""Recovery from a planted mistake over every racer and seed, pooled with bootstrap intervals.

benchmarks/recovery.py writes it to benchmarks/results/recovery.json; notebook 05 and docs/results.md quote
it. Each racer is trained as in the headline, once per seed; each trained student, and the start, is
measured on the same held-out problems (``measure_student``): the next step after four kinds of prefix
(labkit.studies.recovery), compounding on its own rollouts, raw and matched for difficulty
(labkit.studies.drift), and the carry flip. ``summarize_student`` pools a student's seeds: rates, recovery
= planted / own, and 95% intervals from resampling seeds and, within each, problems.
"""

from __future__ import annotations

import numpy as np

from ..evaluate import evaluate
from .compare import HEADLINE, CompareConfig, run_comparison
from .drift import MISTAKE_KINDS, error_compounding, sampled_compounding
from .recovery import PREFIX_KINDS, carry_flip_recovery, next_step_accuracy

PROBLEM_SEED = 77  # held-out problems of the measurement (fixed across students)
MATCHED_SAMPLES = 8  # completions per problem for the difficulty-matched compounding


def measure_student(student, teacher, tokenizer, task, n: int) -> dict:
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


def run_recovery(task, teacher, start, tokenizer, seeds: int, problems: int, budget: float) -> dict:
    """Every racer trained ``seeds`` times from ``start`` (the headline's tuned settings, ``budget`` FLOPs;
    evaluations thinned, since only the final student is used), each measured on ``problems`` held-out
    problems, then the start; each student's seeds summarised. recovery.json, less the seconds it took."""
    per_racer = {racer: [] for racer in HEADLINE}
    for seed in range(seeds):
        config = CompareConfig(seeds=1, first_seed=seed, budget=budget, eval_n=128, eval_points=2,
                               greedy=False, snapshot_prompts=1)  # fmt: skip
        comparison = run_comparison(config, progress=True)
        for racer, student in comparison.students.items():
            per_racer[racer].append(measure_student(student, teacher, tokenizer, task, problems))
    return {
        "seeds": seeds,
        "problems": problems,
        "budget": budget,
        "students": {
            "start": summarize_student([measure_student(start, teacher, tokenizer, task, problems)]),
            **{racer: summarize_student(rows) for racer, rows in per_racer.items()},
        },
    }
