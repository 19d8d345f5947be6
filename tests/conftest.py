"""Shared pytest fixtures; helper functions live in tests/helpers (no test module imports
another)."""

import os
from pathlib import Path

import pytest
import torch

from helpers.cli import cli_env, run_entry, run_in_process


def pytest_configure(config):
    """Under pytest-xdist (`make test`) each worker takes an equal share of the cores: OpenMP
    threads of two workers competing for the same cores wait on each other."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(workers)))


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


@pytest.fixture
def run_cli(data_root, cache_dir, tmp_path):
    """Run a seqlab command the way a user does, in a temp dir, in this process; returns its exit
    code and output as a finished process."""
    env = cli_env(data_root, cache_dir, tmp_path / "outputs")

    def run(module: str, *overrides: str, expect: int = 0, stdin: str | None = None):
        return run_in_process(module, *overrides, cwd=tmp_path, env=env, expect=expect, stdin=stdin)

    return run


@pytest.fixture
def run_process(data_root, cache_dir, tmp_path):
    """As ``run_cli``, in a new process: for what needs one (exit codes of the interpreter,
    signals, imports of a fresh interpreter, several processes)."""
    env = cli_env(data_root, cache_dir, tmp_path / "outputs")

    def run(module: str, *overrides: str, expect: int = 0, timeout: int = 600):
        return run_entry(module, *overrides, cwd=tmp_path, env=env, expect=expect, timeout=timeout)

    return run
