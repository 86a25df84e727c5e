"""Scoring a rollout: the log-probs of its tokens under a model, with the vocabulary rule.

Every method and every study scores finished sequences ``[B, P+T]`` the same way: one forward pass per
model, the logits of the ``T`` positions that predict the completion, their log-softmax at the sampled
tokens. The vocabulary rule: an output layer may be padded past its tokenizer (Qwen2.5's has 151,936 rows
for 151,665 tokens); only the tokenizer's rows are kept, so softmax, KL, entropy and top-k never count a row
no token can be. ``logprobs`` is one model; ``score`` is student and teacher on the same tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import objectives
from .sampling import token_logprobs


def logprobs(model, tokenizer, sequences: torch.Tensor, prompt_length: int, temperature: float = 1.0,
             logits: bool = False):  # fmt: skip
    """``[B, T]`` log-probs of the completion tokens under ``model`` (and its ``[B, T, V]`` float logits when
    ``logits``), over the tokenizer's vocabulary only. Gradients flow outside ``torch.no_grad``."""
    return token_logprobs(
        model, sequences, prompt_length, temperature, return_logits=logits, vocab_size=len(tokenizer)
    )


@dataclass
class Scores:
    """Student and teacher on the same completion tokens: B sequences, T completion positions, V tokens."""

    student_logprobs: torch.Tensor  # [B, T] log p_s(y_t | y_<t)
    teacher_logprobs: torch.Tensor  # [B, T] log p_t(y_t | y_<t)
    student_logits: torch.Tensor  # [B, T, V]
    teacher_logits: torch.Tensor  # [B, T, V]

    @property
    def advantages(self) -> torch.Tensor:
        """OPD's per-token reward ``-(log p_s - log p_t)`` [B, T]."""
        return self.teacher_logprobs - self.student_logprobs

    def reverse_kl(self) -> torch.Tensor:
        """The exact ``KL(p_s || p_t)`` at every position [B, T], over the whole (unpadded) vocabulary."""
        return objectives.reverse_kl(self.student_logits, self.teacher_logits)


@torch.no_grad()
def score(student, teacher, tokenizer, sequences: torch.Tensor, prompt_length: int) -> Scores:
    """One pass of each model over ``sequences`` [B, P+T] at T=1: :class:`Scores` of the completion tokens."""
    s_logp, s_logits = logprobs(student, tokenizer, sequences, prompt_length, logits=True)
    t_logp, t_logits = logprobs(teacher, tokenizer, sequences, prompt_length, logits=True)
    return Scores(s_logp, t_logp, s_logits, t_logits)
