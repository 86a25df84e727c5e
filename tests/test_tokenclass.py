"""Token classes: each character of a solution is put in the class of the job it does."""

import pytest


def _classes(completion, a=357, b=489):
    from labkit.studies.tokenclass import token_classes
    from labkit.task import Problem

    return token_classes(Problem(a, b, f"{a:03d}+{b:03d}="), completion, 3)


def test_free_choices_are_style_and_determined_tokens_are_not():
    got = _classes("9+7+0=16, 8+5+1=14,3+4+1=8, 846")
    assert got[:9] == ["style", "syntax", "digit", "syntax", "carry", "syntax", "sum", "sum", "style"]
    assert got[9] == "style"  # the space after a separator
    assert got[18] == "syntax"  # a later separator only follows the first one's choice
    assert got[19] == "boundary"  # no space written: this token also carries the space-or-not choice
    assert got[-4:] == ["answer", "answer", "answer", "end"]


def test_a_column_with_equal_digits_has_no_free_order():
    assert _classes("5+5+0=10;0+0+1=1;1+1+0=2;210", a=105, b=105)[0] == "digit"


def test_corrections_and_garbage_are_classed_not_dropped():
    completion = "7+9+0=15!7+9+0=16;zz;846"
    got = _classes(completion)
    assert len(got) == len(completion) + 1
    assert got[8] == "syntax" and got[9] == "digit"  # the correction mark; the redone step keeps its order
    assert got[18:20] == ["boundary", "other"]


def test_the_teacher_measured_against_itself_has_no_divergence_and_style_is_where_its_entropy_is(shipped):
    from labkit.studies.tokenclass import class_profile

    profile = class_profile(
        shipped["teacher"], shipped["teacher"], shipped["tokenizer"], shipped["task"], n=64
    )
    assert all(abs(v["reverse_kl"]) < 1e-5 and abs(v["advantage"]) < 1e-5 for v in profile.values())
    assert profile["style"]["teacher_entropy"] > 0.5 > 10 * profile["sum"]["teacher_entropy"]


@pytest.mark.parametrize("method", ["opd", "rl"])
def test_the_tracker_logs_each_class_mean_advantage_of_on_policy_batches(shipped, method):
    from labkit.studies.tokenclass import advantage_tracker
    from labkit.train import TrainConfig, train

    task, tokenizer = shipped["task"], shipped["tokenizer"]
    on_step, rows = advantage_tracker(tokenizer, task.digits)
    student = type(shipped["student"])(shipped["student"].config)
    student.load_state_dict(shipped["student"].state_dict())
    config = TrainConfig(method=method, steps=2, batch_size=4, group_size=2, eval_points=1, eval_n=8)
    train(config, student, tokenizer, task, teacher=shipped["teacher"], progress=False, on_step=on_step)
    assert [r["step"] for r in rows] == [1, 2]
    assert {"style", "sum", "end"} <= set(rows[0])
    if method == "opd":  # per-token advantages differ by class; RL's one number per sequence is shared
        assert len({round(v, 6) for k, v in rows[0].items() if k != "step"}) > 1


def test_a_special_token_mid_completion_does_not_shift_the_classes_after_it(tokenizer):
    from types import SimpleNamespace

    import torch

    from labkit.studies.tokenclass import batch_classes, token_classes
    from labkit.task import Problem

    problem, text = Problem(357, 489, "357+489="), "7+9+0=16;5+8+1=14;3+4+1=8;846"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    with_pad = ids[:3] + [tokenizer.pad_token_id] + ids[3:] + [tokenizer.eos_token_id]
    prompt = tokenizer(problem.prompt)["input_ids"]
    batch = SimpleNamespace(
        problems=[problem], sequences=torch.tensor([prompt + with_pad]), prompt_length=len(prompt),
        mask=torch.ones(1, len(with_pad)),
    )  # fmt: skip
    got = batch_classes(tokenizer, batch, 3)[0]
    expected = token_classes(problem, text, 3)
    assert got[3] == "other" and got[:3] + got[4:] == expected
