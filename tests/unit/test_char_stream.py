"""The numpy char tokenizer for text streams equals HF tokenizers' own, tokenizer and ids."""

from __future__ import annotations

import numpy as np
import pytest

import seqlab.data.char_stream as char_stream
from seqlab.data.cache import pack
from seqlab.data.char_stream import encode_char_chunks, fit_char
from seqlab.data.tokenizers import UNK_ID, fit_tokenizer

UNICODE = "a\u200db 👩‍👩‍👧 \u202eRTL\u202c \x00nul\ttab\r\n日本語 é e\u0301 " * 30


@pytest.mark.parametrize("chunk", [4099, 1 << 22])  # several chunks, and one
@pytest.mark.parametrize("options", [{}, {"vocab_size": 20, "min_freq": 2}, {"min_freq": 40}])
def test_fit_and_encode_equal_the_hf_trainer_and_encoder(data_root, monkeypatch, chunk, options):
    monkeypatch.setattr(char_stream, "CHUNK", chunk)
    text = (data_root / "tinyshakespeare" / "input.txt").read_text()[:20_000] + UNICODE
    lines = text.splitlines(keepends=True)
    hf = fit_tokenizer(lines, "char", **options)
    ours = fit_char([text[:5000], text[5000:]], **options)
    assert ours.to_json() == hf.to_json()  # a checkpoint's tokenizer state compares equal
    expected, _ = pack(hf.encode_batch(lines))
    got = np.concatenate(list(encode_char_chunks(hf, [text[:7], text[7:]], np.uint16)))
    assert got.dtype == np.uint16 and np.array_equal(got, expected)
    if options.get("min_freq", 1) > 1:
        assert (got == UNK_ID).any()  # rare characters became <unk>, as HF maps them
