"""Test-only Lightning callbacks that break a training run on purpose, at a step the test chooses.

CLI tests add them with `+callbacks.<name>._target_=chaos.<Class>` and `tests/` on PYTHONPATH.
"""

from __future__ import annotations

import io
import os
import signal
import time
from pathlib import Path

import lightning as L
import torch


class SignalAtStep(L.Callback):
    """Send a real signal (SIGTERM, SIGKILL, ...) to this process right after optimizer step `step`."""

    def __init__(self, step: int, signal_name: str = "SIGTERM"):
        self.step, self.signal_name = step, signal_name

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), getattr(signal, self.signal_name))


class HangInSave(L.Callback):
    """Inside the checkpoint write of step `step`: write half the bytes, touch `marker`, hang.

    The test SIGKILLs the process once `marker` exists, i.e. while the file is half written.
    """

    def __init__(self, step: int, marker: str):
        self.step, self.marker = step, marker

    def setup(self, trainer, pl_module, stage) -> None:
        real_save = torch.save

        def save(obj, f, *args, **kwargs):
            if (
                isinstance(obj, dict)
                and obj.get("global_step") == self.step
                and hasattr(f, "write")
            ):
                buffer = io.BytesIO()
                real_save(obj, buffer, *args, **kwargs)
                f.write(buffer.getvalue()[: buffer.tell() // 2])
                f.flush()
                Path(self.marker).write_text(str(getattr(f, "name", "")), encoding="utf-8")
                time.sleep(600)
            return real_save(obj, f, *args, **kwargs)

        torch.save = save


class WaitForSignalAtStep(L.Callback):
    """Once per run folder: after optimizer step `step`, write `marker` (this Slurm job's id) and
    wait (up to `timeout_s`) for a signal that asks training to stop. The test sends it from
    outside, as a cluster would; a requeued attempt finds the marker and does not wait again."""

    def __init__(self, step: int, marker: str, timeout_s: float = 120.0):
        self.step, self.marker, self.timeout_s = step, Path(marker), timeout_s

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step != self.step or self.marker.exists():
            return
        if trainer.is_global_zero:
            self.marker.write_text(os.environ.get("SLURM_JOB_ID", ""), encoding="utf-8")
        deadline = time.monotonic() + self.timeout_s
        while not trainer.received_sigterm and time.monotonic() < deadline:
            time.sleep(0.05)
