"""benchmarks/vs_trl.py (labkit.studies.vs_trl): TRL stays optional, and labkit's half does the promised
fixed-length work."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import labkit.sampling
import labkit.train
from labkit.studies import vs_trl

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "vs_trl.py"
TINY = ["--steps", "1", "--warmup", "1", "--batch-size", "2", "--group-size", "2"]
HIDE_TRL = (  # runs the script named after ``-c ...`` as if trl were not installed
    "import runpy, sys; sys.modules['trl'] = None; sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def _driver(*argv: str, without_trl: bool = False) -> subprocess.CompletedProcess:
    """The benchmark's command line in a fresh process."""
    command = [sys.executable, *(["-c", HIDE_TRL] if without_trl else []), str(SCRIPT), *argv]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # starts a process
def test_the_benchmark_explains_its_options():
    done = _driver("--help")
    assert done.returncode == 0
    assert "--steps" in done.stdout


@pytest.mark.slow  # starts a process
def test_without_trl_the_benchmark_names_the_extra_to_install(tmp_path):
    done = _driver(*TINY, "--out", str(tmp_path / "vs_trl.json"), without_trl=True)
    assert done.returncode != 0
    assert 'pip install -e ".[bench]"' in done.stderr
    assert not (tmp_path / "vs_trl.json").exists()


@pytest.mark.slow  # starts a process
def test_labkit_samples_every_completion_at_full_length_in_the_benchmark(tmp_path):
    settings = vs_trl.Settings(steps=1, warmup=1, batch_size=2, group_size=2)
    results = vs_trl.run(settings, labkit_only=True)
    assert results["tokens_per_step"] == 2 * 2 * results["settings"]["max_new_tokens"]  # checked every step
    assert set(results["labkit_only"]) == {"labkit_opd", "labkit_opd_exact"}
    assert all(len(r["per_step"]) == 1 and r["median"] > 0 for r in results["labkit_only"].values())
    assert labkit.train.sample is labkit.sampling.sample  # the fixed-length sampler was only borrowed
    done = _driver("--labkit-only", *TINY, "--out", str(tmp_path / "vs_trl.json"))
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "vs_trl.json").read_text())
    assert written.keys() == results.keys() and written["settings"].keys() == results["settings"].keys()
    assert written["tokens_per_step"] == results["tokens_per_step"]
    assert json.loads(done.stdout) == written["labkit_only"]  # what it prints is what it wrote
