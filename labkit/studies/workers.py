"""Run independent jobs side by side in worker processes, one thread each, with nothing left behind.

Each worker is a spawned process (a forked child of a process that already ran torch's thread pool can
hang) that talks to its parent over one pipe: it receives a job, runs it, sends the result back, and waits
for the next. That pipe gives every guarantee the lab needs, with the standard library only:

* an error in a job reaches the caller as soon as it happens, and the other workers are stopped;
* an interrupt (Ctrl-C, a notebook's stop button) stops every worker;
* a worker whose parent died sees its pipe close and exits: killed notebooks leave no orphans
  (a job that is running finds out through ``parent_alive`` at its next step, or when it sends its result).

``cores`` counts the cores a pool may use; ``machine`` is how every benchmark records the machine it ran on.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.connection import wait

from ..errors import LabkitError

_parent: int | None = None  # in a worker: the pid of the process that started it


def parent_alive() -> bool:
    """False in a worker whose parent is gone (a long job checks it now and then and stops)."""
    return _parent is None or os.getppid() == _parent


def cores() -> int:
    """CPU cores this process may use (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def machine(memory: bool = False) -> dict:
    """The machine a benchmark ran on, as its results record it (benchmarks/throughput.py, vs_trl.py,
    real_size.py): platform, processor, torch and its thread count; with ``memory``, the GiB of RAM too."""
    import platform

    import torch

    found = {
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "device": "cpu",
    }  # fmt: skip
    if memory:
        found["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return found


def _serve(connection, parent: int, function: Callable) -> None:
    """A worker's whole life: run ``function(*job)`` for each job received until the pipe closes."""
    import torch

    global _parent
    _parent = parent
    # the lab's ops are too small to split; cores run whole jobs side by side instead
    torch.set_num_threads(1)
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):  # the parent closed the pipe, or died
            return
        try:
            reply = ("done", function(*job))
        except Exception as error:  # sent back to be raised in the parent
            reply = ("failed", error)
        try:
            connection.send(reply)
        except (BrokenPipeError, OSError):
            return
        except Exception:  # an error that cannot be pickled travels as its text
            connection.send(("failed", RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}")))


def run_jobs(function: Callable, jobs: list[tuple], workers: int, on_done: Callable[[], None] = lambda: None):
    """``[function(*job) for job in jobs]``, computed by ``workers`` processes; results in ``jobs`` order.

    ``function`` must be importable (a module-level function), as must the script that calls this:
    spawned workers import it again, so a script needs ``if __name__ == "__main__":``.
    """
    context = multiprocessing.get_context("spawn")
    connections, processes = [], []
    try:
        for _ in range(min(workers, len(jobs))):
            mine, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, os.getpid(), function), daemon=True)
            process.start()
            theirs.close()
            connections.append(mine)
            processes.append(process)
        return _dispatch(function, jobs, connections, on_done)
    finally:  # normal end, a failed job, a dead worker or an interrupt: no worker outlives this call
        for connection in connections:
            connection.close()
        for process in processes:
            process.join(timeout=1.0)
            if process.is_alive():
                process.terminate()
                process.join()


def _dispatch(function: Callable, jobs: list[tuple], connections: list, on_done: Callable[[], None]) -> list:
    results, queue, running = [None] * len(jobs), list(enumerate(jobs)), {}
    for connection in connections:
        if queue:
            running[connection], job = queue.pop(0)
            connection.send(job)
    while running:
        for connection in wait(list(running)):
            try:
                status, value = connection.recv()
            except (EOFError, OSError) as error:
                raise LabkitError(
                    "a worker process died before finishing: either the script that started it lacks "
                    '`if __name__ == "__main__":` (worker processes import it again), or a worker ran out of '
                    "memory. Fix the script, or run in this process "
                    "(workers=1, `--workers 1` on the command line)"
                ) from error
            if status == "failed":
                raise value
            results[running.pop(connection)] = value
            on_done()
            if queue:
                running[connection], job = queue.pop(0)
                connection.send(job)
    return results
