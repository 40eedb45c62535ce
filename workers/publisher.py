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

from domain.videos.hls import MASTER, VARIANT_PLAYLIST, playlist_uris


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
        master = self.folder / MASTER
        if not self.master_published and master.exists():
            text = master.read_text()
            if all(uri in self._playlists for uri in playlist_uris(text)):
                self.store(MASTER, ContentFile(text.encode()))
                self.master_published = True
        return self.master_published

    def _publish_playlist(self, name: str) -> None:
        text = (self.folder / name).read_text()
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
