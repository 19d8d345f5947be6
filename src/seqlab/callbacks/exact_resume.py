"""Exact resume after a crash or a preemption, and checkpoints that a crash cannot corrupt.

Lightning restores weights, optimizer, scheduler and loop counters from a checkpoint. For a resumed
run to end bit for bit where the uninterrupted run ends, `ExactResume` adds:

* the data position: the epoch whose batch order is being trained on and how many of its batches are
  done; the resumed run's training sampler starts there (the DataModule's `train_start`);
* randomness as a function of that position: before every training batch the python, numpy and
  torch generators are reseeded from (seed, epoch, batch, rank), so dropout after a resume is the
  dropout of the uninterrupted run, whatever ran in between (validation, data-loader start-up);
* a checkpoint on SIGTERM (cluster preemption, `kill`), written once the current step and its
  validation are done, then exit code 143; under Slurm the same on the time-limit warning signal,
  and the job is requeued (`seqlab.runs.slurm`);
* checkpoint files written to a temporary file, flushed to disk and renamed into place
  (`AtomicCheckpointIO`), and read back with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import shlex
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException

from seqlab.errors import SeqlabError
from seqlab.runs.checkpoints import load_checkpoint
from seqlab.runs.slurm import preemption_signal, requeue

log = logging.getLogger(__name__)

SIGTERM_EXIT_CODE = 128 + signal.SIGTERM  # what a shell reports for a process ended by SIGTERM
SIGINT_EXIT_CODE = 128 + signal.SIGINT  # ... and by Ctrl-C


class _RecordedWrites:
    """A file torch.save writes through, keeping the OSError it turns into a RuntimeError."""

    def __init__(self, f: Any):
        self.f, self.error = f, None

    def write(self, data: Any) -> int:
        try:
            return self.f.write(data)
        except OSError as e:
            self.error = e
            raise

    def flush(self) -> None:
        self.f.flush()

    @property
    def name(self) -> str:
        return self.f.name


def _save_failed(path: Path, error: OSError) -> str:
    """One line: what failed, and which checkpoint is still good (or that none is yet)."""
    others = sorted(path.parent.glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    if path.is_file():
        kept = f"{path} still holds the previous one"
    elif others:
        kept = f"the last good checkpoint is {others[-1]}"
    else:
        kept, then = "no checkpoint exists yet", "start the run again"
    if path.is_file() or others:
        then = f"continue with {shlex.quote(f'resume={path.parent.parent}')}"
    return (
        f"writing checkpoint {path} failed ({error.strerror or error}); {kept}: free disk space "
        f"or make the run folder writable, then {then}"
    )


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write to a temporary file beside the target, fsync, then rename: `last.ckpt` is always whole.

    Lightning's own save renames from the system temp folder (a copy, not a rename, when that is
    another file system) and never flushes to disk. Loads go through `seqlab.runs.checkpoints`:
    `weights_only=True` and one-line errors that name the file.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            for stale in path.parent.glob(f".{path.name}.*.partial"):  # left by a killed process
                stale.unlink(missing_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        except OSError as e:
            raise SeqlabError(_save_failed(path, e)) from None
        writes = None
        try:
            os.close(fd)
            with open(tmp, "wb") as f:
                writes = _RecordedWrites(f)
                torch.save(checkpoint, writes)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException as e:
            Path(tmp).unlink(missing_ok=True)
            # torch.save reports a failed write as RuntimeError ("enforce fail at
            # inline_container.cc"): the file system's own error is the one recorded.
            cause = e if isinstance(e, OSError) else writes and writes.error
            if cause:
                raise SeqlabError(_save_failed(path, cause)) from None
            raise
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def load_checkpoint(
        self, path: str | Path, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        return load_checkpoint(path)


def seed_step(seed: int, epoch: int, batch: int, rank: int = 0) -> None:
    """Seed python, numpy and torch (CPU and every initialized CUDA device) from a position.

    Cheaper than `torch.manual_seed`, which probes every backend on each call.
    """
    key = f"{seed}/{epoch}/{batch}/{rank}".encode()
    value = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1
    random.seed(value)
    np.random.seed(value % 2**32)
    torch.default_generator.manual_seed(value)
    if torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(value)


def _resume_arg(trainer: L.Trainer) -> str:
    """The resume argument as a shell takes it (a folder with spaces or quotes stays one word)."""
    return shlex.quote(f"resume={trainer.default_root_dir}")


def _lightning_sigterm(trainer: L.Trainer, value: bool) -> None:
    # Lightning keeps its SIGTERM flag here and checks it between training steps (good) but also
    # between validation batches (which would leave half-computed validation metrics behind).
    connector = getattr(trainer, "_signal_connector", None)
    if connector is not None:
        connector.received_sigterm = value


class ExactResume(L.Callback):
    """Data position and per-step seeds in every checkpoint; a checkpoint and exit on SIGTERM.

    Args:
        seed: the run's seed; training randomness is drawn from (seed, epoch, batch, rank).
        save_on_sigterm: on SIGTERM, finish the current step (and its validation), write
            `checkpoints/last.ckpt` and exit with code 143; resume with `resume=<run folder>`.
        atomic_checkpoints: write checkpoints with `AtomicCheckpointIO`.
    """

    def __init__(
        self, seed: int = 0, save_on_sigterm: bool = True, atomic_checkpoints: bool = True
    ):
        self.seed = int(seed)
        self.save_on_sigterm, self.atomic_checkpoints = save_on_sigterm, atomic_checkpoints
        self.epoch, self.batches, self.epoch_done = 0, 0, False
        self._trainer: L.Trainer | None = None
        self._sigterm = False
        self._stopped_by = "SIGTERM"  # or "Ctrl-C": the first one finishes the step like SIGTERM
        self._requeue = False  # stopped by Slurm's warning signal: requeue once saved
        self._outside_fit: tuple | None = None  # (Slurm's warning signal, its handler before fit)

    # --- where the data stands ---------------------------------------------------------------

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._trainer = trainer
        io = trainer.strategy.checkpoint_io
        if self.atomic_checkpoints and type(io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch, self.batches, self.epoch_done = trainer.current_epoch, 0, False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        seed_step(self.seed, trainer.current_epoch, batch_idx, trainer.global_rank)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.batches += 1
        self.epoch_done = bool(trainer.fit_loop.epoch_loop.batch_progress.is_last_batch)

    def state_dict(self) -> dict[str, int]:
        """Where training continues: the epoch whose batch order to use and the batches to skip."""
        if self.epoch_done:
            return {"epoch": self.epoch + 1, "skip": 0}
        return {"epoch": self.epoch, "skip": self.batches}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        self.epoch, self.batches = int(state_dict["epoch"]), int(state_dict["skip"])
        self.epoch_done = False
        datamodule = self._trainer.datamodule if self._trainer else None
        if datamodule is not None and hasattr(datamodule, "train_start"):
            datamodule.train_start = (self.epoch, self.batches)
        elif self.batches:
            log.warning("the data module cannot skip batches: the resumed epoch restarts")

    # --- SIGTERM -------------------------------------------------------------------------------

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning installed its SIGTERM handler when fit started (and restores the previous one
        # when fit ends); ours runs first and keeps validation from being cut short.
        if not self.save_on_sigterm or threading.current_thread() is not threading.main_thread():
            return
        lightning_handler = signal.getsignal(signal.SIGTERM)
        slurm_warning = preemption_signal()

        def handler(signum, frame) -> None:
            if signum == slurm_warning and not self._sigterm:
                self._stopped_by, self._requeue = f"Slurm's {signal.Signals(signum).name}", True
            if signum == signal.SIGINT:
                if self._sigterm:  # a second Ctrl-C: stop at once
                    signal.default_int_handler(signum, frame)
                self._stopped_by = "Ctrl-C"
                print("seqlab: Ctrl-C: finishing this step and saving (Ctrl-C again stops at once)",
                      file=sys.stderr, flush=True)  # fmt: skip
            self._sigterm = True
            if signum == signal.SIGINT:
                _lightning_sigterm(trainer, True)
            elif callable(lightning_handler):
                lightning_handler(signum, frame)
            if trainer.validating and not trainer.sanity_checking:
                _lightning_sigterm(trainer, False)  # raised again when validation ends

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        if slurm_warning is not None:  # the time-limit warning: save like SIGTERM, then requeue
            self._outside_fit = (slurm_warning, signal.signal(slurm_warning, handler))

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.save_on_sigterm and threading.current_thread() is threading.main_thread():
            signal.signal(
                signal.SIGINT, signal.default_int_handler
            )  # testing: Ctrl-C stops at once
            if self._outside_fit:  # testing under Slurm: submitit's handler requeues the job
                signal.signal(*self._outside_fit)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._sigterm and not trainer.sanity_checking:
            _lightning_sigterm(trainer, False)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._sigterm and not trainer.sanity_checking:
            _lightning_sigterm(trainer, True)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, KeyboardInterrupt) and trainer.is_global_zero:
            last = _last_checkpoint_path(trainer)
            saved = (
                f"the last checkpoint is {last}; continue with {_resume_arg(trainer)}"
                if last.is_file()
                else "no checkpoint was saved yet"
            )
            print(
                f"seqlab: stopped at once by a second Ctrl-C; {saved}", file=sys.stderr, flush=True
            )
        if not isinstance(exception, SIGTERMException):
            return
        by = self._stopped_by
        exception.code = SIGINT_EXIT_CODE if by == "Ctrl-C" else SIGTERM_EXIT_CODE
        if not self._sigterm:
            message = f"stopped by {by} before training started; nothing to save"
        else:
            path = _last_checkpoint_path(trainer)
            trainer.save_checkpoint(path, weights_only=False)  # full: optimizer, loops, callbacks
            then = f"continue with {_resume_arg(trainer)}"
            if self._requeue and trainer.is_global_zero:  # once, and only once the file is whole
                then = requeue()
            message = f"stopped by {by} after step {trainer.global_step}; saved {path}; {then}"
        if trainer.is_global_zero:
            print(f"seqlab: {message}", file=sys.stderr, flush=True)


def _last_checkpoint_path(trainer: L.Trainer) -> Path:
    """checkpoints/last.ckpt, recorded as ModelCheckpoint's own "last" so that after a resume it
    keeps writing that file (instead of a new last-v1.ckpt beside one it does not know)."""
    callback = trainer.checkpoint_callback
    folder = getattr(callback, "dirpath", None) or Path(trainer.default_root_dir) / "checkpoints"
    path = Path(folder) / "last.ckpt"
    if callback is not None and getattr(callback, "save_last", False):
        callback.last_model_path = str(path)
    return path
