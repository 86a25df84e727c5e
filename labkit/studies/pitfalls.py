"""A clinic of the bugs practitioners hit in on-policy distillation stacks, each planted in the lab's loop.

Every pitfall is a :class:`~labkit.train.Trainer` subclass that changes one thing, so its run differs from the
healthy run only by the bug. ``clinic`` trains each for a few steps from the shipped student and returns,
beside the healthy run, the symptoms the lab's metrics show:

    pitfall          the bug                                    where it shows
    kl-sign          a_t = +(log p_s - log p_t)                 teacher_kl rises, accuracy falls
    teacher-grad     the advantage not detached: gradient       the teacher gets a gradient and a backward
                     flows into the teacher (and log p_s)       pass; the student's extra term averages to 0
    student-stopped  the student's log-probs detached           the weights never move: nothing learns
    prompt-mismatch  the teacher scores a prompt rendered       the first step's advantage is far below the
                     differently (no '=')                       healthy one: the teacher grades noise
    zero-advantage   the "teacher" is a copy of the student     every advantage is 0 at first: nothing learns
    label-shift      log p(y_t) read from the logits at t       the first ratio and advantage are far off;
                                                                accuracy collapses
    temperature      sampled at T=0.7, scored at T=1            the first step's importance ratio is not 1

``padded_head`` is the one pitfall that needs no training: an output layer padded past its tokenizer
(Qwen2.5: 151,936 rows for 151,665 tokens; the larger checkpoints of the family pad to 152,064), scored with
and without the lab's truncation to ``len(tokenizer)``.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import torch

from .. import objectives
from ..config import METHOD_SETTINGS
from ..exercises import EXERCISES, in_place_of
from ..scoring import logprobs
from ..train import StepBatch, TrainConfig, Trainer


class ClinicTrainer(Trainer):
    """The lab's loop, recording what the clinic reads: the first step's advantages and importance ratio, the
    teacher's gradient, and how far the student's weights moved."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.start_weights = [p.detach().clone() for p in self.student.parameters()]
        self.first: dict = {}
        self.teacher_grad = 0.0

    def loss(self, batch: StepBatch):
        loss, logits = super().loss(batch)
        self.record_first(batch)
        return loss, logits

    def record_first(self, batch: StepBatch) -> None:
        """On the first step with advantages: their mean, and the mean |log ratio| between the log-probs the
        loss scores (at the loss's temperature) and the sampler's, before any update (0 when they agree)."""
        if self.first or batch.advantages is None:
            return
        with torch.no_grad():
            now = logprobs(self.student, self.tokenizer, batch.sequences, batch.prompt_length,
                           self.config.temperature)  # fmt: skip
        self.first = {
            "advantage": float(objectives.masked_mean(batch.advantages.detach(), batch.mask)),
            "abs_log_ratio": float(objectives.masked_mean((now - batch.sampling_logprobs).abs(), batch.mask)),
        }

    def update(self, loss):
        super().update(loss)
        if self.teacher is not None:
            grads = [p.grad.norm() for p in self.teacher.parameters() if p.grad is not None]
            self.teacher_grad += float(torch.stack(grads).norm()) if grads else 0.0

    def weight_change(self) -> float:
        """Relative distance the student's weights moved: |theta - theta_0| / |theta_0|."""
        moved = sum(float((p.detach() - q).pow(2).sum()) for p, q in zip(self.student.parameters(),
                                                                      self.start_weights))  # fmt: skip
        return (moved / sum(float(q.pow(2).sum()) for q in self.start_weights)) ** 0.5


class SignSwapped(ClinicTrainer):
    def opd_advantages(self, batch):
        return -super().opd_advantages(batch)  # BUG: +(log p_s - log p_t)


class TeacherNotStopped(ClinicTrainer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.teacher.requires_grad_(True)  # BUG: the teacher is scored with autograd on

    def score_with_teacher(self, batch, charge=True):
        batch.teacher_logprobs = logprobs(self.teacher, self.tokenizer, batch.sequences, batch.prompt_length)
        if charge:
            self.ledger.add_pass("teacher_scoring", self.teacher, batch.sequences)

    def loss(self, batch):
        c = self.config
        student_logprobs, logits = logprobs(
            self.student, self.tokenizer, batch.sequences, batch.prompt_length, c.temperature, logits=True
        )
        self.ledger.add_pass("student_train", self.student, batch.sequences, backward=True)
        batch.advantages = -(student_logprobs - batch.teacher_logprobs) * batch.mask  # BUG: no .detach()
        self.record_first(batch)
        ratio = torch.exp(student_logprobs - batch.sampling_logprobs)
        return -objectives.masked_mean(ratio * batch.advantages, batch.mask), logits


class StudentStopped(ClinicTrainer):
    def loss(self, batch):
        loss, logits = super().loss(batch)
        # BUG: the student's log-probs detached (a .detach() or torch.no_grad() around the student's pass);
        # the zero keeps backward() from raising, as a frozen-but-attached adapter would
        weights = sum(p.sum() for p in self.student.parameters())
        return loss.detach() + 0.0 * weights, logits


class PromptMismatch(ClinicTrainer):
    def score_with_teacher(self, batch, charge=True):
        # BUG: the teacher's renderer drops the prompt's last token ('=', this task's generation prompt)
        p = batch.prompt_length
        sequences = torch.cat([batch.sequences[:, : p - 1], batch.sequences[:, p:]], dim=1)
        with torch.no_grad():
            batch.teacher_logprobs = logprobs(self.teacher, self.tokenizer, sequences, p - 1)
        if charge:
            self.ledger.add_pass("teacher_scoring", self.teacher, sequences)


class ZeroAdvantage(ClinicTrainer):
    def __init__(self, config, student, tokenizer, task, teacher=None, *args, **kwargs):
        # BUG: the wrong checkpoint loaded as the teacher: a copy of the student
        super().__init__(config, student, tokenizer, task, copy.deepcopy(student), *args, **kwargs)


def _labels_unshifted():
    """Within the block every scoring pass reads log p(y_t) from the logits at t, not t - 1 (the exercise's
    named mistake, put in place of the lab's token_logprobs)."""
    unshifted = next(f for w, f in EXERCISES["token_logprobs"].mistakes.items() if "not shifted" in w)
    return in_place_of("token_logprobs", unshifted)


class LabelShift(ClinicTrainer):
    def loss(self, batch):
        with _labels_unshifted():  # BUG: log p(y_t) read from the logits at t, by the student ...
            return super().loss(batch)

    def score_with_teacher(self, batch, charge=True):
        with _labels_unshifted():  # ... and by the teacher
            super().score_with_teacher(batch, charge)


class TemperatureMismatch(ClinicTrainer):
    def loss(self, batch):
        c = self.config
        self.config = dataclasses.replace(c, temperature=1.0)
        try:  # BUG: the loss scores at T=1 the tokens the sampler drew at config.temperature
            return super().loss(batch)
        finally:
            self.config = c


@dataclass
class Pitfall:
    """One bug: what it is, the symptom to look for, the fix, and the loop with it planted."""

    bug: str
    symptom: str
    fix: str
    trainer: type[ClinicTrainer]
    temperature: float = 1.0


PITFALLS = {
    "kl-sign": Pitfall(
        "the KL's sign (direction) swapped: a_t = +(log p_s - log p_t), so the student is paid for tokens "
        "the teacher dislikes",
        "teacher_kl rises instead of falling; accuracy falls",
        "a_t = -(log p_student - log p_teacher) = log p_teacher - log p_student",
        SignSwapped,
    ),
    "teacher-grad": Pitfall(
        "the teacher's gradient not stopped: a hand-written advantage without .detach(), the teacher scored "
        "with autograd on",
        "the teacher receives a gradient: a backward pass through it every step (slower steps, its "
        "activations kept in memory; an optimizer over shared modules would move it). Training "
        "otherwise looks normal: the student's extra term, the gradient of its own log-probs, "
        "averages to zero over its samples (the score-function identity of notebook 04), which is why"
        " this bug survives",
        "score the teacher under torch.no_grad() and .detach() the advantage",
        TeacherNotStopped,
    ),
    "student-stopped": Pitfall(
        "the student's gradient wrongly stopped: its log-probs detached in the loss",
        "the weights do not move (weight change 0): accuracy stays where it started, and teacher_kl moves "
        "only with the prompts of each batch",
        "keep the student's forward pass in the graph; only the advantage and the teacher are detached",
        StudentStopped,
    ),
    "prompt-mismatch": Pitfall(
        "teacher and student see different prompts: the teacher's renderer drops the generation prompt ('=')",
        "the first step's mean advantage is far below the healthy run's: the teacher grades tokens in a "
        "context it was never trained on",
        "render both prompts with one template (the lab encodes one prompt for both and scores the same ids)",
        PromptMismatch,
    ),
    "zero-advantage": Pitfall(
        "the advantages are silently all zero: the teacher loaded is a copy of the student",
        "the first step's advantage and teacher_kl are 0: a teacher identical to the student has "
        "nothing to say; afterwards it only pulls the student back to where it started, and accuracy "
        "stays near its start",
        "load the teacher's checkpoint; assert the advantage's spread is not zero",
        ZeroAdvantage,
    ),
    "label-shift": Pitfall(
        "labels shifted by one: log p(y_t) read from the logits at position t instead of t-1",
        "before any update the importance ratio is far from 1 (the loss's log-probs are not the "
        "sampler's) and the advantages are huge; accuracy collapses while teacher_kl, computed from "
        "the logits, barely falls",
        "logits[:, :-1] predict tokens[:, 1:]",
        LabelShift,
    ),
    "temperature": Pitfall(
        "sampled at T=0.7, scored at T=1 in the loss",
        "the importance ratio is not 1 at the first step, before any update (mean |log ratio| > 0)",
        "score with the temperature the sampler used (the lab divides the logits by config.temperature)",
        TemperatureMismatch,
        temperature=0.7,
    ),
}


def run(name: str | None, lab, steps: int = 30, seed: int = 0, n_eval: int = 128) -> dict:
    """Train OPD for ``steps`` from the shipped student with pitfall ``name`` planted (None: the healthy
    loop); the symptoms as one row."""
    task, teacher, student, tokenizer = lab
    pitfall = PITFALLS[name] if name else None
    trainer_class = pitfall.trainer if pitfall else ClinicTrainer
    temperature = pitfall.temperature if pitfall else 1.0
    config = TrainConfig(method="opd", steps=steps, seed=seed, warmup_steps=max(1, min(10, steps // 5)),
                         eval_points=2, eval_n=n_eval, monitor_every=1, temperature=temperature,
                         **METHOD_SETTINGS["opd"])  # fmt: skip
    trainer = trainer_class(config, copy.deepcopy(student), tokenizer, task, copy.deepcopy(teacher),
                            progress=False)  # fmt: skip
    history = trainer.run().history
    evals = [r for r in history if "eval_accuracy" in r]
    kl = [r["teacher_kl"] for r in history if "teacher_kl" in r]
    entropy = [r["entropy"] for r in history if "entropy" in r]

    def ends(values):  # the mean of the first three and of the last three steps: one batch is noisy
        return sum(values[:3]) / len(values[:3]), sum(values[-3:]) / len(values[-3:])

    return {
        "pitfall": name or "healthy",
        "accuracy": (evals[0]["eval_accuracy"], evals[-1]["eval_accuracy"]),
        "teacher_kl": ends(kl),
        "entropy": ends(entropy),
        "seconds_per_step": trainer.seconds / max(1, trainer.step),
        "first_advantage": trainer.first.get("advantage", 0.0),
        "first_abs_log_ratio": trainer.first.get("abs_log_ratio", 0.0),
        "teacher_grad": trainer.teacher_grad,
        "weight_change": trainer.weight_change(),
        "loss": (history[1]["loss"], history[-1]["loss"]),
    }


def clinic(lab, steps: int = 30, seed: int = 0, n_eval: int = 128, names=None) -> list[dict]:
    """The healthy run, then every pitfall (or ``names``), each from the same student on the same prompts."""
    return [run(name, lab, steps, seed, n_eval) for name in (None, *(names or PITFALLS))]


def padded_head(lab, extra_rows: int = 128, seed: int = 0) -> dict:
    """The teacher with its output layer padded by ``extra_rows`` rows no token can be (small random weights,
    as a checkpoint's unused rows are), scored on the student's samples with and without the lab's truncation.

    Returns the probability mass the untruncated softmax puts on the phantom rows, the mean shift of the
    teacher's log-probs (so of every OPD advantage) without truncation, what the exact KL does with two row
    counts, and the shift with the truncation (0)."""
    from ..encoding import encode_prompts
    from ..sampling import sample, token_logprobs

    task, teacher, student, tokenizer = lab
    padded = copy.deepcopy(teacher)
    head = padded.get_output_embeddings()
    g = torch.Generator().manual_seed(seed)
    rows = torch.randn(extra_rows, head.weight.shape[1], generator=g) * head.weight.std()
    head.weight = torch.nn.Parameter(torch.cat([head.weight.detach(), rows]))
    head.out_features = head.weight.shape[0]
    padded.config.vocab_size = head.weight.shape[0]
    problems = task.problems(64, "held_out", seed=seed)
    prompts = encode_prompts(tokenizer, [p.prompt for p in problems])
    rollout = sample(
        student, prompts, task.max_completion_length, tokenizer, 1.0, torch.Generator().manual_seed(seed)
    )
    seq, p, mask = rollout.sequences, rollout.prompt_length, rollout.completion_mask
    with torch.no_grad():
        right = token_logprobs(teacher, seq, p, vocab_size=len(tokenizer))
        wrong, wrong_logits = token_logprobs(padded, seq, p, return_logits=True)  # every row: no truncation
        safe = token_logprobs(padded, seq, p, vocab_size=len(tokenizer))  # the lab's rule
        _, student_logits = token_logprobs(student, seq, p, return_logits=True, vocab_size=len(tokenizer))
    phantom = torch.softmax(wrong_logits, -1)[..., len(tokenizer) :].sum(-1)
    try:
        objectives.reverse_kl(student_logits, wrong_logits)
        kl_error = None
    except RuntimeError as error:
        kl_error = str(error).splitlines()[0]
    return {
        "rows": (len(tokenizer), head.weight.shape[0]),
        "phantom_mass": float(objectives.masked_mean(phantom, mask)),
        "shift_untruncated": float(objectives.masked_mean(wrong - right, mask)),
        "shift_truncated": float(objectives.masked_mean(safe - right, mask)),
        "exact_kl_error": kl_error,
    }


def check_diagnosis(mystery: str, answer: str, verbose: bool = True) -> bool:
    """Whether ``answer`` names the pitfall planted in the mystery run; prints what the learner should see."""
    say = print if verbose else (lambda *_: None)
    if answer not in PITFALLS:
        say(f"'{answer}' is not a pitfall of the clinic: choose one of {', '.join(PITFALLS)}")
        return False
    if answer == mystery:
        say(f"right: {PITFALLS[mystery].bug}. Fix: {PITFALLS[mystery].fix}")
        return True
    say(f"not {answer}: that bug would show as '{PITFALLS[answer].symptom}'. Look again at the table.")
    return False
