"""Accuracy of a model on held-out problems, greedy or sampled."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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
) -> EvalResult:
    """Fraction of ``n`` problems from ``split`` whose completion earns reward 1.

    ``temperature=0`` is greedy decoding. Sampling is seeded, so a repeat gives
    the same number. A progress bar appears for more than a few batches.
    """
    problems = task.problems(n, split=split, seed=seed)
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
