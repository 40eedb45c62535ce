"""The media volume fills during an upload: a clear error, no partial file, others untouched."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need
from tests.faults.conftest import assert_no_traceback, upload, user_token, wait_ready
from tests.media import make_clip

pytestmark = pytest.mark.slow

TMPFS_MB = 20


@pytest.fixture
def small_media_volume(media_root):
    """MEDIA_ROOT on a 20 MB tmpfs of its own (mounting needs root)."""
    need("root, to mount a small tmpfs", os.geteuid() == 0)
    media_root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", str(media_root)], check=True)
    yield media_root
    subprocess.run(["umount", "-l", str(media_root)], check=True)


def files_under(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def test_a_full_media_volume_refuses_the_upload_cleanly(stack, small_media_volume, tmp_path):
    stack.web()
    stack.start("worker")
    token = user_token("alice")
    first = upload(stack.base, token, make_clip(tmp_path / "first.mp4", seconds=1, width=160, height=120))
    assert first.status_code == 201, first.text
    wait_ready([first.json()["id"]], 120)
    before = files_under(small_media_volume)

    # Leave about 2 MB free, then send 6 MB.
    free = os.statvfs(small_media_volume).f_bavail * os.statvfs(small_media_volume).f_frsize
    (tmp_path / "filler").write_bytes(b"")
    with (small_media_volume / "filler.bin").open("wb") as f:
        f.write(b"\0" * (free - 2 * 1024 * 1024))
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    response = upload(stack.base, token, big, title="too big for the disk")

    assert 400 <= response.status_code < 600 and response.status_code != 500, (response.status_code, response.text)
    assert "space" in response.json()["error"].lower(), response.text
    assert_no_traceback(response.text)
    (small_media_volume / "filler.bin").unlink()
    assert files_under(small_media_volume) == before, "a partial file was left, or another video's files changed"

    from domain.videos.models import Video

    assert list(Video.objects.values_list("id", flat=True)) == [first.json()["id"]]
