"""Execute the lab's notebooks headlessly with papermill, on this interpreter's kernel.

    python -m labkit.tools.run_notebooks --out outputs [--quick] [NOTEBOOK ...]
    python -m labkit.tools.run_notebooks --in-place [NOTEBOOK ...]

Used by ``make run`` (full settings, rendered copies in outputs/), by ``make notebooks`` (full settings,
written back into notebooks/ so the committed notebooks show their figures on GitHub and Colab without
running) and by the test suite (``quick=True``), which reads back what each notebook recorded with
:func:`labkit.views.notebook.record`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from ..views.notebook import RESULT_MIMETYPE

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL_NAME = "labkit-python"
DATA = Path(__file__).resolve().parents[2] / "data"
# No hub here: notebook 07 runs its real-model code path on the shipped HF-format folders (absolute paths).
OFFLINE_PARAMETERS = {
    "07_scale_up.ipynb": {"student_model": str(DATA / "student"), "teacher_model": str(DATA / "teacher")}
}
# The same, relative to notebooks/ (the notebooks' working directory), for copies that are committed.
COMMITTED_PARAMETERS = {
    "07_scale_up.ipynb": {"student_model": "../data/student", "teacher_model": "../data/teacher"}
}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# What the parameters cell papermill injects says in a committed notebook (a reader sees it first).
INJECTED_NOTE = "# Injected by `make notebooks` (papermill): the settings of the run whose outputs are shown."
INJECTED_NOTES = {
    "07_scale_up.ipynb": INJECTED_NOTE
    + "\n# The machine that ran it cannot download hub models, so it used the lab's shipped tiny pair."
    "\n# Delete this cell to run the real pair set in the cell above (on Colab or a GPU)."
}


class NotebookFailed(RuntimeError):
    """A cell raised; the message names the cell and the error."""


def ensure_kernel() -> str:
    """A kernelspec that runs this very interpreter, in a private Jupyter path,
    so papermill never picks another Python."""
    root = Path(tempfile.gettempdir()) / f"labkit-kernels-{os.getuid()}"
    spec_dir = root / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "labkit (this Python)",
        "language": "python",
    }
    spec_file = spec_dir / "kernel.json"
    if not spec_file.exists() or spec_file.read_text() != json.dumps(spec):  # side-by-side runs share it
        tmp = spec_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(spec))
        os.replace(tmp, spec_file)
    paths = os.environ.get("JUPYTER_PATH", "")
    if str(root) not in paths.split(os.pathsep):
        os.environ["JUPYTER_PATH"] = os.pathsep.join([str(root)] + ([paths] if paths else []))
    return KERNEL_NAME


def execute(
    notebook: str | Path, out: str | Path, parameters: dict | None = None, timeout: int = 1200
) -> dict:
    """Run ``notebook`` into ``out`` and return the results it recorded (merged, later wins)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook, out = Path(notebook), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(out),
            parameters=parameters or {},
            kernel_name=ensure_kernel(),
            cwd=str(notebook.parent),
            progress_bar=False,
            execution_timeout=timeout,
        )
    except PapermillExecutionError as exc:
        raise NotebookFailed(
            f"{notebook.name}: cell {exc.exec_count} raised {exc.ename}: {exc.evalue}\n"
            f"--- cell source ---\n{exc.source}"
        ) from None
    return read_results(out)


def _one_core(cpus) -> None:
    """A side-by-side worker: take one core of the queue ``cpus``, keep to it, one thread (its kernels
    inherit both)."""
    import queue

    try:
        cpu = cpus.get(timeout=10)
    except queue.Empty:  # a replacement worker after one died: no core left to claim, share them
        cpu = None
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"


def execute_side_by_side(jobs: dict, timeout: int = 1200):
    """Start every job ``{key: (notebook, out, parameters)}`` and return ``(futures, pool)``: one
    process per core this process may use, each kept to its core with one thread, running the jobs in
    the order given (put the slowest first). ``futures[key].result()`` is what :func:`execute` returns for
    that job, or raises what it raised; shut the pool down when done (``pool.shutdown(cancel_futures=True)``).

    The test suite runs its notebooks this way: each runs ~1.5x slower on one thread than on two, and two
    at once finish the quick runs in ~0.7x the time of one after another (docs/speed.md). Results do not
    depend on it (each notebook seeds itself; a notebook that fans out over cores sees one).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from ..studies.workers import cores

    ensure_kernel()  # before the workers start: they inherit the Jupyter path and share one kernelspec
    context = multiprocessing.get_context("spawn")
    cpus = context.Queue()
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(cores()))
    lanes = max(1, min(len(available), len(jobs)))
    for cpu in available[:lanes]:
        cpus.put(cpu)
    pool = ProcessPoolExecutor(lanes, mp_context=context, initializer=_one_core, initargs=(cpus,))
    futures = {key: pool.submit(execute, *job, timeout=timeout) for key, job in jobs.items()}
    return futures, pool


def code_hash(nb: dict) -> str:
    """A fingerprint of a notebook's code cells: a committed notebook whose code changed after it was executed
    no longer matches the one recorded when it ran."""
    import hashlib

    code = [source for c in nb["cells"] if c["cell_type"] == "code" for source in (*c["source"], "\x00")]
    return hashlib.sha256("".join(code).encode()).hexdigest()


def strip_for_commit(path: str | Path, name: str | None = None) -> None:
    """Drop what a committed notebook should not carry: saved widget state (megabytes of JSON that GitHub
    cannot render; every widget cell also leaves a static figure or text), the widget outputs that need it
    (progress bars) and per-cell timing metadata. Papermill's injected parameters cell says where it comes
    from (``name``: the notebook's file name). Stripping twice changes nothing."""
    path = Path(path)
    nb = json.loads(path.read_text())
    nb["metadata"].pop("widgets", None)
    for cell in nb["cells"]:
        if "injected-parameters" in cell["metadata"].get("tags", []):
            source = "".join(cell["source"])
            if not source.startswith(INJECTED_NOTE):
                note = INJECTED_NOTES.get(name or path.name, INJECTED_NOTE)
                source = note + "\n" + source.removeprefix("# Parameters\n")
            cell["source"] = source.rstrip("\n").splitlines(keepends=True)  # as `ruff format` leaves a cell
        if cell["cell_type"] == "code":  # a live widget (a progress bar) is nothing without its state
            cell["outputs"] = [o for o in cell["outputs"] if WIDGET_VIEW not in o.get("data", {})]
        cell["metadata"].pop("execution", None)
        papermill = cell["metadata"].get("papermill")
        if papermill is not None:
            for key in ("start_time", "end_time", "duration"):
                papermill.pop(key, None)
    nb["metadata"]["labkit"] = {"code_sha256": code_hash(nb)}
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def read_results(executed: str | Path) -> dict:
    """The results an executed notebook recorded under the labkit mimetype."""
    nb = json.loads(Path(executed).read_text())
    results: dict = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if RESULT_MIMETYPE in data:
                results.update(data[RESULT_MIMETYPE])
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m labkit.tools.run_notebooks")
    p.add_argument("notebooks", nargs="*", help="notebooks to run (default: all in notebooks/)")
    p.add_argument("--out", default="outputs", help="folder for the executed copies")
    p.add_argument("--quick", action="store_true", help="small settings, as the tests use")
    p.add_argument(
        "--in-place",
        action="store_true",
        help="write each executed notebook back over itself",
    )
    p.add_argument(
        "--hub", action="store_true", help="let notebook 07 download its default hub models (needs network)"
    )
    args = p.parse_args(argv)
    paths = [Path(n) for n in args.notebooks] or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    failed = 0
    if args.in_place and args.quick:
        p.error("--in-place writes the committed notebooks, which carry full-setting outputs: drop --quick")
    for path in paths:
        # in place: run into a scratch copy and replace the notebook only when every cell ran
        out = path.with_suffix(".running.ipynb") if args.in_place else Path(args.out) / path.name
        try:
            offline = COMMITTED_PARAMETERS if args.in_place else OFFLINE_PARAMETERS
            extra = {} if args.hub else offline.get(path.name, {})
            results = execute(path, out, {"quick": args.quick, **extra}, timeout=3600)
            if args.in_place:
                strip_for_commit(out, path.name)
                os.replace(out, path)
            print(f"{path.name}: ok -> {path if args.in_place else out}  {json.dumps(results)[:200]}")
        except Exception as exc:  # keep going: one broken notebook should not hide the others
            failed += 1
            if args.in_place:
                out.unlink(missing_ok=True)
            print(f"{path.name}: FAILED (the notebook itself is unchanged)\n{exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
