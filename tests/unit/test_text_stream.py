"""Text prepared a piece at a time equals text prepared whole: same tokenizer, same ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import seqlab.data.readers as readers
import seqlab.data.text_stream as text_stream
from seqlab.data.cache import pack
from seqlab.data.char_stream import encode_char_chunks
from seqlab.data.cleaning import clean_texts
from seqlab.data.prepare import prepare
from seqlab.data.text_stream import FileSource, StringSource, TextSplit, tail
from seqlab.data.tokenizers import fit_tokenizer

ODD = "Café ﬁne e\u0301 Σ ΟΔΟΣ\t 日本語  \r\n\n  spaced   out \u2028 sep\x1cx <eos> lit\n" * 40


def _corpus(data_root: Path, tmp_path: Path) -> list[Path]:
    text = (data_root / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")[:30_000]
    parts = [text[:9_001] + ODD, text[9_001:20_000], ODD + text[20_000:]]
    paths = [tmp_path / f"part{i}.txt" for i in range(3)]
    for path, part in zip(paths, parts, strict=True):
        path.write_bytes(part.encode())
    return paths


def _whole(paths: list[Path], cleaning: dict, kind: str) -> dict[str, np.ndarray]:
    """What preparing the whole text at once gives: carve, clean, fit on lines, encode lines."""
    text = FileSource(paths).text()
    cut_test = int(len(text) * 0.9)
    cut_val = int(cut_test * 0.9)
    splits = {"train": text[:cut_val], "val": text[cut_val:cut_test], "test": text[cut_test:]}
    cleaned = {
        name: clean_texts([part], cleaning["normalize"], cleaning["collapse_whitespace"],
                          cleaning["lowercase"])[0]
        for name, part in splits.items()
    }  # fmt: skip
    vocab = {"bpe": 300, "word": None, "char": None}[kind]
    tok = fit_tokenizer(cleaned["train"].splitlines(keepends=True), kind, vocab_size=vocab)
    if kind == "char":  # a literal "<eos>" in the text is five characters, not the special token
        return {name: np.concatenate(list(encode_char_chunks(tok, [part], np.int32)))
                for name, part in cleaned.items()}  # fmt: skip
    return {
        name: pack(tok.encode_batch(part.splitlines(keepends=True)))[0]
        for name, part in cleaned.items()
    }


@pytest.mark.parametrize("kind", ["char", "word", "bpe"])
@pytest.mark.parametrize("collapse", [False, True])
def test_pieces_give_the_ids_of_the_whole_text(data_root, tmp_path, monkeypatch, kind, collapse):
    paths = _corpus(data_root, tmp_path)
    cleaning = {"normalize": "NFKC", "collapse_whitespace": collapse, "lowercase": True}
    want = _whole(paths, cleaning, kind)
    monkeypatch.setattr(text_stream, "PIECE_CHARS", 997)  # many pieces, cut mid-block
    monkeypatch.setattr(readers, "BLOCK_BYTES", 1_009)
    data = {"name": "t", "reader": "text", "splits": {"train": [str(p) for p in paths]},
            "val_fraction": 0.1, "test_fraction": 0.1, "cleaning": cleaning}  # fmt: skip
    tok = {"kind": kind, "vocab_size": {"bpe": 300}.get(kind), "min_freq": 1}
    entry, _ = prepare(data, tok, "/", tmp_path / "cache")
    for name, ids in want.items():
        got = entry.array(f"{name}.ids")
        assert np.array_equal(got, ids), name
        assert entry.json("meta")["counts"][f"{name}_tokens"] == len(ids)


def test_splits_are_ranges_of_the_source() -> None:
    source = StringSource("abc\ndef\nghi\n" * 5)
    rest, test = tail(TextSplit(source), 0.2)
    train, val = tail(rest, 0.25)
    assert train.text() + val.text() + test.text() == source.text
    assert (len(train), len(val), len(test)) == (36, 12, 12)


def test_a_fit_on_a_stream_stops_at_its_sample_cap() -> None:
    lines = iter(["aa bb\n", "cc dd\n", "ee ff\n"])
    tok = fit_tokenizer(lines, "word", max_chars=7)  # the first two lines reach 7 characters
    assert {"aa", "cc"} <= set(tok.hf.get_vocab()) and "ee" not in tok.hf.get_vocab()
    assert next(lines) == "ee ff\n"  # nothing read past the cap


def test_processes_preparing_the_same_data_at_once_build_it_once(data_root, tmp_path) -> None:
    """DDP ranks (or sweep jobs) that start together: one builds, the others wait and read it."""
    import multiprocessing

    from helpers.prepare_race import prepare_and_count

    corpus = tmp_path / "corpus.txt"
    corpus.write_text((data_root / "tinyshakespeare" / "input.txt").read_text() * 2)
    data = {"name": "race", "reader": "text", "splits": {"train": str(corpus)},
            "val_fraction": 0.1, "test_fraction": 0.1}  # fmt: skip
    tok = {"kind": "bpe", "vocab_size": 500, "min_freq": 2}
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    args = (barrier, results, data, tok, str(tmp_path / "cache"))
    procs = [context.Process(target=prepare_and_count, args=args) for _ in range(2)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    assert sorted(builds for builds, _ in outcomes) == [0, 1]
    assert len({path for _, path in outcomes}) == 1


@pytest.mark.parametrize("too_long", ["drop", "truncate"])
def test_pairs_written_a_chunk_at_a_time_equal_those_written_at_once(
    data_root, tmp_path, monkeypatch, too_long
) -> None:
    import seqlab.data.prepare as prepare_module

    tsv = tmp_path / "pairs.tsv"
    de = (data_root / "multi30k" / "train.de").read_text(encoding="utf-8").splitlines()[:400]
    en = (data_root / "multi30k" / "train.en").read_text(encoding="utf-8").splitlines()[:400]
    tsv.write_text("".join(f"{a}\t{b}\n" for a, b in zip(de, en, strict=True)), encoding="utf-8")
    data = {"name": "p", "reader": "pairs_file", "format": "tsv", "splits": {"train": str(tsv)},
            "val_fraction": 0.1, "test_fraction": 0.1,
            "cleaning": {"normalize": "NFKC", "max_len": 40, "too_long": too_long}}  # fmt: skip
    tok = {"kind": "bpe", "vocab_size": 400, "min_freq": 1}
    whole, _ = prepare(data, tok, "/", tmp_path / "whole")
    monkeypatch.setattr(prepare_module, "PAIRS_CHUNK", 7)
    chunked, _ = prepare(data, tok, "/", tmp_path / "chunked")
    assert chunked.json("meta")["counts"] == whole.json("meta")["counts"]
    for name in ("train", "val", "test"):
        for part in ("src", "tgt", "src_off", "tgt_off"):
            assert np.array_equal(chunked.array(f"{name}.{part}"), whole.array(f"{name}.{part}"))
        if name != "train":
            assert chunked.json(f"{name}.text") == whole.json(f"{name}.text")


UNGUARDED_SCRIPT = """
import sys
import seqlab.data.text_stream as text_stream
from seqlab.data.prepare import prepare
text_stream.PIECE_CHARS = 1_000  # several pieces: BPE encodes them in worker processes
data = {"name": "u", "reader": "text", "splits": {"train": sys.argv[1]}, "val_fraction": 0.1,
        "test_fraction": 0.1}
prepare(data, {"kind": "bpe", "vocab_size": 300, "min_freq": 1}, "/", sys.argv[2])
"""


def test_a_script_without_a_main_guard_stops_in_one_line_instead_of_hanging(data_root, tmp_path):
    """Worker processes import the user's script; one that prepares data at import would wait
    forever for the build its parent holds."""
    import subprocess
    import sys

    script, corpus = tmp_path / "script.py", tmp_path / "corpus.txt"
    script.write_text(UNGUARDED_SCRIPT)
    corpus.write_text((data_root / "tinyshakespeare" / "input.txt").read_text()[:20_000])
    proc = subprocess.run([sys.executable, str(script), str(corpus), str(tmp_path / "cache")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode != 0
    assert (
        "put the script's code under `if __name__ == '__main__':`" in proc.stderr.splitlines()[-1]
    )


def test_a_bad_line_found_while_writing_leaves_no_temp_folder(tmp_path) -> None:
    """With its own val file (nothing carved, so no pass before the build), the train file's
    invalid byte is met while the entry is being written."""
    from seqlab.errors import SeqlabError

    (tmp_path / "train.txt").write_bytes(b"fine line\n" * 50 + b"bad \xff byte\n")
    (tmp_path / "val.txt").write_text("val line\n")
    data = {"name": "bad", "reader": "text", "cleaning": {"collapse_whitespace": False},
            "splits": {"train": "train.txt", "val": "val.txt", "test": "val.txt"}}  # fmt: skip
    with pytest.raises(SeqlabError, match=r"train\.txt:51: invalid UTF-8"):
        prepare(data, {"kind": "char", "min_freq": 1}, tmp_path, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
