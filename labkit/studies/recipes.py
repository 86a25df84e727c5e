"""The recipes every built checkpoint follows, and the one function that builds a model by a recipe.

``build_to_targets`` trains a model from scratch with the lab's own loop (fixed seeds, so a rebuild
reproduces it) and saves it, in HF format with its report in labkit.json, at the end of the run or the first
time its held-out accuracy reaches a target. Users: ``python -m labkit build-data`` (labkit/tools/build.py:
data/teacher, data/student, data/teacher-small), the map's new teachers and students (labkit.studies.regimes,
benchmarks/regimes_sweep.py) and the premises' sparse-reward students (labkit.studies.premises,
benchmarks/premises.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from ..evaluate import evaluate
from ..models import ModelSize, build_model, count_parameters, save
from ..task import AdditionTask, Task
from ..train import TrainConfig, train

SHIPPED_TASK = AdditionTask(digits=3, style=0.5, corrections=0.0)
TEACHER_RECIPE = TrainConfig(
    method="sft",
    sft_data="reference",
    steps=1500,
    seed=0,
    learning_rate=1e-3,
    warmup_steps=100,
    batch_size=128,
    group_size=1,
    eval_points=6,
    eval_n=256,
    eval_temperature=0.0,
)
# Stopped early on purpose
# (data/README.md: continued SFT takes this student past 90%, so it is not capacity-limited).
STUDENT_RECIPE = TrainConfig(
    method="sft",
    sft_data="teacher",
    steps=300,
    seed=1,
    learning_rate=3e-3,
    lr_schedule="constant",
    warmup_steps=100,
    batch_size=128,
    group_size=1,
    eval_points=6,
    eval_n=256,
)
# A teacher of the student's own size: scoring with it costs what the student's own forward pass costs.
# It learns the task to near the big teacher's level by SFT on reference solutions.
SMALL_TEACHER_RECIPE = TrainConfig(
    method="sft",
    sft_data="reference",
    steps=1000,
    seed=2,
    learning_rate=3e-3,
    warmup_steps=100,
    batch_size=128,
    group_size=1,
    eval_points=4,
    eval_n=256,
)
FINAL_EVAL_N = 1000


def final_report(model, tokenizer, task) -> dict:
    """Greedy and sampled accuracy on FINAL_EVAL_N held-out problems:
    how every built checkpoint is reported."""
    greedy = evaluate(model, tokenizer, task, n=FINAL_EVAL_N, seed=0, temperature=0.0)
    sampled = evaluate(model, tokenizer, task, n=FINAL_EVAL_N, seed=0, temperature=1.0)
    return {"greedy_accuracy": greedy.accuracy, "sampled_accuracy": sampled.accuracy, "eval_n": FINAL_EVAL_N}


def built(outs: dict) -> dict | None:
    """``{target: labkit.json}`` when every folder of ``outs`` (``{target: folder}``) already holds a built
    model (builds are deterministic, so they are reused), else None."""
    if all((Path(out) / "labkit.json").exists() for out in outs.values()):
        return {target: json.loads((Path(out) / "labkit.json").read_text()) for target, out in outs.items()}
    return None


def build_to_targets(
    config: TrainConfig,
    size: ModelSize,
    tokenizer,
    task: Task,
    outs: dict[float | None, Path],
    role: str,
    teacher=None,
    run_dir: Path | None = None,
    reached: bool = True,
    full: bool = False,
) -> dict:
    """Train a model of ``size`` from scratch by ``config`` (seeded by ``config.seed``; SFT on ``teacher``'s
    samples when the recipe says so) and save it into ``outs[target]`` the first time held-out accuracy (an
    evaluation of ``config``) reaches ``target``; the target None is the end of the run. One run serves every
    target, and it stops as soon as each float target is saved and None is not asked for. A target never
    reached gets the last model, labelled with the accuracy it did reach. Returns ``{target: report}``.

    A target's report: parameters, the step it was saved at, the target, the accuracy ``reached`` (unless
    ``reached=False``) and the seconds trained. The end of the run's: parameters, seconds and
    ``final_report``; ``full`` adds the size, the recipe and every evaluation (build-data's reports). Each
    folder's labkit.json holds the task, the role and the size beside its report. ``run_dir``, when given,
    gets the run's metrics.jsonl and final model (the Trainer's out_dir).
    """
    model = build_model(size, tokenizer, seed=config.seed)
    started = time.perf_counter()
    pending = sorted((target, out) for target, out in outs.items() if target is not None)
    reports, last = {}, {"step": config.steps, "accuracy": 0.0}

    def keep(target, out, step: int, accuracy: float) -> None:
        report = {"parameters": count_parameters(model), "steps": step, "target": target}
        if reached:
            report["reached"] = accuracy
        report["train_seconds"] = round(time.perf_counter() - started, 1)
        save_as(out, report)
        reports[target] = report

    def save_as(out, report: dict) -> None:
        described = {"task": asdict(task), "role": role, "size": asdict(size)}
        save(model, tokenizer, out, extra={**described, **report})

    def snapshot(step, batch, row) -> bool:
        if "eval_accuracy" not in row:
            return False
        last.update(accuracy=row["eval_accuracy"], step=step)
        while pending and row["eval_accuracy"] >= pending[0][0]:
            keep(*pending.pop(0), step, row["eval_accuracy"])
        return not pending and None not in outs  # every target saved: the run ends here

    result = train(config, model, tokenizer, task, teacher=teacher, out_dir=run_dir, on_step=snapshot)
    for target, out in pending:  # never reached: the last model, honestly labelled
        keep(target, out, last["step"], last["accuracy"])
    if None in outs:
        seconds = round(time.perf_counter() - started, 1)
        recipe = {"size": asdict(size), "train": asdict(config)} if full else {}
        report = {"parameters": count_parameters(model), **recipe, "train_seconds": seconds}
        report |= final_report(model, tokenizer, task)  # the shipped checkpoints' accuracies, measured alike
        if full:
            report["curve"] = [{k: row[k] for k in ("step", "eval_accuracy")} for row in result.evals()]
        save_as(outs[None], report)
        reports[None] = report
    return reports
