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
continuous rather than ratios of evaluation indices. Their 95% intervals (:func:`bootstrap_ratio`) resample
both the seeds and the held-out problems, and a method is called cheaper (:func:`verdict`) only when the
interval excludes 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..evaluate import pack_correct, unpack_correct  # noqa: F401 (part of this module's API)

ACCOUNTINGS = {
    "flops": "teacher + student FLOPs: every FLOP charged (the post's compute table)",
    "student_flops": "student FLOPs only: the teacher is free (already trained, scoring served elsewhere)",
    "post_sft_data_free": "sft by its student FLOPs (its data free), the rest by teacher + student FLOPs",
    "seconds": "wall seconds of the charged work on this machine",
    "episodes": "sequences consumed (samples written, by the teacher or the student)",
}

STUDY_ACCOUNTINGS = ("post_9x", "post_30x")
"""accountings a study writes into its own curves (labkit.studies.plateau: the post's 9x and 30x)"""

DATA_FREE_METHODS = ("sft",)
"""methods that ``post_sft_data_free`` prices by their student FLOPs alone"""


CORRECT_KEYS = {"accuracy": "correct", "greedy_accuracy": "greedy_correct"}
"""where each curve keeps the packed per-problem outcomes behind each accuracy"""


def axis(curve: dict, accounting: str, method: str | None = None) -> list[float]:
    """The cost of each evaluation of ``curve`` under ``accounting`` (``post_sft_data_free`` needs method)."""
    if accounting in STUDY_ACCOUNTINGS and accounting in curve:  # a study's own (labkit.studies.plateau)
        return curve[accounting]
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
    accuracies, xs = np.asarray(accuracies, dtype=float), np.asarray(xs, dtype=float)
    if xs.shape[-1:] != accuracies.shape[-1:]:  # e.g. a final scalar where a per-evaluation list belongs
        raise ValueError(f"one cost per evaluation needed: costs {xs.shape}, accuracies {accuracies.shape}")
    xs = np.broadcast_to(xs, accuracies.shape)
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


LEVEL_FRACTION = 0.9
"""Pairs are priced this fraction of the way from the start to the highest accuracy every seed of both
reached. At the very top, the worst seed crosses only at its last evaluation, and resampled problems move
that evaluation by a point or two: many bootstrap replicates then miss the level and the interval
degenerates. 90% of the gain keeps every replicate pricing a real crossing."""


def pair_level(
    summary: dict, method: str, baseline: str = "opd", key: str = "accuracy", fraction: float = LEVEL_FRACTION
) -> float:
    """Where ``method`` and ``baseline`` are priced: ``fraction`` of the way from their start to the highest
    accuracy every seed of both reached (that top itself when it is no higher than the start)."""
    top = common_level({"methods": {m: summary["methods"][m] for m in (method, baseline)}}, key)
    start = start_accuracy(summary, (method, baseline), key)
    return top if top <= start else start + fraction * (top - start)


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


def ratio_range(
    summary: dict,
    accounting: str,
    method: str,
    baseline: str = "opd",
    level: float | None = None,
    key: str = "accuracy",
) -> tuple[float, float] | None:
    """The lowest and highest ``cost(method) / cost(baseline)`` over every pair of seeds; None if a seed never
    reached the level. Seeds only: :func:`bootstrap_ratio` also counts the noise of a finite held-out set."""
    level = common_level(summary, key) if level is None else level
    mine = seed_costs(summary["methods"][method], accounting, level, method, key)
    base = seed_costs(summary["methods"][baseline], accounting, level, baseline, key)
    if None in mine or None in base or not all(base):
        return None
    pairs = [m / b for m in mine for b in base]
    return min(pairs), max(pairs)


def _stack_runs(runs: list[np.ndarray]) -> np.ndarray:
    """Per-run arrays ``[evaluations, ...]`` as one ``[runs, most evaluations, ...]``.

    A shorter run repeats its last evaluation, which moves no first crossing.
    """
    longest = max(len(run) for run in runs)
    return np.stack([np.concatenate([run, np.repeat(run[-1:], longest - len(run), axis=0)]) for run in runs])


def problem_weights(rng: np.random.Generator, n_problems: int, n_boot: int) -> np.ndarray:
    """``[n_boot, n_problems]``: how often each held-out problem is drawn when resampled with replacement."""
    draws = rng.integers(0, n_problems, (n_boot, n_problems)) + n_problems * np.arange(n_boot)[:, None]
    counts = np.bincount(draws.ravel(), minlength=n_boot * n_problems)
    return counts.reshape(n_boot, n_problems).astype(float)


def _outcomes(curves: list[dict], key: str) -> np.ndarray:
    """``[seeds, evaluations, problems]``: the 0/1 outcomes behind ``curve[key]``, unpacked."""
    packed = CORRECT_KEYS[key]
    return _stack_runs([np.stack([unpack_correct(t) for t in c[packed]]) for c in curves]).astype(float)


def resampled_costs(
    entry: dict, method: str, accounting: str, level: float, weights: np.ndarray, rng, key: str
) -> np.ndarray:
    """``[n_boot]``: per replicate, the median over resampled seeds of the cost to reach ``level`` (+inf if
    the median seed never does), every accuracy recomputed on the replicate's problems (``weights`` rows)."""
    outcomes = _outcomes(entry["curves"], key)  # [seeds, evaluations, problems]
    seeds, evaluations, n_problems = outcomes.shape
    xs = _stack_runs([np.asarray(axis(c, accounting, method), dtype=float) for c in entry["curves"]])
    solved = weights @ outcomes.reshape(-1, n_problems).T  # [boot, seeds * evaluations]
    accuracies = solved.reshape(-1, seeds, evaluations) / n_problems
    costs = crossing_costs(xs, accuracies, level)  # [boot, seeds]
    picks = rng.integers(0, seeds, costs.shape)  # the seeds, resampled with replacement
    return np.median(np.take_along_axis(costs, picks, 1), axis=1)


def bootstrap_ratio(
    summary: dict,
    method: str,
    baseline: str,
    accounting: str,
    level: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    key: str = "accuracy",
) -> dict:
    """``cost(method) / cost(baseline)`` at ``level``, with a 95% bootstrap interval.

    ``ratio`` is the median over seeds of the method's :func:`curve_cost` over the baseline's, from the data
    as is. Each of ``n_boot`` replicates resamples, with replacement,

      - the held-out problems: one resample of problem indices per replicate, shared by every evaluation of
        every run of both methods (all evaluate the same problems); each accuracy is recomputed from the
        ``correct`` outcomes (``greedy_correct`` for ``key="greedy_accuracy"``);
      - each method's seeds, independently;

    prices every resampled curve by :func:`curve_cost` and takes the ratio of the two medians. A method whose
    median never reaches the level costs +inf (the ratio is inf or 0); a replicate with inf/inf or 0/0 has no
    ratio and is dropped.

        ci       [2.5th, 97.5th] percentiles of the kept ratios, the order statistics at or just outside them
                 (None when fewer than half the replicates are kept)
        reached  the fraction of replicates in which both methods' medians reached the level
        kept     the fraction of replicates with a ratio

    ``level`` defaults to :func:`pair_level`; a level no higher than the start accuracy is refused (ratio, ci
    None).
    """
    level = pair_level(summary, method, baseline, key) if level is None else level
    result = {"level": level, "ratio": None, "ci": None, "reached": None, "kept": None, "n_boot": n_boot}
    if level <= start_accuracy(summary, (method, baseline), key):
        return result
    result["ratio"] = point_ratio(summary, accounting, method, baseline, level, key)
    rng = np.random.default_rng(seed)
    n_problems = unpack_correct(summary["methods"][method]["curves"][0][CORRECT_KEYS[key]][0]).size
    weights = problem_weights(rng, n_problems, n_boot)
    mine, base = (
        resampled_costs(summary["methods"][m], m, accounting, level, weights, rng, key)
        for m in (method, baseline)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = mine / base
    result["reached"] = float(np.mean(np.isfinite(mine) & np.isfinite(base)))
    result["kept"] = float(np.mean(~np.isnan(ratios)))
    result["ci"] = ratio_interval(ratios)
    return result


def ratio_interval(ratios: np.ndarray) -> list[float] | None:
    """The 95% interval of bootstrap ``ratios`` (``nan`` marks a replicate with no ratio: dropped): the
    [2.5th, 97.5th] percentiles of the kept ones, the order statistics at or just outside them; None when
    fewer than half the replicates are kept."""
    kept = ratios[~np.isnan(ratios)]
    if kept.size < ratios.size / 2:
        return None
    low, high = np.percentile(kept, 2.5, method="lower"), np.percentile(kept, 97.5, method="higher")
    return [float(low), float(high)]


def bootstrap_accuracy(curves: list[dict], key: str = "accuracy", n_boot: int = 1000, seed: int = 0) -> dict:
    """Final accuracy, the mean over seeds of each run's last evaluation, with a 95% bootstrap interval.

    ``mean`` is from the data as is; each replicate resamples the held-out problems (one resample shared by
    every run) and the seeds, both with replacement, as :func:`bootstrap_ratio` does. ``ci``: [2.5th, 97.5th]
    percentiles.
    """
    finals = np.stack([unpack_correct(c[CORRECT_KEYS[key]][-1]) for c in curves])  # [seeds, problems]
    rng = np.random.default_rng(seed)
    solved = problem_weights(rng, finals.shape[1], n_boot) @ finals.T.astype(float)  # [boot, seeds]
    accuracies = solved / finals.shape[1]
    picks = rng.integers(0, len(curves), accuracies.shape)
    means = np.take_along_axis(accuracies, picks, 1).mean(1)
    return {
        "mean": float(np.mean([c[key][-1] for c in curves])),
        "ci": [float(x) for x in np.percentile(means, [2.5, 97.5])],
        "n_boot": n_boot,
    }


METRICS = {"sampled": "accuracy", "greedy": "greedy_accuracy"}
"""what a ratio is priced on: sampled accuracy (T=1: how often the student's own sample is right, what
on-policy training sees) or greedy accuracy (the most likely answer, how a deployed model is often read)"""


def pair_ratio(
    summary: dict,
    accounting: str,
    method: str,
    baseline: str = "opd",
    n_boot: int = 1000,
    seed: int = 0,
    key: str = "accuracy",
    level: float | None = None,
) -> dict:
    """``cost(method) / cost(baseline)`` at their :func:`pair_level` (or at ``level``), with the seed-pair
    range and, when every curve carries its per-problem outcomes, the bootstrap ``ci`` and ``reached`` of
    :func:`bootstrap_ratio`. ``key`` picks the metric: ``"accuracy"`` (sampled) or ``"greedy_accuracy"``.

    A third method that never improved does not drag the level down to the start. ``ratio`` is None when the
    level is no higher than the start accuracy (one of the two never improved) or a seed never reached it.
    """
    level = pair_level(summary, method, baseline, key) if level is None else level
    priced = {"level": level, "ratio": None, "range": None, "ci": None, "reached": None}
    if level <= start_accuracy(summary, (method, baseline), key):
        return priced
    priced["ratio"] = point_ratio(summary, accounting, method, baseline, level, key)
    priced["range"] = ratio_range(summary, accounting, method, baseline, level, key)
    packed = CORRECT_KEYS[key]
    if all(packed in c for m in (method, baseline) for c in summary["methods"][m]["curves"]):
        boot = bootstrap_ratio(summary, method, baseline, accounting, level, n_boot, seed, key)
        priced |= {"ci": boot["ci"], "reached": boot["reached"]}
    return priced


TEACHER_KEYS = {"sampled": "teacher_accuracy", "greedy": "teacher_greedy_accuracy"}
"""where a summary keeps the teacher's accuracy on each metric"""


def rows_against(rows: list[dict], baseline: str = "opd", metric: str = "sampled") -> list[dict]:
    """The priced rows of one baseline and one metric (rows written before metrics were recorded are
    sampled)."""
    return [r for r in rows if r.get("baseline", "opd") == baseline and r.get("metric", "sampled") == metric]


LEVEL_FRACTIONS = tuple(round(0.30 + 0.05 * i, 2) for i in range(14))
"""Where level curves price a pair: 30%, 35%, ..., 95% of the way from the start to the teacher."""


def level_curve(
    summary: dict,
    method: str,
    baseline: str,
    accounting: str,
    metric: str = "sampled",
    fractions=LEVEL_FRACTIONS,
    n_boot: int = 500,
) -> dict:
    """``cost(method) / cost(baseline)`` at each level ``start + f (teacher - start)`` (``f`` in
    ``fractions``), with 95% bootstrap intervals; ratio and interval None at a level some seed of either
    never reached.

    A ratio that changes along the curve is a verdict that depends on the level: one priced at a single level
    on a budget where nothing has plateaued is a finding about that level only. The teacher's accuracy is
    the summary's ``teacher_accuracy`` (sampled) or ``teacher_greedy_accuracy`` (greedy).
    """
    key = METRICS[metric]
    teacher = summary[TEACHER_KEYS[metric]]
    start = start_accuracy(summary, (method, baseline), key)
    levels = [start + f * (teacher - start) for f in fractions]
    ratios, cis = [], []
    for level in levels:
        if point_ratio(summary, accounting, method, baseline, level, key) is None:
            ratios.append(None)
            cis.append(None)
            continue
        boot = bootstrap_ratio(summary, method, baseline, accounting, level, n_boot, 0, key)
        ratios.append(boot["ratio"])
        cis.append(boot["ci"])
    return {"method": method, "baseline": baseline, "accounting": accounting, "metric": metric,
            "fractions": list(fractions), "levels": levels, "ratios": ratios, "ci": cis}  # fmt: skip


def excludes_one(ci: Sequence[float] | None) -> bool:
    """Whether an interval lies wholly above or wholly below 1 (no interval: no)."""
    return ci is not None and (ci[0] > 1 or ci[1] < 1)


def describe_ratio(result: dict) -> str:
    """A :func:`bootstrap_ratio` result as tables print it: ``"1.23× (0.91–1.60)"``, ``"–"`` for no ratio."""
    ratio, ci = result["ratio"], result["ci"]
    text = "–" if ratio is None else f"{ratio:.2f}×"
    if ci is None:
        return text if ratio is None else f"{text} (no interval)"
    return f"{text} ({ci[0]:.2f}–{ci[1]:.2f})"


def verdict(result: dict, method: str, baseline: str) -> str:
    """The words for a :func:`bootstrap_ratio` of ``cost(method) / cost(baseline)``: "cheaper" only when the
    interval excludes 1.

    Wholly above 1: ``"<baseline> cheaper"``; wholly below: ``"<method> cheaper"``; otherwise, or with no
    interval, ``"no clear difference"``; ``"not priced"`` when there is neither a ratio nor a bootstrap
    (``reached`` None: the level was refused).
    """
    ci = result["ci"]
    if result["ratio"] is None and result["reached"] is None:
        return "not priced"
    if not excludes_one(ci):
        return "no clear difference"
    return f"{baseline} cheaper" if ci[0] > 1 else f"{method} cheaper"


def describe(priced: dict) -> str:
    """A :func:`pair_ratio` as the lab's tables print it: with its 95% interval where the curves keep
    per-problem outcomes (in bold where it excludes 1: only there is one of the two cheaper), else with the
    range over every pair of seeds (marked "seeds"); "–" where the pair was not priced."""
    if priced["ratio"] is None:
        return "–"
    if priced.get("ci") is not None:
        return f"**{describe_ratio(priced)}**" if excludes_one(priced["ci"]) else describe_ratio(priced)
    span = priced["range"]
    return (
        f"{priced['ratio']:.2f}× (seeds {span[0]:.2f}–{span[1]:.2f})" if span else f"{priced['ratio']:.2f}×"
    )
