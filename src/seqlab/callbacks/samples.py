"""A few source / reference / hypothesis rows at every validation, to every active logger.

The LightningModule collects the rows while it scores its decodes (``pl_module.samples``, a list
of dicts); this callback only ships them: appended to ``samples.csv`` in the run folder, as a
TensorBoard text table and as a wandb Table.
"""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger

COLUMNS = ("step", "epoch", "source", "reference", "hypothesis")


def _markdown(rows: list[dict]) -> str:
    """TensorBoard renders text summaries as Markdown: a table with escaped cells."""

    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(COLUMNS[2:]) + " |", "|" + " --- |" * len(COLUMNS[2:])]
    lines += ["| " + " | ".join(cell(row[c]) for c in COLUMNS[2:]) + " |" for row in rows]
    return "\n".join(lines)


class SampleLogger(L.Callback):
    """Logs up to ``rows`` decoded validation examples after every validation (rank 0 only).

    Args:
        path: CSV file the rows are appended to (header written once).
        rows: rows per validation; the module is asked to keep at least this many.
        key: name of the TensorBoard text / wandb Table.
    """

    def __init__(self, path: str, rows: int = 5, key: str = "val/samples") -> None:
        self.path, self.rows, self.key = Path(path), rows, key

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if hasattr(pl_module, "max_samples"):
            pl_module.max_samples = max(pl_module.max_samples, self.rows)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        samples = getattr(pl_module, "samples", None)
        if trainer.sanity_checking or not trainer.is_global_zero or not samples:
            return
        step, epoch = trainer.global_step, trainer.current_epoch
        rows = [{"step": step, "epoch": epoch, **s} for s in samples[: self.rows]]
        self._write_csv(rows)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_text(self.key, _markdown(rows), global_step=step)
            elif isinstance(logger, WandbLogger):
                data = [[row[c] for c in COLUMNS] for row in rows]
                logger.log_table(key=self.key, columns=list(COLUMNS), data=data, step=step)

    def _write_csv(self, rows: list[dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        with self.path.open("a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            if new:
                writer.writeheader()
            writer.writerows(rows)
