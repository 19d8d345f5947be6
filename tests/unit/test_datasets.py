"""Data sources: generator, files, carve-outs, and Hugging Face datasets imported only when used."""

import sys
import types

import pytest

from seqlab.data.datasets import load_splits, reader_format
from seqlab.errors import SeqlabError

HF = {
    "name": "hf", "reader": "hf", "val_fraction": None, "test_fraction": 0.5, "split_seed": 0,
    "hf": {"name": "toy", "config": None, "split_names": {"train": "train", "val": "validation"},
           "src_field": "q", "tgt_field": "a", "text_field": None},
}  # fmt: skip


def test_hf_reader_needs_the_datasets_package(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(SeqlabError, match="pip install datasets"):
        load_splits(HF, tmp_path)


def test_hf_reader_maps_fields_and_splits(monkeypatch, tmp_path):
    rows = {"q": [f"q{i}" for i in range(10)], "a": [f"a{i}" for i in range(10)]}
    fake = types.ModuleType("datasets")
    fake.load_dataset = lambda name, config, cache_dir: {"train": rows, "validation": rows}
    monkeypatch.setitem(sys.modules, "datasets", fake)
    splits = load_splits(HF, tmp_path)
    assert splits["val"][0] == ("q0", "a0") and len(splits["train"]) == len(splits["test"]) == 5
    assert reader_format(HF) == "pairs"
    assert reader_format({**HF, "hf": {**HF["hf"], "text_field": "text"}}) == "text"


def test_unknown_reader_is_one_line():
    with pytest.raises(SeqlabError, match="data.reader='xml' is not valid"):
        reader_format({"reader": "xml"})


def test_missing_split_names_the_fix(tmp_path):
    (tmp_path / "p.tsv").write_text("a\tb\n")
    cfg = {"name": "p", "reader": "tsv", "splits": {"train": "p.tsv"}}
    with pytest.raises(SeqlabError, match="no val/test split.*val_fraction"):
        load_splits(cfg, tmp_path)


def test_text_file_patterns_become_the_sorted_files_they_match(tmp_path):
    from seqlab.data.datasets import expand_globs

    (tmp_path / "corpus").mkdir()
    for name in ("b.txt.gz", "a.txt", "c.md"):
        (tmp_path / "corpus" / name).write_text("x\n")
    cfg = {
        "name": "mine",
        "reader": "text",
        "path": "corpus/*.txt*",
        "splits": {"train": "corpus/*.txt*", "val": None},
    }
    assert expand_globs(cfg, tmp_path)["splits"] == {
        "train": ["corpus/a.txt", "corpus/b.txt.gz"],
        "val": None,
    }
    absolute = {
        **cfg,
        "splits": {"train": [str(tmp_path / "corpus" / "c.md"), f"{tmp_path}/corpus/a.*"]},
    }
    assert expand_globs(absolute, tmp_path)["splits"]["train"] == [
        str(tmp_path / "corpus" / "c.md"),
        str(tmp_path / "corpus" / "a.txt"),
    ]
    with pytest.raises(SeqlabError, match=r"data.splits.train: no file matches 'corpus/\*.zst'"):
        expand_globs({**cfg, "splits": {"train": "corpus/*.zst"}}, tmp_path)


def test_a_streaming_hf_dataset_prepares_as_the_downloaded_one(data_root, tmp_path):
    """`data.hf.streaming=true` (the `datasets` package's own streaming, here over a local text
    file) gives the ids of the same dataset loaded whole."""
    import numpy as np

    from seqlab.data.prepare import prepare

    pytest.importorskip("datasets")
    text = (data_root / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")[:60_000]
    (tmp_path / "corpus.txt").write_text(text, encoding="utf-8")
    hf = {"name": "text", "config": None, "data_files": {"train": str(tmp_path / "corpus.txt")},
          "split_names": {"train": "train"}, "text_field": "text"}  # fmt: skip
    data = {"name": "hf_text", "reader": "hf", "hf": hf, "val_fraction": 0.1,
            "test_fraction": 0.1, "cleaning": {"collapse_whitespace": False}}  # fmt: skip
    tok = {"kind": "bpe", "vocab_size": 300, "min_freq": 1}
    whole, _ = prepare(data, tok, tmp_path / "root", tmp_path / "cache")
    streamed, _ = prepare(
        {**data, "hf": {**hf, "streaming": True}}, tok, tmp_path / "root", tmp_path / "cache"
    )
    assert streamed.path != whole.path
    for name in ("train", "val", "test"):
        assert np.array_equal(streamed.array(f"{name}.ids"), whole.array(f"{name}.ids"))
    assert len(whole.array("train.ids")) > 10_000
