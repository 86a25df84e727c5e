"""The repository's conventions: set-up files in step, notebooks clean and Colab-ready."""

import json
import re
from pathlib import Path

import pytest
import tomllib

from labkit.tools.notebook import REPO_URL, colab_ref

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
def test_notebook_is_committed_without_outputs(notebook):
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
                f"{notebook.name} has outputs; clear them before committing "
                "(Edit > Clear Outputs of All Cells)"
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
    badge = f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{notebook.name}"
    assert badge in "".join(cells[0]["source"]), (
        f"{notebook.name}: the first cell needs a Colab badge to {badge}"
    )
    first_code = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    assert "google.colab" in first_code and REPO_URL in first_code
    # the install is pinned to this release's tag, never a moving branch, and keeps Colab's torch
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
