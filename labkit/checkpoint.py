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
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

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


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    tensors = {}
    for index, state in optimizer.state_dict()["state"].items():
        for name, value in state.items():
            tensors[f"state.{index}.{name}"] = torch.as_tensor(value).detach().clone().contiguous()
    return tensors


def _load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("state."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})


def save_checkpoint(trainer) -> Path:
    """Write OUT/checkpoint for the trainer's current step, atomically."""

    def extra_files(folder: Path) -> None:
        tensors = _optimizer_tensors(trainer.optimizer)
        tensors["sampler_generator_state"] = trainer.generator.get_state()
        save_file(tensors, str(folder / "optimizer.safetensors"))
        version, internal, gauss = trainer.rng.getstate()
        state = {
            "step": trainer.step,
            "seconds": trainer.seconds,
            "episodes": trainer.episodes,
            "ledger": asdict(trainer.ledger),
            "python_rng": [version, list(internal), gauss],
            "config": asdict(trainer.config),
        }
        (folder / "trainer_state.json").write_text(json.dumps(state) + "\n")

    return save(
        trainer.student,
        trainer.tokenizer,
        trainer.out_dir / CHECKPOINT,
        extra={"task": asdict(trainer.task), "train": asdict(trainer.config), "step": trainer.step},
        write_extra=extra_files,
    )


def load_checkpoint(trainer) -> int:
    """Restore model, optimizer, RNGs, ledger and clocks from OUT/checkpoint;
    return the step it was taken at."""
    from safetensors.torch import load_model

    folder = trainer.out_dir / CHECKPOINT
    if not (folder / "trainer_state.json").exists():
        raise LabkitError(
            f"no checkpoint to resume in {trainer.out_dir}; run without --resume to start afresh"
        )
    state = json.loads((folder / "trainer_state.json").read_text())
    saved, current = state["config"], asdict(trainer.config)
    changed = [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in current.items() if saved.get(k) != v]
    if changed:
        raise LabkitError(
            f"the checkpoint in {folder} was made with other settings ({'; '.join(changed)}); "
            "resume with the same settings, or train into a new --out folder"
        )
    fix = (
        f"nothing in {trainer.out_dir} was changed: restore {folder} from a copy, "
        "or train without --resume into a new --out folder"
    )
    for name in ("model.safetensors", "optimizer.safetensors"):  # both checked before either is loaded
        check_safetensors(folder / name, fix)
    load_model(trainer.student, str(folder / "model.safetensors"))
    tensors = load_file(str(folder / "optimizer.safetensors"))
    trainer.generator.set_state(tensors.pop("sampler_generator_state"))
    _load_optimizer(trainer.optimizer, tensors)
    version, internal, gauss = state["python_rng"]
    trainer.rng.setstate((version, tuple(internal), gauss))
    for f in fields(trainer.ledger):
        setattr(trainer.ledger, f.name, state["ledger"][f.name])
    trainer.seconds, trainer.episodes, trainer.step = state["seconds"], state["episodes"], state["step"]
    return state["step"]
