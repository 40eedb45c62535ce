"""Every kind of video the contract lists, through both ways in (multipart and tus), then the
pipeline: the right renditions, poster, duration, size and orientation.

The job runs in-process here (workers.processing.video_process is what the task calls); the real
worker process is exercised end to end in tests/workers/test_processing.py and tests/web/pages/.
"""

from __future__ import annotations

import base64

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from rest_framework.authtoken.models import Token

from domain.videos.models import Video
from workers.processing import video_process

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

HD = {"width": 640, "height": 360}
# name, clip options, expected display size, expected rendition labels
KINDS = {
    "mp4-h264-aac": ("a.mp4", HD, (640, 360), ["360p"]),
    "mov-rotated-portrait": ("a.mov", {**HD, "container": "mov", "rotate": 90}, (360, 640), ["360p"]),
    "webm-vp9-opus": ("a.webm", {"width": 854, "height": 480, "vcodec": "libvpx-vp9", "acodec": "libopus",
                                 "container": "webm"}, (854, 480), ["360p", "480p"]),
    "mkv-hevc": ("a.mkv", {**HD, "vcodec": "libx265", "container": "matroska"}, (640, 360), ["360p"]),
    "mp4-no-audio": ("a.mp4", {**HD, "acodec": None}, (640, 360), ["360p"]),
    "4k": ("a.mp4", {"width": 3840, "height": 2160, "seconds": 1, "fps": 5}, (3840, 2160),
           ["360p", "480p", "720p", "1080p"]),
}

@pytest.fixture
def token(django_user_model):
    user = django_user_model.objects.create_user("nina", password="practise-hard-42")
    return f"Token {Token.objects.create(user=user).key}"


def multipart(path, token) -> str:
    with path.open("rb") as f:
        response = Client().post("/core/api/videos/", {"file": f, "title": path.name}, HTTP_AUTHORIZATION=token)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def tus(path, token) -> str:
    client, data = Client(), path.read_bytes()
    meta = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in (("filename", path.name), ("title", path.name)))
    created = client.post("/core/api/uploads/", HTTP_AUTHORIZATION=token, HTTP_TUS_RESUMABLE="1.0.0",
                          HTTP_UPLOAD_LENGTH=str(len(data)), HTTP_UPLOAD_METADATA=meta)
    assert created.status_code == 201, created.content
    done = client.patch(created["Location"], data, content_type="application/offset+octet-stream",
                        HTTP_AUTHORIZATION=token, HTTP_TUS_RESUMABLE="1.0.0", HTTP_UPLOAD_OFFSET="0")
    assert done.status_code == 204, done.content
    return done["Practika-Video-Id"]


@pytest.mark.parametrize("way", [multipart, tus], ids=["multipart", "tus"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_plays_after_either_way_in(kind, way, clip, token):
    name, options, (width, height), labels = KINDS[kind]
    path = clip(name, **{"seconds": 1.5, **options})

    video_id = way(path, token)
    video_process(video_id=video_id)

    video = Video.objects.get(id=video_id)
    assert video.status == Video.Status.READY, video.error
    assert (video.width, video.height) == (width, height)
    assert video.duration == pytest.approx(options.get("seconds", 1.5), abs=0.25)
    assert sorted(r.label for r in video.renditions.all()) == sorted(labels)
    for rendition in video.renditions.all():
        assert (rendition.width > rendition.height) == (width > height)  # orientation kept
        assert default_storage.size(rendition.file) == rendition.size_bytes > 0
    with default_storage.open(video.poster) as poster:
        assert poster.read(3) == b"\xff\xd8\xff"  # a JPEG
