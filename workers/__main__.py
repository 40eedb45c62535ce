"""The `worker` process type: two Celery nodes in one dyno.

Video jobs and short jobs (self-checks, reaping) get nodes of their own, so a long transcode
never delays a self-check. The video node runs the prefork pool (Celery's time limits kill a
child); the short node runs threads, cheaper in memory, with those limits enforced by
workers/pool.py, which ends the node past a hard limit. Signals are passed on to both nodes. A
node that exits on its own is started again (up to MAX_RESTARTS a minute); past that, or while
stopping, the other is stopped too, so the platform restarts the whole process rather than run
half a worker.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import subprocess
import sys
import time

import django
from django.conf import settings

from workers.ffmpeg import lowest_cpu_weight


def _node(name: str, queue: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "practika_project", "worker",
        "-n", f"{name}@%h", "-Q", queue, "-l", settings.LOG_LEVEL,
        "--without-gossip", "--without-mingle", *extra,
    ]


log = logging.getLogger("workers")

PR_SET_PDEATHSIG = 1


def _background_child(parent: int) -> None:
    """Runs in each node before exec. The nodes have sessions of their own, so killing this
    process's group (SIGKILL, the OOM killer) would leave them running as orphans that keep
    taking jobs; the kernel kills them when this process dies instead."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
    # Web requests on the same machine (make run, a one-box install) go first while jobs run.
    lowest_cpu_weight()


# A node that exits on its own is started again in place: kombu can raise an "unrecoverable"
# error while closing its channel when Redis drops with a message still unacknowledged, and one
# Redis blip should not send the whole dyno into the platform's crash back-off. Crashing again
# and again is a real fault: past MAX_RESTARTS within RESTART_WINDOW seconds the worker exits.
MAX_RESTARTS, RESTART_WINDOW = 5, 60.0


def main() -> int:
    # Started as a program, before anything set Django up: settings hold every knob.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "practika_project.settings")
    django.setup()
    guard = functools.partial(_background_child, os.getpid()) if sys.platform.startswith("linux") else None
    commands = {
        "video": _node("video", settings.VIDEO_QUEUE, "-c", str(settings.VIDEO_WORKER_CONCURRENCY)),
        "short": _node("short", settings.SHORT_QUEUE, "-P", "custom", "-c", "4"),
    }
    # `-P custom` is Celery's hook for a pool of one's own: threads with time limits enforced.
    environments = {"video": os.environ, "short": {**os.environ, "CELERY_CUSTOM_WORKER_POOL": "workers.pool:TaskPool"}}

    def start(name: str) -> subprocess.Popen:
        return subprocess.Popen(commands[name], env=environments[name], start_new_session=True, preexec_fn=guard)

    nodes = {name: start(name) for name in commands}
    stopping = False

    def forward(signum, _frame):
        nonlocal stopping
        stopping = True
        for node in nodes.values():
            if node.poll() is None:
                node.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, forward)

    restarts: list[float] = []
    while True:
        pid, status = os.wait()
        code = os.waitstatus_to_exitcode(status)
        name = next((n for n, node in nodes.items() if node.pid == pid), None)
        if name is None:
            continue
        now = time.monotonic()
        restarts = [t for t in restarts if now - t < RESTART_WINDOW]
        if stopping or len(restarts) >= MAX_RESTARTS:
            break
        log.warning("the %s node exited with %s; starting it again", name, code)
        restarts.append(now)
        nodes[name] = start(name)
    forward(signal.SIGTERM, None)
    for node in nodes.values():
        if node.pid != pid:
            node.wait()
    return code if code > 0 else 0


if __name__ == "__main__":
    sys.exit(main())
