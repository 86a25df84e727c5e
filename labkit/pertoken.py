"""The teacher as a process reward model: a score for every token the student writes.

For a student sample y, at each position t:

    student_logprob  log p_s(y_t | y_<t)
    teacher_logprob  log p_t(y_t | y_<t)
    advantage        -(log p_s - log p_t)      the per-token reward of on-policy distillation
    reverse_kl       sum_v p_s(v) (log p_s(v) - log p_t(v))   over the whole vocabulary

plus the teacher's most likely alternatives. ``tokens_html`` colours the
tokens by any of these, for Jupyter; ``token_figure`` draws the same for a
static export.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import torch
from matplotlib.patches import Rectangle

from . import objectives
from .sampling import token_logprobs

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
    s_logp, s_logits = token_logprobs(student, sequences, prompt_length, return_logits=True)
    t_logp, t_logits = token_logprobs(teacher, sequences, prompt_length, return_logits=True)
    kl = objectives.reverse_kl(s_logits, t_logits)
    t_probs = torch.softmax(t_logits, dim=-1)
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


def _color(value: float, quantity: str, scale: float) -> str:
    """Green for tokens the teacher likes, red for those it objects to; white is neutral."""
    if quantity == "reverse_kl":
        strength, red = min(1.0, value / scale), True
    elif quantity in ("teacher_logprob", "student_logprob"):
        strength, red = min(1.0, -value / scale), True
    else:  # advantage: positive is good
        strength, red = min(1.0, abs(value) / scale), value < 0
    strength = max(0.0, strength)
    if red:
        return f"rgba(214, 39, 40, {strength:.2f})"
    return f"rgba(44, 160, 44, {strength:.2f})"


def tokens_html(scores: TokenScores, quantity: str = "advantage", scale: float = 3.0) -> str:
    """The completion as coloured tokens; hovering a token shows every score and the teacher's top choices."""
    spans = []
    for t, token in enumerate(scores.tokens):
        value = scores.values(quantity)[t]
        alternatives = (
            ", ".join(f"{tok!r} {p:.0%}" for tok, p in scores.teacher_top[t]) if scores.teacher_top else ""
        )
        tip = (
            f"{quantity}={value:+.2f} | student logp={scores.student_logprob[t]:.2f} "
            f"teacher logp={scores.teacher_logprob[t]:.2f} KL={scores.reverse_kl[t]:.2f} "
            f"| teacher top: {alternatives}"
        )
        shown = "␣" if token == " " else token
        spans.append(
            f'<span title="{html.escape(tip)}" style="background:{_color(value, quantity, scale)};'
            f'padding:2px 1px;margin:0 1px;border-radius:3px">{html.escape(shown)}</span>'
        )
    return (
        f'<div style="font-family:monospace;font-size:15px;line-height:2">'
        f'<span style="color:#888">{html.escape(scores.prompt)}</span>{"".join(spans)}</div>'
    )


def token_figure(
    ax, scores: TokenScores, quantity: str = "advantage", scale: float = 3.0, title: str | None = None
):
    """A static version of ``tokens_html``: one coloured cell per token, its value written under it."""
    values = scores.values(quantity)
    for t, (token, value) in enumerate(zip(scores.tokens, values)):
        rgba = _color(value, quantity, scale)
        r, g, b, a = (float(x) for x in rgba[5:-1].split(","))
        ax.add_patch(Rectangle((t, 0), 0.95, 1, color=(r / 255, g / 255, b / 255, a)))
        ax.text(
            t + 0.47,
            0.55,
            "␣" if token == " " else token,
            ha="center",
            va="center",
            family="monospace",
            fontsize=11,
        )
        ax.text(t + 0.47, -0.25, f"{value:.1f}", ha="center", va="center", fontsize=6, color="#555")
    ax.set_xlim(0, len(values))
    ax.set_ylim(-0.6, 1.1)
    ax.axis("off")
    ax.set_title(
        title if title is not None else f"{scores.prompt} — {quantity} per token", fontsize=10, loc="left"
    )
    return ax


# -- one sample, four methods ------------------------------------------------------------------------------

SIGNALS = {
    "sft": "SFT: the teacher's own sample for this prompt; every token a label of weight 1",
    "rl": "RL: the student's sample; one group-normalised reward, copied onto every token",
    "opd": "OPD: the student's sample; per token -(log p_s - log p_t), the teacher as a process reward",
    "opd-exact": "opd-exact: the student's sample; the exact KL's push on each sampled token's logit",
}


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
    from .encoding import decode_completions, encode_prompts
    from .objectives import grpo_advantages
    from .sampling import sample

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


def signals_figure(signals: dict, scale: float = 2.0):
    """One row per method (``method_signals``): the tokens it trains on, coloured by the weight it gives each
    (green pushed up, red pushed down, the number under each token)."""
    import matplotlib.pyplot as plt

    width = max(len(s.tokens) for s in signals.values())
    fig, axes = plt.subplots(len(signals), 1, figsize=(max(8.0, 0.55 * width), 1.25 * len(signals)))
    for ax, (method, scores) in zip(axes, signals.items()):
        token_figure(ax, scores, "advantage", scale=scale, title=SIGNALS.get(method, method))
        ax.set_xlim(0, width)
    fig.suptitle(f"{next(iter(signals.values())).prompt}  — one prompt, four signals", x=0.01, ha="left")
    fig.tight_layout()
    return fig
