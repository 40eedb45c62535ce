"""Redis (cache and broker) gone: the web keeps serving, workers and beat wait and reconnect."""

from __future__ import annotations

import time

import pytest
import requests

from tests.faults.conftest import (
    assert_no_traceback,
    latest_worker_report_after,
    statuses,
    upload,
    user_token,
    wait_ready,
    wait_until,
)
from tests.media import make_clip

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 60


def test_worker_and_beat_started_while_redis_is_down_wait_and_connect(stack, private_redis):
    private_redis.stop()
    env = {"REDIS_URL": private_redis.url}
    worker, beat = stack.start("worker", **env), stack.start("beat", **env)
    wait_until(lambda: "Cannot connect to redis" in worker.output() or "Error 111" in worker.output(), 30,
               "the worker noticing Redis is down")
    time.sleep(5)
    assert worker.popen.poll() is None, "the worker gave up instead of waiting for Redis"
    assert beat.popen.poll() is None, "beat gave up instead of waiting for Redis"
    assert "ready." not in worker.output()

    private_redis.start()
    back_at = time.time()
    wait_until(lambda: worker.output().count("ready.") >= 2, 60, "both worker nodes connecting")
    wait_until(lambda: latest_worker_report_after(back_at), 60, "a self-check sent by beat and run by the worker")
    assert worker.popen.poll() is None and beat.popen.poll() is None


def test_redis_outage_keeps_the_web_serving_and_loses_no_accepted_video(stack, private_redis, tmp_path):
    # HEAL_UNCLAIMED_AFTER keeps its default (600 s): a job that was never published must not
    # wait for it once the broker is back.
    env = {"REDIS_URL": private_redis.url}
    procs = [stack.web(**env), stack.start("worker", **env), stack.start("beat", **env)]
    token = user_token("alice")
    clip = make_clip(tmp_path / "clip.mp4", seconds=1, width=160, height=120)
    wait_until(lambda: procs[1].output().count("ready.") >= 2, 60, "worker nodes ready")
    before = upload(stack.base, token, clip, title="before", visibility="public")
    assert before.status_code == 201, before.text
    wait_ready([before.json()["id"]], 90)

    private_redis.stop()
    down_at = time.time()
    accepted = []
    try:
        # Within 5 s of the outage /core/health/ answers, degraded, naming the cache and broker.
        health = requests.get(stack.base + "/core/health/", timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "degraded", health.text
        assert health.json()["checks"]["broker"]["ok"] is False
        assert health.json()["checks"]["cache"]["ok"] is False
        for path in ("/", f"/videos/{before.json()['id']}/", "/core/health/live/"):
            page = requests.get(stack.base + path, timeout=5, headers={"Authorization": f"Token {token}"})
            assert page.status_code == 200, (path, page.status_code)
        listing = requests.get(stack.base + "/core/api/videos/", headers={"Authorization": f"Token {token}"}, timeout=5)
        assert listing.status_code == 200 and listing.json()["count"] == 1
        for n in range(3):
            during = upload(stack.base, token, clip, title=f"during {n}")
            assert_no_traceback(during.text)
            if during.status_code == 201:
                accepted.append(during.json()["id"])
            else:
                assert 400 <= during.status_code < 600 and "error" in during.json(), during.text
        assert accepted, "no upload was accepted while Redis was down"
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.time() - down_at)))
        for proc in procs:
            assert proc.popen.poll() is None, f"{proc.name} exited during the outage:\n{proc.output()[-3000:]}"
    finally:
        private_redis.start()
    back_at = time.time()

    # The uploads made during the outage were never published; the first self-check after the
    # broker's return publishes them, long before HEAL_UNCLAIMED_AFTER.
    wait_ready(accepted, 120)
    wait_until(lambda: latest_worker_report_after(back_at), 60, "a worker-recorded report after Redis returned")
    wait_until(lambda: requests.get(stack.base + "/core/health/", timeout=5).json()["checks"]["broker"]["ok"], 30,
               "the web's broker check passing again")
    assert set(statuses([before.json()["id"], *accepted]).values()) == {"ready"}
    for proc in procs:
        assert proc.popen.poll() is None, f"{proc.name} was restarted:\n{proc.output()[-3000:]}"
