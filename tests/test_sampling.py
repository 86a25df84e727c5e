import pytest
import torch

from labkit.encoding import decode_completions, encode_completions, encode_prompts
from labkit.errors import LabkitError
from labkit.sampling import sample, token_logprobs


def _prompts(tokenizer, n=32):
    return encode_prompts(tokenizer, [f"{i:03d}+{(7 * i) % 1000:03d}=" for i in range(n)])


@pytest.mark.parametrize("temperature", [1.0, 0.7, 1.5])
def test_sampled_logprobs_match_a_separate_forward_pass(tokenizer, tiny_teacher, temperature):
    gen = torch.Generator().manual_seed(0)
    rollout = sample(
        tiny_teacher,
        _prompts(tokenizer),
        30,
        tokenizer,
        temperature,
        gen,
    )
    with torch.no_grad():
        recomputed = token_logprobs(tiny_teacher, rollout.sequences, rollout.prompt_length, temperature)
    assert rollout.completion_mask.sum() > 100
    torch.testing.assert_close(recomputed * rollout.completion_mask, rollout.logprobs, atol=1e-5, rtol=0)


def test_completion_mask_covers_tokens_up_to_and_including_eos(tokenizer, tiny_teacher):
    gen = torch.Generator().manual_seed(3)
    rollout = sample(tiny_teacher, _prompts(tokenizer), 40, tokenizer, 1.0, gen)
    for ids, mask in zip(rollout.completion_ids.tolist(), rollout.completion_mask.tolist()):
        n = int(sum(mask))
        assert mask == [1.0] * n + [0.0] * (len(mask) - n)  # contiguous from the start
        if tokenizer.eos_token_id in ids[:n]:
            assert ids.index(tokenizer.eos_token_id) == n - 1  # stops right after eos
        assert all(i == tokenizer.pad_token_id for i in ids[n:])


def test_greedy_decoding_takes_the_argmax(tokenizer, tiny_teacher):
    rollout = sample(tiny_teacher, _prompts(tokenizer, 4), 10, tokenizer, 0.0)
    with torch.no_grad():
        logits = tiny_teacher(rollout.sequences).logits[:, rollout.prompt_length - 1 : -1]
    chosen = logits.argmax(-1)
    mask = rollout.completion_mask.bool()
    assert torch.equal(chosen[mask], rollout.completion_ids[mask])


def test_sampling_is_seeded(tokenizer, tiny_teacher):
    runs = [
        sample(
            tiny_teacher,
            _prompts(tokenizer),
            20,
            tokenizer,
            1.0,
            torch.Generator().manual_seed(7),
        ).sequences
        for _ in range(2)
    ]
    assert torch.equal(*runs)


def test_too_long_a_request_names_the_context(tokenizer, tiny_teacher):
    with pytest.raises(LabkitError, match="context is 256"):
        sample(tiny_teacher, _prompts(tokenizer, 2), 300, tokenizer)


def test_bad_temperature_is_refused(tokenizer, tiny_teacher):
    with pytest.raises(LabkitError, match="temperature"):
        sample(tiny_teacher, _prompts(tokenizer, 2), 5, tokenizer, -1.0)


def test_completions_encode_and_decode(tokenizer):
    ids, mask = encode_completions(tokenizer, ["1+2", "12;3"], [[1, 0, 1], [1, 1, 1, 1]])
    assert mask.tolist() == [[1, 0, 1, 1, 0], [1, 1, 1, 1, 1]]
    assert ids[0, 3] == tokenizer.eos_token_id and ids[0, 4] == tokenizer.pad_token_id
    valid = (ids != tokenizer.pad_token_id).float()
    assert decode_completions(tokenizer, ids, valid) == ["1+2", "12;3"]


def test_prompts_of_unequal_length_are_refused(tokenizer):
    with pytest.raises(LabkitError, match="same token length"):
        encode_prompts(tokenizer, ["1+2=", "10+2="])


def test_the_logits_the_sampler_keeps_are_those_a_separate_forward_pass_computes(tokenizer, tiny_teacher):
    kept = sample(tiny_teacher, _prompts(tokenizer), 30, tokenizer, 1.0, torch.Generator().manual_seed(0),
                  return_logits=True)  # fmt: skip
    plain = sample(tiny_teacher, _prompts(tokenizer), 30, tokenizer, 1.0, torch.Generator().manual_seed(0))
    assert (
        torch.equal(kept.sequences, plain.sequences) and plain.logits is None
    )  # keeping changes nothing drawn
    with torch.no_grad():
        _, recomputed = token_logprobs(tiny_teacher, kept.sequences, kept.prompt_length, return_logits=True)
    mask = kept.completion_mask.bool()
    assert kept.logits.shape == recomputed.shape
    torch.testing.assert_close(kept.logits[mask], recomputed[mask], atol=1e-4, rtol=0)
