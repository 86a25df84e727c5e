"""Reproducible runs, checkpoints that survive interruption, resuming, and clear errors."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from labkit import checkpoint
from labkit.errors import LabkitError
from labkit.models import ModelSize, build_model, load, save
from labkit.task import AdditionTask
from labkit.tokenizer import build_tokenizer
from labkit.tools.cli import main
from labkit.train import TrainConfig, Trainer, train

from .conftest import ROOT

TASK = AdditionTask(digits=2)


def _without_time(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def _models(tokenizer, tiny_sizes):
    return build_model(tiny_sizes[0], tokenizer, seed=1), build_model(tiny_sizes[1], tokenizer, seed=2)


@pytest.mark.parametrize("method", ["sft", "rl", "opd", "gkd"])
def test_same_seed_gives_identical_metrics_and_weights(method, tokenizer, tiny_sizes):
    runs = []
    for _ in range(2):
        student, teacher = _models(tokenizer, tiny_sizes)
        config = TrainConfig(method=method, steps=3, batch_size=4, group_size=2, eval_n=8, seed=5)
        result = train(config, student, tokenizer, TASK, teacher=teacher, progress=False)
        runs.append((_without_time(result.history), student.state_dict()))
    assert runs[0][0] == runs[1][0]
    for name, tensor in runs[0][1].items():
        assert torch.equal(tensor, runs[1][1][name]), name


def test_a_different_seed_gives_a_different_run(tokenizer, tiny_sizes):
    histories = []
    for seed in (0, 1):
        student, teacher = _models(tokenizer, tiny_sizes)
        config = TrainConfig(method="opd", steps=2, batch_size=4, group_size=2, eval_n=8, seed=seed)
        histories.append(
            _without_time(train(config, student, tokenizer, TASK, teacher=teacher, progress=False).history)
        )
    assert histories[0] != histories[1]


class Interrupt(Exception):
    pass


def test_resumed_run_continues_exactly_as_if_never_stopped(tokenizer, tiny_sizes, tmp_path):
    config = TrainConfig(
        method="opd", steps=6, batch_size=4, group_size=2, eval_n=8, eval_points=3, save_every=3, seed=3
    )
    student, teacher = _models(tokenizer, tiny_sizes)
    straight = train(
        config, student, tokenizer, TASK, teacher=teacher, out_dir=tmp_path / "a", progress=False
    )

    def crash_at_step_5(step, batch, row):
        if step == 5:
            raise Interrupt()

    student_b, teacher_b = _models(tokenizer, tiny_sizes)
    with pytest.raises(Interrupt):
        train(
            config,
            student_b,
            tokenizer,
            TASK,
            teacher=teacher_b,
            out_dir=tmp_path / "b",
            progress=False,
            on_step=crash_at_step_5,
        )
    fresh_student, teacher_c = _models(
        tokenizer, tiny_sizes
    )  # a new process: weights come from the checkpoint
    resumed = train(
        config,
        fresh_student,
        tokenizer,
        TASK,
        teacher=teacher_c,
        out_dir=tmp_path / "b",
        resume=True,
        progress=False,
    )

    assert _without_time(resumed.history) == _without_time(straight.history)
    file_rows = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert _without_time(file_rows) == _without_time(straight.history)
    a, b = (
        load_file(str(tmp_path / "a/final/model.safetensors")),
        load_file(str(tmp_path / "b/final/model.safetensors")),
    )
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_interrupted_checkpoint_write_leaves_the_last_good_one_intact(
    tokenizer, tiny_sizes, tmp_path, monkeypatch
):
    config = TrainConfig(
        method="sft", sft_data="reference", steps=4, batch_size=4, group_size=1, eval_n=8, save_every=2
    )
    student, _ = _models(tokenizer, tiny_sizes)
    real_save_file = checkpoint.save_file
    calls = {"n": 0}

    def dies_mid_write(tensors, filename):
        calls["n"] += 1
        if calls["n"] == 2:  # the step-4 checkpoint: write half a file, then the power goes out
            Path(filename).write_bytes(b"\x00" * 100)
            raise KeyboardInterrupt
        real_save_file(tensors, filename)

    monkeypatch.setattr(checkpoint, "save_file", dies_mid_write)
    with pytest.raises(KeyboardInterrupt):
        train(config, student, tokenizer, TASK, out_dir=tmp_path, progress=False)
    state = json.loads((tmp_path / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == 2
    load(tmp_path / "checkpoint")  # still a loadable model
    load_file(str(tmp_path / "checkpoint" / "optimizer.safetensors"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint", "config.json", "metrics.jsonl"]


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(
    tokenizer, tiny_sizes, tmp_path, monkeypatch
):
    config = TrainConfig(
        method="sft", sft_data="reference", steps=5, batch_size=4, group_size=1, eval_n=8, save_every=2
    )
    student, _ = _models(tokenizer, tiny_sizes)
    trainer = Trainer(config, student, tokenizer, TASK, out_dir=tmp_path, progress=False)
    real_loss = trainer.loss

    def poisoned(batch):
        loss, logits = real_loss(batch)
        return (loss * float("nan") if trainer.step == 3 else loss), logits

    monkeypatch.setattr(trainer, "loss", poisoned)
    with pytest.raises(LabkitError, match=r"the loss became nan at step 3 .*last good checkpoint \(step 2\)"):
        trainer.run()
    assert json.loads((tmp_path / "checkpoint" / "trainer_state.json").read_text())["step"] == 2


def test_resuming_with_other_settings_is_refused(tokenizer, tiny_sizes, tmp_path):
    student, _ = _models(tokenizer, tiny_sizes)
    config = TrainConfig(
        method="sft", sft_data="reference", steps=2, batch_size=4, group_size=1, eval_n=8, save_every=2
    )
    train(config, student, tokenizer, TASK, out_dir=tmp_path, progress=False)
    other = TrainConfig(**{**config.__dict__, "learning_rate": 1e-2})
    with pytest.raises(LabkitError, match="other settings .*learning_rate"):
        train(other, student, tokenizer, TASK, out_dir=tmp_path, resume=True, progress=False)
    with pytest.raises(LabkitError, match="no checkpoint to resume"):
        train(config, student, tokenizer, TASK, out_dir=tmp_path / "empty", resume=True, progress=False)


def test_runs_write_only_json_and_safetensors(tokenizer, tiny_sizes, tmp_path):
    student, teacher = _models(tokenizer, tiny_sizes)
    config = TrainConfig(method="opd", steps=2, batch_size=4, group_size=2, eval_n=8, save_every=1)
    train(config, student, tokenizer, TASK, teacher=teacher, out_dir=tmp_path, progress=False)
    suffixes = {p.suffix for p in tmp_path.rglob("*") if p.is_file()}
    assert suffixes <= {".json", ".jsonl", ".safetensors"}, suffixes
    source = "".join(p.read_text() for p in (ROOT / "labkit").glob("*.py"))
    for forbidden in ("import pickle", "torch.save(", "torch.load("):
        assert forbidden not in source


def test_cli_runs_repeat_exactly(tmp_path, capsys):
    args = [
        "train",
        "--method",
        "opd",
        "--steps",
        "3",
        "--batch-size",
        "4",
        "--group-size",
        "2",
        "--eval-n",
        "16",
    ]
    for name in ("a", "b"):
        assert main(args + ["--out", str(tmp_path / name)]) == 0
    rows = [
        [json.loads(x) for x in (tmp_path / n / "metrics.jsonl").read_text().splitlines()] for n in ("a", "b")
    ]
    assert _without_time(rows[0]) == _without_time(rows[1])
    a, b = (load_file(str(tmp_path / n / "final/model.safetensors")) for n in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_resume_flag_continues_a_run(tmp_path, capsys):
    base = [
        "train",
        "--method",
        "sft",
        "--steps",
        "4",
        "--batch-size",
        "4",
        "--group-size",
        "1",
        "--eval-n",
        "16",
        "--save-every",
        "2",
        "--out",
        str(tmp_path),
    ]
    assert main(base) == 0
    assert (
        main(base + ["--resume"]) == 0
    )  # the checkpoint is at step 4 = steps: nothing left to do, nothing lost
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 5


def test_a_teacher_with_another_vocabulary_is_refused_up_front_naming_both(tmp_path, capsys):
    other_tokenizer = build_tokenizer(alphabet="0123456789+=;,!")
    save(build_model(ModelSize(1, 32, 2, 64), other_tokenizer), other_tokenizer, tmp_path / "other")
    code = main(
        [
            "train",
            "--method",
            "opd",
            "--steps",
            "2",
            "--teacher",
            str(tmp_path / "other"),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "student vocabulary has 20 tokens, teacher vocabulary has 19" in err
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_prompts_longer_than_the_context_are_refused_up_front(tokenizer):
    student = build_model(ModelSize(1, 32, 2, 64), tokenizer, max_positions=16)
    with pytest.raises(LabkitError, match="exceed the student's context of 16"):
        train(
            TrainConfig(method="sft", sft_data="reference", steps=1),
            student,
            tokenizer,
            AdditionTask(digits=3),
            progress=False,
        )
