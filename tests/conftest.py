import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

torch.set_num_threads(min(2, os.cpu_count() or 1))

NOTEBOOK_DIR = ROOT / "notebooks"
QUICK = {"quick": True, "seed": 0, "solutions": True}
SLOWEST_FIRST = ("05_side_by_side.ipynb", "08_when_does_it_win.ipynb", "06_continual_learning.ipynb")
NOTEBOOK_TEST = "test_notebook_executes_and_reports_sane_results"
RERUN_TEST = "test_a_notebook_rerun_with_the_same_seed_records_identical_results"
PROBE_TEST = "test_side_by_side_notebooks_each_get_one_core_and_their_own_results"


@pytest.fixture(scope="session")
def executed(request, tmp_path_factory):
    """The quick runs of the notebooks this session selected, started together when the first notebook test
    asks, side by side (one per core, one thread each: ``run_notebooks.execute_side_by_side``), slowest first:
    ``{name: future}``, ``"again"`` for a second run of the notebook the determinism test reruns, and the
    lanes' probes first (one per lane). Nothing else runs meanwhile: the other tests beside them, on the same
    two cores, made the whole suite slower."""
    from labkit.tools.run_notebooks import OFFLINE_PARAMETERS, execute_side_by_side

    from .test_notebooks import PROBES, RERUN, write_probe

    selected = {item.name for item in request.session.items}
    names = [
        *SLOWEST_FIRST,
        *sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb") if p.name not in SLOWEST_FIRST),
    ]
    where, jobs = tmp_path_factory.mktemp("notebooks"), {}
    if PROBE_TEST in selected:
        write_probe(where / "probe.ipynb")
        jobs = {tag: (where / "probe.ipynb", where / f"{tag}.ipynb", {"tag": tag}) for tag in PROBES}
    for name in names:
        if f"{NOTEBOOK_TEST}[{name}]" in selected:
            jobs[name] = (NOTEBOOK_DIR / name, where / name, {**QUICK, **OFFLINE_PARAMETERS.get(name, {})})
    if RERUN_TEST in selected:
        jobs.setdefault(RERUN, (NOTEBOOK_DIR / RERUN, where / RERUN, QUICK))
        jobs["again"] = (NOTEBOOK_DIR / RERUN, where / f"again-{RERUN}", QUICK)
    futures, pool = execute_side_by_side(jobs)
    yield futures
    pool.shutdown(cancel_futures=True)


@pytest.fixture(scope="session")
def tokenizer():
    from labkit.tokenizer import build_tokenizer

    return build_tokenizer()


@pytest.fixture(scope="session")
def tiny_sizes():
    from labkit.models import ModelSize

    return ModelSize(n_layer=1, d_model=32, n_head=2, d_mlp=64), ModelSize(
        n_layer=2, d_model=48, n_head=2, d_mlp=96
    )


@pytest.fixture()
def tiny_student(tokenizer, tiny_sizes):
    from labkit.models import build_model

    return build_model(tiny_sizes[0], tokenizer, seed=1)


@pytest.fixture()
def tiny_teacher(tokenizer, tiny_sizes):
    from labkit.models import build_model

    return build_model(tiny_sizes[1], tokenizer, seed=2)


@pytest.fixture(scope="session")
def shipped():
    """The shipped teacher and student, loaded the way a user loads them."""
    from labkit.evaluate import task_of
    from labkit.models import load

    teacher, tokenizer = load(DATA / "teacher")
    student, _ = load(DATA / "student")
    return {"teacher": teacher, "student": student, "tokenizer": tokenizer, "task": task_of(DATA / "student")}


@pytest.fixture(scope="session")
def lab(shipped):
    """The shipped pair as notebooks hold it: ``(task, teacher, student, tokenizer)``."""
    return shipped["task"], shipped["teacher"], shipped["student"], shipped["tokenizer"]
