"""GRU or LSTM encoder-decoder with no, additive (Bahdanau) or multiplicative (Luong) attention."""

from __future__ import annotations

from torch import Tensor, nn

from seqlab.models.interface import Seq2SeqModel
from seqlab.models.rnn_cells import check_cell
from seqlab.models.rnn_decoder import DECODERS
from seqlab.models.rnn_encoder import RNNEncoder
from seqlab.models.utils import check_probability


class RNNSeq2Seq(Seq2SeqModel):
    """Recurrent (GRU or LSTM) sequence-to-sequence model.

    Args:
        src_vocab_size: Source vocabulary size.
        tgt_vocab_size: Target vocabulary size.
        pad_id: Padding id of both vocabularies.
        embed_dim: Embedding size (source and target).
        hidden_size: RNN size of encoder (per direction) and decoder.
        num_layers: Layers in encoder and decoder each.
        dropout: Dropout on embeddings, between layers and before the output layer.
        bidirectional: Bidirectional encoder.
        attention: ``"none"`` (Cho et al., 2014), ``"bahdanau"`` or ``"luong"``.
        teacher_forcing_ratio: Per-step probability, while training, of feeding the gold token
            rather than the model's argmax prediction (scheduled sampling). 1.0 is pure teacher
            forcing, which also enables the fast paths of ``"none"`` and ``"luong"``. Stored as
            the plain attribute ``teacher_forcing_ratio``, so a schedule may change it.
        cell: ``gru`` or ``lstm`` (Lake & Baroni's best SCAN models are LSTMs).
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        pad_id: int = 0,
        embed_dim: int = 256,
        hidden_size: int = 256,
        num_layers: int = 1,
        dropout: float = 0.1,
        bidirectional: bool = True,
        attention: str = "bahdanau",
        teacher_forcing_ratio: float = 1.0,
        cell: str = "gru",
    ) -> None:
        super().__init__()
        check_cell(cell)
        if attention not in DECODERS:
            raise ValueError(f"attention must be one of {sorted(DECODERS)}, got {attention!r}")
        check_probability("teacher_forcing_ratio", teacher_forcing_ratio)
        check_probability("dropout", dropout)
        self.pad_id = pad_id
        self.teacher_forcing_ratio = teacher_forcing_ratio
        self.encoder = RNNEncoder(
            src_vocab_size, embed_dim, hidden_size, num_layers, dropout, bidirectional, pad_id, cell
        )
        self.decoder = DECODERS[attention](
            tgt_vocab_size, embed_dim, hidden_size, num_layers, dropout, pad_id, cell
        )

    def parts(self) -> dict[str, list[nn.Module]]:
        """What ``model.freeze`` can name."""
        embeddings = [self.encoder.embedding, self.decoder.embedding]
        return {"embeddings": embeddings, "encoder": [self.encoder], "decoder": [self.decoder]}

    def forward(self, src: Tensor, tgt_in: Tensor, src_lengths: Tensor | None = None) -> Tensor:
        """Teacher-forced (or scheduled-sampling) decoding.

        Args:
            src: (B, S) long, padded with ``pad_id``.
            tgt_in: (B, T) long, starting with <bos>.
            src_lengths: (B,) source lengths on the host (see ``RNNEncoder``), or None.

        Returns:
            (B, T, V_tgt) logits.
        """
        return self.decoder(tgt_in, self.encode(src, src_lengths), self.teacher_forcing_ratio)
