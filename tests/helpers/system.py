"""Debian packages a test needs (a browser, a Slurm cluster): installed with apt-get when missing
and the tests run as root, else the test is skipped saying why."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def ensure_debian_packages(what: str, packages: list[str], binaries: list[str]) -> None:
    """Make sure every one of `binaries` is on PATH, installing `packages` if one is missing."""
    if all(shutil.which(b) for b in binaries):
        return
    if not shutil.which("apt-get") or not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip(f"{what} is not installed and can't be here (needs root + apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"could not install {what} ({' '.join(cmd)}: {tail})")
    missing = [b for b in binaries if not shutil.which(b)]
    if missing:
        pytest.skip(f"apt-get installed {' '.join(packages)} but {', '.join(missing)} is missing")
