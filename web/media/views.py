"""GET /media/<name>: stored files of videos, checked against signature or visibility.

HLS playlists are answered here, on local disk and S3 alike, with their URIs made media URLs (see
video_playlist_with_urls); segments are served like every other file.
"""

from __future__ import annotations

import time

from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_safe

from domain.storage import content_type_for, uses_s3
from domain.videos.hls import is_playlist, playlist_ended
from domain.videos.models import Video
from domain.videos.storyboard import is_storyboard
from web.media.ranges import ranged_file_response
from web.media.signing import (
    media_signature_valid,
    video_media_public,
    video_playlist_with_urls,
    video_storyboard_with_urls,
)

PUBLIC_MAX_AGE = 300


def _safe_name(name: str) -> bool:
    parts = name.split("/")
    return (
        len(parts) >= 3
        and parts[0] == "videos"
        and all(part not in ("", ".", "..") for part in parts)
        and "\\" not in name
        and "\x00" not in name
    )


def _video_of(name: str) -> Video | None:
    return Video.objects.filter(id=name.split("/")[1]).only("visibility", "original").first()


def _public_file(name: str) -> bool:
    video = _video_of(name)
    return video is not None and video_media_public(video=video, name=name)


def _stored_text(name: str) -> tuple[Video, str]:
    video = _video_of(name)
    if video is None:
        raise Http404("No such file.")
    try:
        with default_storage.open(name, "rb") as f:
            return video, f.read().decode()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise Http404("No such file.") from None


def _storyboard(name: str, cache_control: str) -> HttpResponse:
    """The storyboard with media URLs for its sheets."""
    video, text = _stored_text(name)
    response = HttpResponse(video_storyboard_with_urls(video=video, name=name, text=text), content_type="text/vtt")
    response["Cache-Control"] = cache_control
    return response


def _playlist(name: str, cache_control: str) -> HttpResponse:
    """The playlist with media URLs for its URIs; never kept by a cache while it still grows."""
    video, text = _stored_text(name)
    body = video_playlist_with_urls(video=video, name=name, text=text)
    response = HttpResponse(body, content_type=content_type_for(name))
    response["Cache-Control"] = cache_control if playlist_ended(text) else "no-store"
    return response


@require_safe
def serve(request: HttpRequest, name: str) -> HttpResponse:
    if not _safe_name(name):
        raise Http404("No such file.")
    expires, signature = request.GET.get("e"), request.GET.get("s")
    if expires is not None or signature is not None:
        if not media_signature_valid(name, expires or "", signature or ""):
            raise Http404("No such file.")
        cache_control = f"private, max-age={max(int(expires) - int(time.time()), 0)}"
    elif _public_file(name):
        cache_control = f"public, max-age={PUBLIC_MAX_AGE}"
    else:
        raise Http404("No such file.")

    if is_playlist(name):
        return _playlist(name, cache_control)
    if is_storyboard(name):
        return _storyboard(name, cache_control)
    if uses_s3():
        # The bucket answers Range itself; its presigned URL expires like ours.
        response = HttpResponseRedirect(default_storage.url(name))
        response["Cache-Control"] = "private, no-store"
        return response
    try:
        f = open(default_storage.path(name), "rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise Http404("No such file.") from None
    response = ranged_file_response(request, f, name)
    response["Cache-Control"] = cache_control
    return response
