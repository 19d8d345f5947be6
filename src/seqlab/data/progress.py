"""A line every few seconds while a long data build runs: how far, how fast, how long still."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO

import numpy as np


class Progress:
    """Counts what a build has done of `total` and says so at most every `every_s` seconds."""

    def __init__(
        self,
        label: str,
        total: int,
        unit: str = "chars",
        every_s: float = 5.0,
        out: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.total, self.unit, self.every_s = label, total, unit, every_s
        self.out, self.clock = out or sys.stderr, clock
        self.start = self.last = clock()
        self.done = 0

    def update(self, n: int) -> None:
        self.done += n
        now = self.clock()
        if now - self.last < self.every_s or self.done >= self.total:
            return
        self.last = now
        rate = self.done / max(now - self.start, 1e-9)
        left = (self.total - self.done) / rate if rate else float("inf")
        print(f"{self.label}: {self.done / 1e6:,.0f} M of {self.total / 1e6:,.0f} M {self.unit} "
              f"({100 * self.done / self.total:.0f} %), {rate / 1e6:.1f} M {self.unit}/s, "
              f"about {left:.0f} s left", file=self.out, flush=True)  # fmt: skip

    def wrap(self, chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for chunk in chunks:
            yield chunk
            self.update(len(chunk))
