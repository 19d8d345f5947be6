"""source → clean → tokenize → encode → cache: the one-way path from files to id arrays.

`prepare` returns a complete cache entry. A second run with the same data, cleaning and tokenizer
settings (and the same file contents) reads the entry and skips all of the work.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain, islice
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from seqlab import __version__
from seqlab.data import text_stream
from seqlab.data.cache import CacheEntry, CacheWriter, build_lock, fingerprint, lookup
from seqlab.data.char_stream import encode_char_chunks, fit_char
from seqlab.data.cleaning import clean_texts
from seqlab.data.datasets import expand_globs, load_splits, reader_format, split_files
from seqlab.data.pair_stream import Targets
from seqlab.data.pretoken_cache import PretokenEncoder, encode_pieces
from seqlab.data.progress import Progress
from seqlab.data.sources import file_sha256
from seqlab.data.text_stream import TextSplit
from seqlab.data.tokenizers import SHOW_PROGRESS_CHARS, Tokenizer, fit_tokenizer
from seqlab.errors import SeqlabError

log = logging.getLogger(__name__)


def _plain(cfg) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


# task.kind → how a dataset's examples are laid out for it: one token stream (LM), the dataset's
# (source, target) pairs, or each text line paired with itself (denoising: the source is noised later).
LAYOUTS = {"lm": "stream", "seq2seq": "pairs", "denoise": "lines"}


def file_hashes(data_cfg: Mapping, data_root: Path) -> dict[str, str]:
    """SHA-256 of every file the dataset reads ("missing" for one not there yet)."""
    files = {}
    for rel in split_files(data_cfg):
        path = data_root / rel
        files[rel] = file_sha256(path) if path.is_file() else "missing"
    return files


def fixed_or_pretrained(tok_cfg: Mapping, fixed: dict | None) -> dict | None:
    """``fixed``, or with ``tokenizer.kind=pretrained`` the model's tokenizer for every role (a
    tokenizer that is never fitted is a fixed one, and part of the cache key)."""
    if fixed is not None or tok_cfg["kind"] != "pretrained":
        return fixed
    from seqlab.data.pretrained_tokenizer import pretrained_tokenizer_states

    return pretrained_tokenizer_states(tok_cfg.get("name"))


def cache_key(
    data_cfg: Mapping,
    tok_cfg: Mapping,
    data_root: Path,
    fixed: dict | None,
    layout: str = "auto",
    files: dict[str, str] | None = None,
) -> str:
    """Fingerprint of file contents, data + tokenizer config, layout and any fixed tokenizer."""
    files = file_hashes(data_cfg, data_root) if files is None else files
    digest = fingerprint(__version__, data_cfg, tok_cfg, files, fixed, layout)
    return f"{data_cfg['name']}-{digest}"


def data_fingerprint(data_cfg: Mapping, files: dict[str, str]) -> str:
    """What the examples are: the data settings and file contents, not how they are tokenized
    (a resume compares it with the one its checkpoint recorded)."""
    return fingerprint("data", data_cfg, files)


def stored_format(data_cfg: Mapping, layout: str = "auto") -> str:
    """'text' or 'pairs': what the cache entry holds for this dataset under ``layout``."""
    return "pairs" if layout == "lines" else reader_format(data_cfg)


def as_line_pairs(splits: dict, fmt: str) -> dict:
    """Each non-blank line of a text split as (line, line); pairs keep their target side."""
    if fmt == "text":
        texts = {name: s if isinstance(s, str) else s.text() for name, s in splits.items()}
        return {
            name: [(line, line) for line in text.split("\n") if line.strip()]
            for name, text in texts.items()
        }
    return {name: Targets(pairs) for name, pairs in splits.items()}


def _clean(texts: list[str], cleaning: Mapping) -> list[str]:
    return clean_texts(
        texts,
        normalize=cleaning.get("normalize"),
        collapse_whitespace=cleaning.get("collapse_whitespace", True),
        lowercase=cleaning.get("lowercase", False),
    )


def _eval_texts(examples: list, src: list[str], tgt: list[str], cleaning: Mapping) -> dict:
    """Cleaned sources and targets of an evaluation split, with the examples' extras.

    Adds "group" (one label per example, None where an example has none) when any example has a
    group, and "refs" (a list of cleaned references per example, `[target]` where an example has
    none) when any example has references.
    """
    texts: dict[str, list] = {"src": src, "tgt": tgt}
    extras = [x[2] if len(x) > 2 else {} for x in examples]
    if any(e.get("group") is not None for e in extras):
        texts["group"] = [e.get("group") for e in extras]
    if any(e.get("refs") for e in extras):
        flat = iter(_clean([r for e in extras for r in e.get("refs") or ()], cleaning))
        texts["refs"] = [
            [next(flat) for _ in e["refs"]] if e.get("refs") else [t]
            for e, t in zip(extras, tgt, strict=True)
        ]
    return texts


def _fit_or_reuse(
    role: str, texts: Iterable[str], tok_cfg: Mapping, fixed: dict | None
) -> Tokenizer:
    if fixed is not None:
        return Tokenizer.from_state(fixed[role])
    return fit_tokenizer(
        texts,
        tok_cfg["kind"],
        vocab_size=tok_cfg.get("vocab_size"),
        min_freq=tok_cfg["min_freq"],
        max_chars=tok_cfg.get("fit_max_chars"),
    )


def _too_long_policy(cleaning: Mapping) -> str:
    policy = cleaning.get("too_long", "drop")
    if policy not in ("drop", "truncate"):
        raise SeqlabError(
            f"config key 'data.cleaning.too_long': {policy!r} is not valid; choose drop or truncate"
        )
    return policy


PAIRS_CHUNK = 50_000  # pairs cleaned and encoded at a time: bounds their Python objects


def _chunks(examples: Iterable, cleaning: Mapping) -> Iterator[tuple[list, list[str], list[str]]]:
    """(examples, cleaned sources, cleaned targets), `PAIRS_CHUNK` examples at a time (a list or
    a stream of them: the pairs are never all in memory)."""
    rows = iter(examples)
    while part := list(islice(rows, PAIRS_CHUNK)):
        yield part, _clean([x[0] for x in part], cleaning), _clean([x[1] for x in part], cleaning)


def _pair_tokenizers(train: Iterable, cleaning: Mapping, tok_cfg: Mapping, fixed) -> dict:
    """Source and target tokenizers fitted on the cleaned training pairs (one shared by default),
    streamed chunk by chunk (a fit does not depend on the order of its texts); fixed ones as
    given (a model's own reads sources and targets each its way, over one vocabulary)."""
    if fixed is not None and fixed["src"] != fixed["tgt"]:
        return {role: Tokenizer.from_state(fixed[role]) for role in ("src", "tgt")}
    if tok_cfg.get("shared_vocab", True):
        both = chain.from_iterable(src + tgt for _, src, tgt in _chunks(train, cleaning))
        shared = _fit_or_reuse("src", both, tok_cfg, fixed)
        return {"src": shared, "tgt": shared}
    sides = {"src": 1, "tgt": 2}
    return {
        role: _fit_or_reuse(
            role, chain.from_iterable(c[i] for c in _chunks(train, cleaning)), tok_cfg, fixed
        )
        for role, i in sides.items()
    }


def _add(counts: dict, key: str, n: int) -> None:
    counts[key] = counts.get(key, 0) + int(n)


class Ragged:
    """Many id sequences as one flat array and their lengths (no array per sequence)."""

    def __init__(self, flat: np.ndarray, lengths: np.ndarray):
        self.flat, self.lengths = flat, lengths

    @classmethod
    def encode(cls, encoder: PretokenEncoder, texts: list[str]) -> Ragged:
        return cls(*encoder.ragged(texts))

    def _positions(self) -> np.ndarray:
        """Each token's position within its sequence."""
        starts = np.cumsum(self.lengths) - self.lengths
        return np.arange(len(self.flat)) - np.repeat(starts, self.lengths)

    def cut(self, max_len: int) -> Ragged:
        return Ragged(self.flat[self._positions() < max_len], np.minimum(self.lengths, max_len))

    def select(self, keep: np.ndarray) -> Ragged:
        return Ragged(self.flat[np.repeat(keep, self.lengths)], self.lengths[keep])


def _truncate(name: str, src: Ragged, tgt: Ragged, cleaning: Mapping, counts: dict):
    """``too_long=truncate``: every split cut to ``max_len`` tokens a side, cuts counted."""
    max_len = cleaning.get("max_len")
    if not max_len or _too_long_policy(cleaning) != "truncate":
        return src, tgt
    longest = np.maximum(src.lengths, tgt.lengths)
    _add(counts, f"{name}_truncated_too_long", (longest > max_len).sum())
    return src.cut(max_len), tgt.cut(max_len)


def _train_filter(src: Ragged, tgt: Ragged, cleaning: Mapping, counts: dict) -> np.ndarray:
    """Training pairs kept by the length filters (``min_len``; ``max_len`` with ``too_long=drop``,
    already cut otherwise), drops counted; evaluation splits are never filtered."""
    max_len, min_len = cleaning.get("max_len"), cleaning.get("min_len", 1)
    short = np.minimum(src.lengths, tgt.lengths) < min_len
    long = np.maximum(src.lengths, tgt.lengths) > max_len if max_len else np.zeros_like(short)
    _add(counts, "train_dropped_too_short", short.sum())
    _add(counts, "train_dropped_too_long", (long & ~short).sum())
    return ~(short | long)


def _write_split(
    writer: CacheWriter, name: str, examples: Iterable, encoders: dict, cleaning, counts
):
    """Encode, cut or filter by length, and append a chunk at a time to the split's arrays."""
    arrays = [f"{name}.{side}{part}" for side in ("src", "tgt") for part in ("", "_off")]
    texts: dict[str, list] = {"examples": [], "src": [], "tgt": []}
    with contextlib.ExitStack() as stack:
        src_ids, src_off, tgt_ids, tgt_off = (
            stack.enter_context(writer.open_array(a, np.int64 if a.endswith("_off") else np.int32))
            for a in arrays
        )
        src_off.write(np.zeros(1))
        tgt_off.write(np.zeros(1))
        ends = {"src": 0, "tgt": 0}
        zero = [f"{name}_examples"]  # every count present, for a split left empty too
        if cleaning.get("max_len") and _too_long_policy(cleaning) == "truncate":
            zero.append(f"{name}_truncated_too_long")
        if name == "train":
            zero += ["train_dropped_too_short", "train_dropped_too_long"]
        for key in zero:
            _add(counts, key, 0)
        for part, src, tgt in _chunks(examples, cleaning):
            ids = _truncate(
                name, Ragged.encode(encoders["src"], src), Ragged.encode(encoders["tgt"], tgt),
                cleaning, counts,
            )  # fmt: skip
            keep = (
                _train_filter(*ids, cleaning, counts)
                if name == "train"
                else np.ones(len(src), bool)
            )
            for side, out, off, ragged in (("src", src_ids, src_off, ids[0]),
                                           ("tgt", tgt_ids, tgt_off, ids[1])):  # fmt: skip
                kept = ragged.select(keep)
                out.write(kept.flat)
                off.write(ends[side] + np.cumsum(kept.lengths))
                ends[side] += int(kept.lengths.sum())
            _add(counts, f"{name}_examples", keep.sum())
            if name != "train":  # references and sources for metrics and sample logs
                for key, values in (("examples", part), ("src", src), ("tgt", tgt)):
                    texts[key] += [values[i] for i in np.flatnonzero(keep)]
    if name != "train":
        writer.json(
            f"{name}.text", _eval_texts(texts["examples"], texts["src"], texts["tgt"], cleaning)
        )


def _write_pairs(writer: CacheWriter, splits: dict, cleaning: Mapping, tok_cfg: Mapping, fixed):
    """Fit tokenizers on the cleaned training pairs, then write every split a chunk at a time."""
    toks = _pair_tokenizers(splits["train"], cleaning, tok_cfg, fixed)
    shared = {id(tok): PretokenEncoder(tok) for tok in toks.values()}  # one cache per tokenizer
    encoders = {role: shared[id(tok)] for role, tok in toks.items()}
    counts: dict[str, int] = {}
    for name, examples in splits.items():
        _write_split(writer, name, examples, encoders, cleaning, counts)
    check_not_emptied(counts, cleaning)
    return toks, counts


def check_not_emptied(counts: Mapping[str, int], cleaning: Mapping) -> None:
    """A split left empty ends the run in one line naming the filter that emptied it; a training
    set mostly dropped by the length filters is worth a warning (a model of a few pairs is no run)."""
    kept, short, long = (
        counts[f"train_{k}"] for k in ("examples", "dropped_too_short", "dropped_too_long")
    )
    total = kept + short + long
    why = (
        f"{long} longer than data.cleaning.max_len={cleaning.get('max_len')}, {short} shorter than "
        f"data.cleaning.min_len={cleaning.get('min_len', 1)} tokens"
    )
    if total and not kept:
        raise SeqlabError(
            f"the training split is empty after cleaning: all {total} pairs dropped ({why}); raise "
            "data.cleaning.max_len, lower data.cleaning.min_len, or set data.cleaning.too_long=truncate"
        )
    if short + long > total / 2:
        log.warning("data.cleaning dropped %d of %d training pairs (%s)", short + long, total, why)
    for name in ("train", "val", "test"):
        if counts.get(f"{name}_examples") == 0:
            raise SeqlabError(
                f"the {name} split has no examples; check the data files of data.splits"
            )


def _cleaned(split: TextSplit, cleaning: Mapping) -> Iterator[str]:
    """The split cleaned, a piece at a time: joined, exactly `_clean` of the whole split (pieces
    end at line breaks; collapsed pieces join with the space collapsing would leave)."""
    collapse, started = cleaning.get("collapse_whitespace", True), False
    for piece in split.pieces(lambda text: _clean([text], cleaning)[0]):
        if collapse and piece and started:
            piece = " " + piece
        started = started or bool(piece)
        yield piece


def _lines(pieces: Iterable[str]) -> Iterator[str]:
    for piece in pieces:
        yield from piece.splitlines(keepends=True)


def _fit_text(train: TextSplit, cleaning: Mapping, tok_cfg: Mapping, fixed) -> Tokenizer:
    if fixed is not None:
        return Tokenizer.from_state(fixed["text"])
    if tok_cfg["kind"] == "char":  # numpy over code points: no per-line objects (same tokenizer)
        return fit_char(_cleaned(train, cleaning), tok_cfg.get("vocab_size"), tok_cfg["min_freq"])
    return _fit_or_reuse("text", _lines(_cleaned(train, cleaning)), tok_cfg, None)


def _write_text(writer: CacheWriter, splits: dict, cleaning: Mapping, tok_cfg: Mapping, fixed):
    """Fit on the training split, then encode every split and write its ids a piece at a time:
    memory holds a piece of text and its ids, never a split."""
    tok = _fit_text(splits["train"], cleaning, tok_cfg, fixed)
    dtype = np.uint16 if tok.vocab_size < 2**16 else np.int32
    counts = {}
    for name, split in splits.items():
        pieces = _cleaned(split, cleaning)
        if len(split) > SHOW_PROGRESS_CHARS:  # a long build says how far it is
            pieces = Progress(f"tokenizing {name}", len(split)).wrap(pieces)
        if tok.kind == "char":
            chunks = encode_char_chunks(tok, pieces, dtype)
        else:  # line by line, as fitted; a split of several pieces in a process per core
            workers = (
                len(os.sched_getaffinity(0)) if len(split) > 2 * text_stream.PIECE_CHARS else 1
            )
            chunks = encode_pieces(tok, pieces, workers)
        counts[f"{name}_tokens"] = writer.array_chunks(f"{name}.ids", dtype, chunks)
    return {"text": tok}, counts


def _build(data_cfg, tok_cfg, data_root, cache_dir, key, files, fixed, layout) -> CacheEntry:
    start = time.perf_counter()
    splits = load_splits(data_cfg, data_root, stream=True)
    if layout == "lines":
        splits = as_line_pairs(splits, reader_format(data_cfg))
    writer = CacheWriter(cache_dir, key)
    write = _write_text if stored_format(data_cfg, layout) == "text" else _write_pairs
    try:  # files are read while they are written: a bad line found then leaves no temp folder
        toks, counts = write(writer, splits, data_cfg.get("cleaning") or {}, tok_cfg, fixed)
    except BaseException:
        writer.abort()
        raise
    writer.json("tokenizers", {role: tok.state() for role, tok in toks.items()})
    entry = writer.commit(
        {
            "key": key,
            "data_fingerprint": data_fingerprint(data_cfg, files),
            "counts": counts,
            "seconds": time.perf_counter() - start,
        }
    )
    log.info("tokenized %s in %.1fs: %s", data_cfg["name"], time.perf_counter() - start, counts)
    return entry


def prepare(
    data_cfg: Mapping,
    tok_cfg: Mapping,
    data_root: str | Path,
    cache_dir: str | Path,
    fixed_tokenizers: dict | None = None,
    layout: str = "auto",
) -> tuple[CacheEntry, dict[str, Tokenizer]]:
    """Build (or reuse) the cache entry for a dataset and return it with its tokenizers.

    Args:
        fixed_tokenizers: tokenizer states from a checkpoint, used instead of fitting new ones.
        layout: "auto" (the reader's format), or one of LAYOUTS' values ("lines" turns text into
            (line, line) pairs).
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise SeqlabError(  # a worker importing a script that prepares data at import: stop it
            "data preparation started while a worker process imported your script; put the "
            "script's code under `if __name__ == '__main__':`"
        )
    data_cfg, tok_cfg = _plain(data_cfg), _plain(tok_cfg)
    data_root = Path(data_root).expanduser().resolve()
    data_cfg = expand_globs(data_cfg, data_root)  # the matched files are part of the cache key
    fixed_tokenizers = fixed_or_pretrained(tok_cfg, fixed_tokenizers)
    files = file_hashes(data_cfg, data_root)
    key = cache_key(data_cfg, tok_cfg, data_root, fixed_tokenizers, layout, files)
    cache_dir = Path(cache_dir).expanduser()
    entry = lookup(cache_dir, key)
    if entry is None:
        with build_lock(cache_dir, key):  # one process builds, the others then read it
            entry = lookup(cache_dir, key) or _build(
                data_cfg, tok_cfg, data_root, cache_dir, key, files, fixed_tokenizers, layout
            )
    states = entry.json("tokenizers")
    return entry, {role: Tokenizer.from_state(s) for role, s in states.items()}
