"""The `worker` process type: two Celery nodes in one dyno.

Video jobs and short jobs (self-checks, reaping) get nodes of their own, so a long transcode
never delays a self-check. Signals are passed on to both nodes; when either exits the other is
stopped too, so the platform restarts the whole process rather than run half a worker.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys

from django.conf import settings


def _node(name: str, queue: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "practika_project", "worker",
        "-n", f"{name}@%h", "-Q", queue, "-l", os.environ.get("LOG_LEVEL", "INFO"),
        "--without-gossip", "--without-mingle", *extra,
    ]


PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Runs in each node before exec. The nodes have sessions of their own, so killing this
    process's group (SIGKILL, the OOM killer) would leave them running as orphans that keep
    taking jobs; the kernel kills them when this process dies instead."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "practika_project.settings")
    import django

    django.setup()
    video_concurrency = os.environ.get("VIDEO_WORKER_CONCURRENCY", "2")
    guard = functools.partial(_die_with_parent, os.getpid()) if sys.platform.startswith("linux") else None
    nodes = [
        subprocess.Popen(
            _node("video", settings.VIDEO_QUEUE, "-c", video_concurrency), start_new_session=True, preexec_fn=guard
        ),
        subprocess.Popen(
            _node("short", settings.SHORT_QUEUE, "-P", "threads", "-c", "4"), start_new_session=True, preexec_fn=guard
        ),
    ]

    def forward(signum, _frame):
        for node in nodes:
            if node.poll() is None:
                node.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, forward)

    pid, status = os.wait()
    code = os.waitstatus_to_exitcode(status)
    forward(signal.SIGTERM, None)
    for node in nodes:
        if node.pid != pid:
            node.wait()
    return code if code > 0 else 0


if __name__ == "__main__":
    sys.exit(main())
