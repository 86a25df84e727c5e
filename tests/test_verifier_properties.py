"""Property tests: the parser and verifier never crash, and only a correct final answer scores 1."""

from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.task import AdditionTask, Problem, check_steps, final_answer

reward = AdditionTask().reward  # the verifier does not depend on the task's knobs

problems = st.builds(
    lambda a, b: Problem(a, b, f"{a:03d}+{b:03d}="), st.integers(0, 999), st.integers(0, 999)
)
task_alphabet = st.text(alphabet="0123456789+=;,! ", max_size=60)


@settings(max_examples=400, deadline=None)
@given(problem=problems, text=st.one_of(st.text(max_size=80), task_alphabet))
def test_arbitrary_strings_never_crash_and_score_one_only_when_the_answer_is_right(problem, text):
    r = reward(problem, text)
    assert r in (0.0, 1.0)
    assert (r == 1.0) == (final_answer(text) == problem.answer)
    check_steps(problem, text, 3)


@settings(max_examples=300, deadline=None)
@given(problem=problems, prefix=task_alphabet, wrong=st.integers(0, 2000))
def test_a_wrong_final_number_never_scores(problem, prefix, wrong):
    if wrong == problem.answer:
        wrong += 1
    assert reward(problem, f"{prefix};{wrong}") == 0.0


@settings(max_examples=300, deadline=None)
@given(problem=problems, prefix=task_alphabet)
def test_the_right_final_number_scores_whatever_precedes_it(problem, prefix):
    assert reward(problem, f"{prefix};{problem.answer}") == 1.0


@settings(max_examples=200, deadline=None)
@given(
    a=st.integers(0, 99999),
    b=st.integers(0, 99999),
    style=st.floats(0, 1),
    corrections=st.floats(0, 1),
    seed=st.integers(0, 10**6),
)
def test_every_reference_solution_verifies_and_judges_all_steps_right(a, b, style, corrections, seed):
    import random

    task = AdditionTask(digits=5, style=style, corrections=corrections)
    problem = Problem(a, b, task.prompt(a, b))
    text, mask = task.solution(problem, random.Random(seed))
    assert reward(problem, text) == 1.0
    assert check_steps(problem, text, 5) == [True] * 5
