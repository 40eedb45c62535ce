"""Shared fixtures: real services, real processes, real media.

With CI=true a test that needs PostgreSQL, Redis, ffmpeg or Chromium fails when it is missing;
elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests
from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI") == "true"
VENV_BIN = str(Path(sys.executable).parent)


def need(what: str, available: bool) -> None:
    if available:
        return
    if CI:
        pytest.fail(f"{what} is required but missing (CI=true makes this a failure, not a skip)")
    pytest.skip(f"{what} is not available here")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


@pytest.fixture(autouse=True)
def fresh_video_lists():
    """Each test's rows are rolled back, not deleted, so nothing moved the change tokens: without
    this, a list page cached by an earlier test could be served in this one."""
    from domain.videos.changes import every_list_stale

    every_list_stale()


@pytest.fixture(autouse=True)
def fresh_health_snapshot():
    """/core/health/ answers anonymous callers from a run kept in this process and in the cache
    for a few seconds: an earlier test's run must not answer this one."""
    from domain.health.checks import endpoint_snapshot_forget

    endpoint_snapshot_forget()


@pytest.fixture(autouse=True)
def no_heartbeat_outside_the_test_transaction(request, monkeypatch):
    """A processing job's heartbeat thread has a database connection of its own, which cannot
    see the rows of a test that runs inside one open transaction (django_db without
    transaction=True): it would take its video for deleted and stop the job's ffmpeg. Such tests
    run the job in-process with no heartbeat; tests with committed rows keep it."""
    marker = request.node.get_closest_marker("django_db")
    if "transactional_db" in request.fixturenames or (marker and marker.kwargs.get("transaction")):
        return
    import threading

    from domain.videos import attempts

    monkeypatch.setattr(attempts, "HEARTBEAT_SECONDS", threading.TIMEOUT_MAX)


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    try:
        ok = bool(url) and redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        ok = False
    need(f"Redis at REDIS_URL={url!r}", ok)
    return url


@pytest.fixture
def clean_redis(redis_url) -> str:
    """An empty Redis database, so no message from an earlier test reaches this one's worker."""
    redis.Redis.from_url(redis_url).flushdb()
    return redis_url


@pytest.fixture
def story(db):
    """The practice-loop cast of tests/practice.py: a space, its coach, members, an exercise and a reply."""
    from tests.practice import practice_story
    return practice_story()


@pytest.fixture
def postgres(db) -> None:
    need("PostgreSQL (DATABASE_URL=postgres://...)", connection.vendor == "postgresql")


@pytest.fixture
def ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    need("ffmpeg on PATH", path is not None)
    return path


@pytest.fixture
def clip(tmp_path, ffmpeg):
    """Factory for real clips under this test's tmp_path: clip("a.mov", rotate=90) -> Path."""
    from tests.media import make_clip

    def make(name: str = "clip.mp4", **options) -> Path:
        return make_clip(tmp_path / name, **options)

    return make


def procfile() -> dict[str, str]:
    lines = (BASE_DIR / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    stopped_in: float | None = field(default=None)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.output():
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not print {text!r} in {timeout} s:\n{self.output()[-4000:]}")

    def signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 30) -> int:
        started = time.monotonic()
        self.signal(signal.SIGTERM)
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            code = self.popen.wait()
            self.stopped_in = None
            return code
        self.stopped_in = time.monotonic() - started
        return code


@pytest.fixture
def live_env(transactional_db, clean_redis, media_root, tmp_path) -> dict[str, str]:
    """Environment for real child processes that share this test's database and media."""
    need("PostgreSQL (DATABASE_URL=postgres://...)", connection.vendor == "postgresql")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "practika_project.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": clean_redis,
        "MEDIA_ROOT": str(media_root),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
    }
    return env


@pytest.fixture
def processes(live_env, tmp_path):
    """Start commands (Procfile lines) as real processes; whatever is left is stopped after,
    down to the last child, even one in a session of its own whose leader is gone."""
    started: list[Proc] = []
    mark = secrets.token_hex(8)

    def start(name: str, command: str | None = None, **env: str) -> Proc:
        log = tmp_path / f"{name}-{len(started)}.log"
        popen = subprocess.Popen(
            ["bash", "-c", command or procfile()[name]],
            cwd=BASE_DIR,
            env={**live_env, **env, TEST_PROCESS_MARK: mark},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(name, popen, log)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.popen.poll() is None:
            proc.signal(signal.SIGKILL)
            proc.popen.wait()
    kill_marked(mark)


# Every process a test starts carries this in its environment, and so do their children that
# inherit it (the worker's nodes do; ffmpeg, whose environment is filtered, dies with its node).
TEST_PROCESS_MARK = "PRACTIKA_TEST_PROCESS"


def kill_marked(mark: str) -> None:
    """SIGKILL every process whose environment carries TEST_PROCESS_MARK=mark: killing a process
    group misses a child that started a session of its own (the worker's nodes do) or outlived
    the group's leader."""
    needle = f"\0{TEST_PROCESS_MARK}={mark}\0".encode()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in b"\0" + (entry / "environ").read_bytes():
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:  # gone meanwhile, or not ours to read
            pass


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30, **kwargs) -> requests.Response:
    end = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < end:
        try:
            return requests.get(url, timeout=5, **kwargs)
        except requests.ConnectionError as exc:
            last = exc
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s: {last}")


@pytest.fixture(scope="session")
def production_env(tmp_path_factory) -> dict[str, str]:
    """What a process needs to run with production settings here: a secret, no TLS to the local
    PostgreSQL, and static files collected once per session into a folder of its own."""
    env = {
        "DJANGO_SETTINGS_MODULE": "practika_project.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_SSLMODE": "disable",  # the local server has no TLS; Heroku's requires it
        "STATIC_ROOT": str(tmp_path_factory.mktemp("static")),
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=BASE_DIR, env={**os.environ, **env}, check=True, timeout=300,
    )
    return env


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """moto's standalone S3 server on a free port: the S3 API over HTTP, as boto3 and the AWS
    CLI speak it."""
    binary = Path(sys.executable).parent / "moto_server"
    need("moto_server (moto[server])", binary.exists() or shutil.which("moto_server") is not None)
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = subprocess.Popen(
        [str(binary) if binary.exists() else "moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait_http(endpoint)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)
