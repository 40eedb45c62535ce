"""Inputs made once and kept in bench/.cache: upload files, the 60 s 1080p30 clips and the long
source made from one of them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
MIB = 1024 * 1024

# What phones and browsers upload: the encoder's arguments and the container. The clips are a
# moving test pattern and a tone; only their codecs differ.
CODECS = {
    # A phone's H.264/AAC MP4, ~8 Mbit/s.
    "h264": (".mp4", ["-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-pix_fmt", "yuv420p",
                      "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"]),
    # A Chromium recording's VP9/Opus WebM, 4 Mbit/s, made as the issue measured it.
    "vp9": (".webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "4M",
                      "-pix_fmt", "yuv420p", "-c:a", "libopus", "-b:a", "96k"]),
    # An iPhone's HEVC/AAC QuickTime file, 6 Mbit/s, tagged hvc1 as Apple writes it.
    "hevc": (".mov", ["-c:v", "libx265", "-preset", "ultrafast", "-b:v", "6M", "-tag:v", "hvc1",
                      "-x265-params", "log-level=error", "-pix_fmt", "yuv420p",
                      "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart"]),
}
# The long source is this many of the H.264 clip back to back: ten minutes from 60 s clips.
LONG_REPEATS = 10


def blob(mib: int) -> Path:
    """A file of `mib` MiB of incompressible bytes (what the upload path carries does not
    matter to it, and nothing decodes it while the upload benchmarks run)."""
    path = CACHE / f"blob-{mib}m.bin"
    if not path.exists() or path.stat().st_size != mib * MIB:
        CACHE.mkdir(exist_ok=True)
        block = os.urandom(MIB)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            for i in range(mib):
                f.write(i.to_bytes(8, "big") + block[8:])
        tmp.rename(path)
    return path


def clip_seconds() -> int:
    """60 as the issue says; BENCH_CLIP_SECONDS shortens every clip (and so the long source)
    for trying the bench out."""
    return int(os.environ.get("BENCH_CLIP_SECONDS", "60"))


def _make(path: Path, args: list[str]) -> Path:
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        tmp = path.with_name("tmp-" + path.name)
        subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(tmp)], check=True)
        tmp.rename(path)
    return path


def clip_1080p(codec: str = "h264") -> Path:
    """A 1080p30 clip with a tone, encoded as CODECS[codec] says."""
    seconds = clip_seconds()
    suffix, encode = CODECS[codec]
    return _make(CACHE / f"clip-1080p30-{seconds}s-{codec}{suffix}", [
        "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}", *encode,
    ])


def long_1080p() -> Path:
    """The H.264 clip LONG_REPEATS times over, copied, not encoded: cheap to make, and as costly
    to process as ten minutes of any 1080p30 H.264 recording."""
    seconds = clip_seconds() * LONG_REPEATS
    return _make(CACHE / f"long-1080p30-{seconds}s-h264.mp4", [
        "-stream_loop", str(LONG_REPEATS - 1), "-i", str(clip_1080p("h264")),
        "-c", "copy", "-movflags", "+faststart",
    ])
