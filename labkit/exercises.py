"""Exercises with checkers: write the core of a method yourself, let the lab say what is wrong in words, then
train the student with it.

    from labkit.exercises import check, try_in_training

    def my_opd_advantages(student_logprobs, teacher_logprobs, mask):
        ...  # your code

    check("opd_advantages", my_opd_advantages)             # right value, right gradient?
    try_in_training("opd_advantages", my_opd_advantages)   # the student trained with it, beside the lab's

``check`` runs the lab's reference (:mod:`labkit.objectives`) on copies of random inputs and edge cases
(padding, groups whose rewards are all equal, inputs that carry gradients), then your function on the
originals. It refuses a function that changes its inputs, a loss whose value is right but which carries no
gradient (``.item()``, ``.detach()``, ``torch.no_grad()``: it would train nothing), a gradient that differs
from the reference's (``torch.autograd.grad``), and any gradient into the teacher. When the values differ it
tries the common mistakes it knows and names the one yours makes. Worked solutions live apart, in
:mod:`labkit.solutions`: try first.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from . import objectives, scoring

Inputs = Callable[[torch.Generator], tuple]


@dataclass
class Exercise:
    """One function to write: what it takes and returns, the reference, inputs to try, and known mistakes.

    ``trains``: positions of the inputs the student's gradient flows through (the result must carry it, equal
    to the reference's). ``frozen``: positions of the teacher's inputs (they must get none). ``reward``: the
    result is a reward, so it must carry no gradient at all (``gradient_mistake`` says why)."""

    signature: str
    reference: Callable
    inputs: list[Inputs]
    mistakes: dict[str, Callable]  # words naming the mistake -> a function that makes it
    trains: tuple[int, ...] = ()
    frozen: tuple[int, ...] = ()
    gradient_mistake: str | None = None  # if set, a result carrying gradient is wrong, for these words
    method: str = "sft"  # the method try_in_training trains with


def _logprobs(g: torch.Generator, shape=(4, 7)) -> torch.Tensor:
    return torch.log_softmax(torch.randn(*shape, 5, generator=g), -1)[..., 0]


def _mask(g: torch.Generator, shape=(4, 7)) -> torch.Tensor:
    lengths = torch.randint(2, shape[1] + 1, (shape[0],), generator=g)
    return (torch.arange(shape[1])[None, :] < lengths[:, None]).float()  # 1 on tokens, 0 on padding


def _sft_inputs(g):
    return _logprobs(g), _mask(g)


def _paired_inputs(g):
    return _logprobs(g), _logprobs(g), _mask(g)


def _rewards(g):
    rewards = (torch.rand(5, 4, generator=g) < 0.5).float()
    rewards[0] = 1.0  # a group where every sample succeeded: no signal
    rewards[1] = 0.0  # and one where every sample failed
    return (rewards,)


def _logits_pair(g):
    return torch.randn(3, 6, 5, generator=g) * 2, torch.randn(3, 6, 5, generator=g) * 2


def _logits_and_tokens(g):
    return torch.randn(3, 6, 5, generator=g) * 2, torch.randint(0, 5, (3, 6), generator=g)


def _with_gradient(make: Inputs, positions: tuple[int, ...]) -> Inputs:
    """The same inputs, with ``positions`` as leaf tensors that ask for a gradient."""

    def made(g):
        args = make(g)
        return tuple(a.requires_grad_() if i in positions else a for i, a in enumerate(args))

    made.__name__ = f"{make.__name__}_with_gradient"
    return made


def _whole_batch_grpo(rewards):
    return (rewards - rewards.mean()) / (rewards.std() + 1e-6)


def _unbiased_grpo(rewards):
    std = rewards.std(dim=1, keepdim=True)
    return torch.where(
        std > 0, (rewards - rewards.mean(1, keepdim=True)) / (std + 1e-6), torch.zeros_like(rewards)
    )


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(tokens[:, t] | tokens[:, :t]) for t >= 1: the logits at position t - 1 predict the token at t.

    ``logits`` [B, L, V] from one forward pass over ``tokens`` [B, L]; returns [B, L - 1]."""
    return torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, tokens[:, 1:, None]).squeeze(-1)


def _gather(logp, tokens):
    return logp.gather(-1, tokens[..., None]).squeeze(-1)


EXERCISES = {
    "token_logprobs": Exercise(
        "token_logprobs(logits [B, L, V], tokens [B, L]) -> [B, L-1]: log p(tokens[:, t] | tokens[:, :t]) "
        "for t = 1 .. L-1; the logits at position t-1 predict the token at t",
        token_logprobs,
        [_logits_and_tokens, _with_gradient(_logits_and_tokens, (0,))],
        {
            "the labels are not shifted: the logits at position t predict the token at t+1, so pair "
            "logits[:, :-1] with tokens[:, 1:]": (
                lambda x, y: _gather(torch.log_softmax(x[:, 1:], -1), y[:, 1:])
            ),
            "the shift goes the wrong way: the logits at position t predict the token at t+1 (logits[:, :-1] "
            "with tokens[:, 1:]), not the token at t-1": (
                lambda x, y: _gather(torch.log_softmax(x[:, 1:], -1), y[:, :-1])
            ),
            "logits are not log-probabilities: apply log_softmax over the vocabulary before gathering": (
                lambda x, y: _gather(x[:, :-1], y[:, 1:])
            ),
            "those are probabilities: take log_softmax, not softmax": (
                lambda x, y: _gather(torch.softmax(x[:, :-1], -1), y[:, 1:])
            ),
            "log_softmax over the wrong dimension: the vocabulary is the last one (dim=-1)": (
                lambda x, y: _gather(torch.log_softmax(x[:, :-1], 1), y[:, 1:])
            ),
        },
        trains=(0,),
    ),
    "sft_loss": Exercise(
        "sft_loss(logprobs [B, T], mask [B, T]) -> scalar: "
        "the mean of -log p over the tokens where mask is 1",
        objectives.sft_loss,
        [_sft_inputs, _with_gradient(_sft_inputs, (0,))],
        {
            "the sign is flipped: the loss is the *negative* log-likelihood": lambda lp, m: (
                (lp * m).sum() / m.sum()
            ),
            "padding is averaged in: divide by the number of real tokens (mask.sum()), "
            "not by every position": (lambda lp, m: -(lp * m).mean()),
            "padding tokens count: multiply by the mask before averaging": lambda lp, m: -lp.mean(),
            "it sums instead of averaging: divide by the number of real tokens": lambda lp, m: (
                -(lp * m).sum()
            ),
            "it averages each sequence, then the sequences: a short sequence's tokens then weigh more than a "
            "long one's; average over all real tokens at once": (
                lambda lp, m: -((lp * m).sum(1) / m.sum(1)).mean()
            ),
        },
        trains=(0,),
    ),
    "grpo_advantages": Exercise(
        "grpo_advantages(rewards [prompts, group]) -> [prompts, group]: "
        "(r - group mean) / (group std + 1e-6), the population std (divide by the group size),"
        " exactly 0 in a group whose rewards are all equal",
        objectives.grpo_advantages,
        [_rewards],
        {
            "groups whose rewards are all equal must get advantage 0, not NaN or a huge number": (
                lambda r: (r - r.mean(1, keepdim=True)) / r.std(1, keepdim=True, unbiased=False)
            ),
            "normalise within each group (one prompt's samples), not over the whole batch": _whole_batch_grpo,
            "use the population std (unbiased=False: divide by the group size), as this lab's GRPO does "
            "(TRL's GRPOTrainer uses the sample std: a variant, not the one checked here)": _unbiased_grpo,
            "subtract the group mean: an advantage says better or worse than the other samples "
            "of the prompt": (lambda r: r / (r.std(1, keepdim=True, unbiased=False) + 1e-6)),
            "the mean alone, without dividing by the std, is Dr. GRPO (Liu et al., 2025): a variant, not an "
            "error, but this exercise asks for GRPO's (r - mean) / (std + 1e-6)": (
                lambda r: r - r.mean(1, keepdim=True)
            ),
        },
        method="rl",
    ),
    "opd_advantages": Exercise(
        "opd_advantages(student_logprobs [B, T], teacher_logprobs [B, T], mask [B, T]) -> [B, T]: "
        "-(log p_student - log p_teacher) on real tokens, 0 on padding, carrying no gradient",
        lambda s, t, m: objectives.opd_advantages(s, t, m),
        [_paired_inputs, _with_gradient(_paired_inputs, (0, 1))],
        {
            "the sign is flipped: the advantage is -(log p_student - log p_teacher), "
            "positive where the teacher "
            "likes the token more than the student does": lambda s, t, m: ((s - t) * m).detach(),
            "padding is not zeroed: multiply by the mask": lambda s, t, m: -(s - t).detach(),
            "those are probability ratios: the advantage is a difference of log-probs, "
            "-(log p_student - log p_teacher), not -(p_student / p_teacher)": (
                lambda s, t, m: (-(s.exp() / t.exp()) * m).detach()
            ),
        },
        gradient_mistake="a gradient flows through the advantage: it is a reward, "
        "so .detach() it (a stop-gradient);"
        " otherwise the loss also trains the student to move the reward itself",
        method="opd",
    ),
    "reverse_kl": Exercise(
        "reverse_kl(student_logits [..., V], teacher_logits [..., V]) -> [...]: "
        "sum_v p_s(v) (log p_s(v) - log p_t(v)) at every position; the gradient flows into the student only",
        objectives.reverse_kl,
        [_logits_pair, _with_gradient(_logits_pair, (0, 1))],
        {
            "the direction is swapped: that is the forward KL(teacher || student); reverse KL weighs by the "
            "student's probabilities": lambda s, t: objectives.forward_kl(s, t),
            "logits are not log-probabilities: apply log_softmax over the vocabulary first": (
                lambda s, t: (s.softmax(-1) * (s - t)).sum(-1)
            ),
            "the teacher's logits are used as log-probabilities: apply log_softmax to the teacher's logits "
            "too": (lambda s, t: (s.softmax(-1) * (s.log_softmax(-1) - t)).sum(-1)),
            "softmax over the wrong dimension: the vocabulary is the last one (dim=-1)": (
                lambda s, t: (s.softmax(0) * (s.log_softmax(0) - t.log_softmax(0))).sum(-1)
            ),
            "the student's probabilities p_s(v) are detached where they weigh the sum: the value is right, "
            "but KL's gradient also flows through that weight (keep it in the graph)": (
                lambda s, t: (s.softmax(-1).detach() * (s.log_softmax(-1) - t.detach().log_softmax(-1))).sum(
                    -1
                )
            ),
        },
        trains=(0,),
        frozen=(1,),
        method="opd-exact",
    ),
}

NO_GRADIENT = (
    "its value is right but it carries no gradient (a .detach(), .item() or torch.no_grad() somewhere): "
    "a loss like this trains nothing"
)
WRONG_GRADIENT = (
    "its value is right but its gradient is not the reference's: part of the expression is cut from the "
    "graph "
    "(a .detach() or .data) or computed outside torch"
)
TEACHER_GRADIENT = (
    "a gradient flows into the teacher: .detach() the teacher's side (only the student learns; a real run "
    "would also keep the teacher's whole graph in memory)"
)
IN_PLACE = (
    "it changes an input in place (x *= m, x.mul_(), x[...] = ...): the trainer reuses those tensors, so "
    "work "
    "on new ones (x = x * m)"
)
NOT_A_TENSOR = "it returns {kind}, not a torch tensor: keep the result a tensor (no .item(), no .tolist())"


def _agrees(mine, reference) -> bool:
    mine = torch.as_tensor(mine)
    return mine.shape == reference.shape and torch.allclose(
        mine.float(), reference.float(), atol=1e-5, rtol=1e-4, equal_nan=True
    )


def _copies(args: tuple) -> tuple:
    """Fresh leaf copies of ``args``: each run gets its own, asking for a gradient where the original did."""
    return tuple(
        a.detach().clone().requires_grad_(a.requires_grad) if isinstance(a, torch.Tensor) else a for a in args
    )


def _gradients(exercise: Exercise, args: tuple, result) -> list | None:
    """d(sum of result * fixed weights)/d(each trains and frozen input), None where no gradient reaches it."""
    positions = [i for i in (*exercise.trains, *exercise.frozen) if args[i].requires_grad]
    if not positions or not isinstance(result, torch.Tensor) or not result.requires_grad:
        return None
    weights = torch.linspace(0.5, 1.5, result.numel()).view(result.shape)  # every element counts, unequally
    grads = torch.autograd.grad((result * weights).sum(), [args[i] for i in positions], allow_unused=True)
    return dict(zip(positions, grads))


def _same_gradient(mine: dict, reference: dict, positions) -> bool:
    for i in positions:
        ours, theirs = mine.get(i), reference.get(i)
        ours = torch.zeros_like(theirs) if ours is None and theirs is not None else ours
        theirs = torch.zeros_like(ours) if theirs is None and ours is not None else theirs
        if ours is not None and not torch.allclose(ours, theirs, atol=1e-5, rtol=1e-4):
            return False
    return True


def _diagnose(exercise: Exercise, args: tuple, mine, mine_grads=None) -> str:
    """The known mistake whose value (and, where the values agree, whose gradient) matches the learner's."""
    for words, mistake in exercise.mistakes.items():
        copies = _copies(args)
        made = mistake(*copies)
        if not _agrees(mine.detach() if isinstance(mine, torch.Tensor) else mine, made.detach()):
            continue
        if mine_grads is None:
            return words
        made_grads = _gradients(exercise, copies, made)
        if made_grads is not None and _same_gradient(mine_grads, made_grads, exercise.trains):
            return words
    return (
        "it differs from the reference and matches no mistake this checker knows: "
        "compare it with the equation"
    )


def _verdict(exercise: Exercise, function: Callable, args: tuple) -> str | None:
    """None if ``function`` agrees with the reference on ``args``, else what is wrong, in words."""
    reference_args = _copies(args)  # the reference first, on its own copies
    reference = exercise.reference(*reference_args)
    reference_grads = _gradients(exercise, reference_args, reference)
    before = [a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args]
    mine = function(*args)
    for a, b in zip(args, before):
        if isinstance(a, torch.Tensor) and not torch.equal(a.detach(), b):
            return IN_PLACE
    if not isinstance(mine, torch.Tensor):
        return NOT_A_TENSOR.format(kind=f"a {type(mine).__name__}")
    if exercise.gradient_mistake and mine.requires_grad:
        return exercise.gradient_mistake
    if not _agrees(mine.detach(), reference.detach()):
        return _diagnose(exercise, args, mine)
    if reference_grads is None:
        return None
    mine_grads = _gradients(exercise, args, mine)
    if mine_grads is None or all(mine_grads.get(i) is None for i in exercise.trains):
        return NO_GRADIENT
    if any(mine_grads.get(i) is not None and mine_grads[i].abs().max() > 0 for i in exercise.frozen):
        return TEACHER_GRADIENT
    if not _same_gradient(mine_grads, reference_grads, exercise.trains):
        words = _diagnose(exercise, _copies(args), mine, mine_grads)
        return words if not words.startswith("it differs") else WRONG_GRADIENT
    return None


def check(name: str, function: Callable, trials: int = 5, verbose: bool = True) -> bool:
    """Compare ``function`` with the reference of exercise ``name``: value and gradient, on random inputs and
    edge cases.

    Prints one line: passed, or what is wrong in words. Returns whether it passed. A function that still
    raises NotImplementedError is reported as not attempted yet, and one that raises anything else is reported
    with its error, so the notebook keeps running.
    """
    if name not in EXERCISES:
        raise KeyError(f"no exercise {name!r}: the exercises are {', '.join(EXERCISES)}")
    exercise = EXERCISES[name]
    say = print if verbose else (lambda *_: None)
    for trial in range(trials):
        for make in exercise.inputs:
            args = make(torch.Generator().manual_seed(trial))
            try:
                wrong = _verdict(exercise, function, args)
            except NotImplementedError:
                say(f"{name}: not attempted yet — {exercise.signature}")
                return False
            except Exception as error:  # the learner's code failed: say how, and keep the notebook going
                hint = IN_PLACE if "in-place" in str(error) else f"it raised {type(error).__name__}: {error}"
                say(f"{name}: wrong — {hint}")
                return False
            if wrong is not None:
                say(f"{name}: wrong — {wrong}")
                return False
    say(
        f"{name}: correct — value{' and gradient' if exercise.trains else ''} match the reference on "
        f"{trials * len(exercise.inputs)} random batches"
    )
    return True


# -- build it, then use it --------------------------------------------------------------------------------


@contextlib.contextmanager
def in_place_of(name: str, function: Callable):
    """Within the block, the lab's loop calls ``function`` where it called its own ``name``."""
    if name == "token_logprobs":
        original, module, attribute = scoring.token_logprobs, scoring, "token_logprobs"

        def replacement(
            model, sequences, prompt_length, temperature=1.0, return_logits=False, vocab_size=None
        ):
            logits = model(input_ids=sequences, use_cache=False).logits[..., :vocab_size].float()
            if temperature not in (0, 1):
                logits = logits / temperature
            logp = function(logits, sequences)[:, prompt_length - 1 :]
            return (logp, logits[:, prompt_length - 1 : -1]) if return_logits else logp

    elif name == "opd_advantages":
        original, module, attribute = objectives.opd_advantages, objectives, name

        def replacement(student, teacher, mask, kl_penalty_coef=1.0, kl_discount_factor=0.0):
            if kl_discount_factor != 0.0:
                raise ValueError("try_in_training trains OPD with discount 0, as the post does")
            return kl_penalty_coef * function(student, teacher, mask)

    else:
        original, module, attribute = getattr(objectives, name), objectives, name
        replacement = function
    setattr(module, attribute, replacement)
    try:
        yield
    finally:
        setattr(module, attribute, original)


@dataclass
class Tried:
    """What ``try_in_training`` saw: each run's evaluations (step, FLOPs, accuracy) and how yours ended."""

    name: str
    method: str
    yours: list[dict]
    reference: list[dict] = field(default_factory=list)
    error: str | None = None

    @staticmethod
    def _accuracies(rows):
        return [r["eval_accuracy"] for r in rows if "eval_accuracy" in r]

    def __repr__(self) -> str:
        def span(rows):
            acc = self._accuracies(rows)
            return f"{acc[0]:.1%} -> {acc[-1]:.1%}" if acc else "no evaluation"

        steps = max((r["step"] for r in self.yours), default=0)
        line = f"{self.method} trained with your {self.name}: {span(self.yours)} in {steps} steps"
        if self.reference:
            line += f" (the lab's {self.name}: {span(self.reference)})"
        return line + (f"; it stopped: {self.error}" if self.error else "")

    def figure(self):
        """Held-out accuracy against step, yours beside the lab's."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 3.2))
        for rows, label, style in ((self.reference, "the lab's", "--"), (self.yours, "yours", "-")):
            evals = [r for r in rows if "eval_accuracy" in r]
            if evals:
                ax.plot([r["step"] for r in evals], [r["eval_accuracy"] for r in evals], style, marker="o",
                        label=f"{label} {self.name}")  # fmt: skip
        ax.set(
            xlabel="step", ylabel="held-out accuracy (sampled)", title=f"{self.method} with your {self.name}"
        )
        ax.legend()
        fig.tight_layout()
        return fig


def _run(config, lab) -> tuple[list[dict], str | None]:
    from .train import Trainer

    task, teacher, student, tokenizer = lab
    trainer = Trainer(config, copy.deepcopy(student), tokenizer, task, teacher, progress=False)
    try:
        trainer.run()
        return trainer.history, None
    except NotImplementedError:
        return trainer.history, "not attempted yet: write the function first"
    except Exception as error:  # the learner's function broke the run: keep what it did, and say why
        return trainer.history, f"{type(error).__name__}: {error}"


def try_in_training(name: str, function: Callable, steps: int = 50, seed: int = 0, n_eval: int = 128,
                    eval_points: int = 4, lab=None, reference: bool = True) -> Tried:  # fmt: skip
    """Train the shipped student for ``steps`` with ``function`` in place of the lab's ``name`` (the method
    the exercise belongs to, at its tuned settings), and the same run with the lab's own function beside it.

    Returns a :class:`Tried`: print it for one line, ``.figure()`` for the curves. A function that breaks
    the run (an error, a loss that is not finite) ends it early; ``Tried.error`` says how. ``lab`` is
    ``(task, teacher, student, tokenizer)`` (``load_lab()`` by default); the student is copied, never
    changed.
    """
    from .config import METHOD_SETTINGS, TrainConfig
    from .models import load_lab

    if name not in EXERCISES:
        raise KeyError(f"no exercise {name!r}: the exercises are {', '.join(EXERCISES)}")
    method = EXERCISES[name].method
    lab = lab or load_lab()
    config = TrainConfig(method=method, steps=steps, seed=seed, warmup_steps=max(1, min(10, steps // 5)),
                         group_size=4, eval_points=eval_points, eval_n=n_eval,
                         **METHOD_SETTINGS[method])  # fmt: skip
    with in_place_of(name, function):
        yours, error = _run(config, lab)
    theirs = _run(config, lab)[0] if reference else []
    return Tried(name, method, yours, theirs, error)
