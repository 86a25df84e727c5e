"""What one method costs against another, under each accounting (notebook 08).

Which method is "cheaper" depends on what is counted. The post's own 9x / 18x / 30x differ exactly by that:
whether the teacher's work counts, and whether it is priced in FLOPs or GPU-hours. The accountings here
(``ACCOUNTINGS``):

    flops               teacher + student FLOPs: every FLOP charged (the post's compute table)
    student_flops       student FLOPs only: the teacher is free (already trained, scoring served elsewhere)
    post_sft_data_free  SFT by its student FLOPs alone (its teacher-written data is free), every other method
                        by teacher + student FLOPs
    seconds             wall seconds of the charged work on this machine
    episodes            sequences consumed (samples written, by the teacher or the student)

The post's 9x is ``post_sft_data_free``: SFT with its data free against OPD charged for the teacher's
scoring. It is not "student FLOPs only", as an earlier version of this module said. Only ``sft`` gets its data
free: GKD mixes teacher samples and its own within a run, and its ledger cannot split the two, so it pays for
the teacher like OPD.

A results curve (one method, one seed) holds lists of equal length, one entry per evaluation, index 0 the
start at cost 0: ``flops`` (= ``teacher_flops`` + ``student_flops``), ``student_flops``, ``teacher_flops``,
``seconds``, ``episodes``, ``accuracy``, ``greedy_accuracy``, and ``correct`` / ``greedy_correct``: the
per-problem 0/1 outcomes of each evaluation on the one fixed held-out set (the same problems, in the same
order, everywhere), packed by :func:`pack_correct`. A summary is
``{"methods": {name: {"curves": [curve per seed], ...}}}``.

A method's cost to reach an accuracy is interpolated between evaluations (:func:`curve_cost`), so ratios are
continuous rather than ratios of evaluation indices.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ACCOUNTINGS = {
    "flops": "teacher + student FLOPs: every FLOP charged (the post's compute table)",
    "student_flops": "student FLOPs only: the teacher is free (already trained, scoring served elsewhere)",
    "post_sft_data_free": "sft by its student FLOPs (its data free), the rest by teacher + student FLOPs",
    "seconds": "wall seconds of the charged work on this machine",
    "episodes": "sequences consumed (samples written, by the teacher or the student)",
}

DATA_FREE_METHODS = ("sft",)
"""methods that ``post_sft_data_free`` prices by their student FLOPs alone"""


def pack_correct(outcomes: Sequence[bool | int | float]) -> str:
    """Per-problem 0/1 outcomes as ``"<count>:<hex of the bits>"``: 1,000 problems in 255 characters."""
    bits = np.asarray(outcomes, dtype=float)
    if not np.isin(bits, (0.0, 1.0)).all():
        raise ValueError("outcomes must be 0/1")
    return f"{bits.size}:{np.packbits(bits.astype(bool)).tobytes().hex()}"


def unpack_correct(text: str, n: int | None = None) -> np.ndarray:
    """The outcomes :func:`pack_correct` packed, as a bool array ``[problems]``; ``n`` checks the count."""
    count, digits = text.split(":")
    if n is not None and int(count) != n:
        raise ValueError(f"packed outcomes hold {count} problems, expected {n}")
    return np.unpackbits(np.frombuffer(bytes.fromhex(digits), dtype=np.uint8), count=int(count)).astype(bool)


def axis(curve: dict, accounting: str, method: str | None = None) -> list[float]:
    """The cost of each evaluation of ``curve`` under ``accounting`` (``post_sft_data_free`` needs method)."""
    if accounting not in ACCOUNTINGS:
        raise ValueError(f"unknown accounting {accounting!r}; one of {list(ACCOUNTINGS)}")
    if accounting == "post_sft_data_free":
        if method is None:
            raise ValueError("post_sft_data_free prices each method its own way: pass method=")
        return curve["student_flops"] if method in DATA_FREE_METHODS else curve["flops"]
    return curve[accounting]


def crossing_costs(xs, accuracies, level: float) -> np.ndarray:
    """:func:`curve_cost` of many curves at once: ``xs``, ``accuracies`` ``[..., evaluations]`` (broadcast).

    Returns ``[...]``, +inf where a curve never reaches ``level``.
    """
    accuracies = np.asarray(accuracies, dtype=float)
    xs = np.broadcast_to(np.asarray(xs, dtype=float), accuracies.shape)
    reached = accuracies >= level
    first = reached.argmax(-1)[..., None]  # the first evaluation at or above the level
    lower = np.maximum(first - 1, 0)  # the last one below it (the start itself when first == 0)
    x0, x1 = (np.take_along_axis(xs, i, -1)[..., 0] for i in (lower, first))
    a0, a1 = (np.take_along_axis(accuracies, i, -1)[..., 0] for i in (lower, first))
    crossed = first[..., 0] > 0
    t = np.where(crossed, (level - a0) / np.where(crossed, a1 - a0, 1.0), 1.0)  # t = 1: the cost is x1 itself
    safe_x0 = np.where(x0 > 0, x0, 1.0)
    in_log_cost = safe_x0 * (np.maximum(x1, 0) / safe_x0) ** t
    in_cost = x0 + t * (x1 - x0)
    return np.where(reached.any(-1), np.where(x0 > 0, in_log_cost, in_cost), np.inf)


def curve_cost(xs: Sequence[float], accuracies: Sequence[float], level: float) -> float | None:
    """The cost at which one curve's accuracy first reaches ``level``, interpolated; None if it never does.

    Let k be the first evaluation with accuracy a_k >= level. If k = 0 the cost is x_0. Otherwise evaluations
    k-1 and k bracket the first crossing (a_{k-1} < level <= a_k), and with
    t = (level - a_{k-1}) / (a_k - a_{k-1}):

        cost = exp(log x_{k-1} + t (log x_k - log x_{k-1}))   if x_{k-1} > 0   (linear in log cost)
        cost = x_{k-1} + t (x_k - x_{k-1})                     if x_{k-1} = 0   (linear in cost)

    Evaluations are spaced evenly in log cost, hence the first rule; the start sits at cost 0, where log cost
    is -inf, so the interval from the start is linear.
    """
    cost = float(crossing_costs(xs, accuracies, level))
    return None if np.isinf(cost) else cost


def seed_costs(
    entry: dict, accounting: str, level: float, method: str | None = None, key: str = "accuracy"
) -> list[float | None]:
    """:func:`curve_cost` of each seed's curve in ``entry`` (None for a seed that never reached ``level``)."""
    return [curve_cost(axis(c, accounting, method), c[key], level) for c in entry["curves"]]


def cost_to_reach(
    entry: dict, accounting: str, level: float, method: str | None = None, key: str = "accuracy"
) -> float | None:
    """Median over seeds of :func:`curve_cost` (None if any seed never reached ``level``)."""
    costs = seed_costs(entry, accounting, level, method, key)
    return None if any(c is None for c in costs) else float(np.median(costs))


def common_level(summary: dict, key: str = "accuracy") -> float:
    """The highest accuracy every seed of every method reached by the end: a level all can be priced at."""
    return min(min(c[key][-1] for c in e["curves"]) for e in summary["methods"].values())


def pair_level(summary: dict, method: str, baseline: str = "opd", key: str = "accuracy") -> float:
    """The highest accuracy every seed of ``method`` and ``baseline`` reached: where the two can be priced."""
    return common_level({"methods": {m: summary["methods"][m] for m in (method, baseline)}}, key)


def start_accuracy(summary: dict, methods: Sequence[str], key: str = "accuracy") -> float:
    """The highest start accuracy of ``methods``' seeds: a level at or below it costs nothing to reach."""
    return max(c[key][0] for m in methods for c in summary["methods"][m]["curves"])


def point_ratio(
    summary: dict, accounting: str, method: str, baseline: str, level: float, key: str = "accuracy"
) -> float | None:
    """``cost_to_reach(method) / cost_to_reach(baseline)`` at ``level``: > 1 means the baseline is cheaper."""
    mine = cost_to_reach(summary["methods"][method], accounting, level, method, key)
    base = cost_to_reach(summary["methods"][baseline], accounting, level, baseline, key)
    return None if (mine is None or not base) else mine / base


def cost_ratios(summary: dict, baseline: str = "opd", level: float | None = None) -> dict:
    """``{accounting: {method: cost / cost(baseline)}}`` at one level (default :func:`common_level`)."""
    level = common_level(summary) if level is None else level
    methods = summary["methods"]
    return {"level": level} | {
        a: {m: point_ratio(summary, a, m, baseline, level) for m in methods} for a in ACCOUNTINGS
    }


def ratio_range(
    summary: dict, accounting: str, method: str, baseline: str = "opd", level: float | None = None
) -> tuple[float, float] | None:
    """The lowest and highest ``cost(method) / cost(baseline)`` over every pair of seeds; None if a seed never
    reached the level. Seeds only: :func:`bootstrap_ratio` also counts the noise of a finite held-out set."""
    level = common_level(summary) if level is None else level
    mine = seed_costs(summary["methods"][method], accounting, level, method)
    base = seed_costs(summary["methods"][baseline], accounting, level, baseline)
    if None in mine or None in base or not all(base):
        return None
    pairs = [m / b for m in mine for b in base]
    return min(pairs), max(pairs)


def pair_ratio(summary: dict, accounting: str, method: str, baseline: str = "opd") -> dict:
    """``cost(method) / cost(baseline)`` at their :func:`pair_level`, with the seed-pair range.

    A third method that never improved does not drag the level down to the start. ``ratio`` is None when the
    level is no higher than the start accuracy (one of the two never improved) or a seed never reached it.
    """
    level = pair_level(summary, method, baseline)
    if level <= start_accuracy(summary, (method, baseline)):
        return {"level": level, "ratio": None, "range": None}
    return {
        "level": level,
        "ratio": point_ratio(summary, accounting, method, baseline, level),
        "range": ratio_range(summary, accounting, method, baseline, level),
    }
