"""JSON log lines name the request, the user and the video they are about."""

from __future__ import annotations

import io
import json
import logging

import pytest
from celery import shared_task
from django.conf import settings
from pythonjsonlogger.json import JsonFormatter

from practika_project.logging import LogContextFilter, RequestIdFilter


@pytest.fixture
def json_lines():
    """The production formatter and filters on a handler that writes to memory."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    spec = settings.LOGGING["formatters"]["json"]
    handler.setFormatter(JsonFormatter(spec["fmt"], rename_fields=spec["rename_fields"]))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(LogContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest.mark.urls("tests.ops.log_urls")
def test_a_request_line_carries_the_signed_in_user_and_the_urls_video(client, django_user_model, json_lines):
    alice = django_user_model.objects.create_user("alice", password="pw-alice-123")
    client.force_login(alice)
    client.get("/videos/v1deo-id/", HTTP_X_REQUEST_ID="req-12345678")
    line = next(entry for entry in json_lines() if entry["message"] == "watching")
    assert line["request_id"] == "req-12345678"
    assert line["user_id"] == alice.pk
    assert line["video_id"] == "v1deo-id"


@pytest.mark.urls("tests.ops.log_urls")
def test_an_anonymous_request_has_no_user_id(client, db, json_lines):
    client.get("/videos/other/")
    line = next(entry for entry in json_lines() if entry["message"] == "watching")
    assert line["user_id"] is None and line["video_id"] == "other"


def test_lines_outside_any_request_or_task_name_nobody(json_lines):
    logging.getLogger("practika.test").info("idle")
    (line,) = [entry for entry in json_lines() if entry["message"] == "idle"]
    assert line["user_id"] is None and line["video_id"] is None


@shared_task(name="tests.ops.video_logging_task")
def video_logging_task(video_id: str) -> None:
    logging.getLogger("practika.test").info("processing")


def test_a_tasks_lines_carry_its_video_id(json_lines):
    video_logging_task.apply(args=("vid-positional",))
    video_logging_task.apply(kwargs={"video_id": "vid-keyword"})
    ids = [entry["video_id"] for entry in json_lines() if entry["message"] == "processing"]
    assert ids == ["vid-positional", "vid-keyword"]
