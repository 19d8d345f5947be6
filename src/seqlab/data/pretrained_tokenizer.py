"""``tokenizer=pretrained``: a `transformers` model's own tokenizer behind seqlab's ids.

seqlab's six special tokens keep ids 0-5; the model's id ``i`` becomes ``i + 6``, except its eos,
which is seqlab's <eos> (decoding stops there; ``seqlab.models.hf.vocab`` maps it back). The
tokenizer is never fitted: the folder fixes it, and its files are part of the data cache key.
A folder with a tokenizer.json is read with `tokenizers`; one with SentencePiece files only
(Marian) through `transformers` (``seqlab.data.slow_tokenizer``). Sources and targets start with
the special ids the model's tokenizer puts there (``seqlab.data.pretrained_conventions``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from itertools import chain
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer as HFTokenizer

from seqlab.data.pretrained_conventions import role_prefixes
from seqlab.data.tokenizers import EOS_ID, SPECIAL_TOKENS, Tokenizer
from seqlab.errors import SeqlabError
from seqlab.hub import resolve_pretrained

SHIFT = len(SPECIAL_TOKENS)


class PretrainedTokenizer(Tokenizer):
    """A model's tokenizer with ids shifted past seqlab's specials.

    Args:
        hf: The model's tokenizer.
        eos: The model's eos id (None: it has none).
        prefix: The model's ids put before every text (a source's or a target's specials).
    """

    def __init__(self, hf: HFTokenizer | None, eos: int | None, prefix: Sequence[int] = ()):
        super().__init__(hf, "pretrained")
        self.eos = eos
        self.prefix = [int(i) for i in prefix]

    @property
    def vocab_size(self) -> int:
        return SHIFT + self.hf.get_vocab_size(with_added_tokens=True)

    def _shift(self, ids: list[int]) -> np.ndarray:
        arr = np.asarray(ids, dtype=np.int64)
        out = (arr + SHIFT).astype(np.int32)
        if self.eos is not None:
            out[arr == self.eos] = EOS_ID
        return out

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The model's ids of each text, before the prefix."""
        return [e.ids for e in self.hf.encode_batch(list(texts), add_special_tokens=False)]

    def encode_batch(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [self._shift(self.prefix + ids) for ids in self._ids(texts)]

    def encode_ragged(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        ids = self._ids(texts)
        lengths = np.fromiter((len(self.prefix) + len(i) for i in ids), np.int64, len(ids))
        return self._shift(list(chain.from_iterable(self.prefix + i for i in ids))), lengths

    def encode_with_unknowns(
        self, texts: Sequence[str]
    ) -> tuple[list[np.ndarray], list[list[str]]]:
        """``encode_batch``; a model's tokenizer reports no unknown pieces."""
        return self.encode_batch(texts), [[] for _ in texts]

    def encode(self, text: str) -> np.ndarray:
        return self.encode_batch([text])[0]

    def decode(self, ids: Iterable[int]) -> str:
        """Decode ids up to the first <eos>, dropping special tokens."""
        ids = list(ids)
        if EOS_ID in ids:
            ids = ids[: ids.index(EOS_ID)]
        return self.hf.decode([i - SHIFT for i in ids if i >= SHIFT], skip_special_tokens=True)

    def state(self) -> dict:
        state = {"kind": "pretrained", "json": self.to_json(), "eos": self.eos}
        return {**state, "prefix": self.prefix} if self.prefix else state

    @classmethod
    def from_state(cls, state: dict) -> PretrainedTokenizer:
        if "files" in state:  # SentencePiece files read through transformers
            from seqlab.data.slow_tokenizer import SlowPretrainedTokenizer

            return SlowPretrainedTokenizer.from_state(state)
        return cls(HFTokenizer.from_str(state["json"]), state.get("eos"), state.get("prefix", ()))


def _token(value) -> str | None:
    """A special token as tokenizer_config.json writes it: a string or {"content": ...}."""
    return value.get("content") if isinstance(value, dict) else value


def _eos_id(hf: HFTokenizer, folder: Path) -> int | None:
    """The eos id the folder declares (tokenizer_config.json, else config.json)."""
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        try:
            token = _token(json.loads((folder / name).read_text(encoding="utf-8")).get("eos_token"))
        except (OSError, ValueError):
            continue
        if token is not None and hf.token_to_id(token) is not None:
            return hf.token_to_id(token)
    try:
        eos = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("eos_token_id")
    except (OSError, ValueError):
        return None
    return eos[0] if isinstance(eos, list) else eos


def pretrained_tokenizer_states(name: str | None) -> dict[str, dict]:
    """The states of the tokenizer in folder or hub model ``name`` (``tokenizer.name``), by role:
    ``text`` (a language model's stream, no specials added), ``src`` and ``tgt`` (each with the
    specials the model's tokenizer puts before it)."""
    if not name:
        raise SeqlabError(
            "config key 'tokenizer.name' is not set; name the model whose tokenizer to use "
            "(a folder or hub name; by default model.pretrained)"
        )
    folder = resolve_pretrained(str(name), "tokenizer.name")
    if not (folder / "tokenizer.json").is_file():
        from seqlab.data.slow_tokenizer import slow_tokenizer_states

        return slow_tokenizer_states(folder, name)
    try:
        hf = HFTokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception:
        raise SeqlabError(
            f"tokenizer.name={name}: {folder} has no readable tokenizer.json; seqlab reads fast "
            "(tokenizers) tokenizers: save one with PreTrainedTokenizerFast.save_pretrained"
        ) from None
    eos = _eos_id(hf, folder)
    prefixes = role_prefixes(folder, eos)
    return {"text": PretrainedTokenizer(hf, eos).state(),
            **{role: PretrainedTokenizer(hf, eos, ids).state() for role, ids in prefixes.items()}}  # fmt: skip


def pretrained_tokenizer_state(name: str | None) -> dict:
    """The ``text`` state of ``pretrained_tokenizer_states``: the model's vocabulary and eos."""
    return pretrained_tokenizer_states(name)["text"]
