"""Stop a run that has gone numerically wrong before it writes a bad checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import torch

from seqlab.errors import SeqlabError

_FIX = "lower optimizer.lr or lengthen scheduler.warmup_steps"


class StopOnNonFinite(L.Callback):
    """A NaN or infinite loss or weight stops the run with one line; no broken checkpoint is saved.

    On CPU the loss is checked before every backward pass, so the bad update is never applied. On
    an accelerator the check stays on the device and is read every `check_every_n_steps` steps (a
    read waits for the device), and always before a checkpoint is written. The weights are checked
    before every checkpoint write too (a finite loss can still take a huge step). Either way the
    run stops with exit code 2 and `checkpoints/last.ckpt` stays the last good checkpoint.

    Args:
        check_every_n_steps: accelerators: steps between reads of the loss check.
    """

    def __init__(self, check_every_n_steps: int = 50):
        self.check_every_n_steps = max(1, int(check_every_n_steps))
        self._bad: torch.Tensor | None = None  # any non-finite loss since the last read
        self._checked_step = 0

    def on_before_backward(self, trainer: L.Trainer, pl_module, loss: torch.Tensor) -> None:
        if loss.device.type == "cpu" and loss.numel() == 1:
            # Reading a CPU scalar costs one op, where the device-side check costs four.
            if not math.isfinite(loss.item()):
                self._bad = torch.tensor(True)
                self._raise_if_bad(trainer, loss)
            return
        bad = ~torch.isfinite(loss.detach()).all()
        self._bad = bad if self._bad is None else self._bad | bad
        step = trainer.global_step
        if loss.device.type == "cpu" or step % self.check_every_n_steps == 0:
            self._raise_if_bad(trainer, loss)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module, checkpoint: dict) -> None:
        self._raise_if_bad(trainer)
        for name, t in checkpoint["state_dict"].items():
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise SeqlabError(
                    f"weight {name} is NaN or infinite at step {trainer.global_step}; this "
                    f"checkpoint was not saved, {_last_good(trainer)}; {_FIX}"
                )

    def _raise_if_bad(self, trainer: L.Trainer, loss: torch.Tensor | None = None) -> None:
        step, since = trainer.global_step, self._checked_step
        self._checked_step = step
        if self._bad is None or not bool(self._bad):
            self._bad = None
            return
        if loss is not None and loss.device.type == "cpu":
            value = loss.detach().float().flatten()[0].item()
            where = f"training loss is {value} at step {step} (epoch {trainer.current_epoch}); "
            where += "stopped before this update"
        else:
            where = f"training loss became NaN or infinite between steps {since} and {step}"
        raise SeqlabError(f"{where}, {_last_good(trainer)}; {_FIX}")


def _last_good(trainer: L.Trainer) -> str:
    path = getattr(trainer.checkpoint_callback, "last_model_path", "")
    return f"last good checkpoint: {path}" if path and Path(path).is_file() else "no checkpoint yet"
