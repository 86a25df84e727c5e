"""The tuning score that picks every racer's settings (labkit.studies.tuning): what it rewards, and ties."""

import numpy as np
import pytest

from labkit.studies.tuning import choose, curve_score

BUDGET = 1e12
FLOPS = [0.0, *np.logspace(8, 12, 9).tolist()]  # the start, then evaluations evenly spaced in log-FLOPs


def _curve(accuracy):
    return {"flops": FLOPS, "accuracy": [0.05, *accuracy]}


def test_a_flat_curve_scores_its_accuracy():
    assert curve_score(_curve([0.4] * 9), BUDGET) == pytest.approx(0.4)


def test_a_curve_linear_in_log_flops_across_the_window_scores_its_midpoint():
    rising = (np.log10(FLOPS[1:]) - 10) / 2  # 0 at budget/100 (1e10), 1 at the budget, linear in log between
    assert curve_score(_curve(np.clip(rising, 0, 1).tolist()), BUDGET) == pytest.approx(0.5)


def test_reaching_a_level_earlier_scores_higher_at_the_same_final_accuracy():
    early = _curve([0.2, 0.5, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8])
    late = _curve([0.2, 0.2, 0.2, 0.2, 0.3, 0.4, 0.5, 0.7, 0.8])
    assert curve_score(early, BUDGET) > curve_score(late, BUDGET)


def test_ending_higher_scores_higher_at_the_same_start():
    assert curve_score(_curve([0.3] * 8 + [0.9]), BUDGET) > curve_score(_curve([0.3] * 9), BUDGET)


def test_the_start_before_any_training_does_not_count():
    curve = _curve([0.4] * 9)
    moved = {**curve, "accuracy": [0.9, *curve["accuracy"][1:]]}
    assert curve_score(moved, BUDGET) == curve_score(curve, BUDGET)


def test_the_highest_score_is_chosen_and_a_tie_goes_to_grid_order():
    tried = [
        {"settings": "a", "score": 0.5},
        {"settings": "b", "score": 0.7},
        {"settings": "c", "score": 0.7},
    ]
    assert choose(tried)["settings"] == "b"
    assert choose(tried[:1])["settings"] == "a"
