"""Podman on these machines (../shared/CONTAINERS.md): runc, cgroupfs, host network, low ulimits.

There is no Docker Hub here, so the base image is a Debian-packaged stand-in for
python:3.11-slim-bookworm, made once with debootstrap and cached under /var/tmp.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.ops.apt import ensure_commands

CACHE = Path("/var/tmp/practika-container")
ROOTFS_TAR = CACHE / "bookworm-minbase.tar"
DEBIAN_IMAGE = "localhost/debian:bookworm"
BASE_IMAGE = "localhost/practika-python-base:bookworm"
APT_TOOLS = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

# What python:3.11-slim-bookworm has and the Dockerfile relies on.
BASE_CONTAINERFILE = f"""\
FROM {DEBIAN_IMAGE}
RUN apt-get update \\
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates tzdata netbase \\
    && rm -rf /var/lib/apt/lists/*
"""

# What the container test measured (image size, build and stop times), printed at the end of the
# run by tests/ops/conftest.py whether the tests passed or not.
REPORT: dict[str, str] = {}

GLOBAL_FLAGS = ["--runtime", "runc", "--cgroup-manager=cgroupfs"]
RUN_FLAGS = ["--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def podman(*args: str, check: bool = True, timeout: float = 900, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["podman", *GLOBAL_FLAGS, *args], check=check, timeout=timeout, text=True,
        capture_output=True, **kwargs,
    )


def install_tools() -> list[str]:
    """apt-get install what is missing; returns what is still missing afterwards."""
    return ensure_commands(APT_TOOLS)


def image_exists(name: str) -> bool:
    return podman("image", "exists", name, check=False).returncode == 0


def ensure_base_image() -> str:
    """The stand-in base, built once: debootstrap (~30 s) then apt inside it."""
    if image_exists(BASE_IMAGE):
        return BASE_IMAGE
    CACHE.mkdir(parents=True, exist_ok=True)
    if not image_exists(DEBIAN_IMAGE):
        if not ROOTFS_TAR.exists():
            rootfs = CACHE / "rootfs"
            shutil.rmtree(rootfs, ignore_errors=True)
            subprocess.run(
                ["debootstrap", "--variant=minbase", "bookworm", str(rootfs)],
                check=True, capture_output=True, timeout=900,
            )
            partial = ROOTFS_TAR.with_suffix(".partial")
            subprocess.run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], check=True, timeout=300)
            partial.rename(ROOTFS_TAR)
            shutil.rmtree(rootfs, ignore_errors=True)
        podman("import", str(ROOTFS_TAR), DEBIAN_IMAGE)
    containerfile = CACHE / "base.Containerfile"
    containerfile.write_text(BASE_CONTAINERFILE)
    podman("build", *RUN_FLAGS, "-t", BASE_IMAGE, "-f", str(containerfile), str(CACHE))
    return BASE_IMAGE


def build_project_image(context: Path, tag: str) -> subprocess.CompletedProcess:
    base = ensure_base_image()
    return podman(
        # Docker's format, as Heroku's builder makes: the OCI format drops HEALTHCHECK.
        "build", "--format", "docker", *RUN_FLAGS,
        "-v", f"{HOST_CA_BUNDLE.parent}:/etc/ssl/host-certs:ro",
        "--build-arg", f"PIP_CERT=/etc/ssl/host-certs/{HOST_CA_BUNDLE.name}",
        "--build-arg", f"BASE_IMAGE={base}",
        "-t", tag, "-f", str(context / "Dockerfile"), str(context),
    )
