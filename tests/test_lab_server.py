"""`make lab` starts a JupyterLab that asks for a token and serves the lab's notebooks."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from .conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    def start(token_env: str | None):
        port = _free_port()
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "run"),
               "JUPYTER_DATA_DIR": str(tmp_path / "data"), "BROWSER": "true"}
        env.pop("JUPYTER_TOKEN", None)
        if token_env is not None:
            env["JUPYTER_TOKEN"] = token_env
        # -o: take the installed .venv as up to date; the test runs inside it
        proc = subprocess.Popen(["make", "-s", "-o", ".venv/.labkit-installed", "lab", f"PORT={port}",
                                 "LAB_ARGS=--no-browser --ServerApp.ip=127.0.0.1"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        started.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"make lab exited early:\n{proc.stdout.read()}")
            try:
                _get(f"{base}/api/status")
                return base
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        pytest.fail("JupyterLab did not start within 90 s")

    yield start
    for proc in started:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


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
