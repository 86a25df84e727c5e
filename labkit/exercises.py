"""Exercises with checkers: write the core of a method yourself, and let the lab say what is wrong in words.

    from labkit.exercises import check

    def my_opd_advantages(student_logprobs, teacher_logprobs, mask):
        ...  # your code

    check("opd_advantages", my_opd_advantages)

``check`` runs your function and the lab's reference (:mod:`labkit.objectives`) on random inputs and on edge
cases
(padding, groups whose rewards are all equal, inputs that carry gradients). When they disagree it tries the
common
mistakes it knows (a flipped sign, padding averaged in, a gradient flowing into the teacher term, ...) and
names the
one your function matches. Worked solutions live apart, in :mod:`labkit.solutions`: try first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import objectives

Inputs = Callable[[torch.Generator], tuple]


@dataclass
class Exercise:
    """One function to write: what it takes and returns, the reference, inputs to try, and known mistakes."""

    signature: str
    reference: Callable
    inputs: list[Inputs]
    mistakes: dict[str, Callable]  # words naming the mistake -> a function that makes it
    gradient_mistake: str | None = None  # if set, a result carrying gradient is wrong, for these words


def _logprobs(g: torch.Generator, shape=(4, 7)) -> torch.Tensor:
    return torch.log_softmax(torch.randn(*shape, 5, generator=g), -1)[..., 0]


def _mask(g: torch.Generator, shape=(4, 7)) -> torch.Tensor:
    lengths = torch.randint(2, shape[1] + 1, (shape[0],), generator=g)
    return (torch.arange(shape[1])[None, :] < lengths[:, None]).float()  # 1 on tokens, 0 on padding


def _sft_inputs(g):
    return _logprobs(g), _mask(g)


def _paired_inputs(g):
    return _logprobs(g), _logprobs(g), _mask(g)


def _paired_inputs_with_gradient(g):
    student, teacher, mask = _paired_inputs(g)
    return student.requires_grad_(), teacher.requires_grad_(), mask


def _rewards(g):
    rewards = (torch.rand(5, 4, generator=g) < 0.5).float()
    rewards[0] = 1.0  # a group where every sample succeeded: no signal
    rewards[1] = 0.0  # and one where every sample failed
    return (rewards,)


def _logits_pair(g):
    return torch.randn(3, 6, 5, generator=g) * 2, torch.randn(3, 6, 5, generator=g) * 2


def _whole_batch_grpo(rewards):
    return (rewards - rewards.mean()) / (rewards.std() + 1e-6)


def _unbiased_grpo(rewards):
    std = rewards.std(dim=1, keepdim=True)
    return torch.where(
        std > 0, (rewards - rewards.mean(1, keepdim=True)) / (std + 1e-6), torch.zeros_like(rewards)
    )


EXERCISES = {
    "sft_loss": Exercise(
        "sft_loss(logprobs [B, T], mask [B, T]) -> scalar: "
        "the mean of -log p over the tokens where mask is 1",
        objectives.sft_loss,
        [_sft_inputs],
        {
            "the sign is flipped: the loss is the *negative* log-likelihood": lambda lp, m: (
                (lp * m).sum() / m.sum()
            ),
            "padding is averaged in: divide by the number of real tokens (mask.sum()), "
            "not by every position": (lambda lp, m: -(lp * m).mean()),
            "padding tokens count: multiply by the mask before averaging": lambda lp, m: -lp.mean(),
            "it sums instead of averaging: divide by the number of real tokens": lambda lp, m: (
                -(lp * m).sum()
            ),
        },
    ),
    "grpo_advantages": Exercise(
        "grpo_advantages(rewards [prompts, group]) -> [prompts, group]: "
        "(r - group mean) / (group std + 1e-6), the population std (divide by the group size),"
        " exactly 0 in a group whose rewards are all equal",
        objectives.grpo_advantages,
        [_rewards],
        {
            "groups whose rewards are all equal must get advantage 0, not NaN or a huge number": (
                lambda r: (r - r.mean(1, keepdim=True)) / r.std(1, keepdim=True, unbiased=False)
            ),
            "normalise within each group (one prompt's samples), not over the whole batch": _whole_batch_grpo,
            "use the population std (unbiased=False: divide by the group size), as this lab's GRPO does "
            "(TRL's GRPOTrainer uses the sample std: a variant, not the one checked here)": _unbiased_grpo,
            "subtract the group mean: an advantage says better or worse than the other samples "
            "of the prompt": (lambda r: r / (r.std(1, keepdim=True, unbiased=False) + 1e-6)),
        },
    ),
    "opd_advantages": Exercise(
        "opd_advantages(student_logprobs [B, T], teacher_logprobs [B, T], mask [B, T]) -> [B, T]: "
        "-(log p_student - log p_teacher) on real tokens, 0 on padding, carrying no gradient",
        lambda s, t, m: objectives.opd_advantages(s, t, m),
        [_paired_inputs, _paired_inputs_with_gradient],
        {
            "the sign is flipped: the advantage is -(log p_student - log p_teacher), "
            "positive where the teacher "
            "likes the token more than the student does": lambda s, t, m: ((s - t) * m).detach(),
            "padding is not zeroed: multiply by the mask": lambda s, t, m: -(s - t).detach(),
        },
        gradient_mistake="a gradient flows through the advantage: it is a reward, "
        "so .detach() it (a stop-gradient);"
        " otherwise the loss also trains the student to move the reward itself",
    ),
    "reverse_kl": Exercise(
        "reverse_kl(student_logits [..., V], teacher_logits [..., V]) -> [...]: "
        "sum_v p_s(v) (log p_s(v) - log p_t(v)) at every position",
        objectives.reverse_kl,
        [_logits_pair],
        {
            "the direction is swapped: that is the forward KL(teacher || student); reverse KL weighs by the "
            "student's probabilities": lambda s, t: objectives.forward_kl(s, t),
            "logits are not log-probabilities: apply log_softmax over the vocabulary first": (
                lambda s, t: (s.softmax(-1) * (s - t)).sum(-1)
            ),
        },
    ),
}


def _agrees(mine, reference) -> bool:
    mine = torch.as_tensor(mine)
    return mine.shape == reference.shape and torch.allclose(
        mine.float(), reference.float(), atol=1e-5, rtol=1e-4, equal_nan=True
    )


def _diagnose(exercise: Exercise, args: tuple, mine) -> str:
    for words, mistake in exercise.mistakes.items():
        with torch.no_grad():
            made = mistake(*[a.detach() if isinstance(a, torch.Tensor) else a for a in args])
        if _agrees(mine.detach() if isinstance(mine, torch.Tensor) else mine, made):
            return words
    return (
        "it differs from the reference and matches no mistake this checker knows: "
        "compare it with the equation"
    )


def check(name: str, function: Callable, trials: int = 5, verbose: bool = True) -> bool:
    """Compare ``function`` with the reference of exercise ``name`` on random inputs and edge cases.

    Prints one line: passed, or what is wrong in words. Returns whether it passed. A function that still
    raises
    NotImplementedError is reported as not attempted yet (the notebook keeps running).
    """
    exercise = EXERCISES[name]
    say = print if verbose else (lambda *_: None)
    for trial in range(trials):
        for make in exercise.inputs:
            args = make(torch.Generator().manual_seed(trial))
            try:
                mine = function(*args)
            except NotImplementedError:
                say(f"{name}: not attempted yet — {exercise.signature}")
                return False
            reference = exercise.reference(*args)
            if exercise.gradient_mistake and isinstance(mine, torch.Tensor) and mine.requires_grad:
                say(f"{name}: wrong — {exercise.gradient_mistake}")
                return False
            if not _agrees(mine.detach() if isinstance(mine, torch.Tensor) else mine, reference.detach()):
                say(f"{name}: wrong — {_diagnose(exercise, args, mine)}")
                return False
    say(f"{name}: correct — it matches the reference on {trials * len(exercise.inputs)} random batches")
    return True
