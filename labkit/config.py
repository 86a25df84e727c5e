"""The settings of a training run, checked; and the schedules that follow from them.

``TrainConfig`` names follow TRL and tinker-cookbook where the meaning is the same (``beta``, ``lmbda``,
``temperature``, ``max_new_tokens``, ``kl_penalty_coef``, ``group_size``); ``validate`` names the first bad
field and how to fix it. ``learning_rate_at`` and ``evaluation_fractions`` turn the settings into a schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields

from .errors import LabkitError
from .evaluate import EVAL_SETS

METHODS = ("sft", "rl", "opd", "opd-topk", "opd-exact", "gkd", "const-adv", "self-distill")
NEEDS_TEACHER = {"opd", "opd-topk", "opd-exact", "gkd"}  # sft needs one only when sft_data == "teacher"
NEEDS_TEACHER_LOGITS = {
    "opd-exact",
    "gkd",
}  # the rest keep the teacher's log-probs of the sampled tokens only
EVAL_SEED = EVAL_SETS["race"]  # held-out problems for curves are the same for every run and method
MIN_LR_RATIO = 0.1  # the cosine schedule ends at this fraction of the peak learning rate


@dataclass
class TrainConfig:
    """Hyperparameters of a training run; names follow TRL and tinker-cookbook where the meaning is the
    same."""

    method: str = "opd"
    """which signal trains the student: sft, rl, opd, opd-topk, opd-exact, gkd, or a control: const-adv (a
    constant negative advantage on every sampled token, no teacher) or self-distill (the student, shown the
    reference solution before the prompt, grades its own samples)"""
    steps: int = 100
    """number of optimizer steps"""
    seed: int = 0
    """seeds prompts, sampling and every random choice of the run"""
    learning_rate: float = 1e-4
    """peak learning rate of AdamW"""
    warmup_steps: int = 10
    """linear warm-up from 0; a fresh optimizer on a trained model without warm-up is destructive"""
    lr_schedule: str = "cosine"
    """'cosine' decays to a tenth of learning_rate after warm-up; 'constant' keeps it"""
    batch_size: int = 16
    """prompts per step"""
    group_size: int = 4
    """samples per prompt (TRL num_generations, tinker group_size); SFT uses as many teacher samples"""
    temperature: float = 1.0
    """student sampling temperature"""
    max_new_tokens: int = 0
    """longest completion; 0 means the task's own bound"""
    max_grad_norm: float = 1.0
    """gradient clipping threshold, as in TRL (0 disables); a first RL or OPD step on a trained model can be
    large"""
    sft_data: str = "teacher"
    """off-policy tokens for sft and gkd: 'teacher' samples or 'reference' solutions"""
    kl_coef: float = 0.0
    """rl: weight of a KL(student || start policy) penalty"""
    kl_penalty_coef: float = 1.0
    """opd, self-distill: scale of the per-token reverse-KL advantage (tinker-cookbook); const-adv: the
    constant (every sampled token's advantage is minus it)"""
    kl_discount_factor: float = 0.0
    """opd: discount of future per-token advantages; 0 = each token judged on its own (the post)"""
    top_k: int = 4
    """opd-topk: how many of its most likely tokens per position the teacher sends (its top-k log-probs and
    ids)"""
    topk_tail: bool = True
    """opd-topk: True, the reverse KL over the k tokens plus one bucket for all the others (its mass follows
    from the k); False, over the k alone, both distributions renormalised (mass outside gets no gradient)"""
    lmbda: float = 0.5
    """gkd: fraction of steps trained on the student's own samples (TRL lmbda)"""
    beta: float = 0.5
    """gkd: generalized JSD interpolation, 0 = forward KL, 1 = reverse KL (TRL beta)"""
    eval_points: int = 8
    """evaluations after the start, spaced evenly in log-progress from the first step to the end of the run
    (progress: FLOPs spent over flop_budget, or steps over steps); the last step is always evaluated"""
    eval_n: int = 256
    """held-out problems per evaluation"""
    eval_set: str = "race"
    """which held-out set evaluations use: 'race' (every training curve), 'tuning' (choosing settings) or
    'build' (stopping a build at a target); the last two never share a problem with 'race'
    (labkit.evaluate.EVAL_SETS)"""
    eval_temperature: float = 1.0
    """sampling temperature of evaluations (0 = greedy); sampled accuracy is the steadier metric"""
    eval_greedy: bool = False
    """also evaluate greedily at each evaluation (logged as greedy_accuracy beside the sampled
    eval_accuracy)"""
    monitor_size: int = 64
    """student samples drawn (uncharged) to log reward and teacher_kl when the method itself does not
    sample"""
    monitor_every: int = 1
    """log entropy and teacher_kl (and an off-policy method's reward) on step 1 and every this many steps
    after; 0: only what is free (an on-policy method's reward). Watching is uncharged but costs wall time"""
    save_every: int = 0
    """write a resumable checkpoint to OUT/checkpoint every this many steps (0: never)"""
    flop_budget: float = 0.0
    """stop once the ledger's total FLOPs reach this (0: off); the cosine decay then runs over compute, and
    steps is a cap"""

    def validate(self) -> TrainConfig:
        """Raise a LabkitError naming the first bad field and how to fix it."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise LabkitError(f"{f.name} must be a finite number, got {value!r}")
        for names, check, words in RULES:
            for name in names:
                if not check(getattr(self, name)):
                    raise LabkitError(f"{name} must {words}, got {getattr(self, name)!r}")
        if self.method not in METHODS:
            raise LabkitError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.method == "rl" and self.group_size < 2:
            raise LabkitError(
                "rl needs group_size >= 2: advantages compare samples of one prompt, and a group of one "
                "always has advantage 0 (nothing is learned)"
            )
        return self

    def needs_teacher(self) -> bool:
        return self.method in NEEDS_TEACHER or (self.method == "sft" and self.sft_data == "teacher")

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """The docstring of each field, for the CLI's --help."""
        import ast
        import inspect

        body = ast.parse(inspect.getsource(cls)).body[0].body
        return {
            node.target.id: " ".join(str(following.value.value).split())
            for node, following in zip(body, body[1:])
            if isinstance(node, ast.AnnAssign)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
        }


def _whole(low: int) -> Callable:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


# (fields, the check, what each value must be). Floats are checked for being finite first.
RULES: list[tuple[tuple[str, ...], Callable, str]] = [
    (("steps", "batch_size", "group_size", "eval_n", "monitor_size", "eval_points", "top_k"), _whole(1),
     "be a whole number of at least 1"),
    (("warmup_steps", "max_new_tokens", "save_every", "monitor_every"), _whole(0), "be a whole number >= 0"),
    (("lmbda", "beta", "kl_discount_factor"), lambda v: 0.0 <= v <= 1.0, "lie in [0, 1]"),
    (("max_grad_norm", "kl_coef", "kl_penalty_coef", "flop_budget"), lambda v: v >= 0, "be >= 0"),
    (("learning_rate",), lambda v: v > 0, "be a positive number (e.g. 1e-4)"),
    (("temperature",), lambda v: v > 0, "be > 0 (e.g. 1.0)"),
    (("eval_temperature",), lambda v: v >= 0, "be >= 0 (0 is greedy)"),
    (("lr_schedule",), lambda v: v in ("cosine", "constant"), "be 'cosine' or 'constant'"),
    (("sft_data",), lambda v: v in ("teacher", "reference"), "be 'teacher' or 'reference'"),
    (("eval_set",), lambda v: v in EVAL_SETS, f"be one of {', '.join(EVAL_SETS)}"),
]  # fmt: skip


def learning_rate_at(config: TrainConfig, step: int, flops: float = 0.0) -> float:
    """Linear warm-up, then constant or cosine decay to MIN_LR_RATIO of the peak.

    Decay runs over steps, or over compute (``flops / flop_budget``) when a FLOP budget is set.
    """
    if config.warmup_steps and step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    if config.lr_schedule == "constant":
        return config.learning_rate
    if config.flop_budget > 0:
        progress = flops / config.flop_budget
    else:  # 1.0 on the last step
        progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps - 1)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.learning_rate * (MIN_LR_RATIO + (1 - MIN_LR_RATIO) * cosine)


def evaluation_fractions(first: float, points: int) -> list[float]:
    """``points`` fractions of a run evenly spaced in log from ``first`` (where step 1 ends) to 1.

    Learning is fastest early, so evaluations are dense there; a cost read off the curve between two of them
    is then about equally precise at every scale.
    """
    if points == 1 or first >= 1.0:
        return [1.0]
    growth = (1.0 / first) ** (1.0 / (points - 1))
    return [first * growth**k for k in range(points - 1)] + [1.0]


# What each racer of labkit.studies.compare runs with, chosen for every racer by one protocol
# (labkit.studies.tuning: learning rate x
# prompts per step on a tuning seed and the "tuning" problem set, which the races never use). A test keeps
# this equal to the `chosen` settings in benchmarks/results/tuning.json. Everything not listed is shared
# (TrainConfig defaults and CompareConfig).
METHOD_SETTINGS = {
    "sft": {"learning_rate": 0.0003, "batch_size": 4},
    "sft-reference": {"learning_rate": 0.0003, "batch_size": 4},
    "rl": {"learning_rate": 0.0001, "batch_size": 4},
    "opd": {"learning_rate": 0.0003, "batch_size": 4},
    "opd-topk": {"batch_size": 4, "learning_rate": 0.0003},
    "opd-exact": {"learning_rate": 0.0003, "batch_size": 4},
    "gkd": {"learning_rate": 0.0003, "batch_size": 4},
    "const-adv": {"batch_size": 16, "learning_rate": 3e-05},
    "self-distill": {"batch_size": 16, "learning_rate": 3e-05},
}
