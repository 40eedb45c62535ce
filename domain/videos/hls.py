"""A video's HLS: where its files are stored and how its playlists name them.

Each processing attempt writes its HLS under a folder of its own, `videos/<id>/hls/<claim
token>/`: the master playlist MASTER, and one folder per variant (a rung's label, or
AUDIO_VARIANT) holding its media playlist VARIANT_PLAYLIST, its init segment and its media
segments. Every URI in a playlist is relative, so the same files serve from local disk or S3 and
the web can rewrite each URI into a signed media URL.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from domain.videos.models import storage_prefix_of

MASTER = "master.m3u8"
VARIANT_PLAYLIST = "index.m3u8"
AUDIO_VARIANT = "audio"
# A long source's parts (domain/videos/chunks.py) keep their files in a folder each within every
# variant's folder; the variant's own playlist joins theirs (playlist_join).
PART_FOLDER = "c{index:04d}"
ENDLIST = "#EXT-X-ENDLIST"
_TARGET = "#EXT-X-TARGETDURATION:"
_URI_ATTRIBUTE = re.compile(r'URI="([^"]*)"')


def hls_prefix_of(video_id: str) -> str:
    """Where every attempt's HLS folder of a video lives."""
    return f"{storage_prefix_of(video_id)}hls/"


def hls_folder_of(video_id: str, token: str) -> str:
    """The HLS folder of one attempt (its claim token): a reprocess never overwrites what plays."""
    return f"{hls_prefix_of(video_id)}{token}/"


def is_playlist(name: str) -> bool:
    """True for a playlist of an attempt's HLS folder (never an original, whatever its name)."""
    parts = name.split("/")
    return len(parts) >= 5 and parts[0] == "videos" and parts[2] == "hls" and name.endswith(".m3u8")


def playlist_rewrite(text: str, uri: Callable[[str], str]) -> str:
    """The playlist with every URI it names replaced by uri(it): variant playlists and media
    segments on lines of their own, init segments (#EXT-X-MAP) and audio renditions (#EXT-X-MEDIA)
    in URI attributes."""
    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            line = _URI_ATTRIBUTE.sub(lambda match: f'URI="{uri(match.group(1))}"', line)
        elif line.strip():
            line = uri(line.strip())
        lines.append(line)
    return "\n".join(lines) + "\n"


def playlist_uris(text: str) -> list[str]:
    """Every URI the playlist names, in order."""
    found: list[str] = []
    playlist_rewrite(text, lambda uri: found.append(uri) or uri)
    return found


def playlist_resolve(playlist: str, uri: str) -> str | None:
    """The storage name a playlist stored at `playlist` means by a relative `uri`; None for an
    absolute URI or one that climbs out of the playlist's HLS folder."""
    if "://" in uri or uri.startswith("/") or "?" in uri or "#" in uri:
        return None
    folder = posixpath.dirname(playlist)
    name = posixpath.normpath(posixpath.join(folder, uri))
    root = "/".join(playlist.split("/")[:4]) + "/"  # videos/<id>/hls/<token>/
    return name if name.startswith(root) and playlist.startswith(root) else None


def playlist_join(parts: list[tuple[str, str]], *, ended: bool) -> str:
    """One media playlist of consecutive parts of a video encoded apart (each `(folder, its
    playlist)`, the folder relative to where the joined playlist lives): the first part's header,
    then every part's init segment and segments, named through its folder; ended or still
    growing. The parts' timestamps run on from one to the next, so no discontinuity is marked."""
    header, body, target = [], [], 1
    for folder, text in parts:
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-MAP"))
        if not header:
            header = lines[:start]
        target = max([target] + [int(line.split(":")[1]) for line in lines if line.startswith(_TARGET)])
        own = "\n".join(line for line in lines[start:] if line.strip() and line != ENDLIST)
        body.append(playlist_rewrite(own, lambda uri, folder=folder: posixpath.join(folder, uri)))
    header = [f"{_TARGET}{target}" if line.startswith(_TARGET) else line for line in header]
    return "\n".join(header) + "\n" + "".join(body) + (ENDLIST + "\n" if ended else "")


def playlist_init_segments(text: str) -> set[str]:
    """The init segments (#EXT-X-MAP) a media playlist names."""
    return {match.group(1) for line in text.splitlines() if line.startswith("#EXT-X-MAP") for match in [_URI_ATTRIBUTE.search(line)] if match}


def playlist_ended(text: str) -> bool:
    """True once the playlist will not grow any more."""
    return ENDLIST in text
