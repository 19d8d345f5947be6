"""Text normalisation and length filtering applied before tokenisation.

Cleaning is configurable rather than fixed because the right choice depends on the task: sentence
pairs benefit from Unicode normalisation and whitespace collapsing, while a character-level language
model on Shakespeare must keep its newlines. Filtering reports how many pairs it dropped so callers
can log it; nothing is discarded silently.
"""

from __future__ import annotations

import unicodedata

from seqlab.errors import SeqlabError

_FORMS = ("NFC", "NFKC", "NFD", "NFKD")
_UNITS = ("chars", "words")


def clean_texts(
    texts: list[str],
    normalize: str | None = "NFKC",
    collapse_whitespace: bool = True,
    lowercase: bool = False,
) -> list[str]:
    """Normalise a batch of strings in one pass over the list.

    Steps run in this order: Unicode normalisation (NFKC folds full-width letters and ligatures
    such as "ﬁ" into their plain forms, and odd spaces into " "), whitespace collapsing, lowercasing.

    Args:
        texts: Strings to clean.
        normalize: Unicode normal form ("NFC", "NFKC", "NFD", "NFKD") or None to leave as is.
        collapse_whitespace: Replace each run of whitespace (newlines included) by one space and
            strip both ends. Turn this off for text whose layout matters, e.g. char-level LM data.
        lowercase: Lowercase everything, for tasks where case carries no signal.

    Returns:
        Cleaned strings, one per input, in the same order.

    Raises:
        SeqlabError: if `normalize` is not a known normal form.
    """
    if normalize is not None and normalize not in _FORMS:
        raise SeqlabError(f"data.normalize: expected one of {_FORMS} or null, got {normalize!r}")
    out = texts
    if normalize is not None:
        out = [unicodedata.normalize(normalize, t) for t in out]
    if collapse_whitespace:
        out = [" ".join(t.split()) for t in out]
    if lowercase:
        out = [t.lower() for t in out]
    return list(out)


def filter_pairs(
    pairs: list[tuple[str, str]],
    min_len: int = 1,
    max_len: int | None = None,
    unit: str = "chars",
) -> tuple[list[tuple[str, str]], int, int]:
    """Keep pairs whose source and target lengths both lie within `[min_len, max_len]`.

    Args:
        pairs: `(source, target)` pairs.
        min_len: Smallest allowed length of either side (the default 1 drops empty sides).
        max_len: Largest allowed length of either side, or None for no limit.
        unit: "chars" to count characters, "words" to count whitespace-separated words.

    Returns:
        `(kept, n_too_short, n_too_long)`. A pair that is too short on one side and too long on
        the other is counted once, as too short, so `len(kept) + n_too_short + n_too_long`
        always equals `len(pairs)`.

    Raises:
        SeqlabError: if `unit` is unknown or the bounds are inconsistent.
    """
    if unit not in _UNITS:
        raise SeqlabError(f"data.filter.unit: expected one of {_UNITS}, got {unit!r}")
    if min_len < 0 or (max_len is not None and max_len < min_len):
        raise SeqlabError(
            f"data.filter: need 0 <= min_len <= max_len, got min_len={min_len}, max_len={max_len}"
        )
    upper = float("inf") if max_len is None else max_len
    kept: list[tuple[str, str]] = []
    n_short = n_long = 0
    for pair in pairs:
        if unit == "chars":
            a, b = len(pair[0]), len(pair[1])
        else:
            a, b = len(pair[0].split()), len(pair[1].split())
        if a < min_len or b < min_len:
            n_short += 1
        elif a > upper or b > upper:
            n_long += 1
        else:
            kept.append(pair)
    return kept, n_short, n_long
