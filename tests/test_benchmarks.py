"""The results pages show what the committed benchmark files say, not numbers typed by hand."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs"


def _table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def test_the_sweep_table_is_made_from_the_sweep_results():
    from labkit.views.tables import format_sweep

    results = json.loads((RESULTS / "regimes_sweep.json").read_text())
    assert format_sweep(results) == (RESULTS / "regimes_sweep.md").read_text()


def test_the_direct_pairs_table_is_made_from_the_sweep_results():
    from labkit.studies.regimes import in_map_order
    from labkit.views.tables import direct_pairs

    regimes = json.loads((RESULTS / "regimes_sweep.json").read_text())["regimes"]
    table = direct_pairs({n: regimes[n]["direct"] for n in in_map_order(regimes)})
    assert table + "\n" == (RESULTS / "regimes_direct.md").read_text()
    pairs = {(r["method"], r["baseline"]) for e in regimes.values() for r in e["direct"]}
    assert ("opd-exact", "rl") in pairs


def test_the_recovery_table_is_made_from_the_recovery_results():
    from labkit.views.tables import recovery_table

    results = json.loads((RESULTS / "recovery.json").read_text())
    assert recovery_table(results) == (RESULTS / "recovery.md").read_text()


def test_the_results_page_shows_the_committed_tables():
    page = (DOCS / "results.md").read_text()
    for name in ("table.md", "regimes_sweep.md", "regimes_direct.md", "recovery.md", "regime_tuning.md"):
        lines = _table_lines((RESULTS / name).read_text())
        assert lines and all(line in page for line in lines), (
            f"docs/results.md is out of step with benchmarks/results/{name}"
        )


def test_the_results_and_speed_pages_quote_the_measured_headline_time():
    seconds = json.loads((RESULTS / "throughput.json").read_text())["headline_wall_seconds"]
    for name in ("results.md", "speed.md"):
        assert f"{seconds:.0f} s" in (DOCS / name).read_text(), f"docs/{name} misquotes the headline's time"


def test_the_headline_results_keep_the_promised_shape():
    """The contract of benchmarks/results/side_by_side.json: enough seeds and evaluations to price costs
    finely, sampled and greedy accuracy, every racer, and each ratio with its interval."""
    from labkit.studies.compare import RACERS

    results = json.loads((RESULTS / "side_by_side.json").read_text())
    assert set(RACERS) <= set(results["methods"])
    for racer, entry in results["methods"].items():
        assert len(entry["curves"]) >= 5, racer
        for curve in entry["curves"]:
            assert len(curve["accuracy"]) >= 13, racer  # the start and at least 12 evaluations
            for key in ("flops", "student_flops", "greedy_accuracy", "correct", "greedy_correct"):
                assert len(curve[key]) == len(curve["accuracy"]), (racer, key)
    assert results["config"]["eval_n"] >= 1000
    for row in results["ratios"]:
        assert {"method", "baseline", "accounting", "level", "ratio", "ci"} <= set(row)
        if row["ratio"] is not None and row["ci"] is not None:
            assert row["ci"][0] <= row["ratio"] <= row["ci"][1], row


def test_the_headline_prices_the_ladder_directly_on_both_metrics_and_along_the_level():
    """Issue #23's contract: the estimator ladder races, every racer is priced against RL and SFT as well as
    OPD, sampled and greedy; level curves; the gradient quality of each estimator; the table shows them."""
    from labkit.studies.compare import ESTIMATORS
    from labkit.views.race import format_table

    results = json.loads((RESULTS / "side_by_side.json").read_text())
    assert set(ESTIMATORS) <= set(results["methods"])
    pairs = {(r["method"], r["baseline"], r.get("metric")) for r in results["ratios"]}
    for metric in ("sampled", "greedy"):
        assert {("opd-exact", "rl", metric), ("opd-topk", "rl", metric), ("opd", "sft", metric)} <= pairs
    curves = results["level_curves"]
    assert {(c["method"], c["baseline"], c["metric"]) for c in curves} >= {("opd-exact", "rl", "greedy")}
    for c in curves:
        assert {"method", "baseline", "accounting", "metric", "levels", "ratios", "ci"} <= set(c)
        assert len(c["levels"]) == len(c["ratios"]) == len(c["ci"]) and c["levels"] == sorted(c["levels"])
    for when in ("start", "mid"):
        for estimator in ESTIMATORS:
            quality = results["gradient_quality"][when][estimator]
            assert -1 <= quality["cosine"] <= 1 and quality["snr"] > 0
    assert format_table(results) + "\n" == (RESULTS / "table.md").read_text()


def test_the_posts_regime_keeps_its_promised_shape():
    """benchmarks/results/plateau.json: SFT's curve from the shipped student, where it stopped and why, the
    fit; a race (>= 3 seeds per racer, prices in the post's two accountings) from a real plateau, or from a
    start mid-climb only where the search it keeps found no plateau."""
    results = json.loads((RESULTS / "plateau.json").read_text())
    start, curve = results["start"], results["plateau_curve"]
    assert {"accuracy", "sft_gain_per_doubling"} <= set(start)
    assert {"slope_per_decade", "intercept"} <= set(results["sft_fit"])
    assert curve["flops"] == sorted(curve["flops"]) and len(curve["accuracy"]) == len(curve["flops"])
    if start["stopped"]["why"] == "budget":  # SFT never gained under 2 points per doubling: nothing raced
        assert start["sft_gain_per_doubling"] >= 0.02
        assert results["methods"] == {} and results["ratios"] == []
        return
    if "not a plateau" in start["stopped"]["why"]:  # the post's regime as near as this task has it
        search = results["search"]["start"]
        assert search["stopped"]["why"] == "budget" and search["sft_gain_per_doubling"] >= 0.02
        assert results["search"]["plateau_curve"]["flops"][-1] > 10 * start["flops_from_shipped_student"]
    else:
        assert start["sft_gain_per_doubling"] < 0.02
    assert {"sft", "opd", "opd-exact", "rl"} <= set(results["methods"])
    assert all(len(e["curves"]) >= 3 for e in results["methods"].values())
    assert {"post_9x", "post_30x", "flops", "episodes"} <= {r["accounting"] for r in results["ratios"]}
    assert all(not r["extrapolated"] or r["method"] == "sft" for r in results["ratios"])


def test_the_posts_regime_race_is_priced_as_the_page_and_readme_say():
    """The race from the nearest regime: SFT priced between finished SFT models where they bracket a level;
    the quoted ranges (the full-distribution estimators against continued SFT, both accountings of the post),
    the straight-line alternative and the start recomputed from plateau.json."""
    from labkit.studies.costs import cost_to_reach
    from labkit.studies.plateau import extrapolated_sft_cost, finished_flops_at, fit_flops_at

    results = json.loads((RESULTS / "plateau.json").read_text())
    level, spent = results["levels"]["+5 points"], results["start"]["flops_from_shipped_student"]
    rows = {(r["method"], r["baseline"], r["accounting"], r["level_name"]): r for r in results["ratios"]}
    assert len(results["sft_finished"]) >= 3 and all(
        len(e["curves"]) >= 3 for e in results["methods"].values()
    )
    plateau = {"curve": {"flops": [spent], "student_flops": [results["plateau_curve"]["student_flops"][-1]]}}
    between, line = finished_flops_at(results["sft_finished"], level), fit_flops_at(results["sft_fit"], level)
    priced = {}
    for accounting in ("post_30x", "post_9x"):
        for baseline in ("opd-exact", "opd-topk"):
            row = rows[("sft", baseline, accounting, "+5 points")]
            base = cost_to_reach(results["methods"][baseline], accounting, level, baseline)
            assert row["interpolated"] and not row["extrapolated"]
            assert row["ratio"] == pytest.approx(extrapolated_sft_cost(accounting, between, plateau) / base)
            priced[accounting, baseline] = (
                row["ratio"],
                extrapolated_sft_cost(accounting, line, plateau) / base,
            )
            # SFT's side has seeds: the interval resamples them, and holds the ratio
            assert row["sft_seeds"] >= 3 and row["ci"][0] < row["ratio"] < row["ci"][1]
    page, readme = (DOCS / "results.md").read_text(), (ROOT / "README.md").read_text()
    exact, topk = (priced["post_30x", b][0] for b in ("opd-exact", "opd-topk"))
    assert f"{exact:.1f}× and {topk:.1f}× less compute" in readme
    assert f"exact OPD {exact:.1f}×, top-4 {topk:.1f}×" in page
    cis = [rows[("sft", b, "post_30x", "+5 points")]["ci"] for b in ("opd-exact", "opd-topk")]
    intervals = " and ".join(f"{low:.1f}–{high:.1f}" for low, high in cis)
    assert intervals in readme and intervals in page
    assert all(low > 1 for low, _ in cis)  # "both intervals exclude 1", as the page says
    low, high = sorted(priced["post_9x", b][0] for b in ("opd-exact", "opd-topk"))
    assert f"{low:.1f}–{high:.1f}×" in page and f"{low:.1f}–{high:.1f}×" in readme
    line30, line9 = priced["post_30x", "opd-exact"][1], priced["post_9x", "opd-exact"][1]  # the straight line
    assert (
        f"{line30:.1f}× and {line9:.1f}×" in readme and f"{line30:.1f}× (30×) and {line9:.1f}× (9×)" in page
    )
    assert f"{results['start']['accuracy']:.1%}" in readme
    longest = max(results["sft_finished"], key=lambda f: f["flops"])
    assert f"SFT reaches {longest['accuracy']:.1%}" in readme
    from labkit.views.tables import plateau_table

    table = plateau_table(results)
    assert table + "\n" == (RESULTS / "plateau.md").read_text()
    assert set(_table_lines(table)) <= set(_table_lines(page))


def test_the_tuning_transfer_check_keeps_its_shape_and_the_page_quotes_it():
    results = json.loads((RESULTS / "tuning_transfer.json").read_text())
    transfer = results["transfer"]
    assert set(transfer) >= {"sft", "rl", "opd", "opd-exact"} and results["protocol"]["seed"] == 1001
    same = sum(row["same_choice"] for row in transfer.values())
    words = {3: "Three", 4: "Four", 5: "Five"}
    assert (
        f"{words[same]} of {words[len(transfer)].lower()} choose the same settings"
        in (DOCS / "results.md").read_text()
    )


def test_near_the_teacher_keeps_its_shape_and_the_page_quotes_it():
    """The near-teacher race: every racer on >= 3 seeds, the level is 90% of the teacher, and the prices
    docs/results.md quotes are the ones the committed curves give."""
    from labkit.studies.costs import pair_ratio
    from labkit.studies.levels import NEAR_RACERS

    results = json.loads((RESULTS / "near_teacher.json").read_text())
    assert set(results["methods"]) == set(NEAR_RACERS)
    assert all(len(e["curves"]) >= 3 for e in results["methods"].values())
    near = results["near_teacher"]
    assert near["level"] == 0.9 * results["teacher_accuracy"]
    reached = [m for m, cost in near["costs"].items() if cost["flops"] is not None]
    assert reached and all(near["final_accuracy"][m] >= near["level"] for m in reached)
    page = (DOCS / "results.md").read_text()
    for accounting in ("episodes", "flops"):
        priced = pair_ratio(results, accounting, "opd-exact", "rl", level=near["level"])
        low, high = priced["ci"]
        assert f"{priced['ratio']:.2f}× " in page and f"({low:.2f}–{high:.2f}" in page, accounting
    rows = {(r["method"], r["accounting"]): r for r in results["budget_agreement"]}
    sampled = rows[("opd", "flops")]
    assert f"{sampled['short']['ratio']:.2f}×" in page and f"{sampled['long']['ratio']:.2f}×" in page
    assert sampled["overlap"] is False and rows[("opd-exact", "flops")]["overlap"] is True


def test_the_schedule_control_changes_only_the_schedule_and_the_page_quotes_it():
    """The schedule control reruns the near-teacher race with one knob changed (a constant learning rate):
    the same racers, seeds, budget and tuned settings; docs/results.md quotes the committed prices."""
    from labkit.studies.costs import pair_ratio

    control = json.loads((RESULTS / "schedule_control.json").read_text())
    near = json.loads((RESULTS / "near_teacher.json").read_text())
    for key in ("budget", "seeds", "first_seed", "eval_n", "eval_points", "methods"):
        assert control["config"][key] == near["config"][key], key
    for racer, entry in control["methods"].items():
        settings = dict(entry["settings"])
        assert settings.pop("lr_schedule") == "constant", racer
        assert settings == {k: v for k, v in near["methods"][racer]["settings"].items() if k != "lr_schedule"}
        assert near["methods"][racer]["settings"].get("lr_schedule", "cosine") == "cosine", racer
    page = (DOCS / "results.md").read_text()
    rows = {(r["method"], r["baseline"], r["accounting"]): r for r in control["schedule_control"]}
    for pair in (("opd", "rl"), ("opd-exact", "rl")):
        row = rows[(*pair, "flops")]
        again = pair_ratio(control, "flops", *pair, level=row["level"])  # recomputed from the curves
        assert abs(again["ratio"] - row["constant"]["ratio"]) < 1e-9
        low, high = row["constant"]["ci"]
        assert f"{row['constant']['ratio']:.2f}× ({low:.2f}–{high:.2f})" in page, pair
        assert (
            f"{row['cosine_short']['ratio']:.2f}×" in page and f"{row['cosine_long']['ratio']:.2f}×" in page
        )


def test_the_equal_rate_control_reuses_rl_and_changes_only_the_rate_and_the_page_quotes_it():
    """Every racer of the equal-rate control runs a constant rate at RL's; RL's curves are the schedule
    control's; docs/results.md quotes the committed prices, recomputed from the curves."""
    from labkit.studies.costs import pair_ratio

    equal = json.loads((RESULTS / "equal_rate.json").read_text())
    control = json.loads((RESULTS / "schedule_control.json").read_text())
    assert equal["methods"]["rl"]["curves"] == control["methods"]["rl"]["curves"]
    rate = control["methods"]["rl"]["settings"]["learning_rate"]
    for racer, entry in equal["methods"].items():
        settings = dict(entry["settings"])
        assert settings.pop("learning_rate") == rate and settings.pop("lr_schedule") == "constant", racer
        own = {k: v for k, v in control["methods"][racer]["settings"].items()}
        assert settings == {k: v for k, v in own.items() if k not in ("learning_rate", "lr_schedule")}, racer
    page = (DOCS / "results.md").read_text()
    rows = {(r["method"], r["baseline"], r["accounting"]): r for r in equal["equal_rate"]}
    for pair in (("opd", "rl"), ("opd-exact", "rl")):
        row = rows[(*pair, "flops")]
        again = pair_ratio(equal, "flops", *pair, level=row["level"])
        assert abs(again["ratio"] - row["constant_equal_rate"]["ratio"]) < 1e-9
        low, high = row["constant_equal_rate"]["ci"]
        assert f"{row['constant_equal_rate']['ratio']:.2f}× ({low:.2f}–{high:.2f})" in page, pair
    near = pair_ratio(equal, "episodes", "opd-exact", "rl", level=equal["near_teacher"]["level"])
    assert f"{near['ratio']:.2f}× RL's episodes" in page


def test_the_constant_rate_tuning_chose_what_the_page_says_the_controls_ran():
    """tuning_constant.json ran the one protocol with a constant rate; each racer's choice is the one a
    control race ran (RL and sampled-token OPD: the equal-rate race; top-4, exact: the schedule control)."""
    tuning = json.loads((RESULTS / "tuning_constant.json").read_text())
    equal = json.loads((RESULTS / "equal_rate.json").read_text())
    control = json.loads((RESULTS / "schedule_control.json").read_text())
    assert tuning["protocol"]["base"] == {"lr_schedule": "constant"}
    ran = {"rl": equal, "opd": equal, "opd-topk": control, "opd-exact": control}
    for racer, entry in tuning["methods"].items():
        assert max(entry["tried"], key=lambda t: t["score"])["settings"] == entry["chosen"], racer
        assert len(entry["tried"]) >= 6, racer
        settings = ran[racer]["methods"][racer]["settings"]
        assert {k: settings[k] for k in entry["chosen"]} == entry["chosen"], racer
    assert "`benchmarks/results/tuning_constant.json`" in (DOCS / "results.md").read_text()


def test_the_races_run_with_the_settings_the_tuning_protocol_chose():
    from labkit.studies.compare import METHOD_SETTINGS

    tuning = json.loads((RESULTS / "tuning.json").read_text())
    headline = json.loads((RESULTS / "side_by_side.json").read_text())
    for racer, entry in tuning["methods"].items():
        assert entry["chosen"] == METHOD_SETTINGS[racer], racer
        assert max(entry["tried"], key=lambda t: t["score"])["settings"] == entry["chosen"], racer
        assert len(entry["tried"]) >= 6, racer  # the whole grid, every racer alike
        assert {**entry["chosen"]}.items() <= headline["methods"][racer]["settings"].items(), racer


def test_a_regime_tuned_on_itself_races_at_what_its_own_tuning_chose_beside_the_maps_race():
    from labkit.studies.tuning import GRID, choose
    from labkit.views.tables import regime_tuning_table

    results = json.loads((RESULTS / "regime_tuning.json").read_text())
    headline = json.loads((RESULTS / "tuning.json").read_text())["protocol"]
    sweep = json.loads((RESULTS / "regimes_sweep.json").read_text())["regimes"]
    for name, entry in results["regimes"].items():
        protocol = entry["tuning"]["protocol"]
        for key in ("grid", "extension", "seed", "eval_set", "eval_n", "budget", "score"):
            assert protocol[key] == headline[key], key  # the headline's protocol, plus the batch extension
        assert protocol["batch_extension"] == {"4": 2, "16": 64}
        for racer, tuned in entry["tuning"]["methods"].items():
            grid = [
                {"learning_rate": lr, "batch_size": b}
                for lr in GRID["learning_rate"]
                for b in GRID["batch_size"]
            ]
            assert all(s in [t["settings"] for t in tuned["tried"]] for s in grid), racer
            assert choose(tuned["tried"])["settings"] == tuned["chosen"] == entry["chosen"][racer], racer
            assert tuned["chosen"].items() <= entry["summary"]["methods"][racer]["settings"].items(), racer
            shipped = entry["shipped_settings"]["settings"][racer]
            assert shipped == sweep[name]["summary"]["methods"][racer]["settings"], racer
    assert regime_tuning_table(results) + "\n" == (RESULTS / "regime_tuning.md").read_text()


def test_the_small_students_rl_steps_are_judged_on_runs_that_repeat_the_race():
    results = json.loads((RESULTS / "small_student_steps.json").read_text())
    race = json.loads((RESULTS / "regime_tuning.json").read_text())["regimes"]["small-student"]
    assert results["settings"] == race["chosen"]["rl"]
    rl = {name: run for name, run in results["runs"].items() if name.startswith("rl seed")}
    assert rl and "start" in results["runs"]
    for name, run in rl.items():
        seed = int(name.split()[-1])
        assert run["answer_accuracy"] == run["race_final_accuracy"]  # the rerun is the race's own run
        assert run["race_final_accuracy"] == race["summary"]["methods"]["rl"]["curves"][seed]["accuracy"][-1]
    page = (DOCS / "results.md").read_text()
    steps = [f"{run['all_steps_right']:.1%}" for run in rl.values()]
    assert all(s in page for s in steps) and f"{results['runs']['start']['all_steps_right']:.1%}" in page


def test_corrections_are_counted_against_mistakes_left_standing():
    from labkit.studies import premises
    from labkit.task import Problem

    p = Problem(357, 489, "357+489=")
    completions = [
        "7+9+0=15!7+9+0=16;5+8+1=14;3+4+1=8;846",  # a mistake caught and redone right
        "7+9+0=16;5+8+1=15;3+4+1=8;855",  # a mistake left standing
        "7+9+0=16!7+9+0=16;5+8+1=14!5+8+1=13;3+4+1=8;836",  # a mark after a right step; a bad redo
    ]
    counts = premises.correction_counts([p] * 3, completions, 3)
    assert counts == {"corrected": 1, "spurious": 2, "left_wrong": 1, "rate": 0.5}


def test_the_break_even_section_prices_every_regime_of_the_committed_map():
    from labkit.studies import premises

    sweep = json.loads((RESULTS / "regimes_sweep.json").read_text())["regimes"]
    section = premises.break_even_section(sweep)
    assert set(section["points"]) == set(sweep)
    for point in section["points"].values():
        if point["edge"] is not None:  # edge / price is the measured FLOPs ratio
            assert abs(point["edge"] / point["price"] / point["flops"] - 1) < 1e-9
        if point["flops_ci"] is not None and point["flops_ci"][0] < 1 < point["flops_ci"][1]:
            assert point["verdict"] == "no clear difference"


def test_the_mark_probability_is_read_where_the_mark_would_replace_the_separator():
    import torch

    from labkit.models import load
    from labkit.studies import premises
    from labkit.task import Problem

    p = Problem(357, 489, "357+489=")
    completions = [
        "7+9+0=16;5+8+1=15;3+4+1=8;855",
        "7+9+0=16;5+8+1=14;3+4+1=8;846",
        "7+9+0=15!7+9+0=16;5+8+1=14;3+4+1=8;846",
    ]
    positions = premises.mistake_positions([p] * 3, completions, 3)
    assert positions == [(0, 17)]  # the one unmarked wrong step (a mistake caught by a mark is not counted)
    assert completions[0][17] == ";"
    model, tokenizer = load(ROOT / "data" / "teacher")
    offered = premises.marker_probability({"m": model}, tokenizer, [p] * 3, completions, 3)
    ids = tokenizer(p.prompt + completions[0][:17], add_special_tokens=True)["input_ids"]
    with torch.no_grad():
        direct = model(input_ids=torch.tensor([ids])).logits[0, -1].softmax(-1)
    assert offered["mistakes"] == 1
    assert abs(offered["m"] - float(direct[tokenizer.convert_tokens_to_ids("!")])) < 1e-6
