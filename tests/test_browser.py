"""A real browser opens the lab: JupyterLab runs a notebook whose explorer widget renders and reacts.

Needs Debian's chromium (`apt-get install chromium`; .ci/run installs it) and the Python `playwright`
package, which drives it through executable_path (no browser download). Without them the test skips,
saying which is missing.
Screenshots land in outputs/browser/.
"""

import os
import shutil
import sys
import time

import pytest

from .conftest import DATA, ROOT
from .jupyter_server import free_port, private_env, start, stop

pytestmark = pytest.mark.slow  # starts processes, servers or notebooks: `make test-fast` skips it

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "outputs" / "browser"
TOKEN = "browser-test-token"

NOTEBOOK_CELLS = [
    "from labkit.views.notebook import load_lab\n"
    "from labkit.encoding import encode_prompts\n"
    "from labkit.sampling import sample\n"
    "from labkit.studies.pertoken import score_tokens\n"
    "from labkit.views.widgets import TokenExplorer\n"
    "import torch\n"
    f"task, teacher, student, tokenizer = load_lab({str(DATA / 'student')!r}, {str(DATA / 'teacher')!r})\n"
    "prompts = encode_prompts(tokenizer, [p.prompt for p in task.problems(3, 'held_out', seed=0)])\n"
    "snapshots = {}\n"
    "for name, model in (('student', student), ('teacher', teacher)):\n"
    "    r = sample(model, prompts, task.max_completion_length, tokenizer,\n"
    "               generator=torch.Generator().manual_seed(0))\n"
    "    scores = score_tokens(student, teacher, tokenizer, r.sequences, r.prompt_length, "
    "r.completion_mask)\n"
    "    snapshots[name] = [{'step': 0, 'flops': 0.0, 'scores': scores}]\n",
    "TokenExplorer(snapshots)",
]


@pytest.fixture()
def lab_server(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    workdir = tmp_path / "notebooks"
    workdir.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, workdir / "explorer.ipynb")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={TOKEN}",
        f"--notebook-dir={workdir}",
    ]
    if os.getuid() == 0:
        command.append("--allow-root")
    base = f"http://127.0.0.1:{port}"
    proc = start(command, private_env(tmp_path, JUPYTER_PATH=""), f"{base}/api/status?token={TOKEN}")
    yield base
    stop(proc)


def test_explorer_widget_renders_and_reacts_in_jupyterlab(lab_server):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the Python playwright package is not installed"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    flags = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{lab_server}/lab/tree/explorer.ipynb?token={TOKEN}", timeout=90_000)
            page.wait_for_selector(".jp-Notebook", timeout=90_000)
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-mod-idle, #jp-main-statusbar",
                timeout=90_000,
            )
            time.sleep(2)  # let the kernel connect
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            explorer = page.wait_for_selector(".labkit-explorer", timeout=120_000)
            tokens = page.locator(".labkit-explorer .labkit-tokens")
            tokens.wait_for(timeout=30_000)
            before = tokens.inner_html()
            page.screenshot(path=str(ARTIFACTS / "explorer_student.png"), full_page=True)
            assert "span" in before and explorer.is_visible()

            page.locator(".labkit-explorer select").first.select_option("teacher")
            page.wait_for_function(
                "(old) => document.querySelector('.labkit-explorer .labkit-tokens').innerHTML !== old",
                arg=before,
                timeout=30_000,
            )
            after_method = tokens.inner_html()
            page.locator(".labkit-explorer .widget-toggle-buttons button", has_text="reverse_kl").click()
            page.wait_for_function(
                "(old) => document.querySelector('.labkit-explorer .labkit-tokens').innerHTML !== old",
                arg=after_method,
                timeout=30_000,
            )
            page.screenshot(path=str(ARTIFACTS / "explorer_teacher_reverse_kl.png"), full_page=True)
            assert tokens.inner_html() not in (before, after_method)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
