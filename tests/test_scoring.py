"""One scoring pass (labkit.scoring) behind every caller, with the vocabulary rule: on a model whose output
layer is padded past its tokenizer (as Qwen's 151,936 rows for 151,665 tokens), every caller gives the
per-token KL of the unpadded model."""

import copy

import pytest
import torch

from labkit.encoding import encode_prompts
from labkit.sampling import sample
from labkit.scoring import score
from labkit.studies.drift import drift_profile
from labkit.studies.pertoken import score_tokens
from labkit.studies.tokenclass import class_profile
from labkit.task import AdditionTask
from labkit.train import TrainConfig, Trainer

TASK = AdditionTask(digits=2)
PAD = 8


def _padded(model, tokenizer):
    """The same model with PAD extra output rows that would take most of the probability if counted."""
    padded = copy.deepcopy(model)
    padded.resize_token_embeddings(len(tokenizer) + PAD)
    with torch.no_grad():
        head = padded.get_output_embeddings()
        head.weight[len(tokenizer) :] = 0.0
        if head.bias is not None:
            head.bias[len(tokenizer) :] = 0.0
        head.weight[len(tokenizer) :, 0] = (
            50.0  # a large logit wherever the hidden state's first entry is > 0
        )
    assert head.weight.shape[0] == len(tokenizer) + PAD
    return padded


@pytest.fixture()
def pair(tiny_student, tiny_teacher, tokenizer):
    return {
        "plain": (tiny_student, tiny_teacher),
        "padded": (_padded(tiny_student, tokenizer), _padded(tiny_teacher, tokenizer)),
    }


def _rollout(student, tokenizer):
    prompts = encode_prompts(tokenizer, [p.prompt for p in TASK.problems(6, "held_out", seed=3)])
    return sample(
        student, prompts, TASK.max_completion_length, tokenizer, 1.0, torch.Generator().manual_seed(0)
    )


def test_the_padded_rows_would_change_the_kl_if_they_were_counted(pair, tokenizer):
    rollout = _rollout(pair["plain"][0], tokenizer)
    logits = [m(input_ids=rollout.sequences).logits[:, :, : len(tokenizer) + PAD] for m in pair["padded"]]
    with torch.no_grad():
        counted = torch.nn.functional.kl_div(logits[1].log_softmax(-1), logits[0].log_softmax(-1),
                                             log_target=True, reduction="none").sum(-1)  # fmt: skip
        kept = score(*pair["plain"], tokenizer, rollout.sequences, rollout.prompt_length).reverse_kl()
    assert not torch.allclose(counted[:, rollout.prompt_length - 1 : -1], kept, atol=1e-3)


def test_score_and_score_tokens_give_the_unpadded_kl(pair, tokenizer):
    rollout = _rollout(pair["plain"][0], tokenizer)
    args = (tokenizer, rollout.sequences, rollout.prompt_length)
    reference = score(*pair["plain"], *args).reverse_kl()
    torch.testing.assert_close(score(*pair["padded"], *args).reverse_kl(), reference)
    for b, tokens in enumerate(score_tokens(*pair["padded"], *args, rollout.completion_mask)):
        n = len(tokens.reverse_kl)
        torch.testing.assert_close(torch.tensor(tokens.reverse_kl), reference[b, :n].float())


def test_drift_and_token_classes_give_the_unpadded_kl(pair, tokenizer):
    plain, padded = (drift_profile(*pair[k], tokenizer, TASK, n=8, seed=1) for k in ("plain", "padded"))
    assert padded.reverse_kl == pytest.approx(plain.reverse_kl, rel=1e-5, abs=1e-6)
    plain, padded = (class_profile(*pair[k], tokenizer, TASK, n=8, seed=1) for k in ("plain", "padded"))
    assert plain.keys() == padded.keys()
    for kind in plain:
        assert padded[kind]["reverse_kl"] == pytest.approx(plain[kind]["reverse_kl"], rel=1e-5, abs=1e-6)


def test_the_trainers_teacher_kl_is_the_unpadded_kl(pair, tokenizer):
    config = TrainConfig(method="opd", steps=1, batch_size=2, group_size=2, eval_n=4, monitor_every=1, seed=2)
    rows = {}
    for kind, (student, teacher) in pair.items():
        trainer = Trainer(config, copy.deepcopy(student), tokenizer, TASK, teacher=teacher, progress=False)
        rows[kind] = trainer.train_step(1)
    assert rows["padded"]["teacher_kl"] == pytest.approx(rows["plain"]["teacher_kl"], rel=1e-5)
    assert rows["padded"]["entropy"] == pytest.approx(rows["plain"]["entropy"], rel=1e-5)
