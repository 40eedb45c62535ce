"""Resumable uploads without HTTP: create, append (checksum, quota, completion), abandon, expire.

Story: Alice uploads her practice clips in chunks; the HTTP side of it (tus headers, statuses,
real clients) is tests/web/api/test_uploads.py.
"""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import IntegrityError
from django.utils import timezone

from domain.errors import Code, DomainError
from domain.uploads.models import Upload
from domain.uploads.services import (
    CHECKSUM_MISMATCH,
    UPLOAD_COMPLETE,
    UPLOAD_LENGTH_CHANGED,
    UPLOAD_LENGTH_SHORT,
    UPLOAD_OFFSET_MISMATCH,
    Checksum,
    upload_abandon,
    upload_append,
    upload_create,
    uploads_expire,
)
from domain.videos.models import Video
from domain.videos.services import QUOTA_EXCEEDED

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


@pytest.fixture
def clip_bytes() -> bytes:
    return os.urandom(300 * 1024 + 123)


def begin(owner, length: int | None, filename: str = "scales.mp4") -> Upload:
    return upload_create(owner=owner, length=length, filename=filename, title="Scales")


def append(
    upload: Upload, offset: int, data: bytes, checksum: Checksum | None = None, length: int | None = None
) -> Upload:
    return upload_append(
        owner=upload.owner,
        key=upload.key,
        offset=offset,
        content_length=len(data),
        chunks=[data],
        checksum=checksum,
        length=length,
    )


def on_disk(upload: Upload) -> Path:
    return Path(default_storage.path(upload.original_name))


def sha1(data: bytes) -> Checksum:
    return Checksum("sha1", hashlib.sha1(data).digest())


def test_the_last_byte_makes_the_pending_video_from_the_upload_in_place(alice, clip_bytes):
    upload = begin(alice, len(clip_bytes))
    append(upload, 0, clip_bytes[:100_000])
    done = append(upload, 100_000, clip_bytes[100_000:])
    assert done.completed_at is not None
    video = Video.objects.get(id=upload.video_id)
    assert (video.owner, video.title, video.status, video.size) == (alice, "Scales", "pending", len(clip_bytes))
    assert video.original == upload.original_name, "completed where it was written, never copied"
    assert on_disk(upload).read_bytes() == clip_bytes


def test_a_bad_checksum_counts_nothing_and_a_right_one_counts(alice, clip_bytes):
    upload = begin(alice, len(clip_bytes))
    with pytest.raises(DomainError) as refused:
        append(upload, 0, clip_bytes[:1000], Checksum("sha1", hashlib.sha1(b"something else").digest()))
    assert (refused.value.code, str(refused.value)) == (Code.CHECKSUM_MISMATCH, CHECKSUM_MISMATCH)
    assert Upload.objects.get().offset == 0

    assert append(upload, 0, clip_bytes[:1000], sha1(clip_bytes[:1000])).offset == 1000
    assert on_disk(upload).read_bytes() == clip_bytes[:1000]


def test_a_wrong_offset_is_a_conflict(alice, clip_bytes):
    upload = begin(alice, len(clip_bytes))
    append(upload, 0, clip_bytes[:1000])
    with pytest.raises(DomainError) as refused:
        append(upload, 500, clip_bytes[500:1500])
    assert (refused.value.code, str(refused.value)) == (Code.CONFLICT, UPLOAD_OFFSET_MISMATCH.format(offset=1000))


def test_a_quota_refusal_at_the_last_byte_leaves_the_upload_resumable(alice, clip_bytes, settings):
    upload = begin(alice, len(clip_bytes))
    append(upload, 0, clip_bytes[:1000])
    settings.MAX_USER_STORAGE_BYTES = 1000  # an operator lowered it meanwhile
    with pytest.raises(DomainError) as refused:
        append(upload, 1000, clip_bytes[1000:])
    assert (refused.value.code, str(refused.value)) == (Code.QUOTA_EXCEEDED, QUOTA_EXCEEDED.format(quota=0))
    assert Upload.objects.get().offset == 1000 and not Video.objects.exists()

    settings.MAX_USER_STORAGE_BYTES = 10 * 1024**2  # room was made
    append(upload, 1000, clip_bytes[1000:])
    assert Video.objects.get().original == upload.original_name
    assert on_disk(upload).read_bytes() == clip_bytes


def test_a_video_that_cannot_be_made_leaves_the_upload_resumable(alice, clip_bytes):
    upload = begin(alice, 1000)
    Video.objects.create(id=upload.video_id, owner=alice, title="in the way")
    with pytest.raises(IntegrityError):
        append(upload, 0, clip_bytes[:1000])
    assert (Upload.objects.get().offset, Upload.objects.get().completed_at) == (0, None)
    assert on_disk(upload).exists(), "the bytes stay the upload's, for the client's retry"


@pytest.mark.parametrize("length, filename, code", [
    (0, "a.mp4", Code.INVALID),
    (10, " ", Code.INVALID),
    (10**15, "a.mp4", Code.TOO_LARGE),
])
def test_refusals_at_creation_carry_a_code(alice, length, filename, code):
    with pytest.raises(DomainError) as refused:
        begin(alice, length, filename)
    assert refused.value.code == code
    assert not Upload.objects.exists()


def test_too_many_unfinished_uploads(alice, settings):
    settings.MAX_UNFINISHED_UPLOADS = 1
    begin(alice, 10)
    with pytest.raises(DomainError) as refused:
        begin(alice, 10)
    assert refused.value.code == Code.TOO_MANY


def test_abandoning_removes_the_bytes_and_a_finished_upload_cannot_be_abandoned(alice, clip_bytes):
    idle = begin(alice, len(clip_bytes))
    append(idle, 0, clip_bytes[:1000])
    upload_abandon(owner=alice, key=idle.key)
    assert not on_disk(idle).exists() and not Upload.objects.filter(key=idle.key).exists()

    done = begin(alice, 1000)
    append(done, 0, clip_bytes[:1000])
    with pytest.raises(DomainError) as refused:
        upload_abandon(owner=alice, key=done.key)
    assert (refused.value.code, str(refused.value)) == (Code.CONFLICT, UPLOAD_COMPLETE)


def test_an_expired_upload_is_gone(alice, clip_bytes):
    upload = begin(alice, len(clip_bytes))
    Upload.objects.update(updated_at=timezone.now() - timedelta(days=2))
    with pytest.raises(DomainError) as refused:
        append(upload, 0, clip_bytes[:10])
    assert refused.value.code == Code.EXPIRED


def test_uploads_expire_with_their_bytes(alice, clip_bytes):
    idle = begin(alice, len(clip_bytes))
    append(idle, 0, clip_bytes[:1000])
    done = begin(alice, 1000)
    append(done, 0, clip_bytes[:1000])

    assert uploads_expire() == 0
    assert uploads_expire(now=timezone.now() + timedelta(hours=25)) == 2
    assert not Upload.objects.exists()
    assert not on_disk(idle).exists()
    assert on_disk(done).read_bytes() == clip_bytes[:1000]  # now the video's original
    assert Video.objects.count() == 1


def test_one_upload_that_cannot_be_removed_does_not_stop_the_sweep(alice, clip_bytes, caplog):
    stuck, idle = begin(alice, len(clip_bytes), "stuck.mp4"), begin(alice, len(clip_bytes), "idle.mp4")
    # Where the stuck upload's bytes should be, a folder with a file in it: deleting it fails.
    on_disk(stuck).unlink()
    on_disk(stuck).mkdir()
    (on_disk(stuck) / "in-the-way").write_bytes(b"")

    assert uploads_expire(now=timezone.now() + timedelta(hours=25)) == 1
    assert list(Upload.objects.values_list("filename", flat=True)) == ["stuck.mp4"]
    assert not on_disk(idle).exists()
    assert any(stuck.key in record.getMessage() for record in caplog.records if record.levelname == "ERROR")


def refusal(call) -> DomainError:
    with pytest.raises(DomainError) as refused:
        call()
    return refused.value


def test_a_deferred_length_is_declared_by_a_later_patch_once(alice, clip_bytes):
    """A recording: its bytes arrive while it is made, its length when it stops."""
    upload = begin(alice, None, "take.webm")
    assert upload.length_deferred
    append(upload, 0, clip_bytes[:1000])
    append(upload, 1000, clip_bytes[1000:5000])
    assert Upload.objects.get().length is None and not Video.objects.exists()

    short = refusal(lambda: append(upload, 5000, b"", length=4999))
    assert (short.code, str(short)) == (Code.INVALID, UPLOAD_LENGTH_SHORT.format(received=5000))
    # Declared with more to come: it holds, and a different one later is refused.
    append(upload, 5000, clip_bytes[5000:6000], length=len(clip_bytes))
    assert Upload.objects.get().length == len(clip_bytes)
    changed = refusal(lambda: append(upload, 6000, clip_bytes[6000:], length=len(clip_bytes) + 1))
    assert (changed.code, str(changed)) == (Code.INVALID, UPLOAD_LENGTH_CHANGED.format(length=len(clip_bytes)))
    append(upload, 6000, clip_bytes[6000:], length=len(clip_bytes))  # the same again is harmless

    video = Video.objects.get(id=upload.video_id)
    assert (video.size, video.original_filename) == (len(clip_bytes), "take.webm")
    assert on_disk(upload).read_bytes() == clip_bytes


def test_an_empty_patch_declaring_the_bytes_received_finishes_a_deferred_upload(alice, clip_bytes):
    """How an interrupted recording is finished as a video: the length is what arrived."""
    upload = begin(alice, None, "take.webm")
    append(upload, 0, clip_bytes[:7000])
    empty = refusal(lambda: append(begin(alice, None), 0, b"", length=0))
    assert empty.code == Code.INVALID
    done = append(upload, 7000, b"", length=7000)
    assert done.completed_at is not None
    assert Video.objects.get(id=upload.video_id).size == 7000
    assert on_disk(upload).read_bytes() == clip_bytes[:7000]


def test_the_upload_limit_applies_to_a_deferred_upload_as_its_bytes_arrive(alice, clip_bytes, settings):
    settings.MAX_UPLOAD_BYTES = 3000
    upload = begin(alice, None)
    append(upload, 0, clip_bytes[:2000])
    assert refusal(lambda: append(upload, 2000, clip_bytes[2000:3001])).code == Code.TOO_LARGE
    assert refusal(lambda: append(upload, 2000, b"", length=3001)).code == Code.TOO_LARGE
    assert Upload.objects.get().offset == 2000
    append(upload, 2000, clip_bytes[2000:3000], length=3000)
    assert Video.objects.get().size == 3000


def test_the_quota_counts_what_a_deferred_upload_received_and_refuses_more(alice, clip_bytes, settings):
    settings.MAX_USER_STORAGE_BYTES = 5000
    recording = begin(alice, None)
    append(recording, 0, clip_bytes[:3000])
    # Another upload finds the recording's bytes reserved.
    assert refusal(lambda: begin(alice, 2001)).code == Code.QUOTA_EXCEEDED
    other = begin(alice, 2000)
    # Both hold 5000 bytes now: the recording cannot grow, nor declare more than it has.
    assert refusal(lambda: append(recording, 3000, clip_bytes[3000:3001])).code == Code.QUOTA_EXCEEDED
    assert refusal(lambda: append(recording, 3000, b"", length=3001)).code == Code.QUOTA_EXCEEDED
    upload_abandon(owner=alice, key=other.key)
    append(recording, 3000, clip_bytes[3000:5000], length=5000)
    assert Video.objects.get().size == 5000


def test_an_unfinished_deferred_upload_is_swept_like_any_other(alice, clip_bytes):
    upload = begin(alice, None)
    append(upload, 0, clip_bytes[:1000])
    assert uploads_expire(now=timezone.now() + timedelta(hours=25)) == 1
    assert not Upload.objects.exists() and not on_disk(upload).exists()
