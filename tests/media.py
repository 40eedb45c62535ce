"""Real clips for tests, made by ffmpeg from its test sources in a fraction of a second."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

# Fast settings per encoder: the clips test the pipeline, not the encoders.
SPEED = {
    "libx264": ("-preset", "ultrafast", "-pix_fmt", "yuv420p"),
    "libx265": ("-preset", "ultrafast", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p"),
    "libvpx-vp9": ("-deadline", "realtime", "-cpu-used", "8", "-pix_fmt", "yuv420p"),
    "libvpx": ("-deadline", "realtime", "-cpu-used", "8"),
}


def make_clip(
    path: Path,
    *,
    seconds: float = 2,
    width: int = 320,
    height: int = 240,
    vcodec: str = "libx264",
    acodec: str | None = "aac",
    container: str = "mp4",
    rotate: int = 0,
    fps: float = 25,
    extra: Sequence[str] = (),
) -> Path:
    """A clip of ffmpeg's moving test pattern (and a tone unless acodec is None) at path.

    rotate writes a display matrix, as phones do, leaving the pixels as they are: players turn the
    picture that many degrees counterclockwise (what Probe.rotation reports).
    """
    ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
    args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    args += ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}"]
    if acodec:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    args += ["-t", str(seconds), "-c:v", vcodec, *SPEED.get(vcodec, ())]
    args += ["-c:a", acodec] if acodec else ["-an"]
    target = path.with_name(f"unrotated-{path.name}") if rotate else path
    subprocess.run([*args, *extra, "-f", container, str(target)], check=True)
    if rotate:
        # ffmpeg 5.1 writes the rotate tag as a display matrix only when copying streams.
        subprocess.run(
            [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(target), "-map", "0",
             "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", "-f", container, str(path)],
            check=True,
        )  # fmt: skip
        target.unlink()
    return path
