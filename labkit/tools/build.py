"""Rebuild the lab's shipped checkpoints, ``data/teacher`` and ``data/student``, from scratch.

    python -m labkit build-data [--out data] [--teacher-steps N] [--student-steps N]

Both models go through the lab's own training loop (method ``sft``), with
fixed seeds, so a rebuild reproduces them. The teacher learns from reference
solutions; the student from teacher samples, briefly, so the right tokens are
in its support while it stays clearly worse than the teacher.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

import torch

from ..evaluate import evaluate
from ..models import STUDENT_SIZE, TEACHER_SIZE, build_model, count_parameters, save
from ..task import AdditionTask
from ..tokenizer import build_tokenizer
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


def build_role(role: str, size, config: TrainConfig, out: Path, task: AdditionTask) -> dict:
    """Train one checkpoint of ``out`` from scratch by its recipe (the student learns from ``out/teacher``'s
    samples), save it in HF format with its report in labkit.json, and return the report."""
    from ..models import load

    tokenizer = build_tokenizer()
    model = build_model(size, tokenizer, seed=config.seed)
    teacher = load(out / "teacher")[0] if role == "student" else None
    started = time.perf_counter()
    result = train(config, model, tokenizer, task, teacher=teacher, out_dir=out / f".{role}-run")
    report = {
        "parameters": count_parameters(model),
        "size": asdict(size),
        "train": asdict(config),
        "train_seconds": round(time.perf_counter() - started, 1),
        **final_report(model, tokenizer, task),
        "curve": [{k: row[k] for k in ("step", "eval_accuracy")} for row in result.evals()],
    }
    save(model, tokenizer, out / role, extra={"task": asdict(task), "role": role, **report})
    return report


def build(
    out: str | Path = "data",
    teacher_steps: int | None = None,
    student_steps: int | None = None,
    task: AdditionTask = SHIPPED_TASK,
    roles: tuple[str, ...] = ("teacher", "student", "teacher-small"),
) -> dict:
    """Train the teacher, then the student from its samples; save both in HF format with a labkit.json each.

    ``roles=("student",)`` rebuilds only the student from the teacher already in ``out``;
    ``teacher-small`` is a teacher of the student's size, trained on reference solutions.
    """
    out = Path(out)
    summary_path = out / "build.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    summary.update(
        {"task": asdict(task), "torch": torch.__version__, "machine": platform.machine(),
         "threads": torch.get_num_threads()}
    )  # fmt: skip
    for role, size, recipe, steps in (
        ("teacher", TEACHER_SIZE, TEACHER_RECIPE, teacher_steps),
        ("student", STUDENT_SIZE, STUDENT_RECIPE, student_steps),
        ("teacher-small", STUDENT_SIZE, SMALL_TEACHER_RECIPE, None),
    ):
        if role in roles:
            config = TrainConfig(**{**asdict(recipe), "steps": steps or recipe.steps})
            summary[role] = report = build_role(role, size, config, out, task)
            shown = ("parameters", "train_seconds", "greedy_accuracy", "sampled_accuracy")
            print(json.dumps({role: {k: report[k] for k in shown}}))
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary
