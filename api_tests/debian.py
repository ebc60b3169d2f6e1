"""Debian packages a test needs (Chromium, PgBouncer): used where present, installed with
apt-get when the tests run as root on a machine that has it, skipped otherwise."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def ensure_package(binary: str, package: str) -> str | None:
    """None once `binary` exists (installing `package` if we may); otherwise why not."""
    if os.path.exists(binary):
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"no {binary} and no root apt-get to install {package}"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", package]
    # xdist workers may get here together: one installs, the others wait and find it there.
    with open(Path(tempfile.gettempdir()) / f"homeward-apt-{package}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for command in (install, ["apt-get", "update"], install):
            if os.path.exists(binary):
                return None
            subprocess.run(command, env=env, capture_output=True, timeout=1200, check=False)
    return None if os.path.exists(binary) else f"apt-get could not install {package}"
