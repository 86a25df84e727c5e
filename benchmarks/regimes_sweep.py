"""When does on-policy distillation win? SFT, RL and OPD raced in regimes that differ from the
shipped one in one knob.

    .venv/bin/python benchmarks/regimes_sweep.py [--seeds 3] [--budget 1e12] [--work outputs/sweep]
        [--only NAME ...]

Regimes (each a teacher, a student and a task):
  shipped           data/teacher -> data/student; style 0.5 (every irrelevant style choice is a coin flip)
  same-size-teacher data/teacher-small -> data/student: a teacher of the student's own architecture
  no-style-entropy  the same sizes and recipes on the task with style 0: the zero-entropy control
  small-student     data/teacher -> a 1-layer, d=48 student (~30K parameters)
  long-chains       the shipped sizes and recipes on 5-digit addition (5 dependent column steps instead of 3)
  corrections       the shipped sizes and recipes on a task where 20% of steps are written wrong, marked `!`
                    and redone: a teacher that can correct a mistake
  stronger-start    data/teacher -> a student of the shipped size whose SFT warm-up ran until 50% (not 28%)

New students learn from their teacher's samples (the shipped student's recipe) and stop at the first
evaluation (80 along at most 2,000 steps, on the "build" held-out set, which the races never see) where they
reach the shipped student's accuracy on that set, so every race starts from about the same success rate.
Models are built into --work (reused if present). Writes benchmarks/results/regimes_sweep.json: per regime the
teacher's accuracy and per-token entropy, the start accuracy, the race's summary and cost ratios under every
accounting (labkit.studies.costs), and benchmarks/results/regimes_sweep.md, the table docs/results.md shows.
Notebook 08 reads it.
"""

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from labkit.checkpoint import write_json_atomic, write_text_atomic
from labkit.encoding import encode_prompts
from labkit.evaluate import EVAL_SETS, evaluate, held_out_set, task_of
from labkit.models import STUDENT_SIZE, TEACHER_SIZE, ModelSize, build_model, count_parameters, load, save
from labkit.objectives import entropy, masked_mean
from labkit.sampling import sample, token_logprobs
from labkit.studies.compare import RACERS, CompareConfig, run_comparison, summarize
from labkit.studies.costs import ACCOUNTINGS, describe, pair_ratio
from labkit.tokenizer import build_tokenizer
from labkit.tools.build import STUDENT_RECIPE, TEACHER_RECIPE, final_report
from labkit.train import EVAL_SEED, train
from labkit.views.mapview import in_map_order

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
STRONGER_START = 0.5
SMALL_STUDENT = ModelSize(n_layer=1, d_model=48, n_head=4, d_mlp=144)


class _Reached(Exception):
    pass


def start_accuracy(path, eval_set: str = "race", n: int = 1000) -> float:
    """Sampled accuracy (T=1) on a named held-out set: "race" as every race measures its step 0, "build" as a
    student build decides when to stop (so choosing the start never sees the problems the races report)."""
    model, tokenizer = load(path)
    task = task_of(path)
    problems = held_out_set(task, n, eval_set)
    return evaluate(
        model, tokenizer, task, seed=EVAL_SETS[eval_set], temperature=1.0, problems=problems
    ).accuracy


def teacher_entropy(path, n=256) -> float:
    """Mean entropy (nats per token) of the teacher on its own samples: how much of its output is a
    free choice."""
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


def build_teacher(task, out: Path, size: ModelSize = TEACHER_SIZE, steps: int | None = None) -> dict:
    """A teacher of ``size`` trained on ``task`` by the shipped recipe (reused if ``out`` holds one);
    ``steps`` shortens the recipe for smoke tests."""
    if (out / "labkit.json").exists():
        return json.loads((out / "labkit.json").read_text())
    tokenizer = build_tokenizer()
    model = build_model(size, tokenizer, seed=TEACHER_RECIPE.seed)
    started = time.perf_counter()
    recipe = replace(TEACHER_RECIPE, monitor_every=50, steps=steps or TEACHER_RECIPE.steps)
    train(recipe, model, tokenizer, task, progress=True)
    report = {
        "parameters": count_parameters(model),
        "train_seconds": round(time.perf_counter() - started, 1),
        **final_report(model, tokenizer, task),
    }  # the shipped checkpoints' accuracies, measured the same way
    save(
        model,
        tokenizer,
        out,
        extra={"task": asdict(task), "role": "teacher", "size": asdict(size), **report},
    )
    return report


def build_student(teacher_path: Path, size: ModelSize, target: float, out: Path) -> dict:
    """SFT on the teacher's samples (the shipped student's recipe), stopped once held-out accuracy
    reaches ``target``."""
    if (out / "labkit.json").exists():
        return json.loads((out / "labkit.json").read_text())
    teacher, tokenizer = load(teacher_path)
    task = task_of(teacher_path)
    model = build_model(size, tokenizer, seed=STUDENT_RECIPE.seed)
    config = replace(
        STUDENT_RECIPE,
        steps=2000,
        eval_points=80,
        eval_n=1000,
        eval_set="build",
        eval_temperature=1.0,
        monitor_every=50,
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


def _cell(summary: dict, accounting: str, method: str) -> str:
    priced = pair_ratio(summary, accounting, method)
    if priced["ratio"] is None:
        start = max(c["accuracy"][0] for m in (method, "opd") for c in summary["methods"][m]["curves"])
        return "– (no common gain)" if priced["level"] <= start else "not reached"
    return describe(priced)


PROTOCOL = (
    "every racer of labkit.studies.compare.RACERS, settings tuned on the shipped pair by one "
    "protocol (benchmarks/results/tuning.json), 1,000 race problems per evaluation, 14 evaluations "
    "spaced in log-FLOPs, new students stopped on the build set; 95% bootstrap intervals over seeds "
    "and problems"
)


def format_sweep(results: dict) -> str:
    """The map table (docs/results.md): per regime and accounting, each racer's cost over OPD's at the level
    the pair reached; each regime names the protocol it was measured under."""
    names = in_map_order(results["regimes"])
    present = {m for entry in results["regimes"].values() for m in entry["summary"]["methods"]}
    racers = [m for m in RACERS if m in present and m != "opd"]
    used = sorted({results["regimes"][n]["protocol"] for n in names})
    lines = [
        *(f"Protocol {v}: {results['protocols'][v]}." for v in used),
        "",
        f"{results['budget']:.0e} FLOPs per run. Each cell: a racer's cost to reach a held-out accuracy "
        "(sampled) over OPD's cost to reach it (> 1: OPD is cheaper), at 90% of the way from the start to "
        "the highest accuracy every seed of both reached; costs interpolated between evaluations, medians "
        "over seeds, with the 95% bootstrap interval (bold where it excludes 1) or, where the results keep "
        "no per-problem outcomes (v1), the range over every pair of seeds.",
        "",
        "| regime | teacher entropy (nats/token) | start | counted as | "
        + " | ".join(f"{m} / opd" for m in racers)
        + " | final " + " / ".join([*racers, "opd"]) + " |",
        "|---|---|---|---|" + "---|" * len(racers) + "---|",
    ]  # fmt: skip
    for name in names:
        entry = results["regimes"][name]
        summary, final = entry["summary"], entry["final_accuracy"]
        seeds = len(summary["methods"]["opd"]["curves"])
        for k, accounting in enumerate(ACCOUNTINGS):
            head = ("", "", "")
            if k == 0:
                size = entry["student_parameters"] // 1000
                head = (f"{name} ({size}K student; {entry['protocol']}, {seeds} seeds)",
                        f"{entry['teacher_entropy_nats_per_token']:.3f}",
                        f"{entry['start_accuracy']:.1%}")  # fmt: skip
            cells = " | ".join(_cell(summary, accounting, m) if m in final else "–" for m in racers)
            tail = (
                " / ".join(f"{final[m]:.1%}" if m in final else "–" for m in [*racers, "opd"])
                if k == 0
                else ""
            )
            lines.append(f"| {' | '.join(head)} | {accounting} | {cells} | {tail} |")
    return "\n".join(lines) + "\n"


def draw_figures(results: dict) -> None:
    """The map's figures beside its table: map.png (each racer's cost over OPD's with its interval, per
    regime and accounting) and break_even.png (OPD's price per episode against its edge per episode)."""
    import matplotlib

    matplotlib.use("Agg")
    from labkit.views.mapview import break_even, break_even_figure, ratio_figure

    names = in_map_order(results["regimes"])
    ratio_figure({n: results["regimes"][n]["ratios"] for n in names}).savefig(RESULTS / "map.png", dpi=110)
    points = {n: break_even(results["regimes"][n]["summary"]) for n in names}
    break_even_figure(points).savefig(RESULTS / "break_even.png", dpi=110)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget", type=float, default=1e12)
    p.add_argument(
        "--work", default=str(ROOT / "outputs" / "sweep"), help="where built models go (reused if present)"
    )
    p.add_argument(
        "--only", nargs="*", help="run only these regimes (the others keep their results in the JSON)"
    )
    p.add_argument("--redraw", action="store_true", help="only rewrite the table and figures from the JSON")
    args = p.parse_args()
    out_path = RESULTS / "regimes_sweep.json"
    results = json.loads(out_path.read_text()) if out_path.exists() else {"regimes": {}}
    if args.redraw:
        write_text_atomic(RESULTS / "regimes_sweep.md", format_sweep(results))
        draw_figures(results)
        raise SystemExit(0)
    target = start_accuracy(ROOT / "data" / "student", "build")
    for name, (teacher, student, what, build) in regimes(Path(args.work), target).items():
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        built = build()
        config = CompareConfig(seeds=args.seeds, budget=args.budget, snapshot_prompts=1)
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
            "ratios": summary["ratios"],  # each racer against OPD, at the pair level, with intervals
            "final_accuracy": {m: e["final_accuracy"] for m, e in summary["methods"].items()},
            "summary": summary,
            "seconds": round(time.perf_counter() - started, 1),
            "protocol": "v2",
        }
        results.setdefault("protocols", {})["v2"] = PROTOCOL
        results.update({"budget": args.budget, "start_target": target})
        write_json_atomic(out_path, results)
        write_text_atomic(RESULTS / "regimes_sweep.md", format_sweep(results))
        draw_figures(results)
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
