"""Tests for seqlab.data.cleaning: normalisation, whitespace, case, and counted filtering."""

import pytest

from seqlab.data.cleaning import clean_texts, filter_pairs
from seqlab.errors import SeqlabError


def test_nfkc_folds_fullwidth_and_ligatures() -> None:
    assert clean_texts(["\uff21\uff42\uff43 \ufb01ne", "caf\u0065\u0301"]) == [
        "Abc fine",
        "caf\u00e9",
    ]


def test_normalize_none_keeps_text() -> None:
    assert clean_texts(["\ufb01"], normalize=None) == ["\ufb01"]


def test_collapse_whitespace() -> None:
    texts = ["  a \t b\n\nc  ", "x\u3000y\u00a0z"]
    assert clean_texts(texts) == ["a b c", "x y z"]


def test_whitespace_kept_when_off() -> None:
    text = "FIRST:\nHello,  world.\n\n"
    assert clean_texts([text], collapse_whitespace=False) == [text]


def test_lowercase() -> None:
    assert clean_texts(["Hello WORLD"], lowercase=True) == ["hello world"]
    assert clean_texts(["Hello WORLD"]) == ["Hello WORLD"]


def test_bad_normal_form() -> None:
    with pytest.raises(SeqlabError, match="data.normalize"):
        clean_texts(["a"], normalize="NFX")


def test_filter_pairs_chars_counts() -> None:
    pairs = [("ab", "cd"), ("", "x"), ("abcdef", "a"), ("abc", "abc"), ("a", "")]
    kept, short, long = filter_pairs(pairs, min_len=1, max_len=4)
    assert kept == [("ab", "cd"), ("abc", "abc")]
    assert (short, long) == (2, 1)
    assert len(kept) + short + long == len(pairs)


def test_filter_pairs_words() -> None:
    pairs = [("a b c", "x"), ("a", "x y z w"), ("a b", "x y")]
    kept, short, long = filter_pairs(pairs, min_len=2, max_len=3, unit="words")
    assert kept == [("a b", "x y")]
    assert (short, long) == (2, 0)
    kept, short, long = filter_pairs(pairs, min_len=1, max_len=3, unit="words")
    assert (len(kept), short, long) == (2, 0, 1)


def test_filter_pairs_no_max_and_bad_args() -> None:
    assert filter_pairs([("a" * 1000, "b")]) == ([("a" * 1000, "b")], 0, 0)
    with pytest.raises(SeqlabError, match="unit"):
        filter_pairs([], unit="tokens")
    with pytest.raises(SeqlabError, match="min_len"):
        filter_pairs([], min_len=5, max_len=2)
