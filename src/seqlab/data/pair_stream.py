"""The examples of a pairs split as a stream that can be read again, never a list in memory.

A file's pairs are read afresh on every pass (`FilePairs`), and splits carved from train by seeded
fractions are the same file's rows picked by a mask (`Carved`): carving needs the row count (one
counting pass, which also finds any bad row before a cache entry is started), not the rows; the
held-out splits (a fraction) are then gathered as lists in one more pass. The seeded selection and
the order (file order) are those of carving a list, so a cache entry is the same either way
(tests/unit/test_pair_stream.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from itertools import compress

import numpy as np


@dataclass(eq=False)
class FilePairs:
    """Examples that `read()` yields afresh on each pass (a reader over its files)."""

    read: Callable[[], Iterator]
    _length: int | None = field(default=None, repr=False)

    def __iter__(self) -> Iterator:
        return iter(self.read())

    def __len__(self) -> int:
        if self._length is None:  # one pass, counted once
            self._length = sum(1 for _ in self.read())
        return self._length


@dataclass(eq=False)
class Carved:
    """The examples of `base` at the rows `keep` marks, in file order."""

    base: Iterable
    keep: np.ndarray  # one bool per row of base

    def __iter__(self) -> Iterator:
        return compress(self.base, self.keep)

    def __len__(self) -> int:
        return int(self.keep.sum())


@dataclass(eq=False)
class Targets:
    """Each example's target as a (target, target) pair (the lines layout of pairs data)."""

    base: Iterable

    def __iter__(self) -> Iterator:
        return ((ex[1], ex[1]) for ex in self.base)

    def __len__(self) -> int:
        return len(self.base)


def holdout(examples: Sized, fraction: float, seed: int) -> tuple[Carved, Carved]:
    """Seeded random split of examples (extras and all) into (rest, held out), file order kept:
    ``round(n * fraction)`` rows, the first of a permutation of the n rows seeded by ``seed``."""
    if isinstance(examples, Carved):  # carve again from what an earlier carve left
        base, total, rows = examples.base, len(examples.keep), np.flatnonzero(examples.keep)
    else:  # a file's examples: one counting pass
        base, total, rows = examples, len(examples), None
    n = total if rows is None else len(rows)
    picked = np.random.default_rng(seed).permutation(n)[: round(n * fraction)]
    held = np.zeros(total, bool)
    held[picked if rows is None else rows[picked]] = True
    rest = ~held if rows is None else examples.keep & ~held
    return Carved(base, rest), Carved(base, held)


def gather(carved: dict[str, Carved]) -> dict[str, list]:
    """Splits carved from one base as lists, in one pass over it instead of one each (held-out
    splits are a fraction of the data, and writing an evaluation split keeps its texts anyway)."""
    if not carved:
        return {}
    names, masks = list(carved), [c.keep for c in carved.values()]
    label = np.full(len(masks[0]), -1, np.int8)
    for i, keep in enumerate(masks):
        label[keep] = i
    picked = label >= 0
    out: dict[str, list] = {name: [] for name in names}
    lists = [out[name] for name in names]
    rows = compress(carved[names[0]].base, picked)
    for example, i in zip(rows, label[picked].tolist(), strict=True):
        lists[i].append(example)
    return out
