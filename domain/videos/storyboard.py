"""A video's storyboard: thumbnails every few seconds on sprite sheets, and a WebVTT file of cues
naming each thumbnail's place on its sheet (`sheet.jpg#xywh=x,y,w,h`), for scrub previews.

The worker makes the sheets in the same ffmpeg run as the ladder (workers.pipeline.transcode),
for the whole source or for each part of a long one (domain/videos/chunks.py); they live in the
attempt's HLS folder under STORYBOARD_FOLDER, and STORYBOARD lists them all.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

STORYBOARD = "storyboard.vtt"
STORYBOARD_FOLDER = "storyboard"
SHEET = "sheet_%03d.jpg"
THUMB_WIDTH = 160
COLUMNS = 10
MAX_ROWS = 10
# About this many thumbnails over a whole video, at most: enough to scrub by, few enough to load.
MAX_THUMBS = 120
INTERVALS = (1, 2, 4, 6, 10, 12, 20, 30, 60)
_CUE_TARGET = re.compile(r"^(?P<uri>[^#\s]+)(?P<fragment>#xywh=\d+,\d+,\d+,\d+)$")


def storyboard_interval(duration: float, part_length: float | None = None) -> int:
    """Seconds between thumbnails: the shortest of INTERVALS giving at most MAX_THUMBS, and for a
    source in parts one that divides a part, so every part's thumbnails fall on the same grid."""
    fits = [i for i in INTERVALS if part_length is None or part_length % i == 0]
    return next((i for i in fits if duration / i <= MAX_THUMBS), fits[-1])


@dataclass(frozen=True)
class Grid:
    """The thumbnails of one span of the video (the whole, or a part): every `interval` seconds
    from `start` for `length` seconds, `width`×`height` each, COLUMNS to a row."""

    start: float
    length: float
    interval: int
    width: int
    height: int

    @property
    def count(self) -> int:
        return max(1, math.ceil(self.length / self.interval - 1e-6))

    @property
    def rows(self) -> int:
        """Rows per sheet: as many as the span needs, up to MAX_ROWS."""
        return min(MAX_ROWS, math.ceil(self.count / COLUMNS))

    def cues(self, folder: str) -> list[str]:
        """The span's cues, its sheets named within `folder` (relative to the VTT file)."""
        per_sheet = COLUMNS * self.rows
        end = self.start + self.length
        cues = []
        for n in range(self.count):
            sheet, place = divmod(n, per_sheet)
            row, column = divmod(place, COLUMNS)
            at = self.start + n * self.interval
            uri = posixpath.join(folder, SHEET % sheet)
            xywh = f"{column * self.width},{row * self.height},{self.width},{self.height}"
            cues.append(f"{_clock(at)} --> {_clock(min(end, at + self.interval))}\n{uri}#xywh={xywh}")
        return cues


def thumb_size(width: int, height: int) -> tuple[int, int]:
    """THUMB_WIDTH wide, the picture's shape, even."""
    return THUMB_WIDTH, max(2, 2 * round(THUMB_WIDTH * height / width / 2))


def storyboard_vtt(spans: list[tuple[str, Grid]]) -> str:
    """The WebVTT of every span's thumbnails, each `(its sheets' folder, its grid)`, in order."""
    return "WEBVTT\n\n" + "\n\n".join(cue for folder, grid in spans for cue in grid.cues(folder)) + "\n"


def is_storyboard(name: str) -> bool:
    """True for an attempt's storyboard (never an original, whatever its name)."""
    parts = name.split("/")
    return len(parts) == 5 and parts[0] == "videos" and parts[2] == "hls" and parts[4] == STORYBOARD


def storyboard_rewrite(text: str, uri: Callable[[str], str]) -> str:
    """The VTT with each cue's sheet replaced by uri(sheet), its #xywh fragment kept."""
    lines = []
    for line in text.splitlines():
        match = _CUE_TARGET.match(line)
        lines.append(f"{uri(match['uri'])}{match['fragment']}" if match else line)
    return "\n".join(lines) + "\n"


def _clock(seconds: float) -> str:
    millis = round(seconds * 1000)
    return f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}.{millis % 1000:03d}"
