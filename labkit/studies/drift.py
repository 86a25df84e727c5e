"""How a student's own mistakes move it away from where it was trained.

``error_compounding`` asks the exposure-bias question directly: once a student
has made a first mistake (and so stands in a state its training data never
showed it), are its *next* steps worse than steps taken from a clean prefix?
A problem that trips a student once may be harder throughout, so two controls
hold difficulty fixed: ``matched_compounding`` compares each step after a first
mistake with clean samples of the same problem and column, and
``next_step_accuracy`` / ``carry_flip_recovery`` plant a mistake in the
student's own correct prefix and ask for the next step on the same problems.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..task import CORRECTION, Problem, check_steps, written_step


@dataclass
class Compounding:
    clean_steps: int  # steps written after an all-correct prefix
    clean_errors: int
    after_error_steps: int  # steps written after at least one earlier mistake
    after_error_errors: int
    first_error_column: list[int]  # per completion with a mistake: the column of its first one

    @property
    def clean_error_rate(self) -> float:
        return self.clean_errors / max(1, self.clean_steps)

    @property
    def after_error_rate(self) -> float:
        return self.after_error_errors / max(1, self.after_error_steps)

    @property
    def ratio(self) -> float | None:
        """How many times more often a step goes wrong after a first mistake (None if undefined)."""
        if self.clean_errors == 0 or self.after_error_steps == 0:
            return None
        return self.after_error_rate / self.clean_error_rate


def error_compounding(problems: list[Problem], completions: list[str], digits: int) -> Compounding:
    """Step error rates from a clean prefix vs after a first mistake, judged locally (see ``check_steps``)."""
    clean = clean_err = after = after_err = 0
    firsts = []
    for problem, completion in zip(problems, completions):
        seen_error = False
        for column, verdict in enumerate(check_steps(problem, completion, digits)):
            wrong = verdict is not True  # a missing step counts as a mistake
            if seen_error:
                after += 1
                after_err += wrong
            else:
                clean += 1
                clean_err += wrong
                if wrong:
                    firsts.append(column)
            seen_error |= wrong
    return Compounding(clean, clean_err, after, after_err, firsts)


MISTAKE_KINDS = ("carry kept", "carry flipped", "garbled or missing")
"""What a first mistake did (:func:`first_mistake_kind`): a wrong step whose carry-out is still the true one,
one whose carry-out is wrong (the next column's right carry-in changes), or a step that cannot be read."""


@dataclass
class MatchedCompounding:
    """Compounding with difficulty matched: each step written after a first mistake is compared with the
    error rate of clean-prefix steps at the same column of the same problem (the student's other samples).

    ``observed[i]`` and ``expected[i]`` are problem ``i``'s errors after a first mistake and the errors its
    clean rates predict for those steps (problems without a step to compare count 0 in both); ``by_kind``
    splits both by what the first mistake was (:data:`MISTAKE_KINDS`). After a first mistake that flipped the
    carry, ``carry_read`` counts next steps that take the carry as written, ``carry_recomputed`` those that
    take the true carry instead (judged locally, a mistake)."""

    observed: list[float]
    expected: list[float]
    by_kind: dict[str, tuple[list[float], list[float]]]
    carry_read: int = 0
    carry_recomputed: int = 0

    @property
    def ratio(self) -> float | None:
        """Observed / expected errors after a first mistake: 1 means no compounding beyond the problem's and
        the column's difficulty (None without expected errors)."""
        expected = sum(self.expected)
        return sum(self.observed) / expected if expected > 0 else None

    def kind(self, name: str) -> MatchedCompounding:
        """The same measure over the steps after first mistakes of one kind only."""
        observed, expected = self.by_kind[name]
        return MatchedCompounding(observed, expected, {name: (observed, expected)})

    def interval(self, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
        """A bootstrap interval of :attr:`ratio` over problems."""
        import numpy as np

        observed, expected = np.asarray(self.observed), np.asarray(self.expected)
        picks = np.random.default_rng(seed).integers(0, len(observed), (resamples, len(observed)))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = observed[picks].sum(1) / expected[picks].sum(1)
        ratios = ratios[np.isfinite(ratios)]
        if ratios.size == 0:  # no problem had a step to compare
            return float("nan"), float("nan")
        tail = (1 - confidence) / 2
        return float(np.quantile(ratios, tail)), float(np.quantile(ratios, 1 - tail))


def true_carries(problem: Problem, digits: int) -> list[int]:
    """The carry into each column of ``problem``'s addition (column 0 = ones)."""
    carries, carry = [], 0
    for j in range(digits):
        carries.append(carry)
        carry = (problem.a // 10**j % 10 + problem.b // 10**j % 10 + carry) // 10
    return carries


def first_mistake_kind(problem: Problem, completion: str, column: int, digits: int) -> str:
    """Which of :data:`MISTAKE_KINDS` a completion's first mistake (at ``column``, after right steps) is."""
    numbers = written_step(completion, column)
    if numbers is None:
        return "garbled or missing"
    total = numbers[3]
    right = (
        problem.a // 10**column % 10 + problem.b // 10**column % 10 + true_carries(problem, digits)[column]
    )
    return "carry kept" if total // 10 == right // 10 else "carry flipped"


def matched_compounding(problems: list[Problem], samples: list[list[str]], digits: int) -> MatchedCompounding:
    """:class:`MatchedCompounding` from several sampled completions per problem (``samples[i]`` for
    ``problems[i]``; steps judged as in :func:`error_compounding`, a missing step a mistake). A step after a
    first mistake at column ``j`` is expected to go wrong at the rate clean-prefix samples of the same
    problem went wrong at ``j``; a column no clean sample reached is left out of both counts."""
    observed, expected = [], []
    by_kind = {k: ([], []) for k in MISTAKE_KINDS}
    read = recomputed = 0
    for problem, completions in zip(problems, samples):
        clean: dict[int, list[bool]] = {}
        after: dict[str, dict[int, list[bool]]] = {k: {} for k in MISTAKE_KINDS}
        for completion in completions:
            kind = None
            for column, verdict in enumerate(check_steps(problem, completion, digits)):
                wrong = verdict is not True
                if kind is None:
                    clean.setdefault(column, []).append(wrong)
                    if wrong:
                        kind = first_mistake_kind(problem, completion, column, digits)
                        first = column
                    continue
                after[kind].setdefault(column, []).append(wrong)
                step = (
                    written_step(completion, column)
                    if kind == "carry flipped" and column == first + 1
                    else None
                )
                if step is not None:  # the step right after a carry flip: which carry does it take?
                    written = written_step(completion, first)[3] // 10
                    read += step[2] == written
                    recomputed += step[2] == true_carries(problem, digits)[column] != written
        totals = [0.0, 0.0]
        for k in MISTAKE_KINDS:
            columns = [j for j in after[k] if clean.get(j)]
            o = float(sum(sum(after[k][j]) for j in columns))
            e = sum(len(after[k][j]) * sum(clean[j]) / len(clean[j]) for j in columns)
            by_kind[k][0].append(o)
            by_kind[k][1].append(e)
            totals = [totals[0] + o, totals[1] + e]
        observed.append(totals[0])
        expected.append(totals[1])
    return MatchedCompounding(observed, expected, by_kind, read, recomputed)


def sampled_compounding(model, tokenizer, task, problems: list[Problem], samples: int = 8, seed: int = 0):
    """:func:`matched_compounding` of ``samples`` completions (T=1) per problem, written by ``model``."""
    from ..evaluate import evaluate

    result = evaluate(
        model, tokenizer, task, seed=seed, problems=[p for p in problems for _ in range(samples)]
    )
    completions = result.completions
    return matched_compounding(
        problems, [completions[i * samples : (i + 1) * samples] for i in range(len(problems))], task.digits
    )


UNLIKELY = 0.05  # a token the teacher gives less than 5% is one it "finds unlikely"


@dataclass
class DriftProfile:
    """Per-position divergence of a student's own rollouts from the teacher.

    Position t = t-th completion token.
    """

    reverse_kl: list[float]  # mean exact KL(student || teacher) at position t, over rollouts that reach t
    teacher_logprob: list[float]  # mean log p_teacher of the token the student chose at t
    prefix_log_ratio: list[
        float
    ]  # mean sum_{s<=t} log p_s(y_s)/p_t(y_s): how far the visited states have moved
    reached: list[int]  # rollouts that reach position t
    first_unlikely: list[
        int | None
    ]  # per rollout: first position where p_teacher(chosen) < UNLIKELY (None if never)

    @property
    def first_unlikely_rate(self) -> float:
        """Fraction of rollouts with at least one token the teacher finds unlikely."""
        return sum(x is not None for x in self.first_unlikely) / max(1, len(self.first_unlikely))


def drift_from_logits(
    student_logits, teacher_logits, tokens, mask, unlikely: float = UNLIKELY
) -> DriftProfile:
    """The drift profile from tensors:
    logits ``[B, T, V]`` of both models on the student's tokens ``[B, T]``."""
    import math

    import torch

    from ..objectives import reverse_kl
    from ..sampling import logprobs_of

    student_logp = logprobs_of(student_logits.float(), tokens)
    teacher_logp = logprobs_of(teacher_logits.float(), tokens)
    kl = reverse_kl(student_logits.float(), teacher_logits.float()) * mask
    prefix = torch.cumsum((student_logp - teacher_logp) * mask, dim=1)
    reached = mask.sum(0).clamp(min=1)
    threshold = math.log(unlikely) if unlikely > 0 else -math.inf
    below = (teacher_logp < threshold) & (mask > 0)
    firsts = [int(row.nonzero()[0]) if row.any() else None for row in below]
    return DriftProfile(
        reverse_kl=(kl.sum(0) / reached).tolist(),
        teacher_logprob=((teacher_logp * mask).sum(0) / reached).tolist(),
        prefix_log_ratio=((prefix * mask).sum(0) / reached).tolist(),
        reached=mask.sum(0).long().tolist(),
        first_unlikely=firsts,
    )


def drift_profile(student, teacher, tokenizer, task, n: int = 256, seed: int = 0) -> DriftProfile:
    """Sample ``n`` held-out rollouts from the student (T=1) and measure how they drift from the teacher."""
    import torch

    from ..evaluate import sample_problems
    from ..sampling import token_logprobs

    rollout = sample_problems(student, tokenizer, task, task.problems(n, "held_out", seed=seed), seed)
    with torch.no_grad():
        _, s = token_logprobs(
            student, rollout.sequences, rollout.prompt_length, return_logits=True, vocab_size=len(tokenizer)
        )
        _, t = token_logprobs(
            teacher, rollout.sequences, rollout.prompt_length, return_logits=True, vocab_size=len(tokenizer)
        )
    return drift_from_logits(s, t, rollout.completion_ids, rollout.completion_mask)


# -- recovery from a planted mistake -----------------------------------------------------------------------
# "OOD shock" in one measurement, with difficulty held fixed: the same problems, the same number of steps
# written, only the prefix's provenance changed. A student that copes with its own mistakes writes the next
# step as well after a planted mistake as after a clean prefix; one that only ever saw clean teacher text
# does worse.

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


def _steps_of(text: str) -> list[str]:
    return text.replace(",", ";").split(";")


def plant_mistake(prefix: str, rng: random.Random) -> str:
    """``prefix`` (whole steps, each ending in a separator) with its last step rewritten with one of the
    task's plausible mistakes (a sum off by one, a wrong carry-in) chosen so that the step's carry-out stays
    the true one. The written style (order, spacing, separator) is kept."""
    from ..task import _mistaken_step

    body, separator = prefix[:-1], prefix[-1]
    cut = max(body.rfind(";"), body.rfind(","), body.rfind(CORRECTION)) + 1  # a corrected step: its last try
    head, last = body[:cut], body[cut:]
    pad = last[: len(last) - len(last.lstrip(" "))]
    left, total = last.strip().split("=")
    x, y, c = (int(v) for v in left.split("+"))
    for _ in range(100):
        wrong = _mistaken_step(x, y, c, int(total), rng)
        if int(wrong.split("=")[1]) // 10 == int(total) // 10:
            return f"{head}{pad}{wrong}{separator}"
    raise ValueError(f"no carry-keeping mistake for the step {last!r}")


def reference_prefix(task, problem: Problem, steps: int) -> str:
    """The canonical first ``steps`` steps of a solution, each followed by ';'."""
    return "".join(f + ";" for f in _steps_of(task.solution(problem)[0])[:steps])


def sampled_prefix(problem: Problem, completion: str, steps: int, digits: int) -> str | None:
    """The first ``steps`` steps of a sampled completion, as written, if each of them is locally right."""
    verdicts = check_steps(problem, completion, digits)[:steps]
    if not all(v is True for v in verdicts):
        return None
    end, fields = 0, completion.replace(",", ";").split(";")
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
    written = next_steps(model, tokenizer, task, items, seed, temperature)
    return [
        check_steps(problem, text, task.digits)[len(_steps_of(prefix)) - 1] is True
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
    columns = [len(_steps_of(prefix)) - 1 for _, prefix in flipped]
    carries = [(written_step(text, j) or (None, None, None))[2] for text, j in zip(written, columns)]
    return CarryFlip(
        own=next_step_right(student, tokenizer, task, own, seed=seed + 2),
        flipped=[
            check_steps(p, text, task.digits)[j] is True for (p, _), text, j in zip(flipped, written, columns)
        ],
        takes_written=[c == 0 for c in carries],
        takes_true=[c == 1 for c in carries],
    )
