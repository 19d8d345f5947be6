"""(Bi)GRU encoder over packed sequences, with a bridge to the decoder's initial state."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.models.utils import Dropout


class GRUEncoder(nn.Module):
    """Embeds and encodes a padded source batch.

    Args:
        vocab_size: Source vocabulary size.
        embed_dim: Embedding size.
        hidden_size: GRU size per direction, and size of every output.
        num_layers: Stacked GRU layers (the decoder gets one initial state per layer).
        dropout: Dropout on embeddings and between GRU layers.
        bidirectional: Run a backward GRU too; both directions are projected to ``hidden_size``.
        pad_id: Padding token id.
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
    ) -> None:
        super().__init__()
        self.pad_id = pad_id
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.dropout = Dropout(dropout)
        self.rnn = nn.GRU(
            embed_dim,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        both = self.num_directions * hidden_size
        self.output_proj = nn.Linear(both, hidden_size) if bidirectional else nn.Identity()
        self.bridge = nn.Linear(both, hidden_size)

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
            initial state per layer, ``tanh(W [h_fwd; h_bwd])`` of the final encoder states.
        """
        batch, src_len = src.shape
        src_mask = src != self.pad_id
        embedded = self.dropout(self.embedding(src))
        if lengths is None:
            # pack_padded_sequence rejects zero lengths; an empty source then reads one pad token.
            lengths = src_mask.sum(dim=1).clamp(min=1).cpu()
            packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
            outputs, final = self.rnn(packed)
            outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src_len)
        else:
            outputs, final = self._run_sorted(embedded, src_mask, lengths)
        # final: (L * D, B, H) -> (B, L, D * H), directions of one layer side by side.
        final = final.view(self.num_layers, self.num_directions, batch, -1)
        final = final.permute(2, 0, 1, 3).reshape(batch, self.num_layers, -1)
        return {
            "memory": self.output_proj(outputs),
            "src_mask": src_mask,
            "hidden": torch.tanh(self.bridge(final)),
        }

    def _run_sorted(
        self, embedded: Tensor, src_mask: Tensor, lengths: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The GRU over rows sorted longest first, with no device-to-host copy.

        Unsorted packing moves its sort order between host and device twice (both copies wait for
        the device). Here the host lengths and the device's own count are sorted alike (stable
        sorts of equal values give the same order), so each side has the order where it is needed.
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
        return outputs.index_select(0, restore), final.index_select(1, restore)
