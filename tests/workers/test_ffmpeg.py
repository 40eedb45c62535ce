"""The fence around every child that parses uploads: limits, priority, inputs, and which ffmpeg."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import imageio_ffmpeg
import pytest

from workers import ffmpeg, pipeline
from workers.probe import OVER_LIMIT, OverLimit, probe_file


def python_child(code: str, *, timeout: float = 60, cpu_seconds: float = 30) -> list[str]:
    lines: list[str] = []
    argv = [sys.executable, "-c", code]
    ffmpeg.run_limited(argv, timeout=timeout, cpu_seconds=cpu_seconds, on_line=lines.append)
    return lines


def test_a_child_runs_niced_with_cpu_and_memory_limits(settings):
    settings.FFMPEG_MAX_MEMORY_BYTES = 1536 * 1024**2
    code = (
        "import os, resource; print(os.nice(0)); "
        "print(resource.getrlimit(resource.RLIMIT_CPU)[0]); print(resource.getrlimit(resource.RLIMIT_AS)[0])"
    )
    niceness, cpu, memory = python_child(code, cpu_seconds=30)
    assert int(niceness) == min(19, os.nice(0) + ffmpeg.NICENESS)
    assert int(cpu) == 31
    assert int(memory) == 1536 * 1024**2


def own_autogroup() -> str:
    """This process's autogroup, or "" where autogroups do not apply: no such kernel feature, or a
    process in a CPU cgroup of its own (as CI's is), where nice alone orders the processes."""
    try:
        return Path("/proc/self/autogroup").read_text().strip()
    except OSError:
        return ""


@pytest.mark.skipif(not own_autogroup(), reason="autogroups do not apply to this process")
def test_a_child_s_session_takes_the_lowest_cpu_weight():
    # nice alone would not reach across sessions: the web server's requests must go first.
    (autogroup,) = python_child("print(open('/proc/self/autogroup').read().strip())")
    (own,) = own_autogroup().split()[:1]
    assert autogroup.endswith(" nice 19")
    assert not autogroup.startswith(own + " ")  # a session, and so an autogroup, of its own


def test_a_child_that_runs_past_its_timeout_is_killed():
    with pytest.raises(ffmpeg.FFmpegError, match="timeout") as caught:
        python_child("import time; time.sleep(60)", timeout=0.5)
    assert caught.value.over_limit


def test_a_child_that_spins_is_stopped_by_its_cpu_limit():
    with pytest.raises(ffmpeg.FFmpegError, match="CPU-second limit") as caught:
        python_child("while True: pass", cpu_seconds=1)
    assert caught.value.over_limit


def test_a_child_cannot_take_more_memory_than_allowed(settings):
    grab = "x = bytearray(768 * 1024 * 1024); print('got it')"
    assert python_child(grab) == ["got it"]
    settings.FFMPEG_MAX_MEMORY_BYTES = 512 * 1024**2
    with pytest.raises(ffmpeg.FFmpegError, match="ran out of its 536870912 bytes") as caught:
        python_child(grab)
    assert caught.value.over_limit


def test_ffmpeg_out_of_memory_is_told_apart_from_a_damaged_file(clip, tmp_path, settings):
    src = clip("clip.mp4", width=1920, height=1080, seconds=0.2)
    probe = probe_file(src, max_seconds=60)
    settings.FFMPEG_MAX_MEMORY_BYTES = 100 * 1024**2  # not even its libraries fit
    with pytest.raises(OverLimit, match=OVER_LIMIT):
        rungs = pipeline.ladder(probe)
        pipeline.transcode_mp4(src, probe, rungs, {rung.label: tmp_path / rung.label for rung in rungs})
    assert sorted(tmp_path.iterdir()) == [src]


def test_a_failing_child_reports_the_end_of_its_log():
    with pytest.raises(ffmpeg.FFmpegError, match="exited with 3\n.*bad input") as caught:
        python_child("import sys; print('bad input', file=sys.stderr); sys.exit(3)")
    assert not caught.value.over_limit


def test_inputs_are_opened_as_local_files_in_the_probed_format_only(settings):
    settings.FFMPEG_THREADS = 1
    args = ffmpeg.input_args(Path("/media/v/original"), "matroska")
    assert args[args.index("-protocol_whitelist") + 1] == "file"
    assert args[args.index("-f") + 1] == "matroska"
    assert args[args.index("-threads") + 1] == "1"
    assert args[-2:] == ["-i", "file:/media/v/original"]
    mov = ffmpeg.input_args(Path("a"), "mov")
    assert mov[mov.index("-enable_drefs") + 1] == "0"
    for demuxer in ("hls", "concat", "image2", "subfile", "dash", "tee", "png_pipe"):
        with pytest.raises(ValueError):
            ffmpeg.input_args(Path("a"), demuxer)


def test_ffmpeg_comes_from_path_when_it_is_there(ffmpeg):
    assert ffmpeg.__class__ is str
    from workers.ffmpeg import ffmpeg_binary

    assert ffmpeg_binary() == ffmpeg


def test_without_ffmpeg_on_path_the_pip_one_does_every_step(clip, tmp_path, monkeypatch):
    src = clip("phone.mov", container="mov", rotate=90, width=640, height=360)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert ffmpeg.ffmpeg_binary() == imageio_ffmpeg.get_ffmpeg_exe()

    probe = probe_file(src, max_seconds=60)  # PyAV: no ffprobe needed either
    assert (probe.width, probe.height) == (360, 640)
    pipeline.make_poster(src, probe, tmp_path / "poster.jpg")
    assert (tmp_path / "poster.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert pipeline.remux_faststart(src, probe, tmp_path / "remux.mp4").label == "360p"
    progress: list[float] = []
    dests = {"360p": tmp_path / "360p.mp4"}
    pipeline.transcode_mp4(src, probe, pipeline.ladder(probe), dests, on_progress=progress.append)
    assert progress[-1] == 1.0
    for name in ("remux.mp4", "360p.mp4"):
        again = probe_file(tmp_path / name, max_seconds=60)
        assert (again.width, again.height, again.browser_safe) == (360, 640, True)


def test_progress_reports_the_output_position(clip):
    src = clip("clip.mp4", seconds=3)
    seen: list[float] = []
    args = [*ffmpeg.input_args(src, "mov"), "-f", "null", "-"]
    ffmpeg.run_ffmpeg(args, timeout=60, cpu_seconds=60, on_seconds=seen.append)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(3.0, abs=0.1)


# --- what a child may see of the worker's environment ---------------------------------------

SECRETS = {
    "SECRET_KEY": "django-secret-for-no-child",
    "DATABASE_URL": "postgres://worker:db-password@db.internal:5432/practika",
    "REDIS_URL": "rediss://:redis-password@redis.internal:6380",
    "AWS_ACCESS_KEY_ID": "AKIAWORKERONLY",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-for-no-child",
    "HEALTH_ALERT_WEBHOOK_URL": "https://hooks.example.com/secret-token",
    "SOME_FUTURE_SETTING": "nobody-listed-this-one",
}


@pytest.fixture
def worker_secrets(monkeypatch) -> dict[str, str]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    return SECRETS


def assert_only_what_a_child_needs(env: dict[str, str]) -> None:
    leaked = {name for name, value in env.items() if name in SECRETS or value in SECRETS.values()}
    assert not leaked, f"the child saw {sorted(leaked)}"
    assert {name for name in env if not name.startswith("LC_")} <= ffmpeg.CHILD_ENV_NAMES | {"MALLOC_ARENA_MAX"}
    assert env["PATH"] == os.environ["PATH"] and env["LC_ALL"] == "C.UTF-8"


def test_a_fenced_child_gets_no_secret_of_the_worker(worker_secrets):
    (dumped,) = python_child("import json, os; print(json.dumps(dict(os.environ)))")
    env = json.loads(dumped)
    assert_only_what_a_child_needs(env)
    assert env["MALLOC_ARENA_MAX"] == "2"


@pytest.fixture
def recording_ffmpeg(ffmpeg, tmp_path, monkeypatch):
    """Put the real ffmpeg first on PATH behind a shell script that writes down the environment
    it was started with (to a path fixed in the script: the environment is what is in question);
    returns a function that reads the environments written so far."""

    def install():
        folder = tmp_path / "recording-bin"
        folder.mkdir()
        script = folder / "ffmpeg"
        # The shell sets PWD itself, so that one variable is not what ffmpeg was given.
        script.write_text(f'#!/bin/sh\n/usr/bin/env -u PWD -0 > "{folder}/env-$$"\nexec "{ffmpeg}" "$@"\n')
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")

        def environments() -> list[dict[str, str]]:
            found = []
            for record in sorted(folder.glob("env-*")):
                pairs = (entry.split("=", 1) for entry in record.read_text().split("\0") if entry)
                found.append(dict(pairs))
            return found

        return environments

    return install


def test_ffmpeg_gets_no_secret_of_the_worker_wherever_it_runs(worker_secrets, recording_ffmpeg, clip, tmp_path):
    from workers.canary import canary_clip
    from workers.ffmpeg import check_ffmpeg

    src = clip("clip.mp4", seconds=1, width=320, height=240)
    environments = recording_ffmpeg()
    probe = probe_file(src, max_seconds=60)
    pipeline.make_poster(src, probe, tmp_path / "poster.jpg")
    rungs = pipeline.ladder(probe)
    pipeline.transcode_mp4(src, probe, rungs, {rung.label: tmp_path / f"{rung.label}.mp4" for rung in rungs})
    canary_clip(tmp_path / "canary.mp4")
    assert check_ffmpeg()["version"]

    started = environments()
    assert len(started) == 5, "poster, transcode, the join, canary clip and version check each ran ffmpeg"
    for env in started:
        assert_only_what_a_child_needs(env)
