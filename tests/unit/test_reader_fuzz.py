"""Fuzzing every data reader: random bytes and random malformed lines either read as plain text
data (strings that encode as UTF-8) or fail with seqlab's own one-line input error, nothing else."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import seqlab.data
from seqlab.data import babi, readers, scan, scitldr
from seqlab.errors import SeqlabError

# How each reader is called on a file (two files for parallel corpora), with its options varied.
READERS: dict[str, Callable[[list[Path]], Any]] = {
    "readers.read_lines": lambda p: readers.read_lines(p[0]),
    "readers.read_text": lambda p: readers.read_text(p[0], errors="replace"),
    "readers.read_parallel": lambda p: readers.read_parallel(p[0], p[1]),
    "readers.read_tsv_pairs": lambda p: readers.read_tsv_pairs(p[0], 0, 2),
    "readers.read_tsv_pairs header": lambda p: readers.read_tsv_pairs(
        p[0], "en", "fr", header=True
    ),
    "readers.read_csv_pairs": lambda p: readers.read_csv_pairs(p[0]),
    "readers.read_csv_pairs header": lambda p: readers.read_csv_pairs(p[0], "a", "b", header=True),
    "readers.read_jsonl": lambda p: readers.read_jsonl(p[0]),
    "readers.read_jsonl_pairs": lambda p: readers.read_jsonl_pairs(p[0], refs_field="refs"),
    "scan.read_scan_file": lambda p: scan.read_scan_file(p[0]),
    "babi.read_babi": lambda p: babi.read_babi(p[0], group="qa1"),
    "scitldr.read_scitldr": lambda p: scitldr.read_scitldr(p[0], targets="all"),
    "scitldr.read_scitldr_records": lambda p: scitldr.read_scitldr_records(p[0]),
}

# Lines close to each format, valid and broken, so fuzzing reaches past the first check.
LINES = [
    "", " ", "\t", "\r", "\x00", "\u2028", "\ufeffa\tb", "a\tb", "a\tb\tc", "en\tfr", "a,b",
    '"a,b', 'a,"b""c"', '"x"y,z', '"multi\nline",b', "a,b,c", '{"source": "a", "target": "b"}',
    '{"source": ["a", "b"], "target": ["c"], "refs": ["d"]}', '{"source": 1, "target": true}',
    '{"source": "\\ud800", "target": "x"}', '{"source": null}', "[1, 2]", "{", "1" * 5000,
    "[" * 5000, '{"a": ' * 3000, "IN: jump OUT: I_JUMP", "IN: OUT:", "IN: x OUT: ", "OUT: x",
    "1 Mary went home.", "2 Where is Mary?\thome\t1", "3 Where?\t\t", "\u00b2 x", "1" * 5000 + " x",
    "0 x", "1 ", "-1 x",
]  # fmt: skip

_FILES = st.lists(st.one_of(st.sampled_from(LINES), st.text(max_size=30)), max_size=12).map(
    lambda lines: "\n".join(lines).encode("utf-8")
)
_BYTES = st.binary(max_size=600)
_CONTENT = st.one_of(_FILES, _BYTES, st.tuples(_FILES, _BYTES).map(lambda fb: fb[0] + fb[1]))


def _public_readers() -> set[str]:
    """Every public `read_*` function of the seqlab.data modules, as "module.function"."""
    found = set()
    for info in pkgutil.iter_modules(seqlab.data.__path__):
        module = importlib.import_module(f"seqlab.data.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("read_") and fn.__module__ == module.__name__:
                found.add(f"{info.name}.{name}")
    return found


def test_every_reader_is_fuzzed():
    missing = _public_readers() - {key.split()[0] for key in READERS}
    assert not missing, f"add these readers to READERS in {Path(__file__).name}: {missing}"


def _assert_plain_text(value: Any) -> None:
    """Readers return plain data whose strings can be written as UTF-8 (the cache, tokenizers)."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, dict):
        for k, v in value.items():
            _assert_plain_text(k)
            _assert_plain_text(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _assert_plain_text(v)


@pytest.mark.parametrize("reader", sorted(READERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=_CONTENT, second=_CONTENT)
@example(first="\u00b2 x\n".encode(), second=b"")  # a digit int() cannot read (bAbI ids)
@example(first=b"[" * 5000, second=b"")  # nested deeper than the JSON parser recurses
@example(first=b"1" * 5000, second=b"")  # more digits than Python turns into an int
@example(first=b'{"source": "\\ud800", "target": "x"}', second=b"")  # half a surrogate pair
@example(first=b'"a,b\n', second=b"a\n")  # an unclosed CSV quote
def test_random_content_reads_or_fails_with_one_line(reader: str, first: bytes, second: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / "a.txt", Path(tmp) / "b.txt"]
        paths[0].write_bytes(first)
        paths[1].write_bytes(second)
        try:
            result = READERS[reader](paths)
        except SeqlabError as e:
            message = str(e)
            assert message and "\n" not in message and "\r" not in message, repr(message)
            return
        _assert_plain_text(result)
