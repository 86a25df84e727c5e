"""Notebook 07's real-size path, proven without a download: random weights in the real configs of its pair
(benchmarks/real_size.py runs it and writes benchmarks/results/real_size.json; notebook 07 and docs/speed.md
quote it).

The configs are those of the hub's config.json of notebook 07's default pair, Qwen/Qwen3-0.6B-Base (student)
and Qwen/Qwen3-1.7B (teacher), copied into ``CONFIGS`` below (checked against public copies of both files);
no weights come from a hub. ``build_tokenizer`` makes a local word-level tokenizer that splits text with the
pre-tokenizer pattern of Qwen2/Qwen3's tokenizer, padded with unused tokens to Qwen3's 151,669; ``build``
saves random-weight models of both configs (``scaled_config`` shrinks them); ``measure`` runs 07's cells
with one memory option and times each phase of each OPD step; ``analytic_memory`` gives the bytes of
weights, gradients, AdamW state and teacher of each setup from the configs.
"""

from __future__ import annotations

import resource
import time
from collections import defaultdict
from pathlib import Path

import torch

GIB = 2**30

COMMON = dict(num_attention_heads=16, num_key_value_heads=8, head_dim=128, vocab_size=151_936,
              tie_word_embeddings=True, rope_theta=1_000_000.0, rms_norm_eps=1e-6)  # fmt: skip
CONFIGS = {  # from the hub's config.json of each model (model_type "qwen3", Qwen3ForCausalLM)
    "student": dict(name="Qwen/Qwen3-0.6B-Base", hidden_size=1024, intermediate_size=3072,
                    num_hidden_layers=28, max_position_embeddings=32_768, **COMMON),
    "teacher": dict(name="Qwen/Qwen3-1.7B", hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
                    max_position_embeddings=40_960, **COMMON),
}  # fmt: skip
TOKENIZER_SIZE = 151_669  # len() of Qwen3's tokenizer: 151,643 BPE tokens and 26 special ones
QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
    r"|\s+(?!\S)|\s+"
)  # Qwen2/Qwen3 tokenizer.json's pre-tokenizer
OPTIONS = {  # the memory options of notebook 07, one process each
    "fp32": {},  # 07 on a CPU: float32 student and teacher, full fine-tuning
    "bf16_teacher": {"teacher_dtype": "bfloat16"},
    "gradient_checkpointing": {"gradient_checkpointing": True},
    "lora": {"lora_rank": 16},
    "lora_bf16_teacher_checkpointing": {
        "lora_rank": 16, "teacher_dtype": "bfloat16", "gradient_checkpointing": True,
    },
}  # fmt: skip
LORA_RANK = 16  # the rank of the analytic table and of the lora options
GROUP_SIZE, NEW_TOKENS = 4, 48  # 07: batch_size=1 prompt, group_size=4 samples, max_new_tokens=48


# -- the models and tokenizer -----------------------------------------------------------------------
def scaled_config(role: str, scale: float) -> dict:
    """``CONFIGS[role]`` with layers, widths and vocabulary times ``scale`` (head counts kept)."""
    config = {k: v for k, v in CONFIGS[role].items() if k != "name"}
    if scale == 1.0:
        return config
    multiple = lambda n, m: max(m, round(n * scale / m) * m)
    config.update(
        num_hidden_layers=max(1, round(config["num_hidden_layers"] * scale)),
        hidden_size=multiple(config["hidden_size"], 16),
        intermediate_size=multiple(config["intermediate_size"], 16),
        head_dim=multiple(config["head_dim"], 8), vocab_size=multiple(config["vocab_size"], 64),
    )  # fmt: skip
    return config


def build_tokenizer(size: int):
    """A word-level tokenizer over the word problems' pieces (Qwen's pre-tokenizer split), ``size`` tokens."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from .wordproblems import WordProblemTask

    split = pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated")
    task = WordProblemTask()
    texts = [
        p.prompt + task.solution(p)[0] for s in ("train", "held_out") for p in task.problems(2000, s, seed=0)
    ]
    pieces = sorted({piece for text in texts for piece, _ in split.pre_tokenize_str(text)})
    special = ["<|endoftext|>", "<unk>"]
    unused = [f"<|unused_{i}|>" for i in range(size - len(pieces) - len(special))]
    backend = Tokenizer(
        models.WordLevel({t: i for i, t in enumerate(pieces + unused + special)}, unk_token="<unk>")
    )
    backend.pre_tokenizer, backend.decoder = split, decoders.Fuse()
    # like Qwen3-0.6B-Base's: no bos token; <|endoftext|> ends a completion and pads
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|endoftext|>", unk_token="<unk>",
        clean_up_tokenization_spaces=False,
    )  # fmt: skip


def build(folder: Path, scale: float) -> None:
    """Random-weight student and teacher (bfloat16 on disk, like the hub's) and the tokenizer: HF folders."""
    from transformers import AutoModelForCausalLM, Qwen3Config

    from ..models import save

    vocab = scaled_config("student", scale)["vocab_size"]
    tokenizer = build_tokenizer(vocab - (CONFIGS["student"]["vocab_size"] - TOKENIZER_SIZE))
    for role in ("student", "teacher"):
        eos = tokenizer.eos_token_id
        config = Qwen3Config(
            **scaled_config(role, scale), bos_token_id=None, eos_token_id=eos, pad_token_id=eos
        )
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        save(
            model,
            tokenizer,
            folder / role,
            extra={"real_size": {"config_of": CONFIGS[role]["name"], "scale": scale}},
        )
        del model


# -- measuring 07's path ------------------------------------------------------------------------------
def peak_gib() -> float:
    """This process's peak resident memory so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


PHASES = {  # Trainer method -> phase of an OPD step
    "student_samples": "sampling",
    "score_with_teacher": "teacher_scoring",
    "loss": "student_forward_and_loss",
    "monitor": "monitor",
    "update": "backward_and_adamw",
}


def instrument(trainer, seconds: dict, peaks: dict) -> None:
    """Wrap the Trainer's phases so that train_step, unchanged, records seconds and peak memory of each."""

    def timed(call, phase):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                seconds[phase] += time.perf_counter() - start
                peaks[phase] = peak_gib()

        return wrapper

    for method, phase in PHASES.items():
        setattr(trainer, method, timed(getattr(trainer, method), phase))


def measure(folder: Path, option: str, steps: int, eval_n: int) -> dict:
    """Notebook 07's cells with one memory option: seconds and peak memory of each phase."""
    from ..encoding import encode_prompts
    from ..evaluate import evaluate
    from ..fastdecode import unsupported_reason
    from ..models import check_compatible, count_parameters, load, prepare_student, resolve_dtype
    from ..sampling import sample
    from ..train import TrainConfig, Trainer
    from .pertoken import score_tokens
    from .wordproblems import WordProblemTask

    settings = {"teacher_dtype": "auto", "lora_rank": 0, "gradient_checkpointing": False} | OPTIONS[option]
    row = {"option": option, "settings": settings, "seconds": {}, "peak_gib": {}}
    start = time.perf_counter()
    teacher_dtype = resolve_dtype(settings["teacher_dtype"], "cpu", auto=torch.float32)
    teacher, teacher_tokenizer = load(folder / "teacher", dtype=teacher_dtype)
    student, tokenizer = load(folder / "student", dtype=torch.float32)
    check_compatible(tokenizer, teacher_tokenizer, student, teacher)
    student = prepare_student(student, settings["lora_rank"], settings["gradient_checkpointing"])
    row["seconds"]["load"], row["peak_gib"]["load"] = time.perf_counter() - start, peak_gib()
    row["parameters"] = {"student": count_parameters(student), "teacher": count_parameters(teacher)}
    row["parameters"]["student_trainable"] = sum(p.numel() for p in student.parameters() if p.requires_grad)

    task = WordProblemTask()  # cell 9: the teacher grades a student answer, token by token
    start = time.perf_counter()
    prompt_ids = encode_prompts(tokenizer, [task.problems(3, "held_out", seed=0)[0].prompt])
    rollout = sample(
        student, prompt_ids, task.max_completion_length, tokenizer, 1.0, torch.Generator().manual_seed(0)
    )
    scores = score_tokens(student, teacher, tokenizer, rollout.sequences, rollout.prompt_length,
                          rollout.completion_mask)[0]  # fmt: skip
    row["seconds"]["per_token_view"], row["peak_gib"]["per_token_view"] = (
        time.perf_counter() - start,
        peak_gib(),
    )
    row["prompt_tokens"], row["scored_tokens"] = prompt_ids.shape[1], len(scores.tokens)

    config = TrainConfig(method="opd", steps=steps, seed=0, batch_size=1, group_size=GROUP_SIZE,
                         learning_rate=1e-6, warmup_steps=1, eval_n=max(1, eval_n), eval_points=1,
                         max_new_tokens=task.max_completion_length)  # fmt: skip  # cell 11's settings
    trainer = Trainer(config, student, tokenizer, task, teacher=teacher, teacher_tokenizer=teacher_tokenizer,
                      progress=False)  # fmt: skip
    row["steps"] = []
    for step in range(1, steps + 1):
        seconds, peaks = defaultdict(float), {}
        instrument(trainer, seconds, peaks)
        start = time.perf_counter()
        metrics = trainer.train_step(step)
        total = time.perf_counter() - start
        length = trainer.batch.sequences.shape[1]
        row["steps"].append({"seconds": {**seconds, "total": total}, "peak_gib": peaks,
                             "tokens": metrics["tokens"], "sequence_length": length})  # fmt: skip
        for method in PHASES:  # unwrap before the next step wraps again
            delattr(trainer, method)
    if eval_n:  # cell 11's evaluations (100 problems each at full settings)
        for name, model in (("evaluate_student", student), ("evaluate_teacher", teacher)):
            start = time.perf_counter()
            evaluate(model, tokenizer, task, n=eval_n, seed=0, temperature=1.0, batch_size=16)
            row["seconds"][name], row["peak_gib"][name] = time.perf_counter() - start, peak_gib()
    later = row["steps"][1:] or row["steps"]  # the first step warms up, when there are more
    row["seconds_per_step"] = sorted(s["seconds"]["total"] for s in later)[len(later) // 2]
    row["peak_gib"]["process"] = peak_gib()
    row["threads"] = torch.get_num_threads()
    model = student.get_base_model() if settings["lora_rank"] else student
    row["fast_sampler"] = unsupported_reason(model) or "used"
    return row


# -- memory from the configs ------------------------------------------------------------------------
def parameter_counts(lora_rank: int = LORA_RANK) -> dict:
    """Exact parameter counts of both real configs (models built on the meta device: no memory), and of the
    student's LoRA adapters on every attention and MLP projection."""
    from transformers import AutoModelForCausalLM, Qwen3Config

    from ..models import LORA_TARGETS

    counts = {}
    for role in ("student", "teacher"):
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(Qwen3Config(**scaled_config(role, 1.0)))
        counts[role] = sum(p.numel() for p in model.parameters())
        if role == "student":
            linear = [m for n, m in model.named_modules() if n.rsplit(".", 1)[-1] in LORA_TARGETS]
            counts["student_lora"] = sum(lora_rank * (m.in_features + m.out_features) for m in linear)
    return counts


def analytic_memory() -> dict:
    """GiB of weights, gradients and AdamW state (two moments per trained parameter, in its dtype) and the
    teacher, for each way of fitting 07's pair; activations and logits come on top (measured)."""
    counts = parameter_counts()
    student, teacher, lora = counts["student"], counts["teacher"], counts["student_lora"]
    # name: (bytes per student weight, trained parameters, bytes per trained one, bytes per teacher weight)
    setups = {
        "full fine-tuning, float32 student, float32 teacher (07 on a CPU)": (4, student, 4, 4),
        "full fine-tuning, float32 student, bfloat16 teacher (07's default on a GPU)": (4, student, 4, 2),
        "full fine-tuning, bfloat16 student and teacher": (2, student, 2, 2),
        f"LoRA r={LORA_RANK}, float32 student, bfloat16 teacher": (4, lora, 4, 2),
        f"LoRA r={LORA_RANK}, bfloat16 student, bfloat16 teacher": (2, lora, 4, 2),
    }
    rows = {}
    for name, (student_bytes, trained, trained_bytes, teacher_bytes) in setups.items():
        adapters = trained if trained == lora else 0  # LoRA adds its adapters' weights to the student's
        row = {
            "trainable_parameters": trained,
            "student_weights_gib": (student * student_bytes + adapters * trained_bytes) / GIB,
            "gradients_gib": trained * trained_bytes / GIB,
            "adamw_state_gib": 2 * trained * trained_bytes / GIB,
            "teacher_weights_gib": teacher * teacher_bytes / GIB,
        }
        row["total_gib"] = sum(v for k, v in row.items() if k.endswith("_gib"))
        rows[name] = row
    return {"parameters": counts, "lora_rank": LORA_RANK, "setups": rows}
