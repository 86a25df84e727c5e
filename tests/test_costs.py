"""Costs to reach an accuracy, their ratios and intervals, on constructed results whose answers are known.

The fixtures are shaped like real results: 13 evaluations, the start at cost 0 then evenly spaced in log cost,
5 seeds, and the per-problem outcomes of every evaluation on one held-out set, drawn from known probabilities.
"""

import numpy as np
import pytest

from labkit.studies.costs import (
    ACCOUNTINGS,
    axis,
    common_level,
    cost_to_reach,
    curve_cost,
    pack_correct,
    pair_level,
    pair_ratio,
    ratio_range,
    unpack_correct,
)

EVALUATION_COSTS = np.concatenate([[0.0], np.logspace(9, 12, 12)])  # the start, then 12 up to 1e12


def _priced_curve(xs, accuracies, student_share=1.0):
    """The part of a curve point estimates read: costs at ``xs`` (total FLOPs) and exact ``accuracies``."""
    xs = np.asarray(xs, dtype=float)
    return {
        "flops": list(xs),
        "student_flops": list(xs * student_share),
        "teacher_flops": list(xs * (1 - student_share)),
        "seconds": list(xs / 1e9),
        "episodes": list(xs / 1e8),
        "accuracy": list(accuracies),
    }


def test_pack_correct_round_trips_and_is_short():
    outcomes = np.random.default_rng(0).random(1000) < 0.3
    packed = pack_correct(outcomes)
    assert len(packed) <= 260 and packed.startswith("1000:")
    assert np.array_equal(unpack_correct(packed, 1000), outcomes)
    assert np.array_equal(unpack_correct(pack_correct([1, 0, 1])), [True, False, True])
    assert unpack_correct(pack_correct([])).size == 0
    with pytest.raises(ValueError):
        unpack_correct(packed, 999)
    with pytest.raises(ValueError):
        pack_correct([0.5])


def test_interpolation_recovers_a_crossing_exactly_on_a_curve_linear_in_log_cost():
    xs = EVALUATION_COSTS
    accuracies = [0.1] + list(0.2 + 0.05 * np.log10(xs[1:] / 1e9))  # 0.05 per decade from 0.2 at 1e9
    level = 0.2 + 0.05 * np.log10(3.7e10 / 1e9)
    assert curve_cost(xs, accuracies, level) == pytest.approx(3.7e10, rel=1e-12)
    assert curve_cost(xs, accuracies, 0.9) is None


def test_the_first_interval_is_linear_in_cost_from_the_start():
    # from 0.2 at cost 0 to 0.6 at cost 1e9: halfway in accuracy is halfway in cost
    assert curve_cost([0, 1e9, 1e10], [0.2, 0.6, 0.7], 0.4) == pytest.approx(5e8)
    assert curve_cost([0, 1e9, 1e10], [0.2, 0.6, 0.7], 0.2) == 0.0  # reached at the start: free


def test_the_first_crossing_counts_not_a_later_one():
    # the curve dips below the level after crossing it: the first crossing prices it
    xs, accuracies = [0, 1e9, 1e10, 1e11], [0.1, 0.5, 0.3, 0.9]
    assert curve_cost(xs, accuracies, 0.4) == pytest.approx(0.75e9)


def test_a_ratio_above_8x_is_measured_with_8_evaluations():
    # the same 8 evaluations for both, accuracy 0.2 per decade of cost: the cheap one 20x cheaper everywhere
    xs = np.concatenate([[0.0], np.logspace(9, 12, 7)])
    dear = {"curves": [_priced_curve(xs, [0.05] + [0.1 + 0.2 * np.log10(x / 1e9) for x in xs[1:]])]}
    cheap = {"curves": [_priced_curve(xs, [0.05] + [0.1 + 0.2 * np.log10(20 * x / 1e9) for x in xs[1:]])]}
    assert cost_to_reach(dear, "flops", 0.5) == pytest.approx(1e11)
    assert cost_to_reach(cheap, "flops", 0.5) == pytest.approx(1e11 / 20)  # between 10**9.5 and 1e10
    # the first evaluation at or above 0.5 would say 1e11 / 1e10 = 10
    assert cost_to_reach(dear, "flops", 0.5) / cost_to_reach(cheap, "flops", 0.5) == pytest.approx(20)


def test_cost_to_reach_is_the_median_over_seeds_and_none_if_a_seed_never_reaches():
    xs = [0, 1e9, 1e10, 1e11]
    entry = {
        "curves": [
            _priced_curve(xs, [0.1, 0.5, 0.6, 0.7]),  # 0.5 at 1e9
            _priced_curve(xs, [0.1, 0.4, 0.5, 0.7]),  # 0.5 at 1e10
            _priced_curve(xs, [0.1, 0.3, 0.4, 0.5]),  # 0.5 at 1e11
        ]
    }
    assert cost_to_reach(entry, "flops", 0.5) == pytest.approx(1e10)
    assert cost_to_reach(entry, "episodes", 0.5) == pytest.approx(1e10 / 1e8)
    assert cost_to_reach(entry, "flops", 0.6) is None


def test_each_accounting_counts_what_it_is_named_for():
    curve = _priced_curve([0, 1e9, 1e10], [0.1, 0.5, 0.6], student_share=0.25)
    assert axis(curve, "flops") == pytest.approx([0, 1e9, 1e10])
    assert axis(curve, "student_flops") == pytest.approx([0, 0.25e9, 0.25e10])
    assert axis(curve, "post_sft_data_free", "sft") == pytest.approx([0, 0.25e9, 0.25e10])  # its data is free
    assert axis(curve, "post_sft_data_free", "opd") == pytest.approx([0, 1e9, 1e10])  # pays for the teacher
    assert axis(curve, "post_sft_data_free", "gkd") == pytest.approx([0, 1e9, 1e10])
    assert set(ACCOUNTINGS) == {"flops", "student_flops", "post_sft_data_free", "seconds", "episodes"}
    with pytest.raises(ValueError):
        axis(curve, "post_sft_data_free")  # the method decides the price
    with pytest.raises(ValueError):
        axis(curve, "gpu_hours")


def test_post_sft_data_free_prices_sft_by_student_flops_and_opd_by_total():
    xs = [0, 1e10, 2e10, 4e10]
    summary = {
        "methods": {
            # opd reaches 0.6 at 2e10 total FLOPs, a quarter of them the student's
            "opd": {"curves": [_priced_curve(xs, [0.3, 0.5, 0.6, 0.7], student_share=0.25)]},
            # sft reaches 0.6 at 4e10 total FLOPs, a tenth of them the student's (the teacher wrote its data)
            "sft": {"curves": [_priced_curve(xs, [0.3, 0.4, 0.5, 0.6], student_share=0.1)]},
        }
    }
    priced = {a: pair_ratio(summary, a, "sft")["ratio"] for a in ACCOUNTINGS}
    assert priced["flops"] == pytest.approx(4e10 / 2e10)
    assert priced["student_flops"] == pytest.approx(0.1 * 4e10 / (0.25 * 2e10))
    # the post's 9x accounting: sft's student FLOPs over opd's total
    assert priced["post_sft_data_free"] == pytest.approx(0.1 * 4e10 / 2e10)


def test_common_level_is_the_lowest_final_accuracy():
    xs = [0, 1e9, 1e10]
    summary = {
        "methods": {
            "opd": {"curves": [_priced_curve(xs, [0.3, 0.5, 0.7])] * 2},
            "rl": {"curves": [_priced_curve(xs, [0.3, 0.5, 0.65])] * 2},
        }
    }
    assert common_level(summary) == pytest.approx(0.65)


def test_ratio_range_spans_every_pair_of_seeds():
    summary = {
        "methods": {
            "opd": {
                "curves": [
                    _priced_curve([0, 1e10, 2e10], [0.3, 0.6, 0.7]),
                    _priced_curve([0, 2e10, 4e10], [0.3, 0.6, 0.7]),
                ]
            },
            "rl": {
                "curves": [
                    _priced_curve([0, 3e10, 6e10], [0.3, 0.6, 0.7]),
                    _priced_curve([0, 6e10, 9e10], [0.3, 0.6, 0.7]),
                ]
            },
        }
    }
    low, high = ratio_range(summary, "flops", "rl", level=0.6)
    assert (low, high) == pytest.approx((3e10 / 2e10, 6e10 / 1e10))
    assert ratio_range(summary, "flops", "rl", level=0.95) is None


def test_pairs_are_priced_at_their_own_level_and_never_at_the_start():
    xs = [0, 1e10, 2e10]
    summary = {
        "methods": {
            "opd": {"curves": [_priced_curve(xs, [0.1, 0.3, 0.4])]},
            "rl": {"curves": [_priced_curve(xs, [0.1, 0.4, 0.7])]},
            "sft": {"curves": [_priced_curve(xs, [0.1, 0.1, 0.05])]},  # never improves
        }
    }
    assert common_level(summary) == pytest.approx(0.05) and pair_level(summary, "rl") == pytest.approx(0.4)
    priced = pair_ratio(summary, "flops", "rl")
    # rl reaches 0.4 at its first evaluation (1e10), opd at its second (2e10)
    assert priced["level"] == pytest.approx(0.4) and priced["ratio"] == pytest.approx(0.5)
    assert priced["range"] == pytest.approx((0.5, 0.5))
    assert pair_ratio(summary, "flops", "sft")["ratio"] is None
