"""Why the estimator ladder differs: each estimator's per-batch gradient against the exact reverse-KL
gradient.

On-policy distillation minimises the per-position reverse KL on the student's own prefixes,

    L(theta) = E_{y ~ p_s} [ (1/|y|) sum_t KL( p_s(. | y_<t) || p_t(. | y_<t) ) ]      (prefixes held fixed)

and the three racers of the ladder estimate its gradient from one batch of student samples in three ways:

    opd        the sampled token's log-ratio as a per-token advantage (the post): one number per token,
               unbiased for grad L, noisy
    opd-topk   the reverse KL over the teacher's k most likely tokens and one bucket for the rest: k numbers
               per token, exact on the coarsened distribution; measured beside it, the renormalised variant
               (the rest dropped), biased where the student puts mass outside the k
    opd-exact  the reverse KL over the whole vocabulary: V numbers per token, exact given the prefixes

(``rl`` is measured beside them: its gradient follows the reward, not the teacher, and shows how much of the
teacher's direction an outcome reward carries.) ``gradient_quality`` samples ``reference_batches`` batches
and averages their exact gradients into a reference ``g*`` (the population gradient, up to small noise), then
on ``batches`` other batches of the race's size computes every estimator's gradient ``g_b`` through
``Trainer.loss`` itself and reports

    cosine          mean over batches of cos(g_b, g*), with a 95% bootstrap interval over batches: how well
                    one step points the right way
    cosine_of_mean  cos(mean_b g_b, g*): the batch-averaged gradient's direction; its gap to 1 is bias plus
                    the noise the average leaves (about 1/batches of one batch's), so compare estimators
                    with each other rather than with 1
    snr             |mean_b g_b|^2 / mean_b |g_b - mean g|^2: signal over noise of one batch's gradient

and the bytes the teacher must send per scored token for each estimator (:func:`teacher_bytes_per_token`),
the cost a FLOP ledger does not see.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..config import TrainConfig
from ..models import load
from ..objectives import teacher_topk
from ..train import Trainer
from .compare import METHOD_SETTINGS, RACERS

MEASURED = ("opd", "opd-topk", "opd-topk-renormalised", "opd-exact", "rl")
VARIANTS = {"opd-topk-renormalised": ("opd-topk", {"topk_tail": False})}
"""estimators measured that are not racers: (the racer they vary, the settings changed)"""
BYTES_PER_VALUE = 4  # one float32 log-prob, or one int32 token id
QWEN_VOCAB = 151_936  # Qwen3's tokenizer: the vocabulary of the post's students and teachers


def teacher_bytes_per_token(vocab: int, top_k: int, bytes_per_value: int = BYTES_PER_VALUE) -> dict:
    """What the teacher sends per scored token: one log-prob (opd); k log-probs, their ids and the log-mass of
    the rest (opd-topk); the whole row of V log-probs (opd-exact)."""
    return {
        "opd": bytes_per_value,
        "opd-topk": (2 * top_k + 1) * bytes_per_value,  # k log-probs, k ids, the rest's log-mass
        "opd-exact": vocab * bytes_per_value,
    }


def _flat_grad(model, loss: torch.Tensor) -> torch.Tensor:
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat(
        [(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params)]
    )


def _batch_gradients(trainers: dict[str, Trainer], sampler: Trainer, step: int) -> dict[str, torch.Tensor]:
    """Every estimator's gradient on one and the same batch of student samples (drawn by ``sampler``), each
    through its own ``Trainer.loss``, with the student in eval mode (sampling leaves it in train mode)."""
    batch = sampler.make_batch(step)  # opd-exact: student samples, rewards, and the teacher's full rows
    grads = {}
    for name, trainer in trainers.items():
        mine = replace(batch)  # a shallow copy: each estimator sets only its own fields
        c = trainer.config
        if c.method == "opd":
            mine.advantages = trainer.opd_advantages(mine)
        elif c.method == "opd-topk":
            mine.teacher_topk, mine.teacher_logits = teacher_topk(batch.teacher_logits, c.top_k), None
        elif c.method == "rl":  # groups as the batch was drawn
            mine.advantages = sampler.rl_advantages(mine)
        trainer.student.eval()
        loss, _ = trainer.loss(mine)
        grads[name] = _flat_grad(trainer.student, loss)
    return grads


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def gradient_quality(
    student,
    teacher,
    tokenizer,
    task,
    batches: int = 32,
    reference_batches: int = 64,
    seed: int = 0,
    estimators=MEASURED,
) -> dict:
    """Per estimator ``{cosine, cosine_ci, cosine_of_mean, snr}`` against the exact reverse-KL gradient of
    ``student`` (see the module docstring). Batches have the race's size (its tuned prompts per step x group
    size 4). The student is not changed."""
    base = {"seed": seed, "steps": 1, "monitor_every": 0, "eval_n": 1}

    def trainer(name: str) -> Trainer:
        racer, changed = VARIANTS.get(name, (name, {}))
        config = TrainConfig(**{**base, **RACERS[racer], **METHOD_SETTINGS.get(racer, {}), **changed})
        return Trainer(config, student, tokenizer, task, teacher=teacher, progress=False)

    sampler = trainer("opd-exact")
    trainers = {name: trainer(name) for name in estimators}
    was_training = student.training
    with torch.random.fork_rng():
        reference = torch.stack(
            [_batch_gradients({"opd-exact": sampler}, sampler, 10_000 + b)["opd-exact"]
             for b in range(reference_batches)]
        ).mean(0)  # fmt: skip
        per_batch = [_batch_gradients(trainers, sampler, b + 1) for b in range(batches)]
    rng = np.random.default_rng(seed)
    result = {}
    for name in estimators:
        g = torch.stack([grads[name] for grads in per_batch])  # [batches, parameters]
        cosines = np.array([_cos(row, reference) for row in g])
        mean = g.mean(0)
        noise = float(((g - mean) ** 2).sum(1).mean())
        boot = rng.choice(cosines, (1000, cosines.size)).mean(1)
        result[name] = {
            "cosine": float(cosines.mean()),
            "cosine_ci": [float(x) for x in np.percentile(boot, [2.5, 97.5])],
            "cosine_of_mean": _cos(mean, reference),
            "snr": float((mean**2).sum()) / noise if noise > 0 else float("inf"),
        }
    student.zero_grad(set_to_none=True)
    student.train(was_training)
    return result


def ladder_gradients(student_path, teacher_path, task, mid_budget: float = 5e11, seed: int = 0, **kwargs):
    """:func:`gradient_quality` at the start (the shipped student) and mid-run: the student after
    sampled-token OPD with its tuned settings for ``mid_budget`` FLOPs (half the headline's budget), seed
    ``seed``."""
    from ..train import train

    teacher, _ = load(teacher_path)
    student, tokenizer = load(student_path)
    start = gradient_quality(student, teacher, tokenizer, task, seed=seed, **kwargs)
    settings = {**RACERS["opd"], **METHOD_SETTINGS["opd"], "seed": seed, "steps": 1_000_000,
                "flop_budget": mid_budget, "eval_points": 1, "eval_n": 64, "monitor_every": 0}  # fmt: skip
    torch.manual_seed(seed)
    result = train(TrainConfig(**settings), student, tokenizer, task, teacher=teacher, progress=False)
    mid = gradient_quality(student, teacher, tokenizer, task, seed=seed, **kwargs)
    return {
        "what": "per-batch gradient of each estimator against the exact reverse-KL gradient g* (the mean of "
        "the exact gradient over reference batches), on the same student samples; batches of the race's "
        "size; cosine: mean over batches (95% bootstrap over batches); cosine_of_mean: the averaged "
        "gradient's cosine (bias plus the noise the average leaves); snr: |mean g|^2 / mean |g - mean g|^2",
        "start": start,
        "mid": {**mid, "opd_flops": result.ledger.total, "accuracy": result.final_accuracy},
        "teacher_bytes_per_token": {
            "here": teacher_bytes_per_token(len(tokenizer), RACERS["opd-topk"]["top_k"]),
            f"vocab_{QWEN_VOCAB}": teacher_bytes_per_token(QWEN_VOCAB, RACERS["opd-topk"]["top_k"]),
        },
    }
