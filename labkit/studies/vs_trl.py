"""labkit's on-policy distillation step against TRL's DistillationTrainer on identical work, in one run
(benchmarks/vs_trl.py runs it and writes benchmarks/results/vs_trl.json; docs/speed.md quotes it).

TRL 1.16's DistillationTrainer is always on-policy: the student samples with transformers' ``generate``,
then a student and a teacher forward pass feed a chunked generalized JSD over the whole vocabulary
(``beta=1``: reverse KL). labkit's ``opd`` step samples with its own decoder, scores the sampled tokens with
one teacher pass and takes an importance-sampling policy-gradient step on ``-(log p_s - log p_t)``;
``opd-exact`` is the full-vocabulary reverse KL, TRL's objective itself. Both labkit methods are timed; the
headline ratio uses ``opd``.

Identical work: the same student and teacher (each trainer loads its own copies), the same prompts in the
same order (TRL's dataset is labkit's prompts of each step, unshuffled), ``batch_size`` prompts x
``group_size`` samples per step (DistillationTrainer draws one completion per dataset row, so each prompt is
a row ``group_size`` times and ``per_device_train_batch_size = batch_size * group_size``), completions of
exactly ``max_new_tokens`` tokens (labkit samples with ``eos_token_id=-1``, TRL generates with
``min_new_tokens`` = ``max_completion_length``; both are checked every step), float32 (TRL's ``bf16``
default is turned off), temperature 1 without top-k or top-p, gradient clipping at 1, AdamW, a constant
learning rate, one torch thread count. labkit's uncharged monitoring is off (``monitor_every=0``): TRL
logs the entropy its loss computes anyway and nothing else per step; the step's verifier rewards stay in.

TRL runs its own ``train()`` loop; a callback at the end of each of its optimizer steps runs one step of
each labkit trainer, so the trainers alternate step by step. A TRL step is the wall time from the end of the
previous callback to the end of the step: all its loop does per step (batch, generation, loss, backward,
optimizer). TRL is timed twice: with gradient checkpointing off (the same work as labkit: the headline
ratio) and with TRL's default (on: the backward recomputes the forward). Medians over ``--steps`` steps
after ``--warmup``.

``run`` returns what vs_trl.json holds: seconds per step (median and every step) of each trainer, sampled
tokens per step, TRL's settings as used, the machine, and ``speedup_vs_trl_distillation`` (TRL's median /
labkit's). TRL (and peft) are optional: they are imported only inside the functions that use them.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from unittest import mock

import torch

from .. import train
from ..errors import LabkitError
from ..evaluate import task_of
from ..models import data_dir, load
from ..sampling import SpecialTokens
from ..train import TrainConfig, Trainer
from .workers import machine

ROOT = Path(__file__).resolve().parents[2]  # the repository: model folders inside it are shown relative to it
MISSING_TRL = (
    'benchmarks/vs_trl.py needs TRL (an optional extra): pip install -e ".[bench]" '
    "(trl>=1.16 and peft; the lab itself never needs them)"
)
LABKIT_METHODS = ("opd", "opd-exact")


@dataclass
class Settings:
    """The benchmark's settings (benchmarks/vs_trl.py's options, which default to these)."""

    student: str = field(default_factory=lambda: str(data_dir() / "student"))  # HF folder
    teacher: str = field(default_factory=lambda: str(data_dir() / "teacher"))
    steps: int = 20  # timed steps of each trainer (after the warm-up)
    warmup: int = 3  # steps of each trainer run first and not timed
    batch_size: int = 16  # prompts per step
    group_size: int = 4  # samples per prompt
    max_new_tokens: int = 0  # tokens per sample (0: the task's bound)
    threads: int = 0  # torch threads (0: torch's default here)
    learning_rate: float = 1e-5
    seed: int = 0


def run(args: Settings, labkit_only: bool = False) -> dict:
    """Time labkit alone (``labkit_only``: a smoke test, no TRL) or alternating with TRL, every labkit step
    sampling fixed-length completions; the results as vs_trl.json holds them. Without TRL installed (and not
    ``labkit_only``) it exits with the extra to install, before any work."""
    trl = None if labkit_only else require_trl()
    args = replace(args, threads=args.threads or torch.get_num_threads())
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    # every labkit step samples fixed-length completions (undone on return: tests call this in-process)
    with mock.patch.object(train, "sample", fixed_length(train.sample)):
        return measure(args, trl)


def shown(path: str) -> str:
    """A model folder as the results show it: relative to the repository when inside it."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else path


def fixed_length(sample):
    """labkit's sampler with eos switched off: every completion is exactly max_new_tokens long."""

    def sample_fixed_length(model, prompt_ids, max_new_tokens, tokenizer, *args, **kwargs):
        never_stop = SpecialTokens(
            eos_token_id=-1, pad_token_id=tokenizer.pad_token_id, vocab_size=len(tokenizer)
        )
        return sample(model, prompt_ids, max_new_tokens, never_stop, *args, **kwargs)

    return sample_fixed_length


def labkit_trainers(args, task, new_tokens: int) -> dict:
    """One Trainer per labkit method, each with its own student and teacher loaded from disk."""
    trainers = {}
    for method in LABKIT_METHODS:
        teacher, _ = load(args.teacher)
        student, tokenizer = load(args.student)
        config = TrainConfig(
            method=method, steps=args.warmup + args.steps, seed=args.seed, learning_rate=args.learning_rate,
            warmup_steps=0, lr_schedule="constant", batch_size=args.batch_size, group_size=args.group_size,
            max_new_tokens=new_tokens, monitor_every=0, eval_n=1,
        )  # fmt: skip
        trainers[method] = Trainer(config, student, tokenizer, task, teacher=teacher, progress=False)
    return trainers


def labkit_stepper(trainer: Trainer, tokens_per_step: int):
    """A function that runs the trainer's next step and returns its wall seconds."""
    step = 0

    def run() -> float:
        nonlocal step
        step += 1
        start = time.perf_counter()
        row = trainer.train_step(step)
        seconds = time.perf_counter() - start
        if row["tokens"] != tokens_per_step:
            raise RuntimeError(f"labkit step sampled {row['tokens']} tokens, expected {tokens_per_step}")
        return seconds

    return run


def require_trl():
    """The trl module, or an exit that names the extra to install."""
    try:
        import trl
    except ImportError:
        raise LabkitError(MISSING_TRL) from None
    return trl


def trl_run(args, task, new_tokens: int, tokens_per_step: int, gradient_checkpointing: bool) -> dict:
    """TRL's own train() loop with labkit's trainers stepped in its step-end callback; seconds of each."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import DistillationConfig, DistillationTrainer

    trainers = labkit_trainers(args, task, new_tokens)
    labkit_steps = {method: labkit_stepper(t, tokens_per_step) for method, t in trainers.items()}
    # TRL's rows: labkit's problems of each step, each prompt group_size times, in order
    rows = [
        p.prompt for step in range(1, args.warmup + args.steps + 1) for p in trainers["opd"].prompts(step)
    ]

    class Alternate(TrainerCallback):
        """At the end of each TRL step: record its seconds and completion lengths, then step each labkit
        trainer."""

        def __init__(self):
            self.trl, self.labkit = [], {method: [] for method in labkit_steps}
            self.lengths, self.trainer, self.mark = [], None, 0.0

        def on_train_begin(self, *_, **__):
            self.mark = time.perf_counter()

        def on_step_end(self, *_, **__):
            self.trl.append(time.perf_counter() - self.mark)
            metrics = self.trainer._metrics["train"]  # read before TRL's log() clears it
            self.lengths.append(
                (metrics["completions/min_length"][-1], metrics["completions/max_length"][-1])
            )
            for method, step in labkit_steps.items():
                self.labkit[method].append(step())
            self.mark = time.perf_counter()

    with tempfile.TemporaryDirectory() as scratch:
        settings = dict(
            output_dir=scratch, max_steps=args.warmup + args.steps,
            per_device_train_batch_size=args.batch_size * args.group_size, gradient_accumulation_steps=1,
            learning_rate=args.learning_rate, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0,
            max_grad_norm=1.0, beta=1.0, temperature=1.0, top_k=0, top_p=1.0,
            max_completion_length=new_tokens, generation_kwargs={"min_new_tokens": new_tokens},
            gradient_checkpointing=gradient_checkpointing,
            bf16=False, fp16=False, use_cpu=True, report_to="none", save_strategy="no", eval_strategy="no",
            logging_strategy="no", disable_tqdm=True, shuffle_dataset=False, dataloader_num_workers=0,
            seed=args.seed,
        )  # fmt: skip
        config = DistillationConfig(**settings)
        student, tokenizer = load(args.student)
        teacher, _ = load(args.teacher)
        callback = Alternate()
        trainer = DistillationTrainer(
            model=student, teacher_model=teacher, args=config, processing_class=tokenizer,
            train_dataset=Dataset.from_dict({"prompt": rows}), callbacks=[callback],
        )  # fmt: skip
        callback.trainer = trainer
        torch.set_num_threads(args.threads)  # whatever the Trainer's set-up did, every trainer gets the same
        trainer.train()
    if any(lengths != (new_tokens, new_tokens) for lengths in callback.lengths):
        raise RuntimeError(f"TRL completions were not all {new_tokens} tokens: {callback.lengths}")
    settings = {k: v for k, v in settings.items() if k != "output_dir"}
    settings["optim"] = getattr(config.optim, "value", config.optim)
    seconds = {"trl": summary(callback.trl, args.warmup)}
    seconds |= {labkit_key(m): summary(s, args.warmup) for m, s in callback.labkit.items()}
    return {"settings": settings, "seconds": seconds, "threads": torch.get_num_threads()}


def labkit_key(method: str) -> str:
    return "labkit_" + method.replace("-", "_")


def summary(seconds: list[float], warmup: int) -> dict:
    timed = seconds[warmup:]
    return {"median": statistics.median(timed), "per_step": timed, "warmup": seconds[:warmup]}


def measure(args, trl) -> dict:
    """Time labkit alone (``trl`` None) or alternating with TRL; the results as vs_trl.json holds them."""
    task = task_of(args.student)
    new_tokens = args.max_new_tokens or task.max_completion_length
    tokens_per_step = args.batch_size * args.group_size * new_tokens
    settings = {
        "student": shown(args.student), "teacher": shown(args.teacher), "batch_size": args.batch_size,
        "group_size": args.group_size, "max_new_tokens": new_tokens, "steps": args.steps,
        "warmup": args.warmup, "learning_rate": args.learning_rate, "dtype": "float32",
        "threads": args.threads,
    }  # fmt: skip
    results = {"machine": machine(), "settings": settings, "tokens_per_step": tokens_per_step}
    if trl is None:
        trainers = labkit_trainers(args, task, new_tokens)
        steps = {m: labkit_stepper(t, tokens_per_step) for m, t in trainers.items()}
        seconds = {m: [step() for _ in range(args.warmup + args.steps)] for m, step in steps.items()}
        results["labkit_only"] = {labkit_key(m): summary(s, args.warmup) for m, s in seconds.items()}
    else:
        import transformers

        same_work = trl_run(args, task, new_tokens, tokens_per_step, gradient_checkpointing=False)
        defaults = trl_run(args, task, new_tokens, tokens_per_step, gradient_checkpointing=True)
        results["trl"] = {
            "version": trl.__version__, "transformers": transformers.__version__,
            "gradient_checkpointing_default": trl.DistillationConfig.gradient_checkpointing,
            "bf16_default": "on unless fp16 is set (turned off here: float32)",
        }  # fmt: skip
        results["runs"] = {"trl_gradient_checkpointing_off": same_work, "trl_defaults": defaults}

        def ratio(run: dict, labkit_method: str = "opd") -> float:
            return run["seconds"]["trl"]["median"] / run["seconds"][labkit_key(labkit_method)]["median"]

        results["speedup_vs_trl_distillation"] = ratio(same_work)
        results["speedup_vs_trl_distillation_exact"] = ratio(same_work, "opd-exact")
        results["speedup_vs_trl_distillation_defaults"] = ratio(defaults)
    return results
