"""The fast decoder (labkit.fastdecode) computes what transformers computes:
same tokens, same log-probs."""

import pytest
import torch
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, Qwen2Config, Qwen3Config

from labkit.encoding import encode_prompts
from labkit.fastdecode import unsupported_reason
from labkit.sampling import sample


def _prompts(tokenizer, n=24):
    return encode_prompts(tokenizer, [f"{i:03d}+{(7 * i) % 1000:03d}=" for i in range(n)])


def _both_paths(model, tokenizer, temperature, max_new_tokens=30):
    out = []
    for fast in (True, False):
        gen = torch.Generator().manual_seed(3)
        out.append(
            sample(
                model,
                _prompts(tokenizer),
                max_new_tokens,
                tokenizer,
                temperature,
                gen,
                fast=fast,
            )
        )
    return out


def _random(config_class, tokenizer, **extra):
    torch.manual_seed(0)
    config = config_class(
        vocab_size=len(tokenizer),
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=64,
        **extra,
    )
    return AutoModelForCausalLM.from_config(config).eval()


ARCHITECTURES = {
    "llama": (LlamaConfig, {"num_key_value_heads": 4}),
    "llama-gqa-bias": (LlamaConfig, {"num_key_value_heads": 2, "attention_bias": True, "mlp_bias": True}),
    "qwen2": (Qwen2Config, {"num_key_value_heads": 2}),
    "qwen3": (Qwen3Config, {"num_key_value_heads": 2, "head_dim": 16}),
}


@pytest.mark.parametrize("name", ARCHITECTURES)
@pytest.mark.parametrize("temperature", [1.0, 0.0])
def test_fast_and_transformers_paths_agree(tokenizer, name, temperature):
    config_class, extra = ARCHITECTURES[name]
    model = _random(config_class, tokenizer, **extra)
    assert unsupported_reason(model) is None
    fast, slow = _both_paths(model, tokenizer, temperature)
    assert fast.completion_mask.sum() > 200
    assert torch.equal(fast.sequences, slow.sequences)
    assert torch.equal(fast.completion_mask, slow.completion_mask)
    torch.testing.assert_close(fast.logprobs, slow.logprobs, atol=1e-5, rtol=0)
    assert fast.forward_tokens == slow.forward_tokens


def test_shipped_models_agree_bit_for_bit(shipped):
    """The headline's numbers do not depend on which path sampled them."""
    for role in ("student", "teacher"):
        assert unsupported_reason(shipped[role]) is None
        fast, slow = _both_paths(
            shipped[role], shipped["tokenizer"], 1.0, shipped["task"].max_completion_length
        )
        assert torch.equal(fast.sequences, slow.sequences) and torch.equal(fast.logprobs, slow.logprobs)


def test_other_layouts_fall_back_to_transformers(tokenizer):
    gpt2 = AutoModelForCausalLM.from_config(
        GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=1, n_head=2, n_positions=64)
    ).eval()
    assert "gpt2" in unsupported_reason(gpt2)
    rollout = sample(
        gpt2,
        _prompts(tokenizer, 4),
        8,
        tokenizer,
        1.0,
        torch.Generator().manual_seed(0),
    )
    assert rollout.sequences.shape[0] == 4
    dynamic = _random(
        LlamaConfig, tokenizer, rope_parameters={"rope_type": "dynamic", "rope_theta": 10000.0, "factor": 2.0}
    )
    assert "dynamic" in unsupported_reason(dynamic)


def test_eager_attention_and_hooked_models_fall_back(tokenizer):
    eager = _random(LlamaConfig, tokenizer, attn_implementation="eager")
    assert "eager" in unsupported_reason(eager)
    hooked = _random(LlamaConfig, tokenizer)
    hooked.model.layers[0].mlp.register_forward_hook(lambda module, args, out: out * 0)
    assert "hooks" in unsupported_reason(hooked)
