"""How a student's own mistakes move it away from where it was trained.

``error_compounding`` asks the exposure-bias question directly: once a student
has made a first mistake (and so stands in a state its training data never
showed it), are its *next* steps worse than steps taken from a clean prefix?
A problem that trips a student once may be harder throughout, so two controls
hold difficulty fixed: ``matched_compounding`` compares each step after a first
mistake with clean samples of the same problem and column, and
:mod:`labkit.studies.recovery` plants a mistake in the student's own correct
prefix and asks for the next step on the same problems.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..task import Problem, check_steps, written_step


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
    from ..evaluate import sample_problems
    from ..scoring import score

    rollout = sample_problems(student, tokenizer, task, task.problems(n, "held_out", seed=seed), seed)
    scores = score(student, teacher, tokenizer, rollout.sequences, rollout.prompt_length)
    return drift_from_logits(
        scores.student_logits, scores.teacher_logits, rollout.completion_ids, rollout.completion_mask
    )
