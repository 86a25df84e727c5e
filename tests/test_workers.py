"""The worker pool: errors and interrupts stop everything, and workers never outlive their parent."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit.errors import LabkitError
from labkit.studies.workers import run_jobs


def _workers_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_results_come_back_in_job_order():
    assert run_jobs(pow, [(2, k) for k in range(6)], workers=2) == [1, 2, 4, 8, 16, 32]


def test_the_first_error_reaches_the_caller():
    with pytest.raises(ValueError, match="math domain error"):
        run_jobs(__import__("math").sqrt, [(4.0,), (-1.0,), (9.0,)], workers=2)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to find the workers")
def test_an_idle_worker_exits_at_once_when_its_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(
        "import time\nfrom labkit.studies.workers import run_jobs\n"
        "if __name__ == '__main__':\n    run_jobs(time.sleep, [(60,), (0.1,)], workers=2)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)])
    workers, deadline = [], time.time() + 60
    while len(workers) < 2 and time.time() < deadline:
        time.sleep(0.2)
        workers = _workers_of(parent.pid)
    assert len(workers) == 2, "the two workers never started"
    time.sleep(2.0)  # one worker finished its short job and waits for the next; the other sleeps on
    parent.kill()
    parent.wait()
    time.sleep(2.0)
    try:
        assert sum(_running(pid) for pid in workers) == 1  # only the one still inside its 60-second job
    finally:
        subprocess.run(["kill", "-9", *map(str, workers)], capture_output=True)


def test_a_worker_that_dies_is_named_with_the_likely_causes():
    with pytest.raises(LabkitError, match="worker process died"):
        run_jobs(__import__("os")._exit, [(3,), (3,)], workers=2)
