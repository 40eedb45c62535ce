"""Every dependency, the transitive ones too, is locked with its hashes and audited.

requirements.txt and requirements-test.txt name what Practika depends on; requirements.lock and
requirements-test.lock (`make lock`) pin everything those pull in, with hashes, and are what
`make run`, `make test` and the image install, with --require-hashes. pip-audit checks the locks.
The image's ffmpeg is Debian's, pinned in the Dockerfile (test_container.py checks the build).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BASE_DIR

ALLOWLIST = Path(__file__).with_name("pip-audit-allow.txt")
LOCKS = {"requirements.txt": "requirements.lock", "requirements-test.txt": "requirements-test.lock"}
# The vulnerability data lives on PyPI; a machine that cannot reach it cannot audit. CI with
# network access sets PIP_AUDIT_REQUIRED=true so an unreachable service fails instead of skipping.
REQUIRED = os.environ.get("PIP_AUDIT_REQUIRED") == "true"
_PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(;[^\\]*)?")
FFMPEG_PIN = re.compile(r"^ARG FFMPEG_VERSION=(\d+:[0-9.]+-\S+)$", re.MULTILINE)


def allowed() -> dict[str, str]:
    entries = {}
    for line in ALLOWLIST.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            vuln_id, _, reason = line.strip().partition(" ")
            entries[vuln_id] = reason.strip()
    return entries


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(filename: str) -> dict[str, set[str]]:
    """name → the versions pinned (a lock may pin two, each under its own environment marker)."""
    found: dict[str, set[str]] = {}
    for line in (BASE_DIR / filename).read_text().splitlines():
        if match := _PIN.match(line):
            found.setdefault(canonical(match.group(1)), set()).add(match.group(2))
    return found


def locked_entries(filename: str) -> list[str]:
    """Each package entry of a lock, its continuation lines joined."""
    text = (BASE_DIR / filename).read_text().replace("\\\n", " ")
    return [line for line in text.splitlines() if _PIN.match(line)]


def test_every_allowed_vulnerability_has_a_reason():
    assert all(allowed().values()), f"allowlist lines without a reason: {[k for k, v in allowed().items() if not v]}"


@pytest.mark.parametrize("requirements, lock", LOCKS.items())
def test_the_lock_pins_every_requirement_at_its_version(requirements, lock):
    """A pin moved in requirements*.txt without `make lock` fails here, not at the next install."""
    locked = pins(lock)
    stale = {name: (versions, locked.get(name)) for name, versions in pins(requirements).items()
             if not versions <= locked.get(name, set())}
    assert not stale, f"{lock} is out of date with {requirements} (run make lock): {stale}"


@pytest.mark.parametrize("lock", LOCKS.values())
def test_every_locked_package_has_its_hashes(lock):
    entries = locked_entries(lock)
    assert len(entries) > len(pins("requirements.txt")), "the lock holds no transitive dependency"
    unhashed = [entry.split()[0] for entry in entries if "--hash=sha256:" not in entry]
    assert not unhashed, f"{lock} has packages without hashes: {unhashed}"


def test_the_test_lock_keeps_the_runtime_locks_versions():
    runtime, test = pins("requirements.lock"), pins("requirements-test.lock")
    differ = {name: (versions, test.get(name)) for name, versions in runtime.items() if test.get(name) != versions}
    assert not differ, f"tests would run other versions than production: {differ}"


def test_installs_take_the_locks_with_hashes_required():
    makefile = (BASE_DIR / "Makefile").read_text()
    for lock in LOCKS.values():
        assert f"pip install --quiet --require-hashes -r {lock}" in makefile
    assert "--require-hashes -r /tmp/requirements.lock" in (BASE_DIR / "Dockerfile").read_text()


def test_the_image_pins_debians_ffmpeg():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert FFMPEG_PIN.search(dockerfile), "the Dockerfile does not pin ffmpeg's version (ARG FFMPEG_VERSION)"
    assert '"ffmpeg=${FFMPEG_VERSION}"' in dockerfile


@pytest.mark.slow
@pytest.mark.parametrize("lock", LOCKS.values())
def test_locked_dependencies_have_no_unexplained_vulnerability(lock):
    # Hashed, fully pinned requirements need no resolution: pip-audit reads them as they are.
    audit = subprocess.run(
        [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "-f", "json", "--disable-pip", "-r", lock],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=300,
    )
    report = json.loads(audit.stdout or "{}")
    deps = report.get("dependencies", [])
    unaudited = [d["name"] for d in deps if "skip_reason" in d]
    if not deps or unaudited:
        what = f"{len(unaudited)} packages ({', '.join(unaudited[:5])}, ...)" if unaudited else "anything"
        message = f"pip-audit could not reach PyPI's vulnerability data for {what}: {audit.stderr[-500:]}"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    found = {(d["name"], d["version"], v["id"]) for d in deps for v in d.get("vulns", [])}
    unexplained = sorted(f for f in found if f[2] not in allowed())
    assert not unexplained, f"known vulnerabilities in {lock} without a reason in {ALLOWLIST.name}: {unexplained}"
