"""bin/smoke: a table, every row, and an exit code that means something."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import BASE_DIR, free_port
from tests.ops.stub_app import StubApp

SMOKE = BASE_DIR / "bin" / "smoke"


def smoke(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SMOKE), url, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def stub():
    with StubApp() as app:
        yield app


def test_a_healthy_app_passes_every_row(stub):
    result = smoke(stub.url)
    assert result.returncode == 0, result.stdout
    table = result.stdout
    for row in ("/ ", "/core/health/ ", "check: database", "check: workers", "/core/health/live/",
                "/core/api/videos/", "static /static/app."):
        assert row in table
    assert "FAIL" not in table
    assert "smoke: 7 of 7 checks pass" in table


def test_a_failing_check_inside_health_fails_the_smoke(stub):
    stub.healthy = False
    result = smoke(stub.url)
    assert result.returncode == 1
    assert "check: workers" in result.stdout
    failed = [line for line in result.stdout.splitlines() if " FAIL " in line]
    assert any("workers" in line and "no worker" in line for line in failed)
    assert any(line.startswith("/core/health/ ") for line in failed)  # degraded is not ok


def test_nothing_listening_fails_every_row():
    result = smoke(f"http://127.0.0.1:{free_port()}/")
    assert result.returncode == 1
    assert "no answer" in result.stdout
    assert "PASS" not in result.stdout
