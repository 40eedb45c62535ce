"""Publishing the HLS that ffmpeg writes while it writes it.

ffmpeg's HLS muxer (workers.pipeline.transcode) writes every file under a temporary name and
renames it once complete, and lists a segment in its media playlist only after that rename. So
a playlist read from the folder names only complete files, and publishing in this order means a
player never meets a URI that is not stored yet: the segments a media playlist names (its init
segment first), then that playlist as it was read, then the master once every playlist it names
is published.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile

from domain.videos.hls import (
    AUDIO_VARIANT,
    MASTER,
    PART_FOLDER,
    VARIANT_PLAYLIST,
    playlist_ended,
    playlist_join,
    playlist_uris,
)


class HlsPublisher:
    """Stores what is new in `folder` with store(name relative to the folder, content) each time
    publish() is called: from ffmpeg's progress callback while it runs, and once after it ended
    (the playlists then end with #EXT-X-ENDLIST and are stored after their last segments)."""

    def __init__(self, folder: Path, store: Callable[[str, File], None]) -> None:
        self.folder, self.store = folder, store
        self._segments: set[str] = set()
        self._playlists: dict[str, str] = {}
        self.master_published = False

    def publish(self) -> bool:
        """Store what changed; True once the master playlist is published (the HLS plays)."""
        for path in sorted(self.folder.glob(f"*/{VARIANT_PLAYLIST}")):
            self._publish_playlist(path.relative_to(self.folder).as_posix())
        return self._publish_master(self.folder / MASTER)

    def _publish_master(self, master: Path) -> bool:
        if not self.master_published and master.exists():
            text = master.read_text()
            if all(uri in self._playlists for uri in playlist_uris(text)):
                self.store(MASTER, ContentFile(text.encode()))
                self.master_published = True
        return self.master_published

    def stored(self, name: str) -> None:
        """The file `name` in the folder is stored already (a part another worker encoded)."""
        if name.endswith(".m3u8"):
            self._playlists[name] = (self.folder / name).read_text()
        else:
            self._segments.add(name)

    def _publish_playlist(self, name: str, text: str | None = None) -> None:
        text = (self.folder / name).read_text() if text is None else text
        if self._playlists.get(name) == text:
            return
        for uri in playlist_uris(text):
            segment = posixpath.join(posixpath.dirname(name), uri)
            if segment not in self._segments:
                with (self.folder / segment).open("rb") as fh:
                    self.store(segment, File(fh))
                self._segments.add(segment)
        # What was read, not the file: ffmpeg may have replaced it meanwhile with a version that
        # names a segment not stored yet.
        self.store(name, ContentFile(text.encode()))
        self._playlists[name] = text


class PartsPublisher(HlsPublisher):
    """Publishes the HLS of a source encoded in `parts` parts (domain/videos/chunks.py), laid out
    in `folder` as in storage: each variant's folder holds a folder per part (PART_FOLDER) with
    that part's own playlist, init segment and segments. The first part grows there as its ffmpeg
    runs; the others arrive whole, from their workers. `master` is the first part's master
    playlist, which names each variant's playlist.

    Each variant's playlist joins the parts in order, as far as they are there without a gap; it
    ends once the last part has.
    """

    def __init__(self, folder: Path, store: Callable[[str, File], None], *, parts: int, master: Path) -> None:
        super().__init__(folder, store)
        self.parts, self.master = parts, master

    def publish(self) -> bool:
        for path in sorted(self.folder.glob(f"*/*/{VARIANT_PLAYLIST}")):
            self._publish_playlist(path.relative_to(self.folder).as_posix())
        for variant in sorted(path for path in self.folder.iterdir() if path.is_dir()):
            self._publish_joined(variant)
        return self._publish_master(self.master)

    def _publish_joined(self, variant: Path) -> None:
        # The sound is one part, the first, made whole from the whole source.
        count = 1 if variant.name == AUDIO_VARIANT else self.parts
        parts = []
        for index in range(count):
            playlist = variant / PART_FOLDER.format(index=index) / VARIANT_PLAYLIST
            if not playlist.exists():
                break
            text = playlist.read_text()
            parts.append((PART_FOLDER.format(index=index), text))
            if not playlist_ended(text):
                break
        if parts:
            ended = len(parts) == count and playlist_ended(parts[-1][1])
            text = playlist_join(parts, ended=ended)
            # Kept beside the parts too: the MP4 renditions are joined from it (pipeline.join_rendition).
            (variant / VARIANT_PLAYLIST).write_text(text)
            self._publish_playlist(f"{variant.name}/{VARIANT_PLAYLIST}", text)
