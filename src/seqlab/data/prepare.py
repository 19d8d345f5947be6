"""source → clean → tokenize → encode → cache: the one-way path from files to id arrays.

`prepare` returns a complete cache entry. A second run with the same data, cleaning and tokenizer
settings (and the same file contents) reads the entry and skips all of the work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from seqlab import __version__
from seqlab.data.cache import CacheEntry, CacheWriter, fingerprint, lookup, pack
from seqlab.data.char_stream import encode_char_chunks, fit_char
from seqlab.data.cleaning import clean_texts
from seqlab.data.datasets import expand_globs, load_splits, reader_format, split_files
from seqlab.data.progress import Progress
from seqlab.data.sources import file_sha256
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
    from seqlab.data.pretrained_tokenizer import pretrained_tokenizer_state

    state = pretrained_tokenizer_state(tok_cfg.get("name"))
    return {role: state for role in ("text", "src", "tgt")}


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
        return {
            name: [(line, line) for line in text.split("\n") if line.strip()]
            for name, text in splits.items()
        }
    return {name: [(ex[1], ex[1]) for ex in pairs] for name, pairs in splits.items()}


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


def _fit_or_reuse(role: str, texts: list[str], tok_cfg: Mapping, fixed: dict | None) -> Tokenizer:
    if fixed is not None:
        return Tokenizer.from_state(fixed[role])
    return fit_tokenizer(
        texts, tok_cfg["kind"], vocab_size=tok_cfg.get("vocab_size"), min_freq=tok_cfg["min_freq"]
    )


def _too_long_policy(cleaning: Mapping) -> str:
    policy = cleaning.get("too_long", "drop")
    if policy not in ("drop", "truncate"):
        raise SeqlabError(
            f"config key 'data.cleaning.too_long': {policy!r} is not valid; choose drop or truncate"
        )
    return policy


def _pair_tokenizers(src: list[str], tgt: list[str], tok_cfg: Mapping, fixed) -> dict:
    """Source and target tokenizers fitted on the cleaned training pairs (one shared by default)."""
    if tok_cfg.get("shared_vocab", True):
        shared = _fit_or_reuse("src", src + tgt, tok_cfg, fixed)
        return {"src": shared, "tgt": shared}
    return {
        "src": _fit_or_reuse("src", src, tok_cfg, fixed),
        "tgt": _fit_or_reuse("tgt", tgt, tok_cfg, fixed),
    }


def _truncate(name: str, src_ids: list, tgt_ids: list, cleaning: Mapping, counts: dict):
    """``too_long=truncate``: every split cut to ``max_len`` tokens a side, cuts counted."""
    max_len = cleaning.get("max_len")
    if not max_len or _too_long_policy(cleaning) != "truncate":
        return src_ids, tgt_ids
    longest = np.maximum([len(s) for s in src_ids], [len(t) for t in tgt_ids])
    counts[f"{name}_truncated_too_long"] = int((longest > max_len).sum())
    return [s[:max_len] for s in src_ids], [t[:max_len] for t in tgt_ids]


def _train_filter(src_ids: list, tgt_ids: list, cleaning: Mapping, counts: dict) -> np.ndarray:
    """Training pairs kept by the length filters (``min_len``; ``max_len`` with ``too_long=drop``,
    already cut otherwise), drops counted; evaluation splits are never filtered."""
    src_len = np.array([len(s) for s in src_ids], dtype=np.int64)
    tgt_len = np.array([len(t) for t in tgt_ids], dtype=np.int64)
    max_len, min_len = cleaning.get("max_len"), cleaning.get("min_len", 1)
    short = np.minimum(src_len, tgt_len) < min_len
    long = np.maximum(src_len, tgt_len) > max_len if max_len else np.zeros_like(short)
    counts["train_dropped_too_short"] = int(short.sum())
    counts["train_dropped_too_long"] = int((long & ~short).sum())
    return ~(short | long)


def _write_pairs(writer: CacheWriter, splits: dict, cleaning: Mapping, tok_cfg: Mapping, fixed):
    """Clean, fit tokenizers on train, encode, cut or filter by length, and write every split."""
    cleaned = {
        name: (_clean([x[0] for x in pairs], cleaning), _clean([x[1] for x in pairs], cleaning))
        for name, pairs in splits.items()
    }
    toks = _pair_tokenizers(*cleaned["train"], tok_cfg, fixed)
    counts: dict[str, int] = {}
    for name, (src, tgt) in cleaned.items():
        src_ids, tgt_ids = toks["src"].encode_batch(src), toks["tgt"].encode_batch(tgt)
        src_ids, tgt_ids = _truncate(name, src_ids, tgt_ids, cleaning, counts)
        keep = np.flatnonzero(
            _train_filter(src_ids, tgt_ids, cleaning, counts)
            if name == "train"
            else np.ones(len(src), bool)
        )
        for side, ids in (("src", src_ids), ("tgt", tgt_ids)):
            flat, offsets = pack([ids[i] for i in keep])
            writer.array(f"{name}.{side}", flat)
            writer.array(f"{name}.{side}_off", offsets)
        counts[f"{name}_examples"] = len(keep)
        if name != "train":  # references and sources for metrics and sample logs
            examples = [splits[name][i] for i in keep]  # as read, for the extras
            texts = _eval_texts(examples, [src[i] for i in keep], [tgt[i] for i in keep], cleaning)
            writer.json(f"{name}.text", texts)
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


def _write_text(writer: CacheWriter, splits: dict, cleaning: Mapping, tok_cfg: Mapping, fixed):
    cleaned = {name: _clean([text], cleaning)[0] for name, text in splits.items()}
    char = tok_cfg["kind"] == "char"
    if char and fixed is None:  # numpy over code points: no per-line objects (same tokenizer)
        tok = fit_char([cleaned["train"]], tok_cfg.get("vocab_size"), tok_cfg["min_freq"])
    else:
        tok = _fit_or_reuse("text", cleaned["train"].splitlines(keepends=True), tok_cfg, fixed)
    counts = {}
    for name, text in cleaned.items():
        dtype = np.uint16 if tok.vocab_size < 2**16 else np.int32
        if char:  # one id per character, written as encoded: the ids never all in memory
            chunks = encode_char_chunks(tok, text, dtype)
            if len(text) > SHOW_PROGRESS_CHARS:  # a long build says how far it is
                chunks = Progress(f"tokenizing {name}", len(text)).wrap(chunks)
            writer.array_chunks(f"{name}.ids", len(text), dtype, chunks)
            counts[f"{name}_tokens"] = len(text)
            continue
        # Encode line by line (parallel in Rust), then join: identical ids for word/bpe
        # tokenizers that never merge across a newline.
        ids = pack(tok.encode_batch(text.splitlines(keepends=True)))[0].astype(dtype)
        writer.array(f"{name}.ids", ids)
        counts[f"{name}_tokens"] = int(len(ids))
    return {"text": tok}, counts


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
    data_cfg, tok_cfg = _plain(data_cfg), _plain(tok_cfg)
    data_root = Path(data_root).expanduser().resolve()
    data_cfg = expand_globs(data_cfg, data_root)  # the matched files are part of the cache key
    fixed_tokenizers = fixed_or_pretrained(tok_cfg, fixed_tokenizers)
    files = file_hashes(data_cfg, data_root)
    key = cache_key(data_cfg, tok_cfg, data_root, fixed_tokenizers, layout, files)
    entry = lookup(Path(cache_dir).expanduser(), key)
    if entry is None:
        start = time.perf_counter()
        splits = load_splits(data_cfg, data_root)
        if layout == "lines":
            splits = as_line_pairs(splits, reader_format(data_cfg))
        writer = CacheWriter(Path(cache_dir).expanduser(), key)
        write = _write_text if stored_format(data_cfg, layout) == "text" else _write_pairs
        toks, counts = write(
            writer, splits, data_cfg.get("cleaning") or {}, tok_cfg, fixed_tokenizers
        )
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
    states = entry.json("tokenizers")
    return entry, {role: Tokenizer.from_state(s) for role, s in states.items()}
