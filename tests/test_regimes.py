"""Cost ratios under each accounting, on a constructed comparison whose answer is known."""
import pytest

from labkit.regimes import common_level, cost_ratios, cost_to_reach


def _curve(xs, accuracy, student_share):
    return {"flops": xs, "seconds": [x / 1e9 for x in xs], "episodes": [x / 1e8 for x in xs], "accuracy": accuracy,
            "student_flops": xs[-1] * student_share}


SUMMARY = {"methods": {
    # opd reaches 0.6 at 2e10 total FLOPs, a quarter of them the student's
    "opd": {"curves": [_curve([0, 1e10, 2e10, 4e10], [0.3, 0.5, 0.6, 0.7], 0.25)] * 2},
    # rl reaches 0.6 only at 4e10 total, all of them the student's
    "rl": {"curves": [_curve([0, 2e10, 4e10, 8e10], [0.3, 0.5, 0.6, 0.65], 1.0)] * 2},
}}


def test_common_level_is_the_lowest_final_accuracy():
    assert common_level(SUMMARY) == 0.65


def test_cost_to_reach_takes_the_first_crossing():
    assert cost_to_reach(SUMMARY["methods"]["opd"], "flops", 0.6) == 2e10
    assert cost_to_reach(SUMMARY["methods"]["opd"], "flops", 0.9) is None


def test_the_accounting_decides_the_ratio():
    ratios = cost_ratios(SUMMARY, level=0.6)
    assert ratios["flops"]["rl"] == pytest.approx(2.0)  # opd half the total FLOPs
    assert ratios["student_flops"]["rl"] == pytest.approx(4e10 / (2e10 * 0.25))  # 8x when the teacher is free
    assert ratios["episodes"]["rl"] == pytest.approx(2.0) and ratios["flops"]["opd"] == 1.0
