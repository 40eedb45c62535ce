"""What an upload really is, from its bytes, and whether it is a video we can play.

The bytes are read in a fenced child (workers/probe_child.py, run by workers.ffmpeg.run_limited),
so probing needs no ffprobe and works with imageio-ffmpeg's ffmpeg alone. This side judges the
facts the child reports: the refusal rules below are tried in order, and the first that applies
names the sentence the owner gets.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from django.conf import settings

from workers import ffmpeg

EMPTY = "The file is empty."
NOT_A_VIDEO = "This file isn't a video we can read: it is damaged, or not a video at all."
PLAYLIST = "This file is a playlist that points to other files, not a video."
STILL_IMAGE = "This file is a still image, not a video."
AUDIO_ONLY = "This file has only sound, no picture."
NO_VIDEO = "This file has no video in it."
BAD_DIMENSIONS = (
    "The video's picture size is not supported: each side must be 16 to 4096 pixels, "
    "and it can be at most 10 times as wide as it is tall, or the other way round."
)
TRUNCATED = "The video file is incomplete: it is shorter than its own header says. Please upload it again."
UNDECODABLE = "The video's picture could not be decoded: the file is damaged or uses a codec we can't read."
TOO_LONG = "The video is too long: the limit is {limit}."
OVER_LIMIT = "Converting the video took more time or memory than allowed."

MIN_SIDE, MAX_SIDE, MAX_ASPECT = 16, 4096, 10
PROBE_CPU_SECONDS, PROBE_TIMEOUT = 120, 300
PLAYLIST_MAGIC = (b"#EXTM3U", b"ffconcat")
# The shortfall against the header's duration that still counts as whole: muxers round.
TRUNCATION_SLACK_SECONDS, TRUNCATION_SLACK_FRACTION = 0.5, 0.02


class MediaRejected(Exception):
    """The upload can't become a video; str() is a sentence for its owner."""


class OverLimit(Exception):
    """A fenced child ran out of its time, CPU or memory: a busy or small machine, not a verdict
    on the file, so it may be tried again; str() is a sentence for its owner."""


@dataclass(frozen=True)
class Probe:
    format_name: str  # the demuxer's short name, passed to ffmpeg as -f
    duration: float
    width: int  # display size: sample aspect ratio and rotation applied
    height: int
    rotation: int  # 0, 90, 180 or 270: the display matrix's counterclockwise turn
    video_codec: str
    pix_fmt: str
    fps: float
    has_audio: bool
    audio_codec: str | None
    browser_safe: bool


def probe_file(path: Path, *, max_seconds: float | None = None) -> Probe:
    """What the file really is; MediaRejected unless it is a video we can play.

    max_seconds defaults to settings.MAX_VIDEO_SECONDS.
    """
    if max_seconds is None:
        max_seconds = settings.MAX_VIDEO_SECONDS
    if path.stat().st_size == 0:
        raise MediaRejected(EMPTY)
    with path.open("rb") as f:
        head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(PLAYLIST_MAGIC):
        raise MediaRejected(PLAYLIST)
    return judge(Facts(facts_fenced(path), max_seconds))


def facts_fenced(path: Path) -> dict:
    """What the child reports of the file ({} when it could not open it)."""
    lines: list[str] = []
    argv = [sys.executable, "-m", "workers.probe_child", str(path.resolve())]
    try:
        ffmpeg.run_limited(
            argv,
            timeout=PROBE_TIMEOUT,
            cpu_seconds=PROBE_CPU_SECONDS,
            on_line=lines.append,
            cwd=Path(__file__).resolve().parent.parent,
        )
    except ffmpeg.FFmpegError as exc:
        raise (OverLimit(OVER_LIMIT) if exc.over_limit else MediaRejected(NOT_A_VIDEO)) from exc
    return json.loads(lines[-1])


@dataclass(frozen=True)
class Facts:
    """The child's report, and what the rules work out from it. A rule may read what the rules
    before it made sure of: past "no video stream" there is one, so its size is known."""

    raw: dict
    max_seconds: float

    @cached_property
    def format(self) -> str:
        return self.raw["format"].split(",")[0]

    @property
    def has_video(self) -> bool:
        return "video_codec" in self.raw

    @property
    def header_duration(self) -> float:
        return self.raw["header_duration"] or 0.0

    @property
    def duration(self) -> float:
        return self.raw["scanned_duration"] or self.header_duration

    @cached_property
    def display(self) -> tuple[int, int, int]:
        """Width, height and rotation as shown: sample aspect ratio and rotation applied."""
        width, height = self.raw["width"], self.raw["height"]
        if self.raw["sar"] and self.raw["sar"] > 0:
            width = round(width * self.raw["sar"])
        rotation = round((self.raw["rotation"] or 0) / 90) * 90 % 360
        if rotation in (90, 270):
            width, height = height, width
        return width, height, rotation


def _bad_dimensions(facts: Facts) -> bool:
    short, long = sorted(facts.display[:2])
    long = max(long, facts.raw["width"], facts.raw["height"])  # decoding happens at the coded size
    return short < MIN_SIDE or long > MAX_SIDE or long > MAX_ASPECT * short


def _truncated(facts: Facts) -> bool:
    header = facts.header_duration
    slack = max(TRUNCATION_SLACK_SECONDS, TRUNCATION_SLACK_FRACTION * header)
    return facts.raw["demux_error"] or facts.raw["scanned_duration"] < header - slack


# Tried in order; the first that applies refuses the file with its sentence.
REFUSALS: tuple[tuple[Callable[[Facts], bool], str], ...] = (
    (lambda f: "format" not in f.raw, NOT_A_VIDEO),
    (lambda f: f.format.endswith("_pipe") or f.format in ffmpeg.IMAGE_FORMATS, STILL_IMAGE),
    (lambda f: not f.has_video and f.raw["audio_codec"], AUDIO_ONLY),
    (lambda f: not f.has_video, NO_VIDEO),
    (lambda f: f.format not in ffmpeg.VIDEO_FORMATS, NOT_A_VIDEO),
    (lambda f: f.header_duration > f.max_seconds, TOO_LONG),  # before reading a bomb's picture
    (_bad_dimensions, BAD_DIMENSIONS),
    (lambda f: f.raw["rotation"] is None, UNDECODABLE),  # not even its first frame decoded
    (_truncated, TRUNCATED),
    (lambda f: f.raw["video_packets"] <= 1, STILL_IMAGE),
    (lambda f: f.duration > f.max_seconds, TOO_LONG),  # the header may lie
    (lambda f: f.duration <= 0, UNDECODABLE),
)


def judge(facts: Facts) -> Probe:
    """The Probe of a file no refusal rule applies to; MediaRejected with the first one's sentence."""
    for applies, sentence in REFUSALS:
        if applies(facts):
            raise MediaRejected(sentence.format(limit=_spoken(facts.max_seconds)))
    width, height, rotation = facts.display
    raw, audio = facts.raw, facts.raw["audio_codec"]
    return Probe(
        format_name=facts.format,
        duration=round(facts.duration, 3),
        width=width,
        height=height,
        rotation=rotation,
        video_codec=raw["video_codec"],
        pix_fmt=raw["pix_fmt"],
        fps=raw["fps"],
        has_audio=audio is not None,
        audio_codec=audio,
        browser_safe=(
            facts.format == "mov"
            and raw["video_codec"] == "h264"
            and raw["pix_fmt"] in ("yuv420p", "yuvj420p")
            and audio in (None, "aac")
        ),
    )


def _spoken(seconds: float) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' * (n != 1)}"
    n = int(seconds) if seconds == int(seconds) else round(seconds, 1)
    return f"{n} second{'s' * (n != 1)}"
