"""The container test is slow and has its own make target (make test-container); plain `pytest`
(make test) leaves it out so it never runs twice in CI."""

from __future__ import annotations

import pytest

CONTAINER = "container"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{CONTAINER}: builds the image and runs it with podman (make test-container)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CONTAINER in (config.option.markexpr or ""):
        return
    kept = [item for item in items if item.get_closest_marker(CONTAINER) is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.ops.podman import REPORT

    if REPORT:
        terminalreporter.section("container")
        for name, value in REPORT.items():
            terminalreporter.write_line(f"{name}: {value}")
