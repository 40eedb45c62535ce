"""Crafted uploads against the real web and worker: clear refusals, nothing outside the video read."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
import requests

from tests.faults.conftest import assert_no_traceback, statuses, user_token, wait_until
from tests.media import make_clip

pytestmark = pytest.mark.slow


def lavfi(path: Path, source: str, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i", source,
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *args, str(path)], check=True)
    return path


def crafted(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name: (file, a word the refusal must contain)."""
    return {
        # Ten hours of one tiny frame every 100 s: 6 KB that claims 10 h.
        "duration bomb": (lavfi(tmp_path / "long.mp4", "color=size=32x32:rate=0.01", "-t", "36000"), "too long"),
        # 8192×8192 black frames: 200 KB that would decode to 64 MB a frame.
        "decompression bomb": (lavfi(tmp_path / "huge.mp4", "color=size=8192x8192:rate=1", "-t", "2"), "size"),
        "16×8000": (lavfi(tmp_path / "tall.mp4", "testsrc2=size=16x8000:rate=5", "-t", "1"), "size"),
        "8×8": (lavfi(tmp_path / "tiny.mp4", "testsrc2=size=8x8:rate=5", "-t", "1"), "size"),
        "not a video": (_write(tmp_path / "notes.mp4", b"just some text, not a video\n" * 100), "isn't a video"),
        "a playlist": (_write(tmp_path / "list.mp4", b"#EXTM3U\n#EXTINF:1,\n/etc/passwd\n"), "playlist"),
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def post_file(base: str, token: str, path: Path, filename: str) -> requests.Response:
    with path.open("rb") as f:
        return requests.post(f"{base}/core/api/videos/", headers={"Authorization": f"Token {token}"},
                             data={"title": filename}, files={"file": (filename, f, "video/mp4")}, timeout=30)


def test_crafted_media_is_refused_with_a_sentence_and_keeps_nothing(stack, media_root, tmp_path):
    stack.web()
    worker = stack.start("worker")
    token = user_token("mallory")
    ids, kinds = {}, crafted(tmp_path)
    for kind, (path, _) in kinds.items():
        response = post_file(stack.base, token, path, path.name)
        assert response.status_code in (201, 400), (kind, response.text)
        if response.status_code == 201:
            ids[kind] = response.json()["id"]
        else:
            assert "error" in response.json()
    wait_until(lambda: set(statuses(list(ids.values())).values()) <= {"failed", "ready"}, 180,
               "every crafted upload settled")

    from domain.videos.models import Video

    for kind, video_id in ids.items():
        video = Video.objects.get(id=video_id)
        assert video.status == "failed", (kind, video.status)
        assert kinds[kind][1] in video.error.lower(), (kind, video.error)
        assert not video.renditions.exists(), kind
        assert not list((media_root / "videos" / video_id).rglob("*.*")), f"{kind}: files kept after refusal"
    assert worker.popen.poll() is None, "the worker died on crafted input"


def test_hostile_filenames_never_leave_the_videos_own_folder(stack, media_root, tmp_path):
    stack.web()
    token = user_token("mallory")
    clip = make_clip(tmp_path / "c.mp4", seconds=1, width=160, height=120)
    names = ["../../../../tmp/escape.mp4", "..\\..\\escape.mp4", "<script>alert(1)</script>.mp4",
             "a\x00b.mp4", "/etc/passwd", "x" * 1000 + ".mp4"]
    from domain.videos.models import Video

    for name in names:
        response = post_file(stack.base, token, clip, name)
        assert_no_traceback(response.text)
        assert response.status_code in (201, 400), (name, response.status_code, response.text)
        if response.status_code == 201:
            video = Video.objects.get(id=response.json()["id"])
            assert video.original.startswith(f"videos/{video.id}/original"), (name, video.original)
            assert "/" not in video.original_filename and "\x00" not in video.original_filename
    outside = [p for p in media_root.rglob("*") if p.is_file() and not p.relative_to(media_root).parts[0] == "videos"]
    assert not outside, outside
    assert not Path("/tmp/escape.mp4").exists()


def raw_post(base: str, token: str, body: bytes, declared: int) -> tuple[int, bytes]:
    """Send a multipart body with a Content-Length that lies, then stop sending."""
    host, port = base.removeprefix("http://").split(":")
    boundary = "lyingboundary"
    head = (f"POST /core/api/videos/ HTTP/1.1\r\nHost: {host}\r\nAuthorization: Token {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {declared}\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1]) if reply else 0
    return status, reply


def test_a_content_length_that_lies_stores_nothing(stack, media_root, tmp_path):
    stack.web()
    token = user_token("mallory")
    data = make_clip(tmp_path / "c.mp4", seconds=1, width=160, height=120).read_bytes()
    body = (b"--lyingboundary\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nliar\r\n"
            b"--lyingboundary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.mp4\"\r\n"
            b"Content-Type: video/mp4\r\n\r\n" + data + b"\r\n--lyingboundary--\r\n")
    # Longer than what arrives (the client stops mid-file), and shorter than what is sent: either
    # way the server holds half a file, which must never become a video.
    for sent, declared in ((body[: len(body) // 2], len(body)), (body, len(body) // 2)):
        status, reply = raw_post(stack.base, token, sent, declared)
        assert status in (0, 400), (declared, reply[:500])
        assert b"Traceback" not in reply

    from domain.videos.models import Video

    assert not Video.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]
