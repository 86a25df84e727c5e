"""The command line: JSON out, one readable line and a non-zero exit on bad input."""

import json
import subprocess
import sys

import pytest

from labkit.tools.cli import main

from .conftest import DATA, ROOT


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "labkit", *args], capture_output=True, text=True, cwd=ROOT, timeout=600
    )


@pytest.mark.slow
def test_eval_prints_one_json_object():
    proc = _run("eval", "--model", str(DATA / "teacher"), "--n", "64", "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(result) >= {"accuracy", "sampled_accuracy", "n"} and result["n"] == 64
    assert 0.9 <= result["accuracy"] <= 1.0


@pytest.mark.parametrize(
    "args,message",
    [
        (["eval", "--model", "/no/such/folder"], "does not exist"),
        (["eval", "--model", "data/teacher", "--n", "0"], "--n must be at least 1"),
        (["train", "--method", "ppo", "--steps", "2", "--out", "/tmp/x"], "unknown method 'ppo'"),
        (["train", "--method", "opd", "--steps", "0", "--out", "/tmp/x"], "steps must be"),
        (
            ["train", "--method", "opd", "--temperature", "-1", "--steps", "2", "--out", "/tmp/x"],
            "temperature must be > 0",
        ),
    ],
)
def test_bad_input_exits_non_zero_with_one_readable_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("labkit: error:") and message in err


@pytest.mark.slow
def test_bad_input_from_a_shell_gives_exit_code_2_and_no_traceback():
    proc = _run("train", "--method", "opd", "--steps", "-1", "--out", "/tmp/x")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "labkit: error: steps must be a whole number of at least 1, got -1"
    ]


@pytest.mark.parametrize("method", ["sft", "rl", "opd-exact", "gkd"])
def test_every_method_trains_through_the_cli(method, tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--method",
                method,
                "--steps",
                "2",
                "--batch-size",
                "4",
                "--group-size",
                "2",
                "--eval-n",
                "16",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 2 and {
        "loss",
        "reward",
        "teacher_kl",
        "entropy",
        "tokens",
        "flops",
        "seconds",
    } <= set(rows[-1])
    assert (tmp_path / "final" / "config.json").exists()
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["method"] == method


@pytest.mark.slow
def test_on_policy_distillation_lowers_teacher_kl_within_40_steps(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "--method",
                "opd",
                "--steps",
                "40",
                "--seed",
                "0",
                "--out",
                str(tmp_path),
                "--eval-n",
                "64",
                "--learning-rate",
                "3e-4",
                "--warmup-steps",
                "5",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()][1:]
    first = sum(r["teacher_kl"] for r in rows[:8]) / 8
    last = sum(r["teacher_kl"] for r in rows[-8:]) / 8
    assert last < 0.8 * first, (first, last)


@pytest.mark.slow
def test_build_data_writes_loadable_checkpoints_with_their_reports(tmp_path, capsys):
    from labkit.evaluate import task_of
    from labkit.models import load

    assert main(["build-data", "--out", str(tmp_path), "--teacher-steps", "2", "--student-steps", "2",
                 "--only", "teacher", "--only", "student"]) == 0  # fmt: skip
    for role in ("teacher", "student"):
        model, _ = load(tmp_path / role)
        meta = json.loads((tmp_path / role / "labkit.json").read_text())
        assert (
            meta["role"] == role
            and meta["train"]["steps"] == 2
            and {"sampled_accuracy", "greedy_accuracy"} <= set(meta)
        )
        assert task_of(tmp_path / role).style == 0.5  # the shipped task travels with the checkpoint
    assert set(json.loads((tmp_path / "build.json").read_text())) >= {"teacher", "student", "task"}
