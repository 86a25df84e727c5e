"""Every notebook runs under papermill with quick=True, and reports sane results.

The runs start together at the first of these tests (``conftest.executed``: side by side, one per core); each
test waits for its own."""

import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts processes, servers or notebooks: `make test-fast` skips it

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def check_01(r):
    assert r["teacher_greedy"] >= 0.95
    assert r["teacher_sampled"] >= 0.85
    assert r["student_sampled"] <= r["teacher_sampled"] - 0.2
    assert r["split_overlap"] == 0
    assert r["max_teacher_entropy"] > 0.3  # the teacher is uncertain somewhere (style)


def check_02(r):
    assert r["exercises"] and all(r["exercises"].values())  # each checker accepts the worked solution
    assert (
        r["final_accuracy"] >= r["start_accuracy"] + 0.1
    )  # SFT on teacher samples helps this student quickly
    assert r["teacher_kl_end"] < r["teacher_kl_start"]
    # the compounding analysis had mistakes to measure:
    # most steps right, some wrong, some after a first mistake
    assert 0 < r["clean_error_rate"] < 0.5 and r["after_error_rate"] is not None and r["after_error_rate"] > 0
    assert r["teacher_flops"] > 0  # the teacher wrote every training token
    assert r["yours_trained"]  # try_in_training ran SFT with the learner's (here the worked) functions


def check_03(r):
    assert r["exercises"] and all(r["exercises"].values())  # each checker accepts the worked solution
    assert r["teacher_flops"] == 0  # RL never asks the teacher
    assert 0 < r["bits_per_episode"] <= 1
    assert 0 < r["silent_groups"] < 1  # at this start some groups carry no signal, and some do
    assert r["tokens_per_episode"] > 10 * r["bits_per_episode"]
    assert 0 < r["decisive_tokens"] < r["tokens_per_episode"] / 3  # few tokens carry a large grade
    assert r["yours_trained"]  # try_in_training ran RL with the worked solution in place of the lab's
    assert r["reward_end"] > r["reward_start"]


def check_04(r):
    assert r["exercises"] and all(r["exercises"].values())  # each checker accepts the worked solution
    assert r["teacher_kl_end"] < 0.8 * r["teacher_kl_start"]  # distillation lowers its own objective
    assert r["final_accuracy"] > r["start_accuracy"]
    assert r["failed_samples"] > 0
    assert r["prm_hit_rate"] > 0.4  # the teacher's worst token usually sits in the first wrong step
    assert r["prm_hit_rate"] > 1.5 * r["prm_chance_rate"]  # far more often than a token picked at random
    start, end = r["advantage_by_class"]["sum"]
    assert start < end <= 0  # the teacher objects less to the student's arithmetic as it learns
    assert r["identity_holds"]  # the score-function identity, checked against autograd
    assert 0 < r["one_token_cosine"] < 0.9  # one sampled token is a noisy estimate of the exact gradient
    assert 0 < r["decisive_tokens"] < 10  # a few tokens per episode carry a large grade
    # the teacher in the student's states: the same problems and columns for the mistaken and clean prefixes
    rates, counts = r["teacher_next_step"], r["teacher_next_step_problems"]
    assert set(rates) == set(counts) == {"after_own", "after_reference", "after_student_mistake"}
    assert all(0 <= v <= 1 for v in rates.values()) and counts["after_student_mistake"] > 0
    assert counts["after_reference"] == counts["after_student_mistake"] >= counts["after_own"]
    assert rates["after_reference"] > 0.8  # the teacher writes clean text's next step (a sanity floor)
    assert all(v is not None and v >= 0 for v in r["teacher_next_step_entropy"].values())
    wrote_wrong_carry, took_true_carry = r["teacher_true_carry"]
    assert 0 <= took_true_carry <= wrote_wrong_carry <= counts["after_student_mistake"]
    assert r["yours_trained"]  # try_in_training ran OPD with the worked solution in place of the lab's


def check_05(r):
    from labkit.studies.compare import HEADLINE

    assert r["teacher_accuracy"] > 0.9 and r["seeds"] >= 2
    assert set(r["curves_per_method"]) == set(HEADLINE)
    assert all(n == r["seeds"] for n in r["curves_per_method"].values())
    for method, accuracy in r["final_accuracy"].items():
        assert r["start_accuracy"] < accuracy <= 1, method  # every method improves on the shared start
    assert all(0 < x < 1 for x in r["unlikely_rate"].values())  # some rollouts leave the teacher's support
    # recovery from a planted mistake: every student measured after every kind of prefix
    assert set(r["next_step"]) == {"start", *r["curves_per_method"]}
    assert all(0 <= v <= 1 for rates in r["next_step"].values() for v in rates.values())
    # compounding matched for difficulty is measured where there are mistakes to match (the start has many)
    assert set(r["matched_compounding"]) == set(r["next_step"]) and r["matched_compounding"]["start"] > 0
    trained = [r["next_step"][m]["reference"] for m in r["curves_per_method"]]
    assert sum(trained) / len(trained) > r["next_step"]["start"]["reference"]  # training teaches the step


def check_00(r):
    assert r["teacher_accuracy"] > 0.9 and set(r["final_accuracy"]) == {"sft", "rl", "opd"}
    assert all(r["start_accuracy"] < a <= 1 for a in r["final_accuracy"].values())
    assert r["snapshots"] >= 2  # the per-token view has something to show
    # the break-even picture: edge / price is the measured RL / method FLOPs ratio, for each estimator
    for name, point in r["break_even"].items():
        assert point["edge"] / point["price"] == pytest.approx(point["flops"], rel=1e-6), name
    exact, sampled = r["break_even"]["exact, ~10x teacher"], r["break_even"]["sampled, ~10x teacher"]
    assert exact["edge"] > sampled["edge"]  # the whole distribution buys more per episode


def check_06(r):
    assert r["knowledge_after_midtrain"] > r["knowledge_start"]  # mid-training teaches the facts
    assert r["skill_after_midtrain"] < r["skill_start"] - 0.3  # ... and costs the skill
    assert (
        r["skill_after_distill"] > r["skill_after_mix"]
    )  # distilling from the earlier self brings the skill back
    assert len(r["rows"]) == 4


def check_07(r):
    assert r["compatible"] is True and r["device"] == "cpu" and r["steps"] == 3
    assert len(r["teacher_kl"]) == 3 and all(x >= 0 for x in r["teacher_kl"])
    assert r["scored_tokens"] >= 1


def check_08(r):
    from labkit.studies.compare import METHOD_SETTINGS
    from labkit.studies.costs import ACCOUNTINGS

    assert set(r["race_ratios"]) == {"teacher ~10x the student", "teacher = student size"}
    for ratios in [r["benchmark_ratios"], *r["race_ratios"].values(), *r["sweep_ratios"].values()]:
        assert set(ratios) == set(ACCOUNTINGS)
        for accounting in ratios.values():
            assert {"sft", "rl"} <= set(accounting) and "opd" not in accounting
            assert all(v is None or v > 0 for v in accounting.values())
    # every racer priced against OPD; under the post's own accounting SFT pays for its student only
    import json

    from tests.conftest import ROOT

    headline = json.loads((ROOT / "benchmarks" / "results" / "side_by_side.json").read_text())
    assert set(r["benchmark_ratios"]["flops"]) == set(headline["methods"]) - {"opd"}
    assert r["benchmark_ratios"]["post_sft_data_free"]["sft"] < r["benchmark_ratios"]["flops"]["sft"]
    assert r["benchmark_ratios"]["post_sft_data_free"]["rl"] == r["benchmark_ratios"]["flops"]["rl"]
    # the ledger: an OPD episode pays for a teacher pass RL never makes
    assert r["per_episode_vs_rl"]["opd"] > 1.5 and r["per_episode_vs_rl"]["sft-reference"] < 1.5
    assert r["tuning_chosen"] == METHOD_SETTINGS
    assert all(a > 0.9 for a in r["teacher_accuracy"].values())
    # the committed sweep: every regime priced, and the control really has no free choices left
    assert {"shipped", "same-size-teacher", "no-style-entropy", "small-student"} <= set(r["sweep_ratios"])
    assert r["sweep_entropy"]["no-style-entropy"] < 0.2 * r["sweep_entropy"]["shipped"]


def check_10(r):
    assert set(r["pitfalls"]) == {"kl-sign", "teacher-grad", "student-stopped", "prompt-mismatch",
                                  "zero-advantage", "label-shift", "temperature"}  # fmt: skip
    assert r["healthy"]["teacher_grad"] == 0 and r["pitfalls"]["teacher-grad"]["teacher_grad"] > 0
    assert r["pitfalls"]["student-stopped"]["weight_change"] == 0 < r["healthy"]["weight_change"]
    assert abs(r["pitfalls"]["zero-advantage"]["first_advantage"]) < 1e-4
    assert r["pitfalls"]["temperature"]["first_abs_log_ratio"] > 10 * r["healthy"]["first_abs_log_ratio"]
    assert r["padded"]["phantom_mass"] > 0 and r["padded"]["shift_truncated"] == pytest.approx(0, abs=1e-6)
    assert r["found"]  # the worked answer names the planted bug


def check_09(r):
    live = r["live_silent"]
    assert set(live) == {"4", "16"}
    for entry in live.values():
        assert 0 < entry["accuracy"] < 1 and 0 <= entry["silent"] <= 1 and 0 < entry["independent"] < 1
    assert (
        live["16"]["silent"] <= live["4"]["silent"]
    )  # a wider group of the same student is silent less often
    assert {"break_even", "style_mechanism", "sparse_reward"} <= set(r["sections"])
    assert len(r["sparse_starts"]) >= 3 and len(set(r["sparse_starts"])) == len(r["sparse_starts"])
    assert all(0 <= x <= 1 for x in r["sparse_silent_rl"] + r["sparse_capacity_4x"])
    assert set(r["style_token_entropy"]) == {"start", "sft", "opd"}
    if "teacher-4x" in r["break_even"]:  # a smaller teacher makes an OPD episode cheaper
        assert r["break_even"]["teacher-4x"]["price"] < r["break_even"]["shipped"]["price"]


CHECKS = {
    "00_start_here.ipynb": check_00,
    "01_task_and_teacher.ipynb": check_01,
    "02_sft.ipynb": check_02,
    "03_rl.ipynb": check_03,
    "04_on_policy_distillation.ipynb": check_04,
    "05_side_by_side.ipynb": check_05,
    "06_continual_learning.ipynb": check_06,
    "07_scale_up.ipynb": check_07,
    "08_when_does_it_win.ipynb": check_08,
    "09_why.ipynb": check_09,
    "10_pitfalls.ipynb": check_10,
}


# trained twice with one seed (conftest.executed): both runs must record identical results (10_pitfalls
# records seconds per step, so it cannot be the one)
RERUN = "03_rl.ipynb"


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes_and_reports_sane_results(notebook, executed):
    results = executed[notebook.name].result()
    assert notebook.name in CHECKS, f"add a check of {notebook.name}'s recorded results to CHECKS"
    assert results, f"{notebook.name} recorded no results (call labkit.views.notebook.record)"
    CHECKS[notebook.name](results)


@pytest.mark.notebook
def test_a_notebook_rerun_with_the_same_seed_records_identical_results(executed):
    assert executed["again"].result() == executed[RERUN].result()


PROBES = ("probe-a", "probe-b")  # started first in conftest.executed's lanes, one in each


def write_probe(path):
    """A notebook that records its ``tag``, the cores labkit sees, torch's threads and the CPUs it may use."""
    code = (
        "import os, torch\nfrom labkit.studies.workers import cores\n"
        "from labkit.views.notebook import record\n"
        "record(tag=tag, cores=cores(), threads=torch.get_num_threads(), cpu=sorted(os.sched_getaffinity(0)))"
    )
    cells = [{"cell_type": "code", "id": "p", "metadata": {"tags": ["parameters"]}, "source": "tag = ''",
              "outputs": [], "execution_count": None},
             {"cell_type": "code", "id": "r", "metadata": {}, "source": code, "outputs": [],
              "execution_count": None}]  # fmt: skip
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    path.write_text(json.dumps({"cells": cells, "metadata": kernel, "nbformat": 4, "nbformat_minor": 5}))


@pytest.mark.notebook
def test_side_by_side_notebooks_each_get_one_core_and_their_own_results(executed):
    """The runner the suite uses (the probes run first in its two lanes): every job's kernel is kept to one
    core with one thread (so a notebook that fans out over cores sees one), the lanes' cores differ, and each
    result comes back under its key."""
    results = {tag: executed[tag].result() for tag in PROBES}
    assert {tag: r["tag"] for tag, r in results.items()} == {tag: tag for tag in PROBES}
    assert all(r["cores"] == 1 and r["threads"] == 1 and len(r["cpu"]) == 1 for r in results.values())
    if len(os.sched_getaffinity(0)) > 1:  # two lanes: two different cores
        assert results[PROBES[0]]["cpu"] != results[PROBES[1]]["cpu"]
