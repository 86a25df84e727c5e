"""The comparison runs its runs side by side in worker processes without changing a single number."""

import subprocess
import sys

import pytest

from labkit.errors import LabkitError
from labkit.studies.compare import CompareConfig, run_comparison, summarize

pytestmark = pytest.mark.slow  # starts processes, servers or notebooks: `make test-fast` skips it

SMALL = dict(methods=("sft", "opd"), seeds=1, budget=2e10, eval_n=32, eval_points=2, snapshot_prompts=1)


def test_results_do_not_depend_on_the_number_of_workers():
    summaries = {
        w: summarize(run_comparison(CompareConfig(workers=w, **SMALL), progress=False)) for w in (1, 2)
    }
    for method in SMALL["methods"]:
        one, two = summaries[1]["methods"][method], summaries[2]["methods"][method]
        assert one["curves"][0]["accuracy"] == two["curves"][0]["accuracy"]
        assert one["curves"][0]["flops"] == two["curves"][0]["flops"]
        assert len(one["curves"][0]["accuracy"]) >= 2
    assert summaries[2]["machine"]["workers"] == 2 and summaries[1]["machine"]["workers"] == 1


def test_a_script_without_a_main_guard_gets_told_how_to_fix_it(tmp_path):
    script = tmp_path / "race.py"
    script.write_text(
        "from labkit.studies.compare import CompareConfig, run_comparison\n"
        f"run_comparison(CompareConfig(workers=2, **{SMALL!r}), progress=False)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert 'if __name__ == "__main__":' in done.stderr and "workers=1" in done.stderr


def test_an_error_in_a_worker_reaches_the_caller():
    with pytest.raises(LabkitError, match="below the cost of one"):
        run_comparison(CompareConfig(workers=2, **{**SMALL, "budget": 1e3}), progress=False)
