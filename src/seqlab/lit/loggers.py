"""Logger variants that keep what a run already wrote, so a resumed run continues its files."""

from __future__ import annotations

import csv

from lightning.pytorch.loggers import CSVLogger as _LightningCSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


class _AppendingWriter(ExperimentWriter):
    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir)
        if self._fs.isfile(self.metrics_file_path):
            # Continue with the existing columns; new ones widen the header (Lightning rewrites).
            with self._fs.open(self.metrics_file_path, "r", newline="") as f:
                self.metrics_keys = sorted(next(csv.reader(f), []))

    def _check_log_dir_exists(self) -> None:
        # Lightning deletes an existing metrics.csv here; a run folder is never reused by another
        # run, so an existing file can only be this run's own history (a resume): keep it.
        pass


class CSVLogger(_LightningCSVLogger):
    """Lightning's CSV logger, appending to an existing metrics.csv instead of replacing it."""

    @property
    @rank_zero_experiment
    def experiment(self) -> _AppendingWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment
