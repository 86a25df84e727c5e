"""Accuracy of a model on held-out problems, greedy or sampled."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .encoding import decode_completions, encode_prompts
from .errors import LabkitError
from .sampling import sample
from .task import AdditionTask, Problem, Task


@dataclass
class EvalResult:
    accuracy: float
    n: int
    temperature: float
    problems: list[Problem]
    completions: list[str]
    rewards: list[float]


def task_of(model_path) -> AdditionTask:
    """The task a lab checkpoint was trained on (stored in its labkit.json); the default task otherwise."""
    meta = Path(model_path) / "labkit.json"
    if meta.exists():
        try:
            return AdditionTask(**json.loads(meta.read_text()).get("task", {}))
        except (ValueError, TypeError) as exc:
            raise LabkitError(
                f"{meta} does not describe a valid task ({exc}); rebuild the checkpoint or fix the file"
            ) from exc
    return AdditionTask()


def pack_correct(outcomes: Sequence[bool | int | float]) -> str:
    """Per-problem 0/1 outcomes as ``"<count>:<hex of the bits>"``: 1,000 problems in 255 characters."""
    bits = np.asarray(outcomes, dtype=float)
    if not np.isin(bits, (0.0, 1.0)).all():
        raise ValueError("outcomes must be 0/1")
    return f"{bits.size}:{np.packbits(bits.astype(bool)).tobytes().hex()}"


def unpack_correct(text: str, n: int | None = None) -> np.ndarray:
    """The outcomes :func:`pack_correct` packed, as a bool array ``[problems]``; ``n`` checks the count."""
    count, digits = text.split(":")
    if n is not None and int(count) != n:
        raise ValueError(f"packed outcomes hold {count} problems, expected {n}")
    return np.unpackbits(np.frombuffer(bytes.fromhex(digits), dtype=np.uint8), count=int(count)).astype(bool)


EVAL_SETS = {"race": 1234, "tuning": 4321, "build": 2718}
"""Named held-out problem sets (each a seed). Training curves of every method are evaluated on "race"; a
tuning grid on "tuning"; a student build that stops at a target accuracy on "build". The last two never
contain one of the first RACE_RESERVE problems of "race", so choosing settings or checkpoints never sees the
problems the races report."""
RACE_RESERVE = 4096


def held_out_set(task: Task, n: int, name: str = "race") -> list:
    """The first ``n`` problems of a named held-out set (:data:`EVAL_SETS`); sets other than "race" skip its
    problems."""
    if name not in EVAL_SETS:
        raise LabkitError(f"unknown held-out set {name!r}; choose one of {', '.join(EVAL_SETS)}")
    if name == "race":
        if n > RACE_RESERVE:
            raise LabkitError(
                f"the race set holds {RACE_RESERVE} problems kept apart from the others; use n <= that"
            )
        return task.problems(n, "held_out", seed=EVAL_SETS["race"])
    reserved = {p.prompt for p in task.problems(RACE_RESERVE, "held_out", seed=EVAL_SETS["race"])}
    drawn = task.problems(2 * n + RACE_RESERVE // 4, "held_out", seed=EVAL_SETS[name])
    kept = [p for p in drawn if p.prompt not in reserved][:n]
    if len(kept) < n:  # a task with few held-out problems (short chains): draw them all and say so
        raise LabkitError(f"the task has too few held-out problems for {n} outside the race set; lower n")
    return kept


def sample_problems(model, tokenizer, task: Task, problems: Sequence[Problem], seed: int = 0):
    """One sampled completion (T=1) per problem, in one batch (the prompts must share a token length, as the
    addition task's do), from a generator seeded with ``seed``: the :class:`~labkit.sampling.Rollout`, whose
    token ids the per-token studies score."""
    return sample(
        model,
        encode_prompts(tokenizer, [p.prompt for p in problems]),
        task.max_completion_length,
        tokenizer,
        1.0,
        torch.Generator(device=next(model.parameters()).device).manual_seed(seed),
    )


def evaluate(
    model,
    tokenizer,
    task: Task,
    n: int = 512,
    seed: int = 0,
    temperature: float = 1.0,
    batch_size: int = 256,
    split: str = "held_out",
    progress: bool | None = None,
    problems: list | None = None,
) -> EvalResult:
    """Fraction of ``n`` problems from ``split`` (or of the given ``problems``) whose completion earns
    reward 1.

    ``temperature=0`` is greedy decoding. Sampling is seeded, so a repeat gives
    the same number. A progress bar appears for more than a few batches.
    """
    problems = task.problems(n, split=split, seed=seed) if problems is None else list(problems)
    n = len(problems)
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    was_training = model.training
    model.eval()
    # prompts of one token length batch together (the addition task's all do; word problems vary)
    lengths = [len(ids) for ids in tokenizer([p.prompt for p in problems])["input_ids"]]
    order = sorted(range(n), key=lambda i: (lengths[i], i))
    chunks, current = [], []
    for i in order:
        if current and (len(current) == batch_size or lengths[current[0]] != lengths[i]):
            chunks.append(current)
            current = []
        current.append(i)
    chunks.append(current)
    completions: list[str] = [""] * n
    show = progress if progress is not None else len(chunks) > 2
    for chunk in tqdm(chunks, desc=f"eval T={temperature:g}", disable=not show, leave=False):
        rollout = sample(
            model,
            encode_prompts(tokenizer, [problems[i].prompt for i in chunk]),
            task.max_completion_length,
            tokenizer,
            temperature=temperature,
            generator=generator,
        )
        for i, text in zip(
            chunk, decode_completions(tokenizer, rollout.completion_ids, rollout.completion_mask)
        ):
            completions[i] = text
    model.train(was_training)
    rewards = [task.reward(p, c) for p, c in zip(problems, completions)]
    return EvalResult(sum(rewards) / n, n, temperature, problems, completions, rewards)
