"""Inputs made once and kept in bench/.cache: upload files and the 60 s 1080p30 clip."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
MIB = 1024 * 1024


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


def clip_1080p() -> Path:
    """An H.264/AAC 1080p30 MP4 like a phone's: moving test pattern, a tone, ~8 Mbit/s.
    60 s long as the issue says; BENCH_CLIP_SECONDS shortens it for trying the bench out."""
    seconds = int(os.environ.get("BENCH_CLIP_SECONDS", "60"))
    path = CACHE / f"clip-1080p30-{seconds}s.mp4"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        tmp = path.with_name("tmp-" + path.name)
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y",
             "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=30:duration={seconds}",
             "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
             "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", str(tmp)],
            check=True,
        )
        tmp.rename(path)
    return path
