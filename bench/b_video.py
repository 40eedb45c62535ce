"""B4/B5: upload complete → first playable rendition and → ready, against the fixed hand-made
ladder; B10: the library page's p99 while two transcodes run."""

from __future__ import annotations

import resource
import subprocess
import time
from pathlib import Path

import requests

from bench.env import Proc, Stack, cpu_seconds, process_tree
from bench.files import clip_1080p
from bench.load import wrk
from bench.report import Result
from bench.users import bench_token

POLL = 0.05
TIMEOUT = 600


# x264 writes its settings into the stream; these say how hard it worked on each frame. Higher is
# more work (a slower preset) for all but crf, where lower is higher quality.
_EFFORT = ("subme", "ref", "trellis", "bframes", "me")
_ME_RANK = {"dia": 0, "hex": 1, "umh": 2, "esa": 3, "tesa": 4}


def x264_settings(path: Path) -> dict[str, float]:
    with path.open("rb") as f:
        head = f.read(16 * 1024 * 1024)
    start = head.find(b"x264 - core")
    if start < 0:
        raise RuntimeError(f"{path.name} was not encoded by x264")
    text = head[start:head.index(b"\0", start)].decode("ascii", "replace")
    options = dict(item.split("=", 1) for item in text.split("options: ", 1)[1].split() if "=" in item)
    # No crf at all: a bitrate-driven encode (a camera's), never one of ours or the baseline's.
    settings = {"crf": float(options.get("crf", "inf"))}
    for key in _EFFORT:
        value = options.get(key, "0")
        settings[key] = _ME_RANK[value] if key == "me" else float(value.split(":")[0])
    return settings


def at_least_as_good(mine: dict[str, float], fixed: dict[str, float]) -> bool:
    """The same or a lower CRF, and at least the fixed preset's effort on every setting."""
    return mine["crf"] <= fixed["crf"] and all(mine[key] >= fixed[key] for key in _EFFORT)


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def hand_made_ladder(src: Path, out: Path) -> dict:
    """The issue's fixed baseline: one ffmpeg per height the source allows, one after another,
    default threads, plus one poster frame."""
    from workers.pipeline import ladder
    from workers.probe import probe_file

    out.mkdir(parents=True, exist_ok=True)
    heights = [min(rung.width, rung.height) for rung in ladder(probe_file(src))]
    commands = [
        ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-vf", f"scale=-2:{h}", "-c:v", "libx264",
         "-preset", "veryfast", "-crf", "23", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart",
         str(out / f"{h}p.mp4")]
        for h in heights
    ]
    commands.append(["ffmpeg", "-v", "error", "-y", "-ss", "5", "-i", str(src), "-frames:v", "1",
                     str(out / "poster.jpg")])
    cpu, started = _cpu_children(), time.perf_counter()
    for command in commands:
        subprocess.run(command, check=True)
    return {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu_children() - cpu,
            "heights": heights, "x264": x264_settings(out / f"{heights[-1]}p.mp4")}


def _upload(web: Proc, path: Path, token: str) -> tuple[str, float]:
    """The video's id and the moment its upload completed (time.monotonic())."""
    with path.open("rb") as f:
        answer = requests.post(web.url + "/core/api/videos/", headers={"Authorization": f"Token {token}"},
                               files={"file": (path.name, f, "video/mp4")}, data={"title": "bench"},
                               timeout=120)
    done = time.monotonic()
    answer.raise_for_status()
    return answer.json()["id"], done


def _follow(web: Proc, video_id: str, token: str, uploaded: float) -> dict:
    """Seconds from upload to the first rendition and to `ready`, polled through the API."""
    first = None
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    while time.monotonic() - uploaded < TIMEOUT:
        video = session.get(f"{web.url}/core/api/videos/{video_id}/", timeout=10).json()
        now = time.monotonic() - uploaded
        if first is None and video["renditions"]:
            first = now
        if video["status"] == "ready":
            return {"first_playable": first, "ready": now,
                    "renditions": [r["label"] for r in video["renditions"]]}
        if video["status"] == "failed":
            raise RuntimeError(f"the video failed: {video['error']}")
        time.sleep(POLL)
    raise RuntimeError(f"the video was not ready within {TIMEOUT} s")


def b4_b5(stack: Stack) -> list[Result]:
    src, token = clip_1080p(), bench_token()
    base = hand_made_ladder(src, stack.workdir / "hand-made")
    web, worker = stack.web(), stack.worker()
    cpu = cpu_seconds(process_tree(worker.popen.pid))
    video_id, uploaded = _upload(web, src, token)
    times = _follow(web, video_id, token, uploaded)
    cpu = cpu_seconds(process_tree(worker.popen.pid)) - cpu
    outputs = [p for p in (stack.media_root / "videos" / video_id).glob("*.mp4") if not p.stem.startswith("original")]
    # A rendition remuxed from the source keeps the source's stream (and its x264 settings): it
    # was not re-encoded, so the rule about encoder effort does not apply to it.
    copied = x264_settings(src)
    mine = {p.name: x264_settings(p) for p in outputs}
    remuxed = sorted(name for name, found in mine.items() if found == copied)
    mine = {name: found for name, found in mine.items() if found != copied}
    quality = bool(mine) and all(at_least_as_good(m, base["x264"]) for m in mine.values())
    details = {"baseline_cpu_seconds": round(base["cpu_seconds"], 1), "practika_cpu_seconds": round(cpu, 1),
               "baseline_heights": base["heights"], "renditions": times["renditions"],
               "baseline_x264": base["x264"], "practika_x264": mine, "quality_at_least_baseline": quality,
               "remuxed_not_reencoded": remuxed}
    ready, first, baseline = times["ready"], times["first_playable"], base["seconds"]
    return [
        Result("B4", f"upload complete → ready, {src.stem}", "s", round(ready, 2),
               round(baseline, 2), round(ready / baseline, 3), "<= 1.0x", ready <= baseline and quality, details),
        Result("B5", "upload complete → first playable rendition", "s", round(first, 2),
               round(baseline, 2), round(first / baseline, 3), "<= 0.3x", first <= 0.3 * baseline, details),
    ]


def _transcoding(worker: Proc) -> int:
    """How many ffmpeg transcodes (the ladder's one run with a filter graph, not a remux or a
    poster) run under the worker."""
    count = 0
    for pid in process_tree(worker.popen.pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if Path(argv[0].decode(errors="replace")).name == "ffmpeg" and b"-filter_complex" in argv:
            count += 1
    return count


def b10(stack: Stack) -> list[Result]:
    from bench import seed

    src, token = clip_1080p(), bench_token()
    seed.library(24)
    web, worker = stack.web(), stack.worker()
    page = {"url": web.url + "/", "connections": 4, "threads": 1, "seconds": 5}
    wrk(**{**page, "seconds": 1})
    idle = min((wrk(**page) for _ in range(2)), key=lambda load: load.p99_ms)
    for _ in range(2):
        _upload(web, src, token)
    end = time.monotonic() + 120
    while _transcoding(worker) < 2:
        if time.monotonic() > end:
            raise RuntimeError("two transcodes did not start within 120 s")
        time.sleep(0.2)
    rounds = []
    for _ in range(2):
        rounds.append(wrk(**page))
        if _transcoding(worker) < 2:
            break  # a transcode ended: later rounds would not measure what B10 is about
    busy = min(rounds, key=lambda load: load.p99_ms)
    still = _transcoding(worker)
    ratio = busy.p99_ms / idle.p99_ms
    return [Result("B10", "/ p99 while two transcodes run, 4 connections", "ms", round(busy.p99_ms, 1),
                   round(idle.p99_ms, 1), round(ratio, 3), "<= 2x", ratio <= 2,
                   {"idle_rps": round(idle.rps, 1), "busy_rps": round(busy.rps, 1),
                    "ffmpeg_running_after": still})]
