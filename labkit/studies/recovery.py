"""Recovery from a planted mistake: "OOD shock" in one measurement, with difficulty held fixed.

The same problems, the same number of steps written, only the prefix's provenance changed. A student that
copes with its own mistakes writes the next step as well after a planted mistake as after a clean prefix; one
that only ever saw clean teacher text does worse. ``next_step_accuracy`` plants a carry-keeping mistake;
``carry_flip_recovery`` one that flips the carry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..task import CORRECTION, Problem, check_steps, mistaken_step, split_steps, written_step

PREFIX_KINDS = ("own", "planted", "teacher", "reference")
"""own: the student's own sampled steps, kept where every step is right; planted: the same text with its last
step rewritten wrong (a plausible mistake that keeps the carry, so the right next step is the same whether the
student reads the carry it wrote or works it out); teacher: the teacher's sampled steps, kept where right (the
text SFT trains on); reference: the task's canonical steps (one style: 'a' first, ';', no spaces). Every kind
uses the same problems: those where both sampled prefixes came out right."""


@dataclass
class NextStep:
    """Whether a student wrote the next step right after each kind of prefix, problem by problem."""

    outcomes: dict[str, list[bool]]  # kind -> per problem (the same problems for every kind)

    def rate(self, kind: str) -> float:
        return sum(self.outcomes[kind]) / max(1, len(self.outcomes[kind]))

    @property
    def total(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.outcomes.items()}

    @property
    def recovery(self) -> float | None:
        """next-step accuracy after a planted mistake over after the same prefix unplanted (1 = unshaken)"""
        return None if self.rate("own") == 0 else self.rate("planted") / self.rate("own")


def plant_mistake(prefix: str, rng: random.Random) -> str:
    """``prefix`` (whole steps, each ending in a separator) with its last step rewritten with one of the
    task's plausible mistakes (a sum off by one, a wrong carry-in) chosen so that the step's carry-out stays
    the true one. The written style (order, spacing, separator) is kept."""
    body, separator = prefix[:-1], prefix[-1]
    cut = max(body.rfind(";"), body.rfind(","), body.rfind(CORRECTION)) + 1  # a corrected step: its last try
    head, last = body[:cut], body[cut:]
    pad = last[: len(last) - len(last.lstrip(" "))]
    left, total = last.strip().split("=")
    x, y, c = (int(v) for v in left.split("+"))
    for _ in range(100):
        wrong = mistaken_step(x, y, c, int(total), rng)
        if int(wrong.split("=")[1]) // 10 == int(total) // 10:
            return f"{head}{pad}{wrong}{separator}"
    raise ValueError(f"no carry-keeping mistake for the step {last!r}")


def reference_prefix(task, problem: Problem, steps: int) -> str:
    """The canonical first ``steps`` steps of a solution, each followed by ';'."""
    return "".join(f + ";" for f in split_steps(task.solution(problem)[0])[:steps])


def sampled_prefix(problem: Problem, completion: str, steps: int, digits: int) -> str | None:
    """The first ``steps`` steps of a sampled completion, as written, if each of them is locally right."""
    verdicts = check_steps(problem, completion, digits)[:steps]
    if not all(v is True for v in verdicts):
        return None
    end, fields = 0, split_steps(completion)
    for field in fields[:steps]:
        end += len(field) + 1
    return completion[:end]


def next_steps(model, tokenizer, task, items, seed: int = 0, temperature: float = 1.0) -> list[str]:
    """For each ``(problem, prefix)``: the prefix followed by what the model writes after it (one step and its
    separator; room for a corrected step on a task with corrections). Prompts are batched by length (sampling
    needs equal-length prompts)."""
    import torch

    from ..encoding import decode_completions, encode_prompts
    from ..sampling import sample

    window = 14 * (2 if getattr(task, "corrections", 0) > 0 else 1)
    out = [""] * len(items)
    by_length: dict[int, list[int]] = {}
    for i, (problem, prefix) in enumerate(items):
        by_length.setdefault(len(problem.prompt + prefix), []).append(i)
    generator = torch.Generator().manual_seed(seed)
    for length in sorted(by_length):
        index = by_length[length]
        texts = [items[i][0].prompt + items[i][1] for i in index]
        rollout = sample(model, encode_prompts(tokenizer, texts), window, tokenizer, temperature, generator)
        for i, continuation in zip(index, decode_completions(tokenizer, rollout.completion_ids,
                                                              rollout.completion_mask)):  # fmt: skip
            out[i] = items[i][1] + continuation
    return out


def next_step_right(model, tokenizer, task, items, seed: int = 0, temperature: float = 1.0) -> list[bool]:
    """For each ``(problem, prefix)``: is the step the model writes after ``prefix`` locally right? A step cut
    off by the window is wrong."""
    return written_right(task, items, next_steps(model, tokenizer, task, items, seed, temperature))


def written_right(task, items, written: list[str]) -> list[bool]:
    """For each ``(problem, prefix)`` and the text ``written`` after it (:func:`next_steps`): is the next step
    locally right?"""
    return [
        check_steps(problem, text, task.digits)[len(split_steps(prefix)) - 1] is True
        for (problem, prefix), text in zip(items, written)
    ]


def _prefix_problems(task, n: int, seed: int) -> tuple[list[Problem], list[int]]:
    """``n`` held-out problems and each one's prefix length, cycling through 1 .. digits-1 steps."""
    return task.problems(n, "held_out", seed=seed), [1 + i % (task.digits - 1) for i in range(n)]


def _sampled_prefixes(model, tokenizer, task, problems, steps, seed: int) -> list[str | None]:
    """Each problem's first ``steps[i]`` steps as ``model`` samples them (T=1, seeded), or None where one of
    them is wrong (:func:`sampled_prefix`)."""
    from ..encoding import decode_completions
    from ..evaluate import sample_problems

    rollout = sample_problems(model, tokenizer, task, problems, seed)
    texts = decode_completions(tokenizer, rollout.completion_ids, rollout.completion_mask)
    return [sampled_prefix(p, t, k, task.digits) for p, t, k in zip(problems, texts, steps)]


def next_step_accuracy(student, teacher, tokenizer, task, n: int = 512, seed: int = 0) -> NextStep:
    """Next-step accuracy of ``student`` after each kind of prefix (``PREFIX_KINDS``) on held-out problems.

    Each problem gets a prefix of ``k`` steps, ``k`` cycling through 1 .. digits-1. Every kind is measured on
    the problems where both the teacher's and the student's sampled prefixes came out right, so the kinds
    compare like with like; across students those problems differ (a better student keeps more). Sampling
    is at T=1, as the races evaluate.
    """
    if task.digits < 2:
        raise ValueError("a next step needs at least 2 digits (a step to write after a prefix)")
    problems, steps = _prefix_problems(task, n, seed)
    written = {
        name: _sampled_prefixes(model, tokenizer, task, problems, steps, seed + 1)
        for name, model in (("teacher", teacher), ("own", student))
    }
    both = [i for i in range(n) if written["teacher"][i] is not None and written["own"][i] is not None]
    plant = random.Random(f"plant-{seed}")
    items = {
        "own": [(problems[i], written["own"][i]) for i in both],
        "planted": [(problems[i], plant_mistake(written["own"][i], plant)) for i in both],
        "teacher": [(problems[i], written["teacher"][i]) for i in both],
        "reference": [(problems[i], reference_prefix(task, problems[i], steps[i])) for i in both],
    }
    return NextStep(
        {kind: next_step_right(student, tokenizer, task, items[kind], seed=seed + 2) for kind in PREFIX_KINDS}
    )


def drop_carry(prefix: str) -> str | None:
    """``prefix`` (whole steps, each ending in a separator) with its last step's tens digit dropped —
    ``5+8+1=14`` becomes ``5+8+1=4``, "forgot to carry" — so its carry-out flips from 1 to 0; None where the
    last step carries nothing. Only the total changes; the written style is kept."""
    body, separator = prefix[:-1], prefix[-1]
    head, _, total = body.rpartition("=")
    if not total.strip().isdigit() or int(total) < 10:
        return None
    pad = total[: len(total) - len(total.lstrip())]
    return f"{head}={pad}{int(total) - 10}{separator}"


@dataclass
class CarryFlip:
    """The next step after a student's own correct prefix, and after the same prefix with its last step's
    carry dropped (:func:`drop_carry`), problem by problem. After the drop, the locally right next step takes
    carry-in 0 as written; ``takes_written`` / ``takes_true`` say which carry-in the student wrote (0 or the
    true 1; a step it did not write takes neither)."""

    own: list[bool]
    flipped: list[bool]
    takes_written: list[bool]
    takes_true: list[bool]


def carry_flip_recovery(student, tokenizer, task, n: int = 512, seed: int = 0) -> CarryFlip:
    """:class:`CarryFlip` on the held-out problems and own prefixes of :func:`next_step_accuracy` (the same
    seeds) whose last step carries: does a planted mistake that *flips* the carry shake the student, and does
    it read the carry it wrote or work the true one out?"""
    problems, steps = _prefix_problems(task, n, seed)
    prefixes = _sampled_prefixes(student, tokenizer, task, problems, steps, seed + 1)
    pairs = [(p, prefix, drop_carry(prefix)) for p, prefix in zip(problems, prefixes) if prefix]
    own = [(p, prefix) for p, prefix, dropped in pairs if dropped]
    flipped = [(p, dropped) for p, _, dropped in pairs if dropped]
    written = next_steps(student, tokenizer, task, flipped, seed=seed + 2)
    columns = [len(split_steps(prefix)) - 1 for _, prefix in flipped]
    carries = [(written_step(text, j) or (None, None, None))[2] for text, j in zip(written, columns)]
    return CarryFlip(
        own=next_step_right(student, tokenizer, task, own, seed=seed + 2),
        flipped=[
            check_steps(p, text, task.digits)[j] is True for (p, _), text, j in zip(flipped, written, columns)
        ],
        takes_written=[c == 0 for c in carries],
        takes_true=[c == 1 for c in carries],
    )


def mistaken_prefix(problem: Problem, completion: str, digits: int) -> str | None:
    """A sampled completion cut after its first wrong step (its separator kept), where that step is readable
    and not the last column (so a next step is left to write); None otherwise."""
    verdicts = check_steps(problem, completion, digits)
    first = next((j for j, v in enumerate(verdicts) if v is not True), None)
    if first is None or verdicts[first] is None or first >= digits - 1:
        return None
    if written_step(completion, first) is None:
        return None
    return completion[: sum(len(f) + 1 for f in split_steps(completion)[: first + 1])]


@dataclass
class TeacherInStudentStates:
    """The other side of "OOD shock": OPD's teacher grades the student's text, so is it at home there? On the
    problems where the student's sample goes wrong before its last step, the teacher's next step after the
    student's text up to its first mistake (``after_student_mistake``), and, on the same problems at the same
    column, after the task's reference steps (``after_reference``) and after the teacher's own correct steps
    where it wrote them right (``after_own``: a subset of the problems). ``true_carry`` says, per problem
    after the student's mistake, whether the teacher's next step took the *true* carry-in where the student's
    wrong step had written another (None where the two carries agree or the next step is unreadable): a
    teacher that silently corrects the carry fails the local check without being lost."""

    after_student_mistake: list[bool]
    after_reference: list[bool]
    after_own: list[bool]
    true_carry: list[bool | None]
    entropy: dict[str, list[float | None]]  # per kind, per problem: the teacher's entropy over its next step

    def rate(self, name: str) -> float:
        outcomes = getattr(self, name)
        return sum(outcomes) / max(1, len(outcomes))

    def mean_entropy(self, name: str) -> float | None:
        """The teacher's mean entropy (nats per token) over the next steps it wrote after name."""
        values = [v for v in self.entropy[name] if v is not None]
        return sum(values) / len(values) if values else None


def teacher_in_student_states(teacher, student, tokenizer, task, n: int = 512, seed: int = 0):
    """:class:`TeacherInStudentStates` on ``n`` held-out problems: one student sample each (T=1); where it
    goes wrong before its last column, the teacher writes the next step after that text, after the reference
    steps of the same length and after its own correct steps of that length (where its own sample had them).
    "Right" is locally right (:func:`labkit.task.check_steps`): consistent with the carry as written."""
    from ..encoding import decode_completions
    from ..evaluate import sample_problems
    from .drift import true_carries

    problems = task.problems(n, "held_out", seed=seed)
    texts = {
        name: decode_completions(tokenizer, r.completion_ids, r.completion_mask)
        for name, r in (("student", sample_problems(student, tokenizer, task, problems, seed + 1)),
                        ("teacher", sample_problems(teacher, tokenizer, task, problems, seed + 1)))
    }  # fmt: skip
    mistaken = [(p, mistaken_prefix(p, t, task.digits)) for p, t in zip(problems, texts["student"])]
    index = [i for i, (_, prefix) in enumerate(mistaken) if prefix]
    steps = {i: len(split_steps(mistaken[i][1])) - 1 for i in index}
    own = [(i, sampled_prefix(problems[i], texts["teacher"][i], steps[i], task.digits)) for i in index]
    own = [(problems[i], prefix) for i, prefix in own if prefix]
    kinds = {
        "after_student_mistake": [mistaken[i] for i in index],
        "after_reference": [(problems[i], reference_prefix(task, problems[i], steps[i])) for i in index],
        "after_own": own,
    }
    written = {kind: next_steps(teacher, tokenizer, task, items, seed + 2) for kind, items in kinds.items()}
    right = {kind: written_right(task, items, written[kind]) for kind, items in kinds.items()}
    true_carry = []
    for (problem, prefix), text in zip(kinds["after_student_mistake"], written["after_student_mistake"]):
        j = len(split_steps(prefix)) - 1  # the next step's column; the student's mistake is in column j - 1
        carry_written = written_step(prefix, j - 1)[3] // 10
        carry_true = true_carries(problem, task.digits)[j]
        taken = (written_step(text, j) or (None, None, None, None))[2]
        true_carry.append(None if carry_written == carry_true or taken is None else taken == carry_true)
    entropy = {
        kind: next_step_entropy(teacher, tokenizer, items, written[kind]) for kind, items in kinds.items()
    }
    return TeacherInStudentStates(**right, true_carry=true_carry, entropy=entropy)


def next_step_entropy(model, tokenizer, items, written: list[str]) -> list[float | None]:
    """For each ``(problem, prefix)`` and the text ``written`` after it (prefix included): ``model``'s mean
    entropy in nats over the tokens of the next step written there (the step and its separator), read
    teacher-forced on that text; None where no whole next step was written."""
    import torch

    from ..encoding import encode_prompts

    out: list[float | None] = [None] * len(items)
    by_length: dict[int, list[tuple[int, str, int]]] = {}
    for i, ((problem, prefix), text) in enumerate(zip(items, written)):
        fields = split_steps(text)
        j = len(split_steps(prefix)) - 1
        end = len(prefix) + len(fields[j]) if j < len(fields) - 1 else None
        if end is None or end >= len(text):  # no next step, or one cut off before its separator
            continue
        full = problem.prompt + text[: end + 1]
        k = len(tokenizer(text[len(prefix) : end + 1], add_special_tokens=False)["input_ids"])
        length = len(tokenizer(full, add_special_tokens=True)["input_ids"])
        by_length.setdefault(length, []).append((i, full, k))
    vocab = len(tokenizer)
    with torch.no_grad():
        for rows in by_length.values():
            logits = model(input_ids=encode_prompts(tokenizer, [full for _, full, _ in rows])).logits
            logp = torch.log_softmax(logits[..., :vocab].float(), dim=-1)
            entropy = -(logp.exp() * logp).sum(-1)  # [B, L]: the entropy of the prediction at each position
            for row, (i, _, k) in enumerate(rows):
                out[i] = float(entropy[row, -k - 1 : -1].mean())
    return out
