"""The map: SFT, RL and OPD raced in regimes that each differ from the shipped one in one knob, and OPD's
break-even against RL in each (benchmarks/regimes_sweep.py writes it; notebook 08 and docs/results.md read it;
the premises' teachers are built here too).

A regime is a teacher, a student and a task. Its new models are built by the shipped recipes
(labkit.studies.recipes): a teacher by the teacher's; a student by SFT on its teacher's samples, saved at the
first evaluation (80 along at most 2,000 steps, on the "build" held-out set, which the races never see) where
it reaches the shipped student's accuracy on that set, so every race starts from about the same success rate.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..encoding import encode_prompts
from ..evaluate import EVAL_SETS, evaluate, held_out_set, task_of
from ..models import STUDENT_SIZE, TEACHER_SIZE, ModelSize, count_parameters, load
from ..objectives import entropy, masked_mean
from ..sampling import sample
from ..scoring import logprobs
from ..tokenizer import build_tokenizer
from ..train import EVAL_SEED
from .compare import CompareConfig, run_comparison, summarize
from .costs import cost_to_reach, pair_ratio, verdict
from .recipes import STUDENT_RECIPE, TEACHER_RECIPE, build_to_targets, built

ROOT = Path(__file__).resolve().parents[2]  # the repository: data/ and outputs/ beside labkit/
STRONGER_START = 0.5
SMALL_STUDENT = ModelSize(n_layer=1, d_model=48, n_head=4, d_mlp=144)
REGIMES = (
    "shipped",
    "same-size-teacher",
    "no-style-entropy",
    "small-student",
    "long-chains",
    "corrections",
    "stronger-start",
)
"""the map's regimes in reading order (``benchmarks/regimes_sweep.py`` builds and races them)"""

PROTOCOL = (
    "every racer of labkit.studies.compare.RACERS, settings tuned on the shipped pair by one "
    "protocol (benchmarks/results/tuning.json), 1,000 race problems per evaluation, 14 evaluations "
    "spaced in log-FLOPs, new students stopped on the build set; 95% bootstrap intervals over seeds "
    "and problems"
)
"""how the map's current regimes were raced (protocol "v2" of regimes_sweep.json)"""


def in_map_order(names) -> list[str]:
    """``names`` in ``REGIMES`` order, any others after."""
    return sorted(names, key=lambda n: REGIMES.index(n) if n in REGIMES else len(REGIMES))


def flops_per_episode(summary: dict) -> dict[str, float]:
    """Mean FLOPs (teacher + student) per episode of each racer, from the ledger at the end of its runs."""
    return {
        m: float(np.mean([c["flops"][-1] / c["episodes"][-1] for c in e["curves"]]))
        for m, e in summary["methods"].items()
    }


def break_even(summary: dict, method: str = "opd") -> dict:
    """``method`` (sampled-token OPD by default, or another estimator: ``opd-topk``, ``opd-exact``) against
    RL in one line of arithmetic, from one race's summary.

    ``price``: what an episode of ``method`` costs in FLOPs over what an RL episode costs (the ledger: a
    student sample, a teacher pass over it and an update, against a sample and an update), taken where each
    reaches the pair's level (median FLOPs over median episodes). ``edge``: how many more episodes RL needs
    than ``method`` to reach that level (RL / method episodes, with its interval): what the dense signal
    buys. Then ``edge / price`` is exactly ``flops``, the measured RL / method FLOPs ratio, so the method is
    cheaper in FLOPs when the edge exceeds the price; ``verdict`` says so only where that ratio's interval
    excludes 1.
    """
    episodes = pair_ratio(summary, "episodes", "rl", method)
    flops = pair_ratio(summary, "flops", "rl", method)
    per_episode = flops_per_episode(summary)
    price = per_episode[method] / per_episode["rl"]  # over whole runs, when the pair was not priced
    if episodes["ratio"] is not None:  # at the crossing: FLOPs per episode spent to reach the level
        level = episodes["level"]
        at = {m: cost_to_reach(summary["methods"][m], "flops", level) / cost_to_reach(
            summary["methods"][m], "episodes", level) for m in (method, "rl")}  # fmt: skip
        price = at[method] / at["rl"]
    return {
        "price": price,
        "edge": episodes["ratio"],
        "edge_ci": episodes["ci"],
        "flops": flops["ratio"],
        "flops_ci": flops["ci"],
        "verdict": verdict(flops, "rl", method) if flops["ratio"] is not None else "not priced",
    }


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
        _, logits = logprobs(model, tokenizer, rollout.sequences, rollout.prompt_length, logits=True)
    return float(masked_mean(entropy(logits), rollout.completion_mask))


def build_teacher(task, out: Path, size: ModelSize = TEACHER_SIZE, steps: int | None = None) -> dict:
    """A teacher of ``size`` trained on ``task`` by the shipped recipe (reused if ``out`` holds one);
    ``steps`` shortens the recipe for smoke tests."""
    if (reused := built({None: out})) is not None:
        return reused[None]
    recipe = replace(TEACHER_RECIPE, monitor_every=50, steps=steps or TEACHER_RECIPE.steps)
    return build_to_targets(recipe, size, build_tokenizer(), task, {None: out}, "teacher")[None]


def build_student(teacher_path: Path, size: ModelSize, target: float, out: Path) -> dict:
    """SFT on the teacher's samples (the shipped student's recipe), stopped once held-out accuracy
    reaches ``target`` (reused if ``out`` holds one)."""
    if (reused := built({target: out})) is not None:
        return reused[target]
    teacher, tokenizer = load(teacher_path)
    config = replace(
        STUDENT_RECIPE,
        steps=2000,
        eval_points=80,
        eval_n=1000,
        eval_set="build",
        eval_temperature=1.0,
        monitor_every=50,
    )
    # reached=False: the map's students were reported without the accuracy reached; their reports keep that
    return build_to_targets(config, size, tokenizer, task_of(teacher_path), {target: out}, "student",
                            teacher=teacher, reached=False)[target]  # fmt: skip


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


def race_regime(teacher, student, what: str, build, seeds: int, budget: float) -> dict:
    """Build what the regime lacks, race every racer on it (``seeds`` seeds, ``budget`` FLOPs per run) and
    return its entry of regimes_sweep.json: the teacher's accuracy and per-token entropy, the start accuracy,
    the race's summary and its cost ratios under every accounting, under protocol "v2" (``PROTOCOL``)."""
    started = time.perf_counter()
    built_now = build()
    config = CompareConfig(seeds=seeds, budget=budget, snapshot_prompts=1)
    summary = summarize(run_comparison(config, student_path=student, teacher_path=teacher, progress=True))
    return {
        "what": what,
        "teacher": str(Path(teacher).relative_to(ROOT))
        if Path(teacher).is_relative_to(ROOT)
        else str(teacher),
        "built": built_now,
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
