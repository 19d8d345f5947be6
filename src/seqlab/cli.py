"""What every entry point shares: resolvers, one-line user errors, and quiet libraries."""

from __future__ import annotations

import functools
import logging
import os
import sys
import warnings
from collections.abc import Callable

from seqlab.config import check_group_overrides
from seqlab.errors import SeqlabError


def fail(message: str) -> None:
    """Print a user error as one line and exit with code 2 (tracebacks only with SEQLAB_DEBUG=1)."""
    print(f"seqlab: error: {message}", file=sys.stderr)
    sys.exit(2)


def entry_point(hydra_main: Callable[[], object]) -> Callable[[], None]:
    """Wrap a @hydra.main function: check group options first, turn SeqlabError into one line."""

    @functools.wraps(hydra_main)
    def main() -> None:
        try:
            check_group_overrides(sys.argv[1:])
        except SeqlabError as e:
            fail(str(e))
        hydra_main()

    return main


def user_errors(task: Callable) -> Callable:
    """Inside the Hydra task function: a SeqlabError ends the run with one line and exit code 2."""

    @functools.wraps(task)
    def wrapped(cfg):
        try:
            return task(cfg)
        except SeqlabError as e:
            if os.environ.get("SEQLAB_DEBUG"):
                raise
            fail(str(e))

    return wrapped


def quiet(ignore_warnings: bool) -> None:
    """Silence known-harmless library chatter so the run's own summary stands out."""
    if not ignore_warnings:
        return
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*Checkpoint directory.*exists and is not empty.*")
    warnings.filterwarnings(
        "ignore", message=".*Experiment logs directory.*exists and is not empty.*"
    )
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")
    warnings.filterwarnings("ignore", message=".*IterableDataset. has .__len__. defined.*")
    warnings.filterwarnings("ignore", category=UserWarning, module="torchmetrics")
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.seed"):
        logging.getLogger(name).setLevel(logging.WARNING)
