"""The repository's conventions: set-up files in step, notebooks clean and Colab-ready."""

import json
import re
from pathlib import Path

import pytest
import tomllib

from labkit.views.notebook import REPO_URL, colab_ref

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _requirement_names(requirements):
    return {re.split(r"[<>=!~ \[]", r, maxsplit=1)[0].lower(): r.replace(" ", "") for r in requirements}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _requirement_names(project["dependencies"] + project["optional-dependencies"]["dev"])
    text = (ROOT / "environment.yml").read_text()
    pip_section = text.split("- pip:", 1)[1]
    listed = [line.strip()[2:].strip() for line in pip_section.splitlines() if line.strip().startswith("- ")]
    conda_side = _requirement_names([x for x in listed if not x.startswith("-e")])
    assert conda_side == wanted


def test_torch_range_admits_the_local_cpu_wheel_and_excludes_newer_builds():
    import torch
    from packaging.requirements import Requirement

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_range = next(Requirement(d) for d in deps if d.startswith("torch")).specifier
    assert torch.__version__.split("+")[0] in torch_range  # the CPU wheel installed here
    assert "2.2.0" in torch_range  # Colab's older torch stays
    assert "2.14.0" not in torch_range  # an open range pulls a 3 GB CUDA build on CPU-only machines


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_executed_at_full_settings(notebook):
    from labkit.tools.run_notebooks import code_hash

    nb = json.loads(notebook.read_text())
    rerun = f"; rerun `make notebooks` (or `python -m labkit.tools.run_notebooks --in-place {notebook}`)"
    papermill = nb["metadata"].get("papermill")
    assert papermill, f"{notebook.name} is committed without its outputs" + rerun
    assert papermill["parameters"].get("quick") is False, f"{notebook.name} was run at quick settings" + rerun
    assert nb["metadata"].get("labkit", {}).get("code_sha256") == code_hash(nb), (
        f"{notebook.name}'s code changed after its outputs were made" + rerun
    )
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["execution_count"] is not None for c in code), f"{notebook.name} has cells that never ran"
    errors = [o["ename"] for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{notebook.name} carries errors: {errors}" + rerun
    figures = [o for c in code for o in c["outputs"] if "image/png" in o.get("data", {})]
    assert figures, f"{notebook.name} shows no figure"
    assert "widgets" not in nb["metadata"], f"{notebook.name} carries widget state" + rerun
    assert notebook.stat().st_size < 2_000_000, f"{notebook.name} is {notebook.stat().st_size:,} bytes"


def test_strip_for_commit_drops_widgets_and_timings_and_labels_the_injected_parameters(tmp_path):
    from labkit.tools.run_notebooks import INJECTED_NOTE, WIDGET_VIEW, code_hash, strip_for_commit

    cell = {"cell_type": "code", "execution_count": 1, "outputs": [], "source": ["x = 1"]}
    nb = {
        "metadata": {"widgets": {"state": "x" * 1000}},
        "cells": [
            {**cell, "metadata": {"tags": ["parameters"]}, "source": ["quick = True"]},
            {
                **cell,
                "metadata": {"tags": ["injected-parameters"]},
                "source": ["# Parameters\n", "quick = False\n"],
            },
            {
                **cell,
                "metadata": {"execution": {"a": 1}, "papermill": {"duration": 1.0, "status": "completed"}},
                "outputs": [
                    {"output_type": "display_data", "data": {WIDGET_VIEW: {}, "text/plain": ["HBox()"]}},
                    {"output_type": "stream", "name": "stdout", "text": ["kept\n"]},
                ],
            },
        ],
    }
    path = tmp_path / "00_x.running.ipynb"
    path.write_text(json.dumps(nb))
    strip_for_commit(path, "00_x.ipynb")
    out = json.loads(path.read_text())
    assert "widgets" not in out["metadata"] and out["metadata"]["labkit"]["code_sha256"] == code_hash(out)
    assert "".join(out["cells"][1]["source"]) == INJECTED_NOTE + "\nquick = False"
    assert out["cells"][2]["metadata"] == {"papermill": {"status": "completed"}}
    assert [o["output_type"] for o in out["cells"][2]["outputs"]] == ["stream"]  # the progress bar is gone
    assert code_hash(out) != code_hash(nb)  # the note is code the hash covers
    strip_for_commit(path, "00_x.ipynb")
    assert json.loads(path.read_text()) == out  # stripping twice changes nothing


def test_the_forgetting_table_is_the_committed_notebook_06_run():
    from labkit.tools.run_notebooks import read_results

    rows = read_results(ROOT / "notebooks" / "06_continual_learning.ipynb")["rows"]
    section = (ROOT / "docs" / "results.md").read_text().split("## Forgetting and recovery")[1]
    table = [line for line in section.splitlines() if line.startswith("| ")][1:]
    assert len(table) == len(rows) == 4
    for row, line in zip(rows, table):
        assert f"| {row['knowledge']:.1%} | {row['skill']:.1%} |" in line, (row, line)
    # the README's forgetting line quotes the same run
    start, full, mixed, _ = rows
    readme = (ROOT / "README.md").read_text()
    assert (
        f"from {start['skill']:.1%} to {full['skill']:.1%}" in readme
        and f"keeps {mixed['skill']:.1%}" in readme
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_has_parameters_badge_and_colab_install_cell(notebook):
    nb = json.loads(notebook.read_text())
    cells = nb["cells"]
    params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1
    source = "".join(params[0]["source"])
    assert re.search(r"^seed = 0$", source, re.M) and re.search(r"^quick = False$", source, re.M)
    repo = REPO_URL.removeprefix("https://github.com/")
    badge = f"https://colab.research.google.com/github/{repo}/blob/{colab_ref()}/notebooks/{notebook.name}"
    assert badge in "".join(cells[0]["source"]), (
        f"{notebook.name}: the first cell needs a Colab badge to {badge}"
    )
    first_code = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    assert "google.colab" in first_code and REPO_URL in first_code
    # the install checks out the ref the badge opens (one ref, and one that exists), and keeps Colab's torch
    assert f'LABKIT_REF = "{colab_ref()}"' in first_code and "checkout" in first_code
    assert "torch" not in first_code.split("pip")[-1].split("\n")[0]


def test_the_package_page_table_names_every_module():
    page = (ROOT / "docs" / "package.md").read_text()
    table = "\n".join(line for line in page.splitlines() if line.startswith("|"))
    for path in sorted((ROOT / "labkit").rglob("*.py")):
        if path.name.startswith("__"):
            continue
        relative = path.relative_to(ROOT / "labkit").as_posix()
        assert f"`{relative}`" in table, f"docs/package.md's table does not name labkit/{relative}"
