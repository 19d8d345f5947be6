"""Data cache: fingerprints, atomic commits, cache hits on a second run."""

import os
import time

import numpy as np
import pytest
from omegaconf import OmegaConf

from seqlab.data.cache import CacheWriter, fingerprint, lookup, pack
from seqlab.data.prepare import prepare
from seqlab.errors import SeqlabError

SCAN = {
    "name": "scan", "reader": "generator",
    "generator": {"_target_": "seqlab.data.datasets.scan_grammar_split", "train_fraction": 0.8, "seed": 0},
    "val_fraction": 0.05, "split_seed": 0,
    "cleaning": {"normalize": "NFKC", "collapse_whitespace": True, "lowercase": False, "min_len": 1},
}  # fmt: skip
WORD = {"kind": "word", "shared_vocab": True, "vocab_size": None, "min_freq": 1}


def test_fingerprint_changes_with_any_part():
    assert fingerprint({"a": 1}) == fingerprint({"a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_pack_offsets():
    flat, off = pack([np.array([1, 2]), np.array([], dtype=np.int32), np.array([3])])
    assert flat.tolist() == [1, 2, 3] and off.tolist() == [0, 2, 2, 3]


def test_uncommitted_entry_is_never_found(tmp_path):
    writer = CacheWriter(tmp_path, "k")
    writer.array("x", np.arange(3))
    assert lookup(tmp_path, "k") is None
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    writer = CacheWriter(tmp_path, "k")
    writer.array("x", np.arange(3))
    entry = writer.commit({"ok": True})
    assert lookup(tmp_path, "k") is not None and entry.array("x").tolist() == [0, 1, 2]


def test_unwritable_cache_dir_is_one_line(tmp_path):
    target = tmp_path / "ro"
    target.mkdir()
    os.chmod(target, 0o500)
    if os.access(target, os.W_OK):  # root ignores permissions
        pytest.skip("running as a user that can write anywhere")
    with pytest.raises(SeqlabError, match="paths.cache_dir"):
        CacheWriter(target / "sub", "k")


def test_second_prepare_is_a_cache_hit(tmp_path):
    start = time.perf_counter()
    entry, toks = prepare(SCAN, WORD, tmp_path / "data", tmp_path / "cache")
    first = time.perf_counter() - start
    start = time.perf_counter()
    again, toks2 = prepare(SCAN, WORD, tmp_path / "data", tmp_path / "cache")
    second = time.perf_counter() - start
    assert again.path == entry.path and len(list((tmp_path / "cache").iterdir())) == 1
    assert toks2["src"].to_json() == toks["src"].to_json()
    assert second < first
    counts = entry.json("meta")["counts"]
    assert counts["train_examples"] + counts["val_examples"] == 16728
    assert counts["test_examples"] == 4182


def test_changed_settings_make_a_new_entry(tmp_path):
    entry, _ = prepare(SCAN, WORD, tmp_path, tmp_path / "cache")
    lowered = OmegaConf.to_container(OmegaConf.merge(SCAN, {"cleaning": {"lowercase": True}}))
    other, _ = prepare(lowered, WORD, tmp_path, tmp_path / "cache")
    assert other.path != entry.path


def test_file_contents_are_part_of_the_key(tmp_path):
    (tmp_path / "t.txt").write_text("hello world\n" * 50)
    text = {"name": "t", "reader": "text", "splits": {"train": "t.txt"}, "val_fraction": 0.1,
            "test_from_val": True, "cleaning": {"collapse_whitespace": False}}  # fmt: skip
    char = {**WORD, "kind": "char"}
    entry, _ = prepare(text, char, tmp_path, tmp_path / "cache")
    (tmp_path / "t.txt").write_text("hello there\n" * 50)
    changed, _ = prepare(text, char, tmp_path, tmp_path / "cache")
    assert changed.path != entry.path


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_an_array_written_in_chunks_is_the_file_np_save_writes(tmp_path, dtype):
    values = np.arange(10_007, dtype=dtype) % 5_000
    writer = CacheWriter(tmp_path, "entry")
    writer.array("whole", values)
    writer.array_chunks("chunked", dtype, np.array_split(values, 7), length=len(values))
    assert writer.array_chunks("unannounced", dtype, np.array_split(values, 3)) == len(values)
    for name in ("chunked", "unannounced"):
        assert (writer.tmp / f"{name}.npy").read_bytes() == (writer.tmp / "whole.npy").read_bytes()
    assert writer.files["chunked.npy"]["sha256"] == writer.files["whole.npy"]["sha256"]
    entry = writer.commit({"key": "entry"})
    assert np.array_equal(entry.array("chunked"), values)


def test_chunks_that_fall_short_of_the_announced_length_are_refused(tmp_path):
    writer = CacheWriter(tmp_path, "entry")
    with pytest.raises(SeqlabError, match=r"incomplete write: ids: 5 values written, 6 announced"):
        writer.array_chunks("ids", np.int32, [np.arange(5)], length=6)
    assert not list(tmp_path.glob(".entry-*"))  # the half-built entry is gone
