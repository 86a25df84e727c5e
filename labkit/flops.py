"""The compute ledger: FLOPs of student training, student sampling and teacher work, counted apart.

Per token, a forward pass costs about 2N FLOPs for N non-embedding parameters
(one multiply-add per weight) plus 2 * n_layer * context * d_model for
attention (Kaplan et al., 2020); a backward pass costs twice the forward.
The post's compute table counts teacher and student FLOPs apart, so do we.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import count_parameters


def forward_flops_per_token(model, context: float) -> float:
    """Approximate forward FLOPs for one token at the given average context length."""
    n_params = count_parameters(model, embeddings=False)
    if getattr(model.config, "tie_word_embeddings", False):
        n_params += model.get_output_embeddings().weight.numel()  # the shared table is also the output matmul
    config = model.config
    return 2.0 * n_params + 2.0 * config.num_hidden_layers * context * config.hidden_size


@dataclass
class ComputeLedger:
    """Cumulative FLOPs by where they were spent."""

    student_train: float = 0.0
    """student forward + backward passes of the update"""
    student_sampling: float = 0.0
    """student forward passes while sampling rollouts"""
    teacher_sampling: float = 0.0
    """teacher forward passes while writing samples to imitate (SFT, GKD off-policy)"""
    teacher_scoring: float = 0.0
    """teacher forward passes that score sequences (one parallel pass per batch)"""
    reference: float = 0.0
    """forward passes of a frozen reference model (RL's KL penalty)"""
    self_scoring: float = 0.0
    """the student's own scoring passes (self-distill: the student, shown the reference, is the teacher)"""

    @property
    def teacher(self) -> float:
        return self.teacher_sampling + self.teacher_scoring

    @property
    def student(self) -> float:
        return self.student_train + self.student_sampling + self.reference + self.self_scoring

    @property
    def total(self) -> float:
        return self.teacher + self.student

    def add_forward(self, field: str, model, tokens: int, context: float, backward: bool = False) -> None:
        """Charge ``tokens`` forward passes (x3 with the backward pass) of ``model`` to ``field``."""
        cost = tokens * forward_flops_per_token(model, context) * (3.0 if backward else 1.0)
        setattr(self, field, getattr(self, field) + cost)

    def add_pass(self, field: str, model, sequences, backward: bool = False) -> None:
        """Charge one parallel pass of ``model`` over ``sequences`` [B, L] to ``field``: the B * (L - 1)
        positions that predict a next token, at a mean context of L / 2."""
        n, length = sequences.shape
        self.add_forward(field, model, n * (length - 1), length / 2, backward)
