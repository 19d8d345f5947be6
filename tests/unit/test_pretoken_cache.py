"""BPE ids through the pre-token cache equal HF's own line-by-line encoding."""

from __future__ import annotations

import itertools
import string

import numpy as np
import pytest

import seqlab.data.pretoken_cache as pretoken_cache
from seqlab.data.pretoken_cache import PretokenEncoder, encode_pieces
from seqlab.data.tokenizers import fit_tokenizer

ASCII = "".join(chr(c) for c in range(128))
ODD = "naïve café 日本語 \u2028 x\x1cy\x85z <eos> <pad>x\r\x0b\x0c tail  \n"


def _hf_ids(tok, text: str) -> np.ndarray:
    return tok.encode_flat(text.splitlines(keepends=True))


@pytest.fixture(scope="module")
def bpe(data_root):
    text = (data_root / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")[:200_000]
    return fit_tokenizer((text + ODD + ASCII).splitlines(keepends=True), "bpe", vocab_size=600)


def test_every_pair_of_ascii_characters_in_context(bpe) -> None:
    """GPT-2's splitting rule in ASCII, checked exhaustively on pairs around letters, digits,
    apostrophes and spaces (where its alternatives compete)."""
    pairs = ["".join(p) for p in itertools.product(ASCII, repeat=2)]
    lines = [f"a{p}'s {p}b  {p}1\n" for p in pairs] + [f"{p}\n" for p in pairs] + list(pairs)
    text = "".join(lines)
    assert np.array_equal(PretokenEncoder(bpe)(text), _hf_ids(bpe, text))


def test_every_unicode_character_of_the_basic_plane_and_a_sample_beyond(bpe) -> None:
    """Letters, numbers and spaces as HF's regex engine classes them, for every character."""
    points = [*range(0xD800), *range(0xE000, 0x10000), *range(0x10000, 0x110000, 97)]
    lines = [f"a{c}b {c}{c}1 {c}  {c}'s\n" for c in map(chr, points)]
    text = "".join(lines)
    assert np.array_equal(PretokenEncoder(bpe)(text), _hf_ids(bpe, text))


def test_real_and_odd_text(bpe, data_root) -> None:
    text = (data_root / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    text = text[150_000:400_000] + ODD * 3 + "'ll 've 're 'd 'm 't\n   \t\n\n  x  \n" + "z" * 600
    encoder = PretokenEncoder(bpe)
    assert encoder.cached
    assert np.array_equal(encoder(text), _hf_ids(bpe, text))
    assert np.array_equal(encoder(text), _hf_ids(bpe, text))  # from a warm cache too


def test_random_ascii_lines(bpe) -> None:
    rng = np.random.default_rng(0)
    alphabet = list(string.printable) + ["'s", "'ll", "  ", "\n", "<eos>", "é"]
    text = "".join(rng.choice(alphabet, size=20_000))
    assert np.array_equal(PretokenEncoder(bpe)(text), _hf_ids(bpe, text))


def test_a_full_cache_starts_over(bpe, monkeypatch) -> None:
    monkeypatch.setattr(pretoken_cache, "MAX_CACHED", 50)
    first, second = "a b c d e f\n", "".join(f"x{i} " for i in range(60)) + "\n"
    encoder = PretokenEncoder(bpe)
    assert np.array_equal(encoder(first), _hf_ids(bpe, first))
    assert "a" in encoder.cache
    assert np.array_equal(encoder(second), _hf_ids(bpe, second))  # more than fit: all of them
    assert "a" not in encoder.cache  # what the first piece cached was let go


def test_word_and_char_tokenizers_go_through_hf(data_root) -> None:
    lines = ["to be, or not to be\n", "that is the question\n"]
    word = fit_tokenizer(lines, "word")
    assert not PretokenEncoder(word).cached
    assert np.array_equal(PretokenEncoder(word)("".join(lines)), _hf_ids(word, "".join(lines)))


def test_worker_processes_keep_the_order(bpe) -> None:
    pieces = [f"piece {i} is here\n" * (i + 1) for i in range(7)]
    got = list(encode_pieces(bpe, pieces, workers=2))
    assert [g.tolist() for g in got] == [_hf_ids(bpe, p).tolist() for p in pieces]


def test_texts_encoded_whole_with_their_lengths(bpe, data_root) -> None:
    """Pairs: each text is encoded whole (line breaks and all), as HF encodes one text."""
    lines = (data_root / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8").splitlines()
    for texts in (lines[:3000], [*lines[:50], "naïve  café\n x ", "  ", "", ODD], ["a <eos> b"]):
        flat, lengths = PretokenEncoder(bpe).ragged(texts)
        want = bpe.encode_batch(texts)
        assert lengths.tolist() == [len(w) for w in want]
        assert np.array_equal(flat, np.concatenate(want))
