"""The canary: a generated clip through the real pipeline on the video queue."""

from __future__ import annotations

import pytest

from domain.health.models import CanaryRun
from tests.selfcheck_support import stopping, wait_consumers  # noqa: F401 (fixture)
from workers import canary, selfcheck


def test_the_video_queue_half_runs_probe_poster_rendition_and_read_back(db, ffmpeg, media_root):
    run = CanaryRun.objects.create(id="c1")
    canary.canary_process(run_id=run.id)
    run.refresh_from_db()
    assert run.ok is True, run.reason
    assert run.duration_ms > 0
    assert list(media_root.rglob("*.*")) == []  # cleaned up after itself


def test_a_canary_claimed_twice_runs_once_and_a_late_outcome_changes_nothing(db, ffmpeg):
    run = CanaryRun.objects.create(id="c2")
    canary.canary_finish(run_id=run.id, ok=False, reason=canary.TIMED_OUT.format(timeout=1))
    canary.canary_process(run_id=run.id)
    run.refresh_from_db()
    assert (run.ok, run.started_at) == (False, None)


def test_a_broken_pipeline_fails_with_the_step_that_broke(db, ffmpeg, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("encoder missing")

    monkeypatch.setattr(canary.pipeline, "transcode", refuse)  # the one thing this machine has
    run = CanaryRun.objects.create(id="c3")
    canary.canary_process(run_id=run.id)
    run.refresh_from_db()
    assert run.ok is False
    assert run.reason == "transcode: RuntimeError: encoder missing"


@pytest.mark.slow
def test_the_canary_passes_through_a_real_worker_and_the_report_shows_it(stopping, ffmpeg, media_root):
    stopping("worker")
    wait_consumers("video", "short")
    run = canary.canary_run(timeout=60)
    assert run.ok is True, run.reason
    assert run.started_at is not None and run.duration_ms > 0
    report = selfcheck.report_record()
    assert report.checks["canary"]["ok"] is True
    assert report.checks["canary"]["duration_ms"] == run.duration_ms
    assert list(media_root.rglob(f"*{run.id}*")) == []


@pytest.mark.slow
def test_without_a_video_queue_consumer_the_canary_fails_with_the_reason(stopping):
    short_only = stopping("short", "celery -A practika_project worker -n short@%h -Q short -P threads -c 1 -l INFO")
    wait_consumers("short")
    run = canary.canary_run(timeout=5)
    assert run.ok is False
    assert run.reason == canary.NO_VIDEO_CONSUMER
    report = selfcheck.report_record()
    assert report.checks["canary"] == {**report.checks["canary"], "ok": False, "error": canary.NO_VIDEO_CONSUMER}
    assert report.status == "degraded"
