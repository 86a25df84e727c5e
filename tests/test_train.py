"""The shared loop: every method trains, logs what it should, and improves its own objective."""

import json

import pytest
import torch

from labkit import objectives
from labkit.encoding import encode_prompts
from labkit.errors import LabkitError
from labkit.sampling import sample, token_logprobs
from labkit.task import AdditionTask
from labkit.train import METHODS, TrainConfig, Trainer, learning_rate_at, train

TASK = AdditionTask(digits=2)
LOGGED = {"step", "loss", "reward", "teacher_kl", "entropy", "tokens", "flops", "seconds"}


def _student_teacher_kl(student, teacher, tokenizer, n=64, seed=99):
    """Exact per-token reverse KL of student to teacher on fresh student samples (a fixed seed)."""
    problems = TASK.problems(n, "held_out", seed=seed)
    rollout = sample(
        student,
        encode_prompts(tokenizer, [p.prompt for p in problems]),
        TASK.max_completion_length,
        tokenizer,
        1.0,
        torch.Generator().manual_seed(seed),
    )
    with torch.no_grad():
        _, s = token_logprobs(student, rollout.sequences, rollout.prompt_length, return_logits=True)
        _, t = token_logprobs(teacher, rollout.sequences, rollout.prompt_length, return_logits=True)
    return float(objectives.masked_mean(objectives.reverse_kl(s, t), rollout.completion_mask))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_and_logs_the_shared_fields(
    method, tokenizer, tiny_student, tiny_teacher, tmp_path
):
    config = TrainConfig(method=method, steps=2, batch_size=4, group_size=2, eval_n=8)
    result = train(
        config, tiny_student, tokenizer, TASK, teacher=tiny_teacher, out_dir=tmp_path, progress=False
    )
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2] and rows == result.history
    for row in rows[1:]:
        assert LOGGED <= set(row), LOGGED - set(row)
    assert rows[2]["flops"] > rows[1]["flops"] > 0 and rows[2]["seconds"] > 0
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows[1:])
    assert (tmp_path / "final" / "model.safetensors").exists()


def test_ledger_charges_teacher_and_student_where_each_method_spends_them(
    tokenizer, tiny_student, tiny_teacher
):
    def ledger(method, **kw):
        config = TrainConfig(method=method, steps=1, batch_size=4, group_size=2, eval_n=4, **kw)
        return train(config, tiny_student, tokenizer, TASK, teacher=tiny_teacher, progress=False).ledger

    sft, sft_ref, rl, opd = ledger("sft"), ledger("sft", sft_data="reference"), ledger("rl"), ledger("opd")
    assert sft.teacher_sampling > 0 and sft.student_sampling == 0 and sft.teacher_scoring == 0
    assert sft_ref.teacher == 0
    assert rl.teacher == 0 and rl.student_sampling > 0
    assert opd.teacher_scoring > 0 and opd.teacher_sampling == 0 and opd.student_sampling > 0


def test_gkd_on_teacher_samples_charges_the_teacher_one_pass_over_their_tokens(
    tokenizer, tiny_student, tiny_teacher
):
    from labkit.flops import forward_flops_per_token

    trainer = Trainer(TrainConfig(method="gkd", lmbda=0.0, batch_size=4, group_size=2), tiny_student,
                      tokenizer, TASK, teacher=tiny_teacher, progress=False)  # fmt: skip
    batch = trainer.make_batch(1)
    assert not batch.on_policy and batch.teacher_logits is not None
    n, length = batch.sequences.shape
    one_pass = n * (length - 1) * forward_flops_per_token(tiny_teacher, length / 2)
    assert trainer.ledger.teacher_scoring == 0  # the sampler's logits are the scores: no second pass
    assert trainer.ledger.teacher == pytest.approx(one_pass, rel=1e-9)


def test_every_evaluation_keeps_its_per_problem_outcomes(tokenizer, tiny_student):
    from labkit.evaluate import unpack_correct

    config = TrainConfig(method="sft", sft_data="reference", steps=1, batch_size=4, group_size=1, eval_n=40,
                         eval_greedy=True)  # fmt: skip
    for row in train(config, tiny_student, tokenizer, TASK, progress=False).evals():
        for accuracy, correct in (("eval_accuracy", "eval_correct"), ("greedy_accuracy", "greedy_correct")):
            outcomes = unpack_correct(row[correct], n=40)
            assert outcomes.mean() == pytest.approx(row[accuracy])


@pytest.mark.parametrize(
    "method,extra", [("opd", {}), ("opd-exact", {}), ("gkd", {"lmbda": 1.0, "beta": 0.0})]
)
def test_distillation_lowers_the_students_reverse_kl_to_the_teacher(
    method, extra, tokenizer, tiny_student, tiny_teacher
):
    before = _student_teacher_kl(tiny_student, tiny_teacher, tokenizer)
    config = TrainConfig(
        method=method,
        steps=15,
        batch_size=8,
        group_size=4,
        learning_rate=3e-3,
        warmup_steps=2,
        eval_n=8,
        **extra,
    )
    train(config, tiny_student, tokenizer, TASK, teacher=tiny_teacher, progress=False)
    after = _student_teacher_kl(tiny_student, tiny_teacher, tokenizer)
    assert after < 0.8 * before, (before, after)


def test_gkd_lowers_its_generalized_jsd(tokenizer, tiny_student, tiny_teacher):
    problems = TASK.problems(32, "held_out", seed=5)
    rollout = sample(
        tiny_teacher,
        encode_prompts(tokenizer, [p.prompt for p in problems]),
        TASK.max_completion_length,
        tokenizer,
        1.0,
        torch.Generator().manual_seed(5),
    )

    def jsd():
        with torch.no_grad():
            _, s = token_logprobs(tiny_student, rollout.sequences, rollout.prompt_length, return_logits=True)
            _, t = token_logprobs(tiny_teacher, rollout.sequences, rollout.prompt_length, return_logits=True)
        return float(objectives.masked_mean(objectives.generalized_jsd(s, t, 0.5), rollout.completion_mask))

    before = jsd()
    train(
        TrainConfig(
            method="gkd", steps=15, batch_size=8, group_size=4, learning_rate=3e-3, warmup_steps=2, eval_n=8
        ),
        tiny_student,
        tokenizer,
        TASK,
        teacher=tiny_teacher,
        progress=False,
    )
    assert jsd() < 0.8 * before


def test_sft_lowers_cross_entropy_on_held_out_reference_solutions(tokenizer, tiny_student):
    from labkit.encoding import encode_completions

    problems = TASK.problems(64, "held_out", seed=3)
    ids, mask = encode_completions(tokenizer, [TASK.solution(p)[0] for p in problems])
    sequences = torch.cat([encode_prompts(tokenizer, [p.prompt for p in problems]), ids], 1)

    def cross_entropy():
        with torch.no_grad():
            return float(
                objectives.sft_loss(
                    token_logprobs(tiny_student, sequences, len(problems[0].prompt) + 1), mask
                )
            )

    before = cross_entropy()
    train(
        TrainConfig(
            method="sft",
            sft_data="reference",
            steps=15,
            batch_size=16,
            group_size=1,
            learning_rate=3e-3,
            warmup_steps=2,
            eval_n=8,
        ),
        tiny_student,
        tokenizer,
        TASK,
        progress=False,
    )
    assert cross_entropy() < 0.9 * before


def test_sft_loss_counts_exactly_the_unmasked_completion_tokens(tokenizer, tiny_student):
    """Prompt tokens, padding and the masked mistaken steps of a corrections task never enter the loss."""
    task = AdditionTask(digits=2, corrections=1.0)
    trainer = Trainer(
        TrainConfig(method="sft", sft_data="reference", batch_size=4, group_size=1),
        tiny_student,
        tokenizer,
        task,
        progress=False,
    )
    batch = trainer.make_batch(1)
    loss, _ = trainer.loss(batch)
    # by hand: cross-entropy over the characters each solution's own mask keeps, plus each eos
    total, count = 0.0, 0
    with torch.no_grad():
        for _problem, row in zip(batch.problems, batch.sequences):
            logits = tiny_student(row[None]).logits[0, batch.prompt_length - 1 : -1]
            logp = torch.log_softmax(logits, -1).gather(-1, row[batch.prompt_length :, None]).squeeze(-1)
            completion = row[batch.prompt_length :].tolist()
            n = completion.index(tokenizer.eos_token_id) + 1
            text_sampled = tokenizer.decode(completion[: n - 1])
            keep = _mask_of(text_sampled) + [1]
            total -= float((logp[:n] * torch.tensor(keep, dtype=logp.dtype)).sum())
            count += sum(keep)
    assert 0 < count < int((batch.sequences[:, batch.prompt_length :] != tokenizer.pad_token_id).sum())
    torch.testing.assert_close(loss, torch.tensor(total / count), rtol=1e-5, atol=1e-5)


def _mask_of(solution: str) -> list[int]:
    """1 on every character except those of a step that a '!' then corrects."""
    mask = []
    for field in solution.split(";"):
        if "!" in field:
            wrong, right = field.split("!")
            mask += [0] * len(wrong) + [1] * (1 + len(right))
        else:
            mask += [1] * len(field)
        mask.append(1)  # the separator
    return mask[:-1]


def test_rl_step_raises_the_likelihood_of_above_average_samples(tokenizer, tiny_student):
    """One GRPO step pushes probability towards samples with positive advantage and away from the others."""
    trainer = Trainer(
        TrainConfig(
            method="rl", batch_size=4, group_size=8, learning_rate=1e-2, warmup_steps=0, max_grad_norm=0
        ),
        tiny_student,
        tokenizer,
        TASK,
        progress=False,
    )
    batch = trainer.make_batch(1)
    # the tiny random student never earns a reward, so plant one: reward the longest sample in each group
    lengths = batch.mask.sum(1).view(4, 8)
    rewards = (lengths == lengths.max(1, keepdim=True).values).float()
    batch.rewards = rewards.view(-1)
    batch.advantages = objectives.grpo_advantages(rewards).view(-1)[:, None] * batch.mask
    with torch.no_grad():
        before = (token_logprobs(tiny_student, batch.sequences, batch.prompt_length) * batch.mask).sum(1)
    loss, _ = trainer.loss(batch)
    trainer.optimizer.zero_grad()
    loss.backward()
    trainer.optimizer.step()
    with torch.no_grad():
        after = (token_logprobs(tiny_student, batch.sequences, batch.prompt_length) * batch.mask).sum(1)
    change = after - before
    positive = batch.advantages.sum(1) > 0
    negative = batch.advantages.sum(1) < 0
    assert change[positive].mean() > 0 > change[negative].mean()


def test_learning_rate_warms_up_then_decays_to_its_floor_on_the_last_step():
    c = TrainConfig(steps=100, warmup_steps=10, learning_rate=1e-3)
    lrs = [learning_rate_at(c, s) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3) and lrs[10] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert lrs[-1] == pytest.approx(1e-4)
    constant = TrainConfig(steps=20, warmup_steps=0, learning_rate=1e-3, lr_schedule="constant")
    assert [learning_rate_at(constant, s) for s in range(20)] == [1e-3] * 20


def test_rl_kl_penalty_is_zero_at_the_start_policy_at_any_temperature(tokenizer, tiny_student):
    for temperature in (1.0, 0.7):
        plain = Trainer(
            TrainConfig(method="rl", batch_size=4, group_size=2, temperature=temperature),
            tiny_student,
            tokenizer,
            TASK,
            progress=False,
        )
        penalised = Trainer(
            TrainConfig(method="rl", batch_size=4, group_size=2, temperature=temperature, kl_coef=1.0),
            tiny_student,
            tokenizer,
            TASK,
            progress=False,
        )
        batch = plain.make_batch(1)
        torch.testing.assert_close(penalised.loss(batch)[0], plain.loss(batch)[0])


def test_importance_ratio_is_one_on_the_sampling_policy_at_any_temperature(
    tokenizer, tiny_student, tiny_teacher
):
    """The loss recomputes exactly the log-probs the sampler used,
    so the first ratio is 1 and the loss is -mean(A)."""
    for temperature in (1.0, 0.6):
        trainer = Trainer(
            TrainConfig(method="opd", batch_size=4, group_size=2, temperature=temperature),
            tiny_student,
            tokenizer,
            TASK,
            teacher=tiny_teacher,
            progress=False,
        )
        batch = trainer.make_batch(1)
        loss, _ = trainer.loss(batch)
        expected = -objectives.masked_mean(batch.advantages, batch.mask)
        torch.testing.assert_close(loss, expected, rtol=1e-4, atol=1e-5)


def test_opd_options_reach_the_advantages(tokenizer, tiny_student, tiny_teacher):
    def advantages(**kw):
        trainer = Trainer(
            TrainConfig(method="opd", batch_size=4, group_size=2, seed=1, **kw),
            tiny_student,
            tokenizer,
            TASK,
            teacher=tiny_teacher,
            progress=False,
        )
        return trainer.make_batch(1)

    plain, doubled, discounted = (
        advantages(),
        advantages(kl_penalty_coef=2.0),
        advantages(kl_discount_factor=1.0),
    )
    assert plain.advantages.abs().max() > 0
    torch.testing.assert_close(doubled.advantages, 2 * plain.advantages)
    # discount 1: each position carries the sum of the per-token advantages from there to the end
    expected = plain.advantages.flip(1).cumsum(1).flip(1) * plain.mask
    torch.testing.assert_close(discounted.advantages, expected, rtol=1e-5, atol=1e-5)


def test_monitoring_never_changes_what_is_trained(tokenizer, tiny_sizes):
    from labkit.models import build_model

    weights = []
    for monitor_size in (4, 32):
        student = build_model(tiny_sizes[0], tokenizer, seed=1)
        teacher = build_model(tiny_sizes[1], tokenizer, seed=2)
        train(
            TrainConfig(
                method="sft", steps=3, batch_size=4, group_size=2, eval_n=8, monitor_size=monitor_size
            ),
            student,
            tokenizer,
            TASK,
            teacher=teacher,
            progress=False,
        )
        weights.append(student.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("method", "ppo", "unknown method 'ppo'"),
        ("steps", 0, "steps must be a whole number of at least 1"),
        ("steps", -3, "steps must be"),
        ("batch_size", 0, "batch_size must"),
        ("group_size", 0, "group_size must"),
        ("temperature", 0.0, "temperature must be > 0"),
        ("learning_rate", -1.0, "learning_rate must be a positive number"),
        ("beta", 1.5, r"beta must lie in \[0, 1\]"),
        ("sft_data", "web", "sft_data must be"),
        ("kl_penalty_coef", -1.0, "kl_penalty_coef must be >= 0"),
        ("eval_temperature", float("nan"), "eval_temperature must be a finite number"),
        ("steps", True, "steps must be a whole number"),
        ("group_size", 1, "rl needs group_size >= 2"),
    ],
)
def test_bad_settings_get_a_clear_error(field, value, message):
    with pytest.raises(LabkitError, match=message):
        TrainConfig(
            **{"method": "rl", field: value} if field == "group_size" and value == 1 else {field: value}
        ).validate()


def test_methods_that_need_a_teacher_say_so(tokenizer, tiny_student):
    with pytest.raises(LabkitError, match="needs a teacher"):
        Trainer(TrainConfig(method="opd"), tiny_student, tokenizer, TASK)


def test_a_flop_budget_stops_every_method_at_the_same_compute(tokenizer, tiny_student, tiny_teacher):
    budget = 2.5e8
    spent = {}
    from labkit.models import ModelSize, build_model

    for method in ("sft", "rl", "opd"):
        config = TrainConfig(
            method=method,
            steps=1000,
            batch_size=4,
            group_size=2,
            eval_n=8,
            flop_budget=budget,
            eval_points=4,
            learning_rate=1e-3,
            warmup_steps=1,
        )
        result = train(
            config,
            build_model(ModelSize(1, 32, 2, 64), tokenizer, seed=1),
            tokenizer,
            TASK,
            teacher=tiny_teacher,
            progress=False,
        )
        rows = result.history
        spent[method] = rows[-1]["flops"]
        assert (
            rows[-1]["flops"] >= budget and rows[-2]["flops"] < budget
        )  # stops at the first step past the budget
        assert 4 <= len(result.evals()) <= 6  # the start, ~4 points along the budget, the end
        assert rows[-1]["lr"] < rows[2]["lr"]  # decays over compute
    assert spent["rl"] < 1.3 * budget and spent["opd"] < 1.5 * budget


def test_budgets_that_cannot_be_met_are_named(tokenizer, tiny_student, tiny_teacher):
    with pytest.raises(LabkitError, match="below the cost of one opd step"):
        train(
            TrainConfig(method="opd", steps=5, batch_size=4, group_size=2, eval_n=8, flop_budget=10.0),
            tiny_student,
            tokenizer,
            TASK,
            teacher=tiny_teacher,
            progress=False,
        )
    with pytest.raises(LabkitError, match="reached its step cap"):
        train(
            TrainConfig(method="opd", steps=2, batch_size=4, group_size=2, eval_n=8, flop_budget=1e12),
            tiny_student,
            tokenizer,
            TASK,
            teacher=tiny_teacher,
            progress=False,
        )


@pytest.mark.parametrize("method", ["sft", "opd"])
def test_monitor_every_thins_the_watching_not_the_training(tokenizer, tiny_sizes, method):
    from labkit.models import build_model

    runs = {}
    for every in (1, 3, 0):
        student = build_model(tiny_sizes[0], tokenizer, seed=1)
        teacher = build_model(tiny_sizes[1], tokenizer, seed=2)
        result = train(
            TrainConfig(method=method, steps=7, batch_size=4, group_size=2, eval_n=8, monitor_every=every),
            student,
            tokenizer,
            TASK,
            teacher=teacher,
            progress=False,
        )
        runs[every] = (result.history, student.state_dict())
    watched = [row["step"] for row in runs[3][0] if "teacher_kl" in row]
    assert watched == [1, 4, 7] and len([r for r in runs[1][0] if "teacher_kl" in r]) == 7
    # on-policy samples carry their reward for free, so it is logged on every step
    assert all(("reward" in r) == (method == "opd") for r in runs[3][0][1:] if r["step"] not in watched)
    for every_step, thinned in zip(runs[1][0][1:], runs[3][0][1:]):
        assert every_step["loss"] == thinned["loss"]
        if "teacher_kl" in thinned:
            assert every_step["teacher_kl"] == thinned["teacher_kl"]
    assert all(torch.equal(runs[1][1][k], runs[3][1][k]) for k in runs[1][1])
    assert not any("teacher_kl" in row for row in runs[0][0])  # 0: only what is free


def test_silent_groups_count_the_groups_whose_rewards_are_all_equal(tokenizer, tiny_student):
    """GRPO gets no signal from a group whose samples all fail (or all succeed): its share is logged."""
    from labkit.task import AdditionTask
    from labkit.train import TrainConfig, Trainer

    config = TrainConfig(method="rl", steps=1, batch_size=3, group_size=4, eval_points=1, eval_n=8)
    trainer = Trainer(config, tiny_student, tokenizer, AdditionTask(digits=2), progress=False)
    batch = trainer.make_batch(1)
    batch.rewards = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    assert trainer._reward_row(batch) == pytest.approx({"reward": 5 / 12, "silent_groups": 2 / 3})
    row = trainer.train_step(1)
    assert 0.0 <= row["silent_groups"] <= 1.0  # logged on every on-policy step
