"""Pre-LN Transformer encoder-decoder (Vaswani et al., 2017) with incremental decoding."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqlab.models.interface import Seq2SeqModel
from seqlab.models.transformer import (
    DecoderBlock,
    Embeddings,
    KVBuffer,
    TransformerBlock,
    cached_length,
    init_gpt2_weights,
)
from seqlab.models.utils import attention_mask


def _check_length(length: int, max_len: int, what: str) -> None:
    if length > max_len:
        raise ValueError(f"{what} length {length} exceeds max_len={max_len}; raise max_len")


class TransformerEncoder(nn.Module):
    """Embeddings, pre-LN self-attention blocks, final LayerNorm.

    Args: as ``TransformerSeq2Seq`` (``vocab_size`` is the source vocabulary).
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        d_model: int,
        n_heads: int,
        n_layers: int,
        d_ff: int,
        dropout: float,
        max_len: int,
        pos_encoding: str,
        bias: bool,
        pad_id: int,
    ) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.max_len = max_len
        self.embed = Embeddings(vocab_size, d_model, max_len, pos_encoding, dropout, pad_id)
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, n_heads, d_ff, dropout, bias) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model, bias=bias)

    def forward(self, src: Tensor, lengths: Tensor | None = None) -> dict[str, Tensor]:
        """src (B, S) long -> ``memory`` (B, S, d_model), ``src_mask`` (B, S) bool (True = real).

        ``lengths`` is not needed (masks come from the pad ids on the device). Only keys are masked, so every query row has something to attend to and no NaN appears;
        memory at pad positions is garbage that the decoder never attends to.
        """
        _check_length(src.size(1), self.max_len, "source")
        src_mask = src != self.pad_id
        key_mask = attention_mask(src_mask)[:, None, None, :]
        x = self.embed(src, torch.arange(src.size(1), device=src.device))
        for block in self.blocks:
            x, _ = block(x, attn_mask=key_mask)
        return {"memory": self.norm(x), "src_mask": src_mask}


class TransformerDecoder(nn.Module):
    """Embeddings, pre-LN decoder blocks, final LayerNorm and output projection.

    Args: as ``TransformerSeq2Seq`` (``vocab_size`` is the target vocabulary).
    """

    def __init__(
        self,
        vocab_size: int,
        *,
        d_model: int,
        n_heads: int,
        n_layers: int,
        d_ff: int,
        dropout: float,
        max_len: int,
        pos_encoding: str,
        bias: bool,
        pad_id: int,
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_decoder_layers must be >= 1, got {n_layers}")
        self.max_len = max_len
        self.n_heads = n_heads
        self.embed = Embeddings(vocab_size, d_model, max_len, pos_encoding, dropout, pad_id)
        self.blocks = nn.ModuleList(
            DecoderBlock(d_model, n_heads, d_ff, dropout, bias) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model, bias=bias)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, tgt_in: Tensor, enc: dict[str, Tensor]) -> Tensor:
        """tgt_in (B, T) long and encoder outputs -> logits (B, T, V)."""
        _check_length(tgt_in.size(1), self.max_len, "target")
        memory_mask = attention_mask(enc["src_mask"])[:, None, None, :]
        x = self.embed(tgt_in, torch.arange(tgt_in.size(1), device=tgt_in.device))
        for block in self.blocks:
            x, _ = block(x, enc["memory"], memory_mask)
        return self.lm_head(self.norm(x))

    def init_state(self, enc: dict[str, Tensor], capacity: int | None = None) -> dict[str, Tensor]:
        """Decoding state, all batch-first.

        Keys: ``memory`` (B, S, d), ``src_mask`` (B, S), ``pos`` (B,) next position,
        ``self_k{i}``/``self_v{i}`` (B, n_heads, t, head_dim) growing by one per step, and
        ``cross_k{i}``/``cross_v{i}`` (B, n_heads, S, head_dim) computed here once.

        Args:
            enc: ``encode``'s output.
            capacity: Target positions to preallocate the self-attention caches for
                (``KVBuffer``s written in place, at most ``max_len``); None: tensors grown by
                ``torch.cat``.
        """
        memory = enc["memory"]
        batch, _, d_model = memory.shape
        head_dim = d_model // self.n_heads
        empty = memory.new_zeros(batch, self.n_heads, 0, head_dim)
        state = {
            "memory": memory,
            "src_mask": enc["src_mask"],
            "pos": torch.zeros(batch, dtype=torch.long, device=memory.device),
        }
        for i, block in enumerate(self.blocks):
            if capacity is None:
                state[f"self_k{i}"], state[f"self_v{i}"] = empty, empty
            else:
                state[f"self_k{i}"], state[f"self_v{i}"] = (
                    KVBuffer.empty(
                        batch, self.n_heads, min(capacity, self.max_len), head_dim, memory
                    )
                    for _ in range(2)
                )
            state[f"cross_k{i}"], state[f"cross_v{i}"] = block.cross_attn.project_memory(memory)
        return state

    def step(self, tokens: Tensor, state: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """tokens (B,) long -> next-token logits (B, V) and the state one position longer."""
        length = cached_length(state["self_k0"])
        if length >= self.max_len:
            raise ValueError(f"cannot decode position {length}: max_len={self.max_len}")
        memory_mask = attention_mask(state["src_mask"])[:, None, None, :]
        x = self.embed(tokens.unsqueeze(1), state["pos"].unsqueeze(1))
        new_state = dict(state, pos=state["pos"] + 1)
        for i, block in enumerate(self.blocks):
            x, (k, v) = block(
                x,
                None,
                memory_mask,
                self_cache=(state[f"self_k{i}"], state[f"self_v{i}"]),
                cross_cache=(state[f"cross_k{i}"], state[f"cross_v{i}"]),
            )
            new_state[f"self_k{i}"], new_state[f"self_v{i}"] = k, v
        return self.lm_head(self.norm(x)).squeeze(1), new_state


class TransformerSeq2Seq(Seq2SeqModel):
    """Pre-LN Transformer encoder-decoder with GELU feed-forward layers.

    Args:
        src_vocab_size: Source vocabulary size.
        tgt_vocab_size: Target vocabulary size.
        pad_id: Padding id of both vocabularies.
        d_model: Model size.
        n_heads: Attention heads.
        n_encoder_layers: Encoder blocks.
        n_decoder_layers: Decoder blocks (at least 1).
        d_ff: Feed-forward hidden size.
        dropout: Dropout on embeddings, attention weights and residual branches.
        max_len: Longest source or target sequence (positional table size).
        tie_embeddings: Share the decoder's input embedding with the output projection and, if
            ``src_vocab_size == tgt_vocab_size`` (a joint vocabulary is assumed), with the encoder's
            input embedding too.
        pos_encoding: ``"learned"`` or ``"sinusoidal"``.
        bias: Bias in linear layers and LayerNorms.
        init_std: Standard deviation of the GPT-2 style initialisation.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        pad_id: int = 0,
        d_model: int = 256,
        n_heads: int = 4,
        n_encoder_layers: int = 3,
        n_decoder_layers: int = 3,
        d_ff: int = 1024,
        dropout: float = 0.1,
        max_len: int = 512,
        tie_embeddings: bool = False,
        pos_encoding: str = "learned",
        bias: bool = True,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        self.pad_id = pad_id
        stack = dict(
            d_model=d_model, n_heads=n_heads, d_ff=d_ff, dropout=dropout, max_len=max_len,
            pos_encoding=pos_encoding, bias=bias, pad_id=pad_id,
        )  # fmt: skip
        self.encoder = TransformerEncoder(src_vocab_size, n_layers=n_encoder_layers, **stack)
        self.decoder = TransformerDecoder(tgt_vocab_size, n_layers=n_decoder_layers, **stack)
        self.max_source_len = self.max_target_len = max_len
        init_gpt2_weights(self.encoder, init_std, max(n_encoder_layers, 1))
        init_gpt2_weights(self.decoder, init_std, n_decoder_layers)
        if tie_embeddings:
            self.decoder.lm_head.weight = self.decoder.embed.token.weight
            if src_vocab_size == tgt_vocab_size:
                self.encoder.embed.token.weight = self.decoder.embed.token.weight

    def parts(self) -> dict[str, list[nn.Module]]:
        """What ``model.freeze`` can name; tied tables are one tensor across these parts."""
        return {"embeddings": [self.encoder.embed, self.decoder.embed], "encoder": [self.encoder],
                "decoder": [self.decoder], "lm_head": [self.decoder.lm_head]}  # fmt: skip

    def forward(self, src: Tensor, tgt_in: Tensor, src_lengths: Tensor | None = None) -> Tensor:
        """Teacher-forced decoding: src (B, S), tgt_in (B, T) -> logits (B, T, V_tgt).

        ``src_lengths`` is accepted as every seqlab encoder–decoder takes it, and not needed:
        attention masks come from the pad ids on the device.
        """
        return self.decoder(tgt_in, self.encode(src))
