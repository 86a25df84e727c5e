import random

import pytest

from labkit.task import AdditionTask, Problem, final_answer, split_of

reward = AdditionTask().reward  # the verifier does not depend on the task's knobs


def test_train_and_held_out_splits_never_overlap():
    task = AdditionTask(digits=2)
    train = {(p.a, p.b) for p in task.problems(3000, "train", seed=0)}
    held_out = {(p.a, p.b) for p in task.problems(600, "held_out", seed=0)}
    assert train and held_out and not train & held_out
    assert all(split_of(a, b) == "held_out" for a, b in held_out)


def test_problems_are_seeded():
    task = AdditionTask(digits=3)
    assert task.problems(20, seed=5) == task.problems(20, seed=5)
    assert task.problems(20, seed=5) != task.problems(20, seed=6)


def test_canonical_solution_is_the_scratchpad():
    task = AdditionTask(digits=3)
    solution, mask = task.solution(Problem(357, 489, task.prompt(357, 489)))
    assert task.prompt(357, 489) == "357+489="
    assert solution == "7+9+0=16;5+8+1=14;3+4+1=8;846"
    assert mask == [1] * len(solution)


@pytest.mark.parametrize("style,corrections", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5), (1.0, 1.0)])
def test_every_reference_solution_earns_reward_one(style, corrections):
    task = AdditionTask(digits=4, style=style, corrections=corrections)
    rng = random.Random(0)
    for problem in task.problems(200, seed=1):
        solution, mask = task.solution(problem, rng)
        assert reward(problem, solution) == 1.0
        assert len(mask) == len(solution) <= task.max_completion_length


def test_style_knob_adds_variety_and_zero_style_is_deterministic():
    problem = AdditionTask(digits=3).problems(1)[0]
    rng = random.Random(0)
    assert len({AdditionTask(digits=3, style=0.0).solution(problem, rng)[0] for _ in range(50)}) == 1
    assert len({AdditionTask(digits=3, style=0.5).solution(problem, rng)[0] for _ in range(50)}) > 10


def test_mistaken_steps_are_masked_and_followed_by_a_correction():
    task = AdditionTask(digits=3, corrections=1.0)
    problem = Problem(357, 489, task.prompt(357, 489))
    solution, mask = task.solution(problem, random.Random(0))
    assert solution.count("!") == 3
    # every masked character belongs to a step that a '!' then replaces
    steps = solution.split(";")
    offset = 0
    for step in steps[:-1]:
        wrong, right = step.split("!")
        assert all(m == 0 for m in mask[offset : offset + len(wrong)])
        assert all(m == 1 for m in mask[offset + len(wrong) : offset + len(step) + 1])
        assert wrong != right and wrong.split("=")[0][:3] == right.split("=")[0][:3]
        offset += len(step) + 1


@pytest.mark.parametrize(
    "text,expected",
    [
        ("7+9+0=16;5+8+1=14;3+4+1=8;846", 846),
        ("846", 846),
        ("7+9+0=16, 846", 846),
        ("...;845!846", 846),
        ("7+9+0=16;5+8+1=14;3+4+1=8;", None),
        ("7+9+0=16", None),
        ("", None),
        ("84 6", None),
        ("８４６", None),
    ],
)
def test_final_answer_parsing(text, expected):
    assert final_answer(text) == expected


def test_reward_is_one_only_for_the_correct_answer():
    p = Problem(357, 489, "357+489=")
    assert reward(p, "846") == 1.0
    assert reward(p, "847") == 0.0
    assert reward(p, "garbage") == 0.0
    assert reward(p, None) == 0.0


@pytest.mark.parametrize("kwargs", [{"digits": 0}, {"digits": 2.5}, {"style": -0.1}, {"corrections": 1.5}])
def test_bad_knobs_are_refused_with_a_clear_message(kwargs):
    with pytest.raises(ValueError, match="must"):
        AdditionTask(**kwargs)


def test_bad_split_and_count_are_refused():
    with pytest.raises(ValueError, match="split"):
        AdditionTask().problems(3, split="test")
    with pytest.raises(ValueError, match="at least 1"):
        AdditionTask().problems(0)


def test_check_steps_judges_each_step_locally():
    from labkit.task import check_steps

    p = Problem(357, 489, "357+489=")
    assert check_steps(p, "7+9+0=16;5+8+1=14;3+4+1=8;846", 3) == [True, True, True]
    assert check_steps(p, "9+7+0=16, 8+5+1=14, 4+3+1=8, 846", 3) == [
        True,
        True,
        True,
    ]  # style does not matter
    # a wrong sum in column 0, then a step that consistently uses the carry it wrote:
    # only the first is a mistake
    assert check_steps(p, "7+9+0=6;5+8+0=13;3+4+1=8;836", 3) == [False, True, True]
    assert check_steps(p, "7+9+0=16;5+8+1=14", 3) == [True, None, None]
    assert check_steps(p, "7+9+0=15!7+9+0=16;5+8+1=14;3+4+1=8;846", 3) == [True, True, True]
    assert check_steps(p, "banana;5+8+1=14;x;846", 3) == [False, False, False]


def test_first_wrong_span_points_at_the_first_mistaken_step():
    from labkit.task import check_steps, first_wrong_span

    p = Problem(357, 489, "357+489=")
    text = "7+9+0=16;5+8+1=15;3+4+1=8;856"
    lo, hi = first_wrong_span(text, check_steps(p, text, 3))
    assert text[lo:hi] == "5+8+1=15;"


def test_tuning_and_build_sets_never_share_a_problem_with_the_race_set():
    from labkit.evaluate import RACE_RESERVE, held_out_set

    task = AdditionTask(digits=3)
    race = {p.prompt for p in held_out_set(task, RACE_RESERVE, "race")}
    for name in ("tuning", "build"):
        problems = held_out_set(task, 1000, name)
        assert len(problems) == 1000 and not race & {p.prompt for p in problems}
        assert all(split_of(p.a, p.b) == "held_out" for p in problems)
    assert held_out_set(task, 10, "race") == task.problems(
        10, "held_out", seed=1234
    )  # the curves' old problems
