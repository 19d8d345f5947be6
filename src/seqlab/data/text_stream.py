"""A text split as a stream of line-aligned pieces, never the whole corpus in memory.

A text dataset's split is a range of characters of a source: its files read one after the other
(joined at a line break, as `TextReader.read` joins them), the rows of a streaming Hugging Face
dataset, or a string already in memory (a generator's or a downloaded dataset's text). Splits carved from train by fractions are ranges
of the same source, so preparing them needs the source's length (one extra pass over the files)
instead of its text. Pieces end at a line break, so cleaning and line-by-line tokenization give
the same result piece by piece as on the whole split (tests/unit/test_text_stream.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seqlab.data.readers import decoded_blocks

PIECE_CHARS = 1 << 24  # about this many characters per piece (more when a line is longer)


class Source:
    """The text of a split before carving: files or a string, read as blocks."""

    def blocks(self) -> Iterator[str]:
        raise NotImplementedError

    def text(self) -> str:
        return "".join(self.blocks())

    def __len__(self) -> int:
        if getattr(self, "_length", None) is None:
            self._length = sum(len(b) for b in self.blocks())
        return self._length


@dataclass(eq=False)
class FileSource(Source):
    """Files read one after the other, each ending in a line break before the next begins."""

    paths: Sequence[Path]
    errors: str = "strict"
    _length: int | None = field(default=None, repr=False)

    def blocks(self) -> Iterator[str]:
        # Files join at a line break, so no file's last line runs into the next one's first.
        for i, path in enumerate(self.paths):
            last = ""
            for block in decoded_blocks(path, self.errors):
                last = block
                yield block
            if i < len(self.paths) - 1 and not last.endswith("\n"):
                yield "\n"


@dataclass(eq=False)
class StringSource(Source):
    text: str

    def blocks(self) -> Iterator[str]:
        for start in range(0, len(self.text), PIECE_CHARS):
            yield self.text[start : start + PIECE_CHARS]

    def __len__(self) -> int:
        return len(self.text)


@dataclass(eq=False)
class RowsSource(Source):
    """A text field of a dataset's rows (a streaming Hugging Face dataset), joined by line
    breaks as a non-streaming dataset's rows are; every pass iterates the rows again."""

    rows: Iterable
    field: str
    _length: int | None = field(default=None, repr=False)

    def blocks(self) -> Iterator[str]:
        parts, size, first = [], 0, True
        for row in self.rows:
            text = row[self.field] if first else "\n" + row[self.field]
            first = False
            parts.append(text)
            size += len(text)
            if size >= PIECE_CHARS:
                yield "".join(parts)
                parts, size = [], 0
        if parts:
            yield "".join(parts)


@dataclass(eq=False)
class TextSplit:
    """Characters [start, stop) of a source (stop None: to its end)."""

    source: Source
    start: int = 0
    stop: int | None = None

    def blocks(self) -> Iterator[str]:
        pos = 0
        for block in self.source.blocks():
            end = pos + len(block)
            lo, hi = max(self.start - pos, 0), len(block) if self.stop is None else self.stop - pos
            if hi > 0 and lo < len(block):
                yield block[lo:hi] if lo or hi < len(block) else block
            pos = end
            if self.stop is not None and pos >= self.stop:
                return

    def pieces(self, clean: Callable[[str], str] = lambda t: t) -> Iterator[str]:
        """The split's text in pieces ending at a line break (the last one where the split
        ends), each cleaned by `clean`."""
        carry = ""
        for block in self.blocks():
            carry += block
            if len(carry) < PIECE_CHARS:
                continue
            cut = carry.rfind("\n") + 1
            if cut:
                yield clean(carry[:cut])
                carry = carry[cut:]
        if carry:
            yield clean(carry)

    def __len__(self) -> int:
        stop = len(self.source) if self.stop is None else self.stop
        return stop - self.start

    def text(self) -> str:
        return "".join(self.blocks())

    def is_blank(self) -> bool:
        return not any(block.strip() for block in self.blocks())


def tail(split: TextSplit, fraction: float) -> tuple[TextSplit, TextSplit]:
    """The split's last `fraction` held out, contiguous (as nanoGPT does): (rest, held out)."""
    cut = split.start + int(len(split) * (1 - fraction))
    return TextSplit(split.source, split.start, cut), TextSplit(split.source, cut, split.stop)
