"""The teacher as a process reward model: a score for every token the student writes.

For a student sample y, at each position t:

    student_logprob  log p_s(y_t | y_<t)
    teacher_logprob  log p_t(y_t | y_<t)
    advantage        -(log p_s - log p_t)      the per-token reward of on-policy distillation
    reverse_kl       sum_v p_s(v) (log p_s(v) - log p_t(v))   over the whole vocabulary

plus the teacher's most likely alternatives. ``labkit.views.tokens`` colours the tokens by any of these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..encoding import decode_completions, encode_prompts
from ..objectives import grpo_advantages
from ..sampling import sample
from ..scoring import score

QUANTITIES = ("advantage", "reverse_kl", "teacher_logprob", "student_logprob")


@dataclass
class TokenScores:
    """Per-token scores of one completion (lists of equal length, one entry per token, eos included)."""

    prompt: str
    tokens: list[str]
    student_logprob: list[float]
    teacher_logprob: list[float]
    advantage: list[float]
    reverse_kl: list[float]
    teacher_top: list[list[tuple[str, float]]] = field(default_factory=list)

    def values(self, quantity: str) -> list[float]:
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
        return getattr(self, quantity)

    def worst(self, quantity: str = "advantage") -> int:
        """Index of the token the teacher objects to most
        (lowest advantage or teacher log-prob, highest KL)."""
        values = self.values(quantity)
        pick = max if quantity == "reverse_kl" else min
        return values.index(pick(values))


def _token_text(tokenizer, token_id: int) -> str:
    if token_id == tokenizer.eos_token_id:
        return "⏎"
    return tokenizer.decode([token_id])  # readable text for BPE tokens too ("Ġthe" -> " the")


@torch.no_grad()
def score_tokens(
    student,
    teacher,
    tokenizer,
    sequences: torch.Tensor,
    prompt_length: int,
    mask: torch.Tensor,
    top_k: int = 3,
) -> list[TokenScores]:
    """Score every completion token of ``sequences`` [B, P+T] under student and teacher (one pass each)."""
    scores = score(student, teacher, tokenizer, sequences, prompt_length)
    s_logp, t_logp, kl = scores.student_logprobs, scores.teacher_logprobs, scores.reverse_kl()
    t_probs = torch.softmax(scores.teacher_logits, dim=-1)
    top_p, top_i = t_probs.topk(top_k, dim=-1)
    out = []
    for b in range(sequences.shape[0]):
        n = int(mask[b].sum())
        ids = sequences[b, prompt_length : prompt_length + n].tolist()
        prompt = tokenizer.decode(sequences[b, :prompt_length].tolist(), skip_special_tokens=True)
        out.append(
            TokenScores(
                prompt=prompt,
                tokens=[_token_text(tokenizer, i) for i in ids],
                student_logprob=s_logp[b, :n].tolist(),
                teacher_logprob=t_logp[b, :n].tolist(),
                advantage=(t_logp[b, :n] - s_logp[b, :n]).tolist(),
                reverse_kl=kl[b, :n].tolist(),
                teacher_top=[
                    [(_token_text(tokenizer, int(i)), float(p)) for p, i in zip(top_p[b, t], top_i[b, t])]
                    for t in range(n)
                ],
            )
        )
    return out


def _with_values(scores: TokenScores, values: list[float]) -> TokenScores:
    """A copy of ``scores`` whose ``advantage`` row shows ``values`` (how a method weighs each token)."""
    return TokenScores(
        scores.prompt, scores.tokens, scores.student_logprob, scores.teacher_logprob, list(values),
        scores.reverse_kl, scores.teacher_top,
    )  # fmt: skip


@torch.no_grad()
def method_signals(student, teacher, tokenizer, task, group_size: int = 4, seed: int = 0, tries: int = 64):
    """``{method: TokenScores}``: what each method learns from on one prompt, on the same student sample.

    Draws prompts until a group of ``group_size`` student samples has reward variance (so RL's advantage is
    not 0), takes the group's first failing sample, and scores it the way each method does (``SIGNALS``). The
    ``advantage`` row of each entry holds that method's per-token weight. Raises if ``tries`` prompts all give
    a silent group (a student that always or never succeeds).
    """
    generator = torch.Generator().manual_seed(seed)
    for problem in task.problems(tries, "held_out", seed=seed):
        prompt_ids = encode_prompts(tokenizer, [problem.prompt] * group_size)
        rollout = sample(student, prompt_ids, task.max_completion_length, tokenizer, 1.0, generator)
        texts = decode_completions(tokenizer, rollout.completion_ids, rollout.completion_mask)
        rewards = torch.tensor([[task.reward(problem, t) for t in texts]])
        if rewards.std() > 0:
            break
    else:
        raise ValueError(f"no prompt out of {tries} gave a group with reward variance; try another seed")
    pick = int((rewards[0] == 0).nonzero()[0])
    advantage = float(grpo_advantages(rewards)[0, pick])
    mine = score_tokens(
        student, teacher, tokenizer, rollout.sequences[pick : pick + 1], rollout.prompt_length,
        rollout.completion_mask[pick : pick + 1],
    )[0]  # fmt: skip
    written = sample(teacher, prompt_ids[:1], task.max_completion_length, tokenizer, 1.0, generator)
    theirs = score_tokens(
        student, teacher, tokenizer, written.sequences, written.prompt_length, written.completion_mask
    )[0]
    return {
        "sft": _with_values(theirs, [1.0] * len(theirs.tokens)),
        "rl": _with_values(mine, [advantage] * len(mine.tokens)),
        "opd": mine,
        "opd-exact": _with_values(mine, exact_push(mine)),
    }


def exact_push(scores: TokenScores) -> list[float]:
    """What minimising KL(p_s || p_t) at each position does to the logit of the token the student sampled:
    minus the gradient, ``-p_s(y) (log p_s(y) - log p_t(y) - KL)``. Positive: the token is pushed up (the
    teacher likes it more, relative to the rest, than the student does). Unlike OPD's advantage, the exact
    loss also moves every other token of the vocabulary at that position; this is only the sampled one."""
    return [
        -math.exp(s) * (s - t - kl)
        for s, t, kl in zip(scores.student_logprob, scores.teacher_logprob, scores.reverse_kl)
    ]
