"""Language modeling: next-token cross-entropy and perplexity over a token stream."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric

from seqlab.lit.base import SeqlabModule, logs_this_step


class LanguageModelModule(SeqlabModule):
    """Trains a decoder-only model (GPT, GRU LM) on (x, y) windows."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.val_loss, self.test_loss = MeanMetric(), MeanMetric()

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        logits = self.net(x)
        return F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        if logs_this_step(self._trainer):  # the loggers get the same values, without per-step cost
            self.log("train/loss", loss, on_step=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        # Weight by tokens so the epoch value is the corpus loss, whatever the last batch's size.
        self.val_loss.update(self._loss(batch), weight=batch[1].numel())

    def test_step(self, batch, batch_idx: int) -> None:
        self.test_loss.update(self._loss(batch), weight=batch[1].numel())

    def _log_epoch(self, stage: str, metric: MeanMetric) -> None:
        loss = metric.compute()
        self.log_reduced(f"{stage}/loss", loss, prog_bar=True)
        self.log_reduced(f"{stage}/ppl", torch.exp(loss))
        metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val", self.val_loss)

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test", self.test_loss)
