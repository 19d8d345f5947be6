"""The char tokenizer over whole text streams, with numpy instead of per-line Python objects.

Fitting counts code points and encoding looks them up in a table over all code points, a few million
characters at a time, so memory stays a few bytes per character and time linear (measured in
experiments/benchmarks/README.md, "Data pipeline"). The tokenizer and the ids are exactly those
of HF `tokenizers`' WordLevel trainer and encoder (tests/unit/test_char_stream.py checks both).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from tokenizers import Regex, decoders, models, pre_tokenizers
from tokenizers import Tokenizer as HFTokenizer

from seqlab.data.tokenizers import SPECIAL_TOKENS, UNK_ID, Tokenizer

CHUNK = 1 << 22  # characters per step (4 bytes each as UTF-32): bounds the working memory
N_CODE_POINTS = 0x110000


def code_points(text: str) -> Iterator[np.ndarray]:
    """The text's code points, chunk by chunk (uint32)."""
    for start in range(0, len(text), CHUNK):
        yield np.frombuffer(text[start : start + CHUNK].encode("utf-32-le"), dtype="<u4")


def fit_char(texts: Iterable[str], vocab_size: int | None = None, min_freq: int = 1) -> Tokenizer:
    """The char tokenizer HF's WordLevel trainer fits on `texts`: specials first, then
    characters by descending count (ties: by code point), those under `min_freq` left out."""
    counts = np.zeros(N_CODE_POINTS, dtype=np.int64)
    for text in texts:
        for chunk in code_points(text):
            counts += np.bincount(chunk, minlength=N_CODE_POINTS)
    kept = np.flatnonzero(counts >= max(min_freq, 1))
    kept = kept[np.lexsort((kept, -counts[kept]))]
    if vocab_size:
        kept = kept[:vocab_size]
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    for cp in kept.tolist():
        vocab.setdefault(chr(cp), len(vocab))
    tok = HFTokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    return Tokenizer(tok, "char")


def encode_char_chunks(
    tok: Tokenizer, texts: Iterable[str], dtype: type = np.int32
) -> Iterator[np.ndarray]:
    """Every character of `texts` as its id (<unk> outside the vocabulary), chunk by chunk
    through a table over all code points: a caller that writes them out never holds all the
    ids at once."""
    table = np.full(N_CODE_POINTS, UNK_ID, dtype=dtype)
    for token, i in tok.hf.get_vocab().items():
        if len(token) == 1:
            table[ord(token)] = i
    for text in texts:
        for chunk in code_points(text):
            yield table[chunk]
