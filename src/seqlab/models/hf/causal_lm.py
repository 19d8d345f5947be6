"""Any `transformers` causal LM (GPT-2, Llama, Qwen, ...) behind seqlab's decoder-only interface.

seqlab's six special tokens keep ids 0-5 and the model's own vocabulary follows them (HF id ``i``
is seqlab id ``i + 6``, as the ``pretrained`` tokenizer shifts it). Specials in map to the model's
own bos / eos / pad ids; out, seqlab's <eos> column carries the model's eos logit (its own eos
column is masked, so eos is counted once) and the other special columns are -inf. The KV cache
is kept as plain batch-first tensors (``k{i}``, ``v{i}``) so beam search reorders it like any
seqlab state; a ``DynamicCache`` is rebuilt around them for each call. `transformers` is imported
only when such a model is built.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor

from seqlab.models.interface import LanguageModel, State

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


def _first(value: Any) -> int | None:
    return value[0] if isinstance(value, list | tuple) else value


def _wrap(cache, past: list[tuple[Tensor, Tensor]]):
    """`cache` holding `past` without copying it (`DynamicCache(past)` concatenates every layer
    onto an empty tensor: a copy of the whole cache at each decoding step)."""
    for i, (keys, values) in enumerate(past):
        cache.update(keys[..., :0, :], values[..., :0, :], i)  # creates and initialises layer i
        cache.layers[i].keys, cache.layers[i].values = keys, values
    return cache


class HFCausalLM(LanguageModel):
    """``AutoModelForCausalLM.from_config`` with seqlab's ids, logits and cache.

    Args:
        vocab_size: seqlab's vocabulary (6 specials + the tokenizer's); logits have this width.
        config: The model's config as a plain dict (``config.to_dict()``), ``model_type`` included;
            ``vocab_size`` defaults to the tokenizer's.
        block_size: Longest context; at most the model's positions.
    """

    def __init__(self, vocab_size: int, config: dict[str, Any], block_size: int | None = None):
        super().__init__()
        from transformers import AutoModelForCausalLM

        config = {"vocab_size": vocab_size - N_SPECIAL, **config}
        self.config = hf_config(config)
        positions = getattr(self.config, "max_position_embeddings", None)
        positions = getattr(self.config, "n_positions", positions)
        if block_size is not None and positions is not None and block_size > positions:
            raise ValueError(f"block_size={block_size} exceeds the model's {positions} positions")
        self.block_size = block_size or positions
        self.vocab_size = vocab_size
        if vocab_size - N_SPECIAL > self.config.vocab_size:
            raise ValueError(
                f"the tokenizer has {vocab_size - N_SPECIAL} tokens, the model only "
                f"{self.config.vocab_size}"
            )
        eos = _first(self.config.eos_token_id)
        if eos is None or not 0 <= eos < self.config.vocab_size:
            raise ValueError(f"eos_token_id={eos} is not an id of the model's vocabulary")
        bos = _first(getattr(self.config, "bos_token_id", None))
        pad = _first(getattr(self.config, "pad_token_id", None))
        self.eos = eos
        # seqlab's <pad> <bos> <eos> <unk> <sep> <mask> as the model's ids.
        table = [eos if pad is None else pad, eos if bos is None else bos] + [eos] * 4
        self.register_buffer("special_ids", torch.tensor(table), persistent=False)
        self.model = AutoModelForCausalLM.from_config(self.config)
        params = inspect.signature(self.model.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"

    def hf_ids(self, idx: Tensor) -> Tensor:
        """seqlab ids (B, T) -> the model's ids (B, T)."""
        special = self.special_ids[idx.clamp(max=N_SPECIAL - 1)]
        return torch.where(idx < N_SPECIAL, special, idx - N_SPECIAL)

    def seqlab_logits(self, logits: Tensor) -> Tensor:
        """The model's logits (B, T, V_hf) -> seqlab's (B, T, vocab_size)."""
        out = logits.new_empty(*logits.shape[:-1], self.vocab_size)
        out[..., :N_SPECIAL] = float("-inf")
        out[..., N_SPECIAL:] = logits[..., : self.vocab_size - N_SPECIAL]
        out[..., EOS] = logits[..., self.eos]
        out[..., N_SPECIAL + self.eos] = float("-inf")
        return out

    def _check_context(self, length: int) -> None:
        if self.block_size is not None and length > self.block_size:
            raise ValueError(
                f"sequence length {length} exceeds block_size={self.block_size}; "
                "crop the context to the last block_size tokens"
            )

    def forward(self, idx: Tensor) -> Tensor:
        """idx (B, T) long -> logits (B, T, vocab_size)."""
        self._check_context(idx.size(1))
        out = self.model(input_ids=self.hf_ids(idx), use_cache=False)
        return self.seqlab_logits(out.logits)

    def features(self, idx: Tensor) -> Tensor:
        """idx (B, T) -> final hidden states (B, T, d)."""
        self._check_context(idx.size(1))
        out = self.model(input_ids=self.hf_ids(idx), use_cache=False, output_hidden_states=True)
        return out.hidden_states[-1]

    def init_state(
        self, batch_size: int, device: torch.device | str | None = None, capacity: int | None = None
    ) -> State:
        """An empty cache; the first ``prefill`` fills it (its capacity grows as HF's does)."""
        return {}

    def prefill(self, idx: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """idx (B, T) after ``state`` -> logits (B, T, vocab_size) and the cache T positions on."""
        from transformers import DynamicCache

        state = state or {}
        layers = len(state) // 2
        past = [(state[f"k{i}"], state[f"v{i}"]) for i in range(layers)]
        self._check_context((past[0][0].size(2) if past else 0) + idx.size(1))
        cache = _wrap(DynamicCache(), past)
        out = self.model(input_ids=self.hf_ids(idx), use_cache=True, **{self._cache_arg: cache})
        cache = getattr(out, self._cache_arg)
        new_state = {}
        for i, layer in enumerate(cache.layers):
            new_state[f"k{i}"], new_state[f"v{i}"] = layer.keys, layer.values
        return self.seqlab_logits(out.logits), new_state
