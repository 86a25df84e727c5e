"""Cost ratios under each accounting, on a constructed comparison whose answer is known."""

import pytest

from labkit.studies.costs import common_level, cost_ratios, cost_to_reach


def _curve(xs, accuracy, student_share):
    return {
        "flops": xs,
        "seconds": [x / 1e9 for x in xs],
        "episodes": [x / 1e8 for x in xs],
        "accuracy": accuracy,
        "student_flops": xs[-1] * student_share,
    }


SUMMARY = {
    "methods": {
        # opd reaches 0.6 at 2e10 total FLOPs, a quarter of them the student's
        "opd": {"curves": [_curve([0, 1e10, 2e10, 4e10], [0.3, 0.5, 0.6, 0.7], 0.25)] * 2},
        # rl reaches 0.6 only at 4e10 total, all of them the student's
        "rl": {"curves": [_curve([0, 2e10, 4e10, 8e10], [0.3, 0.5, 0.6, 0.65], 1.0)] * 2},
    }
}


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


def test_ratio_range_spans_every_pair_of_seeds():
    from labkit.studies.costs import ratio_range

    summary = {
        "methods": {
            "opd": {
                "curves": [
                    _curve([0, 1e10, 2e10], [0.3, 0.6, 0.7], 0.25),
                    _curve([0, 2e10, 4e10], [0.3, 0.6, 0.7], 0.25),
                ]
            },
            "rl": {
                "curves": [
                    _curve([0, 3e10, 6e10], [0.3, 0.6, 0.7], 1.0),
                    _curve([0, 6e10, 9e10], [0.3, 0.6, 0.7], 1.0),
                ]
            },
        }
    }
    low, high = ratio_range(summary, "flops", "rl", level=0.6)
    assert (low, high) == pytest.approx((3e10 / 2e10, 6e10 / 1e10))
    assert low <= cost_ratios(summary, level=0.6)["flops"]["rl"] <= high
    assert ratio_range(summary, "flops", "rl", level=0.95) is None


def test_pairs_are_priced_at_their_own_level_and_never_at_the_start():
    from labkit.studies.costs import pair_level, pair_ratio

    summary = {
        "methods": {
            "opd": {"curves": [_curve([0, 1e10, 2e10], [0.1, 0.3, 0.4], 0.25)]},
            "rl": {"curves": [_curve([0, 1e10, 2e10], [0.1, 0.4, 0.7], 1.0)]},
            "sft": {"curves": [_curve([0, 1e10, 2e10], [0.1, 0.1, 0.05], 1.0)]},  # never improves
        }
    }
    assert common_level(summary) == 0.05 and pair_level(summary, "rl") == 0.4
    priced = pair_ratio(summary, "flops", "rl")
    assert (
        priced["level"] == 0.4
        and priced["ratio"] == pytest.approx(0.5)
        and priced["range"] == pytest.approx((0.5, 0.5))
    )
    assert pair_ratio(summary, "flops", "sft")["ratio"] is None
