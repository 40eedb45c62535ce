"""The video pipeline as plain functions: ladder, poster, remux, transcode to HLS, the MP4
renditions joined from it (the probe, which says what a file is, has a module of its own:
workers/probe.py).

No models, no storage, no Celery: each function reads local files and writes only the
destination paths it is given (removed again if it fails), so a test calls it with a real clip.
Every ffmpeg that reads an upload runs fenced (see workers.ffmpeg).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from domain.videos.hls import (
    AUDIO_VARIANT,
    MASTER,
    VARIANT_PLAYLIST,
    playlist_init_segments,
    playlist_uris,
)
from domain.videos.storyboard import COLUMNS, SHEET, STORYBOARD_FOLDER, Grid
from workers import ffmpeg
from workers.probe import OVER_LIMIT, UNDECODABLE, MediaRejected, OverLimit, Probe

CONVERSION_FAILED = "The video could not be converted: the file may be damaged."

RUNG_SIDES = (360, 480, 720, 1080)
POSTER_MAX_WIDTH = 1280
MAX_FPS = 60
KEYFRAME_SECONDS = 2
# x264's veryfast preset at this CRF matches the quality of MediaCMS's medium at CRF 23 (PSNR of
# the 720p rung against the source, docs/PERFORMANCE.md B11) for 3 % more CPU, where CRF 23 was
# 1 dB below it: a slower preset would cost far more.
CRF = 21
# A video's first keyframes, so its first segments are short: it plays as soon as the first half
# second is made, and the next segments follow as fast (then one every KEYFRAME_SECONDS).
FIRST_KEYFRAMES = (0.0, 0.5, 1.0)
# The HLS muxer's segment length: it cuts at every keyframe at least this far from the last one.
SHORTEST_SEGMENT_SECONDS = min(b - a for a, b in zip(FIRST_KEYFRAMES, FIRST_KEYFRAMES[1:]))
# Budget per second of source, scaled by its pixel rate against 1080p30: ~10× what a 2-core
# machine needs for the full ladder, so only a runaway (or a bomb) ever meets it.
TRANSCODE_CPU_PER_SECOND = 20
# The streams probe_file() describes, as ffmpeg names them: the first video that is not cover art
# (what the probe picks) and the first audio. Relative names, because PyAV's FFmpeg and the
# ffmpeg binary may be different versions that number a file's streams differently.
VIDEO, AUDIO = "0:V:0", "0:a:0"
# Camcorders still record interlaced; this touches only frames flagged so, progressive ones pass.
DEINTERLACE = "yadif=deint=interlaced"


@dataclass(frozen=True)
class Rung:
    label: str
    width: int
    height: int


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


@dataclass(frozen=True)
class Part:
    """`length` seconds of the source from `start`, encoded apart from the rest (a chunk of a long
    source). Its timestamps are the source's on the encode's timeline (TIMELINE_START), so parts
    encoded anywhere join into one; the part `with_audio` also carries the whole source's audio
    (encoded once, so the joins never click)."""

    start: float
    length: float
    with_audio: bool = False


def part_length(seconds: float) -> float:
    """Parts of about `seconds`, in whole segments, so every part starts where a segment does."""
    return max(KEYFRAME_SECONDS, round(seconds / KEYFRAME_SECONDS) * KEYFRAME_SECONDS)


# Where every encode's picture starts: above any encoder delay (x264's B-frames hold back a few
# frames: at 1 fps, seconds), so no first decode time is negative and shifted to zero, which would
# move the picture against the sound and one part against the next. The MP4s start at zero again.
TIMELINE_START = 10.0


def transcode(
    src: Path,
    probe: Probe,
    rungs: list[Rung],
    folder: Path,
    on_progress: Callable[[float], None] | None = None,
    *,
    part: Part | None = None,
    storyboard: Grid | None = None,
) -> None:
    """Every rung as HLS (H.264 High fMP4 segments, AAC once in an audio group) that grows in
    `folder` as ffmpeg works, from one run and a single decode.

    The decoded picture (rotated by ffmpeg's autorotate, deinterlaced, made constant-rate) is split
    once per rung; every rung has its keyframes at the same times (_keyframes), so segments start
    at the same times in every variant and a player can switch between them. Each variant's EVENT
    playlist (`<variant>/index.m3u8`) gains a segment as it is finished and ends with
    #EXT-X-ENDLIST when ffmpeg does; MASTER names them all. ffmpeg writes every file under a
    temporary name and renames it when complete, so a file with its final name can be published
    at once.
    on_progress gets 0.0-1.0 from ffmpeg's -progress output about ten times a second.

    With `part`, only that span of the source's picture is encoded (and its audio whole if the
    part says so), on the source's timeline (see Part); hls.playlist_join joins the parts.
    With `storyboard`, the same decoded picture also makes the span's thumbnail sheets in
    `folder/STORYBOARD_FOLDER` (domain/videos/storyboard.py).
    """
    if not rungs:
        raise ValueError("transcode needs at least one rung")
    fps = min(MAX_FPS, max(1.0, probe.fps))
    branches = len(rungs) + (storyboard is not None)
    graph = f"[{VIDEO}]{DEINTERLACE},fps={fps:.6f},split={branches}"
    graph += "".join(f"[s{i}]" for i in range(branches))
    for i, rung in enumerate(rungs):
        graph += f";[s{i}]scale={rung.width}:{rung.height},setsar=1,format=yuv420p[v{i}]"
    if storyboard:
        graph += f";[s{len(rungs)}]fps=1/{storyboard.interval},scale={storyboard.width}:{storyboard.height},setsar=1[sb]"
    span = (part.start, part.length) if part else (None, None)
    args = [*ffmpeg.input_args(src, probe.format_name, seek=span[0], read_seconds=span[1]), "-filter_complex", graph]
    audio = probe.has_audio and (part is None or part.with_audio)
    if part and audio:
        args += ffmpeg.input_args(src, probe.format_name)
    args += [arg for i in range(len(rungs)) for arg in ("-map", f"[v{i}]")]
    args += [
        "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast", "-crf", str(CRF),
        "-force_key_frames", _keyframes(first=part is None or part.start == 0),
        # Keyframes where forced only: the muxer starts a segment at each.
        "-g", str(round(fps * KEYFRAME_SECONDS * 2)), "-sc_threshold", "0",
    ]  # fmt: skip
    variants = []
    for i, rung in enumerate(rungs):
        # A capped CRF: without a maxrate the master playlist has no BANDWIDTH to choose by.
        rate = _max_kbps(rung)
        args += [f"-maxrate:v:{i}", f"{rate}k", f"-bufsize:v:{i}", f"{2 * rate}k"]
        variants.append(f"v:{i},agroup:aac,name:{rung.label}" if audio else f"v:{i},name:{rung.label}")
    if audio:
        args += ["-map", "1:a:0" if part else AUDIO, "-c:a", "aac", "-b:a", "128k"]
        variants.append(f"a:0,agroup:aac,name:{AUDIO_VARIANT},default:yes")
    offset = TIMELINE_START + (part.start if part else 0.0)
    # frag_discont: each fragment carries its own start time, so one part's segments follow
    # another's; bitexact: every part's init segment is the same bytes.
    args += ["-output_ts_offset", f"{offset:.6f}", "-fflags", "+bitexact", "-hls_segment_options", "movflags=+frag_discont"]
    args += [
        "-threads", str(settings.FFMPEG_THREADS), "-map_metadata", "-1", "-max_muxing_queue_size", "1024",
        "-var_stream_map", " ".join(variants),
        "-f", "hls", "-hls_time", str(SHORTEST_SEGMENT_SECONDS), "-hls_playlist_type", "event",
        "-hls_segment_type", "fmp4", "-hls_flags", "independent_segments+temp_file",
        "-master_pl_name", MASTER, "-hls_fmp4_init_filename", "init.mp4",
        "-hls_segment_filename", "%v/seg_%05d.m4s", f"%v/{VARIANT_PLAYLIST}",
    ]  # fmt: skip
    if storyboard:
        # One JPEG per thumbnail, laid on sheets after the run (_tile): a tile filter here would
        # hold its output back for a whole sheet, and ffmpeg would report no progress meanwhile.
        args += ["-map", "[sb]", "-c:v", "mjpeg", "-q:v", "5", "-fps_mode", "passthrough",
                 "-f", "image2", "-start_number", "0", f"{STORYBOARD_FOLDER}/{_THUMB}"]  # fmt: skip
    pixel_rate = probe.width * probe.height * fps / (1920 * 1080 * 30)
    length = part.length if part else probe.duration
    budget = 60 + length * TRANSCODE_CPU_PER_SECOND * max(1.0, pixel_rate) + (probe.duration if audio else 0)

    def on_seconds(seconds: float) -> None:
        # ffmpeg reports the time it has written without the -output_ts_offset (until its last
        # report, which adds it: min() keeps that at the end).
        if on_progress:
            on_progress(min(1.0, seconds / length))

    folder.mkdir()
    if storyboard:
        (folder / STORYBOARD_FOLDER).mkdir()
    # The HLS muxer names its files relative to where it runs: the playlists' URIs are relative.
    _run(args, [folder], timeout=budget, cpu_seconds=budget, on_seconds=on_seconds, cwd=folder)
    if storyboard:
        _tile(folder / STORYBOARD_FOLDER, storyboard, [folder])
    if on_progress:
        on_progress(1.0)


def _keyframes(*, first: bool) -> str:
    """Keyframes every KEYFRAME_SECONDS of the encode, after FIRST_KEYFRAMES if it starts the
    video. The HLS muxer cuts at every one (SHORTEST_SEGMENT_SECONDS): the segments start at the
    same times in every variant, and a part's join the first part's (parts start on the
    KEYFRAME_SECONDS grid). The audio variant's segments are SHORTEST_SEGMENT_SECONDS long."""
    if not first:
        return f"expr:gte(t,n_forced*{KEYFRAME_SECONDS})"
    # The grid's keyframe at k × KEYFRAME_SECONDS (k >= 1) follows every one of these but its 0.
    before = len(FIRST_KEYFRAMES) - 1
    expr = f"gte(t,(n_forced-{before})*{KEYFRAME_SECONDS})"
    for n, at in reversed(list(enumerate(FIRST_KEYFRAMES))):
        expr = f"if(eq(n_forced,{n}),gte(t,{at}),{expr})"
    return f"expr:{expr}"


_THUMB = "thumb_%05d.jpg"


def storyboard_from_rung(folder: Path, rung: Rung, grid: Grid) -> None:
    """The span's thumbnail sheets in `folder/STORYBOARD_FOLDER`, from the rung's finished HLS
    variant in `folder` (our own small encode, not the upload): the same frames transcode's
    storyboard would pick, for a run that could not make them (see workers.chunks.part_encode)."""
    thumbs = folder / STORYBOARD_FOLDER
    thumbs.mkdir()
    joined = thumbs / f"{rung.label}.mp4"
    _join_segments(folder / rung.label, joined)
    picture = f"fps=1/{grid.interval},scale={grid.width}:{grid.height},setsar=1"  # as transcode's storyboard
    args = [*ffmpeg.input_args(joined, "mov"), "-vf", picture, "-c:v", "mjpeg", "-q:v", "5",
            "-fps_mode", "passthrough", "-f", "image2", "-start_number", "0", f"file:{thumbs / _THUMB}"]  # fmt: skip
    try:
        _run(args, [thumbs], timeout=120 + grid.length, cpu_seconds=60 + grid.length / 10)
    finally:
        joined.unlink(missing_ok=True)
    _tile(thumbs, grid, [thumbs])


def _tile(thumbs: Path, grid: Grid, outputs: list[Path]) -> None:
    """The thumbnails (our own small JPEGs, not the upload) laid on the grid's sheets, in place."""
    args = ["-protocol_whitelist", "file", "-f", "image2", "-framerate", "1", "-start_number", "0",
            "-i", f"file:{thumbs / _THUMB}", "-vf", f"tile={COLUMNS}x{grid.rows}", "-c:v", "mjpeg", "-q:v", "5",
            "-fps_mode", "passthrough", "-f", "image2", "-start_number", "0", f"file:{thumbs / SHEET}"]  # fmt: skip
    _run(args, outputs, timeout=120, cpu_seconds=60)
    for thumb in thumbs.glob(_THUMB.replace("%05d", "*")):
        thumb.unlink()


def _max_kbps(rung: Rung) -> int:
    # 3 Mb/s at 720p, growing slower than the pixel count (x264 needs fewer bits per pixel for
    # larger pictures): ~1 Mb/s at 360p, ~5.5 Mb/s at 1080p.
    return max(200, round(3000 * (rung.width * rung.height / (1280 * 720)) ** 0.75))


def join_rendition(folder: Path, rung: Rung, dest: Path, *, audio: bool) -> None:
    """The rung's finished HLS variant (with the audio variant) as a faststart MP4: its init and
    media segments joined as they are, then remuxed, the picture starting at zero. The very same
    encode, never a second one."""
    inputs = [folder / rung.label] + ([folder / AUDIO_VARIANT] if audio else [])
    joined = [dest.with_name(f"{dest.stem}-{variant.name}.joined.mp4") for variant in inputs]
    try:
        for variant, path in zip(inputs, joined):
            _join_segments(variant, path)
        # -copyts: the inputs keep the timestamps they were encoded with (each would otherwise be
        # moved to start at zero on its own, shifting sound against picture by the encoders'
        # different delays); both then move together so the picture starts at zero.
        args = [arg for path in joined for arg in ["-copyts", *ffmpeg.input_args(path, "mov")]]
        args += ["-map", "0:v:0"] + (["-map", "1:a:0"] if audio else [])
        args += ["-c", "copy", "-output_ts_offset", f"{-TIMELINE_START:.6f}", "-movflags", "+faststart", "-f", "mp4", f"file:{dest}"]
        _run(args, [dest], timeout=120 + len(joined) * 60, cpu_seconds=60)
    finally:
        for path in joined:
            path.unlink(missing_ok=True)


def _join_segments(variant: Path, dest: Path) -> None:
    """A variant's media playlist as one fragmented MP4: its init segment, then every segment in
    order. Parts encoded apart each name an init segment of their own, the same bytes (bitexact):
    the first is kept, and one that differs is refused rather than joined into a broken file."""
    text = (variant / VARIANT_PLAYLIST).read_text()
    inits = playlist_init_segments(text)
    first_init: bytes | None = None
    with dest.open("wb") as out:
        for uri in playlist_uris(text):
            if uri in inits:
                init = (variant / uri).read_bytes()
                if first_init is not None:
                    if init != first_init:
                        raise ValueError(f"{variant.name}: init segment {uri} differs from the first part's")
                    continue
                first_init = init
            with (variant / uri).open("rb") as segment:
                shutil.copyfileobj(segment, out)


def transcode_mp4(
    src: Path,
    probe: Probe,
    rungs: list[Rung],
    dests: dict[str, Path],
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """Every rung as a faststart MP4 at dests[label], by way of transcode and join_rendition in a
    temporary folder, for callers that want no HLS (the self-check's canary)."""
    with tempfile.TemporaryDirectory(prefix="practika-hls-") as tmp:
        folder = Path(tmp) / "hls"
        transcode(src, probe, rungs, folder, on_progress)
        for rung in rungs:
            join_rendition(folder, rung, dests[rung.label], audio=probe.has_audio)


def _maps(probe: Probe) -> list[str]:
    return ["-map", VIDEO, "-map", AUDIO] if probe.has_audio else ["-map", VIDEO]


def _run(args: list[str], outputs: list[Path], **limits) -> None:
    """ffmpeg with args; on any failure the outputs (files or folders) are removed and the owner
    gets a sentence."""
    try:
        ffmpeg.run_ffmpeg(args, **limits)
    except BaseException as exc:
        for output in outputs:
            if output.is_dir():
                shutil.rmtree(output)
            else:
                output.unlink(missing_ok=True)
        if isinstance(exc, ffmpeg.FFmpegError):
            raise (OverLimit(OVER_LIMIT) if exc.over_limit else MediaRejected(CONVERSION_FAILED)) from exc
        raise
