"""Creating a video from an upload: the original is stored, the row made and processing queued,
or nothing is left behind.

Story: Alice uploads a clip; sometimes her quota, the disk or the database says no.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DataError

from domain.errors import Code, DomainError
from domain.videos import changes, services
from domain.videos.models import Video
from tests.conftest import need

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


def clip_file(tmp_path: Path, size: int, name: str = "Scales.MOV") -> Path:
    path = tmp_path / name
    path.write_bytes(os.urandom(size))
    return path


def create(owner, path: Path, **fields) -> Video:
    with path.open("rb") as fh:
        original = services.FileOriginal(content=File(fh, name=path.name), filename=path.name, size=path.stat().st_size)
        return services.video_create_from_upload(owner=owner, original=original, **{"title": "Scales", **fields})


def stored_files(media_root: Path) -> list[Path]:
    return [p for p in media_root.rglob("*") if p.is_file()]


def left_in(media_root: Path) -> list[str]:
    return sorted(str(p.relative_to(media_root)) for p in media_root.rglob("*"))


def test_a_file_becomes_a_pending_video_and_its_processing_is_queued_after_commit(
    alice, tmp_path, django_capture_on_commit_callbacks
):
    source = clip_file(tmp_path, 10_000)
    with django_capture_on_commit_callbacks() as queued:
        video = create(alice, source, visibility="unlisted")
    video.refresh_from_db()
    assert (video.owner, video.title, video.visibility, video.status) == (alice, "Scales", "unlisted", "pending")
    assert video.original == f"videos/{video.id}/original.mov", "a generated name, the extension kept"
    assert (video.original_filename, video.size) == ("Scales.MOV", 10_000)
    with default_storage.open(video.original) as stored:
        assert stored.read() == source.read_bytes()
    assert len([callback for callback in queued if getattr(callback, "func", None) is not changes.move_tokens]) == 1


def test_a_quota_refusal_stores_nothing(alice, tmp_path, media_root, settings):
    settings.MAX_USER_STORAGE_BYTES = 5_000
    with pytest.raises(DomainError) as refused:
        create(alice, clip_file(tmp_path, 10_000))
    assert refused.value.code == Code.QUOTA_EXCEEDED
    assert str(refused.value) == services.QUOTA_EXCEEDED.format(quota=0)
    assert not Video.objects.exists() and stored_files(media_root) == []


def test_the_quota_counts_what_the_owner_already_has(alice, tmp_path, settings):
    settings.MAX_USER_STORAGE_BYTES = 15_000
    create(alice, clip_file(tmp_path, 10_000, "first.mp4"))
    with pytest.raises(DomainError) as refused:
        create(alice, clip_file(tmp_path, 10_000, "second.mp4"))
    assert refused.value.code == Code.QUOTA_EXCEEDED
    assert Video.objects.count() == 1


def test_a_database_failure_takes_the_stored_original_back(alice, tmp_path, media_root, postgres):
    # PostgreSQL refuses a title longer than the column: the bytes were stored by then.
    with pytest.raises(DataError):
        create(alice, clip_file(tmp_path, 10_000), title="t" * 500)
    assert not Video.objects.exists()
    assert left_in(media_root) == ["videos"], "no original, and no folder of one"


@pytest.fixture
def small_media_volume(media_root):
    """MEDIA_ROOT on a 1 MB tmpfs of its own (mounting needs root)."""
    need("root, to mount a small tmpfs", os.geteuid() == 0)
    media_root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(media_root)], check=True)
    yield media_root
    subprocess.run(["umount", "-l", str(media_root)], check=True)


def test_a_full_disk_is_storage_full_and_leaves_no_partial_original(alice, tmp_path, small_media_volume):
    with pytest.raises(DomainError) as refused:
        create(alice, clip_file(tmp_path, 3 * 1024 * 1024))
    assert (refused.value.code, str(refused.value)) == (Code.STORAGE_FULL, services.STORAGE_FULL)
    assert not Video.objects.exists()
    assert left_in(small_media_volume) == ["videos"], "no partial original, and no folder of one"
