"""Worked solutions to :mod:`labkit.exercises` — try the exercise first.

Each is the plainest code that passes its checker; :mod:`labkit.objectives` holds the versions the lab trains
with.
"""

import torch


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(tokens[:, t] | tokens[:, :t]) for t >= 1: the logits at position t - 1 predict the token at t."""
    logp = torch.log_softmax(logits[:, :-1], dim=-1)  # [B, L-1, V]: positions 0 .. L-2 predict 1 .. L-1
    return logp.gather(-1, tokens[:, 1:, None]).squeeze(-1)  # [B, L-1]


def sft_loss(logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L = -(1/|M|) sum_{t in M} log p(y_t): the mean negative log-likelihood of the real tokens."""
    return -(logprobs * mask).sum() / mask.sum()


def grpo_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """A_i = (r_i - mean_g r) / (std_g r + eps) within each group; 0 where its rewards are all equal."""
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True, unbiased=False)
    advantages = (rewards - mean) / (std + 1e-6)
    return torch.where(std > 0, advantages, torch.zeros_like(rewards))


def opd_advantages(student_logprobs, teacher_logprobs, mask) -> torch.Tensor:
    """a_t = -(log p_student(y_t) - log p_teacher(y_t)): a per-token reward; no gradient flows through it."""
    return -(student_logprobs - teacher_logprobs).detach() * mask


def reverse_kl(student_logits, teacher_logits) -> torch.Tensor:
    """KL(p_s || p_t) = sum_v p_s(v) (log p_s(v) - log p_t(v)), over the last (vocabulary) dimension; the
    teacher is a fixed target, so no gradient reaches it."""
    student_logp = torch.log_softmax(student_logits, dim=-1)
    teacher_logp = torch.log_softmax(teacher_logits.detach(), dim=-1)
    return (student_logp.exp() * (student_logp - teacher_logp)).sum(dim=-1)
