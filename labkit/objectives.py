"""The signals each method learns from, each next to the equation it implements.

Shapes: B sequences, T completion positions, V vocabulary. ``mask`` is 1.0 on
tokens that count and 0.0 on prompt, padding and masked-out tokens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sum(values * mask) / sum(mask): a per-token mean over the tokens that count."""
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def sft_loss(logprobs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the given tokens:  L = -(1/|M|) sum_{t in M} log p_student(y_t | y_<t, x).

    ``logprobs`` [B, T] are the student's log-probs of the target tokens.
    """
    return -masked_mean(logprobs, mask)


def grpo_advantages(rewards: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Group-normalised advantages:  A_i = (r_i - mean_g r) / (std_g r + eps).

    ``rewards`` is [n_prompts, group_size]. A group whose rewards are all equal
    carries no signal and gets advantage exactly 0.
    """
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True, unbiased=False)
    return torch.where(std > 0, (rewards - mean) / (std + eps), torch.zeros_like(rewards))


def opd_advantages(
    student_logprobs: torch.Tensor,
    teacher_logprobs: torch.Tensor,
    mask: torch.Tensor,
    kl_penalty_coef: float = 1.0,
    kl_discount_factor: float = 0.0,
) -> torch.Tensor:
    """Per-token advantage of on-policy distillation (Thinking Machines, 2025).

        a_t = -kl_penalty_coef * (log p_student(y_t) - log p_teacher(y_t))   (reverse KL on the sampled token)
        A_t = sum_{k >= t} gamma^(k-t) a_k                                    (gamma = kl_discount_factor)

    With gamma = 0 (the default, as in the post) each token is judged on its own.
    Inputs are [B, T] log-probs of the sampled tokens; the result carries no gradient.
    """
    per_token = -kl_penalty_coef * (student_logprobs - teacher_logprobs).detach() * mask
    if kl_discount_factor == 0.0:
        return per_token
    advantages = torch.zeros_like(per_token)
    running = torch.zeros_like(per_token[:, 0])
    for t in reversed(range(per_token.shape[1])):
        running = per_token[:, t] + kl_discount_factor * running
        advantages[:, t] = running
    return advantages * mask


def importance_sampling_loss(
    logprobs: torch.Tensor, sampling_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Policy-gradient loss with an importance ratio to the sampling policy:

        L = -(1/|M|) sum_t  [p_theta(y_t) / q(y_t)] * A_t

    Its gradient is E_q[ratio * A * grad log p_theta], which is the on-policy
    policy gradient when q = p_theta (ratio 1), and stays unbiased when the
    samples came from a slightly older policy q.
    """
    ratio = torch.exp(logprobs - sampling_logprobs.detach())
    return -masked_mean(ratio * advantages.detach(), mask)


def reverse_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Exact per-position reverse KL over the whole vocabulary:

        KL(p_s || p_t) = sum_v p_s(v) (log p_s(v) - log p_t(v))

    Inputs [..., V]; returns [...]. Gradient flows into the student only.
    """
    student_logp = F.log_softmax(student_logits, dim=-1)
    teacher_logp = F.log_softmax(teacher_logits.detach(), dim=-1)
    return (student_logp.exp() * (student_logp - teacher_logp)).sum(-1)


def teacher_topk(teacher_logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What a scoring server sends for top-k distillation: the teacher's k largest log-probs and their ids
    [..., k], and the log of the mass on every other token [...] (exact, by logsumexp; -inf when k = V)."""
    logp = F.log_softmax(teacher_logits.float(), dim=-1)
    top = logp.topk(k, dim=-1)
    rest = logp.scatter(-1, top.indices, float("-inf")).logsumexp(-1)
    return top.values, top.indices, rest


def topk_reverse_kl(
    student_logits: torch.Tensor,
    teacher_topk_logprobs: torch.Tensor,
    topk_ids: torch.Tensor,
    teacher_rest: torch.Tensor | None = None,
    tail: bool = True,
) -> torch.Tensor:
    """Reverse KL from the teacher's k most likely tokens K (:func:`teacher_topk`: k log-probs, their ids and
    the log-mass of the rest, per position). Two ways to use them:

    tail=True   K and one more outcome, "any other token", for the teacher and the student alike: a true KL
                between the two coarsened distributions
                    KL = sum_{v in K} p_s(v) log(p_s(v) / p_t(v)) + p_s(rest) log(p_s(rest) / p_t(rest))
                Mass the student puts outside K is pushed back by the last term.
    tail=False  both distributions renormalised on K, KL(q_s || q_t) with q(v) = p(v) / sum_K p: what is
                left of the reverse KL when the tail is dropped; mass outside K gets no gradient at all.

    With K the whole vocabulary either is :func:`reverse_kl`. Inputs: student logits [..., V], the teacher's
    log-probs and ids [..., k] and rest [...] (computed from the k log-probs, in float64, when not given);
    returns [...]. Gradient flows into the student only.
    """
    student_logp = F.log_softmax(student_logits, dim=-1)
    student_k = student_logp.gather(-1, topk_ids)
    teacher_k = teacher_topk_logprobs.detach()
    if not tail:
        student_k = student_k - torch.logsumexp(student_k, dim=-1, keepdim=True)
        teacher_k = teacher_k - torch.logsumexp(teacher_k, dim=-1, keepdim=True)
        return (student_k.exp() * (student_k - teacher_k)).sum(-1)
    if teacher_rest is None:
        mass = teacher_k.double().exp().sum(-1)
        teacher_rest = torch.log((1 - mass).clamp(min=0)).to(teacher_k.dtype)
    student_rest = student_logp.scatter(-1, topk_ids, float("-inf")).logsumexp(-1)
    inside = (student_k.exp() * (student_k - teacher_k)).sum(-1)
    has_rest = torch.isfinite(student_rest)  # k = V leaves no rest: that term is 0
    s_rest = torch.where(has_rest, student_rest, torch.zeros_like(student_rest))
    t_rest = torch.where(has_rest, teacher_rest.detach().clamp(min=-1e4), torch.zeros_like(student_rest))
    return inside + torch.where(has_rest, s_rest.exp() * (s_rest - t_rest), torch.zeros_like(inside))


def forward_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """KL(p_t || p_s) = sum_v p_t(v) (log p_t(v) - log p_s(v)), per position."""
    student_logp = F.log_softmax(student_logits, dim=-1)
    teacher_logp = F.log_softmax(teacher_logits.detach(), dim=-1)
    return (teacher_logp.exp() * (teacher_logp - student_logp)).sum(-1)


def generalized_jsd(student_logits: torch.Tensor, teacher_logits: torch.Tensor, beta: float) -> torch.Tensor:
    """Generalized Jensen-Shannon divergence of GKD (Agarwal et al., 2024), per position:

        M = beta * p_t + (1 - beta) * p_s
        JSD_beta = beta * KL(p_t || M) + (1 - beta) * KL(p_s || M)

    As in TRL, the endpoints are the KLs the interpolation tends to in shape:
    beta = 0 is forward KL(p_t || p_s) (mode-covering, SFT-like) and beta = 1
    is reverse KL(p_s || p_t) (mode-seeking, like on-policy distillation).
    """
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must lie in [0, 1], got {beta}")
    if beta == 0.0:
        return forward_kl(student_logits, teacher_logits)
    if beta == 1.0:
        return reverse_kl(student_logits, teacher_logits)
    student_logp = F.log_softmax(student_logits, dim=-1)
    teacher_logp = F.log_softmax(teacher_logits.detach(), dim=-1)
    log_beta = torch.log(torch.tensor(beta, dtype=student_logp.dtype))
    log_one_minus_beta = torch.log(torch.tensor(1.0 - beta, dtype=student_logp.dtype))
    mixture_logp = torch.logsumexp(
        torch.stack([teacher_logp + log_beta, student_logp + log_one_minus_beta]), dim=0
    )
    kl_teacher = (teacher_logp.exp() * (teacher_logp - mixture_logp)).sum(-1)
    kl_student = (student_logp.exp() * (student_logp - mixture_logp)).sum(-1)
    return beta * kl_teacher + (1.0 - beta) * kl_student


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Per-position entropy H(p) = -sum_v p(v) log p(v) of the distribution the logits define."""
    logp = F.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)
