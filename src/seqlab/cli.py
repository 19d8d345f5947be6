"""What every entry point shares: one-line user errors, failed sweep jobs, quiet libraries."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

from hydra.errors import (
    ConfigCompositionException,
    InstantiationException,
    OverrideParseException,
)
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

import seqlab.resolvers  # noqa: F401  (registers the resolvers conf/ uses)
from seqlab.errors import SeqlabError

HELP_FLAGS = ("--help", "-h", "--hydra-help")
_collector_held = False  # entry_point turned the garbage collector off; end_startup turns it on
_startup_over = False  # the first command of this process is past its start-up


def end_startup(freeze: bool = True) -> None:
    """Turn the garbage collector back on, with what start-up loaded frozen.

    `entry_point` turns the collector off: importing torch, Lightning and Hydra and composing the
    config leave hundreds of thousands of long-lived objects, and while the heap grows Python's
    full collections walk all of them again and again (the cost is measured by
    `experiments/benchmarks/startup.py`). A command calls this once its imports are done. Frozen
    objects are never walked again, which also keeps forked DataLoader workers from writing to
    (and so copying) the pages that hold them; the price is the garbage frozen with them, once.
    Only start-up is frozen: the first command of a process,
    never a later job of a sweep (that would make an earlier job's garbage immortal), and nothing
    when `train()` and friends are called from Python rather than from a command (a notebook's
    heap stays collectable). `freeze=False` only turns the collector back on (a job that failed
    before its imports were done).
    """
    global _collector_held, _startup_over
    if not _collector_held:
        return
    if freeze:
        gc.freeze()
    gc.enable()
    _collector_held, _startup_over = False, True


def fail(message: str) -> None:
    """Print a user error as one line and exit with code 2 (tracebacks only with SEQLAB_DEBUG=1)."""
    print(f"seqlab: error: {message}", file=sys.stderr)
    sys.exit(2)


SIGINT_EXIT_CODE = 130  # what a shell reports for a process ended by Ctrl-C


def entry_point(
    hydra_main: Callable[[], object], rewrite: Callable[[list[str]], list[str]] | None = None
) -> Callable[[], None]:
    """Wrap a @hydra.main function: check group options first, turn SeqlabError into one line.

    Args:
        rewrite: optional argv rewrite applied first (e.g. `resume=<run folder>`).
    """

    @functools.wraps(hydra_main)
    def main() -> None:
        global _collector_held
        if not _startup_over and gc.isenabled():
            gc.disable()  # until end_startup
            _collector_held = True
        try:
            _main()
        except KeyboardInterrupt:  # outside training (which saves on Ctrl-C): start-up, testing
            print("\nseqlab: interrupted (Ctrl-C)", file=sys.stderr, flush=True)
            sys.exit(SIGINT_EXIT_CODE)
        finally:
            end_startup(freeze=False)

    def _main() -> None:
        try:
            args = rewrite(sys.argv[1:]) if rewrite else sys.argv[1:]
            if not any(a in HELP_FLAGS for a in args):  # help stays light: config imports torch
                from seqlab.config import check_group_overrides

                check_group_overrides(args)
        except SeqlabError as e:
            fail(str(e))
        sys.argv = [sys.argv[0], *args]
        os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # Hydra raises instead of printing
        try:
            hydra_main()
        except (ConfigCompositionException, OverrideParseException) as e:
            if os.environ.get("SEQLAB_DEBUG"):
                raise
            fail(composition_error(e))
        except InterpolationResolutionError as e:  # a seqlab resolver outside the job (launcher)
            cause = e.__cause__ or e.__context__
            if not isinstance(cause, SeqlabError) or os.environ.get("SEQLAB_DEBUG"):
                raise
            fail(str(cause))
        except OSError as e:  # a folder that cannot be created or written (e.g. the run folder)
            if os.environ.get("SEQLAB_DEBUG"):
                raise
            where = f"{e.filename}: " if e.filename else ""
            fail(
                f"cannot write {where}{e.strerror or e}; set paths.log_dir to a writable folder "
                "with free space (SEQLAB_DEBUG=1 shows where it happened)"
            )

    return main


def composition_error(error: Exception) -> str:
    """Hydra's multi-line composition error as one line that names the key and the fix."""
    text = str(error)
    missing = re.match(r"Could not override '([^']+)'.*?use (\+\S+)", text, re.DOTALL)
    if missing and "not in struct" in f"{text} {error.__cause__}":
        key, plus = missing.groups()
        return (
            f"unknown config key '{key}'; check its spelling (--cfg job prints every key), "
            f"or add a new key with {plus}"
        )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    cause = str(error.__cause__).splitlines()[0] if error.__cause__ else ""
    return " ".join(lines[:2] + ([cause] if cause and cause not in lines else []))


def user_errors(task: Callable) -> Callable:
    """Inside the Hydra task function: a SeqlabError ends a run with one line and exit code 2.

    In a multirun a failing job is recorded as failed and the sweep goes on with the next job.
    """

    @functools.wraps(task)
    def wrapped(cfg):
        from seqlab.runs.sweeps import in_multirun, record_failure

        try:
            return task(cfg)
        except Exception as e:
            if isinstance(e, InstantiationException) and isinstance(e.__cause__, SeqlabError):
                e = e.__cause__  # a constructor rejected its config: its message is the error
            if isinstance(e, MissingMandatoryValue):  # a `???` key left out (e.g. ckpt_path)
                key = e.full_key or "?"
                e = SeqlabError(
                    f"config key '{key}' is required: pass {key}=... (--help lists the keys)"
                )
            if in_multirun():
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                message = first if isinstance(e, SeqlabError) else f"{type(e).__name__}: {first}"
                record_failure(e, message)
                return float("nan")
            if not isinstance(e, SeqlabError) or os.environ.get("SEQLAB_DEBUG"):
                raise
            discard_run_folder()
            fail(str(e))
        finally:
            end_startup(freeze=False)  # a job that failed before its imports were done

    return wrapped


def discard_run_folder() -> None:
    """A refused single run leaves no folder behind (closing the log Hydra opened in it first)."""
    from hydra.core.hydra_config import HydraConfig

    from seqlab.runs.folder import discard_if_untouched

    if not HydraConfig.initialized():
        return
    folder = HydraConfig.get().runtime.output_dir
    for handler in logging.getLogger().handlers[:]:
        if isinstance(handler, logging.FileHandler) and handler.baseFilename.startswith(folder):
            handler.close()
            logging.getLogger().removeHandler(handler)
    discard_if_untouched(folder)


class _Held(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def held_run_log(folder: str | Path, hold: bool = True):
    """Keep what is logged inside the block out of the run folder's log file until the block
    succeeds: a resume refused by its checks leaves the folder exactly as it was."""
    root = logging.getLogger()
    files = [
        h
        for h in root.handlers
        if hold and isinstance(h, logging.FileHandler) and h.baseFilename.startswith(str(folder))
    ]
    if not files:
        yield
        return
    held = _Held()
    for handler in files:
        root.removeHandler(handler)
    root.addHandler(held)
    try:
        yield
    except BaseException:
        held.records.clear()
        raise
    finally:
        root.removeHandler(held)
        for handler in files:
            root.addHandler(handler)
    for record in held.records:
        for handler in files:
            if record.levelno >= handler.level:
                handler.handle(record)


def quiet(ignore_warnings: bool) -> None:
    """Silence known-harmless library chatter so the run's own summary stands out."""
    if not ignore_warnings:
        return
    for message in (
        ".*does not have many workers.*",
        ".*Checkpoint directory.*exists and is not empty.*",
        ".*Experiment logs directory.*exists and is not empty.*",
        ".*LeafSpec.*is deprecated.*",
        ".*IterableDataset. has .__len__. defined.*",
        ".*The .srun. command is available on your system but is not used.*",  # a local run on a
        # machine with Slurm's clients (a login node): launcher=slurm is how seqlab goes to Slurm
    ):
        warnings.filterwarnings("ignore", message=message)
    warnings.filterwarnings("ignore", category=UserWarning, module="torchmetrics")
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.seed"):
        logging.getLogger(name).setLevel(logging.WARNING)
