"""A lean incremental forward for Llama-family models, used by ``labkit.sampling.sample``.

At labkit's sizes (0.1-1M parameters) one decode step through transformers'
general ``forward`` costs about 2 ms of Python (masks, cache objects, output
records, hooks) around about 0.1 ms of arithmetic. Sampling a batch is ~40 such
steps, and sampling is most of what on-policy methods do, so this overhead was
the largest item in the profile of the headline comparison (issue 8).

``Decoder`` runs the same arithmetic with the model's own submodules (its
projections, RMS norms, MLPs and rotary embedding, so adapters such as LoRA
layers still apply) and a preallocated KV cache: per layer the q/k/v
projections, the rotation, a slice write into the cache, one
``scaled_dot_product_attention``, the output projection and the MLP.
It supports the Llama layer shape shared by Llama, Qwen2 and Qwen3 (the
optional per-head q/k norms of Qwen3, projection biases of Qwen2, grouped
key/value heads) with a static rotary embedding. For anything else
``unsupported_reason`` says why not and sampling uses transformers.
Tests check that both paths give the same tokens and log-probs (to 1e-5; on
this CPU bit for bit for the shipped models).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SUPPORTED_TYPES = ("llama", "qwen2", "qwen3")


def unsupported_reason(model) -> str | None:
    """Why ``model`` cannot use the fast decoder, or None if it can."""
    config = getattr(model, "config", None)
    if getattr(config, "model_type", None) not in SUPPORTED_TYPES:
        return f"model_type {getattr(config, 'model_type', None)!r} is not one of {SUPPORTED_TYPES}"
    body = getattr(model, "model", None)
    if (
        body is None
        or not hasattr(body, "layers")
        or not hasattr(body, "rotary_emb")
        or not hasattr(model, "lm_head")
    ):
        return "the model does not have the model.layers / model.rotary_emb / lm_head layout"
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    rope_type = rope.get("rope_type", rope.get("type", "default")) if isinstance(rope, dict) else "default"
    if "dynamic" in str(rope_type) or rope_type == "longrope":
        return f"rope_type {rope_type!r} changes with the sequence length"
    if getattr(config, "use_sliding_window", False) or any(
        t != "full_attention" for t in (getattr(config, "layer_types", None) or [])
    ):
        return "sliding-window attention"
    if getattr(config, "_attn_implementation", "sdpa") not in ("sdpa", None):
        return (
            f"attention implementation {config._attn_implementation!r} "
            "(the fast path computes sdpa's arithmetic)"
        )
    if getattr(model, "hf_device_map", None) and len(set(model.hf_device_map.values())) > 1:
        return "the model is split across devices"
    if model.training and getattr(config, "attention_dropout", 0.0):
        return "the model is in training mode with attention dropout"
    for layer in body.layers:
        if not all(
            hasattr(layer, n) for n in ("self_attn", "mlp", "input_layernorm", "post_attention_layernorm")
        ) or not all(hasattr(layer.self_attn, n) for n in ("q_proj", "k_proj", "v_proj", "o_proj")):
            return "a layer without the Llama layout (self_attn with q/k/v/o projections, mlp, two norms)"
    if any(m._forward_hooks or m._forward_pre_hooks for m in model.modules()):
        return "the model has forward hooks (the fast path would skip the hooked modules' callers)"
    return None


class Decoder:
    """Incremental forward over a preallocated KV cache for ``batch`` rows
    and up to ``max_length`` positions."""

    def __init__(self, model, batch: int, max_length: int, vocab_size: int | None = None):
        self.model, self.body, self.config = model, model.model, model.config
        config = self.config
        self.heads = config.num_attention_heads
        self.kv_heads = getattr(config, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.vocab_size = vocab_size
        weight = self.body.embed_tokens.weight  # the dtype and device of the hidden states
        shape = (len(self.body.layers), batch, self.kv_heads, max_length, self.head_dim)
        self.keys = torch.empty(shape, dtype=weight.dtype, device=weight.device)
        self.values = torch.empty(shape, dtype=weight.dtype, device=weight.device)
        positions = torch.arange(max_length, device=weight.device)[None]
        probe = torch.empty(1, dtype=weight.dtype, device=weight.device)
        cos, sin = self.body.rotary_emb(
            probe, positions
        )  # [1, max_length, head_dim]; same values transformers uses
        self.cos, self.sin = cos[0], sin[0]
        self.length = 0

    @staticmethod
    def _rotate(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin

    def _attention(self, layer_index, attn, h):
        batch, new, _ = h.shape
        start, end = self.length, self.length + new
        q = attn.q_proj(h).view(batch, new, self.heads, self.head_dim)
        k = attn.k_proj(h).view(batch, new, self.kv_heads, self.head_dim)
        v = attn.v_proj(h).view(batch, new, self.kv_heads, self.head_dim)
        if getattr(attn, "q_norm", None) is not None:  # Qwen3: RMS norm per head before the rotation
            q, k = attn.q_norm(q), attn.k_norm(k)
        cos, sin = self.cos[start:end, None], self.sin[start:end, None]  # [n, 1, D] against [B, n, heads, D]
        q, k = self._rotate(q, cos, sin), self._rotate(k, cos, sin)
        self.keys[layer_index, :, :, start:end] = k.transpose(1, 2)
        self.values[layer_index, :, :, start:end] = v.transpose(1, 2)
        keys, values = self.keys[layer_index, :, :, :end], self.values[layer_index, :, :, :end]
        if self.kv_heads != self.heads:
            repeat = self.heads // self.kv_heads
            keys, values = keys.repeat_interleave(repeat, dim=1), values.repeat_interleave(repeat, dim=1)
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2),
            keys,
            values,
            is_causal=new > 1 and start == 0,
            scale=getattr(attn, "scaling", None),
        )
        return attn.o_proj(out.transpose(1, 2).reshape(batch, new, self.heads * self.head_dim))

    @torch.no_grad()
    def step(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Feed ``[B, n]`` new tokens (the whole prompt first, then one at a time);
        return float logits ``[B, V]`` of the last."""
        if self.length > 0 and input_ids.shape[1] != 1:
            raise ValueError("after the prompt, feed one token at a time")
        h = self.body.embed_tokens(input_ids)
        for index, layer in enumerate(self.body.layers):
            h = h + self._attention(index, layer.self_attn, layer.input_layernorm(h))
            h = h + layer.mlp(layer.post_attention_layernorm(h))
        self.length += input_ids.shape[1]
        h = self.body.norm(h[:, -1])
        return self.model.lm_head(h)[:, : self.vocab_size].float()
