"""Multi-layer GRU or LSTM language model."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqlab.models.interface import LanguageModel
from seqlab.models.rnn_cells import check_cell, from_rnn, recurrent_layers, to_rnn
from seqlab.models.utils import Dropout


class RNNLM(LanguageModel):
    """Embedding -> dropout -> GRU or LSTM -> dropout -> linear LM head.

    Args:
        vocab_size: Vocabulary size.
        embed_dim: Embedding size.
        hidden_size: RNN size.
        num_layers: Stacked layers.
        dropout: Dropout on embeddings, between layers and before the head.
        tie_embeddings: Share the embedding with the LM head (Press & Wolf, 2017); needs
            ``embed_dim == hidden_size``, else ValueError (no projection is added).
        cell: ``gru`` or ``lstm``.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 256,
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.1,
        tie_embeddings: bool = False,
        cell: str = "gru",
    ) -> None:
        super().__init__()
        check_cell(cell)
        if tie_embeddings and embed_dim != hidden_size:
            raise ValueError(
                f"tie_embeddings needs embed_dim == hidden_size, got {embed_dim} and {hidden_size}"
            )
        self.num_layers = num_layers
        self.hidden_size = hidden_size
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.dropout = Dropout(dropout)
        self.rnn = recurrent_layers(cell, embed_dim, hidden_size, num_layers, dropout)
        self.lm_head = nn.Linear(hidden_size, vocab_size)
        if tie_embeddings:
            self.lm_head.weight = self.embedding.weight

    def features(self, idx: Tensor) -> Tensor:
        """idx (B, T) long -> top-layer RNN states (B, T, H)."""
        outputs, _ = self.rnn(self.dropout(self.embedding(idx)))
        return outputs

    def forward(self, idx: Tensor) -> Tensor:
        """idx (B, T) long -> logits (B, T, V)."""
        return self.lm_head(self.dropout(self.features(idx)))

    def init_state(
        self,
        batch_size: int,
        device: torch.device | str | None = None,
        capacity: int | None = None,
    ) -> dict[str, Tensor]:
        """Zero state: ``hidden`` (B, num_layers, hidden_size) (LSTM: and ``cell``), batch-first
        for beam search; a recurrent state has no positions to preallocate (``capacity``)."""
        weight = self.lm_head.weight
        shape = (batch_size, self.num_layers, self.hidden_size)
        names = ("hidden", "cell") if self.cell == "lstm" else ("hidden",)
        device = device or weight.device
        return {name: torch.zeros(shape, dtype=weight.dtype, device=device) for name in names}

    def prefill(
        self, idx: Tensor, state: dict[str, Tensor] | None = None, last_only: bool = False
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Runs several tokens at once from ``state`` (zero state when None).

        Args:
            idx: (B, T) long.
            state: From ``init_state``/``prefill``/``step``.
            last_only: Project the last position only (decoding needs no other logits).

        Returns:
            Logits (B, T, V) (T = 1 with ``last_only``) and the state after the last token.
        """
        if state is None:
            state = self.init_state(idx.size(0), idx.device)
        outputs, final = self.rnn(self.dropout(self.embedding(idx)), to_rnn(state))
        if last_only:
            outputs = outputs[:, -1:]
        return self.lm_head(self.dropout(outputs)), from_rnn(final)
