"""The race path end to end, fast: run_comparison -> summarize -> the tables, on a tiny budget, in this
process; and the settings that are refused before anything starts."""

import pytest

from labkit.errors import LabkitError
from labkit.studies.compare import CompareConfig, run_comparison, summarize
from labkit.studies.costs import ACCOUNTINGS
from labkit.views.race import format_table

TINY = dict(
    methods=("sft", "opd"), seeds=1, budget=1e10, eval_n=16, eval_points=2, snapshot_prompts=1, workers=1
)


@pytest.fixture(scope="module")
def summary():
    return summarize(run_comparison(CompareConfig(**TINY), progress=False))


def test_every_racer_gets_a_curve_that_spends_its_budget(summary):
    assert set(summary["methods"]) == {"sft", "opd"} and summary["machine"]["workers"] == 1
    for entry in summary["methods"].values():
        (curve,) = entry["curves"]
        assert (
            curve["flops"][0] == 0 and curve["flops"] == sorted(curve["flops"]) and len(curve["flops"]) >= 3
        )
        assert curve["flops"][-1] >= TINY["budget"]  # a run stops at the first step past its budget
        assert len(curve["accuracy"]) == len(curve["greedy_accuracy"]) == len(curve["flops"])
        assert all(0.0 <= a <= 1.0 for a in curve["accuracy"])
        assert entry["final_accuracy"] == pytest.approx(curve["accuracy"][-1])
    assert 0.9 < summary["teacher_accuracy"] <= 1.0  # the shipped teacher, sampled


def test_the_ratios_price_each_racer_against_each_baseline_under_every_accounting(summary):
    rows = summary["ratios"]  # sampled then greedy; against opd, then sft (rl did not race)
    keys = [(r["metric"], r["baseline"], r["method"]) for r in rows]
    expected = [(metric, baseline, method) for metric in ("sampled", "greedy")
                for baseline, method in (("opd", "sft"), ("sft", "opd"))]  # fmt: skip
    assert keys == [k for k in expected for _ in ACCOUNTINGS]
    assert [r["accounting"] for r in rows] == list(ACCOUNTINGS) * len(expected)


def test_the_table_names_every_racer_and_the_ratio(summary):
    table = format_table(summary)
    assert "| sft |" in table and "| opd |" in table and "| sft / opd |" in table
    assert f"{summary['teacher_accuracy']:.1%}" in table


@pytest.mark.parametrize(
    "bad,message",
    [
        ({"workers": -1}, "workers must be a whole number >= 0"),
        ({"budget": 0}, "budget must be a positive number"),
        ({"seeds": 0}, "seeds must be at least 1"),
        ({"methods": ("ppo",)}, "unknown methods"),
        ({"target_fraction": 1.5}, "target_fraction must lie in"),
        ({"eval_set": "test"}, "eval_set must be one of"),
    ],
)
def test_bad_settings_are_refused_before_anything_starts(bad, message):
    with pytest.raises(LabkitError, match=message):
        CompareConfig(**bad).validate()
