"""A small set of grade-school math word problems with a verifier, for real language models (notebook 07).

Same interface as :class:`labkit.task.AdditionTask` — ``problems``, ``solution``, ``reward``,
``max_completion_length`` — so the one training loop runs on it unchanged. Prompts differ in length, so
train with ``batch_size=1`` (one prompt, ``group_size`` samples per step) or let ``evaluate`` group them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

NAMES = ["Ava", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lena"]
ITEMS = ["apples", "books", "marbles", "stickers", "pencils", "cookies", "stamps", "shells"]
TEMPLATES = [
    (
        "{name} has {a} {item} and buys {b} more. How many {item} does {name} have now?",
        lambda a, b: a + b,
        "{a} + {b} = {ans}",
    ),
    (
        "{name} had {s} {item} and gave {b} to a friend. How many {item} are left?",
        lambda a, b: a,
        "{s} - {b} = {ans}",
    ),
    ("A box holds {a} {item}. How many {item} are in {b} boxes?", lambda a, b: a * b, "{a} * {b} = {ans}"),
    (
        "{name} shares {p} {item} equally among {b} friends. How many {item} does each friend get?",
        lambda a, b: a,
        "{p} / {b} = {ans}",
    ),
]
ANSWER_MARK = "####"


@dataclass(frozen=True)
class WordProblem:
    prompt: str
    answer: int
    template: int
    a: int
    b: int


def _held_out(template: int, a: int, b: int) -> bool:
    return (template * 7919 + a * 104_729 + b * 1_299_709) % 10 == 0


@dataclass(frozen=True)
class WordProblemTask:
    """Templated one-step word problems; the reference solution ends with '#### <answer>'."""

    max_operand: int = 20
    """operands are drawn from 2..max_operand"""
    max_completion_length: int = 48
    """tokens a model may write before it is cut off"""

    def problems(self, n: int, split: str = "train", seed: int = 0) -> list[WordProblem]:
        if split not in ("train", "held_out"):
            raise ValueError(f"split must be 'train' or 'held_out', got {split!r}")
        rng = random.Random(f"wp-{seed}-{split}")
        out = []
        while len(out) < n:
            t = rng.randrange(len(TEMPLATES))
            a, b = rng.randint(2, self.max_operand), rng.randint(2, self.max_operand)
            if _held_out(t, a, b) != (split == "held_out"):
                continue
            text, answer, _ = TEMPLATES[t]
            question = text.format(name=rng.choice(NAMES), item=rng.choice(ITEMS), a=a, b=b, s=a + b, p=a * b)
            out.append(WordProblem(f"Question: {question}\nAnswer:", answer(a, b), t, a, b))
        return out

    def solution(self, problem: WordProblem, rng: random.Random | None = None) -> tuple[str, list[int]]:
        work = TEMPLATES[problem.template][2].format(
            a=problem.a, b=problem.b, s=problem.a + problem.b, p=problem.a * problem.b, ans=problem.answer
        )
        text = f" {work}. {ANSWER_MARK} {problem.answer}"
        return text, [1] * len(text)

    @staticmethod
    def final_answer(completion: str) -> int | None:
        """The integer after the last '####', else the last integer in the text; None if there is none."""
        if not isinstance(completion, str):
            return None
        tail = completion.rsplit(ANSWER_MARK, 1)[-1] if ANSWER_MARK in completion else completion
        numbers = re.findall(r"-?\d+", tail.replace(",", ""))
        if not numbers:
            return None
        value = numbers[0] if ANSWER_MARK in completion else numbers[-1]
        return int(value) if len(value) <= 18 else None

    def reward(self, problem: WordProblem, completion: str) -> float:
        return 1.0 if self.final_answer(completion) == problem.answer else 0.0
