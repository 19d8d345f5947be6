"""Tests for seqlab.data.readers: real corpora and one made-up file per error."""

from pathlib import Path

import pytest

from seqlab.data.readers import (
    read_csv_pairs,
    read_jsonl,
    read_jsonl_pairs,
    read_lines,
    read_parallel,
    read_text,
    read_tsv_pairs,
)
from seqlab.errors import SeqlabError


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"dataset file not found: {path}")
    return path


# --- real files ------------------------------------------------------------------------------


def test_multi30k_train_pairs(data_root: Path) -> None:
    folder = data_root / "multi30k"
    pairs = read_parallel(_need(folder / "train.de"), _need(folder / "train.en"))
    assert len(pairs) == 29_000
    assert all(de and en for de, en in pairs[:100])


def test_tatoeba_eng_fra(data_root: Path) -> None:
    pairs = read_tsv_pairs(_need(data_root / "tatoeba" / "eng-fra.txt"))
    assert len(pairs) == 135_842
    assert pairs[0][0].isascii()  # English side first


def test_tatoeba_cmn_ignores_attribution_column(data_root: Path) -> None:
    pairs = read_tsv_pairs(_need(data_root / "tatoeba" / "cmn.txt"))
    assert len(pairs) == 23_610
    assert not any("Attribution" in zh for _, zh in pairs)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in pairs[0][1])


def test_tinyshakespeare_text(data_root: Path) -> None:
    text = read_text(_need(data_root / "tinyshakespeare" / "input.txt"))
    assert len(text) == 1_115_394
    assert text.count("\n") == 40_000


def test_scitldr_jsonl_without_final_newline(data_root: Path) -> None:
    records = read_jsonl(_need(data_root / "summarization" / "scitldr-a" / "train.jsonl"))
    assert len(records) == 1_992
    assert {"source", "target"} <= records[-1].keys()


# --- behaviour on made-up files ----------------------------------------------------------------


def test_read_lines_strips_only_newline(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("  a b  \n\nc\u2028d\n".encode())
    assert read_lines(path) == ["  a b  ", "", "c\u2028d"]
    path.write_bytes(b"x\r\ny")  # CRLF and no final newline
    assert read_lines(path) == ["x", "y"]


def test_invalid_utf8_names_line_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok\nstill ok\nbroken \xff here\n")
    with pytest.raises(SeqlabError) as err:
        read_lines(path)
    assert str(err.value) == (
        f"{path}:3: invalid UTF-8 (byte offset 19); fix the file or set data.errors=replace"
    )
    with pytest.raises(SeqlabError, match=r"bad\.txt:3: invalid UTF-8"):
        read_text(path)


def test_replace_mode_substitutes(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok\nbroken \xff here\n")
    assert read_lines(path, errors="replace") == ["ok", "broken \ufffd here"]


def test_unknown_errors_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("a\n")
    with pytest.raises(SeqlabError, match="data.errors"):
        read_lines(path, errors="ignore")


def test_empty_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(SeqlabError, match=f"^{path}: file is empty"):
        read_lines(path)
    with pytest.raises(SeqlabError, match="file not found"):
        read_text(tmp_path / "nope.txt")


def test_parallel_count_mismatch_names_both(tmp_path: Path) -> None:
    src, tgt = tmp_path / "a.de", tmp_path / "a.en"
    src.write_text("eins\nzwei\n")
    tgt.write_text("one\n")
    with pytest.raises(SeqlabError) as err:
        read_parallel(src, tgt)
    msg = str(err.value)
    assert str(src) in msg and str(tgt) in msg and "2 lines" in msg and "has 1" in msg


def test_tsv_missing_column_and_trailing_blank(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("hi\tsalut\tx\nbye\tau revoir\n\n")
    assert read_tsv_pairs(path) == [("hi", "salut"), ("bye", "au revoir")]
    assert read_tsv_pairs(path, src_col=1, tgt_col=0)[0] == ("salut", "hi")
    path.write_text("hi\tsalut\nno tab here\n")
    with pytest.raises(SeqlabError) as err:
        read_tsv_pairs(path)
    assert str(err.value) == f"{path}:2: expected at least 2 tab-separated columns, found 1"


def test_jsonl_bad_line_and_non_object(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\n{"a": 2,}\n')
    with pytest.raises(SeqlabError, match=r"r\.jsonl:2: invalid JSON"):
        read_jsonl(path)
    path.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(SeqlabError, match=r"r\.jsonl:2: expected a JSON object"):
        read_jsonl(path)
    path.write_text('{"a": 1}\n{"a": 2}')
    assert read_jsonl(path) == [{"a": 1}, {"a": 2}]


def test_tsv_header_names_columns(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("id\ten\tfr\n1\thi\tsalut\n")
    assert read_tsv_pairs(path, src_col="fr", tgt_col="en", header=True) == [("salut", "hi")]
    assert read_tsv_pairs(path, src_col=1, tgt_col=2, header=True) == [("hi", "salut")]
    with pytest.raises(SeqlabError, match=r"pairs\.tsv:1: no column named 'de'.*id, en, fr"):
        read_tsv_pairs(path, src_col="de", header=True)
    with pytest.raises(SeqlabError, match="names a column, but the file has no header"):
        read_tsv_pairs(path, src_col="en")


def test_csv_quoting_header_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text('src,tgt\n"a, b",c\n"multi\nline","say ""hi"""\n\n')
    assert read_csv_pairs(path, header=True) == [("a, b", "c"), ("multi\nline", 'say "hi"')]
    assert read_csv_pairs(path, src_col="tgt", tgt_col="src", header=True)[0] == ("c", "a, b")
    path.write_text('a,b\n"x\ny",z\nonly one\n')
    with pytest.raises(SeqlabError) as err:
        read_csv_pairs(path)
    assert str(err.value) == (
        f"{path}:4: expected at least 2 comma-separated columns, found 1; "
        "quote fields that contain commas"
    )
    for broken in ('a,b\n"x"y,z\n', 'a,b\n"unclosed,z\nc,d\n'):
        path.write_text(broken)
        with pytest.raises(SeqlabError, match=r"pairs\.csv:2: invalid CSV \(.+\); check the quot"):
            read_csv_pairs(path)


def test_jsonl_pairs_fields_and_extras(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(
        '{"q": ["Two", "sentences."], "a": 42, "task": "t1", "alts": ["forty-two"]}\n'
        '{"q": "Why?", "a": "because", "task": 2, "alts": "because"}\n'
    )
    assert read_jsonl_pairs(path, "q", "a") == [("Two sentences.", "42"), ("Why?", "because")]
    examples = read_jsonl_pairs(path, "q", "a", group_field="task", refs_field="alts")
    assert examples == [
        ("Two sentences.", "42", {"group": "t1", "refs": ["42", "forty-two"]}),
        ("Why?", "because", {"group": "2", "refs": ["because"]}),
    ]


@pytest.mark.parametrize(
    "line,problem",
    [
        ('{"source": "s"}', "missing field 'target'; set data.fields.tgt"),
        ('{"source": "s", "target": {"x": 1}}', "field 'target' holds dict"),
        ('{"source": "s", "target": null}', "field 'target' holds NoneType"),
        ('{"source": "s", "target": "t"', "invalid JSON"),
        ('["s", "t"]', "expected a JSON object"),
    ],
)
def test_jsonl_pairs_bad_record_names_line(tmp_path: Path, line, problem) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"source": "s", "target": "t"}\n' + line + "\n")
    with pytest.raises(SeqlabError) as err:
        read_jsonl_pairs(path)
    assert str(err.value).startswith(f"{path}:2: {problem}") and "\n" not in str(err.value)


def test_a_bom_and_crlf_mean_the_same_text_in_every_format(tmp_path: Path) -> None:
    """What Windows editors save (a byte-order mark, CRLF) reads as the plain UTF-8 file does."""
    bom = "\ufeff"
    tsv, csv_, jsonl = tmp_path / "p.tsv", tmp_path / "p.csv", tmp_path / "p.jsonl"
    tsv.write_bytes(f"{bom}jump\tI_JUMP\r\nwalk\tI_WALK\r\n".encode())
    csv_.write_bytes(f'{bom}jump,I_JUMP\r\n"walk",I_WALK\r\n'.encode())
    rows = '{"source": "jump", "target": "I_JUMP"}\r\n{"source": "walk", "target": "I_WALK"}\r\n'
    jsonl.write_bytes(f"{bom}{rows}".encode())
    expected = [("jump", "I_JUMP"), ("walk", "I_WALK")]
    assert read_tsv_pairs(tsv) == read_csv_pairs(csv_) == expected
    assert read_jsonl_pairs(jsonl, "source", "target") == expected
    text = tmp_path / "t.txt"
    text.write_bytes(f"{bom}To be,\r\nor not.\r\n".encode())
    assert read_text(text) == "To be,\nor not.\n" and read_lines(text) == ["To be,", "or not."]
    src, tgt = tmp_path / "s.txt", tmp_path / "t2.txt"
    src.write_bytes(f"{bom}a\r\nb\r\n".encode())
    tgt.write_bytes(b"x\ny\n")
    assert read_parallel(src, tgt) == [("a", "x"), ("b", "y")]
    only_bom = tmp_path / "bom.txt"
    only_bom.write_bytes(bom.encode())
    with pytest.raises(SeqlabError, match="file is empty"):
        read_text(only_bom)


def test_compressed_and_listed_text_files_read_as_one_stream(tmp_path: Path) -> None:
    import gzip

    import zstandard

    from seqlab.data.dataset_readers import TextReader

    (tmp_path / "a.txt").write_text("first file\nno final newline", encoding="utf-8")
    (tmp_path / "b.txt.gz").write_bytes(gzip.compress(b"second\r\nfile\n"))
    (tmp_path / "c.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(b"third\n"))
    assert read_text(tmp_path / "b.txt.gz") == "second\nfile\n"
    assert read_text(tmp_path / "c.txt.zst") == "third\n"
    reader = TextReader()
    spec = ["a.txt", "b.txt.gz", "c.txt.zst"]
    assert reader.files(spec) == spec  # each file is fingerprinted
    text = reader.read("train", spec, lambda rel: tmp_path / rel)
    assert text == "first file\nno final newline\nsecond\nfile\nthird\n"


def test_a_cut_short_compressed_file_is_one_line(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "cut.txt.gz"
    whole = gzip.compress("".join(f"line {i}\n" for i in range(2000)).encode())
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(
        SeqlabError, match=r"cut\.txt\.gz: not a complete gzip file .*download it again"
    ):
        read_text(path)


def test_a_cut_short_or_damaged_zstd_file_is_one_line(tmp_path: Path) -> None:
    import zstandard

    whole = zstandard.ZstdCompressor().compress(b"hello world\n" * 50_000)
    (tmp_path / "cut.txt.zst").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "bad.txt.zst").write_bytes(b"not zstd at all")
    for name in ("cut", "bad"):
        with pytest.raises(SeqlabError, match=rf"{name}\.txt\.zst: not a complete zstd file"):
            read_text(tmp_path / f"{name}.txt.zst")
    two = whole + zstandard.ZstdCompressor().compress(b"second frame\n")
    (tmp_path / "two.txt.zst").write_bytes(two)
    assert read_text(tmp_path / "two.txt.zst") == "hello world\n" * 50_000 + "second frame\n"


@pytest.mark.parametrize("block", [1, 2, 3, 5, 64])
def test_block_boundaries_change_nothing(tmp_path: Path, monkeypatch, block: int) -> None:
    """A file read a few bytes at a time (a BOM, a CRLF or a 4-byte character cut in two by a
    block) reads exactly as when read whole, and a bad byte is named at the same line."""
    from seqlab.data import readers

    good = "\ufeffé ok\r\n𝄞 two\r\r\nend\r".encode()
    (tmp_path / "good.txt").write_bytes(good)
    (tmp_path / "bad.txt").write_bytes(b"ok\r\nstill \xe2\x82 ok\nbroken \xff here\n")
    monkeypatch.setattr(readers, "BLOCK_BYTES", block)
    assert read_text(tmp_path / "good.txt") == "é ok\n𝄞 two\r\nend\r"
    with pytest.raises(SeqlabError, match=r"bad\.txt:2: invalid UTF-8 \(byte offset 10\)"):
        read_text(tmp_path / "bad.txt")
    assert "".join(readers.decoded_blocks(tmp_path / "bad.txt", "replace")) == (
        "ok\nstill \ufffd ok\nbroken \ufffd here\n"
    )
