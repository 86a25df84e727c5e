"""The map's helpers read ratio rows faithfully: a verdict only where the evidence says so."""

import matplotlib

matplotlib.use("Agg")


def _row(method, accounting, ratio, ci=None, rng=None):
    row = {"method": method, "baseline": "opd", "accounting": accounting, "ratio": ratio, "ci": ci}
    return row | ({"range": rng} if rng else {"reached": 0.5})


SETTINGS = {
    "a": [_row("sft", "flops", 0.5, [0.3, 0.7]), _row("rl", "flops", 2.0, [0.8, 3.0])],
    "b": [_row("sft", "flops", 0.9, rng=[1.1, 1.4]), _row("rl", "student_flops", 4.0, [2.0, 9.0])],
}


def test_a_bootstrap_that_refused_an_interval_gets_no_verdict_from_seed_pairs():
    from labkit.views.mapview import call

    refused = _row("sft", "flops", 0.5, None, rng=[0.3, 0.6]) | {"reached": 0.3}
    assert call(refused) == "no clear difference"


def test_verdicts_say_cheaper_only_where_the_interval_or_every_seed_pair_agrees():
    from labkit.views.mapview import verdict_table

    table = verdict_table(SETTINGS)
    assert "| a | flops | sft cheaper | no clear difference |" in table
    assert "| b | flops | opd cheaper in every seed pair | – |" in table
    assert "| b | student_flops | – | opd cheaper |" in table


def test_the_summary_figure_draws_every_ratio_at_its_value():
    from labkit.views.mapview import by_accounting, ratio_figure

    fig = ratio_figure(SETTINGS, methods=("sft", "rl"), accountings=("flops", "student_flops"))
    flops, student = fig.axes[:2]
    dots = sorted(x for line in flops.lines if line.get_marker() == "o" for x in line.get_xdata())
    assert dots == [0.5, 0.9, 2.0]
    assert [x for line in student.lines if line.get_marker() == "o" for x in line.get_xdata()] == [4.0]
    assert by_accounting(SETTINGS["a"])["flops"] == {"sft": 0.5, "rl": 2.0}


def test_the_break_even_arithmetic_is_the_measured_flops_ratio():
    """edge / price is RL's FLOPs over OPD's: the ledger's price of an episode and the episodes saved account
    for the whole FLOPs ratio (checked on the committed headline)."""
    import json
    from pathlib import Path

    from labkit.views.mapview import break_even

    results = Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "side_by_side.json"
    point = break_even(json.loads(results.read_text()))
    assert point["price"] > 2  # a teacher ~10x the student scores every OPD token
    assert abs(point["edge"] / point["price"] / point["flops"] - 1) < 1e-9
    assert point["edge_ci"][0] < point["edge"] < point["edge_ci"][1]
    assert point["verdict"] == "rl cheaper" and point["flops_ci"][1] < 1  # the verdict is the interval's


def test_the_style_control_reads_the_committed_map_and_race_curves_draw_every_seed():
    import json
    from pathlib import Path

    from labkit.studies.costs import pair_ratio
    from labkit.views.mapview import race_curves_figure, style_control

    results = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
    sweep = json.loads((results / "regimes_sweep.json").read_text())["regimes"]
    lines = style_control(sweep)
    flops = pair_ratio(sweep["no-style-entropy"]["summary"], "flops", "sft")["ratio"]
    assert lines[0].startswith("SFT / OPD, flops") and f"without {flops:.2f}x" in lines[0]
    shipped = json.loads((results / "side_by_side.json").read_text())
    fig = race_curves_figure({"a": shipped, "b": shipped})
    seeds = sum(len(e["curves"]) for e in shipped["methods"].values())
    assert len(fig.axes) == 2 and all(len(ax.lines) == seeds for ax in fig.axes)
