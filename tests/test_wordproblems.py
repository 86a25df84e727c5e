"""The word-problem task for real models: seeded disjoint splits,
and a verifier that only rewards the right number."""

from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.studies.wordproblems import WordProblemTask

TASK = WordProblemTask()


def test_reference_solutions_verify_and_splits_are_disjoint():
    train = TASK.problems(300, "train", seed=0)
    held_out = TASK.problems(100, "held_out", seed=0)
    assert not {p.prompt for p in train} & {p.prompt for p in held_out}
    assert all(TASK.reward(p, TASK.solution(p)[0]) == 1.0 for p in train + held_out)
    assert TASK.problems(5, seed=3) == TASK.problems(5, seed=3)


def test_the_verifier_prefers_the_marked_answer():
    p = TASK.problems(1)[0]
    assert TASK.reward(p, f" {p.answer + 1} apples, so #### {p.answer}") == 1.0
    assert TASK.reward(p, f" #### {p.answer + 1} (I think {p.answer})") == 0.0
    assert TASK.reward(p, f"The answer is {p.answer}.") == 1.0
    assert TASK.reward(p, "I don't know") == 0.0


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80))
def test_arbitrary_text_never_crashes_the_verifier(text):
    p = TASK.problems(1)[0]
    assert TASK.reward(p, text) in (0.0, 1.0)
