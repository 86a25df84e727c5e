"""The post's own regime: continue SFT on teacher samples to its plateau, then race from there.

The post starts on-policy distillation from a student SFT-trained near its plateau (Qwen3-8B-Base after 400K
prompts, 60% on AIME'24) and prices SFT's continuation by a log-linear extrapolation (~2M prompts for 70%).
Every other race in the lab starts from the shipped student, an SFT warm-up stopped mid-climb. Here:

1. **The plateau** (:func:`sft_to_plateau`). SFT on teacher samples from the shipped student at its tuned
   learning rate, held constant after warm-up (so the cost of reaching a level does not depend on a budget),
   evaluated on the "build" problems (never the race's) at evaluations one doubling of FLOPs apart. The
   climb ends at the first evaluation where the least-squares gain over the last ``PLATEAU_WINDOW``
   evaluations falls under ``PLATEAU_GAIN`` (2 points per doubling of FLOPs); then the learning rate decays
   (cosine, to a tenth, no new warm-up, the optimizer's moments kept) over another ``COOLDOWN`` of the FLOPs
   spent, as warmup-stable-decay schedules end; that model, its cost counted, is the plateau student.
2. **The race** from it: continued SFT, sampled-token OPD, top-k, exact OPD and RL, each tuned again from the
   plateau student by the headline's protocol, several seeds, on the race problems (labkit.studies.compare).
3. **The fit** (:func:`log_linear_fit`): SFT accuracy against log10 FLOPs counted from the shipped student, on
   the plateau curve's last decade and the continued race's mean: what the post extrapolates with.
   Where finished SFT models are given (:func:`finished_fit`: each trained to its budget with a decayed
   learning rate, all scored on the race problems), the fit runs through them instead, as the post fits
   finished SFT runs of 400K and fewer prompts.
4. **The prices** (:func:`plateau_ratios`) at +5 and +10 points over the plateau and at 90% / 95% of the
   teacher, where reached, under the lab's accountings (costs from the plateau on) and the post's two:

       post_9x    SFT's student FLOPs from the plateau (its data free) over the other's teacher + student
                  FLOPs from the plateau
       post_30x   SFT's teacher + student FLOPs from the plateau over the other's

   as the post's table counts them: both methods' increments from SFT-400K (its SFT-2M row is SFT's extra
   1.6M prompts: 3.4e21 teacher and 1.5e21 student FLOPs, exactly 4x SFT-400K's 8.5e20 and 3.8e20), so the
   two are the lab's ``post_sft_data_free`` and ``flops`` from the plateau. Where continued SFT does not reach
   a level in the race, its cost is read between finished SFT models (marked ``interpolated``: measured, one
   seed each) or, beyond the best of them, off the fit (marked ``extrapolated``, as the post's SFT-2M is; no
   interval; ``fit_range`` gives the ratio under each fit in ``fits``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..config import TrainConfig
from ..errors import LabkitError
from ..evaluate import task_of, unpack_correct
from ..models import load, save
from ..train import Trainer
from .compare import METHOD_SETTINGS, RACERS
from .costs import (
    ACCOUNTINGS,
    bootstrap_ratio,
    cost_to_reach,
    point_ratio,
    problem_weights,
    ratio_interval,
    resampled_costs,
)

PLATEAU_GAIN = 0.02
"""the plateau: SFT gains less than this (2 points of sampled accuracy) per doubling of FLOPs"""
PLATEAU_WINDOW = 4
"""the gain is the least-squares slope over this many evaluations (three doublings): one noisy evaluation, or
one dip of a model trained at a constant rate, does not end the climb"""
COOLDOWN = 0.25
"""after the plateau, the learning rate decays (cosine, to a tenth) over this fraction of the FLOPs spent, as
warmup-stable-decay schedules end: the plateau student is a finished model, not a snapshot mid-noise"""
PLATEAU_RACERS = ("sft", "opd", "opd-topk", "opd-exact", "rl")
POST_ACCOUNTINGS = {  # labkit.studies.costs.STUDY_ACCOUNTINGS holds the same names
    "post_9x": "sft by its student FLOPs from the plateau (data free); the other by teacher + student FLOPs "
    "from the plateau (the post's 9x: SFT-2M's extra 1.6M prompts against OPD's increment)",
    "post_30x": "sft by teacher + student FLOPs from the plateau; the other by teacher + student FLOPs from "
    "the plateau (the post's 30x)",
}


def gain_per_doubling(flops, accuracy, last: int = PLATEAU_WINDOW) -> float:
    """Least-squares slope of accuracy against log2 FLOPs over the last ``last`` evaluations."""
    x, y = np.log2(np.asarray(flops[-last:], dtype=float)), np.asarray(accuracy[-last:], dtype=float)
    return float(np.polyfit(x, y, 1)[0])


def sft_to_plateau(
    student_path,
    teacher_path,
    out: Path,
    max_flops: float = 6.4e13,
    first_eval: float = 5e10,
    eval_n: int = 2000,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Continue SFT on teacher samples from ``student_path`` until it plateaus (see the module docstring);
    save the plateau student to ``out``. Returns the curve (FLOPs, student/teacher FLOPs, episodes,
    accuracy, gain per doubling at each evaluation), where it stopped and why."""
    teacher, _ = load(teacher_path)
    student, tokenizer = load(student_path)
    task = task_of(student_path)
    settings = {**RACERS["sft"], **METHOD_SETTINGS["sft"], "seed": seed, "steps": 10_000_000,
                "flop_budget": max_flops, "lr_schedule": "constant", "eval_set": "build",
                "eval_n": eval_n, "eval_points": 1, "monitor_every": 0}  # fmt: skip
    curve = {key: [] for key in ("flops", "student_flops", "teacher_flops", "episodes", "accuracy", "gain")}
    stopped = {"why": "budget", "step": None}
    due = [first_eval]  # the next evaluation: one doubling of FLOPs after the last

    def on_step(step, batch, row):
        if row["flops"] < due[0]:
            return False
        due[0] *= 2
        for key in ("flops", "student_flops", "teacher_flops", "episodes"):
            curve[key].append(row[key])
        curve["accuracy"].append(trainer.evaluation()["eval_accuracy"])
        enough = len(curve["flops"]) >= PLATEAU_WINDOW
        gain = gain_per_doubling(curve["flops"], curve["accuracy"], PLATEAU_WINDOW) if enough else None
        curve["gain"].append(gain)
        if gain is not None and gain < PLATEAU_GAIN:
            stopped.update(why=f"gain {gain:.3f} per doubling < {PLATEAU_GAIN}", step=step)
            return True
        return False

    started = time.perf_counter()
    trainer = Trainer(TrainConfig(**settings), student, tokenizer, task, teacher=teacher, on_step=on_step,
                      progress=progress)  # fmt: skip
    result = trainer.run()
    start = result.evals()[0]["eval_accuracy"]
    spent = {key: result.history[-1][key] for key in ("flops", "student_flops", "teacher_flops", "episodes")}
    cooldown = {**settings, "seed": seed + 1, "lr_schedule": "cosine", "warmup_steps": 0}
    cooldown["flop_budget"] = COOLDOWN * spent["flops"]
    cooled = Trainer(TrainConfig(**cooldown), student, tokenizer, task, teacher=teacher, progress=progress)
    cooled.optimizer.load_state_dict(trainer.optimizer.state_dict())  # the same AdamW, its moments kept
    after = cooled.run()  # evaluates at its end (eval_points=1)
    for key in ("flops", "student_flops", "teacher_flops", "episodes"):
        curve[key].append(spent[key] + after.history[-1][key])
    curve["accuracy"].append(after.final_accuracy)
    curve["gain"].append(gain_per_doubling(curve["flops"], curve["accuracy"], PLATEAU_WINDOW))
    report = {"curve": curve, "start_build_accuracy": start, "stopped": stopped, "settings": settings,
              "cooldown": {"settings": cooldown, "gain_at_stop": curve["gain"][-2],
                           "accuracy_before": curve["accuracy"][-2], "accuracy_after": curve["accuracy"][-1]},
              "wall_seconds": time.perf_counter() - started}  # fmt: skip
    save(student, tokenizer, out, extra={"task": asdict(task), "role": "plateau student", "plateau": report})
    return report


def train_finished(student_path, teacher_path, where, budgets, seeds) -> list[Path]:
    """Finished SFT models for :func:`finished_models`: :func:`sft_to_plateau` to each of ``budgets`` (its
    constant rate, then the decay) for each of ``seeds``, saved in ``where`` as ``sft_{budget}_seed{seed}``;
    a folder already there is kept, not trained again."""
    folders = []
    for seed in seeds:
        for budget in budgets:
            folder = Path(where) / f"sft_{budget:.2g}_seed{seed}"
            if not (folder / "labkit.json").exists():
                sft_to_plateau(student_path, teacher_path, folder, max_flops=budget, seed=seed)
            folders.append(folder)
    return folders


MID_CLIMB = "not a plateau"
"""what a start's ``stopped["why"]`` ends with where :func:`as_start` relabelled a budget-stopped run"""


def started_mid_climb(start: dict) -> bool:
    """Whether a race's start (plateau.json ``start``) is SFT stopped at a fixed FLOPs, not at a plateau."""
    return str(start.get("stopped", {}).get("why", "")).endswith(MID_CLIMB)


def as_start(plateau: dict, start_flops: float) -> dict:
    """A budget-stopped :func:`sft_to_plateau` run relabelled as a race's start, "not a plateau"
    (benchmarks/plateau.py ``--start-flops``); a run that did plateau is refused, so a real plateau is never
    hidden."""
    if plateau["stopped"]["why"] != "budget" and not started_mid_climb(plateau):
        raise LabkitError(
            f"SFT plateaued before {start_flops:.2g} FLOPs ({plateau['stopped']['why']}): race from there"
        )
    why = f"start at {start_flops:.2g} FLOPs (--start-flops), {MID_CLIMB}"
    return plateau | {"stopped": {"why": why, "step": None}}


def finished_models(headline_curves: list[dict], folders, start: dict, eval_n: int = 1000) -> list[dict]:
    """Finished SFT models on the race problems, for SFT's price beyond its race: the headline's SFT (its
    curves, ``headline_curves``: a cosine schedule ends decayed), the race's ``start`` (seed 0, its outcomes
    the race's first evaluation) and each of ``folders`` (a model saved by :func:`sft_to_plateau`, its FLOPs
    and seed from its labkit.json), scored here on the first ``eval_n`` race problems, outcomes kept for the
    bootstrap (:func:`finished_interval`)."""
    from ..evaluate import EVAL_SETS, evaluate, held_out_set, pack_correct

    points = [
        {"what": f"headline SFT ({len(headline_curves)} seeds)",
         "flops": float(np.mean([c["flops"][-1] for c in headline_curves])),
         "accuracy": float(np.mean([c["accuracy"][-1] for c in headline_curves]))},
        {"what": "the start", "flops": start["flops_from_shipped_student"], "accuracy": start["accuracy"],
         "seed": 0, **({"correct": start["correct"]} if start.get("correct") else {})},
    ]  # fmt: skip
    for folder in folders:
        model, tokenizer = load(folder)
        task = task_of(str(folder))
        problems = held_out_set(task, eval_n, "race")
        scored = evaluate(model, tokenizer, task, seed=EVAL_SETS["race"], problems=problems)
        meta = json.loads((Path(folder) / "labkit.json").read_text())["plateau"]
        flops, seed = meta["curve"]["flops"][-1], meta["settings"]["seed"]
        points.append({"what": f"SFT to {flops:.2g} FLOPs, seed {seed}", "flops": flops, "seed": seed,
                       "accuracy": scored.accuracy, "correct": pack_correct(scored.rewards)})  # fmt: skip
    return points


def budget_groups(finished: list[dict]) -> list[dict]:
    """Finished SFT models grouped by budget (FLOPs to two digits), cheapest first: ``{"flops", "accuracy"}``
    the means over the group's seeds, ``"points"`` the models."""
    groups: dict[str, list[dict]] = {}
    for point in sorted(finished, key=lambda p: p["flops"]):
        groups.setdefault(f"{point['flops']:.2g}", []).append(point)

    def mean(key: str, group: list[dict]) -> float:
        return float(np.mean([p[key] for p in group]))

    return [
        {"flops": mean("flops", g), "accuracy": mean("accuracy", g), "points": g} for g in groups.values()
    ]


def log_linear_fit(xs, accuracies) -> dict:
    """accuracy = intercept + slope * log10(FLOPs), least squares; what the post extrapolates SFT with."""
    x, y = np.log10(np.asarray(xs, dtype=float)), np.asarray(accuracies, dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    return {"slope_per_decade": float(slope), "intercept": float(intercept), "points": len(x),
            "fit_flops": [float(xs[0]), float(xs[-1])]}  # fmt: skip


def last_decade_fit(xs, accuracies) -> dict:
    """:func:`log_linear_fit` over the points within a decade of the largest FLOPs."""
    kept = [i for i, x in enumerate(xs) if x >= max(xs) / 10]
    return log_linear_fit([xs[i] for i in kept], [accuracies[i] for i in kept])


def fit_flops_at(fit: dict, level: float) -> float | None:
    """FLOPs (from the shipped student) at which the fit reaches ``level``; None if it never rises."""
    if fit["slope_per_decade"] <= 0:
        return None
    return float(10 ** ((level - fit["intercept"]) / fit["slope_per_decade"]))


def with_post_axes(summary: dict) -> dict:
    """The race's curves with the post's two accountings added (see the module docstring), every cost
    counted from the plateau: SFT's student FLOPs (post_9x) or all its FLOPs (post_30x); every other racer's
    teacher + student FLOPs under both."""
    for method, entry in summary["methods"].items():
        for c in entry["curves"]:
            c["post_9x"] = list(c["student_flops"] if method == "sft" else c["flops"])
            c["post_30x"] = list(c["flops"])
    return summary


def plateau_levels(summary: dict) -> dict[str, float]:
    """+5 and +10 points over the plateau student's race accuracy, and 90% / 95% of the teacher."""
    start = float(np.mean([c["accuracy"][0] for e in summary["methods"].values() for c in e["curves"]]))
    teacher = summary["teacher_accuracy"]
    return {"+5 points": start + 0.05, "+10 points": start + 0.10, "90% of teacher": 0.9 * teacher,
            "95% of teacher": 0.95 * teacher}  # fmt: skip


PAIRS = (("sft", "opd"), ("sft", "opd-topk"), ("sft", "opd-exact"), ("rl", "opd"), ("opd-exact", "rl"),
         ("opd-topk", "rl"), ("opd", "rl"), ("sft", "rl"))  # fmt: skip


def extrapolated_sft_cost(accounting: str, total: float, plateau: dict) -> float | None:
    """Continued SFT's cost under ``accounting`` where the fit puts ``total`` teacher + student FLOPs from the
    shipped student (its student share of FLOPs is the plateau run's); None where only measurement can say
    (seconds, episodes)."""
    spent = plateau["curve"]["flops"][-1]
    share = plateau["curve"]["student_flops"][-1] / spent
    more = total - spent  # from the plateau on
    costs = {"post_30x": more, "post_9x": more * share, "flops": more, "student_flops": more * share,
             "post_sft_data_free": more * share}  # fmt: skip
    return costs.get(accounting)


def finished_fit(points: list[dict]) -> dict:
    """:func:`log_linear_fit` through finished SFT models (``{"flops", "accuracy"}``: FLOPs from the shipped
    student, accuracy on the race problems; seeds of one budget as their mean), as the post extrapolates from
    finished SFT runs."""
    groups = budget_groups(points)
    fit = log_linear_fit([g["flops"] for g in groups], [g["accuracy"] for g in groups])
    return fit | {
        "fit_on": "finished SFT models (decayed learning rate), race problems: "
        + ", ".join(
            f"{p['what']} {p['accuracy']:.1%} at {p['flops']:.2g}" for g in groups for p in g["points"]
        )
    }


def _measured_end(summary: dict, plateau: dict) -> float:
    """FLOPs from the shipped student where continued SFT's measured curves end: the fit is used only beyond
    them (where a seed did not reach a level that the fit places earlier, the level stays unpriced)."""
    race = max(c["flops"][-1] for c in summary["methods"]["sft"]["curves"])
    return plateau["curve"]["flops"][-1] + race


def finished_flops_at(finished: list[dict], level: float) -> float | None:
    """FLOPs from the shipped student at which finished SFT models reach ``level``: log-linear interpolation
    between the two budgets around it (:func:`budget_groups`, each the mean over its seeds); None outside
    them. Measured, not extrapolated: each finished model is an SFT run trained to its budget and decayed."""
    points = budget_groups(finished)
    for lo, hi in zip(points, points[1:]):
        if lo["accuracy"] < level <= hi["accuracy"]:
            t = (level - lo["accuracy"]) / (hi["accuracy"] - lo["accuracy"])
            return float(10 ** (np.log10(lo["flops"]) + t * (np.log10(hi["flops"]) - np.log10(lo["flops"]))))
    return None


def sft_seeds(finished: list[dict]) -> list[int]:
    """The seeds with a finished SFT model at every budget that has more than one: what
    :func:`finished_interval` resamples (empty when every budget has one model)."""
    multi = [{p.get("seed") for p in g["points"]} for g in budget_groups(finished) if len(g["points"]) > 1]
    return sorted(set.intersection(*multi) - {None}) if multi else []


def finished_interval(finished: list[dict], summary: dict, plateau: dict, baseline: str, accounting: str,
                      level: float, n_boot: int = 1000, seed: int = 0) -> list[float] | None:  # fmt: skip
    """95% interval of continued SFT's cost read between ``finished`` models (:func:`finished_flops_at`)
    over ``baseline``'s cost in the race, at ``level``. Each replicate resamples the race problems (one draw
    shared by the baseline's evaluations and the finished models, all scored on the race set), the
    baseline's seeds, and SFT's seeds (:func:`sft_seeds`, together across budgets: a seed's models are one
    run's). A replicate where SFT's models do not bracket the level prices SFT at +inf. None with fewer than
    two SFT seeds, or when fewer than half the replicates give a ratio."""
    seeds = sft_seeds(finished)
    if len(seeds) < 2:
        return None
    rng = np.random.default_rng(seed)
    entry = summary["methods"][baseline]
    n_problems = unpack_correct(entry["curves"][0]["correct"][0]).size
    weights = problem_weights(rng, n_problems, n_boot)
    base = resampled_costs(entry, baseline, accounting, level, weights, rng, "accuracy")
    groups = budget_groups(finished)

    def accuracies(point):  # [n_boot]: the point's accuracy on each replicate's problems
        if "correct" not in point:
            return np.full(n_boot, point["accuracy"])
        return weights @ unpack_correct(point["correct"], n_problems).astype(float) / n_problems

    by_budget = [{p.get("seed"): accuracies(p) for p in g["points"]} for g in groups]
    picks = np.asarray(seeds)[rng.integers(0, len(seeds), (n_boot, len(seeds)))]
    ratios = np.full(n_boot, np.nan)
    for r in range(n_boot):
        points = []
        for group, scored in zip(groups, by_budget):
            chosen = picks[r] if len(scored) > 1 else list(scored)
            accuracy = float(np.mean([scored[s][r] for s in chosen]))
            points.append({"flops": group["flops"], "accuracy": accuracy})
        total = finished_flops_at(points, level)
        cost = np.inf if total is None else max(extrapolated_sft_cost(accounting, total, plateau), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[r] = cost / base[r]
    return ratio_interval(ratios)


def plateau_ratios(
    summary: dict,
    plateau: dict,
    fit: dict,
    n_boot: int = 1000,
    fits: dict | None = None,
    finished: list[dict] | None = None,
) -> list[dict]:
    """Every pair of PAIRS at every level of :func:`plateau_levels`, under the lab's accountings (from the
    plateau) and the post's two. Where SFT's race never reached a level, its cost is read between
    ``finished`` SFT models (:func:`finished_flops_at`, marked ``interpolated``), else off the fit (marked
    ``extrapolated``; with ``fits``, ``fit_range`` is that ratio under each of them); either only beyond the
    race's measured end."""
    rows, end = [], _measured_end(summary, plateau)  # SFT is priced off its race only beyond its end
    for name, level in plateau_levels(summary).items():
        for method, baseline in PAIRS:
            if method not in summary["methods"] or baseline not in summary["methods"]:
                continue
            for accounting in (*ACCOUNTINGS, *POST_ACCOUNTINGS):
                row = {"method": method, "baseline": baseline, "accounting": accounting, "metric": "sampled",
                       "level_name": name, "level": level, "extrapolated": False, "interpolated": False,
                       "ci": None}  # fmt: skip
                row["ratio"] = point_ratio(summary, accounting, method, baseline, level)
                base = cost_to_reach(summary["methods"][baseline], accounting, level, baseline)
                total = fit_flops_at(fit, level)
                if row["ratio"] is not None:
                    boot = bootstrap_ratio(summary, method, baseline, accounting, level, n_boot)
                    row["ci"], row["reached"] = boot["ci"], boot["reached"]
                elif method == "sft" and base and (between := finished_flops_at(finished or [], level)):
                    if between > end:
                        cost = extrapolated_sft_cost(accounting, between, plateau)
                        if cost is not None:
                            ci = finished_interval(
                                finished, summary, plateau, baseline, accounting, level, n_boot
                            )
                            row |= {"ratio": cost / base, "interpolated": True, "ci": ci,
                                    "sft_seeds": len(sft_seeds(finished))}  # fmt: skip
                elif method == "sft" and base and total is not None and total > end:
                    cost = extrapolated_sft_cost(accounting, total, plateau)
                    if cost is not None:
                        row |= {"ratio": cost / base, "extrapolated": True}
                        other = [fit_flops_at(f, level) for f in (fits or {}).values()]
                        other = [
                            extrapolated_sft_cost(accounting, t, plateau) / base
                            for t in other
                            if t and t > end
                        ]
                        if other:
                            row["fit_range"] = [min(other + [row["ratio"]]), max(other + [row["ratio"]])]
                rows.append(row)
    return rows


POST_START_WHAT = (
    "the post's regime as near as this task has it: SFT on teacher samples never plateaus below the "
    "teacher here (see 'search'), so the start is SFT continued from the shipped student to a fixed FLOPs "
    "at its tuned constant learning rate, where it still gains a few points per doubling (the post's SFT "
    "gained ~4.3 per doubling of data: 60% to an extrapolated 70% for 5x the prompts), then decayed; from "
    "that student, continued SFT, OPD (sampled token), top-k, exact OPD and RL raced, each tuned again from "
    "it by the headline's protocol; costs priced at +5/+10 points and 90/95% of the teacher; "
    "post_9x/post_30x count both from that student, as the post's table counts SFT-2M's extra prompts "
    "against OPD's increment from SFT-400K; SFT's cost beyond its race comes from a log-linear fit through "
    "finished SFT models, as the post extrapolates"
)


def race_start(plateau: dict, summary: dict) -> dict:
    """The race's start: its mean accuracy at step 0 over every racer and seed (race problems), what SFT
    spent from the shipped student to reach it (:func:`finished_models` counts it as a finished model) and,
    where every run's first evaluation solved the same problems, those outcomes (``correct``)."""
    curves = [c for e in summary["methods"].values() for c in e["curves"]]
    firsts = {c["correct"][0] for c in curves if c.get("correct")}
    return {"accuracy": float(np.mean([c["accuracy"][0] for c in curves])),
            "flops_from_shipped_student": plateau["curve"]["flops"][-1],
            **({"correct": firsts.pop()} if len(firsts) == 1 else {})}  # fmt: skip


def report(plateau: dict, summary: dict, what: str | None = None, finished: list[dict] | None = None) -> dict:
    """plateau.json: the plateau run, the race from it (with the post's accountings), SFT's log-linear fit
    (through ``finished`` SFT models where given, see :func:`finished_fit`; else over the last decade of its
    whole curve from the shipped student), and :func:`plateau_ratios`. ``what`` replaces the description
    where the start is not a plateau (:data:`POST_START_WHAT`)."""
    summary = with_post_axes(summary)
    spent = plateau["curve"]["flops"][-1]
    race_sft = summary["methods"]["sft"]["curves"]
    xs = list(plateau["curve"]["flops"]) + [spent + x for x in race_sft[0]["flops"][1:]]
    ys = list(plateau["curve"]["accuracy"]) + list(np.mean([c["accuracy"][1:] for c in race_sft], axis=0))
    fits = None
    if finished:
        fit = finished_fit(finished)
        last = [p for g in budget_groups(finished)[-2:] for p in g["points"]]
        fits = {"all finished models": fit, "the two largest": finished_fit(last)}
    else:
        fit = last_decade_fit(xs, ys)
        fit["fit_on"] = (
            "SFT accuracy against log10 FLOPs from the shipped student over the last decade of its curve: "
            "the plateau run (build problems), then the continued race's mean (race problems)"
        )
    return {
        "what": what
        or "the post's regime: SFT on teacher samples continued to its plateau (gain under 2 points "
        "per doubling of FLOPs), then continued SFT, OPD (sampled token), top-k, exact OPD and RL raced from "
        "that student, each tuned again from it by the headline's protocol; costs priced at +5/+10 points "
        "and 90/95% of the teacher; post_9x/post_30x count both from the plateau, as the post's table counts "
        "SFT-2M's extra prompts against OPD's increment from SFT-400K",
        "start": {**race_start(plateau, summary), "build_accuracy": plateau["curve"]["accuracy"][-1],
                  "sft_gain_per_doubling": plateau["cooldown"]["gain_at_stop"],
                  "stopped": plateau["stopped"], "cooldown": plateau["cooldown"]},
        "plateau_curve": plateau["curve"], "plateau_settings": plateau["settings"],
        "plateau_wall_seconds": plateau["wall_seconds"],
        "sft_fit": fit, "sft_curve_from_shipped": {"flops": xs, "accuracy": ys},
        "teacher_accuracy": summary["teacher_accuracy"], "levels": plateau_levels(summary),
        "config": summary["config"], "methods": summary["methods"], "post_accountings": POST_ACCOUNTINGS,
        "sft_finished": finished or [], "sft_fits": fits or {},
        "ratios": plateau_ratios(summary, plateau, fit, fits=fits, finished=finished),
        "race_ratios": summary["ratios"],
        "race_wall_seconds": summary["wall_seconds"],
    }  # fmt: skip


def no_plateau_report(plateau: dict, teacher_accuracy: float) -> dict:
    """plateau.json when SFT never plateaued within its budget: the curve, where it ended, the fit over its
    last decade, and no race (the post's regime, a plateau below the teacher, was not found)."""
    curve = plateau["curve"]
    fit = last_decade_fit(curve["flops"], curve["accuracy"])
    fit["fit_on"] = "SFT accuracy (build problems) against log10 FLOPs from the shipped student, last decade"
    return {
        "what": "SFT on teacher samples from the shipped student, evaluated one doubling of FLOPs apart, "
        f"until its gain fell under {PLATEAU_GAIN:.0%} per doubling (least squares over {PLATEAU_WINDOW} "
        "evaluations) or its budget ran out; then a learning-rate decay. No plateau: no race from one.",
        "start": {"accuracy": curve["accuracy"][-1], "build_accuracy": curve["accuracy"][-1],
                  "sft_gain_per_doubling": plateau["cooldown"]["gain_at_stop"],
                  "flops_from_shipped_student": curve["flops"][-1], "stopped": plateau["stopped"],
                  "cooldown": plateau["cooldown"]},
        "teacher_build_accuracy": teacher_accuracy,
        "plateau_curve": curve, "plateau_settings": plateau["settings"],
        "plateau_wall_seconds": plateau["wall_seconds"], "sft_fit": fit, "methods": {}, "ratios": [],
    }  # fmt: skip
