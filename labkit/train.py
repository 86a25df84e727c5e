"""One training loop for every method.

Methods differ in two things only: where the tokens come from (reference
solutions, teacher samples, the student's own samples) and what scores them
(labels, a 0/1 outcome reward, teacher log-probs). Prompts, optimizer,
schedule, logging and the compute ledger are shared, so a side-by-side
comparison is fair by construction.

    method     tokens from            signal                           2x2 of the post
    sft        teacher / reference    labels (cross-entropy)           off-policy, dense
    rl         student                0/1 outcome reward (GRPO)        on-policy, sparse
    opd        student                -(log p_s - log p_t) per token   on-policy, dense
    opd-exact  student                full-vocabulary reverse KL       on-policy, dense
    gkd        student (lmbda) or     generalized JSD(beta)            mixed
               teacher/reference
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import objectives
from .tools.checkpoint import (
    CHECKPOINT,
    load_checkpoint,
    save_checkpoint,
    write_json_atomic,
    write_text_atomic,
)
from .encoding import decode_completions, encode_completions, encode_prompts
from .errors import LabkitError
from .evaluate import evaluate
from .flops import ComputeLedger
from .models import check_compatible, save
from .sampling import logprobs_of, sample, token_logprobs
from .task import AdditionTask

METHODS = ("sft", "rl", "opd", "opd-exact", "gkd")
NEEDS_TEACHER = {"opd", "opd-exact", "gkd"}  # sft needs one only when sft_data == "teacher"
EVAL_SEED = 1234  # held-out problems for curves are the same for every run and method


@dataclass
class TrainConfig:
    """Hyperparameters of a training run; names follow TRL and tinker-cookbook where the meaning is the same."""

    method: str = "opd"
    """which signal trains the student: sft, rl, opd, opd-exact or gkd"""
    steps: int = 100
    """number of optimizer steps"""
    seed: int = 0
    """seeds prompts, sampling and every random choice of the run"""
    learning_rate: float = 1e-4
    """peak learning rate of AdamW"""
    warmup_steps: int = 10
    """linear warm-up from 0; a fresh optimizer on a trained model without warm-up is destructive"""
    lr_schedule: str = "cosine"
    """'cosine' decays to min_lr_ratio * learning_rate after warm-up; 'constant' keeps it"""
    min_lr_ratio: float = 0.1
    """final learning rate as a fraction of the peak (cosine schedule)"""
    batch_size: int = 16
    """prompts per step"""
    group_size: int = 4
    """samples per prompt (TRL num_generations, tinker group_size); SFT uses as many teacher samples"""
    temperature: float = 1.0
    """student sampling temperature"""
    teacher_temperature: float = 1.0
    """temperature of the teacher's distribution when it samples or scores"""
    max_new_tokens: int = 0
    """longest completion; 0 means the task's own bound"""
    max_grad_norm: float = 1.0
    """gradient clipping threshold (0 disables)"""
    weight_decay: float = 0.0
    """AdamW weight decay"""
    sft_data: str = "teacher"
    """off-policy tokens for sft and gkd: 'teacher' samples or 'reference' solutions"""
    kl_coef: float = 0.0
    """rl: weight of a KL(student || start policy) penalty"""
    kl_penalty_coef: float = 1.0
    """opd: scale of the per-token reverse-KL advantage (tinker-cookbook)"""
    kl_discount_factor: float = 0.0
    """opd: discount of future per-token advantages; 0 = each token judged on its own (the post)"""
    advantage_clip: float = 0.0
    """opd: clip per-token advantages to [-c, c]; 0 disables"""
    lmbda: float = 0.5
    """gkd: fraction of steps trained on the student's own samples (TRL lmbda)"""
    beta: float = 0.5
    """gkd: generalized JSD interpolation, 0 = forward KL, 1 = reverse KL (TRL beta)"""
    eval_every: int = 0
    """evaluate held-out accuracy every this many steps (0: only at the start and the end)"""
    eval_n: int = 256
    """held-out problems per evaluation"""
    eval_temperature: float = 1.0
    """sampling temperature of evaluations (0 = greedy); sampled accuracy is the steadier metric"""
    monitor_size: int = 64
    """student samples drawn (uncharged) to log reward and teacher_kl when the method itself does not sample"""
    monitor_every: int = 1
    """log entropy and teacher_kl (and an off-policy method's reward) on step 1 and every this many steps after;
    0: only what is free (an on-policy method's reward). Watching is uncharged but costs wall time"""
    save_every: int = 0
    """write a resumable checkpoint to OUT/checkpoint every this many steps (0: never)"""
    flop_budget: float = 0.0
    """stop once the ledger's total FLOPs reach this (0: off); the cosine decay then runs over compute, and steps is a cap"""
    eval_points: int = 8
    """with flop_budget: evaluate at this many evenly spaced fractions of the budget"""

    def validate(self) -> TrainConfig:
        """Raise a LabkitError naming the first bad field and how to fix it."""
        if self.method not in METHODS:
            raise LabkitError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        positive_ints = ("steps", "batch_size", "group_size", "eval_n", "monitor_size", "eval_points")
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise LabkitError(f"{name} must be a whole number of at least 1, got {value!r}")
        for name in ("warmup_steps", "eval_every", "max_new_tokens", "save_every", "monitor_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise LabkitError(f"{name} must be a whole number >= 0, got {value!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise LabkitError(f"{f.name} must be a finite number, got {value!r}")
        if not self.learning_rate > 0 or not math.isfinite(self.learning_rate):
            raise LabkitError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        for name in ("temperature", "teacher_temperature"):
            if not getattr(self, name) > 0:
                raise LabkitError(f"{name} must be > 0, got {getattr(self, name)!r}; use e.g. 1.0")
        if self.eval_temperature < 0:
            raise LabkitError(f"eval_temperature must be >= 0 (0 is greedy), got {self.eval_temperature!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise LabkitError(f"lr_schedule must be 'cosine' or 'constant', got {self.lr_schedule!r}")
        if self.sft_data not in ("teacher", "reference"):
            raise LabkitError(f"sft_data must be 'teacher' or 'reference', got {self.sft_data!r}")
        for name in ("lmbda", "beta", "min_lr_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise LabkitError(f"{name} must lie in [0, 1], got {getattr(self, name)!r}")
        if not 0.0 <= self.kl_discount_factor <= 1.0:
            raise LabkitError(f"kl_discount_factor must lie in [0, 1], got {self.kl_discount_factor!r}")
        if self.method == "rl" and self.group_size < 2:
            raise LabkitError(
                "rl needs group_size >= 2: advantages compare samples of one prompt, and a group of one "
                "always has advantage 0 (nothing is learned)"
            )
        for name in (
            "max_grad_norm",
            "weight_decay",
            "kl_coef",
            "advantage_clip",
            "kl_penalty_coef",
            "flop_budget",
        ):
            if getattr(self, name) < 0:
                raise LabkitError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        return self

    def needs_teacher(self) -> bool:
        return self.method in NEEDS_TEACHER or (self.method == "sft" and self.sft_data == "teacher")

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """The one-line docstring of each field, for the CLI's --help."""
        import ast
        import inspect

        source = inspect.getsource(cls)
        tree = ast.parse(source)
        docs, body = {}, tree.body[0].body
        for node, following in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
            ):
                docs[node.target.id] = str(following.value.value)
        return docs


@dataclass
class StepBatch:
    """What one step trains on. B sequences, P prompt tokens, T completion tokens."""

    problems: list  # [B] the problem behind each sequence
    sequences: torch.Tensor  # [B, P+T]
    prompt_length: int
    mask: torch.Tensor  # [B, T] tokens that carry loss
    on_policy: bool  # were these the student's own samples?
    sampling_logprobs: torch.Tensor | None = None  # [B, T] student log-probs at sampling time
    teacher_logits: torch.Tensor | None = None  # [B, T, V] teacher logits on these sequences
    rewards: torch.Tensor | None = None  # [B] outcome rewards (student samples only)
    advantages: torch.Tensor | None = None  # [B, T] per-token advantages (rl, opd)


@dataclass
class TrainResult:
    history: list[dict]
    ledger: ComputeLedger
    config: TrainConfig
    out_dir: Path | None = None
    samples: list[dict] = field(default_factory=list)

    def evals(self) -> list[dict]:
        """The rows of the history that carry an evaluation."""
        return [row for row in self.history if "eval_accuracy" in row]

    @property
    def final_accuracy(self) -> float:
        return self.evals()[-1]["eval_accuracy"]


def learning_rate_at(config: TrainConfig, step: int, flops: float = 0.0) -> float:
    """Linear warm-up, then constant or cosine decay to min_lr_ratio of the peak.

    Decay runs over steps, or over compute (``flops / flop_budget``) when a FLOP budget is set.
    """
    if config.warmup_steps and step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    if config.lr_schedule == "constant":
        return config.learning_rate
    if config.flop_budget > 0:
        progress = flops / config.flop_budget
    else:
        progress = (step - config.warmup_steps) / max(
            1, config.steps - config.warmup_steps - 1
        )  # 1.0 on the last step
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.learning_rate * (config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine)


class Trainer:
    """Runs one method on one student; ``run()`` returns the history and writes metrics.jsonl."""

    def __init__(
        self,
        config: TrainConfig,
        student,
        tokenizer,
        task: AdditionTask,
        teacher=None,
        out_dir=None,
        on_step: Callable[[int, StepBatch, dict], None] | None = None,
        progress: bool = True,
        teacher_tokenizer=None,
    ):
        self.config = config.validate()
        if config.needs_teacher() and teacher is None:
            raise LabkitError(
                f"method {config.method!r} needs a teacher model; pass teacher=... (e.g. data/teacher)"
            )
        self.student, self.tokenizer, self.task, self.teacher = student, tokenizer, task, teacher
        if teacher is not None:
            check_compatible(tokenizer, teacher_tokenizer or tokenizer, student, teacher)
            teacher.eval()
            teacher.requires_grad_(False)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.on_step = on_step
        self.progress = progress
        self.max_new_tokens = config.max_new_tokens or task.max_completion_length
        self.ledger = ComputeLedger()
        self.reference = None
        if config.method == "rl" and config.kl_coef > 0:
            self.reference = copy.deepcopy(student).eval().requires_grad_(False)
        torch.manual_seed(config.seed)
        self.device = next(student.parameters()).device
        self.vocab_size = len(
            tokenizer
        )  # output layers may be padded beyond the tokenizer; compare on real tokens
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.rng = random.Random(config.seed)
        self.optimizer = torch.optim.AdamW(
            student.parameters(), lr=learning_rate_at(config, 0), weight_decay=config.weight_decay
        )
        self.history: list[dict] = []
        self.seconds = 0.0  # wall time of the charged work only (no monitoring, no evaluation)
        self.episodes = 0
        self.step = 0

    # -- where the tokens come from ---------------------------------------------------------
    def _prompts(self, step: int):
        problems = self.task.problems(
            self.config.batch_size, "train", seed=self.config.seed * 1_000_003 + step
        )
        return [p for p in problems for _ in range(self.config.group_size)]

    def _student_samples(self, problems, generator=None, charge: bool = True) -> StepBatch:
        prompts = encode_prompts(self.tokenizer, [p.prompt for p in problems])
        self.student.eval()
        rollout = sample(
            self.student,
            prompts,
            self.max_new_tokens,
            self.tokenizer.eos_token_id,
            self.tokenizer.pad_token_id,
            self.config.temperature,
            generator or self.generator,
            vocab_size=self.vocab_size,
        )
        self.student.train()
        if charge:
            length = rollout.sequences.shape[1]
            self.ledger.add_forward("student_sampling", self.student, rollout.forward_tokens, length / 2)
        texts = decode_completions(self.tokenizer, rollout.completion_ids, rollout.completion_mask)
        rewards = torch.tensor([self.task.reward(p, t) for p, t in zip(problems, texts)])
        return StepBatch(
            problems,
            rollout.sequences,
            rollout.prompt_length,
            rollout.completion_mask,
            True,
            sampling_logprobs=rollout.logprobs,
            rewards=rewards,
        )

    def _off_policy_samples(self, problems) -> StepBatch:
        prompts = encode_prompts(self.tokenizer, [p.prompt for p in problems])
        if self.config.sft_data == "reference":
            solutions = [self.task.solution(p, self.rng) for p in problems]
            ids, mask = encode_completions(
                self.tokenizer, [s for s, _ in solutions], [m for _, m in solutions]
            )
            return StepBatch(problems, torch.cat([prompts, ids], dim=1), prompts.shape[1], mask, False)
        rollout = sample(
            self.teacher,
            prompts,
            self.max_new_tokens,
            self.tokenizer.eos_token_id,
            self.tokenizer.pad_token_id,
            self.config.teacher_temperature,
            self.generator,
            vocab_size=self.vocab_size,
        )
        self.ledger.add_forward(
            "teacher_sampling", self.teacher, rollout.forward_tokens, rollout.sequences.shape[1] / 2
        )
        return StepBatch(problems, rollout.sequences, rollout.prompt_length, rollout.completion_mask, False)

    def _teacher_logits(self, batch: StepBatch, charge: bool) -> torch.Tensor:
        """One parallel teacher pass over the batch: logits [B, T, V] at the positions that predict completions."""
        with torch.no_grad():
            _, logits = token_logprobs(
                self.teacher,
                batch.sequences,
                batch.prompt_length,
                return_logits=True,
                vocab_size=self.vocab_size,
            )
        if charge:
            n, length = batch.sequences.shape
            self.ledger.add_forward("teacher_scoring", self.teacher, n * (length - 1), length / 2)
        return logits

    # -- the step ---------------------------------------------------------------------------------
    def make_batch(self, step: int) -> StepBatch:
        c, problems = self.config, self._prompts(step)
        if c.method == "sft":
            return self._off_policy_samples(problems)
        if c.method == "gkd":
            batch = (
                self._student_samples(problems)
                if self.rng.random() < c.lmbda
                else self._off_policy_samples(problems)
            )
            batch.teacher_logits = self._teacher_logits(batch, charge=True)
            return batch
        batch = self._student_samples(problems)
        if c.method == "rl":
            grouped = batch.rewards.view(c.batch_size, c.group_size)
            per_sequence = objectives.grpo_advantages(grouped).view(-1)  # [B]
            batch.advantages = per_sequence[:, None] * batch.mask
        else:  # opd, opd-exact: the teacher scores every token of the student's samples in one pass
            batch.teacher_logits = self._teacher_logits(batch, charge=True)
            if c.method == "opd":
                batch.advantages = self.opd_advantages(batch)
        return batch

    def opd_advantages(self, batch: StepBatch) -> torch.Tensor:
        """Per-token advantages [B, T] of on-policy distillation from the batch's teacher logits (with clipping)."""
        c = self.config
        teacher_logp = logprobs_of(
            batch.teacher_logits / c.teacher_temperature, batch.sequences[:, batch.prompt_length :]
        )
        advantages = objectives.opd_advantages(
            batch.sampling_logprobs, teacher_logp, batch.mask, c.kl_penalty_coef, c.kl_discount_factor
        )
        if c.advantage_clip > 0:
            advantages = advantages.clamp(-c.advantage_clip, c.advantage_clip)
        return advantages

    def loss(self, batch: StepBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """The method's loss on the batch, and the student's logits [B, T, V] it was computed from."""
        c = self.config
        # one student distribution for every batch of a method: the tempered one for the methods that sample it
        temperature = 1.0 if c.method == "sft" else c.temperature
        logprobs, logits = token_logprobs(
            self.student,
            batch.sequences,
            batch.prompt_length,
            temperature,
            return_logits=True,
            vocab_size=self.vocab_size,
        )
        n, length = batch.sequences.shape
        self.ledger.add_forward("student_train", self.student, n * (length - 1), length / 2, backward=True)
        if c.method == "sft":
            loss = objectives.sft_loss(logprobs, batch.mask)
        elif c.method in ("rl", "opd"):
            loss = objectives.importance_sampling_loss(
                logprobs, batch.sampling_logprobs, batch.advantages, batch.mask
            )
            if self.reference is not None:
                with torch.no_grad():
                    _, reference_logits = token_logprobs(
                        self.reference,
                        batch.sequences,
                        batch.prompt_length,
                        temperature,
                        return_logits=True,
                        vocab_size=self.vocab_size,
                    )
                self.ledger.add_forward("reference", self.reference, n * (length - 1), length / 2)
                loss = loss + c.kl_coef * objectives.masked_mean(
                    objectives.reverse_kl(logits, reference_logits), batch.mask
                )
        elif c.method == "opd-exact":
            loss = objectives.masked_mean(
                objectives.reverse_kl(logits, batch.teacher_logits / c.teacher_temperature), batch.mask
            )
        else:  # gkd
            divergence = objectives.generalized_jsd(
                logits, batch.teacher_logits / c.teacher_temperature, c.beta
            )
            loss = objectives.masked_mean(divergence, batch.mask)
        return loss, logits

    def _monitor(self, batch: StepBatch, student_logits: torch.Tensor, step: int) -> dict:
        """reward, teacher_kl and entropy of the student *before* this step's update, on its own samples.

        On-policy methods are watched on the step's own samples (the logits the loss just computed, so it is free);
        the others on fresh student samples drawn with their own generator, so watching never changes training.
        Neither is charged to the ledger. teacher_kl is exact (full vocabulary), student and teacher at T=1.
        Off the ``monitor_every`` schedule only the free reward of on-policy samples is logged.
        """
        every = self.config.monitor_every
        if not (every and (step - 1) % every == 0):
            return {"reward": float(batch.rewards.mean())} if batch.on_policy else {}
        with torch.no_grad():
            if not batch.on_policy:
                problems = self.task.problems(
                    self.config.monitor_size, "train", seed=-(self.config.seed * 1_000_003 + step) - 1
                )
                generator = torch.Generator(device=self.device).manual_seed(self.config.seed * 7919 + step)
                batch = self._student_samples(problems, generator, charge=False)
                student_logits = None
            if student_logits is None or self.config.temperature != 1.0:
                _, student_logits = token_logprobs(
                    self.student,
                    batch.sequences,
                    batch.prompt_length,
                    return_logits=True,
                    vocab_size=self.vocab_size,
                )
            row = {
                "reward": float(batch.rewards.mean()),
                "entropy": float(objectives.masked_mean(objectives.entropy(student_logits), batch.mask)),
            }
            if self.teacher is not None:
                teacher_logits = (
                    batch.teacher_logits
                    if batch.teacher_logits is not None and batch.on_policy
                    else self._teacher_logits(batch, charge=False)
                )
                row["teacher_kl"] = float(
                    objectives.masked_mean(objectives.reverse_kl(student_logits, teacher_logits), batch.mask)
                )
        return row

    def evaluate(self) -> float:
        result = evaluate(
            self.student,
            self.tokenizer,
            self.task,
            n=self.config.eval_n,
            seed=EVAL_SEED,
            temperature=self.config.eval_temperature,
            progress=False,
        )
        return result.accuracy

    def _write(self, row: dict) -> None:
        self.history.append(row)
        if self.out_dir is not None:
            with open(self.out_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")

    def _ledger_row(self) -> dict:
        return {
            "flops": self.ledger.total,
            "teacher_flops": self.ledger.teacher,
            "student_flops": self.ledger.student,
            "seconds": self.seconds,
            "episodes": self.episodes,
        }

    def _start(self, resume: bool) -> int:
        """Prepare OUT and return the last finished step (0 for a fresh run)."""
        if self.out_dir is None:
            if resume:
                raise LabkitError("resume needs an out_dir holding a checkpoint")
            return 0
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise LabkitError(f"--out {self.out_dir} is a file; pass a folder (it is created if missing)")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        metrics = self.out_dir / "metrics.jsonl"
        if not resume:
            write_text_atomic(metrics, "")
            write_json_atomic(self.out_dir / "config.json", asdict(self.config))
            return 0
        step = load_checkpoint(self)
        rows = (
            [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
            if metrics.exists()
            else []
        )
        self.history = [row for row in rows if row["step"] <= step]  # drop what came after the checkpoint
        write_text_atomic(metrics, "".join(json.dumps(row) + "\n" for row in self.history))
        return step

    def run(self, resume: bool = False) -> TrainResult:
        """Train to ``config.steps``; with ``resume`` continue from OUT/checkpoint exactly as if never stopped."""
        c = self.config
        done = self._start(resume)
        prompt_tokens = len(
            self.tokenizer(self.task.problems(1, "train", seed=c.seed)[0].prompt)["input_ids"]
        )
        if self.max_new_tokens + prompt_tokens > getattr(
            self.student.config, "max_position_embeddings", 10**9
        ):
            raise LabkitError(
                f"prompts of {prompt_tokens} tokens plus max_new_tokens={self.max_new_tokens} "
                f"exceed the student's context of {self.student.config.max_position_embeddings}; "
                "lower max_new_tokens or use a model with a longer context"
            )
        self.student.train()
        if done == 0:
            self._write({"step": 0, "eval_accuracy": self.evaluate(), **self._ledger_row()})
        bar = tqdm(
            range(done + 1, c.steps + 1),
            desc=c.method,
            disable=not self.progress,
            initial=done,
            total=c.steps,
        )
        for step in bar:
            self.step = step
            flops_before = self.ledger.total
            started = time.perf_counter()
            lr = learning_rate_at(c, step - 1, self.ledger.total)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            batch = self.make_batch(step)
            loss, student_logits = self.loss(batch)
            watched = time.perf_counter()
            monitor = self._monitor(batch, student_logits.detach(), step)
            started += time.perf_counter() - watched  # watching is not part of the method's cost
            if not torch.isfinite(loss):
                kept = ""
                if self.out_dir is not None and (self.out_dir / CHECKPOINT / "trainer_state.json").exists():
                    saved = json.loads((self.out_dir / CHECKPOINT / "trainer_state.json").read_text())["step"]
                    kept = f" The last good checkpoint (step {saved}) is in {self.out_dir / CHECKPOINT}."
                raise LabkitError(
                    f"the loss became {loss.item()} at step {step} ({c.method}); training stopped.{kept} "
                    f"Lower learning_rate (now {c.learning_rate:g}) or raise warmup_steps"
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if c.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(self.student.parameters(), c.max_grad_norm)
            self.optimizer.step()
            self.seconds += time.perf_counter() - started
            self.episodes += batch.sequences.shape[0]
            row = {
                "step": step,
                "loss": loss.item(),
                "lr": lr,
                "tokens": int(batch.mask.sum()),
                **monitor,
                **self._ledger_row(),
            }
            spent = self.ledger.total / c.flop_budget if c.flop_budget else 0.0
            if c.flop_budget and step == 1 and spent > 1.0:
                raise LabkitError(
                    f"the FLOP budget {c.flop_budget:.3g} is below the cost of one {c.method} step "
                    f"({self.ledger.total:.3g} FLOPs); raise the budget or lower batch_size/group_size"
                )
            last = step == c.steps or spent >= 1.0
            eval_due = c.eval_every and step % c.eval_every == 0
            if c.flop_budget:
                eval_due = int(spent * c.eval_points) > int(flops_before * c.eval_points / c.flop_budget)
            if eval_due or last:
                row["eval_accuracy"] = self.evaluate()
            self._write(row)
            if self.out_dir is not None and c.save_every and step % c.save_every == 0:
                save_checkpoint(self)
            if self.on_step is not None:
                self.on_step(step, batch, row)
            bar.set_postfix({k: f"{row[k]:.3g}" for k in ("loss", "reward", "teacher_kl") if k in row})
            if last:
                break
        if c.flop_budget and self.ledger.total < c.flop_budget:
            raise LabkitError(
                f"{c.method} reached its step cap ({c.steps}) after {self.ledger.total:.3g} of the "
                f"{c.flop_budget:.3g} FLOP budget; raise steps or lower the budget"
            )
        if self.out_dir is not None:
            save(
                self.student,
                self.tokenizer,
                self.out_dir / "final",
                extra={
                    "task": asdict(self.task),
                    "train": asdict(c),
                    "final_accuracy": self.history[-1]["eval_accuracy"],
                },
            )
        return TrainResult(self.history, self.ledger, c, self.out_dir)


def train(
    config: TrainConfig,
    student,
    tokenizer,
    task: AdditionTask,
    teacher=None,
    out_dir=None,
    resume: bool = False,
    **kwargs,
) -> TrainResult:
    """Train ``student`` in place with ``config.method``; see :class:`Trainer`."""
    return Trainer(config, student, tokenizer, task, teacher, out_dir, **kwargs).run(resume=resume)
