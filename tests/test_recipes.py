"""One builder for every built model (labkit.studies.recipes.build_to_targets), and the clean early stop it
relies on (``on_step`` returning True)."""

import json
from dataclasses import replace

from labkit.models import load
from labkit.studies.recipes import TEACHER_RECIPE, build_to_targets
from labkit.task import AdditionTask
from labkit.train import TrainConfig, train

TASK = AdditionTask(digits=2)
RECIPE = replace(TEACHER_RECIPE, steps=6, batch_size=4, eval_n=8, eval_points=3, warmup_steps=0)


def _steps_of(folder) -> int:
    return json.loads((folder / "labkit.json").read_text())["steps"]


def test_a_reached_target_is_saved_where_reached_and_ends_the_run(tokenizer, tiny_sizes, tmp_path):
    reports = build_to_targets(RECIPE, tiny_sizes[0], tokenizer, TASK, {0.0: tmp_path / "a"}, "student",
                               run_dir=tmp_path / "run")  # fmt: skip
    (report,) = reports.values()
    assert report["target"] == 0.0 and report["reached"] >= 0.0
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    first_evaluation = next(r["step"] for r in rows if r["step"] > 0 and "eval_accuracy" in r)
    assert report["steps"] == _steps_of(tmp_path / "a") == first_evaluation < RECIPE.steps
    assert rows[-1]["step"] == first_evaluation  # the run ended there, cleanly: final model and all
    assert (tmp_path / "run" / "final" / "model.safetensors").exists()
    load(tmp_path / "a")


def test_a_target_never_reached_gets_the_last_model_labelled_with_what_it_reached(
    tokenizer, tiny_sizes, tmp_path
):
    outs = {0.0: tmp_path / "easy", 1.01: tmp_path / "never", None: tmp_path / "end"}
    reports = build_to_targets(
        RECIPE, tiny_sizes[0], tokenizer, TASK, outs, "student", run_dir=tmp_path / "run"
    )
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in rows if "eval_accuracy" in r][-1]
    assert rows[-1]["step"] == RECIPE.steps  # the end of the run was asked for: no early stop
    assert reports[1.01]["steps"] == RECIPE.steps and reports[1.01]["reached"] == last["eval_accuracy"]
    assert reports[0.0]["steps"] < RECIPE.steps
    assert "sampled_accuracy" in reports[None] and "target" not in reports[None]
    never, end = (load(tmp_path / n)[0].state_dict() for n in ("never", "end"))
    assert all((never[k] == end[k]).all() for k in end)  # the same, last model


def test_on_step_returning_true_ends_a_run_between_evaluations(tokenizer, tiny_sizes, tmp_path):
    from labkit.models import build_model

    config = TrainConfig(method="sft", sft_data="reference", steps=6, batch_size=4, group_size=1, eval_n=8,
                         eval_points=2)  # fmt: skip
    result = train(config, build_model(tiny_sizes[0], tokenizer, seed=1), tokenizer, TASK, out_dir=tmp_path,
                   progress=False, on_step=lambda step, batch, row: step == 2)  # fmt: skip
    assert result.history[-1]["step"] == 2 and "eval_accuracy" not in result.history[-1]
    saved = json.loads((tmp_path / "final" / "labkit.json").read_text())
    assert saved["final_accuracy"] == result.final_accuracy  # the last evaluation's, not a crash
