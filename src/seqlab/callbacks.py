"""Lightning callbacks of seqlab's own."""

from __future__ import annotations

import time

import lightning as L
import torch


def batch_tokens(batch) -> int:
    """Target-side tokens a training batch teaches (non-pad targets for seq2seq, all for LM)."""
    if isinstance(batch, dict):
        return int(batch["tgt_lengths"].sum()) - batch["tgt_lengths"].numel()
    return batch[1].numel()


class Throughput(L.Callback):
    """Measures training tokens per second, excluding validation, and logs it with step metrics."""

    def __init__(self):
        self.tokens = 0
        self.seconds = 0.0
        self._start = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.tokens += batch_tokens(batch)
        self.seconds += time.perf_counter() - self._start
        if self.seconds > 0 and (trainer.global_step % max(1, trainer.log_every_n_steps) == 0):
            pl_module.log("train/tokens_per_s", torch.tensor(self.tokens / self.seconds))

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0
