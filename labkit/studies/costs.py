"""Cost ratios between methods under different accountings (notebook 08).

Which method is "cheaper" depends on what is counted. The post's own 9x / 18x / 30x differ exactly by that: whether the
teacher's work counts, and whether it is priced in FLOPs or GPU-hours. Here the accountings are:

    flops          teacher + student FLOPs (the post's compute table)
    student_flops  student FLOPs only (the teacher is free: already trained and served)
    seconds        wall seconds of the charged work on this machine (scoring is one parallel pass, sampling is sequential)
    episodes       sequences consumed (samples written, by the teacher or the student)
"""

from __future__ import annotations

from statistics import median

ACCOUNTINGS = ("flops", "student_flops", "seconds", "episodes")


def _axis(curve: dict, accounting: str) -> list[float]:
    if accounting != "student_flops":
        return curve[accounting]
    if "student_flops_curve" in curve:
        return curve["student_flops_curve"]
    share = curve["student_flops"] / max(
        1.0, curve["flops"][-1]
    )  # older results: pro-rate (each step costs alike)
    return [x * share for x in curve["flops"]]


def common_level(summary: dict) -> float:
    """The highest accuracy every seed of every method reached by the end: a level all can be priced at."""
    return min(min(c["accuracy"][-1] for c in e["curves"]) for e in summary["methods"].values())


def cost_to_reach(entry: dict, accounting: str, level: float) -> float | None:
    """Median over seeds of the cost at which held-out accuracy first reached ``level`` (None if a seed never did)."""
    costs = []
    for curve in entry["curves"]:
        hit = next((x for x, a in zip(_axis(curve, accounting), curve["accuracy"]) if a >= level), None)
        if hit is None:
            return None
        costs.append(hit)
    return median(costs)


def cost_ratios(summary: dict, baseline: str = "opd", level: float | None = None) -> dict:
    """``{accounting: {method: cost(method) / cost(baseline)}}`` at one accuracy level: > 1 means the baseline is cheaper."""
    level = common_level(summary) if level is None else level
    out = {"level": level}
    for accounting in ACCOUNTINGS:
        base = cost_to_reach(summary["methods"][baseline], accounting, level)
        ratios = {}
        for method, entry in summary["methods"].items():
            cost = cost_to_reach(entry, accounting, level)
            ratios[method] = None if (cost is None or not base) else cost / base
        out[accounting] = ratios
    return out


def _seed_costs(entry: dict, accounting: str, level: float) -> list[float] | None:
    costs = [cost_to_reach({"curves": [curve]}, accounting, level) for curve in entry["curves"]]
    return None if any(c is None for c in costs) else costs


def ratio_range(
    summary: dict, accounting: str, method: str, baseline: str = "opd", level: float | None = None
) -> tuple[float, float] | None:
    """The lowest and highest ``cost(method) / cost(baseline)`` over every pair of seeds: how far 3 seeds pin a ratio.

    The median ratio of :func:`cost_ratios` can move a lot between two honest runs of the same experiment; this range
    shows by how much. None if some seed never reached the level.
    """
    level = common_level(summary) if level is None else level
    mine = _seed_costs(summary["methods"][method], accounting, level)
    base = _seed_costs(summary["methods"][baseline], accounting, level)
    if mine is None or base is None or not all(base):
        return None
    pairs = [m / b for m in mine for b in base]
    return min(pairs), max(pairs)


def pair_level(summary: dict, method: str, baseline: str = "opd") -> float:
    """The highest accuracy every seed of ``method`` and of ``baseline`` reached: where the two can be priced."""
    return common_level({"methods": {m: summary["methods"][m] for m in (method, baseline)}})


def pair_ratio(summary: dict, accounting: str, method: str, baseline: str = "opd") -> dict:
    """``cost(method) / cost(baseline)`` at their :func:`pair_level`, with the seed-pair range.

    A third method that never improved no longer drags the level down to the start. ``ratio`` is None when the level
    is no higher than the start accuracy (one of the two never improved) or a seed never reached it.
    """
    level = pair_level(summary, method, baseline)
    start = max(c["accuracy"][0] for m in (method, baseline) for c in summary["methods"][m]["curves"])
    if level <= start:
        return {"level": level, "ratio": None, "range": None}
    mine = cost_to_reach(summary["methods"][method], accounting, level)
    base = cost_to_reach(summary["methods"][baseline], accounting, level)
    return {
        "level": level,
        "ratio": None if (mine is None or not base) else mine / base,
        "range": ratio_range(summary, accounting, method, baseline, level),
    }
