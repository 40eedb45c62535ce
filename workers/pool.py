"""The short node's pool: Celery's threads pool with the time limits it ignores enforced.

Celery enforces soft_time_limit and time_limit (workers/tasks.py) only in the prefork pool, whose
children it can signal and kill; the threads pool runs a task for as long as it likes, so one
self-check stuck on a dead socket would hold a thread for good. A prefork short@ node would cost
a process per slot on a 512 MB dyno (measured, the idle `worker` tree: 275 MiB PSS with four
threads, 427 MiB with four prefork processes), so this pool keeps threads and adds a watchdog
thread:

- past its soft limit a task gets SoftTimeLimitExceeded raised in its thread, as prefork does
  with a signal (Python delivers it at the task's next bytecode, so a call blocked in C sees it
  when it returns);
- past its hard limit the task is failed and acknowledged as prefork does, and then, since a
  thread cannot be killed, the node ends itself. The `worker` process (workers/__main__.py)
  starts it again at once, as prefork starts a new child. The other short tasks running at that
  moment end with it; they are periodic, and the next period sends them again.

Selected with `-P custom` and CELERY_CUSTOM_WORKER_POOL=workers.pool:TaskPool (Celery's hook
for a pool of one's own).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery.concurrency import thread
from celery.concurrency.base import apply_target
from celery.exceptions import SoftTimeLimitExceeded

log = logging.getLogger(__name__)

# How often the watchdog looks at the running tasks: limits are whole seconds.
WATCH_EVERY_SECONDS = 0.25
# The exit code of a node that ended itself over a hard time limit.
HARD_LIMIT_EXIT = 3


@dataclass
class _Running:
    thread_id: int
    started: float
    soft: float | None
    hard: float | None
    on_timeout: Callable[[bool, float], None] | None
    soft_raised: bool = field(default=False)


def _raise_in_thread(thread_id: int, exc: type[BaseException] | None) -> None:
    """Have `exc` raised in another thread at its next bytecode (None cancels a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else None)


class TaskPool(thread.TaskPool):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._running: dict[int, _Running] = {}
        self._watchdog = threading.Thread(target=self._watch, name="time-limits", daemon=True)

    def on_start(self) -> None:
        super().on_start()
        self._watchdog.start()

    def on_apply(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        callback: Callable[..., Any] | None = None,
        accept_callback: Callable[..., Any] | None = None,
        soft_timeout: float | None = None,
        timeout: float | None = None,
        timeout_callback: Callable[[bool, float], None] | None = None,
        **_: Any,
    ) -> thread.ApplyResult:
        def run() -> None:
            me = threading.get_ident()
            with self._lock:
                self._running[me] = _Running(me, time.monotonic(), soft_timeout, timeout, timeout_callback)
            try:
                apply_target(target, args, kwargs, callback, accept_callback)
            finally:
                with self._lock:
                    job = self._running.pop(me)
                    if job.soft_raised:
                        # Not raised yet (the task ended first): it must not hit the next task.
                        _raise_in_thread(me, None)

        return thread.ApplyResult(self.executor.submit(run))

    def _watch(self) -> None:
        while True:
            time.sleep(WATCH_EVERY_SECONDS)
            now = time.monotonic()
            with self._lock:
                for job in self._running.values():
                    elapsed = now - job.started
                    if job.hard and elapsed > job.hard:
                        self._end_node(job)
                    if job.soft and elapsed > job.soft and not job.soft_raised:
                        job.soft_raised = True
                        _raise_in_thread(job.thread_id, SoftTimeLimitExceeded)
                        self._tell(job, soft=True)

    def _end_node(self, job: _Running) -> None:
        # Celery's handler fails the task, runs its failure hooks and acknowledges it
        # (acks_late), so the message is not delivered again to get stuck again.
        try:
            self._tell(job, soft=False)
            log.critical("a task ran past its hard time limit of %s s; ending this node to start afresh", job.hard)
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
        finally:
            os._exit(HARD_LIMIT_EXIT)

    @staticmethod
    def _tell(job: _Running, *, soft: bool) -> None:
        # The watchdog must outlive any error here, or no limit would be enforced again.
        try:
            if job.on_timeout:
                job.on_timeout(soft, job.soft if soft else job.hard)
        except Exception:
            log.exception("the time-limit handler of a task failed")
