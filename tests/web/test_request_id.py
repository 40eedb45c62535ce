from __future__ import annotations

import re
import time

import pytest

from domain.health.models import HealthReport
from practika_project.logging import request_id_var

UUID = re.compile(r"^[0-9a-f-]{36}$")


def test_a_well_formed_request_id_is_echoed(client):
    response = client.get("/core/health/live/", HTTP_X_REQUEST_ID="3f2c6d1e-heroku-router-id")
    assert response["X-Request-ID"] == "3f2c6d1e-heroku-router-id"


@pytest.mark.parametrize("bad", ["", "short", "has spaces in it", "new\nline-forged-log-entry", "x" * 300])
def test_a_malformed_request_id_is_replaced(client, bad):
    response = client.get("/core/health/live/", HTTP_X_REQUEST_ID=bad)
    assert UUID.match(response["X-Request-ID"])


def test_every_response_says_nosniff(client):
    assert client.get("/core/health/live/")["X-Content-Type-Options"] == "nosniff"


@pytest.mark.slow
def test_the_request_id_reaches_the_workers_log_lines(processes, live_env):
    from workers.tasks import self_check

    worker = processes("worker")
    worker.wait_for("ready.", timeout=60)
    token = request_id_var.set("req-propagation-0001")
    try:
        self_check.delay()
    finally:
        request_id_var.reset(token)
    end = time.monotonic() + 30
    while time.monotonic() < end and not HealthReport.objects.exists():
        time.sleep(0.2)
    worker.wait_for("self-check recorded report", timeout=10)
    lines = [line for line in worker.output().splitlines() if "self-check recorded report" in line]
    assert lines and all("req-propagation-0001" in line for line in lines)
    assert worker.stop() == 0
