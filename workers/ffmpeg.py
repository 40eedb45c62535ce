"""Finding ffmpeg and running it, or anything else that parses uploads, inside a fence.

An upload is hostile until proven otherwise, and demuxers and decoders have a long history of
memory bugs. So every child that reads one gets a CPU-time and an address-space limit, a lower
priority and a thread cap (a 2-core dyno must keep serving pages while it transcodes), and a
wall-clock timeout. Inputs are opened through the file protocol only, with the demuxer forced to
the probed one, which is never a format that follows references to other files (HLS and DASH
playlists, concat lists, image sequences, subfile, QuickTime external data references): a crafted
upload could otherwise make ffmpeg read /etc/passwd, or another user's video, into our output.
"""

from __future__ import annotations

import contextvars
import ctypes
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from django.conf import settings

# Demuxers (their first short name) that read one self-contained file and hold real video.
VIDEO_FORMATS = ("mov", "matroska", "avi", "mpegts", "mpeg", "flv", "asf", "ogg")
# Demuxers of still images: the probe opens them only to tell the owner what the upload is.
IMAGE_FORMATS = ("gif", "image2", "apng", "webp")
# Options that switch off the few reference-following features these demuxers have.
FORMAT_OPTIONS = {"mov": ("-enable_drefs", "0", "-use_absolute_path", "0")}

NICENESS = 10
# How running into RLIMIT_AS reads in ffmpeg's (and Python's) last words.
OUT_OF_MEMORY_SIGNS = ("Cannot allocate memory", "malloc of size", "failed to map segment", "MemoryError")


class FFmpegError(Exception):
    """A fenced child failed, hit a limit or ran out of time; str() ends with its last log lines."""

    def __init__(self, message: str, *, over_limit: bool = False) -> None:
        super().__init__(message)
        self.over_limit = over_limit


class Stopped(Exception):
    """The child was stopped on purpose through a StopSwitch: its job was called off."""


class StopSwitch:
    """Lets another thread stop the fenced children of one job.

    Children started by run_limited while `with switch:` is in force (in that thread) are
    tracked; stop() kills the one running at once and any started after it, and run_limited
    then raises Stopped. A video attempt's heartbeat thread uses it to end ffmpeg as soon as
    the attempt lost its claim (the video was deleted or recovered elsewhere).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self._stopped = False
        self._token: contextvars.Token | None = None

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            running = list(self._running)
        for proc in running:
            _kill_group(proc)

    def _track(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._running.add(proc)
            stopped = self._stopped
        if stopped:
            _kill_group(proc)

    def _untrack(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._running.discard(proc)

    def __enter__(self) -> StopSwitch:
        self._token = _current_switch.set(self)
        return self

    def __exit__(self, *exc_info) -> None:
        _current_switch.reset(self._token)


_current_switch: contextvars.ContextVar[StopSwitch | None] = contextvars.ContextVar("stop_switch", default=None)


def ffmpeg_binary() -> str:
    """ffmpeg from PATH (Debian's in the image), else the static build imageio-ffmpeg ships."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


# What a child sees of the worker's environment: where programs and shared libraries are, the
# locale, the temporary folder, and where Python finds code (the probe child imports
# workers.probe_child and PyAV with the worker's own interpreter). Nothing else: a decoder that a
# crafted upload takes over must find no SECRET_KEY, DATABASE_URL, REDIS_URL or AWS key to read.
CHILD_ENV_NAMES = frozenset({"PATH", "LD_LIBRARY_PATH", "LANG", "TMPDIR", "PYTHONPATH", "PYTHONHOME"})


def child_env() -> dict[str, str]:
    """The whole environment of ffmpeg and every other child that reads media."""
    env = {name: value for name, value in os.environ.items() if name in CHILD_ENV_NAMES or name.startswith("LC_")}
    # glibc reserves 64 MiB of address space per malloc arena and thread; without a cap a
    # many-threaded encoder trips RLIMIT_AS long before it uses that much memory.
    env["MALLOC_ARENA_MAX"] = "2"
    return env


def input_args(
    path: Path, fmt: str, *, seek: float | None = None, read_seconds: float | None = None
) -> list[str]:
    """Arguments that open one untrusted file: file protocol only, demuxer forced and vetted."""
    if fmt not in VIDEO_FORMATS:
        raise ValueError(f"refusing to open {fmt!r}: not a self-contained video format")
    args = [
        "-protocol_whitelist", "file",
        "-format_whitelist", ",".join(VIDEO_FORMATS),
        "-f", fmt,
        *FORMAT_OPTIONS.get(fmt, ()),
        "-threads", str(settings.FFMPEG_THREADS),
    ]  # fmt: skip
    if seek is not None:
        args += ["-ss", f"{seek:.3f}"]
    if read_seconds is not None:
        args += ["-t", f"{read_seconds:.3f}"]
    # The "file:" prefix keeps a path from ever being read as another protocol's URL.
    return [*args, "-i", f"file:{path}"]


# How often ffmpeg reports its progress. The transcode publishes its HLS segments when it does:
# at ffmpeg's default of half a second, waiting for the report was a third of the wait for the
# first segments.
PROGRESS_EVERY_SECONDS = 0.1


def run_ffmpeg(
    args: Sequence[str],
    *,
    timeout: float,
    cpu_seconds: float,
    on_seconds: Callable[[float], None] | None = None,
    cwd: Path | None = None,
) -> None:
    """Run ffmpeg with args (in cwd); on_seconds gets the output position (s) from `-progress` as
    it moves."""
    argv = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y"]
    argv += ["-progress", "pipe:1", "-stats_period", str(PROGRESS_EVERY_SECONDS), *args]

    def on_line(line: str) -> None:
        key, _, value = line.partition("=")
        # out_time_us is "N/A" until the first frame is written.
        if on_seconds and key == "out_time_us" and value.strip().lstrip("-").isdigit():
            on_seconds(max(0, int(value)) / 1_000_000)

    run_limited(argv, timeout=timeout, cpu_seconds=cpu_seconds, on_line=on_line, cwd=cwd)


# Linux only: ffmpeg runs in a session of its own, so when the worker process that started it is
# killed outright (SIGKILL, the OOM killer) nothing else would stop it transcoding on as an orphan.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
PR_SET_PDEATHSIG = 1


def lowest_cpu_weight() -> None:
    """Give the calling process's session the lowest CPU weight there is. With the kernel's
    autogroup scheduling (on by default), CPU is first shared fairly between sessions and nice only
    orders processes within one; a child in a session of its own would take as much CPU as the
    web server whatever its nice. Meant for a child between fork and exec: one write, no logging."""
    try:
        fd = os.open("/proc/self/autogroup", os.O_WRONLY)
    except OSError:
        return  # no autogroups here: nice alone applies
    try:
        os.write(fd, b"19")
    except OSError:
        pass
    finally:
        os.close(fd)


def _limit_child(cpu_seconds: int, memory: int) -> Callable[[], None]:
    parent = os.getpid()

    def apply() -> None:
        # Runs in the child between fork and exec: plain system calls only.
        if _prctl is not None:
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the worker died before prctl took effect
                os._exit(1)
        os.nice(NICENESS)
        lowest_cpu_weight()
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_limited(
    argv: Sequence[str],
    *,
    timeout: float,
    cpu_seconds: float,
    on_line: Callable[[str], None],
    cwd: Path | None = None,
) -> None:
    """Run argv fenced; each stdout line goes to on_line as it arrives. Raises FFmpegError, or
    Stopped when the StopSwitch in force stopped it."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=child_env(),
        start_new_session=True,
        preexec_fn=_limit_child(int(cpu_seconds) + 1, settings.FFMPEG_MAX_MEMORY_BYTES),
    )
    switch = _current_switch.get()
    if switch is not None:
        switch._track(proc)
    tail: deque[str] = deque(maxlen=20)
    drain = threading.Thread(target=lambda: tail.extend(_lines(proc.stderr)), daemon=True)
    drain.start()
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        _kill_group(proc)

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        for line in _lines(proc.stdout):
            on_line(line)
        code = proc.wait()
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        timer.cancel()
        drain.join(5)
        if switch is not None:
            switch._untrack(proc)
    if code == 0 and not timed_out.is_set():
        return
    log = "\n".join(tail)
    name = Path(argv[0]).name
    if switch is not None and switch.stopped:
        raise Stopped(f"{name} was stopped: its job was called off")
    if timed_out.is_set():
        raise FFmpegError(f"{name} ran past its {timeout:.0f} s timeout\n{log}", over_limit=True)
    if code in (-signal.SIGXCPU, -signal.SIGKILL):
        raise FFmpegError(f"{name} hit its {cpu_seconds:.0f} CPU-second limit\n{log}", over_limit=True)
    if any(sign in log for sign in OUT_OF_MEMORY_SIGNS):
        message = f"{name} ran out of its {settings.FFMPEG_MAX_MEMORY_BYTES} bytes of memory\n{log}"
        raise FFmpegError(message, over_limit=True)
    raise FFmpegError(f"{name} exited with {code}\n{log}")


def _lines(stream) -> Iterator[str]:
    for raw in iter(stream.readline, b""):
        yield raw.decode("utf-8", "replace").rstrip("\n")
    stream.close()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def check_ffmpeg() -> dict:
    """The self-check's view of the ffmpeg the worker runs: its version, or an error."""
    out = subprocess.run(
        [ffmpeg_binary(), "-version"], capture_output=True, text=True, timeout=5, check=True, env=child_env()
    )
    match = re.match(r"ffmpeg version (\S+)", out.stdout)
    return {"version": match.group(1) if match else out.stdout.split("\n", 1)[0]}
