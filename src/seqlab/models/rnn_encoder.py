"""(Bi)GRU or (bi)LSTM encoder over packed sequences, with a bridge to the decoder's initial state."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.models.rnn_cells import recurrent_layers
from seqlab.models.utils import Dropout


class RNNEncoder(nn.Module):
    """Embeds and encodes a padded source batch.

    Args:
        vocab_size: Source vocabulary size.
        embed_dim: Embedding size.
        hidden_size: GRU/LSTM size per direction, and size of every output.
        num_layers: Stacked layers (the decoder gets one initial state per layer).
        dropout: Dropout on embeddings and between layers.
        bidirectional: Run a backward RNN too; both directions are projected to ``hidden_size``.
        pad_id: Padding token id.
        cell: ``gru`` or ``lstm``.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        bidirectional: bool,
        pad_id: int,
        cell: str = "gru",
    ) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.dropout = Dropout(dropout)
        self.rnn = recurrent_layers(
            cell, embed_dim, hidden_size, num_layers, dropout, bidirectional
        )
        both = self.num_directions * hidden_size
        self.output_proj = nn.Linear(both, hidden_size) if bidirectional else nn.Identity()
        self.bridge = nn.Linear(both, hidden_size)
        # An LSTM decoder starts from a memory cell too, bridged from the encoder's final cells.
        self.bridge_cell = nn.Linear(both, hidden_size) if cell == "lstm" else None

    def forward(self, src: Tensor, lengths: Tensor | None = None) -> dict[str, Tensor]:
        """Encodes a batch.

        Args:
            src: (B, S) long, right-padded with ``pad_id``.
            lengths: (B,) the non-pad tokens of each row, on the host: packing needs them there,
                and counting them from ``src`` on a GPU would make every step wait for the
                device to copy them back. None counts them from ``src``.

        Returns:
            ``memory`` (B, S, H) encoder states (garbage at pads, which attention masks out),
            ``src_mask`` (B, S) bool (True = real token), and ``hidden`` (B, L, H), the decoder's
            initial state per layer, ``tanh(W [h_fwd; h_bwd])`` of the final encoder states;
            LSTMs also ``cell`` (B, L, H), the same of the final memory cells.
        """
        src_mask = src != self.pad_id
        embedded = self.dropout(self.embedding(src))
        if lengths is None:
            # pack_padded_sequence rejects zero lengths; an empty source then reads one pad token.
            lengths = src_mask.sum(dim=1).clamp(min=1).cpu()
            packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
            outputs, final = self.rnn(packed)
            outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.size(1))
        else:
            outputs, final = self._run_sorted(embedded, src_mask, lengths)
        out = {"memory": self.output_proj(outputs), "src_mask": src_mask}
        if isinstance(final, tuple):  # LSTM: (h_n, c_n)
            final, cells = final
            out["cell"] = torch.tanh(self.bridge_cell(self._merge_directions(cells)))
        out["hidden"] = torch.tanh(self.bridge(self._merge_directions(final)))
        return out

    def _merge_directions(self, final: Tensor) -> Tensor:
        """(L * D, B, H) final states -> (B, L, D * H), the directions of a layer side by side."""
        batch = final.size(1)
        final = final.view(self.num_layers, self.num_directions, batch, -1)
        return final.permute(2, 0, 1, 3).reshape(batch, self.num_layers, -1)

    def _run_sorted(self, embedded: Tensor, src_mask: Tensor, lengths: Tensor):
        """The RNN over rows sorted longest first, with no device-to-host copy.

        Unsorted packing moves its sort order between host and device twice (both copies wait for
        the device). Here the host lengths and the device's own count are sorted alike (stable
        sorts of equal values give the same order), so each side has the order where it is needed.

        Returns:
            outputs (B, S, D * H) and the final state (``(h_n, c_n)`` for LSTMs) in input order.
        """
        host_sorted, _ = lengths.clamp(min=1).sort(descending=True, stable=True)
        _, order = src_mask.sum(dim=1).clamp(min=1).sort(descending=True, stable=True)
        packed = pack_padded_sequence(
            embedded.index_select(0, order), host_sorted, batch_first=True, enforce_sorted=True
        )
        outputs, final = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src_mask.size(1))
        restore = torch.empty_like(order)
        restore[order] = torch.arange(order.numel(), device=order.device)
        if isinstance(final, tuple):
            final = tuple(f.index_select(1, restore) for f in final)
        else:
            final = final.index_select(1, restore)
        return outputs.index_select(0, restore), final
