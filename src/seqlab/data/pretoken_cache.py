"""Byte-level BPE encoding through a cache of pre-tokens, for corpora too large to encode slowly.

HF `tokenizers` merges every word again at each occurrence. A corpus repeats its words, so each
distinct pre-token (the pieces GPT-2's splitting rule cuts a line into, which seqlab's byte-level
BPE applies) is encoded once, by HF itself, and a line's ids are its pre-tokens' cached ids. The
rule is the stdlib regex below for ASCII text (faster) and the `regex` package's for the rest;
lines with a special token's text, or with a code point that Python's Unicode tables leave
unassigned, are encoded by HF as before. The ids equal HF's line-by-line encoding
(tests/unit/test_pretoken_cache.py); the speed-up is measured in experiments/benchmarks/README.md
("Data preparation at scale").
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import chain, groupby

import numpy as np
import regex

from seqlab.data.tokenizers import SPECIAL_TOKENS, Tokenizer, unfitted
from seqlab.errors import SeqlabError

_SPACE = r"\t\n\x0b\x0c\r "  # what GPT-2's \s matches in ASCII (not \x1c-\x1f, as Python's does)
ASCII_PRETOKEN = re.compile(
    rf"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^{_SPACE}A-Za-z0-9]+"
    rf"|[{_SPACE}]+(?![^{_SPACE}])|[{_SPACE}]+"
)
# The same rule over all of Unicode (letters, numbers and spaces by their Unicode properties).
UNICODE_PRETOKEN = regex.compile(
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
)
MAX_CACHED = 1 << 20  # distinct pre-tokens kept; the cache starts over past this (bounded memory)


def _pre_tokenizer(tok: Tokenizer) -> str:
    return json.dumps(json.loads(tok.hf.to_str())["pre_tokenizer"], sort_keys=True)


_BYTE_LEVEL = _pre_tokenizer(Tokenizer(unfitted("bpe"), "bpe"))


@functools.cache
def _unassigned() -> np.ndarray:
    """Which code points this Python's Unicode tables leave unassigned: the `regex` package may
    know newer letters among them that HF's regex engine does not (test_pretoken_cache.py)."""
    return np.array([unicodedata.category(chr(cp)) == "Cn" for cp in range(0x110000)])


def _plain(line: str) -> bool:
    """The cache path gives HF's ids for it: no special token's text (HF's encoder would match
    it as that token) and no character unknown to this Python's Unicode tables."""
    if "<" in line and any(t in line for t in SPECIAL_TOKENS):
        return False
    if line.isascii():
        return True
    code_points = np.frombuffer(line.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    return not _unassigned()[code_points].any()


class PretokenEncoder:
    """A text piece's ids, its lines encoded one by one (as the tokenizer was fitted)."""

    def __init__(self, tok: Tokenizer):
        self.tok = tok
        self.cached = tok.kind == "bpe" and _pre_tokenizer(tok) == _BYTE_LEVEL
        self.cache: dict[str, list[int]] = {}

    def __call__(self, piece: str) -> np.ndarray:
        lines = piece.splitlines(keepends=True)
        if not self.cached:
            return self.tok.encode_flat(lines)
        if _plain(piece):
            return self._from_cache(lines)
        runs = [
            (self._from_cache if plain else self.tok.encode_flat)(list(run))
            for plain, run in groupby(lines, key=_plain)
        ]
        return np.concatenate(runs) if runs else np.zeros(0, np.int32)

    def ragged(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each text's ids (a text whole, as HF encodes one), flat, and each text's length."""
        if not self.cached or not _plain("".join(texts)):
            return self.tok.encode_ragged(texts)
        rule = ASCII_PRETOKEN if all(map(str.isascii, texts)) else UNICODE_PRETOKEN
        per_text = list(map(rule.findall, texts))
        self._fill(set(chain.from_iterable(per_text)))
        ids = self.cache.__getitem__
        lengths = np.fromiter(
            (sum(map(len, map(ids, pretokens))) for pretokens in per_text), np.int64, len(texts)
        )
        flat = chain.from_iterable(map(ids, chain.from_iterable(per_text)))
        return np.fromiter(flat, np.int32, lengths.sum()), lengths

    def _fill(self, distinct: set[str]) -> None:
        """Encode the pre-tokens not cached yet (all of them again once the cache is full)."""
        new = [p for p in distinct if p not in self.cache]
        if len(self.cache) + len(new) > MAX_CACHED:
            self.cache.clear()
            new = list(distinct)
        for pretoken, encoding in zip(new, self.tok.hf.encode_batch_fast(new), strict=True):
            self.cache[pretoken] = encoding.ids

    def _from_cache(self, lines: list[str]) -> np.ndarray:
        rule = ASCII_PRETOKEN if all(map(str.isascii, lines)) else UNICODE_PRETOKEN
        pretokens = list(chain.from_iterable(map(rule.findall, lines)))
        self._fill(set(pretokens))
        ids = chain.from_iterable(map(self.cache.__getitem__, pretokens))
        return np.fromiter(ids, dtype=np.int32)


_worker: PretokenEncoder | None = None


def _start_worker(state: dict) -> None:
    global _worker
    _worker = PretokenEncoder(Tokenizer.from_state(state))


def _encode_in_worker(piece: str) -> np.ndarray:
    assert _worker is not None
    return _worker(piece)


def _in_order(pool: Executor, pieces: Iterable[str], ahead: int) -> Iterator[np.ndarray]:
    """The pool's results in the pieces' order, at most `ahead` pieces in flight (bounded memory)."""
    flight: list[Future] = []
    for piece in pieces:
        flight.append(pool.submit(_encode_in_worker, piece))
        if len(flight) >= ahead:
            yield flight.pop(0).result()
    for future in flight:
        yield future.result()


def encode_pieces(tok: Tokenizer, pieces: Iterable[str], workers: int = 1) -> Iterator[np.ndarray]:
    """Each piece's ids, in order; `workers` > 1 encodes that many pieces at once in processes."""
    if workers <= 1:
        yield from map(PretokenEncoder(tok), pieces)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    try:
        with ProcessPoolExecutor(workers, context, _start_worker, (tok.state(),)) as pool:
            yield from _in_order(pool, pieces, 2 * workers)
    except BrokenProcessPool:
        raise SeqlabError(
            "a data preparation worker process stopped; if seqlab runs from your own script, put "
            "the script's code under `if __name__ == '__main__':` (workers import the script)"
        ) from None
