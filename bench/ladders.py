"""The ladders Practika is measured against, run by hand on the same file in the same run, and
the picture quality of a rendition against its source."""

from __future__ import annotations

import re
import resource
import subprocess
import time
from pathlib import Path

# MediaCMS's encoding of one H.264 rung: files/helpers.py (get_base_ffmpeg_command,
# produce_ffmpeg_commands) and cms/settings.py (FFMPEG_DEFAULT_PRESET) of mediacms-io/mediacms at
# commit 90b9fad55bc7e93827956b53822a4b520bf999b9, for a 30 fps source longer than
# CRF_ENCODING_NUM_SECONDS (so one CRF pass, not two) and not chunked (sources up to 5 minutes).
MEDIACMS_COMMIT = "90b9fad55bc7e93827956b53822a4b520bf999b9"
MEDIACMS_KBPS = {240: 300, 360: 500, 480: 1000, 720: 2500, 1080: 4500}  # VIDEO_BITRATES["h264"][25]
MEDIACMS_FPS = 30
MEDIACMS_KEYFRAME_SECONDS = 4  # KEYFRAME_DISTANCE


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_all(commands: list[list[str]]) -> dict:
    """The commands one after another: wall and CPU seconds."""
    cpu, started = _cpu_children(), time.perf_counter()
    for command in commands:
        subprocess.run(command, check=True)
    return {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu_children() - cpu}


def heights(src: Path) -> list[int]:
    """The heights of Practika's ladder for this source, smallest first."""
    from workers.pipeline import ladder
    from workers.probe import probe_file

    return [min(rung.width, rung.height) for rung in ladder(probe_file(src))]


def hand_made(src: Path, out: Path) -> dict:
    """The issue's fixed baseline: one ffmpeg per height of the ladder, one after another,
    default threads, plus one poster frame."""
    out.mkdir(parents=True, exist_ok=True)
    rungs = {h: out / f"{h}p.mp4" for h in heights(src)}
    commands = [
        ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-vf", f"scale=-2:{h}", "-c:v", "libx264",
         "-preset", "veryfast", "-crf", "23", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
         str(path)]
        for h, path in rungs.items()
    ]
    commands.append(["ffmpeg", "-v", "error", "-y", "-ss", "5", "-i", str(src), "-frames:v", "1",
                     str(out / "poster.jpg")])
    return {**_run_all(commands), "heights": list(rungs), "outputs": rungs}


def mediacms_command(src: Path, height: int, dest: Path) -> list[str]:
    """get_base_ffmpeg_command's H.264 command for one height, as MediaCMS runs it."""
    kbps = MEDIACMS_KBPS[height]
    keyframes = MEDIACMS_FPS * MEDIACMS_KEYFRAME_SECONDS
    width = round(height * 16 / 9)
    scale = ":".join([f"if(lt(iw\\,ih)\\,{height}\\,{width})", f"if(lt(iw\\,ih)\\,{width}\\,{height})",
                      "force_original_aspect_ratio=decrease", "force_divisible_by=2", "flags=lanczos"])
    return [
        "ffmpeg", "-v", "error", "-y", "-i", str(src), "-c:v", "libx264",
        "-filter:v", f"scale={scale},fps=fps={MEDIACMS_FPS}", "-pix_fmt", "yuv420p", "-crf", "23",
        "-c:a", "aac", "-b:a", "128k", "-ac", "2",
        "-maxrate", f"{int(kbps * 1.5)}k", "-bufsize", f"{int(kbps * 1.5)}k",
        "-force_key_frames", f"expr:gte(t,n_forced*{MEDIACMS_KEYFRAME_SECONDS})",
        "-x264-params", f"keyint={keyframes * 2}:keyint_min={keyframes}",
        "-preset", "medium", "-profile:v", "main", "-level", "4.2" if height <= 1080 else "5.2",
        "-strict", "-2", str(dest),
    ]


def mediacms(src: Path, out: Path) -> dict:
    """MediaCMS's commands for every height of Practika's ladder, one after another as one
    MediaCMS worker runs them. Only the ladder: its thumbnails, sprites, preview GIF and Bento4 HLS
    packaging are left out, which favours MediaCMS."""
    out.mkdir(parents=True, exist_ok=True)
    rungs = {h: out / f"{h}p.mp4" for h in heights(src)}
    return {**_run_all([mediacms_command(src, h, path) for h, path in rungs.items()]),
            "heights": list(rungs), "outputs": rungs}


def has_vmaf() -> bool:
    filters = subprocess.run(["ffmpeg", "-hide_banner", "-filters"], capture_output=True, text=True).stdout
    return " libvmaf " in filters


def quality(rendition: Path, src: Path) -> dict[str, float]:
    """PSNR (dB, all planes) and SSIM (all planes) of a rendition against its source scaled to
    the rendition's size, frame by frame from each one's first frame."""
    graph = ("[0:v]setpts=PTS-STARTPTS[d];[1:v]setpts=PTS-STARTPTS[s];"
             "[s][d]scale2ref=flags=bicubic[r][d2];[r]split[r1][r2];[d2][r1]psnr[p];[p][r2]ssim")
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(rendition), "-i", str(src),
         "-filter_complex", graph, "-an", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr
    psnr = re.search(r"PSNR .* average:([\d.]+|inf)", out)
    ssim = re.search(r"SSIM .* All:([\d.]+)", out)
    if not (psnr and ssim):
        raise RuntimeError(f"no PSNR or SSIM in ffmpeg's output: {out[-500:]}")
    return {"psnr_db": round(float(psnr.group(1)), 3), "ssim": round(float(ssim.group(1)), 5)}
