"""The task world: n-digit addition with a written scratchpad, and its verifier.

A prompt is two zero-padded operands, ``357+489=``. A reference solution works
from the least significant digit up, one step per column, carrying as it goes::

    7+9+0=16;5+8+1=14;3+4+1=8;846

Each step depends on the carry of the step before, so one wrong step changes
everything after it: a chain of dependent steps whose length is ``digits``.

Knobs (all in :class:`AdditionTask`):

* ``digits``      -- chain length.
* ``style``       -- entropy over choices that do not matter. With probability
  ``style`` each step writes its two digits in the other order (``9+7+0=16``),
  and with probability ``style`` a space follows each separator. At 0 the
  solution is deterministic; at 0.5 every such choice is a fair coin.
* ``corrections`` -- recoverable errors. With this probability a step is first
  written with a mistake (a wrong sum or carry), then ``!``, then the corrected
  step: ``7+9+0=15!7+9+0=16;``. The mistaken tokens get loss mask 0, so a
  teacher trained on these writes clean solutions yet knows how to get back on
  track from a mistaken prefix.

The verifier gives reward 1 only for a correct final answer and 0 for anything
else, malformed output included.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

SEPARATORS = ";,"
CORRECTION = "!"
ALPHABET = "0123456789+=;,! "  # every character a prompt or a solution can contain
HELD_OUT_EVERY = 10  # one problem in ten belongs to the held-out split


def split_of(a: int, b: int) -> str:
    """'train' or 'held_out', a fixed function of the problem so the splits never overlap."""
    h = (a * 1_000_003 + b * 999_983 + 12_345) % 2_147_483_647
    h = (h * 48_271) % 2_147_483_647
    return "held_out" if h % HELD_OUT_EVERY == 0 else "train"


@dataclass(frozen=True)
class Problem:
    a: int
    b: int
    prompt: str

    @property
    def answer(self) -> int:
        return self.a + self.b


@runtime_checkable
class Task(Protocol):
    """What the training loop and evaluation need of a task. AdditionTask is the lab's; the forgetting study's
    facts and mixtures and notebook 07's word problems follow the same interface."""

    @property
    def max_completion_length(self) -> int:
        """an upper bound on the characters (tokens) of any completion"""
        ...

    def problems(self, n: int, split: str = "train", seed: int = 0) -> list:
        """``n`` seeded problems (each with a ``.prompt``) from the 'train' or 'held_out' split"""
        ...

    def solution(self, problem, rng: random.Random | None = None) -> tuple[str, list[int]]:
        """a reference completion and its per-character loss mask (SFT on reference solutions)"""
        ...

    def reward(self, problem, completion: str) -> float:
        """the verifier: 1.0 for a right answer, 0.0 otherwise"""
        ...


@dataclass(frozen=True)
class AdditionTask:
    """n-digit addition with a scratchpad; the knobs are described in the module docstring."""

    digits: int = 3
    """number of digits per operand = number of dependent steps in the chain"""
    style: float = 0.0
    """probability of each irrelevant style choice (operand order, space after a separator)"""
    corrections: float = 0.0
    """probability that a step is written wrong, marked with '!', then written right"""

    def __post_init__(self):
        if not isinstance(self.digits, int) or not 1 <= self.digits <= 12:
            raise ValueError(f"digits must be an integer from 1 to 12, got {self.digits!r}")
        for name in ("style", "corrections"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a probability and must lie in [0, 1], got {value!r}")

    # -- problems -----------------------------------------------------------------
    @property
    def prompt_length(self) -> int:
        """characters in every prompt: two padded operands, '+' and '='"""
        return 2 * self.digits + 2

    @property
    def max_completion_length(self) -> int:
        """an upper bound on the characters of any solution this task writes, plus slack"""
        step = 2 + 2 + 2 + 1 + 2 + 1  # 'a+b+c=ss;' plus a space
        return self.digits * step * (2 if self.corrections > 0 else 1) + self.digits + 2 + 4

    def prompt(self, a: int, b: int) -> str:
        return f"{a:0{self.digits}d}+{b:0{self.digits}d}="

    def problems(self, n: int, split: str = "train", seed: int = 0) -> list[Problem]:
        """n problems from one split, drawn with a seeded generator."""
        if split not in ("train", "held_out"):
            raise ValueError(f"split must be 'train' or 'held_out', got {split!r}")
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        rng = random.Random(f"{seed}-{split}-{self.digits}")
        top = 10**self.digits
        out = []
        while len(out) < n:
            a, b = rng.randrange(top), rng.randrange(top)
            if split_of(a, b) == split:
                out.append(Problem(a, b, self.prompt(a, b)))
        return out

    def reward(self, problem: Problem, completion: str) -> float:
        """1.0 for a correct final answer, 0.0 for anything else (malformed included)."""
        return 1.0 if final_answer(completion) == problem.answer else 0.0

    # -- solutions -----------------------------------------------------------------
    def solution(self, problem: Problem, rng: random.Random | None = None) -> tuple[str, list[int]]:
        """A reference solution and its per-character loss mask (0 on mistaken steps).

        With ``rng`` the style and correction knobs are sampled; without it the
        canonical (style-free, mistake-free) solution is returned.
        """
        a_digits = [int(c) for c in f"{problem.a:0{self.digits}d}"][::-1]
        b_digits = [int(c) for c in f"{problem.b:0{self.digits}d}"][::-1]
        sep = SEPARATORS[0]
        if rng is not None and rng.random() < self.style:
            sep = SEPARATORS[1]
        text, mask, carry = [], [], 0
        for x, y in zip(a_digits, b_digits):
            total = x + y + carry
            first, second = (x, y)
            if rng is not None and rng.random() < self.style:
                first, second = y, x
            step = f"{first}+{second}+{carry}={total}"
            if rng is not None and rng.random() < self.corrections:
                wrong = mistaken_step(first, second, carry, total, rng)
                text.append(wrong)
                mask.extend([0] * len(wrong))
                text.append(CORRECTION)
                mask.append(1)
            text.append(step)
            mask.extend([1] * len(step))
            spacer = sep + (" " if rng is not None and rng.random() < self.style else "")
            text.append(spacer)
            mask.extend([1] * len(spacer))
            carry = total // 10
        final = str(problem.answer)
        text.append(final)
        mask.extend([1] * len(final))
        solution = "".join(text)
        assert len(solution) == len(mask)
        return solution, mask


def mistaken_step(first: int, second: int, carry: int, total: int, rng: random.Random) -> str:
    """The same step with one plausible mistake: a wrong carry-in or a wrong sum."""
    if rng.random() < 0.5:
        wrong_total = total + rng.choice([-1, 1]) if 0 < total < 19 else (1 if total == 0 else 18)
        return f"{first}+{second}+{carry}={wrong_total}"
    wrong_carry = 1 - carry
    return f"{first}+{second}+{wrong_carry}={first + second + wrong_carry}"


def final_answer(completion: str) -> int | None:
    """The integer a completion ends with, or None if it is malformed.

    The answer is the last separator-delimited field; a '!' inside it marks a
    correction, and only what follows the last '!' counts.
    """
    if not isinstance(completion, str):
        return None
    field = completion
    for sep in SEPARATORS:
        field = field.rsplit(sep, 1)[-1]
    field = field.rsplit(CORRECTION, 1)[-1].strip()
    if not field or not field.isascii() or not field.isdigit() or len(field) > 20:
        return None
    return int(field)


def split_steps(completion: str) -> list[str]:
    """The scratchpad's one parser: ``completion`` split at its step separators (';' or ','), one field per
    step as written (a corrected step keeps its mark and both tries), the answer last."""
    return completion.replace(",", ";").split(";")


def written_step(completion: str, column: int) -> tuple[int, int, int, int] | None:
    """``(x, y, carry_in, total)`` as written in ``completion``'s step for ``column`` (after a correction
    mark, its last try), or None where the step is missing or cannot be read."""
    fields = split_steps(completion)
    if column >= len(fields) - 1:  # the last field is the answer, not a step
        return None
    try:
        left, total = fields[column].rsplit(CORRECTION, 1)[-1].strip().split("=")
        x, y, c = (int(v) for v in left.split("+"))
        return x, y, c, int(total)
    except ValueError:
        return None


def check_steps(problem: Problem, completion: str, digits: int) -> list[bool | None]:
    """For each column, whether the step written for it is locally right; None where it is missing.

    A step is locally right when it names that column's two digits (either
    order), takes as carry-in the carry-out of the step written before it (as
    written, right or wrong), and adds correctly. Judging locally separates a
    new mistake from one inherited from an earlier step, which is what
    "errors compound" is about.
    """
    a_digits = [int(c) for c in f"{problem.a:0{digits}d}"][::-1]
    b_digits = [int(c) for c in f"{problem.b:0{digits}d}"][::-1]
    steps = len(split_steps(completion)) - 1  # the last field is the answer, not a step
    verdicts: list[bool | None] = []
    carry_in = 0
    for column in range(digits):
        numbers = written_step(completion, column)
        if numbers is None:  # missing, or written but unreadable
            verdicts.append(None if column >= steps else False)
            carry_in = 0
            continue
        x, y, c, total = numbers
        right_digits = sorted((x, y)) == sorted((a_digits[column], b_digits[column]))
        verdicts.append(right_digits and c == carry_in and total == x + y + c)
        carry_in = total // 10
    return verdicts


def first_wrong_span(completion: str, verdicts: list[bool | None]) -> tuple[int, int]:
    """Character span ``[start, end)`` of the first step ``check_steps`` did not judge right
    (its separator included)."""
    start = 0
    for field, verdict in zip(split_steps(completion), verdicts):
        if verdict is not True:
            return start, start + len(field) + 1
        start += len(field) + 1
    return start, len(completion) + 1
