"""B4/B5/B5b/B11: upload complete → first playable (by a rendition, by HLS) and → ready, per
source codec, against the hand-made ladder and MediaCMS's ladder on the same file; B12: the long
source; B8p/B10: the video list and the library page while two transcodes run."""

from __future__ import annotations

import mimetypes
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests

from bench import ladders
from bench.env import Proc, Stack, cpu_seconds, process_tree
from bench.files import clip_1080p, long_1080p
from bench.load import wrk
from bench.report import Result, missing
from bench.users import UPLOADER, bench_token

POLL = 0.05
# Once it plays, the API is asked less often: 20 requests a second to the web process on the same
# two cores would take CPU from the transcode the bench times (the watch page asks every 1.5 s).
# The later figures (ready, and a first rendition that comes with it) are then within this.
POLL_AFTER_PLAYABLE = 0.25
TIMEOUT = 600
# HLS is playable within seconds of the upload or not at all (a pipeline without it): waiting for
# a long source to be ready would only tell that slowly.
FIRST_PLAYABLE_TIMEOUT = 120
NOT_PLAYABLE = "not playable by HLS"


# x264 writes its settings into the stream; these say how hard it worked on each frame. Higher is
# more work (a slower preset) for all but crf, where lower is higher quality.
_EFFORT = ("subme", "ref", "trellis", "bframes", "me")
_ME_RANK = {"dia": 0, "hex": 1, "umh": 2, "esa": 3, "tesa": 4}


def x264_settings(path: Path) -> dict[str, float] | None:
    """The x264 settings in the file's stream, None when x264 did not encode it."""
    with path.open("rb") as f:
        head = f.read(16 * 1024 * 1024)
    start = head.find(b"x264 - core")
    if start < 0:
        return None
    text = head[start:head.index(b"\0", start)].decode("ascii", "replace")
    options = dict(item.split("=", 1) for item in text.split("options: ", 1)[1].split() if "=" in item)
    # No crf at all: a bitrate-driven encode (a camera's), never one of ours or the baseline's.
    settings = {"crf": float(options.get("crf", "inf"))}
    for key in _EFFORT:
        value = options.get(key, "0")
        settings[key] = _ME_RANK[value] if key == "me" else float(value.split(":")[0])
    return settings


def at_least_as_good(mine: dict[str, float] | None, fixed: dict[str, float]) -> bool:
    """The same or a lower CRF, and at least the fixed preset's effort on every setting."""
    return mine is not None and mine["crf"] <= fixed["crf"] and all(mine[key] >= fixed[key] for key in _EFFORT)


def _upload(web: Proc, path: Path, token: str) -> tuple[str, float]:
    """The video's id and the moment its upload completed (time.monotonic())."""
    with path.open("rb") as f:
        answer = requests.post(web.url + "/core/api/videos/", headers={"Authorization": f"Token {token}"},
                               files={"file": (path.name, f, mimetypes.guess_type(path.name)[0])},
                               data={"title": "bench"}, timeout=300)
    done = time.monotonic()
    answer.raise_for_status()
    return answer.json()["id"], done


def _attributes(line: str) -> dict[str, str]:
    """A playlist tag's attribute list (`NAME=value,NAME="value, quoted"`), quotes removed."""
    return {k: v.strip('"') for k, v in re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1])}


def _start_playlists(master: str) -> list[str]:
    """The media playlists a player starts with: the variant of least BANDWIDTH and, when its
    audio is a rendition of its own (an audio group), that group's default playlist."""
    audio, variants, pending = {}, [], None
    for line in (line.strip() for line in master.splitlines()):
        if line.startswith("#EXT-X-MEDIA:"):
            media = _attributes(line)
            if media.get("TYPE") == "AUDIO" and "URI" in media and (
                    media.get("DEFAULT") == "YES" or media["GROUP-ID"] not in audio):
                audio[media["GROUP-ID"]] = media["URI"]
        elif line.startswith("#EXT-X-STREAM-INF:"):
            pending = _attributes(line)
        elif line and not line.startswith("#") and pending is not None:
            variants.append((int(pending.get("BANDWIDTH", 0)), line, pending.get("AUDIO")))
            pending = None
    if not variants:
        return []
    _, uri, group = min(variants, key=lambda v: v[0])
    return [uri] + ([audio[group]] if group in audio else [])


def _first_segment(playlist: str) -> list[str]:
    """The init segment (#EXT-X-MAP) if any, and the first media segment; [] before it exists."""
    uris = []
    for line in (line.strip() for line in playlist.splitlines()):
        if line.startswith("#EXT-X-MAP:"):
            uris.append(_attributes(line)["URI"])
        elif line and not line.startswith("#"):
            return uris + [line]
    return []


def hls_playable(session: requests.Session, url: str) -> bool:
    """What a player needs to start: the master playlist, the playlists it starts with (the
    lowest variant's, its audio's) and their first segments (and init segments) all answer 200."""
    master = session.get(url, timeout=10)
    playlists = _start_playlists(master.text) if master.status_code == 200 else []
    if not playlists:
        return False
    for uri in playlists:
        playlist = session.get(urljoin(master.url, uri), timeout=10)
        segments = _first_segment(playlist.text) if playlist.status_code == 200 else []
        if not segments or any(session.get(urljoin(playlist.url, s), timeout=10).status_code != 200
                               for s in segments):
            return False
    return True


@dataclass
class Timeline:
    """Seconds after the upload completed, and the worker's CPU-seconds spent by then."""
    first_rendition: float | None = None
    first_rendition_cpu: float | None = None
    first_hls: float | None = None
    first_hls_cpu: float | None = None
    ready: float | None = None
    ready_cpu: float | None = None
    hls_at_ready: bool = False
    renditions: tuple[str, ...] = ()


def process(web: Proc, worker: Proc, src: Path, token: str, *, until_ready: bool = True) -> tuple[str, Timeline]:
    """Uploads src, then polls the API every POLL s until it plays by HLS, then every
    POLL_AFTER_PLAYABLE s until the video is ready (or, with until_ready=False, until it plays by
    HLS, is ready, or FIRST_PLAYABLE_TIMEOUT s pass without either)."""
    cpu = cpu_seconds(process_tree(worker.popen.pid))
    video_id, uploaded = _upload(web, src, token)
    session, player = requests.Session(), requests.Session()  # a player sends no API token
    session.headers["Authorization"] = f"Token {token}"
    found = Timeline()
    while time.monotonic() - uploaded < (TIMEOUT if until_ready else FIRST_PLAYABLE_TIMEOUT):
        video = session.get(f"{web.url}/core/api/videos/{video_id}/", timeout=10).json()
        now = time.monotonic() - uploaded
        if found.first_rendition is None and video["renditions"]:
            found.first_rendition = now
            found.first_rendition_cpu = cpu_seconds(process_tree(worker.popen.pid)) - cpu
        if found.first_hls is None and video["hls_url"] and hls_playable(player, urljoin(web.url, video["hls_url"])):
            found.first_hls = time.monotonic() - uploaded
            found.first_hls_cpu = cpu_seconds(process_tree(worker.popen.pid)) - cpu
            if not until_ready:
                return video_id, found
        if video["status"] == "ready":
            found.ready, found.ready_cpu = now, cpu_seconds(process_tree(worker.popen.pid)) - cpu
            found.renditions = tuple(r["label"] for r in video["renditions"])
            found.hls_at_ready = bool(video["hls_url"])
            return video_id, found
        if video["status"] == "failed":
            raise RuntimeError(f"the video failed: {video['error']}")
        time.sleep(POLL if found.first_hls is None else POLL_AFTER_PLAYABLE)
    if not until_ready:
        return video_id, found
    raise RuntimeError(f"the video was not ready within {TIMEOUT} s")


def _rendition_path(video_id: str, label: str) -> Path:
    from django.core.files.storage import default_storage

    from domain.videos.models import Rendition

    return Path(default_storage.path(Rendition.objects.get(video_id=video_id, label=label).file))


def _cpu(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def b4_b5(stack: Stack, codec: str) -> list[Result]:
    """One source through the hand-made ladder, then through Practika; for H.264 also through
    MediaCMS's ladder, with the 720p renditions' quality (B11)."""
    src, token = clip_1080p(codec), bench_token()
    base = ladders.hand_made(src, stack.workdir / f"hand-made-{codec}")
    web, worker = stack.web(), stack.worker()
    video_id, times = process(web, worker, src, token)
    stack.stop_all()
    outputs = {r: _rendition_path(video_id, r) for r in times.renditions}
    # A rendition remuxed from the source keeps the source's stream (and its x264 settings): it
    # was not re-encoded, so the rule about encoder effort does not apply to it.
    copied = x264_settings(src)
    mine = {label: x264_settings(path) for label, path in outputs.items()}
    remuxed = sorted(label for label, found in mine.items() if copied and found == copied)
    mine = {label: found for label, found in mine.items() if label not in remuxed}
    fixed = x264_settings(base["outputs"][base["heights"][-1]])
    quality = bool(mine) and all(at_least_as_good(m, fixed) for m in mine.values())
    details = {"baseline_cpu_seconds": _cpu(base["cpu_seconds"]), "practika_cpu_seconds": _cpu(times.ready_cpu),
               "practika_cpu_seconds_to_first_hls": _cpu(times.first_hls_cpu),
               "baseline_heights": base["heights"], "renditions": list(times.renditions),
               "baseline_x264": fixed, "practika_x264": mine, "quality_at_least_baseline": quality,
               "remuxed_not_reencoded": remuxed, "hls_url_at_ready": times.hls_at_ready}
    ready, first, baseline = times.ready, times.first_rendition, base["seconds"]
    # Ready counts only with the HLS made too: the figure is for the whole of the work.
    made = quality and times.hls_at_ready
    results = [
        Result(f"B4.{codec}", f"upload complete → ready, {src.name}", "s", round(ready, 2),
               round(baseline, 2), round(ready / baseline, 3), "<= 0.5x", ready <= 0.5 * baseline and made,
               details),
        Result(f"B5.{codec}", f"upload complete → first rendition, {codec}", "s", round(first, 2),
               round(baseline, 2), round(first / baseline, 3), "<= 0.3x", first <= 0.3 * baseline,
               {"practika_cpu_seconds": _cpu(times.first_rendition_cpu),
                "baseline_cpu_seconds": details["baseline_cpu_seconds"]}),
    ]
    what = f"upload complete → first playable by HLS, {codec}"
    if times.first_hls is None:
        results.append(missing(f"B5b.{codec}", what, "<= 0.05x", NOT_PLAYABLE))
    else:
        first = times.first_hls
        results.append(Result(f"B5b.{codec}", what, "s", round(first, 2), round(baseline, 2),
                              round(first / baseline, 3), "<= 0.05x", first <= 0.05 * baseline,
                              {"practika_cpu_seconds": _cpu(times.first_hls_cpu),
                               "baseline_cpu_seconds": details["baseline_cpu_seconds"]}))
    if codec == "h264":
        results += b11(stack, src, ready=ready, practika_720p=outputs.get("720p"), cpu=times.ready_cpu)
    return results


def b11(stack: Stack, src: Path, *, ready: float, practika_720p: Path | None, cpu: float) -> list[Result]:
    """MediaCMS's ladder on the same file; Practika's upload → ready against it, and the 720p
    renditions' PSNR and SSIM against the source."""
    theirs = ladders.mediacms(src, stack.workdir / "mediacms")
    if practika_720p is None:
        raise RuntimeError("Practika made no 720p rendition to compare")
    mine, other = ladders.quality(practika_720p, src), ladders.quality(theirs["outputs"][720], src)
    details = {"practika_cpu_seconds": _cpu(cpu), "mediacms_cpu_seconds": _cpu(theirs["cpu_seconds"]),
               "heights": theirs["heights"], "mediacms_commit": ladders.MEDIACMS_COMMIT,
               "practika_720p": mine, "mediacms_720p": other,
               "vmaf": "measured" if ladders.has_vmaf() else "this ffmpeg has no libvmaf"}
    as_good = mine["psnr_db"] >= other["psnr_db"] and mine["ssim"] >= other["ssim"]
    ratio = ready / theirs["seconds"]
    return [
        Result("B11", "upload complete → ready vs MediaCMS's ladder, h264", "s", round(ready, 2),
               round(theirs["seconds"], 2), round(ratio, 3), "<= 0.6x, quality >=", ratio <= 0.6 and as_good,
               details),
        Result("B11.psnr", "720p PSNR against the source vs MediaCMS's 720p", "dB", mine["psnr_db"],
               other["psnr_db"], round(mine["psnr_db"] / other["psnr_db"], 4), ">= 1.0",
               mine["psnr_db"] >= other["psnr_db"]),
        Result("B11.ssim", "720p SSIM against the source vs MediaCMS's 720p", "", mine["ssim"],
               other["ssim"], round(mine["ssim"] / other["ssim"], 4), ">= 1.0", mine["ssim"] >= other["ssim"]),
    ]


def _alone(stack: Stack) -> None:
    """No video and no job of an earlier measurement left: a worker stopped mid-job gives its job
    back to the queue, and its parts' tasks wait there, which the next worker would take first."""
    from domain.videos.models import Video

    Video.objects.all().delete()
    stack.flush_redis()


def _first_hls(stack: Stack, src: Path, token: str) -> Timeline:
    """A fresh worker, one upload, followed until first playable by HLS (or not in time)."""
    _alone(stack)
    web, worker = stack.web(), stack.worker()
    try:
        return process(web, worker, src, token, until_ready=False)[1]
    finally:
        stack.stop_all()


def b12(stack: Stack) -> list[Result]:
    """The long source: first playable by HLS against the 60 s clip's (it must not grow with
    the length), and chunked against whole processing."""
    token = bench_token()
    clip, long = clip_1080p("h264"), long_1080p()
    short_times = _first_hls(stack, clip, token)
    long_times = _first_hls(stack, long, token)
    what = f"first playable by HLS, {long.name} vs {clip.name}"
    if short_times.first_hls is None or long_times.first_hls is None:
        flat = missing("B5b.long", what, "<= 1.5x", NOT_PLAYABLE)
    else:
        ratio = long_times.first_hls / short_times.first_hls
        flat = Result("B5b.long", what, "s", round(long_times.first_hls, 2), round(short_times.first_hls, 2),
                      round(ratio, 3), "<= 1.5x", ratio <= 1.5,
                      {"practika_cpu_seconds": _cpu(long_times.first_hls_cpu),
                       "clip_cpu_seconds": _cpu(short_times.first_hls_cpu)})
    return [flat, *_chunked_vs_whole(stack, long, token)]


# Workers the critical path is computed for (the figure): parts go, in order, to whichever
# of them is free first, as the video queue hands them out.
PATH_WORKERS = 4


def _worked(stack: Stack, src: Path, token: str, nodes: int, **env: str) -> dict:
    """One upload processed by `nodes` worker processes; the attempt's steps from the job history
    (when each started and ended) and the CPU-seconds of every worker until ready."""
    from domain.videos.models import JobStep

    _alone(stack)
    web = stack.web()
    workers = [stack.worker(**env) for _ in range(nodes)]
    trees = lambda: cpu_seconds(set().union(*(process_tree(w.popen.pid) for w in workers)))  # noqa: E731
    before = trees()
    video_id, times = process(web, workers[0], src, token)
    cpu = trees() - before
    stack.stop_all()
    steps = list(JobStep.objects.filter(video_id=video_id, outcome="ok").order_by("started_at"))
    return {"ready": times.ready, "cpu": cpu, "steps": steps}


def _span(steps) -> float:
    return (steps[-1].finished_at - steps[0].started_at).total_seconds()


def critical_path(steps, workers: int) -> tuple[float, list[float]]:
    """The attempt's time from its first step to its last with its parts spread over `workers`:
    what ran before the first part and after the last as measured, the parts (each timed alone,
    one after the other) handed out in order to whichever worker is free first."""
    parts = [s for s in steps if s.step.startswith("part ")]
    durations = [(s.finished_at - s.started_at).total_seconds() for s in parts]
    before = (parts[0].started_at - steps[0].started_at).total_seconds()
    after = (steps[-1].finished_at - parts[-1].finished_at).total_seconds()
    free = [0.0] * workers
    for duration in durations:
        free[free.index(min(free))] += duration
    return before + max(free) + after, durations


def _chunked_vs_whole(stack: Stack, long: Path, token: str) -> list[Result]:
    """B12: the long source whole (parts off) and in parts with one worker process that runs one
    job at a time (so each part is timed alone, as on a dyno of its own); the critical path for
    PATH_WORKERS workers computed from those parts, and the real wall time of two worker nodes on
    this machine reported beside it."""
    whole = _worked(stack, long, token, 1, VIDEO_CHUNKED_FROM="1000000")
    alone = _worked(stack, long, token, 1, VIDEO_WORKER_CONCURRENCY="1")
    two = _worked(stack, long, token, 2)
    path, durations = critical_path(alone["steps"], PATH_WORKERS)
    whole_span = _span(whole["steps"])
    cpu_ratio, path_ratio = alone["cpu"] / whole["cpu"], path / whole_span
    details = {"whole_cpu_seconds": _cpu(whole["cpu"]), "parts_cpu_seconds": _cpu(alone["cpu"]),
               "whole_seconds": round(whole_span, 1), "part_seconds": [round(d, 1) for d in durations],
               "critical_path_seconds": round(path, 1), "workers": PATH_WORKERS,
               "two_nodes_ready_seconds": round(two["ready"], 1), "whole_ready_seconds": round(whole["ready"], 1),
               "two_nodes_cpu_seconds": _cpu(two["cpu"])}
    what = f"{long.name} in parts vs whole"
    return [
        Result("B12.cpu", f"CPU, {what}", "CPU-s", round(alone["cpu"], 1), round(whole["cpu"], 1),
               round(cpu_ratio, 3), "<= 1.1x", cpu_ratio <= 1.1, details),
        Result("B12.path", f"critical path for {PATH_WORKERS} workers, {what}", "s", round(path, 1),
               round(whole_span, 1), round(path_ratio, 3), "<= 0.35x", path_ratio <= 0.35),
        Result("B12.2nodes", f"upload → ready with 2 worker nodes on this machine, {what}", "s",
               round(two["ready"], 1), round(whole["ready"], 1), round(two["ready"] / whole["ready"], 3),
               "reported", True),
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


def b8p_b10(stack: Stack) -> list[Result]:
    """The bench user's video list (B8p) and the library page (B10), idle and then while another
    user's two uploads transcode: their progress must not cost other users their cached lists."""
    from bench import seed

    src, token, uploader = clip_1080p("h264"), bench_token(), bench_token(UPLOADER)
    seed.library(100)
    web, worker = stack.web(), stack.worker()
    page = {"url": web.url + "/", "connections": 4, "threads": 1, "seconds": 5}
    listing = {"url": web.url + "/core/api/videos/", "headers": {"Authorization": f"Token {token}"}, "seconds": 4}
    wrk(**{**page, "seconds": 1})
    wrk(**{**listing, "seconds": 1})
    idle_page = min((wrk(**page) for _ in range(2)), key=lambda load: load.p99_ms)
    idle_list = max((wrk(**listing) for _ in range(2)), key=lambda load: load.rps)
    for _ in range(2):
        _upload(web, src, uploader)
    end = time.monotonic() + 120
    while _transcoding(worker) < 2:
        if time.monotonic() > end:
            raise RuntimeError("two transcodes did not start within 120 s")
        time.sleep(0.2)
    pages, lists = [], []
    for _ in range(2):
        pages.append(wrk(**page))
        lists.append(wrk(**listing))
        if _transcoding(worker) < 2:
            break  # a transcode ended: later rounds would not measure what these are about
    busy_page = min(pages, key=lambda load: load.p99_ms)
    busy_list = max(lists, key=lambda load: load.rps)
    still = _transcoding(worker)
    page_ratio, list_ratio = busy_page.p99_ms / idle_page.p99_ms, busy_list.rps / idle_list.rps
    return [
        Result("B8p", "/core/api/videos/ while two transcodes run, 16 connections", "req/s",
               round(busy_list.rps, 1), round(idle_list.rps, 1), round(list_ratio, 3), ">= 0.8x",
               list_ratio >= 0.8, {"idle_p99_ms": idle_list.p99_ms, "busy_p99_ms": busy_list.p99_ms,
                                   "rounds_while_transcoding": len(lists), "ffmpeg_running_after": still}),
        Result("B10", "/ p99 while two transcodes run, 4 connections", "ms", round(busy_page.p99_ms, 1),
               round(idle_page.p99_ms, 1), round(page_ratio, 3), "<= 1.5x", page_ratio <= 1.5,
               {"idle_rps": round(idle_page.rps, 1), "busy_rps": round(busy_page.rps, 1),
                "ffmpeg_running_after": still}),
    ]
