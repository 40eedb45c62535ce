"""The pipeline with real ffmpeg on real clips: every kind we accept, every kind we refuse."""

from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import av
import pytest

from workers import pipeline
from workers.pipeline import MediaRejected, Probe, Rung

LONG_ENOUGH = 60.0


def run_ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


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
    assert pipeline.probe(path, max_seconds=LONG_ENOUGH).rotation == 0


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

    probe = pipeline.probe(src, max_seconds=LONG_ENOUGH)
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
    pipeline.transcode(src, probe, rungs, dests, on_progress=progress.append)
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
    probe = pipeline.probe(src, max_seconds=LONG_ENOUGH)

    dest = tmp_path / "remux.mp4"
    rung = pipeline.remux_faststart(src, probe, dest)

    assert rung == Rung("360p", probe.width, probe.height)
    boxes = top_level_boxes(dest)
    assert boxes.index("moov") < boxes.index("mdat")
    assert video_packet_sizes(dest) == video_packet_sizes(src)  # the very same H.264, copied
    again = pipeline.probe(dest, max_seconds=LONG_ENOUGH)
    assert (again.width, again.height, again.rotation) == (probe.width, probe.height, rotate)
    assert again.browser_safe and again.has_audio
    with av.open(str(dest)) as container:
        assert "location" not in container.metadata  # where the owner lives stays private


def test_remux_refuses_a_source_browsers_cannot_play(clip, tmp_path):
    src = clip("clip.webm", vcodec="libvpx-vp9", acodec="libopus", container="webm")
    with pytest.raises(ValueError):
        pipeline.remux_faststart(src, pipeline.probe(src, max_seconds=LONG_ENOUGH), tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_a_portrait_phone_video_stays_portrait_in_every_rendition(clip, tmp_path):
    src = clip("phone.mov", container="mov", rotate=270, width=854, height=480, seconds=1)
    probe = pipeline.probe(src, max_seconds=LONG_ENOUGH)
    assert (probe.width, probe.height, probe.rotation) == (480, 854, 270)
    rungs = pipeline.ladder(probe)
    assert rungs == [Rung("360p", 360, 640), Rung("480p", 480, 854)]
    dests = {rung.label: tmp_path / f"{rung.label}.mp4" for rung in rungs}
    pipeline.transcode(src, probe, rungs, dests)
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
    probe = pipeline.probe(src, max_seconds=LONG_ENOUGH)
    assert probe.rotation == rotate

    pipeline.transcode(src, probe, pipeline.ladder(probe), {"360p": tmp_path / "360p.mp4"})
    pipeline.make_poster(src, probe, tmp_path / "poster.jpg")

    assert bright_corner(first_frame(tmp_path / "360p.mp4")) == corner
    assert bright_corner(first_frame(tmp_path / "poster.jpg")) == corner


def test_variable_frame_rate_becomes_constant(clip, tmp_path):
    # Dropping two frames in five, keeping the others' timestamps, gives uneven frame gaps.
    src = clip("vfr.mkv", container="matroska", seconds=2, extra=("-vf", "select='lt(mod(n,5),3)'", "-fps_mode", "vfr"))
    with av.open(str(src)) as container:
        stamps = [p.pts for p in container.demux(video=0) if p.size]
    assert len({b - a for a, b in zip(stamps, stamps[1:])}) > 1
    probe = pipeline.probe(src, max_seconds=LONG_ENOUGH)
    dest = tmp_path / "out.mp4"
    pipeline.transcode(src, probe, pipeline.ladder(probe), {"240p": dest})

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
    probe = pipeline.probe(src, max_seconds=LONG_ENOUGH)
    dest = tmp_path / "out.mp4"
    pipeline.transcode(src, probe, pipeline.ladder(probe), {"240p": dest})

    interlaced, progressive = interlaced_fields(dest)
    assert progressive > 5 * interlaced


def test_the_poster_skips_a_black_opening(clip, tmp_path):
    black_start = "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='lt(t,1.5)'"
    src = clip("fade.mp4", seconds=3, extra=("-vf", black_start))
    probe = pipeline.probe(src, max_seconds=LONG_ENOUGH)
    with av.open(str(src)) as container:
        first = mean_luma(next(container.decode(video=0)))
    assert first < 20

    pipeline.make_poster(src, probe, tmp_path / "poster.jpg")
    assert assert_jpeg(tmp_path / "poster.jpg", width=320, height=240) > 60


def test_an_all_dark_video_still_gets_a_poster(clip, tmp_path):
    src = clip("night.mp4", extra=("-vf", "drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill"))
    pipeline.make_poster(src, pipeline.probe(src, max_seconds=LONG_ENOUGH), tmp_path / "poster.jpg")
    assert assert_jpeg(tmp_path / "poster.jpg", width=320, height=240) < 20


def test_a_portrait_4k_poster_is_at_most_1280_wide(clip, tmp_path):
    src = clip("tall.mp4", width=2160, height=3840, seconds=1, fps=2, acodec=None)
    pipeline.make_poster(src, pipeline.probe(src, max_seconds=LONG_ENOUGH), tmp_path / "poster.jpg")
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


# --- What we refuse -------------------------------------------------------------------------


def text(path: Path) -> Path:
    path.write_text("This is my homework, not a video.\n" * 50)
    return path


def empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def cut(path: Path, fraction: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def audio(path: Path, fmt: str, codec: str) -> Path:
    run_ffmpeg("-f", "lavfi", "-i", "sine", "-t", "2", "-c:a", codec, "-f", fmt, str(path))
    return path


def cover_art(path: Path) -> Path:
    """A song with its album cover: a video stream, but only a picture."""
    run_ffmpeg(
        "-f", "lavfi", "-i", "sine", "-f", "lavfi", "-i", "testsrc2=size=320x240", "-t", "2", "-map", "0", "-map", "1",
        "-frames:v", "1", "-c:a", "aac", "-c:v", "mjpeg", "-disposition:v:0", "attached_pic", "-f", "mp4", str(path),
    )  # fmt: skip
    return path


def image(path: Path, codec: str) -> Path:
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", "-c:v", codec, "-f", "image2pipe", str(path))
    return path


def garbled(path: Path) -> Path:
    """The container intact, the compressed picture replaced by noise."""
    data = bytearray(path.read_bytes())
    at = data.find(b"mdat") - 4
    size = struct.unpack(">I", data[at : at + 4])[0]
    data[at + 8 : at + size] = bytes((i * 7919) % 251 for i in range(size - 8))
    path.write_bytes(data)
    return path


def ten_hour_bomb(path: Path) -> Path:
    """Three frames five hours apart: 7 KB that decode to ten hours of 30 fps video."""
    run_ffmpeg(
        "-f", "lavfi", "-t", "3", "-i", "testsrc2=size=64x64:rate=1", "-vf", "setpts=PTS*18000",
        "-c:v", "libx264", "-preset", "ultrafast", "-fps_mode", "passthrough", str(path),
    )  # fmt: skip
    return path


def lying_header(path: Path) -> Path:
    """The same bomb with the Matroska header's Duration rewritten to claim two seconds."""
    ten_hour_bomb(path)
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89\x88")  # Duration element, 8-byte float, in milliseconds
    data[at + 3 : at + 11] = struct.pack(">d", 2000.0)
    path.write_bytes(data)
    return path


def playlist(path: Path, target: str) -> Path:
    path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{target}\n#EXT-X-ENDLIST\n")
    return path


def concat_list(path: Path) -> Path:
    path.write_text("ffconcat version 1.0\nfile '/etc/passwd'\n")
    return path


TOO_LONG_FOR_3_HOURS = pipeline.TOO_LONG.format(limit="3 hours")
BAD = {
    "text named .mp4": (lambda clip, p: text(p), pipeline.NOT_A_VIDEO),
    "zero bytes": (lambda clip, p: empty(p), pipeline.EMPTY),
    "MP4 cut in the middle": (lambda clip, p: cut(clip(p.name, extra=("-movflags", "+faststart")), 0.6), pipeline.TRUNCATED),
    "MP4 cut before its index": (lambda clip, p: cut(clip(p.name), 0.6), pipeline.NOT_A_VIDEO),
    "garbled picture": (lambda clip, p: garbled(clip(p.name, acodec=None)), pipeline.UNDECODABLE),
    "audio only, MP4": (lambda clip, p: audio(p, "mp4", "aac"), pipeline.AUDIO_ONLY),
    "audio with cover art": (lambda clip, p: cover_art(p), pipeline.AUDIO_ONLY),
    "audio only, MP3": (lambda clip, p: audio(p, "mp3", "libmp3lame"), pipeline.AUDIO_ONLY),
    "PNG named .mp4": (lambda clip, p: image(p, "png"), pipeline.STILL_IMAGE),
    "JPEG named .mp4": (lambda clip, p: image(p, "mjpeg"), pipeline.STILL_IMAGE),
    "one-frame MP4": (lambda clip, p: clip(p.name, seconds=0.04, acodec=None), pipeline.STILL_IMAGE),
    "HLS to /etc/passwd": (lambda clip, p: playlist(p, "file:///etc/passwd"), pipeline.PLAYLIST),
    "concat list": (lambda clip, p: concat_list(p), pipeline.PLAYLIST),
    "16×8000": (lambda clip, p: clip(p.name, width=16, height=8000, seconds=1, fps=2), pipeline.BAD_DIMENSIONS),
    "4000×16": (lambda clip, p: clip(p.name, width=4000, height=16, seconds=1, fps=2), pipeline.BAD_DIMENSIONS),
    "8×64": (lambda clip, p: clip(p.name, width=8, height=64, seconds=1, fps=2), pipeline.BAD_DIMENSIONS),
    "4200×2400": (lambda clip, p: clip(p.name, width=4200, height=2400, seconds=1, fps=2), pipeline.BAD_DIMENSIONS),
    "ten-hour bomb": (lambda clip, p: ten_hour_bomb(p.with_suffix(".mkv")), TOO_LONG_FOR_3_HOURS),
    "header claims 2 s": (lambda clip, p: lying_header(p.with_suffix(".mkv")), TOO_LONG_FOR_3_HOURS),
}


@pytest.mark.parametrize("kind", BAD)
def test_what_is_not_a_playable_video_is_refused_with_a_sentence(clip, tmp_path, kind):
    make, message = BAD[kind]
    src = make(clip, tmp_path / "upload.mp4")
    before = sorted(tmp_path.iterdir())

    with pytest.raises(MediaRejected) as caught:
        pipeline.probe(src, max_seconds=3 * 3600)

    assert str(caught.value) == message
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    "seconds, spoken", [(10800, "3 hours"), (3600, "1 hour"), (120, "2 minutes"), (90, "90 seconds"), (1, "1 second")]
)
def test_the_length_limit_is_spoken_like_a_person(seconds, spoken):
    assert pipeline._spoken(seconds) == spoken


def test_longer_than_the_limit_is_refused(clip):
    src = clip("clip.mp4")
    with pytest.raises(MediaRejected, match="^The video is too long: the limit is 1 second.$"):
        pipeline.probe(src, max_seconds=1)
    assert pipeline.probe(src, max_seconds=2.5).duration == 2.0


def test_the_limit_comes_from_settings_by_default(clip, settings):
    src = clip("clip.mp4")
    settings.MAX_VIDEO_SECONDS = 90
    assert pipeline.probe(src).duration == 2.0
    settings.MAX_VIDEO_SECONDS = 1.5
    with pytest.raises(MediaRejected, match="1.5 seconds"):
        pipeline.probe(src)


# --- Files that point elsewhere -------------------------------------------------------------


def no_trace_of(secret: bytes, folder: Path, *, besides: Path | None = None) -> bool:
    return not any(secret in f.read_bytes() for f in folder.rglob("*") if f.is_file() and f != besides)


def forged_probes(real: Probe) -> list[Probe]:
    """The probe as if it had been fooled into calling the file each video format we accept."""
    return [replace(real, format_name=fmt) for fmt in pipeline.ffmpeg.VIDEO_FORMATS]


def every_step_refuses(src: Path, out: Path) -> None:
    probe = make_probe(320, 240)
    for forged in forged_probes(probe):
        with pytest.raises(MediaRejected):
            pipeline.transcode(src, forged, [Rung("240p", 320, 240)], {"240p": out / "240p.mp4"})
        with pytest.raises(MediaRejected):
            pipeline.make_poster(src, forged, out / "poster.jpg")
        with pytest.raises(MediaRejected):
            pipeline.remux_faststart(src, forged, out / "remux.mp4")
    for demuxer in ("hls", "concat", "image2", "subfile", "dash"):
        with pytest.raises(ValueError):
            forged = replace(probe, format_name=demuxer)
            pipeline.transcode(src, forged, [Rung("240p", 320, 240)], {"240p": out / "x.mp4"})
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
        with pytest.raises(MediaRejected, match=pipeline.PLAYLIST):
            pipeline.probe(named, max_seconds=LONG_ENOUGH)
        # Behind the friendly sniff, the fenced probe's demuxer allowlist refuses it on its own...
        assert pipeline._facts_fenced(named) == {}
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
        with pytest.raises(MediaRejected, match=pipeline.PLAYLIST):
            pipeline.probe(upload, max_seconds=LONG_ENOUGH)
        assert pipeline._facts_fenced(upload) == {}
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        every_step_refuses(upload, out)
    assert no_trace_of(passwd[:16], tmp_path)


# --- Failures clean up --------------------------------------------------------------------


def test_a_failed_transcode_leaves_no_files_and_says_why(clip, tmp_path):
    src = clip("clip.mp4")
    probe = pipeline.probe(src, max_seconds=LONG_ENOUGH)
    cut(src, 0.3)  # damaged after probing: ffmpeg now fails part-way
    rungs = [Rung("240p", 320, 240), Rung("120p", 160, 120)]
    dests = {rung.label: tmp_path / f"{rung.label}.mp4" for rung in rungs}

    with pytest.raises(MediaRejected, match=pipeline.CONVERSION_FAILED):
        pipeline.transcode(src, probe, rungs, dests)

    assert sorted(tmp_path.iterdir()) == [src]


def test_an_exception_from_the_progress_callback_stops_ffmpeg_and_cleans_up(clip, tmp_path):
    src = clip("clip.mp4", seconds=3)
    probe = pipeline.probe(src, max_seconds=LONG_ENOUGH)

    def fail(progress: float) -> None:
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        pipeline.transcode(src, probe, pipeline.ladder(probe), {"240p": tmp_path / "out.mp4"}, on_progress=fail)
    assert sorted(tmp_path.iterdir()) == [src]
