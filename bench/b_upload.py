"""B1–B3: uploads through gunicorn (multipart and tus) against a bare raw-body view."""

from __future__ import annotations

import http.client
import mmap
import os
import shutil
import subprocess
import threading
import time
from base64 import b64encode
from pathlib import Path
from urllib.parse import urlparse

from bench.env import Proc, Stack, rss_kib
from bench.files import blob
from bench.report import Result
from bench.users import bench_token

ROUNDS = 2
# What the upload page's client aims each PATCH at (PATCH_TARGET_MS in tus.js).
PATCH_TARGET_SECONDS = 5


def _big() -> Path:
    """The 1 GiB upload; BENCH_UPLOAD_MIB shrinks it for trying the bench out."""
    return blob(int(os.environ.get("BENCH_UPLOAD_MIB", "1024")))


def _curl(args: list[str], url: str) -> float:
    """Seconds curl took to send the body and get a 2xx answer."""
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-H", "Expect:",
         *args, url],
        capture_output=True, text=True, timeout=600,
    )
    code, seconds = (out.stdout.split() + ["000", "0"])[:2]
    if not code.startswith("2"):
        raise RuntimeError(f"upload to {url} answered {code}: {out.stderr}")
    return float(seconds)


def multipart(web: Proc, path: Path, token: str) -> float:
    return _curl(["-H", f"Authorization: Token {token}", "-F", f"file=@{path};type=video/mp4",
                  "-F", "title=bench"], web.url + "/core/api/videos/")


def raw(base: Proc, path: Path) -> float:
    return _curl(["-X", "POST", "-T", str(path), "-H", "Content-Type: application/octet-stream"],
                 base.url + "/bare/upload")


def tus(web: Proc, path: Path, token: str) -> tuple[float, list[int]]:
    """A tus client like the upload page's (web/pages/static/pages/tus.js): one connection, the
    chunk size the server asks for, grown after each PATCH to what the last one's speed sends in
    PATCH_TARGET_SECONDS, in whole chunks, up to the server's maximum. Seconds from creation to
    the last PATCH's answer, and the chunk sizes sent."""
    url = urlparse(web.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    common = {"Tus-Resumable": "1.0.0", "Authorization": f"Token {token}"}
    size = path.stat().st_size
    started = time.perf_counter()
    conn.request("POST", "/core/api/uploads/", headers={
        **common, "Upload-Length": str(size),
        "Upload-Metadata": f"filename {b64encode(b'bench.mp4').decode()},title {b64encode(b'bench').decode()}",
    })
    created = conn.getresponse()
    created.read()
    if created.status != 201:
        raise RuntimeError(f"tus creation answered {created.status}")
    location = created.getheader("Location")
    base = int(created.getheader("Practika-Upload-Chunk-Size"))
    most = int(created.getheader("Practika-Upload-Chunk-Max"))
    chunk, sizes = base, []
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        view = memoryview(data)
        offset = 0
        while offset < size:
            body = view[offset:offset + chunk]
            began = time.perf_counter()
            conn.request("PATCH", location, body=body, headers={
                **common, "Upload-Offset": str(offset), "Content-Length": str(len(body)),
                "Content-Type": "application/offset+octet-stream",
            })
            answer = conn.getresponse()
            answer.read()
            if answer.status != 204:
                raise RuntimeError(f"tus PATCH at {offset} answered {answer.status}")
            sizes.append(len(body))
            offset = int(answer.getheader("Upload-Offset"))
            body.release()
            fits = int(sizes[-1] / max(time.perf_counter() - began, 1e-3) * PATCH_TARGET_SECONDS) // base * base
            chunk = min(max(fits, base), most)
        view.release()
    seconds = time.perf_counter() - started
    if not answer.getheader("Practika-Video-Id"):
        raise RuntimeError("the last PATCH did not name the video it created")
    conn.close()
    return seconds, sizes


class PeakRss:
    """The largest resident size any of a server's workers reaches while the block runs."""

    def __init__(self, web: Proc) -> None:
        self.pids = web.children()
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak_kib = max(self.peak_kib, *(rss_kib(pid) for pid in self.pids))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        # The kernel's high-water mark catches a spike between two samples.
        self.peak_kib = max(self.peak_kib, *(rss_kib(pid, "VmHWM") for pid in self.pids))


def _warm(web: Proc, token: str) -> None:
    """Every worker has imported and run the upload path once before anything is measured."""
    small = blob(1)
    for _ in range(4):
        multipart(web, small, token)


def _fresh_peak(stack: Stack, path: Path, token: str) -> tuple[float, float]:
    """A new web process, warmed, then one upload: seconds and the workers' peak RSS in MiB."""
    web = stack.web()
    try:
        _warm(web, token)
        with PeakRss(web) as rss:
            seconds = multipart(web, path, token)
        return seconds, rss.peak_kib / 1024
    finally:
        stack.stop(web)
        _clear(stack)


def _clear(stack: Stack) -> None:
    shutil.rmtree(stack.media_root / "videos", ignore_errors=True)
    shutil.rmtree(stack.workdir / "raw", ignore_errors=True)
    (stack.workdir / "raw").mkdir()


def _cp_mb_s(stack: Stack, path: Path) -> float:
    copy = stack.workdir / "cp-copy"
    started = time.perf_counter()
    shutil.copyfile(path, copy)
    seconds = time.perf_counter() - started
    copy.unlink()
    return path.stat().st_size / seconds / 1e6


def b1_b3(stack: Stack) -> list[Result]:
    token = bench_token()
    big, small = _big(), blob(100)
    size = big.stat().st_size
    base = stack.baseline()
    raw(base, blob(1))
    app_s, base_s = [], []
    peaks = []
    for _ in range(ROUNDS):
        base_s.append(raw(base, big))
        _clear(stack)
        seconds, peak = _fresh_peak(stack, big, token)
        app_s.append(seconds)
        peaks.append(peak)
    small_s, small_peak = _fresh_peak(stack, small, token)
    value, baseline = size / min(app_s) / 1e6, size / min(base_s) / 1e6
    ratio = value / baseline
    growth = min(peaks) - small_peak
    cp = _cp_mb_s(stack, big)
    return [
        Result("B1", f"multipart upload of {size // 2**20} MiB into media storage", "MB/s", round(value, 1),
               round(baseline, 1), round(ratio, 3), ">= 0.5", ratio >= 0.5,
               {"cp_mb_s": round(cp, 1), "app_seconds": app_s, "base_seconds": base_s}),
        Result("B3", f"web worker peak RSS, {size // 2**20} MiB upload minus 100 MiB upload", "MiB",
               round(growth, 1), None, round(growth, 1), "< 20 MiB", growth < 20,
               {"peak_1gib_mib": [round(p, 1) for p in peaks], "peak_100mib_mib": round(small_peak, 1),
                "seconds_100mib": small_s}),
    ]


def b2(stack: Stack) -> list[Result]:
    token = bench_token()
    big = _big()
    size = big.stat().st_size
    base, web = stack.baseline(), stack.web()
    raw(base, blob(1))
    tus(web, blob(16), token)
    app_s, base_s, patches = [], [], []
    for _ in range(ROUNDS):
        base_s.append(raw(base, big))
        seconds, sizes = tus(web, big, token)
        app_s.append(seconds)
        patches.append(len(sizes))
        _clear(stack)
    value, baseline = size / min(app_s) / 1e6, size / min(base_s) / 1e6
    ratio = value / baseline
    first, largest = sizes[0], max(sizes)
    return [Result("B2", f"tus upload of {size // 2**20} MiB, {first // 2**20}-{largest // 2**20} MiB chunks", "MB/s",
                   round(value, 1), round(baseline, 1), round(ratio, 3), ">= 0.7", ratio >= 0.7,
                   {"chunk_bytes": first, "largest_chunk_bytes": largest, "patches": patches,
                    "app_seconds": app_s, "base_seconds": base_s})]
