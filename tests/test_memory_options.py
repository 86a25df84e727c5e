"""Notebook 07's memory options (labkit.models.prepare_student, resolve_dtype): LoRA adapters, a bfloat16
teacher and gradient checkpointing change the memory a step needs, not what it computes."""

import copy
import sys

import pytest
import torch

from labkit.encoding import encode_prompts
from labkit.errors import LabkitError
from labkit.fastdecode import unsupported_reason
from labkit.models import prepare_student, resolve_dtype
from labkit.sampling import sample, token_logprobs
from labkit.task import AdditionTask
from labkit.train import TrainConfig, Trainer

TASK = AdditionTask(digits=2)


def _rollout(model, tokenizer, n=8, seed=0, fast=True):
    problems = TASK.problems(n, "held_out", seed=seed)
    prompts = encode_prompts(tokenizer, [p.prompt for p in problems])
    generator = torch.Generator().manual_seed(seed)
    return sample(model, prompts, TASK.max_completion_length, tokenizer, 1.0, generator, fast=fast)


def _loss_and_grads(model, rollout):
    """Mean negative log-likelihood of the rollout's tokens in training mode, and the gradients."""
    model.train()
    model.zero_grad(set_to_none=True)
    logprobs = token_logprobs(model, rollout.sequences, rollout.prompt_length)
    loss = -(logprobs * rollout.completion_mask).sum() / rollout.completion_mask.sum()
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


def _randomize_adapters(model, seed=0):
    """Seeded values for every adapter: LoRA's B starts at zero (the adapted model is the base model) and A at
    random; after this the adapters act, alike in every model given the same seed."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))


def test_auto_dtype_is_bfloat16_on_a_gpu_float32_on_a_cpu_unless_told_otherwise():
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda") == torch.bfloat16  # a scoring-only teacher
    assert resolve_dtype("auto", "cuda", auto=torch.float32) == torch.float32  # 07's trained student
    assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    with pytest.raises(LabkitError, match="bfloat16"):
        resolve_dtype("fp16", "cpu")


def test_without_peft_lora_names_the_extra_to_install(tiny_student, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # as if peft were not installed
    with pytest.raises(LabkitError, match=r'pip install -e "\.\[lora\]"'):
        prepare_student(tiny_student, lora_rank=4)


def test_lora_trains_only_the_adapters_and_gradients_reach_them(tiny_student, tokenizer):
    pytest.importorskip("peft")
    total = sum(p.numel() for p in tiny_student.parameters())
    student = prepare_student(tiny_student, lora_rank=4)
    trainable = {n: p for n, p in student.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert sum(p.numel() for p in trainable.values()) < 0.2 * total
    _, grads = _loss_and_grads(student, _rollout(student, tokenizer))
    assert set(grads) == set(trainable)  # no gradient is kept for a frozen weight
    # B = 0 at the start, so only B's gradient is non-zero: the adapted model starts as the base model
    assert all(grads[n].abs().sum() > 0 for n in grads if "lora_B" in n)


def test_a_trainer_step_on_a_lora_student_moves_the_adapters_and_nothing_else(
    tiny_student, tiny_teacher, tokenizer
):
    pytest.importorskip("peft")
    student = prepare_student(tiny_student, lora_rank=4)
    before = {n: p.detach().clone() for n, p in student.named_parameters()}
    config = TrainConfig(method="opd", steps=1, batch_size=2, group_size=2, eval_n=8, warmup_steps=0,
                         learning_rate=1e-2)  # fmt: skip
    Trainer(config, student, tokenizer, TASK, teacher=tiny_teacher, progress=False).train_step(1)
    moved = {n for n, p in student.named_parameters() if not torch.equal(p, before[n])}
    assert moved and all("lora_" in n for n in moved)


def test_the_fast_sampler_applies_lora_adapters(tiny_student, tokenizer):
    pytest.importorskip("peft")
    student = prepare_student(tiny_student, lora_rank=4)
    _randomize_adapters(student)
    student.eval()
    assert unsupported_reason(student.get_base_model()) is None  # the fast path is the one taken
    fast, slow = _rollout(student, tokenizer), _rollout(student, tokenizer, fast=False)
    assert torch.equal(fast.sequences, slow.sequences)
    torch.testing.assert_close(fast.logprobs, slow.logprobs, atol=1e-5, rtol=1e-5)
    with student.disable_adapter():  # and the adapters change what is sampled
        base = _rollout(student, tokenizer)
    assert not torch.allclose(base.logprobs, fast.logprobs)


def test_a_bfloat16_teacher_scores_tokens_within_a_hundredth_of_a_nat_on_average(shipped):
    """The shipped teacher's log-probs of 64 student samples in bfloat16 against float32: 0.0035 nats per
    token on average and 0.22 at worst when measured; the test allows 0.01 and 0.5."""
    teacher, tokenizer = shipped["teacher"], shipped["tokenizer"]
    problems = shipped["task"].problems(64, "held_out", seed=5)
    prompts = encode_prompts(tokenizer, [p.prompt for p in problems])
    generator = torch.Generator().manual_seed(0)
    rollout = sample(
        shipped["student"], prompts, shipped["task"].max_completion_length, tokenizer, 1.0, generator
    )
    mask = rollout.completion_mask
    with torch.no_grad():
        full = token_logprobs(teacher, rollout.sequences, rollout.prompt_length)
        half = token_logprobs(
            copy.deepcopy(teacher).to(torch.bfloat16), rollout.sequences, rollout.prompt_length
        )
    assert half.dtype == torch.float32  # scores come back in float32 whatever the teacher's dtype
    difference = (full - half).abs() * mask
    assert difference.sum() / mask.sum() < 0.01
    assert difference.max() < 0.5


def test_gradient_checkpointing_gives_the_same_loss_and_gradients(tiny_student, tokenizer):
    rollout = _rollout(tiny_student, tokenizer)
    checkpointed = prepare_student(copy.deepcopy(tiny_student), gradient_checkpointing=True)
    assert unsupported_reason(checkpointed) is None  # no input hook left: the fast sampler still runs
    loss, grads = _loss_and_grads(tiny_student, rollout)
    loss_checkpointed, grads_checkpointed = _loss_and_grads(checkpointed, rollout)
    torch.testing.assert_close(loss_checkpointed, loss, atol=1e-6, rtol=1e-6)
    assert grads_checkpointed.keys() == grads.keys()
    for name in grads:
        torch.testing.assert_close(grads_checkpointed[name], grads[name], atol=1e-6, rtol=1e-5)


def test_gradient_checkpointing_with_lora_gives_the_adapters_the_same_gradients(tiny_student, tokenizer):
    pytest.importorskip("peft")
    rollout = _rollout(tiny_student, tokenizer)
    plain = prepare_student(copy.deepcopy(tiny_student), lora_rank=4)
    checkpointed = prepare_student(copy.deepcopy(tiny_student), lora_rank=4, gradient_checkpointing=True)
    for model in (plain, checkpointed):
        _randomize_adapters(model)
    _, grads = _loss_and_grads(plain, rollout)
    _, grads_checkpointed = _loss_and_grads(checkpointed, rollout)
    assert grads and grads_checkpointed.keys() == grads.keys()
    for name in grads:
        torch.testing.assert_close(grads_checkpointed[name], grads[name], atol=1e-6, rtol=1e-5)


def test_07s_student_is_trained_in_float32_where_a_step_of_one_millionth_moves_it(tiny_student, tokenizer):
    """labkit's decision for 07's trained student: float32 even on a GPU, as
    ``resolve_dtype(..., auto=float32)`` gives, because bfloat16's 8 significant bits round a 1e-6 AdamW step
    on a weight of ~0.02 away. One Trainer step at learning_rate=1e-6 on the student so resolved moves every
    entry of its transformer layers' weights; the same step on the student cast to bfloat16 moves almost none.
    """
    moved = {}
    for dtype in (resolve_dtype("auto", "cuda", auto=torch.float32), torch.bfloat16):
        student = copy.deepcopy(tiny_student).to(dtype)
        config = TrainConfig(method="sft", sft_data="reference", steps=1, batch_size=8, group_size=1,
                             eval_n=8, learning_rate=1e-6, warmup_steps=0, max_grad_norm=0.0)  # fmt: skip
        trainer = Trainer(config, student, tokenizer, AdditionTask(digits=2), progress=False)
        layers = {n: p for n, p in student.named_parameters() if ".layers." in n and p.dim() == 2}
        before = {n: p.detach().clone() for n, p in layers.items()}
        trainer.train_step(1)
        moved[dtype] = sum(int((p != before[n]).sum()) for n, p in layers.items()) / sum(
            p.numel() for p in layers.values()
        )
    assert moved[torch.float32] > 0.99
    assert moved[torch.bfloat16] < 0.05
