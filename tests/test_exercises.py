"""Each exercise's checker accepts the worked solution, names every common mistake it claims to know, and
cannot be fooled: a loss that carries no gradient, a gradient into the teacher, an answer that changes its
inputs in place or returns a Python number all fail. ``try_in_training`` trains with the learner's
function."""

import pytest
import torch

from labkit import objectives, scoring, solutions
from labkit.exercises import (
    EXERCISES,
    IN_PLACE,
    NO_GRADIENT,
    TEACHER_GRADIENT,
    WRONG_GRADIENT,
    check,
    in_place_of,
    try_in_training,
)


def verdict(name, function, capsys):
    passed = check(name, function)
    return passed, capsys.readouterr().out


@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_checker_accepts_the_worked_solution(name, capsys):
    passed, out = verdict(name, getattr(solutions, name), capsys)
    assert passed and "correct" in out


@pytest.mark.parametrize(
    "name,words",
    [(name, words) for name, e in EXERCISES.items() for words in e.mistakes],
    ids=lambda x: str(x)[:40],
)
def test_the_checker_names_each_mistake_it_knows(name, words, capsys):
    passed, out = verdict(name, EXERCISES[name].mistakes[words], capsys)
    assert not passed
    assert words in out


def sft_item(logprobs, mask):
    return float(-(logprobs * mask).sum() / mask.sum())


def sft_detached(logprobs, mask):
    return (-(logprobs * mask).sum() / mask.sum()).detach()


def kl_no_grad(s, t):
    with torch.no_grad():
        return solutions.reverse_kl(s, t)


def kl_student_detached(s, t):
    return solutions.reverse_kl(s.detach(), t.detach())


@pytest.mark.parametrize(
    "name,function,words",
    [
        ("sft_loss", sft_detached, NO_GRADIENT),
        ("reverse_kl", kl_no_grad, NO_GRADIENT),
        ("reverse_kl", kl_student_detached, NO_GRADIENT),
        ("token_logprobs", lambda x, y: solutions.token_logprobs(x.detach(), y), NO_GRADIENT),
        ("sft_loss", sft_item, "not a torch tensor"),
    ],
    ids=["sft-detached", "kl-no-grad", "kl-student-detached", "logprobs-detached", "sft-item"],
)
def test_a_right_value_that_trains_nothing_fails(name, function, words, capsys):
    passed, out = verdict(name, function, capsys)
    assert not passed and words in out


def test_detaching_log_p_s_inside_the_kl_is_not_a_mistake(capsys):
    """sum_v p(v) grad log p(v) = grad sum_v p(v) = 0: the gradient flows through the weight p_s alone, so
    cutting log p_s out of the graph changes nothing (the identity notebook 04 derives)."""

    def log_term_detached(s, t):
        student = torch.log_softmax(s, -1)
        return (student.exp() * (student.detach() - torch.log_softmax(t.detach(), -1))).sum(-1)

    passed, _ = verdict("reverse_kl", log_term_detached, capsys)
    assert passed


def test_a_gradient_into_the_teacher_is_refused(capsys):
    def undetached(s, t):
        student, teacher = torch.log_softmax(s, -1), torch.log_softmax(t, -1)
        return (student.exp() * (student - teacher)).sum(-1)

    passed, out = verdict("reverse_kl", undetached, capsys)
    assert not passed and TEACHER_GRADIENT in out


def test_a_gradient_cut_somewhere_unknown_is_refused(capsys):
    def half_cut(s, t):  # the value is right; half the gradient is cut away
        kl = solutions.reverse_kl(s, t)
        return kl.detach() + 0.5 * (kl - kl.detach())

    passed, out = verdict("reverse_kl", half_cut, capsys)
    assert not passed and WRONG_GRADIENT in out


def test_an_answer_that_changes_its_inputs_fails(capsys):
    def masks_in_place(logprobs, mask):
        mask *= 1.0 + 0.0 * mask  # values unchanged: a no-op on the mask ...
        logprobs.data.mul_(mask)  # ... but this writes into the learner's input
        return -(logprobs * mask).sum() / mask.sum()

    passed, out = verdict("sft_loss", masks_in_place, capsys)
    assert not passed and IN_PLACE in out

    def zeroes_padding_in_place(student, teacher, mask):
        student[mask == 0] = 0.0
        return -(student - teacher).detach() * mask

    passed, out = verdict("opd_advantages", zeroes_padding_in_place, capsys)
    assert not passed and IN_PLACE in out


def test_a_gradient_through_the_opd_advantage_is_named(capsys):
    def leaky(student, teacher, mask):
        return -(student - teacher) * mask  # no stop-gradient

    passed, out = verdict("opd_advantages", leaky, capsys)
    assert not passed and EXERCISES["opd_advantages"].gradient_mistake in out


def test_an_unattempted_exercise_says_so_and_does_not_raise(capsys):
    def todo(logprobs, mask):
        raise NotImplementedError

    passed, out = verdict("sft_loss", todo, capsys)
    assert not passed and "not attempted yet" in out


def test_an_error_in_the_answer_is_reported_not_raised(capsys):
    passed, out = verdict("sft_loss", lambda lp, m: lp @ m, capsys)
    assert not passed and "it raised RuntimeError" in out


def test_an_unknown_mistake_is_still_refused(capsys):
    passed, out = verdict("reverse_kl", lambda s, t: torch.zeros(s.shape[:-1]) + 1.0, capsys)
    assert not passed and "matches no mistake" in out


def test_an_unknown_exercise_names_the_known_ones():
    with pytest.raises(KeyError, match="sft_loss"):
        check("sft", solutions.sft_loss)


def test_the_lab_trains_with_the_function_put_in_place_of_its_own(lab):
    """Inside the block the loop's module attribute is the learner's; afterwards the lab's own is back."""
    seen = []

    def mine(logprobs, mask):
        seen.append(logprobs.shape)
        return solutions.sft_loss(logprobs, mask)

    with in_place_of("sft_loss", mine):
        assert objectives.sft_loss is mine
    assert objectives.sft_loss is not mine
    original = scoring.token_logprobs
    with in_place_of("token_logprobs", solutions.token_logprobs):
        assert scoring.token_logprobs is not original
    assert scoring.token_logprobs is original


@pytest.mark.slow
def test_try_in_training_matches_the_lab_with_the_worked_solution(lab):
    tried = try_in_training("token_logprobs", solutions.token_logprobs, steps=4, n_eval=16, eval_points=2,
                            lab=lab)  # fmt: skip
    assert tried.error is None
    mine = [r["loss"] for r in tried.yours if "loss" in r]
    theirs = [r["loss"] for r in tried.reference if "loss" in r]
    assert len(mine) == 4 and mine == pytest.approx(theirs, rel=1e-4)
    assert "token_logprobs" in repr(tried)


@pytest.mark.slow
def test_try_in_training_shows_a_wrong_function_training_differently(lab):
    flipped = EXERCISES["opd_advantages"].mistakes[next(iter(EXERCISES["opd_advantages"].mistakes))]
    tried = try_in_training("opd_advantages", flipped, steps=3, n_eval=16, eval_points=2, lab=lab)
    mine = [r["loss"] for r in tried.yours if "loss" in r]
    theirs = [r["loss"] for r in tried.reference if "loss" in r]
    assert mine[0] == pytest.approx(
        -theirs[0], rel=1e-4
    )  # the same first batch, the advantage's sign flipped
    assert objectives.opd_advantages.__module__ == "labkit.objectives"  # the lab's own is back


@pytest.mark.slow
def test_try_in_training_keeps_what_a_broken_function_did(lab):
    def explodes(logprobs, mask):
        return logprobs.sum() * float("nan")

    tried = try_in_training("sft_loss", explodes, steps=3, n_eval=16, eval_points=2, lab=lab, reference=False)
    assert tried.error is not None and "stopped" in repr(tried)
    assert tried.yours  # the evaluation before the first step is kept
