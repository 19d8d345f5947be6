"""What the plan needs from the data: vocabulary sizes, train-set size, lengths and batch shapes.

Three sources, best first: the tokenized cache (exact: the arrays seqlab-train will read), the
raw files' sizes (estimated: bytes / ``plan.bytes_per_token`` tokens, one example per line), or
plan defaults (generated or Hugging Face data that is not cached yet).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from seqlab.data.batching import BucketBatchSampler
from seqlab.data.cache import CacheEntry, lookup
from seqlab.data.dataset_readers import reader_format
from seqlab.data.prepare import cache_key, fixed_or_pretrained, prepare, stored_format
from seqlab.data.tokenizers import Tokenizer
from seqlab.planning.architectures import Shapes


@dataclasses.dataclass
class DataStats:
    """Train-split facts.

    Attributes:
        source: 'cache', 'files' (estimated from sizes) or 'assumed' (plan defaults).
        vocab: Role ('text' or 'src'/'tgt') -> vocabulary size.
        train_tokens: Tokens in the train split (source + target for pairs); None if unknown.
        src_lens, tgt_lens: (N,) tokens per train pair, specials excluded; None if unknown.
    """

    source: str
    vocab: dict[str, int]
    train_tokens: float | None
    src_lens: np.ndarray | None = None
    tgt_lens: np.ndarray | None = None


@dataclasses.dataclass
class Batches:
    """The training batches of one epoch on one device.

    Attributes:
        shapes: Padded shapes; fields are (n_batches,) arrays for pairs, scalars for LMs.
        tgt_tokens: Real target (loss) tokens per batch, same shape as the fields.
        per_epoch: Batches per epoch on each device; None if the data size is unknown.
    """

    shapes: Shapes
    tgt_tokens: Any
    per_epoch: int | None


def _from_cache(entry: CacheEntry, fmt: str) -> DataStats:
    states = entry.json("tokenizers")
    vocab = {role: Tokenizer.from_state(s).vocab_size for role, s in states.items()}
    if fmt == "text":
        return DataStats("cache", vocab, float(len(entry.array("train.ids"))))
    src, tgt = np.diff(entry.array("train.src_off")), np.diff(entry.array("train.tgt_off"))
    return DataStats("cache", vocab, float(src.sum() + tgt.sum()), src, tgt)


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _from_files(data: Mapping, root: Path, per_token: float, vocab: dict) -> DataStats | None:
    """Estimate from the train files' sizes; None when they are not all on disk."""
    specs = data.get("splits") or {}
    train = specs.get("train")
    paths = [root / p for p in ([train] if isinstance(train, str) else (train or {}).values())]
    if not paths or not all(p.is_file() for p in paths):
        return None
    kept = 1.0  # splits carved from train shrink it
    for split in ("val", "test"):
        if specs.get(split) is None:
            kept -= data.get(f"{split}_fraction") or 0.0
    tokens = [p.stat().st_size / per_token for p in paths]
    if reader_format(data) == "text":
        return DataStats("files", vocab, sum(tokens) * kept)
    lines = max(1, _count_lines(paths[0]))
    src, tgt = (tokens[0], tokens[1]) if len(tokens) == 2 else (tokens[0] / 2, tokens[0] / 2)
    n = max(1, round(lines * kept))
    return DataStats(
        "files", vocab, (src + tgt) * kept,
        np.full(n, max(1, round(src / lines))), np.full(n, max(1, round(tgt / lines))),
    )  # fmt: skip


def data_stats(
    cfg: Any, settings: Any, fixed_tokenizers: dict | None = None, layout: str = "auto"
) -> DataStats:
    """Train-split facts for a composed config (plain containers), best source first."""
    data, tok = cfg["data"], cfg["tokenizer"]
    fmt = stored_format(data, layout)
    root = Path(cfg["paths"]["data_dir"]).expanduser().resolve()
    cache_dir = Path(cfg["paths"]["cache_dir"]).expanduser()
    fixed_tokenizers = fixed_or_pretrained(tok, fixed_tokenizers)
    entry = lookup(cache_dir, cache_key(data, tok, root, fixed_tokenizers, layout))
    if entry is None and settings.prepare_data:
        entry, _ = prepare(data, tok, root, cache_dir, fixed_tokenizers, layout=layout)
    if entry is not None:
        return _from_cache(entry, fmt)
    kind = tok["kind"]
    if kind == "pretrained":  # a model's own vocabulary, known; its pieces are BPE-like
        size, kind = Tokenizer.from_state(fixed_tokenizers["text"]).vocab_size, "bpe"
    else:
        size = tok.get("vocab_size") or settings.assumed_vocab_size[kind]
    vocab = {"text": size} if fmt == "text" else {"src": size, "tgt": size}
    if data["reader"] not in ("generator", "hf"):  # these have no files to measure
        stats = _from_files(data, root, settings.bytes_per_token[kind], vocab)
        if stats is not None:
            return stats
    return DataStats("assumed", vocab, None)


def lm_batches(stats: DataStats, batch_size: int, block_size: int) -> Batches:
    """nanoGPT windows: every rank draws len(ids) // (B · T) random windows per epoch."""
    tokens = batch_size * block_size
    per_epoch = max(1, int(stats.train_tokens // tokens)) if stats.train_tokens else None
    return Batches(Shapes(batch_size, block_size), float(tokens), per_epoch)


def pair_batches(
    stats: DataStats, loader: Mapping, world: int, seed: int, assumed_length: int
) -> Batches:
    """The length-bucketed batches of epoch 0, as BucketBatchSampler builds them for training.

    Shapes follow ``collate_pairs``: the source gets <eos>, the decoder reads <bos> + target.
    """
    batch_size, max_tokens = loader["batch_size"], loader.get("max_tokens")
    if stats.src_lens is None:  # one typical batch of assumed lengths
        length = assumed_length + 1
        b = min(batch_size, max(1, max_tokens // (length + 1))) if max_tokens else batch_size
        return Batches(Shapes(b, length, length, float(b * length)), float(b * length), None)
    sampler = BucketBatchSampler(
        stats.src_lens, stats.tgt_lens, max_tokens, batch_size, shuffle=True, seed=seed,
        pool=loader.get("bucket_pool"), by=loader.get("bucket_by") or "source",
    )  # fmt: skip
    rows = [np.asarray(b) for b in sampler]
    src = [stats.src_lens[r] + 1 for r in rows]
    tgt = [stats.tgt_lens[r] + 1 for r in rows]
    shapes = Shapes(
        np.array([len(r) for r in rows]),
        np.array([t.max() for t in tgt]),
        np.array([s.max() for s in src]),
        np.array([s.sum() for s in src], dtype=float),
    )
    tgt_tokens = np.array([t.sum() for t in tgt], dtype=float)
    return Batches(shapes, tgt_tokens, math.ceil(len(rows) / world))


def prefix_batches(batches: Batches, block_size: int | None) -> Batches:
    """Pair batches as a decoder-only model reads them: one ``source <sep> target`` sequence."""
    s = batches.shapes
    length = np.asarray(s.src_len) + np.asarray(s.tgt_len)  # <eos> + <bos> stand for <sep>, <eos>
    if block_size:
        length = np.minimum(length, block_size)
    return Batches(Shapes(s.batch, length), batches.tgt_tokens, batches.per_epoch)
