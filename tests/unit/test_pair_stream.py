"""Pairs read as a stream: the same carve-outs as carving a list, the same cache entry whatever
the chunk size, and never the whole list of pairs in memory."""

from __future__ import annotations

import gzip
import hashlib
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import seqlab.data.prepare as prepare_module
from seqlab.data import readers
from seqlab.data.pair_stream import Carved, FilePairs, gather, holdout
from seqlab.data.prepare import prepare


def list_holdout(items: list, fraction: float, seed: int) -> tuple[list, list]:
    """The carve-out of a list, as datasets.py made it before pairs were streamed (the spec)."""
    n_out = round(len(items) * fraction)
    order = np.random.default_rng(seed).permutation(len(items))
    out = set(order[:n_out].tolist())
    return [x for i, x in enumerate(items) if i not in out], [items[i] for i in sorted(out)]


@pytest.mark.parametrize(("n", "fractions", "seed"), [
    (0, (0.1, 0.1), 0), (1, (0.5, 0.5), 0), (7, (0.3, 0.5), 1), (1000, (0.02, 0.02), 0),
    (2500, (0.05, 0.25), 3), (999, (0.5, 0.1), 7),
])  # fmt: skip
def test_stream_carve_equals_list_carve(n, fractions, seed):
    items = [(f"s{i}", f"t{i}", {"group": str(i % 3)}) for i in range(n)]
    reads = []
    stream = FilePairs(lambda: (reads.append(1), iter(items))[1])
    want_rest, got_rest, wanted, got = items, stream, [], []
    for fraction in fractions:  # test first, then val from what test leaves (load_splits' order)
        want_rest, want_held = list_holdout(want_rest, fraction, seed)
        got_rest, got_held = holdout(got_rest, fraction, seed)
        wanted.append(want_held)
        got.append(got_held)
    assert isinstance(got_rest, Carved) and len(got_rest) == len(want_rest)
    assert list(got_rest) == want_rest
    assert [list(g) for g in got] == wanted and [len(g) for g in got] == list(map(len, wanted))
    assert len(reads) == 1 + 3  # one counting pass, then one pass per split read
    gathered = gather(dict(zip(("test", "val"), got, strict=True)))
    assert list(gathered.values()) == wanted and len(reads) == 1 + 3 + 1  # both in one pass


def _pairs_file(path: Path, n: int) -> Path:
    """n tab-separated pairs, with a blank-looking pair and quotes."""
    lines = [f'src {i} {"x" * (i % 17)}\t"tgt" {i % 101} {"y" * (i % 13)}\n' for i in range(n)]
    lines[n // 2] = " \t \n"
    data = "".join(lines).encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def _entry_hashes(entry) -> dict[str, str]:
    hashes = {}
    for f in sorted(entry.path.iterdir()):
        data = f.read_bytes()
        if f.name == "meta.json":  # the build's duration and the checksum that covers it vary
            meta = json.loads(data)
            del meta["seconds"], meta["meta_sha256"]
            data = json.dumps(meta).encode()
        hashes[f.name] = hashlib.sha256(data).hexdigest()
    return hashes


@pytest.mark.parametrize("layout", ["auto", "lines"])
def test_chunk_size_changes_no_byte_of_the_cache_entry(tmp_path, monkeypatch, layout):
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text("".join(
        json.dumps({"s": f"q {i} " * (i % 9 + 1), "t": f"a {i % 37}", "g": f"k{i % 3}",
                    "r": [f"a {i % 37}", "other"] if i % 4 else f"b {i}"}) + "\n"
        for i in range(900)
    ), encoding="utf-8")  # fmt: skip
    data = {"name": "p", "reader": "pairs_file", "format": "jsonl", "splits": {"train": str(jsonl)},
            "fields": {"src": "s", "tgt": "t", "group": "g", "refs": "r"},
            "val_fraction": 0.1, "test_fraction": 0.2, "split_seed": 5,
            "cleaning": {"max_len": 6, "too_long": "truncate"}}  # fmt: skip
    tok = {"kind": "word", "min_freq": 1, "shared_vocab": False}
    hashes = []
    for chunk in (10**9, 1, 7, 128):
        monkeypatch.setattr(prepare_module, "PAIRS_CHUNK", chunk)
        entry, _ = prepare(data, tok, "/", tmp_path / f"cache{chunk}", layout=layout)
        hashes.append(_entry_hashes(entry))
    assert hashes[1:] == hashes[:1] * 3


def test_block_size_changes_no_pair(tmp_path, monkeypatch):
    path = _pairs_file(tmp_path / "p.tsv.gz", 300)
    whole = readers.read_tsv_pairs(path)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 5)
    assert list(readers.iter_tsv_pairs(path)) == whole and len(whole) == 300


def _peaks(tmp_path: Path, n: int) -> tuple[int, int]:
    """(traced peak of preparing n pairs, traced size of the list of those pairs)."""
    path = _pairs_file(tmp_path / f"{n}.tsv", n)
    data = {"name": "big", "reader": "pairs_file", "format": "tsv", "splits": {"train": str(path)},
            "val_fraction": 0.01, "test_from_val": True}  # fmt: skip
    tok = {"kind": "word", "min_freq": 1, "fit_max_chars": 20_000}  # a small sample to fit on
    tracemalloc.start()
    try:
        pairs = readers.read_tsv_pairs(path)
        _, listed = tracemalloc.get_traced_memory()
        del pairs
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        entry, _ = prepare(data, tok, "/", tmp_path / f"cache{n}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    counts = entry.json("meta")["counts"]
    assert counts["train_examples"] + counts["val_examples"] == n - 1  # less the blank pair
    return peak - base, listed - base


def test_pairs_are_never_all_in_memory(tmp_path, monkeypatch):
    """Four times the pairs add about a tenth of what their list takes to the peak of preparing
    them (a list would add all of it): memory holds a block of the file and a chunk of pairs
    (both made small here), a permutation and masks, and the val split. Fixed costs (1 MB
    buffers hashing files) cancel out."""
    monkeypatch.setattr(prepare_module, "PAIRS_CHUNK", 500)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 1 << 16)
    _peaks(tmp_path, 1_000)  # modules imported on first use: not counted
    (small, small_list), (large, large_list) = _peaks(tmp_path, 15_000), _peaks(tmp_path, 60_000)
    assert large - small < (large_list - small_list) / 4, (small, large, small_list, large_list)
