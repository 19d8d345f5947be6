"""What every `transformers` adapter shares: config dicts, seqlab ids <-> the model's, logits.

seqlab's six special tokens keep ids 0-5 and the model's own vocabulary follows them (HF id ``i``
is seqlab id ``i + 6``, as the ``pretrained`` tokenizer shifts it). Specials in map to the model's
own ids; out, seqlab's <eos> column carries the model's eos logit (its own eos column is masked,
so eos is counted once) and the other special columns are -inf. `transformers` is imported only
when a config is built.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

N_SPECIAL = 6  # seqlab's <pad> <bos> <eos> <unk> <sep> <mask>, ids 0-5
EOS = 2  # seqlab's <eos> id
# Config fields that describe where or how a model was stored, not the network.
DROPPED_FIELDS = ("_name_or_path", "transformers_version", "dtype", "torch_dtype")


def hf_config(config: dict[str, Any]):
    """A `transformers` config object from its plain dict (``model_type`` names the class)."""
    from transformers import CONFIG_MAPPING

    fields = {k: v for k, v in config.items() if k not in DROPPED_FIELDS}
    model_type = fields.pop("model_type", None)
    if model_type not in CONFIG_MAPPING:
        raise ValueError(f"model_type {model_type!r} is not a transformers model type")
    return CONFIG_MAPPING[model_type].from_dict(fields)


def plain_config(config) -> dict[str, Any]:
    """A `transformers` config as the plain dict checkpoints store (no paths, no dtype)."""
    return {k: v for k, v in config.to_dict().items() if k not in DROPPED_FIELDS}


def first_id(value: Any) -> int | None:
    """A token id as configs give it: an int, or a list whose first entry counts."""
    return value[0] if isinstance(value, list | tuple) else value


def accepts(model: nn.Module, argument: str) -> bool:
    """Whether the model's ``forward`` takes ``argument`` (it differs across versions and models)."""
    return argument in inspect.signature(model.forward).parameters


def cache_argument(model: nn.Module) -> str:
    """The name under which this `transformers` version passes and returns the KV cache."""
    return "cache" if accepts(model, "cache") else "past_key_values"


def dynamic_cache(past: list[tuple[Tensor, Tensor]]):
    """A `DynamicCache` holding `past` without copying it (`DynamicCache(past)` concatenates
    every layer onto an empty tensor: a copy of the whole cache at each decoding step, and
    `update` with empty tensors still runs two concatenations per layer)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    cache = DynamicCache()
    for keys, values in past:
        layer = DynamicLayer()
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values
        cache.layers.append(layer)
    return cache


def layer_tensors(cache) -> list[tuple[Tensor, Tensor]]:
    """A `DynamicCache`'s per-layer (keys, values), batch-first (B, heads, t, head_dim)."""
    return [(layer.keys, layer.values) for layer in cache.layers]


class VocabMap(nn.Module):
    """seqlab ids -> the model's ids, and the model's logits -> seqlab's.

    Args:
        vocab_size: seqlab's vocabulary (6 specials + the tokenizer's); logits have this width.
        config: The model's `transformers` config (its ``vocab_size`` and ``eos_token_id``).
        pad: The model's id for seqlab's <pad>.
        bos: The model's id for seqlab's <bos> (a decoder's start token).
    """

    def __init__(self, vocab_size: int, config, pad: int, bos: int):
        super().__init__()
        if vocab_size - N_SPECIAL > config.vocab_size:
            raise ValueError(
                f"the tokenizer has {vocab_size - N_SPECIAL} tokens, the model only "
                f"{config.vocab_size}"
            )
        eos = first_id(config.eos_token_id)
        if eos is None or not 0 <= eos < config.vocab_size:
            raise ValueError(f"eos_token_id={eos} is not an id of the model's vocabulary")
        self.vocab_size, self.eos = vocab_size, eos
        # seqlab id -> the model's: <pad> <bos> <eos> <unk> <sep> <mask>, then the shifted rest.
        # One lookup per call (decoding maps the fed-back tokens at every step).
        table = torch.cat([torch.tensor([pad, bos] + [eos] * (N_SPECIAL - 2)),
                           torch.arange(vocab_size - N_SPECIAL)])  # fmt: skip
        self.register_buffer("to_model", table, persistent=False)

    def seqlab_id(self, model_id: int | None) -> int | None:
        """The seqlab id of one of the model's ids (its eos is seqlab's <eos>)."""
        if model_id is None:
            return None
        if not 0 <= model_id < self.vocab_size - N_SPECIAL:
            raise ValueError(f"id {model_id} is not an id of the tokenizer's vocabulary")
        return EOS if model_id == self.eos else model_id + N_SPECIAL

    def ids(self, idx: Tensor) -> Tensor:
        """seqlab ids (B, T) -> the model's ids (B, T)."""
        return self.to_model[idx]

    def logits(self, logits: Tensor) -> Tensor:
        """The model's logits (..., V_hf) -> seqlab's (..., vocab_size), in one padded copy."""
        out = F.pad(logits[..., : self.vocab_size - N_SPECIAL], (N_SPECIAL, 0), value=float("-inf"))
        out[..., EOS] = logits[..., self.eos]
        out[..., N_SPECIAL + self.eos] = float("-inf")
        return out
