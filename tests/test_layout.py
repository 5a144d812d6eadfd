"""The package layout is the pipeline: every import inside sok, at module
level or inside a function, goes from a stage to itself or to an earlier
one, and no module imports itself back through others. Read from the
source with `ast`, so a late import inside a function counts too."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sok"

# Stages in flow order; a module may import its own stage and those before it.
STAGES = ("ground", "ingest", "embedding", "store", "query", "front", "ui")
GROUND = {"sok.config", "sok.records", "sok.language"}
FRONT = {"sok", "sok.index"}  # sok.Index, over the query layer; the terminal and the app use it


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(module: str) -> str:
    if module in GROUND:
        return "ground"
    if module in FRONT:
        return "front"
    if module == "sok.__main__":  # `python -m sok` is the terminal's front door
        return "ui"
    return module.split(".")[1]


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The sok modules `path` imports, wherever in the file the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import (the layout uses absolute sok.* imports)"
            base = node.module or ""
            # "from sok.store import derived" imports the module sok.store.derived
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found.update(n for n in names if n in modules)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in SRC.rglob("*.py")}
    modules = set(paths)
    return {m: imports_of(p, modules) - {m} for m, p in paths.items()}


def test_every_module_belongs_to_a_stage(graph):
    assert {stage(m) for m in graph} <= set(STAGES)


def test_no_import_from_a_later_stage(graph):
    backward = [f"{m} -> {d}" for m, deps in graph.items() for d in deps
                if STAGES.index(stage(d)) > STAGES.index(stage(m))]
    assert not backward, backward


def test_no_import_cycles(graph):
    # depth-first search with colours; a grey module met again closes a cycle
    colour: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, trail: list[str]) -> None:
        colour[m] = 1
        for d in sorted(graph[m]):
            if colour.get(d) == 1:
                cycles.append(trail[trail.index(d):] + [d] if d in trail else [m, d])
            elif d not in colour:
                visit(d, trail + [d])
        colour[m] = 2

    for m in sorted(graph):
        if m not in colour:
            visit(m, [m])
    assert not cycles, cycles


def test_the_query_side_does_not_import_the_document_parser(graph):
    """Questions are read with sok.language, not with the 1,000-line parser of
    meeting records that the indexing side uses."""
    query = [m for m in graph if stage(m) in ("query", "ui")]
    assert not [m for m in query if "sok.ingest.meeting" in graph[m]]


def test_sql_only_in_the_store_package():
    """One data-access layer: outside sok.store no module imports sqlite3 or
    runs a statement (a call to .execute or .executemany)."""
    found = []
    for path in SRC.rglob("*.py"):
        if module_name(path).startswith("sok.store"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name == "sqlite3" for a in node.names):
                found.append(f"{module_name(path)}: import sqlite3")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("execute", "executemany"):
                found.append(f"{module_name(path)}:{node.lineno}: .{node.func.attr}(...)")
    assert not found, found


@pytest.mark.parametrize("tool", [["ruff", "check", "src", "tests", "benchmarks", "app.py"], ["mypy"]],
                         ids=["ruff", "mypy"])
def test_linters_are_clean(tool):
    """ruff (pyflakes, import order, the error classes of pycodestyle) and
    mypy (settings in pyproject.toml) over the whole tree."""
    done = subprocess.run([sys.executable, "-m", *tool], cwd=SRC.parents[1], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
