"""The videos app's data migrations, run on rows as the previous release left them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = ("videos", "0001_initial"), ("videos", "0002_claim_token_first_ready_step_detail")


@pytest.fixture(autouse=True)
def latest_schema_after():
    """Later tests need every migration applied, whatever a test here left."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def test_old_raw_reasons_move_to_staff_detail_and_played_videos_count_as_once_ready(django_user_model):
    old = migrate(BEFORE)
    owner = old.get_model("auth", "User").objects.create(username="alice")
    Video, Rendition, JobStep = (old.get_model("videos", name) for name in ("Video", "Rendition", "JobStep"))
    played = Video.objects.create(id="played", owner_id=owner.id, title="t", status="processing",
                                  processed_at=timezone.now())
    Rendition.objects.create(video=played, label="360p", width=640, height=360, file="f.mp4", size_bytes=1)
    never = Video.objects.create(id="never", owner_id=owner.id, title="t", status="failed")
    raw = "OperationalError: could not connect to server at db.internal:5432"
    JobStep.objects.create(video=never, attempt=1, step="poster", outcome="failed", reason=raw)
    JobStep.objects.create(video=never, attempt=1, step="probe", outcome="failed",
                           reason="The video is too long: the limit is 3 hours.")

    new = migrate(AFTER)
    Video, JobStep = new.get_model("videos", "Video"), new.get_model("videos", "JobStep")
    assert Video.objects.get(id="played").first_ready_at is not None
    assert Video.objects.get(id="never").first_ready_at is None
    steps = {s.step: (s.reason, s.detail) for s in JobStep.objects.all()}
    assert steps == {
        "poster": ("Something went wrong while processing this video; it has been logged.", raw),
        "probe": ("The video is too long: the limit is 3 hours.", ""),
    }

    migrate(BEFORE)  # and back: the raw text returns to where the previous release reads it
    assert old.get_model("videos", "JobStep").objects.get(step="poster").reason == raw
