"""Tokenizers built on HF `tokenizers`, fitted on the train split and stored as JSON.

Every tokenizer shares the same six special tokens at fixed ids, so models, collation and decoding can
rely on them without looking them up. JSON (not pickle) keeps checkpoints loadable with
`torch.load(weights_only=True)`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from itertools import chain

import numpy as np
from tokenizers import Regex, decoders, models, pre_tokenizers, trainers
from tokenizers import Tokenizer as HFTokenizer

from seqlab.errors import SeqlabError

log = logging.getLogger(__name__)

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>", "<sep>", "<mask>")
PAD_ID, BOS_ID, EOS_ID, UNK_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))
KINDS = ("char", "word", "bpe", "pretrained")  # pretrained: a model's own, never fitted
MAX_PRETOKEN = 256  # bytes: BPE merges never span more (longer than any word, ~85 CJK characters)
SHOW_PROGRESS_CHARS = 50_000_000  # fitting on more text than this shows the trainer's progress


class Tokenizer:
    """A fitted tokenizer: text ↔ numpy id arrays, with the seqlab special tokens."""

    pad_id, bos_id, eos_id, unk_id, sep_id, mask_id = (
        PAD_ID,
        BOS_ID,
        EOS_ID,
        UNK_ID,
        SEP_ID,
        MASK_ID,
    )

    def __init__(self, hf: HFTokenizer, kind: str):
        self.hf = hf
        self.kind = kind

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size()

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Encode many texts at once (parallel in Rust); one int32 array per text, no specials."""
        return [np.asarray(e.ids, dtype=np.int32) for e in self.hf.encode_batch(list(texts))]

    def encode_ragged(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Many texts' ids one after the other, and each text's length: no array per text."""
        encodings = self.hf.encode_batch_fast(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), np.int64, len(encodings))
        flat = np.fromiter(chain.from_iterable(e.ids for e in encodings), np.int32, lengths.sum())
        return flat, lengths

    def encode_flat(self, texts: Sequence[str]) -> np.ndarray:
        """The ids of many texts one after the other."""
        return self.encode_ragged(texts)[0]

    def encode_with_unknowns(
        self, texts: Sequence[str]
    ) -> tuple[list[np.ndarray], list[list[str]]]:
        """``encode_batch``, plus for each text the pieces of it that became <unk> (words or
        characters outside the vocabulary), in order and without repeats."""
        encodings = self.hf.encode_batch(list(texts))
        ids = [np.asarray(e.ids, dtype=np.int32) for e in encodings]
        unknown = [
            list(
                dict.fromkeys(
                    t[a:b] for i, (a, b) in zip(e.ids, e.offsets, strict=True) if i == UNK_ID
                )
            )
            for t, e in zip(texts, encodings, strict=True)
        ]
        return ids, unknown

    def encode(self, text: str) -> np.ndarray:
        return np.asarray(self.hf.encode(text).ids, dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> str:
        """Decode ids up to the first eos, dropping special tokens."""
        ids = list(ids)
        if EOS_ID in ids:
            ids = ids[: ids.index(EOS_ID)]
        return self.hf.decode(ids, skip_special_tokens=True)

    def decode_batch(self, rows: Sequence[Sequence[int]]) -> list[str]:
        return [self.decode(row) for row in rows]

    def to_json(self) -> str:
        return self.hf.to_str()

    @classmethod
    def from_json(cls, text: str, kind: str) -> Tokenizer:
        return cls(HFTokenizer.from_str(text), kind)

    def state(self) -> dict:
        """Plain-container form stored in checkpoints."""
        return {"kind": self.kind, "json": self.to_json()}

    @classmethod
    def from_state(cls, state: dict) -> Tokenizer:
        if state["kind"] == "pretrained":  # a model's own vocabulary, shifted past the specials
            from seqlab.data.pretrained_tokenizer import PretrainedTokenizer

            return PretrainedTokenizer.from_state(state)
        return cls.from_json(state["json"], state["kind"])


def unfitted(kind: str) -> HFTokenizer:
    """A kind's tokenizer before fitting: its pre-tokenizer, decoder and empty model."""
    if kind == "char":
        # Every character, newlines included, is its own token.
        tok = HFTokenizer(models.WordLevel(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
        tok.decoder = decoders.Fuse()
    elif kind == "word":
        tok = HFTokenizer(models.WordLevel(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
    elif kind == "bpe":
        # Byte-level BPE never emits <unk>: scripts without spaces (Chinese) stay representable.
        # A run of text with no break (a long line of letters) is one pre-token, and fitting BPE
        # costs quadratic time in a pre-token's length: runs are cut every MAX_PRETOKEN bytes.
        tok = HFTokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.ByteLevel(add_prefix_space=False),
                pre_tokenizers.Split(Regex(f"[\\s\\S]{{1,{MAX_PRETOKEN}}}"), behavior="isolated"),
            ]
        )
        tok.decoder = decoders.ByteLevel()
    elif kind == "pretrained":
        raise SeqlabError(
            "tokenizer.kind=pretrained is the model's own tokenizer: it is never fitted"
        )
    else:
        raise SeqlabError(f"tokenizer.kind={kind!r} is not valid; choose one of {', '.join(KINDS)}")
    return tok


def fit_tokenizer(
    texts: Iterable[str],
    kind: str,
    vocab_size: int | None = None,
    min_freq: int = 1,
    max_chars: int | None = None,
) -> Tokenizer:
    """Fit a tokenizer on training texts.

    Args:
        texts: training texts only (never validation or test).
        kind: "char", "word" or "bpe".
        vocab_size: cap on the vocabulary (word: most frequent kept; bpe: merges target). None = no cap
            (required for bpe).
        min_freq: tokens seen fewer times map to <unk> (char and word).
        max_chars: fit on the texts' first `max_chars` characters only, when `texts` is an
            iterator (a stream over a corpus too large to fit on whole); None = all.
    """
    tok = unfitted(kind)
    special = list(SPECIAL_TOKENS)
    if not isinstance(texts, list | tuple):
        texts = _sample(texts, max_chars)
    progress = sum(len(t) for t in texts) > SHOW_PROGRESS_CHARS
    if kind == "bpe":
        if not vocab_size:
            raise SeqlabError("tokenizer.vocab_size must be set for tokenizer.kind=bpe (e.g. 8000)")
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_freq,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=progress,
        )
    else:
        kwargs = {"vocab_size": vocab_size + len(special)} if vocab_size else {}
        trainer = trainers.WordLevelTrainer(
            min_frequency=min_freq, special_tokens=special, show_progress=progress, **kwargs
        )
    start = time.perf_counter()
    tok.train_from_iterator(texts, trainer)
    log.info(
        "fitted the %s tokenizer on %d texts in %.1fs",
        kind,
        len(texts),
        time.perf_counter() - start,
    )
    return Tokenizer(tok, kind)


def _sample(texts: Iterable[str], max_chars: int | None) -> list[str]:
    """The texts up to the one that reaches `max_chars` characters."""
    if max_chars is not None and max_chars < 1:
        raise SeqlabError(
            f"tokenizer.fit_max_chars={max_chars}: use a positive number, or null for all"
        )
    sample, seen = [], 0
    for text in texts:
        sample.append(text)
        seen += len(text)
        if max_chars is not None and seen >= max_chars:
            break
    return sample


def check_same_tokenizer(a: dict, b: dict, what: str) -> None:
    """Refuse to continue training with a tokenizer other than the one the weights were trained with."""
    if a["kind"] != b["kind"] or a["json"] != b["json"]:
        raise SeqlabError(
            f"{what}: its tokenizer ({a['kind']}) differs from the one this run builds ({b['kind']}); "
            "use the same data and tokenizer settings as the checkpoint"
        )
