"""Running seqlab's commands the way a user does: in this process (fast) or as a subprocess.

``run_in_process`` calls a command's ``main()`` with ``sys.argv``, environment, working folder and
stdin as a shell would give them, and returns what a subprocess would (exit code, stdout, stderr).
It is what CLI tests use unless they need a real process: console scripts, signals, what a fresh
interpreter imports, or several processes (DDP).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from hydra.core.global_hydra import GlobalHydra

# A training run of a few batches: enough for every file of a run folder.
QUICK = ["size=tiny", "trainer.max_epochs=1", "trainer.limit_train_batches=4",
         "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "loader.batch_size=16"]  # fmt: skip
# QUICK with 3 training batches and no progress bar: runs whose output is checked line by line.
QUIET = ["size=tiny", "loader.batch_size=16", "trainer.max_epochs=1", "trainer.limit_train_batches=3",
         "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
         "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip
COMMANDS = {"train": "seqlab.train", "evaluate": "seqlab.evaluate", "generate": "seqlab.generate",
            "report": "seqlab.report", "plan": "seqlab.plan"}  # fmt: skip


def cli_env(
    data_root: Path, cache_dir: Path, log_dir: Path, test_callbacks: bool = False
) -> dict[str, str]:
    """Environment for a command under test: shared data, shared cache, its own outputs.

    ``test_callbacks``: ``tests/`` on PYTHONPATH, so overrides can name ``helpers.*`` callbacks.
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
        tests = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [tests, env.get("PYTHONPATH")]))
    return env


def _failed(proc: subprocess.CompletedProcess, expect: int) -> AssertionError:
    return AssertionError(
        f"exit {proc.returncode} (expected {expect})\nSTDOUT:\n{proc.stdout[-4000:]}"
        f"\nSTDERR:\n{proc.stderr[-4000:]}"
    )


def run_entry(
    module: str,
    *args: str,
    cwd: Path,
    env: dict,
    expect: int = 0,
    stdin: str | None = None,
    timeout: int = 600,
) -> subprocess.CompletedProcess:
    """``python -m seqlab.<module> args...`` in a new process; another exit code fails."""
    proc = subprocess.run(
        [sys.executable, "-m", COMMANDS.get(module, f"seqlab.{module}"), *args],
        cwd=cwd,
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != expect:
        raise _failed(proc, expect)
    return proc


@contextlib.contextmanager
def _process_like(cwd: Path, env: dict, argv: list[str], stdin: str):
    """This process, for one command, as a new one would be: argv, environment, folder, stdin,
    a fresh run stamp and Hydra state; everything restored afterwards."""
    import seqlab.data.cache as cache
    import seqlab.runs.folder as folder
    import seqlab.runs.sweeps as sweeps

    cache._verified.clear()  # a new process verifies each cache entry it uses again

    saved = (sys.argv, dict(os.environ), os.getcwd(), sys.stdin, folder._STAMP)
    sys.argv, sys.stdin, folder._STAMP = argv, io.StringIO(stdin), None
    sweeps._TYPED_ARGV = None
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    GlobalHydra.instance().clear()
    try:
        yield
    finally:
        GlobalHydra.instance().clear()
        urllib.request.install_opener(None)  # its proxies were read from the command's environment
        sys.argv, sys.stdin, folder._STAMP = saved[0], saved[3], saved[4]
        sweeps._TYPED_ARGV = None
        os.environ.clear()
        os.environ.update(saved[1])
        os.chdir(saved[2])
        # A command with Hydra's job_logging=disabled (seqlab-generate) disables every existing
        # logger; the next command, in a new process, would find them enabled.
        for logger in logging.Logger.manager.loggerDict.values():
            if isinstance(logger, logging.Logger):
                logger.disabled = False


def run_in_process(
    module: str,
    *args: str,
    cwd: Path,
    env: dict,
    expect: int = 0,
    stdin: str | None = None,
) -> subprocess.CompletedProcess:
    """A command's ``main()`` in this process; returns its exit code and output like ``run_entry``.

    Output is what Python code writes to ``sys.stdout`` / ``sys.stderr`` (prints, logging, the
    progress bar, rich tables); C libraries writing to the file descriptors are not captured.
    """
    name = COMMANDS.get(module, f"seqlab.{module}")
    main = importlib.import_module(name).main
    out, err, code = io.StringIO(), io.StringIO(), 0
    with (
        _process_like(cwd, env, [name, *args], stdin or ""),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            main()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    proc = subprocess.CompletedProcess([name, *args], code, out.getvalue(), err.getvalue())
    if code != expect:
        raise _failed(proc, expect)
    return proc


def run_folders(root: Path) -> list[Path]:
    """Run folders (those holding run.json) under an outputs folder."""
    return sorted(p.parent for p in root.rglob("run.json"))


def error_line(proc: subprocess.CompletedProcess) -> str:
    """The one-line error of a failed run (and check there is nothing else on stderr)."""
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("seqlab: error: "), lines[0]
    return lines[0].removeprefix("seqlab: error: ")
