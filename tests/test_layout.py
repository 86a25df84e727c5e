"""The package's rooms and the one direction of imports between them.

core (labkit/*.py) <- studies (compute and return data) <- views (draw and tabulate) <- tools and benchmarks
(entry points). The rule is read from the source, every import included (those inside functions too).
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LABKIT = ROOT / "labkit"
ROOMS = ("core", "studies", "views", "tools")
MAY_IMPORT = {  # room -> the rooms its modules may import
    "core": {"core"},
    "studies": {"core", "studies"},
    "views": {"core", "studies", "views"},
    "tools": {"core", "studies", "views", "tools"},
}
ENTRY_POINTS = {"labkit.__main__"}  # `python -m labkit` is the command line's door, an entry point by nature


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ROOMS[1:] else "core"


def _is_module(name: str) -> bool:
    return (ROOT / name.replace(".", "/")).with_suffix(".py").exists()


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Every ``labkit`` module ``path`` (or ``source`` standing at ``path``) imports, relative imports
    resolved (``from . import x`` counts as ``package.x``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "labkit"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.split(".")[0] != "labkit":
                continue
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")}
    return found


MODULES = sorted(LABKIT.rglob("*.py"))


def wrong_imports(path: Path, source: str | None = None) -> list[str]:
    """The imports of ``path`` that break the rule (none for an entry point)."""
    name = _module_name(path)
    if name in ENTRY_POINTS:
        return []
    room = _room(name)
    return sorted(m for m in imported_modules(path, source) if _room(m) not in MAY_IMPORT[room])


@pytest.mark.parametrize("path", MODULES, ids=[p.relative_to(ROOT).as_posix() for p in MODULES])
def test_imports_run_one_way(path):
    room = _room(_module_name(path))
    wrong = wrong_imports(path)
    allowed = sorted(MAY_IMPORT[room])
    assert not wrong, (
        f"labkit/{path.relative_to(LABKIT)} ({room}) imports {wrong}; {room} may import {allowed}"
    )


def test_the_rule_reader_sees_a_wrong_import():
    """The checker is not vacuous: a core module importing a view, relatively or absolutely, and a study
    importing a tool inside a function are found; a view importing a study is not."""
    core = "from .views.plots import new_figure\nimport labkit.tools.cli\n"
    assert wrong_imports(LABKIT / "sampling.py", core) == ["labkit.tools.cli", "labkit.views.plots"]
    study = "def f():\n    from ..tools import build\n"
    assert wrong_imports(LABKIT / "studies" / "drift.py", study) == ["labkit.tools", "labkit.tools.build"]
    assert wrong_imports(LABKIT / "views" / "race.py", "from ..studies.costs import describe\n") == []


@pytest.mark.parametrize("room", ["", "studies", "views", "tools"])
def test_every_package_docstring_names_each_of_its_modules(room):
    folder = LABKIT / room if room else LABKIT
    docstring = ast.get_docstring(ast.parse((folder / "__init__.py").read_text())) or ""
    listed = {m.group(1) for m in re.finditer(r"^\s*(\w+)\b", docstring, re.M)}  # the word opening each line
    missing = [
        p.stem for p in sorted(folder.glob("*.py")) if not p.name.startswith("__") and p.stem not in listed
    ]
    assert not missing, f"labkit/{room + '/' if room else ''}__init__.py's docstring does not name {missing}"


BENCHMARKS = sorted((ROOT / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=[p.name for p in BENCHMARKS])
def test_each_benchmark_is_a_thin_driver(script):
    """Argument parsing, a call into labkit, writing results: no sys.path edits, no imports of another script,
    nothing a test imports, and short."""
    source = script.read_text()
    others = {p.stem for p in BENCHMARKS}
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "sys.path" not in source, f"{script.name} edits sys.path"
    assert not imported & others, f"{script.name} imports another script: {sorted(imported & others)}"
    assert len(source.splitlines()) <= 160, (
        f"{script.name} is {len(source.splitlines())} lines; move its analysis into labkit"
    )


def test_no_module_of_labkit_imports_a_benchmark_script():
    for path in MODULES:
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {
            n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level
        }
        assert not {n for n in names if (n or "").split(".")[0] == "benchmarks"}, (
            f"{path} imports benchmarks/"
        )


def test_no_test_imports_a_benchmark_script():
    for test in sorted((ROOT / "tests").glob("test_*.py")):
        if test.name == Path(__file__).name:  # this file names what it looks for
            continue
        source = test.read_text()
        assert "spec_from_file_location" not in source and 'benchmarks"))' not in source, (
            f"{test.name} imports a benchmark script; test the labkit function it calls instead"
        )
