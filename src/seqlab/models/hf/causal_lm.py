"""Any `transformers` causal LM (GPT-2, Llama, Qwen, ...) behind seqlab's decoder-only interface.

Ids and logits go through ``VocabMap`` (``seqlab.models.hf.vocab``): specials in map to the model's
own bos / eos / pad ids, and seqlab's <eos> column carries the model's eos logit. The KV cache is
kept as plain batch-first tensors (``k{i}``, ``v{i}``) so beam search reorders it like any seqlab
state; a ``DynamicCache`` is wrapped around them (no copy) for each call. `transformers` is imported only
when such a model is built.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from seqlab.models.hf.finetune import FineTuning
from seqlab.models.hf.vocab import (  # noqa: F401  (N_SPECIAL, hf_config, plain_config: public here too)
    N_SPECIAL,
    VocabMap,
    accepts,
    cache_argument,
    dynamic_cache,
    first_id,
    hf_config,
    layer_tensors,
    plain_config,
)
from seqlab.models.interface import LanguageModel, State


class HFCausalLM(FineTuning, LanguageModel):
    """``AutoModelForCausalLM.from_config`` with seqlab's ids, logits and cache.

    Args:
        vocab_size: seqlab's vocabulary (6 specials + the tokenizer's); logits have this width.
        config: The model's config as a plain dict (``config.to_dict()``), ``model_type`` included;
            ``vocab_size`` defaults to the tokenizer's.
        block_size: Longest context; at most the model's positions.
        adapter: ``lora`` to train LoRA layers only (``seqlab.models.hf.finetune``), or None.
        lora: LoRA settings (``model.lora``: r, alpha, dropout, target_modules).
    """

    masked_logits = True  # seqlab specials other than <eos>, and the model's own eos

    def __init__(
        self,
        vocab_size: int,
        config: dict[str, Any],
        block_size: int | None = None,
        adapter: str | None = None,
        lora: dict[str, Any] | None = None,
    ):
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
        eos = first_id(self.config.eos_token_id)
        bos = first_id(getattr(self.config, "bos_token_id", None))
        pad = first_id(getattr(self.config, "pad_token_id", None))
        self.vocab = VocabMap(vocab_size, self.config, eos if pad is None else pad,
                              eos if bos is None else bos)  # fmt: skip
        self.eos = self.vocab.eos
        self.model = AutoModelForCausalLM.from_config(self.config)
        self._cache_arg = cache_argument(self.model)
        self._keeps_logits = accepts(self.model, "logits_to_keep")
        self.add_adapter(adapter, lora)

    def hf_ids(self, idx: Tensor) -> Tensor:
        """seqlab ids (B, T) -> the model's ids (B, T)."""
        return self.vocab.ids(idx)

    def seqlab_logits(self, logits: Tensor) -> Tensor:
        """The model's logits (B, T, V_hf) -> seqlab's (B, T, vocab_size)."""
        return self.vocab.logits(logits)

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

    def prefill(
        self, idx: Tensor, state: State | None = None, last_only: bool = False
    ) -> tuple[Tensor, State]:
        """idx (B, T) after ``state`` -> logits (B, T, vocab_size) and the cache T positions on;
        ``last_only``: (B, 1, vocab_size), the head run on the last position only, as
        ``generate()`` does."""
        state = state or {}
        layers = len(state) // 2
        past = [(state[f"k{i}"], state[f"v{i}"]) for i in range(layers)]
        self._check_context((past[0][0].size(2) if past else 0) + idx.size(1))
        cache = dynamic_cache(past)
        keep = {"logits_to_keep": 1} if last_only and self._keeps_logits else {}
        out = self.model(
            input_ids=self.hf_ids(idx), use_cache=True, **{self._cache_arg: cache}, **keep
        )
        cache = getattr(out, self._cache_arg)
        new_state = {}
        for i, (k, v) in enumerate(layer_tensors(cache)):
            new_state[f"k{i}"], new_state[f"v{i}"] = k, v
        logits = out.logits[:, -1:] if last_only else out.logits
        return self.seqlab_logits(logits), new_state
