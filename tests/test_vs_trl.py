"""benchmarks/vs_trl.py: TRL stays optional, and labkit's half does the promised fixed-length work."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

import labkit.sampling
import labkit.train

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--steps", "1", "--warmup", "1", "--batch-size", "2", "--group-size", "2"]


@pytest.fixture(scope="module")
def vs_trl():
    spec = importlib.util.spec_from_file_location("vs_trl", ROOT / "benchmarks" / "vs_trl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imports no trl: only main() asks for it
    return module


def test_the_benchmark_explains_its_options(vs_trl, capsys):
    with pytest.raises(SystemExit) as exit:
        vs_trl.main(["--help"])
    assert exit.value.code == 0
    assert "--steps" in capsys.readouterr().out


def test_without_trl_the_benchmark_names_the_extra_to_install(vs_trl, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "trl", None)  # as if trl were not installed
    with pytest.raises(SystemExit) as exit:
        vs_trl.main([*TINY, "--out", str(tmp_path / "vs_trl.json")])
    assert 'pip install -e ".[bench]"' in str(exit.value.code)
    assert not (tmp_path / "vs_trl.json").exists()


def test_labkit_samples_every_completion_at_full_length_in_the_benchmark(vs_trl, tmp_path):
    results = vs_trl.main(["--labkit-only", *TINY, "--out", str(tmp_path / "vs_trl.json")])
    assert results["tokens_per_step"] == 2 * 2 * results["settings"]["max_new_tokens"]  # checked every step
    assert set(results["labkit_only"]) == {"labkit_opd", "labkit_opd_exact"}
    assert all(len(r["per_step"]) == 1 and r["median"] > 0 for r in results["labkit_only"].values())
    assert json.loads((tmp_path / "vs_trl.json").read_text()) == results
    assert labkit.train.sample is labkit.sampling.sample  # the fixed-length sampler was only borrowed
