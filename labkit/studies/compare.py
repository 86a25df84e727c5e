"""The headline: every method from the same student start, on the same FLOP budget, over several seeds.

    python -m labkit compare --out DIR [--seeds K] [--budget FLOPS]

runs the race (``run_comparison``) and returns its summary (``summarize``); ``labkit.views.race`` writes
``DIR/side_by_side.json``, ``DIR/table.md`` and the figures ``DIR/*.png``. The summary has
``teacher_accuracy``, ``target_accuracy`` and, per racer under ``methods``: ``curves`` (one per seed, the
contract of :mod:`labkit.studies.costs`: ``flops``, ``student_flops``, ``teacher_flops``, ``seconds``,
``episodes``, ``accuracy`` (sampled, T=1), ``greedy_accuracy`` and the packed per-problem outcomes behind
both, one entry per evaluation), the ``settings`` it ran with, ``final_accuracy`` and
``greedy_final_accuracy`` (means over seeds) with 95% bootstrap intervals (``*_ci``), and
``flops_to_target`` (median over seeds, interpolated; null unless every seed reached the target). ``ratios``
lists each racer's cost against OPD's under every accounting, with its interval.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..config import METHOD_SETTINGS  # noqa: F401 (the tuned settings every race runs; kept in config)
from ..encoding import encode_prompts
from ..errors import LabkitError
from ..evaluate import EVAL_SETS, evaluate, held_out_set, task_of
from ..models import check_compatible, data_dir, load
from ..sampling import sample
from ..train import EVAL_SEED, TrainConfig, train
from .costs import (
    ACCOUNTINGS,
    METRICS,
    TEACHER_KEYS,
    bootstrap_accuracy,
    cost_to_reach,
    level_curve,
    pair_ratio,
)
from .pertoken import score_tokens
from .workers import cores, parent_alive, run_jobs

# The racers: a method and where its tokens come from. sft-reference is the free baseline: SFT on the task's
# own reference solutions, no teacher at all.
RACERS = {
    "sft": {"method": "sft", "sft_data": "teacher"},
    "sft-reference": {"method": "sft", "sft_data": "reference"},
    "rl": {"method": "rl"},
    "opd": {"method": "opd"},
    "opd-topk": {"method": "opd-topk", "top_k": 4, "topk_tail": True},
    "opd-exact": {"method": "opd-exact"},
    "gkd": {"method": "gkd", "lmbda": 0.5, "beta": 0.5},
    "const-adv": {"method": "const-adv"},
    "self-distill": {"method": "self-distill"},
}
HEADLINE = ("sft", "sft-reference", "rl", "opd", "opd-topk", "opd-exact", "gkd")
"""the racers a comparison runs unless told otherwise; the controls (const-adv: no teacher, a constant
negative advantage; self-distill: the student its own teacher, shown the reference solution) race when
named"""
ESTIMATORS = ("opd", "opd-topk", "opd-exact")
"""The estimator ladder: one estimate of the teacher's reverse-KL signal each — the sampled token's log-ratio
(the post), the reverse KL over the teacher's top-k tokens, and the exact reverse KL over the vocabulary."""


@dataclass
class CompareConfig:
    """Settings of a side-by-side comparison."""

    budget: float = 1e12
    """FLOPs each run may spend (teacher and student counted together)"""
    seeds: int = 5
    """independent runs per racer (seeds 0..seeds-1)"""
    methods: tuple[str, ...] = HEADLINE
    """which racers to compare (labkit.studies.compare.RACERS; HEADLINE by default)"""
    group_size: int = 4
    """samples per prompt, the same for every racer (prompts per step are tuned per racer: METHOD_SETTINGS)"""
    eval_n: int = 1000
    """held-out problems per evaluation (the "race" set), each evaluated sampled (T=1) and greedily"""
    eval_points: int = 14
    """evaluations after the start, spaced evenly in log-FLOPs from the first step to the budget"""
    target_fraction: float = 0.9
    """the target accuracy, as a fraction of the teacher's sampled accuracy"""
    monitor_every: int = 10
    """log teacher_kl and entropy every this many steps (watching is uncharged, but in wall time it cost RL
    and SFT a third of their runs when done every step; nothing in the comparison reads it)"""
    snapshot_prompts: int = 4
    """held-out prompts whose per-token scores are kept at each evaluation of the first
    seed (for the explorer)"""
    workers: int = 0
    """processes running runs side by side, one thread each (0: one per CPU core this process may use, at most
    one per run); 1 runs everything in this process"""
    settings: dict = field(default_factory=dict)
    """per racer, settings that replace METHOD_SETTINGS (e.g. {"rl": {"learning_rate": 1e-4}}); tuning uses
    it"""
    eval_set: str = "race"
    """the held-out set evaluations use; only tuning uses another ("tuning")"""
    greedy: bool = True
    """also evaluate greedily (greedy_accuracy beside the sampled accuracy)"""
    first_seed: int = 0
    """seeds are first_seed .. first_seed + seeds - 1; tuning runs on seeds the races never use"""

    def validate(self) -> CompareConfig:
        if not self.budget > 0:
            raise LabkitError(f"budget must be a positive number of FLOPs, got {self.budget!r}")
        if self.seeds < 1:
            raise LabkitError(f"seeds must be at least 1, got {self.seeds}")
        unknown = [m for m in [*self.methods, *self.settings] if m not in RACERS]
        if unknown or not self.methods:
            raise LabkitError(f"unknown methods {unknown}; choose from {', '.join(RACERS)}")
        if not isinstance(self.workers, int) or self.workers < 0:
            raise LabkitError(
                f"workers must be a whole number >= 0 (0: one per CPU core), got {self.workers!r}"
            )
        if not 0 < self.target_fraction <= 1:
            raise LabkitError(f"target_fraction must lie in (0, 1], got {self.target_fraction}")
        if self.eval_set not in EVAL_SETS:
            raise LabkitError(f"eval_set must be one of {', '.join(EVAL_SETS)}, got {self.eval_set!r}")
        return self

    def run_settings(self, racer: str) -> dict:
        """The TrainConfig fields of one racer's runs (seed and budget aside)."""
        return {**RACERS[racer], **METHOD_SETTINGS.get(racer, {}), **self.settings.get(racer, {})}


@dataclass
class Comparison:
    config: CompareConfig
    teacher_accuracy: float
    target_accuracy: float
    teacher_greedy_accuracy: float | None = None
    runs: dict[str, list] = field(default_factory=dict)  # racer -> [TrainResult per seed]
    snapshots: dict[str, list] = field(
        default_factory=dict
    )  # racer -> [{step, flops, scores: [TokenScores]}]
    students: dict[str, object] = field(default_factory=dict)  # racer -> the first seed's trained student
    wall_seconds: float = 0.0
    workers: int = 1


CURVE_KEYS = {  # curve key: the history row key it comes from, at every evaluation
    "flops": "flops", "student_flops": "student_flops", "teacher_flops": "teacher_flops",
    "seconds": "seconds", "episodes": "episodes", "accuracy": "eval_accuracy", "correct": "eval_correct",
    "greedy_accuracy": "greedy_accuracy", "greedy_correct": "greedy_correct",
}  # fmt: skip


def curve_of(result, seed: int) -> dict:
    """One run's evaluations as a results curve (lists, one entry per evaluation; index 0 is the start)."""
    rows = result.evals()
    present = {key: row_key for key, row_key in CURVE_KEYS.items() if row_key in rows[0]}
    return {"seed": seed, **{key: [r[row_key] for r in rows] for key, row_key in present.items()}}


def _racer_entry(curves: list[dict], settings: dict, target: float) -> dict:
    entry = {"curves": curves, "settings": settings}
    for key in ("flops", "seconds", "episodes"):
        entry[f"{key}_to_target"] = cost_to_reach(entry, key, target)
    for key, name in (("accuracy", "final_accuracy"), ("greedy_accuracy", "greedy_final_accuracy")):
        if key not in curves[0]:
            continue
        interval = bootstrap_accuracy(curves, key=key)
        entry[name], entry[f"{name}_ci"] = interval["mean"], interval["ci"]
    for key in ("teacher_flops", "student_flops"):
        entry[key] = sum(c[key][-1] for c in curves) / len(curves)
    return entry


def in_race_order(names) -> list[str]:
    """Racers in the order of RACERS (JSON files keep their keys sorted), anything else after."""
    return sorted(names, key=lambda n: list(RACERS).index(n) if n in RACERS else len(RACERS))


def ratio_rows(summary: dict, baseline: str = "opd", metric: str = "sampled") -> list[dict]:
    """Every other racer's cost over ``baseline``'s under every accounting, at the level every seed of both
    reached, with its 95% interval (bootstrap over seeds and held-out problems:
    labkit.studies.costs.pair_ratio), priced on ``metric`` ("sampled" or "greedy" accuracy)."""
    if baseline not in summary["methods"] or not _carries(summary, metric):
        return []
    key = METRICS[metric]
    return [
        {"method": method, "baseline": baseline, "accounting": accounting, "metric": metric,
         **pair_ratio(summary, accounting, method, baseline, key=key)}
        for method in in_race_order(summary["methods"]) if method != baseline
        for accounting in ACCOUNTINGS
    ]  # fmt: skip


def _carries(summary: dict, metric: str) -> bool:
    """Whether every curve of the summary has the accuracy (and its outcomes) of ``metric``."""
    key = METRICS[metric]
    return all(key in c for e in summary["methods"].values() for c in e["curves"])


BASELINES = ("opd", "rl", "sft")
"""Every racer is priced directly against each of these: sampled-token OPD, RL and SFT on teacher samples."""


def all_ratio_rows(summary: dict, baselines=BASELINES, metrics=tuple(METRICS)) -> list[dict]:
    """:func:`ratio_rows` against every baseline present, on every metric the curves carry."""
    return [row for metric in metrics for baseline in baselines
            for row in ratio_rows(summary, baseline, metric)]  # fmt: skip


LEVEL_PAIRS = (("rl", ("opd", "opd-topk", "opd-exact", "sft", "sft-reference", "gkd")),
               ("opd", ("sft", "opd-topk", "opd-exact")),
               ("sft", ("opd-exact",)))  # fmt: skip
"""(baseline, methods) priced along the level: the ladder and SFT against RL, and the pairs the lesson
reads."""


def level_curves(summary: dict, pairs=LEVEL_PAIRS, accountings=("flops", "episodes"), n_boot: int = 500):
    """:func:`labkit.studies.costs.level_curve` of each pair present, under each accounting and metric."""
    return [
        level_curve(summary, method, baseline, accounting, metric, n_boot=n_boot)
        for baseline, methods in pairs if baseline in summary["methods"]
        for method in methods if method in summary["methods"]
        for accounting in accountings
        for metric in METRICS if summary.get(TEACHER_KEYS[metric]) is not None and _carries(summary, metric)
    ]  # fmt: skip


def summarize(comparison: Comparison) -> dict:
    """The results JSON: curves per seed, cost to target, final accuracies and ratios with intervals."""
    target, config = comparison.target_accuracy, comparison.config
    methods = {
        racer: _racer_entry([curve_of(r, config.first_seed + i) for i, r in enumerate(results)],
                            config.run_settings(racer), target)
        for racer, results in comparison.runs.items()
    }  # fmt: skip
    summary = {
        "teacher_accuracy": comparison.teacher_accuracy,
        "teacher_greedy_accuracy": comparison.teacher_greedy_accuracy,
        "target_accuracy": target,
        "config": asdict(config),
        "methods": methods,
        "wall_seconds": comparison.wall_seconds,
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "workers": comparison.workers,
            "threads_per_run": 1,
        },
    }
    return price(summary)


def price(summary: dict, n_boot_levels: int = 500) -> dict:
    """The summary with its prices (re)computed from its curves: ``ratios`` (every racer against each of
    BASELINES, on sampled and greedy accuracy) and ``level_curves`` (LEVEL_PAIRS along the level)."""
    summary["ratios"] = all_ratio_rows(summary)
    summary["level_curves"] = level_curves(summary, n_boot=n_boot_levels)
    return summary


def merge_summaries(committed: dict, added: dict) -> dict:
    """``committed`` with the racers of ``added`` (a later race under the same settings, other racers), priced
    anew. Every run is seeded, so the committed racers' curves are what a full rerun would give; wall seconds
    of each race are kept apart in ``added``. Refuses races under other settings."""
    fixed = ("budget", "seeds", "group_size", "eval_n", "eval_points", "eval_set", "greedy", "first_seed",
             "target_fraction", "monitor_every")  # fmt: skip
    differs = [k for k in fixed if committed["config"].get(k) != added["config"].get(k)]
    differs += [k for k in TEACHER_KEYS.values() if committed.get(k) not in (None, added.get(k))]
    if differs:
        raise LabkitError(
            f"the added race ran under other settings ({', '.join(differs)} differ); "
            "run the added racers with the committed CompareConfig, or rerun the whole race"
        )
    merged = {**committed, "methods": {**committed["methods"], **added["methods"]}}
    merged["config"] = {**committed["config"], "methods": in_race_order(merged["methods"])}
    merged["teacher_greedy_accuracy"] = added["teacher_greedy_accuracy"]
    later = {"methods": sorted(added["methods"]), "wall_seconds": added["wall_seconds"]}
    merged["added"] = [*committed.get("added", []), later]
    return price(merged)


def _snapshots(student, teacher, tokenizer, task, prompts: int, keep: bool):
    """An ``on_step`` callback that stops an orphaned worker and, with ``keep``, scores every token of a few
    held-out student samples at each evaluation (the token explorer's frames); and the list it fills."""
    probe = task.problems(prompts, "held_out", seed=EVAL_SEED + 1)
    probe_ids = encode_prompts(tokenizer, [p.prompt for p in probe])
    frames = []

    def on_step(step, batch, row):
        if not parent_alive():  # in a worker whose notebook was killed: stop, leave no orphan
            os._exit(1)
        if keep and "eval_accuracy" in row:
            generator = torch.Generator().manual_seed(step)
            rollout = sample(student, probe_ids, task.max_completion_length, tokenizer, 1.0, generator)
            scores = score_tokens(student, teacher, tokenizer, rollout.sequences, rollout.prompt_length,
                                  rollout.completion_mask)  # fmt: skip
            frames.append({"step": step, "flops": row["flops"], "scores": scores})

    return on_step, frames


def _train_one(
    racer: str, seed: int, config: CompareConfig, student_path: str, teacher_path: str, keep_student: bool
) -> tuple:
    """One run of the comparison, on one thread: (TrainResult, snapshots, the student's weights or None).

    A top-level function so that worker processes can run it.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the ops are too small to split; cores run whole runs side by side instead
    try:
        teacher, teacher_tokenizer = load(teacher_path)
        student, tokenizer = load(student_path)
        task = task_of(student_path)
        settings = {
            "seed": seed,
            "steps": 1_000_000,  # a cap only: the budget ends every run
            "group_size": config.group_size,
            "eval_n": config.eval_n,
            "eval_set": config.eval_set,
            "eval_greedy": config.greedy,
            "flop_budget": config.budget,
            "eval_points": config.eval_points,
            "monitor_every": config.monitor_every,
            **config.run_settings(racer),
        }
        on_step, snapshots = _snapshots(
            student, teacher, tokenizer, task, config.snapshot_prompts, keep_student
        )
        result = train(TrainConfig(**settings), student, tokenizer, task, teacher=teacher,
                       teacher_tokenizer=teacher_tokenizer, progress=False, on_step=on_step)  # fmt: skip
        return result, snapshots, (student.state_dict() if keep_student else None)
    finally:
        torch.set_num_threads(threads)


def run_comparison(
    config: CompareConfig, student_path=None, teacher_path=None, progress: bool = True
) -> Comparison:
    """Train every method ``config.seeds`` times from the same start on the same budget;
    evaluate along the way.

    Runs are independent, so ``config.workers`` processes run them side by side, one thread each. Accuracies,
    FLOPs and episodes do not depend on the number of workers (a test checks it); wall seconds do, a little
    (the workers share the machine's memory bandwidth), and the summary records the worker count.
    """
    config.validate()
    student_path = str(Path(student_path) if student_path else data_dir() / "student")
    teacher_path = str(Path(teacher_path) if teacher_path else data_dir() / "teacher")
    teacher, teacher_tokenizer = load(teacher_path)
    _, tokenizer = load(student_path)
    check_compatible(tokenizer, teacher_tokenizer)
    task = task_of(student_path)
    started = time.perf_counter()
    problems = held_out_set(task, config.eval_n, config.eval_set)
    seed = EVAL_SETS[config.eval_set]

    def teacher_on(temperature: float) -> float:
        return evaluate(
            teacher, tokenizer, task, seed=seed, temperature=temperature, problems=problems
        ).accuracy

    teacher_accuracy = teacher_on(1.0)
    teacher_greedy = teacher_on(0.0) if config.greedy else None
    comparison = Comparison(
        config, teacher_accuracy, config.target_fraction * teacher_accuracy, teacher_greedy
    )

    seeds = range(config.first_seed, config.first_seed + config.seeds)
    jobs = [(racer, seed) for racer in config.methods for seed in seeds]
    args = [(racer, s, config, student_path, teacher_path, s == config.first_seed) for racer, s in jobs]
    outputs, comparison.workers = run_runs(args, config.workers, progress)
    for (racer, _), (result, snapshots, weights) in zip(jobs, outputs):
        comparison.runs.setdefault(racer, []).append(result)
        if weights is not None:
            student, _ = load(student_path)
            student.load_state_dict(weights)
            comparison.students[racer], comparison.snapshots[racer] = student, snapshots
    comparison.wall_seconds = time.perf_counter() - started
    return comparison


def run_runs(args: list[tuple], workers: int = 0, progress: bool = True) -> tuple[list, int]:
    """``[_train_one(*a) for a in args]``, side by side in worker processes (0: one per
    core); and the count."""
    workers = min(workers or cores(), len(args))
    with tqdm(total=len(args), desc="runs", disable=not progress) as bar:
        if workers > 1:
            return run_jobs(_train_one, args, workers, on_done=bar.update), workers
        outputs = []
        for a in args:
            outputs.append(_train_one(*a))
            bar.update()
        return outputs, workers
