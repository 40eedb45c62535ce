"""The video pipeline as plain functions: probe, ladder, poster, remux, transcode.

No models, no storage, no Celery: each function reads a local file and writes only the
destination paths it is given (removed again if it fails), so a test calls it with a real clip.
Every parse of the upload happens in a fenced child process (see workers.ffmpeg): the probe runs
PyAV in one, so probing needs no ffprobe and works with imageio-ffmpeg's ffmpeg alone.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
CONVERSION_FAILED = "The video could not be converted: the file may be damaged."
OVER_LIMIT = "Converting the video took more time or memory than allowed."

MIN_SIDE, MAX_SIDE, MAX_ASPECT = 16, 4096, 10
RUNG_SIDES = (360, 480, 720, 1080)
POSTER_MAX_WIDTH = 1280
MAX_FPS = 60
KEYFRAME_SECONDS = 2
# Budget per second of source, scaled by its pixel rate against 1080p30: ~10× what a 2-core
# machine needs for the full ladder, so only a runaway (or a bomb) ever meets it.
TRANSCODE_CPU_PER_SECOND = 20
PROBE_CPU_SECONDS, PROBE_TIMEOUT = 120, 300
IMAGE_FORMATS = ("gif", "image2", "apng", "webp")
PLAYLIST_MAGIC = (b"#EXTM3U", b"ffconcat")
# The streams probe() describes, as ffmpeg names them: the first video that is not cover art
# (what PyAV picks below) and the first audio. Relative names, because PyAV's FFmpeg and the
# ffmpeg binary may be different versions that number a file's streams differently.
VIDEO, AUDIO = "0:V:0", "0:a:0"
# Camcorders still record interlaced; this touches only frames flagged so, progressive ones pass.
DEINTERLACE = "yadif=deint=interlaced"


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


@dataclass(frozen=True)
class Rung:
    label: str
    width: int
    height: int


def probe(path: Path, *, max_seconds: float | None = None) -> Probe:
    """What the file really is, from its bytes; MediaRejected unless it is a video we can play.

    max_seconds defaults to settings.MAX_VIDEO_SECONDS.
    """
    if max_seconds is None:
        from django.conf import settings

        max_seconds = settings.MAX_VIDEO_SECONDS
    size = path.stat().st_size
    if size == 0:
        raise MediaRejected(EMPTY)
    with path.open("rb") as f:
        head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(PLAYLIST_MAGIC):
        raise MediaRejected(PLAYLIST)
    return _judge(_facts_fenced(path), max_seconds=max_seconds)


def _facts_fenced(path: Path) -> dict:
    lines: list[str] = []
    argv = [sys.executable, "-m", "workers.pipeline", str(path.resolve())]
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


def _judge(facts: dict, *, max_seconds: float) -> Probe:
    if "format" not in facts:
        raise MediaRejected(NOT_A_VIDEO)
    fmt = facts["format"].split(",")[0]
    if fmt.endswith("_pipe") or fmt in IMAGE_FORMATS:
        raise MediaRejected(STILL_IMAGE)
    if "video_codec" not in facts:
        raise MediaRejected(AUDIO_ONLY if facts["audio_codec"] else NO_VIDEO)
    if fmt not in ffmpeg.VIDEO_FORMATS:
        raise MediaRejected(NOT_A_VIDEO)
    header = facts["header_duration"] or 0.0
    if header > max_seconds:
        raise MediaRejected(TOO_LONG.format(limit=_spoken(max_seconds)))
    width, height, rotation = _display_size(facts)
    short, long = sorted((width, height))
    long = max(long, facts["width"], facts["height"])  # decoding happens at the coded size
    if short < MIN_SIDE or long > MAX_SIDE or long > MAX_ASPECT * short:
        raise MediaRejected(BAD_DIMENSIONS)
    if facts["rotation"] is None:
        raise MediaRejected(UNDECODABLE)
    scanned = facts["scanned_duration"]
    if facts["demux_error"] or scanned < header - max(0.5, 0.02 * header):
        raise MediaRejected(TRUNCATED)
    if facts["video_packets"] <= 1:
        raise MediaRejected(STILL_IMAGE)
    duration = scanned or header
    if duration > max_seconds:
        raise MediaRejected(TOO_LONG.format(limit=_spoken(max_seconds)))
    if duration <= 0:
        raise MediaRejected(UNDECODABLE)
    audio = facts["audio_codec"]
    return Probe(
        format_name=fmt,
        duration=round(duration, 3),
        width=width,
        height=height,
        rotation=rotation,
        video_codec=facts["video_codec"],
        pix_fmt=facts["pix_fmt"],
        fps=facts["fps"],
        has_audio=audio is not None,
        audio_codec=audio,
        browser_safe=(
            fmt == "mov"
            and facts["video_codec"] == "h264"
            and facts["pix_fmt"] in ("yuv420p", "yuvj420p")
            and audio in (None, "aac")
        ),
    )


def _display_size(facts: dict) -> tuple[int, int, int]:
    width, height = facts["width"], facts["height"]
    if facts["sar"] and facts["sar"] > 0:
        width = round(width * facts["sar"])
    rotation = round((facts["rotation"] or 0) / 90) * 90 % 360
    if rotation in (90, 270):
        width, height = height, width
    return width, height, rotation


def _spoken(seconds: float) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' * (n != 1)}"
    n = int(seconds) if seconds == int(seconds) else round(seconds, 1)
    return f"{n} second{'s' * (n != 1)}"


def ladder(probe: Probe) -> list[Rung]:
    """Standard sizes by the shorter side up to the source's, never upscaled, smallest first."""
    short = min(probe.width, probe.height)
    sides = [side for side in RUNG_SIDES if side <= short] or [_even(short)]
    return [_rung(probe, side) for side in sides]


def _rung(probe: Probe, side: int) -> Rung:
    short, long = sorted((probe.width, probe.height))
    other = max(2, 2 * round(long * side / short / 2))
    width, height = (other, side) if probe.width >= probe.height else (side, other)
    return Rung(label=f"{side}p", width=width, height=height)


def _even(n: int) -> int:
    return n - n % 2


def make_poster(src: Path, probe: Probe, dest: Path) -> None:
    """A JPEG of a representative frame, at most POSTER_MAX_WIDTH wide.

    It looks from 10 % into the video, skips dark frames (fades from black, lens caps), and lets
    ffmpeg's thumbnail filter pick the most typical of the next second or so; if everything there
    is dark it settles for the typical dark frame.
    """
    width = min(POSTER_MAX_WIDTH, _even(probe.width))
    height = max(2, 2 * round(width * probe.height / probe.width / 2))
    seek = probe.duration * 0.1
    for skip_dark in (True, False):
        chain = f"{DEINTERLACE},scale={width}:{height},setsar=1"
        if skip_dark:
            chain += ",signalstats,metadata=mode=select:key=lavfi.signalstats.YAVG:value=40:function=greater"
        chain += ",thumbnail=25,format=yuvj420p"
        args = [
            *ffmpeg.input_args(src, probe.format_name, seek=seek, read_seconds=5),
            "-map", VIDEO, "-vf", chain,
            "-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-f", "mjpeg", f"file:{dest}",
        ]  # fmt: skip
        _run(args, [dest], timeout=120, cpu_seconds=120)
        if dest.stat().st_size > 0:
            return
    dest.unlink(missing_ok=True)
    raise MediaRejected(UNDECODABLE)


def remux_faststart(src: Path, probe: Probe, dest: Path) -> Rung:
    """The browser-safe source as a faststart MP4, streams copied (rotation kept), in seconds."""
    if not probe.browser_safe:
        raise ValueError("remux_faststart needs a browser-safe source; transcode this one")
    args = [*ffmpeg.input_args(src, probe.format_name), *_maps(probe)]
    # -map_metadata -1 drops tags such as a phone's GPS position; rotation is side data and stays.
    args += ["-c", "copy", "-map_metadata", "-1", "-movflags", "+faststart", "-f", "mp4", f"file:{dest}"]
    _run(args, [dest], timeout=120 + probe.duration, cpu_seconds=60 + probe.duration / 10)
    short = min(probe.width, probe.height)
    return Rung(label=f"{short}p", width=probe.width, height=probe.height)


def transcode(
    src: Path,
    probe: Probe,
    rungs: list[Rung],
    dests: dict[str, Path],
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """Every rung as H.264 High/AAC faststart MP4 from one ffmpeg run and a single decode.

    The decoded picture (rotated by ffmpeg's autorotate, deinterlaced, made constant-rate) is split
    once per rung; on_progress gets 0.0-1.0 from ffmpeg's -progress output about twice a second.
    """
    if not rungs:
        raise ValueError("transcode needs at least one rung")
    fps = min(MAX_FPS, max(1.0, probe.fps))
    gop = max(1, round(fps * KEYFRAME_SECONDS))
    graph = f"[{VIDEO}]{DEINTERLACE},fps={fps:.6f},split={len(rungs)}"
    graph += "".join(f"[s{i}]" for i in range(len(rungs)))
    for i, rung in enumerate(rungs):
        graph += f";[s{i}]scale={rung.width}:{rung.height},setsar=1,format=yuv420p[v{i}]"
    args = [*ffmpeg.input_args(src, probe.format_name), "-filter_complex", graph]
    for i, rung in enumerate(rungs):
        args += ["-map", f"[v{i}]"]
        if probe.has_audio:
            args += ["-map", AUDIO, "-c:a", "aac", "-b:a", "128k"]
        args += [
            "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast", "-crf", "23",
            "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
            "-threads", str(ffmpeg.threads()), "-map_metadata", "-1", "-max_muxing_queue_size", "1024",
            "-movflags", "+faststart", "-f", "mp4", f"file:{dests[rung.label]}",
        ]  # fmt: skip
    pixel_rate = probe.width * probe.height * fps / (1920 * 1080 * 30)
    budget = 60 + probe.duration * TRANSCODE_CPU_PER_SECOND * max(1.0, pixel_rate)

    def on_seconds(seconds: float) -> None:
        if on_progress:
            on_progress(min(1.0, seconds / probe.duration))

    outputs = [dests[rung.label] for rung in rungs]
    _run(args, outputs, timeout=budget, cpu_seconds=budget, on_seconds=on_seconds)
    if on_progress:
        on_progress(1.0)


def _maps(probe: Probe) -> list[str]:
    return ["-map", VIDEO, "-map", AUDIO] if probe.has_audio else ["-map", VIDEO]


def _run(args: list[str], outputs: list[Path], **limits) -> None:
    """ffmpeg with args; on any failure the outputs are removed and the owner gets a sentence."""
    try:
        ffmpeg.run_ffmpeg(args, **limits)
    except BaseException as exc:
        for output in outputs:
            output.unlink(missing_ok=True)
        if isinstance(exc, ffmpeg.FFmpegError):
            raise (OverLimit(OVER_LIMIT) if exc.over_limit else MediaRejected(CONVERSION_FAILED)) from exc
        raise


def _facts(path: str) -> dict:
    """What PyAV reads from the file: run only in the fenced child (python -m workers.pipeline)."""
    import av

    allowed = [*ffmpeg.VIDEO_FORMATS, *IMAGE_FORMATS, "mp3", "wav", "flac", "aac", "aiff", "amr"]
    allowed += [name for name in av.formats_available if name.endswith("_pipe")]
    options = {"protocol_whitelist": "file", "format_whitelist": ",".join(allowed)}
    try:
        container = av.open(path, options=options)
    except (av.FFmpegError, OSError, ValueError):
        return {}
    with container:
        audio = next(iter(container.streams.audio), None)
        facts: dict = {
            "format": container.format.name,
            "header_duration": container.duration / 1_000_000 if container.duration else None,
            "audio_codec": audio.codec_context.codec.canonical_name if audio else None,
        }
        videos = _pictures(container)
        if not videos:
            return facts
        video = videos[0]
        codec = video.codec_context
        rate = video.average_rate or video.guessed_rate
        facts.update(
            video_codec=codec.codec.canonical_name,
            pix_fmt=codec.pix_fmt,
            width=codec.width,
            height=codec.height,
            sar=float(video.sample_aspect_ratio) if video.sample_aspect_ratio else None,
            fps=round(float(rate), 3) if rate else 30.0,
            rotation=None,
        )
        try:
            frame = next(container.decode(video))
            facts["rotation"] = frame.rotation or 0
        except (av.FFmpegError, StopIteration):
            return facts
    facts.update(_scan(av.open(path, options=options)))
    return facts


def _pictures(container) -> list:
    """The container's video streams that are not cover art."""
    import av

    return [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]


def _scan(container) -> dict:
    """Read every packet (no decoding) for the real duration: headers lie, or get cut off."""
    import av

    with container:
        video = _pictures(container)[0]
        ends: dict[int, int] = {}  # stream index -> latest pts + duration, in its time base
        video_packets, error = 0, False
        try:
            for packet in container.demux():
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None or packet.size == 0:
                    continue
                index = packet.stream.index
                ends[index] = max(ends.get(index, stamp), stamp + (packet.duration or 0))
                video_packets += index == video.index
        except av.FFmpegError:
            error = True
        start = (container.start_time or 0) / 1_000_000
        stream_ends = (float(ends[s.index] * s.time_base) for s in container.streams if s.index in ends)
        end = max(stream_ends, default=start)
    return {"scanned_duration": end - start, "video_packets": video_packets, "demux_error": error}


if __name__ == "__main__":
    print(json.dumps(_facts(sys.argv[1])))
