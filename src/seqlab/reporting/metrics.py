"""Lightning's metrics.csv as one (steps, values) series per logged metric.

CSVLogger writes sparse rows (a train row has only train/ columns filled, a validation row only
val/ ones) and rewrites its header when a new metric appears, so each column is read on its own
and blank or non-numeric cells are skipped.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

# Columns that index the rows rather than measure anything.
INDEX_COLUMNS = ("step", "epoch")


@dataclass
class Series:
    """One metric over training: parallel lists, in the order the rows were logged."""

    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    def best(self, mode: str) -> tuple[float, float] | None:
        """(value, step) of the best point: lowest for mode min, highest for max."""
        if not self.values:
            return None
        pick = min if mode == "min" else max
        i = pick(range(len(self.values)), key=self.values.__getitem__)
        return self.values[i], self.steps[i]


def _float(text: str | None) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def read_metrics(path: Path) -> dict[str, Series]:
    """Every metric column of a metrics.csv; {} when the file is missing or unreadable."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    series: dict[str, Series] = {}
    for i, row in enumerate(rows):
        step = _float(row.get("step"))
        for key, cell in row.items():
            value = _float(cell)
            if key is None or key in INDEX_COLUMNS or value is None:
                continue
            s = series.setdefault(key, Series())
            s.steps.append(step if step is not None else float(i))
            s.values.append(value)
    return series


def metric_order(names: set[str] | list[str]) -> list[str]:
    """train/ first, then val/, test/, then the rest (learning rate, throughput), each sorted."""
    rank = {"train": 0, "val": 1, "test": 2}
    return sorted(names, key=lambda n: (rank.get(n.split("/")[0], 3), n))
