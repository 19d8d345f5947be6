"""Any `transformers` encoder–decoder (BART, T5, Marian, mBART, Pegasus, ...) behind seqlab's
encoder–decoder interface.

Ids and logits go through ``VocabMap`` (``seqlab.models.hf.vocab``): seqlab's <bos> is the model's
decoder start token (BART: its eos; T5 and Marian: its pad), <pad> its pad, <eos> its eos; source
padding is masked with the attention mask. The decoding state holds the encoder output and every
decoder layer's self- and cross-attention keys/values as plain batch-first tensors, so beam search
reorders them like any seqlab state; an ``EncoderDecoderCache`` is rebuilt around them per step.
`transformers` is imported only when such a model is built.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from seqlab.models.hf.finetune import FineTuning
from seqlab.models.hf.vocab import (
    N_SPECIAL,
    VocabMap,
    cache_argument,
    dynamic_cache,
    first_id,
    hf_config,
    layer_tensors,
)
from seqlab.models.interface import SequenceModel, State


class HFSeq2Seq(FineTuning, SequenceModel):
    """``AutoModelForSeq2SeqLM.from_config`` with seqlab's ids, logits and decoding state.

    Args:
        src_vocab_size: seqlab's source vocabulary; the target's (one shared tokenizer).
        tgt_vocab_size: seqlab's vocabulary (6 specials + the tokenizer's); logits have this width.
        pad_id: seqlab's padding id (masked in the source).
        config: The model's config as a plain dict (``config.to_dict()``), ``model_type`` included;
            ``vocab_size`` defaults to the tokenizer's.
        max_len: Longest source or target; at most the model's learned positions (None: those,
            or any length for relative positions such as T5's).
        adapter: ``lora`` to train LoRA layers only (``seqlab.models.hf.finetune``), or None.
        lora: LoRA settings (``model.lora``: r, alpha, dropout, target_modules).
        forced_bos_token_id: The model's id every decode starts with after the decoder start
            (mBART-50: the target language code), as `generate()` forces it; None: none.
    """

    masked_logits = True  # seqlab specials other than <eos>, and the model's own eos

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        pad_id: int = 0,
        config: dict[str, Any] | None = None,
        max_len: int | None = None,
        adapter: str | None = None,
        lora: dict[str, Any] | None = None,
        forced_bos_token_id: int | None = None,
    ):
        super().__init__()
        from transformers import AutoModelForSeq2SeqLM

        if src_vocab_size != tgt_vocab_size:
            raise ValueError("a transformers encoder–decoder reads one vocabulary; set "
                             "tokenizer.shared_vocab=true")  # fmt: skip
        self.config = hf_config({"vocab_size": tgt_vocab_size - N_SPECIAL, **(config or {})})
        positions = getattr(self.config, "max_position_embeddings", None)
        if max_len is not None and positions is not None and max_len > positions:
            raise ValueError(f"max_len={max_len} exceeds the model's {positions} positions")
        self.max_source_len = self.max_target_len = max_len or positions
        self.pad_id = pad_id
        pad = first_id(self.config.pad_token_id)
        start = first_id(self.config.decoder_start_token_id)
        pad = first_id(self.config.eos_token_id) if pad is None else pad
        self.vocab = VocabMap(tgt_vocab_size, self.config, pad, pad if start is None else start)
        self.forced_first_id = self.vocab.seqlab_id(forced_bos_token_id)
        self.model = AutoModelForSeq2SeqLM.from_config(self.config)
        self._cache_arg = cache_argument(self.model)
        self.add_adapter(adapter, lora)

    def _check(self, length: int, limit: int | None, what: str) -> None:
        if limit is not None and length > limit:
            raise ValueError(f"{what} length {length} exceeds max_len={limit}")

    def forward(self, src: Tensor, tgt_in: Tensor, src_lengths: Tensor | None = None) -> Tensor:
        """Teacher-forced logits: src (B, S), tgt_in (B, T) -> (B, T, tgt_vocab_size).

        ``src_lengths`` is not needed: the mask comes from the pad ids on the device.
        """
        self._check(src.size(1), self.max_source_len, "source")
        self._check(tgt_in.size(1), self.max_target_len, "target")
        out = self.model(
            input_ids=self.vocab.ids(src),
            attention_mask=src != self.pad_id,
            decoder_input_ids=self.vocab.ids(tgt_in),
            use_cache=False,
        )
        return self.vocab.logits(out.logits)

    def encode(self, src: Tensor, src_lengths: Tensor | None = None) -> dict[str, Tensor]:
        """src (B, S) right-padded -> ``memory`` (B, S, d) and ``src_mask`` (B, S) (True = real)."""
        self._check(src.size(1), self.max_source_len, "source")
        mask = src != self.pad_id
        out = self.model.get_encoder()(input_ids=self.vocab.ids(src), attention_mask=mask)
        return {"memory": out.last_hidden_state, "src_mask": mask}

    def init_state(self, enc: dict[str, Tensor], capacity: int | None = None) -> State:
        """The encoder's outputs; the first ``step`` adds the keys/values (``capacity`` unused:
        the model's cache grows as it does)."""
        return {"memory": enc["memory"], "src_mask": enc["src_mask"]}

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """tokens (B,) -> next-token logits (B, V) and the state one position longer.

        Keys added: ``self_k{i}``/``self_v{i}`` (B, heads, t, head_dim) growing by one per step,
        ``cross_k{i}``/``cross_v{i}`` (B, heads, S, head_dim) computed at the first step and then
        passed through as they are.
        """
        from transformers import EncoderDecoderCache
        from transformers.modeling_outputs import BaseModelOutput

        layers = sum(name.startswith("self_k") for name in state)
        if layers:
            self._check(state["self_k0"].size(2) + 1, self.max_target_len, "target")
            own = [(state[f"self_k{i}"], state[f"self_v{i}"]) for i in range(layers)]
            cross = [(state[f"cross_k{i}"], state[f"cross_v{i}"]) for i in range(layers)]
            cache = EncoderDecoderCache(dynamic_cache(own), dynamic_cache(cross))
        else:
            cache = EncoderDecoderCache(dynamic_cache([]), dynamic_cache([]))
        out = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=state["memory"]),
            attention_mask=state["src_mask"],
            decoder_input_ids=self.vocab.ids(tokens.unsqueeze(1)),
            use_cache=True,
            **{self._cache_arg: cache},
        )
        cache = getattr(out, self._cache_arg)
        new_state = dict(state)
        for i, (k, v) in enumerate(layer_tensors(cache.self_attention_cache)):
            new_state[f"self_k{i}"], new_state[f"self_v{i}"] = k, v
        if not layers:  # cross-attention keys/values: computed once, then unchanged
            for i, (k, v) in enumerate(layer_tensors(cache.cross_attention_cache)):
                new_state[f"cross_k{i}"], new_state[f"cross_v{i}"] = k, v
        return self.vocab.logits(out.logits[:, -1]), new_state
