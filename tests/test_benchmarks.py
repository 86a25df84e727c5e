"""The README shows what the committed benchmark files say, not numbers typed by hand."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def _table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def test_the_sweep_table_is_made_from_the_sweep_results():
    spec = importlib.util.spec_from_file_location("regimes_sweep", ROOT / "benchmarks" / "regimes_sweep.py")
    sweep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sweep)
    results = json.loads((RESULTS / "regimes_sweep.json").read_text())
    assert sweep.format_sweep(results) == (RESULTS / "regimes_sweep.md").read_text()


def test_the_readme_shows_the_committed_tables():
    readme = (ROOT / "README.md").read_text()
    for name in ("table.md", "regimes_sweep.md"):
        lines = _table_lines((RESULTS / name).read_text())
        assert lines and all(line in readme for line in lines), (
            f"README is out of step with benchmarks/results/{name}"
        )


def test_the_readme_quotes_the_measured_headline_time():
    seconds = json.loads((RESULTS / "throughput.json").read_text())["headline_wall_seconds"]
    assert f"{seconds:.0f} s" in (ROOT / "README.md").read_text()
