"""Fixtures of the CLI tests that hand seqlab bad input: a shared work folder with the network
refused, a runner per test, and small finished runs to damage."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.cli import QUIET, cli_env, run_folders, run_in_process

OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}  # refused


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, data_root, cache_dir):
    tmp = tmp_path_factory.mktemp("bad_inputs")
    env = {**cli_env(data_root, cache_dir, tmp / "outputs"), "OMP_NUM_THREADS": "1", **OFFLINE}
    return tmp, env


@pytest.fixture
def cli(workdir, tmp_path):
    """Run an entry point in its own folder: `cli("train", *args, expect=2, env={...})`."""
    tmp, base = workdir

    def run(module: str, *args: str, expect: int = 2, env: dict | None = None):
        env = {**base, "SEQLAB_LOG_DIR": str(tmp_path / "outputs"), **(env or {})}
        return run_in_process(module, *args, cwd=tmp_path, env=env, expect=expect)

    return run


@pytest.fixture(scope="module")
def scan_run(workdir) -> Path:
    """A tiny finished SCAN run (GRU, word tokenizer) with checkpoints/last.ckpt."""
    tmp, env = workdir
    run_in_process("train", *QUIET, cwd=tmp, env=dict(env, SEQLAB_LOG_DIR=str(tmp / "scan")))
    [run] = run_folders(tmp / "scan")
    return run


@pytest.fixture(scope="module")
def lm_ckpt(workdir) -> Path:
    tmp, env = workdir
    run_in_process("train", "experiment=shakespeare_gpt", "trainer.max_steps=2", "test=false",
                   "trainer.val_check_interval=2", "trainer.limit_val_batches=1",
                   cwd=tmp, env=dict(env, SEQLAB_LOG_DIR=str(tmp / "lm")))  # fmt: skip
    [run] = run_folders(tmp / "lm")
    return run / "checkpoints" / "last.ckpt"
