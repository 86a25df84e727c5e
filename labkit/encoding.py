"""Strings to token tensors and back, for the task's fixed-length prompts."""

from __future__ import annotations

import torch

from .errors import LabkitError


def encode_prompts(tokenizer, prompts: list[str]) -> torch.Tensor:
    """``[B, P]`` token ids of prompts (bos prepended by the tokenizer). All prompts must be one length."""
    ids = tokenizer(list(prompts), add_special_tokens=True)["input_ids"]
    lengths = {len(x) for x in ids}
    if len(lengths) != 1:
        raise LabkitError(
            f"prompts must all have the same token length for batching, got lengths {sorted(lengths)}"
        )
    return torch.tensor(ids, dtype=torch.long)


def encode_completions(tokenizer, completions: list[str], loss_masks: list[list[int]] | None = None):
    """Right-padded completions with eos appended: ``(ids [B, T], mask [B, T])``.

    ``mask`` is 1.0 where a token should be learned (eos included) and 0.0 on
    padding and on tokens a per-character ``loss_masks`` entry marks 0.
    """
    ids = [
        tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        for text in completions
    ]
    masks = []
    for i, row in enumerate(ids):
        if loss_masks is None:
            masks.append([1.0] * len(row))
        else:
            char_mask = list(loss_masks[i])
            if len(char_mask) != len(row) - 1:
                raise LabkitError("a loss mask must have one entry per character of its completion")
            masks.append([float(m) for m in char_mask] + [1.0])
    width = max(len(r) for r in ids)
    pad = tokenizer.pad_token_id
    id_tensor = torch.tensor([r + [pad] * (width - len(r)) for r in ids], dtype=torch.long)
    mask_tensor = torch.tensor([m + [0.0] * (width - len(m)) for m in masks])
    return id_tensor, mask_tensor


def decode_completions(tokenizer, completion_ids: torch.Tensor, completion_mask: torch.Tensor) -> list[str]:
    """The text of each completion, eos and padding removed."""
    texts = []
    for ids, mask in zip(completion_ids.tolist(), completion_mask.tolist()):
        kept = [i for i, m in zip(ids, mask) if m > 0 and i != tokenizer.eos_token_id]
        texts.append(tokenizer.decode(kept, skip_special_tokens=True))
    return texts
