"""Batched sampling with a KV cache, returning per-token log-probs of the sampling policy.

Distillation rests on one fact this module guarantees (and a test checks): the
log-prob recorded for each sampled token equals what a separate forward pass
over the finished sequence computes for it. ``token_logprobs`` is that
separate pass; training and teacher scoring use it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cache

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from .errors import LabkitError
from .fastdecode import Decoder, unsupported_reason


@dataclass
class Rollout:
    """A batch of sampled completions. Shapes: B rows, P prompt tokens, T completion tokens."""

    sequences: torch.Tensor  # [B, P+T] prompt followed by completion (pad after eos)
    prompt_length: int  # P
    completion_mask: torch.Tensor  # [B, T] 1.0 on generated tokens up to and including eos
    logprobs: torch.Tensor  # [B, T] log-prob of each sampled token under the sampling policy (0 where masked)
    forward_tokens: int  # token positions the sampler pushed through the model (for the FLOP ledger)
    logits: torch.Tensor | None = (
        None  # [B, T, V] the untempered logits each token was drawn from, if asked for
    )

    @property
    def completion_ids(self) -> torch.Tensor:  # [B, T]
        return self.sequences[:, self.prompt_length :]


def logprobs_of(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log softmax(logits) at ``tokens``: ``[..., V]`` logits and ``[...]`` token ids give ``[...]``
    log-probs."""
    return torch.log_softmax(logits, dim=-1).gather(-1, tokens[..., None]).squeeze(-1)


@cache
def _cache_kwarg(model_class) -> str:
    """transformers 5 calls the KV cache argument ``cache``; 4.x calls it ``past_key_values``."""
    params = inspect.signature(model_class.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _check_context(model, length: int) -> None:
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and length > limit:
        raise LabkitError(
            f"prompt plus completion need {length} positions but the model's context is {limit} "
            "(config.max_position_embeddings); shorten the prompts or lower max_new_tokens"
        )


@dataclass(frozen=True)
class SpecialTokens:
    """What sampling needs of a tokenizer: when to stop, what to pad with, how many real tokens there are."""

    eos_token_id: int
    pad_token_id: int
    vocab_size: int | None = None  # output layers may be padded beyond the tokenizer; None keeps every row


def special_tokens(tokenizer) -> SpecialTokens:
    """The :class:`SpecialTokens` of a `transformers` tokenizer (a ``SpecialTokens`` passes through)."""
    if isinstance(tokenizer, SpecialTokens):
        return tokenizer
    eos, pad = getattr(tokenizer, "eos_token_id", None), getattr(tokenizer, "pad_token_id", None)
    if eos is None or pad is None:
        raise LabkitError(
            "the tokenizer needs an eos and a pad token to sample "
            "(set tokenizer.pad_token = tokenizer.eos_token)"
        )
    return SpecialTokens(eos, pad, len(tokenizer))


def _check_arguments(
    model, prompt_ids, max_new_tokens, tokenizer, temperature, generator
) -> tuple[int, int, int]:
    """Refuse what sampling cannot do, naming the fix; return (eos, pad, vocabulary size)."""
    if prompt_ids.dim() != 2:
        raise LabkitError(
            f"prompt_ids must be a [batch, length] tensor of token ids, got shape {tuple(prompt_ids.shape)}"
        )
    tokens = special_tokens(tokenizer)
    if temperature < 0:
        raise LabkitError(f"temperature must be > 0 (or 0 for greedy decoding), got {temperature}")
    if max_new_tokens < 1:
        raise LabkitError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
    _check_context(model, prompt_ids.shape[1] + max_new_tokens)
    device = next(model.parameters()).device
    if generator is not None and generator.device != device:
        raise LabkitError(
            f"the sampling generator is on {generator.device} but the model is on {device}; "
            f"create it with torch.Generator(device='{device}')"
        )
    return tokens.eos_token_id, tokens.pad_token_id, tokens.vocab_size


def _step_function(model, batch: int, length: int, vocab_size: int | None, fast: bool):
    """``forward(ids, position) -> logits [B, V]`` of the last position, through a KV cache: labkit's lean
    decoder where the model allows it, transformers' forward and cache otherwise."""
    get_base_model = getattr(model, "get_base_model", None)  # a peft model: its model, adapters in place
    inner = get_base_model() if callable(get_base_model) else model
    if fast and unsupported_reason(inner) is None:
        decoder = Decoder(inner, batch, length, vocab_size)
        return lambda ids, position: decoder.step(ids)
    cache, kwarg = DynamicCache(config=model.config), _cache_kwarg(type(inner))
    device = next(model.parameters()).device

    def forward(ids, position):
        kwargs = {} if position is None else {"position_ids": torch.full((batch, 1), position, device=device)}
        logits = model(input_ids=ids, use_cache=True, **kwargs, **{kwarg: cache}).logits
        return logits[:, -1, :vocab_size].float()

    return forward


@torch.no_grad()
def sample(
    model,
    prompt_ids: torch.Tensor,
    max_new_tokens: int,
    tokenizer,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    fast: bool = True,
    return_logits: bool = False,
) -> Rollout:
    """Sample completions for a batch of equal-length prompts ``[B, P]``.

    ``tokenizer`` gives the eos and pad tokens and the real vocabulary size (padded output rows some
    checkpoints add are dropped); a :class:`SpecialTokens` does too (``eos_token_id=-1`` never stops:
    fixed-length completions).
    ``temperature=0`` decodes greedily; the log-probs are then those of the
    untempered model. Otherwise log-probs are of the tempered distribution the
    tokens were drawn from: ``log softmax(logits / temperature)``.
    ``fast`` steps through :class:`labkit.fastdecode.Decoder` where the model
    allows it (Llama/Qwen layouts with sdpa attention; see ``unsupported_reason``); ``fast=False`` always uses
    transformers' forward and cache. Both give the same tokens and log-probs (to float rounding).
    ``return_logits`` keeps the logits of every step (``Rollout.logits``): a method that needs the sampler's
    whole distribution (GKD on teacher samples) then needs no second pass over the same tokens.
    """
    eos_token_id, pad_token_id, vocab_size = _check_arguments(model, prompt_ids, max_new_tokens, tokenizer,
                                                              temperature, generator)  # fmt: skip
    batch, prompt_length = prompt_ids.shape
    device = next(model.parameters()).device
    prompt_ids = prompt_ids.to(device)
    forward = _step_function(model, batch, prompt_length + max_new_tokens, vocab_size, fast)
    tokens = torch.full((batch, max_new_tokens), pad_token_id, dtype=torch.long, device=device)
    logprobs = torch.zeros(batch, max_new_tokens, device=device)
    mask = torch.zeros(batch, max_new_tokens, device=device)
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    forward_tokens = batch * prompt_length

    logits = forward(prompt_ids, None)
    kept = []
    for t in range(max_new_tokens):
        if return_logits:
            kept.append(logits)
        if temperature == 0:
            log_p = F.log_softmax(logits, dim=-1)
            next_token = log_p.argmax(dim=-1)
        else:
            log_p = F.log_softmax(logits / temperature, dim=-1)
            next_token = torch.multinomial(log_p.exp(), 1, generator=generator).squeeze(-1)
        active = ~finished
        tokens[:, t] = torch.where(active, next_token, pad_token_id)
        logprobs[:, t] = torch.where(active, log_p.gather(-1, next_token[:, None]).squeeze(-1), 0.0)
        mask[:, t] = active.float()
        finished |= next_token == eos_token_id
        if bool(finished.all()) or t == max_new_tokens - 1:
            break
        logits = forward(tokens[:, t : t + 1], prompt_length + t)
        forward_tokens += batch

    length = int(mask.sum(dim=0).nonzero().max()) + 1 if mask.any() else 1
    sequences = torch.cat([prompt_ids, tokens[:, :length]], dim=1)
    stacked = torch.stack(kept, dim=1)[:, :length] if return_logits else None  # [B, T, V]
    return Rollout(sequences, prompt_length, mask[:, :length], logprobs[:, :length], forward_tokens, stacked)


def token_logprobs(
    model,
    sequences: torch.Tensor,
    prompt_length: int,
    temperature: float = 1.0,
    return_logits: bool = False,
    vocab_size: int | None = None,
):
    """Log-prob of every completion token under ``model`` in one forward pass.

    Returns ``[B, T]`` log-probs (and the ``[B, T, V]`` float logits of the
    positions that predict them when ``return_logits``). Gradients flow when
    called outside ``torch.no_grad``.
    """
    _check_context(model, sequences.shape[1])
    logits = (
        model(input_ids=sequences[:, :-1], use_cache=False)
        .logits[:, prompt_length - 1 :, :vocab_size]
        .float()
    )  # [B, T, V]
    if temperature not in (0, 1):
        logits = logits / temperature
    targets = sequences[:, prompt_length:]  # [B, T]
    logp = logprobs_of(logits, targets)
    return (logp, logits) if return_logits else logp
