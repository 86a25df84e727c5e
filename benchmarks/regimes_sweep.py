"""When does on-policy distillation win? SFT, RL and OPD raced in regimes that differ from the shipped one in one knob.

    .venv/bin/python benchmarks/regimes_sweep.py [--seeds 3] [--budget 1e12] [--work outputs/sweep] [--only NAME ...]

Regimes (each a teacher, a student and a task):
  shipped           data/teacher -> data/student; style 0.5 (every irrelevant style choice is a coin flip)
  same-size-teacher data/teacher-small -> data/student: a teacher of the student's own architecture
  no-style-entropy  the same sizes and recipes on the task with style 0: the zero-entropy control
  small-student     data/teacher -> a 1-layer, d=48 student (~30K parameters)
  long-chains       the shipped sizes and recipes on 5-digit addition (5 dependent column steps instead of 3)
  corrections       the shipped sizes and recipes on a task where 20% of steps are written wrong, marked `!` and redone:
                    a teacher that can correct a mistake
  stronger-start    data/teacher -> a student of the shipped size whose SFT warm-up ran until 50% (not 28%)

New students learn from their teacher's samples (the shipped student's recipe) and stop at the first evaluation
(every 25 steps) where they reach the shipped student's start accuracy, so every race starts from the same success
rate. Models are built into --work (reused if present). Writes benchmarks/results/regimes_sweep.json: per regime the
teacher's accuracy and per-token entropy, the start accuracy, the race's summary and cost ratios under every
accounting (labkit.studies.costs), and benchmarks/results/regimes_sweep.md, the table the README shows. Notebook 08 reads it.
"""

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from labkit.tools.build import STUDENT_RECIPE, TEACHER_RECIPE, final_report
from labkit.tools.checkpoint import write_json_atomic, write_text_atomic
from labkit.studies.compare import CompareConfig, run_comparison, summarize
from labkit.encoding import encode_prompts
from labkit.evaluate import evaluate, task_of
from labkit.models import STUDENT_SIZE, TEACHER_SIZE, ModelSize, build_model, count_parameters, load, save
from labkit.objectives import entropy, masked_mean
from labkit.studies.costs import ACCOUNTINGS, cost_ratios, pair_level, pair_ratio
from labkit.sampling import sample, token_logprobs
from labkit.tokenizer import build_tokenizer
from labkit.train import EVAL_SEED, train

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ORDER = (
    "shipped",
    "same-size-teacher",
    "no-style-entropy",
    "small-student",
    "long-chains",
    "corrections",
    "stronger-start",
)
STRONGER_START = 0.5
SMALL_STUDENT = ModelSize(n_layer=1, d_model=48, n_head=4, d_mlp=144)


class _Reached(Exception):
    pass


def start_accuracy(path) -> float:
    """Sampled accuracy exactly as every race measures its step 0 (256 held-out problems, EVAL_SEED, T=1)."""
    model, tokenizer = load(path)
    return evaluate(model, tokenizer, task_of(path), n=256, seed=EVAL_SEED, temperature=1.0).accuracy


def teacher_entropy(path, n=256) -> float:
    """Mean entropy (nats per token) of the teacher on its own samples: how much of its output is a free choice."""
    model, tokenizer = load(path)
    task = task_of(path)
    prompts = encode_prompts(tokenizer, [p.prompt for p in task.problems(n, "held_out", seed=EVAL_SEED)])
    rollout = sample(
        model,
        prompts,
        task.max_completion_length,
        tokenizer,
        1.0,
        torch.Generator().manual_seed(0),
    )
    with torch.no_grad():
        _, logits = token_logprobs(model, rollout.sequences, rollout.prompt_length, return_logits=True)
    return float(masked_mean(entropy(logits), rollout.completion_mask))


def build_teacher(task, out: Path) -> dict:
    if (out / "labkit.json").exists():
        return json.loads((out / "labkit.json").read_text())
    tokenizer = build_tokenizer()
    model = build_model(TEACHER_SIZE, tokenizer, seed=TEACHER_RECIPE.seed)
    started = time.perf_counter()
    train(replace(TEACHER_RECIPE, monitor_every=50), model, tokenizer, task, progress=True)
    report = {
        "parameters": count_parameters(model),
        "train_seconds": round(time.perf_counter() - started, 1),
        **final_report(model, tokenizer, task),
    }  # the shipped checkpoints' accuracies, measured the same way
    save(
        model,
        tokenizer,
        out,
        extra={"task": asdict(task), "role": "teacher", "size": asdict(TEACHER_SIZE), **report},
    )
    return report


def build_student(teacher_path: Path, size: ModelSize, target: float, out: Path) -> dict:
    """SFT on the teacher's samples (the shipped student's recipe), stopped once held-out accuracy reaches ``target``."""
    if (out / "labkit.json").exists():
        return json.loads((out / "labkit.json").read_text())
    teacher, tokenizer = load(teacher_path)
    task = task_of(teacher_path)
    model = build_model(size, tokenizer, seed=STUDENT_RECIPE.seed)
    config = replace(
        STUDENT_RECIPE, steps=2000, eval_points=80, eval_n=256, eval_temperature=1.0, monitor_every=50
    )
    started = time.perf_counter()

    def stop_at_target(step, batch, row):
        if row.get("eval_accuracy", 0.0) >= target:
            raise _Reached(step)

    try:
        train(config, model, tokenizer, task, teacher=teacher, progress=True, on_step=stop_at_target)
        steps = config.steps
    except _Reached as reached:
        steps = reached.args[0]
    report = {
        "parameters": count_parameters(model),
        "steps": steps,
        "target": target,
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    save(
        model, tokenizer, out, extra={"task": asdict(task), "role": "student", "size": asdict(size), **report}
    )
    return report


def regimes(work: Path, target: float) -> dict:
    """name -> (teacher path, student path, what differs, a function that builds what is missing)."""
    shipped_task = task_of(ROOT / "data" / "teacher")
    shipped_teacher = ROOT / "data" / "teacher"

    def new_pair(
        task, tag, what
    ):  # a teacher and a student of the shipped sizes and recipes, on another task
        teacher, student = work / f"teacher-{tag}", work / f"student-{tag}"
        return (
            teacher,
            student,
            what,
            lambda: {
                "teacher": build_teacher(task, teacher),
                "student": build_student(teacher, STUDENT_SIZE, target, student),
            },
        )

    def new_student(size, start, tag, what):  # the shipped teacher and a new student
        student = work / f"student-{tag}"
        return (
            shipped_teacher,
            student,
            what,
            lambda: {"student": build_student(shipped_teacher, size, start, student)},
        )

    return {
        "shipped": (
            shipped_teacher,
            ROOT / "data" / "student",
            "style 0.5, teacher 1.05M, student 109K (the headline)",
            lambda: {},
        ),
        "same-size-teacher": (
            ROOT / "data" / "teacher-small",
            ROOT / "data" / "student",
            "style 0.5, teacher = student size (109K), trained by SFT on reference solutions",
            lambda: {},
        ),
        "no-style-entropy": new_pair(
            replace(shipped_task, style=0.0),
            "style0",
            "style 0: the same sizes and recipes with no irrelevant choices",
        ),
        "small-student": new_student(SMALL_STUDENT, target, "small", "style 0.5, student 1 layer d=48"),
        "long-chains": new_pair(
            replace(shipped_task, digits=5),
            "digits5",
            "5-digit addition, style 0.5: the same sizes and recipes, longer dependent chains",
        ),
        "corrections": new_pair(
            replace(shipped_task, corrections=0.2),
            "corrections",
            "style 0.5, corrections 0.2: the teacher learned to mark and redo a wrong step",
        ),
        "stronger-start": new_student(
            STUDENT_SIZE,
            STRONGER_START,
            "start50",
            f"style 0.5, the shipped sizes, a student warmed up to {STRONGER_START:.0%}",
        ),
    }


def format_sweep(results: dict) -> str:
    """The README's table: per regime and accounting, SFT's and RL's cost over OPD's at the level each pair reached."""

    def cell(summary, accounting, method):
        priced = pair_ratio(summary, accounting, method)
        if priced["ratio"] is None:
            return (
                "– (no common gain)"
                if priced["level"] <= summary["methods"]["opd"]["curves"][0]["accuracy"][0]
                else "not reached"
            )
        span = priced["range"]
        return f"{priced['ratio']:.2f}× ({span[0]:.2f}–{span[1]:.2f})" if span else f"{priced['ratio']:.2f}×"

    lines = [
        f"{results['seeds']} seeds × {results['budget']:.0e} FLOPs per run. Each cell: the cost for SFT (or RL) to "
        "reach the highest held-out accuracy every seed of it and of OPD reached, over OPD's cost (> 1: OPD is "
        "cheaper); median over seeds, in brackets the range over every pair of seeds.",
        "",
        "| regime | teacher entropy (nats/token) | start | level SFT–OPD / RL–OPD | counted as | SFT / OPD | RL / OPD | "
        "final SFT / RL / OPD |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = sorted(results["regimes"], key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
    for name in names:
        entry = results["regimes"][name]
        summary, final = entry["summary"], entry["final_accuracy"]
        for k, accounting in enumerate(ACCOUNTINGS):
            levels = " / ".join(f"{pair_level(summary, m):.1%}" for m in ("sft", "rl"))
            head = (
                (
                    f"{name} ({entry['student_parameters'] // 1000}K student)",
                    f"{entry['teacher_entropy_nats_per_token']:.3f}",
                    f"{entry['start_accuracy']:.1%}",
                    levels,
                )
                if k == 0
                else ("", "", "", "")
            )
            tail = " / ".join(f"{final[m]:.1%}" for m in ("sft", "rl", "opd")) if k == 0 else ""
            lines.append(
                f"| {' | '.join(head)} | {accounting} | {cell(summary, accounting, 'sft')} | "
                f"{cell(summary, accounting, 'rl')} | {tail} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=float, default=1e12)
    p.add_argument(
        "--work", default=str(ROOT / "outputs" / "sweep"), help="where built models go (reused if present)"
    )
    p.add_argument(
        "--only", nargs="*", help="run only these regimes (the others keep their results in the JSON)"
    )
    args = p.parse_args()
    out_path = RESULTS / "regimes_sweep.json"
    results = json.loads(out_path.read_text()) if out_path.exists() else {"regimes": {}}
    target = start_accuracy(ROOT / "data" / "student")
    for name, (teacher, student, what, build) in regimes(Path(args.work), target).items():
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        built = build()
        config = CompareConfig(
            methods=("sft", "rl", "opd"), seeds=args.seeds, budget=args.budget, snapshot_prompts=1
        )
        summary = summarize(run_comparison(config, student_path=student, teacher_path=teacher, progress=True))
        results["regimes"][name] = {
            "what": what,
            "teacher": str(Path(teacher).relative_to(ROOT))
            if Path(teacher).is_relative_to(ROOT)
            else str(teacher),
            "built": built,
            "teacher_entropy_nats_per_token": teacher_entropy(teacher),
            "student_parameters": count_parameters(load(student)[0]),
            "start_accuracy": start_accuracy(student),
            "teacher_accuracy": summary["teacher_accuracy"],
            "ratios": cost_ratios(summary),
            "final_accuracy": {m: e["final_accuracy"] for m, e in summary["methods"].items()},
            "summary": summary,
            "seconds": round(time.perf_counter() - started, 1),
        }
        results.update({"seeds": args.seeds, "budget": args.budget, "start_target": target})
        write_json_atomic(out_path, results)
        write_text_atomic(RESULTS / "regimes_sweep.md", format_sweep(results))
        print(
            json.dumps(
                {
                    name: {
                        k: results["regimes"][name][k]
                        for k in (
                            "start_accuracy",
                            "teacher_accuracy",
                            "teacher_entropy_nats_per_token",
                            "ratios",
                        )
                    }
                },
                indent=1,
            )
        )
