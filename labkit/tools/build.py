"""Rebuild the lab's shipped checkpoints, ``data/teacher`` and ``data/student``, from scratch.

    python -m labkit build-data [--out data] [--teacher-steps N] [--student-steps N]

Both models go through the lab's own training loop (method ``sft``), with
fixed seeds, so a rebuild reproduces them. The teacher learns from reference
solutions; the student from teacher samples, briefly, so the right tokens are
in its support while it stays clearly worse than the teacher. The recipes and
the builder live in labkit.studies.recipes; this is the command's door.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from pathlib import Path

import torch

from ..models import STUDENT_SIZE, TEACHER_SIZE, load
from ..studies.recipes import (
    SHIPPED_TASK,
    SMALL_TEACHER_RECIPE,
    STUDENT_RECIPE,
    TEACHER_RECIPE,
    build_to_targets,
)
from ..task import AdditionTask
from ..tokenizer import build_tokenizer
from ..train import TrainConfig


def build_role(role: str, size, config: TrainConfig, out: Path, task: AdditionTask) -> dict:
    """Train one checkpoint of ``out`` from scratch by its recipe (the student learns from ``out/teacher``'s
    samples), save it in HF format with its report in labkit.json, and return the report."""
    tokenizer = build_tokenizer()
    teacher = load(out / "teacher")[0] if role == "student" else None
    reports = build_to_targets(config, size, tokenizer, task, {None: out / role}, role, teacher=teacher,
                               run_dir=out / f".{role}-run", full=True)  # fmt: skip
    return reports[None]


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
