"""bin/deploy-heroku-container against a fake heroku and git that behave like the real ones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from domain.uploads.stores import ABORT_RULE_ID
from tests.conftest import BASE_DIR, need
from tests.ops import fake_heroku
from tests.ops.apt import ensure_commands
from tests.ops.stub_app import StubApp

SCRIPT = BASE_DIR / "bin" / "deploy-heroku-container"
APP = "practika-test"
HEAD = "a1" * 20
GIT_URL = f"https://git.heroku.com/{APP}.git"
BUCKET = "practika-deploy-test"
# Subcommands that change the platform (`ps:scale` without arguments only reads the formation).
MUTATING = {"apps:create", "stack:set", "addons:create", "config:set", "ps:scale", "push"}


class Platform:
    """The fake platform's state and call log, and a way to run the deploy script against it."""

    def __init__(self, tmp_path: Path, web_url: str, **state) -> None:
        self.bin = tmp_path / "fakebin"
        fake_heroku.install(self.bin)
        self.state_file = tmp_path / "heroku-state.json"
        self.log_file = tmp_path / "heroku-calls.jsonl"
        self.state_file.write_text(json.dumps(fake_heroku.initial_state(head=HEAD, web_url=web_url, **state)))
        self.log_file.write_text("")

    @property
    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def edit(self, fn) -> None:
        state = self.state
        fn(state)
        self.state_file.write_text(json.dumps(state))

    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]

    def deploy(self) -> subprocess.CompletedProcess:
        self.log_file.write_text("")
        env = {
            **os.environ,
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "FAKE_HEROKU_STATE": str(self.state_file),
            "FAKE_HEROKU_LOG": str(self.log_file),
            "DEPLOY_POLL_SECONDS": "0",
            "DEPLOY_SMOKE_WAIT": "0",
        }
        return subprocess.run([str(SCRIPT), APP], env=env, capture_output=True, text=True, timeout=120)


def summary(calls: list[list[str]]) -> list[str]:
    """Each call as 'subcommand [arguments that matter]', repeated polls collapsed into one."""
    out: list[str] = []
    for tool, *args in calls:
        words = [a for a in args if not a.startswith("-") and a not in (APP, str(BASE_DIR), GIT_URL)]
        if words[0] == "config:set":
            words = ["config:set", *sorted(w.split("=")[0] for w in words[1:])]
        line = " ".join(words[:1] if words[0] in ("push", "ls-remote", "rev-parse", "status") else words)
        if not out or out[-1] != line:
            out.append(line)
    return out


def mutations(calls: list[list[str]]) -> list[str]:
    return [line for line in summary(calls) if line.split(" ")[0] in MUTATING and line != "ps:scale"]


@pytest.fixture
def stub():
    with StubApp() as app:
        yield app


@pytest.fixture
def platform(tmp_path, stub) -> Platform:
    need("python3 on PATH (the deploy script parses JSON with it)", shutil.which("python3") is not None)
    return Platform(tmp_path, stub.url)


def test_the_first_deploy_makes_every_call_in_order(platform):
    result = platform.deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary(platform.calls()) == [
        "auth:whoami",
        "apps:info",
        "apps:create container",
        "apps:info",
        "addons",
        "addons:create heroku-postgresql:essential-0",
        "addons:create heroku-redis:mini",
        "addons:wait",
        "config",
        "config:set DJANGO_SETTINGS_MODULE SECRET_KEY SITE_URL",
        "status",
        "rev-parse",
        "ls-remote",
        "releases",
        "push",
        "releases",
        "ps:scale",
        "ps:scale web=1 worker=1 beat=1",
    ]
    app = platform.state["apps"][APP]
    assert app["stack"] == "container"
    assert app["formation"] == {"web": 1, "worker": 1, "beat": 1}
    assert app["config"]["SITE_URL"] == platform.state["web_url"].rstrip("/"), "the links in mails"
    assert app["releases"][-1]["status"] == "succeeded" and app["releases"][-1]["current"]
    assert "smoke: 7 of 7 checks pass" in result.stdout


def test_the_secret_key_is_made_once_and_never_printed(platform):
    first = platform.deploy()
    secret = platform.state["apps"][APP]["config"]["SECRET_KEY"]
    assert len(secret) >= 50
    second = platform.deploy()
    assert platform.state["apps"][APP]["config"]["SECRET_KEY"] == secret
    for run in (first, second):
        assert secret not in run.stdout + run.stderr


def test_a_second_run_changes_nothing(platform):
    assert platform.deploy().returncode == 0
    releases = len(platform.state["apps"][APP]["releases"])
    result = platform.deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert mutations(platform.calls()) == []
    assert "nothing to push" in result.stdout
    assert len(platform.state["apps"][APP]["releases"]) == releases


def test_it_keeps_exactly_one_beat_and_leaves_bigger_formations_alone(platform):
    platform.deploy()
    platform.edit(lambda s: s["apps"][APP]["formation"].update(web=3, beat=2))
    result = platform.deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert mutations(platform.calls()) == ["ps:scale beat=1"]
    assert platform.state["apps"][APP]["formation"] == {"web": 3, "worker": 1, "beat": 1}


def test_an_app_on_another_stack_is_moved_to_the_container_stack(platform):
    platform.edit(lambda s: s["apps"].update({APP: {"stack": "heroku-24", "addons": ["heroku-postgresql", "heroku-redis"],
                                                   "config": {"SECRET_KEY": "x" * 50, "DJANGO_SETTINGS_MODULE": "p"},
                                                   "releases": [], "formation": {}}}))
    result = platform.deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stack:set container" in summary(platform.calls())
    assert "addons:create" not in " ".join(summary(platform.calls()))


def test_a_failed_smoke_prints_the_rollback_to_the_previous_release(platform, stub):
    platform.deploy()
    platform.edit(lambda s: s.update(head="b2" * 20))
    stub.healthy = False
    result = platform.deploy()
    assert result.returncode != 0
    releases = platform.state["apps"][APP]["releases"]
    live, previous = releases[-1], releases[-2]
    assert live["current"] and live["description"] == "Deploy b2b2b2b2"  # the new code is live...
    # ...and the exact line to put the previous release back is printed.
    assert f"heroku rollback v{previous['version']} --app {APP}" in result.stderr.splitlines()
    assert "FAIL" in result.stdout


def test_a_failed_release_phase_keeps_the_old_release_and_exits_non_zero(tmp_path, stub):
    platform = Platform(tmp_path, stub.url)
    assert platform.deploy().returncode == 0
    live = next(r for r in platform.state["apps"][APP]["releases"] if r["current"])
    platform.edit(lambda s: s.update(head="c3" * 20, release_outcome="failed"))
    result = platform.deploy()
    assert result.returncode != 0
    assert f"Heroku kept v{live['version']} live" in result.stderr
    assert "ps:scale" not in summary(platform.calls())


def test_the_script_is_shellcheck_clean():
    need("shellcheck (apt-get install shellcheck)", not ensure_commands({"shellcheck": "shellcheck"}))
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_a_bucket_gets_a_rule_that_aborts_incomplete_multipart_uploads(platform, moto_endpoint):
    """Once the app has a bucket, every deploy makes sure S3 aborts abandoned multipart uploads
    itself, keeping the operator's own lifecycle rules; a second deploy changes nothing."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    versions = {"ID": "old-versions", "Status": "Enabled", "Filter": {"Prefix": ""},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": [versions]})
    try:
        assert platform.deploy().returncode == 0
        assert not [line for line in summary(platform.calls()) if line.startswith("run ")], "no bucket: nothing to check"
        platform.edit(lambda s: s["apps"][APP]["config"].update(
            AWS_STORAGE_BUCKET_NAME=BUCKET, AWS_S3_ENDPOINT_URL=moto_endpoint, AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing", AWS_S3_REGION_NAME="us-east-1",
        ))

        for outcome in ("added", "already in place"):
            result = platform.deploy()
            assert result.returncode == 0, result.stdout + result.stderr
            assert "run python manage.py storage_lifecycle" in summary(platform.calls())
            assert f"lifecycle rule {ABORT_RULE_ID}: {outcome}" in result.stdout
            rules = {rule["ID"]: rule for rule in s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]}
            assert set(rules) == {"old-versions", ABORT_RULE_ID}
            assert rules["old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
            assert rules[ABORT_RULE_ID]["Status"] == "Enabled"
            assert rules[ABORT_RULE_ID]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    finally:
        s3.delete_bucket_lifecycle(Bucket=BUCKET)
        s3.delete_bucket(Bucket=BUCKET)
