"""Drift measurements on constructed cases."""

import math

import torch

from labkit.studies.drift import drift_from_logits, drift_profile, error_compounding, matched_compounding
from labkit.task import Problem


def _case(batch=8, length=10, vocab=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = 0.1 * torch.randn(batch, length, vocab, generator=g)  # near uniform: every token well above 5%
    tokens = torch.randint(0, vocab, (batch, length), generator=g)
    return logits, tokens, torch.ones(batch, length)


def test_identical_policies_give_zero_divergence():
    logits, tokens, mask = _case()
    profile = drift_from_logits(logits, logits.clone(), tokens, mask, unlikely=0.0)
    assert max(abs(x) for x in profile.reverse_kl) < 1e-6
    assert max(abs(x) for x in profile.prefix_log_ratio) < 1e-6
    assert profile.first_unlikely == [None] * 8


def test_a_divergence_planted_at_position_k_is_found_at_k():
    k = 6
    student, tokens, mask = _case()
    teacher = student.clone()
    teacher[:, k] = -20.0
    teacher[:, k].scatter_(
        -1, ((tokens[:, k] + 1) % 6)[:, None], 20.0
    )  # the teacher insists on another token at k
    profile = drift_from_logits(student, teacher, tokens, mask)
    assert profile.first_unlikely == [k] * 8
    assert max(range(10), key=lambda t: profile.reverse_kl[t]) == k
    assert all(abs(profile.reverse_kl[t]) < 1e-6 for t in range(10) if t != k)
    assert all(abs(x) < 1e-6 for x in profile.prefix_log_ratio[:k]) and profile.prefix_log_ratio[k] > 10
    assert profile.prefix_log_ratio[-1] == profile.prefix_log_ratio[k]  # no further drift after k


def test_positions_past_the_end_of_a_rollout_are_not_counted():
    student, tokens, mask = _case(batch=2, length=5)
    mask[1, 2:] = 0
    teacher = student.clone()
    teacher[1, 3] += torch.tensor([50.0, 0, 0, 0, 0, 0])  # a difference where rollout 1 has already ended
    profile = drift_from_logits(student, teacher, tokens, mask)
    assert profile.reached == [2, 2, 1, 1, 1] and abs(profile.reverse_kl[3]) < 1e-6


def test_a_model_does_not_drift_from_itself(tokenizer, tiny_student):
    from labkit.task import AdditionTask

    profile = drift_profile(tiny_student, tiny_student, tokenizer, AdditionTask(digits=2), n=16)
    assert max(abs(x) for x in profile.reverse_kl) < 1e-5 and profile.reached[0] == 16


def test_error_compounding_counts_steps_after_a_first_mistake():
    p = Problem(357, 489, "357+489=")
    result = error_compounding([p, p], ["7+9+0=16;5+8+1=14;3+4+1=8;846", "7+9+0=15;5+8+1=14;3+4+1=9;945"], 3)
    assert (result.clean_steps, result.clean_errors) == (
        4,
        1,
    )  # 3 clean steps of the first, the mistaken first step
    # after the first mistake: 5+8+1=14 is right given the carry it inherited, 3+4+1=9 is a new mistake
    assert (result.after_error_steps, result.after_error_errors) == (2, 1)
    assert result.first_error_column == [0] and math.isclose(result.ratio, 0.5 / 0.25)


def _synthetic_samples(compounding: float, samples: int = 40, problems: int = 300, digits: int = 4):
    """Completions whose steps go wrong independently at a per-problem rate (easy and hard problems), that
    rate multiplied by ``compounding`` after a first mistake."""
    import random

    rng = random.Random(0)
    out_problems, out_samples = [], []
    for _ in range(problems):
        a, b = rng.randrange(10**digits), rng.randrange(10**digits)
        rate = rng.choice([0.02, 0.3])  # difficulty varies between problems
        a_digits, b_digits = f"{a:0{digits}d}"[::-1], f"{b:0{digits}d}"[::-1]
        completions = []
        for _ in range(samples):
            steps, carry, seen = [], 0, False
            for j in range(digits):
                x, y = int(a_digits[j]), int(b_digits[j])
                wrong = rng.random() < rate * (compounding if seen else 1)
                total = x + y + carry + (1 if wrong else 0)
                steps.append(f"{x}+{y}+{carry}={total}")
                carry, seen = total // 10, seen or wrong
            completions.append(";".join(steps) + ";0")
        out_problems.append(Problem(a, b, f"{a}+{b}="))
        out_samples.append(completions)
    return out_problems, out_samples


def test_matched_compounding_removes_difficulty_and_keeps_real_compounding():
    problems, samples = _synthetic_samples(compounding=1.0)
    flat = [c for cs in samples for c in cs]
    raw = error_compounding([p for p, cs in zip(problems, samples) for _ in cs], flat, 4).ratio
    matched = matched_compounding(problems, samples, 4)
    assert raw > 1.5  # the raw ratio sees compounding where there is only difficulty
    low, high = matched.interval()
    assert 0.85 < matched.ratio < 1.15 and low < 1 < high
    problems, samples = _synthetic_samples(compounding=2.0)
    matched = matched_compounding(problems, samples, 4)
    assert 1.7 < matched.ratio < 2.3 and matched.interval()[0] > 1.4


def test_matched_compounding_leaves_out_columns_no_clean_sample_reached():
    p = Problem(357, 489, "357+489=")
    # one sample: a first-step mistake; nothing clean to compare its later steps with
    result = matched_compounding([p], [["7+9+0=15;5+8+1=14;3+4+1=9;945"]], 3)
    assert result.observed == [0.0] and result.expected == [0.0] and result.ratio is None
    # a clean sample right at columns 1 and 2: the mistaken sample's later errors are unexpected
    result = matched_compounding([p], [["7+9+0=15;5+8+1=14;3+4+1=9;945", "7+9+0=16;5+8+1=14;3+4+1=8;846"]], 3)
    assert result.observed == [1.0] and result.expected == [0.0] and result.ratio is None


def test_facts_and_mixed_tasks_share_prompt_lengths_and_verify():
    import random

    from labkit.studies.forgetting import FactsTask, MixedTask
    from labkit.task import AdditionTask

    facts = FactsTask(n_facts=32, digits=3)
    mixed = MixedTask(AdditionTask(digits=3), facts, knowledge_fraction=0.5)
    problems = mixed.problems(200, seed=1)
    assert {len(p.prompt) for p in problems} == {8}
    assert 60 < sum(hasattr(p, "value") for p in problems) < 140
    rng = random.Random(0)
    assert all(mixed.reward(p, mixed.solution(p, rng)[0]) == 1.0 for p in problems)
    assert len({f.key for f in facts.table}) == 32 and facts.table == FactsTask(n_facts=32, digits=3).table


def test_a_planted_mistake_breaks_only_the_last_step_and_keeps_its_style_and_carry():
    import random

    from labkit.studies.recovery import plant_mistake, reference_prefix, sampled_prefix
    from labkit.task import AdditionTask, check_steps

    task = AdditionTask(digits=4, style=0.5)
    rng = random.Random(0)
    for problem in task.problems(50, "held_out", seed=3):
        written = task.solution(problem, random.Random(problem.a))[0]  # a styled solution: order, spaces, ','
        prefix = sampled_prefix(problem, written, 3, 4)
        planted = plant_mistake(prefix, rng)
        assert check_steps(problem, prefix, 4)[:3] == [True, True, True]
        assert check_steps(problem, planted, 4)[:3] == [True, True, False]
        assert len(planted) - len(prefix) in (-1, 0, 1) and planted[-1] == prefix[-1]
        assert planted[: prefix.rfind(prefix[-1], 0, -1) + 1] == prefix[: prefix.rfind(prefix[-1], 0, -1) + 1]
        true_total, wrong_total = (int(p.rsplit("=", 1)[1].rstrip(";, ")) for p in (prefix, planted))
        assert true_total // 10 == wrong_total // 10  # the carry is kept
        clean = reference_prefix(task, problem, 3)
        assert check_steps(problem, clean, 4)[:3] == [True, True, True] and clean.count(";") == 3
        assert sampled_prefix(problem, planted + "1;", 3, 4) is None


def test_a_planted_mistake_rewrites_the_last_try_of_a_corrected_step():
    import random

    from labkit.studies.recovery import plant_mistake
    from labkit.task import check_steps

    p = Problem(357, 489, "357+489=")
    prefix = "7+9+0=16;5+8+1=13! 5+8+1=14;"  # students can write the correction mark the task never shows
    assert check_steps(p, prefix, 3)[:2] == [True, True]
    planted = plant_mistake(prefix, random.Random(0))
    assert planted.startswith("7+9+0=16;5+8+1=13! ") and check_steps(p, planted, 3)[:2] == [True, False]


def test_next_step_accuracy_separates_a_skilled_model_from_an_untrained_one(shipped, tiny_student):
    from labkit.studies.recovery import PREFIX_KINDS, next_step_accuracy

    task, teacher, tokenizer = shipped["task"], shipped["teacher"], shipped["tokenizer"]
    skilled = next_step_accuracy(teacher, teacher, tokenizer, task, n=48, seed=5)
    assert set(skilled.outcomes) == set(PREFIX_KINDS) and len(set(skilled.total.values())) == 1
    assert skilled.total["own"] > 40  # the teacher's prefixes are nearly always right
    assert skilled.rate("own") > 0.9 and skilled.rate("planted") > 0.8
    untrained = next_step_accuracy(tiny_student, teacher, tokenizer, task, n=48, seed=5)
    assert untrained.total["own"] <= 2  # an untrained model never writes a right prefix to test on


def test_first_mistakes_are_told_apart_by_what_they_do_to_the_carry():
    from labkit.studies.drift import first_mistake_kind, true_carries

    p = Problem(357, 489, "357+489=")
    assert true_carries(p, 3) == [0, 1, 1]
    assert first_mistake_kind(p, "7+9+0=15;5+8+1=14;3+4+1=8;856", 0, 3) == "carry kept"
    assert first_mistake_kind(p, "7+9+0=6;5+8+0=13;3+4+1=8;836", 0, 3) == "carry flipped"
    assert first_mistake_kind(p, "7+9+0=x;5+8+1=14;3+4+1=8;846", 0, 3) == "garbled or missing"
    assert first_mistake_kind(p, "7+9+0=16;5+8+1", 1, 3) == "garbled or missing"
    samples = [
        "7+9+0=16;5+8+1=14;3+4+1=8;846",  # clean
        "7+9+0=6;5+8+0=13;3+4+1=8;836",  # flipped, then reads the carry it wrote: locally right
        "7+9+0=6;5+8+1=14;3+4+1=8;846",  # flipped, then recomputes the true carry: locally wrong
        "7+9+0=15;5+8+1=14;3+4+1=8;856",  # carry kept, then right
    ]
    result = matched_compounding([p], [samples], 3)
    assert (result.carry_read, result.carry_recomputed) == (1, 1)
    assert result.by_kind["carry flipped"][0] == [1.0] and result.by_kind["carry kept"][0] == [0.0]
    assert result.observed == [1.0] and result.kind("carry flipped").observed == [1.0]


def test_dropping_the_carry_flips_only_the_last_steps_carry_out():
    from labkit.studies.recovery import drop_carry
    from labkit.task import check_steps, written_step

    p = Problem(357, 489, "357+489=")
    prefix = "9+7+0=16;5+8+1=14,"
    dropped = drop_carry(prefix)
    assert dropped == "9+7+0=16;5+8+1=4,"
    assert check_steps(p, dropped, 3)[:2] == [True, False] and written_step(dropped + "3+4+0=7;", 2)[2] == 0
    # the locally right next step now takes carry 0, as written
    assert (
        check_steps(p, dropped + "3+4+0=7;", 3)[2] is True
        and check_steps(p, dropped + "3+4+1=8;", 3)[2] is False
    )
    assert drop_carry("7+9+0=16;") == "7+9+0=6;" and drop_carry("1+2+0=3;") is None


def test_carry_flip_recovery_is_paired_and_reads_a_carry_per_problem(shipped):
    from labkit.studies.recovery import carry_flip_recovery

    task, teacher, tokenizer = shipped["task"], shipped["teacher"], shipped["tokenizer"]
    result = carry_flip_recovery(teacher, tokenizer, task, n=64, seed=5)
    n = len(result.own)
    assert n > 10 and len(result.flipped) == len(result.takes_written) == len(result.takes_true) == n
    assert sum(result.own) / n > 0.9  # the teacher writes the step after its own correct steps
    assert not any(w and t for w, t in zip(result.takes_written, result.takes_true))
    assert sum(result.takes_written) + sum(result.takes_true) > 0.8 * n  # nearly every next step takes 0 or 1


def test_a_mistaken_prefix_ends_after_the_first_wrong_readable_step_with_a_column_left():
    from labkit.studies.recovery import mistaken_prefix

    p = Problem(357, 489, "357+489=")  # columns 7+9, 5+8+1, 3+4+1
    assert mistaken_prefix(p, "7+9+0=16;5+8+1=15;3+4+1=8;856", 3) == "7+9+0=16;5+8+1=15;"
    assert mistaken_prefix(p, "9+7+0=15;5+8+0=13;3+4+1=8;835", 3) == "9+7+0=15;"  # style kept as written
    assert mistaken_prefix(p, "7+9+0=16;5+8+1=14;3+4+1=8;846", 3) is None  # no mistake
    assert mistaken_prefix(p, "7+9+0=16;5+8+1=14;3+4+1=9;946", 3) is None  # wrong only in the last column
    assert mistaken_prefix(p, "7+9+0=16;5+8+1=;3+4+1=8;846", 3) is None  # the first wrong step is unreadable


def test_the_teacher_in_the_students_states_is_measured_on_the_same_problems(shipped):
    from labkit.studies.recovery import teacher_in_student_states

    task, teacher, student, tokenizer = (shipped[k] for k in ("task", "teacher", "student", "tokenizer"))
    home = teacher_in_student_states(teacher, student, tokenizer, task, n=96, seed=5)
    n = len(home.after_student_mistake)
    assert n > 5 and len(home.after_reference) == n and len(home.after_own) <= n
    assert home.rate("after_reference") > 0.9  # the teacher writes the next step of clean text
    # a model graded in its own mistaken states: the student after its own first mistakes does worse than the
    # teacher does there (the measurement tells a skilled writer from an unskilled one)
    weak = teacher_in_student_states(student, student, tokenizer, task, n=96, seed=5)
    assert weak.rate("after_student_mistake") < home.rate("after_student_mistake")
