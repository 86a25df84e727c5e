"""The headline: every method from the same student start, on the same FLOP budget, over several seeds.

    python -m labkit compare --out DIR [--seeds K] [--budget FLOPS]

writes ``DIR/side_by_side.json`` and the figures ``DIR/*.png``. The JSON has
``teacher_accuracy``, ``target_accuracy`` and, per method under ``methods``:
``curves`` (one per seed: ``flops``, ``seconds``, ``episodes``, ``accuracy``),
``flops_to_target``, ``seconds_to_target``, ``episodes_to_target`` (median over
seeds, null unless every seed reached the target), ``final_accuracy`` (mean)
and ``final_accuracy_spread`` (min, max).
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..encoding import encode_prompts
from ..errors import LabkitError
from ..evaluate import evaluate, task_of
from ..models import check_compatible, load
from ..pertoken import score_tokens
from ..sampling import sample
from ..tools.checkpoint import write_json_atomic, write_text_atomic
from ..tools.workers import cores, parent_alive, run_jobs
from ..train import EVAL_SEED, METHODS, TrainConfig, train
from .costs import cost_to_reach

# What each method runs with in the comparison. Everything not listed is shared (TrainConfig defaults + CompareConfig).
# Learning rates were not tuned per method: 3e-4 trained SFT and OPD steadily in notebooks 02 and 04; RL gets 2e-4 and a
# longer warm-up because early explorations saw GRPO collapse at >= 3e-4 on a trained student.
METHOD_SETTINGS = {
    "sft": {"learning_rate": 3e-4},
    "rl": {"learning_rate": 2e-4, "warmup_steps": 20},
    "opd": {"learning_rate": 3e-4},
    "opd-exact": {"learning_rate": 3e-4},
    "gkd": {"learning_rate": 3e-4, "lmbda": 0.5, "beta": 0.5},
}


@dataclass
class CompareConfig:
    """Settings of a side-by-side comparison."""

    budget: float = 1e12
    """FLOPs each run may spend (teacher and student counted together)"""
    seeds: int = 3
    """independent runs per method"""
    methods: tuple[str, ...] = METHODS
    """which methods to compare"""
    batch_size: int = 16
    """prompts per step, the same for every method"""
    group_size: int = 4
    """samples per prompt, the same for every method"""
    eval_n: int = 256
    """held-out problems per evaluation (sampled at T=1)"""
    eval_points: int = 8
    """evaluations along the budget"""
    target_fraction: float = 0.9
    """the target accuracy, as a fraction of the teacher's sampled accuracy"""
    monitor_every: int = 10
    """log teacher_kl and entropy every this many steps (watching is uncharged, but in wall time it cost RL and SFT
    a third of their runs when done every step; nothing in the comparison reads it)"""
    snapshot_prompts: int = 4
    """held-out prompts whose per-token scores are kept at each evaluation of the first seed (for the explorer)"""
    workers: int = 0
    """processes running runs side by side, one thread each (0: one per CPU core this process may use, at most one
    per run); 1 runs everything in this process"""

    def validate(self) -> CompareConfig:
        if not self.budget > 0:
            raise LabkitError(f"budget must be a positive number of FLOPs, got {self.budget!r}")
        if self.seeds < 1:
            raise LabkitError(f"seeds must be at least 1, got {self.seeds}")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise LabkitError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
        if not isinstance(self.workers, int) or self.workers < 0:
            raise LabkitError(
                f"workers must be a whole number >= 0 (0: one per CPU core), got {self.workers!r}"
            )
        if not 0 < self.target_fraction <= 1:
            raise LabkitError(f"target_fraction must lie in (0, 1], got {self.target_fraction}")
        return self


@dataclass
class Comparison:
    config: CompareConfig
    teacher_accuracy: float
    target_accuracy: float
    runs: dict[str, list] = field(default_factory=dict)  # method -> [TrainResult per seed]
    snapshots: dict[str, list] = field(
        default_factory=dict
    )  # method -> [{step, flops, scores: [TokenScores]}]
    students: dict[str, object] = field(default_factory=dict)  # method -> the first seed's trained student
    wall_seconds: float = 0.0
    workers: int = 1


def summarize(comparison: Comparison) -> dict:
    """The results JSON: curves per seed, cost to target, final accuracy, and a table shaped like the post's."""
    target = comparison.target_accuracy
    methods = {}
    for method, results in comparison.runs.items():
        curves = []
        for seed, result in enumerate(results):
            rows = result.evals()
            curves.append(
                {
                    "seed": seed,
                    "flops": [r["flops"] for r in rows],
                    "student_flops_curve": [r["student_flops"] for r in rows],
                    "seconds": [r["seconds"] for r in rows],
                    "episodes": [r["episodes"] for r in rows],
                    "accuracy": [r["eval_accuracy"] for r in rows],
                    "teacher_flops": rows[-1]["teacher_flops"],
                    "student_flops": rows[-1]["student_flops"],
                }
            )
        entry = {"curves": curves, "settings": METHOD_SETTINGS.get(method, {})}
        for key in ("flops", "seconds", "episodes"):
            entry[f"{key}_to_target"] = cost_to_reach(entry, key, target)
        entry["seeds_reaching_target"] = sum(
            cost_to_reach({"curves": [c]}, "flops", target) is not None for c in curves
        )
        finals = [c["accuracy"][-1] for c in curves]
        entry["final_accuracy"] = sum(finals) / len(finals)
        entry["final_accuracy_spread"] = [min(finals), max(finals)]
        entry["teacher_flops"] = sum(c["teacher_flops"] for c in curves) / len(curves)
        entry["student_flops"] = sum(c["student_flops"] for c in curves) / len(curves)
        methods[method] = entry
    reached = {m: e["flops_to_target"] for m, e in methods.items() if e["flops_to_target"] is not None}
    cheapest = min(reached.values()) if reached else None
    table = [
        {
            "method": m,
            "teacher_flops": e["teacher_flops"],
            "student_flops": e["student_flops"],
            "final_accuracy": e["final_accuracy"],
            "flops_to_target": e["flops_to_target"],
            "cost_relative_to_cheapest": (e["flops_to_target"] / cheapest)
            if cheapest and e["flops_to_target"]
            else None,
        }
        for m, e in methods.items()
    ]
    return {
        "teacher_accuracy": comparison.teacher_accuracy,
        "target_accuracy": target,
        "config": asdict(comparison.config),
        "methods": methods,
        "table": table,
        "wall_seconds": comparison.wall_seconds,
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "workers": comparison.workers,
            "threads_per_run": 1,
        },
    }


def _train_one(
    method: str, seed: int, config: CompareConfig, student_path: str, teacher_path: str, keep_student: bool
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
        probe = task.problems(config.snapshot_prompts, "held_out", seed=EVAL_SEED + 1)
        probe_ids = encode_prompts(tokenizer, [p.prompt for p in probe])
        settings = {
            "method": method,
            "seed": seed,
            "steps": 100_000,
            "batch_size": config.batch_size,
            "group_size": config.group_size,
            "eval_n": config.eval_n,
            "flop_budget": config.budget,
            "eval_points": config.eval_points,
            "monitor_every": config.monitor_every,
            **METHOD_SETTINGS.get(method, {}),
        }
        snapshots = []

        def snapshot(step, batch, row):
            if not parent_alive():  # in a worker whose notebook was killed: stop, leave no orphan
                os._exit(1)
            if keep_student and "eval_accuracy" in row:
                rollout = sample(
                    student,
                    probe_ids,
                    task.max_completion_length,
                    tokenizer,
                    1.0,
                    torch.Generator().manual_seed(step),
                )
                scores = score_tokens(
                    student,
                    teacher,
                    tokenizer,
                    rollout.sequences,
                    rollout.prompt_length,
                    rollout.completion_mask,
                )
                snapshots.append({"step": step, "flops": row["flops"], "scores": scores})

        result = train(
            TrainConfig(**settings),
            student,
            tokenizer,
            task,
            teacher=teacher,
            teacher_tokenizer=teacher_tokenizer,
            progress=False,
            on_step=snapshot,
        )
        return result, snapshots, (student.state_dict() if keep_student else None)
    finally:
        torch.set_num_threads(threads)


def run_comparison(
    config: CompareConfig, student_path=None, teacher_path=None, progress: bool = True
) -> Comparison:
    """Train every method ``config.seeds`` times from the same start on the same budget; evaluate along the way.

    Runs are independent, so ``config.workers`` processes run them side by side, one thread each. Accuracies, FLOPs
    and episodes do not depend on the number of workers (a test checks it); wall seconds do, a little (the workers
    share the machine's memory bandwidth), and the summary records the worker count.
    """
    from ..tools.notebook import data_dir

    config.validate()
    student_path = str(Path(student_path) if student_path else data_dir() / "student")
    teacher_path = str(Path(teacher_path) if teacher_path else data_dir() / "teacher")
    teacher, teacher_tokenizer = load(teacher_path)
    _, tokenizer = load(student_path)
    check_compatible(tokenizer, teacher_tokenizer)
    task = task_of(student_path)
    started = time.perf_counter()
    teacher_accuracy = evaluate(
        teacher, tokenizer, task, n=config.eval_n, seed=EVAL_SEED, temperature=1.0
    ).accuracy
    comparison = Comparison(config, teacher_accuracy, config.target_fraction * teacher_accuracy)

    jobs = [(method, seed) for method in config.methods for seed in range(config.seeds)]
    args = [(method, seed, config, student_path, teacher_path, seed == 0) for method, seed in jobs]
    workers = min(config.workers or cores(), len(jobs))
    with tqdm(total=len(jobs), desc="runs", disable=not progress) as bar:
        if workers == 1:
            outputs = []
            for a in args:
                outputs.append(_train_one(*a))
                bar.update()
        else:
            outputs = run_jobs(_train_one, args, workers, on_done=bar.update)
    for (method, seed), (result, snapshots, weights) in zip(jobs, outputs):
        comparison.runs.setdefault(method, []).append(result)
        if weights is not None:
            student, _ = load(student_path)
            student.load_state_dict(weights)
            comparison.students[method], comparison.snapshots[method] = student, snapshots
    comparison.wall_seconds, comparison.workers = time.perf_counter() - started, workers
    return comparison


def plot_comparison(summary: dict, out_dir: Path | None = None) -> dict:
    """Accuracy against FLOPs (log), wall seconds and episodes: mean over seeds with a min-max band."""
    import matplotlib.pyplot as plt
    import numpy as np

    from ..plots import METHOD_COLORS

    figures = {}
    for key, label, log in (
        ("flops", "FLOPs (teacher + student)", True),
        ("seconds", "wall seconds", False),
        ("episodes", "episodes (sampled sequences)", True),
    ):
        fig, ax = plt.subplots(figsize=(6, 3.8))
        for method, entry in summary["methods"].items():
            curves = entry["curves"]
            grid = np.linspace(
                max(c[key][1] for c in curves) if log else 0, min(c[key][-1] for c in curves), 50
            )
            ys = np.array([np.interp(grid, c[key], c["accuracy"]) for c in curves])
            color = METHOD_COLORS.get(method)
            ax.plot(grid, ys.mean(0), color=color, label=f"{method} (n={len(curves)})")
            ax.fill_between(grid, ys.min(0), ys.max(0), color=color, alpha=0.15)
        ax.axhline(summary["teacher_accuracy"], color="#444", ls="--", lw=1, label="teacher")
        ax.axhline(summary["target_accuracy"], color="#444", ls=":", lw=1, label="target")
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("held-out accuracy (T=1)")
        ax.set_title(f"accuracy against {key}")
        ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        figures[key] = fig
        if out_dir is not None:
            fig.savefig(Path(out_dir) / f"accuracy_vs_{key}.png", dpi=120)
    return figures


def format_table(summary: dict) -> str:
    """The post's compute table for this run, as Markdown."""
    lines = [
        f"target: {summary['target_accuracy']:.1%} ({summary['config']['target_fraction']:.0%} of the teacher's "
        f"{summary['teacher_accuracy']:.1%})",
        "",
        "| method | teacher FLOPs | student FLOPs | final accuracy (mean) | FLOPs to target | cost vs cheapest |",
        "|---|---|---|---|---|---|",
    ]
    for row in summary["table"]:
        to_target = f"{row['flops_to_target']:.2e}" if row["flops_to_target"] else "not reached"
        relative = f"{row['cost_relative_to_cheapest']:.2f}×" if row["cost_relative_to_cheapest"] else "–"
        lines.append(
            f"| {row['method']} | {row['teacher_flops']:.2e} | {row['student_flops']:.2e} | "
            f"{row['final_accuracy']:.1%} | {to_target} | {relative} |"
        )
    return "\n".join(lines)


def compare_to_disk(out: str | Path, config: CompareConfig, progress: bool = True) -> dict:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LabkitError(f"--out {out} is a file; pass a folder")
    out.mkdir(parents=True, exist_ok=True)
    comparison = run_comparison(config, progress=progress)
    summary = summarize(comparison)
    write_json_atomic(out / "side_by_side.json", summary)
    plot_comparison(summary, out)
    write_text_atomic(out / "table.md", format_table(summary) + "\n")
    return summary
