"""The code's rooms and the arrows between them, read from the imports themselves.

HTTP (web/) and background work (workers/) both call the domain (domain/); the domain calls
neither; practika_project/ wires settings, URLs and the Celery app. Every import counts, also
one written inside a function: a late import hides a circle from Python, not from this test.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BASE_DIR

PACKAGES = ("web", "workers", "domain", "practika_project")
# Who may import whom, by top-level package. A package not named is not allowed.
MAY_IMPORT = {
    "domain": {"domain", "practika_project"},
    "web": {"web", "domain", "practika_project"},
    "workers": {"workers", "domain", "practika_project"},
    "practika_project": {"practika_project"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(BASE_DIR).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (BASE_DIR / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The project modules `name` imports (the deepest module each import names)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target
                break


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: set(imports_of(name, path, known)) for name, path in modules.items()}


def test_the_graph_is_read():
    edges = graph()
    assert edges["workers.tasks"], "workers.tasks imports nothing of ours: the reader is broken"
    assert any(target.startswith("domain.") for target in edges["workers.processing"])


def test_every_arrow_runs_one_way():
    wrong = []
    for source, targets in graph().items():
        room = source.split(".")[0]
        allowed = MAY_IMPORT[room]
        wrong += [f"{source} -> {t}" for t in sorted(targets) if t.split(".")[0] not in allowed]
    assert not wrong, "imports against the direction:\n" + "\n".join(wrong)


def test_models_sit_below_services_and_selectors():
    wrong = [
        f"{source} -> {target}"
        for source, targets in graph().items()
        if source.endswith(".models")
        for target in sorted(targets)
        if target.rpartition(".")[2] in ("services", "selectors", "tasks", "views")
    ]
    assert not wrong, "\n".join(wrong)


def test_there_is_no_circle():
    edges = graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (circle := visit(node)):
            pytest.fail("import circle: " + " -> ".join(circle))
