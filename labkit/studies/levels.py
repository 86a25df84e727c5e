"""Prices near the teacher, and whether a price depends on the budget it was measured under.

Every headline run decays its learning rate (cosine) over its own FLOP budget, so a racer that crosses a
level late crosses it at a decayed rate: a cost-to-level read off a 1e12 race could differ from one read off
a longer race. benchmarks/near_teacher.py races the ladder and RL on a longer budget until one of them
reaches 90% of the teacher; :func:`budget_agreement` prices the same pairs at the same levels under both
budgets (same seeds), so a reader sees whether the headline's prices are a property of its budget.
"""

from __future__ import annotations

import numpy as np

from .costs import cost_to_reach, pair_ratio

NEAR_RACERS = ("rl", "opd", "opd-topk", "opd-exact")
AGREEMENT_PAIRS = (("opd-exact", "rl"), ("opd-topk", "rl"), ("opd", "rl"), ("opd-exact", "opd"))


def seeds_of(summary: dict, seeds: int) -> dict:
    """``summary`` with only each racer's first ``seeds`` curves (to compare like with like)."""
    methods = {m: {**e, "curves": e["curves"][:seeds]} for m, e in summary["methods"].items()}
    return {**summary, "methods": methods}


def budget_agreement(short: dict, long: dict, pairs=AGREEMENT_PAIRS, accountings=("flops", "episodes")):
    """Each pair priced at the short race's pair level under both budgets, on the seeds both ran (the short
    race's first seeds only, so its level is recomputed on them): the ``short`` and ``long`` ratios with their
    intervals, and whether the two intervals overlap. Overlap is weak evidence of agreement (the same seeds
    and problems in both); the two point ratios are what to compare."""
    if short["config"].get("first_seed", 0) != long["config"].get("first_seed", 0):
        raise ValueError("the two races ran different seeds; budget_agreement compares the same seeds")
    seeds = min(len(e["curves"]) for e in long["methods"].values())
    short = seeds_of(short, seeds)
    rows = []
    for method, baseline in pairs:
        if not all(m in s["methods"] for m in (method, baseline) for s in (short, long)):
            continue
        for accounting in accountings:
            first = pair_ratio(short, accounting, method, baseline)
            second = pair_ratio(long, accounting, method, baseline, level=first["level"])
            overlap = None
            if first["ci"] is not None and second["ci"] is not None:
                overlap = bool(first["ci"][0] <= second["ci"][1] and second["ci"][0] <= first["ci"][1])
            row = {"method": method, "baseline": baseline, "accounting": accounting}
            rows.append({**row, "level": first["level"], "short": first, "long": second, "overlap": overlap})
    return rows


def first_to(summary: dict, level: float) -> dict:
    """Per racer, the median FLOPs and episodes to ``level`` (None where a seed never reached it)."""
    return {
        m: {a: cost_to_reach(e, a, level, m) for a in ("flops", "episodes")}
        for m, e in summary["methods"].items()
    }


def final_accuracies(summary: dict) -> dict:
    """Per racer, the mean over seeds of the last evaluation's sampled accuracy."""
    return {
        m: float(np.mean([c["accuracy"][-1] for c in e["curves"]])) for m, e in summary["methods"].items()
    }


def near_teacher_entry(summary: dict, fraction: float = 0.9) -> dict:
    """The race's level at ``fraction`` of the teacher, each racer's cost to it and final accuracy."""
    level = fraction * summary["teacher_accuracy"]
    return {"level": level, "costs": first_to(summary, level), "final_accuracy": final_accuracies(summary)}


def priced_beside(headline: dict, summary: dict, name: str, earlier: dict) -> list[dict]:
    """Each pair of ``budget_agreement(headline, summary)`` as one row: the pair and its level, this race's
    price under ``name``, and under each key of ``earlier`` the price a committed list of rows gives the pair
    (``{key: (rows, field)}``; None where those rows lack the pair). The controls of the near-teacher race
    (benchmarks/schedule_control.py, equal_rate.py) set their prices beside the ones they control for."""
    lookups = {
        key: ({(r["method"], r["baseline"], r["accounting"]): r for r in rows}, field)
        for key, (rows, field) in earlier.items()
    }
    priced = []
    for row in budget_agreement(headline, summary):
        pair = (row["method"], row["baseline"], row["accounting"])
        entry = {k: row[k] for k in ("method", "baseline", "accounting", "level")}
        for key, (lookup, field) in lookups.items():
            entry[key] = lookup[pair][field] if pair in lookup else None
        priced.append({**entry, name: row["long"]})
    return priced
