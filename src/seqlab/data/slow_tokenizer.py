"""``tokenizer=pretrained`` for a folder without tokenizer.json: the model's `transformers`
tokenizer (Marian's: SentencePiece files and a vocab.json, no fast version) behind seqlab's ids.

Its files travel in the state (base64), so a checkpoint or cache entry rebuilds it without the
folder, and the data cache key covers them. A source is read in the tokenizer's input mode, a
target in its target mode (Marian: a SentencePiece model each, one vocabulary).
"""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from seqlab.data.pretrained_conventions import role_prefixes
from seqlab.data.pretrained_tokenizer import SHIFT, PretrainedTokenizer
from seqlab.data.tokenizers import EOS_ID
from seqlab.errors import SeqlabError

# What a slow tokenizer is made of; never weights, and config.json for the tokenizer class.
TOKENIZER_FILES = ("*.spm", "*.model", "*vocab*.json", "*.txt", "tokenizer_config.json",
                   "special_tokens_map.json", "added_tokens.json", "config.json")  # fmt: skip


def folder_files(folder: Path) -> dict[str, str]:
    """The folder's tokenizer files, base64, by name."""
    paths = sorted({p for pattern in TOKENIZER_FILES for p in folder.glob(pattern) if p.is_file()})
    return {p.name: base64.b64encode(p.read_bytes()).decode("ascii") for p in paths}


def load_slow(files: dict[str, str]):
    """The `transformers` tokenizer saved as ``files`` (written to a scratch folder and read)."""
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as scratch:
        for name, data in files.items():
            (Path(scratch) / name).write_bytes(base64.b64decode(data))
        return AutoTokenizer.from_pretrained(scratch)


class SlowPretrainedTokenizer(PretrainedTokenizer):
    """A `transformers` tokenizer with ids shifted past seqlab's specials.

    Args:
        files: Its files, base64 by name (``folder_files``).
        eos: The model's eos id.
        prefix: The model's ids put before every text.
        target: Encode and decode as targets (the tokenizer's target mode).
    """

    def __init__(self, files: dict[str, str], eos: int | None, prefix=(), target: bool = False):
        super().__init__(None, eos, prefix)
        self.files, self.target = files, target
        self.slow = load_slow(files)

    @property
    def vocab_size(self) -> int:
        return SHIFT + len(self.slow)

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        key = "text_target" if self.target else "text"
        return self.slow(**{key: list(texts)}, add_special_tokens=False)["input_ids"]

    def decode(self, ids: Iterable[int]) -> str:
        """Decode ids up to the first <eos>, dropping special tokens (with the target side's
        SentencePiece model for a target)."""
        ids = list(ids)
        if EOS_ID in ids:
            ids = ids[: ids.index(EOS_ID)]
        model_ids = [i - SHIFT for i in ids if i >= SHIFT]
        return self.slow.decode(
            model_ids, skip_special_tokens=True, use_source_tokenizer=not self.target
        )

    def to_json(self) -> str:
        raise SeqlabError(
            "a SentencePiece tokenizer has no tokenizer.json; its state has its files"
        )

    def state(self) -> dict:
        return {"kind": "pretrained", "files": self.files, "eos": self.eos,
                "prefix": self.prefix, "target": self.target}  # fmt: skip

    @classmethod
    def from_state(cls, state: dict) -> SlowPretrainedTokenizer:
        return cls(state["files"], state["eos"], state["prefix"], state["target"])

    def __getstate__(self) -> dict:  # rebuilt from its files in another process
        return self.state()

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["files"], state["eos"], state["prefix"], state["target"])


def slow_tokenizer_states(folder: Path, name: str) -> dict[str, dict]:
    """``pretrained_tokenizer_states`` for a folder without tokenizer.json."""
    files = folder_files(folder)
    try:
        tok = load_slow(files)
    except Exception as e:
        raise SeqlabError(
            f"tokenizer.name={name}: {folder} has no readable tokenizer.json, and transformers "
            f"cannot load a tokenizer from it ({type(e).__name__}); save the model's tokenizer "
            "there with save_pretrained (SentencePiece ones need `pip install sentencepiece`)"
        ) from None
    if getattr(tok, "separate_vocabs", False):
        raise SeqlabError(f"tokenizer.name={name}: {folder} has separate source and target "
                          "vocabularies; model=hf_seq2seq reads one: pick a model with one vocab.json")  # fmt: skip
    eos = tok.eos_token_id
    prefixes = role_prefixes(folder, eos)
    state = {"kind": "pretrained", "files": files, "eos": eos}
    return {"text": {**state, "prefix": [], "target": False},
            "src": {**state, "prefix": prefixes["src"], "target": False},
            "tgt": {**state, "prefix": prefixes["tgt"], "target": True}}  # fmt: skip
