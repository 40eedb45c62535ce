"""`manage.py import_video`: an operator imports a local file for Alice."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from domain.videos import changes
from domain.videos.models import Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice")


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_video", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_copies_into_storage_with_a_progress_bar_and_queues(alice, tmp_path, django_capture_on_commit_callbacks):
    source = tmp_path / "Recital 2026.mov"
    source.write_bytes(b"v" * 3_000_000)
    with django_capture_on_commit_callbacks() as queued:
        out, err = run(str(source), "--user", "alice", "--title", "Recital")
    video = Video.objects.get()
    assert (video.owner, video.title, video.status, video.visibility) == (alice, "Recital", "pending", "private")
    assert video.original == f"videos/{video.id}/original.mov"
    assert video.original_filename == "Recital 2026.mov" and video.size == 3_000_000
    with default_storage.open(video.original) as stored:
        assert stored.read() == source.read_bytes()
    assert "100%" in err and "3.00M" in err, "tqdm reports the bytes copied"
    assert video.id in out
    jobs = [callback for callback in queued if getattr(callback, "func", None) is not changes.move_tokens]
    assert len(jobs) == 1, "processing is queued once the row is committed"


def test_title_defaults_to_the_file_name(alice, tmp_path):
    source = tmp_path / "scales.mp4"
    source.write_bytes(b"v")
    run(str(source), "--user", "alice")
    assert Video.objects.get().title == "scales"


@pytest.mark.parametrize("args, message", [
    (["missing.mp4", "--user", "alice"], "is not a file"),
    (["{file}", "--user", "nobody"], "no user called 'nobody'"),
])
def test_bad_arguments_are_clear_errors_and_store_nothing(alice, tmp_path, media_root, args, message):
    source = tmp_path / "a.mp4"
    source.write_bytes(b"v")
    with pytest.raises(CommandError, match=message):
        run(*[a.format(file=source) for a in args])
    assert not Video.objects.exists()
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))


def test_a_quota_refusal_is_a_clear_error_and_leaves_no_original(alice, tmp_path, media_root, settings):
    settings.MAX_USER_STORAGE_BYTES = 1000
    source = tmp_path / "long.mp4"
    source.write_bytes(b"v" * 2000)
    with pytest.raises(CommandError, match="storage quota"):
        run(str(source), "--user", "alice")
    assert not Video.objects.exists()
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))
