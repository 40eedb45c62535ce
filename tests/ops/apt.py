"""Debian packages the ops tests need, installed when missing (CI machines start bare)."""

from __future__ import annotations

import shutil
import subprocess


def ensure_commands(packages: dict[str, str]) -> list[str]:
    """apt-get install the package of each missing command; returns the commands still missing."""
    missing = sorted({pkg for cmd, pkg in packages.items() if shutil.which(cmd) is None})
    if missing and shutil.which("apt-get"):
        env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], capture_output=True, timeout=900, env=env)
    return [cmd for cmd in packages if shutil.which(cmd) is None]
