"""Each exercise's checker accepts the worked solution and names every common mistake it claims to know."""

import pytest
import torch

from labkit import solutions
from labkit.exercises import EXERCISES, check


@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_checker_accepts_the_worked_solution(name, capsys):
    assert check(name, getattr(solutions, name))
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name,words",
    [(name, words) for name, e in EXERCISES.items() for words in e.mistakes],
    ids=lambda x: str(x)[:40],
)
def test_the_checker_names_each_mistake_it_knows(name, words, capsys):
    assert not check(name, EXERCISES[name].mistakes[words])
    assert words in capsys.readouterr().out


def test_a_gradient_through_the_opd_advantage_is_named():
    def leaky(student, teacher, mask):
        return -(student - teacher) * mask  # no stop-gradient

    assert not check("opd_advantages", leaky, verbose=False)
    assert EXERCISES["opd_advantages"].gradient_mistake.startswith("a gradient flows")


def test_an_unattempted_exercise_says_so_and_does_not_raise(capsys):
    def todo(logprobs, mask):
        raise NotImplementedError

    assert not check("sft_loss", todo)
    assert "not attempted yet" in capsys.readouterr().out


def test_an_unknown_mistake_is_still_refused(capsys):
    assert not check("reverse_kl", lambda s, t: torch.zeros(s.shape[:-1]) + 1.0)
    assert "matches no mistake" in capsys.readouterr().out
