"""The premises' figures and tables (labkit.views.why) on small hand-made sections."""

import math

import matplotlib
import pytest

from labkit.views.why import (
    advantage_figure,
    class_table,
    corrections_table,
    interval_cell,
    ratio_of,
    silent_probability,
    sparse_figure,
    sparse_table,
    style_figure,
)

matplotlib.use("Agg")


def test_a_group_is_silent_when_its_samples_all_agree():
    assert silent_probability(0.0, 4) == 1 and silent_probability(1.0, 16) == 1
    assert math.isclose(silent_probability(0.5, 4), 2 / 16)
    assert math.isclose(silent_probability(0.1, 4), 0.9**4 + 0.1**4)
    assert silent_probability(0.1, 16) < silent_probability(0.1, 4)  # a wider group hears more
    with pytest.raises(ValueError, match="accuracy"):
        silent_probability(1.5, 4)
    with pytest.raises(ValueError, match="group_size"):
        silent_probability(0.5, 0)


def _row(method, accounting, ratio, ci):
    return {"method": method, "accounting": accounting, "ratio": ratio, "ci": ci, "baseline": "opd"}


def _point(start, edge):
    ratios = [
        _row(m, a, None if edge is None else edge * (1 if a == "episodes" else 0.3), [0.0, float("inf")])
        for m in ("rl", "rl-g16", "sft-reference")
        for a in ("flops", "student_flops", "episodes")
    ]
    return {
        "start_accuracy": start,
        "capacity_accuracy": 0.8,
        "capacity_accuracy_4x_budget": 0.9,
        "silent_group_fraction": {"rl": 1 - start, "rl-g16": (1 - start) / 2, "opd": 0.5},
        "final_accuracy": {"opd": 0.4, "rl": 0.5, "rl-g16": 0.45, "sft-reference": 0.8},
        "ratios": ratios,
        "break_even": {"price": 3.4, "edge": edge, "verdict": "not priced" if edge is None else "rl cheaper"},
    }


def test_the_sparse_table_has_a_row_per_start_in_order_and_prices_with_intervals():
    section = {"points": [_point(0.28, 1.5), _point(0.03, None), _point(0.1, 4.0)]}
    lines = sparse_table(section).splitlines()
    assert len(lines) == 2 + 3
    assert [line.split("|")[1].strip() for line in lines[2:]] == ["3.0%", "10.0%", "28.0%"]
    assert "not priced" in lines[2] and "4.00× (0–∞)" in lines[3]
    assert ratio_of(section["points"][0], "rl-g16", "flops")["ratio"] == pytest.approx(0.45)
    with pytest.raises(KeyError, match="sft-reference"):
        ratio_of(section["points"][0], "gkd", "flops")
    fig = sparse_figure(section)  # an unpriced start is skipped, not drawn at 0
    assert len(fig.axes) == 2


def test_interval_cells_and_the_corrections_table_say_what_is_missing():
    assert interval_cell({"ratio": None}) == "not priced"
    assert interval_cell({"ratio": 0.5, "ci": [0.25, 0.75]}) == "0.50× (0.25–0.75)"
    support = {
        "corrections": {
            "teacher": {
                "accuracy": 0.98,
                "corrected": 0,
                "left_wrong": 2,
                "mark_probability_teacher": None,
                "mark_probability_self": None,
            },  # fmt: skip
            "opd": {
                "accuracy": 0.6,
                "corrected": 1,
                "left_wrong": 30,
                "mark_probability_teacher": 0.41,
                "mark_probability_self": 0.002,
            },  # fmt: skip
        }
    }
    table = corrections_table(support)
    assert (
        "| teacher | 98.0% | 0 | 2 | – / – |" in table and "| opd | 60.0% | 1 | 30 | 0.410 / 0.002 |" in table
    )


def test_the_style_figures_read_a_style_mechanism_section():
    profile = {
        "student_entropy": 0.8,
        "teacher_entropy": 0.9,
        "reverse_kl": 0.1,
        "advantage": -0.1,
        "tokens": 9,
    }
    regime = {who: {"boundary": dict(profile), "digit": dict(profile)} for who in ("start", "sft", "opd")}
    regime["opd_advantage_over_training"] = {"boundary": [-0.3, -0.1], "digit": [-0.5, -0.2]}
    section = {"regimes": {"style 0.5": regime, "style 0": regime}}
    assert class_table(regime, "reverse_kl") == {
        k: {"start": 0.1, "sft": 0.1, "opd": 0.1} for k in ("boundary", "digit")
    }
    assert len(style_figure(section).axes) == 4 and len(advantage_figure(section).axes) == 2
