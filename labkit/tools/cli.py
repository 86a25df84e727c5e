"""Command line: ``python -m labkit {eval,train,build-data}``.

Bad input exits non-zero with one readable line.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from ..errors import LabkitError


def _eval(args) -> None:
    from ..evaluate import evaluate, task_of
    from ..models import load

    if args.n < 1:
        raise LabkitError(f"--n must be at least 1, got {args.n}")
    model, tokenizer = load(args.model)
    task = task_of(args.model)
    greedy = evaluate(model, tokenizer, task, n=args.n, seed=args.seed, temperature=0.0)
    sampled = evaluate(model, tokenizer, task, n=args.n, seed=args.seed, temperature=1.0)
    print(
        json.dumps(
            {
                "accuracy": greedy.accuracy,
                "sampled_accuracy": sampled.accuracy,
                "n": args.n,
                "seed": args.seed,
                "model": str(args.model),
            }
        )
    )


def _train(args) -> None:
    from ..evaluate import task_of
    from ..models import load
    from ..train import TrainConfig, train

    overrides = {
        f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None
    }
    config = TrainConfig(**overrides).validate()
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise LabkitError(f"--out {args.out} is a file; pass a folder (it is created if missing)")
    student, tokenizer = load(args.student)
    teacher = teacher_tokenizer = None
    # rl and sft on reference solutions do not learn from the teacher, but it still watches:
    # teacher_kl is logged
    if config.needs_teacher() or Path(args.teacher).exists():
        teacher, teacher_tokenizer = load(args.teacher)
    result = train(
        config,
        student,
        tokenizer,
        task_of(args.student),
        teacher=teacher,
        out_dir=args.out,
        teacher_tokenizer=teacher_tokenizer,
        resume=args.resume,
    )
    last = result.history[-1]
    print(
        json.dumps(
            {
                "out": str(args.out),
                "steps": config.steps,
                "method": config.method,
                "eval_accuracy": last.get("eval_accuracy"),
                "teacher_kl": last.get("teacher_kl"),
                "flops": last["flops"],
                "seconds": round(last["seconds"], 2),
            }
        )
    )


def _compare(args) -> None:
    from ..studies.compare import CompareConfig
    from ..views.race import compare_to_disk

    methods = tuple(args.methods.split(",")) if args.methods else CompareConfig.methods
    config = CompareConfig(
        budget=args.budget, seeds=args.seeds, methods=methods, eval_n=args.eval_n, workers=args.workers
    ).validate()
    summary = compare_to_disk(args.out, config)
    print(
        json.dumps(
            {
                "out": str(args.out),
                "teacher_accuracy": summary["teacher_accuracy"],
                "final_accuracy": {m: e["final_accuracy"] for m, e in summary["methods"].items()},
                "flops_to_target": {m: e["flops_to_target"] for m, e in summary["methods"].items()},
                "wall_seconds": round(summary["wall_seconds"], 1),
            }
        )
    )


def _build(args) -> None:
    from .build import build

    build(
        args.out,
        args.teacher_steps,
        args.student_steps,
        roles=tuple(args.only or ("teacher", "student", "teacher-small")),
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m labkit", description="labkit: SFT, RL and on-policy distillation on tiny models"
    )
    sub = p.add_subparsers(dest="command", required=True)
    for add in (_eval_parser, _train_parser, _compare_parser, _build_parser):
        add(sub)
    return p


def _eval_parser(sub) -> None:
    e = sub.add_parser("eval", help="held-out accuracy of a model, as one JSON object")
    e.add_argument("--model", required=True, help="model folder in HF format (e.g. data/teacher)")
    e.add_argument("--n", type=int, default=512, help="number of held-out problems")
    e.add_argument("--seed", type=int, default=0, help="seed of the problems and of sampling")
    e.set_defaults(func=_eval)


def _train_parser(sub) -> None:
    """``train``: one flag per TrainConfig field, with the field's docstring as its help."""
    from ..train import TrainConfig

    t = sub.add_parser(
        "train", help="train a student with one method; writes OUT/metrics.jsonl and OUT/final/"
    )
    t.add_argument("--out", required=True, help="output folder")
    t.add_argument("--student", default="data/student", help="student model folder (default data/student)")
    t.add_argument("--teacher", default="data/teacher", help="teacher model folder (default data/teacher)")
    t.add_argument(
        "--resume",
        action="store_true",
        help="continue from OUT/checkpoint (same settings) as if never stopped",
    )
    helps = TrainConfig.field_help()
    for f in fields(TrainConfig):
        kind = {"int": int, "float": float, "str": str, "bool": None}[
            f.type if isinstance(f.type, str) else f.type.__name__
        ]
        how = {"type": kind} if kind else {"action": argparse.BooleanOptionalAction}
        flag, help_text = f"--{f.name.replace('_', '-')}", f"{helps.get(f.name, '')} (default {f.default})"
        t.add_argument(flag, dest=f.name, default=None, help=help_text, **how)
    t.set_defaults(func=_train)


def _compare_parser(sub) -> None:
    from ..studies.compare import CompareConfig

    defaults = CompareConfig()
    c = sub.add_parser(
        "compare", help="every racer side by side on one FLOP budget; writes JSON, a table and figures"
    )
    c.add_argument(
        "--out", required=True, help="output folder for side_by_side.json, table.md and the PNG figures"
    )
    c.add_argument(
        "--seeds", type=int, default=defaults.seeds, help=f"runs per racer (default {defaults.seeds})"
    )
    c.add_argument(
        "--budget",
        type=float,
        default=defaults.budget,
        help=f"FLOPs per run, teacher and student together (default {defaults.budget:.0e})",
    )
    c.add_argument(
        "--methods", default=None, help="comma-separated subset of the racers, e.g. sft,opd (default: all)"
    )
    c.add_argument(
        "--eval-n",
        dest="eval_n",
        type=int,
        default=defaults.eval_n,
        help=f"held-out problems per evaluation (default {defaults.eval_n})",
    )
    c.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes running runs side by side, one thread each (default 0: one per CPU core; 1: none)",
    )
    c.set_defaults(func=_compare)


def _build_parser(sub) -> None:
    b = sub.add_parser(
        "build-data", help="rebuild data/teacher and data/student from scratch (about 10 minutes)"
    )
    b.add_argument("--out", default="data")
    b.add_argument("--teacher-steps", type=int, default=None)
    b.add_argument("--student-steps", type=int, default=None)
    b.add_argument(
        "--only",
        choices=["teacher", "student", "teacher-small"],
        action="append",
        help="rebuild only this model (the student needs the teacher already in --out)",
    )
    b.set_defaults(func=_build)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except LabkitError as exc:
        print(f"labkit: error: {exc}", file=sys.stderr)
        return 2
    return 0
