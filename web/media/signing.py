"""Media URLs: /media/<name>, signed with an expiry unless the file is public.

Which files are public is decided here once, for the URLs the API and the pages hand out and for
the media view that serves them unsigned.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import time
from urllib.parse import quote

from django.conf import settings
from django.utils.crypto import constant_time_compare

from domain.videos.hls import playlist_resolve, playlist_rewrite
from domain.videos.models import Video
from domain.videos.storyboard import storyboard_rewrite
from web.headers import whole_number

_SALT = "practika.media"


def _signature(name: str, expires: int) -> str:
    """Django's Signer(salt=_SALT).signature of the name and expiry, with the key it derives for
    every signature derived once: a playlist of a long video signs thousands of segment URLs."""
    mac = hmac.new(_key(settings.SECRET_KEY), f"{name}\n{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


@functools.lru_cache(maxsize=2)
def _key(secret: str) -> bytes:
    return hashlib.sha256(f"{_SALT}signer{secret}".encode()).digest()  # as django.utils.crypto.salted_hmac


def media_url(name: str, *, signed: bool) -> str:
    """Root-relative URL of a stored file. Signed URLs expire after MEDIA_URL_MAX_AGE seconds and
    work without headers (a <video src>); unsigned ones only serve public videos' files."""
    url = settings.MEDIA_URL + quote(name)
    if not signed:
        return url
    expires = int(time.time()) + settings.MEDIA_URL_MAX_AGE
    return f"{url}?e={expires}&s={_signature(name, expires)}"


def video_media_public(*, video: Video, name: str) -> bool:
    """A public video's files are anyone's, unsigned; its original stays the owner's (only ever
    signed). Private and unlisted videos' files are always signed."""
    return video.visibility == Video.Visibility.PUBLIC and name != video.original


def video_media_url(*, video: Video, name: str) -> str:
    """The URL of one of the video's stored files: plain when public, else signed."""
    return media_url(name, signed=not video_media_public(video=video, name=name))


def video_playlist_with_urls(*, video: Video, name: str, text: str) -> str:
    """A stored HLS playlist of the video (at `name`) with every URI it names made a media URL by
    the same rules: a signed master hands the player signed variant playlists, which hand it
    signed segments; a public video's are plain. A URI outside the playlist's HLS folder is left
    as it is (it would only ever be a 404)."""

    def url(uri: str) -> str:
        target = playlist_resolve(name, uri)
        return uri if target is None else video_media_url(video=video, name=target)

    return playlist_rewrite(text, url)


def video_storyboard_with_urls(*, video: Video, name: str, text: str) -> str:
    """The video's stored storyboard VTT (at `name`) with each cue's sheet made a media URL, by
    the same rules as a playlist's segments."""

    def url(uri: str) -> str:
        target = playlist_resolve(name, uri)
        return uri if target is None else video_media_url(video=video, name=target)

    return storyboard_rewrite(text, url)


def video_storyboard_url(*, video: Video) -> str | None:
    """The URL of the video's storyboard, once it is ready (a video processed before storyboards
    has none)."""
    if not video.storyboard or video.status != Video.Status.READY:
        return None
    return video_media_url(video=video, name=video.storyboard)


def video_hls_url(*, video: Video) -> str | None:
    """The URL of the video's HLS master playlist, while it is a promise that the video plays: a
    failed video's stream (only a never-ready video fails) stops part-way and never ends."""
    if not video.hls_playlist or video.status == Video.Status.FAILED:
        return None
    return video_media_url(video=video, name=video.hls_playlist)


def media_signature_valid(name: str, expires: str, signature: str) -> bool:
    """True for an untampered signature whose expiry has not passed."""
    expiry = whole_number(expires)
    if expiry is None or expiry < time.time():
        return False
    return constant_time_compare(signature, _signature(name, expiry))
