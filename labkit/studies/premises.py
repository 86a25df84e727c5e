"""The post's premises, tested one at a time (issue 14): each section is an experiment whose function returns
its section of benchmarks/results/premises.json (benchmarks/premises.py writes it; notebook 09 and
labkit.views.why read it).

break_even       per regime of the committed map: OPD's FLOPs price per episode over RL's, against its
                 edge in episodes (reads committed results only)
style_mechanism  SFT and OPD students from the shipped pair and from the zero-style control, measured per
                 token class after training (labkit.studies.tokenclass); OPD's class advantages in training
sparse_reward    6-digit students stopped at 3/10/28% (``build_students``), raced; RL at group 4 and 16;
                 SFT on reference solutions as the capacity control
rl_teacher       an RL-trained student distilled back into its base
teacher_size     a teacher ~4x the student
support          corrections written after own mistakes (``correction_counts``, ``marker_probability``);
                 a lost skill recovered by OPD, SFT or forward KL

The training sections run their seeds in worker processes on every core (labkit.studies.workers).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from ..encoding import encode_completions, encode_prompts
from ..errors import LabkitError
from ..evaluate import evaluate, task_of
from ..models import STUDENT_SIZE, ModelSize, count_parameters, load, save
from ..scoring import logprobs
from ..task import CORRECTION, AdditionTask, check_steps, split_steps
from ..train import TrainConfig, train
from .compare import CompareConfig, run_comparison, summarize
from .costs import pair_ratio, seed_costs
from .recipes import STUDENT_RECIPE, build_to_targets, built
from .regimes import break_even, build_teacher, in_map_order
from .tokenclass import CLASSES, advantage_tracker, class_profile
from .workers import cores, run_jobs

ROOT = Path(__file__).resolve().parents[2]  # the repository: data/ and outputs/ beside labkit/
STYLE_REGIMES = {  # regime: (teacher, student)
    "style 0.5 (shipped)": (ROOT / "data" / "teacher", ROOT / "data" / "student"),
    "style 0 (control)": (
        ROOT / "outputs" / "sweep" / "teacher-style0",
        ROOT / "outputs" / "sweep" / "student-style0",
    ),
}
SWEEP = ROOT / "outputs" / "sweep"
PROFILE_SEED = 4242  # held-out problems for the class profiles (none of the race's evaluation sets)
TRACK_EVERY = 5
SECTIONS = ("break_even", "style_mechanism", "sparse_reward", "rl_teacher", "teacher_size", "support")


def break_even_section(sweep: dict) -> dict:
    """Per regime of the map (``sweep``: regimes_sweep.json's "regimes"), OPD's price per episode over RL's
    against its edge in episodes (``labkit.studies.regimes.break_even``)."""
    points = {name: break_even(sweep[name]["summary"]) for name in in_map_order(sweep)}
    for name, point in points.items():
        point["protocol"] = sweep[name]["protocol"]
    what = (
        "price = FLOPs per OPD episode / per RL episode where each reaches the pair's level (ledger); edge = "
        "RL / OPD episodes to that level (95% interval); edge / price = the RL / OPD FLOPs ratio, whose "
        "interval gives the verdict"
    )
    return {"what": what, "points": points}


def _race_run(teacher_path: str, student_path: str, method: str, seed: int, budget: float):
    """In a worker process: the pair, the task, and one racer's TrainConfig as the races run it (tuned
    settings, the FLOP budget; one small tuning-set evaluation: only the final student counts)."""
    torch.set_num_threads(1)
    teacher, _ = load(teacher_path)
    student, tokenizer = load(student_path)
    config = TrainConfig(
        **{**CompareConfig().run_settings(method), "seed": seed, "steps": 1_000_000, "flop_budget": budget,
           "eval_points": 1, "eval_n": 64, "eval_set": "tuning"},
    )  # fmt: skip
    return teacher, student, tokenizer, task_of(student_path), config


def _style_run(teacher_path: str, student_path: str, method: str, seed: int, budget: float, n: int) -> dict:
    """One training run (worker process): the class profile after it, and OPD's class advantages during it."""
    teacher, student, tokenizer, task, config = _race_run(teacher_path, student_path, method, seed, budget)
    on_step, tracked = advantage_tracker(tokenizer, task.digits, every=TRACK_EVERY)
    result = train(config, student, tokenizer, task, teacher=teacher, progress=False, on_step=on_step)
    profile = class_profile(student, teacher, tokenizer, task, n=n, seed=PROFILE_SEED)
    return {
        "profile": profile,
        "tracked": tracked,
        "steps": len(result.history),
        "flops": result.ledger.total,
    }


def style_mechanism_section(seeds: int, budget: float, n: int) -> dict:
    for name, (teacher, student) in STYLE_REGIMES.items():
        if not (Path(teacher) / "config.json").exists() or not (Path(student) / "config.json").exists():
            raise LabkitError(f"{name}: {teacher} or {student} is missing; build it with "
                             "`python benchmarks/regimes_sweep.py --only no-style-entropy`")  # fmt: skip
    jobs = [
        (str(teacher), str(student), method, seed, budget, n)
        for teacher, student in STYLE_REGIMES.values()
        for method in ("sft", "opd")
        for seed in range(seeds)
    ]
    started = time.perf_counter()
    outputs = iter(run_jobs(_style_run, jobs, cores()))
    section = {"seeds": seeds, "budget": budget, "profile_problems": n, "regimes": {}}
    for name, (teacher, student) in STYLE_REGIMES.items():
        teacher_model, tokenizer = load(teacher)
        start = class_profile(
            load(student)[0], teacher_model, tokenizer, task_of(student), n=n, seed=PROFILE_SEED
        )
        entry = {"start": start}
        for method in ("sft", "opd"):
            runs = [next(outputs) for _ in range(seeds)]
            measures = ("student_entropy", "teacher_entropy", "reverse_kl", "advantage", "tokens")
            entry[method] = {
                kind: {m: float(np.mean([r["profile"][kind][m] for r in runs])) for m in measures}
                for kind in CLASSES
                if all(kind in r["profile"] for r in runs)
            }
            if method == "opd":
                entry["opd_advantage_over_training"] = _binned(runs)
        section["regimes"][name] = entry
    section["seconds"] = round(time.perf_counter() - started, 1)
    return section


def _binned(runs: list[dict], bins: int = 10) -> dict[str, list[float]]:
    """Each class's mean advantage in ``bins`` equal slices of training, averaged over seeds."""
    out = {}
    for kind in CLASSES:
        per_run = []
        for r in runs:
            values = [row[kind] for row in r["tracked"] if kind in row]
            if len(values) >= bins:
                per_run.append([float(np.mean(chunk)) for chunk in np.array_split(values, bins)])
        if per_run:
            out[kind] = [float(x) for x in np.mean(per_run, axis=0)]
    return out


# -- 1. sparse reward, for a student that can learn the task ------------------------------------------

SPARSE_STARTS = (0.03, 0.10, 0.28)
"""start accuracies (on the build set) of the sparse-reward students: a 6-digit student stopped early"""


def _silent(comparison, racer: str) -> float | None:
    """Mean fraction of GRPO groups with no reward variance, over every step of every seed of ``racer``."""
    values = [
        r["silent_groups"] for run in comparison.runs[racer] for r in run.history if "silent_groups" in r
    ]
    return float(np.mean(values)) if values else None


def _priced(summary: dict, methods, accountings=("flops", "student_flops", "episodes")) -> list[dict]:
    return [
        {"method": m, "baseline": "opd", "accounting": a, **pair_ratio(summary, a, m)}
        for m in methods
        for a in accountings
        if m in summary["methods"]
    ]


SPARSE_RACERS = ("opd", "rl", "sft-reference")
"""the racers the premise needs: OPD against RL (RL also at group 16, below), and SFT on reference solutions,
the capacity control"""


def build_students(teacher_path: Path, targets, outs) -> dict:
    """One SFT run on the teacher's samples (the shipped student's recipe, as the map's students), saved into
    ``outs[i]`` the first time held-out (build set, T=1) accuracy reaches ``targets[i]``: the students of a
    sweep over start accuracy share their training and differ only in where it stopped. A target never
    reached gets the last model, with the accuracy it did reach."""
    wanted = dict(zip(targets, outs))
    if (reused := built(wanted)) is not None:
        return reused
    teacher, tokenizer = load(teacher_path)
    config = replace(STUDENT_RECIPE, steps=3000, eval_points=120, eval_n=1000, eval_set="build",
                     eval_temperature=1.0, monitor_every=50)  # fmt: skip
    return build_to_targets(config, STUDENT_SIZE, tokenizer, task_of(teacher_path), wanted, "student",
                            teacher=teacher)  # fmt: skip


def sparse_reward_section(seeds: int, budget: float, work: Path, quick: bool) -> dict:
    """Per start accuracy: the race (SPARSE_RACERS, RL also at group size 16), the silent-group fraction,
    the capacity control (SFT on reference solutions from the same start, also at 4x the budget) and OPD's
    edge and price."""
    task = AdditionTask(digits=6, style=0.5)
    teacher = work / f"teacher-digits{task.digits}"
    if quick:  # a smoke test: the shipped teacher and task
        task, teacher = task_of(ROOT / "data" / "teacher"), ROOT / "data" / "teacher"
    built = {"teacher": {} if quick else build_teacher(task, teacher)}
    if not quick and built["teacher"].get("sampled_accuracy", 0) < 0.95:
        raise LabkitError(f"the {task.digits}-digit teacher samples only {built['teacher']} right: a weak "
                         "teacher would handicap OPD; train it longer before racing")  # fmt: skip
    tag = "-quick" if quick else ""
    students = {t: work / f"student-digits{task.digits}-start{t}{tag}" for t in SPARSE_STARTS}
    built["students"] = build_students(teacher, list(students), list(students.values()))
    points = []
    for target, student in students.items():
        race = run_comparison(
            CompareConfig(seeds=seeds, budget=budget, methods=SPARSE_RACERS, snapshot_prompts=1),
            student,
            teacher,
        )
        # RL at group 16 with 1 prompt per step: 16 episodes per step, as many updates as at group 4
        wide = CompareConfig(seeds=seeds, budget=budget, methods=("rl",), group_size=16, snapshot_prompts=1,
                             settings={"rl": {"batch_size": 1}})  # fmt: skip
        race16 = run_comparison(wide, student, teacher)
        summary, summary16 = summarize(race), summarize(race16)
        capacity = CompareConfig(seeds=1, budget=4 * budget, methods=("sft-reference",), snapshot_prompts=1)
        capacity_summary = summarize(run_comparison(capacity, student, teacher))
        combined = {"methods": {**summary["methods"], "rl-g16": summary16["methods"]["rl"]}}
        points.append(
            {
                "target": target,
                "start_accuracy": summary["methods"]["opd"]["curves"][0]["accuracy"][0],
                "capacity_accuracy": summary["methods"]["sft-reference"]["final_accuracy"],
                "capacity_accuracy_4x_budget": capacity_summary["methods"]["sft-reference"]["final_accuracy"],
                "silent_group_fraction": {
                    "rl": _silent(race, "rl"),
                    "rl-g16": _silent(race16, "rl"),
                    "opd": _silent(race, "opd"),
                },  # fmt: skip
                "final_accuracy": {m: e["final_accuracy"] for m, e in combined["methods"].items()},
                "ratios": _priced(combined, ("rl", "rl-g16", "sft-reference")),
                "break_even": break_even(summary),
                "summary": summary,
                "summary_rl_g16": summary16,
            }
        )
    return {"task": asdict(task), "seeds": seeds, "budget": budget, "racers": SPARSE_RACERS, "built": built,
            "points": points}  # fmt: skip


# -- 2. distil an RL-trained model back into its base -------------------------------------------------


def rl_teacher_section(seeds: int, budget: float, work: Path, quick: bool) -> dict:
    """RL from the shipped student (``seeds`` runs, 4x the race budget); seed 0's final model becomes the
    teacher; OPD, opd-exact and SFT on its samples start again from the shipped student. Each is priced at 95%
    of the teacher's accuracy, in steps, episodes and FLOPs, against what RL needed to get there."""
    base = ROOT / "data" / "student"
    rl_config = CompareConfig(seeds=seeds, budget=4 * budget, methods=("rl",), snapshot_prompts=1)
    rl_race = run_comparison(rl_config, base, ROOT / "data" / "teacher")
    teacher = work / "rl-teacher"
    student, tokenizer = load(base)
    student.load_state_dict(rl_race.students["rl"].state_dict())
    save(student, tokenizer, teacher, extra={"task": asdict(task_of(base)), "role": "teacher (RL seed 0)"})
    rl_summary = summarize(rl_race)
    teacher_accuracy = rl_summary["methods"]["rl"]["curves"][0]["accuracy"][-1]
    level = 0.95 * teacher_accuracy
    config = CompareConfig(
        seeds=seeds, budget=4 * budget, methods=("opd", "opd-exact", "sft"), snapshot_prompts=1
    )
    summary = summarize(run_comparison(config, base, teacher))
    rows = {"rl": _costs_at(rl_summary["methods"]["rl"], "rl", level, rl_config)}
    for method in config.methods:
        rows[method] = _costs_at(summary["methods"][method], method, level, config)
    return {
        "what": "RL seed 0's final model is the teacher; the level is 95% of its accuracy; OPD, opd-exact "
        "and SFT costs exclude the RL run that made the teacher",
        "teacher_accuracy": teacher_accuracy,
        "level": level,
        "rl_steps": rows["rl"]["steps"]["median"],
        "methods": rows,
        "rl_summary": rl_summary,
        "summary": summary,
    }


def _costs_at(entry: dict, method: str, level: float, config: CompareConfig) -> dict:
    """Median over seeds, and the range, of the steps, episodes and FLOPs to reach ``level`` (None for a seed
    that never reached it: the median is then None too). Few seeds: a range, not an interval."""
    per_step = config.run_settings(method)["batch_size"] * config.group_size
    out = {}
    for name, accounting in (("steps", "episodes"), ("episodes", "episodes"), ("flops", "flops")):
        costs = seed_costs(entry, accounting, level, method)
        scale = per_step if name == "steps" else 1
        reached = [c / scale for c in costs if c is not None]
        out[name] = {
            "median": float(np.median(reached)) if len(reached) == len(costs) else None,
            "range": [float(min(reached)), float(max(reached))] if reached else None,
            "per_seed": [None if c is None else c / scale for c in costs],
        }
    return out


# -- 3. a teacher about 4x the student ----------------------------------------------------------------

TEACHER_4X = ModelSize(n_layer=3, d_model=96, n_head=4, d_mlp=384)


def teacher_size_section(seeds: int, budget: float, work: Path, quick: bool) -> dict:
    """The shipped task and student, a teacher ~4x the student (the post's 32B -> 8B): every racer."""
    teacher = work / ("teacher-4x-quick" if quick else "teacher-4x")
    built = build_teacher(task_of(ROOT / "data" / "teacher"), teacher, TEACHER_4X, 50 if quick else None)
    summary = summarize(run_comparison(CompareConfig(seeds=seeds, budget=budget, snapshot_prompts=1),
                                       ROOT / "data" / "student", teacher))  # fmt: skip
    parameters = {
        "teacher": count_parameters(load(teacher)[0]),
        "student": count_parameters(load(ROOT / "data" / "student")[0]),
    }
    return {
        "built": built,
        "parameters": parameters,
        "ratio": parameters["teacher"] / parameters["student"],
        "ratios": summary["ratios"],
        "break_even": break_even(summary),
        "final_accuracy": {m: e["final_accuracy"] for m, e in summary["methods"].items()},
        "summary": summary,
    }


# -- 5. support: what reverse KL cannot do ------------------------------------------------------------


def correction_counts(problems, completions, digits: int) -> dict:
    """Corrections a completion wrote, judged step by step: ``corrected`` where a step's part before the
    correction mark is locally wrong and the part after it right; ``spurious`` where the mark follows a step
    that was already right; ``left_wrong`` where a step stands wrong with no mark. ``rate`` = corrected /
    (corrected + left_wrong): how often a mistake is caught."""
    corrected = spurious = left_wrong = 0
    for problem, completion in zip(problems, completions):
        fields = split_steps(completion)[:-1]
        verdicts = check_steps(problem, completion, digits)  # of the part after the last mark of each step
        for column, field in enumerate(fields[:digits]):
            if CORRECTION in field:
                before = ";".join([*fields[:column], field.split(CORRECTION)[0]]) + ";0"
                first_try = check_steps(problem, before, digits)[column]
                if first_try is True:
                    spurious += 1
                elif verdicts[column] is True:
                    corrected += 1
                else:
                    left_wrong += 1
            elif verdicts[column] is False:
                left_wrong += 1
    rate = corrected / max(1, corrected + left_wrong)
    return {"corrected": corrected, "spurious": spurious, "left_wrong": left_wrong, "rate": rate}


def mistake_positions(problems, completions, digits: int) -> list[tuple[int, int]]:
    """(sample, character) of every separator written right after a locally wrong, unmarked step: where the
    correction mark would have gone instead."""
    out = []
    for i, (problem, completion) in enumerate(zip(problems, completions)):
        fields = split_steps(completion)
        for column, verdict in enumerate(check_steps(problem, completion, digits)):
            if verdict is False and CORRECTION not in fields[column]:
                out.append((i, len(";".join(fields[: column + 1]))))
    return out


@torch.no_grad()
def marker_probability(models: dict, tokenizer, problems, completions, digits: int) -> dict:
    """Mean probability each model puts on the correction mark at ``mistake_positions``: what the teacher
    offers after the student's own mistakes, and what the student would write there."""
    positions = mistake_positions(problems, completions, digits)
    if not positions:
        return {name: None for name in models} | {"mistakes": 0}
    rows = sorted({i for i, _ in positions})
    prompts = encode_prompts(tokenizer, [problems[i].prompt for i in rows])
    ids, _ = encode_completions(tokenizer, [completions[i] for i in rows])
    sequences, row_of = torch.cat([prompts, ids], dim=1), {i: k for k, i in enumerate(rows)}
    mark = tokenizer.convert_tokens_to_ids(CORRECTION)
    where = torch.tensor([[row_of[i], j] for i, j in positions])  # completion position j predicts character j
    out = {"mistakes": len(positions)}
    for name, model in models.items():
        _, logits = logprobs(model, tokenizer, sequences, prompts.shape[1], logits=True)  # [B, T, V]
        out[name] = float(logits[where[:, 0], where[:, 1]].softmax(-1)[:, mark].mean())
    return out


def _corrections_run(teacher_path: str, student_path: str, method: str, seed: int, budget: float, n: int):
    teacher, student, tokenizer, task, config = _race_run(teacher_path, student_path, method, seed, budget)
    train(config, student, tokenizer, task, teacher=teacher, progress=False)
    result = evaluate(student, tokenizer, task, n=n, seed=PROFILE_SEED, temperature=1.0)
    return _corrections_of(result, task, {"teacher": teacher, "student": student}, tokenizer)


def _corrections_of(result, task, models: dict, tokenizer) -> dict:
    """Accuracy and correction counts of an evaluation's samples, and the probability of the mark after the
    sampler's own unmarked mistakes, under the teacher and under the sampler."""
    counts = correction_counts(result.problems, result.completions, task.digits)
    offered = marker_probability(models, tokenizer, result.problems, result.completions, task.digits)
    return {
        "accuracy": result.accuracy,
        **counts,
        "mark_probability_teacher": offered.get("teacher"),
        "mark_probability_self": offered.get("student"),
    }


SUPPORT_RACERS = ("sft", "opd", "opd-exact", "sft-reference")
"""sampled-token and exact OPD against SFT on the teacher's samples; SFT on the reference solutions (which
carry the corrections) shows the student can learn to write the mark at all"""


def support_section(seeds: int, budget: float, work: Path, quick: bool, n: int) -> dict:
    """(a) After their own mistakes, do students trained from the correcting teacher write its correction
    mark? (b) From a model that lost the skill entirely, can OPD bring it back, against SFT on the teacher's
    samples and forward KL (GKD, beta 0) on them?"""
    teacher, student = SWEEP / "teacher-corrections", SWEEP / "student-corrections"
    if not (teacher / "config.json").exists():
        raise LabkitError(f"{teacher} is missing: `python benchmarks/regimes_sweep.py --only corrections`")
    jobs = [(str(teacher), str(student), m, seed, budget, n) for m in SUPPORT_RACERS
            for seed in range(seeds)]  # fmt: skip
    outputs = iter(run_jobs(_corrections_run, jobs, cores()))
    task = task_of(student)
    corrections = {}
    teacher_model, tokenizer = load(teacher)
    for name, path in (("teacher", teacher), ("start", student)):
        model, tokenizer = load(path)
        result = evaluate(model, tokenizer, task, n=n, seed=PROFILE_SEED, temperature=1.0)
        models = {"teacher": teacher_model, "student": model}
        corrections[name] = _corrections_of(result, task, models, tokenizer)
    for method in SUPPORT_RACERS:
        runs = [next(outputs) for _ in range(seeds)]
        corrections[method] = {
            k: None if None in (values := [r[k] for r in runs]) else float(np.mean(values)) for k in runs[0]
        }
    return {"corrections": corrections, "lost_skill": _lost_skill(seeds, quick)}


def _lost_skill(seeds: int, quick: bool) -> dict:
    """The lab's teacher mid-trained on new facts alone (notebook 06: the skill falls to 0%), then trained
    on the skill's prompts with its earlier self as teacher: OPD, SFT on the teacher's samples, forward KL."""
    from labkit.studies.forgetting import FactsTask, MixedTask, measure, midtrain

    original, tokenizer = load(ROOT / "data" / "teacher")
    skill = task_of(ROOT / "data" / "teacher")
    knowledge = FactsTask(n_facts=64 if quick else 256)
    lost = copy.deepcopy(original)
    midtrain(lost, tokenizer, MixedTask(skill, knowledge, 1.0), 60 if quick else 400, 0, 1e-3, False)
    start = measure(lost, tokenizer, skill, knowledge, 256 if quick else 1000)
    recipes = {
        "opd": {"method": "opd"},
        "sft": {"method": "sft"},
        "forward-kl": {"method": "gkd", "beta": 0.0, "lmbda": 0.0},
    }
    out = {"start": start, "methods": {}}
    for name, recipe in recipes.items():
        finals = []
        for seed in range(seeds):
            model = copy.deepcopy(lost)
            config = TrainConfig(**recipe, steps=40 if quick else 150, seed=seed, learning_rate=3e-4,
                                 warmup_steps=5, batch_size=16, group_size=4, eval_n=32)  # fmt: skip
            train(config, model, tokenizer, skill, teacher=original, progress=False)
            finals.append(measure(model, tokenizer, skill, knowledge, 256 if quick else 1000, seed))
        out["methods"][name] = {k: float(np.mean([f[k] for f in finals])) for k in finals[0]}
    return out
