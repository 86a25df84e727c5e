"""What benchmarks/real_size.py runs (labkit.studies.realsize): the real configs, the local tokenizer, 07's
path at a tiny scale, and the memory table notebook 07 quotes (labkit.views.tables.memory_table)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.studies import realsize
from labkit.views.tables import memory_table

ROOT = Path(__file__).resolve().parent.parent


def test_the_configs_give_qwen3_06b_and_17b_their_parameter_counts():
    counts = realsize.parameter_counts()
    assert counts["student"] == 596_049_920  # Qwen3-0.6B: 0.44B without the tied embedding, 0.60B with it
    assert 1.70e9 < counts["teacher"] < 1.75e9  # Qwen3-1.7B: 1.4B without the tied embedding
    assert (
        0.01 < counts["student_lora"] / counts["student"] < 0.02
    )  # rank-16 adapters: under 2% of the student


def test_notebook_07_quotes_the_memory_table_of_the_committed_results():
    results = json.loads((ROOT / "benchmarks" / "results" / "real_size.json").read_text())
    assert results["analytic_memory"] == json.loads(json.dumps(realsize.analytic_memory()))
    notebook = json.loads((ROOT / "notebooks" / "07_scale_up.ipynb").read_text())
    text = "".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    for line in memory_table(results["analytic_memory"]).splitlines():
        assert line in text, f"notebook 07's memory table is out of step with real_size.json: {line}"


def test_the_local_tokenizer_reads_a_word_problem_in_about_as_many_tokens_as_qwens():
    from labkit.studies.wordproblems import WordProblemTask

    tokenizer = realsize.build_tokenizer(realsize.TOKENIZER_SIZE)
    assert len(tokenizer) == 151_669 and tokenizer.bos_token is None
    task = WordProblemTask()
    for problem in task.problems(20, "held_out", seed=3):
        text = problem.prompt + task.solution(problem)[0]
        ids = tokenizer(text)["input_ids"]
        assert tokenizer.unk_token_id not in ids and tokenizer.decode(ids) == text
        assert 18 <= len(tokenizer(problem.prompt)["input_ids"]) <= 35  # Qwen's BPE: about 25


def test_notebook_07s_path_runs_on_random_weights_at_a_tiny_scale(tmp_path):
    options = ["fp32", "lora_bf16_teacher_checkpointing"] if importlib.util.find_spec("peft") else ["fp32"]
    realsize.build(tmp_path, scale=0.02)
    for option in options:
        row = realsize.measure(tmp_path, option, steps=1, eval_n=0)
        assert row["fast_sampler"] == "used"
        assert row["steps"][0]["tokens"] == 4 * 48  # random weights never stop early: 4 full samples
        assert set(realsize.PHASES.values()) <= set(row["steps"][0]["seconds"])
        assert row["peak_gib"]["process"] > 0 and row["scored_tokens"] == 48
    assert row["parameters"]["student_trainable"] < row["parameters"]["student"] or options == ["fp32"]


@pytest.mark.slow  # starts a process
def test_the_benchmark_alone_writes_the_analytic_memory_and_the_machine(tmp_path):
    out = tmp_path / "real_size.json"
    script = ROOT / "benchmarks" / "real_size.py"
    command = [sys.executable, str(script), "--analytic-only", "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["analytic_memory"] == json.loads(json.dumps(realsize.analytic_memory()))
    assert results["machine"]["memory_gib"] > 0 and results["tokenizer_size"] == realsize.TOKENIZER_SIZE
    assert memory_table(results["analytic_memory"]) in done.stdout
