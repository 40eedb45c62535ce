"""The pipeline with real ffmpeg on real clips: every kind we accept, every kind we refuse."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import av
import pytest

from domain.videos.hls import (
    AUDIO_VARIANT,
    MASTER,
    PART_FOLDER,
    VARIANT_PLAYLIST,
    playlist_uris,
)
from domain.videos.storyboard import (
    STORYBOARD_FOLDER,
    Grid,
    storyboard_interval,
    thumb_size,
)
from tests.workers.test_probe import cut, playlist, run_ffmpeg
from workers import pipeline, probe
from workers.ffmpeg import VIDEO_FORMATS
from workers.pipeline import Rung
from workers.probe import MediaRejected, Probe, probe_file
from workers.publisher import PartsPublisher

LONG_ENOUGH = 60.0

def top_level_boxes(path: Path) -> list[str]:
    boxes, data, at = [], path.read_bytes(), 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        if size == 1:
            size = struct.unpack(">Q", data[at + 8 : at + 16])[0]
        boxes.append(kind.decode("latin-1"))
        at += size if size else len(data)
    return boxes


def assert_plays_in_browsers(path: Path, rung: Rung, *, audio: bool, duration: float) -> None:
    """H.264 High 4:2:0 (+ AAC), faststart, the rung's size upright, keyframes every ~2 s."""
    boxes = top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        codec = video.codec_context
        assert (codec.name, codec.profile, codec.pix_fmt) == ("h264", "High", "yuv420p")
        assert (codec.width, codec.height) == (rung.width, rung.height)
        assert [a.codec_context.name for a in container.streams.audio] == (["aac"] if audio else [])
        assert container.duration / 1e6 == pytest.approx(duration, abs=0.25)
        keyframes = [float(p.pts * p.time_base) for p in container.demux(video) if p.is_keyframe]
    fps = float(video.average_rate)
    gaps = [b - a for a, b in zip(keyframes, keyframes[1:])]
    assert keyframes[0] == 0 and all(gap <= pipeline.KEYFRAME_SECONDS + 1.5 / fps for gap in gaps), keyframes
    assert probe_file(path, max_seconds=LONG_ENOUGH).rotation == 0


def assert_jpeg(path: Path, *, width: int, height: int) -> float:
    """The poster is one JPEG of width × height; returns its mean luma."""
    assert path.read_bytes()[:3] == b"\xff\xd8\xff"
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 1
    assert (frames[0].width, frames[0].height) == (width, height)
    return mean_luma(frames[0])


def mean_luma(frame: av.VideoFrame) -> float:
    gray = frame.reformat(format="gray")
    plane, width = gray.planes[0], gray.width
    data = bytes(plane)
    rows = (data[y * plane.line_size : y * plane.line_size + width] for y in range(gray.height))
    return sum(sum(row) for row in rows) / (width * gray.height)


GOOD = {
    # name: (make_clip options, display size, ladder labels, browser-safe)
    "clip.mp4": ({}, (320, 240), ["240p"], True),
    "phone.mov": ({"container": "mov", "rotate": 90, "width": 640, "height": 360}, (360, 640), ["360p"], True),
    "clip.webm": ({"vcodec": "libvpx-vp9", "acodec": "libopus", "container": "webm"}, (320, 240), ["240p"], False),
    "hevc.mkv": ({"vcodec": "libx265", "container": "matroska"}, (320, 240), ["240p"], False),
    "silent.mp4": ({"acodec": None}, (320, 240), ["240p"], True),
    "camera.avi": ({"vcodec": "mpeg4", "acodec": "libmp3lame", "container": "avi"}, (320, 240), ["240p"], False),
    "phone.3gp": ({"width": 176, "height": 144, "container": "3gp"}, (176, 144), ["144p"], True),
    "uhd.mp4": (
        {"width": 3840, "height": 2160, "seconds": 1, "fps": 2},
        (3840, 2160),
        ["360p", "480p", "720p", "1080p"],
        True,
    ),
}


@pytest.mark.parametrize("name", GOOD)
def test_every_common_kind_becomes_renditions_and_a_poster(clip, tmp_path, name):
    options, (width, height), labels, safe = GOOD[name]
    src = clip(name, **options)
    has_audio = options.get("acodec", "aac") is not None

    probe = probe_file(src, max_seconds=LONG_ENOUGH)
    assert (probe.width, probe.height) == (width, height)
    assert probe.duration == pytest.approx(options.get("seconds", 2), abs=0.1)
    assert probe.has_audio is has_audio
    assert probe.browser_safe is safe
    rungs = pipeline.ladder(probe)
    assert [r.label for r in rungs] == labels

    poster = tmp_path / "poster.jpg"
    pipeline.make_poster(src, probe, poster)
    poster_width = min(width, pipeline.POSTER_MAX_WIDTH)
    assert_jpeg(poster, width=poster_width, height=round(poster_width * height / width))

    progress: list[float] = []
    dests = {rung.label: tmp_path / f"out-{rung.label}.mp4" for rung in rungs}
    pipeline.transcode_mp4(src, probe, rungs, dests, on_progress=progress.append)
    for rung in rungs:
        assert_plays_in_browsers(dests[rung.label], rung, audio=has_audio, duration=probe.duration)
    assert progress == sorted(progress) and progress[-1] == 1.0 and all(0 <= p <= 1 for p in progress)
    # Only the destinations were written: no temp files left beside them.
    assert sorted(tmp_path.iterdir()) == sorted([src, poster, *dests.values()])


def video_packet_sizes(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [p.size for p in container.demux(video=0) if p.size]


@pytest.mark.parametrize("rotate", [0, 90])
def test_a_browser_safe_upload_is_remuxed_with_faststart_not_reencoded(clip, tmp_path, rotate):
    where = ("-metadata", "location=+48.8584+002.2945/")  # a phone's GPS tag
    src = clip("phone.mov", container="mov", rotate=rotate, width=640, height=360, extra=where)
    assert top_level_boxes(src).index("moov") > top_level_boxes(src).index("mdat")
    with av.open(str(src)) as container:
        assert "location" in container.metadata
    probe = probe_file(src, max_seconds=LONG_ENOUGH)

    dest = tmp_path / "remux.mp4"
    rung = pipeline.remux_faststart(src, probe, dest)

    assert rung == Rung("360p", probe.width, probe.height)
    boxes = top_level_boxes(dest)
    assert boxes.index("moov") < boxes.index("mdat")
    assert video_packet_sizes(dest) == video_packet_sizes(src)  # the very same H.264, copied
    again = probe_file(dest, max_seconds=LONG_ENOUGH)
    assert (again.width, again.height, again.rotation) == (probe.width, probe.height, rotate)
    assert again.browser_safe and again.has_audio
    with av.open(str(dest)) as container:
        assert "location" not in container.metadata  # where the owner lives stays private


def test_remux_refuses_a_source_browsers_cannot_play(clip, tmp_path):
    src = clip("clip.webm", vcodec="libvpx-vp9", acodec="libopus", container="webm")
    with pytest.raises(ValueError):
        pipeline.remux_faststart(src, probe_file(src, max_seconds=LONG_ENOUGH), tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_a_portrait_phone_video_stays_portrait_in_every_rendition(clip, tmp_path):
    src = clip("phone.mov", container="mov", rotate=270, width=854, height=480, seconds=1)
    probe = probe_file(src, max_seconds=LONG_ENOUGH)
    assert (probe.width, probe.height, probe.rotation) == (480, 854, 270)
    rungs = pipeline.ladder(probe)
    assert rungs == [Rung("360p", 360, 640), Rung("480p", 480, 854)]
    dests = {rung.label: tmp_path / f"{rung.label}.mp4" for rung in rungs}
    pipeline.transcode_mp4(src, probe, rungs, dests)
    for rung in rungs:
        assert_plays_in_browsers(dests[rung.label], rung, audio=True, duration=probe.duration)


def bright_corner(frame: av.VideoFrame) -> str:
    """Which quarter of the picture is brightest."""
    gray = frame.reformat(format="gray")
    plane, width, height = gray.planes[0], gray.width, gray.height
    data = bytes(plane)
    totals: dict[str, int] = {}
    for y in range(height):
        row = data[y * plane.line_size : y * plane.line_size + width]
        vertical = "top" if y < height // 2 else "bottom"
        totals[f"{vertical}-left"] = totals.get(f"{vertical}-left", 0) + sum(row[: width // 2])
        totals[f"{vertical}-right"] = totals.get(f"{vertical}-right", 0) + sum(row[width // 2 :])
    return max(totals, key=totals.get)


def first_frame(path: Path) -> av.VideoFrame:
    with av.open(str(path)) as container:
        return next(container.decode(video=0))


# The display matrix turns the picture counterclockwise: the top-left marker moves accordingly.
@pytest.mark.parametrize("rotate, corner", [(0, "top-left"), (90, "bottom-left"), (180, "bottom-right"), (270, "top-right")])
def test_renditions_and_poster_are_the_right_way_up(clip, tmp_path, rotate, corner):
    marker = "drawbox=w=iw:h=ih:color=black:t=fill,drawbox=w=iw/4:h=ih/4:color=white:t=fill"
    src = clip("phone.mov", container="mov", rotate=rotate, width=640, height=360, seconds=1, extra=("-vf", marker))
    # ffmpeg's own autorotate agrees on this file.
    run_ffmpeg("-i", str(src), "-frames:v", "1", "-c:v", "png", "-f", "image2", str(tmp_path / "reference.png"))
    assert bright_corner(first_frame(tmp_path / "reference.png")) == corner
    probe = probe_file(src, max_seconds=LONG_ENOUGH)
    assert probe.rotation == rotate

    pipeline.transcode_mp4(src, probe, pipeline.ladder(probe), {"360p": tmp_path / "360p.mp4"})
    pipeline.make_poster(src, probe, tmp_path / "poster.jpg")

    assert bright_corner(first_frame(tmp_path / "360p.mp4")) == corner
    assert bright_corner(first_frame(tmp_path / "poster.jpg")) == corner


def test_variable_frame_rate_becomes_constant(clip, tmp_path):
    # Dropping two frames in five, keeping the others' timestamps, gives uneven frame gaps.
    src = clip("vfr.mkv", container="matroska", seconds=2, extra=("-vf", "select='lt(mod(n,5),3)'", "-fps_mode", "vfr"))
    with av.open(str(src)) as container:
        stamps = [p.pts for p in container.demux(video=0) if p.size]
    assert len({b - a for a, b in zip(stamps, stamps[1:])}) > 1
    probe = probe_file(src, max_seconds=LONG_ENOUGH)
    dest = tmp_path / "out.mp4"
    pipeline.transcode_mp4(src, probe, pipeline.ladder(probe), {"240p": dest})

    with av.open(str(dest)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
        stamps = sorted(p.pts for p in packets)
    assert len({b - a for a, b in zip(stamps, stamps[1:])}) == 1
    assert len(stamps) == pytest.approx(probe.duration * probe.fps, abs=2)


def interlaced_fields(path: Path) -> tuple[int, int]:
    """(interlaced, progressive) frame counts by ffmpeg's idet filter."""
    log = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), "-vf", "idet", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    counts = dict(re.findall(r"(TFF|BFF|Progressive): *(\d+)", log.split("Multi frame detection:")[1]))
    return int(counts["TFF"]) + int(counts["BFF"]), int(counts["Progressive"])


def test_a_camcorder_interlaced_video_is_deinterlaced(clip, tmp_path):
    weave = ("-vf", "tinterlace=mode=interleave_top,setfield=tff", "-flags", "+ildct+ilme", "-x264-params", "tff=1")
    src = clip("camcorder.mkv", container="matroska", fps=50, extra=weave)
    interlaced, progressive = interlaced_fields(src)
    assert interlaced > 5 * progressive
    probe = probe_file(src, max_seconds=LONG_ENOUGH)
    dest = tmp_path / "out.mp4"
    pipeline.transcode_mp4(src, probe, pipeline.ladder(probe), {"240p": dest})

    interlaced, progressive = interlaced_fields(dest)
    assert progressive > 5 * interlaced


def test_the_poster_skips_a_black_opening(clip, tmp_path):
    black_start = "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='lt(t,1.5)'"
    src = clip("fade.mp4", seconds=3, extra=("-vf", black_start))
    probe = probe_file(src, max_seconds=LONG_ENOUGH)
    with av.open(str(src)) as container:
        first = mean_luma(next(container.decode(video=0)))
    assert first < 20

    pipeline.make_poster(src, probe, tmp_path / "poster.jpg")
    assert assert_jpeg(tmp_path / "poster.jpg", width=320, height=240) > 60


def test_an_all_dark_video_still_gets_a_poster(clip, tmp_path):
    src = clip("night.mp4", extra=("-vf", "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill"))
    pipeline.make_poster(src, probe_file(src, max_seconds=LONG_ENOUGH), tmp_path / "poster.jpg")
    assert assert_jpeg(tmp_path / "poster.jpg", width=320, height=240) < 20


def test_a_portrait_4k_poster_is_at_most_1280_wide(clip, tmp_path):
    src = clip("tall.mp4", width=2160, height=3840, seconds=1, fps=2, acodec=None)
    pipeline.make_poster(src, probe_file(src, max_seconds=LONG_ENOUGH), tmp_path / "poster.jpg")
    assert_jpeg(tmp_path / "poster.jpg", width=1280, height=2276)


def make_probe(width: int, height: int) -> Probe:
    return Probe("mov", 2.0, width, height, 0, "h264", "yuv420p", 25.0, True, "aac", True)


@pytest.mark.parametrize(
    "size, expected",
    [
        ((1920, 1080), [(640, 360), (854, 480), (1280, 720), (1920, 1080)]),
        ((1080, 1920), [(360, 640), (480, 854), (720, 1280), (1080, 1920)]),
        ((3840, 2160), [(640, 360), (854, 480), (1280, 720), (1920, 1080)]),
        ((1280, 720), [(640, 360), (854, 480), (1280, 720)]),
        ((640, 480), [(480, 360), (640, 480)]),
        ((1000, 700), [(514, 360), (686, 480)]),
        ((320, 240), [(320, 240)]),
        ((321, 241), [(320, 240)]),
        ((160, 1200), [(160, 1200)]),
    ],
)
def test_the_ladder_goes_by_the_shorter_side_and_never_upscales(size, expected):
    rungs = pipeline.ladder(make_probe(*size))
    assert [(r.width, r.height) for r in rungs] == expected
    assert [r.label for r in rungs] == [f"{min(w, h)}p" for w, h in expected]
    assert all(r.width % 2 == 0 and r.height % 2 == 0 for r in rungs)


# --- Files that point elsewhere -------------------------------------------------------------


def no_trace_of(secret: bytes, folder: Path, *, besides: Path | None = None) -> bool:
    return not any(secret in f.read_bytes() for f in folder.rglob("*") if f.is_file() and f != besides)


def forged_probes(real: Probe) -> list[Probe]:
    """The probe as if it had been fooled into calling the file each video format we accept."""
    return [replace(real, format_name=fmt) for fmt in VIDEO_FORMATS]


def every_step_refuses(src: Path, out: Path) -> None:
    probe = make_probe(320, 240)
    for forged in forged_probes(probe):
        with pytest.raises(MediaRejected):
            pipeline.transcode_mp4(src, forged, [Rung("240p", 320, 240)], {"240p": out / "240p.mp4"})
        with pytest.raises(MediaRejected):
            pipeline.make_poster(src, forged, out / "poster.jpg")
        with pytest.raises(MediaRejected):
            pipeline.remux_faststart(src, forged, out / "remux.mp4")
    for demuxer in ("hls", "concat", "image2", "subfile", "dash"):
        with pytest.raises(ValueError):
            forged = replace(probe, format_name=demuxer)
            pipeline.transcode_mp4(src, forged, [Rung("240p", 320, 240)], {"240p": out / "x.mp4"})
    assert list(out.iterdir()) == []


def test_a_playlist_to_another_local_video_reads_nothing(clip, tmp_path):
    elsewhere = tmp_path / "someone-elses"
    elsewhere.mkdir()
    secret = elsewhere / "private.ts"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10", "-t", "1", "-c:v", "libx264", "-f", "mpegts", str(secret))
    payload = secret.read_bytes()[400:432]
    upload = playlist(tmp_path / "upload.mp4", str(secret))

    # The attack is real: ffmpeg left to itself copies the other file into its output.
    run_ffmpeg("-i", str(upload), "-c", "copy", "-f", "mpegts", str(tmp_path / "control.ts"))
    assert payload in (tmp_path / "control.ts").read_bytes()
    (tmp_path / "control.ts").unlink()

    # Named .m3u8, PyAV's newer FFmpeg would follow it too.
    for named in (upload, playlist(tmp_path / "upload.m3u8", str(secret))):
        with pytest.raises(MediaRejected, match=probe.PLAYLIST):
            probe_file(named, max_seconds=LONG_ENOUGH)
        # Behind the friendly sniff, the fenced probe's demuxer allowlist refuses it on its own...
        assert probe.facts_fenced(named) == {}
        # ...and so does ffmpeg, whatever format a fooled probe might have claimed.
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        every_step_refuses(named, out)
    assert no_trace_of(payload, tmp_path, besides=secret)


def test_a_playlist_to_etc_passwd_reads_nothing(ffmpeg, tmp_path):
    passwd = Path("/etc/passwd").read_bytes()
    assert passwd.startswith(b"root:")
    for target in ("file:///etc/passwd", "/etc/passwd"):
        upload = playlist(tmp_path / "upload.mp4", target)
        with pytest.raises(MediaRejected, match=probe.PLAYLIST):
            probe_file(upload, max_seconds=LONG_ENOUGH)
        assert probe.facts_fenced(upload) == {}
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        every_step_refuses(upload, out)
    assert no_trace_of(passwd[:16], tmp_path)


# --- Failures clean up --------------------------------------------------------------------


def test_a_failed_transcode_leaves_no_files_and_says_why(clip, tmp_path):
    src = clip("clip.mp4")
    probe = probe_file(src, max_seconds=LONG_ENOUGH)
    cut(src, 0.3)  # damaged after probing: ffmpeg now fails part-way
    rungs = [Rung("240p", 320, 240), Rung("120p", 160, 120)]
    dests = {rung.label: tmp_path / f"{rung.label}.mp4" for rung in rungs}

    with pytest.raises(MediaRejected, match=pipeline.CONVERSION_FAILED):
        pipeline.transcode_mp4(src, probe, rungs, dests)

    assert sorted(tmp_path.iterdir()) == [src]


def test_an_exception_from_the_progress_callback_stops_ffmpeg_and_cleans_up(clip, tmp_path):
    src = clip("clip.mp4", seconds=3)
    probe = probe_file(src, max_seconds=LONG_ENOUGH)

    def fail(progress: float) -> None:
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        pipeline.transcode_mp4(src, probe, pipeline.ladder(probe), {"240p": tmp_path / "out.mp4"}, on_progress=fail)
    assert sorted(tmp_path.iterdir()) == [src]


# --- HLS: one run, every rung, segments aligned -----------------------------------------------


def ffprobe(*args: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def counted(path: Path) -> tuple[int, float]:
    """(video frames decoded, container duration) by ffprobe."""
    found = ffprobe("-count_frames", "-select_streams", "v:0", "-show_entries",
                    "stream=nb_read_frames:format=duration", str(path))  # fmt: skip
    return int(found["streams"][0]["nb_read_frames"]), float(found["format"]["duration"])


def segment_starts(variant: Path, tmp_path: Path) -> list[tuple[float, bool]]:
    """(time, is a keyframe) of the first video packet of each media segment, by ffprobe on the
    init segment joined with that segment, as a player reads it."""
    init, *segments = playlist_uris((variant / VARIANT_PLAYLIST).read_text())
    starts = []
    for segment in segments:
        joined = tmp_path / "one-segment.mp4"
        joined.write_bytes((variant / init).read_bytes() + (variant / segment).read_bytes())
        first = ffprobe("-select_streams", "v:0", "-read_intervals", "%+#1", "-show_entries",
                        "packet=pts_time,flags", str(joined))["packets"][0]  # fmt: skip
        starts.append((round(float(first["pts_time"]), 3), first["flags"].startswith("K")))
    return starts


@pytest.fixture
def ffmpeg_runs(ffmpeg, tmp_path, monkeypatch):
    """The real ffmpeg behind a script that writes down each run's arguments; returns a function
    that reads them."""
    folder = tmp_path / "recording-bin"
    folder.mkdir()
    script = folder / "ffmpeg"
    script.write_text(f'#!/bin/sh\nprintf "%s\\0" "$@" > "{folder}/run-$$"\nexec "{ffmpeg}" "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return lambda: [run.read_text().split("\0") for run in sorted(folder.glob("run-*"))]


SOURCES = {
    "vp9.webm": {"vcodec": "libvpx-vp9", "acodec": "libopus", "container": "webm"},
    "h264.mp4": {},
}


@pytest.mark.parametrize("name", SOURCES)
def test_one_run_makes_hls_of_every_rung_with_aligned_segments_and_mp4s_from_them(clip, tmp_path, ffmpeg_runs, name):
    src = clip(name, seconds=5, width=854, height=480, **SOURCES[name])
    probe = probe_file(src, max_seconds=LONG_ENOUGH)
    rungs = pipeline.ladder(probe)
    assert [rung.label for rung in rungs] == ["360p", "480p"]
    folder = tmp_path / "hls"
    progress: list[float] = []

    pipeline.transcode(src, probe, rungs, folder, on_progress=progress.append)

    master = (folder / MASTER).read_text()
    assert [uri for uri in playlist_uris(master)] == [f"{AUDIO_VARIANT}/{VARIANT_PLAYLIST}"] + [
        f"{rung.label}/{VARIANT_PLAYLIST}" for rung in rungs
    ]
    variants = re.findall(r"#EXT-X-STREAM-INF:(.*)\n(.*)", master)
    assert [uri for _, uri in variants] == [f"{rung.label}/{VARIANT_PLAYLIST}" for rung in rungs]
    for (attributes, _), rung in zip(variants, rungs):
        assert int(re.search(r"BANDWIDTH=(\d+)", attributes).group(1)) > 0
        assert f"RESOLUTION={rung.width}x{rung.height}" in attributes and 'AUDIO="group_aac"' in attributes
    starts = {}
    for rung in rungs:
        playlist = (folder / rung.label / VARIANT_PLAYLIST).read_text()
        assert "#EXT-X-PLAYLIST-TYPE:EVENT" in playlist and playlist.rstrip().endswith("#EXT-X-ENDLIST")
        assert '#EXT-X-MAP:URI="' in playlist
        starts[rung.label] = segment_starts(folder / rung.label, tmp_path)
    assert starts["360p"] == starts["480p"], "a player can switch at every segment"
    times = [time for time, _ in starts["360p"]]
    assert [round(b - a, 3) for a, b in zip(times, times[1:])] == [0.52, 0.48, 1.0, 2.0], (
        "a segment every 2 s after the short first ones (at 25 fps, the frame at 0.52 s starts the second)"
    )
    assert all(keyframe for time, keyframe in starts["360p"] + starts["480p"])
    assert progress == sorted(progress) and progress[-1] == 1.0

    frames, duration = counted(src)
    for rung in rungs:
        dest = tmp_path / f"{rung.label}.mp4"
        pipeline.join_rendition(folder, rung, dest, audio=True)
        assert_plays_in_browsers(dest, rung, audio=True, duration=probe.duration)
        joined_frames, joined_duration = counted(dest)
        assert joined_frames == frames
        assert joined_duration == pytest.approx(duration, abs=1 / probe.fps)
    reading_the_source = [run for run in ffmpeg_runs() if f"file:{src}" in run]
    assert len(reading_the_source) == 1, "the source is decoded once; the MP4s are the same encode"


def test_a_silent_source_makes_hls_without_an_audio_group(clip, tmp_path):
    src = clip("silent.mp4", seconds=3, acodec=None)
    probe = probe_file(src, max_seconds=LONG_ENOUGH)
    rung = pipeline.ladder(probe)[0]
    pipeline.transcode(src, probe, [rung], tmp_path / "hls")
    assert playlist_uris((tmp_path / "hls" / MASTER).read_text()) == [f"{rung.label}/{VARIANT_PLAYLIST}"]
    pipeline.join_rendition(tmp_path / "hls", rung, tmp_path / "out.mp4", audio=False)
    assert_plays_in_browsers(tmp_path / "out.mp4", rung, audio=False, duration=probe.duration)


# --- a long source in parts: joined without re-encoding, frame-exact ---------------------------


def packet_times(path: Path, stream: str) -> list[float]:
    found = ffprobe("-select_streams", stream, "-show_entries", "packet=pts_time", str(path))["packets"]
    return sorted(float(packet["pts_time"]) for packet in found)


def encode_in_parts(src: Path, probe: Probe, rungs: list[Rung], folder: Path, length: float) -> int:
    """Every part encoded by a run of its own, in a folder of its own as a worker would, then
    laid out together as the coordinator lays them out; the number of parts."""
    starts = [index * length for index in range(int(-(-probe.duration // length)))]
    folder.mkdir(parents=True)
    for index, start in enumerate(starts):
        part = pipeline.Part(start, min(length, probe.duration - start), with_audio=index == 0)
        own = folder.parent / f"part-{index}"
        pipeline.transcode(src, probe, rungs, own, part=part)
        for variant in (path for path in own.iterdir() if path.is_dir()):
            (folder / variant.name).mkdir(exist_ok=True)
            variant.rename(folder / variant.name / PART_FOLDER.format(index=index))
    return len(starts)


@pytest.mark.parametrize("name", SOURCES)
def test_parts_encoded_apart_join_into_the_whole_frame_exact_without_drift(clip, tmp_path, name):
    src = clip(name, seconds=10, width=640, height=360, **SOURCES[name])
    probe = probe_file(src, max_seconds=LONG_ENOUGH)
    rungs = pipeline.ladder(probe)
    whole = tmp_path / "whole"
    pipeline.transcode(src, probe, rungs, whole)
    parts = tmp_path / "parts" / "hls"
    count = encode_in_parts(src, probe, rungs, parts, length=4)
    assert count == 3

    publisher_store: dict[str, bytes] = {}
    published = PartsPublisher(
        parts, lambda name, content: publisher_store.__setitem__(name, content.read()),
        parts=count, master=parts.parent / "part-0" / MASTER,
    )  # fmt: skip
    assert published.publish(), "the master names the joined playlists"
    for name in [f"{rung.label}/{VARIANT_PLAYLIST}" for rung in rungs] + [f"{AUDIO_VARIANT}/{VARIANT_PLAYLIST}"]:
        assert publisher_store[name].decode().rstrip().endswith("#EXT-X-ENDLIST")
        assert (parts / name).read_bytes() == publisher_store[name]
    master = publisher_store[MASTER].decode()
    assert playlist_uris(master) == [f"{AUDIO_VARIANT}/{VARIANT_PLAYLIST}"] + [f"{r.label}/{VARIANT_PLAYLIST}" for r in rungs]
    times = [time for time, _ in segment_starts_joined(parts / rungs[0].label, tmp_path)]
    assert [round(b - a, 3) for a, b in zip(times, times[1:])] == [0.52, 0.48, 1.0] + [2.0] * 3, "2 s segments across the joins"

    frames, duration = counted(src)
    for rung in rungs:
        joined, reference = tmp_path / f"{rung.label}-parts.mp4", tmp_path / f"{rung.label}-whole.mp4"
        pipeline.join_rendition(parts, rung, joined, audio=True)
        pipeline.join_rendition(whole, rung, reference, audio=True)
        assert_plays_in_browsers(joined, rung, audio=True, duration=probe.duration)
        joined_frames, joined_duration = counted(joined)
        assert joined_frames == frames, "no frame lost or doubled at a join"
        assert joined_duration == pytest.approx(duration, abs=1 / probe.fps)
        video = packet_times(joined, "v:0")
        steps = {round(b - a, 4) for a, b in zip(video, video[1:])}
        assert steps == {round(1 / probe.fps, 4)}, "frames evenly spaced across every join"
        # Sound against picture as in the encode of the whole: within one frame.
        lead = packet_times(joined, "a:0")[0] - video[0]
        assert lead == pytest.approx(packet_times(reference, "a:0")[0] - packet_times(reference, "v:0")[0], abs=1 / probe.fps)
        audio_joined, audio_whole = packet_times(joined, "a:0"), packet_times(reference, "a:0")
        assert len(audio_joined) == len(audio_whole), "the sound is one encode, whole"


def segment_starts_joined(variant: Path, tmp_path: Path) -> list[tuple[float, bool]]:
    text = (variant / VARIANT_PLAYLIST).read_text()
    starts = []
    init = None
    for uri in playlist_uris(text):
        if uri.endswith("init.mp4") or "init_" in uri:
            init = variant / uri
            continue
        joined = tmp_path / "one-segment.mp4"
        joined.write_bytes(init.read_bytes() + (variant / uri).read_bytes())
        first = ffprobe("-select_streams", "v:0", "-read_intervals", "%+#1", "-show_entries",
                        "packet=pts_time,flags", str(joined))["packets"][0]  # fmt: skip
        starts.append((round(float(first["pts_time"]), 3), first["flags"].startswith("K")))
    return starts


def test_the_storyboard_comes_from_the_same_decode_as_the_ladder(clip, tmp_path, ffmpeg_runs):
    src = clip("portrait.webm", seconds=5, width=360, height=640, **SOURCES["vp9.webm"])
    probe = probe_file(src, max_seconds=LONG_ENOUGH)
    grid = Grid(0.0, probe.duration, storyboard_interval(probe.duration), *thumb_size(probe.width, probe.height))
    assert (grid.interval, grid.width, grid.height, grid.count, grid.rows) == (1, 160, 284, 6, 1)
    pipeline.transcode(src, probe, pipeline.ladder(probe), tmp_path / "hls", storyboard=grid)
    sheets = sorted((tmp_path / "hls" / STORYBOARD_FOLDER).iterdir())
    assert [sheet.name for sheet in sheets] == ["sheet_000.jpg"]
    with av.open(str(sheets[0])) as image:
        frame = next(image.decode(video=0))
    assert (frame.width, frame.height) == (1600, 284)
    gray = frame.reformat(format="gray")
    plane = bytes(gray.planes[0])
    stride = gray.planes[0].line_size

    def mean(x0: int, x1: int) -> float:
        cells = [plane[y * stride + x] for y in range(0, 284, 4) for x in range(x0, x1, 4)]
        return sum(cells) / len(cells)

    assert mean(0, 6 * 160) > 30 and mean(6 * 160, 1600) < 5, "six thumbnails, then nothing"
    assert len([run for run in ffmpeg_runs() if f"file:{src}" in run]) == 1, "no second decode"


def sheet_cells(sheet: Path, grid: Grid) -> list[bytes]:
    """The thumbnails on a sheet's first row, each as its gray pixels."""
    with av.open(str(sheet)) as image:
        gray = next(image.decode(video=0)).reformat(format="gray")
    plane, stride = bytes(gray.planes[0]), gray.planes[0].line_size
    return [b"".join(plane[y * stride + i * grid.width : y * stride + (i + 1) * grid.width] for y in range(grid.height))
            for i in range(grid.count)]  # fmt: skip


def test_thumbnails_from_a_parts_smallest_rung_are_the_frames_its_own_run_picks(clip, tmp_path):
    src = clip("long.mp4", seconds=7, width=640, height=360)
    probe = probe_file(src, max_seconds=LONG_ENOUGH)
    part, rungs = pipeline.Part(0.0, 6.0, with_audio=True), pipeline.ladder(probe)
    size = thumb_size(probe.width, probe.height)
    # A thumbnail every 3 s, which does not divide the 10 s where the rung starts on the timeline
    # (the fps filter counts from the first frame); which moments they show, a thumbnail of every
    # second tells.
    each_second, every_third = Grid(0.0, 6.0, 1, *size), Grid(0.0, 6.0, 3, *size)
    pipeline.transcode(src, probe, rungs, tmp_path / "seconds", part=part, storyboard=each_second)
    pipeline.transcode(src, probe, rungs, tmp_path / "inline", part=part, storyboard=every_third)
    pipeline.transcode(src, probe, rungs, tmp_path / "rung", part=part)
    pipeline.storyboard_from_rung(tmp_path / "rung", rungs[0], every_third)
    assert sorted(path.name for path in (tmp_path / "rung" / STORYBOARD_FOLDER).iterdir()) == ["sheet_000.jpg"]
    reference = sheet_cells(tmp_path / "seconds" / STORYBOARD_FOLDER / "sheet_000.jpg", each_second)

    def shown(run: str) -> list[int]:
        cells = sheet_cells(tmp_path / run / STORYBOARD_FOLDER / "sheet_000.jpg", every_third)
        distance = lambda a, b: sum(abs(x - y) for x, y in zip(a, b))  # noqa: E731
        return [min(range(len(reference)), key=lambda second: distance(cell, reference[second])) for cell in cells]

    assert shown("rung") == shown("inline")
