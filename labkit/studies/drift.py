"""How a student's own mistakes move it away from where it was trained.

``error_compounding`` asks the exposure-bias question directly: once a student
has made a first mistake (and so stands in a state its training data never
showed it), are its *next* steps worse than steps taken from a clean prefix?
"""

from __future__ import annotations

from dataclasses import dataclass

from ..task import Problem, check_steps


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

    from ..encoding import encode_prompts
    from ..sampling import sample, token_logprobs

    problems = task.problems(n, "held_out", seed=seed)
    rollout = sample(
        student,
        encode_prompts(tokenizer, [p.prompt for p in problems]),
        task.max_completion_length,
        tokenizer,
        1.0,
        torch.Generator().manual_seed(seed),
    )
    with torch.no_grad():
        _, s = token_logprobs(
            student, rollout.sequences, rollout.prompt_length, return_logits=True, vocab_size=len(tokenizer)
        )
        _, t = token_logprobs(
            teacher, rollout.sequences, rollout.prompt_length, return_logits=True, vocab_size=len(tokenizer)
        )
    return drift_from_logits(s, t, rollout.completion_ids, rollout.completion_mask)
