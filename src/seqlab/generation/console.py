"""seqlab-generate's console: how hypotheses are written, and the three ways inputs arrive (a file,
piped stdin, an interactive prompt with line editing and history)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from omegaconf import DictConfig

from seqlab.errors import SeqlabError

if TYPE_CHECKING:
    from seqlab.generation.text import Hypothesis, TextGenerator


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def write(out: TextIO, hyps: list[Hypothesis], with_scores: bool, one_line: bool) -> None:
    for hyp in hyps:
        text = escape(hyp.text) if one_line else hyp.text
        out.write(f"{hyp.score:.4f}\t{text}\n" if with_scores else f"{text}\n")
    out.flush()


def read_lines(path: str) -> list[str]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise SeqlabError(
            f"input_file not found: {file}; pass input_file=<text file, one input a line>"
        )
    try:
        return file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise SeqlabError(f"input_file {file} is not UTF-8 text (byte {e.start})") from None


def chunks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        batch.append(line.rstrip("\n"))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def line_editing(history_file: str | None) -> Callable[[], None]:
    """Line editing and history for ``input()`` (readline), history read from ``history_file``;
    returns the function that writes it back."""
    try:
        import readline
    except ImportError:  # a Python built without readline: plain input() still works
        return lambda: None
    if not history_file:
        return lambda: None
    path = Path(history_file).expanduser()
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(1000)

    def save() -> None:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)

    return save


def interactive(generator: TextGenerator, with_scores: bool, history_file: str | None) -> None:
    print("seqlab-generate: type an input and press Enter; Ctrl-D ends.", file=sys.stderr)
    save_history = line_editing(history_file)
    try:
        while True:
            try:
                line = input("> ")
            except (EOFError, KeyboardInterrupt):
                print(file=sys.stderr)
                return
            if line.strip():
                try:
                    write(sys.stdout, generator([line])[0], with_scores, one_line=False)
                except SeqlabError as e:  # a bad input should not end the session
                    print(f"seqlab: error: {e}", file=sys.stderr)
    finally:
        save_history()


def batch_mode(generator: TextGenerator, cfg: DictConfig, with_scores: bool) -> None:
    """input_file (decoded as one lot, so length bucketing sees every line) or piped stdin."""
    if cfg.input_file is not None:
        batches: Iterable[list[str]] = [read_lines(cfg.input_file)]
    else:
        batches = chunks(sys.stdin, cfg.batch_size)
    with contextlib.ExitStack() as stack:
        out = sys.stdout
        if cfg.output_file:
            path = Path(cfg.output_file).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            out = stack.enter_context(path.open("w", encoding="utf-8"))
        done = 0
        for batch in batches:
            for hyps in generator(batch, first=done):
                write(out, hyps, with_scores, one_line=True)
            done += len(batch)
    if cfg.output_file:
        print(f"{done} inputs → {cfg.output_file}", file=sys.stderr)
