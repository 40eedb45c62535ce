"""Procfile, heroku.yml and the Dockerfile describe the same processes with the same commands."""

from __future__ import annotations

import json
import re

import yaml

from tests.conftest import BASE_DIR, procfile

PROCESS_TYPES = {"web", "worker", "beat", "release"}


def heroku_yml() -> dict[str, str]:
    manifest = yaml.safe_load((BASE_DIR / "heroku.yml").read_text())
    commands = {}
    for name, spec in manifest["run"].items():
        commands[name] = spec if isinstance(spec, str) else " && ".join(spec["command"])
    commands["release"] = " && ".join(manifest["release"]["command"])
    return commands


def dockerfile() -> str:
    return (BASE_DIR / "Dockerfile").read_text()


def dockerfile_cmd() -> str:
    return " ".join(json.loads(re.search(r"^CMD (\[.*\])$", dockerfile(), re.M).group(1)))


def test_procfile_and_heroku_yml_name_the_same_process_types():
    assert set(procfile()) == PROCESS_TYPES
    assert set(heroku_yml()) == PROCESS_TYPES


def test_procfile_and_heroku_yml_run_the_same_commands():
    assert heroku_yml() == procfile()


def test_every_process_runs_from_the_one_image_heroku_yml_builds():
    manifest = yaml.safe_load((BASE_DIR / "heroku.yml").read_text())
    assert manifest["build"]["docker"] == {"web": "Dockerfile"}
    assert manifest["release"]["image"] == "web"
    for name, spec in manifest["run"].items():
        assert isinstance(spec, str) or spec.get("image") == "web", name


def test_the_dockerfile_cmd_is_the_web_command():
    assert dockerfile_cmd() == procfile()["web"]


def test_the_dockerfile_keeps_its_promises():
    text = dockerfile()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim-bookworm$", text, re.M)
    assert len(re.findall(r"^FROM \$\{BASE_IMAGE\}", text, re.M)) == 2, "multi-stage, one base"
    assert re.search(r"^ENV .*DJANGO_SETTINGS_MODULE=practika_project\.production", text, re.M | re.S)
    assert re.search(r"^HEALTHCHECK .*\n?.*/core/health/live/", text, re.M)
    assert re.search(r"^USER (?!root|0\b)", text, re.M)
    assert "collectstatic" in text and "requirements-test" not in text
    # Build-time values never reach the runtime environment.
    env_lines = " ".join(re.findall(r"^ENV .*(?:\n\s+.*)*", text, re.M))
    assert "SECRET_KEY" not in env_lines and "PIP_CERT" not in env_lines


def test_the_image_context_leaves_tests_and_local_state_out():
    ignored = set((BASE_DIR / ".dockerignore").read_text().split())
    assert {"tests", "requirements-test.txt", ".git", ".venv", ".var", ".env"} <= ignored
