"""Checkpoints that survive interruption, and resuming as if the run had never stopped.

A training checkpoint is one folder, ``OUT/checkpoint/``, written atomically
(everything goes into a temporary folder that is renamed into place), holding:

    config.json, model.safetensors, tokenizer files   the student, in HF format
    optimizer.safetensors                              AdamW moments and the sampler's RNG state
    trainer_state.json                                 step, ledger, wall seconds, Python RNG state, config

Safetensors and JSON only: no pickle anywhere.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from safetensors.torch import load_file, load_model, save_file

from .errors import LabkitError
from .models import check_safetensors, save

CHECKPOINT = "checkpoint"


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a whole file or nothing: a temporary file beside it, then a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_checkpoint(folder: str | os.PathLike, model, tokenizer, state: dict, extra: dict) -> Path:
    """Write ``folder`` atomically: ``model`` in HF format, ``state["tensors"]`` in optimizer.safetensors and
    the rest of ``state`` (JSON) in trainer_state.json. ``state`` is what ``Trainer.state_dict()`` returns."""
    tensors = {name: t.contiguous() for name, t in state["tensors"].items()}  # state_dict() made copies
    rest = {k: v for k, v in state.items() if k != "tensors"}

    def extra_files(tmp: Path) -> None:
        save_file(tensors, str(tmp / "optimizer.safetensors"))
        (tmp / "trainer_state.json").write_text(json.dumps(rest) + "\n")

    return save(model, tokenizer, folder, extra=extra, write_extra=extra_files)


def read_state(folder: str | os.PathLike) -> dict:
    """The JSON half of the trainer state saved in ``folder`` (step, clocks, ledger, RNG, config)."""
    folder = Path(folder)
    if not (folder / "trainer_state.json").exists():
        raise LabkitError(f"no checkpoint to resume in {folder.parent}; run without --resume to start afresh")
    return json.loads((folder / "trainer_state.json").read_text())


def read_tensors(folder: str | os.PathLike, fix: str) -> dict:
    """The tensor half (optimizer moments, sampler RNG), after checking that both weights files of
    ``folder`` are whole: a missing or damaged one raises a :class:`LabkitError` ending in ``fix`` before
    either is used. Loads nothing into a model: :func:`load_weights` does, once the state is accepted."""
    folder = Path(folder)
    for name in ("model.safetensors", "optimizer.safetensors"):
        check_safetensors(folder / name, fix)
    return load_file(str(folder / "optimizer.safetensors"))


def load_weights(folder: str | os.PathLike, model) -> None:
    """Load the checkpoint's model weights into ``model`` in place."""
    load_model(model, str(Path(folder) / "model.safetensors"))
