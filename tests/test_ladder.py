"""The estimator ladder (sampled token, top-k, exact), prices against every baseline and along the level, the
post's regime's accountings, and merging later runs into committed results."""

import numpy as np
import pytest
import torch

from labkit import objectives
from labkit.errors import LabkitError
from labkit.studies.compare import all_ratio_rows, level_curves, merge_summaries
from labkit.studies.costs import level_curve, rows_against
from labkit.studies.estimators import QWEN_VOCAB, gradient_quality, teacher_bytes_per_token
from labkit.studies.plateau import (
    extrapolated_sft_cost,
    finished_fit,
    fit_flops_at,
    gain_per_doubling,
    log_linear_fit,
    with_post_axes,
)
from labkit.studies.tuning import merge_tuning
from tests.test_costs import _method


@pytest.mark.parametrize("tail", [True, False])
def test_topk_over_the_whole_vocabulary_is_the_exact_reverse_kl(tail):
    student, teacher = torch.randn(3, 5, 20), torch.randn(3, 5, 20)
    values, ids = torch.log_softmax(teacher, -1).topk(20, -1)
    got = objectives.topk_reverse_kl(student, values, ids, tail=tail)
    assert torch.allclose(got, objectives.reverse_kl(student, teacher), atol=1e-5)


def test_topk_tail_pushes_back_mass_outside_the_k_and_renormalised_does_not():
    teacher = torch.tensor([[4.0, 3.0, 0.0, 0.0, 0.0]])
    student = torch.tensor([[0.0, 0.0, 0.0, 0.0, 5.0]], requires_grad=True)  # mass on a token outside K
    values, ids = torch.log_softmax(teacher, -1).topk(2, -1)
    for tail, pushed in ((True, True), (False, False)):
        (grad,) = torch.autograd.grad(
            objectives.topk_reverse_kl(student, values, ids, tail=tail).sum(), student
        )
        # gradient descent lowers the outside token's logit only when the tail bucket is kept
        assert (grad[0, 4] > 1e-3) == pushed, (tail, grad)
    assert objectives.topk_reverse_kl(student, values, ids, tail=True) > 0
    same = torch.log_softmax(teacher, -1).detach().clone().requires_grad_(True)
    assert torch.allclose(objectives.topk_reverse_kl(same, values, ids), torch.zeros(1), atol=1e-6)


def test_topk_with_its_tail_is_the_kl_of_the_coarsened_distributions():
    student, teacher = torch.randn(4, 9), torch.randn(4, 9) * 3
    values, ids, rest = objectives.teacher_topk(teacher, 3)
    got = objectives.topk_reverse_kl(student, values, ids, rest)
    p_s, p_t = torch.softmax(student.double(), -1), torch.softmax(teacher.double(), -1)
    coarse_s = torch.cat([p_s.gather(-1, ids), 1 - p_s.gather(-1, ids).sum(-1, keepdim=True)], -1)
    coarse_t = torch.cat([p_t.gather(-1, ids), 1 - p_t.gather(-1, ids).sum(-1, keepdim=True)], -1)
    expected = (coarse_s * (coarse_s.log() - coarse_t.log())).sum(-1)
    assert torch.allclose(got.double(), expected, atol=1e-4)
    # the teacher's rest is exact where 1 - sum(top-k) rounds to 0 in float32
    confident = torch.tensor([[30.0, 0.0, 0.0, 0.0]])
    _, _, rest = objectives.teacher_topk(confident, 1)
    assert torch.isfinite(rest).all() and rest.item() == pytest.approx(np.log(3) - 30, abs=1e-3)


def test_the_sampled_token_advantage_is_an_unbiased_estimate_of_the_reverse_kl_gradient():
    """E_{y~p_s}[grad log p_s(y) * -(log p_s(y) - log p_t(y))] = -grad KL(p_s || p_t), enumerated exactly."""
    logits = torch.randn(7, requires_grad=True)
    teacher = torch.log_softmax(torch.randn(7), -1)
    logp = torch.log_softmax(logits, -1)
    expected = torch.zeros(7)
    for y in range(7):
        (score,) = torch.autograd.grad(logp[y], logits, retain_graph=True)
        expected += logp[y].exp().detach() * score * -(logp[y] - teacher[y]).detach()
    (exact,) = torch.autograd.grad(objectives.reverse_kl(logits, teacher), logits)
    assert torch.allclose(expected, -exact, atol=1e-6)


def test_opd_topk_step_keeps_only_k_teacher_numbers_per_token(tiny_student, tiny_teacher, tokenizer):
    from labkit.task import AdditionTask
    from labkit.train import TrainConfig, Trainer

    config = TrainConfig(method="opd-topk", top_k=3, steps=1, batch_size=2, group_size=2, eval_n=4)
    trainer = Trainer(config, tiny_student, tokenizer, AdditionTask(), teacher=tiny_teacher, progress=False)
    batch = trainer.make_batch(1)
    values, ids, rest = batch.teacher_topk
    assert batch.teacher_logits is None and values.shape[-1] == ids.shape[-1] == 3
    assert values.shape == batch.mask.shape + (3,) and rest.shape == batch.mask.shape
    loss, _ = trainer.loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and any(p.grad is not None and p.grad.abs().sum() > 0
                                        for p in tiny_student.parameters())  # fmt: skip
    assert all(p.grad is None for p in tiny_teacher.parameters())


def test_gradient_quality_reports_each_estimator(tiny_student, tiny_teacher, tokenizer):
    from labkit.task import AdditionTask

    before = [p.detach().clone() for p in tiny_student.parameters()]
    result = gradient_quality(tiny_student, tiny_teacher, tokenizer, AdditionTask(), batches=3,
                              reference_batches=3)  # fmt: skip
    assert set(result) == {"opd", "opd-topk", "opd-topk-renormalised", "opd-exact", "rl"}
    for row in result.values():
        assert -1 <= row["cosine"] <= 1 and row["snr"] >= 0 and row["cosine_ci"][0] <= row["cosine_ci"][1]
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_student.parameters()))  # nothing trained


def test_teacher_bytes_per_token():
    assert teacher_bytes_per_token(QWEN_VOCAB, 4) == {"opd": 4, "opd-topk": 36, "opd-exact": 607_744}


def _race(scales: dict, greedy: bool = True) -> dict:
    rng = np.random.default_rng(0)
    summary = {"teacher_accuracy": 0.95, "teacher_greedy_accuracy": 0.97,
               "methods": {m: _method(rng, s) for m, s in scales.items()}}  # fmt: skip
    if not greedy:
        for entry in summary["methods"].values():
            for curve in entry["curves"]:
                del curve["greedy_accuracy"], curve["greedy_correct"]
    return summary


def test_level_curve_prices_the_true_ratio_at_every_level_it_can():
    summary = _race({"rl": 1e10, "opd-exact": 3e10})
    summary["teacher_accuracy"] = 1.0
    curve = level_curve(summary, "opd-exact", "rl", "flops", n_boot=200)
    priced = [r for r in curve["ratios"] if r is not None]
    assert len(priced) >= 5
    assert all(1.5 < r < 6 for r in priced)  # the true ratio is 3 at every level
    lowest_final = min(c["accuracy"][-1] for e in summary["methods"].values() for c in e["curves"])
    for level, ratio in zip(curve["levels"], curve["ratios"]):
        if level > lowest_final:  # some seed never got there: not priced
            assert ratio is None
    assert len(curve["levels"]) == len(curve["ci"]) == len(curve["fractions"]) == 14


def test_every_racer_is_priced_against_each_baseline_on_both_metrics():
    summary = _race({"sft": 1e10, "rl": 2e10, "opd": 1e10, "opd-exact": 5e9})
    rows = all_ratio_rows(summary)
    pairs = {(r["method"], r["baseline"], r["metric"]) for r in rows}
    assert ("opd-exact", "rl", "greedy") in pairs and ("opd-exact", "rl", "sampled") in pairs
    assert ("opd", "sft", "sampled") in pairs and ("sft", "opd", "greedy") in pairs
    assert all(r["method"] != r["baseline"] for r in rows)
    assert {r["method"] for r in rows_against(rows)} == {"sft", "rl", "opd-exact"}
    # curves without greedy outcomes are priced on sampled accuracy only
    assert {r["metric"] for r in all_ratio_rows(_race({"rl": 1e10, "opd": 1e10}, greedy=False))} == {
        "sampled"
    }
    shapes = level_curves(summary, n_boot=50)
    assert {(c["method"], c["baseline"]) for c in shapes} >= {("opd-exact", "rl"), ("sft", "opd")}


def test_merging_a_later_race_refuses_other_settings():
    config = {"budget": 1e12, "seeds": 5, "group_size": 4, "eval_n": 1000, "eval_points": 14}
    committed = {**_race({"rl": 1e10, "opd": 2e10}), "config": {**config, "methods": ["rl", "opd"]}}
    added = {**_race({"opd-exact": 5e9}), "config": {**config, "methods": ["opd-exact"]}, "wall_seconds": 9.0}
    merged = merge_summaries(committed, added)
    assert (
        merged["config"]["methods"] == ["rl", "opd", "opd-exact"] and merged["added"][0]["wall_seconds"] == 9
    )
    assert any(r["method"] == "opd-exact" and r["baseline"] == "rl" for r in merged["ratios"])
    with pytest.raises(LabkitError, match="budget"):
        merge_summaries(committed, {**added, "config": {**added["config"], "budget": 2e12}})


def test_merging_tuning_refuses_another_protocol():
    protocol = {"grid": {"learning_rate": [1e-4]}, "seed": 1000, "budget": 1e12, "wall_seconds": 5.0}
    committed = {"protocol": protocol, "methods": {"rl": {"chosen": {}}}}
    added = {"protocol": {**protocol, "wall_seconds": 2.0}, "methods": {"opd-topk": {"chosen": {}}}}
    assert set(merge_tuning(committed, added)["methods"]) == {"rl", "opd-topk"}
    with pytest.raises(LabkitError, match="grid"):
        merge_tuning(committed, {**added, "protocol": {**protocol, "grid": {"learning_rate": [3e-4]}}})


def test_the_plateau_rule_and_the_posts_accountings():
    flops = [1e11, 2e11, 4e11, 8e11]
    assert gain_per_doubling(flops, [0.5, 0.6, 0.7, 0.8]) == pytest.approx(0.1)
    assert gain_per_doubling(flops, [0.5, 0.6, 0.61, 0.62], last=3) == pytest.approx(0.01)
    # the default window is four evaluations: one dip does not end a climb
    assert (
        gain_per_doubling(flops, [0.57, 0.65, 0.72, 0.68])
        > 0.02
        > gain_per_doubling(flops[1:], [0.65, 0.72, 0.68], last=3)
    )
    fit = log_linear_fit([1e11, 1e12, 1e13], [0.6, 0.7, 0.8])
    assert fit["slope_per_decade"] == pytest.approx(0.1) and fit_flops_at(fit, 0.9) == pytest.approx(1e14)
    plateau = {"curve": {"flops": [1e12, 4e12], "student_flops": [2.5e11, 1e12]}}
    # the post's table counts SFT-2M's extra prompts, not its whole cost: both start at the plateau
    assert extrapolated_sft_cost("post_30x", 1e14, plateau) == pytest.approx(1e14 - 4e12)
    assert extrapolated_sft_cost("post_9x", 1e14, plateau) == pytest.approx((1e14 - 4e12) / 4)
    assert extrapolated_sft_cost("flops", 1e14, plateau) == pytest.approx(1e14 - 4e12)
    assert extrapolated_sft_cost("episodes", 1e14, plateau) is None
    summary = {
        "methods": {m: {"curves": [{"flops": [0, 1e12], "student_flops": [0, 3e11]}]} for m in ("sft", "opd")}
    }
    with_post_axes(summary)
    sft, opd = (summary["methods"][m]["curves"][0] for m in ("sft", "opd"))
    assert sft["post_9x"] == [0, 3e11] and sft["post_30x"] == [0, 1e12]
    assert opd["post_9x"] == opd["post_30x"] == [0, 1e12]
    finished = [{"what": w, "flops": f, "accuracy": a} for w, f, a in (("b", 1e13, 0.8), ("a", 1e11, 0.6))]
    fit = finished_fit(finished)
    assert fit["slope_per_decade"] == pytest.approx(0.1) and fit["points"] == 2
    assert fit["fit_on"].index("a 60.0%") < fit["fit_on"].index("b 80.0%")


def test_the_teacher_free_control_gives_every_sampled_token_one_negative_advantage(tiny_student, tokenizer):
    from labkit.task import AdditionTask
    from labkit.train import TrainConfig, Trainer

    config = TrainConfig(
        method="const-adv", kl_penalty_coef=0.5, steps=1, batch_size=2, group_size=2, eval_n=4
    )
    trainer = Trainer(config, tiny_student, tokenizer, AdditionTask(), progress=False)  # no teacher needed
    batch = trainer.make_batch(1)
    assert torch.equal(batch.advantages, -0.5 * batch.mask)
    loss, _ = trainer.loss(batch)
    assert torch.isfinite(loss) and trainer.ledger.teacher == 0


def test_self_distillation_scores_the_students_tokens_with_the_reference_shown_first(tiny_student, tokenizer):
    from labkit.encoding import encode_prompts
    from labkit.scoring import logprobs
    from labkit.task import AdditionTask
    from labkit.train import TrainConfig, Trainer

    config = TrainConfig(method="self-distill", steps=1, batch_size=2, group_size=2, eval_n=4)
    trainer = Trainer(config, tiny_student, tokenizer, AdditionTask(), progress=False)
    batch = trainer.make_batch(1)
    assert batch.teacher_logprobs.shape == batch.mask.shape
    assert trainer.ledger.teacher == 0 and trainer.ledger.self_scoring > 0  # the student's own extra pass
    # the same numbers by hand: reference solution, a space, the prompt; then the student's completion
    trainer.rng.seed(config.seed)
    texts = [trainer.task.solution(p, trainer.rng)[0] + " " + p.prompt for p in batch.problems]
    width = max(map(len, texts))
    prompts = encode_prompts(tokenizer, [" " * (width - len(t)) + t for t in texts])
    sequences = torch.cat([prompts, batch.sequences[:, batch.prompt_length :]], dim=1)
    with torch.no_grad():
        expected = logprobs(tiny_student, tokenizer, sequences, prompts.shape[1])
    assert torch.allclose(batch.teacher_logprobs, expected, atol=1e-5)
    assert not torch.allclose(batch.teacher_logprobs * batch.mask, batch.sampling_logprobs * batch.mask)


def test_sft_is_extrapolated_only_beyond_its_measured_curves():
    from labkit.studies.plateau import plateau_ratios

    summary = _race({"sft": 1e12, "opd": 1e10})  # SFT's seeds never reach the upper levels in the race
    summary["teacher_accuracy"] = 0.9
    plateau = {"curve": {"flops": [1e12, 4e12], "student_flops": [2.5e11, 1e12]}}
    with_post_axes(summary)
    far = {"slope_per_decade": 0.05, "intercept": -0.1, "points": 3, "fit_flops": [1e12, 1e13]}
    near = {"slope_per_decade": 0.5, "intercept": -5.0, "points": 3, "fit_flops": [1e12, 1e13]}
    for fit, extrapolated in ((far, True), (near, False)):
        rows = [
            r
            for r in plateau_ratios(
                summary,
                plateau,
                fit,
                n_boot=20,
                fits={"far": far, "steeper": far | {"slope_per_decade": 0.06}},
            )
            if r["method"] == "sft" and r["baseline"] == "opd" and r["ratio"] is None or r["extrapolated"]
        ]
        assert any(r["extrapolated"] for r in rows) == extrapolated
        assert all(r["ratio"] > 0 for r in rows if r["extrapolated"])
        # the range over the fits holds the priced ratio; a steeper fit prices SFT cheaper, where it prices it
        assert all(r["fit_range"][0] <= r["fit_range"][1] == r["ratio"] for r in rows if r["extrapolated"])
        assert any(r["fit_range"][0] < r["ratio"] for r in rows if r["extrapolated"]) == extrapolated


def test_a_tuning_transfers_only_where_its_choice_is_within_the_seeds_spread():
    from labkit.studies.tuning import TUNING_SEED, transfer

    a, b = {"learning_rate": 3e-4, "batch_size": 4}, {"learning_rate": 1e-4, "batch_size": 4}
    small = {"learning_rate": 3e-4, "batch_size": 2}
    committed = {"methods": {"rl": {"chosen": a, "tried": [{"settings": a, "score": 0.60},
                                                             {"settings": b, "score": 0.55}]}}}  # fmt: skip
    # the committed choice's own scores spread 0.02 (first) or 0.10 (second) across seeds; its gap to the
    # second seed's best is 0.01 (within) or 0.20 (beyond)
    for (score_a, score_b), holds in (((0.58, 0.59), True), ((0.50, 0.70), False)):
        tried = [{"settings": a, "score": score_a}, {"settings": b, "score": score_b}]
        second = {"methods": {"rl": {"chosen": b, "tried": tried}}}
        extra = {"rl": {TUNING_SEED: [{"settings": small, "score": 0.61}],
                        TUNING_SEED + 1: [{"settings": small, "score": 0.40}]}}  # fmt: skip
        row = transfer(committed, second, extra, small_batches=(2,))["rl"]
        assert not row["same_choice"] and row["holds"] == holds
        assert row["seeds"][str(TUNING_SEED)]["best"] == small  # the smaller batch won on the first seed only
        assert not row["a_smaller_batch_wins_on_both_seeds"]
        assert row["largest_gap_to_best"] == pytest.approx(max(0.01, score_b - score_a))


def test_sft_is_priced_between_finished_models_where_they_bracket_the_level():
    from labkit.studies.plateau import finished_flops_at

    finished = [
        {"flops": 1e12, "accuracy": 0.7},
        {"flops": 1e14, "accuracy": 0.9},
        {"flops": 1e13, "accuracy": 0.8},
    ]
    assert finished_flops_at(finished, 0.75) == pytest.approx(10**12.5)
    assert finished_flops_at(finished, 0.9) == pytest.approx(1e14)
    assert finished_flops_at(finished, 0.95) is None and finished_flops_at(finished, 0.6) is None


def test_a_start_mid_climb_never_hides_a_real_plateau():
    from labkit.errors import LabkitError
    from labkit.studies.plateau import as_start

    started = as_start({"stopped": {"why": "budget", "step": None}, "curve": {}}, 1.7e12)
    assert "not a plateau" in started["stopped"]["why"] and as_start(started, 1.7e12) == started
    with pytest.raises(LabkitError, match="plateaued"):
        as_start({"stopped": {"why": "gain 0.010 per doubling < 0.02", "step": 9}}, 1.7e12)


def _finished(rng, budgets: dict, seeds=(0, 1, 2), problems=200, spread=0.0) -> list[dict]:
    """Finished SFT models: at each ``{flops: accuracy}``, one per seed solving each problem with that chance
    (moved by ``spread`` times a per-seed offset, the same across budgets: a seed's models are one run's)."""
    from labkit.evaluate import pack_correct

    offsets = {s: spread * (s - np.mean(seeds)) for s in seeds}
    points = []
    for flops, accuracy in budgets.items():
        for s in seeds:
            won = rng.random(problems) < accuracy + offsets[s]
            points.append({"what": f"{flops:.2g} seed {s}", "flops": flops * (1 + 1e-3 * s), "seed": s,
                           "accuracy": float(np.mean(won)), "correct": pack_correct(won)})  # fmt: skip
    return points


def test_finished_sft_models_of_one_budget_count_as_their_seeds_mean_and_give_sft_an_interval():
    from labkit.studies.costs import cost_to_reach
    from labkit.studies.plateau import (
        budget_groups,
        extrapolated_sft_cost,
        finished_flops_at,
        finished_interval,
        sft_seeds,
    )

    rng = np.random.default_rng(0)
    summary = _race({"opd": 1e10}, greedy=False)
    plateau = {"curve": {"flops": [2e12], "student_flops": [5e11]}}
    base = cost_to_reach(summary["methods"]["opd"], "flops", 0.6, "opd")
    assert base is not None  # the baseline reaches the level in its race
    budgets = {2e12: 0.5, 4e12: 0.75}
    same, spread = _finished(rng, budgets), _finished(rng, budgets, spread=0.08)
    groups = budget_groups(same)
    assert [len(g["points"]) for g in groups] == [3, 3] and sft_seeds(same) == [0, 1, 2]
    assert groups[0]["accuracy"] == pytest.approx(np.mean([p["accuracy"] for p in same[:3]]))
    widths = []
    for finished in (same, spread):
        ratio = extrapolated_sft_cost("flops", finished_flops_at(finished, 0.6), plateau) / base
        ci = finished_interval(finished, summary, plateau, "opd", "flops", 0.6, n_boot=200)
        assert ci[0] < ratio < ci[1]
        widths.append(np.log(ci[1] / ci[0]))
    assert widths[1] > 1.2 * widths[0]  # seeds that disagree widen SFT's side of the interval
    one_seed = [p for p in same if p["seed"] == 0]
    assert (
        sft_seeds(one_seed) == []
        and finished_interval(one_seed, summary, plateau, "opd", "flops", 0.6) is None
    )
