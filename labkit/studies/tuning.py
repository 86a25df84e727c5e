"""One tuning protocol for every racer, stated before any result is seen.

An untuned baseline is a bug: a method that loses because it ran at someone else's learning rate says nothing
about the method. So every racer of the comparison gets the same treatment:

1. **Grid.** learning rate x prompts per step (``GRID``): {1e-4, 3e-4, 1e-3} x {4, 16}, six runs per racer.
2. **Extension.** Where a racer's best learning rate sits on the edge of the grid, the next one beyond it
   (3e-5 or 3e-3) is tried at both batch sizes, so no racer's optimum is cut off by the grid.
3. **Held apart.** Every tuning run uses seed ``TUNING_SEED`` (the races use seeds 0, 1, ...) and evaluates on
   the "tuning" held-out set, which shares no problem with the races' "race" set.
4. **Score, fixed up front.** The mean sampled accuracy over log-compute: accuracy read off the run's curve
   (piecewise linear in log-FLOPs between evaluations) at ``SCORE_POINTS`` points evenly spaced in log-FLOPs
   from budget/100 to the budget, averaged. It rewards reaching a level early *and* ending high, the two
   things a cost ratio at a level reads. The highest score is chosen; a tie goes to the earlier setting in
   grid order.

``tune`` runs all of this in worker processes and returns
``{"protocol", "methods": {racer: {"tried", "chosen"}}}``.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np

from ..errors import LabkitError
from .compare import RACERS, CompareConfig, run_runs

GRID = {"learning_rate": (1e-4, 3e-4, 1e-3), "batch_size": (4, 16)}
EXTENSION = {1e-4: 3e-5, 1e-3: 3e-3}  # the next learning rate beyond each edge of the grid
BATCH_EXTENSION = {4: 2, 16: 64}  # the next prompts per step beyond each edge (``tune(extend_batch=True)``)
TUNING_SEED = 1000
SCORE_POINTS = 21


def curve_score(curve: dict, budget: float) -> float:
    """Mean sampled accuracy over log-FLOPs between budget/100 and the budget (see the module docstring)."""
    grid = np.log(budget) + np.linspace(np.log(0.01), 0.0, SCORE_POINTS)
    flops, accuracy = np.asarray(curve["flops"][1:]), np.asarray(curve["accuracy"][1:])
    return float(np.interp(grid, np.log(flops), accuracy).mean())


def choose(tried: list[dict]) -> dict:
    """The tried run with the highest ``score``; of equal scores the first, which is grid order."""
    return max(tried, key=lambda t: t["score"])  # max keeps the first of equal scores


def _settings(learning_rate: float, batch_size: int) -> dict:
    return {"learning_rate": learning_rate, "batch_size": batch_size}


def run_grid(
    config: CompareConfig,
    points: list[tuple[str, dict]],
    student_path,
    teacher_path,
    progress,
    base=None,
    seed: int = TUNING_SEED,
) -> list:
    """One tuning run per (racer, settings), side by side (``base`` settings under each); each returns its
    curve's score."""
    from .compare import curve_of

    jobs = []
    for racer, settings in points:
        run_config = replace(
            config, methods=(racer,), settings={racer: {**(base or {}), **settings}}, greedy=False
        )
        jobs.append((racer, seed, run_config, student_path, teacher_path, False))
    outputs, _ = run_runs(jobs, config.workers, progress)
    tried = []
    for (racer, settings), (result, _, _) in zip(points, outputs):
        curve = curve_of(result, seed)
        tried.append({"racer": racer, "settings": settings, "score": curve_score(curve, config.budget),
                      "final_accuracy": curve["accuracy"][-1], "curve": curve})  # fmt: skip
    return tried


def tune(
    config: CompareConfig,
    student_path: str,
    teacher_path: str,
    progress: bool = True,
    base: dict | None = None,
    seed: int = TUNING_SEED,
    extend_batch: bool = False,
) -> dict:
    """Run the protocol for ``config.methods`` at ``config.budget``; evaluations on the "tuning" set.
    ``base``: settings every run keeps under the grid's (``{"lr_schedule": "constant"}``: a constant rate).
    ``seed``: another tuning seed (benchmarks/tuning_transfer.py: does the choice hold on a second one?).
    ``extend_batch``: a third step (benchmarks/regime_tuning.py): the prompts per step beyond the best run's
    (``BATCH_EXTENSION``: 2 beyond 4, 64 beyond 16, the grid's edges) are tried at its learning rate."""
    config = replace(config, eval_set="tuning", first_seed=seed).validate()
    started = time.perf_counter()
    first = [(racer, _settings(lr, bs)) for racer in config.methods
             for lr in GRID["learning_rate"] for bs in GRID["batch_size"]]  # fmt: skip
    tried = run_grid(config, first, student_path, teacher_path, progress, base, seed)
    best = {racer: choose([t for t in tried if t["racer"] == racer]) for racer in config.methods}
    extra = [(racer, _settings(EXTENSION[b["settings"]["learning_rate"]], bs)) for racer, b in best.items()
             if b["settings"]["learning_rate"] in EXTENSION for bs in GRID["batch_size"]]  # fmt: skip
    if extra:
        tried += run_grid(config, extra, student_path, teacher_path, progress, base, seed)
    if extend_batch:
        best = {racer: choose([t for t in tried if t["racer"] == racer]) for racer in config.methods}
        edges = {
            racer: b["settings"]
            for racer, b in best.items()
            if b["settings"]["batch_size"] in BATCH_EXTENSION
        }
        wider = [
            (racer, _settings(s["learning_rate"], BATCH_EXTENSION[s["batch_size"]]))
            for racer, s in edges.items()
        ]
        tried += run_grid(config, wider, student_path, teacher_path, progress, base, seed) if wider else []
    methods = {}
    for racer in config.methods:
        mine = [t for t in tried if t["racer"] == racer]
        chosen = choose(mine)
        methods[racer] = {"base": RACERS[racer],
                          "tried": [{k: v for k, v in t.items() if k != "racer"} for t in mine],
                          "chosen": chosen["settings"]}  # fmt: skip
    protocol = {"grid": GRID, "extension": {str(k): v for k, v in EXTENSION.items()}, "seed": seed,
                "eval_set": "tuning", "eval_n": config.eval_n, "budget": config.budget,
                "score": "mean sampled accuracy over log-FLOPs from budget/100 to the budget "
                         f"({SCORE_POINTS} points)",
                "base": base or {}, "wall_seconds": time.perf_counter() - started}  # fmt: skip
    if extend_batch:
        protocol["batch_extension"] = {str(k): v for k, v in BATCH_EXTENSION.items()}
    return {"protocol": protocol, "methods": methods}


KEPT = ("settings", "score", "final_accuracy")
"""what a results file keeps of each tried run (:func:`without_curves`)"""


def without_curves(tuning: dict) -> dict:
    """:func:`tune`'s result with each tried run cut to its settings, score and final accuracy (what a results
    file keeps: the curves are the bulk)."""
    methods = {racer: {"chosen": e["chosen"], "tried": [{k: t[k] for k in KEPT} for t in e["tried"]]}
               for racer, e in tuning["methods"].items()}  # fmt: skip
    return {"protocol": tuning["protocol"], "methods": methods}


def merge_tuning(committed: dict, added: dict) -> dict:
    """``committed`` with the racers ``added`` tuned in a later run; refuses a run under another protocol (the
    settings of every racer must come from one). ``protocol.added`` records each later run's racers and wall
    seconds."""
    fixed = ("grid", "extension", "seed", "eval_set", "eval_n", "budget", "score")
    old, new = committed["protocol"], added["protocol"]
    differs = [k for k in fixed if not json_equal(old.get(k), new.get(k))]
    if differs:
        raise LabkitError(
            f"the added racers were tuned under another protocol ({', '.join(differs)} differ); "
            "tune them with the committed settings or rerun the whole protocol"
        )
    merged = {"protocol": dict(old), "methods": {**committed["methods"], **added["methods"]}}
    later = {"methods": sorted(added["methods"]), "wall_seconds": new["wall_seconds"]}
    merged["protocol"]["added"] = [*old.get("added", []), later]
    return merged


def json_equal(a, b) -> bool:
    """Whether two values are equal once written as JSON (tuples and lists alike, float keys as strings)."""
    return json.loads(json.dumps(a)) == json.loads(json.dumps(b))


def _score_of(tried: list[dict], settings: dict) -> float | None:
    return next((t["score"] for t in tried if t["settings"] == settings), None)


def transfer(committed: dict, second: dict, small: dict, small_batches=(1, 2)) -> dict:
    """Does a tuning transfer (benchmarks/tuning_transfer.py)? Per racer of ``second`` (the protocol rerun on
    seed ``TUNING_SEED + 1``): the committed and the second seed's choices; on each seed the best settings
    tried, the committed settings' score against it, and ``small`` (``{racer: {seed: tried}}``: the committed
    learning rate at ``small_batches`` prompts per step). The choice ``holds`` where its largest gap to a
    seed's best is within the spread of its own score across the two seeds."""
    out = {}
    for racer, entry in second["methods"].items():
        chosen = committed["methods"][racer]["chosen"]
        seeds = {TUNING_SEED: committed["methods"][racer]["tried"], TUNING_SEED + 1: entry["tried"]}
        for seed, rows in small[racer].items():
            seeds[seed] = seeds[seed] + rows
        per_seed = {}
        for seed, tried in seeds.items():
            best = max(tried, key=lambda t: t["score"])
            per_seed[str(seed)] = {
                "best": best["settings"],
                "best_score": best["score"],
                "chosen_score": _score_of(tried, chosen),
                "small_batches": {
                    str(b): _score_of(tried, {**chosen, "batch_size": b}) for b in small_batches
                },
            }
        gaps = [
            s["best_score"] - s["chosen_score"] for s in per_seed.values() if s["chosen_score"] is not None
        ]
        own = [s["chosen_score"] for s in per_seed.values() if s["chosen_score"] is not None]
        out[racer] = {
            "chosen": chosen,
            "chosen_on_second_seed": entry["chosen"],
            "same_choice": entry["chosen"] == chosen,
            "seeds": per_seed,
            "largest_gap_to_best": float(max(gaps)),
            "seed_spread_of_chosen": float(np.ptp(own)),
            "holds": bool(max(gaps) <= np.ptp(own)),
            "a_smaller_batch_wins_on_both_seeds": all(
                any((s["small_batches"][str(b)] or 0) > s["best_score"] - 1e-12 for b in small_batches)
                for s in per_seed.values()
            ),
        }
    return out
