"""Helpers every notebook uses: finding the lab's data, recording results for tests, Colab detection."""

from __future__ import annotations

import json
import math

from ..models import data_dir, load_lab  # noqa: F401 (notebooks import them from here, beside record)

RESULT_MIMETYPE = "application/vnd.labkit.result+json"
REPO_URL = "https://github.com/labkit-lab/labkit"  # the one place the repository's address lives


COLAB_REF = "main"  # the ref every badge opens and every Colab cell installs: one ref, and one that exists


def colab_ref() -> str:
    """The git ref every notebook's Colab badge opens and its first cell checks out: the same for both, so the
    notebook a learner opens runs with the code it was committed with (CI keeps main's notebooks executed with
    main's code)."""
    return COLAB_REF


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy / torch scalars
        return _jsonable(value.item())
    return value


def record(**results) -> None:
    """Show results in the notebook and record them in machine-readable form.

    The output carries a JSON copy under a labkit mimetype, which the test
    harness reads back from the executed notebook to assert on. Nothing is
    returned, so a cell ending in ``record(...)`` shows the one-line summary,
    not the whole dictionary a second time.
    """
    from IPython.display import display

    clean = _jsonable(results)
    text = "recorded: " + ", ".join(f"{k}={_short(v)}" for k, v in clean.items())
    display({RESULT_MIMETYPE: clean, "text/plain": text}, raw=True)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = json.dumps(value)
    return text if len(text) < 60 else text[:57] + "..."


def show_source(function) -> None:
    """Display a function's source, so the notebook shows the very code that runs."""
    import inspect

    from IPython.display import Markdown, display

    display(Markdown(f"```python\n{inspect.getsource(function).rstrip()}\n```"))
