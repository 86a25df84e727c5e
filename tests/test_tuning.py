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


def _fake_grid(scores: dict):
    """A stand-in for run_grid: each (racer, settings) scores ``scores[(lr, batch)]`` (0 when absent)."""
    calls = []

    def run_grid(config, points, *args):
        calls.append(points)
        key = lambda s: (s["learning_rate"], s["batch_size"])  # noqa: E731
        return [{"racer": racer, "settings": s, "score": scores.get(key(s), 0.0), "final_accuracy": 0.0,
                 "curve": {}} for racer, s in points]  # fmt: skip

    return run_grid, calls


@pytest.mark.parametrize(("best", "beyond"), [((3e-4, 4), 2), ((3e-4, 16), 64)])
def test_the_batch_extension_tries_the_next_batch_beyond_an_edge_at_the_best_rate(monkeypatch, best, beyond):
    from labkit.studies import tuning
    from labkit.studies.compare import CompareConfig

    scores = {best: 0.5, (best[0], beyond): 0.6}
    run_grid, calls = _fake_grid(scores)
    monkeypatch.setattr(tuning, "run_grid", run_grid)
    config = CompareConfig(methods=("opd",), eval_n=10)
    plain = tuning.tune(config, "s", "t", progress=False)
    assert len(calls) == 1 and plain["methods"]["opd"]["chosen"] == dict(
        zip(("learning_rate", "batch_size"), best)
    )
    assert "batch_extension" not in plain["protocol"]
    calls.clear()
    wider = tuning.tune(config, "s", "t", progress=False, extend_batch=True)
    assert calls[-1] == [("opd", {"learning_rate": best[0], "batch_size": beyond})]
    assert wider["methods"]["opd"]["chosen"] == {"learning_rate": best[0], "batch_size": beyond}
    assert wider["protocol"]["batch_extension"] == {"4": 2, "16": 64}
