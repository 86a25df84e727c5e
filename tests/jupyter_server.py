"""Start and stop a Jupyter server for the tests that talk to one (test_lab_server, test_browser)."""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_env(tmp_path, **extra) -> dict:
    """This environment with Jupyter's config, runtime and data folders inside ``tmp_path``."""
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
    }
    env.pop("JUPYTER_TOKEN", None)
    env.update(extra)
    return env


def start(command: list[str], env: dict, status_url: str, cwd=None, timeout: float = 90) -> subprocess.Popen:
    """Run ``command`` in its own process group and wait until ``status_url`` answers (any HTTP status)."""
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(status_url, timeout=2)
            return proc
        except urllib.error.HTTPError:
            return proc  # it answers, if only to refuse: it is up
        except (urllib.error.URLError, ConnectionError, OSError):
            if proc.poll() is not None or time.time() > deadline:
                stop(proc)
                pytest.fail(f"the Jupyter server did not start:\n{proc.stdout.read()[-3000:]}")
            time.sleep(0.5)


def stop(proc: subprocess.Popen) -> None:
    """End the server and everything it started."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
