"""With production settings every line the web process prints is JSON, access lines included."""

from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import free_port, wait_http

pytestmark = pytest.mark.slow


def test_production_web_prints_only_json_lines_and_access_lines_carry_id_status_and_duration(
    processes, production_env
):
    port = free_port()
    web = processes("web", **production_env, PORT=str(port), WEB_CONCURRENCY="1")
    wait_http(f"http://127.0.0.1:{port}/core/health/live/", timeout=60)
    requests.get(f"http://127.0.0.1:{port}/core/health/live/", headers={"X-Request-ID": "smoke-req-0001"}, timeout=10)
    assert web.stop() == 0
    lines = [line for line in web.output().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # any plain-text line fails here
    access = next(r for r in records if r.get("request_id") == "smoke-req-0001" and r["logger"] == "gunicorn.access")
    assert access["status"] == "200" and access["path"] == "/core/health/live/"
    assert isinstance(access["duration_ms"], int)
    assert any(r["logger"] == "gunicorn.error" and "Booting worker" in r["message"] for r in records)
