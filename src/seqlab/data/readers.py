"""Read dataset files into plain Python data (lines, pairs, text, records).

Pair and record readers are iterators (`iter_*`) over a block-by-block read, so a corpus of
millions of pairs is never a list in memory; `read_*` gives the same items as a list. Every reader
decodes large blocks at once, because that is far faster than per-line decoding for
multi-megabyte corpora, and only when decoding fails does it count lines to name the one at fault. Errors
are raised as one-line `SeqlabError`s of the form `path:line: problem; fix` so that a user can open
the file at the right place instead of reading a traceback.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from itertools import chain, zip_longest
from pathlib import Path
from typing import Any, BinaryIO

from seqlab.errors import SeqlabError

ERROR_MODES = ("strict", "replace")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_JSON_LIMITS = {
    RecursionError: "nested too deeply",
    ValueError: "a number with too many digits",
    UnicodeEncodeError: "a \\u escape of half a surrogate pair",
}


BLOCK_BYTES = 1 << 24  # read at a time by `decoded_blocks`: bounds memory for files of any size


def _fail_read(path: Path, exc: OSError) -> SeqlabError:
    if isinstance(exc, FileNotFoundError):
        return SeqlabError(f"{path}: file not found; check the path or paths.data_dir")
    return SeqlabError(f"{path}: cannot read file ({exc.strerror}); check permissions")


def _open_uncompressed(path: Path) -> BinaryIO:
    """A binary stream of the file's bytes, `.gz` and `.zst` files uncompressed on the fly."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise _fail_read(path, exc) from None
    if path.suffix == ".gz":
        return gzip.GzipFile(fileobj=raw)
    if path.suffix == ".zst":
        try:
            import zstandard
        except ImportError:
            raw.close()
            raise SeqlabError(
                f"{path}: reading .zst files needs the zstandard package: pip install zstandard"
            ) from None
        return _ZstdReader(raw, zstandard)
    return raw


class _ZstdReader(io.RawIOBase):
    """A `.zst` file's frames uncompressed as a stream; a file cut short inside a frame is an
    error (zstandard's own stream reader just stops there)."""

    def __init__(self, raw: BinaryIO, zstandard: Any):
        self.raw, self.zstd = raw, zstandard
        self.frame, self.started = zstandard.ZstdDecompressor().decompressobj(), False

    def read(self, size: int = -1) -> bytes:
        out = b""
        while not out:
            data = self.raw.read(1 << 20)
            if not data:
                if self.started and not self.frame.eof:
                    raise OSError("zstd frame cut short")
                return b""
            self.started = True
            try:
                out = self.frame.decompress(data)
                while self.frame.eof and self.frame.unused_data:  # the next frame
                    rest = self.frame.unused_data
                    self.frame = self.zstd.ZstdDecompressor().decompressobj()
                    out += self.frame.decompress(rest)
            except self.zstd.ZstdError as exc:
                raise OSError(str(exc)) from None
        return out

    def close(self) -> None:
        self.raw.close()
        super().close()


def _read_block(path: Path, f: BinaryIO) -> bytes:
    try:
        data = f.read(BLOCK_BYTES)
        while isinstance(f, _ZstdReader) and data and len(data) < BLOCK_BYTES:
            more = f.read()  # a frame's output comes in pieces: gather a block of it
            if not more:
                break
            data += more
        return data
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise SeqlabError(f"{path}: not a complete gzip file ({exc}); download it again") from None
    except OSError as exc:
        if isinstance(f, _ZstdReader):
            raise SeqlabError(
                f"{path}: not a complete zstd file ({exc}); download it again"
            ) from None
        raise _fail_read(path, exc) from None


def decoded_blocks(path: str | Path, errors: str = "strict") -> Iterator[str]:
    """The file as UTF-8 text, a block at a time (a leading BOM dropped, CRLF as LF), so a
    corpus larger than memory can be read; the line and byte offset of an invalid byte named.

    Raises:
        SeqlabError: if the file is missing, empty, or (in strict mode) not valid UTF-8.
    """
    if errors not in ERROR_MODES:
        raise SeqlabError(f"data.errors: expected one of {ERROR_MODES}, got {errors!r}")
    path = Path(path)
    decoder = codecs.getincrementaldecoder("utf-8")(errors)
    offset = lines = chars = 0  # bytes and line breaks before this block; characters yielded
    held = ""  # a block's final CR, joined to the next block in case an LF starts it
    with _open_uncompressed(path) as f:
        while True:
            data = _read_block(path, f)
            pending = decoder.getstate()[0]  # bytes of a character split by the last block
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                at = offset - len(pending) + exc.start
                line = lines + (pending + data).count(b"\n", 0, exc.start) + 1
                raise SeqlabError(
                    f"{path}:{line}: invalid UTF-8 (byte offset {at}); "
                    "fix the file or set data.errors=replace"
                ) from None
            offset, lines = offset + len(data), lines + data.count(b"\n")
            text = held + text
            if not chars:
                text = text.removeprefix("\ufeff")
            held = "\r" if data and text.endswith("\r") else ""
            # The same text whatever editor saved it: LF line ends (CR would stick to each line).
            text = text[: len(text) - len(held)].replace("\r\n", "\n")
            if text:
                chars += len(text)
                yield text
            if not data:
                break
    if not chars:
        raise SeqlabError(f"{path}: file is empty; point the config at the real data file")


def _decode(path: Path, errors: str) -> str:
    """The whole file as text (see `decoded_blocks`)."""
    return "".join(decoded_blocks(path, errors))


def _split_lines(text: str) -> list[str]:
    """Split on LF only (not on the exotic separators `str.splitlines` knows), dropping the final one."""
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


def iter_lines(path: str | Path, errors: str = "strict") -> Iterator[str]:
    """The lines `read_lines` returns, one at a time, read a block at a time."""
    rest = ""
    for block in decoded_blocks(path, errors):
        lines = (rest + block).split("\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


def _numbered_content(path: str | Path, errors: str) -> Iterator[tuple[int, str]]:
    """(line number, line) without the trailing blank lines every row reader ignores: a blank
    line is held until a later non-blank line shows it is not trailing."""
    held: list[tuple[int, str]] = []
    for lineno, line in enumerate(iter_lines(path, errors), start=1):
        if not line.strip():
            held.append((lineno, line))
            continue
        if held:
            yield from held
            held.clear()
        yield lineno, line


def read_text(path: str | Path, errors: str = "strict") -> str:
    """Read a whole UTF-8 file as one string, newlines included (for character-level corpora).

    Args:
        path: File to read.
        errors: "strict" or "replace", as for `read_lines`.

    Returns:
        The file's text (a leading BOM dropped, CRLF line ends as LF).

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
    return list(iter_parallel(src_path, tgt_path, errors))


def iter_parallel(
    src_path: str | Path, tgt_path: str | Path, errors: str = "strict"
) -> Iterator[tuple[str, str]]:
    """The pairs of `read_parallel`, one at a time; a count mismatch is raised at the end."""
    lines = zip_longest(iter_lines(src_path, errors), iter_lines(tgt_path, errors))
    for n, (src, tgt) in enumerate(lines):
        if src is None or tgt is None:  # one file ended: count the other one's rest
            rest = 1 + sum(1 for _ in lines)
            n_src, n_tgt = n + (rest if tgt is None else 0), n + (rest if src is None else 0)
            raise SeqlabError(
                f"{src_path} has {n_src} lines but {tgt_path} has {n_tgt}; "
                "parallel files must be aligned line by line"
            )
        yield src, tgt


def _column(path: str | Path, col: int | str, names: list[str] | None, role: str) -> int:
    """Zero-based index of a column given by number or, when the file has a header, by name."""
    if isinstance(col, int) and not isinstance(col, bool):
        if col < 0:
            raise SeqlabError(f"data.columns.{role} must be >= 0, got {col}")
        return col
    if not isinstance(col, str):
        raise SeqlabError(f"data.columns.{role}: expected a column number or name, got {col!r}")
    if names is None:
        raise SeqlabError(
            f"data.columns.{role}={col!r} names a column, but the file has no header; "
            "set data.header=true or give the column number (0 = first)"
        )
    if col not in names:
        raise SeqlabError(
            f"{path}:1: no column named {col!r} in the header; choose one of "
            + ", ".join(repr(name)[1:-1] for name in names)  # a name may hold a quoted newline
        )
    return names.index(col)


def read_tsv_pairs(
    path: str | Path,
    src_col: int | str = 0,
    tgt_col: int | str = 1,
    delimiter: str = "\t",
    errors: str = "strict",
    header: bool = False,
) -> list[tuple[str, str]]:
    """Read `(source, target)` pairs from two columns of a delimited file (e.g. Tatoeba exports).

    Columns beyond those requested are ignored, so attribution columns do no harm. Trailing blank
    lines are ignored; a blank line elsewhere is an error like any other short line. Fields are split
    on the delimiter only: quotes are text, as in Tatoeba sentences (see `read_csv_pairs` for CSV).

    Args:
        path: File to read.
        src_col: Zero-based index of the source column, or its name when `header` is true.
        tgt_col: Zero-based index of the target column, or its name when `header` is true.
        delimiter: Column separator.
        errors: "strict" or "replace", as for `read_lines`.
        header: The first line names the columns and is not an example.

    Returns:
        Pairs in file order.

    Raises:
        SeqlabError: unreadable file, an unknown column, or a line with too few columns (names the
            line).
    """
    return list(iter_tsv_pairs(path, src_col, tgt_col, delimiter, errors, header))


def iter_tsv_pairs(
    path: str | Path,
    src_col: int | str = 0,
    tgt_col: int | str = 1,
    delimiter: str = "\t",
    errors: str = "strict",
    header: bool = False,
) -> Iterator[tuple[str, str]]:
    """The pairs of `read_tsv_pairs`, one at a time, read a block at a time."""
    if any(isinstance(c, int) and not isinstance(c, bool) and c < 0 for c in (src_col, tgt_col)):
        raise SeqlabError(f"data columns must be >= 0, got src_col={src_col}, tgt_col={tgt_col}")
    lines = _numbered_content(path, errors)
    first = next(lines, None)  # line 1 when the file has any non-blank line
    names = first[1].split(delimiter) if header and first else None
    src_col, tgt_col = _column(path, src_col, names, "src"), _column(path, tgt_col, names, "tgt")
    need = max(src_col, tgt_col) + 1
    sep_name = "tab" if delimiter == "\t" else repr(delimiter)
    for lineno, line in chain([first] if first else [], lines):
        if lineno == 1 and header:
            continue
        cols = line.split(delimiter)
        if len(cols) < need:
            raise SeqlabError(
                f"{path}:{lineno}: expected at least {need} {sep_name}-separated columns, "
                f"found {len(cols)}"
            )
        yield cols[src_col], cols[tgt_col]


def read_csv_pairs(
    path: str | Path,
    src_col: int | str = 0,
    tgt_col: int | str = 1,
    errors: str = "strict",
    header: bool = False,
) -> list[tuple[str, str]]:
    """Read `(source, target)` pairs from two columns of a CSV file (RFC 4180 quoting).

    Quoted fields may hold commas, quotes (doubled) and newlines; broken quoting (an unclosed quote,
    text after a closing quote) is an error rather than a silently merged row. Blank lines at the end
    are ignored; a blank line elsewhere is a row with too few columns.

    Args:
        path: File to read.
        src_col: Zero-based index of the source column, or its name when `header` is true.
        tgt_col: Zero-based index of the target column, or its name when `header` is true.
        errors: "strict" or "replace", as for `read_lines`.
        header: The first row names the columns and is not an example.

    Returns:
        Pairs in file order.

    Raises:
        SeqlabError: unreadable file, broken quoting, an unknown column, or a row with too few
            columns (names the line the row starts on).
    """
    return list(iter_csv_pairs(path, src_col, tgt_col, errors, header))


def _csv_lines(path: str | Path, errors: str) -> Iterator[str]:
    """The lines a `newline=""` text stream of the file (trailing blank lines dropped) gives the
    csv module: LF, CR and CRLF each end one, and the last line has no line end."""
    last = None
    for _, line in _numbered_content(path, errors):
        if last is not None:
            yield from _universal_lines(last + "\n")
        last = line
    if last is not None:
        yield from _universal_lines(last)


def _universal_lines(text: str) -> Iterator[str]:
    if "\r" in text:  # a CR alone also ends a line for the csv module
        yield from io.StringIO(text, newline="")
    else:
        yield text


def iter_csv_pairs(
    path: str | Path,
    src_col: int | str = 0,
    tgt_col: int | str = 1,
    errors: str = "strict",
    header: bool = False,
) -> Iterator[tuple[str, str]]:
    """The pairs of `read_csv_pairs`, one at a time, read a block at a time."""
    rows = csv.reader(_csv_lines(path, errors), strict=True)
    start = 1  # line on which the current row starts (a quoted field may span lines)
    try:
        names = next(rows, []) if header else None
        start = rows.line_num + 1
        src, tgt = _column(path, src_col, names, "src"), _column(path, tgt_col, names, "tgt")
        need = max(src, tgt) + 1
        for row in rows:
            if len(row) < need:
                raise SeqlabError(
                    f"{path}:{start}: expected at least {need} comma-separated columns, "
                    f"found {len(row)}; quote fields that contain commas"
                )
            yield row[src], row[tgt]
            start = rows.line_num + 1
    except csv.Error as exc:
        raise SeqlabError(
            f"{path}:{start}: invalid CSV ({' '.join(str(exc).split())}); "
            "check the quoting of this row"
        ) from None


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
    return list(iter_jsonl(path, errors))


def iter_jsonl(path: str | Path, errors: str = "strict") -> Iterator[dict[str, Any]]:
    """The records of `read_jsonl`, one at a time, read a block at a time."""
    for lineno, line in _numbered_content(path, errors):
        try:
            record = json.loads(line)
            if _SURROGATE_ESCAPE.search(line):  # "\ud800" alone decodes to text UTF-8 cannot hold
                json.dumps(record, ensure_ascii=False).encode("utf-8")
        except json.JSONDecodeError as exc:
            raise SeqlabError(
                f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno}); "
                "each line must be one JSON object"
            ) from None
        except (RecursionError, ValueError) as exc:  # too deeply nested, too many digits, ...
            raise SeqlabError(
                f"{path}:{lineno}: invalid JSON ({_JSON_LIMITS.get(type(exc), 'unreadable')}); "
                "each line must be one JSON object"
            ) from None
        if not isinstance(record, dict):
            raise SeqlabError(
                f"{path}:{lineno}: expected a JSON object, found {type(record).__name__}; "
                "each line must be one JSON object"
            )
        yield record


def _field_text(path: str | Path, lineno: int, record: dict, field: str, role: str) -> str:
    """One text field of a JSON record: a string, a number, or a list of strings joined by spaces."""
    if field not in record:
        keys = ", ".join(sorted(record)) or "none"
        raise SeqlabError(
            f"{path}:{lineno}: missing field {field!r}; set data.fields.{role} to a field every "
            f"record has (this one has: {keys})"
        )
    value = record[field]
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    raise SeqlabError(
        f"{path}:{lineno}: field {field!r} holds {type(value).__name__} {json.dumps(value)[:40]}; "
        "expected text (a string, a number or a list of strings)"
    )


def read_jsonl_pairs(
    path: str | Path,
    src_field: str = "source",
    tgt_field: str = "target",
    errors: str = "strict",
    group_field: str | None = None,
    refs_field: str | None = None,
) -> list[tuple]:
    """Read examples from two fields of each record of a JSON Lines file.

    A text field may be a string, a number, or a list of strings (joined with spaces, e.g. the
    sentences of a document). Optional fields add extras: a group label (reported per group by the
    metrics) and a list of references for multi-reference metrics.

    Args:
        path: File to read.
        src_field: Field holding the source text.
        tgt_field: Field holding the target text.
        errors: "strict" or "replace", as for `read_lines`.
        group_field: Field holding a group label (e.g. a task or domain), or None.
        refs_field: Field holding a list of reference texts (or one text), or None. The target is
            added as the first reference when the list does not contain it.

    Returns:
        `(source, target)` pairs, or `(source, target, extra)` triples when a group or references
        field is set, where `extra` has "group" (str) and/or "refs" (list[str]).

    Raises:
        SeqlabError: unreadable file, invalid JSON, or a record with a missing or non-text field
            (names the line).
    """
    return list(iter_jsonl_pairs(path, src_field, tgt_field, errors, group_field, refs_field))


def iter_jsonl_pairs(
    path: str | Path,
    src_field: str = "source",
    tgt_field: str = "target",
    errors: str = "strict",
    group_field: str | None = None,
    refs_field: str | None = None,
) -> Iterator[tuple]:
    """The examples of `read_jsonl_pairs`, one at a time, read a block at a time."""
    for lineno, record in enumerate(iter_jsonl(path, errors), start=1):
        src = _field_text(path, lineno, record, src_field, "src")
        tgt = _field_text(path, lineno, record, tgt_field, "tgt")
        if group_field is None and refs_field is None:
            yield src, tgt
            continue
        extra: dict[str, Any] = {}
        if group_field is not None:
            extra["group"] = _field_text(path, lineno, record, group_field, "group")
        if refs_field is not None:
            refs = record.get(refs_field)
            if isinstance(refs, str):
                refs = [refs]
            if not (isinstance(refs, list) and refs and all(isinstance(r, str) for r in refs)):
                raise SeqlabError(
                    f"{path}:{lineno}: field {refs_field!r} must be a non-empty list of strings "
                    f"(the references), found {json.dumps(refs)[:40]}; fix the record or "
                    "set data.fields.refs=null"
                )
            extra["refs"] = refs if tgt in refs else [tgt, *refs]
        yield src, tgt, extra
