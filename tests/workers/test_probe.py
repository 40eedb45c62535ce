"""The probe with real clips: what a file really is, and every kind we refuse, with its sentence."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from workers import probe
from workers.probe import MediaRejected, probe_file


def run_ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


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


TOO_LONG_FOR_3_HOURS = probe.TOO_LONG.format(limit="3 hours")
BAD = {
    "text named .mp4": (lambda clip, p: text(p), probe.NOT_A_VIDEO),
    "zero bytes": (lambda clip, p: empty(p), probe.EMPTY),
    "MP4 cut in the middle": (lambda clip, p: cut(clip(p.name, extra=("-movflags", "+faststart")), 0.6), probe.TRUNCATED),
    "MP4 cut before its index": (lambda clip, p: cut(clip(p.name), 0.6), probe.NOT_A_VIDEO),
    "garbled picture": (lambda clip, p: garbled(clip(p.name, acodec=None)), probe.UNDECODABLE),
    "audio only, MP4": (lambda clip, p: audio(p, "mp4", "aac"), probe.AUDIO_ONLY),
    "audio with cover art": (lambda clip, p: cover_art(p), probe.AUDIO_ONLY),
    "audio only, MP3": (lambda clip, p: audio(p, "mp3", "libmp3lame"), probe.AUDIO_ONLY),
    "PNG named .mp4": (lambda clip, p: image(p, "png"), probe.STILL_IMAGE),
    "JPEG named .mp4": (lambda clip, p: image(p, "mjpeg"), probe.STILL_IMAGE),
    "one-frame MP4": (lambda clip, p: clip(p.name, seconds=0.04, acodec=None), probe.STILL_IMAGE),
    "HLS to /etc/passwd": (lambda clip, p: playlist(p, "file:///etc/passwd"), probe.PLAYLIST),
    "concat list": (lambda clip, p: concat_list(p), probe.PLAYLIST),
    "16×8000": (lambda clip, p: clip(p.name, width=16, height=8000, seconds=1, fps=2), probe.BAD_DIMENSIONS),
    "4000×16": (lambda clip, p: clip(p.name, width=4000, height=16, seconds=1, fps=2), probe.BAD_DIMENSIONS),
    "8×64": (lambda clip, p: clip(p.name, width=8, height=64, seconds=1, fps=2), probe.BAD_DIMENSIONS),
    "4200×2400": (lambda clip, p: clip(p.name, width=4200, height=2400, seconds=1, fps=2), probe.BAD_DIMENSIONS),
    "ten-hour bomb": (lambda clip, p: ten_hour_bomb(p.with_suffix(".mkv")), TOO_LONG_FOR_3_HOURS),
    "header claims 2 s": (lambda clip, p: lying_header(p.with_suffix(".mkv")), TOO_LONG_FOR_3_HOURS),
}


@pytest.mark.parametrize("kind", BAD)
def test_what_is_not_a_playable_video_is_refused_with_a_sentence(clip, tmp_path, kind):
    make, message = BAD[kind]
    src = make(clip, tmp_path / "upload.mp4")
    before = sorted(tmp_path.iterdir())

    with pytest.raises(MediaRejected) as caught:
        probe_file(src, max_seconds=3 * 3600)

    assert str(caught.value) == message
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    "seconds, spoken", [(10800, "3 hours"), (3600, "1 hour"), (120, "2 minutes"), (90, "90 seconds"), (1, "1 second")]
)
def test_the_length_limit_is_spoken_like_a_person(seconds, spoken):
    assert probe._spoken(seconds) == spoken


def test_longer_than_the_limit_is_refused(clip):
    src = clip("clip.mp4")
    with pytest.raises(MediaRejected, match="^The video is too long: the limit is 1 second.$"):
        probe_file(src, max_seconds=1)
    assert probe_file(src, max_seconds=2.5).duration == 2.0


def test_the_limit_comes_from_settings_by_default(clip, settings):
    src = clip("clip.mp4")
    settings.MAX_VIDEO_SECONDS = 90
    assert probe_file(src).duration == 2.0
    settings.MAX_VIDEO_SECONDS = 1.5
    with pytest.raises(MediaRejected, match="1.5 seconds"):
        probe_file(src)


def test_the_child_reports_facts_and_judges_nothing(ffmpeg, tmp_path):
    # A still image, refused by the parent, is described by the child like any file.
    src = image(tmp_path / "upload.mp4", "png")
    out = subprocess.run([sys.executable, "-m", "workers.probe_child", str(src)], capture_output=True, text=True,
                         check=True, timeout=60)
    assert json.loads(out.stdout)["format"].endswith("_pipe")
    assert probe.facts_fenced(src) == json.loads(out.stdout)
    assert probe.facts_fenced(text(tmp_path / "notes.mp4")) == {}


def test_the_refusal_rules_are_tried_in_order(clip):
    facts = probe.facts_fenced(clip("clip.mp4", seconds=2))
    assert probe.judge(probe.Facts(facts, 60)).duration == 2.0
    # Claiming ten hours in the header and one packet: the length is refused first, unread.
    bomb = {**facts, "header_duration": 36000.0, "video_packets": 1}
    with pytest.raises(MediaRejected, match="too long"):
        probe.judge(probe.Facts(bomb, 60))
    with pytest.raises(MediaRejected, match=probe.STILL_IMAGE):
        probe.judge(probe.Facts({**bomb, "header_duration": 2.0}, 60))


def test_a_live_webm_cut_mid_cluster_is_the_video_that_arrived(ffmpeg, tmp_path):
    """A browser recording whose tab closed: a live WebM (no duration, no cues, as MediaRecorder
    writes it) that stops in the middle of a block. It claims no length, so it is not truncated:
    what arrived plays."""
    whole = tmp_path / "take.webm"
    run_ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=30", "-f", "lavfi", "-i", "sine", "-t", "4",
        "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "1M", "-c:a", "libopus", "-f", "webm", "-live", "1",
        "-cluster_time_limit", "1000", str(whole),
    )  # fmt: skip
    taken = probe_file(cut(whole, 0.6 + 1 / 7919))  # not on a block's boundary
    assert (taken.format_name, taken.video_codec, taken.audio_codec) == ("matroska", "vp8", "opus")
    assert 1.5 < taken.duration < 3.5


def test_a_file_joined_from_clips_keeps_its_real_frame_rate(clip, ffmpeg, tmp_path):
    # Joined copies average a little under 25 fps (a gap at each join); converting to that
    # average would drop a frame every few seconds.
    one = clip("one.mp4", seconds=2, fps=25)
    joined = tmp_path / "joined.mp4"
    run_ffmpeg("-stream_loop", "4", "-i", str(one), "-c", "copy", str(joined))
    assert probe_file(one).fps == 25.0
    assert probe_file(joined).fps == 25.0


@pytest.mark.parametrize("rate, fps", [("30", 30.0), ("30000/1001", 29.97)])
def test_a_webm_keeps_its_frame_rate_through_millisecond_timestamps(tmp_path, ffmpeg, rate, fps):
    # Matroska counts in milliseconds: every frame of 30 fps lasts "33", which alone says 30.3 fps;
    # converting to that would repeat a frame every three seconds of a browser's recording.
    take = tmp_path / "take.webm"
    run_ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={rate}", "-t", "2",
        "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "500k", str(take),
    )  # fmt: skip
    assert probe_file(take).fps == fps
