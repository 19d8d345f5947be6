"""Read dataset files into plain Python data (lines, pairs, text, records).

Every reader decodes the whole file at once, because that is far faster than per-line decoding for
multi-megabyte corpora, and only when decoding fails does it go back to find the line at fault. Errors
are raised as one-line `SeqlabError`s of the form `path:line: problem; fix` so that a user can open
the file at the right place instead of reading a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError

_ERROR_MODES = ("strict", "replace")


def _decode(path: Path, errors: str) -> str:
    """Read `path` as UTF-8, naming the line and byte offset of the first invalid byte.

    Args:
        path: File to read.
        errors: "strict" to reject invalid UTF-8, "replace" to substitute U+FFFD for it.

    Returns:
        The decoded text.

    Raises:
        SeqlabError: if the file is missing, empty, or (in strict mode) not valid UTF-8.
    """
    if errors not in _ERROR_MODES:
        raise SeqlabError(f"data.errors: expected one of {_ERROR_MODES}, got {errors!r}")
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise SeqlabError(f"{path}: file not found; check the path or paths.data_dir") from None
    except OSError as exc:
        raise SeqlabError(f"{path}: cannot read file ({exc.strerror}); check permissions") from None
    if not data:
        raise SeqlabError(f"{path}: file is empty; point the config at the real data file")
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        lineno = data.count(b"\n", 0, exc.start) + 1
        raise SeqlabError(
            f"{path}:{lineno}: invalid UTF-8 (byte offset {exc.start}); "
            "fix the file or set data.errors=replace"
        ) from None


def _split_lines(text: str) -> list[str]:
    """Split on LF only (not on the exotic separators `str.splitlines` knows), dropping the final one."""
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def read_lines(path: str | Path, errors: str = "strict") -> list[str]:
    """Read a UTF-8 text file as a list of lines without their line endings.

    Args:
        path: File to read.
        errors: "strict" (invalid UTF-8 is an error) or "replace" (substitute U+FFFD).

    Returns:
        One string per line; a final newline does not produce an extra empty line.

    Raises:
        SeqlabError: missing or empty file, or invalid UTF-8 in strict mode (names the line).
    """
    return _split_lines(_decode(Path(path), errors))


def read_text(path: str | Path, errors: str = "strict") -> str:
    """Read a whole UTF-8 file as one string, newlines included (for character-level corpora).

    Args:
        path: File to read.
        errors: "strict" or "replace", as for `read_lines`.

    Returns:
        The file's text, unchanged.

    Raises:
        SeqlabError: missing or empty file, or invalid UTF-8 in strict mode (names the line).
    """
    return _decode(Path(path), errors)


def read_parallel(
    src_path: str | Path, tgt_path: str | Path, errors: str = "strict"
) -> list[tuple[str, str]]:
    """Pair line i of a source file with line i of a target file (Multi30k-style corpora).

    Args:
        src_path: Source-language file, one sentence per line.
        tgt_path: Target-language file, aligned line by line with `src_path`.
        errors: "strict" or "replace", as for `read_lines`.

    Returns:
        `(source, target)` pairs in file order.

    Raises:
        SeqlabError: if either file cannot be read or the two files differ in line count, since a
            misalignment would silently pair the wrong sentences.
    """
    src = read_lines(src_path, errors)
    tgt = read_lines(tgt_path, errors)
    if len(src) != len(tgt):
        raise SeqlabError(
            f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}; "
            "parallel files must be aligned line by line"
        )
    return list(zip(src, tgt, strict=True))


def read_tsv_pairs(
    path: str | Path,
    src_col: int = 0,
    tgt_col: int = 1,
    delimiter: str = "\t",
    errors: str = "strict",
) -> list[tuple[str, str]]:
    """Read `(source, target)` pairs from two columns of a delimited file (e.g. Tatoeba exports).

    Columns beyond those requested are ignored, so attribution columns do no harm. Trailing blank
    lines are ignored; a blank line elsewhere is an error like any other short line.

    Args:
        path: File to read.
        src_col: Zero-based index of the source column.
        tgt_col: Zero-based index of the target column.
        delimiter: Column separator.
        errors: "strict" or "replace", as for `read_lines`.

    Returns:
        Pairs in file order.

    Raises:
        SeqlabError: unreadable file, or a line with too few columns (names the line).
    """
    if src_col < 0 or tgt_col < 0:
        raise SeqlabError(f"data columns must be >= 0, got src_col={src_col}, tgt_col={tgt_col}")
    lines = read_lines(path, errors)
    while lines and not lines[-1].strip():
        lines.pop()
    need = max(src_col, tgt_col) + 1
    sep_name = "tab" if delimiter == "\t" else repr(delimiter)
    pairs: list[tuple[str, str]] = []
    for lineno, line in enumerate(lines, start=1):
        cols = line.split(delimiter)
        if len(cols) < need:
            raise SeqlabError(
                f"{path}:{lineno}: expected at least {need} {sep_name}-separated columns, "
                f"found {len(cols)}"
            )
        pairs.append((cols[src_col], cols[tgt_col]))
    return pairs


def read_jsonl(path: str | Path, errors: str = "strict") -> list[dict[str, Any]]:
    """Read a JSON Lines file (one JSON object per line), e.g. SciTLDR.

    Trailing blank lines and a missing final newline are both accepted.

    Args:
        path: File to read.
        errors: "strict" or "replace", as for `read_lines`.

    Returns:
        One dict per record, in file order.

    Raises:
        SeqlabError: unreadable file, a line that is not valid JSON, or a line that is not a JSON
            object (names the line).
    """
    lines = read_lines(path, errors)
    while lines and not lines[-1].strip():
        lines.pop()
    records: list[dict[str, Any]] = []
    for lineno, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SeqlabError(
                f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno}); "
                "each line must be one JSON object"
            ) from None
        if not isinstance(record, dict):
            raise SeqlabError(
                f"{path}:{lineno}: expected a JSON object, found {type(record).__name__}; "
                "each line must be one JSON object"
            )
        records.append(record)
    return records
