"""`make lab` starts a JupyterLab that asks for a token and serves the lab's notebooks."""

import json
import urllib.error
import urllib.request

import pytest

from .conftest import ROOT
from .jupyter_server import free_port, private_env, start, stop

pytestmark = pytest.mark.slow  # starts processes, servers or notebooks: `make test-fast` skips it


def _get(url: str, token: str | None = None):
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


@pytest.fixture()
def make_lab(tmp_path):
    started = []

    def launch(token_env: str | None):
        port = free_port()
        env = private_env(
            tmp_path, BROWSER="true", **({} if token_env is None else {"JUPYTER_TOKEN": token_env})
        )
        # -o: take the installed .venv as up to date; the test runs inside it
        command = [
            "make",
            "-s",
            "-o",
            ".venv/.labkit-installed",
            "lab",
            f"PORT={port}",
            "LAB_ARGS=--no-browser --ServerApp.ip=127.0.0.1",
        ]
        base = f"http://127.0.0.1:{port}"
        started.append(start(command, env, f"{base}/api/status", cwd=ROOT))
        return base

    yield launch
    for proc in started:
        stop(proc)


def test_make_lab_requires_the_token_and_serves_the_notebooks(make_lab):
    base = make_lab("s3cret-token")
    assert _get(f"{base}/api/contents")[0] == 403
    assert _get(f"{base}/api/contents", token="wrong")[0] == 403
    status, body = _get(f"{base}/api/contents", token="s3cret-token")
    names = {item["name"] for item in json.loads(body)["content"]}
    assert status == 200 and "01_task_and_teacher.ipynb" in names
    assert _get(f"{base}/lab", token="s3cret-token")[0] == 200


def test_an_empty_token_never_opens_the_lab_without_one(make_lab):
    base = make_lab("")
    assert _get(f"{base}/api/contents")[0] == 403
