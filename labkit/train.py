"""One training step for every method, and the loop around it.

Methods differ in two things only: where the tokens come from (reference
solutions, teacher samples, the student's own samples) and what scores them
(labels, a 0/1 outcome reward, teacher log-probs). Prompts, optimizer,
schedule, logging and the compute ledger are shared, so a side-by-side
comparison is fair by construction.

    method     tokens from            signal                           2x2 of the post
    sft        teacher / reference    labels (cross-entropy)           off-policy, dense
    rl         student                0/1 outcome reward (GRPO)        on-policy, sparse
    opd        student                -(log p_s - log p_t) per token   on-policy, dense
    opd-topk   student                reverse KL on the teacher's top-k on-policy, dense
    opd-exact  student                full-vocabulary reverse KL       on-policy, dense
    gkd        student (lmbda) or     generalized JSD(beta)            mixed
               teacher/reference
    controls   student                const-adv: a constant negative advantage per token (no teacher);
                                      self-distill: -(log p_s - log p_s(. | reference shown first))

``Trainer.make_batch`` and ``Trainer.loss`` are the methods; ``Trainer.train_step`` is one update;
``Trainer.run`` is the loop (evaluations, checkpoints, logging).
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import objectives
from .checkpoint import (
    CHECKPOINT,
    load_weights,
    read_state,
    read_tensors,
    save_checkpoint,
    write_json_atomic,
    write_text_atomic,
)
from .config import (  # noqa: F401 (the run's settings; `from labkit.train import TrainConfig` reads on)
    EVAL_SEED,
    METHODS,
    MIN_LR_RATIO,
    NEEDS_TEACHER,
    NEEDS_TEACHER_LOGITS,
    TrainConfig,
    evaluation_fractions,
    learning_rate_at,
)
from .encoding import decode_completions, encode_completions, encode_prompts
from .errors import LabkitError
from .evaluate import EVAL_SETS, evaluate, held_out_set, pack_correct
from .flops import ComputeLedger
from .models import check_compatible, save
from .sampling import sample
from .scoring import logprobs
from .task import Task


@dataclass
class StepBatch:
    """What one step trains on. B sequences, P prompt tokens, T completion tokens."""

    problems: list  # [B] the problem behind each sequence
    sequences: torch.Tensor  # [B, P+T]
    prompt_length: int
    mask: torch.Tensor  # [B, T] tokens that carry loss
    on_policy: bool  # were these the student's own samples?
    sampling_logprobs: torch.Tensor | None = None  # [B, T] student log-probs at sampling time
    teacher_logprobs: torch.Tensor | None = None  # [B, T] teacher log-probs of these tokens
    teacher_logits: torch.Tensor | None = None  # [B, T, V] teacher logits, only for methods that need them
    teacher_topk: tuple | None = None  # opd-topk: the teacher's top-k log-probs, ids [B, T, k], tail [B, T]
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


class Trainer:
    """Runs one method on one student; ``run()`` returns the history and writes metrics.jsonl.

    ``on_step(step, batch, row)`` is called after every step; returning True ends the run there, cleanly (the
    final model is saved as at the last step).
    """

    def __init__(
        self,
        config: TrainConfig,
        student,
        tokenizer,
        task: Task,
        teacher=None,
        out_dir=None,
        on_step: Callable[[int, StepBatch, dict], bool | None] | None = None,
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
        self.on_step, self.progress = on_step, progress
        self.max_new_tokens = config.max_new_tokens or task.max_completion_length
        self._check_context()
        self.ledger = ComputeLedger()
        self.reference = None
        if config.method == "rl" and config.kl_coef > 0:
            self.reference = copy.deepcopy(student).eval().requires_grad_(False)
        torch.manual_seed(config.seed)
        self.device = next(student.parameters()).device
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.rng = random.Random(config.seed)
        self.optimizer = torch.optim.AdamW(
            student.parameters(), lr=learning_rate_at(config, 0), weight_decay=0.0
        )
        self.history: list[dict] = []
        self.seconds = 0.0  # wall time of the charged work only (no monitoring, no evaluation)
        self.episodes = 0
        self.step = 0
        self.batch: StepBatch | None = None  # what the latest step trained on
        self.eval_problems = held_out_set(
            task, config.eval_n, config.eval_set
        )  # drawn once, used at every evaluation

    # -- where the tokens come from ---------------------------------------------------------
    def prompts(self, step: int) -> list:
        """The problems of a step, each repeated group_size times: the same for every method of one seed."""
        seed = self.config.seed * 1_000_003 + step
        problems = self.task.problems(self.config.batch_size, "train", seed=seed)
        return [p for p in problems for _ in range(self.config.group_size)]

    def student_samples(self, problems, generator=None, charge: bool = True) -> StepBatch:
        """The student writes a completion for each problem; the verifier rewards each."""
        prompts = encode_prompts(self.tokenizer, [p.prompt for p in problems])
        self.student.eval()
        rollout = sample(
            self.student, prompts, self.max_new_tokens, self.tokenizer, self.config.temperature,
            generator or self.generator,
        )  # fmt: skip
        self.student.train()
        if charge:
            length = rollout.sequences.shape[1]
            self.ledger.add_forward("student_sampling", self.student, rollout.forward_tokens, length / 2)
        texts = decode_completions(self.tokenizer, rollout.completion_ids, rollout.completion_mask)
        rewards = torch.tensor([self.task.reward(p, t) for p, t in zip(problems, texts)])
        return StepBatch(
            problems, rollout.sequences, rollout.prompt_length, rollout.completion_mask, True,
            sampling_logprobs=rollout.logprobs, rewards=rewards,
        )  # fmt: skip

    def off_policy_samples(self, problems) -> StepBatch:
        """Tokens the student did not write: the teacher's samples, or the task's reference solutions."""
        prompts = encode_prompts(self.tokenizer, [p.prompt for p in problems])
        if self.config.sft_data == "reference":
            solutions = [self.task.solution(p, self.rng) for p in problems]
            ids, mask = encode_completions(
                self.tokenizer, [s for s, _ in solutions], [m for _, m in solutions]
            )
            return StepBatch(problems, torch.cat([prompts, ids], dim=1), prompts.shape[1], mask, False)
        keep_logits = self.config.method in NEEDS_TEACHER_LOGITS  # gkd: the sampling pass is the scoring pass
        rollout = sample(self.teacher, prompts, self.max_new_tokens, self.tokenizer, 1.0, self.generator,
                         return_logits=keep_logits)  # fmt: skip
        length = rollout.sequences.shape[1]
        self.ledger.add_forward("teacher_sampling", self.teacher, rollout.forward_tokens, length / 2)
        batch = StepBatch(problems, rollout.sequences, rollout.prompt_length, rollout.completion_mask, False)
        if keep_logits:
            batch.teacher_logprobs, batch.teacher_logits = rollout.logprobs, rollout.logits
        return batch

    def score_with_teacher(self, batch: StepBatch, charge: bool = True) -> None:
        """One parallel teacher pass over the batch: its log-probs [B, T] of the batch's tokens, and its
        logits [B, T, V] only for methods that need the whole distribution (a 151K-token vocabulary makes them
        gigabytes).
        """
        c = self.config
        topk = c.method == "opd-topk"  # the teacher sends k (log-prob, id) pairs and its tail per position
        keep_logits = topk or c.method in NEEDS_TEACHER_LOGITS
        with torch.no_grad():
            scored = logprobs(
                self.teacher, self.tokenizer, batch.sequences, batch.prompt_length, logits=keep_logits
            )
        batch.teacher_logprobs, batch.teacher_logits = scored if keep_logits else (scored, None)
        if topk:
            batch.teacher_topk = objectives.teacher_topk(batch.teacher_logits, c.top_k)
            batch.teacher_logits = None
        if charge:
            self.ledger.add_pass("teacher_scoring", self.teacher, batch.sequences)

    def score_privileged(self, batch: StepBatch, charge: bool = True) -> None:
        """Self-distillation with privileged context: the student itself, shown a reference solution and a
        space before the prompt (left-filled with spaces to one length: the tokenizer is one token per
        character), scores the batch's completion tokens. Charged to the student (``self_scoring``)."""
        texts = [self.task.solution(p, self.rng)[0] + " " + p.prompt for p in batch.problems]
        width = max(len(t) for t in texts)
        prompts = encode_prompts(self.tokenizer, [" " * (width - len(t)) + t for t in texts])
        sequences = torch.cat([prompts, batch.sequences[:, batch.prompt_length :]], dim=1)
        with torch.no_grad():
            batch.teacher_logprobs = logprobs(self.student, self.tokenizer, sequences, prompts.shape[1])
        if charge:
            self.ledger.add_pass("self_scoring", self.student, sequences)

    # -- the methods ------------------------------------------------------------------------
    def make_batch(self, step: int) -> StepBatch:
        """Where each method's tokens come from, and what scores them."""
        c, problems = self.config, self.prompts(step)
        if c.method == "sft":
            return self.off_policy_samples(problems)
        if c.method == "gkd":
            on_policy = self.rng.random() < c.lmbda
            batch = self.student_samples(problems) if on_policy else self.off_policy_samples(problems)
            if batch.teacher_logits is None:  # teacher samples already carry the logits they were drawn from
                self.score_with_teacher(batch)
            return batch
        batch = self.student_samples(problems)
        if c.method == "rl":
            batch.advantages = self.rl_advantages(batch)
        elif c.method == "const-adv":  # the teacher-free control: every sampled token gets the same number
            batch.advantages = -c.kl_penalty_coef * batch.mask
        elif c.method == "self-distill":  # the student grades itself, shown the reference solution first
            self.score_privileged(batch)
            batch.advantages = self.opd_advantages(batch)
        else:  # opd, opd-topk, opd-exact: the teacher scores every token of the student's samples in one pass
            self.score_with_teacher(batch)
            if c.method == "opd":
                batch.advantages = self.opd_advantages(batch)
        return batch

    def rl_advantages(self, batch: StepBatch) -> torch.Tensor:
        """Per-token advantages [B, T] of GRPO: each sequence's group-normalised reward on all its tokens."""
        grouped = batch.rewards.view(self.config.batch_size, self.config.group_size)
        per_sequence = objectives.grpo_advantages(grouped).view(-1)  # [B]
        return per_sequence[:, None] * batch.mask

    def opd_advantages(self, batch: StepBatch) -> torch.Tensor:
        """Per-token advantages [B, T] of on-policy distillation: -(log p_student - log p_teacher)."""
        c = self.config
        return objectives.opd_advantages(
            batch.sampling_logprobs,
            batch.teacher_logprobs,
            batch.mask,
            c.kl_penalty_coef,
            c.kl_discount_factor,
        )

    def loss(self, batch: StepBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """The method's loss on the batch, and the student's logits [B, T, V] it was computed from."""
        c = self.config
        # one student distribution for every batch of a method: the tempered one for the
        # methods that sample it
        temperature = 1.0 if c.method == "sft" else c.temperature
        student_logprobs, logits = logprobs(
            self.student, self.tokenizer, batch.sequences, batch.prompt_length, temperature, logits=True
        )
        self.ledger.add_pass("student_train", self.student, batch.sequences, backward=True)
        if c.method == "sft":
            return objectives.sft_loss(student_logprobs, batch.mask), logits
        if c.method in ("rl", "opd", "const-adv", "self-distill"):
            loss = objectives.importance_sampling_loss(
                student_logprobs, batch.sampling_logprobs, batch.advantages, batch.mask
            )
            if self.reference is not None:
                loss = loss + c.kl_coef * self._reference_kl(batch, logits, temperature)
            return loss, logits
        if c.method == "opd-exact":
            divergence = objectives.reverse_kl(logits, batch.teacher_logits)
        elif c.method == "opd-topk":
            divergence = objectives.topk_reverse_kl(logits, *batch.teacher_topk, tail=c.topk_tail)
        else:  # gkd
            divergence = objectives.generalized_jsd(logits, batch.teacher_logits, c.beta)
        return objectives.masked_mean(divergence, batch.mask), logits

    def _reference_kl(self, batch: StepBatch, logits: torch.Tensor, temperature: float) -> torch.Tensor:
        """rl's penalty: the mean per-token KL(student || start policy), charged as a reference forward
        pass."""
        with torch.no_grad():
            _, reference_logits = logprobs(
                self.reference, self.tokenizer, batch.sequences, batch.prompt_length, temperature, logits=True
            )
        self.ledger.add_pass("reference", self.reference, batch.sequences)
        return objectives.masked_mean(objectives.reverse_kl(logits, reference_logits), batch.mask)

    # -- one update -------------------------------------------------------------------------
    def train_step(self, step: int) -> dict:
        """Set the learning rate, build the batch, compute the loss, update; return the step's metrics row."""
        c, self.step = self.config, step
        started = time.perf_counter()
        lr = learning_rate_at(c, step - 1, self.ledger.total)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = self.make_batch(step)
        loss, student_logits = self.loss(batch)
        watched = time.perf_counter()
        monitor = self.monitor(batch, student_logits.detach(), step)
        started += time.perf_counter() - watched  # watching is not part of the method's cost
        self._stop_if_not_finite(loss, step)
        self.update(loss)
        self.seconds += time.perf_counter() - started
        self.episodes += batch.sequences.shape[0]
        self.batch = batch
        row = {"step": step, "loss": loss.item(), "lr": lr, "tokens": int(batch.mask.sum()), **monitor}
        return {**row, **self._ledger_row()}

    def update(self, loss: torch.Tensor) -> None:
        """One AdamW step on the loss's gradient, clipped to max_grad_norm."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.student.parameters(), self.config.max_grad_norm)
        self.optimizer.step()

    # -- watching, evaluating, logging -------------------------------------------------------
    def monitor(self, batch: StepBatch, student_logits: torch.Tensor, step: int) -> dict:
        """reward, teacher_kl and entropy of the student *before* this step's update, on its own samples.

        On-policy methods are watched on the step's own samples (the logits the loss just computed, so it is
        free); the others on fresh student samples drawn with their own generator, so watching never changes
        training.
        Neither is charged to the ledger. teacher_kl is exact (full vocabulary), student and teacher at T=1.
        Off the ``monitor_every`` schedule only the free reward of on-policy samples is logged.
        """
        every, c = self.config.monitor_every, self.config
        free = self._reward_row(batch) if batch.on_policy else {}
        if not (every and (step - 1) % every == 0):
            return free
        with torch.no_grad():
            if not batch.on_policy:
                problems = self.task.problems(c.monitor_size, "train", seed=-(c.seed * 1_000_003 + step) - 1)
                generator = torch.Generator(device=self.device).manual_seed(c.seed * 7919 + step)
                batch = self.student_samples(problems, generator, charge=False)
                student_logits = None
            if student_logits is None or c.temperature != 1.0:
                _, student_logits = logprobs(
                    self.student, self.tokenizer, batch.sequences, batch.prompt_length, logits=True
                )
            entropy = objectives.masked_mean(objectives.entropy(student_logits), batch.mask)
            reward = free or {"reward": float(batch.rewards.mean())}  # fresh samples: not in groups
            row = {**reward, "entropy": float(entropy)}
            if self.teacher is not None:
                teacher_logits = batch.teacher_logits if batch.on_policy else None
                if teacher_logits is None:
                    _, teacher_logits = logprobs(
                        self.teacher, self.tokenizer, batch.sequences, batch.prompt_length, logits=True
                    )
                kl = objectives.reverse_kl(student_logits, teacher_logits)
                row["teacher_kl"] = float(objectives.masked_mean(kl, batch.mask))
        return row

    def _reward_row(self, batch: StepBatch) -> dict:
        """The mean reward of a step's own student samples and, with groups, the fraction of groups whose
        rewards are all equal (``silent_groups``: no reward variance, so no RL signal from that prompt)."""
        row = {"reward": float(batch.rewards.mean())}
        if self.config.group_size > 1:
            groups = batch.rewards.view(-1, self.config.group_size)
            row["silent_groups"] = float((groups.max(1).values == groups.min(1).values).float().mean())
        return row

    def evaluation(self) -> dict:
        """Held-out accuracy on the config's evaluation set (the same problems for every run and method), with
        the per-problem outcomes packed (``eval_correct``) so intervals can resample problems; greedy too if
        asked."""
        c = self.config
        problems, seed = self.eval_problems, EVAL_SETS[c.eval_set]
        row = {}
        for name, temperature in [("eval", c.eval_temperature)] + [("greedy", 0.0)] * c.eval_greedy:
            result = evaluate(self.student, self.tokenizer, self.task, seed=seed, temperature=temperature,
                              progress=False, problems=problems)  # fmt: skip
            key = "eval_accuracy" if name == "eval" else "greedy_accuracy"
            row[key], row[f"{name}_correct"] = result.accuracy, pack_correct(result.rewards)
        return row

    def _progress(self, row: dict) -> float:
        """How far through the run a history row is: FLOPs over the budget, or steps over steps."""
        c = self.config
        return row["flops"] / c.flop_budget if c.flop_budget else row["step"] / c.steps

    def evaluation_due(self, row: dict) -> bool:
        """Whether the step of ``row`` crossed one of the log-spaced evaluation points (or ended the run)."""
        now = self._progress(row)
        if row["step"] == self.config.steps or now >= 1.0:
            return True
        first = self._progress(self.history[1]) if len(self.history) > 1 else now
        before = self._progress(self.history[-1]) if row["step"] > 1 else 0.0
        return any(before < point <= now for point in evaluation_fractions(first, self.config.eval_points))

    def _write(self, row: dict) -> None:
        self.history.append(row)
        if self.out_dir is not None:
            with open(self.out_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")

    def _ledger_row(self) -> dict:
        return {
            "flops": self.ledger.total, "teacher_flops": self.ledger.teacher,
            "student_flops": self.ledger.student, "seconds": self.seconds, "episodes": self.episodes,
        }  # fmt: skip

    # -- guards -----------------------------------------------------------------------------
    def _check_context(self) -> None:
        prompt = self.task.problems(1, "train", seed=self.config.seed)[0].prompt
        prompt_tokens = len(self.tokenizer(prompt)["input_ids"])
        context = getattr(self.student.config, "max_position_embeddings", None)
        if context is not None and self.max_new_tokens + prompt_tokens > context:
            raise LabkitError(
                f"prompts of {prompt_tokens} tokens plus max_new_tokens={self.max_new_tokens} exceed the "
                f"student's context of {context}; lower max_new_tokens or use a model with a longer context"
            )

    def _stop_if_not_finite(self, loss: torch.Tensor, step: int) -> None:
        if torch.isfinite(loss):
            return
        kept = ""
        state = self.out_dir / CHECKPOINT / "trainer_state.json" if self.out_dir is not None else None
        if state is not None and state.exists():
            saved = json.loads(state.read_text())["step"]
            kept = f" The last good checkpoint (step {saved}) is in {self.out_dir / CHECKPOINT}."
        raise LabkitError(
            f"the loss became {loss.item()} at step {step} ({self.config.method}); training stopped.{kept} "
            f"Lower learning_rate (now {self.config.learning_rate:g}) or raise warmup_steps"
        )

    def _check_budget(self, row: dict) -> None:
        """A budget below one step's cost is refused after step 1; a run that hit its step cap first is
        too."""
        c = self.config
        if not c.flop_budget:
            return
        if row["step"] == 1 and row["flops"] > c.flop_budget:
            raise LabkitError(
                f"the FLOP budget {c.flop_budget:.3g} is below the cost of one {c.method} step "
                f"({row['flops']:.3g} FLOPs); raise the budget or lower batch_size/group_size"
            )
        if row["step"] == c.steps and row["flops"] < c.flop_budget:
            raise LabkitError(
                f"{c.method} reached its step cap ({c.steps}) after {row['flops']:.3g} of the "
                f"{c.flop_budget:.3g} FLOP budget; raise steps or lower the budget"
            )

    # -- saving and resuming ----------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything a resumed run needs besides the student's weights. ``tensors``: AdamW's moments
        (``state.{param}.{name}``) and the sampler's RNG state; the rest is JSON: step, clocks, ledger, the
        Python RNG and the config."""
        tensors = {
            f"state.{index}.{name}": torch.as_tensor(value).detach().clone()
            for index, moments in self.optimizer.state_dict()["state"].items()
            for name, value in moments.items()
        }
        tensors["sampler_generator_state"] = self.generator.get_state()  # a copy already
        version, internal, gauss = self.rng.getstate()
        return {
            "tensors": tensors,
            "step": self.step,
            "seconds": self.seconds,
            "episodes": self.episodes,
            "ledger": asdict(self.ledger),
            "python_rng": [version, list(internal), gauss],
            "config": asdict(self.config),
        }

    def refuse_other_settings(self, saved: dict, source: str = "the saved state") -> None:
        """Raise a LabkitError naming each setting of ``saved`` (a config dict) that differs from this run."""
        current = asdict(self.config)
        changed = [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in current.items() if saved.get(k) != v]
        if changed:
            raise LabkitError(
                f"{source} was made with other settings ({'; '.join(changed)}); "
                "resume with the same settings, or train into a new --out folder"
            )

    def load_state_dict(self, state: dict, source: str = "the saved state") -> None:
        """Restore what :meth:`state_dict` returned; a state made with other settings is refused first."""
        self.refuse_other_settings(state["config"], source)
        tensors = dict(state["tensors"])
        self.generator.set_state(tensors.pop("sampler_generator_state"))
        moments: dict[int, dict] = {}
        for key, value in tensors.items():
            _, index, name = key.split(".", 2)
            moments.setdefault(int(index), {})[name] = value
        groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": moments, "param_groups": groups})
        version, internal, gauss = state["python_rng"]
        self.rng.setstate((version, tuple(internal), gauss))
        for f in fields(self.ledger):
            setattr(self.ledger, f.name, state["ledger"][f.name])
        self.seconds, self.episodes, self.step = state["seconds"], state["episodes"], state["step"]

    def save_checkpoint(self) -> None:
        extra = {"task": asdict(self.task), "train": asdict(self.config), "step": self.step}
        save_checkpoint(self.out_dir / CHECKPOINT, self.student, self.tokenizer, self.state_dict(), extra)

    def _resume(self) -> int:
        """Restore OUT/checkpoint (state first, then weights) and return the step it was taken at."""
        folder = self.out_dir / CHECKPOINT
        fix = (
            f"nothing in {self.out_dir} was changed: restore {folder} from a copy, "
            "or train without --resume into a new --out folder"
        )
        source = f"the checkpoint in {folder}"
        state = read_state(folder)
        self.refuse_other_settings(state["config"], source)  # before the files are even opened
        self.load_state_dict({**state, "tensors": read_tensors(folder, fix)}, source)
        load_weights(folder, self.student)
        return self.step

    # -- the loop ---------------------------------------------------------------------------
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
        step = self._resume()
        lines = metrics.read_text().splitlines() if metrics.exists() else []
        rows = [json.loads(line) for line in lines if line.strip()]
        self.history = [row for row in rows if row["step"] <= step]  # drop what came after the checkpoint
        write_text_atomic(metrics, "".join(json.dumps(row) + "\n" for row in self.history))
        return step

    def run(self, resume: bool = False) -> TrainResult:
        """Train to ``config.steps`` (or the FLOP budget); with ``resume`` continue from OUT/checkpoint
        exactly as if never stopped."""
        c = self.config
        done = self._start(resume)
        self.student.train()
        if done == 0:
            self._write({"step": 0, **self.evaluation(), **self._ledger_row()})
        bar = tqdm(
            range(done + 1, c.steps + 1),
            desc=c.method,
            disable=not self.progress,
            initial=done,
            total=c.steps,
        )
        for step in bar:
            row = self.train_step(step)
            self._check_budget(row)
            if self.evaluation_due(row):
                row.update(self.evaluation())
            self._write(row)
            if self.out_dir is not None and c.save_every and step % c.save_every == 0:
                self.save_checkpoint()
            stop = self.on_step is not None and self.on_step(step, self.batch, row) is True
            bar.set_postfix({k: f"{row[k]:.3g}" for k in ("loss", "reward", "teacher_kl") if k in row})
            if stop or (c.flop_budget and row["flops"] >= c.flop_budget):
                break
        if self.out_dir is not None:
            extra = {
                "task": asdict(self.task),
                "train": asdict(c),
                # the last evaluation: an early stop (on_step) may end the run between two of them
                "final_accuracy": [r for r in self.history if "eval_accuracy" in r][-1]["eval_accuracy"],
            }
            save(self.student, self.tokenizer, self.out_dir / "final", extra=extra)
        return TrainResult(self.history, self.ledger, c, self.out_dir)


def train(
    config: TrainConfig,
    student,
    tokenizer,
    task: Task,
    teacher=None,
    out_dir=None,
    resume: bool = False,
    **kwargs,
) -> TrainResult:
    """Train ``student`` in place with ``config.method``; see :class:`Trainer`."""
    return Trainer(config, student, tokenizer, task, teacher, out_dir, **kwargs).run(resume=resume)
