"""Decoder-only Transformer language model, parameterised like nanoGPT (Radford et al., 2019)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqlab.models.interface import LanguageModel
from seqlab.models.transformer import (
    Embeddings,
    KVBuffer,
    TransformerBlock,
    cached_length,
    init_gpt2_weights,
)
from seqlab.models.utils import causal_mask_with_past


class GPT(LanguageModel):
    """GPT: learned positions, pre-LN causal blocks, final LayerNorm, (tied) LM head.

    Args:
        vocab_size: Vocabulary size.
        block_size: Longest context, i.e. number of learned positions.
        n_layer: Transformer blocks.
        n_head: Attention heads.
        n_embd: Model size.
        dropout: Dropout on embeddings, attention weights and residual branches.
        bias: Bias in linear layers and LayerNorms.
        tie_embeddings: Share the token embedding with the LM head.
        d_ff: Feed-forward hidden size; ``4 * n_embd`` when None.
        init_std: Standard deviation of the GPT-2 initialisation.
        activation: ``gelu`` (exact) or ``gelu_tanh`` (the approximation GPT-2 was trained with).
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int = 256,
        n_layer: int = 6,
        n_head: int = 6,
        n_embd: int = 384,
        dropout: float = 0.0,
        bias: bool = True,
        tie_embeddings: bool = True,
        d_ff: int | None = None,
        init_std: float = 0.02,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        if n_layer < 1:
            raise ValueError(f"n_layer must be >= 1, got {n_layer}")
        self.block_size = block_size
        self.n_head = n_head
        self.n_embd = n_embd
        self.activation = activation
        self.embed = Embeddings(vocab_size, n_embd, block_size, "learned", dropout)
        d_ff = 4 * n_embd if d_ff is None else d_ff
        self.blocks = nn.ModuleList(
            TransformerBlock(n_embd, n_head, d_ff, dropout, bias, activation)
            for _ in range(n_layer)
        )
        self.ln_f = nn.LayerNorm(n_embd, bias=bias)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        init_gpt2_weights(self, init_std, n_layer)
        if tie_embeddings:
            self.lm_head.weight = self.embed.token.weight

    def parts(self) -> dict[str, list[nn.Module]]:
        """What ``model.freeze`` can name; a tied lm_head is the token table itself."""
        return {"embeddings": [self.embed], "decoder": [self.blocks, self.ln_f],
                "lm_head": [self.lm_head]}  # fmt: skip

    def _check_context(self, length: int) -> None:
        if length > self.block_size:
            raise ValueError(
                f"sequence length {length} exceeds block_size={self.block_size}; "
                "crop the context to the last block_size tokens"
            )

    def features(self, idx: Tensor) -> Tensor:
        """idx (B, T) long, T <= block_size -> final hidden states (B, T, n_embd)."""
        length = idx.size(1)
        self._check_context(length)
        x = self.embed(idx, torch.arange(length, device=idx.device))
        for block in self.blocks:
            x, _ = block(x, is_causal=True)
        return self.ln_f(x)

    def forward(self, idx: Tensor) -> Tensor:
        """idx (B, T) long, T <= block_size -> logits (B, T, V)."""
        return self.lm_head(self.features(idx))

    def init_state(
        self,
        batch_size: int,
        device: torch.device | str | None = None,
        capacity: int | None = None,
    ) -> dict[str, Tensor]:
        """Empty KV cache: ``k{i}``/``v{i}`` per layer.

        Args:
            batch_size: Rows.
            device: Default: the model's.
            capacity: Positions to preallocate (``KVBuffer``s written in place, at most
                ``block_size``); None: (B, n_head, 0, head_dim) tensors grown by ``torch.cat``.
        """
        weight = self.lm_head.weight
        head_dim = self.n_embd // self.n_head
        like = torch.empty(0, dtype=weight.dtype, device=device or weight.device)
        state = {}
        if capacity is not None:
            capacity = min(capacity, self.block_size)
            for i in range(len(self.blocks)):
                state[f"k{i}"], state[f"v{i}"] = (
                    KVBuffer.empty(batch_size, self.n_head, capacity, head_dim, like)
                    for _ in range(2)
                )
            return state
        empty = like.new_zeros(batch_size, self.n_head, 0, head_dim)
        for i in range(len(self.blocks)):
            state[f"k{i}"], state[f"v{i}"] = empty, empty
        return state

    @staticmethod
    def rewind_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
        """The cache emptied, reusing its buffers: the next ``prefill`` starts at position 0.

        A sliding window (``seqlab.generation.steppers``) re-prefills the last ``block_size``
        tokens at every step once the context is full, since learned positions shift every key;
        a preallocated cache of ``block_size`` positions is simply overwritten from the start.
        """
        return {
            name: value.rewound() if isinstance(value, KVBuffer) else value[:, :, :0]
            for name, value in state.items()
        }

    def prefill(
        self, idx: Tensor, state: dict[str, Tensor] | None = None, last_only: bool = False
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Runs several tokens at once through the cache (a prompt, or a prompt continuation).

        Args:
            idx: (B, T) long tokens following those already in ``state``.
            state: Cache from ``init_state``/``prefill``/``step``; a fresh one when None.
            last_only: Project the last position only (decoding needs no other logits).

        Returns:
            Logits (B, T, V) (T = 1 with ``last_only``) and the cache extended by T positions.

        Raises:
            ValueError: If the cache would exceed ``block_size`` positions.
        """
        batch, length = idx.shape
        if state is None:
            state = self.init_state(batch, idx.device)
        past = cached_length(state["k0"])
        self._check_context(past + length)
        # A single new query may see every cached key; several need a causal mask that is
        # offset by the cache length, which is_causal (top-left aligned) cannot express.
        attn_mask = None
        if past > 0 and length > 1:
            attn_mask = causal_mask_with_past(length, past, idx.device)
        x = self.embed(idx, torch.arange(past, past + length, device=idx.device))
        new_state = {}
        for i, block in enumerate(self.blocks):
            x, (k, v) = block(
                x,
                attn_mask=attn_mask,
                is_causal=past == 0 and length > 1,
                kv_cache=(state[f"k{i}"], state[f"v{i}"]),
            )
            new_state[f"k{i}"], new_state[f"v{i}"] = k, v
        if last_only:
            x = x[:, -1:]
        return self.lm_head(self.ln_f(x)), new_state
