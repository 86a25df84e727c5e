"""The per-token view drawn: a student sample's tokens coloured by how the teacher grades each.

``tokens_html`` for Jupyter (hover a token for every score and the teacher's top choices), ``token_figure``
for a static export, ``signals_figure`` for one sample as each method weighs it.
"""

from __future__ import annotations

import html

from matplotlib.patches import Rectangle

from ..studies.pertoken import TokenScores


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


SIGNALS = {
    "sft": "SFT: the teacher's own sample for this prompt; every token a label of weight 1",
    "rl": "RL: the student's sample; one group-normalised reward, copied onto every token",
    "opd": "OPD: the student's sample; per token -(log p_s - log p_t), the teacher as a process reward",
    "opd-exact": "opd-exact: the student's sample; the exact KL's push on each sampled token's logit",
}


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
