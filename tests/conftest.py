"""Shared pytest fixtures."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Root of the shared datasets: $SEQLAB_DATA_DIR, else ../shared/data beside the repo."""
    env = os.environ.get("SEQLAB_DATA_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root}; set SEQLAB_DATA_DIR to the data folder")
    return root


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine OpenMP threads
    waiting for each other made model tests 5x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One tokenized-data cache for the whole session, so CLI tests share their work."""
    return tmp_path_factory.mktemp("cache")


def cli_env(
    data_root: Path, cache_dir: Path, log_dir: Path, test_callbacks: bool = False
) -> dict[str, str]:
    """Environment for an entry point under test: shared data, shared cache, its own outputs.

    `test_callbacks`: `tests/` on PYTHONPATH, so overrides can add `chaos.*` and `probes.*`.
    """
    env = {
        **os.environ,
        "SEQLAB_DATA_DIR": str(data_root),
        "SEQLAB_CACHE_DIR": str(cache_dir),
        "SEQLAB_LOG_DIR": str(log_dir),
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
    }
    if test_callbacks:
        tests = str(Path(__file__).resolve().parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [tests, env.get("PYTHONPATH")]))
    return env


def run_entry(
    module: str,
    *args: str,
    cwd: Path,
    env: dict,
    expect: int = 0,
    stdin: str | None = None,
    timeout: int = 600,
) -> subprocess.CompletedProcess:
    """Run `python -m seqlab.<module> args...`; a different exit code fails with its output."""
    proc = subprocess.run(
        [sys.executable, "-m", f"seqlab.{module}", *args],
        cwd=cwd,
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != expect:
        raise AssertionError(
            f"exit {proc.returncode} (expected {expect})\nSTDOUT:\n{proc.stdout[-4000:]}"
            f"\nSTDERR:\n{proc.stderr[-4000:]}"
        )
    return proc


@pytest.fixture
def run_cli(data_root, cache_dir, tmp_path):
    """Run a seqlab entry point the way a user does, in a temp dir; returns the finished process."""
    env = cli_env(data_root, cache_dir, tmp_path / "outputs")

    def run(module: str, *overrides: str, expect: int = 0, timeout: int = 600):
        return run_entry(module, *overrides, cwd=tmp_path, env=env, expect=expect, timeout=timeout)

    return run


def run_folders(root: Path) -> list[Path]:
    """Run folders (those holding run.json) under an outputs folder."""
    return sorted(p.parent for p in root.rglob("run.json"))
