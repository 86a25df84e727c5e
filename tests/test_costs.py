"""Costs to reach an accuracy, their ratios and intervals, on constructed results whose answers are known.

The fixtures are shaped like real results: 13 evaluations, the start at cost 0 then evenly spaced in log cost,
5 seeds, and the per-problem outcomes of every evaluation on one held-out set, drawn from known probabilities.
"""

import numpy as np
import pytest

from labkit.studies.costs import (
    ACCOUNTINGS,
    axis,
    bootstrap_accuracy,
    bootstrap_ratio,
    common_level,
    cost_to_reach,
    curve_cost,
    describe_ratio,
    excludes_one,
    pack_correct,
    pair_level,
    pair_ratio,
    ratio_range,
    unpack_correct,
    verdict,
)

EVALUATION_COSTS = np.concatenate([[0.0], np.logspace(9, 12, 12)])  # the start, then 12 up to 1e12


def _curve(xs, correct, student_share=1.0, seed=0):
    """A results curve from the outcomes ``correct`` [evaluations, problems] at costs ``xs`` (total FLOPs)."""
    xs = np.asarray(xs, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    return {
        "seed": seed,
        "flops": xs.tolist(),
        "student_flops": (xs * student_share).tolist(),
        "teacher_flops": (xs * (1 - student_share)).tolist(),
        "seconds": (xs / 1e9).tolist(),
        "episodes": (xs / 1e8).tolist(),
        "accuracy": correct.mean(1).tolist(),
        "greedy_accuracy": correct.mean(1).tolist(),
        "correct": [pack_correct(row) for row in correct],
        "greedy_correct": [pack_correct(row) for row in correct],
    }


def _priced_curve(xs, accuracies, student_share=1.0):
    """The part of a curve point estimates read: costs at ``xs`` (total FLOPs) and exact ``accuracies``."""
    xs = np.asarray(xs, dtype=float)
    return {
        "flops": xs.tolist(),
        "student_flops": (xs * student_share).tolist(),
        "teacher_flops": (xs * (1 - student_share)).tolist(),
        "seconds": (xs / 1e9).tolist(),
        "episodes": (xs / 1e8).tolist(),
        "accuracy": list(accuracies),
    }


def _method(rng, cost_scale, seeds=5, problems=200, seed_noise=0.2, student_share=1.0, slope=1.5):
    """Seeds of a method that solves problem i after cost x with chance sigmoid(slope log(x / scale) - d_i).

    The difficulties d_i are the held-out set's, the same for every method (a fixed generator). Each seed's
    scale is ``cost_scale`` times a log-normal factor of median 1, so two methods' true cost ratio at any
    level is the ratio of their ``cost_scale``s. The start (cost 0) has the skill of cost 1e8.
    """
    difficulty = np.random.default_rng(1234).normal(0.0, 1.0, problems)
    curves = []
    for seed in range(seeds):
        scale = cost_scale * np.exp(seed_noise * rng.normal())
        skill = slope * np.log(np.maximum(EVALUATION_COSTS, 1e8) / scale)  # [evaluations]
        solved = 1 / (1 + np.exp(difficulty[None, :] - skill[:, None]))  # [evaluations, problems]
        curves.append(_curve(EVALUATION_COSTS, rng.random(solved.shape) < solved, student_share, seed))
    return {"curves": curves}


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


def test_a_cost_that_is_not_one_per_evaluation_is_refused():
    with pytest.raises(ValueError):
        curve_cost(1e10, [0.1, 0.5, 0.6], 0.5)  # a final total, as older results kept student_flops
    with pytest.raises(ValueError):
        curve_cost([0, 1e10], [0.1, 0.5, 0.6], 0.5)


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
    assert common_level(summary) == pytest.approx(0.05)
    # 90% of the way from the start (0.1) to the highest level every seed of both reached (0.4)
    assert pair_level(summary, "rl") == pytest.approx(0.1 + 0.9 * 0.3)
    assert pair_level(summary, "rl", fraction=1.0) == pytest.approx(0.4)
    priced = pair_ratio(summary, "flops", "rl")
    # at 0.37: rl between the start and 1e10 (linear in cost: 0.9e10), opd between 1e10 and 2e10 (linear in
    # log-cost: 1e10 * 2 ** 0.7)
    expected = 0.9e10 / (1e10 * 2**0.7)
    assert priced["level"] == pytest.approx(0.37) and priced["ratio"] == pytest.approx(expected)
    assert priced["range"] == pytest.approx((expected, expected))
    assert pair_ratio(summary, "flops", "sft")["ratio"] is None


def _pair(cost_ratio, seeds=5, problems=200, seed_noise=0.2, generator=0):
    """rl and opd racing, rl ``cost_ratio`` times dearer at every level (the true ratio)."""
    rng = np.random.default_rng(generator)
    return {
        "methods": {
            "rl": _method(rng, cost_ratio * 1e10, seeds, problems, seed_noise),
            "opd": _method(rng, 1e10, seeds, problems, seed_noise),
        }
    }


def _stalled(seed, problems=200):
    """A seed that never gets past 20%: the same fifth of the problems solved at every evaluation."""
    correct = np.tile(np.arange(problems) < problems // 5, (len(EVALUATION_COSTS), 1))
    return _curve(EVALUATION_COSTS, correct, seed=seed)


def _log_width(ci):
    return np.log(ci[1] / ci[0])


def test_the_bootstrap_interval_contains_the_true_ratio():
    result = bootstrap_ratio(_pair(3.0), "rl", "opd", "flops", level=0.5)
    assert result["ci"][0] < 3.0 < result["ci"][1]
    assert result["ci"][0] < result["ratio"] < result["ci"][1]
    assert result["reached"] == 1.0 and result["kept"] == 1.0 and result["n_boot"] == 1000


def test_the_interval_narrows_with_more_seeds_and_with_more_problems():
    few_seeds = bootstrap_ratio(_pair(3.0, seeds=3), "rl", "opd", "flops", level=0.5)
    many_seeds = bootstrap_ratio(_pair(3.0, seeds=20), "rl", "opd", "flops", level=0.5)
    assert _log_width(many_seeds["ci"]) < 0.8 * _log_width(few_seeds["ci"])
    # with little seed noise the held-out set's size is what limits the interval
    few_problems = bootstrap_ratio(_pair(3.0, problems=50, seed_noise=0.02), "rl", "opd", "flops", level=0.5)
    many_problems = bootstrap_ratio(
        _pair(3.0, problems=800, seed_noise=0.02), "rl", "opd", "flops", level=0.5
    )
    assert _log_width(many_problems["ci"]) < 0.5 * _log_width(few_problems["ci"])


def test_two_identical_methods_show_no_clear_difference():
    result = bootstrap_ratio(_pair(1.0), "rl", "opd", "flops")  # at their pair level
    assert result["ci"][0] < 1.0 < result["ci"][1] and not excludes_one(result["ci"])
    assert verdict(result, "rl", "opd") == "no clear difference"


def test_a_method_3x_cheaper_with_little_noise_is_cheaper():
    summary = _pair(3.0, problems=500, seed_noise=0.05)
    result = bootstrap_ratio(summary, "rl", "opd", "flops", level=0.5)
    assert result["ci"][0] > 1.0 and excludes_one(result["ci"])
    assert verdict(result, "rl", "opd") == "opd cheaper"
    flipped = bootstrap_ratio(summary, "opd", "rl", "flops", level=0.5)
    assert flipped["ci"][1] < 1.0 and verdict(flipped, "opd", "rl") == "opd cheaper"


def test_a_replicate_where_one_method_never_reaches_counts_it_as_infinitely_dear():
    summary = _pair(1.0)
    rl = summary["methods"]["rl"]["curves"]
    rl[2:] = [_stalled(seed) for seed in (2, 3, 4)]  # 2 of 5 seeds reach the level
    result = bootstrap_ratio(summary, "rl", "opd", "flops", level=0.5)
    assert result["ratio"] is None  # a seed never reached it
    # rl's median seed reaches it when 3 of 5 resampled seeds are the 2 that do: P = 0.317
    assert result["reached"] == pytest.approx(0.317, abs=0.05)
    assert result["kept"] == 1.0 and result["ci"][1] == np.inf


def test_replicates_where_neither_reaches_are_dropped_and_too_few_left_give_no_interval():
    summary = _pair(1.0)
    for method in ("rl", "opd"):
        summary["methods"][method]["curves"][1:] = [_stalled(seed) for seed in (1, 2, 3, 4)]
    result = bootstrap_ratio(summary, "rl", "opd", "flops", level=0.5)
    # each median reaches with P = 0.058, so about 1 - 0.942 ** 2 = 11% of replicates have a ratio
    assert result["kept"] == pytest.approx(0.11, abs=0.03) and result["reached"] < 0.02
    assert result["ci"] is None and verdict(result, "rl", "opd") == "no clear difference"


def test_a_level_not_above_the_start_is_not_priced():
    summary = _pair(3.0)
    start = max(c["accuracy"][0] for e in summary["methods"].values() for c in e["curves"])
    result = bootstrap_ratio(summary, "rl", "opd", "flops", level=start)
    assert result["ratio"] is None and result["ci"] is None
    assert verdict(result, "rl", "opd") == "not priced" and describe_ratio(result) == "–"


def test_the_greedy_key_prices_the_greedy_outcomes():
    summary = _pair(3.0)
    for rl, opd in zip(summary["methods"]["rl"]["curves"], summary["methods"]["opd"]["curves"]):
        rl["greedy_accuracy"], rl["greedy_correct"] = opd["greedy_accuracy"], opd["greedy_correct"]
    greedy = bootstrap_ratio(summary, "rl", "opd", "flops", level=0.5, key="greedy_accuracy")
    assert greedy["ratio"] == pytest.approx(1.0) and greedy["ci"][0] < 1.0 < greedy["ci"][1]
    assert bootstrap_ratio(summary, "rl", "opd", "flops", level=0.5)["ratio"] > 2.0


def test_pair_ratio_carries_the_bootstrap_interval_when_outcomes_are_there():
    summary = _pair(3.0)
    priced = pair_ratio(summary, "flops", "rl")
    boot = bootstrap_ratio(summary, "rl", "opd", "flops")
    assert priced["ratio"] == pytest.approx(boot["ratio"]) and priced["ci"] == boot["ci"]
    assert priced["level"] == pair_level(summary, "rl")


def test_final_accuracy_has_an_interval_around_the_mean():
    # cost scale 1e12: the last evaluation's skill is 0, so the expected accuracy is E[sigmoid(-d)] = 0.5
    curves = _method(np.random.default_rng(0), 1e12, seed_noise=0.0)["curves"]
    result = bootstrap_accuracy(curves)
    assert result["mean"] == pytest.approx(np.mean([c["accuracy"][-1] for c in curves]))
    assert result["ci"][0] < 0.5 < result["ci"][1] and result["ci"][1] - result["ci"][0] < 0.2


def test_describe_ratio_prints_the_ratio_and_its_interval():
    assert describe_ratio({"ratio": 1.234, "ci": [0.91, 1.6]}) == "1.23× (0.91–1.60)"
    assert describe_ratio({"ratio": 2.0, "ci": None}) == "2.00× (no interval)"
    assert describe_ratio({"ratio": None, "ci": [1.5, np.inf]}) == "– (1.50–inf)"  # a seed never reached
    assert excludes_one([1.1, 2.0]) and excludes_one([0.2, 0.9]) and not excludes_one([0.9, 1.1])
    assert not excludes_one(None)
