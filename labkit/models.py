"""Teacher and student: `transformers` causal LMs built from a config, saved in HF format.

The lab's models are ordinary Llama-architecture models. They load through the
same ``from_pretrained`` path a user would use for a hub model, so everything
in the lab works unchanged on real checkpoints (see notebook 07).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM
from transformers.utils import logging as hf_logging

from .errors import LabkitError


@dataclass(frozen=True)
class ModelSize:
    """The shape of a Llama-style model."""

    n_layer: int
    """number of transformer blocks"""
    d_model: int
    """width of the residual stream"""
    n_head: int
    """attention heads (d_model must divide evenly)"""
    d_mlp: int
    """width of the gated MLP"""


TEACHER_SIZE = ModelSize(n_layer=4, d_model=128, n_head=4, d_mlp=512)  # ~1.05M parameters
STUDENT_SIZE = ModelSize(n_layer=2, d_model=64, n_head=4, d_mlp=192)  # ~108K parameters


def build_model(size: ModelSize, tokenizer, max_positions: int = 256, seed: int = 0) -> LlamaForCausalLM:
    """A freshly initialised Llama causal LM for ``tokenizer``'s vocabulary."""
    if size.d_model % size.n_head:
        raise LabkitError(
            f"d_model={size.d_model} is not divisible by n_head={size.n_head}; pick sizes that divide"
        )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.d_model,
        intermediate_size=size.d_mlp,
        num_hidden_layers=size.n_layer,
        num_attention_heads=size.n_head,
        num_key_value_heads=size.n_head,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.config.use_cache = True
    return model


def count_parameters(model: torch.nn.Module, embeddings: bool = True) -> int:
    """Number of parameters; without the input embedding table when ``embeddings=False``."""
    total = sum(p.numel() for p in model.parameters())
    if not embeddings:
        total -= model.get_input_embeddings().weight.numel()
    return total


REBUILD_OR_RECOPY = (
    "rebuild it with `make data` if it is one of the lab's models, or copy it again from its source"
)


def check_safetensors(path: str | os.PathLike, fix: str) -> None:
    """Raise a :class:`LabkitError` naming ``path`` and ``fix`` unless it is a whole safetensors file.

    Reads only the header and checks that it covers the file exactly, so it is cheap: it catches
    a truncated copy, an empty file, a file that is not safetensors at all and a corrupted header.
    """
    if not Path(path).is_file():
        raise LabkitError(f"{path} is missing; {fix}")
    try:
        with safe_open(str(path), framework="pt") as f:
            f.keys()
    except (SafetensorError, OSError) as exc:
        reason = str(exc).splitlines()[0].removeprefix("Error while deserializing header: ")
        raise LabkitError(f"{path} is damaged or not a safetensors file ({reason}); {fix}") from None


def data_dir() -> Path:
    """The lab's ``data/`` folder (the shipped models): beside the package, or LABKIT_DATA if set."""
    if "LABKIT_DATA" in os.environ:
        return Path(os.environ["LABKIT_DATA"])
    return Path(__file__).resolve().parents[1] / "data"


def load(path: str | os.PathLike, dtype: torch.dtype = torch.float32, device: str = "cpu"):
    """Load ``(model, tokenizer)`` from a folder in HF format, or from a hub name.

    A folder that does not exist, holds no model or holds a damaged weights file raises a
    :class:`LabkitError` that says so, instead of a traceback from deep inside transformers.
    """
    path_str = str(path)
    local = Path(path_str).expanduser()
    if local.exists() and not (local / "config.json").exists():
        raise LabkitError(
            f"{path_str!r} is not a model folder (no config.json inside); "
            "pass a folder made by save_pretrained, such as data/teacher or data/student"
        )
    # "org/name" is a hub name only when no local folder "org" exists
    # (so a typo in data/… fails here, at once)
    hub_name = (
        not local.exists()
        and re.fullmatch(r"[\w.-]+/[\w.-]+", path_str) is not None
        and not Path(path_str.split("/")[0]).exists()
    )
    if not local.exists() and not hub_name:
        raise LabkitError(
            f"model folder {path_str!r} does not exist; "
            "pass a folder made by save_pretrained (e.g. data/student)"
        )
    for weights in sorted(local.glob("*.safetensors")) if local.exists() else []:
        check_safetensors(weights, REBUILD_OR_RECOPY)
    hf_logging.disable_progress_bar()  # no "Loading weights" bars in notebooks and CLI output
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(local) if local.exists() else path_str)
        model = AutoModelForCausalLM.from_pretrained(str(local) if local.exists() else path_str, dtype=dtype)
    except (OSError, ValueError) as exc:
        where = "the folder" if local.exists() else "no such local folder, and as a hub name"
        raise LabkitError(
            f"could not load a model from {path_str!r} ({where}): {str(exc).splitlines()[0]}"
        ) from exc
    model.to(device)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def save(model, tokenizer, path: str | os.PathLike, extra: dict | None = None, write_extra=None) -> Path:
    """Save model and tokenizer in HF format (safetensors), atomically.

    Everything is written into a temporary folder beside ``path`` and renamed
    into place at the end, so an interrupted save leaves the previous
    checkpoint intact. ``extra`` is stored as ``labkit.json``; ``write_extra(folder)``
    may add more files to the folder before it is renamed into place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    hf_logging.disable_progress_bar()
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if extra is not None:
            (tmp / "labkit.json").write_text(json.dumps(extra, indent=2, sort_keys=True) + "\n")
        if write_extra is not None:
            write_extra(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(
            tmp, 0o777 & ~umask
        )  # mkdtemp makes it private (0700); give the folder the usual permissions
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.old-{os.getpid()}"
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def check_compatible(student_tokenizer, teacher_tokenizer, student_model=None, teacher_model=None) -> None:
    """Raise a clear error when teacher and student do not share one vocabulary.

    Distillation compares the two models token by token, so token i must mean
    the same string for both. A known trap: models of one family can report
    different vocabulary sizes (padded embedding tables).
    """
    s_vocab, t_vocab = student_tokenizer.get_vocab(), teacher_tokenizer.get_vocab()
    if s_vocab != t_vocab:
        only_s = sorted(set(s_vocab) - set(t_vocab))[:5]
        only_t = sorted(set(t_vocab) - set(s_vocab))[:5]
        moved = sorted(k for k in set(s_vocab) & set(t_vocab) if s_vocab[k] != t_vocab[k])[:5]
        raise LabkitError(
            f"teacher and student tokenizers differ: student vocabulary has {len(s_vocab)} tokens, "
            f"teacher vocabulary has {len(t_vocab)}; only in student: {only_s}, only in teacher: {only_t}, "
            f"different ids: {moved}. Use a teacher and student from one tokenizer family"
        )
    if student_model is not None and teacher_model is not None:
        s_rows = student_model.get_output_embeddings().weight.shape[0]
        t_rows = teacher_model.get_output_embeddings().weight.shape[0]
        if s_rows != t_rows:
            # Same tokenizer, padded output layers of different size: compare on the real vocabulary only.
            if min(s_rows, t_rows) < len(s_vocab):
                raise LabkitError(
                    f"a model's output layer ({min(s_rows, t_rows)} rows) is smaller than "
                    f"the shared vocabulary ({len(s_vocab)} tokens); "
                    "the checkpoint does not match its tokenizer"
                )


DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def resolve_dtype(name: str, device: str, auto: torch.dtype | None = None) -> torch.dtype:
    """``"bfloat16"``, ``"float32"`` or ``"auto"`` as a torch dtype. ``"auto"`` is ``auto`` when given
    (notebook 07 passes float32 for the student it trains: bfloat16 weights round small updates away), else
    bfloat16 on a GPU and float32 on a CPU (its teacher, which only scores)."""
    if name == "auto":
        return auto or (torch.bfloat16 if str(device).startswith("cuda") else torch.float32)
    if name not in DTYPES:
        raise LabkitError(f"dtype must be 'auto', 'bfloat16' or 'float32', got {name!r}")
    return DTYPES[name]


def prepare_student(student, lora_rank: int = 0, gradient_checkpointing: bool = False, lora_alpha=None):
    """The student with the memory options a real model needs on a small GPU; returns the model to train.

    ``lora_rank > 0``: freeze the model and train rank-``lora_rank`` LoRA adapters (peft, the ``lora`` extra)
    on every attention and MLP projection, ``W x + (lora_alpha / r) B A x`` with ``B = 0`` at the start. The
    frozen weights need no gradients and no AdamW state, most of full fine-tuning's memory; peft keeps the
    adapters in float32 on a bfloat16 model, so updates of a small learning rate are not rounded away. The
    result is a ``peft`` model; sampling, the teacher's scoring and the Trainer take it as they are.
    ``gradient_checkpointing``: keep each layer's input only and recompute the layer in the backward pass:
    activations of one layer instead of all, for about one more forward pass of compute.
    """
    if lora_rank > 0:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError:
            raise LabkitError(
                'lora_rank > 0 needs peft: pip install -e ".[lora]" (or: pip install peft)'
            ) from None
        config = LoraConfig(r=lora_rank, lora_alpha=lora_alpha or 2 * lora_rank, lora_dropout=0.0,
                            target_modules=list(LORA_TARGETS), task_type="CAUSAL_LM")  # fmt: skip
        with warnings.catch_warnings():  # peft calls an is_gradient_checkpointing transformers 5 deprecates
            warnings.simplefilter("ignore", FutureWarning)
            student = get_peft_model(student, config)
    if gradient_checkpointing:
        model = student.get_base_model() if lora_rank > 0 else student
        enable = (
            getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
        )
        enable({"use_reentrant": False})
        # non-reentrant checkpointing needs no gradient on the embeddings' output: remove the hook
        # transformers adds for it, which would turn labkit's fast sampler off (it refuses hooked models)
        if getattr(model, "_require_grads_hooks", None) or hasattr(model, "_require_grads_hook"):
            model.disable_input_require_grads()
    return student


def load_lab(student: str | Path | None = None, teacher: str | Path | None = None):
    """``(task, teacher, student, tokenizer)``: the shipped models (or the given folders) and their task."""
    from .evaluate import task_of

    student_path = Path(student) if student else data_dir() / "student"
    teacher_path = Path(teacher) if teacher else data_dir() / "teacher"
    teacher_model, teacher_tokenizer = load(teacher_path)
    student_model, tokenizer = load(student_path)
    check_compatible(tokenizer, teacher_tokenizer, student_model, teacher_model)
    return task_of(student_path), teacher_model, student_model, tokenizer
