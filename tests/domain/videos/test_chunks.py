"""The parts of a long source as rows: planned, taken by one encode at a time, fenced by its
runner token, failed three times at most, taken back from a silent worker, gone with the video."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from domain.videos import attempts, chunks
from domain.videos.models import Chunk, Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def claim(django_user_model):
    owner = django_user_model.objects.create_user("alice", password="alice-secret-1")
    video = Video.objects.create(owner=owner, title="recital", original="videos/x/original.mp4")
    return attempts.video_claim(video_id=video.id)


@pytest.mark.parametrize(
    "duration, spans",
    [
        (130.0, [(0, 60), (60, 60), (120, 10)]),
        (120.5, [(0, 60), (60, 60.5)]),  # a remainder under a second joins the part before
        (59.0, [(0, 59)]),
    ],
)
def test_a_plan_cuts_whole_parts_and_the_rest(claim, duration, spans):
    plan = chunks.chunks_plan(claim=claim, duration=duration, length=60)
    assert [(c.start, c.length) for c in plan] == [(float(s), float(n)) for s, n in spans]
    assert {c.token for c in plan} == {claim.token} and [c.index for c in plan] == list(range(len(spans)))


def test_a_new_plan_drops_an_earlier_attempts_parts(claim):
    chunks.chunks_plan(claim=claim, duration=130, length=60)
    Video.objects.filter(id=claim.video_id).update(status="pending")
    second = attempts.video_claim(video_id=claim.video_id)
    chunks.chunks_plan(claim=second, duration=130, length=60)
    assert set(Chunk.objects.values_list("token", flat=True)) == {second.token}


def test_one_encode_takes_a_part_and_only_it_writes(claim):
    first, *_ = chunks.chunks_plan(claim=claim, duration=130, length=60)
    mine = chunks.chunk_take(chunk_id=first.id, worker="a:1")
    assert mine is not None and chunks.chunk_take(chunk_id=first.id, worker="b:2") is None
    assert chunks.chunk_take(claim=claim, worker="b:2").index == 1, "the next pending one"
    assert chunks.chunk_beat(chunk=mine, progress=0.5)
    stale = Chunk.objects.get(id=mine.id)
    stale.runner = "someone-else"
    assert not chunks.chunk_beat(chunk=stale, progress=0.9) and not chunks.chunk_done(chunk=stale, cpu_seconds=1, seconds=1)
    assert chunks.chunk_done(chunk=mine, cpu_seconds=3.5, seconds=2.0)
    assert Chunk.objects.get(id=mine.id).state == "done"


def test_three_failures_fail_the_part_with_a_sentence_naming_it(claim):
    plan = chunks.chunks_plan(claim=claim, duration=200, length=60)
    for attempt in range(3):
        part = chunks.chunk_take(chunk_id=plan[1].id, worker="a:1")
        chunks.chunk_fail(chunk=part, error="damaged")
    failed = Chunk.objects.get(id=plan[1].id)
    assert (failed.state, failed.failures) == ("failed", 3)
    assert chunks.chunk_take(chunk_id=plan[1].id, worker="a:1") is None
    assert chunks.chunk_failure_sentence(failed, len(plan)) == (
        "Part 2 of 4 of the video (1:00–2:00) could not be converted after 3 tries: the file may be damaged there."
    )


def test_a_silent_part_counts_a_failure_and_goes_back(claim):
    plan = chunks.chunks_plan(claim=claim, duration=130, length=60)
    silent = chunks.chunk_take(chunk_id=plan[0].id, worker="a:1")
    busy = chunks.chunk_take(chunk_id=plan[1].id, worker="b:2")
    Chunk.objects.filter(id=silent.id).update(beat_at=timezone.now() - timedelta(seconds=60))
    again = chunks.chunks_recover_silent(claim=claim, silent_for=30)
    assert [c.id for c in again] == [silent.id]
    row = Chunk.objects.get(id=silent.id)
    assert (row.state, row.failures, row.error) == ("pending", 1, chunks.WORKER_STOPPED)
    assert not chunks.chunk_beat(chunk=silent, progress=0.7), "the silent encode, waking, writes nothing"
    assert chunks.chunk_beat(chunk=busy, progress=0.7)


def test_a_deleted_video_takes_its_parts_and_stops_their_encodes(claim):
    plan = chunks.chunks_plan(claim=claim, duration=130, length=60)
    running = chunks.chunk_take(chunk_id=plan[0].id, worker="a:1")
    Video.objects.filter(id=claim.video_id).delete()
    assert not Chunk.objects.exists()
    assert not chunks.chunk_beat(chunk=running, progress=0.5)
    assert chunks.chunk_take(chunk_id=plan[1].id, worker="b:2") is None


def test_the_database_refuses_a_second_row_for_a_part_or_an_empty_span(claim):
    first, *_ = chunks.chunks_plan(claim=claim, duration=130, length=60)
    for fields in ({"index": 0, "start": 0, "length": 60}, {"index": 9, "start": 0, "length": 0}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Chunk.objects.create(video_id=claim.video_id, token=claim.token, attempt=1, **fields)
