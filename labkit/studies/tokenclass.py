"""What kind of token is this? Splitting a solution's tokens by the job they do.

The addition task's solutions mix tokens that carry the answer with tokens that are free choices (the task's
``style`` knob). The claims "the teacher grades every token" and "the student commits to one style" are about
these classes separately, so the lab measures them separately:

    style   a slot where the task's style knob makes a choice: the first operand digit of a step whose two
            digits differ (either may come first), the solution's separator (';' or ','), a space after a
            separator (at style 0 the same slots, deterministic: the control)
    boundary the token right after a separator when no space was written there: it also carries the
            space-or-not choice, so it is kept out of the content classes
    digit   the second operand digit (fixed once the first is written)
    carry   the carry-in of a step
    sum     the digits of a step's total
    answer  the final answer's digits
    syntax  '+', '=', a separator after the first, the correction mark
    end     the end-of-sequence token
    other   anything that does not parse as a step (a malformed completion)

One character is one token in the lab's tokenizer, plus the end token.
"""

from __future__ import annotations

import re

import torch

from ..task import CORRECTION, Problem

CLASSES = ("style", "boundary", "digit", "carry", "sum", "answer", "syntax", "end", "other")
_STEP = re.compile(r"(\d)\+(\d)\+(\d)=(\d+)")


def token_classes(problem: Problem, completion: str, digits: int) -> list[str]:
    """The class of every token of ``completion`` (one per character) and of the end token after it."""
    columns = list(zip(f"{problem.a:0{digits}d}"[::-1], f"{problem.b:0{digits}d}"[::-1]))
    out, column, separators = [], 0, 0
    parts = re.split(r"([;,])", completion)
    for k, part in enumerate(parts):
        if part in (";", ","):
            out.append("style" if separators == 0 else "syntax")  # the first separator picks the style
            separators += 1
            continue
        last = k == len(parts) - 1
        lead = len(part) - len(part.lstrip(" "))
        out += ["style"] * lead  # a space after a separator is a free choice
        body = part[lead:]
        start = len(out)
        if last:  # the answer field
            out += ["answer" if ch.isdigit() else "other" for ch in body]
        else:
            out += _step_classes(body, columns[column] if column < len(columns) else None)
            column += 1
        if k > 0 and lead == 0 and body:  # right after a separator, no space: the space was a choice here too
            out[start] = "boundary"
    out.append("end")
    assert len(out) == len(completion) + 1
    return out


def _step_classes(body: str, column: tuple[str, str] | None) -> list[str]:
    """Classes of one step's characters, e.g. '7+9+0=16' or a corrected '7+9+0=15!7+9+0=16'."""
    out = []
    for piece_index, piece in enumerate(body.split(CORRECTION)):
        if piece_index:
            out.append("syntax")  # the correction mark
        match = _STEP.fullmatch(piece)
        if match is None:
            out += ["other"] * len(piece)
            continue
        free = column is not None and column[0] != column[1] and piece_index == 0  # a redone step keeps order
        out += ["style" if free else "digit", "syntax", "digit", "syntax", "carry", "syntax"]
        out += ["sum"] * len(match.group(4))
    return out


def class_means(values: torch.Tensor, mask: torch.Tensor, classes: list[list[str]]) -> dict[str, tuple]:
    """``{class: (sum, count)}`` of ``values`` [B, T] over the masked tokens, by the class of each token."""
    totals: dict[str, list[float]] = {}
    for row, row_mask, row_classes in zip(values.tolist(), mask.tolist(), classes):
        for value, keep, kind in zip(row, row_mask, row_classes):
            if keep > 0:
                entry = totals.setdefault(kind, [0.0, 0])
                entry[0] += value
                entry[1] += 1
    return {k: (s, n) for k, (s, n) in totals.items()}


def batch_classes(tokenizer, batch, digits: int) -> list[list[str]]:
    """The token classes of every completion in a ``StepBatch`` (or anything with problems, sequences,
    prompt_length and mask) of ``digits``-digit addition, aligned with the completion tokens ``[B, T]``.

    Classified from token ids: a special token sampled mid-completion (pad, bos, unk) is "other" and does not
    shift the classes of the tokens after it; positions outside the mask are "other".
    """
    completion_ids = batch.sequences[:, batch.prompt_length :]
    width, special = completion_ids.shape[1], set(tokenizer.all_special_ids)
    rows = []
    for problem, ids, mask in zip(batch.problems, completion_ids.tolist(), batch.mask.tolist()):
        kept = [j for j, m in enumerate(mask) if m > 0]
        text_positions = [j for j in kept if ids[j] not in special]
        pieces = [tokenizer.decode([ids[j]]) for j in text_positions]
        if any(len(piece) != 1 for piece in pieces):
            raise ValueError("token classes need the lab's one-character-per-token tokenizer")
        classes = token_classes(problem, "".join(pieces), digits)
        row = ["other"] * width
        for j, kind in zip(text_positions, classes[:-1]):
            row[j] = kind
        if kept and ids[kept[-1]] == tokenizer.eos_token_id:
            row[kept[-1]] = "end"
        rows.append(row)
    return rows


def advantage_tracker(tokenizer, digits: int, every: int = 1):
    """An ``on_step`` callback for ``train`` (on-policy methods) and the list it fills: every ``every`` steps,
    the mean per-token advantage of each token class in that step's batch, ``{"step": s, class: mean}``."""
    rows: list[dict] = []

    def on_step(step, batch, row):
        if batch.advantages is None or not batch.on_policy or step % every:
            return
        means = class_means(batch.advantages, batch.mask, batch_classes(tokenizer, batch, digits))
        rows.append({"step": step, **{k: s / n for k, (s, n) in means.items()}})

    return on_step, rows


@torch.no_grad()
def class_profile(student, teacher, tokenizer, task, n: int = 256, seed: int = 0) -> dict[str, dict]:
    """On ``n`` held-out student samples (T=1), per token class: how many tokens, the student's and the
    teacher's entropy (nats), the exact reverse KL(student || teacher) and OPD's advantage
    -(log p_s - log p_t), each a mean over the class's tokens."""
    from types import SimpleNamespace

    from ..evaluate import sample_problems
    from ..objectives import entropy
    from ..scoring import score

    problems = task.problems(n, "held_out", seed=seed)
    rollout = sample_problems(student, tokenizer, task, problems, seed)
    scores = score(student, teacher, tokenizer, rollout.sequences, rollout.prompt_length)
    batch = SimpleNamespace(
        problems=problems, sequences=rollout.sequences, prompt_length=rollout.prompt_length,
        mask=rollout.completion_mask,
    )  # fmt: skip
    classes = batch_classes(tokenizer, batch, task.digits)
    measures = {
        "student_entropy": entropy(scores.student_logits),
        "teacher_entropy": entropy(scores.teacher_logits),
        "reverse_kl": scores.reverse_kl(),
        "advantage": scores.advantages,
    }
    out: dict[str, dict] = {}
    for name, values in measures.items():
        for kind, (total, count) in class_means(values, rollout.completion_mask, classes).items():
            out.setdefault(kind, {"tokens": count})[name] = total / count
    return {k: out[k] for k in CLASSES if k in out}
